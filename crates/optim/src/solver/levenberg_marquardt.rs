//! Levenberg–Marquardt on any [`LeastSquares`] problem: plain residuals (through the blanket
//! impl) or the robust cost with Triggs-corrected rows.
//!
//! Each trial step solves `(J̃ᵀJ̃ + λ·D²)·δ = −J̃ᵀr̃` by an `LDLᵀ` factorisation (Cholesky
//! without square roots), with Moré's (1978) scaling `D = diag(‖column j of J̃‖)` kept as a
//! running maximum. Two ways of choosing `λ`
//! ([`Damping`]):
//!
//! * [`Damping::TrustRegion`] (the default) is MINPACK's `lmder` (Moré 1978): a radius `Δ` on
//!   the scaled step `‖D·δ‖`, `λ = 0` (the Gauss–Newton step) when that step fits, otherwise
//!   `λ` from the Moré–Hebden iteration `‖D·δ(λ)‖ ≈ Δ` (within 10 %, at most 10 factorisations,
//!   each an `LDLᵀ` factorisation of an `n×n` matrix); `Δ` is updated from the gain ratio
//!   `ρ = actual/predicted decrease` (shrunk by ½…⅒ for `ρ ≤ ¼`, set to `2‖D·δ‖` for `ρ ≥ ¾`).
//! * [`Damping::Nielsen`]: `λ` itself updated from `ρ` as in Nielsen (1999) / Madsen, Nielsen &
//!   Tingleff (2004): on success `λ ← λ·max(⅓, 1 − (2ρ − 1)³)`, on failure `λ ← λ·ν, ν ← 2ν`.
//!
//! By default the Gauss–Newton model is augmented with a structured secant estimate of the
//! neglected curvature `Σ r̃ᵢ∇²r̃ᵢ` (Dennis, Gay & Welsch 1981, as in NL2SOL; see
//! [`LevenbergMarquardt::secant`]), which turns Gauss–Newton's linear convergence on
//! large-residual problems (MGH09, Eckerle4, Thurber) into superlinear convergence.
//!
//! A failed factorisation or a trial point outside the domain ("cannot evaluate here") counts
//! as a failure: the radius shrinks tenfold (Nielsen: `λ` grows).
//!
//! Acceptance uses the problem's true cost — from `linearize()` (which returns the same true
//! cost) when the trial is likely accepted (after an accepted step, or after a single rejection,
//! which shrank the region), saving one evaluation per accepted step; from `cost()` after two
//! rejections in a row. The model comes from `linearize()`. When the secant-augmented model
//! is indefinite, the iterate falls back to the Gauss–Newton model (the Moré–Hebden iteration
//! assumes a semi-definite matrix). Bounds are handled by projection: variables on a bound
//! whose gradient points outward are frozen for the step, the trial point is projected onto
//! the box, and the gain ratio is computed for the projected step. All buffers are allocated
//! once per call (one workspace buffer).
//!
//! Cost per iteration: `J̃ᵀJ̃` and `J̃ᵀr̃` in one pass over the rows, then one `LDLᵀ`
//! factorisation per trial `λ` (trust region: the Gauss–Newton step first, further ones only
//! when it leaves the region). For `n ≤ 8` the whole solve is compiled for that `n` and both
//! use fixed-size, fully unrolled kernels: on the small fits this solver is for, the linear
//! algebra otherwise costs more than the residuals.

use super::{projected_grad_norm, Decrease, Limits, Minimum, Status, Stop};
use crate::linalg;
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Evals, LeastSquares};
use std::time::Instant;

/// How LM chooses its damping `λ` (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Damping {
    /// MINPACK `lmder`: a trust region on `‖D·δ‖`, `λ` from the Moré–Hebden iteration.
    TrustRegion {
        /// Initial radius `Δ₀ = step_bound·‖D·x₀‖` (or `step_bound` when that is zero);
        /// MINPACK's `factor`, 100 by default.
        step_bound: f64,
    },
    /// Nielsen's gain-ratio update of `λ`.
    Nielsen {
        /// Initial damping `λ₀`, relative to the Moré scale `D²` (so dimensionless).
        initial_damping: f64,
        /// Smallest factor by which one accepted step may shrink the damping (Nielsen: ⅓).
        min_shrink: f64,
    },
}

impl Default for Damping {
    /// The trust region with initial radius `‖D·x₀‖` (`step_bound = 1`). Against MINPACK's 100
    /// on the NIST and MGH problems of the tests (default limits) it reaches the same minima,
    /// with fewer evaluations from the far NIST starts (MGH09 109 against 374, Rat43 14
    /// against 28, Misra1a 24 against 30) and more on Rosenbrock (27 against 17).
    fn default() -> Self {
        Damping::TrustRegion { step_bound: 1.0 }
    }
}

impl Damping {
    /// MINPACK's trust region with its default initial radius factor (100).
    pub fn minpack() -> Self {
        Damping::TrustRegion { step_bound: 100.0 }
    }
    /// Nielsen damping with its usual settings (`λ₀ = 10⁻²`, shrink at most ⅓).
    pub fn nielsen() -> Self {
        Damping::Nielsen { initial_damping: 1e-2, min_shrink: 1.0 / 3.0 }
    }
}

/// Levenberg–Marquardt with Moré scaling; trust-region (MINPACK) or Nielsen damping, and an
/// optional structured secant correction of the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevenbergMarquardt {
    /// Stopping limits. The cost test stops when both the actual and the predicted relative
    /// decrease of a trial step fall below `cost_tol` (MINPACK's `ftol`; with
    /// [`Damping::Nielsen`] only accepted steps are tested).
    pub limits: Limits,
    /// How `λ` is chosen.
    pub damping: Damping,
    /// Smallest gain ratio for which a step is accepted.
    pub min_gain: f64,
    /// Damping above which the solver gives up (reported as [`Stop::Stalled`]).
    pub max_damping: f64,
    /// Augment the Gauss–Newton model with a structured secant estimate `S` of the neglected
    /// curvature `Σ rᵢ∇²rᵢ` (Dennis, Gay & Welsch 1981, NL2SOL), used whenever it predicted the
    /// last step's decrease better than `J̃ᵀJ̃` alone did (and keeps the system positive
    /// definite). Speeds up the linear convergence of Gauss–Newton on large-residual problems.
    pub secant: bool,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        LevenbergMarquardt {
            limits: Limits::default(),
            damping: Damping::default(),
            min_gain: 1e-4,
            max_damping: 1e32,
            secant: true,
        }
    }
}

