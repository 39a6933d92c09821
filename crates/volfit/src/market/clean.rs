//! The cleaning rules and their vocabulary: why a row was dropped ([`Rejection`]) or kept
//! with a caveat, and the per-snapshot tallies ([`RejectionCounts`]). Nothing is dropped
//! without a count. `build` assembles snapshots and applies these rules; the Tardis reader
//! applies the as-of rule ([`screen_as_of`]) to its stored updates. The policy is listed
//! on [`CleanConfig`].
//!
//! Readers count what they cannot parse (`invalid_field`, `unparsable_instrument`, …) in
//! their [`FileReport`](super::FileReport).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::chain::{year_fraction, RawQuote};
use crate::black::{implied_vol, IvError, OptionType};

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
    /// A row of a whole snapshot whose underlying and time were already read (a file given
    /// twice, overlapping globs): the first read is kept (see `market::Dedupe`).
    DuplicateSnapshot,
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

/// Cleaning thresholds. The policy, in the order the rules are applied (the first that
/// fires is counted):
/// 1. per row (`screen_row`): `non_finite`, `invalid_field` (strike ≤ 0 or a negative
///    price), `expired`, `short_expiry` (t below [`min_t`](Self::min_t)), `stale` (last
///    update older than [`max_age_ms`](Self::max_age_ms)); a bid of 0 becomes `None`
///    (flag `zero_bid`); then `no_quote`, `crossed`;
/// 2. per chain (`keep_latest`): `duplicate` — of rows with the same expiry, strike and
///    type, the latest update is kept (ties: the later row);
/// 3. per expiry: `no_forward` (no row forward and no put–call pair, counted by `build`);
/// 4. per quote (`screen_price`): `below_intrinsic`, `above_upper_bound` or `non_finite`
///    when the mid (or the only side) has no implied vol — unless one side of a two-sided
///    quote has one (a bid below intrinsic under a real ask): that quote is kept with no
///    mid IV, flagged `side_without_iv`, and only band residuals use it;
/// 5. flags on kept quotes (`flag_sides`): `one_sided` (kept with the missing side
///    `None`: fits need two-sided quotes, a band residual can use one side) and
///    `side_without_iv` (one side below intrinsic / above the bound while the mid has an
///    IV: that side's IV is `None`).
///
/// Update streams apply `expired` and `stale` as of each chain time (`screen_as_of`).
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

/// The per-row rules (policy steps 1): the reason `r` is rejected, if any. A zero bid is
/// turned into `None` and counted in `flagged` before the quote-side rules run.
#[inline]
pub(crate) fn screen_row(
    r: &mut RawQuote,
    time_ms: i64,
    cfg: &CleanConfig,
    flagged: &mut RejectionCounts,
) -> Result<(), Rejection> {
    let nums = [Some(r.strike), r.bid, r.ask, r.mark, r.forward, r.mark_iv];
    if nums.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Rejection::NonFinite);
    }
    if r.strike <= 0.0 || [r.bid, r.ask, r.mark].iter().flatten().any(|v| *v < 0.0) {
        return Err(Rejection::InvalidField);
    }
    let t = year_fraction(time_ms, r.expiry_ms);
    if t <= 0.0 {
        return Err(Rejection::Expired);
    }
    if t < cfg.min_t {
        return Err(Rejection::ShortExpiry);
    }
    if time_ms - r.updated_ms > cfg.max_age_ms {
        return Err(Rejection::Stale);
    }
    if r.bid == Some(0.0) {
        flagged.add(Rejection::ZeroBid);
        r.bid = None;
    }
    if r.bid.is_none() && r.ask.is_none() {
        return Err(Rejection::NoQuote);
    }
    if let (Some(b), Some(a)) = (r.bid, r.ask) {
        if b > a {
            return Err(Rejection::Crossed);
        }
    }
    Ok(())
}

/// The duplicate rule (policy step 2): which rows to keep. Of rows with the same expiry,
/// strike and type the one with the latest update is kept (ties: the later row); each other
/// one is counted `duplicate` in `rejected`.
pub(crate) fn keep_latest(rows: &[RawQuote], rejected: &mut RejectionCounts) -> Vec<bool> {
    let mut seen: HashMap<(i64, u64, bool), usize> = HashMap::new();
    let mut keep = vec![true; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        let key = (r.expiry_ms, r.strike.to_bits(), r.kind == OptionType::Call);
        if let Some(j) = seen.insert(key, i) {
            // Keep the later update (ties: the later row); the other is the duplicate.
            let (loser, winner) = if rows[j].updated_ms > r.updated_ms { (i, j) } else { (j, i) };
            keep[loser] = false;
            seen.insert(key, winner);
            rejected.add(Rejection::Duplicate);
        }
    }
    keep
}

/// The price rule (policy step 4): the implied vol of the quote's centre — the mid of a
/// two-sided quote, else its only side — on forward `f`, or why none exists.
///
/// # Panics
/// If neither side is quoted ([`screen_row`] rejects such rows first).
#[inline]
pub(crate) fn screen_price(
    kind: OptionType,
    bid: Option<f64>,
    ask: Option<f64>,
    f: f64,
    k: f64,
    t: f64,
) -> Result<f64, Rejection> {
    let centre = match (bid, ask) {
        (Some(b), Some(a)) => 0.5 * (a + b),
        (Some(p), None) | (None, Some(p)) => p,
        (None, None) => unreachable!("rows without any side are rejected by screen_row"),
    };
    implied_vol(kind, centre, f, k, t).map_err(|e| match e {
        IvError::BelowIntrinsic => Rejection::BelowIntrinsic,
        IvError::AboveUpperBound => Rejection::AboveUpperBound,
        _ => Rejection::NonFinite,
    })
}

/// The flags of a kept quote (policy step 5) from its sides' IVs (`None` = side not
/// quoted): `one_sided` when a side is missing, `side_without_iv` when a quoted side has
/// no IV.
#[inline]
pub(crate) fn flag_sides(
    bid_iv: Option<Result<f64, IvError>>,
    ask_iv: Option<Result<f64, IvError>>,
    flagged: &mut RejectionCounts,
) {
    if bid_iv.is_none() || ask_iv.is_none() {
        flagged.add(Rejection::OneSided);
    }
    if matches!(bid_iv, Some(Err(_))) || matches!(ask_iv, Some(Err(_))) {
        flagged.add(Rejection::SideWithoutIv);
    }
}

/// The as-of rule of update streams (Tardis), in µs: an instrument at or past its expiry
/// at `asof_us` is `expired`; else an update older than `max_age_us` is `stale`.
#[inline]
pub(crate) fn screen_as_of(
    asof_us: i64,
    expiry_us: Option<i64>,
    updated_us: i64,
    max_age_us: i64,
) -> Option<Rejection> {
    if expiry_us.is_some_and(|e| e <= asof_us) {
        Some(Rejection::Expired)
    } else if asof_us - updated_us > max_age_us {
        Some(Rejection::Stale)
    } else {
        None
    }
}
