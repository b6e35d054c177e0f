//! What switching a bucket to BucketOwnerEnforced changes, computed for every object the world
//! holds rather than sampled.
//!
//! "The permissions attached to the bucket apply to all of the objects in the bucket that are
//! owned by the bucket owner. These permissions don't apply to objects that are owned by other
//! AWS accounts" (S3 User Guide, "Bucket policies for Amazon S3"). BucketOwnerEnforced makes the
//! bucket owner own every object and disables ACLs (S3 User Guide, "Controlling ownership of
//! objects and disabling ACLs"), so:
//! - every bucket-policy Allow that covers an object another account owns starts to apply to it;
//! - every object-ACL grant stops applying.
//!
//! Both are listed grouped by statement and principal (or grantee and permission), with a count
//! and an example key. A gain by anyone but the spec's principal, or by the bucket owner's own
//! principals, needs `--allow-ownership-change`; so do owners that could not be read.

use crate::core::policy::principal::AwsPrincipal;
use crate::core::policy::{Effect, PolicyKind, Template, parse_policy};
use crate::core::spec::Spec;
use crate::core::world::{Bucket, Grantee, ItemKind, ObjectOwnership, World};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use super::apply::describe_grantee;

/// Object actions whose bucket-policy Allows S3 applies only to objects the bucket owner owns.
const OBJECT_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectTagging",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:DeleteObject",
    "s3:RestoreObject",
];

/// Who a gain goes to, which decides whether it needs `--allow-ownership-change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Beneficiary {
    /// Exactly the spec's principal: what the plan is for.
    SpecPrincipal,
    /// Principals of the bucket's own account: the owner now owns its objects.
    BucketOwner,
    /// Anyone else: another account, an organization, the public.
    Other,
}

/// One bucket-policy Allow that starts to apply to objects the bucket owner did not own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gain {
    /// The statement's index in the bucket policy.
    pub statement: usize,
    /// Its Sid.
    pub sid: Option<String>,
    /// The principals it reaches, as people read them (`account 444455556666`, `*` with
    /// `StringEquals aws:PrincipalOrgID o-1`).
    pub principal: String,
    /// The statement's object actions and resources, as written.
    pub grants: String,
    /// Who gains.
    pub beneficiary: Beneficiary,
    /// How many objects.
    pub count: usize,
    /// The first such object.
    pub example: String,
    /// The accounts that owned them.
    pub owners: BTreeSet<String>,
}

/// One object-ACL grant that stops applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclLoss {
    /// The grantee, as people read it.
    pub grantee: String,
    /// The permission.
    pub permission: String,
    /// How many objects.
    pub count: usize,
    /// The first such object.
    pub example: String,
}

/// Everything BucketOwnerEnforced changes on one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnershipChange {
    /// Bucket-policy Allows that start to apply to objects, by statement and principal.
    pub gains: Vec<Gain>,
    /// Object-ACL grants that stop applying, by grantee and permission.
    pub losses: Vec<AclLoss>,
    /// Objects another account owned.
    pub foreign_objects: usize,
    /// Why the owners of some objects are not known (listing or reading them was denied, or the
    /// bucket holds more objects than were read); `None` when every owner is known.
    pub owners_unknown: Option<String>,
}

impl OwnershipChange {
    /// The gains by anyone but the spec's principal and the bucket owner's own principals.
    pub fn widenings(&self) -> impl Iterator<Item = &Gain> {
        self.gains
            .iter()
            .filter(|gain| gain.beneficiary == Beneficiary::Other)
    }

    /// Whether the switch needs `--allow-ownership-change`: someone else gains, or the owners are
    /// not known so the gains cannot be listed.
    pub fn needs_permission(&self) -> bool {
        self.widenings().next().is_some() || self.owners_unknown.is_some()
    }

