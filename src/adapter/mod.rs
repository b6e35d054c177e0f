//! The AWS seam: one trait over domain types that reads the world an investigation needs.
//!
//! Two implementations: [`aws::AwsAdapter`] reads both accounts through the AWS SDK, and
//! [`snapshot::SnapshotAdapter`] answers from a JSON world file. Callers (`exec`, `cmd`) see only
//! [`ObserveRequest`], [`World`] and [`AdapterError`].
//!
//! INVARIANT: AWS SDK types never appear in this module's public items nor leave `adapter/aws`.
//!
//! Writes come later: the trait will grow `write(edit)` and `fingerprint(item)` methods over the
//! same domain types; the AWS adapter already keeps one set of clients per account for them.

pub mod aws;
pub mod snapshot;

use crate::core::arn::{PrincipalArn, PrincipalKind as ArnKind};
use crate::core::fromerror::authz::AuthorizationDetails;
use crate::core::plan::ResourceRef;
use crate::core::world::World;
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;

/// What to observe: one bucket, the objects of interest in it, and the calling principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveRequest {
    /// The bucket name.
    pub bucket: String,
    /// Object keys of interest (may be empty).
    pub keys: Vec<String>,
    /// The caller: an IAM role ARN, IAM user ARN or assumed-role session ARN.
    pub principal_arn: String,
}

/// Reads the world relevant to a request.
pub trait Adapter {
    /// Read every gate's state relevant to `request`, each item once.
    ///
    /// Items that cannot be read (denied, unsupported) land in `World::unknown`; a missing bucket,
    /// object or principal is an error.
    fn observe(&self, request: &ObserveRequest) -> impl Future<Output = Result<World, AdapterError>> + Send;

    /// Observe several requests into one world. Each observation is complete on its own, so
    /// the default reads a shared bucket or principal once per request; implementations may
    /// share reads across requests.
    fn observe_many(
        &self,
        requests: &[ObserveRequest],
    ) -> impl Future<Output = Result<World, AdapterError>> + Send
    where
        Self: Sync,
    {
        async move {
            let mut world = World::new();
            for request in requests {
                world.merge(self.observe(request).await?);
            }
            Ok(world)
        }
    }
}

/// Reads and writes the resources s3fix edits: s3fix-owned inline policies, bucket policies,
/// Object Ownership and KMS key policies ([`ResourceRef`]'s writable kinds).
///
/// Values use the world's representation (`crate::core::plan::current_value`): policy
/// documents as JSON objects, Object Ownership as a JSON string; `None` is "absent". A read
/// after a write returns what was written, so fingerprints computed from an observed world and
/// from `read` agree.
pub trait Writer {
    /// The current value of a writable resource.
    fn read(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Option<Value>, AdapterError>> + Send;

    /// Set a writable resource to `value`; `None` deletes it (a bucket policy, the ownership
    /// controls, an inline policy). Key policies cannot be deleted.
    fn write(
        &self,
        resource: &ResourceRef,
        value: Option<&Value>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// The current value as [`Writer::read`] reads it, with one read, and the exact stored text
    /// of a policy document where the writer can read it (`None`: absent, not a document, or a
    /// writer without texts).
    fn read_with_text(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<(Option<Value>, Option<String>), AdapterError>> + Send {
        let read = self.read(resource);
        async move { Ok((read.await?, None)) }
    }

    /// Set a writable resource to `value` as [`Writer::write`] does, a policy document as exactly
    /// `text` where given (it parses to `value`). A writer that cannot store text writes `value`.
    fn write_text(
        &self,
        resource: &ResourceRef,
        value: Option<&Value>,
        text: Option<&str>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        let _ = text;
        self.write(resource, value)
    }
}

/// The identity of the credentials in use (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The ARN, e.g. `arn:aws:sts::222222222222:assumed-role/my-app-role/session1`.
    pub arn: String,
    /// The account.
    pub account: String,
}

/// Why AWS's own record of a denied request cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailableKind {
    /// The session may not call `iam:GetRequestAuthorizationDetails`, or the details belong to
    /// another account or organization.
    Permission,
    /// No details for this ID (unknown, or past the 24 hours AWS keeps them).
    NotFound,
    /// The IAM Toolbox endpoint cannot be reached in this region.
    Region,
    /// The account has no access to the preview.
    Preview,
    /// Anything else.
    Other,
}

/// AWS's authorization details are not available; explain goes on without them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AWS's authorization details for `{authorization_id}` are not available ({kind:?}): {reason}")]
pub struct DetailsUnavailable {
    /// The authorization ID asked for.
    pub authorization_id: String,
    /// Why, as a kind.
    pub kind: UnavailableKind,
    /// Why, in words (AWS's code and message).
    pub reason: String,
}

/// Asks AWS about the request itself: who the current credentials are, and AWS's record of a
/// denied request behind an authorization ID (IAM Access Troubleshooter, preview).
pub trait Troubleshoot {
    /// The identity of the current credentials (STS GetCallerIdentity).
    fn caller_identity(&self) -> impl Future<Output = Result<CallerIdentity, AdapterError>> + Send;

