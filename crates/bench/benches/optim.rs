//! volfit-optim's solvers side by side with their peers, on the same problems and tolerances:
//! our Levenberg–Marquardt vs the `levenberg-marquardt` crate (MINPACK port, nalgebra), and our
//! L-BFGS vs `argmin`'s L-BFGS (More–Thuente line search, `Vec<f64>` backend). Problems: the
//! NIST StRD set (both starts for LM, start 2 for L-BFGS) and a 60-quote raw-SVI smile.
//!
//! Before timing, a table of final costs and evaluation counts is printed: the comparison is
//! only meaningful where the final costs agree. Then a load-robust LM timing table (minimum
//! over 30 interleaved batches of ours and the peer's, with the ratio per case and the
//! geometric mean); `--bench zzz` prints only these tables. With `OPTIM_BENCH_JSON=FILE`, our
//! times and final costs are also written to FILE for the scipy comparison
//! (`peers/optim_peers.sh`). Run: `cargo bench -p volfit-bench --bench optim`.

use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use criterion::{criterion_group, criterion_main, Criterion};
use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt as PeerLm};
use nalgebra::{storage::Owned, DMatrix, DVector, Dyn};
use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::{Duration, Instant};
use volfit_bench::problems::standard::NIST;
use volfit_bench::problems::{
    HuberLs, Smile, HUBER_SCALE, OUTLIER_JUMP, SMILE_NOISE, SMILE_SEED, SVI_START,
};
use volfit_optim::loss::Huber;
use volfit_optim::{
    Damping, Lbfgs, LevenbergMarquardt, Limits, Minimum, Residuals, RobustSum, Solver, SumOfSquares,
};

/// LM tolerance for both LM implementations: MINPACK's `ftol = xtol = 1e-10, gtol = 0`
/// (`with_tol`), ours `cost_tol = step_tol = 1e-10, grad_tol = 0`.
const LM_TOL: f64 = 1e-10;
/// L-BFGS tolerances for both: gradient 1e-8 (argmin: 2-norm, ours: max-norm), cost 1e-15 (argmin: absolute change, ours: relative).
const GRAD_TOL: f64 = 1e-8;
const COST_TOL: f64 = 1e-15;

fn our_lm() -> LevenbergMarquardt {
    LevenbergMarquardt::new(Limits {
        grad_tol: 0.0,
        cost_tol: LM_TOL,
        step_tol: LM_TOL,
        ..Limits::default()
    })
}

fn our_lbfgs() -> Lbfgs {
    Lbfgs::new(
        10,
        Limits { grad_tol: GRAD_TOL, cost_tol: COST_TOL, step_tol: 0.0, ..Limits::default() },
    )
}

/// A residual problem as the `levenberg-marquardt` crate wants it; counts Jacobian calls
/// (each evaluates the residuals with the Jacobian, one `eval`, as our `linearize` does).
/// Scratch buffers for the Jacobian call are allocated once per solve, as ours are: the only
/// allocations per call are the owned vectors the crate's API returns.
struct LmPeer<'a> {
    p: &'a dyn Residuals,
    x: DVector<f64>,
    jacobians: Cell<usize>,
    /// Residuals and row-major Jacobian of the last `jacobian()` call.
    scratch: RefCell<(Vec<f64>, Vec<f64>)>,
}

impl LeastSquaresProblem<f64, Dyn, Dyn> for LmPeer<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;
    fn set_params(&mut self, x: &DVector<f64>) {
        self.x.copy_from(x);
    }
    fn params(&self) -> DVector<f64> {
        self.x.clone()
    }
    fn residuals(&self) -> Option<DVector<f64>> {
        let mut r = DVector::zeros(self.p.num_residuals());
        self.p.eval(self.x.as_slice(), r.as_mut_slice(), None)?;
        Some(r)
    }
    fn jacobian(&self) -> Option<DMatrix<f64>> {
        self.jacobians.set(self.jacobians.get() + 1);
        let (m, n) = (self.p.num_residuals(), self.p.num_params());
        let mut guard = self.scratch.borrow_mut();
        let (r, j) = &mut *guard;
        self.p.eval(self.x.as_slice(), r, Some(j))?;
        Some(DMatrix::from_row_slice(m, n, j))
    }
}

/// Runs the peer LM; returns (x, cost, residual evaluations, Jacobian evaluations).
fn peer_lm(p: &dyn Residuals, x0: &[f64]) -> (Vec<f64>, f64, usize, usize) {
    let (m, n) = (p.num_residuals(), p.num_params());
    let problem = LmPeer {
        p,
        x: DVector::from_column_slice(x0),
        jacobians: Cell::new(0),
        scratch: RefCell::new((vec![0.0; m], vec![0.0; m * n])),
    };
    let (out, report) = PeerLm::new().with_tol(LM_TOL).minimize(problem);
    let jacobians = out.jacobians.get();
    (out.x.as_slice().to_vec(), report.objective_function, report.number_of_evaluations, jacobians)
}

