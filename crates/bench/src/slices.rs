//! Real Deribit slices for the fit benchmarks: snapshots read and cleaned by
//! `volfit::market`, quotes chosen by `volfit::fit::select_targets` under a permissive filter
//! (two-sided out-of-the-money quotes, every expiry with at least `min_quotes` of them), so
//! that every peer sees exactly the same quotes.

use std::path::{Path, PathBuf};
use volfit::fit::{select_targets, FitSpec, ModelKind, QuoteFilter};
use volfit::market::{build, read_path, ReadOptions, Snapshot};
use volfit::objective::Target;

/// The svcj 2026 data folder (`<workspace>/../shared/data/svcj_deribit_2026`), if present.
pub fn svcj_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/svcj_deribit_2026");
    dir.is_dir().then_some(dir)
}

/// The first `n` svcj snapshot files (`deribit_options_snapshot_*.csv.gz`), in name (time)
/// order.
///
/// # Errors
/// When the data folder is missing or cannot be listed.
pub fn svcj_files(n: usize) -> Result<Vec<PathBuf>, String> {
    let dir = svcj_dir().ok_or("real data ../shared/data/svcj_deribit_2026 not found")?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with("deribit_options_snapshot_") && name.ends_with(".csv.gz")
        })
        .collect();
    paths.sort();
    paths.truncate(n);
    Ok(paths)
}

