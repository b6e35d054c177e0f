//! Requests through an S3 access point: the access point's network origin, its Block Public
//! Access, its policy, and the underlying bucket's policy, which must allow the same access or
//! delegate it to access points.
//!
//! Sources (Amazon S3 User Guide): "Configuring IAM policies for using access points"
//! (access-points-policies.html: "both the access point and the underlying bucket must permit the
//! request"; access point policy resources are `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY`;
//! the bucket may delegate with `s3:DataAccessPointAccount`); "Creating access points restricted
//! to a virtual private cloud" (access-points-vpc.html: "Amazon S3 rejects any request made to the
//! access point that doesn't originate from that VPC"); "Blocking public access to your Amazon S3
//! storage" (access-control-block-public-access.html: the access point's, bucket's and account's
//! settings combine; `RestrictPublicBuckets` limits an access point with a public policy to the
//! bucket owner's and the access point owner's accounts and AWS services).
//!
//! A request goes through an access point when its context names it in `s3:DataAccessPointArn`
//! (the ARN, or the access point's alias): that is the key AWS sets on such requests.

use super::gates::{GateReport, Inputs, Missing, ReasonCode, Verdict, named};
use super::public::public_statements;
use super::verdicts::{condition_notes, describe_refs, matched_in};
use super::{Compiled, ExplainError, Gate, S3Action, compile};
use crate::core::eval::{
    Context, ContextEntry, Decision, Outcome, PolicySet, Request, Requester, RequesterKind, ResourceRules,
    authorize, authorize_outcome,
};
use crate::core::policy::{Effect, PolicyKind};
use crate::core::world::{AccessPoint, Bucket, ItemKind, NetworkOrigin, PublicAccessBlock, World};

/// The context key naming the access point a request goes through.
pub const DATA_ACCESS_POINT_ARN: &str = "s3:DataAccessPointArn";
/// The context key holding the access point owner's account.
pub const DATA_ACCESS_POINT_ACCOUNT: &str = "s3:DataAccessPointAccount";
/// The context key holding the access point's network origin (`Internet` or `VPC`).
pub const ACCESS_POINT_NETWORK_ORIGIN: &str = "s3:AccessPointNetworkOrigin";

/// An access point ARN, `arn:PARTITION:s3:REGION:ACCOUNT:accesspoint/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPointArn {
    /// The whole ARN (without an object key).
    pub arn: String,
    /// The region.
    pub region: String,
    /// The owning account.
    pub account: String,
    /// The access point name.
    pub name: String,
}

