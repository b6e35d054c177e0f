//! `s3fix explain`: which gate denies a request, and which statement decided.

use crate::adapter::ObserveRequest;
use crate::cmd::source::SourceArgs;
use crate::core::eval::ContextEntry;
use crate::core::s3::access_point::{AccessPointArn, DATA_ACCESS_POINT_ARN, is_alias};
use crate::core::s3::vpc_endpoint::SOURCE_VPCE;
use crate::core::s3::{FinalDecision, S3Action, S3Request, explain};
use crate::exec::observe::{access_point_bucket, attach_access_point, attach_vpc_endpoint, observe};
use crate::exit::ExitCode;
use crate::hint::HintedError;
use crate::printer::Printer;
use crate::render;

/// Explain which gate allows or denies an S3 request, and which statement decided.
///
/// Reads every gate — identity policy, bucket policy, ACL / Object Ownership, Block Public
/// Access, SSE-KMS key — from both AWS accounts (or a world file, `--world`) and evaluates the
/// request as AWS does.
/// Exit codes: 0 allowed; 2 denied (or unknown: a gate could not be read); 1 error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The object (`s3://BUCKET/KEY`), or the bucket and prefix for `--action list`. Through an
    /// access point: `s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/KEY` or
    /// `s3://NAME-…-s3alias/KEY`. With `--from-error`, only what the error does not name.
    pub target: Option<String>,
    /// The caller: an assumed-role session, role or user ARN (`*` for anonymous). With
    /// `--from-error`, only when the error does not name it (else the current credentials'
    /// identity is used).
    #[arg(long)]
    pub principal: Option<String>,
    /// The operation: get, head, put or list (default get; with `--from-error`, the error's).
    #[arg(long)]
    pub action: Option<String>,
    /// Request context, e.g. `--context aws:SourceIp=203.0.113.7` (repeatable; a value with
    /// commas, `a,b`, is multi-valued when the key is given as `KEY[]=a,b`).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// The VPC endpoint the request goes through (`vpce-…`): its endpoint policy is a gate too
    /// (same as `--context aws:SourceVpce=vpce-…`).
    #[arg(long, value_name = "VPCE_ID")]
    pub vpce: Option<String>,
    /// Where to read the world from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Show every statement's match result and the request context.
    #[arg(long)]
    pub reasons: bool,
    /// Start from the error instead: a pasted message, a CloudTrail record, an authorization ID.
    #[command(flatten)]
    pub from: crate::cmd::fromerror::FromErrorArgs,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable text.
    Text,
    /// One JSON document.
    Json,
}

