//! Ready-made charts on [`Plot`]: line charts described as data ([`Chart`]), histograms
//! on a shared range, horizontal bars around zero, a heat map with its colour bar, and
//! log-scale loss curves.

use super::super::page::num;
use super::{empty, esc, heat, pal, Axis, Mark, Plot, Scale};
use std::fmt::Write as _;

/// One line of a [`Chart`].
#[derive(Clone, Debug, Default)]
pub(in crate::report) struct Line {
    /// Legend text.
    pub(in crate::report) label: String,
    /// (x, y) points in x order; non-finite points break the line.
    pub(in crate::report) points: Vec<(f64, f64)>,
    /// Hover text per point (empty: `label, x, y`).
    pub(in crate::report) titles: Vec<String>,
    /// Dashed stroke.
    pub(in crate::report) dashed: bool,
}

/// An axis of a [`Chart`]: its label (with the unit) and, optionally, fixed ticks.
#[derive(Clone, Debug, Default)]
pub(in crate::report) struct ChartAxis {
    /// Label with unit.
    pub(in crate::report) label: String,
    /// Fixed ticks `(position, text)`; `None` = round numbers over the data range.
    pub(in crate::report) ticks: Option<Vec<(f64, String)>>,
    /// Always include 0 in the range.
    pub(in crate::report) zero: bool,
}

impl ChartAxis {
    fn axis(&self, values: impl Iterator<Item = f64>) -> Option<Axis> {
        let a = Axis::fit(values.chain(self.zero.then_some(0.0)), Scale::Lin, &self.label)?;
        Some(match &self.ticks {
            Some(t) => a.with_ticks(t.clone()),
            None => a,
        })
    }
}

/// A line chart as data: title, axes, lines and labelled vertical markers.
#[derive(Clone, Debug, Default)]
pub(in crate::report) struct Chart {
    /// Title drawn above the plot.
    pub(in crate::report) title: String,
    /// x axis.
    pub(in crate::report) x: ChartAxis,
    /// y axis.
    pub(in crate::report) y: ChartAxis,
    /// Lines.
    pub(in crate::report) lines: Vec<Line>,
    /// Vertical markers `(x, label)`.
    pub(in crate::report) vlines: Vec<(f64, String)>,
}

/// At most 8 ticks at positions 0, 1, 2, … labelled by `labels` (a time axis drawn by
/// position: one tick every ⌈n/8⌉ labels).
pub(in crate::report) fn index_ticks(
    labels: impl ExactSizeIterator<Item = String>,
) -> Vec<(f64, String)> {
    let step = labels.len().div_ceil(8).max(1);
    labels.enumerate().filter(|(i, _)| i % step == 0).map(|(i, t)| (i as f64, t)).collect()
}

/// A line chart with point markers (each with a hover title) and its legend under it.
pub(in crate::report) fn line_chart(c: &Chart) -> String {
    let pts = || {
        c.lines.iter().flat_map(|l| l.points.iter()).filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let (Some(x), Some(y)) = (
        c.x.axis(pts().map(|p| p.0).chain(c.vlines.iter().map(|v| v.0))),
        c.y.axis(pts().map(|p| p.1)),
    ) else {
        return empty(&format!("{}: nothing to draw", c.title));
    };
    let mut p = Plot::new("", x, y).titled(&c.title).legend_below();
    for (x, label) in &c.vlines {
        p.marker(*x, label);
    }
    for (i, l) in c.lines.iter().enumerate() {
        let col = pal(i);
        p.line(&l.points, col, l.dashed, &l.label);
        let marks: Vec<(f64, f64, String)> = l
            .points
            .iter()
            .enumerate()
            .map(|(j, &(x, y))| {
                let t = l.titles.get(j).cloned();
                (x, y, t.unwrap_or_else(|| format!("{}: x {} · y {}", l.label, num(x), num(y))))
            })
            .collect();
        p.marks(&marks, Mark::Dot, col, "");
    }
    p.finish()
}

/// A histogram (30 bins) of `values` over the fixed range `[lo, hi]` (shared between
/// charts that are compared), with labelled vertical markers.
pub(in crate::report) fn histogram(
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
    let x = Axis::new(lo, hi, Scale::Lin, x_label);
    let y = Axis::new(0.0, top * 1.08, Scale::Lin, "count");
    let mut p = Plot::new("", x, y).titled(title).legend_below();
    for (i, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let x0 = lo + width * i as f64;
        let t = format!("{} to {}: {n}", num(x0), num(x0 + width));
        p.rect((x0, x0 + 0.98 * width), (0.0, n as f64), "#1f77b4b3", &t);
    }
    for (x, label) in markers {
        p.marker(*x, label);
    }
    p.finish()
}

/// One horizontal bar: label, value, hover text.
#[derive(Clone, Debug)]
pub(in crate::report) struct Bar {
    /// Label left of the bar.
    pub(in crate::report) label: String,
    /// Value.
    pub(in crate::report) value: f64,
    /// Hover text.
    pub(in crate::report) title: String,
}

/// Horizontal bars around a zero line (blue ≥ 0, red < 0); values formatted with `unit`.
pub(in crate::report) fn hbars(title: &str, unit: &str, bars: &[Bar]) -> String {
    let bars: Vec<&Bar> = bars.iter().filter(|b| b.value.is_finite()).collect();
    if bars.is_empty() {
        return empty(&format!("{title}: nothing to draw"));
    }
    let (w, row, left, top) = (640.0, 18.0, 200.0, 28.0);
    let h = top + row * bars.len() as f64 + 10.0;
    let lo = bars.iter().fold(0.0f64, |m, b| m.min(b.value));
    let hi = bars.iter().fold(0.0f64, |m, b| m.max(b.value));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let plot = w - left - 90.0;
    let xpos = |v: f64| left + (v - lo) / span * plot;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="chart" role="img" font-family="sans-serif" font-size="12"><title>{t}</title><text x="{}" y="17" font-size="14" text-anchor="middle">{t}</text>"#,
        w / 2.0,
        t = esc(title)
    );
    let zero = xpos(0.0);
    for (k, b) in bars.iter().enumerate() {
        let y = top + row * k as f64;
        let (a, e) = if b.value >= 0.0 { (zero, xpos(b.value)) } else { (xpos(b.value), zero) };
        let fill = if b.value >= 0.0 { pal(0) } else { pal(3) };
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
            esc(&num(b.value)),
            esc(unit)
        );
    }
    let _ = write!(s, r##"<path d="M{zero:.1},{top} V{:.1}" stroke="#444"/></svg>"##, h - 10.0);
    s
}

