//! Each gate's verdict, deciding statements, detail and remedy, from the engine's decisions.

use super::gates::{
    EvaluatedRequest, Gate, GateReport, Inputs, Missing, ReasonCode, Verdict, compile_rcps, evaluated, named,
    org_place,
};
use super::{Compiled, ExplainError, compile};
use crate::core::arn::service_host;
use crate::core::eval::{
    ConditionOutcome, Context, ContextEntry, Decision, Outcome, PolicySet, PrincipalMatch, Request,
    Requester, RequesterKind, ResourceRules, StatementRef, authorize,
};
use crate::core::policy::{Effect, PolicyKind};
use crate::core::world::{Bucket, ItemKind, KeyManager, ObjectOwnership, PublicAccessBlock, World};

/// Who can change an organization policy, for SCP and RCP remedies.
const ORG_ADMIN: &str = "an administrator of the organization's management account (or a delegated administrator for Organizations policies)";

/// How reports name policies: the kind in AWS's words, and where organization policies are
/// attached.
#[derive(Debug, Clone, Default)]
pub(super) struct Naming {
    /// SCP name → where it is attached.
    pub(super) scps: Vec<(String, String)>,
    /// RCP name → the account whose path it is on.
    pub(super) rcps: Vec<(String, String)>,
    /// The bucket, for "bucket policy of `b`".
    pub(super) bucket: String,
    /// The KMS key ARN, for "key policy of `arn`".
    pub(super) key: Option<String>,
    /// Where each SCP level of the caller's path is attached.
    pub(super) scp_levels: Vec<String>,
}

impl Naming {
    /// Naming for the S3 request: the caller's SCP levels and the bucket account's RCPs.
    pub(super) fn new(
        world: &World,
        inputs: &Inputs,
        caller_account: Option<&str>,
        bucket: &Bucket,
    ) -> Naming {
        let mut naming = Naming {
            bucket: bucket.name.clone(),
            ..Naming::default()
        };
        if let Some(account) = caller_account.and_then(|id| world.account(id)) {
            let levels = account.scps.len();
            for (level, policies) in account.scps.iter().enumerate() {
                for policy in policies {
                    naming
                        .scps
                        .push((policy.name.clone(), org_place(account, level, levels)));
                }
            }
        }
        naming.scp_levels = inputs.scp_places.clone();
        naming.add_rcps(&bucket.account, world);
        naming
    }

    /// Add the RCPs of `account` (the bucket's or the key's).
    pub(super) fn add_rcps(&mut self, account: &str, world: &World) {
        if let Some(found) = world.account(account) {
            for policy in &found.rcps {
                self.rcps
                    .push((policy.name.clone(), format!("the OU path of account `{account}`")));
            }
        }
    }

    fn place(list: &[(String, String)], name: &str) -> Option<String> {
        list.iter()
            .find(|(known, _)| known == name)
            .map(|(_, place)| place.clone())
    }

    /// The policy a statement belongs to, e.g. "service control policy `DenyS3Reads` (attached
    /// to OU `ou-1`)".
    pub(super) fn policy(&self, kind: PolicyKind, name: &str) -> String {
        match kind {
            PolicyKind::Scp => match Naming::place(&self.scps, name) {
                Some(place) => format!("service control policy `{name}` (attached to {place})"),
                None => format!("service control policy `{name}`"),
            },
            PolicyKind::Rcp => match Naming::place(&self.rcps, name) {
                Some(place) => format!("resource control policy `{name}` (attached on {place})"),
                None => format!("resource control policy `{name}`"),
            },
            PolicyKind::Boundary => format!("permissions boundary `{name}`"),
            PolicyKind::Session => "session policy".to_string(),
            PolicyKind::Identity => format!("identity-based policy `{name}`"),
            PolicyKind::Resource => format!("bucket policy of `{}`", self.bucket),
            PolicyKind::KeyPolicy => match &self.key {
                Some(key) => format!("key policy of `{key}`"),
                None => "key policy".to_string(),
            },
            PolicyKind::Acl => format!("{name} of `{}`", self.bucket),
        }
    }

