//! Per-quote weights: which quotes the fit should listen to.
//!
//! A [`WeightKind`] is a product of [`WeightFactor`]s (`vega*spread` on the command line).
//! Raw weights are normalised to mean 1 over the quotes of a fit and capped at
//! `cap` times their median, so one huge open interest cannot own the fit; weights
//! multiply the loss ρ (Ceres' `ScaledLoss`), they never rescale the residual.

use super::residual::{ParseKindError, Target};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One factor of a weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WeightFactor {
    /// 1 for every quote.
    Uniform,
    /// Black-76 vega at the market IV: price-sensitive quotes count more.
    Vega,
    /// Inverse bid–ask spread in vol (`1/(σ_ask − σ_bid)`): tight quotes count more.
    /// One-sided quotes get the inverse of twice the widest two-sided spread.
    Spread,
    /// Open interest (plus one contract, so unopened strikes still count a little).
    Oi,
    /// 24 h volume (plus one contract).
    Volume,
}

impl WeightFactor {
    const ALL: [WeightFactor; 5] = [
        WeightFactor::Uniform,
        WeightFactor::Vega,
        WeightFactor::Spread,
        WeightFactor::Oi,
        WeightFactor::Volume,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            WeightFactor::Uniform => "uniform",
            WeightFactor::Vega => "vega",
            WeightFactor::Spread => "spread",
            WeightFactor::Oi => "oi",
            WeightFactor::Volume => "volume",
        }
    }
}

/// A product of weight factors, e.g. `vega*spread`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WeightKind {
    factors: Vec<WeightFactor>,
}

impl Default for WeightKind {
    fn default() -> Self {
        WeightKind { factors: vec![WeightFactor::Uniform] }
    }
}

impl WeightKind {
    /// A product of the given factors (empty means uniform).
    pub fn new(factors: Vec<WeightFactor>) -> Self {
        if factors.is_empty() {
            WeightKind::default()
        } else {
            WeightKind { factors }
        }
    }

    /// The factors.
    pub fn factors(&self) -> &[WeightFactor] {
        &self.factors
    }

    /// Normalised, capped weights of `targets` (mean 1 before capping). `cap` is the largest
    /// allowed ratio to the median weight; `f64::INFINITY` disables capping.
    pub fn weights(&self, targets: &[Target], cap: f64) -> Vec<f64> {
        let widest = targets
            .iter()
            .filter_map(|q| Some(q.ask_iv? - q.bid_iv?))
            .filter(|s| *s > 0.0)
            .fold(0.0_f64, f64::max);
        let fallback_spread = if widest > 0.0 { 2.0 * widest } else { 1.0 };
        let mut w: Vec<f64> = targets
            .iter()
            .map(|q| {
                self.factors
                    .iter()
                    .map(|f| match f {
                        WeightFactor::Uniform => 1.0,
                        WeightFactor::Vega => q.vega.max(0.0),
                        WeightFactor::Spread => {
                            let s = match (q.bid_iv, q.ask_iv) {
                                (Some(b), Some(a)) if a > b => a - b,
                                _ => fallback_spread,
                            };
                            1.0 / s.max(1e-4)
                        }
                        WeightFactor::Oi => q.open_interest.max(0.0) + 1.0,
                        WeightFactor::Volume => q.volume.max(0.0) + 1.0,
                    })
                    .product::<f64>()
            })
            .map(|v| if v.is_finite() { v } else { 0.0 })
            .collect();
        normalise(&mut w);
        if cap.is_finite() && !w.is_empty() {
            let mut sorted = w.clone();
            sorted.sort_by(f64::total_cmp);
            let limit = cap * sorted[sorted.len() / 2];
            if limit > 0.0 {
                w.iter_mut().for_each(|v| *v = v.min(limit));
                normalise(&mut w);
            }
        }
        w
    }
}

fn normalise(w: &mut [f64]) {
    let mean = w.iter().sum::<f64>() / w.len().max(1) as f64;
    if mean > 0.0 {
        w.iter_mut().for_each(|v| *v /= mean);
    }
}

impl fmt::Display for WeightKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.factors.iter().map(|x| x.name()).collect();
        f.write_str(&names.join("*"))
    }
}

impl FromStr for WeightKind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let factors = s
            .split('*')
            .map(|part| {
                WeightFactor::ALL.into_iter().find(|f| f.name() == part.trim()).ok_or_else(|| {
                    ParseKindError {
                        what: "weight",
                        got: part.to_string(),
                        expected: "uniform|vega|spread|oi|volume, or products like vega*spread"
                            .into(),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WeightKind::new(factors))
    }
}

impl TryFrom<String> for WeightKind {
    type Error = ParseKindError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<WeightKind> for String {
    fn from(w: WeightKind) -> String {
        w.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::OptionType;

    fn q(bid_iv: Option<f64>, ask_iv: Option<f64>, vega: f64, oi: f64) -> Target {
        Target {
            k: 0.0,
            t: 0.1,
            forward: 1.0,
            strike: 1.0,
            kind: OptionType::Call,
            bid: None,
            ask: None,
            bid_iv,
            ask_iv,
            mid_iv: None,
            vega,
            open_interest: oi,
            volume: 0.0,
        }
    }

    #[test]
    fn parses_products_and_rejects_unknown_factors() {
        let w: WeightKind = "vega*spread".parse().unwrap();
        assert_eq!(w.factors(), [WeightFactor::Vega, WeightFactor::Spread]);
        assert_eq!(w.to_string(), "vega*spread");
        assert!("vega*liquidity"
            .parse::<WeightKind>()
            .unwrap_err()
            .to_string()
            .contains("liquidity"));
    }

    #[test]
    fn spread_weights_are_inverse_spreads_normalised_to_mean_one() {
        let ts = [q(Some(0.5), Some(0.52), 1.0, 0.0), q(Some(0.5), Some(0.54), 1.0, 0.0)];
        let w = WeightKind::new(vec![WeightFactor::Spread]).weights(&ts, f64::INFINITY);
        // Raw 1/0.02 = 50 and 1/0.04 = 25: ratio 2, mean 1.
        assert!((w[0] / w[1] - 2.0).abs() < 1e-12);
        assert!((w[0] + w[1] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn one_sided_quotes_get_half_the_widest_spread_weight_and_caps_bind() {
        let ts = [q(Some(0.5), Some(0.6), 1.0, 0.0), q(None, Some(0.6), 1.0, 0.0)];
        let w = WeightKind::new(vec![WeightFactor::Spread]).weights(&ts, f64::INFINITY);
        assert!((w[0] / w[1] - 2.0).abs() < 1e-12);
        let ts: Vec<Target> =
            [1.0, 1.0, 1.0, 1000.0].iter().map(|&oi| q(None, None, 1.0, oi)).collect();
        let w = WeightKind::new(vec![WeightFactor::Oi]).weights(&ts, 3.0);
        let ratio = w[3] / w[0];
        assert!((ratio - 3.0).abs() < 1e-12, "capped at 3× the median: {ratio}");
    }
}
