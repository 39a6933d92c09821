//! Outputs of an allocation run: `allocation.csv`, `frontier.csv`, `allocation.json` and a
//! self-contained `report.html` (inline SVG, no script, no network): the verdict (empty
//! book, binding constraints, the chosen point on the frontier), the frontier labelled with
//! λ, the positions, the risk contributions, the book's greeks per coin, its scenario P&L
//! histogram with VaR/ES, the spot × vol stress grid and the margin per coin. Every file
//! is written atomically. The page is drawn from what the files hold (`render_dir`
//! redraws it from the folder alone).

use super::data::{csv_err as read_csv_err, read_json, ReportError};
use super::page::{self, num, pct, with_unit, Verdict};
use super::svg::{self, Bar, Chart, ChartAxis, Line};
use crate::alloc::{Allocation, FrontierPoint};
use crate::io::write_atomic;
use crate::risk::{evaluate, RiskMeasure, Sample, Scenarios};
use crate::scenario::ScenarioSet;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Positions smaller than this (units) are shown as 0: interior-point noise (1e-7) is no
/// position.
pub const POSITION_TOL: f64 = 1e-6;

/// A book whose risk and expected P&L are both below this (USD) is effectively empty: what
/// is left is solver noise (the synthetic Monte Carlo is a martingale, so its best book is
/// nearly empty).
pub const EMPTY_BOOK_USD: f64 = 0.01;

/// True when a book with this risk and reward (or expected P&L), USD, is effectively empty.
fn negligible(risk: f64, reward: f64) -> bool {
    risk.abs() < EMPTY_BOOK_USD && reward.abs() < EMPTY_BOOK_USD
}

/// The book at the chosen allocation: its scenario P&L and its stress grids per coin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BookView {
    /// Book P&L per scenario, USD (the allocation's x times the scenario matrix).
    pub scenario_pnl_usd: Vec<f64>,
    /// VaR at 95 % of the book P&L, USD of loss (NaN/null when there are no scenarios).
    pub var_95_usd: Option<f64>,
    /// ES at 97.5 %, USD of loss.
    pub es_975_usd: Option<f64>,
    /// Spot × vol stress grid and greeks per coin.
    pub stress: Vec<StressGrid>,
}

/// The book revalued under the margin grid's (spot move, relative vol shock) pairs of one
/// coin, with the greeks read off it by central differences.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StressGrid {
    /// The coin.
    pub coin: String,
    /// Coin price, USD.
    pub spot_usd: f64,
    /// Relative spot moves (rows).
    pub moves: Vec<f64>,
    /// Relative vol shocks (columns): σ → σ·(1 + shock).
    pub vol_shocks: Vec<f64>,
    /// Book P&L, USD, `[move][shock]` (null where a pair is missing).
    pub pnl_usd: Vec<Vec<Option<f64>>>,
    /// ∂P/∂S, coin (central difference over the smallest spot moves, vol unchanged).
    pub delta_coin: Option<f64>,
    /// Change of delta per +1 % spot move, coin.
    pub gamma_coin_per_pct: Option<f64>,
    /// P&L per +1 % relative vol move (σ → 1.01σ), USD.
    pub vega_usd_per_pct: Option<f64>,
    /// Theta of the coin's positions, USD per calendar day: `Σ x_i·θ_i` of the candidates'
    /// Black-76 thetas at their valuation vols ([`Candidate::theta_usd_per_day`]).
    ///
    /// [`Candidate::theta_usd_per_day`]: crate::scenario::Candidate::theta_usd_per_day
    #[serde(default)]
    pub theta_usd_per_day: Option<f64>,
}

