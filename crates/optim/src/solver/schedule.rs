//! Learning-rate schedules, gradient clipping and the stopping bookkeeping shared by the
//! first-order solvers (gradient descent, momentum, Nesterov, Adam/AdamW, RMSProp).
//!
//! A [`Schedule`] turns the solver's base rate `η₀` into the rate `η_k` of iteration `k`
//! (`k` starts at 0); a [`Clip`] limits the gradient before the update rule sees it. The
//! stopping rules live in [`Control`]: [`Limits`] (gradient, cost-over-a-window and step
//! tolerances, iteration/evaluation/time budgets) plus a stall patience.

use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use crate::solver::{Decrease, Limits, Minimum, Status, Stop};
use std::f64::consts::PI;
use std::time::Instant;

/// How the learning rate changes with the iteration number `k`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Schedule {
    /// `η_k = η₀`.
    #[default]
    Constant,
    /// `η_k = η₀·factor^⌊k/every⌋` (piecewise constant decay).
    Step {
        /// Iterations between drops (0 behaves like 1).
        every: u32,
        /// Multiplier applied at each drop.
        factor: f64,
    },
    /// `η_k = η₀·decay^k`.
    Exponential {
        /// Per-iteration multiplier, e.g. 0.999.
        decay: f64,
    },
    /// Cosine annealing from `η₀` down to `η₀·floor` over `period` iterations (constant
    /// at the floor afterwards): `η_k = η₀·(floor + (1 − floor)·½(1 + cos(π·k/period)))`.
    Cosine {
        /// Iterations of the half cosine (0 behaves like 1).
        period: u32,
        /// Final fraction of the base rate.
        floor: f64,
    },
    /// Linear warm-up from `η₀/iters` to `η₀` over `iters` iterations, then `after`
    /// counted from the end of the warm-up.
    WarmUp {
        /// Warm-up length.
        iters: u32,
        /// Schedule used once the warm-up is over.
        after: Box<Schedule>,
    },
}

impl Schedule {
    /// The multiplier `η_k/η₀` at iteration `k`.
    pub fn factor(&self, k: u32) -> f64 {
        match self {
            Schedule::Constant => 1.0,
            Schedule::Step { every, factor } => factor.powi((k / (*every).max(1)) as i32),
            Schedule::Exponential { decay } => decay.powf(f64::from(k)),
            Schedule::Cosine { period, floor } => {
                let t = (f64::from(k) / f64::from((*period).max(1))).min(1.0);
                floor + (1.0 - floor) * 0.5 * (1.0 + (PI * t).cos())
            }
            Schedule::WarmUp { iters, after } => {
                if k < *iters {
                    f64::from(k + 1) / f64::from(*iters)
                } else {
                    after.factor(k - iters)
                }
            }
        }
    }
}

/// Gradient clipping, applied to the gradient before the update rule sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Clip {
    /// No clipping.
    #[default]
    None,
    /// Rescale `g` so that `‖g‖₂ ≤ max`.
    Norm(f64),
    /// Clamp each component to `[−max, max]`.
    Value(f64),
}

impl Clip {
    /// Clips `g` in place.
    pub fn apply(&self, g: &mut [f64]) {
        match *self {
            Clip::None => {}
            Clip::Norm(max) => {
                let norm = norm2(g);
                if norm > max && norm.is_finite() {
                    let s = max / norm;
                    g.iter_mut().for_each(|v| *v *= s);
                }
            }
            Clip::Value(max) => g.iter_mut().for_each(|v| *v = v.clamp(-max, max)),
        }
    }
}

/// Stopping rules, schedule and clipping shared by every first-order solver.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Control {
    /// Tolerances and budgets. `cost_tol` is tested over `window` iterations:
    /// stop when `|f_k − f_{k−window}| ≤ cost_tol·max(|f_{k−window}|, 1e-300)`.
    pub limits: Limits,
    /// Learning-rate schedule (multiplies the solver's base rate).
    pub schedule: Schedule,
    /// Gradient clipping.
    pub clip: Clip,
    /// Window (iterations) of the cost tolerance test; at least 1.
    pub window: u32,
    /// Stop with [`Stop::Stalled`] when the best cost has not improved for this many
    /// iterations.
    pub patience: u32,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            limits: Limits::default(),
            schedule: Schedule::Constant,
            clip: Clip::None,
            window: 10,
            patience: 200,
        }
    }
}

