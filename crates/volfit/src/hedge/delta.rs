//! Hedge ratios of an option under a fitted smile.
//!
//! With `k = ln(K/F)`, model vol `σ(k)` and its slope `σ'(k) = ∂σ/∂k`:
//! - **Black delta** at the model vol: `Δ_B = ∂V/∂F` at fixed σ.
//! - **Smile-adjusted (sticky-moneyness) delta**: the smile moves with the forward, so at a
//!   fixed strike `dσ/dF = σ'(k)·∂k/∂F = −σ'(k)/F` and `Δ_S = Δ_B + vega·(−σ'(k)/F)`.
//! - **Premium-adjusted delta** of an inverse (coin-settled) option: its coin value is
//!   `W = V/F`, so `∂W/∂F = (Δ − V/F)/F`. A coin-margined hedge of `h` coins of USD
//!   exposure (an inverse perpetual of USD notional `h·F`) gains `h·dF/F` coin, so the coin
//!   P&L is flat to first order for `h = Δ − V/F`: `Δ_PA = Δ_S − V/F` (built on the smile
//!   delta). This is Deribit's displayed delta for BTC/ETH options.
//!
//! Model vols come from a fitted snapshot as a [`SmileTable`] per expiry: the model IVs at
//! the fitted strikes, read with a three-point (quadratic) interpolation in `k` whose
//! derivative gives `σ'(k)`. Outside the fitted range the vol is held flat at the edge value
//! and the slope is zero (flagged as extrapolated).

use crate::black;
use crate::fit::ResidualRow;
use crate::market::OptionType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Which hedge ratio to trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeltaKind {
    /// Black delta at the model vol.
    Black,
    /// Smile-adjusted (sticky-moneyness) delta.
    Smile,
    /// Premium-adjusted smile delta for inverse options.
    PremiumAdjusted,
}

impl DeltaKind {
    /// All kinds in output order.
    pub const ALL: [DeltaKind; 3] =
        [DeltaKind::Black, DeltaKind::Smile, DeltaKind::PremiumAdjusted];

    /// The CLI / CSV name.
    pub fn name(self) -> &'static str {
        match self {
            DeltaKind::Black => "black",
            DeltaKind::Smile => "smile",
            DeltaKind::PremiumAdjusted => "premium-adjusted",
        }
    }
}

impl fmt::Display for DeltaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeltaKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "black" => Ok(DeltaKind::Black),
            "smile" => Ok(DeltaKind::Smile),
            "premium-adjusted" | "pa" => Ok(DeltaKind::PremiumAdjusted),
            _ => Err(format!("unknown delta {s:?}; expected black, smile or premium-adjusted")),
        }
    }
}

/// Price and the three hedge ratios of one option at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Deltas {
    /// Black price at the model vol (USD).
    pub price: f64,
    /// Black vega at the model vol (USD per 1.00 of vol).
    pub vega: f64,
    /// Black delta.
    pub black: f64,
    /// Smile-adjusted delta.
    pub smile: f64,
    /// Premium-adjusted smile delta.
    pub premium_adjusted: f64,
}

impl Deltas {
    /// Computes the ratios from the model vol `vol = σ(k)` and slope `slope = σ'(k)`.
    pub fn new(kind: OptionType, f: f64, strike: f64, t: f64, vol: f64, slope: f64) -> Deltas {
        let g = black::greeks(kind, f, strike, t, vol);
        let smile = g.delta - g.vega * slope / f;
        Deltas {
            price: g.price,
            vega: g.vega,
            black: g.delta,
            smile,
            premium_adjusted: smile - g.price / f,
        }
    }

    /// The ratio of one kind.
    pub fn get(&self, kind: DeltaKind) -> f64 {
        match kind {
            DeltaKind::Black => self.black,
            DeltaKind::Smile => self.smile,
            DeltaKind::PremiumAdjusted => self.premium_adjusted,
        }
    }
}

/// Model vol and slope at one log-moneyness.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmilePoint {
    /// σ(k).
    pub vol: f64,
    /// ∂σ/∂k.
    pub slope: f64,
    /// True when `k` lies outside the fitted range (flat extrapolation).
    pub extrapolated: bool,
}

/// A fitted smile of one expiry sampled at its fitted strikes, sorted by `k`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SmileTable {
    ks: Vec<f64>,
    vols: Vec<f64>,
}

impl SmileTable {
    /// From `(k, σ)` points in any order; non-finite or non-positive vols are dropped and
    /// duplicate `k`s keep the first.
    pub fn new(mut points: Vec<(f64, f64)>) -> SmileTable {
        points.retain(|(k, v)| k.is_finite() && v.is_finite() && *v > 0.0);
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points.dedup_by(|b, a| (b.0 - a.0).abs() < 1e-12);
        let (ks, vols) = points.into_iter().unzip();
        SmileTable { ks, vols }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ks.len()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.ks.is_empty()
    }