/// A heat map of `values[row][col]` (fractions, shown in vol points) with cells spanning
/// `x_edges` (len cols + 1) and `y_edges` (len rows + 1), and a colour bar. The colour
/// scale runs from the 2nd to the 98th percentile, so a few extreme wing cells do not wash
/// out the rest.
pub(in crate::report) fn heatmap(
    (x_label, y_label, unit): (&str, &str, &str),
    x_edges: &[f64],
    y_edges: &[f64],
    values: &[Vec<f64>],
) -> String {
    let mut flat: Vec<f64> = values.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    flat.sort_by(f64::total_cmp);
    let pct =
        |q: f64| flat.get(((flat.len().saturating_sub(1)) as f64 * q).round() as usize).copied();
    let (lo, hi) = (pct(0.02).unwrap_or(f64::NAN), pct(0.98).unwrap_or(f64::NAN));
    let ok = |e: &[f64]| e.len() >= 2 && e.iter().all(|v| v.is_finite()) && e[0] < e[e.len() - 1];
    if !(lo <= hi) || !ok(x_edges) || !ok(y_edges) {
        return empty("no surface");
    }
    let span = (hi - lo).max(1e-12);
    let x = Axis::new(x_edges[0], x_edges[x_edges.len() - 1], Scale::Lin, x_label);
    let y = Axis::new(y_edges[0], y_edges[y_edges.len() - 1], Scale::Lin, y_label);
    let mut p = Plot::new("", x, y).wide();
    for (r, row) in values.iter().enumerate() {
        let (Some(&y0), Some(&y1)) = (y_edges.get(r), y_edges.get(r + 1)) else { continue };
        for (c, &v) in row.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let (Some(&x0), Some(&x1)) = (x_edges.get(c), x_edges.get(c + 1)) else { continue };
            p.rect((x0, x1), (y0, y1), &heat((v - lo) / span), "");
        }
    }
    p.color_bar(100.0 * lo, 100.0 * hi, unit);
    p.finish()
}

/// Lines on a logarithmic y axis (non-positive values dropped), points marked while a
/// line has at most 60 of them; `series` is (label, points).
pub(in crate::report) fn log_lines(
    id: &str,
    (x_label, y_label): (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let pts = || series.iter().flat_map(|s| s.1.iter()).filter(|p| p.0.is_finite() && p.1 > 0.0);
    let (Some(x), Some(y)) = (
        Axis::fit(pts().map(|p| p.0), Scale::Lin, x_label),
        Axis::fit(pts().map(|p| p.1), Scale::Log, y_label),
    ) else {
        return empty("no data");
    };
    let mut p = Plot::new(id, x, y).wide();
    for (i, (label, points)) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1 > 0.0).collect();
        p.line(&points, pal(i), false, label);
        if points.len() <= 60 {
            let marks: Vec<(f64, f64, String)> = points
                .iter()
                .map(|&(x, y)| (x, y, format!("{label}: iteration {} · cost {}", num(x), num(y))))
                .collect();
            p.marks(&marks, Mark::Dot, pal(i), "");
        }
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_charts_scale_and_carry_hover_titles() {
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
        assert!(s.contains(r#"<ul class="legend">"#));
    }

    #[test]
    fn empty_input_gives_a_message_not_an_error() {
        assert!(line_chart(&Chart::default()).contains("nothing to draw"));
        assert!(heatmap(("k", "t", "vol pts"), &[0.0], &[0.0], &[]).contains("no surface"));
        assert!(log_lines("l", ("i", "c"), &[("a".into(), vec![(0.0, -1.0)])]).contains("no data"));
        assert!(histogram("h", "x", &[], (0.0, 1.0), &[]).contains("not enough points"));
    }

    #[test]
    fn heatmap_cells_and_colour_bar() {
        let s = heatmap(
            ("k", "t (years)", "IV (vol pts)"),
            &[0.0, 1.0, 2.0],
            &[0.0, 1.0],
            &[vec![0.4, 0.6]],
        );
        // Two cells at the scale's ends, plus 24 colour-bar steps.
        assert!(s.contains(r##"fill="#313695""##) && s.contains(r##"fill="#d73027""##), "{s}");
        assert_eq!(s.matches("<rect").count(), 1 + 2 + 24);
        assert!(s.contains(">60<") && s.contains(">40<"));
    }
}
