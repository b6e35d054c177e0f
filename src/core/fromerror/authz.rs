//! The details behind an authorization ID (IAM Toolbox `GetRequestAuthorizationDetails`), as
//! domain values, and their comparison with s3fix's deciding statements.
//!
//! Source: IAM Toolbox API Reference, GetRequestAuthorizationDetails
//! (API_GetRequestAuthorizationDetails.html: `requestContext`, `evaluations[]` with `action`,
//! `resource`, `context`, `evaluatedEffect` ALLOW | EXPLICIT_DENY | IMPLICIT_DENY and
//! `matchedPolicies[]` (`uri`, `matchedStatements[]` with `sid`, `evaluatedEffect` ALLOW | DENY;
//! "An implicit denial produces no matched policies"), `policies[]` (PolicyInfo: `type`, `uri`,
//! `inline`, `attachedTo`)).

use super::{Extraction, split_s3_arn};
use crate::core::eval::ContextEntry;
use crate::core::policy::Effect;
use crate::core::s3::{Explanation, Verdict};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A statement AWS matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsStatement {
    /// Its Sid, where it has one.
    pub sid: Option<String>,
    /// `ALLOW` or `DENY`.
    pub effect: String,
}

/// A policy AWS matched, with its statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsMatchedPolicy {
    /// The policy URI.
    pub uri: String,
    /// Its type (from `policies[]`), e.g. `RESOURCE_BASED_POLICY`.
    pub policy_type: Option<String>,
    /// The matched statements.
    pub statements: Vec<AwsStatement>,
}

/// One evaluation (an action on a resource).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsEvaluation {
    /// The action, e.g. `s3:GetObject`.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// `ALLOW`, `EXPLICIT_DENY` or `IMPLICIT_DENY`.
    pub effect: Option<String>,
    /// Context specific to this evaluation.
    pub context: BTreeMap<String, Value>,
    /// The policies that matched.
    pub matched: Vec<AwsMatchedPolicy>,
}

/// A policy AWS evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsPolicy {
    /// Its type, e.g. `IDENTITY_BASED_POLICY`.
    pub policy_type: Option<String>,
    /// Its URI.
    pub uri: Option<String>,
    /// Inline or managed.
    pub inline: Option<bool>,
    /// The ARNs it is attached to.
    pub attached_to: Vec<String>,
}

/// Everything `GetRequestAuthorizationDetails` returned (all pages).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationDetails {
    /// The authorization ID.
    pub authorization_id: String,
    /// The request context AWS evaluated, verbatim.
    pub request_context: BTreeMap<String, Value>,
    /// The evaluations.
    pub evaluations: Vec<AwsEvaluation>,
    /// The policies evaluated.
    pub policies: Vec<AwsPolicy>,
}

impl AuthorizationDetails {
    /// The denied evaluation (the first that is not `ALLOW`), else the first.
    pub fn denied(&self) -> Option<&AwsEvaluation> {
        self.evaluations
            .iter()
            .find(|evaluation| {
                evaluation
                    .effect
                    .as_deref()
                    .is_some_and(|effect| effect != "ALLOW")
            })
            .or_else(|| self.evaluations.first())
    }

    /// The request as AWS saw it: principal (`aws:PrincipalArn`), action, bucket and key of the
    /// denied evaluation, and the context verbatim (strings as they are, lists as multi-valued).
    pub fn extraction(&self) -> Extraction {
        let mut extraction = Extraction {
            authorization_id: Some(self.authorization_id.clone()),
            ..Extraction::default()
        };
        extraction.principal = self
            .request_context
            .get("aws:PrincipalArn")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(evaluation) = self.denied() {
            extraction.action = Some(evaluation.action.clone());
            if let Some((bucket, key)) = split_s3_arn(&evaluation.resource) {
                extraction.bucket = Some(bucket);
                extraction.key = key;
            }
            extraction.denial = match evaluation.effect.as_deref() {
                Some("EXPLICIT_DENY") => Some(super::Denial::Explicit),
                Some("IMPLICIT_DENY") => Some(super::Denial::Implicit),
                _ => None,
            };
        }
        extraction
    }

