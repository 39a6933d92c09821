//! The fit page's verdict (`<section id="verdict">`): what was run, the key numbers, and in
//! red what a user must act on — fits at a parameter bound or implausible, poor expiries,
//! non-converged fits, static arbitrage inside the quoted range (apart from arbitrage only in
//! extrapolation), expiries left out by the one-day filter.
//!
//! `fit.json` written after the "labels" change carries `converged` per expiry and
//! `butterfly_where` / `calendar_where` (`none`, `inside`, `extrapolation`) in its
//! arbitrage objects; they are read when present and derived when absent (converged from the
//! stop reason, where from the worst violation's k against the quoted k range).

use super::page::num;
use crate::fit::{ExpiryFit, FitOutput, ResidualRow, SnapshotFit};
use crate::model::ModelKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// RMSE above this many vol points marks a poor expiry.
pub(super) const POOR_RMSE: f64 = 2.0;
/// A share of quotes inside the spread below this marks a poor expiry.
pub(super) const POOR_INSIDE: f64 = 0.5;

/// The verdict shown at the top of the page.
#[derive(Clone, Debug, Default, Serialize)]
pub(super) struct Verdict {
    /// "good", "attention".
    pub(super) status: &'static str,
    /// What was run: model and spec in one line.
    pub(super) run: String,
    /// Input files (count and the first few names).
    pub(super) files: String,
    /// Time span of the snapshots.
    pub(super) span: String,
    /// Key numbers as (label, value).
    pub(super) numbers: Vec<(String, String)>,
    /// What needs attention (shown in red).
    pub(super) attention: Vec<String>,
    /// What was checked and is fine.
    pub(super) fine: Vec<String>,
}

/// `2026-05-17T08:00:00Z` → `17MAY26` (Deribit's code); the input when it does not parse.
pub(super) fn expiry_code(iso: &str) -> String {
    parse_ms(iso).map_or_else(|| iso.to_string(), crate::market::synth::expiry_code)
}

/// Milliseconds of an ISO-8601 time.
pub(super) fn parse_ms(iso: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(iso).ok().map(|d| d.timestamp_millis())
}

/// `2026-01-05T04:11:27Z` → `2026-01-05 04:11 UTC`.
pub(super) fn short_time(iso: &str) -> String {
    parse_ms(iso)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| iso.to_string(), |d| d.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// Days from `snapshot` to `expiry` (both ISO-8601), or `t × 365`.
pub(super) fn days_to(snapshot: &str, expiry: &str, t: f64) -> f64 {
    match (parse_ms(snapshot), parse_ms(expiry)) {
        (Some(a), Some(b)) => (b - a) as f64 / 86_400_000.0,
        _ => 365.0 * t,
    }
}

/// Where static arbitrage sits: `none`, `inside` the quoted k range or only in
/// `extrapolation`.
pub(super) fn arb_where(
    stored: Option<&str>,
    ok: bool,
    worst: Option<&str>,
    quoted: Option<(f64, f64)>,
) -> &'static str {
    match stored {
        Some("none") => return "none",
        Some("inside") => return "inside",
        Some("extrapolation") => return "extrapolation",
        _ => {}
    }
    if ok {
        return "none";
    }
    let k = worst.and_then(|w| {
        let i = w.find("k=")?;
        let rest = &w[i + 2..];
        let end = rest.find([':', ',', ' ']).unwrap_or(rest.len());
        rest[..end].parse::<f64>().ok()
    });
    match (k, quoted) {
        (Some(k), Some((lo, hi))) if k < lo || k > hi => "extrapolation",
        _ => "inside",
    }
}

/// Optional labels of `fit.json` (`converged`, `butterfly_where`, `calendar_where`) by
/// snapshot index, then expiry index (`None` for the snapshot's own arbitrage object).
#[derive(Default)]
pub(super) struct Labels {
    converged: BTreeMap<(usize, usize), bool>,
    wheres: BTreeMap<(usize, Option<usize>, &'static str), String>,
}

impl Labels {
    /// Reads the labels from the serialised fit (absent fields stay absent).
    pub(super) fn new(fit: &FitOutput) -> Labels {
        let mut l = Labels::default();
        let Ok(v) = serde_json::to_value(fit) else { return l };
        let snaps = v.get("snapshots").and_then(|s| s.as_array()).cloned().unwrap_or_default();
        for (i, s) in snaps.iter().enumerate() {
            l.read_arb(i, None, s.get("arbitrage"));
            let exps = s.get("expiries").and_then(|e| e.as_array()).cloned().unwrap_or_default();
            for (j, e) in exps.iter().enumerate() {
                if let Some(c) = e.get("converged").and_then(serde_json::Value::as_bool) {
                    l.converged.insert((i, j), c);
                }
                l.read_arb(i, Some(j), e.get("arbitrage"));
            }
        }
        l
    }

