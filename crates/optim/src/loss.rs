//! Robust losses ρ(s) on squared residuals `s = r²`, with their first two derivatives.
//!
//! Contract (Ceres Solver's `LossFunction`): a residual contributes `½·ρ(s)` to the cost,
//! with `ρ(0) = 0`, `ρ'(0) = 1`, `ρ'(s) ≥ 0`. The scale is in residual units, so a Huber
//! scale of 0.01 on vol residuals means one vol point. Weights multiply ρ; they do not
//! rescale `s`.

/// A robust loss ρ applied to a squared residual `s = r²`.
pub trait Loss {
    /// Returns `[ρ(s), ρ'(s), ρ''(s)]`. `s` must be non-negative.
    fn rho(&self, s: f64) -> [f64; 3];
}

/// Plain least squares: ρ(s) = s.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Squared;

impl Loss for Squared {
    fn rho(&self, s: f64) -> [f64; 3] {
        [s, 1.0, 0.0]
    }
}
