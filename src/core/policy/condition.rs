//! The `Condition` element: operators, compiled values, and evaluation against a request context.
//!
//! Rules (IAM User Guide, "IAM JSON policy elements: Condition operators" and "Condition keys
//! with multiple values"):
//! - every operator in a block, and every key in an operator, must hold (AND);
//! - several values for one key: any may match (OR); for a negated operator none may match;
//! - a key absent from the context: positive operators do not match, negated operators match,
//!   `...IfExists` matches, `Null` tests exactly that;
//! - `ForAnyValue`: some context value matches (absent or empty: no match);
//!   `ForAllValues`: every context value matches (absent or empty: match).

use super::pattern::{
    Pattern, Template, glob_matches, has_variables, parse_template, resolve, to_glob_parts, to_text,
};
use ipnet::IpNet;
use std::net::IpAddr;

/// The value of a context key.
#[derive(Debug, Clone, Copy)]
pub enum ContextValue<'a> {
    /// A single-valued key.
    Single(&'a str),
    /// A multi-valued key.
    Multi(&'a [String]),
}

/// Where conditions and policy variables read request values from.
pub trait ContextLookup {
    /// The value of a key, given lower-cased (condition keys are case-insensitive).
    fn lookup(&self, key_lowercase: &str) -> Option<ContextValue<'_>>;

    /// A single-valued key's value, for policy variables.
    fn single(&self, key_lowercase: &str) -> Option<&str> {
        match self.lookup(key_lowercase)? {
            ContextValue::Single(value) => Some(value),
            ContextValue::Multi(_) => None,
        }
    }
}

/// The operator families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `StringEquals` and friends (exact).
    String,
    /// `StringEqualsIgnoreCase`.
    StringIgnoreCase,
    /// `StringLike`.
    StringLike,
    /// `Numeric*`.
    Numeric(Comparison),
    /// `Date*`.
    Date(Comparison),
    /// `Bool`.
    Bool,
    /// `BinaryEquals`.
    Binary,
    /// `IpAddress` / `NotIpAddress`.
    Ip,
    /// `ArnEquals`, `ArnLike` and their negations (identical matching).
    Arn,
    /// `Null`.
    Null,
}

/// Comparison of ordered values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `Equals` / `NotEquals` (negation is separate).
    Equals,
    /// `LessThan`.
    LessThan,
    /// `LessThanEquals`.
    LessThanEquals,
    /// `GreaterThan`.
    GreaterThan,
    /// `GreaterThanEquals`.
    GreaterThanEquals,
}

impl Comparison {
    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Comparison::Equals => ordering == Equal,
            Comparison::LessThan => ordering == Less,
            Comparison::LessThanEquals => ordering != Greater,
            Comparison::GreaterThan => ordering == Greater,
            Comparison::GreaterThanEquals => ordering != Less,
        }
    }
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// No qualifier.
    None,
    /// `ForAnyValue:`.
    AnyValue,
    /// `ForAllValues:`.
    AllValues,
}

/// A parsed operator name such as `ForAllValues:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// The family.
    pub family: Family,
    /// A `Not` operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …).
    pub negated: bool,
    /// The `IfExists` suffix.
    pub if_exists: bool,
    /// The set qualifier.
    pub qualifier: SetQualifier,
}