/// `Σᵢ f(row i of J, i)` over the rows of the row-major `J` (`n` columns), with four register
/// accumulators (rows i ≡ 0, 1, 2, 3 mod 4) so the sum is not one long chain of dependent
/// additions (a running sum kept in memory per row would be a store-to-load chain).
#[inline(always)]
fn column_dot(jac: &[f64], n: usize, f: impl Fn(&[f64], usize) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut quads = jac.chunks_exact(4 * n);
    let mut i = 0;
    for q in &mut quads {
        for (t, (a, row)) in acc.iter_mut().zip(q.chunks_exact(n)).enumerate() {
            *a += f(row, i + t);
        }
        i += 4;
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (t, row) in quads.remainder().chunks_exact(n).enumerate() {
        s += f(row, i + t);
    }
    s
}

/// Upper triangle of `JᵀJ` and `g = Jᵀr` for the row-major `J` with `n` columns.
fn normal_equations(jac: &[f64], r: &[f64], n: usize, jtj: &mut [f64], g: &mut [f64]) {
    match n {
        1 => normal_fixed::<1>(jac, r, jtj, g),
        2 => normal_fixed::<2>(jac, r, jtj, g),
        3 => normal_fixed::<3>(jac, r, jtj, g),
        4 => normal_fixed::<4>(jac, r, jtj, g),
        5 => normal_fixed::<5>(jac, r, jtj, g),
        6 => normal_fixed::<6>(jac, r, jtj, g),
        7 => normal_fixed::<7>(jac, r, jtj, g),
        8 => normal_fixed::<8>(jac, r, jtj, g),
        _ => {
            for j in 0..n {
                g[j] = column_dot(jac, n, |row, i| row[j] * r[i]);
                for k in j..n {
                    jtj[j * n + k] = column_dot(jac, n, |row, _| row[j] * row[k]);
                }
            }
        }
    }
}

/// [`normal_equations`] for `n = N`: one pass over the rows, the `N(N+3)/2` sums in
/// independent (register) accumulators.
#[inline(always)]
fn normal_fixed<const N: usize>(jac: &[f64], r: &[f64], jtj: &mut [f64], g: &mut [f64]) {
    let mut a = [[0.0f64; N]; N];
    let mut b = [0.0f64; N];
    for (row, &ri) in jac.chunks_exact(N).zip(r) {
        for j in 0..N {
            b[j] += row[j] * ri;
            for k in j..N {
                a[j][k] += row[j] * row[k];
            }
        }
    }
    for j in 0..N {
        g[j] = b[j];
        jtj[j * N + j..(j + 1) * N].copy_from_slice(&a[j][j..]);
    }
}

/// The first `len` entries of `rest`, which keeps the remainder.
#[inline(always)]
fn carve<'a>(rest: &mut &'a mut [f64], len: usize) -> &'a mut [f64] {
    let (head, tail) = std::mem::take(rest).split_at_mut(len);
    *rest = tail;
    head
}

/// The number of parameters: a compile-time constant for the small fits (`n ≤ 8`, the usual
/// case; every loop over parameters then has a constant trip count, unrolls and loses its
/// bounds checks), or a run-time value.
trait Dim: Copy {
    fn get(self) -> usize;
}

/// `n = N`, known at compile time.
#[derive(Clone, Copy)]
struct Fixed<const N: usize>;

impl<const N: usize> Dim for Fixed<N> {
    #[inline(always)]
    fn get(self) -> usize {
        N
    }
}

/// `n` known at run time only.
#[derive(Clone, Copy)]
struct Runtime(usize);

impl Dim for Runtime {
    #[inline(always)]
    fn get(self) -> usize {
        self.0
    }
}

/// Workspace of one damped solve.
struct Damped<'a, D> {
    dim: D,
    jtj: &'a [f64],
    g: &'a [f64],
    /// Scale `D` (trust region) or `D²` (Nielsen), per `squared`.
    d: &'a [f64],
    active: &'a [bool],
    /// `‖D⁻¹·g‖` over the free variables (trust region: Moré's upper bound `‖D⁻¹g‖/Δ` on `λ`).
    gnorm: f64,
    chol: &'a mut [f64],
    p: &'a mut [f64],
    w: &'a mut [f64],
}

