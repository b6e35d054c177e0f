//! CloudTrail records → [`Extraction`]: one record, a log file (`{"Records": [...]}`), a JSON
//! array, or JSON Lines; `--event-id` picks one.
//!
//! Source: AWS CloudTrail User Guide, "CloudTrail record contents for management, data, and
//! network activity events" (cloudtrail-event-reference-record-contents.html): `userIdentity`
//! (cloudtrail-event-reference-user-identity.html: `AssumedRole` sessions carry
//! `sessionContext.sessionIssuer.arn`, the role), `eventName`, `requestParameters`,
//! `errorCode`/`errorMessage`, `sourceIPAddress`, `vpcEndpointId`, `tlsDetails`, `eventID`,
//! `requestID`. The condition keys they become are those of the IAM User Guide "AWS global
//! condition context keys" (`aws:SourceIp`, `aws:SourceVpce`, `aws:SecureTransport`,
//! `aws:CurrentTime`, `aws:UserAgent`).

use super::{Extraction, action_of_operation, parse_message, split_s3_arn};
use serde_json::Value;

/// Why no record could be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudTrailError {
    /// Not JSON, nor JSON Lines.
    #[error("not a CloudTrail record, log file or JSON Lines: {0}")]
    NotJson(String),
    /// No record at all.
    #[error("no CloudTrail record in the file")]
    Empty,
    /// `--event-id` matches no record.
    #[error("no record has eventID `{0}`")]
    NoSuchEvent(String, String),
    /// Several denied records and no `--event-id`.
    #[error("{count} records were denied; pick one with --event-id (eventIDs: {ids})")]
    Ambiguous {
        /// How many.
        count: usize,
        /// Their event IDs.
        ids: String,
    },
    /// The picked record was not denied.
    #[error("record `{0}` has no AccessDenied errorCode (errorCode: {1})")]
    NotDenied(String, String),
}

/// Every record in the text.
pub fn records(text: &str) -> Result<Vec<Value>, CloudTrailError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CloudTrailError::Empty);
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(mut object)) => match object.remove("Records") {
            Some(Value::Array(records)) => Ok(records),
            Some(_) => Err(CloudTrailError::NotJson("`Records` is not an array".into())),
            None => Ok(vec![Value::Object(object)]),
        },
        Ok(Value::Array(records)) => Ok(records),
        Ok(_) => Err(CloudTrailError::NotJson("not an object".into())),
        Err(whole) => trimmed
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(index, line)| {
                serde_json::from_str::<Value>(line).map_err(|error| {
                    CloudTrailError::NotJson(if index == 0 {
                        whole.to_string()
                    } else {
                        format!("line {}: {error}", index + 1)
                    })
                })
            })
            .collect(),
    }
}

fn text<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn is_denied(record: &Value) -> bool {
    text(record, "/errorCode").is_some_and(|code| {
        code.contains("AccessDenied") || code.contains("Unauthorized") || code == "Forbidden"
    })
}

fn event_id(record: &Value) -> String {
    text(record, "/eventID").unwrap_or("(none)").to_string()
}

/// Pick the record: the one with `event_id`, or the only denied one.
pub fn pick<'r>(records: &'r [Value], event_id_wanted: Option<&str>) -> Result<&'r Value, CloudTrailError> {
    if records.is_empty() {
        return Err(CloudTrailError::Empty);
    }
    let ids = || records.iter().map(event_id).collect::<Vec<_>>().join(", ");
    let record = match event_id_wanted {
        Some(wanted) => records
            .iter()
            .find(|record| text(record, "/eventID") == Some(wanted))
            .ok_or_else(|| CloudTrailError::NoSuchEvent(wanted.to_string(), ids()))?,
        None => {
            let denied: Vec<&Value> = records.iter().filter(|record| is_denied(record)).collect();
            match denied.as_slice() {
                [one] => one,
                [] => records
                    .first()
                    .filter(|_| records.len() == 1)
                    .ok_or_else(|| CloudTrailError::NotDenied(ids(), "none denied".into()))?,
                many => {
                    return Err(CloudTrailError::Ambiguous {
                        count: many.len(),
                        ids: many
                            .iter()
                            .map(|record| event_id(record))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
    };
    if !is_denied(record) {
        return Err(CloudTrailError::NotDenied(
            event_id(record),
            text(record, "/errorCode").unwrap_or("none").to_string(),
        ));
    }
    Ok(record)
}

/// What a denied record says: principal (session and role), action, bucket, key, request
/// context, and the policy type of its `errorMessage`.
pub fn extract(record: &Value) -> Extraction {
    let mut extraction = text(record, "/errorMessage")
        .map(parse_message)
        .unwrap_or_default();
    extraction.error_code = text(record, "/errorCode").map(str::to_string);
    extraction.request_id = text(record, "/requestID").map(str::to_string);
    extraction.event_id = text(record, "/eventID").map(str::to_string);
    extraction.http_status = None;
    let identity_type = text(record, "/userIdentity/type").unwrap_or_default();
    extraction.principal = match identity_type {
        "AssumedRole" | "IAMUser" | "Root" | "FederatedUser" => {
            text(record, "/userIdentity/arn").map(str::to_string)
        }
        "AWSAccount" if text(record, "/userIdentity/principalId") == Some("anonymous") => {
            Some("anonymous".into())
        }
        _ => text(record, "/userIdentity/arn").map(str::to_string),
    }
    .or(extraction.principal);
    extraction.role_arn = text(record, "/userIdentity/sessionContext/sessionIssuer/arn").map(str::to_string);
    if let Some(operation) = text(record, "/eventName") {
        extraction.operation = Some(operation.to_string());
        extraction.action = action_of_operation(operation)
            .map(|(action, _)| action.to_string())
            .or(extraction.action);
    }
    extraction.bucket = text(record, "/requestParameters/bucketName")
        .map(str::to_string)
        .or(extraction.bucket);
    extraction.key = text(record, "/requestParameters/key")
        .or_else(|| text(record, "/requestParameters/prefix"))
        .map(str::to_string)
        .or(extraction.key);
    if extraction.bucket.is_none()
        && let Some(resources) = record.get("resources").and_then(Value::as_array)
    {
        for resource in resources {
            if let Some((bucket, key)) = text(resource, "/ARN").and_then(split_s3_arn) {
                extraction.bucket.get_or_insert(bucket);
                if key.is_some() {
                    extraction.key = key;
                }
            }
        }
    }
    let context = &mut extraction.context;
    // A service calling on the caller's behalf shows its name, not an address.
    if let Some(address) = text(record, "/sourceIPAddress")
        && address.parse::<std::net::IpAddr>().is_ok()
    {
        context.insert("aws:SourceIp".into(), address.to_string());
    }
    if let Some(endpoint) = text(record, "/vpcEndpointId") {
        context.insert("aws:SourceVpce".into(), endpoint.to_string());
    }
    if let Some(tls) = record.get("tlsDetails").filter(|tls| tls.is_object()) {
        let secure = text(tls, "/tlsVersion").is_some_and(|version| !version.is_empty());
        context.insert("aws:SecureTransport".into(), secure.to_string());
    }
    if let Some(time) = text(record, "/eventTime") {
        context.insert("aws:CurrentTime".into(), time.to_string());
    }
    if let Some(agent) = text(record, "/userAgent") {
        context.insert("aws:UserAgent".into(), agent.to_string());
    }
    extraction
}
