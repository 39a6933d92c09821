//! Fitting one snapshot: choose the quotes, build each model's initial guess (or take the
//! previous snapshot's fit: a warm start), calibrate, score against the market, check
//! static arbitrage and write the residual rows.
//!
//! Per-expiry models (SVI, SABR) fit their expiries in parallel; surfaces fit all expiries
//! at once. Every computation is deterministic, so results do not depend on thread count.

use super::calendar::lift_above;
use super::calibrate::{calibrate, Calibration, FitError};
use super::problem::{CfSurfaceModel, SabrModel, SmileModel, SurfaceModel, VolModel};
use super::report::{quality, ArbitrageVerdict, ExpiryFit, ResidualRow, SnapshotFit};
use super::spec::{FitSpec, ModelKind};
use crate::market::{iso8601, Expiry, OptionType, Snapshot};
use crate::model::arbitrage::{
    check_butterfly, check_calendar, check_smiles, check_surface, fill_grid, ArbitrageReport,
};
use crate::model::bates::Bates;
use crate::model::heston::Heston;
use crate::model::sabr::{guess_from_smile, Sabr, SabrExpansion};
use crate::model::ssvi::{Essvi, Phi, Ssvi};
use crate::model::svi::{quasi_explicit_fit, Svi};
use crate::model::{Domain, Params, Smile, Surface};
use crate::objective::Target;
use rayon::prelude::*;
use std::collections::BTreeMap;
use volfit_optim::Trace;

/// What one snapshot's fit hands to the next: parameters by expiry (per-expiry models) or
/// the surface vector with the expiries it was laid out on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WarmStart {
    /// Per-expiry parameters by expiry (ms).
    pub per_expiry: BTreeMap<i64, Vec<f64>>,
    /// Surface parameters and the expiries (ms) of their layout.
    pub surface: Option<(Vec<i64>, Vec<f64>)>,
}

/// One snapshot's results.
#[derive(Clone, Debug)]
pub struct SnapshotResult {
    /// The fit summary (goes to `fit.json`).
    pub fit: SnapshotFit,
    /// Residual rows (go to `residuals.csv`).
    pub residuals: Vec<ResidualRow>,
    /// Warm start for the next snapshot.
    pub warm: WarmStart,
    /// Solver traces, labelled by expiry (or `surface`), for loss-curve charts.
    pub traces: Vec<(String, Trace)>,
}

/// The quotes of an expiry that enter a fit under `spec`.
pub fn select_targets(e: &Expiry, spec: &FitSpec) -> Vec<Target> {
    let f = &spec.filter;
    if e.t < f.min_t {
        return Vec::new();
    }
    let all = Target::from_expiry(e);
    let atm = all
        .iter()
        .min_by(|a, b| a.k.abs().total_cmp(&b.k.abs()))
        .and_then(|q| q.mid_iv.or(q.bid_iv).or(q.ask_iv))
        .unwrap_or(0.5);
    let sd = atm * e.t.sqrt();
    all.into_iter()
        .filter(|q| spec.residual.usable(q))
        .filter(|q| !f.otm_only || (q.kind == OptionType::Put) == (q.strike < q.forward))
        .filter(|q| q.k.abs() <= f.max_std_moneyness * sd)
        .filter(|q| q.open_interest >= f.min_open_interest)
        .filter(|q| match (q.bid_iv, q.ask_iv) {
            (Some(b), Some(a)) => a - b <= f.max_spread_iv,
            _ => true,
        })
        .collect()
}

/// Any market IV of a target (mid, else the side that exists).
fn market_iv(q: &Target) -> f64 {
    q.mid_iv.or(q.bid_iv).or(q.ask_iv).unwrap_or(f64::NAN)
}

/// ATM implied vol of a set of targets by linear interpolation in k around 0.
fn atm_vol(targets: &[Target]) -> Option<f64> {
    let below = targets.iter().filter(|q| q.k <= 0.0).max_by(|a, b| a.k.total_cmp(&b.k));
    let above = targets.iter().filter(|q| q.k > 0.0).min_by(|a, b| a.k.total_cmp(&b.k));
    match (below, above) {
        (Some(a), Some(b)) => {
            let u = -a.k / (b.k - a.k);
            Some(market_iv(a) * (1.0 - u) + market_iv(b) * u)
        }
        (Some(q), None) | (None, Some(q)) => Some(market_iv(q)),
        (None, None) => None,
    }
    .filter(|v| v.is_finite() && *v > 0.0)
}

