//! The normalised Black function and its inversion at "Let's Be Rational" grade
//! (P. Jäckel, "Let's be rational", Wilmott, January 2015, pp. 40–53).
//!
//! # Normalisation
//! With `x = ln(F/K)` and total vol `s = σ√T`, the undiscounted Black call price divided by
//! `√(F·K)` is `b(x, s) = e^{x/2}·Φ(x/s + s/2) − e^{−x/2}·Φ(x/s − s/2)`. Every call or put
//! reduces to the out-of-the-money call `x ≤ 0` by put–call parity (subtract the intrinsic
//! value, then `b_put(x, s) = b_call(−x, s)`), where `0 < b < b_max = e^{x/2}`.
//!
//! # Evaluation (all relative errors a few ulp unless stated)
//! Writing `h = x/s ≤ 0`, `t = s/2`, `E = exp(−(h² + t²)/2)` and `Y = erfcx`,
//! `b = ½·E·[Y(a) − Y(c)]` with `a = −(h + t)/√2`, `c = (t − h)/√2` (because `x/2 = h·t`).
//! Four regions:
//! - **asymptotic** (`h + t < −10`, so `a > 7.07`): the asymptotic series
//!   `Y(z) ~ (1/(z√π))·Σ (−1)ⁿ (2n−1)!!/(2z²)ⁿ` is differenced term by term,
//!   `a^{−m} − c^{−m} = a^{−m}(1 − q^m)`, `q = a/c`, with `1 − q^m` built by a recurrence that
//!   only adds positive quantities — no cancellation however small `t/|h|` is;
//! - **small t** (`t < 0.21`): `b/b_s = −2·√(π/2)·Σ_{j odd} Y⁽ʲ⁾(m)·δʲ/j!` (Taylor in
//!   `δ = t/√2` about `m = −h/√2`), with `Y' = 2mY − 2/√π` and
//!   `Y⁽ⁿ⁺¹⁾ = 2m·Y⁽ⁿ⁾ + 2n·Y⁽ⁿ⁻¹⁾`; this is Jäckel's small-t expansion in numerical form;
//! - **central** (`a ≥ 0`): the erfcx difference above;
//! - **large** (`a < 0`): `b = e^{x/2} − ½·E·[Y(−a) + Y(c)]`, whose second term is also the
//!   accurate complement `b_max − b` used by the upper objective.
//!
//! `b` is returned as `factor·exp(exponent)` so the lower objective can use `ln b` where `b`
//! itself would underflow. Vega `∂b/∂s = E/√(2π)`, and
//! `b''/b' = (h² − t²)/s`, `b'''/b' = (b''/b')² − 3h²/s² − 1/4`.
//!
//! # Inversion
//! Jäckel's four-branch initial guess: the inflexion point `s_c = √(2|x|)`, tangents give
//! `s_l < s_c < s_u`; between `b_l` and `b_u` a rational cubic for `s(b)` (zero curvature
//! at `b_c`), above `b_u` a rational cubic in the upper map `f_u(s) = Φ(−s/2)`; rational
//! cubics are Delbourgo & Gregory's (1985) with the control parameter fitted to the second
//! derivative and clamped to preserve shape. Below `b_l` the lower map
//! `f_l(s) = (2π|x|/√27)·Φ(−|x|/(√3·s))³` is read at `f = β·ρ`, with `ln ρ` a quartic in
//! `v = −1/ln β` (see `lower_guess`: 1e-5 typical, ≤ 2e-3 on the benchmark's inputs, where
//! Jäckel's rational cubic in `β` is off by up to 1e-1), and inverted with Wichura's
//! AS 241. Then Householder(3) steps on `1/ln b − 1/ln β` (lower), `b − β` (middle) or
//! `ln((b_max − β)/(b_max − b))` (upper), Householder(4) on the middle one (whose guess is
//! the least accurate): one step if it moved `s` by ≤ 5e-4 (lower), 2e-3 (middle) or 3e-4
//! (upper) relative (order-four/five convergence leaves ~1e-14), else two; more only for
//! extreme inputs (`|x| ≫ 6`) where the second step still moved more than 1e-6.
//!
//! The iteration evaluates `b` with the cheaper `black_ht` (no double-double exponent,
//! series only where the erfcx difference would cost the vol more than ~100ε), see
//! `black_scaled`'s docs for the error analysis; prices use the few-ulp `black_scaled`.

use super::special::{
    erfcx, erfcx_diff, erfcx_sum, two_prod, two_square, upper_tail_point, upper_tail_point_frac,
    FRAC_1_SQRT_2PI,
};
use std::f64::consts::{FRAC_1_SQRT_2, SQRT_2};

const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
const SQRT_2PI: f64 = 2.506_628_274_631_000_7;
/// 2π/√27, the lower map's constant.
const LOWER_MAP_C: f64 = 1.209_199_576_156_145_2;
const SQRT_3: f64 = 1.732_050_807_568_877_2;
/// Below this `h + t`, the asymptotic region.
const ASYMPTOTIC_H_PLUS_T: f64 = -10.0;
/// Largest `|x|` for [`lower_guess`].
const LOWER_GUESS_MAX_ABS_X: f64 = 12.0;
/// Below this `t = s/2`, the small-t region.
const SMALL_T: f64 = 0.21;

