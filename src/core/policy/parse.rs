//! JSON → [`Policy`], validating as AWS does and naming the place of every error.

use super::condition::{Condition, Operator, glob_template};
use super::principal::{AwsPrincipal, PrincipalBlock};
use super::{
    ActionBlock, Effect, NONEXISTENT_ACTIONS, Pattern, Policy, PolicyKind, PolicyVersion, ResourceBlock,
    Statement,
};
use serde_json::{Map, Value};

/// A policy that AWS would reject, with the place (`Statement[2].Condition.IpAddress`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct PolicyError {
    /// Where in the document, e.g. `Statement[1].Principal`; empty for the document itself.
    pub path: String,
    /// What is wrong, and a hint where one helps.
    pub message: String,
}

impl PolicyError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
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
    let Value::Object(object) = document else {
        return Err(PolicyError::new("", "a policy must be a JSON object"));
    };
    for key in object.keys() {
        if !DOCUMENT_KEYS.contains(&key.as_str()) {
            return Err(PolicyError::new(key.as_str(), "unknown policy element"));
        }
    }
    let version = match object.get("Version") {
        None => PolicyVersion::Absent,
        Some(Value::String(text)) if text == "2012-10-17" => PolicyVersion::V2012,
        Some(Value::String(text)) if text == "2008-10-17" => PolicyVersion::V2008,
        Some(other) => {
            return Err(PolicyError::new(
                "Version",
                format!("unsupported version {other} (hint: use \"2012-10-17\")"),
            ));
        }
    };
    let id = match object.get("Id") {
        None => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(PolicyError::new("Id", "must be a string")),
    };
    let mut warnings = Vec::new();
    let statements = match object.get("Statement") {
        None => return Err(PolicyError::new("Statement", "missing")),
        Some(Value::Object(statement)) => {
            vec![parse_statement(
                statement,
                0,
                "Statement",
                kind,
                version,
                &mut warnings,
            )?]
        }
        Some(Value::Array(items)) => {
            let mut statements = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let path = format!("Statement[{index}]");
                let Value::Object(statement) = item else {
                    return Err(PolicyError::new(path, "a statement must be a JSON object"));
                };
                statements.push(parse_statement(
                    statement,
                    index,
                    &path,
                    kind,
                    version,
                    &mut warnings,
                )?);
            }
            statements
        }
        Some(_) => {
            return Err(PolicyError::new(
                "Statement",
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
    object: &Map<String, Value>,
    index: usize,
    path: &str,
    kind: PolicyKind,
    version: PolicyVersion,
    warnings: &mut Vec<String>,
) -> Result<Statement, PolicyError> {
    for key in object.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            return Err(PolicyError::new(
                format!("{path}.{key}"),
                "unknown statement element",
            ));
        }
    }
    let sid = match object.get("Sid") {
        None => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(PolicyError::new(format!("{path}.Sid"), "must be a string")),
    };
    let effect = match object.get("Effect") {
        Some(Value::String(text)) if text == "Allow" => Effect::Allow,
        Some(Value::String(text)) if text == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::new(
                format!("{path}.Effect"),
                format!("must be \"Allow\" or \"Deny\", found {other}"),
            ));
        }
        None => return Err(PolicyError::new(format!("{path}.Effect"), "missing")),
    };
    let principal = parse_principal(object, path, kind)?;
    if effect == Effect::Allow && principal.as_ref().is_some_and(|block| block.negated) {
        return Err(PolicyError::new(
            format!("{path}.NotPrincipal"),
            "NotPrincipal is supported only with \"Effect\": \"Deny\" (hint: name the principals in Principal)",
        ));
    }
    let actions = parse_actions(object, path, warnings)?;
    let resources = parse_resources(object, path, kind, version)?;
    let conditions = match object.get("Condition") {
        None => Vec::new(),
        Some(value) => parse_conditions(value, &format!("{path}.Condition"), version)?,
    };
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

/// One element that may be written `"Name"` or `"NotName"`, never both.
fn either<'v>(
    object: &'v Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<Option<(bool, &'v Value, String)>, PolicyError> {
    let negated_name = format!("Not{name}");
    match (object.get(name), object.get(&negated_name)) {
        (Some(_), Some(_)) => Err(PolicyError::new(
            format!("{path}.{name}"),
            format!("a statement cannot have both {name} and {negated_name}"),
        )),
        (Some(value), None) => Ok(Some((false, value, format!("{path}.{name}")))),
        (None, Some(value)) => Ok(Some((true, value, format!("{path}.{negated_name}")))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings<'v>(value: &'v Value, path: &str) -> Result<Vec<&'v str>, PolicyError> {
    match value {
        Value::String(text) => Ok(vec![text.as_str()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.as_str()),
                _ => Err(PolicyError::new(format!("{path}[{index}]"), "must be a string")),
            })
            .collect(),
        Value::Array(_) => Err(PolicyError::new(path, "must not be empty")),
        _ => Err(PolicyError::new(path, "must be a string or an array of strings")),
    }
}

