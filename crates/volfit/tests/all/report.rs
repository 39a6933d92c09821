//! The HTML report: every expected chart and section is present, every string from data is
//! escaped (a hostile underlying, instrument-like expiry label, spec name and file name), the
//! page needs no network and no script, and optional inputs may be missing.
//!
//! The fixture is a real fit of the built-in synthetic chain, written to a temporary
//! directory the way `volfit fit` writes it, with hostile names patched in.

use std::path::Path;
use volfit::fit::{
    fit_snapshot, FitOutput, FitSpec, ModelKind, ResidualRow, SnapshotResult, WarmStartMode,
};
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::{build, read_path, Cleaned, FileReport, ReadOptions};
use volfit::report::html::{load, write_report, InputsSummary, ReportError, TraceRecord};
use volfit::validate::{RidgePoint, WalkForwardRow};
use volfit_optim::loss::LossKind;

const HOSTILE: &str = "<script>alert(1)</script>";

fn synthetic(dir: &Path) -> (Vec<Cleaned>, FileReport) {
    let chain = generate(&SynthSpec { seed: 11, ..SynthSpec::default() });
    let path = dir.join("synth.csv.in");
    chain.write_csv(std::fs::File::create(&path).expect("create")).expect("write");
    let opts = ReadOptions::default();
    let mut snaps = Vec::new();
    let report = read_path(&path, &opts, &mut |raw| {
        snaps.push(build(raw, &opts.clean));
        Ok(())
    })
    .expect("read synthetic chain");
    (snaps, report)
}

