//! Black-76 on the forward with zero rate (Deribit's convention): prices and greeks.
//!
//! Glossary: `f` forward, `k` strike, `t` years (ACT/365), `sigma` vol (fraction).
//! Prices are undiscounted, in the forward's units.

use crate::market::OptionType;

/// Standard normal CDF Φ(x), accurate to a few ulp (libm's `erfc`; statrs is not accurate
/// enough for implied vols, see DEPENDENCIES.md).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// Standard normal density φ(x).
pub fn norm_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Undiscounted Black-76 price of a call or put.
pub fn price(kind: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    let s = sigma * t.sqrt();
    if s <= 0.0 {
        return (kind.sign() * (f - k)).max(0.0);
    }
    let d1 = (f / k).ln() / s + 0.5 * s;
    let d2 = d1 - s;
    match kind {
        OptionType::Call => f * norm_cdf(d1) - k * norm_cdf(d2),
        OptionType::Put => k * norm_cdf(-d2) - f * norm_cdf(-d1),
    }
}

/// Why no implied volatility exists for a price.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IvError {
    /// Price below the intrinsic value `max(±(F − K), 0)`.
    #[error("price below intrinsic value")]
    BelowIntrinsic,
    /// Price at or above the upper bound (F for calls, K for puts).
    #[error("price at or above the upper bound")]
    AboveUpperBound,
    /// A non-finite or non-positive input (price, forward, strike or time).
    #[error("non-finite or non-positive input")]
    NonFinite,
}

/// Implied Black-76 volatility of an undiscounted price.
///
/// # Errors
/// [`IvError`] when no volatility reproduces the price.
pub fn implied_vol(kind: OptionType, price_: f64, f: f64, k: f64, t: f64) -> Result<f64, IvError> {
    if !(price_.is_finite() && f.is_finite() && k.is_finite() && t.is_finite())
        || f <= 0.0
        || k <= 0.0
        || t <= 0.0
        || price_ < 0.0
    {
        return Err(IvError::NonFinite);
    }
    let intrinsic = (kind.sign() * (f - k)).max(0.0);
    let upper = match kind {
        OptionType::Call => f,
        OptionType::Put => k,
    };
    if price_ <= intrinsic {
        return Err(IvError::BelowIntrinsic);
    }
    if price_ >= upper {
        return Err(IvError::AboveUpperBound);
    }
    // Bracketed bisection on total vol s = σ√t (monotone price); replaced by the
    // rational-guess + Householder method of Jäckel (2015) in its own module.
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while price(kind, f, k, 1.0, hi) < price_ && hi < 1e3 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if price(kind, f, k, 1.0, mid) < price_ {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-16 * hi {
            break;
        }
    }
    Ok(0.5 * (lo + hi) / t.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atm_call_matches_closed_form() {
        // ATM: C = F·(2Φ(σ√t/2) − 1) = F·erf(σ√t/(2√2)).
        let c = price(OptionType::Call, 100.0, 100.0, 1.0, 0.2);
        let exact = 100.0 * libm::erf(0.2 / (2.0 * std::f64::consts::SQRT_2));
        assert!((c - exact).abs() < 1e-13);
    }
}
