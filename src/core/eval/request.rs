//! The request being authorized: who, what action, which resource, and the request context.

use crate::core::arn::{Arn, PrincipalArn, PrincipalKind};
use crate::core::policy::condition::{ContextLookup, ContextValue};

/// What kind of caller makes the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequesterKind {
    /// No credentials (`*`).
    Anonymous,
    /// An AWS service principal such as `logging.s3.amazonaws.com`.
    Service,
    /// An account's root user.
    Root,
    /// An IAM user.
    User,
    /// An assumed-role session.
    RoleSession,
    /// A role ARN given directly (treated as a session of that role).
    Role,
    /// An STS federated user session.
    FederatedUser,
}

/// The caller, parsed once from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The kind of caller.
    pub kind: RequesterKind,
    /// The caller's ARN as given (`*` for anonymous, the service name for services).
    pub arn: String,
    /// The caller's account, for IAM principals.
    pub account: Option<String>,
    /// The ARN partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// `aws:PrincipalArn`: the role ARN for a session, else the caller's ARN.
    pub principal_arn: Option<String>,
    /// `aws:username`, for IAM users.
    pub username: Option<String>,
}

impl Requester {
    /// Parse a caller: an IAM ARN, a service principal, or `*` for anonymous.
    pub fn parse(text: &str) -> Result<Requester, String> {
        let mut requester = Requester {
            kind: RequesterKind::Anonymous,
            arn: text.to_string(),
            account: None,
            partition: "aws".to_string(),
            principal_arn: None,
            username: None,
        };
        if text == "*" || text.eq_ignore_ascii_case("anonymous") {
            requester.arn = "*".to_string();
            return Ok(requester);
        }
        if !text.starts_with("arn:") {
            if text.ends_with(".amazonaws.com") || text.ends_with(".amazonaws.com.cn") {
                requester.kind = RequesterKind::Service;
                return Ok(requester);
            }
            if text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit()) {
                requester.kind = RequesterKind::Root;
                requester.account = Some(text.to_string());
                requester.arn = format!("arn:aws:iam::{text}:root");
                requester.principal_arn = Some(requester.arn.clone());
                return Ok(requester);
            }
            return Err(format!(
                "`{text}` is not a principal ARN, a service principal or `*`"
            ));
        }
        let Some(parsed) = PrincipalArn::parse(text) else {
            return Err(match Arn::parse(text) {
                None => format!("`{text}` is not a valid ARN with a 12-digit account id"),
                Some(_) => format!("`{text}` is not a user, role, assumed-role, federated-user or root ARN"),
            });
        };
        let partition = parsed.arn.partition.clone();
        requester.account = Some(parsed.account.to_string());
        requester.principal_arn = Some(text.to_string());
        match parsed.kind {
            PrincipalKind::Root => requester.kind = RequesterKind::Root,
            PrincipalKind::User => {
                requester.kind = RequesterKind::User;
                requester.username = Some(parsed.name().to_string());
            }
            PrincipalKind::Role => requester.kind = RequesterKind::Role,
            PrincipalKind::RoleSession => {
                requester.kind = RequesterKind::RoleSession;
                requester.principal_arn =
                    Some(Arn::role(&partition, &parsed.account, parsed.name()).to_string());
            }
            PrincipalKind::FederatedUser => requester.kind = RequesterKind::FederatedUser,
        }
        requester.partition = partition;
        Ok(requester)
    }

    /// Whether the caller has identity-based policies (IAM users, roles and their sessions).
    pub fn has_identity_policies(&self) -> bool {
        matches!(
            self.kind,
            RequesterKind::User
                | RequesterKind::RoleSession
                | RequesterKind::Role
                | RequesterKind::FederatedUser
        )
    }

    /// Whether SCPs of the caller's organization apply (IAM principals of a member account).
    pub fn is_iam_principal(&self) -> bool {
        self.has_identity_policies() || self.kind == RequesterKind::Root
    }

    /// Whether the caller is a service-linked role or one of its sessions: its role ARN has the
    /// path `/aws-service-role/` (IAM User Guide, "Using service-linked roles"). A session ARN
    /// carries no path, so a session counts when `aws:PrincipalArn` (the role ARN) shows it, or
    /// its role name has the `AWSServiceRoleFor` prefix every service-linked role has.
    pub fn is_service_linked_role(&self) -> bool {
        let role_name = match self.kind {
            RequesterKind::Role => self.arn.rsplit('/').next(),
            RequesterKind::RoleSession => self.arn.split('/').nth(1),
            _ => return false,
        };
        self.principal_arn
            .as_deref()
            .is_some_and(|arn| arn.contains(":role/aws-service-role/"))
            || role_name.is_some_and(|name| name.starts_with("AWSServiceRoleFor"))
    }

    /// Every identity the caller stands for, as `NotPrincipal` must list them all to exempt it:
    /// the account, then the role (for sessions), then the caller itself.
    pub fn identities(&self) -> Vec<String> {
        let mut identities = Vec::with_capacity(3);
        if let Some(account) = &self.account {
            identities.push(format!("arn:{}:iam::{account}:root", self.partition));
        }
        if self.kind == RequesterKind::RoleSession
            && let Some(role) = &self.principal_arn
        {
            identities.push(role.clone());
        }
        if self.kind != RequesterKind::Root {
            identities.push(self.arn.clone());
        }
        identities
    }
}

