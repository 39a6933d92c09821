//! The `volfit deephedge train` job: simulate, train, evaluate, write the files.
//!
//! Files in the output directory (all through [`write_atomic`]):
//! - `policy.safetensors`: the `[policy] kind` network (volfit-nn format, identity
//!   normalisation; the header's `extra` holds the policy kind, features, claim, dynamics,
//!   objective, trained thresholds and, when calibrated, the calibration); `policy-<name>.safetensors` for `[policy] also`;
//! - `training_log.csv`: one row per policy and epoch — `policy, epoch, train_loss,
//!   val_loss, rate, steps`, then the gradient RMS of each layer (`grad_rms_layer<l>`) and of
//!   the thresholds (`grad_rms_thresholds`);
//! - `evaluation.csv`: one row per policy and statistic (see [`Row`](super::Row)), the
//!   classical hedges included, differences against `black_delta`.

use super::calibrate::Calibration;
use super::config::{DhConfig, Setup};
use super::evaluate::{
    abs_from_black_by_step, evaluate, hedge_curve, simulate_policy, CurvePoint, Evaluation,
};
use super::features::{Claim, Inputs};
use super::paths::{Dynamics, Paths};
use super::policy::{Policy, PolicyKind};
use super::train::{train, Trained};
use super::unroll::Unroll;
use crate::io::write_atomic;
use std::collections::BTreeMap;
use std::path::Path;
use volfit_nn::{Network, Normalization, Precision};
use volfit_optim::stochastic::Epoch;

/// Why the job failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DhError {
    /// The configuration is invalid (the message names the key).
    #[error("{0}")]
    Config(String),
    /// Writing an output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Building or serialising a network failed.
    #[error("network: {0}")]
    Nn(#[from] volfit_nn::NnError),
    /// The evaluation's risk measures failed.
    #[error("evaluation: {0}")]
    Risk(#[from] crate::risk::RiskError),
}

/// What the job produced: the files, and what the report page shows.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
    /// The evaluation on the test paths (differences against the Black delta hedge).
    pub evaluation: Evaluation,
    /// The same evaluation with differences against the Whalley–Wilmott hedge.
    pub versus_ww: Evaluation,
    /// Per trained policy, its training.
    pub trained: Vec<(PolicyKind, Trained)>,
    /// The claim, as resolved (strike and maturity from the snapshot when calibrated).
    pub claim: Claim,
    /// The dynamics the paths were simulated under.
    pub dynamics: Dynamics,
    /// The calibration to a snapshot, when `[dynamics] calibrate` is given.
    pub calibration: Option<Calibration>,
    /// Per policy, in evaluation order: its test P&L and mean `|h − δ|` per hedge step.
    pub policies: Vec<PolicyView>,
    /// The first test path's forwards (`steps + 1` states).
    pub sample_forward: Vec<f64>,
}

/// What the report shows of one policy on the test paths.
#[derive(Clone, Debug)]
pub struct PolicyView {
    /// The policy.
    pub kind: PolicyKind,
    /// Terminal P&L per test path.
    pub pnl: Vec<f64>,
    /// Mean `|h_t − δ_t|` over the test paths per hedge step `t`.
    pub from_black: Vec<f64>,
    /// Hedges of the first test path, per step.
    pub sample_hedge: Vec<f64>,
    /// Hedge curves over moneyness at the fractions [`CURVE_TAUS`] of the maturity.
    pub curves: Vec<Vec<CurvePoint>>,
}

/// Fractions `τ/T` of the time to expiry at which hedge curves are drawn.
pub const CURVE_TAUS: [f64; 3] = [1.0, 0.5, 0.1];

/// Forward over strike of the hedge curves: 41 points over ±2.5 Black deviations.
pub fn curve_moneyness(claim: &Claim) -> Vec<f64> {
    let s = claim.black_vol * claim.maturity.sqrt();
    (0..41).map(|i| (s * (f64::from(i) / 8.0 - 2.5)).exp()).collect()
}

