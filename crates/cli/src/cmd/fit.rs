//! `volfit fit FILES… --model M --out DIR`: calibrate a model to every snapshot.
//!
//! Writes `DIR/fit.json` (spec, and per snapshot and expiry the parameters, fit quality,
//! solver outcome, arbitrage verdict and standard errors) and `DIR/residuals.csv` (one row
//! per quote), both atomically, and prints a summary table. Successive snapshots of a
//! partition — (venue, underlying, UTC day) — warm-start from the previous fit
//! (`--warm-start partition`, the default; `chain` reaches across days, `none` starts every
//! snapshot cold); partitions run in parallel.
//!
//! Exit codes: 0 fitted; 1 nothing could be fitted; 2 error.

use super::input::InputArgs;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volfit::fit::{
    fit_series, FitOutput, FitSpec, ModelKind, Ridge, SnapshotResult, SolverKind, WarmStartMode,
};
use volfit::io::{write_atomic, OutDir};
use volfit::market::{Cleaned, FileReport, Snapshot};
use volfit::objective::{ResidualKind, WeightKind};
use volfit::report::html::{write_report, InputsSummary, TraceRecord};
use volfit_optim::loss::LossKind;

/// Arguments of `volfit fit`.
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Model: svi | ssvi | essvi | sabr | heston | bates | rbergomi (rough Bergomi: only
    /// through a net, --surrogate).
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Fit specification (TOML); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Residual: vol | variance | price | coin-price | vega-price | spread | band.
    #[arg(long)]
    pub residual: Option<ResidualKind>,
    /// Weights: uniform | vega | spread | oi | volume, or products such as vega*spread.
    #[arg(long)]
    pub weight: Option<WeightKind>,
    /// Robust loss: mse | huber:S | pseudo-huber:S | soft-l1:S | cauchy:S | arctan:S |
    /// tukey:S | tolerant:A:B (S in residual units, e.g. 0.01 = one vol point).
    #[arg(long)]
    pub loss: Option<LossKind>,
    /// Ridge penalty L[:prev|:zero]: toward the previous snapshot's fit (default) or zero.
    #[arg(long)]
    pub ridge: Option<Ridge>,
    /// Solver: lm | lbfgs | lbfgsb | gd | momentum | nesterov | adam | adamw | rmsprop |
    /// nelder-mead | de | cmaes.
    #[arg(long)]
    pub solver: Option<SolverKind>,
    /// Weight of the static-arbitrage penalty during the fit (SVI slices; SSVI-type surfaces
    /// are arbitrage-free by construction). 0 = check and report only.
    #[arg(long, value_name = "W")]
    pub arbitrage_penalty: Option<f64>,
    /// Per-expiry SVI: enforce calendar no-arbitrage between slices (each refitted, front to
    /// back, above the previous one on k ∈ [−2, 2]; weight from --arbitrage-penalty, else 1).
    #[arg(long)]
    pub calendar: bool,
    /// Number of starts (extra starts from a Sobol sequence around the initial guess).
    #[arg(long)]
    pub starts: Option<usize>,
    /// Seed for global solvers and multi-start.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Iteration limit, at least 1 (first-order methods and Nelder–Mead get 25×). Fits that
    /// stop at it are flagged `converged: false` in fit.json.
    #[arg(long)]
    pub max_iters: Option<u32>,
    /// SABR β: a number in [0, 1], or `free` to fit it.
    #[arg(long, value_name = "BETA")]
    pub sabr_beta: Option<String>,
    /// How far warm starts reach: `partition` (default) within each (venue, underlying, UTC
    /// day), the first snapshot of a day starting cold, so results do not depend on how
    /// whole days are split into runs; `none`: every snapshot cold (no dependence on the
    /// split at all); `chain`: across everything read in this run.
    #[arg(long, value_name = "MODE", default_value = "partition")]
    pub warm_start: WarmStartMode,
    #[command(flatten)]
    pub threads: super::Threads,
    /// Output folder: created if missing; replaced as a whole when the run succeeds (a
    /// folder holding files volfit did not write is refused).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Also write DIR/report.html (see `volfit report`).
    #[arg(long)]
    pub report: bool,
    /// Calibrate through this surrogate net first (from `volfit surrogate train`; its
    /// model must be --model's: heston or bates): LM on the net, then the exact pricer.
    /// Required by rbergomi, which has no exact pricer: the fit is the net's.
    #[arg(long, value_name = "NET")]
    pub surrogate: Option<PathBuf>,
    /// With --surrogate: polish the net's answer with the exact pricer (`--polish false`:
    /// only score it exactly, one exact evaluation, standard errors from the net's
    /// Jacobian; `--polish secant`: Levenberg–Marquardt on the exact residuals
    /// with the net's Jacobian corrected by secant updates, no exact Jacobian).
    #[arg(long, value_name = "true|false|secant", requires = "surrogate", value_parser = parse_polish)]
    pub polish: Option<(bool, volfit::fit::PolishMethod)>,
    /// With --surrogate: stop the exact polish once a step lowers the cost by less than
    /// this share (e.g. 0.01: within about 1 % of the optimal cost); default: the exact
    /// fit's own tolerance.
    #[arg(long, value_name = "X", requires = "surrogate")]
    pub polish_tol: Option<f64>,
}

