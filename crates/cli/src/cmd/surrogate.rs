//! `volfit surrogate data`: training data for neural pricing surrogates;
//! `volfit surrogate train`: a network trained on it.

use super::Threads;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volfit::surrogate::{
    generate, load_data, parse_hidden, DataSpec, Grid, McSpec, SampleModel, TrainSpec,
};

/// `volfit surrogate …`.
#[derive(clap::Args, Debug)]
pub struct SurrogateArgs {
    #[command(subcommand)]
    command: SurrogateCommand,
}

#[derive(clap::Subcommand, Debug)]
enum SurrogateCommand {
    /// Sample model parameters at Sobol points of the model's box (or --lower/--upper), price
    /// each on the fixed grid (8 maturities, 1 day to 1 year × 11 strikes in k/√t on
    /// [−1, 1]; or --maturities-days, --z-min/--z-max/--z-points) with the exact
    /// pricer (heston, bates) or by Monte Carlo (rbergomi: hybrid scheme, conditional
    /// Monte Carlo, antithetic paths and control variates; each vol's standard error is
    /// stored beside it as err_i_j), and store the implied vols in DIR/chunk-NNNNN.csv.gz
    /// plus DIR/spec.json. Resumable: rerun the same command to continue after an
    /// interruption.
    Data(DataArgs),
    /// Train a network on DIR (written by `volfit surrogate data`): inputs scaled to the
    /// parameter box, outputs by their training mean and deviation, a seeded validation
    /// share held out for early stopping. Prints the losses per epoch; writes the net
    /// (safetensors, header: model, parameters and box, grid, normalisation, training spec,
    /// version) and beside it NET.training.csv, NET.grid_errors.csv and NET.report.html
    /// (loss curves, per-layer gradient RMS, held-out |IV error| heat maps).
    Train(TrainArgs),
}

/// `volfit surrogate train`.
#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// Data directory (spec.json and chunk files).
    dir: PathBuf,
    /// Hidden layers: DEPTHxWIDTH (4x30) or widths (64,64,32).
    #[arg(long, default_value = "4x30")]
    hidden: String,
    /// Hidden activation: elu | softplus | tanh | sigmoid | relu | identity.
    #[arg(long, default_value = "elu")]
    activation: volfit::surrogate::Activation,
    /// Solver: adam | adamw | gd | momentum | nesterov | rmsprop (mini-batch) | lbfgs
    /// (full batch, --epochs = iterations).
    #[arg(long, default_value = "adam")]
    solver: String,
    /// Loss on the normalised outputs: mse | huber:S (and the other robust losses of fit).
    #[arg(long, default_value = "mse")]
    loss: volfit_optim::loss::LossKind,
    /// Epochs (at most: early stopping ends sooner).
    #[arg(long, value_name = "N", default_value_t = 200)]
    epochs: u32,
    /// Samples per mini-batch.
    #[arg(long, value_name = "N", default_value_t = 64)]
    batch: usize,
    /// Base learning rate (cosine decay to 1 % of it over the run).
    #[arg(long, value_name = "X", default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the weights, the validation split and the shuffling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Share of the samples held out for validation, in (0, 1).
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    validation_share: f64,
    /// Early stopping: epochs without a validation improvement.
    #[arg(long, value_name = "N", default_value_t = 20)]
    patience: u32,
    /// Output net (safetensors).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
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
    /// hybrid scheme; 1–512, at most 4000 in all) [default: 32].
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    /// rbergomi: extrapolate the time-step bias away (Richardson over N and N/2 steps per
    /// maturity with common random numbers, N = --steps, even) and store the total error in
    /// err_i_j: the extrapolation's standard error plus the step bias estimate |V_N − V_N/2|.
    #[arg(long)]
    richardson: bool,
    #[command(flatten)]
    grid: GridArgs,
    #[command(flatten)]
    threads: Threads,
}

/// The grid and parameter box of `volfit surrogate data` (part of the data spec and of the
/// net's header: `volfit fit --surrogate` reads both from the net).
#[derive(clap::Args, Debug)]
struct GridArgs {
    /// Lowest strike of the grid in z = k/√t (with --z-max and --z-points; all three
    /// default to the default grid's −1, 1, 11).
    #[arg(long, value_name = "Z", allow_hyphen_values = true)]
    z_min: Option<f64>,
    /// Highest strike of the grid in z = k/√t.
    #[arg(long, value_name = "Z", allow_hyphen_values = true)]
    z_max: Option<f64>,
    /// Strikes of the grid, evenly from --z-min to --z-max (≥ 2).
    #[arg(long, value_name = "N")]
    z_points: Option<usize>,
    /// Maturities of the grid in days (ACT/365), increasing, comma-separated [default: 1, 3,
    /// 7, 14 days, 1, 2, 6 and 12 months].
    #[arg(long, value_name = "D,…")]
    maturities_days: Option<String>,
    /// Lower corner of the parameter box, comma-separated in the model's parameter order
    /// (heston: v0,kappa,theta,sigma,rho) [default: the model's default box].
    #[arg(long, value_name = "X,…", allow_hyphen_values = true)]
    lower: Option<String>,
    /// Upper corner of the parameter box (as --lower).
    #[arg(long, value_name = "X,…", allow_hyphen_values = true)]
    upper: Option<String>,
}

