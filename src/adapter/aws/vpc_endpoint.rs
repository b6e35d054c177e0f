//! EC2 `DescribeVpcEndpoints` of one endpoint: its type, service, VPC, owner and policy. The
//! endpoint is looked for in the caller's account first (where the VPC usually is), then the
//! bucket's. An endpoint no session can read becomes an unknown item: its gate is unknown,
//! never allowed.

use super::error::Failure;
use super::session::Session;
use super::{AwsAdapter, fatal};
use crate::adapter::AdapterError;
use crate::core::world::{ItemKind, UnknownItem, VpcEndpoint, VpcEndpointType};

/// Turn one `VpcEndpoint` of the EC2 answer into ours; `None` when it lacks an id.
fn endpoint_from(endpoint: &aws_sdk_ec2::types::VpcEndpoint) -> Result<Option<VpcEndpoint>, String> {
    let Some(id) = endpoint.vpc_endpoint_id() else {
        return Ok(None);
    };
    let endpoint_type = match endpoint.vpc_endpoint_type() {
        Some(aws_sdk_ec2::types::VpcEndpointType::Gateway) => VpcEndpointType::Gateway,
        _ => VpcEndpointType::Interface,
    };
    let policy = match endpoint.policy_document() {
        None => None,
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|error| format!("the policy of endpoint `{id}` is not JSON: {error}"))?,
        ),
    };
    Ok(Some(VpcEndpoint {
        id: id.to_string(),
        endpoint_type,
        service_name: endpoint.service_name().unwrap_or_default().to_string(),
        vpc_id: endpoint.vpc_id().unwrap_or_default().to_string(),
        owner_account: endpoint.owner_id().unwrap_or_default().to_string(),
        policy,
    }))
}

/// One session's answer: the endpoint, not there, or why it could not be read.
async fn describe(session: &Session, region: &str, id: &str) -> Result<Option<VpcEndpoint>, Failure> {
    let answer = session
        .ec2(region)
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .map_err(|error| Failure::from_sdk(&error))?;
    let found = answer
        .vpc_endpoints()
        .iter()
        .find(|endpoint| endpoint.vpc_endpoint_id() == Some(id));
    match found.map(endpoint_from).transpose() {
        Ok(endpoint) => Ok(endpoint.flatten()),
        Err(message) => Err(Failure {
            code: Some("InvalidPolicyJson".into()),
            message: Some(message),
            status: None,
            detail: String::new(),
            bucket_region: None,
        }),
    }
}

impl AwsAdapter {
    /// Read VPC endpoint `id` in `region`: the endpoint, or the unknown item saying why no
    /// session could read it. Expired or rejected credentials end the read with an error.
    pub async fn read_vpc_endpoint(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Result<VpcEndpoint, UnknownItem>, AdapterError> {
        let sessions = &self.sessions;
        let mut reasons = Vec::new();
        for session in sessions.caller.iter().chain(std::iter::once(&sessions.bucket)) {
            match describe(session, region, id).await {
                Ok(Some(endpoint)) => return Ok(Ok(endpoint)),
                Ok(None) => reasons.push(format!("not found in account {}", session.account)),
                Err(failure) => {
                    if let Some(error) = fatal(session, &failure) {
                        return Err(error);
                    }
                    reasons.push(format!("account {}: {}", session.account, failure.reason()));
                }
            }
        }
        Ok(Err(UnknownItem {
            item: ItemKind::VpcEndpoint,
            resource: id.to_string(),
            reason: format!("DescribeVpcEndpoints: {}", reasons.join("; ")),
        }))
    }
}
