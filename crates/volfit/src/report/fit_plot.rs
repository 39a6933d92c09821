//! Hand-written SVG charts that scale with the page: a `viewBox` and no fixed pixel size,
//! the legend in its own column right of the plot area, marks clipped to the plot area,
//! a `<title>` (the browser's hover text) on every plotted point, linear, square-root,
//! logarithmic and date axes, and tick labels with 3–4 significant figures and thousands
//! separators (never "-0").

use std::fmt::Write as _;

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scale {
    /// Linear.
    Lin,
    /// Square root (values ≥ 0): term structures against days.
    Sqrt,
    /// Linear in Unix seconds, ticks at calendar dates (UTC).
    Date,
}

/// One axis: range, scale and label (with its unit).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) scale: Scale,
    pub(super) label: String,
}

impl Axis {
    /// An axis over the finite values of `v` (padded 4 %; `None` without a finite value).
    pub(super) fn fit(v: impl Iterator<Item = f64>, scale: Scale, label: &str) -> Option<Axis> {
        let ok = |x: &f64| x.is_finite() && (scale != Scale::Sqrt || *x >= 0.0);
        let (lo, hi) =
            v.filter(ok).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
        if !(lo <= hi) {
            return None;
        }
        let pad = if hi > lo { 0.04 * (hi - lo) } else { 0.5 * lo.abs().max(1e-3) };
        let lo = if scale == Scale::Sqrt { (lo - pad).max(0.0) } else { lo - pad };
        let hi = hi + pad;
        Some(Axis { lo, hi, scale, label: label.to_string() })
    }

    /// The axis with `v` inside its range.
    pub(super) fn including(mut self, v: f64) -> Axis {
        if v.is_finite() {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        }
        self
    }

    fn tr(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Lin | Scale::Date => v,
            Scale::Sqrt => v.max(0.0).sqrt(),
        }
    }

    /// Position of `v` in `[0, 1]` along the axis (outside for values off the range).
    fn unit(&self, v: f64) -> f64 {
        let (a, b) = (self.tr(self.lo), self.tr(self.hi));
        if b > a {
            (self.tr(v) - a) / (b - a)
        } else {
            0.5
        }
    }

    /// Tick values and labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        let inside = |v: &f64| {
            *v >= self.lo - 1e-12 * self.hi.abs() && *v <= self.hi * (1.0 + 1e-12) + 1e-300
        };
        match self.scale {
            Scale::Lin => {
                nice_ticks(self.lo, self.hi, 6).into_iter().map(|v| (v, num(v))).collect()
            }
            Scale::Sqrt => {
                let cands = [
                    0.0, 1.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0, 270.0, 365.0, 540.0, 730.0,
                    1095.0,
                ];
                let v: Vec<(f64, String)> =
                    cands.iter().copied().filter(inside).map(|v| (v, num(v))).collect();
                if v.len() >= 3 {
                    v
                } else {
                    nice_ticks(self.lo, self.hi, 5).into_iter().map(|v| (v, num(v))).collect()
                }
            }
            Scale::Date => date_ticks(self.lo, self.hi),
        }
    }
}

/// About `n` round tick values on `[lo, hi]` (steps 1, 2 or 5 × 10ⁿ).
pub(super) fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|i| i as f64 * step)
        .map(|v| if v.abs() < 1e-9 * step { 0.0 } else { v })
        .collect()
}

/// Date ticks (Unix seconds) at midnights UTC, every 1, 2, 7, 14 or 30 days.
fn date_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    const DAY: f64 = 86_400.0;
    let days = (hi - lo) / DAY;
    let step =
        [1.0, 2.0, 7.0, 14.0, 30.0, 61.0].into_iter().find(|s| days / s <= 7.0).unwrap_or(122.0);
    let mut out = Vec::new();
    let mut d = (lo / DAY).ceil();
    while d * DAY <= hi && out.len() < 12 {
        let label = chrono::DateTime::from_timestamp((d * DAY) as i64, 0)
            .map(|t| t.format("%-d %b").to_string())
            .unwrap_or_default();
        out.push((d * DAY, label));
        d += step;
    }
    out
}

