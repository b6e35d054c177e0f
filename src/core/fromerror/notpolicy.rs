//! 403s that no policy edit fixes, each with its one-line fix.
//!
//! Sources (Amazon S3 API Reference, "Error responses", ErrorResponses.html): `RequestTimeTooSkewed`
//! ("The difference between the request time and the server's time is too large", 403),
//! `SignatureDoesNotMatch` (403), `InvalidObjectState` (403: "The operation is not valid for the
//! current state of the object", archived objects), `AuthorizationQueryParametersError` /
//! `AuthorizationHeaderMalformed` ("the region '…' is wrong; expecting '…'"); Amazon S3 User Guide
//! "Sharing objects with presigned URLs" (ShareObjectPreSignedURL.html: `X-Amz-Date` + `X-Amz-Expires`)
//! and "Using Requester Pays buckets" (RequesterPaysBuckets.html: without `x-amz-request-payer`
//! a non-owner gets 403); HeadObject / GetObject ("If you don't have the s3:ListBucket
//! permission, Amazon S3 returns an HTTP status code 403 Forbidden error" for a missing key);
//! AWS KMS Developer Guide "Key states of AWS KMS keys" (key-state.html: a disabled key or one
//! pending deletion cannot be used in cryptographic operations: `DisabledException`,
//! `KMSInvalidStateException`).

use super::Extraction;
use serde::Serialize;

/// A non-policy cause (`fromError.notPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NotPolicy {
    /// `RequestTimeTooSkewed`: the client clock is off.
    ClockSkew,
    /// A presigned URL past `X-Amz-Date` + `X-Amz-Expires`.
    PresignedExpired,
    /// A URL or request signed for another region than the bucket's.
    PresignedRegion,
    /// `SignatureDoesNotMatch`.
    SignatureMismatch,
    /// `InvalidObjectState`: an archived object.
    ArchivedObject,
    /// A Requester Pays bucket read without `x-amz-request-payer`.
    RequesterPays,
    /// The object may not exist: without `s3:ListBucket` AWS answers 403, not 404.
    MaybeMissingObject,
    /// The KMS key is disabled or pending deletion.
    KmsKeyDisabled,
}

/// A non-policy cause with its one-line explanation and fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The code.
    pub code: NotPolicy,
    /// One line: what happened and how to fix it.
    pub fix: String,
}

/// What the caller knows beyond the text: the current time (the core has no clock), the
/// bucket's region, and what an observation found about the object and `s3:ListBucket`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Now, for presigned URLs.
    pub now: Option<jiff::Timestamp>,
    /// The bucket's region, where known.
    pub bucket_region: Option<String>,
    /// The object was looked for and does not exist.
    pub object_missing: bool,
    /// Whether the principal may `s3:ListBucket` on the bucket, where evaluated.
    pub list_bucket_allowed: Option<bool>,
}

/// The non-policy cause the error shows, if any (the first that applies, in the order above).
pub fn detect(extraction: &Extraction, facts: &Facts) -> Option<Finding> {
    let code = extraction.error_code.as_deref().unwrap_or_default();
    let signals = &extraction.signals;
    if code == "RequestTimeTooSkewed" {
        return Some(clock_skew(extraction));
    }
    if let Some(finding) = presigned(extraction, facts) {
        return Some(finding);
    }
    if code == "SignatureDoesNotMatch" {
        return Some(Finding {
            code: NotPolicy::SignatureMismatch,
            fix: "the request signature does not match: check the secret access key (a stale or mistyped key, a proxy rewriting headers or the path), and sign exactly what is sent".into(),
        });
    }
    if code == "InvalidObjectState" {
        let class = signals
            .storage_class
            .as_deref()
            .map(|class| format!(" ({class})"))
            .unwrap_or_default();
        return Some(Finding {
            code: NotPolicy::ArchivedObject,
            fix: format!(
                "the object is archived{class}: restore it first (`aws s3api restore-object`), then read it once the restore completes"
            ),
        });
    }
    if let Some(finding) = kms_disabled(extraction) {
        return Some(finding);
    }
    if signals.requester_pays && !signals.request_payer_sent {
        return Some(Finding {
            code: NotPolicy::RequesterPays,
            fix: "the bucket is Requester Pays: send `x-amz-request-payer: requester` (`--request-payer requester`, `RequestPayer='requester'`) to accept the charges".into(),
        });
    }
    if facts.object_missing {
        let list = match facts.list_bucket_allowed {
            Some(true) => {
                "s3fix finds s3:ListBucket allowed for this principal, so AWS would have answered 404: look for another cause as well"
            }
            Some(false) => {
                "s3fix finds s3:ListBucket not allowed for this principal, so AWS answers 403 instead of 404"
            }
            None => "whether s3:ListBucket is allowed could not be evaluated",
        };
        return Some(Finding {
            code: NotPolicy::MaybeMissingObject,
            fix: format!(
                "the object does not exist; {list}: check the key (or grant s3:ListBucket to see 404 next time)"
            ),
        });
    }
    None
}

