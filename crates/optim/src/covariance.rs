//! Parameter uncertainty at a solution of a [`RobustSum`]: Gauss–Newton covariance, the
//! sandwich (Huber–White) form under robust losses, standard errors, and per-residual
//! effective weights and outlier flags.
//!
//! With `uᵢ = φ(rᵢ)`, `ρ₁ᵢ = wᵢρ'(uᵢ²)`, `ρ₂ᵢ = wᵢρ''(uᵢ²)`, `sᵢ = uᵢ²` and `jᵢ = ∇uᵢ`:
//!
//! * Gauss–Newton: `Σ = σ̂²·H⁻¹` with `H = J̃ᵀJ̃` from the corrected rows that LM sees
//!   (Ceres' corrector: `(ρ₁ + 2sρ₂)·jᵢjᵢᵀ` where `ρ₂ > 0`, else `ρ₁·jᵢjᵢᵀ`; penalty rows
//!   included) and `σ̂² = Σᵢ wᵢρ(sᵢ)/(m − n)`. For weighted least squares this is the
//!   textbook `σ̂²(JᵀWJ)⁻¹`. Penalty rows are treated as data here.
//! * Sandwich: `Σ = H⁻¹·B·H⁻¹` with the exact curvature `H = Σᵢ max(ρ₁ + 2sρ₂, 0)·jᵢjᵢᵀ`
//!   plus the penalty rows, and `B = Σᵢ gᵢgᵢᵀ`, `gᵢ = ρ₁ᵢ·uᵢ·jᵢ` (each residual's score,
//!   `(wψ)²jᵢjᵢᵀ`). This is the M-estimator covariance of Huber (1967): for Huber's loss
//!   `H` counts only the inliers and `ψ` is the clipped residual. The corrector's clamp is
//!   not used here because it would count an outlier's `ρ₁` as curvature and understate
//!   the variance. Under MSE it is White's (1980) HC0 estimator.
//!
//! Dense algebra goes through [`crate::linalg`]. This runs once per fit, so it allocates.

use crate::linalg;
use crate::loss::Loss;
use crate::problem::{LeastSquares, Residuals};
use crate::robust::RobustSum;

/// Why a covariance could not be computed.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CovarianceError {
    /// The problem cannot be evaluated at the given point.
    #[error("the problem cannot be evaluated at the solution")]
    Infeasible,
    /// Too few residuals for a residual-variance estimate.
    #[error("{m} residuals for {n} parameters: no degrees of freedom left")]
    DegreesOfFreedom {
        /// Residuals.
        m: usize,
        /// Parameters.
        n: usize,
    },
    /// `H` is not numerically positive definite (parameters not identified).
    #[error("the Gauss–Newton Hessian is singular: parameters are not identified")]
    Singular,
}

/// Which estimator produced a [`Covariance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CovarianceKind {
    /// `σ̂²·H⁻¹`.
    GaussNewton,
    /// `H⁻¹·B·H⁻¹`.
    Sandwich,
}

/// A parameter covariance matrix (`n×n`, row-major).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Covariance {
    n: usize,
    matrix: Vec<f64>,
    kind: CovarianceKind,
    sigma2: f64,
}

impl Covariance {
    /// The estimator.
    pub fn kind(&self) -> CovarianceKind {
        self.kind
    }
    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.n
    }
    /// The row-major `n×n` matrix.
    pub fn matrix(&self) -> &[f64] {
        &self.matrix
    }
    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.matrix[i * self.n + j]
    }
    /// Residual variance `σ̂²` used (1 for the sandwich form, which needs none).
    pub fn residual_variance(&self) -> f64 {
        self.sigma2
    }
    /// Standard errors `√Σⱼⱼ`.
    pub fn std_errors(&self) -> Vec<f64> {
        (0..self.n).map(|j| self.get(j, j).max(0.0).sqrt()).collect()
    }
    /// The covariance of `x = T(y)` for an elementwise map with derivatives `dx` (delta
    /// method: `Σₓ = D·Σ_y·D`, `D = diag(dx)`), e.g. from free coordinates of a
    /// [`Transformed`](crate::transform::Transformed) fit back to model parameters via
    /// [`Domain::from_free`](crate::transform::Domain::from_free).
    ///
    /// # Panics
    /// When `dx.len()` differs from the number of parameters.
    pub fn mapped(&self, dx: &[f64]) -> Covariance {
        assert_eq!(dx.len(), self.n, "one derivative per parameter");
        let n = self.n;
        let mut matrix = self.matrix.clone();
        for i in 0..n {
            for j in 0..n {
                matrix[i * n + j] *= dx[i] * dx[j];
            }
        }
        Covariance { matrix, ..self.clone() }
    }

    /// The correlation matrix (row-major).
    pub fn correlation(&self) -> Vec<f64> {
        let se = self.std_errors();
        let n = self.n;
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let d = se[i] * se[j];
                c[i * n + j] = if d > 0.0 { self.get(i, j) / d } else { f64::NAN };
            }
        }
        c
    }
}

