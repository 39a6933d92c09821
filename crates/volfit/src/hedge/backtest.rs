//! The delta-hedging backtest: hold an option over consecutive snapshots, re-fit the smile at
//! each one (warm start), hedge its model delta with the perpetual (or the matching future),
//! and account the P&L in USD and in coin, gross and net of spread and fees.
//!
//! ## Accounting (one option path, `q` options held, hedge `h_i` coins over step `i → i+1`)
//! - Option marks: mid in USD `V_i` and in coin `W_i` (Deribit quotes coin premiums,
//!   `V = W·F`); mark price, then the model price, when no two-sided quote exists. At an
//!   expiry between two snapshots the option settles at the later snapshot on the index
//!   (settlement proxy; Deribit settles on a 30-minute TWAP before 08:00 UTC).
//! - Hedge `h_i = −q·Δ_i` coins, rebalanced at every snapshot or when `|target − h| > band`.
//!   Over a step the hedge earns `h_i·(P_{i+1} − P_i)` USD, booked in coin at `P_{i+1}`
//!   (`h_i·(P_{i+1} − P_i)/P_{i+1}`: an inverse perpetual re-sized to `h_i` coins).
//! - Gross P&L: USD `q·(V_n − V_0) + Σ h_i ΔP_i`; coin `q·(W_n − W_0) + Σ h_i ΔP_i/P_{i+1}`.
//!   The USD account finances the premium in USD; the coin account holds everything in coin
//!   (so the premium-adjusted delta is its first-order hedge, see [`super::delta`]).
//! - Net P&L subtracts spread costs (buy at ask, sell at bid, against the mid) and fees of
//!   [`FeeSchedule`] (option trade, hedge trades, settlement), each in both units.
//!
//! ## Hedge prices
//! Every step takes both of its prices from one source so that no basis jump enters the
//! P&L: the perpetual when both snapshots have a perpetual price (matched by coin and time),
//! otherwise the forward of the nearest expiry alive at both snapshots (the output says so),
//! or with [`Instrument::Future`] the option's own expiry forward.

use super::delta::{smiles_from_residuals, DeltaKind, Deltas, SmileTable};
use super::fees::FeeSchedule;
use crate::fit::{fit_snapshot, FitSpec, WarmStart};
use crate::market::PerpPrice;
use crate::market::{iso8601, OptionType, Quote, Snapshot};
use crate::risk::{evaluate, RiskMeasure, Sample};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The instrument that carries the hedge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Instrument {
    /// The coin's perpetual (nearest-expiry forward where no perpetual price exists).
    #[default]
    Perpetual,
    /// The future of the option's own expiry (its forward).
    Future,
}

/// Where a step's hedge prices came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HedgeSource {
    /// Perpetual prices from the perpetual price file.
    Perpetual,
    /// Forward of the nearest expiry alive at both ends, from the snapshots themselves.
    NearestForward,
    /// The option's own expiry forward (matching future).
    Future,
}

impl HedgeSource {
    /// Output name.
    pub fn name(self) -> &'static str {
        match self {
            HedgeSource::Perpetual => "perpetual",
            HedgeSource::NearestForward => "nearest-forward",
            HedgeSource::Future => "future",
        }
    }
}

/// Where paths start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entry {
    /// At the first snapshot of a run of consecutive snapshots where the option is quoted.
    #[default]
    First,
    /// At every snapshot (overlapping paths; use with `horizon`).
    Every,
}

/// How held options are marked between trades.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marks {
    /// Mid of bid and ask (exchange mark, then model price, when one-sided).
    #[default]
    Mid,
    /// The exchange's mark price (mid, then model price, when absent): less noisy for wide
    /// quotes; spread costs are still measured against it.
    Exchange,
}

