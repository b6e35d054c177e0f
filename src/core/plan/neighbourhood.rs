//! Keeping the proof's probes affordable on a busy bucket without losing any: requests whose
//! evaluation no edit can touch are skipped (their decision cannot change), and keys that every
//! policy which may apply to a caller treats alike are probed once for that caller.
//!
//! Both reductions are conservative: a request counts as touched when any changed element
//! might apply to it (principals and actions and resources matched, conditions ignored), and two
//! keys are alike for a caller only when every resource pattern and condition value of every
//! statement that may apply to it matches both or neither, their objects have the same owner,
//! ACL and encryption, and no policy uses a variable (see [`KeyClasses`]).

use super::Edit;
use super::apply::{ResourceRef, owner_grant};
use crate::core::arn::Arn;
use crate::core::policy::principal::AwsPrincipal;
use crate::core::policy::{Pattern, PolicyKind, Statement, Template, parse_policy};
use crate::core::s3::S3Action;
use crate::core::s3::public::public_statements;
use crate::core::spec::Spec;
use crate::core::world::{Acl, Bucket, Grantee, World};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn statements(document: Option<&Value>) -> Vec<Value> {
    match document.and_then(|document| document.get("Statement")) {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    }
}

/// What the edits change, as far as which requests they may touch.
#[derive(Debug, Default)]
pub(super) struct Touched {
    /// Everything is touched (an edit this analysis does not model, or the bucket policy's
    /// public standing changed, which Block Public Access weighs for every caller).
    everything: bool,
    /// Principals whose identity policies changed.
    identities: BTreeSet<String>,
    /// Bucket-policy statements added, removed or changed (both versions).
    bucket_statements: Vec<Statement>,
    /// The ownership switch: object requests on these keys, by anyone.
    switched_keys: BTreeSet<String>,
    /// ACLs stop applying (ownership) or change (reset): requests by these accounts, or by
    /// anyone when a group is a grantee.
    acl_accounts: BTreeSet<String>,
    acl_anyone: bool,
    /// A key policy changed: requests on KMS-encrypted objects, and uploads under a KMS default.
    key_policy: bool,
}

fn acl_grantees(acl: Option<&Acl>, bucket_account: &str, touched: &mut Touched) {
    let Some(acl) = acl else { return };
    for grant in &acl.grants {
        match &grant.grantee {
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } => {
                touched.acl_accounts.insert(account.clone());
            }
            _ if owner_grant(grant, &acl.owner, bucket_account) => {
                touched.acl_accounts.insert(bucket_account.to_string());
            }
            _ => touched.acl_anyone = true,
        }
    }
}

impl Touched {
    /// What `edits` (applied to `before`, giving `after`) may touch.
    pub(super) fn new(before: &World, after: &World, spec: &Spec, edits: &[Edit]) -> Touched {
        let mut touched = Touched::default();
        let bucket = before.bucket(&spec.bucket);
        for edit in edits {
            match &edit.resource {
                ResourceRef::InlinePolicy { principal, .. } => {
                    touched.identities.insert(principal.clone());
                }
                ResourceRef::KeyPolicy { .. } => touched.key_policy = true,
                ResourceRef::BucketPolicy { bucket: name } if *name == spec.bucket => {
                    let old = statements(edit.before.as_ref());
                    let new = statements(Some(&edit.after));
                    let mut changed = Vec::new();
                    for position in 0..old.len().max(new.len()) {
                        let (was, now) = (old.get(position), new.get(position));
                        if was != now {
                            changed.extend(was.cloned());
                            changed.extend(now.cloned());
                        }
                    }
                    let document = json!({"Version": "2012-10-17", "Statement": changed});
                    match parse_policy(&document, PolicyKind::Resource) {
                        Ok(policy) => touched.bucket_statements.extend(policy.statements),
                        Err(_) => touched.everything = true,
                    }
                    let public = |world: &World| {
                        world
                            .bucket(&spec.bucket)
                            .and_then(|bucket| bucket.policy.as_ref())
                            .and_then(|document| parse_policy(document, PolicyKind::Resource).ok())
                            .map(|policy| public_statements(&policy).len())
                    };
                    if public(before) != public(after) {
                        touched.everything = true;
                    }
                }
                ResourceRef::OwnershipControls { bucket: name } if *name == spec.bucket => {
                    let Some(bucket) = bucket else {
                        touched.everything = true;
                        continue;
                    };
                    for object in &bucket.objects {
                        let owner = object.owner_account();
                        if owner.is_some_and(|owner| owner != bucket.account) {
                            touched.switched_keys.insert(object.key.clone());
                        }
                        acl_grantees(object.acl.as_ref(), &bucket.account, &mut touched);
                    }
                    acl_grantees(bucket.acl.as_ref(), &bucket.account, &mut touched);
                }
                ResourceRef::BucketAcl { bucket: name } if *name == spec.bucket => {
                    let Some(bucket) = bucket else {
                        touched.everything = true;
                        continue;
                    };
                    acl_grantees(bucket.acl.as_ref(), &bucket.account, &mut touched);
                    let after_acl = serde_json::from_value::<Acl>(edit.after.clone()).ok();
                    acl_grantees(after_acl.as_ref(), &bucket.account, &mut touched);
                }
                _ => touched.everything = true,
            }
        }
        touched
    }

