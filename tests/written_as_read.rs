//! Written as read: a world file whose bucket policy is written one statement per line and whose
//! key policy is one line is planned, applied and rolled back through the CLI; the stored texts
//! differ from the originals only by the inserted statements, and rollback restores their bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const WORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-world.json");
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/report-reader.toml");

fn s3fix(args: &[&str], directory: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(args)
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn succeeded(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A document written the way people keep policies in a repository: one statement per line.
fn one_statement_per_line(document: &Value) -> String {
    let statements: Vec<String> = document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|statement| format!("    {statement}"))
        .collect();
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
        statements.join(",\n")
    )
}

/// The article world with the texts of its bucket policy (per line) and key policy (one line).
fn world_with_texts() -> (Value, String, String) {
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(WORLD).unwrap()).unwrap();
    let bucket_text = one_statement_per_line(&world["buckets"][0]["policy"]);
    let key_text = world["keys"][0]["policy"].to_string();
    world["buckets"][0]["policyText"] = Value::from(bucket_text.clone());
    world["keys"][0]["policyText"] = Value::from(key_text.clone());
    (world, bucket_text, key_text)
}

fn setup() -> (tempfile::TempDir, String, String, Vec<u8>) {
    let directory = tempfile::tempdir().unwrap();
    let (world, bucket_text, key_text) = world_with_texts();
    // In the order s3fix writes a world file, so an untouched file is byte-for-byte comparable.
    let world: s3fix::core::world::World = serde_json::from_value(world).unwrap();
    let mut bytes = serde_json::to_vec_pretty(&world).unwrap();
    bytes.push(b'\n');
    std::fs::write(directory.path().join("world.json"), &bytes).unwrap();
    let planned = s3fix(
        &["plan", SPEC, "--world", "world.json", "-o", "plan.json"],
        directory.path(),
    );
    succeeded(&planned);
    (directory, bucket_text, key_text, bytes)
}

fn stored(directory: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(directory.join("world.json")).unwrap()).unwrap()
}