/// A comma-separated list of numbers given to `flag`.
fn floats(flag: &str, text: &str) -> anyhow::Result<Vec<f64>> {
    text.split(',')
        .map(|v| {
            let v = v.trim();
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| anyhow::anyhow!("{flag}: {v:?} is not a finite number"))
        })
        .collect()
}

impl GridArgs {
    /// Applies the flags to `spec`'s grid and box; the defaults leave them untouched.
    fn apply(&self, spec: &mut DataSpec) -> anyhow::Result<()> {
        if self.z_min.is_some() || self.z_max.is_some() || self.z_points.is_some() {
            let g = Grid::with_z(
                self.z_min.unwrap_or(-1.0),
                self.z_max.unwrap_or(1.0),
                self.z_points.unwrap_or(11),
            )
            .map_err(|e| anyhow::anyhow!("--z-min/--z-max/--z-points: {e}"))?;
            spec.grid.z = g.z;
        }
        if let Some(d) = &self.maturities_days {
            spec.grid.maturities =
                floats("--maturities-days", d)?.iter().map(|d| d / 365.0).collect();
            spec.grid.validate().map_err(|e| anyhow::anyhow!("--maturities-days: {e}"))?;
        }
        let names = spec.params.join(",");
        for (flag, text, corner) in [
            ("--lower", &self.lower, &mut spec.bounds.lower),
            ("--upper", &self.upper, &mut spec.bounds.upper),
        ] {
            if let Some(text) = text {
                let v = floats(flag, text)?;
                anyhow::ensure!(
                    v.len() == corner.len(),
                    "{flag}: {} values, expected {} ({names})",
                    v.len(),
                    corner.len()
                );
                *corner = v;
            }
        }
        let dim = spec.params.len();
        spec.bounds.validate(dim).map_err(|e| anyhow::anyhow!("--lower/--upper: {e}"))
    }
}

/// Runs `volfit surrogate …`.
pub fn run(a: &SurrogateArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    match &a.command {
        SurrogateCommand::Data(d) => data(d, quiet),
        SurrogateCommand::Train(t) => train(t, quiet),
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
        mc.richardson = a.richardson;
        if a.richardson && !mc.steps.is_multiple_of(2) {
            anyhow::bail!(
                "--richardson needs an even --steps (it also prices N/2), got {}",
                mc.steps
            );
        }
    } else if a.paths.is_some() || a.steps.is_some() || a.richardson {
        anyhow::bail!("--paths, --steps and --richardson apply to --model rbergomi only");
    }
    a.grid.apply(&mut spec)?;
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

fn train(a: &TrainArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use std::io::IsTerminal;
    let spec = TrainSpec {
        hidden: parse_hidden(&a.hidden).map_err(|e| anyhow::anyhow!("--hidden: {e}"))?,
        activation: a.activation,
        solver: a.solver.parse().map_err(|e| anyhow::anyhow!("--solver: {e}"))?,
        loss: a.loss,
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
        validation_share: a.validation_share,
        patience: a.patience,
        ..TrainSpec::default()
    };
    let data = load_data(&a.dir)?;
    let bar = indicatif::ProgressBar::new(u64::from(a.epochs));
    let tty = std::io::stderr().is_terminal();
    if quiet || !tty {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    } else if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} epochs eta {eta}")
    {
        bar.set_style(style);
    }
    let mut report = |e: &volfit_optim::Epoch| {
        let val = e.val_loss.map_or("-".into(), |v| format!("{v:.6e}"));
        let line = format!("epoch {:>4}  train {:.6e}  validation {val}", e.epoch, e.train_loss);
        if !quiet {
            if tty {
                bar.println(line);
            } else {
                eprintln!("{line}");
            }
        }
        bar.inc(1);
    };
    let out = volfit::surrogate::train(&data, &spec, &mut report)?;
    bar.finish_and_clear();
    out.surrogate.save(&a.out)?;
    let files = volfit::report::surrogate::write_training_report(&a.out, &out)
        .with_context(|| format!("writing the training report beside {}", a.out.display()))?;
    if !quiet {
        eprintln!(
            "{}: {} samples ({} validation), {} epochs (best {}, {:?}), {:.1} s; validation loss \
             {:.4e} → {:.4e}; held-out |IV error| median {:.4} / p99 {:.4} vol pts",
            a.out.display(),
            data.len(),
            out.n_val,
            out.epochs.len(),
            out.best_epoch,
            out.stop,
            out.seconds,
            out.initial_val_loss,
            out.final_val_loss,
            100.0 * out.errors.all_median,
            100.0 * out.errors.all_p99,
        );
        for f in files {
            eprintln!("wrote {}", f.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
