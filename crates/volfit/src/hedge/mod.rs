//! Delta-hedging backtests: which model and fit spec hedges best, and how much tail risk
//! remains.
//!
//! [`backtest`](backtest::backtest) holds each option over consecutive snapshots, re-fits the
//! smile at every snapshot (warm start), computes Black, smile-adjusted and premium-adjusted
//! deltas ([`delta`]), hedges with the perpetual or the matching future, charges spread and
//! [`fees`] ([`accounting`]), and reports the hedging-error distribution per spec × delta
//! with the risk measures of [`crate::risk`] ([`summary`]); [`config`] is what defines a run.
//! [`path`] is a synthetic Black–Scholes world that runs the same accounting with the true
//! delta, for tests of the theoretical `1/N` variance rate.

pub mod accounting;
pub mod backtest;
pub mod config;
pub mod delta;
pub mod fees;
pub mod path;
pub mod summary;

pub use accounting::{hedge_path, Obs, PathPnl, Step};
pub use backtest::backtest;
pub use config::{Entry, HedgeConfig, HedgeSource, Instrument, Marks};
pub use delta::{DeltaKind, Deltas, HedgeSmiles, SmilePoint};
pub use fees::FeeSchedule;
pub use summary::{
    bucket_summaries, summarise, BucketRecord, HedgeCounts, HedgeOutput, PathRecord, PnlStats,
    SummaryRecord,
};
