//! Heavy-ball momentum (Polyak 1964): `v ← μ·v − η_k·g(x)`, `x ← P(x + v)`.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::schedule::{run_rule, Control, Rule};
use crate::observe::Observer;
use crate::problem::{Bounds, Objective};
use crate::solver::{Minimum, Solver};
use crate::stochastic::{
    run_epochs, EpochObserver, Epochs, MiniBatch, StochasticObjective, Training, Validation,
};

/// Gradient descent with heavy-ball momentum.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Momentum {
    /// Base learning rate `η₀` (multiplied by the schedule).
    pub lr: f64,
    /// Momentum coefficient `μ ∈ [0, 1)`.
    pub momentum: f64,
    /// Stopping rules, schedule and clipping.
    pub control: Control,
}

impl Default for Momentum {
    fn default() -> Self {
        Momentum { lr: 1e-3, momentum: 0.9, control: Control::default() }
    }
}

struct HeavyBall {
    mu: f64,
    v: Vec<f64>,
}

impl Rule for HeavyBall {
    fn propose(&mut self, _k: u32, x: &[f64], g: &[f64], rate: f64, x_new: &mut [f64]) {
        for i in 0..x.len() {
            self.v[i] = self.mu * self.v[i] - rate * g[i];
            x_new[i] = x[i] + self.v[i];
        }
    }
    fn reset(&mut self) {
        self.v.iter_mut().for_each(|v| *v = 0.0);
    }
}

impl Solver for Momentum {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let mut rule = HeavyBall { mu: self.momentum, v: vec![0.0; x0.len()] };
        run_rule(problem, x0, bounds, obs, &self.control, self.lr, &mut rule)
    }
}

impl MiniBatch for Momentum {
    fn train<S: StochasticObjective>(
        &self,
        problem: &S,
        x0: &[f64],
        spec: &Epochs,
        validation: Option<&dyn Validation>,
        steps: &mut dyn Observer,
        epochs: &mut dyn EpochObserver,
    ) -> Training {
        let n = x0.len();
        let mut rule = HeavyBall { mu: self.momentum, v: vec![0.0; n] };
        run_epochs(problem, x0, spec, validation, steps, epochs, &self.control, self.lr, &mut rule)
    }
}
