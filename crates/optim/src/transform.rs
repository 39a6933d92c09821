//! Parameter domains and the free ↔ bounded coordinate transforms optimizers work in,
//! plus wrappers that present a problem in free coordinates ([`Transformed`]) or with
//! some parameters held fixed ([`Frozen`]).
//!
//! Maps `x = T(y)` from a free coordinate `y ∈ ℝ` (QuantLib's
//! `ParametersTransformation`, Ceres' `Manifold` in spirit):
//!
//! | domain | `x = T(y)` | `dx/dy` | why |
//! |---|---|---|---|
//! | `Free` | `y` | 1 | |
//! | `Positive` | `eʸ` | `eʸ` | scale parameters live over decades; relative steps |
//! | `Lower(lo)` | `lo + softplus(y)` | `σ(y)` | a distance from an edge: linear far from it, so gradients neither explode nor vanish |
//! | `Upper(hi)` | `hi − softplus(−y)` | `σ(−y)` | mirror of `Lower` |
//! | `Interval(lo, hi)` | `lo + (hi − lo)·σ(y)` | `(hi − lo)·σ(1 − σ)` | logistic |
//!
//! with `softplus(y) = ln(1 + eʸ)` and `σ(y) = 1/(1 + e^{−y})`. In floating point a very
//! large `|y|` saturates at the edge of the domain; optimizers started at sensible points
//! do not go there because `dx/dy → 0` there.

use crate::problem::{LeastSquares, Objective, Residuals};
use crate::robust::{RobustSum, ScratchCell};
use crate::Loss;

/// Where one parameter may live.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Domain {
    /// Any real number.
    Free,
    /// Strictly positive.
    Positive,
    /// Strictly above a lower end.
    Lower(f64),
    /// Strictly below an upper end.
    Upper(f64),
    /// Strictly inside an open interval `(lo, hi)`.
    Interval(f64, f64),
}

/// Why a transform or a frozen-parameter wrapper could not be built.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// A domain's ends are not finite or an interval is empty.
    #[error("domain {index} is invalid: {domain:?}")]
    Domain {
        /// Parameter index.
        index: usize,
        /// The rejected domain.
        domain: Domain,
    },
    /// Vectors of different lengths.
    #[error("{name} has length {got}, expected {expected}")]
    Length {
        /// Which vector.
        name: &'static str,
        /// Its length.
        got: usize,
        /// The expected length.
        expected: usize,
    },
    /// A fixed value is not finite.
    #[error("fixed value for parameter {index} is not finite: {value}")]
    Value {
        /// Parameter index.
        index: usize,
        /// The rejected value.
        value: f64,
    },
}

/// `ln(1 + eʸ)` without overflow.
fn softplus(y: f64) -> f64 {
    y.max(0.0) + (-y.abs()).exp().ln_1p()
}

/// Inverse of softplus for `z > 0`: `z + ln(1 − e^{−z})`.
fn softplus_inv(z: f64) -> f64 {
    z + (-(-z).exp_m1()).ln()
}

/// `[σ(y), σ(y)·(1 − σ(y))]` without overflow.
fn logistic(y: f64) -> [f64; 2] {
    let e = (-y.abs()).exp();
    let d = 1.0 + e;
    let s = if y >= 0.0 { 1.0 / d } else { e / d };
    [s, e / (d * d)]
}

impl Domain {
    /// True when `x` lies in the domain.
    pub fn contains(self, x: f64) -> bool {
        match self {
            Domain::Free => x.is_finite(),
            Domain::Positive => x > 0.0 && x.is_finite(),
            Domain::Lower(lo) => x > lo && x.is_finite(),
            Domain::Upper(hi) => x < hi && x.is_finite(),
            Domain::Interval(lo, hi) => x > lo && x < hi,
        }
    }

    /// True when the domain's ends are finite and an interval is non-empty.
    pub fn is_valid(self) -> bool {
        match self {
            Domain::Free | Domain::Positive => true,
            Domain::Lower(v) | Domain::Upper(v) => v.is_finite(),
            Domain::Interval(lo, hi) => lo.is_finite() && hi.is_finite() && lo < hi,
        }
    }