/// Everything [`at_solution`] computes.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Gauss–Newton covariance.
    pub gauss_newton: Covariance,
    /// Sandwich covariance; an error when its `H` is singular although Gauss–Newton's is
    /// not (e.g. a redescending loss has rejected too many residuals).
    pub sandwich: Result<Covariance, CovarianceError>,
    /// Effective weight `wᵢρ'(φ(rᵢ)²)` per residual.
    pub weights: Vec<f64>,
    /// Outlier flag per residual (see [`RobustSum::outliers`]).
    pub outliers: Vec<bool>,
}

/// Pieces of an estimator: `H⁻¹` (of the kind's `H`), the scores' `B` (`n×n` each, in one
/// buffer), and `σ̂²`.
struct Parts {
    mats: Vec<f64>,
    n: usize,
    sigma2: f64,
}

impl Parts {
    fn h_inv(&self) -> &[f64] {
        &self.mats[..self.n * self.n]
    }
    fn b(&self) -> &[f64] {
        &self.mats[self.n * self.n..2 * self.n * self.n]
    }
}

/// Adds `c·v·vᵀ` to the `n×n` matrix `h`.
fn add_outer(h: &mut [f64], v: &[f64], c: f64) {
    let n = v.len();
    for a in 0..n {
        for e in 0..n {
            h[a * n + e] += c * v[a] * v[e];
        }
    }
}

/// The raw residuals and Jacobian of `p`'s residual problem at `x` (one evaluation).
fn raw<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), CovarianceError> {
    let (m, n) = (p.num_residuals(), x.len());
    let (mut r, mut j) = (vec![0.0; m], vec![0.0; m * n]);
    p.residuals().eval(x, &mut r, Some(&mut j)).ok_or(CovarianceError::Infeasible)?;
    Ok((r, j))
}

/// The pieces of `kind` at `x` from the raw residuals `r` and their Jacobian `j` there.
fn parts<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
    r: &[f64],
    j: &[f64],
    kind: CovarianceKind,
) -> Result<Parts, CovarianceError> {
    let n = x.len();
    let m = p.num_residuals();
    if m <= n {
        return Err(CovarianceError::DegreesOfFreedom { m, n });
    }
    if r.len() != m || j.len() != m * n {
        return Err(CovarianceError::Infeasible);
    }
    // Corrected rows: all of them for Gauss–Newton, the penalty rows for the sandwich.
    let k = p.num_rows();
    let mut lin = vec![0.0; k * (n + 1)];
    let (rows, jt) = lin.split_at_mut(k);
    rows[..m].copy_from_slice(r);
    jt[..m * n].copy_from_slice(j);
    p.correct_rows(x, rows, jt).ok_or(CovarianceError::Infeasible)?;
    let first = if kind == CovarianceKind::GaussNewton { 0 } else { m };
    // H⁻¹, B, H and a column of scratch in one buffer.
    let mut mats = vec![0.0; 3 * n * n + n];
    let (h_inv_b, rest) = mats.split_at_mut(2 * n * n);
    let (h, col) = rest.split_at_mut(n * n);
    for row in jt.chunks_exact(n.max(1)).take(k).skip(first) {
        add_outer(h, row, 1.0);
    }
    // Scores gᵢ = wᵢρ'(uᵢ²)·uᵢ·φ'(rᵢ)·∇rᵢ, the data part of the cost, and for the sandwich
    // the exact curvature max(ρ₁ + 2sρ₂, 0)·φ'²·∇rᵢ∇rᵢᵀ.
    let sandwich = kind == CovarianceKind::Sandwich;
    let (h_inv, b) = h_inv_b.split_at_mut(n * n);
    let mut rho_sum = 0.0;
    for i in 0..m {
        let [u, du] = p.scaling().apply(r[i]);
        let s = u * u;
        let [d0, d1, d2] = p.loss().rho(s);
        let w = p.weights().map_or(1.0, |w| w[i]);
        rho_sum += w * d0;
        if !sandwich {
            continue;
        }
        let c = w * d1 * u * du;
        let ji = &j[i * n..(i + 1) * n];
        add_outer(b, ji, c * c);
        let curv = (w * (d1 + 2.0 * s * d2)).max(0.0);
        add_outer(h, ji, curv * du * du);
    }
    if !linalg::cholesky(h, n) {
        return Err(CovarianceError::Singular);
    }
    linalg::cholesky_inverse(h, n, h_inv, col);
    Ok(Parts { mats, n, sigma2: rho_sum / (m - n) as f64 })
}