    /// Whether an edit may change the decision on `caller` (whose role or user is
    /// `principal_arn`) making `action` on `bucket`/`key`.
    pub(super) fn touches(
        &self,
        caller: &str,
        principal_arn: Option<&str>,
        bucket: &Bucket,
        spec: &Spec,
        action: S3Action,
        key: &str,
    ) -> bool {
        if self.everything {
            return true;
        }
        if principal_arn.is_some_and(|arn| self.identities.contains(arn)) {
            return true;
        }
        if bucket.name != spec.bucket {
            // Another bucket: only identity policies decide there.
            return false;
        }
        let caller_account = caller.split(':').nth(4).unwrap_or_default();
        let acl_scope = matches!(
            action,
            S3Action::Get | S3Action::Head | S3Action::Delete | S3Action::PutObjectAcl
        ) || matches!(
            action,
            S3Action::Put | S3Action::List | S3Action::PutBucketPolicy | S3Action::GetBucketPolicy
        );
        if acl_scope && (self.acl_anyone || self.acl_accounts.contains(caller_account)) {
            return true;
        }
        if action.is_object() && self.switched_keys.contains(key) {
            return true;
        }
        if self.key_policy && action.is_object() {
            let object = bucket.objects.iter().find(|object| object.key == key);
            let encrypted = object
                .and_then(|object| object.encryption.as_ref())
                .or(bucket.default_encryption.as_ref())
                .is_some_and(|encryption| {
                    encryption.kms_key_id.is_some() || encryption.algorithm.contains("kms")
                });
            if encrypted {
                return true;
            }
        }
        let iam_action = action.iam_action().to_ascii_lowercase();
        let bucket_arn = Arn::s3_bucket(&spec.partition(), &bucket.name).to_string();
        let resource = if action.is_object() {
            format!("{bucket_arn}/{key}")
        } else {
            bucket_arn
        };
        self.bucket_statements.iter().any(|statement| {
            statement.actions.matches(&iam_action)
                && resource_may_match(statement, &resource)
                && principal_may_match(statement, caller, principal_arn)
        })
    }
}

fn resource_may_match(statement: &Statement, arn: &str) -> bool {
    let Some(block) = &statement.resources else {
        return true;
    };
    let fixed_match = block
        .patterns
        .iter()
        .any(|pattern| matches!(pattern, Template::Fixed(fixed) if fixed.matches(arn)));
    let variable = block
        .patterns
        .iter()
        .any(|pattern| matches!(pattern, Template::Variable(_)));
    if block.negated {
        !fixed_match || variable
    } else {
        fixed_match || variable
    }
}

fn principal_may_match(statement: &Statement, caller: &str, principal_arn: Option<&str>) -> bool {
    let Some(block) = &statement.principal else {
        return true;
    };
    if block.negated || block.any || !block.canonical_users.is_empty() {
        return true;
    }
    let caller_account = caller.split(':').nth(4);
    block.aws.iter().any(|principal| match principal {
        AwsPrincipal::Account(account) => caller_account == Some(account.as_str()),
        AwsPrincipal::Role(arn) | AwsPrincipal::User(arn) => {
            principal_arn == Some(arn.as_str()) || caller == arn
        }
        AwsPrincipal::Session(arn) => caller == arn,
        AwsPrincipal::FederatedUser(_) | AwsPrincipal::UniqueId(_) => true,
    })
}

