//! The S3 authorization model: a request through every gate, in the order an operator checks
//! them — identity policy, bucket policy, ACL / Object Ownership, Block Public Access — and then
//! the second request S3 makes to KMS for SSE-KMS objects.
//!
//! Sources (Amazon S3 User Guide): "Troubleshoot access denied (403 Forbidden) errors"
//! (troubleshoot-403-errors.html: bucket-policy Allows apply only to objects the bucket owner owns;
//! Deny statements apply to all), "Controlling ownership of objects" (about-object-ownership.html),
//! "Blocking public access" (access-control-block-public-access.html), "Using server-side
//! encryption with AWS KMS keys" (UsingKMSEncryption.html: `kms:Decrypt` for GET,
//! `kms:GenerateDataKey` for PUT; AWS managed keys cannot be shared across accounts).

pub mod access_point;
pub mod acl;
mod gates;
pub mod public;
mod verdicts;
pub mod vpc_endpoint;

pub use gates::{Explanation, FinalDecision, Gate, GateReport, Missing, ReasonCode, Verdict, key_decision};

use crate::core::arn::{Arn, PrincipalArn, partition_of_region};
use crate::core::eval::{ContextEntry, Requester, RequesterKind};
use crate::core::policy::{Policy, PolicyError, PolicyKind, parse_policy};
use crate::core::world::{
    Bucket, ManagedPolicy, NamedPolicy as WorldPolicy, Principal, PrincipalKind, World,
};

/// The S3 operation being explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum S3Action {
    /// GetObject.
    Get,
    /// HeadObject (authorizes as `s3:GetObject`).
    Head,
    /// PutObject.
    Put,
    /// ListObjectsV2 (authorizes as `s3:ListBucket` on the bucket, with `s3:prefix`).
    List,
    /// DeleteObject.
    Delete,
    /// PutObjectAcl.
    PutObjectAcl,
    /// PutBucketPolicy (on the bucket).
    PutBucketPolicy,
    /// GetBucketPolicy (on the bucket).
    GetBucketPolicy,
}

impl S3Action {
    /// Parse `get`, `head`, `put` or `list`.
    pub fn parse(text: &str) -> Option<S3Action> {
        match text {
            "get" => Some(S3Action::Get),
            "head" => Some(S3Action::Head),
            "put" => Some(S3Action::Put),
            "list" => Some(S3Action::List),
            _ => None,
        }
    }

    /// The IAM action the call authorizes as.
    pub fn iam_action(self) -> &'static str {
        match self {
            S3Action::Get | S3Action::Head => "s3:GetObject",
            S3Action::Put => "s3:PutObject",
            S3Action::List => "s3:ListBucket",
            S3Action::Delete => "s3:DeleteObject",
            S3Action::PutObjectAcl => "s3:PutObjectAcl",
            S3Action::PutBucketPolicy => "s3:PutBucketPolicy",
            S3Action::GetBucketPolicy => "s3:GetBucketPolicy",
        }
    }

    /// The KMS action S3 calls for an SSE-KMS object, if any. HeadObject returns metadata
    /// without decrypting, so it needs none.
    pub fn kms_action(self) -> Option<&'static str> {
        match self {
            S3Action::Get => Some("kms:Decrypt"),
            S3Action::Put => Some("kms:GenerateDataKey"),
            _ => None,
        }
    }

    /// Whether the call targets an object (not the bucket).
    pub fn is_object(self) -> bool {
        !matches!(
            self,
            S3Action::List | S3Action::PutBucketPolicy | S3Action::GetBucketPolicy
        )
    }
}

/// A request to explain.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Request {
    /// The caller: assumed-role session, role or user ARN, or `*` for anonymous.
    pub principal: String,
    /// The operation.
    pub action: S3Action,
    /// The bucket.
    pub bucket: String,
    /// The object key, or the prefix for `list`.
    pub key: String,
    /// Request context given by the operator (`--context KEY=VALUE`).
    pub context: Vec<(String, ContextEntry)>,
}

