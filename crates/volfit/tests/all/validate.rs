//! Validation harness end to end: walk-forward on the real svcj Deribit snapshots (skipped
//! with a notice when the data are absent), ridge toward the previous fit, and on synthetic
//! chains with a known SSVI truth the ridge path and cross-validation.

use crate::support::{data_missing, shared_data};
use std::path::PathBuf;
use volfit::fit::{FitSpec, ModelKind, Ridge, RidgeTarget};
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::Snapshot;
use volfit::validate::{
    cross_validate, nested, series_by_underlying, stability, validate, walk_forward, write_csv,
    GridConfig, LabeledSpec, TABLES,
};

fn read_all(paths: &[PathBuf]) -> Vec<Snapshot> {
    paths.iter().flat_map(|p| crate::chains::read(p)).collect()
}

/// The 28 consecutive January snapshots (2026-01-05 … 2026-01-11), or `None` when absent.
fn real_snapshots() -> Option<Vec<Snapshot>> {
    let dir = shared_data("svcj_deribit_2026")?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("deribit_options_snapshot_202601")
                    && ("20260105".."20260112").contains(&&n[25..33])
            })
        })
        .collect();
    paths.sort();
    if paths.len() != 28 {
        data_missing(&format!("{} has {} January snapshots, not 28", dir.display(), paths.len()));
        return None;
    }
    Some(read_all(&paths))
}

/// `n` synthetic BTC snapshots of one true SSVI surface, 10 minutes apart (same expiries),
/// each with its own quote noise (seed), no outliers.
fn synth_snapshots(n: usize) -> Vec<Snapshot> {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths: Vec<PathBuf> = (0..n)
        .map(|i| {
            let base = SynthSpec::default();
            let spec = SynthSpec {
                seed: 1000 + i as u64,
                time_ms: base.time_ms + 600_000 * i as i64,
                outlier_share: 0.0,
                ..base
            };
            let path = dir.path().join(format!("synth_{i}.csv"));
            let file = std::fs::File::create(&path).expect("temp file");
            generate(&spec).write_csv(file).expect("synthetic csv");
            path
        })
        .collect();
    read_all(&paths)
}

fn labeled(id: usize, spec: FitSpec) -> LabeledSpec {
    LabeledSpec { id, label: volfit::validate::spec_label(&spec), spec }
}

#[test]
fn walk_forward_on_real_snapshots_writes_tables_of_the_expected_shape() {
    let Some(snaps) = real_snapshots() else { return };
    let series = series_by_underlying(&snaps);
    // BTC and ETH, 28 snapshots each (the files hold both underlyings).
    assert_eq!(series.len(), 2);
    assert!(series.iter().all(|s| s.len() == 28));
    let cfg = GridConfig {
        models: vec![ModelKind::Ssvi, ModelKind::Svi],
        losses: vec!["mse".into(), "huber:0.01".into()],
        weights: vec!["uniform".into()],
        horizon: 2,
        folds: 3,
        cv_snapshots: 1,
        ridge_lambdas: vec![0.0, 0.01],
        ..GridConfig::default()
    };
    let v = validate(&snaps, &cfg).expect("valid grid");
    // 4 grid specs + ridge path {0, 0.01:prev, 0.01:zero}.
    assert_eq!((v.n_grid, v.specs.len()), (4, 7));
    // Every spec × underlying × fit snapshot × horizon (0, 1, 2 while a later snapshot
    // exists: 28 + 27 + 26 per underlying) has at least one scored expiry.
    for sp in &v.specs {
        let mut keys: Vec<(&str, &str, usize)> = v
            .rows
            .iter()
            .filter(|r| r.spec_id == sp.id)
            .map(|r| (r.underlying.as_str(), r.fit_snapshot.as_str(), r.horizon))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 2 * (28 + 27 + 26), "{}", sp.label);
    }
    assert!(v.rows.iter().all(|r| r.n > 0 && r.rmse_vol.is_finite() && r.rmse_vol >= 0.0));
    assert!(v.rows.iter().all(|r| (0.0..=1.0).contains(&r.inside_spread)));
    // Ranked summary: ranks 1..=4 on the grid, increasing out-of-sample error, winner first.
    let grid: Vec<_> = v.summary.iter().filter(|s| s.group == "grid").collect();
    assert_eq!(grid.iter().map(|s| s.rank).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(grid.windows(2).all(|w| w[0].oos_rmse <= w[1].oos_rmse));
    let winner = v.winner.as_ref().expect("a winner");
    assert_eq!(winner.spec_id, grid[0].spec_id);
    assert!(winner.margin >= 0.0);
    // Out-of-sample is worse than in-sample for every spec (the market moves).
    assert!(v.summary.iter().all(|s| s.overfit > 1.0), "{:?}", v.summary);
    // Ridge path: prev and zero, each with λ ∈ {0, 0.01}, one choice per target.
    assert_eq!(v.ridge.len(), 4);
    assert_eq!(v.ridge.iter().filter(|p| p.chosen).count(), 2);
    // Cross-validation: one snapshot per underlying, each grid spec, held-out error above
    // in-sample error in the pool.
    assert!(!v.cv.is_empty());
    assert!(grid.iter().all(|s| s.cv_rmse > s.cv_in_rmse));
    // Buckets cover every horizon.
    for h in 0..=2 {
        assert!(v.buckets.iter().any(|b| b.horizon == h));
    }
    // Tables on disk: CSV with a plain header row, one line per row.
    let dir = tempfile::tempdir().expect("temp dir");
    let written = write_csv(dir.path(), &v).expect("tables written");
    assert_eq!(written.len(), TABLES.len() + 1);
    let text = std::fs::read_to_string(dir.path().join("walk_forward.csv")).expect("csv");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("spec_id,spec,underlying,fit_snapshot,eval_snapshot,horizon,"));
    assert_eq!(lines.count(), v.rows.len());
    let ncols = header.split(',').count();
    let summary = std::fs::read_to_string(dir.path().join("summary.csv")).expect("csv");
    assert_eq!(summary.lines().count(), v.summary.len() + 1);
    let mut reader = csv::Reader::from_path(dir.path().join("walk_forward.csv")).expect("csv");
    assert!(reader.records().all(|r| r.is_ok_and(|r| r.len() == ncols)));
}

