//! Which quotes enter a fit, and the few market summaries the starts are built from.

use super::spec::FitSpec;
use crate::market::{Expiry, OptionType};
use crate::objective::Target;

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
pub(super) fn market_iv(q: &Target) -> f64 {
    q.mid_iv.or(q.bid_iv).or(q.ask_iv).unwrap_or(f64::NAN)
}

/// ATM implied vol of a set of targets by linear interpolation in k around 0.
pub(super) fn atm_vol(targets: &[Target]) -> Option<f64> {
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

/// The quoted log-moneyness range `(kmin, kmax)` of `targets`.
pub(super) fn quoted_range(targets: &[Target]) -> (f64, f64) {
    targets.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q.k), h.max(q.k)))
}
