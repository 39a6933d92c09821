//! First-order solvers (gradient descent, momentum, Nesterov, Adam/AdamW, RMSProp) on a
//! convex quadratic and on Rosenbrock 2-D, with bounds, schedules and clipping.

use std::cell::Cell;
use volfit_optim::{
    Adam, Bounds, Clip, Control, FnObjective, GradientDescent, Limits, Minimum, Momentum, Nesterov,
    Objective, RmsProp, Schedule, Solver, Stop, Trace,
};

/// `f(x) = ½ Σ aᵢ (xᵢ − cᵢ)²`; closed-form minimum `x = c`, `f = 0`.
const A: [f64; 3] = [1.0, 4.0, 10.0];
const C: [f64; 3] = [1.0, -2.0, 0.5];

fn quadratic(x: &[f64], g: &mut [f64]) -> Option<f64> {
    let mut f = 0.0;
    for i in 0..3 {
        let d = x[i] - C[i];
        f += 0.5 * A[i] * d * d;
        g[i] = A[i] * d;
    }
    Some(f)
}

/// Rosenbrock (1960): `f = (1 − x)² + 100 (y − x²)²`, minimum `(1, 1)` with `f = 0`.
fn rosenbrock(x: &[f64], g: &mut [f64]) -> Option<f64> {
    let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
    g[0] = -2.0 * a - 400.0 * x[0] * b;
    g[1] = 200.0 * b;
    Some(a * a + 100.0 * b * b)
}

fn ctl(max_iters: u32) -> Control {
    Control {
        limits: Limits {
            max_iters,
            max_evals: 10_000_000,
            grad_tol: 1e-9,
            cost_tol: 0.0,
            step_tol: 0.0,
            ..Limits::default()
        },
        patience: max_iters,
        ..Control::default()
    }
}

fn max_err(x: &[f64], want: &[f64]) -> f64 {
    x.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// A problem as a closure `f(x, grad) -> cost`.
type Fun<'a> = dyn Fn(&[f64], &mut [f64]) -> Option<f64> + 'a;
/// A configured solver run: (problem, n, x0, bounds) -> minimum.
type Run = Box<dyn for<'a> Fn(&Fun<'a>, usize, &[f64], Option<&Bounds>) -> Minimum>;

/// Every solver under test; the momentum methods' rate is `0.2·lr_scale`, and
/// schedules span `iters` iterations.
fn solvers(lr_scale: f64, iters: u32) -> Vec<(&'static str, Run)> {
    fn run<S: Solver>(s: &S, f: &Fun<'_>, n: usize, x0: &[f64], b: Option<&Bounds>) -> Minimum {
        s.minimize_bounded(&FnObjective::new(n, f), x0, b, &mut ())
    }
    let gd = GradientDescent { lr: 1.0, control: ctl(iters), ..GradientDescent::default() };
    let mo = Momentum { lr: 0.2 * lr_scale, momentum: 0.9, control: ctl(iters) };
    let ne = Nesterov { lr: 0.2 * lr_scale, momentum: 0.9, control: ctl(iters) };
    let ad = Adam {
        lr: 0.05,
        control: Control {
            schedule: Schedule::WarmUp {
                iters: 50,
                after: Box::new(Schedule::Cosine { period: iters, floor: 1e-3 }),
            },
            ..ctl(iters)
        },
        ..Adam::default()
    };
    let rm = RmsProp {
        lr: 0.01,
        control: Control {
            schedule: Schedule::Cosine { period: iters, floor: 1e-4 },
            ..ctl(iters)
        },
        ..RmsProp::default()
    };
    vec![
        ("gd", Box::new(move |f, n, x, b| run(&gd, f, n, x, b))),
        ("momentum", Box::new(move |f, n, x, b| run(&mo, f, n, x, b))),
        ("nesterov", Box::new(move |f, n, x, b| run(&ne, f, n, x, b))),
        ("adam", Box::new(move |f, n, x, b| run(&ad, f, n, x, b))),
        ("rmsprop", Box::new(move |f, n, x, b| run(&rm, f, n, x, b))),
    ]
}

/// An objective that remembers whether it was ever evaluated outside a box.
struct Recording<F> {
    f: F,
    n: usize,
    lower: Vec<f64>,
    upper: Vec<f64>,
    outside: Cell<bool>,
    count: Cell<u64>,
}

impl<F: Fn(&[f64], &mut [f64]) -> Option<f64>> Objective for Recording<F> {
    fn num_params(&self) -> usize {
        self.n
    }
    fn value_grad(&self, x: &[f64], g: &mut [f64]) -> Option<f64> {
        self.count.set(self.count.get() + 1);
        if x.iter().zip(&self.lower).zip(&self.upper).any(|((v, l), u)| v < l || v > u) {
            self.outside.set(true);
        }
        (self.f)(x, g)
    }
}

