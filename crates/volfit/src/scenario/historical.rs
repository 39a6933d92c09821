//! Historical block bootstrap: per-step changes of each coin's log forward and 30-day ATM
//! vol between consecutive snapshots (BTC and ETH aligned in time), resampled to the
//! horizon and applied to the valuation surfaces.

use super::surface::Priced;
use super::{Coin, CoinSurface, ScenarioConfig, ScenarioError};
use crate::market::Snapshot;
use crate::risk::Scenarios;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// 30 days in years: the tenor of the ATM vol whose changes are bootstrapped.
const TENOR: f64 = 30.0 / 365.0;
/// Snapshots of different coins closer than this (ms) count as simultaneous.
const ALIGN_MS: i64 = 30 * 60 * 1000;

/// One historical step: hours elapsed, and per coin (Δ ln forward, Δ ATM vol).
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub hours: f64,
    pub moves: Vec<(f64, f64)>,
}

/// Level of a snapshot: (ln coin price, 30-day ATM vol from two-sided mid IVs nearest the
/// money, total variance interpolated linearly in t).
fn level(s: &Snapshot) -> Option<(f64, f64)> {
    let mut pts: Vec<(f64, f64, f64)> = Vec::new(); // (t, vol, forward)
    for e in &s.expiries {
        let q = e.quotes.iter().filter(|q| q.mid_iv.is_some_and(|v| v > 0.0)).min_by(|a, b| {
            (a.strike / e.forward).ln().abs().total_cmp(&(b.strike / e.forward).ln().abs())
        })?;
        pts.push((e.t, q.mid_iv?, e.forward));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let price = s.index.filter(|v| *v > 0.0).or_else(|| {
        pts.iter().min_by(|a, b| (a.0 - TENOR).abs().total_cmp(&(b.0 - TENOR).abs())).map(|p| p.2)
    })?;
    let (first, last) = (pts.first()?, pts.last()?);
    let vol = if TENOR <= first.0 {
        first.1
    } else if TENOR >= last.0 {
        last.1
    } else {
        let i = pts.iter().position(|p| p.0 >= TENOR)?;
        let (a, b) = (pts[i - 1], pts[i]);
        let (wa, wb) = (a.1 * a.1 * a.0, b.1 * b.1 * b.0);
        ((wa + (wb - wa) * (TENOR - a.0) / (b.0 - a.0)) / TENOR).max(0.0).sqrt()
    };
    (price.is_finite() && vol.is_finite()).then(|| (price.ln(), vol))
}

/// Aligned historical steps of `coins` (in that order).
pub(crate) fn steps(coins: &[Coin], snapshots: &[Snapshot], max_step_hours: f64) -> Vec<Step> {
    let series: Vec<Vec<(i64, (f64, f64))>> = coins
        .iter()
        .map(|c| {
            let name = c.to_string();
            let mut v: Vec<(i64, (f64, f64))> = snapshots
                .iter()
                .filter(|s| s.underlying.eq_ignore_ascii_case(&name))
                .filter_map(|s| level(s).map(|l| (s.time_ms, l)))
                .collect();
            v.sort_by_key(|p| p.0);
            v.dedup_by_key(|p| p.0);
            v
        })
        .collect();
    let Some(base) = series.first() else { return Vec::new() };
    // Grid: times of the first coin at which every coin has a snapshot within ALIGN_MS.
    let grid: Vec<(i64, Vec<(f64, f64)>)> = base
        .iter()
        .filter_map(|&(t, _)| {
            let levels: Option<Vec<(f64, f64)>> = series
                .iter()
                .map(|s| {
                    s.iter()
                        .filter(|p| (p.0 - t).abs() <= ALIGN_MS)
                        .min_by_key(|p| (p.0 - t).abs())
                        .map(|p| p.1)
                })
                .collect();
            levels.map(|l| (t, l))
        })
        .collect();
    grid.windows(2)
        .filter_map(|w| {
            let hours = (w[1].0 - w[0].0) as f64 / 3.6e6;
            (hours > 0.0 && hours <= max_step_hours).then(|| Step {
                hours,
                moves: w[0].1.iter().zip(&w[1].1).map(|(a, b)| (b.0 - a.0, b.1 - a.1)).collect(),
            })
        })
        .collect()
}

/// Bootstrapped P&L matrix and its provenance.
pub(crate) fn scenarios(
    priced: &[Priced],
    surfaces: &[CoinSurface],
    snapshots: &[Snapshot],
    cfg: &ScenarioConfig,
    horizon: f64,
) -> Result<(Scenarios, Option<Vec<f64>>, String), ScenarioError> {
    let coins: Vec<Coin> = surfaces.iter().map(|s| s.coin).collect();
    let steps = steps(&coins, snapshots, cfg.max_step_hours);
    if steps.len() < 2 {
        return Err(ScenarioError::Data(format!(
            "historical scenarios need at least 3 snapshots of {} aligned in time with gaps \
             ≤ {} h; found {} steps (use kind = \"heston\" for a single snapshot)",
            coins.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" and "),
            cfg.max_step_hours,
            steps.len()
        )));
    }
    let mut gaps: Vec<f64> = steps.iter().map(|s| s.hours).collect();
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    let n_h = (horizon * 365.0 * 24.0 / median).round() as usize;
    let cols = priced.len();
    let n = steps.len();
    // Draw every scenario's step indices (one ChaCha stream per scenario), then merge
    // scenarios made of the same multiset of steps: their P&L is the same, so one row with
    // the summed probability gives exactly the same risk and reward (and a far smaller LP).
    let draws: Vec<Vec<u32>> = (0..cfg.count)
        .into_par_iter()
        .map(|row| {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(row as u64);
            let mut idx = Vec::with_capacity(n_h);
            while idx.len() < n_h {
                let start = rng.random_range(0..n);
                for b in 0..cfg.block.min(n_h - idx.len()) {
                    idx.push(((start + b) % n) as u32);
                }
            }
            idx.sort_unstable();
            idx
        })
        .collect();
    let mut distinct: std::collections::BTreeMap<Vec<u32>, usize> = Default::default();
    for d in draws {
        *distinct.entry(d).or_default() += 1;
    }
    let keys: Vec<(&Vec<u32>, usize)> = distinct.iter().map(|(k, &c)| (k, c)).collect();
    let mut data = vec![0.0; keys.len() * cols];
    data.par_chunks_mut(cols).zip(&keys).for_each(|(out, (idx, _))| {
        let mut acc = vec![(0.0, 0.0); coins.len()];
        for &i in idx.iter() {
            for (a, m) in acc.iter_mut().zip(&steps[i as usize].moves) {
                a.0 += m.0;
                a.1 += m.1;
            }
        }
        for (o, p) in out.iter_mut().zip(priced) {
            let (dx, dv) = acc[p.surface];
            *o = p.pnl(&surfaces[p.surface], dx.exp(), 1.0, dv, horizon);
        }
    });
    let probs: Vec<f64> = keys.iter().map(|&(_, c)| c as f64 / cfg.count as f64).collect();
    let pnl = Scenarios::new(data, keys.len(), cols)
        .map_err(|e| ScenarioError::Data(format!("historical scenarios: {e}")))?;
    let prov = format!(
        "historical block bootstrap: {} draws merged into {} distinct weighted scenarios, \
         horizon {} = {n_h} steps of median {:.1} h (block {}), from {} aligned steps of {}; \
         seed {}",
        cfg.count,
        keys.len(),
        cfg.horizon,
        median,
        cfg.block,
        n,
        coins.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("+"),
        cfg.seed
    );
    Ok((pnl, Some(probs), prov))
}