/// The book view of allocation `x` over `set` (its margin grids) and the scenario matrix
/// `pnl` with probabilities `probs`.
pub fn book_view(set: &ScenarioSet, pnl: &Scenarios, probs: Option<&[f64]>, x: &[f64]) -> BookView {
    let mut scen = vec![0.0; pnl.rows()];
    if pnl.cols() == x.len() {
        pnl.pnl_into(x, &mut scen);
    }
    let sample = match probs {
        Some(p) => Sample::weighted(scen.clone(), p.to_vec()),
        None => Sample::new(scen.clone()),
    };
    let risk = sample.ok().and_then(|s| {
        evaluate(&s, &[RiskMeasure::Var { alpha: 0.95 }, RiskMeasure::Es { alpha: 0.975 }]).ok()
    });
    let stress = set
        .margin
        .iter()
        .filter_map(|g| {
            let spot = set.coin_price_usd.iter().find(|c| c.0 == g.coin)?.1;
            let mut row = vec![0.0; g.pnl_coin.rows()];
            (g.pnl_coin.cols() == x.len()).then(|| g.pnl_coin.pnl_into(x, &mut row))?;
            let usd: Vec<f64> =
                row.iter().zip(&g.shocks).map(|(p, (m, _))| p * spot * (1.0 + m)).collect();
            let mut grid = stress_grid(&g.coin.to_string(), spot, &g.shocks, &usd);
            grid.theta_usd_per_day = (set.candidates.len() == x.len()).then(|| {
                let of_coin = set.candidates.iter().zip(x).filter(|(c, _)| c.coin == g.coin);
                of_coin.map(|(c, xi)| c.theta_usd_per_day * xi).sum::<f64>() + 0.0
            });
            Some(grid)
        })
        .collect();
    BookView {
        scenario_pnl_usd: scen,
        var_95_usd: risk.as_ref().map(|r| r[0]),
        es_975_usd: risk.as_ref().map(|r| r[1]),
        stress,
    }
}

fn sorted_unique(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// The grid of `usd` (one value per shock pair) and its central-difference greeks.
fn stress_grid(coin: &str, spot: f64, shocks: &[(f64, f64)], usd: &[f64]) -> StressGrid {
    let moves = sorted_unique(shocks.iter().map(|s| s.0));
    let vols = sorted_unique(shocks.iter().map(|s| s.1));
    let at = |m: f64, v: f64| shocks.iter().position(|s| *s == (m, v)).map(|i| usd[i]);
    let pnl_usd = moves.iter().map(|&m| vols.iter().map(|&v| at(m, v)).collect()).collect();
    let small = |xs: &[f64]| xs.iter().copied().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
    let (h, dv) = (small(&moves), small(&vols));
    let centre = at(0.0, 0.0);
    let (up, down) = (at(h, 0.0), at(-h, 0.0));
    let delta_coin = up.zip(down).map(|(u, d)| (u - d) / (2.0 * h * spot));
    let gamma_coin_per_pct = up
        .zip(down)
        .zip(centre)
        .map(|((u, d), c)| (u - 2.0 * c + d) / (h * spot).powi(2) * 0.01 * spot);
    let vega_usd_per_pct = at(0.0, dv).zip(at(0.0, -dv)).map(|(u, d)| (u - d) / (2.0 * dv) * 0.01);
    StressGrid {
        coin: coin.into(),
        spot_usd: spot,
        moves,
        vol_shocks: vols,
        pnl_usd,
        delta_coin,
        gamma_coin_per_pct,
        vega_usd_per_pct,
        theta_usd_per_day: None,
    }
}

/// One candidate as shown in the tables.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateRow {
    /// Instrument name.
    pub name: String,
    /// Coin.
    pub coin: String,
    /// `call`, `put`, `future` or `perpetual`.
    pub kind: String,
    /// Mid premium per unit, USD (0 for futures and perpetuals: no premium is paid).
    pub price_usd: f64,
    /// Ask − bid per unit, USD.
    pub spread_usd: f64,
    /// The futures price of a future, the forward of an option's expiry, the index of the
    /// perpetual, USD.
    pub underlying_price_usd: f64,
    /// Black-76 theta per unit, USD per calendar day (0 for delta one).
    pub theta_usd_per_day: f64,
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
    /// The chosen book's scenario P&L and stress grids ([`book_view`]).
    pub book: BookView,
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
            "underlying_price_usd",
            "theta_usd_per_day",
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
                format!("{}", cand.underlying_price_usd),
                format!("{}", cand.theta_usd_per_day),
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
            "positions_nonzero": a.x.iter().filter(|v| v.abs() > POSITION_TOL).count(),
            "binding": a.binding,
            "max_violation": a.max_violation,
        },
        "margin": a.margin,
        "solver": a.solver,
        "frontier": out.frontier.iter().map(|f| serde_json::json!({
            "lambda": f.lambda, "reward": finite(f.reward), "risk": f.risk, "risk_lp": finite(f.risk_lp),
            "positions_nonzero": f.x.iter().filter(|v| v.abs() > POSITION_TOL).count(),
        })).collect::<Vec<_>>(),
        "book": out.book,
        "scenarios": out.scenarios,
        "provenance": out.provenance,
        "notices": out.notices,
    })
}

/// One candidate as the page shows it.
#[derive(Clone, Debug, Deserialize)]
struct PositionRow {
    candidate: String,
    coin: String,
    kind: String,
    x: f64,
    price_usd: f64,
    risk_contribution: f64,
    /// Absent from `allocation.csv` before these columns existed.
    #[serde(default)]
    underlying_price_usd: Option<f64>,
    #[serde(default)]
    theta_usd_per_day: Option<f64>,
}