    /// `GetRequestAuthorizationDetails` for `authorization_id`, every page, through the
    /// session of `account` (the account that issued it) where there is one.
    fn authorization_details(
        &self,
        authorization_id: &str,
        account: Option<&str>,
    ) -> impl Future<Output = Result<AuthorizationDetails, DetailsUnavailable>> + Send;
}

/// Why an observation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The bucket does not exist.
    #[error("bucket `{bucket}` does not exist")]
    NoSuchBucket {
        /// The bucket name.
        bucket: String,
    },
    /// The bucket cannot be confirmed to belong to the account that reads it.
    #[error("cannot confirm that bucket `{bucket}` belongs to account `{account}`: {reason}")]
    BucketNotConfirmed {
        /// The bucket name.
        bucket: String,
        /// The account whose session read the bucket.
        account: String,
        /// The error code and message.
        reason: String,
    },
    /// No session has credentials in the principal's account, so its policies cannot be read.
    #[error("no session can read principal `{arn}` in account `{account}`")]
    NoSessionForPrincipal {
        /// The principal ARN as given.
        arn: String,
        /// The principal's account.
        account: String,
    },
    /// The object does not exist.
    #[error("object `s3://{bucket}/{key}` does not exist")]
    NoSuchKey {
        /// The bucket name.
        bucket: String,
        /// The object key.
        key: String,
    },
    /// The principal does not exist.
    #[error("principal `{arn}` does not exist")]
    NoSuchPrincipal {
        /// The principal ARN as given.
        arn: String,
    },
    /// The principal ARN is not a role, user or assumed-role session ARN.
    #[error("`{arn}` is not an IAM role, IAM user or assumed-role session ARN")]
    InvalidPrincipalArn {
        /// The ARN as given.
        arn: String,
    },
    /// No credentials, or credentials that AWS rejects.
    #[error("AWS does not accept the credentials of `{session}`: {reason}")]
    Credentials {
        /// Which session (`default`, or a role ARN).
        session: String,
        /// What went wrong (error code and message).
        reason: String,
    },
    /// The named profile is in neither shared configuration file.
    #[error("the config profile ({profile}) could not be found")]
    NoSuchProfile {
        /// The profile name (`--profile` or `AWS_PROFILE`).
        profile: String,
    },
    /// The SDK found no credentials to sign requests with.
    #[error("no AWS credentials found (profile `{profile}`, region `{region}`)")]
    NoCredentials {
        /// The profile in use.
        profile: String,
        /// The region in use.
        region: String,
        /// The SDK's description (shown with --verbose).
        detail: String,
    },
    /// An AWS endpoint could not be reached.
    #[error(
        "could not connect to the endpoint URL {endpoint} ({operation}; profile `{profile}`, region `{region}`): {cause}"
    )]
    Unreachable {
        /// The operation that was sent, e.g. `STS GetCallerIdentity`.
        operation: String,
        /// The endpoint URL.
        endpoint: String,
        /// The profile in use.
        profile: String,
        /// The region in use.
        region: String,
        /// Why it could not be reached.
        cause: aws::Transport,
        /// The SDK's description (shown with --verbose).
        detail: String,
    },
    /// The credentials have expired.
    #[error("the AWS credentials of `{session}` have expired")]
    ExpiredCredentials {
        /// Which session (`default`, or a role ARN).
        session: String,
    },
    /// A role given with --bucket-role or --caller-role cannot be assumed.
    #[error("cannot assume role `{role_arn}`: {reason}")]
    AssumeRole {
        /// The role ARN.
        role_arn: String,
        /// The error code and message.
        reason: String,
    },
    /// A read that the observation cannot do without failed.
    #[error("`{operation}` on `{resource}` failed: {reason}")]
    Aws {
        /// The API operation, e.g. `HeadBucket`.
        operation: String,
        /// The resource it read.
        resource: String,
        /// The error code and message.
        reason: String,
    },
    /// A write failed.
    #[error("`{operation}` on {resource} failed: {reason}")]
    Write {
        /// The API operation, e.g. `PutBucketPolicy`.
        operation: String,
        /// The resource written.
        resource: String,
        /// The error code and message.
        reason: String,
    },
    /// The resource cannot be written (read-only kinds, deleting a key policy).
    #[error("{0} cannot be written by s3fix")]
    NotWritable(String),
    /// A world file cannot be read.
    #[error("cannot read world file `{}`", path.display())]
    ReadWorldFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A world (file or AWS answer) holds something over a limit.
    #[error("{origin}: {source}")]
    OverLimit {
        /// The world file, or `AWS`.
        origin: String,
        /// The limit.
        #[source]
        source: crate::core::limits::LimitError,
    },
    /// A world file is larger than s3fix reads.
    #[error("world file `{}` is {size} bytes, over the limit of {limit} bytes", path.display())]
    WorldFileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A world file is not a valid world.
    #[error("world file `{}` is invalid at line {line} column {column}: {message}", path.display())]
    ParseWorldFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A world file whose values no AWS account could have.
    #[error("world file `{}` is invalid: {error}", path.display())]
    InvalidWorld {
        /// The file.
        path: PathBuf,
        /// The field and value at fault.
        error: crate::core::world::WorldError,
    },
    /// A file of another kind than a world file.
    #[error(transparent)]
    WrongKind(#[from] crate::core::kind::KindError),
    /// A world file of a format this build does not read.
    #[error(
        "world file `{}` has formatVersion {found}, this build reads {expected}",
        path.display()
    )]
    WorldFormatVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
}

