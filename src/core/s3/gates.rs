//! The gates of an S3 request, each with its verdict, deciding statements and remedy.

use super::acl::{AclScope, acl_policy};
use super::public::{acl_is_public, public_statements, request_acl_public};
use super::verdicts::{
    BlockCheck, KmsCheck, Naming, acl_gate, block_gate, bucket_gate, identity_gate, kms_gate,
};
use super::{
    Compiled, ExplainError, S3Action, S3Request, access_point, compile, find_principal, identity_policies,
    resource_arn, vpc_endpoint,
};
use crate::core::arn::{Arn, partition_of_region};
use crate::core::eval::{
    Context, ContextEntry, Decision, NamedPolicy, Outcome, PolicySet, Request, Requester, RequesterKind,
    ResourceRules, StatementRef, authorize, authorize_outcome,
};
use crate::core::policy::{Effect, PolicyKind};
use crate::core::world::{
    Account, Acl, Bucket, Encryption, Grantee, ItemKind, KeyManager, ObjectOwnership, PublicAccessBlock,
    World,
};
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

/// Why a gate decided as it did, as data: the planner and JSON readers match these, never the
/// English `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasonCode {
    /// The caller has no identity policies (anonymous, service, root, federated user).
    NoIdentityPolicies,
    /// An identity policy allows the request.
    IdentityPolicyAllows,
    /// In its own account the caller is granted directly by the bucket policy.
    IdentityPolicyNotNeeded,
    /// A Deny in an identity-based policy of the caller.
    IdentityPolicyDeny,
    /// A Deny in a service control policy of the caller's organization.
    ScpDeny,
    /// A Deny in the caller's permissions boundary.
    BoundaryDeny,
    /// A Deny in the session policy.
    SessionPolicyDeny,
    /// No identity policy allows the request.
    MissingIdentityGrant,
    /// Some SCP level of the caller's path allows nothing that covers the request.
    ScpImplicitDeny,
    /// The permissions boundary does not allow the request.
    BoundaryImplicitDeny,
    /// The session policy does not allow the request.
    SessionPolicyImplicitDeny,
    /// The caller's policies, boundary or SCPs could not be read.
    IdentityUnknown,
    /// A bucket-policy statement allows the request.
    BucketPolicyAllows,
    /// A bucket-policy Deny applies.
    BucketPolicyDeny,
    /// A Deny in a resource control policy of the bucket's (or key's) organization.
    RcpDeny,
    /// A cross-account caller needs a bucket-policy grant and has none.
    MissingBucketPolicyGrant,
    /// Another account owns the object: bucket-policy Allows do not apply to it.
    ForeignOwnedObject,
    /// The ACL grants the access (no bucket-policy statement needed).
    AclGrants,
    /// No statement applies, and none is needed.
    BucketPolicyNotNeeded,
    /// The bucket has no bucket policy, and none is needed.
    NoBucketPolicy,
    /// The bucket policy or the bucket account's RCPs could not be read.
    BucketPolicyUnknown,
    /// ACLs are disabled (BucketOwnerEnforced).
    AclsDisabled,
    /// The object belongs to the bucket owner; the ACL plays no part.
    BucketOwnerOwnsObject,
    /// Ownership controls or the ACL could not be read.
    OwnershipUnknown,
    /// The bucket policy is not public.
    PolicyNotPublic,
    /// The bucket policy is public, and RestrictPublicBuckets does not block this request.
    PublicPolicyAllowed,
    /// RestrictPublicBuckets blocks cross-account and anonymous access to a public bucket.
    RestrictPublicBuckets,
    /// BlockPublicAcls rejects a request that carries a public ACL.
    BlockPublicAcls,
    /// Block Public Access could not be read.
    BlockPublicAccessUnknown,
    /// No KMS request is made.
    NoKmsRequest,
    /// The KMS request is allowed.
    KmsAllows,
    /// A Deny in the key policy, the caller's policies or an RCP applies to the KMS request.
    KmsDeny,
    /// The key policy does not allow the caller.
    MissingKeyPolicyGrant,
    /// No identity policy of the caller allows the KMS action on the key.
    MissingIdentityKmsGrant,
    /// A grant exists but its encryption-context condition does not match the request's.
    EncryptionContextMismatch,
    /// The AWS managed key `aws/s3` cannot be used from another account.
    AwsManagedKeyCrossAccount,
    /// The KMS operation cannot be used on a key in another account.
    KmsActionNotCrossAccount,
    /// The key, its policy or its organization could not be read.
    KeyUnknown,
    /// The object's encryption could not be read.
    ObjectUnknown,
    /// The access point's policy allows the request.
    AccessPointPolicyAllows,
    /// A Deny in the access point's policy applies.
    AccessPointPolicyDeny,
    /// The access point's policy does not allow the caller.
    MissingAccessPointGrant,
    /// A VPC-only access point reached from outside its VPC.
    AccessPointNetworkOrigin,
    /// The access point's Block Public Access blocks its public policy.
    AccessPointBlockPublicAccess,
    /// The access point, its policy or its settings could not be read.
    AccessPointUnknown,
    /// The request does not go through an access point (or a VPC endpoint).
    NotThroughAccessPoint,
    /// Through an access point, the bucket policy neither grants nor delegates to access points.
    AccessPointNotDelegated,
    /// The VPC endpoint's policy allows the request.
    VpcEndpointPolicyAllows,
    /// A Deny in the VPC endpoint's policy applies.
    VpcEndpointPolicyDeny,
    /// The VPC endpoint's policy does not allow the request.
    MissingVpcEndpointGrant,
    /// The VPC endpoint could not be read.
    VpcEndpointUnknown,
    /// A gateway endpoint reaches only buckets in its own region.
    VpcEndpointRegion,
}

