//! The validate page and its charts, drawn from `volfit validate`'s output: the verdict
//! (winner, margin, significance from `validate.json`), the ranking (`summary.csv`), the
//! winner's in-sample against out-of-sample error over time (`walk_forward.csv`) and the
//! ridge path (`ridge_path.csv`, x = λ on a log axis that includes 0, one line per target).
//! The two charts are also drawn on the fit page.

use super::data::{read_json, read_rows, ReportError};
use super::page::{self, num, pct, tick, with_unit, Verdict};
use super::panels::Panel;
use super::svg::{self, Chart, ChartAxis, Line};
use crate::validate::{RidgePoint, SpecSummary, WalkForwardRow};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Mean in-sample (horizon 0) and out-of-sample (horizons ≥ 1) `rmse_vol` per spec label and
/// fit snapshot, for pairs that have both: `spec → snapshot → (in, out)`.
type Means<'a> = BTreeMap<&'a str, BTreeMap<&'a str, (f64, f64)>>;

fn walk_forward_means(rows: &[WalkForwardRow]) -> Means<'_> {
    let mut acc: BTreeMap<(&str, &str), [f64; 4]> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.rmse_vol.is_finite()) {
        let a = acc.entry((&r.spec, &r.fit_snapshot)).or_insert([0.0; 4]);
        let i = if r.horizon == 0 { 0 } else { 2 };
        a[i] += r.rmse_vol;
        a[i + 1] += 1.0;
    }
    let mut out: Means = BTreeMap::new();
    for ((spec, snap), a) in acc {
        if a[1] > 0.0 && a[3] > 0.0 {
            out.entry(spec).or_default().insert(snap, (a[0] / a[1], a[2] / a[3]));
        }
    }
    out
}

/// Specs by mean out-of-sample error over their snapshots, best first.
fn ranked<'a>(means: &Means<'a>) -> Vec<&'a str> {
    let mut specs: Vec<(f64, &str)> = means
        .iter()
        .map(|(s, m)| (m.values().map(|v| v.1).sum::<f64>() / m.len() as f64, *s))
        .collect();
    specs.sort_by(|a, b| a.0.total_cmp(&b.0));
    specs.into_iter().map(|s| s.1).collect()
}

/// The walk-forward chart: the best spec's in-sample and out-of-sample RMSE per fit
/// snapshot, and the runner-up's out-of-sample RMSE (dashed); x = the snapshots in time
/// order, labelled with their times. A note when there is nothing to draw.
pub(super) fn walk_forward(
    rows: &Result<Vec<WalkForwardRow>, String>,
    notes: &mut Vec<String>,
) -> Option<Panel> {
    walk_forward_ranked(rows, &[], notes)
}

/// [`walk_forward`] with the specs in `ranking` order (`summary.csv`'s grid ranks) when it
/// names any; else ranked by their mean out-of-sample error here.
fn walk_forward_ranked(
    rows: &Result<Vec<WalkForwardRow>, String>,
    ranking: &[&str],
    notes: &mut Vec<String>,
) -> Option<Panel> {
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            notes.push(format!("walk_forward.csv: not in the layout volfit validate writes ({e})"));
            return None;
        }
    };
    let means = walk_forward_means(rows);
    let mut order: Vec<&str> = ranking.iter().copied().filter(|s| means.contains_key(s)).collect();
    if order.is_empty() {
        order = ranked(&means);
    }
    let Some(best) = order.first() else {
        notes.push(
            "walk_forward.csv: no fit snapshot with both in-sample and out-of-sample errors".into(),
        );
        return None;
    };
    let mut times: Vec<&str> = means.values().flat_map(|m| m.keys().copied()).collect();
    times.sort_unstable();
    times.dedup();
    let x = |snap: &str| times.binary_search(&snap).map_or(f64::NAN, |i| i as f64);
    let line = |spec: &str, label: String, oos: bool, dashed: bool| {
        let pts: Vec<(&str, f64)> =
            means[spec].iter().map(|(s, v)| (*s, if oos { v.1 } else { v.0 })).collect();
        Line {
            titles: pts
                .iter()
                .map(|(s, v)| format!("{label} · {s}: {} vol pts", num(*v)))
                .collect(),
            points: pts.iter().map(|(s, v)| (x(s), *v)).collect(),
            label,
            dashed,
        }
    };
    let mut lines = vec![
        line(best, format!("{best} (best): in-sample"), false, false),
        line(best, format!("{best} (best): out-of-sample"), true, false),
    ];
    if let Some(second) = order.get(1) {
        lines.push(line(second, format!("{second} (runner-up): out-of-sample"), true, true));
    }
    let ticks = svg::index_ticks(times.iter().map(|t| page::tick_time(t)));
    let chart = Chart {
        title: "Walk-forward: in-sample vs out-of-sample RMSE".into(),
        x: ChartAxis { label: "fit snapshot (UTC)".into(), ticks: Some(ticks), zero: false },
        y: ChartAxis { label: "RMSE (vol pts)".into(), ticks: None, zero: true },
        lines,
        vlines: Vec::new(),
    };
    Some(Panel {
        kind: "walk-forward",
        title: format!(
            "Mean RMSE over expiries per fit snapshot, vol points; out-of-sample = the next \
             snapshots (all horizons). {} spec(s) ranked, the best and the runner-up drawn.",
            order.len()
        ),
        svg: svg::line_chart(&chart),
    })
}

