//! The static-arbitrage penalties of raw SVI fits as [`volfit_optim::Penalty`] terms, each
//! carrying its weight: [`SviButterfly`] (Durrleman's density condition) and
//! [`SviAboveFloor`] (butterfly plus a calendar floor under the slice). Evaluation does not
//! allocate: the grids are laid out at construction, the gradients go through buffers on
//! the stack.

use crate::model::arbitrage::{butterfly_penalty, fill_grid};
use crate::model::svi::Svi;
use crate::model::{Params, Smile};
use volfit_optim::penalty::Penalty;

/// Points of the butterfly penalty's grid: 81 on `[−2, 2]` (step 0.05, the report grid's
/// range) and 20 on each wing out to `|k| = 6` (step 0.2, where quotes rarely reach and g
/// varies slowly); beyond, the wing-limit term takes over.
const BUTTERFLY_POINTS: usize = 121;

/// Points of the penalty grid's central part on `[−2, 2]`.
const CENTRE_POINTS: usize = 81;

/// Smoothing scale `s` of the butterfly penalty `s²·softplus(−g/s)²`.
const BUTTERFLY_SCALE: f64 = 0.01;

/// Raw SVI parameters `[a, b, ρ, m, σ]`.
const SVI_PARAMS: usize = 5;

/// `weight · Σⱼ s²·softplus(−g(kⱼ)/s)²` over raw SVI `[a, b, ρ, m, σ]`: Durrleman's `g` on
/// 121 points of `[−6, 6]` (denser on `[−2, 2]`), `s = 0.01` ([`butterfly_penalty`]), plus the same term for g's
/// limits in the wings, `g(±∞) = 1/4 − s±²/16` with the wing slopes `s± = b(1 ± ρ)`,
/// negative exactly when Lee's bound `b(1 + |ρ|) ≤ 2` is broken; 0 where `x` is not an SVI.
#[derive(Clone, Debug)]
pub struct SviButterfly {
    weight: f64,
    ks: [f64; BUTTERFLY_POINTS],
}

impl SviButterfly {
    /// The penalty with weight `weight`.
    pub fn new(weight: f64) -> Self {
        let mut ks = [0.0; BUTTERFLY_POINTS];
        let (wings, centre) = ks.split_at_mut(BUTTERFLY_POINTS - CENTRE_POINTS);
        fill_grid(-2.0, 2.0, centre);
        let (left, right) = wings.split_at_mut(wings.len() / 2);
        // Wing steps 0.2: k = ±2.2, …, ±6 (the order of the points does not matter).
        for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
            let k = 2.0 + 0.2 * (i + 1) as f64;
            (*l, *r) = (-k, k);
        }
        SviButterfly { weight, ks }
    }

    /// The unweighted penalty at `x`, its gradient ADDED into `grad`.
    fn unweighted(&self, x: &[f64], grad: &mut [f64; SVI_PARAMS]) -> f64 {
        let Ok(svi) = Svi::from_slice(x) else { return 0.0 };
        let mut g = [0.0; SVI_PARAMS];
        let mut work = [0.0; 3 * SVI_PARAMS];
        let p = butterfly_penalty(&svi, &self.ks, BUTTERFLY_SCALE, &mut g, &mut work);
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b;
        }
        p + wing_limits(x, grad)
    }
}

/// `Σ± s²·softplus(−g(±∞)/s)²` with `g(±∞) = 1/4 − s±²/16`, `s± = b(1 ± ρ)`, `s` the
/// penalty's smoothing scale; its gradient over `[a, b, ρ, m, σ]` is ADDED into `grad`.
fn wing_limits(x: &[f64], grad: &mut [f64; SVI_PARAMS]) -> f64 {
    let (b, rho) = (x[1], x[2]);
    let s = BUTTERFLY_SCALE;
    let mut total = 0.0;
    for sign in [1.0, -1.0] {
        let slope = b * (1.0 + sign * rho);
        let z = -(0.25 - slope * slope / 16.0) / s;
        let sp = if z > 30.0 { z } else { z.exp().ln_1p() };
        total += s * s * sp * sp;
        // d/dslope of s²·softplus(z)² = 2s²·sp·σ(z)·dz/dslope, dz/dslope = slope/(8s).
        let d = 2.0 * s * s * sp / (1.0 + (-z).exp()) * slope / (8.0 * s);
        grad[1] += d * (1.0 + sign * rho);
        grad[2] += d * sign * b;
    }
    total
}

