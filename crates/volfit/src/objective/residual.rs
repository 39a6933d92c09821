//! How one quote's miss is measured: [`ResidualKind`] turns a model vol into a residual
//! and its derivative, given the quote's market data as a [`Target`].
//!
//! Every kind is written as a function of the model's implied vol σ, so any model that
//! yields σ and ∂σ/∂θ (directly or from total variance, `∂σ = ∂w / (2σt)`) gets exact
//! residual gradients by the chain rule: `∂r/∂θ = (dr/dσ)·∂σ/∂θ`.

use crate::black;
use crate::market::{Expiry, OptionType};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Market data of one quote, prepared once per fit. Prices in USD (undiscounted
/// Black-76 on the quote's own forward), vols as fractions.
///
/// `k`, `t` and `forward` are the quote's own, where it was observed (see
/// [`Quote::t`](crate::market::Quote::t)): a surface is evaluated at each quote's `(k, t)`; a
/// per-expiry smile `w(k)`, the expiry's total variance at the snapshot time `T`, gives the
/// vol `σᵢ = √(w(kᵢ)/T)` at each quote's own `k` (over the minutes a dump is polled, the vol
/// stays put, not the total variance). For a file whose rows share one time and forward per
/// expiry they are the expiry's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Log-forward-moneyness `ln(K/F)` on the quote's own forward.
    pub k: f64,
    /// Years to expiry at the quote's observation.
    pub t: f64,
    /// The quote's own forward (USD).
    pub forward: f64,
    /// Strike (USD).
    pub strike: f64,
    /// Call or put.
    pub kind: OptionType,
    /// Bid price (USD).
    pub bid: Option<f64>,
    /// Ask price (USD).
    pub ask: Option<f64>,
    /// Implied vol of the bid.
    pub bid_iv: Option<f64>,
    /// Implied vol of the ask.
    pub ask_iv: Option<f64>,
    /// Implied vol of the mid.
    pub mid_iv: Option<f64>,
    /// Black-76 vega at the mid IV (USD per unit vol); at the available side's IV when
    /// one-sided.
    pub vega: f64,
    /// Open interest (contracts), 0 when unknown.
    pub open_interest: f64,
    /// 24 h volume (contracts), 0 when unknown.
    pub volume: f64,
}

impl Target {
    /// Targets of every quote of an expiry that has at least one side with an IV.
    pub fn from_expiry(e: &Expiry) -> Vec<Target> {
        e.quotes
            .iter()
            .filter_map(|q| {
                let iv = q.mid_iv.or(q.bid_iv).or(q.ask_iv)?;
                Some(Target {
                    k: q.log_moneyness(),
                    t: q.t,
                    forward: q.row_forward,
                    strike: q.strike,
                    kind: q.kind,
                    bid: q.bid,
                    ask: q.ask,
                    bid_iv: q.bid_iv,
                    ask_iv: q.ask_iv,
                    mid_iv: q.mid_iv,
                    vega: black::vega(q.row_forward, q.strike, q.t, iv),
                    open_interest: q.open_interest.unwrap_or(0.0),
                    volume: q.volume.unwrap_or(0.0),
                })
            })
            .collect()
    }

    /// Mid price (USD) when two-sided.
    pub fn mid(&self) -> Option<f64> {
        Some(0.5 * (self.bid? + self.ask?))
    }

    /// Half the bid–ask spread in vol units, when both IVs exist.
    pub fn half_spread_iv(&self) -> Option<f64> {
        Some(0.5 * (self.ask_iv? - self.bid_iv?))
    }
}

/// The residual of a quote, as a function of the model vol σ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ResidualKind {
    /// `σ − σ_mid` (vol points as fractions).
    #[default]
    Vol,
    /// Total variance `σ²t − σ_mid²t`.
    Variance,
    /// USD price `P(σ) − P_mid`.
    Price,
    /// Coin price `(P(σ) − P_mid)/F`, Deribit's quoting unit.
    CoinPrice,
    /// Vega-scaled price `(P(σ) − P_mid)/vega_mid`: a vol residual computed in price space.
    VegaPrice,
    /// Spread-normalised `(σ − σ_mid)/(½(σ_ask − σ_bid))`: misses in units of half-spreads.
    Spread,
    /// Outside-spread band: 0 inside `[σ_bid, σ_ask]`, the distance to the band outside;
    /// a missing side leaves that end open (bid only: `[σ_bid, ∞)`; ask only: `[0, σ_ask]`).
    Band,
}

impl ResidualKind {
    /// All kinds, in CLI order.
    pub const ALL: [ResidualKind; 7] = [
        ResidualKind::Vol,
        ResidualKind::Variance,
        ResidualKind::Price,
        ResidualKind::CoinPrice,
        ResidualKind::VegaPrice,
        ResidualKind::Spread,
        ResidualKind::Band,
    ];

    /// True when the quote carries what this residual needs (a mid IV, or for
    /// [`ResidualKind::Band`] at least one side; for [`ResidualKind::Spread`] both IVs).
    pub fn usable(self, q: &Target) -> bool {
        match self {
            ResidualKind::Band => q.bid_iv.is_some() || q.ask_iv.is_some(),
            ResidualKind::Spread => q.half_spread_iv().is_some_and(|h| h > 0.0),
            _ => q.mid_iv.is_some(),
        }
    }

