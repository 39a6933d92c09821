//! Does a fit generalise? Walk-forward validation, cross-validation over strikes, ridge
//! paths and parameter stability for a grid of fit specifications.
//!
//! [`validate`] groups snapshots by underlying (time order), walks every grid spec forward
//! (fit at t, score at t … t+h), runs the ridge path on the first grid spec, cross-validates
//! a few snapshots, and summarises: specs ranked by out-of-sample error, with the winner's
//! margin. [`write_csv`] writes the tables (plain CSV, header row, no index column):
//!
//! | file | one row per |
//! |---|---|
//! | `walk_forward.csv` | spec × underlying × fit snapshot × horizon × expiry ([`WalkForwardRow`]) |
//! | `summary.csv` | spec, ranked ([`SpecSummary`]) |
//! | `buckets.csv` | spec × horizon × expiry bucket ([`BucketRow`]) |
//! | `ridge_path.csv` | ridge target × λ ([`RidgePoint`]) |
//! | `cross_validation.csv` | spec × snapshot × expiry ([`CvRow`]) |
//! | `stability.csv` | spec × underlying × parameter × expiry ([`StabilityRow`]) |
//! | `params.csv` | spec × snapshot × parameter ([`ParamPoint`]) |
//! | `specs.csv` | spec: id, label and the full spec as JSON ([`SpecRow`]) |
//!
//! Errors are in vol points (1 = 0.01 of implied vol) against mid IVs of two-sided quotes.
//! Every spec is scored on the same quotes (vol residual, default filter: out-of-the-money,
//! two-sided), so errors compare across residual kinds, weights and filters. Walk-forward
//! scores each fit in-sample (horizon 0) and on the next `h` snapshots under sticky
//! moneyness and sticky strike. Cross-validation deals the distinct strikes of each expiry
//! round-robin into `k` folds (calls and puts of a strike together). The ridge path picks
//! the λ with the smallest out-of-sample RMSE (ties go to the smaller λ). Those choices look
//! at all snapshots; [`Selection`] (`selection` in `validate.json`) redoes them with only what
//! was known at each fit time and tests the winner against the runner-up (Diebold–Mariano).
//! A stability jump
//! is a change larger than 5 times the median absolute change of its series and larger
//! than 1e-6.
//!
//! ## Grid file
//! The grid ([`GridConfig`]) is read from TOML (`--config grid.toml`) or the built-in
//! default; every combination of the axes becomes one spec:
//!
//! ```toml
//! horizon = 2                 # score each fit on the next 2 snapshots
//! models = ["ssvi", "svi"]
//! losses = ["mse", "huber:0.01"]
//! weights = ["uniform", "vega"]
//! residuals = ["vol"]
//! ridges = ["none", "1:prev"]
//! ridge_lambdas = [0.0, 0.1, 1.0, 10.0]
//! [base]                      # everything else of the spec (see `FitSpec`)
//! max_iters = 100
//! ```

mod cross_validation;
pub mod dm;
mod grid;
#[cfg(feature = "parquet")]
mod parquet;
mod ridge_path;
mod selection;
mod stability;
mod walk_forward;

pub use cross_validation::{cross_validate, pooled, CvRow};
pub use grid::{spec_label, GridConfig, GridError, LabeledSpec};
pub use ridge_path::{chosen_lambda, RidgePoint};
pub use selection::{loss_differentials, nested, ridge_nested, selection, Selection};
pub use stability::{spec_variation, stability, StabilityRow};
pub use walk_forward::{pool, score_snapshot, walk_forward, ParamPoint, SeriesRun, WalkForwardRow};