/// `--polish true|false|secant`: whether to polish, and how.
fn parse_polish(s: &str) -> Result<(bool, volfit::fit::PolishMethod), String> {
    use volfit::fit::PolishMethod;
    match s {
        "true" => Ok((true, PolishMethod::ExactLm)),
        "false" => Ok((false, PolishMethod::ExactLm)),
        "secant" => Ok((true, PolishMethod::Secant)),
        _ => Err(format!("{s:?}: expected true, false or secant")),
    }
}

impl FitArgs {
    /// The spec: the config file (or defaults) with flags applied on top, every value
    /// checked by the one rule set ([`FitSpec::check`]): the file's values when it is read,
    /// the flags' after.
    pub fn spec(&self) -> anyhow::Result<FitSpec> {
        let mut spec = super::input::read_config(self.config.as_deref(), FitSpec::from_toml)?
            .unwrap_or_default();
        self.apply_flags(&mut spec)?;
        spec.check().map_err(|e| match e.flag {
            Some(flag) => anyhow::anyhow!("{flag} {}: {}", e.value, e.rule),
            None => anyhow::anyhow!("{e}"),
        })?;
        Ok(spec)
    }

    fn apply_flags(&self, spec: &mut FitSpec) -> anyhow::Result<()> {
        if let Some(v) = self.model {
            spec.model = v;
        }
        if let Some(v) = self.residual {
            spec.residual = v;
        }
        if let Some(v) = &self.weight {
            spec.weight = v.clone();
        }
        if let Some(v) = self.loss {
            spec.loss = v;
        }
        if let Some(v) = self.ridge {
            spec.ridge = Some(v);
        }
        if let Some(v) = self.solver {
            spec.solver = v;
        }
        if let Some(v) = self.arbitrage_penalty {
            spec.arbitrage_penalty = v;
        }
        if self.calendar {
            spec.calendar = true;
        }
        if let Some(v) = self.starts {
            spec.starts = v;
        }
        if let Some(v) = self.seed {
            spec.seed = v;
        }
        if let Some(v) = self.max_iters {
            anyhow::ensure!(v >= 1, "--max-iters must be at least 1 (0 would fit nothing)");
            spec.max_iters = v;
        }
        anyhow::ensure!(spec.max_iters >= 1, "max_iters must be at least 1 (0 would fit nothing)");
        if let Some(path) = &self.surrogate {
            anyhow::ensure!(
                !(spec.model.net_only() && self.polish.is_some_and(|p| p.0)),
                "--polish {}: --model {} has no exact pricer to polish on",
                self.polish.map_or("true", |p| if p.1 == Default::default() {
                    "true"
                } else {
                    "secant"
                }),
                spec.model
            );
            let (polish, method) =
                self.polish.unwrap_or((!spec.model.net_only(), Default::default()));
            let sg = volfit::fit::SurrogateSpec::load(path, polish)?
                .with_polish_method(method)
                .with_polish_tol(self.polish_tol)
                .map_err(|e| anyhow::anyhow!("--polish-tol: {e}"))?;
            sg.net()?.expect_model(spec.model.name(), path).map_err(|e| {
                anyhow::anyhow!("{e} (--model {}, --surrogate {})", spec.model, path.display())
            })?;
            anyhow::ensure!(
                matches!(spec.model, ModelKind::Heston | ModelKind::Bates | ModelKind::RBergomi),
                "--surrogate: --model {} has no surrogate calibration (heston, bates or rbergomi)",
                spec.model
            );
            spec.surrogate = Some(sg);
        }
        anyhow::ensure!(
            !spec.model.net_only() || spec.surrogate.is_some(),
            "--model {} needs --surrogate NET: rough Bergomi has no pricer of its own and is \
             fitted through a trained net (models/rbergomi.safetensors ships with volfit; \
             `volfit surrogate data --model rbergomi` and `volfit surrogate train` make one)",
            spec.model
        );
        if let Some(b) = &self.sabr_beta {
            spec.sabr_beta = if b == "free" {
                None
            } else {
                let beta: f64 = b.parse().map_err(|_| {
                    anyhow::anyhow!("--sabr-beta {b:?}: a number in [0, 1], or `free`")
                })?;
                Some(beta)
            };
        }
        Ok(())
    }
}

