//! Surrogate targets of issue 18, measured in one run:
//!
//! 1. accuracy of a trained net on held-out samples (a data directory generated with another
//!    seed than the training data): median / p99 / max |IV error| in vol points;
//! 2. on real chains (`../shared/data/svcj_deribit_2026/*.csv.gz`, BTC and ETH), the exact
//!    Heston fit (`fit_snapshot`, the code of `volfit fit --model heston`, cold start) against
//!    the fit through the net: the surrogate stage's time alone, and surrogate + exact
//!    polish; RMSE in vol points over every fitted quote (model vs mid), each pipeline.
//!
//! ```text
//! surrogate_bench --net models/heston.safetensors [--held-out DIR] [--files N] [--polish-tol X]
//! surrogate_bench data --model heston --samples N --seed S --lower L,… --upper U,… --out DIR
//!     [--z LO,HI,N] [--maturities-days D,…]
//! ```
//!
//! `data` is `volfit surrogate data` over another parameter box than the model's default
//! (the box is part of the data spec, so `volfit surrogate train` and `volfit fit
//! --surrogate` need nothing else): the real chains' Heston fits sit at σ ≈ 8–10, κ ≈ 30,
//! outside the default box, where a net trained on it cannot follow.
//!
//! `--z LO,HI,N` widens the grid's strikes (`Grid::with_z`), `--maturities-days` replaces
//! its maturities; `--polish-tol X` stops the polish once a step gains less than `X` of the
//! cost (`SurrogateSpec::with_polish_tol`). Each chain's row gives the iterations and
//! evaluations of the exact fit and of the polish, and the time and RMSE of the surrogate's
//! answer scored exactly without a polish (`raw_us`, `rmse_surrogate_only`).
//!
//! Prints one JSON line per chain and a JSON summary (medians).
//!
//! Each chain is also fitted with the secant polish (`PolishMethod::Secant`: exact
//! residuals, the net's Jacobian with Broyden updates, no exact Jacobian) under the same
//! `--polish-tol`: `secant_us`, `rmse_secant`, and the exact pricer's work of both polishes
//! (`*_exact_vols_jacobians`: evaluations of the vols alone, and with the exact Jacobian).
//!
//! `cost` prices one exact Heston surface per chain at its exact fit, vols alone against
//! vols with the exact Jacobian (and the net's Jacobian with `--net`): the cost split of
//! one exact LM evaluation (`--mode vols|jac|net --reps R` for callgrind).
//!
//! ```text
//! surrogate_bench cost [--files N] [--reps R] [--mode all|vols|jac|net] [--net NET]
//! ```
//!
//! Measured 2026-12-05 (the numbers and the ceiling they imply: `models/README.md` and
//! the issue 18 notes): vols with the exact Jacobian cost 1.5× vols alone in wall time,
//! 1.96× in instructions (callgrind: 9.29 M against 4.73 M per 300-quote surface); the
//! exact fit evaluates the Jacobian at every trial point (11 evaluations, about 23 surface
//! evaluations' worth); the secant polish with `--polish-tol 0.01` takes 3 exact vols and
//! no Jacobian, every chain within 1.002× of the exact fit's RMSE.
//!
//! Re-measured 2026-12-05 evening at load ≈ 1, 60 chains, `--polish-tol 0.01`: exact fit
//! median 8,982 µs; one exact vols evaluation at the exact fit (`cost`) median 483 µs, so
//! the exact fit is a median 19.0× one exact evaluation (max 29.3×, 20 of 60 chains ≥ 20×):
//! the ceiling of any pipeline that prices the exact surface even once, before the net's
//! own 671 µs. Reached: secant polish 3.87×, the net's answer scored exactly
//! (`--polish false`, one exact evaluation) 7.39× (41 of 60 chains within 1.01× of the exact
//! RMSE), the net alone 13.5×.

use std::path::{Path, PathBuf};
use std::time::Instant;
use volfit::fit::{
    fit_snapshot, select_targets, CfSurfaceModel, FitSpec, ModelKind, PolishMethod, SnapshotResult,
    SurrogateSpec, VolModel,
};
use volfit::market::Snapshot;
use volfit::model::{Heston, Params};
use volfit::objective::Target;
use volfit::surrogate::{
    generate, grid_errors, load_data, DataSpec, Grid, ParamBox, SampleModel, Surrogate,
};
use volfit_bench::args::arg;
use volfit_bench::slices::{load_snapshots, median, svcj_files};

