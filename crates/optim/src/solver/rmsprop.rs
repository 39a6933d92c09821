//! RMSProp (Tieleman & Hinton 2012): `s ← ρ·s + (1 − ρ)·g²`, `x ← P(x − η_k·g/(√s + ε))`.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::schedule::{run_rule, Control, Rule};
use crate::observe::Observer;
use crate::problem::{Bounds, Objective};
use crate::solver::{Minimum, Solver};
use crate::stochastic::{
    run_epochs, EpochObserver, Epochs, MiniBatch, StochasticObjective, Training, Validation,
};

/// RMSProp.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RmsProp {
    /// Base learning rate `η₀` (multiplied by the schedule).
    pub lr: f64,
    /// Decay `ρ` of the running mean of squared gradients.
    pub rho: f64,
    /// Denominator guard `ε`.
    pub eps: f64,
    /// Stopping rules, schedule and clipping.
    pub control: Control,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp { lr: 1e-3, rho: 0.9, eps: 1e-8, control: Control::default() }
    }
}

struct Rms {
    rho: f64,
    eps: f64,
    s: Vec<f64>,
}

impl Rule for Rms {
    fn propose(&mut self, _k: u32, x: &[f64], g: &[f64], rate: f64, x_new: &mut [f64]) {
        for i in 0..x.len() {
            self.s[i] = self.rho * self.s[i] + (1.0 - self.rho) * g[i] * g[i];
            x_new[i] = x[i] - rate * g[i] / (self.s[i].sqrt() + self.eps);
        }
    }
    fn reset(&mut self) {
        self.s.iter_mut().for_each(|v| *v = 0.0);
    }
}

impl Solver for RmsProp {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let mut rule = Rms { rho: self.rho, eps: self.eps, s: vec![0.0; x0.len()] };
        run_rule(problem, x0, bounds, obs, &self.control, self.lr, &mut rule)
    }
}

impl MiniBatch for RmsProp {
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
        let mut rule = Rms { rho: self.rho, eps: self.eps, s: vec![0.0; n] };
        run_epochs(problem, x0, spec, validation, steps, epochs, &self.control, self.lr, &mut rule)
    }
}
