//! Joint scenarios of underlying moves and vol-surface changes for BTC and ETH option books,
//! repriced through the fitted surfaces (full revaluation, not greeks) — the input of
//! portfolio allocation (the `alloc` module).
//!
//! ## Units and conventions
//! - Positions are in **units**: one option = one coin of underlying notional (Deribit's
//!   contract size), one future or perpetual unit = one coin of delta.
//! - Values and P&L are in **USD per unit**. Deribit options are inverse (premiums in coin);
//!   their USD value is the Black-76 price on the expiry's forward, i.e. coin premium ×
//!   forward.
//! - Smiles move **sticky-moneyness**: after a forward move `F → F'`, strike `K` reads the
//!   fitted smile at `ln(K/F')`, plus the scenario's vol shift (vol points, added).
//! - P&L is model-to-model: value at the horizon minus the model value now, so a zero
//!   scenario has zero P&L; `Candidate::price_usd` is the market mid (the premium paid) and
//!   `spread_usd` the quoted width, for budgets and trading costs.
//!
//! ## Scenario kinds ([`ScenarioKind`])
//! - `historical`: block bootstrap of the per-step changes (log forward, 30-day ATM vol)
//!   of the given snapshots; BTC and ETH steps are drawn together, so their dependence is
//!   the historical one. Draws made of the same steps are merged into one row with the
//!   summed probability (`ScenarioSet::probs`): same distribution, fewer rows.
//! - `heston` / `bates`: Monte Carlo of the forward and variance under the model fitted to
//!   the valuation snapshot (full-truncation Euler, Bates jumps compensated), BTC and ETH
//!   Brownian drivers correlated (config or estimated from the snapshots); the smile shifts
//!   by `√v_h − √v_0`.
//!
//! Same seed, same matrices, whatever the thread count (one ChaCha stream per scenario).

mod book;
mod historical;
mod margin;
mod montecarlo;
mod surface;

pub(crate) use montecarlo::{draw_jump, euler_step, fit_dynamics, jump_compensator};

pub use book::{Book, BookInstrument, Select};
pub use surface::{CoinSurface, ExpiryInfo};

use crate::market::Snapshot;
use crate::risk::Scenarios;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Underlying coin; collateral and margin are per coin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Coin {
    /// Bitcoin.
    #[serde(rename = "BTC")]
    Btc,
    /// Ether.
    #[serde(rename = "ETH")]
    Eth,
}

impl Coin {
    /// Parses `"BTC"` / `"ETH"` (case-insensitive).
    pub fn parse(s: &str) -> Option<Coin> {
        match s.to_ascii_uppercase().as_str() {
            "BTC" => Some(Coin::Btc),
            "ETH" => Some(Coin::Eth),
            _ => None,
        }
    }
}

impl fmt::Display for Coin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Coin::Btc => "BTC",
            Coin::Eth => "ETH",
        })
    }
}

/// What a candidate is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CandidateKind {
    /// European option on the expiry's forward.
    Option {
        /// Strike, USD.
        strike: f64,
        /// Years to expiry at the valuation time.
        expiry_t_years: f64,
        /// Call (true) or put.
        is_call: bool,
    },
    /// Dated future (delta one on that expiry's forward).
    Future {
        /// Years to expiry at the valuation time.
        expiry_t_years: f64,
    },
    /// Perpetual (delta one on the index).
    Perpetual,
}

/// One candidate instrument after pricing at the valuation snapshot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Deribit name: `BTC-27MAR26-100000-C`, `BTC-27MAR26` (future), `BTC-PERPETUAL`.
    pub name: String,
    /// Underlying coin.
    pub coin: Coin,
    /// Instrument kind.
    pub kind: CandidateKind,
    /// Premium per unit, USD: the quoted mid when two-sided, else the model value; 0 for
    /// futures and perpetuals (no premium changes hands: their price is
    /// [`Candidate::underlying_price_usd`]).
    pub price_usd: f64,
    /// Price of what the instrument tracks, USD: the expiry's forward for options and
    /// futures (a future's own price), the coin's index for the perpetual.
    pub underlying_price_usd: f64,
    /// Black-76 theta per unit at the valuation vol, USD per calendar day (`−½·F·φ(d1)·σ/√t
    /// / 365`; negative for a long option); 0 for futures and perpetuals.
    pub theta_usd_per_day: f64,
    /// Ask − bid per unit, USD (0 when not two-sided or delta one).
    pub spread_usd: f64,
    /// Smallest position, units.
    pub min: f64,
    /// Largest position, units.
    pub max: f64,
}

