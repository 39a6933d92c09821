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
//! raising its level by the remaining shortfall makes it so). Slices are repaired front to
//! back, so the whole smile set is free of calendar arbitrage on the grid whenever every
//! repair succeeds. The penalty is [`SviAboveFloor`].

use super::arbitrage::CHECK_RANGE;
use super::calibrate::{calibrate_with, off_bounds, score_as_it_stands, Calibration};
use super::penalty::SviAboveFloor;
use super::problem::{Delegate, SmileModel, VolModel};
use super::spec::FitSpec;
use crate::model::arbitrage::{check_svi_butterfly, check_svi_calendar, svi_calendar_min};
use crate::model::svi::Svi;
use crate::model::{Params, Smile};
use crate::objective::Target;

/// Penalised refits of one slice (weights w₀, …, 10¹¹w₀).
const ROUNDS: usize = 12;

/// Smallest first weight of path (1), relative to the spec's weight scale.
const BALANCE_FLOOR: f64 = 1e-2;

/// Relative margin of the floor over the previous slice, so that a penalised fit that
/// settles a hair below its floor still passes the calendar check.
const MARGIN: f64 = 1e-8;

/// The SVI family as the calendar refits solve it: in free coordinates (every parameter's
/// domain mapped to ℝ), not on its box with true bounds as [`SmileModel::prefers_box_bounds`]
/// asks for the slice fits.
struct FreeCoordinates<'a>(&'a SmileModel<Svi>);

impl<'a> Delegate for FreeCoordinates<'a> {
    type Inner = SmileModel<Svi>;
    fn inner(&self) -> &SmileModel<Svi> {
        self.0
    }
    fn delegate_prefers_box_bounds(&self) -> bool {
        false
    }
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
    (_, prev): (f64, &Svi),
    t: f64,
    grid: &[f64],
) -> Option<Calibration> {
    let floor: Vec<f64> = grid.iter().map(|&k| prev.total_variance(k) * (1.0 + MARGIN)).collect();
    let model = FreeCoordinates(family);
    let penalty = SviAboveFloor::new(1.0, grid.to_vec(), floor);
    let (lo, hi) = CHECK_RANGE;
    let clean = |x: &[f64]| {
        Svi::from_slice(x).is_ok_and(|s| {
            check_svi_butterfly(&s, t, f64::NEG_INFINITY, f64::INFINITY).is_none()
                && check_svi_calendar(prev, (t, &s), lo, hi).is_none()
        })
    };
    let domains = family.domains();
    // Penalty rounds from `x0` with first weight `w0`, until a clean slice.
    let path = |mut x: Vec<f64>, w0: f64| -> Option<Calibration> {
        let mut weight = w0;
        for _ in 0..ROUNDS {
            x = off_bounds(&x, &domains);
            let penalised = penalty.with_weight(weight);
            let c =
                calibrate_with(&model, targets, spec, &x, None, Some(penalised.clone())).ok()?;
            if clean(&c.x) {
                return Some(c);
            }
            // Nearly there: close the last gap by raising the level `a` by the largest
            // shortfall (w rises by the same amount everywhere), scored as it stands.
            let lifted = raised(&c.x, prev).map(|y| off_bounds(&y, &domains));
            if let Some(y) = lifted.filter(|y| clean(y)) {
                return score_as_it_stands(&model, targets, spec, penalised, &y, None, Some(c));
            }
            x = c.x;
            weight *= 10.0;
        }
        None
    };
    // (1) From the fit, the first weight balancing the penalty against the data cost (or
    // the spec's, if smaller), so the first clean round costs the fit as little as it must.
    let w_spec = if spec.arbitrage_penalty > 0.0 { spec.arbitrage_penalty } else { 1.0 };
    let data = cal.data_cost;
    let pen = penalty.calendar(&cal.x, &mut [0.0; 5]);
    let balanced = (2.0 * data / pen.max(f64::MIN_POSITIVE)).max(1e-8);
    let from_fit = path(cal.x.clone(), w_spec.min(balanced.max(BALANCE_FLOOR * w_spec)));
    if from_fit.as_ref().is_some_and(|c| c.data_cost <= 2.0 * data) {
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
        (Some(f), Some(p)) => Some(if p.data_cost < f.data_cost { p } else { f }),
        (f, p) => f.or(p),
    }
}

/// The SVI `x` with `a` raised by its largest shortfall below the floor `(1 + MARGIN)·prev`
/// on [`CHECK_RANGE`] — exactly, between grid nodes too ([`svi_calendar_min`]) — when that
/// shortfall is small (≤ 10⁻³ of the floor there): a last step after the penalty has done
/// the shaping, not a repair of its own.
fn raised(x: &[f64], prev: &Svi) -> Option<Vec<f64>> {
    let svi = Svi::from_slice(x).ok()?;
    let [a, b, rho, m, sigma] = prev.params();
    let floor = Svi::new(a * (1.0 + MARGIN), b * (1.0 + MARGIN), rho, m, sigma).ok()?;
    let (k, gap) = svi_calendar_min(&floor, &svi, CHECK_RANGE.0, CHECK_RANGE.1);
    let lift = (-gap).max(0.0);
    if lift > 1e-3 * floor.total_variance(k) {
        return None;
    }
    let mut y = x.to_vec();
    y[0] += lift * (1.0 + MARGIN);
    Some(y)
}
