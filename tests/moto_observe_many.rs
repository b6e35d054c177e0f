//! `observe_many` against moto: many requests over shared buckets, objects, keys and principals
//! read each item once, and the world equals merging the individual observations.
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

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ObjectOwnership as SdkOwnership, OwnershipControls, OwnershipControlsRule, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use s3fix::adapter::{Adapter, AdapterError, ObserveRequest};
use s3fix::core::world::{ObjectOwnership, World};
use serde_json::json;
use std::collections::BTreeMap;
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, assume, base_config, s3};

const BUCKETS: [&str; 3] = ["s3fix-many-0", "s3fix-many-1", "s3fix-many-2"];
const KEYS: [&str; 2] = ["data/a.csv", "data/b.csv"];

/// What the fixture created.
struct Fixture {
    principals: Vec<String>,
    key_arns: Vec<String>,
}

fn trust_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}).to_string()
}

/// Three buckets with two SSE-KMS objects each (two keys shared by all), bucket 0 with a KMS
/// default, bucket 2 with ACLs disabled; two roles sharing a managed policy.
async fn fixture(endpoint: &str) -> anyhow::Result<Fixture> {
    let base = base_config(endpoint).await;
    let bucket_admin = assume(&base, &support::admin_role(BUCKET_ACCOUNT)).await?;
    let caller_admin = assume(&base, &support::admin_role(CALLER_ACCOUNT)).await?;
    let iam_a = aws_sdk_iam::Client::new(&bucket_admin);
    let iam_b = aws_sdk_iam::Client::new(&caller_admin);
    for iam in [&iam_a, &iam_b] {
        iam.create_role()
            .role_name("s3fix-admin")
            .assume_role_policy_document(trust_policy())
            .send()
            .await?;
    }
    let managed = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::s3fix-many-*/*"}]});
    let managed_arn = iam_b
        .create_policy()
        .policy_name("s3fix-many-read")
        .policy_document(managed.to_string())
        .send()
        .await?
        .policy()
        .and_then(|policy| policy.arn())
        .unwrap_or_default()
        .to_string();
    let mut principals = Vec::new();
    for index in 0..2 {
        let name = format!("reader-{index}");
        let role = iam_b
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust_policy())
            .send()
            .await?;
        principals.push(role.role().map(|role| role.arn().to_string()).unwrap_or_default());
        iam_b
            .put_role_policy()
            .role_name(&name)
            .policy_name("use-keys")
            .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}).to_string())
            .send()
            .await?;
        iam_b
            .attach_role_policy()
            .role_name(&name)
            .policy_arn(&managed_arn)
            .send()
            .await?;
    }

    let kms = aws_sdk_kms::Client::new(&bucket_admin);
    let mut key_arns = Vec::new();
    for index in 0..2 {
        let key = kms
            .create_key()
            .policy(json!({"Version": "2012-10-17", "Statement": [{"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"}]}).to_string())
            .description(format!("s3fix many key {index}"))
            .send()
            .await?;
        key_arns.push(
            key.key_metadata()
                .and_then(|metadata| metadata.arn())
                .unwrap_or_default()
                .to_string(),
        );
    }

    let s3 = s3(&bucket_admin);
    for (index, bucket) in BUCKETS.iter().enumerate() {
        s3.create_bucket().bucket(*bucket).send().await?;
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": &principals}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
        s3.put_bucket_policy()
            .bucket(*bucket)
            .policy(policy.to_string())
            .send()
            .await?;
        if index == 0 {
            s3.put_bucket_encryption()
                .bucket(*bucket)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(
                                    ServerSideEncryptionByDefault::builder()
                                        .sse_algorithm(ServerSideEncryption::AwsKms)
                                        .kms_master_key_id(&key_arns[0])
                                        .build()?,
                                )
                                .build(),
                        )
                        .build()?,
                )
                .send()
                .await?;
        }
        if index == 2 {
            s3.put_bucket_ownership_controls()
                .bucket(*bucket)
                .ownership_controls(
                    OwnershipControls::builder()
                        .rules(
                            OwnershipControlsRule::builder()
                                .object_ownership(SdkOwnership::BucketOwnerEnforced)
                                .build()?,
                        )
                        .build()?,
                )
                .send()
                .await?;
        }
        for (key, key_arn) in KEYS.iter().zip(&key_arns) {
            s3.put_object()
                .bucket(*bucket)
                .key(*key)
                .body(ByteStream::from_static(b"x"))
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_arn)
                .send()
                .await?;
        }
    }
    Ok(Fixture { principals, key_arns })
}

/// Every bucket × principal, each naming both objects.
fn requests(fixture: &Fixture) -> Vec<ObserveRequest> {
    let mut requests = Vec::new();
    for bucket in BUCKETS {
        for principal in &fixture.principals {
            requests.push(ObserveRequest {
                bucket: bucket.to_string(),
                keys: KEYS.iter().map(|key| key.to_string()).collect(),
                principal_arn: principal.clone(),
            });
        }
    }
    requests
}

/// The world in a canonical order, to compare as sets.
fn sorted(mut world: World) -> World {
    world.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    world.buckets.sort_by(|a, b| a.name.cmp(&b.name));
    for bucket in &mut world.buckets {
        bucket.objects.sort_by(|a, b| a.key.cmp(&b.key));
    }
    world.principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    world.keys.sort_by(|a, b| a.arn.cmp(&b.arn));
    world
        .unknown
        .sort_by(|a, b| (a.item, &a.resource, &a.reason).cmp(&(b.item, &b.resource, &b.reason)));
    world
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
async fn observe_many_equals_the_merged_observations() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint).await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let requests = requests(&fixture);
    let mut merged = World::new();
    for request in &requests {
        merged.merge(adapter.observe(request).await?);
    }
    let many = adapter.observe_many(&requests).await?;
    assert_eq!(many.unknown, vec![], "nothing should be unknown");
    assert_eq!(many.buckets.len(), 3);
    assert!(many.buckets.iter().all(|bucket| bucket.objects.len() == 2));
    assert_eq!(many.principals.len(), 2);
    assert_eq!(many.keys.len(), 2);
    assert_eq!(many.accounts.len(), 2);
    let enforced = many.bucket(BUCKETS[2]).expect("bucket 2");
    assert_eq!(enforced.ownership, Some(ObjectOwnership::BucketOwnerEnforced));
    assert!(enforced.objects.iter().all(|object| object.acl.is_none()));
    let legacy = many.bucket(BUCKETS[1]).expect("bucket 1");
    assert!(legacy.objects.iter().all(|object| object.acl.is_some()));
    assert_eq!(sorted(many), sorted(merged));

    // Requests in another order, repeated, and a role named by one of its sessions: the same
    // world.
    let mut shuffled: Vec<ObserveRequest> = requests.iter().rev().cloned().collect();
    shuffled.extend(requests.iter().cloned());
    shuffled.push(ObserveRequest {
        bucket: BUCKETS[0].into(),
        keys: vec![KEYS[1].into()],
        principal_arn: format!("arn:aws:sts::{CALLER_ACCOUNT}:assumed-role/reader-0/s3fix-someone"),
    });
    let again = adapter.observe_many(&shuffled).await?;
    let first = adapter.observe_many(&requests).await?;
    assert_eq!(sorted(again), sorted(first));
    Ok(())
}

#[tokio::test]
async fn observe_many_reads_each_item_once() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint).await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let mut requests = requests(&fixture);
    // Name everything again, partly through a session ARN: still one read per item.
    requests.extend(requests.clone());
    for bucket in BUCKETS {
        requests.push(ObserveRequest {
            bucket: bucket.into(),
            keys: vec![KEYS[0].into()],
            principal_arn: format!("arn:aws:sts::{CALLER_ACCOUNT}:assumed-role/reader-1/s3fix-drift"),
        });
    }
    let before = adapter.call_counts();
    let world = adapter.observe_many(&requests).await?;
    let calls = delta(&before, &adapter.call_counts());
    assert_eq!(world.keys.len(), fixture.key_arns.len());
    let expected: BTreeMap<String, u64> = [
        // Each bucket once, whichever requests name it.
        ("S3:HeadBucket", 3),
        ("S3:GetBucketPolicy", 3),
        ("S3:GetBucketOwnershipControls", 3),
        ("S3:GetPublicAccessBlock", 3),
        ("S3:GetBucketAcl", 3),
        ("S3:GetBucketEncryption", 3),
        // The bucket account's Block Public Access once.
        ("S3 Control:GetPublicAccessBlock", 1),
        // Each object once; ACLs only where they are in effect (not bucket 2).
        ("S3:HeadObject", 6),
        ("S3:GetObjectAcl", 4),
        // Each KMS key once, though six objects and a bucket default name them.
        ("KMS:DescribeKey", 2),
        ("KMS:GetKeyPolicy", 2),
        ("KMS:ListAliases", 2),
        // Each principal once (a session is its role): one inline, one managed policy each.
        ("IAM:GetRole", 2),
        ("IAM:ListRolePolicies", 2),
        ("IAM:GetRolePolicy", 2),
        ("IAM:ListAttachedRolePolicies", 2),
        ("IAM:GetPolicy", 2),
        ("IAM:GetPolicyVersion", 2),
        // Each account's organization once.
        ("Organizations:DescribeOrganization", 2),
    ]
    .into_iter()
    .map(|(name, count)| (name.to_string(), count))
    .collect();
    assert_eq!(calls, expected);

    // The same requests observed one by one read every shared item again.
    let before = adapter.call_counts();
    for request in &requests {
        adapter.observe(request).await?;
    }
    let separate = delta(&before, &adapter.call_counts());
    assert_eq!(separate.get("S3:GetBucketPolicy"), Some(&(requests.len() as u64)));
    assert_eq!(separate.get("IAM:GetRole"), Some(&(requests.len() as u64)));
    Ok(())
}

#[tokio::test]
async fn observe_many_reports_missing_items_by_name() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint).await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let good = requests(&fixture);

    let mut with_missing_bucket = good.clone();
    with_missing_bucket.insert(
        1,
        ObserveRequest {
            bucket: "s3fix-many-absent".into(),
            keys: vec![],
            principal_arn: fixture.principals[0].clone(),
        },
    );
    let error = adapter
        .observe_many(&with_missing_bucket)
        .await
        .expect_err("a missing bucket is an error");
    assert!(
        matches!(&error, AdapterError::NoSuchBucket { bucket } if bucket == "s3fix-many-absent"),
        "{error:?}"
    );

    // A missing principal is named as the request named it (here: a session ARN).
    let nobody = format!("arn:aws:sts::{CALLER_ACCOUNT}:assumed-role/nobody/s3fix-drift");
    let mut with_missing_principal = good.clone();
    with_missing_principal.push(ObserveRequest {
        bucket: BUCKETS[1].into(),
        keys: vec![],
        principal_arn: nobody.clone(),
    });
    let error = adapter
        .observe_many(&with_missing_principal)
        .await
        .expect_err("a missing principal is an error");
    assert!(
        matches!(&error, AdapterError::NoSuchPrincipal { arn } if *arn == nobody),
        "{error:?}"
    );

    let mut with_missing_object = good.clone();
    with_missing_object[3].keys.push("data/absent.csv".into());
    let error = adapter
        .observe_many(&with_missing_object)
        .await
        .expect_err("a missing object is an error");
    assert!(
        matches!(&error, AdapterError::NoSuchKey { bucket, key } if bucket == &good[3].bucket && key == "data/absent.csv"),
        "{error:?}"
    );

    // Several failures: the first failing request's error, as observing them in order would.
    let mut several = with_missing_object.clone();
    several.push(with_missing_bucket[1].clone());
    let error = adapter.observe_many(&several).await.expect_err("fails");
    assert!(matches!(&error, AdapterError::NoSuchKey { .. }), "{error:?}");

    let invalid = vec![ObserveRequest {
        bucket: BUCKETS[0].into(),
        keys: vec![],
        principal_arn: "reader".into(),
    }];
    let error = adapter.observe_many(&invalid).await.expect_err("invalid ARN");
    assert!(
        matches!(&error, AdapterError::InvalidPrincipalArn { .. }),
        "{error:?}"
    );

    assert_eq!(adapter.observe_many(&[]).await?, World::new());
    Ok(())
}
