//! Any other CSV through a column mapping: `strike=Strike,bid=Bid,ask=Ask,…` plus units.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::chain::{iso8601, PriceUnit, RawQuote};
use super::deribit::{option_type, RowParser};
use super::error::{Error, FieldReason};
use super::fields::{normalise, parse_i64, parse_time_ms, Columns, Row};
use super::format::Format;
use super::instrument;

/// Unit of numeric time columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds since the epoch.
    S,
    /// Milliseconds since the epoch.
    #[default]
    Ms,
    /// Microseconds since the epoch.
    Us,
}

impl TimeUnit {
    /// The `--time-unit` value.
    pub const fn name(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
        }
    }
    /// A number in this unit, in ms since the epoch.
    pub(crate) fn to_ms(self, n: i64) -> i64 {
        match self {
            TimeUnit::S => n.saturating_mul(1000),
            TimeUnit::Ms => n,
            TimeUnit::Us => n / 1000,
        }
    }
}

/// 2016-01-01T00:00:00Z: Deribit listed its first options in 2016, so no chain is older.
pub(crate) const FIRST_MS: i64 = 1_451_606_400_000;
/// 2100-01-01T00:00:00Z.
pub(crate) const LAST_MS: i64 = 4_102_444_800_000;
/// Listed expiries are at most a few years out; ten years means a wrong unit or column.
const MAX_TENOR_MS: i64 = 10 * 365 * 86_400_000;

/// Unit of IV columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IvUnit {
    /// Percent (Deribit's `mark_iv`).
    #[default]
    Pct,
    /// Fraction.
    Frac,
}

/// A user column mapping: `target=Column` pairs plus units.
///
/// Targets: `instrument`, `underlying`, `time`, `updated`, `expiry`, `strike`, `type`, `bid`,
/// `ask`, `mark`, `mark_iv`, `forward`, `index`, `bid_size`, `ask_size`, `open_interest`,
/// `volume`. Required: `time` (unless a snapshot time is given), `bid`, `ask`, and either
/// `instrument` or all of `strike`, `type`, `expiry`. A column is named by its header text,
/// or by its 1-based position as `#9` (needed when the header repeats a name; a repeated
/// name is an error, never silently the first). Times and expiries are ISO-8601 /
/// `YYYY-MM-DD[ HH:MM:SS]` or numbers in the [`TimeUnit`]; a bare expiry date means 08:00
/// UTC. Times before 2016 or after 2100, and expiries more than ten years after the
/// snapshot, fail the file with a hint at `--time-unit`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    /// `(target, source column)` pairs.
    pub columns: Vec<(String, String)>,
    /// Unit of prices.
    pub price_unit: Option<PriceUnit>,
    /// Unit of IVs.
    pub iv_unit: IvUnit,
    /// Unit of numeric times.
    pub time_unit: TimeUnit,
    /// Underlying for rows when neither an `underlying` column nor an instrument name says.
    pub default_underlying: Option<String>,
}

const TARGETS: &[&str] = &[
    "instrument",
    "underlying",
    "time",
    "updated",
    "expiry",
    "strike",
    "type",
    "bid",
    "ask",
    "mark",
    "mark_iv",
    "forward",
    "index",
    "bid_size",
    "ask_size",
    "open_interest",
    "volume",
];

impl Mapping {
    /// Parses `target=Column,target=Column,…`.
    ///
    /// # Errors
    /// `Config` on an unknown target or a pair without `=`.
    pub fn parse(spec: &str) -> Result<Mapping, Error> {
        let mut columns = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (t, c) = pair.split_once('=').ok_or_else(|| {
                Error::config(format!("--map entry {pair:?} is not target=Column"))
            })?;
            let t = t.trim().to_ascii_lowercase();
            if !TARGETS.contains(&t.as_str()) {
                return Err(Error::config(format!(
                    "--map target {t:?} unknown; expected one of {}",
                    TARGETS.join(", ")
                )));
            }
            columns.push((t, c.trim().to_string()));
        }
        Ok(Mapping { columns, ..Mapping::default() })
    }
    fn source(&self, target: &str) -> Option<&str> {
        self.columns.iter().find(|(t, _)| t == target).map(|(_, c)| c.as_str())
    }
}

pub(crate) struct Mapped {
    default_underlying: String,
    cols: Vec<Option<(usize, String)>>,
    unit: PriceUnit,
    iv_scale: f64,
    time_unit: TimeUnit,
    snapshot_time_ms: Option<i64>,
}

