//! The proof: re-evaluate the edited world before anything is written.
//!
//! 1. every requested request is now allowed;
//! 2. nothing else flips from denied to allowed — other principals of both accounts, an
//!    outsider account, anonymous callers, other actions, keys outside the requested patterns,
//!    another bucket, and direct use of the KMS key;
//! 3. the bucket policy gains no public statement;
//! 4. AWS size limits hold;
//! 5. the key administrators keep `kms:PutKeyPolicy`, the bucket account keeps
//!    `s3:PutBucketPolicy`.

use super::apply::{ResourceRef, set_value};
use super::build::{Built, ProbeRequest, caller_arn, caller_context, spec_access_point};
use super::forall::containment;
use super::neighbourhood::{KeyClasses, Touched, representative_probes, route_prefix};
use super::ownership::{describe_gain, ownership_change};
use super::{Expectation, PlanError};
use crate::core::arn::{AccountId, Arn, account_of};
use crate::core::eval::{ContextEntry, Outcome};
use crate::core::policy::{PolicyKind, parse_policy};
use crate::core::s3::access_point::DATA_ACCESS_POINT_ARN;
use crate::core::s3::public::public_statements;
use crate::core::s3::{CompileCache, FinalDecision, S3Action, explain, key_decision};
use crate::core::spec::{Access, Spec};
use crate::core::world::{Bucket, NamedPolicy, ObjectOwnership, Principal, PrincipalKind, World};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One check of the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProofCheck {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// The evidence: counts, or what failed.
    pub detail: String,
}

/// Every check the proof ran, and the decisions expected after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Proof {
    /// The checks.
    pub checks: Vec<ProofCheck>,
    /// The requested decisions (all `Allowed`).
    pub expected: Vec<Expectation>,
}

impl Proof {
    /// The failed checks, described.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("  - {}: {}", check.name, check.detail))
            .collect()
    }
}

/// AWS size limits (IAM and S3 quotas; KMS PutKeyPolicy).
const BUCKET_POLICY_BYTES: usize = 20 * 1024;
const ROLE_INLINE_CHARACTERS: usize = 10_240;
const USER_INLINE_CHARACTERS: usize = 2_048;
const KEY_POLICY_BYTES: usize = 32_768;

/// Synthetic principals that stand for "everyone else" in the neighbourhood.
const OUTSIDER_ACCOUNT: &str = "999999999999";

/// The account root principal of `account` in `partition` (none for a malformed id).
fn root_in(partition: &str, account: &str) -> Option<String> {
    AccountId::parse(account).map(|account| Arn::account_root(partition, &account).to_string())
}

fn admin_document() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

fn synthetic_role(account: &str, name: &str, admin: bool) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{account}:role/{name}"),
        kind: PrincipalKind::Role,
        unique_id: None,
        inline_policies: if admin {
            vec![NamedPolicy {
                name: "admin".into(),
                document: admin_document(),
                document_text: None,
            }]
        } else {
            Vec::new()
        },
        managed_policies: Vec::new(),
        groups: Vec::new(),
        permissions_boundary: None,
        tags: Default::default(),
    }
}

/// The other bucket the neighbourhood probes: same name plus a suffix, in the caller's account,
/// no policy, so only identity policies decide there.
fn other_bucket_name(bucket: &str) -> String {
    let mut name = format!("{bucket}-s3fix-proof");
    name.truncate(63);
    name
}

/// Add the synthetic principals and bucket to a world.
fn with_neighbours(world: &World, spec: &Spec) -> World {
    let mut world = world.clone();
    let caller_account = spec.principal_account().to_string();
    let bucket_account = world
        .bucket(&spec.bucket)
        .map(|bucket| bucket.account.clone())
        .unwrap_or_default();
    world
        .principals
        .push(synthetic_role(OUTSIDER_ACCOUNT, "s3fix-proof-outsider", true));
    world
        .principals
        .push(synthetic_role(&caller_account, "s3fix-proof-sibling", true));
    world
        .principals
        .push(synthetic_role(&bucket_account, "s3fix-proof-neighbour", false));
    world.buckets.push(Bucket {
        name: other_bucket_name(&spec.bucket),
        account: caller_account,
        region: world
            .bucket(&spec.bucket)
            .map(|bucket| bucket.region.clone())
            .unwrap_or_default(),
        policy: None,
        policy_text: None,
        ownership: Some(ObjectOwnership::BucketOwnerEnforced),
        public_access_block: None,
        acl: None,
        default_encryption: None,
        objects: Vec::new(),
        access_points: Vec::new(),
    });
    world
}

