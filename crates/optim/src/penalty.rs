//! Penalties added to the robust cost: ridge (toward zero or a prior such as yesterday's
//! fit), smoothed L1, a closure ([`FnPenalty`]), and any other [`Penalty`] implementation
//! (volfit's butterfly and calendar no-arbitrage penalties are ones).
//!
//! A penalty `p(x) ≥ 0` has a scalar view (value and gradient, for first-order solvers)
//! and a least-squares view (rows `rₖ` with `½ Σ rₖ² = p`, for Levenberg–Marquardt).
//! The default least-squares view is one row `r = √(2p)` with `∇r = ∇p / r`; penalties
//! that are sums of squares override it with exact rows.

/// Why a penalty could not be built.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PenaltyError {
    /// A strength, scale or smoothing width is negative, zero where forbidden, or not finite.
    #[error("{name} must be {rule}, got {value}")]
    Value {
        /// Which quantity.
        name: &'static str,
        /// The rule it breaks.
        rule: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// Vectors of different lengths.
    #[error("{name} has length {got}, expected {expected}")]
    Length {
        /// Which vector.
        name: &'static str,
        /// Its length.
        got: usize,
        /// The number of parameters.
        expected: usize,
    },
}

/// A non-negative penalty `p(x)` with its gradient and a least-squares view.
pub trait Penalty {
    /// The number of parameters this penalty expects, when it knows it.
    fn num_params(&self) -> Option<usize> {
        None
    }

    /// Returns `p(x) ≥ 0` and ADDS `∇p(x)` to `grad`.
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64;

    /// Number of least-squares rows.
    fn num_rows(&self) -> usize {
        1
    }

    /// Writes rows `r` (length [`num_rows`](Penalty::num_rows)) with `½ Σ rₖ² = p(x)` and
    /// their row-major Jacobian `jac` (`num_rows × n`), so that `Σ rₖ ∇rₖ = ∇p`, and returns
    /// `p(x)` bit for bit as [`value_grad`](Penalty::value_grad) computes it (LM's cost and
    /// its rows then come from one evaluation; `½ Σ rₖ²` can differ from it in the last bit).
    ///
    /// The default is the single row `r = √(2p)`, `∇r = ∇p / r`. As `p → 0` a smooth
    /// non-negative penalty has `∇p = O(√p)`, so the quotient stays bounded; at `p = 0`
    /// exactly (or if it is not finite) the row is zero, which keeps `r·∇r = ∇p = 0`.
    fn rows(&self, x: &[f64], r: &mut [f64], jac: &mut [f64]) -> f64 {
        jac.iter_mut().for_each(|v| *v = 0.0);
        let p = self.value_grad(x, jac);
        let root = (2.0 * p.max(0.0)).sqrt();
        r[0] = root;
        if root > 0.0 {
            let inv = 1.0 / root;
            let mut finite = true;
            for v in jac.iter_mut() {
                *v *= inv;
                finite &= v.is_finite();
            }
            if finite {
                return p;
            }
        }
        jac.iter_mut().for_each(|v| *v = 0.0);
        p
    }
}

impl<P: Penalty + ?Sized> Penalty for Box<P> {
    fn num_params(&self) -> Option<usize> {
        (**self).num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        (**self).value_grad(x, grad)
    }
    fn num_rows(&self) -> usize {
        (**self).num_rows()
    }
    fn rows(&self, x: &[f64], r: &mut [f64], jac: &mut [f64]) -> f64 {
        (**self).rows(x, r, jac)
    }
}

fn check_len(name: &'static str, v: &[f64], n: usize) -> Result<(), PenaltyError> {
    if v.len() == n {
        Ok(())
    } else {
        Err(PenaltyError::Length { name, got: v.len(), expected: n })
    }
}

fn check_all(name: &'static str, v: &[f64], positive: bool) -> Result<(), PenaltyError> {
    for &s in v {
        let ok = s.is_finite() && if positive { s > 0.0 } else { s >= 0.0 };
        if !ok {
            let rule = if positive { "positive and finite" } else { "non-negative and finite" };
            return Err(PenaltyError::Value { name, rule, value: s });
        }
    }
    Ok(())
}

/// Ridge (L2): `p(x) = ½·λ·Σⱼ (sⱼ·(xⱼ − pⱼ))²`, toward zero or a prior vector `p`
/// (e.g. yesterday's fit), with per-parameter scales `sⱼ` (e.g. inverse typical sizes).
///
/// Its least-squares rows are exact: `rⱼ = √λ·sⱼ·(xⱼ − pⱼ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ridge {
    lambda: f64,
    sqrt_lambda: f64,
    scales: Vec<f64>,
    prior: Vec<f64>,
}