/// Split `s3://bucket/key` into bucket and key.
pub fn parse_target(target: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = target.strip_prefix("s3://") else {
        return Err(HintedError::new(format!("`{target}` is not an S3 URL"), "write s3://BUCKET/KEY").into());
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(HintedError::new(format!("`{target}` names no bucket"), "write s3://BUCKET/KEY").into());
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// Parse `KEY=VALUE` (or `KEY[]=a,b` for a multi-valued key); each value must fit its key's
/// type (an IP address for `aws:SourceIp`, a boolean, a date, a number).
pub fn parse_context(pairs: &[String]) -> anyhow::Result<Vec<(String, ContextEntry)>> {
    pairs
        .iter()
        .map(|pair| {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(HintedError::new(
                    format!("context `{pair}` is not KEY=VALUE"),
                    "e.g. --context aws:SourceIp=203.0.113.7",
                )
                .into());
            };
            let (key, entry) = match key.strip_suffix("[]") {
                Some(key) => (
                    key,
                    ContextEntry::Multi(value.split(',').map(str::to_string).collect()),
                ),
                None => (key, ContextEntry::Single(value.to_string())),
            };
            let values = match &entry {
                ContextEntry::Single(value) => std::slice::from_ref(value),
                ContextEntry::Multi(values) => values.as_slice(),
            };
            for value in values {
                crate::core::context_key::check_value(key, value)?;
            }
            Ok((key.to_string(), entry))
        })
        .collect()
}

/// The access point an `s3://` target names (its ARN or alias) and the key after it, if it
/// names one.
pub fn access_point_target(target: &str) -> Option<(String, String)> {
    let rest = target.strip_prefix("s3://")?;
    if let Some((arn, key)) = AccessPointArn::parse_with_key(rest) {
        return Some((arn.arn, key));
    }
    let (name, key) = rest.split_once('/').unwrap_or((rest, ""));
    is_alias(name).then(|| (name.to_string(), key.to_string()))
}

/// Run `s3fix explain`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.from.is_requested() {
        return crate::cmd::fromerror::explain(args, printer);
    }
    let Some(target) = args.target.as_deref() else {
        return Err(HintedError::new(
            "give the object to explain, s3://BUCKET/KEY",
            "or start from the error with --from-error TEXT, --from-cloudtrail FILE or --authorization-id ID",
        )
        .into());
    };
    let Some(principal) = args.principal.clone() else {
        return Err(HintedError::new(
            "give the caller with --principal ARN",
            "or start from the error with --from-error TEXT",
        )
        .into());
    };
    let source = args.source.resolve()?;
    let mut context = parse_context(&args.context)?;
    if let Some(vpce) = &args.vpce {
        context.retain(|(name, _)| !name.eq_ignore_ascii_case(SOURCE_VPCE));
        context.push((SOURCE_VPCE.to_string(), ContextEntry::Single(vpce.clone())));
    }
    let mut read_point = None;
    let (bucket, key) = match access_point_target(target) {
        Some((access_point, key)) => {
            let (bucket, read) = access_point_bucket(&source, &access_point)?;
            read_point = read;
            context.retain(|(name, _)| !name.eq_ignore_ascii_case(DATA_ACCESS_POINT_ARN));
            context.push((
                DATA_ACCESS_POINT_ARN.to_string(),
                ContextEntry::Single(access_point),
            ));
            (bucket, key)
        }
        None => parse_target(target)?,
    };
    let action_name = args.action.as_deref().unwrap_or("get");
    let Some(action) = S3Action::parse(action_name) else {
        return Err(HintedError::new(
            format!("unknown action `{action_name}`"),
            "give get, head, put or list",
        )
        .into());
    };
    if action.is_object() && key.is_empty() {
        return Err(HintedError::new(
            format!("`{target}` names no object key"),
            format!("write s3://{bucket}/KEY"),
        )
        .into());
    }
    // An object that is to be written need not exist yet; listing reads no object.
    let keys = if matches!(action, S3Action::Get | S3Action::Head) {
        vec![key.clone()]
    } else {
        Vec::new()
    };
    let observe_request = ObserveRequest {
        bucket: bucket.clone(),
        keys,
        principal_arn: principal.clone(),
    };
    let mut world = observe(&source, &observe_request, "explain", printer)?;
    if let Some(read) = read_point {
        attach_access_point(&mut world, read);
    }
    if let Some(vpce) = context
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(SOURCE_VPCE))
        .and_then(|(_, value)| match value {
            ContextEntry::Single(id) => Some(id.clone()),
            ContextEntry::Multi(_) => None,
        })
    {
        attach_vpc_endpoint(&source, &mut world, &bucket, &vpce)?;
    }
    let request = S3Request {
        principal,
        action,
        bucket,
        key,
        context,
    };
    let explanation = explain(&world, &request)?;
    match args.output {
        Format::Text => printer.data(&render::explain::text(
            &explanation,
            args.reasons,
            render::use_colour(),
        ))?,
        Format::Json => {
            let mut json = render::explain::json(&explanation, args.reasons);
            render::fromerror::add_target(&mut json, &request);
            printer.data(&format!("{}\n", serde_json::to_string_pretty(&json)?))?
        }
    }
    Ok(exit_code(&explanation))
}

/// Allowed exits 0; denied or unknown exits 2.
pub fn exit_code(explanation: &crate::core::s3::Explanation) -> ExitCode {
    match explanation.decision {
        FinalDecision::Allowed => ExitCode::Success,
        FinalDecision::ExplicitlyDenied | FinalDecision::ImplicitlyDenied | FinalDecision::Unknown => {
            ExitCode::Denied
        }
    }
}
