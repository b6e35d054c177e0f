//! All printing goes through here: data to stdout, status and errors to stderr.
//! A closed pipe on stdout (`s3fix simulate ... | head`) ends the program quietly with code 0.

use crate::hint::as_hinted;
use crate::render::{paint, use_colour_on_stderr};
use std::io::{self, Write};

/// Writes data to stdout and diagnostics to stderr.
///
/// `--quiet` drops status lines (progress, "wrote ..."); data, warnings and errors stay.
/// `--verbose` adds the low-level detail (the SDK's description) under an error.
#[derive(Debug, Default)]
pub struct Printer {
    quiet: bool,
    verbose: bool,
}

impl Printer {
    /// A printer for the current process: status lines on, no error detail.
    pub fn new() -> Self {
        Printer::default()
    }

    /// A printer that drops status lines when `quiet`, and shows error detail when `verbose`.
    pub fn with_options(quiet: bool, verbose: bool) -> Self {
        Printer { quiet, verbose }
    }

    /// Print an error and its causes on one line, then the hint of the first cause that has
    /// one, and (with `--verbose`) the low-level detail.
    pub fn error(&self, error: &anyhow::Error) {
        let colour = use_colour_on_stderr();
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "{} {error}", paint("error:", "1;31", colour));
        for cause in error.chain().skip(1) {
            let _ = write!(stderr, ": {cause}");
        }
        let _ = writeln!(stderr);
        let hinted: Vec<_> = error.chain().filter_map(as_hinted).collect();
        if let Some(hint) = hinted.iter().find_map(|hinted| hinted.hint()) {
            let _ = writeln!(stderr, "{} {hint}", paint("hint:", "1;36", colour));
        }
        if self.verbose {
            for detail in hinted.iter().filter_map(|hinted| hinted.detail()) {
                let _ = writeln!(stderr, "{} {detail}", paint("detail:", "2", colour));
            }
        }
    }

    /// Write data to stdout (a closed pipe ends the program quietly).
    pub fn data(&self, text: &str) -> std::io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes()).map_err(exit_on_broken_pipe)?;
        stdout.flush().map_err(exit_on_broken_pipe)
    }

    /// Print a warning line on stderr.
    pub fn warn(&self, message: &str) {
        let label = paint("warning:", "1;33", use_colour_on_stderr());
        let _ = writeln!(io::stderr().lock(), "{label} {message}");
    }

    /// Print a status line on stderr, unless `--quiet`.
    pub fn status(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{message}");
        }
    }

    /// Print what went wrong in an operation and what to do about it (failed steps, manual
    /// steps) on stderr: an error report, so `--quiet` keeps it.
    pub fn outcome(&self, message: &str) {
        let _ = writeln!(io::stderr().lock(), "{message}");
    }

    /// Whether status lines are dropped (`--quiet`).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
}

/// Exit quietly with code 0 when stdout is a closed pipe; otherwise hand back the error.
pub fn exit_on_broken_pipe(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    error
}
