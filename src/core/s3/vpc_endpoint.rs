//! Requests through a VPC endpoint (`aws:SourceVpce`): the endpoint policy is a gate of its own.
//! It does not grant anything; it must allow the request too, and a matching Deny in it denies.
//!
//! Sources: AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint policies"
//! (vpc-endpoints-access.html: the default policy allows full access; "an endpoint policy does
//! not override or replace identity-based policies or resource-based policies"; the Principal
//! element names who may use the endpoint); Amazon VPC "Gateway endpoints for Amazon S3"
//! (vpc-endpoints-s3.html: a gateway endpoint reaches buckets in its own Region only); Amazon S3
//! User Guide, "Creating access points restricted to a virtual private cloud"
//! (access-points-vpc.html: a request through an access point from a VPC succeeds only if the
//! endpoint policy grants access to both the access point and the underlying bucket).

use super::gates::{GateReport, ReasonCode, Verdict};
use super::verdicts::{condition_notes, describe_refs, matched_in};
use super::{Compiled, ExplainError, Gate, compile};
use crate::core::eval::{
    Context, ContextEntry, Decision, PolicySet, Request, Requester, ResourceRules, authorize,
};
use crate::core::policy::{Effect, PolicyKind};
use crate::core::world::{ItemKind, VpcEndpoint, VpcEndpointType, World};

/// The context key naming the endpoint a request goes through.
pub const SOURCE_VPCE: &str = "aws:SourceVpce";
/// The context key naming the VPC a request comes from.
pub const SOURCE_VPC: &str = "aws:SourceVpc";

/// The endpoint id a request names in `aws:SourceVpce`, if any.
pub fn named_endpoint(context: &Context) -> Option<&str> {
    match context.get(SOURCE_VPCE) {
        Some(ContextEntry::Single(id)) => Some(id.as_str()),
        _ => None,
    }
}

/// A request through an endpoint comes from the endpoint's VPC: set `aws:SourceVpc` where the
/// operator did not.
pub(super) fn extend_context(world: &World, context: &mut Context) {
    let vpc = named_endpoint(context)
        .and_then(|id| world.vpc_endpoint(id))
        .map(|endpoint| endpoint.vpc_id.clone());
    if let Some(vpc) = vpc {
        context.insert_default(SOURCE_VPC, ContextEntry::Single(vpc));
    }
}

/// The Region in an S3 endpoint service name (`com.amazonaws.REGION.s3`).
pub fn service_region(service_name: &str) -> Option<&str> {
    let mut parts = service_name.split('.');
    let region = parts.nth(2)?;
    (parts.next() == Some("s3")).then_some(region)
}

fn report(
    verdict: Verdict,
    deciding: Vec<crate::core::eval::StatementRef>,
    detail: String,
    remedy: Option<String>,
) -> GateReport {
    GateReport {
        gate: Gate::VpcEndpointPolicy,
        verdict,
        code: ReasonCode::for_gate(Gate::VpcEndpointPolicy, verdict),
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    }
}

/// Evaluate the endpoint policy alone for one resource.
fn decide(
    policy: &Compiled,
    requester: &Requester,
    action: &str,
    resource: &str,
    context: &Context,
) -> Decision {
    let request = Request::new(requester.clone(), action, resource, None, context.clone());
    let set = PolicySet {
        resource: Some(crate::core::eval::NamedPolicy {
            name: &policy.name,
            policy: &policy.policy,
        }),
        resource_rules: Some(ResourceRules::Standard),
        ..PolicySet::default()
    };
    authorize(&set, &request)
}

/// What the endpoint gate needs.
pub(super) struct EndpointCheck<'a> {
    pub(super) world: &'a World,
    pub(super) requester: &'a Requester,
    pub(super) context: &'a Context,
    pub(super) action: &'a str,
    /// Every resource the endpoint policy must allow: the bucket resource, and for a request
    /// through an access point the access point resource too.
    pub(super) resources: Vec<String>,
    /// The bucket's Region.
    pub(super) bucket_region: &'a str,
}

/// The endpoint gate; `None` when the request names no endpoint.
pub(super) fn endpoint_gate(check: &EndpointCheck<'_>) -> Result<Option<GateReport>, ExplainError> {
    let Some(id) = named_endpoint(check.context) else {
        return Ok(None);
    };
    let Some(endpoint) = check.world.vpc_endpoint(id) else {
        let reason = check
            .world
            .unknown_reason(ItemKind::VpcEndpoint, id)
            .map_or_else(|| "it is not in the world".to_string(), str::to_string);
        return Ok(Some(report(
            Verdict::Unknown,
            Vec::new(),
            format!("VPC endpoint `{id}` could not be read: {reason}"),
            Some(
                "re-run with a role in the VPC owner's account that may call ec2:DescribeVpcEndpoints".into(),
            ),
        )));
    };
    Ok(Some(gate_for(check, endpoint)?))
}