/// Log-moneyness grid of the static-arbitrage checks.
fn arbitrage_grid() -> Vec<f64> {
    let mut ks = vec![0.0; 161];
    fill_grid(-2.0, 2.0, &mut ks);
    ks
}

fn verdict(r: crate::model::arbitrage::ArbitrageReport) -> ArbitrageVerdict {
    ArbitrageVerdict {
        butterfly_ok: r.butterfly_ok,
        calendar_ok: r.calendar_ok,
        worst: r
            .worst
            .map(|v| format!("{:?} at t={:.4}, k={:.3}: {:.3e}", v.kind, v.t, v.k, v.value)),
    }
}

/// Residual rows and the per-expiry summary of a calibration restricted to `range`.
#[allow(clippy::too_many_arguments)]
fn expiry_outputs(
    snap: &Snapshot,
    e: &Expiry,
    targets: &[Target],
    cal: &Calibration,
    range: std::ops::Range<usize>,
    model: &str,
    params: BTreeMap<String, f64>,
    std_errors: BTreeMap<String, f64>,
    arbitrage: ArbitrageVerdict,
) -> (ExpiryFit, Vec<ResidualRow>) {
    let (snapshot, expiry) = (snap.time_iso(), iso8601(e.expiry_ms));
    let rows: Vec<ResidualRow> = range
        .clone()
        .map(|i| {
            let q = &targets[i];
            ResidualRow {
                snapshot: snapshot.clone(),
                underlying: snap.underlying.clone(),
                expiry: expiry.clone(),
                t: q.t,
                strike: q.strike,
                kind: q.kind,
                k: q.k,
                bid_iv: q.bid_iv,
                ask_iv: q.ask_iv,
                mid_iv: q.mid_iv,
                model_iv: cal.model_vols[i],
                residual: cal.residuals[i],
                weight: cal.weights[i],
                effective_weight: cal.effective_weights[i],
                outlier: cal.outliers[i],
            }
        })
        .collect();
    let qual = quality(rows.iter().map(|r| (r.model_iv, r.bid_iv, r.ask_iv, r.mid_iv)));
    let fit = ExpiryFit {
        expiry,
        t: e.t,
        forward: e.forward,
        model: model.to_string(),
        params,
        std_errors,
        n_quotes: range.len(),
        rmse_vol: qual.rmse_vol,
        mae_vol: qual.mae_vol,
        inside_spread: qual.inside_spread,
        loss: cal.minimum.cost,
        stop: cal.minimum.stop,
        iterations: cal.minimum.iters,
        evaluations: cal.minimum.evals.total(),
        time_us: cal.time_us,
        arbitrage,
    };
    (fit, rows)
}

fn named(names: &[String], values: &[f64]) -> BTreeMap<String, f64> {
    names.iter().cloned().zip(values.iter().copied()).collect()
}

/// Runs `calibrate` from each start and keeps the best fit (lowest loss).
fn best_of(
    starts: Vec<Vec<f64>>,
    run: impl Fn(&[f64]) -> Result<Calibration, FitError>,
) -> Result<Calibration, FitError> {
    let mut best: Option<Calibration> = None;
    let mut last_err = FitError::Infeasible;
    for x0 in starts {
        match run(&x0) {
            Ok(c) if best.as_ref().is_none_or(|b| c.minimum.cost < b.minimum.cost) => {
                best = Some(c)
            }
            Ok(_) => {}
            Err(err) => last_err = err,
        }
    }
    best.ok_or(last_err)
}

/// The quoted log-moneyness range `(kmin, kmax)` of `targets`.
fn quoted_range(targets: &[Target]) -> (f64, f64) {
    targets.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q.k), h.max(q.k)))
}

/// Raw SVI on a box tied to the quoted range of `targets`. SVI has a flat valley (a ↓,
/// σ ↑ at fixed wings) along which a solver can drift far outside the quotes, leaving a
/// smile that is arbitrageable where nobody quotes (seen on 1–3-day ETH slices): m and σ
/// are boxed by the quoted range, as the quasi-explicit search does.
fn svi_family(targets: &[Target]) -> SmileModel<Svi> {
    let (kmin, kmax) = quoted_range(targets);
    let span = (kmax - kmin).max(0.02);
    SmileModel::<Svi>::with_domains(vec![
        Domain::Free,
        // Roger Lee: the wing slopes b(1 ± ρ) of w cannot exceed 2, so b < 2.
        Domain::Interval(0.0, 2.0),
        Domain::Interval(-1.0, 1.0),
        Domain::Interval(kmin - span, kmax + span),
        Domain::Interval(0.0, 2.0 * span),
    ])
}

