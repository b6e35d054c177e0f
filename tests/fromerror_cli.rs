//! End to end: explain and spec starting from the error, on the article's world file; the
//! authorization-ID path and GetCallerIdentity through a loopback HTTP stub standing in for STS
//! and IAM Toolbox.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output};

const WORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-world.json");
const ARTICLE: &str = "/work/shared/seed/s3-403-article.txt";
#[path = "errors/stub.rs"]
mod stub;

use stub::SESSION;
const HEAD_MESSAGE: &str =
    "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden";

fn s3fix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `explain --from-error MESSAGE [TARGET --principal SESSION] --world WORLD [--output json]`.
fn explain_from(message: &str, target: Option<&str>, json_output: bool) -> Output {
    let mut args = vec!["explain", "--from-error", message];
    if let Some(target) = target {
        args.extend([target, "--principal", SESSION]);
    }
    args.extend(["--world", WORLD]);
    if json_output {
        args.extend(["--output", "json"]);
    }
    s3fix(&args)
}

/// The article's message, read from the article itself (its `fatal error:` line).
fn article_message() -> String {
    let text = std::fs::read_to_string(ARTICLE).unwrap_or_else(|_| HEAD_MESSAGE.to_string());
    text.lines()
        .find(|line| line.starts_with("fatal error:"))
        .unwrap_or(HEAD_MESSAGE)
        .to_string()
}