/// A number with 3–4 significant figures and thousands separators; "0" for ±0.
pub(super) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a < 1e-12 {
        return "0".into();
    }
    if a < 1e-3 {
        return format!("{v:.2e}");
    }
    let decimals =
        if a >= 1000.0 { 0 } else { (3 - a.log10().floor() as i32).clamp(0, 6) as usize };
    let s = format!("{:.*}", decimals, a);
    let s =
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && (grouped.chars().any(|c| c != '0' && c != ',') || !frac.is_empty()) {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// `s` escaped for SVG text and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Shape of a point mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mark {
    /// Filled circle.
    Dot,
    /// Open circle.
    Ring,
    /// Filled square.
    Square,
    /// Open triangle.
    Triangle,
    /// Cross.
    Cross,
}

/// Colour cycle for series (hex).
pub(super) const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Colour `i` of the cycle.
pub(super) fn pal(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

enum Key {
    Line(&'static str, bool),
    Mark(Mark, &'static str),
    Bar(&'static str),
}

/// One chart under construction. Marks outside the axes' ranges are dropped, bars clamped
/// to the plot area.
pub(super) struct Plot {
    id: String,
    w: f64,
    h: f64,
    x: Axis,
    y: Axis,
    top: Option<(String, Vec<(f64, String)>)>,
    body: String,
    legend: Vec<(Key, String)>,
}

const LEFT: f64 = 58.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;
const LEGEND_W: f64 = 150.0;

impl Plot {
    /// A chart `id` (unique on the page, a `data-id` for tests) of `x` against `y`.
    pub(super) fn new(id: &str, x: Axis, y: Axis) -> Plot {
        Plot {
            id: id.to_string(),
            w: 640.0,
            h: 340.0,
            x,
            y,
            top: None,
            body: String::new(),
            legend: Vec::new(),
        }
    }

    /// A wider chart (full-width panels).
    pub(super) fn wide(mut self) -> Plot {
        self.w = 980.0;
        self
    }

    /// A secondary axis on top: its label and ticks at x positions.
    pub(super) fn top_axis(mut self, label: &str, ticks: Vec<(f64, String)>) -> Plot {
        self.top = Some((label.to_string(), ticks));
        self
    }

    fn top_pad(&self) -> f64 {
        if self.top.is_some() {
            TOP + 34.0
        } else {
            TOP
        }
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + self.x.unit(x) * (self.right_edge() - LEFT)
    }

    fn right_edge(&self) -> f64 {
        // The legend column is always reserved: marks are placed before the legend is known.
        self.w - LEGEND_W
    }

    fn py(&self, y: f64) -> f64 {
        let (t, b) = (self.top_pad(), self.h - BOTTOM);
        b - self.y.unit(y) * (b - t)
    }

    fn ok(&self, x: f64, y: f64) -> bool {
        x.is_finite() && y.is_finite() && {
            let (u, v) = (self.x.unit(x), self.y.unit(y));
            (-1e-9..=1.0 + 1e-9).contains(&u) && (-1e-9..=1.0 + 1e-9).contains(&v)
        }
    }

    /// A polyline through `pts` (non-finite points break the line) with a legend entry.
    pub(super) fn line(
        &mut self,
        pts: &[(f64, f64)],
        color: &'static str,
        dashed: bool,
        label: &str,
    ) {
        let mut d = String::new();
        let mut pen = false;
        for &(x, y) in pts {
            if !(x.is_finite() && y.is_finite()) {
                pen = false;
                continue;
            }
            let _ =
                write!(d, "{}{:.1},{:.1}", if pen { " L" } else { " M" }, self.px(x), self.py(y));
            pen = true;
        }
        if !d.is_empty() {
            let dash = if dashed { r#" stroke-dasharray="6 4""# } else { "" };
            let _ = write!(
                self.body,
                r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#
            );
        }
        if !label.is_empty() {
            self.legend.push((Key::Line(color, dashed), label.to_string()));
        }
    }

    /// Point marks with hover titles; one legend entry `label` (empty: none).
    pub(super) fn marks(
        &mut self,
        pts: &[(f64, f64, String)],
        mark: Mark,
        color: &'static str,
        label: &str,
    ) {
        for (x, y, title) in pts {
            if !self.ok(*x, *y) {
                continue;
            }
            let (cx, cy) = (self.px(*x), self.py(*y));
            self.body.push_str(&mark_svg(mark, color, cx, cy, &esc(title)));
        }
        if !label.is_empty() && !pts.is_empty() {
            self.legend.push((Key::Mark(mark, color), label.to_string()));
        }
    }

    /// Vertical bars from `y0` to `y1` at `x`, with hover titles, clipped to the plot.
    pub(super) fn bars(
        &mut self,
        bars: &[(f64, f64, f64, String)],
        color: &'static str,
        label: &str,
    ) {
        for (x, y0, y1, title) in bars {
            let inside = (0.0..=1.0).contains(&self.x.unit(*x));
            if !(x.is_finite() && y0.is_finite() && y1.is_finite() && inside) {
                continue;
            }
            let px = self.px(*x);
            // Clamped to the plot area: a bar never runs into the legend or off the chart.
            let clamp = |y: f64| y.clamp(self.y.lo, self.y.hi);
            let (a, b) = (self.py(clamp(*y0)), self.py(clamp(*y1)));
            let _ = write!(
                self.body,
                r#"<path d="M{px:.1},{a:.1} V{b:.1}" stroke="{color}" stroke-width="3" stroke-opacity="0.55"><title>{}</title></path>"#,
                esc(title)
            );
        }
        if !label.is_empty() && !bars.is_empty() {
            self.legend.push((Key::Bar(color), label.to_string()));
        }
    }

    /// A horizontal reference line at `y`.
    pub(super) fn hline(&mut self, y: f64, color: &'static str) {
        if (0.0..=1.0).contains(&self.y.unit(y)) {
            let py = self.py(y);
            let _ = write!(
                self.body,
                r#"<path d="M{LEFT},{py:.1} H{:.1}" stroke="{color}" stroke-width="1"/>"#,
                self.right_edge()
            );
        }
    }

    /// The finished `<svg>` element.
    pub(super) fn finish(self) -> String {
        let (l, r, t, b) = (LEFT, self.right_edge(), self.top_pad(), self.h - BOTTOM);
        let mut s = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="plot" role="img" data-id="{id}" font-family="sans-serif" font-size="12"><rect x="{l}" y="{t:.1}" width="{cw:.1}" height="{ch:.1}" fill="#fff" stroke="#bbb"/>"##,
            w = self.w,
            h = self.h,
            id = esc(&self.id),
            cw = r - l,
            ch = b - t,
        );
        for (v, label) in self.x.ticks() {
            let x = self.px(v);
            let _ = write!(
                s,
                r##"<path d="M{x:.1},{t:.1} V{b:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                b + 15.0,
                esc(&label)
            );
        }
        for (v, label) in self.y.ticks() {
            let y = self.py(v);
            let _ = write!(
                s,
                r##"<path d="M{l},{y:.1} H{r:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                l - 5.0,
                y + 4.0,
                esc(&label)
            );
        }
        if let Some((label, ticks)) = &self.top {
            for (v, tl) in ticks {
                if !(0.0..=1.0).contains(&self.x.unit(*v)) {
                    continue;
                }
                let x = self.px(*v);
                let _ = write!(
                    s,
                    r##"<path d="M{x:.1},{t:.1} v-4" stroke="#666"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
                    t - 7.0,
                    esc(tl)
                );
            }
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="12" text-anchor="middle" fill="#555">{}</text>"##,
                0.5 * (l + r),
                esc(label)
            );
        }
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(13,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
            0.5 * (l + r),
            self.h - 6.0,
            esc(&self.x.label),
            0.5 * (t + b),
            esc(&self.y.label)
        );
        s.push_str(&self.body);
        for (i, (key, label)) in self.legend.iter().enumerate() {
            let (x, y) = (r + 10.0, t + 8.0 + 17.0 * i as f64);
            if y > self.h - 8.0 {
                break;
            }
            let sym = match key {
                Key::Line(c, dashed) => format!(
                    r#"<path d="M{x},{y:.1} h18" stroke="{c}" stroke-width="2"{}/>"#,
                    if *dashed { r#" stroke-dasharray="5 3""# } else { "" }
                ),
                Key::Mark(m, c) => mark_svg(*m, c, x + 9.0, y, ""),
                Key::Bar(c) => format!(
                    r#"<path d="M{:.1},{:.1} v12" stroke="{c}" stroke-width="3" stroke-opacity="0.55"/>"#,
                    x + 9.0,
                    y - 6.0
                ),
            };
            let _ = write!(
                s,
                r#"{sym}<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + 24.0,
                y + 4.0,
                esc(label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// One mark at `(cx, cy)` with hover text `title` (already escaped; empty: none).
fn mark_svg(mark: Mark, color: &str, cx: f64, cy: f64, title: &str) -> String {
    let tt = if title.is_empty() { String::new() } else { format!("<title>{title}</title>") };
    match mark {
        Mark::Dot => {
            format!(r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="{color}">{tt}</circle>"#)
        }
        Mark::Ring => format!(
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="#fff" stroke="{color}" stroke-width="1.5">{tt}</circle>"##
        ),
        Mark::Square => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="6" height="6" fill="{color}">{tt}</rect>"#,
            cx - 3.0,
            cy - 3.0
        ),
        Mark::Triangle => format!(
            r##"<path d="M{cx:.1},{:.1} l4,7 h-8 z" fill="#fff" stroke="{color}" stroke-width="1.5">{tt}</path>"##,
            cy - 4.0
        ),
        Mark::Cross => format!(
            r#"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="{color}" stroke-width="2">{tt}</path>"#,
            cx - 4.0,
            cy - 4.0
        ),
    }
}

/// A chart that says there is nothing to draw (scales like the others).
pub(super) fn empty(message: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 120" class="plot" role="img" font-family="sans-serif" font-size="14"><text x="20" y="60" fill="#888">{}</text></svg>"##,
        esc(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_3_to_4_significant_figures_and_separators() {
        assert_eq!(num(80599.68), "80,600");
        assert_eq!(num(1234.6), "1,235");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(-1e-15), "0");
        assert_eq!(num(0.31416), "0.3142");
        assert_eq!(num(32.7), "32.7");
        assert_eq!(num(-2.5), "-2.5");
        assert_eq!(num(1_000_000.0), "1,000,000");
        assert_eq!(num(2.5e-5), "2.50e-5");
    }

    #[test]
    fn ticks_never_show_minus_zero() {
        for (lo, hi) in [(-0.3, 0.3), (-1e-7, 1e-7), (-2.0, 0.5), (-0.05, 0.0)] {
            let a = Axis { lo, hi, scale: Scale::Lin, label: String::new() };
            assert!(a
                .ticks()
                .iter()
                .all(|(_, l)| l != "-0" && !l.starts_with("-0.0") || l.len() > 4));
            assert!(a.ticks().iter().all(|(_, l)| l != "-0"), "{:?}", a.ticks());
        }
    }

    #[test]
    fn svg_scales_and_clips_and_titles_points() {
        let x = Axis::fit([0.0, 1.0].into_iter(), Scale::Lin, "k").expect("axis");
        let y = Axis::fit([10.0, 20.0].into_iter(), Scale::Lin, "IV (vol pts)").expect("axis");
        let mut p = Plot::new("t1", x, y);
        p.marks(
            &[(0.5, 15.0, "<K=1>".into()), (5.0, 15.0, "off".into())],
            Mark::Dot,
            pal(0),
            "mid",
        );
        p.bars(&[(0.5, 0.0, 100.0, "bar".into())], pal(1), "bid–ask");
        let s = p.finish();
        assert!(s.starts_with("<svg") && s.contains("viewBox=") && !s.contains("width=\"640\""));
        assert!(s.contains("<title>&lt;K=1&gt;</title>") && !s.contains("off</title>"));
        assert!(!s.contains("url("), "no references, local or not");
        // The bar from 0 to 100 is clamped to the axis (about 9.6 to 20.4): it stays
        // between the plot's top (y = 12) and bottom (y = 300).
        let bar = s.split("<path d=\"M").find(|p| p.contains("bar</title>")).expect("bar");
        let ys: Vec<f64> =
            bar.split([',', 'V', '"']).filter_map(|v| v.trim().parse().ok()).collect();
        assert!(ys.iter().skip(1).take(2).all(|y| (12.0..=300.0).contains(y)), "{bar}");
    }

    #[test]
    fn sqrt_axis_ticks_in_days() {
        let a = Axis { lo: 0.0, hi: 400.0, scale: Scale::Sqrt, label: "days".into() };
        let t: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert!(t.contains(&"7".to_string()) && t.contains(&"365".to_string()), "{t:?}");
        assert!((a.unit(100.0) - 0.5).abs() < 1e-12);
    }
}
