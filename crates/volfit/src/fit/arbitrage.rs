//! Static-arbitrage verdicts of fitted smiles and surfaces on the report's grid.

use super::report::ArbitrageVerdict;
use crate::model::arbitrage::{fill_grid, ArbitrageReport, Violation, ViolationKind};

/// Log-moneyness grid of the static-arbitrage checks.
pub(super) fn arbitrage_grid() -> Vec<f64> {
    let mut ks = vec![0.0; 161];
    fill_grid(-2.0, 2.0, &mut ks);
    ks
}

/// A checker's report in the words of `fit.json`.
pub(super) fn verdict(r: ArbitrageReport) -> ArbitrageVerdict {
    ArbitrageVerdict {
        butterfly_ok: r.butterfly_ok,
        calendar_ok: r.calendar_ok,
        worst: r
            .worst
            .map(|v| format!("{:?} at t={:.4}, k={:.3}: {:.3e}", v.kind, v.t, v.k, v.value)),
    }
}

/// Butterfly check of a smile given only as total variances on a grid (`variances(ks, w)`),
/// by central differences with step 1e-3 in k; points where `w` is not finite are skipped.
pub(super) fn cf_butterfly(
    variances: &dyn Fn(&[f64], &mut [f64]),
    t: f64,
    grid: &[f64],
) -> Option<Violation> {
    let h = 1e-3;
    let ks: Vec<f64> = grid.iter().flat_map(|&k| [k - h, k, k + h]).collect();
    let mut w = vec![0.0; ks.len()];
    variances(&ks, &mut w);
    let mut worst: Option<Violation> = None;
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
            worst = Some(Violation { kind: ViolationKind::Butterfly, t, k, value: g });
        }
    }
    worst
}
