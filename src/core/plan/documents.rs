//! The documents the planner writes: statements built from needs, merged into existing
//! documents by Sid so every other statement stays exactly as it was.

use super::apply::{ResourceRef, owner_grant};
use super::build::Needs;
use super::ownership::ownership_change;
use super::point::{
    Resources, access_point_edit, delegation_statements, exact_principal_grant, grant_body_on,
};
use super::{Blocker, Edit, Operation, PlanError, owned_policy_name};
use crate::core::arn::{AccountId, Arn, partition_of_region, service_host};
use crate::core::eval::StatementRef;
use crate::core::s3::Gate;
use crate::core::s3::public::{ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY};
use crate::core::spec::{Access, Spec};
use crate::core::world::{Acl, Grant, Grantee, ObjectOwnership, PrincipalKind, World};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A Sid-safe form of a principal's name (IAM Sids are alphanumeric).
pub(super) fn sid_name(principal_arn: &str) -> String {
    let name = principal_arn.rsplit('/').next().unwrap_or_default();
    let mut sid = String::new();
    let mut upper = true;
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            sid.push(if upper {
                character.to_ascii_uppercase()
            } else {
                character
            });
            upper = false;
        } else {
            upper = true;
        }
    }
    sid
}

pub(super) fn access_word(access: Access) -> &'static str {
    match access {
        Access::Read => "Read",
        Access::List => "List",
        Access::Write => "Write",
    }
}

/// The statement body (no Sid, no Principal) granting one access on the spec's keys.
pub(super) fn grant_body(spec: &Spec, access: Access) -> Map<String, Value> {
    grant_body_on(spec, access, &Resources::direct(spec))
}

/// Merge a new statement into a statement list by Sid: an existing statement with the Sid is
/// extended (its Resource values and `s3:prefix` values united), otherwise the statement is
/// appended. Every other statement is kept exactly as it was.
pub(super) fn upsert(statements: &mut Vec<Value>, statement: Value) {
    // A statement with the same Sid but another condition (an operator pinned it, e.g. to a
    // network) is left alone: the grant goes into a statement of its own, `Sid2`, `Sid3`, ….
    let mut statement = statement;
    if let Some(Value::String(base)) = statement.get("Sid").cloned() {
        let mut number = 1;
        loop {
            let sid = if number == 1 {
                base.clone()
            } else {
                format!("{base}{number}")
            };
            let clash = statements
                .iter()
                .find(|item| item.get("Sid").and_then(Value::as_str) == Some(sid.as_str()));
            match clash {
                Some(existing) if existing.get("Condition") != statement.get("Condition") => number += 1,
                _ => {
                    if let Some(object) = statement.as_object_mut() {
                        object.insert("Sid".into(), Value::String(sid));
                    }
                    break;
                }
            }
        }
    }
    let statement = statement;
    let sid = statement.get("Sid").cloned();
    let Some(existing) = statements
        .iter_mut()
        .find(|item| item.get("Sid") == sid.as_ref() && sid.is_some())
    else {
        statements.push(statement);
        return;
    };
    // The existing statement is the base: its conditions and every other element stay (an
    // operator may have pinned it, e.g. to a network); only the listed values are united.
    let mut merged = existing.clone();
    for path in [
        &["Resource"][..],
        &["Condition", "StringLike", "s3:prefix"][..],
        &["Condition", "StringLike", "kms:EncryptionContext:aws:s3:arn"][..],
        &["Action"][..],
    ] {
        let old = path.iter().try_fold(&*existing, |value, key| value.get(key));
        let new = path.iter().try_fold(&statement, |value, key| value.get(key));
        if let (Some(old), Some(new)) = (old, new) {
            let mut union: Vec<Value> = as_list(old);
            for item in as_list(new) {
                if !union.contains(&item) {
                    union.push(item);
                }
            }
            let target = path
                .iter()
                .try_fold(&mut merged, |value, key| value.get_mut(*key));
            if let Some(target) = target {
                *target = if union.len() == 1 {
                    union.remove(0)
                } else {
                    Value::Array(union)
                };
            }
        }
    }
    *existing = merged;
}

