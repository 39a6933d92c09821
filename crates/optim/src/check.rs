//! Derivative checks by central finite differences, for the tests of every loss, penalty,
//! transform and model.
//!
//! The step for coordinate `j` is `h·max(|xⱼ|, 1)` with `h = ε^{1/3} ≈ 6e-6` by default:
//! it balances the `O(h²)` truncation error of the central difference against the
//! `O(ε/h)` rounding error, leaving a relative error around `1e-10·(scale of f''')`.

use crate::loss::Loss;
use crate::problem::{Objective, Residuals};

/// Default relative step `ε^{1/3}`.
pub const DEFAULT_STEP: f64 = 6.055_454_452_393_343e-6;

/// The outcome of a derivative check: analytic and finite-difference values side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    /// Largest `|analytic − fd|`.
    pub max_abs: f64,
    /// Largest `|analytic − fd| / max(|analytic|, |fd|)` over entries where that is nonzero.
    pub max_rel: f64,
    /// Finite-difference values (a gradient, or a row-major Jacobian).
    pub fd: Vec<f64>,
    /// Analytic values, same layout.
    pub analytic: Vec<f64>,
}

impl GradCheck {
    fn from_pairs(fd: Vec<f64>, analytic: Vec<f64>) -> Self {
        let mut max_abs: f64 = 0.0;
        let mut max_rel: f64 = 0.0;
        for (&f, &a) in fd.iter().zip(&analytic) {
            let d = (a - f).abs();
            max_abs = max_abs.max(d);
            let m = a.abs().max(f.abs());
            if m > 0.0 {
                max_rel = max_rel.max(d / m);
            }
            if d.is_nan() {
                max_abs = f64::NAN;
                max_rel = f64::NAN;
            }
        }
        GradCheck { max_abs, max_rel, fd, analytic }
    }

    /// True when every entry satisfies `|a − f| ≤ atol + rtol·max(|a|, |f|)`.
    pub fn passes(&self, rtol: f64, atol: f64) -> bool {
        self.fd.iter().zip(&self.analytic).all(|(&f, &a)| {
            let d = (a - f).abs();
            d <= atol + rtol * a.abs().max(f.abs())
        })
    }
}

fn step(x: f64, rel: f64) -> f64 {
    rel * x.abs().max(1.0)
}

/// Checks `Objective::value_grad`'s gradient at `x` against central differences of
/// `Objective::value` with relative step `rel_step` (default [`DEFAULT_STEP`]).
///
/// Returns `None` if the objective cannot be evaluated at `x` or a perturbed point.
pub fn check_gradient<P: Objective + ?Sized>(
    p: &P,
    x: &[f64],
    rel_step: Option<f64>,
) -> Option<GradCheck> {
    let n = x.len();
    let rel = rel_step.unwrap_or(DEFAULT_STEP);
    let mut analytic = vec![0.0; n];
    p.value_grad(x, &mut analytic)?;
    let mut fd = vec![0.0; n];
    let mut xp = x.to_vec();
    for j in 0..n {
        let h = step(x[j], rel);
        xp[j] = x[j] + h;
        let fp = p.value(&xp)?;
        xp[j] = x[j] - h;
        let fm = p.value(&xp)?;
        xp[j] = x[j];
        // Divide by the step actually taken, which may differ from h by rounding.
        fd[j] = (fp - fm) / ((x[j] + h) - (x[j] - h));
    }
    Some(GradCheck::from_pairs(fd, analytic))
}

/// Checks a [`Residuals`] Jacobian at `x` against central differences of the residuals.
/// `fd` and `analytic` are row-major `m×n`.
///
/// Returns `None` if the residuals cannot be evaluated at `x` or a perturbed point.
pub fn check_jacobian<R: Residuals + ?Sized>(
    p: &R,
    x: &[f64],
    rel_step: Option<f64>,
) -> Option<GradCheck> {
    let (m, n) = (p.num_residuals(), x.len());
    let rel = rel_step.unwrap_or(DEFAULT_STEP);
    let mut r = vec![0.0; m];
    let mut analytic = vec![0.0; m * n];
    p.eval(x, &mut r, Some(&mut analytic))?;
    let mut fd = vec![0.0; m * n];
    let (mut rp, mut rm) = (vec![0.0; m], vec![0.0; m]);
    let mut xp = x.to_vec();
    for j in 0..n {
        let h = step(x[j], rel);
        xp[j] = x[j] + h;
        p.eval(&xp, &mut rp, None)?;
        xp[j] = x[j] - h;
        p.eval(&xp, &mut rm, None)?;
        xp[j] = x[j];
        let dx = (x[j] + h) - (x[j] - h);
        for i in 0..m {
            fd[i * n + j] = (rp[i] - rm[i]) / dx;
        }
    }
    Some(GradCheck::from_pairs(fd, analytic))
}

