//! The gates of an S3 request, each with its verdict, deciding statements and remedy.

use super::acl::{AclScope, acl_policy};
use super::public::{acl_is_public, public_statements};
use super::{
    Compiled, ExplainError, S3Action, S3Request, compile, find_principal, identity_policies, resource_arn,
};
use crate::core::eval::{
    Context, ContextEntry, Decision, NamedPolicy, Outcome, PolicySet, Request, Requester, RequesterKind,
    ResourceRules, StatementRef, authorize, authorize_outcome, group,
};
use crate::core::policy::{Effect, PolicyKind};
use crate::core::world::{Bucket, ItemKind, KeyManager, ObjectOwnership, PublicAccessBlock, World};
use serde::Serialize;

/// The gates, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Gate {
    /// Identity policies, permissions boundary and SCPs of the caller's account.
    IdentityPolicy,
    /// The bucket policy (and RCPs of the bucket's account).
    BucketPolicy,
    /// ACLs and Object Ownership.
    AclOwnership,
    /// S3 Block Public Access (bucket and account).
    BlockPublicAccess,
    /// The KMS key policy and identity permissions for SSE-KMS.
    KmsKey,
}

impl Gate {
    /// A human name.
    pub fn describe(self) -> &'static str {
        match self {
            Gate::IdentityPolicy => "identity policy",
            Gate::BucketPolicy => "bucket policy",
            Gate::AclOwnership => "ACL / Object Ownership",
            Gate::BlockPublicAccess => "Block Public Access",
            Gate::KmsKey => "KMS key (SSE-KMS)",
        }
    }
}

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// This gate lets the request through.
    Allow,
    /// A statement here denies it.
    ExplicitDeny,
    /// Something here had to allow and did not.
    ImplicitDeny,
    /// This gate plays no part in this request.
    NotApplicable,
    /// This gate's state could not be read.
    Unknown,
}

/// One gate's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The gate.
    pub gate: Gate,
    /// Its verdict.
    pub verdict: Verdict,
    /// The deciding statements (policy name, index, Sid).
    pub deciding: Vec<StatementRef>,
    /// Why, in a sentence.
    pub detail: String,
    /// What would have to change, where the gate denies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// For an implicit deny: the policy groups that had to allow and did not
    /// (`identityPolicies`, `resourcePolicy`, `permissionBoundary`, `scps[i]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// The overall decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum FinalDecision {
    /// Every gate lets the request through.
    Allowed,
    /// Some gate denies it.
    Denied,
    /// No gate denies it for sure, but some gate's state could not be read.
    Unknown,
}

/// The explanation of one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The overall decision.
    pub decision: FinalDecision,
    /// Every gate, in order.
    pub gates: Vec<GateReport>,
    /// The S3 request as evaluated: action, resource, context.
    pub request: EvaluatedRequest,
    /// The KMS request, for SSE-KMS objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_request: Option<EvaluatedRequest>,
    /// Findings that did not decide (unmapped ACL grants, assumed context).
    pub warnings: Vec<String>,
    /// The engine's full decision for the S3 request (per-statement reasons).
    #[serde(skip)]
    pub s3_decision: Option<Decision>,
    /// The engine's full decision for the KMS request.
    #[serde(skip)]
    pub kms_decision: Option<Decision>,
}

/// A request as the engine saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluatedRequest {
    /// The caller.
    pub principal: String,
    /// The IAM action.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// The context keys and values used.
    pub context: Vec<(String, String)>,
}

fn evaluated(request: &Request) -> EvaluatedRequest {
    EvaluatedRequest {
        principal: request.requester.arn.clone(),
        action: request.action.clone(),
        resource: request.resource.clone(),
        context: request
            .context
            .entries()
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    ContextEntry::Single(text) => text.clone(),
                    ContextEntry::Multi(values) => format!("[{}]", values.join(", ")),
                };
                (key.clone(), text)
            })
            .collect(),
    }
}

