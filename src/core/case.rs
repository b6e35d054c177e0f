//! Simulation cases: the JSON format `s3fix simulate` reads (a request plus every policy that
//! applies to it) and the result it writes. Pure: text in, values out.

use crate::core::eval::{
    Context, ContextEntry, Decision, NamedPolicy, Outcome, PolicyReport, PolicySet, Request, Requester,
    ResourceRules, StatementRef, authorize, authorize_outcome,
};
use crate::core::policy::{Policy, PolicyError, PolicyKind, authorizing_action, parse_policy_text};
use rustc_hash::FxHasher;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// One case as written in the input. Policies stay raw JSON text borrowed from the input, so
/// a policy seen before is not parsed again (see [`PolicyCache`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseInput<'a> {
    /// The case's name, echoed in the result.
    #[serde(default)]
    pub name: Option<String>,
    /// The request.
    pub request: RequestInput,
    /// Identity-based policies.
    #[serde(default, borrow)]
    pub identity_policies: Vec<&'a RawValue>,
    /// The permissions boundary.
    #[serde(default, borrow)]
    pub permission_boundary: Option<&'a RawValue>,
    /// The session policy.
    #[serde(default, borrow)]
    pub session_policy: Option<&'a RawValue>,
    /// SCPs, one document (or an array of documents) per OU level.
    #[serde(default, borrow)]
    pub scps: Vec<&'a RawValue>,
    /// Custom RCPs.
    #[serde(default, borrow)]
    pub rcps: Vec<&'a RawValue>,
    /// The resource-based policy: bucket policy, or key policy for `kms:` actions.
    #[serde(default, borrow)]
    pub resource_policy: Option<&'a RawValue>,
}

/// The request part of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestInput {
    /// The caller's ARN, a service principal, or `*` (anonymous).
    pub principal: String,
    /// The action, e.g. `s3:GetObject`.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// The account owning the resource; absent = the caller's account.
    #[serde(default)]
    pub resource_account: Option<String>,
    /// The complete request context.
    #[serde(default)]
    pub context: Map<String, Value>,
}

/// A deciding statement as written in results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecidingOut {
    /// The policy's name (`identityPolicies[0]`, `resourcePolicy`, …).
    pub policy: String,
    /// The policy kind.
    pub kind: &'static str,
    /// The statement's index.
    pub statement: usize,
    /// The statement's Sid.
    pub sid: Option<String>,
}

/// The result of one case, as written (one JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    /// The case's name.
    pub name: Option<String>,
    /// `Allowed`, `ExplicitlyDenied` or `ImplicitlyDenied`.
    pub decision: Outcome,
    /// The deciding statements.
    pub deciding: Vec<DecidingOut>,
    /// For an implicit deny: which policy groups had to allow and did not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_allow: Vec<String>,
    /// Rules that decided beyond any statement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Non-fatal findings in the policies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Per policy, why each statement did or did not match (with `--reasons`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<PolicyReport>>,
}

/// A case that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseError {
    /// The case's name, where it could be read.
    pub name: Option<String>,
    /// Where in the case (`resourcePolicy.Statement[2].Condition.IpAddress`).
    pub path: String,
    /// What is wrong.
    pub error: String,
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name.as_deref().unwrap_or("(unnamed)");
        if self.path.is_empty() {
            write!(formatter, "case `{name}`: {}", self.error)
        } else {
            write!(formatter, "case `{name}` at `{}`: {}", self.path, self.error)
        }
    }
}

/// Parse one case from JSON text, naming the JSON path of any error.
pub fn parse_case(text: &str) -> Result<CaseInput<'_>, CaseError> {
    match serde_json::from_str::<CaseInput>(text) {
        Ok(case) => Ok(case),
        Err(_) => {
            // The error path only: parse again to find the place and the case's name.
            let name = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|value| value.get("name").and_then(Value::as_str).map(str::to_string));
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let error = match serde_path_to_error::deserialize::<_, CaseInput>(&mut deserializer) {
                Err(error) => error,
                Ok(_) => {
                    return Err(CaseError {
                        name,
                        path: String::new(),
                        error: "unreadable case".into(),
                    });
                }
            };
            let path = error.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Err(CaseError {
                name,
                path,
                error: error.into_inner().to_string(),
            })
        }
    }
}

/// A policy compiled once and shared: the policy, or why it is invalid.
type CompiledPolicy = Arc<Result<Policy, PolicyError>>;

/// Compiled policies by their exact JSON text, per policy kind: cases in one input usually share
/// their policies, and compiling is most of the work of a case. Bounded: cleared when full.
/// When an input's policies are all different, caching only costs memory, so the cache watches
/// its hit rate and stops admitting new entries while hits stay rare.
#[derive(Debug, Default)]
pub struct PolicyCache {
    maps: [HashMap<Box<str>, CompiledPolicy, BuildHasherDefault<FxHasher>>; 8],
    lookups: u32,
    hits: u32,
    bypass: bool,
}

/// Entries kept per policy kind before the cache starts over.
const CACHE_CAPACITY: usize = 4096;
/// Lookups per hit-rate window.
const CACHE_WINDOW: u32 = 2048;

