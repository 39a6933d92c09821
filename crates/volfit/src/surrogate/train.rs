//! Training a surrogate on a data directory written by [`generate`](super::generate): see
//! [`train`].
//!
//! Inputs are scaled to the parameter box (`x ↦ (x − centre)/half-width`, so the box is
//! `[−1, 1]ⁿ` whatever the model), outputs by the training set's mean and standard deviation
//! per grid point. A seeded share of the samples is held out for validation: early stopping
//! (patience in epochs, best point restored) and the per-grid-point error table
//! ([`GridErrors`]). Mini-batch solvers run volfit-optim's epochs (cosine learning-rate decay
//! over the whole run); L-BFGS trains full-batch.

use super::data::{read_chunk, DataError, DataSpec, SPEC_FILE};
use super::net::{Surrogate, SurrogateInfo};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;
use volfit_nn::{
    Activation, Affine, Architecture, Dataset, Init, Network, Normalization, Regression,
};
use volfit_optim::loss::LossKind;
use volfit_optim::{
    Adam, Control, EarlyStopping, Epoch, EpochObserver, Epochs, GradientDescent, Iterate, Lbfgs,
    Limits, MeanOver, MiniBatch, Momentum, Nesterov, Observer, RmsProp, Schedule, Solver,
    StochasticObjective, Stop,
};

/// The solver that trains a surrogate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainSolver {
    /// Adam (mini-batch).
    Adam,
    /// AdamW, weight decay 10⁻⁴ (mini-batch).
    Adamw,
    /// Plain gradient descent (mini-batch SGD).
    Gd,
    /// Heavy-ball momentum (mini-batch).
    Momentum,
    /// Nesterov momentum (mini-batch).
    Nesterov,
    /// RMSProp (mini-batch).
    Rmsprop,
    /// L-BFGS on the full batch (`--epochs` = iterations).
    Lbfgs,
}

impl TrainSolver {
    /// Every solver, in CLI order.
    pub const ALL: [TrainSolver; 7] = [
        TrainSolver::Adam,
        TrainSolver::Adamw,
        TrainSolver::Gd,
        TrainSolver::Momentum,
        TrainSolver::Nesterov,
        TrainSolver::Rmsprop,
        TrainSolver::Lbfgs,
    ];
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            TrainSolver::Adam => "adam",
            TrainSolver::Adamw => "adamw",
            TrainSolver::Gd => "gd",
            TrainSolver::Momentum => "momentum",
            TrainSolver::Nesterov => "nesterov",
            TrainSolver::Rmsprop => "rmsprop",
            TrainSolver::Lbfgs => "lbfgs",
        }
    }
}

impl std::str::FromStr for TrainSolver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TrainSolver::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let all: Vec<&str> = TrainSolver::ALL.iter().map(|k| k.name()).collect();
            format!("unknown solver {s:?} (expected {})", all.join("|"))
        })
    }
}

/// How to train a surrogate.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Hidden activation (the output layer is linear).
    pub activation: Activation,
    /// Solver.
    pub solver: TrainSolver,
    /// Loss on the normalised outputs (`mse`, `huber:S`, …).
    pub loss: LossKind,
    /// Epochs (iterations for L-BFGS).
    pub epochs: u32,
    /// Samples per mini-batch.
    pub batch: usize,
    /// Base learning rate (mini-batch solvers).
    pub lr: f64,
    /// Seed of the weights, the validation split and the shuffling.
    pub seed: u64,
    /// Share of the samples held out for validation, in (0, 1).
    pub validation_share: f64,
    /// Early stopping: epochs without a validation improvement.
    pub patience: u32,
    /// Final learning rate as a share of `lr` (cosine decay over the run).
    pub lr_floor: f64,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            hidden: vec![30; 4],
            activation: Activation::Elu,
            solver: TrainSolver::Adam,
            loss: LossKind::Mse,
            epochs: 200,
            batch: 64,
            lr: 1e-3,
            seed: 0,
            validation_share: 0.1,
            patience: 20,
            lr_floor: 0.01,
        }
    }
}

