//! The SVG charts of the validate, hedge and allocation pages: line charts with any tick
//! labels (dates, a log axis that includes 0), horizontal bars and histograms. Every chart
//! scales with the page (`viewBox`, no fixed width), has its legend outside the plot (an
//! HTML list under it), and a hover `<title>` on each plotted point or bar.

use super::page::{num_sig, tick};
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 46.0;

/// Line colours, in series order.
pub const COLORS: [&str; 8] =
    ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/// One line of a chart.
#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// (x, y) points in x order; non-finite points break the line.
    pub points: Vec<(f64, f64)>,
    /// Hover text per point (empty: `label, x, y`).
    pub titles: Vec<String>,
    /// Dashed stroke.
    pub dashed: bool,
}

/// An axis: its label (with the unit) and, optionally, fixed ticks `(position, text)`.
#[derive(Clone, Debug, Default)]
pub struct Axis {
    /// Label with unit.
    pub label: String,
    /// Fixed ticks; `None` = nice numbers over the data range.
    pub ticks: Option<Vec<(f64, String)>>,
    /// Always include 0 in the range.
    pub zero: bool,
}

/// A line chart.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// Title drawn above the plot.
    pub title: String,
    /// x axis.
    pub x: Axis,
    /// y axis.
    pub y: Axis,
    /// Lines.
    pub lines: Vec<Line>,
    /// Vertical markers `(x, label)`.
    pub vlines: Vec<(f64, String)>,
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// About `n` round tick values (1, 2, 5 × 10ᵏ) covering `[lo, hi]`.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // `+ 0.0` turns −0 into 0.
    (first..=last).map(|i| i as f64 * step + 0.0).collect()
}

fn range(values: impl Iterator<Item = f64>, zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if zero {
        (lo, hi) = (lo.min(0.0), hi.max(0.0));
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        let pad = if lo == 0.0 { 1.0 } else { 0.05 * lo.abs() };
        return (lo - pad, hi + pad);
    }
    let pad = 0.04 * (hi - lo);
    (if zero && lo == 0.0 { 0.0 } else { lo - pad }, if zero && hi == 0.0 { 0.0 } else { hi + pad })
}

/// An empty chart frame with a message (same size as a chart).
pub fn empty(message: &str) -> String {
    format!(
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} 80" role="img"><text x="{}" y="44" font-size="14" text-anchor="middle" fill="#666">{}</text></svg>"##,
        W / 2.0,
        esc(message)
    )
}

