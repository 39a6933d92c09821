//! What defines a hedging backtest: [`HedgeConfig`] (TOML `hedge.toml`) and its choices of
//! hedge instrument, entry, marks; and [`HedgeSource`], where a step's hedge prices came
//! from.

use super::delta::DeltaKind;
use super::fees::FeeSchedule;
use crate::fit::FitSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The instrument that carries the hedge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Instrument {
    /// The coin's perpetual (nearest-expiry forward where no perpetual price exists).
    #[default]
    Perpetual,
    /// The future of the option's own expiry (its forward).
    Future,
}

/// Where a step's hedge prices came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HedgeSource {
    /// Perpetual prices from the perpetual price file.
    Perpetual,
    /// Forward of the nearest expiry alive at both ends, from the snapshots themselves.
    NearestForward,
    /// The option's own expiry forward (matching future).
    Future,
}

impl HedgeSource {
    /// Output name.
    pub fn name(self) -> &'static str {
        match self {
            HedgeSource::Perpetual => "perpetual",
            HedgeSource::NearestForward => "nearest-forward",
            HedgeSource::Future => "future",
        }
    }
}

/// Where paths start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entry {
    /// At the first snapshot of a run of consecutive snapshots where the option is quoted.
    #[default]
    First,
    /// At every snapshot (overlapping paths; use with `horizon`).
    Every,
}

/// How held options are marked between trades.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marks {
    /// Mid of bid and ask (exchange mark, then model price, when one-sided).
    #[default]
    Mid,
    /// The exchange's mark price (mid, then model price, when absent): less noisy for wide
    /// quotes; spread costs are still measured against it.
    Exchange,
}

/// Everything that defines a hedging backtest (TOML: `hedge.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HedgeConfig {
    /// Fit specifications by name (TOML tables `[specs.NAME]`); default one SSVI spec.
    pub specs: BTreeMap<String, FitSpec>,
    /// Hedge ratios to backtest (each path is run with each).
    pub deltas: Vec<DeltaKind>,
    /// Hedge instrument.
    pub instrument: Instrument,
    /// Rebalance only when `|target − current| > band` coins per option (`None`: always).
    pub band: Option<f64>,
    /// Fee schedule.
    pub fees: FeeSchedule,
    /// Options held per path (negative = short).
    pub quantity: f64,
    /// Snapshots further apart than this (hours) start a new run.
    pub max_gap_hours: f64,
    /// Largest number of snapshot steps a path is held (`None`: to the end of the run or expiry).
    pub horizon: Option<usize>,
    /// Where paths start.
    pub entry: Entry,
    /// How options are marked.
    pub marks: Marks,
    /// Underlyings to hedge (empty: all).
    pub underlyings: Vec<String>,
    /// Largest distance (seconds) between a snapshot and the perpetual price matched to it.
    pub perp_tolerance_s: f64,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        HedgeConfig {
            specs: BTreeMap::from([("ssvi".to_string(), FitSpec::default())]),
            deltas: DeltaKind::ALL.to_vec(),
            instrument: Instrument::Perpetual,
            band: None,
            fees: FeeSchedule::default(),
            quantity: 1.0,
            max_gap_hours: 24.0 * 7.0,
            horizon: None,
            entry: Entry::First,
            marks: Marks::Mid,
            underlyings: Vec::new(),
            perp_tolerance_s: 900.0,
        }
    }
}

impl HedgeConfig {
    /// Parses a TOML configuration (unknown keys are errors).
    ///
    /// # Errors
    /// The TOML error with the offending key and line.
    pub fn from_toml(text: &str) -> Result<HedgeConfig, toml::de::Error> {
        toml::from_str(text)
    }
}