    fn read_arb(&mut self, i: usize, j: Option<usize>, a: Option<&serde_json::Value>) {
        for key in ["butterfly_where", "calendar_where"] {
            if let Some(w) = a.and_then(|a| a.get(key)).and_then(|w| w.as_str()) {
                self.wheres.insert((i, j, key), w.to_string());
            }
        }
    }

    /// Converged flag of expiry `j` of snapshot `i` (stored, or from its stop reason).
    pub(super) fn converged(&self, i: usize, j: usize, e: &ExpiryFit) -> bool {
        self.converged.get(&(i, j)).copied().unwrap_or_else(|| e.stop.converged())
    }

    fn stored(&self, i: usize, j: Option<usize>, key: &'static str) -> Option<&str> {
        self.wheres.get(&(i, j, key)).map(String::as_str)
    }
}

/// Quoted k range of each (snapshot, underlying, expiry) in `residuals.csv`.
pub(super) type KRanges<'a> = BTreeMap<(&'a str, &'a str, &'a str), (f64, f64)>;

/// The quoted k ranges of `rows`.
pub(super) fn k_ranges(rows: &[ResidualRow]) -> KRanges<'_> {
    let mut m: KRanges<'_> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.k.is_finite()) {
        let e = m
            .entry((r.snapshot.as_str(), r.underlying.as_str(), r.expiry.as_str()))
            .or_insert((r.k, r.k));
        e.0 = e.0.min(r.k);
        e.1 = e.1.max(r.k);
    }
    m
}

/// Why a fitted slice's or surface's parameters are at a bound or implausible: `(finding,
/// the values behind it)`.
fn implausible(
    model: ModelKind,
    p: &BTreeMap<String, f64>,
    kr: Option<(f64, f64)>,
) -> Vec<(&'static str, String)> {
    let g = |n: &str| p.get(n).copied().unwrap_or(f64::NAN);
    let mut out = Vec::new();
    match model {
        ModelKind::Svi => {
            if let Some((lo, hi)) = kr {
                let span = (hi - lo).max(0.02);
                if g("sigma") >= 0.98 * 2.0 * span {
                    out.push((
                        "SVI σ at its box edge (2 × the quoted k width)",
                        format!("σ = {}", num(g("sigma"))),
                    ));
                }
                if g("m") <= lo - 0.98 * span || g("m") >= hi + 0.98 * span {
                    out.push(("SVI m at its box edge", format!("m = {}", num(g("m")))));
                }
            }
            if g("b") >= 1.98 {
                out.push(("SVI b at Lee's bound 2", format!("b = {}", num(g("b")))));
            }
            if g("rho").abs() >= 0.995 {
                out.push(("SVI |ρ| at 1", format!("ρ = {}", num(g("rho")))));
            }
        }
        ModelKind::Ssvi | ModelKind::Essvi => {
            if g("gamma") >= 0.4999 {
                out.push((
                    "SSVI γ = ½ (the power law's upper bound)",
                    format!("γ = {}", num(g("gamma"))),
                ));
            }
            if g("rho").abs() >= 0.995 {
                out.push(("SSVI |ρ| at 1", format!("ρ = {}", num(g("rho")))));
            }
        }
        ModelKind::Heston | ModelKind::Bates => {
            let (kappa, theta, sigma) = (g("kappa"), g("theta"), g("sigma"));
            let feller = 2.0 * kappa * theta / (sigma * sigma);
            let values =
                format!("σ = {}, κ = {}, Feller 2κθ/σ² = {}", num(sigma), num(kappa), num(feller));
            if sigma > 2.0 {
                out.push(("Heston vol of vol σ > 2, Feller condition far off", values));
            } else if feller < 0.25 {
                out.push(("Heston Feller 2κθ/σ² far below 1", values));
            } else if kappa > 20.0 {
                out.push(("Heston κ > 20 (mean reversion within days)", values));
            }
        }
        // Fitted inside its net's training box (the fit's bounds): no rule beyond it.
        ModelKind::RBergomi => {}
        ModelKind::Sabr => {
            if g("nu") > 5.0 {
                out.push(("SABR ν > 5", format!("ν = {}", num(g("nu")))));
            }
            if g("rho").abs() >= 0.995 {
                out.push(("SABR |ρ| at 1", format!("ρ = {}", num(g("rho")))));
            }
        }
    }
    out
}

