//! `s3fix plan`: the minimal, proven edits that grant an access spec.

use crate::cmd::source::SourceArgs;
use crate::core::plan::{Plan, PlanOptions, plan_with_workers};
use crate::core::spec::Spec;
use crate::core::world::World;
use crate::exec::source::Source;
use crate::exit::ExitCode;
use crate::fsutil::write_atomically;
use crate::printer::Printer;
use crate::render;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// Plan the smallest edits (identity policy, bucket policy, Object Ownership, KMS key policy)
/// that grant exactly the access in SPEC, prove them on the edited world, and show the diff.
///
/// Exit codes: 0 planned (or nothing to change); 1 error, or the access cannot be granted within
/// s3fix's scope (the blockers are named). With --detailed-exitcode: 0 no changes, 2 changes
/// planned, 1 error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The access spec (TOML), e.g. plans/examples/report-reader.toml.
    pub spec: PathBuf,
    /// Write the plan file here (the input of `s3fix apply`). An existing file that is not a
    /// plan file is refused unless --force.
    #[arg(short = 'o', long = "out", value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Let -o replace an existing file that is not a plan file.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Exit 2 when changes are planned, 0 when none are needed.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Allow narrowing a blocking bucket-policy or key-policy Deny by exempting exactly this
    /// principal (`aws:PrincipalArn`); the edit is marked security-sensitive.
    #[arg(long)]
    pub allow_deny_exception: bool,
    /// Allow switching Object Ownership to BucketOwnerEnforced where existing bucket-policy
    /// grants then reach other accounts' objects for someone other than this principal, or where
    /// the objects' owners are unknown; the edit is marked security-sensitive.
    #[arg(long)]
    pub allow_ownership_change: bool,
    /// Where to read the world from.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The diff and a summary.
    Text,
    /// The plan file's JSON.
    Json,
}

/// Read and validate an access spec.
pub fn read_spec(path: &Path) -> anyhow::Result<Spec> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read spec `{}`", path.display()))?;
    Ok(Spec::parse(&text, &path.display().to_string())?)
}

/// Read the world a spec needs: the whole world file, or both accounts through AWS.
pub fn world_for(spec: &Spec, source: &Source, command: &str, printer: &Printer) -> anyhow::Result<World> {
    crate::exec::observe::observe_spec(source, spec, command, printer)
}

/// Serialize a plan as the plan file's text.
pub fn plan_text(plan: &Plan) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(plan).context("cannot serialize the plan")?;
    text.push('\n');
    Ok(text)
}

/// Run `s3fix plan`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out {
        crate::fsutil::refuse_foreign_overwrite(out, crate::core::kind::FileKind::Plan, args.force)?;
    }
    let spec = read_spec(&args.spec)?;
    let source = args.source.resolve()?.with_spec(&spec);
    let world = world_for(&spec, &source, "plan", printer)?;
    let options = PlanOptions {
        allow_deny_exception: args.allow_deny_exception,
        allow_ownership_change: args.allow_ownership_change,
    };
    let mut planned = plan_with_workers(&world, &spec, options, crate::exec::proof_workers())?;
    planned.source = source.plan_source(args.out.as_deref());
    match args.output {
        Format::Text => printer.data(&render::plan::text(&planned, render::use_colour()))?,
        Format::Json => printer.data(&plan_text(&planned)?)?,
    }
    if let Some(out) = &args.out {
        write_atomically(out, plan_text(&planned)?.as_bytes())?;
        printer.status(&format!("wrote plan `{}`", out.display()));
    }
    Ok(if args.detailed_exitcode && !planned.is_empty() {
        ExitCode::Denied
    } else {
        ExitCode::Success
    })
}
