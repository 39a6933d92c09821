//! Fitting one snapshot: choose the quotes, build each model's initial guess (or take the
//! previous snapshot's fit: a warm start), calibrate, score against the market, check
//! static arbitrage and write the residual rows.
//!
//! Per-expiry models (SVI, SABR) fit their expiries in parallel; surfaces fit all expiries
//! at once. Every computation is deterministic, so results do not depend on thread count.

use super::per_expiry::fit_per_expiry;
use super::result::{SnapshotResult, WarmStart};
use super::spec::FitSpec;
use super::surface::fit_surface;
use crate::market::Snapshot;

/// Fits one snapshot under `spec`, warm-starting from `warm` when given.
pub fn fit_snapshot(snap: &Snapshot, spec: &FitSpec, warm: Option<&WarmStart>) -> SnapshotResult {
    if spec.model.per_expiry() {
        fit_per_expiry(snap, spec, warm)
    } else {
        fit_surface(snap, spec, warm)
    }
}