impl AccessPointArn {
    /// Parse `arn:PARTITION:s3:REGION:ACCOUNT:accesspoint/NAME[/KEY]` into the ARN and the key
    /// after it (empty when none). `None` when the text is not an access point ARN.
    pub fn parse_with_key(text: &str) -> Option<(AccessPointArn, String)> {
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("s3"), Some(region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let rest = resource.strip_prefix("accesspoint/")?;
        let (name, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_account = account.len() == 12 && account.bytes().all(|byte| byte.is_ascii_digit());
        if partition.is_empty() || region.is_empty() || name.is_empty() || !valid_account {
            return None;
        }
        Some((
            AccessPointArn {
                arn: format!("arn:{partition}:s3:{region}:{account}:accesspoint/{name}"),
                region: region.to_string(),
                account: account.to_string(),
                name: name.to_string(),
            },
            key.to_string(),
        ))
    }
}

/// Whether a bucket-style name is an access point alias (`NAME-…-s3alias`).
pub fn is_alias(name: &str) -> bool {
    name.ends_with("-s3alias")
}

/// The access point a request names in `s3:DataAccessPointArn`, if any.
pub fn named_access_point(context: &[(String, ContextEntry)]) -> Option<&str> {
    context.iter().find_map(|(key, value)| match value {
        ContextEntry::Single(text) if key.eq_ignore_ascii_case(DATA_ACCESS_POINT_ARN) => Some(text.as_str()),
        _ => None,
    })
}

/// A request's way through an access point: the bucket behind it and what is known of it.
#[derive(Debug, Clone)]
pub(super) struct Through<'w> {
    /// The bucket the access point is attached to.
    pub(super) bucket: &'w Bucket,
    /// The access point's ARN.
    pub(super) arn: AccessPointArn,
    /// The access point as read; `None` when `GetAccessPoint` failed (then `unknown` says why).
    pub(super) point: Option<&'w AccessPoint>,
    /// Why the access point could not be read.
    pub(super) unknown: Option<String>,
}

/// The access point the request goes through, with its bucket. `Ok(None)` for a direct request.
pub(super) fn resolve<'w>(
    world: &'w World,
    context: &[(String, ContextEntry)],
    bucket_name: &str,
) -> Result<Option<Through<'w>>, ExplainError> {
    let Some(named) = named_access_point(context) else {
        return Ok(None);
    };
    if let Some((bucket, point)) = world.access_point(named) {
        let arn = AccessPointArn::parse_with_key(&point.arn)
            .map(|(arn, _)| arn)
            .ok_or_else(|| ExplainError::NoSuchAccessPoint(point.arn.clone()))?;
        return Ok(Some(Through {
            bucket,
            arn,
            point: Some(point),
            unknown: None,
        }));
    }
    // Not read: evaluable only when the ARN names the account and the bucket is known.
    let parsed = AccessPointArn::parse_with_key(named).map(|(arn, _)| arn);
    let reason = parsed
        .as_ref()
        .and_then(|arn| world.unknown_reason(ItemKind::AccessPoint, &arn.arn));
    match (parsed, reason, world.bucket(bucket_name)) {
        (Some(arn), Some(reason), Some(bucket)) => Ok(Some(Through {
            bucket,
            unknown: Some(reason.to_string()),
            arn,
            point: None,
        })),
        _ => Err(ExplainError::NoSuchAccessPoint(named.to_string())),
    }
}

impl Through<'_> {
    /// The resource the identity and access point policies see: the access point's object ARN
    /// (`…/object/KEY`) for object calls, the access point ARN for bucket calls.
    pub(super) fn resource(&self, action: S3Action, key: &str) -> String {
        if action.is_object() {
            format!("{}/object/{key}", self.arn.arn)
        } else {
            self.arn.arn.clone()
        }
    }

    /// Put the keys S3 sets on a request through an access point into its context (the ARN,
    /// not an alias the operator gave).
    pub(super) fn extend_context(&self, context: &mut Context) {
        context.insert(DATA_ACCESS_POINT_ARN, ContextEntry::Single(self.arn.arn.clone()));
        context.insert_default(
            DATA_ACCESS_POINT_ACCOUNT,
            ContextEntry::Single(self.arn.account.clone()),
        );
        if let Some(point) = self.point {
            let origin = match point.network_origin {
                NetworkOrigin::Internet => "Internet",
                NetworkOrigin::Vpc => "VPC",
            };
            context.insert_default(ACCESS_POINT_NETWORK_ORIGIN, ContextEntry::Single(origin.into()));
        }
    }

    /// The compiled access point policy, if it has one.
    fn policy(&self) -> Result<Option<Compiled>, ExplainError> {
        self.point
            .and_then(|point| point.policy.as_ref().map(|document| (point, document)))
            .map(|(point, document)| {
                compile(&point.arn, "access point policy", document, PolicyKind::Resource)
            })
            .transpose()
    }
}

/// What the access point gates need from the S3 model.
pub(super) struct PointCheck<'a> {
    pub(super) world: &'a World,
    pub(super) through: &'a Through<'a>,
    pub(super) inputs: &'a Inputs,
    pub(super) requester: &'a Requester,
    pub(super) context: &'a Context,
    pub(super) action: S3Action,
    pub(super) key: &'a str,
}

fn report(
    gate: Gate,
    verdict: Verdict,
    deciding: Vec<crate::core::eval::StatementRef>,
    detail: String,
    remedy: Option<String>,
) -> GateReport {
    GateReport {
        gate,
        verdict,
        code: ReasonCode::for_gate(gate, verdict),
        deciding,
        detail,
        remedy,
        missing: Vec::new(),
    }
}

