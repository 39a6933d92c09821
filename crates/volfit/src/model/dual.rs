//! Forward-mode dual numbers: see [`Dual`].

use num_complex::Complex64;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number type closed under the field operations and `exp`, `ln`, `sqrt`.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant (zero derivatives).
    fn cst(x: f64) -> Self;
    /// Exponential.
    fn exp(self) -> Self;
    /// Natural logarithm (principal branch for complex values).
    fn ln(self) -> Self;
    /// Square root (principal branch for complex values).
    fn sqrt(self) -> Self;
    /// `ln(1 + x)`, accurate near 0 for real values.
    fn ln_1p(self) -> Self {
        (self + 1.0).ln()
    }
    /// `eˣ − 1`, accurate near 0 for real values.
    fn exp_m1(self) -> Self {
        self.exp() - 1.0
    }
}

/// A real scalar: also exposes its value for branching.
pub trait Real: Scalar {
    /// The plain value (derivatives dropped).
    fn value(self) -> f64;
}

impl Scalar for f64 {
    fn cst(x: f64) -> Self {
        x
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    fn exp_m1(self) -> Self {
        f64::exp_m1(self)
    }
}

impl Real for f64 {
    fn value(self) -> f64 {
        self
    }
}

impl Scalar for Complex64 {
    fn cst(x: f64) -> Self {
        Complex64::new(x, 0.0)
    }
    fn exp(self) -> Self {
        Complex64::exp(self)
    }
    fn ln(self) -> Self {
        // ln|z| from the squared modulus (no `hypot`): the Fourier pricers' arguments are
        // far from over- and underflow.
        Complex64::new(0.5 * (self.re * self.re + self.im * self.im).ln(), self.im.atan2(self.re))
    }
    fn sqrt(self) -> Self {
        // Principal branch, algebraically (no polar round trip): for z = x + iy with
        // r = |z|, √z = a + ib, a = √((r + x)/2), b = y/(2a) (x ≥ 0), or
        // b = ±√((r − x)/2), a = y/(2b) (x < 0; sign of y, so the cut is the negative axis).
        let (x, y) = (self.re, self.im);
        let r = (x * x + y * y).sqrt();
        if r == 0.0 {
            return Complex64::new(0.0, y);
        }
        if x >= 0.0 {
            let a = (0.5 * (r + x)).sqrt();
            Complex64::new(a, 0.5 * y / a)
        } else {
            let b = (0.5 * (r - x)).sqrt().copysign(y);
            Complex64::new(0.5 * y / b, b)
        }
    }
}

/// Forward-mode dual numbers and the scalar traits a formula is written over, so it is
/// evaluated either on plain numbers or on dual numbers carrying exact parameter derivatives.
///
/// [`Scalar`] is a field with `exp`, `ln`, `sqrt` (implemented for `f64`, `Complex64` and
/// [`Dual`]); [`Dual<T, N>`] carries a value and `N` directional derivatives and never
/// allocates (fixed-size arrays). Heston's characteristic function runs on
/// `Dual<Complex64, N>`, SABR's expansion on `Dual<f64, 4>`.
///
/// Forward-mode dual number: value `v` and `N` partial derivatives `d`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<T, const N: usize> {
    /// Value.
    pub v: T,
    /// Partial derivatives.
    pub d: [T; N],
}

impl<T: Scalar, const N: usize> Dual<T, N> {
    /// A constant with zero derivatives.
    pub fn constant(v: T) -> Self {
        Dual { v, d: [T::cst(0.0); N] }
    }
    /// The `i`-th independent variable with value `v` (unit derivative in slot `i`).
    pub fn var(v: T, i: usize) -> Self {
        let mut d = [T::cst(0.0); N];
        d[i] = T::cst(1.0);
        Dual { v, d }
    }
    /// Chain rule: `f(self)` given `f(v)` and `f'(v)`.
    fn chain(self, f: T, df: T) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x = *x * df;
        }
        Dual { v: f, d }
    }
}

impl<T: Scalar, const N: usize> Add for Dual<T, N> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x = *x + y;
        }
        Dual { v: self.v + o.v, d }
    }
}

impl<T: Scalar, const N: usize> Sub for Dual<T, N> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x = *x - y;
        }
        Dual { v: self.v - o.v, d }
    }
}

impl<T: Scalar, const N: usize> Mul for Dual<T, N> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x = *x * o.v + self.v * y;
        }
        Dual { v: self.v * o.v, d }
    }
}

