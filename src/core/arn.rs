//! ARNs and account ids as types: parsed once, then read by field, so no code splits strings on
//! `:` and no ARN s3fix writes assumes the `aws` partition.
//!
//! Source: IAM User Guide, "IAM identifiers" → ARNs (reference_identifiers.html):
//! `arn:partition:service:region:account-id:resource`; partitions `aws`, `aws-cn` (China),
//! `aws-us-gov` (GovCloud (US)).

use std::fmt;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Parse twelve ASCII digits.
    pub fn parse(text: &str) -> Option<AccountId> {
        (text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| AccountId(text.to_string()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// An ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (region and account may be empty, as
/// in S3 and IAM ARNs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    /// `aws`, `aws-cn`, `aws-us-gov`, ….
    pub partition: String,
    /// `s3`, `iam`, `sts`, `kms`, ….
    pub service: String,
    /// The region, empty for global services.
    pub region: String,
    /// The account, absent for S3 bucket and object ARNs.
    pub account: Option<AccountId>,
    /// Everything after the fifth `:` (may itself hold `:` and `/`).
    pub resource: String,
}

impl Arn {
    /// Parse an ARN; `None` when it is not `arn:…` with six fields, a partition and a service,
    /// or its account field is neither empty nor twelve digits.
    pub fn parse(text: &str) -> Option<Arn> {
        let mut fields = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return None;
        };
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        let account = match account {
            "" => None,
            digits => Some(AccountId::parse(digits)?),
        };
        Some(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account,
            resource: resource.to_string(),
        })
    }

    /// The S3 bucket ARN `arn:PARTITION:s3:::BUCKET`.
    pub fn s3_bucket(partition: &str, bucket: &str) -> Arn {
        Arn::global(partition, "s3", None, bucket)
    }

    /// The S3 object ARN (or object-pattern ARN) `arn:PARTITION:s3:::BUCKET/KEY`.
    pub fn s3_object(partition: &str, bucket: &str, key: &str) -> Arn {
        Arn::global(partition, "s3", None, &format!("{bucket}/{key}"))
    }

    /// The account principal `arn:PARTITION:iam::ACCOUNT:root`.
    pub fn account_root(partition: &str, account: &AccountId) -> Arn {
        Arn::global(partition, "iam", Some(account.clone()), "root")
    }

    /// A role ARN `arn:PARTITION:iam::ACCOUNT:role/NAME` (`NAME` may carry a path).
    pub fn role(partition: &str, account: &AccountId, path_and_name: &str) -> Arn {
        Arn::global(
            partition,
            "iam",
            Some(account.clone()),
            &format!("role/{path_and_name}"),
        )
    }

    /// An assumed-role session ARN `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub fn role_session(partition: &str, account: &AccountId, role: &str, session: &str) -> Arn {
        Arn::global(
            partition,
            "sts",
            Some(account.clone()),
            &format!("assumed-role/{role}/{session}"),
        )
    }

    fn global(partition: &str, service: &str, account: Option<AccountId>, resource: &str) -> Arn {
        Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: String::new(),
            account,
            resource: resource.to_string(),
        }
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "arn:{}:{}:{}:{}:{}",
            self.partition,
            self.service,
            self.region,
            self.account.as_ref().map(AccountId::as_str).unwrap_or_default(),
            self.resource
        )
    }
}

/// The kind of IAM principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `iam::ACCOUNT:root`.
    Root,
    /// `iam::ACCOUNT:user/PATH/NAME`.
    User,
    /// `iam::ACCOUNT:role/PATH/NAME`.
    Role,
    /// `sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    RoleSession,
    /// `sts::ACCOUNT:federated-user/NAME`.
    FederatedUser,
}

/// The ARN of an IAM principal, with its kind; it always has an account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalArn {
    /// The ARN.
    pub arn: Arn,
    /// What it names.
    pub kind: PrincipalKind,
    /// The account (the ARN's account field).
    pub account: AccountId,
}

