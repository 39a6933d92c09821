//! The HTML report: one self-contained file (inline SVG, inline CSS, no script, no network)
//! built from a fit's output directory.
//!
//! Inputs, all in one directory:
//! - `fit.json` ([`FitOutput`], required) and `residuals.csv` ([`ResidualRow`], optional);
//! - `traces.json` ([`TraceRecord`]s: solver iterates and diagnostics' warnings, optional);
//! - `inputs.json` ([`InputsSummary`]: rejection summary of the input data, optional);
//! - validation tables (optional): `walk_forward.csv` (in-sample vs out-of-sample error over
//!   time), `ridge_path.csv` (error against the ridge strength), and any other `*.csv`,
//!   shown as a table. Their columns are found by name (see [`ValidationColumns`]).
//!
//! Every string that comes from data goes through the template engine's HTML auto-escaping
//! (minijinja, `.html` template); the SVG charts escape their own text.

use super::atomic::write_atomic;
use super::charts::{self, Series, Size, SmilePoint};
use crate::fit::{ExpiryFit, FitOutput, ResidualRow, SnapshotFit};
use crate::market::{FileReport, RejectionCounts};
use crate::model::bates::Bates;
use crate::model::heston::Heston;
use crate::model::sabr::{Sabr, SabrExpansion, SabrSmile};
use crate::model::ssvi::{Essvi, Phi, Ssvi};
use crate::model::svi::Svi;
use crate::model::{Params, Smile, Surface};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use volfit_optim::Iterate;

/// The template, compiled into the binary.
const TEMPLATE: &str = include_str!("report.html.j2");

/// Errors while reading a fit directory or writing the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file did not parse.
    #[error("parsing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A CSV file did not parse.
    #[error("parsing {path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: csv::Error,
    },
    /// The template failed to render.
    #[error("rendering the report: {0}")]
    Template(#[from] minijinja::Error),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
}

/// One solver trace as written to `traces.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Snapshot time, ISO-8601 UTC.
    pub snapshot: String,
    /// Underlying coin.
    pub underlying: String,
    /// What was fitted: an expiry (ISO-8601) or `surface`.
    pub name: String,
    /// Iterates in order.
    pub iterates: Vec<Iterate>,
    /// The diagnostics' findings, in words (empty for a clean run).
    pub warnings: Vec<String>,
}

/// Rejection summary of one cleaned snapshot, as written to `inputs.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInputs {
    /// Snapshot time, ISO-8601 UTC.
    pub snapshot: String,
    /// Underlying coin.
    pub underlying: String,
    /// Rows in.
    pub rows: u64,
    /// Quotes kept.
    pub quotes: usize,
    /// Rows dropped, by reason.
    pub rejected: RejectionCounts,
    /// Rows kept with a caveat, by reason.
    pub flagged: RejectionCounts,
}

/// `inputs.json`: what the readers and the cleaning did to the input data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputsSummary {
    /// One report per input file.
    pub files: Vec<FileReport>,
    /// One entry per snapshot.
    pub snapshots: Vec<SnapshotInputs>,
}

impl TraceRecord {
    /// The traces of fitted snapshots, each with its diagnosis (default thresholds).
    pub fn from_results(results: &[crate::fit::SnapshotResult]) -> Vec<TraceRecord> {
        let th = volfit_optim::Thresholds::default();
        results
            .iter()
            .flat_map(|r| {
                r.traces.iter().map(|(name, trace)| TraceRecord {
                    snapshot: r.fit.snapshot.clone(),
                    underlying: r.fit.underlying.clone(),
                    name: name.clone(),
                    iterates: trace.iterates.clone(),
                    warnings: volfit_optim::diagnose(trace, &th)
                        .warnings
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                })
            })
            .collect()
    }
}

impl InputsSummary {
    /// The summary of what was read (`files`) and cleaned (`snaps`).
    pub fn new(files: &[FileReport], snaps: &[crate::market::Cleaned]) -> InputsSummary {
        InputsSummary {
            files: files.to_vec(),
            snapshots: snaps
                .iter()
                .map(|c| SnapshotInputs {
                    snapshot: c.snapshot.time_iso(),
                    underlying: c.snapshot.underlying.clone(),
                    rows: c.rows,
                    quotes: c.snapshot.num_quotes(),
                    rejected: c.rejected.clone(),
                    flagged: c.flagged.clone(),
                })
                .collect(),
        }
    }
}

/// A CSV table read as text.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Table {
    /// File name.
    pub name: String,
    /// Header.
    pub header: Vec<String>,
    /// Rows (all of them for `walk_forward.csv` and `ridge_path.csv`, else at most 200; the
    /// page shows the first 40).
    pub rows: Vec<Vec<String>>,
}