/// Everything that defines a hedging backtest (TOML: `hedge.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HedgeConfig {
    /// Fit specifications by name (TOML tables `[specs.NAME]`); default one SSVI spec.
    pub specs: BTreeMap<String, FitSpec>,
    /// Hedge ratios to backtest (each path is run with each).
    pub deltas: Vec<DeltaKind>,
    /// Hedge instrument.
    pub instrument: Instrument,
    /// Rebalance only when `|target − current| > band` coins per option (`None`: always).
    pub band: Option<f64>,
    /// Fee schedule.
    pub fees: FeeSchedule,
    /// Options held per path (negative = short).
    pub quantity: f64,
    /// Snapshots further apart than this (hours) start a new run.
    pub max_gap_hours: f64,
    /// Largest number of snapshot steps a path is held (`None`: to the end of the run or expiry).
    pub horizon: Option<usize>,
    /// Where paths start.
    pub entry: Entry,
    /// How options are marked.
    pub marks: Marks,
    /// Underlyings to hedge (empty: all).
    pub underlyings: Vec<String>,
    /// Largest distance (seconds) between a snapshot and the perpetual price matched to it.
    pub perp_tolerance_s: f64,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        HedgeConfig {
            specs: BTreeMap::from([("ssvi".to_string(), FitSpec::default())]),
            deltas: DeltaKind::ALL.to_vec(),
            instrument: Instrument::Perpetual,
            band: None,
            fees: FeeSchedule::default(),
            quantity: 1.0,
            max_gap_hours: 24.0 * 7.0,
            horizon: None,
            entry: Entry::First,
            marks: Marks::Mid,
            underlyings: Vec::new(),
            perp_tolerance_s: 900.0,
        }
    }
}

impl HedgeConfig {
    /// Parses a TOML configuration (unknown keys are errors).
    ///
    /// # Errors
    /// The TOML error with the offending key and line.
    pub fn from_toml(text: &str) -> Result<HedgeConfig, toml::de::Error> {
        toml::from_str(text)
    }
}

/// One observation of a held option.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obs {
    /// Snapshot time, ms since the epoch.
    pub time_ms: i64,
    /// The option's expiry forward (settlement price when `settled`).
    pub forward: f64,
    /// Mark in USD (mid; the payoff when `settled`).
    pub value: f64,
    /// Mark in coin.
    pub value_coin: f64,
    /// Bid `(USD, coin)`.
    pub bid: Option<(f64, f64)>,
    /// Ask `(USD, coin)`.
    pub ask: Option<(f64, f64)>,
    /// Price and hedge ratios at this observation.
    pub deltas: Deltas,
    /// True for the settlement of an expired option (last observation only).
    pub settled: bool,
}

/// Hedge prices at both ends of one step, from one source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Price at the start.
    pub p0: f64,
    /// Price at the end.
    pub p1: f64,
    /// Source of both prices.
    pub source: HedgeSource,
}

/// P&L of one hedged path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PathPnl {
    /// Gross (mid, no costs) P&L in USD.
    pub pnl_usd: f64,
    /// Gross P&L in coin.
    pub pnl_coin: f64,
    /// Net of spread and fees, USD.
    pub pnl_usd_net: f64,
    /// Net of spread and fees, coin.
    pub pnl_coin_net: f64,
    /// Spread cost, USD.
    pub spread_usd: f64,
    /// Fees, USD.
    pub fees_usd: f64,
    /// Unhedged (option only, mid) P&L, USD.
    pub unhedged_usd: f64,
    /// Unhedged P&L, coin.
    pub unhedged_coin: f64,
    /// Number of hedge trades (including the opening and closing ones).
    pub trades: usize,
    /// Hedge turnover in coins.
    pub turnover: f64,
}

