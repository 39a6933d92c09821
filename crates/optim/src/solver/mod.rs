//! Solvers: one trait, immutable settings, all iteration state inside the call.

pub mod adam;
pub mod cma_es;
pub mod differential_evolution;
pub mod gradient_descent;
pub mod lbfgs;
pub mod lbfgsb;
pub mod levenberg_marquardt;
pub mod line_search;
pub mod lowdisc;
pub mod momentum;
pub mod multi_start;
pub mod nelder_mead;
pub mod nesterov;
mod quasi_newton;
pub mod rmsprop;
pub mod schedule;

use crate::observe::Observer;
use crate::problem::{Bounds, Evals, Objective};
use std::time::{Duration, Instant};

/// Why a solver stopped. Stopping is a result, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stop {
    /// The gradient norm fell below its tolerance.
    GradientTolerance,
    /// The relative cost decrease fell below its tolerance.
    CostTolerance,
    /// The step fell below its tolerance.
    StepTolerance,
    /// The iteration limit was reached.
    MaxIters,
    /// The evaluation limit was reached.
    MaxEvals,
    /// The time budget ran out.
    TimeBudget,
    /// No progress over the stall window (or the line search could not find a decrease).
    Stalled,
    /// No feasible point could be evaluated (the start, or every trial point, was outside
    /// the domain).
    Infeasible,
}

impl Stop {
    /// True for the reasons that indicate convergence (tolerances met).
    pub fn converged(self) -> bool {
        matches!(self, Stop::GradientTolerance | Stop::CostTolerance | Stop::StepTolerance)
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Stop::GradientTolerance => "gradient_tolerance",
            Stop::CostTolerance => "cost_tolerance",
            Stop::StepTolerance => "step_tolerance",
            Stop::MaxIters => "max_iters",
            Stop::MaxEvals => "max_evals",
            Stop::TimeBudget => "time_budget",
            Stop::Stalled => "stalled",
            Stop::Infeasible => "infeasible",
        };
        f.write_str(s)
    }
}

/// What came out of a minimisation: best point, its cost, why we stopped, what it cost.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Minimum {
    /// Best point found.
    pub x: Vec<f64>,
    /// Cost at `x`.
    pub cost: f64,
    /// Why the solver stopped.
    pub stop: Stop,
    /// Iterations performed.
    pub iters: u32,
    /// Evaluations of the problem.
    pub evals: Evals,
}

/// Stopping limits and tolerances shared by every solver.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Maximum iterations (generations for population methods).
    pub max_iters: u32,
    /// Maximum evaluations of the problem (value or gradient).
    pub max_evals: u64,
    /// Wall-clock budget; `None` for no limit.
    pub max_time: Option<Duration>,
    /// Stop when the (projected) gradient's max-norm falls below this.
    pub grad_tol: f64,
    /// Stop when the relative cost decrease `(f_old − f_new)/max(|f_old|, tiny)` falls below this.
    pub cost_tol: f64,
    /// Stop when `‖Δx‖ ≤ step_tol·(‖x‖ + step_tol)`.
    pub step_tol: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_iters: 1000,
            max_evals: 100_000,
            max_time: None,
            grad_tol: 1e-10,
            cost_tol: 1e-12,
            step_tol: 1e-12,
        }
    }
}

/// Max-norm of the projected gradient `P(x − g) − x` in the box `[lo, hi]`.
pub(crate) fn projected_grad_norm(x: &[f64], g: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
    let mut m = 0.0f64;
    for i in 0..x.len() {
        // |P(x − g) − x| without the cancellation of forming x − g.
        let v = if g[i] > 0.0 { g[i].min(x[i] - lo[i]) } else { (-g[i]).min(hi[i] - x[i]) };
        m = m.max(v);
    }
    m
}

/// What a solver knows at one of its stopping tests. [`Limits::check`] tests only the limits
/// whose field is given, in the order of the fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Status {
    /// The (projected) gradient's norm, against `grad_tol`.
    pub grad_norm: Option<f64>,
    /// The last step's cost decrease, against `cost_tol`.
    pub decrease: Option<Decrease>,
    /// `(‖Δx‖, ‖x‖)`: the step against `step_tol·(‖x‖ + step_tol)`.
    pub step: Option<(f64, f64)>,
    /// Iterations done, against `max_iters`.
    pub iters: Option<u32>,
    /// Evaluations done, against `max_evals`.
    pub evals: Option<u64>,
    /// When the run started, against `max_time` (the solver sets it only when there is a
    /// time budget, or always).
    pub started: Option<Instant>,
}

impl Status {
    /// The budgets: iterations, evaluations and time.
    pub fn budget(iters: u32, evals: u64, started: Option<Instant>) -> Self {
        Status { iters: Some(iters), evals: Some(evals), started, ..Status::default() }
    }
}

/// A cost decrease for the cost tolerance: it is met when `actual` (and `predicted`, for
/// model-based solvers) is at most `cost_tol·scale`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decrease {
    /// The decrease achieved (or a spread of costs).
    pub actual: f64,
    /// The decrease the solver's model predicted, when it has one.
    pub predicted: Option<f64>,
    /// What the decrease is relative to.
    pub scale: f64,
}

impl Limits {
    /// The first limit that `status` meets, testing gradient, cost decrease, step, iterations,
    /// evaluations and time in that order; `None` when the solver should go on. Every solver
    /// tests its limits here.
    #[inline]
    pub(crate) fn check(&self, status: &Status) -> Option<Stop> {
        if status.grad_norm.is_some_and(|g| g <= self.grad_tol) {
            return Some(Stop::GradientTolerance);
        }
        if let Some(d) = status.decrease {
            let small = self.cost_tol * d.scale;
            if d.actual <= small && d.predicted.is_none_or(|p| p <= small) {
                return Some(Stop::CostTolerance);
            }
        }
        if status.step.is_some_and(|(dx, xn)| dx <= self.step_tol * (xn + self.step_tol)) {
            return Some(Stop::StepTolerance);
        }
        if status.iters.is_some_and(|k| k >= self.max_iters) {
            return Some(Stop::MaxIters);
        }
        if status.evals.is_some_and(|e| e >= self.max_evals) {
            return Some(Stop::MaxEvals);
        }
        if let (Some(t0), Some(budget)) = (status.started, self.max_time) {
            if t0.elapsed() >= budget {
                return Some(Stop::TimeBudget);
            }
        }
        None
    }
}

/// A minimiser of scalar objectives: first-order, quasi-Newton, derivative-free and
/// global methods all implement it.
pub trait Solver {
    /// Minimises `problem` from `x0` within `bounds` (when given), pushing iterates to `obs`.
    /// No iterate ever leaves `bounds`. All iteration state lives inside this call, so a solver
    /// value is `Sync` and reusable across problems and threads.
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum;

    /// Minimises `problem` from `x0` without bounds.
    fn minimize<P: Objective>(&self, problem: &P, x0: &[f64], obs: &mut dyn Observer) -> Minimum {
        self.minimize_bounded(problem, x0, None, obs)
    }
}