    /// One line per gain and loss, and for the owners' unknowns.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.gains.iter().map(describe_gain).collect();
        for loss in &self.losses {
            lines.push(format!(
                "object-ACL grant {} to {} stops applying on {} object{}, e.g. {}",
                loss.permission,
                loss.grantee,
                loss.count,
                plural(loss.count),
                loss.example
            ));
        }
        if let Some(reason) = &self.owners_unknown {
            lines.push(format!(
                "the owners of some objects are unknown ({reason}): what the switch grants cannot be listed"
            ));
        }
        lines
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// One gain as people read it.
pub fn describe_gain(gain: &Gain) -> String {
    let name = match &gain.sid {
        Some(sid) => format!("statement `{sid}`"),
        None => format!("statement {}", gain.statement),
    };
    let owners: Vec<&str> = gain.owners.iter().map(String::as_str).collect();
    format!(
        "{name} ({}, {}) now also applies to {} object{} uploaded by {}, e.g. {}",
        gain.principal,
        gain.grants,
        gain.count,
        plural(gain.count),
        owners.join(", "),
        gain.example
    )
}

fn as_strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_string))
            .collect(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(other) => vec![other.to_string()],
        None => Vec::new(),
    }
}

/// The statement's principals, conditions included, as people read them.
fn describe_principal(statement: &Value) -> String {
    let (element, negated) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(principal), _) => (principal, false),
        (None, Some(principal)) => (principal, true),
        (None, None) => return "no principal".into(),
    };
    let mut parts = Vec::new();
    match element {
        Value::String(text) if text == "*" => parts.push("`*` (anyone)".to_string()),
        Value::Object(map) => {
            for (kind, values) in map {
                for value in as_strings(Some(values)) {
                    let text = if value == "*" {
                        "`*` (anyone)".to_string()
                    } else {
                        match AwsPrincipal::parse(&value) {
                            Ok(AwsPrincipal::Account(account)) if kind == "AWS" => {
                                format!("account {account}")
                            }
                            _ => format!("{kind} `{value}`"),
                        }
                    };
                    parts.push(text);
                }
            }
        }
        other => parts.push(other.to_string()),
    }
    let mut text = parts.join(", ");
    if negated {
        text = format!("everyone but {text}");
    }
    if let Some(Value::Object(operators)) = statement.get("Condition") {
        let mut conditions = Vec::new();
        for (operator, keys) in operators {
            if let Value::Object(keys) = keys {
                for (key, values) in keys {
                    conditions.push(format!("{operator} {key} {}", as_strings(Some(values)).join("|")));
                }
            }
        }
        if !conditions.is_empty() {
            text = format!("{text} with {}", conditions.join(" and "));
        }
    }
    text
}

/// Who a statement's principals are, relative to the spec and the bucket owner.
fn beneficiary(
    policy_statement: &crate::core::policy::Statement,
    spec: &Spec,
    bucket: &Bucket,
) -> Beneficiary {
    let Some(block) = &policy_statement.principal else {
        return Beneficiary::Other;
    };
    if block.negated
        || block.any
        || !block.services.is_empty()
        || !block.federated.is_empty()
        || !block.canonical_users.is_empty()
        || block.aws.is_empty()
    {
        return Beneficiary::Other;
    }
    let spec_only = block.aws.iter().all(|principal| match principal {
        AwsPrincipal::Role(arn) | AwsPrincipal::User(arn) => *arn == spec.principal,
        _ => false,
    });
    if spec_only {
        return Beneficiary::SpecPrincipal;
    }
    let own = block.aws.iter().all(|principal| match principal {
        AwsPrincipal::Account(account) => *account == bucket.account,
        AwsPrincipal::Role(arn) | AwsPrincipal::User(arn) | AwsPrincipal::Session(arn) => {
            crate::core::arn::account_of(arn).is_some_and(|account| account.as_str() == bucket.account)
        }
        _ => false,
    });
    if own {
        Beneficiary::BucketOwner
    } else {
        Beneficiary::Other
    }
}

/// Whether a compiled statement's resources cover an ARN (a pattern with policy variables is
/// taken to cover it: it may, for some request).
fn covers(statement: &crate::core::policy::Statement, arn: &str) -> bool {
    let Some(block) = &statement.resources else {
        return true;
    };
    let any = block.patterns.iter().any(|pattern| match pattern {
        Template::Fixed(pattern) => pattern.matches(arn),
        Template::Variable(_) => true,
    });
    // NotResource with a variable: it may exclude the ARN, or not; taken as covering.
    if block.negated {
        !block
            .patterns
            .iter()
            .any(|pattern| matches!(pattern, Template::Fixed(fixed) if fixed.matches(arn)))
    } else {
        any
    }
}