/// Hedges one path: `obs` has `n ≥ 2` observations and `steps` the `n − 1` hedge price pairs.
/// `qty` options are held; the hedge trades `delta` with an optional rebalancing band.
pub fn hedge_path(
    obs: &[Obs],
    steps: &[Step],
    qty: f64,
    delta: DeltaKind,
    band: Option<f64>,
    fees: &FeeSchedule,
) -> PathPnl {
    let mut out = PathPnl::default();
    let (Some(first), Some(last)) = (obs.first(), obs.last()) else {
        return out;
    };
    if obs.len() < 2 || steps.len() + 1 != obs.len() {
        return out;
    }
    let (mut fee_usd, mut fee_coin, mut spread_usd, mut spread_coin) = (0.0, 0.0, 0.0, 0.0);
    // Entry: buy (qty > 0) at the ask, sell at the bid.
    let entry_side = if qty > 0.0 { first.ask } else { first.bid };
    if let Some((usd, coin)) = entry_side {
        spread_usd += qty.abs() * (usd - first.value).abs();
        spread_coin += qty.abs() * (coin - first.value_coin).abs();
        fee_usd += fees.option_fee(first.forward, usd, qty);
        fee_coin += fees.option_fee(1.0, coin, qty);
    } else {
        fee_usd += fees.option_fee(first.forward, first.value, qty);
        fee_coin += fees.option_fee(1.0, first.value_coin, qty);
    }
    let mut h = 0.0;
    let mut hedge_usd = 0.0;
    let mut hedge_coin = 0.0;
    for (i, (o, s)) in obs.iter().zip(steps).enumerate() {
        let target = -qty * o.deltas.get(delta);
        let trade = target - h;
        let rebalance = i == 0 || band.is_none_or(|b| trade.abs() > b);
        if rebalance && trade != 0.0 {
            h = target;
            out.trades += 1;
            out.turnover += trade.abs();
            fee_usd += fees.hedge_fee(trade * s.p0);
            fee_coin += fees.hedge_fee(trade);
        }
        let dp = s.p1 - s.p0;
        hedge_usd += h * dp;
        hedge_coin += h * dp / s.p1;
    }
    // Close the hedge at the last step's end price.
    if h != 0.0 {
        let p = steps.last().map_or(last.forward, |s| s.p1);
        out.trades += 1;
        out.turnover += h.abs();
        fee_usd += fees.hedge_fee(h * p);
        fee_coin += fees.hedge_fee(h);
    }
    // Exit: settlement, or sell (qty > 0) at the bid.
    if last.settled {
        fee_usd += fees.settlement_fee(last.forward, last.value, qty);
        fee_coin += fees.settlement_fee(1.0, last.value_coin, qty);
    } else {
        let exit_side = if qty > 0.0 { last.bid } else { last.ask };
        if let Some((usd, coin)) = exit_side {
            spread_usd += qty.abs() * (usd - last.value).abs();
            spread_coin += qty.abs() * (coin - last.value_coin).abs();
            fee_usd += fees.option_fee(last.forward, usd, qty);
            fee_coin += fees.option_fee(1.0, coin, qty);
        } else {
            fee_usd += fees.option_fee(last.forward, last.value, qty);
            fee_coin += fees.option_fee(1.0, last.value_coin, qty);
        }
    }
    out.unhedged_usd = qty * (last.value - first.value);
    out.unhedged_coin = qty * (last.value_coin - first.value_coin);
    out.pnl_usd = out.unhedged_usd + hedge_usd;
    out.pnl_coin = out.unhedged_coin + hedge_coin;
    out.pnl_usd_net = out.pnl_usd - spread_usd - fee_usd;
    out.pnl_coin_net = out.pnl_coin - spread_coin - fee_coin;
    out.spread_usd = spread_usd;
    out.fees_usd = fee_usd;
    out
}

/// One hedged path in the output (`paths.csv`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathRecord {
    /// Fit specification name.
    pub spec: String,
    /// Model of the spec.
    pub model: String,
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
    pub model: String,
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

/// Maturity bucket of `t` years.
pub fn maturity_bucket(t: f64) -> &'static str {
    let days = t * 365.0;
    match days {
        d if d < 7.0 => "<7d",
        d if d < 30.0 => "7-30d",
        d if d < 90.0 => "30-90d",
        _ => ">=90d",
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
    /// Steps by hedge source, per underlying.
    pub steps_by_source: BTreeMap<String, BTreeMap<String, usize>>,
}

/// The backtest's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HedgeOutput {
    /// The configuration.
    pub config: HedgeConfig,
    /// Counts.
    pub counts: HedgeCounts,
    /// Notices (fallback hedge prices, skipped fits).
    pub notices: Vec<String>,
    /// Summaries per spec × delta × underlying.
    pub summary: Vec<SummaryRecord>,
    /// Summaries per spec × delta × underlying × moneyness × maturity bucket.
    pub buckets: Vec<BucketRecord>,
    /// Every path (goes to `paths.csv`, not to the JSON).
    #[serde(skip)]
    pub paths: Vec<PathRecord>,
}

/// Hedge prices of the steps of one run of snapshots of one underlying.
struct RunSteps {
    /// Per step: `(p0, p1, source, note)`, for the perpetual instrument.
    steps: Vec<Step>,
}

