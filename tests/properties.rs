//! Property tests of the pure core:
//! - the wildcard matcher agrees with a regex translation of the same pattern;
//! - parse → canonical → parse is stable, and the canonical form decides every request the same;
//! - the engine agrees with a deliberately naive reference evaluator on generated policies.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use proptest::prelude::*;
use s3fix::core::eval::{
    Context, ContextEntry, NamedPolicy, Outcome, PolicySet, Request, Requester, ResourceRules, authorize,
    authorize_outcome,
};
use s3fix::core::policy::canonical::canonical;
use s3fix::core::policy::{Pattern, PolicyKind, parse_policy};
use serde_json::{Value, json};

// ---------------------------------------------------------------- wildcard matcher vs regex

fn regex_of(pattern: &str) -> regex::Regex {
    let mut text = String::from("(?s)^");
    for character in pattern.chars() {
        match character {
            '*' => text.push_str(".*"),
            '?' => text.push('.'),
            other => text.push_str(&regex::escape(&other.to_string())),
        }
    }
    text.push('$');
    regex::Regex::new(&text).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn wildcard_matcher_agrees_with_regex(pattern in "[ab/*?é:]{0,10}", input in "[ab/é:]{0,12}") {
        prop_assert_eq!(Pattern::new(&pattern).matches(&input), regex_of(&pattern).is_match(&input),
            "pattern {:?} input {:?}", pattern, input);
    }
}

// ---------------------------------------------------------------- generated worlds

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";
const ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::bucket/data/a.csv",
    "arn:aws:s3:::bucket/logs/b.txt",
    "arn:aws:s3:::bucket",
];
const CALLERS: &[&str] = &[
    "arn:aws:sts::111111111111:assumed-role/app/s1",
    "arn:aws:sts::222222222222:assumed-role/app/s1",
    "arn:aws:iam::222222222222:user/bob",
    "arn:aws:iam::111111111111:user/alice",
];

fn action_patterns() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            Just("s3:GetObject".to_string()),
            Just("s3:Get*".to_string()),
            Just("s3:*Object".to_string()),
            Just("s3:ListBucket".to_string()),
            Just("s3:PUTOBJECT".to_string()),
            Just("*".to_string()),
        ],
        1..3,
    )
}

fn resource_patterns() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            Just("arn:aws:s3:::bucket/*".to_string()),
            Just("arn:aws:s3:::bucket/data/*".to_string()),
            Just("arn:aws:s3:::bucket".to_string()),
            Just("arn:aws:s3:::bucket/??gs/*".to_string()),
            Just("*".to_string()),
        ],
        1..3,
    )
}

fn principal_values() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            Just(ACCOUNT_A.to_string()),
            Just(format!("arn:aws:iam::{ACCOUNT_B}:root")),
            Just("arn:aws:iam::222222222222:role/app".to_string()),
            Just("arn:aws:iam::111111111111:role/app".to_string()),
            Just("arn:aws:sts::222222222222:assumed-role/app/s1".to_string()),
            Just("arn:aws:iam::222222222222:user/bob".to_string()),
            Just("arn:aws:iam::111111111111:user/alice".to_string()),
        ],
        1..3,
    )
}

/// A condition on `aws:SourceIp` / `s3:prefix`, or none.
fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        Just(Some(
            json!({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.1"]}})
        )),
        Just(Some(json!({"StringLike": {"s3:prefix": ["data/*"]}}))),
        Just(Some(json!({"StringEquals": {"aws:PrincipalAccount": ACCOUNT_A}}))),
    ]
}

fn statement(with_principal: bool) -> impl Strategy<Value = Value> {
    (
        prop::bool::ANY,
        prop::bool::ANY,
        action_patterns(),
        prop::bool::ANY,
        resource_patterns(),
        principal_values(),
        prop::bool::ANY,
        condition(),
        prop::bool::ANY,
    )
        .prop_map(
            move |(
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                principals,
                any_principal,
                condition,
                single,
            )| {
                let mut statement = serde_json::Map::new();
                statement.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                let list = |items: &Vec<String>| {
                    if single && items.len() == 1 {
                        json!(items[0])
                    } else {
                        json!(items)
                    }
                };
                statement.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    list(&actions),
                );
                statement.insert(
                    if not_resource { "NotResource" } else { "Resource" }.into(),
                    list(&resources),
                );
                if with_principal {
                    let principal = if any_principal {
                        json!("*")
                    } else {
                        json!({"AWS": list(&principals)})
                    };
                    statement.insert("Principal".into(), principal);
                }
                if let Some(condition) = condition {
                    statement.insert("Condition".into(), condition);
                }
                Value::Object(statement)
            },
        )
}

fn policy(with_principal: bool) -> impl Strategy<Value = Value> {
    prop::collection::vec(statement(with_principal), 1..4)
        .prop_map(|statements| json!({"Version": "2012-10-17", "Statement": statements}))
}

