//! Start from the error: what an operator pastes (an AccessDenied message from the AWS CLI, an
//! SDK or S3's XML body, a CloudTrail record, the details behind an authorization ID) becomes a
//! request to explain, plus what AWS itself said about the denial.
//!
//! Sources: IAM User Guide "Troubleshoot access denied error messages"
//! (troubleshoot_access-denied.html: `User: <arn> is not authorized to perform: <action> on
//! resource: <arn> because no <type> policy allows the <action> action` / `with an explicit deny
//! in a <type> policy`); AWS Security Blog "Enhanced access denied error messages with policy
//! ARNs" (the denying policy's ARN after the type); IAM User Guide "Troubleshoot access denied
//! error messages with authorization ID (Preview)" (troubleshoot_access-denied-authorization-id.html);
//! Amazon S3 API Reference HeadObject (HEAD authorizes as `s3:GetObject`, no error body).
//!
//! INVARIANT: pure: no I/O and no clock; "now" is a parameter where time matters.

pub mod authz;
pub mod cloudtrail;
pub mod compare;
mod message;
pub mod notpolicy;
pub mod report;
pub mod tospec;

pub use message::{clean, parse_message};

use crate::core::eval::{Requester, RequesterKind};
use crate::core::s3::S3Action;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where the error came from (`fromError.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// A pasted message (CLI, SDK, XML body).
    Message,
    /// A CloudTrail record.
    Cloudtrail,
    /// The details behind an authorization ID (GetRequestAuthorizationDetails).
    AuthorizationId,
}

/// Whether AWS called the denial explicit or implicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Denial {
    /// `with an explicit deny in a … policy`.
    Explicit,
    /// `because no … policy allows the … action`.
    Implicit,
}

/// The parts of a presigned URL that decide whether it is still valid and where it was signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presigned {
    /// `X-Amz-Date`, e.g. `20261202T051600Z`.
    pub date: Option<String>,
    /// `X-Amz-Expires`, in seconds.
    pub expires_seconds: Option<i64>,
    /// The region in `X-Amz-Credential` (`AKID/20261202/us-east-1/s3/aws4_request`).
    pub region: Option<String>,
}

/// Facts in the pasted text that point at a 403 no policy edit fixes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signals {
    /// S3's `<RequestTime>` (RequestTimeTooSkewed), as written.
    pub request_time: Option<String>,
    /// S3's `<ServerTime>`, as written.
    pub server_time: Option<String>,
    /// A response `Date:` header, as written.
    pub date_header: Option<String>,
    /// A presigned URL found in the text.
    pub presigned: Option<Presigned>,
    /// The region S3 expected (`expecting 'eu-west-1'`, `<Region>`).
    pub expected_region: Option<String>,
    /// The region the request was signed for, where S3 named it (`the region 'us-east-1' is wrong`).
    pub signed_region: Option<String>,
    /// `<StorageClass>` of an archived object.
    pub storage_class: Option<String>,
    /// The text shows a Requester Pays bucket (`<Payer>Requester</Payer>`, "Requester Pays").
    pub requester_pays: bool,
    /// The request carried `x-amz-request-payer` / `--request-payer`.
    pub request_payer_sent: bool,
    /// The KMS key named in a KMS error.
    pub kms_key: Option<String>,
    /// The KMS key is disabled or pending deletion, as the text says.
    pub kms_key_state: Option<String>,
}

/// Everything recognised in one error. Fields are `None` where the text does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    /// The denied principal (`User: <arn>`), or `anonymous`.
    pub principal: Option<String>,
    /// The role of an assumed-role session, where the source names it (CloudTrail).
    pub role_arn: Option<String>,
    /// The IAM action the request authorizes as (`HeadObject` → `s3:GetObject`).
    pub action: Option<String>,
    /// The API operation, e.g. `HeadObject`.
    pub operation: Option<String>,
    /// The bucket.
    pub bucket: Option<String>,
    /// The object key (or the prefix of a list).
    pub key: Option<String>,
    /// The policy type AWS blamed, as AWS wrote it (`resource-based policy`).
    pub policy_type: Option<String>,
    /// Explicit or implicit, as AWS wrote it.
    pub denial: Option<Denial>,
    /// The denying policy's ARN, where AWS named it.
    pub policy_arn: Option<String>,
    /// The authorization ID (IAM Access Troubleshooter).
    pub authorization_id: Option<String>,
    /// The request ID.
    pub request_id: Option<String>,
    /// The AWS error code (`AccessDenied`; `Forbidden` for a 403 without a body, as HEAD gets).
    pub error_code: Option<String>,
    /// The HTTP status, where the text gives it.
    pub http_status: Option<u16>,
    /// AWS's message text, where recognised.
    pub message: Option<String>,
    /// Request context the source states (CloudTrail: `aws:SourceIp`, `aws:SourceVpce`, …).
    pub context: BTreeMap<String, String>,
    /// The CloudTrail event ID, for a record.
    pub event_id: Option<String>,
    /// Facts pointing at a non-policy cause.
    pub signals: Signals,
}

impl Extraction {
    /// The S3 operation to explain, from the API operation or else the IAM action.
    pub fn s3_action(&self) -> Option<S3Action> {
        self.operation
            .as_deref()
            .and_then(action_of_operation)
            .map(|(_, action)| action)
            .or_else(|| self.action.as_deref().and_then(action_of_iam))
    }

    /// Whether anything at all was recognised.
    pub fn is_empty(&self) -> bool {
        self.principal.is_none()
            && self.action.is_none()
            && self.operation.is_none()
            && self.bucket.is_none()
            && self.error_code.is_none()
            && self.http_status.is_none()
            && self.authorization_id.is_none()
    }
}

/// The IAM action and S3 operation an API operation authorizes as. HeadObject authorizes as
/// `s3:GetObject` and HeadBucket as `s3:ListBucket` (Amazon S3 API Reference, HeadObject and
/// HeadBucket: "you must have the s3:GetObject / s3:ListBucket permission").
pub fn action_of_operation(operation: &str) -> Option<(&'static str, S3Action)> {
    Some(match operation {
        "GetObject" => ("s3:GetObject", S3Action::Get),
        "HeadObject" => ("s3:GetObject", S3Action::Head),
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            ("s3:PutObject", S3Action::Put)
        }
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => ("s3:ListBucket", S3Action::List),
        "DeleteObject" => ("s3:DeleteObject", S3Action::Delete),
        "PutObjectAcl" => ("s3:PutObjectAcl", S3Action::PutObjectAcl),
        "PutBucketPolicy" => ("s3:PutBucketPolicy", S3Action::PutBucketPolicy),
        "GetBucketPolicy" => ("s3:GetBucketPolicy", S3Action::GetBucketPolicy),
        _ => return None,
    })
}

/// The S3 operation for an IAM action named in a message.
pub fn action_of_iam(action: &str) -> Option<S3Action> {
    Some(match action {
        "s3:GetObject" => S3Action::Get,
        "s3:PutObject" => S3Action::Put,
        "s3:ListBucket" => S3Action::List,
        "s3:DeleteObject" => S3Action::Delete,
        "s3:PutObjectAcl" => S3Action::PutObjectAcl,
        "s3:PutBucketPolicy" => S3Action::PutBucketPolicy,
        "s3:GetBucketPolicy" => S3Action::GetBucketPolicy,
        _ => return None,
    })
}

/// Bucket and key from an S3 ARN (`arn:aws:s3:::bucket/key`).
pub fn split_s3_arn(arn: &str) -> Option<(String, Option<String>)> {
    let rest = arn.split_once(":s3:::")?.1;
    if !arn.starts_with("arn:") || rest.is_empty() {
        return None;
    }
    Some(match rest.split_once('/') {
        Some((bucket, key)) => (bucket.to_string(), Some(key.to_string())),
        None => (rest.to_string(), None),
    })
}

/// The role ARN of an assumed-role session ARN (`arn:aws:sts::A:assumed-role/R/S` →
/// `arn:aws:iam::A:role/R`; the role's path is not in the session ARN). Other ARNs unchanged.
pub fn role_of_session(arn: &str) -> String {
    match Requester::parse(arn) {
        Ok(requester) if requester.kind == RequesterKind::RoleSession => {
            requester.principal_arn.unwrap_or_else(|| arn.to_string())
        }
        _ => arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_operations_authorize_as_get_and_list() {
        assert_eq!(
            action_of_operation("HeadObject"),
            Some(("s3:GetObject", S3Action::Head))
        );
        assert_eq!(
            action_of_operation("HeadBucket"),
            Some(("s3:ListBucket", S3Action::List))
        );
    }

    #[test]
    fn session_arn_maps_to_its_role() {
        assert_eq!(
            role_of_session("arn:aws:sts::222222222222:assumed-role/my-app-role/session1"),
            "arn:aws:iam::222222222222:role/my-app-role"
        );
        assert_eq!(
            role_of_session("arn:aws:iam::222222222222:user/alice"),
            "arn:aws:iam::222222222222:user/alice"
        );
    }

    #[test]
    fn s3_arns_split_into_bucket_and_key() {
        assert_eq!(
            split_s3_arn("arn:aws:s3:::my-bucket/data/report.csv"),
            Some(("my-bucket".into(), Some("data/report.csv".into())))
        );
        assert_eq!(
            split_s3_arn("arn:aws:s3:::my-bucket"),
            Some(("my-bucket".into(), None))
        );
        assert_eq!(split_s3_arn("arn:aws:iam::1:role/x"), None);
    }
}