    /// The free coordinate `y = T⁻¹(x)`; `None` when `x` is outside the domain.
    pub fn to_free(self, x: f64) -> Option<f64> {
        if !self.contains(x) {
            return None;
        }
        let y = match self {
            Domain::Free => x,
            Domain::Positive => x.ln(),
            Domain::Lower(lo) => softplus_inv(x - lo),
            Domain::Upper(hi) => -softplus_inv(hi - x),
            Domain::Interval(lo, hi) => {
                let u = (x - lo) / (hi - lo);
                u.ln() - (-u).ln_1p()
            }
        };
        y.is_finite().then_some(y)
    }

    /// `[x, dx/dy]` at the free coordinate `y`.
    pub fn from_free(self, y: f64) -> [f64; 2] {
        match self {
            Domain::Free => [y, 1.0],
            Domain::Positive => {
                let e = y.exp();
                [e, e]
            }
            Domain::Lower(lo) => [lo + softplus(y), logistic(y)[0]],
            Domain::Upper(hi) => [hi - softplus(-y), logistic(-y)[0]],
            Domain::Interval(lo, hi) => {
                let [s, ds] = logistic(y);
                [lo + (hi - lo) * s, (hi - lo) * ds]
            }
        }
    }
}

fn check_domains(domains: &[Domain]) -> Result<(), TransformError> {
    match domains.iter().enumerate().find(|(_, d)| !d.is_valid()) {
        Some((index, &domain)) => Err(TransformError::Domain { index, domain }),
        None => Ok(()),
    }
}

#[derive(Debug)]
struct TScratch {
    x: Vec<f64>,
    dx: Vec<f64>,
}

/// A problem presented in free coordinates `y`: the wrapped problem is evaluated at
/// `x = T(y)` and derivatives follow the chain rule (`∂/∂yⱼ = ∂/∂xⱼ · dxⱼ/dyⱼ`).
///
/// Implements [`Objective`] when `P` does, [`Residuals`] (hence [`LeastSquares`]) when `P`
/// does, and [`LeastSquares`] for a wrapped [`RobustSum`] (also under a [`Frozen`]).
/// Scratch for `x` is sized at construction and kept inside (the traits take `&self`), as
/// in [`RobustSum`].
#[derive(Debug)]
pub struct Transformed<P> {
    inner: P,
    domains: Vec<Domain>,
    scratch: ScratchCell<TScratch>,
}

impl<P> Transformed<P> {
    /// Wraps `inner` whose `n` parameters live in `domains` (length `n`).
    ///
    /// # Errors
    /// [`TransformError::Domain`] for a non-finite end or an empty interval.
    pub fn new(inner: P, domains: Vec<Domain>) -> Result<Self, TransformError> {
        check_domains(&domains)?;
        let n = domains.len();
        Ok(Transformed {
            inner,
            domains,
            scratch: ScratchCell::new(move || TScratch { x: vec![0.0; n], dx: vec![0.0; n] }),
        })
    }

    /// The wrapped problem.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The domains.
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// Writes the free coordinates of `x` into `y`; `None` if some `xⱼ` is outside its domain.
    pub fn to_free(&self, x: &[f64], y: &mut [f64]) -> Option<()> {
        for ((d, &xv), yv) in self.domains.iter().zip(x).zip(y.iter_mut()) {
            *yv = d.to_free(xv)?;
        }
        Some(())
    }

    /// Writes `x = T(y)`.
    pub fn from_free(&self, y: &[f64], x: &mut [f64]) {
        for ((d, &yv), xv) in self.domains.iter().zip(y).zip(x.iter_mut()) {
            *xv = d.from_free(yv)[0];
        }
    }

    /// Maps `y` into the scratch `x` and `dx/dy`.
    fn map(&self, y: &[f64], s: &mut TScratch) {
        debug_assert_eq!(y.len(), self.domains.len());
        for (j, d) in self.domains.iter().enumerate() {
            let [x, dx] = d.from_free(y[j]);
            s.x[j] = x;
            s.dx[j] = dx;
        }
    }
}

