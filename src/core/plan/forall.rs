//! The for-all half of the proof: an argument over the edited statements themselves that holds
//! for every request, next to the probes (which check a neighbourhood of concrete requests).
//!
//! Every statement an edit adds or changes must be contained in the spec:
//! - an Allow names exactly the spec's principal (or, for a bucket-ACL grant moved into the
//!   bucket policy, exactly the grantee's account with exactly the actions its permission maps
//!   to), no wildcard, no `NotPrincipal`/`NotAction`/`NotResource`; its actions are the spec's
//!   (and the KMS actions S3 needs, through S3 only); its resources are the spec's object ARNs,
//!   or the bucket ARN for `s3:ListBucket` with `s3:prefix` limited to the spec's prefixes;
//! - a Deny may be added freely (it only narrows); a changed Deny may only exempt the spec's
//!   principal (`ArnNotEquals aws:PrincipalArn`), and then the compensating Denies must keep that
//!   principal denied outside the spec's resources, actions and context, so the requests it stops
//!   denying are inside principal × actions × resources × context;
//! - no statement is removed; a bucket ACL may only lose grants.

use super::apply::ResourceRef;
use super::documents::acl_permission_actions;
use super::{Edit, owned_policy_name};
use crate::core::spec::{Access, Spec};
use crate::core::world::{Acl, Grantee, World};
use serde_json::{Value, json};

/// What the argument proved, or where it does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Containment {
    /// Added or changed Allows shown to be inside the spec.
    pub allows: usize,
    /// Denies added (they only narrow).
    pub denies: usize,
    /// Denies narrowed to exempt exactly the spec's principal inside the spec.
    pub narrowed: usize,
    /// Why the argument fails, one line per statement.
    pub failures: Vec<String>,
}

fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    }
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    list(value)
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect()
}

fn statements(document: Option<&Value>) -> Vec<Value> {
    list(document.and_then(|document| document.get("Statement")))
}

/// The actions and resources the spec asks for.
struct Scope {
    principal: String,
    object_actions: Vec<&'static str>,
    list: bool,
    object_arns: Vec<String>,
    bucket_arn: String,
    prefixes: Vec<String>,
    /// The access point's resources, for a spec through one.
    point: Option<super::point::Resources>,
}

impl Scope {
    fn new(spec: &Spec, world: &World) -> Scope {
        let access = spec.access_set();
        let mut object_actions = Vec::new();
        if access.contains(&Access::Read) {
            object_actions.push("s3:GetObject");
        }
        if access.contains(&Access::Write) {
            object_actions.push("s3:PutObject");
        }
        Scope {
            principal: spec.principal.clone(),
            object_actions,
            list: access.contains(&Access::List),
            object_arns: spec.object_arns(),
            bucket_arn: spec.bucket_arn(),
            prefixes: spec.list_prefixes(),
            point: super::build::spec_access_point(world, spec)
                .map(|access_point| super::point::Resources::through(&access_point, spec)),
        }
    }

    /// Whether `arn` is one of the spec's object resources (the bucket's or the access point's).
    fn object(&self, arn: &str) -> bool {
        self.object_arns.iter().any(|own| own == arn)
            || self
                .point
                .as_ref()
                .is_some_and(|point| point.objects.iter().any(|own| own == arn))
    }

    /// Whether `resources` is exactly the bucket ARN or the access point ARN (for listing).
    fn list_target(&self, resources: &[String]) -> bool {
        resources == [self.bucket_arn.clone()]
            || self
                .point
                .as_ref()
                .is_some_and(|point| resources == [point.bucket.clone()])
    }

    fn actions(&self) -> Vec<String> {
        let mut actions: Vec<String> = self
            .object_actions
            .iter()
            .map(|action| action.to_string())
            .collect();
        if self.list {
            actions.push("s3:ListBucket".into());
        }
        actions
    }
}