impl Operator {
    /// Parse an operator name; `None` when it is not one AWS knows.
    pub fn parse(name: &str) -> Option<Operator> {
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::AnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::AllValues, rest)
        } else {
            (SetQualifier::None, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        use Comparison::*;
        let (family, negated) = match base {
            "StringEquals" => (Family::String, false),
            "StringNotEquals" => (Family::String, true),
            "StringEqualsIgnoreCase" => (Family::StringIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Family::StringIgnoreCase, true),
            "StringLike" => (Family::StringLike, false),
            "StringNotLike" => (Family::StringLike, true),
            "NumericEquals" => (Family::Numeric(Equals), false),
            "NumericNotEquals" => (Family::Numeric(Equals), true),
            "NumericLessThan" => (Family::Numeric(LessThan), false),
            "NumericLessThanEquals" => (Family::Numeric(LessThanEquals), false),
            "NumericGreaterThan" => (Family::Numeric(GreaterThan), false),
            "NumericGreaterThanEquals" => (Family::Numeric(GreaterThanEquals), false),
            "DateEquals" => (Family::Date(Equals), false),
            "DateNotEquals" => (Family::Date(Equals), true),
            "DateLessThan" => (Family::Date(LessThan), false),
            "DateLessThanEquals" => (Family::Date(LessThanEquals), false),
            "DateGreaterThan" => (Family::Date(GreaterThan), false),
            "DateGreaterThanEquals" => (Family::Date(GreaterThanEquals), false),
            "Bool" => (Family::Bool, false),
            "BinaryEquals" => (Family::Binary, false),
            "IpAddress" => (Family::Ip, false),
            "NotIpAddress" => (Family::Ip, true),
            "ArnEquals" | "ArnLike" => (Family::Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
            "Null" => (Family::Null, false),
            _ => return None,
        };
        if family == Family::Null && (if_exists || qualifier != SetQualifier::None) {
            return None;
        }
        Some(Operator {
            family,
            negated,
            if_exists,
            qualifier,
        })
    }
}

/// A compiled condition value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionValue {
    /// Exact string (may hold variables).
    Text(Template<String>),
    /// Lower-cased string for case-insensitive comparison.
    TextIgnoreCase(Template<String>),
    /// Wildcard pattern (may hold variables).
    Like(Template<Pattern>),
    /// A number.
    Number(f64),
    /// A point in time, in milliseconds since the epoch.
    Date(i64),
    /// `true` / `false`.
    Bool(bool),
    /// Base64 text, compared exactly.
    Binary(String),
    /// A CIDR block (a single address is a /32 or /128).
    Cidr(IpNet),
    /// Six ARN components, each a pattern (may hold variables).
    Arn(Vec<Template<Pattern>>),
}

/// One (operator, key) pair with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The operator name as written.
    pub operator_name: String,
    /// The parsed operator.
    pub operator: Operator,
    /// The key as written.
    pub key: String,
    /// The key, lower-cased.
    pub key_lowercase: String,
    /// The compiled values (any may match).
    pub values: Vec<ConditionValue>,
}

impl Condition {
    /// Compile the values of one (operator, key) pair. Errors are messages without location.
    pub fn compile(
        operator_name: &str,
        operator: Operator,
        key: &str,
        raw_values: &[std::borrow::Cow<'_, str>],
        variables: bool,
    ) -> Result<Condition, String> {
        let mut values = Vec::with_capacity(raw_values.len());
        for raw in raw_values {
            values.push(compile_value(operator.family, raw, variables)?);
        }
        Ok(Condition {
            operator_name: operator_name.to_string(),
            operator,
            key: key.to_string(),
            key_lowercase: key.to_ascii_lowercase(),
            values,
        })
    }

    /// Whether the condition holds for the request context.
    pub fn holds(&self, context: &dyn ContextLookup) -> bool {
        let operator = self.operator;
        if operator.family == Family::Null {
            let absent = match context.lookup(&self.key_lowercase) {
                None => true,
                Some(ContextValue::Multi(values)) => values.is_empty(),
                Some(ContextValue::Single(_)) => false,
            };
            return self
                .values
                .iter()
                .any(|value| matches!(value, ConditionValue::Bool(wanted) if *wanted == absent));
        }
        let found = context.lookup(&self.key_lowercase);
        match operator.qualifier {
            SetQualifier::None => match found {
                None => operator.if_exists || operator.negated,
                Some(ContextValue::Single(value)) => self.single_holds(value, context),
                Some(ContextValue::Multi(values)) => {
                    if values.is_empty() {
                        return operator.if_exists || operator.negated;
                    }
                    // A single-valued operator on a multi-valued key: a positive operator holds
                    // when any value matches; a negated one when no value matches the positive.
                    if operator.negated {
                        values.iter().all(|value| self.single_holds(value, context))
                    } else {
                        values.iter().any(|value| self.single_holds(value, context))
                    }
                }
            },
            SetQualifier::AnyValue => match found {
                None => operator.if_exists,
                Some(ContextValue::Single(value)) => self.single_holds(value, context),
                Some(ContextValue::Multi(values)) => {
                    values.iter().any(|value| self.single_holds(value, context))
                }
            },
            SetQualifier::AllValues => match found {
                None => true,
                Some(ContextValue::Single(value)) => self.single_holds(value, context),
                Some(ContextValue::Multi(values)) => {
                    values.iter().all(|value| self.single_holds(value, context))
                }
            },
        }
    }

    /// One context value against the policy values: positive operators need any value to
    /// match; negated operators need none to match. A context value of the wrong type (not a
    /// number, date or address) never satisfies the condition, negated or not.
    fn single_holds(&self, context_value: &str, context: &dyn ContextLookup) -> bool {
        let Some(parsed) = ParsedContext::parse(self.operator.family, context_value) else {
            return false;
        };
        let family = self.operator.family;
        let any = self
            .values
            .iter()
            .any(|value| value_matches(family, value, &parsed, context));
        any != self.operator.negated
    }

    /// A short description for explanations, e.g. `StringEquals aws:SourceVpce`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.operator_name, self.key)
    }
}

