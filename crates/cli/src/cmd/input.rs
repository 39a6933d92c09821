//! Reading chains for commands that fit them (`fit`, `demo`): the input flags shared with
//! `volfit quotes`, and loading every snapshot of the inputs in time order.

use super::quotes::{parse_duration_ms, parse_format, parse_instant_ms, with_progress};
use anyhow::Context;
use std::path::PathBuf;
use volfit::market::{build, read_path, Cleaned, FileReport, Format, ReadOptions, Schedule};

/// Which chains to read.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Input files (.csv, .csv.gz, .json; `-` for stdin). Format detected from the header.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Force the input format (deribit-summary, deribit-book, optionsdx, tardis, deribit-json).
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Tardis streams: take an as-of chain every DUR (e.g. 1h, 15m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration_ms, conflicts_with = "at")]
    pub every: Option<i64>,
    /// Tardis streams: take as-of chains at these ISO-8601 UTC times (comma-separated).
    #[arg(long, value_name = "TIMES", value_delimiter = ',', value_parser = parse_instant_ms)]
    pub at: Vec<i64>,
    /// Keep only this underlying (e.g. BTC).
    #[arg(long)]
    pub underlying: Option<String>,
}

impl InputArgs {
    /// Reader settings for these flags.
    pub fn read_options(&self) -> anyhow::Result<ReadOptions> {
        if self.every.is_some_and(|e| e <= 0) {
            anyhow::bail!("--every must be positive");
        }
        let schedule = if self.at.is_empty() {
            Schedule::Every { step_ms: self.every.unwrap_or(3_600_000) }
        } else {
            Schedule::At(self.at.clone())
        };
        Ok(ReadOptions {
            format: self.format,
            schedule,
            underlying: self.underlying.clone(),
            ..ReadOptions::default()
        })
    }

    /// Reads and cleans every snapshot of every input, sorted by (underlying, time).
    pub fn load(&self, quiet: bool) -> anyhow::Result<(Vec<Cleaned>, Vec<FileReport>)> {
        let mut opts = self.read_options()?;
        let mut snaps = Vec::new();
        let mut reports = Vec::new();
        with_progress(&self.files, quiet, &mut opts, |opts| -> anyhow::Result<()> {
            for path in &self.files {
                let report = read_path(path, opts, &mut |raw| {
                    snaps.push(build(raw, &opts.clean));
                    Ok(())
                })
                .with_context(|| format!("reading {}", path.display()))?;
                reports.push(report);
            }
            Ok(())
        })?;
        snaps.sort_by(|a, b| {
            (a.snapshot.underlying.as_str(), a.snapshot.time_ms)
                .cmp(&(b.snapshot.underlying.as_str(), b.snapshot.time_ms))
        });
        Ok((snaps, reports))
    }
}
