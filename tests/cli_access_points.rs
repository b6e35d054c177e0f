//! End-to-end tests of `s3fix explain` through access points and VPC endpoints, against
//! `plans/examples/access-point-world.json`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use std::process::{Command, Output};

const WORLD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/plans/examples/access-point-world.json"
);
const SPARK: &str = "arn:aws:sts::222222222222:assumed-role/spark/job-42";
const LAKE_AP: &str = "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap";

fn explain(target: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args([
            "explain",
            target,
            "--principal",
            SPARK,
            "--world",
            WORLD,
            "--output",
            "json",
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn gate(output: &Output, name: &str) -> Value {
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gate| gate["gate"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn explain_through_an_access_point_arn_is_allowed() {
    let output = explain(&format!("s3://{LAKE_AP}/data/part-0.parquet"), &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(gate(&output, "accessPointPolicy")["verdict"], "allow");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let resource = json["request"]["resource"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(resource, "arn:aws:s3:::lake/data/part-0.parquet");
}

#[test]
fn explain_through_an_access_point_alias_is_allowed() {
    let output = explain(
        "s3://lake-ap-abcdefghijklmnopqrstuvwxyz0123-s3alias/data/part-0.parquet",
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(gate(&output, "bucketPolicy")["verdict"], "allow");
}

#[test]
fn explain_vpce_flag_evaluates_the_endpoint_policy() {
    let output = explain("s3://lake/direct/a.csv", &["--vpce", "vpce-0deny"]);
    assert_eq!(output.status.code(), Some(2));
    let endpoint = gate(&output, "vpcEndpointPolicy");
    assert_eq!(endpoint["verdict"], "explicitDeny");
    assert!(
        endpoint["remedy"].as_str().unwrap().contains("222222222222"),
        "{endpoint}"
    );
}

#[test]
fn explain_vpc_only_access_point_names_the_vpc() {
    let output = explain(
        "s3://arn:aws:s3:us-east-1:111111111111:accesspoint/lake-vpc-ap/data/x",
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let point = gate(&output, "accessPointPolicy");
    assert_eq!(point["verdict"], "implicitDeny");
    assert!(
        point["detail"].as_str().unwrap().contains("vpc-0a1b2c3d"),
        "{point}"
    );
    let through_endpoint = explain(
        "s3://arn:aws:s3:us-east-1:111111111111:accesspoint/lake-vpc-ap/data/x",
        &["--vpce", "vpce-0allow"],
    );
    assert_eq!(through_endpoint.status.code(), Some(0));
}

#[test]
fn explain_unknown_access_point_is_an_error() {
    let output = explain("s3://arn:aws:s3:us-east-1:111111111111:accesspoint/nope/k", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("accesspoint/nope"));
}
