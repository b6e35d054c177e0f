//! Access specs: the checked-in desired state (`plans/*.toml`), one access need per file.
//!
//! ```toml
//! principal = "arn:aws:iam::222222222222:role/my-app-role"
//! bucket = "my-bucket"
//! keys = ["data/*"]            # object key patterns: exact keys, or prefixes ending in *
//! access = ["read", "list"]    # read = s3:GetObject; list = s3:ListBucket on the keys' prefixes; write = s3:PutObject
//! # access_point = "arn:aws:s3:us-east-1:111111111111:accesspoint/NAME"   # optional: requests go through it
//!
//! [context]                    # optional: the request context the access happens in
//! "aws:SourceIp" = "198.51.100.7"
//!
//! [bucket_account]
//! role = "arn:aws:iam::111111111111:role/s3fix-admin"
//!
//! [caller_account]
//! role = "arn:aws:iam::222222222222:role/s3fix-admin"
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One kind of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// `s3:GetObject` on the keys.
    Read,
    /// `s3:ListBucket` on the bucket, limited to the keys' prefixes.
    List,
    /// `s3:PutObject` on the keys.
    Write,
}

impl Access {
    /// The IAM action.
    pub fn action(self) -> &'static str {
        match self {
            Access::Read => "s3:GetObject",
            Access::List => "s3:ListBucket",
            Access::Write => "s3:PutObject",
        }
    }
}

/// An account section: the role s3fix assumes there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    /// The role to assume to read and edit this account's side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The external id for that role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// A desired-access spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The IAM role or user that needs the access.
    pub principal: String,
    /// The bucket.
    pub bucket: String,
    /// Object key patterns: exact keys, or prefixes ending in `*`.
    pub keys: Vec<String>,
    /// The access needed.
    pub access: Vec<Access>,
    /// The request context the access happens in (e.g. `aws:SourceIp`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
    /// The access point the requests go through (its ARN or alias), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point: Option<String>,
    /// The bucket's account: the role to assume there.
    #[serde(default)]
    pub bucket_account: AccountSection,
    /// The caller's account: the role to assume there.
    #[serde(default)]
    pub caller_account: AccountSection,
}

/// A spec that cannot be used, with the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{location}: {message}")]
pub struct SpecError {
    /// The file.
    pub file: String,
    /// `:line:column` or ` field `name``, where known.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl Spec {
    /// Parse and validate spec text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Spec, SpecError> {
        let spec: Spec = toml::from_str(text).map_err(|error| {
            let location = error
                .span()
                .map(|span| {
                    let before = text.get(..span.start).unwrap_or_default();
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |rest| rest.chars().count()) + 1;
                    format!(":{line}:{column}")
                })
                .unwrap_or_default();
            SpecError {
                file: file.to_string(),
                location,
                message: error.message().to_string(),
            }
        })?;
        spec.validate(text, file)?;
        Ok(spec)
    }

    fn validate(&self, text: &str, file: &str) -> Result<(), SpecError> {
        let error = |field: &str, message: String| {
            let line = text
                .lines()
                .position(|line| line.trim_start().starts_with(field))
                .map(|index| format!(":{}", index + 1))
                .unwrap_or_default();
            SpecError {
                file: file.to_string(),
                location: format!("{line} field `{field}`"),
                message,
            }
        };
        let parts: Vec<&str> = self.principal.splitn(6, ':').collect();
        let valid_principal = matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
                && (resource.starts_with("role/") || resource.starts_with("user/")) && resource.len() > 5);
        if !valid_principal {
            return Err(error(
                "principal",
                format!(
                    "`{}` is not an IAM role or user ARN (e.g. arn:aws:iam::222222222222:role/my-app-role)",
                    self.principal
                ),
            ));
        }
        if let Some(problem) = bucket_name_problem(&self.bucket) {
            return Err(error(
                "bucket",
                format!("`{}` is not a valid bucket name: {problem}", self.bucket),
            ));
        }
        if self.keys.is_empty() {
            return Err(error(
                "keys",
                "must name at least one key pattern (e.g. [\"data/*\"])".into(),
            ));
        }
        for key in &self.keys {
            if key.is_empty() {
                return Err(error(
                    "keys",
                    "a key pattern cannot be empty (use \"*\" for the whole bucket)".into(),
                ));
            }
            let star = key.find('*');
            if key.contains('?') || star.is_some_and(|position| position + 1 != key.len()) {
                return Err(error(
                    "keys",
                    format!(
                        "`{key}`: only a trailing `*` is allowed (an exact key, or a prefix ending in `*`)"
                    ),
                ));
            }
        }
        if self.access.is_empty() {
            return Err(error(
                "access",
                "must name at least one of read, list, write".into(),
            ));
        }
        for (role, field) in [
            (&self.bucket_account.role, "role"),
            (&self.caller_account.role, "role"),
        ] {
            if let Some(role) = role
                && !(role.starts_with("arn:") && role.contains(":iam::") && role.contains(":role/"))
            {
                return Err(error(field, format!("`{role}` is not an IAM role ARN")));
            }
        }
        Ok(())
    }

    /// The principal's account id.
    pub fn principal_account(&self) -> &str {
        self.principal.split(':').nth(4).unwrap_or_default()
    }

    /// The access kinds, sorted and without duplicates.
    pub fn access_set(&self) -> Vec<Access> {
        let mut access = self.access.clone();
        access.sort();
        access.dedup();
        access
    }

    /// The object ARN patterns of the keys.
    pub fn object_arns(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| format!("arn:aws:s3:::{}/{key}", self.bucket))
            .collect()
    }

    /// The `s3:prefix` patterns for listing: each key pattern as written (`data/*`), or the
    /// exact key.
    pub fn list_prefixes(&self) -> Vec<String> {
        self.keys.clone()
    }
}

