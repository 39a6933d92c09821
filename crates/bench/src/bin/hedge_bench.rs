//! Hedging backtest benchmark: every listed BTC option across all real svcj snapshots
//! (2026-01-05 … 2026-05-15), three fit specs (SSVI least squares, SVI Huber, SABR β = 1),
//! all three deltas, on a 2-thread pool (target: under 30 s wall). Prints load and backtest
//! wall times (min and median of `REPS` runs), CPU seconds, path and fit counts, and the
//! hedging-error summary per spec (smile delta), so specs compare by hedge quality.
//!
//! `cargo run --release -p volfit-bench --bin hedge_bench [-- REPS]` (default 3).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use volfit::fit::{FitSpec, ModelKind};
use volfit::hedge::{backtest, DeltaKind, HedgeConfig};
use volfit::market::read_perpetuals;
use volfit::market::{build, read_path, ReadOptions, Snapshot};
use volfit_optim::loss::LossKind;

/// CPU seconds (user + system) of this process from /proc/self/stat (ticks of 1/100 s).
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

fn main() -> ExitCode {
    let reps: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/svcj_deribit_2026");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("notice: {} absent; nothing to benchmark", dir.display());
        return ExitCode::SUCCESS;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("deribit_options_snapshot_"))
        })
        .collect();
    files.sort();
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(2).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hedge_bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t0 = Instant::now();
    let opts = ReadOptions { underlying: Some("BTC".into()), ..ReadOptions::default() };
    let mut snaps: Vec<Snapshot> = Vec::new();
    for f in &files {
        if let Err(e) = read_path(f, &opts, &mut |raw| {
            snaps.push(build(raw, &opts.clean).snapshot);
            Ok(())
        }) {
            eprintln!("hedge_bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    let perps = match read_perpetuals(&dir.join("perpetual_futures_prices.csv.gz")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hedge_bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let load_s = t0.elapsed().as_secs_f64();
    let Ok(huber) = "huber:0.01".parse::<LossKind>() else { return ExitCode::FAILURE };
    let specs = [
        ("ssvi-mse", FitSpec { model: ModelKind::Ssvi, ..FitSpec::default() }),
        ("svi-huber", FitSpec { model: ModelKind::Svi, loss: huber, ..FitSpec::default() }),
        ("sabr-b1", FitSpec { model: ModelKind::Sabr, sabr_beta: Some(1.0), ..FitSpec::default() }),
    ];
    let cfg = HedgeConfig {
        specs: specs.iter().map(|(n, s)| (n.to_string(), s.clone())).collect(),
        underlyings: vec!["BTC".into()],
        ..HedgeConfig::default()
    };
    let mut walls = Vec::with_capacity(reps);
    let mut out = None;
    let cpu0 = cpu_secs();
    for _ in 0..reps {
        let t = Instant::now();
        let o = pool.install(|| backtest(&snaps, &perps, &cfg));
        walls.push(t.elapsed().as_secs_f64());
        out = Some(o);
    }
    let cpu = (cpu_secs() - cpu0) / reps as f64;
    let Some(out) = out else { return ExitCode::FAILURE };
    walls.sort_by(f64::total_cmp);
    println!(
        "hedge backtest: {} BTC snapshots ({} files), {} specs x {} deltas, 2 threads",
        snaps.len(),
        files.len(),
        cfg.specs.len(),
        cfg.deltas.len()
    );
    println!("load (read + clean + IV, 1 thread): {load_s:.3} s");
    println!(
        "backtest wall: min {:.3} s, median {:.3} s over {reps} runs; CPU {cpu:.2} s per run",
        walls[0],
        walls[walls.len() / 2]
    );
    println!(
        "fits {}, path rows {}, notices {}",
        out.counts.fits,
        out.paths.len(),
        out.notices.len()
    );
    println!(
        "{:<10} {:>6} {:>12} {:>12} {:>12} {:>12}",
        "spec", "paths", "unhedg_std", "std_usd", "es975_usd", "std_coin_pa"
    );
    for (name, _) in &specs {
        let get = |d: DeltaKind| {
            out.summary.iter().find(|s| s.spec == *name && s.delta == d && s.underlying == "BTC")
        };
        if let (Some(s), Some(pa)) = (get(DeltaKind::Smile), get(DeltaKind::PremiumAdjusted)) {
            println!(
                "{:<10} {:>6} {:>12.2} {:>12.2} {:>12.2} {:>12.3e}",
                name, s.paths, s.unhedged_usd.std, s.pnl_usd.std, s.pnl_usd.es_975, pa.pnl_coin.std
            );
        }
    }
    ExitCode::SUCCESS
}
