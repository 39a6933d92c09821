//! Benchmark helpers.
pub mod problems;
pub mod slices;
