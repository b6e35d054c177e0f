//! S3 and S3 Control reads: where the bucket is, its settings, and the objects of interest.

use super::error::{Failure, FailureClass, stored_document};
use crate::adapter::AdapterError;
use crate::core::world::{Acl, Encryption, Grant, Grantee, ObjectOwnership, PublicAccessBlock};
use serde_json::Value;

/// Turn "not set" answers into `None`; keep other failures.
fn absent_is_none<T>(result: Result<T, Failure>) -> Result<Option<T>, Failure> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(failure) if failure.class() == FailureClass::Absent => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// What `HeadBucket` says about a bucket.
pub(crate) enum Located {
    /// It exists, belongs to the expected owner, and is in this region (when the header came).
    Here(Option<String>),
    /// It exists in another region (a redirect or a region error naming it).
    Elsewhere(String),
    /// `HeadBucket` failed otherwise.
    Failed(Failure),
}

/// Where a bucket is: `HeadBucket` with the expected owner, asked in `s3`'s region.
pub(crate) async fn locate_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    expected_owner: &str,
) -> Result<Located, AdapterError> {
    let answer = s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(expected_owner)
        .send()
        .await;
    match answer {
        Ok(output) => Ok(Located::Here(output.bucket_region().map(str::to_string))),
        Err(error) => {
            let failure = Failure::from_sdk(&error);
            let asked = s3.config().region().map(|region| region.as_ref().to_string());
            match (failure.class(), &failure.bucket_region) {
                (FailureClass::NoSuchResource, _) => Err(AdapterError::NoSuchBucket {
                    bucket: bucket.to_string(),
                }),
                // S3 names the bucket's region on a 301 or a region-mismatch 400.
                (_, Some(region)) if Some(region) != asked.as_ref() => Ok(Located::Elsewhere(region.clone())),
                _ => Ok(Located::Failed(failure)),
            }
        }
    }
}

/// `GetBucketPolicy`: the policy document and its exact stored text, `None` when there is none.
pub(crate) async fn bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<(Value, String)>, Failure> {
    let answer = s3.get_bucket_policy().bucket(bucket).send().await;
    let Some(output) = absent_is_none(answer.map_err(|error| Failure::from_sdk(&error)))? else {
        return Ok(None);
    };
    match output.policy() {
        None => Ok(None),
        Some(text) => stored_document(text, "InvalidPolicyJson", "the stored bucket policy").map(Some),
    }
}

/// `GetBucketOwnershipControls`: `None` when no ownership controls are set.
pub(crate) async fn ownership(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<ObjectOwnership>, Failure> {
    let answer = s3.get_bucket_ownership_controls().bucket(bucket).send().await;
    let Some(output) = absent_is_none(answer.map_err(|error| Failure::from_sdk(&error)))? else {
        return Ok(None);
    };
    let rule = output
        .ownership_controls()
        .and_then(|controls| controls.rules().first());
    let Some(rule) = rule else {
        return Ok(None);
    };
    parse_ownership(rule.object_ownership().as_str()).map(Some)
}

/// The Object Ownership setting named by `text`.
pub(crate) fn parse_ownership(text: &str) -> Result<ObjectOwnership, Failure> {
    match text {
        "BucketOwnerEnforced" => Ok(ObjectOwnership::BucketOwnerEnforced),
        "BucketOwnerPreferred" => Ok(ObjectOwnership::BucketOwnerPreferred),
        "ObjectWriter" => Ok(ObjectOwnership::ObjectWriter),
        other => Err(Failure {
            code: Some("UnknownObjectOwnership".into()),
            message: Some(format!("unknown Object Ownership `{other}`")),
            status: None,
            detail: String::new(),
            bucket_region: None,
        }),
    }
}

/// Bucket-level `GetPublicAccessBlock`: `None` when not set.
pub(crate) async fn bucket_public_access_block(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<PublicAccessBlock>, Failure> {
    let answer = s3.get_public_access_block().bucket(bucket).send().await;
    let output = absent_is_none(answer.map_err(|error| Failure::from_sdk(&error)))?;
    Ok(output
        .as_ref()
        .and_then(|output| output.public_access_block_configuration())
        .map(|config| PublicAccessBlock {
            block_public_acls: config.block_public_acls().unwrap_or(false),
            ignore_public_acls: config.ignore_public_acls().unwrap_or(false),
            block_public_policy: config.block_public_policy().unwrap_or(false),
            restrict_public_buckets: config.restrict_public_buckets().unwrap_or(false),
        }))
}

/// Account-level `GetPublicAccessBlock` (S3 Control): `None` when not set.
pub(crate) async fn account_public_access_block(
    s3control: &aws_sdk_s3control::Client,
    account: &str,
) -> Result<Option<PublicAccessBlock>, Failure> {
    let answer = s3control
        .get_public_access_block()
        .account_id(account)
        .send()
        .await;
    let output = absent_is_none(answer.map_err(|error| Failure::from_sdk(&error)))?;
    Ok(output
        .as_ref()
        .and_then(|output| output.public_access_block_configuration())
        .map(control_public_access_block))
}

/// S3 Control's Block Public Access settings (account or access point) as ours.
pub(crate) fn control_public_access_block(
    config: &aws_sdk_s3control::types::PublicAccessBlockConfiguration,
) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: config.block_public_acls().unwrap_or(false),
        ignore_public_acls: config.ignore_public_acls().unwrap_or(false),
        block_public_policy: config.block_public_policy().unwrap_or(false),
        restrict_public_buckets: config.restrict_public_buckets().unwrap_or(false),
    }
}