/// Fits raw SVI to one expiry's targets: from the warm start (when given) and from the
/// quasi-explicit fit, on a box tied to the quoted range; the better fit wins.
///
/// # Errors
/// [`FitError`] when no start can be calibrated.
pub fn fit_svi_slice(
    targets: &[Target],
    spec: &FitSpec,
    warm: Option<&[f64]>,
) -> Result<(Calibration, SmileModel<Svi>), FitError> {
    let ks: Vec<f64> = targets.iter().map(|q| q.k).collect();
    let ws: Vec<f64> = targets.iter().map(|q| market_iv(q).powi(2) * q.t).collect();
    let ones = vec![1.0; ks.len()];
    let (kmin, kmax) = quoted_range(targets);
    let span = (kmax - kmin).max(0.02);
    let family = svi_family(targets);
    // Moves a start into the box; when σ shrinks, `a` rises by the minimum variance lost,
    // `b(σ − σ')√(1−ρ²)`, so the smile stays valid and keeps its level.
    let inside = |x: &[f64]| -> Vec<f64> {
        let mut x = x.to_vec();
        // Above Lee's bound: lower b keeping the minimum variance a + bσ√(1−ρ²).
        let b = x[1].min(1.98);
        x[0] += (x[1] - b) * x[4] * (1.0 - x[2] * x[2]).max(0.0).sqrt();
        x[1] = b;
        x[3] = x[3].clamp(kmin - 0.99 * span, kmax + 0.99 * span);
        let sigma = x[4].clamp(1e-4 * span, 1.98 * span);
        x[0] += x[1] * (x[4] - sigma) * (1.0 - x[2] * x[2]).max(0.0).sqrt();
        x[4] = sigma;
        x
    };
    let domains = family.domains();
    let off_bounds = |x: &[f64]| off_bounds(x, &domains);
    let mut starts: Vec<Vec<f64>> = warm.map(inside).into_iter().collect();
    if let Ok(svi) = quasi_explicit_fit(&ks, &ws, &ones) {
        starts.push(inside(&svi.params()));
    }
    let mut cal = best_of(starts, |x0| calibrate(&family, targets, spec, x0, warm))?;
    let t = targets.first().map_or(1.0, |q| q.t);
    let grid = arbitrage_grid();
    let clean =
        |x: &[f64]| Svi::from_slice(x).is_ok_and(|s| check_butterfly(&s, t, &grid).is_none());
    // Raw SVI is not arbitrage-free by construction and quotes rarely pin the wings: when
    // the fit has a negative density on the report's grid, (1) flatten it just enough to be
    // clean (a feasible start near the fit), (2) refit from there with the butterfly penalty
    // (only then: it would bias every other fit; from a feasible start the solver trades fit
    // against the penalty instead of fleeing a huge one), (3) flatten again if a residual
    // violation is left. The result is free of butterfly arbitrage on the grid.
    if !clean(&cal.x) {
        let k0 = 0.0f64.clamp(kmin, kmax);
        // Penalty method: weights w₀, 10w₀, … each round from the previous point, until
        // the fit is clean; whatever is left is flattened away.
        let penalty_path = |x0: Vec<f64>, w0: f64| -> Option<Calibration> {
            let (mut x, mut weight, mut last) = (x0, w0, None::<Calibration>);
            for _ in 0..SVI_PENALTY_ROUNDS {
                let penalised = FitSpec { arbitrage_penalty: weight, ..spec.clone() };
                let Ok(c) = calibrate(&family, targets, &penalised, &off_bounds(&x), warm) else {
                    break;
                };
                x = c.x.clone();
                last = Some(c);
                if clean(&x) {
                    return last;
                }
                weight *= 10.0;
            }
            let y = flatten_until_clean(&off_bounds(&x), k0, &clean)?;
            let penalised = FitSpec { arbitrage_penalty: weight, ..spec.clone() };
            score_as_it_stands(&family, targets, &penalised, &y, warm, last)
        };
        // Two paths, the better clean fit wins: (1) from the fit itself, the first weight
        // balancing the penalty against the data cost (a huge first weight sends the solver
        // far off); (2) from the fit flattened until clean (a feasible start).
        let pen = family.arbitrage_penalty().map_or(0.0, |p| p(&cal.x, &mut [0.0; 5]));
        let balanced = (data_cost(&cal) / pen.max(f64::MIN_POSITIVE)).clamp(1e-8, SVI_PENALTY);
        let w0 = if spec.arbitrage_penalty > 0.0 { spec.arbitrage_penalty } else { balanced };
        let mut found = penalty_path(cal.x.clone(), w0);
        if let Some(start) = flatten_until_clean(&off_bounds(&cal.x), k0, &clean) {
            if let Some(c) = penalty_path(start, spec.arbitrage_penalty.max(SVI_PENALTY)) {
                if found.as_ref().is_none_or(|f| data_cost(&c) < data_cost(f)) {
                    found = Some(c);
                }
            }
        }
        if let Some(c) = found.filter(|c| clean(&c.x)) {
            cal = c;
        }
    }
    Ok((cal, family))
}

