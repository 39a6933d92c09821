//! `calibrate`: one model family, one set of quotes, one [`FitSpec`] → a [`Calibration`].
//!
//! The cost is the optimizer crate's robust sum `½ Σ wᵢ ρ(rᵢ²) + ridge`, defined once over
//! [`QuoteResiduals`]. Solvers work in free coordinates (each parameter's [`Domain`] mapped
//! to ℝ by `volfit_optim::Transformed`), except L-BFGS-B, which works on the model's own
//! coordinates with true box bounds. Global solvers (DE, CMA-ES) search a box around the
//! start in free coordinates and are polished by Levenberg–Marquardt. Extra starts
//! (`spec.starts > 1`) come from a Sobol sequence around the start; the best fit wins.

use super::problem::{QuoteResiduals, VolModel};
use super::spec::{FitSpec, RidgeTarget, SolverKind};
use crate::model::Domain;
use crate::objective::Target;
use std::time::Instant;
use volfit_optim::covariance;
use volfit_optim::loss::{Loss, LossKind};
use volfit_optim::solver::adam::Adam;
use volfit_optim::solver::cma_es::CmaEs;
use volfit_optim::solver::differential_evolution::DifferentialEvolution;
use volfit_optim::solver::gradient_descent::GradientDescent;
use volfit_optim::solver::lbfgs::Lbfgs;
use volfit_optim::solver::lbfgsb::LbfgsB;
use volfit_optim::solver::levenberg_marquardt::LevenbergMarquardt;
use volfit_optim::solver::lowdisc::Sobol;
use volfit_optim::solver::momentum::Momentum;
use volfit_optim::solver::nelder_mead::NelderMead;
use volfit_optim::solver::nesterov::Nesterov;
use volfit_optim::solver::rmsprop::RmsProp;
use volfit_optim::solver::schedule::{Control, Schedule};
use volfit_optim::{
    diagnose, Bounds, Diagnosis, Limits, Minimum, Objective, Residuals, RobustSum, Solver, Stop,
    Thresholds, Trace, Transformed,
};

/// Why a calibration could not even start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// Fewer usable quotes than parameters.
    #[error("{quotes} usable quotes for {params} parameters")]
    TooFewQuotes {
        /// Usable quotes.
        quotes: usize,
        /// Parameters.
        params: usize,
    },
    /// The start vector lies outside the model's domain.
    #[error("start point outside the model's domain: {0:?}")]
    BadStart(Vec<f64>),
    /// The model cannot be evaluated at the start.
    #[error("model cannot be evaluated at the start point")]
    Infeasible,
    /// Inconsistent inputs (weights, priors) — a programming error upstream.
    #[error("invalid fit setup: {0}")]
    Setup(String),
}

/// What came out of one calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Fitted parameters in model coordinates.
    pub x: Vec<f64>,
    /// The solver's result (its `x` in the solver's coordinates; `cost` is the fit's loss).
    pub minimum: Minimum,
    /// Model implied vol per target.
    pub model_vols: Vec<f64>,
    /// Residual per target (in the spec's residual kind).
    pub residuals: Vec<f64>,
    /// Weight per target.
    pub weights: Vec<f64>,
    /// Effective robust weight `wᵢ ρ'(rᵢ²)` per target.
    pub effective_weights: Vec<f64>,
    /// Outlier flag per target (`ρ' < ½`).
    pub outliers: Vec<bool>,
    /// Standard errors in model coordinates (sandwich form under robust losses,
    /// Gauss–Newton under least squares); `None` when the information matrix is singular.
    pub std_errors: Option<Vec<f64>>,
    /// Every accepted iterate of the (final) solver run.
    pub trace: Trace,
    /// Warnings derived from the trace.
    pub diagnosis: Diagnosis,
    /// Wall time in microseconds.
    pub time_us: u64,
}

/// Iteration and evaluation limits for a solver kind. First-order methods take many cheap
/// steps, so they get 25× the spec's iteration budget; `cost_tol` is the family's
/// ([`VolModel::cost_tolerance`]).
fn limits_for(spec: &FitSpec, kind: SolverKind, cost_tol: f64) -> Limits {
    let first_order = matches!(
        kind,
        SolverKind::Gd
            | SolverKind::Momentum
            | SolverKind::Nesterov
            | SolverKind::Adam
            | SolverKind::Adamw
            | SolverKind::Rmsprop
    );
    let iters = if first_order || kind == SolverKind::NelderMead {
        spec.max_iters.saturating_mul(25)
    } else {
        spec.max_iters
    };
    Limits {
        max_iters: iters,
        max_evals: 200_000,
        grad_tol: 1e-12,
        cost_tol,
        step_tol: 1e-12,
        ..Limits::default()
    }
}

