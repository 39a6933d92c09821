//! The backtest's output: one [`PathRecord`] per hedged path, and the hedging-error
//! distributions ([`PnlStats`]) per spec × delta × underlying ([`summarise`]) and per
//! moneyness × maturity bucket ([`bucket_summaries`]).

use super::config::HedgeConfig;
use super::delta::DeltaKind;
use crate::market::OptionType;
use crate::model::{maturity_bucket, ModelKind};
use crate::risk::{evaluate, RiskMeasure, Sample};
use serde::Serialize;
use std::collections::BTreeMap;

/// One hedged path in the output (`paths.csv`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathRecord {
    /// Fit specification name.
    pub spec: String,
    /// Model of the spec.
    pub model: ModelKind,
    /// Hedge ratio.
    pub delta: DeltaKind,
    /// Underlying coin.
    pub underlying: String,
    /// Option instrument.
    pub instrument: String,
    /// Expiry (ISO-8601).
    pub expiry: String,
    /// Strike (USD).
    pub strike: f64,
    /// `C` or `P`.
    #[serde(rename = "type")]
    pub kind: OptionType,
    /// Entry snapshot (ISO-8601).
    pub entry: String,
    /// Exit snapshot (ISO-8601).
    pub exit: String,
    /// Observations (entry and exit included).
    pub n_obs: usize,
    /// True when the option expired and settled.
    pub settled: bool,
    /// Hedge price source (`mixed` when steps differ).
    pub hedge_source: String,
    /// Forward at entry.
    pub entry_forward: f64,
    /// Years to expiry at entry.
    pub entry_t: f64,
    /// Log-moneyness at entry.
    pub entry_k: f64,
    /// Model vol at entry.
    pub entry_vol: f64,
    /// Hedge ratio at entry.
    pub entry_delta: f64,
    /// Mid at entry (USD).
    pub entry_mid_usd: f64,
    /// Vega at entry (USD per 1.00 vol).
    pub entry_vega: f64,
    /// Observations whose model vol fell back to the market IV (expiry not fitted).
    pub fallback_vols: usize,
    /// Observations marked by a fallback (mark or model price instead of the chosen marks).
    pub model_marks: usize,
    /// True when the exit traded at a two-sided quote or settled; false when it closed at
    /// the exchange mark or the model price (the option was not two-sided there).
    pub exit_quoted: bool,
    /// Perpetual funding received by the hedge (negative: paid), USD; in the gross P&L.
    pub funding_usd: f64,
    /// Perpetual funding received, coin.
    pub funding_coin: f64,
    /// Unhedged option P&L at mid, USD.
    pub unhedged_usd: f64,
    /// Unhedged option P&L at mid, coin.
    pub unhedged_coin: f64,
    /// Gross P&L, USD.
    pub pnl_usd: f64,
    /// Gross P&L, coin.
    pub pnl_coin: f64,
    /// Net P&L, USD.
    pub pnl_usd_net: f64,
    /// Net P&L, coin.
    pub pnl_coin_net: f64,
    /// Spread cost, USD.
    pub spread_usd: f64,
    /// Fees, USD.
    pub fees_usd: f64,
    /// Hedge trades.
    pub trades: usize,
    /// Hedge turnover, coins.
    pub turnover: f64,
    /// Greek attribution of the gross USD P&L, summed over the path's steps
    /// (`hedge::accounting`): delta (option's first-order move plus the hedge leg), USD.
    pub pnl_delta_usd: f64,
    /// Gamma P&L `½·q·Γ·ΔF²`, USD.
    pub pnl_gamma_usd: f64,
    /// Theta P&L `q·Θ·Δt`, USD.
    pub pnl_theta_usd: f64,
    /// Vega P&L `q·ν·Δσ`, USD.
    pub pnl_vega_usd: f64,
    /// Gross USD P&L minus delta, gamma, theta, vega and funding, USD.
    pub pnl_unexplained_usd: f64,
}

/// Distribution summary of one P&L column.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PnlStats {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (n − 1).
    pub std: f64,
    /// Root mean square (the hedging error size).
    pub rmse: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// `VaR_0.95` in loss units (larger = riskier), [`crate::risk`].
    pub var_95: f64,
    /// `VaR_0.99`.
    pub var_99: f64,
    /// `ES_0.975`.
    pub es_975: f64,
    /// `ES_0.99`.
    pub es_99: f64,
}

