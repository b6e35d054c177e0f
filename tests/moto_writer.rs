//! The AWS adapter's `Writer` against moto: each writable kind written, read back and deleted;
//! reads that agree with observation (fingerprints); write errors; kinds that cannot be written.
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

use s3fix::adapter::aws::AwsAdapter;
use s3fix::adapter::{Adapter, AdapterError, ObserveRequest, Writer};
use s3fix::core::plan::{ResourceRef, fingerprint_of};
use s3fix::core::policy::canonical::fingerprint;
use s3fix::core::world::World;
use serde_json::{Value, json};
use support::scenario::Scenario;
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, FaultProxy};

fn request(scenario: &Scenario) -> ObserveRequest {
    ObserveRequest {
        bucket: scenario.bucket.clone(),
        keys: vec![scenario.object_key.clone()],
        principal_arn: scenario.principal_arn.clone(),
    }
}

/// A policy whose keys are deliberately not in alphabetical order.
fn unordered_policy(sid: &str, principal: &str, resource: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Principal": {"AWS": principal},
            "Effect": "Allow",
            "Resource": resource,
            "Action": ["s3:GetObject", "s3:ListBucket"]
        }]
    })
}

fn identity_policy(sid: &str, resource: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": sid, "Resource": resource, "Effect": "Allow", "Action": "s3:GetObject"}]
    })
}

/// The compact text of a read value: equal text means equal key order too.
fn text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(Value::to_string)
}

/// `read(resource)` fingerprints as the observed world does.
async fn assert_fingerprints_agree(
    adapter: &AwsAdapter,
    world: &World,
    resource: &ResourceRef,
) -> anyhow::Result<()> {
    let observed = fingerprint_of(world, resource)?;
    let read = match adapter.read(resource).await? {
        Some(value) => fingerprint(&value),
        None => "absent".to_string(),
    };
    assert_eq!(read, observed, "fingerprints of {}", resource.describe());
    Ok(())
}

/// The four writable resources of a scenario.
fn writable(scenario: &Scenario, inline_name: &str) -> Vec<ResourceRef> {
    vec![
        ResourceRef::InlinePolicy {
            principal: scenario.principal_arn.clone(),
            name: inline_name.to_string(),
        },
        ResourceRef::BucketPolicy {
            bucket: scenario.bucket.clone(),
        },
        ResourceRef::OwnershipControls {
            bucket: scenario.bucket.clone(),
        },
        ResourceRef::KeyPolicy {
            key: scenario.key_arn.clone(),
        },
    ]
}

#[tokio::test]
async fn role_inline_policy_round_trip() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-inline").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let resource = ResourceRef::InlinePolicy {
        principal: scenario.principal_arn.clone(),
        name: "s3fix-s3fix-w-inline".into(),
    };
    assert_eq!(adapter.read(&resource).await?, None, "not there yet");

    let first = identity_policy("S3fixRead", "arn:aws:s3:::s3fix-w-inline/*");
    adapter.write(&resource, Some(&first)).await?;
    let read = adapter.read(&resource).await?;
    assert_eq!(
        text(&read),
        Some(first.to_string()),
        "read back with its key order"
    );

    let second = identity_policy("S3fixReadAll", "*");
    adapter.write(&resource, Some(&second)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(second.to_string()));

    // The scenario's own inline policy is untouched.
    let existing = ResourceRef::InlinePolicy {
        principal: scenario.principal_arn.clone(),
        name: "use-key".into(),
    };
    assert_eq!(
        adapter.read(&existing).await?,
        Some(scenario.inline_policy.clone())
    );

    adapter.write(&resource, None).await?;
    assert_eq!(adapter.read(&resource).await?, None, "deleted");
    adapter.write(&resource, None).await?;
    assert_eq!(
        adapter.read(&resource).await?,
        None,
        "deleting an absent policy succeeds"
    );

    let counts = adapter.call_counts();
    assert_eq!(counts.get("IAM:PutRolePolicy"), Some(&2));
    assert_eq!(counts.get("IAM:DeleteRolePolicy"), Some(&2));
    assert_eq!(counts.get("IAM:GetRolePolicy"), Some(&6));
    Ok(())
}

