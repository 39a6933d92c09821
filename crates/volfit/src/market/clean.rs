//! Cleaning vocabulary: why a row was dropped ([`Rejection`]) or kept with a caveat, and
//! the per-snapshot tallies ([`RejectionCounts`]). Nothing is dropped without a count.
//!
//! Policy (see [`super::build`]):
//! * **Rejected** (counted in `rejected`): `no_quote`, `crossed`, `below_intrinsic` and
//!   `above_upper_bound` (judged on the mid, or the only side: no IV exists), `expired`,
//!   `short_expiry` (t below [`CleanConfig::min_t`]), `stale`, `duplicate`, `non_finite`,
//!   `invalid_field`, `unparsable_instrument`, `no_forward`.
//! * **Kept but flagged** (counted in `flagged`): `one_sided` quotes are kept with the
//!   missing side `None` — fits need two-sided quotes, but a band residual can use one side;
//!   `zero_bid` (a bid of 0 in a format where 0 is not the "missing" sentinel: turned into
//!   `None`); `side_without_iv` (one side below intrinsic / above the bound while the mid
//!   has an IV: that side's IV is `None`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a row was rejected (or, for the flag categories, kept with a caveat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// Neither bid nor ask.
    NoQuote,
    /// Only one side quoted (flag: kept).
    OneSided,
    /// A zero bid, treated as no bid (flag: kept).
    ZeroBid,
    /// One side has no IV while the quote is kept (flag: kept).
    SideWithoutIv,
    /// Bid above ask.
    Crossed,
    /// Mid (or the only side) at or below intrinsic value: no IV exists.
    BelowIntrinsic,
    /// Mid (or the only side) at or above the forward (calls) / strike (puts): no IV exists.
    AboveUpperBound,
    /// At or past expiry at the snapshot time.
    Expired,
    /// Time to expiry below the configured minimum.
    ShortExpiry,
    /// Last update older than the staleness limit.
    Stale,
    /// Same instrument twice in one snapshot (the latest update is kept).
    Duplicate,
    /// A NaN or infinite number.
    NonFinite,
    /// A field that is not a valid number/time/token, or out of range.
    InvalidField,
    /// Instrument name not of the form `UND-DMMMYY-STRIKE-C|P`.
    UnparsableInstrument,
    /// No forward: no underlying price on any row and no put–call pair.
    NoForward,
}

impl Rejection {
    /// True for the categories that keep the quote (flags), false for real rejections.
    pub fn is_flag(self) -> bool {
        matches!(self, Rejection::OneSided | Rejection::ZeroBid | Rejection::SideWithoutIv)
    }
}

/// Counts per reason; serialises as a JSON object `{"crossed": 3, …}` with sorted keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RejectionCounts(pub BTreeMap<Rejection, u64>);

impl RejectionCounts {
    /// Adds one to `reason`.
    pub fn add(&mut self, reason: Rejection) {
        *self.0.entry(reason).or_insert(0) += 1;
    }
    /// Adds `n` to `reason`.
    pub fn add_n(&mut self, reason: Rejection, n: u64) {
        if n > 0 {
            *self.0.entry(reason).or_insert(0) += n;
        }
    }
    /// Count for one reason.
    pub fn get(&self, reason: Rejection) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }
    /// Sum over all reasons.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &RejectionCounts) {
        for (&r, &n) in &other.0 {
            self.add_n(r, n);
        }
    }
}

/// Cleaning thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanConfig {
    /// Minimum time to expiry in years (ACT/365); shorter expiries are `short_expiry`.
    /// Default 0: only expired quotes are dropped (Deribit still marks same-day expiries).
    pub min_t: f64,
    /// A quote whose last update is older than this (ms) at the snapshot time is `stale`.
    pub max_age_ms: i64,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig { min_t: 0.0, max_age_ms: 10 * 60 * 1000 }
    }
}
