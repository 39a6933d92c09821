//! Outputs of an allocation run: `allocation.csv`, `frontier.csv`, `allocation.json` and a
//! self-contained `report.html` (inline SVG, no script, no network) with the efficient
//! frontier, the positions, the risk contributions and the margin usage per coin. Every
//! file is written atomically.

use super::charts::{self, Series, Size};
use crate::alloc::{Allocation, FrontierPoint};
use crate::io::write_atomic;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One candidate as shown in the tables.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateRow {
    /// Instrument name.
    pub name: String,
    /// Coin.
    pub coin: String,
    /// `call`, `put`, `future` or `perpetual`.
    pub kind: String,
    /// Mid premium per unit, USD.
    pub price_usd: f64,
    /// Ask − bid per unit, USD.
    pub spread_usd: f64,
    /// Lower bound, units.
    pub min: f64,
    /// Upper bound, units.
    pub max: f64,
}

/// Everything an allocation run writes.
#[derive(Clone, Debug, Serialize)]
pub struct AllocOutput {
    /// The configuration as read (echoed into the JSON).
    pub config: serde_json::Value,
    /// Candidates, one per column.
    pub candidates: Vec<CandidateRow>,
    /// The allocation at the configured `λ`.
    pub allocation: Allocation,
    /// Frontier points, `λ` decreasing.
    pub frontier: Vec<FrontierPoint>,
    /// How the scenarios were made.
    pub provenance: String,
    /// Scenario count.
    pub scenarios: usize,
    /// Notices (skipped inputs, approximations).
    pub notices: Vec<String>,
}

fn csv_err(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
}

/// Writes `allocation.csv`, `frontier.csv`, `allocation.json` and `report.html` into `dir`
/// (created if missing); returns the paths written.
///
/// # Errors
/// I/O, CSV or rendering errors.
pub fn write_all(dir: &Path, out: &AllocOutput) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let a = &out.allocation;
    let p_alloc = dir.join("allocation.csv");
    write_atomic(&p_alloc, |w: &mut dyn Write| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record([
            "candidate",
            "coin",
            "kind",
            "x",
            "price_usd",
            "spread_usd",
            "premium_usd",
            "min",
            "max",
            "risk_contribution",
        ])
        .map_err(csv_err)?;
        for (i, cand) in out.candidates.iter().enumerate() {
            c.write_record([
                cand.name.clone(),
                cand.coin.clone(),
                cand.kind.clone(),
                format!("{}", a.x[i]),
                format!("{}", cand.price_usd),
                format!("{}", cand.spread_usd),
                format!("{}", cand.price_usd * a.x[i] + 0.0),
                format!("{}", cand.min),
                format!("{}", cand.max),
                format!("{}", a.contributions[i]),
            ])
            .map_err(csv_err)?;
        }
        c.flush()
    })?;
    let p_front = dir.join("frontier.csv");
    write_atomic(&p_front, |w: &mut dyn Write| {
        let mut c = csv::Writer::from_writer(w);
        let mut head = vec!["lambda".to_string(), "reward".into(), "risk".into(), "risk_lp".into()];
        head.extend(out.candidates.iter().map(|c| format!("x:{}", c.name)));
        c.write_record(&head).map_err(csv_err)?;
        for f in &out.frontier {
            let mut r = vec![
                format!("{}", f.lambda),
                format!("{}", f.reward),
                format!("{}", f.risk),
                format!("{}", f.risk_lp),
            ];
            r.extend(f.x.iter().map(|v| format!("{v}")));
            c.write_record(&r).map_err(csv_err)?;
        }
        c.flush()
    })?;
    let p_json = dir.join("allocation.json");
    write_atomic(&p_json, |w: &mut dyn Write| {
        serde_json::to_writer_pretty(&mut *w, &json_view(out)).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })?;
    let p_html = dir.join("report.html");
    let html = render(out).map_err(std::io::Error::other)?;
    write_atomic(&p_html, |w: &mut dyn Write| w.write_all(html.as_bytes()))?;
    Ok(vec![p_alloc, p_front, p_json, p_html])
}