/// The `s3:prefix` values a statement's conditions allow, if it limits them (`StringLike` or
/// `StringEquals`).
fn prefix_values(statement: &Value) -> Option<Vec<String>> {
    let operators = statement.get("Condition")?.as_object()?;
    for (operator, keys) in operators {
        if !["stringlike", "stringequals"].contains(&operator.to_ascii_lowercase().as_str()) {
            continue;
        }
        if let Some((_, values)) = keys
            .as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("s3:prefix"))
        {
            return strings(Some(values));
        }
    }
    None
}

fn condition_value<'a>(statement: &'a Value, operator: &str, key: &str) -> Option<&'a Value> {
    statement
        .get("Condition")?
        .as_object()?
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(operator))?
        .1
        .as_object()?
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
}

fn name_of(statement: &Value, index: usize) -> String {
    match statement.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("statement {index} (`{sid}`)"),
        None => format!("statement {index}"),
    }
}

/// Whether an Allow is contained in the spec; `Err` says why not.
fn allow_contained(
    statement: &Value,
    resource: &ResourceRef,
    scope: &Scope,
    world: &World,
    spec: &Spec,
) -> Result<(), String> {
    for element in ["NotPrincipal", "NotAction", "NotResource"] {
        if statement.get(element).is_some() {
            return Err(format!("it uses `{element}`"));
        }
    }
    let actions = strings(statement.get("Action")).ok_or("its actions are not strings")?;
    let resources = strings(statement.get("Resource")).ok_or("its resources are not strings")?;
    let principal = statement.get("Principal");
    if let ResourceRef::InlinePolicy {
        principal: owner,
        name,
    } = resource
    {
        if *owner != scope.principal || *name != owned_policy_name(&spec.bucket) || principal.is_some() {
            return Err("it is not in the spec principal's s3fix policy".into());
        }
    } else if principal != Some(&json!({"AWS": scope.principal})) {
        return migrated_grant(statement, &actions, &resources, world, spec)
            .map_err(|why| format!("its principal is not exactly `{}` ({why})", scope.principal));
    }
    let kms: Vec<&String> = actions
        .iter()
        .filter(|action| action.starts_with("kms:"))
        .collect();
    if !kms.is_empty() {
        if kms.len() != actions.len()
            || kms
                .iter()
                .any(|action| !["kms:Decrypt", "kms:GenerateDataKey"].contains(&action.as_str()))
        {
            return Err(format!(
                "its actions {actions:?} are not the KMS actions S3 needs"
            ));
        }
        if condition_value(statement, "StringEquals", "kms:ViaService").is_none() {
            return Err("it does not keep the key to S3 (kms:ViaService)".into());
        }
        if matches!(resource, ResourceRef::KeyPolicy { .. }) {
            let account = spec.principal_account();
            if condition_value(statement, "StringEquals", "kms:CallerAccount") != Some(&json!(account)) {
                return Err("it does not keep the key to the principal's account (kms:CallerAccount)".into());
            }
        } else if resources
            .iter()
            .any(|arn| !world.keys.iter().any(|key| key.arn == *arn))
        {
            return Err(format!("its resources {resources:?} are not the world's keys"));
        }
        return Ok(());
    }
    let allowed = scope.actions();
    if let Some(action) = actions.iter().find(|action| !allowed.contains(action)) {
        return Err(format!("`{action}` is not an action of the spec"));
    }
    let list = actions.iter().any(|action| action == "s3:ListBucket");
    if list {
        if actions.len() != 1 || !scope.list_target(&resources) {
            return Err("s3:ListBucket is not alone on the bucket ARN (or the access point ARN)".into());
        }
        let prefixes = prefix_values(statement).ok_or("s3:ListBucket is not limited by s3:prefix")?;
        if let Some(prefix) = prefixes.iter().find(|prefix| !scope.prefixes.contains(prefix)) {
            return Err(format!("the prefix `{prefix}` is not one of the spec's"));
        }
        return Ok(());
    }
    if let Some(arn) = resources.iter().find(|arn| !scope.object(arn)) {
        return Err(format!("the resource `{arn}` is not one of the spec's"));
    }
    Ok(())
}

