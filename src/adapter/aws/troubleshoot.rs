//! Who the current credentials are (STS GetCallerIdentity, read when each session opens) and
//! AWS's record of a denied request (IAM Toolbox `GetRequestAuthorizationDetails`, preview).
//!
//! Source: IAM Toolbox API Reference, GetRequestAuthorizationDetails
//! (https://docs.aws.amazon.com/iam-toolbox/latest/APIReference/API_GetRequestAuthorizationDetails.html):
//! `GET /authorization-details/{authorizationId}`, paginated by `nextToken`; errors
//! AccessDeniedException, ResourceNotFoundException, ValidationException, InternalServerException;
//! needs `iam:GetRequestAuthorizationDetails`; details kept at least 24 hours.

use super::AwsAdapter;
use super::error::Failure;
use crate::adapter::{AdapterError, CallerIdentity, DetailsUnavailable, Troubleshoot, UnavailableKind};
use crate::core::fromerror::authz::{
    AuthorizationDetails, AwsEvaluation, AwsMatchedPolicy, AwsPolicy, AwsStatement,
};
use aws_sdk_iamtoolbox::operation::get_request_authorization_details::GetRequestAuthorizationDetailsOutput;
use aws_smithy_types::{Document, Number};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

/// At most this many pages are read (each holds many evaluations; a request has few).
const MAX_PAGES: usize = 20;

impl Troubleshoot for AwsAdapter {
    fn caller_identity(&self) -> impl Future<Output = Result<CallerIdentity, AdapterError>> + Send {
        // The default credentials' session where there is one: the identity the operator runs as.
        let session = std::iter::once(&self.sessions.bucket)
            .chain(self.sessions.caller.as_ref())
            .find(|session| session.label == "default")
            .unwrap_or_else(|| self.sessions.caller());
        let identity = CallerIdentity {
            arn: session.arn.clone(),
            account: session.account.clone(),
        };
        std::future::ready(if identity.arn.is_empty() {
            Err(AdapterError::Credentials {
                session: session.label.clone(),
                reason: "GetCallerIdentity returned no ARN".into(),
            })
        } else {
            Ok(identity)
        })
    }

    fn authorization_details(
        &self,
        authorization_id: &str,
        account: Option<&str>,
    ) -> impl Future<Output = Result<AuthorizationDetails, DetailsUnavailable>> + Send {
        let session = account
            .and_then(|account| self.sessions.in_account(account))
            .unwrap_or_else(|| self.sessions.caller());
        let client = session.iam_toolbox();
        let region = session.region();
        let authorization_id = authorization_id.to_string();
        async move {
            let mut details = AuthorizationDetails {
                authorization_id: authorization_id.clone(),
                ..AuthorizationDetails::default()
            };
            let mut next_token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let page = client
                    .get_request_authorization_details()
                    .authorization_id(&authorization_id)
                    .set_next_token(next_token.clone())
                    .send()
                    .await
                    .map_err(|error| unavailable(&authorization_id, &region, &Failure::from_sdk(&error)))?;
                add_page(&mut details, &page);
                next_token = page
                    .next_token()
                    .map(str::to_string)
                    .filter(|token| !token.is_empty());
                if next_token.is_none() {
                    break;
                }
            }
            Ok(details)
        }
    }
}

/// What a failure of the call means for the operator.
fn unavailable(authorization_id: &str, region: &str, failure: &Failure) -> DetailsUnavailable {
    let code = failure.code.as_deref().unwrap_or_default();
    let (kind, reason) = match code {
        "AccessDeniedException" | "AccessDenied" => (
            UnavailableKind::Permission,
            format!(
                "{}; the session needs iam:GetRequestAuthorizationDetails and must belong to the denied principal's account or organization",
                failure.reason()
            ),
        ),
        "ResourceNotFoundException" => (
            UnavailableKind::NotFound,
            format!(
                "{}; AWS keeps the details for at least 24 hours after the denial: check the ID and the account",
                failure.reason()
            ),
        ),
        "SubscriptionRequiredException"
        | "OptInRequired"
        | "UnknownOperationException"
        | "UnrecognizedClientException"
        | "InvalidAction" => (
            UnavailableKind::Preview,
            format!(
                "{}; IAM Access Troubleshooter is in preview: this account may not have access",
                failure.reason()
            ),
        ),
        "" if failure.status.is_none() => (
            UnavailableKind::Region,
            format!(
                "the IAM Toolbox (preview) endpoint is not reachable in region `{region}` ({}); try --region us-east-1",
                failure.detail
            ),
        ),
        _ => (UnavailableKind::Other, failure.reason()),
    };
    DetailsUnavailable {
        authorization_id: authorization_id.to_string(),
        kind,
        reason,
    }
}

