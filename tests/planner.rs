//! Data-driven planner cases and plan-file round trips.
//!
//! Every file under `tests/planner/*.json` holds one case object or an array of them. A case cites
//! the AWS page (`doc`) for the cause it encodes (`cause`), gives a world (inline `world`, or
//! `worldFile` relative to the repo plus an optional `patch`, same format as tests/scenarios.rs),
//! a `spec` (the TOML spec as JSON; it is serialised to TOML and parsed with `Spec::parse`, so it
//! is validated like a spec file), `options`, and what the planner must produce:
//!
//! - `{"edits": [{"kind", "operation", "sids", "securitySensitive", "narrowed"?, "contains"?}],
//!   "noChanges": bool, "warnings"?: [substring]}` — the edits in apply order; `sids` are exactly
//!   the Sids the edit's `after` holds that its `before` did not; `narrowed` lists the indices of
//!   existing statements the edit may change (every other existing statement must be kept
//!   byte-for-byte); `contains` lists statements the `after` document must hold exactly;
//!   `stillDenied` lists requests (`principal`, `action`, `key`, `principalArn`?, `context`?) outside the spec
//!   that must not be Allowed once the edits are applied.
//!   `proof` lists substrings the proof's checks must hold.
//! - `{"blocked": [substring, ...]}` — the planner refuses, and its message holds every substring.
//! - `{"proofFailed": [substring, ...]}` — the edits fail their proof (nothing is written), and
//!   the message holds every substring.
//!
//! For every case that is not blocked the harness also checks, independently of the planner's own
//! proof, that every proof check passed and that applying the edits to the world makes every
//! probe request `Allowed`.
//!
//! A case marked `knownDisagreement` encodes what AWS documents where the planner differs: it is
//! printed, not asserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod world_patch;

use s3fix::core::eval::ContextEntry;
use s3fix::core::plan::{Plan, PlanError, PlanOptions, ResourceRef, plan, probes, set_value};
use s3fix::core::s3::{FinalDecision, S3Action, S3Request, explain};
use s3fix::core::spec::Spec;
use s3fix::core::world::World;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use world_patch::{apply_edit, escape};

