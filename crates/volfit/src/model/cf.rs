//! Models priced from their characteristic function: see [`CharacteristicFn`].

use super::dual::{ComplexScalar, Dual};
use super::{Domain, Params, Smile, Surface};
use crate::black;
use crate::market::OptionType;
use num_complex::Complex64;

/// Models priced from the characteristic function of `X = ln(F_T/F)` (Heston, Bates):
/// one Lewis pricer, one smile type and one surface implementation for all of them.
///
/// Prices by Lewis' (2001) formula with forward 1 and strike `K = e^k`:
/// ```text
/// C = 1 − √K/π ∫₀^∞ Re[e^(−iuk) φ(u − i/2)] / (u² + ¼) du
/// ```
/// integrated by composite 16-point Gauss–Legendre on panels (width ≤ 1 near 0, doubling
/// with the distance from the poles up to a cap set by the widest strike of the batch),
/// truncated when `|φ(u − i/2)|/(u² + ¼) < 1e-17`.
/// Far-OTM strikes, whose price that difference cannot carry, are
/// repriced on a contour of their own wing (`otm_prices_with`): OTM calls and puts stay
/// positive, with finite implied vols, far out. The nodes depend on `t` and the batch's
/// widest `|k|` only, so one expiry's strikes share the characteristic function
/// ([`CharacteristicFn::call_prices`]): each strike costs a rotation and a real dot product
/// per node. Exact gradients come from the model's log-CF on complex dual numbers
/// ([`CharacteristicFn::log_cf_grad`]).
///
/// A model implements [`Params`] and [`CharacteristicFn`] (its log-CF, plain and with its
/// gradient); it is then a [`Surface`] whose slices are [`CfSmile`]s.
///
/// A model given by the log characteristic function of `ln(F_T/F)` at expiry `t`.
///
/// The provided methods price calls by the Lewis quadrature and turn prices into total
/// variances; the implementor writes only the log-CF. Prices are undiscounted, forward 1,
/// strike `e^k`.
pub trait CharacteristicFn: Params + Copy {
    /// The log-CF value with its exact gradient over the flat parameter vector
    /// (`Dual<Complex64, N>` with `N = NAMES.len()`).
    type Grad: LewisValue;
    /// Log-CF of `ln(F_T/F)` at complex `u`.
    fn log_cf(&self, u: Complex64, t: f64) -> Complex64;
    /// Log-CF at complex `u` and its gradient over the flat parameter vector.
    fn log_cf_grad(&self, u: Complex64, t: f64) -> Self::Grad;

    /// Undiscounted out-of-the-money prices (forward 1, strikes `e^k`: calls for `k ≥ 0`,
    /// puts for `k < 0`) for all `ks` at expiry `t`, written into `out`, each wing priced
    /// from its own side (see `otm_prices_with`); `work` is caller-owned scratch with
    /// `work.len() ≥ ks.len()`.
    fn otm_prices(&self, t: f64, ks: &[f64], out: &mut [f64], work: &mut [Complex64]) {
        otm_prices_with(&|u| self.log_cf(u, t), ks, out, &mut [], work);
    }

    /// Undiscounted call prices (forward 1, strikes `e^k`) for all `ks` at expiry `t`,
    /// written into `out` (from [`otm_prices`](Self::otm_prices) by put–call parity);
    /// `work` is caller-owned scratch with `work.len() ≥ ks.len()`.
    fn call_prices(&self, t: f64, ks: &[f64], out: &mut [f64], work: &mut [Complex64]) {
        self.otm_prices(t, ks, out, work);
        to_calls(ks, out);
    }

