//! `volfit`: command-line front end. Thin: parse, call the library, print.
//!
//! Exit codes: 0 success, 1 the command ran but produced no usable result (e.g. no quote
//! survived cleaning), 2 error (bad input, I/O, usage).

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Loss-function optimization for crypto-option pricing models: read Deribit chains, clean
/// them, invert implied vols, fit volatility models by robust loss minimisation.
#[derive(Parser, Debug)]
#[command(name = "volfit", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// No progress bars; print nothing but results and errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Allocate over a candidate book of BTC/ETH options and futures: maximise reward −
    /// λ·risk (CVaR or spectral, by LP) under position, per-coin, premium-budget and
    /// coin-margin constraints; writes DIR/allocation.csv, frontier.csv, allocation.json and
    /// report.html.
    #[command(after_help = cmd::allocate::AFTER_HELP)]
    Allocate(cmd::allocate::AllocateArgs),
    /// Read option chains (Deribit, Tardis, OptionsDX, JSON, mapped CSV) and write cleaned
    /// quotes with implied vols plus a rejection summary.
    #[command(after_help = cmd::quotes::AFTER_HELP)]
    Quotes(cmd::quotes::Args),
    /// The whole job on the built-in synthetic Deribit-like chain: synth, read, clean, invert
    /// IVs, fit SSVI and SVI, and report how well the known truth was recovered.
    Demo(cmd::demo::DemoArgs),
    /// Calibrate a volatility model to every snapshot (robust loss, any solver); writes
    /// DIR/fit.json and DIR/residuals.csv.
    Fit(cmd::fit::FitArgs),
    /// Write DIR/report.html: one self-contained HTML page of charts and tables from a fit's
    /// output directory.
    Report(cmd::report::ReportArgs),
    /// Implied Black-76 volatilities of a CSV of prices (forward,strike,t,type,price).
    Iv(cmd::iv::IvArgs),
    /// Write the built-in synthetic Deribit-like chain (and its truth).
    Synth(cmd::synth::SynthArgs),
    /// Risk measures (VaR, ES, spectral, EVaR, entropic, OCE, drawdown) of a P&L sample.
    /// Losses are negative P&L; results are in loss units, larger = riskier.
    Risk(cmd::risk::RiskArgs),
    /// Delta-hedging backtest over consecutive snapshots (re-fit, Black/smile/premium-adjusted
    /// deltas, perpetual or future hedge, fees and spread); writes DIR/paths.csv and
    /// DIR/hedge.json.
    #[command(after_help = cmd::hedge::AFTER_HELP)]
    Hedge(cmd::hedge::HedgeArgs),
    /// Does the fit generalise? Walk-forward (in- vs out-of-sample), a grid of specs ranked
    /// out-of-sample, ridge path, cross-validation over strikes, parameter stability; CSV
    /// tables in DIR.
    Validate(cmd::validate::ValidateArgs),
    /// Neural pricing surrogates: `surrogate data` writes training data (model parameters
    /// at Sobol points → implied-vol grids from the exact pricers) in resumable chunks.
    Surrogate(cmd::surrogate::SurrogateArgs),
    /// Deep hedging: `deephedge train --config dh.toml --out DIR` learns a hedging policy
    /// (feed-forward or no-transaction-band network) by minimising a risk measure of the
    /// hedged P&L after costs on Monte Carlo paths, and evaluates it against Black delta
    /// and Whalley–Wilmott.
    Deephedge(cmd::deephedge::DeephedgeArgs),
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Allocate(a) => cmd::allocate::run(a, cli.quiet),
        Command::Quotes(a) => cmd::quotes::run(a, cli.quiet),
        Command::Demo(a) => cmd::demo::run(a, cli.quiet),
        Command::Fit(a) => cmd::fit::run(a, cli.quiet),
        Command::Report(a) => cmd::report::run(a, cli.quiet),
        Command::Iv(a) => cmd::iv::run(a),
        Command::Synth(a) => cmd::synth::run(a, cli.quiet),
        Command::Risk(a) => cmd::risk::run(a, cli.quiet),
        Command::Hedge(a) => cmd::hedge::run(a, cli.quiet),
        Command::Validate(a) => cmd::validate::run(a, cli.quiet),
        Command::Surrogate(a) => cmd::surrogate::run(a, cli.quiet),
        Command::Deephedge(a) => cmd::deephedge::run(a, cli.quiet),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        // A closed stdout (e.g. `volfit quotes … | head`) is not an error.
        Err(e) if e.chain().any(is_broken_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("volfit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// True when `e` is a broken pipe ([`volfit::io::is_broken_pipe`]), also inside a market
/// error (whose I/O cause is not its `source()`).
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    volfit::io::is_broken_pipe(e)
        || e.downcast_ref::<volfit::market::Error>()
            .and_then(|m| m.io_error())
            .is_some_and(|io| volfit::io::is_broken_pipe(io))
}