/// Where a local solve works: free coordinates (every parameter's [`Domain`] mapped to ℝ),
/// or model coordinates on the domain box with true bounds.
struct Coordinates<'a, R> {
    free: &'a Transformed<RobustSum<R, LossKind>>,
    bounds: &'a Bounds,
    /// Levenberg–Marquardt on the box ([`VolModel::prefers_box_bounds`]).
    box_lm: bool,
}

impl<R: Residuals> Coordinates<'_, R> {
    /// Runs `solve` in model coordinates on the box from the model point of `y0`, and
    /// reports the result in free coordinates like every other local solve.
    fn on_box(
        &self,
        y0: &[f64],
        solve: impl FnOnce(&RobustSum<R, LossKind>, &[f64]) -> Minimum,
    ) -> Minimum {
        let mut x0 = vec![0.0; y0.len()];
        self.free.from_free(y0, &mut x0);
        self.bounds.project(&mut x0);
        let mut m = solve(self.free.inner(), &x0);
        let mut y = vec![0.0; m.x.len()];
        if self.free.to_free(&m.x, &mut y).is_some() {
            m.x = y;
        } else {
            m.x = y0.to_vec();
            m.stop = Stop::Infeasible;
        }
        m
    }
}

/// Runs one local solve of `kind` from `y0` (free coordinates): in free coordinates, or on
/// the model's box with true bounds for L-BFGS-B (and for LM when the family asks for it).
fn local<R: Residuals>(
    kind: SolverKind,
    spec: &FitSpec,
    cost_tol: f64,
    at: &Coordinates<'_, R>,
    y0: &[f64],
    trace: &mut Trace,
) -> Minimum {
    let free = at.free;
    let limits = limits_for(spec, kind, cost_tol);
    let control = Control {
        limits,
        schedule: Schedule::Cosine { floor: 0.05, period: limits.max_iters },
        ..Control::default()
    };
    match kind {
        SolverKind::Lm | SolverKind::De | SolverKind::Cmaes if at.box_lm => at
            .on_box(y0, |p, x0| {
                LevenbergMarquardt::new(limits).minimize(p, x0, Some(at.bounds), trace)
            }),
        SolverKind::Lm | SolverKind::De | SolverKind::Cmaes => {
            LevenbergMarquardt::new(limits).minimize(free, y0, None, trace)
        }
        SolverKind::Lbfgs => Lbfgs { limits, ..Lbfgs::default() }.minimize(free, y0, trace),
        SolverKind::Lbfgsb => at.on_box(y0, |p, x0| {
            LbfgsB { limits, ..LbfgsB::default() }.minimize_bounded(p, x0, Some(at.bounds), trace)
        }),
        SolverKind::Gd => {
            GradientDescent { control, ..GradientDescent::default() }.minimize(free, y0, trace)
        }
        SolverKind::Momentum => {
            Momentum { lr: 0.02, control, ..Momentum::default() }.minimize(free, y0, trace)
        }
        SolverKind::Nesterov => {
            Nesterov { lr: 0.02, control, ..Nesterov::default() }.minimize(free, y0, trace)
        }
        SolverKind::Adam => Adam { lr: 0.02, control, ..Adam::default() }.minimize(free, y0, trace),
        SolverKind::Adamw => Adam { lr: 0.02, weight_decay: 1e-4, control, ..Adam::default() }
            .minimize(free, y0, trace),
        SolverKind::Rmsprop => {
            RmsProp { lr: 0.01, control, ..RmsProp::default() }.minimize(free, y0, trace)
        }
        SolverKind::NelderMead => NelderMead { limits, initial_step: 0.2, ..NelderMead::default() }
            .minimize(free, y0, trace),
    }
}

/// Box bounds in model coordinates from the domains (open ends nudged inward), for
/// L-BFGS-B.
fn model_bounds(domains: &[Domain]) -> Bounds {
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    for d in domains {
        let (l, h) = match *d {
            Domain::Positive => (1e-10, f64::INFINITY),
            Domain::Lower(a) => (a + 1e-10 * (1.0 + a.abs()), f64::INFINITY),
            Domain::Upper(b) => (f64::NEG_INFINITY, b - 1e-10 * (1.0 + b.abs())),
            Domain::Interval(a, b) => {
                let eps = 1e-9 * (b - a);
                (a + eps, b - eps)
            }
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        };
        lo.push(l);
        hi.push(h);
    }
    Bounds::new(lo, hi).unwrap_or_else(|_| Bounds::unbounded(domains.len()))
}

