//! Golden-file tests of what people read: every `--help` page, the main error messages, and
//! rendered plans and explanations. The expected text lives in `tests/golden/*.txt`; after an
//! intended change, rewrite them with `S3FIX_BLESS=1 cargo test --test cli_golden` and review
//! the diff. Also: usage errors exit 1, colour and quiet switches, completions, man pages, file
//! kinds and `--force`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const WORLD: &str = "plans/examples/article-world.json";
const SPEC: &str = "plans/examples/report-reader.toml";
const APP_SESSION: &str = "arn:aws:sts::222222222222:assumed-role/my-app-role/session1";

/// `s3fix ARGS` in the crate root with a bare environment: no AWS settings or credentials from
/// this machine, no colour unless asked for, no instance-metadata lookups.
fn s3fix_with(args: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .args(args)
        .current_dir(ROOT)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn s3fix(args: &[&str]) -> Output {
    s3fix_with(args, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compare `actual` with `tests/golden/NAME`, or rewrite it when `S3FIX_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = Path::new(ROOT).join("tests/golden").join(name);
    if std::env::var_os("S3FIX_BLESS").is_some_and(|value| value == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}: run S3FIX_BLESS=1 cargo test --test cli_golden",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!(
            "{} differs (S3FIX_BLESS=1 rewrites it after an intended change):\n{diff}",
            path.display()
        );
    }
}

const SUBCOMMANDS: &[&str] = &[
    "simulate",
    "explain",
    "plan",
    "show",
    "apply",
    "rollback",
    "drift",
    "snapshot",
    "spec",
    "completions",
    "man",
];

#[test]
fn every_help_page_matches_its_golden_file() {
    let output = s3fix(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    golden("help.txt", &text(&output.stdout));
    for subcommand in SUBCOMMANDS {
        let output = s3fix(&[subcommand, "--help"]);
        assert_eq!(output.status.code(), Some(0), "{subcommand}");
        let page = text(&output.stdout);
        assert!(page.contains("Examples:"), "{subcommand} --help has no examples");
        golden(&format!("help-{subcommand}.txt"), &page);
    }
}

#[test]
fn main_help_lists_the_exit_codes() {
    let page = text(&s3fix(&["--help"]).stdout);
    for code in [
        "  0  success",
        "  1  error",
        "  2  a result",
        "  3  apply",
        "  4  rollback",
    ] {
        assert!(page.contains(code), "{code} missing from s3fix --help");
    }
    assert!(page.contains("usage (unknown flag, missing argument)"));
}

#[test]
fn usage_errors_exit_1_not_2() {
    for args in [
        &["--bogus"][..],
        &["plan"],
        &["explain", "s3://b/k"],
        &["completions", "tcsh"],
        &[],
    ] {
        let output = s3fix(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(output.stdout.is_empty() || args.is_empty(), "{args:?}");
    }
    golden(
        "error-unknown-flag.txt",
        &text(&s3fix(&["plan", "--bogus"]).stderr),
    );
    golden("error-missing-argument.txt", &text(&s3fix(&["plan"]).stderr));
}

#[test]
fn rendered_plans_and_explanations_match_their_golden_files() {
    let plan = s3fix(&["plan", SPEC, "--world", WORLD]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    golden("plan-article.txt", &text(&plan.stdout));
    let deny = s3fix(&[
        "plan",
        "tests/golden/fixtures/deny-reader.toml",
        "--world",
        "tests/golden/fixtures/deny-world.json",
        "--allow-deny-exception",
    ]);
    assert_eq!(deny.status.code(), Some(0), "{}", text(&deny.stderr));
    golden("plan-deny-exception.txt", &text(&deny.stdout));
    let explain = s3fix(&[
        "explain",
        "s3://my-bucket/data/report.csv",
        "--principal",
        APP_SESSION,
        "--world",
        WORLD,
    ]);
    assert_eq!(explain.status.code(), Some(2), "{}", text(&explain.stderr));
    golden("explain-article.txt", &text(&explain.stdout));
}

#[test]
fn a_deny_exception_diff_shows_the_changed_deny_and_the_added_statements_apart() {
    let deny = text(
        &s3fix(&[
            "plan",
            "tests/golden/fixtures/deny-reader.toml",
            "--world",
            "tests/golden/fixtures/deny-world.json",
            "--allow-deny-exception",
        ])
        .stdout,
    );
    let changed = deny.find("@@ changed: Statement[1] \"DenyUntaggedCallers\" (Deny) @@");
    let added = deny.find("@@ added: Statement[2]");
    assert!(matches!((changed, added), (Some(c), Some(a)) if c < a), "{deny}");
    // The document says "*", and so does the diff.
    assert!(deny.contains("      \"Principal\": \"*\","), "{deny}");
    assert!(!deny.contains("[\n   +      \"*\""), "{deny}");
}

/// Extra environment variables for one run.
type Environment<'a> = &'a [(&'a str, &'a str)];

/// A temporary directory's path replaced by `<TMP>`, so golden files do not depend on it.
fn scrub(text: &str, directory: &Path) -> String {
    text.replace(&directory.display().to_string(), "<TMP>")
}

fn write_temp(directory: &Path, name: &str, contents: &str) -> PathBuf {
    let path = directory.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn main_error_messages_match_their_golden_files() {
    let directory = tempfile::tempdir().unwrap();
    let temp = directory.path();
    let bad_account = std::fs::read_to_string(Path::new(ROOT).join(WORLD))
        .unwrap()
        .replacen("\"id\": \"111111111111\"", "\"id\": \"1111\"", 1);
    let bad_world = write_temp(temp, "bad-account.json", &bad_account);
    let bad_world = bad_world.to_str().unwrap();
    let cases: &[(&str, Vec<&str>, Environment)] = &[
        ("error-show-world-file.txt", vec!["show", WORLD], &[]),
        (
            "error-spec-caller-role.txt",
            vec![
                "plan",
                "tests/golden/fixtures/bad-caller-role.toml",
                "--world",
                WORLD,
            ],
            &[],
        ),
        (
            "error-context-source-ip.txt",
            vec![
                "explain",
                "s3://my-bucket/data/report.csv",
                "--principal",
                APP_SESSION,
                "--world",
                WORLD,
                "--context",
                "aws:SourceIp=999.1.1.1",
            ],
            &[],
        ),
        (
            "error-world-account-id.txt",
            vec!["plan", SPEC, "--world", bad_world],
            &[],
        ),
        (
            "error-missing-profile.txt",
            vec![
                "explain",
                "s3://my-bucket/k",
                "--principal",
                APP_SESSION,
                "--profile",
                "nosuch",
            ],
            &[],
        ),
        (
            "error-no-credentials.txt",
            vec!["explain", "s3://my-bucket/k", "--principal", APP_SESSION],
            &[],
        ),
        (
            "error-connection-refused.txt",
            vec![
                "explain",
                "s3://my-bucket/k",
                "--principal",
                APP_SESSION,
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "example"),
            ],
        ),
        (
            "error-not-an-s3-url.txt",
            vec![
                "snapshot",
                "my-bucket",
                "--principal",
                APP_SESSION,
                "-o",
                "w.json",
            ],
            &[],
        ),
    ];
    for (name, args, environment) in cases {
        let output = s3fix_with(args, environment);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", text(&output.stderr));
        assert!(output.stdout.is_empty(), "{name}: nothing on stdout on error");
        let stderr = scrub(&text(&output.stderr), temp);
        assert!(
            !stderr.contains("(hint:"),
            "{name}: hints are on their own line: {stderr}"
        );
        assert!(
            stderr.lines().count() <= 2,
            "{name}: one line and one hint: {stderr}"
        );
        golden(name, &stderr);
    }
}

#[test]
fn sdk_detail_appears_only_with_verbose() {
    let args = [
        "explain",
        "s3://my-bucket/k",
        "--principal",
        APP_SESSION,
        "--endpoint-url",
        "http://127.0.0.1:9",
    ];
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "example"),
    ];
    let quiet = text(&s3fix_with(&args, &credentials).stderr);
    assert!(quiet.contains("connection refused"), "{quiet}");
    assert!(!quiet.contains("DispatchFailure"), "{quiet}");
    let mut verbose_args = args.to_vec();
    verbose_args.push("--verbose");
    let verbose = text(&s3fix_with(&verbose_args, &credentials).stderr);
    assert!(verbose.contains("detail: dispatch failure"), "{verbose}");
    assert!(
        !verbose.contains("example\""),
        "no secret in the detail: {verbose}"
    );
}

#[test]
fn plan_out_refuses_to_overwrite_a_world_file_unless_forced() {
    let directory = tempfile::tempdir().unwrap();
    let world = directory.path().join("world.json");
    std::fs::copy(Path::new(ROOT).join(WORLD), &world).unwrap();
    let before = std::fs::read(&world).unwrap();
    let world_arg = world.to_str().unwrap();
    let refused = s3fix(&["plan", SPEC, "--world", world_arg, "-o", world_arg]);
    assert_eq!(refused.status.code(), Some(1));
    golden(
        "error-plan-out-world-file.txt",
        &scrub(&text(&refused.stderr), directory.path()),
    );
    assert_eq!(std::fs::read(&world).unwrap(), before, "the world is untouched");
    let plan = directory.path().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    assert_eq!(
        s3fix(&["plan", SPEC, "--world", WORLD, "-o", plan_arg])
            .status
            .code(),
        Some(0)
    );
    // A plan file may be replaced by a new plan; --force replaces anything.
    assert_eq!(
        s3fix(&["plan", SPEC, "--world", WORLD, "-o", plan_arg])
            .status
            .code(),
        Some(0)
    );
    let notes = write_temp(directory.path(), "notes.txt", "keep");
    let notes_arg = notes.to_str().unwrap();
    assert_eq!(
        s3fix(&["plan", SPEC, "--world", WORLD, "-o", notes_arg])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        s3fix(&["plan", SPEC, "--world", WORLD, "-o", notes_arg, "--force"])
            .status
            .code(),
        Some(0)
    );
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(written["kind"], "s3fix-plan");
}

#[test]
fn readers_name_the_kind_of_a_wrong_file() {
    let directory = tempfile::tempdir().unwrap();
    let plan = directory.path().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    assert_eq!(
        s3fix(&["plan", SPEC, "--world", WORLD, "-o", plan_arg])
            .status
            .code(),
        Some(0)
    );
    let as_world = s3fix(&["plan", SPEC, "--world", plan_arg]);
    assert!(
        text(&as_world.stderr).contains("this is a plan file, not a world file"),
        "{}",
        text(&as_world.stderr)
    );
    let journal_dir = directory.path().to_str().unwrap();
    let as_journal = s3fix(&["rollback", plan_arg, "--journal-dir", journal_dir]);
    assert_eq!(as_journal.status.code(), Some(1));
    assert!(
        text(&as_journal.stderr).contains("this is a plan file, not a journal file"),
        "{}",
        text(&as_journal.stderr)
    );
    // A world file written before files named their kind still loads.
    let untagged = std::fs::read_to_string(Path::new(ROOT).join(WORLD))
        .unwrap()
        .replacen("  \"kind\": \"s3fix-world\",\n", "", 1);
    assert!(!untagged.contains("s3fix-world"));
    let old_world = write_temp(directory.path(), "old-world.json", &untagged);
    let output = s3fix(&["plan", SPEC, "--world", old_world.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn journals_without_a_kind_still_load() {
    let directory = tempfile::tempdir().unwrap();
    let old = r#"{
  "formatVersion": 1,
  "id": "op-1",
  "kind": "apply",
  "startedAt": "2026-12-01T00:00:00Z",
  "source": {"world": "w.json"},
  "steps": [],
  "status": "applied"
}"#;
    write_temp(directory.path(), "op-1.json", old);
    let journal = s3fix::journal::Journal::new(directory.path());
    let (operation, _) = journal.load("op-1").unwrap();
    assert_eq!(operation.kind, s3fix::journal::OperationKind::Apply);
    journal.record(&operation).unwrap();
    let rewritten: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(directory.path().join("op-1.json")).unwrap()).unwrap();
    assert_eq!(rewritten["kind"], "s3fix-journal");
    assert_eq!(rewritten["operation"], "apply");
}

#[test]
fn colour_follows_the_flag_and_the_environment() {
    let args = [
        "explain",
        "s3://my-bucket/data/report.csv",
        "--principal",
        APP_SESSION,
        "--world",
        WORLD,
    ];
    let coloured = |output: Output| text(&output.stdout).contains("\x1b[");
    assert!(!coloured(s3fix(&args)), "a pipe gets no colour");
    let mut always = args.to_vec();
    always.extend(["--color", "always"]);
    assert!(coloured(s3fix_with(&always, &[("NO_COLOR", "1")])));
    let mut never = args.to_vec();
    never.extend(["--color=never"]);
    assert!(!coloured(s3fix_with(&never, &[("CLICOLOR_FORCE", "1")])));
    assert!(coloured(s3fix_with(&args, &[("CLICOLOR_FORCE", "1")])));
    assert!(!coloured(s3fix_with(
        &args,
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    let error = s3fix_with(&["show", WORLD, "--color", "always"], &[]);
    assert!(
        text(&error.stderr).contains("\x1b[1;31merror:"),
        "{}",
        text(&error.stderr)
    );
}

#[test]
fn quiet_drops_status_lines_but_keeps_data_and_errors() {
    let directory = tempfile::tempdir().unwrap();
    let plan = directory.path().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    let loud = s3fix(&["plan", SPEC, "--world", WORLD, "-o", plan_arg]);
    assert!(
        text(&loud.stderr).contains("wrote plan"),
        "{}",
        text(&loud.stderr)
    );
    let quiet = s3fix(&["-q", "plan", SPEC, "--world", WORLD, "-o", plan_arg]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    assert_eq!(quiet.stdout, loud.stdout, "the data is the same");
    let error = s3fix(&["plan", "--quiet", "/nonexistent.toml", "--world", WORLD]);
    assert!(
        text(&error.stderr).starts_with("error:"),
        "{}",
        text(&error.stderr)
    );
}

#[test]
fn completions_and_man_pages_are_generated() {
    for (shell, marker) in [
        ("bash", "_s3fix()"),
        ("zsh", "#compdef s3fix"),
        ("fish", "complete -c s3fix"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let output = s3fix(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        assert!(text(&output.stdout).contains(marker), "{shell}");
    }
    let page = s3fix(&["man"]);
    assert_eq!(page.status.code(), Some(0));
    assert!(
        text(&page.stdout).contains(".TH s3fix 1"),
        "{}",
        text(&page.stdout)
    );
    let directory = tempfile::tempdir().unwrap();
    let output = s3fix(&["man", "--dir", directory.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for page in ["s3fix.1", "s3fix-plan.1", "s3fix-explain.1", "s3fix-drift.1"] {
        assert!(directory.path().join(page).exists(), "{page}");
    }
}

#[test]
fn snapshot_output_file_is_deprecated_but_unambiguous_uses_still_work() {
    // Without AWS the run stops at the credentials, after the world file was chosen: the
    // deprecation warning comes first, and a format word is refused before any AWS call.
    let deprecated = s3fix(&[
        "snapshot",
        "s3://my-bucket",
        "--principal",
        APP_SESSION,
        "--output",
        "/nonexistent/w.json",
    ]);
    let stderr = text(&deprecated.stderr);
    assert!(
        stderr.starts_with("warning: `snapshot --output FILE` is deprecated"),
        "{stderr}"
    );
    let ambiguous = s3fix(&[
        "snapshot",
        "s3://my-bucket",
        "--principal",
        APP_SESSION,
        "--output",
        "json",
    ]);
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(
        text(&ambiguous.stderr).contains("names a format"),
        "{}",
        text(&ambiguous.stderr)
    );
}