impl<D: Dim> Damped<'_, D> {
    /// Factorises `JᵀJ + λ·D²` (frozen variables: identity rows) into `chol` as
    /// [`linalg::ldl`] stores it and solves for `p = −(JᵀJ + λ·D²)⁻¹g`; `d` holds `D²` when
    /// `squared`, else `D`. False when not numerically positive definite.
    fn solve(&mut self, lambda: f64, squared: bool) -> bool {
        // Few parameters (the usual case): a fixed-size kernel, fully unrolled.
        match self.dim.get() {
            1 => return self.solve_fixed::<1>(lambda, squared),
            2 => return self.solve_fixed::<2>(lambda, squared),
            3 => return self.solve_fixed::<3>(lambda, squared),
            4 => return self.solve_fixed::<4>(lambda, squared),
            5 => return self.solve_fixed::<5>(lambda, squared),
            6 => return self.solve_fixed::<6>(lambda, squared),
            7 => return self.solve_fixed::<7>(lambda, squared),
            8 => return self.solve_fixed::<8>(lambda, squared),
            _ => {}
        }
        let n = self.dim.get();
        for j in 0..n {
            let row = &mut self.chol[j * n..j * n + j + 1];
            if self.active[j] {
                row.iter_mut().for_each(|v| *v = 0.0);
                row[j] = 1.0;
                self.p[j] = 0.0;
                continue;
            }
            for (k, v) in row[..j].iter_mut().enumerate() {
                *v = if self.active[k] { 0.0 } else { self.jtj[j * n + k] };
            }
            let dj = if squared { self.d[j] } else { self.d[j] * self.d[j] };
            row[j] = self.jtj[j * n + j] + lambda * dj;
            self.p[j] = -self.g[j];
        }
        if !linalg::ldl(self.chol, n, self.w) {
            return false;
        }
        linalg::ldl_solve(self.chol, n, self.p);
        self.p.iter().all(|v| v.is_finite())
    }

    /// [`Self::solve`] for `n = N`, on a stack copy.
    // The same LDLᵀ as `linalg::ldl`, written again on a stack array with index loops on
    // purpose: calling `linalg::ldl` on the flattened array (inlined) or on `chol` itself was
    // measured 15–25 % slower on the whole solve (MGH09 start 1: 28 → 34–37 µs).
    #[allow(clippy::needless_range_loop)]
    #[inline(always)]
    fn solve_fixed<const N: usize>(&mut self, lambda: f64, squared: bool) -> bool {
        let (jtj, g, d, active) =
            (&self.jtj[..N * N], &self.g[..N], &self.d[..N], &self.active[..N]);
        let mut l = [[0.0f64; N]; N];
        let mut b = [0.0f64; N];
        for j in 0..N {
            if active[j] {
                l[j][j] = 1.0;
                continue;
            }
            for k in 0..j {
                l[j][k] = if active[k] { 0.0 } else { jtj[j * N + k] };
            }
            let dj = if squared { d[j] } else { d[j] * d[j] };
            l[j][j] = jtj[j * N + j] + lambda * dj;
            b[j] = -g[j];
        }
        // LDLᵀ (no square roots, one division per pivot): unit lower L below the diagonal of
        // `l`, 1/dⱼ on it, as [`linalg::ldl`] stores it.
        let mut v = [0.0f64; N];
        for j in 0..N {
            // Row j from the finished rows above (Crout); v_k = L_jk·d_k.
            for k in 0..j {
                let mut c = l[j][k];
                for m in 0..k {
                    c -= l[k][m] * v[m];
                }
                v[k] = c;
                l[j][k] = c * l[k][k];
            }
            let mut dj = l[j][j];
            for k in 0..j {
                dj -= l[j][k] * v[k];
            }
            if !(dj > 0.0 && dj.is_finite()) {
                return false;
            }
            l[j][j] = 1.0 / dj;
        }
        for i in 0..N {
            for k in 0..i {
                b[i] -= l[i][k] * b[k];
            }
        }
        for i in (0..N).rev() {
            let mut t = b[i] * l[i][i];
            for k in i + 1..N {
                t -= l[k][i] * b[k];
            }
            b[i] = t;
        }
        for (dst, row) in self.chol.chunks_exact_mut(N).zip(&l) {
            dst.copy_from_slice(row);
        }
        self.p[..N].copy_from_slice(&b);
        b.iter().all(|v| v.is_finite())
    }

    /// `‖D·p‖`.
    fn scaled_norm(&self) -> f64 {
        self.d.iter().zip(self.p.iter()).map(|(d, p)| (d * p) * (d * p)).sum::<f64>().sqrt()
    }

    /// Moré's Newton correction of `λ` for `φ(λ) = ‖D·p(λ)‖ − Δ`: `(φ/Δ)·‖D·p‖² / ‖R⁻ᵀ·D²p‖²`,
    /// `R = D½Lᵀ` the Cholesky factor of the current `LDLᵀ` factor (one division).
    fn newton_correction(&mut self, fp: f64, dxnorm: f64, radius: f64) -> f64 {
        let n = self.dim.get();
        let (d, p, w) = (&self.d[..n], &self.p[..n], &mut self.w[..n]);
        for j in 0..n {
            w[j] = d[j] * (d[j] * p[j]);
        }
        let f = &self.chol[..n * n];
        linalg::unit_lower_solve(f, n, w);
        let s = (0..n).map(|j| w[j] * w[j] * f[j * n + j]).sum::<f64>();
        fp * (dxnorm * dxnorm) / (radius * s)
    }

    /// Moré–Hebden: the `λ ≥ 0` whose step has `‖D·p‖` within 10 % of `radius` (`λ = 0` when
    /// the Gauss–Newton step is shorter), starting from `lambda0`; leaves that step in `p` and
    /// returns `(λ, ‖D·p‖)`, or `None` when no damping gives a positive-definite system — or,
    /// with `need_definite`, when the undamped matrix is not positive definite (the secant-
    /// augmented model: the Moré–Hebden iteration assumes a semi-definite matrix).
    fn trust_region_step(
        &mut self,
        radius: f64,
        lambda0: f64,
        need_definite: bool,
    ) -> Option<(f64, f64)> {
        let mut fp = f64::INFINITY;
        let mut dxnorm = f64::INFINITY;
        let mut parl = 0.0f64;
        let full_rank = self.solve(0.0, false);
        if !full_rank && need_definite {
            return None;
        }
        if full_rank {
            dxnorm = self.scaled_norm();
            fp = dxnorm - radius;
            if fp <= 0.1 * radius {
                return Some((0.0, dxnorm));
            }
            let c = self.newton_correction(fp, dxnorm, radius);
            if c > 0.0 && c.is_finite() {
                parl = c;
            }
        }
        let gnorm = self.gnorm;
        let mut paru = gnorm / radius;
        if paru == 0.0 {
            paru = f64::MIN_POSITIVE / radius.min(0.1);
        }
        let mut lambda = lambda0.max(parl).min(paru);
        if lambda == 0.0 && full_rank {
            lambda = gnorm / dxnorm;
        }
        let mut tries = 0;
        let mut iter = 0;
        loop {
            if lambda == 0.0 || !lambda.is_finite() {
                lambda = f64::MIN_POSITIVE.max(0.001 * paru);
            }
            if !self.solve(lambda, false) {
                // Not numerically positive definite (JᵀJ far from full rank): more damping.
                tries += 1;
                if tries > 60 {
                    return None;
                }
                parl = lambda;
                lambda *= 10.0;
                continue;
            }
            iter += 1;
            dxnorm = self.scaled_norm();
            if iter == 10 {
                return Some((lambda, dxnorm));
            }
            let fp_old = fp;
            fp = dxnorm - radius;
            if fp.abs() <= 0.1 * radius || (parl == 0.0 && fp <= fp_old && fp_old < 0.0) {
                return Some((lambda, dxnorm));
            }
            let parc = self.newton_correction(fp, dxnorm, radius);
            if fp > 0.0 {
                parl = parl.max(lambda);
            } else {
                paru = paru.min(lambda);
            }
            let next = parl.max(lambda + parc);
            if next == lambda {
                // No further progress possible in floating point.
                return Some((lambda, dxnorm));
            }
            lambda = next;
        }
    }
}

impl LevenbergMarquardt {
    /// LM with the given limits and default damping settings.
    pub fn new(limits: Limits) -> Self {
        LevenbergMarquardt { limits, ..Self::default() }
    }

    /// The same solver with another damping strategy.
    pub fn with_damping(self, damping: Damping) -> Self {
        LevenbergMarquardt { damping, ..self }
    }