/// One context value as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextEntry {
    /// Single-valued.
    Single(String),
    /// Multi-valued.
    Multi(Vec<String>),
}

/// The request context: keys (case-insensitive) and their values. A key not present is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, ContextEntry)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Set a key (replacing any earlier value).
    pub fn insert(&mut self, key: &str, value: ContextEntry) {
        let lowered = key.to_ascii_lowercase();
        if let Some(entry) = self.entries.iter_mut().find(|(existing, _)| *existing == lowered) {
            entry.1 = value;
        } else {
            self.entries.push((lowered, value));
        }
    }

    /// Set a key only when it is absent.
    pub fn insert_default(&mut self, key: &str, value: ContextEntry) {
        let lowered = key.to_ascii_lowercase();
        if !self.entries.iter().any(|(existing, _)| *existing == lowered) {
            self.entries.push((lowered, value));
        }
    }

    /// The entries, keys lower-cased.
    pub fn entries(&self) -> &[(String, ContextEntry)] {
        &self.entries
    }

    /// Add the keys AWS derives from the principal, where the caller did not give them:
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, and `aws:username` for IAM users.
    pub fn derive_principal_keys(&mut self, requester: &Requester) {
        if let Some(arn) = &requester.principal_arn {
            self.insert_default("aws:PrincipalArn", ContextEntry::Single(arn.clone()));
        }
        if let Some(account) = &requester.account {
            self.insert_default("aws:PrincipalAccount", ContextEntry::Single(account.clone()));
        }
        if let Some(username) = &requester.username {
            self.insert_default("aws:username", ContextEntry::Single(username.clone()));
        }
    }

    /// The value of a key (any case).
    pub fn get(&self, key: &str) -> Option<&ContextEntry> {
        self.entries
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    }
}

impl ContextLookup for Context {
    fn lookup(&self, key_lowercase: &str) -> Option<ContextValue<'_>> {
        self.entries
            .iter()
            .find(|(key, _)| key == key_lowercase)
            .map(|(_, value)| match value {
                ContextEntry::Single(text) => ContextValue::Single(text.as_str()),
                ContextEntry::Multi(values) => ContextValue::Multi(values.as_slice()),
            })
    }
}

/// A request to authorize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The caller.
    pub requester: Requester,
    /// The action as given, e.g. `s3:GetObject`.
    pub action: String,
    /// The action lower-cased (actions match case-insensitively).
    pub action_lowercase: String,
    /// The resource ARN.
    pub resource: String,
    /// The account owning the resource; `None` = the caller's own account.
    pub resource_account: Option<String>,
    /// The complete request context (principal keys derived).
    pub context: Context,
}

impl Request {
    /// Build a request, deriving the principal context keys.
    pub fn new(
        requester: Requester,
        action: &str,
        resource: &str,
        resource_account: Option<String>,
        mut context: Context,
    ) -> Request {
        let mut requester = requester;
        // A session's ARN does not carry its role's path; a caller-supplied `aws:PrincipalArn`
        // (the role ARN with its path) is what role principals in policies are matched against.
        if requester.kind == RequesterKind::RoleSession
            && let Some(ContextEntry::Single(role_arn)) = context.get("aws:PrincipalArn")
        {
            requester.principal_arn = Some(role_arn.clone());
        }
        context.derive_principal_keys(&requester);
        Request {
            requester,
            action: action.to_string(),
            action_lowercase: action.to_ascii_lowercase(),
            resource: resource.to_string(),
            resource_account,
            context,
        }
    }

    /// Whether caller and resource are in the same account.
    pub fn is_same_account(&self) -> bool {
        match (&self.resource_account, &self.requester.account) {
            (None, _) => true,
            (Some(resource), Some(caller)) => resource == caller,
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_principal_arn_is_the_role() {
        let requester = Requester::parse("arn:aws:sts::222222222222:assumed-role/app/s1");
        assert_eq!(
            requester.map(|r| r.principal_arn),
            Ok(Some("arn:aws:iam::222222222222:role/app".to_string()))
        );
    }

    #[test]
    fn identities_of_a_session() {
        let requester = Requester::parse("arn:aws:sts::222222222222:assumed-role/app/s1");
        assert_eq!(
            requester.map(|r| r.identities()),
            Ok(vec![
                "arn:aws:iam::222222222222:root".to_string(),
                "arn:aws:iam::222222222222:role/app".to_string(),
                "arn:aws:sts::222222222222:assumed-role/app/s1".to_string(),
            ])
        );
    }
}