fn add_page(details: &mut AuthorizationDetails, page: &GetRequestAuthorizationDetailsOutput) {
    details.request_context.extend(to_map(page.request_context()));
    let types: BTreeMap<String, String> = page
        .policies()
        .iter()
        .filter_map(|policy| Some((policy.uri()?.to_string(), policy.r#type()?.as_str().to_string())))
        .collect();
    for policy in page.policies() {
        details.policies.push(AwsPolicy {
            policy_type: policy.r#type().map(|kind| kind.as_str().to_string()),
            uri: policy.uri().map(str::to_string),
            inline: policy.inline(),
            attached_to: policy
                .attached_to()
                .iter()
                .filter_map(|attached| attached.arn().map(str::to_string))
                .collect(),
        });
    }
    for evaluation in page.evaluations() {
        details.evaluations.push(AwsEvaluation {
            action: evaluation.action().to_string(),
            resource: evaluation.resource().to_string(),
            effect: evaluation
                .evaluated_effect()
                .map(|effect| effect.as_str().to_string()),
            context: evaluation.context().map(to_map).unwrap_or_default(),
            matched: evaluation
                .matched_policies()
                .iter()
                .map(|policy| AwsMatchedPolicy {
                    uri: policy.uri().to_string(),
                    policy_type: types.get(policy.uri()).cloned(),
                    statements: policy
                        .matched_statements()
                        .iter()
                        .map(|statement| AwsStatement {
                            sid: statement.sid().map(str::to_string),
                            effect: statement
                                .evaluated_effect()
                                .map(|effect| effect.as_str().to_string())
                                .unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
        });
    }
}

fn to_map(map: &HashMap<String, Document>) -> BTreeMap<String, Value> {
    map.iter()
        .map(|(key, value)| (key.clone(), to_json(value)))
        .collect()
}

fn to_json(document: &Document) -> Value {
    match document {
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), to_json(value)))
                .collect(),
        ),
        Document::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Document::Number(Number::PosInt(number)) => Value::from(*number),
        Document::Number(Number::NegInt(number)) => Value::from(*number),
        Document::Number(Number::Float(number)) => Value::from(*number),
        Document::String(text) => Value::String(text.clone()),
        Document::Bool(flag) => Value::Bool(*flag),
        Document::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: Option<&str>, status: Option<u16>) -> Failure {
        Failure {
            code: code.map(str::to_string),
            message: Some("no".into()),
            status,
            detail: "dispatch failure: dns error".into(),
            bucket_region: None,
        }
    }

    #[test]
    fn each_failure_says_why_the_details_are_not_available() {
        for (code, status, kind) in [
            (
                Some("AccessDeniedException"),
                Some(403),
                UnavailableKind::Permission,
            ),
            (
                Some("ResourceNotFoundException"),
                Some(404),
                UnavailableKind::NotFound,
            ),
            (
                Some("UnrecognizedClientException"),
                Some(403),
                UnavailableKind::Preview,
            ),
            (None, None, UnavailableKind::Region),
            (Some("InternalServerException"), Some(500), UnavailableKind::Other),
        ] {
            let unavailable = unavailable("a1b2", "ap-south-2", &failure(code, status));
            assert_eq!(unavailable.kind, kind, "{code:?}");
            assert_eq!(unavailable.authorization_id, "a1b2");
        }
        assert!(
            unavailable("a1b2", "ap-south-2", &failure(None, None))
                .reason
                .contains("ap-south-2")
        );
    }

    #[test]
    fn documents_become_json() {
        let document = Document::Object(HashMap::from([
            ("n".to_string(), Document::Number(Number::PosInt(3))),
            (
                "list".to_string(),
                Document::Array(vec![Document::String("a".into()), Document::Bool(true)]),
            ),
            ("none".to_string(), Document::Null),
        ]));
        assert_eq!(
            to_json(&document),
            serde_json::json!({"n": 3, "list": ["a", true], "none": null})
        );
    }
}