/// `x` with every coordinate on an interval's end of `domains` moved a hair inside (a fit's
/// logistic coordinate saturates there), so the point can start another calibration.
pub(super) fn off_bounds(x: &[f64], domains: &[Domain]) -> Vec<f64> {
    let mut x = x.to_vec();
    for (v, d) in x.iter_mut().zip(domains) {
        if let Domain::Interval(lo, hi) = *d {
            let eps = 1e-9 * (hi - lo);
            *v = v.clamp(lo + eps, hi - eps);
        }
    }
    x
}

/// The data part `Σ wᵢrᵢ²` of a calibration's cost (no penalties).
pub(super) fn data_cost(c: &Calibration) -> f64 {
    c.residuals.iter().zip(&c.weights).map(|(r, w)| w * r * r).sum()
}

/// The point `y` scored under `spec` as it stands (no solver step), reporting the solver
/// run of `run` (the penalised fit `y` was derived from) when given.
pub(super) fn score_as_it_stands<V: VolModel>(
    model: &V,
    targets: &[Target],
    spec: &FitSpec,
    y: &[f64],
    prior: Option<&[f64]>,
    run: Option<Calibration>,
) -> Option<Calibration> {
    let at = FitSpec { max_iters: 0, ..spec.clone() };
    let mut c = calibrate(model, targets, &at, y, prior).ok()?;
    if let Some(b) = run {
        c.minimum.stop = b.minimum.stop;
        c.minimum.iters = b.minimum.iters;
        c.minimum.evals = b.minimum.evals;
        c.trace = b.trace;
    }
    Some(c)
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

/// SABR start `[α, ρ, ν]` from a least-squares quadratic in `k` through the market vols
/// ([`guess_from_smile`] on its value, slope and curvature at `k = 0`); `None` with fewer
/// than 3 distinct strikes.
fn sabr_guess(targets: &[Target], f: f64, t: f64, beta: f64, atm: f64) -> Option<[f64; 3]> {
    // Normal equations of σ ≈ c₀ + c₁k + c₂k², with k scaled by the quoted half-width.
    let (kmin, kmax) = targets
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q.k), h.max(q.k)));
    let h = 0.5 * (kmax - kmin);
    if !(h > 1e-8) {
        return None;
    }
    let mut m = [0.0; 9];
    let mut rhs = [0.0; 3];
    for q in targets {
        let v = market_iv(q);
        if !v.is_finite() {
            continue;
        }
        let u = q.k / h;
        let basis = [1.0, u, u * u];
        for i in 0..3 {
            rhs[i] += basis[i] * v;
            for j in 0..3 {
                m[3 * i + j] += basis[i] * basis[j];
            }
        }
    }
    if !volfit_optim::linalg::cholesky(&mut m, 3) {
        return None;
    }
    volfit_optim::linalg::cholesky_solve(&m, 3, &mut rhs);
    let [c0, c1, c2] = rhs;
    let sigma0 = if c0 > 0.0 { c0 } else { atm };
    guess_from_smile(f, t, beta, sigma0, c1 / h, 2.0 * c2 / (h * h))
}

