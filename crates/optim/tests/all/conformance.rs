//! Conformance: every applicable solver × the standard problems of `common` reaches the known
//! (MGH: closed form) or certified (NIST StRD) minimum within the tolerance stated per row.
//!
//! New solvers are added as rows of `solvers()`; their expectations as entries of
//! `nist_expectation` (NIST) and `MGH_TOL` (MGH problems).

use crate::common::*;
use std::cell::Cell;
use volfit_optim::{
    Bounds, Counted, Damping, Iterate, Lbfgs, LbfgsB, LevenbergMarquardt, Limits, Minimum,
    Objective, Residuals, Solver, SumOfSquares,
};

/// Tight limits: we want the solvers' own convergence tests to decide, not the iteration cap.
fn limits() -> Limits {
    Limits {
        max_iters: 5_000,
        max_evals: 100_000,
        grad_tol: 1e-20,
        cost_tol: 1e-15,
        step_tol: 1e-15,
        ..Limits::default()
    }
}

type Run = fn(&dyn Residuals, &[f64], Option<&Bounds>, &mut dyn FnMut(&Iterate)) -> Minimum;

fn run_lm(
    p: &dyn Residuals,
    x0: &[f64],
    b: Option<&Bounds>,
    obs: &mut dyn FnMut(&Iterate),
) -> Minimum {
    LevenbergMarquardt::new(limits()).minimize(&p, x0, b, &mut |it: &Iterate| obs(it))
}

fn run_lm_nielsen(
    p: &dyn Residuals,
    x0: &[f64],
    b: Option<&Bounds>,
    obs: &mut dyn FnMut(&Iterate),
) -> Minimum {
    LevenbergMarquardt::new(limits()).with_damping(Damping::nielsen()).minimize(
        &p,
        x0,
        b,
        &mut |it: &Iterate| obs(it),
    )
}

fn run_lbfgs(
    p: &dyn Residuals,
    x0: &[f64],
    b: Option<&Bounds>,
    obs: &mut dyn FnMut(&Iterate),
) -> Minimum {
    Lbfgs::new(10, limits())
        .minimize_bounded(&SumOfSquares::new(p), x0, b, &mut |it: &Iterate| obs(it))
}

fn run_lbfgsb(
    p: &dyn Residuals,
    x0: &[f64],
    b: Option<&Bounds>,
    obs: &mut dyn FnMut(&Iterate),
) -> Minimum {
    LbfgsB::new(10, limits())
        .minimize_bounded(&SumOfSquares::new(p), x0, b, &mut |it: &Iterate| obs(it))
}

