//! Tardis.dev `options_chain` CSV: every update of every instrument, in arrival order
//! (`local_timestamp`), timestamps in µs, prices in coin, IVs in percent.
//!
//! As-of chains are built in one pass. The reader keeps, per instrument, the raw fields of
//! its latest update (a reused [`ByteRecord`]: no per-row allocation once an instrument has
//! been seen) and parses them only when a checkpoint `T` is passed, i.e. when the first row
//! with `local_timestamp > T` arrives. The chain at `T` therefore holds, for each
//! instrument, the last update that had *arrived* by `T`; the as-of rule of `clean` counts
//! an instrument at or past expiry `expired` (once: it is then forgotten) and an update
//! whose exchange `timestamp` is older than `T − max_age` `stale`. Memory is bounded by the number of
//! instruments, not by the file size.
//!
//! Work is bounded by the file, not by the time it spans: once every held update is stale,
//! the `--every` clock jumps over the checkpoints before the next arrival (they would hold
//! only stale rows) and counts them in [`FileReport::idle_checkpoints`] (`--at` instants
//! are all answered: their list bounds the work); an update's exchange time is
//! taken as at most its arrival time, and a `local_timestamp` before 2016 or after 2100
//! (a file in another unit) fails the file.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use csv::ByteRecord;

use super::chain::{iso8601, PriceUnit, RawQuote};
use super::clean::{self, Rejection, RejectionCounts};
use super::deribit::{check_name, option_type};
use super::error::{Error, FieldReason};
use super::fields::{parse_i64, Columns, Row};
use super::format::Format;
use super::input;
use super::mapped::{FIRST_MS, LAST_MS};
use super::stream::{FileReport, RawSnapshot, ReadOptions, Schedule};

pub(crate) const NAME: &str = Format::Tardis.name();
pub(crate) const SIGNATURE: &[&str] = &["exchange", "symbol", "local_timestamp"];

#[derive(PartialEq)]
struct Cols {
    symbol: usize,
    timestamp: usize,
    local: usize,
    kind: usize,
    strike: usize,
    expiration: usize,
    oi: Option<usize>,
    bid: usize,
    bid_size: Option<usize>,
    ask: usize,
    ask_size: Option<usize>,
    mark: Option<usize>,
    mark_iv: Option<usize>,
    forward: Option<usize>,
}

impl Cols {
    fn new(c: &Columns, path: &Path) -> Result<Cols, Error> {
        let r = |n| c.req(n, path, NAME);
        Ok(Cols {
            symbol: r("symbol")?,
            timestamp: r("timestamp")?,
            local: r("local_timestamp")?,
            kind: r("type")?,
            strike: r("strike_price")?,
            expiration: r("expiration")?,
            oi: c.find("open_interest"),
            bid: r("bid_price")?,
            bid_size: c.find("bid_amount"),
            ask: r("ask_price")?,
            ask_size: c.find("ask_amount"),
            mark: c.find("mark_price"),
            mark_iv: c.find("mark_iv"),
            forward: c.find("underlying_price"),
        })
    }

    /// Parses a stored update into a quote of the chain at `asof_ms`.
    fn quote(&self, row: &Row<'_>, asof_ms: i64, updated_ms: i64) -> Result<RawQuote, Error> {
        let name = row.req_str(self.symbol, "symbol")?;
        let strike = row.positive(self.strike, "strike_price")?;
        let kind = option_type(row, self.kind, "type")?;
        check_name(row, "symbol", name, None, strike, kind)?;
        Ok(RawQuote {
            time_ms: asof_ms,
            underlying: name.split('-').next().unwrap_or(name).to_string(),
            instrument: name.to_string(),
            expiry_ms: row.i64(self.expiration, "expiration")?.div_euclid(1000),
            strike,
            kind,
            unit: PriceUnit::Coin,
            bid: row.price(Some(self.bid), "bid_price", false)?,
            ask: row.price(Some(self.ask), "ask_price", false)?,
            mark: row.price(self.mark, "mark_price", false)?,
            mark_iv: row.opt_f64(self.mark_iv, "mark_iv")?.map(|v| v / 100.0),
            bid_size: row.opt_f64(self.bid_size, "bid_amount")?,
            ask_size: row.opt_f64(self.ask_size, "ask_amount")?,
            open_interest: row.opt_f64(self.oi, "open_interest")?,
            volume: None,
            forward: row.opt_positive(self.forward, "underlying_price")?,
            index: None,
            updated_ms,
            line: row.line,
        })
    }
}

