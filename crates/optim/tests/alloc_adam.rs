//! Adam performs no heap allocation per iteration: runs of 10 and 100 iterations on a
//! fixed-size problem allocate exactly the same (buffers are sized once per call).
//! Its own test binary, so the counting global allocator sees no other test's threads.

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use volfit_optim::{Adam, Control, FnObjective, Limits, Solver, Stop};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Rosenbrock 2-D with its gradient, allocation-free.
fn rosenbrock(x: &[f64], g: &mut [f64]) -> Option<f64> {
    let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
    g[0] = -2.0 * a - 400.0 * x[0] * b;
    g[1] = 200.0 * b;
    Some(a * a + 100.0 * b * b)
}

fn allocations(iters: u32) -> (usize, usize) {
    let adam = Adam {
        lr: 1e-3,
        control: Control {
            // Tolerances disabled so that both runs do exactly `iters` iterations.
            limits: Limits {
                max_iters: iters,
                grad_tol: -1.0,
                cost_tol: -1.0,
                step_tol: 0.0,
                ..Limits::default()
            },
            patience: u32::MAX,
            ..Control::default()
        },
        ..Adam::default()
    };
    let problem = FnObjective::new(2, rosenbrock);
    let region = Region::new(GLOBAL);
    let m = adam.minimize(&problem, &[-1.2, 1.0], &mut ());
    let stats = region.change();
    assert_eq!((m.stop, m.iters), (Stop::MaxIters, iters));
    drop(m);
    (stats.allocations, stats.bytes_allocated)
}

#[test]
fn adam_allocates_nothing_per_iteration() {
    let short = allocations(10);
    let long = allocations(100);
    assert_eq!(short, long, "allocations (count, bytes) differ between 10 and 100 iterations");
    assert!(short.0 > 0, "the counter works: workspace buffers are allocated once");
}