impl PrincipalArn {
    /// Parse a root, user, role, assumed-role session or federated-user ARN.
    pub fn parse(text: &str) -> Option<PrincipalArn> {
        let arn = Arn::parse(text)?;
        let account = arn.account.clone()?;
        let named = |prefix: &str| {
            arn.resource
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
        };
        let kind = match arn.service.as_str() {
            "iam" if arn.resource == "root" => PrincipalKind::Root,
            "iam" if named("user/") => PrincipalKind::User,
            "iam" if named("role/") => PrincipalKind::Role,
            "sts" if named("federated-user/") => PrincipalKind::FederatedUser,
            "sts"
                if arn
                    .resource
                    .strip_prefix("assumed-role/")
                    .and_then(|rest| rest.split_once('/'))
                    .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty()) =>
            {
                PrincipalKind::RoleSession
            }
            _ => return None,
        };
        Some(PrincipalArn { arn, kind, account })
    }

    /// The user's or role's name (without path), the session's role name, the federated user.
    pub fn name(&self) -> &str {
        match self.kind {
            PrincipalKind::Root => "root",
            PrincipalKind::RoleSession => self.arn.resource.split('/').nth(1).unwrap_or_default(),
            _ => self.arn.resource.rsplit('/').next().unwrap_or_default(),
        }
    }
}

/// The account of an ARN, where it names one (`None` for S3 ARNs and non-ARNs).
pub fn account_of(text: &str) -> Option<AccountId> {
    Arn::parse(text).and_then(|arn| arn.account)
}

/// A service's regional host name, the value of `kms:ViaService` for it: `amazonaws.com`, or
/// `amazonaws.com.cn` in the China partition ("Beijing Region Endpoints": "The endpoint domain for
/// both the Beijing and Ningxia Regions is .amazonaws.com.cn").
pub fn service_host(service: &str, region: &str) -> String {
    let suffix = if partition_of_region(region) == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{service}.{region}.{suffix}")
}

/// The partition a region belongs to: `cn-…` China, `us-gov-…` GovCloud (US), else `aws`.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip_in_every_partition() {
        for text in [
            "arn:aws:s3:::bucket/data/*",
            "arn:aws-cn:kms:cn-north-1:111111111111:key/abcd",
            "arn:aws-us-gov:iam::222222222222:role/team/reader",
            "arn:aws:sts::222222222222:assumed-role/reader/s:with:colons",
        ] {
            assert_eq!(Arn::parse(text).map(|arn| arn.to_string()).as_deref(), Some(text));
        }
        assert_eq!(
            Arn::parse("arn:aws-cn:kms:cn-north-1:111111111111:key/abcd")
                .and_then(|arn| arn.account)
                .map(|account| account.to_string())
                .as_deref(),
            Some("111111111111")
        );
        assert!(Arn::parse("arn:aws:iam::1111:root").is_none());
        assert!(Arn::parse("arn::s3:::b").is_none());
        assert!(Arn::parse("bucket").is_none());
    }

    #[test]
    fn principals_have_kinds_and_names() {
        let session = PrincipalArn::parse("arn:aws-cn:sts::222222222222:assumed-role/app/s1");
        assert_eq!(session.as_ref().map(|p| p.kind), Some(PrincipalKind::RoleSession));
        assert_eq!(session.as_ref().map(PrincipalArn::name), Some("app"));
        let role = PrincipalArn::parse("arn:aws-us-gov:iam::222222222222:role/team/app");
        assert_eq!(
            role.as_ref().map(|p| (p.kind, p.name())),
            Some((PrincipalKind::Role, "app"))
        );
        assert_eq!(
            PrincipalArn::parse("arn:aws:iam::222222222222:root").map(|p| p.kind),
            Some(PrincipalKind::Root)
        );
        assert_eq!(
            PrincipalArn::parse("arn:aws:sts::222222222222:federated-user/bob").map(|p| p.kind),
            Some(PrincipalKind::FederatedUser)
        );
        assert!(PrincipalArn::parse("arn:aws:sts::222222222222:assumed-role/app").is_none());
        assert!(PrincipalArn::parse("arn:aws:iam::222222222222:role/").is_none());
        assert!(PrincipalArn::parse("arn:aws:s3:::bucket").is_none());
    }

    #[test]
    fn regions_name_their_partition() {
        assert_eq!(partition_of_region("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of_region("eu-west-1"), "aws");
        assert_eq!(service_host("s3", "cn-north-1"), "s3.cn-north-1.amazonaws.com.cn");
        assert_eq!(
            service_host("s3", "us-gov-west-1"),
            "s3.us-gov-west-1.amazonaws.com"
        );
        let account = AccountId::parse("111111111111");
        assert_eq!(
            account
                .map(|account| Arn::account_root("aws-cn", &account).to_string())
                .as_deref(),
            Some("arn:aws-cn:iam::111111111111:root")
        );
        assert_eq!(
            Arn::s3_object("aws-us-gov", "b", "data/*").to_string(),
            "arn:aws-us-gov:s3:::b/data/*"
        );
    }
}
