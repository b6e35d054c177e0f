//! The `Principal` / `NotPrincipal` element and the ARNs it may hold.

use crate::core::arn::{Arn, PrincipalArn, PrincipalKind};

/// A parsed `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrincipalBlock {
    /// `NotPrincipal`.
    pub negated: bool,
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers.
    pub any: bool,
    /// AWS principals.
    pub aws: Vec<AwsPrincipal>,
    /// `Service` principals, e.g. `logging.s3.amazonaws.com`.
    pub services: Vec<String>,
    /// `Federated` principals.
    pub federated: Vec<String>,
    /// `CanonicalUser` ids.
    pub canonical_users: Vec<String>,
}

/// One entry of `{"AWS": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsPrincipal {
    /// A whole account (`123456789012` or `arn:aws:iam::123456789012:root`): delegation.
    Account(String),
    /// An IAM role ARN; matches the role's sessions through `aws:PrincipalArn`.
    Role(String),
    /// An IAM user ARN.
    User(String),
    /// An assumed-role session ARN.
    Session(String),
    /// A federated user ARN (`sts::...:federated-user/...`).
    FederatedUser(String),
    /// A unique id (`AROA…`, `AIDA…`): what AWS shows once the named principal was deleted.
    /// It matches nothing, even a recreated principal with the same name.
    UniqueId(String),
}

impl AwsPrincipal {
    /// Parse one `AWS` principal value. The error is a message without location.
    pub fn parse(text: &str) -> Result<AwsPrincipal, String> {
        if text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Ok(AwsPrincipal::Account(text.to_string()));
        }
        if text.contains('*') || text.contains('?') {
            return Err(format!(
                "`{text}`: a principal cannot contain a wildcard other than a lone `*`"
            ));
        }
        if is_unique_id(text) {
            return Ok(AwsPrincipal::UniqueId(text.to_string()));
        }
        let Some(parsed) = PrincipalArn::parse(text) else {
            return Err(match Arn::parse(text) {
                Some(arn) if arn.account.is_some() => format!(
                    "`{text}` is not a principal ARN (expected an account, user, role, \
                     assumed-role or federated-user ARN)"
                ),
                Some(_) => format!("`{text}` is not a valid principal ARN (bad partition or account)"),
                None if text.starts_with("arn:") => {
                    format!("`{text}` is not a valid principal ARN (bad partition or account)")
                }
                None => format!("`{text}` is not a valid principal ARN or account id"),
            });
        };
        let owned = text.to_string();
        Ok(match parsed.kind {
            PrincipalKind::Root => AwsPrincipal::Account(parsed.account.to_string()),
            PrincipalKind::Role => AwsPrincipal::Role(owned),
            PrincipalKind::User => AwsPrincipal::User(owned),
            PrincipalKind::RoleSession => AwsPrincipal::Session(owned),
            PrincipalKind::FederatedUser => AwsPrincipal::FederatedUser(owned),
        })
    }

    /// The canonical text: accounts as `arn:aws:iam::ID:root`.
    pub fn canonical(&self) -> String {
        match self {
            AwsPrincipal::Account(account) => format!("arn:aws:iam::{account}:root"),
            AwsPrincipal::Role(arn)
            | AwsPrincipal::User(arn)
            | AwsPrincipal::Session(arn)
            | AwsPrincipal::FederatedUser(arn)
            | AwsPrincipal::UniqueId(arn) => arn.clone(),
        }
    }
}

/// Whether text looks like an IAM unique id (`AROA`, `AIDA`, `AGPA`, `ANPA`, `AKIA`… + base32).
pub fn is_unique_id(text: &str) -> bool {
    const PREFIXES: &[&str] = &["AROA", "AIDA", "AGPA", "ANPA", "ANVA", "AIPA", "ASIA", "AKIA"];
    text.len() >= 16
        && PREFIXES.iter().any(|prefix| text.starts_with(prefix))
        && text
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_principal_form() {
        assert_eq!(
            AwsPrincipal::parse("111122223333"),
            Ok(AwsPrincipal::Account("111122223333".into()))
        );
        assert_eq!(
            AwsPrincipal::parse("arn:aws:iam::111122223333:root"),
            Ok(AwsPrincipal::Account("111122223333".into()))
        );
        assert!(matches!(
            AwsPrincipal::parse("arn:aws:iam::111122223333:role/path/r"),
            Ok(AwsPrincipal::Role(_))
        ));
        assert!(matches!(
            AwsPrincipal::parse("arn:aws:sts::111122223333:assumed-role/r/s"),
            Ok(AwsPrincipal::Session(_))
        ));
        assert!(matches!(
            AwsPrincipal::parse("AROAEXAMPLEID1234567"),
            Ok(AwsPrincipal::UniqueId(_))
        ));
        assert!(AwsPrincipal::parse("arn:aws:iam::111122223333:role/*").is_err());
        assert!(AwsPrincipal::parse("arn:aws:iam::1111:role/x").is_err());
        assert!(AwsPrincipal::parse("bob").is_err());
    }
}
