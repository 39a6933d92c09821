//! Differential evolution (Storn & Price 1997): `DE/rand/1/bin` and `DE/best/1/bin`.
//!
//! Each generation builds for every member `i` a mutant `v = base + F·(x_r1 − x_r2)`
//! (`base` a random member for rand/1, the best member for best/1; `r1 ≠ r2` distinct from
//! `i` and the base), crosses it with `x_i` binomially (each coordinate from `v` with
//! probability `CR`, at least one), and keeps the trial if it is no worse. With dithering
//! `F` is drawn uniformly per generation from a range (Das et al. 2005).
//!
//! DE needs a finite search box: `bounds` where they are finite, and otherwise the box
//! `x0 ± init_radius` (intersected with any finite end); see
//! [`super::multi_start::search_box`]. The initial population is uniform in the
//! box plus `x0` itself; trial coordinates that leave the box are redrawn uniformly inside
//! it, so no evaluated point ever leaves the box. All randomness comes from a ChaCha8
//! generator seeded with `seed`: the same seed gives a bit-identical [`Minimum`].

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::multi_start::search_box;
use super::schedule::dist;
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use crate::solver::{Limits, Minimum, Solver, Status, Stop};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// How the base vector of the mutation is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// `DE/rand/1/bin`: a random member (robust, slower).
    #[default]
    Rand1Bin,
    /// `DE/best/1/bin`: the current best member (greedy, faster).
    Best1Bin,
}

/// Differential evolution settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DifferentialEvolution {
    /// Mutation strategy.
    pub strategy: Strategy,
    /// Population size per dimension (total `max(5, pop_per_dim·n)`).
    pub pop_per_dim: usize,
    /// Differential weight `F`.
    pub f: f64,
    /// Crossover probability `CR`.
    pub cr: f64,
    /// Draw `F` per generation uniformly from `[lo, hi]` instead of using `f`.
    pub dither: Option<(f64, f64)>,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Half-width of the search box around `x0` along coordinates without finite bounds.
    pub init_radius: f64,
    /// Converged when `std(costs) ≤ atol + tol·|mean(costs)|` over the population.
    pub tol: f64,
    /// Absolute part of the convergence test.
    pub atol: f64,
    /// Budgets (`max_iters` counts generations); the tolerances of `Limits` are unused.
    pub limits: Limits,
}

impl Default for DifferentialEvolution {
    fn default() -> Self {
        DifferentialEvolution {
            strategy: Strategy::Rand1Bin,
            pop_per_dim: 15,
            f: 0.7,
            cr: 0.9,
            dither: None,
            seed: 0,
            init_radius: 1.0,
            tol: 1e-10,
            atol: 1e-12,
            limits: Limits { max_iters: 1000, max_evals: 1_000_000, ..Limits::default() },
        }
    }
}

fn eval<P: Objective>(p: &Counted<P>, x: &[f64]) -> f64 {
    match p.value(x) {
        Some(v) if !v.is_nan() => v,
        _ => f64::INFINITY,
    }
}

fn argmin(f: &[f64]) -> usize {
    let mut b = 0;
    for (i, v) in f.iter().enumerate() {
        if *v < f[b] {
            b = i;
        }
    }
    b
}

impl Solver for DifferentialEvolution {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let lim = &self.limits;
        let start = Instant::now();
        let p = Counted::new(problem);
        let n = x0.len();
        let (lo, hi) = search_box(x0, bounds, self.init_radius);
        if n == 0 {
            let f = p.value(&[]).filter(|v| !v.is_nan());
            let stop = if f.is_some() { Stop::CostTolerance } else { Stop::Infeasible };
            let cost = f.unwrap_or(f64::NAN);
            return Minimum { x: vec![], cost, stop, iters: 0, evals: p.evals() };
        }
        let np = (self.pop_per_dim * n).max(5);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut pop = vec![0.0; np * n];
        let mut cost = vec![0.0; np];
        let mut trial = vec![0.0; n];
        let mut prev_best = vec![0.0; n];
        for i in 0..np {
            let row = &mut pop[i * n..(i + 1) * n];
            if i == 0 {
                for j in 0..n {
                    row[j] = x0[j].clamp(lo[j], hi[j]);
                }
            } else {
                for j in 0..n {
                    row[j] = lo[j] + (hi[j] - lo[j]) * rng.random::<f64>();
                }
            }
            cost[i] = eval(&p, row);
        }
        let mut best = argmin(&cost);
        obs.observe(&Iterate {
            iter: 0,
            cost: cost[best],
            grad_norm: f64::NAN,
            step: 0.0,
            rate: self.f,
        });
        let mut gen = 0u32;
        let stop = loop {
            let mean = cost.iter().sum::<f64>() / np as f64;
            let var = cost.iter().map(|c| (c - mean) * (c - mean)).sum::<f64>() / np as f64;
            if var.sqrt() <= self.atol + self.tol * mean.abs() {
                break Stop::CostTolerance;
            }
            if let Some(stop) = lim.check(&Status::budget(gen, p.evals().total(), Some(start))) {
                break stop;
            }
            let f = match self.dither {
                Some((a, b)) => a + (b - a) * rng.random::<f64>(),
                None => self.f,
            };
            prev_best.copy_from_slice(&pop[best * n..(best + 1) * n]);
            // Immediate replacement (each accepted trial is visible to later members of the
            // same generation), which converges faster than the generational form.
            for i in 0..np {
                let base = match self.strategy {
                    Strategy::Rand1Bin => pick(&mut rng, np, &[i]),
                    Strategy::Best1Bin => best,
                };
                let r1 = pick(&mut rng, np, &[i, base]);
                let r2 = pick(&mut rng, np, &[i, base, r1]);
                let jrand = rng.random_range(0..n);
                for j in 0..n {
                    trial[j] = if j == jrand || rng.random::<f64>() < self.cr {
                        let v = pop[base * n + j] + f * (pop[r1 * n + j] - pop[r2 * n + j]);
                        if v >= lo[j] && v <= hi[j] {
                            v
                        } else {
                            lo[j] + (hi[j] - lo[j]) * rng.random::<f64>()
                        }
                    } else {
                        pop[i * n + j]
                    };
                }
                let ft = eval(&p, &trial);
                if ft <= cost[i] {
                    pop[i * n..(i + 1) * n].copy_from_slice(&trial);
                    cost[i] = ft;
                    if ft < cost[best] {
                        best = i;
                    }
                }
            }
            gen += 1;
            obs.observe(&Iterate {
                iter: gen,
                cost: cost[best],
                grad_norm: f64::NAN,
                step: dist(&pop[best * n..(best + 1) * n], &prev_best),
                rate: f,
            });
        };
        if !cost[best].is_finite() {
            return Minimum {
                x: pop[best * n..(best + 1) * n].to_vec(),
                cost: f64::NAN,
                stop: Stop::Infeasible,
                iters: gen,
                evals: p.evals(),
            };
        }
        Minimum {
            x: pop[best * n..(best + 1) * n].to_vec(),
            cost: cost[best],
            stop,
            iters: gen,
            evals: p.evals(),
        }
    }
}

/// A uniform index in `0..np` different from every entry of `avoid` (`np ≥ 5` and
/// `avoid.len() ≤ 3`, so this terminates).
fn pick(rng: &mut ChaCha8Rng, np: usize, avoid: &[usize]) -> usize {
    loop {
        let r = rng.random_range(0..np);
        if !avoid.contains(&r) {
            return r;
        }
    }
}