/// The `kms:EncryptionContext:aws:s3:arn` values S3 sends for the spec's objects: their object
/// ARNs, or the bucket ARN where an S3 Bucket Key is used (the context is then the bucket).
pub(super) fn encryption_context(spec: &Spec, bucket: &crate::core::world::Bucket) -> Vec<String> {
    let covered = |key: &str| {
        spec.keys.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == pattern,
        })
    };
    let bucket_key = bucket
        .default_encryption
        .as_ref()
        .is_some_and(|encryption| encryption.bucket_key_enabled)
        || bucket
            .objects
            .iter()
            .filter(|object| covered(&object.key))
            .any(|object| {
                object
                    .encryption
                    .as_ref()
                    .is_some_and(|encryption| encryption.bucket_key_enabled)
            });
    if bucket_key {
        vec![Arn::s3_bucket(partition_of_region(&bucket.region), &bucket.name).to_string()]
    } else {
        spec.object_arns()
    }
}

pub(super) fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    }
}

/// A policy document's statements as a list, and the document with `Statement` as an array.
pub(super) fn statements_of(document: Option<&Value>) -> (Value, Vec<Value>) {
    let document = document
        .cloned()
        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    (document, statements)
}

pub(super) fn with_statements(mut document: Value, statements: Vec<Value>) -> Value {
    if let Some(object) = document.as_object_mut() {
        object.insert("Statement".into(), Value::Array(statements));
    }
    document
}

pub(super) fn edit(
    world: &World,
    resource: ResourceRef,
    after: Value,
    security_sensitive: bool,
    reason: String,
) -> Result<Option<Edit>, PlanError> {
    let before = super::apply::current_value(world, &resource)?;
    if before.as_ref() == Some(&after) {
        return Ok(None);
    }
    let operation = if before.is_some() {
        Operation::Update
    } else {
        Operation::Create
    };
    Ok(Some(Edit {
        resource,
        operation,
        before,
        after,
        security_sensitive,
        reason,
        // Filled in by `plan` once every edit of the plan is known.
        before_text: None,
        after_text: None,
    }))
}

/// The Denies that keep an exemption to exactly the spec: the exempted principal stays denied,
/// under the original Deny's condition, on every resource outside the spec (`NotResource`), for
/// every action outside the spec (`NotAction`), outside the spec's context, and, for a spec
/// through an access point, by any other route.
fn exception_scope(
    deny: &Value,
    spec: &Spec,
    index: usize,
    name: &str,
    access_point: Option<&str>,
) -> Vec<Value> {
    let mut scope = Vec::new();
    let mut resources = spec.object_arns();
    if spec.access_set().contains(&Access::List) {
        resources.push(spec.bucket_arn());
    }
    let actions: Vec<&str> = spec.access_set().iter().map(|access| access.action()).collect();
    let base = |sid: String| principal_deny(spec, &sid);
    let condition = deny.get("Condition").cloned();
    let mut outside_resources = base(format!("S3fixDeny{index}OutsideSpecResources{name}"));
    for element in ["Action", "NotAction"] {
        if let Some(value) = deny.get(element) {
            outside_resources.insert(element.into(), value.clone());
        }
    }
    outside_resources.insert("NotResource".into(), json!(resources));
    let mut outside_actions = base(format!("S3fixDeny{index}OutsideSpecActions{name}"));
    let mut not_actions: Vec<Value> = deny.get("NotAction").map(as_list).unwrap_or_default();
    not_actions.extend(actions.iter().map(|action| json!(action)));
    outside_actions.insert("NotAction".into(), Value::Array(not_actions));
    for element in ["Resource", "NotResource"] {
        if let Some(value) = deny.get(element) {
            outside_actions.insert(element.into(), value.clone());
        }
    }
    for statement in [&mut outside_resources, &mut outside_actions] {
        if let Some(condition) = &condition {
            statement.insert("Condition".into(), condition.clone());
        }
    }
    scope.push(Value::Object(outside_resources));
    scope.push(Value::Object(outside_actions));
    // Listing is exempted only under the spec's prefixes.
    if spec.access_set().contains(&Access::List) {
        let mut outside_prefixes = base(format!("S3fixDeny{index}OutsideSpecPrefixes{name}"));
        outside_prefixes.insert("Action".into(), json!("s3:ListBucket"));
        outside_prefixes.insert("Resource".into(), json!(format!("arn:aws:s3:::{}", spec.bucket)));
        let mut narrowed = condition.clone().unwrap_or_else(|| json!({}));
        for prefix in spec.list_prefixes() {
            add_condition(&mut narrowed, "StringNotLike", "s3:prefix", &prefix);
        }
        outside_prefixes.insert("Condition".into(), narrowed);
        scope.push(Value::Object(outside_prefixes));
    }
    // The exemption holds only in the spec's context: the principal stays denied, under the
    // original condition, whenever a context key the spec names has another value.
    scope.extend(context_scope(
        deny,
        spec,
        &format!("S3fixDeny{index}OutsideSpecContext{name}"),
    ));
    // And, for a spec through an access point, only through it: a direct request (no
    // s3:DataAccessPointArn, so the negated operator matches) or one through another access
    // point stays denied.
    if let Some(access_point) = access_point {
        scope.push(scoped_deny(
            deny,
            spec,
            &format!("S3fixDeny{index}OutsideAccessPoint{name}"),
            (
                "StringNotEquals",
                crate::core::s3::access_point::DATA_ACCESS_POINT_ARN,
                access_point,
            ),
        ));
    }
    scope
}