/// The JSON document: config echo, summary, margin per coin, provenance, solver.
fn json_view(out: &AllocOutput) -> serde_json::Value {
    let a = &out.allocation;
    let finite =
        |v: f64| if v.is_finite() { serde_json::json!(v) } else { serde_json::Value::Null };
    serde_json::json!({
        "config": out.config,
        "summary": {
            "lambda": a.lambda,
            "reward": finite(a.reward),
            "expected_pnl_usd": a.expected_pnl,
            "cost_usd": a.cost,
            "risk": a.risk,
            "risk_lp": finite(a.risk_lp),
            "premium_net_usd": a.premium_net,
            "premium_gross_usd": a.premium_gross,
            "positions_nonzero": a.x.iter().filter(|v| v.abs() > 1e-9).count(),
            "binding": a.binding,
            "max_violation": a.max_violation,
        },
        "margin": a.margin,
        "solver": a.solver,
        "frontier": out.frontier.iter().map(|f| serde_json::json!({
            "lambda": f.lambda, "reward": finite(f.reward), "risk": f.risk, "risk_lp": finite(f.risk_lp)
        })).collect::<Vec<_>>(),
        "scenarios": out.scenarios,
        "provenance": out.provenance,
        "notices": out.notices,
    })
}

const TEMPLATE: &str = concat!(
    r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>volfit allocation report</title>
<style>
"#,
    compact_css!(),
    r#"</style></head><body>
<h1>volfit allocation report</h1>
<p class="note">{{ provenance }}</p>
{% for n in notices %}<p class="note">notice: {{ n }}</p>{% endfor %}
<h2>Summary</h2>
<table>{% for r in summary %}<tr><th class="l">{{ r.0 }}</th><td>{{ r.1 }}</td></tr>{% endfor %}</table>
<h2>Efficient frontier</h2>
<figure class="chart frontier">{{ frontier|safe }}<figcaption>Reward against risk over the λ grid (risk in USD of loss).</figcaption></figure>
<h2>Positions</h2>
<figure class="chart bars">{{ positions|safe }}<figcaption>Largest positions (units).</figcaption></figure>
<h2>Risk contributions</h2>
<figure class="chart bars">{{ contributions|safe }}<figcaption>Euler contributions x·∂ρ/∂x (USD); they sum to the risk.</figcaption></figure>
<h2>Margin per coin</h2>
<figure class="chart bars">{{ margin|safe }}<figcaption>Initial margin used as a share of collateral.</figcaption></figure>
<table><tr><th class="l">coin</th><th>margin used (coin)</th><th>collateral (coin)</th><th>available (coin)</th><th>used (USD)</th></tr>
{% for m in margins %}<tr><td class="l">{{ m.0 }}</td><td>{{ m.1 }}</td><td>{{ m.2 }}</td><td>{{ m.3 }}</td><td>{{ m.4 }}</td></tr>{% endfor %}</table>
<h2>Allocation</h2>
<table><tr><th class="l">candidate</th><th class="l">coin</th><th class="l">kind</th><th>x</th><th>price (USD)</th><th>risk contribution</th></tr>
{% for r in rows %}<tr><td class="l">{{ r.0 }}</td><td class="l">{{ r.1 }}</td><td class="l">{{ r.2 }}</td><td>{{ r.3 }}</td><td>{{ r.4 }}</td><td>{{ r.5 }}</td></tr>{% endfor %}
</table>
<p class="note">Binding constraints: {% for b in binding %}{{ b }}{% if not loop.last %}, {% endif %}{% endfor %}</p>
</body></html>
"#
);