#[tokio::test]
async fn user_inline_policy_round_trip() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let base = support::base_config(&moto.endpoint).await;
    let caller_admin = support::assume(&base, &support::admin_role(CALLER_ACCOUNT)).await?;
    let iam = aws_sdk_iam::Client::new(&caller_admin);
    let user_arn = iam
        .create_user()
        .user_name("alice")
        .path("/people/")
        .send()
        .await?
        .user()
        .map(|user| user.arn().to_string())
        .unwrap_or_default();
    assert_eq!(
        user_arn,
        format!("arn:aws:iam::{CALLER_ACCOUNT}:user/people/alice")
    );
    let adapter = support::adapter(&moto.endpoint).await?;
    let resource = ResourceRef::InlinePolicy {
        principal: user_arn,
        name: "s3fix-data".into(),
    };
    assert_eq!(adapter.read(&resource).await?, None);
    let document = identity_policy("S3fixRead", "arn:aws:s3:::data/*");
    adapter.write(&resource, Some(&document)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(document.to_string()));
    let updated = identity_policy("S3fixReadMore", "arn:aws:s3:::data/more/*");
    adapter.write(&resource, Some(&updated)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(updated.to_string()));
    adapter.write(&resource, None).await?;
    assert_eq!(adapter.read(&resource).await?, None);
    adapter.write(&resource, None).await?;
    let counts = adapter.call_counts();
    assert_eq!(counts.get("IAM:PutUserPolicy"), Some(&2));
    assert_eq!(counts.get("IAM:DeleteUserPolicy"), Some(&2));
    Ok(())
}

#[tokio::test]
async fn bucket_policy_round_trip() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-policy").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let resource = ResourceRef::BucketPolicy {
        bucket: scenario.bucket.clone(),
    };
    assert_eq!(
        adapter.read(&resource).await?,
        Some(scenario.bucket_policy.clone())
    );

    let updated = unordered_policy(
        "S3fixCrossAccount",
        &scenario.principal_arn,
        "arn:aws:s3:::s3fix-w-policy/*",
    );
    adapter.write(&resource, Some(&updated)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(updated.to_string()));

    adapter.write(&resource, None).await?;
    assert_eq!(adapter.read(&resource).await?, None, "deleted");
    adapter.write(&resource, None).await?;
    assert_eq!(
        adapter.read(&resource).await?,
        None,
        "deleting no policy succeeds"
    );

    // Create from nothing.
    adapter.write(&resource, Some(&updated)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(updated.to_string()));

    let counts = adapter.call_counts();
    assert_eq!(counts.get("S3:PutBucketPolicy"), Some(&2));
    assert_eq!(counts.get("S3:DeleteBucketPolicy"), Some(&2));
    assert_eq!(
        counts.get("S3:HeadBucket"),
        Some(&1),
        "the bucket's region is found once"
    );
    Ok(())
}

