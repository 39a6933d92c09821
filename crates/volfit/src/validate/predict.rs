//! A fitted model as something that predicts: rebuilt from a snapshot fit's parameters,
//! it gives a model vol for any strike of an expiry it fitted, under a new forward.
//!
//! Between snapshots the smile of an expiry is moved by one of two rules:
//! - **sticky moneyness**: the vol follows the forward, same `k = ln(K/F_new)` → same vol;
//! - **sticky strike**: the vol stays with the strike, `K` → the fitted vol at
//!   `k_old = ln(K/F_old)`.
//!
//! Either way the fitted implied vol `σ(k) = √(w(k)/t_fit)` is carried unchanged (no
//! roll-down along the term structure), so an out-of-sample error also measures how much the
//! market moved.

use crate::fit::{FitSpec, ModelKind, SnapshotResult};
use crate::market::Snapshot;
use crate::model::bates::Bates;
use crate::model::heston::Heston;
use crate::model::sabr::{Sabr, SabrExpansion};
use crate::model::ssvi::{Essvi, Phi, Ssvi};
use crate::model::svi::Svi;
use crate::model::{Params, Smile, Surface};
use crate::objective::Target;
use std::collections::BTreeMap;

/// How a fitted smile moves with the forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sticky {
    /// Same log-moneyness, same vol.
    Moneyness,
    /// Same strike, same vol.
    Strike,
}

/// One fitted expiry: its smile, the years to expiry and forward it was fitted at.
struct FittedSlice {
    t: f64,
    forward: f64,
    smile: Box<dyn Smile + Send + Sync>,
}

/// A snapshot fit rebuilt as smiles per expiry (keyed by expiry time in ms).
pub struct FittedModel {
    slices: BTreeMap<i64, FittedSlice>,
}

impl std::fmt::Debug for FittedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FittedModel").field("expiries", &self.slices.len()).finish()
    }
}

fn boxed<S: Smile + Send + Sync + 'static>(s: S) -> Box<dyn Smile + Send + Sync> {
    Box::new(s)
}

impl FittedModel {
    /// Rebuilds the fitted smiles of `result` (a fit of `snap` under `spec`). Expiries whose
    /// parameters do not rebuild (none in practice: they came out of the fit) are left out.
    pub fn from_result(result: &SnapshotResult, snap: &Snapshot, spec: &FitSpec) -> FittedModel {
        let mut slices = BTreeMap::new();
        let ctx: BTreeMap<i64, (f64, f64)> =
            snap.expiries.iter().map(|e| (e.expiry_ms, (e.t, e.forward))).collect();
        if spec.model.per_expiry() {
            for (ms, x) in &result.warm.per_expiry {
                let Some(&(t, forward)) = ctx.get(ms) else { continue };
                let smile = match spec.model {
                    ModelKind::Svi => Svi::from_slice(x).ok().map(boxed),
                    _ => {
                        let beta =
                            spec.sabr_beta.unwrap_or_else(|| x.get(3).copied().unwrap_or(1.0));
                        let (a, r, n) = (x.first(), x.get(1), x.get(2));
                        match (a, r, n) {
                            (Some(&a), Some(&r), Some(&n)) => Sabr::new(a, r, n, beta)
                                .and_then(|s| s.smile(forward, t, SabrExpansion::Obloj2008))
                                .ok()
                                .map(boxed),
                            _ => None,
                        }
                    }
                };
                if let Some(smile) = smile {
                    slices.insert(*ms, FittedSlice { t, forward, smile });
                }
            }
            return FittedModel { slices };
        }
        let Some((layout, x)) = &result.warm.surface else { return FittedModel { slices } };
        let used: Vec<(i64, f64, f64)> =
            layout.iter().filter_map(|ms| ctx.get(ms).map(|&(t, f)| (*ms, t, f))).collect();
        if used.len() != layout.len() {
            return FittedModel { slices };
        }
        let ts: Vec<f64> = used.iter().map(|u| u.1).collect();
        // Templates only fix the layout (expiries, φ family); the values come from `x`.
        let thetas: Vec<f64> = ts.iter().map(|t| 0.25 * t).collect();
        let mut put = |smiles: Vec<Box<dyn Smile + Send + Sync>>| {
            for ((ms, t, forward), smile) in used.iter().zip(smiles) {
                slices.insert(*ms, FittedSlice { t: *t, forward: *forward, smile });
            }
        };
        let phi = Phi::PowerLaw { eta: 1.0, gamma: 0.4 };
        match spec.model {
            ModelKind::Ssvi => {
                if let Ok(s) = Ssvi::new(&ts, &thetas, -0.2, phi).and_then(|s| s.with_slice(x)) {
                    put(ts.iter().map(|&t| boxed(s.slice(t))).collect());
                }
            }
            ModelKind::Essvi => {
                if let Ok(s) = Ssvi::new(&ts, &thetas, -0.2, phi)
                    .and_then(|s| Essvi::from_ssvi(&s))
                    .and_then(|s| s.with_slice(x))
                {
                    put(ts.iter().map(|&t| boxed(s.slice(t))).collect());
                }
            }
            ModelKind::Heston => {
                if let Ok(h) = Heston::new(0.25, 2.0, 0.25, 1.0, -0.3).and_then(|h| h.with_slice(x))
                {
                    put(ts.iter().map(|&t| boxed(h.slice(t))).collect());
                }
            }
            _ => {
                if let Ok(b) = Heston::new(0.25, 2.0, 0.25, 1.0, -0.3)
                    .and_then(|h| Bates::new(h, 0.5, -0.05, 0.15))
                    .and_then(|b| b.with_slice(x))
                {
                    put(ts.iter().map(|&t| boxed(b.slice(t))).collect());
                }
            }
        }
        FittedModel { slices }
    }

