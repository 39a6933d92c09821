//! Training: the unrolled hedge plus objective as a volfit-optim
//! [`StochasticObjective`] over paths, trained by mini-batch Adam (schedule, clipping, early
//! stopping on held-out paths, per-layer gradient RMS per epoch).
//!
//! The flat parameter vector is the network's parameters followed by the objective's
//! thresholds `η`. A batch is cut into chunks of [`CHUNK`] paths evaluated in parallel, each
//! into its own [`Scratch`]; the chunk sums are added in chunk order, so a seeded run is
//! bit-identical whatever the thread count.

use super::objective::HedgeObjective;
use super::unroll::{Scratch, StepTable, Unroll, CHUNK};
use rayon::prelude::*;
use std::sync::Mutex;
use volfit_nn::Init;
use volfit_optim::stochastic::{
    EarlyStopping, EpochObserver, Epochs, MeanOver, MiniBatch, StochasticObjective, Training,
    Validation,
};
use volfit_optim::{Adam, Clip, Control, Schedule};

/// The hedging problem on a fixed set of paths.
#[derive(Debug)]
pub struct HedgeProblem<'a> {
    unroll: Unroll<'a>,
    objective: &'a HedgeObjective,
    /// One scratch per chunk of the largest batch, reused across batches.
    pool: Vec<Mutex<Scratch>>,
    /// The paths' parameter-free inputs, computed once (`None` for very many paths).
    table: Option<StepTable>,
}

impl<'a> HedgeProblem<'a> {
    /// The problem for `unroll` and `objective`, sized for batches of up to `batch` paths
    /// (larger ones run in rounds).
    pub fn new(unroll: Unroll<'a>, objective: &'a HedgeObjective, batch: usize) -> Self {
        let chunks = batch.max(1).div_ceil(CHUNK);
        let pool =
            (0..chunks).map(|_| Mutex::new(unroll.scratch(true, objective.thresholds()))).collect();
        HedgeProblem { unroll, objective, pool, table: unroll.table() }
    }

    /// Number of network parameters (the thresholds follow them).
    pub fn net_params(&self) -> usize {
        self.unroll.policy.num_params()
    }

    /// Evaluates the chunks of `indices`: each pool slot `k` takes chunk `k` of a round.
    fn run(&self, x: &[f64], indices: &[usize], grad: Option<&mut [f64]>) -> Option<f64> {
        let np = self.net_params();
        let (params, eta) = x.split_at(np);
        let with_grad = grad.is_some();
        let mut total = 0.0;
        let mut gsum = grad;
        if let Some(g) = gsum.as_deref_mut() {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        let round = self.pool.len() * CHUNK;
        for part in indices.chunks(round) {
            part.par_chunks(CHUNK).zip(self.pool.par_iter()).for_each(|(idx, slot)| {
                let mut guard = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let s = &mut *guard;
                self.chunk(params, eta, idx, s, with_grad);
            });
            for slot in &self.pool[..part.len().div_ceil(CHUNK)] {
                let s = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                total += s.value;
                if let Some(g) = gsum.as_deref_mut() {
                    g.iter_mut().zip(&s.grad).for_each(|(a, b)| *a += b);
                }
            }
        }
        let n = indices.len().max(1) as f64;
        if let Some(g) = gsum {
            g.iter_mut().for_each(|v| *v /= n);
        }
        let v = total / n;
        v.is_finite().then_some(v)
    }

    /// One chunk: forward, objective per path, and (with `with_grad`) backward.
    fn chunk(&self, params: &[f64], eta: &[f64], idx: &[usize], s: &mut Scratch, with_grad: bool) {
        let np = params.len();
        self.unroll.forward_with(params, idx, s, self.table.as_ref());
        s.grad.iter_mut().for_each(|g| *g = 0.0);
        let mut value = 0.0;
        let rows = idx.len();
        for (pnl, d_pnl) in s.pnl[..rows].iter().zip(&mut s.d_pnl[..rows]) {
            let (f, dl) = self.objective.value_grad(-pnl, eta, &mut s.grad[np..]);
            value += f;
            // L = −P.
            *d_pnl = -dl;
        }
        s.value = value;
        if with_grad {
            self.unroll.backward_with(params, idx, s, self.table.as_ref());
        }
    }
}

impl StochasticObjective for HedgeProblem<'_> {
    fn num_params(&self) -> usize {
        self.net_params() + self.objective.thresholds()
    }
    fn num_samples(&self) -> usize {
        self.unroll.paths.paths
    }
    fn batch_value_grad(&self, x: &[f64], indices: &[usize], grad: &mut [f64]) -> Option<f64> {
        self.run(x, indices, Some(grad))
    }
    fn batch_value(&self, x: &[f64], indices: &[usize]) -> Option<f64> {
        self.run(x, indices, None)
    }
}