/// The perpetual price of a snapshot, if one lies within the tolerance.
fn perp_price(perps: &[&PerpPrice], time_ms: i64, tol_ms: i64) -> Option<f64> {
    perps
        .iter()
        .filter(|p| (p.snapshot_ms - time_ms).abs() <= tol_ms)
        .min_by_key(|p| (p.snapshot_ms - time_ms).abs())
        .map(|p| p.price)
}

/// Nearest expiry alive at both snapshots (expiring after `b`): forwards at `a` and `b`.
fn nearest_forward(a: &Snapshot, b: &Snapshot) -> Option<(i64, f64, f64)> {
    a.expiries.iter().filter(|e| e.expiry_ms > b.time_ms).find_map(|ea| {
        b.expiries
            .iter()
            .find(|eb| eb.expiry_ms == ea.expiry_ms)
            .map(|eb| (ea.expiry_ms, ea.forward, eb.forward))
    })
}

fn run_steps(
    run: &[&Snapshot],
    perps: &[&PerpPrice],
    tol_ms: i64,
    notices: &mut Vec<String>,
) -> RunSteps {
    let prices: Vec<Option<f64>> =
        run.iter().map(|s| perp_price(perps, s.time_ms, tol_ms)).collect();
    for (s, p) in run.iter().zip(&prices) {
        if p.is_none() {
            notices.push(format!(
                "{} {}: no perpetual price within {} s",
                s.underlying,
                s.time_iso(),
                tol_ms / 1000
            ));
        }
    }
    if let [only] = run {
        notices.push(format!(
            "{} {}: no other snapshot within the maximum gap; no path starts here",
            only.underlying,
            only.time_iso()
        ));
    }
    let mut steps = Vec::with_capacity(run.len().saturating_sub(1));
    for (i, w) in run.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        let step = match (prices[i], prices[i + 1]) {
            (Some(p0), Some(p1)) => Step { p0, p1, source: HedgeSource::Perpetual },
            _ => {
                let missing: Vec<String> = [(a, prices[i]), (b, prices[i + 1])]
                    .iter()
                    .filter(|(_, p)| p.is_none())
                    .map(|(s, _)| s.time_iso())
                    .collect();
                match nearest_forward(a, b) {
                    Some((e, p0, p1)) => {
                        notices.push(format!(
                            "{} {} -> {}: no perpetual price at {}; hedged with the \
                             nearest-expiry forward ({}) from the snapshots",
                            a.underlying,
                            a.time_iso(),
                            b.time_iso(),
                            missing.join(", "),
                            iso8601(e)
                        ));
                        Step { p0, p1, source: HedgeSource::NearestForward }
                    }
                    None => {
                        notices.push(format!(
                            "{} {} -> {}: no perpetual price and no common expiry; \
                             hedged with each option's own forward",
                            a.underlying,
                            a.time_iso(),
                            b.time_iso()
                        ));
                        Step { p0: f64::NAN, p1: f64::NAN, source: HedgeSource::Future }
                    }
                }
            }
        };
        steps.push(step);
    }
    RunSteps { steps }
}

/// Model vol and slope of a quote at a snapshot: the fitted smile, else the quote's market
/// IV (`fallback = true`).
fn model_vol(
    smiles: &BTreeMap<String, SmileTable>,
    expiry_iso: &str,
    k: f64,
    market_iv: Option<f64>,
) -> Option<(f64, f64, bool)> {
    match smiles.get(expiry_iso).and_then(|t| t.at(k)) {
        Some(p) => Some((p.vol, p.slope, false)),
        None => market_iv.filter(|v| v.is_finite() && *v > 0.0).map(|v| (v, 0.0, true)),
    }
}

/// Location of each instrument in a snapshot: `(expiry index, quote index)`.
fn index_of(s: &Snapshot) -> HashMap<&str, (usize, usize)> {
    let mut m = HashMap::with_capacity(s.num_quotes());
    for (ei, e) in s.expiries.iter().enumerate() {
        for (qi, q) in e.quotes.iter().enumerate() {
            m.insert(q.instrument.as_str(), (ei, qi));
        }
    }
    m
}

/// One underlying under one spec: fitted smiles per snapshot of each run.
struct Fitted {
    spec: String,
    model: String,
    underlying: String,
    runs: Vec<Vec<BTreeMap<String, SmileTable>>>,
    skipped: Vec<String>,
}

