//! The grid of fit specifications a validation run compares, and the run's settings, as
//! data: read from TOML (`--config grid.toml`) or the built-in default.
//!
//! ```toml
//! horizon = 2                 # score each fit on the next 2 snapshots
//! models = ["ssvi", "svi"]    # axes: every combination becomes one spec
//! losses = ["mse", "huber:0.01"]
//! weights = ["uniform", "vega"]
//! residuals = ["vol"]
//! ridges = ["none", "1:prev"]
//! ridge_lambdas = [0.0, 0.1, 1.0, 10.0]
//! [base]                      # everything else of the spec (see `FitSpec`)
//! max_iters = 100
//! ```

use crate::fit::{FitSpec, ModelKind, Ridge};
use crate::objective::{ResidualKind, WeightKind};
use serde::{Deserialize, Serialize};
use volfit_optim::loss::LossKind;

/// Settings of a validation run and the axes of its spec grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridConfig {
    /// The spec every grid point starts from.
    pub base: FitSpec,
    /// Model axis (empty = the base model).
    pub models: Vec<ModelKind>,
    /// Loss axis, CLI syntax (`mse`, `huber:0.01`, …).
    pub losses: Vec<String>,
    /// Weight axis, CLI syntax (`uniform`, `vega*spread`, …).
    pub weights: Vec<String>,
    /// Residual-kind axis, CLI syntax (`vol`, `band`, …).
    pub residuals: Vec<String>,
    /// Ridge axis: `none` or CLI syntax `L[:prev|:zero]`.
    pub ridges: Vec<String>,
    /// Each fit is scored on the next `horizon` snapshots (≥ 1).
    pub horizon: usize,
    /// Folds of the cross-validation over strikes (≥ 2; 0 disables it).
    pub folds: usize,
    /// Snapshots per underlying that are cross-validated (evenly spaced).
    pub cv_snapshots: usize,
    /// λ grid of the ridge path (run on the first grid spec, toward prev and toward zero;
    /// empty disables it).
    pub ridge_lambdas: Vec<f64>,
}

impl Default for GridConfig {
    fn default() -> Self {
        GridConfig {
            base: FitSpec::default(),
            models: vec![ModelKind::Ssvi, ModelKind::Svi],
            losses: vec!["mse".into(), "huber:0.01".into(), "soft-l1:0.005".into()],
            weights: vec!["uniform".into(), "vega".into()],
            residuals: vec!["vol".into()],
            ridges: vec!["none".into()],
            horizon: 1,
            folds: 5,
            cv_snapshots: 2,
            ridge_lambdas: vec![0.0, 0.001, 0.01, 0.1, 1.0, 10.0],
        }
    }
}

/// A spec of the grid with its position and a readable label.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledSpec {
    /// Position in the grid (0-based); ridge-path specs continue the numbering.
    pub id: usize,
    /// `model/residual/weight/loss/ridge`, e.g. `ssvi/vol/vega/huber:0.01/none`.
    pub label: String,
    /// The spec.
    pub spec: FitSpec,
}

/// Label of a spec: `model/residual/weight/loss/ridge`.
pub fn spec_label(spec: &FitSpec) -> String {
    let ridge = spec.ridge.map_or_else(|| "none".to_string(), |r| r.to_string());
    format!("{}/{}/{}/{}/{}", spec.model, spec.residual, spec.weight, spec.loss, ridge)
}

/// A grid setting that does not parse or is out of range: the TOML key (`ridges`,
/// `base.starts`, …) and what is wrong, the entry or value first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key {what} {message}")]
pub struct GridError {
    /// Which setting (TOML key, dotted inside `[base]`).
    pub what: String,
    /// The offending entry or value and its rule, e.g. `entry "-1:prev": …` or `= 0: …`.
    pub message: String,
}

impl GridError {
    fn value(what: &str, value: impl std::fmt::Display, rule: impl std::fmt::Display) -> Self {
        GridError { what: what.to_string(), message: format!("= {value}: {rule}") }
    }
}

/// Parses every entry of an axis once, and checks the spec it makes against the fit rules
/// ([`crate::fit::RULES`]).
fn parse_axis<T, E: std::fmt::Display>(
    what: &'static str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, E>,
    check: impl Fn(&T) -> Result<(), crate::fit::SpecError>,
) -> Result<Vec<T>, GridError> {
    let entry = |s: &str, why: &dyn std::fmt::Display| GridError {
        what: what.to_string(),
        message: format!("entry {s:?}: {why}"),
    };
    items
        .iter()
        .map(|s| {
            let v = parse(s).map_err(|e| entry(s, &e))?;
            check(&v).map_err(|e| entry(s, &e.rule))?;
            Ok(v)
        })
        .collect()
}

impl GridConfig {
    /// Parses a TOML grid (unknown keys are errors) and checks every setting and axis entry
    /// once ([`GridConfig::specs`]: the fit rules for `[base]` and each entry).
    ///
    /// # Errors
    /// The TOML error, with the offending key and line; or the key, entry and rule broken.
    pub fn from_toml(text: &str) -> Result<GridConfig, toml::de::Error> {
        let cfg: GridConfig = toml::from_str(text)?;
        cfg.specs().map_err(|e| <toml::de::Error as serde::de::Error>::custom(e.to_string()))?;
        Ok(cfg)
    }