/// Multiplies column `j` of the row-major `rows × n` matrix by `d[j]`.
fn scale_columns(jac: &mut [f64], d: &[f64]) {
    let n = d.len();
    if n == 0 {
        return;
    }
    for row in jac.chunks_exact_mut(n) {
        for (v, &dj) in row.iter_mut().zip(d) {
            *v *= dj;
        }
    }
}

impl<P: Objective> Objective for Transformed<P> {
    fn num_params(&self) -> usize {
        self.domains.len()
    }
    fn value_grad(&self, y: &[f64], grad: &mut [f64]) -> Option<f64> {
        let mut s = self.scratch.borrow_mut();
        self.map(y, &mut s);
        let v = self.inner.value_grad(&s.x, grad)?;
        for (g, &d) in grad.iter_mut().zip(&s.dx) {
            *g *= d;
        }
        Some(v)
    }
    fn value(&self, y: &[f64]) -> Option<f64> {
        let mut s = self.scratch.borrow_mut();
        self.map(y, &mut s);
        self.inner.value(&s.x)
    }
}

impl<P: Residuals> Residuals for Transformed<P> {
    fn num_residuals(&self) -> usize {
        self.inner.num_residuals()
    }
    fn num_params(&self) -> usize {
        self.domains.len()
    }
    fn eval(&self, y: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let mut s = self.scratch.borrow_mut();
        self.map(y, &mut s);
        match jac {
            Some(j) => {
                self.inner.eval(&s.x, r, Some(&mut *j))?;
                scale_columns(j, &s.dx);
            }
            None => self.inner.eval(&s.x, r, None)?,
        }
        Some(())
    }
}