/// A bucket-ACL grant moved into the bucket policy: exactly the grantee's account (or the log
/// delivery service, from its account only), exactly the actions its permission maps to.
fn migrated_grant(
    statement: &Value,
    actions: &[String],
    resources: &[String],
    world: &World,
    spec: &Spec,
) -> Result<(), String> {
    let bucket = world.bucket(&spec.bucket).ok_or("no bucket")?;
    let acl = bucket
        .acl
        .as_ref()
        .ok_or("and the bucket has no ACL grant it came from")?;
    let bucket_arn = crate::core::arn::Arn::s3_bucket(&spec.partition(), &bucket.name).to_string();
    let objects_arn = format!("{bucket_arn}/*");
    let matches_permission = |permission: &str| {
        acl_permission_actions(permission)
            .iter()
            .any(|(action, on_objects)| {
                actions == [action.to_string()]
                    && resources
                        == [if *on_objects {
                            objects_arn.clone()
                        } else {
                            bucket_arn.clone()
                        }]
            })
    };
    let from_grant = acl.grants.iter().any(|grant| match &grant.grantee {
        Grantee::CanonicalUser {
            account: Some(account),
            ..
        } => {
            statement.get("Principal")
                == Some(&json!({"AWS": format!("arn:{}:iam::{account}:root", spec.partition())}))
                && statement.get("Condition") == Some(&super::documents::direct_requests_only())
                && matches_permission(&grant.permission)
        }
        Grantee::Group { uri } if uri == crate::core::s3::public::LOG_DELIVERY => {
            statement.get("Principal") == Some(&json!({"Service": "logging.s3.amazonaws.com"}))
                && condition_value(statement, "StringEquals", "aws:SourceAccount")
                    == Some(&json!(bucket.account))
                && actions == ["s3:PutObject"]
                && resources == [objects_arn.clone()]
                && matches!(grant.permission.as_str(), "WRITE" | "FULL_CONTROL")
        }
        _ => false,
    });
    if from_grant {
        Ok(())
    } else {
        Err("and it is no bucket-ACL grant moved as it was".into())
    }
}

/// The lists an s3fix statement is extended by (its Sid matched an earlier grant).
const GROWING: &[&[&str]] = &[
    &["Resource"],
    &["Action"],
    &["Condition", "StringLike", "s3:prefix"],
    &["Condition", "StringLike", "kms:EncryptionContext:aws:s3:arn"],
];

fn at<'a>(statement: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(statement, |value, key| value.get(key))
}

/// What an extended Allow grants beyond what it granted: when exactly one of its lists grew
/// and nothing else changed, the statement with that list cut to the added values (the new
/// requests are those values × everything else the statement names); otherwise the whole
/// statement.
fn grown_part(original: Option<&Value>, statement: &Value) -> Value {
    let Some(original) = original else {
        return statement.clone();
    };
    let grown: Vec<&&[&str]> = GROWING
        .iter()
        .filter(|path| at(original, path) != at(statement, path))
        .collect();
    let [path] = grown.as_slice() else {
        return statement.clone();
    };
    let mut rest_before = original.clone();
    let mut rest_after = statement.clone();
    for value in [&mut rest_before, &mut rest_after] {
        if let Some(target) = path
            .iter()
            .try_fold(&mut *value, |value, key| value.get_mut(*key))
        {
            *target = Value::Null;
        }
    }
    if rest_before != rest_after {
        return statement.clone();
    }
    let old = list(at(original, path));
    let added: Vec<Value> = list(at(statement, path))
        .into_iter()
        .filter(|value| !old.contains(value))
        .collect();
    let mut part = statement.clone();
    if let Some(target) = path.iter().try_fold(&mut part, |value, key| value.get_mut(*key)) {
        *target = Value::Array(added);
    }
    part
}