/// Counts of a finding with its first example.
#[derive(Default)]
struct Tally(BTreeMap<String, (usize, String)>);

impl Tally {
    fn add(&mut self, what: String, example: String) {
        let e = self.0.entry(what).or_insert((0, example));
        e.0 += 1;
    }
    fn lines(&self, of: usize, unit: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|(what, (n, ex))| format!("{what}: {n} of {of} {unit} (e.g. {ex})"))
            .collect()
    }
}

/// Where a fit is: `BTC 27MAR26 @ 2026-05-15 11:27 UTC`.
fn at(s: &SnapshotFit, e: Option<&ExpiryFit>) -> String {
    match e {
        Some(e) => {
            format!("{} {} @ {}", s.underlying, expiry_code(&e.expiry), short_time(&s.snapshot))
        }
        None => format!("{} surface @ {}", s.underlying, short_time(&s.snapshot)),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The verdict of a fit directory's `fit.json` and `residuals.csv` rows; `diagnostics` is
/// the number of optimizer warnings in `traces.json`.
pub(super) fn verdict(fit: &FitOutput, rows: &[ResidualRow], diagnostics: usize) -> Verdict {
    let labels = Labels::new(fit);
    let kr = k_ranges(rows);
    let quoted = |s: &SnapshotFit, e: &ExpiryFit| {
        kr.get(&(s.snapshot.as_str(), s.underlying.as_str(), e.expiry.as_str())).copied()
    };
    let (mut params, mut poor, mut stops, mut arb) =
        (Tally::default(), Tally::default(), Tally::default(), Tally::default());
    let (mut rmses, mut n_exp, mut n_conv, mut inside_w, mut quotes) =
        (Vec::new(), 0, 0, 0.0, 0usize);
    let mut worst: Option<(f64, String)> = None;
    let mut extrapolation_only = 0usize;
    let (mut surf, mut n_surf) = (Tally::default(), 0usize);
    for (i, s) in fit.snapshots.iter().enumerate() {
        if let Some(p) = &s.surface_params {
            n_surf += 1;
            for (w, v) in implausible(s.model, p, None) {
                surf.add(w.into(), format!("{v} at {}", at(s, None)));
            }
        }
        for (j, e) in s.expiries.iter().enumerate() {
            n_exp += 1;
            rmses.push(e.rmse_vol);
            inside_w += e.inside_spread * e.n_quotes as f64;
            quotes += e.n_quotes;
            if worst.as_ref().is_none_or(|w| e.rmse_vol > w.0) {
                worst = Some((e.rmse_vol, at(s, Some(e))));
            }
            if labels.converged(i, j, e) {
                n_conv += 1;
            } else {
                stops.add(format!("not converged ({})", e.stop), at(s, Some(e)));
            }
            if s.surface_params.is_none() {
                for (w, v) in implausible(s.model, &e.params, quoted(s, e)) {
                    params.add(w.into(), format!("{v} at {}", at(s, Some(e))));
                }
            }
            let scored = e.rmse_vol > 0.0 || e.inside_spread > 0.0;
            if scored && (e.rmse_vol > POOR_RMSE || e.inside_spread < POOR_INSIDE) {
                poor.add(
                    format!(
                        "poor fit (RMSE > {POOR_RMSE} vol pts or < {:.0} % inside the spread)",
                        100.0 * POOR_INSIDE
                    ),
                    format!(
                        "{} at {} vol pts, {:.0} % inside",
                        at(s, Some(e)),
                        num(e.rmse_vol),
                        100.0 * e.inside_spread
                    ),
                );
            }
            let w = arb_where(
                labels.stored(i, Some(j), "butterfly_where"),
                e.arbitrage.butterfly_ok,
                e.arbitrage.worst.as_deref(),
                quoted(s, e),
            );
            match w {
                "inside" => {
                    arb.add("butterfly arbitrage inside the quoted range".into(), at(s, Some(e)))
                }
                "extrapolation" => extrapolation_only += 1,
                _ => {}
            }
        }
        snapshot_arbitrage(&labels, i, s, &kr, &mut arb, &mut extrapolation_only);
    }
    let mut attention = Vec::new();
    attention.extend(surf.lines(n_surf, "surface fits"));
    attention.extend(params.lines(n_exp, "expiry fits"));
    attention.extend(poor.lines(n_exp, "expiry fits"));
    attention.extend(stops.lines(n_exp, "expiry fits"));
    attention.extend(arb.lines(n_exp, "expiry fits"));
    attention.extend(skipped_lines(fit));
    let mut fine = Vec::new();
    if extrapolation_only > 0 {
        fine.push(format!(
            "{extrapolation_only} arbitrage finding(s) lie only in extrapolation (outside the quoted strikes): no tradable violation"
        ));
    }
    if arb.0.is_empty() {
        fine.push("no static arbitrage inside the quoted range".into());
    }
    if poor.0.is_empty() && n_exp > 0 {
        fine.push(format!(
            "every expiry within {POOR_RMSE} vol pts and ≥ {:.0} % inside the spread",
            100.0 * POOR_INSIDE
        ));
    }
    fine.push(format!(
        "{diagnostics} optimizer diagnostic(s) in traces.json: informational, listed under Solver"
    ));
    let first = fit.snapshots.first().map(|s| short_time(&s.snapshot)).unwrap_or_default();
    let last = fit.snapshots.last().map(|s| short_time(&s.snapshot)).unwrap_or_default();
    let mut unders: Vec<&str> = fit.snapshots.iter().map(|s| s.underlying.as_str()).collect();
    unders.sort_unstable();
    unders.dedup();
    let spec = &fit.spec;
    let numbers = vec![
        ("median RMSE".into(), format!("{} vol pts", num(median(rmses.clone())))),
        (
            "worst RMSE".into(),
            worst.map_or_else(|| "–".into(), |(v, w)| format!("{} vol pts ({w})", num(v))),
        ),
        (
            "inside the spread".into(),
            if quotes > 0 {
                format!("{:.1} % of quotes", 100.0 * inside_w / quotes as f64)
            } else {
                "–".into()
            },
        ),
        ("converged fits".into(), format!("{n_conv} of {n_exp}")),
        ("snapshot fits".into(), format!("{} ({})", fit.snapshots.len(), unders.join(", "))),
    ];
    Verdict {
        status: if attention.is_empty() { "good" } else { "attention" },
        run: format!(
            "{} · residual {} · weight {} · loss {} · solver {}{}",
            spec.model.name(),
            spec.residual,
            spec.weight,
            spec.loss,
            spec.solver,
            spec.ridge.as_ref().map(|r| format!(" · ridge {r}")).unwrap_or_default()
        ),
        files: files_line(&fit.inputs),
        span: if first == last { first } else { format!("{first} → {last}") },
        numbers,
        attention,
        fine,
    }
}

/// The snapshot-level (surface and calendar) arbitrage findings of snapshot `i`.
fn snapshot_arbitrage(
    labels: &Labels,
    i: usize,
    s: &SnapshotFit,
    kr: &KRanges<'_>,
    arb: &mut Tally,
    extrapolation_only: &mut usize,
) {
    // The union of the snapshot's quoted ranges: a surface-level violation beyond every
    // expiry's quotes is extrapolation.
    let quoted = kr
        .iter()
        .filter(|((sn, u, _), _)| *sn == s.snapshot && *u == s.underlying)
        .map(|(_, r)| *r)
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let worst = s.arbitrage.worst.as_deref();
    let of = |kind: &str| worst.filter(|w| w.starts_with(kind));
    let a = &s.arbitrage;
    let cal =
        arb_where(labels.stored(i, None, "calendar_where"), a.calendar_ok, of("Calendar"), quoted);
    // Per-expiry fits' butterfly findings are counted per expiry; surfaces' here.
    let fly = if s.surface_params.is_some() {
        arb_where(
            labels.stored(i, None, "butterfly_where"),
            a.butterfly_ok,
            of("Butterfly"),
            quoted,
        )
    } else {
        "none"
    };
    for (kind, w) in [("butterfly", fly), ("calendar", cal)] {
        match w {
            "inside" => arb.add(format!("{kind} arbitrage inside the quoted range"), at(s, None)),
            "extrapolation" => *extrapolation_only += 1,
            _ => {}
        }
    }
}

/// The input files in one line: their count and the first two names.
fn files_line(inputs: &[String]) -> String {
    let name = |p: &String| p.rsplit('/').next().unwrap_or(p).to_string();
    let shown: Vec<String> = inputs.iter().take(2).map(name).collect();
    match inputs.len() {
        0 => "none".into(),
        1 | 2 => shown.join(", "),
        n => format!(
            "{n} files: {}, … {}",
            shown.join(", "),
            inputs.last().map(name).unwrap_or_default()
        ),
    }
}

/// Skipped expiries, in words (see [`skip_text`]), tallied.
fn skipped_lines(fit: &FitOutput) -> Vec<String> {
    let mut t = Tally::default();
    for s in &fit.snapshots {
        for r in &s.skipped {
            let text = skip_text(r, &s.snapshot, fit.spec.filter.min_t);
            let what = if text.contains("minimum expiry") {
                "expiries closer than the minimum expiry (not fitted, as asked)"
            } else {
                "expiries skipped"
            };
            t.add(what.into(), format!("{} {text}", s.underlying));
        }
    }
    // Expiries inside the one-day filter are intended: not an attention item on their own.
    t.0.retain(|k, _| !k.starts_with("expiries closer"));
    t.lines(fit.snapshots.len(), "snapshot fits")
}

/// A skip reason of `fit.json` in words: `EXPIRY: 0 usable quotes` for an expiry closer than
/// `min_t` (years) says the minimum-expiry filter is the cause.
pub(super) fn skip_text(reason: &str, snapshot: &str, min_t: f64) -> String {
    let Some((expiry, why)) = reason.split_once(": ") else { return reason.to_string() };
    let Some(ms) = parse_ms(expiry) else { return reason.to_string() };
    let days = days_to(snapshot, expiry, f64::NAN);
    let code = crate::market::synth::expiry_code(ms);
    if why.ends_with("usable quotes") && days.is_finite() && days / 365.0 < min_t {
        return format!(
            "{code} ({:.1} d to expiry): inside the minimum expiry of {} d (filter.min_t), not fitted",
            days,
            num(365.0 * min_t)
        );
    }
    format!("{code} ({days:.1} d): {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_inside_the_one_day_filter_names_the_filter() {
        let s =
            skip_text("2026-05-16T08:00:00Z: 0 usable quotes", "2026-05-15T11:27:31Z", 1.0 / 365.0);
        assert!(s.starts_with("16MAY26 (0.9 d") && s.contains("minimum expiry of 1 d"), "{s}");
        let s =
            skip_text("2026-06-16T08:00:00Z: 3 usable quotes", "2026-05-15T11:27:31Z", 1.0 / 365.0);
        assert!(s.contains("3 usable quotes") && !s.contains("minimum"), "{s}");
    }

    #[test]
    fn arbitrage_location_from_the_worst_violation() {
        let q = Some((-0.5, 0.4));
        assert_eq!(arb_where(None, true, None, q), "none");
        assert_eq!(arb_where(None, false, Some("Butterfly at k=0.100: -1e-3"), q), "inside");
        assert_eq!(
            arb_where(None, false, Some("Calendar at t=0.2106, k=2.000: -1.150e-1"), q),
            "extrapolation"
        );
        assert_eq!(arb_where(Some("inside"), true, None, q), "inside");
    }

    #[test]
    fn implausible_parameters() {
        let p = |v: &[(&str, f64)]| v.iter().map(|(k, x)| (k.to_string(), *x)).collect();
        let h = implausible(
            ModelKind::Heston,
            &p(&[("kappa", 3.0), ("theta", 0.3), ("sigma", 5.2), ("v0", 0.3), ("rho", -0.3)]),
            None,
        );
        assert!(h.iter().any(|w| w.1.contains("σ = 5.2")), "{h:?}");
        let s = implausible(ModelKind::Ssvi, &p(&[("gamma", 0.4999999995), ("rho", -0.2)]), None);
        assert_eq!(s.len(), 1);
        let svi = p(&[("a", 0.01), ("b", 0.1), ("rho", -0.2), ("m", 0.0), ("sigma", 1.2)]);
        assert!(implausible(ModelKind::Svi, &svi, Some((-0.3, 0.0)))
            .iter()
            .any(|w| w.0.contains("σ at its box edge")));
        assert!(implausible(ModelKind::Svi, &svi, Some((-0.5, 0.5))).is_empty());
    }

    #[test]
    fn expiry_codes() {
        assert_eq!(expiry_code("2026-01-08T08:00:00Z"), "8JAN26");
        assert_eq!(short_time("2026-01-05T04:11:27Z"), "2026-01-05 04:11 UTC");
    }
}