impl ReasonCode {
    /// The code of an access point, endpoint, or access-point bucket gate from its verdict.
    pub fn for_gate(gate: Gate, verdict: Verdict) -> ReasonCode {
        use Verdict::{Allow, ExplicitDeny, ImplicitDeny, NotApplicable, Unknown};
        match (gate, verdict) {
            (Gate::AccessPointPolicy, Allow) => ReasonCode::AccessPointPolicyAllows,
            (Gate::AccessPointPolicy, ExplicitDeny) => ReasonCode::AccessPointPolicyDeny,
            (Gate::AccessPointPolicy, ImplicitDeny) => ReasonCode::MissingAccessPointGrant,
            (Gate::AccessPointPolicy | Gate::AccessPointBlockPublicAccess, Unknown) => {
                ReasonCode::AccessPointUnknown
            }
            (Gate::AccessPointBlockPublicAccess, ExplicitDeny | ImplicitDeny) => {
                ReasonCode::AccessPointBlockPublicAccess
            }
            (Gate::AccessPointBlockPublicAccess, Allow) => ReasonCode::PolicyNotPublic,
            (Gate::VpcEndpointPolicy, Allow) => ReasonCode::VpcEndpointPolicyAllows,
            (Gate::VpcEndpointPolicy, ExplicitDeny) => ReasonCode::VpcEndpointPolicyDeny,
            (Gate::VpcEndpointPolicy, ImplicitDeny) => ReasonCode::MissingVpcEndpointGrant,
            (Gate::VpcEndpointPolicy, Unknown) => ReasonCode::VpcEndpointUnknown,
            (Gate::BucketPolicy, Allow) => ReasonCode::BucketPolicyAllows,
            (Gate::BucketPolicy, ExplicitDeny) => ReasonCode::BucketPolicyDeny,
            (Gate::BucketPolicy, ImplicitDeny) => ReasonCode::AccessPointNotDelegated,
            (Gate::BucketPolicy, Unknown) => ReasonCode::BucketPolicyUnknown,
            (Gate::BucketPolicy, NotApplicable) => ReasonCode::BucketPolicyNotNeeded,
            (_, NotApplicable) | (_, _) => ReasonCode::NotThroughAccessPoint,
        }
    }
}

/// A policy group that had to allow and did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// The caller's identity-based policies.
    IdentityPolicies,
    /// The resource-based policy (bucket policy or key policy).
    ResourcePolicy,
    /// The permissions boundary.
    PermissionBoundary,
    /// The session policy.
    SessionPolicy,
    /// The SCPs at one level of the caller's OU path (0 = the root).
    Scps(usize),
}

impl Missing {
    /// The engine's group label (`identityPolicies`, `scps[1]`, …) as a typed value.
    pub fn from_group(label: &str) -> Option<Missing> {
        use crate::core::eval::group;
        match label {
            group::IDENTITY => Some(Missing::IdentityPolicies),
            group::RESOURCE => Some(Missing::ResourcePolicy),
            group::BOUNDARY => Some(Missing::PermissionBoundary),
            group::SESSION => Some(Missing::SessionPolicy),
            other => other
                .strip_prefix("scps[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|level| level.parse().ok())
                .map(Missing::Scps),
        }
    }

    /// The typed groups of an engine decision's `missing_allow`.
    pub fn all(labels: &[String]) -> Vec<Missing> {
        labels
            .iter()
            .filter_map(|label| Missing::from_group(label))
            .collect()
    }
}

impl Serialize for Missing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use crate::core::eval::group;
        match self {
            Missing::IdentityPolicies => serializer.serialize_str(group::IDENTITY),
            Missing::ResourcePolicy => serializer.serialize_str(group::RESOURCE),
            Missing::PermissionBoundary => serializer.serialize_str(group::BOUNDARY),
            Missing::SessionPolicy => serializer.serialize_str(group::SESSION),
            Missing::Scps(level) => serializer.serialize_str(&format!("scps[{level}]")),
        }
    }
}

