//! Deribit layouts: book-summary snapshot CSVs (the `svcj` collector layout), order-book
//! dumps (pandas CSV of `public/get_order_book`), and API JSON
//! (`public/get_book_summary_by_currency` responses).

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::chain::{PriceUnit, RawQuote};
use super::error::{Error, ErrorKind, FieldReason};
use super::fields::{Columns, Row};
use super::format::Format;
use super::instrument;
use crate::black::OptionType;

/// Parses a row into a [`RawQuote`].
pub(crate) trait RowParser {
    fn parse(&self, row: &Row<'_>) -> Result<RawQuote, Error>;
}

pub(crate) fn option_type(row: &Row<'_>, col: usize, name: &str) -> Result<OptionType, Error> {
    match row.req_str(col, name)?.to_ascii_lowercase().as_str() {
        "call" | "c" => Ok(OptionType::Call),
        "put" | "p" => Ok(OptionType::Put),
        other => Err(row.err(name, FieldReason::Invalid(other.chars().take(40).collect()))),
    }
}

/// Checks the instrument name parses and agrees with the row's own columns.
pub(crate) fn check_name(
    row: &Row<'_>,
    name_col: &str,
    name: &str,
    underlying: Option<&str>,
    strike: f64,
    kind: OptionType,
) -> Result<(), Error> {
    let inst = instrument::parse(name).ok_or_else(|| {
        row.err(name_col, FieldReason::Instrument(name.chars().take(60).collect()))
    })?;
    if let Some(u) = underlying {
        if !u.eq_ignore_ascii_case(inst.underlying) {
            return Err(
                row.err(name_col, FieldReason::Mismatch(format!("underlying {u} vs name {name}")))
            );
        }
    }
    if inst.kind != kind || (inst.strike - strike).abs() > 1e-9 * strike {
        return Err(
            row.err(name_col, FieldReason::Mismatch(format!("strike/type columns vs name {name}")))
        );
    }
    Ok(())
}

/// Book-summary snapshot CSV (`timestamp,instrument_name,underlying,…,bid_price,ask_price,
/// mark_price,…,implied_volatility,…,currency,index_price`). Empty bid/ask = no quote;
/// `implied_volatility` is a fraction.
pub(crate) struct BookSummary {
    time: usize,
    name: usize,
    forward: usize,
    kind: usize,
    strike: usize,
    expiry: usize,
    bid: usize,
    ask: usize,
    mark: Option<usize>,
    mark_iv: Option<usize>,
    oi: Option<usize>,
    volume: Option<usize>,
    currency: Option<usize>,
    index: Option<usize>,
}

impl BookSummary {
    pub(crate) const NAME: &'static str = Format::DeribitSummary.name();
    pub(crate) const SIGNATURE: &'static [&'static str] = &["instrument_name", "expiry_datetime"];

    pub(crate) fn new(c: &Columns, path: &Path) -> Result<Self, Error> {
        let r = |n| c.req(n, path, Self::NAME);
        Ok(BookSummary {
            time: r("timestamp")?,
            name: r("instrument_name")?,
            forward: r("underlying")?,
            kind: r("option_type")?,
            strike: r("strike")?,
            expiry: r("expiry_datetime")?,
            bid: r("bid_price")?,
            ask: r("ask_price")?,
            mark: c.find("mark_price"),
            mark_iv: c.find("implied_volatility"),
            oi: c.find("open_interest"),
            volume: c.find("volume"),
            currency: c.find("currency"),
            index: c.find("index_price"),
        })
    }
}

impl RowParser for BookSummary {
    fn parse(&self, row: &Row<'_>) -> Result<RawQuote, Error> {
        let time_ms = row.time_ms(self.time, "timestamp", false)?;
        let name = row.req_str(self.name, "instrument_name")?;
        let strike = row.positive(self.strike, "strike")?;
        let kind = option_type(row, self.kind, "option_type")?;
        let currency = match self.currency {
            Some(c) => Some(row.req_str(c, "currency")?),
            None => None,
        };
        check_name(row, "instrument_name", name, currency, strike, kind)?;
        let underlying = currency.map_or_else(
            || name.split('-').next().unwrap_or(name).to_string(),
            |c| c.to_ascii_uppercase(),
        );
        Ok(RawQuote {
            time_ms,
            underlying,
            instrument: name.to_string(),
            expiry_ms: row.time_ms(self.expiry, "expiry_datetime", true)?,
            strike,
            kind,
            unit: PriceUnit::Coin,
            bid: row.price(Some(self.bid), "bid_price", false)?,
            ask: row.price(Some(self.ask), "ask_price", false)?,
            mark: row.price(self.mark, "mark_price", false)?,
            mark_iv: row.opt_f64(self.mark_iv, "implied_volatility")?,
            bid_size: None,
            ask_size: None,
            open_interest: row.opt_f64(self.oi, "open_interest")?,
            volume: row.opt_f64(self.volume, "volume")?,
            forward: row.opt_positive(Some(self.forward), "underlying")?,
            index: row.opt_positive(self.index, "index_price")?,
            updated_ms: time_ms,
            line: row.line,
        })
    }
}

