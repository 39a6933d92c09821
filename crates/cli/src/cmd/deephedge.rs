//! `volfit deephedge train`: learn a hedging policy on simulated paths and evaluate it
//! against the Black delta and Whalley–Wilmott hedges.

use super::Threads;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volfit::deephedge::{describe_dynamics, run_job, DhConfig};

/// `volfit deephedge …`.
#[derive(clap::Args, Debug)]
pub struct DeephedgeArgs {
    #[command(subcommand)]
    command: DeephedgeCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DeephedgeCommand {
    /// Train the policy of a dh.toml on Monte Carlo paths (Adam on mini-batches, early
    /// stopping on held-out paths) and evaluate it with the classical hedges on fresh paths;
    /// writes DIR/policy.safetensors, DIR/training_log.csv, DIR/evaluation.csv and the page
    /// DIR/report.html.
    Train(TrainArgs),
}

/// `volfit deephedge train`.
#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// The configuration (see examples/dh.toml).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Output directory (created).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    threads: Threads,
}

/// Runs `volfit deephedge …`.
pub fn run(a: &DeephedgeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    match &a.command {
        DeephedgeCommand::Train(t) => train(t, quiet),
    }
}

fn train(a: &TrainArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let mut cfg =
        DhConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", a.config.display()))?;
    // A relative snapshot path is relative to the config file.
    cfg.dynamics.rebase(a.config.parent().unwrap_or(std::path::Path::new(".")));
    let mut progress = |kind: volfit::deephedge::PolicyKind,
                        e: &volfit_optim::stochastic::Epoch| {
        if !quiet {
            let val = e.val_loss.map_or(String::new(), |v| format!(", held-out {v:.6e}"));
            eprintln!("{} epoch {}: train {:.6e}{val}", kind.name(), e.epoch, e.train_loss);
        }
    };
    let pool = a.threads.pool()?;
    let setup =
        pool.install(|| cfg.setup()).map_err(|e| anyhow::anyhow!("{}: {e}", a.config.display()))?;
    if !quiet {
        match &setup.calibration {
            Some(c) => eprintln!("calibrated: {}", c.describe()),
            None => eprintln!("dynamics: {}", describe_dynamics(&setup.dynamics)),
        }
    }
    let mut summary = pool.install(|| run_job(&cfg, &setup, &a.out, &mut progress))?;
    volfit::report::deephedge::write_report(&a.out, &cfg, &summary)
        .with_context(|| format!("writing {}", a.out.join("report.html").display()))?;
    summary.files.push("report.html".into());
    if !quiet {
        for r in summary.evaluation.rows.iter().filter(|r| r.measure == "objective") {
            eprintln!(
                "{:>16}: objective {:.6e} ± {:.1e}, vs black_delta {:+.3e} ± {:.1e}",
                r.policy, r.value, r.se, r.diff, r.diff_se
            );
        }
    }
    super::print_written(&a.out, &summary.files, start, quiet);
    Ok(ExitCode::SUCCESS)
}
