//! The fitted model of one snapshot rebuilt from `fit.json`'s parameters, for the smile
//! curves and the heat map of the report.

use crate::fit::SnapshotFit;
use crate::model::bates::Bates;
use crate::model::heston::Heston;
use crate::model::sabr::{Sabr, SabrExpansion, SabrSmile};
use crate::model::ssvi::{Essvi, Phi, Ssvi};
use crate::model::svi::Svi;
use crate::model::{Params, Smile, Surface};
use std::collections::BTreeMap;

enum SurfaceView {
    Ssvi(Ssvi),
    Essvi(Essvi),
    Heston(Heston),
    Bates(Bates),
}

enum SliceView {
    Svi(Svi),
    Sabr(SabrSmile),
}

/// The fitted model of one snapshot, rebuilt from its parameters.
pub(super) struct ModelView {
    surface: Option<SurfaceView>,
    /// Per-expiry slices, indexed like `SnapshotFit::expiries`.
    slices: Vec<Option<SliceView>>,
}

fn ordered(params: &BTreeMap<String, f64>, names: &[String]) -> Option<Vec<f64>> {
    names.iter().map(|n| params.get(n).copied()).collect()
}

impl ModelView {
    pub(super) fn new(spec_beta: Option<f64>, snap: &SnapshotFit) -> ModelView {
        let ts: Vec<f64> = snap.expiries.iter().map(|e| e.t).collect();
        let surface = snap.surface_params.as_ref().and_then(|p| {
            let thetas: Vec<f64> = (1..=ts.len()).map(|i| 0.01 * i as f64).collect();
            let template = Ssvi::new(&ts, &thetas, -0.2, Phi::PowerLaw { eta: 1.0, gamma: 0.4 });
            match snap.model.as_str() {
                "ssvi" => {
                    let t = template.ok()?;
                    let x = ordered(p, &t.param_names())?;
                    t.with_slice(&x).ok().map(SurfaceView::Ssvi)
                }
                "essvi" => {
                    let t = Essvi::from_ssvi(&template.ok()?).ok()?;
                    let x = ordered(p, &t.param_names())?;
                    t.with_slice(&x).ok().map(SurfaceView::Essvi)
                }
                "heston" => {
                    let names: Vec<String> = Heston::NAMES.iter().map(|s| s.to_string()).collect();
                    Heston::from_slice(&ordered(p, &names)?).ok().map(SurfaceView::Heston)
                }
                "bates" => {
                    let names: Vec<String> = Bates::NAMES.iter().map(|s| s.to_string()).collect();
                    Bates::from_slice(&ordered(p, &names)?).ok().map(SurfaceView::Bates)
                }
                _ => None,
            }
        });
        let slices = snap
            .expiries
            .iter()
            .map(|e| {
                let p = &e.params;
                let get = |n: &str| p.get(n).copied();
                match e.model.as_str() {
                    "svi" => Svi::new(get("a")?, get("b")?, get("rho")?, get("m")?, get("sigma")?)
                        .ok()
                        .map(SliceView::Svi),
                    "sabr" => {
                        let beta = get("beta").or(spec_beta).unwrap_or(1.0);
                        Sabr::new(get("alpha")?, get("rho")?, get("nu")?, beta)
                            .and_then(|s| s.smile(e.forward, e.t, SabrExpansion::Obloj2008))
                            .ok()
                            .map(SliceView::Sabr)
                    }
                    _ => None,
                }
            })
            .collect();
        ModelView { surface, slices }
    }

    /// Model total variances at `(ks, t)`; for per-expiry models `i` selects the slice.
    fn total_variances(&self, i: usize, t: f64, ks: &[f64], out: &mut [f64]) -> bool {
        match (&self.surface, self.slices.get(i)) {
            (Some(SurfaceView::Ssvi(s)), _) => s.total_variances(t, ks, out),
            (Some(SurfaceView::Essvi(s)), _) => s.total_variances(t, ks, out),
            (Some(SurfaceView::Heston(s)), _) => s.total_variances(t, ks, out),
            (Some(SurfaceView::Bates(s)), _) => s.total_variances(t, ks, out),
            (None, Some(Some(SliceView::Svi(s)))) => {
                ks.iter().zip(out.iter_mut()).for_each(|(&k, w)| *w = s.total_variance(k))
            }
            (None, Some(Some(SliceView::Sabr(s)))) => {
                ks.iter().zip(out.iter_mut()).for_each(|(&k, w)| *w = s.total_variance(k))
            }
            _ => return false,
        }
        true
    }

    pub(super) fn is_surface(&self) -> bool {
        self.surface.is_some()
    }

    /// Implied vols at `ks` (NaN where the variance is not positive), or `None`.
    pub(super) fn vols(&self, i: usize, t: f64, ks: &[f64]) -> Option<Vec<f64>> {
        let mut w = vec![f64::NAN; ks.len()];
        if !self.total_variances(i, t, ks, &mut w) {
            return None;
        }
        Some(
            w.iter().map(|&w| if w > 0.0 && t > 0.0 { (w / t).sqrt() } else { f64::NAN }).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fit::{fit_snapshot, FitSpec, ModelKind, ResidualRow};
    use crate::market::synth::{generate, SynthSpec};
    use crate::market::{build, read_path, ReadOptions, Snapshot};

    fn synthetic_snapshot() -> Snapshot {
        let chain = generate(&SynthSpec { seed: 7, ..SynthSpec::default() });
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("synth.csv");
        chain.write_csv(std::fs::File::create(&path).expect("create")).expect("write");
        let opts = ReadOptions::default();
        let mut snaps = Vec::new();
        read_path(&path, &opts, &mut |raw| {
            snaps.push(build(raw, &opts.clean).snapshot);
            Ok(())
        })
        .expect("read");
        snaps.pop().expect("one snapshot")
    }

    /// Round trip: the model rebuilt from fit.json's parameters reproduces the model IVs the
    /// fit wrote into residuals.csv, for every model family.
    #[test]
    fn rebuilt_models_reproduce_the_fitted_vols() {
        let snap = synthetic_snapshot();
        for model in [
            ModelKind::Svi,
            ModelKind::Sabr,
            ModelKind::Ssvi,
            ModelKind::Essvi,
            ModelKind::Heston,
            ModelKind::Bates,
        ] {
            let spec = FitSpec { model, max_iters: 30, ..FitSpec::default() };
            let r = fit_snapshot(&snap, &spec, None);
            assert!(!r.fit.expiries.is_empty(), "{model:?}: {:?}", r.fit.skipped);
            // fit.json goes through JSON: rebuild from the parsed copy.
            let json = serde_json::to_string(&r.fit).expect("serialise");
            let fit: SnapshotFit = serde_json::from_str(&json).expect("parse");
            let view = ModelView::new(spec.sabr_beta, &fit);
            let mut worst: f64 = 0.0;
            for (i, e) in fit.expiries.iter().enumerate() {
                let rows: Vec<&ResidualRow> =
                    r.residuals.iter().filter(|q| q.expiry == e.expiry).collect();
                let ks: Vec<f64> = rows.iter().map(|q| q.k).collect();
                let v = view.vols(i, e.t, &ks).expect("model rebuilt");
                for (q, v) in rows.iter().zip(v) {
                    worst = worst.max((v - q.model_iv).abs());
                }
            }
            // Same formulas, same inputs; the JSON round trip of f64 is exact (ryu), so only
            // evaluation-order rounding remains.
            assert!(worst < 1e-9, "{model:?}: max |rebuilt − fitted| IV {worst:e}");
        }
    }
}