    /// Minimises `problem` from `x0`, within `bounds` when given (no trial point leaves
    /// them), reporting each accepted step to `obs` (`rate` is the damping λ).
    ///
    /// `Minimum::evals` counts `cost()` calls as values and `linearize()` calls as gradients.
    ///
    /// # Panics
    /// When `x0` or `bounds` have fewer entries than the problem has parameters.
    ///
    /// # Example
    /// NIST StRD Misra1a, `y = b₁·(1 − exp(−b₂·x))` on 14 observations, from NIST's far start
    /// `(500, 10⁻⁴)`. The certified values are `b₁ = 238.94212918`, `b₂ = 5.5015643181·10⁻⁴`
    /// and the residual sum of squares `0.12455138894` (the cost is half of it); LM matches
    /// the parameters to a relative 10⁻⁸ and the cost to 10⁻¹⁰.
    /// ```
    /// use volfit_optim::{FnResiduals, LevenbergMarquardt};
    ///
    /// let x = [77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8, 378.4, 434.8, 477.3, 536.8, 593.1,
    ///     689.1, 760.0];
    /// let y = [10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02, 44.82, 50.76, 55.05, 61.01, 66.40,
    ///     75.47, 81.78];
    /// let misra1a = FnResiduals::new(14, 2, |b: &[f64], r: &mut [f64], jac: Option<&mut [f64]>| {
    ///     for i in 0..14 {
    ///         r[i] = b[0] * (1.0 - (-b[1] * x[i]).exp()) - y[i];
    ///     }
    ///     if let Some(j) = jac {
    ///         for i in 0..14 {
    ///             let e = (-b[1] * x[i]).exp();
    ///             j[2 * i] = 1.0 - e;
    ///             j[2 * i + 1] = b[0] * x[i] * e;
    ///         }
    ///     }
    ///     Some(())
    /// });
    /// let m = LevenbergMarquardt::default().minimize(&misra1a, &[500.0, 1e-4], None, &mut ());
    /// let rel = |v: f64, certified: f64| ((v - certified) / certified).abs();
    /// assert!(m.stop.converged());
    /// assert!(rel(m.x[0], 2.3894212918e2) < 1e-8, "{}", m.x[0]);
    /// assert!(rel(m.x[1], 5.5015643181e-4) < 1e-8, "{}", m.x[1]);
    /// assert!(rel(2.0 * m.cost, 1.2455138894e-1) < 1e-10, "{}", m.cost);
    /// ```
    pub fn minimize<P: LeastSquares>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        match problem.num_params() {
            1 => self.run(problem, x0, bounds, obs, Fixed::<1>),
            2 => self.run(problem, x0, bounds, obs, Fixed::<2>),
            3 => self.run(problem, x0, bounds, obs, Fixed::<3>),
            4 => self.run(problem, x0, bounds, obs, Fixed::<4>),
            5 => self.run(problem, x0, bounds, obs, Fixed::<5>),
            6 => self.run(problem, x0, bounds, obs, Fixed::<6>),
            7 => self.run(problem, x0, bounds, obs, Fixed::<7>),
            8 => self.run(problem, x0, bounds, obs, Fixed::<8>),
            n => self.run(problem, x0, bounds, obs, Runtime(n)),
        }
    }

    /// [`Self::minimize`] with `n = dim.get()` parameters: the outer loop (one accepted step
    /// per iteration).
    fn run<P: LeastSquares, D: Dim>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
        dim: D,
    ) -> Minimum {
        let limits = &self.limits;
        let (m, n) = (problem.num_rows(), dim.get());
        // Workspace, allocated once (one buffer carved into slices: for a few parameters the
        // allocations would otherwise cost as much as a couple of iterations).
        let mut buf = vec![0.0f64; Work::len(n, m, self.secant)];
        // Variables frozen on a bound for the step (on the stack for the usual few parameters).
        let mut active_heap = Vec::new();
        let mut active_stack = [false; 8];
        let active: &mut [bool] = if n <= active_stack.len() {
            &mut active_stack[..n]
        } else {
            active_heap.resize(n, false);
            &mut active_heap
        };
        let mut s = Solve {
            dim,
            bounds: bounds.map(|b| (b.lower(), b.upper())),
            ws: Work::carve(&mut buf, n, m, self.secant, active),
            damper: Damper::new(self.damping),
            cost: f64::NAN,
            iters: 0,
            last_step: 0.0,
            decrease: None,
            rejected_in_row: 0,
            evals: Evals::default(),
            started: limits.max_time.map(|_| Instant::now()),
        };
        s.ws.x.copy_from_slice(&x0[..n]);
        if let Some((lo, hi)) = s.bounds {
            for i in 0..n {
                s.ws.x[i] = s.ws.x[i].clamp(lo[i], hi[i]);
            }
        }
        s.evals.gradients += 1;
        s.cost = match problem.linearize(s.ws.x, s.ws.r, s.ws.jac) {
            Some(c) if c.is_finite() => c,
            _ => return s.done(f64::NAN, Stop::Infeasible),
        };
        loop {
            s.model_at_x();
            let gnorm = s.grad_test_norm();
            obs.observe(&Iterate {
                iter: s.iters,
                cost: s.cost,
                grad_norm: s.ws.g.iter().map(|v| v * v).sum::<f64>().sqrt(),
                step: s.last_step,
                rate: s.damper.lambda(),
            });
            let status = Status {
                grad_norm: Some(gnorm),
                decrease: s.decrease,
                iters: Some(s.iters),
                ..Status::default()
            };
            if let Some(stop) = limits.check(&status) {
                return s.done(s.cost, stop);
            }
            if let Err((cost, stop)) = s.accepted_step(self, problem) {
                return s.done(cost, stop);
            }
        }
    }
}

/// The workspace of one solve: one buffer carved into the iterate, the trial point, their
/// residuals and Jacobians, the normal equations, the damped system's factor and scratch.
struct Work<'a> {
    x: &'a mut [f64],
    xt: &'a mut [f64],
    r: &'a mut [f64],
    rt: &'a mut [f64],
    jac: &'a mut [f64],
    jt: &'a mut [f64],
    /// `JᵀJ` (both triangles) and `g = Jᵀr` at `x`.
    jtj: &'a mut [f64],
    g: &'a mut [f64],
    /// The secant model (empty slices when it is off).
    secant: Secant<'a>,
    chol: &'a mut [f64],
    /// The step: the damped solve's solution, then the (projected) trial step.
    delta: &'a mut [f64],
    w: &'a mut [f64],
    /// Running maximum of diag(JᵀJ) (= squared column norms), and the scale used per step.
    diag: &'a mut [f64],
    scale: &'a mut [f64],
    /// Variables frozen on a bound for the step.
    active: &'a mut [bool],
}

impl<'a> Work<'a> {
    /// Length of the buffer for `m` residuals in `n` parameters.
    fn len(n: usize, m: usize, secant: bool) -> usize {
        let sn = if secant { n * n } else { 0 };
        12 * n + 2 * m + 2 * m * n + 2 * n * n + 2 * sn
    }

    /// Carves the workspace out of `buf` (of [`Work::len`] entries).
    // Inlined so that, for a compile-time `n`, every slice's length is known: the loops over
    // the parameters then lose their bounds checks.
    #[inline(always)]
    fn carve(buf: &'a mut [f64], n: usize, m: usize, secant: bool, active: &'a mut [bool]) -> Self {
        let sn = if secant { n * n } else { 0 };
        let mut rest: &mut [f64] = buf;
        let x = carve(&mut rest, n);
        let xt = carve(&mut rest, n);
        let r = carve(&mut rest, m);
        let rt = carve(&mut rest, m);
        let jac = carve(&mut rest, m * n);
        let jt = carve(&mut rest, m * n);
        let jtj = carve(&mut rest, n * n);
        let secant = Secant {
            on: secant,
            curv: carve(&mut rest, sn),
            model: carve(&mut rest, sn),
            g_old: carve(&mut rest, n),
            sv: carve(&mut rest, n),
            yv: carve(&mut rest, n),
            pred_gn: 0.0,
            pred_aug: 0.0,
            cost_old: 0.0,
            use_aug: false,
        };
        Work {
            x,
            xt,
            r,
            rt,
            jac,
            jt,
            jtj,
            secant,
            chol: carve(&mut rest, n * n),
            g: carve(&mut rest, n),
            delta: carve(&mut rest, n),
            w: carve(&mut rest, n),
            diag: carve(&mut rest, n),
            scale: carve(&mut rest, n),
            active,
        }
    }
}