/// One gate's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The gate.
    pub gate: Gate,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, as data.
    pub code: ReasonCode,
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
    pub missing: Vec<Missing>,
}

/// The overall decision, in the words of AWS's access-denied messages and of `simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum FinalDecision {
    /// Every gate lets the request through.
    Allowed,
    /// A Deny statement matched in some gate ("with an explicit deny in a … policy").
    ExplicitlyDenied,
    /// No Deny matched, but an Allow is missing ("because no … policy allows"). Plan files
    /// written before this name read `Denied` as this.
    #[serde(alias = "Denied")]
    ImplicitlyDenied,
    /// No gate denies it for sure, but some gate's state could not be read.
    Unknown,
}

impl FinalDecision {
    /// Whether the request is denied (explicitly or implicitly).
    pub fn is_denied(self) -> bool {
        matches!(
            self,
            FinalDecision::ExplicitlyDenied | FinalDecision::ImplicitlyDenied
        )
    }
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
    /// Where each SCP level of the caller's path is attached, in operator words.
    pub(super) scp_places: Vec<String>,
}

/// The custom RCPs on an account's path, compiled.
pub(super) fn compile_rcps(account: &Account) -> Result<Vec<Compiled>, ExplainError> {
    account
        .rcps
        .iter()
        .map(|policy| compile(&account.id, &policy.name, &policy.document, PolicyKind::Rcp))
        .collect()
}

/// Where SCP level `level` of `account`'s path (root first, the account last) is attached.
pub(super) fn org_place(account: &Account, level: usize, levels: usize) -> String {
    match account.org_path.get(level) {
        Some(target) if target.starts_with("r-") => format!("the organization root `{target}`"),
        Some(target) if target.starts_with("ou-") => format!("OU `{target}`"),
        Some(target) => format!("account `{target}`"),
        None if level == 0 => "the organization root".to_string(),
        None if level + 1 == levels => format!("account `{}`", account.id),
        None => format!("the OU at level {level} above account `{}`", account.id),
    }
}

