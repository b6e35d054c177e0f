//! S3 Control reads of one access point: `GetAccessPoint` (bucket, bucket account, network
//! origin and VPC, the access point's Block Public Access, alias), `GetAccessPointPolicy` and
//! `GetAccessPointPolicyStatus`, in the access point owner's account (which may differ from the
//! bucket's). A policy that cannot be read becomes an unknown item: its gate is unknown, never
//! allowed.

use super::error::{Failure, FailureClass};
use super::session::Session;
use super::{AwsAdapter, fatal};
use crate::adapter::AdapterError;
use crate::core::s3::access_point::AccessPointArn;
use crate::core::world::{AccessPoint, ItemKind, NetworkOrigin, UnknownItem};

/// An access point as read, with what could not be read of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadAccessPoint {
    /// The bucket it is attached to.
    pub bucket: String,
    /// The access point (policy `None` when absent or unreadable; see `unknown`).
    pub point: AccessPoint,
    /// Whether S3 calls its policy public (`GetAccessPointPolicyStatus`), where readable.
    pub policy_is_public: Option<bool>,
    /// Items that could not be read.
    pub unknown: Vec<UnknownItem>,
}

fn session_for<'a>(adapter: &'a AwsAdapter, account: &str) -> Option<&'a Session> {
    let sessions = &adapter.sessions;
    std::iter::once(&sessions.bucket)
        .chain(sessions.caller.iter())
        .find(|session| session.account == account)
}

fn unreadable(operation: &str, arn: &str, failure: &Failure) -> AdapterError {
    AdapterError::Aws {
        operation: operation.into(),
        resource: arn.to_string(),
        reason: failure.reason(),
    }
}

impl AwsAdapter {
    /// Read an access point by ARN in its owner's account (a session of the bucket or caller
    /// role must be in that account). Aliases cannot be looked up without the account.
    pub async fn read_access_point(&self, arn_text: &str) -> Result<ReadAccessPoint, AdapterError> {
        let Some((arn, _)) = AccessPointArn::parse_with_key(arn_text) else {
            return Err(AdapterError::Aws {
                operation: "GetAccessPoint".into(),
                resource: arn_text.to_string(),
                reason: crate::adapter::ALIAS_WITHOUT_ACCOUNT.into(),
            });
        };
        let Some(session) = session_for(self, &arn.account) else {
            return Err(AdapterError::Aws {
                operation: "GetAccessPoint".into(),
                resource: arn.arn.clone(),
                reason: format!("{} {}", crate::adapter::NO_SESSION_IN_ACCOUNT, arn.account),
            });
        };
        let control = &session.s3control;
        let answer = control
            .get_access_point()
            .account_id(&arn.account)
            .name(&arn.name)
            .send()
            .await
            .map_err(|error| Failure::from_sdk(&error));
        let output = match answer {
            Ok(output) => output,
            Err(failure) => {
                return Err(fatal(session, &failure)
                    .unwrap_or_else(|| unreadable("GetAccessPoint", &arn.arn, &failure)));
            }
        };
        let vpc_id = output
            .vpc_configuration()
            .map(|config| config.vpc_id().to_string());
        let network_origin = match output.network_origin() {
            Some(aws_sdk_s3control::types::NetworkOrigin::Vpc) => NetworkOrigin::Vpc,
            _ if vpc_id.is_some() => NetworkOrigin::Vpc,
            _ => NetworkOrigin::Internet,
        };
        let public_access_block = output
            .public_access_block_configuration()
            .map(super::s3::control_public_access_block);
        let bucket = output.bucket().unwrap_or_default().to_string();
        let bucket_account = output
            .bucket_account_id()
            .map_or_else(|| arn.account.clone(), str::to_string);
        let mut unknown = Vec::new();
        let (policy, policy_text) = match policy(control, &arn).await {
            Ok(Some((policy, text))) => (Some(policy), Some(text)),
            Ok(None) => (None, None),
            Err(failure) => {
                if let Some(error) = fatal(session, &failure) {
                    return Err(error);
                }
                unknown.push(UnknownItem {
                    item: ItemKind::AccessPointPolicy,
                    resource: arn.arn.clone(),
                    reason: failure.reason(),
                });
                (None, None)
            }
        };
        let policy_is_public = if policy.is_some() {
            control
                .get_access_point_policy_status()
                .account_id(&arn.account)
                .name(&arn.name)
                .send()
                .await
                .ok()
                .and_then(|output| output.policy_status().map(|status| status.is_public()))
        } else {
            None
        };
        Ok(ReadAccessPoint {
            bucket,
            point: AccessPoint {
                name: arn.name.clone(),
                arn: arn.arn.clone(),
                account: arn.account.clone(),
                bucket_account,
                alias: output.alias().map(str::to_string),
                network_origin,
                vpc_id,
                public_access_block,
                policy,
                policy_text,
            },
            policy_is_public,
            unknown,
        })
    }
}

/// `GetAccessPointPolicy`: the policy and its exact text as stored; `None` when the access point
/// has no policy.
pub(super) async fn policy(
    control: &aws_sdk_s3control::Client,
    arn: &AccessPointArn,
) -> Result<Option<(serde_json::Value, String)>, Failure> {
    let answer = control
        .get_access_point_policy()
        .account_id(&arn.account)
        .name(&arn.name)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error));
    match answer {
        Ok(output) => match output.policy() {
            None => Ok(None),
            Some(text) => {
                super::error::stored_document(text, "InvalidPolicyJson", "the stored access point policy")
                    .map(Some)
            }
        },
        Err(failure) if failure.class() == FailureClass::Absent => Ok(None),
        Err(failure) => Err(failure),
    }
}