/// Why a request cannot be explained from this world.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExplainError {
    /// The bucket is not in the world.
    #[error("bucket `{0}` is not in the world")]
    NoSuchBucket(String),
    /// The principal is not in the world.
    #[error("principal `{0}` is not in the world")]
    NoSuchPrincipal(String),
    /// The request names an access point that is not in the world.
    #[error("access point `{0}` is not in the world")]
    NoSuchAccessPoint(String),
    /// The principal text is not an ARN.
    #[error("principal `{principal}`: {message}")]
    BadPrincipal {
        /// As given.
        principal: String,
        /// What is wrong.
        message: String,
    },
    /// A stored policy is invalid.
    #[error("policy `{policy}` of `{resource}` is invalid: {error}")]
    BadPolicy {
        /// The resource holding it.
        resource: String,
        /// The policy's name.
        policy: String,
        /// The problem.
        error: PolicyError,
    },
}

/// A compiled policy with its report name.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The name in reports.
    pub name: String,
    /// The policy (shared: compiled once per document while a [`CompileCache`] is held).
    pub policy: std::sync::Arc<Policy>,
}

/// Compiled documents by address and kind.
type CompiledByAddress = std::collections::HashMap<(usize, PolicyKind), std::sync::Arc<Policy>>;

/// Roles of a world by (account, name), first one of each: the position in `principals`.
type RolesByName = std::collections::HashMap<(String, String), usize>;

thread_local! {
    /// Documents compiled on this thread while a [`CompileCache`] is held, by address and kind.
    static COMPILED: std::cell::RefCell<Option<CompiledByAddress>> =
        const { std::cell::RefCell::new(None) };
    /// The roles of each world looked up on this thread while a [`CompileCache`] is held, by the
    /// address and length of its principal list.
    static ROLES: std::cell::RefCell<Option<std::collections::HashMap<(usize, usize), RolesByName>>> =
        const { std::cell::RefCell::new(None) };
}

/// While held, each stored document is compiled once on this thread: the planner's proof
/// evaluates thousands of requests against the same few worlds, and compiling a 100-statement
/// bucket policy costs far more than evaluating it. A session's role is likewise found through
/// an index of each world's roles, built once, rather than by a scan per request.
///
/// INVARIANT: the documents evaluated while the cache is held are not dropped or changed until
/// it is released (entries are found by address); documents built per request (ACL grants read
/// as statements) are never cached.
#[derive(Debug)]
pub struct CompileCache {
    outer: bool,
}

impl CompileCache {
    /// Start caching on this thread (nested holds share the outer one).
    pub fn hold() -> CompileCache {
        let outer = COMPILED.with(|cache| {
            let mut cache = cache.borrow_mut();
            let outer = cache.is_none();
            if outer {
                *cache = Some(std::collections::HashMap::new());
            }
            outer
        });
        if outer {
            ROLES.with(|roles| *roles.borrow_mut() = Some(std::collections::HashMap::new()));
        }
        CompileCache { outer }
    }
}

impl Drop for CompileCache {
    fn drop(&mut self) {
        if self.outer {
            COMPILED.with(|cache| *cache.borrow_mut() = None);
            ROLES.with(|roles| *roles.borrow_mut() = None);
        }
    }
}

/// `parse_policy`, once per document while a [`CompileCache`] is held.
fn parse_cached(
    document: &serde_json::Value,
    kind: PolicyKind,
) -> Result<std::sync::Arc<Policy>, PolicyError> {
    if kind == PolicyKind::Acl {
        return parse_policy(document, kind).map(std::sync::Arc::new);
    }
    let key = (std::ptr::from_ref(document) as usize, kind);
    let found = COMPILED.with(|cache| cache.borrow().as_ref().map(|entries| entries.get(&key).cloned()));
    match found {
        None => parse_policy(document, kind).map(std::sync::Arc::new),
        Some(Some(policy)) => Ok(policy),
        Some(None) => {
            let policy = std::sync::Arc::new(parse_policy(document, kind)?);
            COMPILED.with(|cache| {
                if let Some(entries) = cache.borrow_mut().as_mut() {
                    entries.insert(key, policy.clone());
                }
            });
            Ok(policy)
        }
    }
}

/// Compile one stored document.
pub fn compile(
    resource: &str,
    name: &str,
    document: &serde_json::Value,
    kind: PolicyKind,
) -> Result<Compiled, ExplainError> {
    parse_cached(document, kind)
        .map(|policy| Compiled {
            name: name.to_string(),
            policy,
        })
        .map_err(|error| ExplainError::BadPolicy {
            resource: resource.to_string(),
            policy: name.to_string(),
            error,
        })
}

