//! `calibrate`: one model family, one set of quotes, one [`FitSpec`] → a [`Calibration`].
//!
//! The cost is the optimizer crate's robust sum `½ Σ wᵢ ρ(rᵢ²) + penalties` (ridge, and a
//! static-arbitrage penalty when asked for), defined once over [`QuoteResiduals`]. Solvers
//! work in free coordinates (each parameter's [`Domain`] mapped to ℝ by
//! `volfit_optim::Transformed`), except L-BFGS-B (and Levenberg–Marquardt for families
//! that ask for it, [`VolModel::prefers_box_bounds`]), which work on the model's own
//! coordinates with true box bounds. Global solvers (DE, CMA-ES) search a box around the
//! start in free coordinates and are polished by Levenberg–Marquardt. Extra starts
//! (`spec.starts > 1`) come from a Sobol sequence around the start; the best fit wins.
//!
//! [`calibrate()`] runs four steps: cost assembly (`cost`), the first solve (local, or a
//! global search polished locally: `global_search`), extra starts (`multi_start`) and the
//! outputs at the optimum (`outputs`).

use super::error::FitError;
use super::problem::{QuoteResiduals, VolModel};
use super::spec::{FitSpec, RidgeTarget, SolverKind};
use crate::model::Domain;
use crate::objective::Target;
use std::time::Instant;
use volfit_optim::covariance;
use volfit_optim::loss::LossKind;
use volfit_optim::penalty::Penalty;
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
    /// Outlier flag per target (`ρ' <`
    /// [`OUTLIER_THRESHOLD`](volfit_optim::robust::OUTLIER_THRESHOLD)).
    pub outliers: Vec<bool>,
    /// The data part of the cost at `x`, `½ Σ wᵢ ρ(rᵢ²)` without penalties: the robust cost
    /// the solver minimises, by which repairs rank candidate fits.
    pub data_cost: f64,
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

/// The solver's view of a fit: the robust cost in free coordinates.
type FreeCost<'a, V> = Transformed<RobustSum<QuoteResiduals<'a, V>, LossKind>>;

/// Calibrates `model` to `targets` under `spec` from the start `x0` (model coordinates).
/// `prior` is the previous snapshot's fit, used by ridge toward `prev`. The model's
/// static-arbitrage penalty enters the cost when `spec.arbitrage_penalty > 0`, with that
/// weight.
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
    let penalty = if spec.arbitrage_penalty > 0.0 {
        model.arbitrage_penalty(spec.arbitrage_penalty)
    } else {
        None
    };
    calibrate_with(model, targets, spec, x0, prior, penalty)
}

/// [`calibrate`] with `penalty` (which carries its own weight) as the only static-arbitrage
/// term, whatever `spec.arbitrage_penalty` says.
///
/// # Errors
/// As [`calibrate`].
pub fn calibrate_with<V: VolModel, P: Penalty + Send + Sync + 'static>(
    model: &V,
    targets: &[Target],
    spec: &FitSpec,
    x0: &[f64],
    prior: Option<&[f64]>,
    penalty: Option<P>,
) -> Result<Calibration, FitError> {
    let started = Instant::now();
    let n = model.num_params();
    if targets.len() < n {
        return Err(FitError::TooFewQuotes { quotes: targets.len(), params: n });
    }
    let weights = spec.weight.weights(targets, spec.weight_cap);
    let domains = model.domains();
    // Only L-BFGS-B, and LM for families that ask for it, work with true box bounds.
    let box_lm = model.prefers_box_bounds();
    let bounds = if spec.solver == SolverKind::Lbfgsb || box_lm {
        model_bounds(&domains)
    } else {
        Bounds::unbounded(0)
    };
    let free = cost(model, targets, spec, prior, weights.clone(), penalty, domains)?;
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
        SolverKind::De | SolverKind::Cmaes => global_search(spec, cost_tol, &at, &y0, &mut trace)?,
        kind => local(kind, spec, cost_tol, &at, &y0, &mut trace),
    };
    if lm_checks_start && best.stop == Stop::Infeasible && best.iters == 0 {
        return Err(FitError::Infeasible);
    }
    if spec.starts > 1 {
        multi_start(spec, cost_tol, &at, &y0, &mut best, &mut trace)?;
    }
    if !best.cost.is_finite() || best.x.iter().any(|v| !v.is_finite()) {
        best.x = y0.clone();
        best.cost = free.value(&y0).unwrap_or(f64::NAN);
        best.stop = Stop::Infeasible;
    }
    let mut c = outputs(model, targets, spec, &free, best, weights, trace)?;
    c.time_us = started.elapsed().as_micros() as u64;
    Ok(c)
}

