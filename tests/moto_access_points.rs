//! S3 Control access point and EC2 VPC endpoint reads against moto (moto 5.2.5 implements CreateAccessPoint,
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

use s3fix::core::world::{ItemKind, NetworkOrigin, VpcEndpointType};
use serde_json::json;
use std::process::Command;
use support::scenario::{Scenario, s3control};
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, FaultProxy, admin_role, assume, base_config};

/// Run `s3fix explain ARGS --output json` live against `endpoint` through both admin roles;
/// expect exit code 2 (denied) and return the named gate's report.
fn live_gate(endpoint: &str, args: &[&str], gate: &str) -> anyhow::Result<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .arg("explain")
        .args(args)
        .args(["--output", "json", "--bucket-role", &admin_role(BUCKET_ACCOUNT)])
        .args([
            "--caller-role",
            &admin_role(CALLER_ACCOUNT),
            "--endpoint-url",
            endpoint,
        ])
        .args(["--region", "us-east-1"])
        .env("NO_COLOR", "1")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|report| report["gate"] == gate)
        .cloned()
        .unwrap_or(serde_json::Value::Null))
}

/// The scenario with a bucket named `bucket`, the proxy in front of moto, and an S3 Control
/// client of the bucket account through the proxy. moto names the XML root of its access point
/// answers `…Response`; AWS and the SDK use `…Result`: the proxy renames it and changes nothing
/// else.
async fn through_proxy(
    moto_endpoint: &str,
    bucket: &str,
) -> anyhow::Result<(Scenario, FaultProxy, aws_sdk_s3control::Client)> {
    let scenario = Scenario::create(moto_endpoint, bucket).await?;
    let proxy = FaultProxy::start_script(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/s3control_result_proxy.py"
        ),
        moto_endpoint,
    )?;
    let base = base_config(&proxy.endpoint).await;
    let bucket_admin = assume(&base, &admin_role(BUCKET_ACCOUNT)).await?;
    Ok((scenario, proxy, s3control(&bucket_admin)))
}

/// `s3fix drift spec.toml --output json` (with `--fix --yes` when `fix`) in `directory`, live
/// against `endpoint` through both admin roles: the exit code, the JSON report, stderr.
fn drift(
    directory: &std::path::Path,
    endpoint: &str,
    fix: bool,
) -> anyhow::Result<(Option<i32>, serde_json::Value, String)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .current_dir(directory)
        .args(["drift", "spec.toml", "--output", "json"])
        .args(["--bucket-role", &admin_role(BUCKET_ACCOUNT)])
        .args(["--caller-role", &admin_role(CALLER_ACCOUNT)])
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .env("NO_COLOR", "1");
    if fix {
        command.args(["--fix", "--yes"]);
    }
    let output = command.output()?;
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    Ok((
        output.status.code(),
        report,
        String::from_utf8_lossy(&output.stderr).to_string(),
    ))
}

#[tokio::test]
async fn access_point_reads_and_explain_through_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let (scenario, proxy, control) = through_proxy(&moto.endpoint, "s3fix-access-points").await?;
    let endpoint = proxy.endpoint.clone();
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
    let target = format!("s3://{vpc_arn}/{}", scenario.object_key);
    let gate = live_gate(
        &endpoint,
        &[&target, "--principal", &scenario.principal_arn],
        "accessPointPolicy",
    )?;
    assert_eq!(gate["verdict"], "implicitDeny", "{gate}");
    assert!(gate["detail"].as_str().unwrap().contains("vpc-0a1b2c3d"));
    Ok(())
}

