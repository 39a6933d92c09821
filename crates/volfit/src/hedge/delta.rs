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
//!   delta). It is not Deribit's displayed delta, which is the Black delta `Δ_B` at the
//!   mark IV (median |difference| 1.3e-4 on the 2026 svcj chains); both are kept.
//!
//! Model vols come from the fitted model of a snapshot ([`HedgeSmiles`]): `σ(k) = √(w/t)`
//! of the fitted smile and its exact slope inside the fitted `k`-range of the expiry;
//! outside it the vol is held flat at the edge value and the slope is zero (flagged as
//! extrapolated).

use crate::black;
use crate::market::OptionType;
use crate::model::{Fitted, Smile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Which hedge ratio to trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeltaKind {
    /// Black delta at the model vol (Deribit displays this delta, at its mark IV).
    Black,
    /// Smile-adjusted (sticky-moneyness) delta.
    Smile,
    /// Premium-adjusted smile delta for inverse options.
    PremiumAdjusted,
    /// A trained deep-hedging policy (`--policy FILE`, a [`PathPolicy`](super::PathPolicy)): its hedge depends
    /// on the path, not on one observation.
    Policy,
}

impl DeltaKind {
    /// The model deltas in output order (the default; [`DeltaKind::Policy`] needs a
    /// policy file).
    pub const ALL: [DeltaKind; 3] =
        [DeltaKind::Black, DeltaKind::Smile, DeltaKind::PremiumAdjusted];

    /// Coins of a hedge instrument at price `p` per unit of this ratio taken on the
    /// option's forward `f`, with the basis `f/p` held over a step (`dF = (F/P)·dP`).
    ///
    /// The Black and smile deltas are `∂V/∂F` (USD per USD of forward): `f/p` (over 1 on
    /// long expiries in contango, up to 1.047 on the 2026 BTC chains). The premium-adjusted
    /// delta is `F·∂W/∂F = ∂W/∂ln F` for the coin value `W` and `dF/F = dP/P`: 1. A
    /// non-positive or non-finite `p` gives 1.
    pub fn instrument_ratio(self, f: f64, p: f64) -> f64 {
        match self {
            DeltaKind::PremiumAdjusted => 1.0,
            _ if p > 0.0 && p.is_finite() && f.is_finite() => f / p,
            _ => 1.0,
        }
    }

    /// The CLI / CSV name.
    pub fn name(self) -> &'static str {
        match self {
            DeltaKind::Black => "black",
            DeltaKind::Smile => "smile",
            DeltaKind::PremiumAdjusted => "premium-adjusted",
            DeltaKind::Policy => "policy",
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
            "policy" => Ok(DeltaKind::Policy),
            _ => Err(format!(
                "unknown delta {s:?}; expected black, smile, premium-adjusted or policy"
            )),
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
    /// The model vol the greeks are taken at.
    pub vol: f64,
    /// Black gamma `∂²V/∂F²` at the model vol.
    pub gamma: f64,
    /// Black theta `−∂V/∂τ` at the model vol, USD per year (negative for a long option).
    pub theta: f64,
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
            vol,
            gamma: g.gamma,
            theta: g.theta,
        }
    }

    /// The ratio of one kind (NaN for [`DeltaKind::Policy`], whose hedge depends on the
    /// path: see [`PathPolicy`](super::PathPolicy)).
    pub fn get(&self, kind: DeltaKind) -> f64 {
        match kind {
            DeltaKind::Black => self.black,
            DeltaKind::Smile => self.smile,
            DeltaKind::PremiumAdjusted => self.premium_adjusted,
            DeltaKind::Policy => f64::NAN,
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

/// The fitted model of one snapshot as the hedge reads it: the model's smile per fitted
/// expiry and, beside it, the fitted `k`-range of each expiry (the log-moneyness span of
/// the quotes the fit used).
///
/// Inside the range the vol is the model's own `σ(k) = √(w(k)/t)` and the slope is exact,
/// `σ'(k) = w'(k)/(2σt)` from [`Smile::total_variance_dk`]. Outside it the vol is held flat
/// at the edge value and the slope is zero (flagged as extrapolated).
#[derive(Clone, Debug, PartialEq)]
pub struct HedgeSmiles {
    model: Fitted,
    ranges: BTreeMap<i64, (f64, f64)>,
}

impl HedgeSmiles {
    /// The smiles of `model` over the fitted points `(expiry ms, k)`; non-finite `k`s are
    /// ignored. An expiry without a point or without a fitted slice has no smile.
    pub fn new(model: Fitted, points: impl IntoIterator<Item = (i64, f64)>) -> HedgeSmiles {
        let mut ranges: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        for (ms, k) in points.into_iter().filter(|(_, k)| k.is_finite()) {
            if model.has_expiry(ms) {
                let r = ranges.entry(ms).or_insert((k, k));
                *r = (r.0.min(k), r.1.max(k));
            }
        }
        HedgeSmiles { model, ranges }
    }

    /// The fitted model.
    pub fn model(&self) -> &Fitted {
        &self.model
    }

    /// The fitted `k`-range `(min, max)` of expiry `expiry_ms`, if it has a smile.
    pub fn k_range(&self, expiry_ms: i64) -> Option<(f64, f64)> {
        self.ranges.get(&expiry_ms).copied()
    }

    /// Vol and slope of expiry `expiry_ms` at `k`; `None` when the expiry has no smile or
    /// the model variance there (at the edge, outside the range) is not positive.
    pub fn at(&self, expiry_ms: i64, k: f64) -> Option<SmilePoint> {
        let (lo, hi) = self.k_range(expiry_ms)?;
        let s = self.model.slice(expiry_ms)?;
        let extrapolated = !(lo..=hi).contains(&k);
        let [w, dw, _] = s.smile.total_variance_dk(k.clamp(lo, hi));
        if !(w > 0.0 && w.is_finite() && s.t > 0.0) {
            return None;
        }
        let vol = (w / s.t).sqrt();
        let slope = if extrapolated { 0.0 } else { dw / (2.0 * vol * s.t) };
        slope.is_finite().then_some(SmilePoint { vol, slope, extrapolated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smile_point_is_the_fitted_model() {
        use crate::model::svi::Svi;
        use crate::model::{ExpiryPoint, ModelKind, Params, Sticky};
        let x = [0.01, 0.1, -0.3, 0.05, 0.2];
        let (ms, t) = (7, 0.25);
        let point = ExpiryPoint { expiry_ms: ms, t, forward: 100.0 };
        let model = Fitted::per_expiry(ModelKind::Svi, None, [(point, &x[..])]).unwrap();
        let ks = [-0.3, 0.1, 0.25, -0.05, f64::NAN];
        let smiles = HedgeSmiles::new(model, ks.iter().map(|&k| (ms, k)).chain([(8, 0.0)]));
        assert_eq!(smiles.k_range(ms), Some((-0.3, 0.25)));
        assert_eq!(smiles.k_range(8), None, "no fitted slice, no smile");
        assert_eq!(smiles.at(8, 0.0), None);
        let svi = Svi::from_slice(&x).unwrap();
        let sigma = |k: f64| (svi.total_variance(k) / t).sqrt();
        for k in [-0.3, -0.17, 0.0, 0.05, 0.25] {
            let p = smiles.at(ms, k).unwrap();
            assert!(!p.extrapolated, "{k}");
            assert!((p.vol - sigma(k)).abs() < 1e-15, "vol at {k}");
            let vol = smiles.model().vol(ms, 100.0 * k.exp(), 100.0, Sticky::Moneyness);
            assert!((p.vol - vol.unwrap()).abs() < 1e-14, "model vol at {k}");
            // Central difference of σ(k), step 1e-5: error O(h²) ≈ 1e-10.
            let h = 1e-5;
            let fd = (sigma(k + h) - sigma(k - h)) / (2.0 * h);
            assert!((p.slope - fd).abs() < 1e-8, "slope at {k}: {} vs {fd}", p.slope);
        }
        // Flat outside the fitted range at the edge vol, slope 0.
        for (k, edge) in [(-0.5, -0.3), (0.4, 0.25)] {
            let p = smiles.at(ms, k).unwrap();
            assert!(p.extrapolated && p.slope == 0.0, "{k}");
            assert_eq!(p.vol, smiles.at(ms, edge).unwrap().vol);
        }
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