/// The structured secant estimate `S` of the neglected curvature `Σ r̃ᵢ∇²r̃ᵢ` (Dennis, Gay &
/// Welsch 1981) and the choice between the models `JᵀJ` and `JᵀJ + S`.
struct Secant<'a> {
    on: bool,
    /// `S`.
    curv: &'a mut [f64],
    /// `JᵀJ + S` for the damped solve.
    model: &'a mut [f64],
    /// The gradient at the previous iterate.
    g_old: &'a mut [f64],
    sv: &'a mut [f64],
    yv: &'a mut [f64],
    /// Predicted decreases of the last accepted step under `JᵀJ` and under `JᵀJ + S`, and
    /// the cost before it.
    pred_gn: f64,
    pred_aug: f64,
    cost_old: f64,
    /// Whether the current iterate uses `JᵀJ + S`.
    use_aug: bool,
}

impl Secant<'_> {
    /// The update from the accepted step `s`: `S⁺s = y#` with `y = g⁺ − g_old`,
    /// `y# = y − J⁺ᵀJ⁺s`, sized by `τ`; then keeps the model that predicted the step's actual
    /// decrease (to `cost`) better. `w` is scratch.
    #[inline(always)]
    fn update<D: Dim>(
        &mut self,
        dim: D,
        jtj: &[f64],
        g: &[f64],
        s_vec: &[f64],
        w: &mut [f64],
        cost: f64,
    ) {
        let n = dim.get();
        let (curv, sv, yv, g_old) = (&mut *self.curv, &mut *self.sv, &mut *self.yv, &*self.g_old);
        let mut ys = 0.0;
        let (mut ss, mut yy) = (0.0, 0.0);
        for j in 0..n {
            yv[j] = g[j] - g_old[j];
            ys += yv[j] * s_vec[j];
            ss += s_vec[j] * s_vec[j];
            yy += yv[j] * yv[j];
        }
        if ys > 1e-12 * (ss * yy).sqrt() && ys.is_finite() {
            let (mut s_ss, mut s_yh) = (0.0, 0.0);
            for j in 0..n {
                let row = &curv[j * n..(j + 1) * n];
                let ssj = row.iter().zip(s_vec).fold(0.0, |t, (a, b)| t + a * b);
                let jsj =
                    jtj[j * n..(j + 1) * n].iter().zip(s_vec).fold(0.0, |t, (a, b)| t + a * b);
                // sv ← S·s for now; y# into w.
                sv[j] = ssj;
                w[j] = yv[j] - jsj;
                s_ss += s_vec[j] * ssj;
                s_yh += s_vec[j] * w[j];
            }
            let tau = if s_ss != 0.0 { (s_yh / s_ss).abs().min(1.0) } else { 1.0 };
            let mut vs = 0.0;
            for j in 0..n {
                // v = y# − τ·S·s
                sv[j] = w[j] - tau * sv[j];
                vs += sv[j] * s_vec[j];
            }
            let (inv, c2) = (1.0 / ys, vs / (ys * ys));
            let (sv, yv): (&[f64], &[f64]) = (sv, yv);
            // The sum of all entries is finite only if every entry is (one branch,
            // not one per entry; an overflowing sum of finite entries also resets S).
            let mut total = 0.0;
            for (row, (&svj, &yvj)) in curv.chunks_exact_mut(n).zip(sv.iter().zip(yv)) {
                for (c, (&svk, &yvk)) in row.iter_mut().zip(sv.iter().zip(yv)) {
                    *c = tau * *c + (svj * yvk + yvj * svk) * inv - c2 * yvj * yvk;
                    total += *c;
                }
            }
            if !total.is_finite() {
                curv.iter_mut().for_each(|v| *v = 0.0);
            }
        }
        // Keep the model that predicted the last decrease better.
        let actual = self.cost_old - cost;
        self.use_aug = (actual - self.pred_aug).abs() < (actual - self.pred_gn).abs();
    }

    /// Whether this trial uses `JᵀJ + S`; if so, forms it in `model`.
    #[inline(always)]
    fn augment(&mut self, jtj: &[f64]) -> bool {
        self.use_aug && {
            for (h, (a, c)) in self.model.iter_mut().zip(jtj.iter().zip(self.curv.iter())) {
                *h = a + c;
            }
            true
        }
    }
}

/// The decrease of the model for the step `delta`: `(gᵀδ, −(gᵀδ + ½δᵀJᵀJδ),
/// −(gᵀδ + ½δᵀ(JᵀJ + S)δ))` (the last equal to the second without a secant model).
#[inline(always)]
fn predicted_decrease<D: Dim>(
    dim: D,
    g: &[f64],
    jtj: &[f64],
    secant: &Secant<'_>,
    delta: &[f64],
) -> (f64, f64, f64) {
    let n = dim.get();
    let mut quad = 0.0;
    let mut quad_s = 0.0;
    let mut lin = 0.0;
    for j in 0..n {
        lin += g[j] * delta[j];
        let s = jtj[j * n..(j + 1) * n].iter().zip(delta.iter()).fold(0.0, |s, (a, d)| s + a * d);
        quad += delta[j] * s;
        if secant.on {
            let s = secant.curv[j * n..(j + 1) * n]
                .iter()
                .zip(delta.iter())
                .fold(0.0, |s, (a, d)| s + a * d);
            quad_s += delta[j] * s;
        }
    }
    (lin, -(lin + 0.5 * quad), -(lin + 0.5 * (quad + quad_s)))
}

/// A trial step as the damping judges it.
struct Trial {
    /// Cost at the current iterate.
    cost: f64,
    /// Cost at the trial point (`None` when it could not be evaluated or is not finite).
    new_cost: Option<f64>,
    /// Predicted decrease of the model in use, and its linear part `gᵀδ`.
    pred: f64,
    lin: f64,
    /// `‖D·δ‖`.
    pnorm: f64,
}

/// What the damping decided about a trial.
struct Verdict {
    /// The trial's cost when the step is accepted.
    accepted: Option<f64>,
    /// MINPACK's cost test met (trust region): stop now.
    converged: bool,
    /// Nielsen: the accepted step's decrease, for the cost test at the next iterate.
    decrease: Option<Decrease>,
}

/// What solving the damped system gave.
enum Solved {
    /// A step is in `delta`.
    Step,
    /// `JᵀJ + S` is indefinite: use Gauss–Newton for this iterate.
    Indefinite,
    /// Not positive definite; the damping was raised: solve again.
    Retry,
    /// No damping gives a step.
    Stalled,
}

/// The damping `λ` and what drives it: MINPACK's trust radius `Δ`, or Nielsen's growth
/// factor `ν`.
enum Damper {
    TrustRegion {
        lambda: f64,
        radius: f64,
        /// Initial radius factor.
        step_bound: f64,
        /// No trial has been made yet.
        first_trial: bool,
    },
    Nielsen {
        lambda: f64,
        nu: f64,
        min_shrink: f64,
    },
}

impl Damper {
    fn new(damping: Damping) -> Self {
        match damping {
            Damping::TrustRegion { step_bound } => {
                Damper::TrustRegion { lambda: 0.0, radius: 0.0, step_bound, first_trial: true }
            }
            Damping::Nielsen { initial_damping, min_shrink } => {
                Damper::Nielsen { lambda: initial_damping, nu: 2.0, min_shrink }
            }
        }
    }