impl TrainSpec {
    /// The spec as the JSON the net's header records.
    pub fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "hidden": self.hidden, "activation": self.activation.name(),
            "solver": self.solver.name(), "loss": self.loss.to_string(),
            "epochs": self.epochs, "batch": self.batch, "lr": self.lr, "seed": self.seed,
            "validation_share": self.validation_share, "patience": self.patience,
            "schedule": format!("cosine to {}×lr", self.lr_floor),
        })
    }
}

/// Parses `DEPTHxWIDTH` (`4x30`) or a comma list of widths (`64,64,32`).
///
/// # Errors
/// A message naming the text.
pub fn parse_hidden(s: &str) -> Result<Vec<usize>, String> {
    let bad = || format!("hidden layers {s:?}: expected DEPTHxWIDTH (4x30) or widths (64,64,32)");
    let widths: Vec<usize> = if let Some((d, w)) = s.split_once('x') {
        let (d, w): (usize, usize) =
            (d.trim().parse().map_err(|_| bad())?, w.trim().parse().map_err(|_| bad())?);
        vec![w; d]
    } else {
        s.split(',').map(|w| w.trim().parse()).collect::<Result<_, _>>().map_err(|_| bad())?
    };
    if widths.is_empty() || widths.contains(&0) {
        return Err(bad());
    }
    Ok(widths)
}

/// A data directory in memory: its spec and every kept sample.
#[derive(Clone, Debug)]
pub struct TrainingData {
    /// The directory's `spec.json`.
    pub spec: DataSpec,
    /// Parameters, row-major (samples × parameters).
    pub params: Vec<f64>,
    /// Grid vols, row-major (samples × grid points).
    pub ivs: Vec<f64>,
}

impl TrainingData {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.params.len() / self.spec.params.len().max(1)
    }
    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// Reads `dir/spec.json` and every chunk it lists.
///
/// # Errors
/// [`DataError::File`] naming a missing or unreadable file (and line).
pub fn load_data(dir: &Path) -> Result<TrainingData, DataError> {
    let path = dir.join(SPEC_FILE);
    let file = |p: &Path, msg: String| DataError::File { path: p.to_path_buf(), msg };
    let bytes = std::fs::read(&path).map_err(|e| file(&path, e.to_string()))?;
    let spec: DataSpec = serde_json::from_slice(&bytes).map_err(|e| file(&path, e.to_string()))?;
    let (mut params, mut ivs) = (Vec::new(), Vec::new());
    for c in 0..spec.num_chunks() {
        let p = dir.join(DataSpec::chunk_name(c));
        if !p.exists() {
            return Err(file(
                &p,
                "missing: the data set is incomplete (rerun `volfit surrogate data` with the \
                 same settings to finish it)"
                    .into(),
            ));
        }
        for row in read_chunk(&spec, &p)? {
            params.extend_from_slice(&row.params);
            ivs.extend_from_slice(&row.ivs);
        }
    }
    Ok(TrainingData { spec, params, ivs })
}

/// Median and 99th percentile of `|net − exact|` (vol, not vol points) per grid point on a
/// set of samples, and over all points.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GridErrors {
    /// Samples evaluated.
    pub samples: usize,
    /// Per grid point (maturity-major), the median absolute error.
    pub median: Vec<f64>,
    /// Per grid point, the 99th percentile absolute error.
    pub p99: Vec<f64>,
    /// Median over all points of all samples.
    pub all_median: f64,
    /// 99th percentile over all points of all samples.
    pub all_p99: f64,
    /// Largest absolute error.
    pub max: f64,
}

