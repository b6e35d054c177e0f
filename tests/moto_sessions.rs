//! The AWS adapter against moto: user principals with groups, organization policies, and
//! credential failures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use s3fix::adapter::aws::AwsAdapter;
use s3fix::adapter::{Adapter, AdapterError, ObserveRequest};
use serde_json::json;
use support::scenario::Scenario;
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, FaultProxy, admin_role, assume, base_config};

#[tokio::test]
async fn user_is_read_with_its_groups_and_each_policy_once() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-user").await?;
    let caller_admin = assume(&base_config(&moto.endpoint).await, &admin_role(CALLER_ACCOUNT)).await?;
    let iam = aws_sdk_iam::Client::new(&caller_admin);
    let document = |sid: &str| json!({"Version": "2012-10-17", "Statement": [{"Sid": sid, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    // moto does not report user permissions boundaries (roles' are covered in moto_adapter.rs).
    iam.create_user()
        .user_name("alice")
        .path("/people/")
        .send()
        .await?;
    iam.put_user_policy()
        .user_name("alice")
        .policy_name("own")
        .policy_document(document("Own").to_string())
        .send()
        .await?;
    iam.attach_user_policy()
        .user_name("alice")
        .policy_arn(&scenario.managed_arn)
        .send()
        .await?;
    iam.create_group().group_name("analysts").send().await?;
    iam.add_user_to_group()
        .group_name("analysts")
        .user_name("alice")
        .send()
        .await?;
    iam.put_group_policy()
        .group_name("analysts")
        .policy_name("team")
        .policy_document(document("Team").to_string())
        .send()
        .await?;
    // The same managed policy on the user and its group: read once.
    iam.attach_group_policy()
        .group_name("analysts")
        .policy_arn(&scenario.managed_arn)
        .send()
        .await?;

    let adapter = support::adapter(&moto.endpoint).await?;
    let before = adapter.call_counts();
    let user_arn = format!("arn:aws:iam::{CALLER_ACCOUNT}:user/people/alice");
    let world = adapter
        .observe(&ObserveRequest {
            bucket: scenario.bucket.clone(),
            keys: vec![],
            principal_arn: user_arn.clone(),
        })
        .await?;
    assert_eq!(world.unknown, vec![]);
    let user = world.principal(&user_arn).expect("user observed");
    assert_eq!(user.inline_policies.len(), 1);
    assert_eq!(user.inline_policies[0].document, document("Own"));
    assert_eq!(
        user.managed_policies
            .iter()
            .map(|policy| policy.arn.as_str())
            .collect::<Vec<_>>(),
        [scenario.managed_arn.as_str()]
    );
    assert_eq!(user.groups.len(), 1);
    let group = &user.groups[0];
    assert_eq!(group.arn, format!("arn:aws:iam::{CALLER_ACCOUNT}:group/analysts"));
    assert_eq!(group.inline_policies[0].document, document("Team"));
    assert_eq!(group.managed_policies[0].document, scenario.managed_policy);
    let after = adapter.call_counts();
    let calls = |name: &str| after.get(name).copied().unwrap_or(0) - before.get(name).copied().unwrap_or(0);
    assert_eq!(
        calls("IAM:GetPolicy"),
        1,
        "the shared managed policy is read once"
    );
    assert_eq!(calls("IAM:GetPolicyVersion"), 1);
    assert_eq!(calls("IAM:GetUser"), 1);
    assert_eq!(calls("IAM:ListGroupsForUser"), 1);
    Ok(())
}

#[tokio::test]
async fn organization_policies_are_read_per_level() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-org").await?;
    let bucket_admin = assume(&base_config(&moto.endpoint).await, &admin_role(BUCKET_ACCOUNT)).await?;
    let organizations = aws_sdk_organizations::Client::new(&bucket_admin);
    organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await?;
    let scp = json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoLeaving", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]});
    let policy = organizations
        .create_policy()
        .name("no-leaving")
        .description("test")
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .content(scp.to_string())
        .send()
        .await?;
    let policy_id = policy
        .policy()
        .and_then(|policy| policy.policy_summary())
        .and_then(|summary| summary.id())
        .unwrap()
        .to_string();
    organizations
        .attach_policy()
        .policy_id(&policy_id)
        .target_id(BUCKET_ACCOUNT)
        .send()
        .await?;

    let adapter = support::adapter(&moto.endpoint).await?;
    let request = ObserveRequest {
        bucket: scenario.bucket.clone(),
        keys: vec![],
        principal_arn: scenario.principal_arn.clone(),
    };
    let before = adapter.call_counts();
    let world = adapter.observe(&request).await?;
    let after = adapter.call_counts();
    let describe = |counts: &std::collections::BTreeMap<String, u64>| {
        counts.get("Organizations:DescribePolicy").copied().unwrap_or(0)
    };
    assert_eq!(
        describe(&after) - describe(&before),
        2,
        "FullAWSAccess (on two levels) and no-leaving, once each"
    );
    let account = world.account(BUCKET_ACCOUNT).expect("bucket account");
    assert_eq!(world.unknown, vec![]);
    assert_eq!(
        account.scps.len(),
        2,
        "root level and account level: {:#?}",
        account.scps
    );
    let names = |level: &[s3fix::core::world::NamedPolicy]| {
        level.iter().map(|policy| policy.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&account.scps[0]), ["FullAWSAccess"]);
    assert_eq!(names(&account.scps[1]), ["FullAWSAccess", "no-leaving"]);
    assert_eq!(account.scps[1][1].document, scp);
    assert!(account.rcps.is_empty(), "RCPFullAWSAccess is implied, not listed");
    // The caller's account is not in the organization moto holds for the bucket's account.
    assert_eq!(
        world.account(CALLER_ACCOUNT).map(|account| account.scps.len()),
        Some(0)
    );
    Ok(())
}

#[tokio::test]
async fn expired_credentials_name_the_session() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start(&moto.endpoint)?;
    proxy.inject(json!({"match": "Action=GetCallerIdentity", "status": 400, "code": "ExpiredToken", "message": "The security token included in the request is expired", "count": 1}))?;
    // One role, so one GetCallerIdentity: the one the fault hits.
    let mut options = support::options(&proxy.endpoint);
    options.caller_role = None;
    options.bucket_role = None;
    let error = AwsAdapter::connect(&options)
        .await
        .expect_err("expired credentials");
    assert!(
        matches!(&error, AdapterError::ExpiredCredentials { session } if session == "default"),
        "{error:?}"
    );
    assert!(error.to_string().contains("have expired"), "{error}");
    Ok(())
}

#[tokio::test]
async fn role_that_cannot_be_assumed_is_named() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start(&moto.endpoint)?;
    proxy.inject(json!({"match": "Action=AssumeRole", "status": 403, "code": "AccessDenied", "message": "not authorized to perform sts:AssumeRole", "count": 1}))?;
    // Only the bucket role is assumed, so the fault hits it.
    let mut options = support::options(&proxy.endpoint);
    options.caller_role = None;
    let error = AwsAdapter::connect(&options)
        .await
        .expect_err("assume role denied");
    assert!(
        matches!(&error, AdapterError::AssumeRole { role_arn, .. } if *role_arn == admin_role(BUCKET_ACCOUNT)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "cannot assume role `{}`: AccessDenied: not authorized to perform sts:AssumeRole",
            admin_role(BUCKET_ACCOUNT)
        )
    );
    let hint = s3fix::hint::Hinted::hint(&error).unwrap_or_default();
    assert!(hint.contains("`sts:AssumeRole`"), "{hint}");
    Ok(())
}