/// RMSE (vol points) of the model vols against the mids over every fitted quote.
fn rmse(r: &SnapshotResult) -> f64 {
    let (mut se, mut n) = (0.0, 0usize);
    for row in &r.residuals {
        if let Some(mid) = row.mid_iv {
            se += (row.model_iv - mid).powi(2);
            n += 1;
        }
    }
    100.0 * (se / n.max(1) as f64).sqrt()
}

/// The calibration time of a surface fit (µs), as `fit.json` reports it.
fn fit_us(r: &SnapshotResult) -> f64 {
    r.fit.expiries.first().map_or(f64::NAN, |e| e.time_us as f64)
}

/// Solver iterations and evaluations of a surface fit's (last) exact stage.
fn iters(r: &SnapshotResult) -> (u32, u64) {
    r.fit.expiries.first().map_or((0, 0), |e| (e.iterations, e.evaluations))
}

fn held_out(net: &Surrogate, dir: &str) -> Result<serde_json::Value, String> {
    let data = load_data(std::path::Path::new(dir)).map_err(|e| e.to_string())?;
    let e = grid_errors(net, &data.params, &data.ivs);
    Ok(serde_json::json!({
        "held_out_dir": dir, "samples": e.samples, "seed": data.spec.seed,
        "median_vol_pts": 100.0 * e.all_median, "p99_vol_pts": 100.0 * e.all_p99,
        "max_vol_pts": 100.0 * e.max,
    }))
}

fn floats(args: &[String], name: &str) -> Result<Vec<f64>, String> {
    let v = arg(args, name).ok_or_else(|| format!("{name} is required"))?;
    v.split(',').map(|x| x.trim().parse().map_err(|_| format!("{name}: {x:?}"))).collect()
}

fn data(args: &[String]) -> Result<(), String> {
    let model: SampleModel = arg(args, "--model").ok_or("--model")?.parse()?;
    let samples: u64 =
        arg(args, "--samples").ok_or("--samples")?.parse().map_err(|_| "--samples")?;
    let seed: u64 = arg(args, "--seed").map_or(Ok(0), |v| v.parse()).map_err(|_| "--seed")?;
    let out = PathBuf::from(arg(args, "--out").ok_or("--out")?);
    let mut spec = DataSpec::new(model, samples, seed, 1024);
    spec.bounds = ParamBox { lower: floats(args, "--lower")?, upper: floats(args, "--upper")? };
    if arg(args, "--z").is_some() {
        let z = floats(args, "--z")?;
        let [lo, hi, n] = z[..] else { return Err("--z needs LO,HI,N".into()) };
        spec.grid.z = Grid::with_z(lo, hi, n as usize).map_err(|e| format!("--z: {e}"))?.z;
    }
    if arg(args, "--maturities-days").is_some() {
        spec.grid.maturities =
            floats(args, "--maturities-days")?.iter().map(|d| d / 365.0).collect();
    }
    let t0 = Instant::now();
    let sum = generate(&spec, &out, &|_| {}).map_err(|e| e.to_string())?;
    eprintln!("{}: {sum:?} in {:.1} s", out.display(), t0.elapsed().as_secs_f64());
    Ok(())
}

/// The targets of `snap`'s Heston surface fit (as `fit_snapshot` selects them: each
/// expiry's usable quotes, expiries with too few left out) and the exact fit's parameters.
fn surface_targets(snap: &Snapshot, spec: &FitSpec) -> (Vec<Target>, Vec<f64>) {
    let fit = fit_snapshot(snap, spec, None);
    let mut targets = Vec::new();
    for e in &snap.expiries {
        let sel = select_targets(e, spec);
        if sel.len() >= spec.filter.min_quotes.max(1) {
            targets.extend(sel);
        }
    }
    let x = fit
        .fit
        .surface_params
        .as_ref()
        .map(|p| Heston::NAMES.iter().map(|n| p[*n]).collect())
        .unwrap_or_default();
    (targets, x)
}

