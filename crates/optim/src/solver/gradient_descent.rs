//! Projected gradient descent with Armijo backtracking.
//!
//! Each iteration tries `x_t = P(x − t·g)` with `t = min(η_k, 2·t_prev)` (`η_k` from the
//! schedule, `t_prev` the last accepted step) and halves `t` until the projected Armijo
//! condition `f(x_t) ≤ f(x) + c₁·∇f(x)ᵀ(x_t − x)` holds (Bertsekas 1976). With
//! `line_search = false` it takes the fixed step `t = η_k` (useful to study step sizes).
//! On mini-batches ([`MiniBatch`]) it is plain stochastic gradient descent `x ← x − η_k·g`
//! (no line search on a noisy batch loss).

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::schedule::{dist, norm2, start, Control, Rule};
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use crate::solver::{Minimum, Solver, Stop};
use crate::stochastic::{
    run_epochs, EpochObserver, Epochs, MiniBatch, StochasticObjective, Training, Validation,
};

/// Gradient descent with backtracking line search.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradientDescent {
    /// Largest trial step `η₀` (multiplied by the schedule).
    pub lr: f64,
    /// Armijo sufficient-decrease constant `c₁ ∈ (0, 1)`.
    pub c1: f64,
    /// Backtracking factor in `(0, 1)`.
    pub shrink: f64,
    /// Maximum halvings before giving up with [`Stop::Stalled`].
    pub max_backtracks: u32,
    /// Backtrack (true) or take the fixed step `η_k` (false).
    pub line_search: bool,
    /// Stopping rules, schedule and clipping.
    pub control: Control,
}

impl Default for GradientDescent {
    fn default() -> Self {
        GradientDescent {
            lr: 1.0,
            c1: 1e-4,
            shrink: 0.5,
            max_backtracks: 60,
            line_search: true,
            control: Control::default(),
        }
    }
}

impl Solver for GradientDescent {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let ctl = &self.control;
        let counted = Counted::new(problem);
        let n = x0.len();
        let (mut x, mut g, mut f, mut prog) = match start(&counted, x0, bounds, obs, ctl, self.lr) {
            Ok(s) => s,
            Err(done) => return done,
        };
        let mut gc = vec![0.0; n];
        let mut xt = vec![0.0; n];
        let mut gt = vec![0.0; n];
        let mut t_prev = f64::INFINITY;
        let stop = loop {
            if let Some(s) = prog.budget(&counted) {
                break s;
            }
            let rate = self.lr * ctl.schedule.factor(prog.iter);
            gc.copy_from_slice(&g);
            ctl.clip.apply(&mut gc);
            let mut t = if self.line_search { rate.min(2.0 * t_prev) } else { rate };
            let mut accepted = None;
            for _ in 0..=self.max_backtracks {
                for i in 0..n {
                    xt[i] = x[i] - t * gc[i];
                }
                if let Some(b) = bounds {
                    b.project(&mut xt);
                }
                let ft = counted.value_grad(&xt, &mut gt).filter(|v| !v.is_nan());
                match ft {
                    Some(ft) if !self.line_search => {
                        accepted = Some(ft);
                        break;
                    }
                    Some(ft) => {
                        let slope: f64 = (0..n).map(|i| g[i] * (xt[i] - x[i])).sum();
                        if ft <= f + self.c1 * slope {
                            accepted = Some(ft);
                            break;
                        }
                    }
                    None => {}
                }
                t *= self.shrink;
            }
            let Some(ft) = accepted else {
                break Stop::Stalled;
            };
            t_prev = t;
            let step = dist(&xt, &x);
            std::mem::swap(&mut x, &mut xt);
            std::mem::swap(&mut g, &mut gt);
            f = ft;
            let stop = prog.accept(&x, f, &g, step, bounds);
            obs.observe(&Iterate { iter: prog.iter, cost: f, grad_norm: norm2(&g), step, rate: t });
            if let Some(s) = stop {
                break s;
            }
        };
        prog.finish(stop, &counted)
    }
}

/// The fixed step `x ← x − η_k·g` of stochastic gradient descent.
struct Plain;

impl Rule for Plain {
    fn propose(&mut self, _k: u32, x: &[f64], g: &[f64], rate: f64, x_new: &mut [f64]) {
        for i in 0..x.len() {
            x_new[i] = x[i] - rate * g[i];
        }
    }
    fn reset(&mut self) {}
}

impl MiniBatch for GradientDescent {
    fn train<S: StochasticObjective>(
        &self,
        problem: &S,
        x0: &[f64],
        spec: &Epochs,
        validation: Option<&dyn Validation>,
        steps: &mut dyn Observer,
        epochs: &mut dyn EpochObserver,
    ) -> Training {
        run_epochs(problem, x0, spec, validation, steps, epochs, &self.control, self.lr, &mut Plain)
    }
}
