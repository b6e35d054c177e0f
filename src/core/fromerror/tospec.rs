//! The access spec for a denied request: what `s3fix plan` needs to grant exactly it.

use super::role_of_session;
use crate::core::eval::{Requester, RequesterKind};
use crate::core::s3::S3Action;
use crate::core::spec::{Access, AccountSection, Spec};
use std::collections::BTreeMap;

/// Why a request cannot become a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToSpecError {
    /// Specs grant read, list and write only.
    #[error("`{0}` has no access spec")]
    Unsupported(String),
    /// Specs name IAM roles and users.
    #[error("principal `{0}` is not an IAM role, user or assumed-role session")]
    Principal(String),
}

/// The request a spec is written for, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecRequest {
    /// The caller: role, user or assumed-role session ARN.
    pub principal: String,
    /// The operation.
    pub action: S3Action,
    /// The bucket.
    pub bucket: String,
    /// The object key, or the prefix of a list.
    pub key: String,
    /// The request context.
    pub context: BTreeMap<String, String>,
    /// The role to assume in the bucket's account.
    pub bucket_role: Option<String>,
    /// The role to assume in the caller's account.
    pub caller_role: Option<String>,
}

/// The spec granting exactly `request`: a session becomes its role (specs name roles and
/// users); HEAD and GET are `read`, a list is `list` on the prefix, PUT is `write`.
pub fn spec_for(request: &SpecRequest) -> Result<Spec, ToSpecError> {
    let principal = role_of_session(&request.principal);
    let is_iam = Requester::parse(&principal)
        .is_ok_and(|requester| matches!(requester.kind, RequesterKind::Role | RequesterKind::User));
    if !is_iam {
        return Err(ToSpecError::Principal(request.principal.clone()));
    }
    let (access, key) = match request.action {
        S3Action::Get | S3Action::Head => (Access::Read, request.key.clone()),
        S3Action::Put => (Access::Write, request.key.clone()),
        S3Action::List => (Access::List, format!("{}*", request.key)),
        other => return Err(ToSpecError::Unsupported(other.iam_action().to_string())),
    };
    Ok(Spec {
        principal,
        bucket: request.bucket.clone(),
        keys: vec![key],
        access: vec![access],
        context: request.context.clone(),
        access_point: None,
        bucket_account: AccountSection {
            role: request.bucket_role.clone(),
            external_id: None,
        },
        caller_account: AccountSection {
            role: request.caller_role.clone(),
            external_id: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(action: S3Action, key: &str) -> SpecRequest {
        SpecRequest {
            principal: "arn:aws:sts::222222222222:assumed-role/my-app-role/session1".into(),
            action,
            bucket: "my-bucket".into(),
            key: key.into(),
            context: BTreeMap::new(),
            bucket_role: None,
            caller_role: None,
        }
    }

    #[test]
    fn head_object_becomes_read_of_that_key_for_the_role() {
        let spec = spec_for(&request(S3Action::Head, "data/report.csv"));
        let spec = spec.as_ref().ok();
        assert_eq!(
            spec.map(|spec| spec.principal.as_str()),
            Some("arn:aws:iam::222222222222:role/my-app-role")
        );
        assert_eq!(spec.map(|spec| spec.access.clone()), Some(vec![Access::Read]));
        assert_eq!(
            spec.map(|spec| spec.keys.clone()),
            Some(vec!["data/report.csv".to_string()])
        );
    }

    #[test]
    fn list_becomes_list_on_the_prefix() {
        let spec = spec_for(&request(S3Action::List, "data/"));
        assert_eq!(spec.ok().map(|spec| spec.keys), Some(vec!["data/*".to_string()]));
    }

    #[test]
    fn delete_has_no_spec() {
        assert!(matches!(
            spec_for(&request(S3Action::Delete, "k")),
            Err(ToSpecError::Unsupported(_))
        ));
    }
}