/// `cost`: the price of one exact Heston evaluation on each real chain at its exact fit,
/// vols alone against vols with the exact Jacobian, and the net's vols with its Jacobian
/// (minimum over `--reps` repetitions, µs). `--mode vols|jac|net` runs only that kind
/// `--reps` times (for instruction counts under `valgrind --tool=callgrind`, where the
/// difference between two `--reps` values removes the setup).
fn cost(args: &[String]) -> Result<(), String> {
    let files: usize =
        arg(args, "--files").map_or(Ok(usize::MAX), |v| v.parse()).map_err(|_| "--files")?;
    let reps: usize = arg(args, "--reps").map_or(Ok(20), |v| v.parse()).map_err(|_| "--reps")?;
    let mode = arg(args, "--mode").unwrap_or_else(|| "all".into());
    let net = arg(args, "--net").map(|p| Surrogate::load(Path::new(&p))).transpose();
    let net = net.map_err(|e| e.to_string())?;
    let spec = FitSpec { model: ModelKind::Heston, ..FitSpec::default() };
    let mut ratios = Vec::new();
    for path in svcj_files(files)? {
        for snap in load_snapshots(&path)? {
            let (targets, x) = surface_targets(&snap, &spec);
            if x.len() != 5 {
                continue;
            }
            let family =
                CfSurfaceModel::new(Heston::from_slice(&x).map_err(|e| e.to_string())?, &targets);
            let m = targets.len();
            let (mut sigma, mut jac) = (vec![0.0; m], vec![0.0; m * 5]);
            let time = |f: &mut dyn FnMut()| -> f64 {
                (0..reps.max(1))
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed().as_secs_f64() * 1e6
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let runs = |want: &str| if mode == "all" || mode == want { reps } else { 0 };
            let mut vols_us = f64::NAN;
            let mut jac_us = f64::NAN;
            let mut net_us = f64::NAN;
            if runs("vols") > 0 {
                vols_us = time(&mut || {
                    family.vols(&x, &targets, &mut sigma, None);
                });
            }
            if runs("jac") > 0 {
                jac_us = time(&mut || {
                    family.vols(&x, &targets, &mut sigma, Some(&mut jac));
                });
            }
            if let (Some(net), true) = (&net, runs("net") > 0) {
                let (g, n) = (net.info().grid.len(), net.num_params());
                let (mut v, mut gj) = (vec![0.0; g], vec![0.0; g * n]);
                let xn: Vec<f64> = x
                    .iter()
                    .zip(net.info().bounds.lower.iter().zip(&net.info().bounds.upper))
                    .map(|(v, (l, u))| v.clamp(*l, *u))
                    .collect();
                net_us = time(&mut || net.surface_jacobian(&xn, &mut v, &mut gj));
            }
            ratios.push(jac_us / vols_us);
            println!(
                "{}",
                serde_json::json!({
                    "chain": format!("{} {}", snap.underlying, snap.time_iso()),
                    "quotes": m, "expiries": targets.iter().map(|q| q.t.to_bits()).collect::<std::collections::BTreeSet<_>>().len(),
                    "vols_us": vols_us, "vols_with_jacobian_us": jac_us, "net_jacobian_us": net_us,
                })
            );
        }
    }
    println!(
        "{}",
        serde_json::json!({ "chains": ratios.len(), "median_jacobian_over_vols": median(&ratios) })
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("data") => data(&args),
        Some("cost") => cost(&args),
        _ => run(),
    };
    if let Err(e) = result {
        eprintln!("surrogate_bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let net_path = PathBuf::from(arg(&args, "--net").ok_or("--net FILE is required")?);
    let files: usize =
        arg(&args, "--files").map_or(Ok(usize::MAX), |v| v.parse()).map_err(|_| "--files")?;
    let net = Surrogate::load(&net_path).map_err(|e| e.to_string())?;
    if let Some(dir) = arg(&args, "--held-out") {
        println!("{}", held_out(&net, &dir)?);
    }
    let paths = svcj_files(files)?;
    let exact = FitSpec { model: ModelKind::Heston, ..FitSpec::default() };
    let tol: Option<f64> =
        arg(&args, "--polish-tol").map(|v| v.parse().map_err(|_| "--polish-tol")).transpose()?;
    let through = |polish, tol, method| -> Result<FitSpec, String> {
        let sg = SurrogateSpec::load(&net_path, polish).map_err(|e| e.to_string())?;
        let sg = sg.with_polish_tol(tol)?.with_polish_method(method);
        Ok(FitSpec { surrogate: Some(sg), ..exact.clone() })
    };
    let (polished, raw) =
        (through(true, tol, PolishMethod::ExactLm)?, through(false, None, PolishMethod::ExactLm)?);
    let secant = through(true, tol, PolishMethod::Secant)?;
    let mut rows = Vec::new();
    for path in &paths {
        for snap in load_snapshots(path)? {
            let t0 = Instant::now();
            let a = fit_snapshot(&snap, &exact, None);
            let wall_exact = t0.elapsed().as_secs_f64() * 1e6;
            let t1 = Instant::now();
            let b = fit_snapshot(&snap, &polished, None);
            let wall_polished = t1.elapsed().as_secs_f64() * 1e6;
            let c = fit_snapshot(&snap, &raw, None);
            let d = fit_snapshot(&snap, &secant, None);
            let (Some(stage), true) = (c.fit.surrogate.as_ref(), !a.fit.expiries.is_empty()) else {
                continue;
            };
            let ((ia, ea), (ib, eb)) = (iters(&a), iters(&b));
            let work = |r: &SnapshotResult| {
                r.fit
                    .surrogate
                    .as_ref()
                    .and_then(|s| s.exact_evaluations)
                    .map(|e| (e.vols, e.jacobians))
            };
            let row = serde_json::json!({
                "exact_iters": ia, "exact_evals": ea, "polish_iters": ib, "polish_evals": eb,
                "chain": format!("{} {}", snap.underlying, snap.time_iso()),
                "expiries": a.fit.expiries.len(),
                "quotes": a.residuals.len(), "quotes_on_grid": stage.quotes_on_grid,
                "exact_us": fit_us(&a), "exact_wall_us": wall_exact,
                "surrogate_us": stage.time_us as f64, "surrogate_iters": stage.iterations,
                "polished_us": fit_us(&b), "polished_wall_us": wall_polished,
                "raw_us": fit_us(&c), "raw_iters": iters(&c).0,
                "rmse_exact": rmse(&a), "rmse_polished": rmse(&b), "rmse_surrogate_only": rmse(&c),
                "exact_params": a.fit.surface_params, "surrogate_params": stage.params,
                "polish_exact_vols_jacobians": work(&b),
                "secant_us": fit_us(&d), "secant_iters": iters(&d).0, "rmse_secant": rmse(&d),
                "secant_exact_vols_jacobians": work(&d),
            });
            println!("{row}");
            rows.push(row);
        }
    }
    let col = |k: &str| -> Vec<f64> { rows.iter().filter_map(|r| r[k].as_f64()).collect() };
    let ratio = |a: &str, b: &str| -> Vec<f64> {
        rows.iter().filter_map(|r| Some(r[a].as_f64()? / r[b].as_f64()?)).collect()
    };
    let mut rel = ratio("rmse_polished", "rmse_exact");
    rel.sort_by(f64::total_cmp);
    let mut rel_secant = ratio("rmse_secant", "rmse_exact");
    rel_secant.sort_by(f64::total_cmp);
    let nth =
        |k: &str, i: usize| -> Vec<f64> { rows.iter().filter_map(|r| r[k][i].as_f64()).collect() };
    println!(
        "{}",
        serde_json::json!({
            "chains": rows.len(),
            "median_exact_us": median(&col("exact_us")),
            "median_exact_iters": median(&col("exact_iters")),
            "median_polish_iters": median(&col("polish_iters")),
            "median_surrogate_us": median(&col("surrogate_us")),
            "median_polished_us": median(&col("polished_us")),
            "median_speedup_surrogate": median(&ratio("exact_us", "surrogate_us")),
            "median_speedup_polished": median(&ratio("exact_us", "polished_us")),
            "median_raw_us": median(&col("raw_us")),
            "median_speedup_scored_unpolished": median(&ratio("exact_us", "raw_us")),
            "chains_unpolished_within_1pct":
                ratio("rmse_surrogate_only", "rmse_exact").iter().filter(|r| **r <= 1.01).count(),
            "median_rmse_exact": median(&col("rmse_exact")),
            "median_rmse_polished": median(&col("rmse_polished")),
            "median_rmse_surrogate_only": median(&col("rmse_surrogate_only")),
            "median_rmse_ratio_polished_over_exact": median(&rel),
            "worst_rmse_ratio_polished_over_exact": rel.last(),
            "chains_polished_within_1pct": rel.iter().filter(|r| **r <= 1.01).count(),
            "median_secant_us": median(&col("secant_us")),
            "median_secant_iters": median(&col("secant_iters")),
            "median_speedup_secant": median(&ratio("exact_us", "secant_us")),
            "worst_rmse_ratio_secant_over_exact": rel_secant.last(),
            "chains_secant_within_1pct": rel_secant.iter().filter(|r| **r <= 1.01).count(),
            "median_polish_exact_vols": median(&nth("polish_exact_vols_jacobians", 0)),
            "median_polish_exact_jacobians": median(&nth("polish_exact_vols_jacobians", 1)),
            "median_secant_exact_vols": median(&nth("secant_exact_vols_jacobians", 0)),
            "max_secant_exact_jacobians": nth("secant_exact_vols_jacobians", 1).iter().copied().fold(0.0, f64::max),
        })
    );
    Ok(())
}
