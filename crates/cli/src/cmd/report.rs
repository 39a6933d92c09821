//! `volfit report DIR`: the self-contained HTML page (inline SVG, no script, no network) of
//! any output folder — fit (`fit.json`), validate (`validate.json`, with or without
//! `--report` at the time; with `fit.json` the fit page is written as `DIR/fit.html` too),
//! hedge (`hedge.json`) or allocate (`allocation.json`). Writes `DIR/report.html`
//! atomically and prints the paths written.
//!
//! Exit codes: 0 written; 2 error (not an output folder — the message names the file each
//! kind is recognised by —, an unreadable file, I/O).

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::report::write_dir;

/// Arguments of `volfit report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Directory written by `volfit fit`, `validate`, `hedge` or `allocate`.
    pub dir: PathBuf,
}

/// Runs `volfit report`.
pub fn run(args: &ReportArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let paths =
        write_dir(&args.dir).with_context(|| format!("reporting on {}", args.dir.display()))?;
    // A folder written by a command lists its files; the pages are among them now.
    for p in &paths {
        if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            volfit::io::record_in_manifest(&args.dir, name)?;
        }
    }
    if !quiet {
        for p in paths {
            println!("{}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
