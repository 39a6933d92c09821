//! Tail risk of each hedge method against the Black delta, per maturity bucket: the
//! expected shortfall `ES_0.975` of the hedged P&L (loss units, [`crate::risk`]) with a
//! bootstrap standard error and 95 % percentile interval, and the paired difference to
//! the `black` method on the same paths (`es_by_maturity.csv`, and `es_by_maturity` in
//! `hedge.json`).
//!
//! Buckets are [`maturity_bucket`] of the entry time to expiry (`<7d`, `7-30d`, `30-90d`,
//! `>=90d`). Every method hedges the same paths, so the difference is paired: one
//! bootstrap draw resamples paths, and both methods' ES are taken on the same draw
//! ([`RESAMPLES`] draws, seeded, thread-independent). A path enters a method's row when its
//! P&L is finite, and the difference only over paths where both are. ES of a few dozen
//! paths is the mean of one or two of them: read the interval, not the point.

use super::delta::DeltaKind;
use super::summary::PathRecord;
use crate::model::{maturity_bucket, MATURITY_BUCKETS};
use crate::risk::{RiskMeasure, Sample};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bootstrap draws per row.
pub const RESAMPLES: usize = 1000;
/// Seed of the bootstrap.
pub const SEED: u64 = 0x005e_ede5;
/// The ES level.
pub const ALPHA: f64 = 0.975;

/// One P&L column of a path record.
type Column = fn(&PathRecord) -> f64;

/// The P&L columns compared: `(name, value)`.
const COLUMNS: [(&str, Column); 4] = [
    ("pnl_usd", |p| p.pnl_usd),
    ("pnl_usd_net", |p| p.pnl_usd_net),
    ("pnl_coin", |p| p.pnl_coin),
    ("pnl_coin_net", |p| p.pnl_coin_net),
];

/// ES 97.5 % of one method, bucket and P&L column, against the Black delta.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EsRecord {
    /// Fit specification name.
    pub spec: String,
    /// Underlying.
    pub underlying: String,
    /// Maturity bucket of the entry time to expiry.
    pub maturity: &'static str,
    /// Hedge method.
    pub delta: DeltaKind,
    /// P&L column (`pnl_usd`, `pnl_usd_net`, `pnl_coin`, `pnl_coin_net`).
    pub pnl: &'static str,
    /// Paths with a finite P&L.
    pub paths: usize,
    /// `ES_0.975` of the P&L, loss units (larger = riskier).
    pub es975: f64,
    /// Bootstrap standard error of `es975`.
    pub es975_se: f64,
    /// Bootstrap 2.5 % quantile of `es975`.
    pub es975_lo95: f64,
    /// Bootstrap 97.5 % quantile of `es975`.
    pub es975_hi95: f64,
    /// Paths where this method and `black` both have a finite P&L (0 without `black`).
    pub paired: usize,
    /// `ES(method) − ES(black)` on the paired paths (negative: less tail risk than black).
    pub diff_vs_black: f64,
    /// Bootstrap standard error of the difference.
    pub diff_se: f64,
    /// Bootstrap 2.5 % quantile of the difference.
    pub diff_lo95: f64,
    /// Bootstrap 97.5 % quantile of the difference.
    pub diff_hi95: f64,
}

/// `ES_0.975` in loss units; NaN for an empty sample.
fn es(x: &[f64]) -> f64 {
    Sample::new(x.to_vec())
        .and_then(|s| RiskMeasure::Es { alpha: ALPHA }.eval(&s))
        .unwrap_or(f64::NAN)
}

/// Point value, standard error and 95 % percentile interval of `stat` over bootstrap draws
/// of the rows of `x` (paired values; `stat` gets both columns of the draw).
fn bootstrap(
    x: &[[f64; 2]],
    rng: &mut ChaCha8Rng,
    stat: impl Fn(&[f64], &[f64]) -> f64,
) -> [f64; 4] {
    let n = x.len();
    let (a, b): (Vec<f64>, Vec<f64>) = x.iter().map(|r| (r[0], r[1])).unzip();
    let point = stat(&a, &b);
    if n < 2 {
        return [point, f64::NAN, f64::NAN, f64::NAN];
    }
    let (mut da, mut db) = (vec![0.0; n], vec![0.0; n]);
    let mut draws = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for (a, b) in da.iter_mut().zip(db.iter_mut()) {
            [*a, *b] = x[rng.random_range(0..n)];
        }
        draws.push(stat(&da, &db));
    }
    let mean = draws.iter().sum::<f64>() / RESAMPLES as f64;
    let se =
        (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (RESAMPLES - 1) as f64).sqrt();
    draws.sort_by(f64::total_cmp);
    let q = |p: f64| draws[((p * RESAMPLES as f64) as usize).min(RESAMPLES - 1)];
    [point, se, q(0.025), q(0.975)]
}

