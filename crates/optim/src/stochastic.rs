//! Stochastic (mini-batch) training: a [`StochasticObjective`] is a mean over samples whose
//! value and gradient can be taken on any subset of them; a first-order solver that
//! implements [`MiniBatch`] (gradient descent, momentum, Nesterov, Adam/AdamW, RMSProp)
//! trains on it epoch by epoch.
//!
//! Each epoch visits every sample once, in an order shuffled by a seeded ChaCha8 generator
//! (the same seed gives the same run), in batches of [`Epochs::batch_size`] (the last one
//! may be shorter): one fresh batch per step. The rate of step `k` (counted over the whole
//! run) is the solver's base rate times its [`Control::schedule`](crate::Control) factor;
//! the batch gradient is clipped by its `clip` before the update rule sees it. After each
//! epoch the loss on a validation set (when given) decides early stopping (patience in
//! epochs, restore the best point). Every step is pushed to an [`Observer`] as an
//! [`Iterate`]; every epoch to an [`EpochObserver`] as an [`Epoch`], which also carries the
//! per-group gradient RMS that [`diagnose_groups`](crate::diagnose::diagnose_groups) reads.
//!
//! The full-batch deterministic path is unchanged: [`FullBatch`] presents a stochastic
//! objective as an ordinary [`Objective`] for L-BFGS and friends.

use crate::observe::{Iterate, Observer};
use crate::problem::{Evals, Objective};
use crate::solver::schedule::{norm2, Control, Rule};
use crate::solver::{Minimum, Stop};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;
use std::time::Instant;

/// A cost that is a mean over samples: `f(x) = (1/N) Σᵢ fᵢ(x)`, evaluable on subsets.
pub trait StochasticObjective {
    /// Number of parameters `n`.
    fn num_params(&self) -> usize;
    /// Number of samples `N`.
    fn num_samples(&self) -> usize;
    /// Returns the mean cost `(1/|B|) Σ_{i∈B} fᵢ(x)` over the samples `indices` (each
    /// `< N`, non-empty) and writes its gradient into `grad` (length `n`).
    ///
    /// Returns `None` when `x` is outside the domain.
    fn batch_value_grad(&self, x: &[f64], indices: &[usize], grad: &mut [f64]) -> Option<f64>;
    /// The mean cost over `indices` alone. The default evaluates the gradient into a
    /// scratch buffer; override when the value is much cheaper.
    fn batch_value(&self, x: &[f64], indices: &[usize]) -> Option<f64> {
        let mut g = vec![0.0; self.num_params()];
        self.batch_value_grad(x, indices, &mut g)
    }
    /// The mean cost over all samples, evaluated in chunks of `chunk` samples (allocates
    /// one index buffer per call: for validation and reporting, not for hot loops).
    fn mean_value(&self, x: &[f64], chunk: usize) -> Option<f64> {
        let n = self.num_samples();
        let chunk = chunk.max(1);
        let mut idx: Vec<usize> = Vec::with_capacity(chunk.min(n));
        let mut total = 0.0;
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            idx.clear();
            idx.extend(start..end);
            total += self.batch_value(x, &idx)? * (end - start) as f64;
            start = end;
        }
        (n > 0).then(|| total / n as f64)
    }
}

impl<T: StochasticObjective + ?Sized> StochasticObjective for &T {
    fn num_params(&self) -> usize {
        (**self).num_params()
    }
    fn num_samples(&self) -> usize {
        (**self).num_samples()
    }
    fn batch_value_grad(&self, x: &[f64], indices: &[usize], grad: &mut [f64]) -> Option<f64> {
        (**self).batch_value_grad(x, indices, grad)
    }
    fn batch_value(&self, x: &[f64], indices: &[usize]) -> Option<f64> {
        (**self).batch_value(x, indices)
    }
}

/// A stochastic objective seen as one deterministic [`Objective`]: every sample in every
/// evaluation (for L-BFGS, gradient descent with line search, ...).
#[derive(Debug)]
pub struct FullBatch<S> {
    inner: S,
    all: Vec<usize>,
}

impl<S: StochasticObjective> FullBatch<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        let all = (0..inner.num_samples()).collect();
        FullBatch { inner, all }
    }
    /// The wrapped objective.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: StochasticObjective> Objective for FullBatch<S> {
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        self.inner.batch_value_grad(x, &self.all, grad)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        self.inner.batch_value(x, &self.all)
    }
}

/// Early stopping on the validation loss.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EarlyStopping {
    /// Stop after this many epochs without a validation improvement.
    pub patience: u32,
    /// An improvement must lower the best validation loss by more than this (absolute).
    pub min_delta: f64,
    /// Return the point of the best validation loss (true) or the last point (false).
    pub restore_best: bool,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping { patience: 10, min_delta: 0.0, restore_best: true }
    }
}

