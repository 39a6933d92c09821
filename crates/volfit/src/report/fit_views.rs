//! Trader views of a fit, drawn with [`svg`](super::svg): smiles against
//! log-moneyness with a strike axis on top and hover text per quote (instrument, strike,
//! delta, bid/mid/ask IV, model IV, residual), calls, puts, one-sided quotes and outliers
//! told apart; residuals in half-spreads; ATM, 25-delta risk-reversal and butterfly term
//! structures against days on a square-root axis; total variance w(k) across expiries and
//! Durrleman's g(k); and the known true surface when there is one.

use super::page::num;
use super::panels::{Latest, Panel};
use super::skew::call_delta;
use super::svg::{self, nice_ticks, pal, Axis, Mark, Plot, Scale};
use super::verdict::{days_to, expiry_code};
use crate::fit::{ExpiryFit, ResidualRow};
use crate::market::synth::SsviTruth;
use crate::market::OptionType;

/// `n` evenly spaced points on `[lo, hi]`.
fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let d = n.saturating_sub(1).max(1) as f64;
    (0..n).map(|i| lo + (hi - lo) * i as f64 / d).collect()
}

/// A plotted point with its hover text.
type Hover = (f64, f64, String);

/// `(days, σ_ATM, RR25, BF25)` of one expiry, vol points.
type TermPoint = (f64, f64, f64, f64);

/// Days as a trader reads them: one decimal below ten days, whole days above.
pub(super) fn days(d: f64) -> String {
    if d < 10.0 {
        format!("{d:.1}")
    } else {
        format!("{d:.0}")
    }
}

/// Title of an expiry: `8JAN26 · 3.2 d · F 90,123`.
pub(super) fn expiry_title(snapshot: &str, e: &ExpiryFit) -> String {
    format!(
        "{} · {} d · F {}",
        expiry_code(&e.expiry),
        days(days_to(snapshot, &e.expiry, e.t)),
        num(e.forward)
    )
}

/// Deribit instrument name of a quote row.
fn instrument(r: &ResidualRow) -> String {
    format!(
        "{}-{}-{}-{}",
        r.underlying,
        expiry_code(&r.expiry),
        num(r.strike).replace(',', ""),
        r.kind.letter()
    )
}

/// Hover text of one quote.
fn quote_title(r: &ResidualRow, f: f64) -> String {
    let vp = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| num(100.0 * v));
    let sigma = r.mid_iv.unwrap_or(r.model_iv);
    let cd = call_delta(r.k, sigma * sigma * r.t);
    let delta = if r.kind == OptionType::Call { cd } else { cd - 1.0 };
    let mut s = format!(
        "{} · K {} (F {}) · k {} · Δ {}\nbid {} / mid {} / ask {} vol pts · model {}",
        instrument(r),
        num(r.strike),
        num(f),
        num(r.k),
        num(delta),
        vp(r.bid_iv),
        vp(r.mid_iv),
        vp(r.ask_iv),
        num(100.0 * r.model_iv)
    );
    if let Some(m) = r.mid_iv {
        s.push_str(&format!(" · residual {} vol pts", num(100.0 * (r.model_iv - m))));
        if let (Some(b), Some(a)) = (r.bid_iv, r.ask_iv) {
            if a > b {
                s.push_str(&format!(" = {} half-spreads", num((r.model_iv - m) / (0.5 * (a - b)))));
            }
        }
    }
    if r.outlier {
        s.push_str(" · outlier (robust loss)");
    }
    s
}