/// The report for the matching Denies of these kinds, if any.
fn deny_report(gate: Gate, decision: &Decision, kinds: &[PolicyKind]) -> Option<GateReport> {
    let denies = matched_in(decision, kinds, Effect::Deny);
    (!denies.is_empty()).then(|| {
        report(
            gate,
            Verdict::ExplicitDeny,
            denies.clone(),
            format!(
                "denied by {}{}",
                describe_refs(&denies),
                condition_notes(decision, &denies)
            ),
            Some("change the request so the Deny's condition no longer holds, or narrow that Deny".into()),
        )
    })
}

/// The report for the matching Allows of the resource policy, if any.
fn allow_report(gate: Gate, decision: &Decision, lead: &str) -> Option<GateReport> {
    let allows = matched_in(decision, &[PolicyKind::Resource], Effect::Allow);
    (!allows.is_empty()).then(|| {
        report(
            gate,
            Verdict::Allow,
            allows.clone(),
            format!("{lead} {}", describe_refs(&allows)),
            None,
        )
    })
}

/// The access point side: identity policies with the access point policy, on the access point
/// resource, in the access point owner's account.
pub(super) fn point_decision(
    check: &PointCheck<'_>,
) -> Result<(Request, Decision, Option<Compiled>), ExplainError> {
    let policy = check.through.policy()?;
    let request = Request::new(
        check.requester.clone(),
        check.action.iam_action(),
        &check.through.resource(check.action, check.key),
        Some(check.through.arn.account.clone()),
        check.context.clone(),
    );
    let set = PolicySet {
        identity: check.inputs.identity.iter().map(named).collect(),
        boundary: check.inputs.boundary.as_ref().map(named),
        session: None,
        scps: check
            .inputs
            .scps
            .iter()
            .map(|level| level.iter().map(named).collect())
            .collect(),
        rcps: Vec::new(),
        resource: policy.as_ref().map(named),
        acl: None,
        resource_rules: Some(ResourceRules::Standard),
    };
    let decision = authorize(&set, &request);
    Ok((request, decision, policy))
}

/// Whether the identity policies must allow: always across accounts, and in the access point's
/// own account unless its policy grants the caller directly.
pub(super) fn identity_needed(check: &PointCheck<'_>) -> Result<bool, ExplainError> {
    if check.requester.account.as_deref() != Some(check.through.arn.account.as_str()) {
        return Ok(true);
    }
    let (request, _, policy) = point_decision(check)?;
    let set = PolicySet {
        resource: policy.as_ref().map(named),
        resource_rules: Some(ResourceRules::Standard),
        ..PolicySet::default()
    };
    Ok(authorize_outcome(&set, &request).outcome != Outcome::Allowed)
}

