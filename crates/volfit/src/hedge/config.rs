//! What defines a hedging backtest: [`HedgeConfig`] (TOML `hedge.toml`) and its choices of
//! hedge instrument, entry, marks, liquidity filter and funding; [`HedgeSource`], where a
//! step's hedge prices came from; and [`HedgeConfig::validate`], the one rule set for every
//! value, whether it came from the TOML file or from a CLI flag.

use super::delta::DeltaKind;
use super::fees::FeeSchedule;
use super::funding::FundingConfig;
use super::liquidity::LiquidityFilter;
use crate::fit::FitSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

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
    /// No-trade band, in coins of the hedge instrument for the whole position (`quantity`
    /// options, not per option): after the opening trade, the hedge is re-set to its target
    /// only when `|target − held| > band`, and then all the way to the target (not to the
    /// band's edge). `None`: re-set at every snapshot.
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
    /// Which options are entered (TOML table `[liquidity]`; on by default).
    pub liquidity: LiquidityFilter,
    /// Funding of the perpetual hedge (TOML table `[funding]`).
    pub funding: FundingConfig,
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
            liquidity: LiquidityFilter::default(),
            funding: FundingConfig::default(),
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

    /// Checks every value against its rule (the same rules whether a value came from the
    /// TOML file or from a CLI flag); the first violation names its key.
    ///
    /// # Errors
    /// [`InvalidValue`]: the TOML key (e.g. `fees.hedge_taker`), the value and the rule.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        check(!self.specs.is_empty(), "specs", "{}", "at least one fit spec")?;
        let deltas = format!("{:?}", self.deltas.iter().map(|d| d.name()).collect::<Vec<_>>());
        check(!self.deltas.is_empty(), "deltas", &deltas, "at least one delta")?;
        let mut seen = self.deltas.clone();
        seen.sort();
        seen.dedup();
        check(seen.len() == self.deltas.len(), "deltas", &deltas, "no delta twice")?;
        if let Some(b) = self.band {
            non_negative("band", b)?;
        }
        let q = self.quantity;
        check(q.is_finite() && q != 0.0, "quantity", &q.to_string(), "a finite number, not 0")?;
        positive("max_gap_hours", self.max_gap_hours)?;
        if let Some(h) = self.horizon {
            check(h >= 1, "horizon", &h.to_string(), "at least 1 snapshot step")?;
        }
        non_negative("perp_tolerance_s", self.perp_tolerance_s)?;
        for u in &self.underlyings {
            check(!u.trim().is_empty(), "underlyings", &format!("{u:?}"), "non-empty names")?;
        }
        self.fees_valid()?;
        self.liquidity.validate()?;
        self.funding.validate()
    }

    fn fees_valid(&self) -> Result<(), InvalidValue> {
        let f = &self.fees;
        for (key, v) in [
            ("fees.option_maker", f.option_maker),
            ("fees.option_taker", f.option_taker),
            ("fees.option_cap", f.option_cap),
            ("fees.hedge_maker", f.hedge_maker),
            ("fees.hedge_taker", f.hedge_taker),
            ("fees.settlement", f.settlement),
            ("fees.settlement_cap", f.settlement_cap),
        ] {
            fraction(key, v)?;
        }
        Ok(())
    }
}

/// A configuration value that breaks its rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    /// TOML key, dotted for tables (`fees.hedge_taker`).
    pub key: String,
    /// The value as given.
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = {}: must be {}", self.key, self.value, self.rule)
    }
}

impl std::error::Error for InvalidValue {}

/// `Ok` when `ok`, else the violation of `rule` by `key = value`.
pub(super) fn check(
    ok: bool,
    key: &str,
    value: &str,
    rule: &'static str,
) -> Result<(), InvalidValue> {
    if ok {
        Ok(())
    } else {
        Err(InvalidValue { key: key.to_string(), value: value.to_string(), rule })
    }
}

/// Finite and `≥ 0`.
pub(super) fn non_negative(key: &str, v: f64) -> Result<(), InvalidValue> {
    check(v.is_finite() && v >= 0.0, key, &v.to_string(), "a finite number >= 0")
}

/// Finite and `> 0`.
pub(super) fn positive(key: &str, v: f64) -> Result<(), InvalidValue> {
    check(v.is_finite() && v > 0.0, key, &v.to_string(), "a finite number > 0")
}

/// A fraction in `[0, 1]`.
pub(super) fn fraction(key: &str, v: f64) -> Result<(), InvalidValue> {
    check((0.0..=1.0).contains(&v), key, &v.to_string(), "a fraction in [0, 1]")
}