/// Order-book dump CSV (pandas; first column an unnamed index). A missing side is 0;
/// the `bid_iv = 0` / `ask_iv = 500` sentinels are ignored (we invert IVs ourselves);
/// `timestamp` is per instrument (ms) and is the row's update time.
pub(crate) struct OrderBook {
    expiry: usize,
    kind: usize,
    name: usize,
    strike: usize,
    forward: usize,
    time: usize,
    oi: Option<usize>,
    mark: Option<usize>,
    mark_iv: Option<usize>,
    index: Option<usize>,
    bid: usize,
    bid_size: Option<usize>,
    ask: usize,
    ask_size: Option<usize>,
    stats: Option<usize>,
}

impl OrderBook {
    pub(crate) const NAME: &'static str = Format::DeribitBook.name();
    pub(crate) const SIGNATURE: &'static [&'static str] =
        &["expiration_timestamp", "instrument_name"];

    pub(crate) fn new(c: &Columns, path: &Path) -> Result<Self, Error> {
        let r = |n| c.req(n, path, Self::NAME);
        Ok(OrderBook {
            expiry: r("expiration_timestamp")?,
            kind: r("option_type")?,
            name: r("instrument_name")?,
            strike: r("strike")?,
            forward: r("underlying_price")?,
            time: r("timestamp")?,
            oi: c.find("open_interest"),
            mark: c.find("mark_price"),
            mark_iv: c.find("mark_iv"),
            index: c.find("index_price"),
            bid: r("best_bid_price")?,
            bid_size: c.find("best_bid_amount"),
            ask: r("best_ask_price")?,
            ask_size: c.find("best_ask_amount"),
            stats: c.find("stats"),
        })
    }
}