fn fit_runs(runs: &[Vec<&Snapshot>], name: &str, spec: &FitSpec) -> Fitted {
    let mut warm: Option<WarmStart> = None;
    let mut skipped = Vec::new();
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let mut smiles = Vec::with_capacity(run.len());
        for snap in run {
            let r = fit_snapshot(snap, spec, warm.as_ref());
            if r.residuals.is_empty() {
                skipped.push(format!(
                    "{} {} spec {name}: nothing fitted ({}); market IVs used",
                    snap.underlying,
                    snap.time_iso(),
                    r.fit.skipped.join("; ")
                ));
            } else {
                warm = Some(r.warm);
            }
            smiles.push(smiles_from_residuals(&r.residuals));
        }
        out.push(smiles);
    }
    Fitted {
        spec: name.to_string(),
        model: spec.model.name().to_string(),
        underlying: runs
            .first()
            .and_then(|r| r.first())
            .map(|s| s.underlying.clone())
            .unwrap_or_default(),
        runs: out,
        skipped,
    }
}

/// Runs the backtest on `snapshots` (any underlyings, any order) with perpetual prices
/// `perps`.
pub fn backtest(snapshots: &[Snapshot], perps: &[PerpPrice], cfg: &HedgeConfig) -> HedgeOutput {
    let mut notices = Vec::new();
    let mut counts = HedgeCounts::default();
    // Runs of consecutive snapshots per underlying.
    let mut by_und: BTreeMap<&str, Vec<&Snapshot>> = BTreeMap::new();
    for s in snapshots {
        if cfg.underlyings.is_empty() || cfg.underlyings.contains(&s.underlying) {
            by_und.entry(s.underlying.as_str()).or_default().push(s);
        }
    }
    let gap_ms = (cfg.max_gap_hours * 3.6e6) as i64;
    let tol_ms = (cfg.perp_tolerance_s * 1e3) as i64;
    let mut groups: Vec<(Vec<Vec<&Snapshot>>, Vec<RunSteps>)> = Vec::new();
    for (und, mut snaps) in by_und {
        snaps.sort_by_key(|s| s.time_ms);
        snaps.dedup_by_key(|s| s.time_ms);
        let mut runs: Vec<Vec<&Snapshot>> = Vec::new();
        for s in snaps.iter() {
            match runs.last_mut() {
                Some(r) if r.last().is_some_and(|p| s.time_ms - p.time_ms <= gap_ms) => r.push(s),
                _ => runs.push(vec![s]),
            }
        }
        let coin_perps: Vec<&PerpPrice> = perps.iter().filter(|p| p.coin == und).collect();
        let steps: Vec<RunSteps> =
            runs.iter().map(|r| run_steps(r, &coin_perps, tol_ms, &mut notices)).collect();
        counts.snapshots.insert(und.to_string(), snaps.len());
        counts.runs.insert(und.to_string(), runs.len());
        groups.push((runs, steps));
    }
    // Fit every (spec, underlying) sequentially in time (warm start), in parallel across pairs.
    let jobs: Vec<(usize, &String, &FitSpec)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, _)| cfg.specs.iter().map(move |(n, s)| (g, n, s)))
        .collect();
    let fitted: Vec<(usize, Fitted)> =
        jobs.par_iter().map(|&(g, name, spec)| (g, fit_runs(&groups[g].0, name, spec))).collect();
    counts.fits = fitted.iter().map(|(_, f)| f.runs.iter().map(Vec::len).sum::<usize>()).sum();
    for (_, f) in &fitted {
        notices.extend(f.skipped.iter().cloned());
    }
    let mut paths: Vec<PathRecord> = fitted
        .par_iter()
        .flat_map_iter(|(g, f)| {
            let (runs, steps) = &groups[*g];
            runs.iter()
                .zip(steps)
                .zip(&f.runs)
                .flat_map(|((run, st), smiles)| run_paths(run, st, smiles, f, cfg))
                .collect::<Vec<_>>()
        })
        .collect();
    for (runs, steps) in &groups {
        let und = runs.first().and_then(|r| r.first()).map(|s| s.underlying.clone());
        let entry = counts.steps_by_source.entry(und.unwrap_or_default()).or_default();
        for st in steps.iter().flat_map(|s| &s.steps) {
            *entry.entry(st.source.name().to_string()).or_default() += 1;
        }
    }
    paths.sort_by(|a, b| {
        (&a.spec, a.delta, &a.underlying, &a.instrument, &a.entry).cmp(&(
            &b.spec,
            b.delta,
            &b.underlying,
            &b.instrument,
            &b.entry,
        ))
    });
    let summary = summarise(&paths);
    let buckets = bucket_summaries(&paths);
    notices.sort();
    notices.dedup();
    HedgeOutput { config: cfg.clone(), counts, notices, summary, buckets, paths }
}

