//! The market views of a fit over all its snapshots, from the [`skew`](super::skew)
//! numbers: per snapshot and expiry the ATM vol, 25Δ risk reversal and butterfly, and
//! constant-maturity points at 7, 30 and 90 days. Written to `views.csv` beside the page
//! and drawn as the constant-maturity series, the smile against delta and BTC against ETH.

use super::data::{csv_err, ReportData, ReportError};
use super::page::num;
use super::panels::{time_chart, Panel};
use super::skew::{call_delta, constant_maturity, smile25, Smile25, Strikes25};
use super::svg::{self, pal, Axis, Mark, Plot, Scale};
use super::verdict::{days_to, expiry_code, parse_ms};
use super::view::ModelView;
use crate::black::norm_cdf;
use crate::fit::SnapshotFit;
use crate::io::write_atomic;
use serde::Serialize;
use std::path::Path;

/// Constant maturities of the series, days.
pub(super) const TENORS_DAYS: [f64; 3] = [7.0, 30.0, 90.0];

/// The constant maturity BTC and ETH are compared at, days.
const COINS_TENOR: f64 = 30.0;

/// One expiry's desk numbers.
pub(super) struct ExpiryView {
    pub(super) expiry: String,
    pub(super) days: f64,
    pub(super) forward: f64,
    pub(super) smile: Smile25,
    pub(super) strikes: Strikes25,
}

/// One snapshot of one underlying: its expiries' numbers and the constant-maturity points
/// (`(days, pillars)`, only the tenors inside its listed expiries).
pub(super) struct SnapView {
    pub(super) snapshot: String,
    pub(super) underlying: String,
    pub(super) expiries: Vec<ExpiryView>,
    pub(super) cm: Vec<(f64, Smile25)>,
}

impl SnapView {
    /// The desk numbers of one fitted snapshot (`spec_beta`: SABR's fixed β of the spec).
    pub(super) fn new(snap: &SnapshotFit, spec_beta: Option<f64>) -> SnapView {
        let view = ModelView::new(spec_beta, snap);
        let expiries: Vec<ExpiryView> = snap
            .expiries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let var = |ks: &[f64], out: &mut [f64]| view.total_variances(i, e.t, ks, out);
                let (smile, strikes) = smile25(e.t, &var)?;
                Some(ExpiryView {
                    expiry: e.expiry.clone(),
                    days: days_to(&snap.snapshot, &e.expiry, e.t),
                    forward: e.forward,
                    smile,
                    strikes,
                })
            })
            .collect();
        let term: Vec<(f64, Smile25)> = snap
            .expiries
            .iter()
            .filter_map(|e| {
                let v = expiries.iter().find(|v| v.expiry == e.expiry)?;
                Some((e.t, v.smile))
            })
            .collect();
        let cm = TENORS_DAYS
            .iter()
            .filter_map(|&d| Some((d, constant_maturity(&term, d / 365.0)?)))
            .collect();
        SnapView {
            snapshot: snap.snapshot.clone(),
            underlying: snap.underlying.clone(),
            expiries,
            cm,
        }
    }

    /// The snapshot time in Unix seconds (NaN when it does not parse).
    fn time_s(&self) -> f64 {
        parse_ms(&self.snapshot).map_or(f64::NAN, |ms| ms as f64 / 1000.0)
    }

    /// The constant-maturity pillars at `days`, if inside the listed expiries.
    fn at(&self, days: f64) -> Option<&Smile25> {
        self.cm.iter().find(|c| c.0 == days).map(|c| &c.1)
    }
}

/// The desk numbers of every snapshot of `data`, in its order.
pub(super) fn all(data: &ReportData) -> Vec<SnapView> {
    data.fit.snapshots.iter().map(|s| SnapView::new(s, data.fit.spec.sabr_beta)).collect()
}

/// One row of `views.csv`: an expiry (`tenor` its Deribit code) or a constant maturity
/// (`tenor` `7d`, `30d`, `90d`; no expiry, forward or strikes). Vols in vol points.
#[derive(Serialize)]
struct ViewRow<'a> {
    snapshot: &'a str,
    underlying: &'a str,
    tenor: String,
    expiry: &'a str,
    days: f64,
    forward_usd: Option<f64>,
    atm_vol_pts: f64,
    rr25_vol_pts: f64,
    bf25_vol_pts: f64,
    k25_put: Option<f64>,
    k25_call: Option<f64>,
}