/// `b(x, s)` for `x ≤ 0`, `s > 0`, as `(exponent, factor)` with `b = factor·exp(exponent)`,
/// a few ulp everywhere: `h = x/s` and the exponent are carried to twice the precision
/// (the exponent reaches ~700) and the series are used wherever the erfcx difference
/// cancels.
///
/// The inversion uses the cheaper [`black_ht`]: an exponent error `δ` moves the implied `s`
/// by `δ/(s·∂ln b/∂s) ≈ δ/h²` (at most ε/2 relative), and a relative error
/// ε·Y(a)/(Y(a) − Y(c)) ≈ ε/(2t·max(|h|, 1)) in `b` moves it by `κ_b = b/(s·b') ≈
/// 1/max(h², 1)` times that, so the series are needed there only when
/// `t·max(|h|, 1) < 0.02` (then ≈ 25 erfcx ulps, measured ≤ 100ε in the implied vol).
#[inline]
pub(crate) fn black_scaled(x: f64, s: f64) -> (f64, f64) {
    let h = x / s;
    let t = 0.5 * s;
    let (e, e_lo) = half_sq_sum(x, s, h, t);
    let corr = 1.0 + e_lo;
    if h + t < ASYMPTOTIC_H_PLUS_T {
        return (e, asymptotic_factor(h, t) * corr);
    }
    if t < SMALL_T {
        return (e, small_t_factor(h, t) * corr);
    }
    let a = -(h + t) * FRAC_1_SQRT_2;
    let c = (t - h) * FRAC_1_SQRT_2;
    if a >= 0.0 {
        (e, 0.5 * (erfcx(a) - erfcx(c)) * corr)
    } else {
        (0.0, (0.5 * x).exp() - 0.5 * e.exp() * (erfcx(-a) + erfcx(c)))
    }
}

/// `b` for the inversion, from `h = x/s` and `t = s/2`, as `(exponent, factor)`: the
/// series only where the erfcx difference would cancel enough for the implied vol to
/// feel it (see [`black_scaled`]).
#[inline]
fn black_ht(x: f64, h: f64, t: f64) -> (f64, f64) {
    let e = -0.5 * (h * h + t * t);
    if t * h.abs().max(1.0) < 0.02 {
        if h + t < ASYMPTOTIC_H_PLUS_T {
            return (e, asymptotic_factor(h, t));
        }
        if t < SMALL_T {
            return (e, small_t_factor(h, t));
        }
    }
    let a = -(h + t) * FRAC_1_SQRT_2;
    let c = (t - h) * FRAC_1_SQRT_2;
    if a >= 0.0 {
        (e, 0.5 * erfcx_diff(a, c))
    } else {
        (0.0, (0.5 * x).exp() - 0.5 * e.exp() * erfcx_sum(-a, c))
    }
}

/// `−(h² + t²)/2` as a double-double `(hi, lo)` with `h = x/s` carried to twice the
/// precision: the exponent reaches ~700 where plain rounding would cost ~1e-13 in `b`.
#[inline]
fn half_sq_sum(x: f64, s: f64, h: f64, t: f64) -> (f64, f64) {
    let (hs, hs_lo) = two_prod(h, s);
    let h_lo = ((x - hs) - hs_lo) / s;
    let (hh, hh_err) = two_square(h);
    let hh_lo = hh_err + 2.0 * h * h_lo;
    let (tt, tt_lo) = two_square(t);
    let sum = hh + tt;
    let bb = sum - hh;
    let err = (hh - (sum - bb)) + (tt - bb);
    (-0.5 * sum, -0.5 * (err + hh_lo + tt_lo))
}

/// `½·(Y(a) − Y(c))` from the differenced asymptotic series (`a > 7`).
#[inline]
fn asymptotic_factor(h: f64, t: f64) -> f64 {
    let a = -(h + t) * FRAC_1_SQRT_2;
    let c = (t - h) * FRAC_1_SQRT_2;
    let d = SQRT_2 * t; // c − a, exactly representable relation kept without subtraction
    let one_minus_q2 = d * (c + a) / (c * c);
    let inv_a = 1.0 / a;
    let g = 0.5 * inv_a * inv_a;
    // u_m = 1 − q^m, m = 2n + 1; u_1 = (c − a)/c; u_{m+2} = u_m + (1 − u_m)(1 − q²).
    let mut u = d / c;
    let mut coef = 1.0;
    let mut sum = u;
    let mut n = 1.0;
    while n < 60.0 {
        u += (1.0 - u) * one_minus_q2;
        coef *= -(2.0 * n - 1.0) * g;
        let term = coef * u;
        sum += term;
        if term.abs() <= 1e-17 * sum {
            break;
        }
        n += 1.0;
    }
    0.5 * sum * inv_a * FRAC_1_SQRT_PI
}

