//! Bounds on what s3fix accepts, checked when a world is loaded (from a file or from AWS), so an
//! oversized or hostile input is refused at once, naming the resource and the limit, instead of
//! being planned over for minutes.
//!
//! AWS's own limits (IAM quotas; S3 "Bucket policies and user policies"; KMS PutKeyPolicy):
//! a bucket policy 20 KB, a key policy 32 KB, a role's inline policies 10,240 characters in all
//! (a user's 2,048, a group's 5,120) and a managed policy 6,144, whitespace not counted. Beyond
//! those, a world file is bounded in its numbers of accounts, buckets, principals, keys and
//! objects per bucket: limits far above what one investigation reads.

use crate::core::world::{PrincipalKind, World};
use serde_json::Value;

/// A bucket policy, in bytes.
pub const BUCKET_POLICY_BYTES: usize = 20 * 1024;
/// A key policy, in bytes.
pub const KEY_POLICY_BYTES: usize = 32_768;
/// All inline policies of a role, in characters without whitespace.
pub const ROLE_INLINE_CHARACTERS: usize = 10_240;
/// All inline policies of a user.
pub const USER_INLINE_CHARACTERS: usize = 2_048;
/// All inline policies of a group.
pub const GROUP_INLINE_CHARACTERS: usize = 5_120;
/// A managed policy document (also a permissions boundary).
pub const MANAGED_POLICY_CHARACTERS: usize = 6_144;
/// An SCP or RCP document (Organizations quota: 5,120 characters).
pub const ORGANIZATION_POLICY_CHARACTERS: usize = 5_120;
/// Accounts in one world.
pub const MAX_ACCOUNTS: usize = 1_000;
/// Buckets in one world.
pub const MAX_BUCKETS: usize = 1_000;
/// Principals in one world.
pub const MAX_PRINCIPALS: usize = 10_000;
/// KMS keys in one world.
pub const MAX_KEYS: usize = 1_000;
/// Objects per bucket in one world.
pub const MAX_OBJECTS_PER_BUCKET: usize = 100_000;
/// A world file, in bytes (checked before it is parsed).
pub const MAX_WORLD_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// A plan file, in bytes (checked before it is parsed).
pub const MAX_PLAN_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A world over a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {size} {unit}, over the limit of {limit} {unit}{why}")]
pub struct LimitError {
    /// The resource, described.
    pub what: String,
    /// Its size.
    pub size: usize,
    /// The limit.
    pub limit: usize,
    /// `bytes`, `characters without whitespace`, `entries`.
    pub unit: &'static str,
    /// Where the limit comes from.
    pub why: &'static str,
}

/// The size of a document in bytes: of its exact text where known (what AWS stores), else of its
/// compact serialisation.
fn bytes(document: &Value, text: Option<&str>) -> usize {
    text.map_or_else(|| document.to_string().len(), str::len)
}

/// The characters of a document without whitespace, counted on its text where known.
fn characters(document: &Value, text: Option<&str>) -> usize {
    let counted = |text: &str| text.chars().filter(|c| !c.is_whitespace()).count();
    text.map_or_else(|| counted(&document.to_string()), counted)
}

fn check(
    what: impl FnOnce() -> String,
    size: usize,
    limit: usize,
    unit: &'static str,
    why: &'static str,
) -> Result<(), LimitError> {
    if size > limit {
        Err(LimitError {
            what: what(),
            size,
            limit,
            unit,
            why,
        })
    } else {
        Ok(())
    }
}

const AWS_QUOTA: &str = " (an AWS quota: AWS would not store it)";
const WORLD_BOUND: &str = " (s3fix's bound for one world)";