/// The cost of the fit in free coordinates: the robust sum over the quote residuals with
/// `weights`, plus ridge (toward the prior or zero, when the spec asks for it) and
/// `penalty`.
fn cost<'a, V: VolModel, P: Penalty + Send + Sync + 'static>(
    model: &'a V,
    targets: &'a [Target],
    spec: &FitSpec,
    prior: Option<&[f64]>,
    weights: Vec<f64>,
    penalty: Option<P>,
    domains: Vec<Domain>,
) -> Result<FreeCost<'a, V>, FitError> {
    let n = model.num_params();
    let residuals = QuoteResiduals::new(model, targets, spec.residual);
    let mut robust = RobustSum::new(residuals, spec.loss).with_weights(weights)?;
    if let Some(r) = spec.ridge.filter(|r| r.lambda > 0.0) {
        let toward = match r.toward {
            RidgeTarget::Prev => prior.map(<[f64]>::to_vec),
            RidgeTarget::Zero => Some(vec![0.0; n]),
        };
        if let Some(p) = toward {
            robust =
                robust.with_penalty(volfit_optim::Ridge::toward(r.lambda, vec![1.0; n], p)?)?;
        }
    }
    if let Some(p) = penalty {
        robust = robust.with_penalty(p)?;
    }
    Ok(Transformed::new(robust, domains)?)
}

/// A global search (DE or CMA-ES, per the spec) on a box of radius 2 around `y0` in free
/// coordinates, polished by Levenberg–Marquardt; the better of the two is the result, with
/// the evaluations and iterations of both.
fn global_search<R: Residuals>(
    spec: &FitSpec,
    cost_tol: f64,
    at: &Coordinates<'_, R>,
    y0: &[f64],
    trace: &mut Trace,
) -> Result<Minimum, FitError> {
    let limits = Limits { max_iters: spec.max_iters, ..limits_for(spec, spec.solver, cost_tol) };
    let radius = 2.0;
    let lo: Vec<f64> = y0.iter().map(|v| v - radius).collect();
    let hi: Vec<f64> = y0.iter().map(|v| v + radius).collect();
    let search = Bounds::new(lo, hi)?;
    let global = if spec.solver == SolverKind::De {
        DifferentialEvolution { seed: spec.seed, limits, ..DifferentialEvolution::default() }
            .minimize_bounded(at.free, y0, Some(&search), &mut ())
    } else {
        CmaEs { seed: spec.seed, limits, ..CmaEs::default() }.minimize_bounded(
            at.free,
            y0,
            Some(&search),
            &mut (),
        )
    };
    let start = if global.cost.is_finite() { global.x.clone() } else { y0.to_vec() };
    let mut polished = local(SolverKind::Lm, spec, cost_tol, at, &start, trace);
    polished.iters += global.iters;
    polished.evals.values += global.evals.values;
    polished.evals.gradients += global.evals.gradients;
    Ok(if global.cost < polished.cost {
        Minimum { evals: polished.evals, iters: polished.iters, ..global }
    } else {
        polished
    })
}

