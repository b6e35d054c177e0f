//! The gates of an S3 request, each with its verdict, deciding statements and remedy.

use super::acl::{AclScope, acl_policy};
use super::public::{acl_is_public, public_statements};
use super::verdicts::{KmsCheck, acl_gate, block_gate, bucket_gate, identity_gate, kms_gate};
use super::{
    Compiled, ExplainError, S3Action, S3Request, access_point, compile, find_principal, identity_policies,
    resource_arn, vpc_endpoint,
};
use crate::core::eval::{
    Context, ContextEntry, Decision, NamedPolicy, Outcome, PolicySet, Request, Requester, RequesterKind,
    ResourceRules, StatementRef, authorize, authorize_outcome,
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
    /// The access point's network origin and policy (requests through an access point).
    AccessPointPolicy,
    /// The access point's Block Public Access with the bucket's and the accounts'.
    AccessPointBlockPublicAccess,
    /// The VPC endpoint policy (requests with `aws:SourceVpce`).
    VpcEndpointPolicy,
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
            Gate::AccessPointPolicy => "access point",
            Gate::AccessPointBlockPublicAccess => "access point Block Public Access",
            Gate::VpcEndpointPolicy => "VPC endpoint policy",
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

pub(super) fn evaluated(request: &Request) -> EvaluatedRequest {
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

pub(super) struct Inputs {
    pub(super) identity: Vec<Compiled>,
    pub(super) boundary: Option<Compiled>,
    pub(super) scps: Vec<Vec<Compiled>>,
    pub(super) bucket_rcps: Vec<Compiled>,
    pub(super) bucket_policy: Option<Compiled>,
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

pub(super) fn named(compiled: &Compiled) -> NamedPolicy<'_> {
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
    let through = access_point::resolve(world, &request.context, &request.bucket)?;
    let bucket = match &through {
        Some(through) => through.bucket,
        None => world
            .bucket(&request.bucket)
            .ok_or_else(|| ExplainError::NoSuchBucket(request.bucket.clone()))?,
    };
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
    let (mut context, mut warnings) = context_for(request, role_arn, &tags);
    if let Some(through) = &through {
        through.extend_context(&mut context);
    }
    vpc_endpoint::extend_context(world, &mut context);
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
    let identity_resource = through.as_ref().map_or_else(
        || resource.clone(),
        |through| through.resource(request.action, &request.key),
    );
    let identity_request = Request::new(
        requester.clone(),
        action,
        &identity_resource,
        None,
        context.clone(),
    );
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
    let point_check = through.as_ref().map(|through| access_point::PointCheck {
        world,
        through,
        inputs: &inputs,
        requester: &requester,
        context: &context,
        action: request.action,
        key: &request.key,
    });
    let identity_needed = match &point_check {
        Some(check) => access_point::identity_needed(check)?,
        None => cross_account,
    } || authorize_outcome(
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
        &identity_resource,
    ));
    let policy_unknown =
        unknown(ItemKind::BucketPolicy, &bucket.name).or_else(|| unknown(ItemKind::Rcps, &bucket.account));
    gates.push(match &through {
        Some(through) => access_point::bucket_gate(
            &access_point::bucket_decision(
                bucket_policy_effective.as_ref(),
                &inputs.bucket_rcps,
                &s3_request,
            ),
            !cross_account && s3.outcome == Outcome::Allowed,
            policy_unknown,
            through,
            inputs.bucket_policy.is_some(),
        ),
        None => bucket_gate(
            &s3,
            inputs.bucket_policy.is_some(),
            policy_unknown,
            foreign_owner.as_deref(),
            cross_account,
            action,
            &resource,
            &request.principal,
        ),
    });
    // An object that could not be read (HeadObject denied) has an unknown owner and encryption.
    let object_unknown = if matches!(request.action, S3Action::Get | S3Action::Head) {
        unknown(ItemKind::Object, &object_resource)
    } else {
        None
    };
    let ownership_unknown = unknown(ItemKind::OwnershipControls, &bucket.name)
        .or_else(|| {
            if request.action.is_object() {
                unknown(ItemKind::ObjectAcl, &object_resource)
            } else {
                unknown(ItemKind::BucketAcl, &bucket.name)
            }
        })
        .or_else(|| object_unknown.clone().filter(|_| acls_enabled));
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

    // --- Access point and VPC endpoint gates, where the request goes through them.
    if let Some(check) = &point_check {
        gates.push(access_point::point_gate(check)?);
        gates.push(access_point::block_gate(check)?);
    }
    let endpoint_check = vpc_endpoint::EndpointCheck {
        world,
        requester: &requester,
        context: &context,
        action,
        resources: std::iter::once(resource.clone())
            .chain(through.is_some().then(|| identity_resource.clone()))
            .collect(),
        bucket_region: &bucket.region,
    };
    gates.extend(vpc_endpoint::endpoint_gate(&endpoint_check)?);

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
    let kms_gate = match object_unknown.filter(|_| request.action == S3Action::Get) {
        Some(reason) if kms_gate.verdict == Verdict::NotApplicable => GateReport {
            gate: Gate::KmsKey,
            verdict: Verdict::Unknown,
            deciding: Vec::new(),
            detail: format!("the object's encryption could not be read: {reason}"),
            remedy: Some("re-run with a --bucket-role that may call s3:GetObject (HeadObject) on it".into()),
            missing: Vec::new(),
        },
        _ => kms_gate,
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
    } else if gates.iter().any(|gate| gate.verdict == Verdict::ImplicitDeny)
        || (through.is_none() && s3.outcome != Outcome::Allowed)
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