impl<T: Scalar, const N: usize> Div for Dual<T, N> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let inv = T::cst(1.0) / o.v;
        let q = self.v * inv;
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x = (*x - q * y) * inv;
        }
        Dual { v: q, d }
    }
}

impl<T: Scalar, const N: usize> Neg for Dual<T, N> {
    type Output = Self;
    fn neg(self) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x = -*x;
        }
        Dual { v: -self.v, d }
    }
}

impl<T: Scalar, const N: usize> Add<f64> for Dual<T, N> {
    type Output = Self;
    fn add(self, o: f64) -> Self {
        Dual { v: self.v + o, d: self.d }
    }
}

impl<T: Scalar, const N: usize> Sub<f64> for Dual<T, N> {
    type Output = Self;
    fn sub(self, o: f64) -> Self {
        Dual { v: self.v - o, d: self.d }
    }
}

impl<T: Scalar, const N: usize> Mul<f64> for Dual<T, N> {
    type Output = Self;
    fn mul(self, o: f64) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x = *x * o;
        }
        Dual { v: self.v * o, d }
    }
}

impl<T: Scalar, const N: usize> Div<f64> for Dual<T, N> {
    type Output = Self;
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> Mul<Complex64> for Dual<Complex64, N> {
    type Output = Self;
    fn mul(self, o: Complex64) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x *= o;
        }
        Dual { v: self.v * o, d }
    }
}

impl<const N: usize> Add<Complex64> for Dual<Complex64, N> {
    type Output = Self;
    fn add(self, o: Complex64) -> Self {
        Dual { v: self.v + o, d: self.d }
    }
}

impl<T: Scalar, const N: usize> Scalar for Dual<T, N> {
    fn cst(x: f64) -> Self {
        Dual::constant(T::cst(x))
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn ln(self) -> Self {
        self.chain(self.v.ln(), T::cst(1.0) / self.v)
    }
    fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, T::cst(0.5) / s)
    }
    fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), T::cst(1.0) / (self.v + 1.0))
    }
    fn exp_m1(self) -> Self {
        self.chain(self.v.exp_m1(), self.v.exp())
    }
}

impl<const N: usize> Real for Dual<f64, N> {
    fn value(self) -> f64 {
        self.v
    }
}

/// A complex scalar (plain or dual) that can absorb complex constants; used by the
/// Fourier pricers.
pub trait ComplexScalar:
    Scalar + Mul<Complex64, Output = Self> + Add<Complex64, Output = Self>
{
    /// A complex constant.
    fn from_c(c: Complex64) -> Self;
}

impl ComplexScalar for Complex64 {
    fn from_c(c: Complex64) -> Self {
        c
    }
}

impl<const N: usize> ComplexScalar for Dual<Complex64, N> {
    fn from_c(c: Complex64) -> Self {
        Dual::constant(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_matches_closed_form_derivative() {
        // d/dx [sqrt(x) * exp(x) / ln(x)] at x = 2, closed form by the quotient rule.
        let x = Dual::<f64, 1>::var(2.0, 0);
        let f = x.sqrt() * x.exp() / x.ln();
        let (s, e, l) = (2f64.sqrt(), 2f64.exp(), 2f64.ln());
        let exact = (0.5 / s * e * l + s * e * l - s * e / 2.0) / (l * l);
        assert!((f.d[0] - exact).abs() < 1e-13 * exact.abs());
    }

    #[test]
    fn complex_sqrt_and_ln_match_num_complex() {
        // The algebraic square root and the hypot-free logarithm against num_complex's
        // polar versions, on both sides of the branch cut and near the axes.
        for &(x, y) in &[
            (3.0, 4.0),
            (-3.0, 4.0),
            (-3.0, -4.0),
            (3.0, -4.0),
            (-2.0, 0.0),
            (-2.0, -0.0),
            (2.0, 0.0),
            (1e-9, -5.0),
            (-1e5, 1e-3),
            (0.0, 0.0),
        ] {
            let z = Complex64::new(x, y);
            let (s, want) = (Scalar::sqrt(z), z.sqrt());
            assert!((s - want).norm() <= 1e-15 * want.norm(), "sqrt({z}) = {s} vs {want}");
            assert_eq!(s.im.is_sign_negative(), want.im.is_sign_negative(), "sqrt({z}) branch");
            if x != 0.0 || y != 0.0 {
                let (l, want) = (Scalar::ln(z), z.ln());
                assert!((l - want).norm() <= 1e-15 * want.norm().max(1.0), "ln({z})");
            }
        }
    }
}
