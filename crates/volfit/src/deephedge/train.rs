//! Training: the unrolled hedge plus objective as a volfit-optim
//! [`StochasticObjective`] over paths, trained by mini-batch Adam (schedule, clipping, early
//! stopping on held-out paths, per-layer gradient RMS per epoch).
//!
//! The flat parameter vector is the network's parameters followed by the objective's
//! thresholds `η`. A batch is cut into chunks of [`CHUNK`] paths evaluated in parallel, each
//! into its own [`Scratch`]; the chunk sums are added in chunk order, so a seeded run is
//! bit-identical whatever the thread count. A direct-form entropic term first needs the
//! whole batch's log-sum-exp (merged in chunk order too), then every path's softmax weight.

use super::objective::{HedgeObjective, LogSumExp};
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
///
/// Its batch value is the objective on the batch: a mean over the batch's paths, plus, for
/// a direct-form entropic term, the log-mean-exp of the whole batch (then the value is not
/// a mean of per-path values, and [`mean_value`](StochasticObjective::mean_value) takes all
/// paths at once).
#[derive(Debug)]
pub struct HedgeProblem<'a> {
    unroll: Unroll<'a>,
    objective: &'a HedgeObjective,
    /// One slot per chunk of the largest batch, reused across batches.
    pool: Vec<Mutex<Slot>>,
    /// The paths' parameter-free inputs, computed once (`None` for very many paths).
    table: Option<StepTable>,
}

/// One chunk's buffers and its batch-level accumulators.
#[derive(Debug)]
struct Slot {
    s: Scratch,
    acc: Vec<LogSumExp>,
}

/// What a chunk needs to know of its whole batch: the batch-level accumulators (empty when
/// the objective has no batch atoms), the batch size, and whether the chunk's forward pass
/// already sits in its slot.
#[derive(Clone, Copy)]
struct BatchView<'b> {
    stats: &'b [LogSumExp],
    n: usize,
    forwarded: bool,
}

/// Batch atoms kept on the stack (more spill to the heap).
const STACK_ATOMS: usize = 8;

fn lock(m: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a> HedgeProblem<'a> {
    /// The problem for `unroll` and `objective`, sized for batches of up to `batch` paths
    /// (larger ones run in rounds).
    pub fn new(unroll: Unroll<'a>, objective: &'a HedgeObjective, batch: usize) -> Self {
        let chunks = batch.max(1).div_ceil(CHUNK);
        let slot = || Slot {
            s: unroll.scratch(true, objective.thresholds()),
            acc: vec![LogSumExp::EMPTY; objective.batch_atoms()],
        };
        let pool = (0..chunks).map(|_| Mutex::new(slot())).collect();
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
        let n = indices.len();
        let k = self.objective.batch_atoms();
        let mut on_stack = [LogSumExp::EMPTY; STACK_ATOMS];
        let mut on_heap = Vec::new();
        let stats = if k <= STACK_ATOMS {
            &mut on_stack[..k]
        } else {
            on_heap.resize(k, LogSumExp::EMPTY);
            &mut on_heap[..]
        };
        let round = self.pool.len() * CHUNK;
        if k > 0 {
            self.batch_stats(params, indices, stats);
            if grad.is_none() && self.objective.is_batch_only() {
                let v = self.objective.batch_value(stats, n);
                return v.is_finite().then_some(v);
            }
        }
        let view = BatchView { stats, n, forwarded: k > 0 && n <= round };
        let with_grad = grad.is_some();
        let mut total = 0.0;
        let mut gsum = grad;
        if let Some(g) = gsum.as_deref_mut() {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        for part in indices.chunks(round) {
            part.par_chunks(CHUNK).zip(self.pool.par_iter()).for_each(|(idx, slot)| {
                self.chunk(params, eta, idx, &mut lock(slot), with_grad, view);
            });
            for slot in &self.pool[..part.len().div_ceil(CHUNK)] {
                let s = &lock(slot).s;
                total += s.value;
                if let Some(g) = gsum.as_deref_mut() {
                    g.iter_mut().zip(&s.grad).for_each(|(a, b)| *a += b);
                }
            }
        }
        let nf = n.max(1) as f64;
        if let Some(g) = gsum {
            g.iter_mut().for_each(|v| *v /= nf);
        }
        let v = total / nf + if k > 0 { self.objective.batch_value(stats, n) } else { 0.0 };
        v.is_finite().then_some(v)
    }

    /// The batch-level accumulators of `indices` into `stats` (forward passes only; the last
    /// round's stay in the slots). Chunks merge in chunk order: thread-count independent.
    fn batch_stats(&self, params: &[f64], indices: &[usize], stats: &mut [LogSumExp]) {
        let round = self.pool.len() * CHUNK;
        for part in indices.chunks(round) {
            part.par_chunks(CHUNK).zip(self.pool.par_iter()).for_each(|(idx, slot)| {
                let slot = &mut *lock(slot);
                self.unroll.forward_with(params, idx, &mut slot.s, self.table.as_ref());
                slot.acc.iter_mut().for_each(|a| *a = LogSumExp::EMPTY);
                for &pnl in &slot.s.pnl[..idx.len()] {
                    self.objective.accumulate(-pnl, &mut slot.acc);
                }
            });
            for slot in &self.pool[..part.len().div_ceil(CHUNK)] {
                stats.iter_mut().zip(&lock(slot).acc).for_each(|(a, b)| a.merge(b));
            }
        }
    }

    /// One chunk: forward (unless `batch.forwarded`), objective per path, and (with
    /// `with_grad`) backward.
    fn chunk(
        &self,
        params: &[f64],
        eta: &[f64],
        idx: &[usize],
        slot: &mut Slot,
        with_grad: bool,
        batch: BatchView<'_>,
    ) {
        let np = params.len();
        let s = &mut slot.s;
        if !batch.forwarded {
            self.unroll.forward_with(params, idx, s, self.table.as_ref());
        }
        s.grad.iter_mut().for_each(|g| *g = 0.0);
        let mut value = 0.0;
        let rows = idx.len();
        for (pnl, d_pnl) in s.pnl[..rows].iter().zip(&mut s.d_pnl[..rows]) {
            let loss = -pnl;
            let (f, mut dl) = self.objective.value_grad(loss, eta, &mut s.grad[np..]);
            if !batch.stats.is_empty() {
                dl += self.objective.batch_grad(loss, batch.stats, batch.n);
            }
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
    /// The objective on all paths: in chunks of `chunk` paths for a mean over paths, at once
    /// when the objective has batch-level (direct entropic) terms.
    fn mean_value(&self, x: &[f64], chunk: usize) -> Option<f64> {
        let all: Vec<usize> = (0..self.num_samples()).collect();
        if all.is_empty() {
            return None;
        }
        if self.objective.batch_atoms() > 0 {
            return self.run(x, &all, None);
        }
        let mut total = 0.0;
        for part in all.chunks(chunk.max(1)) {
            total += self.run(x, part, None)? * part.len() as f64;
        }
        Some(total / all.len() as f64)
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
    if objective.thresholds() == 0 {
        return Vec::new();
    }
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