/// Extra starts `2 … spec.starts` from a Sobol sequence on `y0 ± 3` (free coordinates):
/// each feasible one is solved locally; a lower cost replaces `best` (and `trace`); every
/// run's evaluations are counted in `best`.
fn multi_start<R: Residuals>(
    spec: &FitSpec,
    cost_tol: f64,
    at: &Coordinates<'_, R>,
    y0: &[f64],
    best: &mut Minimum,
    trace: &mut Trace,
) -> Result<(), FitError> {
    let n = y0.len();
    let mut sobol = Sobol::new(n)?;
    let mut point = vec![0.0; n];
    for _ in 1..spec.starts {
        sobol.next_into(&mut point);
        let start: Vec<f64> =
            y0.iter().zip(&point).map(|(y, u)| y + 3.0 * (2.0 * u - 1.0)).collect();
        if at.free.value(&start).is_none_or(|c| !c.is_finite()) {
            continue;
        }
        let mut t = Trace::default();
        let m = local(spec.solver, spec, cost_tol, at, &start, &mut t);
        if m.cost < best.cost {
            let evals = best.evals;
            *best = m;
            best.evals.values += evals.values;
            best.evals.gradients += evals.gradients;
            *trace = t;
        } else {
            best.evals.values += m.evals.values;
            best.evals.gradients += m.evals.gradients;
        }
    }
    Ok(())
}

/// The calibration at the optimum `best` (free coordinates): model vols, residuals,
/// effective weights, outlier flags and standard errors from one model evaluation with the
/// Jacobian. `time_us` is left at 0 for the caller.
fn outputs<V: VolModel>(
    model: &V,
    targets: &[Target],
    spec: &FitSpec,
    free: &FreeCost<'_, V>,
    best: Minimum,
    weights: Vec<f64>,
    trace: Trace,
) -> Result<Calibration, FitError> {
    let n = model.num_params();
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
    // Residuals (their Jacobian rows in place) from the model vols, as `QuoteResiduals`
    // computes them, without re-evaluating the model; the data cost, effective weights and
    // outlier flags from the robust cost.
    let mut res = vec![0.0; m];
    for ((q, &s), (r, row)) in
        targets.iter().zip(&model_vols).zip(res.iter_mut().zip(jac.chunks_mut(n)))
    {
        let (v, d) = spec.residual.eval(q, s);
        *r = v;
        row.iter_mut().for_each(|v| *v *= d);
    }
    let mut effective_weights = vec![0.0; m];
    let mut outliers = vec![false; m];
    let data_cost = robust.data_terms(&res, &mut effective_weights, &mut outliers);
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
        data_cost,
        std_errors,
        trace,
        diagnosis,
        time_us: 0,
    })
}

/// Runs `calibrate` from each start and keeps the best fit (lowest loss).
pub(super) fn best_of(
    starts: Vec<Vec<f64>>,
    run: impl Fn(&[f64]) -> Result<Calibration, FitError>,
) -> Result<Calibration, FitError> {
    let mut best: Option<Calibration> = None;
    let mut last_err = FitError::Infeasible;
    for x0 in starts {
        match run(&x0) {
            Ok(c) if best.as_ref().is_none_or(|b| c.minimum.cost < b.minimum.cost) => {
                best = Some(c)
            }
            Ok(_) => {}
            Err(err) => last_err = err,
        }
    }
    best.ok_or(last_err)
}

/// `x` with every coordinate on an interval's end of `domains` moved a hair inside (a fit's
/// logistic coordinate saturates there), so the point can start another calibration.
pub(super) fn off_bounds(x: &[f64], domains: &[Domain]) -> Vec<f64> {
    let mut x = x.to_vec();
    for (v, d) in x.iter_mut().zip(domains) {
        if let Domain::Interval(lo, hi) = *d {
            let eps = 1e-9 * (hi - lo);
            *v = v.clamp(lo + eps, hi - eps);
        }
    }
    x
}

/// The point `y` scored under `spec` and `penalty` as it stands (no solver step), reporting
/// the solver run of `run` (the penalised fit `y` was derived from) when given.
pub(super) fn score_as_it_stands<V: VolModel, P: Penalty + Send + Sync + 'static>(
    model: &V,
    targets: &[Target],
    spec: &FitSpec,
    penalty: P,
    y: &[f64],
    prior: Option<&[f64]>,
    run: Option<Calibration>,
) -> Option<Calibration> {
    let at = FitSpec { max_iters: 0, ..spec.clone() };
    let mut c = calibrate_with(model, targets, &at, y, prior, Some(penalty)).ok()?;
    if let Some(b) = run {
        c.minimum.stop = b.minimum.stop;
        c.minimum.iters = b.minimum.iters;
        c.minimum.evals = b.minimum.evals;
        c.trace = b.trace;
    }
    Some(c)
}