/// A context value converted for one family.
enum ParsedContext<'a> {
    Text(&'a str),
    Number(f64),
    Date(i64),
    Bool(bool),
    Ip(IpAddr),
}

impl<'a> ParsedContext<'a> {
    fn parse(family: Family, value: &'a str) -> Option<ParsedContext<'a>> {
        Some(match family {
            Family::Numeric(_) => ParsedContext::Number(value.trim().parse().ok()?),
            Family::Date(_) => ParsedContext::Date(parse_date(value)?),
            Family::Bool => ParsedContext::Bool(parse_bool(value)?),
            Family::Ip => ParsedContext::Ip(value.trim().parse().ok()?),
            _ => ParsedContext::Text(value),
        })
    }
}

fn value_matches(
    family: Family,
    value: &ConditionValue,
    context_value: &ParsedContext,
    context: &dyn ContextLookup,
) -> bool {
    let comparison = match family {
        Family::Numeric(comparison) | Family::Date(comparison) => comparison,
        _ => Comparison::Equals,
    };
    match (value, context_value) {
        (ConditionValue::Text(template), ParsedContext::Text(text)) => match template {
            Template::Fixed(expected) => expected == text,
            Template::Variable(parts) => {
                resolve(parts, |key| context.single(key)).is_some_and(|parts| to_text(&parts) == *text)
            }
        },
        (ConditionValue::TextIgnoreCase(template), ParsedContext::Text(text)) => {
            let lowered = text.to_lowercase();
            match template {
                Template::Fixed(expected) => *expected == lowered,
                Template::Variable(parts) => resolve(parts, |key| context.single(key))
                    .is_some_and(|parts| to_text(&parts).to_lowercase() == lowered),
            }
        }
        (ConditionValue::Like(template), ParsedContext::Text(text)) => {
            template_matches(template, text, context)
        }
        (ConditionValue::Number(expected), ParsedContext::Number(actual)) => actual
            .partial_cmp(expected)
            .is_some_and(|ordering| comparison.holds(ordering)),
        (ConditionValue::Date(expected), ParsedContext::Date(actual)) => {
            comparison.holds(actual.cmp(expected))
        }
        (ConditionValue::Bool(expected), ParsedContext::Bool(actual)) => expected == actual,
        (ConditionValue::Binary(expected), ParsedContext::Text(text)) => expected == text,
        (ConditionValue::Cidr(network), ParsedContext::Ip(address)) => network.contains(address),
        (ConditionValue::Arn(components), ParsedContext::Text(text)) => {
            let mut actual = text.splitn(6, ':');
            components.iter().all(|component| {
                actual
                    .next()
                    .is_some_and(|part| template_matches(component, part, context))
            }) && actual.next().is_none()
        }
        _ => false,
    }
}

fn template_matches(template: &Template<Pattern>, text: &str, context: &dyn ContextLookup) -> bool {
    match template {
        Template::Fixed(pattern) => pattern.matches(text),
        Template::Variable(parts) => resolve(parts, |key| context.single(key))
            .is_some_and(|parts| glob_matches(&to_glob_parts(&parts), text)),
    }
}

fn compile_value(family: Family, raw: &str, variables: bool) -> Result<ConditionValue, String> {
    Ok(match family {
        Family::String => ConditionValue::Text(text_template(raw, variables)?),
        Family::StringIgnoreCase => ConditionValue::TextIgnoreCase(match text_template(raw, variables)? {
            Template::Fixed(text) => Template::Fixed(text.to_lowercase()),
            variable => variable,
        }),
        Family::StringLike => ConditionValue::Like(glob_template(raw, variables)?),
        Family::Numeric(_) => ConditionValue::Number(
            raw.trim()
                .parse()
                .map_err(|_| format!("`{raw}` is not a number"))?,
        ),
        Family::Date(_) => ConditionValue::Date(
            parse_date(raw).ok_or_else(|| format!("`{raw}` is not an ISO 8601 date or epoch time"))?,
        ),
        Family::Bool | Family::Null => {
            ConditionValue::Bool(parse_bool(raw).ok_or_else(|| format!("`{raw}` is not `true` or `false`"))?)
        }
        Family::Binary => ConditionValue::Binary(raw.to_string()),
        Family::Ip => ConditionValue::Cidr(parse_cidr(raw)?),
        Family::Arn => {
            let components: Vec<&str> = raw.splitn(6, ':').collect();
            if raw != "*" && components.len() != 6 {
                return Err(format!("`{raw}` is not an ARN (six colon-separated parts)"));
            }
            if raw == "*" {
                // `*` alone matches any ARN: six any-components.
                ConditionValue::Arn((0..6).map(|_| Template::Fixed(Pattern::Any)).collect())
            } else {
                let mut compiled = Vec::with_capacity(6);
                for component in components {
                    compiled.push(glob_template(component, variables)?);
                }
                ConditionValue::Arn(compiled)
            }
        }
    })
}

fn text_template(raw: &str, variables: bool) -> Result<Template<String>, String> {
    if !variables || !raw.contains("${") {
        return Ok(Template::Fixed(raw.to_string()));
    }
    let parts = parse_template(raw, false)?;
    Ok(if has_variables(&parts) {
        Template::Variable(parts)
    } else {
        Template::Fixed(to_text(&parts))
    })
}

/// Compile a wildcard value that may hold policy variables.
pub fn glob_template(raw: &str, variables: bool) -> Result<Template<Pattern>, String> {
    if !variables || !raw.contains("${") {
        return Ok(Template::Fixed(Pattern::new(raw)));
    }
    let parts = parse_template(raw, true)?;
    Ok(if has_variables(&parts) {
        Template::Variable(parts)
    } else {
        Template::Fixed(Pattern::from_parts(to_glob_parts(&parts)))
    })
}

fn parse_bool(raw: &str) -> Option<bool> {
    if raw.eq_ignore_ascii_case("true") {
        Some(true)
    } else if raw.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_cidr(raw: &str) -> Result<IpNet, String> {
    let trimmed = raw.trim();
    if let Ok(network) = trimmed.parse::<IpNet>() {
        return Ok(network.trunc());
    }
    trimmed
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{raw}` is not an IP address or CIDR block"))
}

/// Parse an ISO 8601 date-time, a date, or epoch seconds, to milliseconds since the epoch.
pub fn parse_date(raw: &str) -> Option<i64> {
    let text = raw.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(timestamp.as_millisecond());
    }
    if let Ok(datetime) = text.parse::<jiff::civil::DateTime>() {
        return datetime
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp().as_millisecond());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp().as_millisecond());
    }
    None
}
