//! The evaluation engine: AWS's documented policy evaluation logic, same-account and
//! cross-account, returning a [`Decision`] that carries its reasons.
//!
//! Sources (IAM User Guide): "How AWS enforcement code logic evaluates requests to allow or deny
//! access" (reference_policies_evaluation-logic_policy-eval-denyallow.html), "Cross-account policy
//! evaluation logic" (reference_policies_evaluation-logic-cross-account.html), "AWS JSON policy
//! elements: NotPrincipal"; KMS Developer Guide "Key policies" (key-policy-overview.html).

pub mod request;

use crate::core::policy::pattern::{glob_matches, resolve, to_glob_parts};
use crate::core::policy::principal::AwsPrincipal;
use crate::core::policy::{Effect, Policy, PolicyKind, PrincipalBlock, Statement, Template};
pub use request::{Context, ContextEntry, Request, Requester, RequesterKind};

/// A policy with the name it is reported under.
#[derive(Debug, Clone, Copy)]
pub struct NamedPolicy<'a> {
    /// The name in reports: a policy name, or a position such as `identityPolicies[0]`.
    pub name: &'a str,
    /// The compiled policy.
    pub policy: &'a Policy,
}

/// What kind of resource policy applies: it decides whether IAM alone can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceRules {
    /// Same account: identity or resource policy suffices (S3 and most services).
    Standard,
    /// KMS: the key policy must allow; IAM counts only where it delegates to the account.
    KeyPolicy,
}

/// Every policy that applies to one request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// Identity-based policies of the caller (user, group and role policies).
    pub identity: Vec<NamedPolicy<'a>>,
    /// The caller's permissions boundary.
    pub boundary: Option<NamedPolicy<'a>>,
    /// The session policy passed when the session was created.
    pub session: Option<NamedPolicy<'a>>,
    /// SCPs of the caller's organization, one list per OU level; every level must allow.
    pub scps: Vec<Vec<NamedPolicy<'a>>>,
    /// Custom RCPs on the resource's side (`RCPFullAWSAccess` is implied).
    pub rcps: Vec<NamedPolicy<'a>>,
    /// The resource-based policy (bucket policy or key policy).
    pub resource: Option<NamedPolicy<'a>>,
    /// ACL grants that apply (bucket or object ACL), as resource-policy statements.
    pub acl: Option<NamedPolicy<'a>>,
    /// The rules the resource policy follows.
    pub resource_rules: Option<ResourceRules>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Allowed.
    Allowed,
    /// Denied by a matching Deny statement.
    ExplicitlyDenied,
    /// Denied because nothing that must allow did.
    ImplicitlyDenied,
}

/// How a resource-policy statement's principal matched the caller (strongest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PrincipalMatch {
    /// Not matched.
    NoMatch,
    /// Matched only through the caller's account: delegation to identity policies.
    Account,
    /// Matched the role ARN of the caller's session: limited by boundary and session policy.
    RoleArn,
    /// Matched the caller itself (user, session, federated user, `*`, service).
    Direct,
}

/// How a statement's condition fared.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "result", content = "failed")]
pub enum ConditionOutcome {
    /// The statement has no condition.
    None,
    /// Every condition held.
    Held,
    /// This condition (`operator key`) did not hold.
    Failed(String),
    /// Not evaluated: action, resource or principal already did not match.
    NotEvaluated,
}

/// Why one statement did or did not match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementReport {
    /// Position in the policy's `Statement` array.
    pub index: usize,
    /// The `Sid`.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// Whether Action/NotAction covers the action.
    pub action: bool,
    /// Whether Resource/NotResource covers the resource.
    pub resource: bool,
    /// How the principal matched (resource-based policies only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<PrincipalMatch>,
    /// How the condition fared.
    pub condition: ConditionOutcome,
    /// Each condition with its result and the request's value (when evaluated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionCheck>,
    /// Whether the statement applies to the request.
    pub matched: bool,
}