#[test]
fn every_solver_minimises_a_convex_quadratic() {
    // Closed form: minimum at C. grad_tol 1e-9 and smallest curvature 1 bound the error
    // by 1e-9 per coordinate; tolerance 1e-8.
    for (name, s) in solvers(0.1, 20_000) {
        let m = s(&quadratic, 3, &[0.0; 3], None);
        assert_eq!(m.stop, Stop::GradientTolerance, "{name}");
        assert!(max_err(&m.x, &C) < 1e-8, "{name}: {:?}", m.x);
        assert!(m.cost < 1e-16, "{name}: {}", m.cost);
    }
}

#[test]
fn every_solver_minimises_rosenbrock_2d() {
    // Rosenbrock's closed-form minimum (1, 1). Tolerance 1e-5: GD/momentum/Nesterov/Adam
    // stop on grad_tol 1e-9 (error ~3e-9), RMSProp stops at 50 000 iterations ~1e-6 away.
    for (name, s) in solvers(0.001 / 0.2, 50_000) {
        let m = s(&rosenbrock, 2, &[-1.2, 1.0], None);
        assert!(max_err(&m.x, &[1.0, 1.0]) < 1e-5, "{name}: {:?} {:?}", m.x, m.stop);
        assert!(m.cost < 1e-9, "{name}: {}", m.cost);
    }
}

#[test]
fn bounded_runs_stay_in_the_box_and_find_the_constrained_minimum() {
    // Separable quadratic: the constrained minimum is the clamp of C to [-1, 1]^3.
    let b = Bounds::new(vec![-1.0; 3], vec![1.0; 3]).expect("valid box");
    for (name, s) in solvers(0.1, 20_000) {
        let rec = Recording {
            f: quadratic,
            n: 3,
            lower: b.lower().to_vec(),
            upper: b.upper().to_vec(),
            outside: Cell::new(false),
            count: Cell::new(0),
        };
        let m = s(&|x, g| rec.value_grad(x, g), 3, &[0.9, 0.9, -0.9], Some(&b));
        assert!(!rec.outside.get(), "{name} evaluated outside the box");
        assert!(rec.count.get() > 10, "{name} did run");
        assert!(max_err(&m.x, &[1.0, -1.0, 0.5]) < 1e-8, "{name}: {:?}", m.x);
    }
    // Rosenbrock with x ≤ 0.5: minimising over y gives y = x², then (1 − x)² is smallest
    // at the bound, so the constrained minimum is (0.5, 0.25) with f = 0.25 (closed form).
    let b = Bounds::new(vec![-2.0, -2.0], vec![0.5, 2.0]).expect("valid box");
    for (name, s) in solvers(0.001 / 0.2, 50_000) {
        let rec = Recording {
            f: rosenbrock,
            n: 2,
            lower: b.lower().to_vec(),
            upper: b.upper().to_vec(),
            outside: Cell::new(false),
            count: Cell::new(0),
        };
        let m = s(&|x, g| rec.value_grad(x, g), 2, &[-1.2, 1.0], Some(&b));
        assert!(!rec.outside.get(), "{name} evaluated outside the box");
        assert!(max_err(&m.x, &[0.5, 0.25]) < 1e-5, "{name}: {:?}", m.x);
        assert!((m.cost - 0.25).abs() < 1e-9, "{name}: {}", m.cost);
    }
}

#[test]
fn observer_sees_every_iterate_with_the_scheduled_rate_and_best_is_returned() {
    let sched = Schedule::Step { every: 7, factor: 0.5 };
    let adam = Adam {
        lr: 0.3,
        control: Control { schedule: sched.clone(), ..ctl(60) },
        ..Adam::default()
    };
    let mut trace = Trace::default();
    let m = adam.minimize(&FnObjective::new(2, rosenbrock), &[-1.2, 1.0], &mut trace);
    assert_eq!(m.stop, Stop::MaxIters);
    assert_eq!(trace.iterates.len(), m.iters as usize + 1);
    for (k, it) in trace.iterates.iter().enumerate().skip(1) {
        assert_eq!(it.iter as usize, k);
        // Iterate k was produced with the rate of update k − 1.
        assert_eq!(it.rate, 0.3 * sched.factor(k as u32 - 1));
    }
    let best = trace.iterates.iter().map(|i| i.cost).fold(f64::INFINITY, f64::min);
    assert_eq!(m.cost, best);
    let mut g = [0.0; 2];
    assert_eq!(rosenbrock(&m.x, &mut g), Some(m.cost));
}

#[test]
fn adamw_decay_is_decoupled_from_the_gradient_scaling() {
    // With a zero gradient Adam's moments stay 0, so AdamW only decays:
    // x_k = x0·(1 − η·λ)^k exactly (closed form); coupled L2 would move by ~η per step.
    // The reported cost Σ|x| (deliberately not the gradient's function) falls every
    // step, so the best point is the last one.
    let shrink = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
        g.iter_mut().for_each(|v| *v = 0.0);
        Some(x.iter().map(|v| v.abs()).sum())
    });
    let s = Adam {
        lr: 0.1,
        control: Control {
            limits: Limits { grad_tol: -1.0, cost_tol: -1.0, max_iters: 25, ..Limits::default() },
            ..Control::default()
        },
        ..Adam::adamw(0.2)
    };
    let m = s.minimize(&shrink, &[3.0, -1.0], &mut ());
    assert_eq!((m.stop, m.iters), (Stop::MaxIters, 25));
    let k = 0.98f64.powi(25);
    assert!((m.x[0] - 3.0 * k).abs() < 1e-12 && (m.x[1] + k).abs() < 1e-12, "{:?}", m.x);
}