/// The effective Block Public Access: the most restrictive of bucket and account settings.
fn effective_block(bucket: &Bucket, world: &World) -> PublicAccessBlock {
    let bucket_level = bucket.public_access_block.unwrap_or_default();
    let account_level = world
        .account(&bucket.account)
        .and_then(|account| account.public_access_block)
        .unwrap_or_default();
    PublicAccessBlock {
        block_public_acls: bucket_level.block_public_acls || account_level.block_public_acls,
        ignore_public_acls: bucket_level.ignore_public_acls || account_level.ignore_public_acls,
        block_public_policy: bucket_level.block_public_policy || account_level.block_public_policy,
        restrict_public_buckets: bucket_level.restrict_public_buckets
            || account_level.restrict_public_buckets,
    }
}

struct Inputs {
    identity: Vec<Compiled>,
    boundary: Option<Compiled>,
    scps: Vec<Vec<Compiled>>,
    bucket_rcps: Vec<Compiled>,
    bucket_policy: Option<Compiled>,
}

fn inputs(
    world: &World,
    bucket: Option<&Bucket>,
    requester: &Requester,
    principal_arn: &str,
) -> Result<Inputs, ExplainError> {
    let principal = find_principal(world, requester);
    if principal.is_none() && requester.has_identity_policies() {
        return Err(ExplainError::NoSuchPrincipal(principal_arn.to_string()));
    }
    let identity = principal.map(identity_policies).transpose()?.unwrap_or_default();
    let boundary = principal
        .and_then(|principal| {
            principal
                .permissions_boundary
                .as_ref()
                .map(|boundary| (principal, boundary))
        })
        .map(|(principal, boundary)| {
            let name = boundary.arn.rsplit('/').next().unwrap_or(&boundary.arn);
            compile(&principal.arn, name, &boundary.document, PolicyKind::Boundary)
        })
        .transpose()?;
    let mut scps = Vec::new();
    if let Some(account) = requester.account.as_deref().and_then(|id| world.account(id)) {
        for level in &account.scps {
            let mut compiled = Vec::new();
            for policy in level {
                compiled.push(compile(
                    &account.id,
                    &policy.name,
                    &policy.document,
                    PolicyKind::Scp,
                )?);
            }
            scps.push(compiled);
        }
    }
    let mut bucket_rcps = Vec::new();
    if let Some(account) = bucket.and_then(|bucket| world.account(&bucket.account)) {
        for policy in &account.rcps {
            bucket_rcps.push(compile(
                &account.id,
                &policy.name,
                &policy.document,
                PolicyKind::Rcp,
            )?);
        }
    }
    let bucket_policy = bucket
        .and_then(|bucket| bucket.policy.as_ref().map(|document| (bucket, document)))
        .map(|(bucket, document)| compile(&bucket.name, "bucket policy", document, PolicyKind::Resource))
        .transpose()?;
    Ok(Inputs {
        identity,
        boundary,
        scps,
        bucket_rcps,
        bucket_policy,
    })
}

fn named(compiled: &Compiled) -> NamedPolicy<'_> {
    NamedPolicy {
        name: &compiled.name,
        policy: &compiled.policy,
    }
}

/// Build the request context: the operator's keys, then what s3fix knows for sure.
fn context_for(
    request: &S3Request,
    principal_role_arn: Option<&str>,
    tags: &[(String, String)],
) -> (Context, Vec<String>) {
    let mut context = Context::new();
    let mut warnings = Vec::new();
    for (key, value) in &request.context {
        context.insert(key, value.clone());
    }
    if context.get("aws:SecureTransport").is_none() {
        context.insert("aws:SecureTransport", ContextEntry::Single("true".into()));
        warnings.push(
            "assumed aws:SecureTransport=true (SDKs and the CLI use HTTPS); override with --context".into(),
        );
    }
    if let Some(role) = principal_role_arn {
        context.insert_default("aws:PrincipalArn", ContextEntry::Single(role.to_string()));
    }
    for (key, value) in tags {
        context.insert_default(
            &format!("aws:PrincipalTag/{key}"),
            ContextEntry::Single(value.clone()),
        );
    }
    if request.action == S3Action::List {
        context.insert_default("s3:prefix", ContextEntry::Single(request.key.clone()));
    }
    (context, warnings)
}

