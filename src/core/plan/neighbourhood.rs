//! Keeping the proof's probes affordable on a busy bucket without losing any: requests whose
//! evaluation no edit can touch are skipped (their decision cannot change), and keys that every
//! policy of the world treats alike are probed once.
//!
//! Both reductions are conservative: a request counts as touched when any changed element
//! might apply to it (principals and actions and resources matched, conditions ignored), and two
//! keys are alike only when every resource pattern and condition value of every policy matches
//! both or neither, their objects have the same owner, ACL and encryption, and no policy uses a
//! variable.

use super::Edit;
use super::apply::{ResourceRef, owner_grant};
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
                        let owner = object
                            .owner
                            .as_deref()
                            .or_else(|| object.acl.as_ref().map(|acl| acl.owner.as_str()));
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
        let resource = if action.is_object() {
            format!("arn:aws:s3:::{}/{key}", bucket.name)
        } else {
            format!("arn:aws:s3:::{}", bucket.name)
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

/// Every string a policy of the world matches against: resource patterns and condition values.
fn world_patterns(world: &World, into: &mut BTreeSet<String>) -> bool {
    let mut documents: Vec<&Value> = Vec::new();
    for bucket in &world.buckets {
        documents.extend(bucket.policy.as_ref());
        documents.extend(
            bucket
                .access_points
                .iter()
                .filter_map(|point| point.policy.as_ref()),
        );
    }
    documents.extend(
        world
            .vpc_endpoints
            .iter()
            .filter_map(|endpoint| endpoint.policy.as_ref()),
    );
    for principal in &world.principals {
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
    }
    for account in &world.accounts {
        documents.extend(account.scps.iter().flatten().map(|policy| &policy.document));
        documents.extend(account.rcps.iter().map(|policy| &policy.document));
    }
    for key in &world.keys {
        documents.extend(key.policy.as_ref());
    }
    let mut variables = false;
    for document in documents {
        for statement in statements(Some(document)) {
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
            for text in texts {
                variables |= text.contains("${");
                into.insert(text);
            }
        }
    }
    variables
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

/// One key of each class of keys that every policy of `worlds` treats alike (see the module
/// documentation), in the order given; with a policy variable anywhere, every key.
pub(super) fn representative_keys(worlds: &[&World], spec: &Spec, keys: &[String]) -> Vec<String> {
    let mut texts = BTreeSet::new();
    let mut variables = false;
    for world in worlds {
        variables |= world_patterns(world, &mut texts);
    }
    if variables {
        return keys.to_vec();
    }
    texts.extend(spec.keys.iter().cloned());
    let patterns: Vec<Pattern> = texts.iter().map(|text| Pattern::new(text)).collect();
    let bucket = worlds.first().and_then(|world| world.bucket(&spec.bucket));
    // A request through an access point is matched on the access point's object ARN too, so keys
    // an access point policy tells apart are not taken as alike.
    let mut point_arns: BTreeSet<String> = BTreeSet::new();
    for world in worlds {
        if let Some(found) = world.bucket(&spec.bucket) {
            point_arns.extend(found.access_points.iter().map(|point| point.arn.clone()));
        }
    }
    let mut classes: BTreeMap<(String, Vec<bool>), ()> = BTreeMap::new();
    let mut chosen = Vec::new();
    for key in keys {
        let arn = format!("arn:aws:s3:::{}/{key}", spec.bucket);
        let point_objects: Vec<String> = point_arns
            .iter()
            .map(|point| format!("{point}/object/{key}"))
            .collect();
        let bits: Vec<bool> = patterns
            .iter()
            .flat_map(|pattern| {
                [pattern.matches(key), pattern.matches(&arn)]
                    .into_iter()
                    .chain(point_objects.iter().map(|object| pattern.matches(object)))
            })
            .collect();
        // The object as evaluation sees it in every world (a missing object reads as one the
        // bucket owner owns, unencrypted, without an ACL); the empty key stands alone.
        let state: Vec<Value> = worlds
            .iter()
            .map(|world| {
                let found = world.bucket(&spec.bucket);
                let object = found.and_then(|bucket| bucket.objects.iter().find(|object| object.key == *key));
                let owner = object
                    .and_then(|object| {
                        object
                            .owner
                            .clone()
                            .or_else(|| object.acl.as_ref().map(|acl| acl.owner.clone()))
                    })
                    .or_else(|| found.map(|bucket| bucket.account.clone()));
                json!([
                    owner,
                    object.and_then(|object| object.acl.as_ref()),
                    object.and_then(|object| object.encryption.as_ref())
                ])
            })
            .collect();
        let state = if key.is_empty() || bucket.is_none() {
            format!("key:{key}")
        } else {
            Value::Array(state).to_string()
        };
        if classes.insert((state, bits), ()).is_none() {
            chosen.push(key.clone());
        }
    }
    chosen
}

/// The spec's own requests to evaluate: for each action, one per class of keys (the others
/// decide alike).
pub(super) fn representative_probes<'p>(
    worlds: &[&World],
    spec: &Spec,
    probes: &'p [super::build::ProbeRequest],
) -> Vec<&'p super::build::ProbeRequest> {
    let mut chosen = Vec::new();
    let mut actions: Vec<S3Action> = probes.iter().map(|probe| probe.action).collect();
    actions.dedup();
    for action in actions {
        let keys: Vec<String> = probes
            .iter()
            .filter(|probe| probe.action == action)
            .map(|probe| probe.key.clone())
            .collect();
        let kept: BTreeSet<String> = representative_keys(worlds, spec, &keys).into_iter().collect();
        chosen.extend(
            probes
                .iter()
                .filter(|probe| probe.action == action && kept.contains(&probe.key)),
        );
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

    #[test]
    fn keys_alike_for_every_policy_are_probed_once() {
        let world = world();
        let keys: Vec<String> = [
            "data/1.csv",
            "data/2.csv",
            "data/3.csv",
            "data/new",
            "team-a/1.csv",
            "team-a/x",
            "other",
            "",
        ]
        .iter()
        .map(|key| key.to_string())
        .collect();
        let chosen = representative_keys(&[&world], &spec(), &keys);
        // data/1 and data/2: same foreign owner; data/3 and data/new: owner-owned under data/;
        // team-a/1.csv and team-a/x alike; other; the empty key.
        assert_eq!(chosen, ["data/1.csv", "data/3.csv", "team-a/1.csv", "other", ""]);
        let mut with_variable = world.clone();
        with_variable.buckets[0].policy = Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/${aws:username}/*"}]}));
        assert_eq!(representative_keys(&[&with_variable], &spec(), &keys), keys);
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
        let keys: Vec<String> = ["other", "published/x"]
            .iter()
            .map(|key| key.to_string())
            .collect();
        assert_eq!(
            representative_keys(&[&world], &spec(), &keys),
            ["other", "published/x"]
        );
        world.buckets[0].access_points.clear();
        assert_eq!(representative_keys(&[&world], &spec(), &keys), ["other"]);
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
