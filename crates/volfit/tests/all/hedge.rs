//! Delta hedging: the theoretical 1/N variance rate in a synthetic Black–Scholes world, and
//! end-to-end backtests on the real svcj snapshots (skipped with a notice when absent).

use crate::support::shared_data;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use volfit::hedge::{backtest, DeltaKind, HedgeConfig, HedgeOutput};
use volfit::hedge::{hedged_pnl, log_log_slope, variance, BsWorld};
use volfit::market::{build, read_path, OptionType, ReadOptions, Snapshot};
use volfit::market::{read_perpetuals, PerpPrice};

#[test]
fn hedging_error_variance_falls_as_one_over_rebalancing_frequency() {
    // Bertsimas, Kogan & Lo (2000) / Derman & Kamal (1999): Var(hedge error) ∝ 1/N for N
    // equally spaced rebalances with the true delta. 6000 seeded GBM paths sub-sampled at
    // N = 8…256 (common random numbers); the fitted log-log slope has a sampling error of a
    // few hundredths, so −1 ± 0.1.
    let world = BsWorld {
        f0: 100_000.0,
        sigma: 0.6,
        mu: 0.2,
        t: 30.0 / 365.0,
        strike: 100_000.0,
        kind: OptionType::Call,
    };
    let levels = [8, 16, 32, 64, 128, 256];
    let pnl = hedged_pnl(&world, 256, &levels, 6000, 7);
    let vars: Vec<f64> = pnl.iter().map(|p| variance(p)).collect();
    let ns: Vec<f64> = levels.iter().map(|&n| n as f64).collect();
    let slope = log_log_slope(&ns, &vars);
    assert!((slope + 1.0).abs() < 0.1, "slope {slope}, variances {vars:?}");
    for w in vars.windows(2) {
        assert!(w[1] < w[0], "variance must fall with N: {vars:?}");
    }
    // Unbiased: the mean hedged P&L is within 4 standard errors of zero at every N.
    for (p, v) in pnl.iter().zip(&vars) {
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        assert!(mean.abs() < 4.0 * (v / p.len() as f64).sqrt(), "mean {mean}");
    }
    // Size (Derman & Kamal 1999, ATM): std ≈ √(π/4)·vega·σ/√N, vega = F·φ(0)·√T; the
    // closed form is asymptotic in N (and ignores drift), so 10 % at N = 64…256.
    let vega = world.f0 * volfit::black::norm_pdf(0.0) * world.t.sqrt();
    for (i, &n) in levels.iter().enumerate().skip(3) {
        let dk = (std::f64::consts::PI / 4.0).sqrt() * vega * world.sigma / (n as f64).sqrt();
        let ratio = vars[i].sqrt() / dk;
        eprintln!("N = {n}: std {:.2} vs Derman–Kamal {dk:.2} (ratio {ratio:.3})", vars[i].sqrt());
        assert!((ratio - 1.0).abs() < 0.1, "N = {n}: ratio {ratio}");
    }
    eprintln!("log-log slope {slope:.4}");
}

fn data_dir() -> Option<PathBuf> {
    shared_data("svcj_deribit_2026")
}

fn load(files: &[PathBuf]) -> Vec<Snapshot> {
    let opts = ReadOptions::default();
    let mut snaps = Vec::new();
    for f in files {
        read_path(f, &opts, &mut |raw| {
            snaps.push(build(raw, &opts.clean).snapshot);
            Ok(())
        })
        .unwrap();
    }
    snaps
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("deribit_options_snapshot_{prefix}")))
        })
        .collect();
    v.sort();
    v
}

/// Paths expected under `Entry::First`, computed independently of the backtest: an
/// instrument counts when at some snapshot j it is two-sided and quoted again at a later
/// snapshot, or expires before the last snapshot (it then settles there).
fn expected_paths(snaps: &[&Snapshot]) -> usize {
    let quoted: Vec<BTreeSet<&str>> = snaps
        .iter()
        .map(|s| {
            s.expiries.iter().flat_map(|e| e.quotes.iter().map(|q| q.instrument.as_str())).collect()
        })
        .collect();
    let last = snaps.last().map_or(i64::MIN, |s| s.time_ms);
    let mut seen = BTreeSet::new();
    for (j, w) in snaps.windows(2).enumerate() {
        for e in &w[0].expiries {
            for q in &e.quotes {
                let later = quoted[j + 1..].iter().any(|s| s.contains(q.instrument.as_str()));
                if q.two_sided() && e.t > 0.0 && (later || e.expiry_ms <= last) {
                    seen.insert(q.instrument.clone());
                }
            }
        }
    }
    seen.len()
}

fn perps(dir: &Path) -> Vec<PerpPrice> {
    read_perpetuals(&dir.join("perpetual_futures_prices.csv.gz")).unwrap()
}

