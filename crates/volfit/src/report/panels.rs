//! The charts of one underlying's section, one function per panel: smiles, residuals by
//! strike, ATM term structure and skew, the model heat map, solver loss curves and the
//! parameter series across snapshots.

use super::data::TraceRecord;
use super::page::num;
use super::svg::{self, pal, Axis, Mark, Plot, Scale};
use super::view::ModelView;
use crate::fit::{ExpiryFit, ResidualRow, SnapshotFit};
use serde::Serialize;
use std::collections::BTreeMap;

/// One chart on the page.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Panel {
    /// Chart kind (a `data-chart` attribute, for tests and styling).
    pub(super) kind: &'static str,
    pub(super) title: String,
    pub(super) svg: String,
}

/// The latest snapshot of an underlying with its quotes and rebuilt model: what the
/// per-snapshot panels draw.
pub(super) struct Latest<'a> {
    pub(super) snap: &'a SnapshotFit,
    pub(super) view: ModelView,
    /// The snapshot's rows of `residuals.csv`.
    pub(super) rows: Vec<&'a ResidualRow>,
}

impl<'a> Latest<'a> {
    pub(super) fn new(
        snap: &'a SnapshotFit,
        residuals: &'a [ResidualRow],
        spec_beta: Option<f64>,
    ) -> Latest<'a> {
        let rows = residuals
            .iter()
            .filter(|r| r.snapshot == snap.snapshot && r.underlying == snap.underlying)
            .collect();
        Latest { snap, view: ModelView::new(spec_beta, snap), rows }
    }

    pub(super) fn expiry_rows(&self, e: &ExpiryFit) -> Vec<&'a ResidualRow> {
        self.rows.iter().copied().filter(|r| r.expiry == e.expiry).collect()
    }
}

/// `n` evenly spaced points on `[lo, hi]`.
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let d = n.saturating_sub(1).max(1) as f64;
    (0..n).map(|i| lo + (hi - lo) * i as f64 / d).collect()
}

/// `(t, model (atm vol, skew), market (atm vol, skew))` of one expiry.
pub(super) type AtmPoint = (f64, Option<(f64, f64)>, Option<(f64, f64)>);

/// ATM vol and skew of every expiry: the model's from its curve (or the fit's own `atm_vol`
/// and `atm_skew` parameters), the market's from mids ([`market_atm`]).
pub(super) fn atm_points(s: &Latest) -> Vec<AtmPoint> {
    let h = 1e-3;
    s.snap
        .expiries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let model = s
                .view
                .vols(i, e.t, &[-h, 0.0, h])
                .map(|v| (v[1], (v[2] - v[0]) / (2.0 * h)))
                .or_else(|| Some((*e.params.get("atm_vol")?, *e.params.get("atm_skew")?)));
            (e.t, model, market_atm(&s.expiry_rows(e)))
        })
        .collect()
}

/// Market ATM vol and skew from mid IVs: least squares line through the (up to) four
/// two-sided quotes nearest k = 0.
fn market_atm(rows: &[&ResidualRow]) -> Option<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> =
        rows.iter().filter_map(|r| Some((r.k, r.mid_iv?))).filter(|p| p.1.is_finite()).collect();
    pts.sort_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
    pts.truncate(4);
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if !(sxx > 0.0) {
        return None;
    }
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// Heat map of model IV over k × t.
pub(super) fn heatmap(s: &Latest) -> Panel {
    // k range: the 5th to 95th percentile of quoted moneyness (far wings of long expiries
    // would otherwise push the short expiries into pure extrapolation).
    let mut qk: Vec<f64> = s.rows.iter().map(|r| r.k).filter(|k| k.is_finite()).collect();
    qk.sort_by(f64::total_cmp);
    let pk = |q: f64| qk.get((qk.len().saturating_sub(1) as f64 * q).round() as usize).copied();
    let (klo, khi) = match (pk(0.05), pk(0.95)) {
        (Some(a), Some(b)) if a < b => (a.max(-1.5), b.min(1.0)),
        _ => (-0.5, 0.5),
    };
    let k_edges = linspace(klo, khi, 61);
    let k_mid: Vec<f64> = k_edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    let (t_edges, grid) = heat_grid(s, &k_mid);
    Panel {
        kind: "heatmap",
        title: "Model implied vol over k × t".into(),
        svg: svg::heatmap(("k = ln(K/F)", "t (years)", "IV (vol pts)"), &k_edges, &t_edges, &grid),
    }
}