#[tokio::test]
async fn ownership_controls_round_trip() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-ownership").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let resource = ResourceRef::OwnershipControls {
        bucket: scenario.bucket.clone(),
    };
    assert_eq!(
        adapter.read(&resource).await?,
        Some(json!("BucketOwnerPreferred"))
    );
    for setting in ["BucketOwnerEnforced", "ObjectWriter", "BucketOwnerPreferred"] {
        adapter.write(&resource, Some(&json!(setting))).await?;
        assert_eq!(adapter.read(&resource).await?, Some(json!(setting)));
    }
    adapter.write(&resource, None).await?;
    assert_eq!(adapter.read(&resource).await?, None, "deleted");
    adapter.write(&resource, None).await?;
    assert_eq!(adapter.read(&resource).await?, None, "deleting none succeeds");
    adapter
        .write(&resource, Some(&json!("BucketOwnerEnforced")))
        .await?;
    assert_eq!(adapter.read(&resource).await?, Some(json!("BucketOwnerEnforced")));

    let before = adapter.call_counts();
    let error = adapter
        .write(&resource, Some(&json!("Nobody")))
        .await
        .expect_err("not a setting");
    match &error {
        AdapterError::Write {
            operation,
            resource: named,
            reason,
        } => {
            assert_eq!(operation, "PutBucketOwnershipControls");
            assert_eq!(named, &resource.describe());
            assert!(reason.contains("not an Object Ownership setting"), "{reason}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    assert_eq!(adapter.call_counts(), before, "a bad value makes no call");
    Ok(())
}

#[tokio::test]
async fn bucket_acl_grant_then_reset_round_trip() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-acl").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let world = adapter.observe(&request(&scenario)).await?;
    let resource = ResourceRef::BucketAcl {
        bucket: scenario.bucket.clone(),
    };
    assert_fingerprints_agree(&adapter, &world, &resource).await?;
    let original = adapter.read(&resource).await?.expect("a bucket has an ACL");
    assert_eq!(
        original["owner"],
        json!(BUCKET_ACCOUNT),
        "the owner is named by account"
    );

    // A grant to the log-delivery group, as an operator might have made, then the reset the
    // planner writes before BucketOwnerEnforced: the owner's FULL_CONTROL only.
    let owner_grant = json!({"grantee": {"type": "CanonicalUser", "account": BUCKET_ACCOUNT}, "permission": "FULL_CONTROL"});
    let with_group = json!({"owner": BUCKET_ACCOUNT, "grants": [owner_grant, {
        "grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "permission": "WRITE"}]});
    adapter.write(&resource, Some(&with_group)).await?;
    let read = adapter.read(&resource).await?.unwrap();
    let grants = read["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2, "{read}");
    assert!(grants.iter().any(|grant| grant["grantee"]["uri"]
        == json!("http://acs.amazonaws.com/groups/s3/LogDelivery")
        && grant["permission"] == json!("WRITE")));
    assert!(
        grants
            .iter()
            .any(|grant| grant["grantee"]["account"] == json!(BUCKET_ACCOUNT)
                && grant["permission"] == json!("FULL_CONTROL")),
        "the owner's canonical id maps back to its account: {read}"
    );

    let reset = json!({"owner": BUCKET_ACCOUNT, "grants": [owner_grant]});
    adapter.write(&resource, Some(&reset)).await?;
    let read = adapter.read(&resource).await?.unwrap();
    assert_eq!(read["grants"].as_array().map(Vec::len), Some(1), "{read}");
    assert_eq!(read["grants"][0]["permission"], json!("FULL_CONTROL"));

    // Restoring what was read (rollback) writes it back as it was.
    adapter.write(&resource, Some(&original)).await?;
    assert_eq!(
        adapter.read(&resource).await?.map(|value| fingerprint(&value)),
        Some(fingerprint(&original))
    );
    let error = adapter
        .write(&resource, None)
        .await
        .expect_err("an ACL cannot be deleted");
    assert!(matches!(error, AdapterError::NotWritable(_)), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn key_policy_round_trip_and_no_delete() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-key").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let resource = ResourceRef::KeyPolicy {
        key: scenario.key_arn.clone(),
    };
    assert_eq!(adapter.read(&resource).await?, Some(scenario.key_policy.clone()));
    let updated = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "S3fixDecrypt", "Principal": {"AWS": &scenario.principal_arn}, "Effect": "Allow", "Resource": "*", "Action": ["kms:Decrypt", "kms:GenerateDataKey"]}
    ]});
    adapter.write(&resource, Some(&updated)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(updated.to_string()));

    let before = adapter.call_counts();
    let error = adapter
        .write(&resource, None)
        .await
        .expect_err("key policies cannot be deleted");
    assert!(
        matches!(&error, AdapterError::NotWritable(what) if what.contains(&scenario.key_arn)),
        "{error:?}"
    );
    assert_eq!(adapter.call_counts(), before, "no call for a refused delete");
    assert_eq!(
        text(&adapter.read(&resource).await?),
        Some(updated.to_string()),
        "still there"
    );
    assert_eq!(adapter.call_counts().get("KMS:PutKeyPolicy"), Some(&1));
    Ok(())
}

#[tokio::test]
async fn reads_fingerprint_as_observation_does() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-fingerprint").await?;
    let adapter = support::adapter(&moto.endpoint).await?;

    // As the scenario left them (the inline policy is the scenario's own).
    let world = adapter.observe(&request(&scenario)).await?;
    assert_eq!(world.unknown, vec![]);
    for resource in writable(&scenario, "use-key") {
        assert_fingerprints_agree(&adapter, &world, &resource).await?;
        assert_ne!(
            fingerprint_of(&world, &resource)?,
            "absent",
            "{}",
            resource.describe()
        );
    }

    // After s3fix writes every kind (documents with unsorted keys).
    let resources = writable(&scenario, "s3fix-s3fix-w-fingerprint");
    let values = [
        identity_policy("S3fixRead", "arn:aws:s3:::s3fix-w-fingerprint/*"),
        unordered_policy(
            "S3fixCrossAccount",
            &scenario.principal_arn,
            "arn:aws:s3:::s3fix-w-fingerprint/*",
        ),
        json!("BucketOwnerEnforced"),
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Owner", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Effect": "Allow", "Action": "kms:*", "Resource": "*"}
        ]}),
    ];
    for (resource, value) in resources.iter().zip(&values) {
        adapter.write(resource, Some(value)).await?;
    }
    let world = adapter.observe(&request(&scenario)).await?;
    for (resource, value) in resources.iter().zip(&values) {
        assert_fingerprints_agree(&adapter, &world, resource).await?;
        assert_eq!(
            fingerprint_of(&world, resource)?,
            fingerprint(value),
            "what was written is what is observed: {}",
            resource.describe()
        );
    }

    // After deleting what can be deleted: both say absent.
    for resource in resources.iter().take(3) {
        adapter.write(resource, None).await?;
    }
    let world = adapter.observe(&request(&scenario)).await?;
    for resource in resources.iter().take(3) {
        assert_eq!(
            fingerprint_of(&world, resource)?,
            "absent",
            "{}",
            resource.describe()
        );
        assert_fingerprints_agree(&adapter, &world, resource).await?;
    }
    Ok(())
}

