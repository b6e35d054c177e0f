//! The error side of `s3fix explain --from-error`: the `fromError` and `request` JSON objects,
//! and the text printed before (disagreement, non-policy cause) and after the gate walk.

use super::paint;
use crate::core::eval::ContextEntry;
use crate::core::fromerror::report::Report;
use crate::core::s3::S3Request;
use serde_json::{Value, json};
use std::fmt::Write as _;

fn context_json(request: &S3Request) -> Value {
    Value::Object(
        request
            .context
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    ContextEntry::Single(text) => Value::String(text.clone()),
                    ContextEntry::Multi(values) => json!(values),
                };
                (key.clone(), value)
            })
            .collect(),
    )
}

/// The `request` object for a request no gate walk was made for.
pub fn request_json(request: &S3Request) -> Value {
    json!({
        "principal": request.principal,
        "action": request.action.iam_action(),
        "bucket": request.bucket,
        "key": request.key,
        "context": context_json(request),
    })
}

/// Give explain's `request` object its `bucket` and `key` (the other fields stay as they are).
pub fn add_target(explanation: &mut Value, request: &S3Request) {
    let Some(object) = explanation.as_object_mut() else {
        return;
    };
    match object.get_mut("request").and_then(Value::as_object_mut) {
        Some(existing) => {
            existing.insert("bucket".into(), Value::String(request.bucket.clone()));
            existing.insert("key".into(), Value::String(request.key.clone()));
        }
        None => {
            object.insert("request".into(), request_json(request));
        }
    }
}

/// The `fromError` object.
pub fn json(report: &Report) -> Value {
    let extraction = &report.extraction;
    let details = report.details.as_ref().map(|details| {
        json!({
            "requestContext": details.request_context,
            "evaluations": details.evaluations,
        })
    });
    json!({
        "source": report.source,
        "awsErrorCode": extraction.error_code,
        "awsPolicyType": extraction.policy_type,
        "awsPolicyArn": extraction.policy_arn,
        "authorizationId": extraction.authorization_id,
        "requestId": extraction.request_id,
        "agrees": report.agrees(),
        "notPolicy": report.not_policy.as_ref().map(|finding| finding.code),
        "notPolicyFix": report.not_policy.as_ref().map(|finding| finding.fix.clone()),
        "comparison": report.agreement,
        "inputs": report.inputs,
        "eventId": extraction.event_id,
        "authorizationDetails": {
            "available": report.details.is_some(),
            "unavailable": report.details_unavailable,
            "details": details,
            "statements": report.statements,
        },
        "walkSkipped": report.walk_skipped,
    })
}

/// What comes before the gate walk: a disagreement first, then a non-policy cause, then what
/// the error said and where each input came from.
pub fn before(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    if let Some(agreement) = &report.agreement
        && agreement.agrees == Some(false)
    {
        let _ = writeln!(
            out,
            "{} AWS says {}; s3fix finds {}.",
            paint("DISAGREEMENT:", "1;33", colour),
            agreement.aws.as_deref().unwrap_or("nothing"),
            agreement.s3fix
        );
        if let Some(hint) = &agreement.hint {
            let _ = writeln!(out, "  {hint}");
        }
        let _ = writeln!(out);
    }
    if let Some(finding) = &report.not_policy {
        let code = serde_json::to_value(finding.code)
            .ok()
            .and_then(|code| code.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} ({code}): {}\n",
            paint("not a policy problem", "1;33", colour),
            finding.fix
        );
    }
    let extraction = &report.extraction;
    let source = match report.source {
        crate::core::fromerror::Source::Message => "message",
        crate::core::fromerror::Source::Cloudtrail => "CloudTrail record",
        crate::core::fromerror::Source::AuthorizationId => "authorization ID",
    };
    let _ = writeln!(out, "from the {source}:");
    let said = [
        ("error code", extraction.error_code.as_deref()),
        ("operation", extraction.operation.as_deref()),
        ("AWS blamed", extraction.policy_type.as_deref()),
        ("policy ARN", extraction.policy_arn.as_deref()),
        ("request ID", extraction.request_id.as_deref()),
        ("authorization ID", extraction.authorization_id.as_deref()),
        ("event ID", extraction.event_id.as_deref()),
    ];
    for (label, value) in said {
        if let Some(value) = value {
            let _ = writeln!(out, "  {label:<17} {value}");
        }
    }
    for input in &report.inputs {
        let _ = writeln!(out, "  {:<17} {} (from {})", input.field, input.value, input.from);
    }
    if let Some(reason) = &report.details_unavailable {
        let _ = writeln!(out, "  {reason}; continuing without them");
    }
    if let Some(skipped) = &report.walk_skipped {
        let _ = writeln!(out, "\npolicy walk skipped: {skipped}");
    }
    let _ = writeln!(out);
    out
}

/// What comes after the gate walk: AWS's matched statements next to s3fix's deciding
/// statements, and the agreement line.
pub fn after(report: &Report) -> String {
    let mut out = String::new();
    if let Some(statements) = &report.statements {
        let _ = writeln!(
            out,
            "\nAWS's matched statements (GetRequestAuthorizationDetails):"
        );
        if statements.aws.is_empty() {
            let _ = writeln!(out, "  (none: an implicit deny matches no statement)");
        }
        for line in &statements.aws {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out, "s3fix's deciding statements:");
        if statements.s3fix.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for line in &statements.s3fix {
            let _ = writeln!(out, "  {line}");
        }
        for difference in &statements.differences {
            let _ = writeln!(out, "  difference: {difference}");
        }
    }
    if let Some(agreement) = &report.agreement
        && agreement.agrees == Some(true)
    {
        let _ = writeln!(
            out,
            "\nAWS and s3fix agree: AWS says {}; s3fix finds {}.",
            agreement.aws.as_deref().unwrap_or_default(),
            agreement.s3fix
        );
    }
    out
}
