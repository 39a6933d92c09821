//! Static-arbitrage diagnostics and a smooth butterfly penalty (see the [`crate::model`]
//! overview).

use super::ssvi::SsviSlice;
use super::svi::Svi;
use super::{durrleman_g, Smile, Surface};

/// Tolerance below which `g` or a total-variance decrease counts as a violation
/// (rounding in `w''` and in `w(t₂) − w(t₁)`).
pub const TOLERANCE: f64 = 1e-10;

/// Which static arbitrage was violated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    /// Negative density: `g(k) < 0`.
    Butterfly,
    /// Total variance decreasing in `t`.
    Calendar,
}

/// One violation: where, and how bad (`g(k)` for butterfly, `w(t₂,k) − w(t₁,k)` for
/// calendar, with `t` the later expiry).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// Kind.
    pub kind: ViolationKind,
    /// Expiry (years).
    pub t: f64,
    /// Log-moneyness.
    pub k: f64,
    /// Negative value measuring the violation.
    pub value: f64,
}

/// Summary of the static-arbitrage checks of a surface.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArbitrageReport {
    /// No butterfly violation on the grid.
    pub butterfly_ok: bool,
    /// No calendar violation on the grid.
    pub calendar_ok: bool,
    /// The most negative violation (butterfly preferred on ties of kind order).
    pub worst: Option<Violation>,
}

/// Evenly spaced grid of `out.len()` points on `[lo, hi]`.
pub fn fill_grid(lo: f64, hi: f64, out: &mut [f64]) {
    let n = out.len();
    for (i, x) in out.iter_mut().enumerate() {
        *x = if n > 1 { lo + (hi - lo) * i as f64 / (n - 1) as f64 } else { lo };
    }
}