/// Reads `'volume': 717.1` out of a Python-repr dict; `None` when absent or `None`.
fn python_dict_number(s: &str, key: &str) -> Option<f64> {
    let pat = format!("'{key}':");
    let rest = &s[s.find(&pat)? + pat.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok().filter(|v: &f64| v.is_finite())
}

impl RowParser for OrderBook {
    fn parse(&self, row: &Row<'_>) -> Result<RawQuote, Error> {
        let time_ms = row.i64(self.time, "timestamp")?;
        let name = row.req_str(self.name, "instrument_name")?;
        let strike = row.positive(self.strike, "strike")?;
        let kind = option_type(row, self.kind, "option_type")?;
        check_name(row, "instrument_name", name, None, strike, kind)?;
        let underlying = name.split('-').next().unwrap_or(name).to_string();
        let volume = match self.stats {
            Some(c) => python_dict_number(row.str(c, "stats")?, "volume"),
            None => None,
        };
        let mark_iv = row.opt_f64(self.mark_iv, "mark_iv")?.map(|v| v / 100.0);
        Ok(RawQuote {
            time_ms,
            underlying,
            instrument: name.to_string(),
            expiry_ms: row.i64(self.expiry, "expiration_timestamp")?,
            strike,
            kind,
            unit: PriceUnit::Coin,
            bid: row.price(Some(self.bid), "best_bid_price", true)?,
            ask: row.price(Some(self.ask), "best_ask_price", true)?,
            mark: row.price(self.mark, "mark_price", false)?,
            mark_iv,
            bid_size: row.opt_f64(self.bid_size, "best_bid_amount")?,
            ask_size: row.opt_f64(self.ask_size, "best_ask_amount")?,
            open_interest: row.opt_f64(self.oi, "open_interest")?,
            volume,
            forward: row.opt_positive(Some(self.forward), "underlying_price")?,
            index: row.opt_positive(self.index, "index_price")?,
            updated_ms: time_ms,
            line: row.line,
        })
    }
}

/// One item of `get_book_summary_by_currency`'s `result`.
#[derive(Deserialize)]
struct SummaryItem {
    instrument_name: String,
    bid_price: Option<f64>,
    ask_price: Option<f64>,
    mark_price: Option<f64>,
    /// Percent.
    mark_iv: Option<f64>,
    underlying_price: Option<f64>,
    estimated_delivery_price: Option<f64>,
    open_interest: Option<f64>,
    volume: Option<f64>,
    creation_timestamp: Option<i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonDoc {
    Response {
        result: Vec<SummaryItem>,
        #[serde(rename = "usOut")]
        us_out: Option<i64>,
    },
    Items(Vec<SummaryItem>),
}

/// Reads Deribit API JSON: one response object, a bare `result` array, or many
/// responses one per line. Each response is one snapshot, at `usOut` (µs) when present,
/// else at the latest `creation_timestamp`, else at `snapshot_time_ms` (`--snapshot-time`).
/// `line` in the quotes is the 1-based item number within its response, the response
/// number being reported in errors.
pub(crate) fn read_json(
    path: &Path,
    input: Box<dyn BufRead + Send>,
    snapshot_time_ms: Option<i64>,
    emit: &mut dyn FnMut(Result<RawQuote, Error>) -> Result<(), Error>,
) -> Result<u64, Error> {
    let stream = serde_json::Deserializer::from_reader(input).into_iter::<JsonDoc>();
    let mut rows = 0;
    for (n, doc) in stream.enumerate() {
        let record = n as u64 + 1;
        let doc = doc.map_err(|e| json_error(path, record, &e))?;
        let (items, us_out) = match doc {
            JsonDoc::Response { result, us_out } => (result, us_out),
            JsonDoc::Items(items) => (items, None),
        };
        let latest = items.iter().filter_map(|i| i.creation_timestamp).max();
        let Some(time_ms) = us_out.map(|us| us / 1000).or(latest).or(snapshot_time_ms) else {
            return Err(Error::usage(
                path,
                format!(
                    "response {record} has no snapshot time (no usOut, no item with a \
                     creation_timestamp): give it with --snapshot-time (ISO-8601 UTC)"
                ),
            ));
        };
        for (i, item) in items.into_iter().enumerate() {
            rows += 1;
            emit(json_item(path, record, i as u64 + 1, time_ms, item))?;
        }
    }
    Ok(rows)
}

/// serde_json's error in the reader's terms: I/O (gzip), shape, or syntax.
fn json_error(path: &Path, record: u64, e: &serde_json::Error) -> Error {
    if e.is_io() {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
        return Error::new(ErrorKind::Gzip {
            path: path.to_path_buf(),
            line: e.line() as u64,
            source,
        });
    }
    if e.is_data() {
        return Error::usage(
            path,
            format!(
                "JSON value {record} is not a Deribit book summary: expected a \
                 public/get_book_summary_by_currency response {{\"result\": [{{\"instrument_name\": \
                 …, \"bid_price\": …}}, …]}} or a bare array of such items (other layouts: \
                 convert to CSV and use --map)"
            ),
        );
    }
    Error::new(ErrorKind::Json {
        path: path.to_path_buf(),
        line: (e.line() as u64).max(1),
        reason: e.to_string(),
    })
}

fn json_item(
    path: &Path,
    record: u64,
    item_no: u64,
    time_ms: i64,
    it: SummaryItem,
) -> Result<RawQuote, Error> {
    let field = |f: &str| format!("result[{item_no}].{f}");
    let Some(inst) = instrument::parse(&it.instrument_name) else {
        return Err(Error::field(
            path,
            record,
            &field("instrument_name"),
            FieldReason::Instrument(it.instrument_name.chars().take(60).collect()),
        ));
    };
    for (name, v) in
        [("bid_price", it.bid_price), ("ask_price", it.ask_price), ("mark_price", it.mark_price)]
    {
        if let Some(v) = v.filter(|v| *v < 0.0) {
            return Err(Error::field(path, record, &field(name), FieldReason::OutOfRange(v)));
        }
    }
    Ok(RawQuote {
        time_ms,
        underlying: inst.underlying.to_string(),
        expiry_ms: inst.expiry_ms,
        strike: inst.strike,
        kind: inst.kind,
        unit: PriceUnit::Coin,
        bid: it.bid_price,
        ask: it.ask_price,
        mark: it.mark_price,
        mark_iv: it.mark_iv.map(|v| v / 100.0),
        bid_size: None,
        ask_size: None,
        open_interest: it.open_interest,
        volume: it.volume,
        forward: it.underlying_price.filter(|f| *f > 0.0),
        index: it.estimated_delivery_price.filter(|f| *f > 0.0),
        updated_ms: it.creation_timestamp.unwrap_or(time_ms),
        line: record,
        instrument: it.instrument_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_volume() {
        // Literal from the first data row of schepal's options_data.csv.
        let s = "{'volume': 717.1, 'price_change': 90.4762, 'low': 0.006, 'high': 0.05}";
        assert_eq!(python_dict_number(s, "volume"), Some(717.1));
        assert_eq!(python_dict_number("{'volume': None}", "volume"), None);
    }
}
