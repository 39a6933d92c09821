//! The input formats the reader knows, by the short names `--format` accepts.

use serde::{Deserialize, Serialize};

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
    /// Any CSV through a [`Mapping`](super::Mapping).
    Mapped,
    /// Deribit website options-chain export (`Instrument,Open,Size,Bid,IV Bid,Mark,…`):
    /// no time column (give [`ReadOptions::snapshot_time_ms`](super::ReadOptions)), no
    /// forward column (put–call parity per expiry).
    DeribitWeb,
}

impl Format {
    /// Short name (as accepted by `--format`).
    pub const fn name(self) -> &'static str {
        match self {
            Format::DeribitSummary => "deribit-summary",
            Format::DeribitBook => "deribit-book",
            Format::Optionsdx => "optionsdx",
            Format::Tardis => "tardis",
            Format::DeribitJson => "deribit-json",
            Format::Mapped => "mapped",
            Format::DeribitWeb => "deribit-web",
        }
    }
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 7] = [
        Format::DeribitSummary,
        Format::DeribitBook,
        Format::DeribitWeb,
        Format::DeribitJson,
        Format::Optionsdx,
        Format::Tardis,
        Format::Mapped,
    ];
    /// Parses a short name.
    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(s))
    }
}
