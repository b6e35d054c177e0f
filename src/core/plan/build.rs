//! Building the edits: probe the requested access through every gate, collect what each failing
//! gate needs, and turn the needs into the smallest documents that grant exactly that.

use super::apply::{ResourceRef, set_value};
use super::documents::edits_for;
use super::neighbourhood::representative_probes;
use super::{Blocker, Edit, PlanError, PlanOptions, owned_policy_name};
use crate::core::arn::{Arn, PrincipalArn};
use crate::core::eval::{ContextEntry, StatementRef};
use crate::core::policy::PolicyKind;
use crate::core::s3::{
    Explanation, FinalDecision, Gate, Missing, ReasonCode, S3Action, S3Request, Verdict, explain,
};
use crate::core::spec::{Access, Spec};
use crate::core::world::{KeyManager, PrincipalKind, World};
use serde_json::Value;
use std::collections::BTreeSet;

/// A request the plan must make succeed (or, in the proof, must not widen).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRequest {
    /// The caller as it makes requests: a role session ARN or a user ARN.
    pub principal: String,
    /// The operation.
    pub action: S3Action,
    /// The object key or list prefix.
    pub key: String,
    /// The request context.
    pub context: Vec<(String, ContextEntry)>,
}

impl ProbeRequest {
    /// The request for `explain`.
    pub fn to_request(&self, bucket: &str) -> S3Request {
        S3Request {
            principal: self.principal.clone(),
            action: self.action,
            bucket: bucket.to_string(),
            key: self.key.clone(),
            context: self.context.clone(),
        }
    }
}

/// The ARN a principal makes requests as: a session for a role, itself for a user.
pub fn caller_arn(principal_arn: &str, kind: PrincipalKind) -> String {
    match kind {
        PrincipalKind::User => principal_arn.to_string(),
        PrincipalKind::Role => match PrincipalArn::parse(principal_arn) {
            Some(role) => {
                Arn::role_session(&role.arn.partition, &role.account, role.name(), "s3fix-probe").to_string()
            }
            None => principal_arn.to_string(),
        },
    }
}

/// The context a principal's requests carry: the spec's context, plus `aws:PrincipalArn` (the
/// role ARN with its path, which a session ARN does not show).
pub fn caller_context(spec: &Spec) -> Vec<(String, ContextEntry)> {
    let mut context: Vec<(String, ContextEntry)> = spec
        .context
        .iter()
        .map(|(key, value)| (key.clone(), ContextEntry::Single(value.clone())))
        .collect();
    if !context
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case("aws:PrincipalArn"))
    {
        context.push((
            "aws:PrincipalArn".to_string(),
            ContextEntry::Single(spec.principal.clone()),
        ));
    }
    if let Some(access_point) = &spec.access_point {
        context.retain(|(key, _)| {
            !key.eq_ignore_ascii_case(crate::core::s3::access_point::DATA_ACCESS_POINT_ARN)
        });
        context.push((
            crate::core::s3::access_point::DATA_ACCESS_POINT_ARN.to_string(),
            ContextEntry::Single(access_point.clone()),
        ));
    }
    context
}

/// The ARN of the access point the spec's requests go through, as the world knows it (the spec
/// may name it by alias). `None` for a direct spec or an access point the world does not hold.
pub fn spec_access_point(world: &World, spec: &Spec) -> Option<String> {
    let named = spec.access_point.as_deref()?;
    world.access_point(named).map(|(_, point)| point.arn.clone())
}

/// Concrete keys for a key pattern: the objects of the world it covers, and a probe key.
pub fn keys_for(world: &World, bucket: &str, pattern: &str) -> Vec<String> {
    match pattern.strip_suffix('*') {
        None => vec![pattern.to_string()],
        Some(prefix) => {
            let mut keys: Vec<String> = world
                .bucket(bucket)
                .map(|found| {
                    found
                        .objects
                        .iter()
                        .filter(|o| o.key.starts_with(prefix))
                        .map(|o| o.key.clone())
                        .collect()
                })
                .unwrap_or_default();
            keys.push(format!("{prefix}s3fix-probe"));
            keys
        }
    }
}