impl PolicyCache {
    /// An empty cache.
    pub fn new() -> PolicyCache {
        PolicyCache::default()
    }

    /// The compiled policy for this text, compiling it on first sight.
    fn get(&mut self, raw: &RawValue, kind: PolicyKind) -> CompiledPolicy {
        self.lookups += 1;
        if self.lookups >= CACHE_WINDOW {
            // Fewer than one hit in eight lookups: stop admitting for the next window (lookups
            // still hit what is cached); otherwise admit again.
            self.bypass = self.hits < CACHE_WINDOW / 8;
            self.lookups = 0;
            self.hits = 0;
        }
        let slot = kind_slot(kind);
        let Some(map) = self.maps.get_mut(slot) else {
            return Arc::new(compile_text(raw.get(), kind));
        };
        if let Some(found) = map.get(raw.get()) {
            self.hits += 1;
            return Arc::clone(found);
        }
        let compiled = Arc::new(compile_text(raw.get(), kind));
        if !self.bypass {
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
            map.insert(raw.get().into(), Arc::clone(&compiled));
        }
        compiled
    }
}

fn kind_slot(kind: PolicyKind) -> usize {
    match kind {
        PolicyKind::Identity => 0,
        PolicyKind::Boundary => 1,
        PolicyKind::Session => 2,
        PolicyKind::Scp => 3,
        PolicyKind::Rcp => 4,
        PolicyKind::Resource => 5,
        PolicyKind::KeyPolicy => 6,
        PolicyKind::Acl => 7,
    }
}

fn compile_text(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    parse_policy_text(text, kind)
}

/// `group[index]`, without formatting machinery for the common small indexes (this runs for
/// every policy of every case).
fn indexed_name(group: &str, index: usize) -> String {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let mut name = String::with_capacity(group.len() + 4);
    name.push_str(group);
    name.push('[');
    match DIGITS.get(index) {
        Some(digit) => name.push_str(digit),
        None => name.push_str(&index.to_string()),
    }
    name.push(']');
    name
}

/// A case's policies, compiled.
struct Compiled {
    identity: Vec<(String, CompiledPolicy)>,
    boundary: Option<CompiledPolicy>,
    session: Option<CompiledPolicy>,
    scps: Vec<Vec<(String, CompiledPolicy)>>,
    rcps: Vec<(String, CompiledPolicy)>,
    resource: Option<CompiledPolicy>,
}

/// The policy, or its error located at `place`.
fn checked<'c>(compiled: &'c CompiledPolicy, place: &str) -> Result<&'c Policy, PolicyError> {
    compiled
        .as_ref()
        .as_ref()
        .map_err(|error| error.clone().within(place))
}

/// Evaluate a parsed case.
pub fn evaluate_case(
    case: &CaseInput,
    with_reasons: bool,
    cache: &mut PolicyCache,
) -> Result<CaseResult, CaseError> {
    let error = |path: String, message: String| CaseError {
        name: case.name.clone(),
        path,
        error: message,
    };
    let requester = Requester::parse(&case.request.principal)
        .map_err(|message| error("request.principal".into(), message))?;
    let key_policy = case.request.action.to_ascii_lowercase().starts_with("kms:");
    let compiled = compile_all(case, key_policy, cache)
        .map_err(|policy_error| error(policy_error.path, policy_error.message))?;

    let mut context = Context::new();
    for (key, value) in &case.request.context {
        if let Some(entry) = context_entry(value) {
            context.insert(key, entry);
        }
    }
    let mut warnings: Vec<String> = Vec::new();
    let mut action = case.request.action.as_str();
    if let Some(instead) = authorizing_action(&action.to_ascii_lowercase()) {
        warnings.push(format!(
            "request.action: `{action}` is an API call, not an IAM action; AWS authorizes it as `{instead}`"
        ));
        action = instead;
    }
    let request = Request::new(
        requester,
        action,
        &case.request.resource,
        case.request.resource_account.clone(),
        context,
    );
    // Every compiled policy was checked valid by `compile_all`; `valid` only unwraps them.
    fn valid<'c>(name: &'c str, compiled: &'c CompiledPolicy) -> Option<NamedPolicy<'c>> {
        compiled
            .as_ref()
            .as_ref()
            .ok()
            .map(|policy| NamedPolicy { name, policy })
    }
    let set = PolicySet {
        identity: compiled
            .identity
            .iter()
            .filter_map(|(name, policy)| valid(name, policy))
            .collect(),
        boundary: compiled
            .boundary
            .as_ref()
            .and_then(|policy| valid("permissionBoundary", policy)),
        session: compiled
            .session
            .as_ref()
            .and_then(|policy| valid("sessionPolicy", policy)),
        scps: compiled
            .scps
            .iter()
            .map(|level| {
                level
                    .iter()
                    .filter_map(|(name, policy)| valid(name, policy))
                    .collect()
            })
            .collect(),
        rcps: compiled
            .rcps
            .iter()
            .filter_map(|(name, policy)| valid(name, policy))
            .collect(),
        resource: compiled
            .resource
            .as_ref()
            .and_then(|policy| valid("resourcePolicy", policy)),
        acl: None,
        resource_rules: Some(if key_policy {
            ResourceRules::KeyPolicy
        } else {
            ResourceRules::Standard
        }),
    };
    let decision = if with_reasons {
        authorize(&set, &request)
    } else {
        authorize_outcome(&set, &request)
    };
    warnings.extend(all_policies(&compiled).into_iter().flat_map(|(name, policy)| {
        policy
            .warnings
            .iter()
            .map(move |warning| format!("{name}.{warning}"))
    }));
    Ok(result_of(case.name.clone(), decision, warnings, with_reasons))
}

