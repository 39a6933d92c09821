//! The Heston (1993) model: see [`Heston`].

use super::cf::CharacteristicFn;
use super::dual::{ComplexScalar, Dual};
use super::{check_len, Domain, Params};
use num_complex::Complex64;

/// Why a Heston (or Bates) parameter set was rejected.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HestonError {
    /// A parameter is NaN or infinite.
    #[error("Heston parameter {0} is not finite")]
    NonFinite(&'static str),
    /// A parameter that must be positive is not.
    #[error("Heston requires {0} > 0, got {1}")]
    NonPositive(&'static str, f64),
    /// A parameter that must be non-negative is negative.
    #[error("Heston/Bates requires {0} >= 0, got {1}")]
    Negative(&'static str, f64),
    /// `|ρ| ≥ 1`.
    #[error("Heston requires |rho| < 1, got rho = {0}")]
    RhoOutOfRange(f64),
    /// Flat vector of the wrong length.
    #[error("Heston expects {expected} parameters, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}

/// Heston (1993) stochastic volatility on the forward (zero rate, Deribit's convention).
///
/// ```text
/// dF/F = √v dW,   dv = κ(θ − v)dt + σ√v dZ,   dW·dZ = ρ dt
/// ```
/// Characteristic function of `X = ln(F_T/F)` in the "little trap" form of Albrecher,
/// Mayer, Schoutens, Tistaert (2007): with `ξ = κ − σρiu`, `d = √(ξ² + σ²(u² + iu))`,
/// `g = (ξ − d)/(ξ + d)`:
/// ```text
/// ln φ(u) = κθ/σ² [(ξ − d)t − 2 ln((1 − g e^(−dt))/(1 − g))] + v₀ (ξ − d)/σ² · (1 − e^(−dt))/(1 − g e^(−dt))
/// ```
/// Priced by the Lewis quadrature of [`CharacteristicFn`](crate::model::CharacteristicFn). Exact gradients by forward-mode
/// dual numbers over complex values — over `(κ, σ, ρ)` only, `v₀` and `θ` entering `ln φ`
/// linearly.
/// Parameters (flat order) `[v0, kappa, theta, sigma, rho]`: `v0, κ, θ, σ > 0`, `|ρ| < 1`.
///
/// Heston parameters (validated).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heston {
    v0: f64,
    kappa: f64,
    theta: f64,
    sigma: f64,
    rho: f64,
}

/// The two functions of `(κ, σ, ρ)` behind the little-trap log-CF at complex `u`:
/// `ln φ(u) = (κθ·A + v₀·B)/σ²` with
/// `A = (ξ − d)t + 2 ln((1 − g)/(1 − g e^(−dt)))`, `B = (ξ − d)(1 − e^(−dt))/(1 − g e^(−dt))`.
/// `ξ − d = −σ²(u² + iu)/(ξ + d)` avoids the cancellation at small σ; two reciprocals serve
/// all four quotients.
#[inline(always)]
fn heston_core<Z: ComplexScalar>(u: Complex64, t: f64, kappa: Z, sigma: Z, rho: Z) -> (Z, Z) {
    let iu = Complex64::new(0.0, 1.0) * u;
    let one = Z::cst(1.0);
    let xi = kappa - sigma * rho * iu;
    let s2q = sigma * sigma * (u * u + iu);
    let d = (xi * xi + s2q).sqrt();
    let inv_xp = one / (xi + d);
    let xm = -(s2q * inv_xp);
    let g = xm * inv_xp;
    let e = (-(d * t)).exp();
    let inv_ge = one / (one - g * e);
    let a = xm * t + ((one - g) * inv_ge).ln() * 2.0;
    let b = xm * ((one - e) * inv_ge);
    (a, b)
}

/// Little-trap Heston log-CF of `ln(F_T/F)` at complex `u`.
pub(crate) fn heston_log_cf<Z: ComplexScalar>(u: Complex64, t: f64, p: [Z; 5]) -> Z {
    let [v0, kappa, theta, sigma, rho] = p;
    let (a, b) = heston_core(u, t, kappa, sigma, rho);
    (kappa * theta * a + v0 * b) / (sigma * sigma)
}

/// Little-trap Heston log-CF and its exact gradient over `[v0, κ, θ, σ, ρ]`: dual numbers
/// over `(κ, σ, ρ)` only (`v0` and `θ` enter linearly), assembled by hand.
#[inline(always)]
pub(crate) fn heston_log_cf_grad(u: Complex64, t: f64, p: [f64; 5]) -> Dual<Complex64, 5> {
    let [v0, kappa, theta, sigma, rho] = p;
    let c = |x: f64, i| Dual::<Complex64, 3>::var(Complex64::from(x), i);
    let (a, b) = heston_core(u, t, c(kappa, 0), c(sigma, 1), c(rho, 2));
    let is2 = 1.0 / (sigma * sigma);
    let kt = kappa * theta;
    let val = (a.v * kt + b.v * v0) * is2;
    Dual {
        v: val,
        d: [
            b.v * is2,
            (a.v * theta + a.d[0] * kt + b.d[0] * v0) * is2,
            a.v * (kappa * is2),
            (a.d[1] * kt + b.d[1] * v0) * is2 - val * (2.0 / sigma),
            (a.d[2] * kt + b.d[2] * v0) * is2,
        ],
    }
}

impl Heston {
    /// Validating constructor.
    ///
    /// # Errors
    /// [`HestonError`] naming the violated constraint.
    pub fn new(
        v0: f64,
        kappa: f64,
        theta: f64,
        sigma: f64,
        rho: f64,
    ) -> Result<Heston, HestonError> {
        for (n, v) in [("v0", v0), ("kappa", kappa), ("theta", theta), ("sigma", sigma)] {
            if !v.is_finite() {
                return Err(HestonError::NonFinite(n));
            }
            if v <= 0.0 {
                return Err(HestonError::NonPositive(n, v));
            }
        }
        if !(rho.abs() < 1.0) {
            return Err(HestonError::RhoOutOfRange(rho));
        }
        Ok(Heston { v0, kappa, theta, sigma, rho })
    }

    /// `[v0, κ, θ, σ, ρ]`.
    pub fn params(&self) -> [f64; 5] {
        [self.v0, self.kappa, self.theta, self.sigma, self.rho]
    }

    /// Feller condition `2κθ ≥ σ²` (reported, not required).
    pub fn feller(&self) -> bool {
        2.0 * self.kappa * self.theta >= self.sigma * self.sigma
    }
}

const HESTON_DOMAIN: [Domain; 5] = [
    Domain::Positive,
    Domain::Positive,
    Domain::Positive,
    Domain::Positive,
    Domain::Interval(-1.0, 1.0),
];

impl Params for Heston {
    const NAMES: &'static [&'static str] = &["v0", "kappa", "theta", "sigma", "rho"];
    type Error = HestonError;
    fn domain() -> &'static [Domain] {
        &HESTON_DOMAIN
    }
    fn to_slice(&self, out: &mut [f64]) {
        out[..5].copy_from_slice(&self.params());
    }
    fn from_slice(x: &[f64]) -> Result<Self, HestonError> {
        check_len(x, 5).map_err(|(expected, got)| HestonError::Length { expected, got })?;
        Heston::new(x[0], x[1], x[2], x[3], x[4])
    }
}

