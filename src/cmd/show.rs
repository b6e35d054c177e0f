//! `s3fix show`: render a saved plan again.

use crate::core::plan::{PLAN_FORMAT_VERSION, Plan};
use crate::exit::ExitCode;
use crate::hint::HintedError;
use crate::printer::Printer;
use crate::render;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// Show a saved plan: its diff, proof and summary (or its JSON).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file written by `s3fix plan -o`.
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::cmd::plan::Format::Text)]
    pub output: crate::cmd::plan::Format,
}

/// Read and validate a plan file.
pub fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read plan file `{}`", path.display()))?
        .len();
    let limit = crate::core::limits::MAX_PLAN_FILE_BYTES;
    if size > limit {
        anyhow::bail!(
            "plan file `{}` is {size} bytes, over the limit of {limit} bytes: not a plan s3fix wrote",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read plan file `{}`", path.display()))?;
    let version: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        HintedError::new(
            format!("plan file `{}` is not JSON: {error}", path.display()),
            "write it with s3fix plan -o",
        )
    })?;
    crate::core::kind::check_kind(
        &version,
        crate::core::kind::FileKind::Plan,
        &path.display().to_string(),
    )?;
    let found = version.get("formatVersion").and_then(serde_json::Value::as_u64);
    if found != Some(u64::from(PLAN_FORMAT_VERSION)) {
        return Err(HintedError::new(
            format!(
                "plan file `{}` has format version {}, this s3fix reads {PLAN_FORMAT_VERSION}",
                path.display(),
                found.map_or("none".to_string(), |v| v.to_string())
            ),
            "run s3fix plan again",
        )
        .into());
    }
    serde_json::from_str(&text).map_err(|error| {
        HintedError::new(
            format!("plan file `{}` is not a valid plan: {error}", path.display()),
            "run s3fix plan again",
        )
        .into()
    })
}

/// Run `s3fix show`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let plan = read_plan(&args.plan)?;
    match args.output {
        crate::cmd::plan::Format::Text => {
            let target = crate::exec::source::describe_recorded(&plan.source, Some(&plan.spec));
            printer.data(&format!("target (as recorded): {target}\n\n"))?;
            printer.data(&render::plan::text(&plan, render::use_colour()))?;
        }
        crate::cmd::plan::Format::Json => printer.data(&crate::cmd::plan::plan_text(&plan)?)?,
    }
    Ok(ExitCode::Success)
}