/// What switching `spec`'s bucket to BucketOwnerEnforced changes in `world`.
pub fn ownership_change(world: &World, spec: &Spec) -> OwnershipChange {
    let mut change = OwnershipChange::default();
    let Some(bucket) = world.bucket(&spec.bucket) else {
        return change;
    };
    if bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced) {
        return change;
    }
    change.owners_unknown = owners_unknown(world, bucket);
    let foreign: Vec<(&str, &str)> = bucket
        .objects
        .iter()
        .filter_map(|object| {
            let owner = object.owner_account()?;
            (owner != bucket.account).then_some((object.key.as_str(), owner))
        })
        .collect();
    change.foreign_objects = foreign.len();

    // Bucket-policy Allows that start to apply.
    let raw_statements: Vec<Value> = match bucket.policy.as_ref().and_then(|policy| policy.get("Statement")) {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    };
    let compiled = bucket
        .policy
        .as_ref()
        .and_then(|document| parse_policy(document, PolicyKind::Resource).ok());
    if let Some(policy) = &compiled {
        for statement in policy.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let actions: Vec<&str> = OBJECT_ACTIONS
                .iter()
                .copied()
                .filter(|action| statement.actions.matches(&action.to_ascii_lowercase()))
                .collect();
            if actions.is_empty() {
                continue;
            }
            let raw = raw_statements
                .get(statement.index)
                .cloned()
                .unwrap_or(Value::Null);
            let mut gain: Option<Gain> = None;
            for (key, owner) in &foreign {
                let arn = crate::core::arn::Arn::s3_object(&spec.partition(), &bucket.name, key).to_string();
                if !covers(statement, &arn) {
                    continue;
                }
                let entry = gain.get_or_insert_with(|| Gain {
                    statement: statement.index,
                    sid: statement.sid.clone(),
                    principal: describe_principal(&raw),
                    grants: describe_grants(&raw, &bucket.name),
                    beneficiary: beneficiary(statement, spec, bucket),
                    count: 0,
                    example: (*key).to_string(),
                    owners: BTreeSet::new(),
                });
                entry.count += 1;
                entry.owners.insert((*owner).to_string());
            }
            change.gains.extend(gain);
        }
    }

    // Object-ACL grants that stop applying (the bucket owner's own grants are moot: it owns the
    // objects now).
    let mut losses: BTreeMap<(String, String), AclLoss> = BTreeMap::new();
    for object in &bucket.objects {
        let Some(acl) = &object.acl else { continue };
        for grant in &acl.grants {
            if matches!(&grant.grantee, Grantee::CanonicalUser { account: Some(account), .. } if *account == bucket.account)
            {
                continue;
            }
            let grantee = describe_grantee(&grant.grantee);
            let entry = losses
                .entry((grantee.clone(), grant.permission.clone()))
                .or_insert_with(|| AclLoss {
                    grantee,
                    permission: grant.permission.clone(),
                    count: 0,
                    example: object.key.clone(),
                });
            entry.count += 1;
        }
    }
    change.losses = losses.into_values().collect();
    change
}

/// The statement's actions and object resources, as written: `s3:GetObject on shared/*`.
fn describe_grants(statement: &Value, bucket: &str) -> String {
    let action_word = if statement.get("NotAction").is_some() {
        "every action but "
    } else {
        ""
    };
    let actions = as_strings(statement.get("Action").or_else(|| statement.get("NotAction")));
    let resource_word = if statement.get("NotResource").is_some() {
        "everything but "
    } else {
        ""
    };
    let prefix = format!("arn:aws:s3:::{bucket}/");
    let resources: Vec<String> =
        as_strings(statement.get("Resource").or_else(|| statement.get("NotResource")))
            .into_iter()
            .map(|resource| {
                resource
                    .strip_prefix(&prefix)
                    .map_or(resource.clone(), str::to_string)
            })
            .collect();
    format!(
        "{action_word}{} on {resource_word}{}",
        actions.join(", "),
        resources.join(", ")
    )
}