use crate::fit::ErrorAcc;
use crate::io::write_atomic;
use crate::market::Snapshot;
use crate::model::{ModelKind, MATURITY_BUCKETS};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One row of `summary.csv`: a spec's pooled errors, ranked by out-of-sample RMSE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecSummary {
    /// Rank by out-of-sample RMSE (1 = best); grid specs only, ridge-path specs get 0.
    pub rank: usize,
    /// Spec id.
    pub spec_id: usize,
    /// Spec label.
    pub spec: String,
    /// `grid` or `ridge_path`.
    pub group: String,
    /// Model family.
    pub model: ModelKind,
    /// In-sample quotes scored.
    pub n_is: usize,
    /// In-sample RMSE, vol points.
    pub is_rmse: f64,
    /// Out-of-sample quotes scored (all horizons).
    pub n_oos: usize,
    /// Out-of-sample RMSE, sticky moneyness, vol points.
    pub oos_rmse: f64,
    /// Out-of-sample RMSE, sticky strike, vol points.
    pub oos_rmse_strike: f64,
    /// Out-of-sample RMS error in bid–ask spreads (sticky moneyness).
    pub oos_spread_rmse: f64,
    /// Out-of-sample share inside the spread (sticky moneyness).
    pub oos_inside_spread: f64,
    /// Over-fitting score: `oos_rmse / is_rmse`.
    pub overfit: f64,
    /// Cross-validation: in-sample RMSE on the cross-validated snapshots (NaN if not run).
    pub cv_in_rmse: f64,
    /// Cross-validated RMSE (NaN if not run).
    pub cv_rmse: f64,
    /// Median scale-free parameter change between snapshots.
    pub param_variation: f64,
    /// Parameter jumps, all series.
    pub jumps: usize,
    /// `oos_rmse` minus the winner's (vol points); for the winner, the runner-up's minus
    /// its own (its margin).
    pub margin: f64,
}

/// One row of `buckets.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketRow {
    /// Spec id.
    pub spec_id: usize,
    /// Spec label.
    pub spec: String,
    /// Snapshots ahead (0 = in-sample).
    pub horizon: usize,
    /// Expiry bucket.
    pub bucket: String,
    /// Quotes scored.
    pub n: usize,
    /// RMSE, sticky moneyness, vol points.
    pub rmse_vol: f64,
    /// RMS error in spreads, sticky moneyness.
    pub spread_rmse: f64,
    /// Inside-spread share, sticky moneyness.
    pub inside_spread: f64,
    /// RMSE, sticky strike, vol points.
    pub rmse_vol_strike: f64,
}

/// One row of `specs.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecRow {
    /// Spec id.
    pub spec_id: usize,
    /// Label.
    pub spec: String,
    /// The full spec as one-line JSON.
    pub json: String,
}

/// The winner of the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Winner {
    /// Spec id.
    pub spec_id: usize,
    /// Spec label.
    pub spec: String,
    /// Its out-of-sample RMSE, vol points.
    pub oos_rmse: f64,
    /// Runner-up's out-of-sample RMSE minus the winner's, vol points (NaN if alone).
    pub margin: f64,
    /// The margin relative to the winner's error.
    pub margin_rel: f64,
}

/// Everything a validation run produced.
#[derive(Clone, Debug)]
pub struct Validation {
    /// The settings.
    pub config: GridConfig,
    /// Grid specs, then ridge-path specs.
    pub specs: Vec<LabeledSpec>,
    /// Number of grid specs (the first `n_grid` of `specs`).
    pub n_grid: usize,
    /// Walk-forward rows.
    pub rows: Vec<WalkForwardRow>,
    /// Parameter values.
    pub params: Vec<ParamPoint>,
    /// Summary per spec, ranked grid specs first.
    pub summary: Vec<SpecSummary>,
    /// Errors per spec × horizon × bucket.
    pub buckets: Vec<BucketRow>,
    /// Ridge path.
    pub ridge: Vec<RidgePoint>,
    /// Cross-validation rows.
    pub cv: Vec<CvRow>,
    /// Parameter stability.
    pub stability: Vec<StabilityRow>,
    /// Best grid spec out-of-sample.
    pub winner: Option<Winner>,
    /// Nested (no look-ahead) selection and the winner's Diebold–Mariano test.
    pub selection: Selection,
}

