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