/// How to train a policy.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    /// Passes over the training paths.
    pub epochs: u32,
    /// Paths per step.
    pub batch_size: usize,
    /// Adam's base learning rate.
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Gradient clipping by global norm (0: none).
    pub clip_norm: f64,
    /// Early stopping patience in epochs on the held-out paths (0: none).
    pub patience: u32,
    /// Seed of the weights and the batch order.
    pub seed: u64,
    /// Weight initialisation.
    pub init: Init,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            epochs: 20,
            batch_size: 1024,
            lr: 1e-3,
            schedule: Schedule::Constant,
            clip_norm: 0.0,
            patience: 0,
            seed: 0,
            init: Init::He,
        }
    }
}

/// A trained policy: network parameters, thresholds and the training record.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// Network parameters.
    pub params: Vec<f64>,
    /// The objective's thresholds at the end (e.g. the CVaR's VaR).
    pub eta: Vec<f64>,
    /// Epochs, stop reason, best epoch; per-epoch per-layer gradient RMS (the last group is
    /// the thresholds).
    pub training: Training,
}

/// Trains the network of `train.policy` on `train`'s paths, early-stopping on `valid`'s.
///
/// # Panics
/// When `train` and `valid` have different policies (an invariant of the callers).
pub fn train(
    train: Unroll<'_>,
    valid: Option<Unroll<'_>>,
    objective: &HedgeObjective,
    spec: &TrainSpec,
    on_epoch: &mut dyn EpochObserver,
) -> Trained {
    let problem = HedgeProblem::new(train, objective, spec.batch_size);
    let mlp = train.policy.mlp();
    let mut x0 = train.policy.init_params(spec.init, spec.seed);
    let np = x0.len();
    x0.extend(initial_thresholds(train, objective, &x0));
    let mut groups = mlp.map_or_else(Vec::new, volfit_nn::Mlp::groups);
    groups.push(np..x0.len());
    let clip = if spec.clip_norm > 0.0 { Clip::Norm(spec.clip_norm) } else { Clip::None };
    let adam = Adam {
        lr: spec.lr,
        control: Control { schedule: spec.schedule.clone(), clip, ..Control::default() },
        ..Adam::default()
    };
    let epochs = Epochs {
        epochs: spec.epochs,
        batch_size: spec.batch_size.max(1),
        seed: spec.seed,
        shuffle: true,
        early_stopping: (spec.patience > 0).then_some(EarlyStopping {
            patience: spec.patience,
            min_delta: 0.0,
            restore_best: true,
        }),
        groups,
        eval_chunk: 8 * CHUNK,
    };
    let val = valid.map(|u| {
        assert!(u.policy == train.policy, "invariant: one policy for training and validation");
        MeanOver { objective: HedgeProblem::new(u, objective, 8 * CHUNK), chunk: 8 * CHUNK }
    });
    let val_ref = val.as_ref().map(|v| v as &dyn Validation);
    let training = adam.train(&problem, &x0, &epochs, val_ref, &mut (), on_epoch);
    let (params, eta) = training.minimum.x.split_at(np);
    Trained { params: params.to_vec(), eta: eta.to_vec(), training }
}

/// The optimal thresholds for the starting policy's P&L on (up to 8192 of) the training
/// paths, so that the thresholds do not have to travel from 0 at the learning rate.
fn initial_thresholds(train: Unroll<'_>, objective: &HedgeObjective, params: &[f64]) -> Vec<f64> {
    let n = train.paths.paths.min(8192);
    let mut s = train.scratch(false, 0);
    let mut pnl = Vec::with_capacity(n);
    let idx: Vec<usize> = (0..n).collect();
    for c in idx.chunks(CHUNK) {
        train.forward(params, c, &mut s);
        pnl.extend_from_slice(&s.pnl[..c.len()]);
    }
    match crate::risk::Sample::new(pnl) {
        Ok(sample) => objective.optimal_thresholds(&sample),
        Err(_) => vec![0.0; objective.thresholds()],
    }
}