/// The requests the spec asks to succeed.
pub fn probes(world: &World, spec: &Spec) -> Vec<ProbeRequest> {
    let kind = world
        .principal(&spec.principal)
        .map_or(PrincipalKind::Role, |principal| principal.kind);
    let principal = caller_arn(&spec.principal, kind);
    let context = caller_context(spec);
    let mut probes = Vec::new();
    for access in spec.access_set() {
        for pattern in &spec.keys {
            let (action, keys) = match access {
                Access::Read => (S3Action::Get, keys_for(world, &spec.bucket, pattern)),
                Access::Write => (S3Action::Put, keys_for(world, &spec.bucket, pattern)),
                Access::List => (S3Action::List, vec![pattern.trim_end_matches('*').to_string()]),
            };
            for key in keys {
                probes.push(ProbeRequest {
                    principal: principal.clone(),
                    action,
                    key,
                    context: context.clone(),
                });
            }
        }
    }
    probes
}

/// What the failing gates need.
#[derive(Debug, Default)]
pub(super) struct Needs {
    pub(super) identity: BTreeSet<Access>,
    pub(super) identity_kms: BTreeSet<(String, &'static str)>,
    pub(super) bucket: BTreeSet<Access>,
    pub(super) ownership: bool,
    pub(super) key_grants: BTreeSet<(String, &'static str)>,
    pub(super) deny_exceptions: BTreeSet<(ResourceRef, usize)>,
    /// Grants the spec's access point policy lacks.
    pub(super) access_point: BTreeSet<Access>,
    /// Access the bucket policy neither grants nor delegates to the spec's access point.
    pub(super) delegation: BTreeSet<Access>,
}

/// The result of building: edits in apply order, what was read, warnings, the probes.
#[derive(Debug)]
pub(super) struct Built {
    pub options: PlanOptions,
    pub edits: Vec<Edit>,
    pub read: Vec<ResourceRef>,
    pub warnings: Vec<String>,
    pub probes: Vec<ProbeRequest>,
}

fn access_of(action: S3Action) -> Access {
    match action {
        S3Action::Put => Access::Write,
        S3Action::List => Access::List,
        _ => Access::Read,
    }
}

/// Deny conditions that describe how a request is made, not who makes it: no policy edit can
/// satisfy them, the caller has to change (use TLS, go through the VPC endpoint).
const TRANSPORT_KEYS: &[&str] = &[
    "aws:securetransport",
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:sourcevpcarn",
];

fn transport_condition(world: &World, bucket: &str, reference: &StatementRef) -> Option<String> {
    let document = match reference.kind {
        PolicyKind::Resource => world.bucket(bucket)?.policy.clone()?,
        _ => return None,
    };
    let statement = match document.get("Statement")? {
        Value::Array(items) => items.get(reference.statement)?.clone(),
        single => single.clone(),
    };
    let condition = statement.get("Condition")?.as_object()?.clone();
    condition
        .values()
        .filter_map(Value::as_object)
        .flat_map(|keys| keys.keys().cloned().collect::<Vec<_>>())
        .find(|key| TRANSPORT_KEYS.contains(&key.to_ascii_lowercase().as_str()))
}

/// Read every failing probe's gates into needs and blockers.
fn collect_needs(
    world: &World,
    spec: &Spec,
    options: PlanOptions,
    failing: &[(ProbeRequest, Explanation)],
    needs: &mut Needs,
    blockers: &mut Vec<Blocker>,
) {
    let bucket = &spec.bucket;
    let caller_account = spec.principal_account().to_string();
    let point_account = spec_access_point(world, spec)
        .and_then(|arn| crate::core::s3::access_point::AccessPointArn::parse_with_key(&arn))
        .map(|(arn, _)| arn.account);
    let mut block = |gate: Gate, what: String, statement: Option<StatementRef>, remedy: &str| {
        let blocker = Blocker {
            gate,
            what,
            statement,
            remedy: remedy.to_string(),
        };
        if !blockers.contains(&blocker) {
            blockers.push(blocker);
        }
    };
    for (probe, explanation) in failing {
        let access = access_of(probe.action);
        for gate in &explanation.gates {
            match (gate.gate, gate.verdict) {
                (_, Verdict::Unknown) => block(
                    gate.gate,
                    format!("cannot plan while this gate is unknown: {}", gate.detail),
                    None,
                    "re-run with roles that may read this state (--bucket-role, --caller-role)",
                ),
                (Gate::IdentityPolicy, Verdict::ExplicitDeny) => {
                    for reference in &gate.deciding {
                        block(
                            gate.gate,
                            format!(
                                "a Deny in the caller's {} blocks `{}`",
                                reference.kind.describe(),
                                probe.action.iam_action()
                            ),
                            Some(reference.clone()),
                            "s3fix never removes or narrows the caller's own Denies or SCPs: change that policy through its owner",
                        );
                    }
                }
                (Gate::IdentityPolicy, Verdict::ImplicitDeny) => {
                    for missing in &gate.missing {
                        match missing {
                            Missing::IdentityPolicies | Missing::ResourcePolicy => {
                                needs.identity.insert(access);
                            }
                            Missing::PermissionBoundary => block(
                                gate.gate,
                                "the caller's permissions boundary does not allow the access".into(),
                                None,
                                "raise the permissions boundary through its owner; s3fix does not edit boundaries",
                            ),
                            Missing::SessionPolicy => block(
                                gate.gate,
                                "the caller's session policy does not allow the access".into(),
                                None,
                                "start a session whose session policy allows it; s3fix does not edit session policies",
                            ),
                            Missing::Scps(level) => block(
                                gate.gate,
                                format!(
                                    "the service control policies at `scps[{level}]` do not allow the access"
                                ),
                                None,
                                "an administrator of the organization's management account (or a delegated administrator) must allow it in the SCP; s3fix does not edit SCPs",
                            ),
                        }
                    }
                }
                (Gate::BucketPolicy, Verdict::ExplicitDeny) => {
                    for reference in &gate.deciding {
                        if gate.code == ReasonCode::RcpDeny && reference.kind == PolicyKind::Rcp {
                            block(
                                gate.gate,
                                "a resource control policy denies the access".into(),
                                Some(reference.clone()),
                                "ask the organization's administrators to change the RCP; s3fix does not edit RCPs",
                            );
                        } else if let Some(key) = transport_condition(world, bucket, reference) {
                            block(
                                gate.gate,
                                format!("a Deny conditioned on `{key}` blocks the request as it is made"),
                                Some(reference.clone()),
                                "make the request the way the Deny requires (HTTPS for aws:SecureTransport; through the VPC endpoint for aws:SourceVpce/aws:SourceVpc)",
                            );
                        } else if options.allow_deny_exception {
                            needs.deny_exceptions.insert((
                                ResourceRef::BucketPolicy {
                                    bucket: bucket.clone(),
                                },
                                reference.statement,
                            ));
                        } else {
                            block(
                                gate.gate,
                                "a bucket-policy Deny blocks the access".into(),
                                Some(reference.clone()),
                                "give the request the context the Deny expects (spec [context]), or re-run with --allow-deny-exception to exempt exactly this principal",
                            );
                        }
                    }
                }
                // A foreign-owned object ignores bucket-policy Allows: once the ownership
                // switch lands, the next round sees whether a grant is still missing.
                (Gate::BucketPolicy, Verdict::ImplicitDeny)
                    if gate.code != ReasonCode::ForeignOwnedObject =>
                {
                    // Through an access point the bucket must delegate the request, never grant
                    // it directly: a direct grant would open the bucket outside the access point.
                    if spec.access_point.is_some() {
                        needs.delegation.insert(access);
                    } else {
                        needs.bucket.insert(access);
                    }
                }
                (Gate::AccessPointPolicy, Verdict::ImplicitDeny)
                    if gate.code != ReasonCode::AccessPointNetworkOrigin
                        && gate.missing.contains(&Missing::ResourcePolicy) =>
                {
                    // In the access point's own account the identity grant (needed anyway) is
                    // enough: the access point policy is left alone (and this arm still matches,
                    // so the gate is not reported as a blocker).
                    let foreign = point_account.as_deref() != Some(caller_account.as_str());
                    needs.access_point.extend(foreign.then_some(access));
                }
                (Gate::AclOwnership, Verdict::ImplicitDeny) => needs.ownership = true,
                (Gate::BlockPublicAccess, Verdict::ExplicitDeny) => block(
                    gate.gate,
                    gate.detail.clone(),
                    gate.deciding.first().cloned(),
                    "remove or pin the public statements of the bucket policy; s3fix does not remove other principals' grants",
                ),
                (Gate::KmsKey, Verdict::ImplicitDeny) => {
                    let kms_request = explanation
                        .kms_request
                        .as_ref()
                        .filter(|_| gate.code != ReasonCode::AwsManagedKeyCrossAccount);
                    let Some(kms) = kms_request else {
                        block(
                            gate.gate,
                            gate.detail.clone(),
                            None,
                            "copy the objects with a customer managed key (aws s3 cp --sse aws:kms --sse-kms-key-id KEY) and make it the bucket default; AWS managed keys cannot be shared across accounts",
                        );
                        continue;
                    };
                    let action: &'static str = if kms.action == "kms:Decrypt" {
                        "kms:Decrypt"
                    } else {
                        "kms:GenerateDataKey"
                    };
                    let key_arn = kms.resource.clone();
                    let aws_managed = world
                        .key(&key_arn)
                        .is_some_and(|key| key.manager == KeyManager::Aws);
                    for missing in &gate.missing {
                        match missing {
                            Missing::IdentityPolicies => {
                                needs.identity_kms.insert((key_arn.clone(), action));
                            }
                            Missing::ResourcePolicy if aws_managed => block(
                                gate.gate,
                                "the AWS managed key's policy cannot be edited".into(),
                                None,
                                "re-encrypt with a customer managed key",
                            ),
                            Missing::ResourcePolicy => {
                                needs.key_grants.insert((key_arn.clone(), action));
                            }
                            other => block(
                                gate.gate,
                                format!("the {other:?} group does not allow `{action}`"),
                                None,
                                "change that policy through its owner; s3fix edits key policies and its own identity policy only",
                            ),
                        }
                    }
                    if gate.missing.is_empty() {
                        block(gate.gate, gate.detail.clone(), None, "see the detail");
                    }
                }
                (Gate::KmsKey, Verdict::ExplicitDeny) => {
                    for reference in &gate.deciding {
                        if reference.kind == PolicyKind::KeyPolicy && options.allow_deny_exception {
                            if let Some(kms) = &explanation.kms_request {
                                needs.deny_exceptions.insert((
                                    ResourceRef::KeyPolicy {
                                        key: kms.resource.clone(),
                                    },
                                    reference.statement,
                                ));
                            }
                        } else {
                            block(
                                gate.gate,
                                format!(
                                    "a Deny in the {} blocks the KMS request",
                                    reference.kind.describe()
                                ),
                                Some(reference.clone()),
                                "re-run with --allow-deny-exception to exempt exactly this principal from a key-policy Deny; other Denies must change through their owners",
                            );
                        }
                    }
                }
                (
                    Gate::VpcEndpointPolicy | Gate::AccessPointPolicy | Gate::AccessPointBlockPublicAccess,
                    Verdict::ExplicitDeny | Verdict::ImplicitDeny,
                ) => {
                    let (what, remedy) = crate::core::s3::access_point::blocker_text(gate);
                    block(gate.gate, what, gate.deciding.first().cloned(), &remedy);
                }
                _ => {}
            }
        }
    }
}

pub(super) fn build(world: &World, spec: &Spec, options: PlanOptions) -> Result<Built, PlanError> {
    let bucket = world
        .bucket(&spec.bucket)
        .ok_or_else(|| crate::core::s3::ExplainError::NoSuchBucket(spec.bucket.clone()))?;
    let principal = world
        .principal(&spec.principal)
        .ok_or_else(|| crate::core::s3::ExplainError::NoSuchPrincipal(spec.principal.clone()))?;
    let probes = probes(world, spec);
    let mut needs = Needs::default();
    let mut warnings = Vec::new();
    let mut edits: Vec<Edit> = Vec::new();
    // Each round adds what the remaining failures need; a need can show only once another is met
    // (a bucket-policy grant counts for a foreign object only after the ownership switch).
    for _round in 0..4 {
        let mut edited = world.clone();
        for edit in &edits {
            set_value(&mut edited, &edit.resource, Some(&edit.after))?;
        }
        // `edited` stays as it is while the cache is held.
        let _cache = crate::core::s3::CompileCache::hold();
        let mut failing = Vec::new();
        for probe in representative_probes(&[world, &edited], spec, &probes) {
            let explanation = explain(&edited, &probe.to_request(&spec.bucket))?;
            if explanation.decision != FinalDecision::Allowed {
                failing.push((probe.clone(), explanation));
            }
        }
        if failing.is_empty() {
            break;
        }
        let mut blockers = Vec::new();
        let before = format!("{needs:?}");
        collect_needs(&edited, spec, options, &failing, &mut needs, &mut blockers);
        if !blockers.is_empty() {
            return Err(PlanError::Blocked(blockers));
        }
        if format!("{needs:?}") == before {
            // Nothing new to do, yet the access still fails: report what still blocks it.
            let remaining = failing
                .iter()
                .map(|(probe, explanation)| {
                    let gates: Vec<String> = explanation
                        .gates
                        .iter()
                        .filter(|gate| !matches!(gate.verdict, Verdict::Allow | Verdict::NotApplicable))
                        .map(|gate| format!("{}: {}", gate.gate.describe(), gate.detail))
                        .collect();
                    Blocker {
                        gate: Gate::IdentityPolicy,
                        what: format!(
                            "`{}` on `{}` still fails: {}",
                            probe.action.iam_action(),
                            probe.key,
                            gates.join("; ")
                        ),
                        statement: None,
                        remedy: "explain the request with s3fix explain and fix what it names".into(),
                    }
                })
                .collect();
            return Err(PlanError::Blocked(remaining));
        }
        edits = edits_for(world, spec, bucket, principal.kind, &needs, &mut warnings)?;
    }
    let read = read_resources(world, spec, &probes);
    Ok(Built {
        options,
        edits,
        read,
        warnings,
        probes,
    })
}

/// Every resource the plan reads: fingerprinted so apply can refuse a stale plan.
fn read_resources(world: &World, spec: &Spec, probes: &[ProbeRequest]) -> Vec<ResourceRef> {
    let mut read = BTreeSet::new();
    read.insert(ResourceRef::InlinePolicy {
        principal: spec.principal.clone(),
        name: owned_policy_name(&spec.bucket),
    });
    read.insert(ResourceRef::BucketPolicy {
        bucket: spec.bucket.clone(),
    });
    read.insert(ResourceRef::OwnershipControls {
        bucket: spec.bucket.clone(),
    });
    read.insert(ResourceRef::BucketSettings {
        bucket: spec.bucket.clone(),
    });
    for principal in &world.principals {
        read.insert(ResourceRef::Principal {
            principal: principal.arn.clone(),
        });
    }
    for account in &world.accounts {
        read.insert(ResourceRef::Account {
            account: account.id.clone(),
        });
    }
    if let Some(bucket) = world.bucket(&spec.bucket) {
        for probe in probes {
            if bucket.objects.iter().any(|object| object.key == probe.key) {
                read.insert(ResourceRef::Object {
                    bucket: spec.bucket.clone(),
                    key: probe.key.clone(),
                });
            }
        }
    }
    if let Some(access_point) = spec_access_point(world, spec) {
        read.insert(ResourceRef::AccessPointPolicy { access_point });
    }
    for key in &world.keys {
        read.insert(ResourceRef::KeyPolicy { key: key.arn.clone() });
        read.insert(ResourceRef::KeyMetadata { key: key.arn.clone() });
    }
    read.into_iter().collect()
}