/// Everything the report is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportData {
    /// `fit.json`.
    pub fit: FitOutput,
    /// `residuals.csv` (empty when absent).
    pub residuals: Vec<ResidualRow>,
    /// `traces.json` (empty when absent).
    pub traces: Vec<TraceRecord>,
    /// `inputs.json`.
    pub inputs: Option<InputsSummary>,
    /// Validation and other CSV tables found in the directory, by file name.
    pub tables: Vec<Table>,
}

fn read_text(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|source| ReportError::Read { path: path.into(), source })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, ReportError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = read_text(path)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| ReportError::Json { path: path.into(), source })
}

/// Tables other than the validation tables the charts use are only shown in part: read at
/// most this many rows of them (a stray large CSV in the directory costs nothing).
const OTHER_TABLE_ROWS: usize = 200;

fn read_table(path: &Path) -> Result<Table, ReportError> {
    let err = |source| ReportError::Csv { path: path.into(), source };
    let charted =
        path.file_name().is_some_and(|n| n == "walk_forward.csv" || n == "ridge_path.csv");
    let limit = if charted { usize::MAX } else { OTHER_TABLE_ROWS };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(err)?;
    let header = rdr.headers().map_err(err)?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in rdr.records().take(limit) {
        rows.push(rec.map_err(err)?.iter().map(str::to_string).collect());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Table { name, header, rows })
}

/// Reads a fit directory. Only `fit.json` is required.
///
/// # Errors
/// A missing `fit.json`, or any present file that does not parse.
pub fn load(dir: &Path) -> Result<ReportData, ReportError> {
    let fit_path = dir.join("fit.json");
    let text = read_text(&fit_path)?;
    let fit: FitOutput = serde_json::from_str(&text)
        .map_err(|source| ReportError::Json { path: fit_path.clone(), source })?;
    let res_path = dir.join("residuals.csv");
    let mut residuals = Vec::new();
    if res_path.exists() {
        let err = |source| ReportError::Csv { path: res_path.clone(), source };
        let mut rdr = csv::Reader::from_path(&res_path).map_err(err)?;
        for row in rdr.deserialize() {
            residuals.push(row.map_err(err)?);
        }
    }
    let traces = read_json(&dir.join("traces.json"))?.unwrap_or_default();
    let inputs = read_json(&dir.join("inputs.json"))?;
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ReportError::Read { path: dir.into(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "csv")
                && p.file_name().is_some_and(|n| n != "residuals.csv")
        })
        .collect();
    names.sort();
    let tables = names.iter().map(|p| read_table(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(ReportData { fit, residuals, traces, inputs, tables })
}

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
// Model reconstruction from fit.json parameters.

enum SurfaceView {
    Ssvi(Ssvi),
    Essvi(Essvi),
    Heston(Heston),
    Bates(Bates),
}

enum SliceView {
    Svi(Svi),
    Sabr(SabrSmile),
}

/// The fitted model of one snapshot, rebuilt from its parameters.
struct ModelView {
    surface: Option<SurfaceView>,
    /// Per-expiry slices, indexed like `SnapshotFit::expiries`.
    slices: Vec<Option<SliceView>>,
}

fn ordered(params: &BTreeMap<String, f64>, names: &[String]) -> Option<Vec<f64>> {
    names.iter().map(|n| params.get(n).copied()).collect()
}

impl ModelView {
    fn new(spec_beta: Option<f64>, snap: &SnapshotFit) -> ModelView {
        let ts: Vec<f64> = snap.expiries.iter().map(|e| e.t).collect();
        let surface = snap.surface_params.as_ref().and_then(|p| {
            let thetas: Vec<f64> = (1..=ts.len()).map(|i| 0.01 * i as f64).collect();
            let template = Ssvi::new(&ts, &thetas, -0.2, Phi::PowerLaw { eta: 1.0, gamma: 0.4 });
            match snap.model.as_str() {
                "ssvi" => {
                    let t = template.ok()?;
                    let x = ordered(p, &t.param_names())?;
                    t.with_slice(&x).ok().map(SurfaceView::Ssvi)
                }
                "essvi" => {
                    let t = Essvi::from_ssvi(&template.ok()?).ok()?;
                    let x = ordered(p, &t.param_names())?;
                    t.with_slice(&x).ok().map(SurfaceView::Essvi)
                }
                "heston" => {
                    let names: Vec<String> = Heston::NAMES.iter().map(|s| s.to_string()).collect();
                    Heston::from_slice(&ordered(p, &names)?).ok().map(SurfaceView::Heston)
                }
                "bates" => {
                    let names: Vec<String> = Bates::NAMES.iter().map(|s| s.to_string()).collect();
                    Bates::from_slice(&ordered(p, &names)?).ok().map(SurfaceView::Bates)
                }
                _ => None,
            }
        });
        let slices = snap
            .expiries
            .iter()
            .map(|e| {
                let p = &e.params;
                let get = |n: &str| p.get(n).copied();
                match e.model.as_str() {
                    "svi" => Svi::new(get("a")?, get("b")?, get("rho")?, get("m")?, get("sigma")?)
                        .ok()
                        .map(SliceView::Svi),
                    "sabr" => {
                        let beta = get("beta").or(spec_beta).unwrap_or(1.0);
                        Sabr::new(get("alpha")?, get("rho")?, get("nu")?, beta)
                            .and_then(|s| s.smile(e.forward, e.t, SabrExpansion::Obloj2008))
                            .ok()
                            .map(SliceView::Sabr)
                    }
                    _ => None,
                }
            })
            .collect();
        ModelView { surface, slices }
    }

    /// Model total variances at `(ks, t)`; for per-expiry models `i` selects the slice.
    fn total_variances(&self, i: usize, t: f64, ks: &[f64], out: &mut [f64]) -> bool {
        match (&self.surface, self.slices.get(i)) {
            (Some(SurfaceView::Ssvi(s)), _) => s.total_variances(t, ks, out),
            (Some(SurfaceView::Essvi(s)), _) => s.total_variances(t, ks, out),
            (Some(SurfaceView::Heston(s)), _) => s.total_variances(t, ks, out),
            (Some(SurfaceView::Bates(s)), _) => s.total_variances(t, ks, out),
            (None, Some(Some(SliceView::Svi(s)))) => {
                ks.iter().zip(out.iter_mut()).for_each(|(&k, w)| *w = s.total_variance(k))
            }
            (None, Some(Some(SliceView::Sabr(s)))) => {
                ks.iter().zip(out.iter_mut()).for_each(|(&k, w)| *w = s.total_variance(k))
            }
            _ => return false,
        }
        true
    }

    fn is_surface(&self) -> bool {
        self.surface.is_some()
    }

    /// Implied vols at `ks` (NaN where the variance is not positive), or `None`.
    fn vols(&self, i: usize, t: f64, ks: &[f64]) -> Option<Vec<f64>> {
        let mut w = vec![f64::NAN; ks.len()];
        if !self.total_variances(i, t, ks, &mut w) {
            return None;
        }
        Some(
            w.iter().map(|&w| if w > 0.0 && t > 0.0 { (w / t).sqrt() } else { f64::NAN }).collect(),
        )
    }
}

/// `n` evenly spaced points on `[lo, hi]`.
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let d = n.saturating_sub(1).max(1) as f64;
    (0..n).map(|i| lo + (hi - lo) * i as f64 / d).collect()
}