/// An ACL with canonical user ids as S3 reports them (mapped to accounts later).
fn acl_from_parts(owner: Option<&aws_sdk_s3::types::Owner>, grants: &[aws_sdk_s3::types::Grant]) -> Acl {
    Acl {
        owner: owner.and_then(|owner| owner.id()).unwrap_or_default().to_string(),
        grants: grants
            .iter()
            .filter_map(|grant| {
                let grantee = grant.grantee()?;
                let grantee = match grantee.uri() {
                    Some(uri) => Grantee::Group { uri: uri.to_string() },
                    None => Grantee::CanonicalUser {
                        id: grantee.id().map(str::to_string),
                        account: None,
                    },
                };
                Some(Grant {
                    grantee,
                    permission: grant
                        .permission()
                        .map(|permission| permission.as_str().to_string())
                        .unwrap_or_default(),
                })
            })
            .collect(),
    }
}

/// `GetBucketAcl`.
pub(crate) async fn bucket_acl(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Acl, Failure> {
    let output = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    Ok(acl_from_parts(output.owner(), output.grants()))
}

/// `GetBucketEncryption`: the first default-encryption rule, `None` when not set.
pub(crate) async fn bucket_encryption(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<Encryption>, Failure> {
    let answer = s3.get_bucket_encryption().bucket(bucket).send().await;
    let output = absent_is_none(answer.map_err(|error| Failure::from_sdk(&error)))?;
    let rule = output
        .as_ref()
        .and_then(|output| output.server_side_encryption_configuration())
        .and_then(|config| config.rules().first());
    Ok(rule.and_then(|rule| {
        let default = rule.apply_server_side_encryption_by_default()?;
        Some(Encryption {
            algorithm: default.sse_algorithm().as_str().to_string(),
            kms_key_id: default.kms_master_key_id().map(str::to_string),
            bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
        })
    }))
}

/// `HeadObject`: the object's encryption. A missing object is an error naming it.
pub(crate) async fn head_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Result<Option<Encryption>, Failure>, AdapterError> {
    let answer = s3.head_object().bucket(bucket).key(key).send().await;
    match answer {
        Ok(output) => Ok(Ok(output.server_side_encryption().map(|algorithm| Encryption {
            algorithm: algorithm.as_str().to_string(),
            kms_key_id: output.ssekms_key_id().map(str::to_string),
            bucket_key_enabled: output.bucket_key_enabled().unwrap_or(false),
        }))),
        Err(error) => {
            let failure = Failure::from_sdk(&error);
            if failure.class() == FailureClass::NoSuchResource {
                return Err(AdapterError::NoSuchKey {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                });
            }
            Ok(Err(failure))
        }
    }
}

/// `GetObjectAcl`.
pub(crate) async fn object_acl(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Acl, Failure> {
    let output = s3
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    Ok(acl_from_parts(output.owner(), output.grants()))
}

/// The canonical user id of the account whose credentials `s3` uses (`ListBuckets` owner).
pub(crate) async fn own_canonical_id(s3: &aws_sdk_s3::Client) -> Result<Option<String>, Failure> {
    let output = s3
        .list_buckets()
        .max_buckets(1)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    Ok(output.owner().and_then(|owner| owner.id()).map(str::to_string))
}
