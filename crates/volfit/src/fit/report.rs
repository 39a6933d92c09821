//! What a fit reports: per snapshot and expiry the parameters, the quality of the fit
//! against the market (vol RMSE/MAE in vol points, share of model vols inside the bid–ask
//! band), how the solver stopped and what it cost, static-arbitrage diagnostics and
//! standard errors; and per quote the residual row written to `residuals.csv`.
//!
//! Field names are a contract: scripts outside the repository read them.

use super::spec::FitSpec;
use crate::market::OptionType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use volfit_optim::Stop;

/// Static-arbitrage verdict of a fitted smile or surface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArbitrageVerdict {
    /// Durrleman's g(k) ≥ 0 on the dense grid.
    pub butterfly_ok: bool,
    /// Total variance non-decreasing in t at fixed k (true for single expiries).
    pub calendar_ok: bool,
    /// The worst violation, if any, in words (kind, t, k, value).
    pub worst: Option<String>,
}

/// Fit of one expiry (a slice of a surface fit, or a per-expiry model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpiryFit {
    /// Expiry, ISO-8601 UTC.
    pub expiry: String,
    /// Years to expiry.
    pub t: f64,
    /// Forward used (USD).
    pub forward: f64,
    /// Model name.
    pub model: String,
    /// Parameters by name (for surfaces: the slice's own parameters, e.g. SVI-equivalent θ, ρ, φ).
    pub params: BTreeMap<String, f64>,
    /// Standard errors by name (sandwich form under robust losses); absent when singular.
    pub std_errors: BTreeMap<String, f64>,
    /// Quotes in the fit.
    pub n_quotes: usize,
    /// Root-mean-square of model IV − mid IV, in vol points (1 = 0.01), two-sided quotes.
    pub rmse_vol: f64,
    /// Mean absolute model IV − mid IV, in vol points.
    pub mae_vol: f64,
    /// Share of two-sided quotes whose model IV lies in `[bid_iv, ask_iv]`.
    pub inside_spread: f64,
    /// Final value of the fit's loss (for surfaces: the whole surface's).
    pub loss: f64,
    /// Why the solver stopped.
    pub stop: Stop,
    /// Solver iterations.
    pub iterations: u32,
    /// Problem evaluations (values and gradients).
    pub evaluations: u64,
    /// Wall time of the fit in microseconds (surface fits: the whole surface's).
    pub time_us: u64,
    /// Static-arbitrage diagnostics.
    pub arbitrage: ArbitrageVerdict,
}

/// Fit of one snapshot of one underlying.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFit {
    /// Snapshot time, ISO-8601 UTC.
    pub snapshot: String,
    /// Underlying coin.
    pub underlying: String,
    /// Model name.
    pub model: String,
    /// Surface parameters by name (surface models only).
    pub surface_params: Option<BTreeMap<String, f64>>,
    /// Per-expiry results.
    pub expiries: Vec<ExpiryFit>,
    /// Surface-level arbitrage verdict (calendar across expiries included).
    pub arbitrage: ArbitrageVerdict,
    /// Expiries skipped, with the reason.
    pub skipped: Vec<String>,
}

/// The whole `fit.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOutput {
    /// The specification used (echoed so the fit can be reproduced).
    pub spec: FitSpec,
    /// Input files.
    pub inputs: Vec<String>,
    /// One entry per snapshot and underlying, in time order.
    pub snapshots: Vec<SnapshotFit>,
}

/// One row of `residuals.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResidualRow {
    /// Snapshot time, ISO-8601 UTC.
    pub snapshot: String,
    /// Underlying coin.
    pub underlying: String,
    /// Expiry, ISO-8601 UTC.
    pub expiry: String,
    /// Years to expiry.
    pub t: f64,
    /// Strike (USD).
    pub strike: f64,
    /// `C` or `P`.
    #[serde(rename = "type")]
    pub kind: OptionType,
    /// Log-forward-moneyness.
    pub k: f64,
    /// Market bid IV.
    pub bid_iv: Option<f64>,
    /// Market ask IV.
    pub ask_iv: Option<f64>,
    /// Market mid IV.
    pub mid_iv: Option<f64>,
    /// Model IV.
    pub model_iv: f64,
    /// The fit's residual (in the spec's residual kind).
    pub residual: f64,
    /// The quote's weight.
    pub weight: f64,
    /// Effective robust weight `w·ρ'(r²)` at the solution.
    pub effective_weight: f64,
    /// True when the robust loss treats the quote as an outlier.
    pub outlier: bool,
}

/// Fit quality of model vols against market quotes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quality {
    /// RMSE vs mid IV in vol points.
    pub rmse_vol: f64,
    /// MAE vs mid IV in vol points.
    pub mae_vol: f64,
    /// Share of two-sided quotes with the model inside `[bid_iv, ask_iv]`.
    pub inside_spread: f64,
    /// Number of two-sided quotes scored.
    pub n: usize,
}

/// Scores model vols `(model_iv, bid_iv, ask_iv, mid_iv)` on the two-sided quotes.
pub fn quality<I>(rows: I) -> Quality
where
    I: IntoIterator<Item = (f64, Option<f64>, Option<f64>, Option<f64>)>,
{
    let (mut se, mut ae, mut inside, mut n) = (0.0, 0.0, 0usize, 0usize);
    for (model, bid, ask, mid) in rows {
        let (Some(b), Some(a), Some(m)) = (bid, ask, mid) else { continue };
        let e = 100.0 * (model - m);
        se += e * e;
        ae += e.abs();
        inside += usize::from(model >= b && model <= a);
        n += 1;
    }
    if n == 0 {
        return Quality::default();
    }
    let nf = n as f64;
    Quality { rmse_vol: (se / nf).sqrt(), mae_vol: ae / nf, inside_spread: inside as f64 / nf, n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_in_vol_points_on_two_sided_quotes_only() {
        let rows = [
            (0.51, Some(0.50), Some(0.52), Some(0.51)), // exact, inside
            (0.53, Some(0.50), Some(0.52), Some(0.51)), // 2 vol points off, outside
            (0.90, None, Some(0.52), None),             // one-sided: not scored
        ];
        let q = quality(rows);
        assert_eq!(q.n, 2);
        assert!((q.rmse_vol - (4.0_f64 / 2.0).sqrt()).abs() < 1e-12);
        assert!((q.mae_vol - 1.0).abs() < 1e-12);
        assert!((q.inside_spread - 0.5).abs() < 1e-15);
    }
}
