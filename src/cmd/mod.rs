//! One module per subcommand: its clap arguments and its run function.

pub mod explain;
pub mod plan;
pub mod show;
pub mod simulate;
pub mod snapshot;
