//! Heston (1993) stochastic volatility on the forward (zero rate, Deribit's convention).
//!
//! ```text
//! dF/F = √v dW,   dv = κ(θ − v)dt + σ√v dZ,   dW·dZ = ρ dt
//! ```
//! Characteristic function of `X = ln(F_T/F)` in the "little trap" form of Albrecher,
//! Mayer, Schoutens, Tistaert (2007): with `ξ = κ − σρiu`, `d = √(ξ² + σ²(u² + iu))`,
//! `g = (ξ − d)/(ξ + d)`:
//! ```text
//! ln φ(u) = κθ/σ² [(ξ − d)t − 2 ln((1 − g e^(−dt))/(1 − g))] + v₀ (ξ − d)/σ² · (1 − e^(−dt))/(1 − g e^(−dt))
//! ```
//! Prices by Lewis' (2001) formula with forward 1 and strike `K = e^k`:
//! ```text
//! C = 1 − √K/π ∫₀^∞ Re[e^(−iuk) φ(u − i/2)] / (u² + ¼) du
//! ```
//! integrated by composite 16-point Gauss–Legendre on panels (width 1 near 0, growing),
//! truncated when `|φ(u − i/2)|/(u² + ¼) < 1e-17`. The nodes depend on `t` only, so one
//! expiry's strikes share the characteristic function ([`Heston::call_prices`]).
//! Exact gradients by forward-mode dual numbers over complex values.
//! Parameters (flat order) `[v0, kappa, theta, sigma, rho]`: `v0, κ, θ, σ > 0`, `|ρ| < 1`.

use super::real::{ComplexScalar, Dual};
use super::{check_len, Domain, Params, Smile, Surface};
use crate::black;
use crate::market::OptionType;
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

/// Heston parameters (validated).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heston {
    v0: f64,
    kappa: f64,
    theta: f64,
    sigma: f64,
    rho: f64,
}

/// 16-point Gauss–Legendre nodes and weights on [−1, 1] (positive half).
const GL_X: [f64; 8] = [
    0.095_012_509_837_637_44,
    0.281_603_550_779_258_9,
    0.458_016_777_657_227_4,
    0.617_876_244_402_643_8,
    0.755_404_408_355_003,
    0.865_631_202_387_831_7,
    0.944_575_023_073_232_6,
    0.989_400_934_991_649_9,
];
const GL_W: [f64; 8] = [
    0.189_450_610_455_068_5,
    0.182_603_415_044_923_6,
    0.169_156_519_395_002_5,
    0.149_595_988_816_576_7,
    0.124_628_971_255_533_9,
    0.095_158_511_682_492_78,
    0.062_253_523_938_647_89,
    0.027_152_459_411_754_09,
];

/// Largest number of quadrature panels (guards against non-decaying integrands).
const MAX_PANELS: usize = 600;

/// Little-trap Heston log-CF of `ln(F_T/F)` at complex `u`.
pub(crate) fn heston_log_cf<Z: ComplexScalar>(u: Complex64, t: f64, p: [Z; 5]) -> Z {
    let [v0, kappa, theta, sigma, rho] = p;
    let iu = Complex64::new(0.0, 1.0) * u;
    let xi = kappa - sigma * rho * iu;
    let s2q = sigma * sigma * (u * u + iu);
    let d = (xi * xi + s2q).sqrt();
    // ξ − d = (ξ² − d²)/(ξ + d) = −σ²(u² + iu)/(ξ + d): no cancellation for small σ.
    let xp = xi + d;
    let xm = -s2q / xp;
    let g = xm / xp;
    let e = (-(d * t)).exp();
    let one = Z::cst(1.0);
    let ge = one - g * e;
    let s2 = sigma * sigma;
    let c = kappa * theta / s2 * (xm * t - ((ge) / (one - g)).ln() * 2.0);
    let dd = xm / s2 * ((one - e) / ge);
    c + dd * v0
}

