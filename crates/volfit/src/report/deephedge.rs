//! The deep-hedging page of `volfit deephedge train`: one self-contained HTML file (inline
//! SVG, no script, no network) — the verdict first (which policy wins on the objective, by
//! how many standard errors against the Black delta and Whalley–Wilmott hedges), the risk of
//! each policy on the test paths (value ± batch-means SE, paired differences, indifference
//! price), P&L histograms on one shared axis, the learned hedge against the Black delta over
//! moneyness (at a few times to expiry) and over time, the loss curves and the per-layer
//! gradient RMS, and the setup (dynamics, claim, calibration).
//!
//! Every number of `evaluation.csv` is in the risk table, in the same format, as the
//! cell's `data-value` (with `data-policy` and `data-measure`).
//!
//! Sign convention (as in `volfit::risk`): P&L is profit; the objective and the risk
//! measures are losses (larger is riskier), so ES is marked at `−ES` on the P&L axis.

use super::page::{self, count, num, num_sig, Verdict};
use super::svg::{self, Chart, ChartAxis, Line};
use crate::deephedge::{
    describe_dynamics, DhConfig, Evaluation, PolicyKind, PolicyView, Row, Summary, Trained,
    CURVE_TAUS,
};
use crate::io::write_atomic;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = r#"
<p class="note">{{ intro }}</p>
<section id="risk"><h2>Risk of each policy</h2>
<p class="note">On {{ test_paths }} fresh test paths; value ± batch-means standard error ({{ batches }} batches). Risk measures are losses (larger is riskier); the indifference price is the premium that makes the objective zero.</p>
<div class="table-wrap"><table data-table="risk"><tr><th class="l">policy</th>{% for m in measures %}<th>{{ m }}</th>{% endfor %}</tr>
{% for r in risk %}<tr><td class="l">{{ r.0 }}</td>{% for c in r.1 %}<td data-policy="{{ c.policy }}" data-measure="{{ c.measure }}" data-value="{{ c.value }}" data-se="{{ c.se }}">{{ c.text }}</td>{% endfor %}</tr>{% endfor %}
</table></div>
<h3>Paired differences</h3>
<p class="note">Policy minus reference on the same paths, and that difference in paired standard errors (batch means); negative = less risk than the reference.</p>
<div class="table-wrap"><table data-table="differences"><tr><th class="l">policy</th><th class="l">reference</th>{% for m in measures %}<th>{{ m }}</th>{% endfor %}</tr>
{% for r in differences %}<tr>{% for c in r %}<td{% if loop.index <= 2 %} class="l"{% endif %}>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table></div></section>
<section id="distributions"><h2>P&amp;L distributions</h2>
<p class="note">Terminal hedged P&amp;L per test path ({{ unit }}), one shared x axis (0.5–99.5 % of all policies' P&amp;L); the markers are the mean and −ES.</p>
<div class="grid">{% for f in histograms %}<figure class="chart histogram" data-chart="histogram">{{ f.svg|safe }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}</div>
</section>
<section id="moneyness"><h2>Learned hedge over moneyness</h2>
<p class="note">The hedge each policy chooses when its previous hedge is the Black delta, with the volatility at the Black vol; a band policy's hedge is its band's bounds (the previous hedge is clamped into them).</p>
<div class="grid">{% for f in moneyness %}<figure class="chart" data-chart="moneyness">{{ f.svg|safe }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}</div>
</section>
<section id="time"><h2>Learned hedge over time</h2>
<div class="grid">{% for f in time %}<figure class="chart" data-chart="time">{{ f.svg|safe }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}</div>
</section>
<section id="training"><h2>Training</h2>
{% for r in training %}<p>{{ r }}</p>{% endfor %}
<div class="grid">{% for f in losses %}<figure class="chart" data-chart="loss">{{ f.svg|safe }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}</div>
<h3>Gradient RMS per layer</h3>
{% for f in gradients %}<figure class="chart wide" data-chart="gradients">{{ f.svg|safe }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}
</section>
<section id="setup"><h2>Setup</h2>
<div class="table-wrap"><table data-table="setup">{% for r in setup %}<tr><th class="l">{{ r.0 }}</th><td class="l">{{ r.1 }}</td></tr>{% endfor %}</table></div>
</section>
"#;

#[derive(Serialize)]
struct Figure {
    svg: String,
    caption: String,
}

#[derive(Serialize)]
struct Cell {
    policy: String,
    measure: String,
    /// The value exactly as `evaluation.csv` writes it.
    value: String,
    se: String,
    text: String,
}

#[derive(Serialize)]
struct Page {
    title: String,
    nav: Vec<page::Link>,
    verdict: Verdict,
    intro: String,
    test_paths: String,
    batches: usize,
    unit: &'static str,
    measures: Vec<String>,
    risk: Vec<(String, Vec<Cell>)>,
    differences: Vec<Vec<String>>,
    histograms: Vec<Figure>,
    moneyness: Vec<Figure>,
    time: Vec<Figure>,
    training: Vec<String>,
    losses: Vec<Figure>,
    gradients: Vec<Figure>,
    setup: Vec<(String, String)>,
}

/// Display name of a policy.
fn label(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::FeedForward => "feed-forward (ff)",
        PolicyKind::NoTransactionBand => "no-transaction band (ntb)",
        PolicyKind::BlackDelta => "Black delta",
        PolicyKind::WhalleyWilmott => "Whalley–Wilmott",
    }
}

