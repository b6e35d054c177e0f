//! What an AWS error means for an observation: absent, missing, denied, expired or other.
//!
//! The SDK error is reduced to a [`Failure`] (code, message, HTTP status) at once, so the rest of
//! the adapter never handles SDK error types; [`classify`] is a pure function of those parts.

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An AWS call that failed, reduced to what the adapter reasons about.
///
/// INVARIANT: holds no request data, so no credentials or signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The AWS error code, e.g. `AccessDenied`.
    pub code: Option<String>,
    /// The AWS error message.
    pub message: Option<String>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The SDK's description of the error and its causes, used when there is no code.
    pub detail: String,
    /// The `x-amz-bucket-region` response header, when present.
    pub bucket_region: Option<String>,
}

/// What a failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// A configuration that is simply not set (no bucket policy, no ownership controls, ...).
    Absent,
    /// The resource itself does not exist (bucket, object, role, user, key).
    NoSuchResource,
    /// The caller is not allowed to read it.
    Denied,
    /// The credentials have expired.
    Expired,
    /// The credentials are not accepted at all.
    BadCredentials,
    /// Anything else: unimplemented, server error, network.
    Other,
}

/// Error codes that mean "this configuration is not set".
const ABSENT_CODES: &[&str] = &[
    "NoSuchBucketPolicy",
    "OwnershipControlsNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchAccessPointPolicy",
];

/// Error codes that mean "the resource does not exist".
const NO_SUCH_RESOURCE_CODES: &[&str] = &[
    "NoSuchBucket",
    "NoSuchKey",
    "NotFound",
    "NoSuchEntity",
    "NotFoundException",
    "NoSuchAccessPoint",
];

/// Error codes that mean "not allowed".
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AllAccessDisabled",
    "UnauthorizedOperation",
];

/// Error codes that mean "credentials expired".
const EXPIRED_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

/// Error codes that mean "credentials not accepted".
const BAD_CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidToken",
];

/// Why a request got no answer from AWS: the network-level cause, for the one-line message and
/// the hint that fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Nothing listens at the endpoint (`ECONNREFUSED`).
    Refused,
    /// The endpoint's host name does not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// No answer in time.
    Timeout,
    /// Another connection failure.
    Other,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Transport::Refused => "connection refused",
            Transport::Dns => "the host name could not be resolved",
            Transport::Tls => "the TLS handshake failed",
            Transport::Timeout => "timed out",
            Transport::Other => "the connection failed",
        })
    }
}

/// What went wrong before AWS could answer a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dispatch {
    /// The endpoint could not be reached.
    Unreachable(Transport),
    /// The SDK found no usable credentials (the request was never sent).
    NoCredentials,
}

/// Why a request never reached AWS, if that is what happened: no credentials, refused, DNS,
/// TLS or timeout, read from the SDK error's causes.
pub(crate) fn dispatch_of<E>(error: &SdkError<E, HttpResponse>) -> Option<Dispatch>
where
    E: std::error::Error + 'static,
{
    let timed_out = match error {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_timeout(),
        _ => return None,
    };
    let mut causes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        causes.push(cause);
        next = cause.source();
    }
    // Credentials come first: their provider's own connection errors (instance metadata) are
    // not the endpoint's.
    if causes
        .iter()
        .any(|cause| cause.downcast_ref::<CredentialsError>().is_some())
    {
        return Some(Dispatch::NoCredentials);
    }
    let io_kind = |kind: std::io::ErrorKind| {
        causes.iter().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == kind)
        })
    };
    let text: String = causes
        .iter()
        .map(|cause| cause.to_string().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(": ");
    let transport = if timed_out || io_kind(std::io::ErrorKind::TimedOut) {
        Transport::Timeout
    } else if io_kind(std::io::ErrorKind::ConnectionRefused) || text.contains("connection refused") {
        Transport::Refused
    } else if text.contains("dns error") || text.contains("failed to lookup address") {
        Transport::Dns
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        Transport::Tls
    } else {
        Transport::Other
    };
    Some(Dispatch::Unreachable(transport))
}