/// The caller's role or user in the world: a session maps to its role (the ARN's path is not in
/// the session ARN, so the role is found by account and name).
pub fn find_principal<'w>(world: &'w World, requester: &Requester) -> Option<&'w Principal> {
    match requester.kind {
        RequesterKind::RoleSession => {
            let session = PrincipalArn::parse(&requester.arn)?;
            let role = (session.account.to_string(), session.name().to_string());
            let index = (world.principals.as_ptr() as usize, world.principals.len());
            let indexed = ROLES.with(|roles| {
                let mut roles = roles.borrow_mut();
                let roles = roles.as_mut()?;
                let by_name = roles.entry(index).or_insert_with(|| roles_by_name(world));
                Some(by_name.get(&role).copied())
            });
            match indexed {
                Some(position) => position.and_then(|position| world.principals.get(position)),
                None => world
                    .principals
                    .iter()
                    .find(|principal| is_role(principal, &role.0, &role.1)),
            }
        }
        RequesterKind::Role | RequesterKind::User => world.principal(&requester.arn),
        _ => None,
    }
}

/// Whether `principal` is the role `name` in `account`. A cheap test first (the role ARN ends in
/// `/NAME` and names the account), so a scan among many principals parses only the candidates.
fn is_role(principal: &Principal, account: &str, name: &str) -> bool {
    principal.kind == PrincipalKind::Role
        && principal
            .arn
            .strip_suffix(name)
            .is_some_and(|head| head.ends_with('/') && head.contains(account))
        && PrincipalArn::parse(&principal.arn)
            .is_some_and(|role| role.account.as_str() == account && role.name() == name)
}

/// The world's roles by (account, name), the first of each (as a scan would find it).
fn roles_by_name(world: &World) -> RolesByName {
    let mut by_name = RolesByName::new();
    for (position, principal) in world.principals.iter().enumerate() {
        if principal.kind != PrincipalKind::Role {
            continue;
        }
        if let Some(role) = PrincipalArn::parse(&principal.arn) {
            by_name
                .entry((role.account.to_string(), role.name().to_string()))
                .or_insert(position);
        }
    }
    by_name
}

/// The identity-based policies of a principal: inline, managed, and (users) group policies.
pub fn identity_policies(principal: &Principal) -> Result<Vec<Compiled>, ExplainError> {
    let mut compiled = Vec::new();
    let managed_name =
        |policy: &ManagedPolicy| policy.arn.rsplit('/').next().unwrap_or(&policy.arn).to_string();
    let inline = |policy: &WorldPolicy, owner: &str| {
        compile(owner, &policy.name, &policy.document, PolicyKind::Identity)
    };
    for policy in &principal.inline_policies {
        compiled.push(inline(policy, &principal.arn)?);
    }
    for policy in &principal.managed_policies {
        compiled.push(compile(
            &principal.arn,
            &managed_name(policy),
            &policy.document,
            PolicyKind::Identity,
        )?);
    }
    for group in &principal.groups {
        for policy in &group.inline_policies {
            compiled.push(inline(policy, &group.arn)?);
        }
        for policy in &group.managed_policies {
            compiled.push(compile(
                &group.arn,
                &managed_name(policy),
                &policy.document,
                PolicyKind::Identity,
            )?);
        }
    }
    Ok(compiled)
}

/// The object ARN or bucket ARN a request targets.
pub fn resource_arn(bucket: &Bucket, action: S3Action, key: &str) -> String {
    let partition = partition_of_region(&bucket.region);
    if action.is_object() {
        Arn::s3_object(partition, &bucket.name, key).to_string()
    } else {
        Arn::s3_bucket(partition, &bucket.name).to_string()
    }
}

/// Explain a request against a world: every gate's verdict and the overall decision.
pub fn explain(world: &World, request: &S3Request) -> Result<Explanation, ExplainError> {
    gates::explain(world, request)
}

#[cfg(test)]
mod compile_cache_tests {
    use super::*;

    #[test]
    fn a_held_cache_compiles_each_document_once() {
        let document = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*"}]});
        let compile_twice = || {
            let first = compile("bkt", "bucket policy", &document, PolicyKind::Resource).unwrap();
            let second = compile("bkt", "bucket policy", &document, PolicyKind::Resource).unwrap();
            std::sync::Arc::ptr_eq(&first.policy, &second.policy)
        };
        assert!(!compile_twice(), "without a held cache every call compiles");
        {
            let _cache = CompileCache::hold();
            let _nested = CompileCache::hold();
            assert!(compile_twice());
        }
        assert!(!compile_twice(), "released: nothing is kept");
        assert!(COMPILED.with(|cache| cache.borrow().is_none()));
    }
}
