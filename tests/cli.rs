//! End-to-end tests of the command line: exit codes, output shapes, errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};

const WORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-world.json");
const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-cases.jsonl");
const APP_SESSION: &str = "arn:aws:sts::222222222222:assumed-role/my-app-role/session1";

fn s3fix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `explain --output json` of the article's report for `principal`, which must exit 2 (denied).
fn explain_json_denied(principal: &str) -> serde_json::Value {
    let output = s3fix(&[
        "explain",
        "s3://my-bucket/data/report.csv",
        "--principal",
        principal,
        "--world",
        WORLD,
        "--output",
        "json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "denied exits 2 for {principal}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn explain_article_scenario_names_every_failing_gate() {
    let json = explain_json_denied(APP_SESSION);
    assert_eq!(json["decision"], "ExplicitlyDenied");
    assert_eq!(json["gates"][1]["code"], "bucketPolicyDeny");
    let verdict = |gate: &str| {
        json["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["gate"] == gate)
            .map(|g| g["verdict"].clone())
            .unwrap()
    };
    assert_eq!(verdict("identityPolicy"), "implicitDeny");
    assert_eq!(verdict("bucketPolicy"), "explicitDeny");
    assert_eq!(verdict("aclOwnership"), "implicitDeny");
    assert_eq!(verdict("blockPublicAccess"), "notApplicable");
    assert_eq!(verdict("kmsKey"), "implicitDeny");
    let bucket_gate = json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "bucketPolicy")
        .unwrap();
    assert_eq!(bucket_gate["deciding"][0]["sid"], "DenyOutsideOfficeNetwork");
    assert!(bucket_gate["detail"].as_str().unwrap().contains("aws:SourceIp"));
}

#[test]
fn explain_text_lists_gates_in_order() {
    let output = s3fix(&[
        "explain",
        "s3://my-bucket/data/summary.csv",
        "--principal",
        APP_SESSION,
        "--world",
        WORLD,
        "--action",
        "head",
        "--context",
        "aws:SourceIp=198.51.100.7",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    let positions: Vec<usize> = [
        "identity policy",
        "bucket policy",
        "ACL / Object Ownership",
        "Block Public Access",
        "KMS key",
    ]
    .iter()
    .map(|gate| {
        text.find(gate)
            .unwrap_or_else(|| panic!("`{gate}` missing from:\n{text}"))
    })
    .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert!(text.contains("decision: ImplicitlyDenied"));
}

#[test]
fn explain_allowed_exits_zero() {
    // The bucket account's own admin role reads an object it owns: identity alone suffices.
    let output = s3fix(&[
        "explain",
        "s3://my-bucket/data/summary.csv",
        "--principal",
        "arn:aws:sts::111111111111:assumed-role/s3fix-admin/ops",
        "--world",
        WORLD,
        "--action",
        "head",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("decision: Allowed"));
}

#[test]
fn explain_bad_input_is_an_error_naming_it() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "explain",
                "my-bucket/key",
                "--principal",
                APP_SESSION,
                "--world",
                WORLD,
            ],
            "not an S3 URL",
        ),
        (
            &[
                "explain",
                "s3://no-such-bucket/k",
                "--principal",
                APP_SESSION,
                "--world",
                WORLD,
            ],
            "no-such-bucket",
        ),
        (
            &[
                "explain",
                "s3://my-bucket/k",
                "--principal",
                "arn:aws:iam::222222222222:role/ghost",
                "--world",
                WORLD,
            ],
            "ghost",
        ),
        (
            &[
                "explain",
                "s3://my-bucket/k",
                "--principal",
                APP_SESSION,
                "--world",
                "/nonexistent/world.json",
            ],
            "cannot read world file",
        ),
        (
            &[
                "explain",
                "s3://my-bucket/k",
                "--principal",
                APP_SESSION,
                "--world",
                WORLD,
                "--action",
                "delete",
            ],
            "unknown action",
        ),
        (
            &[
                "explain",
                "s3://my-bucket/k",
                "--principal",
                APP_SESSION,
                "--world",
                WORLD,
                "--context",
                "novalue",
            ],
            "KEY=VALUE",
        ),
    ];
    for (args, needle) in cases {
        let output = s3fix(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: `{needle}` not in {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout on error");
    }
}

#[test]
fn simulate_example_cases_decide_as_documented() {
    let output = s3fix(&["simulate", CASES]);
    assert_eq!(output.status.code(), Some(0));
    let decisions: Vec<String> = stdout(&output)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["decision"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        decisions,
        [
            "ExplicitlyDenied",
            "ImplicitlyDenied",
            "Allowed",
            "ImplicitlyDenied",
            "Allowed"
        ]
    );
}

#[test]
fn simulate_reports_malformed_cases_and_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.jsonl");
    let good = std::fs::read_to_string(CASES)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(
        &path,
        format!("{good}\n{{\"name\": \"broken\", \"request\": {{\"principal\": 5}}}}\nnot json\n{good}\n"),
    )
    .unwrap();
    let output = s3fix(&["simulate", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["decision"], "ExplicitlyDenied");
    assert_eq!(lines[1]["name"], "broken");
    assert_eq!(lines[1]["path"], "request.principal");
    assert!(lines[2]["error"].is_string());
    assert_eq!(lines[3]["decision"], "ExplicitlyDenied");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2") && stderr.contains("line 3"), "{stderr}");
}

#[test]
fn simulate_reads_arrays_and_pretty_objects() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(CASES)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let array = dir.path().join("array.json");
    std::fs::write(&array, serde_json::to_string_pretty(&cases).unwrap()).unwrap();
    let pretty = dir.path().join("pretty.json");
    std::fs::write(
        &pretty,
        format!(
            "{}\n{}",
            serde_json::to_string_pretty(&cases[0]).unwrap(),
            serde_json::to_string_pretty(&cases[2]).unwrap()
        ),
    )
    .unwrap();
    for (path, count) in [(&array, 5), (&pretty, 2)] {
        let output = s3fix(&["simulate", path.to_str().unwrap()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout(&output).lines().count(), count);
    }
}

#[test]
fn explain_takes_anonymous_root_and_federated_callers() {
    // `--help` documents `*` for anonymous; the account root and STS federated users work too.
    for (principal, identity_code) in [
        ("*", "noIdentityPolicies"),
        ("arn:aws:iam::222222222222:root", "noIdentityPolicies"),
        ("arn:aws:sts::222222222222:federated-user/bob", "identityUnknown"),
    ] {
        let json = explain_json_denied(principal);
        assert_eq!(json["gates"][0]["code"], identity_code, "{principal}");
        assert!(
            json["decision"].as_str().unwrap().ends_with("Denied"),
            "{principal}: {json}"
        );
    }
}
