//! volfit from Python: the extension module `volfit._volfit` behind the `volfit` package
//! (`python/volfit`), which adds the keyword handling, durations and `FitSpec`.
//!
//! Every function here is a thin adapter over the `volfit` library — the loader, the fit
//! series, the implied-vol inverter and the risk measures are the CLI's own — with Arrow in
//! and out (pyo3-arrow, returned as `pyarrow` objects) and the GIL released during compute.
//! Errors are `volfit.VolfitError` (a `ValueError`) carrying the library's message, which
//! names file, line and field.

// `#[pyfunction]` arguments are extracted from Python by value.
#![allow(clippy::needless_pass_by_value)]

mod fits;
mod quotes;
mod reduce;
mod tails;
mod validation;

use std::path::PathBuf;

use arrow_array::RecordBatch;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;
use volfit::fit::{fit_series, FitSpec, SnapshotResult, WarmStartMode};
use volfit::market::{load_files, ReadOptions, Schedule, Snapshot};

pyo3::create_exception!(
    volfit,
    VolfitError,
    pyo3::exceptions::PyValueError,
    "A volfit error: bad input (the message names file, line and field) or bad arguments."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    VolfitError::new_err(e.to_string())
}

/// A table of one record batch as a `pyarrow.Table`.
fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
}

/// Reader settings from the Python keywords (durations already in ms); the CLI's defaults
/// otherwise.
fn read_options(
    every_ms: Option<i64>,
    underlying: Option<String>,
    max_age_ms: Option<i64>,
    halo_from: Option<PathBuf>,
) -> PyResult<ReadOptions> {
    let mut opts = ReadOptions { underlying, halo_from, ..ReadOptions::default() };
    if let Some(step_ms) = every_ms {
        if step_ms <= 0 {
            return Err(err("every must be positive"));
        }
        opts.schedule = Schedule::Every { step_ms };
    }
    if let Some(ms) = max_age_ms {
        if ms < 0 {
            return Err(err("max_age must not be negative"));
        }
        opts.clean.max_age_ms = ms;
    }
    Ok(opts)
}

fn spec_of(json: Option<&str>) -> PyResult<FitSpec> {
    let spec: FitSpec = match json {
        Some(text) => serde_json::from_str(text).map_err(|e| err(format!("FitSpec: {e}")))?,
        None => FitSpec::default(),
    };
    spec.check().map_err(|e| err(format!("FitSpec: {e}")))?;
    Ok(spec)
}

fn mode_of(name: &str) -> PyResult<WarmStartMode> {
    name.parse().map_err(|e| err(format!("warm_start: {e}")))
}

fn fit_table(
    snaps: &[&Snapshot],
    spec: &FitSpec,
    mode: WarmStartMode,
) -> Result<RecordBatch, String> {
    let results: Vec<SnapshotResult> = fit_series(snaps, spec, mode, &|| {});
    fits::to_batch(&results)
}

/// Validates a FitSpec given as JSON and returns its canonical JSON (every field).
#[pyfunction]
fn spec_json(text: &str) -> PyResult<String> {
    serde_json::to_string(&spec_of(Some(text))?).map_err(err)
}

/// Reads a FitSpec TOML file and returns its canonical JSON; errors name the file and line.
#[pyfunction]
fn spec_from_toml(path: PathBuf) -> PyResult<String> {
    let text =
        std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let spec = FitSpec::from_toml(&text).map_err(|e| err(format!("{}: {e}", path.display())))?;
    serde_json::to_string(&spec).map_err(err)
}

/// The snapshots of a quotes table that `read_chain` made, kept beside it so that `fit`
/// need not rebuild them from Arrow. They are the table's own rows read back
/// (`quotes::from_batches`), so either input gives the same snapshots, in the same order.
/// The Python side hands it in place of the table only while that very table object lives
/// (tables are immutable); any other table takes the Arrow path.
#[pyclass(frozen, module = "volfit._volfit")]
struct Chain {
    snaps: Vec<Snapshot>,
}

/// What `fit` and `validate_partial` take: a `read_chain` handle or any Arrow table.
#[derive(FromPyObject)]
enum Quotes {
    Chain(Py<Chain>),
    Arrow(AnyRecordBatch),
}

