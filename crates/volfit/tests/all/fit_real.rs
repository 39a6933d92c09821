//! Fits on the real Deribit chains of `../shared/data/svcj_deribit_2026` (skipped with a
//! notice when the data is absent): every BTC and ETH snapshot fits SSVI free of static
//! arbitrage; per-expiry SVI keeps most model vols inside the bid–ask band; and with stale
//! outliers injected into a real chain, robust fits keep their error on the clean quotes
//! while least squares degrades.

use crate::support::shared_data;
use std::path::{Path, PathBuf};
use volfit::fit::{fit_snapshot, FitSpec, ModelKind};
use volfit::market::Snapshot;
use volfit::objective::ResidualKind;
use volfit_optim::loss::LossKind;

fn data_dir() -> Option<PathBuf> {
    shared_data("svcj_deribit_2026")
}

fn snapshots(dir: &Path) -> Vec<Snapshot> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("deribit_options_snapshot_"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| crate::chains::read(f)).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn every_snapshot_fits_ssvi_free_of_static_arbitrage() {
    let Some(dir) = data_dir() else { return };
    let snaps = snapshots(&dir);
    assert_eq!(snaps.len(), 60, "30 files × BTC and ETH");
    let spec = FitSpec {
        model: ModelKind::Ssvi,
        loss: LossKind::Huber { scale: 0.01 },
        ..FitSpec::default()
    };
    let mut rmse = Vec::new();
    for s in &snaps {
        let r = fit_snapshot(s, &spec, None);
        assert!(
            r.fit.expiries.len() >= 9,
            "{} {}: {:?}",
            s.underlying,
            s.time_iso(),
            r.fit.skipped
        );
        assert!(
            r.fit.arbitrage.butterfly_ok && r.fit.arbitrage.calendar_ok,
            "{} {}: {:?}",
            s.underlying,
            s.time_iso(),
            r.fit.arbitrage.worst
        );
        let p = r.fit.surface_params.as_ref().unwrap();
        assert!(p.values().all(|v| v.is_finite()));
        rmse.extend(r.fit.expiries.iter().map(|e| e.rmse_vol));
    }
    // Measured 2026-11-24: median 1.15 vol points over 660 slices (3 global shape parameters
    // for the whole surface; volsurf's SSVI reports 3–13 on these chains).
    let m = median(rmse);
    assert!(m < 1.6, "median SSVI rmse {m} vol points");
}

#[test]
fn per_expiry_svi_stays_inside_the_spread() {
    let Some(dir) = data_dir() else { return };
    let snaps = snapshots(&dir);
    let spec = FitSpec {
        model: ModelKind::Svi,
        loss: LossKind::Huber { scale: 0.01 },
        ..FitSpec::default()
    };
    let mut inside = Vec::new();
    let mut rmse = Vec::new();
    for s in &snaps {
        let r = fit_snapshot(s, &spec, None);
        for e in &r.fit.expiries {
            assert!(e.params.values().all(|v| v.is_finite()), "{}: {:?}", e.expiry, e.params);
            inside.push(e.inside_spread);
            rmse.push(e.rmse_vol);
        }
    }
    // Issue 4: median inside_spread ≥ 0.8 on two-sided quotes. Measured 1.0 (median rmse
    // 0.30 vol points).
    let (i, m) = (median(inside), median(rmse));
    assert!(i >= 0.8, "median inside_spread {i}");
    assert!(m < 0.5, "median SVI rmse {m}");
}

