//! The IAM policy language: parse, validate, canonicalise.
