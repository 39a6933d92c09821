//! The integration tests of `volfit-optim`, one module per area, linked into one test binary.
//! Run one with e.g. `cargo test --release -p volfit-optim --test all conformance::`. The
//! allocation-counting tests (`tests/alloc.rs`, `tests/alloc_adam.rs`) stay binaries of their
//! own: they install a counting global allocator and must be alone in their process.

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod diagnose;
mod first_order;
mod global;
mod losses;
mod robust_sum;
mod stochastic;
