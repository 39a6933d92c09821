//! `volfit allocate [FILES…] --book candidates.toml --config alloc.toml --out DIR`: choose
//! position sizes over a candidate book of options and futures to maximise reward − λ·risk
//! under position, per-coin, budget and coin-margin constraints (`volfit::alloc`).
//!
//! Snapshots come from FILES, else from `files = [...]` in alloc.toml, else from the
//! built-in synthetic BTC and ETH chains (written into DIR), so it runs with no data.
//! Scenarios are built by `volfit::scenario::build` from the `[scenarios]` table. Writes
//! DIR/allocation.csv, DIR/frontier.csv, DIR/allocation.json, DIR/contributions.csv
//! (marginal risks and Euler terms) and DIR/report.html (atomically) and prints a summary.
//!
//! Exit codes: 0 allocated; 2 error (bad input, infeasible or unbounded problem).

use super::input::InputArgs;
use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use volfit::alloc::{self, Budget, Group, Position, Problem, RewardSpec, Settings};
use volfit::io::write_atomic;
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::Snapshot;
use volfit::report::alloc::{write_all, AllocOutput, CandidateRow};
use volfit::risk::RiskMeasure;
use volfit::scenario::{self, Book, CandidateKind, ScenarioConfig, ScenarioSet};

/// Help text after the options.
pub const AFTER_HELP: &str = "\
alloc.toml (every key but [scenarios] optional; see examples/alloc/alloc.toml):
  reward = \"expected\"          # or \"cara:a\", \"crra:gamma:wealth\" (non-convex: L-BFGS-B path)
  risk = \"es:0.95\"             # or \"spectral-exp:k\", \"spectral-pow:gamma\" (CVaR mixture)
  lambda = 1.0
  frontier = [0.1, 0.5, 1, 2, 5]
  levels = 8                   # CVaR levels of a spectral measure
  spread_costs = true          # charge half the bid-ask spread per unit traded
  files = [\"../shared/data/svcj_deribit_2026/deribit_options_snapshot_….csv.gz\"]
  [budget]
  net = 50000                  # net premium paid, USD
  gross = 500000
  [collateral]                 # coin; initial margin <= collateral per coin
  BTC = 2.0
  ETH = 30.0
  [net_limit]                  # |sum of units| per coin
  BTC = 20
  [gross_limit]                # sum of |units| per coin
  BTC = 100
  [scenarios]                  # volfit::scenario::ScenarioConfig
  kind = \"historical\"";

/// Arguments of `volfit allocate`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("files", |a| a.required(false)))]
pub struct AllocateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Candidate book (TOML: `[[instrument]]` and `[[select]]` tables).
    #[arg(long, value_name = "FILE")]
    pub book: PathBuf,
    /// Allocation settings (TOML, see below).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Override `lambda` of the config.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Output directory (created if missing).
    #[arg(long, short)]
    pub out: PathBuf,
}

/// The alloc.toml file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocConfig {
    /// `expected`, `cara:a` or `crra:gamma:wealth`.
    #[serde(default = "default_reward")]
    pub reward: String,
    /// Risk measure spec (`es:α`, `spectral-exp:k`, `spectral-pow:γ`, …).
    #[serde(default = "default_risk")]
    pub risk: String,
    /// Risk aversion λ.
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// λ grid of the efficient frontier (default: λ·{0.1, 0.25, 0.5, 1, 2, 4, 10}).
    #[serde(default)]
    pub frontier: Vec<f64>,
    /// CVaR levels approximating a spectral measure.
    #[serde(default = "default_levels")]
    pub levels: usize,
    /// Charge half-spread costs.
    #[serde(default)]
    pub spread_costs: bool,
    /// Snapshot files when none are given on the command line.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Premium budget, USD.
    #[serde(default)]
    pub budget: Budget,
    /// Collateral per coin, in coin.
    #[serde(default)]
    pub collateral: BTreeMap<String, f64>,
    /// Net unit limit per coin.
    #[serde(default)]
    pub net_limit: BTreeMap<String, f64>,
    /// Gross unit limit per coin.
    #[serde(default)]
    pub gross_limit: BTreeMap<String, f64>,
    /// clarabel's LDLᵀ method (`faer` or `qdldl`).
    #[serde(default)]
    pub linear_solver: Option<String>,
    /// How scenarios are made.
    pub scenarios: ScenarioConfig,
}