const CASE_KEYS: &[&str] = &[
    "name",
    "doc",
    "cause",
    "world",
    "worldFile",
    "patch",
    "spec",
    "options",
    "expect",
    "knownDisagreement",
    "note",
];
const EXPECT_KEYS: &[&str] = &[
    "edits",
    "noChanges",
    "blocked",
    "warnings",
    "stillDenied",
    "proof",
    "proofFailed",
];
const EDIT_KEYS: &[&str] = &[
    "kind",
    "operation",
    "sids",
    "securitySensitive",
    "narrowed",
    "contains",
];
const OPTION_KEYS: &[&str] = &["allowDenyException", "allowOwnershipChange"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn world_document(case: &Value) -> Result<Value, String> {
    let mut document = match (case.get("world"), case.get("worldFile")) {
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
    match case.get("patch") {
        None => {}
        Some(Value::Array(edits)) => {
            if case.get("worldFile").is_none() {
                return Err("`patch` applies only to a `worldFile`".into());
            }
            for edit in edits {
                apply_edit(&mut document, edit)?;
            }
        }
        Some(_) => return Err("`patch` must be an array of edits".into()),
    }
    Ok(document)
}

fn build_world(case: &Value) -> Result<World, String> {
    serde_json::from_value(world_document(case)?).map_err(|error| format!("world does not parse: {error}"))
}

/// The case's spec, validated exactly as a spec file is: JSON → TOML text → `Spec::parse`.
fn build_spec(case: &Value) -> Result<Spec, String> {
    let value = case.get("spec").ok_or("no `spec`")?;
    let spec: Spec = serde_json::from_value(value.clone()).map_err(|error| format!("spec: {error}"))?;
    let text = toml::to_string(&spec).map_err(|error| format!("spec to TOML: {error}"))?;
    Spec::parse(&text, "case.toml").map_err(|error| format!("spec rejected: {error}"))
}

fn build_options(case: &Value) -> Result<PlanOptions, String> {
    let Some(options) = case.get("options") else {
        return Ok(PlanOptions::default());
    };
    let options = options.as_object().ok_or("`options` must be an object")?;
    if let Some(key) = options.keys().find(|key| !OPTION_KEYS.contains(&key.as_str())) {
        return Err(format!("unknown option `{key}`"));
    }
    let flag = |name: &str| -> Result<bool, String> {
        options
            .get(name)
            .map(|value| value.as_bool().ok_or(format!("`{name}` is a boolean")))
            .transpose()
            .map(|value| value.unwrap_or(false))
    };
    Ok(PlanOptions {
        allow_deny_exception: flag("allowDenyException")?,
        allow_ownership_change: flag("allowOwnershipChange")?,
    })
}

// ---------------------------------------------------------------- checks

fn kind_of(resource: &ResourceRef) -> &'static str {
    match resource {
        ResourceRef::InlinePolicy { .. } => "inlinePolicy",
        ResourceRef::BucketPolicy { .. } => "bucketPolicy",
        ResourceRef::OwnershipControls { .. } => "ownershipControls",
        ResourceRef::BucketAcl { .. } => "bucketAcl",
        ResourceRef::KeyPolicy { .. } => "keyPolicy",
        ResourceRef::AccessPointPolicy { .. } => "accessPointPolicy",
        _ => "other",
    }
}

fn statements(document: Option<&Value>) -> Vec<Value> {
    match document.and_then(|document| document.get("Statement")) {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    }
}

fn sids(document: Option<&Value>) -> BTreeSet<String> {
    statements(document)
        .iter()
        .filter_map(|statement| statement.get("Sid").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn text_of(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(error) => format!("<{error}>"),
    }
}

/// What every plan must satisfy regardless of the case: its proof passed, and (checked here, not
/// by the planner) applying its edits makes every requested request allowed.
fn check_plan_invariants(world: &World, spec: &Spec, plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    for check in &plan.proof.checks {
        if !check.passed {
            problems.push(format!("proof check `{}` failed: {}", check.name, check.detail));
        }
    }
    let mut edited = world.clone();
    for edit in &plan.edits {
        if let Err(error) = set_value(&mut edited, &edit.resource, Some(&edit.after)) {
            problems.push(format!("applying {}: {error}", edit.resource.describe()));
        }
        if edit.operation == s3fix::core::plan::Operation::Create && edit.before.is_some() {
            problems.push(format!(
                "{} is a create with a before value",
                edit.resource.describe()
            ));
        }
    }
    for probe in probes(world, spec) {
        match explain(&edited, &probe.to_request(&spec.bucket)) {
            Ok(explanation) if explanation.decision == FinalDecision::Allowed => {}
            Ok(explanation) => problems.push(format!(
                "after applying, {} {} `{}` is {:?}",
                probe.principal,
                probe.action.iam_action(),
                probe.key,
                explanation.decision
            )),
            Err(error) => problems.push(format!("explain failed after applying: {error}")),
        }
    }
    problems
}

/// Compare one planned edit with its expectation. `Err` = malformed expectation.
fn check_edit(
    spec: &Spec,
    index: usize,
    edit: &s3fix::core::plan::Edit,
    wanted: &Value,
) -> Result<Vec<String>, String> {
    let wanted = wanted.as_object().ok_or("each expected edit is an object")?;
    if let Some(key) = wanted.keys().find(|key| !EDIT_KEYS.contains(&key.as_str())) {
        return Err(format!("unknown expected-edit field `{key}`"));
    }
    let label = format!("edit {index} ({})", edit.resource.describe());
    let mut mismatches = Vec::new();
    let kind = wanted
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("expected edit needs `kind`")?;
    if ![
        "inlinePolicy",
        "bucketPolicy",
        "ownershipControls",
        "bucketAcl",
        "keyPolicy",
        "accessPointPolicy",
    ]
    .contains(&kind)
    {
        return Err(format!("unknown edit kind `{kind}`"));
    }
    if kind_of(&edit.resource) != kind {
        mismatches.push(format!(
            "{label}: kind {} instead of {kind}",
            kind_of(&edit.resource)
        ));
    }
    if let Some(operation) = wanted.get("operation") {
        let operation = operation.as_str().ok_or("`operation` is a string")?;
        if !["create", "update"].contains(&operation) {
            return Err(format!("unknown operation `{operation}`"));
        }
        if text_of(edit.operation) != operation {
            mismatches.push(format!(
                "{label}: operation {} instead of {operation}",
                text_of(edit.operation)
            ));
        }
    }
    let sensitive = wanted
        .get("securitySensitive")
        .map(|value| value.as_bool().ok_or("`securitySensitive` is a boolean"))
        .transpose()?
        .unwrap_or(false);
    if edit.security_sensitive != sensitive {
        mismatches.push(format!(
            "{label}: securitySensitive {} instead of {sensitive}",
            edit.security_sensitive
        ));
    }
    if kind == "bucketAcl" {
        // The reset: the owner's FULL_CONTROL, nothing else.
        let grants = edit
            .after
            .get("grants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let owner = edit.after.get("owner").cloned().unwrap_or(Value::Null);
        let only_owner = grants.len() == 1
            && grants[0].get("permission") == Some(&json!("FULL_CONTROL"))
            && (grants[0].pointer("/grantee/account") == Some(&owner)
                || grants[0].pointer("/grantee/id") == Some(&owner));
        if !only_owner {
            mismatches.push(format!(
                "{label}: the bucket ACL is not reset to the owner's FULL_CONTROL: {}",
                edit.after
            ));
        }
    } else if kind != "ownershipControls" {
        // `sids` may be left out only where a case cannot know the new Sid's name.
        if let Some(listed) = wanted.get("sids") {
            let wanted_sids: BTreeSet<String> = listed
                .as_array()
                .ok_or("`sids` is an array")?
                .iter()
                .map(|sid| sid.as_str().map(str::to_string).ok_or("sids are strings"))
                .collect::<Result<_, _>>()?;
            let before = sids(edit.before.as_ref());
            let added: BTreeSet<String> = sids(Some(&edit.after)).difference(&before).cloned().collect();
            if added != wanted_sids {
                mismatches.push(format!("{label}: new Sids {added:?} instead of {wanted_sids:?}"));
            }
        }
        // Existing statements are kept byte-for-byte unless the case marks them as narrowed.
        let narrowed: BTreeSet<usize> = wanted
            .get("narrowed")
            .map(|value| value.as_array().ok_or("`narrowed` is an array of indices"))
            .transpose()?
            .into_iter()
            .flatten()
            .map(|item| {
                item.as_u64()
                    .map(|n| n as usize)
                    .ok_or("narrowed indices are integers")
            })
            .collect::<Result<_, _>>()?;
        let after_statements = statements(Some(&edit.after));
        for (position, original) in statements(edit.before.as_ref()).iter().enumerate() {
            if narrowed.contains(&position) {
                if sensitive {
                    // A narrowed Deny: same statement, with the principal exempted.
                    let Some(now) = after_statements.get(position) else {
                        mismatches.push(format!("{label}: narrowed statement {position} is gone"));
                        continue;
                    };
                    let mut without_condition = now.clone();
                    let mut original_without = original.clone();
                    if let (Some(a), Some(b)) = (
                        without_condition.as_object_mut(),
                        original_without.as_object_mut(),
                    ) {
                        a.remove("Condition");
                        b.remove("Condition");
                    }
                    if without_condition != original_without {
                        mismatches.push(format!(
                            "{label}: narrowed statement {position} changed beyond its Condition"
                        ));
                    }
                    let exempted = now
                        .pointer("/Condition/ArnNotEquals")
                        .and_then(Value::as_object)
                        .and_then(|keys| {
                            keys.iter()
                                .find(|(key, _)| key.eq_ignore_ascii_case("aws:PrincipalArn"))
                                .map(|(_, value)| value.clone())
                        })
                        .is_some_and(|value| match value {
                            Value::String(text) => text == spec.principal,
                            Value::Array(items) => items.contains(&json!(spec.principal)),
                            _ => false,
                        });
                    if !exempted {
                        mismatches.push(format!(
                            "{label}: narrowed statement {position} does not exempt `{}` with ArnNotEquals aws:PrincipalArn",
                            spec.principal
                        ));
                    }
                    for (operator, keys) in original
                        .get("Condition")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        for (key, value) in keys.as_object().into_iter().flatten() {
                            if now
                                .pointer(&format!("/Condition/{}/{}", escape(operator), escape(key)))
                                .is_none_or(|kept| operator != "ArnNotEquals" && kept != value)
                            {
                                mismatches.push(format!(
                                    "{label}: narrowed statement {position} lost condition {operator} {key}"
                                ));
                            }
                        }
                    }
                }
                continue;
            }
            if !after_statements.contains(original) {
                mismatches.push(format!(
                    "{label}: existing statement {position} is not kept byte-for-byte: {original}"
                ));
            }
        }
        if let Some(before) = &edit.before {
            // Everything else in the document (Version, Id) stays as it was.
            let strip = |document: &Value| {
                let mut document = document.clone();
                if let Some(object) = document.as_object_mut() {
                    object.remove("Statement");
                }
                document
            };
            if strip(before) != strip(&edit.after) {
                mismatches.push(format!("{label}: the document changed outside its statements"));
            }
        }
        for statement in wanted
            .get("contains")
            .map(|value| value.as_array().ok_or("`contains` is an array of statements"))
            .transpose()?
            .into_iter()
            .flatten()
        {
            if !after_statements.contains(statement) {
                mismatches.push(format!(
                    "{label}: after does not contain {statement}; after = {}",
                    edit.after
                ));
            }
        }
    } else if edit.after != json!("BucketOwnerEnforced") {
        mismatches.push(format!(
            "{label}: ownership set to {} instead of BucketOwnerEnforced",
            edit.after
        ));
    }
    Ok(mismatches)
}

/// `Err` = malformed case; `Ok` = mismatches (empty when the planner agrees).
fn check(case: &Value) -> Result<Vec<String>, String> {
    let expect = case
        .get("expect")
        .and_then(Value::as_object)
        .ok_or("no `expect` object")?;
    if let Some(key) = expect.keys().find(|key| !EXPECT_KEYS.contains(&key.as_str())) {
        return Err(format!("unknown expect field `{key}`"));
    }
    let world = build_world(case)?;
    let spec = build_spec(case)?;
    let options = build_options(case)?;
    let result = plan(&world, &spec, options);

    for (field, refused) in [("proofFailed", "a failed proof"), ("blocked", "blocked")] {
        let Some(listed) = expect.get(field) else {
            continue;
        };
        if expect.len() != 1 {
            return Err(format!("`expect.{field}` excludes every other expectation"));
        }
        let wanted: Vec<&str> = listed
            .as_array()
            .ok_or(format!("`{field}` is an array of substrings"))?
            .iter()
            .map(|item| item.as_str().ok_or(format!("{field} entries are strings")))
            .collect::<Result<_, _>>()?;
        if wanted.is_empty() {
            return Err(format!("`{field}` names at least one substring"));
        }
        return Ok(match result {
            Err(error)
                if matches!(
                    (&error, field),
                    (PlanError::Blocked(_), "blocked") | (PlanError::ProofFailed(_), "proofFailed")
                ) =>
            {
                // What the user reads: the message, then the typed hint on its own line.
                let text = match error.remedy() {
                    Some(hint) => format!("{error}\nhint: {hint}"),
                    None => error.to_string(),
                };
                wanted
                    .iter()
                    .filter(|substring| !text.contains(**substring))
                    .map(|substring| format!("the {field} message lacks `{substring}`:\n{text}"))
                    .collect()
            }
            Err(error) => vec![format!("expected {refused}, got another error: {error}")],
            Ok(plan) => vec![format!(
                "expected {refused}, got a plan with edits: {}",
                plan.edits
                    .iter()
                    .map(|edit| format!("{} {}", text_of(edit.operation), edit.resource.describe()))
                    .collect::<Vec<_>>()
                    .join("; ")
            )],
        });
    }

    let wanted_edits = expect
        .get("edits")
        .ok_or("`expect.edits` (or `expect.blocked`) is required")?
        .as_array()
        .ok_or("`expect.edits` is an array")?;
    let no_changes = expect
        .get("noChanges")
        .ok_or("`expect.noChanges` is required with `edits`")?
        .as_bool()
        .ok_or("`noChanges` is a boolean")?;
    if no_changes != wanted_edits.is_empty() {
        return Err("`noChanges` must be true exactly when `edits` is empty".into());
    }
    let plan = match result {
        Ok(plan) => plan,
        Err(error) => return Ok(vec![format!("expected a plan, got: {error}")]),
    };
    let mut mismatches = check_plan_invariants(&world, &spec, &plan);
    if plan.is_empty() != no_changes {
        mismatches.push(format!(
            "noChanges: expected {no_changes}, plan has {} edits",
            plan.edits.len()
        ));
    }
    if plan.edits.len() != wanted_edits.len() {
        mismatches.push(format!(
            "expected {} edits, got {}: {}",
            wanted_edits.len(),
            plan.edits.len(),
            plan.edits
                .iter()
                .map(|edit| format!(
                    "{} {} (new Sids {:?})",
                    text_of(edit.operation),
                    edit.resource.describe(),
                    sids(Some(&edit.after))
                        .difference(&sids(edit.before.as_ref()))
                        .collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    for (index, (edit, wanted)) in plan.edits.iter().zip(wanted_edits).enumerate() {
        mismatches.extend(check_edit(&spec, index, edit, wanted)?);
    }
    // Requests outside the spec that must not become Allowed once the plan is applied.
    if let Some(requests) = expect.get("stillDenied") {
        let mut edited = world.clone();
        for edit in &plan.edits {
            set_value(&mut edited, &edit.resource, Some(&edit.after)).map_err(|error| error.to_string())?;
        }
        for request in requests
            .as_array()
            .ok_or("`stillDenied` is an array of requests")?
        {
            let field = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_string);
            let principal = field("principal").ok_or("stillDenied requests need `principal`")?;
            let action_text = field("action").ok_or("stillDenied requests need `action`")?;
            let action =
                S3Action::parse(&action_text).ok_or_else(|| format!("unknown action `{action_text}`"))?;
            let key = field("key").unwrap_or_default();
            let mut context = Vec::new();
            if let Some(arn) = field("principalArn") {
                context.push(("aws:PrincipalArn".to_string(), ContextEntry::Single(arn)));
            }
            for (key, value) in request
                .get("context")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let value = value.as_str().ok_or("stillDenied context values are strings")?;
                context.push((key.clone(), ContextEntry::Single(value.to_string())));
            }
            let request = S3Request {
                principal: principal.clone(),
                action,
                bucket: spec.bucket.clone(),
                key: key.clone(),
                context,
            };
            let decision = explain(&edited, &request)
                .map_err(|error| error.to_string())?
                .decision;
            if decision == FinalDecision::Allowed {
                mismatches.push(format!(
                    "after applying, {principal} {action_text} `{key}` is Allowed (must stay denied)"
                ));
            }
        }
    }
    if let Some(wanted) = expect.get("proof") {
        let text: String = plan
            .proof
            .checks
            .iter()
            .map(|check| format!("{}: {}\n", check.name, check.detail))
            .collect();
        for wanted in wanted.as_array().ok_or("`proof` is an array of substrings")? {
            let wanted = wanted.as_str().ok_or("proof substrings are strings")?;
            if !text.contains(wanted) {
                mismatches.push(format!("the proof lacks `{wanted}`:\n{text}"));
            }
        }
    }
    if let Some(warnings) = expect.get("warnings") {
        for wanted in warnings.as_array().ok_or("`warnings` is an array")? {
            let wanted = wanted.as_str().ok_or("warnings are strings")?;
            if !plan.warnings.iter().any(|warning| warning.contains(wanted)) {
                mismatches.push(format!("no warning contains `{wanted}`: {:?}", plan.warnings));
            }
        }
    }
    Ok(mismatches)
}

struct Case {
    file: String,
    value: Value,
}

fn load_cases() -> (Vec<Case>, usize, Vec<String>) {
    let dir = root().join("tests/planner");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().and_then(|ext| ext.to_str()) == Some("json"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
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
                    cases.push(Case {
                        file: file.clone(),
                        value,
                    });
                }
            }
            Ok(value @ Value::Object(_)) => cases.push(Case { file, value }),
            Ok(_) => problems.push(format!("{file}: neither a case object nor an array")),
            Err(error) => problems.push(format!("{file}: invalid JSON: {error}")),
        }
    }
    (cases, paths.len(), problems)
}

#[test]
fn planner_cases() {
    let (cases, files, mut failures) = load_cases();
    let mut names = BTreeSet::new();
    let mut disagreements = Vec::new();
    let mut passed = 0;
    for case in &cases {
        let name = case
            .value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_string();
        let label = format!("{name} ({})", case.file);
        let Some(object) = case.value.as_object() else {
            failures.push(format!("{label}: not an object"));
            continue;
        };
        if let Some(key) = object.keys().find(|key| !CASE_KEYS.contains(&key.as_str())) {
            failures.push(format!("{label}: unknown field `{key}`"));
            continue;
        }
        if name == "<unnamed>" || name.is_empty() {
            failures.push(format!("{label}: no `name`"));
            continue;
        }
        if !names.insert(name.clone()) {
            failures.push(format!("{label}: duplicate name"));
        }
        if !object
            .get("doc")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .starts_with("https://")
        {
            failures.push(format!("{label}: no `doc` URL citing the AWS page"));
            continue;
        }
        if object
            .get("cause")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            failures.push(format!("{label}: no `cause`"));
            continue;
        }
        let known = object.get("knownDisagreement").and_then(Value::as_str);
        match (check(&case.value), known) {
            (Err(problem), _) => failures.push(format!("{label}: malformed case: {problem}")),
            (Ok(mismatches), Some(why)) => {
                let state = if mismatches.is_empty() {
                    "the planner now AGREES; remove the mark".to_string()
                } else {
                    format!("planner differs: {}", mismatches.join("; "))
                };
                disagreements.push(format!("{label}: {why}\n      -> {state}"));
            }
            (Ok(mismatches), None) if mismatches.is_empty() => passed += 1,
            (Ok(mismatches), None) => {
                failures.push(format!("{label}:\n      {}", mismatches.join("\n      ")))
            }
        }
    }
    println!(
        "{} planner cases in {files} files: {passed} passed, {} known disagreements, {} failures",
        cases.len(),
        disagreements.len(),
        failures.len()
    );
    for disagreement in &disagreements {
        println!("KNOWN DISAGREEMENT {disagreement}");
    }
    assert!(
        cases.len() >= 20,
        "expected at least 20 planner cases, found {}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} planner case failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn patch_edits_apply() {
    let mut world = json!({"a": {"b": [1, 2]}, "c": {"d": 1, "e": 2}});
    apply_edit(&mut world, &json!({"path": "/a/b/-", "value": 3})).unwrap();
    apply_edit(&mut world, &json!({"path": "/a/b/0", "value": 0})).unwrap();
    apply_edit(&mut world, &json!({"path": "/c", "merge": {"d": null, "f": 3}})).unwrap();
    apply_edit(&mut world, &json!({"path": "/a/x", "value": true})).unwrap();
    apply_edit(&mut world, &json!({"path": "/a/b/1", "remove": true})).unwrap();
    assert_eq!(
        world,
        json!({"a": {"b": [0, 3], "x": true}, "c": {"e": 2, "f": 3}})
    );
    assert!(apply_edit(&mut world, &json!({"path": "/nope/x", "value": 1})).is_err());
}

// ---------------------------------------------------------------- round trips through the CLI

const ARTICLE_WORLD: &str = "plans/examples/article-world.json";
const ARTICLE_SPEC: &str = "plans/examples/report-reader.toml";

fn s3fix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A case's world and spec written to files, as a user would have them.
fn case_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cases, _, _) = load_cases();
    let case = cases
        .iter()
        .find(|case| case.value.get("name").and_then(Value::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no planner case `{name}`"));
    let world = world_document(&case.value).unwrap();
    let spec = build_spec(&case.value).unwrap();
    let world_path = dir.join(format!("{name}.world.json"));
    std::fs::write(&world_path, serde_json::to_string_pretty(&world).unwrap()).unwrap();
    let spec_path = dir.join(format!("{name}.toml"));
    std::fs::write(&spec_path, toml::to_string(&spec).unwrap()).unwrap();
    (world_path, spec_path)
}

#[test]
fn plan_file_round_trips_through_show() {
    let dir = tempfile::tempdir().unwrap();
    // The article spec, rewritten to a temp TOML file the way a user writes one.
    let spec = Spec::parse(
        &std::fs::read_to_string(root().join(ARTICLE_SPEC)).unwrap(),
        ARTICLE_SPEC,
    )
    .unwrap();
    let spec_path = dir.path().join("reader.toml");
    std::fs::write(&spec_path, toml::to_string(&spec).unwrap()).unwrap();
    let plan_path = dir.path().join("reader.plan.json");
    let output = s3fix(&[
        "plan",
        path_text(&spec_path),
        "--world",
        ARTICLE_WORLD,
        "-o",
        path_text(&plan_path),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let file_text = std::fs::read_to_string(&plan_path).unwrap();
    let file: Value = serde_json::from_str(&file_text).unwrap();

    let shown = s3fix(&["show", path_text(&plan_path), "--output", "json"]);
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let shown_text = String::from_utf8(shown.stdout).unwrap();
    let shown_value: Value = serde_json::from_str(&shown_text).unwrap();
    assert_eq!(shown_value, file, "show --output json differs from the plan file");
    assert_eq!(
        shown_text.trim_end(),
        file_text.trim_end(),
        "show --output json is not the file byte for byte"
    );

    // `plan --output json` prints the same document the file holds.
    let printed = s3fix(&[
        "plan",
        path_text(&spec_path),
        "--world",
        ARTICLE_WORLD,
        "--output",
        "json",
    ]);
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed.get("edits"), file.get("edits"));
    assert_eq!(printed.get("spec"), file.get("spec"));

    // The file is a `Plan`, and matches what the library plans for the same inputs.
    let parsed: Plan = serde_json::from_str(&file_text).unwrap();
    let world: World =
        serde_json::from_str(&std::fs::read_to_string(root().join(ARTICLE_WORLD)).unwrap()).unwrap();
    let direct = plan(&world, &spec, PlanOptions::default()).unwrap();
    assert_eq!(parsed.edits, direct.edits);
    assert_eq!(parsed.spec, direct.spec);
    assert_eq!(parsed.fingerprints, direct.fingerprints);
    assert_eq!(parsed.proof, direct.proof);
}

#[test]
fn plan_serde_round_trip_is_lossless() {
    let world: World =
        serde_json::from_str(&std::fs::read_to_string(root().join(ARTICLE_WORLD)).unwrap()).unwrap();
    let spec = Spec::parse(
        &std::fs::read_to_string(root().join(ARTICLE_SPEC)).unwrap(),
        ARTICLE_SPEC,
    )
    .unwrap();
    let mut plans = vec![plan(&world, &spec, PlanOptions::default()).unwrap()];
    // Every planner case that yields a plan, too.
    let (cases, _, _) = load_cases();
    for case in &cases {
        let (Ok(world), Ok(spec), Ok(options)) = (
            build_world(&case.value),
            build_spec(&case.value),
            build_options(&case.value),
        ) else {
            continue;
        };
        if let Ok(plan) = plan(&world, &spec, options) {
            plans.push(plan);
        }
    }
    assert!(plans.len() > 5, "too few plans to round-trip: {}", plans.len());
    for mut original in plans {
        original.source.world = Some("w.json".into());
        original.source.bucket_role = Some("arn:aws:iam::111111111111:role/a".into());
        let text = serde_json::to_string_pretty(&original).unwrap();
        let back: Plan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, original);
        assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
        let value = serde_json::to_value(&original).unwrap();
        let back: Plan = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), value);
    }
}

