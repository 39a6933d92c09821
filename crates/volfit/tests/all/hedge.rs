//! Delta hedging: the theoretical 1/N variance rate in a synthetic Black–Scholes world, and
//! end-to-end backtests on the real svcj snapshots (skipped with a notice when absent).

use crate::support::shared_data;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use volfit::hedge::{backtest, backtest_funded, DeltaKind, HedgeConfig, HedgeOutput};
use volfit::hedge::{hedged_pnl, log_log_slope, variance, BsWorld};
use volfit::hedge::{FundingConfig, FundingHistory, Instrument, LiquidityFilter};
use volfit::market::{read_perpetuals, PerpPrice};
use volfit::market::{OptionType, Snapshot};

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
    files.iter().flat_map(|f| crate::chains::read(f)).collect()
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

/// Paths expected under `Entry::First` with the liquidity filter off, computed independently
/// of the backtest: an instrument counts when it is two-sided at some snapshot before the
/// last (its exit is then fixed at entry, whatever later quotes show).
fn expected_paths(snaps: &[&Snapshot]) -> usize {
    let mut seen = BTreeSet::new();
    for s in &snaps[..snaps.len() - 1] {
        for e in s.expiries.iter().filter(|e| e.t > 0.0) {
            for q in e.quotes.iter().filter(|q| q.two_sided()) {
                seen.insert(q.instrument.clone());
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
    let cfg = HedgeConfig { liquidity: LiquidityFilter::off(), ..HedgeConfig::default() };
    let out = backtest(&snaps, &perps(&dir), &cfg);
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

fn jan_btc(dir: &Path, n: usize) -> Vec<Snapshot> {
    let mut fs = files(dir, "202601");
    fs.truncate(n);
    load(&fs).into_iter().filter(|s| s.underlying == "BTC").collect()
}

#[test]
fn steps_by_source_counts_the_instrument_actually_traded() {
    // With futures every step is hedged in the option's own expiry future, even where the
    // perpetual has prices (the old count said "perpetual" for all 27).
    let Some(dir) = data_dir() else { return };
    let snaps = jan_btc(&dir, 28);
    let cfg = HedgeConfig {
        instrument: Instrument::Future,
        deltas: vec![DeltaKind::Black],
        ..HedgeConfig::default()
    };
    let out = backtest(&snaps, &perps(&dir), &cfg);
    assert_eq!(out.counts.steps_by_source["BTC"], [("future".to_string(), 27)].into());
    assert!(out.paths.iter().all(|p| p.hedge_source == "future"));
}

#[test]
fn exit_is_fixed_at_entry_not_by_later_quote_availability() {
    // An option quoted at the first two snapshots and pulled from the last two (its expiry
    // still listed): the old backtest ended the path where it was last quoted, a choice made
    // with knowledge of the later quotes. Now it is held to the end of the run, marked at
    // the model price where unquoted, and closes there at that mark.
    let Some(dir) = data_dir() else { return };
    let mut snaps = jan_btc(&dir, 4);
    let name = "BTC-27MAR26-100000-C";
    let cfg = HedgeConfig {
        deltas: vec![DeltaKind::Smile],
        liquidity: LiquidityFilter::off(),
        ..HedgeConfig::default()
    };
    let full = backtest(&snaps, &perps(&dir), &cfg);
    let path = |o: &HedgeOutput| o.paths.iter().find(|p| p.instrument == name).cloned().unwrap();
    let before = path(&full);
    assert_eq!((before.n_obs, before.model_marks, before.exit_quoted), (4, 0, true));
    for s in &mut snaps[2..] {
        for e in &mut s.expiries {
            e.quotes.retain(|q| q.instrument != name);
        }
    }
    let pulled = path(&backtest(&snaps, &perps(&dir), &cfg));
    assert_eq!(
        (pulled.entry.as_str(), pulled.exit.as_str()),
        (before.entry.as_str(), before.exit.as_str())
    );
    assert_eq!((pulled.n_obs, pulled.model_marks, pulled.exit_quoted), (4, 2, false));
    assert!(pulled.pnl_usd.is_finite() && pulled.pnl_usd_net <= pulled.pnl_usd);
}

#[test]
fn liquidity_filter_drops_wide_deep_itm_entries_and_is_stated() {
    // Deep-ITM BTC puts cost 23–30 k USD of spread each without the filter (issue 14); with
    // the default filter (10 vol pts of vega, |Δ| ≤ 0.6 at the mark IV) no path crosses more
    // than a fraction of that, the excluded options are counted, and the filter is echoed.
    let Some(dir) = data_dir() else { return };
    let snaps = jan_btc(&dir, 28);
    let base = HedgeConfig { deltas: vec![DeltaKind::Smile], ..HedgeConfig::default() };
    let on = backtest(&snaps, &perps(&dir), &base);
    let cfg_off = HedgeConfig { liquidity: LiquidityFilter::off(), ..base.clone() };
    let off = backtest(&snaps, &perps(&dir), &cfg_off);
    let worst = |o: &HedgeOutput| o.paths.iter().map(|p| p.spread_usd).fold(0.0, f64::max);
    let mean_net = |o: &HedgeOutput| o.summary[0].pnl_usd_net.mean;
    eprintln!(
        "BTC paths {} -> {}; worst spread {:.0} -> {:.0} USD; mean net {:.1} -> {:.1} USD",
        off.paths.len(),
        on.paths.len(),
        worst(&off),
        worst(&on),
        mean_net(&off),
        mean_net(&on)
    );
    assert!(worst(&off) > 20_000.0 && worst(&on) < 12_000.0);
    assert!(on.paths.len() < off.paths.len());
    assert!(on.counts.liquidity_excluded["BTC"] > 100);
    assert_eq!(off.counts.liquidity_excluded["BTC"], 0);
    assert!(on.liquidity_filter.contains("10 vol pts") && off.liquidity_filter.starts_with("off"));
    // Every entered option passed the filter at its entry snapshot.
    for p in &on.paths {
        let s = snaps.iter().find(|s| s.time_iso() == p.entry).unwrap();
        let e =
            s.expiries.iter().find(|e| volfit::market::iso8601(e.expiry_ms) == p.expiry).unwrap();
        let q = e.quotes.iter().find(|q| q.instrument == p.instrument).unwrap();
        assert!(base.liquidity.admits(q, e), "{}", p.instrument);
    }
}

#[test]
fn funding_history_and_constant_rate_agree_and_the_default_is_stated() {
    // A history of 1e-4 every hour over the whole January period charges exactly what the
    // constant 8e-4 per 8 h does; without either, funding is 0 and the output says so.
    let Some(dir) = data_dir() else { return };
    let snaps = jan_btc(&dir, 8);
    let base = HedgeConfig { deltas: vec![DeltaKind::Black], ..HedgeConfig::default() };
    let none = backtest(&snaps, &perps(&dir), &base);
    assert!(none.funding["BTC"].contains("default"), "{}", none.funding["BTC"]);
    assert!(none.paths.iter().all(|p| p.funding_usd == 0.0));
    let hours: Vec<String> = (0..24 * 10)
        .map(|h| {
            let ts = 1_767_484_800_000_i64 + h * 3_600_000; // 2026-01-04T00:00Z + h hours
            format!(r#"{{"timestamp":{ts},"interest_1h":0.0001,"interest_8h":0.0008}}"#)
        })
        .collect();
    let mut history = FundingHistory::default();
    history.add_json("BTC", &format!(r#"{{"result":[{}]}}"#, hours.join(",")), "t.json").unwrap();
    let from_history = backtest_funded(&snaps, &perps(&dir), &history, &base);
    let constant = HedgeConfig {
        funding: FundingConfig { rate_8h: Some(8e-4), ..FundingConfig::default() },
        ..base.clone()
    };
    let from_rate = backtest(&snaps, &perps(&dir), &constant);
    assert!(from_history.funding["BTC"].starts_with("history, 240 hourly rates"));
    let mut nonzero = 0;
    for (a, b) in from_history.paths.iter().zip(&from_rate.paths) {
        assert_eq!(a.instrument, b.instrument);
        assert!((a.funding_usd - b.funding_usd).abs() <= 1e-9 * a.funding_usd.abs().max(1.0));
        nonzero += usize::from(a.funding_usd != 0.0);
        let n = none.paths.iter().find(|p| p.instrument == a.instrument).unwrap();
        assert!((a.pnl_usd - (n.pnl_usd + a.funding_usd)).abs() < 1e-6, "funding in gross");
    }
    assert!(nonzero > 100, "{nonzero}");
}

#[test]
fn bad_hedge_config_values_name_key_and_rule() {
    // Issue 15 item 3: each row is a TOML value the parser accepts but the rules reject.
    let rows: &[(&str, &str, &str)] = &[
        ("band = -0.5", "band", ">= 0"),
        ("[fees]\nhedge_taker = nan", "fees.hedge_taker", "[0, 1]"),
        ("[fees]\noption_cap = -1.0", "fees.option_cap", "[0, 1]"),
        ("quantity = 0.0", "quantity", "not 0"),
        ("max_gap_hours = 0.0", "max_gap_hours", "> 0"),
        ("horizon = 0", "horizon", "at least 1"),
        ("deltas = []", "deltas", "at least one"),
        ("deltas = [\"smile\", \"smile\"]", "deltas", "no delta twice"),
        ("perp_tolerance_s = inf", "perp_tolerance_s", ">= 0"),
        ("underlyings = [\" \"]", "underlyings", "non-empty"),
        ("[liquidity]\nmax_abs_delta = 1.5", "liquidity.max_abs_delta", "(0, 1]"),
        ("[liquidity]\nmax_spread_vol = -0.1", "liquidity.max_spread_vol", "> 0"),
        ("[funding]\nrate_8h = nan", "funding.rate_8h", "|rate| < 1"),
        ("[specs]", "specs", "at least one fit spec"),
    ];
    for (toml, key, rule) in rows {
        let cfg = HedgeConfig::from_toml(toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
        let e = cfg.validate().expect_err(toml);
        assert_eq!(e.key, *key, "{toml}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{key}`")) && msg.contains(rule), "{toml}: {msg}");
    }
    assert_eq!(HedgeConfig::default().validate(), Ok(()));
}

#[test]
fn deribit_displayed_delta_is_the_black_delta() {
    // Issue 14 item 10: Deribit's `delta` column (ticker greeks) against the Black delta at
    // the row's mark IV, forward and time (ACT/365.25 as in the file), and against the
    // premium-adjusted delta Δ − V/F, over every row of the 28 January svcj snapshots with
    // a positive mark IV and time.
    use volfit::black;
    let Some(dir) = data_dir() else { return };
    let (mut d_black, mut d_pa) = (Vec::new(), Vec::new());
    for f in files(&dir, "202601") {
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap());
        let mut rdr = csv::Reader::from_reader(gz);
        let h = rdr.headers().unwrap().clone();
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        let (fw, k, t, iv, d, ty) = (
            col("underlying"),
            col("strike"),
            col("time_to_maturity"),
            col("implied_volatility"),
            col("delta"),
            col("option_type"),
        );
        for r in rdr.records() {
            let r = r.unwrap();
            let num = |i: usize| r[i].parse::<f64>().unwrap_or(f64::NAN);
            let (fwd, strike, t, iv, delta) = (num(fw), num(k), num(t), num(iv), num(d));
            if !(iv > 0.0 && t > 0.0 && fwd > 0.0 && delta.is_finite()) {
                continue;
            }
            let kind = if &r[ty] == "call" { OptionType::Call } else { OptionType::Put };
            let g = black::greeks(kind, fwd, strike, t, iv);
            d_black.push((g.delta - delta).abs());
            d_pa.push((g.premium_adjusted_delta(fwd) - delta).abs());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let n = d_black.len();
    let (mb, mp) = (median(&mut d_black), median(&mut d_pa));
    eprintln!("{n} rows: median |Δ_deribit − Δ_black| {mb:.2e}, − Δ_pa {mp:.2e}");
    assert!(n > 30_000, "{n}");
    assert!(mb < 5e-4, "Black delta: median {mb}");
    assert!(mp > 20.0 * mb, "premium-adjusted: median {mp}");
}

#[test]
fn each_observation_is_valued_on_its_quotes_own_forward_and_time() {
    // A book polled over minutes gives every row its own forward and time to expiry; its
    // IVs and coin prices belong to them. The backtest took the expiry's median forward and
    // the snapshot's time instead. Here every quote of the first snapshot is moved off the
    // expiry forward by a few basis points (as rows polled later are): each path's entry
    // forward, time and Black delta must be the quote's own.
    let Some(dir) = data_dir() else { return };
    let mut snaps = jan_btc(&dir, 3);
    for e in &mut snaps[0].expiries {
        for (i, q) in e.quotes.iter_mut().enumerate() {
            q.row_forward = e.forward * (1.0 + 3e-4 * (i % 5) as f64);
            q.t = e.t * (1.0 - 1e-3 * (i % 3) as f64);
        }
    }
    let cfg = HedgeConfig {
        deltas: vec![DeltaKind::Black],
        liquidity: LiquidityFilter::off(),
        ..HedgeConfig::default()
    };
    let out = backtest(&snaps, &perps(&dir), &cfg);
    let entry = snaps[0].time_iso();
    let quotes: std::collections::HashMap<&str, (&volfit::market::Quote, f64)> = snaps[0]
        .expiries
        .iter()
        .flat_map(|e| e.quotes.iter().map(move |q| (q.instrument.as_str(), (q, e.forward))))
        .collect();
    let mut moved = 0;
    for p in out.paths.iter().filter(|p| p.entry == entry) {
        let (q, expiry_forward) = quotes[p.instrument.as_str()];
        assert_eq!((p.entry_forward, p.entry_t), (q.row_forward, q.t), "{}", p.instrument);
        let g = volfit::black::greeks(q.kind, q.row_forward, q.strike, q.t, p.entry_vol);
        assert!((p.entry_delta - g.delta).abs() < 1e-12, "{}", p.instrument);
        moved += usize::from(q.row_forward != expiry_forward);
    }
    assert!(moved > 50, "{moved} paths entered off the expiry forward");
}