/// Groups snapshots by underlying, each group in time order (groups sorted by name).
pub fn series_by_underlying(snaps: &[Snapshot]) -> Vec<Vec<&Snapshot>> {
    let mut map: std::collections::BTreeMap<&str, Vec<&Snapshot>> = Default::default();
    for s in snaps {
        map.entry(s.underlying.as_str()).or_default().push(s);
    }
    map.into_values()
        .map(|mut v| {
            v.sort_by_key(|s| s.time_ms);
            v
        })
        .collect()
}

/// `n` indices spread evenly over `0..len` (all of them when `n ≥ len`).
fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    if n == 0 || len == 0 {
        return Vec::new();
    }
    if n >= len {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..n).map(|i| (i * (len - 1)) / (n - 1).max(1)).collect();
    v.dedup();
    v
}

/// Runs the whole validation: walk-forward of every grid and ridge-path spec on every
/// underlying, cross-validation, stability and the summaries.
///
/// # Errors
/// A grid setting that does not parse.
pub fn validate(snaps: &[Snapshot], cfg: &GridConfig) -> Result<Validation, GridError> {
    validate_with_progress(snaps, cfg, &|_, _| {})
}

/// [`validate`], calling `progress(done, total)` after each unit of work (one spec's
/// walk-forward on one underlying, or one cross-validated snapshot of one spec), from any
/// thread; `done` reaches `total` exactly once.
///
/// # Errors
/// A grid setting that does not parse.
pub fn validate_with_progress(
    snaps: &[Snapshot],
    cfg: &GridConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Validation, GridError> {
    let grid = cfg.specs()?;
    let n_grid = grid.len();
    let mut specs = grid;
    if let Some(base) = specs.first().map(|s| s.spec.clone()) {
        specs.extend(ridge_path::ridge_specs(&base, &cfg.ridge_lambdas, n_grid));
    }
    let series = series_by_underlying(snaps);
    let jobs: Vec<(&LabeledSpec, &Vec<&Snapshot>)> =
        specs.iter().flat_map(|s| series.iter().map(move |u| (s, u))).collect();
    let cv_jobs: Vec<(&LabeledSpec, &Snapshot)> = if cfg.folds >= 2 {
        specs[..n_grid]
            .iter()
            .flat_map(|sp| {
                series.iter().flat_map(move |u| {
                    spread_indices(u.len(), cfg.cv_snapshots).into_iter().map(move |i| (sp, u[i]))
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let total = jobs.len() + cv_jobs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let tick = || progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
    let runs: Vec<SeriesRun> = jobs
        .par_iter()
        .map(|(spec, s)| {
            let run = walk_forward(s, spec, cfg.horizon);
            tick();
            run
        })
        .collect();
    let mut rows = Vec::new();
    let mut params = Vec::new();
    for r in runs {
        rows.extend(r.rows);
        params.extend(r.params);
    }
    let cv: Vec<CvRow> = cv_jobs
        .par_iter()
        .flat_map_iter(|(sp, s)| {
            let rows = cross_validate(s, sp, cfg.folds);
            tick();
            rows
        })
        .collect();
    let stability = stability::stability(&params);
    let mut summary: Vec<SpecSummary> = specs
        .iter()
        .enumerate()
        .map(|(i, sp)| {
            let mine: Vec<&WalkForwardRow> = rows.iter().filter(|r| r.spec_id == sp.id).collect();
            let (is, oos, oss) = walk_forward::pool(&mine);
            let cv_rows: Vec<&CvRow> = cv.iter().filter(|r| r.spec_id == sp.id).collect();
            let (cv_in, cv_rmse) = if cv_rows.is_empty() {
                (f64::NAN, f64::NAN)
            } else {
                cross_validation::pooled(&cv_rows)
            };
            let (param_variation, jumps) = stability::spec_variation(&stability, sp.id);
            SpecSummary {
                rank: 0,
                spec_id: sp.id,
                spec: sp.label.clone(),
                group: if i < n_grid { "grid" } else { "ridge_path" }.into(),
                model: sp.spec.model,
                n_is: is.n,
                is_rmse: is.rmse(),
                n_oos: oos.n,
                oos_rmse: oos.rmse(),
                oos_rmse_strike: oss.rmse(),
                oos_spread_rmse: oos.spread_rmse(),
                oos_inside_spread: oos.inside_share(),
                overfit: oos.rmse() / is.rmse(),
                cv_in_rmse: cv_in,
                cv_rmse,
                param_variation,
                jumps,
                margin: f64::NAN,
            }
        })
        .collect();
    // Rank the grid; NaN errors (nothing scored) go last.
    let key = |s: &SpecSummary| if s.oos_rmse.is_finite() { s.oos_rmse } else { f64::INFINITY };
    summary[..n_grid].sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.spec_id.cmp(&b.spec_id)));
    let best = summary.first().map(key).unwrap_or(f64::NAN);
    let runner_up = summary[..n_grid].get(1).map(key).unwrap_or(f64::NAN);
    for (i, s) in summary[..n_grid].iter_mut().enumerate() {
        s.rank = i + 1;
        s.margin = if i == 0 { runner_up - best } else { key(s) - best };
    }
    let winner = summary.first().filter(|s| s.oos_rmse.is_finite()).map(|s| Winner {
        spec_id: s.spec_id,
        spec: s.spec.clone(),
        oos_rmse: s.oos_rmse,
        margin: s.margin,
        margin_rel: s.margin / s.oos_rmse,
    });
    let mut ridge: Vec<RidgePoint> = specs[n_grid..]
        .iter()
        .flat_map(|sp| {
            let s = summary.iter().find(|s| s.spec_id == sp.id);
            ridge_path::ridge_of(&sp.spec).into_iter().filter_map(move |(toward, lambda)| {
                s.map(|s| RidgePoint {
                    toward: toward.into(),
                    lambda,
                    spec_id: sp.id,
                    is_rmse: s.is_rmse,
                    oos_rmse: s.oos_rmse,
                    oos_rmse_strike: s.oos_rmse_strike,
                    param_variation: s.param_variation,
                    chosen: false,
                })
            })
        })
        .collect();
    ridge_path::choose(&mut ridge);
    let grid_ids: Vec<usize> = specs[..n_grid].iter().map(|s| s.id).collect();
    let ranked: Vec<(usize, String, f64)> =
        summary[..n_grid].iter().map(|s| (s.spec_id, s.spec.clone(), s.oos_rmse)).collect();
    let selection = selection::selection(&rows, &grid_ids, &ranked, &ridge, cfg.horizon);
    let buckets = bucket_rows(&specs, &rows, cfg.horizon);
    Ok(Validation {
        config: cfg.clone(),
        specs,
        n_grid,
        rows,
        params,
        summary,
        buckets,
        ridge,
        cv,
        stability,
        winner,
        selection,
    })
}

fn bucket_rows(specs: &[LabeledSpec], rows: &[WalkForwardRow], horizon: usize) -> Vec<BucketRow> {
    let mut out = Vec::new();
    for sp in specs {
        for h in 0..=horizon {
            for b in MATURITY_BUCKETS {
                let (mut m, mut s) = (ErrorAcc::default(), ErrorAcc::default());
                for r in
                    rows.iter().filter(|r| r.spec_id == sp.id && r.horizon == h && r.bucket == b)
                {
                    let n = r.n as f64;
                    m.merge(&ErrorAcc {
                        sse: r.rmse_vol.powi(2) * n,
                        sse_spread: r.spread_rmse.powi(2) * n,
                        inside: (r.inside_spread * n).round() as usize,
                        n: r.n,
                        ..ErrorAcc::default()
                    });
                    s.merge(&ErrorAcc {
                        sse: r.rmse_vol_strike.powi(2) * n,
                        n: r.n,
                        ..ErrorAcc::default()
                    });
                }
                if m.n > 0 {
                    out.push(BucketRow {
                        spec_id: sp.id,
                        spec: sp.label.clone(),
                        horizon: h,
                        bucket: b.into(),
                        n: m.n,
                        rmse_vol: m.rmse(),
                        spread_rmse: m.spread_rmse(),
                        inside_spread: m.inside_share(),
                        rmse_vol_strike: s.rmse(),
                    });
                }
            }
        }
    }
    out
}

/// Table names written by [`write_csv`], in order.
pub const TABLES: [&str; 8] = [
    "walk_forward",
    "summary",
    "buckets",
    "ridge_path",
    "cross_validation",
    "stability",
    "params",
    "specs",
];

/// Output format of the tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TableFormat {
    /// CSV with a header row.
    #[default]
    Csv,
    /// Parquet (cargo feature `parquet`).
    #[cfg(feature = "parquet")]
    Parquet,
}

impl TableFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            #[cfg(feature = "parquet")]
            TableFormat::Parquet => "parquet",
        }
    }
}