#[test]
fn ridge_toward_previous_fit_steadies_parameters_at_small_out_of_sample_cost() {
    let Some(snaps) = real_snapshots() else { return };
    let series = series_by_underlying(&snaps);
    let base = FitSpec { model: ModelKind::Svi, ..FitSpec::default() };
    let ridged =
        FitSpec { ridge: Some(Ridge { lambda: 0.01, toward: RidgeTarget::Prev }), ..base.clone() };
    let specs = [labeled(0, base), labeled(1, ridged)];
    let mut rows = Vec::new();
    let mut params = Vec::new();
    for sp in &specs {
        for s in &series {
            let run = walk_forward(s, sp, 1);
            rows.extend(run.rows);
            params.extend(run.params);
        }
    }
    let stab = stability(&params);
    let oos = |id: usize| {
        let mine: Vec<_> = rows.iter().filter(|r| r.spec_id == id).collect();
        volfit::validate::pool(&mine).1.rmse()
    };
    let (var0, _) = volfit::validate::spec_variation(&stab, 0);
    let (var1, _) = volfit::validate::spec_variation(&stab, 1);
    let (oos0, oos1) = (oos(0), oos(1));
    eprintln!("SVI ridge 0.01:prev: variation {var0:.4} → {var1:.4}, oos {oos0:.4} → {oos1:.4}");
    // Measured on these 28 × 2 snapshots (2026-11 run): median relative day-to-day change of
    // the SVI parameters 1.080 → 0.102 (factor 10.6), out-of-sample RMSE 1.149 → 1.155 vol
    // points (+0.5 %). Asserted with margin: variation at least 4× lower, OOS error at most
    // 3 % higher.
    assert!(var1 < var0 / 4.0, "variation {var0} → {var1}");
    assert!(oos1 <= 1.03 * oos0, "oos {oos0} → {oos1}");
    assert!(oos1.is_finite() && oos0 > 0.0);
}

