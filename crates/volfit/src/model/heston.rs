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
//! integrated by composite 16-point Gauss–Legendre on panels (width ≤ 1 near 0, doubling
//! with the distance from the poles up to a cap set by the widest strike of the batch),
//! truncated when `|φ(u − i/2)|/(u² + ¼) < 1e-17`. The nodes depend on `t` and the batch's
//! widest `|k|` only, so one expiry's strikes share the characteristic function
//! ([`Heston::call_prices`]): each strike costs a rotation and a real dot product per node.
//! Exact gradients by forward-mode dual numbers over complex values — over `(κ, σ, ρ)`
//! only, `v₀` and `θ` entering `ln φ` linearly.
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

/// A complex characteristic-function value (plain or carrying exact derivatives) as the
/// Lewis quadrature sees it: `LEN` complex components (value, then derivatives).
pub(crate) trait LewisValue: ComplexScalar {
    /// Number of complex components.
    const LEN: usize;
    /// Writes component `c` (value, then derivatives) into `re[c][i]`, `im[c][i]`.
    fn scatter(&self, i: usize, re: &mut [[f64; 16]; MAX_LEN], im: &mut [[f64; 16]; MAX_LEN]);
    /// The value whose components are the real numbers `parts` (imaginary parts zero).
    fn from_re(parts: &[f64]) -> Self;
    /// `|value|` (the derivatives are ignored).
    fn magnitude(&self) -> f64;
}

impl LewisValue for Complex64 {
    const LEN: usize = 1;
    #[inline(always)]
    fn scatter(&self, i: usize, re: &mut [[f64; 16]; MAX_LEN], im: &mut [[f64; 16]; MAX_LEN]) {
        re[0][i] = self.re;
        im[0][i] = self.im;
    }
    fn from_re(parts: &[f64]) -> Self {
        Complex64::new(parts[0], 0.0)
    }
    fn magnitude(&self) -> f64 {
        self.norm()
    }
}

impl<const N: usize> LewisValue for Dual<Complex64, N> {
    const LEN: usize = N + 1;
    #[inline(always)]
    fn scatter(&self, i: usize, re: &mut [[f64; 16]; MAX_LEN], im: &mut [[f64; 16]; MAX_LEN]) {
        re[0][i] = self.v.re;
        im[0][i] = self.v.im;
        for (c, d) in self.d.iter().enumerate() {
            re[c + 1][i] = d.re;
            im[c + 1][i] = d.im;
        }
    }
    fn from_re(parts: &[f64]) -> Self {
        Dual {
            v: Complex64::new(parts[0], 0.0),
            d: std::array::from_fn(|i| Complex64::new(parts[i + 1], 0.0)),
        }
    }
    fn magnitude(&self) -> f64 {
        self.v.norm()
    }
}

/// Most components a [`LewisValue`] may have (Bates: value and 8 derivatives).
pub(crate) const MAX_LEN: usize = 9;

/// Number of panel widths of the Lewis quadrature: `h_max/2⁷, …, h_max/2, h_max`.
const N_WIDTHS: usize = 8;

/// Widest panel of the Lewis quadrature (reached only when `max|k| ≤ MAX_PHASE/128`).
const MAX_WIDTH: f64 = 128.0;

/// Largest `h·max|k|` of a panel: 16-point Gauss–Legendre integrates `e^(−iuk)` over a
/// panel of width `h` to ~1e-17 relative while `h·|k| ≤ 14` (the error of an `n`-point
/// rule on `e^(iωx)`, `x ∈ [−1, 1]`, is about `(eω/4n)^(2n)`, here `ω ≤ 7`).
const MAX_PHASE: f64 = 14.0;

