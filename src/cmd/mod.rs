//! One module per subcommand: its clap arguments and its run function.

pub mod apply;
pub mod completions;
pub mod drift;
pub mod explain;
pub mod fromerror;
pub mod plan;
pub mod rollback;
pub mod show;
pub mod simulate;
pub mod snapshot;
pub mod source;
pub mod spec;
