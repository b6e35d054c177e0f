//! Property test of the planner: it never widens access.
//!
//! Random small worlds (2–3 accounts, one bucket with random ownership, bucket policy, ACL, Block
//! Public Access and objects, 1–3 principals with random identity policies, a customer KMS key with
//! a random key policy) and random specs are planned. Whenever a plan comes back, this file checks
//! on its own — not through the planner's proof — that applying the edits makes the requested
//! access allowed and that, for every principal of the world, an anonymous caller and a synthetic
//! outsider with an admin identity policy, no request outside the spec flips from not-allowed to
//! allowed. The one tolerated flip: when the plan switches Object Ownership, principals of the
//! bucket's own account gain their usual rights on that bucket's objects.
//!
//! Some worlds attach an access point (owned by one of the accounts, with a random policy) and
//! some specs go through it: then every request is also probed through the access point, and no
//! request by any route but the spec's own may flip either.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use proptest::prelude::*;
use s3fix::core::eval::ContextEntry;
use s3fix::core::plan::forall::containment;
use s3fix::core::plan::{Plan, PlanError, PlanOptions, ResourceRef, plan, probes, set_value};
use s3fix::core::policy::PolicyKind;
use s3fix::core::s3::{FinalDecision, S3Action, S3Request, Verdict, explain};
use s3fix::core::spec::{Access, Spec};
use s3fix::core::world::{NamedPolicy, Principal, PrincipalKind, World};
use serde_json::{Value, json};

const BUCKET: &str = "prop-bucket";
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const BUCKET_ACCOUNT: &str = "111111111111";
const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555";
const OUTSIDER: &str = "arn:aws:iam::999999999999:role/outsider-admin";
/// Objects under the spec's keys, and outside them (`other/`, `public/`): foreign-owned ones
/// there are what an ownership switch hands to existing bucket-policy grants.
const OBJECTS: [&str; 4] = ["data/a.csv", "data/b.csv", "other/x.txt", "public/p.txt"];

// ---------------------------------------------------------------- generation

#[derive(Debug, Clone)]
struct PrincipalParams {
    account: usize,
    user: bool,
    statements: Vec<usize>,
}

#[derive(Debug, Clone)]
struct ObjectParams {
    owner: usize,
    encryption: usize,
    acl_grant_to: Option<usize>,
}

#[derive(Debug, Clone)]
struct Params {
    accounts: usize,
    principals: Vec<PrincipalParams>,
    ownership: usize,
    policy: Option<Vec<(usize, usize)>>,
    block: Option<[bool; 4]>,
    bucket_acl: usize,
    objects: Vec<ObjectParams>,
    default_kms: bool,
    key_policy: usize,
    spec_principal: usize,
    exact_key: bool,
    access: Vec<Access>,
    allow_deny_exception: bool,
    /// An access point: its owner (an account index), its policy template, whether the spec goes
    /// through it.
    access_point: Option<(usize, usize, bool)>,
}

fn params() -> impl Strategy<Value = Params> {
    let principal = (
        0..3usize,
        prop::bool::weighted(0.2),
        prop::collection::vec(0..8usize, 0..3),
    )
        .prop_map(|(account, user, statements)| PrincipalParams {
            account,
            user,
            statements,
        });
    let object = (0..3usize, 0..3usize, prop::option::weighted(0.2, 0..3usize)).prop_map(
        |(owner, encryption, acl_grant_to)| ObjectParams {
            owner,
            encryption,
            acl_grant_to,
        },
    );
    let access = prop::sample::subsequence(vec![Access::Read, Access::List, Access::Write], 1..=3);
    (
        (
            2..=3usize,
            prop::collection::vec(principal, 1..=3),
            0..4usize,
            prop::option::weighted(0.8, prop::collection::vec((0..10usize, 0..4usize), 0..4)),
            prop::option::weighted(0.5, prop::array::uniform4(prop::bool::ANY)),
            0..5usize,
        ),
        (
            prop::collection::vec(object, 1..=4),
            prop::bool::weighted(0.3),
            0..4usize,
            0..3usize,
            prop::bool::weighted(0.3),
            access,
            prop::bool::weighted(0.3),
            prop::option::weighted(0.4, (0..3usize, 0..5usize, prop::bool::weighted(0.7))),
        ),
    )
        .prop_map(
            |(
                (accounts, principals, ownership, policy, block, bucket_acl),
                (
                    objects,
                    default_kms,
                    key_policy,
                    spec_principal,
                    exact_key,
                    access,
                    allow_deny_exception,
                    access_point,
                ),
            )| Params {
                accounts,
                principals,
                ownership,
                policy,
                block,
                bucket_acl,
                objects,
                default_kms,
                key_policy,
                spec_principal,
                exact_key,
                access,
                allow_deny_exception,
                access_point,
            },
        )
}

