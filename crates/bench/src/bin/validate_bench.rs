//! Validation benchmark: walk-forward over all svcj Deribit snapshots (30 files × BTC and
//! ETH) with the default 12-spec grid (SSVI and SVI × 3 losses × 2 weights), horizon 1, on a
//! 2-thread pool; then the full default run (plus ridge path and cross-validation). Prints
//! wall time, CPU seconds (the machine is shared) and peak RSS (VmHWM).
//!
//! `cargo run --release -p volfit-bench --bin validate_bench [-- DATA_DIR [THREADS]]`
//! (default `../shared/data/svcj_deribit_2026`, 2 threads).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volfit::market::{build, read_path, ReadOptions};
use volfit::validate::{validate, GridConfig};

/// CPU seconds (user + system) of this process from /proc/self/stat (ticks of 1/100 s).
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

/// Peak resident set size in MB (VmHWM from /proc/self/status).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).map_or("../shared/data/svcj_deribit_2026", String::as_str));
    let threads: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(2);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("validate_bench: {} not found", dir.display());
        return ExitCode::from(2);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("deribit_options_snapshot_"))
        })
        .collect();
    paths.sort();
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
        return ExitCode::from(2);
    };
    let (t0, c0) = (Instant::now(), cpu_secs());
    let opts = ReadOptions::default();
    let mut snaps = Vec::new();
    for p in &paths {
        if let Err(e) = read_path(p, &opts, &mut |raw| {
            snaps.push(build(raw, &opts.clean).snapshot);
            Ok(())
        }) {
            eprintln!("validate_bench: {e}");
            return ExitCode::from(2);
        }
    }
    let load = t0.elapsed().as_secs_f64();
    println!(
        "loaded {} files, {} snapshots, {} quotes in {load:.2} s",
        paths.len(),
        snaps.len(),
        snaps.iter().map(|s| s.num_quotes()).sum::<usize>()
    );
    let wf_cfg = GridConfig { folds: 0, ridge_lambdas: Vec::new(), ..GridConfig::default() };
    for (name, cfg) in
        [("walk-forward, 12-spec grid", wf_cfg), ("full default run", GridConfig::default())]
    {
        let (t, c) = (Instant::now(), cpu_secs());
        let v = match pool.install(|| validate(&snaps, &cfg)) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("validate_bench: {e}");
                return ExitCode::from(2);
            }
        };
        let fits = v.specs.len() * snaps.len();
        println!(
            "{name}: {} specs, {fits} walk-forward fits, {} cv rows, {} rows: wall {:.2} s, cpu {:.2} s, {threads} threads; winner {}",
            v.specs.len(),
            v.cv.len(),
            v.rows.len(),
            t.elapsed().as_secs_f64(),
            cpu_secs() - c,
            v.winner.as_ref().map_or("-", |w| w.spec.as_str()),
        );
    }
    println!(
        "total wall {:.2} s, cpu {:.2} s, peak RSS {:.1} MB",
        t0.elapsed().as_secs_f64(),
        cpu_secs() - c0,
        peak_rss_mb()
    );
    ExitCode::SUCCESS
}
