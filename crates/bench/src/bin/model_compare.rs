//! Model comparison on the real chains (issue 18): rough Bergomi through its net against
//! Heston and Bates (exact pricers), SSVI and per-expiry SVI, each fitted by `fit_snapshot`
//! (the code of `volfit fit --model M`, default spec: vol residuals, LM, cold start) on every
//! snapshot of `../shared/data/svcj_deribit_2026/*.csv.gz` (BTC and ETH).
//!
//! ```text
//! model_compare --net models/rbergomi.safetensors [--files N]
//! model_compare held-out --net NET --data DIR [--reference DIR]
//! ```
//!
//! The net prices only its grid (1 day to 1 year, |k/√t| ≤ 1), so rough Bergomi fits the
//! quotes inside it; every model is scored on **those same quotes** (matched by expiry,
//! strike and type), per maturity bucket: RMSE of model vs mid in vol points and the share
//! of quotes whose model vol lies inside the bid/ask vol spread. Each model's RMSE over all
//! the quotes it fitted is printed too, and the fit time per surface (the calibration time
//! of `fit.json`: a surface's solve, or the sum of SVI's per-expiry solves). Prints one
//! JSON line per chain, then the tables in Markdown.
//!
//! `held-out`: the net against a rough Bergomi data set it was not trained on (`volfit
//! surrogate data --model rbergomi` with another seed): per grid point `d = |net − MC|` and
//! the Monte Carlo standard error `e` stored beside it; prints the median / p99 of `d` and of
//! `d − e`, and the share of points with `d ≤ e + 0.2` vol pt (the issue's target), overall
//! and per maturity. `--reference` (the same samples priced with more time steps) adds the
//! time-step bias `|MC − MC_ref|`, which the stored error does not include, and `|net −
//! MC_ref|`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use volfit::fit::{fit_snapshot, FitSpec, ModelKind, ResidualRow, SnapshotResult, SurrogateSpec};
use volfit::model::{maturity_bucket, MATURITY_BUCKETS};
use volfit::surrogate::{read_chunk, DataSpec, Row, Surrogate, SPEC_FILE};
use volfit_bench::slices::{load_snapshots, median, svcj_files};

const MODELS: [ModelKind; 5] =
    [ModelKind::RBergomi, ModelKind::Heston, ModelKind::Bates, ModelKind::Ssvi, ModelKind::Svi];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// A quote's identity across fits.
fn key(r: &ResidualRow) -> (String, u64, String) {
    (r.expiry.clone(), r.strike.to_bits(), format!("{:?}", r.kind))
}

/// Squared misses and spread hits over a set of quotes.
#[derive(Clone, Copy, Default)]
struct Acc {
    se: f64,
    n: usize,
    inside: usize,
    banded: usize,
}

impl Acc {
    fn add(&mut self, r: &ResidualRow) {
        if let Some(mid) = r.mid_iv {
            self.se += (r.model_iv - mid).powi(2);
            self.n += 1;
        }
        if let (Some(b), Some(a)) = (r.bid_iv, r.ask_iv) {
            self.banded += 1;
            self.inside += usize::from(r.model_iv >= b && r.model_iv <= a);
        }
    }
    fn rmse_pts(&self) -> f64 {
        100.0 * (self.se / self.n.max(1) as f64).sqrt()
    }
    fn inside_share(&self) -> f64 {
        self.inside as f64 / self.banded.max(1) as f64
    }
}

/// The calibration time of a fit (ms): a surface's solve, or the sum of per-expiry solves.
fn fit_ms(r: &SnapshotResult) -> f64 {
    let us = if r.fit.surface_params.is_some() {
        r.fit.expiries.first().map_or(0, |e| e.time_us)
    } else {
        r.fit.expiries.iter().map(|e| e.time_us).sum()
    };
    us as f64 / 1000.0
}