/// Runs the job of `cfg`, resolved as `setup` ([`DhConfig::setup`]), into `out` (created if
/// missing); `on_epoch(policy, epoch)` after every epoch (progress).
///
/// # Errors
/// [`DhError`] for an invalid configuration or a failed write.
pub fn run_job(
    cfg: &DhConfig,
    setup: &Setup,
    out: &Path,
    on_epoch: &mut dyn FnMut(PolicyKind, &Epoch),
) -> Result<Summary, DhError> {
    let (claim, dynamics) = (setup.claim, setup.dynamics);
    let objective = cfg.objective().map_err(DhError::Config)?;
    let measures = cfg.measures().map_err(DhError::Config)?;
    let (t, steps) = (claim.maturity, cfg.claim.steps);
    let train_paths = Paths::simulate(&dynamics, cfg.training.paths, steps, t, cfg.seed);
    let n_valid = cfg.training.validation_paths;
    let valid_paths = (n_valid > 0)
        .then(|| Paths::simulate(&dynamics, n_valid, steps, t, cfg.seed.wrapping_add(1)));
    let test_paths =
        Paths::simulate(&dynamics, cfg.evaluation.paths, steps, t, cfg.seed.wrapping_add(2));
    std::fs::create_dir_all(out)?;
    let mut files = Vec::new();
    let mut trained = Vec::new();
    let mut policies = Vec::new();
    let kinds: Vec<PolicyKind> = std::iter::once(cfg.policy.kind)
        .chain(cfg.policy.also.iter().copied().filter(|k| *k != cfg.policy.kind))
        .chain([PolicyKind::BlackDelta, PolicyKind::WhalleyWilmott])
        .collect();
    let moneyness = curve_moneyness(&claim);
    for kind in kinds {
        let p = &cfg.policy;
        let inputs = Inputs { vol: p.with_vol, delta: p.with_delta };
        let policy = Policy::with_inputs(kind, &p.hidden, p.activation, inputs, cfg.ww_aversion())?
            .parametrised(p.parametrisation);
        let u = Unroll { paths: &train_paths, claim: &claim, policy: &policy };
        let params = if kind.is_trained() {
            let v = valid_paths.as_ref().map(|vp| Unroll { paths: vp, ..u });
            let tr =
                train(u, v, &objective, &cfg.training.spec, &mut |e: &Epoch| on_epoch(kind, e));
            let name = if kind == cfg.policy.kind {
                "policy.safetensors".to_string()
            } else {
                format!("policy-{}.safetensors", kind.name())
            };
            save_policy(&out.join(&name), cfg, setup, &policy, &tr)?;
            files.push(name);
            let params = tr.params.clone();
            trained.push((kind, tr));
            params
        } else {
            Vec::new()
        };
        let test = Unroll { paths: &test_paths, ..u };
        let outcome = simulate_policy(test, &params);
        let curves = CURVE_TAUS
            .iter()
            .map(|f| hedge_curve(&policy, &params, &claim, f * t, &moneyness))
            .collect();
        policies.push(PolicyView {
            kind,
            from_black: abs_from_black_by_step(test, &outcome),
            sample_hedge: outcome.hedge[..steps.min(outcome.hedge.len())].to_vec(),
            pnl: outcome.pnl,
            curves,
        });
    }
    write_log(&out.join("training_log.csv"), &trained)?;
    files.push("training_log.csv".into());
    let refs: Vec<(PolicyKind, &[f64])> = policies.iter().map(|p| (p.kind, &p.pnl[..])).collect();
    let b = cfg.evaluation.batches;
    let premium = claim.premium();
    let evaluation = evaluate(&refs, &objective, premium, &measures, b, PolicyKind::BlackDelta)?;
    let versus_ww = evaluate(&refs, &objective, premium, &measures, b, PolicyKind::WhalleyWilmott)?;
    write_evaluation(&out.join("evaluation.csv"), &evaluation)?;
    files.push("evaluation.csv".into());
    let sample_forward = (0..=steps).map(|s| test_paths.f(0, s)).collect();
    Ok(Summary {
        files,
        evaluation,
        versus_ww,
        trained,
        claim,
        dynamics,
        calibration: setup.calibration.clone(),
        policies,
        sample_forward,
    })
}