/// All snapshots (one per underlying) of one file, cleaned with the default configuration.
pub fn load_snapshots(path: &Path) -> Result<Vec<Snapshot>, String> {
    let opts = ReadOptions::default();
    let mut out = Vec::new();
    read_path(path, &opts, &mut |raw| {
        out.push(build(raw, &opts.clean).snapshot);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The benchmark's fit specification for `model`: least squares in implied vol, uniform
/// weights, Levenberg–Marquardt, one start; the quote filter only keeps two-sided
/// out-of-the-money quotes (the objective of the peers' `trf_linear` runs), expiries with at
/// least `min_quotes` of them.
pub fn bench_spec(model: ModelKind, min_quotes: usize) -> FitSpec {
    FitSpec {
        model,
        filter: QuoteFilter {
            max_std_moneyness: f64::INFINITY,
            otm_only: true,
            min_open_interest: 0.0,
            max_spread_iv: f64::INFINITY,
            min_quotes,
            min_t: 0.0,
        },
        ..FitSpec::default()
    }
}

/// One expiry's benchmark quotes.
#[derive(Clone, Debug)]
pub struct Slice {
    /// Underlying coin.
    pub underlying: String,
    /// Years to expiry.
    pub t: f64,
    /// Forward (USD).
    pub forward: f64,
    /// The quotes (all with a mid IV).
    pub targets: Vec<Target>,
    /// `(strike, mid IV)` pairs: volsurf's input.
    pub pairs: Vec<(f64, f64)>,
}

impl Slice {
    /// Log-moneyness of each quote.
    pub fn ks(&self) -> Vec<f64> {
        self.targets.iter().map(|q| q.k).collect()
    }

    /// Mid IV of each quote.
    pub fn mids(&self) -> Vec<f64> {
        self.targets.iter().map(|q| q.mid_iv.unwrap_or(f64::NAN)).collect()
    }
}

/// The slices of one snapshot under `spec` (expiries with fewer quotes dropped).
pub fn slices(snap: &Snapshot, spec: &FitSpec) -> Vec<Slice> {
    snap.expiries
        .iter()
        .filter_map(|e| {
            let targets: Vec<Target> =
                select_targets(e, spec).into_iter().filter(|q| q.mid_iv.is_some()).collect();
            if targets.len() < spec.filter.min_quotes.max(1) {
                return None;
            }
            let pairs = targets.iter().map(|q| (q.strike, q.mid_iv.unwrap_or(f64::NAN))).collect();
            Some(Slice {
                underlying: snap.underlying.clone(),
                t: e.t,
                forward: e.forward,
                targets,
                pairs,
            })
        })
        .collect()
}

/// Sum of squared errors in vol points (1 = 1 % vol) of `model` against the mids, and the
/// number of finite model vols.
pub fn sse_vol_points(model: &[f64], mids: &[f64]) -> (f64, usize) {
    model.iter().zip(mids).filter(|(m, _)| m.is_finite()).fold((0.0, 0), |(s, n), (m, q)| {
        let e = 100.0 * (m - q);
        (s + e * e, n + 1)
    })
}

/// Root-mean-square error in vol points (NaN when no model vol is finite).
pub fn rmse_vol_points(model: &[f64], mids: &[f64]) -> f64 {
    let (s, n) = sse_vol_points(model, mids);
    if n == 0 {
        f64::NAN
    } else {
        (s / n as f64).sqrt()
    }
}

/// Median of `v` (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// ATM implied vol of a slice by linear interpolation in k around 0 (as `fit_snapshot`).
pub fn atm_vol(targets: &[Target]) -> Option<f64> {
    let iv = |q: &Target| q.mid_iv.unwrap_or(f64::NAN);
    let below = targets.iter().filter(|q| q.k <= 0.0).max_by(|a, b| a.k.total_cmp(&b.k));
    let above = targets.iter().filter(|q| q.k > 0.0).min_by(|a, b| a.k.total_cmp(&b.k));
    match (below, above) {
        (Some(a), Some(b)) => {
            let u = -a.k / (b.k - a.k);
            Some(iv(a) * (1.0 - u) + iv(b) * u)
        }
        (Some(q), None) | (None, Some(q)) => Some(iv(q)),
        (None, None) => None,
    }
    .filter(|v| v.is_finite() && *v > 0.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use volfit::fit::VolModel;
    use volfit::market::OptionType;

    /// A unit-vega target at `(k, t)` with mid vol 0.5 (the bench crate's tests share it).
    pub(crate) fn target(k: f64, t: f64) -> Target {
        Target {
            k,
            t,
            forward: 100.0,
            strike: 100.0 * k.exp(),
            kind: OptionType::Call,
            bid: None,
            ask: None,
            bid_iv: None,
            ask_iv: None,
            mid_iv: Some(0.5),
            vega: 1.0,
            open_interest: 0.0,
            volume: 0.0,
        }
    }

    #[test]
    fn median_and_rmse_closed_form() {
        // Closed form: median of {3, 1, 2} is 2, of {4, 1, 3, 2} is 2.5; NaN ignored.
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, f64::NAN, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        // Errors of 0.01 and 0.03 (1 and 3 vol points): RMSE √5 vol points.
        let r = rmse_vol_points(&[0.51, 0.47], &[0.5, 0.5]);
        assert!((r - 5f64.sqrt()).abs() < 1e-12, "{r}");
    }

    #[test]
    fn sabr_fixed_beta_jacobian_matches_finite_differences() {
        let m = volfit::fit::SabrModel { f: 100.0, t: 0.25, beta: Some(1.0) };
        let qs: Vec<Target> =
            [-0.3, -0.1, 0.0, 0.05, 0.2].iter().map(|&k| target(k, 0.25)).collect();
        let x = [0.6, -0.3, 1.2];
        let (mut s, mut jac) = (vec![0.0; qs.len()], vec![0.0; 3 * qs.len()]);
        assert!(m.vols(&x, &qs, &mut s, Some(&mut jac)).is_some());
        let h = 1e-6;
        for j in 0..3 {
            let (mut xp, mut xm) = (x, x);
            xp[j] += h;
            xm[j] -= h;
            let (mut sp, mut sm) = (vec![0.0; qs.len()], vec![0.0; qs.len()]);
            assert!(m.vols(&xp, &qs, &mut sp, None).is_some());
            assert!(m.vols(&xm, &qs, &mut sm, None).is_some());
            for i in 0..qs.len() {
                // Central differences, step 1e-6: truncation + rounding ≲ 1e-8.
                let fd = (sp[i] - sm[i]) / (2.0 * h);
                assert!(
                    (jac[3 * i + j] - fd).abs() < 1e-7,
                    "i={i} j={j}: {} vs {fd}",
                    jac[3 * i + j]
                );
            }
        }
    }
}