/// `LeastSquares` for a `Transformed` whose inner problem is `LeastSquares` but not
/// `Residuals` (those get it through the blanket impl on `Residuals`). Written per inner
/// type because a generic impl would overlap with that blanket impl.
macro_rules! transformed_least_squares {
    ($inner:ty) => {
        impl<R: Residuals, L: Loss> LeastSquares for Transformed<$inner> {
            fn num_rows(&self) -> usize {
                self.inner.num_rows()
            }
            fn num_params(&self) -> usize {
                self.domains.len()
            }
            fn cost(&self, y: &[f64], rows: &mut [f64]) -> Option<f64> {
                let mut s = self.scratch.borrow_mut();
                self.map(y, &mut s);
                self.inner.cost(&s.x, rows)
            }
            fn linearize(&self, y: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64> {
                let mut s = self.scratch.borrow_mut();
                self.map(y, &mut s);
                let c = self.inner.linearize(&s.x, rows, jac)?;
                scale_columns(jac, &s.dx);
                Some(c)
            }
        }
    };
}

transformed_least_squares!(RobustSum<R, L>);
transformed_least_squares!(Frozen<RobustSum<R, L>>);

#[derive(Debug)]
struct FScratch {
    x: Vec<f64>,
    g: Vec<f64>,
    jac: Vec<f64>,
}

/// A problem with some parameters held fixed: the solver sees only the free ones.
///
/// Implements [`Objective`] when `P` does, [`Residuals`] (hence [`LeastSquares`]) when `P`
/// does, and [`LeastSquares`] for a wrapped [`RobustSum`] (also under a [`Transformed`]).
/// Full-length scratch is kept inside, as in [`RobustSum`]; the Jacobian scratch is sized
/// on first use.
#[derive(Debug)]
pub struct Frozen<P> {
    inner: P,
    template: Vec<f64>,
    free: Vec<usize>,
    scratch: ScratchCell<FScratch>,
}

impl<P> Frozen<P> {
    /// Fixes parameter `j` at `values[j]` wherever `fixed[j]`; the others are free (their
    /// entries in `values` are starting values, see [`Frozen::contract`]).
    ///
    /// # Errors
    /// [`TransformError`] when the lengths differ or a fixed value is not finite.
    pub fn new(inner: P, values: Vec<f64>, fixed: &[bool]) -> Result<Self, TransformError> {
        if fixed.len() != values.len() {
            return Err(TransformError::Length {
                name: "fixed mask",
                got: fixed.len(),
                expected: values.len(),
            });
        }
        for (index, (&v, &f)) in values.iter().zip(fixed).enumerate() {
            if f && !v.is_finite() {
                return Err(TransformError::Value { index, value: v });
            }
        }
        let free: Vec<usize> = (0..values.len()).filter(|&j| !fixed[j]).collect();
        let n = values.len();
        Ok(Frozen {
            inner,
            template: values,
            free,
            scratch: ScratchCell::new(move || FScratch {
                x: vec![0.0; n],
                g: vec![0.0; n],
                jac: Vec::new(),
            }),
        })
    }

    /// The wrapped problem.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Indices (in the full vector) of the free parameters, ascending.
    pub fn free_indices(&self) -> &[usize] {
        &self.free
    }

    /// Number of free parameters.
    pub fn num_free(&self) -> usize {
        self.free.len()
    }

    /// Writes the full vector: fixed values from construction, free ones from `free`.
    pub fn expand(&self, free: &[f64], full: &mut [f64]) {
        full.copy_from_slice(&self.template);
        for (&j, &v) in self.free.iter().zip(free) {
            full[j] = v;
        }
    }

    /// Picks the free entries of `full` into `free`.
    pub fn contract(&self, full: &[f64], free: &mut [f64]) {
        for (&j, v) in self.free.iter().zip(free.iter_mut()) {
            *v = full[j];
        }
    }

    /// Copies the free columns of the row-major `rows × N` matrix `src` into `dst`
    /// (`rows × n_free`).
    fn contract_columns(&self, src: &[f64], dst: &mut [f64]) {
        let (nf, nk) = (self.template.len(), self.free.len());
        if nk == 0 {
            return;
        }
        for (srow, drow) in src.chunks_exact(nf).zip(dst.chunks_exact_mut(nk)) {
            for (d, &j) in drow.iter_mut().zip(&self.free) {
                *d = srow[j];
            }
        }
    }
}

impl<P: Objective> Objective for Frozen<P> {
    fn num_params(&self) -> usize {
        self.free.len()
    }
    fn value_grad(&self, y: &[f64], grad: &mut [f64]) -> Option<f64> {
        let mut guard = self.scratch.borrow_mut();
        let FScratch { x, g, .. } = &mut *guard;
        self.expand(y, x);
        let v = self.inner.value_grad(x, g)?;
        self.contract(g, grad);
        Some(v)
    }
    fn value(&self, y: &[f64]) -> Option<f64> {
        let mut s = self.scratch.borrow_mut();
        self.expand(y, &mut s.x);
        self.inner.value(&s.x)
    }
}

impl<P: Residuals> Residuals for Frozen<P> {
    fn num_residuals(&self) -> usize {
        self.inner.num_residuals()
    }
    fn num_params(&self) -> usize {
        self.free.len()
    }
    fn eval(&self, y: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let mut guard = self.scratch.borrow_mut();
        let FScratch { x, jac: full, .. } = &mut *guard;
        self.expand(y, x);
        match jac {
            Some(j) => {
                let need = self.inner.num_residuals() * self.template.len();
                if full.len() != need {
                    // First use only: sized once, then reused by every evaluation.
                    full.resize(need, 0.0);
                }
                self.inner.eval(x, r, Some(full))?;
                self.contract_columns(full, j);
            }
            None => self.inner.eval(x, r, None)?,
        }
        Some(())
    }
}

/// `LeastSquares` for a `Frozen` whose inner problem is `LeastSquares` but not `Residuals`
/// (see `transformed_least_squares!`).
macro_rules! frozen_least_squares {
    ($inner:ty) => {
        impl<R: Residuals, L: Loss> LeastSquares for Frozen<$inner> {
            fn num_rows(&self) -> usize {
                self.inner.num_rows()
            }
            fn num_params(&self) -> usize {
                self.free.len()
            }
            fn cost(&self, y: &[f64], rows: &mut [f64]) -> Option<f64> {
                let mut s = self.scratch.borrow_mut();
                self.expand(y, &mut s.x);
                self.inner.cost(&s.x, rows)
            }
            fn linearize(&self, y: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64> {
                let mut guard = self.scratch.borrow_mut();
                let FScratch { x, jac: full, .. } = &mut *guard;
                self.expand(y, x);
                let need = self.inner.num_rows() * self.template.len();
                if full.len() != need {
                    // First use only: sized once, then reused by every evaluation.
                    full.resize(need, 0.0);
                }
                let c = self.inner.linearize(x, rows, full)?;
                self.contract_columns(full, jac);
                Some(c)
            }
        }
    };
}

frozen_least_squares!(RobustSum<R, L>);
frozen_least_squares!(Transformed<RobustSum<R, L>>);

// Index loops mirror the closed-form formulas the tests compare against.
#[allow(clippy::needless_range_loop)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{assert_gradient_matches, check_jacobian};
    use crate::problem::FnResiduals;
    use crate::robust::RobustSum;
    use crate::{loss::LossKind, penalty::Ridge};

    const DOMAINS: [Domain; 5] = [
        Domain::Free,
        Domain::Positive,
        Domain::Lower(-2.0),
        Domain::Upper(3.0),
        Domain::Interval(-1.0, 4.0),
    ];

    #[test]
    fn round_trip_and_derivative() {
        // Round trip x → y → x, and dx/dy against a central difference (h = 1e-6:
        // truncation O(h²) ≈ 1e-12 relative, plus rounding ε·|x|/h ≈ 2e-10·|x| from the
        // offset lo/hi; tolerance 1e-8 relative + 1e-9·max(|x|, 1) absolute).
        let xs = [
            [-7.0, 1e-3, -1.999, -50.0, -0.999],
            [0.0, 1.0, 0.0, 2.999, 1.5],
            [12.0, 250.0, 40.0, 2.0, 3.99],
        ];
        for x in xs {
            for (d, &xv) in DOMAINS.iter().zip(&x) {
                let y = d.to_free(xv).expect("x in domain");
                let [back, dx] = d.from_free(y);
                assert!((back - xv).abs() <= 1e-12 * xv.abs().max(1.0), "{d:?}: {back} vs {xv}");
                let h = 1e-6;
                let fd = (d.from_free(y + h)[0] - d.from_free(y - h)[0]) / (2.0 * h);
                let tol = 1e-8 * dx.abs() + 1e-9 * xv.abs().max(1.0);
                assert!((fd - dx).abs() <= tol, "{d:?}: {fd} vs {dx}");
            }
        }
        assert_eq!(Domain::Positive.to_free(-1.0), None);
        assert_eq!(Domain::Interval(0.0, 1.0).to_free(1.0), None);
        assert!(Transformed::new((), vec![Domain::Interval(1.0, 1.0)]).is_err());
    }

    use proptest::prelude::{prop_assert, proptest, TestCaseError};

    proptest! {
        #[test]
        fn round_trip_property(u in 0.0f64..1.0, scale in -6.0f64..6.0, y in -30.0f64..30.0) {
            // Round trips. x → y → x across magnitudes 1e-6..1e6, to 1e-12 relative to
            // max(|x|, 5) (5 bounds the magnitudes of the test domains' edges). y → x → y
            // where the map is not saturated (dx/dy > 1e-12); inverting loses about
            // ε·max(|x|, 5)/(dx/dy) in y.
            let mag = 10f64.powf(scale);
            for d in DOMAINS {
                let x = match d {
                    Domain::Free => (u - 0.5) * mag,
                    Domain::Positive => u * mag + f64::MIN_POSITIVE,
                    Domain::Lower(lo) => lo + (u + 1e-9) * mag,
                    Domain::Upper(hi) => hi - (u + 1e-9) * mag,
                    Domain::Interval(lo, hi) => lo + (hi - lo) * (0.001 + 0.998 * u),
                };
                let inside = || TestCaseError::fail(format!("{d:?}: x = {x} rejected"));
                let back = d.from_free(d.to_free(x).ok_or_else(inside)?)[0];
                prop_assert!((back - x).abs() <= 1e-12 * x.abs().max(5.0), "{:?}: {} vs {}", d, back, x);
                let [xv, dx] = d.from_free(y);
                if dx > 1e-12 && d.contains(xv) {
                    let again = d.to_free(xv).ok_or_else(inside)?;
                    let tol = 1e-12 * (1.0 + y.abs()) + 4.0 * f64::EPSILON * xv.abs().max(5.0) / dx;
                    prop_assert!((again - y).abs() <= tol, "{:?}: {} vs {}", d, again, y);
                }
            }
        }
    }

    /// Five residuals in five parameters, nonlinear in each.
    fn problem() -> impl Residuals {
        FnResiduals::new(5, 5, |x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>| {
            for i in 0..5 {
                let t = i as f64 * 0.5;
                r[i] = x[0] + x[1] * t.exp() * 0.1 + x[2] * x[3] * t - x[4].sin() - t;
            }
            if let Some(j) = jac {
                for i in 0..5 {
                    let t = i as f64 * 0.5;
                    let row = &mut j[i * 5..i * 5 + 5];
                    row.copy_from_slice(&[1.0, t.exp() * 0.1, x[3] * t, x[2] * t, -x[4].cos()]);
                }
            }
            Some(())
        })
    }

    #[test]
    fn transformed_and_frozen_gradients_match_fd() {
        // Finite differences are the reference (central, relative step ~6e-6).
        let robust = RobustSum::new(problem(), LossKind::Huber { scale: 0.5 })
            .with_penalty(Ridge::new(0.1, 5).expect("valid"))
            .expect("dims match");
        let t = Transformed::new(robust, DOMAINS.to_vec()).expect("valid domains");
        let y = [0.3, -0.2, 0.5, 0.1, -0.4];
        assert_gradient_matches(&t, &y, 1e-6, 1e-9);

        let tr = Transformed::new(problem(), DOMAINS.to_vec()).expect("valid domains");
        let c = check_jacobian(&tr, &y, None).expect("evaluates");
        assert!(c.max_rel < 1e-6, "{c:?}");

        let fixed = [false, true, false, true, false];
        let fz = Frozen::new(problem(), vec![0.0, 0.7, 0.0, -1.3, 0.0], &fixed).expect("valid");
        let c = check_jacobian(&fz, &[0.2, 0.4, 0.9], None).expect("evaluates");
        assert!(c.max_rel < 1e-6, "{c:?}");
        let fo = Frozen::new(
            RobustSum::new(problem(), LossKind::Cauchy { scale: 0.3 }),
            vec![0.0, 0.7, 0.0, -1.3, 0.0],
            &fixed,
        )
        .expect("valid");
        assert_gradient_matches(&fo, &[0.2, 0.4, 0.9], 1e-6, 1e-9);

        // The LM view of a frozen robust sum agrees with its gradient (identity J̃ᵀr̃ = ∇f).
        let k = fo.num_rows();
        let (mut rows, mut jac) = (vec![0.0; k], vec![0.0; k * 3]);
        let mut g = [0.0; 3];
        let c1 = fo.linearize(&[0.2, 0.4, 0.9], &mut rows, &mut jac).expect("evaluates");
        let c2 = fo.value_grad(&[0.2, 0.4, 0.9], &mut g).expect("evaluates");
        assert!((c1 - c2).abs() <= 1e-14 * c2.abs());
        for c in 0..3 {
            let jr: f64 = (0..k).map(|i| jac[i * 3 + c] * rows[i]).sum();
            assert!((jr - g[c]).abs() <= 1e-12 * g[c].abs().max(1e-12));
        }

        let mut full = [0.0; 5];
        fz.expand(&[1.0, 2.0, 3.0], &mut full);
        assert_eq!(full, [1.0, 0.7, 2.0, -1.3, 3.0]);
        let mut free = [0.0; 3];
        fz.contract(&full, &mut free);
        assert_eq!(free, [1.0, 2.0, 3.0]);
    }
}