/// The access point gate: network origin first (S3 rejects before any policy), then the policy.
pub(super) fn point_gate(check: &PointCheck<'_>) -> Result<GateReport, ExplainError> {
    let gate = Gate::AccessPointPolicy;
    let arn = &check.through.arn.arn;
    let Some(point) = check.through.point else {
        return Ok(report(
            gate,
            Verdict::Unknown,
            Vec::new(),
            format!(
                "access point `{arn}` could not be read: {}",
                check.through.unknown.clone().unwrap_or_default()
            ),
            Some(format!(
                "re-run with a role in account {} that may call s3:GetAccessPoint",
                check.through.arn.account
            )),
        ));
    };
    if point.network_origin == NetworkOrigin::Vpc {
        let vpc = point.vpc_id.clone().unwrap_or_default();
        let source = match check.context.get("aws:SourceVpc") {
            Some(ContextEntry::Single(value)) => Some(value.clone()),
            _ => None,
        };
        if source.as_deref() != Some(vpc.as_str()) {
            let from = source.map_or_else(
                || {
                    "from outside any VPC (no aws:SourceVpc; give --vpce or --context aws:SourceVpc=…)"
                        .to_string()
                },
                |other| format!("from VPC `{other}`"),
            );
            let mut gate_report = report(
                gate,
                Verdict::ImplicitDeny,
                Vec::new(),
                format!(
                    "access point `{arn}` accepts requests only from VPC `{vpc}`; this request comes {from}"
                ),
                Some(format!(
                    "send the request from VPC `{vpc}` through an S3 VPC endpoint; a network origin cannot be changed, so callers outside it need another access point (or the bucket directly)"
                )),
            );
            gate_report.code = ReasonCode::AccessPointNetworkOrigin;
            return Ok(gate_report);
        }
    }
    if let Some(reason) = check
        .world
        .unknown_reason(ItemKind::AccessPointPolicy, &point.arn)
    {
        return Ok(report(
            gate,
            Verdict::Unknown,
            Vec::new(),
            format!("the access point policy could not be read: {reason}"),
            Some(format!(
                "re-run with a role in account {} that may call s3:GetAccessPointPolicy",
                point.account
            )),
        ));
    }
    let (request, decision, policy) = point_decision(check)?;
    if let Some(denied) = deny_report(gate, &decision, &[PolicyKind::Resource]) {
        return Ok(denied);
    }
    if let Some(allowed) = allow_report(gate, &decision, "allowed by") {
        return Ok(allowed);
    }
    let same_account = request.is_same_account();
    if same_account && decision.outcome == Outcome::Allowed {
        return Ok(report(
            gate,
            Verdict::NotApplicable,
            Vec::new(),
            "no statement applies; in the access point's own account the identity policy suffices".into(),
            None,
        ));
    }
    let principal = &check.requester.arn;
    let action = check.action.iam_action();
    let detail = match (&policy, same_account) {
        (None, false) => format!(
            "access point `{arn}` has no policy, and a caller from another account needs one that allows it"
        ),
        (Some(_), false) => format!(
            "no access point policy statement allows `{principal}` `{action}` on `{}`, and a caller from another account needs one",
            request.resource
        ),
        (_, true) => format!(
            "neither the access point policy nor an identity policy allows `{action}` on `{}`",
            request.resource
        ),
    };
    let mut gate_report = report(
        gate,
        Verdict::ImplicitDeny,
        Vec::new(),
        detail,
        Some(format!(
            "add an access point policy statement allowing exactly `{principal}` `{action}` on `{}` (account {} can, with s3control put-access-point-policy)",
            request.resource, point.account
        )),
    );
    gate_report.missing = vec![Missing::ResourcePolicy];
    Ok(gate_report)
}

/// The Block Public Access that applies to a request through the access point: the most
/// restrictive of the access point's, its account's, the bucket's and the bucket account's.
fn effective_block(world: &World, through: &Through<'_>, point: &AccessPoint) -> PublicAccessBlock {
    let levels = [
        point.public_access_block,
        world
            .account(&point.account)
            .and_then(|account| account.public_access_block),
        through.bucket.public_access_block,
        world
            .account(&through.bucket.account)
            .and_then(|account| account.public_access_block),
    ];
    levels
        .iter()
        .flatten()
        .fold(PublicAccessBlock::default(), |combined, level| {
            PublicAccessBlock {
                block_public_acls: combined.block_public_acls || level.block_public_acls,
                ignore_public_acls: combined.ignore_public_acls || level.ignore_public_acls,
                block_public_policy: combined.block_public_policy || level.block_public_policy,
                restrict_public_buckets: combined.restrict_public_buckets || level.restrict_public_buckets,
            }
        })
}