/// What the page is drawn from: `allocation.json` and the rows of `allocation.csv`.
struct AllocView {
    json: serde_json::Value,
    rows: Vec<PositionRow>,
}

impl AllocView {
    fn f(&self, path: &[&str]) -> f64 {
        let mut v = &self.json;
        for p in path {
            v = &v[*p];
        }
        v.as_f64().unwrap_or(f64::NAN)
    }

    fn book(&self) -> BookView {
        serde_json::from_value(self.json["book"].clone()).unwrap_or_default()
    }

    fn held(&self) -> Vec<&PositionRow> {
        self.rows.iter().filter(|r| r.x.abs() > POSITION_TOL).collect()
    }
}

const TEMPLATE: &str = r#"
<p class="note">{{ provenance }}</p>
{% for n in notices %}<p class="note">notice: {{ n }}</p>{% endfor %}
<section id="summary"><h2>Summary</h2>
<div class="table-wrap"><table>{% for r in summary %}<tr><th class="l">{{ r.0 }}</th><td>{{ r.1 }}</td></tr>{% endfor %}</table></div></section>
<section id="frontier"><h2>Efficient frontier</h2>
{% if frontier %}<figure class="chart frontier">{{ frontier|safe }}<figcaption>Expected reward against risk (USD of loss) over the λ grid; each point is labelled with its λ, the red line is the chosen λ's risk.</figcaption></figure>{% endif %}
{% for n in frontier_notes %}<p class="note">{{ n }}</p>{% endfor %}</section>
<section id="positions"><h2>Positions and risk contributions</h2>
<p class="note">Positions below {{ tol }} units, and risk contributions below 10⁻⁴ of the largest one (or 10⁻⁶ USD), are shown as 0: solver noise.</p>
<figure class="chart bars">{{ positions|safe }}<figcaption>Largest positions (units; + long, − short).</figcaption></figure>
<figure class="chart bars">{{ contributions|safe }}<figcaption>Euler contributions x·∂ρ/∂x (USD); they sum to the risk.</figcaption></figure>
<p class="note">Premium: the option's mid per unit (none for futures and perpetuals); price: the future's price, the option expiry's forward, the perpetual's index.</p>
<div class="table-wrap"><table><tr><th class="l">candidate</th><th class="l">coin</th><th class="l">kind</th><th>x (units)</th><th>premium (USD per unit)</th><th>price / forward (USD)</th><th>theta (USD per day, position)</th><th>risk contribution (USD)</th></tr>
{% for r in rows %}<tr><td class="l">{{ r.0 }}</td><td class="l">{{ r.1 }}</td><td class="l">{{ r.2 }}</td><td>{{ r.3 }}</td><td>{{ r.4 }}</td><td>{{ r.5 }}</td><td>{{ r.6 }}</td><td>{{ r.7 }}</td></tr>{% endfor %}
</table></div></section>
<section id="greeks"><h2>Book greeks per coin</h2>
<p class="note">Central differences on the margin grid's full revaluation (spot ±{{ h }}, vol unchanged; vol ± shock, spot unchanged). Theta: the options' Black-76 thetas at their valuation vols times the positions, USD per calendar day.</p>
<div class="table-wrap"><table><tr><th class="l">coin</th><th>spot (USD)</th><th>delta (coin)</th><th>gamma (coin per +1 % spot)</th><th>vega (USD per +1 % rel. vol)</th><th>theta (USD per day)</th></tr>
{% for g in greeks %}<tr><td class="l">{{ g.0 }}</td><td>{{ g.1 }}</td><td>{{ g.2 }}</td><td>{{ g.3 }}</td><td>{{ g.4 }}</td><td>{{ g.5 }}</td></tr>{% endfor %}
</table></div></section>
<section id="scenarios"><h2>Scenario P&amp;L of the book</h2>
<figure class="chart histogram">{{ histogram|safe }}<figcaption>Book P&amp;L per scenario (USD) at the chosen allocation; VaR95 and ES97.5 marked as losses.</figcaption></figure></section>
<section id="stress"><h2>Spot × vol stress grid</h2>
<p class="note">Book P&amp;L (USD) under each (spot move, relative vol shock) of the margin grid, full revaluation at the valuation time.</p>
{% for g in stress %}<h3>{{ g.title }}</h3><div class="table-wrap"><table data-table="stress"><tr><th class="l">spot move \ vol shock</th>{% for v in g.cols %}<th>{{ v }}</th>{% endfor %}</tr>
{% for r in g.rows %}<tr><th class="l">{{ r.0 }}</th>{% for c in r.1 %}<td class="heat" style="background:{{ c.1 }}">{{ c.0 }}</td>{% endfor %}</tr>{% endfor %}</table></div>{% endfor %}
</section>
<section id="margin"><h2>Margin per coin</h2>
<figure class="chart bars">{{ margin|safe }}<figcaption>Initial margin used as a share of collateral.</figcaption></figure>
<div class="table-wrap"><table><tr><th class="l">coin</th><th>margin used (coin)</th><th>collateral (coin)</th><th>available (coin)</th><th>used (USD)</th></tr>
{% for m in margins %}<tr><td class="l">{{ m.0 }}</td><td>{{ m.1 }}</td><td>{{ m.2 }}</td><td>{{ m.3 }}</td><td>{{ m.4 }}</td></tr>{% endfor %}</table></div>
<p class="note">Binding constraints: {% for b in binding %}{{ b }}{% if not loop.last %}, {% endif %}{% else %}none{% endfor %}</p></section>
"#;

