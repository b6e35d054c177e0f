//! Property test of the key classes: on generated worlds, every key of a caller's class decides
//! exactly as the class's first key, for every action, directly and through an access point, in
//! the bucket and in the other bucket the proof probes. This is what lets the proof probe one
//! key per class without losing a flip.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use super::KeyClasses;
use crate::core::eval::ContextEntry;
use crate::core::plan::build::{ProbeRequest, caller_arn};
use crate::core::s3::access_point::DATA_ACCESS_POINT_ARN;
use crate::core::s3::{S3Action, explain};
use crate::core::spec::Spec;
use crate::core::world::World;
use proptest::prelude::*;
use serde_json::{Value, json};

const BUCKET: &str = "cls-bucket";
const OTHER: &str = "cls-bucket-s3fix-proof";
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const POINT: &str = "arn:aws:s3:us-east-1:111111111111:accesspoint/cls";
/// Keys probed: under prefixes the policies name, outside them, nested, and the empty key.
const KEYS: [&str; 9] = [
    "team-0/a.csv",
    "team-0/b.csv",
    "team-1/a.csv",
    "team-2/x/y.csv",
    "data/a.csv",
    "data/b.csv",
    "shared/z",
    "other",
    "",
];
/// Resource patterns policies use (object-side, relative to the bucket or access point).
const PATTERNS: [&str; 6] = ["team-0/*", "team-1/*", "team-2/x/*", "data/*", "*", "shared/z"];

fn role(index: usize) -> String {
    format!("arn:aws:iam::{}:role/r{index}", ACCOUNTS[index % 3])
}

/// One generated statement: (principal choice, pattern, effect Deny?, action choice, through a
/// condition on s3:prefix?).
type Shape = (usize, usize, bool, usize, bool);

fn action_of(choice: usize) -> Value {
    match choice {
        0 => json!("s3:GetObject"),
        1 => json!("s3:PutObject"),
        2 => json!("s3:ListBucket"),
        3 => json!("s3:*"),
        _ => json!(["s3:GetObject", "s3:DeleteObject"]),
    }
}

fn resource_statement(shape: &Shape, base: &str) -> Value {
    let (principal, pattern, deny, action, prefix) = *shape;
    let principal = match principal {
        0 => json!("*"),
        1 => json!({"AWS": format!("arn:aws:iam::{}:root", ACCOUNTS[1])}),
        n => json!({"AWS": role(n - 2)}),
    };
    let pattern = PATTERNS[pattern];
    let mut statement = json!({
        "Effect": if deny { "Deny" } else { "Allow" },
        "Principal": principal,
        "Action": action_of(action),
        "Resource": [format!("{base}/{pattern}"), format!("arn:aws:s3:::{BUCKET}")],
    });
    if prefix {
        statement["Condition"] = prefix_condition(pattern);
    }
    statement
}

/// A condition on the listed prefix: `StringLike` as written, or (for every other pattern)
/// `StringEqualsIgnoreCase` on the pattern upper-cased, which matches keys without case.
fn prefix_condition(pattern: &str) -> Value {
    if PATTERNS.iter().position(|known| *known == pattern).unwrap_or(0) % 2 == 1 {
        json!({"StringEqualsIgnoreCase": {"s3:prefix": pattern.to_uppercase()}})
    } else {
        json!({"StringLike": {"s3:prefix": pattern}})
    }
}

fn identity_statement(shape: &Shape) -> Value {
    let (_, pattern, deny, action, prefix) = *shape;
    let mut statement = json!({
        "Effect": if deny { "Deny" } else { "Allow" },
        "Action": action_of(action),
        "Resource": [format!("arn:aws:s3:::*/{}", PATTERNS[pattern]), "arn:aws:s3:::*",
                     format!("{POINT}/object/{}", PATTERNS[pattern]), POINT],
    });
    if prefix {
        statement["Condition"] = prefix_condition(PATTERNS[pattern]);
    }
    statement
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        0..6usize,
        0..PATTERNS.len(),
        prop::bool::weighted(0.3),
        0..5usize,
        prop::bool::weighted(0.2),
    )
}

#[derive(Debug, Clone)]
struct Params {
    bucket_policy: Vec<Shape>,
    identities: Vec<Vec<Shape>>,
    owners: Vec<usize>,
    point_policy: Option<Vec<Shape>>,
}

fn params() -> impl Strategy<Value = Params> {
    (
        prop::collection::vec(shape(), 0..5),
        prop::collection::vec(prop::collection::vec(shape(), 0..3), 1..=4),
        prop::collection::vec(0..3usize, KEYS.len() - 1),
        prop::option::weighted(0.5, prop::collection::vec(shape(), 0..3)),
    )
        .prop_map(|(bucket_policy, identities, owners, point_policy)| Params {
            bucket_policy,
            identities,
            owners,
            point_policy,
        })
}

