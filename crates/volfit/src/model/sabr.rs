//! SABR lognormal implied-vol expansion (Hagan, Kumar, Lesniewski, Woodward 2002, eq. 2.17a)
//! with Obłój's (2008) correction of the leading term.
//!
//! With `q = 1 − β`, `k = ln(K/F)` and `B = 1 + [q²α²/(24(FK)^q) + ρβνα/(4(FK)^(q/2))
//! + (2 − 3ρ²)ν²/24]·t`:
//! ```text
//! Hagan:  σ = α / ((FK)^(q/2) (1 + q²k²/24 + q⁴k⁴/1920)) · z/x(z) · B,  z = −(ν/α)(FK)^(q/2) k
//! Obłój:  σ = α / (F^q E(qk)) · z̃/x(z̃) · B,  z̃ = −(ν/α) F^q k E(qk),  E(y) = (eʸ − 1)/y
//! x(z) = ln((√(1 − 2ρz + z²) + z − ρ)/(1 − ρ))
//! ```
//! (Obłój's `ν ln(F/K)/x(z̃)` with `z̃ = ν(F^q − K^q)/(αq)` rewritten so β = 1 and K = F
//! are regular.) `z/x(z)` and `E` use Taylor series near 0, so the ATM limit is smooth.
//! Parameters `α > 0`, `|ρ| < 1`, `ν ≥ 0`, `β ∈ [0, 1]`; flat order `[α, ρ, ν, β]`, so
//! a fit with β fixed uses the first three coordinates ([`Sabr::with_free`]).
//! Gradients by forward-mode dual numbers ([`crate::model::real::Dual`]).

use super::real::{Dual, Real};
use super::{check_len, Domain, Params, Smile};

/// Why a SABR parameter set was rejected.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SabrError {
    /// A parameter is NaN or infinite.
    #[error("SABR parameter {0} is not finite")]
    NonFinite(&'static str),
    /// `α ≤ 0`.
    #[error("SABR requires alpha > 0, got alpha = {0}")]
    NonPositiveAlpha(f64),
    /// `|ρ| ≥ 1`.
    #[error("SABR requires |rho| < 1, got rho = {0}")]
    RhoOutOfRange(f64),
    /// `ν < 0`.
    #[error("SABR requires nu >= 0, got nu = {0}")]
    NegativeNu(f64),
    /// `β ∉ [0, 1]`.
    #[error("SABR requires 0 <= beta <= 1, got beta = {0}")]
    BetaOutOfRange(f64),
    /// Non-positive forward or expiry for a smile.
    #[error("SABR smile requires forward > 0 and t > 0, got forward = {0}, t = {1}")]
    Context(f64, f64),
    /// Flat vector of the wrong length.
    #[error("SABR expects {expected} parameters, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}

/// Which leading term the expansion uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SabrExpansion {
    /// Hagan et al. (2002) eq. 2.17a, as in QuantLib's `sabrVolatility`.
    Hagan2002,
    /// Obłój (2008) corrected leading term (default).
    #[default]
    Obloj2008,
}

/// SABR parameters (validated).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sabr {
    alpha: f64,
    rho: f64,
    nu: f64,
    beta: f64,
}

impl Sabr {
    /// Validating constructor.
    ///
    /// # Errors
    /// [`SabrError`] naming the violated constraint.
    pub fn new(alpha: f64, rho: f64, nu: f64, beta: f64) -> Result<Sabr, SabrError> {
        for (n, v) in [("alpha", alpha), ("rho", rho), ("nu", nu), ("beta", beta)] {
            if !v.is_finite() {
                return Err(SabrError::NonFinite(n));
            }
        }
        if alpha <= 0.0 {
            return Err(SabrError::NonPositiveAlpha(alpha));
        }
        if rho.abs() >= 1.0 {
            return Err(SabrError::RhoOutOfRange(rho));
        }
        if nu < 0.0 {
            return Err(SabrError::NegativeNu(nu));
        }
        if !(0.0..=1.0).contains(&beta) {
            return Err(SabrError::BetaOutOfRange(beta));
        }
        Ok(Sabr { alpha, rho, nu, beta })
    }

    /// `[α, ρ, ν, β]`.
    pub fn params(&self) -> [f64; 4] {
        [self.alpha, self.rho, self.nu, self.beta]
    }

    /// New parameters from `[α, ρ, ν]` (β kept, the fixed-β fit) or `[α, ρ, ν, β]`.
    ///
    /// # Errors
    /// [`SabrError`] on a violated constraint or a length other than 3 or 4.
    pub fn with_free(&self, x: &[f64]) -> Result<Sabr, SabrError> {
        match x.len() {
            3 => Sabr::new(x[0], x[1], x[2], self.beta),
            4 => Sabr::new(x[0], x[1], x[2], x[3]),
            got => Err(SabrError::Length { expected: 4, got }),
        }
    }

    /// The smile at forward `f` and expiry `t`.
    ///
    /// # Errors
    /// [`SabrError::Context`] if `f` or `t` is not positive and finite.
    pub fn smile(&self, f: f64, t: f64, expansion: SabrExpansion) -> Result<SabrSmile, SabrError> {
        if !(f > 0.0 && f.is_finite() && t > 0.0 && t.is_finite()) {
            return Err(SabrError::Context(f, t));
        }
        Ok(SabrSmile { p: *self, f, t, expansion })
    }