/// The measures in evaluation order (every policy has the same).
fn measures(ev: &Evaluation) -> Vec<String> {
    let first = ev.rows.first().map(|r| r.policy.clone()).unwrap_or_default();
    ev.rows.iter().filter(|r| r.policy == first).map(|r| r.measure.clone()).collect()
}

/// `diff ± se (z SE)`.
fn diff_text(r: &Row) -> String {
    if r.policy == r.reference {
        return "–".into();
    }
    format!("{} ({} SE)", num(r.diff), num_sig(r.diff / r.diff_se, 2))
}

fn risk_rows(ev: &Evaluation, kinds: &[PolicyKind]) -> Vec<(String, Vec<Cell>)> {
    kinds
        .iter()
        .map(|k| {
            let cells = ev
                .rows
                .iter()
                .filter(|r| r.policy == k.name())
                .map(|r| Cell {
                    policy: r.policy.clone(),
                    measure: r.measure.clone(),
                    value: format!("{:.9e}", r.value),
                    se: format!("{:.3e}", r.se),
                    text: format!("{} ± {}", num(r.value), num(r.se)),
                })
                .collect();
            (label(*k).to_string(), cells)
        })
        .collect()
}

fn difference_rows(evs: [&Evaluation; 2], kinds: &[PolicyKind]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for ev in evs {
        for k in kinds {
            let rows: Vec<&Row> = ev.rows.iter().filter(|r| r.policy == k.name()).collect();
            match rows.first() {
                Some(r0) if r0.policy != r0.reference => {
                    let mut row = vec![label(*k).to_string(), r0.reference.clone()];
                    row.extend(rows.iter().map(|r| diff_text(r)));
                    out.push(row);
                }
                _ => {}
            }
        }
    }
    out
}