fn clock_skew(extraction: &Extraction) -> Finding {
    let signals = &extraction.signals;
    let request = signals.request_time.as_deref().and_then(parse_time);
    let server = signals
        .server_time
        .as_deref()
        .and_then(parse_time)
        .or_else(|| signals.date_header.as_deref().and_then(parse_time));
    let offset = match (request, server) {
        (Some(request), Some(server)) => {
            let seconds = request.as_second() - server.as_second();
            let direction = if seconds >= 0 { "ahead of" } else { "behind" };
            format!(" (the client clock is {} s {direction} AWS)", seconds.abs())
        }
        _ => String::new(),
    };
    Finding {
        code: NotPolicy::ClockSkew,
        fix: format!(
            "the request time is too far from AWS's clock{offset}: synchronise the clock (NTP, e.g. chrony) and retry"
        ),
    }
}

fn presigned(extraction: &Extraction, facts: &Facts) -> Option<Finding> {
    let signals = &extraction.signals;
    let code = extraction.error_code.as_deref().unwrap_or_default();
    let expected = signals
        .expected_region
        .clone()
        .or_else(|| facts.bucket_region.clone());
    let signed = signals.signed_region.clone().or_else(|| {
        signals
            .presigned
            .as_ref()
            .and_then(|presigned| presigned.region.clone())
    });
    if let (Some(expected), Some(signed)) = (&expected, &signed)
        && expected != signed
        && (signals.presigned.is_some()
            || matches!(
                code,
                "AuthorizationQueryParametersError" | "AuthorizationHeaderMalformed"
            ))
    {
        return Some(Finding {
            code: NotPolicy::PresignedRegion,
            fix: format!(
                "the request was signed for region `{signed}` but the bucket is in `{expected}`: sign it again with region `{expected}` (e.g. `aws s3 presign --region {expected}`)"
            ),
        });
    }
    let message_expired = extraction
        .message
        .as_deref()
        .is_some_and(|message| message.contains("Request has expired"));
    let presigned = signals.presigned.as_ref();
    let expiry = presigned.and_then(|presigned| {
        let date = parse_time(presigned.date.as_deref()?)?;
        date.as_second().checked_add(presigned.expires_seconds?)
    });
    let expired_by_clock = match (expiry, facts.now) {
        (Some(expiry), Some(now)) => now.as_second() > expiry,
        _ => false,
    };
    if message_expired || expired_by_clock {
        let when = expiry
            .and_then(|expiry| jiff::Timestamp::from_second(expiry).ok())
            .map(|expiry| format!(" (it expired at {expiry})"))
            .unwrap_or_default();
        return Some(Finding {
            code: NotPolicy::PresignedExpired,
            fix: format!(
                "the presigned URL has expired{when}: generate a new one, with a longer X-Amz-Expires if needed"
            ),
        });
    }
    None
}

fn kms_disabled(extraction: &Extraction) -> Option<Finding> {
    let code = extraction.error_code.as_deref().unwrap_or_default();
    let state = extraction.signals.kms_key_state.as_deref().or(match code {
        "KMS.DisabledException" | "DisabledException" => Some("Disabled"),
        _ => None,
    })?;
    let key = extraction
        .signals
        .kms_key
        .as_deref()
        .map(|key| format!(" `{key}`"))
        .unwrap_or_default();
    let fix = if state == "Disabled" {
        format!("the KMS key{key} is disabled: enable it (`aws kms enable-key`) — no policy edit helps")
    } else {
        format!(
            "the KMS key{key} is pending deletion: cancel the deletion (`aws kms cancel-key-deletion`, then `aws kms enable-key`) — no policy edit helps"
        )
    };
    Some(Finding {
        code: NotPolicy::KmsKeyDisabled,
        fix,
    })
}

/// A time as S3 and HTTP write it: RFC 3339 (`2026-12-02T05:31:00Z`), the SigV4 basic form
/// (`20261202T051600Z`) or an HTTP date (`Wed, 02 Dec 2026 05:31:00 GMT`).
pub fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(timestamp);
    }
    if let Ok(datetime) = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", text) {
        return datetime
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp());
    }
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_time_forms() {
        let expected = "2026-12-02T05:16:00Z".parse::<jiff::Timestamp>().ok();
        assert_eq!(parse_time("20261202T051600Z"), expected);
        assert_eq!(parse_time("Wed, 02 Dec 2026 05:16:00 GMT"), expected);
        assert_eq!(parse_time("2026-12-02T05:16:00Z"), expected);
        assert_eq!(parse_time("yesterday"), None);
    }
}
