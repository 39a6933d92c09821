//! The end-to-end tests of the `volfit` binary, one module per command, linked into one test
//! binary. Run one with e.g. `cargo test --release -p volfit-cli --test all golden`.
//!
//! Tests on the real data in `../shared/data` skip with a notice when it is absent, and fail
//! instead when `VOLFIT_REQUIRE_DATA=1` is set (as `.ci/run` does): see [`support`].

#[path = "../../../volfit/tests/all/support.rs"]
mod support;

mod allocate_cli;
mod browser;
mod dedupe_cli;
mod deephedge_cli;
mod fit_cli;
mod golden;
mod hedge_cli;
mod hedge_policy_cli;
mod hedge_report_cli;
mod input_cli;
mod msrv;
mod outputs_cli;
mod partition_cli;
mod report_cli;
mod risk_cli;
mod surrogate_cli;
mod surrogate_grid_cli;
mod surrogate_rbergomi_cli;
mod surrogate_richardson_cli;
mod surrogate_train_cli;
mod synth_cli;
mod validate_cli;