    /// Black implied vol at strike `strike`, forward `f`, expiry `t`.
    pub fn implied_vol(&self, strike: f64, f: f64, t: f64, expansion: SabrExpansion) -> f64 {
        vol(self.alpha, self.rho, self.nu, self.beta, f, (strike / f).ln(), t, expansion)
    }
}

const SABR_DOMAIN: [Domain; 4] =
    [Domain::Positive, Domain::Interval(-1.0, 1.0), Domain::Positive, Domain::Interval(0.0, 1.0)];

impl Params for Sabr {
    const NAMES: &'static [&'static str] = &["alpha", "rho", "nu", "beta"];
    type Error = SabrError;
    fn domain() -> &'static [Domain] {
        &SABR_DOMAIN
    }
    fn to_slice(&self, out: &mut [f64]) {
        out[..4].copy_from_slice(&self.params());
    }
    fn from_slice(x: &[f64]) -> Result<Self, SabrError> {
        check_len(x, 4).map_err(|(expected, got)| SabrError::Length { expected, got })?;
        Sabr::new(x[0], x[1], x[2], x[3])
    }
}

/// A SABR smile at one forward and expiry; gradient over `[α, ρ, ν, β]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SabrSmile {
    /// Parameters.
    pub p: Sabr,
    /// Forward.
    pub f: f64,
    /// Expiry (years).
    pub t: f64,
    /// Expansion used.
    pub expansion: SabrExpansion,
}

impl Smile for SabrSmile {
    fn num_params(&self) -> usize {
        4
    }
    fn total_variance(&self, k: f64) -> f64 {
        let [a, r, n, b] = self.p.params();
        let s = vol(a, r, n, b, self.f, k, self.t, self.expansion);
        s * s * self.t
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        let [a, r, n, b] = self.p.params();
        let v = |x: f64, i: usize| Dual::<f64, 4>::var(x, i);
        let s = vol(v(a, 0), v(r, 1), v(n, 2), v(b, 3), self.f, k, self.t, self.expansion);
        let w = s * s * self.t;
        grad[..4].copy_from_slice(&w.d);
        w.v
    }
}

/// `z / x(z)` with a Taylor series near 0.
fn z_over_x<R: Real>(z: R, rho: R) -> R {
    if z.value().abs() < 1e-6 {
        // x(z) = z + ρz²/2 + (3ρ²−1)z³/6 + (5ρ³−3ρ)z⁴/8 + O(z⁵).
        let r2 = rho * rho;
        let s = R::cst(1.0)
            + rho * z * 0.5
            + (r2 * 3.0 - 1.0) * z * z / 6.0
            + (r2 * rho * 5.0 - rho * 3.0) * z * z * z / 8.0;
        return R::cst(1.0) / s;
    }
    let q = z * z - rho * z * 2.0;
    let root = (q + 1.0).sqrt();
    // √(1 + q) − 1 without cancellation.
    let root_m1 = q / (root + 1.0);
    let x = if (z - rho).value() >= 0.0 {
        ((root_m1 + z) / (-rho + 1.0)).ln_1p()
    } else {
        // (√· + z − ρ)(√· − z + ρ) = 1 − ρ²: avoids cancellation for z ≪ 0.
        -((root_m1 - z) / (rho + 1.0)).ln_1p()
    };
    z / x
}

/// `(eʸ − 1)/y` with a series near 0.
fn expm1_over<R: Real>(y: R) -> R {
    if y.value().abs() < 1e-8 {
        R::cst(1.0) + y * 0.5 + y * y / 6.0
    } else {
        y.exp_m1() / y
    }
}

#[allow(clippy::too_many_arguments)]
fn vol<R: Real>(
    alpha: R,
    rho: R,
    nu: R,
    beta: R,
    f: f64,
    k: f64,
    t: f64,
    expansion: SabrExpansion,
) -> R {
    let q = -beta + 1.0;
    let lf = f.ln();
    // (FK)^(q/2) = exp(q/2 · (2 ln F + k)).
    let fkq2 = (q * (0.5 * (2.0 * lf + k))).exp();
    let b = R::cst(1.0)
        + (q * q * alpha * alpha / (fkq2 * fkq2 * 24.0)
            + rho * beta * nu * alpha / (fkq2 * 4.0)
            + (-(rho * rho) * 3.0 + 2.0) * nu * nu / 24.0)
            * t;
    match expansion {
        SabrExpansion::Hagan2002 => {
            let qk2 = q * q * (k * k);
            let den = fkq2 * (R::cst(1.0) + qk2 / 24.0 + qk2 * qk2 / 1920.0);
            let z = -(nu / alpha) * fkq2 * k;
            alpha / den * z_over_x(z, rho) * b
        }
        SabrExpansion::Obloj2008 => {
            let fq = (q * lf).exp();
            let e = expm1_over(q * k);
            let z = -(nu / alpha) * fq * e * k;
            alpha / (fq * e) * z_over_x(z, rho) * b
        }
    }
}
