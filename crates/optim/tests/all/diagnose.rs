//! Diagnostics from traces: synthetic exploding and non-finite traces, and real runs that
//! stall, oscillate, sit on a plateau, or converge cleanly.

use volfit_optim::{
    diagnose, Adam, CmaEs, Control, FnObjective, GradientDescent, Iterate, Limits, Momentum,
    NelderMead, RmsProp, Schedule, Solver, Thresholds, Trace, Warning,
};

fn trace_of(costs: &[f64], grads: &[f64]) -> Trace {
    Trace {
        iterates: costs
            .iter()
            .zip(grads)
            .enumerate()
            .map(|(k, (&cost, &grad_norm))| Iterate {
                iter: k as u32,
                cost,
                grad_norm,
                step: 0.1,
                rate: 0.1,
            })
            .collect(),
    }
}

fn kinds(t: &Trace) -> Vec<&'static str> {
    diagnose(t, &Thresholds::default())
        .warnings
        .iter()
        .map(|w| match w {
            Warning::VanishingGradient { .. } => "vanishing",
            Warning::ExplodingGradient { .. } => "exploding",
            Warning::NonFinite { .. } => "non_finite",
            Warning::Stall { .. } => "stall",
            Warning::Oscillation { .. } => "oscillation",
            _ => "other",
        })
        .collect()
}

/// Gradient descent with tolerances off, so the trace shows the whole behaviour.
fn gd(lr: f64, line_search: bool, iters: u32) -> GradientDescent {
    GradientDescent {
        lr,
        line_search,
        control: Control {
            limits: Limits {
                max_iters: iters,
                grad_tol: 0.0,
                cost_tol: -1.0,
                step_tol: 0.0,
                ..Limits::default()
            },
            patience: u32::MAX,
            ..Control::default()
        },
        ..GradientDescent::default()
    }
}

#[test]
fn synthetic_exploding_and_non_finite_traces_are_flagged() {
    // Gradient norm ×10 per iterate: 1e3 growth (the default threshold) at iterate 3.
    let costs: Vec<f64> = (0..30).map(|k| 10f64.powi(k)).collect();
    let grads: Vec<f64> = (0..30).map(|k| 10f64.powi(k)).collect();
    let t = trace_of(&costs, &grads);
    let d = diagnose(&t, &Thresholds::default());
    assert!(d.warnings.contains(&Warning::ExplodingGradient { iter: 3, growth: 1e3 }), "{d}");
    assert!(d.to_string().contains("exploding gradient"), "{d}");
    let t = trace_of(&[1.0, 2.0, f64::INFINITY, f64::NAN], &[1.0, 2.0, f64::INFINITY, f64::NAN]);
    assert!(diagnose(&t, &Thresholds::default())
        .warnings
        .contains(&Warning::NonFinite { iter: 2 }));
}

#[test]
fn gradient_descent_on_a_saturated_logistic_has_a_vanishing_gradient() {
    // f(x) = 1 − 0.1·σ(10x): descent drives x into the saturated tail, where the gradient
    // decays like e^{−10x} while the cost never drops below 0.9 (≥ 90 % of its start 0.95).
    let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
    let f = FnObjective::new(1, move |x: &[f64], g: &mut [f64]| {
        let s = sigma(10.0 * x[0]);
        g[0] = -0.1 * 10.0 * s * (1.0 - s);
        Some(1.0 - 0.1 * s)
    });
    let mut t = Trace::default();
    gd(1.0, true, 2000).minimize(&f, &[0.0], &mut t);
    let last = t.iterates.last().map(|i| (i.grad_norm, i.cost));
    assert!(last.is_some_and(|(g, c)| g < 1e-4 && c > 0.9), "{last:?}");
    assert_eq!(kinds(&t), ["vanishing"], "{}", diagnose(&t, &Thresholds::default()));
}