/// The statement without the spec principal's `ArnNotEquals aws:PrincipalArn` exemption.
fn without_exemption(statement: &Value, principal: &str) -> Value {
    let mut stripped = statement.clone();
    let Some(operators) = stripped.get_mut("Condition").and_then(Value::as_object_mut) else {
        return stripped;
    };
    if let Some(keys) = operators.get_mut("ArnNotEquals").and_then(Value::as_object_mut) {
        let key = keys
            .keys()
            .find(|key| key.eq_ignore_ascii_case("aws:PrincipalArn"))
            .cloned();
        if let Some(key) = key {
            let rest: Vec<Value> = list(keys.get(&key))
                .into_iter()
                .filter(|value| value != &json!(principal))
                .collect();
            match rest.len() {
                0 => {
                    keys.remove(&key);
                }
                1 => {
                    keys.insert(key, rest.into_iter().next().unwrap_or(Value::Null));
                }
                _ => {
                    keys.insert(key, Value::Array(rest));
                }
            }
        }
        if keys.is_empty() {
            operators.remove("ArnNotEquals");
        }
    }
    if operators.is_empty()
        && let Some(object) = stripped.as_object_mut()
    {
        object.remove("Condition");
    }
    stripped
}

/// The Denies that keep an exempted principal denied outside the spec, as the planner writes
/// them next to a narrowed bucket-policy Deny: they must be present for the argument to hold.
fn compensated(
    original: &Value,
    added: &[Value],
    scope: &Scope,
    spec: &Spec,
    key_policy: bool,
) -> Result<(), String> {
    let principal = json!({"AWS": scope.principal});
    let denies: Vec<&Value> = added
        .iter()
        .filter(|statement| {
            statement.get("Effect") == Some(&json!("Deny")) && statement.get("Principal") == Some(&principal)
        })
        .collect();
    let condition = original.get("Condition");
    let same = |statement: &Value, elements: &[&str]| {
        elements
            .iter()
            .all(|element| statement.get(*element) == original.get(*element))
    };
    let spec_actions: Vec<String> = if key_policy {
        super::documents::kms_actions(spec)
            .iter()
            .map(|action| action.to_string())
            .collect()
    } else {
        scope.actions()
    };
    if key_policy {
        // Through S3 only: denied whenever kms:ViaService is not S3.
        let outside_s3 = denies.iter().any(|statement| {
            same(statement, &["Action", "NotAction", "Resource", "NotResource"])
                && condition_value(statement, "StringNotEquals", "kms:ViaService").is_some()
        });
        if !outside_s3 {
            return Err(
                "no Deny keeps the principal denied when it uses the key other than through S3".into(),
            );
        }
    } else {
        let mut resources = scope.object_arns.clone();
        if scope.list {
            resources.push(scope.bucket_arn.clone());
        }
        let outside_resources = denies.iter().any(|statement| {
            same(statement, &["Action", "NotAction"])
                && statement.get("Condition") == condition
                && strings(statement.get("NotResource")).is_some_and(|values| values == resources)
        });
        if !outside_resources {
            return Err("no Deny keeps the principal denied outside the spec's resources".into());
        }
        let outside_prefixes = !scope.list
            || denies.iter().any(|statement| {
                statement.get("Action") == Some(&json!("s3:ListBucket"))
                    && condition_value(statement, "StringNotLike", "s3:prefix")
                        .and_then(|values| strings(Some(values)))
                        .is_some_and(|values| values.iter().all(|value| scope.prefixes.contains(value)))
            });
        if !outside_prefixes {
            return Err("no Deny keeps the principal denied outside the spec's list prefixes".into());
        }
    }
    let outside_actions = denies.iter().any(|statement| {
        same(statement, &["Resource", "NotResource"])
            && statement.get("Condition") == condition
            && strings(statement.get("NotAction")).is_some_and(|values| {
                spec_actions.iter().all(|action| values.contains(action))
                    && values.iter().all(|value| {
                        spec_actions.contains(value)
                            || strings(original.get("NotAction")).is_some_and(|kept| kept.contains(value))
                    })
            })
    });
    if !outside_actions {
        return Err("no Deny keeps the principal denied outside the spec's actions".into());
    }
    for (key, value) in spec
        .context
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case("aws:PrincipalArn"))
    {
        let kept = denies.iter().any(|statement| {
            same(statement, &["Action", "NotAction", "Resource", "NotResource"])
                && ["NotIpAddress", "StringNotEquals"].iter().any(|operator| {
                    condition_value(statement, operator, key).is_some_and(|values| {
                        list(Some(values)).iter().any(|item| {
                            item.as_str().is_some_and(|text| {
                                text == value
                                    || text.strip_suffix("/32") == Some(value.as_str())
                                    || text.strip_suffix("/128") == Some(value.as_str())
                            })
                        })
                    })
                })
        });
        if !kept {
            return Err(format!(
                "no Deny keeps the principal denied outside the spec's context `{key}` = `{value}`"
            ));
        }
    }
    Ok(())
}

