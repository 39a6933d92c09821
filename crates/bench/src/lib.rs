//! Benchmark helpers.
pub mod args;
pub mod problems;
pub mod slices;
pub mod xi0_per_expiry;