/// moto 5.2.5 implements EC2 CreateVpc, CreateVpcEndpoint (with a policy document) and
/// DescribeVpcEndpoints; `plan` and `drift` both read the endpoint a spec's aws:SourceVpce names.
#[tokio::test]
async fn vpc_endpoint_reads_and_explain_through_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-vpc-endpoints").await?;
    let base = base_config(&moto.endpoint).await;
    let caller_admin = assume(&base, &admin_role(CALLER_ACCOUNT)).await?;
    let ec2 = aws_sdk_ec2::Client::new(&caller_admin);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await?;
    let vpc_id = vpc.vpc().and_then(|vpc| vpc.vpc_id()).unwrap().to_string();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoReads", "Effect": "Deny",
        "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
        {"Sid": "Everything", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]});
    let created = ec2
        .create_vpc_endpoint()
        .vpc_id(&vpc_id)
        .service_name("com.amazonaws.us-east-1.s3")
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
        .policy_document(policy.to_string())
        .send()
        .await?;
    let id = created
        .vpc_endpoint()
        .and_then(|endpoint| endpoint.vpc_endpoint_id())
        .unwrap()
        .to_string();

    let adapter = support::adapter(&moto.endpoint).await?;
    let endpoint = adapter.read_vpc_endpoint("us-east-1", &id).await?.unwrap();
    assert_eq!(endpoint.id, id);
    assert_eq!(endpoint.endpoint_type, VpcEndpointType::Gateway);
    assert_eq!(endpoint.service_name, "com.amazonaws.us-east-1.s3");
    assert_eq!(endpoint.vpc_id, vpc_id);
    assert_eq!(endpoint.policy.as_ref(), Some(&policy));
    // An endpoint no session can find is an unknown item, not an error and not an allow.
    let missing = adapter
        .read_vpc_endpoint("us-east-1", "vpce-0000000000000000")
        .await?;
    assert!(missing.is_err_and(|unknown| unknown.item == ItemKind::VpcEndpoint));

    let target = format!("s3://{}/{}", scenario.bucket, scenario.object_key);
    let gate = live_gate(
        &moto.endpoint,
        &[&target, "--principal", &scenario.principal_arn, "--vpce", &id],
        "vpcEndpointPolicy",
    )?;
    assert_eq!(gate["verdict"], "explicitDeny", "{gate}");
    assert_eq!(gate["deciding"][0]["sid"], "NoReads");

    // `plan` reads the endpoint of the spec's aws:SourceVpce too, and reports the block.
    let directory = tempfile::tempdir()?;
    let spec = format!(
        "principal = \"{}\"\nbucket = \"{}\"\nkeys = [\"{}\"]\naccess = [\"read\"]\n\n[context]\n\"aws:SourceVpce\" = \"{id}\"\n\n[bucket_account]\nrole = \"{}\"\n\n[caller_account]\nrole = \"{}\"\n",
        scenario.principal_arn,
        scenario.bucket,
        scenario.object_key,
        admin_role(BUCKET_ACCOUNT),
        admin_role(CALLER_ACCOUNT)
    );
    std::fs::write(directory.path().join("spec.toml"), spec)?;
    let planned = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .current_dir(directory.path())
        .args([
            "plan",
            "spec.toml",
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            "us-east-1",
        ])
        .env("NO_COLOR", "1")
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&planned.stdout),
        String::from_utf8_lossy(&planned.stderr)
    );
    assert_ne!(planned.status.code(), Some(0), "{text}");
    assert!(
        text.contains("VPC endpoint policy") && text.contains("NoReads"),
        "{text}"
    );
    // So does `drift` (after its shared observe_many): the same block, by name.
    let (code, report, stderr) = drift(directory.path(), &moto.endpoint, false)?;
    assert_eq!(code, Some(1), "{report}\n{stderr}");
    let message = report["specs"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("VPC endpoint policy") && message.contains("NoReads"),
        "{report}"
    );
    Ok(())
}