    /// Residual and `dr/dσ` at model vol `sigma`. Call only on [`usable`](Self::usable)
    /// targets; otherwise returns `(0, 0)`.
    pub fn eval(self, q: &Target, sigma: f64) -> (f64, f64) {
        let Some(mid_iv) = q.mid_iv.or(if self == ResidualKind::Band { Some(0.0) } else { None })
        else {
            return (0.0, 0.0);
        };
        match self {
            ResidualKind::Vol => (sigma - mid_iv, 1.0),
            ResidualKind::Variance => (q.t * (sigma * sigma - mid_iv * mid_iv), 2.0 * sigma * q.t),
            ResidualKind::Price | ResidualKind::CoinPrice | ResidualKind::VegaPrice => {
                let Some(mid) = q.mid() else { return (0.0, 0.0) };
                let p = black::price(q.kind, q.forward, q.strike, q.t, sigma);
                let v = black::vega(q.forward, q.strike, q.t, sigma);
                let scale = match self {
                    ResidualKind::Price => 1.0,
                    ResidualKind::CoinPrice => 1.0 / q.forward,
                    _ => 1.0 / q.vega.max(f64::MIN_POSITIVE),
                };
                ((p - mid) * scale, v * scale)
            }
            ResidualKind::Spread => match q.half_spread_iv() {
                Some(h) if h > 0.0 => ((sigma - mid_iv) / h, 1.0 / h),
                _ => (0.0, 0.0),
            },
            ResidualKind::Band => {
                let lo = q.bid_iv.unwrap_or(f64::NEG_INFINITY);
                let hi = q.ask_iv.unwrap_or(f64::INFINITY);
                if sigma < lo {
                    (sigma - lo, 1.0)
                } else if sigma > hi {
                    (sigma - hi, 1.0)
                } else {
                    (0.0, 0.0)
                }
            }
        }
    }

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ResidualKind::Vol => "vol",
            ResidualKind::Variance => "variance",
            ResidualKind::Price => "price",
            ResidualKind::CoinPrice => "coin-price",
            ResidualKind::VegaPrice => "vega-price",
            ResidualKind::Spread => "spread",
            ResidualKind::Band => "band",
        }
    }
}

impl fmt::Display for ResidualKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of parsing a [`ResidualKind`] or a weight expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{got}' (expected one of: {expected})")]
pub struct ParseKindError {
    /// What was being parsed.
    pub what: &'static str,
    /// The offending text.
    pub got: String,
    /// The accepted names.
    pub expected: String,
}

impl FromStr for ResidualKind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResidualKind::ALL.into_iter().find(|k| k.name() == s.trim()).ok_or_else(|| ParseKindError {
            what: "residual",
            got: s.to_string(),
            expected: ResidualKind::ALL.map(|k| k.name()).join("|"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        let (f, k, t) = (90_000.0, 100_000.0, 0.25);
        let (bid_iv, ask_iv) = (0.50, 0.54);
        let kind = OptionType::Call;
        let bid = black::price(kind, f, k, t, bid_iv);
        let ask = black::price(kind, f, k, t, ask_iv);
        let mid_iv = black::implied_vol(kind, 0.5 * (bid + ask), f, k, t).unwrap();
        Target {
            k: (k / f).ln(),
            t,
            forward: f,
            strike: k,
            kind,
            bid: Some(bid),
            ask: Some(ask),
            bid_iv: Some(bid_iv),
            ask_iv: Some(ask_iv),
            mid_iv: Some(mid_iv),
            vega: black::vega(f, k, t, mid_iv),
            open_interest: 10.0,
            volume: 1.0,
        }
    }

    #[test]
    fn names_round_trip_and_bad_names_list_choices() {
        for k in ResidualKind::ALL {
            assert_eq!(k.to_string().parse::<ResidualKind>().unwrap(), k);
        }
        let e = "vols".parse::<ResidualKind>().unwrap_err().to_string();
        assert!(e.contains("vol|variance|price|coin-price|vega-price|spread|band"), "{e}");
    }

    #[test]
    fn every_residual_is_zero_at_the_mid_and_has_the_right_slope() {
        let q = target();
        let mid = q.mid_iv.unwrap();
        for kind in ResidualKind::ALL {
            let (r0, _) = kind.eval(&q, mid);
            assert!(r0.abs() < 1e-9 * (1.0 + q.forward), "{kind}: r(mid) = {r0}");
            // Central finite differences (h = 1e-6 in vol) away from the band's kinks.
            for s in [0.40, 0.52, 0.70] {
                let (_, d) = kind.eval(&q, s);
                let h = 1e-6;
                let fd = (kind.eval(&q, s + h).0 - kind.eval(&q, s - h).0) / (2.0 * h);
                assert!((d - fd).abs() <= 1e-6 * (1.0 + fd.abs()), "{kind} at {s}: {d} vs {fd}");
            }
        }
    }

    #[test]
    fn vega_price_approximates_vol_residual_near_the_mid() {
        // First order: (P(σ) − P_mid)/vega ≈ σ − σ_mid.
        let q = target();
        let s = q.mid_iv.unwrap() + 0.001;
        let (rv, _) = ResidualKind::VegaPrice.eval(&q, s);
        assert!((rv - 0.001).abs() < 2e-5, "{rv}");
    }

    #[test]
    fn band_is_zero_inside_and_one_sided_bands_stay_open() {
        let mut q = target();
        assert_eq!(ResidualKind::Band.eval(&q, 0.52).0, 0.0);
        assert!((ResidualKind::Band.eval(&q, 0.45).0 + 0.05).abs() < 1e-15);
        assert!((ResidualKind::Band.eval(&q, 0.60).0 - 0.06).abs() < 1e-15);
        q.ask_iv = None;
        q.mid_iv = None;
        assert!(ResidualKind::Band.usable(&q) && !ResidualKind::Vol.usable(&q));
        assert_eq!(ResidualKind::Band.eval(&q, 3.0).0, 0.0, "bid-only: no upper end");
    }
}
