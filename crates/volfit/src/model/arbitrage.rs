//! Static-arbitrage diagnostics and a smooth butterfly penalty (see the [`crate::model`]
//! overview).

use super::ssvi::SsviSlice;
use super::svi::Svi;
use super::{durrleman_g, Smile, Surface};
use std::sync::LazyLock;

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

/// Step in `u` of the SVI checks' nodes `k = m + σ·sinh(u)`: dense where the smile bends
/// (near `m`, on the scale σ), sparse far out, where g varies slowly.
const SVI_U_STEP: f64 = 0.1;

/// Nodes on each side of `u = 0`: the largest `|u|` is 20 (`|k − m| ≤ σ·sinh(20) ≈
/// 2.4·10⁸σ`); beyond, the wings are judged by their limits.
const SVI_U_NODES: i64 = 200;

/// `sinh(i·SVI_U_STEP)` for `i = −SVI_U_NODES − 1 ..= SVI_U_NODES + 1` (index `i + SVI_U_NODES
/// + 1`), computed once: the nodes of every SVI check.
static SINH_U: LazyLock<Vec<f64>> = LazyLock::new(|| {
    (-SVI_U_NODES - 1..=SVI_U_NODES + 1).map(|i| (i as f64 * SVI_U_STEP).sinh()).collect()
});

/// Golden-section steps of a local refinement (interval × 0.618⁶⁰ ≈ 3·10⁻¹³).
const GOLDEN_STEPS: usize = 60;

/// Durrleman's g of a raw SVI at `k`; −∞ where `w ≤ 0` or g is not finite.
fn svi_g(svi: &Svi, k: f64) -> f64 {
    let d = svi.total_variance_dk(k);
    let g = if d[0] > 0.0 { durrleman_g(d, k) } else { f64::NEG_INFINITY };
    if g.is_finite() {
        g
    } else {
        f64::NEG_INFINITY
    }
}

