//! Heston and Bates whole-surface calibration on real Deribit chains (the quotes and start
//! point of `fit.rs`'s Heston row and of `../shared/peers/heston_quantlib.py`: every
//! two-sided out-of-the-money quote of every expiry with ≥ 6 of them; v0 = short ATM
//! variance, θ = long ATM variance, κ = 2, σ = 1, ρ = −0.3), BTC and ETH of one or more
//! svcj_deribit_2026 snapshots (`HESTON_BENCH_FILES`, comma-separated, default one file).
//!
//! Summary: per chain the median wall time of `calibrate` (LM, implied-vol residuals,
//! uniform weights), RMSE in vol points against the mids, iterations, evaluations, and the
//! cost of one value + Jacobian evaluation; then criterion groups per chain.
//!
//! `cargo bench -p volfit-bench --bench heston`

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use volfit::fit::CfSurfaceModel;
use volfit::fit::{calibrate, Calibration, Counting, FitSpec, ModelKind, VolModel};
use volfit::model::Bates;
use volfit::model::Heston;
use volfit::model::Params;
use volfit::objective::Target;
use volfit_bench::slices::{
    atm_vol, bench_spec, load_snapshots, median, rmse_vol_points, slices, svcj_dir,
};

const DEFAULT_FILE: &str = "deribit_options_snapshot_20260105T041127Z.csv.gz";
const MIN_QUOTES: usize = 6;

struct Chain {
    name: String,
    targets: Vec<Target>,
    short_atm: f64,
    long_atm: f64,
    expiries: usize,
}

fn chains() -> Vec<Chain> {
    let Some(dir) = svcj_dir() else {
        eprintln!("real data (../shared/data/svcj_deribit_2026) not found; skipping");
        return Vec::new();
    };
    let files = std::env::var("HESTON_BENCH_FILES").unwrap_or_else(|_| DEFAULT_FILE.into());
    let spec = bench_spec(ModelKind::Svi, MIN_QUOTES);
    let mut out = Vec::new();
    for file in files.split(',').filter(|f| !f.is_empty()) {
        let Ok(snaps) = load_snapshots(&dir.join(file)) else {
            eprintln!("cannot read {file}; skipped");
            continue;
        };
        for s in snaps.iter().filter(|s| s.underlying == "BTC" || s.underlying == "ETH") {
            let sl: Vec<_> =
                slices(s, &spec).into_iter().filter(|s| atm_vol(&s.targets).is_some()).collect();
            let atms: Vec<f64> = sl.iter().filter_map(|s| atm_vol(&s.targets)).collect();
            let (Some(&short_atm), Some(&long_atm)) = (atms.first(), atms.last()) else {
                continue;
            };
            out.push(Chain {
                name: format!("{} {}", s.underlying, &file[27..40]),
                targets: sl.iter().flat_map(|s| s.targets.iter().copied()).collect(),
                short_atm,
                long_atm,
                expiries: sl.len(),
            });
        }
    }
    out
}

fn heston_start(c: &Chain) -> Option<Heston> {
    Heston::new(c.short_atm.powi(2), 2.0, c.long_atm.powi(2), 1.0, -0.3).ok()
}

/// (value-only, Jacobian) model evaluations of one Heston calibration.
fn heston_eval_counts(c: &Chain, spec: &FitSpec) -> (usize, usize) {
    let Some(h) = heston_start(c) else { return (0, 0) };
    let fam = CfSurfaceModel::new(h, &c.targets);
    let counting = Counting::new(&fam);
    let mut x0 = [0.0; 5];
    Params::to_slice(&h, &mut x0);
    let _ = calibrate(&counting, &c.targets, spec, &x0, None);
    let (values, jacobians) = counting.counts();
    (values as usize, jacobians as usize)
}

fn fit_heston(c: &Chain, spec: &FitSpec) -> Option<Calibration> {
    let h = heston_start(c)?;
    let fam = CfSurfaceModel::new(h, &c.targets);
    let mut x0 = [0.0; 5];
    Params::to_slice(&h, &mut x0);
    calibrate(&fam, &c.targets, spec, &x0, None).ok()
}

fn fit_bates(c: &Chain, spec: &FitSpec) -> Option<Calibration> {
    let b = Bates::new(heston_start(c)?, 0.5, -0.05, 0.15).ok()?;
    let fam = CfSurfaceModel::new(b, &c.targets);
    let mut x0 = [0.0; 8];
    Params::to_slice(&b, &mut x0);
    calibrate(&fam, &c.targets, spec, &x0, None).ok()
}

/// On-CPU time of this thread in seconds (`/proc/thread-self/schedstat`): unlike wall time
/// it does not count the time the shared machine runs other processes.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

/// Median wall time and mean on-CPU time (seconds) of `repeats` calls after a warm-up call.
fn timed<R>(repeats: usize, mut f: impl FnMut() -> R) -> (f64, f64, R) {
    let mut last = black_box(f());
    let mut times = Vec::with_capacity(repeats);
    let cpu0 = thread_cpu();
    for _ in 0..repeats {
        let t0 = Instant::now();
        last = black_box(f());
        times.push(t0.elapsed().as_secs_f64());
    }
    let cpu = (thread_cpu() - cpu0) / repeats.max(1) as f64;
    (median(&times), cpu, last)
}

