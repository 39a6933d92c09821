//! Black-76 on the forward with zero rate (Deribit's convention): prices, greeks, coin
//! premiums and implied volatility to machine precision.
//!
//! Glossary: `f` forward, `k` strike, `t` years (ACT/365), `sigma` vol (fraction),
//! `s = σ√t` total vol, `x = ln(F/K)`. Prices are undiscounted, in the forward's units
//! (USD for Deribit); inverse (coin-settled) premiums are `USD / F`.
//!
//! Implied volatility follows P. Jäckel, "Let's be rational" (Wilmott, 2015): see the
//! `lbr` module docs for the evaluation regions, the four-branch rational guess and the
//! Householder(3) refinement. [`implied_vol`] is one inversion; [`implied_vols`] and
//! [`implied_vols_par`] are the batch forms (caller-owned output, no allocation).

mod lbr;
pub mod special;

use rayon::prelude::*;

/// Call or put (serialised as `"C"` / `"P"`; also reachable as `market::OptionType`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum OptionType {
    /// Right to buy at the strike.
    #[serde(rename = "C")]
    Call,
    /// Right to sell at the strike.
    #[serde(rename = "P")]
    Put,
}

impl OptionType {
    /// `+1` for calls, `-1` for puts.
    pub fn sign(self) -> f64 {
        match self {
            OptionType::Call => 1.0,
            OptionType::Put => -1.0,
        }
    }
    /// `"C"` or `"P"`.
    pub fn letter(self) -> &'static str {
        match self {
            OptionType::Call => "C",
            OptionType::Put => "P",
        }
    }
}

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

/// `ln(F/K)` to a few ulp of the result even when `F ≈ K`: there `F − K` is exact
/// (Sterbenz) and `ln_1p((F − K)/K)` avoids the absolute error `ε/2` of rounding `F/K`,
/// which near the money at tiny total vol would alone cost ~1e-12 in implied vol.
pub fn log_moneyness(f: f64, k: f64) -> f64 {
    if f <= 2.0 * k && k <= 2.0 * f {
        ((f - k) / k).ln_1p()
    } else {
        (f / k).ln()
    }
}

/// Normalised out-of-the-money Black price `b(−|x|, s)`: the time value of a call or put
/// divided by `√(F·K)` (see the module docs of `lbr`). `x = ln(F/K)`, `s = σ√t ≥ 0`.
pub fn normalised_time_value(x: f64, s: f64) -> f64 {
    if s.is_infinite() && s > 0.0 {
        return (-0.5 * x.abs()).exp();
    }
    lbr::black(-x.abs(), s)
}

/// Undiscounted Black-76 price of a call or put.
///
/// Evaluated as intrinsic value plus `√(F·K)·b(−|x|, s)`, with `b` accurate to a few ulp
/// even far out of the money, where `F·Φ(d1) − K·Φ(d2)` cancels.
pub fn price(kind: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    let s = sigma * t.sqrt();
    let intrinsic = (kind.sign() * (f - k)).max(0.0);
    if s.is_nan() {
        return f64::NAN;
    }
    if s <= 0.0 {
        return intrinsic;
    }
    let x = log_moneyness(f, k);
    let b = normalised_time_value(x, s);
    if b >= 1e-290 || b == 0.0 || s.is_infinite() {
        return intrinsic + f.sqrt() * k.sqrt() * b;
    }
    // A normalised value below the normal range has lost bits the price may still carry
    // (far wings, |x| ≳ 100): scale in the exponent instead.
    let (e, fac) = lbr::black_scaled(-x.abs(), s);
    intrinsic + fac * (e + 0.5 * (f.ln() + k.ln())).exp()
}

/// Coin (inverse) premium: the USD price divided by the forward.
pub fn price_coin(kind: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    price(kind, f, k, t, sigma) / f
}

/// Black-76 price and sensitivities, from one shared `d1`, `d2`.
///
/// Derivatives are per unit of the variable: `vega` per 1.00 of vol (Deribit quotes per
/// 0.01: divide by 100), `theta` per year of calendar time (`−∂V/∂t`; per day: `/365`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Greeks {
    /// Undiscounted price in the forward's units.
    pub price: f64,
    /// ∂V/∂F: the delta Deribit displays for its options (at the mark IV).
    pub delta: f64,
    /// ∂²V/∂F².
    pub gamma: f64,
    /// ∂V/∂σ.
    pub vega: f64,
    /// −∂V/∂t (time decay per year).
    pub theta: f64,
    /// ∂²V/∂F∂σ.
    pub vanna: f64,
    /// ∂²V/∂σ².
    pub volga: f64,
}

