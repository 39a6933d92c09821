//! `volfit surrogate data`: training data for neural pricing surrogates.

use super::Threads;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volfit::surrogate::{generate, DataSpec, McSpec, SampleModel};

/// `volfit surrogate …`.
#[derive(clap::Args, Debug)]
pub struct SurrogateArgs {
    #[command(subcommand)]
    command: SurrogateCommand,
}

#[derive(clap::Subcommand, Debug)]
enum SurrogateCommand {
    /// Sample model parameters at Sobol points of the model's box, price each on the fixed
    /// grid (8 maturities, 1 day to 1 year × 11 strikes in k/√t on [−1, 1]) with the exact
    /// pricer (heston, bates) or by Monte Carlo (rbergomi: hybrid scheme, conditional
    /// Monte Carlo, antithetic paths and control variates; each vol's standard error is
    /// stored beside it as err_i_j), and store the implied vols in DIR/chunk-NNNNN.csv.gz
    /// plus DIR/spec.json. Resumable: rerun the same command to continue after an
    /// interruption.
    Data(DataArgs),
}

/// `volfit surrogate data`.
#[derive(clap::Args, Debug)]
struct DataArgs {
    /// Model priced (heston and bates exactly, rbergomi by Monte Carlo).
    #[arg(long, value_parser = ["heston", "bates", "rbergomi"])]
    model: String,
    /// Sobol samples to draw (those with a grid point lacking an implied vol are skipped
    /// and counted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    samples: u64,
    /// Seed of the Sobol points' random digital shift.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Output directory (created; an existing one with the same spec is resumed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Samples per chunk file (part of the spec: keep it to resume) [default: 1024; 32 for
    /// rbergomi, whose surfaces take ~0.1 s each].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    chunk: Option<u64>,
    /// rbergomi: Monte Carlo paths per surface, antithetic members included (even, ≥ 8)
    /// [default: 4096].
    #[arg(long, value_name = "P")]
    paths: Option<usize>,
    /// rbergomi: time steps per maturity (each maturity resolved by at least N steps of the
    /// hybrid scheme; 1–512, at most 2000 in all) [default: 32].
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    #[command(flatten)]
    threads: Threads,
}

/// Runs `volfit surrogate …`.
pub fn run(a: &SurrogateArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    match &a.command {
        SurrogateCommand::Data(d) => data(d, quiet),
    }
}

fn data(a: &DataArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let start = Instant::now();
    let model: SampleModel = a.model.parse().map_err(anyhow::Error::msg)?;
    let chunk = a.chunk.unwrap_or(if model.monte_carlo() { 32 } else { 1024 });
    let mut spec = DataSpec::new(model, a.samples, a.seed, chunk);
    if let Some(mc) = &mut spec.mc {
        let d = McSpec::default();
        (mc.paths, mc.steps) = (a.paths.unwrap_or(d.paths), a.steps.unwrap_or(d.steps));
    } else if a.paths.is_some() || a.steps.is_some() {
        anyhow::bail!("--paths and --steps apply to --model rbergomi only");
    }
    let bar = indicatif::ProgressBar::new(a.samples);
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    } else if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} samples {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    let progress = |n: u64| bar.inc(n);
    let sum = a.threads.pool()?.install(|| generate(&spec, &a.out, &progress))?;
    bar.finish_and_clear();
    if !quiet {
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{}: {} samples kept, {} skipped (a grid point without an implied vol); {} chunks \
             written, {} already present ({:.1} s)",
            a.out.display(),
            sum.kept,
            sum.skipped,
            sum.chunks_written,
            sum.chunks_present,
            secs
        );
    }
    Ok(ExitCode::SUCCESS)
}
