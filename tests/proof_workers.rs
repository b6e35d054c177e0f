//! The proof gives the same answer on any number of workers: the same plan (checks, counts and
//! evidence) when it holds, and the same failures in the same order when it does not. The worlds
//! have enough callers (80 roles) for the neighbouring requests to be split between workers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use s3fix::core::plan::{PlanOptions, plan, plan_with_workers};
use s3fix::core::spec::Spec;
use s3fix::core::world::World;
use serde_json::{Value, json};

const BUCKET: &str = "workers-bucket";
const BUCKET_ACCOUNT: &str = "111111111111";
const CALLER_ACCOUNT: &str = "222222222222";
const UPLOADER: &str = "333333333333";
const ROLES: usize = 80;

/// `ROLES` team roles in the caller account, each reading `team-i/*` by its identity policy and
/// by a bucket-policy statement; objects under `data/` uploaded by another account. With
/// `partners_read_data`, the first few team statements also cover `data/*`: the ownership switch
/// the spec needs then hands those roles the uploaded objects.
fn world(partners_read_data: bool) -> World {
    let mut statements: Vec<Value> = Vec::new();
    let mut principals =
        vec![json!({"arn": format!("arn:aws:iam::{CALLER_ACCOUNT}:role/app"), "kind": "role"})];
    let mut objects = Vec::new();
    for index in 0..ROLES {
        let role = format!("arn:aws:iam::{CALLER_ACCOUNT}:role/team-{index}");
        let mut resources = vec![format!("arn:aws:s3:::{BUCKET}/team-{index}/*")];
        if partners_read_data && index % 20 == 7 {
            resources.push(format!("arn:aws:s3:::{BUCKET}/data/*"));
        }
        statements.push(
            json!({"Sid": format!("T{index}"), "Effect": "Allow", "Principal": {"AWS": role},
            "Action": "s3:GetObject", "Resource": resources}),
        );
        principals.push(json!({"arn": role, "kind": "role", "inlinePolicies": [{"name": "team", "document":
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}]}));
        objects.push(json!({"key": format!("team-{index}/part.csv"), "owner": BUCKET_ACCOUNT}));
    }
    principals.push(json!({"arn": format!("arn:aws:iam::{BUCKET_ACCOUNT}:role/bucket-admin"), "kind": "role", "inlinePolicies": [{"name": "admin", "document":
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}));
    for index in 0..5 {
        objects.push(json!({"key": format!("data/upload-{index}.csv"), "owner": UPLOADER,
            "acl": {"owner": UPLOADER, "grants": [{"grantee": {"type": "CanonicalUser", "id": "c3", "account": UPLOADER}, "permission": "FULL_CONTROL"}]}}));
    }
    serde_json::from_value(json!({
        "formatVersion": 1,
        "accounts": [{"id": BUCKET_ACCOUNT}, {"id": CALLER_ACCOUNT}],
        "buckets": [{"name": BUCKET, "account": BUCKET_ACCOUNT, "region": "us-east-1", "ownership": "ObjectWriter",
            "policy": {"Version": "2012-10-17", "Statement": statements},
            "acl": {"owner": BUCKET_ACCOUNT, "grants": [{"grantee": {"type": "CanonicalUser", "id": "c1", "account": BUCKET_ACCOUNT}, "permission": "FULL_CONTROL"}]},
            "objects": objects}],
        "principals": principals,
    }))
    .unwrap()
}

fn spec() -> Spec {
    Spec::parse(
        &format!("principal = \"arn:aws:iam::{CALLER_ACCOUNT}:role/app\"\nbucket = \"{BUCKET}\"\nkeys = [\"data/*\"]\naccess = [\"read\"]\n"),
        "workers.toml",
    )
    .unwrap()
}

#[test]
fn a_proven_plan_is_the_same_on_any_number_of_workers() {
    let world = world(false);
    let one = plan(&world, &spec(), PlanOptions::default()).expect("the plan is proven");
    for workers in [2, 3, 8] {
        let many = plan_with_workers(&world, &spec(), PlanOptions::default(), workers).unwrap();
        assert_eq!(many, one, "{workers} workers");
    }
    let widened = one
        .proof
        .checks
        .iter()
        .find(|check| check.name == "no other access is widened")
        .unwrap();
    assert!(
        widened.passed && widened.detail.starts_with("checked "),
        "{}",
        widened.detail
    );
    // The five uploads decide alike for the bucket's admin and are probed as one key, yet the
    // summary of what the owner gains counts each of them.
    assert!(
        widened.detail.contains(
            "the objects it now owns (5 requests, e.g. arn:aws:sts::111111111111:assumed-role/bucket-admin/"
        ),
        "{}",
        widened.detail
    );
}

#[test]
fn refused_plans_report_the_same_failures_in_the_same_order() {
    let world = world(true);
    let one = plan(&world, &spec(), PlanOptions::default()).expect_err("partners gain the uploads");
    let text = one.to_string();
    // Four team roles, spread over the callers (and so over the workers), would gain the
    // uploaded objects.
    for role in ["team-7/", "team-27/", "team-47/", "team-67/"] {
        assert!(text.contains(role), "{text}");
    }
    for workers in [2, 3, 8] {
        let many = plan_with_workers(&world, &spec(), PlanOptions::default(), workers).unwrap_err();
        assert_eq!(many.to_string(), text, "{workers} workers");
    }
}