impl Greeks {
    /// Price in coin, `price / F` (Deribit's inverse options).
    pub fn price_coin(&self, f: f64) -> f64 {
        self.price / f
    }

    /// Premium-adjusted delta of an inverse (coin-margined) option, `Δ − V/F`.
    ///
    /// Derivation: the position's value in coin is `W = V/F`; the number of coins whose
    /// USD value moves like the option is `F·∂W/∂F = ∂V/∂F − V/F`: the hedge that keeps a
    /// coin account flat. It is *not* the delta Deribit displays: Deribit's `delta` is the
    /// plain Black delta [`Greeks::delta`] at the mark IV (median |difference| about 1e-4
    /// over 36,920 rows of the 2026 svcj chains, against 0.057 for this one; integration test
    /// `deribit_displayed_delta_is_the_black_delta`).
    pub fn premium_adjusted_delta(&self, f: f64) -> f64 {
        self.delta - self.price / f
    }
}

/// Black-76 vega `∂P/∂σ = F·φ(d1)·√t` (per unit vol, same for calls and puts); 0 when
/// `σ√t` is not positive. Cheaper than [`greeks`] when only vega is needed (weights, residual
/// scaling).
pub fn vega(f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    let s = sigma * t.sqrt();
    if s.is_nan() || s <= 0.0 {
        return 0.0;
    }
    let d1 = log_moneyness(f, k) / s + 0.5 * s;
    f * norm_pdf(d1) * t.sqrt()
}

/// Price and greeks of a call or put. For `σ√t = 0` the greeks of the payoff (delta a
/// step, the rest zero) are returned.
pub fn greeks(kind: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> Greeks {
    let sqrt_t = t.sqrt();
    let s = sigma * sqrt_t;
    let value = price(kind, f, k, t, sigma);
    if s.is_nan() || s <= 0.0 {
        let itm = kind.sign() * (f - k) > 0.0;
        return Greeks {
            price: value,
            delta: if itm { kind.sign() } else { 0.0 },
            gamma: 0.0,
            vega: 0.0,
            theta: 0.0,
            vanna: 0.0,
            volga: 0.0,
        };
    }
    let d1 = log_moneyness(f, k) / s + 0.5 * s;
    let d2 = d1 - s;
    let pdf = norm_pdf(d1);
    let delta = match kind {
        OptionType::Call => norm_cdf(d1),
        OptionType::Put => -norm_cdf(-d1),
    };
    let vega = f * pdf * sqrt_t;
    Greeks {
        price: value,
        delta,
        gamma: pdf / (f * s),
        vega,
        theta: -0.5 * f * pdf * sigma / sqrt_t,
        vanna: -pdf * d2 / sigma,
        volga: vega * d1 * d2 / sigma,
    }
}

/// Why no implied volatility exists for a price.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IvError {
    /// Price at or below the intrinsic value `max(±(F − K), 0)` (no positive vol).
    #[error("price below intrinsic value")]
    BelowIntrinsic,
    /// Price at or above the upper bound (F for calls, K for puts).
    #[error("price at or above the upper bound")]
    AboveUpperBound,
    /// A non-finite or non-positive input (price, forward, strike or time).
    #[error("non-finite or non-positive input")]
    NonFinite,
}

impl IvError {
    /// Short machine-readable reason (`below_intrinsic`, `above_upper_bound`, `non_finite`).
    pub fn reason(self) -> &'static str {
        match self {
            IvError::BelowIntrinsic => "below_intrinsic",
            IvError::AboveUpperBound => "above_upper_bound",
            IvError::NonFinite => "non_finite",
        }
    }
}

