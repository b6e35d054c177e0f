//! s3fix: find which gate denies a cross-account S3 request, and plan the minimal proven fix.
//!
//! # Architecture invariants
//!
//! Dependencies point one way: `cmd → exec → {core, adapter, journal}`.
//!
//! - INVARIANT: `core` is pure. It performs no I/O, reads no clock, and imports nothing of ours
//!   outside `core` and no AWS SDK, tokio or filesystem API. `tests/architecture.rs` scans
//!   `src/core` for forbidden imports.
//! - INVARIANT: AWS SDK types never leave `adapter/aws`.
//! - INVARIANT: secrets (credentials, session tokens) never reach output, logs or files.

pub mod adapter;
pub mod cli;
pub mod cmd;
pub mod core;
pub mod exec;
pub mod exit;
pub mod fsutil;
pub mod hint;
pub mod journal;
pub mod printer;
pub mod render;