fn summary(chains: &[Chain]) {
    let spec = bench_spec(ModelKind::Heston, MIN_QUOTES);
    let reps: usize =
        std::env::var("HESTON_BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    println!("\n| chain | model | expiries/quotes | median wall ms | mean CPU ms | RMSE vol pts | iters | evals | one value+Jacobian CPU ms | stop | x |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for c in chains {
        let mids: Vec<f64> = c.targets.iter().map(|q| q.mid_iv.unwrap_or(f64::NAN)).collect();
        for (name, f) in [
            ("Heston", fit_heston as fn(&Chain, &FitSpec) -> Option<Calibration>),
            ("Bates", fit_bates),
        ] {
            if std::env::var("HESTON_BENCH_MODELS").is_ok_and(|m| !m.contains(&name.to_lowercase()))
            {
                continue;
            }
            let (t, cpu, cal) = timed(reps, || f(c, &spec));
            let Some(cal) = cal else {
                println!("| {} | {name} | failed |", c.name);
                continue;
            };
            if std::env::var_os("HESTON_BENCH_TRACE").is_some() {
                for it in &cal.trace.iterates {
                    println!(
                        "  iter {:2} cost {:.10e} |g| {:.3e} step {:.3e} rate {:.3e}",
                        it.iter, it.cost, it.grad_norm, it.step, it.rate
                    );
                }
            }
            let n = cal.x.len();
            if name == "Heston" && std::env::var_os("HESTON_BENCH_TRACE").is_some() {
                // One value + Jacobian evaluation per expiry at the fit.
                let h = Heston::from_slice(&cal.x).expect("fitted");
                let mut parts = Vec::new();
                let mut start = 0;
                while start < c.targets.len() {
                    let t = c.targets[start].t;
                    let end = start + c.targets[start..].iter().take_while(|q| q.t == t).count();
                    let tg = &c.targets[start..end];
                    let fam = CfSurfaceModel::new(h, tg);
                    let (mut s, mut j) = (vec![0.0; tg.len()], vec![0.0; 5 * tg.len()]);
                    let (cpu, _, _) = timed(reps, || fam.vols(&cal.x, tg, &mut s, Some(&mut j)));
                    let kmax = tg.iter().fold(0.0_f64, |m, q| m.max(q.k.abs()));
                    parts.push(format!(
                        "{:.2}d/{}q/|k|≤{:.2} {:.0}µs",
                        t * 365.0,
                        tg.len(),
                        kmax,
                        cpu * 1e6
                    ));
                    start = end;
                }
                println!("{} Jacobian per expiry: {}", c.name, parts.join(", "));
            }
            if name == "Heston" {
                let (v, j) = heston_eval_counts(c, &spec);
                println!(
                    "{} Heston model evaluations in calibrate: {v} values, {j} Jacobians",
                    c.name
                );
            }
            let jac_ms = if name == "Heston" {
                let fam =
                    CfSurfaceModel::new(Heston::from_slice(&cal.x).expect("fitted"), &c.targets);
                let (mut s, mut j) = (vec![0.0; c.targets.len()], vec![0.0; n * c.targets.len()]);
                timed(reps, || fam.vols(&cal.x, &c.targets, &mut s, Some(&mut j))).1
            } else {
                let fam =
                    CfSurfaceModel::new(Bates::from_slice(&cal.x).expect("fitted"), &c.targets);
                let (mut s, mut j) = (vec![0.0; c.targets.len()], vec![0.0; n * c.targets.len()]);
                timed(reps, || fam.vols(&cal.x, &c.targets, &mut s, Some(&mut j))).1
            };
            println!(
                "| {} | {name} | {}/{} | {:.2} | {:.2} | {:.4} | {} | {} | {:.3} | {:?} | {:?} |",
                c.name,
                c.expiries,
                c.targets.len(),
                t * 1e3,
                cpu * 1e3,
                rmse_vol_points(&cal.model_vols, &mids),
                cal.minimum.iters,
                cal.minimum.evals.total(),
                jac_ms * 1e3,
                cal.minimum.stop,
                cal.x.iter().map(|v| (v * 1e4).round() / 1e4).collect::<Vec<_>>()
            );
        }
    }
}

fn bench(cr: &mut Criterion) {
    let chains = chains();
    if chains.is_empty() {
        return;
    }
    summary(&chains);
    if std::env::var_os("HESTON_BENCH_NO_CRITERION").is_some() {
        return;
    }
    let spec = bench_spec(ModelKind::Heston, MIN_QUOTES);
    for c in &chains {
        let mut g = cr.benchmark_group(format!("heston_{}", c.name.replace(' ', "_")));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("volfit_heston", |b| b.iter(|| fit_heston(c, &spec).is_some()));
        g.bench_function("volfit_bates", |b| b.iter(|| fit_bates(c, &spec).is_some()));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
