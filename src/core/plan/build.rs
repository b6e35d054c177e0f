//! Building the edits: probe the requested access through every gate, collect what each failing
//! gate needs, and turn the needs into the smallest documents that grant exactly that.

use super::apply::{ResourceRef, set_value};
use super::{Blocker, Edit, Operation, PlanError, PlanOptions, owned_policy_name};
use crate::core::eval::{ContextEntry, StatementRef, group};
use crate::core::policy::PolicyKind;
use crate::core::s3::public::{ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY};
use crate::core::s3::{Explanation, FinalDecision, Gate, S3Action, S3Request, Verdict, explain};
use crate::core::spec::{Access, Spec};
use crate::core::world::{Grantee, KeyManager, ObjectOwnership, PrincipalKind, World};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

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
        PrincipalKind::Role => {
            let account = principal_arn.split(':').nth(4).unwrap_or_default();
            let name = principal_arn.rsplit('/').next().unwrap_or_default();
            format!("arn:aws:sts::{account}:assumed-role/{name}/s3fix-probe")
        }
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
    context
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
struct Needs {
    identity: BTreeSet<Access>,
    identity_kms: BTreeSet<(String, &'static str)>,
    bucket: BTreeSet<Access>,
    ownership: bool,
    key_grants: BTreeSet<(String, &'static str)>,
    deny_exceptions: BTreeSet<(ResourceRef, usize)>,
}

/// The result of building: edits in apply order, what was read, warnings, the probes.
#[derive(Debug)]
pub(super) struct Built {
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
                        match missing.as_str() {
                            group::IDENTITY => {
                                needs.identity.insert(access);
                            }
                            group::BOUNDARY => block(
                                gate.gate,
                                "the caller's permissions boundary does not allow the access".into(),
                                None,
                                "raise the permissions boundary through its owner; s3fix does not edit boundaries",
                            ),
                            other => block(
                                gate.gate,
                                format!("the service control policies at `{other}` do not allow the access"),
                                None,
                                "ask the organization's administrators to allow it in the SCP; s3fix does not edit SCPs",
                            ),
                        }
                    }
                }
                (Gate::BucketPolicy, Verdict::ExplicitDeny) => {
                    for reference in &gate.deciding {
                        if reference.kind == PolicyKind::Rcp {
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
                (Gate::BucketPolicy, Verdict::ImplicitDeny) => {
                    needs.bucket.insert(access);
                }
                (Gate::AclOwnership, Verdict::ImplicitDeny) => needs.ownership = true,
                (Gate::BlockPublicAccess, Verdict::ExplicitDeny) => block(
                    gate.gate,
                    gate.detail.clone(),
                    gate.deciding.first().cloned(),
                    "remove or pin the public statements of the bucket policy; s3fix does not remove other principals' grants",
                ),
                (Gate::KmsKey, Verdict::ImplicitDeny) => {
                    let Some(kms) = &explanation.kms_request else {
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
                        match missing.as_str() {
                            group::IDENTITY => {
                                needs.identity_kms.insert((key_arn.clone(), action));
                            }
                            group::RESOURCE if aws_managed => block(
                                gate.gate,
                                "the AWS managed key's policy cannot be edited".into(),
                                None,
                                "re-encrypt with a customer managed key",
                            ),
                            group::RESOURCE => {
                                needs.key_grants.insert((key_arn.clone(), action));
                            }
                            other => block(
                                gate.gate,
                                format!("`{other}` does not allow `{action}`"),
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
                _ => {}
            }
        }
        let _ = &caller_account;
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
        let mut failing = Vec::new();
        for probe in &probes {
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
    for key in &world.keys {
        read.insert(ResourceRef::KeyPolicy { key: key.arn.clone() });
        read.insert(ResourceRef::KeyMetadata { key: key.arn.clone() });
    }
    read.into_iter().collect()
}

/// A Sid-safe form of a principal's name (IAM Sids are alphanumeric).
fn sid_name(principal_arn: &str) -> String {
    let name = principal_arn.rsplit('/').next().unwrap_or_default();
    let mut sid = String::new();
    let mut upper = true;
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            sid.push(if upper {
                character.to_ascii_uppercase()
            } else {
                character
            });
            upper = false;
        } else {
            upper = true;
        }
    }
    sid
}

fn access_word(access: Access) -> &'static str {
    match access {
        Access::Read => "Read",
        Access::List => "List",
        Access::Write => "Write",
    }
}

/// The statement body (no Sid, no Principal) granting one access on the spec's keys.
fn grant_body(spec: &Spec, access: Access) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("Effect".into(), json!("Allow"));
    body.insert("Action".into(), json!(access.action()));
    match access {
        Access::List => {
            body.insert("Resource".into(), json!(format!("arn:aws:s3:::{}", spec.bucket)));
            body.insert(
                "Condition".into(),
                json!({"StringLike": {"s3:prefix": spec.list_prefixes()}}),
            );
        }
        Access::Read | Access::Write => {
            body.insert("Resource".into(), json!(spec.object_arns()));
        }
    }
    body
}

/// Merge a new statement into a statement list by Sid: an existing statement with the Sid is
/// extended (its Resource values and `s3:prefix` values united), otherwise the statement is
/// appended. Every other statement is kept exactly as it was.
fn upsert(statements: &mut Vec<Value>, statement: Value) {
    let sid = statement.get("Sid").cloned();
    let Some(existing) = statements
        .iter_mut()
        .find(|item| item.get("Sid") == sid.as_ref() && sid.is_some())
    else {
        statements.push(statement);
        return;
    };
    let mut merged = statement.clone();
    for path in [
        &["Resource"][..],
        &["Condition", "StringLike", "s3:prefix"][..],
        &["Action"][..],
    ] {
        let old = path.iter().try_fold(&*existing, |value, key| value.get(key));
        let new = path.iter().try_fold(&statement, |value, key| value.get(key));
        if let (Some(old), Some(new)) = (old, new) {
            let mut union: Vec<Value> = as_list(old);
            for item in as_list(new) {
                if !union.contains(&item) {
                    union.push(item);
                }
            }
            let target = path
                .iter()
                .try_fold(&mut merged, |value, key| value.get_mut(*key));
            if let Some(target) = target {
                *target = if union.len() == 1 {
                    union.remove(0)
                } else {
                    Value::Array(union)
                };
            }
        }
    }
    *existing = merged;
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    }
}

/// A policy document's statements as a list, and the document with `Statement` as an array.
fn statements_of(document: Option<&Value>) -> (Value, Vec<Value>) {
    let document = document
        .cloned()
        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    (document, statements)
}

fn with_statements(mut document: Value, statements: Vec<Value>) -> Value {
    if let Some(object) = document.as_object_mut() {
        object.insert("Statement".into(), Value::Array(statements));
    }
    document
}

fn edit(
    world: &World,
    resource: ResourceRef,
    after: Value,
    security_sensitive: bool,
    reason: String,
) -> Result<Option<Edit>, PlanError> {
    let before = super::apply::current_value(world, &resource)?;
    if before.as_ref() == Some(&after) {
        return Ok(None);
    }
    let operation = if before.is_some() {
        Operation::Update
    } else {
        Operation::Create
    };
    Ok(Some(Edit {
        resource,
        operation,
        before,
        after,
        security_sensitive,
        reason,
    }))
}

/// Exempt exactly the principal from a Deny: `ArnNotEquals aws:PrincipalArn` joins its condition.
fn exempt(statement: &mut Value, principal_arn: &str) {
    let Some(object) = statement.as_object_mut() else {
        return;
    };
    let condition = object.entry("Condition").or_insert_with(|| json!({}));
    let Some(operators) = condition.as_object_mut() else {
        return;
    };
    let operator = operators.entry("ArnNotEquals").or_insert_with(|| json!({}));
    let Some(keys) = operator.as_object_mut() else {
        return;
    };
    let existing_key = keys
        .keys()
        .find(|key| key.eq_ignore_ascii_case("aws:PrincipalArn"))
        .cloned();
    let key = existing_key.unwrap_or_else(|| "aws:PrincipalArn".to_string());
    let mut values = keys.get(&key).map(as_list).unwrap_or_default();
    if !values.contains(&json!(principal_arn)) {
        values.push(json!(principal_arn));
    }
    keys.insert(
        key,
        if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        },
    );
}

