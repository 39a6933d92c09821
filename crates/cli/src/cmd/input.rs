//! Reading chains: the input flags shared by `quotes`, `fit` and friends, and loading
//! every snapshot of the inputs in time order.

use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use volfit::market::{
    self, build, read_path, CleanConfig, Cleaned, Dedupe, FileReport, Format, IvUnit, Mapping,
    PriceUnit, ReadOptions, Schedule, TimeUnit,
};

/// Reads a TOML configuration file with `parse`, naming the file in any error; `None` when no
/// file was given (the caller then starts from its defaults and applies flags on top).
pub fn read_config<T, E>(
    path: Option<&std::path::Path>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> anyhow::Result<Option<T>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let Some(path) = path else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(parse(&text).with_context(|| format!("in {}", path.display()))?))
}

/// Which chains to read, and how.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Input files (`.csv`, `.csv.gz`, `.json`; `-` = stdin). Gzip is detected from content.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Force the input format instead of detecting it from the header:
    /// deribit-summary, deribit-book, optionsdx, tardis, deribit-json, mapped.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// For update streams (Tardis): take an as-of chain every DUR (e.g. 1h, 15m, 30s).
    #[arg(long, value_name = "DUR", value_parser = parse_duration_ms, conflicts_with = "at")]
    pub every: Option<i64>,
    /// For update streams: as-of chains at these ISO-8601 UTC times, comma-separated.
    #[arg(long, value_name = "TIMES", value_delimiter = ',', value_parser = parse_instant_ms)]
    pub at: Vec<i64>,
    /// Keep only this underlying (e.g. BTC).
    #[arg(long)]
    pub underlying: Option<String>,
    /// Column mapping for other CSVs: target=Column,… (targets: instrument, underlying, time,
    /// updated, expiry, strike, type, bid, ask, mark, mark_iv, forward, index, bid_size,
    /// ask_size, open_interest, volume).
    #[arg(long, value_name = "MAP")]
    pub map: Option<String>,
    /// Unit of mapped prices.
    #[arg(long, value_parser = ["coin", "usd"], default_value = "coin")]
    pub price_unit: String,
    /// Unit of mapped IVs.
    #[arg(long, value_parser = ["pct", "frac"], default_value = "pct")]
    pub iv_unit: String,
    /// Unit of mapped numeric times.
    #[arg(long, value_parser = ["s", "ms", "us"], default_value = "ms")]
    pub time_unit: String,
    /// Quotes whose last update is older than this at the snapshot time are `stale`.
    #[arg(long, value_name = "DUR", value_parser = parse_duration_ms, default_value = "10m")]
    pub max_age: i64,
    /// Expiries closer than this are `short_expiry` (e.g. 1h, 1d); default keeps all unexpired.
    #[arg(long, value_name = "DUR", value_parser = parse_duration_ms, default_value = "0s")]
    pub min_expiry: i64,
    /// Treat row-level problems as errors instead of counted skips.
    #[arg(long)]
    pub strict: bool,
}

impl InputArgs {
    /// Reader settings for these flags.
    pub fn read_options(&self) -> anyhow::Result<ReadOptions> {
        let a = self;
        let mapping = match &a.map {
            Some(spec) => {
                let mut m = Mapping::parse(spec)?;
                m.price_unit =
                    Some(if a.price_unit == "usd" { PriceUnit::Usd } else { PriceUnit::Coin });
                m.iv_unit = if a.iv_unit == "frac" { IvUnit::Frac } else { IvUnit::Pct };
                m.time_unit = match a.time_unit.as_str() {
                    "s" => TimeUnit::S,
                    "us" => TimeUnit::Us,
                    _ => TimeUnit::Ms,
                };
                m.default_underlying = a.underlying.clone();
                Some(m)
            }
            None => None,
        };
        if a.every.is_some_and(|e| e <= 0) {
            anyhow::bail!("--every must be positive");
        }
        let schedule = if a.at.is_empty() {
            Schedule::Every { step_ms: a.every.unwrap_or(3_600_000) }
        } else {
            Schedule::At(a.at.clone())
        };
        Ok(ReadOptions {
            format: a.format,
            schedule,
            underlying: a.underlying.clone(),
            mapping,
            strict: a.strict,
            clean: CleanConfig {
                min_t: a.min_expiry as f64 / 1000.0 / market::SECONDS_PER_YEAR,
                max_age_ms: a.max_age,
            },
            ..ReadOptions::default()
        })
    }

    /// Reads and cleans every snapshot of every input, sorted by (underlying, time). A
    /// repeated (underlying, time) is dropped with a notice (see `market::Dedupe`).
    pub fn load(&self, quiet: bool) -> anyhow::Result<(Vec<Cleaned>, Vec<FileReport>)> {
        let mut opts = self.read_options()?;
        let mut snaps = Vec::new();
        let mut reports = Vec::new();
        let mut dedupe = Dedupe::new();
        with_progress(&self.files, quiet, &mut opts, |opts| -> anyhow::Result<()> {
            for path in &self.files {
                let mut report = read_path(path, opts, &mut |raw| {
                    if dedupe.admit(&raw) {
                        snaps.push(build(raw, &opts.clean));
                    }
                    Ok(())
                })
                .with_context(|| format!("reading {}", path.display()))?;
                dedupe.finish_file(&mut report);
                reports.push(report);
            }
            Ok(())
        })?;
        if let (Some(n), false) = (dedupe.notice(), quiet) {
            eprintln!("notice: {n}");
        }
        snaps.sort_by(|a, b| {
            (a.snapshot.underlying.as_str(), a.snapshot.time_ms)
                .cmp(&(b.snapshot.underlying.as_str(), b.snapshot.time_ms))
        });
        Ok((snaps, reports))
    }
}

pub(crate) fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        format!("unknown format {s:?}; expected deribit-summary, deribit-book, optionsdx, tardis, deribit-json or mapped")
    })
}

/// `500ms`, `30s`, `15m`, `1h`, `1d` → milliseconds.
pub(crate) fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("invalid duration {s:?} (e.g. 1h, 15m, 30s)"))?;
    let scale = match unit {
        "ms" => 1.0,
        "s" | "" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3_600e3,
        "d" => 86_400e3,
        _ => return Err(format!("invalid duration unit in {s:?} (ms, s, m, h, d)")),
    };
    Ok((v * scale).round() as i64)
}

pub(crate) fn parse_instant_ms(s: &str) -> Result<i64, String> {
    market::parse_time_ms(s, false)
        .ok_or_else(|| format!("invalid time {s:?} (ISO-8601 UTC, e.g. 2026-01-05T12:00:00Z)"))
}

/// Shows a byte-based progress bar on stderr while `f` runs, when stderr is a terminal and
/// the inputs are large enough to be worth it.
pub(crate) fn with_progress<T>(
    files: &[PathBuf],
    quiet: bool,
    opts: &mut ReadOptions,
    f: impl FnOnce(&ReadOptions) -> T,
) -> T {
    let total: u64 = files.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    if quiet || !std::io::stderr().is_terminal() || total < 20 << 20 {
        return f(opts);
    }
    let count = Arc::new(AtomicU64::new(0));
    opts.progress = Some(count.clone());
    let done = AtomicBool::new(false);
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                bar.set_position(count.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = f(opts);
        done.store(true, Ordering::Relaxed);
        bar.finish_and_clear();
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("15m"), Ok(900_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert!(parse_duration_ms("1w").is_err());
    }
}
