//! Pricing sampled parameter sets on the grid and storing the implied vols as resumable
//! chunk files: see [`generate`].
//!
//! Layout of an output directory: `spec.json` (a [`DataSpec`]) and `chunk-00000.csv.gz`,
//! `chunk-00001.csv.gz`, … — chunk `c` holds samples `c·chunk .. (c+1)·chunk` (the last may
//! be shorter), one CSV row per kept sample: `index,<parameters>,iv_0_0,…` (`iv_i_j` at
//! maturity `i`, strike `j` of the grid), values in Rust's shortest round-trip form.
//! Monte Carlo models (rough Bergomi) append the error of each vol, `err_0_0,…` (vol
//! fractions like the vols: the standard error, plus the time-step bias estimate with
//! [`McSpec::richardson`]), and their spec carries the Monte Carlo settings ([`McSpec`]);
//! chunks of exact pricers have no error columns.
//! Gzipped CSV rather than a binary layout: readable by every tool (pandas, polars, `zcat`),
//! exact to the bit in its shortest round-trip decimal form, about as small as raw f64 once
//! compressed, and a chunk's cost is dominated by pricing, not formatting. Each file is
//! written atomically, so a killed run leaves only whole chunks and a rerun regenerates
//! only the missing ones (samples are indexed Sobol points, see [`Sampler`]).

use super::grid::Grid;
use super::sample::{ParamBox, SampleModel, Sampler};
use crate::black::{implied_vol, OptionType};
use crate::io::write_atomic;
use crate::model::RICHARDSON_RATE;
use crate::model::{Bates, CharacteristicFn, Heston, McConfig, McWorkspace, Params, RBergomi};
use num_complex::Complex64;
use rayon::prelude::*;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Name of the spec file in a data directory.
pub const SPEC_FILE: &str = "spec.json";

/// [`DataSpec`]'s keys in declaration order: mismatches are reported in this order.
const SPEC_KEYS: [&str; 10] = [
    "model",
    "params",
    "box",
    "grid",
    "seed",
    "samples",
    "chunk",
    "scramble",
    "mc",
    "volfit_version",
];

/// Monte Carlo settings of a data set (models priced by simulation only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct McSpec {
    /// Paths per surface, antithetic members included.
    pub paths: usize,
    /// Time steps per maturity ([`McConfig::steps`]).
    pub steps: usize,
    /// Scheme and variance reduction (changes when the pricer's method does).
    pub method: String,
    /// How each surface's seed derives from the data set's.
    pub seeding: String,
    /// Richardson extrapolation over time steps ([`RBergomi::price_grid_richardson`] at
    /// [`RICHARDSON_RATE`]: `steps` and `steps/2` with common random numbers); the stored
    /// error is then the total error [`McWorkspace::iv_err`], the step bias estimate
    /// included. Absent from the spec when false (data written before it existed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub richardson: bool,
}

impl Default for McSpec {
    /// 4,096 paths and 32 steps per maturity ([`McConfig::default`]).
    fn default() -> McSpec {
        let mc = McConfig::default();
        McSpec {
            paths: mc.paths,
            steps: mc.steps,
            method: "hybrid-scheme-kappa1 conditional antithetic cv-forward cv-timer".into(),
            seeding: "splitmix64(seed xor splitmix64(index))".into(),
            richardson: false,
        }
    }
}

/// SplitMix64's output function (Steele, Lea & Flood 2014): decorrelates consecutive
/// integers into seeds.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Monte Carlo seed of sample `index` of a data set seeded with `seed`: any sample can
/// be regenerated alone, whichever worker prices it.
pub fn surface_seed(seed: u64, index: u64) -> u64 {
    splitmix64(seed ^ splitmix64(index))
}

/// Everything that determines a data set's bytes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataSpec {
    /// The model priced.
    pub model: SampleModel,
    /// Parameter names in flat-vector order (the CSV's parameter columns).
    pub params: Vec<String>,
    /// Parameter box sampled.
    #[serde(rename = "box")]
    pub bounds: ParamBox,
    /// Pricing grid.
    pub grid: Grid,
    /// Seed of the Sobol digital shift.
    pub seed: u64,
    /// Sobol samples drawn (kept + skipped).
    pub samples: u64,
    /// Samples per chunk file.
    pub chunk: u64,
    /// Randomisation of the Sobol points.
    pub scramble: String,
    /// Monte Carlo settings (present for Monte Carlo models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mc: Option<McSpec>,
    /// volfit version that wrote the data (pricers may change between versions).
    pub volfit_version: String,
}

