//! What a fit reports: per snapshot and expiry the parameters, the quality of the fit
//! against the market (vol RMSE/MAE in vol points, share of model vols inside the bid–ask
//! band), how the solver stopped and what it cost, static-arbitrage diagnostics and
//! standard errors; and per quote the residual row written to `residuals.csv`.
//!
//! Field names are a contract: scripts outside the repository read them.

use super::series::WarmStartMode;
use super::spec::{FitSpec, ModelKind};
use crate::market::OptionType;
use crate::objective::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use volfit_optim::Stop;

/// Where a static-arbitrage violation lies relative to the quoted log-moneyness range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationWhere {
    /// No violation.
    #[default]
    None,
    /// A violation inside the quoted k-range (for calendar: of either expiry).
    Inside,
    /// Violations only outside the quoted k-range, where the model extrapolates.
    Extrapolation,
}

impl ViolationWhere {
    /// The place of a check's violations: `inside` the quoted range, anywhere (`all`).
    pub fn of<T>(inside: Option<T>, all: Option<T>) -> Self {
        match (inside, all) {
            (Some(_), _) => ViolationWhere::Inside,
            (None, Some(_)) => ViolationWhere::Extrapolation,
            (None, None) => ViolationWhere::None,
        }
    }
    /// The worse of two places (inside before extrapolation before none).
    pub fn worse(self, other: Self) -> Self {
        use ViolationWhere::{Extrapolation, Inside, None};
        match (self, other) {
            (Inside, _) | (_, Inside) => Inside,
            (Extrapolation, _) | (_, Extrapolation) => Extrapolation,
            _ => None,
        }
    }
}

/// Static-arbitrage verdict of a fitted smile or surface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArbitrageVerdict {
    /// Durrleman's g(k) ≥ 0: raw SVI on the whole real line (the wings by their limits,
    /// between nodes by local minimisation); other smiles on the report grid.
    pub butterfly_ok: bool,
    /// Total variance non-decreasing in t at fixed k on k ∈ [−2, 2] (raw SVI: exactly,
    /// between the grid nodes too; true for single expiries).
    pub calendar_ok: bool,
    /// Where the butterfly violations lie: `none`, `inside` the quoted k-range, or only in
    /// `extrapolation` outside it.
    #[serde(default)]
    pub butterfly_where: ViolationWhere,
    /// Where the calendar violations lie: `none`, `inside` the quoted k-range, or only in
    /// `extrapolation` outside it.
    #[serde(default)]
    pub calendar_where: ViolationWhere,
    /// The worst violation, if any, in words (kind, t, k, value); `no data` for a
    /// snapshot without a fitted expiry.
    pub worst: Option<String>,
}

impl Default for ArbitrageVerdict {
    /// No violation.
    fn default() -> Self {
        ArbitrageVerdict {
            butterfly_ok: true,
            calendar_ok: true,
            butterfly_where: ViolationWhere::None,
            calendar_where: ViolationWhere::None,
            worst: None,
        }
    }
}

impl ArbitrageVerdict {
    /// The verdict of a snapshot with nothing fitted: no data, so no violation either.
    pub fn no_data() -> Self {
        ArbitrageVerdict { worst: Some("no data".into()), ..ArbitrageVerdict::default() }
    }
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
    /// Model family (serialised as its CLI name, e.g. `svi`).
    pub model: ModelKind,
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
    /// Whether the solver met a tolerance (`false` when it stopped at the iteration or
    /// evaluation limit, stalled or found no feasible point: see `stop`).
    pub converged: bool,
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
    /// Model family (serialised as its CLI name, e.g. `svi`).
    pub model: ModelKind,
    /// Surface parameters by name (surface models only).
    pub surface_params: Option<BTreeMap<String, f64>>,
    /// Per-expiry results.
    pub expiries: Vec<ExpiryFit>,
    /// Surface-level arbitrage verdict (calendar across expiries included).
    pub arbitrage: ArbitrageVerdict,
    /// Expiries skipped, with the reason.
    pub skipped: Vec<String>,
    /// The surrogate stage, when the fit went through a net (`--surrogate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surrogate: Option<super::surrogate::SurrogateStage>,
}

