//! The AWS adapter against moto: two accounts, every gate read back, errors, faults, counts.
//!
//! Needs moto: `eval "$(scripts/moto.sh)"` (S3FIX_TEST_ENDPOINT, default http://127.0.0.1:5055).
//! Outside CI the tests skip with a message when moto is not running; under CI=true they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use s3fix::adapter::snapshot::SnapshotAdapter;
use s3fix::adapter::{Adapter, AdapterError, ObserveRequest};
use s3fix::core::world::{
    Encryption, ItemKind, KeyManager, ObjectOwnership, PrincipalKind, PublicAccessBlock,
};
use serde_json::json;
use std::collections::BTreeMap;
use support::scenario::Scenario;
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, FaultProxy};

fn request(scenario: &Scenario) -> ObserveRequest {
    ObserveRequest {
        bucket: scenario.bucket.clone(),
        keys: vec![scenario.object_key.clone()],
        principal_arn: scenario.principal_arn.clone(),
    }
}

/// Calls made between two count snapshots.
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(name, count)| (name.clone(), count - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, count)| *count > 0)
        .collect()
}

#[tokio::test]
async fn observe_reads_every_gate_in_two_accounts() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-every-gate").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let world = adapter.observe(&request(&scenario)).await?;
    assert_eq!(world.unknown, vec![], "nothing should be unknown");
    let bucket = world.bucket("s3fix-every-gate").expect("bucket observed");
    assert_eq!(bucket.account, BUCKET_ACCOUNT);
    assert_eq!(bucket.region, "us-east-1");
    assert_eq!(bucket.policy.as_ref(), Some(&scenario.bucket_policy));
    assert_eq!(bucket.ownership, Some(ObjectOwnership::BucketOwnerPreferred));
    assert_eq!(
        bucket.public_access_block,
        Some(PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: false,
            restrict_public_buckets: false
        })
    );
    let default_encryption = Encryption {
        algorithm: "aws:kms".into(),
        kms_key_id: Some(scenario.key_arn.clone()),
        bucket_key_enabled: true,
    };
    assert_eq!(bucket.default_encryption.as_ref(), Some(&default_encryption));
    let acl = bucket.acl.as_ref().expect("bucket ACL read");
    assert_eq!(
        acl.owner, BUCKET_ACCOUNT,
        "the bucket owner's canonical id maps to its account"
    );
    assert!(acl.grants.iter().any(|grant| grant.permission == "FULL_CONTROL"));

    let object = bucket.objects.first().expect("object observed");
    assert_eq!(object.key, scenario.object_key);
    assert_eq!(
        object
            .encryption
            .as_ref()
            .map(|encryption| encryption.algorithm.as_str()),
        Some("aws:kms")
    );
    assert_eq!(
        object
            .encryption
            .as_ref()
            .and_then(|encryption| encryption.kms_key_id.as_deref()),
        Some(scenario.key_arn.as_str())
    );
    assert!(
        object.acl.is_some(),
        "ACLs are in effect under BucketOwnerPreferred"
    );
    assert_eq!(object.owner.as_deref(), Some(BUCKET_ACCOUNT));

    let account = world.account(BUCKET_ACCOUNT).expect("bucket account observed");
    assert_eq!(
        account.public_access_block,
        Some(PublicAccessBlock {
            block_public_acls: true,
            block_public_policy: true,
            ..PublicAccessBlock::default()
        })
    );
    assert!(
        account.scps.is_empty() && account.rcps.is_empty(),
        "not in an organization"
    );
    assert!(world.account(CALLER_ACCOUNT).is_some());

    let key = world.key(&scenario.key_arn).expect("key observed");
    assert_eq!(key.account, BUCKET_ACCOUNT);
    assert_eq!(key.manager, KeyManager::Customer);
    assert_eq!(key.policy.as_ref(), Some(&scenario.key_policy));
    assert_eq!(key.aliases, vec!["alias/s3fix-reports".to_string()]);

    let principal = world
        .principal(&scenario.principal_arn)
        .expect("principal observed");
    assert_eq!(
        principal.arn,
        format!("arn:aws:iam::{CALLER_ACCOUNT}:role/team/reader")
    );
    assert_eq!(principal.kind, PrincipalKind::Role);
    assert!(principal.unique_id.is_some());
    assert_eq!(principal.inline_policies.len(), 1);
    assert_eq!(principal.inline_policies[0].name, "use-key");
    assert_eq!(
        principal.inline_policies[0].document, scenario.inline_policy,
        "documents are URL-decoded"
    );
    assert_eq!(principal.managed_policies.len(), 1);
    assert_eq!(principal.managed_policies[0].arn, scenario.managed_arn);
    assert_eq!(principal.managed_policies[0].version_id.as_deref(), Some("v1"));
    assert_eq!(principal.managed_policies[0].document, scenario.managed_policy);
    let boundary = principal.permissions_boundary.as_ref().expect("boundary read");
    assert_eq!(boundary.arn, scenario.boundary_arn);
    assert_eq!(boundary.document, scenario.boundary_policy);
    assert_eq!(principal.tags.get("team").map(String::as_str), Some("data"));
    Ok(())
}

