//! Resources as the planner and apply see them: what an edit writes, how an edit changes a world,
//! and the fingerprint of every resource a plan relies on (to detect a stale plan).

use crate::core::policy::canonical::fingerprint;
use crate::core::world::{Acl, Grant, Grantee, ObjectOwnership, World};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A resource s3fix reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum ResourceRef {
    /// An inline policy of a role or user (written by s3fix: one per bucket).
    InlinePolicy {
        /// The role or user ARN.
        principal: String,
        /// The policy name.
        name: String,
    },
    /// A bucket policy.
    BucketPolicy {
        /// The bucket.
        bucket: String,
    },
    /// A bucket's Object Ownership setting.
    OwnershipControls {
        /// The bucket.
        bucket: String,
    },
    /// A bucket's ACL (written only to reset it to the owner's FULL_CONTROL before ACLs are
    /// disabled).
    BucketAcl {
        /// The bucket.
        bucket: String,
    },
    /// An S3 access point's policy (written through S3 Control by the access point's account).
    AccessPointPolicy {
        /// The access point ARN.
        #[serde(rename = "accessPoint")]
        access_point: String,
    },
    /// A KMS key policy.
    KeyPolicy {
        /// The key ARN.
        key: String,
    },
    /// Everything that shapes a principal's identity permissions (read only).
    Principal {
        /// The role or user ARN.
        principal: String,
    },
    /// A bucket's ACL, Block Public Access and default encryption (read only).
    BucketSettings {
        /// The bucket.
        bucket: String,
    },
    /// An object's owner, ACL and encryption (read only).
    Object {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// An account's Block Public Access, SCPs and RCPs (read only).
    Account {
        /// The account id.
        account: String,
    },
    /// A KMS key's metadata (read only).
    KeyMetadata {
        /// The key ARN.
        key: String,
    },
}

impl ResourceRef {
    /// A short human name, e.g. `bucket policy of my-bucket`.
    pub fn describe(&self) -> String {
        match self {
            ResourceRef::InlinePolicy { principal, name } => {
                format!("inline policy `{name}` of `{principal}`")
            }
            ResourceRef::BucketPolicy { bucket } => format!("bucket policy of `{bucket}`"),
            ResourceRef::OwnershipControls { bucket } => format!("Object Ownership of `{bucket}`"),
            ResourceRef::BucketAcl { bucket } => format!("bucket ACL of `{bucket}`"),
            ResourceRef::KeyPolicy { key } => format!("key policy of `{key}`"),
            ResourceRef::AccessPointPolicy { access_point } => {
                format!("access point policy of `{access_point}`")
            }
            ResourceRef::Principal { principal } => format!("policies of `{principal}`"),
            ResourceRef::BucketSettings { bucket } => format!("ACL and settings of `{bucket}`"),
            ResourceRef::Object { bucket, key } => format!("object `s3://{bucket}/{key}`"),
            ResourceRef::Account { account } => format!("account settings of `{account}`"),
            ResourceRef::KeyMetadata { key } => format!("metadata of `{key}`"),
        }
    }

    /// The account the resource lives in, where the world tells.
    pub fn account(&self, world: &World) -> Option<String> {
        let arn_account = |arn: &str| crate::core::arn::account_of(arn).map(|account| account.to_string());
        match self {
            ResourceRef::InlinePolicy { principal, .. } | ResourceRef::Principal { principal } => {
                arn_account(principal)
            }
            ResourceRef::KeyPolicy { key } | ResourceRef::KeyMetadata { key } => arn_account(key),
            ResourceRef::BucketPolicy { bucket }
            | ResourceRef::OwnershipControls { bucket }
            | ResourceRef::BucketAcl { bucket }
            | ResourceRef::BucketSettings { bucket }
            | ResourceRef::Object { bucket, .. } => world.bucket(bucket).map(|found| found.account.clone()),
            ResourceRef::Account { account } => Some(account.clone()),
            ResourceRef::AccessPointPolicy { access_point } => {
                crate::core::s3::access_point::AccessPointArn::parse_with_key(access_point)
                    .map(|(arn, _)| arn.account)
            }
        }
    }
}

/// Why an edit cannot be applied to a world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldEditError {
    /// The resource is not in the world.
    #[error("{0} is not in the world")]
    Missing(String),
    /// The value is not what the resource holds.
    #[error("{resource}: {message}")]
    BadValue {
        /// The resource.
        resource: String,
        /// What is wrong.
        message: String,
    },
    /// The resource cannot be written.
    #[error("{0} is read only")]
    ReadOnly(String),
}