/// Where λ = 0 sits on the log axis: one decade left of the smallest positive λ.
fn lambda_x(lambda: f64, zero_at: f64) -> f64 {
    if lambda > 0.0 {
        lambda.log10()
    } else {
        zero_at
    }
}

/// The ridge path: out-of-sample (solid) and in-sample (dashed) RMSE against λ on a log axis
/// with 0 at its left end, one pair of lines per ridge target (`prev`, `zero`); the λ of
/// each target's `chosen` row (what the CLI prints) in a note and marked on the chart.
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
    let rows: Vec<&RidgePoint> =
        rows.iter().filter(|r| r.lambda >= 0.0 && r.oos_rmse.is_finite()).collect();
    let min_pos = rows.iter().map(|r| r.lambda).filter(|l| *l > 0.0).fold(f64::INFINITY, f64::min);
    if rows.is_empty() {
        notes.push("ridge_path.csv: no point with a finite out-of-sample error".into());
        return None;
    }
    let zero_at = if min_pos.is_finite() { min_pos.log10().floor() - 1.0 } else { 0.0 };
    let mut lambdas: Vec<f64> = rows.iter().map(|r| r.lambda).collect();
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();
    let ticks = lambdas.iter().map(|&l| (lambda_x(l, zero_at), tick(l))).collect();
    let mut lines = Vec::new();
    let mut vlines = Vec::new();
    for toward in ["prev", "zero"] {
        // λ = 0 (no ridge) starts both paths.
        let mut pts: Vec<&&RidgePoint> =
            rows.iter().filter(|r| r.toward == toward || r.lambda == 0.0).collect();
        if !pts.iter().any(|r| r.lambda > 0.0 && r.toward == toward) {
            continue;
        }
        pts.sort_by(|a, b| a.lambda.total_cmp(&b.lambda));
        pts.dedup_by(|a, b| a.lambda == b.lambda);
        let title = |r: &RidgePoint, what: &str, v: f64| {
            format!("toward {toward}, λ = {}: {what} {} vol pts", num(r.lambda), num(v))
        };
        lines.push(Line {
            label: format!("toward {toward}: out-of-sample"),
            points: pts.iter().map(|r| (lambda_x(r.lambda, zero_at), r.oos_rmse)).collect(),
            titles: pts.iter().map(|r| title(r, "out-of-sample", r.oos_rmse)).collect(),
            dashed: false,
        });
        lines.push(Line {
            label: format!("toward {toward}: in-sample"),
            points: pts.iter().map(|r| (lambda_x(r.lambda, zero_at), r.is_rmse)).collect(),
            titles: pts.iter().map(|r| title(r, "in-sample", r.is_rmse)).collect(),
            dashed: true,
        });
        if let Some(l) = crate::validate::chosen_lambda(
            &rows.iter().map(|r| (*r).clone()).collect::<Vec<_>>(),
            toward,
        ) {
            notes.push(format!(
                "ridge toward {toward}: λ chosen out-of-sample = {} (the λ `volfit validate` prints)",
                if l > 0.0 { num(l) } else { "0".into() }
            ));
            vlines.push((lambda_x(l, zero_at), format!("chosen λ ({toward})")));
        }
    }
    if lines.is_empty() {
        notes.push("ridge_path.csv: no run with λ > 0".into());
        return None;
    }
    let chart = Chart {
        title: "Ridge path: RMSE against λ".into(),
        x: ChartAxis {
            label: "ridge λ (log axis; 0 = no ridge)".into(),
            ticks: Some(ticks),
            zero: false,
        },
        y: ChartAxis { label: "RMSE (vol pts)".into(), ticks: None, zero: false },
        lines,
        vlines,
    };
    Some(Panel {
        kind: "ridge-path",
        title: "Out-of-sample (solid) and in-sample (dashed) RMSE, vol points, per ridge \
                target; the dashed red line is the λ chosen out-of-sample."
            .into(),
        svg: svg::line_chart(&chart),
    })
}

