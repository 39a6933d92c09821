//! `volfit synth`: write the built-in synthetic Deribit-like chain and its truth.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::io::write_atomic;
use volfit::market::synth::{generate, SynthSpec};

/// Arguments of `volfit synth`.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// RNG seed: the same seed gives the same chain, byte for byte.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output CSV in the Deribit book-summary layout (`-` for stdout).
    #[arg(long, default_value = "synth_deribit.csv")]
    pub out: PathBuf,
    /// Truth sidecar (JSON: SSVI parameters, forwards, outliers). Default: OUT with
    /// `.truth.json` appended; none when OUT is stdout.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

/// Runs `volfit synth`.
pub fn run(args: &SynthArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let chain = generate(&SynthSpec { seed: args.seed, ..SynthSpec::default() });
    write_atomic(&args.out, |w| chain.write_csv(w))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let truth = args.truth.clone().or_else(|| {
        (args.out.as_os_str() != "-").then(|| {
            let mut p = args.out.clone().into_os_string();
            p.push(".truth.json");
            PathBuf::from(p)
        })
    });
    if let Some(path) = &truth {
        write_atomic(path, |w| chain.write_truth(w))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !quiet && args.out.as_os_str() != "-" {
        eprintln!(
            "wrote {} rows ({} expiries, {} stale outliers) to {}{}",
            chain.rows.len(),
            chain.truth.expiries.len(),
            chain.truth.outliers.len(),
            args.out.display(),
            truth.map(|p| format!(", truth to {}", p.display())).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
