//! OptionsDX end-of-day BTC chains (Deribit): bracketed headers, a space after each comma,
//! `0` = no quote, prices in coin, `[MARK_IV]` in percent. Times come from the unix columns
//! (`[QUOTE_UNIXTIME]`, `[EXPIRY_UNIX]`, seconds); the readable ones are US-Eastern.

use std::path::Path;

use super::chain::{PriceUnit, RawQuote};
use super::deribit::{check_name, option_type, RowParser};
use super::error::Error;
use super::fields::{Columns, Row};
use super::format::Format;

pub(crate) struct OptionsDx {
    time: usize,
    name: usize,
    currency: Option<usize>,
    forward: usize,
    expiry: usize,
    kind: usize,
    strike: usize,
    bid_size: Option<usize>,
    bid: usize,
    ask: usize,
    ask_size: Option<usize>,
    oi: Option<usize>,
    volume: Option<usize>,
    mark_iv: Option<usize>,
}

impl OptionsDx {
    pub(crate) const NAME: &'static str = Format::Optionsdx.name();
    pub(crate) const SIGNATURE: &'static [&'static str] = &["quote_unixtime", "instrument_name"];

    pub(crate) fn new(c: &Columns, path: &Path) -> Result<Self, Error> {
        let r = |n| c.req(n, path, Self::NAME);
        Ok(OptionsDx {
            time: r("quote_unixtime")?,
            name: r("instrument_name")?,
            currency: c.find("base_currency"),
            forward: r("underlying_price")?,
            expiry: r("expiry_unix")?,
            kind: r("option_right")?,
            strike: r("strike")?,
            bid_size: c.find("bid_size"),
            bid: r("bid_price")?,
            ask: r("ask_price")?,
            ask_size: c.find("ask_size"),
            oi: c.find("open_interest"),
            volume: c.find("volume"),
            mark_iv: c.find("mark_iv"),
        })
    }
}

impl RowParser for OptionsDx {
    fn parse(&self, row: &Row<'_>) -> Result<RawQuote, Error> {
        let time_ms = row.i64(self.time, "[QUOTE_UNIXTIME]")?.saturating_mul(1000);
        let name = row.req_str(self.name, "[INSTRUMENT_NAME]")?;
        let strike = row.positive(self.strike, "[STRIKE]")?;
        let kind = option_type(row, self.kind, "[OPTION_RIGHT]")?;
        let currency = match self.currency {
            Some(c) => Some(row.req_str(c, "[BASE_CURRENCY]")?),
            None => None,
        };
        check_name(row, "[INSTRUMENT_NAME]", name, currency, strike, kind)?;
        let underlying = name.split('-').next().unwrap_or(name).to_ascii_uppercase();
        Ok(RawQuote {
            time_ms,
            underlying,
            instrument: name.to_string(),
            expiry_ms: row.i64(self.expiry, "[EXPIRY_UNIX]")?.saturating_mul(1000),
            strike,
            kind,
            unit: PriceUnit::Coin,
            bid: row.price(Some(self.bid), "[BID_PRICE]", true)?,
            ask: row.price(Some(self.ask), "[ASK_PRICE]", true)?,
            mark: None,
            mark_iv: row.opt_f64(self.mark_iv, "[MARK_IV]")?.map(|v| v / 100.0),
            bid_size: row.opt_f64(self.bid_size, "[BID_SIZE]")?,
            ask_size: row.opt_f64(self.ask_size, "[ASK_SIZE]")?,
            open_interest: row.opt_f64(self.oi, "[OPEN_INTEREST]")?,
            volume: row.opt_f64(self.volume, "[VOLUME]")?,
            forward: row.opt_positive(Some(self.forward), "[UNDERLYING_PRICE]")?,
            index: None,
            updated_ms: time_ms,
            line: row.line,
        })
    }
}