#[derive(Serialize)]
struct StressTable {
    title: String,
    cols: Vec<String>,
    rows: Vec<(String, Vec<(String, String)>)>,
}

#[derive(Serialize)]
struct Page {
    title: String,
    nav: Vec<page::Link>,
    verdict: Verdict,
    provenance: String,
    notices: Vec<String>,
    summary: Vec<(String, String)>,
    frontier: String,
    frontier_notes: Vec<String>,
    tol: String,
    positions: String,
    contributions: String,
    rows: Vec<[String; 8]>,
    h: String,
    greeks: Vec<[String; 6]>,
    histogram: String,
    stress: Vec<StressTable>,
    margin: String,
    margins: Vec<(String, String, String, String, String)>,
    binding: Vec<String>,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn verdict(v: &AllocView) -> Verdict {
    let mut out = Verdict { tone: "ok", ..Verdict::default() };
    let lambda = v.f(&["summary", "lambda"]);
    let held = v.held();
    let binding = strings(&v.json["summary"]["binding"]);
    let risk = v.f(&["summary", "risk"]);
    let expected = v.f(&["summary", "expected_pnl_usd"]);
    if held.is_empty() || negligible(risk, expected) {
        out.tone = "warn";
        out.headline = if held.is_empty() {
            format!(
                "Empty portfolio at λ = {}: no position above {POSITION_TOL} units.",
                num(lambda)
            )
        } else {
            format!(
                "Empty portfolio in effect at λ = {}: risk {} USD and expected P&L {} USD (both \
                 below {EMPTY_BOOK_USD} USD); the {} position(s) left are solver noise.",
                num(lambda),
                num(risk),
                num(expected),
                held.len()
            )
        };
        out.attention.push(
            "Nothing is worth trading at this λ: no candidate's expected P&L covers its spread \
             cost and risk. Lower λ, widen the candidates, or check the scenarios."
                .into(),
        );
    } else {
        out.headline = format!(
            "{} position(s) at λ = {}: expected P&L {} USD for a risk of {} USD (reward {}).",
            held.len(),
            num(lambda),
            num(v.f(&["summary", "expected_pnl_usd"])),
            num(v.f(&["summary", "risk"])),
            num(v.f(&["summary", "reward"]))
        );
    }
    out.facts.push((
        "binding constraints".into(),
        if binding.is_empty() { "none".into() } else { binding.join(", ") },
    ));
    let front: Vec<&serde_json::Value> =
        v.json["frontier"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let pos = front.iter().filter(|p| p["lambda"].as_f64().is_some_and(|l| l > lambda)).count();
    out.facts.push((
        "chosen point on the frontier".into(),
        format!(
            "λ = {}: risk {} USD, reward {}; {} of {} frontier points are more risk-averse",
            num(lambda),
            num(risk),
            num(v.f(&["summary", "reward"])),
            pos,
            front.len()
        ),
    ));
    let book = v.book();
    if let (Some(var), Some(es)) = (book.var_95_usd, book.es_975_usd) {
        out.facts.push(("book VaR95 / ES97.5".into(), format!("{} / {} USD", num(var), num(es))));
    }
    out.facts.push(("spread cost".into(), with_unit(v.f(&["summary", "cost_usd"]), "USD")));
    for m in v.json["margin"].as_array().into_iter().flatten() {
        let (used, coll) = (m["used"].as_f64(), m["collateral"].as_f64());
        if let (Some(u), Some(c)) = (used, coll.filter(|c| *c > 0.0)) {
            let coin = m["coin"].as_str().unwrap_or("?");
            out.facts.push((format!("{coin} margin used"), pct(u / c)));
            if u / c > 0.9 {
                out.attention
                    .push(format!("{coin}: {} of the collateral is used as margin.", pct(u / c)));
            }
        }
    }
    let viol = v.f(&["summary", "max_violation"]);
    if viol > 1e-6 {
        out.attention.push(format!("The solver left a constraint violated by {}.", num(viol)));
    }
    if !out.attention.is_empty() && out.tone == "ok" {
        out.tone = "warn";
    }
    out
}

/// The frontier chart (points labelled with λ), or notes when it would be degenerate.
fn frontier(v: &AllocView, notes: &mut Vec<String>) -> String {
    let pts: Vec<(f64, f64, f64, u64)> = v.json["frontier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["lambda"].as_f64()?,
                p["risk"].as_f64()?,
                p["reward"].as_f64()?,
                p["positions_nonzero"].as_u64().unwrap_or(u64::MAX),
            ))
        })
        .collect();
    if pts.is_empty() {
        notes.push("No frontier points (frontier = [] or every solve failed).".into());
        return String::new();
    }
    if pts.iter().all(|p| p.3 == 0 || negligible(p.1, p.2)) {
        notes.push(format!(
            "Every one of the {} frontier points (λ = {} … {}) is an empty book (no position \
             above {POSITION_TOL} units, or risk and reward below {EMPTY_BOOK_USD} USD): \
             nothing to draw. No candidate pays for its risk and spread at these λ.",
            pts.len(),
            num(pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min)),
            num(pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max))
        ));
        return String::new();
    }
    let line = Line {
        label: "frontier".into(),
        points: pts.iter().map(|p| (p.1, p.2)).collect(),
        titles: pts
            .iter()
            .map(|p| format!("λ = {}: risk {} USD, reward {} USD", num(p.0), num(p.1), num(p.2)))
            .collect(),
        dashed: false,
    };
    let risk = v.f(&["summary", "risk"]);
    let chart = Chart {
        title: "Efficient frontier (labels: λ)".into(),
        x: ChartAxis { label: "risk (USD of loss)".into(), ticks: None, zero: false },
        y: ChartAxis { label: "reward (USD)".into(), ticks: None, zero: false },
        lines: vec![line],
        vlines: if risk.is_finite() {
            vec![(risk, format!("chosen λ = {}", num(v.f(&["summary", "lambda"]))))]
        } else {
            Vec::new()
        },
    };
    let svg = svg::line_chart(&chart);
    // λ labels as visible text beside each point (the hover title has the numbers).
    let labels: String =
        pts.iter().map(|p| format!("λ = {}", num(p.0))).collect::<Vec<_>>().join(" · ");
    notes.push(format!("Frontier points, λ decreasing: {labels}."));
    svg
}