/// The strings one statement matches keys against: its resource patterns and condition values.
fn statement_texts(statement: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for element in ["Resource", "NotResource"] {
        collect_strings(statement.get(element), &mut texts);
    }
    if let Some(Value::Object(operators)) = statement.get("Condition") {
        for keys in operators.values() {
            if let Value::Object(keys) = keys {
                for values in keys.values() {
                    collect_strings(Some(values), &mut texts);
                }
            }
        }
    }
    texts
}

fn collect_strings(value: Option<&Value>, into: &mut Vec<String>) {
    match value {
        Some(Value::String(text)) => into.push(text.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                collect_strings(Some(item), into);
            }
        }
        _ => {}
    }
}

/// One statement of a resource-based policy (bucket, access point, VPC endpoint, key), parsed
/// on its own so that whom it may apply to can be asked; `None` when it does not parse, and then
/// it counts for every caller.
fn parsed_statement(document: &Value, statement: &Value) -> Option<Statement> {
    let version = document.get("Version").cloned().unwrap_or(Value::Null);
    let single = json!({"Version": version, "Statement": [statement]});
    parse_policy(&single, PolicyKind::Resource)
        .ok()
        .and_then(|policy| policy.statements.into_iter().next())
}

/// Which keys the proof may probe as one, per caller.
///
/// Two keys are alike for a caller when every string of every statement that may apply to that
/// caller — its own identity policies, the resource-based statements whose principal may match
/// it, and every SCP and RCP — matches both or neither (as a key, as the bucket's object ARN, as
/// each extra bucket's object ARN and as each access point's object ARN), and the objects have
/// the same owner, ACL and encryption in every world. A statement that cannot apply to a caller
/// takes no part in its decision, so it does not split that caller's keys: on a bucket where
/// every team role reads its own prefix, each caller's keys fall into a few classes rather than
/// one per prefix. With a policy variable anywhere, every key stands alone.
pub(super) struct KeyClasses<'k> {
    keys: &'k [String],
    /// Every pattern, compiled once.
    patterns: Vec<KeyPattern>,
    /// Per key: its class under the patterns that count for every caller (and its object state).
    base: Vec<usize>,
    /// Per key: the strings a pattern is matched against, as written and lower-cased.
    subjects: Vec<Vec<(String, String)>>,
    /// Patterns of each principal's identity policies, by principal ARN.
    identity: BTreeMap<String, Vec<usize>>,
    /// Resource-based statements and their patterns.
    resource: Vec<(Statement, Vec<usize>)>,
    /// Patterns that count for every caller.
    everyone: BTreeSet<usize>,
    variables: bool,
}