    /// The default grid restricted to one model: its losses × weights × {no ridge, ridge
    /// toward the previous fit} (12 specs).
    pub fn for_model(model: ModelKind) -> GridConfig {
        GridConfig {
            models: vec![model],
            ridges: vec!["none".into(), "0.1:prev".into()],
            ..GridConfig::default()
        }
    }

    /// Every combination of the axes, in axis order (models slowest, ridges fastest).
    ///
    /// # Errors
    /// An axis entry that does not parse, or settings out of range.
    pub fn specs(&self) -> Result<Vec<LabeledSpec>, GridError> {
        if self.horizon == 0 {
            return Err(GridError::value("horizon", 0, "must be at least 1"));
        }
        if self.folds == 1 {
            return Err(GridError::value("folds", 1, "must be 0 (off) or ≥ 2"));
        }
        if let Some(l) = self.ridge_lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
            let (what, message) = ("ridge_lambdas".into(), format!("entry {l}: must be ≥ 0"));
            return Err(GridError { what, message });
        }
        let b = &self.base;
        b.check().map_err(|e| GridError::value(&format!("base.{}", e.key), e.value, e.rule))?;
        let or_base = |v: Vec<String>, base: String| if v.is_empty() { vec![base] } else { v };
        let models = if self.models.is_empty() { vec![b.model] } else { self.models.clone() };
        let losses = parse_axis(
            "losses",
            &or_base(self.losses.clone(), b.loss.to_string()),
            str::parse::<LossKind>,
            |&loss| FitSpec { loss, ..b.clone() }.check(),
        )?;
        let weights = parse_axis(
            "weights",
            &or_base(self.weights.clone(), b.weight.to_string()),
            str::parse::<WeightKind>,
            |weight| FitSpec { weight: weight.clone(), ..b.clone() }.check(),
        )?;
        let residuals = parse_axis(
            "residuals",
            &or_base(self.residuals.clone(), b.residual.to_string()),
            str::parse::<ResidualKind>,
            |&residual| FitSpec { residual, ..b.clone() }.check(),
        )?;
        let base_ridge = b.ridge.map_or_else(|| "none".to_string(), |r| r.to_string());
        let ridges = parse_axis(
            "ridges",
            &or_base(self.ridges.clone(), base_ridge),
            |s| if s.trim() == "none" { Ok(None) } else { s.parse::<Ridge>().map(Some) },
            |&ridge| FitSpec { ridge, ..b.clone() }.check(),
        )?;
        let mut out = Vec::new();
        for &model in &models {
            for &residual in &residuals {
                for weight in &weights {
                    for &loss in &losses {
                        for &ridge in &ridges {
                            let spec = FitSpec {
                                model,
                                residual,
                                weight: weight.clone(),
                                loss,
                                ridge,
                                ..b.clone()
                            };
                            out.push(LabeledSpec { id: out.len(), label: spec_label(&spec), spec });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_has_twelve_distinct_specs() {
        let specs = GridConfig::default().specs().unwrap();
        // 2 models × 3 losses × 2 weights × 1 residual × 1 ridge (the default axes).
        assert_eq!(specs.len(), 12);
        let mut labels: Vec<&str> = specs.iter().map(|s| s.label.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), 12);
        assert_eq!(GridConfig::for_model(ModelKind::Svi).specs().unwrap().len(), 12);
    }

    #[test]
    fn toml_grid_parses_and_rejects_bad_axes() {
        let cfg = GridConfig::from_toml(
            r#"
            horizon = 2
            models = ["svi"]
            losses = ["mse", "huber:0.01"]
            ridges = ["none", "0.5:zero"]
            [base]
            max_iters = 50
            "#,
        )
        .unwrap();
        let specs = cfg.specs().unwrap();
        // 1 model × 2 losses × 2 default weights × 1 residual × 2 ridges.
        assert_eq!(specs.len(), 8);
        assert!(specs.iter().all(|s| s.spec.max_iters == 50 && s.spec.model == ModelKind::Svi));
        assert_eq!(specs[1].label, "svi/vol/uniform/mse/0.5:zero");
        let bad = GridConfig { losses: vec!["hubber".into()], ..GridConfig::default() };
        assert_eq!(bad.specs().unwrap_err().what, "losses");
        assert!(GridConfig::from_toml("horizn = 1").is_err());
        assert!(GridConfig { horizon: 0, ..GridConfig::default() }.specs().is_err());
    }

    #[test]
    fn every_grid_entry_goes_through_the_fit_rules() {
        // Each error names the key, the entry or value, and the rule; the file name is added
        // by the caller. Before: `[base]` was never checked (starts = 100000 ran).
        let cases = [
            ("ridges = [\"none\", \"-1:prev\"]", "key ridges entry \"-1:prev\": unknown ridge"),
            ("losses = [\"huber:nan\"]", "key losses entry \"huber:nan\": invalid loss"),
            ("models = [\"svx\"]", "unknown variant `svx`"),
            ("[base]\nstarts = 100000", "key base.starts = 100000: must be from 1 to 1000"),
            ("[base.filter]\nmin_t = -1", "key base.filter.min_t = -1: must be a finite number"),
            ("ridge_lambdas = [0.1, nan]", "key ridge_lambdas entry NaN: must be ≥ 0"),
            ("horizon = 0", "key horizon = 0: must be at least 1"),
        ];
        for (toml, want) in cases {
            let e = GridConfig::from_toml(toml).expect_err(toml).to_string();
            assert!(e.contains(want), "{toml}: {e}");
        }
    }
}