/// The lowest value of `f` on `[a, b]` by golden section, with its argument.
fn golden_min(f: &dyn Fn(f64) -> f64, mut a: f64, mut b: f64) -> (f64, f64) {
    const R: f64 = 0.618_033_988_749_894_8;
    let (mut c, mut d) = (b - R * (b - a), a + R * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..GOLDEN_STEPS {
        if fc <= fd {
            (b, d, fd) = (d, c, fc);
            c = b - R * (b - a);
            fc = f(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + R * (b - a);
            fd = f(d);
        }
    }
    if fc <= fd {
        (c, fc)
    } else {
        (d, fd)
    }
}

/// The lowest Durrleman g of a raw SVI on `[lo, hi]` (either end may be infinite) and
/// where it lies, `(k, g)`. g is taken on the nodes `k = m + σ·sinh(u)`, `|u| ≤ 20` in steps
/// of 0.05, clipped to `[lo, hi]` with both finite ends added; every discrete local minimum
/// is refined by golden section between its neighbours, so a dip narrower than the node
/// spacing is found as long as it shows as a local minimum of the nodes. An infinite end is
/// judged analytically by g's limit there: with the wing slope `s = b(1 ± ρ)` of `w`,
/// `g(±∞) = 1/4 − s²/16` (1 for a flat wing), which is negative exactly when Lee's bound
/// `s ≤ 2` is broken (Lee 2004; Gatheral–Jacquier 2014, §2); it is reported at the last
/// node on that side.
pub fn svi_g_min(svi: &Svi, lo: f64, hi: f64) -> (f64, f64) {
    let [_, b, rho, m, sigma] = svi.params();
    let g = |k: f64| svi_g(svi, k);
    let n = SVI_U_NODES;
    let sinh = &*SINH_U;
    let node = |i: i64| m + sigma * sinh[(i + n + 1) as usize];
    // The nodes in order: lo (if finite), the sinh nodes inside (lo, hi), hi (if finite).
    // Index bounds from u = asinh((k − m)/σ), then nudged past rounding.
    let index = |k: f64| ((k - m) / sigma).asinh() / SVI_U_STEP;
    let mut first = index(lo).floor().clamp(-(n as f64), n as f64 + 1.0) as i64;
    while first <= n && node(first) <= lo {
        first += 1;
    }
    let mut last = index(hi).ceil().clamp(-(n as f64) - 1.0, n as f64) as i64;
    while last >= -n && node(last) >= hi {
        last -= 1;
    }
    let ends = |x: f64| x.is_finite().then_some(x);
    let ks =
        ends(lo).into_iter().chain((first..=last).map(node)).chain(ends(hi).filter(|&h| h > lo));
    let mut best = (f64::NAN, f64::INFINITY);
    // Sliding window of three nodes (k, g); a discrete local minimum in the middle (or at
    // an end) is refined between its neighbours.
    let mut prev: Option<(f64, f64)> = None;
    let mut mid: Option<(f64, f64)> = None;
    let refine = |l: f64, c: (f64, f64), r: f64, best: &mut (f64, f64)| {
        let (k, v) = if r > l { golden_min(&g, l, r) } else { c };
        for (k, v) in [c, (k, v)] {
            if v < best.1 {
                *best = (k, v);
            }
        }
    };
    for k in ks {
        let cur = (k, g(k));
        if let Some(c) = mid {
            let left_ok = prev.is_none_or(|p| c.1 <= p.1);
            if left_ok && c.1 <= cur.1 {
                refine(prev.map_or(c.0, |p| p.0), c, cur.0, &mut best);
            }
        }
        prev = mid;
        mid = Some(cur);
    }
    if let Some(c) = mid {
        if prev.is_none_or(|p| c.1 <= p.1) {
            refine(prev.map_or(c.0, |p| p.0), c, c.0, &mut best);
        }
    }
    let limit = |s: f64| if s > 0.0 { 0.25 - s * s / 16.0 } else { 1.0 };
    if hi == f64::INFINITY && limit(b * (1.0 + rho)) < best.1 {
        best = (node(last.min(n)), limit(b * (1.0 + rho)));
    }
    if lo == f64::NEG_INFINITY && limit(b * (1.0 - rho)) < best.1 {
        best = (node(first.max(-n)), limit(b * (1.0 - rho)));
    }
    best
}

/// The worst butterfly violation of a raw SVI on `[lo, hi]` (see [`svi_g_min`]): `None`
/// when `g ≥ −TOLERANCE` there, between the nodes and on the wings included.
pub fn check_svi_butterfly(svi: &Svi, t: f64, lo: f64, hi: f64) -> Option<Violation> {
    let (k, value) = svi_g_min(svi, lo, hi);
    (value < -TOLERANCE).then_some(Violation { kind: ViolationKind::Butterfly, t, k, value })
}

/// Largest `w''` of a raw SVI on `[a, b]`: `bσ²/r³` at the point nearest `m`.
fn svi_w2_max(svi: &Svi, a: f64, b: f64) -> f64 {
    let [_, sb, _, m, sigma] = svi.params();
    let x = if m < a {
        a - m
    } else if m > b {
        m - b
    } else {
        0.0
    };
    let r = (x * x + sigma * sigma).sqrt();
    sb * sigma * sigma / (r * r * r)
}

/// The lowest `Δw(k) = w₁(k) − w₀(k)` of two raw SVI slices on the finite `[lo, hi]` and where
/// it lies, `(k, Δw)`, exactly up to 10⁻¹³: Δw on 64 equal intervals, each split in two while
/// the bound `min(Δw(a), Δw(b)) − (b − a)²/8 · max|Δw''|` (linear interpolation's error;
/// `|Δw''| ≤ max(w₀'', w₁'')` since both are ≥ 0, largest nearest each `m`) leaves room for
/// a negative value below the lowest found. Nothing below 10⁻¹³ in `w` can hide between the
/// points looked at.
pub fn svi_calendar_min(s0: &Svi, s1: &Svi, lo: f64, hi: f64) -> (f64, f64) {
    const PIECES: usize = 64;
    const SLACK: f64 = 1e-13;
    const MAX_INTERVALS: usize = 100_000;
    let dw = |k: f64| s1.total_variance(k) - s0.total_variance(k);
    let mut best = (lo, dw(lo));
    let mut stack = [(0.0, 0.0, 0.0, 0.0); 128];
    let mut budget = MAX_INTERVALS;
    for i in 0..PIECES {
        let a = lo + (hi - lo) * i as f64 / PIECES as f64;
        let b = lo + (hi - lo) * (i + 1) as f64 / PIECES as f64;
        let mut top = 1;
        stack[0] = (a, b, dw(a), dw(b));
        while top > 0 && budget > 0 {
            top -= 1;
            budget -= 1;
            let (a, b, da, db) = stack[top];
            for (k, v) in [(a, da), (b, db)] {
                if v < best.1 {
                    best = (k, v);
                }
            }
            let curv = svi_w2_max(s0, a, b).max(svi_w2_max(s1, a, b));
            let bound = da.min(db) - (b - a) * (b - a) / 8.0 * curv;
            if bound < -SLACK && bound < best.1 - SLACK && top + 2 <= stack.len() && b - a > 1e-15 {
                let c = 0.5 * (a + b);
                let dc = dw(c);
                stack[top] = (a, c, da, dc);
                stack[top + 1] = (c, b, dc, db);
                top += 2;
            }
        }
    }
    best
}

/// The worst calendar violation between raw SVI slices `(t₀, s0)` and `(t₁, s1)`, `t₀ < t₁`,
/// on `[lo, hi]`, exact between grid nodes ([`svi_calendar_min`]); `None` when
/// `w₁ − w₀ ≥ −TOLERANCE·(1 + w₁)` everywhere there.
pub fn check_svi_calendar(s0: &Svi, (t1, s1): (f64, &Svi), lo: f64, hi: f64) -> Option<Violation> {
    let (k, value) = svi_calendar_min(s0, s1, lo, hi);
    let tol = TOLERANCE * (1.0 + s1.total_variance(k).abs());
    (value < -tol).then_some(Violation { kind: ViolationKind::Calendar, t: t1, k, value })
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

/// `z = −g/s` below which a term of [`butterfly_penalty`] is dropped: `s²·softplus(z)² <
/// s²·e^{2z} < 10⁻³⁹·s²`, below the last bit of any cost it is added to.
const NEGLIGIBLE_Z: f64 = -45.0;

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
        // Where g is well positive the term is below 10⁻³⁹·s² (softplus(z) < e^z): skip it and
        // its parameter gradient, the bulk of the cost on a clean smile.
        let d = smile.total_variance_dk(k);
        if d[0] > 0.0 && durrleman_g(d, k) > -NEGLIGIBLE_Z * scale {
            continue;
        }
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
