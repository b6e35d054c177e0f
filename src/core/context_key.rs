//! The value types of the condition keys an operator can give in a request context
//! (`--context KEY=VALUE`, a spec's `[context]`), so a value the key cannot hold is refused with
//! the key named instead of silently changing decisions (`aws:SourceIp=999.1.1.1`).
//!
//! Types as the IAM User Guide lists them ("AWS global condition context keys",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>)
//! and the Service Authorization Reference for S3 ("Actions, resources, and condition keys for
//! Amazon S3", <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>).
//! Keys not listed are strings: any value is accepted.

use crate::core::policy::condition::parse_date;
use std::net::IpAddr;

/// The value type of a condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// An IPv4 or IPv6 address or CIDR block (`IpAddress` operators).
    Ip,
    /// `true` or `false` (`Bool`).
    Bool,
    /// An ISO 8601 date or epoch seconds (`Date*` operators).
    Date,
    /// A number (`Numeric*` operators).
    Number,
    /// Any text.
    String,
}

impl KeyType {
    /// The type of `key` (compared case-insensitively, as IAM compares key names).
    pub fn of(key: &str) -> KeyType {
        match key.to_ascii_lowercase().as_str() {
            "aws:sourceip" | "aws:vpcsourceip" => KeyType::Ip,
            "aws:securetransport"
            | "aws:multifactorauthpresent"
            | "aws:viaawsservice"
            | "aws:principalisawsservice"
            | "aws:isfederatedsession" => KeyType::Bool,
            "aws:currenttime" | "aws:tokenissuetime" | "s3:object-lock-retain-until-date" => KeyType::Date,
            // aws:EpochTime takes a date or a number of seconds; epoch seconds parse as a date.
            "aws:epochtime" => KeyType::Date,
            "aws:multifactorauthage"
            | "s3:max-keys"
            | "s3:signatureage"
            | "s3:tlsversion"
            | "s3:object-lock-remaining-retention-days" => KeyType::Number,
            _ => KeyType::String,
        }
    }

    fn expects(self) -> &'static str {
        match self {
            KeyType::Ip => "an IP address or CIDR block, e.g. 203.0.113.7 or 203.0.113.0/24",
            KeyType::Bool => "true or false",
            KeyType::Date => "a date, e.g. 2026-12-01T10:00:00Z, or epoch seconds",
            KeyType::Number => "a number",
            KeyType::String => "text",
        }
    }

    fn accepts(self, value: &str) -> bool {
        let value = value.trim();
        match self {
            KeyType::Ip => value.parse::<IpAddr>().is_ok() || value.parse::<ipnet::IpNet>().is_ok(),
            KeyType::Bool => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
            KeyType::Date => parse_date(value).is_some(),
            KeyType::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
            KeyType::String => true,
        }
    }
}

/// A context value its key cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("context key `{key}` = `{value}`: {key} takes {expects}")]
pub struct ContextValueError {
    /// The key as given.
    pub key: String,
    /// The value as given.
    pub value: String,
    /// What the key takes.
    pub expects: &'static str,
}

/// Check one value of `key` against the key's type.
pub fn check_value(key: &str, value: &str) -> Result<(), ContextValueError> {
    let key_type = KeyType::of(key);
    if key_type.accepts(value) {
        Ok(())
    } else {
        Err(ContextValueError {
            key: key.to_string(),
            value: value.to_string(),
            expects: key_type.expects(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ip_takes_addresses_and_cidr_blocks() {
        assert!(check_value("aws:SourceIp", "198.51.100.7").is_ok());
        assert!(check_value("aws:SourceIp", "198.51.100.0/24").is_ok());
        assert!(check_value("aws:SourceIp", "2001:db8::1").is_ok());
        let error = check_value("aws:SourceIp", "999.1.1.1").err();
        assert_eq!(
            error.map(|error| error.to_string()),
            Some(
                "context key `aws:SourceIp` = `999.1.1.1`: aws:SourceIp takes an IP address or CIDR block, e.g. 203.0.113.7 or 203.0.113.0/24"
                    .to_string()
            )
        );
        // Key names are case-insensitive.
        assert!(check_value("AWS:SOURCEIP", "office").is_err());
    }

    #[test]
    fn booleans_dates_and_numbers_are_checked() {
        assert!(check_value("aws:SecureTransport", "true").is_ok());
        assert!(check_value("aws:SecureTransport", "yes").is_err());
        assert!(check_value("aws:CurrentTime", "2026-12-01T10:00:00Z").is_ok());
        assert!(check_value("aws:EpochTime", "1764583200").is_ok());
        assert!(check_value("aws:CurrentTime", "tomorrow").is_err());
        assert!(check_value("aws:MultiFactorAuthAge", "3600").is_ok());
        assert!(check_value("s3:max-keys", "ten").is_err());
    }

    #[test]
    fn other_keys_take_any_text() {
        assert!(check_value("aws:SourceVpce", "vpce-1a2b3c4d").is_ok());
        assert!(check_value("aws:PrincipalTag/team", "999.1.1.1").is_ok());
    }
}