#[derive(Debug, Clone)]
struct Scenario {
    identity: Value,
    resource: Option<Value>,
    caller: &'static str,
    action: &'static str,
    resource_arn: &'static str,
    source_ip: &'static str,
    prefix: Option<&'static str>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        policy(false),
        prop::option::of(policy(true)),
        prop::sample::select(CALLERS),
        prop::sample::select(ACTIONS),
        prop::sample::select(RESOURCES),
        prop::sample::select(&["10.1.2.3", "192.0.2.1", "203.0.113.9"][..]),
        prop::option::of(prop::sample::select(&["data/", "logs/"][..])),
    )
        .prop_map(
            |(identity, resource, caller, action, resource_arn, source_ip, prefix)| Scenario {
                identity,
                resource,
                caller,
                action,
                resource_arn,
                source_ip,
                prefix,
            },
        )
}

fn request_of(scenario: &Scenario) -> Request {
    let mut context = Context::new();
    context.insert(
        "aws:SourceIp",
        ContextEntry::Single(scenario.source_ip.to_string()),
    );
    if let Some(prefix) = scenario.prefix {
        context.insert("s3:prefix", ContextEntry::Single(prefix.to_string()));
    }
    Request::new(
        Requester::parse(scenario.caller).unwrap(),
        scenario.action,
        scenario.resource_arn,
        Some(ACCOUNT_A.to_string()),
        context,
    )
}

fn engine_outcome(identity: &Value, resource: Option<&Value>, request: &Request, fast: bool) -> Outcome {
    let identity = parse_policy(identity, PolicyKind::Identity).unwrap();
    let resource = resource.map(|document| parse_policy(document, PolicyKind::Resource).unwrap());
    let set = PolicySet {
        identity: vec![NamedPolicy {
            name: "identity",
            policy: &identity,
        }],
        resource: resource.as_ref().map(|policy| NamedPolicy {
            name: "resource",
            policy,
        }),
        resource_rules: Some(ResourceRules::Standard),
        ..PolicySet::default()
    };
    if fast {
        authorize_outcome(&set, request).outcome
    } else {
        authorize(&set, request).outcome
    }
}

// ---------------------------------------------------------------- the naive reference evaluator
//
// Written from the IAM documentation in the plainest way, over raw JSON, sharing no code with the
// engine: regexes for wildcards, string comparison for principals, a table for the conditions.

fn as_strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().unwrap().to_string())
            .collect(),
        Value::String(text) => vec![text.clone()],
        _ => vec![],
    }
}

fn naive_ip_in(ip: &str, cidr: &str) -> bool {
    let parse = |text: &str| -> u32 {
        text.split('.')
            .fold(0u32, |acc, part| (acc << 8) | part.parse::<u32>().unwrap())
    };
    let (network, bits) = cidr
        .split_once('/')
        .map_or((cidr, 32), |(n, b)| (n, b.parse().unwrap()));
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    parse(ip) & mask == parse(network) & mask
}

fn naive_condition(condition: &Value, scenario: &Scenario) -> bool {
    let caller_account = scenario.caller.split(':').nth(4).unwrap();
    condition.as_object().unwrap().iter().all(|(operator, keys)| {
        keys.as_object().unwrap().iter().all(|(key, values)| {
            let values = as_strings(values);
            let actual: Option<String> = match key.as_str() {
                "aws:SourceIp" => Some(scenario.source_ip.to_string()),
                "s3:prefix" => scenario.prefix.map(str::to_string),
                "aws:PrincipalAccount" => Some(caller_account.to_string()),
                _ => None,
            };
            match (operator.as_str(), actual) {
                ("IpAddress", Some(ip)) => values.iter().any(|cidr| naive_ip_in(&ip, cidr)),
                ("NotIpAddress", Some(ip)) => !values.iter().any(|cidr| naive_ip_in(&ip, cidr)),
                ("NotIpAddress", None) => true,
                ("StringLike", Some(text)) => values.iter().any(|pattern| regex_of(pattern).is_match(&text)),
                ("StringEquals", Some(text)) => values.contains(&text),
                _ => false,
            }
        })
    })
}

/// `None` = no match; `Some(direct)` = matched, `direct` false when only via account or role ARN.
fn naive_principal(statement: &Value, caller: &str) -> Option<(bool, bool)> {
    let principal = statement.get("Principal")?;
    if principal == "*" {
        return Some((true, false));
    }
    let caller_account = caller.split(':').nth(4).unwrap();
    let role_arn = caller
        .strip_prefix("arn:aws:sts::")
        .and_then(|rest| rest.split_once(":assumed-role/"))
        .map(|(account, rest)| format!("arn:aws:iam::{account}:role/{}", rest.split('/').next().unwrap()));
    let mut best: Option<(bool, bool)> = None;
    for value in as_strings(&principal["AWS"]) {
        let account_form = value == caller_account || value == format!("arn:aws:iam::{caller_account}:root");
        if value == caller {
            best = Some((true, false));
        } else if Some(&value) == role_arn.as_ref() {
            if best.is_none_or(|(direct, _)| !direct) {
                best = Some((false, true));
            }
        } else if account_form && best.is_none() {
            best = Some((false, false));
        }
    }
    best
}