impl<'k> KeyClasses<'k> {
    /// The classes of `keys` (of the spec's bucket) over `worlds`, for requests by the routes
    /// whose object-ARN prefixes are `prefixes` (`arn:PARTITION:s3:::BUCKET/` for a bucket,
    /// `ACCESS_POINT_ARN/object/` through an access point): a key is matched as itself and under
    /// each prefix.
    pub(super) fn new(
        worlds: &[&World],
        spec: &Spec,
        keys: &'k [String],
        prefixes: &[String],
    ) -> KeyClasses<'k> {
        let mut texts: BTreeMap<String, usize> = BTreeMap::new();
        let mut variables = false;
        let mut index_of = |text: String, variables: &mut bool| -> usize {
            *variables |= text.contains("${");
            let next = texts.len();
            *texts.entry(text).or_insert(next)
        };
        let mut everyone = BTreeSet::new();
        let mut identity: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut resource: Vec<(Statement, Vec<usize>)> = Vec::new();
        for key in &spec.keys {
            everyone.insert(index_of(key.clone(), &mut variables));
        }
        for world in worlds {
            let mut resource_documents: Vec<&Value> = Vec::new();
            for bucket in &world.buckets {
                resource_documents.extend(bucket.policy.as_ref());
                resource_documents.extend(
                    bucket
                        .access_points
                        .iter()
                        .filter_map(|point| point.policy.as_ref()),
                );
            }
            resource_documents.extend(
                world
                    .vpc_endpoints
                    .iter()
                    .filter_map(|endpoint| endpoint.policy.as_ref()),
            );
            resource_documents.extend(world.keys.iter().filter_map(|key| key.policy.as_ref()));
            for document in resource_documents {
                for statement in statements(Some(document)) {
                    let found: Vec<usize> = statement_texts(&statement)
                        .into_iter()
                        .map(|text| index_of(text, &mut variables))
                        .collect();
                    match parsed_statement(document, &statement) {
                        Some(parsed) if !found.is_empty() => resource.push((parsed, found)),
                        Some(_) => {}
                        None => everyone.extend(found),
                    }
                }
            }
            for principal in &world.principals {
                let mut documents: Vec<&Value> = Vec::new();
                documents.extend(principal.inline_policies.iter().map(|policy| &policy.document));
                documents.extend(principal.managed_policies.iter().map(|policy| &policy.document));
                documents.extend(
                    principal
                        .permissions_boundary
                        .iter()
                        .map(|policy| &policy.document),
                );
                for group in &principal.groups {
                    documents.extend(group.inline_policies.iter().map(|policy| &policy.document));
                    documents.extend(group.managed_policies.iter().map(|policy| &policy.document));
                }
                let own = identity.entry(principal.arn.clone()).or_default();
                for document in documents {
                    for statement in statements(Some(document)) {
                        own.extend(
                            statement_texts(&statement)
                                .into_iter()
                                .map(|text| index_of(text, &mut variables)),
                        );
                    }
                }
            }
            for account in &world.accounts {
                let organisation = account.scps.iter().flatten().chain(account.rcps.iter());
                for policy in organisation {
                    for statement in statements(Some(&policy.document)) {
                        everyone.extend(
                            statement_texts(&statement)
                                .into_iter()
                                .map(|text| index_of(text, &mut variables)),
                        );
                    }
                }
            }
        }
        for own in identity.values_mut() {
            own.sort_unstable();
            own.dedup();
        }
        let mut ordered: Vec<(&String, &usize)> = texts.iter().collect();
        ordered.sort_by_key(|(_, index)| **index);
        // Each text as a pattern and as a literal (`StringEquals` does not expand `*`), as
        // written and lower-cased (`...IgnoreCase` operators and case-insensitive parts of ARNs
        // compare without case), so keys alike only under one reading are told apart.
        let patterns: Vec<KeyPattern> = ordered
            .iter()
            .map(|(text, _)| {
                let lower = text.to_lowercase();
                KeyPattern {
                    glob: Pattern::new(text),
                    glob_lower: Pattern::new(&lower),
                    text: (*text).clone(),
                    lower,
                }
            })
            .collect();

        let has_bucket = worlds
            .first()
            .and_then(|world| world.bucket(&spec.bucket))
            .is_some();
        let mut subjects = Vec::with_capacity(keys.len());
        let mut base = Vec::with_capacity(keys.len());
        let mut base_classes: BTreeMap<(String, Vec<bool>), usize> = BTreeMap::new();
        for key in keys {
            let subject: Vec<(String, String)> = std::iter::once(key.clone())
                .chain(prefixes.iter().map(|prefix| format!("{prefix}{key}")))
                .map(|text| {
                    let lower = text.to_lowercase();
                    (text, lower)
                })
                .collect();
            let bits: Vec<bool> = everyone
                .iter()
                .filter_map(|index| patterns.get(*index))
                .flat_map(|pattern| match_bits(pattern, &subject))
                .collect();
            let state = if key.is_empty() || !has_bucket {
                format!("key:{key}")
            } else {
                object_state(worlds, spec, key)
            };
            let next = base_classes.len();
            base.push(*base_classes.entry((state, bits)).or_insert(next));
            subjects.push(subject);
        }
        KeyClasses {
            keys,
            patterns,
            base,
            subjects,
            identity,
            resource,
            everyone,
            variables,
        }
    }

    /// The keys in classes for `caller` (whose role or user is `principal_arn`), each class in
    /// the order of the keys given, classes ordered by their first key.
    pub(super) fn classes(&self, caller: &str, principal_arn: Option<&str>) -> Vec<Vec<&'k str>> {
        if self.variables {
            return self.keys.iter().map(|key| vec![key.as_str()]).collect();
        }
        let mut applying: BTreeSet<usize> = BTreeSet::new();
        if let Some(own) = principal_arn.and_then(|arn| self.identity.get(arn)) {
            applying.extend(own.iter().copied());
        }
        for (statement, found) in &self.resource {
            if principal_may_match(statement, caller, principal_arn) {
                applying.extend(found.iter().copied());
            }
        }
        let extra: Vec<&KeyPattern> = applying
            .difference(&self.everyone)
            .filter_map(|index| self.patterns.get(*index))
            .collect();
        let mut classes: Vec<Vec<&'k str>> = Vec::new();
        let mut class_of: BTreeMap<(usize, Vec<bool>), usize> = BTreeMap::new();
        for ((key, base), subject) in self.keys.iter().zip(&self.base).zip(&self.subjects) {
            let bits: Vec<bool> = extra
                .iter()
                .flat_map(|pattern| match_bits(pattern, subject))
                .collect();
            let next = classes.len();
            let class = *class_of.entry((*base, bits)).or_insert(next);
            match classes.get_mut(class) {
                Some(members) => members.push(key.as_str()),
                None => classes.push(vec![key.as_str()]),
            }
        }
        classes
    }

    /// One key of each class for `caller`, in the order given.
    #[cfg(test)]
    pub(super) fn representatives(&self, caller: &str, principal_arn: Option<&str>) -> Vec<&'k str> {
        self.classes(caller, principal_arn)
            .into_iter()
            .filter_map(|members| members.first().copied())
            .collect()
    }
}

