//! Reads and writes of the resources s3fix edits: inline policies, bucket policies, bucket ACLs,
//! Object Ownership, KMS key policies and access point policies ([`crate::adapter::Writer`] over
//! the AWS SDK).
//!
//! INVARIANT: `read` returns exactly what `observe` puts in the world for the same resource (same
//! API, same parsing), so fingerprints of an observed world and of a read agree.
//! INVARIANT: never sends `ConfirmRemoveSelfBucketAccess` nor `BypassPolicyLockoutSafetyCheck`.

use super::error::{Failure, FailureClass};
use super::iam::decode_policy;
use super::session::Session;
use super::{
    AwsAdapter, bucket_region, fatal, has_unmapped_ids, kms, map_canonical_ids, owner_canonical_ids, s3,
};
use crate::adapter::{AdapterError, PrincipalRef, Writer};
use crate::core::plan::ResourceRef;
use crate::core::s3::access_point::AccessPointArn;
use crate::core::world::{Acl, Grantee};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// Bucket regions found so far, so a read-write-read of one bucket asks `HeadBucket` once.
#[derive(Debug, Default)]
pub(crate) struct RegionCache(Mutex<BTreeMap<String, String>>);

impl RegionCache {
    fn get(&self, bucket: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    fn insert(&self, bucket: &str, region: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(bucket.to_string(), region.to_string());
    }
}

/// Whether a failure happened while reading or while writing (it picks the error variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
}

/// The error for a failed call: expired or rejected credentials end the run as such; anything
/// else names the operation and the resource.
fn failed(
    session: &Session,
    mode: Mode,
    operation: &str,
    resource: &ResourceRef,
    failure: &Failure,
) -> AdapterError {
    if let Some(error) = fatal(session, failure) {
        return error;
    }
    described(mode, operation, resource, failure.reason())
}

/// The read or write error for `resource` with `reason`.
fn described(mode: Mode, operation: &str, resource: &ResourceRef, reason: String) -> AdapterError {
    match mode {
        Mode::Read => AdapterError::Aws {
            operation: operation.to_string(),
            resource: resource.describe(),
            reason,
        },
        Mode::Write => AdapterError::Write {
            operation: operation.to_string(),
            resource: resource.describe(),
            reason,
        },
    }
}

/// A failure for a stored document that is not JSON.
fn malformed(message: String) -> Failure {
    Failure::local("MalformedPolicyDocument", message)
}

/// The text written for a policy document: its planned exact text where given (which must parse
/// to the document), else its compact JSON; only JSON objects are documents.
fn document_text(
    mode: Mode,
    operation: &str,
    resource: &ResourceRef,
    value: &Value,
    text: Option<&str>,
) -> Result<String, AdapterError> {
    if !value.is_object() {
        return Err(described(
            mode,
            operation,
            resource,
            "the value is not a policy document (a JSON object)".into(),
        ));
    }
    match text {
        None => Ok(value.to_string()),
        Some(text) if serde_json::from_str::<Value>(text).ok().as_ref() == Some(value) => {
            Ok(text.to_string())
        }
        Some(_) => Err(described(
            mode,
            operation,
            resource,
            crate::adapter::TEXT_DISAGREES.into(),
        )),
    }
}

/// The reason for a failed `PutBucketOwnershipControls`, with a hint for the ACL conflict.
fn ownership_reason(failure: &Failure, bucket: &str) -> String {
    if failure.code.as_deref() == Some("InvalidBucketAclWithObjectOwnership") {
        return format!(
            "{}: BucketOwnerEnforced disables ACLs, and the ACL of bucket `{bucket}` grants access to other accounts or groups",
            failure.reason()
        );
    }
    failure.reason()
}

impl AwsAdapter {
    /// The bucket session and an S3 client in the bucket's region (confirming on first use that
    /// the bucket exists and belongs to the bucket session's account).
    async fn bucket_client(&self, bucket: &str) -> Result<(&Session, aws_sdk_s3::Client), AdapterError> {
        let session = &self.sessions.bucket;
        let region = match self.regions.get(bucket) {
            Some(region) => region,
            None => {
                let region = bucket_region(session, bucket).await?;
                self.regions.insert(bucket, &region);
                region
            }
        };
        Ok((session, session.s3(&region)))
    }

