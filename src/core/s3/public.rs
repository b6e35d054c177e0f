//! What S3 Block Public Access calls "public", for bucket policies and ACLs.
//!
//! Source: Amazon S3 User Guide, "Blocking public access to your Amazon S3 storage" → "The
//! meaning of public" (access-control-block-public-access.html). S3 starts from "public" and calls
//! a policy non-public only when every Allow statement grants to fixed values: a named principal,
//! or a condition that pins the caller with fixed values (no wildcards, no policy variables) of
//! `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`, `aws:SourceAccount`,
//! `aws:PrincipalOrgID`, `s3:x-amz-server-side-encryption-aws-kms-key-id`, `aws:userid` outside
//! `AROLEID:*`, `s3:DataAccessPointArn`, `s3:DataAccessPointAccount`, or an `aws:SourceIp` range no
//! broader than /8 (IPv4) or /32 (IPv6). An ACL is public when it grants to `AllUsers` or
//! `AuthenticatedUsers`.
//!
//! `aws:PrincipalAccount` and `aws:PrincipalArn` with fixed values pin the caller as firmly as a
//! named principal does, so they are accepted too.

use crate::core::policy::condition::{ConditionValue, Family, SetQualifier};
use crate::core::policy::{Effect, Pattern, Policy, Statement, Template};
use crate::core::world::{Acl, Grantee};

/// The `AllUsers` group URI.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The `AuthenticatedUsers` group URI.
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// The S3 log delivery group URI.
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Condition keys whose fixed values make a `*` grant non-public.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
    "aws:sourceip",
];

/// The positions of the statements that make a bucket policy public (empty = not public).
pub fn public_statements(policy: &Policy) -> Vec<usize> {
    policy
        .statements
        .iter()
        .enumerate()
        .filter(|(_, statement)| statement_is_public(statement))
        .map(|(position, _)| position)
        .collect()
}

/// Whether one statement grants public access.
pub fn statement_is_public(statement: &Statement) -> bool {
    if statement.effect != Effect::Allow {
        return false;
    }
    let Some(principal) = &statement.principal else {
        return false;
    };
    // `*` and federated identities (web identity providers, SAML) are public; named accounts,
    // roles, users and AWS services are not.
    if !principal.any && principal.federated.is_empty() {
        return false;
    }
    !statement.conditions.iter().any(|condition| {
        let operator = condition.operator;
        let positive =
            !operator.negated && !operator.if_exists && operator.qualifier != SetQualifier::AllValues;
        positive && RESTRICTING_KEYS.contains(&condition.key_lowercase.as_str()) && all_fixed(condition)
    })
}

/// Whether every value of a condition is fixed (no wildcard, no variable) and narrow enough.
fn all_fixed(condition: &crate::core::policy::Condition) -> bool {
    let key = condition.key_lowercase.as_str();
    condition.values.iter().all(|value| match value {
        ConditionValue::Text(Template::Fixed(text))
        | ConditionValue::TextIgnoreCase(Template::Fixed(text)) => {
            // aws:userid of the form `AROLEID:*` names any session of a role, which is fine;
            // literal text is fixed.
            !text.is_empty()
        }
        ConditionValue::Like(Template::Fixed(pattern)) => match pattern {
            Pattern::Exact(_) => true,
            // `AROAEXAMPLE:*` is the documented exception for aws:userid.
            Pattern::Prefix(prefix) => key == "aws:userid" && prefix.ends_with(':'),
            _ => false,
        },
        ConditionValue::Arn(components) => components.iter().enumerate().all(|(index, component)| {
            match component {
                Template::Fixed(Pattern::Exact(_)) => true,
                // An access point name may be a wildcard when the account is fixed.
                Template::Fixed(_) => key == "s3:dataaccesspointarn" && index == 5,
                Template::Variable(_) => false,
            }
        }),
        ConditionValue::Cidr(network) => {
            condition.operator.family == Family::Ip
                && match network {
                    ipnet::IpNet::V4(v4) => v4.prefix_len() >= 8 || is_private_v4(v4),
                    ipnet::IpNet::V6(v6) => v6.prefix_len() >= 32,
                }
        }
        _ => false,
    })
}

fn is_private_v4(network: &ipnet::Ipv4Net) -> bool {
    let address = network.network();
    address.is_private() && network.prefix_len() >= 8
}

/// Whether an ACL grants to everyone or to every authenticated AWS user.
pub fn acl_is_public(acl: &Acl) -> bool {
    acl.grants.iter().any(|grant| match &grant.grantee {
        Grantee::Group { uri } => uri == ALL_USERS || uri == AUTHENTICATED_USERS,
        Grantee::CanonicalUser { .. } => false,
    })
}

/// Canned ACLs that grant to `AllUsers` or `AuthenticatedUsers` (S3 User Guide, "Canned ACL").
const PUBLIC_CANNED_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];

/// Grant headers a PUT may carry (`s3:x-amz-grant-…` condition keys).
const GRANT_KEYS: &[&str] = &[
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control",
];

/// Whether the request's ACL headers make the object or bucket public, and which header: a
/// public canned ACL in `s3:x-amz-acl`, or a grant to AllUsers or AuthenticatedUsers. Block
/// Public Access `BlockPublicAcls` rejects such a PUT (access-control-block-public-access.html).
pub fn request_acl_public(context: &[(String, crate::core::eval::ContextEntry)]) -> Option<String> {
    use crate::core::eval::ContextEntry;
    let values = |entry: &ContextEntry| match entry {
        ContextEntry::Single(value) => vec![value.clone()],
        ContextEntry::Multi(values) => values.clone(),
    };
    for (key, entry) in context {
        let key_lower = key.to_ascii_lowercase();
        for value in values(entry) {
            if key_lower == "s3:x-amz-acl" && PUBLIC_CANNED_ACLS.contains(&value.as_str()) {
                return Some(format!("x-amz-acl: {value}"));
            }
            if GRANT_KEYS.contains(&key_lower.as_str())
                && (value.contains(ALL_USERS) || value.contains(AUTHENTICATED_USERS))
            {
                return Some(format!("{}: {value}", key_lower.trim_start_matches("s3:")));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::{PolicyKind, parse_policy};
    use serde_json::json;

    fn public(statement: serde_json::Value) -> bool {
        let document = json!({"Version": "2012-10-17", "Statement": [statement]});
        parse_policy(&document, PolicyKind::Resource)
            .map(|p| !public_statements(&p).is_empty())
            .unwrap_or(false)
    }

    #[test]
    fn star_principal_is_public_unless_pinned() {
        let base = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        assert!(public(base.clone()));
        let mut pinned = base.clone();
        pinned["Condition"] = json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}});
        assert!(!public(pinned));
        let mut wildcard = base.clone();
        wildcard["Condition"] = json!({"StringLike": {"aws:SourceVpce": "vpce-*"}});
        assert!(public(wildcard));
        let mut org = base.clone();
        org["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}});
        assert!(!public(org));
        let mut wide_ip = base.clone();
        wide_ip["Condition"] = json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}});
        assert!(public(wide_ip));
        let mut narrow_ip = base;
        narrow_ip["Condition"] = json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}});
        assert!(!public(narrow_ip));
    }

    #[test]
    fn federated_grant_is_public() {
        assert!(public(
            json!({"Effect": "Allow", "Principal": {"Federated": "graph.facebook.com"},
            "Action": "s3:PutObject", "Resource": "*"})
        ));
    }

    #[test]
    fn named_principal_and_deny_are_not_public() {
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
        ));
        assert!(!public(
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})
        ));
    }
}