/// `after` is `before` with text inserted at one place only, which is returned.
fn inserted(before: &str, after: &str) -> String {
    let common_prefix = before
        .bytes()
        .zip(after.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let common_suffix = before
        .bytes()
        .rev()
        .zip(after.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(before.len() - common_prefix);
    assert_eq!(
        common_prefix + common_suffix,
        before.len(),
        "something besides an insertion changed:\n{before}\n---\n{after}"
    );
    after[common_prefix..after.len() - common_suffix].to_string()
}

#[test]
fn a_per_line_bucket_policy_gains_only_its_new_statement_lines_and_rolls_back_byte_for_byte() {
    let (directory, bucket_text, key_text, original_file) = setup();
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(directory.path().join("plan.json")).unwrap()).unwrap();
    let bucket_edit = plan["edits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edit| edit["resource"]["kind"] == "bucketPolicy")
        .expect("the article plan edits the bucket policy");
    assert_eq!(bucket_edit["beforeText"], Value::from(bucket_text.clone()));
    succeeded(&s3fix(&["apply", "plan.json", "--yes"], directory.path()));

    let world = stored(directory.path());
    let after_text = world["buckets"][0]["policyText"].as_str().unwrap().to_string();
    assert_eq!(Value::from(after_text.clone()), bucket_edit["afterText"]);
    assert_eq!(
        serde_json::from_str::<Value>(&after_text).unwrap(),
        world["buckets"][0]["policy"]
    );
    // The only change: a separator and one line per new statement, after the last statement.
    let added = inserted(&bucket_text, &after_text);
    assert!(added.starts_with(",\n    {"), "{added:?}");
    for line in added.trim_start_matches(",\n").split(",\n") {
        assert!(
            line.starts_with("    {") && line.ends_with('}') && !line.contains('\n'),
            "{line:?}"
        );
        serde_json::from_str::<Value>(line.trim()).expect("each new line is one statement");
    }
    // A key policy, where edited, stays one line.
    let key_after = world["keys"][0]["policyText"].as_str().unwrap();
    assert!(!key_after.contains('\n'));
    if key_after != key_text {
        inserted(&key_text, key_after);
    }

    let journal = s3fix::journal::Journal::new(&directory.path().join(".s3fix/journal")).operations();
    let id = journal[0].file_stem().unwrap().to_string_lossy().to_string();
    succeeded(&s3fix(&["rollback", &id], directory.path()));
    let world = stored(directory.path());
    assert_eq!(world["buckets"][0]["policyText"], Value::from(bucket_text));
    let restored = std::fs::read_to_string(directory.path().join("world.json")).unwrap();
    assert!(
        restored == String::from_utf8(original_file).unwrap(),
        "{restored}"
    );

    // The rollback journaled the text it replaced: undoing it puts the applied text back.
    let operations = s3fix::journal::Journal::new(&directory.path().join(".s3fix/journal")).operations();
    let rollback_id = operations
        .iter()
        .map(|path| path.file_stem().unwrap().to_string_lossy().to_string())
        .find(|other| *other != id)
        .unwrap();
    succeeded(&s3fix(&["rollback", &rollback_id], directory.path()));
    assert_eq!(
        stored(directory.path())["buckets"][0]["policyText"],
        Value::from(after_text)
    );
}

#[test]
fn the_plan_diff_shows_untouched_statements_as_context() {
    let (directory, bucket_text, _, _) = setup();
    let shown = s3fix(&["show", "plan.json"], directory.path());
    succeeded(&shown);
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    let first_statement = bucket_text.lines().nth(3).unwrap();
    assert!(text.contains(&format!("    {first_statement}")), "{text}");
    assert!(!text.contains(&format!("-{first_statement}")), "{text}");
}

#[test]
fn a_hand_edited_after_text_is_refused_with_zero_writes() {
    let (directory, _, _, original_file) = setup();
    let path = directory.path().join("plan.json");
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let edit = plan["edits"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|edit| edit["resource"]["kind"] == "bucketPolicy")
        .unwrap();
    // Same document, other bytes: still refused, the text is part of the contract.
    let reflowed =
        serde_json::to_string(&serde_json::from_str::<Value>(edit["afterText"].as_str().unwrap()).unwrap())
            .unwrap();
    edit["afterText"] = Value::from(reflowed);
    std::fs::write(&path, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let refused = s3fix(&["apply", "plan.json", "--yes"], directory.path());
    assert_ne!(refused.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("would write a text other than the one s3fix plans"),
        "{stderr}"
    );
    let unchanged = std::fs::read(directory.path().join("world.json")).unwrap();
    assert!(unchanged == original_file, "the world file changed");
}

#[test]
fn a_text_that_disagrees_with_its_policy_is_refused_naming_the_field() {
    let directory = tempfile::tempdir().unwrap();
    let (mut world, _, _) = world_with_texts();
    world["buckets"][0]["policyText"] = Value::from("{\"Version\": \"2012-10-17\", \"Statement\": []}");
    std::fs::write(
        directory.path().join("world.json"),
        serde_json::to_vec_pretty(&world).unwrap(),
    )
    .unwrap();
    let refused = s3fix(&["plan", SPEC, "--world", "world.json"], directory.path());
    assert_ne!(refused.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("buckets[0].policyText"), "{stderr}");
}

#[test]
fn a_world_without_texts_plans_exactly_as_before() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(WORLD, directory.path().join("world.json")).unwrap();
    succeeded(&s3fix(
        &["plan", SPEC, "--world", "world.json", "-o", "plan.json"],
        directory.path(),
    ));
    let plan = std::fs::read_to_string(directory.path().join("plan.json")).unwrap();
    assert!(
        !plan.contains("beforeText") && !plan.contains("afterText"),
        "{plan}"
    );
}

const AP_WORLD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/plans/examples/access-point-world.json"
);
const AP_SPEC: &str = "principal = \"arn:aws:iam::222222222222:role/spark\"\nbucket = \"lake\"\nkeys = [\"published/*\"]\naccess = [\"read\"]\naccess_point = \"arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap\"\n";

#[test]
fn an_access_point_policy_read_as_text_gains_only_its_new_statement_and_rolls_back_byte_for_byte() {
    let directory = tempfile::tempdir().unwrap();
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(AP_WORLD).unwrap()).unwrap();
    let point = &mut world["buckets"][0]["accessPoints"][0];
    assert_eq!(point["name"], "lake-ap");
    let point_text = one_statement_per_line(&point["policy"]);
    point["policyText"] = Value::from(point_text.clone());
    let world: s3fix::core::world::World = serde_json::from_value(world).unwrap();
    let mut original = serde_json::to_vec_pretty(&world).unwrap();
    original.push(b'\n');
    std::fs::write(directory.path().join("world.json"), &original).unwrap();
    std::fs::write(directory.path().join("spec.toml"), AP_SPEC).unwrap();
    succeeded(&s3fix(
        &["plan", "spec.toml", "--world", "world.json", "-o", "plan.json"],
        directory.path(),
    ));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(directory.path().join("plan.json")).unwrap()).unwrap();
    let point_edit = plan["edits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edit| edit["resource"]["kind"] == "accessPointPolicy")
        .expect("spark is missing from lake-ap's policy for published/*");
    assert_eq!(point_edit["beforeText"], Value::from(point_text.clone()));

    succeeded(&s3fix(&["apply", "plan.json", "--yes"], directory.path()));
    let stored_point = stored(directory.path())["buckets"][0]["accessPoints"][0].clone();
    let after_text = stored_point["policyText"].as_str().unwrap().to_string();
    assert_eq!(Value::from(after_text.clone()), point_edit["afterText"]);
    assert_eq!(
        serde_json::from_str::<Value>(&after_text).unwrap(),
        stored_point["policy"]
    );
    let added = inserted(&point_text, &after_text);
    assert!(
        added.starts_with(",\n    {") && added.matches('\n').count() == 1,
        "{added:?}"
    );

    let id = s3fix::journal::Journal::new(&directory.path().join(".s3fix/journal")).operations()[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string();
    succeeded(&s3fix(&["rollback", &id], directory.path()));
    assert!(
        std::fs::read(directory.path().join("world.json")).unwrap() == original,
        "the world file is not restored byte for byte"
    );
}

#[test]
fn an_access_point_policy_text_that_disagrees_with_its_policy_is_refused_naming_the_field() {
    let directory = tempfile::tempdir().unwrap();
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(AP_WORLD).unwrap()).unwrap();
    world["buckets"][0]["accessPoints"][0]["policyText"] =
        Value::from("{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    std::fs::write(
        directory.path().join("world.json"),
        serde_json::to_vec_pretty(&world).unwrap(),
    )
    .unwrap();
    std::fs::write(directory.path().join("spec.toml"), AP_SPEC).unwrap();
    let refused = s3fix(&["plan", "spec.toml", "--world", "world.json"], directory.path());
    assert_ne!(refused.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("buckets[0].accessPoints[0].policyText"),
        "{stderr}"
    );
}
