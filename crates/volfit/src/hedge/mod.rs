//! Delta-hedging backtests: which model and fit spec hedges best, and how much tail risk
//! remains.
//!
//! [`backtest()`] holds each option over consecutive snapshots, re-fits the smile at every
//! snapshot (warm start), computes Black, smile-adjusted and premium-adjusted deltas
//! ([`DeltaKind`], [`Deltas`]), hedges with the perpetual or the matching future, charges
//! spread and [`FeeSchedule`] fees ([`hedge_path`]), and reports the hedging-error
//! distribution per spec × delta with the risk measures of [`crate::risk`] ([`summarise`]);
//! [`HedgeConfig`] is what defines a run. A path-dependent [`PathPolicy`] (a trained
//! deep-hedging network, `deephedge::replay`) joins as the method [`DeltaKind::Policy`]
//! ([`backtest_policy`], [`hedge_path_with`]), and [`es_by_maturity`] compares every
//! method's `ES_0.975` with the Black delta's per maturity bucket on the same paths.
//! [`BsWorld`] is a synthetic Black–Scholes world that runs the same accounting with the
//! true delta, for tests of the theoretical `1/N` variance rate (Bertsimas, Kogan & Lo 2000: with `N` equally spaced rebalances the P&L
//! standard deviation halves when the rebalancing frequency quadruples).
//!
//! ## Deltas
//! With `k = ln(K/F)`, model vol `σ(k)` and its slope `σ'(k) = ∂σ/∂k`:
//! - **Black delta** at the model vol: `Δ_B = ∂V/∂F` at fixed σ.
//! - **Smile-adjusted (sticky-moneyness) delta**: the smile moves with the forward, so at a
//!   fixed strike `dσ/dF = σ'(k)·∂k/∂F = −σ'(k)/F` and `Δ_S = Δ_B + vega·(−σ'(k)/F)`.
//! - **Premium-adjusted delta** of an inverse (coin-settled) option: its coin value is
//!   `W = V/F`, so the coin P&L is flat to first order for `Δ_PA = Δ_S − V/F` (built on the
//!   smile delta). It is not Deribit's displayed delta, which is the Black delta `Δ_B` at
//!   the mark IV (median |difference| 1.3e-4 on the 2026 svcj chains); both are kept.
//!
//! Model vols come from the snapshot's fitted model ([`HedgeSmiles`], a
//! `model::Fitted`): inside each expiry's fitted k-range `σ(k) = √(w/t)` and
//! `σ'(k) = w'/(2σt)` from the smile itself; outside it the vol is held flat at the edge
//! value and the slope is zero (flagged as extrapolated).
//!
//! ## Accounting (one option path, `q` options held, hedge `h_i` coins over step `i → i+1`)
//! - Option marks: mid in USD `V_i` and in coin `W_i` (`V = W·F`); mark price, then the
//!   model price, when no two-sided quote exists. At an expiry between two snapshots the
//!   option settles at the later snapshot on the index (settlement proxy).
//! - Hedge `h_i = −q·Δ_i·F_i/P_i` coins of the instrument at price `P_i` for the USD deltas
//!   (a delta on the expiry's forward `F` traded in the perpetual, `dF = (F/P)·dP`), and
//!   `−q·Δ_PA` for the premium-adjusted one ([`DeltaKind::instrument_ratio`]). Re-set at
//!   every snapshot, or with `band` only when `|target − h| > band` (coins of the
//!   instrument, whole position), then fully to the target. Over a step it earns
//!   `h_i·(P_{i+1} − P_i)` USD, booked in coin at `P_{i+1}`, and perpetual funding
//!   `−h_i·P_i·φ_i` ([`FundingConfig`], [`FundingHistory`]; 0 by default, stated).
//! - Gross P&L: USD `q·(V_n − V_0) + Σ h_i (ΔP_i − P_i φ_i)`; coin
//!   `q·(W_n − W_0) + Σ h_i (ΔP_i/P_{i+1} − φ_i)`.
//! - Net P&L subtracts spread costs (buy at ask, sell at bid, against the mid) and fees of
//!   [`FeeSchedule`] (option trade, hedge trades, settlement), each in both units.
//!
//! ## Entries and exits
//! An option is entered where it is two-sided and passes the [`LiquidityFilter`] (on by
//! default, echoed in the output); its exit is fixed by what is known at entry: the
//! horizon, the end of the run of snapshots, or settlement. Later quote availability never
//! moves it: an option not two-sided at its exit closes at its mark (`exit_quoted`).
//!
//! Every step takes both hedge prices from one source, so no basis jump enters the P&L: the
//! perpetual when both snapshots have one, otherwise the forward of the nearest expiry alive
//! at both (the output says so, [`HedgeSource`]), or with [`Instrument::Future`] the
//! option's own expiry forward; `steps_by_source` counts the instrument actually traded.

mod accounting;
mod backtest;
mod compare;
mod config;
mod delta;
mod fees;
mod funding;
mod liquidity;
mod path;
mod policy;
mod summary;

pub use accounting::{hedge_path, hedge_path_with, Obs, PathPnl, Step};
pub use backtest::{backtest, backtest_funded, backtest_policy};
pub use compare::{es_by_maturity, EsRecord};
pub use config::{Entry, HedgeConfig, HedgeSource, Instrument, InvalidValue, Marks};
pub use delta::{DeltaKind, Deltas, HedgeSmiles, SmilePoint};
pub use fees::FeeSchedule;
pub use funding::{FundingConfig, FundingError, FundingHistory};
pub use liquidity::LiquidityFilter;
pub use path::{hedged_pnl, log_log_slope, variance, BsWorld};
pub use policy::{Hedger, PathPolicy, PolicyPath};
pub use summary::{
    bucket_summaries, moneyness_bucket, summarise, BucketRecord, HedgeCounts, HedgeOutput,
    PathRecord, PnlStats, SummaryRecord,
};
