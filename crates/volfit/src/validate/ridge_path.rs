//! Ridge path: the same spec walked forward under a grid of ridge strengths λ, toward the
//! previous snapshot's fit and toward zero, with in-sample and out-of-sample error per λ
//! and the λ chosen out-of-sample (smallest out-of-sample RMSE; ties go to the smaller λ).

use super::grid::{spec_label, LabeledSpec};
use crate::fit::{FitSpec, Ridge, RidgeTarget};
use serde::{Deserialize, Serialize};

/// The specs of a ridge path: λ = 0 once (shared by both targets), then each positive λ
/// toward `prev` and toward `zero`. Ids start at `first_id`.
pub fn ridge_specs(base: &FitSpec, lambdas: &[f64], first_id: usize) -> Vec<LabeledSpec> {
    let mut out: Vec<LabeledSpec> = Vec::new();
    let mut push = |ridge: Option<Ridge>| {
        let spec = FitSpec { ridge, ..base.clone() };
        out.push(LabeledSpec { id: first_id + out.len(), label: spec_label(&spec), spec });
    };
    if lambdas.contains(&0.0) {
        push(None);
    }
    for toward in [RidgeTarget::Prev, RidgeTarget::Zero] {
        for &lambda in lambdas.iter().filter(|l| **l > 0.0) {
            push(Some(Ridge { lambda, toward }));
        }
    }
    out
}

/// One point of the ridge path (a row of `ridge_path.csv`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RidgePoint {
    /// `prev` or `zero`.
    pub toward: String,
    /// Ridge strength.
    pub lambda: f64,
    /// Spec id of the run.
    pub spec_id: usize,
    /// In-sample RMSE, vol points.
    pub is_rmse: f64,
    /// Out-of-sample RMSE (sticky moneyness), vol points.
    pub oos_rmse: f64,
    /// Out-of-sample RMSE (sticky strike), vol points.
    pub oos_rmse_strike: f64,
    /// Median scale-free parameter variation between snapshots (see `stability`).
    pub param_variation: f64,
    /// True at the λ chosen out-of-sample for this target.
    pub chosen: bool,
}

/// Ridge target and λ of a spec (`(prev|zero, 0)` for no ridge).
pub fn ridge_of(spec: &FitSpec) -> Vec<(&'static str, f64)> {
    match spec.ridge.filter(|r| r.lambda > 0.0) {
        None => vec![("prev", 0.0), ("zero", 0.0)],
        Some(Ridge { lambda, toward: RidgeTarget::Prev }) => vec![("prev", lambda)],
        Some(Ridge { lambda, toward: RidgeTarget::Zero }) => vec![("zero", lambda)],
    }
}

/// Marks, per target, the point with the smallest out-of-sample RMSE (ties: smaller λ), and
/// sorts points by target and λ.
pub fn choose(points: &mut [RidgePoint]) {
    points.sort_by(|a, b| a.toward.cmp(&b.toward).then(a.lambda.total_cmp(&b.lambda)));
    for toward in ["prev", "zero"] {
        let best = points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.toward == toward && p.oos_rmse.is_finite())
            .min_by(|a, b| {
                a.1.oos_rmse.total_cmp(&b.1.oos_rmse).then(a.1.lambda.total_cmp(&b.1.lambda))
            })
            .map(|(i, _)| i);
        if let Some(i) = best {
            points[i].chosen = true;
        }
    }
}

/// The λ chosen out-of-sample toward `toward` (`prev` or `zero`).
pub fn chosen_lambda(points: &[RidgePoint], toward: &str) -> Option<f64> {
    points.iter().find(|p| p.chosen && p.toward == toward).map(|p| p.lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_specs_share_lambda_zero_and_choice_is_the_minimum() {
        let specs = ridge_specs(&FitSpec::default(), &[0.0, 0.1, 1.0], 12);
        // λ = 0 once, then 2 positive λ × 2 targets.
        assert_eq!(specs.len(), 5);
        assert_eq!(specs[0].id, 12);
        assert!(specs[0].spec.ridge.is_none());
        let pt = |toward: &str, lambda: f64, oos: f64| RidgePoint {
            toward: toward.into(),
            lambda,
            spec_id: 0,
            is_rmse: 1.0,
            oos_rmse: oos,
            oos_rmse_strike: oos,
            param_variation: 0.0,
            chosen: false,
        };
        let mut pts = vec![pt("prev", 1.0, 2.0), pt("prev", 0.0, 3.0), pt("prev", 0.1, 2.0)];
        choose(&mut pts);
        // Tie between 0.1 and 1.0 at 2.0: the smaller λ wins.
        assert_eq!(chosen_lambda(&pts, "prev"), Some(0.1));
        assert_eq!(chosen_lambda(&pts, "zero"), None);
    }
}