#[test]
fn svi_calendar_enforcement_removes_crossed_slices() {
    // Independently fitted SVI slices cross somewhere on the report grid k ∈ [−2, 2] on
    // every real snapshot; with calendar enforcement on, slices are refitted front to back
    // above the previous one. Measured: 0 → 60 of 60 snapshots calendar-free, all
    // butterfly-free, median rmse 0.31 → 0.44 vol points, median inside_spread 1.0 → 0.94
    // (the price of holding 1-day smiles under their neighbours out to k = ±2).
    let Some(dir) = data_dir() else { return };
    let snaps = snapshots(&dir);
    let plain = FitSpec { model: ModelKind::Svi, ..FitSpec::default() };
    let enforced = FitSpec { calendar: true, ..plain.clone() };
    let (mut before, mut after, mut fly) = (0, 0, 0);
    let (mut inside, mut rmse) = (Vec::new(), Vec::new());
    for s in &snaps {
        before += usize::from(fit_snapshot(s, &plain, None).fit.arbitrage.calendar_ok);
        let r = fit_snapshot(s, &enforced, None);
        after += usize::from(r.fit.arbitrage.calendar_ok);
        fly += usize::from(r.fit.arbitrage.butterfly_ok);
        for e in &r.fit.expiries {
            assert!(e.params.values().all(|v| v.is_finite()), "{}: {:?}", e.expiry, e.params);
            inside.push(e.inside_spread);
            rmse.push(e.rmse_vol);
        }
    }
    assert!(before <= 5, "{before} of 60 calendar-free without enforcement");
    assert!(after >= 58, "{after} of 60 calendar-free with enforcement");
    assert_eq!(fly, 60, "butterfly-free snapshots");
    let (i, m) = (median(inside), median(rmse));
    assert!(i >= 0.9, "median inside_spread {i}");
    assert!(m < 0.5, "median SVI rmse {m}");
}

/// Adds `shift` to the bid and ask IV of every `every`-th OTM two-sided quote of a snapshot
/// (re-pricing them), returning the altered snapshot and the altered (expiry, strike) keys.
fn inject_stale(s: &Snapshot, every: usize, shift: f64) -> (Snapshot, Vec<(i64, f64)>) {
    let mut out = s.clone();
    let mut keys = Vec::new();
    for e in &mut out.expiries {
        let f = e.forward;
        let mut n = 0;
        for q in &mut e.quotes {
            let otm = (q.kind == volfit::market::OptionType::Put) == (q.strike < f);
            let (Some(b), Some(a)) = (q.bid_iv, q.ask_iv) else { continue };
            if !otm {
                continue;
            }
            n += 1;
            if n % every != 0 {
                continue;
            }
            let (b, a) = (b + shift, a + shift);
            q.bid_iv = Some(b);
            q.ask_iv = Some(a);
            q.bid = Some(volfit::black::price(q.kind, f, q.strike, e.t, b));
            q.ask = Some(volfit::black::price(q.kind, f, q.strike, e.t, a));
            q.mid_iv =
                q.mid().and_then(|m| volfit::black::implied_vol(q.kind, m, f, q.strike, e.t).ok());
            keys.push((e.expiry_ms, q.strike));
        }
    }
    (out, keys)
}

#[test]
fn robust_fits_resist_stale_quotes_injected_into_a_real_chain() {
    let Some(dir) = data_dir() else { return };
    let snaps = snapshots(&dir);
    let clean = snaps.iter().find(|s| s.underlying == "BTC").unwrap();
    // Every 7th OTM quote moves up 8 vol points: a stale, one-directional shock.
    let (dirty, keys) = inject_stale(clean, 7, 0.08);
    assert!(keys.len() > 20, "{} injected", keys.len());
    // Median |model IV − mid IV| (vol points) on the quotes that were NOT altered.
    let error_on_untouched = |snap: &Snapshot, spec: &FitSpec| {
        let fit = fit_snapshot(snap, spec, None);
        let e: Vec<f64> = fit
            .residuals
            .iter()
            .filter(|r| {
                let ms =
                    chrono::DateTime::parse_from_rfc3339(&r.expiry).unwrap().timestamp_millis();
                !keys.contains(&(ms, r.strike))
            })
            .filter_map(|r| Some(100.0 * (r.model_iv - r.mid_iv?).abs()))
            .collect();
        median(e)
    };
    let spec =
        |loss, residual| FitSpec { model: ModelKind::Svi, loss, residual, ..FitSpec::default() };
    let huber_spec = spec(LossKind::Huber { scale: 0.01 }, ResidualKind::Vol);
    let before = error_on_untouched(clean, &huber_spec);
    let mse = error_on_untouched(&dirty, &spec(LossKind::Mse, ResidualKind::Vol));
    let huber = error_on_untouched(&dirty, &huber_spec);
    let band =
        error_on_untouched(&dirty, &spec(LossKind::Huber { scale: 0.01 }, ResidualKind::Band));
    eprintln!(
        "median |model − mid| on untouched quotes: clean huber {before:.3}; with stale quotes: \
         mse {mse:.3}, huber {huber:.3}, band+huber {band:.3} vol pts"
    );
    // Measured: clean 0.18, mse 1.07, huber 0.22, band 0.60.
    assert!(huber < before + 0.1, "huber kept its error: {huber} vs {before} before");
    assert!(huber < 0.5 * mse && band < 0.7 * mse, "huber {huber}, band {band}, mse {mse}");
}