/// The heat map's t edges and its rows of model IVs at `k_mid`: a surface on 30 even t
/// cells, per-expiry smiles one row per expiry (blank outside the expiry's quoted k).
fn heat_grid(s: &Latest, k_mid: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let (snap, view) = (s.snap, &s.view);
    let ts: Vec<f64> = snap.expiries.iter().map(|e| e.t).collect();
    let (mut t_edges, mut grid) = (Vec::new(), Vec::new());
    if let (Some(&t0), Some(&t1)) = (ts.first(), ts.last()) {
        if view.is_surface() && t1 > t0 {
            t_edges = linspace(t0, t1, 31);
            for w in t_edges.windows(2) {
                let t = 0.5 * (w[0] + w[1]);
                grid.push(view.vols(0, t, k_mid).unwrap_or_else(|| vec![f64::NAN; k_mid.len()]));
            }
        } else {
            t_edges.push(t0 - 0.5 * (ts.get(1).map_or(t0, |t| t - t0)).max(1e-3));
            for (i, &t) in ts.iter().enumerate() {
                let next = ts.get(i + 1).map_or(t + (t - t_edges[i]), |n| 0.5 * (t + n));
                t_edges.push(next.max(t_edges[i] + 1e-6));
                // A per-expiry smile says nothing outside its quotes: blank cells there.
                let mut row = view.vols(i, t, k_mid).unwrap_or_else(|| vec![f64::NAN; k_mid.len()]);
                let (lo, hi) = snap.expiries.get(i).map_or((0.0, 0.0), |e| {
                    s.expiry_rows(e).iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| {
                        (l.min(r.k), h.max(r.k))
                    })
                });
                for (v, k) in row.iter_mut().zip(k_mid) {
                    if !(lo..=hi).contains(k) {
                        *v = f64::NAN;
                    }
                }
                grid.push(row);
            }
            if t_edges[0] < 0.0 {
                t_edges[0] = 0.0;
            }
        }
    }
    (t_edges, grid)
}

/// Solver loss by iteration, one line per trace (`None` without traces).
pub(super) fn loss_curves(traces: &[&TraceRecord]) -> Option<Panel> {
    (!traces.is_empty()).then(|| {
        let series: Vec<(String, Vec<(f64, f64)>)> = traces
            .iter()
            .map(|t| {
                let label = t.name.get(..10).unwrap_or(&t.name).to_string();
                (label, t.iterates.iter().map(|i| (f64::from(i.iter), i.cost)).collect())
            })
            .collect();
        Panel {
            kind: "loss",
            title: "Solver loss by iteration (log scale)".into(),
            svg: svg::log_lines("loss", ("iteration", "cost (log scale)"), &series),
        }
    })
}

/// x of the parameter series: the snapshot's time in Unix seconds (NaN when it does not
/// parse, which drops the point).
fn x_of(s: &SnapshotFit) -> f64 {
    super::verdict::parse_ms(&s.snapshot).map_or(f64::NAN, |ms| ms as f64 / 1000.0)
}

/// A time-series chart: `series` of (label, points) against snapshot time.
pub(super) fn time_chart(id: &str, y_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let all = || series.iter().flat_map(|s| s.1.iter());
    let (Some(x), Some(y)) = (
        Axis::fit(all().map(|p| p.0), Scale::Date, "snapshot time (UTC)"),
        Axis::fit(all().map(|p| p.1), Scale::Lin, y_label),
    ) else {
        return svg::empty("no data");
    };
    let mut p = Plot::new(id, x, y);
    for (i, (label, pts)) in series.iter().enumerate() {
        let c = pal(i);
        p.line(pts, c, false, label);
        let marks: Vec<(f64, f64, String)> = pts
            .iter()
            .map(|&(t, v)| {
                let when = chrono::DateTime::from_timestamp(t as i64, 0)
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default();
                (t, v, format!("{label} @ {when}: {}", num(v)))
            })
            .collect();
        p.marks(&marks, Mark::Dot, c, "");
    }
    p.finish()
}

/// Parameter time series across the snapshots of `series` against their real times: the
/// median and worst fit RMSE, each non-indexed surface parameter, and each per-expiry
/// parameter (`id` prefixes the charts' ids).
pub(super) fn parameter_series(id: &str, series: &[&SnapshotFit]) -> Vec<Panel> {
    let mut params = vec![rmse_series(id, series)];
    if series.last().is_some_and(|s| s.surface_params.is_some()) {
        params.extend(surface_param_series(id, series));
    }
    params.extend(expiry_param_series(id, series));
    params
}

/// Median and worst fit RMSE over expiries, per snapshot.
fn rmse_series(id: &str, series: &[&SnapshotFit]) -> Panel {
    let stat = |pick: fn(&[f64]) -> Option<f64>| -> Vec<(f64, f64)> {
        series
            .iter()
            .filter_map(|s| {
                let mut v: Vec<f64> = s.expiries.iter().map(|e| e.rmse_vol).collect();
                v.sort_by(f64::total_cmp);
                Some((x_of(s), pick(&v)?))
            })
            .collect()
    };
    let lines = [
        ("median over expiries".to_string(), stat(|v| v.get(v.len() / 2).copied())),
        ("worst expiry".to_string(), stat(|v| v.last().copied())),
    ];
    Panel {
        kind: "param-series",
        title: "Fit RMSE over time (vol points)".into(),
        svg: time_chart(&format!("{id}-rmse"), "RMSE (vol pts)", &lines),
    }
}