fn default_reward() -> String {
    "expected".into()
}
fn default_risk() -> String {
    "es:0.95".into()
}
fn default_lambda() -> f64 {
    1.0
}
fn default_levels() -> usize {
    8
}

impl AllocConfig {
    /// Parses alloc.toml text (errors carry the line and the field).
    ///
    /// # Errors
    /// The TOML error.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Solver settings from the config.
    fn settings(&self) -> anyhow::Result<Settings> {
        let reward: RewardSpec =
            self.reward.parse().map_err(|e: String| anyhow::anyhow!("field `reward`: {e}"))?;
        let risk: RiskMeasure =
            self.risk.parse().map_err(|e| anyhow::anyhow!("field `risk`: {e}"))?;
        anyhow::ensure!(
            self.lambda.is_finite() && self.lambda >= 0.0,
            "field `lambda`: {} must be finite and >= 0",
            self.lambda
        );
        anyhow::ensure!(self.levels >= 1, "field `levels` must be >= 1");
        Ok(Settings {
            reward,
            risk,
            lambda: self.lambda,
            levels: self.levels,
            spread_costs: self.spread_costs,
            linear_solver: self.linear_solver.clone().unwrap_or_else(|| "faer".into()),
            ..Settings::default()
        })
    }
}

/// The allocation problem of a scenario set under the config's limits; notices for coins
/// configured but absent from the book.
fn problem(set: &ScenarioSet, cfg: &AllocConfig) -> anyhow::Result<(Problem, Vec<String>)> {
    let mut notices = Vec::new();
    let mut coins: Vec<String> = Vec::new();
    for c in &set.candidates {
        let name = c.coin.to_string();
        if !coins.contains(&name) {
            coins.push(name);
        }
    }
    for (what, map) in [
        ("collateral", &cfg.collateral),
        ("net_limit", &cfg.net_limit),
        ("gross_limit", &cfg.gross_limit),
    ] {
        for k in map.keys() {
            if !coins.contains(k) {
                notices
                    .push(format!("[{what}] {k}: no candidate of this coin in the book; ignored"));
            }
        }
    }
    let groups = coins
        .iter()
        .map(|coin| {
            let grid = set.margin.iter().find(|g| g.coin.to_string() == *coin);
            let collateral = cfg.collateral.get(coin).copied();
            if collateral.is_some() && grid.is_none() {
                anyhow::bail!("[collateral] {coin}: the scenario set has no margin grid for it");
            }
            if collateral.is_none() {
                notices.push(format!(
                    "{coin}: no collateral configured; margin is reported, not limited"
                ));
            }
            Ok(Group {
                name: coin.clone(),
                net_limit: cfg.net_limit.get(coin).copied(),
                gross_limit: cfg.gross_limit.get(coin).copied(),
                collateral,
                margin: grid.map(|g| g.pnl_coin.clone()),
                price_usd: set
                    .coin_price_usd
                    .iter()
                    .find(|(c, _)| c.to_string() == *coin)
                    .map(|(_, p)| *p),
            })
        })
        .collect::<anyhow::Result<Vec<Group>>>()?;
    let positions = set
        .candidates
        .iter()
        .map(|c| Position {
            name: c.name.clone(),
            group: coins.iter().position(|k| *k == c.coin.to_string()).unwrap_or(0),
            price_usd: c.price_usd,
            spread_usd: c.spread_usd,
            min: c.min,
            max: c.max,
        })
        .collect();
    let p = Problem {
        pnl: set.pnl.clone(),
        probs: set.probs.clone(),
        positions,
        groups,
        budget: cfg.budget,
    };
    Ok((p, notices))
}

fn kind_name(k: &CandidateKind) -> String {
    match k {
        CandidateKind::Option { is_call: true, .. } => "call".into(),
        CandidateKind::Option { .. } => "put".into(),
        CandidateKind::Future { .. } => "future".into(),
        CandidateKind::Perpetual => "perpetual".into(),
    }
}

