//! Static-arbitrage verdicts of fitted smiles and surfaces, and where their violations lie
//! relative to the quoted k-range.
//!
//! Raw SVI slices are checked exactly ([`check_svi_butterfly`] on the whole real line, the
//! wings by their limits; [`check_svi_calendar`] on `k ∈ [−2, 2]` between the grid nodes
//! too); other smiles and surfaces on the report's grid.

use super::report::{ArbitrageVerdict, ViolationWhere};
use crate::model::arbitrage::{
    check_svi_butterfly, check_svi_calendar, fill_grid, ArbitrageReport, Violation, ViolationKind,
};
use crate::model::svi::Svi;

/// Log-moneyness range of the calendar checks and of the report's grid.
pub(super) const CHECK_RANGE: (f64, f64) = (-2.0, 2.0);

/// Log-moneyness grid of the static-arbitrage checks.
pub(super) fn arbitrage_grid() -> Vec<f64> {
    let mut ks = vec![0.0; 161];
    fill_grid(CHECK_RANGE.0, CHECK_RANGE.1, &mut ks);
    ks
}

/// The nodes of `grid` inside `[lo, hi]`, with both ends.
pub(super) fn grid_within(grid: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    let inner = grid.iter().copied().filter(|&k| k > lo && k < hi);
    std::iter::once(lo).chain(inner).chain((hi > lo).then_some(hi)).collect()
}

/// A violation in words (kind, t, k, value).
pub(super) fn describe(v: &Violation) -> String {
    format!("{:?} at t={:.4}, k={:.3}: {:.3e}", v.kind, v.t, v.k, v.value)
}

/// A checker's report in the words of `fit.json`, with where its violations lie.
pub(super) fn verdict(
    r: ArbitrageReport,
    butterfly_where: ViolationWhere,
    calendar_where: ViolationWhere,
) -> ArbitrageVerdict {
    ArbitrageVerdict {
        butterfly_ok: r.butterfly_ok,
        calendar_ok: r.calendar_ok,
        butterfly_where,
        calendar_where,
        worst: r.worst.as_ref().map(describe),
    }
}

/// Where a surface's grid check found its butterfly and calendar violations: `all` on the
/// whole grid, `inside` on the hull of the quoted ranges (checked only when `all` found
/// one).
pub(super) fn surface_places(
    all: &ArbitrageReport,
    inside: Option<&ArbitrageReport>,
) -> (ViolationWhere, ViolationWhere) {
    let place = |ok_all: bool, ok_inside: Option<bool>| {
        ViolationWhere::of(ok_inside.filter(|ok| !ok).map(|_| ()), (!ok_all).then_some(()))
    };
    (
        place(all.butterfly_ok, inside.map(|r| r.butterfly_ok)),
        place(all.calendar_ok, inside.map(|r| r.calendar_ok)),
    )
}

/// A fitted raw SVI slice with its expiry (years) and quoted k-range.
#[derive(Clone, Copy, Debug)]
pub(super) struct QuotedSvi {
    /// Years to expiry.
    pub t: f64,
    /// The slice.
    pub svi: Svi,
    /// Quoted log-moneyness range `(kmin, kmax)`.
    pub range: (f64, f64),
}

/// Butterfly check of one raw SVI slice: the worst violation on the real line and where
/// the violations lie.
pub(super) fn svi_butterfly(s: &QuotedSvi) -> (Option<Violation>, ViolationWhere) {
    let all = check_svi_butterfly(&s.svi, s.t, f64::NEG_INFINITY, f64::INFINITY);
    let inside = all.and_then(|_| check_svi_butterfly(&s.svi, s.t, s.range.0, s.range.1));
    (all, ViolationWhere::of(inside, all))
}

/// Calendar check between consecutive raw SVI slices on [`CHECK_RANGE`], exact between
/// nodes: the worst violation and where they lie (`inside` when one lies in the hull of the
/// two expiries' quoted ranges).
pub(super) fn svi_calendar(s0: &QuotedSvi, s1: &QuotedSvi) -> (Option<Violation>, ViolationWhere) {
    let (lo, hi) = CHECK_RANGE;
    let all = check_svi_calendar(&s0.svi, (s1.t, &s1.svi), lo, hi);
    let (qlo, qhi) = (s0.range.0.min(s1.range.0).max(lo), s0.range.1.max(s1.range.1).min(hi));
    let inside = all
        .filter(|_| qlo <= qhi)
        .and_then(|_| check_svi_calendar(&s0.svi, (s1.t, &s1.svi), qlo, qhi));
    (all, ViolationWhere::of(inside, all))
}

