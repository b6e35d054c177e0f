//! Execution: core and adapters wired together — observe, (later) apply, rollback, drift — with
//! no CLI concerns.

pub mod apply;
pub mod observe;
