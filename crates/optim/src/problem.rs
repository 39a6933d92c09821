//! What a solver minimises: least-squares [`Residuals`] or a scalar [`Objective`].
//!
//! Both write into caller-owned buffers so that evaluation never allocates, and both
//! return `None` when `x` lies outside the problem's domain: the solver then shrinks
//! its step (Ceres' "cannot evaluate here").

use std::cell::Cell;

/// A least-squares problem: `m` residuals in `n` parameters.
pub trait Residuals {
    /// Number of residuals `m`.
    fn num_residuals(&self) -> usize;
    /// Number of parameters `n`.
    fn num_params(&self) -> usize;
    /// Writes `r(x)` (length `m`) and, when `jac` is given, the row-major `m×n`
    /// Jacobian `∂r_i/∂x_j` at `jac[i * n + j]`.
    ///
    /// Returns `None` when `x` is outside the domain.
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()>;
}

/// A scalar objective with its gradient.
pub trait Objective {
    /// Number of parameters `n`.
    fn num_params(&self) -> usize;
    /// Returns `f(x)` and writes `∇f(x)` into `grad` (length `n`).
    ///
    /// Returns `None` when `x` is outside the domain.
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64>;
    /// Returns `f(x)` alone. The default evaluates the gradient into a scratch
    /// buffer; override when the value is much cheaper than the gradient.
    fn value(&self, x: &[f64]) -> Option<f64> {
        let mut g = vec![0.0; self.num_params()];
        self.value_grad(x, &mut g)
    }
}

impl<T: Residuals + ?Sized> Residuals for &T {
    fn num_residuals(&self) -> usize {
        (**self).num_residuals()
    }
    fn num_params(&self) -> usize {
        (**self).num_params()
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        (**self).eval(x, r, jac)
    }
}

impl<T: Objective + ?Sized> Objective for &T {
    fn num_params(&self) -> usize {
        (**self).num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        (**self).value_grad(x, grad)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        (**self).value(x)
    }
}

/// How many times a problem was evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evals {
    /// Evaluations of the value (or residuals) alone.
    pub values: u64,
    /// Evaluations that also produced a gradient (or Jacobian).
    pub gradients: u64,
}

impl Evals {
    /// Total number of evaluations of any kind.
    pub fn total(&self) -> u64 {
        self.values + self.gradients
    }
}

/// Counts evaluations of the wrapped problem (argmin's `Problem<O>` idea): solvers
/// never keep counts by hand.
#[derive(Debug)]
pub struct Counted<P> {
    inner: P,
    values: Cell<u64>,
    gradients: Cell<u64>,
}

impl<P> Counted<P> {
    /// Wraps `inner` with zeroed counters.
    pub fn new(inner: P) -> Self {
        Counted { inner, values: Cell::new(0), gradients: Cell::new(0) }
    }
    /// The counts so far.
    pub fn evals(&self) -> Evals {
        Evals { values: self.values.get(), gradients: self.gradients.get() }
    }
    /// The wrapped problem.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: Residuals> Residuals for Counted<P> {
    fn num_residuals(&self) -> usize {
        self.inner.num_residuals()
    }
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let c = if jac.is_some() { &self.gradients } else { &self.values };
        c.set(c.get() + 1);
        self.inner.eval(x, r, jac)
    }
}

impl<P: Objective> Objective for Counted<P> {
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        self.gradients.set(self.gradients.get() + 1);
        self.inner.value_grad(x, grad)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        self.values.set(self.values.get() + 1);
        self.inner.value(x)
    }
}

/// A scalar objective from a closure `f(x, grad) -> Option<value>`.
pub struct FnObjective<F> {
    n: usize,
    f: F,
}

