//! The delta-hedging backtest: hold an option over consecutive snapshots, re-fit the smile at
//! each one (warm start), hedge its model delta with the perpetual (or the matching future),
//! and account the P&L in USD and in coin, gross and net of spread and fees.
//!
//! Accounting: [`super::accounting`]; outputs and summaries: [`super::summary`].
//!
//! ## Hedge prices
//! Every step takes both of its prices from one source so that no basis jump enters the
//! P&L: the perpetual when both snapshots have a perpetual price (matched by coin and time),
//! otherwise the forward of the nearest expiry alive at both snapshots (the output says so),
//! or with [`Instrument::Future`] the option's own expiry forward. Steps hedged in the
//! perpetual accrue funding ([`super::funding`]).
//!
//! ## Entries and exits
//! An option is entered at a snapshot where it is two-sided and passes the liquidity
//! filter ([`super::liquidity`]); its exit is fixed by what is known then: the horizon, the
//! end of the run of snapshots, or settlement. Nothing about later quotes decides it: a
//! snapshot where the option is not quoted marks it at the exchange mark or the model
//! price, and an exit there closes at that mark (`exit_quoted = false`). When its expiry
//! vanishes from a snapshot before expiring, the path closes there at the model price on
//! the forward carried by the hedge price (`F·P₁/P₀`).

use super::accounting::{hedge_path, hedge_path_with, Obs, Step};
use super::compare::es_by_maturity;
use super::config::{Entry, HedgeConfig, HedgeSource, Instrument, Marks};
use super::delta::DeltaKind;
use super::delta::{Deltas, HedgeSmiles};
use super::funding::FundingHistory;
use super::policy::{PathPolicy, PolicyPath};
use super::summary::{bucket_summaries, summarise, HedgeCounts, HedgeOutput, PathRecord};
use crate::fit::{Carry, FitSpec, SeriesFit, SnapshotResult};
use crate::market::PerpPrice;
use crate::market::{iso8601, year_fraction, Quote, Snapshot};
use crate::model::ModelKind;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// Hedge prices of the steps of one run of snapshots of one underlying.
struct RunSteps {
    /// Per step: both hedge prices and their source (the perpetual, else a fallback);
    /// with [`Instrument::Future`] the option's own forward replaces them.
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

/// Funding of one underlying: the history and the constant rate beside it; accumulates the
/// time the history does not cover.
struct FundingSource<'a> {
    history: &'a FundingHistory,
    coin: &'a str,
    rate_8h: f64,
    uncovered_ms: i64,
}

impl FundingSource<'_> {
    fn accrued(&mut self, t0: i64, t1: i64) -> f64 {
        let (phi, gap) = self.history.accrued(self.coin, t0, t1, self.rate_8h);
        self.uncovered_ms += gap;
        phi
    }
}

