//! Market data in: streaming readers, chains, cleaning with counted reasons, forwards.
//!
//! Flow: [`read_path`] (format detected from the header, gzip from the magic bytes) streams
//! [`RawQuote`]s grouped into [`RawSnapshot`]s — or, for Tardis update streams, as-of chains
//! on a [`Schedule`] — and [`build()`] turns each into a cleaned [`Snapshot`] with
//! [`RejectionCounts`] under the rules of [`CleanConfig`] (the rules and their order are
//! listed on [`Rejection`]'s module, `clean`). Errors are [`Error`]s naming file, line and
//! field.
//!
//! ## Public surface
//! Every item lives in a private file and is re-exported here:
//! - reading: [`read_path`], [`ReadOptions`], [`Schedule`], [`Format`], [`Mapping`]
//!   ([`TimeUnit`], [`IvUnit`]), [`FileReport`], [`RawSnapshot`], [`open_input`],
//!   [`read_perpetuals`] ([`PerpPrice`]), [`load_files`] ([`Loaded`], [`sort_snapshots`]);
//! - the chain: [`Snapshot`] → [`Expiry`] → [`Quote`], [`RawQuote`], [`OptionType`] (defined
//!   in [`black`](crate::black)), [`PriceUnit`], [`ForwardSource`];
//! - cleaning: [`build()`], [`Cleaned`], [`CleanConfig`], [`Rejection`],
//!   [`RejectionCounts`], [`forward`], [`quote_vega`], [`Dedupe`] (repeated snapshots);
//! - time and names: [`year_fraction`], [`SECONDS_PER_YEAR`], [`iso8601`],
//!   [`parse_time_ms`], [`parse_instrument`] ([`Instrument`]), [`parse_instrument_date`],
//!   [`expiry_0800_ms`];
//! - errors: [`Error`], [`ErrorKind`], [`FieldReason`].
//!
//! The two data generators stay namespaces of their own: [`synth`] (the synthetic
//! Deribit-like chain with its true surface) and [`tardis_gen`] (a synthetic Tardis update
//! stream).

mod build;
mod chain;
mod clean;
mod dedupe;
mod deribit;
mod deribit_web;
mod error;
mod fields;
mod format;
mod halo;
mod input;
mod instrument;
mod load;
mod mapped;
mod optionsdx;
mod perp;
mod read;
mod stream;
pub mod synth;
mod tardis;
pub mod tardis_gen;

pub use crate::black::OptionType;
pub use build::{build, forward, quote_vega, Cleaned};
pub use chain::{
    iso8601, year_fraction, Expiry, ForwardSource, PriceUnit, Quote, RawQuote, Snapshot,
    SECONDS_PER_YEAR,
};
pub use clean::{CleanConfig, Rejection, RejectionCounts};
pub use dedupe::Dedupe;
pub use error::{Error, ErrorKind, FieldReason};
pub use fields::parse_time_ms;
pub use format::Format;
pub use input::open as open_input;
pub use instrument::{
    expiry_0800_ms, parse as parse_instrument, parse_date as parse_instrument_date, Instrument,
};
pub use load::{load_files, sort as sort_snapshots, Loaded};
pub use mapped::{IvUnit, Mapping, TimeUnit};
pub use perp::{read_perpetuals, PerpPrice};
pub use read::read_path;
pub use stream::{FileReport, RawSnapshot, ReadOptions, Schedule};