fn sandwich_of(parts: &Parts, n: usize) -> Vec<f64> {
    let (hi, b) = (parts.h_inv(), parts.b());
    let mut t = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            t[i * n + j] = (0..n).map(|k| hi[i * n + k] * b[k * n + j]).sum();
        }
    }
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = (0..n).map(|k| t[i * n + k] * hi[k * n + j]).sum();
        }
    }
    // Symmetrise away rounding.
    for i in 0..n {
        for j in i + 1..n {
            let v = 0.5 * (s[i * n + j] + s[j * n + i]);
            s[i * n + j] = v;
            s[j * n + i] = v;
        }
    }
    s
}

/// Gauss–Newton covariance `σ̂²·H⁻¹` at `x` (see the module docs).
///
/// # Errors
/// [`CovarianceError`] when `x` cannot be evaluated, `m ≤ n`, or `H` is singular.
pub fn gauss_newton<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
) -> Result<Covariance, CovarianceError> {
    let (r, j) = raw(p, x)?;
    gauss_newton_from(p, x, &r, &j)
}

/// [`gauss_newton`] from the raw residuals `r` (length `m`) and their row-major Jacobian
/// `j` (`m×n`) already evaluated at `x`: no evaluation of the problem's residuals.
///
/// # Errors
/// As [`gauss_newton`]; [`CovarianceError::Infeasible`] also for mis-sized `r` or `j`.
pub fn gauss_newton_from<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
    r: &[f64],
    j: &[f64],
) -> Result<Covariance, CovarianceError> {
    let parts = parts(p, x, r, j, CovarianceKind::GaussNewton)?;
    let matrix = parts.h_inv().iter().map(|v| v * parts.sigma2).collect();
    Ok(Covariance { n: x.len(), matrix, kind: CovarianceKind::GaussNewton, sigma2: parts.sigma2 })
}

/// Sandwich covariance `H⁻¹·B·H⁻¹` at `x` (see the module docs).
///
/// # Errors
/// [`CovarianceError`] when `x` cannot be evaluated, `m ≤ n`, or `H` is singular.
pub fn sandwich<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
) -> Result<Covariance, CovarianceError> {
    let (r, j) = raw(p, x)?;
    sandwich_from(p, x, &r, &j)
}

/// [`sandwich`] from the raw residuals `r` and their Jacobian `j` already evaluated at
/// `x` (as [`gauss_newton_from`]).
///
/// # Errors
/// As [`sandwich`]; [`CovarianceError::Infeasible`] also for mis-sized `r` or `j`.
pub fn sandwich_from<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
    r: &[f64],
    j: &[f64],
) -> Result<Covariance, CovarianceError> {
    let parts = parts(p, x, r, j, CovarianceKind::Sandwich)?;
    let n = x.len();
    Ok(Covariance {
        n,
        matrix: sandwich_of(&parts, n),
        kind: CovarianceKind::Sandwich,
        sigma2: 1.0,
    })
}

