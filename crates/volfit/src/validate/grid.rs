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

/// A grid setting that does not parse or is out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("grid {what}: {message}")]
pub struct GridError {
    /// Which setting.
    pub what: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn parse_axis<T, E: std::fmt::Display>(
    what: &'static str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, GridError> {
    items.iter().map(|s| parse(s).map_err(|e| GridError { what, message: e.to_string() })).collect()
}

impl GridConfig {
    /// Parses a TOML grid (unknown keys are errors).
    ///
    /// # Errors
    /// The TOML error, with the offending key and line.
    pub fn from_toml(text: &str) -> Result<GridConfig, toml::de::Error> {
        toml::from_str(text)
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
            return Err(GridError { what: "horizon", message: "must be at least 1".into() });
        }
        if self.folds == 1 {
            return Err(GridError { what: "folds", message: "must be 0 (off) or ≥ 2".into() });
        }
        if let Some(l) = self.ridge_lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
            return Err(GridError { what: "ridge_lambdas", message: format!("{l} is not ≥ 0") });
        }
        let or_base = |v: Vec<String>, base: String| if v.is_empty() { vec![base] } else { v };
        let b = &self.base;
        let models = if self.models.is_empty() { vec![b.model] } else { self.models.clone() };
        let losses = parse_axis(
            "losses",
            &or_base(self.losses.clone(), b.loss.to_string()),
            str::parse::<LossKind>,
        )?;
        let weights = parse_axis(
            "weights",
            &or_base(self.weights.clone(), b.weight.to_string()),
            str::parse::<WeightKind>,
        )?;
        let residuals = parse_axis(
            "residuals",
            &or_base(self.residuals.clone(), b.residual.to_string()),
            str::parse::<ResidualKind>,
        )?;
        let base_ridge = b.ridge.map_or_else(|| "none".to_string(), |r| r.to_string());
        let ridges = parse_axis("ridges", &or_base(self.ridges.clone(), base_ridge), |s| {
            if s.trim() == "none" {
                Ok(None)
            } else {
                s.parse::<Ridge>().map(Some)
            }
        })?;
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
}