impl PnlStats {
    /// Summary of a sample; `None` when it is empty or not finite.
    pub fn of(x: &[f64]) -> Option<PnlStats> {
        let n = x.len();
        let sample = Sample::new(x.to_vec()).ok()?;
        let measures = [
            RiskMeasure::Var { alpha: 0.95 },
            RiskMeasure::Var { alpha: 0.99 },
            RiskMeasure::Es { alpha: 0.975 },
            RiskMeasure::Es { alpha: 0.99 },
        ];
        let r = evaluate(&sample, &measures).ok()?;
        let mean = x.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(PnlStats {
            n,
            mean,
            std: var.sqrt(),
            rmse: (x.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt(),
            min: x.iter().copied().fold(f64::INFINITY, f64::min),
            max: x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            var_95: r[0],
            var_99: r[1],
            es_975: r[2],
            es_99: r[3],
        })
    }
}

/// Hedging-error distribution of one spec × delta × underlying.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRecord {
    /// Fit specification name.
    pub spec: String,
    /// Model of the spec.
    pub model: ModelKind,
    /// Hedge ratio.
    pub delta: DeltaKind,
    /// Underlying.
    pub underlying: String,
    /// Number of paths.
    pub paths: usize,
    /// Unhedged USD P&L (the benchmark a hedge should shrink).
    pub unhedged_usd: PnlStats,
    /// Unhedged coin P&L.
    pub unhedged_coin: PnlStats,
    /// Gross USD P&L.
    pub pnl_usd: PnlStats,
    /// Gross coin P&L.
    pub pnl_coin: PnlStats,
    /// Net USD P&L.
    pub pnl_usd_net: PnlStats,
    /// Net coin P&L.
    pub pnl_coin_net: PnlStats,
}

/// Hedging error of one spec × delta × underlying within one moneyness × maturity bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BucketRecord {
    /// Fit specification name.
    pub spec: String,
    /// Hedge ratio.
    pub delta: DeltaKind,
    /// Underlying.
    pub underlying: String,
    /// Moneyness bucket of the entry standardised moneyness `z = k/(σ√t)`.
    pub moneyness: &'static str,
    /// Maturity bucket of the entry time to expiry.
    pub maturity: &'static str,
    /// Gross USD P&L.
    pub pnl_usd: PnlStats,
    /// Gross coin P&L.
    pub pnl_coin: PnlStats,
}

/// Moneyness bucket of `z = k/(σ√t)` (k = ln K/F).
pub fn moneyness_bucket(z: f64) -> &'static str {
    match z {
        z if z < -1.0 => "z<-1",
        z if z < -0.25 => "-1<=z<-0.25",
        z if z <= 0.25 => "atm |z|<=0.25",
        z if z <= 1.0 => "0.25<z<=1",
        _ => "z>1",
    }
}

/// Hedging-error summaries by moneyness × maturity bucket.
pub fn bucket_summaries(paths: &[PathRecord]) -> Vec<BucketRecord> {
    type Key<'a> = (&'a str, DeltaKind, &'a str, &'static str, &'static str);
    let mut groups: BTreeMap<Key, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in paths {
        let z = p.entry_k / (p.entry_vol * p.entry_t.sqrt());
        let key = (
            p.spec.as_str(),
            p.delta,
            p.underlying.as_str(),
            moneyness_bucket(z),
            maturity_bucket(p.entry_t),
        );
        let g = groups.entry(key).or_default();
        if p.pnl_usd.is_finite() && p.pnl_coin.is_finite() {
            g.0.push(p.pnl_usd);
            g.1.push(p.pnl_coin);
        }
    }
    groups
        .into_iter()
        .filter(|(_, (u, _))| !u.is_empty())
        .map(|((spec, delta, und, m, t), (u, c))| BucketRecord {
            spec: spec.to_string(),
            delta,
            underlying: und.to_string(),
            moneyness: m,
            maturity: t,
            pnl_usd: PnlStats::of(&u).unwrap_or_default(),
            pnl_coin: PnlStats::of(&c).unwrap_or_default(),
        })
        .collect()
}

