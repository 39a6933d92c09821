//! L-BFGS (Nocedal 1980; Liu & Nocedal 1989): two-loop recursion over the last `m`
//! correction pairs with the initial scaling `γ = sᵀy/yᵀy` and a strong-Wolfe line search.
//! Given bounds, it runs the L-BFGS-B iteration ([`LbfgsB`]) so
//! every iterate stays in the box.

use super::lbfgsb::LbfgsB;
use super::line_search::Wolfe;
use super::quasi_newton::{self, dot, Direction, Pairs, Settings};
use super::{Limits, Minimum, Solver};
use crate::observe::Observer;
use crate::problem::{Bounds, Objective};

/// Limited-memory BFGS with a strong-Wolfe line search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lbfgs {
    /// Number of correction pairs kept (5–20 is typical).
    pub memory: usize,
    /// Stopping limits (the gradient test uses the max-norm).
    pub limits: Limits,
    /// Line-search settings.
    pub wolfe: Wolfe,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs { memory: 10, limits: Limits::default(), wolfe: Wolfe::default() }
    }
}

impl Lbfgs {
    /// L-BFGS with `memory` pairs and the given limits.
    pub fn new(memory: usize, limits: Limits) -> Self {
        Lbfgs { memory, limits, wolfe: Wolfe::default() }
    }
}

/// The two-loop recursion's scratch (`αₖ` per stored pair).
struct TwoLoop {
    alpha: Vec<f64>,
}

impl Direction for TwoLoop {
    /// `d = −H·g` by the two-loop recursion, `H₀ = γI` with `γ = sᵀy/yᵀy` of the newest pair.
    fn direction(&mut self, pairs: &Pairs, _x: &[f64], g: &[f64], d: &mut [f64]) {
        let n = g.len();
        for i in 0..n {
            d[i] = -g[i];
        }
        for p in (0..pairs.len()).rev() {
            let k = pairs.slot(p);
            let a = pairs.rho(k) * dot(pairs.s(k), d);
            self.alpha[k] = a;
            let y = pairs.y(k);
            for i in 0..n {
                d[i] -= a * y[i];
            }
        }
        if pairs.len() > 0 {
            let k = pairs.slot(pairs.len() - 1);
            let y = pairs.y(k);
            let gamma = 1.0 / (pairs.rho(k) * dot(y, y));
            d.iter_mut().for_each(|v| *v *= gamma);
        }
        for p in 0..pairs.len() {
            let k = pairs.slot(p);
            let b = pairs.rho(k) * dot(pairs.y(k), d);
            let c = self.alpha[k] - b;
            let s = pairs.s(k);
            for i in 0..n {
                d[i] += c * s[i];
            }
        }
    }
}

impl Solver for Lbfgs {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        if let Some(b) = bounds {
            let lbfgsb = LbfgsB { memory: self.memory, limits: self.limits, wolfe: self.wolfe };
            return lbfgsb.minimize_bounded(problem, x0, Some(b), obs);
        }
        let settings = Settings {
            memory: self.memory,
            limits: &self.limits,
            wolfe: &self.wolfe,
            bounds: None,
        };
        let mut two_loop = TwoLoop { alpha: vec![0.0; self.memory.max(1)] };
        quasi_newton::run(problem, x0, &settings, &mut two_loop, obs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::FnObjective;

    #[test]
    fn rosenbrock_from_classic_start() {
        // Rosenbrock (1960): f = (1 − x)² + 100(y − x²)², minimum 0 at (1, 1); start (−1.2, 1).
        let f = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            g[0] = -2.0 * a - 400.0 * x[0] * b;
            g[1] = 200.0 * b;
            Some(a * a + 100.0 * b * b)
        });
        let m = Lbfgs::default().minimize(&f, &[-1.2, 1.0], &mut ());
        assert!((m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8, "{m:?}");
    }
}
