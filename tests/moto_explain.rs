//! `s3fix explain` against moto: the live run (both accounts through the SDK) and
//! `snapshot` then `explain --world` reach the same decision with the same gates; `--verbose`
//! shows the API calls and no item is read twice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use std::process::Command;
use support::scenario::Scenario;
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, admin_role};

fn s3fix(endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .args(args)
        .args([
            "--bucket-role",
            &admin_role(BUCKET_ACCOUNT),
            "--caller-role",
            &admin_role(CALLER_ACCOUNT),
        ])
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    command
}

fn gates(json: &serde_json::Value) -> Vec<(String, String)> {
    json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|gate| {
            (
                gate["gate"].as_str().unwrap().to_string(),
                gate["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn live_explain_matches_snapshot_then_explain_world() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-explain").await?;
    let target = format!("s3://{}/{}", scenario.bucket, scenario.object_key);
    let live = s3fix(
        &moto.endpoint,
        &[
            "explain",
            &target,
            "--principal",
            &scenario.principal_arn,
            "--output",
            "json",
            "--verbose",
        ],
    )
    .output()?;
    let stderr = String::from_utf8_lossy(&live.stderr);
    assert!(matches!(live.status.code(), Some(0 | 2)), "{stderr}");
    assert!(
        stderr.contains("AWS API calls"),
        "--verbose shows the call count: {stderr}"
    );
    // No item is read twice: every counted operation on a single resource appears once.
    for line in stderr
        .lines()
        .filter(|line| line.contains("S3:GetBucket") || line.contains("KMS:GetKeyPolicy"))
    {
        assert!(
            line.trim_start().starts_with("1 "),
            "read more than once: {line}\n{stderr}"
        );
    }
    let live_json: serde_json::Value = serde_json::from_slice(&live.stdout)?;

    let directory = tempfile::tempdir()?;
    let world = directory.path().join("world.json");
    let world_path = world.to_str().unwrap();
    let snapshot = s3fix(
        &moto.endpoint,
        &[
            "snapshot",
            &target,
            "--principal",
            &scenario.principal_arn,
            "-o",
            world_path,
        ],
    )
    .output()?;
    assert!(
        snapshot.status.success(),
        "{}",
        String::from_utf8_lossy(&snapshot.stderr)
    );
    let offline = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args([
            "explain",
            &target,
            "--principal",
            &scenario.principal_arn,
            "--output",
            "json",
            "--world",
        ])
        .arg(&world)
        .env("NO_COLOR", "1")
        .output()?;
    assert_eq!(
        offline.status.code(),
        live.status.code(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let offline_json: serde_json::Value = serde_json::from_slice(&offline.stdout)?;
    assert_eq!(offline_json["decision"], live_json["decision"]);
    assert_eq!(gates(&offline_json), gates(&live_json));
    assert_eq!(live_json["gates"].as_array().unwrap().len(), 5);
    Ok(())
}

#[tokio::test]
async fn live_explain_of_a_missing_bucket_is_an_error() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-explain-missing").await?;
    let output = s3fix(
        &moto.endpoint,
        &[
            "explain",
            "s3://s3fix-no-such-bucket/k",
            "--principal",
            &scenario.principal_arn,
        ],
    )
    .output()?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("s3fix-no-such-bucket"), "{stderr}");
    assert!(output.stdout.is_empty());
    Ok(())
}

#[tokio::test]
async fn live_explain_of_an_anonymous_caller_reads_no_principal() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-explain-anonymous").await?;
    let target = format!("s3://{}/{}", scenario.bucket, scenario.object_key);
    for principal in ["*", &format!("arn:aws:iam::{CALLER_ACCOUNT}:root")] {
        let output = s3fix(
            &moto.endpoint,
            &["explain", &target, "--principal", principal, "--output", "json"],
        )
        .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{principal}: {stderr}");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        // The bucket policy names only the role: neither caller is granted.
        assert_eq!(json["decision"], "ImplicitlyDenied", "{principal}: {json}");
        assert_eq!(json["gates"][0]["code"], "noIdentityPolicies", "{principal}");
        assert_eq!(
            json["gates"][1]["code"], "missingBucketPolicyGrant",
            "{principal}"
        );
    }
    Ok(())
}
