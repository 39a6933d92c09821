//! Model comparison on the real chains (issue 18): rough Bergomi through its net against
//! Heston and Bates (exact pricers), SSVI and per-expiry SVI, each fitted by `fit_snapshot`
//! (the code of `volfit fit --model M`, default spec: vol residuals, LM, cold start) on every
//! snapshot of `../shared/data/svcj_deribit_2026/*.csv.gz` (BTC and ETH).
//!
//! ```text
//! model_compare --net models/rbergomi.safetensors [--files N]
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
//! A sixth row, `rbergomi_xi0_per_expiry` ([`xi0_per_expiry`]), refits rough Bergomi with
//! H, η, ρ shared and **one flat ξ₀ per expiry**, each expiry's smile read from the net at
//! its own ξ₀: the term structure of the ATM level is free, as SSVI's θ(t) is, so the row
//! says whether rough Bergomi's *smile shape* fits crypto's short end. It is an
//! approximation to a forward-variance curve ξ₀(t) (exact only where ξ₀ is flat up to each
//! expiry), measured here, not a model `volfit fit` offers.
//!
//! The net's held-out accuracy is measured by `rbergomi_bias held-out`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use volfit::fit::{fit_snapshot, FitSpec, ModelKind, ResidualRow, SnapshotResult, SurrogateSpec};
use volfit::market::{OptionType, Snapshot};
use volfit::model::{maturity_bucket, MATURITY_BUCKETS};
use volfit_bench::args::arg;
use volfit_bench::slices::{load_snapshots, median, svcj_files};
use volfit_bench::xi0_per_expiry;

/// The sixth row's name (see the module docs).
const XI0_ROW: &str = "rbergomi_xi0_per_expiry";

const MODELS: [ModelKind; 5] =
    [ModelKind::RBergomi, ModelKind::Heston, ModelKind::Bates, ModelKind::Ssvi, ModelKind::Svi];

