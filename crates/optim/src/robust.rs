//! The one objective: `cost(x) = ½ Σᵢ wᵢ·ρ(φ(rᵢ)²) + Σₖ pₖ(x)`.
//!
//! [`RobustSum`] combines [`Residuals`] `r`, a [`Loss`] ρ, optional per-residual weights
//! `w`, a [`ResidualScale`] φ and [`Penalty`] terms `p`. The cost is defined once here and
//! presented two ways:
//!
//! * as an [`Objective`]: value and exact gradient
//!   `∇cost = Σᵢ wᵢ·ρ'(uᵢ²)·uᵢ·φ'(rᵢ)·∇rᵢ + Σₖ ∇pₖ` with `uᵢ = φ(rᵢ)`;
//! * as [`LeastSquares`] for Levenberg–Marquardt: Triggs-corrected rows (Triggs et al.
//!   2000, "Bundle adjustment — a modern synthesis", §4.3; Ceres' `corrector.cc`) followed
//!   by the penalty rows, with `J̃ᵀr̃ = ∇cost` exactly.
//!
//! The corrector for one scalar residual `u` with `ρ₁ = w·ρ'`, `ρ₂ = w·ρ''`, `s = u²`:
//! when `s = 0` or `ρ₂ ≤ 0`, `r̃ = √ρ₁·u` and `J̃ = √ρ₁·∇u` (α clamped to 0: the model
//! keeps `ρ₁` as curvature instead of the smaller, possibly negative `ρ₁ + 2sρ₂`, which
//! would make it indefinite; Ceres also reports that correcting in the outlier region slows
//! convergence); otherwise
//! `α = 1 − √(1 + 2sρ₂/ρ₁)`, `r̃ = √ρ₁/(1 − α)·u`, `J̃ = √ρ₁·(1 − α)·∇u`, so
//! `J̃ᵀJ̃ = (ρ₁ + 2sρ₂)∇u∇uᵀ` is the exact Hessian of `½wρ(u²)` up to `∇²u`.
//!
//! `RobustSum` deliberately does not implement [`Residuals`]: every `Residuals` is already
//! `LeastSquares` through a blanket impl, and the robust rows are not plain residuals.

use crate::loss::{Loss, ResidualScale};
use crate::penalty::Penalty;
use crate::problem::{LeastSquares, Objective, Residuals};
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, TryLockError};

/// Why a [`RobustSum`] could not be configured.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RobustError {
    /// The weight vector's length differs from the number of residuals.
    #[error("{got} weights for {expected} residuals")]
    WeightLength {
        /// Number of weights given.
        got: usize,
        /// Number of residuals.
        expected: usize,
    },
    /// A weight is negative or not finite.
    #[error("weight {index} must be non-negative and finite, got {value}")]
    Weight {
        /// Residual index.
        index: usize,
        /// The rejected weight.
        value: f64,
    },
    /// A penalty expects another number of parameters.
    #[error("penalty expects {got} parameters, the problem has {expected}")]
    PenaltyParams {
        /// The penalty's parameter count.
        got: usize,
        /// The problem's parameter count.
        expected: usize,
    },
}

/// A boxed penalty that can cross threads with its problem.
pub type BoxedPenalty = Box<dyn Penalty + Send + Sync>;

/// Scratch buffers owned by a problem, so evaluation through `&self` does not allocate.
///
/// The traits take `&self` and the caller does not pass the `m×n` buffers that, say,
/// [`Objective::value_grad`] needs, so the problem keeps them. A `Mutex` (not a `RefCell`)
/// keeps the problem `Sync`: the uncontended `try_lock` costs a few nanoseconds, and if
/// another thread (or a re-entrant call) holds the buffers, this call falls back to fresh
/// ones instead of blocking. Contents never carry information between calls, so a
/// poisoned lock is simply reused. The shared buffers are built on first use, so a
/// problem whose solver never needs them (Levenberg–Marquardt without penalties) does not
/// allocate them.
pub(crate) struct ScratchCell<T> {
    cell: Mutex<Option<T>>,
    fresh: Box<dyn Fn() -> T + Send + Sync>,
}