/// Nearest-rank quantile `q` of sorted values (NaN when empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// [`GridErrors`] of `net` on the samples `params` (row-major) with exact vols `ivs`.
pub fn grid_errors(net: &Surrogate, params: &[f64], ivs: &[f64]) -> GridErrors {
    let (np, ng) = (net.num_params(), net.info().grid.len());
    let n = params.len() / np.max(1);
    let mut out = vec![0.0; ng * n];
    let mut ws = net.network().mlp().workspace(n.min(1024));
    for (x, y) in params.chunks(1024 * np).zip(out.chunks_mut(1024 * ng)) {
        net.network().predict(x, &mut ws, y);
    }
    let mut per: Vec<Vec<f64>> = vec![Vec::with_capacity(n); ng];
    for (o, e) in out.chunks_exact(ng).zip(ivs.chunks_exact(ng)) {
        for ((col, p), y) in per.iter_mut().zip(o).zip(e) {
            col.push((p - y).abs());
        }
    }
    let mut all: Vec<f64> = per.iter().flatten().copied().collect();
    per.iter_mut().for_each(|c| c.sort_by(f64::total_cmp));
    all.sort_by(f64::total_cmp);
    GridErrors {
        samples: n,
        median: per.iter().map(|c| quantile(c, 0.5)).collect(),
        p99: per.iter().map(|c| quantile(c, 0.99)).collect(),
        all_median: quantile(&all, 0.5),
        all_p99: quantile(&all, 0.99),
        max: all.last().copied().unwrap_or(f64::NAN),
    }
}

/// What [`train`] produced.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained net (best validation point).
    pub surrogate: Surrogate,
    /// Per epoch: losses (normalised units), rate, per-layer gradient RMS.
    pub epochs: Vec<Epoch>,
    /// The epoch whose weights were kept (0: the start).
    pub best_epoch: u32,
    /// Why training stopped.
    pub stop: Stop,
    /// Validation loss of the initial weights.
    pub initial_val_loss: f64,
    /// Validation loss of the returned weights.
    pub final_val_loss: f64,
    /// Training samples.
    pub n_train: usize,
    /// Validation samples.
    pub n_val: usize,
    /// |IV error| per grid point on the validation samples.
    pub errors: GridErrors,
    /// Wall time of the training, seconds.
    pub seconds: f64,
}

/// Why a net cannot be trained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A setting is out of range (names the flag).
    #[error("{0}")]
    Spec(String),
    /// The data cannot make a training set.
    #[error("training data: {0}")]
    Data(String),
}

/// The samples `rows` of `data` as a dataset.
fn subset(data: &TrainingData, rows: &[usize]) -> Result<Dataset, TrainError> {
    let (np, ng) = (data.spec.params.len(), data.spec.grid.len());
    let (mut x, mut y) = (Vec::with_capacity(rows.len() * np), Vec::with_capacity(rows.len() * ng));
    for &r in rows {
        x.extend_from_slice(&data.params[r * np..(r + 1) * np]);
        y.extend_from_slice(&data.ivs[r * ng..(r + 1) * ng]);
    }
    Dataset::new(x, y, np, ng).map_err(|e| TrainError::Data(e.to_string()))
}

/// XOR-ed into the seed for the validation split (the weights use the seed itself).
const SPLIT_STREAM: u64 = 0x5EED_0000_5917;

/// The seeded validation split: (training rows, validation rows).
fn split(n: usize, spec: &TrainSpec) -> Result<(Vec<usize>, Vec<usize>), TrainError> {
    let f = spec.validation_share;
    if !(f > 0.0 && f < 1.0) {
        return Err(TrainError::Spec(format!("--validation-share {f}: must be in (0, 1)")));
    }
    let n_val = ((n as f64 * f).round() as usize).max(1);
    if n < 2 || n_val >= n {
        return Err(TrainError::Data(format!("{n} samples: too few to hold out {f} of them")));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(spec.seed ^ SPLIT_STREAM));
    let (val, train) = order.split_at(n_val);
    let (mut train, mut val) = (train.to_vec(), val.to_vec());
    train.sort_unstable();
    val.sort_unstable();
    Ok((train, val))
}