    /// Number of fitted expiries.
    pub fn num_expiries(&self) -> usize {
        self.slices.len()
    }

    /// True when the expiry was fitted.
    pub fn has_expiry(&self, expiry_ms: i64) -> bool {
        self.slices.contains_key(&expiry_ms)
    }

    /// Model vol of strike `strike` of expiry `expiry_ms` when the forward is `forward`;
    /// `None` when the expiry was not fitted or the model variance is not positive.
    pub fn vol(&self, expiry_ms: i64, strike: f64, forward: f64, sticky: Sticky) -> Option<f64> {
        let s = self.slices.get(&expiry_ms)?;
        let k = match sticky {
            Sticky::Moneyness => (strike / forward).ln(),
            Sticky::Strike => (strike / s.forward).ln(),
        };
        let w = s.smile.total_variance(k);
        (w > 0.0 && w.is_finite()).then(|| (w / s.t).sqrt())
    }
}

/// Accumulated error of model vols against two-sided quotes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorAcc {
    /// Σ (100·(σ_model − σ_mid))², vol points squared.
    pub sse: f64,
    /// Σ ((σ_model − σ_mid) / (σ_ask − σ_bid))², spreads squared.
    pub sse_spread: f64,
    /// Quotes with the model vol inside `[σ_bid, σ_ask]`.
    pub inside: usize,
    /// Quotes scored.
    pub n: usize,
}

impl ErrorAcc {
    /// Adds one quote (ignored unless two-sided with a mid IV).
    pub fn add(&mut self, model: f64, q: &Target) {
        let (Some(b), Some(a), Some(m)) = (q.bid_iv, q.ask_iv, q.mid_iv) else { return };
        let e = model - m;
        self.sse += 1e4 * e * e;
        let spread = (a - b).max(1e-4);
        self.sse_spread += (e / spread).powi(2);
        self.inside += usize::from(model >= b && model <= a);
        self.n += 1;
    }
    /// Merges another accumulator.
    pub fn merge(&mut self, o: &ErrorAcc) {
        self.sse += o.sse;
        self.sse_spread += o.sse_spread;
        self.inside += o.inside;
        self.n += o.n;
    }
    /// Root-mean-square vol error in vol points (NaN when empty).
    pub fn rmse(&self) -> f64 {
        (self.sse / self.n as f64).sqrt()
    }
    /// Root-mean-square error in bid–ask spreads (NaN when empty).
    pub fn spread_rmse(&self) -> f64 {
        (self.sse_spread / self.n as f64).sqrt()
    }
    /// Share of quotes with the model inside the spread (NaN when empty).
    pub fn inside_share(&self) -> f64 {
        self.inside as f64 / self.n as f64
    }
}

/// Expiry bucket label by years to expiry: `<7d`, `7-30d`, `30-90d`, `>90d`.
pub fn bucket(t: f64) -> &'static str {
    let days = t * 365.0;
    if days < 7.0 {
        "<7d"
    } else if days < 30.0 {
        "7-30d"
    } else if days < 90.0 {
        "30-90d"
    } else {
        ">90d"
    }
}
