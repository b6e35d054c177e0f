//! Data-driven scenarios for `s3fix explain`: every file under `tests/scenarios/*.json` holds one
//! scenario object or an array of them. Each scenario cites the AWS page (`doc`) that states the
//! rule it encodes (`rule`), gives a world (inline `world`, or `worldFile` relative to the repo
//! plus an optional `patch`), a request, and the expected decision, gate verdicts and deciding
//! statements (or an expected error).
//!
//! `patch` is a list of edits applied in order to the loaded world file, each
//! `{"path": "/json/pointer", "value": ...}` (set or replace; a final `-` appends to an array),
//! `{"path": ..., "merge": {...}}` (RFC 7396 merge patch at that place) or
//! `{"path": ..., "remove": true}`.
//!
//! A scenario marked `knownDisagreement` encodes what AWS documents where the model differs: it is
//! not asserted, but the harness prints whether the model currently agrees.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod world_patch;

use s3fix::core::eval::ContextEntry;
use s3fix::core::s3::{Explanation, GateReport, S3Action, S3Request, explain};
use s3fix::core::world::World;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use world_patch::apply_edit;

const GATES: &[&str] = &[
    "identityPolicy",
    "bucketPolicy",
    "aclOwnership",
    "blockPublicAccess",
    "kmsKey",
    "accessPointPolicy",
    "accessPointBlockPublicAccess",
    "vpcEndpointPolicy",
];
const VERDICTS: &[&str] = &[
    "allow",
    "explicitDeny",
    "implicitDeny",
    "notApplicable",
    "unknown",
];
const DECISIONS: &[&str] = &["Allowed", "ExplicitlyDenied", "ImplicitlyDenied", "Unknown"];
const SCENARIO_KEYS: &[&str] = &[
    "name",
    "doc",
    "rule",
    "world",
    "worldFile",
    "patch",
    "request",
    "expect",
    "knownDisagreement",
    "note",
];
const EXPECT_KEYS: &[&str] = &["decision", "gates", "deciding", "codes", "detail", "error"];
const REQUEST_KEYS: &[&str] = &["principal", "action", "bucket", "key", "context"];

/// A scenario with the file it came from.
struct Scenario {
    file: String,
    value: Value,
}

impl Scenario {
    fn name(&self) -> String {
        self.value
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("<unnamed in {}>", self.file), str::to_string)
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load_scenarios() -> (Vec<Scenario>, usize, Vec<String>) {
    let dir = root().join("tests/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().and_then(|ext| ext.to_str()) == Some("json"))
        .collect();
    paths.sort();
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for path in &paths {
        let file = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_string();
        let parsed = std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|error| error.to_string()));
        match parsed {
            Ok(Value::Array(items)) => {
                for value in items {
                    scenarios.push(Scenario {
                        file: file.clone(),
                        value,
                    });
                }
            }
            Ok(value @ Value::Object(_)) => scenarios.push(Scenario { file, value }),
            Ok(_) => problems.push(format!("{file}: neither a scenario object nor an array")),
            Err(error) => problems.push(format!("{file}: invalid JSON: {error}")),
        }
    }
    (scenarios, paths.len(), problems)
}

fn build_world(scenario: &Value) -> Result<World, String> {
    let mut document = match (scenario.get("world"), scenario.get("worldFile")) {
        (Some(world), None) => world.clone(),
        (None, Some(Value::String(file))) => {
            let path = root().join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("worldFile `{}`: {error}", path.display()))?;
            serde_json::from_str(&text).map_err(|error| format!("worldFile `{file}`: {error}"))?
        }
        (Some(_), Some(_)) => return Err("give either `world` or `worldFile`, not both".into()),
        _ => return Err("no `world` or `worldFile`".into()),
    };
    match scenario.get("patch") {
        None => {}
        Some(Value::Array(edits)) => {
            if scenario.get("worldFile").is_none() {
                return Err("`patch` applies only to a `worldFile`".into());
            }
            for edit in edits {
                apply_edit(&mut document, edit)?;
            }
        }
        Some(_) => return Err("`patch` must be an array of edits".into()),
    }
    serde_json::from_value(document).map_err(|error| format!("world does not parse: {error}"))
}

fn build_request(scenario: &Value) -> Result<S3Request, String> {
    let request = scenario
        .get("request")
        .and_then(Value::as_object)
        .ok_or("no `request` object")?;
    if let Some(key) = request.keys().find(|key| !REQUEST_KEYS.contains(&key.as_str())) {
        return Err(format!("unknown request field `{key}`"));
    }
    let text = |field: &str| request.get(field).and_then(Value::as_str).map(str::to_string);
    let principal = text("principal").ok_or("request needs `principal`")?;
    let action_text = text("action").unwrap_or_else(|| "get".to_string());
    let action = S3Action::parse(&action_text).ok_or_else(|| format!("unknown action `{action_text}`"))?;
    let bucket = text("bucket").ok_or("request needs `bucket`")?;
    let key = text("key").unwrap_or_default();
    let mut context = Vec::new();
    if let Some(entries) = request.get("context") {
        let entries = entries.as_object().ok_or("`context` must be an object")?;
        for (name, value) in entries {
            let entry = match value {
                Value::String(text) => ContextEntry::Single(text.clone()),
                Value::Array(items) => ContextEntry::Multi(
                    items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| format!("context `{name}`: values must be strings"))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(format!("context `{name}`: a string or an array of strings")),
            };
            context.push((name.clone(), entry));
        }
    }
    Ok(S3Request {
        principal,
        action,
        bucket,
        key,
        context,
    })
}