/// Integrates Lewis' formula for all strikes `ks` of one expiry. `log_cf(u)` is the log
/// characteristic function at complex `u`; `acc[j]` receives the complex-dual integral for
/// strike `ks[j]` (caller-owned, `acc.len() ≥ ks.len()`).
///
/// Panel widths grow with the distance from the poles of `1/(u² + ¼)` at `±i/2`
/// (`h ≤ lo/2`, from 1 up to 8) and are capped by the fastest strike oscillation
/// (`h·max|k| ≤ 8`, which keeps 16-point Gauss–Legendre at ~1e-15 on `e^(−iuk)`). Widths are
/// powers of two, so the nodes of a panel are `mid ± δ_i` with only four sets of offsets `δ_i`: the rotations `e^(−iδ_i k)` are tabulated once per strike (one
/// workspace per call; on the stack for up to 4 strikes) and each panel costs one
/// `sin_cos` per strike for `e^(−i·mid·k)`.
pub(crate) fn lewis_integrals<Z: ComplexScalar, F: Fn(Complex64) -> Z>(
    log_cf: F,
    ks: &[f64],
    acc: &mut [Z],
    magnitude: impl Fn(&Z) -> f64,
) {
    const WIDTHS: [f64; 4] = [1.0, 2.0, 4.0, 8.0];
    const R: usize = 4 * 8;
    let nk = ks.len();
    let mut stack = [Complex64::from(0.0); 4 * R];
    let mut heap = Vec::new();
    let rot: &mut [Complex64] = if nk <= 4 {
        &mut stack[..nk * R]
    } else {
        heap.resize(nk * R, Complex64::from(0.0));
        &mut heap
    };
    for (j, &k) in ks.iter().enumerate() {
        for (wi, &h) in WIDTHS.iter().enumerate() {
            for (i, &x) in GL_X.iter().enumerate() {
                let (sn, cs) = (0.5 * h * x * k).sin_cos();
                rot[j * R + wi * 8 + i] = Complex64::new(cs, -sn);
            }
        }
    }
    for a in acc[..nk].iter_mut() {
        *a = Z::cst(0.0);
    }
    let zero = Z::cst(0.0);
    let kmax = ks.iter().fold(0.0_f64, |m, k| m.max(k.abs()));
    let mut lo = 0.0;
    for _ in 0..MAX_PANELS {
        let mut wi = 0;
        while wi + 1 < WIDTHS.len() && WIDTHS[wi + 1] <= 0.5 * lo && WIDTHS[wi + 1] * kmax <= 8.0 {
            wi += 1;
        }
        let h = WIDTHS[wi];
        let mid = lo + 0.5 * h;
        // Weighted CF values at mid + δ_i (plus) and mid − δ_i (minus).
        let mut qp = [zero; 8];
        let mut qm = [zero; 8];
        let mut env = 0.0_f64;
        for (i, (&x, &w)) in GL_X.iter().zip(&GL_W).enumerate() {
            for (sgn, q) in [(1.0, &mut qp[i]), (-1.0, &mut qm[i])] {
                let u = mid + sgn * 0.5 * h * x;
                let phi = log_cf(Complex64::new(u, -0.5)).exp();
                let den = u * u + 0.25;
                *q = phi * (0.5 * h * w / den);
                if i == GL_X.len() - 1 && sgn > 0.0 {
                    env = magnitude(&phi) / den;
                }
            }
        }
        for (j, (a, &k)) in acc.iter_mut().zip(ks).enumerate() {
            let r = &rot[j * R + wi * 8..j * R + wi * 8 + 8];
            let mut sum = zero;
            for i in 0..8 {
                sum = sum + qp[i] * r[i] + qm[i] * r[i].conj();
            }
            let (sn, cs) = (mid * k).sin_cos();
            *a = *a + sum * Complex64::new(cs, -sn);
        }
        lo += h;
        if lo >= 4.0 && env < 1e-17 {
            break;
        }
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

    /// Log-CF of `ln(F_T/F)` at complex `u`.
    pub fn log_cf(&self, u: Complex64, t: f64) -> Complex64 {
        heston_log_cf(u, t, self.params().map(Complex64::from))
    }

    /// Undiscounted call prices (forward 1, strikes `e^k`) for all `ks` at expiry `t`,
    /// written into `out`; `work` is caller-owned scratch with `work.len() ≥ ks.len()`.
    pub fn call_prices(&self, t: f64, ks: &[f64], out: &mut [f64], work: &mut [Complex64]) {
        let p = self.params().map(Complex64::from);
        lewis_integrals(|u| heston_log_cf(u, t, p), ks, work, |z| z.norm());
        for ((o, a), &k) in out.iter_mut().zip(work.iter()).zip(ks) {
            *o = 1.0 - (0.5 * k).exp() / std::f64::consts::PI * a.re;
        }
    }

    /// Undiscounted call price (forward 1, strike `e^k`) and its gradient over
    /// `[v0, κ, θ, σ, ρ]`.
    pub fn call_price_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        let p: [Dual<Complex64, 5>; 5] =
            std::array::from_fn(|i| Dual::var(Complex64::from(self.params()[i]), i));
        let mut acc = [Dual::constant(Complex64::from(0.0))];
        lewis_integrals(|u| heston_log_cf(u, t, p), &[k], &mut acc, |z| z.v.norm());
        finish_price(k, &acc[0], grad)
    }

    /// Batched prices and gradients for all strikes of one expiry (one characteristic
    /// function per node, shared by the strikes): `out[j]` the call price at `ks[j]`,
    /// `grads[5j..5j+5]` its gradient; `work.len() ≥ ks.len()` (caller-owned).
    pub fn call_prices_grad(
        &self,
        t: f64,
        ks: &[f64],
        out: &mut [f64],
        grads: &mut [f64],
        work: &mut [Dual<Complex64, 5>],
    ) {
        let p: [Dual<Complex64, 5>; 5] =
            std::array::from_fn(|i| Dual::var(Complex64::from(self.params()[i]), i));
        lewis_integrals(|u| heston_log_cf(u, t, p), ks, work, |z| z.v.norm());
        for (j, &k) in ks.iter().enumerate() {
            out[j] = finish_price(k, &work[j], &mut grads[5 * j..5 * j + 5]);
        }
    }

    /// Batched model total variances and their gradients for all strikes of one expiry
    /// (what a surface calibrator needs per expiry): `w[j]` at `ks[j]` (NaN if the price
    /// admits no implied vol), `grads[5j..5j+5] = ∂w_j/∂x`; `work.len() ≥ ks.len()`.
    pub fn total_variance_grad_batch(
        &self,
        t: f64,
        ks: &[f64],
        w: &mut [f64],
        grads: &mut [f64],
        work: &mut [Dual<Complex64, 5>],
    ) {
        self.call_prices_grad(t, ks, w, grads, work);
        for (j, &k) in ks.iter().enumerate() {
            w[j] = total_variance_from_call(k, t, w[j], Some(&mut grads[5 * j..5 * j + 5]));
        }
    }

    /// The smile at expiry `t`.
    pub fn smile(&self, t: f64) -> HestonSmile {
        HestonSmile { model: *self, t }
    }
}

