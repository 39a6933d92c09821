//! No heap allocation per iteration: the allocations of a whole solver call are counted with a
//! counting global allocator, and a 10-iteration run must allocate exactly as often as a
//! 100-iteration run of the same solver on the same fixed-size problem (only the once-per-call
//! workspace and the returned `Minimum` allocate).
//!
//! One `#[test]` only, so no other test thread allocates while we count.

mod common;

use common::POWELL_SINGULAR;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use volfit_optim::{
    Bounds, Damping, FnObjective, Lbfgs, LbfgsB, LevenbergMarquardt, Limits, Minimum, Residuals,
    Solver, Stop,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Limits that can only stop on the iteration cap: Powell's singular function converges
/// linearly (singular Jacobian at the solution), so neither solver finishes in 100 iterations.
fn capped(max_iters: u32) -> Limits {
    Limits {
        max_iters,
        max_evals: u64::MAX,
        grad_tol: 0.0,
        cost_tol: 0.0,
        step_tol: 0.0,
        max_time: None,
    }
}

/// Allocations made by `f` (the least over three runs: the counter is process-wide and the
/// harness's own thread may allocate meanwhile, which only ever adds; a per-iteration
/// allocation shows in every run), and its last result.
fn count<F: Fn() -> Minimum>(f: F) -> (usize, Minimum) {
    let mut best = usize::MAX;
    let mut last = None;
    for _ in 0..3 {
        let region = Region::new(GLOBAL);
        let m = f();
        best = best.min(region.change().allocations);
        last = Some(m);
    }
    (best, last.expect("three runs"))
}

#[test]
fn solvers_do_not_allocate_per_iteration() {
    // ½‖r‖² of Powell's singular function with gradient Jᵀr, on stack buffers.
    let objective = FnObjective::new(4, |x: &[f64], g: &mut [f64]| {
        let (mut r, mut j) = ([0.0; 4], [0.0; 16]);
        POWELL_SINGULAR.eval(x, &mut r, Some(&mut j))?;
        for k in 0..4 {
            g[k] = (0..4).map(|i| j[i * 4 + k] * r[i]).sum();
        }
        Some(0.5 * r.iter().map(|v| v * v).sum::<f64>())
    });
    let x0 = POWELL_SINGULAR.start;
    let bounds = Bounds::new(vec![-10.0; 4], vec![10.0; 4]).expect("valid box");
    let runs: [(&str, &dyn Fn(u32) -> Minimum); 5] = [
        ("lm", &|k| {
            LevenbergMarquardt::new(capped(k)).minimize(&POWELL_SINGULAR, x0, None, &mut ())
        }),
        ("lm bounded", &|k| {
            LevenbergMarquardt::new(capped(k)).minimize(
                &POWELL_SINGULAR,
                x0,
                Some(&bounds),
                &mut (),
            )
        }),
        ("lm nielsen bounded", &|k| {
            LevenbergMarquardt::new(capped(k)).with_damping(Damping::nielsen()).minimize(
                &POWELL_SINGULAR,
                x0,
                Some(&bounds),
                &mut (),
            )
        }),
        ("lbfgs", &|k| Lbfgs::new(5, capped(k)).minimize(&objective, x0, &mut ())),
        ("lbfgsb", &|k| {
            LbfgsB::new(5, capped(k)).minimize_bounded(&objective, x0, Some(&bounds), &mut ())
        }),
    ];
    for (name, run) in runs {
        let (a10, m10) = count(|| run(10));
        let (a100, m100) = count(|| run(100));
        assert_eq!((m10.iters, m10.stop), (10, Stop::MaxIters), "{name}: {m10:?}");
        assert_eq!((m100.iters, m100.stop), (100, Stop::MaxIters), "{name}: {m100:?}");
        println!("{name}: {a10} allocations for 10 iterations, {a100} for 100");
        assert_eq!(a10, a100, "{name} allocates per iteration");
    }
}
