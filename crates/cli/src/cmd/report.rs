//! `volfit report DIR`: one self-contained HTML page (inline SVG, no script, no network)
//! from a fit's output directory: smiles with bid/ask bars and the model curve, residuals,
//! ATM term structure and skew, a surface heat map, solver loss curves with the diagnostics'
//! warnings, parameters over time, the input rejection summary, and validation tables when
//! `volfit validate` has written them. Writes `DIR/report.html` atomically.
//!
//! Exit codes: 0 written; 2 error (no or unreadable `fit.json`, I/O).

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::report::html::write_report;

/// Arguments of `volfit report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Directory written by `volfit fit` (or `validate`): reads DIR/fit.json and what else
    /// is there.
    pub dir: PathBuf,
}

/// Runs `volfit report`.
pub fn run(args: &ReportArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let path =
        write_report(&args.dir).with_context(|| format!("reporting on {}", args.dir.display()))?;
    // A folder written by a command lists its files; the page is one of them now.
    volfit::io::record_in_manifest(&args.dir, "report.html")?;
    if !quiet {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