#[test]
fn points_outside_the_domain_shrink_the_step() {
    // f(x) = x − ln x, undefined for x ≤ 0, minimum at x = 1 (f' = 1 − 1/x).
    let f = |x: &[f64], g: &mut [f64]| {
        if x[0] <= 0.0 {
            return None;
        }
        g[0] = 1.0 - 1.0 / x[0];
        Some(x[0] - x[0].ln())
    };
    let gd = GradientDescent { lr: 20.0, control: ctl(10_000), ..GradientDescent::default() };
    let m = gd.minimize(&FnObjective::new(1, f), &[3.0], &mut ());
    assert!((m.x[0] - 1.0).abs() < 1e-8, "{:?}", m);
    let mo = Momentum {
        lr: 5.0,
        momentum: 0.5,
        control: Control { schedule: Schedule::Exponential { decay: 0.995 }, ..ctl(10_000) },
    };
    let m = mo.minimize(&FnObjective::new(1, f), &[3.0], &mut ());
    assert!((m.x[0] - 1.0).abs() < 1e-8, "{:?}", m);
    // An infeasible start is reported, not panicked on.
    let m = mo.minimize(&FnObjective::new(1, f), &[-1.0], &mut ());
    assert_eq!(m.stop, Stop::Infeasible);
}

#[test]
fn clipping_tames_a_far_start_and_limits_stop_the_run() {
    // Heavy ball on a quadratic is stable iff η·a_max < 2(1 + μ) (Polyak 1964): η = 0.4,
    // a_max = 10, μ = 0.9 gives 4 > 3.8, so the unclipped run diverges. A smaller rate
    // with the gradient norm clipped to 1 reaches C (closed form) from 1e3 away.
    let unclipped = Momentum { lr: 0.4, momentum: 0.9, control: ctl(20_000) };
    let m = unclipped.minimize(&FnObjective::new(3, quadratic), &[1e3; 3], &mut ());
    let err = max_err(&m.x, &C);
    assert!(err.is_nan() || err >= 1e-6, "unclipped run should fail: {:?}", m.x);
    let clipped = Momentum {
        lr: 0.01,
        momentum: 0.9,
        control: Control { clip: Clip::Norm(1.0), ..ctl(200_000) },
    };
    let m = clipped.minimize(&FnObjective::new(3, quadratic), &[1e3; 3], &mut ());
    assert!(max_err(&m.x, &C) < 1e-8, "{:?}", m);
    let by_value = Adam {
        lr: 0.05,
        control: Control {
            clip: Clip::Value(0.5),
            schedule: Schedule::Exponential { decay: 0.999 },
            ..ctl(20_000)
        },
        ..Adam::default()
    };
    let m = by_value.minimize(&FnObjective::new(3, quadratic), &[10.0; 3], &mut ());
    assert!(max_err(&m.x, &C) < 1e-6, "{:?}", m);
    // Budgets.
    let s = Momentum {
        lr: 1e-4,
        momentum: 0.0,
        control: Control { limits: Limits { max_evals: 50, ..ctl(1000).limits }, ..ctl(1000) },
    };
    let m = s.minimize(&FnObjective::new(3, quadratic), &[0.0; 3], &mut ());
    assert_eq!(m.stop, Stop::MaxEvals);
    assert_eq!(m.evals.total(), 50);
}

#[test]
fn no_improvement_stops_as_stalled_and_flat_costs_by_cost_tolerance() {
    // Constant cost with a non-zero gradient: the best never improves.
    let plateau = FnObjective::new(1, |_: &[f64], g: &mut [f64]| {
        g[0] = 1.0;
        Some(1.0)
    });
    let s = RmsProp {
        control: Control {
            limits: Limits { cost_tol: -1.0, ..ctl(10_000).limits },
            patience: 30,
            ..ctl(10_000)
        },
        ..RmsProp::default()
    };
    let m = s.minimize(&plateau, &[0.0], &mut ());
    assert_eq!((m.stop, m.iters), (Stop::Stalled, 30));
    assert_eq!(m.x, vec![0.0]);
    let s = RmsProp { control: Control { window: 5, ..ctl(10_000) }, ..RmsProp::default() };
    let m = s.minimize(&plateau, &[0.0], &mut ());
    assert_eq!((m.stop, m.iters), (Stop::CostTolerance, 5));
}

#[test]
fn a_spent_time_budget_stops_before_the_first_step() {
    // A zero budget is spent on entry (no timing is asserted, only the stop reason).
    let limits = Limits { max_time: Some(std::time::Duration::ZERO), ..ctl(100).limits };
    let s = Nesterov { control: Control { limits, ..ctl(100) }, ..Nesterov::default() };
    let m = s.minimize(&FnObjective::new(3, quadratic), &[0.0; 3], &mut ());
    assert_eq!((m.stop, m.iters, m.x), (Stop::TimeBudget, 0, vec![0.0; 3]));
}