/// Box scaling of the inputs (the box is `[−1, 1]ⁿ`), mean/deviation of the outputs.
fn normalization(info: &SurrogateInfo, train: &Dataset) -> Normalization {
    let b = &info.bounds;
    let shift = b.lower.iter().zip(&b.upper).map(|(l, u)| 0.5 * (l + u)).collect();
    let scale = b.lower.iter().zip(&b.upper).map(|(l, u)| 0.5 * (u - l)).collect();
    Normalization {
        input: Affine { shift, scale },
        output: Affine::fit(train.targets(), train.num_outputs()),
    }
}

/// L-BFGS iterates as epochs (training loss only), forwarded to an epoch observer.
struct IterEpochs<'a> {
    epochs: Vec<Epoch>,
    observer: &'a mut dyn EpochObserver,
}

impl Observer for IterEpochs<'_> {
    fn observe(&mut self, it: &Iterate) {
        if it.iter == 0 {
            return;
        }
        let e = Epoch {
            epoch: it.iter,
            train_loss: it.cost,
            val_loss: None,
            steps: u64::from(it.iter),
            rate: it.rate,
            group_grad_rms: Vec::new(),
        };
        self.observer.epoch(&e);
        self.epochs.push(e);
    }
}

/// Runs the solver of `spec` on `reg` from `x0`; returns (point, epochs, best epoch, stop).
fn run_solver<S: StochasticObjective + volfit_optim::Objective>(
    reg: &S,
    val: &MeanOver<&S>,
    x0: &[f64],
    spec: &TrainSpec,
    groups: Vec<std::ops::Range<usize>>,
    observer: &mut dyn EpochObserver,
) -> (Vec<f64>, Vec<Epoch>, u32, Stop) {
    if spec.solver == TrainSolver::Lbfgs {
        let limits = Limits { max_iters: spec.epochs, max_evals: u64::MAX, ..Limits::default() };
        let mut obs = IterEpochs { epochs: Vec::new(), observer };
        let m = Lbfgs { limits, ..Lbfgs::default() }.minimize(reg, x0, &mut obs);
        let best = obs.epochs.last().map_or(0, |e| e.epoch);
        return (m.x, obs.epochs, best, m.stop);
    }
    let batch = spec.batch.max(1);
    let steps_per_epoch = reg.num_samples().div_ceil(batch) as u64;
    let period = u32::try_from(steps_per_epoch * u64::from(spec.epochs)).unwrap_or(u32::MAX);
    let control = Control {
        schedule: Schedule::Cosine { period, floor: spec.lr_floor },
        ..Control::default()
    };
    let epochs = Epochs {
        epochs: spec.epochs,
        batch_size: batch,
        seed: spec.seed,
        shuffle: true,
        early_stopping: Some(EarlyStopping {
            patience: spec.patience.max(1),
            ..EarlyStopping::default()
        }),
        groups,
        eval_chunk: 1024,
    };
    let lr = spec.lr;
    let v: Option<&dyn volfit_optim::Validation> = Some(val);
    let t = match spec.solver {
        TrainSolver::Adam => {
            Adam { lr, control, ..Adam::default() }.train(reg, x0, &epochs, v, &mut (), observer)
        }
        TrainSolver::Adamw => Adam { lr, weight_decay: 1e-4, control, ..Adam::default() }.train(
            reg,
            x0,
            &epochs,
            v,
            &mut (),
            observer,
        ),
        TrainSolver::Gd => GradientDescent { lr, control, ..GradientDescent::default() }.train(
            reg,
            x0,
            &epochs,
            v,
            &mut (),
            observer,
        ),
        TrainSolver::Momentum => Momentum { lr, control, ..Momentum::default() }.train(
            reg,
            x0,
            &epochs,
            v,
            &mut (),
            observer,
        ),
        TrainSolver::Nesterov => Nesterov { lr, control, ..Nesterov::default() }.train(
            reg,
            x0,
            &epochs,
            v,
            &mut (),
            observer,
        ),
        TrainSolver::Rmsprop | TrainSolver::Lbfgs => RmsProp { lr, control, ..RmsProp::default() }
            .train(reg, x0, &epochs, v, &mut (), observer),
    };
    (t.minimum.x, t.epochs, t.best_epoch, t.minimum.stop)
}

