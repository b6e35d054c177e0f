//! IAM reads: a role or user with its inline, managed and group policies, boundary and tags.

use super::error::{Failure, FailureClass};
use crate::adapter::{AdapterError, PrincipalRef, PrincipalRefKind};
use crate::core::world::{
    Group, ItemKind, ManagedPolicy, NamedPolicy, Principal, PrincipalKind, UnknownItem,
};
use futures::future::join_all;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Parse an IAM policy document, which IAM returns URL-encoded (RFC 3986).
///
/// A document that already starts with `{` is taken as it is, so a literal `%` in plain JSON is
/// never decoded twice.
pub(crate) fn decode_policy_document(text: &str) -> Result<Value, String> {
    decode_policy(text).map(|(document, _)| document)
}

/// Parse an IAM policy document as [`decode_policy_document`] does, keeping its exact decoded text.
pub(crate) fn decode_policy(text: &str) -> Result<(Value, String), String> {
    let trimmed = text.trim_start();
    let decoded = if trimmed.starts_with('{') {
        text.to_string()
    } else {
        percent_encoding::percent_decode_str(trimmed)
            .decode_utf8()
            .map_err(|error| format!("the policy document is not UTF-8 once decoded: {error}"))?
            .into_owned()
    };
    let document = serde_json::from_str(&decoded)
        .map_err(|error| format!("the policy document is not JSON: {error}"))?;
    Ok((document, decoded))
}

/// A failure for a document that could not be parsed.
fn document_failure(message: String) -> Failure {
    Failure {
        code: Some("MalformedPolicyDocument".into()),
        message: Some(message),
        status: None,
        detail: String::new(),
        bucket_region: None,
    }
}

/// Which IAM entity owns inline and attached policies.
#[derive(Debug, Clone, Copy)]
enum Holder<'a> {
    Role(&'a str),
    User(&'a str),
    Group(&'a str),
}

/// The names of the holder's inline policies.
async fn inline_policy_names(iam: &aws_sdk_iam::Client, holder: Holder<'_>) -> Result<Vec<String>, Failure> {
    match holder {
        Holder::Role(name) => iam
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| Failure::from_sdk(&error)),
        Holder::User(name) => iam
            .list_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| Failure::from_sdk(&error)),
        Holder::Group(name) => iam
            .list_group_policies()
            .group_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| Failure::from_sdk(&error)),
    }
}

/// One inline policy's document.
async fn inline_policy(
    iam: &aws_sdk_iam::Client,
    holder: Holder<'_>,
    policy_name: &str,
) -> Result<NamedPolicy, Failure> {
    let document = match holder {
        Holder::Role(name) => iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|output| output.policy_document().to_string())
            .map_err(|error| Failure::from_sdk(&error)),
        Holder::User(name) => iam
            .get_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|output| output.policy_document().to_string())
            .map_err(|error| Failure::from_sdk(&error)),
        Holder::Group(name) => iam
            .get_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|output| output.policy_document().to_string())
            .map_err(|error| Failure::from_sdk(&error)),
    }?;
    let (document, text) = decode_policy(&document).map_err(document_failure)?;
    Ok(NamedPolicy {
        name: policy_name.to_string(),
        document,
        document_text: Some(text),
    })
}

/// Every inline policy of the holder, in IAM's order.
async fn inline_policies(iam: &aws_sdk_iam::Client, holder: Holder<'_>) -> Result<Vec<NamedPolicy>, Failure> {
    let names = inline_policy_names(iam, holder).await?;
    join_all(names.iter().map(|name| inline_policy(iam, holder, name)))
        .await
        .into_iter()
        .collect()
}

/// The ARNs of the holder's attached managed policies.
async fn attached_policy_arns(iam: &aws_sdk_iam::Client, holder: Holder<'_>) -> Result<Vec<String>, Failure> {
    let attached = match holder {
        Holder::Role(name) => iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| Failure::from_sdk(&error)),
        Holder::User(name) => iam
            .list_attached_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| Failure::from_sdk(&error)),
        Holder::Group(name) => iam
            .list_attached_group_policies()
            .group_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| Failure::from_sdk(&error)),
    }?;
    Ok(attached
        .iter()
        .filter_map(|policy| policy.policy_arn().map(str::to_string))
        .collect())
}

/// A managed policy at its default version (`GetPolicy` + `GetPolicyVersion`).
async fn managed_policy(iam: &aws_sdk_iam::Client, arn: &str) -> Result<ManagedPolicy, Failure> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    let Some(version_id) = policy.policy().and_then(|policy| policy.default_version_id()) else {
        return Err(document_failure(format!("policy `{arn}` has no default version")));
    };
    let version = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version_id)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    let Some(document) = version.policy_version().and_then(|version| version.document()) else {
        return Err(document_failure(format!(
            "policy `{arn}` version `{version_id}` has no document"
        )));
    };
    Ok(ManagedPolicy {
        arn: arn.to_string(),
        version_id: Some(version_id.to_string()),
        document: decode_policy_document(document).map_err(document_failure)?,
    })
}