#[tokio::test]
async fn failed_bucket_policy_write_names_the_resource() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-fault").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    let resource = ResourceRef::BucketPolicy {
        bucket: scenario.bucket.clone(),
    };
    let updated = unordered_policy("S3fix", &scenario.principal_arn, "arn:aws:s3:::s3fix-w-fault/*");

    // A server error on every attempt: the SDK retries (3 attempts), then the write fails.
    proxy.inject(json!({"match": "PUT /s3fix-w-fault/?policy", "status": 500, "code": "InternalError", "message": "injected", "count": 3}))?;
    let error = adapter
        .write(&resource, Some(&updated))
        .await
        .expect_err("all attempts fail");
    match &error {
        AdapterError::Write {
            operation,
            resource: named,
            reason,
        } => {
            assert_eq!(operation, "PutBucketPolicy");
            assert_eq!(named, "bucket policy of `s3fix-w-fault`");
            assert!(reason.contains("InternalError"), "{reason}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    assert!(
        error.to_string().contains("bucket policy of `s3fix-w-fault`"),
        "{error}"
    );
    assert_eq!(proxy.hits()?.len(), 3, "three attempts");
    assert_eq!(
        adapter.call_counts().get("S3:PutBucketPolicy"),
        Some(&1),
        "retries are not counted"
    );
    assert_eq!(
        adapter.read(&resource).await?,
        Some(scenario.bucket_policy.clone()),
        "unchanged"
    );

    // A denial is not retried.
    proxy.inject(json!({"match": "PUT /s3fix-w-fault/?policy", "status": 403, "code": "AccessDenied", "message": "no s3:PutBucketPolicy", "count": 1}))?;
    let error = adapter
        .write(&resource, Some(&updated))
        .await
        .expect_err("denied");
    assert!(
        matches!(&error, AdapterError::Write { reason, .. } if reason == "AccessDenied: no s3:PutBucketPolicy"),
        "{error:?}"
    );
    assert_eq!(proxy.hits()?.len(), 4);

    // Once the faults are spent the same write succeeds.
    adapter.write(&resource, Some(&updated)).await?;
    assert_eq!(text(&adapter.read(&resource).await?), Some(updated.to_string()));
    Ok(())
}

#[tokio::test]
async fn failed_role_policy_write_names_the_resource() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-iam-fault").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    let resource = ResourceRef::InlinePolicy {
        principal: scenario.principal_arn.clone(),
        name: "s3fix-s3fix-w-iam-fault".into(),
    };
    proxy.inject(json!({"match": "Action=PutRolePolicy", "status": 403, "code": "AccessDenied", "message": "no iam:PutRolePolicy", "count": 1}))?;
    let error = adapter
        .write(&resource, Some(&identity_policy("S3fix", "*")))
        .await
        .expect_err("denied");
    match &error {
        AdapterError::Write {
            operation,
            resource: named,
            reason,
        } => {
            assert_eq!(operation, "PutRolePolicy");
            assert_eq!(named, &resource.describe());
            assert!(named.contains(&scenario.principal_arn), "{named}");
            assert_eq!(reason, "AccessDenied: no iam:PutRolePolicy");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    assert_eq!(proxy.hits()?.len(), 1);
    assert_eq!(adapter.read(&resource).await?, None, "nothing written");
    Ok(())
}

#[tokio::test]
async fn acl_conflict_on_enforced_ownership_explains_itself() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-acl").await?;
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    let resource = ResourceRef::OwnershipControls {
        bucket: scenario.bucket.clone(),
    };
    // moto does not check the bucket ACL; real S3 answers this way when it grants others.
    proxy.inject(json!({"match": "PUT /s3fix-w-acl/?ownershipControls", "status": 400, "code": "InvalidBucketAclWithObjectOwnership", "message": "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", "count": 1}))?;
    let error = adapter
        .write(&resource, Some(&json!("BucketOwnerEnforced")))
        .await
        .expect_err("ACL conflict");
    match &error {
        AdapterError::Write {
            operation,
            resource: named,
            reason,
        } => {
            assert_eq!(operation, "PutBucketOwnershipControls");
            assert_eq!(named, &resource.describe());
            assert!(
                reason.starts_with("InvalidBucketAclWithObjectOwnership"),
                "{reason}"
            );
            assert!(!reason.contains("hint"), "{reason}");
            let hint = s3fix::hint::Hinted::hint(&error).unwrap_or_default();
            assert!(hint.contains("--bucket s3fix-w-acl --acl private"), "{hint}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    assert_eq!(proxy.hits()?.len(), 1);
    assert_eq!(
        adapter.read(&resource).await?,
        Some(json!("BucketOwnerPreferred"))
    );
    Ok(())
}

#[tokio::test]
async fn read_only_kinds_and_foreign_accounts_are_refused() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-readonly").await?;
    let adapter = support::adapter(&moto.endpoint).await?;
    let before = adapter.call_counts();
    let read_only = [
        ResourceRef::BucketSettings {
            bucket: scenario.bucket.clone(),
        },
        ResourceRef::Principal {
            principal: scenario.principal_arn.clone(),
        },
        ResourceRef::Object {
            bucket: scenario.bucket.clone(),
            key: scenario.object_key.clone(),
        },
        ResourceRef::Account {
            account: BUCKET_ACCOUNT.into(),
        },
        ResourceRef::KeyMetadata {
            key: scenario.key_arn.clone(),
        },
    ];
    for resource in &read_only {
        let written = adapter.write(resource, Some(&json!({}))).await;
        assert!(
            matches!(&written, Err(AdapterError::NotWritable(what)) if *what == resource.describe()),
            "{written:?}"
        );
        let read = adapter.read(resource).await;
        assert!(matches!(&read, Err(AdapterError::NotWritable(_))), "{read:?}");
    }
    assert_eq!(adapter.call_counts(), before, "refusals make no call");

    // No session in the account: a clear error, no call.
    let foreign_role = ResourceRef::InlinePolicy {
        principal: "arn:aws:iam::333333333333:role/elsewhere".into(),
        name: "s3fix-x".into(),
    };
    let error = adapter.read(&foreign_role).await.expect_err("no session");
    assert!(
        matches!(&error, AdapterError::NoSessionForPrincipal { account, .. } if account == "333333333333"),
        "{error:?}"
    );
    let foreign_key = ResourceRef::KeyPolicy {
        key: "arn:aws:kms:us-east-1:333333333333:key/00000000-0000-0000-0000-000000000000".into(),
    };
    let error = adapter
        .write(
            &foreign_key,
            Some(&json!({"Version": "2012-10-17", "Statement": []})),
        )
        .await
        .expect_err("no session");
    assert!(
        matches!(&error, AdapterError::Write { operation, reason, .. } if operation == "PutKeyPolicy" && reason.contains("333333333333")),
        "{error:?}"
    );
    assert_eq!(adapter.call_counts(), before, "refusals make no call");
    Ok(())
}

#[tokio::test]
async fn buckets_outside_the_bucket_account_are_not_written() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-w-owner").await?;
    let base = support::base_config(&moto.endpoint).await;
    let caller_admin = support::assume(&base, &support::admin_role(CALLER_ACCOUNT)).await?;
    support::s3(&caller_admin)
        .create_bucket()
        .bucket("s3fix-w-callers-own")
        .send()
        .await?;
    // moto ignores ExpectedBucketOwner; real S3 answers HeadBucket with a bare 403 when the
    // bucket belongs to another account.
    let proxy = FaultProxy::start(&moto.endpoint)?;
    proxy.inject(json!({"match": "HEAD /s3fix-w-callers-own", "status": 403, "code": "AccessDenied", "message": "Access Denied", "count": 1}))?;
    let adapter = support::adapter(&proxy.endpoint).await?;
    let document = unordered_policy(
        "S3fix",
        &scenario.principal_arn,
        "arn:aws:s3:::s3fix-w-callers-own/*",
    );

    let missing = ResourceRef::BucketPolicy {
        bucket: "s3fix-w-nowhere".into(),
    };
    let error = adapter
        .write(&missing, Some(&document))
        .await
        .expect_err("no bucket");
    assert!(
        matches!(&error, AdapterError::NoSuchBucket { bucket } if bucket == "s3fix-w-nowhere"),
        "{error:?}"
    );

    let foreign = ResourceRef::BucketPolicy {
        bucket: "s3fix-w-callers-own".into(),
    };
    let error = adapter
        .write(&foreign, Some(&document))
        .await
        .expect_err("another account's bucket");
    assert!(
        matches!(&error, AdapterError::BucketNotConfirmed { bucket, account, .. } if bucket == "s3fix-w-callers-own" && account == BUCKET_ACCOUNT),
        "{error:?}"
    );
    assert_eq!(
        adapter.call_counts().get("S3:PutBucketPolicy"),
        None,
        "nothing written"
    );
    Ok(())
}