#[test]
fn synthetic_ridge_path_chooses_lambda_in_expected_range() {
    let snaps = synth_snapshots(8);
    let cfg = GridConfig {
        models: vec![ModelKind::Svi],
        losses: vec!["mse".into()],
        weights: vec!["uniform".into()],
        folds: 0,
        ridge_lambdas: vec![0.0, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0],
        ..GridConfig::default()
    };
    let v = validate(&snaps, &cfg).expect("valid grid");
    for p in &v.ridge {
        eprintln!(
            "{} λ={:<6} is {:.4} oos {:.4} var {:.4}{}",
            p.toward,
            p.lambda,
            p.is_rmse,
            p.oos_rmse,
            p.param_variation,
            if p.chosen { " *" } else { "" }
        );
    }
    let prev = volfit::validate::chosen_lambda(&v.ridge, "prev").expect("prev chosen");
    let zero = volfit::validate::chosen_lambda(&v.ridge, "zero").expect("zero chosen");
    // Expected ranges (argument, then measured): the truth does not change between the
    // snapshots, only the quote noise does. Toward the previous fit, λ = 0 keeps each
    // snapshot's noise and λ → ∞ freezes the first fit (its noise again), so the best λ
    // averages and lies strictly inside the grid (measured: 0.1; out-of-sample RMSE 0.2933
    // at λ = 0, 0.2915 at 0.1, 0.2936 at 100). Toward zero, shrinkage only adds bias: the
    // best λ is at most 0.001 (measured 0.001; RMSE 0.3628 already at λ = 0.01).
    assert!(prev > 0.0 && prev < 100.0, "λ toward prev {prev}");
    assert!(zero <= 0.001, "λ toward zero {zero}");
    let at = |toward: &str, lambda: f64| {
        v.ridge.iter().find(|p| p.toward == toward && p.lambda == lambda).expect("grid point")
    };
    // Heavy shrinkage toward zero is far off (measured 9.78 vs 0.29 vol points).
    assert!(at("zero", 100.0).oos_rmse > 5.0 * at("zero", 0.0).oos_rmse);
    // The ridge toward prev steadies parameters monotonically in λ (measured variation
    // 0.128 → 0.0008 from λ = 0 to 100).
    let vars: Vec<f64> =
        [0.0, 0.01, 1.0, 100.0].iter().map(|&l| at("prev", l).param_variation).collect();
    assert!(vars.windows(2).all(|w| w[1] < w[0]), "{vars:?}");
    assert!(vars[3] < vars[0] / 10.0, "{vars:?}");
}

#[test]
fn cross_validation_error_of_an_over_parametrised_spec_exceeds_in_sample() {
    let snaps = synth_snapshots(1);
    // Truth is SSVI (3 + one θ per expiry); raw SVI has 5 per expiry: over-parametrised.
    let mut ratios = Vec::new();
    for (id, model) in [(0, ModelKind::Svi), (1, ModelKind::Ssvi)] {
        let sp = labeled(id, FitSpec { model, ..FitSpec::default() });
        let rows = cross_validate(&snaps[0], &sp, 5);
        let refs: Vec<_> = rows.iter().collect();
        let (is, cv) = volfit::validate::pooled(&refs);
        eprintln!("{model}: in-sample {is:.4}, cross-validated {cv:.4}");
        ratios.push(cv / is);
    }
    // Measured: SVI 0.2385 in-sample vs 0.3302 cross-validated (ratio 1.38); SSVI 0.2676 vs
    // 0.2773 (1.04). Asserted: SVI's held-out error at least 15 % above its in-sample error,
    // and its ratio above SSVI's (the spec with the true number of parameters).
    assert!(ratios[0] > 1.15, "{ratios:?}");
    assert!(ratios[0] > ratios[1], "{ratios:?}");
}

#[test]
fn rebuilt_model_reproduces_the_fit_model_vols() {
    // Round trip: the smiles rebuilt from a fit's parameters give the fit's own model vols
    // on the fitted quotes, at each quote's own forward, to rounding.
    let snaps = synth_snapshots(1);
    let snap = &snaps[0];
    for model in [ModelKind::Svi, ModelKind::Ssvi, ModelKind::Essvi, ModelKind::Sabr] {
        let spec = FitSpec { model, ..FitSpec::default() };
        let result = volfit::fit::fit_snapshot(snap, &spec, None);
        let fitted = result.fitted(snap, &spec);
        assert_eq!(fitted.num_expiries(), result.fit.expiries.len(), "{model}");
        assert!(!result.residuals.is_empty());
        for r in &result.residuals {
            let e = snap
                .expiries
                .iter()
                .find(|e| volfit::market::iso8601(e.expiry_ms) == r.expiry)
                .expect("fitted expiry in snapshot");
            // Each quote was fitted at its own forward (issue 14; the synthetic rows carry a
            // jitter of 2e-5 around the expiry forward): rebuild there, sticky moneyness.
            let own_forward = r.strike / r.k.exp();
            let sticky = volfit::model::Sticky::Moneyness;
            let v = fitted.vol(e.expiry_ms, r.strike, own_forward, sticky).expect("model vol");
            assert!((v - r.model_iv).abs() < 1e-9, "{model} {}: {v} vs {}", r.strike, r.model_iv);
        }
    }
}