#[test]
fn article_message_explain_spec_plan() {
    let message = article_message();
    assert!(message.contains("HeadObject"));
    let explained = explain_from(&message, Some("s3://my-bucket/data/report.csv"), true);
    assert_eq!(explained.status.code(), Some(2), "{}", stderr(&explained));
    let json = json(&explained);
    assert_eq!(json["request"]["principal"], SESSION);
    assert_eq!(
        json["request"]["action"], "s3:GetObject",
        "HeadObject authorizes as GetObject"
    );
    assert_eq!(json["request"]["bucket"], "my-bucket");
    assert_eq!(json["request"]["key"], "data/report.csv");
    let from = &json["fromError"];
    assert_eq!(from["source"], "message");
    assert_eq!(from["awsErrorCode"], "Forbidden");
    assert_eq!(from["awsPolicyType"], Value::Null);
    assert_eq!(from["agrees"], Value::Null, "AWS stated nothing");
    assert_eq!(from["notPolicy"], Value::Null);
    assert!(json["gates"].as_array().is_some_and(|gates| gates.len() == 5));

    let directory = tempfile::tempdir().unwrap();
    let spec_path = directory.path().join("reader.toml");
    let spec = s3fix(&[
        "spec",
        "--from-error",
        &message,
        "s3://my-bucket/data/report.csv",
        "--principal",
        SESSION,
        "--context",
        "aws:SourceIp=198.51.100.7",
        "-o",
        spec_path.to_str().unwrap(),
    ]);
    assert_eq!(spec.status.code(), Some(0), "{}", stderr(&spec));
    let text = std::fs::read_to_string(&spec_path).unwrap();
    assert!(
        text.contains("principal = \"arn:aws:iam::222222222222:role/my-app-role\""),
        "{text}"
    );
    assert!(text.contains("access = [\"read\"]"), "{text}");
    assert!(text.contains("keys = [\"data/report.csv\"]"), "{text}");

    let plan_path = directory.path().join("plan.json");
    let plan = s3fix(&[
        "plan",
        spec_path.to_str().unwrap(),
        "--world",
        WORLD,
        "-o",
        plan_path.to_str().unwrap(),
    ]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    assert!(
        saved["edits"].as_array().is_some_and(|edits| !edits.is_empty()),
        "{saved}"
    );
}

#[test]
fn missing_inputs_name_the_flags() {
    let output = explain_from(HEAD_MESSAGE, None, false);
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(error.contains("pass --principal ARN"), "{error}");
    assert!(error.contains("pass s3://BUCKET/KEY"), "{error}");
    let no_action = explain_from(
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        Some("s3://my-bucket/data/report.csv"),
        false,
    );
    assert_eq!(no_action.status.code(), Some(1));
    assert!(
        stderr(&no_action).contains("pass --action get|head|put|list"),
        "{}",
        stderr(&no_action)
    );
}

#[test]
fn plain_explain_json_gains_bucket_and_key() {
    let output = s3fix(&[
        "explain",
        "s3://my-bucket/data/report.csv",
        "--principal",
        SESSION,
        "--world",
        WORLD,
        "--output",
        "json",
    ]);
    let json = json(&output);
    assert_eq!(json["request"]["bucket"], "my-bucket");
    assert_eq!(json["request"]["key"], "data/report.csv");
    assert!(json["request"]["resource"].is_string(), "existing fields stay");
    assert!(json.get("fromError").is_none(), "no error given");
}

#[test]
fn aws_blame_that_matches_the_deciding_gate_agrees() {
    let message = format!(
        "An error occurred (AccessDenied) when calling the GetObject operation: User: {SESSION} is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::my-bucket/data/report.csv\" with an explicit deny in a resource-based policy"
    );
    let output = explain_from(&message, None, true);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let json = json(&output);
    assert_eq!(json["fromError"]["awsPolicyType"], "resource-based policy");
    assert_eq!(json["fromError"]["agrees"], true, "{}", json["fromError"]);
}

#[test]
fn aws_blame_s3fix_cannot_see_is_a_disagreement_printed_first() {
    let message = format!(
        "An error occurred (AccessDenied) when calling the GetObject operation: User: {SESSION} is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::my-bucket/data/report.csv\" with an explicit deny in a VPC endpoint policy"
    );
    let text = explain_from(&message, None, false);
    assert_eq!(text.status.code(), Some(2));
    let out = stdout(&text);
    assert!(out.starts_with("DISAGREEMENT:"), "{out}");
    assert!(out.contains("VPC endpoint"), "{out}");
    let json = json(&explain_from(&message, None, true));
    assert_eq!(json["fromError"]["agrees"], false);
}

#[test]
fn stdin_message_and_scp_arn_disagreement() {
    let message = format!(
        "An error occurred (AccessDenied) when calling the GetObject operation: User: {SESSION} is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::my-bucket/data/report.csv\" with an explicit deny in a service control policy: arn:aws:organizations::987654321098:policy/o-qv5af4abcd/service_control_policy/p-2kgnabcd"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args([
            "explain",
            "--from-error",
            "-",
            "--world",
            WORLD,
            "--output",
            "json",
        ])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let json = json(&output);
    assert_eq!(
        json["fromError"]["awsPolicyArn"],
        "arn:aws:organizations::987654321098:policy/o-qv5af4abcd/service_control_policy/p-2kgnabcd"
    );
    assert_eq!(json["fromError"]["agrees"], false, "the world has no such SCP");
}

#[test]
fn cloudtrail_record_explains_with_its_context() {
    let record = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/errors/cloudtrail/assumed-role-getobject.json"
    );
    let output = s3fix(&[
        "explain",
        "--from-cloudtrail",
        record,
        "--world",
        WORLD,
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let json = json(&output);
    assert_eq!(json["fromError"]["source"], "cloudtrail");
    assert_eq!(json["request"]["principal"], SESSION);
    let context = json["request"]["context"].to_string();
    assert!(context.contains("198.51.100.7"), "{context}");
    assert!(context.contains("vpce-0a1b2c3d4e5f67890"), "{context}");
    let log = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/errors/cloudtrail/log-file-records.json"
    );
    let ambiguous = s3fix(&["explain", "--from-cloudtrail", log, "--world", WORLD]);
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(
        stderr(&ambiguous).contains("--event-id"),
        "{}",
        stderr(&ambiguous)
    );
    let picked = s3fix(&[
        "explain",
        "--from-cloudtrail",
        log,
        "--event-id",
        "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        "--world",
        WORLD,
        "--output",
        "json",
    ]);
    assert_eq!(picked.status.code(), Some(2), "{}", stderr(&picked));
    assert_eq!(
        json_of(&picked)["fromError"]["awsPolicyType"],
        "resource-based policy"
    );
}

fn json_of(output: &Output) -> Value {
    json(output)
}

#[test]
fn non_policy_403_is_said_in_one_line_without_a_walk() {
    let output = explain_from(
        "An error occurred (SignatureDoesNotMatch) when calling the GetObject operation: The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        None,
        false,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.starts_with("not a policy problem (signatureMismatch):"),
        "{out}"
    );
    assert!(out.contains("policy walk skipped"), "{out}");
    let spec = s3fix(&[
        "spec",
        "--from-error",
        "<Error><Code>InvalidObjectState</Code><StorageClass>GLACIER</StorageClass></Error>",
    ]);
    assert_eq!(spec.status.code(), Some(1));
    assert!(stderr(&spec).contains("archived"), "{}", stderr(&spec));
}

#[test]
fn missing_object_may_not_exist() {
    let output = explain_from(HEAD_MESSAGE, Some("s3://my-bucket/data/missing.csv"), true);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let json = json(&output);
    assert_eq!(json["fromError"]["notPolicy"], "maybeMissingObject");
    let fix = json["fromError"]["notPolicyFix"].as_str().unwrap();
    assert!(fix.contains("s3:ListBucket"), "{fix}");
    assert_eq!(json["request"]["key"], "data/missing.csv");
}

const DETAILS: &str = r#"{
  "requestContext": {
    "aws:PrincipalArn": "arn:aws:iam::222222222222:role/my-app-role",
    "aws:SourceIp": "203.0.113.9",
    "aws:SecureTransport": true
  },
  "evaluations": [
    {
      "action": "s3:GetObject",
      "resource": "arn:aws:s3:::my-bucket/data/report.csv",
      "evaluatedEffect": "EXPLICIT_DENY",
      "matchedPolicies": [
        {"uri": "arn:aws:s3:::my-bucket?policy", "matchedStatements": [{"sid": "DenyOutsideOfficeNetwork", "evaluatedEffect": "DENY"}]}
      ]
    }
  ],
  "policies": [
    {"type": "RESOURCE_BASED_POLICY", "uri": "arn:aws:s3:::my-bucket?policy", "inline": true, "attachedTo": [{"arn": "arn:aws:s3:::my-bucket"}]}
  ]
}"#;

/// `explain --authorization-id ID --world WORLD` against a stub answering IAM Toolbox with
/// `(status, error type, body)`, plus `extra` arguments.
fn explain_authorization(id: &str, answer: (u16, &str, &str), extra: &[&str]) -> Output {
    let endpoint = stub::start(answer.0, answer.1, answer.2, 8);
    let mut args = vec![
        "explain",
        "--authorization-id",
        id,
        "--world",
        WORLD,
        "--endpoint-url",
        &endpoint,
        "--region",
        "us-east-1",
    ];
    args.extend_from_slice(extra);
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .args(&args)
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    for (key, value) in stub::OFFLINE {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn authorization_id_uses_aws_context_and_compares_statements() {
    let output = explain_authorization("a1b2c3d4e5f6g7h8", (200, "", DETAILS), &["--output", "json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let json = json(&output);
    let from = &json["fromError"];
    assert_eq!(from["source"], "authorizationId");
    assert_eq!(from["authorizationId"], "a1b2c3d4e5f6g7h8");
    assert_eq!(from["authorizationDetails"]["available"], true);
    assert_eq!(json["request"]["bucket"], "my-bucket");
    assert!(
        json["request"]["context"].to_string().contains("203.0.113.9"),
        "AWS's context verbatim"
    );
    let statements = &from["authorizationDetails"]["statements"];
    assert!(
        statements["aws"][0]
            .as_str()
            .unwrap()
            .contains("DenyOutsideOfficeNetwork"),
        "{statements}"
    );
    assert!(
        statements["s3fix"]
            .to_string()
            .contains("DenyOutsideOfficeNetwork"),
        "{statements}"
    );
    assert_eq!(statements["differences"], serde_json::json!([]), "{statements}");

    let text = explain_authorization("a1b2c3d4e5f6g7h8", (200, "", DETAILS), &[]);
    let out = stdout(&text);
    assert!(
        out.contains("AWS's matched statements (GetRequestAuthorizationDetails):"),
        "{out}"
    );
    assert!(out.contains("s3fix's deciding statements:"), "{out}");
}

#[test]
fn authorization_id_not_available_says_so_and_continues() {
    let target = ["s3://my-bucket/data/report.csv", "--principal", SESSION];
    let denied = (
        403,
        "AccessDeniedException",
        r#"{"message":"User is not authorized to perform iam:GetRequestAuthorizationDetails"}"#,
    );
    let output = explain_authorization(
        "a1b2c3d4e5f6g7h8",
        denied,
        &[&target[..], &["--output", "json"]].concat(),
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "continues to the walk: {}",
        stderr(&output)
    );
    let error = stderr(&output);
    assert!(error.contains("not available (Permission)"), "{error}");
    assert!(error.contains("continuing without them"), "{error}");
    let json = json(&output);
    assert_eq!(json["fromError"]["authorizationDetails"]["available"], false);
    assert!(json["gates"].is_array());

    let not_found = (404, "ResourceNotFoundException", r#"{"message":"not found"}"#);
    let output = explain_authorization("zzzz0000", not_found, &target);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("24 hours"), "{}", stderr(&output));
}

#[test]
fn spec_from_a_cloudtrail_record_keeps_its_network_context_only() {
    let record = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/errors/cloudtrail/assumed-role-getobject.json"
    );
    let output = s3fix(&["spec", "--from-cloudtrail", record]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("principal = \"arn:aws:iam::222222222222:role/my-app-role\""),
        "{text}"
    );
    assert!(text.contains("\"aws:SourceIp\" = \"198.51.100.7\""), "{text}");
    assert!(
        text.contains("\"aws:SourceVpce\" = \"vpce-0a1b2c3d4e5f67890\""),
        "{text}"
    );
    assert!(
        !text.contains("aws:CurrentTime") && !text.contains("aws:UserAgent"),
        "{text}"
    );
    assert!(
        text.contains("# event ID: 3e1f0a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"),
        "{text}"
    );
}