/// The KMS actions S3 needs for a spec's access (reads decrypt, writes generate data keys).
pub(super) fn kms_actions(spec: &Spec) -> Vec<&'static str> {
    let access = spec.access_set();
    let mut actions = Vec::new();
    if access.contains(&Access::Read) {
        actions.push("kms:Decrypt");
    }
    if access.contains(&Access::Write) {
        actions.push("kms:GenerateDataKey");
    }
    actions
}

/// The Denies that keep a key-policy exemption to exactly the spec: the exempted principal stays
/// denied, under the original Deny's condition, for every other KMS action, for any use not
/// through S3 in the bucket's region, and outside the spec's context.
fn key_exception_scope(deny: &Value, spec: &Spec, index: usize, name: &str, region: &str) -> Vec<Value> {
    let base = |sid: String| principal_deny(spec, &sid);
    let condition = deny.get("Condition").cloned().unwrap_or_else(|| json!({}));
    let mut outside_actions = base(format!("S3fixKeyDeny{index}OutsideSpecActions{name}"));
    let mut not_actions: Vec<Value> = deny.get("NotAction").map(as_list).unwrap_or_default();
    not_actions.extend(kms_actions(spec).iter().map(|action| json!(action)));
    outside_actions.insert("NotAction".into(), Value::Array(not_actions));
    let mut outside_s3 = base(format!("S3fixKeyDeny{index}OutsideS3{name}"));
    for element in ["Action", "NotAction"] {
        if let Some(value) = deny.get(element) {
            outside_s3.insert(element.into(), value.clone());
        }
    }
    let mut via_other = condition.clone();
    add_condition(
        &mut via_other,
        "StringNotEquals",
        "kms:ViaService",
        &format!("s3.{region}.amazonaws.com"),
    );
    outside_s3.insert("Condition".into(), via_other);
    for statement in [&mut outside_actions, &mut outside_s3] {
        for element in ["Resource", "NotResource"] {
            if let Some(value) = deny.get(element) {
                statement.insert(element.into(), value.clone());
            }
        }
    }
    if let Some(Value::Object(_)) = deny.get("Condition") {
        outside_actions.insert("Condition".into(), condition.clone());
    }
    let mut scope = vec![Value::Object(outside_actions), Value::Object(outside_s3)];
    scope.extend(context_scope(
        deny,
        spec,
        &format!("S3fixKeyDeny{index}OutsideSpecContext{name}"),
    ));
    scope
}

/// The start of a Deny for exactly the spec's principal.
fn principal_deny(spec: &Spec, sid: &str) -> Map<String, Value> {
    let mut statement = Map::new();
    statement.insert("Sid".into(), json!(sid));
    statement.insert("Effect".into(), json!("Deny"));
    statement.insert("Principal".into(), json!({"AWS": spec.principal}));
    statement
}

/// One Deny per context key the spec names (`aws:PrincipalArn` aside), Sids `{sid}1`, `{sid}2`,
/// …: the spec's principal stays denied, under `deny`'s own scope and condition, whenever that
/// key has another value than the spec's.
fn context_scope(deny: &Value, spec: &Spec, sid: &str) -> Vec<Value> {
    let mut scope = Vec::new();
    for (number, (key, value)) in spec
        .context
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case("aws:PrincipalArn"))
        .enumerate()
    {
        scope.push(scoped_deny(
            deny,
            spec,
            &format!("{sid}{}", number + 1),
            (&not_equal_operator(key), key, &context_value(key, value)),
        ));
    }
    scope
}

/// A Deny for exactly the spec's principal with `deny`'s actions, resources and condition, and
/// one more condition `(operator, key, value)`.
fn scoped_deny(deny: &Value, spec: &Spec, sid: &str, (operator, key, value): (&str, &str, &str)) -> Value {
    let mut statement = principal_deny(spec, sid);
    for element in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(value) = deny.get(element) {
            statement.insert(element.into(), value.clone());
        }
    }
    let mut condition = deny.get("Condition").cloned().unwrap_or_else(|| json!({}));
    add_condition(&mut condition, operator, key, value);
    statement.insert("Condition".into(), condition);
    Value::Object(statement)
}