impl DataSpec {
    /// The spec of `samples` samples of `model` over its default box on the default grid
    /// (with the default [`McSpec`] for Monte Carlo models).
    pub fn new(model: SampleModel, samples: u64, seed: u64, chunk: u64) -> DataSpec {
        DataSpec {
            model,
            params: model.param_names().iter().map(|s| s.to_string()).collect(),
            bounds: model.default_box(),
            grid: Grid::default(),
            seed,
            samples,
            chunk,
            scramble: "sobol-digital-shift-chacha8".into(),
            mc: model.monte_carlo().then(McSpec::default),
            volfit_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Number of chunk files.
    pub fn num_chunks(&self) -> u64 {
        self.samples.div_ceil(self.chunk)
    }

    /// File name of chunk `c`.
    pub fn chunk_name(c: u64) -> String {
        format!("chunk-{c:05}.csv.gz")
    }

    fn validate(&self) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::Spec(m));
        if self.samples == 0 || self.chunk == 0 {
            return bad("samples and chunk must be positive".into());
        }
        if self.params != self.model.param_names() {
            return bad(format!("params must be {:?}", self.model.param_names()));
        }
        self.bounds.validate(self.params.len()).or_else(bad)?;
        self.grid.validate().or_else(bad)?;
        match (&self.mc, self.model.monte_carlo()) {
            (None, false) => Ok(()),
            (Some(mc), true) => self.check_mc(mc),
            (Some(_), false) => {
                bad(format!("model {} takes no Monte Carlo settings", self.model.name()))
            }
            (None, true) => bad(format!("model {} needs Monte Carlo settings", self.model.name())),
        }
    }

    /// The Monte Carlo config of sample `index`.
    fn mc_config(mc: &McSpec, seed: u64, index: u64) -> McConfig {
        McConfig { paths: mc.paths, steps: mc.steps, seed: surface_seed(seed, index) }
    }

    /// Validates the Monte Carlo settings on this grid.
    fn check_mc(&self, mc: &McSpec) -> Result<(), DataError> {
        Self::mc_config(mc, 0, 0)
            .validate_levels(&self.grid.maturities, 1 + usize::from(mc.richardson))
            .map_err(|e| DataError::Spec(e.to_string()))
    }
}

/// Why data could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// An invalid spec.
    #[error("invalid surrogate data spec: {0}")]
    Spec(String),
    /// The directory holds data of another spec.
    #[error("{path}: key `{key}` is {found} there but {requested} in this run (use another --out DIR, or the same settings to resume)")]
    Mismatch {
        /// The existing spec file.
        path: PathBuf,
        /// The first differing key.
        key: String,
        /// Its value in the file.
        found: String,
        /// Its value requested now.
        requested: String,
    },
    /// A file that cannot be read, parsed or written.
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::File { path: path.to_path_buf(), msg: e.to_string() }
}

/// Progress reports: called (from worker threads) with the samples of each finished chunk.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// What a [`generate`] run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Chunks already present (resumed).
    pub chunks_present: u64,
    /// Chunks written by this run.
    pub chunks_written: u64,
    /// Samples stored over all chunks.
    pub kept: u64,
    /// Samples skipped over all chunks: a grid point had no finite implied vol.
    pub skipped: u64,
}

/// Scratch of one worker: strikes, prices, the pricers' workspaces and the results.
struct Scratch {
    ks: Vec<f64>,
    prices: Vec<f64>,
    work: Vec<Complex64>,
    params: Vec<f64>,
    ivs: Vec<f64>,
    /// Monte Carlo: every grid point's log-strike, the workspace and the standard errors.
    grid_ks: Vec<f64>,
    mc: McWorkspace,
    errs: Vec<f64>,
}

impl Scratch {
    fn new(spec: &DataSpec) -> Scratch {
        let (m, g) = (spec.grid.z.len(), &spec.grid);
        let mut grid_ks = vec![0.0; g.len()];
        for (i, row) in grid_ks.chunks_exact_mut(m).enumerate() {
            g.strikes_into(i, row);
        }
        Scratch {
            ks: vec![0.0; m],
            prices: vec![0.0; m],
            work: vec![Complex64::from(0.0); m],
            params: vec![0.0; spec.params.len()],
            ivs: vec![0.0; g.len()],
            grid_ks,
            mc: McWorkspace::default(),
            errs: vec![0.0; g.len()],
        }
    }
}

/// Implied vols of `model` on `grid` into `out` (len `grid.len()`, maturity-major): each
/// expiry's strikes priced in one batch by the Lewis quadrature, each OTM price inverted by
/// [`implied_vol`]. Returns how many points have no finite positive vol (NaN there).
pub fn price_surface<M: CharacteristicFn>(model: &M, grid: &Grid, out: &mut [f64]) -> usize {
    let m = grid.z.len();
    let mut s = (vec![0.0; m], vec![0.0; m], vec![Complex64::from(0.0); m]);
    price_into(model, grid, &mut s.0, &mut s.1, &mut s.2, out)
}