/// ½‖r‖² as argmin wants it, counting calls of the cost and the gradient.
struct ArgPeer<'a> {
    p: &'a dyn Residuals,
    calls: Cell<u64>,
}

impl CostFunction for ArgPeer<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        self.calls.set(self.calls.get() + 1);
        let mut r = vec![0.0; self.p.num_residuals()];
        match self.p.eval(x, &mut r, None) {
            Some(()) => Ok(0.5 * r.iter().map(|v| v * v).sum::<f64>()),
            None => Ok(f64::INFINITY),
        }
    }
}

impl Gradient for ArgPeer<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
        self.calls.set(self.calls.get() + 1);
        let (m, n) = (self.p.num_residuals(), self.p.num_params());
        let mut r = vec![0.0; m];
        let mut j = vec![0.0; m * n];
        let mut g = vec![0.0; n];
        if self.p.eval(x, &mut r, Some(&mut j)).is_none() {
            return Ok(vec![f64::NAN; n]);
        }
        for i in 0..m {
            for k in 0..n {
                g[k] += j[i * n + k] * r[i];
            }
        }
        Ok(g)
    }
}

/// Runs argmin's L-BFGS; returns (cost, iterations, cost + gradient evaluations).
fn peer_lbfgs(p: &dyn Residuals, x0: &[f64]) -> (f64, u64, u64) {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(GRAD_TOL)
        .and_then(|s| s.with_tolerance_cost(COST_TOL))
        .expect("valid tolerances");
    let res = Executor::new(ArgPeer { p, calls: Cell::new(0) }, solver)
        .configure(|s| s.param(x0.to_vec()).max_iters(1000))
        .run()
        .expect("argmin run");
    let st = res.state();
    let evals = res.problem().problem.as_ref().map_or(0, |q| q.calls.get());
    (st.get_best_cost(), st.get_iter(), evals)
}

fn lm_min(p: &dyn Residuals, x0: &[f64]) -> Minimum {
    our_lm().minimize(&p, x0, None, &mut ())
}

fn lbfgs_min(p: &dyn Residuals, x0: &[f64]) -> Minimum {
    our_lbfgs().minimize(&SumOfSquares::new(p), x0, &mut ())
}

/// The cases: (name, problem, start).
fn cases(smile: &Smile) -> Vec<(String, &dyn Residuals, Vec<f64>, bool)> {
    let mut v: Vec<(String, &dyn Residuals, Vec<f64>, bool)> = Vec::new();
    for p in &NIST {
        for s in [1u8, 2] {
            // L-BFGS rows use start 2 only (see the conformance test for start 1).
            v.push((format!("{}-s{s}", p.name), p, p.start(s).to_vec(), s == 2));
        }
    }
    v.push(("smile60".to_string(), smile, SVI_START.to_vec(), true));
    v
}

