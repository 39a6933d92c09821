//! The hedging page: one self-contained HTML file (inline SVG, no script, no network) of a
//! `volfit hedge` run — the spec × delta comparison table, P&L histograms with VaR and ES
//! marked, and the hedging error by moneyness and maturity.
//!
//! Sign convention (as in `volfit::risk`): P&L is profit; VaR and ES are losses, so they are
//! marked at `−VaR` and `−ES` on the P&L axis.

use super::charts::{self, Series, Size};
use crate::hedge::{DeltaKind, HedgeOutput, PathRecord, PnlStats};
use crate::io::write_atomic;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = concat!(
    r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>volfit hedge report</title>
<style>
"#,
    compact_css!(),
    r#"</style></head><body>
<h1>volfit hedge report</h1>
<p class="note">{{ n_paths }} option paths; P&amp;L is profit (USD), VaR/ES are losses at 95&nbsp;% / 97.5&nbsp;%.
Gross = hedged at mid; net = after spread and fees.</p>
{% for n in notices %}<p class="note">notice: {{ n }}</p>{% endfor %}
<h2>Spec comparison</h2>
<table><tr><th class="l">underlying</th><th class="l">spec</th><th class="l">delta</th><th>paths</th>
<th>unhedged std</th><th>gross std</th><th>gross VaR95</th><th>gross ES97.5</th>
<th>net mean</th><th>net std</th><th>coin std</th></tr>
{% for r in rows %}<tr><td class="l">{{ r.underlying }}</td><td class="l">{{ r.spec }}</td><td class="l">{{ r.delta }}</td>
<td>{{ r.paths }}</td><td>{{ r.unhedged_std }}</td><td>{{ r.std }}</td><td>{{ r.var95 }}</td><td>{{ r.es975 }}</td>
<td>{{ r.net_mean }}</td><td>{{ r.net_std }}</td><td>{{ r.coin_std }}</td></tr>{% endfor %}
</table>
<h2>P&amp;L distributions</h2>
{% for f in histograms %}<figure class="chart histogram">{{ f.svg|safe }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}
<h2>Hedging error by moneyness and maturity</h2>
<p class="note">Standard deviation of the gross hedged P&amp;L (USD) per bucket; moneyness z = k/(σ√t).</p>
{% for b in buckets %}<h3>{{ b.title }}</h3>
<table><tr><th class="l">moneyness \ maturity</th>{% for m in b.maturities %}<th>{{ m }}</th>{% endfor %}</tr>
{% for row in b.rows %}<tr><td class="l">{{ row.0 }}</td>{% for v in row.1 %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endfor %}
</body></html>
"#
);

/// Gross P&L std per (moneyness, maturity) bucket.
type BucketCells = BTreeMap<(String, String), f64>;

#[derive(Serialize)]
struct Page<'a> {
    n_paths: usize,
    notices: &'a [String],
    rows: Vec<Row>,
    histograms: Vec<Figure>,
    buckets: Vec<BucketTable>,
}

#[derive(Serialize)]
struct Row {
    underlying: String,
    spec: String,
    delta: String,
    paths: usize,
    unhedged_std: String,
    std: String,
    var95: String,
    es975: String,
    net_mean: String,
    net_std: String,
    coin_std: String,
}

#[derive(Serialize)]
struct Figure {
    svg: String,
    caption: String,
}

