//! `volfit`: command-line front end.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Fit volatility models to crypto option chains.
#[derive(Parser, Debug)]
#[command(name = "volfit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Implied Black-76 volatilities of a CSV of prices (forward,strike,t,type,price).
    Iv(cmd::iv::IvArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Iv(args) => cmd::iv::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("volfit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