/// The whole `fit.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOutput {
    /// The specification used (echoed so the fit can be reproduced).
    pub spec: FitSpec,
    /// Input files.
    pub inputs: Vec<String>,
    /// How far warm starts reached (`--warm-start`); `chain` in files written before it
    /// was recorded.
    #[serde(default = "WarmStartMode::legacy")]
    pub warm_start: WarmStartMode,
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

/// Fit quality of model vols against market quotes (the summary `fit.json` carries).
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

/// Accumulated error of model vols against two-sided quotes: the one scoring behind
/// [`quality`] (in-sample, `fit.json`) and validation's out-of-sample errors. Quotes
/// without a bid IV, an ask IV and a mid IV are not scored. The averages of an empty
/// accumulator are NaN (no quote, no error); [`quality`] reports an empty one as zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorAcc {
    /// Σ (100·(σ_model − σ_mid))², vol points squared.
    pub sse: f64,
    /// Σ |100·(σ_model − σ_mid)|, vol points.
    pub sae: f64,
    /// Σ ((σ_model − σ_mid) / (σ_ask − σ_bid))², spreads squared (spread floored at 1e-4).
    pub sse_spread: f64,
    /// Quotes with the model vol inside `[σ_bid, σ_ask]`.
    pub inside: usize,
    /// Quotes scored.
    pub n: usize,
}

impl ErrorAcc {
    /// Adds the model vol `model` of a quote with market IVs `bid`, `ask`, `mid` (ignored
    /// unless all three exist).
    pub fn add_quote(&mut self, model: f64, bid: Option<f64>, ask: Option<f64>, mid: Option<f64>) {
        let (Some(b), Some(a), Some(m)) = (bid, ask, mid) else { return };
        let e = model - m;
        let points = 100.0 * e;
        self.sse += points * points;
        self.sae += points.abs();
        let spread = (a - b).max(1e-4);
        self.sse_spread += (e / spread).powi(2);
        self.inside += usize::from(model >= b && model <= a);
        self.n += 1;
    }
    /// Adds one target quote (ignored unless two-sided with a mid IV).
    pub fn add(&mut self, model: f64, q: &Target) {
        self.add_quote(model, q.bid_iv, q.ask_iv, q.mid_iv);
    }
    /// Merges another accumulator.
    pub fn merge(&mut self, o: &ErrorAcc) {
        self.sse += o.sse;
        self.sae += o.sae;
        self.sse_spread += o.sse_spread;
        self.inside += o.inside;
        self.n += o.n;
    }
    /// Root-mean-square vol error in vol points (NaN when empty).
    pub fn rmse(&self) -> f64 {
        (self.sse / self.n as f64).sqrt()
    }
    /// Mean absolute vol error in vol points (NaN when empty).
    pub fn mae(&self) -> f64 {
        self.sae / self.n as f64
    }
    /// Root-mean-square error in bid–ask spreads (NaN when empty).
    pub fn spread_rmse(&self) -> f64 {
        (self.sse_spread / self.n as f64).sqrt()
    }
    /// Share of quotes with the model inside the spread (NaN when empty).
    pub fn inside_share(&self) -> f64 {
        self.inside as f64 / self.n as f64
    }
}

/// Scores model vols `(model_iv, bid_iv, ask_iv, mid_iv)` on the two-sided quotes by an
/// [`ErrorAcc`]. With no two-sided quote every field is 0 (`n = 0` tells it apart), as
/// `fit.json` has always written it: a JSON number, where NaN would become `null`.
pub fn quality<I>(rows: I) -> Quality
where
    I: IntoIterator<Item = (f64, Option<f64>, Option<f64>, Option<f64>)>,
{
    let mut acc = ErrorAcc::default();
    for (model, bid, ask, mid) in rows {
        acc.add_quote(model, bid, ask, mid);
    }
    if acc.n == 0 {
        return Quality::default();
    }
    Quality {
        rmse_vol: acc.rmse(),
        mae_vol: acc.mae(),
        inside_spread: acc.inside_share(),
        n: acc.n,
    }
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