/// Fits SABR (β from the spec, fixed or free) to one expiry's targets at forward `f` and
/// expiry `t`, from the warm start (when given) and from α at the ATM vol, ρ = −0.1, ν = 1.
///
/// # Errors
/// [`FitError`] when no start can be calibrated.
pub fn fit_sabr_slice(
    targets: &[Target],
    f: f64,
    t: f64,
    spec: &FitSpec,
    warm: Option<&[f64]>,
) -> Result<(Calibration, SabrModel), FitError> {
    let family = SabrModel { f, t, beta: spec.sabr_beta };
    let beta = spec.sabr_beta.unwrap_or(1.0);
    let atm = atm_vol(targets).unwrap_or(0.5);
    let [a, r, n] = sabr_guess(targets, f, t, beta, atm)
        .unwrap_or_else(|| [atm * f.powf(1.0 - beta), -0.1, 1.0]);
    let full = [a, r, n, beta];
    let guess = &full[..family.num_params()];
    let cal = match warm {
        None => calibrate(&family, targets, spec, guess, None)?,
        Some(w) => best_of(vec![w.to_vec(), guess.to_vec()], |x0| {
            calibrate(&family, targets, spec, x0, warm)
        })?,
    };
    Ok((cal, family))
}

/// Fits one expiry with a per-expiry model; `Err` with a reason when skipped.
fn fit_expiry(e: &Expiry, spec: &FitSpec, warm: Option<&[f64]>) -> ExpiryOutcome {
    let targets = select_targets(e, spec);
    if targets.len() < spec.filter.min_quotes.max(1) {
        return Err(format!("{}: {} usable quotes", iso8601(e.expiry_ms), targets.len()));
    }
    let why = |err: FitError| format!("{}: {err}", iso8601(e.expiry_ms));
    let (cal, names) = match spec.model {
        ModelKind::Svi => {
            let (cal, family) = fit_svi_slice(&targets, spec, warm).map_err(why)?;
            (cal, family.param_names())
        }
        ModelKind::Sabr => {
            let (cal, family) =
                fit_sabr_slice(&targets, e.forward, e.t, spec, warm).map_err(why)?;
            (cal, family.param_names())
        }
        _ => return Err("not a per-expiry model".into()),
    };
    Ok((targets, cal, names))
}

/// Fits one snapshot under `spec`, warm-starting from `warm` when given.
pub fn fit_snapshot(snap: &Snapshot, spec: &FitSpec, warm: Option<&WarmStart>) -> SnapshotResult {
    if spec.model.per_expiry() {
        fit_per_expiry(snap, spec, warm)
    } else {
        fit_surface(snap, spec, warm)
    }
}

fn fit_per_expiry(snap: &Snapshot, spec: &FitSpec, warm: Option<&WarmStart>) -> SnapshotResult {
    let mut outcomes: Vec<_> = snap
        .expiries
        .par_iter()
        .map(|e| {
            let w = warm.and_then(|w| w.per_expiry.get(&e.expiry_ms)).map(Vec::as_slice);
            fit_expiry(e, spec, w)
        })
        .collect();
    let grid = arbitrage_grid();
    if spec.model == ModelKind::Svi && spec.calendar {
        enforce_svi_calendar(snap, spec, &mut outcomes, &grid);
    }
    let mut result = SnapshotResult {
        fit: SnapshotFit {
            snapshot: snap.time_iso(),
            underlying: snap.underlying.clone(),
            model: spec.model.name().into(),
            surface_params: None,
            expiries: Vec::new(),
            arbitrage: ArbitrageVerdict { butterfly_ok: true, calendar_ok: true, worst: None },
            skipped: Vec::new(),
        },
        residuals: Vec::new(),
        warm: WarmStart::default(),
        traces: Vec::new(),
    };
    let mut svi_slices: Vec<(f64, Svi)> = Vec::new();
    for (e, outcome) in snap.expiries.iter().zip(outcomes) {
        let (targets, cal, names) = match outcome {
            Ok(v) => v,
            Err(reason) => {
                result.fit.skipped.push(reason);
                continue;
            }
        };
        let fly = match spec.model {
            ModelKind::Svi => Svi::from_slice(&cal.x).ok().map(|s| {
                svi_slices.push((e.t, s));
                check_butterfly(&s, e.t, &grid)
            }),
            _ => {
                let p = SabrModel { f: e.forward, t: e.t, beta: spec.sabr_beta }.full(&cal.x);
                Sabr::new(p[0], p[1], p[2], p[3])
                    .and_then(|s| s.smile(e.forward, e.t, SabrExpansion::Obloj2008))
                    .ok()
                    .map(|s| check_butterfly(&s, e.t, &grid))
            }
        };
        let arbitrage = ArbitrageVerdict {
            butterfly_ok: fly.is_some_and(|v| v.is_none()),
            calendar_ok: true,
            worst: fly.flatten().map(|v| format!("Butterfly at k={:.3}: {:.3e}", v.k, v.value)),
        };
        let se = cal.std_errors.as_deref().map(|s| named(&names, s)).unwrap_or_default();
        let (fit, rows) = expiry_outputs(
            snap,
            e,
            &targets,
            &cal,
            0..targets.len(),
            spec.model.name(),
            named(&names, &cal.x),
            se,
            arbitrage,
        );
        result.warm.per_expiry.insert(e.expiry_ms, cal.x.clone());
        result.traces.push((fit.expiry.clone(), cal.trace.clone()));
        result.fit.expiries.push(fit);
        result.residuals.extend(rows);
    }
    let report = if spec.model == ModelKind::Svi {
        check_smiles(&svi_slices, &grid)
    } else {
        crate::model::arbitrage::ArbitrageReport {
            butterfly_ok: result.fit.expiries.iter().all(|e| e.arbitrage.butterfly_ok),
            calendar_ok: true,
            worst: None,
        }
    };
    result.fit.arbitrage = verdict(report);
    if spec.model != ModelKind::Svi {
        result.fit.arbitrage.worst =
            result.fit.expiries.iter().find_map(|e| e.arbitrage.worst.clone());
    }
    result
}