#[tokio::test]
async fn one_observe_reads_no_item_twice() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-call-counts").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let connected = adapter.call_counts();
    assert_eq!(connected.get("STS:AssumeRole"), Some(&2), "{connected:#?}");
    assert_eq!(connected.get("STS:GetCallerIdentity"), Some(&2), "{connected:#?}");
    adapter.observe(&request(&scenario)).await?;
    let calls = delta(&connected, &adapter.call_counts());
    let expected: BTreeMap<String, u64> = [
        // The bucket, each setting once.
        ("S3:HeadBucket", 1),
        ("S3:GetBucketPolicy", 1),
        ("S3:GetBucketOwnershipControls", 1),
        ("S3:GetPublicAccessBlock", 1),
        ("S3:GetBucketAcl", 1),
        ("S3:GetBucketEncryption", 1),
        ("S3 Control:GetPublicAccessBlock", 1),
        // One object: its encryption and (ACLs in effect) its ACL.
        ("S3:HeadObject", 1),
        ("S3:GetObjectAcl", 1),
        // One key, named by both the object and the bucket default.
        ("KMS:DescribeKey", 1),
        ("KMS:GetKeyPolicy", 1),
        ("KMS:ListAliases", 1),
        // The role: one inline policy, two managed policies (attached + boundary).
        ("IAM:GetRole", 1),
        ("IAM:ListRolePolicies", 1),
        ("IAM:GetRolePolicy", 1),
        ("IAM:ListAttachedRolePolicies", 1),
        ("IAM:GetPolicy", 2),
        ("IAM:GetPolicyVersion", 2),
        // One organization check per account (moto: not in an organization).
        ("Organizations:DescribeOrganization", 2),
    ]
    .into_iter()
    .map(|(name, count)| (name.to_string(), count))
    .collect();
    assert_eq!(calls, expected);
    Ok(())
}

#[tokio::test]
async fn session_arn_is_read_as_its_role() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-session-arn").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let session_arn = format!("arn:aws:sts::{CALLER_ACCOUNT}:assumed-role/reader/s3fix-someone");
    let world = adapter
        .observe(&ObserveRequest {
            bucket: scenario.bucket.clone(),
            keys: vec![],
            principal_arn: session_arn,
        })
        .await?;
    assert_eq!(world.principals.len(), 1);
    assert_eq!(world.principals[0].arn, scenario.principal_arn);
    Ok(())
}

#[tokio::test]
async fn missing_bucket_is_an_error_naming_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-present").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let error = adapter
        .observe(&ObserveRequest {
            bucket: "s3fix-absent".into(),
            keys: vec![],
            principal_arn: scenario.principal_arn.clone(),
        })
        .await
        .expect_err("a missing bucket is an error");
    assert!(
        matches!(&error, AdapterError::NoSuchBucket { bucket } if bucket == "s3fix-absent"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "bucket `s3fix-absent` does not exist");
    assert_eq!(
        s3fix::hint::Hinted::hint(&error).as_deref(),
        Some("check the bucket name and --region")
    );
    Ok(())
}

#[tokio::test]
async fn missing_principal_is_an_error_naming_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-no-principal").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let nobody = format!("arn:aws:iam::{CALLER_ACCOUNT}:role/nobody");
    let error = adapter
        .observe(&ObserveRequest {
            bucket: scenario.bucket.clone(),
            keys: vec![],
            principal_arn: nobody.clone(),
        })
        .await
        .expect_err("a missing principal is an error");
    assert!(
        matches!(&error, AdapterError::NoSuchPrincipal { arn } if *arn == nobody),
        "{error:?}"
    );
    assert!(error.to_string().contains(&format!("`{nobody}`")));
    Ok(())
}