impl<T> ScratchCell<T> {
    /// Buffers built by `fresh` on first use and on contention.
    pub(crate) fn new(fresh: impl Fn() -> T + Send + Sync + 'static) -> Self {
        ScratchCell { cell: Mutex::new(None), fresh: Box::new(fresh) }
    }

    /// The shared buffers, or fresh ones when they are in use.
    pub(crate) fn borrow_mut(&self) -> ScratchGuard<'_, T> {
        let mut g = match self.cell.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return ScratchGuard::Own((self.fresh)()),
        };
        if g.is_none() {
            *g = Some((self.fresh)());
        }
        ScratchGuard::Shared(g)
    }
}

impl<T> std::fmt::Debug for ScratchCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScratchCell")
    }
}

/// Access to scratch from [`ScratchCell::borrow_mut`].
pub(crate) enum ScratchGuard<'a, T> {
    /// The problem's own buffers (always `Some`: filled by `borrow_mut`).
    Shared(MutexGuard<'a, Option<T>>),
    /// Fresh buffers (contention fallback).
    Own(T),
}

impl<T> Deref for ScratchGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            ScratchGuard::Shared(g) => match &**g {
                Some(t) => t,
                None => unreachable!("ScratchCell::borrow_mut fills the cell"),
            },
            ScratchGuard::Own(t) => t,
        }
    }
}

impl<T> DerefMut for ScratchGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self {
            ScratchGuard::Shared(g) => match &mut **g {
                Some(t) => t,
                None => unreachable!("ScratchCell::borrow_mut fills the cell"),
            },
            ScratchGuard::Own(t) => t,
        }
    }
}

/// Scratch buffers sized once at construction.
#[derive(Debug)]
struct Scratch {
    r: Vec<f64>,
    jac: Vec<f64>,
    grad: Vec<f64>,
}

/// The robust, weighted, penalised least-squares cost (see the module docs).
///
/// # Examples
/// ```
/// use volfit_optim::{FnResiduals, LeastSquares, LossKind, Objective, Ridge, RobustSum};
/// // r(x) = x − y for three observations, the last one an outlier.
/// let y = [1.0, 1.2, 9.0];
/// let res = FnResiduals::new(3, 1, move |x: &[f64], r: &mut [f64], j: Option<&mut [f64]>| {
///     for i in 0..3 {
///         r[i] = x[0] - y[i];
///     }
///     if let Some(j) = j {
///         j.iter_mut().for_each(|v| *v = 1.0);
///     }
///     Some(())
/// });
/// let loss: LossKind = "huber:0.5".parse().unwrap();
/// let p = RobustSum::new(res, loss).with_penalty(Ridge::new(1e-3, 1).unwrap()).unwrap();
/// let mut g = [0.0];
/// let f = p.value_grad(&[1.1], &mut g).unwrap();
/// // ½(0.01 + 0.01 + (2·0.5·7.9 − 0.25)) + ½·1e-3·1.21, Huber (1964) in Ceres' form.
/// assert!((f - (0.5 * (0.02 + 7.65) + 0.5e-3 * 1.21)).abs() < 1e-12);
/// // LM sees corrected rows whose J̃ᵀr̃ is the same gradient.
/// let (mut rows, mut jac) = (vec![0.0; p.num_rows()], vec![0.0; p.num_rows()]);
/// p.linearize(&[1.1], &mut rows, &mut jac).unwrap();
/// let jr: f64 = rows.iter().zip(&jac).map(|(r, j)| r * j).sum();
/// assert!((jr - g[0]).abs() < 1e-12);
/// ```
///
/// Evaluation does not allocate: the residual and Jacobian buffers that the [`Objective`]
/// view needs are sized at construction and kept inside (see `ScratchCell` in the source:
/// a `Mutex` with a fresh-buffer fallback, so a `RobustSum` is `Send + Sync` when its parts
/// are, and parallel evaluation never blocks).
pub struct RobustSum<R, L> {
    residuals: R,
    loss: L,
    weights: Option<Vec<f64>>,
    scaling: ResidualScale,
    penalties: Vec<BoxedPenalty>,
    penalty_rows: usize,
    m: usize,
    n: usize,
    scratch: ScratchCell<Scratch>,
}

