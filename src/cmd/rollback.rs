//! `s3fix rollback`: restore the before-state of an applied or interrupted operation.

use crate::cmd::apply::report;
use crate::exec::apply::{RollbackRequest, RolledBack, rollback_operation};
use crate::exec::lock::LocalLock;
use crate::exec::source::for_recorded;
use crate::exit::ExitCode;
use crate::journal::{Journal, OperationStatus};
use crate::printer::Printer;
use std::path::PathBuf;

/// Restore what an apply replaced, as a new journaled operation, under the same locks as apply.
/// Compare and restore: a resource is restored only while it holds what the apply wrote; one
/// changed since is reported with both values and left alone (exit 4) unless --force. Works
/// after a crash or interrupt at any point of an apply.
///
/// Exit codes: 0 restored and verified (or nothing to restore); 1 error (nothing written);
/// 3 a restore step failed and the rollback's own steps were undone; 4 incomplete (a resource
/// changed since, or a restore failed: manual steps printed).
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
    /// Where to apply, beside what was recorded.
    #[command(flatten)]
    pub target: crate::cmd::source::OperatorArgs,
}

/// Run `s3fix rollback`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let journal = Journal::new(&args.journal_dir);
    let (original, original_path) = journal.load(&args.operation)?;
    let operator = args.target.operator(false);
    let source = for_recorded(&original.source, &original_path, &operator)?;
    let lock = LocalLock::for_journal(&args.journal_dir);
    let request = RollbackRequest {
        operation: &args.operation,
        force: args.force,
        journal: &journal,
        lock: &lock,
    };
    match rollback_operation(&request, &source)? {
        RolledBack::Nothing { original } => {
            printer.status(&format!(
                "Nothing to restore: every resource of `{original}` is already as it was before."
            ));
            Ok(ExitCode::Success)
        }
        RolledBack::Done {
            outcome,
            original,
            original_path,
        } => {
            if outcome.operation.status == OperationStatus::Complete {
                printer.status(&format!(
                    "Restored {} resource(s) of `{original}` (journal `{}`; original `{}`).",
                    outcome.operation.steps.len(),
                    outcome.journal_path.display(),
                    original_path.display()
                ));
                return Ok(ExitCode::Success);
            }
            Ok(report(&outcome, printer))
        }
    }
}
