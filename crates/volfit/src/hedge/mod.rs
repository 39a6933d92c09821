//! Delta-hedging backtests: which model and fit spec hedges best, and how much tail risk
//! remains.
//!
//! [`backtest`](backtest::backtest) holds each option over consecutive snapshots, re-fits the
//! smile at every snapshot (warm start), computes Black, smile-adjusted and premium-adjusted
//! deltas ([`delta`]), hedges with the perpetual or the matching future, charges spread and
//! [`fees`], and reports the hedging-error distribution per spec × delta with the risk
//! measures of [`crate::risk`]. [`path`] is a synthetic Black–Scholes world that runs the same
//! accounting with the true delta, for tests of the theoretical `1/N` variance rate.

pub mod backtest;
pub mod delta;
pub mod fees;
pub mod path;

pub use backtest::{
    backtest, bucket_summaries, hedge_path, BucketRecord, Entry, HedgeConfig, HedgeOutput,
    HedgeSource, Instrument, Marks, Obs, PathPnl, PathRecord, PnlStats, Step, SummaryRecord,
};
pub use delta::{DeltaKind, Deltas, SmilePoint, SmileTable};
pub use fees::FeeSchedule;
