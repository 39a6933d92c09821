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

use super::fit_truth::{self, Recovery};
use super::fit_views;
use super::market_views::{self, SnapView};
use super::page::num;
use super::panels::{self, Latest, Panel};
use super::validation;
use super::verdict::{self, expiry_code, short_time, Verdict};
use crate::fit::{ExpiryFit, SnapshotFit};
use crate::io::write_atomic;
use crate::market::synth::SynthTruth;
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

/// Reads `dir` and writes `dir/report.html` and its market views `dir/views.csv`
/// atomically; returns the page's path.
///
/// # Errors
/// See [`load`] and [`render`]; and the writes themselves.
pub fn write_report(dir: &Path) -> Result<PathBuf, ReportError> {
    write_fit_page(dir, "report.html")
}

/// Reads `dir` and writes the fit page `dir/name` and `dir/views.csv` (snapshot,
/// underlying, tenor, ATM vol, 25Δ risk reversal and butterfly).
pub(super) fn write_fit_page(dir: &Path, name: &str) -> Result<PathBuf, ReportError> {
    let data = load(dir)?;
    let truth = fit_truth::find(dir, &data.fit.inputs);
    let views = market_views::all(&data);
    market_views::write_csv(&dir.join("views.csv"), &views)?;
    // A folder a command wrote lists its files: a later `volfit report` adds views.csv there,
    // so a rerun of the command may replace it.
    crate::io::record_in_manifest(dir, "views.csv")?;
    let html = render_with(&data, truth.as_ref(), &views)?;
    let path = dir.join(name);
    write_atomic(&path, |w| w.write_all(html.as_bytes()).map_err(ReportError::from))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// Page model handed to the template.

#[derive(Clone, Debug, Serialize)]
struct ExpiryRow {
    code: String,
    expiry: String,
    days: String,
    forward: String,
    n_quotes: usize,
    rmse_vol: String,
    mae_vol: String,
    inside_spread: String,
    poor: bool,
    stop: String,
    converged: bool,
    iterations: u32,
    butterfly: &'static str,
    params: String,
}

#[derive(Clone, Debug, Serialize)]
struct WarningRow {
    name: String,
    text: String,
}

/// One snapshot of the small multiples across time.
#[derive(Clone, Debug, Serialize)]
struct SnapPanel {
    time: String,
    summary: String,
    svg: String,
}

#[derive(Clone, Debug, Serialize)]
struct TruthPage {
    median_abs: String,
    max_abs: String,
    n: usize,
    params: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, Serialize)]