#[derive(Serialize)]
struct SummaryRow {
    rank: usize,
    spec: String,
    is_rmse: String,
    oos_rmse: String,
    oos_rmse_strike: String,
    inside: String,
    overfit: String,
    margin: String,
}

#[derive(Serialize)]
struct ValidatePage {
    title: String,
    nav: Vec<page::Link>,
    verdict: Verdict,
    summary: Vec<SummaryRow>,
    panels: Vec<Panel>,
    notes: Vec<String>,
    has_fit: bool,
}

const TEMPLATE: &str = r#"
{% if has_fit %}<p>The winner fitted to every snapshot: <a href="fit.html">fit page (smiles, residuals, parameters)</a>.</p>{% endif %}
<section id="ranking"><h2>Ranking</h2>
<div class="table-wrap"><table data-table="summary"><tr><th>rank</th><th class="l">spec</th><th>in-sample RMSE (vol pts)</th><th>out-of-sample RMSE (vol pts)</th><th>oos, sticky strike (vol pts)</th><th>oos inside spread</th><th>overfit (oos/is)</th><th>margin (vol pts)</th></tr>
{% for r in summary %}<tr><td>{{ r.rank }}</td><td class="l">{{ r.spec }}</td><td>{{ r.is_rmse }}</td><td>{{ r.oos_rmse }}</td><td>{{ r.oos_rmse_strike }}</td><td>{{ r.inside }}</td><td>{{ r.overfit }}</td><td>{{ r.margin }}</td></tr>{% endfor %}
</table></div></section>
<section id="charts"><h2>Walk-forward and ridge path</h2>
{% for p in panels %}<figure class="chart wide" data-chart="{{ p.kind }}">{{ p.svg|safe }}<figcaption>{{ p.title }}</figcaption></figure>{% endfor %}
{% for n in notes %}<p class="note">{{ n }}</p>{% endfor %}
</section>
"#;

/// A `selection` member as text: a string, or an object's `spec`/`label`.
fn spec_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => {
            o.get("spec").or_else(|| o.get("label")).and_then(|s| s.as_str().map(String::from))
        }
        serde_json::Value::Null => None,
        v => Some(v.to_string()),
    }
}

