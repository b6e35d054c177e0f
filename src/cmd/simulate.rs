//! `s3fix simulate`: evaluate request cases offline.

use crate::exit::ExitCode;
use crate::printer::Printer;

/// Evaluate request cases (JSON, JSON array or JSON Lines) offline.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Case file; `-` or absent reads stdin.
    pub file: Option<std::path::PathBuf>,
}

/// Run `s3fix simulate`.
pub fn run(_args: &Args, _printer: &Printer) -> anyhow::Result<ExitCode> {
    anyhow::bail!("simulate is being built")
}
