//! The static-arbitrage penalties of raw SVI fits as [`volfit_optim::Penalty`] terms, each
//! carrying its weight: [`SviButterfly`] (Durrleman's density condition) and
//! [`SviAboveFloor`] (butterfly plus a calendar floor under the slice). Evaluation does not
//! allocate: the grids are laid out at construction, the gradients go through buffers on
//! the stack.

use crate::model::arbitrage::{butterfly_penalty, fill_grid};
use crate::model::svi::Svi;
use crate::model::{Params, Smile};
use volfit_optim::penalty::Penalty;

/// Points of the butterfly penalty's grid on `[−2, 2]`, the range the fit report checks.
const BUTTERFLY_POINTS: usize = 81;

/// Smoothing scale `s` of the butterfly penalty `s²·softplus(−g/s)²`.
const BUTTERFLY_SCALE: f64 = 0.01;

/// Raw SVI parameters `[a, b, ρ, m, σ]`.
const SVI_PARAMS: usize = 5;

/// `weight · Σⱼ s²·softplus(−g(kⱼ)/s)²` over raw SVI `[a, b, ρ, m, σ]`: Durrleman's `g` on
/// 81 points of `[−2, 2]`, `s = 0.01` ([`butterfly_penalty`]); 0 where `x` is not an SVI.
#[derive(Clone, Debug)]
pub struct SviButterfly {
    weight: f64,
    ks: [f64; BUTTERFLY_POINTS],
}

impl SviButterfly {
    /// The penalty with weight `weight`.
    pub fn new(weight: f64) -> Self {
        let mut ks = [0.0; BUTTERFLY_POINTS];
        fill_grid(-2.0, 2.0, &mut ks);
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
        p
    }
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
