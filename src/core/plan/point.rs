//! Edits for a spec whose requests go through an S3 access point: an exact-principal grant in
//! the access point policy, and, where the bucket policy does not delegate, a delegation
//! statement in the bucket policy.
//!
//! Source (Amazon S3 User Guide, "Configuring IAM policies for using access points",
//! access-points-policies.html): both the access point policy and the bucket policy must permit a
//! request made through an access point; access point policy resources are
//! `arn:PARTITION:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY` (objects) and the access point
//! ARN (bucket operations); a bucket may delegate access control to access points with an Allow
//! conditioned on `s3:DataAccessPointAccount` (and `s3:DataAccessPointArn`).
//!
//! The delegation AWS documents grants `Principal: *` for the access points of one account. s3fix
//! writes it narrowed to the spec's principal, actions and resources, and pinned to the spec's
//! one access point (`s3:DataAccessPointArn` and `s3:DataAccessPointAccount`). The narrowing is a
//! choice, not a limitation of the proof: in the access point's own account an identity policy
//! alone lets a principal through an access point (no access point policy statement needed), so a
//! `*` delegation would open the bucket to every principal of that account whose identity policy
//! allows the action, a set no world file or read of one account's policies can bound. The
//! exact-principal form lets nobody but the spec's principal through, whatever the access point
//! policy says about others, and never counts as public (its principal is named).

use super::Edit;
use super::PlanError;
use super::apply::{ResourceRef, current_value};
use super::build::{Needs, spec_access_point};
use super::documents::{access_word, edit, sid_name, statements_of, upsert, with_statements};
use crate::core::s3::access_point::{AccessPointArn, DATA_ACCESS_POINT_ACCOUNT, DATA_ACCESS_POINT_ARN};
use crate::core::spec::{Access, Spec};
use crate::core::world::World;
use serde_json::{Map, Value, json};

/// The resources a grant names: the bucket-level resource (for listing) and the object patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resources {
    /// The bucket ARN, or the access point ARN.
    pub(super) bucket: String,
    /// The object ARNs (or patterns) of the spec's keys.
    pub(super) objects: Vec<String>,
}

impl Resources {
    /// The bucket's own resources for the spec: `arn:PARTITION:s3:::BUCKET` and its objects.
    pub(super) fn direct(spec: &Spec) -> Resources {
        Resources {
            bucket: spec.bucket_arn(),
            objects: spec.object_arns(),
        }
    }

    /// The access point's resources for the spec: the access point ARN and
    /// `ACCESS_POINT/object/KEY` for each key pattern.
    pub(super) fn through(access_point: &str, spec: &Spec) -> Resources {
        Resources {
            bucket: access_point.to_string(),
            objects: spec
                .keys
                .iter()
                .map(|key| format!("{access_point}/object/{key}"))
                .collect(),
        }
    }

    /// The resources the caller's identity policy must name: the access point's for a spec
    /// through one, the bucket's otherwise.
    pub(super) fn for_identity(world: &World, spec: &Spec) -> Resources {
        match spec_access_point(world, spec) {
            Some(access_point) => Resources::through(&access_point, spec),
            None => Resources::direct(spec),
        }
    }
}

/// The statement body (no Sid, no Principal) granting one access on `resources`; listing is
/// limited to the spec's prefixes with `s3:prefix`.
pub(super) fn grant_body_on(spec: &Spec, access: Access, resources: &Resources) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("Effect".into(), json!("Allow"));
    body.insert("Action".into(), json!(access.action()));
    match access {
        Access::List => {
            body.insert("Resource".into(), json!(resources.bucket));
            body.insert(
                "Condition".into(),
                json!({"StringLike": {"s3:prefix": spec.list_prefixes()}}),
            );
        }
        Access::Read | Access::Write => {
            body.insert("Resource".into(), json!(resources.objects));
        }
    }
    body
}

/// An Allow for exactly the spec's principal: `Sid`, `Principal`, then the body.
pub(super) fn exact_principal_grant(
    sid: String,
    spec: &Spec,
    body: Map<String, Value>,
) -> Map<String, Value> {
    let mut statement = Map::new();
    statement.insert("Sid".into(), json!(sid));
    statement.insert("Effect".into(), json!("Allow"));
    statement.insert("Principal".into(), json!({"AWS": spec.principal}));
    for (key, value) in body {
        if key != "Effect" {
            statement.insert(key, value);
        }
    }
    statement
}

