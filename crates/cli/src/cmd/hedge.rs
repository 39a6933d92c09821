//! `volfit hedge FILES… [--config hedge.toml] --out DIR`: delta-hedging backtest over
//! consecutive snapshots.
//!
//! Each option is held from the first snapshot where it is two-sided and passes the
//! liquidity filter to the end of its run of consecutive snapshots (or its expiry, or
//! `--horizon` steps; an exit is never chosen by later quotes); at every snapshot the
//! smile is re-fitted (warm start) and the Black, smile-adjusted and premium-adjusted deltas
//! are hedged with the perpetual (or `--instrument future`). Writes `DIR/paths.csv` (one row
//! per option path × spec × delta) and `DIR/hedge.json` (config, counts, notices, and the
//! hedging-error distribution per spec × delta × underlying: mean, std, VaR, ES), and
//! `DIR/es_by_maturity.csv` (ES 97.5 % per maturity bucket with bootstrap intervals and the
//! paired difference to `black`). `--policy FILE` adds a trained deep-hedging policy as the
//! method `policy` (see `volfit::deephedge::replay` for how it is applied).
//!
//! Exit codes: 0 paths hedged; 1 no path could be formed; 2 error.

use super::input::InputArgs;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use volfit::deephedge::{Accounting, LoadedPolicy, ReplayPolicy};
use volfit::fit::{FitSpec, ModelKind};
use volfit::hedge::{
    backtest_policy, DeltaKind, Entry, FeeSchedule, FundingHistory, HedgeConfig, HedgeOutput,
    Instrument, InvalidValue, Marks, PathPolicy,
};
use volfit::io::write_atomic;
use volfit::market::{read_perpetuals, PerpPrice};

/// File name of the perpetual price series of the svcj collector.
const PERP_FILE: &str = "perpetual_futures_prices.csv";

/// Help text after the options.
pub const AFTER_HELP: &str = "\
Defaults without --config: every listed option of every underlying in FILES, one SSVI spec,
all three deltas, perpetual hedge rebalanced at every snapshot, Deribit-like fees (options
0.03% of the underlying capped at 12.5% of the premium, perpetual taker 0.05%) and spread
costs, a liquidity filter on entries (spread <= 10 vol pts of vega, |delta| <= 0.6 at the
mark IV; --no-liquidity-filter to enter every two-sided option) and no perpetual funding
(0 per 8 h unless --funding-rate or --funding-file is given; stated in hedge.json).
Deltas are taken on each expiry's forward F and traded in the perpetual as delta*F/P
(premium-adjusted: unscaled). Exits are fixed at entry (horizon, end of run, settlement);
an option not two-sided at its exit closes at its mark. P&L signs: gains positive;
VaR/ES in hedge.json and es_by_maturity.csv are in loss units (larger = riskier).

--policy DIR/policy.safetensors (from `volfit deephedge train`) adds the method `policy`:
the trained network hedges the same paths with the same fees and funding. It was trained
for a short call: features use the option's strike, entry time to expiry and entry model
vol; puts by put-call parity (call hedge - 1); the hedge scales with -quantity (set
quantity = -1 in hedge.toml to replay the trained short position). es_by_maturity.csv
gives ES 97.5% per maturity bucket with bootstrap intervals and the paired difference to
black.