/// What probing some callers found.
#[derive(Debug, Default)]
struct Tally {
    flips: Vec<String>,
    owner_gains: usize,
    owner_example: Option<String>,
    /// A direct spec's own requests gained through an access point of the bucket.
    route_gains: usize,
    route_example: Option<String>,
    accepted_gains: usize,
    compared: usize,
    untouched: usize,
}

impl Tally {
    /// This tally followed by `later` (callers in order, so reports do not depend on how the
    /// callers were split between workers).
    fn then(mut self, later: Tally) -> Tally {
        self.flips.extend(later.flips);
        self.owner_gains += later.owner_gains;
        self.owner_example = self.owner_example.or(later.owner_example);
        self.route_gains += later.route_gains;
        self.route_example = self.route_example.or(later.route_example);
        self.accepted_gains += later.accepted_gains;
        self.compared += later.compared;
        self.untouched += later.untouched;
        self
    }
}

/// Callers per worker below which probing stays on one thread: starting a thread and compiling
/// every policy again there costs more than a few callers' probes.
const CALLERS_PER_WORKER: usize = 32;

/// Everything the neighbouring requests are probed against; shared by the workers, read-only.
struct Neighbourhood<'a> {
    spec: &'a Spec,
    before_world: &'a World,
    after_world: &'a World,
    intermediate_worlds: &'a [(String, World)],
    classes: &'a KeyClasses<'a>,
    touched: &'a Touched,
    routes: &'a [(String, Option<String>)],
    spec_point: &'a Option<String>,
    target_caller: &'a str,
    target_context: &'a [(String, ContextEntry)],
    bucket_account: &'a str,
    takes_ownership: bool,
    foreign_keys: &'a std::collections::BTreeSet<String>,
    allow_ownership_change: bool,
}

