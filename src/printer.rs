//! All printing goes through here: data to stdout, status and errors to stderr.
//! A closed pipe on stdout (`s3fix simulate ... | head`) ends the program quietly with code 0.

use std::io::{self, Write};

/// Writes data to stdout and diagnostics to stderr.
#[derive(Debug, Default)]
pub struct Printer {
    _private: (),
}

impl Printer {
    /// A printer for the current process.
    pub fn new() -> Self {
        Printer { _private: () }
    }

    /// Print an error and its causes, and a hint when one is attached.
    pub fn error(&self, error: &anyhow::Error) {
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "error: {error}");
        for cause in error.chain().skip(1) {
            let _ = write!(stderr, ": {cause}");
        }
        let _ = writeln!(stderr);
    }

    /// Write data to stdout (a closed pipe ends the program quietly).
    pub fn data(&self, text: &str) -> std::io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes()).map_err(exit_on_broken_pipe)?;
        stdout.flush().map_err(exit_on_broken_pipe)
    }

    /// Print a warning line on stderr.
    pub fn warn(&self, message: &str) {
        let _ = writeln!(io::stderr().lock(), "warning: {message}");
    }

    /// Print a status line on stderr.
    pub fn status(&self, message: &str) {
        let _ = writeln!(io::stderr().lock(), "{message}");
    }
}

/// Exit quietly with code 0 when stdout is a closed pipe; otherwise hand back the error.
pub fn exit_on_broken_pipe(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    error
}