/// One condition of a statement, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionCheck {
    /// `operator key`, e.g. `NotIpAddress aws:SourceIp`.
    pub condition: String,
    /// Whether it held.
    pub held: bool,
    /// The request's value for the key (`None`: absent from the request).
    pub value: Option<String>,
}

/// Every statement of one policy, with its result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// The kind of policy.
    #[serde(serialize_with = "serialize_kind")]
    pub kind: PolicyKind,
    /// The policy's name.
    pub name: String,
    /// The statements.
    pub statements: Vec<StatementReport>,
}

fn serialize_kind<S: serde::Serializer>(kind: &PolicyKind, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(kind.describe())
}

/// A statement that decided the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementRef {
    /// The kind of policy.
    #[serde(serialize_with = "serialize_kind")]
    pub kind: PolicyKind,
    /// The policy's name.
    pub policy: String,
    /// Position in the `Statement` array.
    pub statement: usize,
    /// The `Sid`.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
}

/// Policy groups whose missing Allow causes an implicit deny.
pub mod group {
    /// The caller's identity-based policies.
    pub const IDENTITY: &str = "identityPolicies";
    /// The resource-based policy.
    pub const RESOURCE: &str = "resourcePolicy";
    /// The permissions boundary.
    pub const BOUNDARY: &str = "permissionBoundary";
    /// The session policy.
    pub const SESSION: &str = "sessionPolicy";
}

/// The decision, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, explicitly or implicitly denied.
    pub outcome: Outcome,
    /// The deciding statements: matching Denies for an explicit deny; the matching grants
    /// (resource and identity Allows) for an allow; none for an implicit deny.
    pub deciding: Vec<StatementRef>,
    /// For an implicit deny: the policy groups that had to allow and did not
    /// (`identityPolicies`, `resourcePolicy`, `permissionBoundary`, `sessionPolicy`, `scps[i]`).
    pub missing_allow: Vec<String>,
    /// Per policy, why each statement did or did not match.
    pub reports: Vec<PolicyReport>,
    /// Rules that decided beyond any statement (e.g. a KMS operation not usable cross-account).
    pub notes: Vec<String>,
}

/// KMS operations that work on a key in another account (lower-cased); any other is denied
/// cross-account whatever the policies say (KMS Developer Guide, "Allowing users in other
/// accounts to use a KMS key").
pub const KMS_CROSS_ACCOUNT_ACTIONS: &[&str] = &[
    "kms:creategrant",
    "kms:decrypt",
    "kms:derivesharedsecret",
    "kms:describekey",
    "kms:encrypt",
    "kms:generatedatakey",
    "kms:generatedatakeypair",
    "kms:generatedatakeypairwithoutplaintext",
    "kms:generatedatakeywithoutplaintext",
    "kms:generatemac",
    "kms:getkeyrotationstatus",
    "kms:getpublickey",
    "kms:listgrants",
    "kms:reencryptfrom",
    "kms:reencryptto",
    "kms:retiregrant",
    "kms:revokegrant",
    "kms:sign",
    "kms:verify",
    "kms:verifymac",
];

/// One policy evaluated: which statements matched, the kind of principal match of its best
/// Allow, and (when asked for) the full report.
struct Evaluated<'a> {
    named: NamedPolicy<'a>,
    kind: PolicyKind,
    /// Positions in `named.policy.statements` of the statements that apply.
    matched: Vec<usize>,
    best_allow: PrincipalMatch,
    report: Option<PolicyReport>,
}

impl Evaluated<'_> {
    fn allows(&self) -> bool {
        self.best_allow != PrincipalMatch::NoMatch
    }
}

/// Authorize a request against every policy that applies, with a report for every statement.
pub fn authorize(policies: &PolicySet<'_>, request: &Request) -> Decision {
    authorize_with(policies, request, true)
}

/// Authorize a request: outcome, deciding statements and missing allows, without per-statement
/// reports (`Decision::reports` is empty). The fast path for bulk simulation.
pub fn authorize_outcome(policies: &PolicySet<'_>, request: &Request) -> Decision {
    authorize_with(policies, request, false)
}