/// Why a bucket name would be rejected by S3 (general purpose bucket naming rules), if it would.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    if name.len() < 3 || name.len() > 63 {
        return Some("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'.' || byte == b'-')
    {
        return Some("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let first = name.bytes().next().unwrap_or(b'-');
    let last = name.bytes().last().unwrap_or(b'-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Some("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("must not contain two adjacent dots");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("must not be formatted as an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return Some("uses a reserved prefix or suffix");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
principal = "arn:aws:iam::222222222222:role/my-app-role"
bucket = "my-bucket"
keys = ["data/*"]
access = ["read", "list"]

[bucket_account]
role = "arn:aws:iam::111111111111:role/s3fix-admin"
"#;

    #[test]
    fn parses_the_documented_example() {
        let spec = Spec::parse(GOOD, "report-reader.toml");
        assert!(matches!(spec, Ok(ref s) if s.access_set() == vec![Access::Read, Access::List]));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let unknown = GOOD.replace("keys =", "kees =");
        let error = Spec::parse(&unknown, "a.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("a.toml:"), "{error}");
        assert!(error.contains("kees"), "{error}");
        let bad_bucket = GOOD.replace("my-bucket", "My_Bucket");
        let error = Spec::parse(&bad_bucket, "b.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("b.toml:3 field `bucket`"), "{error}");
        let empty = GOOD.replace("[\"read\", \"list\"]", "[]");
        assert!(Spec::parse(&empty, "c.toml").is_err());
        let bad_access = GOOD.replace("\"list\"", "\"delete\"");
        assert!(Spec::parse(&bad_access, "d.toml").is_err());
        let session = GOOD.replace(
            "arn:aws:iam::222222222222:role/my-app-role",
            "arn:aws:sts::222222222222:assumed-role/r/s",
        );
        assert!(Spec::parse(&session, "e.toml").is_err());
        let middle_star = GOOD.replace("data/*", "da*ta/");
        assert!(Spec::parse(&middle_star, "f.toml").is_err());
    }

    #[test]
    fn bucket_names() {
        assert_eq!(bucket_name_problem("my-bucket"), None);
        assert!(bucket_name_problem("ab").is_some());
        assert!(bucket_name_problem("192.168.5.4").is_some());
        assert!(bucket_name_problem("-abc").is_some());
        assert!(bucket_name_problem("a..b").is_some());
    }
}