/// Check every bound; the first violation is returned.
pub fn check_world(world: &World) -> Result<(), LimitError> {
    check(
        || "the number of accounts".into(),
        world.accounts.len(),
        MAX_ACCOUNTS,
        "entries",
        WORLD_BOUND,
    )?;
    check(
        || "the number of buckets".into(),
        world.buckets.len(),
        MAX_BUCKETS,
        "entries",
        WORLD_BOUND,
    )?;
    check(
        || "the number of principals".into(),
        world.principals.len(),
        MAX_PRINCIPALS,
        "entries",
        WORLD_BOUND,
    )?;
    check(
        || "the number of KMS keys".into(),
        world.keys.len(),
        MAX_KEYS,
        "entries",
        WORLD_BOUND,
    )?;
    for bucket in &world.buckets {
        check(
            || format!("the number of objects of bucket `{}`", bucket.name),
            bucket.objects.len(),
            MAX_OBJECTS_PER_BUCKET,
            "entries",
            WORLD_BOUND,
        )?;
        if let Some(policy) = &bucket.policy {
            check(
                || format!("the bucket policy of `{}`", bucket.name),
                bytes(policy, bucket.policy_text.as_deref()),
                BUCKET_POLICY_BYTES,
                "bytes",
                AWS_QUOTA,
            )?;
        }
    }
    for key in &world.keys {
        if let Some(policy) = &key.policy {
            check(
                || format!("the key policy of `{}`", key.arn),
                bytes(policy, key.policy_text.as_deref()),
                KEY_POLICY_BYTES,
                "bytes",
                AWS_QUOTA,
            )?;
        }
    }
    for principal in &world.principals {
        let limit = match principal.kind {
            PrincipalKind::Role => ROLE_INLINE_CHARACTERS,
            PrincipalKind::User => USER_INLINE_CHARACTERS,
        };
        let inline: usize = principal
            .inline_policies
            .iter()
            .map(|policy| characters(&policy.document, policy.document_text.as_deref()))
            .sum();
        check(
            || format!("the inline policies of `{}` together", principal.arn),
            inline,
            limit,
            "characters without whitespace",
            AWS_QUOTA,
        )?;
        let managed = principal
            .managed_policies
            .iter()
            .chain(principal.permissions_boundary.iter())
            .chain(
                principal
                    .groups
                    .iter()
                    .flat_map(|group| group.managed_policies.iter()),
            );
        for policy in managed {
            check(
                || format!("managed policy `{}`", policy.arn),
                characters(&policy.document, None),
                MANAGED_POLICY_CHARACTERS,
                "characters without whitespace",
                AWS_QUOTA,
            )?;
        }
        for group in &principal.groups {
            let inline: usize = group
                .inline_policies
                .iter()
                .map(|policy| characters(&policy.document, policy.document_text.as_deref()))
                .sum();
            check(
                || format!("the inline policies of group `{}` together", group.arn),
                inline,
                GROUP_INLINE_CHARACTERS,
                "characters without whitespace",
                AWS_QUOTA,
            )?;
        }
    }
    for account in &world.accounts {
        for policy in account.scps.iter().flatten().chain(account.rcps.iter()) {
            check(
                || {
                    format!(
                        "organization policy `{}` of account `{}`",
                        policy.name, account.id
                    )
                },
                characters(&policy.document, policy.document_text.as_deref()),
                ORGANIZATION_POLICY_CHARACTERS,
                "characters without whitespace",
                AWS_QUOTA,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;
    use crate::core::world::Bucket;

    fn bucket_with_policy(statements: usize) -> World {
        let statement = serde_json::json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        let mut world = World::new();
        world.buckets.push(Bucket {
            name: "b".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            policy: Some(
                serde_json::json!({"Version": "2012-10-17", "Statement": vec![statement; statements]}),
            ),
            policy_text: None,
            ownership: None,
            public_access_block: None,
            acl: None,
            default_encryption: None,
            objects: vec![],
            access_points: Vec::new(),
        });
        world
    }

    #[test]
    fn a_policy_text_is_what_the_limit_counts() {
        let mut world = bucket_with_policy(1);
        let compact = world.buckets[0]
            .policy
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        // The same document, padded with whitespace past 20 KB: "Bucket policies are limited to
        // 20 KB in size" (S3 User Guide, "Bucket policies and user policies",
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-iam-policies.html) is the
        // size of the text S3 stores, so the text is what is counted.
        let padded = compact.replacen('{', &format!("{{{}", " ".repeat(BUCKET_POLICY_BYTES)), 1);
        world.buckets[0].policy_text = Some(padded);
        let error = check_world(&world).expect_err("over the limit");
        assert!(error.what.contains("bucket policy of `b`"), "{error}");
        world.buckets[0].policy_text = Some(compact);
        assert_eq!(check_world(&world), Ok(()));
    }

    #[test]
    fn a_bucket_policy_over_20_kb_is_refused_naming_the_bucket() {
        assert!(check_world(&bucket_with_policy(10)).is_ok());
        let error = check_world(&bucket_with_policy(1_000)).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("the bucket policy of `b` is "), "{message}");
        assert!(message.contains("over the limit of 20480 bytes"), "{message}");
        assert_eq!(error.limit, BUCKET_POLICY_BYTES);
    }

    #[test]
    fn too_many_objects_are_refused() {
        let mut world = bucket_with_policy(1);
        let object = crate::core::world::Object {
            key: "k".into(),
            owner: None,
            acl: None,
            encryption: None,
        };
        world.buckets[0].objects = vec![object; MAX_OBJECTS_PER_BUCKET + 1];
        let message = check_world(&world).unwrap_err().to_string();
        assert!(message.contains("objects of bucket `b`"), "{message}");
    }
}
