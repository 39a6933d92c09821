//! The `dh.toml` configuration of `volfit deephedge train`: dynamics, claim, policy,
//! objective, training and evaluation, validated with errors naming the key.

use super::calibrate::{CalibrateSpec, Calibration};
use super::features::{Accounting, Claim};
use super::objective::{HedgeObjective, Term};
use super::output::DhError;
use super::paths::Dynamics;
use super::policy::{Parametrisation, PolicyKind};
use super::train::TrainSpec;
use crate::risk::RiskMeasure;
use std::path::Path;
use volfit_nn::Activation;

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhConfig {
    /// Seed of the paths (training, validation and test sets use seeds `seed`, `seed + 1`,
    /// `seed + 2`).
    #[serde(default)]
    pub seed: u64,
    /// Dynamics of the forward: given parameters, or fitted to a snapshot.
    pub dynamics: DynamicsConfig,
    /// The short call and the frictions.
    pub claim: ClaimConfig,
    /// The trained policy.
    pub policy: PolicyConfig,
    /// Weighted criteria (TOML `[[objective]]` tables).
    pub objective: Vec<Term>,
    /// Training.
    #[serde(default)]
    pub training: TrainingConfig,
    /// Evaluation.
    #[serde(default)]
    pub evaluation: EvaluationConfig,
}

/// `[dynamics]`: the parameters ([`Dynamics`], by `kind`), or with `calibrate = "FILE"` a
/// Heston or Bates fit to a Deribit snapshot ([`CalibrateSpec`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum DynamicsConfig {
    /// Given parameters.
    Given(Dynamics),
    /// Fitted to a snapshot.
    Calibrate(CalibrateSpec),
}

impl<'de> serde::Deserialize<'de> for DynamicsConfig {
    /// By the presence of `calibrate`, so that each form reports its own unknown or missing
    /// keys.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let table = toml::Table::deserialize(d)?;
        let calibrate = table.contains_key("calibrate");
        let value = toml::Value::Table(table);
        if calibrate {
            value.try_into().map(DynamicsConfig::Calibrate)
        } else {
            value.try_into().map(DynamicsConfig::Given)
        }
        .map_err(|e| D::Error::custom(format!("dynamics: {}", e.message())))
    }
}

impl DynamicsConfig {
    /// Resolves a relative `calibrate` path against `dir` (the config file's folder).
    pub fn rebase(&mut self, dir: &Path) {
        if let DynamicsConfig::Calibrate(c) = self {
            if c.calibrate.is_relative() {
                c.calibrate = dir.join(&c.calibrate);
            }
        }
    }
}

/// The configuration resolved for a run: the dynamics (fitted when calibrated), the claim
/// (strike and maturity from the snapshot when calibrated) and the calibration's record.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// The dynamics of the paths.
    pub dynamics: Dynamics,
    /// The claim, in units of the initial forward.
    pub claim: Claim,
    /// The calibration, when `[dynamics] calibrate` is given.
    pub calibration: Option<Calibration>,
}

/// `[claim]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimConfig {
    /// Strike over the initial forward (1 = at the money); when calibrated, the listed
    /// strike nearest `strike × F` is taken.
    pub strike: f64,
    /// Days to expiry; when calibrated without `dynamics.expiry`, the listed expiry nearest
    /// it is taken.
    pub maturity_days: f64,
    /// Hedge rebalancing steps to expiry.
    pub steps: usize,
    /// Proportional cost per trade (fee + half-spread), fraction of notional; e.g. Deribit's
    /// perpetual taker fee 0.0005.
    #[serde(default)]
    pub cost: f64,
    /// Annualised perpetual funding rate paid by longs.
    #[serde(default)]
    pub funding: f64,
    /// `usd` or `coin` (inverse): explicit, no default.
    pub accounting: Accounting,
    /// Black volatility of the classical hedges and the premium (default: from the
    /// dynamics, see [`Dynamics::black_vol`]).
    #[serde(default)]
    pub black_vol: Option<f64>,
}