#[tokio::test]
async fn principal_without_a_session_in_its_account_is_an_error() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-no-session").await?;
    let mut options = support::options(&moto.endpoint);
    options.caller_role = None;
    let adapter = AwsAdapter::connect(&options).await?;
    let error = adapter
        .observe(&ObserveRequest {
            bucket: scenario.bucket.clone(),
            keys: vec![],
            principal_arn: scenario.principal_arn.clone(),
        })
        .await
        .expect_err("no session in the caller's account");
    assert!(
        matches!(&error, AdapterError::NoSessionForPrincipal { account, .. } if account == CALLER_ACCOUNT),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn bucket_and_key_in_another_region_are_read_there() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-home").await?;
    let bucket_admin = assume(&base_config(&moto.endpoint).await, &admin_role(BUCKET_ACCOUNT)).await?;
    let europe = bucket_admin
        .to_builder()
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    let key = aws_sdk_kms::Client::new(&europe).create_key().send().await?;
    let key_arn = key
        .key_metadata()
        .and_then(|metadata| metadata.arn())
        .unwrap()
        .to_string();
    assert!(key_arn.starts_with("arn:aws:kms:eu-west-1:"), "{key_arn}");
    let s3 = support::s3(&europe);
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption};
    s3.create_bucket()
        .bucket("s3fix-europe")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await?;
    s3.put_object()
        .bucket("s3fix-europe")
        .key("eu.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"eu"))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .send()
        .await?;

    let adapter = support::adapter(&moto.endpoint).await?;
    let world = adapter
        .observe(&ObserveRequest {
            bucket: "s3fix-europe".into(),
            keys: vec!["eu.csv".into()],
            principal_arn: scenario.principal_arn.clone(),
        })
        .await?;
    assert_eq!(world.unknown, vec![]);
    assert_eq!(
        world.bucket("s3fix-europe").map(|bucket| bucket.region.as_str()),
        Some("eu-west-1")
    );
    let key = world.key(&key_arn).expect("the key is read in its own region");
    assert_eq!(key.region, "eu-west-1");
    assert!(key.policy.is_some());
    Ok(())
}