/// The negated operator that holds when a context key differs from the spec's value.
fn not_equal_operator(key: &str) -> String {
    if ["aws:sourceip", "aws:vpcsourceip"].contains(&key.to_ascii_lowercase().as_str()) {
        "NotIpAddress".into()
    } else {
        "StringNotEquals".into()
    }
}

/// The spec's value as the operator takes it: an address as a single-host CIDR.
fn context_value(key: &str, value: &str) -> String {
    if not_equal_operator(key) == "NotIpAddress" && !value.contains('/') {
        let bits = if value.contains(':') { 128 } else { 32 };
        format!("{value}/{bits}")
    } else {
        value.to_string()
    }
}

/// Add `operator: {key: value}` to a condition block. Where the operator already names the key
/// its values are extended: for a negated operator (the only kind added here) several values
/// must all differ, which is exactly the conjunction wanted.
fn add_condition(condition: &mut Value, operator: &str, key: &str, value: &str) {
    let Some(operators) = condition.as_object_mut() else {
        return;
    };
    let entry = operators.entry(operator).or_insert_with(|| json!({}));
    let Some(keys) = entry.as_object_mut() else {
        return;
    };
    let existing = keys
        .keys()
        .find(|existing| existing.eq_ignore_ascii_case(key))
        .cloned()
        .unwrap_or_else(|| key.to_string());
    let mut values = keys.get(&existing).map(as_list).unwrap_or_default();
    if !values.contains(&json!(value)) {
        values.push(json!(value));
    }
    keys.insert(
        existing,
        if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        },
    );
}

/// Exempt exactly the principal from a Deny: `ArnNotEquals aws:PrincipalArn` joins its condition.
pub(super) fn exempt(statement: &mut Value, principal_arn: &str) {
    let Some(object) = statement.as_object_mut() else {
        return;
    };
    let condition = object.entry("Condition").or_insert_with(|| json!({}));
    add_condition(condition, "ArnNotEquals", "aws:PrincipalArn", principal_arn);
}