    /// The request context as explain's `--context` entries, AWS's values verbatim.
    pub fn context_entries(&self) -> Vec<(String, ContextEntry)> {
        let mut merged = self.request_context.clone();
        if let Some(evaluation) = self.denied() {
            merged.extend(evaluation.context.clone());
        }
        merged
            .into_iter()
            .filter_map(|(key, value)| {
                let entry = match value {
                    Value::String(text) => ContextEntry::Single(text),
                    Value::Array(items) => ContextEntry::Multi(items.iter().map(scalar).collect()),
                    Value::Null => return None,
                    other => ContextEntry::Single(scalar(&other)),
                };
                Some((key, entry))
            })
            .collect()
    }

    /// The Deny statements AWS matched for the denied evaluation.
    pub fn matched_denies(&self) -> Vec<(&AwsMatchedPolicy, &AwsStatement)> {
        self.denied()
            .into_iter()
            .flat_map(|evaluation| evaluation.matched.iter())
            .flat_map(|policy| {
                policy
                    .statements
                    .iter()
                    .filter(|statement| statement.effect == "DENY")
                    .map(move |statement| (policy, statement))
            })
            .collect()
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// AWS's matched statements next to s3fix's deciding statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementComparison {
    /// AWS's matched statements: `TYPE uri [Sid] EFFECT`.
    pub aws: Vec<String>,
    /// s3fix's deciding statements: `gate: kind `policy` statement N [Sid] Effect`.
    pub s3fix: Vec<String>,
    /// Each difference, in a sentence.
    pub differences: Vec<String>,
}

/// Compare AWS's evaluation with the explanation: the effect (explicit, implicit) and the Sids
/// of the Deny statements on both sides.
pub fn compare_statements(details: &AuthorizationDetails, explanation: &Explanation) -> StatementComparison {
    let mut aws = Vec::new();
    if let Some(evaluation) = details.denied() {
        for policy in &evaluation.matched {
            for statement in &policy.statements {
                aws.push(format!(
                    "{} `{}` {} {}",
                    policy.policy_type.as_deref().unwrap_or("policy"),
                    policy.uri,
                    statement.sid.as_deref().unwrap_or("(no Sid)"),
                    statement.effect
                ));
            }
        }
    }
    let mut s3fix = Vec::new();
    let mut s3fix_deny_sids = Vec::new();
    for gate in &explanation.gates {
        if !matches!(gate.verdict, Verdict::ExplicitDeny | Verdict::ImplicitDeny) {
            continue;
        }
        for statement in &gate.deciding {
            s3fix.push(format!(
                "{}: {} `{}` statement {} {} {:?}",
                gate.gate.describe(),
                statement.kind.describe(),
                statement.policy,
                statement.statement,
                statement.sid.as_deref().unwrap_or("(no Sid)"),
                statement.effect
            ));
            if statement.effect == Effect::Deny {
                s3fix_deny_sids.push(statement.sid.clone());
            }
        }
    }
    let mut differences = Vec::new();
    let aws_effect = details
        .denied()
        .and_then(|evaluation| evaluation.effect.as_deref());
    let s3fix_explicit = explanation
        .gates
        .iter()
        .any(|gate| gate.verdict == Verdict::ExplicitDeny);
    let s3fix_denies = s3fix_explicit
        || explanation
            .gates
            .iter()
            .any(|gate| gate.verdict == Verdict::ImplicitDeny);
    match aws_effect {
        Some("EXPLICIT_DENY") if !s3fix_explicit => differences.push(
            "AWS found an explicit deny; s3fix finds none: s3fix's view is missing the denying policy".to_string(),
        ),
        Some("IMPLICIT_DENY") if s3fix_explicit => differences.push(
            "AWS found no explicit deny; s3fix finds one: the world's policies differ from those AWS evaluated".to_string(),
        ),
        Some("EXPLICIT_DENY" | "IMPLICIT_DENY") if !s3fix_denies => {
            differences.push("AWS denied the request; s3fix finds it allowed".to_string())
        }
        _ => {}
    }
    let aws_deny_sids: Vec<Option<String>> = details
        .matched_denies()
        .iter()
        .map(|(_, statement)| statement.sid.clone())
        .collect();
    for sid in aws_deny_sids.iter().flatten() {
        if !s3fix_deny_sids.iter().flatten().any(|ours| ours == sid) {
            differences.push(format!(
                "AWS matched Deny statement `{sid}`; s3fix's deciding statements do not include it"
            ));
        }
    }
    for sid in s3fix_deny_sids.iter().flatten() {
        if !aws_deny_sids.iter().flatten().any(|theirs| theirs == sid) && !aws_deny_sids.is_empty() {
            differences.push(format!(
                "s3fix's deciding Deny `{sid}` is not among AWS's matched statements"
            ));
        }
    }
    StatementComparison {
        aws,
        s3fix,
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::s3::{S3Action, S3Request, explain};
    use crate::core::world::World;

    fn explanation(source_ip: &str) -> Explanation {
        let world: Result<World, _> =
            serde_json::from_str(include_str!("../../../plans/examples/article-world.json"));
        let Ok(world) = world else {
            unreachable!("the article world parses")
        };
        let request = S3Request {
            principal: "arn:aws:sts::222222222222:assumed-role/my-app-role/session1".into(),
            action: S3Action::Get,
            bucket: "my-bucket".into(),
            key: "data/report.csv".into(),
            context: vec![("aws:SourceIp".into(), ContextEntry::Single(source_ip.into()))],
        };
        match explain(&world, &request) {
            Ok(explanation) => explanation,
            Err(error) => unreachable!("{error}"),
        }
    }

    fn details(effect: &str, sid: Option<&str>) -> AuthorizationDetails {
        AuthorizationDetails {
            authorization_id: "a1b2".into(),
            request_context: BTreeMap::from([
                ("aws:SourceIp".into(), Value::from("203.0.113.9")),
                ("aws:SecureTransport".into(), Value::from(true)),
                ("aws:TagKeys".into(), serde_json::json!(["a", "b"])),
            ]),
            evaluations: vec![AwsEvaluation {
                action: "s3:GetObject".into(),
                resource: "arn:aws:s3:::my-bucket/data/report.csv".into(),
                effect: Some(effect.into()),
                context: BTreeMap::new(),
                matched: sid
                    .map(|sid| AwsMatchedPolicy {
                        uri: "arn:aws:s3:::my-bucket?policy".into(),
                        policy_type: Some("RESOURCE_BASED_POLICY".into()),
                        statements: vec![AwsStatement {
                            sid: Some(sid.into()),
                            effect: "DENY".into(),
                        }],
                    })
                    .into_iter()
                    .collect(),
            }],
            policies: Vec::new(),
        }
    }

    #[test]
    fn matching_deny_statements_show_no_difference() {
        let comparison = compare_statements(
            &details("EXPLICIT_DENY", Some("DenyOutsideOfficeNetwork")),
            &explanation("203.0.113.9"),
        );
        assert_eq!(comparison.differences, Vec::<String>::new());
        assert_eq!(comparison.aws.len(), 1);
        assert!(
            comparison
                .s3fix
                .iter()
                .any(|line| line.contains("DenyOutsideOfficeNetwork"))
        );
    }

    #[test]
    fn another_deny_and_a_missing_explicit_deny_are_differences() {
        let other = compare_statements(
            &details("EXPLICIT_DENY", Some("DenyUnencrypted")),
            &explanation("203.0.113.9"),
        );
        assert_eq!(other.differences.len(), 2, "{:?}", other.differences);
        let inside = compare_statements(
            &details("EXPLICIT_DENY", Some("DenyOutsideOfficeNetwork")),
            &explanation("198.51.100.7"),
        );
        assert!(
            inside
                .differences
                .iter()
                .any(|line| line.contains("s3fix finds none")),
            "{:?}",
            inside.differences
        );
    }

    #[test]
    fn aws_context_is_used_verbatim() {
        let entries = details("IMPLICIT_DENY", None).context_entries();
        assert!(entries.contains(&("aws:SourceIp".into(), ContextEntry::Single("203.0.113.9".into()))));
        assert!(entries.contains(&("aws:SecureTransport".into(), ContextEntry::Single("true".into()))));
        assert!(entries.contains(&(
            "aws:TagKeys".into(),
            ContextEntry::Multi(vec!["a".into(), "b".into()])
        )));
        let extraction = details("IMPLICIT_DENY", None).extraction();
        assert_eq!(extraction.bucket.as_deref(), Some("my-bucket"));
        assert_eq!(extraction.denial, Some(super::super::Denial::Implicit));
    }
}
