//! Calendar-arbitrage enforcement for per-expiry SVI: slices taken in expiry order, each
//! held above the one before it.
//!
//! Independently fitted raw SVI slices cross where nobody quotes: on the real 2026 chains
//! every snapshot had a later expiry whose total variance fell below an earlier one's
//! somewhere on the report grid `k ∈ [−2, 2]` (mostly in the far wings). When the spec asks
//! for calendar enforcement (`FitSpec::calendar`), a slice that crosses below the
//! previous accepted slice is refitted with the penalty
//!
//! ```text
//! p(x) = Σⱼ max(0, (fⱼ − w(kⱼ; x)) / fⱼ)²,    fⱼ = w_prev(kⱼ) · (1 + 10⁻⁸)
//! ```
//!
//! on the grid (plus the butterfly penalty), its weight raised ×10 per round from one that
//! balances it against the data cost, until the slice is clean (or close enough that
//! raising its level by the remaining shortfall makes it so). Slices are repaired front to back, so the whole smile set is free of
//! calendar arbitrage on the grid whenever every repair succeeds.

use super::calibrate::{calibrate, Calibration};
use super::problem::{ArbitragePenalty, SmileModel, VolModel};
use super::snapshot::{data_cost, off_bounds, score_as_it_stands};
use super::spec::FitSpec;
use crate::model::arbitrage::{check_butterfly, check_calendar};
use crate::model::svi::Svi;
use crate::model::{Domain, Params, Smile};
use crate::objective::Target;

/// Penalised refits of one slice (weights w₀, …, 10¹¹w₀).
const ROUNDS: usize = 12;

/// Smallest first weight of path (1), relative to the spec's weight scale.
const BALANCE_FLOOR: f64 = 1e-2;

/// Relative margin of the floor over the previous slice, so that a penalised fit that
/// settles a hair below its floor still passes the calendar check.
const MARGIN: f64 = 1e-8;

/// An SVI family whose arbitrage penalty also keeps the slice above a floor of total
/// variances on a grid.
struct AboveFloor<'a> {
    family: &'a SmileModel<Svi>,
    ks: Vec<f64>,
    floor: Vec<f64>,
}

impl VolModel for AboveFloor<'_> {
    fn num_params(&self) -> usize {
        self.family.num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.family.param_names()
    }
    fn domains(&self) -> Vec<Domain> {
        self.family.domains()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        self.family.vols(x, targets, sigma, jac)
    }
    fn arbitrage_penalty(&self) -> Option<ArbitragePenalty> {
        let butterfly = self.family.arbitrage_penalty();
        let (ks, floor) = (self.ks.clone(), self.floor.clone());
        Some(Box::new(move |x: &[f64], grad: &mut [f64]| {
            let fly = butterfly.as_ref().map_or(0.0, |p| p(x, grad));
            fly + calendar_penalty(x, &ks, &floor, grad)
        }))
    }
    fn cost_tolerance(&self) -> f64 {
        self.family.cost_tolerance()
    }
}

/// `Σⱼ max(0, (fⱼ − w(kⱼ))/fⱼ)²` for the SVI `x`; its gradient is added into `grad`.
fn calendar_penalty(x: &[f64], ks: &[f64], floor: &[f64], grad: &mut [f64]) -> f64 {
    let Ok(svi) = Svi::from_slice(x) else { return 0.0 };
    let mut g = [0.0; 5];
    let mut p = 0.0;
    for (&k, &f) in ks.iter().zip(floor) {
        let w = svi.total_variance(k);
        if w >= f {
            continue;
        }
        svi.total_variance_grad(k, &mut g);
        let d = (f - w) / f;
        p += d * d;
        for (a, gi) in grad.iter_mut().zip(&g) {
            *a -= 2.0 * d / f * gi;
        }
    }
    p
}

