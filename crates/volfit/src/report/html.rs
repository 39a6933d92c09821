//! The HTML report: one self-contained file (inline SVG, inline CSS, no script, no network)
//! built from a fit's output directory ([`load`]: `fit.json`, optionally `residuals.csv`,
//! `traces.json`, `inputs.json`, and validation tables — `walk_forward.csv` and
//! `ridge_path.csv` read through [`WalkForwardRow`](crate::validate::WalkForwardRow) and
//! [`RidgePoint`](crate::validate::RidgePoint) — and any other `*.csv`).
//!
//! [`render`] assembles the page: per underlying, the fit table and one chart per panel
//! (smiles, residuals, term structure and skew, heat map, loss curves, parameter series);
//! the input data's rejection counts; the validation charts; every CSV table found. Every
//! string that comes from data goes through the template engine's HTML auto-escaping
//! (minijinja, `.html` template); the SVG charts escape their own text.

use super::panels::{self, Latest, Panel};
use super::validation;
use crate::fit::{ExpiryFit, SnapshotFit};
use crate::io::write_atomic;
use crate::market::RejectionCounts;
use crate::model::ModelKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use super::data::{
    load, InputsSummary, ReportData, ReportError, SnapshotInputs, Table, TraceRecord,
};

/// The template, compiled into the binary.
const TEMPLATE: &str = include_str!("report.html.j2");

/// Reads `dir` and writes `dir/report.html` atomically; returns its path.
///
/// # Errors
/// See [`load`] and [`render`]; and the write itself.
pub fn write_report(dir: &Path) -> Result<PathBuf, ReportError> {
    let data = load(dir)?;
    let html = render(&data)?;
    let path = dir.join("report.html");
    write_atomic(&path, |w| w.write_all(html.as_bytes()).map_err(ReportError::from))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// Page model handed to the template.

#[derive(Clone, Debug, Serialize)]
struct ExpiryRow {
    expiry: String,
    t: f64,
    forward: f64,
    n_quotes: usize,
    rmse_vol: f64,
    mae_vol: f64,
    inside_spread: f64,
    stop: String,
    iterations: u32,
    butterfly: bool,
    params: String,
}

#[derive(Clone, Debug, Serialize)]
struct WarningRow {
    name: String,
    text: String,
}

#[derive(Clone, Debug, Serialize)]
struct UnderlyingPage {
    name: String,
    snapshot: String,
    n_snapshots: usize,
    model: ModelKind,
    surface_params: String,
    butterfly_ok: bool,
    calendar_ok: bool,
    worst: Option<String>,
    skipped: Vec<String>,
    expiries: Vec<ExpiryRow>,
    smiles: Vec<Panel>,
    residuals: Panel,
    term: Vec<Panel>,
    heatmap: Panel,
    loss: Option<Panel>,
    warnings: Vec<WarningRow>,
    warnings_all_snapshots: usize,
    params: Vec<Panel>,
}

#[derive(Clone, Debug, Serialize)]
struct CountRow {
    underlying: String,
    snapshots: usize,
    rows: u64,
    quotes: usize,
    rejected: Vec<(String, u64)>,
    flagged: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Serialize)]
struct FileRow {
    path: String,
    format: String,
    rows: u64,
    snapshots: u64,
    skipped: Vec<(String, u64)>,
    filtered: u64,
    examples: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
struct InputsPage {
    files: Vec<FileRow>,
    counts: Vec<CountRow>,
}

#[derive(Clone, Debug, Serialize)]
struct TablePage {
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    total_rows: usize,
}

#[derive(Clone, Debug, Serialize)]
struct Page {
    title: String,
    model: String,
    spec: String,
    input_files: Vec<String>,
    n_snapshots: usize,
    underlyings: Vec<UnderlyingPage>,
    inputs: Option<InputsPage>,
    validation: Vec<Panel>,
    validation_notes: Vec<String>,
    tables: Vec<TablePage>,
}

fn counts(c: &RejectionCounts) -> Vec<(String, u64)> {
    c.0.iter()
        .map(|(r, n)| {
            let name = serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{r:?}"));
            (name, *n)
        })
        .collect()
}

fn fmt_params(p: &BTreeMap<String, f64>) -> String {
    p.iter().map(|(k, v)| format!("{k}={v:.4}")).collect::<Vec<_>>().join(", ")
}

/// The section of one underlying: its latest snapshot's fit table and panels, and the
/// parameter series over all its snapshots (`series`, in time order).
fn underlying_page(data: &ReportData, series: &[&SnapshotFit]) -> Option<UnderlyingPage> {
    let snap = *series.last()?;
    let latest = Latest::new(snap, &data.residuals, data.fit.spec.sabr_beta);
    let traces: Vec<&TraceRecord> = data
        .traces
        .iter()
        .filter(|t| t.snapshot == snap.snapshot && t.underlying == snap.underlying)
        .collect();
    let warnings = traces
        .iter()
        .flat_map(|t| {
            t.warnings.iter().map(|w| WarningRow { name: t.name.clone(), text: w.clone() })
        })
        .collect();
    let warnings_all_snapshots = data
        .traces
        .iter()
        .filter(|t| t.underlying == snap.underlying)
        .map(|t| t.warnings.len())
        .sum();
    Some(UnderlyingPage {
        name: snap.underlying.clone(),
        snapshot: snap.snapshot.clone(),
        n_snapshots: series.len(),
        model: snap.model,
        surface_params: snap.surface_params.as_ref().map(fmt_params).unwrap_or_default(),
        butterfly_ok: snap.arbitrage.butterfly_ok,
        calendar_ok: snap.arbitrage.calendar_ok,
        worst: snap.arbitrage.worst.clone(),
        skipped: snap.skipped.clone(),
        expiries: snap.expiries.iter().map(expiry_row).collect(),
        smiles: panels::smiles(&latest),
        residuals: panels::residuals(&latest),
        term: panels::term_structure(&panels::atm_points(&latest)),
        heatmap: panels::heatmap(&latest),
        loss: panels::loss_curves(&traces),
        warnings,
        warnings_all_snapshots,
        params: panels::parameter_series(series),
    })
}

/// One row of the fit-by-expiry table.
fn expiry_row(e: &ExpiryFit) -> ExpiryRow {
    ExpiryRow {
        expiry: e.expiry.clone(),
        t: e.t,
        forward: e.forward,
        n_quotes: e.n_quotes,
        rmse_vol: e.rmse_vol,
        mae_vol: e.mae_vol,
        inside_spread: e.inside_spread,
        stop: serde_json::to_value(e.stop)
            .ok()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            })
            .unwrap_or_else(|| format!("{:?}", e.stop)),
        iterations: e.iterations,
        butterfly: e.arbitrage.butterfly_ok,
        params: fmt_params(&e.params),
    }
}

