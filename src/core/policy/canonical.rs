//! The canonical form of a policy document, for comparison, fingerprints and diffs.
//!
//! Two documents that AWS treats the same way have the same canonical form: `Statement` is always
//! an array; elements appear in a fixed order; every "string or array" becomes a sorted array
//! without duplicates; account ids in `Principal` become `arn:aws:iam::ID:root` (as AWS itself
//! rewrites them). Statement order and `Sid`s are kept: they are what an operator reads.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const DOCUMENT_ORDER: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ORDER: &[&str] = &[
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

/// The canonical form of a policy document. Unknown shapes are kept as they are.
pub fn canonical(document: &Value) -> Value {
    let Value::Object(object) = document else {
        return document.clone();
    };
    let mut out = Map::new();
    for key in DOCUMENT_ORDER {
        if let Some(value) = object.get(*key) {
            let value = if *key == "Statement" {
                let statements: Vec<Value> = match value {
                    Value::Array(items) => items.iter().map(canonical_statement).collect(),
                    single => vec![canonical_statement(single)],
                };
                Value::Array(statements)
            } else {
                value.clone()
            };
            out.insert((*key).to_string(), value);
        }
    }
    for (key, value) in object {
        if !out.contains_key(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

fn canonical_statement(statement: &Value) -> Value {
    let Value::Object(object) = statement else {
        return statement.clone();
    };
    let mut out = Map::new();
    for key in STATEMENT_ORDER {
        let Some(value) = object.get(*key) else {
            continue;
        };
        let value = match *key {
            "Principal" | "NotPrincipal" => canonical_principal(value),
            "Action" | "NotAction" | "Resource" | "NotResource" => sorted_set(value),
            "Condition" => canonical_condition(value),
            _ => value.clone(),
        };
        out.insert((*key).to_string(), value);
    }
    for (key, value) in object {
        if !out.contains_key(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

fn canonical_principal(value: &Value) -> Value {
    let Value::Object(types) = value else {
        return value.clone();
    };
    let mut keys: Vec<&String> = types.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for key in keys {
        let Some(values) = types.get(key) else {
            continue;
        };
        let normalised = if key == "AWS" {
            let rewritten: Vec<Value> = as_list(values)
                .into_iter()
                .map(|item| match item {
                    Value::String(text) if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) => {
                        Value::String(format!("arn:aws:iam::{text}:root"))
                    }
                    other => other.clone(),
                })
                .collect();
            sorted_set(&Value::Array(rewritten))
        } else {
            sorted_set(values)
        };
        out.insert(key.clone(), normalised);
    }
    Value::Object(out)
}

fn canonical_condition(value: &Value) -> Value {
    let Value::Object(operators) = value else {
        return value.clone();
    };
    let mut names: Vec<&String> = operators.keys().collect();
    names.sort();
    let mut out = Map::new();
    for name in names {
        let Some(Value::Object(keys)) = operators.get(name) else {
            if let Some(other) = operators.get(name) {
                out.insert(name.clone(), other.clone());
            }
            continue;
        };
        let mut key_names: Vec<&String> = keys.keys().collect();
        key_names.sort();
        let mut inner = Map::new();
        for key in key_names {
            if let Some(values) = keys.get(key) {
                let as_text: Vec<Value> = as_list(values)
                    .into_iter()
                    .map(|item| match item {
                        Value::Number(number) => Value::String(number.to_string()),
                        Value::Bool(flag) => Value::String(flag.to_string()),
                        other => other.clone(),
                    })
                    .collect();
                inner.insert(key.clone(), sorted_set(&Value::Array(as_text)));
            }
        }
        out.insert(name.clone(), Value::Object(inner));
    }
    Value::Object(out)
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    }
}

/// A "string or array" as a sorted array without duplicates.
fn sorted_set(value: &Value) -> Value {
    let mut items: Vec<Value> = as_list(value).into_iter().cloned().collect();
    items.sort_by_key(|item| item.to_string());
    items.dedup();
    Value::Array(items)
}

/// A stable fingerprint of any JSON value: SHA-256 of its compact serialisation, as hex.
/// Callers fingerprint the canonical form when layout must not matter.
pub fn fingerprint(value: &Value) -> String {
    let text = value.to_string();
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equivalent_documents_share_a_canonical_form() {
        let written = json!({"Statement": {"Resource": "arn:aws:s3:::b/*", "Effect": "Allow",
            "Principal": {"AWS": "111122223333"}, "Action": ["s3:PutObject", "s3:GetObject"]}, "Version": "2012-10-17"});
        let other = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]}, "Action": ["s3:GetObject", "s3:PutObject", "s3:GetObject"],
            "Resource": ["arn:aws:s3:::b/*"]}]});
        assert_eq!(canonical(&written), canonical(&other));
        assert_eq!(fingerprint(&canonical(&written)), fingerprint(&canonical(&other)));
    }
}
