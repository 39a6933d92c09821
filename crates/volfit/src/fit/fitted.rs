//! A snapshot fit as a [`Fitted`] model: the fitted smiles rebuilt from the fit's
//! parameter vectors (its warm start) on the snapshot's expiries.

use super::{FitSpec, SnapshotResult};
use crate::market::Snapshot;
use crate::model::{ExpiryPoint, Fitted};
use std::collections::BTreeMap;

impl SnapshotResult {
    /// The fitted model of this result (a fit of `snap` under `spec`). Expiries whose
    /// parameters do not rebuild (none in practice: they came out of the fit) are left out;
    /// a surface whose layout or vector does not rebuild gives a model with no expiry.
    pub fn fitted(&self, snap: &Snapshot, spec: &FitSpec) -> Fitted {
        let points: BTreeMap<i64, ExpiryPoint> = snap
            .expiries
            .iter()
            .map(|e| {
                (e.expiry_ms, ExpiryPoint { expiry_ms: e.expiry_ms, t: e.t, forward: e.forward })
            })
            .collect();
        let kind = spec.model;
        let built = if kind.per_expiry() {
            let slices = self
                .warm
                .per_expiry
                .iter()
                .filter_map(|(ms, x)| points.get(ms).map(|p| (*p, x.as_slice())));
            Fitted::per_expiry(kind, spec.sabr_beta, slices).ok()
        } else {
            self.warm.surface.as_ref().and_then(|(layout, x)| {
                let used: Option<Vec<ExpiryPoint>> =
                    layout.iter().map(|ms| points.get(ms).copied()).collect();
                Fitted::surface(kind, &used?, x).ok()
            })
        };
        built.unwrap_or_else(|| Fitted::empty(kind))
    }
}
