//! `explain --from-error` through AWS (moto): a message that names no principal is explained as
//! the current credentials (STS GetCallerIdentity), and says so.
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
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, admin_role, base_config};

#[tokio::test]
async fn principal_comes_from_the_current_credentials() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let scenario = Scenario::create(&moto.endpoint, "s3fix-from-error").await?;
    // Run as a session of the scenario's principal: that is who "the current credentials" are.
    let session = aws_sdk_sts::Client::new(&base_config(&moto.endpoint).await)
        .assume_role()
        .role_arn(&scenario.principal_arn)
        .role_session_name("operator")
        .send()
        .await?;
    let credentials = session.credentials().unwrap();
    let session_arn = session.assumed_role_user().unwrap().arn().to_string();
    let target = format!("s3://{}/{}", scenario.bucket, scenario.object_key);
    let output = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args([
            "explain",
            "--from-error",
            "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
            &target,
            "--bucket-role",
            &admin_role(BUCKET_ACCOUNT),
            "--caller-role",
            &admin_role(CALLER_ACCOUNT),
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", credentials.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key())
        .env("AWS_SESSION_TOKEN", credentials.session_token())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 2)), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(json["request"]["principal"], session_arn.as_str());
    assert!(session_arn.contains(":assumed-role/"), "{session_arn}");
    let inputs = json["fromError"]["inputs"].as_array().unwrap();
    assert!(
        inputs.iter().any(|input| input["field"] == "principal"
            && input["from"] == "current credentials (STS GetCallerIdentity)"),
        "{inputs:?}"
    );
    assert_eq!(json["fromError"]["awsErrorCode"], "AccessDenied");
    assert_eq!(json["request"]["bucket"], scenario.bucket.as_str());
    Ok(())
}
