//! Does s3fix's deciding gate agree with the policy type (and ARN) AWS blamed?
//!
//! AWS names one policy type and one reason even when several apply (IAM User Guide,
//! "Troubleshoot access denied error messages": "If multiple policy types deny an authorization
//! request, AWS includes only one of those policy types"), so agreement means: the gate AWS
//! points at denies in s3fix's view too, the same way (explicit or implicit), and a named policy
//! ARN is among the deciding statements.

use super::{Denial, Extraction};
use crate::core::eval::StatementRef;
use crate::core::policy::{Effect, PolicyKind};
use crate::core::s3::{Explanation, Gate, GateReport, Verdict};
use serde::Serialize;

/// The comparison of AWS's statement with s3fix's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agreement {
    /// `true` or `false`; `None` when AWS named no policy type.
    pub agrees: Option<bool>,
    /// What AWS said, in a phrase.
    pub aws: Option<String>,
    /// What s3fix found, in a phrase.
    pub s3fix: String,
    /// Where they disagree: what s3fix's view may be missing.
    pub hint: Option<String>,
}

/// The policy kinds and gates an AWS policy-type phrase refers to.
fn referents(policy_type: &str, kms: bool) -> (&'static [PolicyKind], &'static [Gate], &'static str) {
    let lower = policy_type.to_ascii_lowercase();
    if lower.starts_with("identity-based") {
        let gates: &[Gate] = if kms {
            &[Gate::KmsKey]
        } else {
            &[Gate::IdentityPolicy]
        };
        (&[PolicyKind::Identity], gates, "identityPolicies")
    } else if lower.starts_with("permissions boundary") {
        (
            &[PolicyKind::Boundary],
            &[Gate::IdentityPolicy, Gate::KmsKey],
            "permissionBoundary",
        )
    } else if lower.starts_with("service control") {
        (&[PolicyKind::Scp], &[Gate::IdentityPolicy, Gate::KmsKey], "scps")
    } else if lower.starts_with("resource control") {
        (&[PolicyKind::Rcp], &[Gate::BucketPolicy, Gate::KmsKey], "rcps")
    } else if lower.starts_with("resource-based") {
        let gates: &[Gate] = if kms {
            &[Gate::KmsKey]
        } else {
            &[Gate::BucketPolicy, Gate::AclOwnership, Gate::BlockPublicAccess]
        };
        (
            &[PolicyKind::Resource, PolicyKind::Acl, PolicyKind::KeyPolicy],
            gates,
            "resourcePolicy",
        )
    } else if lower.starts_with("s3 block public access") {
        (&[], &[Gate::BlockPublicAccess], "")
    } else if lower.starts_with("session") {
        (&[PolicyKind::Session], &[], "sessionPolicy")
    } else {
        // VPC endpoint policies are not part of s3fix's world.
        (&[], &[], "")
    }
}

/// What s3fix's view lacks when AWS blames a policy type it does not see.
fn blind_spot(policy_type: &str) -> Option<&'static str> {
    let lower = policy_type.to_ascii_lowercase();
    if lower.starts_with("vpc endpoint") {
        Some(
            "s3fix does not read VPC endpoint policies: check the policy of the endpoint the request went through (aws ec2 describe-vpc-endpoints)",
        )
    } else if lower.starts_with("session") {
        Some(
            "s3fix does not see session policies passed at AssumeRole or federation: check the caller's AssumeRole Policy/PolicyArns",
        )
    } else {
        None
    }
}

/// `a service control policy`, `an identity-based policy`, `an S3 Block Public Access (…)`.
fn with_article(policy_type: &str) -> String {
    let article = if policy_type.starts_with(['a', 'e', 'i', 'o', 'u']) || policy_type.starts_with("S3") {
        "an"
    } else {
        "a"
    };
    format!("{article} {policy_type}")
}

fn is_deny(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::ExplicitDeny | Verdict::ImplicitDeny)
}

fn describe_statement(statement: &StatementRef) -> String {
    let sid = statement
        .sid
        .as_deref()
        .map(|sid| format!(" ({sid})"))
        .unwrap_or_default();
    format!(
        "{} `{}` statement {}{sid}",
        statement.kind.describe(),
        statement.policy,
        statement.statement
    )
}

