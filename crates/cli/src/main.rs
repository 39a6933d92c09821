//! `volfit`: command-line front end. Thin: parse, call the library, print.
//!
//! Exit codes: 0 success, 1 the command ran but produced no usable result (e.g. no quote
//! survived cleaning), 2 error (bad input, I/O, usage).

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Loss-function optimization for crypto-option pricing models.
#[derive(Parser, Debug)]
#[command(name = "volfit", version, about, long_about = None)]
struct Cli {
    /// Print nothing but results and errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the built-in synthetic Deribit-like chain (and its truth).
    Synth(cmd::synth::SynthArgs),
    /// Risk measures (VaR, ES, spectral, EVaR, entropic, OCE, drawdown) of a P&L sample.
    /// Losses are negative P&L; results are in loss units, larger = riskier.
    Risk(cmd::risk::RiskArgs),
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Synth(a) => cmd::synth::run(a, cli.quiet),
        Command::Risk(a) => cmd::risk::run(a, cli.quiet),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (e.g. `volfit quotes … | head`) is not an error.
            if e.chain().any(is_broken_pipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("volfit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// True when `e` (or an error it wraps, e.g. an I/O error inside a csv error inside an I/O
/// error) is a broken pipe.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                if is_broken_pipe(inner) {
                    return true;
                }
            }
        }
        if let Some(csv::ErrorKind::Io(io)) = err.downcast_ref::<csv::Error>().map(|c| c.kind()) {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cur = err.source();
    }
    false
}
