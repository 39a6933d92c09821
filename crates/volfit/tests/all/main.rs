//! The integration tests of `volfit`, one module per area, linked into one test binary (one
//! optimised link instead of one per file keeps `cargo test --release` quick to build). Run
//! one area with e.g. `cargo test --release -p volfit --test all fit_synth::`.
//!
//! Tests on the real data in `../shared/data` skip with a notice when it is absent, and fail
//! instead when `VOLFIT_REQUIRE_DATA=1` is set (as `.ci/run` does): see [`support`].

mod support;

mod chains;

mod bad_input;
mod deephedge;
mod deephedge_direct;
mod deephedge_dynamics;
mod deephedge_ff;
mod fit_real;
mod fit_recovery;
mod fit_synth;
mod hedge;
mod hedge_policy;
mod iv;
mod labels;
mod models;
mod rbergomi;
mod real_data;
mod report;
mod risk;
mod scenario;
mod short_dated_iv;
mod slice_time;
mod surrogate_fit;
mod surrogate_fit_bates;
mod surrogate_fit_secant;
mod surrogate_rbergomi;
mod surrogate_rbergomi_bias;
mod surrogate_train;
mod tardis_stream;
mod validate;