/// Euclidean norm.
pub(crate) fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// Max-norm of the projected gradient `x − P(x − g)` (plain max-norm of `g` unbounded).
pub(crate) fn projected_grad_norm(x: &[f64], g: &[f64], bounds: Option<&Bounds>) -> f64 {
    match bounds {
        None => g.iter().fold(0.0, |m, v| m.max(v.abs())),
        Some(b) => x
            .iter()
            .zip(g)
            .zip(b.lower().iter().zip(b.upper()))
            .map(|((&xi, &gi), (&l, &u))| (xi - (xi - gi).clamp(l, u)).abs())
            .fold(0.0, f64::max),
    }
}

/// Distance between two points.
pub(crate) fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt()
}

/// Per-call bookkeeping of a first-order run: best point, cost window, stall counter,
/// budgets. Allocated once per call.
pub(crate) struct Progress<'a> {
    ctl: &'a Control,
    start: Instant,
    pub best_x: Vec<f64>,
    pub best_cost: f64,
    ring: Vec<f64>,
    since_best: u32,
    pub iter: u32,
}

impl<'a> Progress<'a> {
    pub fn new(ctl: &'a Control, x0: &[f64], f0: f64) -> Self {
        let w = ctl.window.max(1) as usize;
        let mut ring = vec![f64::NAN; w + 1];
        ring[0] = f0;
        Progress {
            ctl,
            start: Instant::now(),
            best_x: x0.to_vec(),
            best_cost: f0,
            ring,
            since_best: 0,
            iter: 0,
        }
    }

    /// Budgets checked before starting an iteration.
    pub fn budget<P>(&self, counted: &Counted<P>) -> Option<Stop> {
        self.ctl.limits.check(&Status::budget(self.iter, counted.evals().total(), Some(self.start)))
    }

    /// Records the accepted iterate `x` (cost `f`, gradient `g`, step length `step`) and
    /// returns a stop reason when a tolerance is met.
    pub fn accept(
        &mut self,
        x: &[f64],
        f: f64,
        g: &[f64],
        step: f64,
        bounds: Option<&Bounds>,
    ) -> Option<Stop> {
        self.iter += 1;
        if f < self.best_cost {
            self.best_cost = f;
            self.best_x.copy_from_slice(x);
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        let lim = &self.ctl.limits;
        let status = Status {
            grad_norm: Some(projected_grad_norm(x, g, bounds)),
            step: Some((step, norm2(x))),
            ..Status::default()
        };
        if let Some(stop) = lim.check(&status) {
            return Some(stop);
        }
        let w = self.ring.len();
        let slot = self.iter as usize % w;
        self.ring[slot] = f;
        if self.iter as usize >= w - 1 {
            let old = self.ring[(self.iter as usize + 1) % w];
            let change =
                Decrease { actual: (f - old).abs(), predicted: None, scale: old.abs().max(1e-300) };
            if let Some(stop) = lim.check(&Status { decrease: Some(change), ..Status::default() }) {
                return Some(stop);
            }
        }
        if self.since_best >= self.ctl.patience {
            return Some(Stop::Stalled);
        }
        None
    }

    pub fn finish<P>(self, stop: Stop, counted: &Counted<P>) -> Minimum {
        Minimum {
            x: self.best_x,
            cost: self.best_cost,
            stop,
            iters: self.iter,
            evals: counted.evals(),
        }
    }
}

/// An update rule of a momentum-type method: given the clipped gradient `g` at `x` and
/// the rate, writes the proposed next point into `x_new`. State is held by the rule
/// (allocated once per call).
pub(crate) trait Rule {
    /// Writes the proposal; `k` counts updates from 0.
    fn propose(&mut self, k: u32, x: &[f64], g: &[f64], rate: f64, x_new: &mut [f64]);
    /// Forgets the accumulated state (after a point that could not be evaluated).
    fn reset(&mut self);
}

/// The start shared by every first-order method: project `x0` into the box, evaluate it and
/// report iterate 0. Returns the point, its gradient, cost and progress tracker, or the
/// finished [`Minimum`] when the start cannot be evaluated (`Infeasible`) or already meets
/// the gradient tolerance.
#[allow(clippy::type_complexity)]
pub(crate) fn start<'a, P: Objective>(
    counted: &Counted<P>,
    x0: &[f64],
    bounds: Option<&Bounds>,
    obs: &mut dyn Observer,
    ctl: &'a Control,
    base_rate: f64,
) -> Result<(Vec<f64>, Vec<f64>, f64, Progress<'a>), Minimum> {
    let mut x = x0.to_vec();
    if let Some(b) = bounds {
        b.project(&mut x);
    }
    let mut g = vec![0.0; x.len()];
    let Some(f) = counted.value_grad(&x, &mut g).filter(|v| !v.is_nan()) else {
        return Err(Minimum {
            x,
            cost: f64::NAN,
            stop: Stop::Infeasible,
            iters: 0,
            evals: counted.evals(),
        });
    };
    let prog = Progress::new(ctl, &x, f);
    obs.observe(&Iterate {
        iter: 0,
        cost: f,
        grad_norm: norm2(&g),
        step: 0.0,
        rate: base_rate * ctl.schedule.factor(0),
    });
    let status =
        Status { grad_norm: Some(projected_grad_norm(&x, &g, bounds)), ..Status::default() };
    if let Some(stop) = ctl.limits.check(&status) {
        return Err(prog.finish(stop, counted));
    }
    Ok((x, g, f, prog))
}