/// True for per-expiry parameters of a surface (`dtheta_3`, `rho_0`, …).
fn indexed(name: &str) -> bool {
    name.rsplit_once('_')
        .is_some_and(|(_, d)| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Orders parameter names naturally: `dtheta_2` before `dtheta_10`.
pub(super) fn natural_key(name: &str) -> (String, u64) {
    match name.rsplit_once('_') {
        Some((stem, d)) if indexed(name) => (stem.to_string(), d.parse().unwrap_or(u64::MAX)),
        _ => (name.to_string(), 0),
    }
}

/// Unit of a parameter's chart axis (vol points for ATM vols).
fn param_unit(name: &str) -> (f64, String) {
    if name == "atm_vol" {
        (100.0, "ATM vol (vol pts)".into())
    } else {
        (1.0, name.to_string())
    }
}

/// One chart per surface parameter that is not per-expiry ([`indexed`]).
fn surface_param_series(id: &str, series: &[&SnapshotFit]) -> Vec<Panel> {
    let mut names: Vec<String> = series
        .iter()
        .filter_map(|s| s.surface_params.as_ref())
        .flat_map(|p| p.keys().cloned())
        .filter(|n| !indexed(n))
        .collect();
    names.sort_by_key(|n| natural_key(n));
    names.dedup();
    names
        .into_iter()
        .enumerate()
        .map(|(j, n)| {
            let pts: Vec<(f64, f64)> = series
                .iter()
                .filter_map(|s| Some((x_of(s), *s.surface_params.as_ref()?.get(&n)?)))
                .collect();
            Panel {
                kind: "param-series",
                title: format!("Surface parameter {n} over time"),
                svg: time_chart(&format!("{id}-sp{j}"), &n, &[(n.clone(), pts)]),
            }
        })
        .collect()
}

/// Per-expiry parameters (and ATM vol of surfaces), one chart per name with one line per
/// expiry; the six expiries seen most often.
fn expiry_param_series(id: &str, series: &[&SnapshotFit]) -> Vec<Panel> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for s in series {
        for e in &s.expiries {
            *seen.entry(e.expiry.as_str()).or_insert(0) += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = seen.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top.truncate(6);
    top.sort();
    let mut pnames: Vec<String> = series
        .iter()
        .flat_map(|s| s.expiries.iter().flat_map(|e| e.params.keys().cloned()))
        .collect();
    pnames.sort_by_key(|n| natural_key(n));
    pnames.dedup();
    pnames
        .into_iter()
        .enumerate()
        .map(|(j, n)| {
            let (scale, unit) = param_unit(&n);
            let lines: Vec<(String, Vec<(f64, f64)>)> = top
                .iter()
                .map(|(exp, _)| {
                    let pts = series
                        .iter()
                        .filter_map(|s| {
                            let e = s.expiries.iter().find(|e| e.expiry == *exp)?;
                            Some((x_of(s), scale * *e.params.get(&n)?))
                        })
                        .collect();
                    (super::verdict::expiry_code(exp), pts)
                })
                .collect();
            Panel {
                kind: "param-series",
                title: format!("Parameter {n} by expiry over time"),
                svg: time_chart(&format!("{id}-ep{j}"), &unit, &lines),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_sort_naturally() {
        let mut v = vec!["dtheta_10", "dtheta_2", "gamma", "dtheta_1"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["dtheta_1", "dtheta_2", "dtheta_10", "gamma"]);
    }

    #[test]
    fn indexed_names() {
        assert!(indexed("dtheta_3") && indexed("rho_10"));
        assert!(!indexed("rho") && !indexed("atm_vol") && !indexed("x_"));
    }

    #[test]
    fn market_atm_is_exact_on_a_line() {
        // Closed form: mids on the line iv = 0.5 + 0.2 k give level 0.5 and slope 0.2.
        let mk = |k: f64| ResidualRow {
            snapshot: String::new(),
            underlying: String::new(),
            expiry: String::new(),
            t: 0.1,
            strike: 1.0,
            kind: crate::market::OptionType::Call,
            k,
            bid_iv: None,
            ask_iv: None,
            mid_iv: Some(0.5 + 0.2 * k),
            model_iv: 0.5,
            residual: 0.0,
            weight: 1.0,
            effective_weight: 1.0,
            outlier: false,
        };
        let rows: Vec<ResidualRow> = [-0.2, -0.05, 0.03, 0.1, 0.4].map(mk).to_vec();
        let refs: Vec<&ResidualRow> = rows.iter().collect();
        let (level, slope) = market_atm(&refs).expect("fit");
        assert!((level - 0.5).abs() < 1e-12 && (slope - 0.2).abs() < 1e-12);
    }
}