pub(super) fn edits_for(
    world: &World,
    spec: &Spec,
    bucket: &crate::core::world::Bucket,
    kind: PrincipalKind,
    needs: &Needs,
    warnings: &mut Vec<String>,
) -> Result<Vec<Edit>, PlanError> {
    let mut edits = Vec::new();
    let name = sid_name(&spec.principal);

    // 1. The caller's identity policy: one s3fix-owned inline policy per bucket.
    if !needs.identity.is_empty() || !needs.identity_kms.is_empty() {
        let resource = ResourceRef::InlinePolicy {
            principal: spec.principal.clone(),
            name: owned_policy_name(&spec.bucket),
        };
        let current = super::apply::current_value(world, &resource)?;
        let (document, mut statements) = statements_of(current.as_ref());
        let identity_resources = Resources::for_identity(world, spec);
        for access in &needs.identity {
            let mut statement = Map::new();
            statement.insert("Sid".into(), json!(format!("S3fix{}", access_word(*access))));
            statement.extend(grant_body_on(spec, *access, &identity_resources));
            upsert(&mut statements, Value::Object(statement));
        }
        let mut by_action: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (key, action) in &needs.identity_kms {
            by_action.entry(action).or_default().push(key.clone());
        }
        for (action, keys) in by_action {
            let sid = if action == "kms:Decrypt" {
                "S3fixKmsDecrypt"
            } else {
                "S3fixKmsGenerateDataKey"
            };
            // Through S3 only, and only for the spec's objects (the encryption context).
            upsert(
                &mut statements,
                json!({"Sid": sid, "Effect": "Allow", "Action": action, "Resource": keys, "Condition": {
                    "StringEquals": {"kms:ViaService": service_host("s3", &bucket.region)},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": encryption_context(spec, bucket)},
                }}),
            );
        }
        let mut what: Vec<&str> = needs.identity.iter().map(|access| access.action()).collect();
        let kms_actions: BTreeSet<&str> = needs.identity_kms.iter().map(|(_, action)| *action).collect();
        what.extend(kms_actions);
        let reason = format!("the caller's identity policies do not allow {}", what.join(", "));
        let _ = kind;
        edits.extend(edit(
            world,
            resource,
            with_statements(document, statements),
            false,
            reason,
        )?);
    }

    // 2. KMS key policies: allow the principal through S3 only, from its own account.
    let mut key_needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (key, action) in &needs.key_grants {
        key_needs.entry(key.as_str()).or_default().insert(action);
    }
    let mut key_exceptions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (resource, index) in &needs.deny_exceptions {
        if let ResourceRef::KeyPolicy { key } = resource {
            key_exceptions.entry(key.clone()).or_default().push(*index);
        }
    }
    let keys: BTreeSet<String> = key_needs
        .keys()
        .map(|key| key.to_string())
        .chain(key_exceptions.keys().cloned())
        .collect();
    for key in keys {
        let resource = ResourceRef::KeyPolicy { key: key.clone() };
        let current = super::apply::current_value(world, &resource)?;
        let (document, mut statements) = statements_of(current.as_ref());
        for action in key_needs.get(key.as_str()).into_iter().flatten() {
            let word = if *action == "kms:Decrypt" {
                "Decrypt"
            } else {
                "GenerateDataKey"
            };
            upsert(
                &mut statements,
                json!({
                    "Sid": format!("S3fix{word}ViaS3{name}"),
                    "Effect": "Allow",
                    "Principal": {"AWS": spec.principal},
                    "Action": action,
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": service_host("s3", &bucket.region),
                            "kms:CallerAccount": spec.principal_account(),
                        },
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": encryption_context(spec, bucket)},
                    },
                }),
            );
        }
        let sensitive = key_exceptions.contains_key(&key);
        let mut companions = Vec::new();
        for index in key_exceptions.get(&key).into_iter().flatten() {
            if let Some(statement) = statements.get_mut(*index) {
                companions.extend(key_exception_scope(
                    statement,
                    spec,
                    *index,
                    &name,
                    &bucket.region,
                ));
                exempt(statement, &spec.principal);
            }
        }
        for companion in companions {
            upsert(&mut statements, companion);
        }
        let reason = if sensitive {
            "a key-policy Deny is narrowed to exempt exactly this principal (--allow-deny-exception)"
                .to_string()
        } else {
            "the key policy does not allow the principal to use the key through S3".to_string()
        };
        edits.extend(edit(
            world,
            resource,
            with_statements(document, statements),
            sensitive,
            reason,
        )?);
    }

    // 3 and 4. Ownership (after moving bucket-ACL grants into the bucket policy), then the bucket
    // policy: grants, migrated ACL grants, and Deny exceptions.
    let bucket_resource = ResourceRef::BucketPolicy {
        bucket: spec.bucket.clone(),
    };
    let (document, mut statements) = statements_of(bucket.policy.as_ref());
    let mut bucket_reasons = Vec::new();
    let mut ownership_edit = None;
    let mut acl_reset = None;
    if needs.ownership {
        if let Some((reason, statement)) = acl_dependent_policy(bucket) {
            return Err(PlanError::Blocked(vec![Blocker {
                gate: Gate::AclOwnership,
                what: reason,
                statement: Some(statement),
                remedy:
                    "change that statement first: with BucketOwnerEnforced, uploads may carry only the bucket-owner-full-control ACL or none, and no x-amz-grant-* header"
                        .into(),
            }]));
        }
        let migrated = migrate_bucket_acl(bucket)?;
        if !migrated.is_empty() {
            bucket_reasons.push(
                "bucket-ACL grants are moved into the bucket policy before the bucket ACL is reset and ACLs are disabled".to_string(),
            );
        }
        for statement in migrated {
            upsert(&mut statements, statement);
        }
        if let Some(reset) = owner_only_acl(bucket) {
            acl_reset = edit(
                world,
                ResourceRef::BucketAcl { bucket: spec.bucket.clone() },
                reset,
                false,
                "S3 refuses BucketOwnerEnforced while the bucket ACL grants anyone but the owner: it is reset to the owner's FULL_CONTROL, after its grants are in the bucket policy".into(),
            )?;
        }
        let lost = lost_deletions(bucket);
        if !lost.is_empty() {
            let accounts: Vec<String> = lost
                .iter()
                .map(|(account, count, example)| {
                    format!(
                        "{account} on the {count} object{} it owns (e.g. {example})",
                        if *count == 1 { "" } else { "s" }
                    )
                })
                .collect();
            warnings.push(format!(
                "with ACLs disabled, deletions that the bucket ACL's WRITE allowed stop: {}; the migrated grant allows uploads only, because a DeleteObject grant would reach every object once the bucket owner owns them",
                accounts.join("; ")
            ));
        }
        let change = ownership_change(world, spec);
        if !change.losses.is_empty() {
            let losses: Vec<String> = change
                .losses
                .iter()
                .map(|loss| {
                    format!(
                        "{} to {} on {} object{} (e.g. {})",
                        loss.permission,
                        loss.grantee,
                        loss.count,
                        if loss.count == 1 { "" } else { "s" },
                        loss.example
                    )
                })
                .collect();
            warnings.push(format!(
                "with ACLs disabled, object-ACL grants stop applying: {}; accounts that read through them lose that access",
                losses.join("; ")
            ));
        }
        let sensitive = change.needs_permission();
        let reason = if sensitive {
            "objects owned by another account block the access: BucketOwnerEnforced makes the bucket owner own them, and existing bucket-policy grants then reach them too (--allow-ownership-change)"
        } else {
            "objects owned by another account block the access: BucketOwnerEnforced makes the bucket owner own them"
        };
        ownership_edit = edit(
            world,
            ResourceRef::OwnershipControls {
                bucket: spec.bucket.clone(),
            },
            json!(ObjectOwnership::BucketOwnerEnforced),
            sensitive,
            reason.into(),
        )?;
    }
    for access in &needs.bucket {
        let statement = exact_principal_grant(
            format!("S3fix{}{name}", access_word(*access)),
            spec,
            grant_body(spec, *access),
        );
        upsert(&mut statements, Value::Object(statement));
        bucket_reasons.push(format!(
            "a cross-account caller needs a bucket-policy grant for {}",
            access.action()
        ));
    }
    let (delegations, delegation_reasons) = delegation_statements(world, spec, needs);
    for statement in delegations {
        upsert(&mut statements, statement);
    }
    bucket_reasons.extend(delegation_reasons);
    let mut sensitive = false;
    let mut companions = Vec::new();
    let spec_point = super::build::spec_access_point(world, spec);
    for (resource, index) in &needs.deny_exceptions {
        if *resource == bucket_resource
            && let Some(statement) = statements.get_mut(*index)
        {
            companions.extend(exception_scope(
                statement,
                spec,
                *index,
                &name,
                spec_point.as_deref(),
            ));
            exempt(statement, &spec.principal);
            sensitive = true;
            bucket_reasons.push(format!(
                "statement {index} (a Deny) is narrowed to exempt exactly this principal, for exactly the spec's actions and resources"
            ));
        }
    }
    for companion in companions {
        upsert(&mut statements, companion);
    }
    edits.extend(acl_reset);
    edits.extend(ownership_edit);
    if !bucket_reasons.is_empty() {
        edits.extend(edit(
            world,
            bucket_resource,
            with_statements(document, statements),
            sensitive,
            bucket_reasons.join("; "),
        )?);
    }
    edits.extend(access_point_edit(world, spec, needs)?);
    reorder(&mut edits);
    Ok(edits)
}