fn report(smile: &Smile, outliers: &Smile) {
    // Evaluation counts: ours "cost()+linearize()" calls, the peer's "residuals()+jacobian()"
    // calls; each is one pass over the residual code (a Jacobian call also computes the
    // residuals), so the totals compare the work spent in the problem.
    eprintln!(
        "\n{:<14} {:>22} {:>22} {:>9} {:>9} {:>9} {:>9}",
        "LM case", "ours cost", "peer cost", "rel.diff", "ours v+g", "peer r+J", "nielsen"
    );
    for (name, p, x0, _) in cases(smile) {
        let m = lm_min(p, &x0);
        let nl = our_lm().with_damping(Damping::nielsen());
        let nl = LevenbergMarquardt { secant: false, ..nl }.minimize(&p, &x0, None, &mut ());
        let (_, c, e, jc) = peer_lm(p, &x0);
        let rel = (m.cost - c).abs() / c.abs().max(f64::MIN_POSITIVE);
        eprintln!(
            "{name:<14} {:>22.15e} {c:>22.15e} {rel:>9.1e} {:>9} {:>9} {:>9}",
            m.cost,
            format!("{}+{}", m.evals.values, m.evals.gradients),
            format!("{e}+{jc}"),
            nl.evals.total()
        );
    }
    // Back-to-back timing that shrugs off load from other processes on a shared machine:
    // 30 alternations of a batch of our solves and a batch of the peer's (~2 ms each), the
    // minimum time per solve of each.
    eprintln!(
        "\n{:<14} {:>12} {:>12} {:>8}   (min over 30 interleaved batches)",
        "LM case", "ours µs", "peer µs", "ratio"
    );
    let mut log_sum = 0.0;
    let mut count = 0.0;
    let mut rows = Vec::new();
    for (name, p, x0, _) in cases(smile) {
        let t = Instant::now();
        black_box(lm_min(black_box(p), black_box(&x0)));
        let k = (2e-3 / t.elapsed().as_secs_f64().max(1e-9)).clamp(1.0, 10_000.0) as u32;
        let (mut ours, mut peer) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..30 {
            ours = ours.min(per_call(k, || lm_min(black_box(p), black_box(&x0))));
            peer = peer.min(per_call(k, || peer_lm(black_box(p), black_box(&x0))));
        }
        log_sum += (peer / ours).ln();
        count += 1.0;
        eprintln!("{name:<14} {:>12.2} {:>12.2} {:>8.2}", ours * 1e6, peer * 1e6, peer / ours);
        let cost = lm_min(p, &x0).cost;
        rows.push(
            serde_json::json!({ "case": name, "ours_s": ours, "peer_s": peer, "cost": cost }),
        );
    }
    eprintln!("geometric mean ratio {:.2}", (log_sum / count).exp());
    eprintln!(
        "\n{:<14} {:>22} {:>22} {:>9} {:>6} {:>6}",
        "L-BFGS case", "ours cost", "argmin cost", "rel.diff", "ours#", "peer#"
    );
    for (name, p, x0, lb) in cases(smile) {
        if !lb {
            continue;
        }
        let m = lbfgs_min(p, &x0);
        let (c, _, e) = peer_lbfgs(p, &x0);
        let rel = (m.cost - c).abs() / c.abs().max(f64::MIN_POSITIVE);
        eprintln!(
            "{name:<14} {:>22.15e} {c:>22.15e} {rel:>9.1e} {:>6} {e:>6}",
            m.cost,
            m.evals.total()
        );
    }
    let h = HuberLs { inner: outliers, scale: HUBER_SCALE };
    let rs = robust_huber(outliers);
    let huber = our_lm().minimize(&h, &SVI_START, None, &mut ());
    for (name, m) in
        [("HuberLs", &huber), ("RobustSum", &our_lm().minimize(&rs, &SVI_START, None, &mut ()))]
    {
        eprintln!(
            "Huber LM ({name}) smile60-outliers: cost {:.15e}, evals {} ({} cost + {} linearize), x {:?}",
            m.cost,
            m.evals.total(),
            m.evals.values,
            m.evals.gradients,
            m.x
        );
    }
    eprintln!();
    // For the scipy comparison (`peers/optim_peers.sh`): our times and final costs as JSON.
    if let Ok(path) = std::env::var("OPTIM_BENCH_JSON") {
        let t = (0..30)
            .map(|_| per_call(100, || our_lm().minimize(black_box(&h), &SVI_START, None, &mut ())))
            .fold(f64::INFINITY, f64::min);
        rows.push(serde_json::json!({
            "case": "smile60-huber", "ours_s": t, "cost": huber.cost, "evals": huber.evals.total(),
        }));
        let text = serde_json::to_string_pretty(&rows).expect("JSON of plain numbers");
        std::fs::write(&path, text).unwrap_or_else(|e| eprintln!("cannot write {path}: {e}"));
    }
}

/// Seconds per call of `f` over one batch of `k` calls.
fn per_call<T>(k: u32, mut f: impl FnMut() -> T) -> f64 {
    let t = Instant::now();
    for _ in 0..k {
        black_box(f());
    }
    t.elapsed().as_secs_f64() / f64::from(k)
}

/// The library's robust cost with the Huber loss (Triggs-corrected rows for LM).
fn robust_huber(s: &Smile) -> RobustSum<&Smile, Huber> {
    RobustSum::new(s, Huber::new(HUBER_SCALE).expect("positive Huber scale"))
}

fn bench(c: &mut Criterion) {
    let smile = Smile::noisy(SMILE_SEED, SMILE_NOISE);
    let outliers = Smile::with_outliers(SMILE_SEED, SMILE_NOISE, OUTLIER_JUMP);
    report(&smile, &outliers);
    let mut g = c.benchmark_group("lm");
    for (name, p, x0, _) in cases(&smile) {
        g.bench_function(format!("volfit/{name}"), |b| {
            b.iter(|| lm_min(black_box(p), black_box(&x0)))
        });
        g.bench_function(format!("levenberg-marquardt/{name}"), |b| {
            b.iter(|| peer_lm(black_box(p), black_box(&x0)))
        });
    }
    let h = HuberLs { inner: &outliers, scale: HUBER_SCALE };
    g.bench_function("volfit/smile60-huber", |b| {
        b.iter(|| our_lm().minimize(black_box(&h), &SVI_START, None, &mut ()))
    });
    let rs = robust_huber(&outliers);
    g.bench_function("volfit/smile60-huber-robustsum", |b| {
        b.iter(|| our_lm().minimize(black_box(&rs), &SVI_START, None, &mut ()))
    });
    g.finish();
    let mut g = c.benchmark_group("lbfgs");
    for (name, p, x0, lb) in cases(&smile) {
        if !lb {
            continue;
        }
        g.bench_function(format!("volfit/{name}"), |b| {
            b.iter(|| lbfgs_min(black_box(p), black_box(&x0)))
        });
        g.bench_function(format!("argmin/{name}"), |b| {
            b.iter(|| peer_lbfgs(black_box(p), black_box(&x0)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