#[derive(Serialize)]
struct Page {
    provenance: String,
    notices: Vec<String>,
    summary: Vec<(String, String)>,
    frontier: String,
    positions: String,
    contributions: String,
    margin: String,
    margins: Vec<(String, String, String, String, String)>,
    rows: Vec<(String, String, String, String, String, String)>,
    binding: Vec<String>,
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart as one `<svg>` element: `(label, value)` bars around a zero line.
pub fn bars(caption: &str, items: &[(String, f64)]) -> String {
    let items: Vec<&(String, f64)> = items.iter().filter(|i| i.1.is_finite()).collect();
    if items.is_empty() {
        return charts::empty(Size::WIDE, "no data");
    }
    let (w, row, left, top) = (940.0, 18.0, 220.0, 30.0);
    let h = top + row * items.len() as f64 + 20.0;
    let lo = items.iter().fold(0.0f64, |m, i| m.min(i.1));
    let hi = items.iter().fold(0.0f64, |m, i| m.max(i.1));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let plot = w - left - 80.0;
    let xpos = |v: f64| left + (v - lo) / span * plot;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><text x="{}" y="18" font-size="14" text-anchor="middle">{}</text>"#,
        w / 2.0,
        escape(caption)
    );
    let zero = xpos(0.0);
    for (k, (label, v)) in items.iter().enumerate() {
        let y = top + row * k as f64;
        let (a, b) = if *v >= 0.0 { (zero, xpos(*v)) } else { (xpos(*v), zero) };
        let fill = if *v >= 0.0 { "#1f77b4" } else { "#d62728" };
        s.push_str(&format!(
            r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text><rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/><text x="{:.1}" y="{}" font-size="10">{}</text>"#,
            left - 6.0,
            y + row * 0.7,
            escape(label),
            y + 2.0,
            (b - a).max(0.5),
            row - 4.0,
            b.max(zero) + 4.0,
            y + row * 0.7,
            escape(&num(*v))
        ));
    }
    s.push_str(&format!(
        r##"<line x1="{zero:.1}" y1="{top}" x2="{zero:.1}" y2="{:.1}" stroke="#444"/></svg>"##,
        h - 20.0
    ));
    s
}