/// What IAM says about the entity itself (`GetRole` / `GetUser`).
struct Entity {
    arn: String,
    unique_id: String,
    boundary_arn: Option<String>,
    tags: BTreeMap<String, String>,
}

async fn get_entity(iam: &aws_sdk_iam::Client, reference: &PrincipalRef) -> Result<Entity, Failure> {
    let tags = |tags: &[aws_sdk_iam::types::Tag]| {
        tags.iter()
            .map(|tag| (tag.key().to_string(), tag.value().to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    if reference.is_role() {
        let output = iam
            .get_role()
            .role_name(&reference.name)
            .send()
            .await
            .map_err(|error| Failure::from_sdk(&error))?;
        let role = output
            .role()
            .ok_or_else(|| document_failure("GetRole returned no role".into()))?;
        Ok(Entity {
            arn: role.arn().to_string(),
            unique_id: role.role_id().to_string(),
            boundary_arn: role
                .permissions_boundary()
                .and_then(|boundary| boundary.permissions_boundary_arn())
                .map(str::to_string),
            tags: tags(role.tags()),
        })
    } else {
        let output = iam
            .get_user()
            .user_name(&reference.name)
            .send()
            .await
            .map_err(|error| Failure::from_sdk(&error))?;
        let user = output
            .user()
            .ok_or_else(|| document_failure("GetUser returned no user".into()))?;
        Ok(Entity {
            arn: user.arn().to_string(),
            unique_id: user.user_id().to_string(),
            boundary_arn: user
                .permissions_boundary()
                .and_then(|boundary| boundary.permissions_boundary_arn())
                .map(str::to_string),
            tags: tags(user.tags()),
        })
    }
}

/// A group's name and ARN (`ListGroupsForUser`).
async fn groups_for_user(
    iam: &aws_sdk_iam::Client,
    user_name: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let groups = iam
        .list_groups_for_user()
        .user_name(user_name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    Ok(groups
        .iter()
        .map(|group| (group.group_name().to_string(), group.arn().to_string()))
        .collect())
}

/// The values of a read, or none with its failure recorded.
fn keep<T>(result: Result<Vec<T>, Failure>, failures: &mut Vec<Failure>) -> Vec<T> {
    match result {
        Ok(values) => values,
        Err(failure) => {
            failures.push(failure);
            Vec::new()
        }
    }
}

/// The principal and whatever of it could not be read.
pub(crate) struct PrincipalRead {
    /// The role or user (for a session ARN: its role).
    pub principal: Principal,
    /// Items that could not be read.
    pub unknown: Vec<UnknownItem>,
}

/// Read a role or user and every policy shaping its identity-side permissions.
///
/// `GetRole`/`GetUser` answering "no such entity" is an error naming `given_arn`; a denied or
/// failed read leaves the principal's policies unknown.
pub(crate) async fn read_principal(
    iam: &aws_sdk_iam::Client,
    reference: &PrincipalRef,
    given_arn: &str,
    session_label: &str,
) -> Result<PrincipalRead, AdapterError> {
    // Expired or rejected credentials end the observation, whichever read meets them.
    let fatal = |failure: &Failure| match failure.class() {
        FailureClass::Expired => Some(AdapterError::ExpiredCredentials {
            session: session_label.to_string(),
        }),
        FailureClass::BadCredentials => Some(AdapterError::Credentials {
            session: session_label.to_string(),
            reason: failure.reason(),
        }),
        _ => None,
    };
    let holder = if reference.is_role() {
        Holder::Role(&reference.name)
    } else {
        Holder::User(&reference.name)
    };
    let (entity, inline, attached, groups) = futures::join!(
        get_entity(iam, reference),
        inline_policies(iam, holder),
        attached_policy_arns(iam, holder),
        async {
            match reference.kind {
                PrincipalRefKind::User => groups_for_user(iam, &reference.name).await,
                PrincipalRefKind::Role | PrincipalRefKind::AssumedRole => Ok(Vec::new()),
            }
        },
    );
    let kind = if reference.is_role() {
        PrincipalKind::Role
    } else {
        PrincipalKind::User
    };
    let entity = match entity {
        Ok(entity) => entity,
        Err(failure) => {
            if let Some(error) = fatal(&failure) {
                return Err(error);
            }
            // Only GetRole/GetUser decides that the principal does not exist: a managed policy
            // deleted meanwhile is an unknown item, not a missing principal.
            if failure.class() == FailureClass::NoSuchResource {
                return Err(AdapterError::NoSuchPrincipal {
                    arn: given_arn.to_string(),
                });
            }
            // Without GetRole/GetUser the path and boundary are unknown: name it by its
            // path-less ARN and leave its policies unknown.
            let resource = if reference.is_role() { "role" } else { "user" };
            let arn = format!(
                "arn:{}:iam::{}:{resource}/{}",
                reference.partition, reference.account, reference.name
            );
            let unknown = [ItemKind::IdentityPolicies, ItemKind::PermissionsBoundary]
                .into_iter()
                .map(|item| UnknownItem {
                    item,
                    resource: arn.clone(),
                    reason: failure.reason(),
                })
                .collect();
            return Ok(PrincipalRead {
                principal: Principal {
                    arn,
                    kind,
                    unique_id: None,
                    inline_policies: Vec::new(),
                    managed_policies: Vec::new(),
                    groups: Vec::new(),
                    permissions_boundary: None,
                    tags: BTreeMap::new(),
                },
                unknown,
            });
        }
    };

    let mut failures: Vec<Failure> = Vec::new();
    let inline = keep(inline, &mut failures);
    let attached = keep(attached, &mut failures);
    let groups = keep(groups, &mut failures);

    // Each group's policies, concurrently.
    let group_reads = join_all(groups.iter().map(|(name, _)| async move {
        futures::join!(
            inline_policies(iam, Holder::Group(name)),
            attached_policy_arns(iam, Holder::Group(name))
        )
    }))
    .await;

    // Every managed policy once, even when attached twice or also the boundary.
    let mut managed_arns: BTreeSet<String> = attached.iter().cloned().collect();
    for (_, group_attached) in &group_reads {
        if let Ok(arns) = group_attached {
            managed_arns.extend(arns.iter().cloned());
        }
    }
    managed_arns.extend(entity.boundary_arn.iter().cloned());
    let managed: BTreeMap<&str, Result<ManagedPolicy, Failure>> = managed_arns
        .iter()
        .map(String::as_str)
        .zip(join_all(managed_arns.iter().map(|arn| managed_policy(iam, arn))).await)
        .collect();
    let managed_list = |arns: &[String], failures: &mut Vec<Failure>| -> Vec<ManagedPolicy> {
        arns.iter()
            .filter_map(|arn| match managed.get(arn.as_str()) {
                Some(Ok(policy)) => Some(policy.clone()),
                Some(Err(failure)) => {
                    failures.push(failure.clone());
                    None
                }
                None => None,
            })
            .collect()
    };
    let managed_policies = managed_list(&attached, &mut failures);
    let mut group_values = Vec::new();
    for ((_, group_arn), (group_inline, group_attached)) in groups.iter().zip(group_reads) {
        let inline_policies = keep(group_inline, &mut failures);
        let attached = keep(group_attached, &mut failures);
        group_values.push(Group {
            arn: group_arn.clone(),
            inline_policies,
            managed_policies: managed_list(&attached, &mut failures),
        });
    }

    let mut unknown = Vec::new();
    if let Some(error) = failures.iter().find_map(&fatal) {
        return Err(error);
    }
    if let Some(failure) = failures.first() {
        unknown.push(UnknownItem {
            item: ItemKind::IdentityPolicies,
            resource: entity.arn.clone(),
            reason: failure.reason(),
        });
    }
    let permissions_boundary = match entity.boundary_arn.as_deref().map(|arn| managed.get(arn)) {
        Some(Some(Ok(policy))) => Some(policy.clone()),
        Some(Some(Err(failure))) => {
            if let Some(error) = fatal(failure) {
                return Err(error);
            }
            unknown.push(UnknownItem {
                item: ItemKind::PermissionsBoundary,
                resource: entity.arn.clone(),
                reason: failure.reason(),
            });
            None
        }
        Some(None) | None => None,
    };
    Ok(PrincipalRead {
        principal: Principal {
            arn: entity.arn,
            kind,
            unique_id: Some(entity.unique_id),
            inline_policies: inline,
            managed_policies,
            groups: group_values,
            permissions_boundary,
            tags: entity.tags,
        },
        unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_policy_document(encoded),
            Ok(serde_json::json!({"Version": "2012-10-17", "Statement": []}))
        );
    }

    #[test]
    fn plain_json_is_not_decoded_again() {
        let plain = r#"{"Sid":"100%25"}"#;
        assert_eq!(
            decode_policy_document(plain),
            Ok(serde_json::json!({"Sid": "100%25"}))
        );
    }

    #[test]
    fn bad_documents_are_reported() {
        assert!(decode_policy_document("%7Bnot json").is_err());
        assert!(decode_policy_document("%FF%FE").is_err());
    }
}
