//! Execution: core and adapters wired together — observe, apply, rollback, drift — with no CLI
//! concerns (no clap types: commands resolve their arguments into a [`source::Source`] first).

pub mod apply;
pub mod interrupt;
pub mod lock;
pub mod observe;
pub mod source;

/// How many threads the planner's proof may probe on: this machine's cores, at most 8 (beyond
/// that, compiling every policy again per thread outweighs the probes it shares).
pub fn proof_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get().min(8))
}
