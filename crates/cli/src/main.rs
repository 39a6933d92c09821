//! `volfit`: command-line front end.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Fit volatility models to crypto option chains.
#[derive(Parser, Debug)]
#[command(name = "volfit", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read option chains (Deribit, Tardis, OptionsDX, JSON, mapped CSV) and write cleaned
    /// quotes with implied vols plus a rejection summary.
    #[command(after_help = cmd::quotes::AFTER_HELP)]
    Quotes(cmd::quotes::Args),
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Quotes(args) => cmd::quotes::run(&args),
    }
}

/// True when the error chain ends in a closed pipe (`volfit … | head`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(pipe)
            || c.downcast_ref::<volfit::market::Error>()
                .and_then(|m| m.io_error())
                .is_some_and(pipe)
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("volfit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