fn compile_all(case: &CaseInput, key_policy: bool, cache: &mut PolicyCache) -> Result<Compiled, PolicyError> {
    let mut identity = Vec::with_capacity(case.identity_policies.len());
    for (index, raw) in case.identity_policies.iter().enumerate() {
        let name = indexed_name("identityPolicies", index);
        let compiled = cache.get(raw, PolicyKind::Identity);
        checked(&compiled, &name)?;
        identity.push((name, compiled));
    }
    let mut optional = |raw: Option<&RawValue>, kind, place: &str| match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => {
            let compiled = cache.get(raw, kind);
            checked(&compiled, place)?;
            Ok(Some(compiled))
        }
    };
    let resource_kind = if key_policy {
        PolicyKind::KeyPolicy
    } else {
        PolicyKind::Resource
    };
    let boundary = optional(
        case.permission_boundary,
        PolicyKind::Boundary,
        "permissionBoundary",
    )?;
    let session = optional(case.session_policy, PolicyKind::Session, "sessionPolicy")?;
    let resource = optional(case.resource_policy, resource_kind, "resourcePolicy")?;
    let mut scps = Vec::with_capacity(case.scps.len());
    for (level, raw) in case.scps.iter().enumerate() {
        let name = indexed_name("scps", level);
        let mut policies = Vec::new();
        if raw.get().starts_with('[') {
            let documents: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|error| PolicyError {
                path: name.clone(),
                message: format!("must be a policy or an array of policies: {error}"),
                hint: None,
            })?;
            for (index, document) in documents.into_iter().enumerate() {
                let compiled = cache.get(document, PolicyKind::Scp);
                checked(&compiled, &format!("{name}[{index}]"))?;
                policies.push((name.clone(), compiled));
            }
        } else {
            let compiled = cache.get(raw, PolicyKind::Scp);
            checked(&compiled, &name)?;
            policies.push((name, compiled));
        }
        scps.push(policies);
    }
    let mut rcps = Vec::with_capacity(case.rcps.len());
    for (index, raw) in case.rcps.iter().enumerate() {
        let name = indexed_name("rcps", index);
        let compiled = cache.get(raw, PolicyKind::Rcp);
        checked(&compiled, &name)?;
        rcps.push((name, compiled));
    }
    Ok(Compiled {
        identity,
        boundary,
        session,
        scps,
        rcps,
        resource,
    })
}

/// Every compiled policy with its name (all were checked to be valid by `compile_all`).
fn all_policies(compiled: &Compiled) -> Vec<(&str, &Policy)> {
    let mut all: Vec<(&str, &CompiledPolicy)> = Vec::new();
    all.extend(
        compiled
            .identity
            .iter()
            .map(|(name, policy)| (name.as_str(), policy)),
    );
    all.extend(
        compiled
            .boundary
            .iter()
            .map(|policy| ("permissionBoundary", policy)),
    );
    all.extend(compiled.session.iter().map(|policy| ("sessionPolicy", policy)));
    all.extend(
        compiled
            .scps
            .iter()
            .flatten()
            .map(|(name, policy)| (name.as_str(), policy)),
    );
    all.extend(compiled.rcps.iter().map(|(name, policy)| (name.as_str(), policy)));
    all.extend(compiled.resource.iter().map(|policy| ("resourcePolicy", policy)));
    all.into_iter()
        .filter_map(|(name, policy)| policy.as_ref().as_ref().ok().map(|policy| (name, policy)))
        .collect()
}

/// A JSON context value: strings; numbers and booleans as text; arrays as multi-valued keys.
pub fn context_entry(value: &Value) -> Option<ContextEntry> {
    let scalar = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => Some(ContextEntry::Multi(items.iter().filter_map(scalar).collect())),
        Value::Null => None,
        other => scalar(other).map(ContextEntry::Single),
    }
}

fn deciding_out(reference: &StatementRef) -> DecidingOut {
    DecidingOut {
        policy: reference.policy.clone(),
        kind: reference.kind.describe(),
        statement: reference.statement,
        sid: reference.sid.clone(),
    }
}

fn result_of(
    name: Option<String>,
    decision: Decision,
    warnings: Vec<String>,
    with_reasons: bool,
) -> CaseResult {
    CaseResult {
        name,
        decision: decision.outcome,
        deciding: decision.deciding.iter().map(deciding_out).collect(),
        missing_allow: decision.missing_allow,
        notes: decision.notes,
        warnings,
        reasons: with_reasons.then_some(decision.reports),
    }
}