/// A quote's identity across fits.
fn key(r: &ResidualRow) -> (String, u64, OptionType) {
    (r.expiry.clone(), r.strike.to_bits(), r.kind)
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
        self.add_iv(r.model_iv, r.mid_iv, r.bid_iv, r.ask_iv);
    }
    fn add_iv(&mut self, model: f64, mid: Option<f64>, bid: Option<f64>, ask: Option<f64>) {
        if let Some(mid) = mid {
            self.se += (model - mid).powi(2);
            self.n += 1;
        }
        if let (Some(b), Some(a)) = (bid, ask) {
            self.banded += 1;
            self.inside += usize::from(model >= b && model <= a);
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

/// Per row (a model's name): accumulators by bucket on the common quotes ("all" too), on
/// the model's own quotes, and its fit times.
#[derive(Default)]
struct Tally {
    common: HashMap<(&'static str, &'static str), Acc>,
    own: HashMap<&'static str, Acc>,
    ms: HashMap<&'static str, Vec<f64>>,
}

impl Tally {
    /// Scores the fits of one snapshot (in [`MODELS`] order; rough Bergomi first).
    fn add(&mut self, fits: &[SnapshotResult]) -> serde_json::Value {
        let grid: HashSet<_> = fits[0].residuals.iter().map(key).collect();
        let mut line = serde_json::Map::new();
        for (m, r) in MODELS.iter().zip(fits) {
            let mut chain = Acc::default();
            for row in &r.residuals {
                self.own.entry(m.name()).or_default().add(row);
                if grid.contains(&key(row)) {
                    chain.add(row);
                    self.common.entry((m.name(), maturity_bucket(row.t))).or_default().add(row);
                    self.common.entry((m.name(), "all")).or_default().add(row);
                }
            }
            self.ms.entry(m.name()).or_default().push(fit_ms(r));
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

    /// Fits and scores the per-expiry-ξ₀ row on the flat fit's quotes (`flat`: rough
    /// Bergomi's fit of `snap`).
    fn add_xi0(
        &mut self,
        snap: &Snapshot,
        spec: &FitSpec,
        net: &volfit::surrogate::Surrogate,
        flat: &SnapshotResult,
    ) -> serde_json::Value {
        let Some(p) = &flat.fit.surface_params else { return serde_json::Value::Null };
        let x: Vec<f64> =
            net.info().params.iter().map(|n| p.get(n).copied().unwrap_or(f64::NAN)).collect();
        let (targets, labels, ranges) = xi0_per_expiry::grid_targets(snap, spec, net);
        let common: HashSet<_> = flat.residuals.iter().map(key).collect();
        let cal = match xi0_per_expiry::fit(net, spec, &targets, ranges, &x) {
            Ok(c) => c,
            Err(e) => return format!("{e}").into(),
        };
        let mut chain = Acc::default();
        for ((q, label), &v) in targets.iter().zip(&labels).zip(&cal.model_vols) {
            let acc = [(XI0_ROW, maturity_bucket(q.t)), (XI0_ROW, "all")];
            self.own.entry(XI0_ROW).or_default().add_iv(v, q.mid_iv, q.bid_iv, q.ask_iv);
            if common.contains(&(label.clone(), q.strike.to_bits(), q.kind)) {
                chain.add_iv(v, q.mid_iv, q.bid_iv, q.ask_iv);
                for k in acc {
                    self.common.entry(k).or_default().add_iv(v, q.mid_iv, q.bid_iv, q.ask_iv);
                }
            }
        }
        let ms = cal.time_us as f64 / 1000.0;
        self.ms.entry(XI0_ROW).or_default().push(ms);
        let names = [&net.info().params[..3], &["xi0 per expiry".to_string()]].concat();
        let shared: serde_json::Map<_, _> =
            names.iter().zip(&cal.x).map(|(n, v)| (n.clone(), (*v).into())).collect();
        serde_json::json!({
            "rmse_common_pts": chain.rmse_pts(), "quotes_common": chain.n,
            "inside_common": chain.inside_share(), "fit_ms": ms, "shared": shared,
            "xi0": &cal.x[3..],
        })
    }

    fn print(&self, chains: usize) {
        let buckets: Vec<&str> = MATURITY_BUCKETS.iter().copied().chain(["all"]).collect();
        println!("\n{chains} chains; common quotes = those inside the rough Bergomi net's grid.");
        println!("\nRMSE vs mid (vol pts) | share inside bid/ask, common quotes:\n");
        println!("| model | {} |", buckets.join(" | "));
        println!("|---|{}", "---|".repeat(buckets.len()));
        for m in rows() {
            let cells: Vec<String> = buckets
                .iter()
                .map(|b| {
                    let a = self.common.get(&(m, *b)).copied().unwrap_or_default();
                    format!("{:.2} \\| {:.0} % (n={})", a.rmse_pts(), 100.0 * a.inside_share(), a.n)
                })
                .collect();
            println!("| {m} | {} |", cells.join(" | "));
        }
        println!(
            "\n| model | RMSE own quotes (vol pts) | own quotes | median fit ms | p90 fit ms |"
        );
        println!("|---|---|---|---|---|");
        for m in rows() {
            let a = self.own.get(&m).copied().unwrap_or_default();
            let mut t = self.ms.get(&m).cloned().unwrap_or_default();
            t.sort_by(f64::total_cmp);
            let p90 = t.get((t.len() * 9) / 10).copied().unwrap_or(f64::NAN);
            println!("| {m} | {:.2} | {} | {:.2} | {:.2} |", a.rmse_pts(), a.n, median(&t), p90);
        }
    }
}

/// The table's rows: the models, then the per-expiry-ξ₀ refit.
fn rows() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|m| m.name()).chain([XI0_ROW])
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let net = PathBuf::from(arg(&args, "--net").ok_or("--net FILE is required")?);
    let files: usize =
        arg(&args, "--files").map_or(Ok(usize::MAX), |v| v.parse()).map_err(|_| "--files")?;
    let sg = SurrogateSpec::load(&net, false).map_err(|e| e.to_string())?;
    let net = sg.net().map_err(|e| e.to_string())?;
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
            line[XI0_ROW] = tally.add_xi0(&snap, &specs[0], &net, &fits[0]);
            line["chain"] = format!("{} {}", snap.underlying, snap.time_iso()).into();
            println!("{line}");
            chains += 1;
        }
    }
    tally.print(chains);
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("model_compare: {e}");
        std::process::exit(2);
    }
}