pub(super) fn explain(world: &World, request: &S3Request) -> Result<Explanation, ExplainError> {
    let bucket = world
        .bucket(&request.bucket)
        .ok_or_else(|| ExplainError::NoSuchBucket(request.bucket.clone()))?;
    let requester = Requester::parse(&request.principal).map_err(|message| ExplainError::BadPrincipal {
        principal: request.principal.clone(),
        message,
    })?;
    let principal = find_principal(world, &requester);
    let inputs = inputs(world, Some(bucket), &requester, &request.principal)?;
    let tags: Vec<(String, String)> = principal
        .map(|p| p.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let role_arn = principal
        .filter(|_| requester.kind == RequesterKind::RoleSession)
        .map(|p| p.arn.as_str());
    let (context, mut warnings) = context_for(request, role_arn, &tags);
    let caller_account = requester.account.clone();
    let cross_account = caller_account.as_deref() != Some(bucket.account.as_str());
    let unknown = |item: ItemKind, resource: &str| world.unknown_reason(item, resource).map(str::to_string);

    // --- Object Ownership and ACLs.
    let ownership = bucket.ownership.unwrap_or(ObjectOwnership::ObjectWriter);
    let acls_enabled = ownership != ObjectOwnership::BucketOwnerEnforced;
    let object = bucket.objects.iter().find(|object| object.key == request.key);
    let object_resource = format!("{}/{}", bucket.name, request.key);
    if matches!(request.action, S3Action::Get | S3Action::Head) && object.is_none() {
        warnings.push(format!(
            "object `s3://{}/{}` is not in the world: treated as owned by the bucket owner and unencrypted",
            bucket.name, request.key
        ));
    }
    let object_owner = object.and_then(|object| {
        object
            .owner
            .clone()
            .or_else(|| object.acl.as_ref().map(|acl| acl.owner.clone()))
    });
    let foreign_owner = match (&object_owner, request.action) {
        (Some(owner), S3Action::Get | S3Action::Head) if acls_enabled && *owner != bucket.account => {
            Some(owner.clone())
        }
        _ => None,
    };
    let block = effective_block(bucket, world);
    let scope_acl = match request.action {
        S3Action::Get | S3Action::Head | S3Action::Delete | S3Action::PutObjectAcl => object
            .and_then(|object| object.acl.as_ref())
            .map(|acl| (acl, AclScope::Object)),
        S3Action::Put | S3Action::List | S3Action::PutBucketPolicy | S3Action::GetBucketPolicy => {
            bucket.acl.as_ref().map(|acl| (acl, AclScope::Bucket))
        }
    };
    let acl_compiled = match scope_acl.filter(|_| acls_enabled) {
        Some((acl, scope)) => {
            let (document, acl_warnings) = acl_policy(acl, scope, block.ignore_public_acls);
            warnings.extend(acl_warnings);
            let name = if scope == AclScope::Object {
                "object ACL"
            } else {
                "bucket ACL"
            };
            Some(compile(&bucket.name, name, &document, PolicyKind::Acl)?)
        }
        None => None,
    };
    // Bucket-policy Allows apply only to objects the bucket owner owns; Denies apply to all.
    let bucket_policy_effective = inputs.bucket_policy.as_ref().map(|compiled| {
        if foreign_owner.is_some() {
            let mut denies_only = compiled.clone();
            denies_only
                .policy
                .statements
                .retain(|statement| statement.effect == Effect::Deny);
            denies_only
        } else {
            compiled.clone()
        }
    });

    // --- The S3 request through the engine.
    let action = request.action.iam_action();
    let resource = resource_arn(bucket, request.action, &request.key);
    let s3_request = Request::new(
        requester.clone(),
        action,
        &resource,
        Some(bucket.account.clone()),
        context.clone(),
    );
    let set = PolicySet {
        identity: inputs.identity.iter().map(named).collect(),
        boundary: inputs.boundary.as_ref().map(named),
        session: None,
        scps: inputs
            .scps
            .iter()
            .map(|level| level.iter().map(named).collect())
            .collect(),
        rcps: inputs.bucket_rcps.iter().map(named).collect(),
        resource: bucket_policy_effective.as_ref().map(named),
        acl: acl_compiled.as_ref().map(named),
        resource_rules: Some(ResourceRules::Standard),
    };
    let s3 = authorize(&set, &s3_request);
    // What the identity side alone says: the caller's policies, boundary and SCPs with no
    // resource policy, as if in its own account (then identity alone must allow).
    let identity_request = Request::new(requester.clone(), action, &resource, None, context.clone());
    let identity_only = authorize(
        &PolicySet {
            resource: None,
            acl: None,
            rcps: Vec::new(),
            ..set.clone()
        },
        &identity_request,
    );
    // Whether the request would pass without any identity policy (same account, direct grant).
    let identity_needed = cross_account
        || authorize_outcome(
            &PolicySet {
                identity: Vec::new(),
                ..set.clone()
            },
            &s3_request,
        )
        .outcome
            != Outcome::Allowed;

    let mut gates = Vec::new();
    let principal_unknown = principal.and_then(|p| {
        unknown(ItemKind::IdentityPolicies, &p.arn).or_else(|| unknown(ItemKind::PermissionsBoundary, &p.arn))
    });
    let scp_unknown = caller_account
        .as_deref()
        .and_then(|account| unknown(ItemKind::Scps, account));
    gates.push(identity_gate(
        &identity_only,
        identity_needed,
        &requester,
        principal_unknown.or(scp_unknown),
        action,
        &resource,
    ));
    let policy_unknown =
        unknown(ItemKind::BucketPolicy, &bucket.name).or_else(|| unknown(ItemKind::Rcps, &bucket.account));
    gates.push(bucket_gate(
        &s3,
        inputs.bucket_policy.is_some(),
        policy_unknown,
        foreign_owner.as_deref(),
        cross_account,
        action,
        &resource,
        &request.principal,
    ));
    let ownership_unknown = unknown(ItemKind::OwnershipControls, &bucket.name).or_else(|| {
        if request.action.is_object() {
            unknown(ItemKind::ObjectAcl, &object_resource)
        } else {
            unknown(ItemKind::BucketAcl, &bucket.name)
        }
    });
    gates.push(acl_gate(
        &s3,
        acls_enabled,
        ownership,
        foreign_owner.as_deref(),
        ownership_unknown,
        &bucket.account,
    ));
    let public = inputs
        .bucket_policy
        .as_ref()
        .map(|compiled| public_statements(&compiled.policy))
        .unwrap_or_default();
    let bpa_unknown = unknown(ItemKind::BucketPublicAccessBlock, &bucket.name)
        .or_else(|| unknown(ItemKind::AccountPublicAccessBlock, &bucket.account));
    gates.push(block_gate(
        &block,
        &public,
        inputs.bucket_policy.as_ref(),
        bpa_unknown,
        (cross_account && requester.kind != RequesterKind::Service)
            || requester.kind == RequesterKind::Anonymous,
        scope_acl.map(|(acl, _)| acl_is_public(acl)).unwrap_or(false),
    ));

    // --- SSE-KMS: the second request, to KMS.
    let mut kms_request = None;
    let mut kms_decision = None;
    let encryption = match request.action {
        S3Action::Get => object.and_then(|object| object.encryption.clone()),
        S3Action::Put => bucket.default_encryption.clone(),
        _ => None,
    };
    let kms_gate = match (
        request.action.kms_action(),
        encryption.filter(|e| e.algorithm.starts_with("aws:kms")),
    ) {
        (Some(kms_action), Some(encryption)) => {
            let key_id = encryption
                .kms_key_id
                .clone()
                .unwrap_or_else(|| "alias/aws/s3".to_string());
            let encryption_context = if encryption.bucket_key_enabled {
                format!("arn:aws:s3:::{}", bucket.name)
            } else {
                resource.clone()
            };
            let kms = KmsCheck {
                world,
                bucket,
                requester: &requester,
                context: &context,
                inputs: &inputs,
                key_id: &key_id,
                kms_action,
                encryption_context,
            };
            let (gate, evaluated_request, decision) = kms_gate(&kms)?;
            kms_request = evaluated_request;
            kms_decision = decision;
            gate
        }
        _ => GateReport {
            gate: Gate::KmsKey,
            verdict: Verdict::NotApplicable,
            deciding: Vec::new(),
            detail: match request.action {
                S3Action::Head => {
                    "HeadObject returns metadata without decrypting: no KMS permission is needed".into()
                }
                S3Action::List | S3Action::PutBucketPolicy | S3Action::GetBucketPolicy => {
                    "bucket-level requests do not touch object data".into()
                }
                S3Action::Delete | S3Action::PutObjectAcl => {
                    "the request does not read or write object data".into()
                }
                _ => "the object is not encrypted with a KMS key".into(),
            },
            remedy: None,
            missing: Vec::new(),
        },
    };
    gates.push(kms_gate);

    // An implicit deny is final when it does not hinge on an unread item: only the identity gate
    // of a same-account caller does (an unread bucket policy might grant it directly).
    let bucket_policy_read = world
        .unknown_reason(ItemKind::BucketPolicy, &bucket.name)
        .is_none();
    let final_implicit = gates.iter().any(|gate| {
        gate.verdict == Verdict::ImplicitDeny
            && (gate.gate != Gate::IdentityPolicy || cross_account || bucket_policy_read)
    });
    let decision = if gates.iter().any(|gate| gate.verdict == Verdict::ExplicitDeny) || final_implicit {
        FinalDecision::Denied
    } else if gates.iter().any(|gate| gate.verdict == Verdict::Unknown) {
        FinalDecision::Unknown
    } else if gates.iter().any(|gate| gate.verdict == Verdict::ImplicitDeny) || s3.outcome != Outcome::Allowed
    {
        FinalDecision::Denied
    } else {
        FinalDecision::Allowed
    };
    Ok(Explanation {
        decision,
        gates,
        request: evaluated(&s3_request),
        kms_request,
        warnings,
        s3_decision: Some(s3),
        kms_decision,
    })
}

fn describe_refs(refs: &[StatementRef]) -> String {
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
fn condition_notes(decision: &Decision, refs: &[StatementRef]) -> String {
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

fn identity_gate(
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
fn bucket_gate(
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
fn matched_in(decision: &Decision, kinds: &[PolicyKind], effect: Effect) -> Vec<StatementRef> {
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

fn acl_gate(
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

fn block_gate(
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

struct KmsCheck<'a> {
    world: &'a World,
    bucket: &'a Bucket,
    requester: &'a Requester,
    context: &'a Context,
    inputs: &'a Inputs,
    key_id: &'a str,
    kms_action: &'a str,
    encryption_context: String,
}

fn kms_gate(
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

/// Evaluate a KMS request on a key directly (not through S3): the caller's identity policies,
/// boundary and SCPs with the key policy. `None` when the key or its policy is not in the world.
pub fn key_decision(
    world: &World,
    principal: &str,
    key_id: &str,
    action: &str,
    context: &[(String, ContextEntry)],
) -> Result<Option<Decision>, ExplainError> {
    let requester = Requester::parse(principal).map_err(|message| ExplainError::BadPrincipal {
        principal: principal.to_string(),
        message,
    })?;
    let inputs = inputs(world, None, &requester, principal)?;
    let Some(key) = world.key(key_id) else {
        return Ok(None);
    };
    let Some(document) = &key.policy else {
        return Ok(None);
    };
    let key_policy = compile(&key.arn, "key policy", document, PolicyKind::KeyPolicy)?;
    let mut key_rcps = Vec::new();
    if key.manager == KeyManager::Customer
        && let Some(account) = world.account(&key.account)
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
    let mut request_context = Context::new();
    for (name, value) in context {
        request_context.insert(name, value.clone());
    }
    if let Some(found) =
        find_principal(world, &requester).filter(|_| requester.kind == RequesterKind::RoleSession)
    {
        request_context.insert_default("aws:PrincipalArn", ContextEntry::Single(found.arn.clone()));
    }
    let request = Request::new(
        requester,
        action,
        &key.arn,
        Some(key.account.clone()),
        request_context,
    );
    let set = PolicySet {
        identity: inputs.identity.iter().map(named).collect(),
        boundary: inputs.boundary.as_ref().map(named),
        session: None,
        scps: inputs
            .scps
            .iter()
            .map(|level| level.iter().map(named).collect())
            .collect(),
        rcps: key_rcps.iter().map(named).collect(),
        resource: Some(named(&key_policy)),
        acl: None,
        resource_rules: Some(ResourceRules::KeyPolicy),
    };
    Ok(Some(authorize(&set, &request)))
}