/// The built-in synthetic BTC and ETH chains, written into `dir` and read back.
fn synthetic_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (coin, spot, seed) in [("BTC", 90_000.0, 42u64), ("ETH", 3_000.0, 43)] {
        let chain =
            generate(&SynthSpec { seed, underlying: coin.into(), spot, ..SynthSpec::default() });
        let path = dir.join(format!("synth_{}.csv", coin.to_lowercase()));
        write_atomic(&path, |w| chain.write_csv(w))
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

/// Runs `volfit allocate`.
pub fn run(args: &AllocateArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let cfg_text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let mut cfg = AllocConfig::from_toml(&cfg_text)
        .with_context(|| format!("in {}", args.config.display()))?;
    if let Some(l) = args.lambda {
        cfg.lambda = l;
    }
    let settings = cfg.settings().with_context(|| format!("in {}", args.config.display()))?;
    let book_text = std::fs::read_to_string(&args.book)
        .with_context(|| format!("reading {}", args.book.display()))?;
    let book = Book::from_toml(&book_text, &args.book)?;
    let dir = volfit::io::OutDir::create(&args.out)?;

    let mut input = args.input.clone();
    let mut notices = Vec::new();
    if input.files.is_empty() {
        if cfg.files.is_empty() {
            input.files = synthetic_files(dir.path())?;
            notices.push("no snapshot files given: built-in synthetic BTC and ETH chains".into());
        } else {
            // Relative paths in the config are relative to the config file.
            let base = args.config.parent().unwrap_or(Path::new("."));
            input.files = cfg.files.iter().map(|f| base.join(f)).collect();
        }
    }
    let (cleaned, _) = input.load(quiet)?;
    let snapshots: Vec<Snapshot> = cleaned.into_iter().map(|c| c.snapshot).collect();
    anyhow::ensure!(!snapshots.is_empty(), "no snapshot could be read from the inputs");
    let set = scenario::build(&book, &cfg.scenarios, &snapshots)?;
    let (problem, more) = problem(&set, &cfg)?;
    notices.extend(more);

    let lambdas: Vec<f64> = if cfg.frontier.is_empty() {
        [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0].iter().map(|m| m * cfg.lambda.max(0.1)).collect()
    } else {
        cfg.frontier.clone()
    };
    // One bar over the LP solves: the chosen λ, then each frontier point.
    let (allocation, frontier) = super::with_counted("allocating (λ points)", quiet, |p| {
        p(0, 1 + lambdas.len());
        let allocation = alloc::solve(&problem, &settings)?;
        p(1, 1 + lambdas.len());
        let points = alloc::frontier_with_progress(&problem, &settings, &lambdas, &|d, n| {
            p(1 + d, 1 + n);
        })?;
        anyhow::Ok((allocation, points))
    })?;
    let frontier: Vec<_> = frontier.into_iter().map(|f| f.0).collect();
    notices.extend(risk_notices(&allocation, &settings));
    write_contributions(&dir.path().join("contributions.csv"), &set, &allocation)?;

    let config: toml::Value = toml::from_str(&cfg_text).context("re-reading the config")?;
    let candidates = set
        .candidates
        .iter()
        .map(|c| CandidateRow {
            name: c.name.clone(),
            coin: c.coin.to_string(),
            kind: kind_name(&c.kind),
            price_usd: c.price_usd,
            spread_usd: c.spread_usd,
            underlying_price_usd: c.underlying_price_usd,
            theta_usd_per_day: c.theta_usd_per_day,
            min: c.min,
            max: c.max,
        })
        .collect();
    let book = volfit::report::alloc::book_view(
        &set,
        &problem.pnl,
        problem.probs.as_deref(),
        &allocation.x,
    );
    let out = AllocOutput {
        config: serde_json::to_value(&config).context("config echo")?,
        candidates,
        allocation,
        frontier,
        provenance: set.provenance.clone(),
        scenarios: problem.pnl.rows(),
        notices,
        book,
    };
    write_all(dir.path(), &out).with_context(|| format!("writing into {}", args.out.display()))?;
    let files = dir.commit("allocate")?;
    if !quiet {
        print_summary(&out);
    }
    super::print_written(&args.out, &files, start, quiet);
    Ok(ExitCode::SUCCESS)
}

/// What the risk numbers are: the spectral LP's gap to the exact value, and whether the
/// Euler contributions add up (issue 14 items 8 and 9).
fn risk_notices(a: &alloc::Allocation, settings: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    if matches!(settings.risk, RiskMeasure::Spectral(_)) && a.risk_lp.is_finite() {
        out.push(format!(
            "spectral risk: the LP's mixture of {} CVaR levels is {:.3} % below the exact \
             value of the portfolio (risk {:.2}, LP {:.2}; refined until below {} %)",
            a.solver.levels,
            100.0 * a.solver.risk_gap,
            a.risk,
            a.risk_lp,
            100.0 * settings.spectral_gap
        ));
    }
    if !a.contributions_additive {
        let sum: f64 = a.contributions.iter().sum();
        out.push(format!(
            "risk contributions: {} is not positively homogeneous, so the Euler contributions \
             x·∂ρ/∂x do not sum to the risk ({sum:.2} vs {:.2}); read the marginal risks ∂ρ/∂x \
             (contributions.csv, column marginal)",
            settings.risk, a.risk
        ));
    }
    out
}

/// DIR/contributions.csv: per candidate, position, marginal risk ∂ρ/∂x and Euler term.
fn write_contributions(
    path: &Path,
    set: &ScenarioSet,
    a: &alloc::Allocation,
) -> anyhow::Result<()> {
    write_atomic(path, |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        writeln!(w, "candidate,coin,x,marginal,euler,euler_sums_to_risk")?;
        for (i, c) in set.candidates.iter().enumerate() {
            writeln!(
                w,
                "{},{},{},{},{},{}",
                c.name, c.coin, a.x[i], a.marginal[i], a.contributions[i], a.contributions_additive
            )?;
        }
        Ok(())
    })
    .with_context(|| format!("writing {}", path.display()))
}

