//! A snapshot fitted as one surface (SSVI, eSSVI, Heston, Bates).

use super::arbitrage::{
    arbitrage_grid, cf_butterfly, grid_within, surface_places, svi_butterfly, svi_surface_calendar,
    verdict, QuotedSvi,
};
use super::calibrate::{calibrate, Calibration};
use super::error::{FitError, SkipReason, SurfaceError};
use super::problem::VolModel;
use super::report::{ArbitrageVerdict, ViolationWhere};
use super::result::{expiry_outputs, named, SnapshotResult, WarmStart};
use super::spec::FitSpec;
use super::targets::{atm_vol, quoted_range, select_targets};
use crate::market::{Expiry, Snapshot};
use crate::model::arbitrage::{check_butterfly, check_surface, fill_grid, ArbitrageReport};
use crate::model::heston::{Heston, HestonError};
use crate::model::ssvi::{Phi, Ssvi, SsviError};
use crate::model::svi::AsRawSvi;
use crate::model::{Smile, Surface};
use crate::objective::Target;
use std::collections::BTreeMap;

/// The parameters of `template` as a start vector.
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
    /// Usable quotes the fit's `keep` rule left out (outside a surrogate net's grid).
    left_out: usize,
}

impl SurfaceInputs<'_> {
    fn expiries(&self) -> Vec<f64> {
        self.used.iter().map(|(e, _, _)| e.t).collect()
    }
}

/// A surface's slices at its expiries and at the midpoints between them, with their quoted
/// ranges (a midpoint: the hull of its neighbours'), when every slice is a raw SVI.
fn raw_svi_nodes<S: Surface>(surface: &S, inp: &SurfaceInputs) -> Option<Vec<QuotedSvi>>
where
    S::Slice: AsRawSvi,
{
    let mut nodes: Vec<QuotedSvi> = Vec::with_capacity(2 * inp.used.len());
    for (e, range, _) in &inp.used {
        let r = quoted_range(&inp.targets[range.clone()]);
        if let Some(prev) = nodes.last() {
            let (t, hull) = (0.5 * (prev.t + e.t), (prev.range.0.min(r.0), prev.range.1.max(r.1)));
            nodes.push(QuotedSvi { t, svi: surface.slice(t).as_raw_svi()?, range: hull });
        }
        nodes.push(QuotedSvi { t: e.t, svi: surface.slice(e.t).as_raw_svi()?, range: r });
    }
    Some(nodes)
}

/// What a surface family's start is built from, and where its fit is reported.
pub(super) struct SurfaceStart<'a, 'b> {
    inp: &'b SurfaceInputs<'a>,
    result: &'b mut SnapshotResult,
    /// Years to each used expiry.
    ts: Vec<f64>,
    /// ATM total variances of the used expiries, made increasing.
    thetas: Vec<f64>,
    /// ATM vols of the shortest and longest used expiries.
    short: f64,
    long: f64,
}

impl SurfaceStart<'_, '_> {
    /// The quotes of the surface fit.
    pub(super) fn targets(&self) -> &[Target] {
        &self.inp.targets
    }
    /// SSVI (power-law φ, ρ = −0.2) on the ATM total variances.
    pub(super) fn ssvi(&self) -> Result<Ssvi, SsviError> {
        Ssvi::new(&self.ts, &self.thetas, -0.2, Phi::PowerLaw { eta: 1.0, gamma: 0.4 })
    }
    /// Heston from the short and long ATM vols (v₀, θ), κ = 2, σ = 1, ρ = −0.3.
    pub(super) fn heston(&self) -> Result<Heston, HestonError> {
        Heston::new(self.short * self.short, 2.0, self.long * self.long, 1.0, -0.3)
    }
    /// ATM vols of the shortest and longest used expiries.
    pub(super) fn atm_vols(&self) -> (f64, f64) {
        (self.short, self.long)
    }
    /// Usable quotes left out by the fit's `keep` rule ([`fit_surface_where`]).
    pub(super) fn left_out(&self) -> usize {
        self.inp.left_out
    }
    /// The fit's spec.
    pub(super) fn spec(&self) -> &FitSpec {
        self.inp.spec
    }
    /// The warm start, when its layout fits.
    pub(super) fn warm(&self) -> Option<&[f64]> {
        self.inp.warm.as_deref()
    }
    /// The snapshot's result, to add to what [`report`](Self::report) wrote.
    pub(super) fn result_mut(&mut self) -> &mut SnapshotResult {
        self.result
    }
    /// Reports the calibration `cal` of `family` (laid out as `template`) as the fit.
    pub(super) fn report<S: Surface, V: VolModel>(
        &mut self,
        template: &S,
        family: &V,
        cal: &Calibration,
    ) -> Result<(), SurfaceError>
    where
        S::Error: Into<SurfaceError>,
        S::Slice: AsRawSvi,
    {
        let surface = template.with_slice(&cal.x).map_err(Into::into)?;
        report_surface(&surface, cal, &family.param_names(), self.inp, self.result);
        Ok(())
    }
    /// Calibrates `family` from the warm start and from `template`; reports the better fit.
    pub(super) fn fit<S: Surface, V: VolModel>(
        &mut self,
        template: &S,
        family: &V,
    ) -> Result<(), SurfaceError>
    where
        S::Error: Into<SurfaceError>,
        S::Slice: AsRawSvi,
    {
        fit_family(template, family, self.inp, self.result)
    }
}