/// moto 5.2.5 implements PutAccessPointPolicy and DeleteAccessPointPolicy: the AWS writer writes
/// an access point policy in the access point's account, reads it back as `observe` does, deletes
/// it (a second delete leaves it absent, as asked); then `s3fix drift --fix` on a spec through the
/// access point reads the access point (else its gate would be unknown), plans the grant, and
/// applies it through the same transactional apply as `s3fix apply`; `s3fix rollback` restores it.
#[tokio::test]
async fn access_point_policy_writes_and_drift_fix_through_it() -> anyhow::Result<()> {
    use s3fix::adapter::Writer as _;
    use s3fix::core::plan::ResourceRef;
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let (scenario, proxy, control) = through_proxy(&moto.endpoint, "s3fix-access-point-writes").await?;
    let endpoint = proxy.endpoint.clone();
    control
        .create_access_point()
        .account_id(BUCKET_ACCOUNT)
        .name("lake-ro")
        .bucket(&scenario.bucket)
        .send()
        .await?;
    let arn = format!("arn:aws:s3:us-east-1:{BUCKET_ACCOUNT}:accesspoint/lake-ro");
    let resource = ResourceRef::AccessPointPolicy {
        access_point: arn.clone(),
    };
    let adapter = support::adapter(&endpoint).await?;
    assert_eq!(adapter.read(&resource).await?, None);
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Probe", "Effect": "Allow",
        "Principal": {"AWS": scenario.principal_arn}, "Action": "s3:GetObject",
        "Resource": format!("{arn}/object/probe/*")}]});
    adapter.write(&resource, Some(&policy)).await?;
    assert_eq!(adapter.read(&resource).await?, Some(policy.clone()));
    assert_eq!(adapter.read_access_point(&arn).await?.point.policy, Some(policy));
    adapter.write(&resource, None).await?;
    assert_eq!(adapter.read(&resource).await?, None);
    adapter.write(&resource, None).await?;
    let elsewhere = ResourceRef::AccessPointPolicy {
        access_point: "arn:aws:s3:us-east-1:999999999999:accesspoint/x".into(),
    };
    let refused = adapter
        .write(
            &elsewhere,
            Some(&json!({"Version": "2012-10-17", "Statement": []})),
        )
        .await;
    assert!(refused.is_err_and(|error| error.to_string().contains("`999999999999`")));

    // drift --fix through the access point.
    let directory = tempfile::tempdir()?;
    let spec = format!(
        "principal = \"{}\"\nbucket = \"{}\"\nkeys = [\"{}\"]\naccess = [\"read\"]\naccess_point = \"{arn}\"\n",
        scenario.principal_arn, scenario.bucket, scenario.object_key
    );
    std::fs::write(directory.path().join("spec.toml"), spec)?;
    let (code, report, stderr) = drift(directory.path(), &endpoint, true)?;
    assert_eq!(code, Some(2), "{report}\n{stderr}");
    let written = adapter
        .read(&resource)
        .await?
        .expect("the access point policy is written");
    let statements = written["Statement"].as_array().unwrap();
    assert!(
        statements.iter().any(
            |statement| statement["Principal"] == json!({"AWS": scenario.principal_arn})
                && statement["Resource"] == json!([format!("{arn}/object/{}", scenario.object_key)])
        ),
        "{written}"
    );
    let (code, report, stderr) = drift(directory.path(), &endpoint, false)?;
    assert_eq!(code, Some(0), "in sync after the fix: {report}\n{stderr}");

    // `s3fix rollback` of the fix restores the access point policy (absent) through S3 Control.
    let journal = s3fix::journal::Journal::new(&directory.path().join(".s3fix/journal")).operations();
    assert_eq!(journal.len(), 1, "{journal:?}");
    let id = journal[0].file_stem().unwrap().to_string_lossy().to_string();
    let rolled = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .current_dir(directory.path())
        // The journal records the roles and region; an endpoint is only ever taken from the
        // operator.
        .args(["rollback", &id, "--endpoint-url", &endpoint])
        .env("NO_COLOR", "1")
        .output()?;
    assert_eq!(
        rolled.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rolled.stderr)
    );
    assert_eq!(adapter.read(&resource).await?, None);
    Ok(())
}