impl<R: Residuals, L: Loss> RobustSum<R, L> {
    /// `½ Σ ρ(rᵢ²)`: unit weights, no scaling, no penalties.
    pub fn new(residuals: R, loss: L) -> Self {
        let (m, n) = (residuals.num_residuals(), residuals.num_params());
        RobustSum {
            residuals,
            loss,
            weights: None,
            scaling: ResidualScale::None,
            penalties: Vec::new(),
            penalty_rows: 0,
            m,
            n,
            scratch: ScratchCell::new(move || Scratch {
                r: vec![0.0; m],
                jac: vec![0.0; m * n],
                grad: vec![0.0; n],
            }),
        }
    }

    /// Sets per-residual weights `wᵢ` (they multiply ρ).
    ///
    /// # Errors
    /// [`RobustError`] on a length mismatch or a negative / non-finite weight.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, RobustError> {
        if weights.len() != self.m {
            return Err(RobustError::WeightLength { got: weights.len(), expected: self.m });
        }
        if let Some((index, &value)) =
            weights.iter().enumerate().find(|(_, w)| !(**w >= 0.0 && w.is_finite()))
        {
            return Err(RobustError::Weight { index, value });
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// Sets the residual scaling φ applied before squaring.
    pub fn with_scaling(mut self, scaling: ResidualScale) -> Self {
        self.scaling = scaling;
        self
    }

    /// Adds a penalty term.
    ///
    /// # Errors
    /// [`RobustError::PenaltyParams`] when the penalty knows its dimension and it differs.
    pub fn with_penalty<P: Penalty + Send + Sync + 'static>(
        mut self,
        penalty: P,
    ) -> Result<Self, RobustError> {
        if let Some(k) = penalty.num_params() {
            if k != self.n {
                return Err(RobustError::PenaltyParams { got: k, expected: self.n });
            }
        }
        self.penalty_rows += penalty.num_rows();
        self.penalties.push(Box::new(penalty));
        Ok(self)
    }

    /// The residual problem.
    pub fn residuals(&self) -> &R {
        &self.residuals
    }
    /// The loss.
    pub fn loss(&self) -> &L {
        &self.loss
    }
    /// The weights, if set.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }
    /// The residual scaling.
    pub fn scaling(&self) -> ResidualScale {
        self.scaling
    }
    /// Number of residuals `m`.
    pub fn num_residuals(&self) -> usize {
        self.m
    }
    /// Number of penalty rows appended to the least-squares view.
    pub fn num_penalty_rows(&self) -> usize {
        self.penalty_rows
    }