    /// Undiscounted call price (forward 1, strike `e^k`) and its gradient over the flat
    /// parameter vector.
    fn call_price_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        let n = Self::NAMES.len();
        let mut acc = [Self::Grad::zero()];
        let mut out = [0.0];
        otm_prices_with(&|u| self.log_cf_grad(u, t), &[k], &mut out, &mut grad[..n], &mut acc);
        to_calls(&[k], &mut out);
        out[0]
    }

    /// Batched prices and gradients for all strikes of one expiry (one characteristic
    /// function per node, shared by the strikes): `out[j]` the call price at `ks[j]`,
    /// `grads[nj..nj+n]` its gradient over the `n` parameters; `work.len() ≥ ks.len()`
    /// (caller-owned).
    fn call_prices_grad(
        &self,
        t: f64,
        ks: &[f64],
        out: &mut [f64],
        grads: &mut [f64],
        work: &mut [Self::Grad],
    ) {
        otm_prices_with(&|u| self.log_cf_grad(u, t), ks, out, grads, work);
        to_calls(ks, out);
    }

    /// Batched model total variances and their gradients for all strikes of one expiry
    /// (what a surface calibrator needs per expiry): `w[j]` at `ks[j]` (NaN if the price
    /// admits no implied vol), `grads[nj..nj+n] = ∂w_j/∂x`; `work.len() ≥ ks.len()`.
    fn total_variance_grad_batch(
        &self,
        t: f64,
        ks: &[f64],
        w: &mut [f64],
        grads: &mut [f64],
        work: &mut [Self::Grad],
    ) {
        let n = Self::NAMES.len();
        otm_prices_with(&|u| self.log_cf_grad(u, t), ks, w, grads, work);
        for (j, &k) in ks.iter().enumerate() {
            w[j] = total_variance_from_otm(k, t, w[j], Some(&mut grads[n * j..n * j + n]));
        }
    }

    /// The smile at expiry `t`.
    fn smile(&self, t: f64) -> CfSmile<Self> {
        CfSmile { model: *self, t }
    }
}