/// Every path of one run under one spec, for each configured delta kind.
fn run_paths(
    run: &[&Snapshot],
    steps: &RunSteps,
    smiles: &[BTreeMap<String, SmileTable>],
    f: &Fitted,
    cfg: &HedgeConfig,
) -> Vec<PathRecord> {
    let index: Vec<HashMap<&str, (usize, usize)>> = run.iter().map(|s| index_of(s)).collect();
    let expiry_iso: Vec<Vec<String>> =
        run.iter().map(|s| s.expiries.iter().map(|e| iso8601(e.expiry_ms)).collect()).collect();
    let mut out = Vec::new();
    let mut started: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut obs: Vec<Obs> = Vec::new();
    let mut path_steps: Vec<Step> = Vec::new();
    let mut quoted: Vec<bool> = Vec::new();
    for start in 0..run.len() {
        for e in &run[start].expiries {
            for q in &e.quotes {
                if cfg.entry == Entry::First && started.contains(q.instrument.as_str()) {
                    continue;
                }
                if !q.two_sided() || e.t <= 0.0 {
                    continue;
                }
                let Some(p) = follow(
                    run,
                    &index,
                    &expiry_iso,
                    smiles,
                    steps,
                    start,
                    q,
                    e.expiry_ms,
                    cfg,
                    &mut obs,
                    &mut path_steps,
                    &mut quoted,
                ) else {
                    continue;
                };
                started.insert(q.instrument.as_str());
                let o0 = obs[0];
                let sources: std::collections::BTreeSet<&str> =
                    path_steps.iter().map(|s| s.source.name()).collect();
                let source = if sources.len() == 1 {
                    sources.iter().next().copied().unwrap_or("mixed").to_string()
                } else {
                    "mixed".to_string()
                };
                for &dk in &cfg.deltas {
                    let pnl = hedge_path(&obs, &path_steps, cfg.quantity, dk, cfg.band, &cfg.fees);
                    out.push(PathRecord {
                        spec: f.spec.clone(),
                        model: f.model.clone(),
                        delta: dk,
                        underlying: f.underlying.clone(),
                        instrument: q.instrument.clone(),
                        expiry: iso8601(e.expiry_ms),
                        strike: q.strike,
                        kind: q.kind,
                        entry: run[start].time_iso(),
                        exit: iso8601(obs[obs.len() - 1].time_ms),
                        n_obs: obs.len(),
                        settled: obs[obs.len() - 1].settled,
                        hedge_source: source.clone(),
                        entry_forward: o0.forward,
                        entry_t: e.t,
                        entry_k: (q.strike / o0.forward).ln(),
                        entry_vol: p.entry_vol,
                        entry_delta: o0.deltas.get(dk),
                        entry_mid_usd: o0.value,
                        entry_vega: o0.deltas.vega,
                        fallback_vols: p.fallback_vols,
                        model_marks: p.model_marks,
                        unhedged_usd: pnl.unhedged_usd,
                        unhedged_coin: pnl.unhedged_coin,
                        pnl_usd: pnl.pnl_usd,
                        pnl_coin: pnl.pnl_coin,
                        pnl_usd_net: pnl.pnl_usd_net,
                        pnl_coin_net: pnl.pnl_coin_net,
                        spread_usd: pnl.spread_usd,
                        fees_usd: pnl.fees_usd,
                        trades: pnl.trades,
                        turnover: pnl.turnover,
                    });
                }
            }
        }
    }
    out
}

struct PathInfo {
    entry_vol: f64,
    fallback_vols: usize,
    model_marks: usize,
}