fn edits_for(
    world: &World,
    spec: &Spec,
    bucket: &crate::core::world::Bucket,
    kind: PrincipalKind,
    needs: &Needs,
    warnings: &mut Vec<String>,
) -> Result<Vec<Edit>, PlanError> {
    let mut edits = Vec::new();
    let name = sid_name(&spec.principal);

    // 1. The caller's identity policy: one s3fix-owned inline policy per bucket.
    if !needs.identity.is_empty() || !needs.identity_kms.is_empty() {
        let resource = ResourceRef::InlinePolicy {
            principal: spec.principal.clone(),
            name: owned_policy_name(&spec.bucket),
        };
        let current = super::apply::current_value(world, &resource)?;
        let (document, mut statements) = statements_of(current.as_ref());
        for access in &needs.identity {
            let mut statement = Map::new();
            statement.insert("Sid".into(), json!(format!("S3fix{}", access_word(*access))));
            statement.extend(grant_body(spec, *access));
            upsert(&mut statements, Value::Object(statement));
        }
        let mut by_action: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (key, action) in &needs.identity_kms {
            by_action.entry(action).or_default().push(key.clone());
        }
        for (action, keys) in by_action {
            let sid = if action == "kms:Decrypt" {
                "S3fixKmsDecrypt"
            } else {
                "S3fixKmsGenerateDataKey"
            };
            upsert(
                &mut statements,
                json!({"Sid": sid, "Effect": "Allow", "Action": action, "Resource": keys}),
            );
        }
        let mut what: Vec<&str> = needs.identity.iter().map(|access| access.action()).collect();
        let kms_actions: BTreeSet<&str> = needs.identity_kms.iter().map(|(_, action)| *action).collect();
        what.extend(kms_actions);
        let reason = format!("the caller's identity policies do not allow {}", what.join(", "));
        let _ = kind;
        edits.extend(edit(
            world,
            resource,
            with_statements(document, statements),
            false,
            reason,
        )?);
    }

    // 2. KMS key policies: allow the principal through S3 only, from its own account.
    let mut key_needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (key, action) in &needs.key_grants {
        key_needs.entry(key.as_str()).or_default().insert(action);
    }
    let mut key_exceptions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (resource, index) in &needs.deny_exceptions {
        if let ResourceRef::KeyPolicy { key } = resource {
            key_exceptions.entry(key.clone()).or_default().push(*index);
        }
    }
    let keys: BTreeSet<String> = key_needs
        .keys()
        .map(|key| key.to_string())
        .chain(key_exceptions.keys().cloned())
        .collect();
    for key in keys {
        let resource = ResourceRef::KeyPolicy { key: key.clone() };
        let current = super::apply::current_value(world, &resource)?;
        let (document, mut statements) = statements_of(current.as_ref());
        for action in key_needs.get(key.as_str()).into_iter().flatten() {
            let word = if *action == "kms:Decrypt" {
                "Decrypt"
            } else {
                "GenerateDataKey"
            };
            upsert(
                &mut statements,
                json!({
                    "Sid": format!("S3fix{word}ViaS3{name}"),
                    "Effect": "Allow",
                    "Principal": {"AWS": spec.principal},
                    "Action": action,
                    "Resource": "*",
                    "Condition": {"StringEquals": {
                        "kms:ViaService": format!("s3.{}.amazonaws.com", bucket.region),
                        "kms:CallerAccount": spec.principal_account(),
                    }},
                }),
            );
        }
        let sensitive = key_exceptions.contains_key(&key);
        for index in key_exceptions.get(&key).into_iter().flatten() {
            if let Some(statement) = statements.get_mut(*index) {
                exempt(statement, &spec.principal);
            }
        }
        let reason = if sensitive {
            "a key-policy Deny is narrowed to exempt exactly this principal (--allow-deny-exception)"
                .to_string()
        } else {
            "the key policy does not allow the principal to use the key through S3".to_string()
        };
        edits.extend(edit(
            world,
            resource,
            with_statements(document, statements),
            sensitive,
            reason,
        )?);
    }

    // 3 and 4. Ownership (after moving bucket-ACL grants into the bucket policy), then the bucket
    // policy: grants, migrated ACL grants, and Deny exceptions.
    let bucket_resource = ResourceRef::BucketPolicy {
        bucket: spec.bucket.clone(),
    };
    let (document, mut statements) = statements_of(bucket.policy.as_ref());
    let mut bucket_reasons = Vec::new();
    let mut ownership_edit = None;
    if needs.ownership {
        if let Some(reason) = acl_dependent_policy(bucket) {
            return Err(PlanError::Blocked(vec![Blocker {
                gate: Gate::AclOwnership,
                what: reason,
                statement: None,
                remedy:
                    "change the statement that requires ACL headers first; BucketOwnerEnforced rejects ACLs"
                        .into(),
            }]));
        }
        let migrated = migrate_bucket_acl(bucket)?;
        if !migrated.is_empty() {
            bucket_reasons.push(
                "bucket-ACL grants are moved into the bucket policy before ACLs are disabled".to_string(),
            );
        }
        for statement in migrated {
            upsert(&mut statements, statement);
        }
        let foreign: Vec<&str> = bucket
            .objects
            .iter()
            .filter(|object| object.acl.as_ref().is_some_and(|acl| acl.grants.iter().any(|grant| !matches!(&grant.grantee, Grantee::CanonicalUser { account: Some(account), .. } if *account == bucket.account))))
            .map(|object| object.key.as_str())
            .collect();
        if !foreign.is_empty() {
            warnings.push(format!(
                "with ACLs disabled, object-ACL grants stop applying (objects: {}): accounts that read through them lose that access",
                foreign.join(", ")
            ));
        }
        ownership_edit = edit(
            world,
            ResourceRef::OwnershipControls { bucket: spec.bucket.clone() },
            json!(ObjectOwnership::BucketOwnerEnforced),
            false,
            "objects owned by another account block the access: BucketOwnerEnforced makes the bucket owner own them".into(),
        )?;
    }
    for access in &needs.bucket {
        let mut statement = Map::new();
        statement.insert(
            "Sid".into(),
            json!(format!("S3fix{}{name}", access_word(*access))),
        );
        statement.insert("Effect".into(), json!("Allow"));
        statement.insert("Principal".into(), json!({"AWS": spec.principal}));
        let body = grant_body(spec, *access);
        for (key, value) in body {
            if key != "Effect" {
                statement.insert(key, value);
            }
        }
        upsert(&mut statements, Value::Object(statement));
        bucket_reasons.push(format!(
            "a cross-account caller needs a bucket-policy grant for {}",
            access.action()
        ));
    }
    let mut sensitive = false;
    for (resource, index) in &needs.deny_exceptions {
        if *resource == bucket_resource
            && let Some(statement) = statements.get_mut(*index)
        {
            exempt(statement, &spec.principal);
            sensitive = true;
            bucket_reasons.push(format!(
                "statement {index} (a Deny) is narrowed to exempt exactly this principal"
            ));
        }
    }
    edits.extend(ownership_edit);
    if !bucket_reasons.is_empty() {
        edits.extend(edit(
            world,
            bucket_resource,
            with_statements(document, statements),
            sensitive,
            bucket_reasons.join("; "),
        )?);
    }
    // Apply order: identity, key policy, ownership, bucket policy — built in that order above,
    // except that the ownership edit must follow the ACL migration written into the bucket
    // policy; the migration only adds grants that already existed through the ACL.
    reorder(&mut edits);
    Ok(edits)
}

