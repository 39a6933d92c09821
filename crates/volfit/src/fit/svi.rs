//! Raw SVI on one expiry: the quoted-range box, the fit from the warm and quasi-explicit
//! starts, and the butterfly repair (penalty path and flattening).

use super::calibrate::{
    best_of, calibrate, calibrate_with, off_bounds, score_as_it_stands, Calibration,
};
use super::error::FitError;
use super::penalty::SviButterfly;
use super::problem::{SmileModel, VolModel};
use super::spec::FitSpec;
use super::targets::{market_iv, quoted_range};
use crate::model::arbitrage::check_svi_butterfly;
use crate::model::svi::{quasi_explicit_fit, Svi};
use crate::model::{Domain, Params};
use crate::objective::Target;
use volfit_optim::penalty::Penalty;

/// Raw SVI on a box tied to the quoted range of `targets`. SVI has a flat valley (a ↓,
/// σ ↑ at fixed wings) along which a solver can drift far outside the quotes, leaving a
/// smile that is arbitrageable where nobody quotes (seen on 1–3-day ETH slices): m and σ
/// are boxed by the quoted range, as the quasi-explicit search does. `t`: years to the
/// expiry at the snapshot time.
pub(super) fn svi_family(targets: &[Target], t: f64) -> SmileModel<Svi> {
    let (kmin, kmax) = quoted_range(targets);
    let span = (kmax - kmin).max(0.02);
    SmileModel::<Svi>::with_domains(
        t,
        vec![
            Domain::Free,
            // Roger Lee: the wing slopes b(1 ± ρ) of w cannot exceed 2, so b < 2.
            Domain::Interval(0.0, 2.0),
            Domain::Interval(-1.0, 1.0),
            Domain::Interval(kmin - span, kmax + span),
            Domain::Interval(0.0, 2.0 * span),
        ],
    )
}

/// Fits raw SVI to one expiry's targets, `t` years to expiry at the snapshot time (the
/// smile's vol at a quote is `√(w(k)/t)` whenever the quote was observed): from the warm
/// start (when given) and from the
/// quasi-explicit fit, on a box tied to the quoted range; the better fit wins. A fit with
/// butterfly arbitrage anywhere on the real line, or breaking Lee's wing bound
/// `b(1 + |ρ|) ≤ 2`, is repaired (penalised refits, then flattening), so every fit returned
/// meets the bound unless no repair could be calibrated at all (then its label says so).
///
/// # Errors
/// [`FitError`] when no start can be calibrated.
pub fn fit_svi_slice(
    targets: &[Target],
    t: f64,
    spec: &FitSpec,
    warm: Option<&[f64]>,
) -> Result<(Calibration, SmileModel<Svi>), FitError> {
    let ks: Vec<f64> = targets.iter().map(|q| q.k).collect();
    let ws: Vec<f64> = targets.iter().map(|q| market_iv(q).powi(2) * t).collect();
    let ones = vec![1.0; ks.len()];
    let (kmin, kmax) = quoted_range(targets);
    let span = (kmax - kmin).max(0.02);
    let family = svi_family(targets, t);
    // Moves a start into the box; when σ shrinks, `a` rises by the minimum variance lost,
    // `b(σ − σ')√(1−ρ²)`, so the smile stays valid and keeps its level.
    let inside = |x: &[f64]| -> Vec<f64> {
        let mut x = x.to_vec();
        // Above Lee's bound b(1 + |ρ|) ≤ 2: lower b keeping the minimum variance
        // a + bσ√(1−ρ²).
        let b = x[1].min(1.98 / (1.0 + x[2].abs()));
        x[0] += (x[1] - b) * x[4] * (1.0 - x[2] * x[2]).max(0.0).sqrt();
        x[1] = b;
        x[3] = x[3].clamp(kmin - 0.99 * span, kmax + 0.99 * span);
        let sigma = x[4].clamp(1e-4 * span, 1.98 * span);
        x[0] += x[1] * (x[4] - sigma) * (1.0 - x[2] * x[2]).max(0.0).sqrt();
        x[4] = sigma;
        x
    };
    let mut starts: Vec<Vec<f64>> = warm.map(inside).into_iter().collect();
    if let Ok(svi) = quasi_explicit_fit(&ks, &ws, &ones) {
        starts.push(inside(&svi.params()));
    }
    let mut cal = best_of(starts, |x0| calibrate(&family, targets, spec, x0, warm))?;
    let repair = Repair {
        domains: family.domains(),
        family: &family,
        targets,
        spec,
        warm,
        t,
        k0: 0.0f64.clamp(kmin, kmax),
    };
    if !repair.clean(&cal.x) {
        if let Some(c) = repair.run(&cal) {
            cal = c;
        }
    }
    Ok((cal, family))
}

/// The butterfly repair of a raw SVI fit. Raw SVI is not arbitrage-free by construction and
/// quotes rarely pin the wings: when the fit has a negative density anywhere on the real line
/// (Lee's wing bound `b(1 + |ρ|) ≤ 2` broken included: the fit's constraint is enforced here),
/// (1) flatten it just enough to be clean (a feasible start near the fit), (2) refit from
/// there with the butterfly penalty (only then: it would bias every other fit; from a
/// feasible start the solver trades fit against the penalty instead of fleeing a huge one),
/// (3) flatten again if a residual violation is left. The result is free of butterfly
/// arbitrage on the whole real line.
struct Repair<'a> {
    family: &'a SmileModel<Svi>,
    domains: Vec<Domain>,
    targets: &'a [Target],
    spec: &'a FitSpec,
    warm: Option<&'a [f64]>,
    /// Years to expiry.
    t: f64,
    /// Where flattening keeps the total variance: `k = 0` clamped to the quoted range.
    k0: f64,
}