/// How to run the epochs of a mini-batch training.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epochs {
    /// Number of passes over the training samples.
    pub epochs: u32,
    /// Samples per step (the last batch of an epoch may be shorter); at least 1.
    pub batch_size: usize,
    /// Seed of the shuffling generator.
    pub seed: u64,
    /// Shuffle the samples at the start of every epoch (false: always in index order).
    pub shuffle: bool,
    /// Early stopping on the validation loss (ignored without a validation set).
    pub early_stopping: Option<EarlyStopping>,
    /// Parameter groups (e.g. one per network layer) whose gradient RMS each [`Epoch`]
    /// reports; empty for none.
    pub groups: Vec<Range<usize>>,
    /// Samples per chunk when evaluating the validation loss.
    pub eval_chunk: usize,
}

impl Default for Epochs {
    fn default() -> Self {
        Epochs {
            epochs: 10,
            batch_size: 32,
            seed: 0,
            shuffle: true,
            early_stopping: None,
            groups: Vec::new(),
            eval_chunk: 1024,
        }
    }
}

/// What one epoch did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epoch {
    /// Epoch number, from 1.
    pub epoch: u32,
    /// Mean of the batch losses over the epoch (each taken before its update).
    pub train_loss: f64,
    /// Validation loss at the end of the epoch, when a validation set is given.
    pub val_loss: Option<f64>,
    /// Steps taken so far in the run.
    pub steps: u64,
    /// Learning rate of the epoch's last step.
    pub rate: f64,
    /// Per parameter group, the root-mean-square of the (unclipped) batch gradient's
    /// entries, averaged over the epoch's steps; same order as [`Epochs::groups`].
    pub group_grad_rms: Vec<f64>,
}

/// Receives one [`Epoch`] per finished epoch (progress bars, loss curves).
pub trait EpochObserver {
    /// Called after every epoch.
    fn epoch(&mut self, e: &Epoch);
}

impl EpochObserver for () {
    fn epoch(&mut self, _: &Epoch) {}
}

impl<F: FnMut(&Epoch)> EpochObserver for F {
    fn epoch(&mut self, e: &Epoch) {
        self(e)
    }
}

/// The outcome of a mini-batch training.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Training {
    /// The returned point (the best validation point when restoring, else the last), its
    /// cost (the validation loss when there is a validation set, else the last epoch's
    /// training loss; NaN when no epoch ran and there is no validation set), why training
    /// stopped (`MaxIters`: all epochs done; `Stalled`: early
    /// stopping; `TimeBudget`; `Infeasible`: a batch could not be evaluated), steps
    /// (`iters`, saturating) and evaluations.
    pub minimum: Minimum,
    /// The epochs, in order.
    pub epochs: Vec<Epoch>,
    /// The epoch whose point was returned (0: the start).
    pub best_epoch: u32,
}

/// A first-order solver that trains on mini-batches of a [`StochasticObjective`].
pub trait MiniBatch {
    /// Trains from `x0` over `spec`'s epochs, judging early stopping on `validation` (its
    /// mean over all its samples) when given. Uses the solver's rate, schedule, clipping
    /// and time budget (`control.limits.max_time`); its other tolerances do not apply to
    /// noisy batch losses.
    fn train<S: StochasticObjective>(
        &self,
        problem: &S,
        x0: &[f64],
        spec: &Epochs,
        validation: Option<&dyn Validation>,
        steps: &mut dyn Observer,
        epochs: &mut dyn EpochObserver,
    ) -> Training;
}

/// A validation loss: a number per point, lower is better.
pub trait Validation {
    /// The validation loss at `x`, `None` if it cannot be evaluated.
    fn loss(&self, x: &[f64]) -> Option<f64>;
}

/// A stochastic objective validates by its mean over all samples.
pub struct MeanOver<S> {
    /// The objective on the validation samples.
    pub objective: S,
    /// Samples per evaluation chunk.
    pub chunk: usize,
}

impl<S: StochasticObjective> Validation for MeanOver<S> {
    fn loss(&self, x: &[f64]) -> Option<f64> {
        self.objective.mean_value(x, self.chunk)
    }
}

/// Bookkeeping of the best point for early stopping.
struct Best {
    x: Vec<f64>,
    loss: f64,
    epoch: u32,
    since: u32,
}

impl Best {
    /// Records the validation loss `v` of `x` after `epoch`; true when patience ran out.
    fn improve(&mut self, es: EarlyStopping, v: f64, x: &[f64], epoch: u32) -> bool {
        if v < self.loss - es.min_delta {
            self.x.copy_from_slice(x);
            self.loss = v;
            self.epoch = epoch;
            self.since = 0;
            false
        } else {
            self.since += 1;
            self.since >= es.patience
        }
    }
}

/// Per-group gradient sums of one epoch.
struct GroupRms<'a> {
    groups: &'a [Range<usize>],
    sum: Vec<f64>,
    count: u64,
}

impl<'a> GroupRms<'a> {
    fn new(groups: &'a [Range<usize>]) -> Self {
        GroupRms { groups, sum: vec![0.0; groups.len()], count: 0 }
    }
    fn add(&mut self, g: &[f64]) {
        for (s, r) in self.sum.iter_mut().zip(self.groups) {
            let len = r.len().max(1) as f64;
            *s += (norm2(&g[r.clone()]).powi(2) / len).sqrt();
        }
        self.count += 1;
    }
    fn take(&mut self) -> Vec<f64> {
        let c = self.count.max(1) as f64;
        let out = self.sum.iter().map(|s| s / c).collect();
        self.sum.iter_mut().for_each(|s| *s = 0.0);
        self.count = 0;
        out
    }
}

