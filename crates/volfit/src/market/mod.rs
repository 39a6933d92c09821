//! Market data in: streaming readers, chains, cleaning with counted reasons, forwards.

pub mod chain;
pub mod synth;

pub use chain::{
    iso8601, year_fraction, Expiry, ForwardSource, OptionType, PriceUnit, Quote, RawQuote, Snapshot,
};