fn legend(labels: impl Iterator<Item = (String, &'static str)>) -> String {
    let items: String =
        labels.map(|(l, c)| format!(r#"<li style="--c:{c}">{}</li>"#, esc(&l))).collect();
    format!(r#"<ul class="legend">{items}</ul>"#)
}

/// The frame: title, axes, grid lines and tick labels; returns the SVG so far and the
/// x and y maps.
fn frame(c: &Chart, xr: (f64, f64), yr: (f64, f64), s: &mut String) {
    let px = |x: f64| LEFT + (x - xr.0) / (xr.1 - xr.0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - yr.0) / (yr.1 - yr.0) * (H - TOP - BOTTOM);
    let _ = write!(
        s,
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img"><title>{t}</title><text x="{cx}" y="17" font-size="14" text-anchor="middle">{t}</text>"##,
        t = esc(&c.title),
        cx = W / 2.0
    );
    let xt =
        c.x.ticks.clone().unwrap_or_else(|| {
            nice_ticks(xr.0, xr.1, 6).into_iter().map(|v| (v, tick(v))).collect()
        });
    for (v, label) in xt.iter().filter(|t| t.0 >= xr.0 - 1e-9 && t.0 <= xr.1 + 1e-9) {
        let x = px(*v);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 15.0,
            esc(label)
        );
    }
    let yt =
        c.y.ticks.clone().unwrap_or_else(|| {
            nice_ticks(yr.0, yr.1, 5).into_iter().map(|v| (v, tick(v))).collect()
        });
    for (v, label) in yt.iter().filter(|t| t.0 >= yr.0 - 1e-9 && t.0 <= yr.1 + 1e-9) {
        let y = py(*v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 5.0,
            y + 4.0,
            esc(label)
        );
    }
    if yr.0 < 0.0 && yr.1 > 0.0 {
        let y = py(0.0);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#999"/>"##,
            W - RIGHT
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="#888"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text><text transform="translate(14 {:.1}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM,
        (LEFT + W - RIGHT) / 2.0,
        H - 8.0,
        esc(&c.x.label),
        (TOP + H - BOTTOM) / 2.0,
        esc(&c.y.label)
    );
}

/// A dashed red vertical marker at pixel `x`, its label on row `k` (so two labels never
/// overlap), on the side of the line that has room.
fn marker(s: &mut String, x: f64, k: usize, label: &str) {
    let (tx, anchor) = if x > W / 2.0 { (x - 4.0, "end") } else { (x + 4.0, "start") };
    let _ = write!(
        s,
        r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="4 3"><title>{l}</title></line><text x="{tx:.1}" y="{:.1}" font-size="11" fill="#c0392b" text-anchor="{anchor}">{l}</text>"##,
        H - BOTTOM,
        TOP + 14.0 + 14.0 * k as f64,
        l = esc(label)
    );
}

/// A line chart with point markers (each with a hover title) and its legend under it.
pub fn line_chart(c: &Chart) -> String {
    let xs = c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let xs = xs.chain(c.vlines.iter().map(|v| v.0));
    let ys = c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    if !c.lines.iter().flat_map(|l| &l.points).any(|p| p.0.is_finite() && p.1.is_finite()) {
        return empty(&format!("{}: nothing to draw", c.title));
    }
    let xr = range(xs.chain(c.x.ticks.iter().flatten().map(|t| t.0)), c.x.zero);
    let yr = range(ys, c.y.zero);
    let px = |x: f64| LEFT + (x - xr.0) / (xr.1 - xr.0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - yr.0) / (yr.1 - yr.0) * (H - TOP - BOTTOM);
    let mut s = String::new();
    frame(c, xr, yr, &mut s);
    for (k, (x, label)) in c.vlines.iter().enumerate() {
        marker(&mut s, px(*x), k, label);
    }
    for (i, l) in c.lines.iter().enumerate() {
        let col = COLORS[i % COLORS.len()];
        let dash = if l.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let mut d = String::new();
        let mut pen = false;
        for &(x, y) in &l.points {
            if x.is_finite() && y.is_finite() {
                let _ = write!(d, "{}{:.1} {:.1}", if pen { " L" } else { " M" }, px(x), py(y));
                pen = true;
            } else {
                pen = false;
            }
        }
        let _ = write!(s, r#"<path d="{d}" fill="none" stroke="{col}" stroke-width="1.8"{dash}/>"#);
        for (j, &(x, y)) in l.points.iter().enumerate() {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let title = l.titles.get(j).cloned().unwrap_or_else(|| {
                format!("{}: x {} · y {}", l.label, num_sig(x, 4), num_sig(y, 4))
            });
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{col}"><title>{}</title></circle>"#,
                px(x),
                py(y),
                esc(&title)
            );
        }
    }
    s.push_str("</svg>");
    s.push_str(&legend(
        c.lines.iter().enumerate().map(|(i, l)| (l.label.clone(), COLORS[i % COLORS.len()])),
    ));
    s
}

/// One horizontal bar: label, value, hover text.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Label left of the bar.
    pub label: String,
    /// Value.
    pub value: f64,
    /// Hover text.
    pub title: String,
}

/// Horizontal bars around a zero line; values formatted with `unit`.
pub fn hbars(title: &str, unit: &str, bars: &[Bar]) -> String {
    let bars: Vec<&Bar> = bars.iter().filter(|b| b.value.is_finite()).collect();
    if bars.is_empty() {
        return empty(&format!("{title}: nothing to draw"));
    }
    let (row, left, top) = (18.0, 200.0, 28.0);
    let h = top + row * bars.len() as f64 + 10.0;
    let lo = bars.iter().fold(0.0f64, |m, b| m.min(b.value));
    let hi = bars.iter().fold(0.0f64, |m, b| m.max(b.value));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let plot = W - left - 90.0;
    let xpos = |v: f64| left + (v - lo) / span * plot;
    let mut s = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img"><title>{t}</title><text x="{}" y="17" font-size="14" text-anchor="middle">{t}</text>"#,
        W / 2.0,
        t = esc(title)
    );
    let zero = xpos(0.0);
    for (k, b) in bars.iter().enumerate() {
        let y = top + row * k as f64;
        let (a, e) = if b.value >= 0.0 { (zero, xpos(b.value)) } else { (xpos(b.value), zero) };
        let fill = if b.value >= 0.0 { "#1f77b4" } else { "#d62728" };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}</title></rect><text x="{:.1}" y="{:.1}" font-size="10">{} {}</text>"#,
            left - 6.0,
            y + row * 0.7,
            esc(&b.label),
            y + 2.0,
            (e - a).max(0.5),
            row - 4.0,
            esc(&b.title),
            e.max(zero) + 4.0,
            y + row * 0.7,
            esc(&num_sig(b.value, 4)),
            esc(unit)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{zero:.1}" y1="{top}" x2="{zero:.1}" y2="{:.1}" stroke="#444"/></svg>"##,
        h - 10.0
    );
    s
}

