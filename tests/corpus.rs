//! The evaluation corpus: every case under `tests/cases/*.json` encodes one documented AWS rule
//! (its `doc` field cites the page) and asserts the decision and the deciding statements.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use s3fix::core::case::{PolicyCache, evaluate_case, parse_case};
use serde_json::Value;
use std::collections::BTreeSet;

fn cases() -> Vec<(String, Value)> {
    let mut cases = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases"))
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).collect())
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        if path.extension().and_then(|ext| ext.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let file = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_string();
        let Value::Array(items) = parsed else {
            cases.push((file, Value::Null));
            continue;
        };
        for item in items {
            cases.push((file.clone(), item));
        }
    }
    cases
}

fn deciding_set(value: &Value) -> BTreeSet<(String, u64, Option<String>)> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    (
                        item.get("policy")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        item.get("statement").and_then(Value::as_u64).unwrap_or(u64::MAX),
                        item.get("sid").and_then(Value::as_str).map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn string_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Check one case; `Err` describes every mismatch.
fn check(case: &Value) -> Result<(), String> {
    let expect = case.get("expect").ok_or("no `expect`")?;
    if case
        .get("doc")
        .and_then(Value::as_str)
        .is_none_or(|doc| !doc.starts_with("https://"))
    {
        return Err("no `doc` citing the AWS page".into());
    }
    let text = case.to_string();
    let outcome = parse_case(&text).and_then(|parsed| evaluate_case(&parsed, false, &mut PolicyCache::new()));
    if let Some(error) = expect.get("error").and_then(Value::as_str) {
        return match outcome {
            Err(actual) if actual.to_string().contains(error) => Ok(()),
            Err(actual) => Err(format!("expected an error containing `{error}`, got `{actual}`")),
            Ok(result) => Err(format!(
                "expected an error containing `{error}`, got {:?}",
                result.decision
            )),
        };
    }
    let result = outcome.map_err(|error| format!("unexpected error: {error}"))?;
    // The full evaluation (with per-statement reports) must decide exactly as the fast path.
    let mut full = parse_case(&text)
        .and_then(|parsed| evaluate_case(&parsed, true, &mut PolicyCache::new()))
        .map_err(|error| format!("unexpected error with reasons: {error}"))?;
    if full
        .reasons
        .take()
        .is_none_or(|reports| reports.is_empty() && !result.deciding.is_empty())
    {
        return Err("the full evaluation gave no reports".into());
    }
    if full != result {
        return Err(format!(
            "fast and full evaluation disagree: {result:?} vs {full:?}"
        ));
    }
    let actual = serde_json::to_value(&result).map_err(|error| error.to_string())?;
    let mut problems = Vec::new();
    if let Some(decision) = expect.get("decision") {
        if actual.get("decision") != Some(decision) {
            problems.push(format!(
                "decision: expected {decision}, got {}",
                actual["decision"]
            ));
        }
    } else {
        problems.push("no expected decision".to_string());
    }
    if let Some(deciding) = expect.get("deciding") {
        let expected = deciding_set(deciding);
        let got = deciding_set(&actual["deciding"]);
        if expected != got {
            problems.push(format!("deciding: expected {expected:?}, got {got:?}"));
        }
    }
    if let Some(missing) = expect.get("missingAllow") {
        let expected = string_set(missing);
        let got = string_set(actual.get("missingAllow").unwrap_or(&Value::Null));
        if expected != got {
            problems.push(format!("missingAllow: expected {expected:?}, got {got:?}"));
        }
    }
    if let Some(warnings) = expect.get("warnings") {
        let got: Vec<String> = result.warnings.clone();
        for wanted in string_set(warnings) {
            if !got.iter().any(|warning| warning.contains(&wanted)) {
                problems.push(format!("warning containing `{wanted}` missing (got {got:?})"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn corpus_matches_documented_aws_behaviour() {
    let cases = cases();
    assert!(
        cases.len() >= 150,
        "the corpus must hold at least 150 cases, found {}",
        cases.len()
    );
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    for (file, case) in &cases {
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
            .to_string();
        if !names.insert(name.clone()) {
            failures.push(format!("{file}: {name}: duplicate name"));
        }
        if let Err(problem) = check(case) {
            failures.push(format!("{file}: {name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