fn price_into<M: CharacteristicFn>(
    model: &M,
    grid: &Grid,
    ks: &mut [f64],
    prices: &mut [f64],
    work: &mut [Complex64],
    out: &mut [f64],
) -> usize {
    let m = grid.z.len();
    let mut failed = 0;
    for (i, &t) in grid.maturities.iter().enumerate() {
        grid.strikes_into(i, ks);
        model.otm_prices(t, ks, prices, work);
        for ((iv, &k), &p) in out[i * m..(i + 1) * m].iter_mut().zip(ks.iter()).zip(prices.iter()) {
            let kind = if k >= 0.0 { OptionType::Call } else { OptionType::Put };
            *iv = implied_vol(kind, p, 1.0, k.exp(), t).unwrap_or(f64::NAN);
            if !(iv.is_finite() && *iv > 0.0) {
                *iv = f64::NAN;
                failed += 1;
            }
        }
    }
    failed
}

/// Prices `s.params` (sample `index`) into `s.ivs` (and `s.errs` for Monte Carlo); false
/// when the parameters are invalid or a point fails.
fn price_sample(spec: &DataSpec, index: u64, s: &mut Scratch) -> bool {
    let grid = &spec.grid;
    let Scratch { ks, prices, work, params, ivs, grid_ks, mc, errs } = s;
    match (spec.model, &spec.mc) {
        (SampleModel::Heston, _) => {
            Heston::from_slice(params).map(|h| price_into(&h, grid, ks, prices, work, ivs)) == Ok(0)
        }
        (SampleModel::Bates, _) => {
            Bates::from_slice(params).map(|b| price_into(&b, grid, ks, prices, work, ivs)) == Ok(0)
        }
        (SampleModel::RBergomi, Some(m)) => {
            let config = DataSpec::mc_config(m, spec.seed, index);
            let Ok(model) = RBergomi::from_slice(params) else { return false };
            let failed = if m.richardson {
                model.price_grid_richardson(&config, RICHARDSON_RATE, &grid.maturities, grid_ks, mc)
            } else {
                model.price_grid(&config, &grid.maturities, grid_ks, mc)
            };
            ivs.copy_from_slice(mc.iv());
            errs.copy_from_slice(mc.iv_err());
            failed == Ok(0)
        }
        (SampleModel::RBergomi, None) => false, // rejected by `DataSpec::validate`
    }
}

/// The CSV header: `index`, the parameter names, `iv_i_j`, then `err_i_j` for Monte Carlo.
fn header(spec: &DataSpec) -> String {
    let mut h = String::from("index");
    for p in &spec.params {
        h.push(',');
        h.push_str(p);
    }
    let cols: &[&str] = if spec.mc.is_some() { &["iv", "err"] } else { &["iv"] };
    for col in cols {
        for i in 0..spec.grid.maturities.len() {
            for j in 0..spec.grid.z.len() {
                h.push_str(&format!(",{col}_{i}_{j}"));
            }
        }
    }
    h.push('\n');
    h
}

/// Generates chunk `c` into `dir`; returns (kept, skipped).
fn write_chunk(
    spec: &DataSpec,
    dir: &Path,
    c: u64,
    s: &mut Scratch,
) -> Result<(u64, u64), DataError> {
    use std::fmt::Write as _;
    let start = c * spec.chunk;
    let n = spec.chunk.min(spec.samples - start);
    let mut sampler = Sampler::new(&spec.bounds, spec.seed, start).map_err(DataError::Spec)?;
    let mut text = header(spec);
    let (mut kept, mut skipped) = (0, 0);
    for idx in start..start + n {
        sampler.next_into(&mut s.params);
        if !price_sample(spec, idx, s) {
            skipped += 1;
            continue;
        }
        kept += 1;
        let _ = write!(text, "{idx}");
        let errs: &[f64] = if spec.mc.is_some() { &s.errs } else { &[] };
        for v in s.params.iter().chain(&s.ivs).chain(errs) {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    let path = dir.join(DataSpec::chunk_name(c));
    write_atomic(&path, |w| {
        let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
        gz.write_all(text.as_bytes())?;
        gz.finish().map(|_| ())
    })
    .map_err(|e: std::io::Error| file_err(&path, e))?;
    Ok((kept, skipped))
}

/// One kept sample of a chunk file.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Sample index (Sobol point `index + 1`).
    pub index: u64,
    /// Parameters, in the spec's order.
    pub params: Vec<f64>,
    /// Implied vols on the grid, maturity-major.
    pub ivs: Vec<f64>,
    /// Their Monte Carlo standard errors (vol fractions), for Monte Carlo models only.
    pub errs: Option<Vec<f64>>,
}

/// Rows of a chunk file, checked against the spec's header and column count.
///
/// # Errors
/// [`DataError::File`] naming the file and line of a read or parse failure.
pub fn read_chunk(spec: &DataSpec, path: &Path) -> Result<Vec<Row>, DataError> {
    let f = std::fs::File::open(path).map_err(|e| file_err(path, e))?;
    let r = std::io::BufReader::new(flate2::read::GzDecoder::new(f));
    let (np, g, want) = (spec.params.len(), spec.grid.len(), header(spec));
    let width = np + if spec.mc.is_some() { 2 * g } else { g };
    let mut rows = Vec::new();
    for (n, line) in r.lines().enumerate() {
        let line = line.map_err(|e| file_err(path, e))?;
        let at = |m: &str| file_err(path, format!("line {}: {m}", n + 1));
        if n == 0 {
            if line != want.trim_end() {
                return Err(at("header does not match spec.json"));
            }
            continue;
        }
        let mut fields = line.split(',');
        let idx = fields.next().and_then(|f| f.parse().ok()).ok_or_else(|| at("field index"))?;
        let vals: Vec<f64> = fields
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| at(&format!("a value: {e}")))?;
        if vals.len() != width {
            return Err(at(&format!("{} values, expected {width}", vals.len())));
        }
        rows.push(Row {
            index: idx,
            params: vals[..np].to_vec(),
            ivs: vals[np..np + g].to_vec(),
            errs: spec.mc.as_ref().map(|_| vals[np + g..].to_vec()),
        });
    }
    Ok(rows)
}