/// The delegation statements the bucket policy gains for the spec's access point (empty when
/// none is needed), and the reasons.
pub(super) fn delegation_statements(world: &World, spec: &Spec, needs: &Needs) -> (Vec<Value>, Vec<String>) {
    let Some(access_point) = spec_access_point(world, spec) else {
        return (Vec::new(), Vec::new());
    };
    let account = AccessPointArn::parse_with_key(&access_point)
        .map(|(arn, _)| arn.account)
        .unwrap_or_default();
    let name = sid_name(&spec.principal);
    let mut statements = Vec::new();
    let mut reasons = Vec::new();
    for access in &needs.delegation {
        let mut statement = exact_principal_grant(
            format!("S3fixDelegate{}{name}", access_word(*access)),
            spec,
            grant_body_on(spec, *access, &Resources::direct(spec)),
        );
        let condition = statement.entry("Condition").or_insert_with(|| json!({}));
        if let Some(operators) = condition.as_object_mut() {
            operators.insert(
                "StringEquals".into(),
                json!({DATA_ACCESS_POINT_ARN: access_point, DATA_ACCESS_POINT_ACCOUNT: account}),
            );
        }
        statements.push(Value::Object(statement));
        reasons.push(format!(
            "the bucket policy does not delegate {} to access point `{access_point}`",
            access.action()
        ));
    }
    (statements, reasons)
}