/// Counts of one backtest.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HedgeCounts {
    /// Snapshots used, per underlying.
    pub snapshots: BTreeMap<String, usize>,
    /// Runs of consecutive snapshots, per underlying.
    pub runs: BTreeMap<String, usize>,
    /// Snapshot fits performed (specs × snapshots).
    pub fits: usize,
    /// Steps by the hedge instrument actually traded, per underlying (`future` for every
    /// step with `instrument = "future"`).
    pub steps_by_source: BTreeMap<String, BTreeMap<String, usize>>,
    /// Options never entered because the liquidity filter rejected them at every snapshot
    /// where they were two-sided, per underlying (0 with the filter off).
    pub liquidity_excluded: BTreeMap<String, usize>,
}

/// The backtest's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HedgeOutput {
    /// The configuration.
    pub config: HedgeConfig,
    /// The liquidity filter in words (`off: …` when disabled).
    pub liquidity_filter: String,
    /// How the perpetual's funding was charged, per underlying (the default is stated).
    pub funding: BTreeMap<String, String>,
    /// Counts.
    pub counts: HedgeCounts,
    /// Notices (fallback hedge prices, skipped fits).
    pub notices: Vec<String>,
    /// Summaries per spec × delta × underlying.
    pub summary: Vec<SummaryRecord>,
    /// Summaries per spec × delta × underlying × moneyness × maturity bucket.
    pub buckets: Vec<BucketRecord>,
    /// `ES_0.975` per spec × underlying × maturity bucket × method × P&L column, with
    /// bootstrap intervals and the paired difference to `black` (`super::compare`).
    pub es_by_maturity: Vec<super::compare::EsRecord>,
    /// The replayed policy (`--policy`), when there is one.
    pub policy: Option<serde_json::Value>,
    /// Every path (goes to `paths.csv`, not to the JSON).
    #[serde(skip)]
    pub paths: Vec<PathRecord>,
}

/// Summaries per spec × delta × underlying (paths sorted by those keys).
pub fn summarise(paths: &[PathRecord]) -> Vec<SummaryRecord> {
    let mut groups: BTreeMap<(&str, DeltaKind, &str), Vec<&PathRecord>> = BTreeMap::new();
    for p in paths {
        groups.entry((&p.spec, p.delta, &p.underlying)).or_default().push(p);
    }
    groups
        .into_iter()
        .map(|((spec, delta, und), ps)| {
            let col = |f: fn(&PathRecord) -> f64| {
                let x: Vec<f64> = ps.iter().map(|p| f(p)).filter(|v| v.is_finite()).collect();
                PnlStats::of(&x).unwrap_or_default()
            };
            SummaryRecord {
                spec: spec.to_string(),
                model: ps.first().map(|p| p.model).unwrap_or_default(),
                delta,
                underlying: und.to_string(),
                paths: ps.len(),
                unhedged_usd: col(|p| p.unhedged_usd),
                unhedged_coin: col(|p| p.unhedged_coin),
                pnl_usd: col(|p| p.pnl_usd),
                pnl_coin: col(|p| p.pnl_coin),
                pnl_usd_net: col(|p| p.pnl_usd_net),
                pnl_coin_net: col(|p| p.pnl_coin_net),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_brute_force() {
        // Sample 1..=100: mean 50.5, std √(100·101/12) (n − 1 form: √841.67 = 29.01);
        // VaR_0.95 of P&L −x is the loss 95 (inverted-CDF quantile, risk module docs);
        // ES_0.99 = mean of the worst 1 % = 100.
        let x: Vec<f64> = (1..=100).map(|i| -f64::from(i)).collect();
        let s = PnlStats::of(&x).unwrap();
        assert!((s.mean + 50.5).abs() < 1e-12);
        assert!((s.std - (100.0 * 101.0 / 12.0_f64).sqrt()).abs() < 1e-9);
        assert_eq!((s.var_95, s.min, s.max), (95.0, -100.0, -1.0));
        assert!((s.es_99 - 100.0).abs() < 1e-9);
    }
}