hedge.toml (every key optional):
  instrument = \"perpetual\"      # or \"future\"
  band = 0.05                   # no-trade band: re-set the hedge (fully) only when
                                # |target - held| > band coins of the perpetual/future,
                                # for the whole position (quantity options)
  deltas = [\"black\", \"smile\", \"premium-adjusted\"]
  horizon = 8                   # hold at most 8 snapshot steps
  entry = \"first\"               # or \"every\" (a path from every snapshot)
  marks = \"mid\"                 # or \"exchange\" (Deribit mark price)
  max_gap_hours = 168           # larger gaps start a new run
  underlyings = [\"BTC\"]
  [fees]
  option_taker = 0.0003
  hedge_taker = 0.0005
  [liquidity]
  enabled = true
  max_spread_vol = 0.10         # entry (ask - bid)/vega, vol units
  max_abs_delta = 0.6
  [funding]
  rate_8h = 0.0001              # perpetual funding per 8 h where no history covers a step
  files = { BTC = \"btc_funding.json\" }  # Deribit get_funding_rate_history responses
  [specs.ssvi]
  model = \"ssvi\"
  [specs.svi-huber]
  model = \"svi\"
  loss = \"huber:0.01\"";

/// Arguments of `volfit hedge`.
#[derive(clap::Args, Debug)]
pub struct HedgeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Backtest configuration (TOML); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Perpetual price series (default: `perpetual_futures_prices.csv[.gz]` among FILES or
    /// next to the first of them).
    #[arg(long, value_name = "FILE")]
    pub perp: Option<PathBuf>,
    /// Fit one spec with this model instead of the configured specs.
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Deltas to backtest, comma-separated: black, smile, premium-adjusted.
    #[arg(long, value_delimiter = ',')]
    pub delta: Vec<DeltaKind>,
    /// Hedge instrument: perpetual | future.
    #[arg(long, value_parser = ["perpetual", "future"])]
    pub instrument: Option<String>,
    /// No-trade band in coins of the hedge instrument for the whole position: re-set the
    /// hedge (fully, to its target) only when |target - held| > BAND (default: at every
    /// snapshot).
    #[arg(long, allow_negative_numbers = true)]
    pub band: Option<f64>,
    /// Hold each path at most this many snapshot steps.
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Start a path at every snapshot (overlapping), not only at the first.
    #[arg(long)]
    pub every_entry: bool,
    /// Mark options at the mid (default) or at the exchange mark price.
    #[arg(long, value_parser = ["mid", "exchange"])]
    pub marks: Option<String>,
    /// No fees (spread costs still apply to the net P&L).
    #[arg(long)]
    pub no_fees: bool,
    /// Enter every two-sided option (default: only those with spread <= 10 vol pts of vega
    /// and |delta| <= 0.6 at the mark IV).
    #[arg(long)]
    pub no_liquidity_filter: bool,
    /// Perpetual funding rate per 8 hours (fraction, e.g. 0.0001), where no funding history
    /// covers a step (default 0).
    #[arg(long, value_name = "RATE", allow_negative_numbers = true)]
    pub funding_rate: Option<f64>,
    /// Funding history of a coin's perpetual: a saved response of Deribit's
    /// public/get_funding_rate_history, as COIN=FILE (repeatable).
    #[arg(long, value_name = "COIN=FILE", value_parser = parse_funding_file)]
    pub funding_file: Vec<(String, PathBuf)>,
    #[command(flatten)]
    pub threads: super::Threads,
    /// Output directory (created if missing).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Also write DIR/report.html: spec comparison, P&L histograms with VaR/ES marked, and
    /// hedging error by moneyness and maturity.
    #[arg(long)]
    pub report: bool,
    /// A trained policy (`volfit deephedge train` → DIR/policy.safetensors), replayed as one
    /// more hedge method (`policy`) beside the deltas on the same paths, fees and funding.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The accounting the policy must have been trained in (usd | coin); a policy trained in
    /// the other is refused (default: the policy's own, header `claim.accounting`).
    #[arg(long, value_name = "UNIT", value_parser = ["usd", "coin"], requires = "policy")]
    pub policy_accounting: Option<String>,
}

/// `COIN=FILE` of `--funding-file`.
fn parse_funding_file(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((coin, file)) if !coin.trim().is_empty() && !file.is_empty() => {
            Ok((coin.trim().to_string(), PathBuf::from(file)))
        }
        _ => Err(format!("expected COIN=FILE (e.g. BTC=btc_funding.json), got {s:?}")),
    }
}

/// The CLI flag that sets a configuration key, for errors about a flag's value.
fn flag_of(key: &str) -> &'static str {
    match key.split('.').next().unwrap_or(key) {
        "band" => "--band",
        "horizon" => "--horizon",
        "deltas" => "--delta",
        "policy" => "--policy",
        "funding" if key.starts_with("funding.files") => "--funding-file",
        "funding" => "--funding-rate",
        _ => "a flag",
    }
}

impl HedgeArgs {
    /// The configuration: the config file (or defaults) with flags applied on top. Every
    /// value passes [`HedgeConfig::validate`] (one rule set for file and flags): errors
    /// name the file and key, or the flag.
    pub fn config(&self) -> anyhow::Result<HedgeConfig> {
        let file = self.config.as_deref();
        let mut cfg = super::input::read_config(file, HedgeConfig::from_toml)?.unwrap_or_default();
        if let Some(path) = file {
            cfg.validate().map_err(|e: InvalidValue| anyhow::anyhow!("{}: {e}", path.display()))?;
            // Funding files are relative to the configuration file.
            let dir = path.parent().unwrap_or(Path::new(""));
            for f in cfg.funding.files.values_mut() {
                if f.is_relative() {
                    *f = dir.join(&*f);
                }
            }
        }
        self.apply_flags(&mut cfg);
        if self.policy.is_some() && !cfg.deltas.contains(&DeltaKind::Policy) {
            cfg.deltas.push(DeltaKind::Policy);
        }
        if self.policy.is_none() && cfg.deltas.contains(&DeltaKind::Policy) {
            let from = self
                .config
                .as_ref()
                .map_or("--delta".to_string(), |p| format!("--delta or {} `deltas`", p.display()));
            anyhow::bail!("{from}: the `policy` method needs --policy FILE");
        }
        // Values from the file passed above: a violation now comes from a flag.
        cfg.validate().map_err(|e| anyhow::anyhow!("{}: {e}", flag_of(&e.key)))?;
        Ok(cfg)
    }

    fn apply_flags(&self, cfg: &mut HedgeConfig) {
        if let Some(m) = self.model {
            cfg.specs = [(m.name().to_string(), FitSpec { model: m, ..FitSpec::default() })].into();
        }
        if !self.delta.is_empty() {
            cfg.deltas = self.delta.clone();
        }
        if let Some(i) = &self.instrument {
            cfg.instrument = if i == "future" { Instrument::Future } else { Instrument::Perpetual };
        }
        if let Some(b) = self.band {
            cfg.band = Some(b);
        }
        if let Some(h) = self.horizon {
            cfg.horizon = Some(h);
        }
        if self.every_entry {
            cfg.entry = Entry::Every;
        }
        if let Some(m) = &self.marks {
            cfg.marks = if m == "exchange" { Marks::Exchange } else { Marks::Mid };
        }
        if self.no_fees {
            cfg.fees = FeeSchedule::zero();
        }
        if self.no_liquidity_filter {
            cfg.liquidity.enabled = false;
        }
        if let Some(r) = self.funding_rate {
            cfg.funding.rate_8h = Some(r);
        }
        for (coin, file) in &self.funding_file {
            cfg.funding.files.insert(coin.clone(), file.clone());
        }
    }
}

/// The funding histories named in the configuration.
fn load_funding(cfg: &HedgeConfig) -> anyhow::Result<FundingHistory> {
    let mut history = FundingHistory::default();
    for (coin, path) in &cfg.funding.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the {coin} funding history {}", path.display()))?;
        history.add_json(coin, &text, &path.display().to_string())?;
    }
    Ok(history)
}