/// Calibrates a surface family from the warm start (when any) and from `template`, keeps
/// the better fit and reports it into `result`.
fn fit_family<S: Surface, V: VolModel>(
    template: &S,
    family: &V,
    inp: &SurfaceInputs,
    result: &mut SnapshotResult,
) -> Result<(), SurfaceError>
where
    S::Error: Into<SurfaceError>,
    S::Slice: AsRawSvi,
{
    let mut starts: Vec<Vec<f64>> = inp.warm.clone().into_iter().collect();
    starts.push(surface_start(template));
    let mut best: Option<Calibration> = None;
    let mut err = FitError::Infeasible;
    for x0 in starts {
        match calibrate(family, &inp.targets, inp.spec, &x0, inp.warm.as_deref()) {
            Ok(c) if best.as_ref().is_none_or(|b| c.minimum.cost < b.minimum.cost) => {
                best = Some(c)
            }
            Ok(_) => {}
            Err(e) => err = e,
        }
    }
    let cal = best.ok_or(err)?;
    let surface = template.with_slice(&cal.x).map_err(Into::into)?;
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
) where
    S::Slice: AsRawSvi,
{
    let grid = arbitrage_grid();
    let ts = inp.expiries();
    // Heston and Bates prices are expectations under one martingale measure: free of static
    // arbitrage by construction. Their check is numerical (quadrature accuracy), so it runs
    // on each expiry's quoted range, batch-priced, where prices are well above underflow.
    let cf_model = inp.spec.model.characteristic_fn();
    let none = ViolationWhere::None;
    let (report, butterfly_where, calendar_where) = if cf_model {
        (ArbitrageReport { butterfly_ok: true, calendar_ok: true, worst: None }, none, none)
    } else if let Some(nodes) = raw_svi_nodes(surface, inp) {
        let (worst, at) = svi_surface_calendar(&nodes);
        (ArbitrageReport { butterfly_ok: true, calendar_ok: worst.is_none(), worst }, none, at)
    } else {
        // At the expiries and between them; where: inside the hull of the quoted ranges, or
        // only beyond it.
        let all = check_surface(surface, &ts, &grid);
        let (lo, hi) = quoted_range(&inp.targets);
        let inside = (!(all.calendar_ok && all.butterfly_ok) && lo.max(-2.0) <= hi.min(2.0))
            .then(|| check_surface(surface, &ts, &grid_within(&grid, lo.max(-2.0), hi.min(2.0))));
        let (fly, cal) = surface_places(&all, inside.as_ref());
        (all, fly, cal)
    };
    result.fit.arbitrage = verdict(report, butterfly_where, calendar_where);
    result.fit.surface_params = Some(named(names, &cal.x));
    for (e, range, _) in &inp.used {
        let slice = surface.slice(e.t);
        let (lo, hi) = quoted_range(&inp.targets[range.clone()]);
        let (fly, inside) = if cf_model {
            let mut ks = vec![0.0; 41];
            fill_grid(lo, hi, &mut ks);
            let v = cf_butterfly(
                &|ks: &[f64], w: &mut [f64]| surface.total_variances(e.t, ks, w),
                e.t,
                &ks,
            );
            (v, v)
        } else if let Some(svi) = slice.as_raw_svi() {
            let (all, at) = svi_butterfly(&QuotedSvi { t: e.t, svi, range: (lo, hi) });
            (all, all.filter(|_| at == ViolationWhere::Inside))
        } else {
            let all = check_butterfly(&slice, e.t, &grid);
            let ks = grid_within(&grid, lo.max(-2.0), hi.min(2.0));
            (all, all.and_then(|_| check_butterfly(&slice, e.t, &ks)))
        };
        let butterfly_where = ViolationWhere::of(inside, fly);
        let agg = &mut result.fit.arbitrage;
        agg.butterfly_where = agg.butterfly_where.worse(butterfly_where);
        if let Some(v) = fly {
            agg.butterfly_ok = false;
            agg.worst.get_or_insert_with(|| {
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
            butterfly_where,
            calendar_where,
            worst: fly.map(|v| format!("Butterfly at k={:.3}: {:.3e}", v.k, v.value)),
        };
        let (fit, rows) = expiry_outputs(
            inp.snap,
            e,
            &inp.targets,
            cal,
            range.clone(),
            inp.spec.model,
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

/// Fits `snap` as one surface of `spec.model`: `family` builds the model's template from the
/// expiries' ATM vols ([`SurfaceStart`]) and calibrates it from there and from the warm start
/// (when its layout fits).
pub(super) fn fit_surface(
    snap: &Snapshot,
    spec: &FitSpec,
    warm: Option<&WarmStart>,
    family: impl FnOnce(&mut SurfaceStart) -> Result<(), SurfaceError>,
) -> SnapshotResult {
    fit_surface_where(snap, spec, warm, &|_| true, family)
}

/// [`fit_surface`] on the usable quotes that `keep` accepts (a surrogate net's grid); the
/// others are counted ([`SurfaceStart::left_out`]), and an expiry left with too few is
/// skipped with [`SkipReason::OffGrid`].
pub(super) fn fit_surface_where(
    snap: &Snapshot,
    spec: &FitSpec,
    warm: Option<&WarmStart>,
    keep: &dyn Fn(&Target) -> bool,
    family: impl FnOnce(&mut SurfaceStart) -> Result<(), SurfaceError>,
) -> SnapshotResult {
    let mut result = SnapshotResult::empty(snap, spec, ArbitrageVerdict::default());
    let mut inp = SurfaceInputs {
        snap,
        spec,
        targets: Vec::new(),
        used: Vec::new(),
        layout: Vec::new(),
        warm: None,
        left_out: 0,
    };
    let min_quotes = spec.filter.min_quotes.max(1);
    for e in &snap.expiries {
        let usable = select_targets(e, spec);
        let n_usable = usable.len();
        let sel: Vec<Target> = usable.into_iter().filter(|q| keep(q)).collect();
        inp.left_out += n_usable - sel.len();
        match atm_vol(&sel) {
            Some(atm) if sel.len() >= min_quotes => {
                let start = inp.targets.len();
                inp.targets.extend(sel);
                inp.used.push((e, start..inp.targets.len(), atm));
            }
            _ if sel.len() < n_usable && n_usable >= min_quotes => result
                .fit
                .skipped
                .push(SkipReason::off_grid(e, spec, n_usable, sel.len()).to_string()),
            _ => result.fit.skipped.push(SkipReason::unusable(e, spec, n_usable).to_string()),
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
    // Surfaces laid out per expiry can only reuse a vector of the same layout; Heston,
    // Bates and rough Bergomi vectors do not depend on the expiries.
    let layout_free = spec.model.characteristic_fn() || spec.model.net_only();
    inp.warm = warm
        .and_then(|w| w.surface.as_ref())
        .and_then(|(l, x)| (layout_free || *l == inp.layout).then(|| x.clone()));
    let short = inp.used.first().map_or(0.5, |u| u.2);
    let long = inp.used.last().map_or(0.5, |u| u.2);
    let outcome =
        family(&mut SurfaceStart { inp: &inp, result: &mut result, ts, thetas, short, long });
    if let Err(reason) = outcome {
        result.fit.skipped.push(SkipReason::Surface(reason).to_string());
    }
    result
}
