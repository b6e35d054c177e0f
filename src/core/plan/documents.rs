//! The documents the planner writes: statements built from needs, merged into existing
//! documents by Sid so every other statement stays exactly as it was.

use super::apply::ResourceRef;
use super::build::Needs;
use super::{Blocker, Edit, Operation, PlanError, owned_policy_name};
use crate::core::arn::{AccountId, Arn, partition_of_region, service_host};
use crate::core::s3::Gate;
use crate::core::s3::public::{ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY};
use crate::core::spec::{Access, Spec};
use crate::core::world::{Grantee, ObjectOwnership, PrincipalKind, World};
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
    let mut body = Map::new();
    body.insert("Effect".into(), json!("Allow"));
    body.insert("Action".into(), json!(access.action()));
    match access {
        Access::List => {
            body.insert("Resource".into(), json!(spec.bucket_arn()));
            body.insert(
                "Condition".into(),
                json!({"StringLike": {"s3:prefix": spec.list_prefixes()}}),
            );
        }
        Access::Read | Access::Write => {
            body.insert("Resource".into(), json!(spec.object_arns()));
        }
    }
    body
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
    }))
}

/// The Denies that keep an exemption to exactly the spec: the exempted principal stays denied,
/// under the original Deny's condition, on every resource outside the spec (`NotResource`), and
/// for every action outside the spec (`NotAction`).
fn exception_scope(deny: &Value, spec: &Spec, index: usize, name: &str) -> Vec<Value> {
    let mut scope = Vec::new();
    let mut resources = spec.object_arns();
    if spec.access_set().contains(&Access::List) {
        resources.push(spec.bucket_arn());
    }
    let actions: Vec<&str> = spec.access_set().iter().map(|access| access.action()).collect();
    let base = |sid: String| {
        let mut statement = Map::new();
        statement.insert("Sid".into(), json!(sid));
        statement.insert("Effect".into(), json!("Deny"));
        statement.insert("Principal".into(), json!({"AWS": spec.principal}));
        statement
    };
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
    scope
}

