//! JSON → [`Policy`], validating as AWS does and naming the place of every error.
//!
//! Places are built lazily ([`Place`] is a chain on the stack): the text of a path is only made
//! when there is an error to report, which keeps compiling a valid policy allocation-light.

use super::condition::{Condition, Operator, glob_template};
use super::json::Json;
use super::pattern::Pattern;
use super::principal::{AwsPrincipal, PrincipalBlock};
use super::{
    ActionBlock, Effect, NONEXISTENT_ACTIONS, Policy, PolicyKind, PolicyVersion, ResourceBlock, Statement,
};
use serde_json::Value;
use std::borrow::Cow;

/// An object's members in document order.
type Members<'a> = [(Cow<'a, str>, Json<'a>)];

/// The member `key` (the last one, as JSON parsers keep the last duplicate).
fn member<'m, 'a>(object: &'m Members<'a>, key: &str) -> Option<&'m Json<'a>> {
    object
        .iter()
        .rev()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
}

/// A place in a document, e.g. `Statement[2].Condition.IpAddress`, rendered only on error.
#[derive(Clone, Copy)]
enum Place<'p> {
    /// The document itself.
    Root,
    /// `parent.key`.
    Key(&'p Place<'p>, &'p str),
    /// `parent[index]`.
    Index(&'p Place<'p>, usize),
}

impl Place<'_> {
    fn render(&self) -> String {
        match self {
            Place::Root => String::new(),
            Place::Key(Place::Root, key) => (*key).to_string(),
            Place::Key(parent, key) => format!("{}.{key}", parent.render()),
            Place::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }
}

/// A policy that AWS would reject, with the place (`Statement[2].Condition.IpAddress`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct PolicyError {
    /// Where in the document, e.g. `Statement[1].Principal`; empty for the document itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The remedy, where one is known (printed on its own line, never in the message).
    pub hint: Option<String>,
}

impl PolicyError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    fn with_hint(mut self, hint: impl Into<String>) -> PolicyError {
        self.hint = Some(hint.into());
        self
    }

    fn at(place: &Place, message: impl Into<String>) -> PolicyError {
        PolicyError::new(place.render(), message)
    }

    /// The same error located under a prefix, e.g. `resourcePolicy.`.
    pub fn within(mut self, prefix: &str) -> PolicyError {
        self.path = if self.path.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Parse and validate a policy document of the given kind.
pub fn parse_policy(document: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
    parse_policy_json(&Json::from_value(document), kind)
}

/// Parse and validate a policy document given as JSON text.
pub fn parse_policy_text(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let document: Json = serde_json::from_str(text)
        .map_err(|error| PolicyError::new("", format!("not valid JSON: {error}")))?;
    parse_policy_json(&document, kind)
}

/// Parse and validate a policy document held as a [`Json`] tree.
pub fn parse_policy_json(document: &Json, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let Json::Object(object) = document else {
        return Err(PolicyError::new("", "a policy must be a JSON object"));
    };
    for (key, _) in object {
        if !DOCUMENT_KEYS.contains(&key.as_ref()) {
            return Err(PolicyError::new(key.as_ref(), "unknown policy element"));
        }
    }
    let version = match member(object, "Version") {
        None => PolicyVersion::Absent,
        Some(Json::String(text)) if text == "2012-10-17" => PolicyVersion::V2012,
        Some(Json::String(text)) if text == "2008-10-17" => PolicyVersion::V2008,
        Some(other) => {
            return Err(
                PolicyError::new("Version", format!("unsupported version {}", other.describe()))
                    .with_hint("use \"2012-10-17\""),
            );
        }
    };
    let id = match member(object, "Id") {
        None => None,
        Some(Json::String(text)) => Some(text.to_string()),
        Some(_) => return Err(PolicyError::new("Id", "must be a string")),
    };
    let mut warnings = Vec::new();
    let root = Place::Root;
    let statements_place = Place::Key(&root, "Statement");
    let statements = match member(object, "Statement") {
        None => return Err(PolicyError::at(&statements_place, "missing")),
        Some(Json::Object(statement)) => {
            vec![parse_statement(
                statement,
                0,
                &statements_place,
                kind,
                version,
                &mut warnings,
            )?]
        }
        Some(Json::Array(items)) => {
            let mut statements = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let place = Place::Index(&statements_place, index);
                let Json::Object(statement) = item else {
                    return Err(PolicyError::at(&place, "a statement must be a JSON object"));
                };
                statements.push(parse_statement(
                    statement,
                    index,
                    &place,
                    kind,
                    version,
                    &mut warnings,
                )?);
            }
            statements
        }
        Some(_) => {
            return Err(PolicyError::at(
                &statements_place,
                "must be an object or an array of objects",
            ));
        }
    };
    Ok(Policy {
        version,
        id,
        statements,
        warnings,
    })
}