fn as_text(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(error) => format!("<{error}>"),
    }
}

/// The actual decision, and per gate the verdict and deciding statements (Sid, else
/// `policy#index`).
fn observed(explanation: &Explanation) -> (String, BTreeMap<String, (String, BTreeSet<String>)>) {
    let mut gates = BTreeMap::new();
    for report in &explanation.gates {
        let deciding = report
            .deciding
            .iter()
            .map(|reference| {
                reference
                    .sid
                    .clone()
                    .unwrap_or_else(|| format!("{}#{}", reference.policy, reference.statement))
            })
            .collect();
        gates.insert(as_text(report.gate), (as_text(report.verdict), deciding));
    }
    (as_text(explanation.decision), gates)
}

/// One gate's report.
fn report_of<'e>(explanation: &'e Explanation, gate: &str) -> Option<&'e GateReport> {
    explanation
        .gates
        .iter()
        .find(|report| as_text(report.gate) == gate)
}

/// An optional `{gate: text}` expectation, validated.
fn per_gate<'v>(
    expect: &'v serde_json::Map<String, Value>,
    field: &str,
) -> Result<Vec<(&'v str, &'v str)>, String> {
    let Some(value) = expect.get(field) else {
        return Ok(Vec::new());
    };
    let entries = value
        .as_object()
        .ok_or(format!("`expect.{field}` must be an object"))?;
    entries
        .iter()
        .map(|(gate, text)| {
            if !GATES.contains(&gate.as_str()) {
                return Err(format!("unknown gate `{gate}` in {field}"));
            }
            let text = text
                .as_str()
                .ok_or(format!("`expect.{field}` values are strings"))?;
            Ok((gate.as_str(), text))
        })
        .collect()
}

/// Validate the expectation's shape, then compare. `Err` = malformed scenario; `Ok` = the
/// mismatches (empty when the model agrees).
fn check(scenario: &Value) -> Result<Vec<String>, String> {
    let expect = scenario
        .get("expect")
        .and_then(Value::as_object)
        .ok_or("no `expect` object")?;
    if let Some(key) = expect.keys().find(|key| !EXPECT_KEYS.contains(&key.as_str())) {
        return Err(format!("unknown expect field `{key}`"));
    }
    let world = build_world(scenario)?;
    let request = build_request(scenario)?;
    let result = explain(&world, &request);

    if let Some(error) = expect.get("error") {
        let wanted = error.as_str().ok_or("`expect.error` must be a string")?;
        if expect.len() != 1 {
            return Err("`expect.error` excludes every other expectation".into());
        }
        return Ok(match result {
            Err(actual) if actual.to_string().contains(wanted) => Vec::new(),
            Err(actual) => vec![format!("error `{actual}` does not contain `{wanted}`")],
            Ok(explanation) => vec![format!(
                "expected an error containing `{wanted}`, got decision {}",
                as_text(explanation.decision)
            )],
        });
    }

    let decision = expect
        .get("decision")
        .and_then(Value::as_str)
        .ok_or("`expect.decision` (or `expect.error`) is required")?;
    if !DECISIONS.contains(&decision) {
        return Err(format!("unknown decision `{decision}`"));
    }
    let explanation = match result {
        Ok(explanation) => explanation,
        Err(error) => return Ok(vec![format!("explain failed: {error}")]),
    };
    let (actual_decision, actual_gates) = observed(&explanation);
    let mut mismatches = Vec::new();
    if actual_decision != decision {
        mismatches.push(format!("decision: expected {decision}, got {actual_decision}"));
    }
    if let Some(gates) = expect.get("gates") {
        let gates = gates.as_object().ok_or("`expect.gates` must be an object")?;
        for (gate, verdict) in gates {
            if !GATES.contains(&gate.as_str()) {
                return Err(format!("unknown gate `{gate}`"));
            }
            let verdict = verdict.as_str().ok_or("gate verdicts are strings")?;
            if !VERDICTS.contains(&verdict) {
                return Err(format!("unknown verdict `{verdict}`"));
            }
            let actual = actual_gates
                .get(gate)
                .map_or("<missing>", |(verdict, _)| verdict.as_str());
            if actual != verdict {
                let detail = report_of(&explanation, gate)
                    .map(|report| report.detail.clone())
                    .unwrap_or_default();
                mismatches.push(format!("{gate}: expected {verdict}, got {actual} ({detail})"));
            }
        }
    }
    for (gate, code) in per_gate(expect, "codes")? {
        let actual = report_of(&explanation, gate)
            .map(|report| as_text(report.code))
            .unwrap_or_default();
        if actual != code {
            mismatches.push(format!("{gate} code: expected {code}, got {actual}"));
        }
    }
    // `detail`: per gate, words its detail or remedy must contain (e.g. the kind of policy).
    for (gate, words) in per_gate(expect, "detail")? {
        let actual = report_of(&explanation, gate)
            .map(|report| format!("{} {}", report.detail, report.remedy.clone().unwrap_or_default()))
            .unwrap_or_default();
        if !actual.contains(words) {
            mismatches.push(format!("{gate} detail: `{words}` not in `{actual}`"));
        }
    }
    if let Some(deciding) = expect.get("deciding") {
        let deciding = deciding
            .as_object()
            .ok_or("`expect.deciding` must be an object")?;
        for (gate, refs) in deciding {
            if !GATES.contains(&gate.as_str()) {
                return Err(format!("unknown gate `{gate}` in deciding"));
            }
            let wanted: BTreeSet<String> = refs
                .as_array()
                .ok_or("deciding lists are arrays of strings")?
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or("deciding entries are strings")
                })
                .collect::<Result<_, _>>()?;
            let actual = actual_gates
                .get(gate)
                .map(|(_, refs)| refs.clone())
                .unwrap_or_default();
            if actual != wanted {
                mismatches.push(format!("{gate} deciding: expected {wanted:?}, got {actual:?}"));
            }
        }
    }
    Ok(mismatches)
}