/// Writes a trained policy's network with its provenance.
fn save_policy(
    path: &Path,
    cfg: &DhConfig,
    setup: &Setup,
    policy: &Policy,
    tr: &Trained,
) -> Result<(), DhError> {
    let mlp = policy.mlp().ok_or_else(|| DhError::Config("not a network policy".into()))?;
    let norm = Normalization::identity(mlp.inputs(), mlp.outputs());
    let net = Network::new(mlp.architecture().clone(), tr.params.clone(), norm)?;
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
    let mut extra = BTreeMap::new();
    extra.insert("policy".into(), serde_json::json!(policy.kind().name()));
    if policy.kind() == PolicyKind::FeedForward {
        let p = policy.parametrisation().name();
        extra.insert("parametrisation".into(), serde_json::json!(p));
    }
    extra.insert("features".into(), serde_json::json!(policy.inputs().names()));
    extra.insert("claim".into(), json(serde_json::to_value(setup.claim)));
    extra.insert("dynamics".into(), json(serde_json::to_value(setup.dynamics)));
    if let Some(c) = &setup.calibration {
        extra.insert("calibration".into(), json(serde_json::to_value(c)));
    }
    extra.insert("objective".into(), json(serde_json::to_value(&cfg.objective)));
    extra.insert("thresholds".into(), serde_json::json!(tr.eta));
    let training = json(serde_json::to_value(&cfg.training));
    let bytes = net.to_safetensors(Precision::F64, Some(training), extra)?;
    write_atomic(path, |w| w.write_all(&bytes))?;
    Ok(())
}

/// Writes `training_log.csv`.
fn write_log(path: &Path, trained: &[(PolicyKind, Trained)]) -> Result<(), DhError> {
    let layers = trained
        .iter()
        .map(|t| t.1.training.epochs.first().map_or(0, |e| e.group_grad_rms.len()))
        .max()
        .unwrap_or(1);
    write_atomic(path, |w| -> std::io::Result<()> {
        write!(w, "policy,epoch,train_loss,val_loss,rate,steps")?;
        for l in 0..layers.saturating_sub(1) {
            write!(w, ",grad_rms_layer{l}")?;
        }
        writeln!(w, ",grad_rms_thresholds")?;
        for (kind, t) in trained {
            for e in &t.training.epochs {
                let val = e.val_loss.map_or(String::new(), |v| format!("{v:.9e}"));
                write!(
                    w,
                    "{},{},{:.9e},{val},{:.6e},{}",
                    kind.name(),
                    e.epoch,
                    e.train_loss,
                    e.rate,
                    e.steps
                )?;
                for l in 0..layers {
                    let g = e.group_grad_rms.get(l).map_or(String::new(), |g| format!("{g:.6e}"));
                    write!(w, ",{g}")?;
                }
                writeln!(w)?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes `evaluation.csv`.
fn write_evaluation(path: &Path, ev: &Evaluation) -> Result<(), DhError> {
    write_atomic(path, |w| -> std::io::Result<()> {
        writeln!(w, "policy,measure,value,se,reference,diff,diff_se,test_paths,batches")?;
        for r in &ev.rows {
            writeln!(
                w,
                "{},{},{:.9e},{:.3e},{},{:.9e},{:.3e},{},{}",
                r.policy,
                r.measure,
                r.value,
                r.se,
                r.reference,
                r.diff,
                r.diff_se,
                ev.paths,
                ev.batches
            )?;
        }
        Ok(())
    })?;
    Ok(())
}