/// Writes `views.csv` (atomically): the expiry rows then the constant-maturity rows of
/// every snapshot.
///
/// # Errors
/// The write.
pub(super) fn write_csv(path: &Path, views: &[SnapView]) -> Result<(), ReportError> {
    write_atomic(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        for v in views {
            let row = |tenor: String, days: f64, s: &Smile25| ViewRow {
                snapshot: &v.snapshot,
                underlying: &v.underlying,
                tenor,
                expiry: "",
                days,
                forward_usd: None,
                atm_vol_pts: 100.0 * s.atm,
                rr25_vol_pts: 100.0 * s.rr(),
                bf25_vol_pts: 100.0 * s.bf(),
                k25_put: None,
                k25_call: None,
            };
            for e in &v.expiries {
                c.serialize(ViewRow {
                    expiry: &e.expiry,
                    forward_usd: Some(e.forward),
                    k25_put: Some(e.strikes.put),
                    k25_call: Some(e.strikes.call),
                    ..row(expiry_code(&e.expiry), e.days, &e.smile)
                })
                .map_err(|e| csv_err(path, e))?;
            }
            for (d, s) in &v.cm {
                c.serialize(row(format!("{d}d"), *d, s)).map_err(|e| csv_err(path, e))?;
            }
        }
        c.flush()?;
        Ok(())
    })
}

/// The constant-maturity series of one underlying's snapshots (`views`, in time order):
/// ATM vol at 7, 30 and 90 days, and the 30-day risk reversal and butterfly.
pub(super) fn cm_series(id: &str, views: &[&SnapView]) -> Vec<Panel> {
    let series = |days: f64, f: fn(&Smile25) -> f64| -> Vec<(f64, f64)> {
        views.iter().filter_map(|v| Some((v.time_s(), 100.0 * f(v.at(days)?)))).collect()
    };
    let atm: Vec<(String, Vec<(f64, f64)>)> =
        TENORS_DAYS.iter().map(|&d| (format!("{d} d ATM"), series(d, |s| s.atm))).collect();
    let skew = vec![
        ("30 d RR25".to_string(), series(30.0, Smile25::rr)),
        ("30 d BF25".to_string(), series(30.0, Smile25::bf)),
    ];
    vec![
        Panel {
            kind: "constant-maturity",
            title: "Constant-maturity ATM vol at 7, 30 and 90 days over time (total variance \
                    interpolated between the listed expiries, no extrapolation)"
                .into(),
            svg: time_chart(&format!("{id}-cm"), "ATM IV (vol pts)", &atm),
        },
        Panel {
            kind: "constant-maturity-skew",
            title: "30-day 25Δ risk reversal and butterfly over time (vol points)".into(),
            svg: time_chart(&format!("{id}-cm-rr"), "vol pts", &skew),
        },
    ]
}

/// The 30-day constant-maturity ATM vol and risk reversal of every underlying on one chart
/// each (`by`: underlying and its snapshots' views in time order); empty with fewer than
/// two underlyings.
pub(super) fn coins(by: &[(String, Vec<&SnapView>)]) -> Vec<Panel> {
    if by.len() < 2 {
        return Vec::new();
    }
    let lines = |f: fn(&Smile25) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
        by.iter()
            .map(|(u, vs)| {
                let pts = vs
                    .iter()
                    .filter_map(|v| Some((v.time_s(), 100.0 * f(v.at(COINS_TENOR)?))))
                    .collect();
                (u.clone(), pts)
            })
            .collect()
    };
    vec![
        Panel {
            kind: "coins-cm",
            title: "30-day constant-maturity ATM vol of each underlying over time".into(),
            svg: time_chart("coins-cm", "30 d ATM IV (vol pts)", &lines(|s| s.atm)),
        },
        Panel {
            kind: "coins-rr",
            title: "30-day 25Δ risk reversal of each underlying over time".into(),
            svg: time_chart("coins-rr", "30 d RR25 (vol pts)", &lines(Smile25::rr)),
        },
    ]
}

/// A labelled curve and its points with hover text.
type Curve = (String, Vec<(f64, f64)>, Vec<(f64, f64, String)>);

