//! `volfit validate FILES… [--model M] [--config grid.toml] --out DIR`: does a fit
//! generalise? Walk-forward (in- vs out-of-sample, sticky moneyness and sticky strike), a
//! grid of specs ranked out-of-sample, the ridge path, cross-validation over strikes and
//! parameter stability; tables in DIR as CSV, or Parquet with `--table-format parquet` in builds
//! with the cargo feature `parquet` (see `volfit::validate`).
//!
//! Exit codes: 0 done; 1 nothing could be scored; 2 error.

use super::input::InputArgs;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::fit::ModelKind;
use volfit::validate::{validate_with_progress, write_tables, GridConfig, TableFormat};

/// Arguments of `volfit validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Restrict the default grid to one model (its losses × weights × ridge on/off).
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Grid and settings (TOML, see `volfit::validate::GridConfig`); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Score each fit on the next H snapshots.
    #[arg(long, value_name = "H")]
    pub horizon: Option<usize>,
    /// Cross-validation folds over strikes (0 = off).
    #[arg(long)]
    pub folds: Option<usize>,
    #[command(flatten)]
    pub threads: super::Threads,
    /// Table format: csv, or parquet (only in builds with the cargo feature `parquet`).
    /// (`--format` is the input format.)
    #[arg(long, value_name = "FORMAT", default_value = "csv", value_parser = parse_format)]
    pub table_format: TableFormat,
    /// Output folder: created if missing; replaced as a whole when the run succeeds.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Also fit the winning spec to every snapshot (fit.json, residuals.csv, traces.json in
    /// DIR) and write DIR/report.html with its smiles and the validation charts.
    #[arg(long)]
    pub report: bool,
}

fn parse_format(s: &str) -> Result<TableFormat, String> {
    match s {
        "csv" => Ok(TableFormat::Csv),
        #[cfg(feature = "parquet")]
        "parquet" => Ok(TableFormat::Parquet),
        #[cfg(not(feature = "parquet"))]
        "parquet" => Err("this build has no Parquet support (cargo feature `parquet`)".into()),
        _ => Err(format!("unknown table format {s:?} (csv or parquet)")),
    }
}

impl ValidateArgs {
    /// The settings: the config file (or the default grid) with flags applied on top.
    pub fn config(&self) -> anyhow::Result<GridConfig> {
        let mut cfg =
            match super::input::read_config(self.config.as_deref(), GridConfig::from_toml)? {
                Some(c) => c,
                None => match self.model {
                    Some(m) => GridConfig::for_model(m),
                    None => GridConfig::default(),
                },
            };
        if let (Some(m), Some(_)) = (self.model, &self.config) {
            cfg.models = vec![m];
        }
        if let Some(h) = self.horizon {
            cfg.horizon = h;
        }
        if let Some(f) = self.folds {
            cfg.folds = f;
        }
        Ok(cfg)
    }
}

/// Runs `volfit validate`.
pub fn run(args: &ValidateArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let mut cfg = args.config()?;
    cfg.specs()?;
    let out = volfit::io::OutDir::create(&args.out)?;
    let (cleaned, reports) = args.input.load(quiet)?;
    let snaps: Vec<_> = cleaned.iter().map(|c| c.snapshot.clone()).collect();
    let series = volfit::validate::series_by_underlying(&snaps);
    if series.iter().all(|s| s.len() < 2) {
        // Walk-forward scores a fit on a later snapshot of the same underlying: with one
        // snapshot per underlying nothing is out-of-sample (issue 15 item 8).
        let counts: Vec<String> = series
            .iter()
            .filter_map(|s| s.first().map(|f| format!("{} {}", f.underlying, s.len())))
            .collect();
        eprintln!(
            "volfit validate: nothing to score out-of-sample: walk-forward needs at least 2 \
             snapshots of one underlying (each fit is scored on the next ones), got {} \
             snapshot(s) ({}); give more snapshot files",
            snaps.len(),
            if counts.is_empty() { "none".to_string() } else { counts.join(", ") }
        );
        return Ok(ExitCode::from(1));
    }
    // More folds than quotes in the largest expiry only leaves folds empty.
    let most = snaps.iter().flat_map(|s| &s.expiries).map(|e| e.quotes.len()).max().unwrap_or(0);
    if cfg.folds > most.max(2) {
        eprintln!(
            "volfit: --folds {} is more than the {most} quotes of the largest expiry; using {}",
            cfg.folds,
            most.max(2)
        );
        cfg.folds = most.max(2);
    }
    let pool = args.threads.pool()?;
    let v =
        super::with_counted("validating (spec × underlying runs, CV snapshots)", quiet, |p| {
            pool.install(|| validate_with_progress(&snaps, &cfg, p))
        })?;
    write_tables(out.path(), &v, args.table_format)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !quiet {
        println!(
            "{:>4} {:<44} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
            "rank", "spec", "is_rmse", "oos_rmse", "oos_strk", "overfit", "cv_rmse", "param_var"
        );
        for s in &v.summary {
            let rank = if s.rank == 0 { "-".to_string() } else { s.rank.to_string() };
            println!(
                "{:>4} {:<44} {:>9.3} {:>9.3} {:>9.3} {:>8.3} {:>8.3} {:>9.4}",
                rank,
                s.spec,
                s.is_rmse,
                s.oos_rmse,
                s.oos_rmse_strike,
                s.overfit,
                s.cv_rmse,
                s.param_variation
            );
        }
        if let Some(w) = &v.winner {
            println!(
                "winner: {} (oos {:.3} vol pts, margin {:.3} = {:.1}%)",
                w.spec,
                w.oos_rmse,
                w.margin,
                100.0 * w.margin_rel
            );
        }
        if let Some(w) = &v.winner {
            print_selection(&v.selection, w.oos_rmse);
        }
        for toward in ["prev", "zero"] {
            if let Some(l) = volfit::validate::chosen_lambda(&v.ridge, toward) {
                println!("ridge toward {toward}: λ chosen out-of-sample = {l}");
            }
        }
    }
    if args.report {
        let winner = v.winner.as_ref().and_then(|w| v.specs.iter().find(|s| s.id == w.spec_id));
        if let Some(w) = winner {
            let results = pool.install(|| super::fit::fit_all(&cleaned, &w.spec, false));
            super::fit::write_outputs(out.path(), &w.spec, &args.input.files, &results)?;
            super::fit::write_inputs(out.path(), &reports, &cleaned)?;
        }
        volfit::report::write_dir(out.path())
            .with_context(|| format!("writing the report in {}", args.out.display()))?;
    }
    let files = out.commit("validate")?;
    super::print_written(&args.out, &files, start, quiet);
    Ok(if v.winner.is_some() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The nested-selection lines: procedure vs winner out-of-sample, and the winner's test.
fn print_selection(s: &volfit::validate::Selection, winner_oos: f64) {
    let verdict = if s.significant { "significant" } else { "not significant" };
    let p = if s.dm_p_value < 1e-3 {
        format!("{:.1e}", s.dm_p_value)
    } else {
        format!("{:.3}", s.dm_p_value)
    };
    println!(
        "selection (nested, no look-ahead): OOS {:.3} vol pts vs winner's {:.3}; winner vs \
         runner-up DM = {:.2}, p = {p} ({verdict} at 5 %, {} snapshots)",
        s.procedure_oos_rmse, winner_oos, s.dm_statistic, s.n_snapshots
    );
    if let Some(m) = &s.ridge_lambda_nested {
        for (toward, l) in m {
            println!("ridge toward {toward}: λ chosen nested (at the last fit) = {l}");
        }
    }
}
