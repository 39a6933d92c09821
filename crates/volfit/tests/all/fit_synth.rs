//! Parameter recovery on the built-in synthetic chain: its truth is an SSVI surface, so an
//! SSVI fit must recover ρ, η, γ and the ATM term structure, and per-expiry SVI must match
//! the true smile inside the quoted range. The chain goes through the ordinary reader and
//! cleaning, as a user's file would.

use volfit::fit::{fit_snapshot, FitSpec, ModelKind, SnapshotResult};
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::{build, read_path, ReadOptions, Snapshot};
use volfit_optim::loss::LossKind;

fn synthetic_snapshot(seed: u64) -> (Snapshot, volfit::market::synth::SynthTruth) {
    let chain = generate(&SynthSpec { seed, ..SynthSpec::default() });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.csv");
    chain.write_csv(std::fs::File::create(&path).unwrap()).unwrap();
    let opts = ReadOptions::default();
    let mut snaps = Vec::new();
    read_path(&path, &opts, &mut |raw| {
        snaps.push(build(raw, &opts.clean).snapshot);
        Ok(())
    })
    .unwrap();
    assert_eq!(snaps.len(), 1);
    (snaps.pop().unwrap(), chain.truth)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fit(snap: &Snapshot, model: ModelKind, loss: LossKind) -> SnapshotResult {
    let spec = FitSpec { model, loss, ..FitSpec::default() };
    fit_snapshot(snap, &spec, None)
}

#[test]
fn ssvi_recovers_the_true_surface() {
    let (snap, truth) = synthetic_snapshot(42);
    let res = fit(&snap, ModelKind::Ssvi, LossKind::Huber { scale: 0.01 });
    assert!(res.fit.skipped.len() <= 2, "skipped: {:?}", res.fit.skipped);
    let p = res.fit.surface_params.as_ref().expect("surface fitted");
    let rho = p["rho"];
    // Truth: ρ = −0.25 (SynthSpec::default). Noise is 0.2 vol pt plus ticks and 1.5 %
    // outliers, which the Huber loss discounts.
    assert!((rho - truth.spec.truth.rho).abs() < 0.05, "rho {rho}");
    assert!(res.fit.arbitrage.butterfly_ok && res.fit.arbitrage.calendar_ok);
    let errs = truth_errors(&res, &truth);
    assert!(median(errs) < 0.3, "median |model − truth| vol points");
    for e in &res.fit.expiries {
        let t = truth.expiries.iter().find(|x| x.expiry == e.expiry).unwrap();
        let atm = e.params["atm_vol"];
        assert!((atm - t.atm_vol).abs() < 0.01, "{}: atm {atm} vs {}", e.expiry, t.atm_vol);
    }
    let rmse = median(res.fit.expiries.iter().map(|e| e.rmse_vol).collect());
    assert!(rmse < 1.0, "median rmse {rmse} vol points");
}

/// |model IV − true IV| in vol points over the fitted quotes, and the outlier flags'
/// agreement with the truth's outlier list.
fn truth_errors(res: &SnapshotResult, truth: &volfit::market::synth::SynthTruth) -> Vec<f64> {
    let model = truth.spec.truth;
    res.residuals.iter().map(|r| 100.0 * (r.model_iv - model.implied_vol(r.k, r.t)).abs()).collect()
}

#[test]
fn svi_per_expiry_recovers_the_true_smiles_and_flags_the_outliers() {
    let (snap, truth) = synthetic_snapshot(42);
    let res = fit(&snap, ModelKind::Svi, LossKind::Huber { scale: 0.01 });
    let inside = median(res.fit.expiries.iter().map(|e| e.inside_spread).collect());
    assert!(inside >= 0.8, "median inside_spread {inside}");
    for e in &res.fit.expiries {
        assert!(e.params.values().all(|v| v.is_finite()), "{}: {:?}", e.expiry, e.params);
    }
    let errs = truth_errors(&res, &truth);
    let (med, max) = (median(errs.clone()), errs.iter().copied().fold(0.0, f64::max));
    // Quotes carry 0.2 vol pt noise plus tick rounding; SVI is not SSVI, but close.
    assert!(med < 0.3 && max < 2.0, "vs truth: median {med}, max {max} vol points");
    // Every stale outlier that entered the fit is flagged by the robust loss.
    let mut seen = 0;
    for r in res.residuals.iter().filter(|r| {
        let name = format!("BTC-{}-{}-{}", expiry_code(&r.expiry), r.strike, r.kind.letter());
        truth.outliers.contains(&name)
    }) {
        assert!(r.outlier, "outlier at {} {} not flagged", r.expiry, r.strike);
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} outliers entered the fit");
}

#[test]
fn huber_resists_stale_outliers_where_mse_does_not() {
    let (snap, truth) = synthetic_snapshot(42);
    let huber = truth_errors(&fit(&snap, ModelKind::Svi, LossKind::Huber { scale: 0.01 }), &truth);
    let mse = truth_errors(&fit(&snap, ModelKind::Svi, LossKind::Mse), &truth);
    let (h, m) = (huber.iter().sum::<f64>(), mse.iter().sum::<f64>());
    assert!(h < 0.8 * m, "total |error| vs truth: huber {h}, mse {m}");
}

/// `2026-02-27T08:00:00Z` → `27FEB26`.
fn expiry_code(iso: &str) -> String {
    let ms = chrono::DateTime::parse_from_rfc3339(iso).unwrap().timestamp_millis();
    volfit::market::synth::expiry_code(ms)
}