/// The current value of a resource in a world (`None` = does not exist). Ownership is a JSON
/// string; documents are JSON objects exactly as stored.
pub fn current_value(world: &World, resource: &ResourceRef) -> Result<Option<Value>, WorldEditError> {
    let missing = || WorldEditError::Missing(resource.describe());
    Ok(match resource {
        ResourceRef::InlinePolicy { principal, name } => {
            let found = world.principal(principal).ok_or_else(missing)?;
            found.inline_policies.iter().find(|policy| policy.name == *name).map(|policy| policy.document.clone())
        }
        ResourceRef::BucketPolicy { bucket } => world.bucket(bucket).ok_or_else(missing)?.policy.clone(),
        ResourceRef::OwnershipControls { bucket } => world
            .bucket(bucket)
            .ok_or_else(missing)?
            .ownership
            .map(|ownership| serde_json::to_value(ownership).unwrap_or(Value::Null)),
        ResourceRef::BucketAcl { bucket } => world
            .bucket(bucket)
            .ok_or_else(missing)?
            .acl
            .as_ref()
            .map(|acl| serde_json::to_value(acl).unwrap_or(Value::Null)),
        ResourceRef::KeyPolicy { key } => world.key(key).ok_or_else(missing)?.policy.clone(),
        ResourceRef::AccessPointPolicy { access_point } => {
            world.access_point(access_point).ok_or_else(missing)?.1.policy.clone()
        }
        ResourceRef::Principal { principal } => {
            Some(serde_json::to_value(world.principal(principal).ok_or_else(missing)?).unwrap_or(Value::Null))
        }
        ResourceRef::BucketSettings { bucket } => {
            let found = world.bucket(bucket).ok_or_else(missing)?;
            Some(serde_json::json!({
                "acl": found.acl,
                "publicAccessBlock": found.public_access_block,
                "defaultEncryption": found.default_encryption,
            }))
        }
        ResourceRef::Object { bucket, key } => {
            let found = world.bucket(bucket).ok_or_else(missing)?;
            found.objects.iter().find(|object| object.key == *key).map(|object| serde_json::to_value(object).unwrap_or(Value::Null))
        }
        ResourceRef::Account { account } => {
            world.account(account).map(|found| serde_json::to_value(found).unwrap_or(Value::Null))
        }
        ResourceRef::KeyMetadata { key } => world.key(key).map(|found| {
            serde_json::json!({"arn": found.arn, "account": found.account, "manager": found.manager, "aliases": found.aliases})
        }),
    })
}

/// Whether an ACL grant goes to the ACL's owner (by account id, or by canonical id where the
/// account is not known).
pub fn owner_grant(grant: &Grant, acl_owner: &str, owner_account: &str) -> bool {
    match &grant.grantee {
        Grantee::CanonicalUser {
            account: Some(account),
            ..
        } => account == owner_account,
        Grantee::CanonicalUser { id, account: None } => {
            id.as_deref() == Some(acl_owner) || acl_owner == owner_account && id.is_none()
        }
        Grantee::Group { .. } => false,
    }
}

/// A grantee as people read it: `account 111111111111`, `canonical user …`, or the group URI.
pub fn describe_grantee(grantee: &Grantee) -> String {
    match grantee {
        Grantee::CanonicalUser {
            account: Some(account),
            ..
        } => format!("account {account}"),
        Grantee::CanonicalUser { id, account: None } => {
            format!("canonical user `{}`", id.as_deref().unwrap_or("?"))
        }
        Grantee::Group { uri } => format!("`{uri}`"),
    }
}

/// The fingerprint of a resource's current value (`absent` when it does not exist).
pub fn fingerprint_of(world: &World, resource: &ResourceRef) -> Result<String, WorldEditError> {
    Ok(match current_value(world, resource)? {
        Some(value) => fingerprint(&value),
        None => "absent".to_string(),
    })
}

/// A resource value read as its typed form (`None` stays `None`).
fn typed<T: serde::de::DeserializeOwned>(
    resource: &ResourceRef,
    value: Option<&Value>,
    what: &str,
) -> Result<Option<T>, WorldEditError> {
    value
        .map(|value| {
            serde_json::from_value(value.clone()).map_err(|error| WorldEditError::BadValue {
                resource: resource.describe(),
                message: format!("not {what}: {error}"),
            })
        })
        .transpose()
}

fn bucket_mut<'a>(world: &'a mut World, name: &str) -> Option<&'a mut crate::core::world::Bucket> {
    world.buckets.iter_mut().find(|bucket| bucket.name == name)
}

/// The exact text of a policy document resource, where the world knows it (`None` for every other
/// resource, and for documents read without their text).
pub fn current_text(world: &World, resource: &ResourceRef) -> Option<String> {
    match resource {
        ResourceRef::InlinePolicy { principal, name } => world
            .principal(principal)?
            .inline_policies
            .iter()
            .find(|policy| policy.name == *name)?
            .document_text
            .clone(),
        ResourceRef::BucketPolicy { bucket } => world.bucket(bucket)?.policy_text.clone(),
        ResourceRef::KeyPolicy { key } => world.key(key)?.policy_text.clone(),
        ResourceRef::AccessPointPolicy { access_point } => {
            world.access_point(access_point)?.1.policy_text.clone()
        }
        _ => None,
    }
}