/// One expiry's targets, fit and parameter names, or why it was skipped.
type ExpiryOutcome = Result<(Vec<Target>, Calibration, Vec<String>), String>;

/// Calendar enforcement for per-expiry SVI (see [`super::calendar`]): front to back, each
/// slice that crosses below the last accepted one is refitted above it; a slice whose
/// repair fails is kept as fitted (and reported by the arbitrage check).
fn enforce_svi_calendar(
    snap: &Snapshot,
    spec: &FitSpec,
    outcomes: &mut [ExpiryOutcome],
    grid: &[f64],
) {
    let mut prev: Option<(f64, Svi)> = None;
    for (e, outcome) in snap.expiries.iter().zip(outcomes.iter_mut()) {
        let Ok((targets, cal, _)) = outcome else { continue };
        let Ok(mut svi) = Svi::from_slice(&cal.x) else { continue };
        if let Some((t0, p)) = prev {
            if check_calendar(&[(t0, p), (e.t, svi)], grid).is_some() {
                let family = svi_family(targets);
                if let Some(c) = lift_above(&family, targets, spec, cal, (t0, &p), e.t, grid) {
                    if let Ok(s) = Svi::from_slice(&c.x) {
                        svi = s;
                        *cal = c;
                    }
                }
            }
        }
        prev = Some((e.t, svi));
    }
}

/// Butterfly check of a smile given only as total variances on a grid (`variances(ks, w)`),
/// by central differences with step 1e-3 in k; points where `w` is not finite are skipped.
fn cf_butterfly(
    variances: &dyn Fn(&[f64], &mut [f64]),
    t: f64,
    grid: &[f64],
) -> Option<crate::model::arbitrage::Violation> {
    let h = 1e-3;
    let ks: Vec<f64> = grid.iter().flat_map(|&k| [k - h, k, k + h]).collect();
    let mut w = vec![0.0; ks.len()];
    variances(&ks, &mut w);
    let mut worst: Option<crate::model::arbitrage::Violation> = None;
    for (i, &k) in grid.iter().enumerate() {
        let (wm, w0, wp) = (w[3 * i], w[3 * i + 1], w[3 * i + 2]);
        if !(wm.is_finite() && w0.is_finite() && wp.is_finite() && w0 > 0.0) {
            continue;
        }
        let g = crate::model::durrleman_g(
            [w0, (wp - wm) / (2.0 * h), (wp - 2.0 * w0 + wm) / (h * h)],
            k,
        );
        // Central second differences of quadrature prices carry ~1e-6 noise: tolerate it.
        if g < -1e-4 && worst.is_none_or(|v| g < v.value) {
            worst = Some(crate::model::arbitrage::Violation {
                kind: crate::model::arbitrage::ViolationKind::Butterfly,
                t,
                k,
                value: g,
            });
        }
    }
    worst
}

