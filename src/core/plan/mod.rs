//! The planner: from the observed world and an access spec, the minimal edits that grant exactly
//! the requested access, proven by re-evaluating the edited world before anything is written.

pub mod apply;
mod build;
mod documents;
pub mod forall;
mod neighbourhood;
pub mod ownership;
mod point;
mod proof;
pub mod verify;

pub use apply::{
    ResourceRef, WorldEditError, current_text, current_value, fingerprint_of, set_document, set_value,
};
pub use build::{ProbeRequest, caller_context, probes};
pub use proof::{Proof, ProofCheck};

use crate::core::eval::StatementRef;
use crate::core::s3::{ExplainError, Gate};
use crate::core::spec::Spec;
use crate::core::world::World;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plan file format this build writes and reads.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// The name of the inline policy s3fix owns on a principal, one per bucket.
pub fn owned_policy_name(bucket: &str) -> String {
    format!("s3fix-{bucket}")
}

/// What an edit does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// The resource does not exist yet.
    Create,
    /// The resource exists and changes.
    Update,
}

/// One edit: a resource, its value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Edit {
    /// The resource written.
    pub resource: ResourceRef,
    /// Create or update.
    pub operation: Operation,
    /// The value before (`null`: absent).
    pub before: Option<Value>,
    /// The value after.
    pub after: Value,
    /// Whether the edit narrows a Deny or otherwise needs a security review.
    #[serde(default)]
    pub security_sensitive: bool,
    /// Why the edit is needed.
    pub reason: String,
    /// The document's exact text before, where it was read with its text: what a rollback writes
    /// back byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_text: Option<String>,
    /// The exact text written: `before_text` with only the changed statements spliced in
    /// (`core::policy::splice`); absent where there is no text before, and the writer serialises
    /// `after`. It always parses to `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_text: Option<String>,
}

/// The fingerprint of one resource as read when planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fingerprint {
    /// The resource.
    pub resource: ResourceRef,
    /// SHA-256 of its value, or `absent`.
    pub fingerprint: String,
}

/// A decision the plan expects after it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expectation {
    /// The caller.
    pub principal: String,
    /// `get`, `put`, `list`, ….
    pub action: crate::core::s3::S3Action,
    /// The object key or list prefix.
    pub key: String,
    /// `Allowed` or `Denied`.
    pub decision: crate::core::s3::FinalDecision,
}

/// A computed plan: the contract between `plan` and `apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// `"s3fix-plan"` (files written before plans named their kind load without it).
    #[serde(default)]
    pub kind: crate::core::kind::PlanTag,
    /// Always [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The spec planned for.
    pub spec: Spec,
    /// The edits, in the order apply performs them.
    pub edits: Vec<Edit>,
    /// Every resource read that the plan and its proof rely on.
    pub fingerprints: Vec<Fingerprint>,
    /// The decisions expected after apply.
    pub expected: Vec<Expectation>,
    /// The checks the proof ran.
    pub proof: Proof,
    /// Findings that do not stop the plan.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Where the world was read from, so apply reads and writes the same place (no secrets).
    #[serde(default)]
    pub source: PlanSource,
    /// The options the plan was made with (apply re-plans with them).
    #[serde(default)]
    pub options: PlanOptions,
}

/// Where a plan's world came from: a world file, or AWS through these roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanSource {
    /// The world file, when planned offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<String>,
    /// The role assumed in the bucket's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_role: Option<String>,
    /// The role assumed in the caller's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_role: Option<String>,
    /// The external id for those roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The AWS profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The region of the first calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An endpoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// The bound on objects listed through AWS (`--max-objects`), when one was given: `apply`
    /// and `drift` re-observe with the same bound. Absent in older plans (the default bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_objects: Option<usize>,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// (to add, to change).
    pub fn counts(&self) -> (usize, usize) {
        let added = self
            .edits
            .iter()
            .filter(|edit| edit.operation == Operation::Create)
            .count();
        (added, self.edits.len() - added)
    }
}

/// Options that change what the planner may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PlanOptions {
    /// Narrow a blocking bucket-policy or key-policy Deny by exempting exactly the principal.
    pub allow_deny_exception: bool,
    /// Switch Object Ownership to BucketOwnerEnforced even where existing bucket-policy grants
    /// then reach objects for someone other than the spec's principal, or where the objects'
    /// owners are unknown; the edit is marked security-sensitive.
    pub allow_ownership_change: bool,
}