/// The column a `--map` entry names: `#N` (1-based position) or a header name that occurs
/// exactly once.
fn locate(c: &Columns, target: &str, src: &str, path: &Path) -> Result<usize, Error> {
    if let Some(n) = src.strip_prefix('#') {
        return match n.parse::<usize>() {
            Ok(n) if (1..=c.len()).contains(&n) => Ok(n - 1),
            _ => Err(Error::usage(
                path,
                format!(
                    "line 1: --map {target}={src}: no such column position (the header has {} \
                     columns, numbered from #1)",
                    c.len()
                ),
            )),
        };
    }
    let at = c.positions(&normalise(src.as_bytes()));
    match at.as_slice() {
        [i] => Ok(*i),
        [] => c.req(&normalise(src.as_bytes()), path, Mapped::NAME),
        many => {
            let list: Vec<String> = many.iter().map(|i| format!("#{}", i + 1)).collect();
            Err(Error::usage(
                path,
                format!(
                    "line 1: --map {target}={src}: the header has {} columns named {src:?} ({}); \
                     name one by position, e.g. {target}={}",
                    many.len(),
                    list.join(", "),
                    list[list.len() - 1]
                ),
            ))
        }
    }
}

impl Mapped {
    pub(crate) const NAME: &'static str = Format::Mapped.name();

    pub(crate) fn new(
        m: &Mapping,
        c: &Columns,
        path: &Path,
        snapshot_time_ms: Option<i64>,
    ) -> Result<Self, Error> {
        let mut cols = Vec::with_capacity(TARGETS.len());
        for t in TARGETS {
            cols.push(match m.source(t) {
                Some(src) => Some((locate(c, t, src, path)?, src.to_string())),
                None => None,
            });
        }
        let me = Mapped {
            default_underlying: m.default_underlying.as_deref().unwrap_or("?").to_ascii_uppercase(),
            cols,
            unit: m.price_unit.unwrap_or(PriceUnit::Coin),
            iv_scale: if m.iv_unit == IvUnit::Pct { 0.01 } else { 1.0 },
            time_unit: m.time_unit,
            snapshot_time_ms,
        };
        let need = |t: &str| -> Result<(), Error> {
            if me.col(t).is_none() {
                return Err(Error::config(format!("--map lacks the required target {t:?}")));
            }
            Ok(())
        };
        if snapshot_time_ms.is_none() && me.col("time").is_none() {
            return Err(Error::config(
                "--map lacks the required target \"time\" (or give the time of the whole file \
                 with --snapshot-time)",
            ));
        }
        need("bid")?;
        need("ask")?;
        if me.col("instrument").is_none() {
            need("strike")?;
            need("type")?;
            need("expiry")?;
        }
        Ok(me)
    }
    fn col(&self, target: &str) -> Option<&(usize, String)> {
        let i = TARGETS.iter().position(|t| *t == target)?;
        self.cols[i].as_ref()
    }
    fn num(&self, row: &Row<'_>, t: &str) -> Result<Option<f64>, Error> {
        match self.col(t) {
            Some((i, name)) => row.opt_f64(Some(*i), name),
            None => Ok(None),
        }
    }
    fn price(&self, row: &Row<'_>, t: &str) -> Result<Option<f64>, Error> {
        match self.col(t) {
            Some((i, name)) => row.price(Some(*i), name, false),
            None => Ok(None),
        }
    }
    fn time(&self, row: &Row<'_>, t: &str, expiry: bool) -> Result<Option<i64>, Error> {
        let Some((i, name)) = self.col(t) else { return Ok(None) };
        let s = row.req_str(*i, name)?;
        let (raw, ms) = if let Some(n) = parse_i64(s.as_bytes()) {
            (Some(n), self.time_unit.to_ms(n))
        } else if let Some(ms) = parse_time_ms(s, expiry) {
            (None, ms)
        } else if let Some(ms) =
            expiry.then(|| instrument::parse_date(s).and_then(instrument::expiry_0800_ms)).flatten()
        {
            (None, ms)
        } else {
            return Err(row.err(name, FieldReason::Invalid(s.chars().take(40).collect())));
        };
        if (FIRST_MS..LAST_MS).contains(&ms) {
            return Ok(Some(ms));
        }
        let when = if ms < FIRST_MS {
            "before 2016, when Deribit listed its first options"
        } else {
            "after 2100"
        };
        let msg = match raw {
            Some(n) => {
                let fit = [TimeUnit::S, TimeUnit::Ms, TimeUnit::Us]
                    .into_iter()
                    .find(|u| (FIRST_MS..LAST_MS).contains(&u.to_ms(n)));
                let hint = match fit {
                    Some(u) => format!(
                        "read as --time-unit {} it is {}: pass --time-unit {}",
                        u.name(),
                        iso8601(u.to_ms(n)),
                        u.name()
                    ),
                    None => "check the column and --time-unit (s, ms, us)".to_string(),
                };
                format!(
                    "{n} read as --time-unit {} is {}, {when}; {hint}",
                    self.time_unit.name(),
                    iso8601(ms)
                )
            }
            None => format!("{s:?} is {when}; check the column"),
        };
        Err(row.err(name, FieldReason::Implausible(msg)))
    }
}