// ---------------------------------------------------------------------------------------
// Page model handed to the template.

/// One chart on the page.
#[derive(Clone, Debug, Serialize)]
struct Panel {
    /// Chart kind (a `data-chart` attribute, for tests and styling).
    kind: &'static str,
    title: String,
    svg: String,
}

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
    model: String,
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

/// Market ATM vol and skew from mid IVs: least squares line through the (up to) four
/// two-sided quotes nearest k = 0.
fn market_atm(rows: &[&ResidualRow]) -> Option<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> =
        rows.iter().filter_map(|r| Some((r.k, r.mid_iv?))).filter(|p| p.1.is_finite()).collect();
    pts.sort_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
    pts.truncate(4);
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if !(sxx > 0.0) {
        return None;
    }
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// True for per-expiry parameters of a surface (`dtheta_3`, `rho_0`, …).
fn indexed(name: &str) -> bool {
    name.rsplit_once('_')
        .is_some_and(|(_, d)| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `(t, model (atm vol, skew), market (atm vol, skew))` of one expiry.
type AtmPoint = (f64, Option<(f64, f64)>, Option<(f64, f64)>);

fn underlying_page(data: &ReportData, series: &[&SnapshotFit]) -> Option<UnderlyingPage> {
    let snap = *series.last()?;
    let view = ModelView::new(data.fit.spec.sabr_beta, snap);
    let rows: Vec<&ResidualRow> = data
        .residuals
        .iter()
        .filter(|r| r.snapshot == snap.snapshot && r.underlying == snap.underlying)
        .collect();
    let expiry_rows = |e: &ExpiryFit| -> Vec<&ResidualRow> {
        rows.iter().copied().filter(|r| r.expiry == e.expiry).collect()
    };

    // Smiles.
    let mut smiles = Vec::new();
    let mut atm = Vec::new();
    for (i, e) in snap.expiries.iter().enumerate() {
        let quotes: Vec<SmilePoint> = expiry_rows(e)
            .iter()
            .map(|r| SmilePoint {
                k: r.k,
                bid: r.bid_iv,
                ask: r.ask_iv,
                mid: r.mid_iv,
                model: r.model_iv,
                outlier: r.outlier,
            })
            .collect();
        let (lo, hi) = quotes
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q.k), h.max(q.k)));
        let (lo, hi) = if lo < hi { (lo, hi) } else { (-0.3, 0.3) };
        let pad = 0.1 * (hi - lo);
        let ks = linspace(lo - pad, hi + pad, 121);
        let curve: Vec<(f64, f64)> =
            view.vols(i, e.t, &ks).map(|v| ks.iter().copied().zip(v).collect()).unwrap_or_default();
        let n_out = quotes.iter().filter(|q| q.outlier).count();
        let title = format!(
            "{}  t={:.4}  F={:.2}  rmse {:.2} vp  inside {:.0}%  outliers {}",
            e.expiry,
            e.t,
            e.forward,
            e.rmse_vol,
            100.0 * e.inside_spread,
            n_out
        );
        let caption = format!("expiry {}", e.expiry.get(..10).unwrap_or(&e.expiry));
        smiles.push(Panel {
            kind: "smile",
            title,
            svg: charts::smile(Size::SMALL, &caption, &quotes, &curve),
        });
        // ATM vol and skew: model from the curve (or the fit's own atm params), market from mids.
        let h = 1e-3;
        let model = view
            .vols(i, e.t, &[-h, 0.0, h])
            .map(|v| (v[1], (v[2] - v[0]) / (2.0 * h)))
            .or_else(|| Some((*e.params.get("atm_vol")?, *e.params.get("atm_skew")?)));
        atm.push((e.t, model, market_atm(&expiry_rows(e))));
    }

    // Residuals by strike (model − mid, vol points), one colour per expiry.
    let labels: Vec<String> =
        snap.expiries.iter().map(|e| e.expiry.get(..10).unwrap_or(&e.expiry).to_string()).collect();
    let points: Vec<(usize, f64, f64, bool)> = rows
        .iter()
        .filter_map(|r| {
            let g = snap.expiries.iter().position(|e| e.expiry == r.expiry)?;
            Some((g, r.strike, 100.0 * (r.model_iv - r.mid_iv?), r.outlier))
        })
        .collect();
    let residuals = Panel {
        kind: "residuals",
        title: "Residuals by strike: model IV − mid IV (vol points); red rings = outliers".into(),
        svg: charts::scatter(
            Size::WIDE,
            "model − mid",
            "strike (USD)",
            "vol pts",
            &labels,
            &points,
        ),
    };

    // Term structure and skew.
    let line = |label: &str, f: &dyn Fn(&AtmPoint) -> Option<f64>| Series {
        label: label.into(),
        points: atm.iter().filter_map(|a| Some((a.0, f(a)?))).collect(),
    };
    let term = vec![
        Panel {
            kind: "term-structure",
            title: "ATM vol term structure".into(),
            svg: charts::lines(
                Size::SMALL,
                "ATM vol",
                "t (years)",
                "vol pts",
                &[
                    line("model", &|a| Some(100.0 * a.1?.0)),
                    line("market (mid)", &|a| Some(100.0 * a.2?.0)),
                ],
                false,
            ),
        },
        Panel {
            kind: "skew",
            title: "ATM skew dσ/dk".into(),
            svg: charts::lines(
                Size::SMALL,
                "ATM skew",
                "t (years)",
                "vol pts per unit k",
                &[
                    line("model", &|a| Some(100.0 * a.1?.1)),
                    line("market (mid)", &|a| Some(100.0 * a.2?.1)),
                ],
                false,
            ),
        },
    ];

    // Heat map of model IV over k × t.
    // k range: the 5th to 95th percentile of quoted moneyness (far wings of long expiries
    // would otherwise push the short expiries into pure extrapolation).
    let mut qk: Vec<f64> = rows.iter().map(|r| r.k).filter(|k| k.is_finite()).collect();
    qk.sort_by(f64::total_cmp);
    let pk = |q: f64| qk.get((qk.len().saturating_sub(1) as f64 * q).round() as usize).copied();
    let (klo, khi) = match (pk(0.05), pk(0.95)) {
        (Some(a), Some(b)) if a < b => (a.max(-1.5), b.min(1.0)),
        _ => (-0.5, 0.5),
    };
    let k_edges = linspace(klo, khi, 61);
    let k_mid: Vec<f64> = k_edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    let ts: Vec<f64> = snap.expiries.iter().map(|e| e.t).collect();
    let (mut t_edges, mut grid) = (Vec::new(), Vec::new());
    if let (Some(&t0), Some(&t1)) = (ts.first(), ts.last()) {
        if view.is_surface() && t1 > t0 {
            t_edges = linspace(t0, t1, 31);
            for w in t_edges.windows(2) {
                let t = 0.5 * (w[0] + w[1]);
                grid.push(view.vols(0, t, &k_mid).unwrap_or_else(|| vec![f64::NAN; k_mid.len()]));
            }
        } else {
            t_edges.push(t0 - 0.5 * (ts.get(1).map_or(t0, |t| t - t0)).max(1e-3));
            for (i, &t) in ts.iter().enumerate() {
                let next = ts.get(i + 1).map_or(t + (t - t_edges[i]), |n| 0.5 * (t + n));
                t_edges.push(next.max(t_edges[i] + 1e-6));
                // A per-expiry smile says nothing outside its quotes: blank cells there.
                let mut row =
                    view.vols(i, t, &k_mid).unwrap_or_else(|| vec![f64::NAN; k_mid.len()]);
                let (lo, hi) = snap.expiries.get(i).map_or((0.0, 0.0), |e| {
                    expiry_rows(e).iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| {
                        (l.min(r.k), h.max(r.k))
                    })
                });
                for (v, k) in row.iter_mut().zip(&k_mid) {
                    if !(lo..=hi).contains(k) {
                        *v = f64::NAN;
                    }
                }
                grid.push(row);
            }
            if t_edges[0] < 0.0 {
                t_edges[0] = 0.0;
            }
        }
    }
    let heatmap = Panel {
        kind: "heatmap",
        title: "Model implied vol over k × t".into(),
        svg: charts::heatmap(
            Size::WIDE,
            "model IV (vol pts)",
            "k = ln(K/F)",
            "t (years)",
            &k_edges,
            &t_edges,
            &grid,
        ),
    };

    // Solver loss curves and warnings.
    let traces: Vec<&TraceRecord> = data
        .traces
        .iter()
        .filter(|t| t.snapshot == snap.snapshot && t.underlying == snap.underlying)
        .collect();
    let loss = (!traces.is_empty()).then(|| {
        let series: Vec<Series> = traces
            .iter()
            .map(|t| Series {
                label: t.name.get(..10).unwrap_or(&t.name).to_string(),
                points: t.iterates.iter().map(|i| (f64::from(i.iter), i.cost)).collect(),
            })
            .collect();
        Panel {
            kind: "loss",
            title: "Solver loss by iteration (log scale)".into(),
            svg: charts::lines(Size::WIDE, "loss", "iteration", "cost", &series, true),
        }
    });
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

    // Parameter time series across snapshots.
    // x: the snapshot's position in time order (real snapshot times are irregular: hours
    // apart within a day, weeks apart between days).
    let x_of = |j: usize, _: &SnapshotFit| j as f64;
    let mut params = Vec::new();
    let rmse = Series {
        label: "median rmse".into(),
        points: series
            .iter()
            .enumerate()
            .filter_map(|(j, s)| {
                let mut v: Vec<f64> = s.expiries.iter().map(|e| e.rmse_vol).collect();
                v.sort_by(f64::total_cmp);
                Some((x_of(j, s), *v.get(v.len() / 2)?))
            })
            .collect(),
    };
    params.push(Panel {
        kind: "param-series",
        title: "Fit RMSE over time (median over expiries, vol points)".into(),
        svg: charts::lines(
            Size::SMALL,
            "rmse",
            "snapshot # (time order)",
            "vol pts",
            &[rmse],
            false,
        ),
    });
    if snap.surface_params.is_some() {
        let mut names: Vec<String> = series
            .iter()
            .filter_map(|s| s.surface_params.as_ref())
            .flat_map(|p| p.keys().cloned())
            .filter(|n| !indexed(n))
            .collect();
        names.sort();
        names.dedup();
        for n in names {
            let s = Series {
                label: n.clone(),
                points: series
                    .iter()
                    .enumerate()
                    .filter_map(|(j, s)| Some((x_of(j, s), *s.surface_params.as_ref()?.get(&n)?)))
                    .collect(),
            };
            params.push(Panel {
                kind: "param-series",
                title: format!("Surface parameter {n}"),
                svg: charts::lines(Size::SMALL, &n, "snapshot # (time order)", &n, &[s], false),
            });
        }
    }
    // Per-expiry parameters (and ATM vol of surfaces), one line per expiry; the six expiries
    // seen most often.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for s in series {
        for e in &s.expiries {
            *seen.entry(e.expiry.as_str()).or_insert(0) += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = seen.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top.truncate(6);
    top.sort();
    let mut pnames: Vec<String> = series
        .iter()
        .flat_map(|s| s.expiries.iter().flat_map(|e| e.params.keys().cloned()))
        .collect();
    pnames.sort();
    pnames.dedup();
    for n in pnames {
        let lines: Vec<Series> = top
            .iter()
            .map(|(exp, _)| Series {
                label: exp.get(..10).unwrap_or(exp).to_string(),
                points: series
                    .iter()
                    .enumerate()
                    .filter_map(|(j, s)| {
                        let e = s.expiries.iter().find(|e| e.expiry == *exp)?;
                        Some((x_of(j, s), *e.params.get(&n)?))
                    })
                    .collect(),
            })
            .collect();
        params.push(Panel {
            kind: "param-series",
            title: format!("Parameter {n} by expiry"),
            svg: charts::lines(Size::SMALL, &n, "snapshot # (time order)", &n, &lines, false),
        });
    }

    let expiries = snap
        .expiries
        .iter()
        .map(|e| ExpiryRow {
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
        })
        .collect();
    Some(UnderlyingPage {
        name: snap.underlying.clone(),
        snapshot: snap.snapshot.clone(),
        n_snapshots: series.len(),
        model: snap.model.clone(),
        surface_params: snap.surface_params.as_ref().map(fmt_params).unwrap_or_default(),
        butterfly_ok: snap.arbitrage.butterfly_ok,
        calendar_ok: snap.arbitrage.calendar_ok,
        worst: snap.arbitrage.worst.clone(),
        skipped: snap.skipped.clone(),
        expiries,
        smiles,
        residuals,
        term,
        heatmap,
        loss,
        warnings,
        warnings_all_snapshots,
        params,
    })
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

/// How the columns of validation tables are recognised (lower-cased header names).
///
/// - time: `snapshot`, `time`, `fit_snapshot`, `date` or `t0` (first present);
/// - in-sample error: a name containing `in_sample` or starting with `is_` (one that also
///   contains `rmse` preferred);
/// - out-of-sample error: a name containing `out_of_sample`, `oos` (`rmse` preferred);
/// - spec (one line pair per value): `spec`, `spec_id` or `label`;
/// - ridge strength (`ridge_path.csv`): `lambda`, `ridge_lambda` or `ridge`.
#[derive(Clone, Copy, Debug)]
pub struct ValidationColumns;

fn find_col(header: &[String], pred: &dyn Fn(&str) -> bool) -> Option<usize> {
    let lower: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    lower
        .iter()
        .position(|h| pred(h) && h.contains("rmse"))
        .or_else(|| lower.iter().position(|h| pred(h)))
}

fn named_col(header: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| header.iter().position(|h| h.eq_ignore_ascii_case(n)))
}

