//! Parameter stability across time: for every parameter series (spec × underlying ×
//! parameter × expiry) its standard deviation, lag-1 autocorrelation, the RMS of its
//! snapshot-to-snapshot changes and the number of jumps.
//!
//! A jump is a change larger than 5 times the median absolute change of its series, and
//! larger than 1e-6 in absolute terms.

use super::walk_forward::ParamPoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One row of `stability.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityRow {
    /// Grid position of the spec.
    pub spec_id: usize,
    /// Underlying coin.
    pub underlying: String,
    /// Parameter name.
    pub param: String,
    /// Expiry of a per-expiry parameter; empty for surface-wide ones.
    pub expiry: String,
    /// Snapshots with a value.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
    /// Lag-1 autocorrelation of the values (NaN with fewer than 3 values or no variance).
    pub autocorr_lag1: f64,
    /// RMS of changes between consecutive snapshots (NaN without any).
    pub rms_change: f64,
    /// `rms_change / (|mean| + 1e-8)`: scale-free day-to-day variation.
    pub rel_change: f64,
    /// Number of jumps.
    pub jumps: usize,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Statistics of one series `(step, value)` in step order.
fn series_stats(points: &[(usize, f64)]) -> (f64, f64, f64, f64, usize) {
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.1).sum::<f64>() / n;
    let var = points.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let denom: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let num: f64 = points.windows(2).map(|w| (w[0].1 - mean) * (w[1].1 - mean)).sum();
    let ac = if points.len() >= 3 && denom > 0.0 { num / denom } else { f64::NAN };
    let changes: Vec<f64> =
        points.windows(2).filter(|w| w[1].0 == w[0].0 + 1).map(|w| w[1].1 - w[0].1).collect();
    let rms = (changes.iter().map(|d| d * d).sum::<f64>() / changes.len() as f64).sqrt();
    let mut abs: Vec<f64> = changes.iter().map(|d| d.abs()).collect();
    let typical = median(&mut abs);
    let jumps = changes.iter().filter(|d| d.abs() > 1e-6 && d.abs() > 5.0 * typical).count();
    let jumps = if changes.len() < 3 { 0 } else { jumps };
    (mean, var.sqrt(), ac, rms, jumps)
}

/// Stability statistics of every parameter series in `points`.
pub fn stability(points: &[ParamPoint]) -> Vec<StabilityRow> {
    type Key<'a> = (usize, &'a str, &'a str, &'a str);
    let mut groups: BTreeMap<Key<'_>, Vec<(usize, f64)>> = BTreeMap::new();
    for p in points.iter().filter(|p| p.value.is_finite()) {
        groups
            .entry((p.spec_id, p.underlying.as_str(), p.param.as_str(), p.expiry.as_str()))
            .or_default()
            .push((p.step, p.value));
    }
    groups
        .into_iter()
        .map(|((spec_id, underlying, param, expiry), mut pts)| {
            pts.sort_by_key(|p| p.0);
            let (mean, std, autocorr_lag1, rms_change, jumps) = series_stats(&pts);
            StabilityRow {
                spec_id,
                underlying: underlying.to_string(),
                param: param.to_string(),
                expiry: expiry.to_string(),
                n: pts.len(),
                mean,
                std,
                autocorr_lag1,
                rms_change,
                rel_change: rms_change / (mean.abs() + 1e-8),
                jumps,
            }
        })
        .collect()
}

/// Median scale-free variation (`rel_change`) over a spec's series with at least two values,
/// and its total jump count.
pub fn spec_variation(rows: &[StabilityRow], spec_id: usize) -> (f64, usize) {
    let mut v: Vec<f64> = rows
        .iter()
        .filter(|r| r.spec_id == spec_id && r.rel_change.is_finite())
        .map(|r| r.rel_change)
        .collect();
    let jumps = rows.iter().filter(|r| r.spec_id == spec_id).map(|r| r.jumps).sum();
    (median(&mut v), jumps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(values: &[f64]) -> Vec<ParamPoint> {
        values
            .iter()
            .enumerate()
            .map(|(step, &value)| ParamPoint {
                spec_id: 0,
                underlying: "BTC".into(),
                snapshot: String::new(),
                step,
                param: "rho".into(),
                expiry: String::new(),
                value,
            })
            .collect()
    }

    #[test]
    fn statistics_of_a_known_series() {
        // 1, 2, 1, 2: mean 1.5, sample std √(1/3), changes ±1 → RMS 1; lag-1 autocorrelation
        // Σ(x_t−x̄)(x_{t+1}−x̄)/Σ(x_t−x̄)² = (3·(−0.25))/1 = −0.75 (hand computation).
        let r = &stability(&pts(&[1.0, 2.0, 1.0, 2.0]))[0];
        assert_eq!(r.n, 4);
        assert!((r.mean - 1.5).abs() < 1e-15);
        assert!((r.std - (1.0_f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((r.autocorr_lag1 + 0.75).abs() < 1e-15);
        assert!((r.rms_change - 1.0).abs() < 1e-15);
        assert_eq!(r.jumps, 0);
    }

    #[test]
    fn one_jump_in_a_smooth_series_is_counted() {
        // Changes of ~0.01 with one change of 1.0: one jump by construction.
        let mut v: Vec<f64> =
            (0..20).map(|i| 0.01 * f64::from(i) + 0.001 * f64::from((i * 7) % 3)).collect();
        for x in v.iter_mut().skip(10) {
            *x += 1.0;
        }
        let r = &stability(&pts(&v))[0];
        assert_eq!(r.jumps, 1);
    }
}
