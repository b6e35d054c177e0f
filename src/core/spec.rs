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

use crate::core::arn::{Arn, PrincipalArn, PrincipalKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

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
    /// `:line:column`, then ` [table].field` where the field is known.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// An account section as written, with the places of its values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccountSection {
    #[serde(default)]
    role: Option<Spanned<String>>,
    #[serde(default)]
    external_id: Option<Spanned<String>>,
}

/// A spec as written: every value with its place in the file, so errors point at the table and
/// line of the value that is wrong.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    principal: Spanned<String>,
    bucket: Spanned<String>,
    keys: Spanned<Vec<Spanned<String>>>,
    access: Spanned<Vec<Access>>,
    #[serde(default)]
    context: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    access_point: Option<Spanned<String>>,
    #[serde(default)]
    bucket_account: RawAccountSection,
    #[serde(default)]
    caller_account: RawAccountSection,
}

/// `:line:column` of a byte offset in `text`.
fn line_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |rest| rest.chars().count()) + 1;
    format!(":{line}:{column}")
}

impl Spec {
    /// Parse and validate spec text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Spec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|error| SpecError {
            file: file.to_string(),
            location: error
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or_default(),
            message: error.message().to_string(),
        })?;
        let error = |field: &str, span: std::ops::Range<usize>, message: String| SpecError {
            file: file.to_string(),
            location: format!("{} {field}", line_column(text, span.start)),
            message,
        };
        validate(&raw, &error)?;
        let section = |raw: &RawAccountSection| AccountSection {
            role: raw.role.as_ref().map(|role| role.get_ref().clone()),
            external_id: raw.external_id.as_ref().map(|id| id.get_ref().clone()),
        };
        Ok(Spec {
            principal: raw.principal.get_ref().clone(),
            bucket: raw.bucket.get_ref().clone(),
            keys: raw
                .keys
                .get_ref()
                .iter()
                .map(|key| key.get_ref().clone())
                .collect(),
            access: raw.access.get_ref().clone(),
            context: raw
                .context
                .iter()
                .map(|(key, value)| (key.clone(), value.get_ref().clone()))
                .collect(),
            access_point: raw.access_point.as_ref().map(|point| point.get_ref().clone()),
            bucket_account: section(&raw.bucket_account),
            caller_account: section(&raw.caller_account),
        })
    }
    /// The principal's account id.
    pub fn principal_account(&self) -> String {
        PrincipalArn::parse(&self.principal)
            .map(|principal| principal.account.to_string())
            .unwrap_or_default()
    }

    /// The partition of the principal's ARN (`aws`, `aws-cn`, `aws-us-gov`): every ARN the
    /// planner writes is in it, as access never crosses partitions.
    pub fn partition(&self) -> String {
        Arn::parse(&self.principal)
            .map(|arn| arn.partition)
            .unwrap_or_else(|| "aws".to_string())
    }

    /// The bucket's ARN in the spec's partition.
    pub fn bucket_arn(&self) -> String {
        Arn::s3_bucket(&self.partition(), &self.bucket).to_string()
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
            .map(|key| Arn::s3_object(&self.partition(), &self.bucket, key).to_string())
            .collect()
    }

    /// The `s3:prefix` patterns for listing: each key pattern as written (`data/*`), or the
    /// exact key.
    pub fn list_prefixes(&self) -> Vec<String> {
        self.keys.clone()
    }
}