/// Implied Black-76 volatility of an undiscounted price (Jäckel 2015, "Let's be rational").
///
/// Relative error ≤ 1e-12 against the true vol wherever the price carries that information
/// (tests: `|ln(K/F)| ≤ 6`, `σ√t ∈ [1e-4, 6]`; see `tests/iv.rs` for the precise
/// conditioning criterion); usually one Householder step (order four, five on the middle
/// branch) after Jäckel's four-branch guess with a sharper lower branch (`lbr` module docs).
///
/// At the money Black-76 is `C = F·erf(σ√t / (2√2))`: with `F = K = 100`, `t = 1`,
/// `σ = 0.2` that is `100·erf(0.0707106781…) = 7.96556745540579629…`, which [`price`]
/// returns rounded to the nearest double; its inversion recovers σ to machine precision
/// (`0.20000000000000007` here, 3.5e-16 relative).
///
/// ```
/// use volfit::black::{implied_vol, price, OptionType};
///
/// let c = price(OptionType::Call, 100.0, 100.0, 1.0, 0.2);
/// assert!((c - 7.965_567_455_405_796).abs() < 1e-14);
/// let iv = implied_vol(OptionType::Call, c, 100.0, 100.0, 1.0).unwrap();
/// assert!((iv - 0.2).abs() < 1e-15);
/// // An out-of-the-money put, F = 100, K = 110, t = 0.5, σ = 0.4: 17.4677303660148456…
/// let p = price(OptionType::Put, 100.0, 110.0, 0.5, 0.4);
/// assert!((p - 17.467_730_366_014_846).abs() < 1e-14);
/// let iv = implied_vol(OptionType::Put, p, 100.0, 110.0, 0.5).unwrap();
/// assert!((iv - 0.4).abs() < 1e-15);
/// ```
///
/// # Errors
/// [`IvError::NonFinite`] for non-finite or non-positive `f`, `k`, `t` or a negative or
/// non-finite price; [`IvError::BelowIntrinsic`] when `price ≤ intrinsic`;
/// [`IvError::AboveUpperBound`] when `price ≥ F` (call) or `≥ K` (put).
#[inline]
pub fn implied_vol(kind: OptionType, price_: f64, f: f64, k: f64, t: f64) -> Result<f64, IvError> {
    implied_vol_traced(kind, price_, f, k, t).map(|tr| tr.s / t.sqrt())
}

/// Diagnostics of one inversion ([`implied_vol`]'s work): the total vol `σ√t` it returns,
/// its initial guess, the guess's branch and the number of Householder steps.
#[doc(hidden)]
pub use lbr::Trace as IvTrace;

/// [`implied_vol`] returning the [`IvTrace`] (total vol `s = σ√t`, not `σ`).
///
/// # Errors
/// As [`implied_vol`].
#[doc(hidden)]
#[inline(always)]
pub fn implied_vol_traced(
    kind: OptionType,
    price_: f64,
    f: f64,
    k: f64,
    t: f64,
) -> Result<IvTrace, IvError> {
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
    let x = -log_moneyness(f, k).abs();
    let fk = f * k;
    let root_fk = if fk.is_normal() { fk.sqrt() } else { f.sqrt() * k.sqrt() };
    let beta = (price_ - intrinsic) / root_fk;
    let b_max = (0.5 * x).exp();
    if beta >= b_max {
        return Err(IvError::AboveUpperBound);
    }
    if beta.is_nan() || beta <= 0.0 {
        return Err(IvError::BelowIntrinsic);
    }
    // Far wings (|x| ≳ 100) can push β below the normal range although the price is
    // normal: keep ln β exact from the undivided time value.
    let ln_beta_tiny = (beta < 1e-290).then(|| (price_ - intrinsic).ln() - 0.5 * (f.ln() + k.ln()));
    Ok(lbr::implied_total_vol_traced(beta, ln_beta_tiny, x, b_max))
}

/// One inversion request of the batch API.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IvInput {
    /// Call or put.
    pub kind: OptionType,
    /// Undiscounted price in the forward's units.
    pub price: f64,
    /// Forward.
    pub forward: f64,
    /// Strike.
    pub strike: f64,
    /// Years to expiry.
    pub t: f64,
}

/// Implied vols of a batch, serially, into a caller-owned buffer.
///
/// # Panics
/// If `inputs.len() != out.len()`.
pub fn implied_vols(inputs: &[IvInput], out: &mut [Result<f64, IvError>]) {
    assert_eq!(inputs.len(), out.len(), "implied_vols: inputs and out must have equal length");
    for (o, q) in out.iter_mut().zip(inputs) {
        *o = implied_vol(q.kind, q.price, q.forward, q.strike, q.t);
    }
}

/// Implied vols of a batch on the rayon thread pool (chunks of 2048), into a caller-owned
/// buffer. Same results as [`implied_vols`].
///
/// # Panics
/// If `inputs.len() != out.len()`.
pub fn implied_vols_par(inputs: &[IvInput], out: &mut [Result<f64, IvError>]) {
    assert_eq!(inputs.len(), out.len(), "implied_vols_par: inputs and out must have equal length");
    const CHUNK: usize = 2048;
    inputs.par_chunks(CHUNK).zip(out.par_chunks_mut(CHUNK)).for_each(|(i, o)| implied_vols(i, o));
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

    #[test]
    fn vega_alone_matches_the_greeks() {
        for (f, k, t, v) in [(90_000.0, 70_000.0, 0.1, 0.6), (3_000.0, 3_300.0, 1.5, 0.8)] {
            let g = greeks(OptionType::Put, f, k, t, v);
            assert!((vega(f, k, t, v) - g.vega).abs() <= 1e-12 * g.vega);
        }
        assert_eq!(vega(1.0, 1.0, 0.0, 0.5), 0.0);
    }
}