impl Repair<'_> {
    /// Whether `x` is an SVI free of butterfly arbitrage on the whole real line (Lee's wing
    /// bound `b(1 + |ρ|) ≤ 2` included: it is g's limit in the wings).
    fn clean(&self, x: &[f64]) -> bool {
        Svi::from_slice(x).is_ok_and(|s| {
            check_svi_butterfly(&s, self.t, f64::NEG_INFINITY, f64::INFINITY).is_none()
        })
    }

    /// Two paths, the clean fit with the lower data cost (the robust cost the solver
    /// minimises, penalties aside) wins: (1) from the fit itself, the first weight balancing
    /// the penalty against the data cost (a huge first weight sends the solver far off);
    /// (2) from the fit flattened until clean (a feasible start). `None` when neither gives
    /// a clean fit.
    fn run(&self, cal: &Calibration) -> Option<Calibration> {
        let spec = self.spec;
        let clean = |x: &[f64]| self.clean(x);
        let pen = SviButterfly::new(1.0).value_grad(&cal.x, &mut [0.0; 5]);
        let data = 2.0 * cal.data_cost;
        let balanced = (data / pen.max(f64::MIN_POSITIVE)).clamp(1e-8, SVI_PENALTY);
        let w0 = if spec.arbitrage_penalty > 0.0 { spec.arbitrage_penalty } else { balanced };
        let mut found = self.penalty_path(cal.x.clone(), w0);
        if let Some(start) = flatten_until_clean(&self.off_bounds(&cal.x), self.k0, &clean) {
            if let Some(c) = self.penalty_path(start, spec.arbitrage_penalty.max(SVI_PENALTY)) {
                if found.as_ref().is_none_or(|f| c.data_cost < f.data_cost) {
                    found = Some(c);
                }
            }
        }
        found.filter(|c| self.clean(&c.x))
    }

    /// Penalty method from `x0`: weights w₀, 10w₀, … each round from the previous point,
    /// until the fit is clean; whatever is left is flattened away.
    fn penalty_path(&self, x0: Vec<f64>, w0: f64) -> Option<Calibration> {
        let (family, targets, spec, warm) = (self.family, self.targets, self.spec, self.warm);
        let (mut x, mut weight, mut last) = (x0, w0, None::<Calibration>);
        for _ in 0..SVI_PENALTY_ROUNDS {
            let penalty = Some(SviButterfly::new(weight));
            let Ok(c) = calibrate_with(family, targets, spec, &self.off_bounds(&x), warm, penalty)
            else {
                break;
            };
            x = c.x.clone();
            last = Some(c);
            if self.clean(&x) {
                return last;
            }
            weight *= 10.0;
        }
        let y = flatten_until_clean(&self.off_bounds(&x), self.k0, &|x: &[f64]| self.clean(x))?;
        score_as_it_stands(family, targets, spec, SviButterfly::new(weight), &y, warm, last)
    }

    /// `x` moved a hair inside the box.
    fn off_bounds(&self, x: &[f64]) -> Vec<f64> {
        off_bounds(x, &self.domains)
    }
}

/// Largest first weight of the butterfly penalty when an SVI fit needs one (see
/// `fit_svi_slice`).
const SVI_PENALTY: f64 = 1.0;
/// Most penalised refits of one SVI slice on one path (weights w₀, …, 10⁷w₀).
const SVI_PENALTY_ROUNDS: usize = 8;

/// The SVI `x` flattened toward its level at `k0` — `b ← λb`, `a ← a + (1 − λ)b·f(k0)` with
/// `f(k) = ρ(k − m) + √((k − m)² + σ²)`, so `w(k0)` is kept — with the largest `λ ∈ (0, 1]`
/// (bisection to 2⁻¹⁴) for which `clean` holds. As `λ → 0` the smile tends to the flat
/// `w ≡ w(k0) > 0`, whose density is positive, so some `λ` is always clean. `None` when no
/// `λ ≥ 2⁻¹⁴` is.
fn flatten_until_clean(x: &[f64], k0: f64, clean: &dyn Fn(&[f64]) -> bool) -> Option<Vec<f64>> {
    if clean(x) {
        return Some(x.to_vec());
    }
    let [a, b, rho, m, sigma] = [x[0], x[1], x[2], x[3], x[4]];
    let f0 = rho * (k0 - m) + ((k0 - m).powi(2) + sigma * sigma).sqrt();
    let at = |l: f64| vec![a + (1.0 - l) * b * f0, l * b, rho, m, sigma];
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..14 {
        let mid = 0.5 * (lo + hi);
        if clean(&at(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo > 0.0).then(|| at(lo))
}

/// Why a fitted raw SVI slice is degenerate, if it is: a collapsed smile — `σ` at the lower
/// end of its range (`σ ≤ 10⁻³` of the quoted width `kmax − kmin`: a kinked, V-shaped
/// smile), `b` ≈ 0 (flat, the wings lost), `|ρ|` ≈ 1 (one wing flat), or a non-positive
/// minimum total variance. (A large `σ` with a low `a` is not degenerate: the smile is a
/// parabola over the quotes, only the split between `a`, `b` and `σ` is loosely identified.)
pub fn svi_degeneracy(svi: &Svi, kmin: f64, kmax: f64) -> Option<&'static str> {
    let [_, b, rho, _, sigma] = svi.params();
    let span = (kmax - kmin).max(0.02);
    if sigma <= 1e-3 * span {
        Some("sigma at its lower bound")
    } else if b <= 1e-6 {
        Some("b -> 0")
    } else if rho.abs() >= 0.999 {
        Some("|rho| -> 1")
    } else if svi.min_variance() <= 0.0 {
        Some("non-positive minimum variance")
    } else {
        None
    }
}