#[derive(Serialize)]
struct BucketTable {
    title: String,
    maturities: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

fn delta_name(d: DeltaKind) -> String {
    serde_json::to_value(d).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn fmt(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "–".into()
    }
}

/// A histogram of `pnl` as a step line, with vertical markers at −VaR and −ES.
fn histogram(pnl: &[f64], stats: &PnlStats, caption: &str) -> String {
    let (lo, hi) =
        pnl.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    if !(lo.is_finite() && hi > lo) {
        return charts::empty(Size::WIDE, "not enough P&L points for a histogram");
    }
    let bins = 40;
    let width = (hi - lo) / f64::from(bins);
    let mut counts = vec![0.0; bins as usize];
    for &v in pnl {
        let i = (((v - lo) / width) as usize).min(bins as usize - 1);
        counts[i] += 1.0;
    }
    let mut steps = Vec::with_capacity(4 * counts.len());
    for (i, &c) in counts.iter().enumerate() {
        let x0 = lo + width * i as f64;
        steps.extend([(x0, 0.0), (x0, c), (x0 + width, c), (x0 + width, 0.0)]);
    }
    let top = counts.iter().copied().fold(0.0, f64::max);
    let marker = |label: &str, loss: f64| Series {
        label: format!("{label} {:.0}", loss),
        points: vec![(-loss, 0.0), (-loss, top)],
    };
    let series = vec![
        Series { label: "paths".into(), points: steps },
        marker("−VaR95", stats.var_95),
        marker("−ES97.5", stats.es_975),
    ];
    charts::lines(Size::WIDE, caption, "hedged P&L (USD)", "paths", &series, false)
}

/// Renders the hedging page.
///
/// # Errors
/// A template error (a bug, not bad data: every value is escaped).
pub fn render(out: &HedgeOutput) -> Result<String, minijinja::Error> {
    let rows: Vec<Row> = out
        .summary
        .iter()
        .map(|s| Row {
            underlying: s.underlying.clone(),
            spec: s.spec.clone(),
            delta: delta_name(s.delta),
            paths: s.paths,
            unhedged_std: fmt(s.unhedged_usd.std),
            std: fmt(s.pnl_usd.std),
            var95: fmt(s.pnl_usd.var_95),
            es975: fmt(s.pnl_usd.es_975),
            net_mean: fmt(s.pnl_usd_net.mean),
            net_std: fmt(s.pnl_usd_net.std),
            coin_std: format!("{:.2e}", s.pnl_coin.std),
        })
        .collect();
    // Paths grouped like the summary rows.
    let mut groups: BTreeMap<(&str, &str, String), Vec<&PathRecord>> = BTreeMap::new();
    for p in &out.paths {
        groups
            .entry((p.underlying.as_str(), p.spec.as_str(), delta_name(p.delta)))
            .or_default()
            .push(p);
    }
    let histograms: Vec<Figure> = out
        .summary
        .iter()
        .filter_map(|s| {
            let key = (s.underlying.as_str(), s.spec.as_str(), delta_name(s.delta));
            let pnl: Vec<f64> = groups.get(&key)?.iter().map(|p| p.pnl_usd).collect();
            let caption = format!("{} · {} · {} delta", s.underlying, s.spec, key.2);
            Some(Figure { svg: histogram(&pnl, &s.pnl_usd, &caption), caption })
        })
        .collect();
    let mut tables: BTreeMap<(String, String, String), BucketCells> = BTreeMap::new();
    for b in &out.buckets {
        tables
            .entry((b.underlying.clone(), b.spec.clone(), delta_name(b.delta)))
            .or_default()
            .insert((b.moneyness.to_string(), b.maturity.to_string()), b.pnl_usd.std);
    }
    let buckets: Vec<BucketTable> = tables
        .into_iter()
        .map(|((u, spec, delta), cells)| {
            let mut maturities: Vec<String> = cells.keys().map(|k| k.1.clone()).collect();
            maturities.sort();
            maturities.dedup();
            let mut moneyness: Vec<String> = cells.keys().map(|k| k.0.clone()).collect();
            moneyness.sort();
            moneyness.dedup();
            let rows = moneyness
                .iter()
                .map(|m| {
                    let vals = maturities
                        .iter()
                        .map(|t| cells.get(&(m.clone(), t.clone())).map_or("".into(), |v| fmt(*v)))
                        .collect();
                    (m.clone(), vals)
                })
                .collect();
            BucketTable { title: format!("{u} · {spec} · {delta} delta"), maturities, rows }
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.add_template("hedge.html", TEMPLATE)?;
    let page = Page { n_paths: out.paths.len(), notices: &out.notices, rows, histograms, buckets };
    env.get_template("hedge.html")?.render(minijinja::value::Serde(&page))
}

/// Writes `dir/report.html` for a hedging run, atomically, and returns its path.
///
/// # Errors
/// Rendering or I/O errors.
pub fn write_report(dir: &Path, out: &HedgeOutput) -> std::io::Result<PathBuf> {
    let html = render(out).map_err(std::io::Error::other)?;
    let path = dir.join("report.html");
    write_atomic(&path, |w: &mut dyn Write| w.write_all(html.as_bytes()))?;
    Ok(path)
}