fn build(params: &Params) -> World {
    let statements: Vec<Value> = params
        .bucket_policy
        .iter()
        .map(|shape| resource_statement(shape, &format!("arn:aws:s3:::{BUCKET}")))
        .collect();
    let objects: Vec<Value> = KEYS
        .iter()
        .zip(&params.owners)
        .filter(|(key, _)| !key.is_empty() && **key != "other")
        .map(|(key, owner)| json!({"key": key, "owner": ACCOUNTS[*owner]}))
        .collect();
    let mut bucket = json!({"name": BUCKET, "account": ACCOUNTS[0], "region": "us-east-1",
        "ownership": "ObjectWriter", "objects": objects,
        "acl": {"owner": ACCOUNTS[0], "grants": [{"grantee": {"type": "CanonicalUser", "id": "c0", "account": ACCOUNTS[0]}, "permission": "FULL_CONTROL"}]}});
    if !statements.is_empty() {
        bucket["policy"] = json!({"Version": "2012-10-17", "Statement": statements});
    }
    if let Some(point) = &params.point_policy {
        let mut value = json!({"name": "cls", "arn": POINT, "account": ACCOUNTS[0],
            "bucketAccount": ACCOUNTS[0], "networkOrigin": "Internet"});
        let statements: Vec<Value> = point
            .iter()
            .map(|shape| resource_statement(shape, &format!("{POINT}/object")))
            .collect();
        if !statements.is_empty() {
            value["policy"] = json!({"Version": "2012-10-17", "Statement": statements});
        }
        bucket["accessPoints"] = json!([value]);
    }
    let principals: Vec<Value> = params
        .identities
        .iter()
        .enumerate()
        .map(|(index, shapes)| {
            let statements: Vec<Value> = shapes.iter().map(identity_statement).collect();
            let policies = if statements.is_empty() {
                json!([])
            } else {
                json!([{"name": "p", "document": {"Version": "2012-10-17", "Statement": statements}}])
            };
            json!({"arn": role(index), "kind": "role", "inlinePolicies": policies})
        })
        .collect();
    let other = json!({"name": OTHER, "account": ACCOUNTS[1], "region": "us-east-1"});
    serde_json::from_value(json!({
        "formatVersion": 1,
        "accounts": ACCOUNTS.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        "buckets": [bucket, other],
        "principals": principals,
    }))
    .unwrap()
}

fn spec() -> Spec {
    Spec::parse(
        &format!(
            "principal = \"{}\"\nbucket = \"{BUCKET}\"\nkeys = [\"data/*\"]\naccess = [\"read\"]\n",
            role(0)
        ),
        "t.toml",
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_key_of_a_class_decides_as_its_first(params in params()) {
        let world = build(&params);
        let spec = spec();
        let keys: Vec<String> = KEYS.iter().map(|key| key.to_string()).collect();
        let prefixes = [format!("arn:aws:s3:::{BUCKET}/"), format!("arn:aws:s3:::{OTHER}/"), format!("{POINT}/object/")];
        let classes = KeyClasses::new(&[&world], &spec, &keys, &prefixes);
        let mut callers: Vec<(String, Option<String>)> = world
            .principals
            .iter()
            .map(|principal| (caller_arn(&principal.arn, principal.kind), Some(principal.arn.clone())))
            .collect();
        callers.push(("*".to_string(), None));
        let actions = [S3Action::Get, S3Action::Put, S3Action::List, S3Action::Delete];
        let mut split = 0usize;
        for (caller, principal) in &callers {
            for members in classes.classes(caller, principal.as_deref()) {
                split += usize::from(members.len() > 1);
                let routes: Vec<(&str, Option<&str>)> = vec![(BUCKET, None), (OTHER, None), (BUCKET, Some(POINT))];
                for (bucket, point) in routes {
                    if point.is_some() && params.point_policy.is_none() {
                        continue;
                    }
                    for action in actions {
                        let decide = |key: &str| {
                            let mut context = Vec::new();
                            if let Some(point) = point {
                                context.push((DATA_ACCESS_POINT_ARN.to_string(), ContextEntry::Single(point.to_string())));
                            }
                            let probe = ProbeRequest { principal: caller.clone(), action, key: key.to_string(), context };
                            explain(&world, &probe.to_request(bucket)).map(|explanation| explanation.decision)
                        };
                        let first = decide(members[0]).unwrap();
                        for key in &members[1..] {
                            prop_assert_eq!(
                                decide(key).unwrap(), first,
                                "{} {:?} on {}/{} (through {:?}) decides unlike {} of its class {:?}",
                                caller, action, bucket, key, point, members[0], members
                            );
                        }
                    }
                }
            }
        }
        // Not vacuous: the generated worlds do put several keys in one class.
        prop_assume!(split > 0);
    }
}
