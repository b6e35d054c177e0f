//! `s3fix drift` over world files: in sync, drifted, fixed, a malformed spec, and the lock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::process::{Command, Output};

const WORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-world.json");
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/report-reader.toml");

fn s3fix(args: &[&str], directory: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(args)
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn setup() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(WORLD, directory.path().join("world.json")).unwrap();
    directory
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn drifted_then_fixed_then_in_sync() {
    let directory = setup();
    let drifted = s3fix(
        &["drift", SPEC, "--world", "world.json", "--output", "json"],
        directory.path(),
    );
    assert_eq!(drifted.status.code(), Some(2));
    let json = report(&drifted);
    assert_eq!(json["specs"][0]["status"], "drifted");
    assert_eq!(json["specs"][0]["resources"].as_array().unwrap().len(), 4);
    assert_eq!(json["summary"]["drifted"], 1);
    let untouched = std::fs::read(WORLD).unwrap();
    assert_eq!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        untouched,
        "drift without --fix writes nothing"
    );

    // The article's fix switches Object Ownership: security-sensitive, so an unattended fix
    // leaves it for review (exit 2, nothing written) unless --allow-security-sensitive.
    let review = s3fix(
        &[
            "drift",
            SPEC,
            "--world",
            "world.json",
            "--fix",
            "--yes",
            "--output",
            "json",
        ],
        directory.path(),
    );
    assert_eq!(review.status.code(), Some(2));
    let json = report(&review);
    assert_eq!(json["specs"][0]["status"], "needsReview");
    assert!(
        json["specs"][0]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("object-ACL grants stop applying"),
        "the plan's warnings are in the JSON report: {json}"
    );
    let text = s3fix(
        &["drift", SPEC, "--world", "world.json", "--fix", "--yes"],
        directory.path(),
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("NeedsReview: ")
            && text.contains("  warning: with ACLs disabled, object-ACL grants stop applying"),
        "and in the text report: {text}"
    );
    let message = json["specs"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Object Ownership of `my-bucket`") && message.contains("--allow-security-sensitive"),
        "{message}"
    );
    assert!(
        json["specs"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|resource| resource["securitySensitive"] == true)
    );
    assert_eq!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        untouched,
        "a security-sensitive fix is not applied unattended"
    );

    let fixed = s3fix(
        &[
            "drift",
            SPEC,
            "--world",
            "world.json",
            "--fix",
            "--yes",
            "--allow-security-sensitive",
            "--output",
            "json",
        ],
        directory.path(),
    );
    assert_eq!(fixed.status.code(), Some(2), "drift was found (and fixed)");
    assert_eq!(report(&fixed)["specs"][0]["status"], "fixed");
    assert!(
        s3fix::journal::Journal::new(&directory.path().join(".s3fix/journal"))
            .operations()
            .len()
            == 1,
        "the fix is journaled"
    );

    let in_sync = s3fix(
        &["drift", SPEC, "--world", "world.json", "--output", "json"],
        directory.path(),
    );
    assert_eq!(in_sync.status.code(), Some(0));
    assert_eq!(report(&in_sync)["specs"][0]["status"], "inSync");
}

#[test]
fn fix_needs_yes() {
    let directory = setup();
    let output = s3fix(
        &["drift", SPEC, "--world", "world.json", "--fix"],
        directory.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
}

#[test]
fn a_malformed_spec_is_an_error_and_the_others_are_still_checked() {
    let directory = setup();
    std::fs::write(
        directory.path().join("bad.toml"),
        "principal = \"nope\"\nbucket = \"b\"\nkeys = []\naccess = []\n",
    )
    .unwrap();
    let output = s3fix(
        &[
            "drift",
            "bad.toml",
            SPEC,
            "--world",
            "world.json",
            "--output",
            "json",
        ],
        directory.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let json = report(&output);
    assert_eq!(json["specs"][0]["status"], "error");
    assert!(json["specs"][0]["message"].as_str().unwrap().contains("bad.toml"));
    assert_eq!(json["specs"][1]["status"], "drifted");
}

#[test]
fn a_held_lock_stops_a_second_run() {
    let directory = setup();
    std::fs::create_dir_all(directory.path().join(".s3fix")).unwrap();
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(directory.path().join(".s3fix/drift.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let output = s3fix(&["drift", SPEC, "--world", "world.json"], directory.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("holds the lock"), "{stderr}");
    drop(lock);
    let output = s3fix(&["drift", SPEC, "--world", "world.json"], directory.path());
    assert_eq!(output.status.code(), Some(2), "released: the run goes ahead");
}