/// The start of the reason when no session can write a KMS key's policy.
pub const NO_SESSION_FOR_KEY: &str = "no session has credentials in the key's account";
/// The reason when an access point is given by alias through AWS.
pub const ALIAS_WITHOUT_ACCOUNT: &str =
    "an access point alias cannot be resolved through AWS without its account";
/// The reason a document write is refused when its planned text does not parse to its document.
pub const TEXT_DISAGREES: &str =
    "the text to write does not parse to the document to write: nothing was written";
/// The start of the reason for a read or write with no session in the resource's account.
pub const NO_SESSION_IN_ACCOUNT: &str = "no session in account";

impl crate::hint::Hinted for AdapterError {
    fn hint(&self) -> Option<String> {
        let denied = |reason: &str| reason.starts_with("AccessDenied") || reason.starts_with("HTTP 403");
        Some(match self {
            AdapterError::OverLimit { .. } => "s3fix refuses inputs over AWS's limits and its own bounds: check the file or the resource".into(),
            AdapterError::WorldFileTooLarge { .. } => "a world holds one investigation: snapshot only the bucket and principal involved".into(),
            AdapterError::Aws { reason, .. } | AdapterError::Write { reason, .. }
                if reason.starts_with(NO_SESSION_FOR_KEY) =>
            {
                "pass --bucket-role with a role in that account, or use its credentials".into()
            }
            AdapterError::Aws { reason, .. } if reason == ALIAS_WITHOUT_ACCOUNT => "give the access point ARN".into(),
            AdapterError::Aws { reason, .. } | AdapterError::Write { reason, .. }
                if reason.starts_with(NO_SESSION_IN_ACCOUNT) =>
            {
                "pass --bucket-role or --caller-role for a role in that account".into()
            }
            AdapterError::Write { reason, .. } if reason == TEXT_DISAGREES => "run s3fix plan again".into(),
            AdapterError::Write { reason, resource, .. }
                if reason.starts_with("InvalidBucketAclWithObjectOwnership") =>
            {
                let bucket = resource.split('`').nth(1).unwrap_or("BUCKET");
                format!("move those grants into the bucket policy, then reset the ACL, e.g. `aws s3api put-bucket-acl --bucket {bucket} --acl private`, and apply again")
            }
            AdapterError::NoSuchBucket { .. } => "check the bucket name and --region".into(),
            AdapterError::BucketNotConfirmed { .. } => "the reading session needs s3:ListBucket on the bucket; for a bucket in another account pass --bucket-role with a role there".into(),
            AdapterError::NoSessionForPrincipal { .. } => {
                "pass --caller-role with a role in that account, or use its credentials".into()
            }
            AdapterError::NoSuchKey { .. } => "check the object key".into(),
            AdapterError::NoSuchPrincipal { .. } => {
                "check the ARN; reading it needs a session in its account (see --caller-role)".into()
            }
            AdapterError::InvalidPrincipalArn { .. } => {
                "write a role, user or session ARN, e.g. `arn:aws:iam::111122223333:role/reader`".into()
            }
            AdapterError::NoSuchProfile { .. } => {
                "name a profile from `aws configure list-profiles`, or create it with `aws configure --profile NAME`".into()
            }
            AdapterError::NoCredentials { .. } => "configure credentials: `aws configure`, `aws sso login --profile NAME`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; choose a profile with --profile".into(),
            AdapterError::Unreachable { endpoint, cause, .. } => match cause {
                aws::Transport::Refused => format!(
                    "nothing is listening at {endpoint}: check --endpoint-url (or AWS_ENDPOINT_URL), or start the endpoint"
                ),
                aws::Transport::Dns => {
                    "check the endpoint's host name, --region and this machine's DNS".into()
                }
                aws::Transport::Tls => "check the endpoint's certificate (a local emulator usually speaks http://)".into(),
                aws::Transport::Timeout => {
                    "check the network, the proxy (HTTPS_PROXY) and firewalls, then run again".into()
                }
                aws::Transport::Other => "check the network and --endpoint-url".into(),
            },
            AdapterError::Credentials { .. } => {
                "check --profile or AWS_PROFILE and the access keys, or sign in again".into()
            }
            AdapterError::ExpiredCredentials { .. } => {
                "refresh the credentials, e.g. `aws sso login`, and run again".into()
            }
            AdapterError::AssumeRole { role_arn, reason } if denied(reason) => format!(
                "the calling identity needs `sts:AssumeRole` on `{role_arn}`, and the role's trust policy must allow it (with --external-id if it requires one)"
            ),
            AdapterError::AssumeRole { .. } => "check the role ARN, its trust policy and --external-id".into(),
            AdapterError::Aws {
                operation,
                resource,
                reason,
            }
            | AdapterError::Write {
                operation,
                resource,
                reason,
            } if denied(reason) => match aws::action_of(operation) {
                Some(action) => format!("the session needs `{action}` on `{resource}`"),
                None => return None,
            },
            AdapterError::WorldFormatVersion { .. } => {
                "upgrade s3fix, or re-create the file with `s3fix snapshot`".into()
            }
            AdapterError::WrongKind(error) => return crate::hint::Hinted::hint(error),
            _ => return None,
        })
    }

