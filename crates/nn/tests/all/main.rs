//! The integration tests of `volfit-nn`, one module per area, linked into one test binary.
//! Run one with e.g. `cargo test --release -p volfit-nn --test all gradients::`.

mod diagnostics;
mod errors;
mod gradients;
mod property;
mod store;
mod support;
mod training;
