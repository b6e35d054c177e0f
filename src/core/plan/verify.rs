//! A plan file is a request, not an authority: before anything is written, apply re-plans from
//! the file's spec and options on the world as it is now, and these checks decide whether the
//! file still says exactly what s3fix would do. Nothing the file says about itself (its proof,
//! its before-values, its fingerprints) is trusted on its own.

use super::{Edit, Plan, ResourceRef, owned_policy_name};
use crate::core::policy::canonical::{canonical, fingerprint};
use crate::core::world::World;
use serde_json::Value;

/// Why a plan file may not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// An edit touches something the planner never writes for this spec.
    #[error(
        "the plan file edits {resource}, which s3fix never writes for this spec ({why}); nothing was written"
    )]
    OutOfScope {
        /// The resource.
        resource: String,
        /// Why it is out of scope.
        why: String,
    },
    /// The file differs from what s3fix plans now.
    #[error(
        "the plan file does not match what s3fix plans now: {difference}; it was edited, or the world changed; nothing was written"
    )]
    Differs {
        /// The first difference.
        difference: String,
    },
}

/// Whether an edit needs a deliberate confirmation: it narrows a Deny, or it changes how every
/// object of the bucket is authorized (Object Ownership, the bucket ACL).
pub fn is_security_sensitive(edit: &Edit) -> bool {
    edit.security_sensitive
        || matches!(
            edit.resource,
            ResourceRef::OwnershipControls { .. } | ResourceRef::BucketAcl { .. }
        )
}

/// The KMS keys that encrypt the spec's objects: the bucket's default key and the keys of the
/// objects under the spec's patterns, as ARNs.
fn spec_keys(plan: &Plan, world: &World) -> Vec<String> {
    let spec = &plan.spec;
    let Some(bucket) = world.bucket(&spec.bucket) else {
        return Vec::new();
    };
    let covered = |key: &str| {
        spec.keys.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == pattern,
        })
    };
    bucket
        .objects
        .iter()
        .filter(|object| covered(&object.key))
        .filter_map(|object| object.encryption.as_ref())
        .chain(bucket.default_encryption.as_ref())
        .filter_map(|encryption| encryption.kms_key_id.as_deref())
        .map(|reference| {
            world
                .key(reference)
                .map_or_else(|| reference.to_string(), |key| key.arn.clone())
        })
        .collect()
}

/// Every edit touches only what the planner may write for the plan's spec: the principal's
/// `s3fix-<bucket>` inline policy; the spec's bucket's policy, ACL and Object Ownership; the key
/// policies of the keys that encrypt the spec's objects; the policy of the spec's own access point.
pub fn check_scope(plan: &Plan, world: &World) -> Result<(), VerifyError> {
    let spec = &plan.spec;
    let keys = spec_keys(plan, world);
    for edit in &plan.edits {
        let out_of_scope = |why: String| VerifyError::OutOfScope {
            resource: edit.resource.describe(),
            why,
        };
        match &edit.resource {
            ResourceRef::InlinePolicy { principal, name } => {
                let expected = owned_policy_name(&spec.bucket);
                let same_principal = world
                    .principal(&spec.principal)
                    .is_some_and(|found| found.arn == *principal)
                    || *principal == spec.principal;
                if !same_principal {
                    return Err(out_of_scope(format!(
                        "the spec's principal is `{}`",
                        spec.principal
                    )));
                }
                if *name != expected {
                    return Err(out_of_scope(format!(
                        "s3fix only writes its own inline policy `{expected}`"
                    )));
                }
            }
            ResourceRef::BucketPolicy { bucket }
            | ResourceRef::OwnershipControls { bucket }
            | ResourceRef::BucketAcl { bucket } => {
                if *bucket != spec.bucket {
                    return Err(out_of_scope(format!("the spec's bucket is `{}`", spec.bucket)));
                }
            }
            ResourceRef::KeyPolicy { key } => {
                let arn = world
                    .key(key)
                    .map_or_else(|| key.clone(), |found| found.arn.clone());
                if !keys.contains(&arn) {
                    return Err(out_of_scope(
                        "it does not encrypt the spec's objects or the bucket's default encryption".into(),
                    ));
                }
            }
            ResourceRef::AccessPointPolicy { access_point } => {
                let own = super::build::spec_access_point(world, spec);
                if own.as_deref() != Some(access_point.as_str()) {
                    return Err(out_of_scope(match own {
                        Some(own) => format!("the spec's access point is `{own}`"),
                        None => "the spec names no access point of the world".into(),
                    }));
                }
            }
            _ => return Err(out_of_scope("it is read only".into())),
        }
    }
    Ok(())
}

fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    let print = |value: Option<&Value>| value.map(|value| fingerprint(&canonical(value)));
    print(a) == print(b)
}

/// A JSON value for a message: canonical, cut after `limit` characters with `…` and `suffix`.
pub fn brief(value: Option<&Value>, limit: usize, suffix: &str) -> String {
    let text = value.map_or_else(|| "absent".to_string(), |value| canonical(value).to_string());
    if text.chars().count() > limit {
        format!("{}…{suffix}", text.chars().take(limit).collect::<String>())
    } else {
        text
    }
}

/// The file's plan against the plan computed now: the same edits (canonical documents), in the
/// same order, the same fingerprints, expectations and proof. The first difference is named.
pub fn compare(file: &Plan, now: &Plan) -> Result<(), VerifyError> {
    let differs = |difference: String| Err(VerifyError::Differs { difference });
    if file.spec != now.spec {
        return differs("the spec differs".into());
    }
    for (index, pair) in file.edits.iter().zip(now.edits.iter()).enumerate() {
        let (recorded, computed) = pair;
        let number = index + 1;
        if recorded.resource != computed.resource {
            return differs(format!(
                "edit {number} writes {}, s3fix would write {}",
                recorded.resource.describe(),
                computed.resource.describe()
            ));
        }
        let what = recorded.resource.describe();
        if !same_value(recorded.before.as_ref(), computed.before.as_ref()) {
            return differs(format!(
                "edit {number} ({what}) records its value before as {}, it is {} now",
                brief(recorded.before.as_ref(), 160, ""),
                brief(computed.before.as_ref(), 160, "")
            ));
        }
        if !same_value(Some(&recorded.after), Some(&computed.after)) {
            return differs(format!(
                "edit {number} ({what}) would write {}, s3fix plans {}",
                brief(Some(&recorded.after), 160, ""),
                brief(Some(&computed.after), 160, "")
            ));
        }
        if recorded.operation != computed.operation
            || recorded.security_sensitive != computed.security_sensitive
        {
            return differs(format!("edit {number} ({what}) is marked differently"));
        }
        // The exact text is part of the contract: a plan whose text was edited by hand, or read
        // from a document stored in another layout since, is refused like any other difference.
        if recorded.before_text != computed.before_text {
            return differs(format!(
                "edit {number} ({what}) records the document's text before differently from its stored text now"
            ));
        }
        if recorded.after_text != computed.after_text {
            return differs(format!(
                "edit {number} ({what}) would write a text other than the one s3fix plans"
            ));
        }
    }
    match file.edits.len().cmp(&now.edits.len()) {
        std::cmp::Ordering::Less => {
            if let Some(missing) = now.edits.get(file.edits.len()) {
                return differs(format!(
                    "s3fix would also write {} (edit {})",
                    missing.resource.describe(),
                    file.edits.len() + 1
                ));
            }
        }
        std::cmp::Ordering::Greater => {
            if let Some(extra) = file.edits.get(now.edits.len()) {
                return differs(format!(
                    "edit {} ({}) is not needed now",
                    now.edits.len() + 1,
                    extra.resource.describe()
                ));
            }
        }
        std::cmp::Ordering::Equal => {}
    }
    if file.fingerprints != now.fingerprints {
        let recorded: Vec<_> = file.fingerprints.iter().collect();
        let difference = now
            .fingerprints
            .iter()
            .find(|computed| !recorded.contains(computed))
            .map_or_else(
                || "the plan file records resources s3fix does not read for this spec".to_string(),
                |computed| {
                    format!(
                        "{} is not as the plan file recorded it",
                        computed.resource.describe()
                    )
                },
            );
        return differs(difference);
    }
    if file.expected != now.expected {
        return differs("the expected decisions differ".into());
    }
    if file.proof != now.proof {
        return differs("the recorded proof is not the proof s3fix computes now".into());
    }
    if file.options != now.options {
        return differs("the plan options differ".into());
    }
    Ok(())
}