impl Quotes {
    /// Runs `f` on the snapshots (rebuilt from Arrow unless held), the GIL released.
    fn with<R: Send>(
        self,
        py: Python<'_>,
        f: impl FnOnce(&[Snapshot]) -> Result<R, String> + Send,
    ) -> PyResult<R> {
        match self {
            Quotes::Chain(chain) => {
                let chain = chain.get();
                py.detach(|| f(&chain.snaps))
            }
            Quotes::Arrow(quotes) => {
                let (batches, _) = quotes.into_table()?.into_inner();
                py.detach(|| f(&quotes::from_batches(&batches)?))
            }
        }
        .map_err(err)
    }
}

/// The cleaned quotes of one file as a `pyarrow.Table`, and their snapshots' handle.
#[pyfunction]
#[pyo3(signature = (path, every_ms=None, underlying=None, max_age_ms=None, halo_from=None))]
fn read_chain<'py>(
    py: Python<'py>,
    path: PathBuf,
    every_ms: Option<i64>,
    underlying: Option<String>,
    max_age_ms: Option<i64>,
    halo_from: Option<PathBuf>,
) -> PyResult<(Bound<'py, PyAny>, Chain)> {
    let opts = read_options(every_ms, underlying, max_age_ms, halo_from)?;
    let (batch, snaps) = py
        .detach(|| -> Result<(RecordBatch, Vec<Snapshot>), String> {
            let loaded = load_files(&[path], &opts).map_err(|e| e.to_string())?;
            let snaps: Vec<&Snapshot> = loaded.snapshots.iter().map(|c| &c.snapshot).collect();
            let batch = quotes::to_batch(&snaps);
            let snaps = quotes::from_batches(std::slice::from_ref(&batch))?;
            Ok((batch, snaps))
        })
        .map_err(err)?;
    Ok((to_pyarrow(py, batch)?, Chain { snaps }))
}

/// Fits the snapshots of a quotes table; one row per (snapshot, underlying, expiry).
#[pyfunction]
#[pyo3(signature = (quotes, spec_json=None, warm_start="partition"))]
fn fit<'py>(
    py: Python<'py>,
    quotes: Quotes,
    spec_json: Option<&str>,
    warm_start: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let (spec, mode) = (spec_of(spec_json)?, mode_of(warm_start)?);
    let batch =
        quotes.with(py, |snaps| fit_table(&snaps.iter().collect::<Vec<_>>(), &spec, mode))?;
    to_pyarrow(py, batch)
}

/// Reads and fits files as `volfit fit` does; one row per (snapshot, underlying, expiry).
#[pyfunction]
#[pyo3(signature = (paths, spec_json=None, warm_start="partition", every_ms=None, underlying=None, max_age_ms=None, halo_from=None))]
#[allow(clippy::too_many_arguments)]
fn fit_files<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    spec_json: Option<&str>,
    warm_start: &str,
    every_ms: Option<i64>,
    underlying: Option<String>,
    max_age_ms: Option<i64>,
    halo_from: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let (spec, mode) = (spec_of(spec_json)?, mode_of(warm_start)?);
    if halo_from.is_some() && paths.len() != 1 {
        return Err(err("halo_from takes one day file: the halo is that file's previous day"));
    }
    let opts = read_options(every_ms, underlying, max_age_ms, halo_from)?;
    let batch = py.detach(|| -> Result<RecordBatch, String> {
        let loaded = load_files(&paths, &opts).map_err(|e| e.to_string())?;
        if loaded.reports.is_empty() {
            return Err(format!("no option chain among the inputs ({} file(s))", paths.len()));
        }
        let snaps: Vec<&Snapshot> = loaded.snapshots.iter().map(|c| &c.snapshot).collect();
        fit_table(&snaps, &spec, mode)
    });
    to_pyarrow(py, batch.map_err(err)?)
}

/// Implied vols of undiscounted Black-76 prices; NaN where there is none.
#[pyfunction]
fn implied_vol<'py>(
    py: Python<'py>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    is_call: PyReadonlyArray1<'py, bool>,
    price: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    use volfit::black::{implied_vols_par, IvError, IvInput, OptionType};
    let (f, k, t, c, p) = (
        forward.as_slice()?,
        strike.as_slice()?,
        t.as_slice()?,
        is_call.as_slice()?,
        price.as_slice()?,
    );
    let n = f.len();
    if [k.len(), t.len(), c.len(), p.len()].iter().any(|&m| m != n) {
        return Err(err("implied_vol: forward, strike, t, type and price differ in length"));
    }
    let ivs = py.detach(|| {
        let inputs: Vec<IvInput> = (0..n)
            .map(|i| IvInput {
                kind: if c[i] { OptionType::Call } else { OptionType::Put },
                price: p[i],
                forward: f[i],
                strike: k[i],
                t: t[i],
            })
            .collect();
        let mut out = vec![Err(IvError::NonFinite); n];
        implied_vols_par(&inputs, &mut out);
        out.into_iter().map(|r| r.unwrap_or(f64::NAN)).collect::<Vec<f64>>()
    });
    Ok(PyArray1::from_vec(py, ivs))
}