/// `1/((j + 1)(j + 2))` for odd `j = 1, 3, …, 41`, indexed by `j/2`.
const INV_PAIR: [f64; 21] = {
    let mut a = [0.0; 21];
    let mut i = 0;
    while i < 21 {
        let j = (2 * i + 1) as f64;
        a[i] = 1.0 / ((j + 1.0) * (j + 2.0));
        i += 1;
    }
    a
};

/// `b/E` from the Taylor series in `t` (`t < 0.21`).
#[inline]
fn small_t_factor(h: f64, t: f64) -> f64 {
    let m = -h * FRAC_1_SQRT_2;
    let d = t * FRAC_1_SQRT_2;
    let d2 = d * d;
    let y0 = erfcx(m);
    let mut ym1 = y0;
    let mut y = 2.0 * m * y0 - 2.0 * FRAC_1_SQRT_PI;
    let mut pw = d;
    let mut sum = y * pw;
    let mut j = 1.0;
    while j < 41.0 {
        let y1 = 2.0 * m * y + 2.0 * j * ym1;
        let y2 = 2.0 * m * y1 + 2.0 * (j + 1.0) * y;
        ym1 = y1;
        y = y2;
        pw *= d2 * INV_PAIR[(j as usize) / 2];
        j += 2.0;
        let term = y * pw;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    // b = b_s·√(π/2)·(−2·sum) and b_s = E/√(2π): the constants cancel to −sum.
    -sum
}

/// `b(x, s)` for `x ≤ 0` (0 for `s ≤ 0`).
#[inline]
pub(crate) fn black(x: f64, s: f64) -> f64 {
    if s <= 0.0 {
        return 0.0;
    }
    let (e, f) = black_scaled(x, s);
    f * e.exp()
}

/// `(b, ∂b/∂s)` at `(x, s)` for `x ≤ 0`, `s > 0`, sharing one exponential.
#[inline]
fn black_and_vega(x: f64, s: f64) -> (f64, f64) {
    let (e, fac) = black_ht(x, x / s, 0.5 * s);
    if e == 0.0 {
        // Large region: `fac` is `b` itself.
        (fac, vega(x, s))
    } else {
        let ee = e.exp();
        (fac * ee, FRAC_1_SQRT_2PI * ee)
    }
}

/// `(b_max − b(x, s), ∂b/∂s)` for `x ≤ 0`, the first accurate when `b` is close to
/// `b_max = e^{x/2}`.
#[inline]
fn black_complement_and_vega(x: f64, s: f64) -> (f64, f64) {
    let h = x / s;
    let t = 0.5 * s;
    let a = -(h + t) * FRAC_1_SQRT_2;
    if a < 0.0 {
        let c = (t - h) * FRAC_1_SQRT_2;
        let ee = (-0.5 * (h * h + t * t)).exp();
        (0.5 * ee * erfcx_sum(-a, c), FRAC_1_SQRT_2PI * ee)
    } else {
        let (b, v) = black_and_vega(x, s);
        ((0.5 * x).exp() - b, v)
    }
}

/// Normalised vega `∂b/∂s = exp(−(h² + t²)/2)/√(2π)`.
#[inline]
pub(crate) fn vega(x: f64, s: f64) -> f64 {
    if s <= 0.0 {
        return if x == 0.0 { FRAC_1_SQRT_2PI } else { 0.0 };
    }
    let h = x / s;
    let t = 0.5 * s;
    FRAC_1_SQRT_2PI * (-0.5 * (h * h + t * t)).exp()
}

/// Delbourgo–Gregory rational cubic through `(xl, yl)`, `(xr, yr)` with end slopes `dl`,
/// `dr` and control parameter `r` (`r = 3`: cubic Hermite; `r → ∞`: linear).
#[inline]
#[allow(clippy::too_many_arguments)]
fn rational_cubic(x: f64, xl: f64, xr: f64, yl: f64, yr: f64, dl: f64, dr: f64, r: f64) -> f64 {
    let h = xr - xl;
    if h.abs() <= 0.0 {
        return 0.5 * (yl + yr);
    }
    let s = (x - xl) / h;
    let o = 1.0 - s;
    if r >= 1e15 {
        return yr * s + yl * o;
    }
    (yr * s * s * s
        + (r * yr - h * dr) * s * s * o
        + (r * yl + h * dl) * s * o * o
        + yl * o * o * o)
        / (1.0 + (r - 3.0) * s * o)
}

/// Smallest control parameter keeping the interpolant monotone and convex/concave when the
/// data are (Delbourgo & Gregory 1985; from the end second derivatives
/// `f''_l = 2[r(Δ − d_l) − (d_r − d_l)]/h`, `f''_r = 2[r(d_r − Δ) − (d_r − d_l)]/h`).
#[inline]
fn shape_preserving(r: f64, dl: f64, dr: f64, delta: f64) -> f64 {
    // The bounds are only evaluated when r might violate them (r ≥ bound is checked
    // multiplicatively where the divisor's sign is known).
    let mut r_min: f64 = -1.0 + 1e-15;
    if delta != 0.0
        && dl * delta >= 0.0
        && dr * delta >= 0.0
        && (r.is_nan() || r * delta.abs() < (dl + dr).abs())
    {
        r_min = r_min.max((dl + dr) / delta);
    }
    let convex = dl <= delta && delta <= dr;
    let concave = dl >= delta && delta >= dr;
    // r ≥ (d_r − d_l)/(d_r − Δ) and r ≥ (d_r − d_l)/(Δ − d_l): the divisors share the
    // sign of d_r − d_l, so test multiplicatively and divide only when violated.
    let ok = |den: f64| {
        let num = dr - dl;
        if num >= 0.0 {
            r * den >= num
        } else {
            r * den <= num
        }
    };
    if (convex || concave) && dl != dr && !(ok(dr - delta) && ok(delta - dl)) {
        let q1 = (dr - dl) / (dr - delta);
        let q2 = (dr - dl) / (delta - dl);
        if q1.is_finite() {
            r_min = r_min.max(q1);
        }
        if q2.is_finite() {
            r_min = r_min.max(q2);
        }
    }
    let r = if r.is_nan() { r_min.max(3.0) } else { r.max(r_min) };
    r.min(1e15)
}

/// Control parameter matching the second derivative `d2` at the left end.
#[inline]
#[allow(clippy::too_many_arguments)]
fn control_left(xl: f64, xr: f64, yl: f64, yr: f64, dl: f64, dr: f64, d2: f64) -> f64 {
    let h = xr - xl;
    let delta = (yr - yl) / h;
    let r = (0.5 * h * d2 + (dr - dl)) / (delta - dl);
    shape_preserving(r, dl, dr, delta)
}

/// Control parameter matching the second derivative `d2` at the right end.
#[inline]
#[allow(clippy::too_many_arguments)]
fn control_right(xl: f64, xr: f64, yl: f64, yr: f64, dl: f64, dr: f64, d2: f64) -> f64 {
    let h = xr - xl;
    let delta = (yr - yl) / h;
    let r = (0.5 * h * d2 + (dr - dl)) / (dr - delta);
    shape_preserving(r, dl, dr, delta)
}

/// Which objective the Householder steps use.
#[derive(Clone, Copy)]
enum Objective {
    Lower,
    Middle,
    Upper,
}

/// `b''/b'` and `b'''/b'` at `(x, s)`.
#[inline]
fn curvature(x: f64, s: f64) -> (f64, f64) {
    let h = x / s;
    let t = 0.5 * s;
    let b2 = (h * h - t * t) / s;
    let b3 = b2 * b2 - 3.0 * (h / s) * (h / s) - 0.25;
    (b2, b3)
}

/// Lower map `f_l(s)` with `df/db` and `d²f/db²` along the Black curve.
#[inline]
fn lower_map(x: f64, s: f64, v: f64) -> (f64, f64, f64) {
    let ax = -x;
    let inv_s = 1.0 / s;
    let z = ax * inv_s * (1.0 / SQRT_3);
    let y = erfcx(z * FRAC_1_SQRT_2);
    let ez = (-0.5 * z * z).exp();
    let dens = FRAC_1_SQRT_2PI * ez;
    // Φ(−z) = ½·e^{−z²/2}·erfcx(z/√2), z > 0, so φ(z)/Φ(−z) = 2/(√(2π)·erfcx(z/√2)).
    let phi_cdf = 0.5 * ez * y;
    let f = LOWER_MAP_C * ax * phi_cdf * phi_cdf * phi_cdf;
    let fs = 3.0 * LOWER_MAP_C * ax * phi_cdf * phi_cdf * dens * z * inv_s;
    let mills = 2.0 * FRAC_1_SQRT_2PI / y;
    let fss = fs * inv_s * (2.0 * mills * z + z * z - 2.0);
    let h = x * inv_s;
    let t = 0.5 * s;
    let b2 = (h - t) * (h + t) * inv_s;
    let inv_v = 1.0 / v;
    let fp = fs * inv_v;
    let fpp = (fss * inv_v - fp * b2) * inv_v;
    (f, fp, fpp)
}

/// Inverse of the lower map: `s = |x|/(√3·z)`, `z = −Φ⁻¹((f/(c|x|))^{1/3})`, the cube
/// root taken in logarithms.
#[inline]
fn inverse_lower_map(x: f64, f: f64) -> f64 {
    let ax = -x;
    let q = f / (LOWER_MAP_C * ax);
    // Subnormal prices: take the logarithm before dividing so the quotient cannot underflow.
    let ln_q = if q >= f64::MIN_POSITIVE { q.ln() } else { f.ln() - (LOWER_MAP_C * ax).ln() };
    let ln_p = ln_q * (1.0 / 3.0);
    let z = upper_tail_point(ln_p);
    ax / (SQRT_3 * z)
}

/// [`inverse_lower_map`] from `ln f` (for prices whose normalised value is not a normal
/// double).
#[inline]
fn inverse_lower_map_ln(x: f64, ln_f: f64) -> f64 {
    let ax = -x;
    let z = upper_tail_point((ln_f - (LOWER_MAP_C * ax).ln()) * (1.0 / 3.0));
    ax / (SQRT_3 * z)
}

/// Upper map `f_u(s) = Φ(−s/2)` with `df/db` and `d²f/db²` along the Black curve.
#[inline]
fn upper_map(x: f64, s: f64, v: f64) -> (f64, f64, f64) {
    let es = (-0.125 * s * s).exp();
    let f = 0.5 * es * erfcx(0.5 * s * FRAC_1_SQRT_2);
    let dens = FRAC_1_SQRT_2PI * es;
    let fs = -0.5 * dens;
    let fss = 0.125 * s * dens;
    let (b2, _) = curvature(x, s);
    let fp = fs / v;
    let fpp = (fss / v - fp * b2) / v;
    (f, fp, fpp)
}

/// Lower-branch guess (`β < b_l`): the lower map `f_l` read at `f = β·ρ`, where the
/// ratio `ρ = f_l(s(β))/β` is interpolated in logarithms as a function of `v = −1/ln β`.
///
/// Why: `f_l` matches `b` as `s → 0`, with `ln ρ = (x²/8 − 6)/h² + O(h⁻⁴)` (from the
/// asymptotic series of Φ and erfcx) and `ln β ≈ −h²/2`, so `q(v) = ln ρ` is smooth in `v`
/// with `q(0) = 0`, `q'(0) ≈ x²/16 − 3`. The quartic `q = A·v + C₂ρ² + C₃ρ³ + C₄ρ⁴`
/// (`ρ = v/v_l`) matches that slope and `q, q', q''` at `b_l` (from `f_l`'s derivatives):
/// guess errors ≲ 5e-4 for `|x| ≥ 0.05`, a few 1e-3 nearer the money, against up to
/// 1e-1 for a rational cubic in `β` itself, whose linear scale cannot follow `ρ` across the
/// decades of `β`. Returns NaN if the data are degenerate (the caller falls back).
///
/// Used for `|x| ≤ 12` (checked to there, the tested domain is `|x| ≤ 6`); beyond, the
/// asymptotic slope `x²/16` dominates the quartic and Jäckel's rational cubic in `β` is
/// the safer guess.
///
/// Only quantities at `s_l` enter (no lower-map exponential: `ln f_l` is formed in
/// logarithms): `b_l = fac_l·e^{e_l}` as [`black_ht`] gives it, `1/ln β` is the caller's.
#[inline]
fn lower_guess(x: f64, ln_beta: f64, inv_ln_beta: f64, s_l: f64, e_l: f64, fac_l: f64) -> f64 {
    let ax = -x;
    let inv_s = 1.0 / s_l;
    let z = ax * inv_s * (1.0 / SQRT_3);
    let y = erfcx(z * FRAC_1_SQRT_2);
    let lam = (LOWER_MAP_C * ax).ln();
    let ln_bl = e_l + fac_l.ln();
    // ln f_l = ln(c|x|) + 3·ln Φ(−z) with Φ(−z) = ½·e^{−z²/2}·erfcx(z/√2).
    let q_l = lam + 3.0 * (0.5 * y).ln() - 1.5 * z * z - ln_bl;
    // β·f'/f at b_l: (b/b')·(f_s/f) with f_s/f = 3·M·z/s, M = φ(z)/Φ(−z) = 2/(√(2π)·Y),
    // b_l/b'(s_l) = √(2π)·fac_l; β²f''/f = (b/b')·a·[(2Mz + z² − 2)/s − b''/b'].
    let mills = (2.0 * FRAC_1_SQRT_2PI) / y;
    let w = SQRT_2PI * fac_l;
    let a = w * 3.0 * mills * z * inv_s;
    let h = x * inv_s;
    let t = 0.5 * s_l;
    let b2 = (h - t) * (h + t) * inv_s;
    // d q/d ln β = β·f'/f − 1 and its derivative, then in v = −1/ln β (dv/d ln β = v²).
    let g1 = a - 1.0;
    let g2 = a + w * a * ((2.0 * mills * z + z * z - 2.0) * inv_s - b2) - a * a;
    let v_l = -1.0 / ln_bl;
    let slope0 = 0.0625 * x * x - 3.0;
    // Scaled conditions at ρ = 1: R0 = q − A·v, R1 = v·(q' − A), R2 = v²·q''.
    let r0 = q_l - slope0 * v_l;
    let r1 = g1 * (-ln_bl) - slope0 * v_l;
    let r2 = (g2 * ln_bl + 2.0 * g1) * ln_bl;
    let c4 = 0.5 * (r2 - 4.0 * r1 + 6.0 * r0);
    let c3 = r1 - 2.0 * r0 - 2.0 * c4;
    let c2 = r0 - c3 - c4;
    let rho = ln_bl * inv_ln_beta;
    let q = -slope0 * inv_ln_beta + rho * rho * (c2 + rho * (c3 + rho * c4));
    let ln_p = (ln_beta + q - lam) * (1.0 / 3.0);
    let (n, d) = upper_tail_point_frac(ln_p);
    ax * d / (SQRT_3 * n)
}

/// Initial guess for `s`, the objective to refine it with and, for the lower objective,
/// `ln β` and `1/ln β` (0 and ∞ otherwise).
#[inline]
fn initial_guess(beta: f64, x: f64, b_max: f64) -> (f64, Objective, f64, f64) {
    // b_c/v_c = ½·√(2π)·(1 − erfcx(√|x|)) without a division where b_c has that form.
    let (s_c, b_c, v_c, bc_over_vc) = if x == 0.0 {
        (0.0, 0.0, FRAC_1_SQRT_2PI, 0.0)
    } else {
        let s_c = (-2.0 * x).sqrt();
        // At s_c, h + t = 0 and E = e^{x/2}: b_c = ½·b_max·(1 − erfcx(√|x|)), which
        // cancels only for tiny |x| (there the general evaluation is used).
        let one_minus_y = 1.0 - erfcx(s_c * FRAC_1_SQRT_2);
        let b_c = if x < -1e-4 { 0.5 * b_max * one_minus_y } else { black_and_vega(x, s_c).0 };
        (s_c, b_c, b_max * FRAC_1_SQRT_2PI, 0.5 * SQRT_2PI * one_minus_y)
    };
    if beta < b_c {
        // The tangent at s_c meets b = 0 at s_l = s_c − b_c/v_c.
        let s_l = s_c - if x < -1e-4 { bc_over_vc } else { b_c / v_c };
        // (b, b') at s_l, with b = fac·e^e as black_ht gives it (e = 0: large region).
        let (b_l, v_l, e_l, fac_l) = if s_l > 0.0 {
            let (e, fac) = black_ht(x, x / s_l, 0.5 * s_l);
            if e == 0.0 {
                (fac, vega(x, s_l), f64::NAN, f64::NAN)
            } else {
                let ee = e.exp();
                (fac * ee, FRAC_1_SQRT_2PI * ee, e, fac)
            }
        } else {
            (0.0, 0.0, f64::NAN, f64::NAN)
        };
        if beta < b_l || v_l.is_nan() || v_l <= 1e-300 {
            let ln_beta = beta.ln();
            let inv_ln_beta = 1.0 / ln_beta;
            if b_l > 0.0 && v_l > 1e-300 {
                if x >= -LOWER_GUESS_MAX_ABS_X {
                    let s = lower_guess(x, ln_beta, inv_ln_beta, s_l, e_l, fac_l);
                    if s > 0.0 && s < s_l {
                        return (s, Objective::Lower, ln_beta, inv_ln_beta);
                    }
                }
                let (f_l, fp, fpp) = lower_map(x, s_l, v_l);
                let r = control_right(0.0, b_l, 0.0, f_l, 1.0, fp, fpp);
                let mut f = rational_cubic(beta, 0.0, b_l, 0.0, f_l, 1.0, fp, r);
                if f.is_nan() || f <= 0.0 {
                    f = beta;
                }
                let s = inverse_lower_map(x, f);
                if s.is_finite() && s > 0.0 {
                    return (s, Objective::Lower, ln_beta, inv_ln_beta);
                }
            }
            // Degenerate tangent: start from the lower map read at f = β.
            let s = inverse_lower_map(x, beta);
            let s = if s.is_finite() && s > 0.0 { s } else { 0.5 * s_c };
            return (s, Objective::Lower, ln_beta, inv_ln_beta);
        }
        let r = control_right(b_l, b_c, s_l, s_c, 1.0 / v_l, 1.0 / v_c, 0.0);
        let s = rational_cubic(beta, b_l, b_c, s_l, s_c, 1.0 / v_l, 1.0 / v_c, r);
        return (s, Objective::Middle, 0.0, f64::INFINITY);
    }
    let s_u = s_c + (b_max - b_c) / v_c;
    let (b_u, v_u) = black_and_vega(x, s_u);
    if beta <= b_u && v_u > 1e-300 {
        let r = control_left(b_c, b_u, s_c, s_u, 1.0 / v_c, 1.0 / v_u, 0.0);
        let s = rational_cubic(beta, b_c, b_u, s_c, s_u, 1.0 / v_c, 1.0 / v_u, r);
        return (s, Objective::Middle, 0.0, f64::INFINITY);
    }
    let (f_u, fp, fpp) = upper_map(x, s_u, v_u);
    let mut f = if v_u > 1e-300 {
        let r = control_left(b_u, b_max, f_u, 0.0, fp, -0.5, fpp);
        rational_cubic(beta, b_u, b_max, f_u, 0.0, fp, -0.5, r)
    } else {
        f64::NAN
    };
    if !(f > 0.0 && f < 0.5) {
        // f_u ≈ (b_max − b)/2 near the upper bound.
        f = (0.5 * (b_max - beta)).clamp(f64::MIN_POSITIVE, 0.49);
    }
    (2.0 * upper_tail_point(f.ln()), Objective::Upper, 0.0, f64::INFINITY)
}

/// One Householder(3) step (Householder(4) for the middle objective); returns the new `s`.
#[inline]
fn householder_step(it: &Inversion, s: f64, obj: Objective) -> f64 {
    let x = it.x;
    let inv_s = 1.0 / s;
    let h = x * inv_s;
    let t = 0.5 * s;
    let b2 = (h - t) * (h + t) * inv_s;
    let b3 = b2 * b2 - 3.0 * (h * inv_s) * (h * inv_s) - 0.25;
    // (ν, w·h2, w²·h3, w) with the Newton step ν and the ratios h2 = g''/g', h3 = g'''/g'
    // scaled by w > 0 so that the lower objective needs no division before the step's.
    let (nu, h2, h3, w) = match obj {
        Objective::Lower => {
            let (e, fac) = black_ht(x, h, t);
            let l = e + fac.ln();
            // g = 1/L − 1/Lβ with L = ln b; L1 = b'/b = 1/u, u = √(2π)·fac, and with
            // L2 = L1(b2 − L1), L3 = L1(b3 − 3L1·b2 + 2L1²): g2/g1 = L2/L1 − 2L1/L,
            // g3/g1 = L3/L1 − 6L2/L + 6L1²/L². Scaled by m = u·L (m/u = L):
            // m·h2 = b2·m − L − 2, m²·h3 = b3·m² − 3b2·L·m + 2L² − 6b2·m + 6L + 6.
            let u = SQRT_2PI * fac;
            let m = u * l;
            let h2 = b2 * m - l - 2.0;
            let h3 = (b3 * m - 3.0 * b2 * l - 6.0 * b2) * m + (2.0 * l + 6.0) * l + 6.0;
            // −g/g1 = (Lβ − L)·(L/Lβ)/L1.
            let nu = (it.ln_beta - l) * l * it.inv_ln_beta * u;
            // m < 0 (L < 0): use w = −m and flip the signs of the odd scaled ratio.
            (nu, -h2, h3, -m)
        }
        Objective::Middle => {
            let (e, fac) = black_ht(x, h, t);
            let (b, v) = if e == 0.0 {
                (fac, FRAC_1_SQRT_2PI * (-0.5 * (h * h + t * t)).exp())
            } else {
                let ee = e.exp();
                (fac * ee, FRAC_1_SQRT_2PI * ee)
            };
            // Householder(4) (order five: the middle guess is only ~1e-3 accurate) with
            // b''''/b' = 3·b2·b3 − 2·b2³ + 12h²/s³ (from ln b' = −x²/(2s²) − s²/8 + c):
            // ν·(1 + ν·h2 + ν²·h3/6)/(1 + (3/2)ν·h2 + ¼ν²·h2² + ⅓ν²·h3 + ν³·h4/24).
            let nu = (it.beta - b) / v;
            let hs = h * inv_s;
            let b4 = (3.0 * b3 - 2.0 * b2 * b2) * b2 + 12.0 * hs * hs * inv_s;
            let nh2 = nu * b2;
            let n2h3 = nu * nu * b3;
            let num = 1.0 + nh2 + n2h3 * (1.0 / 6.0);
            let den = 1.0
                + nh2 * (1.5 + 0.25 * nh2)
                + n2h3 * (1.0 / 3.0)
                + nu * nu * nu * b4 * (1.0 / 24.0);
            let step = if num > 0.0 && den > 0.0 { nu * num / den } else { nu };
            return finish_step(s, step);
        }
        Objective::Upper => {
            let (d, v) = black_complement_and_vega(x, s);
            let mu = v / d;
            let g = (it.b_max_minus_beta / d).ln();
            (-g / mu, b2 + mu, b3 + 3.0 * mu * b2 + 2.0 * mu * mu, 1.0)
        }
    };
    // w²·(1 + ½h2·ν) and w²·(1 + ν·(h2 + h3·ν/6)): same signs, same quotient.
    let w2 = w * w;
    let num = w2 + 0.5 * w * h2 * nu;
    let den = w2 + nu * (w * h2 + h3 * nu * (1.0 / 6.0));
    let step = if num > 0.0 && den > 0.0 { nu * num / den } else { nu };
    finish_step(s, step)
}

/// `s + step`, or a safeguarded move by a factor 4 if that is not a positive number.
#[inline]
fn finish_step(s: f64, step: f64) -> f64 {
    let s_new = s + step;
    if s_new.is_finite() && s_new > 0.0 {
        s_new
    } else if step < 0.0 {
        0.25 * s
    } else {
        4.0 * s
    }
}

/// Per-inversion constants.
struct Inversion {
    beta: f64,
    x: f64,
    ln_beta: f64,
    inv_ln_beta: f64,
    b_max_minus_beta: f64,
}

/// Stop after step `i` when it moved `s` by at most `STOP[i]` relative. Householder(3)
/// converges with order four, so a step of 3e-4 leaves an error ~C·1e-14 (measured on the
/// benchmark's 1M inputs: max relative error 1.8e-14 with 3e-4 as with 1e-4, 1.2e-13 with
/// 5e-4; 3e-4 lets 42 % of inputs stop after one step instead of 26 %). On the tested
/// domain the second step never moves more than 1e-6; further steps (up to 12 in all) only
/// serve extreme inputs (|ln(K/F)| ≫ 6) where the guess is poor.
///
/// The lower objective stops after a first step of up to 5e-4: on the benchmark's inputs
/// that leaves at most 1.5e-14 (as 3e-4 does) and 99 % of lower-branch inputs stop there
/// (87 % with 3e-4); 1e-3 would leave up to 8e-14.
const STOP_FIRST_LOWER: f64 = 5e-4;

/// The middle objective's Householder(4) step converges with order five: after a first
/// step of up to 2e-3 at most 1.8e-14 is left on the benchmark's inputs (97 % of them stop
/// there; 3e-3 would leave 4e-14).
const STOP_FIRST_MIDDLE: f64 = 2e-3;

/// See [`STOP_FIRST_LOWER`].
const STOP: [f64; 12] =
    [3e-4, 1e-6, 1e-13, 1e-13, 1e-13, 1e-13, 1e-13, 1e-13, 1e-13, 1e-13, 1e-13, 0.0];

/// How one inversion went (diagnostics: the benchmark's one-step share, guess accuracy).
#[derive(Clone, Copy, Debug)]
pub struct Trace {
    /// The total vol returned.
    pub s: f64,
    /// The initial guess.
    pub guess: f64,
    /// Branch of the guess: 0 lower, 1 middle, 2 upper.
    pub branch: u8,
    /// Householder steps taken.
    pub steps: u32,
    /// `s` after the first step.
    pub first: f64,
}

/// Total implied vol `s` of the normalised out-of-the-money call price `beta`
/// (`x ≤ 0`, `0 < beta < e^{x/2}`). NaN only if the safeguards fail.
///
/// `ln_beta_tiny` carries `ln β` computed from the undivided price when `β` itself is not
/// a normal double (only for `|x|` beyond ~100): `β` has then lost its precision, `ln β` has
/// not, and the lower branch needs only `ln β`.
///
/// Returns the [`Trace`] of the inversion.
#[inline(always)]
pub(crate) fn implied_total_vol_traced(
    beta: f64,
    ln_beta_tiny: Option<f64>,
    x: f64,
    b_max: f64,
) -> Trace {
    // `ln_beta` and its inverse are set for the lower objective (0 and ∞ otherwise).
    let (mut s, obj, ln_beta, inv_ln_beta) = match ln_beta_tiny {
        // f_l(b) ≈ b for tiny b: the lower map read at β is the guess.
        Some(lb) => (inverse_lower_map_ln(x, lb), Objective::Lower, lb, 1.0 / lb),
        None => initial_guess(beta, x, b_max),
    };
    let branch = match obj {
        Objective::Lower => 0,
        Objective::Middle => 1,
        Objective::Upper => 2,
    };
    let guess = s;
    if !(s.is_finite() && s > 0.0) {
        return Trace { s: bisect(ln_beta, x), guess, branch, steps: 0, first: f64::NAN };
    }
    let it = Inversion { beta, x, ln_beta, inv_ln_beta, b_max_minus_beta: b_max - beta };
    let first = householder_step(&it, s, obj);
    let first_stop = match obj {
        Objective::Lower => STOP_FIRST_LOWER,
        Objective::Middle => STOP_FIRST_MIDDLE,
        Objective::Upper => STOP[0],
    };
    let moved = (first - s).abs();
    s = first;
    let mut steps = 1;
    if moved > first_stop * s {
        for &stop in &STOP[1..] {
            let s_new = householder_step(&it, s, obj);
            steps += 1;
            let moved = (s_new - s).abs();
            s = s_new;
            if moved <= stop * s {
                break;
            }
        }
    }
    if !(s.is_finite() && s > 0.0) {
        s = bisect(if ln_beta == 0.0 { beta.ln() } else { ln_beta }, x);
    }
    Trace { s, guess, branch, steps, first }
}

/// Safeguard: bisection on `ln b` in `ln s` over `[1e-300, 1e4]` (never used on the tested
/// domain; kept so that pathological inputs still get an answer).
#[cold]
fn bisect(ln_beta: f64, x: f64) -> f64 {
    let ln_b = |s: f64| {
        let (e, f) = black_scaled(x, s);
        e + f.ln()
    };
    let (mut lo, mut hi) = (-690.0_f64, 9.2_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let v = ln_b(mid.exp());
        if v.is_nan() || v < ln_beta {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    (0.5 * (lo + hi)).exp()
}
