//! Implied-volatility inversion: volfit (Jäckel 2015 "Let's be rational") side by side with
//! the `volsurf` crate on the same 1M options, single thread, then the parallel batch API
//! on 1 and 2 threads, then criterion timings on a 10k slice.
//!
//! Domain (deterministic, ChaCha8 seed 42, like `shared/peers/iv_bench.py`):
//! `k = ln(K/F) ~ U[−3, 3]`, `T` log-uniform in [1 day, 3 years], `σ` log-uniform in
//! [5 %, 300 %], `F = 60000`, out-of-the-money side (call for `K ≥ F`, put otherwise).
//! Prices come from `volfit::black::price` (few-ulp accurate against mpmath, see
//! `crates/volfit/tests/all/iv.rs`). Relative error `|σ̂ − σ|/σ` is reported on all points
//! whose price is representable (`price/F > 1e-300`, "all"), on `price/F ≥ 1e-12`
//! ("practical") and on `price/F ≥ 1e-4` ("tick").
//!
//! Run: `cargo bench -p volfit-bench --bench iv` (`IV_BENCH_N` overrides the 1M size).

use criterion::Criterion;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use std::time::Instant;
use volfit::black::{
    implied_vol, implied_vol_traced, implied_vols, implied_vols_par, price, IvError, IvInput,
};
use volfit::market::OptionType;

const F: f64 = 60_000.0;

fn domain(n: usize, seed: u64) -> (Vec<IvInput>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (lt0, lt1) = ((1.0f64 / 365.0).ln(), 3.0f64.ln());
    let (ls0, ls1) = (0.05f64.ln(), 3.0f64.ln());
    let mut inputs = Vec::with_capacity(n);
    let mut sigmas = Vec::with_capacity(n);
    for _ in 0..n {
        let k: f64 = -3.0 + 6.0 * rng.random::<f64>();
        let t = (lt0 + (lt1 - lt0) * rng.random::<f64>()).exp();
        let sigma = (ls0 + (ls1 - ls0) * rng.random::<f64>()).exp();
        let strike = F * k.exp();
        let kind = if strike >= F { OptionType::Call } else { OptionType::Put };
        inputs.push(IvInput {
            kind,
            price: price(kind, F, strike, t, sigma),
            forward: F,
            strike,
            t,
        });
        sigmas.push(sigma);
    }
    (inputs, sigmas)
}

#[derive(Default)]
struct Acc {
    max_all: f64,
    max_practical: f64,
    max_tick: f64,
    n_all: usize,
    failed_all: usize,
}

impl Acc {
    fn add(&mut self, q: &IvInput, sigma: f64, got: Option<f64>) {
        let rel_price = q.price / q.forward;
        if rel_price.is_nan() || rel_price <= 1e-300 {
            return;
        }
        self.n_all += 1;
        let Some(iv) = got else {
            self.failed_all += 1;
            return;
        };
        let e = ((iv - sigma) / sigma).abs();
        let e = if e.is_nan() { f64::INFINITY } else { e };
        self.max_all = self.max_all.max(e);
        if rel_price >= 1e-12 {
            self.max_practical = self.max_practical.max(e);
        }
        if rel_price >= 1e-4 {
            self.max_tick = self.max_tick.max(e);
        }
    }
}

fn volsurf_iv(q: &IvInput) -> Option<f64> {
    let kind = match q.kind {
        OptionType::Call => volsurf::types::OptionType::Call,
        OptionType::Put => volsurf::types::OptionType::Put,
    };
    volsurf::implied::BlackImpliedVol::compute(q.price, q.forward, q.strike, q.t, kind)
        .ok()
        .map(|v| v.0)
}

/// On-CPU time of the calling thread in seconds (`/proc/thread-self/schedstat`, Linux):
/// robust against other processes sharing the cores, unlike wall-clock time.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// Best of `reps` runs: (wall seconds, thread CPU seconds or wall if unavailable).
fn best_of<R>(reps: usize, mut f: impl FnMut() -> R) -> (f64, f64) {
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..reps {
        let c0 = thread_cpu_seconds();
        let t0 = Instant::now();
        black_box(f());
        let w = t0.elapsed().as_secs_f64();
        let c = match (c0, thread_cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => w,
        };
        wall = wall.min(w);
        cpu = cpu.min(c);
    }
    (wall, cpu)
}

