//! Deribit website options-chain export (the chain page's export of one expiry):
//! `Instrument,Open,Size,Bid,IV Bid,Mark,IV Ask,Ask,Size,Last,…`.
//!
//! - No time column: every row takes [`ReadOptions::snapshot_time_ms`](super::ReadOptions)
//!   (`--snapshot-time`), required.
//! - No forward column: rows carry none, so the builder derives each expiry's forward by
//!   put–call parity from the mid prices of the pairs nearest the money
//!   ([`forward`](super::forward)); an expiry without a two-sided call/put pair is rejected
//!   as `no_forward`.
//! - Prices (`Bid`, `Mark`, `Ask`) in coin; `-` (or empty) is an empty side.
//! - `Size` appears twice: the first is the bid size, the second (after `Ask`) the ask size.
//! - `Open` is the open interest; the website's IVs are not used (we invert our own).

use std::path::Path;

use super::chain::{PriceUnit, RawQuote};
use super::deribit::RowParser;
use super::error::{Error, FieldReason};
use super::fields::{Columns, Row};
use super::format::Format;
use super::instrument;

pub(crate) struct DeribitWeb {
    time_ms: i64,
    name: usize,
    bid: usize,
    ask: usize,
    mark: Option<usize>,
    bid_size: Option<usize>,
    ask_size: Option<usize>,
    oi: Option<usize>,
}

impl DeribitWeb {
    pub(crate) const NAME: &'static str = Format::DeribitWeb.name();
    pub(crate) const SIGNATURE: &'static [&'static str] = &["instrument", "iv bid", "iv ask"];

    pub(crate) fn new(c: &Columns, path: &Path, time_ms: Option<i64>) -> Result<Self, Error> {
        let Some(time_ms) = time_ms else {
            return Err(Error::usage(
                path,
                "a Deribit website export has no time column: pass the time of the export \
                 with --snapshot-time (ISO-8601 UTC, e.g. --snapshot-time 2024-04-08T14:27:00Z)",
            ));
        };
        let r = |n| c.req(n, path, Self::NAME);
        let (bid, ask) = (r("bid")?, r("ask")?);
        let sizes = c.positions("size");
        Ok(DeribitWeb {
            time_ms,
            name: r("instrument")?,
            bid,
            ask,
            mark: c.find("mark"),
            bid_size: sizes.iter().copied().rfind(|&i| i < bid),
            ask_size: sizes.iter().copied().find(|&i| i > ask),
            oi: c.find("open"),
        })
    }
}

/// A price or size where `-` means "none".
fn dash(row: &Row<'_>, col: Option<usize>, name: &str) -> Result<Option<f64>, Error> {
    match col {
        Some(c) if row.str(c, name)? == "-" => Ok(None),
        _ => row.price(col, name, false),
    }
}

impl RowParser for DeribitWeb {
    fn parse(&self, row: &Row<'_>) -> Result<RawQuote, Error> {
        let name = row.req_str(self.name, "Instrument")?;
        let inst = instrument::parse(name).ok_or_else(|| {
            row.err("Instrument", FieldReason::Instrument(name.chars().take(60).collect()))
        })?;
        Ok(RawQuote {
            time_ms: self.time_ms,
            underlying: inst.underlying.to_string(),
            instrument: name.to_string(),
            expiry_ms: inst.expiry_ms,
            strike: inst.strike,
            kind: inst.kind,
            unit: PriceUnit::Coin,
            bid: dash(row, Some(self.bid), "Bid")?,
            ask: dash(row, Some(self.ask), "Ask")?,
            mark: dash(row, self.mark, "Mark")?,
            mark_iv: None,
            bid_size: dash(row, self.bid_size, "Size")?,
            ask_size: dash(row, self.ask_size, "Size")?,
            open_interest: dash(row, self.oi, "Open")?,
            volume: None,
            forward: None,
            index: None,
            updated_ms: self.time_ms,
            line: row.line,
        })
    }
}