/// Writes `spec.json` into `dir`, or checks the one there matches `spec` key by key.
fn write_or_check_spec(spec: &DataSpec, dir: &Path) -> Result<(), DataError> {
    let path = dir.join(SPEC_FILE);
    let want = serde_json::to_value(spec).map_err(|e| file_err(&path, e))?;
    match std::fs::read(&path) {
        Ok(bytes) => {
            let found: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| file_err(&path, e))?;
            let (Some(f), Some(w)) = (found.as_object(), want.as_object()) else {
                return Err(file_err(&path, "not a JSON object"));
            };
            // In the struct's order (a JSON map sorts its keys), then unknown keys.
            let known = SPEC_KEYS.iter().map(|k| k.to_string());
            let rest = w.keys().chain(f.keys()).filter(|k| !SPEC_KEYS.contains(&k.as_str()));
            for key in known.chain(rest.cloned()) {
                let key = &key;
                let (a, b) = (f.get(key), w.get(key));
                if a != b {
                    let show = |v: Option<&serde_json::Value>| {
                        v.map_or("absent".into(), |v| v.to_string())
                    };
                    return Err(DataError::Mismatch {
                        path,
                        key: key.clone(),
                        found: show(a),
                        requested: show(b),
                    });
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut text = serde_json::to_string_pretty(spec).map_err(|e| file_err(&path, e))?;
            text.push('\n');
            write_atomic(&path, |w| w.write_all(text.as_bytes()))
                .map_err(|e: std::io::Error| file_err(&path, e))
        }
        Err(e) => Err(file_err(&path, e)),
    }
}

/// Generates the data set `spec` into `dir` (created if absent), resuming: chunks already
/// present are kept (after `spec.json` there is checked to match `spec`), missing ones are
/// priced in parallel (rayon, the current pool) and written atomically. `progress` is
/// called with the samples of each chunk as it finishes (present chunks included, first).
///
/// # Errors
/// [`DataError::Spec`] for an invalid spec, [`DataError::Mismatch`] naming the first key
/// where `dir`'s spec differs, [`DataError::File`] for I/O and unreadable chunks.
pub fn generate(spec: &DataSpec, dir: &Path, progress: Progress) -> Result<Summary, DataError> {
    spec.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    write_or_check_spec(spec, dir)?;
    let size = |c: u64| spec.chunk.min(spec.samples - c * spec.chunk);
    let (present, missing): (Vec<u64>, Vec<u64>) =
        (0..spec.num_chunks()).partition(|&c| dir.join(DataSpec::chunk_name(c)).is_file());
    let mut sum = Summary { chunks_present: present.len() as u64, ..Summary::default() };
    for &c in &present {
        let kept = read_chunk(spec, &dir.join(DataSpec::chunk_name(c)))?.len() as u64;
        sum.kept += kept;
        sum.skipped += size(c).saturating_sub(kept);
        progress(size(c));
    }
    let done = missing
        .par_iter()
        .map_init(
            || Scratch::new(spec),
            |s, &c| {
                let r = write_chunk(spec, dir, c, s);
                progress(size(c));
                r
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    for (kept, skipped) in done {
        sum.chunks_written += 1;
        sum.kept += kept;
        sum.skipped += skipped;
    }
    Ok(sum)
}