/// Latest update of one instrument.
struct Slot {
    rec: ByteRecord,
    line: u64,
    ts_us: i64,
    expiry_us: Option<i64>,
    /// The update came from the halo file (`ReadOptions::halo_from`), not this one.
    halo: bool,
}

/// The checkpoint clock: yields the as-of instants in order.
struct Clock {
    step_us: Option<i64>,
    at: Vec<i64>,
    next: Option<i64>,
    pos: usize,
}

impl Clock {
    fn new(schedule: &Schedule) -> Clock {
        match schedule {
            Schedule::Every { step_ms } => {
                Clock { step_us: Some(step_ms.max(&1) * 1000), at: Vec::new(), next: None, pos: 0 }
            }
            Schedule::At(times) => {
                let mut at: Vec<i64> = times.iter().map(|t| t * 1000).collect();
                at.sort_unstable();
                at.dedup();
                Clock { step_us: None, next: at.first().copied(), at, pos: 0 }
            }
        }
    }
    /// Called with the first row's local time: aligns `--every` checkpoints to multiples
    /// of the step at or after it.
    fn start(&mut self, first_us: i64) {
        if let Some(step) = self.step_us {
            self.next = Some(
                first_us.div_euclid(step) * step
                    + if first_us.rem_euclid(step) == 0 { 0 } else { step },
            );
        }
    }
    /// Skips every `--every` checkpoint before `local_us` (from `next` on); returns how
    /// many. (`--at` instants are all answered: their number bounds the work.)
    fn skip_before(&mut self, local_us: i64) -> u64 {
        match (self.step_us, self.next) {
            (Some(step), Some(t)) if t < local_us => {
                // t < local_us < 2100, so neither the count nor the new time overflows.
                let k = (local_us - t - 1) / step + 1;
                self.next = Some(t + k * step);
                k as u64
            }
            _ => 0,
        }
    }
    fn advance(&mut self) {
        match self.step_us {
            Some(step) => self.next = self.next.map(|t| t + step),
            None => {
                self.pos += 1;
                self.next = self.at.get(self.pos).copied();
            }
        }
    }
}

/// FNV-1a: instrument symbols are short, trusted-enough keys (a hostile file can at worst
/// slow the reader down), and SipHash costs a noticeable share of the per-row budget.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

struct State<'o> {
    cols: Cols,
    index: FnvMap<Box<[u8]>, usize>,
    slots: Vec<Slot>,
    /// The newest exchange time of any update taken (µs); every held update is at most this.
    newest_us: i64,
    opts: &'o ReadOptions,
}