impl Neighbourhood<'_> {
    /// Probe every caller, on up to `workers` threads: contiguous runs of callers, each worker
    /// with its own compiled-policy cache, tallies joined in caller order.
    fn probe_all(&self, callers: &[(String, Option<&str>)], workers: usize) -> Result<Tally, PlanError> {
        let workers = workers.clamp(1, callers.len().div_ceil(CALLERS_PER_WORKER).max(1));
        if workers == 1 {
            return self.probe_run(callers);
        }
        let run = callers.len().div_ceil(workers);
        let results: Vec<Result<Tally, PlanError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = callers
                .chunks(run)
                .map(|chunk| {
                    scope.spawn(move || {
                        let _cache = CompileCache::hold();
                        self.probe_run(chunk)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(PlanError::ProofFailed(vec![
                            "  - a proof worker stopped unexpectedly".to_string(),
                        ]))
                    })
                })
                .collect()
        });
        let mut tally = Tally::default();
        for result in results {
            tally = tally.then(result?);
        }
        Ok(tally)
    }

    fn probe_run(&self, callers: &[(String, Option<&str>)]) -> Result<Tally, PlanError> {
        let mut tally = Tally::default();
        for (caller, principal_arn) in callers {
            self.probe_caller(caller, *principal_arn, &mut tally)?;
        }
        Ok(tally)
    }

    /// Every neighbouring request of one caller, in the final state and in each state between
    /// two edits.
    fn probe_caller(
        &self,
        caller: &str,
        principal_arn: Option<&str>,
        tally: &mut Tally,
    ) -> Result<(), PlanError> {
        let spec = self.spec;
        let context: Vec<(String, ContextEntry)> = if caller == self.target_caller {
            self.target_context.to_vec()
        } else {
            let mut context: Vec<(String, ContextEntry)> = spec
                .context
                .iter()
                .map(|(key, value)| (key.clone(), ContextEntry::Single(value.clone())))
                .collect();
            if let Some(arn) = principal_arn {
                context.push(("aws:PrincipalArn".into(), ContextEntry::Single(arn.to_string())));
            }
            context
        };
        let own_account = account_of(caller).is_some_and(|account| account.as_str() == self.bucket_account);
        // One key per class; a gain on it stands for every key of its class (they decide alike).
        let classes = self.classes.classes(caller, principal_arn);
        let keys: Vec<(&str, usize)> = classes
            .iter()
            .filter_map(|members| members.first().map(|first| (*first, members.len())))
            .collect();
        for (bucket, route) in self.routes {
            let Some(found) = self.before_world.bucket(bucket) else {
                continue;
            };
            let mut context = context.clone();
            context.retain(|(key, _)| !key.eq_ignore_ascii_case(DATA_ACCESS_POINT_ARN));
            if let Some(access_point) = route {
                context.push((
                    DATA_ACCESS_POINT_ARN.to_string(),
                    ContextEntry::Single(access_point.clone()),
                ));
            }
            for action in NEIGHBOUR_ACTIONS {
                for &(key, alike) in &keys {
                    if action.is_object() == key.is_empty() && action != S3Action::List {
                        continue;
                    }
                    // The spec asks for its requests by one route: through its access point, or
                    // directly. A direct spec's request through an access point is still what it
                    // asked (the access point adds its own gates, and both must permit): probed,
                    // and a gain there is reported apart. A spec through an access point asks for
                    // that route only: the same request directly, or through another access
                    // point, is a neighbour (it would bypass the access point's network origin
                    // and policy).
                    let asked = requested(spec, self.target_caller, caller, bucket, action, key);
                    if route == self.spec_point && asked {
                        continue;
                    }
                    let asked = asked && self.spec_point.is_none();
                    if !self
                        .touched
                        .touches(caller, principal_arn, found, spec, action, key)
                    {
                        tally.untouched += 1;
                        continue;
                    }
                    let probe = ProbeRequest {
                        principal: caller.to_string(),
                        action,
                        key: key.to_string(),
                        context: context.clone(),
                    };
                    let request = probe.to_request(bucket);
                    let was = explain(self.before_world, &request)?.decision == FinalDecision::Allowed;
                    let now = explain(self.after_world, &request)?.decision == FinalDecision::Allowed;
                    tally.compared += 1;
                    let target = || {
                        let through = route
                            .as_ref()
                            .map(|access_point| format!(" through `{access_point}`"))
                            .unwrap_or_default();
                        format!("{caller} {} on `{bucket}/{key}`{through}", action.iam_action())
                    };
                    for (label, world) in self.intermediate_worlds {
                        let between = explain(world, &request)?.decision == FinalDecision::Allowed;
                        tally.compared += 1;
                        if between && !was && !now {
                            tally.flips.push(format!(
                                "{} is allowed after writing the {label}, before the last edit",
                                target()
                            ));
                        }
                    }
                    if was || !now {
                        continue;
                    }
                    // BucketOwnerEnforced makes the bucket owner own every object: its own
                    // principals gaining their usual rights on this bucket's objects is what the
                    // switch means. Others gaining a foreign object is what the ownership check
                    // lists, allowed only with --allow-ownership-change.
                    let on_switched_object =
                        self.takes_ownership && *bucket == spec.bucket && action.is_object();
                    if asked {
                        tally.route_gains += alike;
                        tally.route_example.get_or_insert_with(target);
                    } else if on_switched_object && own_account {
                        tally.owner_gains += alike;
                        tally.owner_example.get_or_insert_with(target);
                    } else if on_switched_object
                        && self.allow_ownership_change
                        && self.foreign_keys.contains(key)
                    {
                        tally.accepted_gains += alike;
                    } else {
                        tally.flips.push(format!("{} flips to allowed", target()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The actions every neighbouring request is probed with.
const NEIGHBOUR_ACTIONS: [S3Action; 7] = [
    S3Action::Get,
    S3Action::Put,
    S3Action::List,
    S3Action::Delete,
    S3Action::PutObjectAcl,
    S3Action::PutBucketPolicy,
    S3Action::GetBucketPolicy,
];

/// Whether a request is one the spec asks for.
fn requested(spec: &Spec, target: &str, caller: &str, bucket: &str, action: S3Action, key: &str) -> bool {
    if caller != target || bucket != spec.bucket {
        return false;
    }
    let covered = |pattern: &String| match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == pattern,
    };
    let access = spec.access_set();
    match action {
        S3Action::Get | S3Action::Head => access.contains(&Access::Read) && spec.keys.iter().any(covered),
        S3Action::Put => access.contains(&Access::Write) && spec.keys.iter().any(covered),
        S3Action::List => access.contains(&Access::List) && spec.keys.iter().any(covered),
        _ => false,
    }
}

fn caller_arn_for(spec: &Spec) -> String {
    // The kind is resolved against the world by the caller; a user ARN is itself.
    if spec.principal.contains(":user/") {
        spec.principal.clone()
    } else {
        caller_arn(&spec.principal, PrincipalKind::Role)
    }
}

/// Keys outside the requested patterns: next to them, and those the bucket's policies name.
fn outside_keys(spec: &Spec, world: &World) -> Vec<String> {
    let mut keys = vec!["s3fix-proof-outside/object".to_string()];
    // Every object pattern a bucket-policy statement names, made concrete: an edit that touches
    // such a statement (a Deny exemption) shows there.
    let prefix = format!("{}/", spec.bucket_arn());
    if let Some(document) = world
        .bucket(&spec.bucket)
        .and_then(|bucket| bucket.policy.as_ref())
    {
        let statements = match document.get("Statement") {
            Some(serde_json::Value::Array(items)) => items.clone(),
            Some(single) => vec![single.clone()],
            None => Vec::new(),
        };
        for statement in statements {
            for element in ["Resource", "NotResource"] {
                let values = match statement.get(element) {
                    Some(serde_json::Value::Array(items)) => items.clone(),
                    Some(single) => vec![single.clone()],
                    None => Vec::new(),
                };
                for value in values.iter().filter_map(serde_json::Value::as_str) {
                    if let Some(pattern) = value.strip_prefix(&prefix) {
                        keys.push(pattern.replace('*', "s3fix-proof").replace('?', "x"));
                    }
                }
            }
        }
    }
    for pattern in &spec.keys {
        match pattern.strip_suffix('*') {
            Some("") => {}
            Some(prefix) => {
                let trimmed = prefix.trim_end_matches('/');
                keys.push(format!("{trimmed}-s3fix-proof/object"));
                if !trimmed.is_empty() {
                    keys.push(trimmed.to_string());
                }
            }
            None => keys.push(format!("{pattern}.s3fix-proof")),
        }
    }
    keys
}

pub(super) fn prove(
    before: &World,
    after: &World,
    spec: &Spec,
    built: &Built,
    workers: usize,
) -> Result<Proof, PlanError> {
    let mut proof = Proof::default();
    let check = |proof: &mut Proof, name: &str, failures: Vec<String>, evidence: String| {
        proof.checks.push(ProofCheck {
            name: name.to_string(),
            passed: failures.is_empty(),
            detail: if failures.is_empty() {
                evidence
            } else {
                failures.join("; ")
            },
        });
    };

    // 1. Every requested request is allowed.
    let cache = CompileCache::hold();
    let mut failures = Vec::new();
    for probe in representative_probes(&[before, after], spec, &built.probes) {
        let explanation = explain(after, &probe.to_request(&spec.bucket))?;
        if explanation.decision != FinalDecision::Allowed {
            failures.push(format!(
                "{} `{}` is still {:?}",
                probe.action.iam_action(),
                probe.key,
                explanation.decision
            ));
        }
    }
    for probe in &built.probes {
        proof.expected.push(Expectation {
            principal: probe.principal.clone(),
            action: probe.action,
            key: probe.key.clone(),
            decision: FinalDecision::Allowed,
        });
    }
    check(
        &mut proof,
        "requested access is allowed",
        failures,
        format!("{} requests allowed", built.probes.len()),
    );

    drop(cache);

    // 2. Nothing else flips from denied to allowed, in the final state or in any state between
    //    two edits (apply writes them one at a time).
    let before_world = with_neighbours(before, spec);
    let after_world = with_neighbours(after, spec);
    let mut intermediate_worlds = Vec::new();
    let mut partial = before.clone();
    for edit in built.edits.iter().take(built.edits.len().saturating_sub(1)) {
        set_value(&mut partial, &edit.resource, Some(&edit.after)).map_err(|error| {
            PlanError::ProofFailed(vec![format!(
                "  - the edits cannot be applied in their order: {error}"
            )])
        })?;
        intermediate_worlds.push((edit.resource.describe(), with_neighbours(&partial, spec)));
    }
    // Every world evaluated from here on stays as it is until the proof returns.
    let _cache = CompileCache::hold();
    // Each caller as it makes requests, with its role or user (none for anonymous).
    let mut callers: Vec<(String, Option<&str>)> = before_world
        .principals
        .iter()
        .map(|principal| {
            (
                caller_arn(&principal.arn, principal.kind),
                Some(principal.arn.as_str()),
            )
        })
        .collect();
    callers.push(("*".to_string(), None));
    let bucket_account = before
        .bucket(&spec.bucket)
        .map(|bucket| bucket.account.clone())
        .unwrap_or_default();
    let takes_ownership = built
        .edits
        .iter()
        .any(|edit| matches!(edit.resource, ResourceRef::OwnershipControls { .. }));
    // The objects another account owns change hands with the switch: each is probed too.
    let foreign_keys: std::collections::BTreeSet<String> = if takes_ownership {
        before
            .bucket(&spec.bucket)
            .map(|bucket| {
                bucket
                    .objects
                    .iter()
                    .filter(|object| {
                        object
                            .owner_account()
                            .is_some_and(|owner| owner != bucket.account)
                    })
                    .map(|object| object.key.clone())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        std::collections::BTreeSet::new()
    };
    let mut keys: Vec<String> = built.probes.iter().map(|probe| probe.key.clone()).collect();
    keys.extend(outside_keys(spec, before));
    keys.extend(foreign_keys.iter().cloned());
    keys.push(String::new());
    keys.sort();
    keys.dedup();
    let mut all_worlds: Vec<&World> = vec![before, after];
    all_worlds.extend(intermediate_worlds.iter().map(|(_, world)| world));
    // Every request is probed directly and through each access point of the bucket (the spec's
    // own, and any other): a bucket-policy statement reaches requests through an access point
    // too, and the access point policy and the bucket's delegation change what reaches the bucket
    // there.
    let spec_point = spec_access_point(before, spec);
    let mut points: std::collections::BTreeSet<String> = spec_point.iter().cloned().collect();
    if let Some(bucket) = before.bucket(&spec.bucket) {
        points.extend(bucket.access_points.iter().map(|point| point.arn.clone()));
    }
    let mut routes: Vec<(String, Option<String>)> = vec![
        (spec.bucket.clone(), None),
        (other_bucket_name(&spec.bucket), None),
    ];
    routes.extend(points.into_iter().map(|point| (spec.bucket.clone(), Some(point))));
    let prefixes: Vec<String> = routes
        .iter()
        .map(|(bucket, point)| route_prefix(spec, bucket, point.as_deref()))
        .collect();
    let classes = KeyClasses::new(&all_worlds, spec, &keys, &prefixes);
    let touched = Touched::new(before, after, spec, &built.edits);
    let target_context = caller_context(spec);
    let target_caller = caller_arn_for(spec);
    let neighbourhood = Neighbourhood {
        spec,
        before_world: &before_world,
        after_world: &after_world,
        intermediate_worlds: &intermediate_worlds,
        classes: &classes,
        touched: &touched,
        routes: &routes,
        spec_point: &spec_point,
        target_caller: &target_caller,
        target_context: &target_context,
        bucket_account: &bucket_account,
        takes_ownership,
        foreign_keys: &foreign_keys,
        allow_ownership_change: built.options.allow_ownership_change,
    };
    let tally = neighbourhood.probe_all(&callers, workers)?;
    let Tally {
        mut flips,
        owner_gains,
        owner_example,
        route_gains,
        route_example,
        accepted_gains,
        mut compared,
        untouched,
    } = tally;
    // Direct use of each key (not through S3) by every caller stays as it was.
    for key in &before.keys {
        for (caller, _) in &callers {
            for action in ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"] {
                let was = key_decision(&before_world, caller, &key.arn, action, &[])?.map(|d| d.outcome);
                let now = key_decision(&after_world, caller, &key.arn, action, &[])?.map(|d| d.outcome);
                compared += 1;
                if was != Some(Outcome::Allowed) && now == Some(Outcome::Allowed) {
                    flips.push(format!(
                        "{caller} {action} directly on `{}` flips to allowed",
                        key.arn
                    ));
                }
            }
        }
    }
    let mut evidence = format!(
        "checked {compared} requests: none flips from denied to allowed ({untouched} more no edit can reach were skipped, and keys that every policy which may apply to the caller treats alike were probed once)"
    );
    if !intermediate_worlds.is_empty() {
        evidence.push_str(&format!(
            ", in the final state or in the {} between the edits",
            if intermediate_worlds.len() == 1 {
                "state".to_string()
            } else {
                format!("{} states", intermediate_worlds.len())
            }
        ));
    }
    if route_gains > 0 {
        evidence.push_str(&format!(
            "; the spec's own requests also become allowed through an access point of the bucket, whose own gates permit them ({route_gains} request{}, e.g. {})",
            if route_gains == 1 { "" } else { "s" },
            route_example.unwrap_or_default()
        ));
    }
    if owner_gains > 0 {
        evidence.push_str(&format!(
            "; except, as BucketOwnerEnforced means, the bucket account's own principals on the objects it now owns ({owner_gains} request{}, e.g. {})",
            if owner_gains == 1 { "" } else { "s" },
            owner_example.unwrap_or_default()
        ));
    }
    if accepted_gains > 0 {
        evidence.push_str(&format!(
            "; and {accepted_gains} requests the ownership switch opens, allowed by --allow-ownership-change"
        ));
    }
    check(&mut proof, "no other access is widened", flips, evidence);

    // 2a. The argument over the edited statements, for every request.
    let argument = containment(before, spec, &built.edits);
    let mut proved = format!(
        "proved for every request: {} added or changed Allow{} inside the spec's principal × actions × resources",
        argument.allows,
        if argument.allows == 1 { "" } else { "s" }
    );
    if argument.denies > 0 {
        proved.push_str(&format!(
            "; {} Deny{} added (they only narrow)",
            argument.denies,
            if argument.denies == 1 { "" } else { "s" }
        ));
    }
    if argument.narrowed > 0 {
        proved.push_str(&format!(
            "; {} Deny narrowed to stop denying only the spec's principal × actions × resources × context",
            argument.narrowed
        ));
    }
    check(
        &mut proof,
        "every edited statement is contained in the spec",
        argument.failures,
        proved,
    );

    // 2b. The ownership switch, for every object the world holds.
    if takes_ownership {
        let change = ownership_change(before, spec);
        let mut failures = Vec::new();
        if !built.options.allow_ownership_change {
            for gain in change.widenings() {
                failures.push(format!(
                    "{}, {}",
                    describe_gain(gain),
                    super::OWNERSHIP_NOT_ACCEPTED
                ));
            }
            if let Some(reason) = &change.owners_unknown {
                failures.push(format!(
                    "the owners of some objects are unknown ({reason}), so what the switch grants cannot be listed, {}",
                    super::OWNERSHIP_NOT_ACCEPTED
                ));
            }
        }
        let described = change.describe();
        let evidence = if described.is_empty() {
            format!(
                "proved for every object the world holds ({} owned by other accounts): no bucket-policy grant reaches new objects and no object-ACL grant stops applying",
                change.foreign_objects
            )
        } else {
            format!(
                "proved for every object the world holds ({} owned by other accounts): {}",
                change.foreign_objects,
                described.join("; ")
            )
        };
        check(
            &mut proof,
            "the ownership switch grants only what it lists",
            failures,
            evidence,
        );
    }

    // 3. The bucket policy gains no public statement.
    let public = |world: &World| -> Result<usize, PlanError> {
        let Some(document) = world
            .bucket(&spec.bucket)
            .and_then(|bucket| bucket.policy.as_ref())
        else {
            return Ok(0);
        };
        let policy = parse_policy(document, PolicyKind::Resource).map_err(|error| {
            PlanError::ProofFailed(vec![format!("  - the edited bucket policy is invalid: {error}")])
        })?;
        Ok(public_statements(&policy).len())
    };
    let (public_before, public_after) = (public(before)?, public(after)?);
    let public_failures = if public_after > public_before {
        vec![format!(
            "the bucket policy would have {public_after} public statements (had {public_before})"
        )]
    } else {
        Vec::new()
    };
    check(
        &mut proof,
        "the bucket policy stays non-public",
        public_failures,
        format!("{public_after} public statements"),
    );

    // 4. Size limits.
    let mut size_failures = Vec::new();
    for edit in &built.edits {
        let compact = serde_json::to_string(&edit.after).unwrap_or_default();
        match &edit.resource {
            ResourceRef::BucketPolicy { bucket } if compact.len() > BUCKET_POLICY_BYTES => size_failures
                .push(format!(
                    "the bucket policy of `{bucket}` would be {} bytes (limit {BUCKET_POLICY_BYTES})",
                    compact.len()
                )),
            ResourceRef::KeyPolicy { key } if compact.len() > KEY_POLICY_BYTES => {
                size_failures.push(format!(
                    "the key policy of `{key}` would be {} bytes (limit {KEY_POLICY_BYTES})",
                    compact.len()
                ))
            }
            ResourceRef::InlinePolicy { principal, .. } => {
                let Some(found) = after.principal(principal) else {
                    continue;
                };
                let total: usize = found
                    .inline_policies
                    .iter()
                    .map(|policy| {
                        serde_json::to_string(&policy.document)
                            .unwrap_or_default()
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .count()
                    })
                    .sum();
                let limit = if found.kind == PrincipalKind::User {
                    USER_INLINE_CHARACTERS
                } else {
                    ROLE_INLINE_CHARACTERS
                };
                if total > limit {
                    size_failures.push(format!(
                        "the inline policies of `{principal}` would total {total} characters (limit {limit})"
                    ));
                }
            }
            _ => {}
        }
    }
    check(
        &mut proof,
        "AWS size limits hold",
        size_failures,
        "bucket policy ≤ 20 KB, inline ≤ 10,240 characters, key policy ≤ 32 KB".into(),
    );

    // 5. Administrators are not locked out.
    let mut lockouts = Vec::new();
    for key in &before.keys {
        let mut admins: Vec<String> = before
            .principals
            .iter()
            .filter(|p| account_of(&p.arn).is_some_and(|account| account.as_str() == key.account))
            .map(|p| caller_arn(&p.arn, p.kind))
            .collect();
        admins.extend(root_in(&spec.partition(), &key.account));
        for admin in admins {
            let was = key_decision(before, &admin, &key.arn, "kms:PutKeyPolicy", &[])?.map(|d| d.outcome);
            let now = key_decision(after, &admin, &key.arn, "kms:PutKeyPolicy", &[])?.map(|d| d.outcome);
            if was == Some(Outcome::Allowed) && now != Some(Outcome::Allowed) {
                lockouts.push(format!("{admin} would lose kms:PutKeyPolicy on `{}`", key.arn));
            }
        }
    }
    if let Some(bucket) = before.bucket(&spec.bucket) {
        let mut admins: Vec<String> = before
            .principals
            .iter()
            .filter(|p| account_of(&p.arn).is_some_and(|account| account.as_str() == bucket.account))
            .map(|p| caller_arn(&p.arn, p.kind))
            .collect();
        admins.extend(root_in(&spec.partition(), &bucket.account));
        for admin in admins {
            let request = ProbeRequest {
                principal: admin.clone(),
                action: S3Action::PutBucketPolicy,
                key: String::new(),
                context: Vec::new(),
            }
            .to_request(&spec.bucket);
            let was = explain(before, &request)?.decision;
            let now = explain(after, &request)?.decision;
            if was == FinalDecision::Allowed && now != FinalDecision::Allowed {
                lockouts.push(format!(
                    "{admin} would lose s3:PutBucketPolicy on `{}`",
                    spec.bucket
                ));
            }
        }
    }
    check(
        &mut proof,
        "administrators keep control",
        lockouts,
        "key administrators keep kms:PutKeyPolicy; the bucket account keeps s3:PutBucketPolicy".into(),
    );
    Ok(proof)
}