/// The access point's ARN, in the account it is owned by.
fn access_point_arn(params: &Params, owner: usize) -> String {
    format!(
        "arn:aws:s3:us-east-1:{}:accesspoint/prop-ap",
        account(params, owner)
    )
}

/// An access point policy: none, the spec principal's data reads, anyone's reads, another
/// principal's everything, or a Deny of the spec's data.
fn access_point_policy(params: &Params, arn: &str, template: usize) -> Option<Value> {
    let statement = match template {
        0 => return None,
        1 => {
            json!({"Effect": "Allow", "Principal": {"AWS": principal_arn(params, params.spec_principal % params.principals.len())},
            "Action": "s3:GetObject", "Resource": format!("{arn}/object/data/*")})
        }
        2 => {
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("{arn}/object/*")})
        }
        3 => {
            json!({"Effect": "Allow", "Principal": {"AWS": principal_arn(params, (params.spec_principal + 1) % params.principals.len())},
            "Action": "s3:*", "Resource": [arn.to_string(), format!("{arn}/object/*")]})
        }
        _ => {
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": format!("{arn}/object/data/*")})
        }
    };
    Some(json!({"Version": "2012-10-17", "Statement": [statement]}))
}

fn account(params: &Params, index: usize) -> &'static str {
    ACCOUNTS[index % params.accounts]
}

fn principal_arn(params: &Params, index: usize) -> String {
    let principal = &params.principals[index % params.principals.len()];
    let account = account(params, principal.account);
    if principal.user {
        format!("arn:aws:iam::{account}:user/user{index}")
    } else {
        format!("arn:aws:iam::{account}:role/app{index}")
    }
}

fn identity_statement(template: usize) -> Value {
    let objects = format!("arn:aws:s3:::{BUCKET}/*");
    let data = format!("arn:aws:s3:::{BUCKET}/data/*");
    let bucket = format!("arn:aws:s3:::{BUCKET}");
    match template {
        0 => json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": data}),
        1 => json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
        2 => json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket}),
        3 => json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}),
        4 => json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": objects}),
        5 => json!({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}),
        6 => {
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/data/a.csv")})
        }
        _ => {
            json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket, "Condition": {"StringLike": {"s3:prefix": "other/*"}}})
        }
    }
}

fn bucket_statement(params: &Params, template: usize, target: usize, sid: usize) -> Value {
    let objects = format!("arn:aws:s3:::{BUCKET}/*");
    let data = format!("arn:aws:s3:::{BUCKET}/data/*");
    let bucket = format!("arn:aws:s3:::{BUCKET}");
    let who = principal_arn(params, target);
    let root = format!("arn:aws:iam::{}:root", account(params, target));
    let mut statement = match template {
        0 => {
            json!({"Effect": "Allow", "Principal": {"AWS": who}, "Action": "s3:GetObject", "Resource": data})
        }
        1 => {
            json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "s3:*", "Resource": [bucket, objects]})
        }
        2 => {
            json!({"Effect": "Allow", "Principal": {"AWS": who}, "Action": "s3:ListBucket", "Resource": bucket})
        }
        3 => {
            json!({"Effect": "Allow", "Principal": {"AWS": who}, "Action": "s3:PutObject", "Resource": data})
        }
        4 => json!({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": objects}),
        5 => json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [bucket, objects],
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": [BUCKET_ACCOUNT]}}}),
        6 => json!({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": objects,
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "finance"}}}),
        7 => {
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/public/*")})
        }
        8 => json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [bucket, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        _ => {
            json!({"Effect": "Deny", "Principal": {"AWS": who}, "Action": "s3:PutObject", "Resource": objects})
        }
    };
    statement
        .as_object_mut()
        .unwrap()
        .insert("Sid".into(), json!(format!("P{sid}")));
    statement
}

fn canonical(account: &str) -> Value {
    json!({"type": "CanonicalUser", "id": format!("{account}{account}"), "account": account})
}

fn build(params: &Params) -> (World, Spec, PlanOptions) {
    let accounts: Vec<&str> = ACCOUNTS[..params.accounts].to_vec();
    let principals: Vec<Value> = params
        .principals
        .iter()
        .enumerate()
        .map(|(index, principal)| {
            let statements: Vec<Value> = principal
                .statements
                .iter()
                .map(|t| identity_statement(*t))
                .collect();
            json!({
                "arn": principal_arn(params, index),
                "kind": if principal.user { "user" } else { "role" },
                "inlinePolicies": if statements.is_empty() { json!([]) } else {
                    json!([{"name": "base", "document": {"Version": "2012-10-17", "Statement": statements}}])
                },
            })
        })
        .collect();
    let ownership = ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter", ""][params.ownership];
    let acls = ownership != "BucketOwnerEnforced";
    let mut bucket = json!({"name": BUCKET, "account": BUCKET_ACCOUNT, "region": "us-east-1"});
    if !ownership.is_empty() {
        bucket["ownership"] = json!(ownership);
    }
    if let Some(statements) = &params.policy {
        let statements: Vec<Value> = statements
            .iter()
            .enumerate()
            .map(|(sid, (template, target))| bucket_statement(params, *template, *target, sid))
            .collect();
        if !statements.is_empty() {
            bucket["policy"] = json!({"Version": "2012-10-17", "Statement": statements});
        }
    }
    if let Some([a, b, c, d]) = params.block {
        bucket["publicAccessBlock"] = json!({"BlockPublicAcls": a, "IgnorePublicAcls": b, "BlockPublicPolicy": c, "RestrictPublicBuckets": d});
    }
    let mut grants = vec![json!({"grantee": canonical(BUCKET_ACCOUNT), "permission": "FULL_CONTROL"})];
    if acls {
        match params.bucket_acl {
            1 => grants.push(json!({"grantee": canonical(ACCOUNTS[1]), "permission": "READ"})),
            2 => grants.push(json!({"grantee": canonical(accounts[accounts.len() - 1]), "permission": "WRITE"})),
            3 => grants.push(json!({"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "permission": "WRITE"})),
            4 => grants.push(json!({"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}, "permission": "READ"})),
            _ => {}
        }
    }
    bucket["acl"] = json!({"owner": BUCKET_ACCOUNT, "grants": grants});
    if params.default_kms {
        bucket["defaultEncryption"] =
            json!({"algorithm": "aws:kms", "kmsKeyId": KEY, "bucketKeyEnabled": false});
    }
    let objects: Vec<Value> = params
        .objects
        .iter()
        .enumerate()
        .map(|(index, object)| {
            let owner = if acls {
                account(params, object.owner)
            } else {
                BUCKET_ACCOUNT
            };
            let mut value = json!({"key": OBJECTS[index], "owner": owner});
            if acls {
                let mut grants = vec![json!({"grantee": canonical(owner), "permission": "FULL_CONTROL"})];
                if let Some(to) = object.acl_grant_to {
                    grants.push(json!({"grantee": canonical(account(params, to)), "permission": "READ"}));
                }
                value["acl"] = json!({"owner": owner, "grants": grants});
            }
            match object.encryption {
                1 => value["encryption"] = json!({"algorithm": "AES256"}),
                2 => {
                    value["encryption"] =
                        json!({"algorithm": "aws:kms", "kmsKeyId": KEY, "bucketKeyEnabled": false})
                }
                _ => {}
            }
            value
        })
        .collect();
    bucket["objects"] = json!(objects);
    if let Some((owner, template, _)) = params.access_point {
        let arn = access_point_arn(params, owner);
        let mut point = json!({"name": "prop-ap", "arn": arn, "account": account(params, owner),
            "bucketAccount": BUCKET_ACCOUNT, "networkOrigin": "Internet"});
        if let Some(policy) = access_point_policy(params, &arn, template) {
            point["policy"] = policy;
        }
        bucket["accessPoints"] = json!([point]);
    }
    let mut key_statements = vec![
        json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"}),
    ];
    match params.key_policy {
        1 => key_statements.push(json!({"Sid": "PartnerUse", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", ACCOUNTS[1])}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"})),
        2 => key_statements.push(json!({"Sid": "DenyOthers", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": BUCKET_ACCOUNT}}})),
        3 => key_statements.push(json!({"Sid": "AnyViaS3", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})),
        _ => {}
    }
    let world = json!({
        "formatVersion": 1,
        "accounts": accounts.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        "buckets": [bucket],
        "principals": principals,
        "keys": [{"arn": KEY, "account": BUCKET_ACCOUNT, "region": "us-east-1", "manager": "CUSTOMER",
                  "policy": {"Version": "2012-10-17", "Statement": key_statements}}],
    });
    let world: World = serde_json::from_value(world).unwrap();
    let spec = Spec {
        principal: principal_arn(params, params.spec_principal % params.principals.len()),
        bucket: BUCKET.into(),
        keys: vec![if params.exact_key {
            "data/a.csv".into()
        } else {
            "data/*".into()
        }],
        access: params.access.clone(),
        context: Default::default(),
        access_point: params
            .access_point
            .filter(|(_, _, through)| *through)
            .map(|(owner, _, _)| access_point_arn(params, owner)),
        bucket_account: Default::default(),
        caller_account: Default::default(),
    };
    let options = PlanOptions {
        allow_deny_exception: params.allow_deny_exception,
        allow_ownership_change: false,
    };
    (world, spec, options)
}

// ---------------------------------------------------------------- the independent check

fn caller_of(principal: &Principal) -> String {
    match principal.kind {
        PrincipalKind::User => principal.arn.clone(),
        PrincipalKind::Role => {
            let account = principal.arn.split(':').nth(4).unwrap();
            let name = principal.arn.rsplit('/').next().unwrap();
            format!("arn:aws:sts::{account}:assumed-role/{name}/prop-session")
        }
    }
}

fn with_outsider(world: &World) -> World {
    let mut world = world.clone();
    world.principals.push(Principal {
        arn: OUTSIDER.into(),
        kind: PrincipalKind::Role,
        unique_id: None,
        inline_policies: vec![NamedPolicy {
            name: "admin".into(),
            document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            document_text: None,
        }],
        managed_policies: Vec::new(),
        groups: Vec::new(),
        permissions_boundary: None,
        tags: Default::default(),
    });
    world
}

/// Whether the spec asks for this request (by the spec's principal).
fn requested(spec: &Spec, action: S3Action, key: &str) -> bool {
    let covered = |pattern: &String| match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == pattern,
    };
    let access = spec.access_set();
    let wanted = match action {
        S3Action::Get => Access::Read,
        S3Action::Put => Access::Write,
        S3Action::List => Access::List,
        _ => return false,
    };
    access.contains(&wanted) && spec.keys.iter().any(covered)
}

/// The widenings a plan causes outside the spec: (unexplained, known). `known` holds flips of the
/// spec's own principal that a narrowed (security-sensitive) Deny used to stop: the exemption
/// `ArnNotEquals aws:PrincipalArn` lifts the whole Deny for the principal, not just for the spec's
/// actions and keys (KNOWN DISAGREEMENT, see tests/planner/denies.json
/// `deny-exception-opens-more-than-the-spec`).
fn widenings(world: &World, spec: &Spec, plan: &Plan) -> (Vec<String>, Vec<String>) {
    let mut after = world.clone();
    for edit in &plan.edits {
        set_value(&mut after, &edit.resource, Some(&edit.after)).unwrap();
    }
    let mut problems = Vec::new();
    let mut known = Vec::new();
    // Statements a security-sensitive edit changed: (bucket policy?, index).
    let mut narrowed: Vec<(bool, usize)> = Vec::new();
    for edit in plan.edits.iter().filter(|edit| edit.security_sensitive) {
        let list = |document: Option<&Value>| match document.and_then(|d| d.get("Statement")) {
            Some(Value::Array(items)) => items.clone(),
            Some(single) => vec![single.clone()],
            None => Vec::new(),
        };
        let before_statements = list(edit.before.as_ref());
        let after_statements = list(Some(&edit.after));
        for (index, statement) in before_statements.iter().enumerate() {
            if after_statements.get(index) != Some(statement) {
                narrowed.push((matches!(edit.resource, ResourceRef::BucketPolicy { .. }), index));
            }
        }
    }
    // The requested access is allowed now.
    for probe in probes(world, spec) {
        let decision = explain(&after, &probe.to_request(BUCKET)).unwrap().decision;
        if decision != FinalDecision::Allowed {
            problems.push(format!(
                "requested {:?} `{}` is {decision:?} after the plan",
                probe.action, probe.key
            ));
        }
    }
    let takes_ownership = plan
        .edits
        .iter()
        .any(|edit| matches!(edit.resource, ResourceRef::OwnershipControls { .. }));
    let before = with_outsider(world);
    let after = with_outsider(&after);
    let mut callers: Vec<(String, Option<String>)> = before
        .principals
        .iter()
        .map(|principal| (caller_of(principal), Some(principal.arn.clone())))
        .collect();
    callers.push(("*".into(), None));
    let object_keys = [
        "data/a.csv",
        "data/b.csv",
        "data/new.txt",
        "data",
        "other/x.txt",
        "public/p.txt",
        "data-x/y",
    ];
    let prefixes = ["", "data/", "data/a.csv", "other/", "data"];
    // Directly, and through the world's access point if it has one.
    let mut routes: Vec<Option<String>> = vec![None];
    routes.extend(
        world
            .buckets
            .iter()
            .flat_map(|bucket| bucket.access_points.iter())
            .map(|point| Some(point.arn.clone())),
    );
    for ((caller, arn), route) in callers
        .iter()
        .flat_map(|caller| routes.iter().map(move |route| (caller, route)))
    {
        // A spec through an access point asks for its requests through it only; a direct spec
        // asks for the principal's requests on the bucket's objects, and AWS lets a bucket grant
        // reach them through any access point that lets the principal through too (both must
        // permit): the same principal, action and object, by another route, is what it asked.
        let is_target = arn.as_deref() == Some(spec.principal.as_str())
            && (spec.access_point.is_none() || *route == spec.access_point);
        let own_account = caller.split(':').nth(4) == Some(BUCKET_ACCOUNT);
        let mut context: Vec<(String, ContextEntry)> = arn
            .iter()
            .map(|arn| ("aws:PrincipalArn".to_string(), ContextEntry::Single(arn.clone())))
            .collect();
        if let Some(point) = route {
            context.push((
                "s3:DataAccessPointArn".to_string(),
                ContextEntry::Single(point.clone()),
            ));
        }
        let mut requests: Vec<(S3Action, &str)> = Vec::new();
        for key in object_keys {
            for action in [S3Action::Get, S3Action::Put, S3Action::Delete] {
                requests.push((action, key));
            }
        }
        for prefix in prefixes {
            requests.push((S3Action::List, prefix));
        }
        requests.push((S3Action::PutBucketPolicy, ""));
        for (action, key) in requests {
            if is_target && requested(spec, action, key) {
                continue;
            }
            let request = S3Request {
                principal: caller.clone(),
                action,
                bucket: BUCKET.into(),
                key: key.into(),
                context: context.clone(),
            };
            let was_explained = explain(&before, &request).unwrap();
            let was = was_explained.decision;
            let now = explain(&after, &request).unwrap().decision;
            if was != FinalDecision::Allowed && now == FinalDecision::Allowed {
                if takes_ownership && own_account && action.is_object() {
                    continue;
                }
                let through = route
                    .as_ref()
                    .map(|point| format!(" through `{point}`"))
                    .unwrap_or_default();
                let flip = format!(
                    "{caller} {} on `{key}`{through} flips from {was:?} to Allowed",
                    action.iam_action()
                );
                let denies: Vec<(bool, usize)> = was_explained
                    .gates
                    .iter()
                    .filter(|gate| gate.verdict == Verdict::ExplicitDeny)
                    .flat_map(|gate| gate.deciding.iter())
                    .map(|reference| (reference.kind == PolicyKind::Resource, reference.statement))
                    .collect();
                if is_target && !denies.is_empty() && denies.iter().all(|deny| narrowed.contains(deny)) {
                    known.push(flip);
                } else {
                    problems.push(flip);
                }
            }
        }
    }
    (problems, known)
}

#[derive(Debug, Default)]
struct Outcomes {
    edits: usize,
    no_change: usize,
    blocked: usize,
    proof_failed: usize,
    other: usize,
}

fn classify(outcomes: &mut Outcomes, result: &Result<Plan, PlanError>) {
    match result {
        Ok(plan) if plan.is_empty() => outcomes.no_change += 1,
        Ok(_) => outcomes.edits += 1,
        Err(PlanError::Blocked(_)) => outcomes.blocked += 1,
        Err(PlanError::ProofFailed(_)) => outcomes.proof_failed += 1,
        Err(_) => outcomes.other += 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PLANNER_PROPTEST_CASES=1000 for a longer hunt.
        cases: std::env::var("PLANNER_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_planner_never_widens(params in params()) {
        let (world, spec, options) = build(&params);
        let result = plan(&world, &spec, options);
        if let Err(PlanError::World(error)) = &result {
            prop_assert!(false, "the generated world is invalid: {error}");
        }
        if let Ok(plan) = &result {
            let (mut problems, known) = widenings(&world, &spec, plan);
            // A Deny exemption is confined to the spec's actions and resources: any flip it
            // causes outside the spec is a widening like any other.
            problems.extend(known);
            prop_assert!(
                problems.is_empty(),
                "the plan widens access:\n  {}\nspec: {spec:?}\nedits: {}\nworld: {}",
                problems.join("\n  "),
                serde_json::to_string_pretty(&plan.edits).unwrap(),
                serde_json::to_string(&world).unwrap()
            );
            for check in &plan.proof.checks {
                prop_assert!(check.passed, "a returned plan has a failed proof check: {check:?}");
            }
        }
    }

    /// The for-all argument and the probes agree: every plan the planner returns passes the
    /// argument, and then the independent probes find nothing widened; a plan whose edits the
    /// argument rejects (a planned grant widened to the whole bucket) is caught by the planner's
    /// own proof.
    #[test]
    fn the_argument_and_the_probes_agree(params in params()) {
        let (world, spec, options) = build(&params);
        if let Ok(plan) = plan(&world, &spec, options) {
            let argument = containment(&world, &spec, &plan.edits);
            prop_assert!(argument.failures.is_empty(), "the argument rejects a returned plan: {:?}", argument.failures);
            let (problems, known) = widenings(&world, &spec, &plan);
            prop_assert!(problems.is_empty() && known.is_empty(), "argued contained, yet the probes find: {problems:?} {known:?}");
            // Widen every planned bucket-policy Allow to the whole bucket: the argument rejects it.
            let mut widened = plan.edits.clone();
            let mut changed = false;
            for edit in &mut widened {
                if !matches!(edit.resource, ResourceRef::BucketPolicy { .. }) {
                    continue;
                }
                let before = edit.before.as_ref().and_then(|b| b.get("Statement")).and_then(Value::as_array).map_or(0, Vec::len);
                if let Some(statements) = edit.after.get_mut("Statement").and_then(Value::as_array_mut) {
                    for statement in statements.iter_mut().skip(before) {
                        if statement["Effect"] == json!("Allow") && statement["Action"] == json!("s3:GetObject") {
                            statement["Resource"] = json!(format!("arn:aws:s3:::{BUCKET}/*"));
                            changed = true;
                        }
                    }
                }
            }
            if changed {
                prop_assert!(!containment(&world, &spec, &widened).failures.is_empty(), "the argument accepts a grant on the whole bucket");
            }
        }
    }
}

/// The generator reaches every outcome: plans with edits, blocked specs, already-satisfied specs.
#[test]
fn generator_produces_a_mix() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = params();
    let mut outcomes = Outcomes::default();
    let mut proof_failures = std::collections::BTreeMap::new();
    let mut known_widenings = 0;
    // Plans that write an access point policy, and plans that delegate to an access point.
    let mut point_edits = 0usize;
    let mut delegations = 0usize;
    let mut examples = std::collections::BTreeMap::new();
    let total = 200;
    for _ in 0..total {
        let params = strategy.new_tree(&mut runner).unwrap().current();
        let (world, spec, options) = build(&params);
        let result = plan(&world, &spec, options);
        classify(&mut outcomes, &result);
        if let Ok(plan) = &result {
            point_edits += usize::from(
                plan.edits
                    .iter()
                    .any(|edit| matches!(edit.resource, ResourceRef::AccessPointPolicy { .. })),
            );
            delegations += usize::from(
                plan.edits
                    .iter()
                    .any(|edit| edit.after.to_string().contains("S3fixDelegate")),
            );
            let (problems, known) = widenings(&world, &spec, plan);
            assert!(problems.is_empty(), "the plan widens access: {problems:?}");
            if !known.is_empty() {
                println!(
                    "deny exemption widens: {known:?}\n  spec {spec:?}\n  edits {}\n  world {}",
                    serde_json::to_string(&plan.edits).unwrap(),
                    serde_json::to_string(&world).unwrap()
                );
            }
            known_widenings += usize::from(!known.is_empty());
        }
        if let Err(PlanError::ProofFailed(failures)) = &result {
            for failure in failures {
                // One line per kind of failure.
                for part in failure.split("; ") {
                    let kind = if part.contains("directly on") {
                        "direct KMS use flips to allowed"
                    } else if part.contains("flips to allowed") {
                        "an S3 request flips to allowed"
                    } else if part.contains("is still") {
                        "requested access still denied"
                    } else {
                        "other"
                    };
                    *proof_failures.entry(kind).or_insert(0usize) += 1;
                    examples.entry(kind).or_insert_with(|| {
                        if std::env::var("PROP_DEBUG").is_ok() {
                            format!(
                                "{part}\n    spec {spec:?}\n    world {}",
                                serde_json::to_string(&world).unwrap()
                            )
                        } else {
                            format!("{part}\n    spec {spec:?}")
                        }
                    });
                }
            }
        }
    }
    println!(
        "{total} generated specs: {outcomes:?}; plans whose deny exemption widens beyond the spec (known): {known_widenings}; plans writing an access point policy: {point_edits}; plans delegating to an access point: {delegations}"
    );
    for (kind, count) in &proof_failures {
        println!("proof failure x{count}: {}", examples[kind]);
    }
    assert_eq!(outcomes.other, 0, "{outcomes:?}");
    assert_eq!(known_widenings, 0, "a deny exemption widened beyond the spec");
    assert!(
        point_edits >= 3,
        "too few plans writing an access point policy: {point_edits}"
    );
    assert!(
        delegations >= 3,
        "too few plans delegating to an access point: {delegations}"
    );
    assert!(
        outcomes.edits >= total / 10,
        "too few plans with edits: {outcomes:?}"
    );
    assert!(
        outcomes.blocked >= total / 10,
        "too few blocked specs: {outcomes:?}"
    );
    assert!(
        outcomes.no_change >= 3,
        "too few already-satisfied specs: {outcomes:?}"
    );
}