/// The access point's Block Public Access gate: a public access point policy under
/// `RestrictPublicBuckets` serves only the access point owner's and bucket owner's accounts and
/// AWS services.
pub(super) fn block_gate(check: &PointCheck<'_>) -> Result<GateReport, ExplainError> {
    let gate = Gate::AccessPointBlockPublicAccess;
    let Some(point) = check.through.point else {
        return Ok(report(
            gate,
            Verdict::Unknown,
            Vec::new(),
            "the access point's Block Public Access could not be read".into(),
            None,
        ));
    };
    let block = effective_block(check.world, check.through, point);
    let Some(policy) = check.through.policy()? else {
        return Ok(report(
            gate,
            Verdict::NotApplicable,
            Vec::new(),
            "the access point has no policy, so none of it is public".into(),
            None,
        ));
    };
    let public = public_statements(&policy.policy);
    if public.is_empty() {
        return Ok(report(
            gate,
            Verdict::NotApplicable,
            Vec::new(),
            "the access point policy is not public".into(),
            None,
        ));
    }
    let refs: Vec<_> = public
        .iter()
        .filter_map(|position| policy.policy.statements.get(*position))
        .map(|statement| crate::core::eval::StatementRef {
            kind: PolicyKind::Resource,
            policy: policy.name.clone(),
            statement: statement.index,
            sid: statement.sid.clone(),
            effect: statement.effect,
        })
        .collect();
    let caller = check.requester.account.as_deref();
    let insider =
        caller == Some(point.account.as_str()) || caller == Some(check.through.bucket.account.as_str());
    if block.restrict_public_buckets && !insider && check.requester.kind != RequesterKind::Service {
        return Ok(report(
            gate,
            Verdict::ExplicitDeny,
            refs.clone(),
            format!(
                "RestrictPublicBuckets is on and {} make the access point policy public: only accounts {} and {} and AWS services may use it",
                describe_refs(&refs),
                point.account,
                check.through.bucket.account
            ),
            Some("make the access point policy non-public: name the principal, or pin it with a fixed aws:PrincipalAccount / aws:SourceVpc condition".into()),
        ));
    }
    Ok(report(
        gate,
        Verdict::Allow,
        Vec::new(),
        format!(
            "the access point policy is public ({}), but RestrictPublicBuckets does not apply to this caller",
            describe_refs(&refs)
        ),
        None,
    ))
}

/// The bucket behind the access point: its policy must allow the same access, by a grant or by
/// delegating to access points (`s3:DataAccessPointAccount`, `s3:DataAccessPointArn`). The
/// identity side was checked against the access point, so here only the bucket policy (and the
/// bucket account's RCPs) count; in the bucket's own account an identity Allow on the bucket
/// resource also suffices (`s3_same_account`).
pub(super) fn bucket_gate(
    bucket_side: &Decision,
    s3_same_account_allowed: bool,
    unknown: Option<String>,
    through: &Through<'_>,
    has_policy: bool,
) -> GateReport {
    let gate = Gate::BucketPolicy;
    if let Some(denied) = deny_report(gate, bucket_side, &[PolicyKind::Resource, PolicyKind::Rcp]) {
        return denied;
    }
    if let Some(reason) = unknown {
        return report(
            gate,
            Verdict::Unknown,
            Vec::new(),
            format!("the bucket policy could not be read: {reason}"),
            Some("re-run with a --bucket-role that may call s3:GetBucketPolicy".into()),
        );
    }
    let through_text = format!("allowed through access point `{}` by", through.arn.arn);
    if let Some(allowed) = allow_report(gate, bucket_side, &through_text) {
        return allowed;
    }
    if s3_same_account_allowed {
        return report(
            gate,
            Verdict::NotApplicable,
            Vec::new(),
            "no statement applies; in the bucket's own account the identity policy allows the bucket resource".into(),
            None,
        );
    }
    let bucket = &through.bucket.name;
    let point_account = &through.arn.account;
    let detail = if has_policy {
        format!(
            "the bucket policy of `{bucket}` neither allows this access nor delegates to access points of account {point_account} (s3:DataAccessPointAccount)"
        )
    } else {
        format!("bucket `{bucket}` has no policy, so it does not delegate access control to access points")
    };
    let mut gate_report = report(
        gate,
        Verdict::ImplicitDeny,
        Vec::new(),
        detail,
        Some(format!(
            "delegate to the access points of account {point_account}: a bucket-policy statement with Principal `*`, Action `*`, Resource `arn:aws:s3:::{bucket}` and `arn:aws:s3:::{bucket}/*`, and Condition StringEquals s3:DataAccessPointAccount = {point_account} (account {} can add it)",
            through.bucket.account
        )),
    );
    gate_report.missing = vec![Missing::ResourcePolicy];
    gate_report
}

