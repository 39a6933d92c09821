//! Mini-batch training: every first-order solver on a stochastic least-squares problem,
//! seeded shuffling, schedules and clipping, early stopping with restore, per-group
//! gradient diagnostics.

use volfit_optim::solver::schedule::{Clip, Schedule};
use volfit_optim::{
    diagnose_groups, Adam, Control, EarlyStopping, Epoch, Epochs, FullBatch, GradientDescent,
    GroupThresholds, GroupWarning, MiniBatch, Momentum, Nesterov, Objective, RmsProp,
    StochasticObjective, Stop, Trace, Validation,
};

/// `fᵢ(x) = ½(aᵢ·x − bᵢ)²` with `bᵢ = aᵢ·x*`: every sample is minimised at `x*`, so SGD
/// with a constant rate converges to it exactly.
struct LinearLs {
    a: Vec<[f64; 3]>,
    b: Vec<f64>,
    fail_at: Option<usize>,
}

const X_STAR: [f64; 3] = [1.0, -2.0, 0.5];

impl LinearLs {
    fn new(n: usize) -> Self {
        let a: Vec<[f64; 3]> = (0..n)
            .map(|i| {
                let t = i as f64;
                [(0.7 * t).sin(), (1.3 * t + 0.2).cos(), 0.5 + 0.1 * (t % 5.0)]
            })
            .collect();
        let b = a.iter().map(|r| r.iter().zip(X_STAR).map(|(p, q)| p * q).sum()).collect();
        LinearLs { a, b, fail_at: None }
    }
}

impl StochasticObjective for LinearLs {
    fn num_params(&self) -> usize {
        3
    }
    fn num_samples(&self) -> usize {
        self.a.len()
    }
    fn batch_value_grad(&self, x: &[f64], idx: &[usize], g: &mut [f64]) -> Option<f64> {
        if self.fail_at.is_some_and(|i| idx.contains(&i)) {
            return None;
        }
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut f = 0.0;
        for &i in idx {
            let r: f64 = self.a[i].iter().zip(x).map(|(p, q)| p * q).sum::<f64>() - self.b[i];
            f += 0.5 * r * r;
            g.iter_mut().zip(&self.a[i]).for_each(|(g, a)| *g += r * a);
        }
        let inv = 1.0 / idx.len() as f64;
        g.iter_mut().for_each(|v| *v *= inv);
        Some(f * inv)
    }
}

fn dist(x: &[f64]) -> f64 {
    x.iter().zip(X_STAR).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
}

fn spec(epochs: u32) -> Epochs {
    Epochs { epochs, batch_size: 8, seed: 3, groups: vec![0..2, 2..3], ..Epochs::default() }
}

#[test]
fn every_first_order_solver_trains_on_mini_batches_to_the_exact_solution() {
    let p = LinearLs::new(100);
    let x0 = [0.0; 3];
    let s = spec(300);
    let run = |t: &dyn Fn() -> volfit_optim::Training, name: &str| {
        let t = t();
        assert_eq!(t.minimum.stop, Stop::MaxIters, "{name}");
        assert_eq!(t.minimum.iters, 300 * 13, "{name}: 13 batches per epoch");
        assert!(dist(&t.minimum.x) < 1e-4, "{name}: {:?}", t.minimum.x);
    };
    let gd = GradientDescent { lr: 0.3, ..GradientDescent::default() };
    run(&|| gd.train(&p, &x0, &s, None, &mut (), &mut ()), "sgd");
    let m = Momentum { lr: 0.05, ..Momentum::default() };
    run(&|| m.train(&p, &x0, &s, None, &mut (), &mut ()), "momentum");
    let n = Nesterov { lr: 0.05, ..Nesterov::default() };
    run(&|| n.train(&p, &x0, &s, None, &mut (), &mut ()), "nesterov");
    // Adam and RMSProp take steps of about the rate whatever the gradient: a decaying
    // rate lets them settle.
    let decay = Control { schedule: Schedule::Exponential { decay: 0.999 }, ..Control::default() };
    let a = Adam { lr: 0.05, control: decay.clone(), ..Adam::default() };
    run(&|| a.train(&p, &x0, &s, None, &mut (), &mut ()), "adam");
    let w = Adam { lr: 0.05, weight_decay: 1e-9, control: decay.clone(), ..Adam::default() };
    run(&|| w.train(&p, &x0, &s, None, &mut (), &mut ()), "adamw");
    let faster = Control { schedule: Schedule::Exponential { decay: 0.998 }, ..decay };
    let r = RmsProp { lr: 0.02, control: faster, ..RmsProp::default() };
    run(&|| r.train(&p, &x0, &s, None, &mut (), &mut ()), "rmsprop");
}