/// Something no edit within scope may fix, or that the options forbid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocker {
    /// The gate.
    pub gate: Gate,
    /// What blocks.
    pub what: String,
    /// The statement, where one blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementRef>,
    /// What the operator can do.
    pub remedy: String,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The world lacks something the spec names, or holds an invalid policy.
    #[error(transparent)]
    World(#[from] ExplainError),
    /// An edit could not be applied to the world copy.
    #[error(transparent)]
    Edit(#[from] WorldEditError),
    /// Something blocks the access that s3fix may not fix.
    #[error("the access cannot be granted by an edit s3fix may make:\n{}", describe_blockers(.0))]
    Blocked(Vec<Blocker>),
    /// The edits did not pass their proof: nothing is written.
    #[error("the planned edits failed their proof, so no plan is written:\n{}", .0.join("\n"))]
    ProofFailed(Vec<String>),
}

/// How a proof failure ends when only `--allow-ownership-change` would accept it.
pub const OWNERSHIP_NOT_ACCEPTED: &str = "and --allow-ownership-change was not given";

impl PlanError {
    /// The remedy: each blocker's (prefixed by its gate when there are several), or for a proof
    /// the ownership switch alone fails, the flag that accepts it.
    pub fn remedy(&self) -> Option<String> {
        match self {
            PlanError::Blocked(blockers) => match blockers.as_slice() {
                [] => None,
                [blocker] => Some(blocker.remedy.clone()),
                several => Some(
                    several
                        .iter()
                        .map(|blocker| format!("{}: {}", blocker.gate.describe(), blocker.remedy))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            },
            PlanError::ProofFailed(failures)
                if failures
                    .iter()
                    .any(|failure| failure.ends_with(OWNERSHIP_NOT_ACCEPTED)) =>
            {
                Some("re-run with --allow-ownership-change to accept it".into())
            }
            _ => None,
        }
    }
}

fn describe_blockers(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|blocker| {
            let statement = blocker
                .statement
                .as_ref()
                .map(|reference| match &reference.sid {
                    Some(sid) => format!(
                        " (`{}` statement {}, Sid `{sid}`)",
                        reference.policy, reference.statement
                    ),
                    None => format!(" (`{}` statement {})", reference.policy, reference.statement),
                })
                .unwrap_or_default();
            format!("  - {}: {}{statement}", blocker.gate.describe(), blocker.what)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plan the minimal edits that grant `spec`'s access in `world`, and prove them (on one thread).
pub fn plan(world: &World, spec: &Spec, options: PlanOptions) -> Result<Plan, PlanError> {
    plan_with_workers(world, spec, options, 1)
}

/// [`plan`], probing the proof's neighbouring requests on up to `workers` threads where there are
/// enough callers for it to pay; the plan is the same for any number of workers.
pub fn plan_with_workers(
    world: &World,
    spec: &Spec,
    options: PlanOptions,
    workers: usize,
) -> Result<Plan, PlanError> {
    let mut built = build::build(world, spec, options)?;
    for edit in &mut built.edits {
        edit.before_text = current_text(world, &edit.resource);
        if let Some(before_text) = &edit.before_text {
            let (text, spliced) = crate::core::policy::splice::text_for(Some(before_text), &edit.after);
            if !spliced {
                built.warnings.push(format!(
                    "{}: the edit could not be spliced into the stored text, so the whole document is written re-serialised",
                    edit.resource.describe()
                ));
            }
            edit.after_text = Some(text);
        }
    }
    let mut edited = world.clone();
    for edit in &built.edits {
        set_document(
            &mut edited,
            &edit.resource,
            Some(&edit.after),
            edit.after_text.as_deref(),
        )?;
    }
    let proof = proof::prove(world, &edited, spec, &built, workers)?;
    if !proof.failures().is_empty() {
        return Err(PlanError::ProofFailed(proof.failures()));
    }
    let mut fingerprints = Vec::new();
    for resource in &built.read {
        fingerprints.push(Fingerprint {
            resource: resource.clone(),
            fingerprint: fingerprint_of(world, resource)?,
        });
    }
    Ok(Plan {
        kind: crate::core::kind::PlanTag,
        format_version: PLAN_FORMAT_VERSION,
        spec: spec.clone(),
        edits: built.edits,
        fingerprints,
        expected: proof.expected.clone(),
        proof,
        warnings: built.warnings,
        source: PlanSource::default(),
        options,
    })
}