/// The bucket side alone: the bucket policy (Allows only for objects the bucket owner owns, as
/// given) and the bucket account's RCPs, on the bucket resource, with the access point keys.
pub(super) fn bucket_decision(
    bucket_policy: Option<&Compiled>,
    rcps: &[Compiled],
    request: &Request,
) -> Decision {
    let set = PolicySet {
        rcps: rcps.iter().map(named).collect(),
        resource: bucket_policy.map(named),
        resource_rules: Some(ResourceRules::Standard),
        ..PolicySet::default()
    };
    authorize(&set, request)
}

/// What a planner reports for a denying access point or VPC endpoint gate it cannot fix, and the
/// remedy: endpoint policies belong to the endpoint owner's account and are never edited; an
/// access point policy's Denies, its network origin and its Block Public Access are reported with
/// the change the gate names (the planner only adds grants to access point policies).
pub fn blocker_text(gate: &GateReport) -> (String, String) {
    let remedy = gate.remedy.clone().unwrap_or_default();
    let what = format!("{}: {}", gate.gate.describe(), gate.detail);
    let remedy = match gate.gate {
        Gate::VpcEndpointPolicy => remedy,
        _ => format!("s3fix only adds exact-principal grants to access point policies; {remedy}"),
    };
    (what, remedy)
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
    fn parses_access_point_arns_with_and_without_keys() {
        let (arn, key) =
            AccessPointArn::parse_with_key("arn:aws:s3:us-east-1:111111111111:accesspoint/data-ap/a/b.csv")
                .unwrap();
        assert_eq!(arn.arn, "arn:aws:s3:us-east-1:111111111111:accesspoint/data-ap");
        assert_eq!(
            (arn.region.as_str(), arn.account.as_str(), arn.name.as_str()),
            ("us-east-1", "111111111111", "data-ap")
        );
        assert_eq!(key, "a/b.csv");
        let (arn, key) =
            AccessPointArn::parse_with_key("arn:aws-cn:s3:cn-north-1:111111111111:accesspoint/x").unwrap();
        assert_eq!(arn.arn, "arn:aws-cn:s3:cn-north-1:111111111111:accesspoint/x");
        assert_eq!(key, "");
    }

    #[test]
    fn rejects_other_arns() {
        for text in [
            "arn:aws:s3:::bucket/key",
            "arn:aws:s3:us-east-1:111:accesspoint/x",
            "arn:aws:s3:us-east-1:111111111111:accesspoint/",
            "arn:aws:s3-object-lambda:us-east-1:111111111111:accesspoint/x",
            "s3://bucket/key",
        ] {
            assert!(AccessPointArn::parse_with_key(text).is_none(), "{text}");
        }
    }

    fn world_with_point() -> World {
        serde_json::from_value(serde_json::json!({
            "formatVersion": 1,
            "buckets": [{"name": "lake", "account": "111111111111", "region": "us-east-1",
                "accessPoints": [{"name": "ap", "arn": "arn:aws:s3:us-east-1:333333333333:accesspoint/ap",
                    "account": "333333333333", "bucketAccount": "111111111111", "alias": "ap-x-s3alias",
                    "networkOrigin": "VPC", "vpcId": "vpc-1"}]}],
        }))
        .unwrap()
    }

    #[test]
    fn resolve_finds_the_bucket_by_arn_or_alias_and_sets_the_context_keys() {
        let world = world_with_point();
        for named in ["arn:aws:s3:us-east-1:333333333333:accesspoint/ap", "ap-x-s3alias"] {
            let context = vec![(
                DATA_ACCESS_POINT_ARN.to_string(),
                ContextEntry::Single(named.into()),
            )];
            let through = resolve(&world, &context, "ignored").unwrap().unwrap();
            assert_eq!(through.bucket.name, "lake");
            assert_eq!(
                through.resource(S3Action::Get, "k/1"),
                "arn:aws:s3:us-east-1:333333333333:accesspoint/ap/object/k/1"
            );
            assert_eq!(
                through.resource(S3Action::List, ""),
                "arn:aws:s3:us-east-1:333333333333:accesspoint/ap"
            );
            let mut request_context = Context::new();
            request_context.insert(DATA_ACCESS_POINT_ARN, ContextEntry::Single(named.into()));
            through.extend_context(&mut request_context);
            let single = |key: &str| match request_context.get(key) {
                Some(ContextEntry::Single(value)) => value.clone(),
                other => panic!("{key}: {other:?}"),
            };
            assert_eq!(
                single(DATA_ACCESS_POINT_ARN),
                "arn:aws:s3:us-east-1:333333333333:accesspoint/ap"
            );
            assert_eq!(single(DATA_ACCESS_POINT_ACCOUNT), "333333333333");
            assert_eq!(single(ACCESS_POINT_NETWORK_ORIGIN), "VPC");
        }
    }

    #[test]
    fn resolve_without_an_access_point_is_a_direct_request() {
        assert!(resolve(&world_with_point(), &[], "lake").unwrap().is_none());
    }

    #[test]
    fn an_unread_access_point_resolves_to_the_named_bucket_with_its_reason() {
        let mut world = world_with_point();
        let arn = "arn:aws:s3:us-east-1:111111111111:accesspoint/unread";
        world.unknown.push(crate::core::world::UnknownItem {
            item: ItemKind::AccessPoint,
            resource: arn.into(),
            reason: "AccessDenied".into(),
        });
        let context = vec![(
            DATA_ACCESS_POINT_ARN.to_string(),
            ContextEntry::Single(arn.into()),
        )];
        let through = resolve(&world, &context, "lake").unwrap().unwrap();
        assert!(through.point.is_none());
        assert_eq!(through.unknown.as_deref(), Some("AccessDenied"));
        let missing = vec![(
            DATA_ACCESS_POINT_ARN.to_string(),
            ContextEntry::Single("arn:aws:s3:us-east-1:111111111111:accesspoint/other".into()),
        )];
        assert!(matches!(
            resolve(&world, &missing, "lake"),
            Err(ExplainError::NoSuchAccessPoint(_))
        ));
    }

    #[test]
    fn blocker_text_keeps_endpoint_remedies_and_marks_access_point_ones() {
        let gate = |gate| GateReport {
            gate,
            verdict: Verdict::ImplicitDeny,
            code: ReasonCode::for_gate(gate, Verdict::ImplicitDeny),
            deciding: Vec::new(),
            detail: "d".into(),
            remedy: Some("r".into()),
            missing: Vec::new(),
        };
        assert_eq!(
            blocker_text(&gate(Gate::VpcEndpointPolicy)),
            ("VPC endpoint policy: d".to_string(), "r".to_string())
        );
        assert_eq!(
            blocker_text(&gate(Gate::AccessPointPolicy)).1,
            "s3fix only adds exact-principal grants to access point policies; r"
        );
    }

    #[test]
    fn aliases_end_in_s3alias() {
        assert!(is_alias("data-ap-hfc8sxvd7k3yvk7iudvbyzyk1rh1ause1a-s3alias"));
        assert!(!is_alias("my-bucket"));
    }

    #[test]
    fn named_access_point_reads_the_context_key_in_any_case() {
        let context = vec![(
            "S3:DataAccessPointArn".to_string(),
            ContextEntry::Single("arn:aws:s3:us-east-1:111111111111:accesspoint/x".into()),
        )];
        assert_eq!(
            named_access_point(&context),
            Some("arn:aws:s3:us-east-1:111111111111:accesspoint/x")
        );
        assert_eq!(named_access_point(&[]), None);
    }
}
