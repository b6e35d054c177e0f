//! The pure core: policy language, evaluation engine, S3 authorization model, planner and diffs.
//!
//! INVARIANT: nothing in here performs I/O or imports from outside `crate::core`.

pub mod arn;
pub mod case;
pub mod context_key;
pub mod diff;
pub mod eval;
pub mod fromerror;
pub mod kind;
pub mod limits;
pub mod plan;
pub mod policy;
pub mod s3;
pub mod spec;
pub mod world;