fn worse(a: Option<Violation>, b: Option<Violation>) -> Option<Violation> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.value < x.value { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Worst butterfly violation of one smile on the grid (`None` when `g ≥ −TOLERANCE`
/// everywhere). Non-finite `g` counts as a violation with value −∞.
pub fn check_butterfly<S: Smile>(smile: &S, t: f64, ks: &[f64]) -> Option<Violation> {
    let mut worst: Option<Violation> = None;
    for &k in ks {
        let g = smile.durrleman_g(k);
        let g = if g.is_finite() { g } else { f64::NEG_INFINITY };
        if g < -TOLERANCE && worst.is_none_or(|w| g < w.value) {
            worst = Some(Violation { kind: ViolationKind::Butterfly, t, k, value: g });
        }
    }
    worst
}

/// Worst calendar violation between consecutive smiles `(t_i, smile_i)` (sorted by `t`).
pub fn check_calendar<S: Smile>(slices: &[(f64, S)], ks: &[f64]) -> Option<Violation> {
    let mut worst: Option<Violation> = None;
    for pair in slices.windows(2) {
        let (_, s0) = &pair[0];
        let (t1, s1) = &pair[1];
        for &k in ks {
            let dw = s1.total_variance(k) - s0.total_variance(k);
            let tol = TOLERANCE * (1.0 + s1.total_variance(k).abs());
            if dw < -tol && worst.is_none_or(|w| dw < w.value) {
                worst = Some(Violation { kind: ViolationKind::Calendar, t: *t1, k, value: dw });
            }
        }
    }
    worst
}

/// Butterfly and calendar checks of smiles `(t_i, smile_i)` sorted by `t`.
pub fn check_smiles<S: Smile>(slices: &[(f64, S)], ks: &[f64]) -> ArbitrageReport {
    let mut fly = None;
    for (t, s) in slices {
        fly = worse(fly, check_butterfly(s, *t, ks));
    }
    let cal = check_calendar(slices, ks);
    ArbitrageReport {
        butterfly_ok: fly.is_none(),
        calendar_ok: cal.is_none(),
        worst: worse(fly, cal),
    }
}

/// Checks of a surface at the given expiries (sorted) on the grid `ks`; calendar is also
/// checked at each expiry's midpoint to its neighbour.
pub fn check_surface<Su: Surface>(surface: &Su, expiries: &[f64], ks: &[f64]) -> ArbitrageReport {
    let mut ts: Vec<f64> = Vec::with_capacity(2 * expiries.len());
    for (i, &t) in expiries.iter().enumerate() {
        if i > 0 {
            ts.push(0.5 * (expiries[i - 1] + t));
        }
        ts.push(t);
    }
    let slices: Vec<(f64, Su::Slice)> = ts.iter().map(|&t| (t, surface.slice(t))).collect();
    check_smiles(&slices, ks)
}

/// A smile that also exposes the parameter gradients of `w`, `w'`, `w''`.
pub trait SmileDkGrad: Smile {
    /// Writes `∂w/∂x`, `∂w'/∂x`, `∂w''/∂x` and returns `[w, w', w'']`.
    fn total_variance_dk_grad(
        &self,
        k: f64,
        gw: &mut [f64],
        gw1: &mut [f64],
        gw2: &mut [f64],
    ) -> [f64; 3];
}

impl SmileDkGrad for Svi {
    #[inline]
    fn total_variance_dk_grad(
        &self,
        k: f64,
        gw: &mut [f64],
        gw1: &mut [f64],
        gw2: &mut [f64],
    ) -> [f64; 3] {
        let [_, b, rho, m, s] = self.params();
        let x = k - m;
        let s2 = s * s;
        let r = (x * x + s2).sqrt();
        let r3 = r * r * r;
        let r5 = r3 * r * r;
        let w = self.total_variance_grad(k, gw);
        gw1[..5].copy_from_slice(&[0.0, rho + x / r, b, -b * s2 / r3, -b * x * s / r3]);
        gw2[..5].copy_from_slice(&[
            0.0,
            s2 / r3,
            0.0,
            3.0 * b * s2 * x / r5,
            b * (2.0 * s / r3 - 3.0 * s2 * s / r5),
        ]);
        [w, b * (rho + x / r), b * s2 / r3]
    }
}

impl SmileDkGrad for SsviSlice {
    fn total_variance_dk_grad(
        &self,
        k: f64,
        gw: &mut [f64],
        gw1: &mut [f64],
        gw2: &mut [f64],
    ) -> [f64; 3] {
        let (th, r, p) = (self.theta, self.rho, self.phi);
        let u = p * k + r;
        let s = (u * u + 1.0 - r * r).sqrt();
        let (s3, s5) = (s * s * s, s * s * s * s * s);
        let q = 1.0 - r * r;
        let w = self.total_variance_grad(k, gw);
        let w1 = 0.5 * th * (r * p + p * u / s);
        let w2 = 0.5 * th * p * p * q / s3;
        gw1[..3].copy_from_slice(&[
            w1 / th,
            0.5 * th * (p + p * (1.0 / s - u * p * k / s3)),
            0.5 * th * (r + u / s + p * (k / s - u * u * k / s3)),
        ]);
        gw2[..3].copy_from_slice(&[
            w2 / th,
            0.5 * th * p * p * (-2.0 * r / s3 - 3.0 * q * p * k / s5),
            0.5 * th * (2.0 * p * q / s3 - 3.0 * p * p * q * u * k / s5),
        ]);
        [w, w1, w2]
    }
}

/// Smooth butterfly penalty `Σ_j s²·softplus(−g(k_j)/s)²` over the grid `ks` with scale
/// `s > 0`; writes the gradient over the smile's parameters into `grad` and returns the
/// value. `work.len() ≥ 3·num_params` (caller-owned, no allocation).
pub fn butterfly_penalty<S: SmileDkGrad>(
    smile: &S,
    ks: &[f64],
    scale: f64,
    grad: &mut [f64],
    work: &mut [f64],
) -> f64 {
    let n = smile.num_params();
    grad[..n].iter_mut().for_each(|g| *g = 0.0);
    let (gw, rest) = work.split_at_mut(n);
    let (gw1, rest) = rest.split_at_mut(n);
    let gw2 = &mut rest[..n];
    let mut total = 0.0;
    for &k in ks {
        let [w, w1, w2] = smile.total_variance_dk_grad(k, gw, gw1, gw2);
        let g = durrleman_g([w, w1, w2], k);
        let z = -g / scale;
        let sp = if z > 30.0 { z } else { z.exp().ln_1p() };
        total += scale * scale * sp * sp;
        let sig = 1.0 / (1.0 + (-z).exp());
        let dpen_dg = -2.0 * scale * sp * sig;
        if dpen_dg == 0.0 {
            continue;
        }
        let a = 1.0 - k * w1 / (2.0 * w);
        let dg_dw = a * k * w1 / (w * w) + w1 * w1 / (4.0 * w * w);
        let dg_dw1 = -a * k / w - 0.5 * w1 * (1.0 / w + 0.25);
        for i in 0..n {
            grad[i] += dpen_dg * (dg_dw * gw[i] + dg_dw1 * gw1[i] + 0.5 * gw2[i]);
        }
    }
    total
}
