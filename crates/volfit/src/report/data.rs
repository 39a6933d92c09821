//! What a report is built from: a fit's output directory read into [`ReportData`].
//!
//! Inputs, all in one directory:
//! - `fit.json` ([`FitOutput`], required) and `residuals.csv` ([`ResidualRow`], optional);
//! - `traces.json` ([`TraceRecord`]s: solver iterates and diagnostics' warnings, optional);
//! - `inputs.json` ([`InputsSummary`]: rejection summary of the input data, optional);
//! - validation tables (optional): `walk_forward.csv` ([`WalkForwardRow`]s) and
//!   `ridge_path.csv` ([`RidgePoint`]s) as `volfit validate` writes them, read through those
//!   row types for the charts; every `*.csv` but `residuals.csv` and `views.csv` (the
//!   page's own market views) is also kept as text
//!   ([`Table`]) for the page's tables.

use crate::fit::{FitOutput, ResidualRow};
use crate::market::{FileReport, RejectionCounts};
use crate::validate::{RidgePoint, WalkForwardRow};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use volfit_optim::Iterate;

/// Errors while reading a fit directory or writing the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The directory is no volfit output folder.
    #[error(
        "{dir} is not a volfit output folder ({why}): expected fit.json (volfit fit), \
         validate.json (volfit validate), hedge.json (volfit hedge) or allocation.json \
         (volfit allocate)"
    )]
    NotAnOutput {
        /// The directory.
        dir: PathBuf,
        /// What was wrong.
        why: &'static str,
    },
    /// A file could not be read. (The cause is the error's source, not repeated here.)
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file did not parse.
    #[error("parsing {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A CSV file did not parse.
    #[error("parsing {path}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: csv::Error,
    },
    /// The template failed to render.
    #[error("rendering the report")]
    Template(#[from] minijinja::Error),
    /// Writing the report failed.
    #[error("writing the report")]
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
    /// `walk_forward.csv` through its row type: `None` when absent, `Err` (the reason) when
    /// it is not in the layout `volfit validate` writes.
    pub walk_forward: Option<Result<Vec<WalkForwardRow>, String>>,
    /// `ridge_path.csv` through its row type, as `walk_forward`.
    pub ridge_path: Option<Result<Vec<RidgePoint>, String>>,
}

/// A CSV error on `path`: an I/O failure as [`ReportError::Read`] (its OS error said once:
/// `csv::Error` would repeat its source's text), else [`ReportError::Csv`].
pub(super) fn csv_err(path: &Path, e: csv::Error) -> ReportError {
    if let csv::ErrorKind::Io(io) = e.kind() {
        let source = std::io::Error::new(io.kind(), io.to_string());
        return ReportError::Read { path: path.into(), source };
    }
    ReportError::Csv { path: path.into(), source: e }
}

pub(super) fn read_text(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|source| ReportError::Read { path: path.into(), source })
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, ReportError> {
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

pub(super) fn read_table(path: &Path) -> Result<Table, ReportError> {
    let err = |e| csv_err(path, e);
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
        let err = |e| csv_err(&res_path, e);
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
                && p.file_name().is_some_and(|n| n != "residuals.csv" && n != "views.csv")
        })
        .collect();
    names.sort();
    let tables = names.iter().map(|p| read_table(p)).collect::<Result<Vec<_>, _>>()?;
    let walk_forward = read_rows(&dir.join("walk_forward.csv"));
    let ridge_path = read_rows(&dir.join("ridge_path.csv"));
    Ok(ReportData { fit, residuals, traces, inputs, tables, walk_forward, ridge_path })
}

/// The rows of `path` as `T` (`None` when the file is absent; `Err` with the csv error's
/// text when it does not parse as `T`).
pub(super) fn read_rows<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Option<Result<Vec<T>, String>> {
    if !path.exists() {
        return None;
    }
    let rows = csv::Reader::from_path(path)
        .and_then(|mut rdr| rdr.deserialize().collect::<Result<Vec<T>, _>>())
        .map_err(|e| e.to_string());
    Some(rows)
}