#[test]
fn nested_selection_has_no_look_ahead_and_pools_the_chosen_rows() {
    let snaps = synth_snapshots(6);
    let cfg = GridConfig {
        models: vec![ModelKind::Svi, ModelKind::Ssvi],
        losses: vec!["mse".into(), "huber:0.01".into()],
        weights: vec!["uniform".into()],
        folds: 0,
        ridge_lambdas: vec![0.0, 0.1],
        ..GridConfig::default()
    };
    let v = validate(&snaps, &cfg).expect("valid grid");
    let grid: Vec<usize> = v.specs[..v.n_grid].iter().map(|s| s.id).collect();
    let (picks, acc) = nested(&v.rows, &grid);
    assert_eq!(picks.len(), 5, "fits 0..=4 are scored out-of-sample");
    // Nothing is known at the first fit: the first grid spec.
    assert_eq!(picks[0].1, grid[0]);
    // No look-ahead: dropping the rows evaluated after a fit time (bar its own) keeps the pick.
    for (t, id) in &picks {
        let known: Vec<_> = v
            .rows
            .iter()
            .filter(|r| r.eval_snapshot <= *t || r.fit_snapshot == *t)
            .cloned()
            .collect();
        let (p, _) = nested(&known, &grid);
        assert_eq!(p.iter().find(|p| p.0 == *t).map(|p| p.1), Some(*id), "at {t}");
    }
    // The procedure pools exactly the chosen rows.
    let (mut sse, mut n) = (0.0, 0usize);
    for r in v.rows.iter().filter(|r| r.horizon >= 1) {
        if picks.iter().any(|(t, id)| r.fit_snapshot == *t && r.spec_id == *id) {
            sse += r.rmse_vol.powi(2) * r.n as f64;
            n += r.n;
        }
    }
    assert_eq!(acc.n, n);
    let sel = &v.selection;
    assert!((sel.procedure_oos_rmse - (sse / n as f64).sqrt()).abs() < 1e-9);
    let w = v.winner.as_ref().expect("a winner");
    assert_eq!(sel.winner.as_deref(), Some(w.spec.as_str()));
    assert_eq!(sel.runner_up.as_deref(), Some(v.summary[1].spec.as_str()));
    assert!((sel.margin - w.margin).abs() < 1e-12);
    // One BTC series of 6 snapshots, fits 0..=4 paired.
    assert_eq!(sel.n_snapshots, 5);
    assert!(sel.dm_p_value.is_nan() || (0.0..=1.0).contains(&sel.dm_p_value));
    assert_eq!(sel.significant, sel.dm_p_value < 0.05);
    let ridge = sel.ridge_lambda_nested.as_ref().expect("a ridge path");
    assert!(ridge.contains_key("prev") && ridge.contains_key("zero"), "{ridge:?}");
}

#[test]
fn progress_counts_every_unit_and_reaches_the_total() {
    // 1 grid spec (1 model × 1 loss × 1 weight) + 3 ridge-path specs (λ = 0, and 0.1 toward
    // prev and toward zero) on 1 underlying: 4 walk-forward runs, plus 1 cross-validated
    // snapshot of the grid spec = 5 units.
    let snaps = synth_snapshots(3);
    let cfg = GridConfig {
        models: vec![ModelKind::Svi],
        losses: vec!["mse".into()],
        weights: vec!["uniform".into()],
        folds: 3,
        cv_snapshots: 1,
        ridge_lambdas: vec![0.0, 0.1],
        ..GridConfig::default()
    };
    let seen = std::sync::Mutex::new(Vec::new());
    volfit::validate::validate_with_progress(&snaps, &cfg, &|done, total| {
        seen.lock().expect("lock").push((done, total));
    })
    .expect("valid grid");
    let mut seen = seen.into_inner().expect("lock");
    seen.sort_unstable();
    assert_eq!(seen, [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);
}

#[test]
fn sticky_moneyness_scores_each_quote_at_its_own_forward() {
    // Scored on its own snapshot, a fit's sticky-moneyness error is its in-sample error:
    // the fit placed each quote at k = ln(K/F_row) (issue 14; the synthetic rows carry a
    // 2e-5 jitter around the expiry forward), and scoring must too. At the expiry's
    // forward the sums differ in the 4th digit.
    let snaps = synth_snapshots(1);
    let snap = &snaps[0];
    let spec = FitSpec::default();
    let result = volfit::fit::fit_snapshot(snap, &spec, None);
    let fitted = result.fitted(snap, &spec);
    let scored = volfit::validate::score_snapshot(&fitted, snap, &spec);
    let sse: f64 = scored.iter().map(|(_, _, m, _)| m.sse).sum();
    let mut want = volfit::fit::ErrorAcc::default();
    for r in &result.residuals {
        want.add_quote(r.model_iv, r.bid_iv, r.ask_iv, r.mid_iv);
    }
    let n: usize = scored.iter().map(|(_, _, m, _)| m.n).sum();
    assert_eq!(n, want.n);
    assert!((sse - want.sse).abs() <= 1e-9 * want.sse, "scored {sse} vs in-sample {}", want.sse);
}