/// Everything the allocator needs, USD per unit position unless said otherwise.
#[derive(Clone, Debug)]
pub struct ScenarioSet {
    /// The candidates, in column order.
    pub candidates: Vec<Candidate>,
    /// Horizon P&L per unit position, USD: rows = scenarios, cols = candidates.
    pub pnl: Scenarios,
    /// Scenario probabilities (`None` = equal).
    pub probs: Option<Vec<f64>>,
    /// One margin grid per coin present in the book.
    pub margin: Vec<MarginGrid>,
    /// Coin price (index, else nearest forward), USD.
    pub coin_price_usd: Vec<(Coin, f64)>,
    /// How the scenarios were made.
    pub provenance: String,
}

/// Portfolio-margin approximation for one coin: P&L in **coin** per unit of every candidate
/// under each (underlying move, relative vol shock), by full revaluation at the valuation
/// time; the other coin's columns are 0. Initial margin of `x` = `max(0, max_g −row_g·x)`.
/// Coin P&L is what the inverse contract pays: `V₁/F₁ − V₀/F₀` for an option (its
/// premium is revalued in coin; `F` the expiry's forward, as Deribit's coin prices are),
/// `(F₁ − F₀)/F₁` for a future or perpetual of one coin of delta.
#[derive(Clone, Debug)]
pub struct MarginGrid {
    /// The coin.
    pub coin: Coin,
    /// (relative underlying move, relative vol shock) per row: `σ' = σ·(1 + shock)`.
    pub shocks: Vec<(f64, f64)>,
    /// Rows = shocks, cols = candidates; coin per unit.
    pub pnl_coin: Scenarios,
}

/// How scenarios are generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    /// Block bootstrap of historical snapshot-to-snapshot changes.
    #[default]
    Historical,
    /// Monte Carlo under Heston fitted to the valuation snapshot.
    Heston,
    /// Monte Carlo under Bates fitted to the valuation snapshot.
    Bates,
}

/// The `[scenarios]` table of `alloc.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioConfig {
    /// `historical`, `heston` or `bates`.
    pub kind: ScenarioKind,
    /// Number of scenarios.
    pub count: usize,
    /// Horizon: `6h`, `1d`, `7d` (hours or days).
    pub horizon: String,
    /// RNG seed.
    pub seed: u64,
    /// Bootstrap block length in steps (historical).
    pub block: usize,
    /// Largest gap between consecutive snapshots used as one historical step, hours.
    pub max_step_hours: f64,
    /// BTC–ETH correlation of the Monte Carlo drivers (default: estimated from the
    /// snapshots' log-returns, 0 when there are too few).
    pub correlation: Option<f64>,
    /// Euler steps per day (Monte Carlo).
    pub steps_per_day: usize,
    /// Margin grid underlying moves (relative).
    pub margin_moves: Vec<f64>,
    /// Margin grid vol shocks (relative: `σ' = σ·(1 + shock)`).
    pub margin_vol_shocks: Vec<f64>,
    /// Default position limits (units) for candidates without their own.
    pub default_min: f64,
    /// See `default_min`.
    pub default_max: f64,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            kind: ScenarioKind::Historical,
            count: 10_000,
            horizon: "1d".into(),
            seed: 42,
            block: 2,
            max_step_hours: 48.0,
            correlation: None,
            steps_per_day: 8,
            margin_moves: vec![-0.16, -0.12, -0.08, -0.04, 0.0, 0.04, 0.08, 0.12, 0.16],
            margin_vol_shocks: vec![-0.3, 0.0, 0.3],
            default_min: -10.0,
            default_max: 10.0,
        }
    }
}