/// The argument over `edits` planned on `world` for `spec`.
pub fn containment(world: &World, spec: &Spec, edits: &[Edit]) -> Containment {
    let scope = Scope::new(spec, world);
    let mut result = Containment::default();
    for edit in edits {
        let label = edit.resource.describe();
        match &edit.resource {
            ResourceRef::InlinePolicy { .. }
            | ResourceRef::BucketPolicy { .. }
            | ResourceRef::KeyPolicy { .. }
            | ResourceRef::AccessPointPolicy { .. } => {}
            ResourceRef::BucketAcl { .. } => {
                let before: Option<Acl> = edit
                    .before
                    .clone()
                    .and_then(|value| serde_json::from_value(value).ok());
                let after: Option<Acl> = serde_json::from_value(edit.after.clone()).ok();
                let only_loses = match (before, after) {
                    (Some(before), Some(after)) => {
                        after.grants.iter().all(|grant| before.grants.contains(grant))
                    }
                    _ => false,
                };
                if !only_loses {
                    result.failures.push(format!("the {label} gains a grant"));
                }
                continue;
            }
            // The ownership switch is argued object by object in its own check.
            ResourceRef::OwnershipControls { .. } => continue,
            _ => {
                result
                    .failures
                    .push(format!("{label}: not an edit the argument covers"));
                continue;
            }
        }
        let before = statements(edit.before.as_ref());
        let after = statements(Some(&edit.after));
        if after.len() < before.len() {
            result.failures.push(format!("{label}: a statement is removed"));
            continue;
        }
        let added: Vec<Value> = after.iter().skip(before.len()).cloned().collect();
        for (index, statement) in after.iter().enumerate() {
            let original = before.get(index);
            if original == Some(statement) {
                continue;
            }
            let deny = statement.get("Effect") == Some(&json!("Deny"));
            match (original, deny) {
                (None, true) => result.denies += 1,
                (Some(original), true) => {
                    let exemption_only = original.get("Effect") == Some(&json!("Deny"))
                        && without_exemption(statement, &scope.principal) == *original;
                    let compensation = match &edit.resource {
                        ResourceRef::BucketPolicy { .. } => {
                            compensated(original, &added, &scope, spec, false)
                        }
                        ResourceRef::KeyPolicy { .. } => compensated(original, &added, &scope, spec, true),
                        _ => Err("a Deny of this policy cannot be exempted".to_string()),
                    };
                    match (exemption_only, compensation) {
                        (true, Ok(())) => result.narrowed += 1,
                        (false, _) => result.failures.push(format!(
                            "{label}: {} changes beyond exempting `{}`",
                            name_of(statement, index),
                            scope.principal
                        )),
                        (true, Err(why)) => result.failures.push(format!(
                            "{label}: {} is narrowed but {why}",
                            name_of(statement, index)
                        )),
                    }
                }
                (_, false) => match allow_contained(
                    &grown_part(original, statement),
                    &edit.resource,
                    &scope,
                    world,
                    spec,
                ) {
                    Ok(()) => result.allows += 1,
                    Err(why) => result.failures.push(format!(
                        "{label}: {} is not contained in the spec: {why}",
                        name_of(statement, index)
                    )),
                },
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::Operation;

    fn spec(context: &str) -> Spec {
        Spec::parse(
            &format!(
                "principal = \"arn:aws:iam::222222222222:role/app\"\nbucket = \"bkt\"\nkeys = [\"data/*\"]\naccess = [\"read\", \"list\"]\n{context}"
            ),
            "t.toml",
        )
        .unwrap()
    }

    fn world() -> World {
        serde_json::from_value(json!({"formatVersion": 1, "buckets": [{"name": "bkt", "account": "111111111111", "region": "us-east-1",
            "acl": {"owner": "111111111111", "grants": [
                {"grantee": {"type": "CanonicalUser", "account": "111111111111"}, "permission": "FULL_CONTROL"},
                {"grantee": {"type": "CanonicalUser", "id": "b", "account": "444455556666"}, "permission": "READ"}]}}]}))
        .unwrap()
    }

    fn bucket_edit(before: Vec<Value>, after: Vec<Value>) -> Edit {
        Edit {
            resource: ResourceRef::BucketPolicy { bucket: "bkt".into() },
            operation: Operation::Update,
            before: Some(json!({"Version": "2012-10-17", "Statement": before})),
            after: json!({"Version": "2012-10-17", "Statement": after}),
            security_sensitive: false,
            reason: String::new(),
            before_text: None,
            after_text: None,
        }
    }

    const APP: &str = "arn:aws:iam::222222222222:role/app";

    #[test]
    fn grants_inside_the_spec_are_proved() {
        let read = json!({"Sid": "S3fixReadApp", "Effect": "Allow", "Principal": {"AWS": APP}, "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::bkt/data/*"]});
        let list = json!({"Sid": "S3fixListApp", "Effect": "Allow", "Principal": {"AWS": APP}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt", "Condition": {"StringLike": {"s3:prefix": ["data/*"]}}});
        let migrated = json!({"Sid": "S3fixMigratedAclListBucket444455556666", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt",
            "Condition": {"Null": {"s3:DataAccessPointArn": "true"}}});
        let result = containment(
            &world(),
            &spec(""),
            &[bucket_edit(
                vec![],
                vec![read.clone(), list.clone(), migrated.clone()],
            )],
        );
        assert_eq!(result.failures, Vec::<String>::new());
        assert_eq!(result.allows, 3);
        // Without the condition, the grantee's account would gain the access through its own
        // access points, which the bucket ACL never reached.
        let mut everywhere = migrated;
        if let Some(statement) = everywhere.as_object_mut() {
            statement.remove("Condition");
        }
        let result = containment(
            &world(),
            &spec(""),
            &[bucket_edit(vec![], vec![read, list, everywhere])],
        );
        assert_eq!(result.failures.len(), 1, "{:?}", result.failures);
    }

    #[test]
    fn grants_outside_the_spec_are_named() {
        let cases = [
            (
                json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/data/*"}),
                "principal",
            ),
            (
                json!({"Effect": "Allow", "Principal": {"AWS": APP}, "Action": "s3:*", "Resource": "arn:aws:s3:::bkt/data/*"}),
                "`s3:*`",
            ),
            (
                json!({"Effect": "Allow", "Principal": {"AWS": APP}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*"}),
                "arn:aws:s3:::bkt/*",
            ),
            (
                json!({"Effect": "Allow", "Principal": {"AWS": APP}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt"}),
                "s3:prefix",
            ),
            (
                json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bkt/*"}),
                "moved as it was",
            ),
            (
                json!({"Effect": "Allow", "Principal": {"AWS": APP}, "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::bkt/data/*"}),
                "NotAction",
            ),
        ];
        for (statement, why) in cases {
            let result = containment(
                &world(),
                &spec(""),
                &[bucket_edit(vec![], vec![statement.clone()])],
            );
            assert_eq!(result.failures.len(), 1, "{statement}");
            assert!(result.failures[0].contains(why), "{}", result.failures[0]);
        }
        let removed = containment(
            &world(),
            &spec(""),
            &[bucket_edit(
                vec![json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})],
                vec![],
            )],
        );
        assert!(removed.failures[0].contains("removed"));
    }

    #[test]
    fn a_narrowed_deny_needs_its_compensating_denies_and_the_spec_context() {
        let deny = json!({"Sid": "Office", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"],
            "Condition": {"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}}});
        let mut exempted = deny.clone();
        exempted["Condition"]["ArnNotEquals"] = json!({"aws:PrincipalArn": APP});
        let companion = |sid: &str, extra: Value| {
            let mut statement = json!({"Sid": sid, "Effect": "Deny", "Principal": {"AWS": APP}});
            for (key, value) in extra.as_object().unwrap() {
                statement[key] = value.clone();
            }
            statement
        };
        let resources = companion(
            "R",
            json!({"Action": "s3:*", "NotResource": ["arn:aws:s3:::bkt/data/*", "arn:aws:s3:::bkt"], "Condition": deny["Condition"]}),
        );
        let actions = companion(
            "A",
            json!({"NotAction": ["s3:GetObject", "s3:ListBucket"], "Resource": deny["Resource"], "Condition": deny["Condition"]}),
        );
        let context = companion(
            "C",
            json!({"Action": "s3:*", "Resource": deny["Resource"], "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24", "203.0.113.9/32"]}}}),
        );
        let with_context = spec("[context]\n\"aws:SourceIp\" = \"203.0.113.9\"\n");
        let prefixes = companion(
            "P",
            json!({"Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt",
            "Condition": {"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}, "StringNotLike": {"s3:prefix": "data/*"}}}),
        );
        let full = vec![
            exempted.clone(),
            resources.clone(),
            actions.clone(),
            prefixes.clone(),
            context,
        ];
        let proved = containment(&world(), &with_context, &[bucket_edit(vec![deny.clone()], full)]);
        assert_eq!(proved.failures, Vec::<String>::new());
        assert_eq!((proved.narrowed, proved.denies), (1, 4));
        // Without the context Deny the exemption would hold from every address.
        let open = containment(
            &world(),
            &with_context,
            &[bucket_edit(
                vec![deny.clone()],
                vec![exempted.clone(), resources.clone(), actions.clone(), prefixes],
            )],
        );
        assert!(
            open.failures[0].contains("context `aws:SourceIp`"),
            "{:?}",
            open.failures
        );
        // Without the prefix Deny, listing would be exempted under every prefix.
        let lists = containment(
            &world(),
            &spec(""),
            &[bucket_edit(
                vec![deny.clone()],
                vec![exempted.clone(), resources, actions],
            )],
        );
        assert!(
            lists.failures[0].contains("list prefixes"),
            "{:?}",
            lists.failures
        );
        // An exemption for someone else is no exemption of the spec's principal.
        let mut other = deny.clone();
        other["Condition"]["ArnNotEquals"] =
            json!({"aws:PrincipalArn": "arn:aws:iam::222222222222:role/other"});
        let wrong = containment(&world(), &spec(""), &[bucket_edit(vec![deny], vec![other])]);
        assert!(
            wrong.failures[0].contains("beyond exempting"),
            "{:?}",
            wrong.failures
        );
    }
}
