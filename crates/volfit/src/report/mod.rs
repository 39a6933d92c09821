//! Outputs: files written atomically.

pub mod atomic;