/// The rows of the table: (name, runner).
fn solvers() -> [(&'static str, Run); 4] {
    [("lm", run_lm), ("lm-nielsen", run_lm_nielsen), ("lbfgs", run_lbfgs), ("lbfgsb", run_lbfgsb)]
}

/// Required minimum LRE of the parameters for (solver, problem, start); `None` = not required
/// (the reason is documented here). Certified cost must then match to LRE ≥ 9 as well.
///
/// * LM (both dampings): LRE ≥ 6 on every problem from both NIST starts (observed 7.4–11).
/// * L-BFGS / L-BFGS-B on the plain ½‖r‖² objective: LRE ≥ 6 from start 2 everywhere and from
///   start 1 on Thurber, MGH09 and Eckerle4. From start 1, Misra1a (b₂ ≈ 5e-4 against
///   b₁ ≈ 240) and Rat43 are so badly scaled that the unscaled quasi-Newton iteration stalls
///   far from the minimum; LM's Moré scaling is what solves them. Not required.
fn nist_expectation(solver: &str, problem: &str, start: u8) -> Option<f64> {
    match (solver, problem, start) {
        ("lm" | "lm-nielsen", _, _) => Some(6.0),
        (_, "Misra1a" | "Rat43", 1) => None,
        _ => Some(6.0),
    }
}

/// Max-norm distance to the MGH minimiser required per problem (all solvers). Powell's
/// singular function has a singular Jacobian at the solution, so every method converges only
/// linearly there and the parameters are determined to about √(machine precision).
fn mgh_tol(problem: &str) -> f64 {
    if problem == "PowellSingular" {
        1e-6
    } else {
        1e-8
    }
}

#[test]
fn nist_certified_values() {
    let mut failures = Vec::new();
    for (sname, run) in solvers() {
        for p in NIST {
            for start in [1u8, 2] {
                let Some(need) = nist_expectation(sname, p.name, start) else { continue };
                let m = run(&p, p.start(start), None, &mut |_| {});
                let got = min_lre(&m.x, p.certified);
                let cost = lre(m.cost, p.cost());
                println!("{sname:7} {:9} start {start}: parameter LRE {got:5.2}, cost LRE {cost:5.2}, {} iters, {:?}", p.name, m.iters, m.stop);
                if got < need || cost < 9.0 {
                    failures.push(format!(
                        "{sname} {} start {start}: LRE {got:.2} (need {need}), cost LRE {cost:.2}",
                        p.name
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn mgh_known_minima() {
    let mut failures = Vec::new();
    for (sname, run) in solvers() {
        for p in MGH {
            let m = run(&p, p.start, None, &mut |_| {});
            let err = m.x.iter().zip(p.solution).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            println!(
                "{sname:7} {:14}: |x − x*|∞ = {err:.1e}, cost {:.1e}, {} iters, {:?}",
                p.name, m.cost, m.iters, m.stop
            );
            if err > mgh_tol(p.name) || m.cost > 1e-14 {
                failures.push(format!("{sname} {}: error {err:.1e}, cost {:.1e}", p.name, m.cost));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Flags any evaluation outside a box (stronger than checking iterates: it sees every trial
/// point of every line search and every rejected LM step).
struct BoxChecked<'a, P> {
    inner: P,
    bounds: &'a Bounds,
    outside: Cell<u32>,
}

impl<P: Residuals> Residuals for BoxChecked<'_, P> {
    fn num_residuals(&self) -> usize {
        self.inner.num_residuals()
    }
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        if !self.bounds.contains(x) {
            self.outside.set(self.outside.get() + 1);
        }
        self.inner.eval(x, r, jac)
    }
}

#[test]
fn bounds_are_never_violated_and_constrained_optimum_is_found() {
    // Closed form (see `rosenbrock_box`): optimum (0.5, 0.25) per pair, cost 0.125 per pair.
    for p in [ROSENBROCK, ROSENBROCK10] {
        let b = rosenbrock_box(p.n);
        let pairs = p.n / 2;
        for (sname, run) in solvers() {
            let checked = BoxChecked { inner: p, bounds: &b, outside: Cell::new(0) };
            let mut last = f64::INFINITY;
            let mut increases = 0;
            let m = run(&checked, p.start, Some(&b), &mut |it: &Iterate| {
                if it.cost > last {
                    increases += 1;
                }
                last = it.cost;
            });
            assert_eq!(checked.outside.get(), 0, "{sname} {}: evaluated outside the box", p.name);
            assert!(b.contains(&m.x), "{sname} {}: result outside the box", p.name);
            assert_eq!(increases, 0, "{sname} {}: reported cost increased", p.name);
            for k in 0..pairs {
                assert!((m.x[2 * k] - 0.5).abs() < 1e-8, "{sname} {}: {:?}", p.name, m);
                assert!((m.x[2 * k + 1] - 0.25).abs() < 1e-8, "{sname} {}: {:?}", p.name, m);
            }
            assert!((m.cost - 0.125 * pairs as f64).abs() < 1e-12, "{sname} {}: {:?}", p.name, m);
        }
    }
}

#[test]
fn start_outside_the_box_is_projected() {
    // Beale with box [0, 2] × [0, 0.4]: the start (3, 1) is outside; every evaluation must be
    // inside. The unconstrained minimiser (3, 0.5) is outside, so the result lies on a face.
    let b = Bounds::new(vec![0.0, 0.0], vec![2.0, 0.4]).expect("valid box");
    for (sname, run) in solvers() {
        let checked = BoxChecked { inner: BEALE, bounds: &b, outside: Cell::new(0) };
        let m = run(&checked, &[3.0, 1.0], Some(&b), &mut |_| {});
        assert_eq!(checked.outside.get(), 0, "{sname}");
        assert!(b.contains(&m.x) && (m.x[0] == 2.0 || m.x[1] == 0.4), "{sname}: {m:?}");
    }
}

#[test]
fn bounded_solvers_agree_on_a_face_optimum() {
    // No closed form here: the three solvers must agree with each other (to 1e-7) on Beale
    // restricted to the box of the previous test, and be first-order stationary there.
    let b = Bounds::new(vec![0.0, 0.0], vec![2.0, 0.4]).expect("valid box");
    let xs: Vec<Minimum> =
        solvers().iter().map(|(_, run)| run(&BEALE, &[1.0, 0.2], Some(&b), &mut |_| {})).collect();
    for m in &xs[1..] {
        for (a, c) in m.x.iter().zip(&xs[0].x) {
            assert!((a - c).abs() < 1e-7, "{:?} vs {:?}", m.x, xs[0].x);
        }
    }
}

#[test]
fn analytic_jacobians_match_central_differences() {
    // Central differences with step h·max(1, |x|), h = 1e-6: truncation O(h²) ≈ 1e-12
    // relative; we allow 1e-6 relative to the column scale.
    let check = |name: &str, p: &dyn Residuals, x: &[f64]| {
        let (m, n) = (p.num_residuals(), p.num_params());
        let mut r = vec![0.0; m];
        let mut j = vec![0.0; m * n];
        p.eval(x, &mut r, Some(&mut j)).expect("inside domain");
        let (mut rp, mut rm) = (vec![0.0; m], vec![0.0; m]);
        for k in 0..n {
            let h = 1e-6 * x[k].abs().max(1.0);
            let mut xp = x.to_vec();
            xp[k] += h;
            let mut xm = x.to_vec();
            xm[k] -= h;
            p.eval(&xp, &mut rp, None).expect("inside domain");
            p.eval(&xm, &mut rm, None).expect("inside domain");
            let scale = (0..m).map(|i| j[i * n + k].abs()).fold(1e-300, f64::max);
            for i in 0..m {
                let fd = (rp[i] - rm[i]) / (2.0 * h);
                assert!(
                    (fd - j[i * n + k]).abs() <= 1e-6 * scale,
                    "{name} d r{i}/d x{k}: fd {fd} vs {}",
                    j[i * n + k]
                );
            }
        }
    };
    for p in MGH {
        check(p.name, &p, p.start);
    }
    for p in NIST {
        check(p.name, &p, p.start2);
        check(p.name, &p, p.certified);
    }
}

#[test]
fn lm_counts_match_counted_wrapper() {
    let c = Counted::new(RAT43);
    let m = LevenbergMarquardt::new(limits()).minimize(&c, RAT43.start2, None, &mut ());
    assert_eq!(m.evals, c.evals());
    let o = Counted::new(SumOfSquares::new(RAT43));
    let m = Lbfgs::new(10, limits()).minimize(&o, RAT43.start2, &mut ());
    assert_eq!(m.evals, o.evals());
    assert_eq!(o.num_params(), 4);
}