fn is_in(h: &str) -> bool {
    h.contains("in_sample") || h.starts_with("is_")
}

fn is_oos(h: &str) -> bool {
    h.contains("out_of_sample") || h.contains("oos")
}

/// Mean of `(in, out)` per `(spec, x)`, as line series; specs ranked by mean out-of-sample
/// error, the best `max_specs` kept.
fn in_out_series(
    t: &Table,
    x_col: usize,
    x_of: &dyn Fn(&str) -> Option<f64>,
    max_specs: usize,
) -> Option<Vec<Series>> {
    let ic = find_col(&t.header, &is_in)?;
    let oc = find_col(&t.header, &is_oos)?;
    let sc = named_col(&t.header, &["spec", "spec_id", "label"]);
    type Acc = BTreeMap<String, BTreeMap<i64, (f64, f64, f64, f64)>>;
    let mut acc: Acc = BTreeMap::new();
    for r in &t.rows {
        let x = r.get(x_col).and_then(|s| x_of(s));
        let i: Option<f64> = r.get(ic).and_then(|s| s.parse().ok());
        let o: Option<f64> = r.get(oc).and_then(|s| s.parse().ok());
        let (Some(x), Some(i), Some(o)) = (x, i, o) else { continue };
        if !(x.is_finite() && i.is_finite() && o.is_finite()) {
            continue;
        }
        let spec = sc.and_then(|c| r.get(c)).cloned().unwrap_or_default();
        let key = (x * 1e6).round() as i64;
        let e = acc.entry(spec).or_default().entry(key).or_insert((x, 0.0, 0.0, 0.0));
        e.1 += i;
        e.2 += o;
        e.3 += 1.0;
    }
    let mut specs: Vec<(f64, String)> = acc
        .iter()
        .map(|(s, m)| {
            let (o, n) = m.values().fold((0.0, 0.0), |(a, b), v| (a + v.2 / v.3, b + 1.0));
            (o / n, s.clone())
        })
        .collect();
    specs.sort_by(|a, b| a.0.total_cmp(&b.0));
    specs.truncate(max_specs);
    let mut out = Vec::new();
    for (_, s) in specs {
        let m = &acc[&s];
        let name = if s.is_empty() { String::new() } else { format!("{s}: ") };
        out.push(Series {
            label: format!("{name}in-sample"),
            points: m.values().map(|v| (v.0, v.1 / v.3)).collect(),
        });
        out.push(Series {
            label: format!("{name}out-of-sample"),
            points: m.values().map(|v| (v.0, v.2 / v.3)).collect(),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// `volfit validate` writes walk-forward results long: one row per (spec, fit snapshot,
/// horizon, expiry) with `rmse_vol`, horizon 0 being in-sample. Folds them into one row per
/// (spec, fit snapshot) with the mean in-sample (`is_rmse`) and out-of-sample (`oos_rmse`,
/// horizons ≥ 1) error, the wide form the chart reads; `None` for other layouts.
fn walk_forward_wide(t: &Table) -> Option<Table> {
    let h = named_col(&t.header, &["horizon"])?;
    let e = named_col(&t.header, &["rmse_vol"])?;
    let f = named_col(&t.header, &["fit_snapshot"])?;
    let sc = named_col(&t.header, &["spec"]);
    // (spec, fit snapshot) → (Σ in, n in, Σ out, n out)
    let mut acc: BTreeMap<(String, String), (f64, f64, f64, f64)> = BTreeMap::new();
    for r in &t.rows {
        let (Some(hz), Some(err)) = (
            r.get(h).and_then(|v| v.parse::<u32>().ok()),
            r.get(e).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite()),
        ) else {
            continue;
        };
        let spec = sc.and_then(|c| r.get(c)).cloned().unwrap_or_default();
        let a = acc.entry((spec, r.get(f)?.clone())).or_insert((0.0, 0.0, 0.0, 0.0));
        if hz == 0 {
            (a.0, a.1) = (a.0 + err, a.1 + 1.0);
        } else {
            (a.2, a.3) = (a.2 + err, a.3 + 1.0);
        }
    }
    let rows: Vec<Vec<String>> = acc
        .into_iter()
        .filter(|(_, a)| a.1 > 0.0 && a.3 > 0.0)
        .map(|((spec, snap), a)| vec![spec, snap, (a.0 / a.1).to_string(), (a.2 / a.3).to_string()])
        .collect();
    Some(Table {
        name: t.name.clone(),
        header: ["spec", "fit_snapshot", "is_rmse", "oos_rmse"].map(String::from).to_vec(),
        rows,
    })
}

fn validation_panels(tables: &[Table], notes: &mut Vec<String>) -> Vec<Panel> {
    let mut panels = Vec::new();
    let wide = tables
        .iter()
        .find(|t| t.name == "walk_forward.csv")
        .map(|t| walk_forward_wide(t).unwrap_or_else(|| t.clone()));
    if let Some(t) = wide.as_ref() {
        let tc = named_col(&t.header, &["snapshot", "time", "fit_snapshot", "date", "t0"]);
        // x: the rank of the snapshot time among the table's distinct times (ISO-8601 sorts
        // chronologically), as in the parameter charts.
        let mut times: Vec<&str> = tc
            .map(|c| t.rows.iter().filter_map(|r| r.get(c).map(String::as_str)).collect())
            .unwrap_or_default();
        times.sort_unstable();
        times.dedup();
        let x_of = |s: &str| -> Option<f64> { times.binary_search(&s).ok().map(|i| i as f64) };
        match tc.and_then(|c| in_out_series(t, c, &x_of, 3)) {
            Some(series) => panels.push(Panel {
                kind: "walk-forward",
                title: "In-sample vs out-of-sample error over time (best specs)".into(),
                svg: charts::lines(
                    Size::WIDE,
                    "walk-forward",
                    "snapshot # (time order)",
                    "error",
                    &series,
                    false,
                ),
            }),
            None => notes.push(
                "walk_forward.csv: no time / in-sample / out-of-sample columns recognised".into(),
            ),
        }
    }
    if let Some(t) = tables.iter().find(|t| t.name == "ridge_path.csv") {
        let lc = named_col(&t.header, &["lambda", "ridge_lambda", "ridge"]);
        let x_of = |s: &str| s.parse::<f64>().ok().filter(|l| *l > 0.0).map(f64::log10);
        match lc.and_then(|c| in_out_series(t, c, &x_of, 2)) {
            Some(series) => {
                if let Some(best) = series
                    .get(1)
                    .and_then(|s| s.points.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied())
                {
                    notes.push(format!(
                        "ridge path: out-of-sample error is smallest at λ = {:.3e}",
                        10f64.powf(best.0)
                    ));
                }
                panels.push(Panel {
                    kind: "ridge-path",
                    title: "Ridge path: error against log10 λ".into(),
                    svg: charts::lines(
                        Size::WIDE,
                        "ridge path",
                        "log10 λ",
                        "error",
                        &series,
                        false,
                    ),
                });
            }
            None => notes
                .push("ridge_path.csv: no λ / in-sample / out-of-sample columns recognised".into()),
        }
    }
    panels
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
    let validation = validation_panels(&data.tables, &mut validation_notes);
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
    Ok(env.get_template("report.html")?.render(minijinja::value::Serde(&page))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fit::{fit_snapshot, FitSpec, ModelKind};
    use crate::market::synth::{generate, SynthSpec};
    use crate::market::{build, read_path, ReadOptions, Snapshot};

    fn synthetic_snapshot() -> Snapshot {
        let chain = generate(&SynthSpec { seed: 7, ..SynthSpec::default() });
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("synth.csv");
        chain.write_csv(std::fs::File::create(&path).expect("create")).expect("write");
        let opts = ReadOptions::default();
        let mut snaps = Vec::new();
        read_path(&path, &opts, &mut |raw| {
            snaps.push(build(raw, &opts.clean).snapshot);
            Ok(())
        })
        .expect("read");
        snaps.pop().expect("one snapshot")
    }

    /// Round trip: the model rebuilt from fit.json's parameters reproduces the model IVs the
    /// fit wrote into residuals.csv, for every model family.
    #[test]
    fn rebuilt_models_reproduce_the_fitted_vols() {
        let snap = synthetic_snapshot();
        for model in [
            ModelKind::Svi,
            ModelKind::Sabr,
            ModelKind::Ssvi,
            ModelKind::Essvi,
            ModelKind::Heston,
            ModelKind::Bates,
        ] {
            let spec = FitSpec { model, max_iters: 30, ..FitSpec::default() };
            let r = fit_snapshot(&snap, &spec, None);
            assert!(!r.fit.expiries.is_empty(), "{model:?}: {:?}", r.fit.skipped);
            // fit.json goes through JSON: rebuild from the parsed copy.
            let json = serde_json::to_string(&r.fit).expect("serialise");
            let fit: SnapshotFit = serde_json::from_str(&json).expect("parse");
            let view = ModelView::new(spec.sabr_beta, &fit);
            let mut worst: f64 = 0.0;
            for (i, e) in fit.expiries.iter().enumerate() {
                let rows: Vec<&ResidualRow> =
                    r.residuals.iter().filter(|q| q.expiry == e.expiry).collect();
                let ks: Vec<f64> = rows.iter().map(|q| q.k).collect();
                let v = view.vols(i, e.t, &ks).expect("model rebuilt");
                for (q, v) in rows.iter().zip(v) {
                    worst = worst.max((v - q.model_iv).abs());
                }
            }
            // Same formulas, same inputs; the JSON round trip of f64 is exact (ryu), so only
            // evaluation-order rounding remains.
            assert!(worst < 1e-9, "{model:?}: max |rebuilt − fitted| IV {worst:e}");
        }
    }

    #[test]
    fn indexed_names() {
        assert!(indexed("dtheta_3") && indexed("rho_10"));
        assert!(!indexed("rho") && !indexed("atm_vol") && !indexed("x_"));
    }

    #[test]
    fn market_atm_is_exact_on_a_line() {
        // Closed form: mids on the line iv = 0.5 + 0.2 k give level 0.5 and slope 0.2.
        let mk = |k: f64| ResidualRow {
            snapshot: String::new(),
            underlying: String::new(),
            expiry: String::new(),
            t: 0.1,
            strike: 1.0,
            kind: crate::market::OptionType::Call,
            k,
            bid_iv: None,
            ask_iv: None,
            mid_iv: Some(0.5 + 0.2 * k),
            model_iv: 0.5,
            residual: 0.0,
            weight: 1.0,
            effective_weight: 1.0,
            outlier: false,
        };
        let rows: Vec<ResidualRow> = [-0.2, -0.05, 0.03, 0.1, 0.4].map(mk).to_vec();
        let refs: Vec<&ResidualRow> = rows.iter().collect();
        let (level, slope) = market_atm(&refs).expect("fit");
        assert!((level - 0.5).abs() < 1e-12 && (slope - 0.2).abs() < 1e-12);
    }
}
