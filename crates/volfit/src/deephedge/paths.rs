//! Monte Carlo paths of the forward (and its instantaneous volatility) on the hedge grid.
//!
//! Prices are in units of the initial forward (`F₀ = 1`); `n` steps of `dt = T/n` years
//! (ACT/365). Black–Scholes steps are exact, `F ← F·exp(−σ²dt/2 + σ√dt·z)`; Heston steps are
//! full-truncation Euler in `ln F` (Lord, Koekkoek & van Dijk 2010), the scenario module's
//! Monte Carlo step — the forward is a martingale up to the Euler bias; Bates steps add the
//! scenario module's compensated lognormal jumps (a Poisson count per step).
//!
//! Path `i` draws from its own ChaCha8 stream (`seed`, stream `i`), so a path set is the same
//! whatever the thread count and a path's draws do not depend on how many paths are made.

use crate::scenario::{draw_jump, euler_step, jump_compensator};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Poisson, StandardNormal};
use rayon::prelude::*;

/// Bates jumps `(λ, μ_J, σ_J)`.
type Jumps = (f64, f64, f64);

/// The dynamics of the forward under which the hedge is trained and tested.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dynamics {
    /// Geometric Brownian motion of the forward with volatility `sigma`.
    BlackScholes {
        /// Volatility (fraction per √year).
        sigma: f64,
    },
    /// Heston (1993): `dF/F = √v dW`, `dv = κ(θ − v)dt + σ√v dZ`, `dW·dZ = ρ dt`.
    Heston {
        /// Initial variance.
        v0: f64,
        /// Mean-reversion speed κ.
        kappa: f64,
        /// Long-run variance θ.
        theta: f64,
        /// Volatility of variance σ.
        sigma: f64,
        /// Correlation ρ.
        rho: f64,
    },
    /// Bates (1996): Heston plus lognormal (Merton) jumps of the forward at intensity
    /// `lambda`, log-jump sizes `N(mu_j, sigma_j²)`, compensated so the forward stays a
    /// martingale (the scenario module's Monte Carlo step and jump draw).
    Bates {
        /// Initial variance.
        v0: f64,
        /// Mean-reversion speed κ.
        kappa: f64,
        /// Long-run variance θ.
        theta: f64,
        /// Volatility of variance σ.
        sigma: f64,
        /// Correlation ρ.
        rho: f64,
        /// Jump intensity λ per year.
        lambda: f64,
        /// Mean log-jump μ_J.
        mu_j: f64,
        /// Log-jump volatility σ_J.
        sigma_j: f64,
    },
}

impl Dynamics {
    /// Checks the parameters; the message names the offending one.
    ///
    /// # Errors
    /// A parameter outside its domain.
    pub fn validate(&self) -> Result<(), String> {
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("dynamics.{name} must be finite and > 0, got {v}"))
            }
        };
        let (heston, jumps) = match *self {
            Dynamics::BlackScholes { sigma } => return pos("sigma", sigma),
            Dynamics::Heston { v0, kappa, theta, sigma, rho } => {
                ([v0, kappa, theta, sigma, rho], None)
            }
            Dynamics::Bates { v0, kappa, theta, sigma, rho, lambda, mu_j, sigma_j } => {
                ([v0, kappa, theta, sigma, rho], Some((lambda, mu_j, sigma_j)))
            }
        };
        let [v0, kappa, theta, sigma, rho] = heston;
        pos("v0", v0)?;
        pos("kappa", kappa)?;
        pos("theta", theta)?;
        pos("sigma", sigma)?;
        if !(rho.is_finite() && rho.abs() < 1.0) {
            return Err(format!("dynamics.rho must be in (-1, 1), got {rho}"));
        }
        if let Some((lambda, mu_j, sigma_j)) = jumps {
            let non_neg = |name: &str, v: f64| {
                if v.is_finite() && v >= 0.0 {
                    Ok(())
                } else {
                    Err(format!("dynamics.{name} must be finite and >= 0, got {v}"))
                }
            };
            non_neg("lambda", lambda)?;
            non_neg("sigma_j", sigma_j)?;
            if !mu_j.is_finite() {
                return Err(format!("dynamics.mu_j must be finite, got {mu_j}"));
            }
        }
        Ok(())
    }

    /// Heston's `[v0, κ, θ, σ, ρ]` and the jumps `(λ, μ_J, σ_J)` (none for Heston), or
    /// `None` under Black–Scholes.
    fn heston_parts(&self) -> Option<([f64; 5], Option<Jumps>)> {
        match *self {
            Dynamics::BlackScholes { .. } => None,
            Dynamics::Heston { v0, kappa, theta, sigma, rho } => {
                Some(([v0, kappa, theta, sigma, rho], None))
            }
            Dynamics::Bates { v0, kappa, theta, sigma, rho, lambda, mu_j, sigma_j } => {
                Some(([v0, kappa, theta, sigma, rho], Some((lambda, mu_j, sigma_j))))
            }
        }
    }

    /// A Black volatility for the classical hedges over `[0, t]`: `σ` for Black–Scholes; for
    /// Heston the root of the expected average variance
    /// `θ + (v₀ − θ)(1 − e^{−κt})/(κt)`; Bates adds the jumps' variance per year
    /// `λ(μ_J² + σ_J²)`.
    pub fn black_vol(&self, t: f64) -> f64 {
        if let Dynamics::BlackScholes { sigma } = *self {
            return sigma;
        }
        let Some(([v0, kappa, theta, _, _], jumps)) = self.heston_parts() else { return 0.0 };
        let kt = kappa * t;
        let frac = if kt > 1e-12 { -(-kt).exp_m1() / kt } else { 1.0 };
        let jump_var = jumps.map_or(0.0, |(l, mu, sj)| l * (mu * mu + sj * sj));
        (theta + (v0 - theta) * frac + jump_var).sqrt()
    }
}