impl Ridge {
    /// Ridge toward zero with unit scales in `n` parameters.
    ///
    /// # Errors
    /// [`PenaltyError::Value`] unless `lambda` is non-negative and finite.
    pub fn new(lambda: f64, n: usize) -> Result<Self, PenaltyError> {
        Self::toward(lambda, vec![1.0; n], vec![0.0; n])
    }

    /// Ridge toward `prior` with per-parameter `scales`.
    ///
    /// # Errors
    /// [`PenaltyError`] if `lambda` or a scale is negative or not finite, a prior entry is
    /// not finite, or the lengths differ.
    pub fn toward(lambda: f64, scales: Vec<f64>, prior: Vec<f64>) -> Result<Self, PenaltyError> {
        check_all("ridge lambda", &[lambda], false)?;
        check_len("ridge prior", &prior, scales.len())?;
        check_all("ridge scale", &scales, false)?;
        if let Some(&bad) = prior.iter().find(|v| !v.is_finite()) {
            return Err(PenaltyError::Value { name: "ridge prior", rule: "finite", value: bad });
        }
        Ok(Ridge { lambda, sqrt_lambda: lambda.sqrt(), scales, prior })
    }

    /// The strength λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

impl Penalty for Ridge {
    fn num_params(&self) -> Option<usize> {
        Some(self.scales.len())
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let lam = self.lambda();
        let mut p = 0.0;
        for j in 0..self.scales.len() {
            let s = self.scales[j];
            let d = x[j] - self.prior[j];
            p += s * s * d * d;
            grad[j] += lam * s * s * d;
        }
        0.5 * lam * p
    }
    fn num_rows(&self) -> usize {
        self.scales.len()
    }
    fn rows(&self, x: &[f64], r: &mut [f64], jac: &mut [f64]) -> f64 {
        let n = self.scales.len();
        jac[..n * n].iter_mut().for_each(|v| *v = 0.0);
        let mut p = 0.0;
        for j in 0..n {
            let (s, d) = (self.scales[j], x[j] - self.prior[j]);
            let c = self.sqrt_lambda * s;
            r[j] = c * d;
            jac[j * n + j] = c;
            p += s * s * d * d;
        }
        0.5 * self.lambda() * p
    }
}

/// Smoothed L1: `p(x) = λ·Σⱼ sⱼ·(√((xⱼ − pⱼ)² + ε²) − ε)`, the pseudo-Huber smoothing of
/// `λ·Σ sⱼ|xⱼ − pⱼ|` (quadratic within ~ε of the prior, linear beyond).
///
/// Least-squares view: one row per parameter, `rⱼ = √(2pⱼ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SmoothL1 {
    lambda: f64,
    eps: f64,
    scales: Vec<f64>,
    prior: Vec<f64>,
}

impl SmoothL1 {
    /// Smoothed L1 toward `prior` with per-parameter `scales` and smoothing width `eps`.
    ///
    /// # Errors
    /// [`PenaltyError`] if `lambda` or a scale is negative or not finite, `eps` is not
    /// positive and finite, a prior entry is not finite, or the lengths differ.
    pub fn new(
        lambda: f64,
        eps: f64,
        scales: Vec<f64>,
        prior: Vec<f64>,
    ) -> Result<Self, PenaltyError> {
        check_all("smooth-L1 lambda", &[lambda], false)?;
        check_all("smooth-L1 eps", &[eps], true)?;
        check_len("smooth-L1 prior", &prior, scales.len())?;
        check_all("smooth-L1 scale", &scales, false)?;
        if let Some(&bad) = prior.iter().find(|v| !v.is_finite()) {
            return Err(PenaltyError::Value {
                name: "smooth-L1 prior",
                rule: "finite",
                value: bad,
            });
        }
        Ok(SmoothL1 { lambda, eps, scales, prior })
    }

    /// `[pⱼ, ∂pⱼ/∂xⱼ]` for one coordinate.
    fn term(&self, j: usize, x: f64) -> [f64; 2] {
        let d = x - self.prior[j];
        let h = (d * d + self.eps * self.eps).sqrt();
        let c = self.lambda * self.scales[j];
        // h − ε = d²/(h + ε) avoids cancellation near the prior.
        [c * d * d / (h + self.eps), c * d / h]
    }
}

