//! The evaluation engine.