/// Order edits as AWS requires and so no intermediate state grants more than the final one:
/// identity policy, KMS key policy, the bucket policy (with the migrated bucket-ACL grants), the
/// bucket ACL reset to the owner, then Object Ownership (S3 refuses BucketOwnerEnforced while
/// the bucket ACL grants others; S3 User Guide, "Prerequisites for disabling ACLs"), and last the
/// access point policy: until it lands, the bucket's delegation reaches only what the access
/// point already lets through.
pub(super) fn reorder(edits: &mut [Edit]) {
    edits.sort_by_key(|edit| match edit.resource {
        ResourceRef::InlinePolicy { .. } => 0,
        ResourceRef::KeyPolicy { .. } => 1,
        ResourceRef::BucketPolicy { .. } => 2,
        ResourceRef::BucketAcl { .. } => 3,
        ResourceRef::OwnershipControls { .. } => 4,
        ResourceRef::AccessPointPolicy { .. } => 5,
        _ => 6,
    });
}

/// The bucket ACL reset to the owner's FULL_CONTROL only, when it grants anyone else.
pub(super) fn owner_only_acl(bucket: &crate::core::world::Bucket) -> Option<Value> {
    let acl = bucket.acl.as_ref()?;
    if acl
        .grants
        .iter()
        .all(|grant| owner_grant(grant, &acl.owner, &bucket.account))
    {
        return None;
    }
    let grantee = acl
        .grants
        .iter()
        .find(|grant| owner_grant(grant, &acl.owner, &bucket.account))
        .map(|grant| grant.grantee.clone())
        .unwrap_or(Grantee::CanonicalUser {
            id: None,
            account: Some(bucket.account.clone()),
        });
    serde_json::to_value(Acl {
        owner: acl.owner.clone(),
        grants: vec![Grant {
            grantee,
            permission: "FULL_CONTROL".into(),
        }],
    })
    .ok()
}

