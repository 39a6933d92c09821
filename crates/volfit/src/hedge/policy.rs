//! A path-dependent hedging policy as one more hedge method of the backtest
//! ([`DeltaKind::Policy`](super::DeltaKind::Policy)), beside the Black, smile and
//! premium-adjusted deltas.
//!
//! The backtest runs a policy on the same positions, the same observations and rebalancing
//! times, with the same hedge prices, band, fees, funding and accounting as the deltas
//! ([`hedge_path_with`](super::hedge_path_with)); only the target hedge differs. Unlike a
//! delta, a policy's hedge may depend on the hedge already held and on the path so far, so
//! it is asked step by step through a per-path [`PathPolicy::hedger`].
//!
//! The implementation for trained deep-hedging networks lives with them
//! (`deephedge::replay`): this module only fixes the interface, so the hedge module does
//! not depend on the training code.

use super::accounting::{Obs, Step};
use crate::market::OptionType;

/// The option a path holds, as a policy needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolicyPath {
    /// Call or put.
    pub kind: OptionType,
    /// Strike (USD).
    pub strike: f64,
    /// Expiry, ms since the epoch.
    pub expiry_ms: i64,
    /// Options held (negative = short), the backtest's `quantity`.
    pub qty: f64,
}

/// The per-path hedge of a policy: `(i, obs_i, step_i, held)` → coins of the hedge
/// instrument wanted over step `i`, given the coins `held` before it.
pub type Hedger<'a> = Box<dyn FnMut(usize, &Obs, &Step, f64) -> f64 + 'a>;

/// A hedging policy the backtest can replay.
pub trait PathPolicy: Sync {
    /// The hedger of one path with observations `obs` (entry first).
    fn hedger<'a>(&'a self, path: PolicyPath, obs: &[Obs]) -> Hedger<'a>;

    /// Coins of the instrument at price `p` per unit of the policy's hedge ratio taken on
    /// the option's forward `f` (as [`DeltaKind::instrument_ratio`](super::DeltaKind)):
    /// the entry ratio in `paths.csv` is the first hedge divided by `−quantity` times this.
    fn instrument_ratio(&self, f: f64, p: f64) -> f64;

    /// What the policy is, for `hedge.json` (file, kind, features, claim, conventions).
    fn describe(&self) -> serde_json::Value;

    /// Notices about applying the policy to this backtest (e.g. a long position hedged
    /// with a policy trained short).
    fn notices(&self, qty: f64) -> Vec<String>;
}