/// One string a policy matches keys against, in each reading a condition operator may give it.
struct KeyPattern {
    glob: Pattern,
    glob_lower: Pattern,
    text: String,
    lower: String,
}

/// Whether `pattern` matches each string of `subject`: as a pattern and as a literal, as written
/// and without case.
fn match_bits<'a>(
    pattern: &'a KeyPattern,
    subject: &'a [(String, String)],
) -> impl Iterator<Item = bool> + 'a {
    subject.iter().flat_map(move |(text, lower)| {
        [
            pattern.glob.matches(text),
            pattern.glob_lower.matches(lower),
            pattern.text == *text,
            pattern.lower == *lower,
        ]
    })
}

/// The object as evaluation sees it in every world (a missing object reads as one the bucket
/// owner owns, unencrypted, without an ACL).
fn object_state(worlds: &[&World], spec: &Spec, key: &str) -> String {
    let state: Vec<Value> = worlds
        .iter()
        .map(|world| {
            let found = world.bucket(&spec.bucket);
            let object = found.and_then(|bucket| bucket.objects.iter().find(|object| object.key == key));
            let owner = object
                .and_then(|object| object.owner_account().map(str::to_string))
                .or_else(|| found.map(|bucket| bucket.account.clone()));
            json!([
                owner,
                object.and_then(|object| object.acl.as_ref()),
                object.and_then(|object| object.encryption.as_ref())
            ])
        })
        .collect();
    Value::Array(state).to_string()
}

/// The object-ARN prefix of a route: the bucket's objects directly, or the access point's.
pub(super) fn route_prefix(spec: &Spec, bucket: &str, access_point: Option<&str>) -> String {
    match access_point {
        Some(access_point) => format!("{access_point}/object/"),
        None => format!("{}/", Arn::s3_bucket(&spec.partition(), bucket)),
    }
}