/// s3fix's deciding gate in a phrase: the first gate that denies, with its deciding statement.
pub fn s3fix_view(explanation: &Explanation) -> String {
    let denying: Vec<&GateReport> = explanation
        .gates
        .iter()
        .filter(|gate| is_deny(gate.verdict))
        .collect();
    match denying.first() {
        None if explanation
            .gates
            .iter()
            .any(|gate| gate.verdict == Verdict::Unknown) =>
        {
            "no gate denies for sure; some gate could not be read".into()
        }
        None => "every gate allows the request".into(),
        Some(first) => {
            let how = if first.verdict == Verdict::ExplicitDeny {
                "explicit deny"
            } else {
                "implicit deny"
            };
            let statement = first
                .deciding
                .first()
                .map(|statement| format!(": {}", describe_statement(statement)))
                .unwrap_or_default();
            let others = denying.len().saturating_sub(1);
            let more = if others > 0 {
                format!(
                    " (and {others} more denying gate{})",
                    if others == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            };
            format!("{how} at the {}{statement}{more}", first.gate.describe())
        }
    }
}

/// Whether a deciding policy is the one AWS named by ARN (full ARN, or its last path segment,
/// the name managed policies, SCPs and RCPs carry in the world).
fn names_policy(statement: &StatementRef, arn: &str) -> bool {
    let last = arn.rsplit('/').next().unwrap_or(arn);
    statement.policy == arn || statement.policy == last
}

/// Compare AWS's stated policy type (and ARN) with the explanation.
pub fn compare(extraction: &Extraction, explanation: &Explanation) -> Agreement {
    let s3fix = s3fix_view(explanation);
    let Some(policy_type) = extraction.policy_type.as_deref() else {
        return Agreement {
            agrees: None,
            aws: None,
            s3fix,
            hint: None,
        };
    };
    let explicit = extraction.denial == Some(Denial::Explicit);
    let aws = format!(
        "{} in {}{}",
        if explicit {
            "explicit deny"
        } else {
            "implicit deny (no allow)"
        },
        with_article(policy_type),
        extraction
            .policy_arn
            .as_deref()
            .map(|arn| format!(" `{arn}`"))
            .unwrap_or_default()
    );
    let kms = extraction
        .action
        .as_deref()
        .is_some_and(|action| action.starts_with("kms:"));
    let (kinds, gates, group) = referents(policy_type, kms);
    let disagree = |hint: String| Agreement {
        agrees: Some(false),
        aws: Some(aws.clone()),
        s3fix: s3fix.clone(),
        hint: Some(hint),
    };
    if let Some(blind) = blind_spot(policy_type) {
        return disagree(blind.to_string());
    }
    let candidates: Vec<&GateReport> = explanation
        .gates
        .iter()
        .filter(|gate| gates.contains(&gate.gate))
        .collect();
    let agrees = if explicit {
        let deciding: Vec<&StatementRef> = candidates
            .iter()
            .filter(|gate| gate.verdict == Verdict::ExplicitDeny)
            .flat_map(|gate| gate.deciding.iter())
            .filter(|statement| statement.effect == Effect::Deny)
            .collect();
        let kind_matches =
            kinds.is_empty() || deciding.iter().any(|statement| kinds.contains(&statement.kind));
        let gate_denies = candidates
            .iter()
            .any(|gate| gate.verdict == Verdict::ExplicitDeny);
        let arn_matches = extraction
            .policy_arn
            .as_deref()
            .is_none_or(|arn| deciding.iter().any(|statement| names_policy(statement, arn)));
        if !gate_denies || !kind_matches {
            return disagree(missing_hint(explanation, policy_type));
        }
        if !arn_matches {
            return disagree(format!(
                "AWS named `{}`, which is not among s3fix's deciding statements: the world may hold an older version of that policy, or miss it",
                extraction.policy_arn.as_deref().unwrap_or_default()
            ));
        }
        true
    } else {
        let implicit: Vec<&&GateReport> = candidates
            .iter()
            .filter(|gate| gate.verdict == Verdict::ImplicitDeny)
            .collect();
        let group_matches = group.is_empty()
            || implicit.iter().any(|gate| {
                gate.missing.is_empty()
                    || gate.missing.iter().any(|missing| {
                        serde_json::to_value(missing)
                            .ok()
                            .and_then(|label| label.as_str().map(|label| label.starts_with(group)))
                            .unwrap_or(false)
                    })
            });
        if implicit.is_empty() || !group_matches {
            if candidates
                .iter()
                .any(|gate| gate.verdict == Verdict::ExplicitDeny)
            {
                return disagree(format!(
                    "AWS found no allow in {}, s3fix an explicit deny there: the world's policy may differ from the one AWS evaluated",
                    with_article(policy_type)
                ));
            }
            return disagree(missing_hint(explanation, policy_type));
        }
        true
    };
    Agreement {
        agrees: Some(agrees),
        aws: Some(aws),
        s3fix,
        hint: None,
    }
}

fn missing_hint(explanation: &Explanation, policy_type: &str) -> String {
    let unknown: Vec<&str> = explanation
        .gates
        .iter()
        .filter(|gate| gate.verdict == Verdict::Unknown)
        .map(|gate| gate.gate.describe())
        .collect();
    let unread = if unknown.is_empty() {
        String::new()
    } else {
        format!(" ({} could not be read)", unknown.join(", "))
    };
    format!(
        "AWS blames {} that s3fix does not find denying{unread}: s3fix's view may be missing something — a session policy, a VPC endpoint policy, an SCP or RCP it could not read, or a newer version of the policy",
        with_article(policy_type)
    )
}