impl CharacteristicFn for Heston {
    type Grad = Dual<Complex64, 5>;
    fn log_cf(&self, u: Complex64, t: f64) -> Complex64 {
        heston_log_cf(u, t, self.params().map(Complex64::from))
    }
    fn log_cf_grad(&self, u: Complex64, t: f64) -> Dual<Complex64, 5> {
        heston_log_cf_grad(u, t, self.params())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cf::{GL_W, GL_X};

    #[test]
    fn cf_is_martingale() {
        // φ(−i) = E[F_T/F] = 1 (forward is a martingale).
        let h = Heston::new(0.04, 1.5, 0.06, 0.7, -0.6).expect("valid");
        let z = h.log_cf(Complex64::new(0.0, -1.0), 2.0);
        assert!(z.norm() < 1e-14);
    }

    #[test]
    fn hand_assembled_gradient_matches_full_duals() {
        // heston_log_cf_grad (duals over κ, σ, ρ only) against duals over all five.
        let p = [0.05, 2.0, 0.07, 0.6, -0.7];
        let full: [Dual<Complex64, 5>; 5] =
            std::array::from_fn(|i| Dual::var(Complex64::from(p[i]), i));
        for (u, t) in [(0.3, 0.01), (2.0, 0.5), (40.0, 2.0), (800.0, 0.002)] {
            let z = Complex64::new(u, -0.5);
            let (a, b) = (heston_log_cf(z, t, full), heston_log_cf_grad(z, t, p));
            assert!((a.v - b.v).norm() <= 1e-14 * a.v.norm().max(1.0));
            for i in 0..5 {
                assert!((a.d[i] - b.d[i]).norm() <= 1e-13 * a.d[i].norm().max(1.0), "u={u} i={i}");
            }
        }
    }

    /// The Lewis integral by plain composite 16-point Gauss–Legendre on fixed panels (width
    /// 1/4 below u = 8, near the poles at ±i/2, then 1) up to `|φ|/(u² + ¼) < 1e-20`,
    /// Neumaier-compensated sum: slow, independent of the adaptive panel choice.
    fn dense_call(h: &Heston, t: f64, k: f64) -> f64 {
        let (mut sum, mut comp) = (0.0_f64, 0.0_f64);
        let mut lo = 0.0;
        loop {
            let width = if lo < 8.0 { 0.25 } else { 1.0 };
            let mid = lo + 0.5 * width;
            let mut env = 0.0_f64;
            for (&x, &w) in GL_X.iter().zip(&GL_W) {
                for sgn in [1.0, -1.0] {
                    let u = mid + sgn * 0.5 * width * x;
                    let phi = h.log_cf(Complex64::new(u, -0.5), t).exp();
                    let den = u * u + 0.25;
                    let rot = Complex64::new((u * k).cos(), -(u * k).sin());
                    let term = (phi * rot).re * 0.5 * width * w / den;
                    let next = sum + term;
                    comp += if sum.abs() >= term.abs() {
                        (sum - next) + term
                    } else {
                        (term - next) + sum
                    };
                    sum = next;
                    env = env.max(phi.norm() / den);
                }
            }
            lo += width;
            if lo > 4.0 && env < 1e-20 {
                break;
            }
        }
        1.0 - (0.5 * k).exp() / std::f64::consts::PI * (sum + comp)
    }

    #[test]
    fn wide_panels_match_dense_quadrature() {
        // Crypto-like extremes (vol of vol up to 10, κ up to 30, expiries from one hour)
        // and textbook sets; strikes spread over ±4 standard deviations of the expiry.
        let sets = [
            [0.22, 31.0, 0.24, 7.9, -0.19],
            [0.39, 32.0, 0.47, 10.2, -0.13],
            [0.3, 2.0, 0.4, 2.0, -0.3],
            [0.04, 4.0, 0.25, 1.0, -0.5],
            [0.01, 1.0, 0.01, 0.1, -0.7],
            [0.5, 0.5, 0.8, 3.0, 0.4],
        ];
        for p in sets {
            let h = Heston::new(p[0], p[1], p[2], p[3], p[4]).expect("valid");
            for t in [1.0 / (365.0 * 24.0), 1.0 / 365.0, 7.0 / 365.0, 0.1, 0.5, 2.0] {
                let sd = (p[0].max(p[2]) * t).sqrt();
                let ks: Vec<f64> = (-4..=4).map(|i| f64::from(i) * sd).collect();
                let mut out = vec![0.0; ks.len()];
                let mut work = vec![Complex64::from(0.0); ks.len()];
                h.call_prices(t, &ks, &mut out, &mut work);
                let mut worst = (0.0_f64, 0.0);
                for (&k, &c) in ks.iter().zip(&out) {
                    // Relative to √K, the factor in front of the integral.
                    let e = (c - dense_call(&h, t, k)).abs() / (0.5 * k).exp().max(1.0);
                    if e > worst.0 {
                        worst = (e, k);
                    }
                }
                assert!(worst.0 < 2e-14, "{p:?} t={t}: {:e} at k={}", worst.0, worst.1);
            }
        }
    }
}