/// Fits every snapshot under the default [`WarmStartMode`] (see [`fit_all_in`]).
pub fn fit_all(snaps: &[Cleaned], spec: &FitSpec, progress: bool) -> Vec<SnapshotResult> {
    fit_all_in(snaps, spec, WarmStartMode::default(), progress)
}

/// Fits every snapshot: warm-start series (underlyings, or partitions, by `mode`) in
/// parallel, the snapshots of one series in time order (each warm-starts from the previous
/// fit).
pub fn fit_all_in(
    snaps: &[Cleaned],
    spec: &FitSpec,
    mode: WarmStartMode,
    progress: bool,
) -> Vec<SnapshotResult> {
    let snapshots: Vec<&Snapshot> = snaps.iter().map(|c| &c.snapshot).collect();
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(snaps.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} snapshots eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    });
    let results = fit_series(&snapshots, spec, mode, &|| {
        if let Some(b) = &bar {
            b.inc(1);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    results
}

/// [`write_outputs_in`] for fits under the default [`WarmStartMode`].
pub fn write_outputs(
    dir: &std::path::Path,
    spec: &FitSpec,
    inputs: &[PathBuf],
    results: &[SnapshotResult],
) -> anyhow::Result<()> {
    write_outputs_in(dir, spec, WarmStartMode::default(), inputs, results)
}

/// Writes `fit.json` (recording the warm-start `mode`), `residuals.csv` and `traces.json`
/// (solver iterates with the diagnostics' warnings) into `dir` (a command's
/// [`volfit::io::OutDir`]).
pub fn write_outputs_in(
    dir: &std::path::Path,
    spec: &FitSpec,
    mode: WarmStartMode,
    inputs: &[PathBuf],
    results: &[SnapshotResult],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let output = FitOutput {
        spec: spec.clone(),
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        warm_start: mode,
        snapshots: results.iter().map(|r| r.fit.clone()).collect(),
    };
    let json = dir.join("fit.json");
    write_atomic(&json, |w: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, &output).map_err(std::io::Error::other)?;
        writeln!(w)
    })
    .with_context(|| format!("writing {}", json.display()))?;
    let csv_path = dir.join("residuals.csv");
    write_atomic(&csv_path, |w: &mut dyn Write| -> std::io::Result<()> {
        let mut out = csv::Writer::from_writer(w);
        for r in results.iter().flat_map(|r| &r.residuals) {
            out.serialize(r)?;
        }
        out.flush()
    })
    .with_context(|| format!("writing {}", csv_path.display()))?;
    let traces = TraceRecord::from_results(results);
    let traces_path = dir.join("traces.json");
    write_atomic(&traces_path, |w: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer(&mut *w, &traces).map_err(std::io::Error::other)?;
        writeln!(w)
    })
    .with_context(|| format!("writing {}", traces_path.display()))?;
    Ok(())
}

