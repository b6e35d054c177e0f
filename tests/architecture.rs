//! The pure core stays pure: no I/O, no clock, no AWS SDK, no async runtime, and nothing of ours
//! from outside `core` (see the invariants at the top of `src/lib.rs`).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net::TcpStream",
    "std::io::stdin",
    "std::io::stdout",
    "std::process",
    "std::time::SystemTime",
    "std::time::Instant",
    "std::env",
    "tokio",
    "aws_sdk",
    "aws_config",
    "aws_smithy",
    "crate::adapter",
    "crate::cmd",
    "crate::exec",
    "crate::journal",
    "crate::printer",
    "crate::cli",
    "println!",
    "eprintln!",
    "jiff::Zoned::now",
    "Timestamp::now",
];

fn rust_files(directory: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_has_no_forbidden_imports() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
        &mut files,
    );
    assert!(
        files.len() >= 5,
        "expected the core's source files, found {}",
        files.len()
    );
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for forbidden in FORBIDDEN {
                if code.contains(forbidden) {
                    violations.push(format!("{}:{}: `{forbidden}`", file.display(), number + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the core must stay pure:\n{}",
        violations.join("\n")
    );
}