/// Check a spec's values; `error` places a message at a field's value.
fn validate(
    raw: &RawSpec,
    error: &dyn Fn(&str, std::ops::Range<usize>, String) -> SpecError,
) -> Result<(), SpecError> {
    let principal = raw.principal.get_ref();
    let valid_principal = PrincipalArn::parse(principal).is_some_and(|principal| {
        matches!(principal.kind, PrincipalKind::Role | PrincipalKind::User) && principal.arn.region.is_empty()
    });
    if !valid_principal {
        return Err(error(
            "principal",
            raw.principal.span(),
            format!(
                "`{principal}` is not an IAM role or user ARN (e.g. arn:aws:iam::222222222222:role/my-app-role)"
            ),
        ));
    }
    let bucket = raw.bucket.get_ref();
    if let Some(problem) = bucket_name_problem(bucket) {
        return Err(error(
            "bucket",
            raw.bucket.span(),
            format!("`{bucket}` is not a valid bucket name: {problem}"),
        ));
    }
    if raw.keys.get_ref().is_empty() {
        return Err(error(
            "keys",
            raw.keys.span(),
            "must name at least one key pattern (e.g. [\"data/*\"])".into(),
        ));
    }
    for key in raw.keys.get_ref() {
        let text = key.get_ref();
        if text.is_empty() {
            return Err(error(
                "keys",
                key.span(),
                "a key pattern cannot be empty (use \"*\" for the whole bucket)".into(),
            ));
        }
        let star = text.find('*');
        if text.contains('?') || star.is_some_and(|position| position + 1 != text.len()) {
            return Err(error(
                "keys",
                key.span(),
                format!("`{text}`: only a trailing `*` is allowed (an exact key, or a prefix ending in `*`)"),
            ));
        }
    }
    if raw.access.get_ref().is_empty() {
        return Err(error(
            "access",
            raw.access.span(),
            "must name at least one of read, list, write".into(),
        ));
    }
    for (key, value) in &raw.context {
        if let Err(problem) = crate::core::context_key::check_value(key, value.get_ref()) {
            return Err(error(
                &format!("[context].\"{key}\""),
                value.span(),
                problem.to_string(),
            ));
        }
    }
    if let Some(point) = &raw.access_point {
        let text = point.get_ref();
        let is_arn = Arn::parse(text).is_some_and(|arn| {
            arn.service == "s3" && arn.resource.starts_with("accesspoint/") && arn.resource.len() > 12
        });
        if !is_arn && !text.ends_with("-s3alias") {
            return Err(error(
                "access_point",
                point.span(),
                format!(
                    "`{text}` is not an access point ARN (arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME) or alias (NAME-…-s3alias)"
                ),
            ));
        }
    }
    for (section, name) in [
        (&raw.bucket_account, "[bucket_account].role"),
        (&raw.caller_account, "[caller_account].role"),
    ] {
        if let Some(role) = &section.role {
            let text = role.get_ref();
            if !PrincipalArn::parse(text).is_some_and(|role| role.kind == PrincipalKind::Role) {
                return Err(error(
                    name,
                    role.span(),
                    format!("`{text}` is not an IAM role ARN"),
                ));
            }
        }
    }
    Ok(())
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
        assert!(error.starts_with("b.toml:3:10 bucket: "), "{error}");
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
    fn errors_point_at_the_table_and_line_of_the_bad_value() {
        let text =
            format!("{GOOD}\n[caller_account]\nrole = \"arn:aws:iam::222222222222:user/not-a-role\"\n");
        let line = text
            .lines()
            .position(|line| line.contains("not-a-role"))
            .map_or(0, |index| index + 1);
        let error = Spec::parse(&text, "g.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            error,
            format!(
                "g.toml:{line}:8 [caller_account].role: `arn:aws:iam::222222222222:user/not-a-role` is not an IAM role ARN"
            )
        );
    }

    #[test]
    fn context_values_must_fit_their_keys() {
        let text = format!("{GOOD}\n[context]\n\"aws:SourceIp\" = \"999.1.1.1\"\n");
        let error = Spec::parse(&text, "h.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("[context].\"aws:SourceIp\": context key `aws:SourceIp` = `999.1.1.1`"),
            "{error}"
        );
        let good = format!("{GOOD}\n[context]\n\"aws:SourceIp\" = \"198.51.100.7\"\n");
        assert!(Spec::parse(&good, "i.toml").is_ok());
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