#[test]
fn shuffling_is_seeded_and_every_step_and_epoch_is_observed() {
    let p = LinearLs::new(50);
    let gd = GradientDescent { lr: 0.1, ..GradientDescent::default() };
    let (mut trace, mut seen) = (Trace::default(), Vec::new());
    let t1 =
        gd.train(&p, &[0.0; 3], &spec(4), None, &mut trace, &mut |e: &Epoch| seen.push(e.clone()));
    // 50 samples in batches of 8: 7 steps per epoch.
    assert_eq!(trace.iterates.len(), 28);
    assert_eq!(seen, t1.epochs);
    assert_eq!(seen.iter().map(|e| e.steps).collect::<Vec<_>>(), [7, 14, 21, 28]);
    assert_eq!(t1.epochs[0].group_grad_rms.len(), 2);
    let t2 = gd.train(&p, &[0.0; 3], &spec(4), None, &mut (), &mut ());
    assert_eq!(t1.minimum.x, t2.minimum.x);
    let other = Epochs { seed: 4, ..spec(4) };
    assert_ne!(gd.train(&p, &[0.0; 3], &other, None, &mut (), &mut ()).minimum.x, t1.minimum.x);
    let ordered = Epochs { shuffle: false, ..spec(4) };
    assert_ne!(gd.train(&p, &[0.0; 3], &ordered, None, &mut (), &mut ()).minimum.x, t1.minimum.x);
}

#[test]
fn schedule_and_clipping_shape_the_steps() {
    let p = LinearLs::new(16);
    let ctl = Control {
        schedule: Schedule::Step { every: 2, factor: 0.5 },
        clip: Clip::Value(1e-3),
        ..Control::default()
    };
    let gd = GradientDescent { lr: 1.0, control: ctl, ..GradientDescent::default() };
    let mut trace = Trace::default();
    gd.train(&p, &[0.0; 3], &spec(2), None, &mut trace, &mut ());
    // Steps k = 0..4 have rates 1, 1, ½, ½; each clipped component moves at most 1e-3·rate.
    let rates: Vec<f64> = trace.iterates.iter().map(|i| i.rate).collect();
    assert_eq!(rates, [1.0, 1.0, 0.5, 0.5]);
    for it in &trace.iterates {
        assert!(it.step <= 1e-3 * it.rate * 3f64.sqrt() * (1.0 + 1e-12), "{it:?}");
    }
}

/// Validation loss `(x₀ − ½)²`: the path from 0 toward `x*₀ = 1` passes its minimum.
struct HalfWay;

impl Validation for HalfWay {
    fn loss(&self, x: &[f64]) -> Option<f64> {
        Some((x[0] - 0.5) * (x[0] - 0.5))
    }
}

#[test]
fn early_stopping_stops_on_the_validation_loss_and_restores_the_best_point() {
    let p = LinearLs::new(40);
    let gd = GradientDescent { lr: 0.02, ..GradientDescent::default() };
    let es = EarlyStopping { patience: 3, min_delta: 0.0, restore_best: true };
    let s = Epochs { early_stopping: Some(es), ..spec(500) };
    let t = gd.train(&p, &[0.0; 3], &s, Some(&HalfWay), &mut (), &mut ());
    assert_eq!(t.minimum.stop, Stop::Stalled);
    assert!(t.epochs.len() < 500);
    assert_eq!(t.epochs.len() as u32, t.best_epoch + 3);
    let best = t.epochs.iter().filter_map(|e| e.val_loss).fold(f64::INFINITY, f64::min);
    assert_eq!(t.minimum.cost, best);
    assert_eq!(HalfWay.loss(&t.minimum.x), Some(best));
    // Without restoring, the last point comes back.
    let keep = Epochs { early_stopping: Some(EarlyStopping { restore_best: false, ..es }), ..s };
    let t2 = gd.train(&p, &[0.0; 3], &keep, Some(&HalfWay), &mut (), &mut ());
    assert!(t2.minimum.cost > best);
}

#[test]
fn a_batch_that_cannot_be_evaluated_stops_the_training() {
    let mut p = LinearLs::new(20);
    p.fail_at = Some(13);
    let t = GradientDescent::default().train(&p, &[0.0; 3], &spec(3), None, &mut (), &mut ());
    assert_eq!(t.minimum.stop, Stop::Infeasible);
    assert!(t.epochs.is_empty());
}

#[test]
fn full_batch_is_the_mean_over_all_samples() {
    let p = LinearLs::new(30);
    let x = [0.3, 0.1, -0.2];
    let (mut g1, mut g2) = ([0.0; 3], [0.0; 3]);
    let all: Vec<usize> = (0..30).collect();
    let f1 = FullBatch::new(&p).value_grad(&x, &mut g1).unwrap();
    let f2 = p.batch_value_grad(&x, &all, &mut g2).unwrap();
    assert_eq!((f1, g1), (f2, g2));
    // Chunked mean: equal to rounding.
    assert!((p.mean_value(&x, 7).unwrap() - f1).abs() < 1e-15 * f1.abs().max(1.0));
}

#[test]
fn group_diagnostics_flag_vanishing_exploding_and_non_finite_groups() {
    let records = vec![vec![1e-6, 1.0, 2.0], vec![2e-6, 1.0, 4e3], vec![1e-6, f64::NAN, 1.0]];
    let w = diagnose_groups(&records, &GroupThresholds::default());
    assert!(matches!(w[0], GroupWarning::Vanishing { group: 0, .. }), "{w:?}");
    assert!(matches!(w[1], GroupWarning::NonFinite { group: 1, record: 2 }), "{w:?}");
    assert!(matches!(w[2], GroupWarning::Exploding { group: 2, record: 1, .. }), "{w:?}");
    assert_eq!(w.len(), 3);
    let healthy = vec![vec![0.1, 1.0, 0.5]; 4];
    assert!(diagnose_groups(&healthy, &GroupThresholds::default()).is_empty());
}