#[test]
fn show_rejects_broken_plan_files() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("good.plan.json");
    let output = s3fix(&[
        "plan",
        ARTICLE_SPEC,
        "--world",
        ARTICLE_WORLD,
        "-o",
        path_text(&plan_path),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();

    let mut unknown_field = good.clone();
    unknown_field
        .as_object_mut()
        .unwrap()
        .insert("surprise".into(), json!(1));
    let mut nested_unknown = good.clone();
    nested_unknown["edits"][0]
        .as_object_mut()
        .unwrap()
        .insert("extra".into(), json!(true));
    let mut wrong_version = good.clone();
    wrong_version["formatVersion"] = json!(2);
    let bad: Vec<(&str, String, &str)> = vec![
        (
            "unknown-field.json",
            serde_json::to_string(&unknown_field).unwrap(),
            "surprise",
        ),
        (
            "nested-unknown.json",
            serde_json::to_string(&nested_unknown).unwrap(),
            "extra",
        ),
        (
            "wrong-version.json",
            serde_json::to_string(&wrong_version).unwrap(),
            "version",
        ),
        ("bad.json", "{\"formatVersion\": 1, \"spec\": ".to_string(), ""),
        ("empty.json", String::new(), ""),
    ];
    for (name, text, mentions) in bad {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for format in ["text", "json"] {
            let output = s3fix(&["show", path_text(&path), "--output", format]);
            let message = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{name}: {message}");
            assert!(
                message.contains(name),
                "{name}: the message does not name the file: {message}"
            );
            assert!(
                message.contains(mentions),
                "{name}: the message does not mention `{mentions}`: {message}"
            );
            assert!(output.stdout.is_empty(), "{name}: printed a plan anyway");
        }
    }
    let missing = dir.path().join("missing.plan.json");
    let output = s3fix(&["show", path_text(&missing)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("missing.plan.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn detailed_exitcode_reports_changes() {
    let output = s3fix(&[
        "plan",
        ARTICLE_SPEC,
        "--world",
        ARTICLE_WORLD,
        "--detailed-exitcode",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let output = s3fix(&["plan", ARTICLE_SPEC, "--world", ARTICLE_WORLD]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let dir = tempfile::tempdir().unwrap();
    let (world, spec) = case_files(dir.path(), "already-satisfied-cross-account");
    let plan_path = dir.path().join("none.plan.json");
    let output = s3fix(&[
        "plan",
        path_text(&spec),
        "--world",
        path_text(&world),
        "--detailed-exitcode",
        "-o",
        path_text(&plan_path),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The empty plan still round-trips.
    let shown = s3fix(&["show", path_text(&plan_path), "--output", "json"]);
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let shown: Plan = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(shown.is_empty());

    let (world, spec) = case_files(dir.path(), "cross-account-missing-identity-and-bucket-grant");
    let output = s3fix(&[
        "plan",
        path_text(&spec),
        "--world",
        path_text(&world),
        "--detailed-exitcode",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));

    // A blocked spec is an error, not "changes".
    let (world, spec) = case_files(dir.path(), "scp-does-not-allow-s3");
    let output = s3fix(&[
        "plan",
        path_text(&spec),
        "--world",
        path_text(&world),
        "--detailed-exitcode",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn malformed_specs_are_rejected_without_writing_a_plan() {
    let good = std::fs::read_to_string(root().join(ARTICLE_SPEC)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("unknown-key.toml", good.replace("keys =", "kees ="), "kees"),
        (
            "bad-bucket.toml",
            good.replace("bucket = \"my-bucket\"", "bucket = \"My_Bucket\""),
            "bucket",
        ),
        (
            "empty-keys.toml",
            good.replace("keys = [\"data/*\"]", "keys = []"),
            "keys",
        ),
        (
            "bad-principal.toml",
            good.replace(
                "arn:aws:iam::222222222222:role/my-app-role",
                "arn:aws:sts::222222222222:assumed-role/r/s",
            ),
            "principal",
        ),
        (
            "bad-access.toml",
            good.replace("\"list\"", "\"delete\""),
            "delete",
        ),
        ("middle-star.toml", good.replace("data/*", "da*ta/"), "keys"),
        ("not-toml.toml", "principal = ".to_string(), "not-toml.toml"),
    ];
    for (name, text, field) in cases {
        assert_ne!(text, good, "{name}: the replacement did not apply");
        let spec_path = dir.path().join(name);
        std::fs::write(&spec_path, text).unwrap();
        let plan_path = dir.path().join(format!("{name}.plan.json"));
        let output = s3fix(&[
            "plan",
            path_text(&spec_path),
            "--world",
            ARTICLE_WORLD,
            "-o",
            path_text(&plan_path),
            "--detailed-exitcode",
        ]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{name}: {message}");
        assert!(
            message.contains(name),
            "{name}: the message does not name the file: {message}"
        );
        assert!(
            message.contains(field),
            "{name}: the message does not name `{field}`: {message}"
        );
        assert!(!plan_path.exists(), "{name}: a plan file was written");
    }
}