/// 16-point Gauss–Legendre nodes and weights on [−1, 1] (positive half).
pub(super) const GL_X: [f64; 8] = [
    0.095_012_509_837_637_44,
    0.281_603_550_779_258_9,
    0.458_016_777_657_227_4,
    0.617_876_244_402_643_8,
    0.755_404_408_355_003,
    0.865_631_202_387_831_7,
    0.944_575_023_073_232_6,
    0.989_400_934_991_649_9,
];
pub(super) const GL_W: [f64; 8] = [
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

/// A complex characteristic-function value (plain or carrying exact derivatives) as the
/// Lewis quadrature sees it: `LEN` complex components (value, then derivatives).
pub trait LewisValue: ComplexScalar {
    /// Number of complex components.
    const LEN: usize;
    /// Writes component `c` (value, then derivatives) into `re[c][i]`, `im[c][i]`.
    fn scatter(&self, i: usize, re: &mut [[f64; 16]; MAX_LEN], im: &mut [[f64; 16]; MAX_LEN]);
    /// The value whose components are the real numbers `parts` (imaginary parts zero).
    fn from_re(parts: &[f64]) -> Self;
    /// `|value|` (the derivatives are ignored).
    fn magnitude(&self) -> f64;
    /// Zero (value and derivatives).
    fn zero() -> Self;
    /// Real part of component `c` (value, then derivatives).
    fn re(&self, c: usize) -> f64;
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
    fn zero() -> Self {
        Complex64::from(0.0)
    }
    fn re(&self, _c: usize) -> f64 {
        self.re
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
    fn zero() -> Self {
        Dual::constant(Complex64::from(0.0))
    }
    fn re(&self, c: usize) -> f64 {
        if c == 0 {
            self.v.re
        } else {
            self.d[c - 1].re
        }
    }
}

/// Most components a [`LewisValue`] may have (Bates: value and 8 derivatives).
pub const MAX_LEN: usize = 9;

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
fn lewis_integrals<Z: LewisValue, F: Fn(Complex64) -> Z>(
    log_cf: F,
    ks: &[f64],
    acc: &mut [Z],
    beta: f64,
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
                let phi = log_cf(Complex64::new(u, -beta)).exp();
                let den = Complex64::new(beta - 1.0, u) * Complex64::new(beta, u);
                (phi * (0.5 * h * w / den)).scatter(node, &mut qre, &mut qim);
                if node == 7 {
                    env = phi.magnitude() / den.norm();
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

/// The contour of the Lewis formula that every strike is priced on first (`V = C − 1`).
const BETA_MID: f64 = 0.5;

/// OTM prices below this on the [`BETA_MID`] contour are repriced on their own wing's
/// contour: there `1 − √K/π·I` (or `K − √K/π·I`) has cancelled all but a few digits.
const WING_PRICE: f64 = 1e-6;

/// Contours of the far-OTM calls (`V = C`, needs `E[(F_T/F)^β] < ∞`).
const BETA_CALLS: [f64; 4] = [1.5, 2.0, 3.0, 4.0];

/// Contours of the far-OTM puts (`V = P`, needs `E[(F_T/F)^β] < ∞`).
const BETA_PUTS: [f64; 4] = [-0.5, -1.0, -2.0, -3.0];

/// The OTM price (call for `k ≥ 0`, put for `k < 0`) and its gradient from a Lewis integral
/// `a` on the contour `β`: `V = e^((1−β)k)/π · a`, which is `C − 1` for `0 < β < 1`, `C` for
/// `β > 1` and `P` for `β < 0` (Lee 2004, residues at the poles `z = 0, i` of the payoff
/// transform); `grad` receives the first `Z::LEN − 1` derivatives.
fn otm_from<Z: LewisValue>(k: f64, beta: f64, a: &Z, grad: &mut [f64]) -> f64 {
    let c = ((1.0 - beta) * k).exp() / std::f64::consts::PI;
    for (i, g) in grad.iter_mut().take(Z::LEN - 1).enumerate() {
        *g = c * a.re(i + 1);
    }
    let v = c * a.re(0);
    if beta > 0.0 && beta < 1.0 {
        v + if k >= 0.0 { 1.0 } else { k.exp() }
    } else {
        v
    }
}

/// OTM prices `out[j]` at `ks[j]` (and, when `Z` carries them, their gradients
/// `grads[nj..nj+n]`, `n = Z::LEN − 1`) from the log-CF `log_cf`, each wing from its own side.
///
/// Every strike is first priced on the contour `β = ½` (Lewis 2001), shared by the batch.
/// A strike whose OTM price comes out below 10⁻⁶ (or not positive) has lost its digits to
/// the cancellation in `1 − √K/π·I`; it is repriced on a contour of its own wing — `β > 1`
/// for calls, `β < 0` for puts, where the integral is the OTM price itself (Lee 2004,
/// Lord–Kahl 2007) — chosen among a few by the smallest bound `e^((1−β)k)·E[e^(βX)]/|β(β−1)|`
/// of the integrand's scale (the absolute rounding error), over those whose moment
/// `E[e^(βX)]` is finite. A repriced value is kept only when finite and positive.
fn otm_prices_with<Z: LewisValue, F: Fn(Complex64) -> Z>(
    log_cf: &F,
    ks: &[f64],
    out: &mut [f64],
    grads: &mut [f64],
    work: &mut [Z],
) {
    let n = Z::LEN - 1;
    lewis_integrals(log_cf, ks, work, BETA_MID);
    for (j, &k) in ks.iter().enumerate() {
        out[j] =
            otm_from(k, BETA_MID, &work[j], grads.get_mut(n * j..n * j + n).unwrap_or(&mut []));
    }
    for betas in [BETA_CALLS, BETA_PUTS] {
        let calls = betas[0] > 1.0;
        let moments = betas.map(|b| log_cf(Complex64::new(0.0, -b)).exp().re(0));
        let scale = |k: f64, i: usize| {
            let b = betas[i];
            let m = moments[i];
            let s = ((1.0 - b) * k).exp() * m / (b * (b - 1.0)).abs();
            if m.is_finite() && m > 0.0 && s.is_finite() {
                s
            } else {
                f64::INFINITY
            }
        };
        let best = |k: f64| (0..betas.len()).min_by(|&i, &l| scale(k, i).total_cmp(&scale(k, l)));
        for (i, &beta) in betas.iter().enumerate() {
            let far: Vec<usize> = (0..ks.len())
                .filter(|&j| (ks[j] >= 0.0) == calls && !(out[j] >= WING_PRICE))
                .filter(|&j| best(ks[j]) == Some(i) && scale(ks[j], i).is_finite())
                .collect();
            if far.is_empty() {
                continue;
            }
            let fks: Vec<f64> = far.iter().map(|&j| ks[j]).collect();
            let mut acc = vec![Z::zero(); far.len()];
            lewis_integrals(log_cf, &fks, &mut acc, beta);
            let mut g = [0.0; MAX_LEN];
            for (a, (&j, &k)) in acc.iter().zip(far.iter().zip(&fks)) {
                let v = otm_from(k, beta, a, &mut g[..n]);
                if v.is_finite() && v > 0.0 && g[..n].iter().all(|x| x.is_finite()) {
                    out[j] = v;
                    if let Some(dst) = grads.get_mut(n * j..n * j + n) {
                        dst.copy_from_slice(&g[..n]);
                    }
                }
            }
        }
    }
}

/// OTM prices (calls for `k ≥ 0`, puts for `k < 0`) turned into call prices in place, by
/// put–call parity `C = P + 1 − K` (gradients unchanged).
fn to_calls(ks: &[f64], out: &mut [f64]) {
    for (o, &k) in out.iter_mut().zip(ks) {
        if k < 0.0 {
            *o += 1.0 - k.exp();
        }
    }
}

/// Total variance from an undiscounted forward-1 call price (see
/// [`total_variance_from_otm`]); for `k < 0` the put `C − 1 + K` is inverted, which loses
/// the digits of a far-OTM put: prefer [`total_variance_from_otm`].
pub(crate) fn total_variance_from_call(k: f64, t: f64, call: f64, grad: Option<&mut [f64]>) -> f64 {
    let otm = if k >= 0.0 { call } else { call - 1.0 + k.exp() };
    total_variance_from_otm(k, t, otm, grad)
}

/// Total variance from an undiscounted forward-1 OTM price (call for `k ≥ 0`, put for
/// `k < 0`), with `∂w/∂x` from the price gradient through Black's vega in `w`. Returns NaN
/// when no implied vol exists.
pub(crate) fn total_variance_from_otm(k: f64, t: f64, price: f64, grad: Option<&mut [f64]>) -> f64 {
    let strike = k.exp();
    let kind = if k >= 0.0 { OptionType::Call } else { OptionType::Put };
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

/// The smile of a [`CharacteristicFn`] model at one expiry: `w(k)` is the model implied
/// total variance (NaN if the price admits no implied vol); gradient over the model's flat
/// parameter vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CfSmile<M> {
    /// Model.
    pub model: M,
    /// Expiry (years).
    pub t: f64,
}

/// Characteristic-function smiles are not raw SVIs: their checks run on a grid.
impl<M> super::svi::AsRawSvi for CfSmile<M> {
    fn as_raw_svi(&self) -> Option<super::svi::Svi> {
        None
    }
}

impl<M: CharacteristicFn> Smile for CfSmile<M> {
    fn num_params(&self) -> usize {
        M::NAMES.len()
    }
    fn total_variance(&self, k: f64) -> f64 {
        let mut out = [0.0];
        let mut work = [Complex64::from(0.0)];
        self.model.otm_prices(self.t, &[k], &mut out, &mut work);
        total_variance_from_otm(k, self.t, out[0], None)
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        let n = M::NAMES.len();
        let mut w = [0.0];
        let mut work = [M::Grad::zero()];
        self.model.total_variance_grad_batch(self.t, &[k], &mut w, &mut grad[..n], &mut work);
        w[0]
    }
}

impl<M: CharacteristicFn> Surface for M {
    type Slice = CfSmile<M>;
    type Error = M::Error;
    fn num_params(&self) -> usize {
        M::NAMES.len()
    }
    fn param_names(&self) -> Vec<String> {
        M::NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn domains(&self, out: &mut [Domain]) {
        out[..M::NAMES.len()].copy_from_slice(M::domain());
    }
    fn to_slice(&self, out: &mut [f64]) {
        Params::to_slice(self, out);
    }
    fn with_slice(&self, x: &[f64]) -> Result<M, M::Error> {
        M::from_slice(x)
    }
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        self.smile(t).total_variance(k)
    }
    fn total_variance_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        self.smile(t).total_variance_grad(k, grad)
    }
    fn total_variances(&self, t: f64, ks: &[f64], out: &mut [f64]) {
        let mut work = vec![Complex64::from(0.0); ks.len()];
        self.otm_prices(t, ks, out, &mut work);
        for (w, &k) in out.iter_mut().zip(ks) {
            *w = total_variance_from_otm(k, t, *w, None);
        }
    }
    fn slice(&self, t: f64) -> CfSmile<M> {
        self.smile(t)
    }
}