fn main() {
    let n: usize =
        std::env::var("IV_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let (inputs, sigmas) = domain(n, 42);
    let mut out: Vec<Result<f64, IvError>> = vec![Err(IvError::NonFinite); n];

    if std::env::var_os("IV_BENCH_PROFILE").is_some() {
        // Profiling aid: only volfit's serial batch, ten passes.
        for _ in 0..10 {
            implied_vols(&inputs, &mut out);
            black_box(&out);
        }
        return;
    }

    // Accuracy.
    implied_vols(&inputs, &mut out);
    let mut acc_v = Acc::default();
    let mut acc_s = Acc::default();
    for ((q, &s), r) in inputs.iter().zip(&sigmas).zip(&out) {
        acc_v.add(q, s, r.ok());
        acc_s.add(q, s, volsurf_iv(q));
    }

    // Throughput, single thread: passes over all n, volfit and volsurf interleaved, best of
    // 5 each; rates from on-CPU thread time (wall-clock in brackets).
    let run_v = || {
        let mut acc = 0.0;
        for q in &inputs {
            if let Ok(v) = implied_vol(q.kind, q.price, q.forward, q.strike, q.t) {
                acc += v;
            }
        }
        acc
    };
    let run_s = || {
        let mut acc = 0.0;
        for q in &inputs {
            if let Some(v) = volsurf_iv(q) {
                acc += v;
            }
        }
        acc
    };
    let (mut t_v, mut t_s) = ((f64::INFINITY, f64::INFINITY), (f64::INFINITY, f64::INFINITY));
    for _ in 0..5 {
        let a = best_of(1, run_v);
        let b = best_of(1, run_s);
        t_v = (t_v.0.min(a.0), t_v.1.min(a.1));
        t_s = (t_s.0.min(b.0), t_s.1.min(b.1));
    }
    println!("IV inversion, n = {n}, single thread (best of 5 interleaved passes, CPU time)");
    println!(
        "{:<10} {:>8} {:>12} {:>9} {:>12} {:>12} {:>12} {:>7}",
        "peer",
        "M/s",
        "(wall M/s)",
        "ns/opt",
        "max_rel_all",
        "max_rel_prac",
        "max_rel_tick",
        "failed"
    );
    for (name, t, a) in [("volfit", t_v, &acc_v), ("volsurf", t_s, &acc_s)] {
        println!(
            "{:<10} {:>8.3} {:>12.3} {:>9.1} {:>12.3e} {:>12.3e} {:>12.3e} {:>7}",
            name,
            n as f64 / t.1 / 1e6,
            n as f64 / t.0 / 1e6,
            t.1 / n as f64 * 1e9,
            a.max_all,
            a.max_practical,
            a.max_tick,
            a.failed_all
        );
    }
    println!("points with price/F > 1e-300: {} of {n}", acc_v.n_all);
    // Householder steps per volfit inversion (diagnostic trace, same computation).
    let mut steps = [0usize; 4];
    for q in &inputs {
        if let Ok(tr) = implied_vol_traced(q.kind, q.price, q.forward, q.strike, q.t) {
            steps[(tr.steps as usize).min(3)] += 1;
        }
    }
    let inverted: usize = steps.iter().sum();
    println!(
        "volfit Householder steps: one {:.1} %, two {:.1} %, more {:.1} % of {inverted} inversions",
        100.0 * steps[1] as f64 / inverted as f64,
        100.0 * steps[2] as f64 / inverted as f64,
        100.0 * steps[3] as f64 / inverted as f64
    );
    println!("speed ratio volfit/volsurf (CPU time): {:.2}", t_s.1 / t_v.1);

    // Parallel batch API scaling.
    let mut t1 = 0.0;
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool with 1 or 2 threads builds");
        let t = pool.install(|| best_of(3, || implied_vols_par(&inputs, &mut out))).0;
        if threads == 1 {
            t1 = t;
        }
        println!(
            "implied_vols_par, {threads} thread(s): {:.3} M/s wall, speed-up {:.2}",
            n as f64 / t / 1e6,
            t1 / t
        );
    }

    // Criterion on a 10k slice.
    let slice = &inputs[..n.min(10_000)];
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("iv_10k");
    g.bench_function("volfit", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for q in slice {
                if let Ok(v) = implied_vol(q.kind, q.price, q.forward, q.strike, q.t) {
                    acc += v;
                }
            }
            acc
        })
    });
    g.bench_function("volsurf", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for q in slice {
                if let Some(v) = volsurf_iv(q) {
                    acc += v;
                }
            }
            acc
        })
    });
    g.finish();
    c.final_summary();
}