/// Price and gradient from a complex-dual Lewis integral.
pub(crate) fn finish_price<const N: usize>(
    k: f64,
    a: &Dual<Complex64, N>,
    grad: &mut [f64],
) -> f64 {
    let c = (0.5 * k).exp() / std::f64::consts::PI;
    for (g, d) in grad.iter_mut().zip(&a.d) {
        *g = -c * d.re;
    }
    1.0 - c * a.v.re
}

/// Total variance from an undiscounted forward-1 call price, with `∂w/∂x` from the price
/// gradient through Black's vega in `w`. Returns NaN when no implied vol exists.
pub(crate) fn total_variance_from_call(k: f64, t: f64, call: f64, grad: Option<&mut [f64]>) -> f64 {
    let strike = k.exp();
    let (kind, price) =
        if k >= 0.0 { (OptionType::Call, call) } else { (OptionType::Put, call - 1.0 + strike) };
    let Ok(iv) = black::implied_vol(kind, price, 1.0, strike, t) else {
        if let Some(g) = grad {
            g.iter_mut().for_each(|x| *x = f64::NAN);
        }
        return f64::NAN;
    };
    let w = iv * iv * t;
    if let Some(g) = grad {
        // ∂C/∂w = φ(d1)/(2√w) for forward 1.
        let sw = w.sqrt();
        let d1 = -k / sw + 0.5 * sw;
        let vega_w = black::norm_pdf(d1) / (2.0 * sw);
        g.iter_mut().for_each(|x| *x /= vega_w);
    }
    w
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

/// Heston smile at one expiry: `w(k)` is the model implied total variance (NaN if the
/// price admits no implied vol); gradient over `[v0, κ, θ, σ, ρ]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HestonSmile {
    /// Model.
    pub model: Heston,
    /// Expiry (years).
    pub t: f64,
}

impl Smile for HestonSmile {
    fn num_params(&self) -> usize {
        5
    }
    fn total_variance(&self, k: f64) -> f64 {
        let mut out = [0.0];
        let mut work = [Complex64::from(0.0)];
        self.model.call_prices(self.t, &[k], &mut out, &mut work);
        total_variance_from_call(k, self.t, out[0], None)
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        let c = self.model.call_price_grad(k, self.t, &mut grad[..5]);
        total_variance_from_call(k, self.t, c, Some(&mut grad[..5]))
    }
}

impl Surface for Heston {
    type Slice = HestonSmile;
    type Error = HestonError;
    fn num_params(&self) -> usize {
        5
    }
    fn param_names(&self) -> Vec<String> {
        Self::NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn domains(&self, out: &mut [Domain]) {
        out[..5].copy_from_slice(&HESTON_DOMAIN);
    }
    fn to_slice(&self, out: &mut [f64]) {
        Params::to_slice(self, out);
    }
    fn with_slice(&self, x: &[f64]) -> Result<Heston, HestonError> {
        Heston::from_slice(x)
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
    fn slice(&self, t: f64) -> HestonSmile {
        self.smile(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cf_is_martingale() {
        // φ(−i) = E[F_T/F] = 1 (forward is a martingale).
        let h = Heston::new(0.04, 1.5, 0.06, 0.7, -0.6).expect("valid");
        let z = h.log_cf(Complex64::new(0.0, -1.0), 2.0);
        assert!(z.norm() < 1e-14);
    }
}