/// Adds `weight · local` into `grad` and returns `weight · p`.
fn weighted(weight: f64, p: f64, local: &[f64; SVI_PARAMS], grad: &mut [f64]) -> f64 {
    for (a, b) in grad.iter_mut().zip(local) {
        *a += weight * b;
    }
    weight * p
}

impl Penalty for SviButterfly {
    fn num_params(&self) -> Option<usize> {
        Some(SVI_PARAMS)
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut local = [0.0; SVI_PARAMS];
        let p = self.unweighted(x, &mut local);
        weighted(self.weight, p, &local, grad)
    }
}

/// `weight · (butterfly + Σⱼ max(0, (fⱼ − w(kⱼ))/fⱼ)²)`: [`SviButterfly`]'s term plus the
/// calendar term that keeps a raw SVI slice's total variance `w` above a floor `f` on a grid
/// (the calendar repair of the [`crate::fit`] overview).
#[derive(Clone, Debug)]
pub struct SviAboveFloor {
    weight: f64,
    butterfly: SviButterfly,
    ks: Vec<f64>,
    floor: Vec<f64>,
}

impl SviAboveFloor {
    /// The penalty with weight `weight` and floor `floor[j]` at `ks[j]`.
    pub fn new(weight: f64, ks: Vec<f64>, floor: Vec<f64>) -> Self {
        SviAboveFloor { weight, butterfly: SviButterfly::new(1.0), ks, floor }
    }

    /// The unweighted calendar term alone at `x` (its gradient ADDED into `grad`).
    pub fn calendar(&self, x: &[f64], grad: &mut [f64; SVI_PARAMS]) -> f64 {
        calendar_penalty(x, &self.ks, &self.floor, grad)
    }

    /// The floor's grid.
    pub fn ks(&self) -> &[f64] {
        &self.ks
    }

    /// The floor on [`ks`](Self::ks).
    pub fn floor(&self) -> &[f64] {
        &self.floor
    }

    /// The same penalty with weight `weight`.
    pub fn with_weight(&self, weight: f64) -> Self {
        SviAboveFloor { weight, ..self.clone() }
    }
}

impl Penalty for SviAboveFloor {
    fn num_params(&self) -> Option<usize> {
        Some(SVI_PARAMS)
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut local = [0.0; SVI_PARAMS];
        let fly = self.butterfly.unweighted(x, &mut local);
        let p = fly + self.calendar(x, &mut local);
        weighted(self.weight, p, &local, grad)
    }
}

/// `Σⱼ max(0, (fⱼ − w(kⱼ))/fⱼ)²` for the SVI `x`; its gradient is added into `grad`.
fn calendar_penalty(x: &[f64], ks: &[f64], floor: &[f64], grad: &mut [f64]) -> f64 {
    let Ok(svi) = Svi::from_slice(x) else { return 0.0 };
    let mut g = [0.0; SVI_PARAMS];
    let mut p = 0.0;
    for (&k, &f) in ks.iter().zip(floor) {
        let w = svi.total_variance(k);
        if w >= f {
            continue;
        }
        svi.total_variance_grad(k, &mut g);
        let d = (f - w) / f;
        p += d * d;
        for (a, gi) in grad.iter_mut().zip(&g) {
            *a -= 2.0 * d / f * gi;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_gradient_matches_finite_differences() {
        let ks = [-1.0, -0.3, 0.0, 0.4, 1.5];
        let high = Svi::new(0.02, 0.1, -0.3, 0.05, 0.2).unwrap();
        let floor: Vec<f64> = ks.iter().map(|&k| high.total_variance(k)).collect();
        let x = [0.01, 0.08, -0.2, 0.0, 0.25];
        let mut g = [0.0; 5];
        let p = calendar_penalty(&x, &ks, &floor, &mut g);
        assert!(p > 0.0);
        for j in 0..5 {
            let h = 1e-7;
            let (mut xp, mut xm) = (x, x);
            xp[j] += h;
            xm[j] -= h;
            let mut scratch = [0.0; 5];
            let fd = (calendar_penalty(&xp, &ks, &floor, &mut scratch)
                - calendar_penalty(&xm, &ks, &floor, &mut scratch))
                / (2.0 * h);
            assert!((fd - g[j]).abs() <= 1e-6 * (1.0 + fd.abs()), "j={j}: fd {fd} vs {}", g[j]);
        }
        // Above the floor everywhere: no penalty, no gradient.
        let mut g = [0.0; 5];
        let lifted = [0.05, 0.1, -0.3, 0.05, 0.2];
        assert_eq!(calendar_penalty(&lifted, &ks, &floor, &mut g), 0.0);
        assert_eq!(g, [0.0; 5]);
    }
}