/// Follows the option `q` of expiry `expiry_ms` from snapshot `start` through the run,
/// filling `obs` and `steps`; `None` when fewer than two observations result.
///
/// A snapshot where the option is missing from the cleaned chain (but its expiry is there)
/// is kept: the option is marked at the model price and hedged with the model delta. A path
/// ends when the expiry disappears, at the horizon, at settlement, or at the last snapshot
/// where the option was quoted.
#[allow(clippy::too_many_arguments)]
fn follow(
    run: &[&Snapshot],
    index: &[HashMap<&str, (usize, usize)>],
    expiry_iso: &[Vec<String>],
    smiles: &[BTreeMap<String, SmileTable>],
    steps: &RunSteps,
    start: usize,
    q0: &Quote,
    expiry_ms: i64,
    cfg: &HedgeConfig,
    obs: &mut Vec<Obs>,
    path_steps: &mut Vec<Step>,
    quoted: &mut Vec<bool>,
) -> Option<PathInfo> {
    obs.clear();
    path_steps.clear();
    quoted.clear();
    let mut info = PathInfo { entry_vol: f64::NAN, fallback_vols: 0, model_marks: 0 };
    let last_allowed = cfg.horizon.map_or(run.len() - 1, |h| (start + h).min(run.len() - 1));
    let mut prev_vol: Option<(f64, f64)> = None;
    let own_forward = |j: usize| {
        run[j]
            .expiries
            .iter()
            .position(|e| e.expiry_ms == expiry_ms)
            .map(|ei| (ei, run[j].expiries[ei].forward))
    };
    for j in start..=last_allowed {
        let snap = run[j];
        let Some((ei, _)) = own_forward(j) else { break };
        let e = &snap.expiries[ei];
        let q = index[j].get(q0.instrument.as_str()).map(|&(_, qi)| &e.quotes[qi]);
        let k = (q0.strike / e.forward).ln();
        // Exchange mark IV first: mid IVs of wide short-dated quotes are noisy.
        let market_iv = q.and_then(|q| q.mark_iv.or(q.mid_iv));
        let (vol, slope, fallback) = match model_vol(&smiles[j], &expiry_iso[j][ei], k, market_iv) {
            Some(v) => v,
            None => {
                let (v, s) = prev_vol?;
                (v, s, true)
            }
        };
        prev_vol = Some((vol, slope));
        info.fallback_vols += usize::from(fallback);
        let deltas = Deltas::new(q0.kind, e.forward, q0.strike, e.t, vol, slope);
        let (mid, mark) = (q.and_then(Quote::mid), q.and_then(|q| q.mark));
        let (value, marked) = match (cfg.marks, mid, mark) {
            (Marks::Exchange, _, Some(m)) | (Marks::Mid, Some(m), _) => (m, false),
            (_, Some(m), _) | (_, _, Some(m)) => (m, true),
            (_, None, None) => (deltas.price, true),
        };
        info.model_marks += usize::from(marked);
        let value_coin = match q.map(|q| (q.bid_coin, q.ask_coin)) {
            Some((Some(b), Some(a))) if !marked && cfg.marks == Marks::Mid => 0.5 * (a + b),
            _ => value / e.forward,
        };
        let side = |usd: Option<f64>, c: Option<f64>| -> Option<(f64, f64)> {
            usd.map(|u| (u, c.unwrap_or(u / e.forward)))
        };
        if j == start {
            info.entry_vol = vol;
        }
        quoted.push(q.is_some());
        obs.push(Obs {
            time_ms: snap.time_ms,
            forward: e.forward,
            value,
            value_coin,
            bid: q.and_then(|q| side(q.bid, q.bid_coin)),
            ask: q.and_then(|q| side(q.ask, q.ask_coin)),
            deltas,
            settled: false,
        });
        if j == last_allowed {
            break;
        }
        let next = run[j + 1];
        let mut step = steps.steps[j];
        let future = cfg.instrument == Instrument::Future || step.source == HedgeSource::Future;
        if expiry_ms <= next.time_ms {
            // Expires before the next snapshot: settle there on the index.
            let s = settlement_price(next);
            let payoff = (q0.kind.sign() * (s - q0.strike)).max(0.0);
            if future {
                step = Step { p0: e.forward, p1: s, source: HedgeSource::Future };
            }
            path_steps.push(step);
            quoted.push(true);
            obs.push(Obs {
                time_ms: next.time_ms,
                forward: s,
                value: payoff,
                value_coin: payoff / s,
                bid: None,
                ask: None,
                deltas: Deltas::default(),
                settled: true,
            });
            break;
        }
        let Some((_, f1)) = own_forward(j + 1) else { break };
        if future {
            step = Step { p0: e.forward, p1: f1, source: HedgeSource::Future };
        }
        path_steps.push(step);
    }
    // Exit at the last snapshot where the option was quoted.
    while quoted.last() == Some(&false) {
        quoted.pop();
        obs.pop();
        path_steps.pop();
    }
    (obs.len() >= 2 && path_steps.len() + 1 == obs.len()).then_some(info)
}