#[tokio::test]
async fn missing_object_is_an_error_naming_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-no-object").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let error = adapter
        .observe(&ObserveRequest {
            bucket: scenario.bucket.clone(),
            keys: vec!["absent.csv".into()],
            principal_arn: scenario.principal_arn.clone(),
        })
        .await
        .expect_err("a missing object is an error");
    assert!(
        matches!(&error, AdapterError::NoSuchKey { key, .. } if key == "absent.csv"),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn denied_read_becomes_an_unknown_item() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-denied").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    proxy.inject(json!({"match": "GET /s3fix-denied/?policy", "status": 403, "code": "AccessDenied", "message": "no s3:GetBucketPolicy", "count": 1}))?;
    proxy.inject(json!({"match": "Action=GetPolicyVersion", "status": 403, "code": "AccessDenied", "message": "no iam:GetPolicyVersion", "count": 1}))?;
    let world = adapter.observe(&request(&scenario)).await?;
    let bucket = world.bucket(&scenario.bucket).expect("bucket observed");
    assert_eq!(
        bucket.policy, None,
        "a denied policy is not read as absent-and-allowed: it is unknown"
    );
    assert_eq!(
        world.unknown_reason(ItemKind::BucketPolicy, &scenario.bucket),
        Some("AccessDenied: no s3:GetBucketPolicy")
    );
    // One of the two managed policies (attached or boundary) could not be read.
    let principal_unknown: Vec<_> = world
        .unknown
        .iter()
        .filter(|unknown| unknown.resource == scenario.principal_arn)
        .collect();
    assert_eq!(principal_unknown.len(), 1, "{:#?}", world.unknown);
    assert_eq!(
        principal_unknown[0].reason,
        "AccessDenied: no iam:GetPolicyVersion"
    );
    // Everything else was still read.
    assert_eq!(bucket.ownership, Some(ObjectOwnership::BucketOwnerPreferred));
    assert_eq!(proxy.hits()?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn unimplemented_read_becomes_an_unknown_item() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-unimplemented").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    // Three 500s: every attempt of the standard retry fails.
    proxy.inject(json!({"match": "GET /s3fix-unimplemented/?ownershipControls", "status": 500, "code": "InternalError", "message": "not implemented", "count": 3}))?;
    let world = adapter.observe(&request(&scenario)).await?;
    let bucket = world.bucket(&scenario.bucket).expect("bucket observed");
    assert_eq!(bucket.ownership, None);
    assert_eq!(
        world.unknown_reason(ItemKind::OwnershipControls, &scenario.bucket),
        Some("InternalError: not implemented")
    );
    assert!(
        bucket.objects[0].acl.is_some(),
        "unknown ownership: object ACLs are read in case they apply"
    );
    Ok(())
}

#[tokio::test]
async fn throttled_reads_are_retried() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-throttled").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    proxy.inject(json!({"match": "GET /s3fix-throttled/?ownershipControls", "status": 503, "code": "SlowDown", "message": "slow down", "count": 2}))?;
    proxy.inject(json!({"match": "Action=ListAttachedRolePolicies", "status": 400, "code": "Throttling", "message": "rate exceeded", "count": 2}))?;
    let before = adapter.call_counts();
    let world = adapter.observe(&request(&scenario)).await?;
    assert_eq!(world.unknown, vec![]);
    assert_eq!(
        world.bucket(&scenario.bucket).and_then(|bucket| bucket.ownership),
        Some(ObjectOwnership::BucketOwnerPreferred)
    );
    assert_eq!(world.principals[0].arn, scenario.principal_arn);
    assert_eq!(proxy.hits()?.len(), 4, "both faults were served twice");
    let calls = delta(&before, &adapter.call_counts());
    assert_eq!(
        calls.get("S3:GetBucketOwnershipControls"),
        Some(&1),
        "retries are not separate calls"
    );
    Ok(())
}

#[tokio::test]
async fn snapshot_file_reads_back_as_the_same_world() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-round-trip").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let world = adapter.observe(&request(&scenario)).await?;
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("world.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&world)?)?;
    let snapshot = SnapshotAdapter::load(&path)?;
    assert_eq!(snapshot.observe(&request(&scenario)).await?, world);
    Ok(())
}

