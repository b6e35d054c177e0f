//! What an AWS error means for an observation: absent, missing, denied, expired or other.
//!
//! The SDK error is reduced to a [`Failure`] (code, message, HTTP status) at once, so the rest of
//! the adapter never handles SDK error types; [`classify`] is a pure function of those parts.

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
    /// Reduce an SDK error to its parts.
    pub(crate) fn from_sdk<E>(error: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let response = error.raw_response();
        Failure {
            code: error.code().map(str::to_string),
            message: error.message().map(str::to_string),
            status: response.map(|response| response.status().as_u16()),
            detail: DisplayErrorContext(error).to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