fn run_steps(
    run: &[&Snapshot],
    perps: &[&PerpPrice],
    tol_ms: i64,
    funding: &mut FundingSource,
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
            (Some(p0), Some(p1)) => {
                let funding = funding.accrued(a.time_ms, b.time_ms);
                Step { p0, p1, source: HedgeSource::Perpetual, funding }
            }
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
                        Step { p0, p1, source: HedgeSource::NearestForward, funding: 0.0 }
                    }
                    None => {
                        notices.push(format!(
                            "{} {} -> {}: no perpetual price and no common expiry; \
                             hedged with each option's own forward",
                            a.underlying,
                            a.time_iso(),
                            b.time_iso()
                        ));
                        Step {
                            p0: f64::NAN,
                            p1: f64::NAN,
                            source: HedgeSource::Future,
                            funding: 0.0,
                        }
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
    smiles: &HedgeSmiles,
    expiry_ms: i64,
    k: f64,
    market_iv: Option<f64>,
) -> Option<(f64, f64, bool)> {
    match smiles.at(expiry_ms, k) {
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

/// The fitted model of a snapshot fit `r` of `snap` under `spec`, with the `k`-range of
/// the quotes fitted on each expiry.
fn hedge_smiles(snap: &Snapshot, spec: &FitSpec, r: &SnapshotResult) -> HedgeSmiles {
    let expiry_ms: HashMap<String, i64> =
        snap.expiries.iter().map(|e| (iso8601(e.expiry_ms), e.expiry_ms)).collect();
    let points = r
        .residuals
        .iter()
        .filter(|row| row.model_iv.is_finite() && row.model_iv > 0.0)
        .filter_map(|row| expiry_ms.get(&row.expiry).map(|&ms| (ms, row.k)));
    HedgeSmiles::new(r.fitted(snap, spec), points)
}

/// One underlying under one spec: the fitted model per snapshot of each run.
struct SpecFits {
    spec: String,
    model: ModelKind,
    underlying: String,
    runs: Vec<Vec<HedgeSmiles>>,
    skipped: Vec<String>,
}

fn fit_runs(runs: &[Vec<&Snapshot>], name: &str, spec: &FitSpec) -> SpecFits {
    // A snapshot with nothing fitted leaves the warm start as it was.
    let mut series = SeriesFit::new(spec).carry(Carry::LastFitted);
    let mut skipped = Vec::new();
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let mut smiles = Vec::with_capacity(run.len());
        for snap in run {
            let r = series.fit(snap);
            if r.residuals.is_empty() {
                skipped.push(format!(
                    "{} {} spec {name}: nothing fitted ({}); market IVs used",
                    snap.underlying,
                    snap.time_iso(),
                    r.fit.skipped.join("; ")
                ));
            }
            smiles.push(hedge_smiles(snap, spec, &r));
        }
        out.push(smiles);
    }
    SpecFits {
        spec: name.to_string(),
        model: spec.model,
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
/// `perps` and the configured constant funding rate.
pub fn backtest(snapshots: &[Snapshot], perps: &[PerpPrice], cfg: &HedgeConfig) -> HedgeOutput {
    backtest_funded(snapshots, perps, &FundingHistory::default(), cfg)
}

/// [`backtest()`] with perpetual funding from `funding` where it has rates for a coin (the
/// configured constant rate elsewhere).
pub fn backtest_funded(
    snapshots: &[Snapshot],
    perps: &[PerpPrice],
    funding: &FundingHistory,
    cfg: &HedgeConfig,
) -> HedgeOutput {
    backtest_policy(snapshots, perps, funding, cfg, None)
}

/// [`backtest_funded`] with a trained `policy` as the hedge method [`DeltaKind::Policy`]
/// (when `cfg.deltas` lists it; without a policy that method is skipped with a notice).
pub fn backtest_policy(
    snapshots: &[Snapshot],
    perps: &[PerpPrice],
    funding: &FundingHistory,
    cfg: &HedgeConfig,
    policy: Option<&dyn PathPolicy>,
) -> HedgeOutput {
    let mut notices = Vec::new();
    if cfg.deltas.contains(&DeltaKind::Policy) {
        match policy {
            Some(p) => notices.extend(p.notices(cfg.quantity)),
            None => notices.push("delta `policy` listed without a policy file: skipped".into()),
        }
    }
    let mut counts = HedgeCounts::default();
    let mut funding_lines = BTreeMap::new();
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
        let rate_8h = cfg.funding.rate_8h();
        let mut fs = FundingSource { history: funding, coin: und, rate_8h, uncovered_ms: 0 };
        let steps: Vec<RunSteps> =
            runs.iter().map(|r| run_steps(r, &coin_perps, tol_ms, &mut fs, &mut notices)).collect();
        funding_lines.insert(und.to_string(), cfg.funding.describe(und, funding));
        if funding.hours(und) > 0 && fs.uncovered_ms > 0 {
            notices.push(format!(
                "{und}: the funding history leaves {:.1} h of perpetual steps uncovered; \
                 charged at {} per 8 h there",
                fs.uncovered_ms as f64 / 3.6e6,
                rate_8h
            ));
        }
        counts.liquidity_excluded.insert(und.to_string(), liquidity_excluded(&runs, cfg));
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
    let fitted: Vec<(usize, SpecFits)> =
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
                .flat_map(|((run, st), smiles)| run_paths(run, st, smiles, f, cfg, policy))
                .collect::<Vec<_>>()
        })
        .collect();
    for (runs, steps) in &groups {
        let und = runs.first().and_then(|r| r.first()).map(|s| s.underlying.clone());
        let entry = counts.steps_by_source.entry(und.unwrap_or_default()).or_default();
        for st in steps.iter().flat_map(|s| &s.steps) {
            // The instrument actually traded: with futures every step uses the option's own.
            let used = match cfg.instrument {
                Instrument::Future => HedgeSource::Future,
                Instrument::Perpetual => st.source,
            };
            *entry.entry(used.name().to_string()).or_default() += 1;
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
    let es_by_maturity = es_by_maturity(&paths);
    notices.sort();
    notices.dedup();
    HedgeOutput {
        config: cfg.clone(),
        liquidity_filter: cfg.liquidity.describe(),
        funding: funding_lines,
        counts,
        notices,
        summary,
        buckets,
        es_by_maturity,
        policy: policy.map(PathPolicy::describe),
        paths,
    }
}

/// Options of one underlying that were two-sided at some snapshot before the last of their
/// run but never passed the liquidity filter there (never entered because of it).
fn liquidity_excluded(runs: &[Vec<&Snapshot>], cfg: &HedgeConfig) -> usize {
    let mut candidates: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut admitted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for run in runs {
        for snap in &run[..run.len().saturating_sub(1)] {
            for e in snap.expiries.iter().filter(|e| e.t > 0.0) {
                for q in e.quotes.iter().filter(|q| q.two_sided()) {
                    candidates.insert(q.instrument.as_str());
                    if cfg.liquidity.admits(q, e) {
                        admitted.insert(q.instrument.as_str());
                    }
                }
            }
        }
    }
    candidates.difference(&admitted).count()
}

/// Every path of one run under one spec, for each configured delta kind.
fn run_paths(
    run: &[&Snapshot],
    steps: &RunSteps,
    smiles: &[HedgeSmiles],
    f: &SpecFits,
    cfg: &HedgeConfig,
    policy: Option<&dyn PathPolicy>,
) -> Vec<PathRecord> {
    let ctx =
        RunContext { run, index: run.iter().map(|s| index_of(s)).collect(), smiles, steps, cfg };
    let mut out = Vec::new();
    let mut started: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut buf = PathBuffers::default();
    for (start, snap) in run.iter().enumerate() {
        for e in &snap.expiries {
            for q in &e.quotes {
                if cfg.entry == Entry::First && started.contains(q.instrument.as_str()) {
                    continue;
                }
                if !q.two_sided() || e.t <= 0.0 || !cfg.liquidity.admits(q, e) {
                    continue;
                }
                let Some(p) = ctx.follow(start, q, e.expiry_ms, &mut buf) else {
                    continue;
                };
                started.insert(q.instrument.as_str());
                let (obs, path_steps) = (&buf.obs, &buf.steps);
                let o0 = obs[0];
                let sources: std::collections::BTreeSet<&str> =
                    path_steps.iter().map(|s| s.source.name()).collect();
                let source = if sources.len() == 1 {
                    sources.iter().next().copied().unwrap_or("mixed").to_string()
                } else {
                    "mixed".to_string()
                };
                for &dk in &cfg.deltas {
                    let (qty, band, fees) = (cfg.quantity, cfg.band, &cfg.fees);
                    let (pnl, entry_delta) = match (dk, policy) {
                        (DeltaKind::Policy, None) => continue,
                        (DeltaKind::Policy, Some(pol)) => {
                            let path = PolicyPath {
                                kind: q.kind,
                                strike: q.strike,
                                expiry_ms: e.expiry_ms,
                                qty,
                            };
                            let mut hedger = pol.hedger(path, obs);
                            let mut first = f64::NAN;
                            let pnl =
                                hedge_path_with(obs, path_steps, qty, band, fees, |i, o, s, h| {
                                    let t = hedger(i, o, s, h);
                                    if i == 0 {
                                        first = t / (-qty * pol.instrument_ratio(o.forward, s.p0));
                                    }
                                    t
                                });
                            (pnl, first)
                        }
                        _ => (hedge_path(obs, path_steps, qty, dk, band, fees), o0.deltas.get(dk)),
                    };
                    out.push(PathRecord {
                        spec: f.spec.clone(),
                        model: f.model,
                        delta: dk,
                        underlying: f.underlying.clone(),
                        instrument: q.instrument.clone(),
                        expiry: iso8601(e.expiry_ms),
                        strike: q.strike,
                        kind: q.kind,
                        entry: snap.time_iso(),
                        exit: iso8601(obs[obs.len() - 1].time_ms),
                        n_obs: obs.len(),
                        settled: obs[obs.len() - 1].settled,
                        hedge_source: source.clone(),
                        entry_forward: o0.forward,
                        entry_t: q.t,
                        entry_k: (q.strike / o0.forward).ln(),
                        entry_vol: p.entry_vol,
                        entry_delta,
                        entry_mid_usd: o0.value,
                        entry_vega: o0.deltas.vega,
                        fallback_vols: p.fallback_vols,
                        model_marks: p.model_marks,
                        exit_quoted: p.exit_quoted,
                        funding_usd: pnl.funding_usd,
                        funding_coin: pnl.funding_coin,
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
                        pnl_delta_usd: pnl.pnl_delta_usd,
                        pnl_gamma_usd: pnl.pnl_gamma_usd,
                        pnl_theta_usd: pnl.pnl_theta_usd,
                        pnl_vega_usd: pnl.pnl_vega_usd,
                        pnl_unexplained_usd: pnl.pnl_unexplained_usd,
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
    /// The exit traded at a two-sided quote (or settled).
    exit_quoted: bool,
}

/// One run of snapshots of one underlying under one spec, ready for following options: the
/// quotes' locations per snapshot, the fitted smiles, the hedge
/// prices and the configuration.
struct RunContext<'a> {
    run: &'a [&'a Snapshot],
    /// Per snapshot: instrument → `(expiry index, quote index)`.
    index: Vec<HashMap<&'a str, (usize, usize)>>,
    /// Per snapshot: the fitted model's smiles.
    smiles: &'a [HedgeSmiles],
    steps: &'a RunSteps,
    cfg: &'a HedgeConfig,
}

/// The observations and hedge steps of the path being followed, reused from path to path.
#[derive(Default)]
struct PathBuffers {
    obs: Vec<Obs>,
    steps: Vec<Step>,
}

impl RunContext<'_> {
    /// Follows the option `q0` of expiry `expiry_ms` from snapshot `start` through the run,
    /// filling `buf`; `None` when fewer than two observations result.
    ///
    /// The exit is the horizon, the end of the run or settlement, all known at entry. A
    /// snapshot where the option is missing from the cleaned chain (its expiry present) is
    /// kept: the option is marked at the model price and hedged with the model delta. A
    /// snapshot without the expiry (before it expires) closes the path there at the model
    /// price ([`Self::close_on_vanished_expiry`]).
    fn follow(
        &self,
        start: usize,
        q0: &Quote,
        expiry_ms: i64,
        buf: &mut PathBuffers,
    ) -> Option<PathInfo> {
        let RunContext { run, index, smiles, steps, cfg } = self;
        let PathBuffers { obs, steps: path_steps } = buf;
        obs.clear();
        path_steps.clear();
        let mut info =
            PathInfo { entry_vol: f64::NAN, fallback_vols: 0, model_marks: 0, exit_quoted: true };
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
            // The quote's own forward and time to expiry (a book polled over minutes has
            // one per row; its IVs and coin prices belong to them), else the expiry's.
            let (fwd, t) = q.map_or((e.forward, e.t), |q| (q.row_forward, q.t));
            let k = (q0.strike / fwd).ln();
            // Exchange mark IV first: mid IVs of wide short-dated quotes are noisy.
            let market_iv = q.and_then(|q| q.mark_iv.or(q.mid_iv));
            let (vol, slope, fallback) = match model_vol(&smiles[j], expiry_ms, k, market_iv) {
                Some(v) => v,
                None => {
                    let (v, s) = prev_vol?;
                    (v, s, true)
                }
            };
            prev_vol = Some((vol, slope));
            info.fallback_vols += usize::from(fallback);
            let deltas = Deltas::new(q0.kind, fwd, q0.strike, t, vol, slope);
            let (mid, mark) = (q.and_then(Quote::mid), q.and_then(|q| q.mark));
            let (value, marked) = match (cfg.marks, mid, mark) {
                (Marks::Exchange, _, Some(m)) | (Marks::Mid, Some(m), _) => (m, false),
                (_, Some(m), _) | (_, _, Some(m)) => (m, true),
                (_, None, None) => (deltas.price, true),
            };
            info.model_marks += usize::from(marked);
            let value_coin = match q.map(|q| (q.bid_coin, q.ask_coin)) {
                Some((Some(b), Some(a))) if !marked && cfg.marks == Marks::Mid => 0.5 * (a + b),
                _ => value / fwd,
            };
            let side = |usd: Option<f64>, c: Option<f64>| -> Option<(f64, f64)> {
                usd.map(|u| (u, c.unwrap_or(u / fwd)))
            };
            if j == start {
                info.entry_vol = vol;
            }
            info.exit_quoted = q.is_some_and(Quote::two_sided);
            obs.push(Obs {
                time_ms: snap.time_ms,
                forward: fwd,
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
                    step = Step { p0: fwd, p1: s, source: HedgeSource::Future, funding: 0.0 };
                }
                path_steps.push(step);
                info.exit_quoted = true;
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
            let Some((_, f1)) = own_forward(j + 1) else {
                let last = obs[obs.len() - 1];
                if let Some((st, o)) =
                    close_on_vanished_expiry(q0, step, &last, next, expiry_ms, vol, future)
                {
                    path_steps.push(st);
                    obs.push(o);
                    info.model_marks += 1;
                    info.exit_quoted = false;
                }
                break;
            };
            if future {
                // The option's own forward at the next observation when it is quoted there.
                let q1 = index[j + 1].get(q0.instrument.as_str());
                let f1 = q1.map_or(f1, |&(ei, qi)| next.expiries[ei].quotes[qi].row_forward);
                step = Step { p0: fwd, p1: f1, source: HedgeSource::Future, funding: 0.0 };
            }
            path_steps.push(step);
        }
        (obs.len() >= 2 && path_steps.len() + 1 == obs.len()).then_some(info)
    }
}

/// The expiry of a held option is missing from snapshot `next` before it expires: the path
/// closes there at the model price (vol `vol` of the last observation `last`) on the
/// forward carried by the step's hedge prices, `F·P₁/P₀`. `None` when the step has no
/// hedge prices of its own (no perpetual and no common expiry): the path then ends at
/// `last`.
fn close_on_vanished_expiry(
    q0: &Quote,
    step: Step,
    last: &Obs,
    next: &Snapshot,
    expiry_ms: i64,
    vol: f64,
    future: bool,
) -> Option<(Step, Obs)> {
    let (p0, p1) = (step.p0, step.p1);
    if !(p0 > 0.0 && p1 > 0.0 && p0.is_finite() && p1.is_finite()) {
        return None;
    }
    let f1 = last.forward * p1 / p0;
    let t = year_fraction(next.time_ms, expiry_ms);
    let deltas = Deltas::new(q0.kind, f1, q0.strike, t, vol, 0.0);
    let step = if future {
        Step { p0: last.forward, p1: f1, source: HedgeSource::Future, funding: 0.0 }
    } else {
        step
    };
    let obs = Obs {
        time_ms: next.time_ms,
        forward: f1,
        value: deltas.price,
        value_coin: deltas.price / f1,
        bid: None,
        ask: None,
        deltas,
        settled: false,
    };
    Some((step, obs))
}

/// Settlement proxy of an expiry at a later snapshot: its index, else its nearest forward.
fn settlement_price(snap: &Snapshot) -> f64 {
    snap.index
        .filter(|v| v.is_finite() && *v > 0.0)
        .or_else(|| snap.expiries.first().map(|e| e.forward))
        .unwrap_or(f64::NAN)
}
