//! Simulation cases: the JSON format `s3fix simulate` reads (a request plus every policy that
//! applies to it) and the result it writes. Pure: text in, values out.

use crate::core::eval::{
    Context, ContextEntry, Decision, NamedPolicy, Outcome, PolicyReport, PolicySet, Request, Requester,
    ResourceRules, StatementRef, authorize,
};
use crate::core::policy::{Policy, PolicyError, PolicyKind, authorizing_action, parse_policy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One case as written in the input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseInput {
    /// The case's name, echoed in the result.
    #[serde(default)]
    pub name: Option<String>,
    /// The request.
    pub request: RequestInput,
    /// Identity-based policies.
    #[serde(default)]
    pub identity_policies: Vec<Value>,
    /// The permissions boundary.
    #[serde(default)]
    pub permission_boundary: Option<Value>,
    /// The session policy.
    #[serde(default)]
    pub session_policy: Option<Value>,
    /// SCPs, one document (or an array of documents) per OU level.
    #[serde(default)]
    pub scps: Vec<Value>,
    /// Custom RCPs.
    #[serde(default)]
    pub rcps: Vec<Value>,
    /// The resource-based policy: bucket policy, or key policy for `kms:` actions.
    #[serde(default)]
    pub resource_policy: Option<Value>,
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
pub fn parse_case(text: &str) -> Result<CaseInput, CaseError> {
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

/// A case's policies, compiled.
struct Compiled {
    identity: Vec<(String, Policy)>,
    boundary: Option<Policy>,
    session: Option<Policy>,
    scps: Vec<Vec<(String, Policy)>>,
    rcps: Vec<(String, Policy)>,
    resource: Option<Policy>,
}

fn compile(document: &Value, kind: PolicyKind, place: &str) -> Result<Policy, PolicyError> {
    parse_policy(document, kind).map_err(|error| error.within(place))
}

/// Evaluate a parsed case.
pub fn evaluate_case(case: &CaseInput, with_reasons: bool) -> Result<CaseResult, CaseError> {
    let error = |path: String, message: String| CaseError {
        name: case.name.clone(),
        path,
        error: message,
    };
    let requester = Requester::parse(&case.request.principal)
        .map_err(|message| error("request.principal".into(), message))?;
    let key_policy = case.request.action.to_ascii_lowercase().starts_with("kms:");
    let compiled = compile_all(case, key_policy)
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
    let set = PolicySet {
        identity: compiled
            .identity
            .iter()
            .map(|(name, policy)| NamedPolicy { name, policy })
            .collect(),
        boundary: compiled.boundary.as_ref().map(|policy| NamedPolicy {
            name: "permissionBoundary",
            policy,
        }),
        session: compiled.session.as_ref().map(|policy| NamedPolicy {
            name: "sessionPolicy",
            policy,
        }),
        scps: compiled
            .scps
            .iter()
            .map(|level| {
                level
                    .iter()
                    .map(|(name, policy)| NamedPolicy { name, policy })
                    .collect()
            })
            .collect(),
        rcps: compiled
            .rcps
            .iter()
            .map(|(name, policy)| NamedPolicy { name, policy })
            .collect(),
        resource: compiled.resource.as_ref().map(|policy| NamedPolicy {
            name: "resourcePolicy",
            policy,
        }),
        resource_rules: Some(if key_policy {
            ResourceRules::KeyPolicy
        } else {
            ResourceRules::Standard
        }),
    };
    let decision = authorize(&set, &request);
    warnings.extend(all_policies(&compiled).flat_map(|(name, policy)| {
        policy
            .warnings
            .iter()
            .map(move |warning| format!("{name}.{warning}"))
    }));
    Ok(result_of(case.name.clone(), decision, warnings, with_reasons))
}

fn compile_all(case: &CaseInput, key_policy: bool) -> Result<Compiled, PolicyError> {
    let mut identity = Vec::with_capacity(case.identity_policies.len());
    for (index, document) in case.identity_policies.iter().enumerate() {
        let name = format!("identityPolicies[{index}]");
        let policy = compile(document, PolicyKind::Identity, &name)?;
        identity.push((name, policy));
    }
    let optional = |document: &Option<Value>, kind, place: &str| match document {
        None | Some(Value::Null) => Ok(None),
        Some(document) => compile(document, kind, place).map(Some),
    };
    let mut scps = Vec::with_capacity(case.scps.len());
    for (level, document) in case.scps.iter().enumerate() {
        let name = format!("scps[{level}]");
        let documents: Vec<&Value> = match document {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut policies = Vec::with_capacity(documents.len());
        for (index, document) in documents.into_iter().enumerate() {
            let place = if matches!(document, Value::Array(_)) {
                format!("{name}[{index}]")
            } else {
                name.clone()
            };
            policies.push((name.clone(), compile(document, PolicyKind::Scp, &place)?));
        }
        scps.push(policies);
    }
    let mut rcps = Vec::with_capacity(case.rcps.len());
    for (index, document) in case.rcps.iter().enumerate() {
        let name = format!("rcps[{index}]");
        let policy = compile(document, PolicyKind::Rcp, &name)?;
        rcps.push((name, policy));
    }
    let resource_kind = if key_policy {
        PolicyKind::KeyPolicy
    } else {
        PolicyKind::Resource
    };
    Ok(Compiled {
        identity,
        boundary: optional(
            &case.permission_boundary,
            PolicyKind::Boundary,
            "permissionBoundary",
        )?,
        session: optional(&case.session_policy, PolicyKind::Session, "sessionPolicy")?,
        scps,
        rcps,
        resource: optional(&case.resource_policy, resource_kind, "resourcePolicy")?,
    })
}

fn all_policies(compiled: &Compiled) -> impl Iterator<Item = (&str, &Policy)> {
    compiled
        .identity
        .iter()
        .map(|(name, policy)| (name.as_str(), policy))
        .chain(
            compiled
                .boundary
                .iter()
                .map(|policy| ("permissionBoundary", policy)),
        )
        .chain(compiled.session.iter().map(|policy| ("sessionPolicy", policy)))
        .chain(
            compiled
                .scps
                .iter()
                .flatten()
                .map(|(name, policy)| (name.as_str(), policy)),
        )
        .chain(compiled.rcps.iter().map(|(name, policy)| (name.as_str(), policy)))
        .chain(compiled.resource.iter().map(|policy| ("resourcePolicy", policy)))
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
