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
    /// deribit-summary, deribit-book, deribit-web, deribit-json, optionsdx, tardis, mapped.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Snapshot time (ISO-8601 UTC) for inputs without a time column: required for a
    /// Deribit website export (deribit-web); also the time of a --map CSV without `time=`.
    #[arg(long, value_name = "TIME", value_parser = parse_instant_ms)]
    pub snapshot_time: Option<i64>,
    /// Longest accepted line (CSV record, JSON line) in bytes, e.g. 1048576, 512K, 4M;
    /// a longer line fails its file (it bounds memory on hostile input).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, default_value = "1M")]
    pub max_line_bytes: usize,
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
    /// For update streams read one day file per task: the previous day's file, streamed
    /// through the as-of state first (no chain taken from it), so the day's chains — its
    /// 00:00 chain first — equal those of the continuous stream.
    #[arg(long, value_name = "PREV_FILE")]
    pub halo_from: Option<PathBuf>,
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
        if a.halo_from.is_some() && a.files.len() != 1 {
            anyhow::bail!(
                "--halo-from takes one day file ({} given): the halo is that file's previous day",
                a.files.len()
            );
        }
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
            snapshot_time_ms: a.snapshot_time,
            max_line_bytes: a.max_line_bytes,
            schedule,
            underlying: a.underlying.clone(),
            mapping,
            strict: a.strict,
            halo_from: a.halo_from.clone(),
            clean: CleanConfig {
                min_t: a.min_expiry as f64 / 1000.0 / market::SECONDS_PER_YEAR,
                max_age_ms: a.max_age,
            },
            ..ReadOptions::default()
        })
    }

    /// Reads and cleans every snapshot of every input, sorted by (underlying, time).
    /// Files that hold no options (the perpetual-price series) are skipped with a notice; a
    /// repeated (underlying, time) is dropped with a notice (see `market::Dedupe`).
    pub fn load(&self, quiet: bool) -> anyhow::Result<(Vec<Cleaned>, Vec<FileReport>)> {
        let mut opts = self.read_options()?;
        let mut snaps = Vec::new();
        let mut reports = Vec::new();
        let mut dedupe = Dedupe::new();
        with_progress(&self.files, quiet, &mut opts, |opts| -> anyhow::Result<()> {
            for path in &self.files {
                let report = self.read_one(path, opts, quiet, &mut |raw| {
                    if dedupe.admit(&raw) {
                        snaps.push(build(raw, &opts.clean));
                    }
                    Ok(())
                })?;
                if let Some(mut report) = report {
                    dedupe.finish_file(&mut report);
                    reports.push(report);
                }
            }
            Ok(())
        })?;
        self.ensure_options(&reports)?;
        if let (Some(n), false) = (dedupe.notice(), quiet) {
            eprintln!("notice: {n}");
        }
        market::sort_snapshots(&mut snaps);
        Ok((snaps, reports))
    }

    /// Reads one input. A file holding no options gives `None` and one notice line (unless
    /// `quiet`); an update stream that yields no as-of chain gets a note naming `--every`.
    ///
    /// # Errors
    /// The reader's errors (they name the file, line and field) and the sink's.
    pub fn read_one(
        &self,
        path: &std::path::Path,
        opts: &ReadOptions,
        quiet: bool,
        sink: &mut dyn FnMut(market::RawSnapshot) -> Result<(), market::Error>,
    ) -> anyhow::Result<Option<FileReport>> {
        let report = match read_path(path, opts, sink) {
            Ok(r) => r,
            Err(e) if e.is_not_options() => {
                if !quiet {
                    eprintln!("volfit: skipped {e}");
                }
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if report.format == Format::Tardis && report.snapshots == 0 && report.rows > 0 {
            eprintln!("volfit: note: {}", self.no_checkpoint(&report));
        }
        Ok(Some(report))
    }

    /// Why an update stream gave no as-of chain, naming the schedule flag in force.
    fn no_checkpoint(&self, r: &FileReport) -> String {
        if self.at.is_empty() {
            let every = self.every.map_or_else(
                || "1h (the default)".to_string(),
                |ms| format!("{}s", ms as f64 / 1e3),
            );
            format!(
                "{}: {} updates but no as-of chain: no --every checkpoint ({every}, at multiples \
                 of the step) falls within the stream; pass a shorter --every (e.g. 5m) or --at TIME",
                r.path, r.rows
            )
        } else {
            format!("{}: {} updates but no --at time falls within the stream", r.path, r.rows)
        }
    }

    /// Fails when every input was skipped as not holding options.
    ///
    /// # Errors
    /// When `reports` is empty.
    pub fn ensure_options(&self, reports: &[FileReport]) -> anyhow::Result<()> {
        anyhow::ensure!(
            !reports.is_empty(),
            "no option chain among the inputs ({} file(s), each skipped above): pass option \
             snapshot files",
            self.files.len()
        );
        Ok(())
    }
}

/// `1048576`, `512K`, `4M`, `1G` (binary multiples) → bytes.
pub(crate) fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, scale) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1usize << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<usize>().ok().and_then(|n| n.checked_mul(scale)).filter(|n| *n > 0).ok_or_else(
        || format!("invalid size {s:?} (a positive number of bytes, e.g. 1048576, 512K, 4M)"),
    )
}

pub(crate) fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format {s:?}; expected one of {}", names.join(", "))
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

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512K"), Ok(512 << 10));
        assert_eq!(parse_bytes("4M"), Ok(4 << 20));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("lots").is_err());
    }
}
