//! `volfit quotes FILES…`: read chains, clean them, write quotes with IVs and a summary.
//!
//! Exit codes: 0 quotes written; 1 the inputs were read but no quote survived cleaning;
//! 2 an error (unreadable file, bad header, bad arguments, …).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;
use volfit::market::{
    self, build, iso8601, quote_vega, CleanConfig, Cleaned, FileReport, Format, IvUnit, Mapping,
    PriceUnit, ReadOptions, RejectionCounts, Schedule, TimeUnit,
};
use volfit::report::atomic::write_atomic;

/// Arguments of `volfit quotes`.
#[derive(clap::Args, Debug)]
pub struct Args {
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
    /// Output file: `.json` writes JSON, anything else CSV; stdout when absent or `-`.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Write the rejection summary (JSON) here.
    #[arg(long)]
    pub summary: Option<PathBuf>,
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

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        format!("unknown format {s:?}; expected deribit-summary, deribit-book, optionsdx, tardis, deribit-json or mapped")
    })
}

/// `500ms`, `30s`, `15m`, `1h`, `1d` → milliseconds.
fn parse_duration_ms(s: &str) -> Result<i64, String> {
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

fn parse_instant_ms(s: &str) -> Result<i64, String> {
    market::parse_time_ms(s, false)
        .ok_or_else(|| format!("invalid time {s:?} (ISO-8601 UTC, e.g. 2026-01-05T12:00:00Z)"))
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

const COLUMNS: &str = "snapshot,underlying,expiry,t,strike,type,forward,bid,ask,mid,bid_iv,ask_iv,mid_iv,vega,open_interest,instrument,forward_source,row_forward,bid_coin,ask_coin,mark,mark_iv,bid_size,ask_size,volume";

fn write_csv_rows(w: &mut dyn Write, c: &Cleaned) -> std::io::Result<()> {
    let s = &c.snapshot;
    let time = s.time_iso();
    for e in &s.expiries {
        let expiry = iso8601(e.expiry_ms);
        let source = match e.forward_source {
            market::ForwardSource::Underlying => "underlying",
            market::ForwardSource::Parity => "parity",
        };
        for q in &e.quotes {
            writeln!(
                w,
                "{time},{},{expiry},{},{},{},{},{},{},{},{},{},{},{},{},{},{source},{},{},{},{},{},{},{},{}",
                s.underlying,
                e.t,
                q.strike,
                q.kind.letter(),
                e.forward,
                opt(q.bid),
                opt(q.ask),
                opt(q.mid()),
                opt(q.bid_iv),
                opt(q.ask_iv),
                opt(q.mid_iv),
                opt(quote_vega(q, e)),
                opt(q.open_interest),
                q.instrument,
                q.row_forward,
                opt(q.bid_coin),
                opt(q.ask_coin),
                opt(q.mark),
                opt(q.mark_iv),
                opt(q.bid_size),
                opt(q.ask_size),
                opt(q.volume),
            )?;
        }
    }
    Ok(())
}

/// Per-snapshot line of the summary.
#[derive(Serialize)]
struct SnapshotSummary {
    snapshot: String,
    underlying: String,
    rows: u64,
    quotes: usize,
    expiries: usize,
    rejected: RejectionCounts,
    flagged: RejectionCounts,
}

#[derive(Serialize, Default)]
struct Totals {
    rows: u64,
    quotes: usize,
    snapshots: usize,
    skipped: RejectionCounts,
    rejected: RejectionCounts,
    flagged: RejectionCounts,
    filtered: u64,
}

#[derive(Serialize)]
struct Summary {
    files: Vec<FileReport>,
    snapshots: Vec<SnapshotSummary>,
    totals: Totals,
}

fn options(a: &Args) -> anyhow::Result<ReadOptions> {
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
            Some(m)
        }
        None => None,
    };
    if a.every.is_some_and(|e| e <= 0) {
        bail!("--every must be positive");
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
            min_t: a.min_expiry as f64 / 1000.0 / market::chain::SECONDS_PER_YEAR,
            max_age_ms: a.max_age,
        },
        ..ReadOptions::default()
    })
}

/// Shows a byte-based progress bar on stderr while `f` runs, when stderr is a terminal and
/// the inputs are large enough to be worth it.
fn with_progress<T>(
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

/// Runs `volfit quotes`.
///
/// # Errors
/// Unreadable inputs, bad headers, invalid arguments, output failures.
pub fn run(a: &Args, quiet: bool) -> anyhow::Result<ExitCode> {
    let mut opts = options(a)?;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("-"));
    let json = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let mut files = Vec::new();
    let mut snaps = Vec::new();
    let mut totals = Totals::default();
    let files_in = a.files.clone();
    with_progress(&files_in, quiet, &mut opts, |opts| {
        write_atomic(&out, |w: &mut dyn Write| -> anyhow::Result<()> {
            if json {
                w.write_all(b"[")?;
            } else {
                writeln!(w, "{COLUMNS}")?;
            }
            let mut first = true;
            for path in &a.files {
                let mut sink = |raw: market::RawSnapshot| -> Result<(), market::Error> {
                    let c = build(raw, &opts.clean);
                    let written = if json {
                        let sep = if first { "\n" } else { ",\n" };
                        w.write_all(sep.as_bytes()).and_then(|()| {
                            serde_json::to_writer(&mut *w, &c).map_err(std::io::Error::from)
                        })
                    } else {
                        write_csv_rows(w, &c)
                    };
                    written.map_err(|e| market::Error::io(Path::new("<output>"), e))?;
                    first = false;
                    totals.quotes += c.snapshot.num_quotes();
                    totals.rejected.merge(&c.rejected);
                    totals.flagged.merge(&c.flagged);
                    snaps.push(SnapshotSummary {
                        snapshot: c.snapshot.time_iso(),
                        underlying: c.snapshot.underlying.clone(),
                        rows: c.rows,
                        quotes: c.snapshot.num_quotes(),
                        expiries: c.snapshot.expiries.len(),
                        rejected: c.rejected,
                        flagged: c.flagged,
                    });
                    Ok(())
                };
                // The error names the file (and line, field) itself.
                let rep = market::read_path(path, opts, &mut sink)?;
                totals.rows += rep.rows;
                totals.skipped.merge(&rep.skipped);
                totals.filtered += rep.filtered;
                files.push(rep);
            }
            if json {
                w.write_all(b"\n]\n")?;
            }
            Ok(())
        })
    })?;
    totals.snapshots = snaps.len();
    let summary = Summary { files, snapshots: snaps, totals };
    if let Some(p) = &a.summary {
        write_atomic(p, |w: &mut dyn Write| -> anyhow::Result<()> {
            serde_json::to_writer_pretty(&mut *w, &summary)?;
            writeln!(w)?;
            Ok(())
        })
        .with_context(|| format!("writing {}", p.display()))?;
    }
    let t = &summary.totals;
    if !quiet {
        eprintln!(
            "volfit quotes: {} rows → {} snapshots, {} quotes kept; rejected {}; skipped {}; flagged {}",
            t.rows,
            t.snapshots,
            t.quotes,
            serde_json::to_string(&t.rejected).unwrap_or_default(),
            serde_json::to_string(&t.skipped).unwrap_or_default(),
            serde_json::to_string(&t.flagged).unwrap_or_default(),
        );
        for f in &summary.files {
            for ex in f.examples.iter().take(3) {
                eprintln!("  skipped: {ex}");
            }
        }
    }
    Ok(if t.quotes == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
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