    /// The session in the principal's account.
    fn principal_session(&self, principal: &str) -> Result<(&Session, PrincipalRef), AdapterError> {
        let reference = PrincipalRef::parse(principal)?;
        match self.sessions.in_account(&reference.account) {
            Some(session) => Ok((session, reference)),
            None => Err(AdapterError::NoSessionForPrincipal {
                arn: principal.to_string(),
                account: reference.account,
            }),
        }
    }

    /// The session in the key's account and a KMS client in the key's region.
    fn key_client(
        &self,
        mode: Mode,
        operation: &str,
        resource: &ResourceRef,
        key: &str,
    ) -> Result<(&Session, aws_sdk_kms::Client), AdapterError> {
        let Some((region, account)) = kms::key_arn_parts(key) else {
            return Err(described(
                mode,
                operation,
                resource,
                "not a KMS key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`)".into(),
            ));
        };
        match self.sessions.in_account(account) {
            Some(session) => Ok((session, session.kms(region))),
            None => Err(described(
                mode,
                operation,
                resource,
                format!("{}: `{account}`", crate::adapter::NO_SESSION_FOR_KEY),
            )),
        }
    }

    /// The session in the access point's account (S3 Control calls name that account) and the
    /// parsed access point ARN.
    fn point_session(
        &self,
        mode: Mode,
        operation: &str,
        resource: &ResourceRef,
        access_point: &str,
    ) -> Result<(&Session, AccessPointArn), AdapterError> {
        let Some((arn, _)) = AccessPointArn::parse_with_key(access_point) else {
            return Err(described(
                mode,
                operation,
                resource,
                "not an access point ARN (`arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME`)".into(),
            ));
        };
        match self.sessions.in_account(&arn.account) {
            Some(session) => Ok((session, arn)),
            None => Err(described(
                mode,
                operation,
                resource,
                format!(
                    "{} `{}` (the access point's account)",
                    crate::adapter::NO_SESSION_IN_ACCOUNT,
                    arn.account
                ),
            )),
        }
    }

    async fn read_resource(&self, resource: &ResourceRef) -> Result<Option<Value>, AdapterError> {
        Ok(self.read_document(resource).await?.map(|(value, _)| value))
    }

    /// A resource's value and, for a policy document, the exact text AWS returned.
    async fn read_document(
        &self,
        resource: &ResourceRef,
    ) -> Result<Option<(Value, Option<String>)>, AdapterError> {
        let mode = Mode::Read;
        match resource {
            ResourceRef::InlinePolicy { principal, name } => {
                let (session, reference) = self.principal_session(principal)?;
                let (operation, answer) = if reference.is_role() {
                    let answer = session
                        .iam
                        .get_role_policy()
                        .role_name(&reference.name)
                        .policy_name(name)
                        .send()
                        .await
                        .map(|output| output.policy_document().to_string())
                        .map_err(|error| Failure::from_sdk(&error));
                    ("GetRolePolicy", answer)
                } else {
                    let answer = session
                        .iam
                        .get_user_policy()
                        .user_name(&reference.name)
                        .policy_name(name)
                        .send()
                        .await
                        .map(|output| output.policy_document().to_string())
                        .map_err(|error| Failure::from_sdk(&error));
                    ("GetUserPolicy", answer)
                };
                match answer {
                    Ok(text) => decode_policy(&text)
                        .map(|(document, text)| Some((document, Some(text))))
                        .map_err(|message| failed(session, mode, operation, resource, &malformed(message))),
                    Err(failure) if failure.class() == FailureClass::NoSuchResource => Ok(None),
                    Err(failure) => Err(failed(session, mode, operation, resource, &failure)),
                }
            }
            ResourceRef::BucketPolicy { bucket } => {
                let (session, client) = self.bucket_client(bucket).await?;
                s3::bucket_policy(&client, bucket)
                    .await
                    .map(|read| read.map(|(document, text)| (document, Some(text))))
                    .map_err(|failure| failed(session, mode, "GetBucketPolicy", resource, &failure))
            }
            ResourceRef::OwnershipControls { bucket } => {
                let (session, client) = self.bucket_client(bucket).await?;
                let ownership = s3::ownership(&client, bucket).await.map_err(|failure| {
                    failed(session, mode, "GetBucketOwnershipControls", resource, &failure)
                })?;
                // The world's representation (`current_value`): the setting's serialized name.
                Ok(ownership.map(|ownership| (serde_json::to_value(ownership).unwrap_or(Value::Null), None)))
            }
            ResourceRef::BucketAcl { bucket } => {
                let (session, client) = self.bucket_client(bucket).await?;
                let acl = self
                    .mapped_bucket_acl(session, &client, bucket, resource, mode)
                    .await?;
                Ok(Some((serde_json::to_value(acl).unwrap_or(Value::Null), None)))
            }
            ResourceRef::KeyPolicy { key } => {
                let (session, client) = self.key_client(mode, "GetKeyPolicy", resource, key)?;
                let output = client
                    .get_key_policy()
                    .key_id(key)
                    .policy_name("default")
                    .send()
                    .await
                    .map_err(|error| {
                        failed(
                            session,
                            mode,
                            "GetKeyPolicy",
                            resource,
                            &Failure::from_sdk(&error),
                        )
                    })?;
                match output.policy() {
                    None => Ok(None),
                    Some(text) => {
                        super::error::stored_document(text, "MalformedPolicyDocument", "the key policy")
                            .map(|(document, text)| Some((document, Some(text))))
                            .map_err(|failure| failed(session, mode, "GetKeyPolicy", resource, &failure))
                    }
                }
            }
            ResourceRef::AccessPointPolicy { access_point } => {
                let operation = "GetAccessPointPolicy";
                let (session, arn) = self.point_session(mode, operation, resource, access_point)?;
                super::access_point::policy(&session.s3control, &arn)
                    .await
                    .map(|read| read.map(|(document, text)| (document, Some(text))))
                    .map_err(|failure| failed(session, mode, operation, resource, &failure))
            }
            _ => Err(AdapterError::NotWritable(resource.describe())),
        }
    }

