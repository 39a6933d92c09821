//! The reading driver: open (gzip or not) → detect the format from the header → stream
//! rows → group them into raw snapshots (or, for Tardis, as-of chains) → hand each to a sink.
//!
//! Row-level problems (a bad number, an unparsable instrument name, a 10 MB line) are
//! counted skips in [`FileReport::skipped`], with the first messages kept as examples; with
//! [`ReadOptions::strict`] they are errors instead. File-level problems (unreadable file,
//! corrupt gzip, missing column, unknown header, malformed CSV structure) are errors.

use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::chain::RawQuote;
use super::clean::{CleanConfig, Rejection, RejectionCounts};
use super::deribit::{self, BookSummary, OrderBook, RowParser};
use super::error::{Error, ErrorKind, FieldReason};
use super::fields::{Columns, Row};
use super::mapped::{Mapped, Mapping};
use super::optionsdx::OptionsDx;
use super::{input, tardis};

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Format {
    /// Deribit book-summary snapshot CSV (one chain per file, BTC and ETH).
    DeribitSummary,
    /// Deribit order-book dump CSV (pandas of `get_order_book`).
    DeribitBook,
    /// OptionsDX end-of-day CSV (many daily snapshots per file).
    Optionsdx,
    /// Tardis.dev `options_chain` CSV (every update; as-of chains).
    Tardis,
    /// Deribit API JSON (`get_book_summary_by_currency` responses).
    DeribitJson,
    /// Any CSV through a [`Mapping`].
    Mapped,
}

impl Format {
    /// Short name (as accepted by `--format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::DeribitSummary => BookSummary::NAME,
            Format::DeribitBook => OrderBook::NAME,
            Format::Optionsdx => OptionsDx::NAME,
            Format::Tardis => tardis::NAME,
            Format::DeribitJson => "deribit-json",
            Format::Mapped => Mapped::NAME,
        }
    }
    /// Parses a short name.
    pub fn from_name(s: &str) -> Option<Format> {
        [
            Format::DeribitSummary,
            Format::DeribitBook,
            Format::Optionsdx,
            Format::Tardis,
            Format::DeribitJson,
            Format::Mapped,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s))
    }
}

/// When to take as-of chains from an update stream (Tardis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// At every multiple of the step (ms since the epoch) from the first update on, up to
    /// the last update in the file.
    Every {
        /// Step in ms.
        step_ms: i64,
    },
    /// At these instants (ms since the epoch); instants after the last update are answered
    /// as of the end of the file.
    At(Vec<i64>),
}

/// Reader settings.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Force a format (otherwise detected from the header).
    pub format: Option<Format>,
    /// As-of schedule for update streams; default every hour.
    pub schedule: Schedule,
    /// Keep only this underlying (e.g. `BTC`); other rows are counted in `filtered`.
    pub underlying: Option<String>,
    /// Column mapping (implies [`Format::Mapped`]).
    pub mapping: Option<Mapping>,
    /// Row-level problems are errors instead of counted skips.
    pub strict: bool,
    /// Rows of one underlying whose times lie within this window (ms) of the first row of
    /// the open group form one snapshot at the latest row time (a chain polled over minutes).
    pub poll_window_ms: i64,
    /// Rows longer than this many bytes are skipped as `invalid_field`.
    pub max_line_bytes: usize,
    /// Cleaning thresholds (staleness is also applied to as-of chains).
    pub clean: CleanConfig,
    /// Compressed bytes read so far, for progress bars.
    pub progress: Option<Arc<AtomicU64>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            schedule: Schedule::Every { step_ms: 3_600_000 },
            underlying: None,
            mapping: None,
            strict: false,
            poll_window_ms: 5 * 60 * 1000,
            max_line_bytes: 1 << 20,
            clean: CleanConfig::default(),
            progress: None,
        }
    }
}

/// Rows of one underlying at one instant, before cleaning.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSnapshot {
    /// Snapshot time, ms since the epoch.
    pub time_ms: i64,
    /// Underlying coin.
    pub underlying: String,
    /// Rows.
    pub rows: Vec<RawQuote>,
    /// Rows dropped while reading that belong to this snapshot (stale/expired as-of states,
    /// unparsable stored updates).
    pub rejected: RejectionCounts,
}

/// What reading one file produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// File.
    pub path: String,
    /// Format used.
    pub format: Format,
    /// Data rows (or JSON items) read.
    pub rows: u64,
    /// Snapshots emitted.
    pub snapshots: u64,
    /// Rows skipped while reading, by reason.
    pub skipped: RejectionCounts,
    /// Rows of other underlyings than `--underlying`.
    pub filtered: u64,
    /// The first few skip messages (file, line, field, reason).
    pub examples: Vec<String>,
}