/// Renders the allocation page.
///
/// # Errors
/// A template error (a bug, not bad data: every value is escaped).
pub fn render(out: &AllocOutput) -> Result<String, minijinja::Error> {
    let a = &out.allocation;
    let summary = vec![
        ("λ".to_string(), num(a.lambda)),
        ("reward".into(), num(a.reward)),
        ("expected P&L (USD)".into(), num(a.expected_pnl)),
        ("spread cost (USD)".into(), num(a.cost)),
        ("risk (USD of loss)".into(), num(a.risk)),
        ("risk, LP value".into(), num(a.risk_lp)),
        ("net premium paid (USD)".into(), num(a.premium_net)),
        ("gross premium (USD)".into(), num(a.premium_gross)),
        ("scenarios".into(), out.scenarios.to_string()),
        (
            "solver".into(),
            format!(
                "{} · {} · {} iterations · {} rounds · {:.3} s",
                a.solver.method,
                a.solver.status,
                a.solver.iterations,
                a.solver.rounds,
                a.solver.seconds
            ),
        ),
    ];
    let frontier = charts::lines(
        Size::WIDE,
        "Efficient frontier",
        "risk (USD)",
        "reward",
        &[Series {
            label: "frontier".into(),
            points: out.frontier.iter().map(|f| (f.risk, f.reward)).collect(),
        }],
        false,
    );
    let mut order: Vec<usize> = (0..a.x.len()).filter(|&i| a.x[i].abs() > 1e-9).collect();
    order.sort_by(|&i, &j| a.x[j].abs().total_cmp(&a.x[i].abs()));
    order.truncate(30);
    let positions = bars(
        "Positions (units)",
        &order.iter().map(|&i| (out.candidates[i].name.clone(), a.x[i])).collect::<Vec<_>>(),
    );
    let mut corder: Vec<usize> =
        (0..a.x.len()).filter(|&i| a.contributions[i].abs() > 1e-9).collect();
    corder.sort_by(|&i, &j| a.contributions[j].abs().total_cmp(&a.contributions[i].abs()));
    corder.truncate(30);
    let contributions = bars(
        "Risk contributions (USD)",
        &corder
            .iter()
            .map(|&i| (out.candidates[i].name.clone(), a.contributions[i]))
            .collect::<Vec<_>>(),
    );
    let margin = bars(
        "Margin used / collateral",
        &a.margin
            .iter()
            .filter_map(|m| Some((m.coin.clone(), m.used / m.collateral.filter(|c| *c > 0.0)?)))
            .collect::<Vec<_>>(),
    );
    let opt = |v: Option<f64>| v.map_or("–".to_string(), num);
    let margins = a
        .margin
        .iter()
        .map(|m| {
            (m.coin.clone(), num(m.used), opt(m.collateral), opt(m.available), opt(m.used_usd))
        })
        .collect();
    let rows = out
        .candidates
        .iter()
        .enumerate()
        .filter(|(i, _)| a.x[*i].abs() > 1e-9)
        .map(|(i, c)| {
            (
                c.name.clone(),
                c.coin.clone(),
                c.kind.clone(),
                num(a.x[i]),
                num(c.price_usd),
                num(a.contributions[i]),
            )
        })
        .collect();
    let page = Page {
        provenance: out.provenance.clone(),
        notices: out.notices.clone(),
        summary,
        frontier,
        positions,
        contributions,
        margin,
        margins,
        rows,
        binding: a.binding.clone(),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("alloc.html", TEMPLATE)?;
    env.get_template("alloc.html")?.render(minijinja::value::Serde(&page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::{solve, Budget, Group, Position, Problem, Settings};
    use crate::risk::Scenarios;

    fn output() -> AllocOutput {
        let pnl = Scenarios::new(vec![2.0, -1.0, -1.0, 0.5, 0.3, 0.2], 3, 2).unwrap();
        let problem = Problem {
            pnl,
            probs: None,
            positions: ["BTC-A<&>", "ETH-B"]
                .iter()
                .enumerate()
                .map(|(i, n)| Position {
                    name: (*n).into(),
                    group: i,
                    price_usd: 1.0,
                    spread_usd: 0.0,
                    min: -1.0,
                    max: 1.0,
                })
                .collect(),
            groups: ["BTC", "ETH"]
                .iter()
                .map(|n| Group {
                    name: (*n).into(),
                    net_limit: None,
                    gross_limit: None,
                    collateral: Some(1.0),
                    margin: Some(Scenarios::new(vec![-0.1, -0.1], 1, 2).unwrap()),
                    price_usd: Some(100.0),
                })
                .collect(),
            budget: Budget::default(),
        };
        let s = Settings { lambda: 0.2, ..Settings::default() };
        let allocation = solve(&problem, &s).unwrap();
        let frontier = crate::alloc::frontier(&problem, &s, &[0.1, 1.0])
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        AllocOutput {
            config: serde_json::json!({"lambda": 0.2}),
            candidates: problem
                .positions
                .iter()
                .map(|p| CandidateRow {
                    name: p.name.clone(),
                    coin: problem.groups[p.group].name.clone(),
                    kind: "future".into(),
                    price_usd: p.price_usd,
                    spread_usd: p.spread_usd,
                    min: p.min,
                    max: p.max,
                })
                .collect(),
            allocation,
            frontier,
            provenance: "unit test <matrix>".into(),
            scenarios: 3,
            notices: vec![],
        }
    }

    #[test]
    fn writes_every_file_and_escapes() {
        let out = output();
        let dir = tempfile::tempdir().unwrap();
        let paths = write_all(dir.path(), &out).unwrap();
        assert_eq!(paths.len(), 4);
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("BTC-A&lt;&amp;&gt;") && !html.contains("BTC-A<&>"));
        assert!(html.contains("unit test &lt;matrix&gt;"));
        assert!(html.matches("<svg").count() >= 4, "frontier, positions, contributions, margin");
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("allocation.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["margin"].as_array().unwrap().len(), 2);
        assert_eq!(json["frontier"].as_array().unwrap().len(), 2);
        assert!(json["summary"]["risk"].as_f64().is_some());
        let csv = std::fs::read_to_string(dir.path().join("allocation.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.starts_with("candidate,coin,kind,x,price_usd"));
        let front = std::fs::read_to_string(dir.path().join("frontier.csv")).unwrap();
        assert_eq!(front.lines().count(), 3);
    }
}