/// Risk measures of a P&L sample, in the order given.
#[pyfunction]
#[pyo3(signature = (pnl, measures, weights=None))]
fn risk(
    py: Python<'_>,
    pnl: PyReadonlyArray1<'_, f64>,
    measures: Vec<String>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<Vec<f64>> {
    use volfit::risk::{evaluate, RiskMeasure, Sample};
    let list: Vec<RiskMeasure> = measures
        .iter()
        .map(|m| m.parse().map_err(|e| err(format!("measure `{m}`: {e}"))))
        .collect::<PyResult<_>>()?;
    let pnl = pnl.as_slice()?.to_vec();
    let weights = match &weights {
        Some(w) => Some(w.as_slice()?.to_vec()),
        None => None,
    };
    py.detach(|| {
        let sample = match weights {
            Some(w) => Sample::weighted(pnl, w),
            None => Sample::new(pnl),
        }
        .map_err(|e| e.to_string())?;
        evaluate(&sample, &list).map_err(|e| e.to_string())
    })
    .map_err(err)
}

/// Walk-forward partial of a quotes table: `walk_forward.csv` rows of every partition
/// (venue, underlying, UTC day) walked forward on its own.
#[pyfunction]
#[pyo3(signature = (quotes, spec_json=None, horizon=1))]
fn validate_partial<'py>(
    py: Python<'py>,
    quotes: Quotes,
    spec_json: Option<&str>,
    horizon: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec_of(spec_json)?;
    let batch = quotes
        .with(py, |snaps| validation::to_batch(&validation::partial(snaps, &spec, horizon)))?;
    to_pyarrow(py, batch)
}

/// The 15 additive sums of a partial table (names: `validate_sum_names()`).
#[pyfunction]
fn validate_sums(py: Python<'_>, partial: AnyRecordBatch) -> PyResult<Vec<f64>> {
    let (batches, _) = partial.into_table()?.into_inner();
    py.detach(|| validation::from_batches(&batches).map(|rows| validation::sums(&rows)))
        .map_err(err)
}

/// The names of `validate_sums`' numbers, in order.
#[pyfunction]
fn validate_sum_names() -> Vec<&'static str> {
    validation::SUM_NAMES.to_vec()
}

/// The summary (`summary.csv`'s pooled errors) of added sums, as (name, value) pairs.
#[pyfunction]
fn validate_finish(sums: Vec<f64>) -> PyResult<Vec<(&'static str, f64)>> {
    validation::finish(&sums).map_err(err)
}

/// VaR/ES of an unweighted P&L sample of `n_total` values given only its `tail`: at least
/// the `k + 1` lowest P&L values (any order), `k` = `tail_size(n_total, measures)`. Equal
/// to `risk` on the whole sample within rounding (1e-12 relative).
#[pyfunction]
fn risk_tail(
    py: Python<'_>,
    tail: PyReadonlyArray1<'_, f64>,
    n_total: usize,
    measures: Vec<String>,
) -> PyResult<Vec<f64>> {
    let list = tail_measures(&measures)?;
    let mut pnl = tail.as_slice()?.to_vec();
    py.detach(|| tails::evaluate(&mut pnl, n_total, &list)).map_err(err)
}

/// How each measure reduces from partitions of a P&L sample (`tail`, `entropic`,
/// `mean-variance`, `drawdown`); an error naming a measure that needs every value.
#[pyfunction]
fn risk_plan(measures: Vec<String>) -> PyResult<Vec<&'static str>> {
    let plan = reduce::plan(&measures).map_err(err)?;
    Ok(plan
        .iter()
        .map(|p| match p.kind {
            reduce::Kind::Tail => "tail",
            reduce::Kind::Entropic => "entropic",
            reduce::Kind::MeanVariance { .. } => "mean-variance",
            reduce::Kind::Drawdown => "drawdown",
        })
        .collect())
}