/// The IAM action an operation s3fix calls needs, for "access denied" hints.
pub fn action_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "HeadBucket" | "ListObjectsV2" => "s3:ListBucket",
        "HeadObject" => "s3:GetObject",
        "GetBucketPolicy" => "s3:GetBucketPolicy",
        "PutBucketPolicy" => "s3:PutBucketPolicy",
        "DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
        "PutBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "GetBucketAcl" => "s3:GetBucketAcl",
        "PutBucketAcl" => "s3:PutBucketAcl",
        "GetObjectAcl" => "s3:GetObjectAcl",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "GetAccountPublicAccessBlock" => "s3:GetAccountPublicAccessBlock",
        "DescribeKey" => "kms:DescribeKey",
        "GetKeyPolicy" => "kms:GetKeyPolicy",
        "PutKeyPolicy" => "kms:PutKeyPolicy",
        "ListAliases" => "kms:ListAliases",
        "GetRole" => "iam:GetRole",
        "GetUser" => "iam:GetUser",
        "ListRolePolicies" => "iam:ListRolePolicies",
        "GetRolePolicy" => "iam:GetRolePolicy",
        "PutRolePolicy" => "iam:PutRolePolicy",
        "DeleteRolePolicy" => "iam:DeleteRolePolicy",
        "ListAttachedRolePolicies" => "iam:ListAttachedRolePolicies",
        "GetPolicy" => "iam:GetPolicy",
        "GetPolicyVersion" => "iam:GetPolicyVersion",
        "PutUserPolicy" => "iam:PutUserPolicy",
        "DeleteUserPolicy" => "iam:DeleteUserPolicy",
        "AssumeRole" => "sts:AssumeRole",
        _ => return None,
    })
}

/// Classify a failure by its error code, falling back to the HTTP status for bodiless answers
/// (HEAD requests, proxies).
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> FailureClass {
    if let Some(code) = code {
        let is = |codes: &[&str]| codes.contains(&code);
        if is(ABSENT_CODES) {
            return FailureClass::Absent;
        }
        if is(NO_SUCH_RESOURCE_CODES) {
            return FailureClass::NoSuchResource;
        }
        if is(DENIED_CODES) {
            return FailureClass::Denied;
        }
        if is(EXPIRED_CODES) {
            return FailureClass::Expired;
        }
        if is(BAD_CREDENTIAL_CODES) {
            return FailureClass::BadCredentials;
        }
        return FailureClass::Other;
    }
    match status {
        Some(404) => FailureClass::NoSuchResource,
        Some(403) => FailureClass::Denied,
        _ => FailureClass::Other,
    }
}

impl Failure {
    /// A failure that is not an SDK error: `code` and `message` only.
    pub(crate) fn local(code: &str, message: String) -> Failure {
        Failure {
            code: Some(code.into()),
            message: Some(message),
            status: None,
            detail: String::new(),
            bucket_region: None,
        }
    }

    /// Reduce an SDK error to its parts.
    pub(crate) fn from_sdk<E>(error: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let response = error.raw_response();
        // A request that never reached AWS is described by its cause, not the SDK's dump.
        let detail = match dispatch_of(error) {
            Some(Dispatch::Unreachable(transport)) => {
                format!("could not connect to the endpoint: {transport}")
            }
            Some(Dispatch::NoCredentials) => "no usable AWS credentials".to_string(),
            None => DisplayErrorContext(error).to_string(),
        };
        Failure {
            code: error.code().map(str::to_string),
            message: error.message().map(str::to_string),
            status: response.map(|response| response.status().as_u16()),
            detail,
            bucket_region: response
                .and_then(|response| response.headers().get("x-amz-bucket-region"))
                .map(str::to_string),
        }
    }

    /// What this failure means.
    pub(crate) fn class(&self) -> FailureClass {
        classify(self.code.as_deref(), self.status)
    }

    /// A one-line reason for reports: `Code: message`, or the HTTP status, or the SDK detail.
    pub(crate) fn reason(&self) -> String {
        match (&self.code, &self.message, self.status) {
            (Some(code), Some(message), _) if !message.is_empty() => format!("{code}: {message}"),
            (Some(code), _, _) => code.clone(),
            (None, _, Some(status)) if status >= 500 => {
                format!("HTTP {status} without an AWS error code (the endpoint may not implement this call)")
            }
            (None, _, Some(status)) => format!("HTTP {status} without an AWS error code"),
            (None, _, None) => self.detail.clone(),
        }
    }
}

