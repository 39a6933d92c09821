//! The reading driver: open (gzip or not) → detect the format from the header → stream
//! rows → group them into raw snapshots (or, for Tardis, as-of chains) → hand each to a sink.

use std::io::BufRead;
use std::path::Path;

use super::chain::RawQuote;
use super::clean::RejectionCounts;
use super::deribit::{self, BookSummary, OrderBook, RowParser};
use super::deribit_web::DeribitWeb;
use super::error::{Error, ErrorKind};
use super::fields::{Columns, Row};
use super::format::Format;
use super::mapped::Mapped;
use super::optionsdx::OptionsDx;
use super::stream::{FileReport, RawSnapshot, ReadOptions};
use super::{input, perp, tardis};

/// Detects the format of a header line.
fn detect(cols: &Columns) -> Option<Format> {
    if cols.has_all(tardis::SIGNATURE) {
        Some(Format::Tardis)
    } else if cols.has_all(BookSummary::SIGNATURE) {
        Some(Format::DeribitSummary)
    } else if cols.has_all(OrderBook::SIGNATURE) {
        Some(Format::DeribitBook)
    } else if cols.has_all(OptionsDx::SIGNATURE) {
        Some(Format::Optionsdx)
    } else if cols.has_all(DeribitWeb::SIGNATURE) {
        Some(Format::DeribitWeb)
    } else {
        None
    }
}

fn looks_like_json(head: &[u8]) -> bool {
    let s = head.trim_ascii_start();
    match s.first() {
        Some(b'{') => true,
        Some(b'[') => matches!(s[1..].trim_ascii_start().first(), Some(b'{' | b']') | None),
        _ => false,
    }
}

