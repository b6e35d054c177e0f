//! The command line: global options and the subcommand list. Each subcommand lives in `cmd/`.

use crate::cmd;
use crate::exit::ExitCode;
use crate::printer::Printer;
use clap::{Parser, Subcommand};

/// Find which gate denies a cross-account S3 request, and plan the minimal proven fix.
///
/// Exit codes: 0 success (allowed, no changes); 1 error; 2 denied (explain), changes planned
/// (plan --detailed-exitcode) or drift found (drift).
#[derive(Debug, Parser)]
#[command(name = "s3fix", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate request cases offline against the policies they carry (no AWS needed).
    Simulate(cmd::simulate::Args),
    /// Explain which gate denies an S3 request, and which statement decided.
    Explain(Box<cmd::explain::Args>),
    /// Plan the minimal, proven edits that grant an access spec; show the diff; save a plan.
    Plan(Box<cmd::plan::Args>),
    /// Show a saved plan again.
    Show(cmd::show::Args),
    /// Apply a saved plan transactionally: journaled, verified, rolled back on failure.
    Apply(cmd::apply::Args),
    /// Restore the before-state of an applied or interrupted operation.
    Rollback(cmd::rollback::Args),
    /// Check access specs for drift; with --fix --yes, correct it (for schedulers).
    Drift(Box<cmd::drift::Args>),
    /// Observe a bucket, its objects and a principal through AWS and write a world file.
    Snapshot(Box<cmd::snapshot::Args>),
    /// Write the access spec for the request an error describes (`--from-error TEXT`).
    Spec(Box<cmd::spec::Args>),
}

/// Parse the command line and run the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new();
    let result = match cli.command {
        Command::Simulate(args) => cmd::simulate::run(&args, &printer),
        Command::Explain(args) => cmd::explain::run(&args, &printer),
        Command::Plan(args) => cmd::plan::run(&args, &printer),
        Command::Show(args) => cmd::show::run(&args, &printer),
        Command::Apply(args) => cmd::apply::run(&args, &printer),
        Command::Rollback(args) => cmd::rollback::run(&args, &printer),
        Command::Drift(args) => cmd::drift::run(&args, &printer),
        Command::Snapshot(args) => cmd::snapshot::run(&args, &printer),
        Command::Spec(args) => cmd::spec::run(&args, &printer),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            printer.error(&error);
            ExitCode::Error
        }
    }
}