/// One smile per expiry of the latest snapshot: bid–ask bars, calls (dots), puts (squares),
/// one-sided quotes (open triangles at the quoted side), outliers (red crosses), the model
/// (blue) and the truth (green, dashed) when known. `id` prefixes the charts' ids.
pub(super) fn smiles(id: &str, s: &Latest, truth: Option<&SsviTruth>) -> Vec<Panel> {
    s.snap
        .expiries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let rows = s.expiry_rows(e);
            let (lo, hi) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| (l.min(r.k), h.max(r.k)));
            let (lo, hi) = if lo < hi { (lo, hi) } else { (-0.3, 0.3) };
            let pad = 0.08 * (hi - lo);
            let ks = grid(lo - pad, hi + pad, 81);
            let model: Vec<(f64, f64)> = s
                .view
                .vols(i, e.t, &ks)
                .map(|v| ks.iter().zip(v).map(|(&k, v)| (k, 100.0 * v)).collect())
                .unwrap_or_default();
            let true_curve: Vec<(f64, f64)> = truth
                .map(|m| ks.iter().map(|&k| (k, 100.0 * m.implied_vol(k, e.t))).collect())
                .unwrap_or_default();
            let svg = smile_svg(
                &format!("{id}-s{i}"),
                e,
                &rows,
                &model,
                &true_curve,
                (lo - pad, hi + pad),
            );
            let n_out = rows.iter().filter(|r| r.outlier).count();
            Panel {
                kind: "smile",
                title: format!(
                    "{} · RMSE {} vol pts · {:.0} % inside · {} quotes · {} outliers",
                    expiry_title(&s.snap.snapshot, e),
                    num(e.rmse_vol),
                    100.0 * e.inside_spread,
                    e.n_quotes,
                    n_out
                ),
                svg,
            }
        })
        .collect()
}

fn smile_svg(
    id: &str,
    e: &ExpiryFit,
    rows: &[&ResidualRow],
    model: &[(f64, f64)],
    truth: &[(f64, f64)],
    (klo, khi): (f64, f64),
) -> String {
    let ys = rows
        .iter()
        .flat_map(|r| [r.bid_iv, r.ask_iv, r.mid_iv])
        .flatten()
        .map(|v| 100.0 * v)
        .chain(model.iter().chain(truth).map(|p| p.1));
    let Some(y) = Axis::fit(ys, Scale::Lin, "IV (vol pts)") else {
        return svg::empty("no quotes");
    };
    let x = Axis::new(klo, khi, Scale::Lin, "k = ln(K/F)");
    let strikes: Vec<(f64, String)> = nice_ticks(e.forward * klo.exp(), e.forward * khi.exp(), 5)
        .into_iter()
        .filter(|k| *k > 0.0)
        .map(|k| ((k / e.forward).ln(), num(k)))
        .collect();
    let mut p = Plot::new(id, x, y).top_axis("strike (USD)", strikes);
    let title = |r: &ResidualRow| quote_title(r, e.forward);
    let bars: Vec<(f64, f64, f64, String)> = rows
        .iter()
        .filter_map(|r| Some((r.k, 100.0 * r.bid_iv?, 100.0 * r.ask_iv?, title(r))))
        .collect();
    p.bars(&bars, "#999999", "bid–ask IV");
    let pts = |kind: OptionType| -> Vec<(f64, f64, String)> {
        rows.iter()
            .filter(|r| r.kind == kind && !r.outlier)
            .filter_map(|r| Some((r.k, 100.0 * r.mid_iv?, title(r))))
            .collect()
    };
    p.marks(&pts(OptionType::Call), Mark::Dot, "#222222", "call mid");
    p.marks(&pts(OptionType::Put), Mark::Square, "#8c564b", "put mid");
    let one_sided: Vec<(f64, f64, String)> = rows
        .iter()
        .filter(|r| r.mid_iv.is_none() && !r.outlier)
        .filter_map(|r| Some((r.k, 100.0 * r.bid_iv.or(r.ask_iv)?, title(r))))
        .collect();
    p.marks(&one_sided, Mark::Triangle, "#ff7f0e", "one-sided");
    let out: Vec<(f64, f64, String)> = rows
        .iter()
        .filter(|r| r.outlier)
        .map(|r| (r.k, 100.0 * r.mid_iv.or(r.bid_iv).or(r.ask_iv).unwrap_or(r.model_iv), title(r)))
        .collect();
    p.marks(&out, Mark::Cross, "#d62728", "outlier");
    p.line(model, "#1f77b4", false, "model");
    if !truth.is_empty() {
        p.line(truth, "#2ca02c", true, "true surface");
    }
    p.finish()
}

