//! A snapshot fitted one expiry at a time (SVI, SABR), expiries in parallel, with the
//! optional calendar repair of SVI slices.

use super::arbitrage::{
    arbitrage_grid, grid_within, svi_snapshot_verdict, CheckedSvi, QuotedSvi, CHECK_RANGE,
};
use super::calendar::lift_above;
use super::calibrate::Calibration;
use super::error::{FitError, SkipReason};
use super::report::{ArbitrageVerdict, ViolationWhere};
use super::result::{expiry_outputs, named, SnapshotResult, WarmStart};
use super::spec::{FitSpec, ModelKind};
use super::svi::svi_family;
use super::targets::{quoted_range, select_targets};
use crate::market::{iso8601, Expiry, Snapshot};
use crate::model::arbitrage::{check_butterfly, check_svi_calendar};
use crate::model::svi::Svi;
use crate::model::Params;
use crate::model::{ExpiryPoint, Fitted, FittedSmile};
use crate::objective::Target;
use rayon::prelude::*;

/// How a per-expiry family fits one expiry's targets from an optional warm start: the
/// calibration and its parameter names.
pub(super) type SliceFit<'a> = dyn Fn(&[Target], &Expiry, Option<&[f64]>) -> Result<(Calibration, Vec<String>), FitError>
    + Sync
    + 'a;

/// Fits one expiry with a per-expiry model; `Err` with a reason when skipped.
fn fit_expiry(
    e: &Expiry,
    spec: &FitSpec,
    warm: Option<&[f64]>,
    fit: &SliceFit<'_>,
) -> ExpiryOutcome {
    let targets = select_targets(e, spec);
    if targets.len() < spec.filter.min_quotes.max(1) {
        return Err(SkipReason::unusable(e, spec, targets.len()));
    }
    let why = |error| SkipReason::Fit { expiry: iso8601(e.expiry_ms), error };
    let (cal, names) = fit(&targets, e, warm).map_err(why)?;
    Ok((targets, cal, names))
}

/// Fits every expiry of `snap` with `fit`, the per-expiry family of `spec` (in parallel), repairs
/// calendar arbitrage between SVI slices when asked, and reports the slices.
pub(super) fn fit_per_expiry(
    snap: &Snapshot,
    spec: &FitSpec,
    warm: Option<&WarmStart>,
    fit: &SliceFit<'_>,
) -> SnapshotResult {
    let mut outcomes: Vec<_> = snap
        .expiries
        .par_iter()
        .map(|e| {
            let w = warm.and_then(|w| w.per_expiry.get(&e.expiry_ms)).map(Vec::as_slice);
            fit_expiry(e, spec, w, fit)
        })
        .collect();
    let grid = arbitrage_grid();
    if spec.model == ModelKind::Svi && spec.calendar {
        enforce_svi_calendar(snap, spec, &mut outcomes);
    }
    let mut result = SnapshotResult::empty(snap, spec, ArbitrageVerdict::default());
    let mut svi_slices: Vec<CheckedSvi> = Vec::new();
    for (e, outcome) in snap.expiries.iter().zip(outcomes) {
        let (targets, cal, names) = match outcome {
            Ok(v) => v,
            Err(reason) => {
                result.fit.skipped.push(reason.to_string());
                continue;
            }
        };
        let range = quoted_range(&targets);
        let arbitrage = slice_verdict(spec, e, &cal.x, range, &grid, &mut svi_slices);
        let se = cal.std_errors.as_deref().map(|s| named(&names, s)).unwrap_or_default();
        let (fit, rows) = expiry_outputs(
            snap,
            e,
            &targets,
            &cal,
            0..targets.len(),
            spec.model,
            named(&names, &cal.x),
            se,
            arbitrage,
        );
        result.warm.per_expiry.insert(e.expiry_ms, cal.x.clone());
        result.traces.push((fit.expiry.clone(), cal.trace.clone()));
        result.fit.expiries.push(fit);
        result.residuals.extend(rows);
    }
    result.fit.arbitrage = if spec.model == ModelKind::Svi {
        svi_snapshot_verdict(&svi_slices)
    } else {
        let mut v = ArbitrageVerdict::default();
        for e in &result.fit.expiries {
            v.butterfly_ok &= e.arbitrage.butterfly_ok;
            v.butterfly_where = v.butterfly_where.worse(e.arbitrage.butterfly_where);
            v.worst = v.worst.or_else(|| e.arbitrage.worst.clone());
        }
        v
    };
    result
}

/// The butterfly verdict of one fitted slice `x` with quoted range `range`: raw SVI exactly
/// on the real line (collected into `svi_slices` for the snapshot's checks), other smiles
/// on `grid`; a violation when `x` is not a smile.
fn slice_verdict(
    spec: &FitSpec,
    e: &Expiry,
    x: &[f64],
    range: (f64, f64),
    grid: &[f64],
    svi_slices: &mut Vec<CheckedSvi>,
) -> ArbitrageVerdict {
    let at = ExpiryPoint { expiry_ms: e.expiry_ms, t: e.t, forward: e.forward };
    let smile = Fitted::per_expiry(spec.model, spec.sabr_beta, [(at, x)])
        .ok()
        .and_then(|f| f.slice(e.expiry_ms).map(|s| s.smile));
    let Some(smile) = smile else {
        return ArbitrageVerdict {
            butterfly_ok: false,
            butterfly_where: ViolationWhere::Inside,
            worst: Some("not a valid smile".into()),
            ..ArbitrageVerdict::default()
        };
    };
    let (fly, place) = if let FittedSmile::Svi(svi) = smile {
        let checked = CheckedSvi::new(QuotedSvi { t: e.t, svi, range });
        svi_slices.push(checked);
        checked.fly
    } else {
        let all = check_butterfly(&smile, e.t, grid);
        let inside = all.and_then(|_| {
            check_butterfly(&smile, e.t, &grid_within(grid, range.0.max(-2.0), range.1.min(2.0)))
        });
        (all, ViolationWhere::of(inside, all))
    };
    ArbitrageVerdict {
        butterfly_ok: fly.is_none(),
        butterfly_where: place,
        worst: fly.map(|v| format!("Butterfly at k={:.3}: {:.3e}", v.k, v.value)),
        ..ArbitrageVerdict::default()
    }
}

/// One expiry's targets, fit and parameter names, or why it was skipped.
type ExpiryOutcome = Result<(Vec<Target>, Calibration, Vec<String>), SkipReason>;

/// Calendar enforcement for per-expiry SVI (see [`super::calendar`]): front to back, each
/// slice that crosses below the last accepted one is refitted above it; a slice whose
/// repair fails is kept as fitted (and reported by the arbitrage check).
fn enforce_svi_calendar(snap: &Snapshot, spec: &FitSpec, outcomes: &mut [ExpiryOutcome]) {
    let grid = arbitrage_grid();
    let (lo, hi) = CHECK_RANGE;
    let mut prev: Option<(f64, Svi)> = None;
    for (e, outcome) in snap.expiries.iter().zip(outcomes.iter_mut()) {
        let Ok((targets, cal, _)) = outcome else { continue };
        let Ok(mut svi) = Svi::from_slice(&cal.x) else { continue };
        if let Some((t0, p)) = prev {
            if check_svi_calendar(&p, (e.t, &svi), lo, hi).is_some() {
                let family = svi_family(targets, e.t);
                if let Some(c) = lift_above(&family, targets, spec, cal, (t0, &p), e.t, &grid) {
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