fn parse_statement(
    object: &Members,
    index: usize,
    place: &Place,
    kind: PolicyKind,
    version: PolicyVersion,
    warnings: &mut Vec<String>,
) -> Result<Statement, PolicyError> {
    for (key, _) in object {
        if !STATEMENT_KEYS.contains(&key.as_ref()) {
            return Err(PolicyError::at(
                &Place::Key(place, key),
                "unknown statement element",
            ));
        }
    }
    let sid = match member(object, "Sid") {
        None => None,
        Some(Json::String(text)) => Some(text.to_string()),
        Some(_) => return Err(PolicyError::at(&Place::Key(place, "Sid"), "must be a string")),
    };
    let effect = match member(object, "Effect") {
        Some(Json::String(text)) if text == "Allow" => Effect::Allow,
        Some(Json::String(text)) if text == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::at(
                &Place::Key(place, "Effect"),
                format!("must be \"Allow\" or \"Deny\", found {}", other.describe()),
            ));
        }
        None => return Err(PolicyError::at(&Place::Key(place, "Effect"), "missing")),
    };
    let principal = parse_principal(object, place, kind)?;
    if effect == Effect::Allow && principal.as_ref().is_some_and(|block| block.negated) {
        return Err(PolicyError::at(
            &Place::Key(place, "NotPrincipal"),
            "NotPrincipal is supported only with \"Effect\": \"Deny\"",
        )
        .with_hint("name the principals in Principal"));
    }
    let actions = parse_actions(object, place, warnings)?;
    let resources = parse_resources(object, place, kind, version)?;
    let conditions = match member(object, "Condition") {
        None => Vec::new(),
        Some(value) => parse_conditions(value, &Place::Key(place, "Condition"), version)?,
    };
    // Organizations rejects an RCP Allow: "The effect of Allow is only supported for the
    // RCPFullAWSAccess policy" (RCP syntax). That policy's one statement (Allow `*` to `*` on
    // `*`) is accepted, as it changes nothing.
    if kind == PolicyKind::Rcp && effect == Effect::Allow && !is_full_access(object) {
        let named = sid
            .as_deref()
            .map(|sid| format!(" (Sid `{sid}`)"))
            .unwrap_or_default();
        return Err(PolicyError::at(
            &Place::Key(place, "Effect"),
            format!(
                "statement {index}{named} of a resource control policy is an Allow; \
                 Allow is only supported for RCPFullAWSAccess"
            ),
        )
        .with_hint("write the guardrail as a Deny"));
    }
    Ok(Statement {
        index,
        sid,
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

/// One element that may be written `Name` or `NotName`, never both: (negated, value, the name
/// used).
fn either<'v, 'a>(
    object: &'v Members<'a>,
    place: &Place,
    name: &'static str,
    negated_name: &'static str,
) -> Result<Option<(bool, &'v Json<'a>, &'static str)>, PolicyError> {
    match (member(object, name), member(object, negated_name)) {
        (Some(_), Some(_)) => Err(PolicyError::at(
            &Place::Key(place, name),
            format!("a statement cannot have both {name} and {negated_name}"),
        )),
        (Some(value), None) => Ok(Some((false, value, name))),
        (None, Some(value)) => Ok(Some((true, value, negated_name))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings<'v>(value: &'v Json, place: &Place) -> Result<Vec<&'v str>, PolicyError> {
    match value {
        Json::String(text) => Ok(vec![text.as_ref()]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Json::String(text) => Ok(text.as_ref()),
                _ => Err(PolicyError::at(&Place::Index(place, index), "must be a string")),
            })
            .collect(),
        Json::Array(_) => Err(PolicyError::at(place, "must not be empty")),
        _ => Err(PolicyError::at(place, "must be a string or an array of strings")),
    }
}

/// Whether a statement is exactly RCPFullAWSAccess's: Allow, Principal `*`, Action `*`,
/// Resource `*`, no condition.
fn is_full_access(object: &Members) -> bool {
    let star = |key: &str| match member(object, key) {
        Some(Json::String(text)) => text == "*",
        Some(Json::Array(items)) => {
            items.len() == 1
                && items
                    .first()
                    .is_some_and(|item| matches!(item, Json::String(text) if text == "*"))
        }
        _ => false,
    };
    star("Principal") && star("Action") && star("Resource") && member(object, "Condition").is_none()
}

fn parse_principal(
    object: &Members,
    place: &Place,
    kind: PolicyKind,
) -> Result<Option<PrincipalBlock>, PolicyError> {
    let Some((negated, value, name)) = either(object, place, "Principal", "NotPrincipal")? else {
        if kind.has_principal() {
            return Err(PolicyError::at(
                &Place::Key(place, "Principal"),
                format!(
                    "a {} statement must name a Principal or NotPrincipal",
                    kind.describe()
                ),
            ));
        }
        return Ok(None);
    };
    let place = Place::Key(place, name);
    if !kind.has_principal() {
        return Err(
            PolicyError::at(&place, format!("a {} cannot name a principal", kind.describe()))
                .with_hint("remove the element"),
        );
    }
    let mut block = PrincipalBlock {
        negated,
        ..PrincipalBlock::default()
    };
    match value {
        Json::String(text) if text == "*" => block.any = true,
        Json::Object(map) if !map.is_empty() => {
            for (principal_type, values) in map {
                let type_place = Place::Key(&place, principal_type);
                let values = strings(values, &type_place)?;
                match principal_type.as_ref() {
                    "AWS" => {
                        for text in values {
                            if text == "*" {
                                block.any = true;
                                continue;
                            }
                            block.aws.push(AwsPrincipal::parse(text).map_err(|message| {
                                let error = PolicyError::at(&type_place, message);
                                if text.contains(['*', '?']) {
                                    error.with_hint("use `\"*\"` with an `aws:PrincipalArn` condition")
                                } else {
                                    error
                                }
                            })?);
                        }
                    }
                    "Service" => block.services.extend(values.into_iter().map(str::to_string)),
                    "Federated" => block.federated.extend(values.into_iter().map(str::to_string)),
                    "CanonicalUser" => block
                        .canonical_users
                        .extend(values.into_iter().map(str::to_string)),
                    _ => {
                        return Err(PolicyError::at(
                            &type_place,
                            "unknown principal type (expected AWS, Service, Federated or CanonicalUser)",
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(PolicyError::at(
                &place,
                "must be \"*\" or an object such as {\"AWS\": ...}",
            ));
        }
    }
    Ok(Some(block))
}

fn parse_actions(
    object: &Members,
    place: &Place,
    warnings: &mut Vec<String>,
) -> Result<ActionBlock, PolicyError> {
    let Some((negated, value, name)) = either(object, place, "Action", "NotAction")? else {
        return Err(PolicyError::at(
            &Place::Key(place, "Action"),
            "a statement needs Action or NotAction",
        ));
    };
    let place = Place::Key(place, name);
    let texts = strings(value, &place)?;
    let mut patterns = Vec::with_capacity(texts.len());
    for text in texts {
        if text != "*" {
            let valid = text.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty()
                    && !name.is_empty()
                    && service
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            });
            if !valid {
                return Err(PolicyError::at(
                    &place,
                    format!("`{text}` is not an action (expected `service:Action`, e.g. `s3:GetObject`)"),
                ));
            }
        }
        let lowered = text.to_ascii_lowercase();
        if let Some((_, instead)) = NONEXISTENT_ACTIONS.iter().find(|(name, _)| *name == lowered) {
            warnings.push(format!(
                "{}: the action `{text}` does not exist; the API call authorizes as {instead}",
                place.render()
            ));
        }
        patterns.push(Pattern::from_string(lowered));
    }
    Ok(ActionBlock { negated, patterns })
}

fn parse_resources(
    object: &Members,
    place: &Place,
    kind: PolicyKind,
    version: PolicyVersion,
) -> Result<Option<ResourceBlock>, PolicyError> {
    let Some((negated, value, name)) = either(object, place, "Resource", "NotResource")? else {
        if matches!(kind, PolicyKind::Scp | PolicyKind::Rcp) {
            return Ok(None);
        }
        return Err(PolicyError::at(
            &Place::Key(place, "Resource"),
            "a statement needs Resource or NotResource",
        ));
    };
    let place = Place::Key(place, name);
    let texts = strings(value, &place)?;
    let mut patterns = Vec::with_capacity(texts.len());
    for text in texts {
        if text != "*" {
            let colons = text.matches(':').count();
            if !text.starts_with("arn:") || (colons < 5 && !text.contains('*')) {
                return Err(PolicyError::at(
                    &place,
                    format!(
                        "`{text}` is not a resource ARN (expected `arn:partition:service:region:account:resource` or `*`)"
                    ),
                ));
            }
        }
        patterns.push(
            glob_template(text, version.has_variables())
                .map_err(|message| PolicyError::at(&place, message))?,
        );
    }
    Ok(Some(ResourceBlock { negated, patterns }))
}

fn parse_conditions(
    value: &Json,
    place: &Place,
    version: PolicyVersion,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = value else {
        return Err(PolicyError::at(place, "must be an object of operators"));
    };
    let mut conditions = Vec::new();
    for (operator_name, keys) in operators {
        let operator_place = Place::Key(place, operator_name);
        let operator = Operator::parse(operator_name).ok_or_else(|| {
            PolicyError::at(
                &operator_place,
                format!("unknown condition operator `{operator_name}`"),
            )
        })?;
        let Json::Object(keys) = keys else {
            return Err(PolicyError::at(
                &operator_place,
                "must be an object of condition keys",
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::at(
                &operator_place,
                "must name at least one condition key",
            ));
        }
        for (key, raw) in keys {
            let key_place = Place::Key(&operator_place, key);
            let raw_values = condition_values(raw, &key_place)?;
            let condition =
                Condition::compile(operator_name, operator, key, &raw_values, version.has_variables())
                    .map_err(|message| PolicyError::at(&key_place, message))?;
            conditions.push(condition);
        }
    }
    Ok(conditions)
}

/// Condition values: a scalar or an array of scalars, read as text.
fn condition_values<'v>(value: &'v Json, place: &Place) -> Result<Vec<Cow<'v, str>>, PolicyError> {
    let scalar = |item: &'v Json, place: &Place| match item {
        Json::String(text) => Ok(Cow::Borrowed(text.as_ref())),
        Json::Number(number) => Ok(Cow::Owned(number.to_string())),
        Json::Bool(flag) => Ok(Cow::Borrowed(if *flag { "true" } else { "false" })),
        _ => Err(PolicyError::at(
            place,
            "a condition value must be a string, number or boolean",
        )),
    };
    match value {
        Json::Array(items) if items.is_empty() => Err(PolicyError::at(place, "must not be empty")),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| scalar(item, &Place::Index(place, index)))
            .collect(),
        other => Ok(vec![scalar(other, place)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_path(document: Value, kind: PolicyKind) -> String {
        parse_policy(&document, kind)
            .err()
            .map(|error| error.path)
            .unwrap_or_default()
    }

    #[test]
    fn single_statement_object_and_array() {
        let single = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}});
        let policy = parse_policy(&single, PolicyKind::Identity);
        assert!(matches!(policy, Ok(ref p) if p.statements.len() == 1));
    }

    #[test]
    fn errors_name_the_place() {
        let bad_operator = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"IpAdress": {"aws:SourceIp": "1.2.3.4"}}}]});
        assert_eq!(
            error_path(bad_operator, PolicyKind::Identity),
            "Statement[1].Condition.IpAdress"
        );
        let principal_in_identity =
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}});
        assert_eq!(
            error_path(principal_in_identity, PolicyKind::Identity),
            "Statement.Principal"
        );
        let missing_principal =
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        assert_eq!(
            error_path(missing_principal, PolicyKind::Resource),
            "Statement[0].Principal"
        );
        let bad_cidr = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}}]});
        assert_eq!(
            error_path(bad_cidr, PolicyKind::Identity),
            "Statement[0].Condition.IpAddress.aws:SourceIp"
        );
        let bad_arn =
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "my-bucket/*"}]});
        assert_eq!(error_path(bad_arn, PolicyKind::Identity), "Statement[0].Resource");
    }

    #[test]
    fn warns_on_head_object() {
        let document =
            json!({"Statement": [{"Effect": "Allow", "Action": ["s3:HeadObject"], "Resource": "*"}]});
        let warnings = parse_policy(&document, PolicyKind::Identity)
            .map(|p| p.warnings)
            .unwrap_or_default();
        assert!(warnings.iter().any(|warning| warning.contains("s3:GetObject")));
    }
}