/// Residuals of every expiry in half-spreads, (model − mid) / ½(ask − bid), against k: |r| ≤ 1
/// is inside the spread.
pub(super) fn residuals_spread(id: &str, s: &Latest) -> Panel {
    let mut groups: Vec<(String, Vec<Hover>)> = Vec::new();
    for e in &s.snap.expiries {
        let pts: Vec<(f64, f64, String)> = s
            .expiry_rows(e)
            .iter()
            .filter_map(|r| {
                let (b, a, m) = (r.bid_iv?, r.ask_iv?, r.mid_iv?);
                (a > b)
                    .then(|| (r.k, (r.model_iv - m) / (0.5 * (a - b)), quote_title(r, e.forward)))
            })
            .collect();
        groups.push((expiry_code(&e.expiry), pts));
    }
    let all = || groups.iter().flat_map(|g| g.1.iter());
    let svg = match (
        Axis::fit(all().map(|p| p.0), Scale::Lin, "k = ln(K/F)"),
        Axis::fit(all().map(|p| p.1).chain([-1.5, 1.5]), Scale::Lin, "model − mid (half-spreads)"),
    ) {
        (Some(x), Some(y)) => {
            let mut p = Plot::new(id, x, y).wide();
            p.hline(0.0, "#888888");
            p.hline(1.0, "#cccccc");
            p.hline(-1.0, "#cccccc");
            for (g, (label, pts)) in groups.iter().enumerate() {
                p.marks(pts, if g % 2 == 0 { Mark::Dot } else { Mark::Square }, pal(g), label);
            }
            p.finish()
        }
        _ => svg::empty("no two-sided quotes"),
    };
    Panel {
        kind: "residuals",
        title: "Residuals in half-spreads: (model − mid) / ½(ask − bid); inside ±1 = inside the quoted spread"
            .into(),
        svg,
    }
}

/// One underlying's ATM term structure: label, model points (days, vol pts) and market
/// points (days, vol pts, hover text).
pub(super) type AtmLine = (String, Vec<(f64, f64)>, Vec<(f64, f64, String)>);

/// ATM vol against days to expiry (square-root axis) of several underlyings on one chart.
pub(super) fn atm_term(id: &str, lines: &[AtmLine], wide: bool) -> String {
    let xs = lines.iter().flat_map(|l| l.1.iter().map(|p| p.0).chain(l.2.iter().map(|p| p.0)));
    let ys = lines.iter().flat_map(|l| l.1.iter().map(|p| p.1).chain(l.2.iter().map(|p| p.1)));
    let (Some(x), Some(y)) = (
        Axis::fit(xs, Scale::Sqrt, "days to expiry (√ scale)"),
        Axis::fit(ys, Scale::Lin, "ATM IV (vol pts)"),
    ) else {
        return svg::empty("no ATM points");
    };
    let mut p = Plot::new(id, x.including(0.0), y);
    if wide {
        p = p.wide();
    }
    for (i, (label, model, market)) in lines.iter().enumerate() {
        let c = pal(i);
        p.line(model, c, false, &format!("{label} model"));
        p.marks(market, Mark::Ring, c, &format!("{label} market"));
    }
    p.finish()
}

/// 25-delta risk reversal and butterfly term structures of the model (vol points).
pub(super) fn rr_bf(id: &str, term: &[(f64, f64, f64, f64)]) -> String {
    let pts = |f: &dyn Fn(&TermPoint) -> f64| -> Vec<Hover> {
        term.iter()
            .map(|t| {
                (
                    t.0,
                    f(t),
                    format!("{} d: RR25 {} · BF25 {} vol pts", days(t.0), num(t.2), num(t.3)),
                )
            })
            .collect()
    };
    let (rr, bf) = (pts(&|t| t.2), pts(&|t| t.3));
    let (Some(x), Some(y)) = (
        Axis::fit(term.iter().map(|t| t.0), Scale::Sqrt, "days to expiry (√ scale)"),
        Axis::fit(term.iter().flat_map(|t| [t.2, t.3]).chain([0.0]), Scale::Lin, "vol pts"),
    ) else {
        return svg::empty("no 25-delta points");
    };
    let mut p = Plot::new(id, x.including(0.0), y);
    p.hline(0.0, "#888888");
    let line =
        |v: &[(f64, f64, String)]| -> Vec<(f64, f64)> { v.iter().map(|q| (q.0, q.1)).collect() };
    p.line(&line(&rr), pal(0), false, "RR25 (call − put)");
    p.marks(&rr, Mark::Dot, pal(0), "");
    p.line(&line(&bf), pal(1), false, "BF25 (wings − ATM)");
    p.marks(&bf, Mark::Square, pal(1), "");
    p.finish()
}

