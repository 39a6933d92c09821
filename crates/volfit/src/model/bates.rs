//! The Bates (1996) model: see [`Bates`].

use super::cf::CharacteristicFn;
use super::dual::{ComplexScalar, Dual};
use super::heston::{heston_log_cf, heston_log_cf_grad, Heston, HestonError};
use super::{check_len, Domain, Params};
use num_complex::Complex64;

/// Bates (1996): Heston plus lognormal jumps in the forward, compensated so the forward
/// stays a martingale:
/// ```text
/// ln φ_Bates(u) = ln φ_Heston(u) + λt (e^(iuμ − σ_J²u²/2) − 1 − iu(e^(μ + σ_J²/2) − 1))
/// ```
/// Jump intensity `λ ≥ 0` (per year), log-jump mean `μ_J`, log-jump vol `σ_J ≥ 0`. Priced
/// with the Lewis quadrature of [`CharacteristicFn`](crate::model::CharacteristicFn), as Heston; exact gradients over
/// `[v0, κ, θ, σ, ρ, λ, μ_J, σ_J]` by complex dual numbers.
///
/// Bates parameters (validated).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bates {
    heston: Heston,
    lambda: f64,
    mu_j: f64,
    sigma_j: f64,
}

/// Bates log-CF and its exact gradient over the 8 parameters: the Heston part by
/// [`heston_log_cf_grad`], the jump part by dual numbers over `(λ, μ_J, σ_J)`.
#[inline(always)]
fn bates_log_cf_grad(u: Complex64, t: f64, p: [f64; 8]) -> Dual<Complex64, 8> {
    let h = heston_log_cf_grad(u, t, [p[0], p[1], p[2], p[3], p[4]]);
    let c = |x: f64, i| Dual::<Complex64, 3>::var(Complex64::from(x), i);
    let j = jump_log_cf(u, t, c(p[5], 0), c(p[6], 1), c(p[7], 2));
    let mut d = [Complex64::from(0.0); 8];
    d[..5].copy_from_slice(&h.d);
    d[5..].copy_from_slice(&j.d);
    Dual { v: h.v + j.v, d }
}

/// Compensated lognormal jump log-CF term.
fn jump_log_cf<Z: ComplexScalar>(u: Complex64, t: f64, lambda: Z, mu: Z, sj: Z) -> Z {
    let iu = Complex64::new(0.0, 1.0) * u;
    let one = Z::cst(1.0);
    let jump = (mu * iu - sj * sj * (u * u) * 0.5).exp() - one;
    let comp = ((mu + sj * sj * 0.5).exp() - one) * iu;
    lambda * t * (jump - comp)
}

impl Bates {
    /// Validating constructor.
    ///
    /// # Errors
    /// [`HestonError`] naming the violated constraint.
    pub fn new(heston: Heston, lambda: f64, mu_j: f64, sigma_j: f64) -> Result<Bates, HestonError> {
        for (n, v) in [("lambda", lambda), ("mu_j", mu_j), ("sigma_j", sigma_j)] {
            if !v.is_finite() {
                return Err(HestonError::NonFinite(n));
            }
        }
        if lambda < 0.0 {
            return Err(HestonError::Negative("lambda", lambda));
        }
        if sigma_j < 0.0 {
            return Err(HestonError::Negative("sigma_j", sigma_j));
        }
        Ok(Bates { heston, lambda, mu_j, sigma_j })
    }

    /// `[v0, κ, θ, σ, ρ, λ, μ_J, σ_J]`.
    pub fn params(&self) -> [f64; 8] {
        let h = self.heston.params();
        [h[0], h[1], h[2], h[3], h[4], self.lambda, self.mu_j, self.sigma_j]
    }

    /// The diffusive part.
    pub fn heston(&self) -> Heston {
        self.heston
    }
}

const BATES_DOMAIN: [Domain; 8] = [
    Domain::Positive,
    Domain::Positive,
    Domain::Positive,
    Domain::Positive,
    Domain::Interval(-1.0, 1.0),
    Domain::Positive,
    Domain::Free,
    Domain::Positive,
];

impl Params for Bates {
    const NAMES: &'static [&'static str] =
        &["v0", "kappa", "theta", "sigma", "rho", "lambda", "mu_j", "sigma_j"];
    type Error = HestonError;
    fn domain() -> &'static [Domain] {
        &BATES_DOMAIN
    }
    fn to_slice(&self, out: &mut [f64]) {
        out[..8].copy_from_slice(&self.params());
    }
    fn from_slice(x: &[f64]) -> Result<Self, HestonError> {
        check_len(x, 8).map_err(|(expected, got)| HestonError::Length { expected, got })?;
        Bates::new(Heston::new(x[0], x[1], x[2], x[3], x[4])?, x[5], x[6], x[7])
    }
}

impl CharacteristicFn for Bates {
    type Grad = Dual<Complex64, 8>;
    fn log_cf(&self, u: Complex64, t: f64) -> Complex64 {
        let p = self.params().map(Complex64::from);
        heston_log_cf(u, t, [p[0], p[1], p[2], p[3], p[4]]) + jump_log_cf(u, t, p[5], p[6], p[7])
    }
    fn log_cf_grad(&self, u: Complex64, t: f64) -> Dual<Complex64, 8> {
        bates_log_cf_grad(u, t, self.params())
    }
}