/// A histogram of `values` over the fixed range `[lo, hi]` (shared between charts that are
/// compared), with vertical markers.
pub fn histogram(
    title: &str,
    x_label: &str,
    values: &[f64],
    (lo, hi): (f64, f64),
    markers: &[(f64, String)],
) -> String {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() || !(hi > lo) {
        return empty(&format!("{title}: not enough points for a histogram"));
    }
    let bins = 30usize;
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in &values {
        let i = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let c = Chart {
        title: title.into(),
        x: Axis { label: x_label.into(), ..Axis::default() },
        y: Axis { label: "count".into(), zero: true, ..Axis::default() },
        lines: Vec::new(),
        vlines: markers.to_vec(),
    };
    let xr = (lo, hi);
    let yr = (0.0, top * 1.08);
    let px = |x: f64| LEFT + (x - xr.0) / (xr.1 - xr.0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - yr.0) / (yr.1 - yr.0) * (H - TOP - BOTTOM);
    let mut s = String::new();
    frame(&c, xr, yr, &mut s);
    for (i, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let x0 = lo + width * i as f64;
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1f77b4" fill-opacity="0.7"><title>{} to {}: {n}</title></rect>"##,
            px(x0),
            py(n as f64),
            (px(x0 + width) - px(x0) - 0.5).max(0.5),
            py(0.0) - py(n as f64),
            num_sig(x0, 4),
            num_sig(x0 + width, 4)
        );
    }
    for (k, (x, label)) in markers.iter().filter(|m| m.0 >= lo && m.0 <= hi).enumerate() {
        marker(&mut s, px(*x), k, label);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_never_negative_zero() {
        assert_eq!(nice_ticks(-1e-7, 1e-7, 4), vec![-1e-7, -5e-8, 0.0, 5e-8, 1e-7]);
        let t = nice_ticks(-0.3, 0.0, 3);
        assert!(t.iter().all(|v| !(v.to_string().starts_with("-0") && *v == 0.0)));
        assert!(!num_sig(*t.last().unwrap(), 3).contains('−'));
    }

    #[test]
    fn charts_scale_and_carry_hover_titles() {
        let c = Chart {
            title: "a <b>".into(),
            lines: vec![Line {
                label: "l".into(),
                points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)],
                ..Line::default()
            }],
            ..Chart::default()
        };
        let s = line_chart(&c);
        assert!(s.contains("viewBox") && !s.contains("width=\"640\""));
        assert_eq!(s.matches("<circle").count(), 2);
        assert!(s.contains("a &lt;b&gt;") && s.contains("<title>l: x 0"));
    }
}