/// Both covariances, effective weights and outlier flags (`ρ' < outlier_threshold`) at `x`.
///
/// # Errors
/// As [`gauss_newton`]; a failing sandwich is reported inside [`Solution`].
pub fn at_solution<R: Residuals, L: Loss>(
    p: &RobustSum<R, L>,
    x: &[f64],
    outlier_threshold: f64,
) -> Result<Solution, CovarianceError> {
    let gauss_newton = gauss_newton(p, x)?;
    let m = p.num_residuals();
    let mut weights = vec![0.0; m];
    p.effective_weights(x, &mut weights).ok_or(CovarianceError::Infeasible)?;
    let mut outliers = vec![false; m];
    p.outliers(x, outlier_threshold, &mut outliers).ok_or(CovarianceError::Infeasible)?;
    Ok(Solution { gauss_newton, sandwich: sandwich(p, x), weights, outliers })
}

// Index loops mirror the closed-form formulas the tests compare against.
#[allow(clippy::needless_range_loop)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{Huber, Squared};
    use crate::problem::FnResiduals;

    /// Deterministic data y = 1 + 2t + e with a fixed zig-zag e (no RNG needed).
    const T: [f64; 8] = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5];
    const E: [f64; 8] = [0.12, -0.3, 0.05, 0.21, -0.17, 0.02, -0.08, 0.25];

    fn line() -> impl Residuals {
        FnResiduals::new(8, 2, |x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>| {
            for i in 0..8 {
                r[i] = x[0] + x[1] * T[i] - (1.0 + 2.0 * T[i] + E[i]);
            }
            if let Some(j) = jac {
                for i in 0..8 {
                    j[2 * i] = 1.0;
                    j[2 * i + 1] = T[i];
                }
            }
            Some(())
        })
    }

    /// OLS fit, (XᵀX)⁻¹ and residuals in closed form for a straight line.
    fn ols() -> ([f64; 2], [f64; 4], [f64; 8]) {
        let m = 8.0;
        let (st, stt) = (T.iter().sum::<f64>(), T.iter().map(|t| t * t).sum::<f64>());
        let y: Vec<f64> = (0..8).map(|i| 1.0 + 2.0 * T[i] + E[i]).collect();
        let (sy, sty) = (y.iter().sum::<f64>(), (0..8).map(|i| T[i] * y[i]).sum::<f64>());
        let det = m * stt - st * st;
        let inv = [stt / det, -st / det, -st / det, m / det];
        let beta = [inv[0] * sy + inv[1] * sty, inv[2] * sy + inv[3] * sty];
        let mut e = [0.0; 8];
        for i in 0..8 {
            e[i] = y[i] - beta[0] - beta[1] * T[i];
        }
        (beta, inv, e)
    }

    #[test]
    fn gauss_newton_equals_textbook_ols_covariance() {
        // Closed form: Σ = σ̂²(XᵀX)⁻¹ with σ̂² = RSS/(m − 2) (e.g. Greene, Econometric
        // Analysis, §4.3); agreement to rounding (1e-12 relative).
        let (beta, inv, e) = ols();
        let s2 = e.iter().map(|v| v * v).sum::<f64>() / 6.0;
        let p = RobustSum::new(line(), Squared);
        let c = gauss_newton(&p, &beta).expect("identified");
        for k in 0..4 {
            let want = s2 * inv[k];
            assert!((c.matrix()[k] - want).abs() <= 1e-12 * want.abs(), "{k}");
        }
        assert!((c.residual_variance() - s2).abs() <= 1e-13 * s2);
        assert!((c.std_errors()[1] - (s2 * inv[3]).sqrt()).abs() <= 1e-12);
        // Delta method, closed form: scaling parameter 1 by 3 scales its variance by 9 and
        // the covariance by 3; correlations are unchanged.
        let d = c.mapped(&[1.0, 3.0]);
        assert!((d.get(1, 1) - 9.0 * c.get(1, 1)).abs() <= 1e-15 * d.get(1, 1));
        assert!((d.get(0, 1) - 3.0 * c.get(0, 1)).abs() <= 1e-15 * d.get(0, 1).abs());
        assert!((d.correlation()[1] - c.correlation()[1]).abs() <= 1e-15);
    }

    #[test]
    fn sandwich_equals_white_hc0() {
        // Closed form: White (1980) HC0 = (XᵀX)⁻¹ Xᵀdiag(e²)X (XᵀX)⁻¹; 1e-12 relative.
        let (beta, inv, e) = ols();
        let mut meat = [0.0; 4];
        for i in 0..8 {
            let xi = [1.0, T[i]];
            for a in 0..2 {
                for b in 0..2 {
                    meat[a * 2 + b] += e[i] * e[i] * xi[a] * xi[b];
                }
            }
        }
        let mul = |a: &[f64; 4], b: &[f64; 4]| {
            [
                a[0] * b[0] + a[1] * b[2],
                a[0] * b[1] + a[1] * b[3],
                a[2] * b[0] + a[3] * b[2],
                a[2] * b[1] + a[3] * b[3],
            ]
        };
        let want = mul(&mul(&inv, &meat), &inv);
        let p = RobustSum::new(line(), Squared);
        let c = sandwich(&p, &beta).expect("identified");
        for k in 0..4 {
            assert!((c.matrix()[k] - want[k]).abs() <= 1e-12 * want[k].abs(), "{k}");
        }
    }

    #[test]
    fn huber_sandwich_closed_form() {
        // Huber (1967/1981, §7.6) for a linear model at a point β: bread H = Σ_{|eᵢ|≤a} xᵢxᵢᵀ
        // (ψ' = 1 inside, 0 outside), meat B = Σ ψ(eᵢ)² xᵢxᵢᵀ with ψ(e) = clamp(e, −a, a);
        // Σ = H⁻¹BH⁻¹. Evaluated at the OLS point (any point works for the identity);
        // 1e-12 relative.
        let (beta, _, e) = ols();
        let a = 0.15;
        let (mut h, mut meat) = ([0.0; 4], [0.0; 4]);
        for i in 0..8 {
            let xi = [1.0, T[i]];
            let psi = e[i].clamp(-a, a);
            let inside = if e[i].abs() <= a { 1.0 } else { 0.0 };
            for r in 0..2 {
                for c in 0..2 {
                    h[r * 2 + c] += inside * xi[r] * xi[c];
                    meat[r * 2 + c] += psi * psi * xi[r] * xi[c];
                }
            }
        }
        let det = h[0] * h[3] - h[1] * h[2];
        let hi = [h[3] / det, -h[1] / det, -h[2] / det, h[0] / det];
        let mul = |a: &[f64; 4], b: &[f64; 4]| {
            [
                a[0] * b[0] + a[1] * b[2],
                a[0] * b[1] + a[1] * b[3],
                a[2] * b[0] + a[3] * b[2],
                a[2] * b[1] + a[3] * b[3],
            ]
        };
        let want = mul(&mul(&hi, &meat), &hi);
        let p = RobustSum::new(line(), Huber::new(a).expect("valid"));
        let c = sandwich(&p, &beta).expect("identified");
        assert!(e.iter().filter(|v| v.abs() > a).count() >= 2, "data must have outliers");
        for k in 0..4 {
            assert!((c.matrix()[k] - want[k]).abs() <= 1e-12 * want[k].abs(), "{k}");
        }
    }

    #[test]
    fn robust_solution_flags_and_weights() {
        // Huber scale 0.1: residuals beyond 0.2 get ρ' = 0.1/|u| < 0.5 (closed form).
        let (beta, _, e) = ols();
        let p = RobustSum::new(line(), Huber::new(0.1).expect("valid"));
        let s = at_solution(&p, &beta, 0.5).expect("identified");
        for i in 0..8 {
            let want = if e[i].abs() > 0.1 { 0.1 / e[i].abs() } else { 1.0 };
            assert!((s.weights[i] - want).abs() < 1e-12);
            assert_eq!(s.outliers[i], e[i].abs() > 0.2);
        }
        let sw = s.sandwich.as_ref().expect("identified");
        assert!(sw.std_errors().iter().all(|v| v.is_finite() && *v > 0.0));
        // Too few residuals.
        let tiny = RobustSum::new(
            FnResiduals::new(1, 2, |_: &[f64], r: &mut [f64], _: Option<&mut [f64]>| {
                r[0] = 0.0;
                Some(())
            }),
            Squared,
        );
        assert_eq!(
            gauss_newton(&tiny, &[0.0, 0.0]),
            Err(CovarianceError::DegreesOfFreedom { m: 1, n: 2 })
        );
    }
}
