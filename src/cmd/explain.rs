//! `s3fix explain`: which gate denies a request, and which statement decided.

use crate::adapter::ObserveRequest;
use crate::core::eval::ContextEntry;
use crate::core::s3::{FinalDecision, S3Action, S3Request, explain};
use crate::exec::observe::{SourceArgs, observe};
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
    /// The object (`s3://BUCKET/KEY`), or the bucket and prefix for `--action list`.
    pub target: String,
    /// The caller: an assumed-role session, role or user ARN (`*` for anonymous).
    #[arg(long)]
    pub principal: String,
    /// The operation: get, head, put or list.
    #[arg(long, default_value = "get")]
    pub action: String,
    /// Request context, e.g. `--context aws:SourceIp=203.0.113.7` (repeatable; a value with
    /// commas, `a,b`, is multi-valued when the key is given as `KEY[]=a,b`).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Where to read the world from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Show every statement's match result and the request context.
    #[arg(long)]
    pub reasons: bool,
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

/// Run `s3fix explain`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let (bucket, key) = parse_target(&args.target)?;
    let Some(action) = S3Action::parse(&args.action) else {
        return Err(HintedError::new(
            format!("unknown action `{}`", args.action),
            "give get, head, put or list",
        )
        .into());
    };
    if action.is_object() && key.is_empty() {
        return Err(HintedError::new(
            format!("`{}` names no object key", args.target),
            format!("write s3://{bucket}/KEY"),
        )
        .into());
    }
    let context = parse_context(&args.context)?;
    // An object that is to be written need not exist yet; listing reads no object.
    let keys = if matches!(action, S3Action::Get | S3Action::Head) {
        vec![key.clone()]
    } else {
        Vec::new()
    };
    let observe_request = ObserveRequest {
        bucket: bucket.clone(),
        keys,
        principal_arn: args.principal.clone(),
    };
    let world = observe(&args.source, &observe_request, "explain", printer)?;
    let request = S3Request {
        principal: args.principal.clone(),
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
        Format::Json => printer.data(&format!(
            "{}\n",
            serde_json::to_string_pretty(&render::explain::json(&explanation, args.reasons))?
        ))?,
    }
    Ok(match explanation.decision {
        FinalDecision::Allowed => ExitCode::Success,
        FinalDecision::Denied | FinalDecision::Unknown => ExitCode::Denied,
    })
}
