//! `volfit quotes FILES…`: read chains, clean them, write quotes with IVs and a summary.
//!
//! Exit codes: 0 quotes written; 1 the inputs were read but no quote survived cleaning;
//! 2 an error (unreadable file, bad header, bad arguments, …).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use volfit::io::write_atomic;
use volfit::market::{self, build, iso8601, quote_vega, Cleaned, FileReport, RejectionCounts};

use super::input::{with_progress, InputArgs};

/// Extra `--help` text: output conventions and exit status.
pub const AFTER_HELP: &str = "\
Output: one row per kept quote; prices in USD (coin × that row's forward), IVs as fractions
inverted on the expiry forward, vega in USD per vol point, times ISO-8601 UTC. One-sided
quotes are kept (missing side empty) and counted as flagged; every dropped row is counted
by reason in the summary. --every/--at apply to update streams (Tardis); snapshot files
(Deribit, OptionsDX, JSON) keep their own snapshot times.

Exit status: 0 quotes written; 1 inputs read but no quote survived cleaning; 2 error.";

/// Arguments of `volfit quotes`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: `.json` writes JSON, anything else CSV; stdout when absent or `-`.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Write the rejection summary (JSON) here.
    #[arg(long)]
    pub summary: Option<PathBuf>,
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
                q.t,
                q.strike,
                q.kind.letter(),
                e.forward,
                opt(q.bid),
                opt(q.ask),
                opt(q.mid()),
                opt(q.bid_iv),
                opt(q.ask_iv),
                opt(q.mid_iv),
                opt(quote_vega(q)),
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

/// Runs `volfit quotes`.
///
/// # Errors
/// Unreadable inputs, bad headers, invalid arguments, output failures.
pub fn run(a: &Args, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let mut opts = a.input.read_options()?;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("-"));
    // Every destination is checked before anything is read or written.
    for p in std::iter::once(&out).chain(&a.summary) {
        volfit::io::check_writable(p)?;
    }
    let json = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let mut files = Vec::new();
    let mut snaps = Vec::new();
    let mut totals = Totals::default();
    let files_in = a.input.files.clone();
    let mut dedupe = market::Dedupe::new();
    with_progress(&files_in, quiet, &mut opts, |opts| {
        write_atomic(&out, |w: &mut dyn Write| -> anyhow::Result<()> {
            if json {
                w.write_all(b"[")?;
            } else {
                writeln!(w, "{COLUMNS}")?;
            }
            let mut first = true;
            for path in &a.input.files {
                let mut sink = |raw: market::RawSnapshot| -> Result<(), market::Error> {
                    if !dedupe.admit(&raw) {
                        return Ok(());
                    }
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
                let Some(mut rep) = a.input.read_one(path, opts, quiet, &mut sink)? else {
                    continue;
                };
                dedupe.finish_file(&mut rep);
                totals.rows += rep.rows;
                totals.skipped.merge(&rep.skipped);
                totals.filtered += rep.filtered;
                files.push(rep);
            }
            a.input.ensure_options(&files)?;
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
        if let Some(n) = dedupe.notice() {
            eprintln!("notice: {n}");
        }
    }
    for p in std::iter::once(&out).chain(&a.summary) {
        super::print_wrote_file(p, start, quiet);
    }
    Ok(if t.quotes == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn args(v: &[&str]) -> Args {
        T::try_parse_from(std::iter::once("quotes").chain(v.iter().copied()))
            .expect("valid arguments")
            .a
    }

    /// First data rows of the real svcj file 20260105T041127Z (abridged decimals).
    const SVCJ: &str = "timestamp,instrument_name,underlying,underlying_name,option_type,strike,expiry_datetime,time_to_maturity,bid_price,ask_price,mark_price,mid_price,futures_price,futures_instrument_name,implied_volatility,delta,vega,open_interest,volume,bid_ask_spread,currency,index_price,volume_usd
2026-01-05T04:11:27.551698+00:00,BTC-16JAN26-82000-C,92962.85,BTC-16JAN26,call,82000.0,2026-01-16T08:00:00+00:00,0.0305,0.1185,0.127,0.12101857,0.12275,92962.85,BTC-16JAN26,0.5124,0.9258,22.82111,2.3,0.0,0.0085,BTC,92791.88,0.0
2026-01-05T04:11:27.551698+00:00,ETH-16JAN26-3000-C,3200.0,ETH-16JAN26,call,3000.0,2026-01-16T08:00:00+00:00,0.0305,,,0.08,,3200.0,ETH-16JAN26,0.5,0.9,2.0,1.0,0.0,,ETH,3190.0,0.0
";

    #[test]
    fn writes_quotes_and_summary_and_exit_codes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("chain.csv");
        std::fs::write(&input, SVCJ).expect("write");
        let out = dir.path().join("q.csv");
        let summary = dir.path().join("s.json");
        let (i, o, s) = (input.to_string_lossy(), out.to_string_lossy(), summary.to_string_lossy());
        let code = run(&args(&[&i, "--out", &o, "--summary", &s]), true).expect("runs");
        assert_eq!(code, ExitCode::SUCCESS);
        let text = std::fs::read_to_string(&out).expect("output");
        let mut lines = text.lines();
        assert!(lines.next().is_some_and(|h| h.starts_with("snapshot,underlying,expiry,t,strike,type,forward,bid,ask,mid,bid_iv,ask_iv,mid_iv,vega,open_interest")));
        // BTC row kept; the ETH row has no quote on either side and is counted, not written.
        let row: Vec<&str> = lines.next().expect("one quote").split(',').collect();
        assert_eq!(
            (row[0], row[1], row[2], row[4], row[5]),
            ("2026-01-05T04:11:27.551Z", "BTC", "2026-01-16T08:00:00Z", "82000", "C")
        );
        // USD bid = 0.1185 coin × 92962.85 (row forward).
        let bid: f64 = row[7].parse().expect("bid");
        assert!((bid - 0.1185 * 92962.85).abs() < 1e-9);
        assert!(lines.next().is_none());
        let sum: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary"))
                .expect("json");
        assert_eq!(sum["totals"]["rejected"]["no_quote"], 1);
        assert_eq!(sum["totals"]["quotes"], 1);

        // Only ETH, which has no usable quote: exit 1, JSON output still valid.
        let out_json = dir.path().join("q.json");
        let oj = out_json.to_string_lossy();
        let code = run(&args(&[&i, "--underlying", "ETH", "--out", &oj]), true).expect("runs");
        assert_eq!(code, ExitCode::from(1));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out_json).expect("json out"))
                .expect("json");
        assert_eq!(v.as_array().map(Vec::len), Some(1));
    }
}