/// Exempt exactly the principal from a Deny: `ArnNotEquals aws:PrincipalArn` joins its condition.
pub(super) fn exempt(statement: &mut Value, principal_arn: &str) {
    let Some(object) = statement.as_object_mut() else {
        return;
    };
    let condition = object.entry("Condition").or_insert_with(|| json!({}));
    let Some(operators) = condition.as_object_mut() else {
        return;
    };
    let operator = operators.entry("ArnNotEquals").or_insert_with(|| json!({}));
    let Some(keys) = operator.as_object_mut() else {
        return;
    };
    let existing_key = keys
        .keys()
        .find(|key| key.eq_ignore_ascii_case("aws:PrincipalArn"))
        .cloned();
    let key = existing_key.unwrap_or_else(|| "aws:PrincipalArn".to_string());
    let mut values = keys.get(&key).map(as_list).unwrap_or_default();
    if !values.contains(&json!(principal_arn)) {
        values.push(json!(principal_arn));
    }
    keys.insert(
        key,
        if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        },
    );
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
        for access in &needs.identity {
            let mut statement = Map::new();
            statement.insert("Sid".into(), json!(format!("S3fix{}", access_word(*access))));
            statement.extend(grant_body(spec, *access));
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
        for index in key_exceptions.get(&key).into_iter().flatten() {
            if let Some(statement) = statements.get_mut(*index) {
                exempt(statement, &spec.principal);
            }
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
    if needs.ownership {
        if let Some(reason) = acl_dependent_policy(bucket) {
            return Err(PlanError::Blocked(vec![Blocker {
                gate: Gate::AclOwnership,
                what: reason,
                statement: None,
                remedy:
                    "change the statement that requires ACL headers first; BucketOwnerEnforced rejects ACLs"
                        .into(),
            }]));
        }
        let migrated = migrate_bucket_acl(bucket)?;
        if !migrated.is_empty() {
            bucket_reasons.push(
                "bucket-ACL grants are moved into the bucket policy before ACLs are disabled".to_string(),
            );
        }
        for statement in migrated {
            upsert(&mut statements, statement);
        }
        let foreign: Vec<&str> = bucket
            .objects
            .iter()
            .filter(|object| object.acl.as_ref().is_some_and(|acl| acl.grants.iter().any(|grant| !matches!(&grant.grantee, Grantee::CanonicalUser { account: Some(account), .. } if *account == bucket.account))))
            .map(|object| object.key.as_str())
            .collect();
        if !foreign.is_empty() {
            warnings.push(format!(
                "with ACLs disabled, object-ACL grants stop applying (objects: {}): accounts that read through them lose that access",
                foreign.join(", ")
            ));
        }
        ownership_edit = edit(
            world,
            ResourceRef::OwnershipControls { bucket: spec.bucket.clone() },
            json!(ObjectOwnership::BucketOwnerEnforced),
            false,
            "objects owned by another account block the access: BucketOwnerEnforced makes the bucket owner own them".into(),
        )?;
    }
    for access in &needs.bucket {
        let mut statement = Map::new();
        statement.insert(
            "Sid".into(),
            json!(format!("S3fix{}{name}", access_word(*access))),
        );
        statement.insert("Effect".into(), json!("Allow"));
        statement.insert("Principal".into(), json!({"AWS": spec.principal}));
        let body = grant_body(spec, *access);
        for (key, value) in body {
            if key != "Effect" {
                statement.insert(key, value);
            }
        }
        upsert(&mut statements, Value::Object(statement));
        bucket_reasons.push(format!(
            "a cross-account caller needs a bucket-policy grant for {}",
            access.action()
        ));
    }
    let mut sensitive = false;
    let mut companions = Vec::new();
    for (resource, index) in &needs.deny_exceptions {
        if *resource == bucket_resource
            && let Some(statement) = statements.get_mut(*index)
        {
            companions.extend(exception_scope(statement, spec, *index, &name));
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
    // Apply order: identity, key policy, ownership, bucket policy — built in that order above,
    // except that the ownership edit must follow the ACL migration written into the bucket
    // policy; the migration only adds grants that already existed through the ACL.
    reorder(&mut edits);
    Ok(edits)
}

/// Order edits so no intermediate state grants more than the final one: identity policy, KMS
/// key policy, ownership, bucket policy last.
pub(super) fn reorder(edits: &mut [Edit]) {
    edits.sort_by_key(|edit| match edit.resource {
        ResourceRef::InlinePolicy { .. } => 0,
        ResourceRef::KeyPolicy { .. } => 1,
        ResourceRef::OwnershipControls { .. } => 2,
        ResourceRef::BucketPolicy { .. } => 3,
        _ => 4,
    });
}

/// A bucket-policy statement that requires ACL headers, which BucketOwnerEnforced rejects.
pub(super) fn acl_dependent_policy(bucket: &crate::core::world::Bucket) -> Option<String> {
    let document = bucket.policy.as_ref()?;
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    for (index, statement) in statements.iter().enumerate() {
        let keys: Vec<String> = statement
            .get("Condition")
            .and_then(Value::as_object)
            .map(|operators| {
                operators
                    .values()
                    .filter_map(Value::as_object)
                    .flat_map(|keys| keys.keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(key) = keys.iter().find(|key| {
            let lowered = key.to_ascii_lowercase();
            lowered.starts_with("s3:x-amz-acl") || lowered.starts_with("s3:x-amz-grant")
        }) {
            return Some(format!(
                "bucket-policy statement {index} requires the ACL header `{key}`"
            ));
        }
    }
    None
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
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } if *account == bucket.account => {}
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } => {
                let mut actions = Vec::new();
                if matches!(permission, "READ" | "FULL_CONTROL") {
                    actions.push(("s3:ListBucket", bucket_arn.clone()));
                }
                if matches!(permission, "WRITE" | "FULL_CONTROL") {
                    actions.push(("s3:PutObject", objects_arn.clone()));
                }
                for (action, resource) in actions {
                    let word = action.trim_start_matches("s3:");
                    statements.push(json!({
                        "Sid": format!("S3fixMigratedAcl{word}{account}"),
                        "Effect": "Allow",
                        "Principal": {"AWS": root_of(partition, account)},
                        "Action": action,
                        "Resource": resource,
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