    /// Every reference in operator words.
    pub(super) fn refs(&self, refs: &[StatementRef]) -> String {
        refs.iter()
            .map(|reference| {
                let sid = reference
                    .sid
                    .as_ref()
                    .map(|sid| format!(", Sid `{sid}`"))
                    .unwrap_or_default();
                format!(
                    "{}, statement {}{sid}",
                    self.policy(reference.kind, &reference.policy),
                    reference.statement
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The deciding statements as `` `policy` statement N (Sid `S`) ``, for detail texts that have no
/// [`Naming`] at hand.
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

fn report(
    gate: Gate,
    verdict: Verdict,
    code: ReasonCode,
    deciding: Vec<StatementRef>,
    detail: String,
    remedy: Option<String>,
) -> GateReport {
    GateReport {
        gate,
        verdict,
        code,
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    }
}

/// The code and remedy of an explicit deny, by the kind of policy that denied.
fn deny_code_and_remedy(
    naming: &Naming,
    denies: &[StatementRef],
    default: (ReasonCode, String),
) -> (ReasonCode, String) {
    let Some(first) = denies.first() else {
        return default;
    };
    match first.kind {
        PolicyKind::Scp => (
            ReasonCode::ScpDeny,
            format!(
                "{ORG_ADMIN} can narrow or remove the Deny in {}; s3fix does not edit SCPs",
                naming.policy(first.kind, &first.policy)
            ),
        ),
        PolicyKind::Rcp => (
            ReasonCode::RcpDeny,
            format!(
                "{ORG_ADMIN} can narrow or remove the Deny in {}; s3fix does not edit RCPs",
                naming.policy(first.kind, &first.policy)
            ),
        ),
        PolicyKind::Boundary => (
            ReasonCode::BoundaryDeny,
            format!(
                "the owner of {} must narrow that Deny; s3fix does not edit boundaries",
                naming.policy(first.kind, &first.policy)
            ),
        ),
        PolicyKind::Session => (
            ReasonCode::SessionPolicyDeny,
            "start a new session without that session policy (AssumeRole without --policy)".to_string(),
        ),
        _ => default,
    }
}

/// An explicit deny by `denies`, named and coded by the kind of policy that denied.
fn explicit_deny(
    gate: Gate,
    decision: &Decision,
    denies: Vec<StatementRef>,
    naming: &Naming,
    default: (ReasonCode, String),
) -> GateReport {
    let (code, remedy) = deny_code_and_remedy(naming, &denies, default);
    let detail = format!(
        "explicitly denied by {}{}",
        naming.refs(&denies),
        condition_notes(decision, &denies)
    );
    report(gate, Verdict::ExplicitDeny, code, denies, detail, Some(remedy))
}

pub(super) fn identity_gate(
    identity_only: &Decision,
    needed: bool,
    requester: &Requester,
    unknown: Option<String>,
    action: &str,
    resource: &str,
    naming: &Naming,
) -> GateReport {
    let gate = |verdict, code, deciding, detail: String, remedy: Option<String>| {
        report(Gate::IdentityPolicy, verdict, code, deciding, detail, remedy)
    };
    if !requester.has_identity_policies() {
        let detail = match requester.kind {
            RequesterKind::Anonymous => "an anonymous request has no identity policies",
            RequesterKind::Root => "the account root user has every identity permission of its account",
            _ => "the caller has no identity policies (an AWS service principal)",
        };
        return gate(
            Verdict::NotApplicable,
            ReasonCode::NoIdentityPolicies,
            Vec::new(),
            detail.into(),
            None,
        );
    }
    let unknown = unknown.or_else(|| {
        (requester.kind == RequesterKind::FederatedUser && needed).then(|| {
            "a federated user has the permissions of the IAM user that called GetFederationToken, limited by its session policy; neither is named by the ARN".to_string()
        })
    });
    match identity_only.outcome {
        Outcome::ExplicitlyDenied => explicit_deny(
            Gate::IdentityPolicy,
            identity_only,
            identity_only.deciding.clone(),
            naming,
            (
                ReasonCode::IdentityPolicyDeny,
                "narrow or remove that Deny, or change the request so its condition no longer holds".into(),
            ),
        ),
        _ if unknown.is_some() => gate(
            Verdict::Unknown,
            ReasonCode::IdentityUnknown,
            Vec::new(),
            format!(
                "the caller's policies could not be read: {}",
                unknown.unwrap_or_default()
            ),
            Some("re-run with a --caller-role that may read IAM and Organizations".into()),
        ),
        Outcome::Allowed => {
            let allows = matched_in(identity_only, &[PolicyKind::Identity], Effect::Allow);
            gate(
                Verdict::Allow,
                ReasonCode::IdentityPolicyAllows,
                allows.clone(),
                format!("allowed by {}", naming.refs(&allows)),
                None,
            )
        }
        Outcome::ImplicitlyDenied if !needed => gate(
            Verdict::NotApplicable,
            ReasonCode::IdentityPolicyNotNeeded,
            Vec::new(),
            "not needed: in its own account the caller is granted directly by the bucket policy".into(),
            None,
        ),
        Outcome::ImplicitlyDenied => {
            let missing = Missing::all(&identity_only.missing_allow);
            let mut what = Vec::new();
            let mut remedies = Vec::new();
            let mut code = ReasonCode::MissingIdentityGrant;
            for group in &missing {
                match group {
                    Missing::IdentityPolicies | Missing::ResourcePolicy => {
                        what.push(format!(
                            "no identity-based policy allows `{action}` on `{resource}`"
                        ));
                        remedies.push(format!(
                            "grant `{action}` on `{resource}` in an identity policy of the caller (s3fix plan computes it)"
                        ));
                    }
                    Missing::PermissionBoundary => {
                        code = ReasonCode::BoundaryImplicitDeny;
                        what.push("no statement of the permissions boundary allows it".to_string());
                        remedies.push(
                            "the boundary's owner must allow it; s3fix does not edit boundaries".into(),
                        );
                    }
                    Missing::SessionPolicy => {
                        code = ReasonCode::SessionPolicyImplicitDeny;
                        what.push("the session policy does not allow it".to_string());
                        remedies.push("start a session whose session policy allows it".into());
                    }
                    Missing::Scps(level) => {
                        code = ReasonCode::ScpImplicitDeny;
                        let place = naming
                            .scp_levels
                            .get(*level)
                            .cloned()
                            .unwrap_or_else(|| format!("OU level {level}"));
                        what.push(format!("no service control policy attached to {place} allows it"));
                        remedies.push(format!(
                            "{ORG_ADMIN} must allow it in a service control policy attached to {place}; s3fix does not edit SCPs"
                        ));
                    }
                }
            }
            let mut gate = gate(
                Verdict::ImplicitDeny,
                code,
                Vec::new(),
                format!("implicitly denied: {}", what.join("; ")),
                Some(remedies.join("; ")),
            );
            gate.missing = missing;
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
    naming: &Naming,
) -> GateReport {
    let gate = |verdict, code, deciding, detail: String, remedy: Option<String>| {
        report(Gate::BucketPolicy, verdict, code, deciding, detail, remedy)
    };
    let denies = matched_in(s3, RESOURCE_KINDS, Effect::Deny);
    if !denies.is_empty() {
        return explicit_deny(
            Gate::BucketPolicy,
            s3,
            denies,
            naming,
            (
                ReasonCode::BucketPolicyDeny,
                "change the request so the Deny's condition no longer holds, or exempt exactly this principal (s3fix plan --allow-deny-exception)".into(),
            ),
        );
    }
    if let Some(reason) = unknown {
        return gate(
            Verdict::Unknown,
            ReasonCode::BucketPolicyUnknown,
            Vec::new(),
            format!("the bucket policy could not be read: {reason}"),
            Some("re-run with a --bucket-role that may call s3:GetBucketPolicy".into()),
        );
    }
    let allows = matched_in(s3, &[PolicyKind::Resource], Effect::Allow);
    let acl_allows = matched_in(s3, &[PolicyKind::Acl], Effect::Allow);
    if !allows.is_empty() {
        return gate(
            Verdict::Allow,
            ReasonCode::BucketPolicyAllows,
            allows.clone(),
            format!("allowed by {}", naming.refs(&allows)),
            None,
        );
    }
    if cross_account && acl_allows.is_empty() {
        if let Some(owner) = foreign_owner {
            return gate(
                Verdict::ImplicitDeny,
                ReasonCode::ForeignOwnedObject,
                Vec::new(),
                format!(
                    "the object belongs to account {owner}: bucket-policy Allows do not apply to it (see the ACL / Object Ownership gate)"
                ),
                Some(
                    "fix the ownership first (ACL / Object Ownership gate): no bucket-policy statement can grant an object another account owns"
                        .into(),
                ),
            );
        }
        let detail = if has_policy {
            format!(
                "implicitly denied: no statement of the bucket policy of `{}` allows `{principal}` to `{action}` on `{resource}`, and a cross-account caller needs one",
                naming.bucket
            )
        } else {
            "implicitly denied: there is no bucket policy, and a cross-account caller needs one".into()
        };
        let mut denied = gate(
            Verdict::ImplicitDeny,
            ReasonCode::MissingBucketPolicyGrant,
            Vec::new(),
            detail,
            Some(format!(
                "add a bucket-policy statement allowing exactly `{principal}` `{action}` on `{resource}` (s3fix plan computes it)"
            )),
        );
        denied.missing = vec![Missing::ResourcePolicy];
        return denied;
    }
    if !acl_allows.is_empty() {
        gate(
            Verdict::NotApplicable,
            ReasonCode::AclGrants,
            Vec::new(),
            "no statement applies; the ACL grants the access".into(),
            None,
        )
    } else if has_policy {
        gate(
            Verdict::NotApplicable,
            ReasonCode::BucketPolicyNotNeeded,
            Vec::new(),
            "no statement applies; in the caller's own account the identity policy suffices".into(),
            None,
        )
    } else {
        gate(
            Verdict::NotApplicable,
            ReasonCode::NoBucketPolicy,
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
    naming: &Naming,
) -> GateReport {
    let gate = |verdict, code, deciding, detail: String, remedy: Option<String>| {
        report(Gate::AclOwnership, verdict, code, deciding, detail, remedy)
    };
    if let Some(reason) = unknown {
        return gate(
            Verdict::Unknown,
            ReasonCode::OwnershipUnknown,
            Vec::new(),
            format!("ownership controls or the ACL could not be read: {reason}"),
            None,
        );
    }
    if !acls_enabled {
        return gate(
            Verdict::NotApplicable,
            ReasonCode::AclsDisabled,
            Vec::new(),
            "ACLs are disabled (BucketOwnerEnforced): the bucket owner owns every object".into(),
            None,
        );
    }
    let grants = matched_in(s3, &[PolicyKind::Acl], Effect::Allow);
    match foreign_owner {
        Some(owner) if grants.is_empty() => gate(
            Verdict::ImplicitDeny,
            ReasonCode::ForeignOwnedObject,
            Vec::new(),
            format!("Object Ownership is {ownership:?}: the object is owned by account {owner}, not the bucket owner {bucket_account}; bucket-policy Allows do not apply to it and its ACL grants the caller nothing"),
            Some("switch the bucket to BucketOwnerEnforced (s3fix plan does it, migrating ACL grants first), or have the owner copy the object with bucket-owner-full-control".into()),
        ),
        Some(owner) => gate(
            Verdict::Allow,
            ReasonCode::AclGrants,
            grants.clone(),
            format!("the object is owned by account {owner}; its ACL grants access: {}", naming.refs(&grants)),
            None,
        ),
        None if !grants.is_empty() => gate(
            Verdict::Allow,
            ReasonCode::AclGrants,
            grants.clone(),
            format!("ACL grants access: {}", naming.refs(&grants)),
            None,
        ),
        None => gate(
            Verdict::NotApplicable,
            ReasonCode::BucketOwnerOwnsObject,
            Vec::new(),
            format!("Object Ownership is {ownership:?}; the object belongs to the bucket owner"),
            None,
        ),
    }
}

/// What Block Public Access sees of one request.
pub(super) struct BlockCheck<'a> {
    pub(super) block: &'a PublicAccessBlock,
    pub(super) public: &'a [usize],
    pub(super) policy: Option<&'a Compiled>,
    pub(super) unknown: Option<String>,
    /// A cross-account or anonymous caller (RestrictPublicBuckets limits those).
    pub(super) outside_account: bool,
    /// The ACL in scope grants to AllUsers or AuthenticatedUsers.
    pub(super) public_acl: bool,
    /// The request itself carries a public ACL (`x-amz-acl` or a grant header): what it names.
    pub(super) public_acl_request: Option<String>,
}

pub(super) fn block_gate(check: &BlockCheck<'_>, naming: &Naming) -> GateReport {
    let gate = |verdict, code, deciding, detail: String, remedy: Option<String>| {
        report(Gate::BlockPublicAccess, verdict, code, deciding, detail, remedy)
    };
    if let Some(header) = &check.public_acl_request {
        if let Some(reason) = check.unknown.clone() {
            return gate(
                Verdict::Unknown,
                ReasonCode::BlockPublicAccessUnknown,
                Vec::new(),
                format!(
                    "the request carries a public ACL ({header}) and Block Public Access could not be read: {reason}"
                ),
                None,
            );
        }
        if check.block.block_public_acls {
            return gate(
                Verdict::ExplicitDeny,
                ReasonCode::BlockPublicAcls,
                Vec::new(),
                format!("the request carries a public ACL ({header}); public ACLs are prevented by the BlockPublicAcls setting"),
                Some("send the request without the public ACL (or with bucket-owner-full-control); grant access through a bucket-policy statement naming the principal".into()),
            );
        }
    }
    let public_refs: Vec<StatementRef> = check
        .policy
        .map(|compiled| {
            check
                .public
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
        let detail = if check.public_acl && check.block.ignore_public_acls {
            "the ACL's public grants are ignored (IgnorePublicAcls); the bucket policy is not public"
                .to_string()
        } else {
            "the bucket policy is not public".to_string()
        };
        return gate(
            Verdict::NotApplicable,
            ReasonCode::PolicyNotPublic,
            Vec::new(),
            detail,
            None,
        );
    }
    if let Some(reason) = check.unknown.clone() {
        return gate(
            Verdict::Unknown,
            ReasonCode::BlockPublicAccessUnknown,
            public_refs,
            format!("the bucket policy is public and Block Public Access could not be read: {reason}"),
            None,
        );
    }
    if check.block.restrict_public_buckets && check.outside_account {
        return gate(
            Verdict::ExplicitDeny,
            ReasonCode::RestrictPublicBuckets,
            public_refs.clone(),
            format!(
                "the bucket policy is public ({}) and RestrictPublicBuckets limits the bucket to its own account and AWS services: every cross-account request is denied",
                naming.refs(&public_refs)
            ),
            Some(
                "remove or pin (e.g. with aws:PrincipalOrgID or a named principal) the public statements"
                    .into(),
            ),
        );
    }
    gate(
        Verdict::Allow,
        ReasonCode::PublicPolicyAllowed,
        public_refs.clone(),
        format!(
            "the bucket policy is public ({}) but RestrictPublicBuckets does not block this request",
            naming.refs(&public_refs)
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
    pub(super) bucket_key: bool,
    pub(super) naming: &'a Naming,
}

/// Condition keys that describe the network a request comes from. In the request S3 makes to
/// KMS on the caller's behalf they describe S3, not the client (IAM User Guide, "AWS global
/// condition context keys": aws:SourceIp, aws:ViaAWSService), so the client's values are dropped.
const NETWORK_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceVpcArn",
    "aws:VpcSourceIp",
];

/// The context of the KMS request S3 makes for the caller: the S3 request's context without the
/// client's network keys, with `aws:ViaAWSService` true and the KMS keys S3 sets.
fn kms_context(check: &KmsCheck<'_>, caller_account: &str) -> Context {
    let mut context = Context::new();
    for (key, value) in check.context.entries() {
        if !NETWORK_KEYS
            .iter()
            .any(|network| network.eq_ignore_ascii_case(key))
        {
            context.insert(key, value.clone());
        }
    }
    context.insert("aws:ViaAWSService", ContextEntry::Single("true".into()));
    context.insert(
        "kms:ViaService",
        ContextEntry::Single(service_host("s3", &check.bucket.region)),
    );
    context.insert(
        "kms:CallerAccount",
        ContextEntry::Single(caller_account.to_string()),
    );
    context.insert(
        "kms:EncryptionContext:aws:s3:arn",
        ContextEntry::Single(check.encryption_context.clone()),
    );
    context.insert(
        "kms:EncryptionContextKeys",
        ContextEntry::Multi(vec!["aws:s3:arn".into()]),
    );
    context
}

/// An Allow that would grant the KMS request but for an encryption-context condition: the
/// statement, the condition and the value the request carried.
fn context_mismatch(decision: &Decision) -> Option<(StatementRef, String)> {
    for report in decision
        .reports
        .iter()
        .filter(|report| matches!(report.kind, PolicyKind::KeyPolicy | PolicyKind::Identity))
    {
        for statement in &report.statements {
            let principal_ok = statement.principal != Some(PrincipalMatch::NoMatch);
            let failed_on_context = matches!(&statement.condition, ConditionOutcome::Failed(condition)
                if condition.to_ascii_lowercase().contains("kms:encryptioncontext"));
            if statement.effect == Effect::Allow
                && statement.action
                && statement.resource
                && principal_ok
                && failed_on_context
            {
                let condition = match &statement.condition {
                    ConditionOutcome::Failed(condition) => condition.clone(),
                    _ => String::new(),
                };
                return Some((
                    StatementRef {
                        kind: report.kind,
                        policy: report.name.clone(),
                        statement: statement.index,
                        sid: statement.sid.clone(),
                        effect: Effect::Allow,
                    },
                    condition,
                ));
            }
        }
    }
    None
}

pub(super) fn kms_gate(
    check: &KmsCheck<'_>,
) -> Result<(GateReport, Option<EvaluatedRequest>, Option<Decision>), ExplainError> {
    let gate = |verdict, code, deciding, detail: String, remedy: Option<String>| {
        report(Gate::KmsKey, verdict, code, deciding, detail, remedy)
    };
    let Some(key) = check.world.key(check.key_id) else {
        let reason = check
            .world
            .unknown_reason(ItemKind::KeyMetadata, check.key_id)
            .unwrap_or("the key was not observed");
        return Ok((
            gate(
                Verdict::Unknown,
                ReasonCode::KeyUnknown,
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
        return Ok((gate(Verdict::ImplicitDeny, ReasonCode::AwsManagedKeyCrossAccount, Vec::new(),
            format!("the object is encrypted with the AWS managed key `{}` of account {}; AWS managed keys cannot be used from another account", key.arn, key.account),
            Some("re-encrypt the object with a customer managed key whose key policy can grant the caller (copy it with --sse-kms-key-id), and set it as the bucket default".into())), None, None));
    }
    let Some(document) = &key.policy else {
        let reason = check
            .world
            .unknown_reason(ItemKind::KeyPolicy, &key.arn)
            .unwrap_or("the key policy was not observed");
        return Ok((
            gate(
                Verdict::Unknown,
                ReasonCode::KeyUnknown,
                Vec::new(),
                format!("key policy of `{}`: {reason}", key.arn),
                None,
            ),
            None,
            None,
        ));
    };
    let key_policy = compile(&key.arn, "key policy", document, PolicyKind::KeyPolicy)?;
    let mut naming = check.naming.clone();
    naming.key = Some(key.arn.clone());
    // RCPs do not apply to AWS managed keys. A key in a third account (neither the bucket's nor
    // the caller's) is governed by that account's RCPs: unread, they leave the gate unknown.
    let mut key_rcps = Vec::new();
    let mut rcps_unknown = None;
    if key.manager == KeyManager::Customer {
        match check.world.account(&key.account) {
            Some(account) => {
                key_rcps = compile_rcps(account)?;
                if key.account != check.bucket.account {
                    naming.add_rcps(&key.account, check.world);
                }
            }
            None if key.account != check.bucket.account && key.account != caller_account => {
                rcps_unknown = Some(format!(
                    "the organization of account {} (the key's) was not read",
                    key.account
                ));
            }
            None => {}
        }
        if let Some(reason) = check.world.unknown_reason(ItemKind::Rcps, &key.account) {
            rcps_unknown = Some(format!(
                "the resource control policies of account {} (the key's) could not be read: {reason}",
                key.account
            ));
        }
    }
    let context = kms_context(check, &caller_account);
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
    let context_source = if check.bucket_key {
        "the bucket ARN, because the bucket uses an S3 Bucket Key"
    } else {
        "the object ARN (no S3 Bucket Key)"
    };
    let result = match decision.outcome {
        Outcome::Allowed if rcps_unknown.is_some() => gate(
            Verdict::Unknown,
            ReasonCode::KeyUnknown,
            decision.deciding.clone(),
            format!(
                "`{action}` on `{}` is allowed by {}, but {}",
                key.arn,
                naming.refs(&decision.deciding),
                rcps_unknown.clone().unwrap_or_default()
            ),
            Some(format!(
                "re-run with a --bucket-role that may read the organization of account {} (ListParents, ListPoliciesForTarget, DescribePolicy)",
                key.account
            )),
        ),
        Outcome::Allowed => gate(
            Verdict::Allow,
            ReasonCode::KmsAllows,
            decision.deciding.clone(),
            format!(
                "`{action}` on `{}` is allowed by {}",
                key.arn,
                naming.refs(&decision.deciding)
            ),
            None,
        ),
        Outcome::ExplicitlyDenied => {
            let (code, remedy) = deny_code_and_remedy(
                &naming,
                &decision.deciding,
                (ReasonCode::KmsDeny, "narrow that Deny".into()),
            );
            gate(
                Verdict::ExplicitDeny,
                code,
                decision.deciding.clone(),
                format!(
                    "`{action}` on `{}` is explicitly denied by {}{}",
                    key.arn,
                    naming.refs(&decision.deciding),
                    condition_notes(&decision, &decision.deciding)
                ),
                Some(remedy),
            )
        }
        Outcome::ImplicitlyDenied => {
            let missing = Missing::all(&decision.missing_allow);
            let mut what = Vec::new();
            let mut code = if missing.contains(&Missing::ResourcePolicy) {
                ReasonCode::MissingKeyPolicyGrant
            } else {
                ReasonCode::MissingIdentityKmsGrant
            };
            if let Some((statement, condition)) = context_mismatch(&decision) {
                code = ReasonCode::EncryptionContextMismatch;
                what.push(format!(
                    "encryption context mismatch: {} allows `{action}` only where `{condition}` holds, and S3 sends `kms:EncryptionContext:aws:s3:arn` = `{}`, {context_source}",
                    naming.refs(std::slice::from_ref(&statement)),
                    check.encryption_context
                ));
            }
            if missing.contains(&Missing::ResourcePolicy) {
                what.push(format!(
                    "the key policy of `{}` does not allow the caller `{action}`",
                    key.arn
                ));
            }
            if missing.contains(&Missing::IdentityPolicies) {
                what.push(format!(
                    "no identity-based policy of the caller allows `{action}` on the key"
                ));
            }
            if !decision.notes.is_empty() {
                code = ReasonCode::KmsActionNotCrossAccount;
                what.extend(decision.notes.iter().cloned());
            }
            if what.is_empty() {
                what.push(format!("no policy allows `{action}` on `{}`", key.arn));
            }
            let remedy = if code == ReasonCode::EncryptionContextMismatch {
                format!(
                    "make the condition accept `{}` ({context_source}), e.g. with a wildcard under the bucket ARN",
                    check.encryption_context
                )
            } else {
                format!(
                    "allow `{action}` to the caller in the key policy (limited by kms:ViaService s3.{}.amazonaws.com and kms:CallerAccount) and in its identity policy (s3fix plan computes both)",
                    check.bucket.region
                )
            };
            let mut denied = gate(
                Verdict::ImplicitDeny,
                code,
                Vec::new(),
                format!("implicitly denied: {}", what.join("; ")),
                Some(remedy),
            );
            denied.missing = missing;
            denied
        }
    };
    Ok((result, Some(evaluated(&request)), Some(decision)))
}