impl State<'_> {
    /// True when every held update is stale at `t_us`: its chain would hold no quote.
    fn all_stale(&self, t_us: i64) -> bool {
        let max_age_us = self.opts.clean.max_age_ms.saturating_mul(1000);
        t_us.saturating_sub(self.newest_us) > max_age_us
    }

    /// Emits the as-of chains at `t_us`, one per underlying, sorted by underlying.
    fn emit(
        &mut self,
        path: &Path,
        t_us: i64,
        report: &mut FileReport,
        sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let asof_ms = t_us.div_euclid(1000);
        let max_age_us = self.opts.clean.max_age_ms.saturating_mul(1000);
        let mut by_und: Vec<RawSnapshot> = Vec::new();
        let mut expired = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let src = if slot.halo { self.opts.halo_from.as_deref().unwrap_or(path) } else { path };
            let row = Row { rec: &slot.rec, path: src, line: slot.line };
            let und = slot.rec.get(self.cols.symbol).unwrap_or(b"");
            let und = und.split(|b| *b == b'-').next().unwrap_or(b"");
            let und = String::from_utf8_lossy(und);
            let snap = match by_und.iter_mut().position(|s| s.underlying == und) {
                Some(p) => &mut by_und[p],
                None => {
                    by_und.push(RawSnapshot {
                        time_ms: asof_ms,
                        underlying: und.into_owned(),
                        rows: Vec::new(),
                        rejected: RejectionCounts::default(),
                    });
                    let last = by_und.len() - 1;
                    &mut by_und[last]
                }
            };
            if let Some(why) = clean::screen_as_of(t_us, slot.expiry_us, slot.ts_us, max_age_us) {
                snap.rejected.add(why);
                if why == Rejection::Expired {
                    expired.push(i);
                }
                continue;
            }
            match self.cols.quote(&row, asof_ms, slot.ts_us.div_euclid(1000)) {
                Ok(q) => snap.rows.push(q),
                Err(e) => {
                    if self.opts.strict {
                        return Err(e);
                    }
                    let r = e.rejection().unwrap_or(Rejection::InvalidField);
                    snap.rejected.add(r);
                    report.note(&e);
                }
            }
        }
        // Forget expired instruments; rare (once per expiry), so rebuild the index.
        if !expired.is_empty() {
            let mut i = 0;
            self.slots.retain(|_| {
                let keep = expired.binary_search(&i).is_err();
                i += 1;
                keep
            });
            self.index.clear();
            for (i, s) in self.slots.iter().enumerate() {
                self.index.insert(s.rec.get(self.cols.symbol).unwrap_or(b"").into(), i);
            }
        }
        by_und.sort_by(|a, b| a.underlying.cmp(&b.underlying));
        for mut s in by_und {
            s.rows.sort_by(|a, b| a.instrument.cmp(&b.instrument));
            report.snapshots += 1;
            sink(s)?;
        }
        Ok(())
    }
}

/// Reads a Tardis `options_chain` stream, emitting as-of chains at the scheduled instants;
/// with [`ReadOptions::halo_from`], the previous file is streamed through the state first,
/// emitting nothing (see the `halo` module).
pub(crate) fn read(
    path: &Path,
    rdr: csv::Reader<Box<dyn BufRead + Send>>,
    cols: &Columns,
    opts: &ReadOptions,
    report: &mut FileReport,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut st = State {
        cols: Cols::new(cols, path)?,
        index: FnvMap::default(),
        slots: Vec::new(),
        newest_us: i64::MIN,
        opts,
    };
    let mut clock = Clock::new(&opts.schedule);
    let mut started = false;
    if let Some(prev) = &opts.halo_from {
        let (halo, halo_cols, mut halo_report) = super::halo::open(prev, opts)?;
        if Cols::new(&halo_cols, prev)? != st.cols {
            return Err(super::halo::layout_differs(prev, path));
        }
        let (st, clock) = (&mut st, &mut clock);
        feed(prev, halo, st, clock, &mut started, &mut halo_report, &mut |_| Ok(()))?;
        st.slots.iter_mut().for_each(|s| s.halo = true);
    }
    feed(path, rdr, &mut st, &mut clock, &mut started, report, sink)?;
    // `--at` instants after the last update are still answered, as of the end of the file.
    if started && matches!(opts.schedule, Schedule::At(_)) {
        while let Some(t) = clock.next {
            st.emit(path, t, report, sink)?;
            clock.advance();
        }
    }
    Ok(())
}