/// Writes fit.json, residuals.csv, traces.json and inputs.json as `volfit fit` does, with the
/// underlying renamed to `underlying`.
fn write_fit_dir(dir: &Path, model: ModelKind, underlying: &str) -> SnapshotResult {
    let (snaps, mut file) = synthetic(dir);
    // Huber at one vol point, as `volfit demo` fits: the planted stale quotes become outliers.
    let spec = FitSpec { model, loss: LossKind::Huber { scale: 0.01 }, ..FitSpec::default() };
    let mut r = fit_snapshot(&snaps[0].snapshot, &spec, None);
    r.fit.underlying = underlying.to_string();
    r.residuals.iter_mut().for_each(|q| q.underlying = underlying.to_string());
    r.fit.skipped.push(format!("{HOSTILE} skipped"));
    let out = FitOutput {
        spec,
        inputs: vec![format!("{HOSTILE}.csv")],
        warm_start: WarmStartMode::default(),
        snapshots: vec![r.fit.clone()],
    };
    std::fs::write(dir.join("fit.json"), serde_json::to_vec(&out).expect("json")).expect("fit");
    let mut w = csv::Writer::from_path(dir.join("residuals.csv")).expect("csv");
    for q in &r.residuals {
        w.serialize(q).expect("row");
    }
    w.flush().expect("flush");
    let mut traces = TraceRecord::from_results(std::slice::from_ref(&r));
    if let Some(t) = traces.first_mut() {
        t.warnings.push(format!("{HOSTILE} stall"));
    }
    std::fs::write(dir.join("traces.json"), serde_json::to_vec(&traces).expect("json"))
        .expect("traces");
    file.path = format!("{HOSTILE}.csv");
    file.examples.push(HOSTILE.to_string());
    let mut cleaned = snaps;
    cleaned[0].snapshot.underlying = underlying.to_string();
    let inputs = InputsSummary::new(&[file], &cleaned);
    std::fs::write(dir.join("inputs.json"), serde_json::to_vec(&inputs).expect("json"))
        .expect("inputs");
    r
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// No raw hostile markup anywhere, no script element, no external resource.
fn assert_safe(html: &str) {
    assert_eq!(count(html, HOSTILE), 0, "raw hostile string in the report");
    assert!(!html.to_ascii_lowercase().contains("<script"), "a <script> element");
    assert!(html.contains("&lt;script&gt;"), "the hostile text is shown, escaped");
    for bad in ["src=", "<link", "url(", "@import", "<iframe"] {
        assert!(!html.contains(bad), "external resource reference {bad:?}");
    }
}

#[test]
fn surface_report_has_every_section_and_escapes_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = write_fit_dir(dir.path(), ModelKind::Ssvi, HOSTILE);
    // Validation tables as `volfit validate` writes them, with a hostile spec name.
    let spec2 = "huber|vega";
    let mut wf = csv::Writer::from_path(dir.path().join("walk_forward.csv")).expect("wf");
    for (h, x) in [(0, 1.0), (6, 1.2), (12, 0.9)] {
        for (s, d) in [(HOSTILE, 0.0), (spec2, 0.3)] {
            for (horizon, err) in [(0, x + d), (1, 1.5 * x + d)] {
                let snapshot = format!("2026-01-05T{h:02}:00:00Z");
                wf.serialize(WalkForwardRow {
                    spec_id: 0,
                    spec: s.into(),
                    underlying: "BTC".into(),
                    fit_snapshot: snapshot.clone(),
                    eval_snapshot: snapshot,
                    horizon,
                    expiry: "2026-02-27T08:00:00Z".into(),
                    t: 0.15,
                    bucket: "30-90d".into(),
                    n: 10,
                    rmse_vol: err,
                    spread_rmse: 1.0,
                    inside_spread: 0.5,
                    rmse_vol_strike: err,
                    spread_rmse_strike: 1.0,
                    inside_spread_strike: 0.5,
                })
                .expect("wf row");
            }
        }
    }
    wf.flush().expect("wf");
    let mut rp = csv::Writer::from_path(dir.path().join("ridge_path.csv")).expect("rp");
    let path = [(1e-4, 0.5, 1.4), (1e-3, 0.6, 1.1), (1e-2, 0.8, 1.0), (1e-1, 1.2, 1.3)];
    for (id, (lambda, is_rmse, oos_rmse)) in path.into_iter().enumerate() {
        rp.serialize(RidgePoint {
            toward: "prev".into(),
            lambda,
            spec_id: id,
            is_rmse,
            oos_rmse,
            oos_rmse_strike: oos_rmse,
            param_variation: 0.1,
            chosen: lambda == 1e-2,
        })
        .expect("rp row");
    }
    rp.flush().expect("rp");

    let path = write_report(dir.path()).expect("report written");
    assert_eq!(path, dir.path().join("report.html"));
    let html = std::fs::read_to_string(&path).expect("read report");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_safe(&html);

    // One smile per fitted expiry, and one of each other chart.
    let n_exp = r.fit.expiries.len();
    assert!(n_exp >= 5, "synthetic chain has {n_exp} fitted expiries");
    assert_eq!(count(&html, r#"data-chart="smile""#), n_exp);
    for kind in
        ["residuals", "term-structure", "skew", "heatmap", "loss", "walk-forward", "ridge-path"]
    {
        assert_eq!(count(&html, &format!(r#"data-chart="{kind}""#)), 1, "chart {kind}");
    }
    // RMSE plus the three non-indexed SSVI parameters (rho, zeta, gamma) and the three
    // per-expiry summaries (atm_vol, atm_skew, atm_total_variance).
    assert_eq!(count(&html, r#"data-chart="param-series""#), 7);
    for table in ["expiries", "warnings", "rejections", "files"] {
        assert!(html.contains(&format!(r#"data-table="{table}""#)), "table {table}");
    }
    for section in ["underlying", "inputs", "validation", "spec"] {
        assert!(html.contains(&format!(r#"data-section="{section}""#)), "section {section}");
    }
    // Every chart is an inline SVG: as many <svg> elements as figures.
    assert_eq!(count(&html, "<svg"), count(&html, "<figure class=\"chart"));
    // The ridge path's chosen λ (1e-2, the `chosen` row above, as the CLI prints it) is stated.
    assert!(html.contains("λ chosen out-of-sample = 0.01 ("), "chosen lambda");
    // Outliers flagged by the fit get their legend entry on the smiles they sit on; the
    // synthetic chain plants stale quotes, so some are flagged.
    let with_outliers: std::collections::BTreeSet<&str> = r
        .residuals
        .iter()
        .filter(|q: &&ResidualRow| q.outlier)
        .map(|q| q.expiry.as_str())
        .collect();
    assert!(!with_outliers.is_empty(), "fixture has outliers");
    assert_eq!(count(&html, ">outlier</text>"), with_outliers.len());
}

#[test]
fn per_expiry_report_without_optional_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = write_fit_dir(dir.path(), ModelKind::Svi, "BTC");
    for f in ["residuals.csv", "traces.json", "inputs.json"] {
        std::fs::remove_file(dir.path().join(f)).expect("remove");
    }
    let data = load(dir.path()).expect("fit.json alone is enough");
    assert!(data.residuals.is_empty() && data.traces.is_empty() && data.inputs.is_none());
    let html = std::fs::read_to_string(write_report(dir.path()).expect("report")).expect("read");
    assert_safe(&html);
    // Smiles still drawn (model curves from the SVI parameters), no loss chart, notes instead.
    assert_eq!(count(&html, r#"data-chart="smile""#), r.fit.expiries.len());
    assert_eq!(count(&html, r#"data-chart="loss""#), 0);
    assert!(html.contains("No solver traces"));
    assert!(html.contains("No inputs.json"));
    assert!(html.contains("No walk-forward or ridge-path tables"));
}

#[test]
fn missing_or_broken_fit_json_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(matches!(write_report(dir.path()), Err(ReportError::Read { .. })));
    std::fs::write(dir.path().join("fit.json"), "{not json").expect("write");
    assert!(matches!(write_report(dir.path()), Err(ReportError::Json { .. })));
    assert!(!dir.path().join("report.html").exists());
}

/// Start offsets of every `<svg` element in `html`.
fn svg_tags(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .map(|(i, _)| &html[i..i + html[i..].find('>').unwrap_or(0)])
        .collect()
}

#[test]
fn fit_report_opens_with_a_verdict_and_scales_and_hovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = write_fit_dir(dir.path(), ModelKind::Ssvi, "BTC");
    let html = std::fs::read_to_string(write_report(dir.path()).expect("report")).expect("read");
    // The verdict comes before every underlying's section and states the key numbers.
    let v = html.find(r#"<section id="verdict""#).expect("verdict section");
    assert!(v < html.find(r#"data-section="underlying""#).expect("underlying"));
    for key in ["median RMSE", "worst RMSE", "inside the spread", "converged fits", "time span"] {
        assert!(html[v..].contains(key), "verdict key {key}");
    }
    // Every chart scales with the page: a viewBox, no fixed pixel width.
    assert!(html.contains(r#"<meta name="viewport""#));
    let tags = svg_tags(&html);
    assert!(!tags.is_empty());
    for t in &tags {
        assert!(t.contains("viewBox=") && !t.contains(" width="), "{t}");
    }
    // Every plotted quote of a smile has a hover title naming its instrument.
    let smiles: Vec<&str> = html.split(r#"data-chart="smile""#).skip(1).collect();
    assert_eq!(smiles.len(), r.fit.expiries.len());
    let titled = count(&html, "<title>BTC-");
    let quotes = r.residuals.len();
    assert!(titled >= quotes, "{titled} titled marks for {quotes} quotes");
    // Vol points everywhere: the ATM vol of the expiry table is not a fraction.
    assert!(html.contains("atm_vol=") && html.contains(" vol pts"), "ATM vol in vol points");
    assert!(!html.contains(">-0<"), "a -0 tick");
    // Per-expiry surface parameters in natural order.
    let sp = html.split("Surface parameters:").nth(1).expect("surface params");
    if let (Some(a), Some(b)) = (sp.find("dtheta_2="), sp.find("dtheta_10=")) {
        assert!(a < b, "dtheta_2 before dtheta_10");
    }
    // Optimizer diagnostics are collapsed, not red.
    let d = html.find(r#"<details data-details="diagnostics">"#).expect("diagnostics details");
    assert!(html[d..].find("stall").is_some());
    let w = &html[html.find(r#"data-table="warnings""#).expect("warnings table")..];
    let w = &w[..w.find("</table>").expect("end")];
    assert!(!w.contains("bad"), "diagnostics shown as red rows");
}

#[test]
fn verdict_flags_bounds_poor_expiries_and_the_one_day_filter() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_fit_dir(dir.path(), ModelKind::Ssvi, "BTC");
    let path = dir.path().join("fit.json");
    let mut fit: FitOutput =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("parse");
    let s = &mut fit.snapshots[0];
    s.surface_params.as_mut().expect("surface").insert("gamma".into(), 0.5);
    s.expiries[0].rmse_vol = 3.5;
    let snap_ms =
        chrono::DateTime::parse_from_rfc3339(&s.snapshot).expect("time").timestamp_millis();
    let soon = volfit::market::iso8601(snap_ms + 12 * 3_600_000);
    s.skipped = vec![format!("{soon}: 0 usable quotes")];
    std::fs::write(&path, serde_json::to_vec(&fit).expect("json")).expect("write");
    let html = std::fs::read_to_string(write_report(dir.path()).expect("report")).expect("read");
    let v = &html[html.find(r#"<section id="verdict""#).expect("verdict")..];
    let v = &v[..v.find("</section>").expect("end")];
    assert!(
        v.contains(r#"class="attention""#) || html.contains(r#"id="verdict" class="attention""#)
    );
    assert!(v.contains("γ = ½"), "SSVI gamma at its bound");
    assert!(v.contains("poor fit") && v.contains("3.5 vol pts"), "poor expiry");
    // The expiry inside the one-day filter is explained, not reported as a data problem.
    assert!(html.contains("inside the minimum expiry of 1 d"), "one-day filter named");
    assert!(!html.contains("0 usable quotes"));
}

#[test]
fn report_of_a_synthetic_chain_shows_the_true_surface() {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = generate(&SynthSpec { seed: 11, ..SynthSpec::default() });
    write_fit_dir(dir.path(), ModelKind::Ssvi, "BTC");
    // The sidecar beside the fit directory, as `volfit demo` lays it out.
    let fit_dir = dir.path().join("fit_ssvi");
    std::fs::create_dir(&fit_dir).expect("dir");
    for f in ["fit.json", "residuals.csv", "traces.json", "inputs.json"] {
        std::fs::rename(dir.path().join(f), fit_dir.join(f)).expect("move");
    }
    let path = fit_dir.join("fit.json");
    let mut fit: FitOutput =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("parse");
    fit.inputs = vec!["some/where/synth.csv".into()];
    std::fs::write(&path, serde_json::to_vec(&fit).expect("json")).expect("write");
    chain
        .write_truth(std::fs::File::create(dir.path().join("synth.csv.truth.json")).expect("f"))
        .expect("truth");
    let html = std::fs::read_to_string(write_report(&fit_dir).expect("report")).expect("read");
    assert!(html.contains(r#"data-section="truth""#), "recovery numbers");
    assert!(html.contains("median |model − truth|") && html.contains("(true -0.2500)"));
    assert_eq!(count(&html, ">true surface</text>"), fit.snapshots[0].expiries.len());
}
