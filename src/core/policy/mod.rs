//! The IAM policy language: parse raw JSON once into typed, compiled statements; validate with
//! errors that name the place; canonicalise for comparison, fingerprints and diffs.
//!
//! The raw JSON value (key order preserved) stays with whoever read it, so edits can be made to
//! one statement and everything else written back untouched; [`Policy`] is the compiled form the
//! evaluator uses.

pub mod canonical;
pub mod condition;
pub mod json;
mod parse;
pub mod pattern;
pub mod principal;
pub mod splice;

pub use condition::Condition;
pub use parse::{PolicyError, parse_policy, parse_policy_json, parse_policy_text};
pub use pattern::{Pattern, Template};
pub use principal::PrincipalBlock;

/// Which kind of policy a document is: decides what validation applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An identity-based policy (inline or managed) of a user, group or role.
    Identity,
    /// A permissions boundary.
    Boundary,
    /// A session policy passed at AssumeRole.
    Session,
    /// A service control policy.
    Scp,
    /// A resource control policy.
    Rcp,
    /// A resource-based policy: S3 bucket policy.
    Resource,
    /// A KMS key policy.
    KeyPolicy,
    /// S3 ACL grants, read as resource-policy statements (bucket or object ACL).
    Acl,
}

impl PolicyKind {
    /// Whether statements of this kind name a principal.
    pub fn has_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::Resource | PolicyKind::KeyPolicy | PolicyKind::Rcp | PolicyKind::Acl
        )
    }

    /// A human name, as AWS's access-denied messages use.
    pub fn describe(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity-based policy",
            PolicyKind::Boundary => "permissions boundary",
            PolicyKind::Session => "session policy",
            PolicyKind::Scp => "service control policy",
            PolicyKind::Rcp => "resource control policy",
            PolicyKind::Resource => "resource-based policy",
            PolicyKind::KeyPolicy => "key policy",
            PolicyKind::Acl => "access control list",
        }
    }
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables are substituted.
    V2012,
    /// `2008-10-17`: `${...}` is literal text.
    V2008,
    /// No `Version`: treated as 2008-10-17.
    Absent,
}

impl PolicyVersion {
    /// Whether policy variables are substituted.
    pub fn has_variables(self) -> bool {
        self == PolicyVersion::V2012
    }
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies; an explicit deny always wins.
    Deny,
}

/// A compiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The language version.
    pub version: PolicyVersion,
    /// The `Id`, if any.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
    /// Non-fatal findings (actions that do not exist, deleted principals).
    pub warnings: Vec<String>,
}

/// A compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the `Statement` array (0 when `Statement` is a single object).
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// `Principal` / `NotPrincipal`, for resource-based policies.
    pub principal: Option<PrincipalBlock>,
    /// `Action` / `NotAction`.
    pub actions: ActionBlock,
    /// `Resource` / `NotResource`; `None` only in SCPs and RCPs that omit it (all resources).
    pub resources: Option<ResourceBlock>,
    /// Every (operator, key) pair of the `Condition` block; all must hold.
    pub conditions: Vec<Condition>,
}

/// `Action` or `NotAction`, lower-cased patterns (actions are case-insensitive).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionBlock {
    /// `NotAction`.
    pub negated: bool,
    /// The patterns, lower-cased.
    pub patterns: Vec<Pattern>,
}

impl ActionBlock {
    /// Whether the (lower-cased) action is covered.
    pub fn matches(&self, action_lowercase: &str) -> bool {
        self.patterns
            .iter()
            .any(|pattern| pattern.matches(action_lowercase))
            != self.negated
    }
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceBlock {
    /// `NotResource`.
    pub negated: bool,
    /// The patterns (case-sensitive), some with policy variables.
    pub patterns: Vec<Template<Pattern>>,
}

/// The IAM action an API call that has no action of its own authorizes as (lower-cased input):
/// `HeadObject` as `s3:GetObject`, `HeadBucket` and `ListObjects(V2)` as `s3:ListBucket`.
pub fn authorizing_action(action_lowercase: &str) -> Option<&'static str> {
    match action_lowercase {
        "s3:headobject" => Some("s3:GetObject"),
        "s3:headbucket" | "s3:listobjects" | "s3:listobjectsv2" => Some("s3:ListBucket"),
        _ => None,
    }
}

/// S3 and IAM actions that do not exist although people write them, and what AWS authorizes
/// the API call against instead.
pub const NONEXISTENT_ACTIONS: &[(&str, &str)] = &[
    ("s3:headobject", "s3:GetObject"),
    ("s3:headbucket", "s3:ListBucket"),
    ("s3:listobjects", "s3:ListBucket"),
    ("s3:listobjectsv2", "s3:ListBucket"),
    (
        "s3:copyobject",
        "s3:GetObject on the source and s3:PutObject on the target",
    ),
    ("s3:deleteobjects", "s3:DeleteObject"),
];
