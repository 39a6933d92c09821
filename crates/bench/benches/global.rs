//! Derivative-free and global solvers: our Nelder–Mead side by side with argmin's on
//! Rosenbrock 2-D (same start, same initial simplex, both run to convergence), and the
//! cost of one seeded DE / CMA-ES / multi-start run on Rastrigin 5-D (no peer).
//!
//! Run: `cargo bench -p volfit-bench --bench global`.

use argmin::core::{CostFunction, Error, Executor};
use argmin::solver::neldermead::NelderMead as ArgminNm;
use criterion::{criterion_group, criterion_main, Criterion};
use std::f64::consts::PI;
use std::hint::black_box;
use volfit_optim::{
    Bounds, CmaEs, Control, DifferentialEvolution, FnObjective, GradientDescent, Limits,
    MultiStart, NelderMead, Objective, SequenceKind, Solver,
};

/// Rosenbrock 2-D value only (what both Nelder–Mead implementations call).
fn rosen(x: &[f64]) -> f64 {
    (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
}

/// Our objective: value-only override so no gradient scratch is allocated.
struct Rosen;

impl Objective for Rosen {
    fn num_params(&self) -> usize {
        2
    }
    fn value_grad(&self, x: &[f64], g: &mut [f64]) -> Option<f64> {
        let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
        g[0] = -2.0 * a - 400.0 * x[0] * b;
        g[1] = 200.0 * b;
        Some(a * a + 100.0 * b * b)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        Some(rosen(x))
    }
}

struct ArgRosen;

impl CostFunction for ArgRosen {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> Result<f64, Error> {
        Ok(rosen(p))
    }
}

const X0: [f64; 2] = [-1.2, 1.0];

fn ours() -> volfit_optim::Minimum {
    let nm = NelderMead {
        limits: Limits { max_iters: 10_000, cost_tol: 1e-12, step_tol: 1e-10, ..Limits::default() },
        ..NelderMead::default()
    };
    nm.minimize(&Rosen, &X0, &mut ())
}

fn argmin_nm() -> (f64, u64) {
    // Same initial simplex as ours: x0 and x0 + 5 % of each coordinate. The tolerance on
    // the spread of simplex costs is set so both stop near the same final cost (~1e-21).
    let simplex = vec![X0.to_vec(), vec![X0[0] * 1.05, X0[1]], vec![X0[0], X0[1] * 1.05]];
    let solver = ArgminNm::new(simplex).with_sd_tolerance(1e-20).expect("valid tolerance");
    let res = Executor::new(ArgRosen, solver)
        .configure(|s| s.max_iters(10_000))
        .run()
        .expect("argmin runs");
    let st = res.state();
    (st.best_cost, st.iter)
}

fn rastrigin(x: &[f64], g: &mut [f64]) -> Option<f64> {
    let mut f = 10.0 * x.len() as f64;
    for (gi, &xi) in g.iter_mut().zip(x) {
        let y = xi - 0.3;
        f += y * y - 10.0 * (2.0 * PI * y).cos();
        *gi = 2.0 * y + 20.0 * PI * (2.0 * PI * y).sin();
    }
    Some(f)
}

fn bench(c: &mut Criterion) {
    let m = ours();
    let (ac, ai) = argmin_nm();
    eprintln!(
        "nelder-mead rosenbrock-2: volfit cost {:.3e} iters {} evals {} | argmin cost {ac:.3e} iters {ai}",
        m.cost,
        m.iters,
        m.evals.total()
    );
    c.bench_function("nelder_mead/rosenbrock2/volfit", |b| b.iter(|| black_box(ours())));
    c.bench_function("nelder_mead/rosenbrock2/argmin", |b| b.iter(|| black_box(argmin_nm())));

    let p = FnObjective::new(5, rastrigin);
    let bx = Bounds::new(vec![-5.12; 5], vec![5.12; 5]).expect("valid box");
    let x0 = [3.0; 5];
    let de = DifferentialEvolution { seed: 1, ..DifferentialEvolution::default() };
    let cma = CmaEs { seed: 1, restarts: 6, ..CmaEs::default() };
    let ms = MultiStart {
        local: GradientDescent {
            control: Control {
                limits: Limits { max_iters: 2000, grad_tol: 1e-10, ..Limits::default() },
                ..Control::default()
            },
            ..GradientDescent::default()
        },
        starts: 256,
        sequence: SequenceKind::Sobol,
        seed: 1,
        init_radius: 1.0,
    };
    for (name, m) in [
        ("de", de.minimize_bounded(&p, &x0, Some(&bx), &mut ())),
        ("cma_es", cma.minimize_bounded(&p, &x0, Some(&bx), &mut ())),
        ("multi_start", ms.minimize_bounded(&p, &x0, Some(&bx), &mut ())),
    ] {
        eprintln!("{name} rastrigin-5: cost {:.3e} evals {}", m.cost, m.evals.total());
    }
    let mut g = c.benchmark_group("global/rastrigin5");
    g.sample_size(10);
    g.bench_function("de_rand1bin", |b| {
        b.iter(|| black_box(de.minimize_bounded(&p, &x0, Some(&bx), &mut ())))
    });
    g.bench_function("cma_es_ipop", |b| {
        b.iter(|| black_box(cma.minimize_bounded(&p, &x0, Some(&bx), &mut ())))
    });
    g.bench_function("multi_start_gd_256", |b| {
        b.iter(|| black_box(ms.minimize_bounded(&p, &x0, Some(&bx), &mut ())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