    #[inline]
    fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }

    /// Plain weighted least squares: `ρ(s) = s`, `φ(r) = r`. The cost is then `½ Σ wᵢrᵢ²`
    /// and the corrector scales row `i` by `√wᵢ` — what the general path computes too, to
    /// the last bit, without evaluating the loss per residual.
    #[inline]
    fn plain(&self) -> bool {
        self.loss.is_squared() && self.scaling == ResidualScale::None
    }

    /// `½ Σ wᵢ ρ(φ(rᵢ)²)` from residuals already in `r`.
    fn data_cost(&self, r: &[f64]) -> f64 {
        if self.plain() {
            let c = match &self.weights {
                Some(w) => r.iter().zip(w).fold(0.0, |c, (ri, wi)| c + wi * (ri * ri)),
                None => r.iter().fold(0.0, |c, ri| c + ri * ri),
            };
            return 0.5 * c;
        }
        let mut c = 0.0;
        for (i, &ri) in r.iter().enumerate() {
            let [u, _] = self.scaling.apply(ri);
            c += self.weight(i) * self.loss.rho(u * u)[0];
        }
        0.5 * c
    }

    /// Σₖ pₖ(x), with the gradient accumulated into `grad`.
    fn penalty_value(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.penalties.iter().map(|p| p.value_grad(x, grad)).sum()
    }

    /// Σₖ pₖ(x) alone; `grad` is scratch.
    fn penalty_only(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if self.penalties.is_empty() {
            return 0.0;
        }
        grad.iter_mut().for_each(|g| *g = 0.0);
        self.penalty_value(x, grad)
    }

    /// Writes the effective weight `wᵢ·ρ'(φ(rᵢ)²)` of every residual at `x` into `out`
    /// (length `m`): 1 for an inlier of an unweighted problem, ~0 for a rejected outlier.
    pub fn effective_weights(&self, x: &[f64], out: &mut [f64]) -> Option<()> {
        self.residuals.eval(x, out, None)?;
        for (i, v) in out.iter_mut().enumerate() {
            let [u, _] = self.scaling.apply(*v);
            *v = self.weight(i) * self.loss.rho(u * u)[1];
        }
        Some(())
    }

    /// Flags residual `i` as an outlier when the loss has down-weighted it below
    /// `threshold` (`ρ'(φ(rᵢ)²) < threshold`, weights excluded; 0.5 is a common choice:
    /// for Huber that is `|u| > 2·scale`, for Cauchy `|u| > scale`). Never flags under MSE.
    pub fn outliers(&self, x: &[f64], threshold: f64, out: &mut [bool]) -> Option<()> {
        let mut s = self.scratch.borrow_mut();
        let r = &mut s.r;
        self.residuals.eval(x, r, None)?;
        for (o, &ri) in out.iter_mut().zip(r.iter()) {
            let [u, _] = self.scaling.apply(ri);
            *o = self.loss.rho(u * u)[1] < threshold;
        }
        Some(())
    }

    /// Writes the corrected row and scales the Jacobian row for residual `i` in place
    /// (Ceres corrector; see the module docs).
    #[inline]
    fn correct(&self, i: usize, row: &mut f64, jac_row: &mut [f64]) {
        let [u, du] = self.scaling.apply(*row);
        let s = u * u;
        let [_, d1, d2] = self.loss.rho(s);
        let w = self.weight(i);
        let (rho1, rho2) = (w * d1, w * d2);
        if rho1.is_nan() || rho1 <= 0.0 {
            // Fully down-weighted (Tukey beyond its scale, zero weight): no information.
            *row = 0.0;
            jac_row.iter_mut().for_each(|v| *v = 0.0);
            return;
        }
        let sqrt_rho1 = rho1.sqrt();
        let (res_scale, jac_scale) = if s == 0.0 || rho2 <= 0.0 {
            (sqrt_rho1, sqrt_rho1)
        } else {
            let one_minus_alpha = (1.0 + 2.0 * s * rho2 / rho1).sqrt();
            (sqrt_rho1 / one_minus_alpha, sqrt_rho1 * one_minus_alpha)
        };
        *row = res_scale * u;
        let js = jac_scale * du;
        jac_row.iter_mut().for_each(|v| *v *= js);
    }
}

/// The corrector of a plain least-squares residual with weight `w` (`ρ₁ = w`, `ρ₂ = 0`):
/// row and Jacobian row scaled by `√w`, a zero weight zeroing both (as [`RobustSum`]'s
/// general corrector does).
#[inline]
fn correct_plain(w: f64, row: &mut f64, jac_row: &mut [f64]) {
    if w.is_nan() || w <= 0.0 {
        *row = 0.0;
        jac_row.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let sw = w.sqrt();
    *row *= sw;
    jac_row.iter_mut().for_each(|v| *v *= sw);
}

impl<R: Residuals, L: Loss> Objective for RobustSum<R, L> {
    fn num_params(&self) -> usize {
        self.n
    }

    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        let n = self.n;
        let mut guard = self.scratch.borrow_mut();
        let Scratch { r, jac, .. } = &mut *guard;
        self.residuals.eval(x, r, Some(jac))?;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut cost = 0.0;
        for (i, &ri) in r.iter().enumerate() {
            let [u, du] = self.scaling.apply(ri);
            let [d0, d1, _] = self.loss.rho(u * u);
            let w = self.weight(i);
            cost += w * d0;
            let c = w * d1 * u * du;
            if c != 0.0 {
                for (g, &j) in grad.iter_mut().zip(&jac[i * n..(i + 1) * n]) {
                    *g += c * j;
                }
            }
        }
        let cost = 0.5 * cost + self.penalty_value(x, grad);
        (!cost.is_nan()).then_some(cost)
    }

    fn value(&self, x: &[f64]) -> Option<f64> {
        let mut guard = self.scratch.borrow_mut();
        let Scratch { r, grad, .. } = &mut *guard;
        self.residuals.eval(x, r, None)?;
        let cost = self.data_cost(r) + self.penalty_only(x, grad);
        (!cost.is_nan()).then_some(cost)
    }
}