/// `[policy]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `feed_forward` or `no_transaction_band`: written to `policy.safetensors`.
    pub kind: PolicyKind,
    /// Other network policies to train and evaluate beside it.
    #[serde(default)]
    pub also: Vec<PolicyKind>,
    /// Hidden layer widths.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[serde(default)]
    pub activation: Activation,
    /// Feed the instantaneous volatility as a feature.
    #[serde(default)]
    pub with_vol: bool,
    /// Feed the claim's Black hedge `δ` (at `claim.black_vol`) as a feature.
    #[serde(default)]
    pub with_delta: bool,
    /// The feed-forward network's output: `hedge` (the hedge itself, default) or
    /// `delta_plus` (a correction added to the Black hedge, starting from it). Only the
    /// feed-forward policy reads it (when it is `kind` or in `also`).
    #[serde(default)]
    pub parametrisation: Parametrisation,
    /// Absolute risk aversion γ of the Whalley–Wilmott baseline (default: the first
    /// entropic θ of the objective, else 1).
    #[serde(default)]
    pub ww_aversion: Option<f64>,
}

fn default_hidden() -> Vec<usize> {
    vec![32, 32, 32]
}

/// `[training]`: paths and the optimiser.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Training paths.
    pub paths: usize,
    /// Held-out paths for early stopping (0: none).
    pub validation_paths: usize,
    /// The optimiser.
    #[serde(flatten)]
    pub spec: TrainSpec,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig { paths: 10_000, validation_paths: 2_000, spec: TrainSpec::default() }
    }
}

/// `[evaluation]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Fresh test paths.
    pub paths: usize,
    /// Batches of the batch-means standard errors.
    pub batches: usize,
    /// Risk measures (the `volfit risk` syntax).
    pub measures: String,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            paths: 20_000,
            batches: 20,
            measures: "es:0.95,es:0.99,var:0.99,entropic:1,spectral-exp:10".into(),
        }
    }
}