/// Set a writable resource to a value (`None` deletes it); a document's text is forgotten.
pub fn set_value(
    world: &mut World,
    resource: &ResourceRef,
    value: Option<&Value>,
) -> Result<(), WorldEditError> {
    set_document(world, resource, value, None)
}

/// Set a writable resource to a value, a policy document also to its exact `text` (which must
/// parse to `value`; `None` = not known, written as a serialisation).
pub fn set_document(
    world: &mut World,
    resource: &ResourceRef,
    value: Option<&Value>,
    text: Option<&str>,
) -> Result<(), WorldEditError> {
    let missing = || WorldEditError::Missing(resource.describe());
    if let (Some(text), Some(value)) = (text, value)
        && serde_json::from_str::<Value>(text).ok().as_ref() != Some(value)
    {
        return Err(WorldEditError::BadValue {
            resource: resource.describe(),
            message: "the text to write does not parse to the document to write".into(),
        });
    }
    let text = text.filter(|_| value.is_some()).map(str::to_string);
    match resource {
        ResourceRef::InlinePolicy { principal, name } => {
            let found = world
                .principals
                .iter_mut()
                .find(|p| p.arn == *principal)
                .ok_or_else(missing)?;
            found.inline_policies.retain(|policy| policy.name != *name);
            if let Some(document) = value {
                found.inline_policies.push(crate::core::world::NamedPolicy {
                    name: name.clone(),
                    document: document.clone(),
                    document_text: text,
                });
            }
        }
        ResourceRef::BucketPolicy { bucket } => {
            let found = world
                .buckets
                .iter_mut()
                .find(|b| b.name == *bucket)
                .ok_or_else(missing)?;
            found.policy = value.cloned();
            found.policy_text = text;
        }
        ResourceRef::OwnershipControls { bucket } => {
            let ownership: Option<ObjectOwnership> = typed(resource, value, "an Object Ownership setting")?;
            let found = bucket_mut(world, bucket).ok_or_else(missing)?;
            // As S3 does: BucketOwnerEnforced is refused while the bucket ACL grants anyone but
            // the owner (S3 User Guide, "Troubleshooting" under Object Ownership).
            if ownership == Some(ObjectOwnership::BucketOwnerEnforced)
                && let Some(acl) = &found.acl
                && let Some(grant) = acl
                    .grants
                    .iter()
                    .find(|grant| !owner_grant(grant, &acl.owner, &found.account))
            {
                return Err(WorldEditError::BadValue {
                    resource: resource.describe(),
                    message: format!(
                        "InvalidBucketAclWithObjectOwnership: the bucket ACL grants {} to {}; move that grant into the bucket policy and reset the bucket ACL to the owner's FULL_CONTROL first",
                        grant.permission,
                        describe_grantee(&grant.grantee)
                    ),
                });
            }
            found.ownership = ownership;
        }
        ResourceRef::BucketAcl { bucket } => {
            let acl: Option<Acl> = typed(resource, value, "an ACL")?;
            let found = bucket_mut(world, bucket).ok_or_else(missing)?;
            // With ACLs disabled S3 accepts only an ACL that gives the owner full control.
            if found.ownership == Some(ObjectOwnership::BucketOwnerEnforced)
                && let Some(acl) = &acl
                && acl
                    .grants
                    .iter()
                    .any(|grant| !owner_grant(grant, &acl.owner, &found.account))
            {
                return Err(WorldEditError::BadValue {
                    resource: resource.describe(),
                    message:
                        "AccessControlListNotSupported: the bucket has ACLs disabled (BucketOwnerEnforced)"
                            .into(),
                });
            }
            found.acl = acl;
        }
        ResourceRef::KeyPolicy { key } => {
            let arn = world
                .key(key)
                .map(|found| found.arn.clone())
                .ok_or_else(missing)?;
            if let Some(found) = world.keys.iter_mut().find(|k| k.arn == arn) {
                found.policy = value.cloned();
                found.policy_text = text;
            }
        }
        ResourceRef::AccessPointPolicy { access_point } => {
            let found = world
                .buckets
                .iter_mut()
                .flat_map(|bucket| bucket.access_points.iter_mut())
                .find(|point| {
                    point.arn == *access_point || point.alias.as_deref() == Some(access_point.as_str())
                })
                .ok_or_else(missing)?;
            found.policy = value.cloned();
            found.policy_text = text;
        }
        _ => return Err(WorldEditError::ReadOnly(resource.describe())),
    }
    Ok(())
}
