//! The pasted-error corpus (`tests/errors/messages.json`): every CLI and SDK form, with and
//! without policy type, policy ARN and authorization ID, truncated, with noise, and each
//! non-policy 403. Each case cites the AWS page its shape comes from and lists every field it
//! expects; a field it does not list must not be extracted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use s3fix::core::fromerror::notpolicy::{Facts, detect};
use s3fix::core::fromerror::parse_message;
use serde_json::Value;

const FIELDS: [&str; 12] = [
    "principal",
    "action",
    "operation",
    "bucket",
    "key",
    "policyType",
    "denial",
    "policyArn",
    "authorizationId",
    "requestId",
    "errorCode",
    "httpStatus",
];

fn corpus() -> Vec<Value> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/errors/messages.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn corpus_is_large_and_cited() {
    let cases = corpus();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in &cases {
        let doc = case["doc"].as_str().unwrap_or_default();
        assert!(doc.contains("https://"), "{}: cite the AWS page", case["name"]);
    }
    let non_policy: std::collections::BTreeSet<&str> = cases
        .iter()
        .filter_map(|case| case["notPolicy"].as_str())
        .collect();
    for code in [
        "clockSkew",
        "presignedExpired",
        "presignedRegion",
        "signatureMismatch",
        "archivedObject",
        "requesterPays",
        "kmsKeyDisabled",
    ] {
        assert!(non_policy.contains(code), "no case for {code}");
    }
}

#[test]
fn every_message_extracts_exactly_what_it_expects() {
    let mut failures = Vec::new();
    for case in corpus() {
        let name = case["name"].as_str().unwrap().to_string();
        let extraction = parse_message(case["input"].as_str().unwrap());
        let actual = serde_json::to_value(&extraction).unwrap();
        for field in FIELDS {
            let expected = case["expect"].get(field).cloned().unwrap_or(Value::Null);
            if actual[field] != expected {
                failures.push(format!(
                    "{name}: {field} = {} (expected {expected})",
                    actual[field]
                ));
            }
        }
        let facts = Facts {
            now: case["now"].as_str().map(|now| now.parse().unwrap()),
            bucket_region: case["bucketRegion"].as_str().map(str::to_string),
            ..Facts::default()
        };
        let finding = detect(&extraction, &facts);
        let code = finding
            .as_ref()
            .map(|finding| serde_json::to_value(finding.code).unwrap())
            .unwrap_or(Value::Null);
        let expected = case.get("notPolicy").cloned().unwrap_or(Value::Null);
        if code != expected {
            failures.push(format!("{name}: notPolicy = {code} (expected {expected})"));
        }
        if let Some(finding) = finding {
            assert!(
                !finding.fix.is_empty() && !finding.fix.contains('\n'),
                "{name}: one line"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn clock_skew_reports_the_offset() {
    let extraction = parse_message(
        "<Error><Code>RequestTimeTooSkewed</Code><RequestTime>20261202T044600Z</RequestTime><ServerTime>2026-12-02T05:16:00Z</ServerTime></Error>",
    );
    let finding = detect(&extraction, &Facts::default()).unwrap();
    assert!(finding.fix.contains("1800 s behind"), "{}", finding.fix);
}

#[test]
fn missing_object_says_whether_list_bucket_is_allowed() {
    let extraction =
        parse_message("An error occurred (403) when calling the HeadObject operation: Forbidden");
    for (allowed, words) in [
        (Some(false), "not allowed"),
        (Some(true), "would have answered 404"),
    ] {
        let facts = Facts {
            object_missing: true,
            list_bucket_allowed: allowed,
            ..Facts::default()
        };
        let finding = detect(&extraction, &facts).unwrap();
        assert_eq!(serde_json::to_value(finding.code).unwrap(), "maybeMissingObject");
        assert!(finding.fix.contains(words), "{}", finding.fix);
    }
}

mod cloudtrail {
    //! CloudTrail records in the documented format (AWS CloudTrail User Guide, "CloudTrail record
    //! contents", https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).

    use s3fix::core::fromerror::cloudtrail::{CloudTrailError, extract, pick, records};

    fn file(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/errors/cloudtrail/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn assumed_role_record_gives_session_role_target_and_context() {
        let all = records(&file("assumed-role-getobject.json")).unwrap();
        let extraction = extract(pick(&all, None).unwrap());
        assert_eq!(
            extraction.principal.as_deref(),
            Some("arn:aws:sts::222222222222:assumed-role/my-app-role/session1")
        );
        assert_eq!(
            extraction.role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/my-app-role")
        );
        assert_eq!(extraction.action.as_deref(), Some("s3:GetObject"));
        assert_eq!(extraction.bucket.as_deref(), Some("my-bucket"));
        assert_eq!(extraction.key.as_deref(), Some("data/report.csv"));
        assert_eq!(extraction.error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(
            extraction.event_id.as_deref(),
            Some("3e1f0a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b")
        );
        let context = &extraction.context;
        assert_eq!(
            context.get("aws:SourceIp").map(String::as_str),
            Some("198.51.100.7")
        );
        assert_eq!(
            context.get("aws:SourceVpce").map(String::as_str),
            Some("vpce-0a1b2c3d4e5f67890")
        );
        assert_eq!(
            context.get("aws:SecureTransport").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            context.get("aws:CurrentTime").map(String::as_str),
            Some("2026-12-01T10:00:00Z")
        );
    }

    #[test]
    fn log_file_with_two_denials_needs_an_event_id() {
        let all = records(&file("log-file-records.json")).unwrap();
        assert_eq!(all.len(), 3);
        assert!(matches!(
            pick(&all, None),
            Err(CloudTrailError::Ambiguous { count: 2, .. })
        ));
        let head = extract(pick(&all, Some("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")).unwrap());
        assert_eq!(head.operation.as_deref(), Some("HeadObject"));
        assert_eq!(
            head.action.as_deref(),
            Some("s3:GetObject"),
            "HeadObject authorizes as GetObject"
        );
        assert_eq!(head.policy_type.as_deref(), Some("resource-based policy"));
        let put = extract(pick(&all, Some("99999999-8888-4777-8666-555555555555")).unwrap());
        assert_eq!(
            put.principal.as_deref(),
            Some("arn:aws:iam::222222222222:user/alice")
        );
        assert_eq!(put.role_arn, None);
        assert_eq!(put.action.as_deref(), Some("s3:PutObject"));
        // A service name is not an address, and no tlsDetails says nothing about TLS.
        assert_eq!(put.context.get("aws:SourceIp"), None);
        assert_eq!(put.context.get("aws:SecureTransport"), None);
        assert!(matches!(
            pick(&all, Some("11111111-2222-4333-8444-555555555555")),
            Err(CloudTrailError::NotDenied(..))
        ));
        assert!(matches!(
            pick(&all, Some("nope")),
            Err(CloudTrailError::NoSuchEvent(..))
        ));
    }

    #[test]
    fn json_lines_pick_the_only_denial() {
        let all = records(&file("records.jsonl")).unwrap();
        assert_eq!(all.len(), 2);
        let extraction = extract(pick(&all, None).unwrap());
        assert_eq!(
            extraction.event_id.as_deref(),
            Some("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
        );
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(matches!(records("hello"), Err(CloudTrailError::NotJson(_))));
        assert!(matches!(records("  "), Err(CloudTrailError::Empty)));
    }
}