fn write_table<T: Serialize>(path: &Path, rows: &[T], format: TableFormat) -> std::io::Result<()> {
    #[cfg(feature = "parquet")]
    if format == TableFormat::Parquet {
        let bytes = parquet::to_parquet(rows)?;
        return write_atomic(path, |w: &mut dyn std::io::Write| w.write_all(&bytes));
    }
    let _ = format;
    write_atomic(path, |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        let mut csv = csv::Writer::from_writer(w);
        for r in rows {
            csv.serialize(r).map_err(std::io::Error::other)?;
        }
        csv.flush()
    })
}

/// Writes every table of `v` as `DIR/<table>.csv` (atomically) and `DIR/validate.json`
/// (settings, winner, ridge choice); returns the paths written.
///
/// # Errors
/// I/O errors.
pub fn write_csv(dir: &Path, v: &Validation) -> std::io::Result<Vec<PathBuf>> {
    write_tables(dir, v, TableFormat::Csv)
}

/// Writes every table of `v` as `DIR/<table>.<csv|parquet>` (atomically) and
/// `DIR/validate.json`; returns the paths written.
///
/// # Errors
/// I/O errors.
pub fn write_tables(
    dir: &Path,
    v: &Validation,
    format: TableFormat,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let ext = format.extension();
    let p = |name: &str| dir.join(format!("{name}.{ext}"));
    let specs: Vec<SpecRow> = v
        .specs
        .iter()
        .map(|s| SpecRow {
            spec_id: s.id,
            spec: s.label.clone(),
            json: serde_json::to_string(&s.spec).unwrap_or_default(),
        })
        .collect();
    write_table(&p(TABLES[0]), &v.rows, format)?;
    write_table(&p(TABLES[1]), &v.summary, format)?;
    write_table(&p(TABLES[2]), &v.buckets, format)?;
    write_table(&p(TABLES[3]), &v.ridge, format)?;
    write_table(&p(TABLES[4]), &v.cv, format)?;
    write_table(&p(TABLES[5]), &v.stability, format)?;
    write_table(&p(TABLES[6]), &v.params, format)?;
    write_table(&p(TABLES[7]), &specs, format)?;
    let json = serde_json::json!({
        "config": v.config,
        "winner": v.winner,
        "ridge_lambda_prev": chosen_lambda(&v.ridge, "prev"),
        "ridge_lambda_zero": chosen_lambda(&v.ridge, "zero"),
        "selection": v.selection,
        "tables": TABLES.iter().map(|t| format!("{t}.{ext}")).collect::<Vec<_>>(),
    });
    let jpath = dir.join("validate.json");
    write_atomic(&jpath, |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, &json).map_err(std::io::Error::other)?;
        writeln!(w)
    })?;
    let mut out: Vec<PathBuf> = TABLES.iter().map(|t| p(t)).collect();
    out.push(jpath);
    Ok(out)
}