fn inputs(
    world: &World,
    bucket: Option<&Bucket>,
    requester: &Requester,
    principal_arn: &str,
) -> Result<Inputs, ExplainError> {
    let principal = find_principal(world, requester);
    // A federated user's permissions are those of the IAM user that called GetFederationToken,
    // which no ARN names: its identity side is reported unknown, not an error.
    if principal.is_none()
        && requester.has_identity_policies()
        && requester.kind != RequesterKind::FederatedUser
    {
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
    let mut scp_places = Vec::new();
    if let Some(account) = requester.account.as_deref().and_then(|id| world.account(id)) {
        for index in 0..account.scps.len() {
            scp_places.push(org_place(account, index, account.scps.len()));
        }
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
    let bucket_rcps = match bucket.and_then(|bucket| world.account(&bucket.account)) {
        Some(account) => compile_rcps(account)?,
        None => Vec::new(),
    };
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
        scp_places,
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
    // The caller calls S3 itself ("aws:ViaAWSService … is always included in the request
    // context"); only the KMS request S3 makes on its behalf has it true.
    context.insert_default("aws:ViaAWSService", ContextEntry::Single("false".into()));
    (context, warnings)
}

/// The encryption a PUT writes with: the request's own headers when it names an algorithm
/// (`s3:x-amz-server-side-encryption`, `…-aws-kms-key-id`), else the bucket default — "the
/// default applies only when the request specifies no encryption" (S3 API Reference,
/// ServerSideEncryptionByDefault). `aws:kms` without a key id uses the AWS managed key `aws/s3`
/// (PutObject, x-amz-server-side-encryption-aws-kms-key-id).
fn put_encryption(context: &Context, bucket: &Bucket) -> Option<Encryption> {
    let single = |key: &str| match context.get(key) {
        Some(ContextEntry::Single(value)) => Some(value.clone()),
        _ => None,
    };
    let Some(algorithm) = single("s3:x-amz-server-side-encryption") else {
        return bucket.default_encryption.clone();
    };
    let default_bucket_key = bucket
        .default_encryption
        .as_ref()
        .is_some_and(|default| default.bucket_key_enabled);
    Some(Encryption {
        kms_key_id: single("s3:x-amz-server-side-encryption-aws-kms-key-id")
            .filter(|_| algorithm.starts_with("aws:kms")),
        bucket_key_enabled: default_bucket_key && algorithm.starts_with("aws:kms"),
        algorithm,
    })
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
    let object_owner = object.and_then(|object| object.owner_account().map(str::to_string));
    let foreign_owner = match (&object_owner, request.action) {
        (Some(owner), S3Action::Get | S3Action::Head) if acls_enabled && *owner != bucket.account => {
            Some(owner.clone())
        }
        _ => None,
    };
    let block = effective_block(bucket, world);
    // A deletion is weighed against the bucket ACL's grants to the bucket owner and to the
    // object's owner (a key not in the world reads as the bucket owner's).
    let deletion_acl = bucket
        .acl
        .as_ref()
        .filter(|_| request.action == S3Action::Delete)
        .map(|acl| {
            let owner = object_owner.as_deref().unwrap_or(&bucket.account);
            let owners = [bucket.account.as_str(), owner];
            Acl {
                owner: acl.owner.clone(),
                grants: acl
                    .grants
                    .iter()
                    .filter(|grant| match &grant.grantee {
                        Grantee::CanonicalUser {
                            account: Some(account),
                            ..
                        } => owners.contains(&account.as_str()),
                        _ => false,
                    })
                    .cloned()
                    .collect(),
            }
        });
    let scope_acl = match request.action {
        S3Action::Get | S3Action::Head | S3Action::PutObjectAcl => object
            .and_then(|object| object.acl.as_ref())
            .map(|acl| (acl, AclScope::Object)),
        S3Action::Delete => deletion_acl.as_ref().map(|acl| (acl, AclScope::Deletion)),
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
            let policy = &compiled.policy;
            Compiled {
                name: compiled.name.clone(),
                policy: std::sync::Arc::new(crate::core::policy::Policy {
                    version: policy.version,
                    id: policy.id.clone(),
                    statements: policy
                        .statements
                        .iter()
                        .filter(|statement| statement.effect == Effect::Deny)
                        .cloned()
                        .collect(),
                    warnings: policy.warnings.clone(),
                }),
            }
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

    let naming = Naming::new(world, &inputs, caller_account.as_deref(), bucket);
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
        &naming,
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
            &naming,
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
        &naming,
    ));
    let public = inputs
        .bucket_policy
        .as_ref()
        .map(|compiled| public_statements(&compiled.policy))
        .unwrap_or_default();
    let bpa_unknown = unknown(ItemKind::BucketPublicAccessBlock, &bucket.name)
        .or_else(|| unknown(ItemKind::AccountPublicAccessBlock, &bucket.account));
    let public_acl_request = if matches!(request.action, S3Action::Put | S3Action::PutObjectAcl) {
        request_acl_public(&request.context)
    } else {
        None
    };
    gates.push(block_gate(
        &BlockCheck {
            block: &block,
            public: &public,
            policy: inputs.bucket_policy.as_ref(),
            unknown: bpa_unknown,
            outside_account: (cross_account && requester.kind != RequesterKind::Service)
                || requester.kind == RequesterKind::Anonymous,
            public_acl: scope_acl.map(|(acl, _)| acl_is_public(acl)).unwrap_or(false),
            public_acl_request,
        },
        &naming,
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
        S3Action::Put => put_encryption(&context, bucket),
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
                Arn::s3_bucket(partition_of_region(&bucket.region), &bucket.name).to_string()
            } else {
                resource.clone()
            };
            let bucket_key = encryption.bucket_key_enabled;
            let kms = KmsCheck {
                world,
                bucket,
                requester: &requester,
                context: &context,
                inputs: &inputs,
                key_id: &key_id,
                kms_action,
                encryption_context,
                bucket_key,
                naming: &naming,
            };
            let (gate, evaluated_request, decision) = kms_gate(&kms)?;
            kms_request = evaluated_request;
            kms_decision = decision;
            gate
        }
        _ => GateReport {
            gate: Gate::KmsKey,
            verdict: Verdict::NotApplicable,
            code: ReasonCode::NoKmsRequest,
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
                S3Action::Put => {
                    "the object is not written with a KMS key (no SSE-KMS header, no SSE-KMS bucket default)"
                        .into()
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
            code: ReasonCode::ObjectUnknown,
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
    let decision = if gates.iter().any(|gate| gate.verdict == Verdict::ExplicitDeny) {
        FinalDecision::ExplicitlyDenied
    } else if final_implicit {
        FinalDecision::ImplicitlyDenied
    } else if gates.iter().any(|gate| gate.verdict == Verdict::Unknown) {
        FinalDecision::Unknown
    } else if through.is_none() && s3.outcome == Outcome::ExplicitlyDenied {
        FinalDecision::ExplicitlyDenied
    } else if gates.iter().any(|gate| gate.verdict == Verdict::ImplicitDeny)
        || (through.is_none() && s3.outcome != Outcome::Allowed)
    {
        FinalDecision::ImplicitlyDenied
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
    let key_rcps = match world.account(&key.account) {
        Some(account) if key.manager == KeyManager::Customer => compile_rcps(account)?,
        _ => Vec::new(),
    };
    let mut request_context = Context::new();
    for (name, value) in context {
        request_context.insert(name, value.clone());
    }
    // A direct call to KMS: no service calls on the caller's behalf.
    request_context.insert_default("aws:ViaAWSService", ContextEntry::Single("false".into()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_files_with_the_old_denied_spelling_still_read() {
        let old: Result<FinalDecision, _> = serde_json::from_str("\"Denied\"");
        assert_eq!(old.ok(), Some(FinalDecision::ImplicitlyDenied));
        let new: Result<FinalDecision, _> = serde_json::from_str("\"ExplicitlyDenied\"");
        assert_eq!(new.ok(), Some(FinalDecision::ExplicitlyDenied));
        assert_eq!(
            serde_json::to_string(&FinalDecision::ImplicitlyDenied)
                .ok()
                .as_deref(),
            Some("\"ImplicitlyDenied\"")
        );
    }

    /// S3 User Guide, "Access control list (ACL) overview", ACL permissions: WRITE on a bucket
    /// "allows grantee to create new objects in the bucket. For the bucket and object owners of
    /// existing objects, also allows deletions and overwrites of those objects."
    #[test]
    fn bucket_acl_write_deletes_only_the_objects_the_grantee_owns() {
        let world: World = serde_json::from_value(serde_json::json!({
            "formatVersion": 1,
            "buckets": [{"name": "bkt", "account": "111111111111", "region": "us-east-1", "ownership": "ObjectWriter",
                "acl": {"owner": "111111111111", "grants": [
                    {"grantee": {"type": "CanonicalUser", "id": "a", "account": "111111111111"}, "permission": "FULL_CONTROL"},
                    {"grantee": {"type": "CanonicalUser", "id": "b", "account": "444455556666"}, "permission": "WRITE"}]},
                "objects": [
                    {"key": "mine.csv", "owner": "444455556666"},
                    {"key": "theirs.csv", "owner": "111111111111"},
                    {"key": "third.csv", "owner": "777788889999"}]}],
            "principals": [{"arn": "arn:aws:iam::444455556666:role/writer", "kind": "role", "inlinePolicies": [
                {"name": "s3", "document": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "*"}]}}]}],
        }))
        .unwrap_or_default();
        let decide = |action: S3Action, key: &str| {
            explain(
                &world,
                &S3Request {
                    principal: "arn:aws:sts::444455556666:assumed-role/writer/s".into(),
                    action,
                    bucket: "bkt".into(),
                    key: key.into(),
                    context: Vec::new(),
                },
            )
            .map(|explanation| explanation.decision)
            .ok()
        };
        assert_eq!(decide(S3Action::Delete, "mine.csv"), Some(FinalDecision::Allowed));
        for key in ["theirs.csv", "third.csv", "not-there.csv"] {
            assert_eq!(
                decide(S3Action::Delete, key),
                Some(FinalDecision::ImplicitlyDenied),
                "{key}"
            );
        }
        assert_eq!(decide(S3Action::Put, "new.csv"), Some(FinalDecision::Allowed));
    }

    #[test]
    fn missing_groups_are_typed_and_keep_their_labels() {
        let labels = vec!["identityPolicies".to_string(), "scps[2]".to_string()];
        let missing = Missing::all(&labels);
        assert_eq!(missing, vec![Missing::IdentityPolicies, Missing::Scps(2)]);
        assert_eq!(
            serde_json::to_value(&missing).ok(),
            Some(serde_json::json!(["identityPolicies", "scps[2]"]))
        );
    }
}
