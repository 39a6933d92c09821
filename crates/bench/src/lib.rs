//! Benchmark helpers.
pub mod problems;
