//! Fitting one snapshot: choose the quotes, build each model's initial guess (or take the
//! previous snapshot's fit: a warm start), calibrate, score against the market, check
//! static arbitrage and write the residual rows.
//!
//! Per-expiry models (SVI, SABR) fit their expiries in parallel; surfaces fit all expiries
//! at once. Every computation is deterministic, so results do not depend on thread count.
//! [`fit_snapshot`] is the one place that maps a [`ModelKind`] to how it is fitted.

use super::per_expiry::fit_per_expiry;
use super::problem::{CfSurfaceModel, SurfaceModel, VolModel};
use super::report::ArbitrageVerdict;
use super::result::{SnapshotResult, WarmStart};
use super::sabr::fit_sabr_slice;
use super::spec::{FitSpec, ModelKind};
use super::surface::fit_surface;
use super::surrogate::{fit_rbergomi, fit_through};
use super::svi::fit_svi_slice;
use crate::market::Snapshot;
use crate::model::bates::Bates;
use crate::model::ssvi::Essvi;

/// Fits one snapshot under `spec`, warm-starting from `warm` when given.
///
/// A snapshot with no fitted expiry reports "no data": no arbitrage verdict to give.
pub fn fit_snapshot(snap: &Snapshot, spec: &FitSpec, warm: Option<&WarmStart>) -> SnapshotResult {
    let mut result = fit_model(snap, spec, warm);
    if result.fit.expiries.is_empty() {
        result.fit.arbitrage = ArbitrageVerdict::no_data();
    }
    result
}

/// [`fit_snapshot`] by model family.
fn fit_model(snap: &Snapshot, spec: &FitSpec, warm: Option<&WarmStart>) -> SnapshotResult {
    match spec.model {
        ModelKind::Svi => fit_per_expiry(snap, spec, warm, &|q, e, w| {
            fit_svi_slice(q, e.t, spec, w).map(|(c, family)| (c, family.param_names()))
        }),
        ModelKind::Sabr => fit_per_expiry(snap, spec, warm, &|q, e, w| {
            fit_sabr_slice(q, e.forward, e.t, spec, w).map(|(c, family)| (c, family.param_names()))
        }),
        ModelKind::Ssvi => fit_surface(snap, spec, warm, |s| {
            let t = s.ssvi()?;
            s.fit(&t.clone(), &SurfaceModel::new(t))
        }),
        ModelKind::Essvi => fit_surface(snap, spec, warm, |s| {
            let t = Essvi::from_ssvi(&s.ssvi()?)?;
            s.fit(&t.clone(), &SurfaceModel::new(t))
        }),
        ModelKind::Heston => fit_surface(snap, spec, warm, |s| {
            let t = s.heston()?;
            match &spec.surrogate {
                Some(sg) => fit_through(s, &t, sg),
                None => s.fit(&t, &CfSurfaceModel::new(t, s.targets())),
            }
        }),
        ModelKind::Bates => fit_surface(snap, spec, warm, |s| {
            let t = Bates::new(s.heston()?, 0.5, -0.05, 0.15)?;
            match &spec.surrogate {
                Some(sg) => fit_through(s, &t, sg),
                None => s.fit(&t, &CfSurfaceModel::new(t, s.targets())),
            }
        }),
        ModelKind::RBergomi => fit_rbergomi(snap, spec, warm),
    }
}