/// Checks the settings that have no natural type bound.
fn check(spec: &TrainSpec) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::Spec(m));
    if spec.epochs == 0 {
        return bad("--epochs must be at least 1".into());
    }
    if spec.batch == 0 {
        return bad("--batch must be at least 1".into());
    }
    if !(spec.lr > 0.0 && spec.lr.is_finite()) {
        return bad(format!("--lr {}: must be a positive number", spec.lr));
    }
    if spec.hidden.is_empty() || spec.hidden.contains(&0) {
        return bad("--hidden: every layer needs at least one unit".into());
    }
    Ok(())
}

/// Trains a surrogate on `data` under `spec`, reporting each epoch to `observer`.
///
/// # Errors
/// [`TrainError`] for a bad setting or data that cannot be split or trained on.
pub fn train(
    data: &TrainingData,
    spec: &TrainSpec,
    observer: &mut dyn EpochObserver,
) -> Result<TrainOutcome, TrainError> {
    check(spec)?;
    let started = Instant::now();
    let info = SurrogateInfo {
        model: data.spec.model.name().to_string(),
        params: data.spec.params.clone(),
        bounds: data.spec.bounds.clone(),
        grid: data.spec.grid.clone(),
        volfit_version: env!("CARGO_PKG_VERSION").into(),
    };
    let (train_rows, val_rows) = split(data.len(), spec)?;
    let (train, val) = (subset(data, &train_rows)?, subset(data, &val_rows)?);
    let arch = Architecture::new(info.params.len(), &spec.hidden, info.grid.len(), spec.activation);
    let init = match spec.activation {
        Activation::Elu | Activation::Relu => Init::He,
        _ => Init::Glorot,
    };
    let nn_err = |e: volfit_nn::NnError| TrainError::Data(e.to_string());
    let mut net = Network::init(arch, init, spec.seed).map_err(nn_err)?;
    net.set_normalization(normalization(&info, &train)).map_err(nn_err)?;
    let norm = net.normalization().clone();
    let (tn, vn) =
        (train.normalized(&norm).map_err(nn_err)?, val.normalized(&norm).map_err(nn_err)?);
    let mlp = net.mlp().clone();
    let reg = Regression::new(&mlp, &tn, spec.loss, spec.batch).map_err(nn_err)?;
    let vreg = Regression::new(&mlp, &vn, spec.loss, 1024).map_err(nn_err)?;
    let val_obj = MeanOver { objective: &vreg, chunk: 1024 };
    let initial_val_loss = vreg.mean_value(net.params(), 1024).unwrap_or(f64::NAN);
    let (x, mut epochs, best_epoch, stop) =
        run_solver(&reg, &val_obj, net.params(), spec, mlp.groups(), observer);
    net.params_mut().copy_from_slice(&x);
    let final_val_loss = vreg.mean_value(&x, 1024).unwrap_or(f64::NAN);
    if let Some(last) = epochs.last_mut().filter(|e| e.val_loss.is_none()) {
        last.val_loss = Some(final_val_loss);
    }
    let mut record = spec.record();
    record["data"] = serde_json::json!({
        "model": info.model, "samples": data.spec.samples, "seed": data.spec.seed,
        "kept": data.len(), "n_train": train.len(), "n_val": val.len(),
    });
    record["result"] = serde_json::json!({
        "epochs_run": epochs.len(), "best_epoch": best_epoch, "stop": format!("{stop:?}"),
        "val_loss": final_val_loss,
    });
    let surrogate = Surrogate::new(net, info, Some(record))
        .map_err(|(f, m)| TrainError::Data(format!("{f}: {m}")))?;
    let errors = grid_errors(&surrogate, val.inputs(), val.targets());
    Ok(TrainOutcome {
        surrogate,
        epochs,
        best_epoch,
        stop,
        initial_val_loss,
        final_val_loss,
        n_train: train.len(),
        n_val: val.len(),
        errors,
        seconds: started.elapsed().as_secs_f64(),
    })
}