fn authorize_with(policies: &PolicySet<'_>, request: &Request, with_reports: bool) -> Decision {
    let requester = &request.requester;
    // "SCPs do not affect any service-linked role" (Organizations User Guide, SCPs).
    let scps_apply = requester.is_iam_principal() && !requester.is_service_linked_role();
    let has_boundary = policies.boundary.is_some() && requester.has_identity_policies();

    let identity: Vec<Evaluated> = if requester.has_identity_policies() {
        policies
            .identity
            .iter()
            .map(|named| evaluate(named, PolicyKind::Identity, request, has_boundary, with_reports))
            .collect()
    } else {
        Vec::new()
    };
    let boundary = policies
        .boundary
        .filter(|_| requester.has_identity_policies())
        .map(|named| evaluate(&named, PolicyKind::Boundary, request, has_boundary, with_reports));
    let session = policies
        .session
        .filter(|_| requester.has_identity_policies())
        .map(|named| evaluate(&named, PolicyKind::Session, request, has_boundary, with_reports));
    let scp_levels: Vec<Vec<Evaluated>> = if scps_apply {
        policies
            .scps
            .iter()
            .map(|level| {
                level
                    .iter()
                    .map(|named| evaluate(named, PolicyKind::Scp, request, has_boundary, with_reports))
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    // `kms:RetireGrant` is not controlled by RCPs, not even through `kms:*` or `*` (RCP
    // evaluation: "kms:RetireGrant isn't supported in RCPs").
    let rcps_apply = request.action_lowercase != "kms:retiregrant";
    let rcps: Vec<Evaluated> = policies
        .rcps
        .iter()
        .filter(|_| rcps_apply)
        .map(|named| evaluate(named, PolicyKind::Rcp, request, has_boundary, with_reports))
        .collect();
    let resource_kind = match policies.resource_rules {
        Some(ResourceRules::KeyPolicy) => PolicyKind::KeyPolicy,
        _ => PolicyKind::Resource,
    };
    let resource = policies
        .resource
        .map(|named| evaluate(&named, resource_kind, request, has_boundary, with_reports));
    let acl = policies
        .acl
        .map(|named| evaluate(&named, PolicyKind::Acl, request, has_boundary, with_reports));

    let mut reports: Vec<PolicyReport> = Vec::new();
    let all = scp_levels
        .iter()
        .flatten()
        .chain(rcps.iter())
        .chain(resource.iter())
        .chain(acl.iter())
        .chain(identity.iter())
        .chain(boundary.iter())
        .chain(session.iter());
    let mut denies = Vec::new();
    for evaluated in all {
        collect(evaluated, Effect::Deny, &mut denies);
        if let Some(report) = &evaluated.report {
            reports.push(report.clone());
        }
    }
    if !denies.is_empty() {
        return Decision {
            outcome: Outcome::ExplicitlyDenied,
            deciding: denies,
            missing_allow: Vec::new(),
            reports,
            notes: Vec::new(),
        };
    }

    let implicit = |missing: Vec<String>, reports: Vec<PolicyReport>| Decision {
        outcome: Outcome::ImplicitlyDenied,
        deciding: Vec::new(),
        missing_allow: missing,
        reports,
        notes: Vec::new(),
    };

    // SCPs: every level of the caller's OU path must allow.
    let missing_scps: Vec<String> = scp_levels
        .iter()
        .enumerate()
        .filter(|(_, level)| !level.iter().any(Evaluated::allows))
        .map(|(index, _)| format!("scps[{index}]"))
        .collect();
    if !missing_scps.is_empty() {
        return implicit(missing_scps, reports);
    }
    // RCPs: RCPFullAWSAccess is attached at every level and cannot be detached, so an Allow
    // always exists; custom RCPs only matter through their Denies (handled above).

    let resource_grant = resource
        .iter()
        .chain(acl.iter())
        .map(|evaluated| evaluated.best_allow)
        .max()
        .unwrap_or(PrincipalMatch::NoMatch);
    let identity_allows = identity.iter().any(Evaluated::allows);
    let boundary_ok = boundary.as_ref().is_none_or(Evaluated::allows);
    let session_ok = session.as_ref().is_none_or(Evaluated::allows);
    let limits_missing = || {
        let mut missing = Vec::new();
        if !boundary_ok {
            missing.push(group::BOUNDARY.to_string());
        }
        if !session_ok {
            missing.push(group::SESSION.to_string());
        }
        missing
    };
    // The identity side: identity Allow within boundary and session policy. The root user has
    // every identity permission of its account.
    let identity_side = match requester.kind {
        RequesterKind::Root => true,
        _ if requester.has_identity_policies() => identity_allows && boundary_ok && session_ok,
        _ => false,
    };
    let identity_missing = || {
        let mut missing = Vec::new();
        if requester.has_identity_policies() && !identity_allows {
            missing.push(group::IDENTITY.to_string());
        }
        missing.extend(limits_missing());
        missing
    };

    // KMS: only some operations work with a key in another account, whatever the policies say.
    if policies.resource_rules == Some(ResourceRules::KeyPolicy)
        && !request.is_same_account()
        && !KMS_CROSS_ACCOUNT_ACTIONS.contains(&request.action_lowercase.as_str())
    {
        let mut decision = implicit(Vec::new(), reports);
        decision.notes.push(format!(
            "`{}` cannot be used on a KMS key in another account (KMS Developer Guide, \
             key-policy-modifying-external-accounts.html)",
            request.action
        ));
        return decision;
    }

    let allowed = if !requester.has_identity_policies() && requester.kind != RequesterKind::Root {
        // Anonymous callers and services: only the resource policy can grant.
        resource_grant >= PrincipalMatch::Direct
    } else if request.is_same_account() {
        match resource_grant {
            PrincipalMatch::Direct => true,
            PrincipalMatch::RoleArn => boundary_ok && session_ok,
            PrincipalMatch::Account => identity_side,
            PrincipalMatch::NoMatch => {
                identity_side && policies.resource_rules != Some(ResourceRules::KeyPolicy)
            }
        }
    } else {
        resource_grant != PrincipalMatch::NoMatch && identity_side
    };

    if allowed {
        let mut deciding = Vec::new();
        for evaluated in resource.iter().chain(acl.iter()).chain(identity.iter()) {
            collect(evaluated, Effect::Allow, &mut deciding);
        }
        return Decision {
            outcome: Outcome::Allowed,
            deciding,
            missing_allow: Vec::new(),
            reports,
            notes: Vec::new(),
        };
    }

    let missing = if !requester.has_identity_policies() && requester.kind != RequesterKind::Root {
        vec![group::RESOURCE.to_string()]
    } else if request.is_same_account() {
        let key_policy = policies.resource_rules == Some(ResourceRules::KeyPolicy);
        match resource_grant {
            PrincipalMatch::RoleArn => limits_missing(),
            PrincipalMatch::Account => identity_missing(),
            _ if key_policy => vec![group::RESOURCE.to_string()],
            _ => {
                let mut missing = identity_missing();
                if !identity_allows && (resource.is_some() || acl.is_some()) {
                    missing.push(group::RESOURCE.to_string());
                }
                missing
            }
        }
    } else {
        let mut missing = Vec::new();
        if resource_grant == PrincipalMatch::NoMatch {
            missing.push(group::RESOURCE.to_string());
        }
        missing.extend(identity_missing());
        missing
    };
    implicit(missing, reports)
}

/// Push every matching statement of `effect`.
fn collect(evaluated: &Evaluated<'_>, effect: Effect, out: &mut Vec<StatementRef>) {
    for position in &evaluated.matched {
        let Some(statement) = evaluated.named.policy.statements.get(*position) else {
            continue;
        };
        if statement.effect == effect {
            out.push(StatementRef {
                kind: evaluated.kind,
                policy: evaluated.named.name.to_string(),
                statement: statement.index,
                sid: statement.sid.clone(),
                effect,
            });
        }
    }
}

fn evaluate<'a>(
    named: &NamedPolicy<'a>,
    kind: PolicyKind,
    request: &Request,
    has_boundary: bool,
    with_report: bool,
) -> Evaluated<'a> {
    let mut best_allow = PrincipalMatch::NoMatch;
    let mut matched = Vec::new();
    let mut statements = Vec::new();
    for (position, statement) in named.policy.statements.iter().enumerate() {
        let strength = if with_report {
            let report = evaluate_statement(statement, kind, request, has_boundary);
            let strength = report
                .matched
                .then(|| report.principal.unwrap_or(PrincipalMatch::Direct));
            statements.push(report);
            strength
        } else {
            statement_applies(statement, kind, request, has_boundary)
        };
        if let Some(strength) = strength {
            matched.push(position);
            if statement.effect == Effect::Allow {
                best_allow = best_allow.max(strength);
            }
        }
    }
    let report = with_report.then(|| PolicyReport {
        kind,
        name: named.name.to_string(),
        statements,
    });
    Evaluated {
        named: *named,
        kind,
        matched,
        best_allow,
        report,
    }
}

/// Whether a statement applies, short-circuiting; `Some(how the principal matched)`.
fn statement_applies(
    statement: &Statement,
    kind: PolicyKind,
    request: &Request,
    has_boundary: bool,
) -> Option<PrincipalMatch> {
    if !statement.actions.matches(&request.action_lowercase) || !resource_block_matches(statement, request) {
        return None;
    }
    let principal = principal_of(statement, kind, request, has_boundary);
    if principal == Some(PrincipalMatch::NoMatch) {
        return None;
    }
    if !statement
        .conditions
        .iter()
        .all(|condition| condition.holds(&request.context))
    {
        return None;
    }
    Some(principal.unwrap_or(PrincipalMatch::Direct))
}

fn resource_block_matches(statement: &Statement, request: &Request) -> bool {
    match &statement.resources {
        None => true,
        Some(block) => {
            block
                .patterns
                .iter()
                .any(|pattern| resource_matches(pattern, request))
                != block.negated
        }
    }
}

/// How the statement's principal matches (`None` for policies without principals).
fn principal_of(
    statement: &Statement,
    kind: PolicyKind,
    request: &Request,
    has_boundary: bool,
) -> Option<PrincipalMatch> {
    if !kind.has_principal() {
        return None;
    }
    Some(
        statement
            .principal
            .as_ref()
            .map_or(PrincipalMatch::NoMatch, |block| {
                if block.negated && has_boundary && statement.effect == Effect::Deny {
                    PrincipalMatch::Direct
                } else {
                    match_principal(block, &request.requester)
                }
            }),
    )
}

/// Evaluate one statement; conditions are evaluated only when everything else matched.
///
/// `has_boundary`: the caller has a permissions boundary. A `NotPrincipal` Deny then always
/// applies to it, whatever `NotPrincipal` lists (IAM User Guide, "Permissions boundaries for IAM
/// entities", access_policies_boundaries.html).
pub fn evaluate_statement(
    statement: &Statement,
    kind: PolicyKind,
    request: &Request,
    has_boundary: bool,
) -> StatementReport {
    let action = statement.actions.matches(&request.action_lowercase);
    let resource = resource_block_matches(statement, request);
    let principal = principal_of(statement, kind, request, has_boundary);
    let principal_ok = principal.is_none_or(|matched| matched != PrincipalMatch::NoMatch);
    let condition = if !(action && resource && principal_ok) {
        ConditionOutcome::NotEvaluated
    } else if statement.conditions.is_empty() {
        ConditionOutcome::None
    } else {
        match statement
            .conditions
            .iter()
            .find(|condition| !condition.holds(&request.context))
        {
            Some(failed) => ConditionOutcome::Failed(failed.describe()),
            None => ConditionOutcome::Held,
        }
    };
    let matched = matches!(condition, ConditionOutcome::None | ConditionOutcome::Held);
    let conditions = if matches!(condition, ConditionOutcome::NotEvaluated) {
        Vec::new()
    } else {
        statement
            .conditions
            .iter()
            .map(|condition| ConditionCheck {
                condition: condition.describe(),
                held: condition.holds(&request.context),
                value: request.context.get(&condition.key).map(|value| match value {
                    ContextEntry::Single(text) => text.clone(),
                    ContextEntry::Multi(values) => format!("[{}]", values.join(", ")),
                }),
            })
            .collect()
    };
    StatementReport {
        conditions,
        index: statement.index,
        sid: statement.sid.clone(),
        effect: statement.effect,
        action,
        resource,
        principal,
        condition,
        matched,
    }
}

fn resource_matches(pattern: &Template<crate::core::policy::Pattern>, request: &Request) -> bool {
    use crate::core::policy::condition::ContextLookup;
    match pattern {
        Template::Fixed(pattern) => pattern.matches(&request.resource),
        Template::Variable(parts) => resolve(parts, |key| request.context.single(key))
            .is_some_and(|parts| glob_matches(&to_glob_parts(&parts), &request.resource)),
    }
}

/// How a `Principal`/`NotPrincipal` element matches the caller.
pub fn match_principal(block: &PrincipalBlock, requester: &Requester) -> PrincipalMatch {
    if block.negated {
        // NotPrincipal exempts the caller only when every identity it stands for is listed
        // (account, role and session): listing an account does not exempt its users.
        if block.any {
            return PrincipalMatch::NoMatch;
        }
        let identities = requester.identities();
        let exempt = !identities.is_empty() && identities.iter().all(|identity| lists(block, identity));
        return if exempt {
            PrincipalMatch::NoMatch
        } else {
            PrincipalMatch::Direct
        };
    }
    if block.any {
        return PrincipalMatch::Direct;
    }
    let mut best = PrincipalMatch::NoMatch;
    for principal in &block.aws {
        let strength = match principal {
            AwsPrincipal::Account(account) if requester.account.as_deref() == Some(account) => {
                if requester.kind == RequesterKind::Root {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::Account
                }
            }
            AwsPrincipal::Role(arn) if requester.principal_arn.as_deref() == Some(arn) => {
                if requester.kind == RequesterKind::Role {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::RoleArn
                }
            }
            AwsPrincipal::User(arn) | AwsPrincipal::Session(arn) | AwsPrincipal::FederatedUser(arn)
                if *arn == requester.arn =>
            {
                PrincipalMatch::Direct
            }
            _ => PrincipalMatch::NoMatch,
        };
        best = best.max(strength);
    }
    if requester.kind == RequesterKind::Service && block.services.contains(&requester.arn) {
        best = PrincipalMatch::Direct;
    }
    if block
        .federated
        .iter()
        .chain(block.canonical_users.iter())
        .any(|name| *name == requester.arn)
    {
        best = PrincipalMatch::Direct;
    }
    best
}

/// Whether a principal block lists one identity (an ARN, `arn:…:root`, or a service name).
fn lists(block: &PrincipalBlock, identity: &str) -> bool {
    block
        .aws
        .iter()
        .any(|principal| principal.canonical() == identity || identity_is_root_of(identity, principal))
        || block.services.iter().any(|service| service == identity)
        || block
            .federated
            .iter()
            .chain(block.canonical_users.iter())
            .any(|name| name == identity)
}

/// `arn:aws-cn:iam::ID:root` against an account principal (canonical form uses `aws`).
fn identity_is_root_of(identity: &str, principal: &AwsPrincipal) -> bool {
    match principal {
        AwsPrincipal::Account(account) => {
            identity.starts_with("arn:") && identity.ends_with(&format!(":iam::{account}:root"))
        }
        _ => false,
    }
}