fn heat(share: f64) -> String {
    // Losses red, gains green.
    let s = share.clamp(-1.0, 1.0);
    if s < 0.0 {
        format!("rgb(255,{:.0},{:.0})", 255.0 + 120.0 * s, 255.0 + 120.0 * s)
    } else {
        format!("rgb({:.0},255,{:.0})", 255.0 - 90.0 * s, 255.0 - 90.0 * s)
    }
}

fn stress_tables(book: &BookView) -> Vec<StressTable> {
    book.stress
        .iter()
        .map(|g| {
            let max = g.pnl_usd.iter().flatten().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            StressTable {
                title: format!("{} (spot {} USD)", g.coin, num(g.spot_usd)),
                cols: g.vol_shocks.iter().map(|v| format!("vol {}", pct(*v))).collect(),
                rows: g
                    .moves
                    .iter()
                    .zip(&g.pnl_usd)
                    .map(|(m, r)| {
                        let cells = r
                            .iter()
                            .map(|c| match c {
                                Some(c) => (num(*c), heat(if max > 0.0 { c / max } else { 0.0 })),
                                None => ("–".into(), "#fff".into()),
                            })
                            .collect();
                        (format!("spot {}", pct(*m)), cells)
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The book's scenario P&L histogram with its VaR95 and ES97.5 marked.
fn scenario_histogram(book: &BookView, empty: bool) -> String {
    let (var, es) = (book.var_95_usd.unwrap_or(f64::NAN), book.es_975_usd.unwrap_or(f64::NAN));
    let pnl = &book.scenario_pnl_usd;
    let (lo, hi) = pnl
        .iter()
        .chain([&-var, &-es])
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(*x), h.max(*x)));
    if empty {
        svg::empty("empty book: every scenario P&L is 0")
    } else {
        let pad = 0.02 * (hi - lo);
        svg::histogram(
            "Book P&L per scenario",
            "book P&L (USD)",
            pnl,
            (lo - pad, hi + pad),
            &[(-var, format!("−VaR95 {}", num(var))), (-es, format!("−ES97.5 {}", num(es)))],
        )
    }
}

/// One margin table row: coin, used, collateral, available, used in USD (formatted).
type MarginRow = (String, String, String, String, String);

/// Margin use per coin: bars of used / collateral and the table rows.
fn margin_parts(v: &AllocView) -> (Vec<Bar>, Vec<MarginRow>) {
    let mut margin_bars = Vec::new();
    let mut margins = Vec::new();
    for m in v.json["margin"].as_array().into_iter().flatten() {
        let coin = m["coin"].as_str().unwrap_or("?").to_string();
        let o = |k: &str| m[k].as_f64().map_or("–".to_string(), num);
        if let (Some(u), Some(c)) =
            (m["used"].as_f64(), m["collateral"].as_f64().filter(|c| *c > 0.0))
        {
            margin_bars.push(Bar {
                label: coin.clone(),
                value: u / c,
                title: format!("{coin}: {}", pct(u / c)),
            });
        }
        margins.push((coin, o("used"), o("collateral"), o("available"), o("used_usd")));
    }
    (margin_bars, margins)
}

/// The summary table: the chosen point, its costs and the solver's run.
fn summary_rows(v: &AllocView) -> Vec<(String, String)> {
    let s = |k: &str| v.f(&["summary", k]);
    let solver = &v.json["solver"];
    vec![
        ("λ".to_string(), num(s("lambda"))),
        ("reward (USD)".into(), num(s("reward"))),
        ("expected P&L (USD)".into(), num(s("expected_pnl_usd"))),
        ("spread cost (USD)".into(), num(s("cost_usd"))),
        ("risk (USD of loss)".into(), num(s("risk"))),
        ("risk, LP value (USD)".into(), num(s("risk_lp"))),
        ("net premium paid (USD)".into(), num(s("premium_net_usd"))),
        ("gross premium (USD)".into(), num(s("premium_gross_usd"))),
        (
            "scenarios".into(),
            v.json["scenarios"].as_u64().map_or("–".into(), |n| page::count(n as usize)),
        ),
        (
            "solver".into(),
            format!(
                "{} · {} · {} iterations · {} rounds · {} s",
                solver["method"].as_str().unwrap_or("?"),
                solver["status"].as_str().unwrap_or("?"),
                solver["iterations"],
                solver["rounds"],
                num(solver["seconds"].as_f64().unwrap_or(f64::NAN))
            ),
        ),
    ]
}

fn render_view(v: &AllocView) -> Result<String, minijinja::Error> {
    let summary = summary_rows(v);
    let mut frontier_notes = Vec::new();
    let frontier = frontier(v, &mut frontier_notes);
    let mut held = v.held();
    held.sort_by(|a, b| b.x.abs().total_cmp(&a.x.abs()));
    let bar = |r: &PositionRow, value: f64, unit: &str| Bar {
        label: r.candidate.clone(),
        value,
        title: format!("{} ({} {}): {} {unit}", r.candidate, r.coin, r.kind, num(value)),
    };
    let positions: Vec<Bar> = held.iter().take(30).map(|r| bar(r, r.x, "units")).collect();
    let cmax = v.rows.iter().map(|r| r.risk_contribution.abs()).fold(0.0, f64::max);
    let ctol = (1e-4 * cmax).max(1e-6);
    let mut contrib: Vec<&PositionRow> =
        v.rows.iter().filter(|r| r.risk_contribution.abs() > ctol).collect();
    contrib.sort_by(|a, b| b.risk_contribution.abs().total_cmp(&a.risk_contribution.abs()));
    let contributions: Vec<Bar> =
        contrib.iter().take(30).map(|r| bar(r, r.risk_contribution, "USD")).collect();
    let book = v.book();
    let greeks = book
        .stress
        .iter()
        .map(|g| {
            let o = |x: Option<f64>| x.map_or("–".to_string(), num);
            [
                g.coin.clone(),
                num(g.spot_usd),
                o(g.delta_coin),
                o(g.gamma_coin_per_pct),
                o(g.vega_usd_per_pct),
                o(g.theta_usd_per_day),
            ]
        })
        .collect();
    let h = book
        .stress
        .first()
        .and_then(|g| g.moves.iter().copied().filter(|m| *m > 0.0).reduce(f64::min))
        .map_or("–".into(), pct);
    let histogram = scenario_histogram(&book, held.is_empty());
    let (margin_bars, margins) = margin_parts(v);
    let rows = held
        .iter()
        .map(|r| {
            let delta_one = r.kind == "future" || r.kind == "perpetual";
            let o = |v: Option<f64>| v.map_or_else(|| "–".to_string(), num);
            [
                r.candidate.clone(),
                r.coin.clone(),
                r.kind.clone(),
                num(r.x),
                if delta_one { "none".into() } else { num(r.price_usd) },
                o(r.underlying_price_usd),
                o(r.theta_usd_per_day.map(|t| t * r.x + 0.0)),
                num(if r.risk_contribution.abs() > ctol { r.risk_contribution } else { 0.0 }),
            ]
        })
        .collect();
    let page = Page {
        title: "volfit allocation report".into(),
        nav: page::nav(
            "Allocate",
            &[],
            &[
                ("frontier", "Frontier"),
                ("positions", "Positions"),
                ("greeks", "Greeks"),
                ("scenarios", "Scenario P&L"),
                ("stress", "Stress grid"),
                ("margin", "Margin"),
            ],
        ),
        verdict: verdict(v),
        provenance: v.json["provenance"].as_str().unwrap_or_default().to_string(),
        notices: strings(&v.json["notices"]),
        summary,
        frontier,
        frontier_notes,
        tol: format!("{POSITION_TOL}"),
        positions: if positions.is_empty() {
            svg::empty("empty book: no position above the tolerance")
        } else {
            svg::hbars("Positions", "units", &positions)
        },
        contributions: svg::hbars("Risk contributions", "USD", &contributions),
        rows,
        h,
        greeks,
        histogram,
        stress: stress_tables(&book),
        margin: svg::hbars("Margin used / collateral", "", &margin_bars),
        margins,
        binding: strings(&v.json["summary"]["binding"]),
    };
    page::render(TEMPLATE, &page)
}

/// Renders the allocation page.
///
/// # Errors
/// A template error (a bug, not bad data: every value is escaped).
pub fn render(out: &AllocOutput) -> Result<String, minijinja::Error> {
    let a = &out.allocation;
    let rows = out
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| PositionRow {
            candidate: c.name.clone(),
            coin: c.coin.clone(),
            kind: c.kind.clone(),
            x: a.x[i],
            price_usd: c.price_usd,
            risk_contribution: a.contributions[i],
            underlying_price_usd: Some(c.underlying_price_usd),
            theta_usd_per_day: Some(c.theta_usd_per_day),
        })
        .collect();
    render_view(&AllocView { json: json_view(out), rows })
}

/// Renders the allocation page of an output folder from `allocation.json` and
/// `allocation.csv`.
///
/// # Errors
/// A missing or unparsable file.
pub(super) fn render_dir(dir: &Path) -> Result<String, ReportError> {
    let json: serde_json::Value = read_json(&dir.join("allocation.json"))?.unwrap_or_default();
    let path = dir.join("allocation.csv");
    let err = |e| read_csv_err(&path, e);
    let rows = csv::Reader::from_path(&path)
        .and_then(|mut r| r.deserialize().collect::<Result<Vec<PositionRow>, _>>())
        .map_err(err)?;
    Ok(render_view(&AllocView { json, rows })?)
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
                    underlying_price_usd: 90_000.0,
                    theta_usd_per_day: 0.0,
                    min: p.min,
                    max: p.max,
                })
                .collect(),
            allocation,
            frontier,
            provenance: "unit test <matrix>".into(),
            scenarios: 3,
            notices: vec![],
            book: BookView::default(),
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
        let head = csv.lines().next().unwrap();
        assert!(head.ends_with(",risk_contribution,underlying_price_usd,theta_usd_per_day"));
        let front = std::fs::read_to_string(dir.path().join("frontier.csv")).unwrap();
        assert_eq!(front.lines().count(), 3);
    }

    fn view(x: &[f64], frontier: &serde_json::Value) -> AllocView {
        let rows = x
            .iter()
            .enumerate()
            .map(|(i, &x)| PositionRow {
                candidate: format!("C{i}"),
                coin: "BTC".into(),
                kind: "call".into(),
                x,
                price_usd: 10.0,
                risk_contribution: x * 3.0,
                underlying_price_usd: Some(90_000.0),
                theta_usd_per_day: Some(-2.0),
            })
            .collect();
        AllocView {
            json: serde_json::json!({
                "summary": {"lambda": 1.0, "reward": 5.0, "expected_pnl_usd": 6.0, "risk": 4.0,
                    "cost_usd": 0.1, "binding": ["BTC net delta"], "max_violation": 0.0},
                "frontier": frontier, "margin": [], "solver": {}, "scenarios": 10,
            }),
            rows,
        }
    }

    /// Issue 16: futures were listed at price 0 (their premium). The table shows the
    /// future's price and no premium; theta per coin shows in the greeks table.
    #[test]
    fn futures_show_their_price_and_theta_per_coin_shows() {
        let mut v = view(&[2.0, 1.0], &serde_json::json!([]));
        v.rows[0].kind = "future".into();
        let grid = StressGrid {
            coin: "BTC".into(),
            spot_usd: 90_000.0,
            theta_usd_per_day: Some(-12.5),
            ..StressGrid::default()
        };
        v.json["book"] =
            serde_json::to_value(BookView { stress: vec![grid], ..BookView::default() }).unwrap();
        let html = render_view(&v).unwrap();
        let row = |name: &str| {
            let at = html.find(&format!("<td class=\"l\">{name}</td>")).expect("row");
            html[at..].split("</tr>").next().unwrap().to_string()
        };
        let future = row("C0");
        assert!(future.contains("<td>none</td><td>90,000</td><td>−4</td>"), "{future}");
        let call = row("C1");
        assert!(call.contains("<td>10</td><td>90,000</td><td>−2</td>"), "{call}");
        assert!(html.contains("<th>theta (USD per day)</th>"));
        assert!(html.contains("<td>−12.5</td>"), "theta per coin");
    }

    /// 1e-7 noise is no position: no bar, no table row (before: every |x| > 1e-9 was drawn
    /// as a bar).
    #[test]
    fn noise_positions_are_zero_and_said_so() {
        let v = view(&[1e-7, 0.5, -2e-7], &serde_json::json!([]));
        assert_eq!(v.held().len(), 1);
        let html = render_view(&v).unwrap();
        assert!(html.contains(">C1<") && !html.contains(">C0<") && !html.contains(">C2<"));
        assert!(html.contains("are shown as 0"));
        let verdict = verdict(&v);
        assert!(verdict.headline.starts_with("1 position(s)"), "{}", verdict.headline);
        assert!(verdict.facts.iter().any(|f| f.1 == "BTC net delta"));
    }

    /// Empty books: the verdict says so and the frontier of empty books is not drawn
    /// (before: a frontier of all-zero books with "-0.0" ticks).
    #[test]
    fn empty_books_are_called_empty() {
        let front = serde_json::json!([
            {"lambda": 2.0, "reward": -0.0, "risk": 0.0, "positions_nonzero": 0},
            {"lambda": 1.0, "reward": 1e-7, "risk": 2e-7, "positions_nonzero": 3}]);
        let v = view(&[1e-8], &front);
        assert!(verdict(&v).headline.starts_with("Empty portfolio at λ = 1"));
        let mut notes = Vec::new();
        assert!(frontier(&v, &mut notes).is_empty());
        assert!(notes[0].contains("is an empty book"), "{notes:?}");
        let front = serde_json::json!([
            {"lambda": 2.0, "reward": 1.0, "risk": 2.0, "positions_nonzero": 2},
            {"lambda": 1.0, "reward": 3.0, "risk": 5.0, "positions_nonzero": 3}]);
        let svg = frontier(&view(&[1.0], &front), &mut Vec::new());
        assert!(svg.contains("<title>λ = 2: risk 2 USD, reward 1 USD</title>"), "{svg}");
    }

    /// The greeks read off a stress grid of a linear book: delta exact, gamma 0.
    #[test]
    fn stress_grid_greeks_of_a_linear_book() {
        let shocks: Vec<(f64, f64)> =
            [-0.1, 0.0, 0.1].iter().flat_map(|&m| [-0.3, 0.0, 0.3].map(|v| (m, v))).collect();
        // 2 coins of delta: P&L = 2·S·m, no vol exposure.
        let usd: Vec<f64> = shocks.iter().map(|(m, _)| 2.0 * 50_000.0 * m).collect();
        let g = stress_grid("BTC", 50_000.0, &shocks, &usd);
        assert!((g.delta_coin.unwrap() - 2.0).abs() < 1e-12);
        assert!(g.gamma_coin_per_pct.unwrap().abs() < 1e-12);
        assert!(g.vega_usd_per_pct.unwrap().abs() < 1e-12);
        assert_eq!(g.pnl_usd[0][0], Some(-10_000.0));
    }
}
