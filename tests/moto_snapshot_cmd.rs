//! `s3fix snapshot` end to end against moto: the world file, `--verbose` counts, errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use s3fix::adapter::snapshot::SnapshotAdapter;
use std::process::Command;
use support::scenario::Scenario;
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, admin_role};

fn snapshot_command(endpoint: &str, target: &str, principal: &str, output: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .args(["snapshot", target, "--principal", principal])
        .args([
            "--bucket-role",
            &admin_role(BUCKET_ACCOUNT),
            "--caller-role",
            &admin_role(CALLER_ACCOUNT),
        ])
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "-o"])
        .arg(output)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    command
}

#[tokio::test]
async fn snapshot_writes_the_world_and_counts_calls() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-cli").await?;
    let directory = tempfile::tempdir()?;
    let output_path = directory.path().join("world.json");
    let output = snapshot_command(
        &moto.endpoint,
        "s3://s3fix-cli/reports/q1.csv",
        &scenario.principal_arn,
        &output_path,
    )
    .arg("--verbose")
    .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(output.stdout.is_empty(), "data goes to the file, not stdout");
    assert!(stderr.contains("AWS API calls"), "{stderr}");
    assert!(stderr.contains("S3:GetBucketPolicy"), "{stderr}");
    let world = SnapshotAdapter::load(&output_path)?.world().clone();
    assert_eq!(world.buckets[0].objects[0].key, "reports/q1.csv");
    assert_eq!(world.principals[0].arn, scenario.principal_arn);
    // The stored texts are kept as AWS returned them (the scenario put compact JSON), so an
    // offline plan over this file splices into the same bytes AWS holds.
    assert_eq!(
        world.buckets[0].policy_text.as_deref(),
        Some(scenario.bucket_policy.to_string().as_str())
    );
    assert_eq!(
        world.keys[0].policy_text.as_deref(),
        Some(scenario.key_policy.to_string().as_str())
    );
    let inline = &world.principals[0].inline_policies[0];
    assert_eq!(
        inline.document_text.as_deref(),
        Some(scenario.inline_policy.to_string().as_str())
    );
    let text = std::fs::read_to_string(&output_path)?;
    assert!(!text.contains("testing"), "no credentials in the world file");
    assert_eq!(
        std::fs::read_dir(directory.path())?.count(),
        1,
        "no temporary file left"
    );
    Ok(())
}

#[tokio::test]
async fn snapshot_error_writes_nothing() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-cli-error").await?;
    let directory = tempfile::tempdir()?;
    let output_path = directory.path().join("world.json");
    let output = snapshot_command(
        &moto.endpoint,
        "s3://s3fix-cli-absent",
        &scenario.principal_arn,
        &output_path,
    )
    .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bucket `s3fix-cli-absent` does not exist"),
        "{stderr}"
    );
    assert!(!output_path.exists());
    assert_eq!(std::fs::read_dir(directory.path())?.count(), 0);
    Ok(())
}

#[tokio::test]
async fn snapshot_honours_the_sdk_endpoint_variable() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-cli-env").await?;
    let directory = tempfile::tempdir()?;
    let output_path = directory.path().join("world.json");
    // `localhost` (not an IP) needs path-style addressing; S3 Control needs its host prefix
    // stripped: both must follow from the SDK's own variable, without --endpoint-url.
    let localhost = moto.endpoint.replace("127.0.0.1", "localhost");
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .args([
            "snapshot",
            "s3://s3fix-cli-env/reports/q1.csv",
            "--principal",
            &scenario.principal_arn,
        ])
        .args([
            "--bucket-role",
            &admin_role(BUCKET_ACCOUNT),
            "--caller-role",
            &admin_role(CALLER_ACCOUNT),
        ])
        .arg("-o")
        .arg(&output_path)
        .env("AWS_ENDPOINT_URL", &localhost)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    let output = command.output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let world = SnapshotAdapter::load(&output_path)?.world().clone();
    assert_eq!(world.unknown, vec![], "{stderr}");
    assert!(
        world
            .account(BUCKET_ACCOUNT)
            .and_then(|account| account.public_access_block)
            .is_some()
    );
    Ok(())
}