fn inputs_page(inputs: &InputsSummary) -> InputsPage {
    let files = inputs
        .files
        .iter()
        .map(|f| FileRow {
            path: f.path.clone(),
            format: f.format.name().to_string(),
            rows: f.rows,
            snapshots: f.snapshots,
            skipped: counts(&f.skipped),
            filtered: f.filtered,
            examples: f.examples.clone(),
        })
        .collect();
    let mut by: BTreeMap<&str, (usize, u64, usize, RejectionCounts, RejectionCounts)> =
        BTreeMap::new();
    for s in &inputs.snapshots {
        let e = by.entry(s.underlying.as_str()).or_default();
        e.0 += 1;
        e.1 += s.rows;
        e.2 += s.quotes;
        e.3.merge(&s.rejected);
        e.4.merge(&s.flagged);
    }
    let counts = by
        .into_iter()
        .map(|(u, (n, rows, quotes, rej, flag))| CountRow {
            underlying: u.to_string(),
            snapshots: n,
            rows,
            quotes,
            rejected: counts(&rej),
            flagged: counts(&flag),
        })
        .collect();
    InputsPage { files, counts }
}

/// The validation charts, with notes on what could not be drawn.
fn validation_panels(data: &ReportData, notes: &mut Vec<String>) -> Vec<Panel> {
    let wf = data.walk_forward.as_ref().and_then(|rows| validation::walk_forward(rows, notes));
    let rp = data.ridge_path.as_ref().and_then(|rows| validation::ridge_path(rows, notes));
    wf.into_iter().chain(rp).collect()
}

/// Renders the report page.
///
/// # Errors
/// Only a template failure (a bug).
pub fn render(data: &ReportData) -> Result<String, ReportError> {
    let mut by: Vec<(String, Vec<&SnapshotFit>)> = Vec::new();
    for s in &data.fit.snapshots {
        match by.iter_mut().find(|(u, _)| *u == s.underlying) {
            Some((_, v)) => v.push(s),
            None => by.push((s.underlying.clone(), vec![s])),
        }
    }
    let underlyings: Vec<UnderlyingPage> =
        by.iter().filter_map(|(_, series)| underlying_page(data, series)).collect();
    let mut validation_notes = Vec::new();
    let validation = validation_panels(data, &mut validation_notes);
    let tables = data
        .tables
        .iter()
        .map(|t| TablePage {
            name: t.name.clone(),
            header: t.header.iter().take(24).cloned().collect(),
            rows: t.rows.iter().take(40).map(|r| r.iter().take(24).cloned().collect()).collect(),
            total_rows: t.rows.len(),
        })
        .collect();
    let model = data.fit.spec.model.name().to_string();
    let names: Vec<&str> = underlyings.iter().map(|u| u.name.as_str()).collect();
    let page = Page {
        title: format!("volfit report: {} {}", names.join(", "), model),
        model,
        spec: serde_json::to_string_pretty(&data.fit.spec).unwrap_or_default(),
        input_files: data.fit.inputs.clone(),
        n_snapshots: data.fit.snapshots.len(),
        underlyings,
        inputs: data.inputs.as_ref().map(inputs_page),
        validation,
        validation_notes,
        tables,
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    env.add_global("shared_css", super::page::CSS);
    Ok(env.get_template("report.html")?.render(minijinja::value::Serde(&page))?)
}