/// The spec's own requests to evaluate: for each action and caller, one per class of keys (the
/// others decide alike for the spec's principal), by the spec's route (the bucket's object ARNs,
/// and the access point's for a spec through one).
pub(super) fn representative_probes<'p>(
    worlds: &[&World],
    spec: &Spec,
    probes: &'p [super::build::ProbeRequest],
) -> Vec<&'p super::build::ProbeRequest> {
    let mut keys: Vec<String> = probes.iter().map(|probe| probe.key.clone()).collect();
    keys.sort();
    keys.dedup();
    let point = worlds
        .first()
        .and_then(|world| super::build::spec_access_point(world, spec));
    // Through an access point, the bucket side still sees the bucket's object ARN.
    let mut prefixes = vec![route_prefix(spec, &spec.bucket, None)];
    prefixes.extend(
        point
            .as_deref()
            .map(|point| route_prefix(spec, &spec.bucket, Some(point))),
    );
    let classes = KeyClasses::new(worlds, spec, &keys, &prefixes);
    // Each caller's class of each key.
    let mut class_of: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for probe in probes {
        class_of.entry(probe.principal.as_str()).or_insert_with(|| {
            let mut of_key = BTreeMap::new();
            for (class, members) in classes
                .classes(&probe.principal, Some(spec.principal.as_str()))
                .into_iter()
                .enumerate()
            {
                of_key.extend(members.into_iter().map(|key| (key, class)));
            }
            of_key
        });
    }
    let mut actions: Vec<S3Action> = Vec::new();
    for probe in probes {
        if !actions.contains(&probe.action) {
            actions.push(probe.action);
        }
    }
    // For each action, the first probe of each caller's class stands for the class.
    let mut chosen = Vec::new();
    let mut seen: BTreeSet<(S3Action, &str, usize)> = BTreeSet::new();
    for action in actions {
        for probe in probes.iter().filter(|probe| probe.action == action) {
            let principal = probe.principal.as_str();
            let class = class_of
                .get(principal)
                .and_then(|of_key| of_key.get(probe.key.as_str()))
                .copied();
            if class.is_none_or(|class| seen.insert((action, principal, class))) {
                chosen.push(probe);
            }
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        serde_json::from_value(json!({
            "formatVersion": 1,
            "buckets": [{"name": "bkt", "account": "111111111111", "region": "us-east-1",
                "policy": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/a"},
                     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/team-a/*"}]},
                "objects": [
                    {"key": "team-a/1.csv", "owner": "111111111111"},
                    {"key": "data/1.csv", "owner": "333333333333"},
                    {"key": "data/2.csv", "owner": "333333333333"},
                    {"key": "data/3.csv", "owner": "111111111111"}]}],
        }))
        .unwrap()
    }

    fn spec() -> Spec {
        Spec::parse(
            "principal = \"arn:aws:iam::222222222222:role/app\"\nbucket = \"bkt\"\nkeys = [\"data/*\"]\naccess = [\"read\"]\n",
            "t.toml",
        )
        .unwrap()
    }

    /// The object-ARN prefix of requests made to `bkt` directly.
    const DIRECT: &str = "arn:aws:s3:::bkt/";
    const ROLE_A: &str = "arn:aws:iam::222222222222:role/a";
    const SESSION_A: &str = "arn:aws:sts::222222222222:assumed-role/a/s3fix-probe";
    const ROLE_APP: &str = "arn:aws:iam::222222222222:role/app";
    const SESSION_APP: &str = "arn:aws:sts::222222222222:assumed-role/app/s3fix-probe";

    /// The decision on an anonymous ListBucket of `bkt` with `prefix`.
    fn anonymous_list(world: &World, prefix: &str) -> Option<crate::core::s3::FinalDecision> {
        let request = crate::core::s3::S3Request {
            principal: "*".into(),
            action: S3Action::List,
            bucket: "bkt".into(),
            key: prefix.into(),
            context: Vec::new(),
        };
        crate::core::s3::explain(world, &request)
            .map(|explanation| explanation.decision)
            .ok()
    }

    fn keys_of(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|key| key.to_string()).collect()
    }

    #[test]
    fn keys_alike_for_every_policy_that_may_apply_are_probed_once() {
        let world = world();
        let keys = keys_of(&[
            "data/1.csv",
            "data/2.csv",
            "data/3.csv",
            "data/new",
            "team-a/1.csv",
            "team-a/x",
            "other",
            "",
        ]);
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &[DIRECT.to_string()]);
        // For role a, whose bucket-policy statement names team-a/*: data/1 and data/2 (same
        // foreign owner); data/3 and data/new (owner-owned under the spec's data/*); team-a/1.csv
        // and team-a/x; other; the empty key.
        assert_eq!(
            classes.representatives(SESSION_A, Some(ROLE_A)),
            ["data/1.csv", "data/3.csv", "team-a/1.csv", "other", ""]
        );
        assert_eq!(
            classes.classes(SESSION_A, Some(ROLE_A)),
            vec![
                vec!["data/1.csv", "data/2.csv"],
                vec!["data/3.csv", "data/new"],
                vec!["team-a/1.csv", "team-a/x"],
                vec!["other"],
                vec![""]
            ]
        );
        // Statement A cannot apply to app or to anonymous callers: team-a/ is like any other
        // key for them.
        for (caller, principal) in [(SESSION_APP, Some(ROLE_APP)), ("*", None)] {
            assert_eq!(
                classes.representatives(caller, principal),
                ["data/1.csv", "data/3.csv", "team-a/1.csv", ""]
            );
        }
        let mut with_variable = world.clone();
        with_variable.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/${aws:username}/*"}]}));
        let classes = KeyClasses::new(&[&with_variable], &spec(), &keys, &[DIRECT.to_string()]);
        assert_eq!(classes.representatives(SESSION_APP, Some(ROLE_APP)), keys);
    }

    #[test]
    fn identity_policies_split_only_their_own_principal_keys() {
        let mut world = world();
        world.principals.push(
            serde_json::from_value(
                json!({"arn": ROLE_APP, "kind": "role", "inlinePolicies": [{"name": "p", "document":
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::bkt/reports/*"}]}}]}),
            )
            .unwrap(),
        );
        let keys = keys_of(&["other", "reports/x"]);
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &[DIRECT.to_string()]);
        assert_eq!(
            classes.representatives(SESSION_APP, Some(ROLE_APP)),
            ["other", "reports/x"]
        );
        assert_eq!(classes.representatives(SESSION_A, Some(ROLE_A)), ["other"]);
        // A statement that does not parse counts for every caller.
        world.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROLE_A}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::bkt/reports/*", "Condition": {"NoSuchOperator": {"k": "v"}}}]}));
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &[DIRECT.to_string()]);
        assert_eq!(classes.representatives("*", None), ["other", "reports/x"]);
    }

    #[test]
    fn keys_alike_only_as_written_are_told_apart() {
        // IAM User Guide, "IAM JSON policy elements: Condition operators": StringEqualsIgnoreCase
        // and StringLike-style matching without case; `LOGS/` matches the prefix `logs/`.
        let mut world = world();
        world.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt",
             "Condition": {"StringEqualsIgnoreCase": {"s3:prefix": "LOGS/"}}}]}));
        let keys = keys_of(&["logs/", "other/"]);
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &[DIRECT.to_string()]);
        assert_eq!(classes.representatives("*", None), ["logs/", "other/"]);
        // And they do decide apart.
        assert_ne!(anonymous_list(&world, "logs/"), anonymous_list(&world, "other/"));
    }

    #[test]
    fn a_literal_star_is_not_a_wildcard_for_string_equals() {
        // IAM User Guide, "IAM JSON policy elements: Condition operators": StringEquals is an
        // exact match; StringLike takes `*` and `?` as wildcards.
        let mut world = world();
        world.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt",
             "Condition": {"StringEquals": {"s3:prefix": "logs/*"}}}]}));
        let keys = keys_of(&["logs/*", "logs/x"]);
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &[DIRECT.to_string()]);
        assert_eq!(classes.representatives("*", None), ["logs/*", "logs/x"]);
        assert_ne!(anonymous_list(&world, "logs/*"), anonymous_list(&world, "logs/x"));
    }

    #[test]
    fn keys_are_matched_under_the_spec_partitions_arns() {
        // AWS General Reference, "Amazon Resource Names": the partition is part of every ARN, so
        // a China-region policy names `arn:aws-cn:s3:::…`.
        let mut world = world();
        world.buckets[0].region = "cn-north-1".into();
        world.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws-cn:s3:::bkt/team-a/*"}]}));
        let spec = Spec::parse(
            "principal = \"arn:aws-cn:iam::222222222222:role/app\"\nbucket = \"bkt\"\nkeys = [\"data/*\"]\naccess = [\"read\"]\n",
            "t.toml",
        )
        .unwrap();
        let keys = keys_of(&["other", "team-a/x"]);
        let classes = KeyClasses::new(&[&world], &spec, &keys, &[route_prefix(&spec, "bkt", None)]);
        assert_eq!(classes.representatives("*", None), ["other", "team-a/x"]);
    }

    #[test]
    fn a_spec_through_an_access_point_keeps_the_keys_its_bucket_side_tells_apart() {
        // S3 User Guide, "Configuring IAM policies for using access points": both the access
        // point and the underlying bucket must permit the request, and the bucket side is
        // matched on the bucket's object ARN. Only the bucket policy names `data/a.csv`.
        let mut world = world();
        world.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROLE_APP}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/data/a.csv"}]}));
        world.buckets[0].access_points.push(
            serde_json::from_value(json!({
                "name": "ap", "arn": "arn:aws:s3:us-east-1:111111111111:accesspoint/ap",
                "account": "111111111111", "bucketAccount": "111111111111", "networkOrigin": "Internet"
            }))
            .unwrap(),
        );
        let mut spec = spec();
        spec.access_point = Some("arn:aws:s3:us-east-1:111111111111:accesspoint/ap".into());
        let probes: Vec<super::super::build::ProbeRequest> = ["data/a.csv", "data/b.csv"]
            .iter()
            .map(|key| super::super::build::ProbeRequest {
                principal: SESSION_APP.into(),
                action: S3Action::Get,
                key: key.to_string(),
                context: Vec::new(),
            })
            .collect();
        let kept: Vec<&str> = representative_probes(&[&world], &spec, &probes)
            .into_iter()
            .map(|probe| probe.key.as_str())
            .collect();
        assert_eq!(kept, ["data/a.csv", "data/b.csv"]);
    }

    #[test]
    fn keys_an_access_point_policy_tells_apart_are_probed_apart() {
        // Only the access point's policy names `published/`: probed through the access point, a
        // key there and a key elsewhere decide differently, so both are kept (S3 User Guide,
        // "Configuring IAM policies for using access points": access point policies name
        // `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY`).
        let mut world = world();
        world.buckets[0].access_points.push(
            serde_json::from_value(json!({
                "name": "ap", "arn": "arn:aws:s3:us-east-1:111111111111:accesspoint/ap",
                "account": "111111111111", "bucketAccount": "111111111111", "networkOrigin": "Internet",
                "policy": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/a"},
                     "Action": "s3:GetObject",
                     "Resource": "arn:aws:s3:us-east-1:111111111111:accesspoint/ap/object/published/*"}]}
            }))
            .unwrap(),
        );
        let keys = keys_of(&["other", "published/x"]);
        let through = [
            DIRECT.to_string(),
            "arn:aws:s3:us-east-1:111111111111:accesspoint/ap/object/".to_string(),
        ];
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &through);
        assert_eq!(
            classes.representatives(SESSION_A, Some(ROLE_A)),
            ["other", "published/x"]
        );
        world.buckets[0].access_points.clear();
        let classes = KeyClasses::new(&[&world], &spec(), &keys, &through);
        assert_eq!(classes.representatives(SESSION_A, Some(ROLE_A)), ["other"]);
    }

    #[test]
    fn only_what_an_edit_may_reach_is_touched() {
        let before = world();
        let mut after = before.clone();
        let statement = json!({"Sid": "S3fixReadApp", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/app"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/data/*"});
        let mut document = before.buckets[0].policy.clone().unwrap();
        document["Statement"].as_array_mut().unwrap().push(statement);
        after.buckets[0].policy = Some(document.clone());
        let edits = vec![
            Edit {
                resource: ResourceRef::BucketPolicy { bucket: "bkt".into() },
                operation: super::super::Operation::Update,
                before: before.buckets[0].policy.clone(),
                after: document,
                security_sensitive: false,
                reason: String::new(),
                before_text: None,
                after_text: None,
            },
            Edit {
                resource: ResourceRef::OwnershipControls { bucket: "bkt".into() },
                operation: super::super::Operation::Update,
                before: None,
                after: json!("BucketOwnerEnforced"),
                security_sensitive: false,
                reason: String::new(),
                before_text: None,
                after_text: None,
            },
        ];
        let touched = Touched::new(&before, &after, &spec(), &edits);
        let bucket = &before.buckets[0];
        let app = "arn:aws:sts::222222222222:assumed-role/app/s";
        let other = "arn:aws:sts::444455556666:assumed-role/x/s";
        let app_arn = Some("arn:aws:iam::222222222222:role/app");
        assert!(touched.touches(app, app_arn, bucket, &spec(), S3Action::Get, "data/3.csv"));
        assert!(!touched.touches(other, None, bucket, &spec(), S3Action::Get, "data/3.csv"));
        // The switch reaches the foreign objects for anyone.
        assert!(touched.touches(other, None, bucket, &spec(), S3Action::Get, "data/1.csv"));
        assert!(!touched.touches(other, None, bucket, &spec(), S3Action::Get, "team-a/1.csv"));
        assert!(!touched.touches(app, app_arn, bucket, &spec(), S3Action::Put, "data/3.csv"));
        let unknown = [Edit {
            resource: ResourceRef::Principal {
                principal: "x".into(),
            },
            ..edits[0].clone()
        }];
        assert!(Touched::new(&before, &after, &spec(), &unknown).touches(
            other,
            None,
            bucket,
            &spec(),
            S3Action::Put,
            "team-a/1.csv"
        ));
    }
}

#[cfg(test)]
#[path = "neighbourhood_properties.rs"]
mod properties;