#[test]
fn scenarios() {
    let (scenarios, files, mut failures) = load_scenarios();
    let mut names = BTreeSet::new();
    let mut disagreements = Vec::new();
    let mut passed = 0;
    for scenario in &scenarios {
        let name = scenario.name();
        let label = format!("{} ({})", name, scenario.file);
        let Some(object) = scenario.value.as_object() else {
            failures.push(format!("{label}: not an object"));
            continue;
        };
        if let Some(key) = object.keys().find(|key| !SCENARIO_KEYS.contains(&key.as_str())) {
            failures.push(format!("{label}: unknown field `{key}`"));
            continue;
        }
        if object
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            failures.push(format!("{label}: no `name`"));
            continue;
        }
        if !names.insert(name.clone()) {
            failures.push(format!("{label}: duplicate name"));
        }
        let doc = object.get("doc").and_then(Value::as_str).unwrap_or_default();
        if !doc.starts_with("https://") {
            failures.push(format!("{label}: no `doc` URL citing the AWS page"));
            continue;
        }
        if object
            .get("rule")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            failures.push(format!("{label}: no `rule`"));
            continue;
        }
        let known = object.get("knownDisagreement").and_then(Value::as_str);
        match (check(&scenario.value), known) {
            (Err(problem), _) => failures.push(format!("{label}: malformed scenario: {problem}")),
            (Ok(mismatches), Some(why)) => {
                let state = if mismatches.is_empty() {
                    "the model now AGREES; remove the mark".to_string()
                } else {
                    format!("model differs: {}", mismatches.join("; "))
                };
                disagreements.push(format!("{label}: {why}\n      -> {state}"));
            }
            (Ok(mismatches), None) if mismatches.is_empty() => passed += 1,
            (Ok(mismatches), None) => {
                failures.push(format!("{label}:\n      {}", mismatches.join("\n      ")));
            }
        }
    }
    println!(
        "{} scenarios in {files} files: {passed} passed, {} known disagreements, {} failures",
        scenarios.len(),
        disagreements.len(),
        failures.len()
    );
    for disagreement in &disagreements {
        println!("KNOWN DISAGREEMENT {disagreement}");
    }
    assert!(
        scenarios.len() >= 30,
        "expected at least 30 scenarios, found {}",
        scenarios.len()
    );
    assert!(
        failures.is_empty(),
        "{} scenario failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn patch_edits_apply() {
    let mut world = serde_json::json!({"a": {"b": [1, 2]}, "c": {"d": 1, "e": 2}});
    apply_edit(&mut world, &serde_json::json!({"path": "/a/b/-", "value": 3})).unwrap();
    apply_edit(&mut world, &serde_json::json!({"path": "/a/b/0", "value": 0})).unwrap();
    apply_edit(
        &mut world,
        &serde_json::json!({"path": "/c", "merge": {"d": null, "f": 3}}),
    )
    .unwrap();
    apply_edit(&mut world, &serde_json::json!({"path": "/a/x", "value": true})).unwrap();
    apply_edit(&mut world, &serde_json::json!({"path": "/a/b/1", "remove": true})).unwrap();
    assert_eq!(
        world,
        serde_json::json!({"a": {"b": [0, 3], "x": true}, "c": {"e": 2, "f": 3}})
    );
    assert!(apply_edit(&mut world, &serde_json::json!({"path": "/nope/x", "value": 1})).is_err());
}