fn stats_std(out: &HedgeOutput, und: &str, delta: DeltaKind) -> (f64, f64, f64, f64) {
    let s = out.summary.iter().find(|s| s.underlying == und && s.delta == delta).unwrap();
    (s.pnl_usd.std, s.unhedged_usd.std, s.pnl_coin.std, s.unhedged_coin.std)
}

#[test]
fn backtest_runs_end_to_end_on_28_consecutive_snapshots() {
    let Some(dir) = data_dir() else { return };
    let jan = files(&dir, "202601");
    assert_eq!(jan.len(), 28, "the 28 January snapshots (data README)");
    let snaps = load(&jan);
    let out = backtest(&snaps, &perps(&dir), &HedgeConfig::default());
    for und in ["BTC", "ETH"] {
        // 28 snapshots about 6 h apart form one run; each of its 27 steps has a perpetual
        // price (the perp file covers 2025-12-30 … 2026-04-15, data README).
        assert_eq!(out.counts.snapshots[und], 28);
        assert_eq!(out.counts.runs[und], 1);
        assert_eq!(out.counts.steps_by_source[und].get("perpetual"), Some(&27));
        let mut by_time: Vec<&Snapshot> = snaps.iter().filter(|s| s.underlying == und).collect();
        by_time.sort_by_key(|s| s.time_ms);
        let want = expected_paths(&by_time);
        assert!(want > 100, "{und}: {want} options");
        for dk in DeltaKind::ALL {
            let paths: Vec<_> =
                out.paths.iter().filter(|p| p.underlying == und && p.delta == dk).collect();
            assert_eq!(paths.len(), want, "{und} {dk}");
            let summary =
                out.summary.iter().find(|s| s.underlying == und && s.delta == dk).unwrap();
            assert_eq!(summary.paths, want);
            assert_eq!(summary.pnl_usd.n, want);
            // The moneyness × maturity buckets partition the paths.
            let in_buckets: usize = out
                .buckets
                .iter()
                .filter(|b| b.underlying == und && b.delta == dk)
                .map(|b| b.pnl_usd.n)
                .sum();
            assert_eq!(in_buckets, want);
            for p in &paths {
                assert!(p.n_obs >= 2 && p.n_obs <= 28);
                assert_eq!(p.hedge_source, "perpetual");
                for v in [p.pnl_usd, p.pnl_coin, p.pnl_usd_net, p.pnl_coin_net, p.entry_vol] {
                    assert!(v.is_finite(), "{} {v}", p.instrument);
                }
                // Costs only ever reduce P&L.
                assert!(p.pnl_usd_net <= p.pnl_usd + 1e-9 && p.spread_usd >= 0.0);
            }
        }
        // Delta hedging must remove most of the option's P&L dispersion: the hedged USD
        // std is below half the unhedged one (daily-ish rebalancing of a week-long hold).
        let (h, u, hc, uc) = stats_std(&out, und, DeltaKind::Smile);
        assert!(h < 0.5 * u, "{und}: hedged std {h} vs unhedged {u}");
        // In coin, the premium-adjusted delta is the first-order hedge (module docs).
        let (_, _, pac, _) = stats_std(&out, und, DeltaKind::PremiumAdjusted);
        eprintln!("{und}: USD std hedged {h:.2} / unhedged {u:.2}; coin std pa {pac:.3e}, smile {hc:.3e}, unhedged {uc:.3e}");
        assert!(pac < 0.5 * uc, "{und}: coin std {pac} vs unhedged {uc} (smile delta {hc})");
    }
    assert!(out.counts.fits == 56, "one SSVI fit per snapshot and underlying");
}

#[test]
fn missing_perpetual_prices_fall_back_to_the_nearest_forward() {
    // 2026-03-16 and 2026-05-15: the perpetual file ends on 2026-04-15 (data README), so the
    // single step is hedged with the nearest common expiry's forward, and the output says so.
    let Some(dir) = data_dir() else { return };
    let mut fs = files(&dir, "20260316");
    fs.extend(files(&dir, "20260515"));
    assert_eq!(fs.len(), 2);
    let snaps = load(&fs);
    let cfg = HedgeConfig {
        max_gap_hours: 24.0 * 90.0,
        underlyings: vec!["BTC".into()],
        deltas: vec![DeltaKind::Smile],
        ..HedgeConfig::default()
    };
    let out = backtest(&snaps, &perps(&dir), &cfg);
    assert_eq!(out.counts.steps_by_source["BTC"].get("nearest-forward"), Some(&1));
    assert!(out.notices.iter().any(|n| n.contains("no perpetual price at 2026-05-15")));
    assert!(!out.paths.is_empty());
    assert!(out.paths.iter().all(|p| p.hedge_source == "nearest-forward" && p.n_obs == 2));
    assert!(out.paths.iter().all(|p| p.pnl_usd.is_finite() && p.pnl_coin.is_finite()));
    // Options expiring between the two snapshots settle at the May snapshot.
    assert!(out.paths.iter().any(|p| p.settled));
}