impl Penalty for SmoothL1 {
    fn num_params(&self) -> Option<usize> {
        Some(self.scales.len())
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut p = 0.0;
        for (j, g) in grad.iter_mut().enumerate().take(self.scales.len()) {
            let [v, d] = self.term(j, x[j]);
            p += v;
            *g += d;
        }
        p
    }
    fn num_rows(&self) -> usize {
        self.scales.len()
    }
    fn rows(&self, x: &[f64], r: &mut [f64], jac: &mut [f64]) -> f64 {
        let n = self.scales.len();
        jac[..n * n].iter_mut().for_each(|v| *v = 0.0);
        let mut p = 0.0;
        for j in 0..n {
            let [v, d] = self.term(j, x[j]);
            p += v;
            // p is quadratic near the prior, so ∂p/∂x / √(2p) stays bounded as d → 0.
            let root = (2.0 * v).sqrt();
            r[j] = root;
            jac[j * n + j] = if root > 0.0 { d / root } else { 0.0 };
        }
        p
    }
}

/// A penalty from a closure `f(x, grad_accumulate) -> p`, using the default one-row
/// least-squares view.
pub struct FnPenalty<F> {
    n: usize,
    f: F,
}

impl<F: Fn(&[f64], &mut [f64]) -> f64> FnPenalty<F> {
    /// Wraps `f` (which must ADD its gradient to the buffer) as a penalty in `n` parameters.
    pub fn new(n: usize, f: F) -> Self {
        FnPenalty { n, f }
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64> Penalty for FnPenalty<F> {
    fn num_params(&self) -> Option<usize> {
        Some(self.n)
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        (self.f)(x, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `½Σr² = p` and `Σ r ∇r = ∇p` for a penalty at `x`.
    fn rows_match(p: &dyn Penalty, x: &[f64]) {
        let n = x.len();
        let k = p.num_rows();
        let mut g = vec![0.0; n];
        let v = p.value_grad(x, &mut g);
        let (mut r, mut j) = (vec![0.0; k], vec![0.0; k * n]);
        assert_eq!(p.rows(x, &mut r, &mut j).to_bits(), v.to_bits(), "rows' value is value_grad's");
        let half: f64 = 0.5 * r.iter().map(|v| v * v).sum::<f64>();
        assert!((half - v).abs() <= 1e-13 * v.max(1.0), "{half} vs {v}");
        for c in 0..n {
            let jr: f64 = (0..k).map(|i| j[i * n + c] * r[i]).sum();
            assert!((jr - g[c]).abs() <= 1e-12 * g[c].abs().max(1e-3), "{jr} vs {}", g[c]);
        }
    }

    #[test]
    fn rows_reproduce_value_and_gradient() {
        // Identity check (definition of the least-squares view), three penalties.
        let x = [0.3, -1.2, 2.5];
        let ridge = Ridge::toward(0.7, vec![1.0, 2.0, 0.5], vec![0.1, 0.0, 3.0]).expect("valid");
        rows_match(&ridge, &x);
        let l1 = SmoothL1::new(0.4, 0.05, vec![1.0, 1.0, 3.0], vec![0.3, 0.0, 2.0]).expect("valid");
        rows_match(&l1, &x);
        let user = FnPenalty::new(3, |x: &[f64], g: &mut [f64]| {
            g[0] += 2.0 * x[0] * x[1] * x[1];
            g[1] += 2.0 * x[0] * x[0] * x[1];
            x[0] * x[0] * x[1] * x[1]
        });
        rows_match(&user, &x);
        // At p = 0 the default row is zero and finite.
        let mut r = [1.0];
        let mut j = [1.0; 3];
        user.rows(&[0.0, 0.0, 0.0], &mut r, &mut j);
        assert_eq!((r, j), ([0.0], [0.0; 3]));
    }

    #[test]
    fn ridge_value_closed_form() {
        // ½·λ·Σ(s(x−p))² = ½·2·((1·1)² + (2·(−1))²) = 5.
        let ridge = Ridge::toward(2.0, vec![1.0, 2.0], vec![0.0, 1.0]).expect("valid");
        let mut g = [0.0; 2];
        assert_eq!(ridge.value_grad(&[1.0, 0.0], &mut g), 5.0);
        assert_eq!(g, [2.0, -8.0]);
        assert!(Ridge::toward(-1.0, vec![1.0], vec![0.0]).is_err());
        assert!(Ridge::toward(1.0, vec![1.0], vec![0.0, 1.0]).is_err());
        assert!(SmoothL1::new(1.0, 0.0, vec![1.0], vec![0.0]).is_err());
    }
}