/// Writes `inputs.json` (the rejection summary of the input data) into `dir`.
pub fn write_inputs(
    dir: &std::path::Path,
    files: &[FileReport],
    snaps: &[Cleaned],
) -> anyhow::Result<()> {
    let path = dir.join("inputs.json");
    let summary = InputsSummary::new(files, snaps);
    write_atomic(&path, |w: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, &summary).map_err(std::io::Error::other)?;
        writeln!(w)
    })
    .with_context(|| format!("writing {}", path.display()))
}

/// The summary table: one line per snapshot.
pub fn print_summary(results: &[SnapshotResult]) {
    println!(
        "{:<20} {:<4} {:<6} {:>4} {:>6} {:>9} {:>7} {:>5} {:>5} {:>6} {:>9}",
        "snapshot",
        "und",
        "model",
        "exp",
        "quotes",
        "rmse_vol",
        "inside",
        "fly",
        "cal",
        "unconv",
        "time_ms"
    );
    let (mut unconverged, mut fits) = (0, 0);
    for r in results {
        let f = &r.fit;
        let n: usize = f.expiries.iter().map(|e| e.n_quotes).sum();
        let mut rmse: Vec<f64> = f.expiries.iter().map(|e| e.rmse_vol).collect();
        rmse.sort_by(f64::total_cmp);
        let mut inside: Vec<f64> = f.expiries.iter().map(|e| e.inside_spread).collect();
        inside.sort_by(f64::total_cmp);
        let med = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
        let time_ms = if f.surface_params.is_some() {
            f.expiries.first().map_or(0, |e| e.time_us)
        } else {
            f.expiries.iter().map(|e| e.time_us).sum()
        } as f64
            / 1000.0;
        // Surface fits are one fit reported per expiry: count it once.
        let solves =
            if f.surface_params.is_some() { f.expiries.len().min(1) } else { f.expiries.len() };
        let unconv = f.expiries.iter().filter(|e| !e.converged).count().min(solves);
        unconverged += unconv;
        fits += solves;
        let label = |ok: bool| match (f.expiries.is_empty(), ok) {
            (true, _) => "-",
            (false, true) => "ok",
            (false, false) => "VIOL",
        };
        println!(
            "{:<20} {:<4} {:<6} {:>4} {:>6} {:>9.3} {:>7.3} {:>5} {:>5} {:>6} {:>9.2}",
            f.snapshot,
            f.underlying,
            f.model,
            f.expiries.len(),
            n,
            med(&rmse),
            med(&inside),
            label(f.arbitrage.butterfly_ok),
            label(f.arbitrage.calendar_ok),
            unconv,
            time_ms
        );
    }
    let empty = results.iter().filter(|r| r.fit.expiries.is_empty()).count();
    println!(
        "{unconverged} of {fits} fits not converged (stopped at the iteration limit or stalled: \
         converged = false in fit.json); {empty} snapshots with no data (fly/cal \"-\")"
    );
}

/// Runs `volfit fit`.
pub fn run(args: &FitArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let spec = args.spec()?;
    let out = OutDir::create(&args.out)?;
    let pool = args.threads.pool()?;
    let (snaps, reports) = args.input.load(quiet)?;
    let progress = !quiet && std::io::stderr().is_terminal() && snaps.len() > 1;
    let results = pool.install(|| fit_all_in(&snaps, &spec, args.warm_start, progress));
    write_outputs_in(out.path(), &spec, args.warm_start, &args.input.files, &results)?;
    write_inputs(out.path(), &reports, &snaps)?;
    if args.report {
        write_report(out.path()).context("writing the report")?;
    }
    let files = out.commit("fit")?;
    print_summary(&results);
    super::print_written(&args.out, &files, start, quiet);
    let fitted = results.iter().any(|r| !r.fit.expiries.is_empty());
    Ok(if fitted { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
