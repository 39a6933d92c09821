//! The fitted model of one snapshot rebuilt from `fit.json`'s parameters, for the smile
//! curves and the heat map of the report: a [`Fitted`] keyed by each expiry's position in
//! `SnapshotFit::expiries`.

use crate::fit::SnapshotFit;
use crate::model::{ExpiryPoint, Fitted};
use std::collections::BTreeMap;

/// The fitted model of one snapshot, rebuilt from its parameters (`None` when they do not
/// rebuild).
pub(super) struct ModelView(Option<Fitted>);

impl ModelView {
    pub(super) fn new(spec_beta: Option<f64>, snap: &SnapshotFit) -> ModelView {
        let expiries: Vec<(ExpiryPoint, &BTreeMap<String, f64>)> = snap
            .expiries
            .iter()
            .zip(0..)
            .map(|(e, i)| (ExpiryPoint { expiry_ms: i, t: e.t, forward: e.forward }, &e.params))
            .collect();
        let surface = snap.surface_params.as_ref();
        ModelView(Fitted::from_named(snap.model, spec_beta, &expiries, surface).ok())
    }

    pub(super) fn is_surface(&self) -> bool {
        self.0.as_ref().is_some_and(Fitted::is_surface)
    }

    /// Total variances at `ks` of the `i`-th expiry (a surface at `t`) written into `out`;
    /// false when there is no smile.
    pub(super) fn total_variances(&self, i: usize, t: f64, ks: &[f64], out: &mut [f64]) -> bool {
        let (Some(m), Ok(i)) = (self.0.as_ref(), i64::try_from(i)) else { return false };
        m.total_variances(i, t, ks, out)
    }

    /// Implied vols at `ks` of the `i`-th expiry (a surface at `t`; NaN where the variance
    /// is not positive), or `None`.
    pub(super) fn vols(&self, i: usize, t: f64, ks: &[f64]) -> Option<Vec<f64>> {
        self.0.as_ref()?.vols(i64::try_from(i).ok()?, t, ks)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    use crate::fit::{fit_snapshot, FitSpec, ModelKind, ResidualRow};
    use crate::market::synth::{generate, SynthSpec};
    use crate::market::{build, read_path, ReadOptions, Snapshot};

    /// The synthetic chain (seed 7) read back as one snapshot.
    pub(in crate::report) fn synthetic_snapshot() -> Snapshot {
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