/// The validate verdict from `validate.json` (its `selection` object is optional) and the
/// ranked grid rows.
fn verdict(json: &serde_json::Value, grid: &[&SpecSummary]) -> Verdict {
    let mut v = Verdict { tone: "ok", ..Verdict::default() };
    let f = |key: &str| json.get(key).and_then(serde_json::Value::as_f64);
    let winner = json.get("winner").filter(|w| !w.is_null());
    let Some(w) = winner else {
        v.tone = "bad";
        v.headline = "No winner: no spec could be scored out-of-sample.".into();
        v.attention.push("Nothing was scored; check the inputs (at least two snapshots).".into());
        return v;
    };
    let name = w.get("spec").and_then(|s| s.as_str()).unwrap_or("?").to_string();
    let oos = w.get("oos_rmse").and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
    let margin = w.get("margin").and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
    let sel = json.get("selection").filter(|s| s.is_object());
    let sf = |key: &str| sel.and_then(|s| s.get(key)).and_then(serde_json::Value::as_f64);
    let significance = match sel.and_then(|s| s.get("significant")).and_then(|b| b.as_bool()) {
        Some(true) => format!(
            "significant (Diebold–Mariano p = {})",
            num(sf("dm_p_value").unwrap_or(f64::NAN))
        ),
        Some(false) => format!(
            "not significant (Diebold–Mariano p = {})",
            num(sf("dm_p_value").unwrap_or(f64::NAN))
        ),
        None => "significance not computed".into(),
    };
    let runner = sel
        .and_then(|s| s.get("runner_up"))
        .and_then(spec_text)
        .or_else(|| grid.get(1).map(|s| s.spec.clone()));
    v.headline = format!(
        "Winner: {name}, out-of-sample RMSE {} vol pts; margin {} vol pts over {}: {significance}.",
        num(oos),
        num(margin),
        runner.as_deref().unwrap_or("no runner-up")
    );
    v.facts.push(("specs ranked".into(), grid.len().to_string()));
    if let Some(best) = grid.first() {
        v.facts.push(("winner in-sample".into(), with_unit(best.is_rmse, "vol pts")));
        v.facts.push(("winner overfit (oos/is)".into(), num(best.overfit)));
        v.facts.push(("winner inside spread (oos)".into(), pct(best.oos_inside_spread)));
        if best.overfit > 2.0 {
            v.attention.push(format!(
                "Out-of-sample error is {}× the in-sample error: the winner over-fits.",
                num(best.overfit)
            ));
        }
    }
    if let Some(p) = sf("procedure_oos_rmse") {
        v.facts.push(("selection procedure oos RMSE (nested)".into(), with_unit(p, "vol pts")));
    }
    if let Some(n) = sf("n_snapshots") {
        v.facts.push(("snapshots in the test".into(), num(n)));
    }
    if let Some(d) = sf("dm_statistic") {
        v.facts.push(("Diebold–Mariano statistic".into(), num(d)));
    }
    for (key, label) in [
        ("ridge_lambda_prev", "ridge λ toward prev (chosen oos)"),
        ("ridge_lambda_zero", "ridge λ toward zero (chosen oos)"),
    ] {
        if let Some(l) = f(key) {
            v.facts.push((label.into(), if l > 0.0 { num(l) } else { "0".into() }));
        }
    }
    // One λ per ridge target, chosen by the nested rule (no look-ahead).
    let nested = sel.and_then(|s| s.get("ridge_lambda_nested")).and_then(|m| m.as_object());
    for (target, l) in nested.into_iter().flatten() {
        if let Some(l) = l.as_f64() {
            let shown = if l > 0.0 { num(l) } else { "0".into() };
            v.facts.push((format!("ridge λ toward {target} (nested selection)"), shown));
        }
    }
    if oos > 2.0 {
        v.attention.push(format!("The best out-of-sample RMSE is {} vol pts (> 2).", num(oos)));
    }
    match sel.and_then(|s| s.get("significant")).and_then(|b| b.as_bool()) {
        Some(false) => {
            v.tone = "warn";
            v.attention.push(format!(
                "{name} is not significantly better than {}: treat them as equivalent.",
                runner.as_deref().unwrap_or("the runner-up")
            ));
        }
        None if margin.is_finite() && margin < 0.05 => {
            v.tone = "warn";
            v.attention.push(format!(
                "The margin ({} vol pts) is tiny and its significance was not computed.",
                num(margin)
            ));
        }
        _ => {}
    }
    if !v.attention.is_empty() && v.tone == "ok" {
        v.tone = "warn";
    }
    v
}

