//! What every report page shares: the one style sheet (`style.css`), the page layout (head
//! with the viewport tag, the nav, the `<section id="verdict">`), and number formatting
//! (3–4 significant figures, thousands separators, no `-0`).

use serde::Serialize;

/// The style sheet of every report page.
pub const CSS: &str = include_str!("style.css");

/// The layout of every page but the fit page: head, nav, verdict, then the page's own
/// content (rendered first, with the same context); the context needs `title`, `nav`
/// ([`Link`]s) and `verdict`.
const LAYOUT: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
{{ css|safe }}</style></head><body>
<nav class="top">{% for l in nav %}<a href="{{ l.href }}"{% if l.current %} aria-current="page"{% endif %}>{{ l.label }}</a>{% endfor %}</nav>
<h1>{{ title }}</h1>
<section id="verdict" class="{{ verdict.tone }}">
<h2>Verdict</h2>
<p class="headline">{{ verdict.headline }}</p>
<dl class="facts">{% for f in verdict.facts %}<dt>{{ f.0 }}</dt><dd>{{ f.1 }}</dd>{% endfor %}</dl>
{% if verdict.attention %}<ul class="attention">{% for a in verdict.attention %}<li class="bad">{{ a }}</li>{% endfor %}</ul>{% endif %}
</section>
{{ content|safe }}
</body></html>
"#;

/// The verdict at the top of a page: one headline, the key numbers, what needs attention.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    /// `ok`, `warn` or `bad`: the colour of the section.
    pub tone: &'static str,
    /// One sentence.
    pub headline: String,
    /// Key numbers as (label, value with unit).
    pub facts: Vec<(String, String)>,
    /// What a user must act on (shown in red).
    pub attention: Vec<String>,
}

/// One nav link.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    /// Target (`#id` or a sibling file).
    pub href: String,
    /// Text.
    pub label: String,
    /// True for the page itself.
    pub current: bool,
}

/// The nav of a page: the page itself, sibling pages (`(file, label)`), then its sections.
pub fn nav(this: &str, pages: &[(&str, &str)], sections: &[(&str, &str)]) -> Vec<Link> {
    let mut out = vec![Link { href: "#verdict".into(), label: this.into(), current: true }];
    out.extend(pages.iter().map(|(h, l)| Link {
        href: (*h).into(),
        label: (*l).into(),
        current: false,
    }));
    out.extend(sections.iter().map(|(id, l)| Link {
        href: format!("#{id}"),
        label: (*l).into(),
        current: false,
    }));
    out
}

/// Renders the page's own `template` with `ctx`, then the layout around it.
///
/// # Errors
/// A template error (a bug: every value is escaped).
pub fn render<S: Serialize>(template: &'static str, ctx: &S) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.add_template("page.html", template)?;
    let content = env.get_template("page.html")?.render(minijinja::value::Serde(ctx))?;
    env.add_template("layout.html", LAYOUT)?;
    env.add_global("css", CSS);
    env.add_global("content", minijinja::Value::from_safe_string(content));
    env.get_template("layout.html")?.render(minijinja::value::Serde(ctx))
}

/// `v` with 4 significant figures (3 when `sig` is 3), thousands separators from 1,000 up,
/// scientific notation below 1e-3, `–` when not finite, and never `-0`.
pub fn num_sig(v: f64, sig: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let sig = sig.max(1);
    if v.fract() == 0.0 && v.abs() < 1e15 && v.abs() >= 10f64.powi(sig as i32 - 1) {
        // Whole numbers (counts, round prices) keep every digit and no decimals.
        return group(&format!("{:.0}", v.abs()), "", v < 0.0);
    }
    // Rounded to `sig` significant figures first, so 999.96 counts 4 digits, not 3.
    let a: f64 = format!("{:.*e}", sig - 1, v.abs()).parse().unwrap_or(v.abs());
    if a < 1e-3 {
        return format!("{v:.*e}", sig - 1);
    }
    let digits = a.log10().floor() as i32 + 1;
    let decimals = (sig as i32 - digits).max(0) as usize;
    let s = format!("{a:.decimals$}");
    if s.trim_start_matches(['0', '.']).is_empty() {
        return "0".into();
    }
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    group(int, frac, v < 0.0)
}

/// `int` with thousands separators, then `.frac` when not empty, signed with `−`.
fn group(int: &str, frac: &str, negative: bool) -> String {
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if negative { "−" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// `s` without trailing zeros after the decimal point (`0.5000` → `0.5`, `2.000` → `2`);
/// scientific notation is left as it is.
fn trim(s: String) -> String {
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An axis tick: [`num_sig`] with 3 figures, trailing zeros dropped (`0.5`, `0.001`).
pub fn tick(v: f64) -> String {
    trim(num_sig(v, 3))
}

/// A time tick: `2026-01-05T04:11:27Z` → `01-05 04:11`.
pub fn tick_time(iso: &str) -> String {
    match (iso.get(5..10), iso.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t}"),
        _ => iso.to_string(),
    }
}

/// A count with thousands separators.
pub fn count(n: usize) -> String {
    group(&n.to_string(), "", false)
}

/// The number format of every report: [`num_sig`] with 4 significant figures, trailing
/// zeros dropped (`3.5`, `0.3142`, `80,600`, `−2.5`, never `-0`).
pub fn num(v: f64) -> String {
    trim(num_sig(v, 4))
}

/// `v` with `unit` (`"vol pts"`, `"USD"`, …).
pub fn with_unit(v: f64, unit: &str) -> String {
    format!("{} {unit}", num(v))
}

/// A share as a percentage with 3 significant figures.
pub fn pct(share: f64) -> String {
    format!("{} %", num_sig(100.0 * share, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_separators_sig_figs_and_no_negative_zero() {
        // 4 significant figures, also for large numbers.
        assert_eq!(num(1234567.8), "1,235,000");
        assert_eq!(num(-12345.0), "−12,345");
        assert_eq!(num(4.56789), "4.568");
        assert_eq!(num(3.5), "3.5");
        assert_eq!(num(80599.68), "80,600");
        assert_eq!(num(-2.5), "−2.5");
        assert_eq!(num(1.0000000000000002), "1");
        assert_eq!(num(0.012345), "0.01235");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(-1e-12), "-1.000e-12");
        assert_eq!(num(999.96), "1,000");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num_sig(0.5, 3), "0.500");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(pct(0.4567), "45.7 %");
        assert_eq!(count(706), "706");
        assert_eq!(count(12345), "12,345");
        assert_eq!(num(2000.0), "2,000");
        assert_eq!(tick(0.001), "0.001");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(-0.0), "0");
    }
}