    #[inline(always)]
    fn lambda(&self) -> f64 {
        match *self {
            Damper::TrustRegion { lambda, .. } | Damper::Nielsen { lambda, .. } => lambda,
        }
    }

    /// Writes the scale `D` (trust region: column norms, 1 for a column that has always been
    /// zero; the first call also sets `Δ₀ = step_bound·‖D·x₀‖`) or `D²` (Nielsen) from the
    /// running maximum `diag` of diag(JᵀJ).
    #[inline(always)]
    fn set_scale<D: Dim>(&mut self, dim: D, diag: &[f64], scale: &mut [f64], x: &[f64]) {
        let n = dim.get();
        match self {
            Damper::TrustRegion { radius, step_bound, first_trial, .. } => {
                for j in 0..n {
                    scale[j] = if diag[j] > 0.0 { diag[j].sqrt() } else { 1.0 };
                }
                if *first_trial {
                    let xs = x.iter().zip(scale.iter()).map(|(x, d)| (x * d).powi(2)).sum::<f64>();
                    *radius = if xs > 0.0 { *step_bound * xs.sqrt() } else { *step_bound };
                }
            }
            Damper::Nielsen { .. } => {
                let dmax = diag.iter().fold(0.0f64, |s, &v| s.max(v));
                for j in 0..n {
                    scale[j] = if diag[j] > 0.0 {
                        diag[j]
                    } else {
                        dmax.max(1.0) * 1e-12 + f64::MIN_POSITIVE
                    };
                }
            }
        }
    }

    /// `‖D⁻¹g‖` over the free variables, for the Moré–Hebden bounds on `λ` (0 for Nielsen).
    #[inline(always)]
    fn scaled_gradient_norm<D: Dim>(
        &self,
        dim: D,
        g: &[f64],
        scale: &[f64],
        active: &[bool],
    ) -> f64 {
        match self {
            Damper::TrustRegion { .. } => {
                // A loop, not an iterator sum: that one was not inlined.
                let mut s = 0.0;
                for j in 0..dim.get() {
                    if !active[j] {
                        s += (g[j] / scale[j]).powi(2);
                    }
                }
                s.sqrt()
            }
            Damper::Nielsen { .. } => 0.0,
        }
    }

    /// The damping has run away (or the region vanished): give up.
    #[inline(always)]
    fn exhausted(&self, max_damping: f64) -> bool {
        let lambda = self.lambda();
        let no_region = matches!(*self, Damper::TrustRegion { radius, .. } if !(radius > 0.0));
        lambda > max_damping || !lambda.is_finite() || no_region
    }

    /// Solves the damped system into `step.p` (`aug`: the matrix is `JᵀJ + S`).
    #[inline(always)]
    fn solve<D: Dim>(&mut self, step: &mut Damped<'_, D>, aug: bool) -> Solved {
        match self {
            Damper::TrustRegion { lambda, radius, .. } => {
                match step.trust_region_step(*radius, *lambda, aug) {
                    Some((l, _)) => {
                        *lambda = l;
                        Solved::Step
                    }
                    None if aug => Solved::Indefinite,
                    None => Solved::Stalled,
                }
            }
            Damper::Nielsen { lambda, .. } => {
                if step.solve(*lambda, true) {
                    Solved::Step
                } else if aug {
                    Solved::Indefinite
                } else {
                    self.reject();
                    Solved::Retry
                }
            }
        }
    }

    /// After the first trial step (of length `pnorm = ‖D·δ‖`): MINPACK shrinks `Δ₀` to it.
    #[inline(always)]
    fn after_trial(&mut self, pnorm: f64) {
        if let Damper::TrustRegion { radius, first_trial, .. } = self {
            if *first_trial && pnorm < *radius {
                *radius = pnorm;
            }
            *first_trial = false;
        }
    }

    /// Nielsen's rejection: `λ ← λ·ν`, `ν ← 2ν`.
    #[inline(always)]
    fn reject(&mut self) {
        if let Damper::Nielsen { lambda, nu, .. } = self {
            *lambda *= *nu;
            *nu *= 2.0;
        }
    }

    /// Nielsen's acceptance with gain ratio `gain`: `λ ← λ·max(min_shrink, 1 − (2ρ − 1)³)`.
    #[inline(always)]
    fn accept(&mut self, gain: f64) {
        if let Damper::Nielsen { lambda, nu, min_shrink } = self {
            *lambda *= (1.0 - (2.0 * gain - 1.0).powi(3)).max(*min_shrink);
            *lambda = lambda.max(f64::MIN_POSITIVE);
            *nu = 2.0;
        }
    }

    /// Judges `t` by its gain ratio `ρ = actual/predicted decrease`: accepted when
    /// `ρ ≥ min_gain`; updates the damping (trust region: MINPACK's radius update and cost
    /// test, relative to the current cost; Nielsen: accept or reject).
    #[inline(always)]
    fn judge(&mut self, t: &Trial, min_gain: f64, limits: &Limits) -> Verdict {
        let trust = matches!(self, Damper::TrustRegion { .. });
        let gain = match t.new_cost {
            Some(c) if t.pred > 0.0 => (t.cost - c) / t.pred,
            Some(_) if trust => 0.0,
            _ => f64::NEG_INFINITY,
        };
        let accepted = t.new_cost.filter(|_| gain >= min_gain);
        let mut verdict = Verdict { accepted, converged: false, decrease: None };
        match self {
            Damper::TrustRegion { lambda, radius, .. } => {
                let c0 = t.cost.max(f64::MIN_POSITIVE);
                let blown = t.new_cost.is_none_or(|c| c >= 100.0 * t.cost);
                let actred = match t.new_cost {
                    Some(c) if !blown => (t.cost - c) / c0,
                    _ => -1.0,
                };
                let prered = t.pred / c0;
                let dirder = t.lin / (2.0 * c0);
                if gain <= 0.25 {
                    let mut f =
                        if actred >= 0.0 { 0.5 } else { 0.5 * dirder / (dirder + 0.5 * actred) };
                    if blown || !(f >= 0.1) {
                        f = 0.1;
                    }
                    *radius = f * radius.min(10.0 * t.pnorm);
                    *lambda /= f;
                } else if *lambda == 0.0 || gain >= 0.75 {
                    *radius = 2.0 * t.pnorm;
                    *lambda *= 0.5;
                }
                let decrease =
                    Decrease { actual: actred.abs(), predicted: Some(prered), scale: 1.0 };
                let status = Status { decrease: Some(decrease), ..Status::default() };
                verdict.converged = limits.check(&status).is_some() && gain <= 2.0;
            }
            Damper::Nielsen { .. } => match accepted {
                Some(c) => {
                    self.accept(gain);
                    verdict.decrease = Some(Decrease {
                        actual: t.cost - c,
                        predicted: Some(t.pred),
                        scale: t.cost.abs().max(f64::MIN_POSITIVE),
                    });
                }
                None => self.reject(),
            },
        }
        verdict
    }
}