/// A policy document AWS returned as text: the document and that exact text; a text that is not
/// JSON is a `code` failure saying "`what` is not JSON".
pub(crate) fn stored_document(
    text: &str,
    code: &str,
    what: &str,
) -> Result<(serde_json::Value, String), Failure> {
    serde_json::from_str(text)
        .map(|document| (document, text.to_string()))
        .map_err(|error| Failure::local(code, format!("{what} is not JSON: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError as Sts;
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    #[test]
    fn not_found_configurations_are_absent() {
        for code in ABSENT_CODES {
            assert_eq!(classify(Some(code), Some(404)), FailureClass::Absent);
        }
    }

    #[test]
    fn missing_resources_denials_and_credentials() {
        assert_eq!(
            classify(Some("NoSuchBucket"), Some(404)),
            FailureClass::NoSuchResource
        );
        assert_eq!(
            classify(Some("NoSuchEntity"), Some(404)),
            FailureClass::NoSuchResource
        );
        assert_eq!(classify(None, Some(404)), FailureClass::NoSuchResource);
        assert_eq!(classify(Some("AccessDenied"), Some(403)), FailureClass::Denied);
        assert_eq!(classify(None, Some(403)), FailureClass::Denied);
        assert_eq!(classify(Some("ExpiredToken"), Some(400)), FailureClass::Expired);
        assert_eq!(
            classify(Some("InvalidClientTokenId"), Some(403)),
            FailureClass::BadCredentials
        );
    }

    #[test]
    fn unimplemented_and_throttling_are_other() {
        assert_eq!(classify(None, Some(500)), FailureClass::Other);
        assert_eq!(classify(Some("SlowDown"), Some(503)), FailureClass::Other);
        assert_eq!(classify(None, None), FailureClass::Other);
    }

    fn dispatch_failure(source: BoxError) -> SdkError<Sts, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io(source))
    }

    #[test]
    fn unreachable_endpoints_are_told_apart() {
        let refused = dispatch_failure(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(
            dispatch_of(&refused),
            Some(Dispatch::Unreachable(Transport::Refused))
        );
        let dns = dispatch_failure("dns error: failed to lookup address information".into());
        assert_eq!(dispatch_of(&dns), Some(Dispatch::Unreachable(Transport::Dns)));
        let tls = dispatch_failure("invalid peer certificate: UnknownIssuer".into());
        assert_eq!(dispatch_of(&tls), Some(Dispatch::Unreachable(Transport::Tls)));
        let timeout: SdkError<Sts, HttpResponse> = SdkError::timeout_error("operation timed out");
        assert_eq!(
            dispatch_of(&timeout),
            Some(Dispatch::Unreachable(Transport::Timeout))
        );
        let io_timeout = SdkError::<Sts, HttpResponse>::dispatch_failure(ConnectorError::timeout(Box::new(
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        )));
        assert_eq!(
            dispatch_of(&io_timeout),
            Some(Dispatch::Unreachable(Transport::Timeout))
        );
        assert!(
            Failure::from_sdk(&refused)
                .reason()
                .contains("connection refused"),
            "{}",
            Failure::from_sdk(&refused).reason()
        );
    }

    #[test]
    fn missing_credentials_are_not_a_network_failure() {
        let credentials = SdkError::<Sts, HttpResponse>::dispatch_failure(ConnectorError::other(
            Box::new(CredentialsError::provider_error(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
            None,
        ));
        assert_eq!(dispatch_of(&credentials), Some(Dispatch::NoCredentials));
    }

    #[test]
    fn operations_name_their_actions() {
        assert_eq!(action_of("GetBucketPolicy"), Some("s3:GetBucketPolicy"));
        assert_eq!(action_of("HeadObject"), Some("s3:GetObject"));
        assert_eq!(action_of("Frobnicate"), None);
    }

    #[test]
    fn reason_prefers_code_and_message() {
        let failure = Failure {
            code: Some("AccessDenied".into()),
            message: Some("nope".into()),
            status: Some(403),
            detail: "service error".into(),
            bucket_region: None,
        };
        assert_eq!(failure.reason(), "AccessDenied: nope");
        let html = Failure {
            code: None,
            message: None,
            status: Some(500),
            ..failure
        };
        assert!(html.reason().starts_with("HTTP 500"));
    }
}