    fn detail(&self) -> Option<String> {
        match self {
            AdapterError::Unreachable { detail, .. } | AdapterError::NoCredentials { detail, .. } => {
                Some(detail.clone())
            }
            _ => None,
        }
    }
}

/// Whether a principal ARN names a role or a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalRefKind {
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    Role,
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    User,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`: a session of role `name`.
    AssumedRole,
}

/// A principal ARN taken apart: enough to find the role or user it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRef {
    /// The partition, e.g. `aws`.
    pub partition: String,
    /// The 12-digit account id.
    pub account: String,
    /// Role, user or assumed-role session.
    pub kind: PrincipalRefKind,
    /// The role or user name (for a session: the role's name).
    pub name: String,
}

/// A caller with no IAM role or user behind it — anonymous (`*`), an account root, an STS
/// federated user or a service principal — whose observation reads no principal.
pub fn bare_caller(text: &str) -> Option<crate::core::eval::Requester> {
    use crate::core::eval::{Requester, RequesterKind};
    Requester::parse(text).ok().filter(|requester| {
        matches!(
            requester.kind,
            RequesterKind::Anonymous
                | RequesterKind::Root
                | RequesterKind::FederatedUser
                | RequesterKind::Service
        )
    })
}

impl PrincipalRef {
    /// Parse a role, user or assumed-role session ARN.
    pub fn parse(arn: &str) -> Result<PrincipalRef, AdapterError> {
        let invalid = || AdapterError::InvalidPrincipalArn { arn: arn.to_string() };
        let parsed = PrincipalArn::parse(arn)
            .filter(|parsed| parsed.arn.region.is_empty())
            .ok_or_else(invalid)?;
        let kind = match parsed.kind {
            ArnKind::Role => PrincipalRefKind::Role,
            ArnKind::User => PrincipalRefKind::User,
            ArnKind::RoleSession => PrincipalRefKind::AssumedRole,
            ArnKind::Root | ArnKind::FederatedUser => return Err(invalid()),
        };
        Ok(PrincipalRef {
            partition: parsed.arn.partition.clone(),
            account: parsed.account.to_string(),
            kind,
            name: parsed.name().to_string(),
        })
    }

    /// Whether this names a role (directly or through one of its sessions).
    pub fn is_role(&self) -> bool {
        matches!(self.kind, PrincipalRefKind::Role | PrincipalRefKind::AssumedRole)
    }

    /// Whether `arn` (a role or user ARN with any path) is the role or user this refers to.
    ///
    /// IAM names are unique per account whatever the path, so the path is not compared.
    pub fn matches(&self, arn: &str) -> bool {
        let Ok(other) = PrincipalRef::parse(arn) else {
            return false;
        };
        other.partition == self.partition
            && other.account == self.account
            && other.name == self.name
            && other.is_role() == self.is_role()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_role_user_and_session_arns() {
        let role = PrincipalRef::parse("arn:aws:iam::222222222222:role/team/reader").ok();
        assert_eq!(
            role,
            Some(PrincipalRef {
                partition: "aws".into(),
                account: "222222222222".into(),
                kind: PrincipalRefKind::Role,
                name: "reader".into(),
            })
        );
        let session = PrincipalRef::parse("arn:aws:sts::222222222222:assumed-role/reader/s3fix-x").ok();
        assert_eq!(
            session.as_ref().map(|p| p.kind),
            Some(PrincipalRefKind::AssumedRole)
        );
        assert_eq!(session.as_ref().map(|p| p.name.as_str()), Some("reader"));
        let user = PrincipalRef::parse("arn:aws-cn:iam::123456789012:user/alice").ok();
        assert_eq!(
            user.map(|p| (p.kind, p.partition)),
            Some((PrincipalRefKind::User, "aws-cn".into()))
        );
    }

    #[test]
    fn rejects_other_arns() {
        for arn in [
            "arn:aws:s3:::bucket",
            "arn:aws:iam::222222222222:root",
            "arn:aws:iam::22222222222:role/x",
            "arn:aws:sts::222222222222:assumed-role/reader",
            "arn:aws:iam::222222222222:role/",
            "reader",
        ] {
            assert!(
                matches!(
                    PrincipalRef::parse(arn),
                    Err(AdapterError::InvalidPrincipalArn { .. })
                ),
                "{arn}"
            );
        }
    }

    /// INVARIANT guard: AWS SDK crates are named only under `src/adapter/aws`.
    #[test]
    fn sdk_types_stay_in_adapter_aws() -> std::io::Result<()> {
        fn visit(directory: &std::path::Path, offenders: &mut Vec<String>) -> std::io::Result<()> {
            for entry in std::fs::read_dir(directory)? {
                let path = entry?.path();
                if path.ends_with("adapter/aws") {
                    continue;
                }
                if path.is_dir() {
                    visit(&path, offenders)?;
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    let text = std::fs::read_to_string(&path)?;
                    // Spelled in pieces so this file does not name them itself.
                    if ["sdk_", "config", "smithy_", "credential_types"]
                        .iter()
                        .any(|suffix| text.contains(&format!("aws_{suffix}")))
                    {
                        offenders.push(path.display().to_string());
                    }
                }
            }
            Ok(())
        }
        let mut offenders = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut offenders,
        )?;
        assert_eq!(
            offenders,
            Vec::<String>::new(),
            "AWS SDK names outside src/adapter/aws"
        );
        Ok(())
    }

    #[test]
    fn hints_fit_the_cause() {
        use crate::hint::Hinted;
        let denied = AdapterError::Aws {
            operation: "GetBucketPolicy".into(),
            resource: "my-bucket".into(),
            reason: "AccessDenied: Access Denied".into(),
        };
        assert_eq!(
            denied.hint().as_deref(),
            Some("the session needs `s3:GetBucketPolicy` on `my-bucket`")
        );
        let throttled = AdapterError::Aws {
            operation: "GetBucketPolicy".into(),
            resource: "my-bucket".into(),
            reason: "SlowDown: Please reduce your request rate".into(),
        };
        assert_eq!(throttled.hint(), None);
        let assume = AdapterError::AssumeRole {
            role_arn: "arn:aws:iam::111111111111:role/admin".into(),
            reason: "AccessDenied: not authorized to perform sts:AssumeRole".into(),
        };
        assert!(
            assume
                .hint()
                .is_some_and(|hint| hint.contains("`sts:AssumeRole`"))
        );
        let expired = AdapterError::ExpiredCredentials {
            session: "default".into(),
        };
        assert!(expired.hint().is_some_and(|hint| hint.contains("aws sso login")));
        let unreachable = |cause| AdapterError::Unreachable {
            operation: "STS GetCallerIdentity".into(),
            endpoint: "http://127.0.0.1:9".into(),
            profile: "default".into(),
            region: "us-east-1".into(),
            cause,
            detail: "dispatch failure: io error".into(),
        };
        let hints: Vec<Option<String>> = [
            aws::Transport::Refused,
            aws::Transport::Dns,
            aws::Transport::Tls,
            aws::Transport::Timeout,
        ]
        .into_iter()
        .map(|cause| unreachable(cause).hint())
        .collect();
        assert!(hints.iter().all(Option::is_some));
        let distinct: std::collections::BTreeSet<_> = hints.iter().collect();
        assert_eq!(distinct.len(), 4, "each cause has its own hint");
        assert_eq!(
            unreachable(aws::Transport::Timeout).detail().as_deref(),
            Some("dispatch failure: io error")
        );
        assert_eq!(
            unreachable(aws::Transport::Refused).to_string(),
            "could not connect to the endpoint URL http://127.0.0.1:9 (STS GetCallerIdentity; profile `default`, region `us-east-1`): connection refused"
        );
    }

    #[test]
    fn session_matches_its_role_whatever_the_path() {
        let Ok(session) = PrincipalRef::parse("arn:aws:sts::222222222222:assumed-role/reader/s") else {
            unreachable!("valid ARN")
        };
        assert!(session.matches("arn:aws:iam::222222222222:role/team/reader"));
        assert!(!session.matches("arn:aws:iam::222222222222:user/reader"));
        assert!(!session.matches("arn:aws:iam::333333333333:role/reader"));
    }
}
