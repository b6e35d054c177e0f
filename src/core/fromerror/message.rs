//! Pasted error text → [`Extraction`]: AWS CLI v1/v2 lines, boto3/botocore `ClientError` text and
//! tracebacks, the Rust, Java, Go and JavaScript SDKs' error strings, S3's XML error body, and
//! messages carrying a policy ARN or an authorization ID. ANSI colour, JSON string escapes, XML
//! entities and surrounding log noise are ignored: every field is searched for on its own.

use super::{Denial, Extraction, Presigned, action_of_operation, split_s3_arn};
use regex::{Captures, Regex};
use std::sync::LazyLock;

/// One compiled pattern; `None` only if the pattern were invalid (they are fixed literals,
/// tested below), in which case the field is simply not recognised.
struct Pattern(LazyLock<Option<Regex>>);

macro_rules! pattern {
    ($name:ident, $regex:expr) => {
        static $name: Pattern = Pattern(LazyLock::new(|| Regex::new($regex).ok()));
    };
}

impl Pattern {
    fn captures<'t>(&self, text: &'t str) -> Option<Captures<'t>> {
        self.0.as_ref()?.captures(text)
    }

    fn captures_iter<'r, 't>(&'r self, text: &'t str) -> impl Iterator<Item = Captures<'t>> + 'r
    where
        't: 'r,
    {
        self.0.iter().flat_map(move |regex| regex.captures_iter(text))
    }

    fn first(&self, text: &str, group: usize) -> Option<String> {
        self.captures(text)
            .and_then(|captures| captures.get(group))
            .map(|found| found.as_str().to_string())
    }

    fn is_match(&self, text: &str) -> bool {
        self.0.as_ref().is_some_and(|regex| regex.is_match(text))
    }
}

