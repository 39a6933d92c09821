//! The cleaned chain: [`Snapshot`] (time, underlying) → [`Expiry`] (08:00 UTC, `t`,
//! forward) → [`Quote`] (strike, call/put, bid/ask in coin and USD, IVs).
//!
//! These are plain values. Readers produce [`RawQuote`]s; `market::build` groups,
//! cleans and prices them into snapshots.

use serde::{Deserialize, Serialize};

use crate::black::OptionType;

/// Seconds in the ACT/365 year used for every time to expiry.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;

/// Years between two instants in milliseconds, ACT/365 to the second.
pub fn year_fraction(from_ms: i64, to_ms: i64) -> f64 {
    (to_ms - from_ms) as f64 / 1000.0 / SECONDS_PER_YEAR
}

/// How a quote's price is denominated at the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceUnit {
    /// Coin per coin of underlying (Deribit inverse options): USD = coin × forward.
    Coin,
    /// USD per coin of underlying.
    Usd,
}

/// One option row as a reader found it, before grouping and cleaning.
///
/// Prices are in the source's unit ([`PriceUnit`]); `None` means "no quote on that side"
/// (readers translate each format's sentinels — empty cell, 0 — to `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawQuote {
    /// Snapshot (quote) time, ms since the Unix epoch.
    pub time_ms: i64,
    /// Underlying coin, e.g. `BTC`.
    pub underlying: String,
    /// Instrument name, e.g. `BTC-27MAR26-90000-C`.
    pub instrument: String,
    /// Expiry instant, ms since the Unix epoch.
    pub expiry_ms: i64,
    /// Strike in USD.
    pub strike: f64,
    /// Call or put.
    pub kind: OptionType,
    /// Unit of `bid`, `ask`, `mark`.
    pub unit: PriceUnit,
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// Exchange mark price.
    pub mark: Option<f64>,
    /// Exchange mark IV as a fraction (converted from percent at the parsing edge).
    pub mark_iv: Option<f64>,
    /// Size at the best bid (contracts).
    pub bid_size: Option<f64>,
    /// Size at the best ask (contracts).
    pub ask_size: Option<f64>,
    /// Open interest (contracts).
    pub open_interest: Option<f64>,
    /// 24 h volume (contracts).
    pub volume: Option<f64>,
    /// This row's forward / underlying future price in USD (Deribit `underlying_price`).
    pub forward: Option<f64>,
    /// Spot index in USD, when the source has it.
    pub index: Option<f64>,
    /// Time of this row's last update, ms (for staleness); `time_ms` when unknown.
    pub updated_ms: i64,
    /// 1-based line in the source file, for messages.
    pub line: u64,
}

/// Where an expiry's forward came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardSource {
    /// Robust central value (median) of the rows' underlying/future prices.
    Underlying,
    /// Implied by put–call parity from two-sided call/put pairs.
    Parity,
}

/// One cleaned option quote. Prices in USD per coin of underlying (undiscounted
/// Black-76 units); IVs as fractions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Instrument name.
    pub instrument: String,
    /// Strike in USD.
    pub strike: f64,
    /// Call or put.
    pub kind: OptionType,
    /// Best bid in USD (coin × forward for inverse options).
    pub bid: Option<f64>,
    /// Best ask in USD.
    pub ask: Option<f64>,
    /// Best bid in coin (inverse options only).
    pub bid_coin: Option<f64>,
    /// Best ask in coin (inverse options only).
    pub ask_coin: Option<f64>,
    /// Exchange mark price in USD.
    pub mark: Option<f64>,
    /// Exchange mark IV (fraction).
    pub mark_iv: Option<f64>,
    /// Implied vol of the bid.
    pub bid_iv: Option<f64>,
    /// Implied vol of the ask.
    pub ask_iv: Option<f64>,
    /// Implied vol of the mid (two-sided quotes only).
    pub mid_iv: Option<f64>,
    /// Size at the bid.
    pub bid_size: Option<f64>,
    /// Size at the ask.
    pub ask_size: Option<f64>,
    /// Open interest (contracts).
    pub open_interest: Option<f64>,
    /// 24 h volume (contracts).
    pub volume: Option<f64>,
    /// The forward of this row at the source (USD): coin prices are converted to USD and
    /// the IVs inverted on it (Deribit's `underlying_price` at this quote's observation).
    pub row_forward: f64,
    /// Years to expiry at this quote's own observation (ACT/365), at which its IVs were
    /// inverted: the row's time when the source has one per row (an order book polled over
    /// minutes), else the snapshot's, so equal to the expiry's `t` for one-time files.
    pub t: f64,
}

impl Quote {
    /// Mid price in USD when both sides are quoted.
    pub fn mid(&self) -> Option<f64> {
        Some(0.5 * (self.bid? + self.ask?))
    }
    /// Bid–ask spread in USD when both sides are quoted.
    pub fn spread(&self) -> Option<f64> {
        Some(self.ask? - self.bid?)
    }
    /// True when both sides are quoted.
    pub fn two_sided(&self) -> bool {
        self.bid.is_some() && self.ask.is_some()
    }
    /// Log-moneyness `ln(K/F)` on this quote's own forward (`row_forward`), the k its IVs
    /// belong to.
    pub fn log_moneyness(&self) -> f64 {
        (self.strike / self.row_forward).ln()
    }
}

/// All quotes of one expiry, with its forward and time to expiry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expiry {
    /// Expiry instant, ms since the Unix epoch (08:00 UTC on Deribit).
    pub expiry_ms: i64,
    /// Years to expiry from the snapshot time, ACT/365 to the second.
    pub t: f64,
    /// Forward in USD.
    pub forward: f64,
    /// How the forward was obtained.
    pub forward_source: ForwardSource,
    /// Quotes sorted by strike, then calls before puts.
    pub quotes: Vec<Quote>,
}

impl Expiry {
    /// Log-forward-moneyness `k = ln(K/F)` of a strike on the expiry forward (a quote's own
    /// k is [`Quote::log_moneyness`]).
    pub fn log_moneyness(&self, strike: f64) -> f64 {
        (strike / self.forward).ln()
    }
}

/// One chain of one underlying at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Snapshot time, ms since the Unix epoch.
    pub time_ms: i64,
    /// Underlying coin, e.g. `BTC`.
    pub underlying: String,
    /// Spot index (median over rows) when known.
    pub index: Option<f64>,
    /// Expiries sorted by time.
    pub expiries: Vec<Expiry>,
}

impl Snapshot {
    /// Total number of quotes.
    pub fn num_quotes(&self) -> usize {
        self.expiries.iter().map(|e| e.quotes.len()).sum()
    }
    /// Snapshot time as ISO-8601 UTC (`2026-01-05T04:11:27Z`).
    pub fn time_iso(&self) -> String {
        iso8601(self.time_ms)
    }
}

/// Formats ms since the epoch as ISO-8601 UTC, second precision (`…Z`), or with
/// milliseconds when they are not zero.
pub fn iso8601(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(d) if ms % 1000 == 0 => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(d) => d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_fraction_is_act365_to_the_second() {
        // 2026-01-05T04:11:27Z → 2026-03-27T08:00:00Z: 81 days 3h48m33s.
        let from = 1_767_586_287_000;
        let to = 1_774_598_400_000;
        let secs = 81.0 * 86400.0 + 3.0 * 3600.0 + 48.0 * 60.0 + 33.0;
        assert!((year_fraction(from, to) - secs / 31_536_000.0).abs() < 1e-15);
        assert_eq!(iso8601(from), "2026-01-05T04:11:27Z");
        assert_eq!(iso8601(to), "2026-03-27T08:00:00Z");
    }
}