#[test]
fn butterfly_penalty_removes_svi_arbitrage_at_almost_no_cost() {
    let Some(dir) = data_dir() else { return };
    let snaps = snapshots(&dir);
    let run = |w: f64| {
        let spec = FitSpec {
            model: ModelKind::Svi,
            loss: LossKind::Huber { scale: 0.01 },
            arbitrage_penalty: w,
            ..FitSpec::default()
        };
        let (mut ok, mut n, mut rmse) = (0usize, 0usize, Vec::new());
        // Warm starts along each underlying's series, as `volfit fit` does.
        let mut warm: std::collections::HashMap<String, volfit::fit::WarmStart> =
            std::collections::HashMap::new();
        for s in &snaps {
            let r = fit_snapshot(s, &spec, warm.get(&s.underlying));
            warm.insert(s.underlying.clone(), r.warm.clone());
            for e in r.fit.expiries {
                n += 1;
                ok += usize::from(e.arbitrage.butterfly_ok);
                rmse.push(e.rmse_vol);
            }
        }
        (ok as f64 / n as f64, median(rmse))
    };
    let (free0, rmse0) = run(0.0);
    let (free1, rmse1) = run(1.0);
    // Before fit_svi_slice repaired arbitrageable fits: 524/660 slices butterfly-free
    // without the penalty, 655/660 with weight 1; median rmse 0.304 → 0.310 vol points.
    // Now both are clean (the repair applies the penalty where it is needed).
    assert_eq!(free0, 1.0, "SVI fits are butterfly-free without a global penalty");
    assert_eq!(free1, 1.0, "penalised: {free1}");
    assert!(rmse1 < rmse0 + 0.03, "rmse {rmse0} → {rmse1}");
}

#[test]
fn every_real_svi_slice_is_butterfly_free_and_not_degenerate() {
    let Some(dir) = data_dir() else { return };
    let snaps = snapshots(&dir);
    let spec = FitSpec { model: ModelKind::Svi, ..FitSpec::default() };
    let (mut slices, mut fly, mut degenerate, mut rmse) = (0, Vec::new(), Vec::new(), Vec::new());
    for s in &snaps {
        let r = fit_snapshot(s, &spec, None);
        for e in &r.fit.expiries {
            slices += 1;
            rmse.push(e.rmse_vol);
            let label = format!("{} {} {}", s.underlying, s.time_iso(), e.expiry);
            if !e.arbitrage.butterfly_ok {
                fly.push(format!("{label}: {:?}", e.arbitrage.worst));
            }
            let p = |n: &str| e.params[n];
            let svi = volfit::model::Svi::new(p("a"), p("b"), p("rho"), p("m"), p("sigma"))
                .expect("valid SVI");
            let ks = r.residuals.iter().filter(|q| q.expiry == e.expiry).map(|q| q.k);
            let (lo, hi) =
                ks.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), k| (l.min(k), h.max(k)));
            if let Some(why) = volfit::fit::svi_degeneracy(&svi, lo, hi) {
                degenerate.push(format!("{label}: {why} {:?}", svi.params()));
            }
        }
    }
    eprintln!("{slices} SVI slices, median rmse {:.3} vol pts", median(rmse.clone()));
    // 660 slices: 30 files × BTC and ETH × ~11 expiries.
    assert!(slices > 600, "{slices}");
    assert!(fly.is_empty(), "{} butterfly-violating fits: {fly:#?}", fly.len());
    assert!(degenerate.is_empty(), "{} degenerate fits: {degenerate:#?}", degenerate.len());
}