fn is_perp_file(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PERP_FILE))
}

/// Perpetual prices: `--perp`, else the perp file among or next to the inputs, else none.
fn load_perps(args: &HedgeArgs, quiet: bool) -> anyhow::Result<(Vec<PerpPrice>, Option<PathBuf>)> {
    let found = args.perp.clone().or_else(|| {
        args.input.files.iter().find(|p| is_perp_file(p)).cloned().or_else(|| {
            let dir = args.input.files.iter().find(|p| !is_perp_file(p))?.parent()?;
            [format!("{PERP_FILE}.gz"), PERP_FILE.to_string()]
                .into_iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
        })
    });
    match found {
        Some(p) => {
            let perps = read_perpetuals(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok((perps, Some(p)))
        }
        None => {
            if !quiet {
                eprintln!(
                    "volfit: no perpetual price file; every step is hedged with the \
                     nearest-expiry forward from the snapshots"
                );
            }
            Ok((Vec::new(), None))
        }
    }
}

/// The `--policy` file, loaded and checked against `--policy-accounting`.
fn load_policy(args: &HedgeArgs) -> anyhow::Result<Option<ReplayPolicy>> {
    let Some(path) = &args.policy else { return Ok(None) };
    let accounting = match args.policy_accounting.as_deref() {
        Some("coin") => Some(Accounting::Coin),
        Some(_) => Some(Accounting::Usd),
        None => None,
    };
    let loaded = LoadedPolicy::read(path)?;
    Ok(Some(ReplayPolicy::new(loaded, &path.display().to_string(), accounting)?))
}

/// Writes `es_by_maturity.csv` into `dir`.
fn write_es(dir: &Path, out: &HedgeOutput) -> anyhow::Result<()> {
    let path = dir.join("es_by_maturity.csv");
    write_atomic(&path, |w: &mut dyn Write| -> std::io::Result<()> {
        let mut wr = csv::Writer::from_writer(w);
        for r in &out.es_by_maturity {
            wr.serialize(r)?;
        }
        wr.flush()
    })
    .with_context(|| format!("writing {}", path.display()))
}

/// Writes `paths.csv` and `hedge.json` into `dir`.
pub fn write_outputs(
    dir: &Path,
    out: &HedgeOutput,
    inputs: &[PathBuf],
    perp: Option<&Path>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let csv_path = dir.join("paths.csv");
    write_atomic(&csv_path, |w: &mut dyn Write| -> std::io::Result<()> {
        let mut wr = csv::Writer::from_writer(w);
        for p in &out.paths {
            wr.serialize(p)?;
        }
        wr.flush()
    })
    .with_context(|| format!("writing {}", csv_path.display()))?;
    let json = dir.join("hedge.json");
    let doc = serde_json::json!({
        "inputs": inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "perpetual_prices": perp.map(|p| p.display().to_string()),
        "sign_convention": "P&L gains positive; var/es in loss units (larger = riskier)",
        "result": out,
    });
    write_atomic(&json, |w: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, &doc).map_err(std::io::Error::other)?;
        writeln!(w)
    })
    .with_context(|| format!("writing {}", json.display()))?;
    Ok(())
}

