//! What one snapshot's fit produces: the summary and residual rows, the warm start for the
//! next snapshot and the solver traces.

use super::calibrate::Calibration;
use super::report::{quality, ArbitrageVerdict, ExpiryFit, ResidualRow, SnapshotFit};
use super::spec::{FitSpec, ModelKind};
use crate::market::{iso8601, Expiry, Snapshot};
use crate::objective::Target;
use std::collections::BTreeMap;
use volfit_optim::Trace;

/// What one snapshot's fit hands to the next: parameters by expiry (per-expiry models) or
/// the surface vector with the expiries it was laid out on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WarmStart {
    /// Per-expiry parameters by expiry (ms).
    pub per_expiry: BTreeMap<i64, Vec<f64>>,
    /// Surface parameters and the expiries (ms) of their layout.
    pub surface: Option<(Vec<i64>, Vec<f64>)>,
}

/// One snapshot's results.
#[derive(Clone, Debug)]
pub struct SnapshotResult {
    /// The fit summary (goes to `fit.json`).
    pub fit: SnapshotFit,
    /// Residual rows (go to `residuals.csv`).
    pub residuals: Vec<ResidualRow>,
    /// Warm start for the next snapshot.
    pub warm: WarmStart,
    /// Solver traces, labelled by expiry (or `surface`), for loss-curve charts.
    pub traces: Vec<(String, Trace)>,
}

impl SnapshotResult {
    /// The result of `snap` under `spec` before any expiry is fitted, with the snapshot's
    /// verdict `arbitrage`.
    pub(super) fn empty(snap: &Snapshot, spec: &FitSpec, arbitrage: ArbitrageVerdict) -> Self {
        SnapshotResult {
            fit: SnapshotFit {
                snapshot: snap.time_iso(),
                underlying: snap.underlying.clone(),
                model: spec.model,
                surface_params: None,
                expiries: Vec::new(),
                arbitrage,
                skipped: Vec::new(),
                surrogate: None,
            },
            residuals: Vec::new(),
            warm: WarmStart::default(),
            traces: Vec::new(),
        }
    }
}

/// Residual rows and the per-expiry summary of a calibration restricted to `range`.
#[allow(clippy::too_many_arguments)]
pub(super) fn expiry_outputs(
    snap: &Snapshot,
    e: &Expiry,
    targets: &[Target],
    cal: &Calibration,
    range: std::ops::Range<usize>,
    model: ModelKind,
    params: BTreeMap<String, f64>,
    std_errors: BTreeMap<String, f64>,
    arbitrage: ArbitrageVerdict,
) -> (ExpiryFit, Vec<ResidualRow>) {
    let (snapshot, expiry) = (snap.time_iso(), iso8601(e.expiry_ms));
    let rows: Vec<ResidualRow> = range
        .clone()
        .map(|i| {
            let q = &targets[i];
            ResidualRow {
                snapshot: snapshot.clone(),
                underlying: snap.underlying.clone(),
                expiry: expiry.clone(),
                t: q.t,
                strike: q.strike,
                kind: q.kind,
                k: q.k,
                bid_iv: q.bid_iv,
                ask_iv: q.ask_iv,
                mid_iv: q.mid_iv,
                model_iv: cal.model_vols[i],
                residual: cal.residuals[i],
                weight: cal.weights[i],
                effective_weight: cal.effective_weights[i],
                outlier: cal.outliers[i],
            }
        })
        .collect();
    let qual = quality(rows.iter().map(|r| (r.model_iv, r.bid_iv, r.ask_iv, r.mid_iv)));
    let fit = ExpiryFit {
        expiry,
        t: e.t,
        forward: e.forward,
        model,
        params,
        std_errors,
        n_quotes: range.len(),
        rmse_vol: qual.rmse_vol,
        mae_vol: qual.mae_vol,
        inside_spread: qual.inside_spread,
        loss: cal.minimum.cost,
        stop: cal.minimum.stop,
        converged: cal.minimum.stop.converged(),
        iterations: cal.minimum.iters,
        evaluations: cal.minimum.evals.total(),
        time_us: cal.time_us,
        arbitrage,
    };
    (fit, rows)
}

/// `names` paired with `values`.
pub(super) fn named(names: &[String], values: &[f64]) -> BTreeMap<String, f64> {
    names.iter().cloned().zip(values.iter().copied()).collect()
}
