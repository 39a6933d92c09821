//! Multi-start local search from low-discrepancy starting points, and global-then-local
//! polishing.
//!
//! [`MultiStart`] runs its local solver from `x0` and then from `starts` points of a Sobol
//! or Halton sequence mapped into the search box (see [`search_box`]), and returns the best
//! local minimum; it is deterministic (the only randomness, Halton scrambling, is seeded).
//! [`Polish`] runs a global solver and refines its answer with a local one.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::lowdisc::{Points, SequenceKind};
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Evals, Objective};
use crate::solver::{Minimum, Solver, Stop};

/// The finite search box of a global method: for each coordinate, the bounds where both
/// ends are finite, and otherwise `x0_i ± radius` intersected with the finite end (if
/// any). `x0` is projected onto `bounds` first. Returns `(lower, upper)`.
pub fn search_box(x0: &[f64], bounds: Option<&Bounds>, radius: f64) -> (Vec<f64>, Vec<f64>) {
    let n = x0.len();
    let mut lo = vec![0.0; n];
    let mut hi = vec![0.0; n];
    for i in 0..n {
        let (bl, bu) =
            bounds.map_or((f64::NEG_INFINITY, f64::INFINITY), |b| (b.lower()[i], b.upper()[i]));
        let c = x0[i].clamp(bl, bu);
        if bl.is_finite() && bu.is_finite() {
            lo[i] = bl;
            hi[i] = bu;
        } else {
            lo[i] = (c - radius).max(bl);
            hi[i] = (c + radius).min(bu);
        }
    }
    (lo, hi)
}

fn add(a: Evals, b: Evals) -> Evals {
    Evals { values: a.values + b.values, gradients: a.gradients + b.gradients }
}

/// Local search from many starting points.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MultiStart<S> {
    /// The local solver run from each start.
    pub local: S,
    /// Number of low-discrepancy starts (in addition to `x0`).
    pub starts: usize,
    /// Which sequence spreads the starts.
    pub sequence: SequenceKind,
    /// Seed of the Halton scrambling (unused by Sobol).
    pub seed: u64,
    /// Half-width of the search box along coordinates without finite bounds.
    pub init_radius: f64,
}

impl<S: Default> Default for MultiStart<S> {
    fn default() -> Self {
        MultiStart {
            local: S::default(),
            starts: 32,
            sequence: SequenceKind::Sobol,
            seed: 0,
            init_radius: 1.0,
        }
    }
}

impl<S: Solver> Solver for MultiStart<S> {
    /// Reports one [`Iterate`] per local run: `iter` is the run number, `cost` the best
    /// cost so far, `step` the distance of that run's answer from its start.
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let n = x0.len();
        let (lo, hi) = search_box(x0, bounds, self.init_radius);
        let mut start: Vec<f64> =
            x0.iter().zip(lo.iter().zip(&hi)).map(|(&v, (&l, &u))| v.clamp(l, u)).collect();
        let mut u = vec![0.0; n];
        let mut points = if n > 0 { Points::new(self.sequence, n, self.seed).ok() } else { None };
        let mut best: Option<Minimum> = None;
        let mut evals = Evals::default();
        let mut iters = 0u32;
        for run in 0..=self.starts {
            if run > 0 {
                let Some(pts) = points.as_mut() else { break };
                pts.next_into(&mut u);
                for j in 0..n {
                    start[j] = lo[j] + (hi[j] - lo[j]) * u[j];
                }
            }
            let m = self.local.minimize_bounded(problem, &start, bounds, &mut ());
            evals = add(evals, m.evals);
            iters = iters.saturating_add(m.iters);
            let step = super::schedule::dist(&m.x, &start);
            let better = match &best {
                None => m.cost.is_finite() || m.stop != Stop::Infeasible,
                Some(b) => m.cost < b.cost || (b.cost.is_nan() && !m.cost.is_nan()),
            };
            if better {
                best = Some(m);
            }
            let cost = best.as_ref().map_or(f64::NAN, |b| b.cost);
            obs.observe(&Iterate {
                iter: run as u32,
                cost,
                grad_norm: f64::NAN,
                step,
                rate: f64::NAN,
            });
        }
        match best {
            Some(b) => Minimum { evals, iters, ..b },
            None => Minimum { x: start, cost: f64::NAN, stop: Stop::Infeasible, iters, evals },
        }
    }
}

/// A global search followed by a local refinement of its answer.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Polish<G, L> {
    /// The global solver, run from `x0`.
    pub global: G,
    /// The local solver, run from the global answer.
    pub local: L,
}

impl<G: Solver, L: Solver> Solver for Polish<G, L> {
    /// Both runs report their iterates to `obs` (the local run's numbering restarts at
    /// 0). Returns the better of the two answers, with evaluations and iterations summed.
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let g = self.global.minimize_bounded(problem, x0, bounds, obs);
        let from = if g.x.len() == x0.len() { g.x.clone() } else { x0.to_vec() };
        let l = self.local.minimize_bounded(problem, &from, bounds, obs);
        let evals = add(g.evals, l.evals);
        let iters = g.iters.saturating_add(l.iters);
        if l.cost <= g.cost || g.cost.is_nan() {
            Minimum { evals, iters, ..l }
        } else {
            Minimum { evals, iters, ..g }
        }
    }
}
