//! The principal from the current credentials: STS GetCallerIdentity through the adapter's
//! `Troubleshoot` seam, against a loopback stub (its own test binary: it sets the environment).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "errors/stub.rs"]
mod stub;

#[test]
fn principal_from_current_credentials_through_sts() {
    let endpoint = stub::start(200, "", "{}", 4);
    for (key, value) in stub::OFFLINE {
        // SAFETY: the only test in this binary; no other thread reads the environment yet.
        unsafe { std::env::set_var(key, value) };
    }
    for key in ["AWS_PROFILE", "AWS_SESSION_TOKEN"] {
        // SAFETY: as above.
        unsafe { std::env::remove_var(key) };
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let identity = runtime.block_on(async {
        let options = s3fix::adapter::aws::AwsOptions {
            endpoint_url: Some(endpoint),
            region: Some("us-east-1".into()),
            command: "explain".into(),
            ..Default::default()
        };
        let adapter = s3fix::adapter::aws::AwsAdapter::connect(&options).await.unwrap();
        s3fix::adapter::Troubleshoot::caller_identity(&adapter)
            .await
            .unwrap()
    });
    assert_eq!(identity.arn, stub::SESSION);
    assert_eq!(identity.account, "222222222222");
}
