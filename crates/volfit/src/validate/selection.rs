//! Nested (prequential) selection: the out-of-sample error of *choosing* a spec, not of the
//! spec chosen with hindsight, and whether the winner's margin is significant.
//!
//! At each fit time `T` (a `fit_snapshot` of the out-of-sample rows) the rule picks, among
//! the candidate specs, the one with the lowest pooled out-of-sample RMSE over the
//! walk-forward rows whose *evaluation* snapshot is at or before `T` (the first candidate
//! when nothing is known yet; ties go to the earlier candidate). The chosen spec's
//! out-of-sample rows fitted at `T` (all underlyings) are pooled into the procedure's RMSE.
//! The same rule, at the last fit time, picks the ridge λ per target.
//!
//! Winner vs runner-up is tested with Diebold–Mariano ([`super::dm`]) on per-(underlying,
//! fit snapshot) losses: the out-of-sample MSE over all horizons and expiries.

use super::dm::diebold_mariano;
use super::ridge_path::RidgePoint;
use super::walk_forward::WalkForwardRow;
use crate::fit::ErrorAcc;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `selection` object of `validate.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Out-of-sample RMSE of the nested selection procedure, vol points (NaN/null if none).
    pub procedure_oos_rmse: f64,
    /// (underlying, fit snapshot) pairs in the Diebold–Mariano test.
    pub n_snapshots: usize,
    /// Winner's label (best pooled out-of-sample RMSE).
    pub winner: Option<String>,
    /// Runner-up's label.
    pub runner_up: Option<String>,
    /// Runner-up's pooled out-of-sample RMSE minus the winner's, vol points.
    pub margin: f64,
    /// Diebold–Mariano statistic (HLN-corrected) of `loss_runner_up − loss_winner`;
    /// positive favours the winner.
    pub dm_statistic: f64,
    /// Two-sided p-value (Student-t, `n_snapshots − 1` df).
    pub dm_p_value: f64,
    /// `dm_p_value < 0.05`.
    pub significant: bool,
    /// Ridge target (`prev`, `zero`) → λ chosen by the nested rule at the last fit time;
    /// `None` without a ridge path.
    pub ridge_lambda_nested: Option<BTreeMap<String, f64>>,
}

/// Sort key of an ISO-8601 time: epoch milliseconds, the text itself if it does not parse.
fn time_key(s: &str) -> (Option<i64>, &str) {
    let ms = chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp_millis());
    (ms, s)
}

/// Adds an out-of-sample row's sticky-moneyness error to `acc` (rows with no quote or a
/// non-finite error are skipped).
fn add_row(acc: &mut ErrorAcc, r: &WalkForwardRow) {
    if r.n > 0 && r.rmse_vol.is_finite() {
        let n = r.n as f64;
        acc.merge(&ErrorAcc { sse: r.rmse_vol * r.rmse_vol * n, n: r.n, ..ErrorAcc::default() });
    }
}

/// Out-of-sample rows (horizon ≥ 1) of the candidate specs.
fn oos_rows<'a>(rows: &'a [WalkForwardRow], candidates: &[usize]) -> Vec<&'a WalkForwardRow> {
    rows.iter().filter(|r| r.horizon >= 1 && candidates.contains(&r.spec_id)).collect()
}

/// Distinct fit times of `rows`, in time order.
fn fit_times<'a>(rows: &[&'a WalkForwardRow]) -> Vec<&'a str> {
    let mut t: Vec<&str> = rows.iter().map(|r| r.fit_snapshot.as_str()).collect();
    t.sort_by(|a, b| time_key(a).cmp(&time_key(b)));
    t.dedup();
    t
}

/// The candidate the nested rule picks at fit time `at`: lowest pooled out-of-sample RMSE
/// over rows evaluated at or before `at`; the first candidate when nothing is known.
fn choose_at(rows: &[&WalkForwardRow], candidates: &[usize], at: &str) -> usize {
    let at = time_key(at);
    let mut acc = vec![ErrorAcc::default(); candidates.len()];
    for r in rows.iter().filter(|r| time_key(&r.eval_snapshot) <= at) {
        if let Some(i) = candidates.iter().position(|&c| c == r.spec_id) {
            add_row(&mut acc[i], r);
        }
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, a) in acc.iter().enumerate() {
        let e = if a.n > 0 { (a.sse / a.n as f64).sqrt() } else { f64::NAN };
        if e.is_finite() && best.is_none_or(|(_, b)| e < b) {
            best = Some((i, e));
        }
    }
    candidates[best.map_or(0, |(i, _)| i)]
}

/// The nested selection over `candidates` (spec ids in tie-break order): the spec chosen at
/// each fit time, and the pooled out-of-sample error of the chosen specs' rows.
pub fn nested(rows: &[WalkForwardRow], candidates: &[usize]) -> (Vec<(String, usize)>, ErrorAcc) {
    let oos = oos_rows(rows, candidates);
    let mut total = ErrorAcc::default();
    let mut picks = Vec::new();
    for t in fit_times(&oos) {
        let c = choose_at(&oos, candidates, t);
        for r in oos.iter().filter(|r| r.spec_id == c && r.fit_snapshot == t) {
            add_row(&mut total, r);
        }
        picks.push((t.to_string(), c));
    }
    (picks, total)
}

/// Per-underlying series (time order) of `loss(b) − loss(a)`, the loss being the
/// out-of-sample MSE (vol points²) of one fit snapshot over all horizons and expiries;
/// only fit snapshots scored for both specs.
pub fn loss_differentials(rows: &[WalkForwardRow], a: usize, b: usize) -> Vec<Vec<f64>> {
    type Key<'a> = (&'a str, (Option<i64>, &'a str));
    let mut acc: BTreeMap<Key, [ErrorAcc; 2]> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.horizon >= 1 && (r.spec_id == a || r.spec_id == b)) {
        let e = acc.entry((r.underlying.as_str(), time_key(&r.fit_snapshot))).or_default();
        add_row(&mut e[usize::from(r.spec_id == b)], r);
    }
    let mut out: Vec<Vec<f64>> = Vec::new();
    let mut last: Option<&str> = None;
    for ((u, _), [la, lb]) in acc {
        if la.n == 0 || lb.n == 0 {
            continue;
        }
        if last != Some(u) {
            out.push(Vec::new());
            last = Some(u);
        }
        let mse = |x: &ErrorAcc| x.sse / x.n as f64;
        out.last_mut().expect("pushed above").push(mse(&lb) - mse(&la));
    }
    out
}

/// Ridge target → λ picked by the nested rule at the last fit time of the path's rows;
/// `None` when there is no ridge path.
pub fn ridge_nested(
    rows: &[WalkForwardRow],
    ridge: &[RidgePoint],
) -> Option<BTreeMap<String, f64>> {
    if ridge.is_empty() {
        return None;
    }
    let mut out = BTreeMap::new();
    for toward in ["prev", "zero"] {
        let mut pts: Vec<&RidgePoint> = ridge.iter().filter(|p| p.toward == toward).collect();
        pts.sort_by(|a, b| a.lambda.total_cmp(&b.lambda));
        let ids: Vec<usize> = pts.iter().map(|p| p.spec_id).collect();
        let oos = oos_rows(rows, &ids);
        if let Some(last) = fit_times(&oos).last() {
            let id = choose_at(&oos, &ids, last);
            if let Some(p) = pts.iter().find(|p| p.spec_id == id) {
                out.insert(toward.to_string(), p.lambda);
            }
        }
    }
    Some(out)
}

/// The `selection` summary: nested procedure over the grid specs `grid_ids` (grid order),
/// winner vs runner-up (`(spec_id, label, pooled oos RMSE)`) with Diebold–Mariano at
/// horizon `h`, and the nested ridge λ.
pub fn selection(
    rows: &[WalkForwardRow],
    grid_ids: &[usize],
    ranked: &[(usize, String, f64)],
    ridge: &[RidgePoint],
    h: usize,
) -> Selection {
    let (_, proc_acc) = nested(rows, grid_ids);
    let scored: Vec<&(usize, String, f64)> = ranked.iter().filter(|s| s.2.is_finite()).collect();
    let (winner, runner) = (scored.first(), scored.get(1));
    let dm = match (winner, runner) {
        (Some(w), Some(r)) => Some(diebold_mariano(&loss_differentials(rows, w.0, r.0), h)),
        _ => None,
    };
    let p = dm.map_or(f64::NAN, |d| d.p_value);
    Selection {
        procedure_oos_rmse: if proc_acc.n > 0 {
            (proc_acc.sse / proc_acc.n as f64).sqrt()
        } else {
            f64::NAN
        },
        n_snapshots: dm.map_or(0, |d| d.n),
        winner: winner.map(|w| w.1.clone()),
        runner_up: runner.map(|r| r.1.clone()),
        margin: match (winner, runner) {
            (Some(w), Some(r)) => r.2 - w.2,
            _ => f64::NAN,
        },
        dm_statistic: dm.map_or(f64::NAN, |d| d.statistic),
        dm_p_value: p,
        significant: p < 0.05,
        ridge_lambda_nested: ridge_nested(rows, ridge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(spec_id: usize, u: &str, fit: usize, h: usize, rmse: f64, n: usize) -> WalkForwardRow {
        let t = |i: usize| format!("2026-01-{:02}T08:00:00Z", i + 1);
        WalkForwardRow {
            spec_id,
            spec: format!("s{spec_id}"),
            underlying: u.into(),
            fit_snapshot: t(fit),
            eval_snapshot: t(fit + h),
            horizon: h,
            expiry: "2026-03-27T08:00:00Z".into(),
            t: 0.2,
            bucket: "30-90d".into(),
            n,
            rmse_vol: rmse,
            spread_rmse: 1.0,
            inside_spread: 0.5,
            rmse_vol_strike: rmse,
            spread_rmse_strike: 1.0,
            inside_spread_strike: 0.5,
        }
    }

    #[test]
    fn nested_choice_uses_only_rows_evaluated_by_the_fit_time() {
        // Spec 0 is good early and bad late; spec 1 the reverse. Horizon 1, snapshots 0..=3,
        // fits 0, 1, 2 (each scored on the next snapshot).
        let err = |s: usize, fit: usize| match (s, fit) {
            (0, 0) | (0, 1) => 1.0,
            (0, _) => 5.0,
            (_, 0) | (_, 1) => 2.0,
            _ => 1.0,
        };
        let rows: Vec<WalkForwardRow> = (0..2)
            .flat_map(|s| {
                (0..3).flat_map(move |f| {
                    [row(s, "BTC", f, 0, 0.1, 4), row(s, "BTC", f, 1, err(s, f), 4)]
                })
            })
            .collect();
        let (picks, acc) = nested(&rows, &[1, 0]);
        // Fit 0 (evaluated rows: none) → first candidate (1); fit 1 (row fit 0 → eval 1 is
        // known) → spec 0 (1 < 2); fit 2 (rows of fits 0, 1 known) → spec 0 again.
        let ids: Vec<usize> = picks.iter().map(|p| p.1).collect();
        assert_eq!(ids, vec![1, 0, 0]);
        // Chosen rows: spec 1 at fit 0 (2.0), spec 0 at fits 1 (1.0) and 2 (5.0), 4 quotes each.
        let want = ((4.0 + 1.0 + 25.0) / 3.0f64).sqrt();
        assert!(((acc.sse / acc.n as f64).sqrt() - want).abs() < 1e-12);
        // Hindsight would pick spec 1 (pooled 1.73 < 2.96); the procedure is worse than both.
        assert_eq!(acc.n, 12);
    }

    #[test]
    fn loss_differentials_pair_snapshots_within_underlyings() {
        let mut rows = Vec::new();
        for (u, f, a, b) in [("BTC", 0, 1.0, 2.0), ("BTC", 1, 1.0, 1.0), ("ETH", 0, 2.0, 3.0)] {
            rows.push(row(3, u, f, 1, a, 2));
            rows.push(row(3, u, f, 2, a, 2));
            rows.push(row(7, u, f, 1, b, 5));
        }
        rows.push(row(7, "ETH", 1, 1, 9.0, 5)); // no spec-3 row: not paired
        let d = loss_differentials(&rows, 3, 7);
        assert_eq!(d, vec![vec![3.0, 0.0], vec![5.0]]);
    }

    #[test]
    fn ridge_nested_is_null_without_a_path_and_picks_per_target() {
        assert_eq!(ridge_nested(&[], &[]), None);
        let pt = |toward: &str, lambda: f64, spec_id: usize| RidgePoint {
            toward: toward.into(),
            lambda,
            spec_id,
            is_rmse: 1.0,
            oos_rmse: 1.0,
            oos_rmse_strike: 1.0,
            param_variation: 0.0,
            chosen: false,
        };
        let ridge = vec![
            pt("prev", 0.0, 10),
            pt("prev", 1.0, 11),
            pt("zero", 0.0, 10),
            pt("zero", 1.0, 12),
        ];
        // Spec 11 is best early, 10 late (after the last fit time 2 the rows are unseen).
        let rows: Vec<WalkForwardRow> = [
            (10, 0, 3.0),
            (10, 1, 3.0),
            (10, 2, 0.1),
            (11, 0, 1.0),
            (11, 1, 1.0),
            (11, 2, 9.0),
            (12, 0, 4.0),
            (12, 1, 4.0),
            (12, 2, 4.0),
        ]
        .into_iter()
        .map(|(s, f, e)| row(s, "BTC", f, 1, e, 3))
        .collect();
        let got = ridge_nested(&rows, &ridge).expect("a path");
        assert_eq!(got.get("prev"), Some(&1.0));
        assert_eq!(got.get("zero"), Some(&0.0));
    }
}