/// Surface template and start vector for `spec.model` from per-expiry ATM vols.
fn surface_start<S: Surface>(template: &S) -> Vec<f64> {
    let mut x = vec![0.0; template.num_params()];
    template.to_slice(&mut x);
    x
}

/// What every surface fit of one snapshot shares: the quotes (grouped by expiry), each
/// expiry's range in them, and the warm start.
struct SurfaceInputs<'a> {
    snap: &'a Snapshot,
    spec: &'a FitSpec,
    targets: Vec<Target>,
    /// (expiry, its range in `targets`, its ATM vol)
    used: Vec<(&'a Expiry, std::ops::Range<usize>, f64)>,
    layout: Vec<i64>,
    warm: Option<Vec<f64>>,
}

impl SurfaceInputs<'_> {
    fn expiries(&self) -> Vec<f64> {
        self.used.iter().map(|(e, _, _)| e.t).collect()
    }
}

/// Calibrates a surface family from the warm start (when any) and from `template`, keeps
/// the better fit and reports it into `result`.
fn fit_family<S: Surface, V: VolModel>(
    template: &S,
    family: &V,
    inp: &SurfaceInputs,
    result: &mut SnapshotResult,
) -> Result<(), String> {
    let mut starts: Vec<Vec<f64>> = inp.warm.clone().into_iter().collect();
    starts.push(surface_start(template));
    let mut best: Option<Calibration> = None;
    let mut err = String::new();
    for x0 in starts {
        match calibrate(family, &inp.targets, inp.spec, &x0, inp.warm.as_deref()) {
            Ok(c) if best.as_ref().is_none_or(|b| c.minimum.cost < b.minimum.cost) => {
                best = Some(c)
            }
            Ok(_) => {}
            Err(e) => err = e.to_string(),
        }
    }
    let cal = best.ok_or(err)?;
    let surface = template.with_slice(&cal.x).map_err(|e| e.to_string())?;
    report_surface(&surface, &cal, &family.param_names(), inp, result);
    Ok(())
}

/// Per-expiry outputs, arbitrage verdicts and warm start of a fitted surface.
fn report_surface<S: Surface>(
    surface: &S,
    cal: &Calibration,
    names: &[String],
    inp: &SurfaceInputs,
    result: &mut SnapshotResult,
) {
    let grid = arbitrage_grid();
    let ts = inp.expiries();
    // Heston and Bates prices are expectations under one martingale measure: free of static
    // arbitrage by construction. Their check is numerical (quadrature accuracy), so it runs
    // on each expiry's quoted range, batch-priced, where prices are well above underflow.
    let cf_model = matches!(inp.spec.model, ModelKind::Heston | ModelKind::Bates);
    let report = if cf_model {
        ArbitrageReport { butterfly_ok: true, calendar_ok: true, worst: None }
    } else {
        check_surface(surface, &ts, &grid)
    };
    result.fit.arbitrage = verdict(report);
    result.fit.surface_params = Some(named(names, &cal.x));
    for (e, range, _) in &inp.used {
        let slice = surface.slice(e.t);
        let fly = if cf_model {
            let (lo, hi) = inp.targets[range.clone()]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q.k), h.max(q.k)));
            let mut ks = vec![0.0; 41];
            fill_grid(lo, hi, &mut ks);
            cf_butterfly(&|ks: &[f64], w: &mut [f64]| surface.total_variances(e.t, ks, w), e.t, &ks)
        } else {
            check_butterfly(&slice, e.t, &grid)
        };
        if let Some(v) = fly {
            result.fit.arbitrage.butterfly_ok = false;
            result.fit.arbitrage.worst.get_or_insert_with(|| {
                format!("Butterfly at t={:.4}, k={:.3}: {:.3e}", v.t, v.k, v.value)
            });
        }
        let atm_w = slice.total_variance(0.0);
        let h = 1e-4;
        let skew = (slice.implied_vol(h, e.t) - slice.implied_vol(-h, e.t)) / (2.0 * h);
        let params = BTreeMap::from([
            ("atm_vol".to_string(), (atm_w / e.t).sqrt()),
            ("atm_skew".to_string(), skew),
            ("atm_total_variance".to_string(), atm_w),
        ]);
        let arbitrage = ArbitrageVerdict {
            butterfly_ok: fly.is_none(),
            calendar_ok: report.calendar_ok,
            worst: fly.map(|v| format!("Butterfly at k={:.3}: {:.3e}", v.k, v.value)),
        };
        let (fit, rows) = expiry_outputs(
            inp.snap,
            e,
            &inp.targets,
            cal,
            range.clone(),
            inp.spec.model.name(),
            params,
            BTreeMap::new(),
            arbitrage,
        );
        result.fit.expiries.push(fit);
        result.residuals.extend(rows);
    }
    result.warm.surface = Some((inp.layout.clone(), cal.x.clone()));
    result.traces.push(("surface".into(), cal.trace.clone()));
}