fn gate_for(check: &EndpointCheck<'_>, endpoint: &VpcEndpoint) -> Result<GateReport, ExplainError> {
    let id = &endpoint.id;
    let owner = &endpoint.owner_account;
    if endpoint.endpoint_type == VpcEndpointType::Gateway
        && let Some(region) = service_region(&endpoint.service_name)
        && region != check.bucket_region
    {
        let mut gate_report = report(
            Verdict::ImplicitDeny,
            Vec::new(),
            format!(
                "gateway endpoint `{id}` serves S3 in {region} only; the bucket is in {}",
                check.bucket_region
            ),
            Some(format!(
                "use an interface endpoint, or a gateway endpoint in {}",
                check.bucket_region
            )),
        );
        gate_report.code = ReasonCode::VpcEndpointRegion;
        return Ok(gate_report);
    }
    let Some(document) = &endpoint.policy else {
        return Ok(report(
            Verdict::Allow,
            Vec::new(),
            format!("endpoint `{id}` has the default policy, which allows full access"),
            None,
        ));
    };
    let policy = compile(id, "endpoint policy", document, PolicyKind::Resource)?;
    let mut allows = Vec::new();
    let mut missing_resources = Vec::new();
    for resource in &check.resources {
        let decision = decide(&policy, check.requester, check.action, resource, check.context);
        let denies = matched_in(&decision, &[PolicyKind::Resource], Effect::Deny);
        if !denies.is_empty() {
            return Ok(report(
                Verdict::ExplicitDeny,
                denies.clone(),
                format!(
                    "endpoint `{id}` denies `{}` on `{resource}`: {}{}",
                    check.action,
                    describe_refs(&denies),
                    condition_notes(&decision, &denies)
                ),
                Some(format!(
                    "only account {owner} (the endpoint's owner) can change its policy (ec2 modify-vpc-endpoint --policy-document); s3fix does not edit endpoint policies"
                )),
            ));
        }
        let found = matched_in(&decision, &[PolicyKind::Resource], Effect::Allow);
        if found.is_empty() {
            missing_resources.push(resource.clone());
        }
        for reference in found {
            if !allows.contains(&reference) {
                allows.push(reference);
            }
        }
    }
    if missing_resources.is_empty() {
        return Ok(report(
            Verdict::Allow,
            allows.clone(),
            format!("endpoint `{id}` allows it by {}", describe_refs(&allows)),
            None,
        ));
    }
    let resources = missing_resources
        .iter()
        .map(|resource| format!("`{resource}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": check.requester.principal_arn.clone().unwrap_or_else(|| check.requester.arn.clone())},
        "Action": check.action,
        "Resource": missing_resources,
    });
    let mut gate_report = report(
        Verdict::ImplicitDeny,
        Vec::new(),
        format!(
            "no statement of the policy of endpoint `{id}` allows `{}` on {resources}",
            check.action
        ),
        Some(format!(
            "account {owner} (the endpoint's owner) must add to its endpoint policy: {statement}; s3fix does not edit endpoint policies"
        )),
    );
    gate_report.code = ReasonCode::MissingVpcEndpointGrant;
    Ok(gate_report)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;

    #[test]
    fn service_region_reads_s3_service_names() {
        assert_eq!(service_region("com.amazonaws.us-east-1.s3"), Some("us-east-1"));
        assert_eq!(service_region("com.amazonaws.eu-west-1.dynamodb"), None);
        assert_eq!(service_region("s3"), None);
    }

    #[test]
    fn extend_context_sets_the_endpoint_vpc_only_when_absent() {
        let mut world = World::new();
        world.vpc_endpoints.push(VpcEndpoint {
            id: "vpce-1".into(),
            endpoint_type: VpcEndpointType::Gateway,
            service_name: "com.amazonaws.us-east-1.s3".into(),
            vpc_id: "vpc-a".into(),
            owner_account: "111111111111".into(),
            policy: None,
        });
        let mut context = Context::new();
        context.insert(SOURCE_VPCE, ContextEntry::Single("vpce-1".into()));
        extend_context(&world, &mut context);
        assert_eq!(
            context.get(SOURCE_VPC),
            Some(&ContextEntry::Single("vpc-a".into()))
        );
        let mut given = Context::new();
        given.insert(SOURCE_VPCE, ContextEntry::Single("vpce-1".into()));
        given.insert(SOURCE_VPC, ContextEntry::Single("vpc-b".into()));
        extend_context(&world, &mut given);
        assert_eq!(given.get(SOURCE_VPC), Some(&ContextEntry::Single("vpc-b".into())));
    }
}
