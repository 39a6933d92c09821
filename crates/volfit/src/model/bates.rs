//! Bates (1996): Heston plus lognormal jumps in the forward, compensated so the forward
//! stays a martingale:
//! ```text
//! ln φ_Bates(u) = ln φ_Heston(u) + λt (e^(iuμ − σ_J²u²/2) − 1 − iu(e^(μ + σ_J²/2) − 1))
//! ```
//! Jump intensity `λ ≥ 0` (per year), log-jump mean `μ_J`, log-jump vol `σ_J ≥ 0`. Priced
//! with the same Lewis quadrature as [`crate::model::heston`]; exact gradients over
//! `[v0, κ, θ, σ, ρ, λ, μ_J, σ_J]` by complex dual numbers.

use super::heston::{
    finish_price, heston_log_cf, heston_log_cf_grad, lewis_integrals, total_variance_from_call,
    Heston, HestonError,
};
use super::real::{ComplexScalar, Dual};
use super::{check_len, Domain, Params, Smile, Surface};
use num_complex::Complex64;

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

    /// Log-CF of `ln(F_T/F)` at complex `u`.
    pub fn log_cf(&self, u: Complex64, t: f64) -> Complex64 {
        let p = self.params().map(Complex64::from);
        heston_log_cf(u, t, [p[0], p[1], p[2], p[3], p[4]]) + jump_log_cf(u, t, p[5], p[6], p[7])
    }

    /// Undiscounted call prices (forward 1, strikes `e^k`) for all `ks` at expiry `t`;
    /// `work.len() ≥ ks.len()`.
    pub fn call_prices(&self, t: f64, ks: &[f64], out: &mut [f64], work: &mut [Complex64]) {
        lewis_integrals(|u| self.log_cf(u, t), ks, work);
        for ((o, a), &k) in out.iter_mut().zip(work.iter()).zip(ks) {
            *o = 1.0 - (0.5 * k).exp() / std::f64::consts::PI * a.re;
        }
    }

    /// Undiscounted call price (forward 1, strike `e^k`) and its gradient over the 8
    /// parameters.
    pub fn call_price_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        let p = self.params();
        let mut acc = [Dual::constant(Complex64::from(0.0))];
        lewis_integrals(|u| bates_log_cf_grad(u, t, p), &[k], &mut acc);
        finish_price(k, &acc[0], grad)
    }

    /// Batched prices and gradients for all strikes of one expiry: `out[j]` the call price
    /// at `ks[j]`, `grads[8j..8j+8]` its gradient; `work.len() ≥ ks.len()`.
    pub fn call_prices_grad(
        &self,
        t: f64,
        ks: &[f64],
        out: &mut [f64],
        grads: &mut [f64],
        work: &mut [Dual<Complex64, 8>],
    ) {
        let p = self.params();
        lewis_integrals(|u| bates_log_cf_grad(u, t, p), ks, work);
        for (j, &k) in ks.iter().enumerate() {
            out[j] = finish_price(k, &work[j], &mut grads[8 * j..8 * j + 8]);
        }
    }

    /// Batched model total variances and gradients for one expiry (NaN where no implied
    /// vol exists): `grads[8j..8j+8] = ∂w_j/∂x`; `work.len() ≥ ks.len()`.
    pub fn total_variance_grad_batch(
        &self,
        t: f64,
        ks: &[f64],
        w: &mut [f64],
        grads: &mut [f64],
        work: &mut [Dual<Complex64, 8>],
    ) {
        self.call_prices_grad(t, ks, w, grads, work);
        for (j, &k) in ks.iter().enumerate() {
            w[j] = total_variance_from_call(k, t, w[j], Some(&mut grads[8 * j..8 * j + 8]));
        }
    }

    /// The smile at expiry `t`.
    pub fn smile(&self, t: f64) -> BatesSmile {
        BatesSmile { model: *self, t }
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

/// Bates smile at one expiry (model implied total variance; NaN if no implied vol).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatesSmile {
    /// Model.
    pub model: Bates,
    /// Expiry (years).
    pub t: f64,
}

impl Smile for BatesSmile {
    fn num_params(&self) -> usize {
        8
    }
    fn total_variance(&self, k: f64) -> f64 {
        let mut out = [0.0];
        let mut work = [Complex64::from(0.0)];
        self.model.call_prices(self.t, &[k], &mut out, &mut work);
        total_variance_from_call(k, self.t, out[0], None)
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        let c = self.model.call_price_grad(k, self.t, &mut grad[..8]);
        total_variance_from_call(k, self.t, c, Some(&mut grad[..8]))
    }
}

impl Surface for Bates {
    type Slice = BatesSmile;
    type Error = HestonError;
    fn num_params(&self) -> usize {
        8
    }
    fn param_names(&self) -> Vec<String> {
        Self::NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn domains(&self, out: &mut [Domain]) {
        out[..8].copy_from_slice(&BATES_DOMAIN);
    }
    fn to_slice(&self, out: &mut [f64]) {
        Params::to_slice(self, out);
    }
    fn with_slice(&self, x: &[f64]) -> Result<Bates, HestonError> {
        Bates::from_slice(x)
    }
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        self.smile(t).total_variance(k)
    }
    fn total_variance_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        self.smile(t).total_variance_grad(k, grad)
    }
    fn total_variances(&self, t: f64, ks: &[f64], out: &mut [f64]) {
        let mut work = vec![Complex64::from(0.0); ks.len()];
        self.call_prices(t, ks, out, &mut work);
        for (w, &k) in out.iter_mut().zip(ks) {
            *w = total_variance_from_call(k, t, *w, None);
        }
    }
    fn slice(&self, t: f64) -> BatesSmile {
        self.smile(t)
    }
}