/// Calibrates `model` to `targets` under `spec` from the start `x0` (model coordinates).
/// `prior` is the previous snapshot's fit, used by ridge toward `prev`.
///
/// # Errors
/// [`FitError`] when the fit cannot start (too few quotes, start outside the domain or not
/// evaluable). Non-convergence is not an error: see `Calibration::minimum.stop`.
pub fn calibrate<V: VolModel>(
    model: &V,
    targets: &[Target],
    spec: &FitSpec,
    x0: &[f64],
    prior: Option<&[f64]>,
) -> Result<Calibration, FitError> {
    let started = Instant::now();
    let n = model.num_params();
    if targets.len() < n {
        return Err(FitError::TooFewQuotes { quotes: targets.len(), params: n });
    }
    let weights = spec.weight.weights(targets, spec.weight_cap);
    let residuals = QuoteResiduals::new(model, targets, spec.residual);
    let mut robust = RobustSum::new(residuals, spec.loss)
        .with_weights(weights.clone())
        .map_err(|e| FitError::Setup(e.to_string()))?;
    if let Some(r) = spec.ridge.filter(|r| r.lambda > 0.0) {
        let toward = match r.toward {
            RidgeTarget::Prev => prior.map(<[f64]>::to_vec),
            RidgeTarget::Zero => Some(vec![0.0; n]),
        };
        if let Some(p) = toward {
            let ridge = volfit_optim::Ridge::toward(r.lambda, vec![1.0; n], p)
                .map_err(|e| FitError::Setup(e.to_string()))?;
            robust = robust.with_penalty(ridge).map_err(|e| FitError::Setup(e.to_string()))?;
        }
    }
    if spec.arbitrage_penalty > 0.0 {
        // Smile penalties act on a handful of parameters: a stack buffer keeps the hot path
        // free of allocation.
        if let Some(pen) = model.arbitrage_penalty().filter(|_| n <= 16) {
            let w = spec.arbitrage_penalty;
            let scaled =
                volfit_optim::penalty::FnPenalty::new(n, move |x: &[f64], g: &mut [f64]| {
                    let mut local = vec![0.0; x.len()];
                    let p = pen(x, &mut local);
                    for (a, b) in g.iter_mut().zip(local.iter()) {
                        *a += w * b;
                    }
                    w * p
                });
            robust = robust.with_penalty(scaled).map_err(|e| FitError::Setup(e.to_string()))?;
        }
    }
    let domains = model.domains();
    // Only L-BFGS-B, and LM for families that ask for it, work with true box bounds.
    let box_lm = model.prefers_box_bounds();
    let bounds = if spec.solver == SolverKind::Lbfgsb || box_lm {
        model_bounds(&domains)
    } else {
        Bounds::unbounded(0)
    };
    let free = Transformed::new(robust, domains).map_err(|e| FitError::Setup(e.to_string()))?;
    let mut y0 = vec![0.0; n];
    free.to_free(x0, &mut y0).ok_or_else(|| FitError::BadStart(x0.to_vec()))?;
    // Levenberg–Marquardt's first step evaluates the start itself and stops at once,
    // `Stop::Infeasible` after no iteration, when it cannot (checked below).
    let lm_checks_start = spec.solver == SolverKind::Lm;
    if !lm_checks_start {
        free.value(&y0).filter(|c| c.is_finite()).ok_or(FitError::Infeasible)?;
    }

    let cost_tol = model.cost_tolerance();
    let at = Coordinates { free: &free, bounds: &bounds, box_lm };
    // Room for a typical local solve's iterates without regrowing.
    let mut trace = Trace { iterates: Vec::with_capacity(16) };
    let mut best = match spec.solver {
        SolverKind::De | SolverKind::Cmaes => {
            let limits =
                Limits { max_iters: spec.max_iters, ..limits_for(spec, spec.solver, cost_tol) };
            let radius = 2.0;
            let lo: Vec<f64> = y0.iter().map(|v| v - radius).collect();
            let hi: Vec<f64> = y0.iter().map(|v| v + radius).collect();
            let search = Bounds::new(lo, hi).map_err(|e| FitError::Setup(e.to_string()))?;
            let global = if spec.solver == SolverKind::De {
                DifferentialEvolution {
                    seed: spec.seed,
                    limits,
                    ..DifferentialEvolution::default()
                }
                .minimize_bounded(&free, &y0, Some(&search), &mut ())
            } else {
                CmaEs { seed: spec.seed, limits, ..CmaEs::default() }.minimize_bounded(
                    &free,
                    &y0,
                    Some(&search),
                    &mut (),
                )
            };
            let start = if global.cost.is_finite() { global.x.clone() } else { y0.clone() };
            let mut polished = local(SolverKind::Lm, spec, cost_tol, &at, &start, &mut trace);
            polished.iters += global.iters;
            polished.evals.values += global.evals.values;
            polished.evals.gradients += global.evals.gradients;
            if global.cost < polished.cost {
                Minimum { evals: polished.evals, iters: polished.iters, ..global }
            } else {
                polished
            }
        }
        kind => local(kind, spec, cost_tol, &at, &y0, &mut trace),
    };
    if lm_checks_start && best.stop == Stop::Infeasible && best.iters == 0 {
        return Err(FitError::Infeasible);
    }
    if spec.starts > 1 {
        let mut sobol = Sobol::new(n).map_err(|e| FitError::Setup(e.to_string()))?;
        let mut point = vec![0.0; n];
        for _ in 1..spec.starts {
            sobol.next_into(&mut point);
            let start: Vec<f64> =
                y0.iter().zip(&point).map(|(y, u)| y + 3.0 * (2.0 * u - 1.0)).collect();
            if free.value(&start).is_none_or(|c| !c.is_finite()) {
                continue;
            }
            let mut t = Trace::default();
            let m = local(spec.solver, spec, cost_tol, &at, &start, &mut t);
            if m.cost < best.cost {
                let evals = best.evals;
                best = m;
                best.evals.values += evals.values;
                best.evals.gradients += evals.gradients;
                trace = t;
            } else {
                best.evals.values += m.evals.values;
                best.evals.gradients += m.evals.gradients;
            }
        }
    }
    if !best.cost.is_finite() || best.x.iter().any(|v| !v.is_finite()) {
        best.x = y0.clone();
        best.cost = free.value(&y0).unwrap_or(f64::NAN);
        best.stop = Stop::Infeasible;
    }

    let mut x = vec![0.0; n];
    free.from_free(&best.x, &mut x);
    let robust = free.inner();
    let m = targets.len();
    // One evaluation with the Jacobian serves the model vols and the covariance.
    let mut model_vols = vec![0.0; m];
    let mut jac = vec![0.0; m * n];
    let with_jac = model.vols(&x, targets, &mut model_vols, Some(&mut jac)).is_some();
    if !with_jac {
        model.vols(&x, targets, &mut model_vols, None).ok_or(FitError::Infeasible)?;
    }
    // Residuals (their Jacobian rows in place), effective weights `wᵢρ'` and outlier flags
    // (`ρ' < ½`) from the model vols, as `QuoteResiduals`, `RobustSum::effective_weights`
    // and `outliers` compute them, without re-evaluating the model.
    let mut res = vec![0.0; m];
    let mut effective_weights = vec![0.0; m];
    let mut outliers = vec![false; m];
    for (i, ((q, &s), row)) in targets.iter().zip(&model_vols).zip(jac.chunks_mut(n)).enumerate() {
        let (r, d) = spec.residual.eval(q, s);
        res[i] = r;
        row.iter_mut().for_each(|v| *v *= d);
        let [u, _] = robust.scaling().apply(r);
        let d1 = robust.loss().rho(u * u)[1];
        effective_weights[i] = weights[i] * d1;
        outliers[i] = d1 < 0.5;
    }
    // Only the covariance that is reported: Gauss–Newton under least squares, else sandwich.
    let std_errors = if !with_jac {
        None
    } else if spec.loss == LossKind::Mse {
        covariance::gauss_newton_from(robust, &x, &res, &jac).ok().map(|c| c.std_errors())
    } else {
        covariance::sandwich_from(robust, &x, &res, &jac).ok().map(|c| c.std_errors())
    };
    let diagnosis = diagnose(&trace, &Thresholds::default());
    Ok(Calibration {
        x,
        minimum: best,
        model_vols,
        residuals: res,
        weights,
        effective_weights,
        outliers,
        std_errors,
        trace,
        diagnosis,
        time_us: started.elapsed().as_micros() as u64,
    })
}