#[test]
fn no_progress_with_a_live_gradient_is_a_stall() {
    // Constant cost with a unit gradient: the best cost never improves.
    let f = FnObjective::new(1, |_: &[f64], g: &mut [f64]| {
        g[0] = 1.0;
        Some(1.0)
    });
    let s = RmsProp {
        control: Control {
            limits: Limits { max_iters: 60, cost_tol: -1.0, ..Limits::default() },
            ..Control::default()
        },
        ..RmsProp::default()
    };
    let mut t = Trace::default();
    s.minimize(&f, &[0.0], &mut t);
    assert_eq!(kinds(&t), ["stall"]);
}

#[test]
fn too_large_a_fixed_step_oscillates() {
    // On an exact quadratic a fixed-step GD cost is monotone (each eigencomponent is
    // multiplied by 1 − ηλ, so each term of the cost shrinks or grows monotonically), so
    // it cannot show a period-2 cost. The convex f(x) = eˣ − x (minimum 1 at x = 0,
    // f'' = 1 there) with η = 2.2 > 2/f''(0) settles into a stable 2-cycle across the
    // minimum between points of different cost: the cost alternates up and down.
    let f = FnObjective::new(1, |x: &[f64], g: &mut [f64]| {
        g[0] = x[0].exp() - 1.0;
        Some(x[0].exp() - x[0])
    });
    let mut t = Trace::default();
    gd(2.2, false, 200).minimize(&f, &[0.5], &mut t);
    let d = diagnose(&t, &Thresholds::default());
    assert!(kinds(&t).contains(&"oscillation"), "{d}");
    assert!(d.to_string().contains("oscillation"));
}

#[test]
fn a_clean_converging_run_has_no_warnings() {
    // f = ½ Σ aᵢ xᵢ² with a = (1, 4, 10), Armijo GD to grad_tol 1e-10.
    let f = FnObjective::new(3, |x: &[f64], g: &mut [f64]| {
        let a = [1.0, 4.0, 10.0];
        let mut v = 0.0;
        for i in 0..3 {
            g[i] = a[i] * x[i];
            v += 0.5 * a[i] * x[i] * x[i];
        }
        Some(v)
    });
    let s = GradientDescent {
        control: Control { schedule: Schedule::Constant, ..Control::default() },
        ..GradientDescent::default()
    };
    let mut t = Trace::default();
    let m = s.minimize(&f, &[1.0, -2.0, 3.0], &mut t);
    assert!(m.stop.converged(), "{m:?}");
    let d = diagnose(&t, &Thresholds::default());
    assert!(d.is_clean(), "{d}");
    assert_eq!(d.to_string(), "no warnings");
}

#[test]
fn clean_rosenbrock_runs_of_other_solvers_have_no_warnings() {
    // Rosenbrock 2-D from (−1.2, 1): each run converges to cost < 1e-12 (closed-form
    // minimum 0); Adam's and momentum's costs are not monotone, yet nothing is flagged.
    let p = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
        let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
        g[0] = -2.0 * a - 400.0 * x[0] * b;
        g[1] = 200.0 * b;
        Some(a * a + 100.0 * b * b)
    });
    let ctl = Control {
        limits: Limits { max_iters: 50_000, ..Limits::default() },
        patience: 50_000,
        ..Control::default()
    };
    let adam = Adam {
        lr: 0.05,
        control: Control {
            schedule: Schedule::Cosine { period: 50_000, floor: 1e-3 },
            ..ctl.clone()
        },
        ..Adam::default()
    };
    let momentum = Momentum { lr: 1e-3, control: ctl, ..Momentum::default() };
    let x0 = [-1.2, 1.0];
    let mut traces = vec![Trace::default(); 4];
    let costs = [
        adam.minimize(&p, &x0, &mut traces[0]).cost,
        momentum.minimize(&p, &x0, &mut traces[1]).cost,
        NelderMead::default().minimize(&p, &x0, &mut traces[2]).cost,
        CmaEs::default().minimize(&p, &x0, &mut traces[3]).cost,
    ];
    for (t, c) in traces.iter().zip(costs) {
        assert!(c < 1e-12, "{c}");
        let d = diagnose(t, &Thresholds::default());
        assert!(d.is_clean(), "{d}");
    }
}