/// Settlement proxy of an expiry at a later snapshot: its index, else its nearest forward.
fn settlement_price(snap: &Snapshot) -> f64 {
    snap.index
        .filter(|v| v.is_finite() && *v > 0.0)
        .or_else(|| snap.expiries.first().map(|e| e.forward))
        .unwrap_or(f64::NAN)
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
                model: ps.first().map(|p| p.model.clone()).unwrap_or_default(),
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

    fn obs(f: f64, value: f64, delta: f64, settled: bool) -> Obs {
        Obs {
            time_ms: 0,
            forward: f,
            value,
            value_coin: value / f,
            bid: (!settled).then_some((value - 1.0, (value - 1.0) / f)),
            ask: (!settled).then_some((value + 1.0, (value + 1.0) / f)),
            deltas: Deltas { black: delta, ..Deltas::default() },
            settled,
        }
    }

    #[test]
    fn hand_worked_path() {
        // One call: F 100 → 110 → 120 (settles, payoff 20); marks 10, 15; deltas 0.5, 0.6.
        // Hedge −0.5 then −0.6 coins: USD −0.5·10 − 0.6·10 = −11; option +10 → gross −1.
        // Coin: option 20/120 − 10/100; hedge −0.5·10/110 − 0.6·10/120.
        // Fees: hedge taker 0.1 % of |0.5|·100 + |0.1|·110 + |0.6|·120 = 0.133 USD,
        // 0.001·1.2 coin; spread: bought at ask 11 vs mid 10 = 1 USD (0.01 coin).
        let o = [
            obs(100.0, 10.0, 0.5, false),
            obs(110.0, 15.0, 0.6, false),
            obs(120.0, 20.0, 0.0, true),
        ];
        let s = [
            Step { p0: 100.0, p1: 110.0, source: HedgeSource::Perpetual },
            Step { p0: 110.0, p1: 120.0, source: HedgeSource::Perpetual },
        ];
        let fees = FeeSchedule { hedge_taker: 0.001, ..FeeSchedule::zero() };
        let p = hedge_path(&o, &s, 1.0, DeltaKind::Black, None, &fees);
        let coin = 20.0 / 120.0 - 0.1 - 0.5 * 10.0 / 110.0 - 0.6 * 10.0 / 120.0;
        assert!((p.pnl_usd + 1.0).abs() < 1e-12);
        assert!((p.pnl_coin - coin).abs() < 1e-12);
        assert!((p.fees_usd - 0.133).abs() < 1e-12);
        assert!((p.spread_usd - 1.0).abs() < 1e-12);
        assert!((p.pnl_usd_net + 2.133).abs() < 1e-12);
        assert!((p.pnl_coin_net - (coin - 0.01 - 0.0012)).abs() < 1e-12);
        assert_eq!((p.trades, p.unhedged_usd), (3, 10.0));
        // A band of 0.2 coins skips the 0.1 rebalance: hedge −0.5 throughout, −10 USD.
        let b = hedge_path(&o, &s, 1.0, DeltaKind::Black, Some(0.2), &fees);
        assert!(b.pnl_usd.abs() < 1e-12);
        assert_eq!(b.trades, 2);
        // Short one option: every gross P&L flips sign (hedge flips with it).
        let short = hedge_path(&o, &s, -1.0, DeltaKind::Black, None, &FeeSchedule::zero());
        assert!((short.pnl_usd - 1.0).abs() < 1e-12);
    }

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