/// The result of a solve.
fn minimum(x: &[f64], cost: f64, stop: Stop, iters: u32, evals: Evals) -> Minimum {
    Minimum { x: x.to_vec(), cost, stop, iters, evals }
}

/// The state of one solve.
struct Solve<'a, D> {
    dim: D,
    bounds: Option<(&'a [f64], &'a [f64])>,
    ws: Work<'a>,
    damper: Damper,
    /// Cost at `ws.x`.
    cost: f64,
    iters: u32,
    /// Length of the last accepted step.
    last_step: f64,
    /// Nielsen: the last accepted step's decrease, for the cost test.
    decrease: Option<Decrease>,
    /// Rejected trials since the last accepted step: while fewer than two, a trial is
    /// likely accepted (after an accepted step, or after one rejection, which shrank the
    /// region) and is linearized directly, one call instead of cost() then linearize();
    /// after two rejections in a row only the cost is evaluated.
    rejected_in_row: u32,
    evals: Evals,
    /// When the solve started (only with a time budget).
    started: Option<Instant>,
}

impl<D: Dim> Solve<'_, D> {
    /// The result at the current iterate.
    #[inline(always)]
    fn done(&self, cost: f64, stop: Stop) -> Minimum {
        minimum(self.ws.x, cost, stop, self.iters, self.evals)
    }

    /// The model at `x`: `JᵀJ` (upper and lower) and `g = Jᵀr`, the running column norms,
    /// and the secant update from the last accepted step.
    #[inline(always)]
    fn model_at_x(&mut self) {
        let (n, ws) = (self.dim.get(), &mut self.ws);
        let secant = ws.secant.on && self.iters > 0;
        if secant {
            ws.secant.g_old.copy_from_slice(ws.g);
        }
        normal_equations(ws.jac, ws.r, n, ws.jtj, ws.g);
        for j in 0..n {
            for k in 0..j {
                ws.jtj[j * n + k] = ws.jtj[k * n + j];
            }
            let djj = ws.jtj[j * n + j];
            ws.diag[j] = ws.diag[j].max(djj);
        }
        if secant {
            ws.secant.update(self.dim, ws.jtj, ws.g, ws.delta, ws.w, self.cost);
        }
    }

    /// The gradient's max-norm (projected onto the box when bounded).
    #[inline(always)]
    fn grad_test_norm(&self) -> f64 {
        match self.bounds {
            Some((lo, hi)) => projected_grad_norm(self.ws.x, self.ws.g, lo, hi),
            None => self.ws.g.iter().fold(0.0f64, |s, v| s.max(v.abs())),
        }
    }

    /// `xt = P(x + δ)` and `δ ← xt − x`; returns `(‖δ‖, ‖x‖, ‖D·δ‖)`.
    #[inline(always)]
    fn project_trial(&mut self) -> (f64, f64, f64) {
        let ws = &mut self.ws;
        let mut dn = 0.0;
        let mut xn = 0.0;
        let mut pnorm = 0.0;
        for j in 0..self.dim.get() {
            let mut v = ws.x[j] + ws.delta[j];
            if let Some((lo, hi)) = self.bounds {
                v = v.clamp(lo[j], hi[j]);
            }
            ws.xt[j] = v;
            ws.delta[j] = v - ws.x[j];
            dn += ws.delta[j] * ws.delta[j];
            xn += ws.x[j] * ws.x[j];
            pnorm += (ws.scale[j] * ws.delta[j]).powi(2);
        }
        (dn.sqrt(), xn.sqrt(), pnorm.sqrt())
    }

    /// The cost at the trial point `xt`, finite or `None`: by `linearize()` into `rt`, `jt`
    /// when `optimistic`, else by `cost()`.
    #[inline(always)]
    fn evaluate_trial<P: LeastSquares>(&mut self, problem: &P, optimistic: bool) -> Option<f64> {
        let ws = &mut self.ws;
        let trial = if optimistic {
            self.evals.gradients += 1;
            problem.linearize(ws.xt, ws.rt, ws.jt)
        } else {
            self.evals.values += 1;
            problem.cost(ws.xt, ws.rt)
        };
        trial.filter(|c| c.is_finite())
    }

    /// Trial steps from `x`, the damping raised after each failure, until one is accepted
    /// (then `x`, its cost, residuals and Jacobian are the new iterate's). `Err` carries the
    /// cost to report and why the solve stops.
    #[inline(always)]
    fn accepted_step<P: LeastSquares>(
        &mut self,
        lm: &LevenbergMarquardt,
        problem: &P,
    ) -> Result<(), (f64, Stop)> {
        let (dim, limits) = (self.dim, &lm.limits);
        let bounded = self.bounds;
        let ws = &mut self.ws;
        for j in 0..dim.get() {
            ws.active[j] = bounded.is_some_and(|(lo, hi)| {
                (ws.x[j] <= lo[j] && ws.g[j] > 0.0) || (ws.x[j] >= hi[j] && ws.g[j] < 0.0)
            });
        }
        self.damper.set_scale(dim, ws.diag, ws.scale, ws.x);
        let dgnorm = self.damper.scaled_gradient_norm(dim, ws.g, ws.scale, ws.active);
        loop {
            let budget = Status {
                evals: Some(self.evals.total()),
                started: self.started,
                ..Status::default()
            };
            if let Some(stop) = limits.check(&budget) {
                return Err((self.cost, stop));
            }
            if self.damper.exhausted(lm.max_damping) {
                return Err((self.cost, Stop::Stalled));
            }
            let ws = &mut self.ws;
            let aug = ws.secant.augment(ws.jtj);
            let mut step = Damped {
                dim,
                jtj: if aug { ws.secant.model } else { ws.jtj },
                g: ws.g,
                d: ws.scale,
                active: ws.active,
                gnorm: dgnorm,
                chol: ws.chol,
                p: ws.delta,
                w: ws.w,
            };
            match self.damper.solve(&mut step, aug) {
                Solved::Step => {}
                Solved::Indefinite => {
                    ws.secant.use_aug = false;
                    continue;
                }
                Solved::Retry => continue,
                Solved::Stalled => return Err((self.cost, Stop::Stalled)),
            }
            let (dn, xn, pnorm) = self.project_trial();
            let status = Status { step: Some((dn, xn)), ..Status::default() };
            if let Some(stop) = limits.check(&status) {
                return Err((self.cost, stop));
            }
            self.damper.after_trial(pnorm);
            let ws = &self.ws;
            let (lin, p_gn, p_aug) = predicted_decrease(dim, ws.g, ws.jtj, &ws.secant, ws.delta);
            let pred = if aug { p_aug } else { p_gn };
            let optimistic = self.rejected_in_row < 2;
            let new_cost = self.evaluate_trial(problem, optimistic);
            let trial = Trial { cost: self.cost, new_cost, pred, lin, pnorm };
            let verdict = self.damper.judge(&trial, lm.min_gain, limits);
            if verdict.converged && verdict.accepted.is_none() {
                return Err((self.cost, Stop::CostTolerance));
            }
            let Some(c_new) = verdict.accepted else {
                self.rejected_in_row += 1;
                continue;
            };
            self.decrease = verdict.decrease;
            let ws = &mut self.ws;
            std::mem::swap(&mut ws.x, &mut ws.xt);
            (ws.secant.pred_gn, ws.secant.pred_aug, ws.secant.cost_old) = (p_gn, p_aug, self.cost);
            self.iters += 1;
            self.last_step = dn;
            if verdict.converged {
                return Err((c_new, Stop::CostTolerance));
            }
            if optimistic {
                std::mem::swap(&mut ws.r, &mut ws.rt);
                std::mem::swap(&mut ws.jac, &mut ws.jt);
                self.cost = c_new;
            } else {
                self.evals.gradients += 1;
                match problem.linearize(ws.x, ws.r, ws.jac) {
                    Some(c) if c.is_finite() => self.cost = c,
                    _ => return Err((c_new, Stop::Stalled)),
                }
            }
            self.rejected_in_row = 0;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Counted, FnResiduals};

    #[test]
    fn fits_exponential_decay_exactly() {
        // y = 2·exp(−0.5 t) sampled without noise: closed-form optimum (2, 0.5), cost 0.
        let t = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0];
        let p = FnResiduals::new(6, 2, |x: &[f64], r: &mut [f64], j: Option<&mut [f64]>| {
            for (i, &ti) in t.iter().enumerate() {
                let e = (-x[1] * ti).exp();
                r[i] = x[0] * e - 2.0 * (-0.5 * ti).exp();
            }
            if let Some(j) = j {
                for (i, &ti) in t.iter().enumerate() {
                    let e = (-x[1] * ti).exp();
                    j[2 * i] = e;
                    j[2 * i + 1] = -x[0] * ti * e;
                }
            }
            Some(())
        });
        for (damping, secant) in [
            (Damping::default(), true),
            (Damping::minpack(), false),
            (Damping::nielsen(), false),
            (Damping::nielsen(), true),
        ] {
            let c = Counted::new(&p);
            let lm = LevenbergMarquardt { secant, ..LevenbergMarquardt::default() }
                .with_damping(damping);
            let m = lm.minimize(&c, &[1.0, 1.0], None, &mut ());
            assert!((m.x[0] - 2.0).abs() < 1e-9 && (m.x[1] - 0.5).abs() < 1e-9, "{m:?}");
            assert_eq!(m.evals, c.evals());
        }
    }

    /// A damped solve on the 2×2 system `A = jtj`, `g = (1, 1)`, `D = 1`.
    fn trust_step(jtj: [f64; 4], radius: f64, need_definite: bool) -> Option<(f64, f64, [f64; 2])> {
        let (mut chol, mut p, mut w) = ([0.0; 4], [0.0; 2], [0.0; 2]);
        let mut step = Damped {
            dim: Fixed::<2>,
            jtj: &jtj,
            g: &[1.0, 1.0],
            d: &[1.0, 1.0],
            active: &[false, false],
            gnorm: 2f64.sqrt(),
            chol: &mut chol,
            p: &mut p,
            w: &mut w,
        };
        let (l, dx) = step.trust_region_step(radius, 0.0, need_definite)?;
        Some((l, dx, p))
    }

    #[test]
    fn trust_region_step_meets_the_radius_and_refuses_an_indefinite_model() {
        // Positive definite: the Gauss–Newton step (length √2/3 ≈ 0.47) fits a radius of 1;
        // a radius of 0.1 needs λ > 0 and a step within 10 % of it.
        let spd = [3.0, 0.0, 0.0, 3.0];
        let (l, dx, p) = trust_step(spd, 1.0, true).unwrap();
        assert_eq!(l, 0.0);
        assert!((p[0] + 1.0 / 3.0).abs() < 1e-15 && (dx - 2f64.sqrt() / 3.0).abs() < 1e-15);
        let (l, dx, _) = trust_step(spd, 0.1, true).unwrap();
        assert!(l > 0.0 && (dx - 0.1).abs() <= 0.01, "λ {l}, ‖Dp‖ {dx}");
        // Indefinite (eigenvalues 3 and −1), as the secant-augmented model can be: refused when
        // a definite matrix is needed (the caller falls back to Gauss–Newton); otherwise
        // damped until definite, with a step inside the region.
        let indefinite = [1.0, 2.0, 2.0, 1.0];
        assert!(trust_step(indefinite, 0.1, true).is_none());
        let (l, dx, _) = trust_step(indefinite, 0.1, false).unwrap();
        assert!(l > 1.0 && dx <= 0.11, "λ {l}, ‖Dp‖ {dx}");
    }

    /// A random SPD matrix `AᵀA + I` (`n×n`), a gradient and a positive scale, seeded.
    fn random_system(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let a: Vec<f64> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut jtj = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                jtj[i * n + j] = (0..n).map(|k| a[k * n + i] * a[k * n + j]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let g = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let d = (0..n).map(|_| rng.random_range(0.5..2.0)).collect();
        (jtj, g, d)
    }

    #[test]
    fn damped_solve_matches_cholesky_and_newton_correction_matches_the_derivative() {
        // n ≤ 8 runs the fixed-size LDLᵀ kernel, n > 8 the general one: both must give the
        // step of a plain Cholesky solve, and Moré's correction must equal
        // (φ/Δ)·‖Dp‖/(−φ′(λ)) with φ′ from central differences of ‖D·p(λ)‖.
        for n in 1..=10 {
            let (jtj, g, d) = random_system(n, 40 + n as u64);
            let lambda = 0.3;
            let (mut chol, mut p, mut w) = (vec![0.0; n * n], vec![0.0; n], vec![0.0; n]);
            let active = vec![false; n];
            let mut step = Damped {
                dim: Runtime(n),
                jtj: &jtj,
                g: &g,
                d: &d,
                active: &active,
                gnorm: 0.0,
                chol: &mut chol,
                p: &mut p,
                w: &mut w,
            };
            let norm_at = |step: &mut Damped<'_, Runtime>, l: f64| {
                assert!(step.solve(l, false));
                step.scaled_norm()
            };
            let h = 1e-6;
            let dphi =
                (norm_at(&mut step, lambda + h) - norm_at(&mut step, lambda - h)) / (2.0 * h);
            let dx = norm_at(&mut step, lambda);
            let radius = 0.5 * dx;
            let fp = dx - radius;
            let parc = step.newton_correction(fp, dx, radius);
            let expected = (fp / radius) * dx / -dphi;
            assert!((parc - expected).abs() < 1e-6 * expected.abs(), "n {n}: {parc} vs {expected}");
            let mut a = jtj.clone();
            for j in 0..n {
                a[j * n + j] += lambda * d[j] * d[j];
            }
            assert!(linalg::cholesky(&mut a, n));
            let mut x: Vec<f64> = g.iter().map(|v| -v).collect();
            linalg::cholesky_solve(&a, n, &mut x);
            for (u, v) in p.iter().zip(&x) {
                assert!((u - v).abs() < 1e-12 * (1.0 + v.abs()), "n {n}: {u} vs {v}");
            }
        }
    }
}
