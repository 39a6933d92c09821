//! Market data in: streaming readers, chains, cleaning with counted reasons, forwards.
//!
//! Flow: [`read_path`] (format detected from the header, gzip from the magic bytes) streams
//! [`RawQuote`]s grouped into [`RawSnapshot`]s — or, for Tardis update streams, as-of chains
//! on a [`Schedule`] — and [`build`] turns each into a cleaned [`Snapshot`] with
//! [`RejectionCounts`]. Errors are [`Error`]s naming file, line and field.

pub mod build;
pub mod chain;
pub mod clean;
mod deribit;
pub mod error;
mod fields;
pub mod input;
pub mod instrument;
pub mod mapped;
mod optionsdx;
pub mod perp;
pub mod read;
pub mod synth;
mod tardis;
pub mod tardis_gen;

pub use build::{build, forward, quote_vega, Cleaned};
pub use chain::{
    iso8601, year_fraction, Expiry, ForwardSource, OptionType, PriceUnit, Quote, RawQuote, Snapshot,
};
pub use clean::{CleanConfig, Rejection, RejectionCounts};
pub use error::{Error, ErrorKind, FieldReason};
pub use fields::parse_time_ms;
pub use mapped::{IvUnit, Mapping, TimeUnit};
pub use read::{read_path, FileReport, Format, RawSnapshot, ReadOptions, Schedule};