/// Total variance w(k) = σ²t of every expiry (lines that cross mean calendar arbitrage) and
/// Durrleman's g(k) (negative = butterfly arbitrage), on the snapshot's quoted k range.
pub(super) fn variance_and_density(id: &str, s: &Latest) -> (String, String) {
    let (lo, hi) = s
        .rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| (l.min(r.k), h.max(r.k)));
    let (lo, hi) = if lo < hi { (lo.max(-2.0), hi.min(2.0)) } else { (-0.5, 0.5) };
    let ks = grid(lo, hi, 161);
    let dk = ks[1] - ks[0];
    let mut ws: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut gs: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (i, e) in s.snap.expiries.iter().enumerate() {
        let Some(v) = s.view.vols(i, e.t, &ks) else { continue };
        let w: Vec<f64> = v.iter().map(|s| s * s * e.t).collect();
        let g: Vec<(f64, f64)> = (1..ks.len() - 1)
            .map(|j| {
                let (w0, w1, w2) = (w[j - 1], w[j], w[j + 1]);
                let (d1, d2) = ((w2 - w0) / (2.0 * dk), (w2 - 2.0 * w1 + w0) / (dk * dk));
                let k = ks[j];
                let g = (1.0 - k * d1 / (2.0 * w1)).powi(2) - 0.25 * d1 * d1 * (1.0 / w1 + 0.25)
                    + 0.5 * d2;
                (k, g)
            })
            .collect();
        let label = expiry_code(&e.expiry);
        ws.push((label.clone(), ks.iter().copied().zip(w).collect()));
        gs.push((label, g));
    }
    let chart = |cid: &str, ylabel: &str, series: &[(String, Vec<(f64, f64)>)], zero: bool| {
        let all = || series.iter().flat_map(|s| s.1.iter());
        let ys = all().map(|p| p.1).chain(zero.then_some(0.0));
        match (
            Axis::fit(all().map(|p| p.0), Scale::Lin, "k = ln(K/F)"),
            Axis::fit(ys, Scale::Lin, ylabel),
        ) {
            (Some(x), Some(y)) => {
                let mut p = Plot::new(cid, x, y);
                if zero {
                    p.hline(0.0, "#d62728");
                }
                for (j, (label, pts)) in series.iter().enumerate() {
                    p.line(pts, pal(j), false, label);
                }
                p.finish()
            }
            _ => svg::empty("no model curves"),
        }
    };
    (
        chart(&format!("{id}-w"), "w = σ²·t", &ws, false),
        chart(&format!("{id}-g"), "g(k) (< 0: butterfly arbitrage)", &gs, true),
    )
}

/// Market ATM points of a snapshot for [`atm_term`]: `(days, vol pts, hover text)`.
pub(super) fn market_atm_points(
    s: &Latest,
    atm: &[super::panels::AtmPoint],
) -> Vec<(f64, f64, String)> {
    s.snap
        .expiries
        .iter()
        .zip(atm)
        .filter_map(|(e, a)| {
            let (v, _) = a.2?;
            let d = days_to(&s.snap.snapshot, &e.expiry, e.t);
            Some((
                d,
                100.0 * v,
                format!(
                    "{} {}: market ATM {} vol pts",
                    s.snap.underlying,
                    expiry_code(&e.expiry),
                    num(100.0 * v)
                ),
            ))
        })
        .collect()
}

/// Model ATM points of a snapshot for [`atm_term`]: `(days, vol pts)`.
pub(super) fn model_atm_points(s: &Latest, atm: &[super::panels::AtmPoint]) -> Vec<(f64, f64)> {
    s.snap
        .expiries
        .iter()
        .zip(atm)
        .filter_map(|(e, a)| Some((days_to(&s.snap.snapshot, &e.expiry, e.t), 100.0 * a.1?.0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_like_a_desk() {
        assert_eq!(days(1.856), "1.9");
        assert_eq!(days(132.9), "133");
    }
}