/// One partition's numbers for `risk_combine` (its count first; see `reduce::partial`).
#[pyfunction]
fn risk_partial(
    py: Python<'_>,
    pnl: PyReadonlyArray1<'_, f64>,
    measures: Vec<String>,
) -> PyResult<Vec<f64>> {
    let plan = reduce::plan(&measures).map_err(err)?;
    let pnl = pnl.as_slice()?;
    py.detach(|| reduce::partial(pnl, &plan)).map_err(err)
}

/// The measures of a sample from its partitions' `risk_partial` numbers (in partition
/// order) and, when a tail measure is asked, its `tail` (at least the `tail_size + 1`
/// lowest values) of `n_total`; in the order given.
#[pyfunction]
#[pyo3(signature = (parts, measures, n_total, tail=None))]
fn risk_combine(
    py: Python<'_>,
    parts: Vec<Vec<f64>>,
    measures: Vec<String>,
    n_total: usize,
    tail: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<Vec<f64>> {
    let plan = reduce::plan(&measures).map_err(err)?;
    let tails: Vec<_> = plan.iter().filter(|p| p.kind == reduce::Kind::Tail).collect();
    let mut tail = match (&tail, tails.is_empty()) {
        (_, true) => Vec::new(),
        (Some(t), false) => t.as_slice()?.to_vec(),
        (None, false) => return Err(err("risk_combine: a tail measure without its tail")),
    };
    py.detach(|| {
        let mut out = reduce::combine(&parts, &plan)?;
        if !tails.is_empty() {
            let list: Vec<_> = tails.iter().map(|p| p.measure.clone()).collect();
            let mut values = tails::evaluate(&mut tail, n_total, &list)?.into_iter();
            for (v, p) in out.iter_mut().zip(&plan) {
                if p.kind == reduce::Kind::Tail {
                    *v = values.next().expect("one value per tail measure");
                }
            }
        }
        Ok::<_, String>(out)
    })
    .map_err(err)
}

/// How many of the lowest P&L values `risk_tail` needs besides one more for the rest.
#[pyfunction]
fn tail_size(n_total: usize, measures: Vec<String>) -> PyResult<usize> {
    Ok(tails::size(n_total, &tail_measures(&measures)?))
}

fn tail_measures(measures: &[String]) -> PyResult<Vec<volfit::risk::RiskMeasure>> {
    measures.iter().map(|m| tails::parse(m).map_err(err)).collect()
}

/// Benchmark aid: the least wall time (s) over `repeats` of the library alone fitting the
/// snapshots of a quotes table (`fit_series`, no Python, no Arrow), to compare with `fit`.
#[pyfunction]
#[pyo3(signature = (quotes, spec_json=None, warm_start="partition", repeats=5))]
fn rust_fit_seconds(
    py: Python<'_>,
    quotes: Quotes,
    spec_json: Option<&str>,
    warm_start: &str,
    repeats: usize,
) -> PyResult<f64> {
    let (spec, mode) = (spec_of(spec_json)?, mode_of(warm_start)?);
    quotes.with(py, |snaps| {
        let refs: Vec<&Snapshot> = snaps.iter().collect();
        Ok((0..repeats.max(1))
            .map(|_| {
                let start = std::time::Instant::now();
                std::hint::black_box(fit_series(&refs, &spec, mode, &|| {}));
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min))
    })
}

/// The cleaned quotes of the library's synthetic Deribit-like BTC chain (`volfit synth
/// --seed SEED`), read back as any file is: a small real input (the Dask engine fits it
/// for its table layout).
#[pyfunction]
#[pyo3(signature = (seed=42))]
fn synth_quotes(py: Python<'_>, seed: u64) -> PyResult<Bound<'_, PyAny>> {
    use volfit::market::synth::{generate, SynthSpec};
    let batch = py.detach(|| -> Result<RecordBatch, String> {
        let chain = generate(&SynthSpec { seed, ..SynthSpec::default() });
        let mut csv = Vec::new();
        chain.write_csv(&mut csv).map_err(|e| e.to_string())?;
        let path =
            std::env::temp_dir().join(format!("volfit-synth-{}-{seed}.csv", std::process::id()));
        std::fs::write(&path, &csv).map_err(|e| format!("{}: {e}", path.display()))?;
        let loaded = load_files(std::slice::from_ref(&path), &ReadOptions::default());
        let _ = std::fs::remove_file(&path);
        let loaded = loaded.map_err(|e| e.to_string())?;
        let snaps: Vec<&Snapshot> = loaded.snapshots.iter().map(|c| &c.snapshot).collect();
        Ok(quotes::to_batch(&snaps))
    });
    to_pyarrow(py, batch.map_err(err)?)
}

/// Writes a deterministic synthetic Tardis `options_chain` stream (the library's
/// `tardis_gen`: BTC and ETH, six expiries, `strikes` strikes per expiry and side) of
/// `days` UTC days from `day0_ms` (a midnight), `updates` updates per day, cut at 00:00
/// UTC into `DIR/deribit_options_chain_<day>.csv` files as Tardis ships them; with
/// `continuous`, also the whole stream as `DIR/continuous.csv`. Returns the day files.
#[pyfunction]
#[pyo3(signature = (dir, day0_ms, days=1, strikes=16, updates=60_000, seed=11, continuous=false))]
#[allow(clippy::too_many_arguments)]
fn synth_tardis(
    py: Python<'_>,
    dir: PathBuf,
    day0_ms: i64,
    days: u32,
    strikes: usize,
    updates: u64,
    seed: u64,
    continuous: bool,
) -> PyResult<Vec<PathBuf>> {
    use std::io::Write;
    use volfit::market::tardis_gen::{TardisGen, HEADER};
    const DAY_MS: i64 = 86_400_000;
    if day0_ms.rem_euclid(DAY_MS) != 0 || days == 0 {
        return Err(err("synth_tardis: day0_ms must be a UTC midnight and days positive"));
    }
    py.detach(|| -> std::io::Result<Vec<PathBuf>> {
        let create = |p: &PathBuf| -> std::io::Result<_> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
            f.write_all(HEADER.as_bytes())?;
            Ok(f)
        };
        let day_path = |d: i64| {
            let date = volfit::market::iso8601(day0_ms + d * DAY_MS);
            dir.join(format!("deribit_options_chain_{}.csv", &date[..10]))
        };
        let paths: Vec<PathBuf> = (0..i64::from(days)).map(day_path).collect();
        let mut files = paths.iter().map(create).collect::<std::io::Result<Vec<_>>>()?;
        let mut whole = if continuous { Some(create(&dir.join("continuous.csv"))?) } else { None };
        let total = updates * u64::from(days);
        let span_us = i64::from(days) * DAY_MS * 1000;
        let mut g = TardisGen::new(seed, day0_ms * 1000, strikes, total, span_us);
        let mut buf = Vec::new();
        for _ in 0..total {
            let u = g.next_update();
            buf.clear();
            g.write_row(&u, &mut buf);
            let day = (u.local_us - day0_ms * 1000).div_euclid(DAY_MS * 1000);
            let day = usize::try_from(day.clamp(0, i64::from(days) - 1)).unwrap_or(0);
            files[day].write_all(&buf)?;
            if let Some(w) = whole.as_mut() {
                w.write_all(&buf)?;
            }
        }
        for mut f in files.into_iter().chain(whole) {
            f.flush()?;
        }
        Ok(paths)
    })
    .map_err(|e| err(format!("synth_tardis: {}: {e}", dir.display())))
}

/// The extension module.
#[pymodule]
fn _volfit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("VolfitError", m.py().get_type::<VolfitError>())?;
    m.add_class::<Chain>()?;
    m.add_function(wrap_pyfunction!(spec_json, m)?)?;
    m.add_function(wrap_pyfunction!(spec_from_toml, m)?)?;
    m.add_function(wrap_pyfunction!(read_chain, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(fit_files, m)?)?;
    m.add_function(wrap_pyfunction!(implied_vol, m)?)?;
    m.add_function(wrap_pyfunction!(risk, m)?)?;
    m.add_function(wrap_pyfunction!(rust_fit_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(validate_partial, m)?)?;
    m.add_function(wrap_pyfunction!(validate_sums, m)?)?;
    m.add_function(wrap_pyfunction!(validate_sum_names, m)?)?;
    m.add_function(wrap_pyfunction!(validate_finish, m)?)?;
    m.add_function(wrap_pyfunction!(risk_tail, m)?)?;
    m.add_function(wrap_pyfunction!(tail_size, m)?)?;
    m.add_function(wrap_pyfunction!(risk_plan, m)?)?;
    m.add_function(wrap_pyfunction!(risk_partial, m)?)?;
    m.add_function(wrap_pyfunction!(risk_combine, m)?)?;
    m.add_function(wrap_pyfunction!(synth_quotes, m)?)?;
    m.add_function(wrap_pyfunction!(synth_tardis, m)?)?;
    Ok(())
}