impl<R: Residuals, L: Loss> LeastSquares for RobustSum<R, L> {
    fn num_rows(&self) -> usize {
        self.m + self.penalty_rows
    }

    fn num_params(&self) -> usize {
        self.n
    }

    fn cost(&self, x: &[f64], rows: &mut [f64]) -> Option<f64> {
        let m = self.m;
        self.residuals.eval(x, &mut rows[..m], None)?;
        let mut cost = self.data_cost(&rows[..m]);
        if !self.penalties.is_empty() {
            let mut guard = self.scratch.borrow_mut();
            cost += self.penalty_only(x, &mut guard.grad);
        }
        (!cost.is_nan()).then_some(cost)
    }

    fn linearize(&self, x: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64> {
        let (m, n) = (self.m, self.n);
        self.residuals.eval(x, &mut rows[..m], Some(&mut jac[..m * n]))?;
        self.correct_rows(x, rows, jac)
    }
}

impl<R: Residuals, L: Loss> RobustSum<R, L> {
    /// [`LeastSquares::linearize`] from residuals and their Jacobian already evaluated at
    /// `x`: on entry `rows[..m]` holds the raw residuals `rᵢ(x)` and `jac[..m·n]` their
    /// Jacobian (row-major); on return both hold the corrected rows followed by the penalty
    /// rows, as `linearize` writes them. Returns the cost. For callers that evaluated the
    /// residuals themselves (e.g. to keep the model values too) and should not pay for a
    /// second evaluation.
    pub fn correct_rows(&self, x: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64> {
        let (m, n) = (self.m, self.n);
        let mut cost = self.data_cost(&rows[..m]);
        if self.plain() {
            if let Some(w) = &self.weights {
                for ((row, jrow), wi) in rows[..m].iter_mut().zip(jac.chunks_exact_mut(n)).zip(w) {
                    correct_plain(*wi, row, jrow);
                }
            }
        } else {
            for i in 0..m {
                self.correct(i, &mut rows[i], &mut jac[i * n..(i + 1) * n]);
            }
        }
        let mut off = m;
        // Penalty values as `value_grad` computes them (each `rows` returns it), exactly as
        // `cost` and `value_grad` sum them, so LM's actual and predicted reductions share one
        // definition; one evaluation per penalty.
        let mut penalty = 0.0;
        for p in &self.penalties {
            let k = p.num_rows();
            penalty += p.rows(x, &mut rows[off..off + k], &mut jac[off * n..(off + k) * n]);
            off += k;
        }
        if !self.penalties.is_empty() {
            cost += penalty;
        }
        (!cost.is_nan()).then_some(cost)
    }

    /// The data part `½ Σ wᵢ ρ(φ(rᵢ)²)` of the cost (no penalties) from residuals `r`
    /// already evaluated, with every residual's effective weight `wᵢ·ρ'(φ(rᵢ)²)` written into
    /// `effective` and its outlier flag (`ρ' <` [`OUTLIER_THRESHOLD`]) into `outliers`: what
    /// [`Objective::value`] (without penalties), [`effective_weights`](Self::effective_weights)
    /// and [`outliers`](Self::outliers) compute, without evaluating the residuals again.
    pub fn data_terms(&self, r: &[f64], effective: &mut [f64], outliers: &mut [bool]) -> f64 {
        for (i, ((&ri, e), o)) in r.iter().zip(effective.iter_mut()).zip(outliers).enumerate() {
            let [u, _] = self.scaling.apply(ri);
            let d1 = self.loss.rho(u * u)[1];
            *e = self.weight(i) * d1;
            *o = d1 < OUTLIER_THRESHOLD;
        }
        self.data_cost(r)
    }
}

/// The share of its least-squares weight below which the loss counts a residual as an
/// outlier (`ρ' < ½`): for Huber `|u| > 2·scale`, for Cauchy `|u| > scale`; never under MSE.
pub const OUTLIER_THRESHOLD: f64 = 0.5;