    async fn write_resource(
        &self,
        resource: &ResourceRef,
        value: Option<&Value>,
        text: Option<&str>,
    ) -> Result<(), AdapterError> {
        let mode = Mode::Write;
        match resource {
            ResourceRef::InlinePolicy { principal, name } => {
                let (session, reference) = self.principal_session(principal)?;
                let iam = &session.iam;
                let role = reference.is_role();
                let (operation, answer) = match (value, role) {
                    (Some(document), true) => {
                        let text = document_text(mode, "PutRolePolicy", resource, document, text)?;
                        let answer = iam
                            .put_role_policy()
                            .role_name(&reference.name)
                            .policy_name(name)
                            .policy_document(text)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| Failure::from_sdk(&error));
                        ("PutRolePolicy", answer)
                    }
                    (Some(document), false) => {
                        let text = document_text(mode, "PutUserPolicy", resource, document, text)?;
                        let answer = iam
                            .put_user_policy()
                            .user_name(&reference.name)
                            .policy_name(name)
                            .policy_document(text)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| Failure::from_sdk(&error));
                        ("PutUserPolicy", answer)
                    }
                    (None, true) => {
                        let answer = iam
                            .delete_role_policy()
                            .role_name(&reference.name)
                            .policy_name(name)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| Failure::from_sdk(&error));
                        ("DeleteRolePolicy", answer)
                    }
                    (None, false) => {
                        let answer = iam
                            .delete_user_policy()
                            .user_name(&reference.name)
                            .policy_name(name)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| Failure::from_sdk(&error));
                        ("DeleteUserPolicy", answer)
                    }
                };
                match answer {
                    Ok(()) => Ok(()),
                    // Deleting a policy that is not there leaves it absent, as asked.
                    Err(failure) if value.is_none() && failure.class() == FailureClass::NoSuchResource => {
                        Ok(())
                    }
                    Err(failure) => Err(failed(session, mode, operation, resource, &failure)),
                }
            }
            ResourceRef::BucketPolicy { bucket } => {
                let (session, client) = self.bucket_client(bucket).await?;
                match value {
                    Some(document) => {
                        let text = document_text(mode, "PutBucketPolicy", resource, document, text)?;
                        client
                            .put_bucket_policy()
                            .bucket(bucket)
                            .policy(text)
                            .expected_bucket_owner(&session.account)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| {
                                failed(
                                    session,
                                    mode,
                                    "PutBucketPolicy",
                                    resource,
                                    &Failure::from_sdk(&error),
                                )
                            })
                    }
                    None => match client
                        .delete_bucket_policy()
                        .bucket(bucket)
                        .expected_bucket_owner(&session.account)
                        .send()
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(error) => {
                            let failure = Failure::from_sdk(&error);
                            if failure.class() == FailureClass::Absent {
                                Ok(())
                            } else {
                                Err(failed(session, mode, "DeleteBucketPolicy", resource, &failure))
                            }
                        }
                    },
                }
            }
            ResourceRef::OwnershipControls { bucket } => {
                let operation = if value.is_some() {
                    "PutBucketOwnershipControls"
                } else {
                    "DeleteBucketOwnershipControls"
                };
                // Check the value before any call.
                let setting = match value {
                    None => None,
                    Some(value) => {
                        let text = value.as_str().unwrap_or_default();
                        s3::parse_ownership(text).map_err(|_| {
                            described(
                                mode,
                                operation,
                                resource,
                                format!(
                                    "`{value}` is not an Object Ownership setting (BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter)"
                                ),
                            )
                        })?;
                        Some(text.to_string())
                    }
                };
                let (session, client) = self.bucket_client(bucket).await?;
                match setting {
                    Some(text) => {
                        let rule = aws_sdk_s3::types::OwnershipControlsRule::builder()
                            .object_ownership(aws_sdk_s3::types::ObjectOwnership::from(text.as_str()))
                            .build()
                            .and_then(|rule| {
                                aws_sdk_s3::types::OwnershipControls::builder()
                                    .rules(rule)
                                    .build()
                            })
                            .map_err(|error| described(mode, operation, resource, error.to_string()))?;
                        client
                            .put_bucket_ownership_controls()
                            .bucket(bucket)
                            .ownership_controls(rule)
                            .expected_bucket_owner(&session.account)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| {
                                let failure = Failure::from_sdk(&error);
                                match fatal(session, &failure) {
                                    Some(error) => error,
                                    None => described(
                                        mode,
                                        operation,
                                        resource,
                                        ownership_reason(&failure, bucket),
                                    ),
                                }
                            })
                    }
                    None => match client
                        .delete_bucket_ownership_controls()
                        .bucket(bucket)
                        .expected_bucket_owner(&session.account)
                        .send()
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(error) => {
                            let failure = Failure::from_sdk(&error);
                            if failure.class() == FailureClass::Absent {
                                Ok(())
                            } else {
                                Err(failed(session, mode, operation, resource, &failure))
                            }
                        }
                    },
                }
            }
            ResourceRef::BucketAcl { bucket } => {
                let Some(value) = value else {
                    return Err(AdapterError::NotWritable(format!(
                        "deleting {}",
                        resource.describe()
                    )));
                };
                let acl: Acl = serde_json::from_value(value.clone()).map_err(|error| {
                    described(
                        mode,
                        "PutBucketAcl",
                        resource,
                        format!("the value is not an ACL: {error}"),
                    )
                })?;
                let (session, client) = self.bucket_client(bucket).await?;
                // The world names accounts; S3 wants canonical ids: the owner's comes with the
                // ACL as S3 holds it now.
                let current = s3::bucket_acl(&client, bucket)
                    .await
                    .map_err(|failure| failed(session, Mode::Read, "GetBucketAcl", resource, &failure))?;
                let policy = access_control_policy(&acl, &current.owner, &session.account)
                    .map_err(|reason| described(mode, "PutBucketAcl", resource, reason))?;
                client
                    .put_bucket_acl()
                    .bucket(bucket)
                    .access_control_policy(policy)
                    .expected_bucket_owner(&session.account)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|error| {
                        failed(
                            session,
                            mode,
                            "PutBucketAcl",
                            resource,
                            &Failure::from_sdk(&error),
                        )
                    })
            }
            ResourceRef::KeyPolicy { key } => {
                let Some(document) = value else {
                    return Err(AdapterError::NotWritable(format!(
                        "deleting {}",
                        resource.describe()
                    )));
                };
                let text = document_text(mode, "PutKeyPolicy", resource, document, text)?;
                let (session, client) = self.key_client(mode, "PutKeyPolicy", resource, key)?;
                // Never BypassPolicyLockoutSafetyCheck: KMS refuses a policy that would lock the
                // writer out, which is the safety s3fix wants.
                client
                    .put_key_policy()
                    .key_id(key)
                    .policy_name("default")
                    .policy(text)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|error| {
                        failed(
                            session,
                            mode,
                            "PutKeyPolicy",
                            resource,
                            &Failure::from_sdk(&error),
                        )
                    })
            }
            ResourceRef::AccessPointPolicy { access_point } => {
                let operation = if value.is_some() {
                    "PutAccessPointPolicy"
                } else {
                    "DeleteAccessPointPolicy"
                };
                let (session, arn) = self.point_session(mode, operation, resource, access_point)?;
                let control = &session.s3control;
                let answer = match value {
                    Some(document) => {
                        let text = document_text(mode, operation, resource, document, text)?;
                        control
                            .put_access_point_policy()
                            .account_id(&arn.account)
                            .name(&arn.name)
                            .policy(text)
                            .send()
                            .await
                            .map(drop)
                            .map_err(|error| Failure::from_sdk(&error))
                    }
                    None => control
                        .delete_access_point_policy()
                        .account_id(&arn.account)
                        .name(&arn.name)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|error| Failure::from_sdk(&error)),
                };
                match answer {
                    Ok(()) => Ok(()),
                    // Deleting a policy that is not there leaves it absent, as asked.
                    Err(failure)
                        if value.is_none()
                            && matches!(
                                failure.class(),
                                FailureClass::NoSuchResource | FailureClass::Absent
                            ) =>
                    {
                        Ok(())
                    }
                    Err(failure) => Err(failed(session, mode, operation, resource, &failure)),
                }
            }
            _ => Err(AdapterError::NotWritable(resource.describe())),
        }
    }
}

