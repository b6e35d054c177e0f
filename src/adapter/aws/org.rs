//! Organizations reads: the SCPs and RCPs on an account's path to the root.

use super::error::Failure;
use crate::core::world::NamedPolicy;
use aws_sdk_organizations::types::PolicyType;
use futures::future::join_all;
use std::collections::BTreeMap;

/// The organization policies that apply to one account.
#[derive(Debug, Default)]
pub(crate) struct OrgPolicies {
    /// SCPs per level, root first and the account last.
    pub scps: Vec<Vec<NamedPolicy>>,
    /// Custom RCPs anywhere on the path (`RCPFullAWSAccess` left out: it is implied).
    pub rcps: Vec<NamedPolicy>,
    /// The targets on the path, root first and the account last: where each SCP level is.
    pub path: Vec<String>,
}

/// Whether a failure means "this account is not in an organization".
fn not_in_organization(failure: &Failure) -> bool {
    failure.code.as_deref() == Some("AWSOrganizationsNotInUseException")
}

/// The targets from the root down to the account itself (`ListParents` up to the root).
async fn path_to_root(
    organizations: &aws_sdk_organizations::Client,
    account: &str,
) -> Result<Vec<String>, Failure> {
    let mut path = vec![account.to_string()];
    let mut child = account.to_string();
    // INVARIANT: an OU tree is at most 5 levels deep below the root; the bound guards a cycle.
    for _ in 0..8 {
        let output = organizations
            .list_parents()
            .child_id(&child)
            .send()
            .await
            .map_err(|error| Failure::from_sdk(&error))?;
        let Some(parent) = output.parents().first() else {
            break;
        };
        let Some(id) = parent.id() else { break };
        path.push(id.to_string());
        if parent.r#type().map(|kind| kind.as_str()) == Some("ROOT") {
            break;
        }
        child = id.to_string();
    }
    path.reverse();
    Ok(path)
}

/// The policy ids and names of one type attached to a target.
async fn attached(
    organizations: &aws_sdk_organizations::Client,
    target: &str,
    policy_type: PolicyType,
) -> Result<Vec<(String, String, bool)>, Failure> {
    let mut policies = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let output = organizations
            .list_policies_for_target()
            .target_id(target)
            .filter(policy_type.clone())
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| Failure::from_sdk(&error))?;
        policies.extend(output.policies().iter().filter_map(|policy| {
            Some((
                policy.id()?.to_string(),
                policy.name().unwrap_or_default().to_string(),
                policy.aws_managed(),
            ))
        }));
        match output.next_token() {
            Some(token) => next_token = Some(token.to_string()),
            None => return Ok(policies),
        }
    }
}

/// One policy's content (`DescribePolicy`).
async fn describe(
    organizations: &aws_sdk_organizations::Client,
    policy_id: &str,
) -> Result<serde_json::Value, Failure> {
    let output = organizations
        .describe_policy()
        .policy_id(policy_id)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    let content = output
        .policy()
        .and_then(|policy| policy.content())
        .unwrap_or_default();
    serde_json::from_str(content).map_err(|error| Failure {
        code: Some("MalformedPolicyDocument".into()),
        message: Some(format!("policy `{policy_id}` is not JSON: {error}")),
        status: None,
        detail: String::new(),
        bucket_region: None,
    })
}

/// The SCPs and RCPs on `account`'s path; empty when it is not in an organization.
///
/// `DescribeOrganization` (allowed to every member) tells whether there is an organization; the
/// path and policies need the management account or a delegated administrator.
pub(crate) async fn read_org_policies(
    organizations: &aws_sdk_organizations::Client,
    account: &str,
) -> Result<OrgPolicies, Failure> {
    match organizations.describe_organization().send().await {
        Ok(_) => {}
        Err(error) => {
            let failure = Failure::from_sdk(&error);
            if not_in_organization(&failure) {
                return Ok(OrgPolicies::default());
            }
            return Err(failure);
        }
    }
    read_path_policies(organizations, account).await
}

/// The SCPs and RCPs of an account other than the session's own (the owner of a KMS key in a
/// third account), read through the session's organization. That the session's account is in no
/// organization says nothing about the other account's, so it is a failure (the policies stay
/// unknown), as is an account outside the session's organization (`ListParents` fails).
pub(crate) async fn read_other_account_org_policies(
    organizations: &aws_sdk_organizations::Client,
    account: &str,
) -> Result<OrgPolicies, Failure> {
    if let Err(error) = organizations.describe_organization().send().await {
        return Err(Failure::from_sdk(&error));
    }
    read_path_policies(organizations, account).await
}

/// The policies on `account`'s path, once the organization is known to exist.
async fn read_path_policies(
    organizations: &aws_sdk_organizations::Client,
    account: &str,
) -> Result<OrgPolicies, Failure> {
    let path = path_to_root(organizations, account).await?;
    let levels = join_all(path.iter().map(|target| async move {
        futures::join!(
            attached(organizations, target, PolicyType::ServiceControlPolicy),
            attached(organizations, target, PolicyType::ResourceControlPolicy),
        )
    }))
    .await;
    let mut scp_levels = Vec::new();
    let mut rcp_ids = Vec::new();
    for (scps, rcps) in levels {
        scp_levels.push(scps?);
        for (id, name, aws_managed) in rcps? {
            // RCPFullAWSAccess is implied everywhere; World lists custom RCPs only.
            if !aws_managed && !rcp_ids.iter().any(|(known, _): &(String, String)| *known == id) {
                rcp_ids.push((id, name));
            }
        }
    }
    // Each policy once, even when attached at several levels.
    let mut ids: Vec<&str> = scp_levels
        .iter()
        .flatten()
        .map(|(id, _, _)| id.as_str())
        .collect();
    ids.extend(rcp_ids.iter().map(|(id, _)| id.as_str()));
    ids.sort_unstable();
    ids.dedup();
    let documents: BTreeMap<&str, serde_json::Value> = ids
        .iter()
        .copied()
        .zip(join_all(ids.iter().map(|id| describe(organizations, id))).await)
        .map(|(id, document)| document.map(|document| (id, document)))
        .collect::<Result<_, _>>()?;
    let named = |id: &str, name: &str| NamedPolicy {
        name: name.to_string(),
        document: documents.get(id).cloned().unwrap_or(serde_json::Value::Null),
        document_text: None,
    };
    Ok(OrgPolicies {
        scps: scp_levels
            .iter()
            .map(|level| level.iter().map(|(id, name, _)| named(id, name)).collect())
            .collect(),
        rcps: rcp_ids.iter().map(|(id, name)| named(id, name)).collect(),
        path,
    })
}