/// The iteration state of a mini-batch run.
struct Run<'a, R> {
    ctl: &'a Control,
    base_rate: f64,
    rule: &'a mut R,
    started: Instant,
    x: Vec<f64>,
    x_new: Vec<f64>,
    g: Vec<f64>,
    gc: Vec<f64>,
    groups: GroupRms<'a>,
    k: u64,
    rate: f64,
    evals: Evals,
}

impl<R: Rule> Run<'_, R> {
    /// One update on `batch`: evaluate, record the group norms, clip, propose, report.
    /// Returns the batch loss before the update, or why the run must stop.
    fn step<S: StochasticObjective>(
        &mut self,
        problem: &S,
        batch: &[usize],
        steps: &mut dyn Observer,
    ) -> Result<f64, Stop> {
        if self.ctl.limits.max_time.is_some_and(|t| self.started.elapsed() >= t) {
            return Err(Stop::TimeBudget);
        }
        self.evals.gradients += 1;
        let f = problem
            .batch_value_grad(&self.x, batch, &mut self.g)
            .filter(|v| v.is_finite())
            .ok_or(Stop::Infeasible)?;
        self.groups.add(&self.g);
        let k = u32::try_from(self.k).unwrap_or(u32::MAX);
        self.rate = self.base_rate * self.ctl.schedule.factor(k);
        self.gc.copy_from_slice(&self.g);
        self.ctl.clip.apply(&mut self.gc);
        self.rule.propose(k, &self.x, &self.gc, self.rate, &mut self.x_new);
        let step = crate::solver::schedule::dist(&self.x_new, &self.x);
        std::mem::swap(&mut self.x, &mut self.x_new);
        self.k += 1;
        let iter = u32::try_from(self.k).unwrap_or(u32::MAX);
        let grad_norm = norm2(&self.g);
        steps.observe(&Iterate { iter, cost: f, grad_norm, step, rate: self.rate });
        Ok(f)
    }
}

/// The mini-batch loop shared by every [`MiniBatch`] solver.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_epochs<S: StochasticObjective, R: Rule>(
    problem: &S,
    x0: &[f64],
    spec: &Epochs,
    validation: Option<&dyn Validation>,
    steps: &mut dyn Observer,
    epochs: &mut dyn EpochObserver,
    ctl: &Control,
    base_rate: f64,
    rule: &mut R,
) -> Training {
    let n = x0.len();
    let samples = problem.num_samples();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut order: Vec<usize> = (0..samples).collect();
    let mut run = Run {
        ctl,
        base_rate,
        rule,
        started: Instant::now(),
        x: x0.to_vec(),
        x_new: vec![0.0; n],
        g: vec![0.0; n],
        gc: vec![0.0; n],
        groups: GroupRms::new(&spec.groups),
        k: 0,
        rate: base_rate,
        evals: Evals::default(),
    };
    let mut history = Vec::with_capacity(spec.epochs as usize);
    let stopping = spec.early_stopping.filter(|_| validation.is_some());
    let val0 = validation.and_then(|v| v.loss(x0));
    let mut best = Best { x: x0.to_vec(), loss: val0.unwrap_or(f64::INFINITY), epoch: 0, since: 0 };
    let mut stop = Stop::MaxIters;
    'epochs: for epoch in 1..=spec.epochs {
        if spec.shuffle {
            order.shuffle(&mut rng);
        }
        let mut sum = 0.0;
        for batch in order.chunks(spec.batch_size.max(1)) {
            match run.step(problem, batch, steps) {
                Ok(f) => sum += f * batch.len() as f64,
                Err(s) => {
                    stop = s;
                    break 'epochs;
                }
            }
        }
        let val_loss = validation.and_then(|v| v.loss(&run.x));
        let e = Epoch {
            epoch,
            train_loss: sum / samples.max(1) as f64,
            val_loss,
            steps: run.k,
            rate: run.rate,
            group_grad_rms: run.groups.take(),
        };
        epochs.epoch(&e);
        history.push(e);
        if let (Some(es), Some(v)) = (stopping, val_loss) {
            if best.improve(es, v, &run.x, epoch) {
                stop = Stop::Stalled;
                break;
            }
        }
    }
    let restore = stopping.is_some_and(|es| es.restore_best) && best.loss.is_finite();
    let (x, cost, best_epoch) = if restore {
        (best.x, best.loss, best.epoch)
    } else {
        let cost =
            history.last().map_or(val0.unwrap_or(f64::NAN), |e| e.val_loss.unwrap_or(e.train_loss));
        (run.x, cost, history.last().map_or(0, |e| e.epoch))
    };
    let iters = u32::try_from(run.k).unwrap_or(u32::MAX);
    let minimum = Minimum { x, cost, stop, iters, evals: run.evals };
    Training { minimum, epochs: history, best_epoch }
}