#[tokio::test]
async fn denied_principal_read_leaves_its_policies_unknown() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-denied-role").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    // Matches GetRole (and GetRolePolicy, should it come first).
    proxy.inject(json!({"match": "Action=GetRole", "status": 403, "code": "AccessDenied", "message": "no iam:GetRole", "count": 2}))?;
    let session_arn = format!("arn:aws:sts::{CALLER_ACCOUNT}:assumed-role/reader/s3fix-someone");
    let world = adapter
        .observe(&ObserveRequest {
            bucket: scenario.bucket.clone(),
            keys: vec![],
            principal_arn: session_arn,
        })
        .await?;
    // Without GetRole the path is unknown: the principal is named by its path-less role ARN.
    let role_arn = format!("arn:aws:iam::{CALLER_ACCOUNT}:role/reader");
    let principal = world.principal(&role_arn).expect("principal named by its role");
    assert!(principal.inline_policies.is_empty() && principal.managed_policies.is_empty());
    assert_eq!(
        world.unknown_reason(ItemKind::IdentityPolicies, &role_arn),
        Some("AccessDenied: no iam:GetRole")
    );
    assert_eq!(
        world.unknown_reason(ItemKind::PermissionsBoundary, &role_arn),
        Some("AccessDenied: no iam:GetRole")
    );
    Ok(())
}

/// The bucket's objects are listed (ListObjectsV2, in key order) up to a bound; beyond it the
/// listing says it is truncated, so the planner treats the remaining owners as unknown.
#[tokio::test]
async fn listing_a_bucket_stops_at_the_bound_and_says_so() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-list-bound").await?;
    let base = support::base_config(&moto.endpoint).await;
    let bucket_admin = support::assume(&base, &support::admin_role(support::BUCKET_ACCOUNT)).await?;
    let s3 = support::s3(&bucket_admin);
    for key in ["data/1.csv", "data/2.csv", "shared/vendor.csv"] {
        s3.put_object()
            .bucket(&scenario.bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await?;
    }
    let adapter = support::adapter(&moto.endpoint).await?;
    let all = adapter.list_keys(&scenario.bucket, 10_000).await?;
    assert!(!all.truncated);
    for key in [
        "data/1.csv",
        "data/2.csv",
        "shared/vendor.csv",
        scenario.object_key.as_str(),
    ] {
        assert!(
            all.keys.iter().any(|listed| listed == key),
            "{key} in {:?}",
            all.keys
        );
    }
    let mut sorted = all.keys.clone();
    sorted.sort();
    assert_eq!(sorted, all.keys, "in key order");
    let bounded = adapter.list_keys(&scenario.bucket, 2).await?;
    assert_eq!(bounded.keys, all.keys[..2].to_vec());
    assert!(bounded.truncated, "more objects than the bound");
    let exact = adapter.list_keys(&scenario.bucket, all.keys.len()).await?;
    assert!(!exact.truncated, "exactly the bound is not truncated");
    Ok(())
}

/// Many objects are read with a bounded number of reads in flight
/// (`OBJECT_READ_CONCURRENCY`), each exactly once, and each answer lands on its own key.
#[tokio::test]
async fn many_objects_are_each_read_once_and_kept_in_order() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-many-objects").await?;
    let base = support::base_config(&moto.endpoint).await;
    let bucket_admin = support::assume(&base, &support::admin_role(support::BUCKET_ACCOUNT)).await?;
    let s3 = support::s3(&bucket_admin);
    let count = 3 * s3fix::adapter::aws::OBJECT_READ_CONCURRENCY + 5;
    for index in 0..count {
        s3.put_object()
            .bucket(&scenario.bucket)
            .key(format!("many/{index:03}.csv"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await?;
    }
    let adapter = support::adapter(&moto.endpoint).await?;
    let listed = adapter.list_keys(&scenario.bucket, 10_000).await?;
    assert!(listed.keys.len() > count, "{} keys", listed.keys.len());
    let before = adapter.call_counts();
    let world = adapter
        .observe(&ObserveRequest {
            keys: listed.keys.clone(),
            ..request(&scenario)
        })
        .await?;
    let calls = delta(&before, &adapter.call_counts());
    let reads = u64::try_from(listed.keys.len())?;
    assert_eq!(calls.get("S3:HeadObject"), Some(&reads), "{calls:#?}");
    assert!(
        matches!(calls.get("S3:GetObjectAcl"), None | Some(&0))
            || calls.get("S3:GetObjectAcl") == Some(&reads),
        "{calls:#?}"
    );
    let bucket = world.bucket(&scenario.bucket).expect("bucket");
    let keys: Vec<&str> = bucket.objects.iter().map(|object| object.key.as_str()).collect();
    assert_eq!(keys, listed.keys.iter().map(String::as_str).collect::<Vec<_>>());
    // Every object's encryption was read (the bucket default applies to the new ones).
    assert!(
        bucket.objects.iter().all(|object| object.encryption.is_some()),
        "{:#?}",
        bucket.objects
    );
    Ok(())
}
