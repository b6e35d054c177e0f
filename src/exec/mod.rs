//! Execution: core and adapters wired together — observe, apply, rollback, drift — with no CLI
//! concerns (no clap types: commands resolve their arguments into a [`source::Source`] first).

pub mod apply;
pub mod interrupt;
pub mod lock;
pub mod observe;
pub mod source;