struct UnderlyingPage {
    name: String,
    snapshot: String,
    n_snapshots: usize,
    model: ModelKind,
    surface_params: String,
    butterfly: &'static str,
    calendar: &'static str,
    worst: Option<String>,
    skipped: Vec<String>,
    expiries: Vec<ExpiryRow>,
    smiles: Vec<Panel>,
    smile_delta: Panel,
    residuals: Panel,
    term: Vec<Panel>,
    constant_maturity: Vec<Panel>,
    heatmap: Panel,
    loss: Option<Panel>,
    warnings: Vec<WarningRow>,
    warnings_all_snapshots: usize,
    params: Vec<Panel>,
    snapshots: Vec<SnapPanel>,
    truth: Option<TruthPage>,
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
    verdict: Verdict,
    coins: Option<Panel>,
    coins_series: Vec<Panel>,
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

/// Parameters in natural name order (`dtheta_2` before `dtheta_10`), 4 significant figures;
/// ATM vols in vol points like every other vol on the page.
fn fmt_params(p: &BTreeMap<String, f64>) -> String {
    let mut v: Vec<(&String, &f64)> = p.iter().collect();
    v.sort_by_key(|(k, _)| panels::natural_key(k));
    v.iter()
        .map(|(k, v)| match k.as_str() {
            "atm_vol" => format!("atm_vol={} vol pts", num(100.0 * **v)),
            _ => format!("{k}={}", num(**v)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The section of one underlying (`ui`: its position on the page): its latest snapshot's
/// fit table and panels, the parameter series over all its snapshots (`series`, in time
/// order, with their market `views`) and one small multiple per snapshot.
fn underlying_page(
    data: &ReportData,
    ui: usize,
    (series, views): (&[&SnapshotFit], &[&SnapView]),
    truth: Option<&SynthTruth>,
) -> Option<UnderlyingPage> {
    let snap = *series.last()?;
    let latest_view = *views.last()?;
    let beta = data.fit.spec.sabr_beta;
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
    let id = format!("u{ui}");
    let quoted = latest.rows.iter().fold(None, |acc: Option<(f64, f64)>, r| {
        Some(acc.map_or((r.k, r.k), |(l, h)| (l.min(r.k), h.max(r.k))))
    });
    let labels = verdict::Labels::new(&data.fit);
    let si = data.fit.snapshots.iter().position(|s| std::ptr::eq(s, snap)).unwrap_or(0);
    let worst = snap.arbitrage.worst.as_deref();
    let of = |kind: &str| worst.filter(|w| w.starts_with(kind));
    let min_t = data.fit.spec.filter.min_t;
    let kr = verdict::k_ranges(&data.residuals);
    let expiries = snap
        .expiries
        .iter()
        .enumerate()
        .map(|(j, e)| {
            let q = kr
                .get(&(snap.snapshot.as_str(), snap.underlying.as_str(), e.expiry.as_str()))
                .copied();
            expiry_row(snap, e, labels.converged(si, j, e), q)
        })
        .collect();
    Some(UnderlyingPage {
        name: snap.underlying.clone(),
        snapshot: short_time(&snap.snapshot),
        n_snapshots: series.len(),
        model: snap.model,
        surface_params: snap.surface_params.as_ref().map(fmt_params).unwrap_or_default(),
        butterfly: verdict::arb_where(None, snap.arbitrage.butterfly_ok, of("Butterfly"), quoted),
        calendar: verdict::arb_where(None, snap.arbitrage.calendar_ok, of("Calendar"), quoted),
        worst: snap.arbitrage.worst.clone(),
        skipped: snap
            .skipped
            .iter()
            .map(|r| verdict::skip_text(r, &snap.snapshot, min_t))
            .collect(),
        expiries,
        smiles: fit_views::smiles(&id, &latest, truth.map(|t| &t.spec.truth)),
        smile_delta: market_views::delta_smiles(&format!("{id}-sd"), snap, latest_view, beta),
        residuals: fit_views::residuals_spread(&format!("{id}-res"), &latest),
        term: term_panels(&id, &latest, latest_view),
        constant_maturity: market_views::cm_series(&id, views),
        heatmap: panels::heatmap(&latest),
        loss: panels::loss_curves(&traces),
        warnings,
        warnings_all_snapshots,
        params: panels::parameter_series(&id, series),
        snapshots: snapshot_panels(&id, data, series),
        truth: truth.map(|t| {
            truth_page(&fit_truth::recovery(
                &latest.rows.iter().map(|r| (*r).clone()).collect::<Vec<_>>(),
                t,
                snap.surface_params.as_ref(),
            ))
        }),
    })
}

fn truth_page(r: &Recovery) -> TruthPage {
    TruthPage {
        median_abs: format!("{:.3}", r.median_abs),
        max_abs: format!("{:.3}", r.max_abs),
        n: r.n,
        params: r
            .params
            .iter()
            .map(|(n, a, b)| (n.clone(), format!("{a:.4}"), format!("{b:.4}")))
            .collect(),
    }
}

/// ATM term structure, 25-delta risk reversal and butterfly (`view`: the snapshot's desk
/// numbers), w(k) and g(k) of the latest snapshot.
fn term_panels(id: &str, latest: &Latest, view: &SnapView) -> Vec<Panel> {
    let atm = panels::atm_points(latest);
    let line = (
        latest.snap.underlying.clone(),
        fit_views::model_atm_points(latest, &atm),
        fit_views::market_atm_points(latest, &atm),
    );
    let (w, g) = fit_views::variance_and_density(id, latest);
    vec![
        Panel {
            kind: "term-structure",
            title: "ATM vol against days to expiry (√ axis): model line, market rings (mid IVs near k = 0)".into(),
            svg: fit_views::atm_term(&format!("{id}-atm"), std::slice::from_ref(&line), false),
        },
        Panel {
            kind: "skew",
            title: "25Δ risk reversal σ(25Δc) − σ(25Δp) and butterfly ½(σ(25Δc) + σ(25Δp)) − σ(ATMF) \
                    of the model, vol points; 25Δ strikes solved on each smile (forward Black-76 \
                    delta at the smile's vol, not premium-adjusted)"
                .into(),
            svg: fit_views::rr_bf(&format!("{id}-rr"), &market_views::term_points(view)),
        },
        Panel {
            kind: "total-variance",
            title: "Total variance w(k) = σ²t by expiry: lines must not cross (calendar arbitrage where they do)".into(),
            svg: w,
        },
        Panel {
            kind: "density",
            title: "Durrleman's g(k) by expiry: the density is proportional to g; below 0 = butterfly arbitrage".into(),
            svg: g,
        },
    ]
}

/// One small ATM term-structure chart per snapshot of the underlying, newest first.
fn snapshot_panels(id: &str, data: &ReportData, series: &[&SnapshotFit]) -> Vec<SnapPanel> {
    series
        .iter()
        .enumerate()
        .rev()
        .map(|(j, s)| {
            let l = Latest::new(s, &data.residuals, data.fit.spec.sabr_beta);
            let atm = panels::atm_points(&l);
            let line = (
                s.underlying.clone(),
                fit_views::model_atm_points(&l, &atm),
                fit_views::market_atm_points(&l, &atm),
            );
            let mut r: Vec<f64> = s.expiries.iter().map(|e| e.rmse_vol).collect();
            r.sort_by(f64::total_cmp);
            SnapPanel {
                time: short_time(&s.snapshot),
                summary: format!(
                    "{} expiries · median RMSE {} · worst {} vol pts",
                    s.expiries.len(),
                    r.get(r.len() / 2).map_or_else(|| "–".into(), |v| num(*v)),
                    r.last().map_or_else(|| "–".into(), |v| num(*v)),
                ),
                svg: fit_views::atm_term(&format!("{id}-t{j}"), std::slice::from_ref(&line), false),
            }
        })
        .collect()
}

/// One row of the fit-by-expiry table (`quoted`: the expiry's quoted k range).
fn expiry_row(
    snap: &SnapshotFit,
    e: &ExpiryFit,
    converged: bool,
    quoted: Option<(f64, f64)>,
) -> ExpiryRow {
    let scored = e.rmse_vol > 0.0 || e.inside_spread > 0.0;
    ExpiryRow {
        code: expiry_code(&e.expiry),
        expiry: e.expiry.clone(),
        days: fit_views::days(verdict::days_to(&snap.snapshot, &e.expiry, e.t)),
        forward: num(e.forward),
        n_quotes: e.n_quotes,
        rmse_vol: num(e.rmse_vol),
        mae_vol: num(e.mae_vol),
        inside_spread: format!("{:.1} %", 100.0 * e.inside_spread),
        poor: scored && (e.rmse_vol > verdict::POOR_RMSE || e.inside_spread < verdict::POOR_INSIDE),
        stop: e.stop.to_string(),
        converged,
        iterations: e.iterations,
        butterfly: verdict::arb_where(
            None,
            e.arbitrage.butterfly_ok,
            e.arbitrage.worst.as_deref(),
            quoted,
        ),
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
    render_page(data, None)
}

/// The BTC-against-ETH chart: the latest snapshot's ATM term structure of every underlying
/// (`None` with fewer than two).
fn coins_panel(data: &ReportData, by: &[(String, Vec<&SnapshotFit>)]) -> Option<Panel> {
    if by.len() < 2 {
        return None;
    }
    let lines: Vec<_> = by
        .iter()
        .filter_map(|(u, series)| {
            let l = Latest::new(series.last()?, &data.residuals, data.fit.spec.sabr_beta);
            let atm = panels::atm_points(&l);
            Some((
                u.clone(),
                fit_views::model_atm_points(&l, &atm),
                fit_views::market_atm_points(&l, &atm),
            ))
        })
        .collect();
    Some(Panel {
        kind: "coins",
        title: "ATM vol term structures of the latest snapshot of each underlying, on one chart"
            .into(),
        svg: fit_views::atm_term("coins", &lines, true),
    })
}

/// Renders the report page, with the known true surface of a synthetic chain when given.
///
/// # Errors
/// Only a template failure (a bug).
pub fn render_page(data: &ReportData, truth: Option<&SynthTruth>) -> Result<String, ReportError> {
    render_with(data, truth, &market_views::all(data))
}

/// [`render_page`] with the market views of `data`'s snapshots (in its order) given.
fn render_with(
    data: &ReportData,
    truth: Option<&SynthTruth>,
    views: &[SnapView],
) -> Result<String, ReportError> {
    let mut by: Vec<(String, Vec<&SnapshotFit>)> = Vec::new();
    for s in &data.fit.snapshots {
        match by.iter_mut().find(|(u, _)| *u == s.underlying) {
            Some((_, v)) => v.push(s),
            None => by.push((s.underlying.clone(), vec![s])),
        }
    }
    let views_by: Vec<(String, Vec<&SnapView>)> = by
        .iter()
        .map(|(u, _)| (u.clone(), views.iter().filter(|v| v.underlying == *u).collect()))
        .collect();
    let underlyings: Vec<UnderlyingPage> = by
        .iter()
        .zip(&views_by)
        .enumerate()
        .filter_map(|(i, ((_, series), (_, v)))| underlying_page(data, i + 1, (series, v), truth))
        .collect();
    let diagnostics = data.traces.iter().map(|t| t.warnings.len()).sum();
    let verdict = verdict::verdict(&data.fit, &data.residuals, diagnostics);
    let coins = coins_panel(data, &by);
    let coins_series = market_views::coins(&views_by);
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
        verdict,
        coins,
        coins_series,
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