/// The model smile of every expiry of one snapshot against delta: x = `N(−d1)` (the put
/// delta's size, `1 −` the call delta; forward Black-76 at the smile's vol), so puts sit on
/// the left as on the k axis; the 25Δ and ATM pillars marked with hover text.
pub(super) fn delta_smiles(id: &str, snap: &SnapshotFit, v: &SnapView, beta: Option<f64>) -> Panel {
    let view = ModelView::new(beta, snap);
    let mut lines: Vec<Curve> = Vec::new();
    for (i, e) in snap.expiries.iter().enumerate() {
        let Some(ev) = v.expiries.iter().find(|x| x.expiry == e.expiry) else { continue };
        let sd = ev.smile.atm * e.t.sqrt();
        let ks: Vec<f64> = (0..=120).map(|j| sd * (-5.0 + f64::from(j) / 12.0)).collect();
        let mut ws = vec![f64::NAN; ks.len()];
        if !view.total_variances(i, e.t, &ks, &mut ws) {
            continue;
        }
        let curve: Vec<(f64, f64)> = ks
            .iter()
            .zip(&ws)
            .filter(|(_, w)| **w > 0.0 && w.is_finite())
            .map(|(&k, &w)| (1.0 - call_delta(k, w), 100.0 * (w / e.t).sqrt()))
            .filter(|p| (0.02..=0.98).contains(&p.0))
            .collect();
        let code = expiry_code(&e.expiry);
        let pillar = |x: f64, k: f64, vol: f64, what: &str| {
            let title = format!(
                "{code} {what}: K {} (k {}) · {} vol pts",
                num(ev.forward * k.exp()),
                num(k),
                num(100.0 * vol)
            );
            (x, 100.0 * vol, title)
        };
        let atm_x = norm_cdf(-0.5 * sd);
        let marks = vec![
            pillar(0.25, ev.strikes.put, ev.smile.put25, "25Δ put"),
            pillar(atm_x, 0.0, ev.smile.atm, "ATM forward"),
            pillar(0.75, ev.strikes.call, ev.smile.call25, "25Δ call"),
        ];
        lines.push((code, curve, marks));
    }
    let ys = lines.iter().flat_map(|l| l.1.iter().map(|p| p.1));
    let svg = match Axis::fit(ys, Scale::Lin, "IV (vol pts)") {
        Some(y) => {
            let x = Axis::new(0.0, 1.0, Scale::Lin, "N(−d1) = −put Δ = 1 − call Δ");
            let top = [(0.1, "10Δp"), (0.25, "25Δp"), (0.5, "50Δ"), (0.75, "25Δc"), (0.9, "10Δc")];
            let top = top.iter().map(|(x, l)| (*x, (*l).to_string())).collect();
            let mut p = Plot::new(id, x, y).wide().top_axis("delta (forward Black-76)", top);
            for (j, (label, curve, marks)) in lines.iter().enumerate() {
                p.line(curve, pal(j), false, label);
                p.marks(marks, Mark::Dot, pal(j), "");
            }
            p.finish()
        }
        None => svg::empty("no model smiles"),
    };
    Panel {
        kind: "smile-delta",
        title: "Model smiles against delta (forward Black-76 at the smile's vol, not premium-\
                adjusted): puts left, calls right; dots at the 25Δ put, ATM forward and 25Δ call"
            .into(),
        svg,
    }
}

/// `(days, σ_ATM, RR25, BF25)` of each expiry of one snapshot, vol points.
pub(super) fn term_points(v: &SnapView) -> Vec<(f64, f64, f64, f64)> {
    v.expiries
        .iter()
        .map(|e| (e.days, 100.0 * e.smile.atm, 100.0 * e.smile.rr(), 100.0 * e.smile.bf()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{fit_snapshot, FitSpec, ModelKind};

    /// On a fitted synthetic SVI snapshot: every expiry's 25Δ strikes hit their deltas on
    /// the rebuilt smile, the 30-day point lies between its neighbours' total variances, and
    /// views.csv has one row per expiry and tenor with the stated columns.
    #[test]
    fn views_of_a_fitted_snapshot() {
        let snap = super::super::view::tests::synthetic_snapshot();
        let spec = FitSpec { model: ModelKind::Svi, max_iters: 50, ..FitSpec::default() };
        let fit = fit_snapshot(&snap, &spec, None).fit;
        let v = SnapView::new(&fit, None);
        assert_eq!(v.expiries.len(), fit.expiries.len());
        let model = ModelView::new(None, &fit);
        for (i, (e, ev)) in fit.expiries.iter().zip(&v.expiries).enumerate() {
            let w = model.vols(i, e.t, &[ev.strikes.put, ev.strikes.call]).expect("smile");
            let (wp, wc) = (w[0] * w[0] * e.t, w[1] * w[1] * e.t);
            assert!((call_delta(ev.strikes.put, wp) - 0.75).abs() < 1e-12, "{}", e.expiry);
            assert!((call_delta(ev.strikes.call, wc) - 0.25).abs() < 1e-12, "{}", e.expiry);
        }
        let (d, cm) = v.cm.iter().find(|c| c.0 == 30.0).copied().expect("30 d inside");
        let w30 = cm.atm * cm.atm * d / 365.0;
        let below = v.expiries.iter().filter(|e| e.days <= d).map(|e| e.days).fold(0.0, f64::max);
        let nb = |days: f64| v.expiries.iter().find(|e| e.days == days).expect("expiry");
        let above =
            v.expiries.iter().filter(|e| e.days >= d).map(|e| e.days).fold(f64::MAX, f64::min);
        let w = |e: &ExpiryView| e.smile.atm.powi(2) * e.days / 365.0;
        let (wb, wa) = (w(nb(below)), w(nb(above)));
        assert!(wb.min(wa) <= w30 * (1.0 + 1e-9) && w30 <= wb.max(wa) * (1.0 + 1e-9));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("views.csv");
        write_csv(&path, std::slice::from_ref(&v)).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "snapshot,underlying,tenor,expiry,days,forward_usd,atm_vol_pts,rr25_vol_pts,\
                 bf25_vol_pts,k25_put,k25_call"
            )
        );
        assert_eq!(lines.count(), v.expiries.len() + v.cm.len());
        assert!(text.contains(",30d,,30.0,,"), "{text}");
    }
}
