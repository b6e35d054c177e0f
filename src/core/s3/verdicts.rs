//! Each gate's verdict, deciding statements, detail and remedy, from the engine's decisions.

use super::gates::{EvaluatedRequest, Gate, GateReport, Inputs, Verdict, evaluated, named};
use super::{Compiled, ExplainError, compile};
use crate::core::eval::{
    Context, ContextEntry, Decision, Outcome, PolicySet, Request, Requester, ResourceRules, StatementRef,
    authorize, group,
};
use crate::core::policy::{Effect, PolicyKind};
use crate::core::world::{Bucket, ItemKind, KeyManager, ObjectOwnership, PublicAccessBlock, World};

pub(super) fn describe_refs(refs: &[StatementRef]) -> String {
    refs.iter()
        .map(|reference| match &reference.sid {
            Some(sid) => format!(
                "`{}` statement {} (Sid `{sid}`)",
                reference.policy, reference.statement
            ),
            None => format!("`{}` statement {}", reference.policy, reference.statement),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The failing or holding conditions of the deciding statements, for the detail text.
pub(super) fn condition_notes(decision: &Decision, refs: &[StatementRef]) -> String {
    let mut notes = Vec::new();
    for reference in refs {
        let Some(report) = decision
            .reports
            .iter()
            .find(|report| report.name == reference.policy && report.kind == reference.kind)
        else {
            continue;
        };
        let Some(statement) = report.statements.iter().find(|s| s.index == reference.statement) else {
            continue;
        };
        for check in statement.conditions.iter().filter(|check| check.held) {
            let value = match &check.value {
                Some(value) => format!("the request has {value}"),
                None => "the key is absent from the request".to_string(),
            };
            notes.push(format!("`{}` holds: {value}", check.condition));
        }
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join("; "))
    }
}

const RESOURCE_KINDS: &[PolicyKind] = &[PolicyKind::Resource, PolicyKind::Rcp];

pub(super) fn identity_gate(
    identity_only: &Decision,
    needed: bool,
    requester: &Requester,
    unknown: Option<String>,
    action: &str,
    resource: &str,
) -> GateReport {
    let report = |verdict, deciding, detail: String, remedy: Option<String>| GateReport {
        gate: Gate::IdentityPolicy,
        verdict,
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    };
    if !requester.has_identity_policies() {
        return report(
            Verdict::NotApplicable,
            Vec::new(),
            "the caller has no identity policies (anonymous, service or root)".into(),
            None,
        );
    }
    match identity_only.outcome {
        Outcome::ExplicitlyDenied => {
            let denies = identity_only.deciding.clone();
            report(
                Verdict::ExplicitDeny,
                denies.clone(),
                format!(
                    "denied by {}{}",
                    describe_refs(&denies),
                    condition_notes(identity_only, &denies)
                ),
                Some(
                    "narrow or remove that Deny, or change the request so its condition no longer holds"
                        .into(),
                ),
            )
        }
        _ if unknown.is_some() => report(
            Verdict::Unknown,
            Vec::new(),
            format!(
                "the caller's policies could not be read: {}",
                unknown.unwrap_or_default()
            ),
            Some("re-run with a --caller-role that may read IAM and Organizations".into()),
        ),
        Outcome::Allowed => {
            let allows = matched_in(identity_only, &[PolicyKind::Identity], Effect::Allow);
            report(
                Verdict::Allow,
                allows.clone(),
                format!("allowed by {}", describe_refs(&allows)),
                None,
            )
        }
        Outcome::ImplicitlyDenied if !needed => report(
            Verdict::NotApplicable,
            Vec::new(),
            "not needed: in its own account the caller is granted directly by the bucket policy".into(),
            None,
        ),
        Outcome::ImplicitlyDenied => {
            let what: Vec<String> = identity_only
                .missing_allow
                .iter()
                .map(|group_name| match group_name.as_str() {
                    group::IDENTITY => format!("no identity policy allows `{action}` on `{resource}`"),
                    group::BOUNDARY => "the permissions boundary does not allow it".to_string(),
                    group::SESSION => "the session policy does not allow it".to_string(),
                    other => format!(
                        "no SCP at OU level {} allows it",
                        other.trim_start_matches("scps[").trim_end_matches(']')
                    ),
                })
                .collect();
            let mut gate = report(
                Verdict::ImplicitDeny,
                Vec::new(),
                what.join("; "),
                Some(format!(
                    "grant `{action}` on `{resource}` in an identity policy of the caller (s3fix plan computes it)"
                )),
            );
            gate.missing = identity_only.missing_allow.clone();
            gate
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the gate needs each of these facts"
)]
pub(super) fn bucket_gate(
    s3: &Decision,
    has_policy: bool,
    unknown: Option<String>,
    foreign_owner: Option<&str>,
    cross_account: bool,
    action: &str,
    resource: &str,
    principal: &str,
) -> GateReport {
    let report = |verdict, deciding, detail: String, remedy: Option<String>| GateReport {
        gate: Gate::BucketPolicy,
        verdict,
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    };
    let denies = matched_in(s3, RESOURCE_KINDS, Effect::Deny);
    if !denies.is_empty() {
        return report(Verdict::ExplicitDeny, denies.clone(), format!("denied by {}{}", describe_refs(&denies), condition_notes(s3, &denies)),
            Some("change the request so the Deny's condition no longer holds, or exempt exactly this principal (s3fix plan --allow-deny-exception)".into()));
    }
    if let Some(reason) = unknown {
        return report(
            Verdict::Unknown,
            Vec::new(),
            format!("the bucket policy could not be read: {reason}"),
            Some("re-run with a --bucket-role that may call s3:GetBucketPolicy".into()),
        );
    }
    let allows = matched_in(s3, &[PolicyKind::Resource], Effect::Allow);
    let acl_allows = matched_in(s3, &[PolicyKind::Acl], Effect::Allow);
    if !allows.is_empty() {
        return report(
            Verdict::Allow,
            allows.clone(),
            format!("allowed by {}", describe_refs(&allows)),
            None,
        );
    }
    if cross_account && acl_allows.is_empty() {
        let detail = match (has_policy, foreign_owner) {
            (_, Some(owner)) => {
                format!("the object belongs to account {owner}: bucket-policy Allows do not apply to it")
            }
            (true, None) => format!(
                "no statement allows `{principal}` to `{action}` on `{resource}`, and a cross-account caller needs one"
            ),
            (false, None) => "there is no bucket policy, and a cross-account caller needs one".into(),
        };
        return report(
            Verdict::ImplicitDeny,
            Vec::new(),
            detail,
            Some(format!(
                "add a bucket-policy statement allowing exactly `{principal}` `{action}` on `{resource}` (s3fix plan computes it)"
            )),
        );
    }
    if !acl_allows.is_empty() {
        report(
            Verdict::NotApplicable,
            Vec::new(),
            "no statement applies; the ACL grants the access".into(),
            None,
        )
    } else if has_policy {
        report(
            Verdict::NotApplicable,
            Vec::new(),
            "no statement applies; in the caller's own account the identity policy suffices".into(),
            None,
        )
    } else {
        report(
            Verdict::NotApplicable,
            Vec::new(),
            "the bucket has no bucket policy".into(),
            None,
        )
    }
}

/// Every statement of the given kinds and effect that applies, from the full reports.
pub(super) fn matched_in(decision: &Decision, kinds: &[PolicyKind], effect: Effect) -> Vec<StatementRef> {
    let mut found = Vec::new();
    for report in decision
        .reports
        .iter()
        .filter(|report| kinds.contains(&report.kind))
    {
        for statement in report
            .statements
            .iter()
            .filter(|s| s.matched && s.effect == effect)
        {
            found.push(StatementRef {
                kind: report.kind,
                policy: report.name.clone(),
                statement: statement.index,
                sid: statement.sid.clone(),
                effect,
            });
        }
    }
    found
}

pub(super) fn acl_gate(
    s3: &Decision,
    acls_enabled: bool,
    ownership: ObjectOwnership,
    foreign_owner: Option<&str>,
    unknown: Option<String>,
    bucket_account: &str,
) -> GateReport {
    let report = |verdict, deciding, detail: String, remedy: Option<String>| GateReport {
        gate: Gate::AclOwnership,
        verdict,
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    };
    if let Some(reason) = unknown {
        return report(
            Verdict::Unknown,
            Vec::new(),
            format!("ownership controls or the ACL could not be read: {reason}"),
            None,
        );
    }
    if !acls_enabled {
        return report(
            Verdict::NotApplicable,
            Vec::new(),
            "ACLs are disabled (BucketOwnerEnforced): the bucket owner owns every object".into(),
            None,
        );
    }
    let grants = matched_in(s3, &[PolicyKind::Acl], Effect::Allow);
    match foreign_owner {
        Some(owner) if grants.is_empty() => report(Verdict::ImplicitDeny, Vec::new(),
            format!("Object Ownership is {ownership:?}: the object is owned by account {owner}, not the bucket owner {bucket_account}; bucket-policy Allows do not apply to it and its ACL grants the caller nothing"),
            Some("switch the bucket to BucketOwnerEnforced (s3fix plan does it, migrating ACL grants first), or have the owner copy the object with bucket-owner-full-control".into())),
        Some(owner) => report(Verdict::Allow, grants.clone(), format!("the object is owned by account {owner}; its ACL grants access: {}", describe_refs(&grants)), None),
        None if !grants.is_empty() => report(Verdict::Allow, grants.clone(), format!("ACL grants access: {}", describe_refs(&grants)), None),
        None => report(Verdict::NotApplicable, Vec::new(), format!("Object Ownership is {ownership:?}; the object belongs to the bucket owner"), None),
    }
}

pub(super) fn block_gate(
    block: &PublicAccessBlock,
    public: &[usize],
    policy: Option<&Compiled>,
    unknown: Option<String>,
    outside_account: bool,
    public_acl: bool,
) -> GateReport {
    let report = |verdict, deciding, detail: String, remedy: Option<String>| GateReport {
        gate: Gate::BlockPublicAccess,
        verdict,
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    };
    let public_refs: Vec<StatementRef> = policy
        .map(|compiled| {
            public
                .iter()
                .filter_map(|position| compiled.policy.statements.get(*position))
                .map(|statement| StatementRef {
                    kind: PolicyKind::Resource,
                    policy: compiled.name.clone(),
                    statement: statement.index,
                    sid: statement.sid.clone(),
                    effect: statement.effect,
                })
                .collect()
        })
        .unwrap_or_default();
    if public_refs.is_empty() {
        let detail = if public_acl && block.ignore_public_acls {
            "the ACL's public grants are ignored (IgnorePublicAcls); the bucket policy is not public"
                .to_string()
        } else {
            "the bucket policy is not public".to_string()
        };
        return report(Verdict::NotApplicable, Vec::new(), detail, None);
    }
    if let Some(reason) = unknown {
        return report(
            Verdict::Unknown,
            public_refs,
            format!("the bucket policy is public and Block Public Access could not be read: {reason}"),
            None,
        );
    }
    if block.restrict_public_buckets && outside_account {
        return report(
            Verdict::ExplicitDeny,
            public_refs.clone(),
            format!(
                "the bucket policy is public ({}) and RestrictPublicBuckets limits the bucket to its own account and AWS services: every cross-account request is denied",
                describe_refs(&public_refs)
            ),
            Some(
                "remove or pin (e.g. with aws:PrincipalOrgID or a named principal) the public statements"
                    .into(),
            ),
        );
    }
    report(
        Verdict::Allow,
        public_refs.clone(),
        format!(
            "the bucket policy is public ({}) but RestrictPublicBuckets does not block this request",
            describe_refs(&public_refs)
        ),
        None,
    )
}

pub(super) struct KmsCheck<'a> {
    pub(super) world: &'a World,
    pub(super) bucket: &'a Bucket,
    pub(super) requester: &'a Requester,
    pub(super) context: &'a Context,
    pub(super) inputs: &'a Inputs,
    pub(super) key_id: &'a str,
    pub(super) kms_action: &'a str,
    pub(super) encryption_context: String,
}

pub(super) fn kms_gate(
    check: &KmsCheck<'_>,
) -> Result<(GateReport, Option<EvaluatedRequest>, Option<Decision>), ExplainError> {
    let report = |verdict, deciding, detail: String, remedy: Option<String>| GateReport {
        gate: Gate::KmsKey,
        verdict,
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    };
    let Some(key) = check.world.key(check.key_id) else {
        let reason = check
            .world
            .unknown_reason(ItemKind::KeyMetadata, check.key_id)
            .unwrap_or("the key was not observed");
        return Ok((
            report(
                Verdict::Unknown,
                Vec::new(),
                format!("KMS key `{}`: {reason}", check.key_id),
                Some("re-run with a --bucket-role that may call kms:DescribeKey and kms:GetKeyPolicy".into()),
            ),
            None,
            None,
        ));
    };
    let caller_account = check.requester.account.clone().unwrap_or_default();
    if key.manager == KeyManager::Aws && caller_account != key.account {
        return Ok((report(Verdict::ImplicitDeny, Vec::new(),
            format!("the object is encrypted with the AWS managed key `{}` of account {}; AWS managed keys cannot be used from another account", key.arn, key.account),
            Some("re-encrypt the object with a customer managed key whose key policy can grant the caller (copy it with --sse-kms-key-id), and set it as the bucket default".into())), None, None));
    }
    let Some(document) = &key.policy else {
        let reason = check
            .world
            .unknown_reason(ItemKind::KeyPolicy, &key.arn)
            .unwrap_or("the key policy was not observed");
        return Ok((
            report(
                Verdict::Unknown,
                Vec::new(),
                format!("key policy of `{}`: {reason}", key.arn),
                None,
            ),
            None,
            None,
        ));
    };
    let key_policy = compile(&key.arn, "key policy", document, PolicyKind::KeyPolicy)?;
    // RCPs do not apply to AWS managed keys.
    let mut key_rcps = Vec::new();
    if key.manager == KeyManager::Customer
        && let Some(account) = check.world.account(&key.account)
    {
        for policy in &account.rcps {
            key_rcps.push(compile(
                &account.id,
                &policy.name,
                &policy.document,
                PolicyKind::Rcp,
            )?);
        }
    }
    let mut context = check.context.clone();
    context.insert(
        "kms:ViaService",
        ContextEntry::Single(format!("s3.{}.amazonaws.com", check.bucket.region)),
    );
    context.insert("kms:CallerAccount", ContextEntry::Single(caller_account));
    context.insert(
        "kms:EncryptionContext:aws:s3:arn",
        ContextEntry::Single(check.encryption_context.clone()),
    );
    context.insert(
        "kms:EncryptionContextKeys",
        ContextEntry::Multi(vec!["aws:s3:arn".into()]),
    );
    let request = Request::new(
        check.requester.clone(),
        check.kms_action,
        &key.arn,
        Some(key.account.clone()),
        context,
    );
    let set = PolicySet {
        identity: check.inputs.identity.iter().map(named).collect(),
        boundary: check.inputs.boundary.as_ref().map(named),
        session: None,
        scps: check
            .inputs
            .scps
            .iter()
            .map(|level| level.iter().map(named).collect())
            .collect(),
        rcps: key_rcps.iter().map(named).collect(),
        resource: Some(named(&key_policy)),
        acl: None,
        resource_rules: Some(ResourceRules::KeyPolicy),
    };
    let decision = authorize(&set, &request);
    let action = check.kms_action;
    let gate = match decision.outcome {
        Outcome::Allowed => report(
            Verdict::Allow,
            decision.deciding.clone(),
            format!(
                "`{action}` on `{}` is allowed by {}",
                key.arn,
                describe_refs(&decision.deciding)
            ),
            None,
        ),
        Outcome::ExplicitlyDenied => report(
            Verdict::ExplicitDeny,
            decision.deciding.clone(),
            format!(
                "`{action}` on `{}` is denied by {}",
                key.arn,
                describe_refs(&decision.deciding)
            ),
            Some("narrow that Deny".into()),
        ),
        Outcome::ImplicitlyDenied => {
            let mut missing = Vec::new();
            if decision.missing_allow.iter().any(|g| g == group::RESOURCE) {
                missing.push(format!(
                    "the key policy of `{}` does not allow the caller `{action}`",
                    key.arn
                ));
            }
            if decision.missing_allow.iter().any(|g| g == group::IDENTITY) {
                missing.push(format!(
                    "no identity policy of the caller allows `{action}` on the key"
                ));
            }
            missing.extend(decision.notes.iter().cloned());
            if missing.is_empty() {
                missing.push(format!("no policy allows `{action}` on `{}`", key.arn));
            }
            let mut gate = report(
                Verdict::ImplicitDeny,
                Vec::new(),
                missing.join("; "),
                Some(format!(
                    "allow `{action}` to the caller in the key policy (limited by kms:ViaService s3.{}.amazonaws.com and kms:CallerAccount) and in its identity policy (s3fix plan computes both)",
                    check.bucket.region
                )),
            );
            gate.missing = decision.missing_allow.clone();
            gate
        }
    };
    Ok((gate, Some(evaluated(&request)), Some(decision)))
}