/// Streams the updates of one file into the as-of state, emitting the chains of the
/// checkpoints they pass.
fn feed(
    path: &Path,
    mut rdr: csv::Reader<Box<dyn BufRead + Send>>,
    st: &mut State<'_>,
    clock: &mut Clock,
    started: &mut bool,
    report: &mut FileReport,
    sink: &mut dyn FnMut(RawSnapshot) -> Result<(), Error>,
) -> Result<(), Error> {
    let opts = st.opts;
    let mut rec = ByteRecord::new();
    let want = opts.underlying.as_deref().map(str::as_bytes);
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
        let parsed = (|| {
            let local = row.i64(st.cols.local, "local_timestamp")?;
            let ts = row.i64(st.cols.timestamp, "timestamp")?;
            let sym = rec.get(st.cols.symbol).unwrap_or(b"");
            if sym.is_empty() {
                return Err(row.err("symbol", FieldReason::Missing));
            }
            Ok((local, ts))
        })();
        let (local, ts) = match parsed {
            Ok(v) => v,
            Err(e) => {
                if opts.strict {
                    return Err(e);
                }
                report.skip(&e);
                continue;
            }
        };
        check_local(&row, local)?;
        // An update cannot be newer than its arrival (a skewed or corrupt exchange time
        // would otherwise keep the chain fresh for as long as it is ahead).
        let ts = ts.min(local);
        let sym = rec.get(st.cols.symbol).unwrap_or(b"");
        if let Some(w) = want {
            let und = sym.split(|b| *b == b'-').next().unwrap_or(b"");
            if !und.eq_ignore_ascii_case(w) {
                report.filtered += 1;
                continue;
            }
        }
        if !*started {
            clock.start(local);
            *started = true;
        }
        while let Some(t) = clock.next.filter(|t| local > *t) {
            if clock.step_us.is_some() && st.all_stale(t) {
                report.idle_checkpoints += clock.skip_before(local);
                break;
            }
            st.emit(path, t, report, sink)?;
            clock.advance();
        }
        st.newest_us = st.newest_us.max(ts);
        let expiry_us = rec.get(st.cols.expiration).and_then(|b| parse_i64(b.trim_ascii()));
        let i = match st.index.get(sym) {
            Some(&i) => i,
            None => {
                st.index.insert(sym.into(), st.slots.len());
                let slot =
                    Slot { rec: ByteRecord::new(), line, ts_us: ts, expiry_us: None, halo: false };
                st.slots.push(slot);
                st.slots.len() - 1
            }
        };
        // Swap instead of copying: the slot takes this row, and its previous record's
        // allocation becomes the next read buffer.
        let slot = &mut st.slots[i];
        std::mem::swap(&mut rec, &mut slot.rec);
        slot.line = line;
        slot.ts_us = ts;
        slot.expiry_us = expiry_us;
        slot.halo = false;
    }
    if report.idle_checkpoints > 0 {
        report.examples.push(format!(
            "{}: {} checkpoints skipped: every update held was older than --max-age ({} ms)",
            path.display(),
            report.idle_checkpoints,
            opts.clean.max_age_ms
        ));
    }
    Ok(())
}

/// Fails the file on a `local_timestamp` (µs) before 2016 or after 2100, naming the unit
/// the number would fit.
fn check_local(row: &Row<'_>, local_us: i64) -> Result<(), Error> {
    let plausible = |ms: i64| (FIRST_MS..LAST_MS).contains(&ms);
    let ms = local_us.div_euclid(1000);
    if plausible(ms) {
        return Ok(());
    }
    let when = if ms < FIRST_MS { "before 2016" } else { "after 2100" };
    let units =
        [("s", local_us.saturating_mul(1000)), ("ms", local_us), ("ns", local_us / 1_000_000)];
    let other = units
        .into_iter()
        .find(|(_, ms)| plausible(*ms))
        .map(|(unit, ms)| format!("; read as {unit} it is {}", iso8601(ms)))
        .unwrap_or_default();
    let msg = format!(
        "{local_us} read as µs (the Tardis unit) is {}, {when}{other}: not a Tardis \
         options_chain time; a file in another unit loads through --map with --time-unit",
        iso8601(ms)
    );
    Err(row.err("local_timestamp", FieldReason::Implausible(msg)))
}