/// One line per spec × delta × underlying.
pub fn print_summary(out: &HedgeOutput) {
    println!(
        "{:<12} {:<16} {:<4} {:>6} {:>11} {:>11} {:>11} {:>11} {:>10} {:>10} {:>11}",
        "spec",
        "delta",
        "und",
        "paths",
        "unhedg_std",
        "mean_usd",
        "std_usd",
        "es975_usd",
        "std_coin",
        "es975_coin",
        "net_mean_usd"
    );
    for s in &out.summary {
        println!(
            "{:<12} {:<16} {:<4} {:>6} {:>11.2} {:>11.2} {:>11.2} {:>11.2} {:>10.3e} {:>10.3e} {:>11.2}",
            s.spec,
            s.delta.name(),
            s.underlying,
            s.paths,
            s.unhedged_usd.std,
            s.pnl_usd.mean,
            s.pnl_usd.std,
            s.pnl_usd.es_975,
            s.pnl_coin.std,
            s.pnl_coin.es_975,
            s.pnl_usd_net.mean,
        );
    }
}

/// The policy against black per maturity bucket, in the policy's net accounting column.
fn print_policy_es(out: &HedgeOutput) {
    let Some(acc) = out.policy.as_ref().and_then(|p| p["accounting"].as_str()) else { return };
    let col = if acc == "coin" { "pnl_coin_net" } else { "pnl_usd_net" };
    println!(
        "\nES 97.5% of {col} by maturity, policy vs black (bootstrap 95% intervals, loss units)"
    );
    println!(
        "{:<12} {:<4} {:<7} {:>6} {:>24} {:>12} {:>26}",
        "spec", "und", "bucket", "paths", "es975 policy [lo, hi]", "es975 black", "diff [lo, hi]"
    );
    let rows = out.es_by_maturity.iter().filter(|r| r.delta == DeltaKind::Policy && r.pnl == col);
    for r in rows {
        let black = out
            .es_by_maturity
            .iter()
            .find(|b| {
                b.delta == DeltaKind::Black
                    && b.pnl == col
                    && (&b.spec, &b.underlying, b.maturity) == (&r.spec, &r.underlying, r.maturity)
            })
            .map_or(f64::NAN, |b| b.es975);
        println!(
            "{:<12} {:<4} {:<7} {:>6} {:>24} {:>12.4e} {:>26}",
            r.spec,
            r.underlying,
            r.maturity,
            r.paths,
            format!("{:.4e} [{:.3e}, {:.3e}]", r.es975, r.es975_lo95, r.es975_hi95),
            black,
            format!("{:+.3e} [{:+.2e}, {:+.2e}]", r.diff_vs_black, r.diff_lo95, r.diff_hi95),
        );
    }
}

/// Runs `volfit hedge`.
pub fn run(args: &HedgeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let cfg = args.config()?;
    let policy = load_policy(args)?;
    let dir = volfit::io::OutDir::create(&args.out)?;
    let (perps, perp_path) = load_perps(args, quiet)?;
    let mut input = args.input.clone();
    input.files.retain(|p| !is_perp_file(p));
    anyhow::ensure!(!input.files.is_empty(), "no option snapshot among the input files");
    let (snaps, _reports) = input.load(quiet)?;
    let snapshots: Vec<_> = snaps.into_iter().map(|c| c.snapshot).collect();
    let pool = args.threads.pool()?;
    let funding = load_funding(&cfg)?;
    let replay = policy.as_ref().map(|p| p as &dyn PathPolicy);
    let out = pool.install(|| backtest_policy(&snapshots, &perps, &funding, &cfg, replay));
    write_outputs(dir.path(), &out, &input.files, perp_path.as_deref())?;
    write_es(dir.path(), &out)?;
    if args.report {
        volfit::report::hedge::write_report(dir.path(), &out)
            .with_context(|| format!("writing the report in {}", args.out.display()))?;
    }
    let files = dir.commit("hedge")?;
    if !quiet {
        for n in &out.notices {
            eprintln!("notice: {n}");
        }
        let excluded: usize = out.counts.liquidity_excluded.values().sum();
        eprintln!("liquidity filter: {} ({excluded} options excluded)", out.liquidity_filter);
        for (und, f) in &out.funding {
            eprintln!("funding {und}: {f}");
        }
    }
    print_summary(&out);
    print_policy_es(&out);
    super::print_written(&args.out, &files, start, quiet);
    Ok(if out.paths.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