const MAX_EXAMPLES: usize = 20;

impl FileReport {
    /// Records a message without counting (the count is kept elsewhere).
    pub(crate) fn note(&mut self, e: &Error) {
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(e.to_string());
        }
    }
    /// Counts a row-level skip and keeps its message.
    pub(crate) fn skip(&mut self, e: &Error) {
        self.skipped.add(e.rejection().unwrap_or(Rejection::InvalidField));
        self.note(e);
    }
}

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
/// # Errors
/// File-level problems (see the module doc), row-level ones under `strict`, and whatever
/// `sink` returns.
pub fn read_path(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<FileReport, Error> {
    let mut input = input::open(path, opts.progress.clone())?;
    let head = input.fill_buf().map_err(|e| Error::from_csv(path, 0, csv::Error::from(e)))?;
    if head.trim_ascii().is_empty() {
        return Err(Error::new(ErrorKind::Empty { path: path.to_path_buf() }));
    }
    let forced = if opts.mapping.is_some() { Some(Format::Mapped) } else { opts.format };
    let mut report = FileReport {
        path: path.display().to_string(),
        format: forced.unwrap_or(Format::DeribitJson),
        rows: 0,
        snapshots: 0,
        skipped: RejectionCounts::default(),
        filtered: 0,
        examples: Vec::new(),
    };
    if forced == Some(Format::DeribitJson) || (forced.is_none() && looks_like_json(head)) {
        report.format = Format::DeribitJson;
        let mut grouper = Grouper::new(opts);
        let mut emit = |q: Result<RawQuote, Error>| -> Result<(), Error> {
            handle_row(q, opts, &mut report, &mut grouper, sink)
        };
        let rows = deribit::read_json(path, input, &mut emit)?;
        report.rows = rows;
        grouper.finish(&mut report, sink)?;
        return Ok(report);
    }
    // Trimming every field costs ~15 % on Tardis streams, which never pad; peek at the
    // header to skip it there.
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
    let header = rdr.byte_headers().map_err(|e| Error::from_csv(path, 1, e))?.clone();
    let cols = Columns::new(&header);
    let format = match forced.or_else(|| detect(&cols)) {
        Some(f) => f,
        None => {
            let text = String::from_utf8_lossy(header.as_slice());
            let mut shown: String = header
                .iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect::<Vec<_>>()
                .join(",");
            if shown.len() > 120 {
                shown = shown.chars().take(120).collect::<String>() + "…";
            }
            if cols.has_all(&["snapshot_file", "perp_futures_mark_price"]) {
                shown = format!(
                    "{shown} — perpetual futures prices, not options (read them with market::perp)"
                );
            } else if header.len() == 1
                && (text.contains(';') || text.contains('\t') || text.contains('|'))
            {
                shown = format!("{shown} — wrong delimiter? volfit reads comma-separated files");
            }
            return Err(Error::new(ErrorKind::UnknownFormat {
                path: path.to_path_buf(),
                header: shown,
            }));
        }
    };
    report.format = format;
    match format {
        Format::Tardis => {
            tardis::read(path, rdr, &cols, opts, &mut report, sink)?;
            return Ok(report);
        }
        Format::DeribitSummary => {
            read_rows(path, rdr, &BookSummary::new(&cols, path)?, opts, &mut report, sink)?
        }
        Format::DeribitBook => {
            read_rows(path, rdr, &OrderBook::new(&cols, path)?, opts, &mut report, sink)?
        }
        Format::Optionsdx => {
            read_rows(path, rdr, &OptionsDx::new(&cols, path)?, opts, &mut report, sink)?
        }
        Format::Mapped => {
            let m = opts.mapping.clone().unwrap_or_default();
            read_rows(path, rdr, &Mapped::new(&m, &cols, path)?, opts, &mut report, sink)?;
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
            Err(e) => return Err(Error::from_csv(path, last_line, e)),
        }
        let line = rec.position().map_or(last_line + 1, |p| p.line());
        last_line = line;
        report.rows += 1;
        let row = Row { rec: &rec, path, line };
        let q = if rec.as_slice().len() > opts.max_line_bytes {
            Err(row.err("<row>", FieldReason::TooLong(rec.as_slice().len())))
        } else {
            parser.parse(&row)
        };
        handle_row(q, opts, report, &mut grouper, sink)?;
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
