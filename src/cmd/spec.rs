//! `s3fix spec --from-error TEXT [-o plans/NAME.toml]`: the access spec for a denied request,
//! ready for `s3fix plan`.

use crate::cmd::fromerror::{ErrorInput, Flags, resolve};
use crate::core::eval::ContextEntry;
use crate::core::fromerror::notpolicy::{Facts, detect};
use crate::core::fromerror::report::Report;
use crate::core::fromerror::tospec::{SpecRequest, spec_for};
use crate::core::spec::Spec;
use crate::exit::ExitCode;
use crate::printer::Printer;
use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Write the access spec that grants exactly the request an error describes.
///
/// The spec names the principal (a session becomes its role), the bucket, the key (a list
/// becomes the prefix followed by `*`) and the access (HEAD and GET are `read`, PUT is `write`,
/// a list is `list`), with the request context. What the error lacks comes from the flags.
/// Exit codes: 0 written; 1 error (nothing written).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The error to start from.
    #[command(flatten)]
    pub input: ErrorInput,
    /// The object (`s3://BUCKET/KEY`), where the error does not name it.
    pub target: Option<String>,
    /// The caller (role, user or assumed-role session ARN), where the error does not name it.
    #[arg(long)]
    pub principal: Option<String>,
    /// The operation (get, head, put or list), where the error does not name it.
    #[arg(long)]
    pub action: Option<String>,
    /// Request context for the spec's `[context]`, e.g. `--context aws:SourceIp=198.51.100.7`.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// The role s3fix assumes in the bucket's account (`[bucket_account] role`).
    #[arg(long, value_name = "ARN")]
    pub bucket_role: Option<String>,
    /// The role s3fix assumes in the caller's account (`[caller_account] role`).
    #[arg(long, value_name = "ARN")]
    pub caller_role: Option<String>,
    /// Write the spec here (e.g. `plans/reader.toml`) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Context keys that describe one request (its time, its client), not the access to grant.
const VOLATILE_KEYS: [&str; 4] = ["aws:CurrentTime", "aws:EpochTime", "aws:UserAgent", "aws:Referer"];

/// Run `s3fix spec`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let Some((source, extraction)) = args.input.read()? else {
        bail!("give the error with --from-error TEXT (`-` reads stdin) or --from-cloudtrail FILE");
    };
    let now = jiff::Timestamp::now();
    if let Some(finding) = detect(
        &extraction,
        &Facts {
            now: Some(now),
            ..Facts::default()
        },
    ) {
        bail!("no access spec fixes this 403: {}", finding.fix);
    }
    let mut report = Report::new(source, extraction.clone());
    let flags = Flags {
        target: args.target.as_deref(),
        principal: args.principal.as_deref(),
        action: args.action.as_deref(),
        context: &args.context,
    };
    let mut no_credentials = || Err("the error names none".to_string());
    let request = match resolve(&extraction, flags, &mut no_credentials, &mut report)? {
        Ok(request) => request,
        Err(missing) => bail!(
            "the error does not name everything a spec needs: {}",
            missing.join("; ")
        ),
    };
    let mut context = BTreeMap::new();
    for (key, value) in &request.context {
        // A spec is desired state: the moment and the client of one request do not belong in it.
        if VOLATILE_KEYS.contains(&key.as_str()) {
            printer.status(&format!(
                "context `{key}` left out of the spec: it describes one request only"
            ));
            continue;
        }
        match value {
            ContextEntry::Single(text) => {
                context.insert(key.clone(), text.clone());
            }
            ContextEntry::Multi(_) => printer.warn(&format!(
                "context `{key}` has several values; specs hold one value per key, so it is left out"
            )),
        }
    }
    let spec = spec_for(&SpecRequest {
        principal: request.principal.clone(),
        action: request.action,
        bucket: request.bucket.clone(),
        key: request.key.clone(),
        context,
        bucket_role: args.bucket_role.clone(),
        caller_role: args.caller_role.clone(),
    })?;
    let header = spec_header(&report);
    let text = format!(
        "{header}{}",
        toml::to_string(&spec).context("cannot write the spec as TOML")?
    );
    let name = args
        .output
        .as_ref()
        .map_or_else(|| "<stdout>".to_string(), |path| path.display().to_string());
    // INVARIANT: what is written is what `s3fix plan` reads.
    Spec::parse(&text, &name)?;
    for input in &report.inputs {
        printer.status(&format!("{}: {} (from {})", input.field, input.value, input.from));
    }
    match &args.output {
        Some(path) => {
            crate::fsutil::write_atomically(path, text.as_bytes())?;
            printer.status(&format!("wrote {name}; next: s3fix plan {name}"));
        }
        None => printer.data(&text)?,
    }
    Ok(ExitCode::Success)
}

/// Comment lines naming the error the spec was written from.
fn spec_header(report: &Report) -> String {
    let extraction = &report.extraction;
    let mut lines = vec!["# Written by `s3fix spec` from a denied request.".to_string()];
    let said = [
        ("error code", extraction.error_code.as_deref()),
        ("operation", extraction.operation.as_deref()),
        ("AWS blamed", extraction.policy_type.as_deref()),
        ("policy ARN", extraction.policy_arn.as_deref()),
        ("request ID", extraction.request_id.as_deref()),
        ("event ID", extraction.event_id.as_deref()),
    ];
    for (label, value) in said {
        if let Some(value) = value {
            lines.push(format!("# {label}: {}", value.replace('\n', " ")));
        }
    }
    format!("{}\n", lines.join("\n"))
}