/// The verdict: the winner on the objective and its margins in SE.
fn verdict(s: &Summary, objective: &str) -> Verdict {
    let obj = |ev: &Evaluation, k: PolicyKind| ev.get(k, "objective").cloned();
    let kinds: Vec<PolicyKind> = s.policies.iter().map(|p| p.kind).collect();
    let Some(best) = kinds
        .iter()
        .filter_map(|k| obj(&s.evaluation, *k).map(|r| (*k, r.value)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Verdict {
            tone: "bad",
            headline: "no policy was evaluated".into(),
            ..Verdict::default()
        };
    };
    let z = |ev: &Evaluation| {
        obj(ev, best.0).map_or(f64::NAN, |r| if r.diff_se > 0.0 { r.diff / r.diff_se } else { 0.0 })
    };
    let (z_bd, z_ww) = (z(&s.evaluation), z(&s.versus_ww));
    let margin = |z: f64, name: &str| {
        if z.is_finite() && z != 0.0 {
            format!("{} SE {} {name}", num(z.abs()), if z < 0.0 { "below" } else { "above" })
        } else {
            format!("{name} itself")
        }
    };
    let headline = format!(
        "{} wins on the objective ({objective}): {}, {} and {}.",
        label(best.0),
        num(best.1),
        margin(z_bd, "the Black delta hedge"),
        margin(z_ww, "the Whalley–Wilmott band")
    );
    let significant = best.0.is_trained() && z_bd < -3.0 && z_ww < -3.0;
    let dynamics = match &s.calibration {
        Some(c) => {
            format!("{}, fitted to {} {}", describe_dynamics(&s.dynamics), c.underlying, c.snapshot)
        }
        None => describe_dynamics(&s.dynamics),
    };
    let mut facts = vec![("dynamics".to_string(), dynamics)];
    for p in &s.policies {
        if let Some(r) = obj(&s.evaluation, p.kind) {
            let gap = p.from_black.iter().sum::<f64>() / p.from_black.len().max(1) as f64;
            facts.push((
                format!("{} objective", label(p.kind)),
                format!("{} ± {}; mean |h − δ| {}", num(r.value), num(r.se), num(gap)),
            ));
        }
    }
    if let Some(r) = s.evaluation.get(best.0, "indifference_price") {
        facts.push((
            "winner's indifference price".into(),
            format!("{} ± {}", num(r.value), num(r.se)),
        ));
    }
    let mut attention = Vec::new();
    if !significant {
        attention.push(
            "no trained policy beats both classical hedges by more than 3 standard errors".into(),
        );
    }
    Verdict { tone: if significant { "ok" } else { "warn" }, headline, facts, attention }
}

fn histograms(s: &Summary, unit: &str) -> Vec<Figure> {
    let mut all: Vec<f64> =
        s.policies.iter().flat_map(|p| p.pnl.iter().copied()).filter(|v| v.is_finite()).collect();
    all.sort_by(f64::total_cmp);
    let q = |u: f64| all.get(((all.len().saturating_sub(1)) as f64 * u).round() as usize).copied();
    let range = (q(0.005).unwrap_or(0.0), q(0.995).unwrap_or(0.0));
    let es =
        s.evaluation.rows.iter().find(|r| r.measure.starts_with("es:")).map(|r| r.measure.clone());
    s.policies
        .iter()
        .map(|p| {
            let mean = p.pnl.iter().sum::<f64>() / p.pnl.len().max(1) as f64;
            let mut marks = vec![(mean, format!("mean {}", num(mean)))];
            if let Some(r) = es.as_deref().and_then(|m| s.evaluation.get(p.kind, m)) {
                marks.push((-r.value, format!("−ES {} = {}", &r.measure[3..], num(-r.value))));
            }
            let svg =
                svg::histogram(label(p.kind), &format!("P&L ({unit})"), &p.pnl, range, &marks);
            Figure { svg, caption: format!("{}: {} test paths", label(p.kind), count(p.pnl.len())) }
        })
        .collect()
}

fn line(label: String, points: Vec<(f64, f64)>, dashed: bool) -> Line {
    Line { label, points, titles: Vec::new(), dashed }
}

fn moneyness_charts(s: &Summary) -> Vec<Figure> {
    let days = s.claim.maturity * 365.0;
    CURVE_TAUS
        .iter()
        .enumerate()
        .map(|(j, frac)| {
            let mut lines = Vec::new();
            if let Some(c) = s.policies.first().and_then(|p| p.curves.get(j)) {
                let pts = c.iter().map(|p| (p.moneyness, p.black)).collect();
                lines.push(line("Black delta".into(), pts, true));
            }
            for p in s.policies.iter().filter(|p| p.kind != PolicyKind::BlackDelta) {
                let Some(c) = p.curves.get(j) else { continue };
                let band = c.iter().any(|q| q.band.0 != q.band.1);
                let name = p.kind.name();
                if band {
                    lines.push(line(
                        format!("{name} lower"),
                        c.iter().map(|q| (q.moneyness, q.band.0)).collect(),
                        false,
                    ));
                    lines.push(line(
                        format!("{name} upper"),
                        c.iter().map(|q| (q.moneyness, q.band.1)).collect(),
                        false,
                    ));
                } else {
                    lines.push(line(
                        format!("{name} hedge"),
                        c.iter().map(|q| (q.moneyness, q.hedge)).collect(),
                        false,
                    ));
                }
            }
            let title = format!("{} days to expiry (τ/T = {})", num(frac * days), num(*frac));
            let chart = Chart {
                title: title.clone(),
                x: ChartAxis { label: "forward / strike".into(), ..ChartAxis::default() },
                y: ChartAxis { label: "hedge (units of F₀)".into(), ..ChartAxis::default() },
                lines,
                vlines: vec![(1.0, "at the money".into())],
            };
            Figure { svg: svg::line_chart(&chart), caption: title }
        })
        .collect()
}

fn time_charts(s: &Summary) -> Vec<Figure> {
    let dt = s.claim.maturity * 365.0 / s.sample_forward.len().saturating_sub(1).max(1) as f64;
    let series = |f: &dyn Fn(&PolicyView) -> &[f64], skip_black: bool| -> Vec<Line> {
        s.policies
            .iter()
            .filter(|p| !(skip_black && p.kind == PolicyKind::BlackDelta))
            .map(|p| {
                let pts = f(p).iter().enumerate().map(|(t, v)| (t as f64 * dt, *v)).collect();
                line(p.kind.name().to_string(), pts, p.kind == PolicyKind::BlackDelta)
            })
            .collect()
    };
    let x = || ChartAxis { label: "days since inception".into(), ..ChartAxis::default() };
    let gap = Chart {
        title: "mean |h − δ| per hedge step".into(),
        x: x(),
        y: ChartAxis {
            label: "mean |h − δ| (units of F₀)".into(),
            zero: true,
            ..ChartAxis::default()
        },
        lines: series(&|p| &p.from_black, true),
        vlines: Vec::new(),
    };
    let sample = Chart {
        title: "hedges along the first test path".into(),
        x: x(),
        y: ChartAxis { label: "hedge (units of F₀)".into(), ..ChartAxis::default() },
        lines: series(&|p| &p.sample_hedge, false),
        vlines: Vec::new(),
    };
    let path: Vec<String> = s.sample_forward.iter().map(|f| num(*f)).collect();
    vec![
        Figure {
            svg: svg::line_chart(&gap),
            caption: "Mean over the test paths of the distance to the Black hedge, per step."
                .into(),
        },
        Figure {
            svg: svg::line_chart(&sample),
            caption: format!("The path's forward (F₀ = 1): {}.", path.join(", ")),
        },
    ]
}

fn training_text(trained: &[(PolicyKind, Trained)]) -> Vec<String> {
    trained
        .iter()
        .map(|(k, t)| {
            let last = t.training.epochs.last();
            format!(
                "{}: {} epochs, best epoch {}, stop {:?}, final training loss {}, held-out loss {}.",
                label(*k),
                t.training.epochs.len(),
                t.training.best_epoch,
                t.training.minimum.stop,
                last.map_or("–".into(), |e| num(e.train_loss)),
                last.and_then(|e| e.val_loss).map_or("–".into(), num)
            )
        })
        .collect()
}

fn loss_charts(trained: &[(PolicyKind, Trained)]) -> Vec<Figure> {
    trained
        .iter()
        .map(|(k, t)| {
            let ep = &t.training.epochs;
            let pts = |f: &dyn Fn(&volfit_optim::stochastic::Epoch) -> Option<f64>| {
                ep.iter().filter_map(|e| f(e).map(|v| (f64::from(e.epoch), v))).collect()
            };
            let chart = Chart {
                title: format!("{} loss", label(*k)),
                x: ChartAxis { label: "epoch".into(), ..ChartAxis::default() },
                y: ChartAxis {
                    label: "objective (mean over paths)".into(),
                    ..ChartAxis::default()
                },
                lines: vec![
                    line("training".into(), pts(&|e| Some(e.train_loss)), false),
                    line("held-out".into(), pts(&|e| e.val_loss), true),
                ],
                vlines: vec![(f64::from(t.training.best_epoch), "best".into())],
            };
            Figure {
                svg: svg::line_chart(&chart),
                caption: format!("{}: loss per epoch", label(*k)),
            }
        })
        .collect()
}

fn gradient_charts(trained: &[(PolicyKind, Trained)]) -> Vec<Figure> {
    trained
        .iter()
        .map(|(k, t)| {
            let ep = &t.training.epochs;
            let groups = ep.iter().map(|e| e.group_grad_rms.len()).max().unwrap_or(0);
            let series: Vec<(String, Vec<(f64, f64)>)> = (0..groups)
                .map(|g| {
                    let name = if g + 1 == groups {
                        "thresholds".to_string()
                    } else {
                        format!("layer {g}")
                    };
                    let pts = ep
                        .iter()
                        .filter_map(|e| e.group_grad_rms.get(g).map(|v| (f64::from(e.epoch), *v)))
                        .collect();
                    (name, pts)
                })
                .collect();
            let id = format!("grad-{}", k.name());
            Figure {
                svg: svg::log_lines(&id, ("epoch", "gradient RMS"), &series),
                caption: format!(
                    "{}: RMS of the batch gradient per layer, averaged over each epoch",
                    label(*k)
                ),
            }
        })
        .collect()
}

fn setup(cfg: &DhConfig, s: &Summary, objective: &str) -> Vec<(String, String)> {
    let c = &s.claim;
    let mut rows = vec![("dynamics".into(), describe_dynamics(&s.dynamics))];
    if let Some(k) = &s.calibration {
        rows.push((
            "calibrated to".into(),
            format!(
                "{} {} ({}, {} quotes): expiry {} ({} days), forward {} USD, index {} USD, strike {} USD = {} × F",
                k.underlying,
                k.snapshot,
                k.file,
                count(k.quotes),
                k.expiry,
                num(k.maturity_days),
                num(k.forward_usd),
                k.index_usd.map_or("–".into(), num),
                num(k.strike_usd),
                num(k.strike)
            ),
        ));
    }
    rows.extend([
        (
            "claim".into(),
            format!(
                "short call, strike {} × F₀, {} days, {} hedge steps, cost {} of notional per trade, funding {} per year, {:?} accounting, Black vol {}",
                num(c.strike),
                num(c.maturity * 365.0),
                cfg.claim.steps,
                num(c.cost),
                num(c.funding),
                c.accounting,
                num(c.black_vol)
            ),
        ),
        ("objective".into(), objective.to_string()),
        (
            "network".into(),
            format!(
                "hidden {:?}, {:?}, volatility feature {}{}",
                cfg.policy.hidden,
                cfg.policy.activation,
                cfg.policy.with_vol,
                ff_choices(&cfg.policy)
            ),
        ),
        (
            "paths".into(),
            format!(
                "training {}, held-out {}, test {}; seed {}",
                count(cfg.training.paths),
                count(cfg.training.validation_paths),
                count(cfg.evaluation.paths),
                cfg.seed
            ),
        ),
        ("premium (Black)".into(), num(c.premium())),
    ]);
    rows
}

/// The objective as text: `1 × entropic:10 + …`.
/// The non-default feature and output choices of the networks (empty for the defaults).
fn ff_choices(p: &crate::deephedge::config::PolicyConfig) -> String {
    let mut s = String::new();
    if p.with_delta {
        s.push_str(", Black-delta feature");
    }
    if p.parametrisation != crate::deephedge::Parametrisation::Hedge {
        s.push_str(&format!(", feed-forward output {}", p.parametrisation.name()));
    }
    s
}

fn objective_text(cfg: &DhConfig) -> String {
    let terms: Vec<String> =
        cfg.objective.iter().map(|t| format!("{} × {}", num(t.weight), t.criterion)).collect();
    terms.join(" + ")
}

/// Renders the page of a `volfit deephedge train` run.
///
/// # Errors
/// A template error (a bug: every value is escaped).
pub fn render(cfg: &DhConfig, s: &Summary) -> Result<String, minijinja::Error> {
    let kinds: Vec<PolicyKind> = s.policies.iter().map(|p| p.kind).collect();
    let objective = objective_text(cfg);
    let unit = match s.claim.accounting {
        crate::deephedge::Accounting::Usd => "USD per unit of F₀",
        crate::deephedge::Accounting::Coin => "coin",
    };
    let page = Page {
        title: "volfit deep hedging report".into(),
        nav: page::nav(
            "Deep hedging",
            &[],
            &[
                ("risk", "Risk"),
                ("distributions", "P&L"),
                ("moneyness", "Hedge over moneyness"),
                ("time", "Hedge over time"),
                ("training", "Training"),
                ("setup", "Setup"),
            ],
        ),
        verdict: verdict(s, &objective),
        intro: format!(
            "A short call hedged by {} trained policies and the classical Black delta and Whalley–Wilmott hedges; objective {objective}.",
            s.trained.len()
        ),
        test_paths: count(s.evaluation.paths),
        batches: s.evaluation.batches,
        unit,
        measures: measures(&s.evaluation),
        risk: risk_rows(&s.evaluation, &kinds),
        differences: difference_rows([&s.evaluation, &s.versus_ww], &kinds),
        histograms: histograms(s, unit),
        moneyness: moneyness_charts(s),
        time: time_charts(s),
        training: training_text(&s.trained),
        losses: loss_charts(&s.trained),
        gradients: gradient_charts(&s.trained),
        setup: setup(cfg, s, &objective),
    };
    page::render(TEMPLATE, &page)
}

/// Writes `dir/report.html`; returns its path.
///
/// # Errors
/// The template (a bug) or the write.
pub fn write_report(dir: &Path, cfg: &DhConfig, s: &Summary) -> std::io::Result<PathBuf> {
    let html = render(cfg, s).map_err(std::io::Error::other)?;
    let path = dir.join("report.html");
    write_atomic(&path, |w: &mut dyn Write| w.write_all(html.as_bytes()))?;
    Ok(path)
}