impl ScenarioConfig {
    /// The horizon in years (ACT/365).
    ///
    /// # Errors
    /// [`ScenarioError::Config`] for an unreadable horizon.
    pub fn horizon_years(&self) -> Result<f64, ScenarioError> {
        let h = self.horizon.trim();
        let (num, unit) = h.split_at(h.len().saturating_sub(1));
        let v: f64 = num.trim().parse().map_err(|_| bad_horizon(h))?;
        let days = match unit {
            "h" => v / 24.0,
            "d" => v,
            "w" => 7.0 * v,
            _ => return Err(bad_horizon(h)),
        };
        if !(days >= 0.0 && days.is_finite()) {
            return Err(bad_horizon(h));
        }
        Ok(days / 365.0)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        let cfg = |m: String| Err(ScenarioError::Config(m));
        if self.count == 0 {
            return cfg("scenarios.count must be at least 1".into());
        }
        if self.block == 0 {
            return cfg("scenarios.block must be at least 1".into());
        }
        if self.steps_per_day == 0 {
            return cfg("scenarios.steps_per_day must be at least 1".into());
        }
        if let Some(c) = self.correlation {
            if !(c.abs() <= 1.0) {
                return cfg(format!("scenarios.correlation = {c} is outside [-1, 1]"));
            }
        }
        if self.margin_moves.iter().any(|m| !(*m > -1.0) || !m.is_finite()) {
            return cfg("scenarios.margin_moves must be finite and above -1".into());
        }
        if self.margin_vol_shocks.iter().any(|m| !(*m > -1.0) || !m.is_finite()) {
            return cfg("scenarios.margin_vol_shocks must be finite and above -1".into());
        }
        if self.margin_moves.is_empty() || self.margin_vol_shocks.is_empty() {
            return cfg("scenarios.margin_moves and margin_vol_shocks must not be empty".into());
        }
        if !(self.default_min <= self.default_max) {
            return cfg("scenarios.default_min must not exceed default_max".into());
        }
        self.horizon_years().map(|_| ())
    }
}

fn bad_horizon(h: &str) -> ScenarioError {
    ScenarioError::Config(format!(
        "scenarios.horizon = {h:?}: expected a number followed by h, d or w (e.g. 1d)"
    ))
}

/// Why scenarios could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The candidate book is malformed (file, line, field).
    #[error("{file}:{line}: field `{field}`: {msg}")]
    Book {
        /// Book file.
        file: String,
        /// 1-based line.
        line: usize,
        /// Offending field.
        field: String,
        /// What is wrong.
        msg: String,
    },
    /// A configuration value is invalid.
    #[error("{0}")]
    Config(String),
    /// The data cannot support the request (no snapshot of a coin, too few steps, …).
    #[error("{0}")]
    Data(String),
}

/// Builds the scenario set of `book` from `snapshots` (BTC and ETH, any order): values
/// every candidate at the last snapshot of its coin, then generates `cfg.count` scenarios
/// and the margin grids.
///
/// # Errors
/// [`ScenarioError`] naming the book entry, config key or missing data.
pub fn build(
    book: &Book,
    cfg: &ScenarioConfig,
    snapshots: &[Snapshot],
) -> Result<ScenarioSet, ScenarioError> {
    cfg.validate()?;
    let horizon = cfg.horizon_years()?;
    let coins = book.coins(snapshots)?;
    let mut surfaces = Vec::with_capacity(coins.len());
    for &coin in &coins {
        surfaces.push(CoinSurface::at_last(coin, snapshots)?);
    }
    let candidates = book.resolve(&surfaces, cfg)?;
    let priced: Vec<surface::Priced> = candidates.iter().map(|(_, p)| p.clone()).collect();
    let (pnl, probs, provenance) = match cfg.kind {
        ScenarioKind::Historical => {
            historical::scenarios(&priced, &surfaces, snapshots, cfg, horizon)?
        }
        ScenarioKind::Heston | ScenarioKind::Bates => {
            montecarlo::scenarios(&priced, &surfaces, snapshots, cfg, horizon)?
        }
    };
    let margin = coins
        .iter()
        .map(|&c| margin::grid(c, &priced, &surfaces, cfg))
        .collect::<Result<Vec<_>, _>>()?;
    let coin_price_usd = surfaces.iter().map(|s| (s.coin, s.spot)).collect();
    Ok(ScenarioSet {
        candidates: candidates.into_iter().map(|(c, _)| c).collect(),
        pnl,
        probs,
        margin,
        coin_price_usd,
        provenance,
    })
}