/// Simulated forwards and instantaneous volatilities, row-major `paths × (steps + 1)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Paths {
    /// Number of paths.
    pub paths: usize,
    /// Number of hedge steps (`steps + 1` states per path, state 0 at inception).
    pub steps: usize,
    /// Step length in years.
    pub dt: f64,
    /// Forward at each state, `F₀ = 1`.
    pub forward: Vec<f64>,
    /// Instantaneous volatility `√max(v, 0)` (constant `σ` under Black–Scholes).
    pub vol: Vec<f64>,
}

impl Paths {
    /// Simulates `paths` paths of `steps` steps to maturity `t` years, seeded by `seed`.
    pub fn simulate(dynamics: &Dynamics, paths: usize, steps: usize, t: f64, seed: u64) -> Self {
        let steps = steps.max(1);
        let dt = t / steps as f64;
        let cols = steps + 1;
        let mut forward = vec![0.0; paths * cols];
        let mut vol = vec![0.0; paths * cols];
        forward.par_chunks_mut(cols).zip(vol.par_chunks_mut(cols)).enumerate().for_each(
            |(i, (f, v))| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(i as u64);
                simulate_path(dynamics, dt, &mut rng, f, v);
            },
        );
        Paths { paths, steps, dt, forward, vol }
    }

    /// Forward of path `i` at state `t`.
    #[inline]
    pub fn f(&self, i: usize, t: usize) -> f64 {
        self.forward[i * (self.steps + 1) + t]
    }

    /// Instantaneous volatility of path `i` at state `t`.
    #[inline]
    pub fn v(&self, i: usize, t: usize) -> f64 {
        self.vol[i * (self.steps + 1) + t]
    }
}

/// Fills one path's forwards `f` and volatilities `v` (each `steps + 1` long).
fn simulate_path(d: &Dynamics, dt: f64, rng: &mut ChaCha8Rng, f: &mut [f64], v: &mut [f64]) {
    match *d {
        Dynamics::BlackScholes { sigma } => {
            let (drift, sd) = (-0.5 * sigma * sigma * dt, sigma * dt.sqrt());
            let mut x: f64 = 0.0;
            for (fi, vi) in f.iter_mut().zip(v.iter_mut()) {
                *fi = x.exp();
                *vi = sigma;
                let z: f64 = rng.sample(StandardNormal);
                x += drift + sd * z;
            }
        }
        Dynamics::Heston { .. } | Dynamics::Bates { .. } => {
            let Some((h, jumps)) = d.heston_parts() else { return };
            let comp = jumps.map_or(0.0, |(l, mu, sj)| jump_compensator(l, mu, sj));
            let poisson = jumps.and_then(|(l, mu, sj)| {
                Poisson::new(l * dt).ok().filter(|_| l * dt > 0.0).map(|p| (p, mu, sj))
            });
            let mut xv = (0.0_f64, h[0]);
            for (fi, vi) in f.iter_mut().zip(v.iter_mut()) {
                *fi = xv.0.exp();
                *vi = xv.1.max(0.0).sqrt();
                let z: f64 = rng.sample(StandardNormal);
                let w: f64 = rng.sample(StandardNormal);
                let jump =
                    poisson.as_ref().map_or(0.0, |(p, mu, sj)| draw_jump(rng, p, *mu, *sj).1);
                xv = euler_step(&h, comp, xv, (z, w), jump, dt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_are_martingales_and_paths_independent_of_count() {
        let bs = Dynamics::BlackScholes { sigma: 0.6 };
        let hs = Dynamics::Heston { v0: 0.36, kappa: 2.0, theta: 0.3, sigma: 1.0, rho: -0.3 };
        for d in [bs, hs] {
            let p = Paths::simulate(&d, 20_000, 10, 30.0 / 365.0, 7);
            let mean: f64 = (0..p.paths).map(|i| p.f(i, p.steps)).sum::<f64>() / p.paths as f64;
            // E[F_T] = F_0 = 1; the sample mean's SE is about 0.6·√(30/365)/√20000 ≈ 0.0012.
            assert!((mean - 1.0).abs() < 0.005, "{d:?}: mean {mean}");
            // The first 100 paths of a smaller set are the same paths (per-path streams).
            let q = Paths::simulate(&d, 100, 10, 30.0 / 365.0, 7);
            assert_eq!(q.forward[..], p.forward[..q.forward.len()]);
        }
    }

    #[test]
    fn heston_black_vol_is_expected_average_variance() {
        let d = Dynamics::Heston { v0: 0.04, kappa: 1.0, theta: 0.09, sigma: 0.5, rho: 0.0 };
        // θ + (v0 − θ)(1 − e^{−1})/1 = 0.09 − 0.05·0.632120559 = 0.058393972.
        assert!((d.black_vol(1.0) - 0.058_393_972_f64.sqrt()).abs() < 1e-9);
        let bad = Dynamics::Heston { v0: 0.04, kappa: 1.0, theta: 0.09, sigma: 0.5, rho: 1.0 };
        assert!(bad.validate().unwrap_err().contains("dynamics.rho"));
    }
}