/// A path: `(instrument, entry)`.
type PathKey<'a> = (&'a str, &'a str);
/// Each path's records by method.
type ByPath<'a> = BTreeMap<PathKey<'a>, BTreeMap<DeltaKind, &'a PathRecord>>;
/// `(spec, underlying, maturity bucket index in [`MATURITY_BUCKETS`])`: buckets in order.
type Group<'a> = (&'a str, &'a str, usize);

/// The ES table of `paths` (every method, bucket and P&L column).
pub fn es_by_maturity(paths: &[PathRecord]) -> Vec<EsRecord> {
    let mut groups: BTreeMap<Group, ByPath> = BTreeMap::new();
    for p in paths {
        let bucket = maturity_bucket(p.entry_t);
        let b = MATURITY_BUCKETS.iter().position(|m| *m == bucket).unwrap_or(0);
        let g = (p.spec.as_str(), p.underlying.as_str(), b);
        let k = (p.instrument.as_str(), p.entry.as_str());
        groups.entry(g).or_default().entry(k).or_default().insert(p.delta, p);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut out = Vec::new();
    for ((spec, und, bucket), by_path) in groups {
        let maturity = MATURITY_BUCKETS[bucket];
        let mut kinds: Vec<DeltaKind> = by_path.values().flat_map(|m| m.keys().copied()).collect();
        kinds.sort();
        kinds.dedup();
        for dk in kinds {
            for (pnl, col) in COLUMNS {
                let own: Vec<[f64; 2]> = by_path
                    .values()
                    .filter_map(|m| m.get(&dk).map(|p| col(p)))
                    .filter(|v| v.is_finite())
                    .map(|v| [v, 0.0])
                    .collect();
                let pairs: Vec<[f64; 2]> = by_path
                    .values()
                    .filter_map(|m| Some([col(m.get(&dk)?), col(m.get(&DeltaKind::Black)?)]))
                    .filter(|r| r[0].is_finite() && r[1].is_finite())
                    .collect();
                let [v, se, lo, hi] = bootstrap(&own, &mut rng, |a, _| es(a));
                let [d, dse, dlo, dhi] = if pairs.is_empty() {
                    [f64::NAN; 4]
                } else {
                    bootstrap(&pairs, &mut rng, |a, b| es(a) - es(b))
                };
                out.push(EsRecord {
                    spec: spec.to_string(),
                    underlying: und.to_string(),
                    maturity,
                    delta: dk,
                    pnl,
                    paths: own.len(),
                    es975: v,
                    es975_se: se,
                    es975_lo95: lo,
                    es975_hi95: hi,
                    paired: pairs.len(),
                    diff_vs_black: d,
                    diff_se: dse,
                    diff_lo95: dlo,
                    diff_hi95: dhi,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_of_a_constant_difference_is_exact_and_interval_covers_the_point() {
        // Method = black − 1 on every path: ES(method) = ES(black) + 1 on every draw, so
        // the difference is exactly 1 with zero spread.
        let x: Vec<[f64; 2]> =
            (0..200).map(|i| f64::from(i) * 0.37 % 11.0 - 5.0).map(|b| [b - 1.0, b]).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let [d, se, lo, hi] = bootstrap(&x, &mut rng, |a, b| es(a) - es(b));
        assert!(
            (d - 1.0).abs() < 1e-12
                && se < 1e-12
                && (lo - 1.0).abs() < 1e-12
                && (hi - 1.0).abs() < 1e-12
        );
        // ES of 1..=200 losses at 97.5 %: the mean of the worst 5 = 198 (risk module docs).
        let y: Vec<[f64; 2]> = (1..=200).map(|i| [-f64::from(i), 0.0]).collect();
        let [v, se, lo, hi] = bootstrap(&y, &mut rng, |a, _| es(a));
        assert!((v - 198.0).abs() < 1e-9, "{v}");
        assert!(se > 0.0 && lo <= v && v <= hi, "{se} {lo} {hi}");
    }
}
