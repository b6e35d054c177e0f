//! `s3fix explain` output: each gate with its verdict, deciding statement and remedy.

use super::paint;
use crate::core::eval::{ConditionOutcome, Decision, PrincipalMatch};
use crate::core::s3::{Explanation, FinalDecision, Verdict};
use std::fmt::Write as _;

fn verdict_text(verdict: Verdict, colour: bool) -> String {
    match verdict {
        Verdict::Allow => paint("allow", "32", colour),
        Verdict::ExplicitDeny => paint("explicit deny", "1;31", colour),
        Verdict::ImplicitDeny => paint("implicit deny", "31", colour),
        Verdict::NotApplicable => paint("not applicable", "2", colour),
        Verdict::Unknown => paint("unknown", "33", colour),
    }
}

/// The human rendering. `reasons` adds every statement's match result.
pub fn text(explanation: &Explanation, reasons: bool, colour: bool) -> String {
    let mut out = String::new();
    let request = &explanation.request;
    let _ = writeln!(out, "{} on {}", request.action, request.resource);
    let _ = writeln!(out, "  as {}", request.principal);
    for (index, gate) in explanation.gates.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{}. {:<24} {}",
            index + 1,
            gate.gate.describe(),
            verdict_text(gate.verdict, colour)
        );
        let _ = writeln!(out, "   {}", gate.detail);
        if let Some(remedy) = &gate.remedy {
            let _ = writeln!(out, "   to fix: {remedy}");
        }
    }
    if reasons {
        if let Some(decision) = &explanation.s3_decision {
            statement_reasons(&mut out, "S3 request", decision);
        }
        if let Some(decision) = &explanation.kms_decision {
            statement_reasons(&mut out, "KMS request", decision);
        }
        if let Some(kms) = &explanation.kms_request {
            let _ = writeln!(out, "\nKMS request: {} on {}", kms.action, kms.resource);
        }
        let _ = writeln!(out, "\ncontext:");
        for (key, value) in &request.context {
            let _ = writeln!(out, "  {key} = {value}");
        }
    }
    for warning in &explanation.warnings {
        let _ = writeln!(out, "\nwarning: {warning}");
    }
    let decision = match explanation.decision {
        FinalDecision::Allowed => paint("Allowed", "1;32", colour),
        FinalDecision::ExplicitlyDenied => paint("ExplicitlyDenied", "1;31", colour),
        FinalDecision::ImplicitlyDenied => paint("ImplicitlyDenied", "1;31", colour),
        FinalDecision::Unknown => paint("Unknown (some gate could not be read)", "1;33", colour),
    };
    let _ = writeln!(out, "\ndecision: {decision}");
    out
}

fn statement_reasons(out: &mut String, title: &str, decision: &Decision) {
    let _ = writeln!(out, "\n{title}: every statement");
    for report in &decision.reports {
        let _ = writeln!(out, "  {} `{}`", report.kind.describe(), report.name);
        for statement in &report.statements {
            let sid = statement
                .sid
                .as_deref()
                .map(|sid| format!(" {sid}"))
                .unwrap_or_default();
            let mut why = Vec::new();
            if !statement.action {
                why.push("action not covered".to_string());
            }
            if !statement.resource {
                why.push("resource not covered".to_string());
            }
            match statement.principal {
                Some(PrincipalMatch::NoMatch) => why.push("principal not named".to_string()),
                Some(PrincipalMatch::Account) => why.push("principal named through its account".to_string()),
                Some(PrincipalMatch::RoleArn) => why.push("principal named through its role ARN".to_string()),
                _ => {}
            }
            if let ConditionOutcome::Failed(condition) = &statement.condition {
                why.push(format!("condition `{condition}` is false"));
            }
            let verdict = if statement.matched {
                "applies"
            } else {
                "does not apply"
            };
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            };
            let _ = writeln!(
                out,
                "    [{}]{sid} {:?} {verdict}{why}",
                statement.index, statement.effect
            );
        }
    }
}

/// The JSON rendering: `decision`, `gates` (`gate`, `verdict`, `deciding`, `detail`, `remedy`),
/// `request`, `kmsRequest`, `warnings`, and with `reasons` the per-statement `reasons`.
pub fn json(explanation: &Explanation, reasons: bool) -> serde_json::Value {
    let mut value = serde_json::to_value(explanation).unwrap_or(serde_json::Value::Null);
    if reasons && let Some(object) = value.as_object_mut() {
        let reports = |decision: &Option<Decision>| {
            decision
                .as_ref()
                .map(|decision| serde_json::to_value(&decision.reports).unwrap_or_default())
        };
        object.insert(
            "reasons".into(),
            serde_json::json!({"s3": reports(&explanation.s3_decision), "kms": reports(&explanation.kms_decision)}),
        );
    }
    value
}