impl DhConfig {
    /// Parses and validates TOML.
    ///
    /// # Errors
    /// A TOML syntax error or unknown key (with its line), or a value outside its domain
    /// (naming the key).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let cfg: DhConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        match &self.dynamics {
            DynamicsConfig::Given(d) => d.validate()?,
            DynamicsConfig::Calibrate(c) => c.validate()?,
        }
        let c = &self.claim;
        let pos = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{key} must be finite and > 0, got {v}"))
            }
        };
        pos("claim.strike", c.strike)?;
        pos("claim.maturity_days", c.maturity_days)?;
        if let Some(v) = c.black_vol {
            pos("claim.black_vol", v)?;
        }
        if c.steps == 0 {
            return Err("claim.steps must be at least 1".into());
        }
        if !(c.cost.is_finite() && c.cost >= 0.0) {
            return Err(format!("claim.cost must be finite and >= 0, got {}", c.cost));
        }
        if !c.funding.is_finite() {
            return Err("claim.funding must be finite".into());
        }
        for k in std::iter::once(&self.policy.kind).chain(&self.policy.also) {
            if !k.is_trained() {
                return Err(format!(
                    "policy.kind/also: {} is not a network policy (feed_forward or \
                     no_transaction_band); the classical hedges are always evaluated",
                    k.name()
                ));
            }
        }
        if let Some(g) = self.policy.ww_aversion {
            pos("policy.ww_aversion", g)?;
        }
        if self.policy.hidden.contains(&0) {
            return Err("policy.hidden widths must be at least 1".into());
        }
        HedgeObjective::new(self.objective.clone())?;
        let t = &self.training;
        if t.paths == 0 || t.spec.batch_size == 0 || t.spec.epochs == 0 {
            return Err(
                "training.paths, training.batch_size and training.epochs must be at least 1".into(),
            );
        }
        pos("training.lr", t.spec.lr)?;
        if self.evaluation.paths < self.evaluation.batches.max(2) {
            return Err("evaluation.paths must be at least evaluation.batches (and 2)".into());
        }
        self.measures()?;
        Ok(())
    }

    /// Resolves the dynamics and the claim; a calibration reads and fits its snapshot.
    ///
    /// # Errors
    /// A calibration that fails ([`CalibrateSpec::calibrate`]).
    pub fn setup(&self) -> Result<Setup, DhError> {
        let c = &self.claim;
        let (dynamics, strike, days, calibration) = match &self.dynamics {
            DynamicsConfig::Given(d) => (*d, c.strike, c.maturity_days, None),
            DynamicsConfig::Calibrate(spec) => {
                let cal = spec.calibrate(c.strike, c.maturity_days)?;
                (cal.dynamics, cal.strike, cal.maturity_days, Some(cal))
            }
        };
        let maturity = days / 365.0;
        let claim = Claim {
            strike,
            maturity,
            cost: c.cost,
            funding: c.funding,
            accounting: c.accounting,
            black_vol: c.black_vol.unwrap_or_else(|| dynamics.black_vol(maturity)),
        };
        Ok(Setup { dynamics, claim, calibration })
    }

    /// The compiled objective.
    ///
    /// # Errors
    /// As [`HedgeObjective::new`] (not after [`DhConfig::from_toml`]).
    pub fn objective(&self) -> Result<HedgeObjective, String> {
        HedgeObjective::new(self.objective.clone())
    }

    /// The evaluation's risk measures.
    ///
    /// # Errors
    /// A measure that does not parse, naming `evaluation.measures`.
    pub fn measures(&self) -> Result<Vec<(String, RiskMeasure)>, String> {
        RiskMeasure::parse_list(&self.evaluation.measures)
            .map_err(|e| format!("evaluation.measures: {e}"))
    }

    /// The Whalley–Wilmott risk aversion.
    pub fn ww_aversion(&self) -> f64 {
        self.policy.ww_aversion.unwrap_or_else(|| {
            self.objective
                .iter()
                .find_map(|t| match t.criterion {
                    super::objective::Criterion::Entropic { theta, .. } => Some(theta),
                    _ => None,
                })
                .unwrap_or(1.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid configuration, with `policy` as the `[policy]` table's body.
    fn config(policy: &str) -> String {
        format!(
            "[dynamics]\nkind = \"black_scholes\"\nsigma = 0.5\n\
             [claim]\nstrike = 1.0\nmaturity_days = 30\nsteps = 5\naccounting = \"usd\"\n\
             [policy]\n{policy}\n\
             [[objective]]\nkind = \"entropic\"\ntheta = 1.0\n"
        )
    }

    #[test]
    fn an_unknown_key_in_an_objective_table_is_refused_by_name() {
        let base = DhConfig::from_toml(&config("kind = \"feed_forward\"")).unwrap();
        assert_eq!(base.objective.len(), 1);
        let with = |extra: &str| config("kind = \"feed_forward\"") + extra;
        // `form` belongs to entropic terms only; a misspelt key is refused too.
        let cvar = "[[objective]]\nkind = \"cvar\"\nalpha = 0.9\nform = \"direct\"\n";
        let err = DhConfig::from_toml(&with(cvar)).unwrap_err().to_string();
        assert!(err.contains("form"), "{err}");
        let typo = "[[objective]]\nkind = \"entropic\"\ntheta = 2.0\nweigth = 0.5\n";
        let err = DhConfig::from_toml(&with(typo)).unwrap_err().to_string();
        assert!(err.contains("weigth"), "{err}");
        let good =
            "[[objective]]\nkind = \"entropic\"\ntheta = 2.0\nform = \"direct\"\nweight = 0.5\n";
        assert_eq!(DhConfig::from_toml(&with(good)).unwrap().objective.len(), 2);
    }

    #[test]
    fn feed_forward_choices_default_to_the_plain_policy_and_unknown_ones_are_refused() {
        let plain = DhConfig::from_toml(&config("kind = \"feed_forward\"")).unwrap();
        assert_eq!(plain.policy.parametrisation, Parametrisation::Hedge);
        assert!(!plain.policy.with_delta);
        let chosen = "kind = \"no_transaction_band\"\nalso = [\"feed_forward\"]\n\
                      with_delta = true\nparametrisation = \"delta_plus\"";
        let cfg = DhConfig::from_toml(&config(chosen)).unwrap();
        assert_eq!(cfg.policy.parametrisation, Parametrisation::DeltaPlus);
        assert!(cfg.policy.with_delta);
        // Without a feed-forward policy the key is read by none (the example sets it and
        // a user may drop `feed_forward` from `also`).
        let no_ff = "kind = \"no_transaction_band\"\nparametrisation = \"delta_plus\"";
        assert!(DhConfig::from_toml(&config(no_ff)).is_ok());
        let e = DhConfig::from_toml(&config("kind = \"feed_forward\"\nparametrisation = \"x\""))
            .unwrap_err();
        assert!(e.contains("parametrisation") && e.contains("delta_plus"), "{e}");
    }
}
