//! S3 ACL grants read as resource-policy statements, so the engine weighs them like any other
//! grant: a grant to an account delegates to that account (its identity policies must allow), a
//! grant to `AllUsers` is public, the log-delivery group is the S3 logging service.
//!
//! Permissions (Amazon S3 User Guide, "Access control list (ACL) overview" → "ACL permissions"
//! and "Mapping of ACL permissions and access policy permissions"): READ on a bucket lists it
//! (`s3:ListBucket`), WRITE on a bucket creates objects (`s3:PutObject`) and, "for the bucket and
//! object owners of existing objects, also allows deletions" — so a deletion is weighed against
//! the bucket ACL's grants to the bucket owner and to the object's owner only
//! ([`AclScope::Deletion`]); READ on an object reads it (`s3:GetObject`), FULL_CONTROL is all of
//! them.

use super::public::{ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY};
use crate::core::world::{Acl, Grantee};
use serde_json::{Value, json};

/// Whether the ACL belongs to a bucket or to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclScope {
    /// A bucket ACL.
    Bucket,
    /// A bucket ACL weighed for a deletion: give it only the grants to the bucket owner and to
    /// the object's owner.
    Deletion,
    /// An object ACL.
    Object,
}

fn actions(scope: AclScope, permission: &str) -> &'static [&'static str] {
    match (scope, permission) {
        (AclScope::Bucket, "READ") => &["s3:ListBucket"],
        (AclScope::Bucket, "WRITE") => &["s3:PutObject"],
        (AclScope::Bucket, "FULL_CONTROL") => &["s3:ListBucket", "s3:PutObject"],
        (AclScope::Deletion, "WRITE" | "FULL_CONTROL") => &["s3:DeleteObject"],
        (AclScope::Object, "READ" | "FULL_CONTROL") => &["s3:GetObject", "s3:GetObjectVersion"],
        _ => &[],
    }
}

/// The grants of an ACL as a policy document (one statement per grant that grants an action),
/// and warnings for grants that cannot be attributed. `ignore_public` drops `AllUsers` and
/// `AuthenticatedUsers` grants (Block Public Access `IgnorePublicAcls`).
pub fn acl_policy(acl: &Acl, scope: AclScope, ignore_public: bool) -> (Value, Vec<String>) {
    let mut statements = Vec::new();
    let mut warnings = Vec::new();
    for (index, grant) in acl.grants.iter().enumerate() {
        let granted = actions(scope, &grant.permission);
        if granted.is_empty() {
            continue;
        }
        let principal = match &grant.grantee {
            Grantee::CanonicalUser {
                account: Some(account),
                ..
            } => {
                // An account id, as S3 writes it: the principal of that account in any partition.
                json!({"AWS": account})
            }
            Grantee::CanonicalUser { id, account: None } => {
                warnings.push(format!(
                    "ACL grant {index} to canonical user `{}` could not be mapped to an account; it is ignored",
                    id.as_deref().unwrap_or("?")
                ));
                continue;
            }
            Grantee::Group { uri } if uri == ALL_USERS || uri == AUTHENTICATED_USERS => {
                if ignore_public {
                    continue;
                }
                json!("*")
            }
            Grantee::Group { uri } if uri == LOG_DELIVERY => json!({"Service": "logging.s3.amazonaws.com"}),
            Grantee::Group { uri } => {
                warnings.push(format!("ACL grant {index} to unknown group `{uri}` is ignored"));
                continue;
            }
        };
        let mut statement = json!({
            "Sid": format!("Grant{index}{}", grant.permission),
            "Effect": "Allow",
            "Principal": principal,
            "Action": granted,
            "Resource": "*",
        });
        // AuthenticatedUsers is "any AWS account": every signed request, never an anonymous one
        // (ACL overview, "Amazon S3 predefined groups"). A signed request has a principal account.
        if matches!(&grant.grantee, Grantee::Group { uri } if uri == AUTHENTICATED_USERS)
            && let Some(object) = statement.as_object_mut()
        {
            object.insert(
                "Condition".into(),
                json!({"Null": {"aws:PrincipalAccount": "false"}}),
            );
        }
        statements.push(statement);
    }
    (
        json!({"Version": "2012-10-17", "Statement": statements}),
        warnings,
    )
}