/// Reads one file (`-` = stdin), handing each raw snapshot to `sink` as soon as it is
/// complete. Memory is bounded by one snapshot (row formats) or the number of instruments
/// (Tardis), not by the file size.
///
/// Row-level problems (a bad number, an unparsable instrument name) are counted skips in
/// [`FileReport::skipped`], with the first messages kept as examples; with
/// [`ReadOptions::strict`] they are errors instead. File-level problems (unreadable file,
/// corrupt gzip, missing column, unknown header, malformed CSV structure, a line longer than
/// [`ReadOptions::max_line_bytes`], an implausible time) are errors; the perpetual-futures
/// price series is [`ErrorKind::NotOptions`], which callers reading many files skip.
///
/// # Errors
/// File-level problems, row-level ones under `strict`, and whatever `sink` returns.
pub fn read_path(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<FileReport, Error> {
    let mut raw = input::open(path, opts.progress.clone())?;
    let head = raw.fill_buf().map_err(|e| Error::from_csv(path, 0, csv::Error::from(e)))?;
    if head.trim_ascii().is_empty() {
        return Err(Error::new(ErrorKind::Empty { path: path.to_path_buf() }));
    }
    let forced = if opts.mapping.is_some() { Some(Format::Mapped) } else { opts.format };
    let json = forced == Some(Format::DeribitJson) || (forced.is_none() && looks_like_json(head));
    // JSON escapes its quotes, so only CSV input tracks quoting.
    let (capped, trip) = input::LineCap::new(raw, opts.max_line_bytes, !json);
    let input: Box<dyn BufRead + Send> = Box::new(capped);
    let read = if json {
        read_json(path, input, opts, sink)
    } else {
        read_csv(path, input, forced, opts, sink)
    };
    read.map_err(|e| match trip.line() {
        Some(line) => Error::new(ErrorKind::LineTooLong {
            path: path.to_path_buf(),
            line,
            limit: opts.max_line_bytes,
        }),
        None => e,
    })
}

pub(super) fn new_report(path: &Path, format: Format) -> FileReport {
    FileReport {
        path: path.display().to_string(),
        format,
        rows: 0,
        snapshots: 0,
        skipped: RejectionCounts::default(),
        filtered: 0,
        idle_checkpoints: 0,
        examples: Vec::new(),
    }
}

fn read_json(
    path: &Path,
    input: Box<dyn BufRead + Send>,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<FileReport, Error> {
    let mut report = new_report(path, Format::DeribitJson);
    let mut grouper = Grouper::new(opts);
    let mut emit = |q: Result<RawQuote, Error>| -> Result<(), Error> {
        handle_row(q, opts, &mut report, &mut grouper, sink)
    };
    let rows = deribit::read_json(path, input, opts.snapshot_time_ms, &mut emit)?;
    report.rows = rows;
    grouper.finish(&mut report, sink)?;
    Ok(report)
}

/// The header's format, or the error that says what the file is instead.
fn detect_or_explain(
    path: &Path,
    header: &csv::ByteRecord,
    cols: &Columns,
) -> Result<Format, Error> {
    if let Some(f) = detect(cols) {
        return Ok(f);
    }
    if cols.has_all(perp::SIGNATURE) {
        return Err(Error::new(ErrorKind::NotOptions {
            path: path.to_path_buf(),
            what: perp::NOT_OPTIONS,
        }));
    }
    let text = String::from_utf8_lossy(header.as_slice());
    let mut shown: String = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    if shown.len() > 120 {
        shown = shown.chars().take(120).collect::<String>() + "…";
    }
    if header.len() == 1 && (text.contains(';') || text.contains('\t') || text.contains('|')) {
        shown = format!("{shown} — wrong delimiter? volfit reads comma-separated files");
    }
    Err(Error::new(ErrorKind::UnknownFormat { path: path.to_path_buf(), header: shown }))
}

fn read_csv(
    path: &Path,
    mut input: Box<dyn BufRead + Send>,
    forced: Option<Format>,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<FileReport, Error> {
    // Trimming every field costs ~15 % on Tardis streams, which never pad; peek at the
    // header to skip it there.
    let head = input.fill_buf().map_err(|e| Error::from_csv(path, 0, csv::Error::from(e)))?;
    let peek = forced.or_else(|| {
        let end = head.iter().position(|b| *b == b'\n')?;
        let mut h = csv::ReaderBuilder::new().has_headers(false).from_reader(&head[..end]);
        let mut rec = csv::ByteRecord::new();
        h.read_byte_record(&mut rec).ok()?;
        detect(&Columns::new(&rec))
    });
    let trim = if peek == Some(Format::Tardis) { csv::Trim::None } else { csv::Trim::All };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(trim)
        .buffer_capacity(256 * 1024)
        .from_reader(input);
    let header = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(input::blame_csv(path, 1, e, rdr.into_inner())),
    };
    let cols = Columns::new(&header);
    let format = match forced {
        Some(f) => f,
        None => detect_or_explain(path, &header, &cols)?,
    };
    let mut report = new_report(path, format);
    let r = &mut report;
    match format {
        Format::Tardis => tardis::read(path, rdr, &cols, opts, r, sink)?,
        Format::DeribitSummary => {
            read_rows(path, rdr, &BookSummary::new(&cols, path)?, opts, r, sink)?
        }
        Format::DeribitBook => read_rows(path, rdr, &OrderBook::new(&cols, path)?, opts, r, sink)?,
        Format::Optionsdx => read_rows(path, rdr, &OptionsDx::new(&cols, path)?, opts, r, sink)?,
        Format::DeribitWeb => {
            let p = DeribitWeb::new(&cols, path, opts.snapshot_time_ms)?;
            read_rows(path, rdr, &p, opts, r, sink)?;
        }
        Format::Mapped => {
            let m = opts.mapping.clone().unwrap_or_default();
            let p = Mapped::new(&m, &cols, path, opts.snapshot_time_ms)?;
            read_rows(path, rdr, &p, opts, r, sink)?;
        }
        Format::DeribitJson => unreachable!("JSON is handled before the CSV reader is built"),
    }
    Ok(report)
}

fn handle_row(
    q: Result<RawQuote, Error>,
    opts: &ReadOptions,
    report: &mut FileReport,
    grouper: &mut Grouper,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<(), Error> {
    match q {
        Ok(q) => {
            if opts.underlying.as_deref().is_some_and(|u| !u.eq_ignore_ascii_case(&q.underlying)) {
                report.filtered += 1;
                return Ok(());
            }
            grouper.push(q, report, sink)
        }
        Err(e) if e.rejection().is_some() && !opts.strict => {
            report.skip(&e);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn read_rows<P: RowParser>(
    path: &Path,
    mut rdr: csv::Reader<Box<dyn BufRead + Send>>,
    parser: &P,
    opts: &ReadOptions,
    report: &mut FileReport,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut rec = csv::ByteRecord::new();
    let mut grouper = Grouper::new(opts);
    let mut last_line = 1;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(input::blame_csv(path, last_line, e, rdr.into_inner())),
        }
        let line = rec.position().map_or(last_line + 1, |p| p.line());
        last_line = line;
        report.rows += 1;
        let row = Row { rec: &rec, path, line };
        handle_row(parser.parse(&row), opts, report, &mut grouper, sink)?;
    }
    grouper.finish(report, sink)
}

/// Groups rows into snapshots per underlying: a row joins its underlying's open group when
/// its time lies within the poll window of the group's first row; otherwise the group is
/// emitted and a new one starts. Sources write snapshots contiguously, so memory holds
/// about one snapshot per underlying.
struct Grouper {
    window_ms: i64,
    open: Vec<(i64, RawSnapshot)>,
}

impl Grouper {
    fn new(opts: &ReadOptions) -> Grouper {
        Grouper { window_ms: opts.poll_window_ms, open: Vec::new() }
    }
    fn push(
        &mut self,
        q: RawQuote,
        report: &mut FileReport,
        sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if let Some(i) = self.open.iter().position(|(_, s)| s.underlying == q.underlying) {
            let start = self.open[i].0;
            if (q.time_ms - start).abs() <= self.window_ms {
                let s = &mut self.open[i].1;
                s.time_ms = s.time_ms.max(q.time_ms);
                s.rows.push(q);
                return Ok(());
            }
            let (_, done) = self.open.swap_remove(i);
            report.snapshots += 1;
            sink(done)?;
        }
        let snap = RawSnapshot {
            time_ms: q.time_ms,
            underlying: q.underlying.clone(),
            rows: vec![q],
            rejected: RejectionCounts::default(),
        };
        self.open.push((snap.time_ms, snap));
        Ok(())
    }
    fn finish(
        &mut self,
        report: &mut FileReport,
        sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut open = std::mem::take(&mut self.open);
        open.sort_by(|a, b| (a.1.time_ms, &a.1.underlying).cmp(&(b.1.time_ms, &b.1.underlying)));
        for (_, s) in open {
            report.snapshots += 1;
            sink(s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{IvUnit, Mapping, TimeUnit};

    fn read_all(path: &Path, opts: &ReadOptions) -> (FileReport, Vec<RawSnapshot>) {
        let mut out = Vec::new();
        let rep = read_path(path, opts, &mut |s| {
            out.push(s);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
        (rep, out)
    }

    #[test]
    fn json_responses_one_per_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("summary.jsonl");
        // Two responses (two snapshots), fields as in Deribit's get_book_summary_by_currency.
        let r1 = r#"{"result":[{"instrument_name":"BTC-16JAN26-82000-C","bid_price":0.1185,"ask_price":0.127,"mark_price":0.121,"mark_iv":51.24,"underlying_price":92962.85,"creation_timestamp":1767586287000},{"instrument_name":"ETH-16JAN26-3000-P","bid_price":null,"ask_price":0.05,"mark_price":0.048,"mark_iv":60.0,"underlying_price":3200.5,"creation_timestamp":1767586287000}],"usOut":1767586287551000}"#;
        let r2 = r#"{"result":[{"instrument_name":"BTC-16JAN26-82000-C","bid_price":0.12,"ask_price":0.128,"creation_timestamp":1767589887000}]}"#;
        std::fs::write(&p, format!("{r1}\n{r2}\n")).expect("write");
        let (rep, snaps) = read_all(&p, &ReadOptions::default());
        assert_eq!(rep.format, Format::DeribitJson);
        assert_eq!((rep.rows, rep.snapshots), (3, 3));
        // usOut (µs) gives the first snapshot time; the latest creation_timestamp the second.
        assert_eq!(snaps[0].time_ms, 1_767_586_287_551);
        assert_eq!(snaps[0].underlying, "BTC");
        assert_eq!(snaps[1].underlying, "ETH");
        assert_eq!(snaps[1].rows[0].bid, None);
        assert_eq!(snaps[1].rows[0].mark_iv, Some(0.6));
        assert_eq!(snaps[2].time_ms, 1_767_589_887_000);
    }

    #[test]
    fn mapped_csv_with_units() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("export.csv");
        let mut m =
            Mapping::parse("time=Time,instrument=Name,bid=Bid,ask=Ask,mark_iv=IV,forward=F")
                .expect("valid map");
        m.time_unit = TimeUnit::S;
        m.iv_unit = IvUnit::Frac;
        std::fs::write(
            &p,
            "Time,Name,Bid,Ask,IV,F\n1767586287,BTC-16JAN26-82000-C,0.1185,0.127,0.5124,92962.85\n",
        )
        .expect("write");
        let opts = ReadOptions { mapping: Some(m), ..ReadOptions::default() };
        let (rep, snaps) = read_all(&p, &opts);
        assert_eq!(rep.format, Format::Mapped);
        let q = &snaps[0].rows[0];
        assert_eq!(q.time_ms, 1_767_586_287_000);
        // 2026-01-16T08:00:00Z = 1_768_550_400 s (from the instrument name).
        assert_eq!((q.expiry_ms, q.strike, q.mark_iv), (1_768_550_400_000, 82000.0, Some(0.5124)));
        assert!(Mapping::parse("stirke=Strike").is_err());
    }
}