/// The access point policy edit: an exact-principal grant on the access point's resources for
/// every access the access point policy lacks.
pub(super) fn access_point_edit(
    world: &World,
    spec: &Spec,
    needs: &Needs,
) -> Result<Option<Edit>, PlanError> {
    if needs.access_point.is_empty() {
        return Ok(None);
    }
    let Some(access_point) = spec_access_point(world, spec) else {
        return Ok(None);
    };
    let resource = ResourceRef::AccessPointPolicy {
        access_point: access_point.clone(),
    };
    let current = current_value(world, &resource)?;
    let (document, mut statements) = statements_of(current.as_ref());
    let name = sid_name(&spec.principal);
    let resources = Resources::through(&access_point, spec);
    let mut actions = Vec::new();
    for access in &needs.access_point {
        let statement = exact_principal_grant(
            format!("S3fix{}{name}", access_word(*access)),
            spec,
            grant_body_on(spec, *access, &resources),
        );
        upsert(&mut statements, Value::Object(statement));
        actions.push(access.action());
    }
    edit(
        world,
        resource,
        with_statements(document, statements),
        false,
        format!(
            "the access point policy of `{access_point}` does not allow the principal {}",
            actions.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;
    use crate::core::policy::{PolicyKind, parse_policy};
    use crate::core::s3::public::public_statements;

    fn spec() -> Spec {
        Spec::parse(
            "principal = \"arn:aws:iam::222222222222:role/spark\"\nbucket = \"lake\"\nkeys = [\"data/*\"]\naccess = [\"read\", \"list\"]\naccess_point = \"arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap\"\n",
            "spec.toml",
        )
        .unwrap()
    }

    fn world() -> World {
        serde_json::from_value(json!({
            "formatVersion": 1,
            "buckets": [{"name": "lake", "account": "111111111111", "region": "us-east-1",
                "accessPoints": [{"name": "lake-ap", "arn": "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap",
                    "account": "111111111111", "bucketAccount": "111111111111", "networkOrigin": "Internet"}]}],
        }))
        .unwrap()
    }

    #[test]
    fn the_delegation_names_the_principal_and_pins_the_access_point() {
        let needs = Needs {
            delegation: [Access::Read, Access::List].into_iter().collect(),
            ..Needs::default()
        };
        let (statements, reasons) = delegation_statements(&world(), &spec(), &needs);
        assert_eq!(reasons.len(), 2);
        assert_eq!(
            statements[0],
            json!({
                "Sid": "S3fixDelegateReadSpark",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:role/spark"},
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::lake/data/*"],
                "Condition": {"StringEquals": {
                    "s3:DataAccessPointArn": "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap",
                    "s3:DataAccessPointAccount": "111111111111",
                }},
            })
        );
        assert_eq!(
            statements[1]["Condition"]["StringLike"],
            json!({"s3:prefix": ["data/*"]})
        );
        let document = json!({"Version": "2012-10-17", "Statement": statements});
        let policy = parse_policy(&document, PolicyKind::Resource).unwrap();
        assert!(
            public_statements(&policy).is_empty(),
            "a named principal is never public"
        );
    }

    #[test]
    fn the_access_point_policy_resource_is_camel_case_in_plan_files() {
        let resource = ResourceRef::AccessPointPolicy {
            access_point: "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap".into(),
        };
        let value = serde_json::to_value(&resource).unwrap();
        assert_eq!(
            value,
            json!({"kind": "accessPointPolicy", "accessPoint": "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap"})
        );
        assert_eq!(serde_json::from_value::<ResourceRef>(value).unwrap(), resource);
    }

    #[test]
    fn the_access_point_grant_is_on_the_access_point_resources() {
        let needs = Needs {
            access_point: [Access::Read, Access::List].into_iter().collect(),
            ..Needs::default()
        };
        let edit = access_point_edit(&world(), &spec(), &needs).unwrap().unwrap();
        assert_eq!(
            edit.resource,
            ResourceRef::AccessPointPolicy {
                access_point: "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap".into()
            }
        );
        let statements = edit.after["Statement"].as_array().unwrap();
        assert_eq!(
            statements[0]["Resource"],
            json!(["arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap/object/data/*"])
        );
        assert_eq!(
            statements[1]["Resource"],
            json!("arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap")
        );
        assert!(edit.before.is_none());
    }

    /// Why the delegation names the principal: with the documented `Principal: *` delegation
    /// to account 333333333333, an admin of that account gets through its own access point on
    /// its identity policy alone, which the spec never asked for.
    #[test]
    fn a_star_delegation_would_let_the_access_point_account_through() {
        use crate::core::s3::{FinalDecision, S3Action, S3Request, explain};
        let mut world: World =
            serde_json::from_str(include_str!("../../../plans/examples/access-point-world.json")).unwrap();
        world.principals.push(
            serde_json::from_value(
                json!({"arn": "arn:aws:iam::333333333333:role/partner-admin", "kind": "role",
                "inlinePolicies": [{"name": "all", "document": {"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}),
            )
            .unwrap(),
        );
        let partner = "arn:aws:s3:us-east-1:333333333333:accesspoint/partner-ap";
        let request = S3Request {
            principal: "arn:aws:sts::333333333333:assumed-role/partner-admin/s".into(),
            action: S3Action::Get,
            bucket: "lake".into(),
            key: "data/part-0.parquet".into(),
            context: vec![(
                DATA_ACCESS_POINT_ARN.to_string(),
                crate::core::eval::ContextEntry::Single(partner.into()),
            )],
        };
        assert_ne!(
            explain(&world, &request).unwrap().decision,
            FinalDecision::Allowed
        );
        let star = json!({"Sid": "DelegateToPartner", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*",
            "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"],
            "Condition": {"StringEquals": {DATA_ACCESS_POINT_ACCOUNT: "333333333333"}}});
        let mut widened = world.clone();
        let policy = widened.buckets[0].policy.as_mut().unwrap();
        policy["Statement"].as_array_mut().unwrap().push(star);
        assert_eq!(
            explain(&widened, &request).unwrap().decision,
            FinalDecision::Allowed
        );
        // The planner's delegation for spark through partner-ap leaves the admin denied.
        let spec = Spec::parse(
            "principal = \"arn:aws:iam::222222222222:role/spark\"\nbucket = \"lake\"\nkeys = [\"data/*\"]\naccess = [\"read\"]\naccess_point = \"arn:aws:s3:us-east-1:333333333333:accesspoint/partner-ap\"\n",
            "spec.toml",
        )
        .unwrap();
        let planned =
            crate::core::plan::plan(&world, &spec, crate::core::plan::PlanOptions::default()).unwrap();
        let mut edited = world.clone();
        for edit in &planned.edits {
            crate::core::plan::set_value(&mut edited, &edit.resource, Some(&edit.after)).unwrap();
        }
        assert_ne!(
            explain(&edited, &request).unwrap().decision,
            FinalDecision::Allowed
        );
    }

    #[test]
    fn apply_refuses_an_access_point_policy_edit_for_another_access_point() {
        let world: World =
            serde_json::from_str(include_str!("../../../plans/examples/access-point-world.json")).unwrap();
        let spec = Spec::parse(
            "principal = \"arn:aws:iam::222222222222:role/spark\"\nbucket = \"lake\"\nkeys = [\"direct/*\"]\naccess = [\"read\"]\naccess_point = \"lake-ap-abcdefghijklmnopqrstuvwxyz0123-s3alias\"\n",
            "spec.toml",
        )
        .unwrap();
        let mut planned =
            crate::core::plan::plan(&world, &spec, crate::core::plan::PlanOptions::default()).unwrap();
        // Named by alias in the spec, written by ARN in the plan: in scope.
        assert!(crate::core::plan::verify::check_scope(&planned, &world).is_ok());
        let edit = planned
            .edits
            .iter_mut()
            .find(|edit| matches!(edit.resource, ResourceRef::AccessPointPolicy { .. }))
            .unwrap();
        edit.resource = ResourceRef::AccessPointPolicy {
            access_point: "arn:aws:s3:us-east-1:333333333333:accesspoint/partner-ap".into(),
        };
        let refused = crate::core::plan::verify::check_scope(&planned, &world).unwrap_err();
        assert!(
            refused.to_string().contains(
                "the spec's access point is `arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap`"
            ),
            "{refused}"
        );
    }
}
