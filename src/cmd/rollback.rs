//! `s3fix rollback`: restore the before-state of an applied or interrupted operation.

use crate::adapter::Writer;
use crate::adapter::aws::AwsAdapter;
use crate::adapter::snapshot::SnapshotWriter;
use crate::cmd::apply::{report, source_args};
use crate::exec::apply::{Calls, begin_rollback, run as run_steps};
use crate::exec::observe::runtime;
use crate::exit::ExitCode;
use crate::journal::{Journal, Operation, OperationStatus};
use crate::printer::Printer;
use std::path::PathBuf;
use std::time::SystemTime;

/// Restore what an apply replaced, as a new journaled operation. Refuses (unless --force) where
/// a resource changed after the apply wrote it, naming it. Works after a crash at any point of
/// an apply.
///
/// Exit codes: 0 restored and verified; 1 error (nothing written); 3 a restore step failed and
/// the rollback's own steps were undone; 4 incomplete (manual steps printed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The operation id (e.g. `op-20261128T063712123Z-4242`) or its journal file.
    pub operation: String,
    /// Restore even resources changed after the apply (their current value is journaled first).
    #[arg(long)]
    pub force: bool,
    /// The journal directory.
    #[arg(long, value_name = "DIR", default_value = crate::journal::DEFAULT_DIRECTORY)]
    pub journal_dir: PathBuf,
    /// Override the AWS profile the operation was applied with.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Override the region the operation was applied with.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Override the endpoint the operation was applied with.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

fn rollback_with<W: Writer>(
    args: &Args,
    journal: &Journal,
    original: &mut Operation,
    original_path: &std::path::Path,
    writer: &W,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    let calls = Calls {
        writer,
        runtime: &runtime,
    };
    let (operation, _) = begin_rollback(&calls, journal, original, args.force, SystemTime::now())?;
    if operation.steps.is_empty() {
        printer.status(&format!(
            "Nothing to restore: every resource of `{}` is already as it was before.",
            original.id
        ));
        original.status = OperationStatus::RolledBack;
        journal.record(original)?;
        return Ok(ExitCode::Success);
    }
    let mut no_verify = Vec::new;
    let outcome = run_steps(&calls, journal, operation, &mut no_verify)?;
    if outcome.operation.status == OperationStatus::Applied {
        original.status = OperationStatus::RolledBack;
        journal.record(original)?;
        printer.status(&format!(
            "Restored {} resource(s) of `{}` (journal `{}`; original `{}`).",
            outcome.operation.steps.len(),
            original.id,
            outcome.journal_path.display(),
            original_path.display()
        ));
        return Ok(ExitCode::Success);
    }
    Ok(report(&outcome, printer))
}

/// Run `s3fix rollback`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let journal = Journal::new(&args.journal_dir);
    let (mut original, original_path) = journal.load(&args.operation)?;
    let mut source = source_args(&original.source, false);
    source.profile = args.profile.clone().or(source.profile);
    source.region = args.region.clone().or(source.region);
    source.endpoint_url = args.endpoint_url.clone().or(source.endpoint_url);
    if let Some(path) = &source.world {
        let writer = SnapshotWriter::load(path)?;
        return rollback_with(args, &journal, &mut original, &original_path, &writer, printer);
    }
    let adapter = runtime()?.block_on(AwsAdapter::connect(&source.aws_options("rollback")))?;
    rollback_with(args, &journal, &mut original, &original_path, &adapter, printer)
}