fn fit_surface(snap: &Snapshot, spec: &FitSpec, warm: Option<&WarmStart>) -> SnapshotResult {
    let mut result = SnapshotResult {
        fit: SnapshotFit {
            snapshot: snap.time_iso(),
            underlying: snap.underlying.clone(),
            model: spec.model.name().into(),
            surface_params: None,
            expiries: Vec::new(),
            arbitrage: ArbitrageVerdict::default(),
            skipped: Vec::new(),
        },
        residuals: Vec::new(),
        warm: WarmStart::default(),
        traces: Vec::new(),
    };
    let mut inp = SurfaceInputs {
        snap,
        spec,
        targets: Vec::new(),
        used: Vec::new(),
        layout: Vec::new(),
        warm: None,
    };
    for e in &snap.expiries {
        let sel = select_targets(e, spec);
        match atm_vol(&sel) {
            Some(atm) if sel.len() >= spec.filter.min_quotes.max(1) => {
                let start = inp.targets.len();
                inp.targets.extend(sel);
                inp.used.push((e, start..inp.targets.len(), atm));
            }
            _ => result.fit.skipped.push(format!(
                "{}: {} usable quotes",
                iso8601(e.expiry_ms),
                sel.len()
            )),
        }
    }
    if inp.used.is_empty() {
        return result;
    }
    let ts = inp.expiries();
    inp.layout = inp.used.iter().map(|(e, _, _)| e.expiry_ms).collect();
    let mut thetas: Vec<f64> = inp.used.iter().map(|(e, _, atm)| atm * atm * e.t).collect();
    for i in 1..thetas.len() {
        thetas[i] = thetas[i].max(thetas[i - 1] * (1.0 + 1e-3));
    }
    // Surfaces laid out per expiry can only reuse a vector of the same layout; Heston and
    // Bates vectors do not depend on the expiries.
    let layout_free = matches!(spec.model, ModelKind::Heston | ModelKind::Bates);
    inp.warm = warm
        .and_then(|w| w.surface.as_ref())
        .and_then(|(l, x)| (layout_free || *l == inp.layout).then(|| x.clone()));
    let short = inp.used.first().map_or(0.5, |u| u.2);
    let long = inp.used.last().map_or(0.5, |u| u.2);
    let ssvi = || Ssvi::new(&ts, &thetas, -0.2, Phi::PowerLaw { eta: 1.0, gamma: 0.4 });
    let heston = || Heston::new(short * short, 2.0, long * long, 1.0, -0.3);
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let outcome = match spec.model {
        ModelKind::Ssvi => ssvi()
            .map_err(|e| err(&e))
            .and_then(|t| fit_family(&t.clone(), &SurfaceModel::new(t), &inp, &mut result)),
        ModelKind::Essvi => ssvi()
            .and_then(|s| Essvi::from_ssvi(&s))
            .map_err(|e| err(&e))
            .and_then(|t| fit_family(&t.clone(), &SurfaceModel::new(t), &inp, &mut result)),
        ModelKind::Heston => heston()
            .map_err(|e| err(&e))
            .and_then(|t| fit_family(&t, &CfSurfaceModel::new(t, &inp.targets), &inp, &mut result)),
        _ => heston()
            .and_then(|h| Bates::new(h, 0.5, -0.05, 0.15))
            .map_err(|e| err(&e))
            .and_then(|t| fit_family(&t, &CfSurfaceModel::new(t, &inp.targets), &inp, &mut result)),
    };
    if let Err(reason) = outcome {
        result.fit.skipped.push(format!("surface: {reason}"));
    }
    result
}