/// The loop shared by momentum, Nesterov, Adam/AdamW and RMSProp: clip, propose,
/// project, evaluate (halving the move toward `x` while the problem cannot be
/// evaluated), track the best point, report, test the stopping rules.
pub(crate) fn run_rule<P: Objective, R: Rule>(
    problem: &P,
    x0: &[f64],
    bounds: Option<&Bounds>,
    obs: &mut dyn Observer,
    ctl: &Control,
    base_rate: f64,
    rule: &mut R,
) -> Minimum {
    let counted = Counted::new(problem);
    let n = x0.len();
    let (mut x, mut g, _, mut prog) = match start(&counted, x0, bounds, obs, ctl, base_rate) {
        Ok(s) => s,
        Err(done) => return done,
    };
    let mut gc = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let stop = loop {
        if let Some(s) = prog.budget(&counted) {
            break s;
        }
        let k = prog.iter;
        let rate = base_rate * ctl.schedule.factor(k);
        gc.copy_from_slice(&g);
        ctl.clip.apply(&mut gc);
        rule.propose(k, &x, &gc, rate, &mut x_new);
        if let Some(b) = bounds {
            b.project(&mut x_new);
        }
        let mut f_new = counted.value_grad(&x_new, &mut g_new).filter(|v| !v.is_nan());
        let mut tries = 0;
        while f_new.is_none() && tries < 40 {
            // Cannot evaluate here: move halfway back toward x (stays in the box, which
            // is convex) and forget the momentum that led out of the domain.
            rule.reset();
            for (xn, &xi) in x_new.iter_mut().zip(&x) {
                *xn = 0.5 * (*xn + xi);
            }
            f_new = counted.value_grad(&x_new, &mut g_new).filter(|v| !v.is_nan());
            tries += 1;
        }
        let Some(fv) = f_new else {
            break Stop::Stalled;
        };
        let step = dist(&x_new, &x);
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let f = fv;
        let stop = prog.accept(&x, f, &g, step, bounds);
        obs.observe(&Iterate { iter: prog.iter, cost: f, grad_norm: norm2(&g), step, rate });
        if let Some(s) = stop {
            break s;
        }
    };
    prog.finish(stop, &counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_closed_forms() {
        // Closed forms of each schedule's definition.
        assert_eq!(Schedule::Constant.factor(7), 1.0);
        let s = Schedule::Step { every: 10, factor: 0.5 };
        assert_eq!((s.factor(9), s.factor(10), s.factor(25)), (1.0, 0.5, 0.25));
        let e = Schedule::Exponential { decay: 0.9 };
        assert!((e.factor(3) - 0.729).abs() < 1e-15);
        let c = Schedule::Cosine { period: 100, floor: 0.1 };
        assert!((c.factor(0) - 1.0).abs() < 1e-15);
        assert!((c.factor(50) - 0.55).abs() < 1e-15);
        assert!((c.factor(100) - 0.1).abs() < 1e-15);
        assert!((c.factor(1000) - 0.1).abs() < 1e-15);
        let w = Schedule::WarmUp { iters: 4, after: Box::new(e) };
        assert_eq!((w.factor(0), w.factor(3)), (0.25, 1.0));
        assert!((w.factor(6) - 0.81).abs() < 1e-15);
    }

    #[test]
    fn clipping_by_norm_and_value() {
        // 3-4-5 triangle: norm 5 rescaled to 1 gives (0.6, 0.8).
        let mut g = [3.0, 4.0];
        Clip::Norm(1.0).apply(&mut g);
        assert!((g[0] - 0.6).abs() < 1e-15 && (g[1] - 0.8).abs() < 1e-15);
        let mut g = [3.0, -4.0, 0.5];
        Clip::Value(1.0).apply(&mut g);
        assert_eq!(g, [1.0, -1.0, 0.5]);
        let mut g = [0.3, 0.4];
        Clip::Norm(1.0).apply(&mut g);
        assert_eq!(g, [0.3, 0.4]);
    }
}