/// Order edits so no intermediate state grants more than the final one: identity policy, KMS
/// key policy, ownership, bucket policy last.
fn reorder(edits: &mut [Edit]) {
    edits.sort_by_key(|edit| match edit.resource {
        ResourceRef::InlinePolicy { .. } => 0,
        ResourceRef::KeyPolicy { .. } => 1,
        ResourceRef::OwnershipControls { .. } => 2,
        ResourceRef::BucketPolicy { .. } => 3,
        _ => 4,
    });
}

/// A bucket-policy statement that requires ACL headers, which BucketOwnerEnforced rejects.
fn acl_dependent_policy(bucket: &crate::core::world::Bucket) -> Option<String> {
    let document = bucket.policy.as_ref()?;
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    for (index, statement) in statements.iter().enumerate() {
        let keys: Vec<String> = statement
            .get("Condition")
            .and_then(Value::as_object)
            .map(|operators| {
                operators
                    .values()
                    .filter_map(Value::as_object)
                    .flat_map(|keys| keys.keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(key) = keys.iter().find(|key| {
            let lowered = key.to_ascii_lowercase();
            lowered.starts_with("s3:x-amz-acl") || lowered.starts_with("s3:x-amz-grant")
        }) {
            return Some(format!(
                "bucket-policy statement {index} requires the ACL header `{key}`"
            ));
        }
    }
    None
}

/// Bucket-policy statements equivalent to the bucket ACL's grants to others, so that switching
/// to BucketOwnerEnforced does not fail with `InvalidBucketAclWithObjectOwnership`.
fn migrate_bucket_acl(bucket: &crate::core::world::Bucket) -> Result<Vec<Value>, PlanError> {
    let mut statements = Vec::new();
    let Some(acl) = &bucket.acl else {
        return Ok(statements);
    };
    let bucket_arn = format!("arn:aws:s3:::{}", bucket.name);
    let objects_arn = format!("{bucket_arn}/*");
    for grant in &acl.grants {
        let permission = grant.permission.as_str();
        match &grant.grantee {
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } if *account == bucket.account => {}
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } => {
                let mut actions = Vec::new();
                if matches!(permission, "READ" | "FULL_CONTROL") {
                    actions.push(("s3:ListBucket", bucket_arn.clone()));
                }
                if matches!(permission, "WRITE" | "FULL_CONTROL") {
                    actions.push(("s3:PutObject", objects_arn.clone()));
                }
                for (action, resource) in actions {
                    let word = action.trim_start_matches("s3:");
                    statements.push(json!({
                        "Sid": format!("S3fixMigratedAcl{word}{account}"),
                        "Effect": "Allow",
                        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                        "Action": action,
                        "Resource": resource,
                    }));
                }
            }
            Grantee::Group { uri } if uri == LOG_DELIVERY => {
                if matches!(permission, "WRITE" | "FULL_CONTROL") {
                    statements.push(json!({
                        "Sid": "S3fixMigratedAclLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": objects_arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": bucket.account}},
                    }));
                }
            }
            Grantee::Group { uri } if uri == ALL_USERS || uri == AUTHENTICATED_USERS => {
                return Err(PlanError::Blocked(vec![Blocker {
                    gate: Gate::AclOwnership,
                    what: format!("the bucket ACL grants {permission} to `{uri}` (public)"),
                    statement: None,
                    remedy: "remove the public ACL grant first; s3fix will not move it into a public bucket policy".into(),
                }]));
            }
            other => {
                return Err(PlanError::Blocked(vec![Blocker {
                    gate: Gate::AclOwnership,
                    what: format!(
                        "the bucket ACL grants {permission} to {other:?}, which s3fix cannot map to an account"
                    ),
                    statement: None,
                    remedy: "move that grant into the bucket policy by hand, then plan again".into(),
                }]));
            }
        }
    }
    Ok(statements)
}