pattern!(ANSI, r"\x1b\[[0-9;?]*[ -/]*[@-~]");
// `User: arn:… is not authorized to perform: s3:GetObject on resource: "arn:…"`; the principal
// and action must be followed by more text, so a message cut inside them yields nothing.
pattern!(
    USER,
    r"(?:User|Principal):\s+(arn:[A-Za-z0-9-]+:[A-Za-z0-9-]+::\d{12}:[^\s\x22']+|anonymous)\s+is not authorized"
);
pattern!(PERFORM, r"to perform:\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+)[\s.,;]");
pattern!(
    RESOURCE,
    r#"on resource:\s+(?:"(arn:[^"\s]+)"|(arn:[^\s"',;)]+))"#
);
pattern!(
    POLICY_TYPE,
    r"(?i)(explicit deny in (?:an? |the )?|because no )(service control policy|resource control policy|VPC endpoint policy|identity-based policy|resource-based policy|session policy|permissions boundary(?: policy)?)"
);
pattern!(
    PUBLIC_BLOCK,
    r"(?i)because public (?:ACLs|policies) are prevented by the (\w+) setting in S3 Block Public Access"
);
pattern!(
    POLICY_ARN,
    r"(?i)(?:policy|permissions boundary|policies)\s*:\s*(arn:[A-Za-z0-9-]+:(?:iam|organizations|s3|kms|ec2)::?[0-9]*:[^\s\x22',;)]+)"
);
pattern!(
    AUTHORIZATION_ID,
    r#"(?i)(?:authorization[ _-]?id["']?\s*[:=]\s*["']?|#/authorization-details/)([0-9A-Za-z]{6,})"#
);
pattern!(
    REQUEST_ID,
    r#"(?i)(extended[ _]?)?request[ _-]?id["']?\s*[:=(]\s*["']?([A-Za-z0-9+/=_-]{6,})"#
);
pattern!(XML_REQUEST_ID, r"<RequestId>([^<]+)</RequestId>");
pattern!(
    CLI_LINE,
    r"An error occurred \(([^)]+)\) when calling the (\w+) operation(?: \(reached max retries: \d+\))?:\s*([^\r\n]*)"
);
pattern!(XML_CODE, r"<Code>([^<]+)</Code>");
pattern!(XML_MESSAGE, r"<Message>([^<]*)</Message>");
pattern!(JAVA_V1_CODE, r"Error Code:\s*([A-Za-z0-9.]+)");
pattern!(
    GO_V2,
    r"operation error S3: (\w+),.*?api error ([A-Za-z0-9.]+): ([^\r\n]*)"
);
pattern!(GO_V2_OPERATION, r"operation error [A-Za-z0-9 ]+: (\w+),");
pattern!(
    GO_V1,
    r"(?m)^\s*([A-Z][A-Za-z0-9.]+): ([^\r\n]*)\r?\n\s*status code: (\d{3})"
);
pattern!(
    JS_CODE,
    r#"(?:\bCode|\bname|\bcode)["']?\s*:\s*["']([A-Z][A-Za-z0-9.]+)["']"#
);
pattern!(RUST_CODE, r#"code: (?:Some\()?"([A-Za-z0-9.]+)""#);
pattern!(RUST_MESSAGE, r#"message: (?:Some\()?"((?:[^"\\]|\\.)*)""#);
pattern!(RUST_UNHANDLED, r"unhandled error \(([A-Za-z0-9.]+)\)");
pattern!(
    EXCEPTION_MESSAGE,
    r"(?:S3Exception|AmazonS3Exception|AccessDenied(?:Exception)?|ClientError|S3ServiceException):\s+([^\r\n]+?)\s+\(Service:"
);
pattern!(
    STATUS,
    r"(?i)(?:status ?code|httpStatusCode|statusCode|status)[\x22']?\s*[:=(]\s*(?:StatusCode\()?(\d{3})\b"
);
pattern!(STATUS_PAREN, r"StatusCode\((\d{3})\)");
pattern!(STATUS_WORDS, r"\b(403) Forbidden\b|returned error: (403)\b");
pattern!(
    OPERATION_WORD,
    r"(?i)(?:^|[^:\w]|_)(GetObject|HeadObject|PutObject|ListObjectsV2|ListObjects|HeadBucket|DeleteObject|PutObjectAcl|GetBucketPolicy|PutBucketPolicy|CreateMultipartUpload|UploadPart)(?:Request|Command|Error|Output)*\b"
);
pattern!(
    S3_URL,
    r#"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/([^\s"'<>]*))?"#
);
pattern!(
    VIRTUAL_HOST_URL,
    r#"https?://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3(?:[.-]dualstack)?(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?(/[^\s"'<>?]*)?(\?[^\s"'<>]*)?"#
);
pattern!(
    PATH_STYLE_URL,
    r#"https?://s3(?:[.-]dualstack)?(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s"'<>?]*)?(\?[^\s"'<>]*)?"#
);
pattern!(XML_BUCKET, r"<BucketName>([^<]+)</BucketName>");
pattern!(XML_KEY, r"<Key>([^<]+)</Key>");
pattern!(
    KV_BUCKET,
    r#"(?i)\bbucket(?:name)?["']?\s*[:=]\s*["']([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])["']"#
);
pattern!(KV_KEY, r#"(?:\bKey|\bkey)["']?\s*[:=]\s*["']([^"'\r\n]+)["']"#);
pattern!(REQUEST_TIME, r"<RequestTime>([^<]+)</RequestTime>");
pattern!(SERVER_TIME, r"<ServerTime>([^<]+)</ServerTime>");
pattern!(
    DATE_HEADER,
    r#"(?im)["']?\bdate["']?\s*[:=]\s*["']?((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)"#
);
pattern!(
    REGION_WRONG,
    r"the region '([a-z0-9-]+)' is wrong; expecting '([a-z0-9-]+)'"
);
pattern!(XML_REGION, r"<Region>([a-z0-9-]+)</Region>");
pattern!(STORAGE_CLASS, r"<StorageClass>([A-Z_]+)</StorageClass>");
pattern!(
    REQUESTER_PAYS,
    r"(?i)<Payer>Requester</Payer>|requester[ -]?pays|RequestPayer(?:Denied)?\b"
);
pattern!(
    REQUEST_PAYER_SENT,
    r"(?i)x-amz-request-payer\s*[:=]\s*requester|--request-payer(?:\s+requester)?\b|RequestPayer\s*[=:]\s*['\x22]?requester"
);
pattern!(
    KMS_KEY,
    r"(arn:aws[A-Za-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-fA-F-]{8,})"
);
pattern!(
    KMS_STATE,
    r"(?i)\b(is disabled|is pending deletion|pending deletion|PendingDeletion|Disabled)\b"
);
pattern!(PRESIGNED_DATE, r"(?i)[?&]X-Amz-Date=(\d{8}T\d{6}Z)");
pattern!(PRESIGNED_EXPIRES, r"(?i)[?&]X-Amz-Expires=(\d+)");
pattern!(XML_EXPIRES, r"<X-Amz-Expires>(\d+)</X-Amz-Expires>");
pattern!(
    PRESIGNED_CREDENTIAL,
    r"(?i)[?&]X-Amz-Credential=[^&/%\s]+(?:/|%2F)\d{8}(?:/|%2F)([a-z0-9-]+)(?:/|%2F)s3"
);

/// Remove what is not the message: ANSI colour, JSON string escapes, XML entities.
pub fn clean(text: &str) -> String {
    let text = match ANSI.0.as_ref() {
        Some(regex) => regex.replace_all(text, "").into_owned(),
        None => text.to_string(),
    };
    text.replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Extract what a pasted error says.
pub fn parse_message(text: &str) -> Extraction {
    let text = clean(text);
    let text = text.as_str();
    let mut extraction = Extraction::default();
    code_operation_and_message(text, &mut extraction);
    denial(text, &mut extraction);
    target(text, &mut extraction);
    extraction.authorization_id = AUTHORIZATION_ID.first(text, 1);
    extraction.request_id = request_id(text);
    extraction.http_status = STATUS
        .first(text, 1)
        .or_else(|| STATUS_PAREN.first(text, 1))
        .or_else(|| STATUS_WORDS.first(text, 1))
        .or_else(|| STATUS_WORDS.first(text, 2))
        .and_then(|status| status.parse().ok());
    // A CLI `(403)` is the status standing in for a code that a bodiless 403 does not have.
    if extraction.error_code.as_deref().is_some_and(|code| code == "403") {
        extraction.http_status.get_or_insert(403);
        extraction.error_code = Some("Forbidden".into());
    }
    if extraction.error_code.is_none() && extraction.http_status == Some(403) {
        extraction.error_code = Some("Forbidden".into());
    }
    if extraction.action.is_none()
        && let Some((action, _)) = extraction.operation.as_deref().and_then(action_of_operation)
    {
        extraction.action = Some(action.to_string());
    }
    signals(text, &mut extraction);
    extraction
}

/// The error code, API operation and AWS message, from whichever form the text has.
fn code_operation_and_message(text: &str, extraction: &mut Extraction) {
    if let Some(captures) = CLI_LINE.captures(text) {
        extraction.error_code = captures.get(1).map(|code| code.as_str().to_string());
        extraction.operation = captures.get(2).map(|operation| operation.as_str().to_string());
        extraction.message = captures
            .get(3)
            .map(|message| message.as_str().trim().to_string())
            .filter(|message| !message.is_empty());
    } else if let Some(captures) = GO_V2.captures(text) {
        extraction.operation = captures.get(1).map(|operation| operation.as_str().to_string());
        extraction.error_code = captures.get(2).map(|code| code.as_str().to_string());
        extraction.message = captures.get(3).map(|message| message.as_str().trim().to_string());
    }
    if extraction.error_code.is_none() {
        extraction.error_code = XML_CODE
            .first(text, 1)
            .or_else(|| JAVA_V1_CODE.first(text, 1))
            .or_else(|| RUST_UNHANDLED.first(text, 1))
            .or_else(|| RUST_CODE.first(text, 1))
            .or_else(|| GO_V1.first(text, 1))
            .or_else(|| JS_CODE.first(text, 1))
            .filter(|code| code != "403" || extraction.http_status.is_none());
    }
    if extraction.message.is_none() {
        extraction.message = XML_MESSAGE
            .first(text, 1)
            .or_else(|| RUST_MESSAGE.first(text, 1))
            .or_else(|| EXCEPTION_MESSAGE.first(text, 1))
            .or_else(|| GO_V1.first(text, 2))
            .map(|message| message.trim().to_string())
            .filter(|message| !message.is_empty() && message != "null");
    }
    if extraction.operation.is_none() {
        extraction.operation = GO_V2_OPERATION.first(text, 1).or_else(|| {
            OPERATION_WORD
                .first(text, 1)
                .map(|word| canonical_operation(&word))
        });
    }
    // SDKs name a bodiless 403 (HEAD) `Forbidden`, `403`, `UnknownError` or nothing at all.
    if let Some(code) = extraction.error_code.as_deref()
        && matches!(code, "UnknownError" | "Unknown" | "NotFound")
        && text.contains("403")
    {
        extraction.error_code = Some("Forbidden".into());
    }
}

/// An operation named in any case (`getObject` in a Java stack frame) as the API names it.
fn canonical_operation(word: &str) -> String {
    const OPERATIONS: [&str; 12] = [
        "GetObject",
        "HeadObject",
        "PutObject",
        "ListObjectsV2",
        "ListObjects",
        "HeadBucket",
        "DeleteObject",
        "PutObjectAcl",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "CreateMultipartUpload",
        "UploadPart",
    ];
    OPERATIONS
        .iter()
        .find(|operation| operation.eq_ignore_ascii_case(word))
        .map_or_else(|| word.to_string(), |operation| (*operation).to_string())
}

/// Principal, action, resource, the policy type AWS blamed and the policy ARN.
fn denial(text: &str, extraction: &mut Extraction) {
    extraction.principal = USER.first(text, 1);
    if let Some(action) = PERFORM.first(text, 1) {
        extraction.action = Some(action);
    }
    if let Some(captures) = RESOURCE.captures(text)
        && let Some(resource) = captures.get(1).or_else(|| captures.get(2))
    {
        let resource = resource.as_str().trim_end_matches('.');
        if let Some((bucket, key)) = split_s3_arn(resource) {
            extraction.bucket = Some(bucket);
            extraction.key = key;
        }
    }
    if let Some(captures) = POLICY_TYPE.captures(text) {
        extraction.denial = captures.get(1).map(|phrase| {
            if phrase.as_str().to_ascii_lowercase().starts_with("explicit") {
                Denial::Explicit
            } else {
                Denial::Implicit
            }
        });
        extraction.policy_type = captures.get(2).map(|kind| kind.as_str().to_string());
    } else if let Some(setting) = PUBLIC_BLOCK.first(text, 1) {
        extraction.denial = Some(Denial::Explicit);
        extraction.policy_type = Some(format!("S3 Block Public Access ({setting})"));
    }
    extraction.policy_arn = POLICY_ARN
        .first(text, 1)
        .map(|arn| arn.trim_end_matches('.').to_string());
}

/// Bucket and key where the denial message did not name them: an `s3://` URL, an HTTPS URL
/// (virtual-hosted or path style), XML elements, or `Bucket='…'` / `Key='…'` parameters.
fn target(text: &str, extraction: &mut Extraction) {
    if extraction.bucket.is_some() {
        return;
    }
    if let Some(captures) = S3_URL.captures(text) {
        extraction.bucket = captures.get(1).map(|bucket| bucket.as_str().to_string());
        extraction.key = captures
            .get(2)
            .map(|key| key.as_str().to_string())
            .filter(|key| !key.is_empty());
        return;
    }
    let url = VIRTUAL_HOST_URL
        .captures(text)
        .map(|captures| (captures.get(1), captures.get(3)))
        .or_else(|| {
            PATH_STYLE_URL
                .captures(text)
                .map(|captures| (captures.get(2), captures.get(3)))
        });
    if let Some((Some(bucket), path)) = url {
        extraction.bucket = Some(bucket.as_str().to_string());
        extraction.key = path
            .map(|path| percent_decode(path.as_str().trim_start_matches('/')))
            .filter(|key| !key.is_empty());
        return;
    }
    extraction.bucket = XML_BUCKET.first(text, 1).or_else(|| KV_BUCKET.first(text, 1));
    if extraction.bucket.is_some() {
        extraction.key = XML_KEY.first(text, 1).or_else(|| KV_KEY.first(text, 1));
    }
}

/// The request ID: S3's `<RequestId>`, or the first `request id` / `RequestID` / `requestId` /
/// `x-amz-request-id` / `aws_request_id` that is not an *extended* request ID (`x-amz-id-2`).
fn request_id(text: &str) -> Option<String> {
    XML_REQUEST_ID.first(text, 1).or_else(|| {
        REQUEST_ID.captures_iter(text).find_map(|captures| {
            // `Extended Request ID`, `extendedRequestId`, `s3_extended_request_id`: the host id.
            let extended = captures.get(1).is_some();
            (!extended)
                .then(|| captures.get(2).map(|id| id.as_str().to_string()))
                .flatten()
        })
    })
}

/// Facts that point at a 403 no policy edit fixes.
fn signals(text: &str, extraction: &mut Extraction) {
    let signals = &mut extraction.signals;
    signals.request_time = REQUEST_TIME.first(text, 1);
    signals.server_time = SERVER_TIME.first(text, 1);
    signals.date_header = DATE_HEADER.first(text, 1);
    if let Some(captures) = REGION_WRONG.captures(text) {
        signals.signed_region = captures.get(1).map(|region| region.as_str().to_string());
        signals.expected_region = captures.get(2).map(|region| region.as_str().to_string());
    } else {
        signals.expected_region = XML_REGION.first(text, 1);
    }
    signals.storage_class = STORAGE_CLASS.first(text, 1);
    signals.requester_pays = REQUESTER_PAYS.is_match(text);
    signals.request_payer_sent = REQUEST_PAYER_SENT.is_match(text);
    let kms_error = extraction
        .error_code
        .as_deref()
        .is_some_and(|code| code.starts_with("KMS.") || code.contains("KMS"));
    if kms_error || KMS_KEY.is_match(text) {
        signals.kms_key = KMS_KEY.first(text, 1);
        signals.kms_key_state = KMS_STATE
            .first(text, 1)
            .map(|state| match state.to_ascii_lowercase().as_str() {
                "is disabled" | "disabled" => "Disabled".to_string(),
                _ => "PendingDeletion".to_string(),
            })
            .filter(|_| kms_error || signals.kms_key.is_some());
    }
    let date = PRESIGNED_DATE.first(text, 1);
    let expires = PRESIGNED_EXPIRES
        .first(text, 1)
        .or_else(|| XML_EXPIRES.first(text, 1))
        .and_then(|seconds| seconds.parse().ok());
    let region = PRESIGNED_CREDENTIAL.first(text, 1);
    if date.is_some() || expires.is_some() || region.is_some() {
        signals.presigned = Some(Presigned {
            date,
            expires_seconds: expires,
            region,
        });
    }
}

/// Percent-decode a URL path (`%2F` → `/`); invalid sequences stay as written.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for pattern in [
            &ANSI,
            &USER,
            &PERFORM,
            &RESOURCE,
            &POLICY_TYPE,
            &PUBLIC_BLOCK,
            &POLICY_ARN,
            &AUTHORIZATION_ID,
            &REQUEST_ID,
            &XML_REQUEST_ID,
            &CLI_LINE,
            &XML_CODE,
            &XML_MESSAGE,
            &JAVA_V1_CODE,
            &GO_V2,
            &GO_V2_OPERATION,
            &GO_V1,
            &JS_CODE,
            &RUST_CODE,
            &RUST_MESSAGE,
            &RUST_UNHANDLED,
            &EXCEPTION_MESSAGE,
            &STATUS,
            &STATUS_PAREN,
            &STATUS_WORDS,
            &OPERATION_WORD,
            &S3_URL,
            &VIRTUAL_HOST_URL,
            &PATH_STYLE_URL,
            &XML_BUCKET,
            &XML_KEY,
            &KV_BUCKET,
            &KV_KEY,
            &REQUEST_TIME,
            &SERVER_TIME,
            &DATE_HEADER,
            &REGION_WRONG,
            &XML_REGION,
            &STORAGE_CLASS,
            &REQUESTER_PAYS,
            &REQUEST_PAYER_SENT,
            &KMS_KEY,
            &KMS_STATE,
            &PRESIGNED_DATE,
            &PRESIGNED_EXPIRES,
            &XML_EXPIRES,
            &PRESIGNED_CREDENTIAL,
        ] {
            assert!(pattern.0.is_some());
        }
    }

    #[test]
    fn article_head_object_line() {
        let extraction = parse_message(
            "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden",
        );
        assert_eq!(extraction.operation.as_deref(), Some("HeadObject"));
        assert_eq!(extraction.action.as_deref(), Some("s3:GetObject"));
        assert_eq!(extraction.error_code.as_deref(), Some("Forbidden"));
        assert_eq!(extraction.http_status, Some(403));
        assert_eq!(extraction.principal, None);
    }

    #[test]
    fn extended_request_id_is_not_the_request_id() {
        let extraction = parse_message(
            "S3Exception: Access Denied (Service: S3, Status Code: 403, Extended Request ID: abcdefgh, Request ID: 4442587FB7D0A2F9)",
        );
        assert_eq!(extraction.request_id.as_deref(), Some("4442587FB7D0A2F9"));
    }
}