fn parse_principal(
    object: &Map<String, Value>,
    path: &str,
    kind: PolicyKind,
) -> Result<Option<PrincipalBlock>, PolicyError> {
    let Some((negated, value, path)) = either(object, path, "Principal")? else {
        if kind.has_principal() {
            return Err(PolicyError::new(
                format!("{path}.Principal"),
                format!(
                    "a {} statement must name a Principal or NotPrincipal",
                    kind.describe()
                ),
            ));
        }
        return Ok(None);
    };
    if !kind.has_principal() {
        return Err(PolicyError::new(
            path,
            format!(
                "a {} cannot name a principal (hint: remove the element)",
                kind.describe()
            ),
        ));
    }
    let mut block = PrincipalBlock {
        negated,
        ..PrincipalBlock::default()
    };
    match value {
        Value::String(text) if text == "*" => block.any = true,
        Value::Object(map) if !map.is_empty() => {
            for (principal_type, values) in map {
                let type_path = format!("{path}.{principal_type}");
                let values = strings(values, &type_path)?;
                match principal_type.as_str() {
                    "AWS" => {
                        for text in values {
                            if text == "*" {
                                block.any = true;
                                continue;
                            }
                            block.aws.push(
                                AwsPrincipal::parse(text)
                                    .map_err(|message| PolicyError::new(&type_path, message))?,
                            );
                        }
                    }
                    "Service" => block.services.extend(values.into_iter().map(str::to_string)),
                    "Federated" => block.federated.extend(values.into_iter().map(str::to_string)),
                    "CanonicalUser" => block
                        .canonical_users
                        .extend(values.into_iter().map(str::to_string)),
                    _ => {
                        return Err(PolicyError::new(
                            type_path,
                            "unknown principal type (expected AWS, Service, Federated or CanonicalUser)",
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(PolicyError::new(
                path,
                "must be \"*\" or an object such as {\"AWS\": ...}",
            ));
        }
    }
    Ok(Some(block))
}

fn parse_actions(
    object: &Map<String, Value>,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<ActionBlock, PolicyError> {
    let Some((negated, value, path)) = either(object, path, "Action")? else {
        return Err(PolicyError::new(
            format!("{path}.Action"),
            "a statement needs Action or NotAction",
        ));
    };
    let mut patterns = Vec::new();
    for text in strings(value, &path)? {
        if text != "*" {
            let valid = text.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty()
                    && !name.is_empty()
                    && service
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            });
            if !valid {
                return Err(PolicyError::new(
                    &path,
                    format!("`{text}` is not an action (expected `service:Action`, e.g. `s3:GetObject`)"),
                ));
            }
        }
        let lowered = text.to_ascii_lowercase();
        if let Some((_, instead)) = NONEXISTENT_ACTIONS.iter().find(|(name, _)| *name == lowered) {
            warnings.push(format!(
                "{path}: the action `{text}` does not exist; the API call authorizes as {instead}"
            ));
        }
        patterns.push(Pattern::new(&lowered));
    }
    Ok(ActionBlock { negated, patterns })
}

fn parse_resources(
    object: &Map<String, Value>,
    path: &str,
    kind: PolicyKind,
    version: PolicyVersion,
) -> Result<Option<ResourceBlock>, PolicyError> {
    let Some((negated, value, path)) = either(object, path, "Resource")? else {
        if matches!(kind, PolicyKind::Scp | PolicyKind::Rcp) {
            return Ok(None);
        }
        return Err(PolicyError::new(
            format!("{path}.Resource"),
            "a statement needs Resource or NotResource",
        ));
    };
    let mut patterns = Vec::new();
    for text in strings(value, &path)? {
        if text != "*" {
            let colons = text.matches(':').count();
            if !text.starts_with("arn:") || (colons < 5 && !text.contains('*')) {
                return Err(PolicyError::new(
                    &path,
                    format!(
                        "`{text}` is not a resource ARN (expected `arn:partition:service:region:account:resource` or `*`)"
                    ),
                ));
            }
        }
        patterns.push(
            glob_template(text, version.has_variables())
                .map_err(|message| PolicyError::new(&path, message))?,
        );
    }
    Ok(Some(ResourceBlock { negated, patterns }))
}

fn parse_conditions(
    value: &Value,
    path: &str,
    version: PolicyVersion,
) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(PolicyError::new(path, "must be an object of operators"));
    };
    let mut conditions = Vec::new();
    for (operator_name, keys) in operators {
        let operator_path = format!("{path}.{operator_name}");
        let operator = Operator::parse(operator_name).ok_or_else(|| {
            PolicyError::new(
                &operator_path,
                format!("unknown condition operator `{operator_name}`"),
            )
        })?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError::new(
                operator_path,
                "must be an object of condition keys",
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::new(
                operator_path,
                "must name at least one condition key",
            ));
        }
        for (key, raw) in keys {
            let key_path = format!("{operator_path}.{key}");
            let raw_values = condition_values(raw, &key_path)?;
            let condition =
                Condition::compile(operator_name, operator, key, &raw_values, version.has_variables())
                    .map_err(|message| PolicyError::new(&key_path, message))?;
            conditions.push(condition);
        }
    }
    Ok(conditions)
}

/// Condition values: a scalar or an array of scalars, read as text.
fn condition_values(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    let scalar = |item: &Value, path: &str| match item {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(PolicyError::new(
            path,
            "a condition value must be a string, number or boolean",
        )),
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(PolicyError::new(path, "must not be empty")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| scalar(item, &format!("{path}[{index}]")))
            .collect(),
        other => Ok(vec![scalar(other, path)?]),
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