/// Renders the validate page of `dir` (`has_fit`: `fit.html` is written beside it).
///
/// # Errors
/// A file that does not read or parse; a template error.
pub(super) fn render_dir(dir: &Path, has_fit: bool) -> Result<String, ReportError> {
    let json: serde_json::Value =
        read_json(&dir.join("validate.json"))?.unwrap_or(serde_json::Value::Null);
    let summary: Vec<SpecSummary> = match read_rows(&dir.join("summary.csv")) {
        Some(Ok(rows)) => rows,
        _ => Vec::new(),
    };
    let grid: Vec<&SpecSummary> = summary.iter().filter(|s| s.rank > 0).collect();
    let mut notes = Vec::new();
    let mut panels = Vec::new();
    let ranking: Vec<&str> = grid.iter().map(|s| s.spec.as_str()).collect();
    if let Some(rows) = read_rows(&dir.join("walk_forward.csv")) {
        panels.extend(walk_forward_ranked(&rows, &ranking, &mut notes));
    }
    if let Some(rows) = read_rows(&dir.join("ridge_path.csv")) {
        panels.extend(ridge_path(&rows, &mut notes));
    }
    if json.is_null() {
        notes.push("No validate.json in this directory: winner and significance unknown.".into());
    }
    let rows = grid
        .iter()
        .take(12)
        .map(|s| SummaryRow {
            rank: s.rank,
            spec: s.spec.clone(),
            is_rmse: num(s.is_rmse),
            oos_rmse: num(s.oos_rmse),
            oos_rmse_strike: num(s.oos_rmse_strike),
            inside: pct(s.oos_inside_spread),
            overfit: num(s.overfit),
            margin: num(s.margin),
        })
        .collect();
    let pages: &[(&str, &str)] = if has_fit { &[("fit.html", "Fit page")] } else { &[] };
    let ctx = ValidatePage {
        title: "volfit validate report".into(),
        nav: page::nav(
            "Validate",
            pages,
            &[("ranking", "Ranking"), ("charts", "Walk-forward and ridge path")],
        ),
        verdict: verdict(&json, &grid),
        summary: rows,
        panels,
        notes,
        has_fit,
    };
    Ok(page::render(TEMPLATE, &ctx)?)
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
        // has no out-of-sample row and is dropped; NaN errors are skipped.
        let rows = [
            row("s", "b", 0, 1.0),
            row("s", "b", 0, 3.0),
            row("s", "b", 1, 4.0),
            row("s", "b", 2, 8.0),
            row("s", "b", 1, f64::NAN),
            row("s", "a", 0, 5.0),
        ];
        let m = walk_forward_means(&rows);
        assert_eq!(m["s"].len(), 1);
        assert_eq!(m["s"]["b"], (2.0, 6.0));
        let mut notes = Vec::new();
        assert!(walk_forward(&Ok(rows.to_vec()), &mut notes).is_some() && notes.is_empty());
        assert!(walk_forward(&Err("bad".into()), &mut notes).is_none());
        assert_eq!(notes.len(), 1);
    }

    /// Six specs: only the best spec's two lines and the runner-up's out-of-sample line are
    /// drawn, against "RMSE (vol pts)" (before: six near-identical lines, "error").
    #[test]
    fn walk_forward_draws_the_best_spec_and_the_runner_up_only() {
        let mut rows = Vec::new();
        for (i, spec) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            for snap in ["2026-01-05T04:11:27Z", "2026-01-05T09:25:11Z"] {
                rows.push(row(spec, snap, 0, 1.0 + i as f64));
                rows.push(row(spec, snap, 1, 2.0 + i as f64));
            }
        }
        let p = walk_forward(&Ok(rows), &mut Vec::new()).unwrap();
        assert_eq!(p.svg.matches(r#"fill="none""#).count(), 3, "{}", p.svg);
        assert!(p.svg.contains("RMSE (vol pts)") && p.svg.contains("a (best)"));
        assert!(p.svg.contains("b (runner-up)") && !p.svg.contains("c ("));
        assert!(p.svg.contains("01-05 04:11"), "time labels");
    }

    fn rp(toward: &str, lambda: f64, oos: f64, chosen: bool) -> RidgePoint {
        RidgePoint {
            toward: toward.into(),
            lambda,
            spec_id: (lambda * 1000.0) as usize,
            is_rmse: 1.0,
            oos_rmse: oos,
            oos_rmse_strike: oos,
            param_variation: 0.0,
            chosen,
        }
    }

    /// One line pair per target with λ = 0 on the axis, and the note names the `chosen` λ
    /// (what the CLI prints), not the minimum of an arbitrary series (before: one point per
    /// spec id, λ = 0 dropped, the note disagreeing with the CLI).
    #[test]
    fn ridge_path_has_a_line_per_target_and_agrees_with_the_cli() {
        let rows = vec![
            rp("prev", 0.0, 3.0, false),
            rp("prev", 0.1, 2.0, true),
            rp("prev", 1.0, 2.5, false),
            rp("zero", 0.1, 2.8, false),
            rp("zero", 1.0, 2.6, true),
        ];
        let mut notes = Vec::new();
        let p = ridge_path(&Ok(rows), &mut notes).unwrap();
        assert_eq!(p.svg.matches(r#"fill="none""#).count(), 4, "2 targets × (oos, is)");
        // Each line has λ = 0, 0.1, 1.
        assert_eq!(p.svg.matches("<circle").count(), 12);
        assert!(p.svg.contains(">0</text>"), "λ = 0 tick");
        assert!(notes.iter().any(|n| n.contains("toward prev: λ chosen out-of-sample = 0.1")));
        assert!(notes.iter().any(|n| n.contains("toward zero: λ chosen out-of-sample = 1")));
    }

    #[test]
    fn verdict_reads_selection_when_present_and_says_so_when_absent() {
        let old = serde_json::json!({"winner": {"spec_id": 1, "spec": "svi mse", "oos_rmse": 0.8, "margin": 0.3, "margin_rel": 0.4}});
        let v = verdict(&old, &[]);
        assert!(v.headline.contains("significance not computed"), "{}", v.headline);
        let mut new = old.clone();
        new["selection"] = serde_json::json!({"procedure_oos_rmse": 0.9, "n_snapshots": 30,
            "winner": "svi mse", "runner_up": "ssvi mse", "margin": 0.3, "dm_statistic": 1.1,
            "dm_p_value": 0.27, "significant": false,
            "ridge_lambda_nested": {"prev": 0.1, "zero": 0.0}});
        let v = verdict(&new, &[]);
        assert!(v.headline.contains("not significant") && v.headline.contains("ssvi mse"));
        assert_eq!(v.tone, "warn");
        assert!(v
            .facts
            .iter()
            .any(|f| f.0 == "ridge λ toward prev (nested selection)" && f.1.starts_with("0.1")));
    }
}