/// Checks a loss at `s`: `fd = [ρ'_fd, ρ''_fd]` from central differences of ρ and of the
/// analytic ρ', `analytic = [ρ', ρ'']`. The step is `rel_step·max(s, 1)` but never more
/// than `s/2`, so the stencil stays on `s ≥ 0` (at `s = 0` use the exact triple instead).
pub fn check_loss<L: Loss + ?Sized>(loss: &L, s: f64, rel_step: Option<f64>) -> GradCheck {
    let h = step(s, rel_step.unwrap_or(DEFAULT_STEP)).min(0.5 * s);
    let [_, d1, d2] = loss.rho(s);
    let [fp, dp, _] = loss.rho(s + h);
    let [fm, dm, _] = loss.rho(s - h);
    let dx = (s + h) - (s - h);
    GradCheck::from_pairs(vec![(fp - fm) / dx, (dp - dm) / dx], vec![d1, d2])
}

/// Panics with a side-by-side table unless the gradient of `p` at `x` matches central
/// differences entrywise to `|a − f| ≤ atol + rtol·max(|a|, |f|)`. For other crates' tests.
///
/// # Panics
/// When the check fails or `p` cannot be evaluated around `x`.
pub fn assert_gradient_matches<P: Objective + ?Sized>(p: &P, x: &[f64], rtol: f64, atol: f64) {
    let c = check_gradient(p, x, None).expect("objective must evaluate at and around x");
    if !c.passes(rtol, atol) {
        let mut msg = format!("gradient mismatch at x = {x:?} (rtol {rtol:e}, atol {atol:e})\n");
        msg.push_str("   j        analytic              fd         abs diff\n");
        for (j, (a, f)) in c.analytic.iter().zip(&c.fd).enumerate() {
            msg.push_str(&format!("{j:>4} {a:>15.8e} {f:>15.8e} {:>15.3e}\n", (a - f).abs()));
        }
        panic!("{msg}");
    }
}

/// Like [`assert_gradient_matches`] for a [`Residuals`] Jacobian.
///
/// # Panics
/// When the check fails or `p` cannot be evaluated around `x`.
pub fn assert_jacobian_matches<R: Residuals + ?Sized>(p: &R, x: &[f64], rtol: f64, atol: f64) {
    let c = check_jacobian(p, x, None).expect("residuals must evaluate at and around x");
    if !c.passes(rtol, atol) {
        let n = x.len().max(1);
        let mut msg = format!("Jacobian mismatch at x = {x:?} (rtol {rtol:e}, atol {atol:e})\n");
        for (k, (a, f)) in c.analytic.iter().zip(&c.fd).enumerate() {
            if (a - f).abs() > atol + rtol * a.abs().max(f.abs()) {
                msg.push_str(&format!("  [{}, {}] analytic {a:e} fd {f:e}\n", k / n, k % n));
            }
        }
        panic!("{msg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::FnObjective;

    #[test]
    fn detects_right_and_wrong_gradients() {
        // f = x₀²·x₁ + sin x₁; ∇f = (2x₀x₁, x₀² + cos x₁) in closed form.
        let good = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * x[0] * x[1];
            g[1] = x[0] * x[0] + x[1].cos();
            Some(x[0] * x[0] * x[1] + x[1].sin())
        });
        let c = check_gradient(&good, &[1.3, -0.4], None).expect("evaluates");
        assert!(c.max_rel < 1e-9, "{c:?}");
        assert_gradient_matches(&good, &[1.3, -0.4], 1e-8, 1e-10);
        // A deliberately wrong gradient (cos replaced by sin) must fail.
        let bad = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * x[0] * x[1];
            g[1] = x[0] * x[0] + x[1].sin();
            Some(x[0] * x[0] * x[1] + x[1].sin())
        });
        let c = check_gradient(&bad, &[1.3, -0.4], None).expect("evaluates");
        assert!(!c.passes(1e-6, 1e-8));
        assert!(std::panic::catch_unwind(|| assert_gradient_matches(
            &bad,
            &[1.3, -0.4],
            1e-6,
            1e-8
        ))
        .is_err());
    }
}
