//! The validation charts, drawn from `volfit validate`'s typed rows: in-sample against
//! out-of-sample error over time (`walk_forward.csv`) and along the ridge path
//! (`ridge_path.csv`).

use super::charts::{self, Series, Size};
use super::panels::Panel;
use crate::validate::{RidgePoint, WalkForwardRow};
use std::collections::BTreeMap;

/// One point of an in/out chart: spec (one line pair each), x, in-sample and out-of-sample
/// error.
struct InOut {
    spec: String,
    x: f64,
    is: f64,
    oos: f64,
}

/// Mean of `(in, out)` per `(spec, x)`, as line series; specs ranked by mean out-of-sample
/// error, the best `max_specs` kept. Points with a non-finite value are skipped.
fn in_out_series(points: &[InOut], max_specs: usize) -> Option<Vec<Series>> {
    type Acc<'a> = BTreeMap<&'a str, BTreeMap<i64, (f64, f64, f64, f64)>>;
    let mut acc: Acc = BTreeMap::new();
    for p in points {
        let (x, i, o) = (p.x, p.is, p.oos);
        if !(x.is_finite() && i.is_finite() && o.is_finite()) {
            continue;
        }
        let key = (x * 1e6).round() as i64;
        let e = acc.entry(&p.spec).or_default().entry(key).or_insert((x, 0.0, 0.0, 0.0));
        e.1 += i;
        e.2 += o;
        e.3 += 1.0;
    }
    let mut specs: Vec<(f64, &str)> = acc
        .iter()
        .map(|(s, m)| {
            let (o, n) = m.values().fold((0.0, 0.0), |(a, b), v| (a + v.2 / v.3, b + 1.0));
            (o / n, *s)
        })
        .collect();
    specs.sort_by(|a, b| a.0.total_cmp(&b.0));
    specs.truncate(max_specs);
    let mut out = Vec::new();
    for (_, s) in specs {
        let m = &acc[s];
        let name = if s.is_empty() { String::new() } else { format!("{s}: ") };
        out.push(Series {
            label: format!("{name}in-sample"),
            points: m.values().map(|v| (v.0, v.1 / v.3)).collect(),
        });
        out.push(Series {
            label: format!("{name}out-of-sample"),
            points: m.values().map(|v| (v.0, v.2 / v.3)).collect(),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// Walk-forward rows folded into one point per (spec label, fit snapshot): the mean
/// in-sample (horizon 0) and out-of-sample (horizons ≥ 1) `rmse_vol`, for pairs that have
/// both; x is the rank of the fit snapshot among those pairs' distinct snapshots (ISO-8601
/// sorts chronologically), as in the parameter charts.
fn walk_forward_points(rows: &[WalkForwardRow]) -> Vec<InOut> {
    // (spec, fit snapshot) → (Σ in, n in, Σ out, n out)
    let mut acc: BTreeMap<(&str, &str), (f64, f64, f64, f64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.rmse_vol.is_finite()) {
        let a = acc.entry((&r.spec, &r.fit_snapshot)).or_insert((0.0, 0.0, 0.0, 0.0));
        if r.horizon == 0 {
            (a.0, a.1) = (a.0 + r.rmse_vol, a.1 + 1.0);
        } else {
            (a.2, a.3) = (a.2 + r.rmse_vol, a.3 + 1.0);
        }
    }
    acc.retain(|_, a| a.1 > 0.0 && a.3 > 0.0);
    let mut times: Vec<&str> = acc.keys().map(|k| k.1).collect();
    times.sort_unstable();
    times.dedup();
    acc.into_iter()
        .filter_map(|((spec, snap), a)| {
            Some(InOut {
                spec: spec.to_string(),
                x: times.binary_search(&snap).ok()? as f64,
                is: a.0 / a.1,
                oos: a.2 / a.3,
            })
        })
        .collect()
}

/// Ridge points as one in/out point per run (spec id): x = log10 λ, for λ > 0.
fn ridge_points(rows: &[RidgePoint]) -> Vec<InOut> {
    rows.iter()
        .filter(|r| r.lambda > 0.0)
        .map(|r| InOut {
            spec: r.spec_id.to_string(),
            x: r.lambda.log10(),
            is: r.is_rmse,
            oos: r.oos_rmse,
        })
        .collect()
}

/// The walk-forward chart (best three specs); a note when there is nothing to draw.
pub(super) fn walk_forward(
    rows: &Result<Vec<WalkForwardRow>, String>,
    notes: &mut Vec<String>,
) -> Option<Panel> {
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            notes.push(format!("walk_forward.csv: not in the layout volfit validate writes ({e})"));
            return None;
        }
    };
    let Some(series) = in_out_series(&walk_forward_points(rows), 3) else {
        notes.push(
            "walk_forward.csv: no fit snapshot with both in-sample and out-of-sample errors".into(),
        );
        return None;
    };
    Some(Panel {
        kind: "walk-forward",
        title: "In-sample vs out-of-sample error over time (best specs)".into(),
        svg: charts::lines(
            Size::WIDE,
            "walk-forward",
            "snapshot # (time order)",
            "error",
            &series,
            false,
        ),
    })
}

/// The ridge path chart (best two runs) and a note with the λ of the smallest
/// out-of-sample error; a note when there is nothing to draw.
pub(super) fn ridge_path(
    rows: &Result<Vec<RidgePoint>, String>,
    notes: &mut Vec<String>,
) -> Option<Panel> {
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            notes.push(format!("ridge_path.csv: not in the layout volfit validate writes ({e})"));
            return None;
        }
    };
    let Some(series) = in_out_series(&ridge_points(rows), 2) else {
        notes.push("ridge_path.csv: no run with λ > 0 and finite errors".into());
        return None;
    };
    if let Some(best) =
        series.get(1).and_then(|s| s.points.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied())
    {
        notes.push(format!(
            "ridge path: out-of-sample error is smallest at λ = {:.3e}",
            10f64.powf(best.0)
        ));
    }
    Some(Panel {
        kind: "ridge-path",
        title: "Ridge path: error against log10 λ".into(),
        svg: charts::lines(Size::WIDE, "ridge path", "log10 λ", "error", &series, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(spec: &str, snap: &str, horizon: usize, rmse_vol: f64) -> WalkForwardRow {
        WalkForwardRow {
            spec_id: 0,
            spec: spec.into(),
            underlying: "BTC".into(),
            fit_snapshot: snap.into(),
            eval_snapshot: snap.into(),
            horizon,
            expiry: "2026-02-27T08:00:00Z".into(),
            t: 0.1,
            bucket: "30-90d".into(),
            n: 10,
            rmse_vol,
            spread_rmse: 1.0,
            inside_spread: 0.5,
            rmse_vol_strike: rmse_vol,
            spread_rmse_strike: 1.0,
            inside_spread_strike: 0.5,
        }
    }

    #[test]
    fn walk_forward_means_per_spec_and_fit_snapshot() {
        // Snapshot b: in-sample 1 and 3 (mean 2), out-of-sample 4 and 8 (mean 6); snapshot a
        // has no out-of-sample row and is dropped, so b is rank 0; NaN errors are skipped.
        let rows = [
            row("s", "b", 0, 1.0),
            row("s", "b", 0, 3.0),
            row("s", "b", 1, 4.0),
            row("s", "b", 2, 8.0),
            row("s", "b", 1, f64::NAN),
            row("s", "a", 0, 5.0),
        ];
        let p = walk_forward_points(&rows);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].spec.as_str(), p[0].x, p[0].is, p[0].oos), ("s", 0.0, 2.0, 6.0));
        let mut notes = Vec::new();
        assert!(walk_forward(&Ok(rows.to_vec()), &mut notes).is_some() && notes.is_empty());
        assert!(walk_forward(&Err("bad".into()), &mut notes).is_none());
        assert_eq!(notes.len(), 1);
    }
}