/// Per model: accumulators by bucket on the common quotes ("all" too), on the model's own
/// quotes, and its fit times.
#[derive(Default)]
struct Tally {
    common: HashMap<(ModelKind, &'static str), Acc>,
    own: HashMap<ModelKind, Acc>,
    ms: HashMap<ModelKind, Vec<f64>>,
}

impl Tally {
    /// Scores the fits of one snapshot (in [`MODELS`] order; rough Bergomi first).
    fn add(&mut self, fits: &[SnapshotResult]) -> serde_json::Value {
        let grid: HashSet<_> = fits[0].residuals.iter().map(key).collect();
        let mut line = serde_json::Map::new();
        for (m, r) in MODELS.iter().zip(fits) {
            let mut chain = Acc::default();
            for row in &r.residuals {
                self.own.entry(*m).or_default().add(row);
                if grid.contains(&key(row)) {
                    chain.add(row);
                    self.common.entry((*m, maturity_bucket(row.t))).or_default().add(row);
                    self.common.entry((*m, "all")).or_default().add(row);
                }
            }
            self.ms.entry(*m).or_default().push(fit_ms(r));
            line.insert(
                m.name().into(),
                serde_json::json!({
                    "rmse_common_pts": chain.rmse_pts(), "quotes_common": chain.n,
                    "inside_common": chain.inside_share(), "fit_ms": fit_ms(r),
                    "params": r.fit.surface_params,
                }),
            );
        }
        serde_json::Value::Object(line)
    }