    /// Vol and slope at `k`; `None` for an empty table.
    pub fn at(&self, k: f64) -> Option<SmilePoint> {
        let n = self.ks.len();
        let (first, last) = (*self.ks.first()?, *self.ks.last()?);
        if n == 1 || k < first || k > last {
            let vol = if k <= first { self.vols[0] } else { self.vols[n - 1] };
            return Some(SmilePoint { vol, slope: 0.0, extrapolated: k != first || n > 1 });
        }
        if n == 2 {
            let slope = (self.vols[1] - self.vols[0]) / (self.ks[1] - self.ks[0]);
            return Some(SmilePoint {
                vol: self.vols[0] + slope * (k - self.ks[0]),
                slope,
                extrapolated: false,
            });
        }
        // Three nearest nodes around k: i0 = the node left of the interval holding k, moved
        // so that i0 + 2 < n.
        let right = self.ks.partition_point(|&x| x < k).clamp(1, n - 1);
        let mut i0 = right - 1;
        if i0 + 2 >= n {
            i0 = n - 3;
        } else if i0 > 0 && (k - self.ks[i0 - 1]) < (self.ks[i0 + 2] - k) {
            i0 -= 1;
        }
        let (x0, x1, x2) = (self.ks[i0], self.ks[i0 + 1], self.ks[i0 + 2]);
        let (y0, y1, y2) = (self.vols[i0], self.vols[i0 + 1], self.vols[i0 + 2]);
        // Lagrange basis of the quadratic through the three nodes and its derivative.
        let l0 = (k - x1) * (k - x2) / ((x0 - x1) * (x0 - x2));
        let l1 = (k - x0) * (k - x2) / ((x1 - x0) * (x1 - x2));
        let l2 = (k - x0) * (k - x1) / ((x2 - x0) * (x2 - x1));
        let d0 = (2.0 * k - x1 - x2) / ((x0 - x1) * (x0 - x2));
        let d1 = (2.0 * k - x0 - x2) / ((x1 - x0) * (x1 - x2));
        let d2 = (2.0 * k - x0 - x1) / ((x2 - x0) * (x2 - x1));
        Some(SmilePoint {
            vol: y0 * l0 + y1 * l1 + y2 * l2,
            slope: y0 * d0 + y1 * d1 + y2 * d2,
            extrapolated: false,
        })
    }
}

/// Smile tables by expiry (ISO-8601 string, as in [`ResidualRow::expiry`]) from the residual
/// rows of one snapshot fit.
pub fn smiles_from_residuals(rows: &[ResidualRow]) -> BTreeMap<String, SmileTable> {
    let mut points: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in rows {
        points.entry(r.expiry.clone()).or_default().push((r.k, r.model_iv));
    }
    points.into_iter().map(|(e, p)| (e, SmileTable::new(p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_smile_is_read_exactly() {
        // σ(k) = 0.5 + 0.1k + 0.3k² sampled at 7 nodes: three-point interpolation of a
        // quadratic is exact (closed form), so value and slope match to rounding.
        let s = |k: f64| 0.5 + 0.1 * k + 0.3 * k * k;
        let t = SmileTable::new(
            (-3..=3).map(|i| (0.1 * f64::from(i), s(0.1 * f64::from(i)))).collect(),
        );
        for k in [-0.3, -0.17, 0.0, 0.05, 0.29] {
            let p = t.at(k).unwrap();
            assert!((p.vol - s(k)).abs() < 1e-12, "vol at {k}");
            assert!((p.slope - (0.1 + 0.6 * k)).abs() < 1e-10, "slope at {k}");
            assert!(!p.extrapolated);
        }
        let out = t.at(0.5).unwrap();
        assert!(out.extrapolated && out.slope == 0.0 && (out.vol - s(0.3)).abs() < 1e-12);
    }

    #[test]
    fn smile_delta_matches_finite_difference_of_sticky_moneyness_price() {
        // V(F) = Black(F, K, t, σ(ln(K/F))): central difference in F (h = 1e-3·F) of the
        // sticky-moneyness price equals Δ_S to O(h²).
        let (f, strike, t) = (100_000.0, 110_000.0, 0.1);
        let sig = |k: f64| 0.6 - 0.2 * k + 0.5 * k * k;
        let dsig = |k: f64| -0.2 + k;
        let price = |f: f64| black::price(OptionType::Call, f, strike, t, sig((strike / f).ln()));
        let k = (strike / f).ln();
        let d = Deltas::new(OptionType::Call, f, strike, t, sig(k), dsig(k));
        let h = 1e-3 * f;
        let fd = (price(f + h) - price(f - h)) / (2.0 * h);
        assert!((d.smile - fd).abs() < 1e-6, "{} vs {fd}", d.smile);
        // Premium-adjusted: F·∂(V/F)/∂F by central differences (same step).
        let coin = |f: f64| price(f) / f;
        let fd_pa = f * (coin(f + h) - coin(f - h)) / (2.0 * h);
        assert!((d.premium_adjusted - fd_pa).abs() < 1e-6);
        assert_eq!(d.get(DeltaKind::Black), d.black);
    }
}