/// Why some objects' owners are not known, if they are not.
fn owners_unknown(world: &World, bucket: &Bucket) -> Option<String> {
    let prefix = format!("{}/", bucket.name);
    world
        .unknown
        .iter()
        .find(|unknown| match unknown.item {
            ItemKind::ObjectListing | ItemKind::OwnershipControls => unknown.resource == bucket.name,
            ItemKind::Object | ItemKind::ObjectAcl => unknown.resource.starts_with(&prefix),
            _ => false,
        })
        .map(|unknown| format!("{:?} of `{}`: {}", unknown.item, unknown.resource, unknown.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn world(policy: Value) -> World {
        serde_json::from_value(json!({
            "formatVersion": 1,
            "buckets": [{
                "name": "bkt", "account": "111111111111", "region": "us-east-1",
                "ownership": "ObjectWriter",
                "policy": policy,
                "objects": [
                    {"key": "shared/vendor-upload.csv", "owner": "777788889999",
                     "acl": {"owner": "777788889999", "grants": [
                        {"grantee": {"type": "CanonicalUser", "id": "c7", "account": "777788889999"}, "permission": "FULL_CONTROL"}]}},
                    {"key": "shared/second.csv", "owner": "777788889999"},
                    {"key": "data/report.csv", "owner": "777788889999"},
                    {"key": "data/own.csv", "owner": "111111111111"}
                ]
            }],
            "principals": [{"arn": "arn:aws:iam::222222222222:role/app", "kind": "role"}]
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
    fn a_named_account_gains_the_foreign_objects_its_statement_covers() {
        let change = ownership_change(
            &world(json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": "444455556666"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/shared/*"}]})),
            &spec(),
        );
        assert_eq!(change.foreign_objects, 3);
        assert_eq!(change.gains.len(), 1);
        let gain = &change.gains[0];
        assert_eq!(gain.count, 2);
        assert_eq!(gain.beneficiary, Beneficiary::Other);
        assert_eq!(gain.example, "shared/vendor-upload.csv");
        assert!(change.needs_permission());
        let text = change.describe().join("\n");
        assert!(
            text.contains("statement `PartnerRead` (account 444455556666, s3:GetObject on shared/*) now also applies to 2 objects uploaded by 777788889999, e.g. shared/vendor-upload.csv"),
            "{text}"
        );
        assert!(
            text.contains("object-ACL grant FULL_CONTROL to account 777788889999 stops applying on 1 object"),
            "{text}"
        );
    }

    #[test]
    fn org_wide_and_public_statements_are_widenings_with_their_conditions() {
        let change = ownership_change(
            &world(json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::bkt/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}},
                {"Sid": "Public", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:Get*",
                 "Resource": "arn:aws:s3:::bkt/shared/*"}]})),
            &spec(),
        );
        assert_eq!(change.gains.len(), 2);
        assert!(
            change
                .gains
                .iter()
                .all(|gain| gain.beneficiary == Beneficiary::Other)
        );
        let text = change.describe().join("\n");
        assert!(
            text.contains("`*` (anyone) with StringEquals aws:PrincipalOrgID o-abc"),
            "{text}"
        );
        assert!(text.contains("3 objects"), "{text}");
    }

    #[test]
    fn the_spec_principal_and_the_owner_gaining_need_no_permission() {
        let change = ownership_change(
            &world(json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "App", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/app"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/data/*"},
                {"Sid": "Own", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                 "Action": "s3:*", "Resource": "arn:aws:s3:::bkt/*"},
                {"Sid": "Lists", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                 "Resource": "arn:aws:s3:::bkt"}]})),
            &spec(),
        );
        let kinds: Vec<Beneficiary> = change.gains.iter().map(|gain| gain.beneficiary).collect();
        assert_eq!(kinds, [Beneficiary::SpecPrincipal, Beneficiary::BucketOwner]);
        assert!(!change.needs_permission());
    }

    #[test]
    fn unknown_owners_need_permission_and_an_enforced_bucket_changes_nothing() {
        let mut unknown = world(json!({"Version": "2012-10-17", "Statement": []}));
        unknown.unknown.push(crate::core::world::UnknownItem {
            item: ItemKind::ObjectListing,
            resource: "bkt".into(),
            reason: "the bucket holds more than 10000 objects".into(),
        });
        let change = ownership_change(&unknown, &spec());
        assert!(change.needs_permission());
        assert!(change.describe().join("\n").contains("more than 10000"));
        let mut enforced = world(json!({"Version": "2012-10-17", "Statement": []}));
        if let Some(bucket) = enforced.buckets.first_mut() {
            bucket.ownership = Some(ObjectOwnership::BucketOwnerEnforced);
        }
        assert_eq!(ownership_change(&enforced, &spec()), OwnershipChange::default());
    }
}