/// Integrates Lewis' formula for all strikes `ks` of one expiry. `log_cf(u)` is the log
/// characteristic function at complex `u`; `acc[j]` receives the integral
/// `∫₀^∞ Re[e^(−iuk_j) φ(u − i/2)]/(u² + ¼) du` (with its derivatives when `Z` carries
/// them; imaginary parts zero) for strike `ks[j]` (caller-owned, `acc.len() ≥ ks.len()`).
///
/// Composite 16-point Gauss–Legendre on panels whose widths grow with the distance from
/// the singularities nearest the real axis — the poles of `1/(u² + ¼)` at `±i/2` and those
/// of `φ(u − i/2)`, which lie on the imaginary axis — as `h ≤ max(1, lo)` (panel
/// `[lo, lo + h]`), up to the width the fastest strike oscillation allows,
/// `h_max = min(128, 14/max|k|)`; the widths are `h_max/2^j`. Short expiries, whose characteristic function decays slowly (only
/// linearly in `u` in the exponent once `uσt ≳ 1`), thus cover the tail with few wide
/// panels. Truncated when `|φ(u − i/2)|/(u² + ¼) < 1e-17`. The characteristic function is
/// evaluated once per node for all strikes; each strike then costs one complex rotation
/// and one real dot product per node (the rotations `e^(∓iδk)` of each width's node
/// offsets `δ` and half width are tabulated once per call; the panel centre's
/// `e^(−i·mid·k)` follows by two products per panel).
pub(crate) fn lewis_integrals<Z: LewisValue, F: Fn(Complex64) -> Z>(
    log_cf: F,
    ks: &[f64],
    acc: &mut [Z],
) {
    // Per strike and width: the 8 node offsets' rotations, then the half width's.
    const R: usize = N_WIDTHS * 9;
    let nk = ks.len();
    let len = Z::LEN;
    let mut rot = vec![Complex64::from(0.0); nk * R];
    let mut sums = vec![0.0; nk * len];
    // e^(−i·lo·k) at the current panel's left end, advanced by the half-width rotations.
    let mut left = vec![Complex64::from(1.0); nk];
    let kmax = ks.iter().fold(0.0_f64, |m, k| m.max(k.abs()));
    let h_max = if kmax * MAX_WIDTH > MAX_PHASE { MAX_PHASE / kmax } else { MAX_WIDTH };
    let h_min = h_max / f64::from(1 << (N_WIDTHS - 1));
    for (j, &k) in ks.iter().enumerate() {
        for (i, &x) in GL_X.iter().chain(&[1.0]).enumerate() {
            // Narrowest width: δ = h_min·x/2; each doubling of the width squares the
            // rotation.
            let (sn, cs) = (0.5 * h_min * x * k).sin_cos();
            let mut r = Complex64::new(cs, -sn);
            for wi in 0..N_WIDTHS {
                rot[j * R + wi * 9 + i] = r;
                r = r * r;
            }
        }
    }
    let (mut qre, mut qim) = ([[0.0; 16]; MAX_LEN], [[0.0; 16]; MAX_LEN]);
    let mut lo = 0.0_f64;
    for _ in 0..MAX_PANELS {
        let mut wi = 0;
        let mut h = h_min;
        while wi + 1 < N_WIDTHS && 2.0 * h <= lo.max(1.0) {
            wi += 1;
            h *= 2.0;
        }
        let mid = lo + 0.5 * h;
        // Weighted CF values at mid + δ_i (node i) and mid − δ_i (node 8 + i), split into
        // real and imaginary parts per component.
        let mut env = 0.0_f64;
        for (i, (&x, &w)) in GL_X.iter().zip(&GL_W).enumerate() {
            for (sgn, node) in [(1.0, i), (-1.0, 8 + i)] {
                let u = mid + sgn * 0.5 * h * x;
                let phi = log_cf(Complex64::new(u, -0.5)).exp();
                let den = u * u + 0.25;
                (phi * (0.5 * h * w / den)).scatter(node, &mut qre, &mut qim);
                if node == 7 {
                    env = phi.magnitude() / den;
                }
            }
        }
        for (j, l) in left.iter_mut().enumerate() {
            let r = &rot[j * R + wi * 9..j * R + wi * 9 + 9];
            let centre = *l * r[8];
            *l = centre * r[8];
            // e^(−i(mid ± δ_i)k) = centre · e^(∓iδ_i k), as (cos, −sin) pairs.
            let (mut cre, mut cim) = ([0.0; 16], [0.0; 16]);
            for i in 0..8 {
                let (a, b) = (centre.re * r[i].re, centre.im * r[i].im);
                let (c, d) = (centre.re * r[i].im, centre.im * r[i].re);
                cre[i] = a - b;
                cim[i] = c + d;
                cre[8 + i] = a + b;
                cim[8 + i] = d - c;
            }
            let s = &mut sums[j * len..(j + 1) * len];
            for (c, sc) in s.iter_mut().enumerate() {
                let (qr, qi) = (&qre[c], &qim[c]);
                let mut acc = 0.0;
                for i in 0..16 {
                    acc += cre[i] * qr[i] - cim[i] * qi[i];
                }
                *sc += acc;
            }
        }
        lo += h;
        if lo >= 4.0 && env < 1e-17 {
            break;
        }
    }
    for (a, s) in acc.iter_mut().zip(sums.chunks_exact(len)) {
        *a = Z::from_re(s);
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
        lewis_integrals(|u| heston_log_cf(u, t, p), ks, work);
        for ((o, a), &k) in out.iter_mut().zip(work.iter()).zip(ks) {
            *o = 1.0 - (0.5 * k).exp() / std::f64::consts::PI * a.re;
        }
    }

    /// Undiscounted call price (forward 1, strike `e^k`) and its gradient over
    /// `[v0, κ, θ, σ, ρ]`.
    pub fn call_price_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        let p = self.params();
        let mut acc = [Dual::constant(Complex64::from(0.0))];
        lewis_integrals(|u| heston_log_cf_grad(u, t, p), &[k], &mut acc);
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
        let p = self.params();
        lewis_integrals(|u| heston_log_cf_grad(u, t, p), ks, work);
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