impl<F: Fn(&[f64], &mut [f64]) -> Option<f64>> FnObjective<F> {
    /// Wraps `f` as an objective in `n` parameters.
    pub fn new(n: usize, f: F) -> Self {
        FnObjective { n, f }
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> Option<f64>> Objective for FnObjective<F> {
    fn num_params(&self) -> usize {
        self.n
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        (self.f)(x, grad)
    }
}

/// A least-squares problem from a closure `f(x, r, jac) -> Option<()>`.
pub struct FnResiduals<F> {
    m: usize,
    n: usize,
    f: F,
}

impl<F: Fn(&[f64], &mut [f64], Option<&mut [f64]>) -> Option<()>> FnResiduals<F> {
    /// Wraps `f` as `m` residuals in `n` parameters.
    pub fn new(m: usize, n: usize, f: F) -> Self {
        FnResiduals { m, n, f }
    }
}

impl<F: Fn(&[f64], &mut [f64], Option<&mut [f64]>) -> Option<()>> Residuals for FnResiduals<F> {
    fn num_residuals(&self) -> usize {
        self.m
    }
    fn num_params(&self) -> usize {
        self.n
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        (self.f)(x, r, jac)
    }
}

/// The plain least-squares objective `½‖r(x)‖²` of a [`Residuals`] problem, so
/// first-order and global solvers can run on it. Robust and weighted versions live
/// in the `robust` module.
pub struct SumOfSquares<R> {
    inner: R,
}

impl<R: Residuals> SumOfSquares<R> {
    /// Wraps a residual problem.
    pub fn new(inner: R) -> Self {
        SumOfSquares { inner }
    }
}

impl<R: Residuals> Objective for SumOfSquares<R> {
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        let (m, n) = (self.inner.num_residuals(), self.inner.num_params());
        let mut r = vec![0.0; m];
        let mut j = vec![0.0; m * n];
        self.inner.eval(x, &mut r, Some(&mut j))?;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut cost = 0.0;
        for i in 0..m {
            cost += 0.5 * r[i] * r[i];
            for (k, g) in grad.iter_mut().enumerate() {
                *g += j[i * n + k] * r[i];
            }
        }
        Some(cost)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        let mut r = vec![0.0; self.inner.num_residuals()];
        self.inner.eval(x, &mut r, None)?;
        Some(0.5 * r.iter().map(|v| v * v).sum::<f64>())
    }
}

/// What Levenberg–Marquardt needs: the true cost at `x`, and a local Gauss–Newton model —
/// residuals `r̃` and Jacobian `J̃` with `J̃ᵀr̃ = ∇cost(x)`.
///
/// Every plain [`Residuals`] problem is one (`cost = ½‖r‖²`, no correction). The robust,
/// weighted, penalised cost implements it with Triggs-corrected residuals (Ceres' corrector),
/// and may append penalty rows, so `num_rows() ≥` the problem's residual count.
pub trait LeastSquares {
    /// Number of rows of the Gauss–Newton model.
    fn num_rows(&self) -> usize;
    /// Number of parameters `n`.
    fn num_params(&self) -> usize;
    /// The cost at `x`; `rows` (length `num_rows()`) is scratch space.
    fn cost(&self, x: &[f64], rows: &mut [f64]) -> Option<f64>;
    /// Writes the model's residuals `r̃` and row-major Jacobian `J̃` at `x`, and returns
    /// the cost there.
    fn linearize(&self, x: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64>;
}

impl<R: Residuals> LeastSquares for R {
    fn num_rows(&self) -> usize {
        self.num_residuals()
    }
    fn num_params(&self) -> usize {
        Residuals::num_params(self)
    }
    fn cost(&self, x: &[f64], rows: &mut [f64]) -> Option<f64> {
        self.eval(x, rows, None)?;
        Some(0.5 * rows.iter().map(|v| v * v).sum::<f64>())
    }
    fn linearize(&self, x: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64> {
        self.eval(x, rows, Some(jac))?;
        Some(0.5 * rows.iter().map(|v| v * v).sum::<f64>())
    }
}

/// A box `lower ≤ x ≤ upper` (infinite ends allowed).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bounds {
    lower: Vec<f64>,
    upper: Vec<f64>,
}

/// Why a [`Bounds`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundsError {
    /// `lower` and `upper` differ in length.
    #[error("bounds have {lower} lower and {upper} upper ends")]
    Length {
        /// Length of `lower`.
        lower: usize,
        /// Length of `upper`.
        upper: usize,
    },
    /// `lower[i] > upper[i]` or an end is NaN.
    #[error("bound {index} is empty or NaN: [{lower}, {upper}]")]
    Empty {
        /// Parameter index.
        index: usize,
        /// Lower end.
        lower: f64,
        /// Upper end.
        upper: f64,
    },
}

impl Bounds {
    /// A box from its ends.
    ///
    /// # Errors
    /// [`BoundsError`] when the lengths differ, an end is NaN or `lower > upper`.
    pub fn new(lower: Vec<f64>, upper: Vec<f64>) -> Result<Self, BoundsError> {
        if lower.len() != upper.len() {
            return Err(BoundsError::Length { lower: lower.len(), upper: upper.len() });
        }
        for (i, (&l, &u)) in lower.iter().zip(&upper).enumerate() {
            if l.is_nan() || u.is_nan() || l > u {
                return Err(BoundsError::Empty { index: i, lower: l, upper: u });
            }
        }
        Ok(Bounds { lower, upper })
    }
    /// No bounds in `n` dimensions.
    pub fn unbounded(n: usize) -> Self {
        Bounds { lower: vec![f64::NEG_INFINITY; n], upper: vec![f64::INFINITY; n] }
    }
    /// Lower ends.
    pub fn lower(&self) -> &[f64] {
        &self.lower
    }
    /// Upper ends.
    pub fn upper(&self) -> &[f64] {
        &self.upper
    }
    /// Dimension.
    pub fn len(&self) -> usize {
        self.lower.len()
    }
    /// True in zero dimensions.
    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }
    /// True when every end is finite (a search box for global solvers).
    pub fn is_finite(&self) -> bool {
        self.lower.iter().chain(&self.upper).all(|v| v.is_finite())
    }
    /// Projects `x` onto the box in place.
    pub fn project(&self, x: &mut [f64]) {
        for ((v, &l), &u) in x.iter_mut().zip(&self.lower).zip(&self.upper) {
            *v = v.clamp(l, u);
        }
    }
    /// True when `x` lies in the box.
    pub fn contains(&self, x: &[f64]) -> bool {
        x.iter().zip(&self.lower).zip(&self.upper).all(|((&v, &l), &u)| v >= l && v <= u)
    }
}