fn print_summary(out: &AllocOutput) {
    let a = &out.allocation;
    println!(
        "volfit allocate: {} candidates × {} scenarios; {}",
        out.candidates.len(),
        out.scenarios,
        out.provenance
    );
    for n in &out.notices {
        println!("  notice: {n}");
    }
    println!(
        "  λ {}  reward {:.2}  E[P&L] {:.2} USD  cost {:.2}  risk {:.2} (LP {:.2})",
        a.lambda, a.reward, a.expected_pnl, a.cost, a.risk, a.risk_lp
    );
    println!(
        "  premium net {:.2} / gross {:.2} USD; solver {} {} ({} iterations, {} rounds, {:.2} s)",
        a.premium_net,
        a.premium_gross,
        a.solver.method,
        a.solver.status,
        a.solver.iterations,
        a.solver.rounds,
        a.solver.seconds
    );
    for m in &a.margin {
        let c = m.collateral.map_or("unlimited".to_string(), |c| format!("{c}"));
        println!("  margin {}: {:.4} of {c} coin", m.coin, m.used);
    }
    let mut order: Vec<usize> = (0..a.x.len()).filter(|&i| a.x[i].abs() > 1e-9).collect();
    order.sort_by(|&i, &j| a.x[j].abs().total_cmp(&a.x[i].abs()));
    // Euler terms only where they add up to the risk; marginal risks always.
    let contrib = if a.contributions_additive { "risk_contrib" } else { "euler(no sum)" };
    println!(
        "  {:<28} {:>5} {:>10} {:>12} {:>14} {:>12}",
        "candidate", "coin", "x", "price_usd", contrib, "marginal"
    );
    for &i in order.iter().take(20) {
        let c = &out.candidates[i];
        println!(
            "  {:<28} {:>5} {:>10.4} {:>12.2} {:>14.2} {:>12.4}",
            c.name, c.coin, a.x[i], c.price_usd, a.contributions[i], a.marginal[i]
        );
    }
    if order.len() > 20 {
        println!("  … {} more nonzero positions in allocation.csv", order.len() - 20);
    }
    println!(
        "  binding: {}",
        if a.binding.is_empty() { "none".into() } else { a.binding.join(", ") }
    );
}
