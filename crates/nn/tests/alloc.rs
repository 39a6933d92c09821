//! Training does not allocate per step: forward and backward passes write into the
//! workspace built with the problem. The net is small enough (every product `M·N·K ≤ 16³`)
//! that faer runs its allocation-free nano-gemm kernel; above that faer hands products to the
//! `gemm` crate, which allocates its own packing buffers per product (about 1.5 allocations
//! per product, 22 per step of a 4×64 net at batch 32 — not our code's). Its own test
//! binary with one test, so the counting global allocator sees no other test's threads.

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use volfit_nn::{Activation, Architecture, Dataset, Init, Mlp, Regression};
use volfit_optim::loss::Huber;
use volfit_optim::{Adam, Epochs, MiniBatch, StochasticObjective};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn data(n: usize) -> Dataset {
    let x: Vec<f64> = (0..n * 5).map(|i| (i as f64 * 0.37).sin()).collect();
    let y: Vec<f64> = (0..n * 8).map(|i| (i as f64 * 0.11).cos()).collect();
    Dataset::new(x, y, 5, 8).unwrap()
}

/// Allocations of `f`, the least over three runs (the harness's own thread may allocate
/// while a run is counted, which only ever adds).
fn count(mut f: impl FnMut()) -> usize {
    (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            f();
            region.change().allocations
        })
        .min()
        .unwrap()
}

#[test]
fn batches_and_training_steps_do_not_allocate() {
    let mlp = Mlp::new(Architecture::new(5, &[16; 3], 8, Activation::Elu)).unwrap();
    let p = mlp.init_params(Init::He, 1);
    let (small, large) = (data(64), data(256));
    let loss = Huber::new(0.5).unwrap();
    let reg = Regression::new(&mlp, &small, loss, 8).unwrap();
    let mut g = vec![0.0; mlp.num_params()];
    let idx: Vec<usize> = (0..8).collect();
    let evals = |k: usize, g: &mut [f64]| {
        for _ in 0..k {
            reg.batch_value_grad(&p, &idx, g).unwrap();
        }
    };
    assert_eq!(count(|| evals(10, &mut g)), 0, "a batch value and gradient allocates");
    // Two epochs over 64 and over 256 samples (16 and 64 steps): the same allocations.
    let reg_large = Regression::new(&mlp, &large, loss, 8).unwrap();
    let spec = Epochs { epochs: 2, batch_size: 8, groups: mlp.groups(), ..Epochs::default() };
    let adam = Adam::default();
    let few = count(|| drop(adam.train(&reg, &p, &spec, None, &mut (), &mut ())));
    let many = count(|| drop(adam.train(&reg_large, &p, &spec, None, &mut (), &mut ())));
    assert_eq!(few, many, "training allocates per step");
}