    fn print(&self, chains: usize) {
        let buckets: Vec<&str> = MATURITY_BUCKETS.iter().copied().chain(["all"]).collect();
        println!("\n{chains} chains; common quotes = those inside the rough Bergomi net's grid.");
        println!("\nRMSE vs mid (vol pts) | share inside bid/ask, common quotes:\n");
        println!("| model | {} |", buckets.join(" | "));
        println!("|---|{}", "---|".repeat(buckets.len()));
        for m in MODELS {
            let cells: Vec<String> = buckets
                .iter()
                .map(|b| {
                    let a = self.common.get(&(m, *b)).copied().unwrap_or_default();
                    format!("{:.2} \\| {:.0} % (n={})", a.rmse_pts(), 100.0 * a.inside_share(), a.n)
                })
                .collect();
            println!("| {} | {} |", m.name(), cells.join(" | "));
        }
        println!(
            "\n| model | RMSE own quotes (vol pts) | own quotes | median fit ms | p90 fit ms |"
        );
        println!("|---|---|---|---|---|");
        for m in MODELS {
            let a = self.own.get(&m).copied().unwrap_or_default();
            let mut t = self.ms.get(&m).cloned().unwrap_or_default();
            t.sort_by(f64::total_cmp);
            let p90 = t.get((t.len() * 9) / 10).copied().unwrap_or(f64::NAN);
            println!(
                "| {} | {:.2} | {} | {:.2} | {:.2} |",
                m.name(),
                a.rmse_pts(),
                a.n,
                median(&t),
                p90
            );
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let net = PathBuf::from(arg(&args, "--net").ok_or("--net FILE is required")?);
    let files: usize =
        arg(&args, "--files").map_or(Ok(usize::MAX), |v| v.parse()).map_err(|_| "--files")?;
    let sg = SurrogateSpec::load(&net, false).map_err(|e| e.to_string())?;
    let specs: Vec<FitSpec> = MODELS
        .iter()
        .map(|&model| FitSpec {
            model,
            surrogate: (model == ModelKind::RBergomi).then(|| sg.clone()),
            ..FitSpec::default()
        })
        .collect();
    let mut tally = Tally::default();
    let mut chains = 0;
    for path in svcj_files(files)? {
        for snap in load_snapshots(&path)? {
            let fits: Vec<SnapshotResult> =
                specs.iter().map(|s| fit_snapshot(&snap, s, None)).collect();
            if fits.iter().any(|f| f.fit.expiries.is_empty()) {
                eprintln!("{} {}: a model fitted nothing", snap.underlying, snap.time_iso());
                continue;
            }
            let mut line = tally.add(&fits);
            line["chain"] = format!("{} {}", snap.underlying, snap.time_iso()).into();
            println!("{line}");
            chains += 1;
        }
    }
    tally.print(chains);
    Ok(())
}

/// Median and 99th percentile (sorts `v`).
fn med_p99(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p99 = v.get(((v.len() as f64) * 0.99) as usize).copied().unwrap_or(f64::NAN);
    (median(v), p99)
}

fn rows_by_index(dir: &str) -> Result<(DataSpec, BTreeMap<u64, Row>), String> {
    let dir = std::path::Path::new(dir);
    let bytes =
        std::fs::read(dir.join(SPEC_FILE)).map_err(|e| format!("{}: {e}", dir.display()))?;
    let spec: DataSpec = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let mut rows = BTreeMap::new();
    for c in 0..spec.num_chunks() {
        for r in read_chunk(&spec, &dir.join(DataSpec::chunk_name(c))).map_err(|e| e.to_string())? {
            rows.insert(r.index, r);
        }
    }
    Ok((spec, rows))
}

/// Per maturity (and "all"): d = |net − MC|, d − e, and, with a reference, |MC − ref| and
/// |net − ref| (vol points).
#[derive(Default)]
struct HeldOut {
    d: Vec<f64>,
    excess: Vec<f64>,
    within: usize,
    bias: Vec<f64>,
    vs_ref: Vec<f64>,
}

impl HeldOut {
    fn json(&mut self) -> serde_json::Value {
        let n = self.d.len();
        let (d, d99) = med_p99(&mut self.d);
        let (x, x99) = med_p99(&mut self.excess);
        let (b, b99) = med_p99(&mut self.bias);
        let bmax = self.bias.last().copied();
        let (r, r99) = med_p99(&mut self.vs_ref);
        serde_json::json!({
            "points": n, "median_abs_err_pts": d, "p99_abs_err_pts": d99,
            "median_excess_over_mc_se_pts": x, "p99_excess_over_mc_se_pts": x99,
            "share_within_mc_se_plus_0.2": self.within as f64 / n.max(1) as f64,
            "median_step_bias_pts": b, "p99_step_bias_pts": b99, "max_step_bias_pts": bmax,
            "median_abs_err_vs_reference_pts": r, "p99_abs_err_vs_reference_pts": r99,
        })
    }
}

fn held_out(args: &[String]) -> Result<(), String> {
    let net = Surrogate::load(std::path::Path::new(&arg(args, "--net").ok_or("--net")?))
        .map_err(|e| e.to_string())?;
    let (spec, rows) = rows_by_index(&arg(args, "--data").ok_or("--data")?)?;
    let reference = arg(args, "--reference").map(|d| rows_by_index(&d)).transpose()?;
    let g = spec.grid.len();
    let mut out = vec![0.0; g];
    let mut by: BTreeMap<String, HeldOut> = BTreeMap::new();
    for (index, r) in &rows {
        let errs = r.errs.as_ref().ok_or("not a Monte Carlo data set (no err_* columns)")?;
        net.surface(&r.params, &mut out);
        let refr = reference.as_ref().and_then(|(_, m)| m.get(index));
        for p in 0..g {
            let d = 100.0 * (out[p] - r.ivs[p]).abs();
            let e = 100.0 * errs[p];
            let t = spec.grid.maturities[p / spec.grid.z.len()];
            for label in [format!("t={:.4}", t), "all".to_string()] {
                let h = by.entry(label).or_default();
                h.d.push(d);
                h.excess.push(d - e);
                h.within += usize::from(d <= e + 0.2);
                if let Some(rr) = refr {
                    h.bias.push(100.0 * (r.ivs[p] - rr.ivs[p]).abs());
                    h.vs_ref.push(100.0 * (out[p] - rr.ivs[p]).abs());
                }
            }
        }
    }
    for (label, h) in &mut by {
        println!(
            "{}",
            serde_json::json!({ "maturity": label, "samples": rows.len(), "stats": h.json() })
        );
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result =
        if args.get(1).map(String::as_str) == Some("held-out") { held_out(&args) } else { run() };
    if let Err(e) = result {
        eprintln!("model_compare: {e}");
        std::process::exit(2);
    }
}