/// The canned ACL BucketOwnerEnforced still accepts on uploads.
const OWNER_FULL_CONTROL: &str = "bucket-owner-full-control";

/// A bucket-policy statement that makes uploads carry an ACL BucketOwnerEnforced rejects: one
/// other than `bucket-owner-full-control`, or an `x-amz-grant-*` header (S3 User Guide,
/// "Prerequisites for disabling ACLs": review bucket policies that use ACL-related condition
/// keys). A requirement `bucket-owner-full-control` satisfies is accepted, as S3 accepts it.
pub(super) fn acl_dependent_policy(bucket: &crate::core::world::Bucket) -> Option<(String, StatementRef)> {
    let document = bucket.policy.as_ref()?;
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    for (index, statement) in statements.iter().enumerate() {
        let deny = statement.get("Effect").and_then(Value::as_str) == Some("Deny");
        let Some(operators) = statement.get("Condition").and_then(Value::as_object) else {
            continue;
        };
        for (operator, keys) in operators {
            let Some(keys) = keys.as_object() else { continue };
            let lowered_operator = operator.to_ascii_lowercase();
            let null = lowered_operator.starts_with("null");
            let negated = lowered_operator.contains("not");
            for (key, values) in keys {
                let lowered = key.to_ascii_lowercase();
                let values: Vec<String> = as_list(values)
                    .iter()
                    .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_string))
                    .collect();
                // Whether the condition makes the request carry the header for the statement to
                // allow it (Allow), or to escape it (Deny).
                let requires = if null {
                    // Null "false" in an Allow, Null "true" in a Deny: the header must be present.
                    values
                        .iter()
                        .any(|value| value == if deny { "true" } else { "false" })
                } else {
                    deny == negated
                };
                if !requires {
                    continue;
                }
                let reference = StatementRef {
                    kind: crate::core::policy::PolicyKind::Resource,
                    policy: "bucket policy".into(),
                    statement: index,
                    sid: statement.get("Sid").and_then(Value::as_str).map(str::to_string),
                    effect: if deny {
                        crate::core::policy::Effect::Deny
                    } else {
                        crate::core::policy::Effect::Allow
                    },
                };
                let name = match &reference.sid {
                    Some(sid) => format!("bucket-policy statement {index} (Sid `{sid}`)"),
                    None => format!("bucket-policy statement {index}"),
                };
                if lowered.starts_with("s3:x-amz-grant") {
                    return Some((
                        format!("{name} requires the `{key}` header, which BucketOwnerEnforced rejects"),
                        reference,
                    ));
                }
                if lowered == "s3:x-amz-acl" {
                    let satisfiable = null
                        || values.iter().any(|value| {
                            crate::core::policy::Pattern::new(value).matches(OWNER_FULL_CONTROL)
                        });
                    if !satisfiable {
                        return Some((
                            format!(
                                "{name} requires the ACL `{}` (`{key}`), which BucketOwnerEnforced rejects; only bucket-owner-full-control is accepted",
                                values.join("`, `")
                            ),
                            reference,
                        ));
                    }
                }
            }
        }
    }
    None
}

/// The bucket policy actions an ACL permission on a bucket maps to (S3 User Guide, "Access
/// control list (ACL) overview", mapping of ACL permissions and access policy permissions), with
/// the resource each applies to. WRITE maps to `s3:PutObject` alone: the deletions it also allows
/// are of the objects the grantee owns, and once the bucket owner owns every object a
/// `s3:DeleteObject` grant would reach all of them (see [`lost_deletions`]).
pub(super) fn acl_permission_actions(permission: &str) -> &'static [(&'static str, bool)] {
    // (action, on the objects rather than the bucket)
    match permission {
        "READ" => &[("s3:ListBucket", false)],
        "WRITE" => &[("s3:PutObject", true)],
        "READ_ACP" => &[("s3:GetBucketAcl", false)],
        "WRITE_ACP" => &[("s3:PutBucketAcl", false)],
        "FULL_CONTROL" => &[
            ("s3:ListBucket", false),
            ("s3:PutObject", true),
            ("s3:GetBucketAcl", false),
            ("s3:PutBucketAcl", false),
        ],
        _ => &[],
    }
}

