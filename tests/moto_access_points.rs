//! S3 Control access point reads against moto (moto 5.2.5 implements CreateAccessPoint,
//! GetAccessPoint, Put/Get/DeleteAccessPointPolicy and GetAccessPointPolicyStatus; its policy
//! status answers `IsPublic: true` whatever the policy, so s3fix computes publicity itself), and
//! `s3fix explain s3://ACCESS_POINT_ARN/KEY` through the SDK.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use s3fix::core::world::{ItemKind, NetworkOrigin};
use serde_json::json;
use std::process::Command;
use support::scenario::{Scenario, s3control};
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, FaultProxy, admin_role, assume, base_config};

#[tokio::test]
async fn access_point_reads_and_explain_through_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-access-points").await?;
    // moto names the XML root of its access point answers `…Response`; AWS and the SDK use
    // `…Result`. The proxy renames it and changes nothing else.
    let proxy = FaultProxy::start_script(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/s3control_result_proxy.py"
        ),
        &moto.endpoint,
    )?;
    let endpoint = proxy.endpoint.clone();
    let base = base_config(&endpoint).await;
    let bucket_admin = assume(&base, &admin_role(BUCKET_ACCOUNT)).await?;
    let control = s3control(&bucket_admin);
    control
        .create_access_point()
        .account_id(BUCKET_ACCOUNT)
        .name("lake-vpc")
        .bucket(&scenario.bucket)
        .vpc_configuration(
            aws_sdk_s3control::types::VpcConfiguration::builder()
                .vpc_id("vpc-0a1b2c3d")
                .build()?,
        )
        .send()
        .await?;
    control
        .create_access_point()
        .account_id(BUCKET_ACCOUNT)
        .name("lake-open")
        .bucket(&scenario.bucket)
        .send()
        .await?;
    let vpc_arn = format!("arn:aws:s3:us-east-1:{BUCKET_ACCOUNT}:accesspoint/lake-vpc");
    let open_arn = format!("arn:aws:s3:us-east-1:{BUCKET_ACCOUNT}:accesspoint/lake-open");
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "CallerReads", "Effect": "Allow",
        "Principal": {"AWS": scenario.principal_arn}, "Action": "s3:GetObject",
        "Resource": format!("{vpc_arn}/object/*")}]});
    control
        .put_access_point_policy()
        .account_id(BUCKET_ACCOUNT)
        .name("lake-vpc")
        .policy(policy.to_string())
        .send()
        .await?;

    let adapter = support::adapter(&endpoint).await?;
    let read = adapter.read_access_point(&vpc_arn).await?;
    assert_eq!(read.bucket, scenario.bucket);
    assert_eq!(read.point.arn, vpc_arn);
    assert_eq!(read.point.account, BUCKET_ACCOUNT);
    assert_eq!(read.point.network_origin, NetworkOrigin::Vpc);
    assert_eq!(read.point.vpc_id.as_deref(), Some("vpc-0a1b2c3d"));
    assert_eq!(read.point.policy.as_ref(), Some(&policy));
    assert!(
        read.point
            .public_access_block
            .is_some_and(|block| block.restrict_public_buckets)
    );
    assert!(
        read.point
            .alias
            .as_deref()
            .is_some_and(|alias| alias.ends_with("-s3alias"))
    );
    assert!(read.unknown.is_empty(), "{:?}", read.unknown);

    // No policy: absent, not unknown.
    let open = adapter.read_access_point(&open_arn).await?;
    assert_eq!(open.point.network_origin, NetworkOrigin::Internet);
    assert_eq!(open.point.policy, None);
    assert!(
        !open
            .unknown
            .iter()
            .any(|item| item.item == ItemKind::AccessPointPolicy)
    );

    // A missing access point is an error naming it; so is an account without a session.
    let missing = adapter
        .read_access_point(&format!("arn:aws:s3:us-east-1:{BUCKET_ACCOUNT}:accesspoint/nope"))
        .await;
    assert!(missing.is_err_and(|error| error.to_string().contains("accesspoint/nope")));
    let elsewhere = adapter
        .read_access_point("arn:aws:s3:us-east-1:999999999999:accesspoint/x")
        .await;
    assert!(elsewhere.is_err_and(|error| error.to_string().contains("no session in account 999999999999")));

    // explain through the VPC-only access point from outside its VPC, live.
    let output = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args([
            "explain",
            &format!("s3://{vpc_arn}/{}", scenario.object_key),
            "--principal",
            &scenario.principal_arn,
            "--output",
            "json",
            "--bucket-role",
            &admin_role(BUCKET_ACCOUNT),
            "--caller-role",
            &admin_role(CALLER_ACCOUNT),
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ])
        .env("NO_COLOR", "1")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let gate = json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gate| gate["gate"] == "accessPointPolicy")
        .cloned()
        .unwrap();
    assert_eq!(gate["verdict"], "implicitDeny", "{gate}");
    assert!(gate["detail"].as_str().unwrap().contains("vpc-0a1b2c3d"));
    Ok(())
}