impl AwsAdapter {
    /// `GetBucketAcl` with canonical ids mapped to accounts as `observe` maps them: the owner's
    /// from the ACL, the caller account's from its own `ListBuckets` when one is still unmapped.
    async fn mapped_bucket_acl(
        &self,
        session: &Session,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        resource: &ResourceRef,
        mode: Mode,
    ) -> Result<Acl, AdapterError> {
        let mut acl = s3::bucket_acl(client, bucket)
            .await
            .map_err(|failure| failed(session, mode, "GetBucketAcl", resource, &failure))?;
        let mut accounts = owner_canonical_ids(Some(&acl), &session.account);
        let caller = self.sessions.caller();
        if caller.account != session.account && has_unmapped_ids(&acl, &accounts) {
            let region = self.regions.get(bucket).unwrap_or_else(|| caller.region());
            if let Ok(Some(id)) = s3::own_canonical_id(&caller.s3(&region)).await {
                accounts.entry(id).or_insert_with(|| caller.account.clone());
            }
        }
        map_canonical_ids(&mut acl, &accounts);
        Ok(acl)
    }
}

/// The `PutBucketAcl` body for an ACL of the world: grants to the owner's account use the
/// owner's canonical id (`owner_id`, as S3 reports it); other grants keep their canonical ids.
fn access_control_policy(
    acl: &Acl,
    owner_id: &str,
    owner_account: &str,
) -> Result<aws_sdk_s3::types::AccessControlPolicy, String> {
    use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee as SdkGrantee, Owner, Permission, Type};
    let mut policy = AccessControlPolicy::builder().owner(Owner::builder().id(owner_id).build());
    for grant in &acl.grants {
        let grantee = match &grant.grantee {
            Grantee::CanonicalUser { id: Some(id), .. } => {
                SdkGrantee::builder().r#type(Type::CanonicalUser).id(id)
            }
            Grantee::CanonicalUser {
                id: None,
                account: Some(account),
            } if account == owner_account => SdkGrantee::builder().r#type(Type::CanonicalUser).id(owner_id),
            Grantee::CanonicalUser { account, .. } => {
                return Err(format!(
                    "the grant to {} has no canonical id to send",
                    account.as_deref().unwrap_or("an unknown account")
                ));
            }
            Grantee::Group { uri } => SdkGrantee::builder().r#type(Type::Group).uri(uri),
        }
        .build()
        .map_err(|error| error.to_string())?;
        policy = policy.grants(
            Grant::builder()
                .grantee(grantee)
                .permission(Permission::from(grant.permission.as_str()))
                .build(),
        );
    }
    Ok(policy.build())
}