/// Accounts whose bucket-ACL WRITE (or FULL_CONTROL) lets them delete the objects they own, with
/// how many they own and one example: with BucketOwnerEnforced the bucket owner owns those
/// objects, and the migrated grant allows uploads only.
pub(super) fn lost_deletions(bucket: &crate::core::world::Bucket) -> Vec<(String, usize, String)> {
    let Some(acl) = &bucket.acl else {
        return Vec::new();
    };
    let mut lost = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for grant in &acl.grants {
        let Grantee::CanonicalUser {
            account: Some(account),
            ..
        } = &grant.grantee
        else {
            continue;
        };
        if *account == bucket.account
            || !matches!(grant.permission.as_str(), "WRITE" | "FULL_CONTROL")
            || !seen.insert(account.as_str())
        {
            continue;
        }
        let mut owned = bucket
            .objects
            .iter()
            .filter(|object| object.owner_account() == Some(account.as_str()))
            .map(|object| object.key.as_str());
        if let Some(example) = owned.next() {
            lost.push((account.clone(), 1 + owned.count(), example.to_string()));
        }
    }
    lost
}

/// Bucket-policy statements equivalent to the bucket ACL's grants to others, so that switching
/// to BucketOwnerEnforced does not fail with `InvalidBucketAclWithObjectOwnership`.
/// The account principal in `partition` (the id as given when it is not twelve digits).
fn root_of(partition: &str, account: &str) -> String {
    match AccountId::parse(account) {
        Some(account) => Arn::account_root(partition, &account).to_string(),
        None => account.to_string(),
    }
}

/// The condition that keeps a migrated ACL grant to requests made to the bucket directly:
/// `s3:DataAccessPointArn` is present only on requests through an access point (S3 User Guide,
/// "Configuring IAM policies for using access points", condition keys). A bucket ACL is not
/// weighed through an access point, while a bucket-policy statement is — and any account may
/// create an access point for any bucket — so without it the grantee's account would gain the
/// same access through its own access points.
pub(super) fn direct_requests_only() -> Value {
    json!({"Null": {"s3:DataAccessPointArn": "true"}})
}

pub(super) fn migrate_bucket_acl(bucket: &crate::core::world::Bucket) -> Result<Vec<Value>, PlanError> {
    let mut statements = Vec::new();
    let Some(acl) = &bucket.acl else {
        return Ok(statements);
    };
    let partition = partition_of_region(&bucket.region);
    let bucket_arn = Arn::s3_bucket(partition, &bucket.name).to_string();
    let objects_arn = format!("{bucket_arn}/*");
    for grant in &acl.grants {
        let permission = grant.permission.as_str();
        match &grant.grantee {
            _ if owner_grant(grant, &acl.owner, &bucket.account) => {}
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } => {
                for (action, on_objects) in acl_permission_actions(permission) {
                    let resource = if *on_objects {
                        objects_arn.clone()
                    } else {
                        bucket_arn.clone()
                    };
                    let word = action.trim_start_matches("s3:");
                    statements.push(json!({
                        "Sid": format!("S3fixMigratedAcl{word}{account}"),
                        "Effect": "Allow",
                        "Principal": {"AWS": root_of(partition, account)},
                        "Action": action,
                        "Resource": resource,
                        "Condition": direct_requests_only(),
                    }));
                }
            }
            Grantee::Group { uri } if uri == LOG_DELIVERY => {
                if matches!(permission, "WRITE" | "FULL_CONTROL") {
                    statements.push(json!({
                        "Sid": "S3fixMigratedAclLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": objects_arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": bucket.account}},
                    }));
                }
            }
            Grantee::Group { uri } if uri == ALL_USERS || uri == AUTHENTICATED_USERS => {
                return Err(PlanError::Blocked(vec![Blocker {
                    gate: Gate::AclOwnership,
                    what: format!("the bucket ACL grants {permission} to `{uri}` (public)"),
                    statement: None,
                    remedy: "remove the public ACL grant first; s3fix will not move it into a public bucket policy".into(),
                }]));
            }
            other => {
                return Err(PlanError::Blocked(vec![Blocker {
                    gate: Gate::AclOwnership,
                    what: format!(
                        "the bucket ACL grants {permission} to {other:?}, which s3fix cannot map to an account"
                    ),
                    statement: None,
                    remedy: "move that grant into the bucket policy by hand, then plan again".into(),
                }]));
            }
        }
    }
    Ok(statements)
}