/// A raw SVI slice with its butterfly check ([`svi_butterfly`]), done once per fit.
#[derive(Clone, Copy, Debug)]
pub(super) struct CheckedSvi {
    /// The slice.
    pub slice: QuotedSvi,
    /// Its worst butterfly violation on the real line and where the violations lie.
    pub fly: (Option<Violation>, ViolationWhere),
}

impl CheckedSvi {
    /// `slice` with its butterfly check.
    pub fn new(slice: QuotedSvi) -> Self {
        CheckedSvi { slice, fly: svi_butterfly(&slice) }
    }
}

/// The snapshot verdict of raw SVI slices sorted by expiry: butterfly on every slice (as
/// already checked), calendar between consecutive ones.
pub(super) fn svi_snapshot_verdict(slices: &[CheckedSvi]) -> ArbitrageVerdict {
    let mut out = ArbitrageVerdict::default();
    let mut worst: Option<Violation> = None;
    let mut note = |v: Option<Violation>| {
        if let Some(v) = v {
            if worst.is_none_or(|w| v.value < w.value) {
                worst = Some(v);
            }
        }
    };
    for s in slices {
        let (v, place) = s.fly;
        out.butterfly_ok &= v.is_none();
        out.butterfly_where = out.butterfly_where.worse(place);
        note(v);
    }
    for pair in slices.windows(2) {
        let (v, place) = svi_calendar(&pair[0].slice, &pair[1].slice);
        out.calendar_ok &= v.is_none();
        out.calendar_where = out.calendar_where.worse(place);
        note(v);
    }
    out.worst = worst.as_ref().map(describe);
    out
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

/// Calendar check of a surface's raw SVI slices, sorted by `t` (expiries and the midpoints
/// between them), exact between nodes: each consecutive pair through [`svi_calendar`]. The
/// worst violation and where the violations lie.
pub(super) fn svi_surface_calendar(nodes: &[QuotedSvi]) -> (Option<Violation>, ViolationWhere) {
    let mut worst: Option<Violation> = None;
    let mut at = ViolationWhere::None;
    for pair in nodes.windows(2) {
        let (v, w) = svi_calendar(&pair[0], &pair[1]);
        at = at.worse(w);
        if let Some(v) = v.filter(|v| worst.is_none_or(|x| v.value < x.value)) {
            worst = Some(v);
        }
    }
    (worst, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arbitrage::check_calendar;
    use crate::model::ssvi::SsviSlice;
    use crate::model::svi::AsRawSvi;

    #[test]
    fn ssvi_slices_crossing_between_grid_nodes_are_caught() {
        // Two SSVI smiles whose total variances cross only on a window around k ≈ 0.12
        // (Δw min ≈ −1.2e-7) narrower than the 0.025 grid step: every grid node has
        // Δw ≥ 1.2e-6, so the grid check passes them; the exact raw-SVI check does not.
        let s0 = SsviSlice { theta: 0.04, rho: -0.3, phi: 2.0 };
        let s1 = SsviSlice { theta: 0.0407791, rho: -0.3, phi: 3.0 };
        assert!(check_calendar(&[(0.1, s0), (0.2, s1)], &arbitrage_grid()).is_none());
        let node = |t, s: SsviSlice| QuotedSvi {
            t,
            svi: s.as_raw_svi().expect("raw SVI"),
            range: (-0.5, 0.5),
        };
        let (worst, at) = svi_surface_calendar(&[node(0.1, s0), node(0.2, s1)]);
        let v = worst.expect("a calendar violation");
        assert!(v.value < -1e-7 && (v.k - 0.12).abs() < 0.01, "{v:?}");
        assert_eq!(at, ViolationWhere::Inside);
    }

    #[test]
    fn a_surfaces_butterfly_violation_is_placed_like_its_calendar_one() {
        let report =
            |butterfly_ok, calendar_ok| ArbitrageReport { butterfly_ok, calendar_ok, worst: None };
        let (fly, cal) = surface_places(&report(true, true), None);
        assert_eq!((fly, cal), (ViolationWhere::None, ViolationWhere::None));
        // A butterfly violation only beyond the quoted range (e.g. between expiries, in the
        // wings) is "extrapolation", not "none".
        let (fly, cal) = surface_places(&report(false, true), Some(&report(true, true)));
        assert_eq!((fly, cal), (ViolationWhere::Extrapolation, ViolationWhere::None));
        let (fly, cal) = surface_places(&report(false, false), Some(&report(false, true)));
        assert_eq!((fly, cal), (ViolationWhere::Inside, ViolationWhere::Extrapolation));
    }
}
