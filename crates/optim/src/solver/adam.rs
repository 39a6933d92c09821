//! Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019).
//!
//! With `t` counting updates from 1:
//! `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)`,
//! `x ← P(x − η_k·(m̂/(√v̂ + ε) + λ·x))`. The weight decay `λ` is *decoupled* (AdamW): it
//! shrinks `x` directly instead of entering `g`, so it is not rescaled by `√v̂`. `λ = 0`
//! is plain Adam.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::schedule::{run_rule, Control, Rule};
use crate::observe::Observer;
use crate::problem::{Bounds, Objective};
use crate::solver::{Minimum, Solver};
use crate::stochastic::{
    run_epochs, EpochObserver, Epochs, MiniBatch, StochasticObjective, Training, Validation,
};

/// Adam, or AdamW when `weight_decay > 0`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    /// Base learning rate `η₀` (multiplied by the schedule).
    pub lr: f64,
    /// First-moment decay `β₁`.
    pub beta1: f64,
    /// Second-moment decay `β₂`.
    pub beta2: f64,
    /// Denominator guard `ε`.
    pub eps: f64,
    /// Decoupled weight decay `λ` (AdamW); 0 for Adam.
    pub weight_decay: f64,
    /// Stopping rules, schedule and clipping.
    pub control: Control,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            control: Control::default(),
        }
    }
}

impl Adam {
    /// AdamW with decoupled weight decay `weight_decay` and default settings otherwise.
    pub fn adamw(weight_decay: f64) -> Self {
        Adam { weight_decay, ..Adam::default() }
    }
}

struct Moments {
    b1: f64,
    b2: f64,
    eps: f64,
    wd: f64,
    t: i32,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Rule for Moments {
    fn propose(&mut self, _k: u32, x: &[f64], g: &[f64], rate: f64, x_new: &mut [f64]) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - self.b1.powi(self.t);
        let c2 = 1.0 - self.b2.powi(self.t);
        for i in 0..x.len() {
            self.m[i] = self.b1 * self.m[i] + (1.0 - self.b1) * g[i];
            self.v[i] = self.b2 * self.v[i] + (1.0 - self.b2) * g[i] * g[i];
            let mh = self.m[i] / c1;
            let vh = self.v[i] / c2;
            x_new[i] = x[i] - rate * (mh / (vh.sqrt() + self.eps) + self.wd * x[i]);
        }
    }
    fn reset(&mut self) {
        self.t = 0;
        self.m.iter_mut().for_each(|v| *v = 0.0);
        self.v.iter_mut().for_each(|v| *v = 0.0);
    }
}

impl Solver for Adam {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let n = x0.len();
        let mut rule = Moments {
            b1: self.beta1,
            b2: self.beta2,
            eps: self.eps,
            wd: self.weight_decay,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        };
        run_rule(problem, x0, bounds, obs, &self.control, self.lr, &mut rule)
    }
}

impl MiniBatch for Adam {
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
        let mut rule = Moments {
            b1: self.beta1,
            b2: self.beta2,
            eps: self.eps,
            wd: self.weight_decay,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        };
        run_epochs(problem, x0, spec, validation, steps, epochs, &self.control, self.lr, &mut rule)
    }
}