impl Writer for AwsAdapter {
    fn read(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Option<Value>, AdapterError>> + Send {
        self.read_resource(resource)
    }

    async fn read_with_text(
        &self,
        resource: &ResourceRef,
    ) -> Result<(Option<Value>, Option<String>), AdapterError> {
        Ok(match self.read_document(resource).await? {
            Some((value, text)) => (Some(value), text),
            None => (None, None),
        })
    }

    fn write(
        &self,
        resource: &ResourceRef,
        value: Option<&Value>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.write_resource(resource, value, None)
    }

    /// Policy documents are put as exactly `text` (AWS stores the text it is given).
    fn write_text(
        &self,
        resource: &ResourceRef,
        value: Option<&Value>,
        text: Option<&str>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.write_resource(resource, value, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_acl_conflict_gets_a_hint() {
        let failure = Failure {
            code: Some("InvalidBucketAclWithObjectOwnership".into()),
            message: Some(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting".into(),
            ),
            status: Some(400),
            detail: String::new(),
            bucket_region: None,
        };
        let reason = ownership_reason(&failure, "b");
        assert!(
            reason.starts_with("InvalidBucketAclWithObjectOwnership: "),
            "{reason}"
        );
        assert!(!reason.contains("hint"), "{reason}");
        let error = described(
            Mode::Write,
            "PutBucketOwnershipControls",
            &ResourceRef::OwnershipControls { bucket: "b".into() },
            reason,
        );
        let hint = crate::hint::Hinted::hint(&error).unwrap_or_default();
        assert!(hint.contains("put-bucket-acl --bucket b --acl private"), "{hint}");
        let no_session = described(
            Mode::Write,
            "PutKeyPolicy",
            &ResourceRef::KeyPolicy {
                key: "arn:aws:kms:us-east-1:444455556666:key/k".into(),
            },
            format!("{}: `444455556666`", crate::adapter::NO_SESSION_FOR_KEY),
        );
        assert!(crate::hint::Hinted::hint(&no_session).is_some_and(|hint| hint.contains("--bucket-role")));
        let other = Failure {
            code: Some("AccessDenied".into()),
            ..failure
        };
        assert_eq!(ownership_reason(&other, "b"), other.reason());
    }

    #[test]
    fn acl_bodies_use_the_owner_canonical_id() {
        let acl: Acl = serde_json::from_value(serde_json::json!({"owner": "111111111111", "grants": [
            {"grantee": {"type": "CanonicalUser", "account": "111111111111"}, "permission": "FULL_CONTROL"},
            {"grantee": {"type": "CanonicalUser", "id": "b2", "account": "444455556666"}, "permission": "READ"},
            {"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "permission": "WRITE"}]}))
        .unwrap();
        let policy = access_control_policy(&acl, "a1", "111111111111").unwrap();
        assert_eq!(policy.owner().and_then(|owner| owner.id()), Some("a1"));
        let ids: Vec<Option<&str>> = policy
            .grants()
            .iter()
            .map(|grant| grant.grantee().and_then(|grantee| grantee.id().or(grantee.uri())))
            .collect();
        assert_eq!(
            ids,
            [
                Some("a1"),
                Some("b2"),
                Some("http://acs.amazonaws.com/groups/s3/LogDelivery")
            ]
        );
        let unmapped: Acl = serde_json::from_value(serde_json::json!({"owner": "111111111111", "grants": [
            {"grantee": {"type": "CanonicalUser", "account": "444455556666"}, "permission": "READ"}]}))
        .unwrap();
        assert!(access_control_policy(&unmapped, "a1", "111111111111").is_err());
    }

    #[test]
    fn only_objects_are_documents() {
        let resource = ResourceRef::BucketPolicy { bucket: "b".into() };
        let text = document_text(
            Mode::Write,
            "PutBucketPolicy",
            &resource,
            &serde_json::json!({"Version": "2012-10-17", "Statement": []}),
            None,
        );
        assert_eq!(
            text.ok().as_deref(),
            Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
        );
        assert!(matches!(
            document_text(
                Mode::Write,
                "PutBucketPolicy",
                &resource,
                &serde_json::json!("x"),
                None
            ),
            Err(AdapterError::Write { .. })
        ));
        let document = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        let kept = "{ \"Version\" : \"2012-10-17\",\n  \"Statement\": [ ] }";
        let written = document_text(Mode::Write, "PutBucketPolicy", &resource, &document, Some(kept));
        assert_eq!(written.ok().as_deref(), Some(kept));
        assert!(matches!(
            document_text(Mode::Write, "PutBucketPolicy", &resource, &document, Some("{}")),
            Err(AdapterError::Write { .. })
        ));
    }
}