/// (matches, direct grant, role grant)
fn naive_statement(statement: &Value, scenario: &Scenario, resource_policy: bool) -> Option<(bool, bool)> {
    let action_hit = |patterns: Vec<String>| {
        patterns
            .iter()
            .any(|pattern| regex_of(&pattern.to_lowercase()).is_match(&scenario.action.to_lowercase()))
    };
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), _) => action_hit(as_strings(actions)),
        (_, Some(actions)) => !action_hit(as_strings(actions)),
        _ => false,
    };
    let resource_hit = |patterns: Vec<String>| {
        patterns
            .iter()
            .any(|pattern| regex_of(pattern).is_match(scenario.resource_arn))
    };
    let resource = match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(resources), _) => resource_hit(as_strings(resources)),
        (_, Some(resources)) => !resource_hit(as_strings(resources)),
        _ => false,
    };
    if !action || !resource {
        return None;
    }
    let principal = if resource_policy {
        naive_principal(statement, scenario.caller)?
    } else {
        (true, false)
    };
    if let Some(condition) = statement.get("Condition")
        && !naive_condition(condition, scenario)
    {
        return None;
    }
    Some(principal)
}

fn naive_outcome(scenario: &Scenario) -> Outcome {
    let statements = |policy: &Value| policy["Statement"].as_array().unwrap().clone();
    let mut identity_allow = false;
    let mut resource_direct = false;
    let mut resource_any = false;
    for statement in statements(&scenario.identity) {
        if naive_statement(&statement, scenario, false).is_some() {
            if statement["Effect"] == "Deny" {
                return Outcome::ExplicitlyDenied;
            }
            identity_allow = true;
        }
    }
    if let Some(resource) = &scenario.resource {
        for statement in statements(resource) {
            if let Some((direct, role)) = naive_statement(&statement, scenario, true) {
                if statement["Effect"] == "Deny" {
                    return Outcome::ExplicitlyDenied;
                }
                resource_any = true;
                // No boundary or session policy here, so a role-ARN grant acts like a direct one.
                resource_direct |= direct || role;
            }
        }
    }
    let same_account = scenario.caller.split(':').nth(4) == Some(ACCOUNT_A);
    let allowed = if same_account {
        resource_direct || identity_allow
    } else {
        resource_any && identity_allow
    };
    if allowed {
        Outcome::Allowed
    } else {
        Outcome::ImplicitlyDenied
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn engine_agrees_with_naive_reference(scenario in scenario()) {
        let request = request_of(&scenario);
        let expected = naive_outcome(&scenario);
        let full = engine_outcome(&scenario.identity, scenario.resource.as_ref(), &request, false);
        let fast = engine_outcome(&scenario.identity, scenario.resource.as_ref(), &request, true);
        prop_assert_eq!(full, expected, "{:#?}", scenario);
        prop_assert_eq!(fast, expected, "{:#?}", scenario);
    }

    #[test]
    fn canonical_form_is_stable_and_decides_the_same(scenario in scenario()) {
        let request = request_of(&scenario);
        for (document, kind) in [(Some(&scenario.identity), PolicyKind::Identity), (scenario.resource.as_ref(), PolicyKind::Resource)] {
            let Some(document) = document else { continue };
            let once = canonical(document);
            prop_assert_eq!(canonical(&once), once.clone());
            prop_assert!(parse_policy(&once, kind).is_ok());
        }
        let canonical_identity = canonical(&scenario.identity);
        let canonical_resource = scenario.resource.as_ref().map(canonical);
        prop_assert_eq!(
            engine_outcome(&scenario.identity, scenario.resource.as_ref(), &request, true),
            engine_outcome(&canonical_identity, canonical_resource.as_ref(), &request, true)
        );
    }
}

/// The generated scenarios exercise every outcome: the agreement above is not vacuous.
#[test]
fn generated_scenarios_cover_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = scenario();
    let mut counts = std::collections::HashMap::new();
    for _ in 0..600 {
        let scenario = strategy.new_tree(&mut runner).unwrap().current();
        *counts.entry(naive_outcome(&scenario)).or_insert(0) += 1;
    }
    for outcome in [
        Outcome::Allowed,
        Outcome::ExplicitlyDenied,
        Outcome::ImplicitlyDenied,
    ] {
        let count = counts.get(&outcome).copied().unwrap_or(0);
        assert!(
            count >= 30,
            "{outcome:?} appears only {count} times in 600: {counts:?}"
        );
    }
}