impl RowParser for Mapped {
    fn parse(&self, row: &Row<'_>) -> Result<RawQuote, Error> {
        let time_ms = match self.time(row, "time", false)? {
            Some(t) => t,
            None => self.snapshot_time_ms.unwrap_or_default(),
        };
        let name = match self.col("instrument") {
            Some((i, n)) => Some((row.req_str(*i, n)?, n.as_str())),
            None => None,
        };
        let parsed = match name {
            Some((s, col)) => Some(instrument::parse(s).ok_or_else(|| {
                row.err(col, FieldReason::Instrument(s.chars().take(60).collect()))
            })?),
            None => None,
        };
        let strike = match (self.col("strike"), &parsed) {
            (Some((i, n)), _) => row.positive(*i, n)?,
            (None, Some(p)) => p.strike,
            (None, None) => return Err(row.err("strike", FieldReason::Missing)),
        };
        let kind = match (self.col("type"), &parsed) {
            (Some((i, n)), _) => option_type(row, *i, n)?,
            (None, Some(p)) => p.kind,
            (None, None) => return Err(row.err("type", FieldReason::Missing)),
        };
        let expiry_ms = match (self.time(row, "expiry", true)?, &parsed) {
            (Some(e), _) => e,
            (None, Some(p)) => p.expiry_ms,
            (None, None) => return Err(row.err("expiry", FieldReason::Missing)),
        };
        if expiry_ms.saturating_sub(time_ms) > MAX_TENOR_MS {
            let n = self.col("expiry").map_or("instrument", |c| c.1.as_str());
            let years = (expiry_ms - time_ms) as f64 / (365.0 * 86_400_000.0);
            return Err(row.err(
                n,
                FieldReason::Implausible(format!(
                    "expiry {} is {years:.0} years after the snapshot time {}; check the time \
                     and expiry columns and --time-unit (s, ms, us)",
                    iso8601(expiry_ms),
                    iso8601(time_ms)
                )),
            ));
        }
        let underlying = match (self.col("underlying"), &parsed) {
            (Some((i, n)), _) => row.req_str(*i, n)?.to_ascii_uppercase(),
            (None, Some(p)) => p.underlying.to_string(),
            (None, None) => self.default_underlying.clone(),
        };
        let instrument = match name {
            Some((s, _)) => s.to_string(),
            None => format!(
                "{underlying}-{}-{strike}-{}",
                chrono::DateTime::from_timestamp_millis(expiry_ms)
                    .map_or_else(String::new, |d| d.format("%-d%b%y").to_string().to_uppercase()),
                kind.letter()
            ),
        };
        let forward = match self.num(row, "forward")? {
            Some(f) if f < 0.0 => {
                let n = self.col("forward").map_or("forward", |c| c.1.as_str());
                return Err(row.err(n, FieldReason::OutOfRange(f)));
            }
            f => f.filter(|f| *f > 0.0),
        };
        Ok(RawQuote {
            time_ms,
            underlying,
            instrument,
            expiry_ms,
            strike,
            kind,
            unit: self.unit,
            bid: self.price(row, "bid")?,
            ask: self.price(row, "ask")?,
            mark: self.price(row, "mark")?,
            mark_iv: self.num(row, "mark_iv")?.map(|v| v * self.iv_scale),
            bid_size: self.num(row, "bid_size")?,
            ask_size: self.num(row, "ask_size")?,
            open_interest: self.num(row, "open_interest")?,
            volume: self.num(row, "volume")?,
            forward,
            index: self.num(row, "index")?.filter(|v| *v > 0.0),
            updated_ms: self.time(row, "updated", false)?.unwrap_or(time_ms),
            line: row.line,
        })
    }
}