/// Refits the SVI slice `cal` (of `family`, on `targets`, expiry `t`) so that it lies on or
/// above `prev` on `grid` and stays free of butterfly arbitrage there: penalty rounds from
/// the fit itself (and, failing that, from the previous slice scaled up), weights `w₀ × 10ʲ`.
/// `None` when no round gives a clean slice (the caller keeps the unrepaired fit and reports
/// the violation).
pub(crate) fn lift_above(
    family: &SmileModel<Svi>,
    targets: &[Target],
    spec: &FitSpec,
    cal: &Calibration,
    (t_prev, prev): (f64, &Svi),
    t: f64,
    grid: &[f64],
) -> Option<Calibration> {
    let floor: Vec<f64> = grid.iter().map(|&k| prev.total_variance(k) * (1.0 + MARGIN)).collect();
    let model = AboveFloor { family, ks: grid.to_vec(), floor };
    let clean = |x: &[f64]| {
        Svi::from_slice(x).is_ok_and(|s| {
            check_butterfly(&s, t, grid).is_none()
                && check_calendar(&[(t_prev, *prev), (t, s)], grid).is_none()
        })
    };
    let domains = family.domains();
    // Penalty rounds from `x0` with first weight `w0`, until a clean slice.
    let path = |mut x: Vec<f64>, w0: f64| -> Option<Calibration> {
        let mut weight = w0;
        for _ in 0..ROUNDS {
            x = off_bounds(&x, &domains);
            let penalised = FitSpec { arbitrage_penalty: weight, ..spec.clone() };
            let c = calibrate(&model, targets, &penalised, &x, None).ok()?;
            if clean(&c.x) {
                return Some(c);
            }
            // Nearly there: close the last gap by raising the level `a` by the largest
            // shortfall (w rises by the same amount everywhere), scored as it stands.
            let lifted = raised(&c.x, &model.ks, &model.floor).map(|y| off_bounds(&y, &domains));
            if let Some(y) = lifted.filter(|y| clean(y)) {
                return score_as_it_stands(&model, targets, &penalised, &y, None, Some(c));
            }
            x = c.x;
            weight *= 10.0;
        }
        None
    };
    // (1) From the fit, the first weight balancing the penalty against the data cost (or
    // the spec's, if smaller), so the first clean round costs the fit as little as it must.
    let w_spec = if spec.arbitrage_penalty > 0.0 { spec.arbitrage_penalty } else { 1.0 };
    let data = data_cost(cal);
    let pen = calendar_penalty(&cal.x, &model.ks, &model.floor, &mut [0.0; 5]);
    let balanced = (data / pen.max(f64::MIN_POSITIVE)).max(1e-8);
    let from_fit = path(cal.x.clone(), w_spec.min(balanced.max(BALANCE_FLOOR * w_spec)));
    if from_fit.as_ref().is_some_and(|c| data_cost(c) <= 2.0 * data) {
        return from_fit;
    }
    // (2) When that failed or cost the data dearly: from a feasible start, the previous
    // slice scaled up to this slice's ATM level (w = λ·w_prev, λ ≥ 1, is above it).
    let lam = (Svi::from_slice(&cal.x).ok()?.total_variance(0.0) / prev.total_variance(0.0))
        .max(1.0)
        * (1.0 + 1e-6);
    let [a, b, rho, m, sigma] = prev.params();
    let scaled = vec![lam * a, lam * b, rho, m, sigma];
    let from_prev = Some(scaled)
        .filter(|x| clean(x) && x.iter().zip(&domains).all(|(v, d)| d.contains(*v)))
        .and_then(|x| path(x, w_spec));
    match (from_fit, from_prev) {
        (Some(f), Some(p)) => Some(if data_cost(&p) < data_cost(&f) { p } else { f }),
        (f, p) => f.or(p),
    }
}

/// The SVI `x` with `a` raised by its largest shortfall below `floor` on `ks`, when that
/// shortfall is small (≤ 10⁻³ of the floor there): a last step after the penalty has done
/// the shaping, not a repair of its own.
fn raised(x: &[f64], ks: &[f64], floor: &[f64]) -> Option<Vec<f64>> {
    let svi = Svi::from_slice(x).ok()?;
    let mut lift = 0.0f64;
    for (&k, &f) in ks.iter().zip(floor) {
        let gap = f - svi.total_variance(k);
        if gap > 1e-3 * f {
            return None;
        }
        lift = lift.max(gap);
    }
    let mut y = x.to_vec();
    y[0] += lift * (1.0 + MARGIN);
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_gradient_matches_finite_differences() {
        let ks = [-1.0, -0.3, 0.0, 0.4, 1.5];
        let high = Svi::new(0.02, 0.1, -0.3, 0.05, 0.2).unwrap();
        let floor: Vec<f64> = ks.iter().map(|&k| high.total_variance(k)).collect();
        let x = [0.01, 0.08, -0.2, 0.0, 0.25];
        let mut g = [0.0; 5];
        let p = calendar_penalty(&x, &ks, &floor, &mut g);
        assert!(p > 0.0);
        for j in 0..5 {
            let h = 1e-7;
            let (mut xp, mut xm) = (x, x);
            xp[j] += h;
            xm[j] -= h;
            let mut scratch = [0.0; 5];
            let fd = (calendar_penalty(&xp, &ks, &floor, &mut scratch)
                - calendar_penalty(&xm, &ks, &floor, &mut scratch))
                / (2.0 * h);
            assert!((fd - g[j]).abs() <= 1e-6 * (1.0 + fd.abs()), "j={j}: fd {fd} vs {}", g[j]);
        }
        // Above the floor everywhere: no penalty, no gradient.
        let mut g = [0.0; 5];
        let lifted = [0.05, 0.1, -0.3, 0.05, 0.2];
        assert_eq!(calendar_penalty(&lifted, &ks, &floor, &mut g), 0.0);
        assert_eq!(g, [0.0; 5]);
    }
}
