//! The one SVG module of the reports: every chart on every page is a [`Plot`]. Charts scale
//! with the page (a `viewBox`, no fixed pixel size), keep their legend outside the plot
//! area (a column on the right, or an HTML list under the chart), clip marks and clamp
//! bars to the plot area, carry a `<title>` (the browser's hover text) on every plotted
//! point, and round coordinates to 0.1 px. Numbers go through the one formatter,
//! [`page::num`](super::page::num).

mod axis;
mod chart;

pub(super) use axis::{nice_ticks, Axis, Scale};
pub(super) use chart::{
    hbars, heatmap, histogram, index_ticks, line_chart, log_lines, Bar, Chart, ChartAxis, Line,
};

use std::fmt::Write as _;

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
    /// A colour bar from `lo` to `hi` (values as shown), coloured by `heat`.
    Scale(f64, f64),
}

/// Where the legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Legend {
    /// A column right of the plot area, inside the SVG.
    Right,
    /// An HTML list under the SVG (long labels wrap with the page).
    Below,
}

const LEFT: f64 = 58.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;
const LEGEND_W: f64 = 150.0;
const RIGHT: f64 = 16.0;
const TITLE_H: f64 = 22.0;

/// One chart under construction. Marks outside the axes' ranges are dropped, bars and
/// rectangles clamped to the plot area.
pub(super) struct Plot {
    id: String,
    title: Option<String>,
    w: f64,
    h: f64,
    x: Axis,
    y: Axis,
    top: Option<(String, Vec<(f64, String)>)>,
    body: String,
    legend: Vec<(Key, String)>,
    legend_at: Legend,
    markers: usize,
}

impl Plot {
    /// A chart `id` (unique on the page, a `data-id` for tests; empty: none) of `x` against
    /// `y`.
    pub(super) fn new(id: &str, x: Axis, y: Axis) -> Plot {
        Plot {
            id: id.to_string(),
            title: None,
            w: 640.0,
            h: 340.0,
            x,
            y,
            top: None,
            body: String::new(),
            legend: Vec::new(),
            legend_at: Legend::Right,
            markers: 0,
        }
    }

    /// A wider chart (full-width panels).
    pub(super) fn wide(mut self) -> Plot {
        self.w = 980.0;
        self
    }

    /// A title drawn above the plot area (and the SVG's own `<title>`).
    pub(super) fn titled(mut self, title: &str) -> Plot {
        self.title = Some(title.to_string());
        self
    }

    /// The legend as an HTML list under the chart instead of a column on its right.
    pub(super) fn legend_below(mut self) -> Plot {
        self.legend_at = Legend::Below;
        self
    }

    /// A secondary axis on top: its label and ticks at x positions.
    pub(super) fn top_axis(mut self, label: &str, ticks: Vec<(f64, String)>) -> Plot {
        self.top = Some((label.to_string(), ticks));
        self
    }

    fn top_pad(&self) -> f64 {
        let t = if self.title.is_some() { TOP + TITLE_H } else { TOP };
        if self.top.is_some() {
            t + 34.0
        } else {
            t
        }
    }

    fn right_edge(&self) -> f64 {
        // The legend column is always reserved: marks are placed before the legend is known.
        match self.legend_at {
            Legend::Right => self.w - LEGEND_W,
            Legend::Below => self.w - RIGHT,
        }
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + self.x.unit(x) * (self.right_edge() - LEFT)
    }

    fn py(&self, y: f64) -> f64 {
        let (t, b) = (self.top_pad(), self.h - BOTTOM);
        b - self.y.unit(y) * (b - t)
    }

    /// A polyline through `pts` (non-finite points break the line) with a legend entry
    /// (`label` empty: none).
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
            if !(x.is_finite() && y.is_finite() && self.x.contains(x)) {
                pen = false;
                continue;
            }
            let y = y.clamp(self.y.lo, self.y.hi);
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
            if !(self.x.contains(*x) && self.y.contains(*y)) {
                continue;
            }
            let (cx, cy) = (self.px(*x), self.py(*y));
            self.body.push_str(&mark_svg(mark, color, cx, cy, &esc(title)));
        }
        if !label.is_empty() && !pts.is_empty() {
            self.legend.push((Key::Mark(mark, color), label.to_string()));
        }
    }

    /// Vertical bars from `y0` to `y1` at `x`, with hover titles, clamped to the plot.
    pub(super) fn bars(
        &mut self,
        bars: &[(f64, f64, f64, String)],
        color: &'static str,
        label: &str,
    ) {
        for (x, y0, y1, title) in bars {
            if !(self.x.contains(*x) && y0.is_finite() && y1.is_finite()) {
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

    /// A filled rectangle over `[x0, x1] × [y0, y1]` (clamped to the plot), with a hover
    /// title when `title` is not empty.
    pub(super) fn rect(
        &mut self,
        (x0, x1): (f64, f64),
        (y0, y1): (f64, f64),
        fill: &str,
        title: &str,
    ) {
        let cx = |x: f64| self.px(x.clamp(self.x.lo, self.x.hi));
        let cy = |y: f64| self.py(y.clamp(self.y.lo, self.y.hi));
        let (a, b) = (cx(x0).min(cx(x1)), cx(x0).max(cx(x1)));
        let (c, d) = (cy(y0).min(cy(y1)), cy(y0).max(cy(y1)));
        if !(a.is_finite() && b.is_finite() && c.is_finite() && d.is_finite()) {
            return;
        }
        let tt =
            if title.is_empty() { String::new() } else { format!("<title>{}</title>", esc(title)) };
        let _ = write!(
            self.body,
            r#"<rect x="{a:.1}" y="{c:.1}" width="{:.1}" height="{:.1}" fill="{fill}">{tt}</rect>"#,
            (b - a).max(0.5),
            (d - c).max(0.5)
        );
    }

    /// A horizontal reference line at `y`.
    pub(super) fn hline(&mut self, y: f64, color: &'static str) {
        if self.y.contains(y) {
            let py = self.py(y);
            let _ = write!(
                self.body,
                r#"<path d="M{LEFT},{py:.1} H{:.1}" stroke="{color}" stroke-width="1"/>"#,
                self.right_edge()
            );
        }
    }

    /// A dashed red vertical marker at `x` with its label, each on its own row (so two
    /// labels never overlap), on the side of the line that has room.
    pub(super) fn marker(&mut self, x: f64, label: &str) {
        if !self.x.contains(x) {
            return;
        }
        let (px, t, b) = (self.px(x), self.top_pad(), self.h - BOTTOM);
        let (tx, anchor) = if px > self.w / 2.0 { (px - 4.0, "end") } else { (px + 4.0, "start") };
        let _ = write!(
            self.body,
            r##"<path d="M{px:.1},{t:.1} V{b:.1}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="4 3"><title>{l}</title></path><text x="{tx:.1}" y="{:.1}" font-size="11" fill="#c0392b" text-anchor="{anchor}">{l}</text>"##,
            t + 14.0 + 14.0 * self.markers as f64,
            l = esc(label)
        );
        self.markers += 1;
    }

    /// A colour bar in the legend column, from `lo` to `hi` (as labelled).
    pub(super) fn color_bar(&mut self, lo: f64, hi: f64, label: &str) {
        self.legend.push((Key::Scale(lo, hi), label.to_string()));
    }

    fn frame(&self, s: &mut String) {
        let (l, r, t, b) = (LEFT, self.right_edge(), self.top_pad(), self.h - BOTTOM);
        let id = if self.id.is_empty() {
            String::new()
        } else {
            format!(r#" data-id="{}""#, esc(&self.id))
        };
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="chart" role="img"{id} font-family="sans-serif" font-size="12">"##,
            w = self.w,
            h = self.h,
        );
        if let Some(title) = &self.title {
            let _ = write!(
                s,
                r##"<title>{t}</title><text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">{t}</text>"##,
                0.5 * (l + r),
                TOP + 8.0,
                t = esc(title)
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{l}" y="{t:.1}" width="{:.1}" height="{:.1}" fill="#fff" stroke="#bbb"/>"##,
            r - l,
            b - t
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
        if self.y.lo < 0.0 && self.y.hi > 0.0 && self.y.scale == Scale::Lin {
            let y = self.py(0.0);
            let _ = write!(s, r##"<path d="M{l},{y:.1} H{r:.1}" stroke="#999"/>"##);
        }
        if let Some((label, ticks)) = &self.top {
            for (v, tl) in ticks.iter().filter(|tk| self.x.contains(tk.0)) {
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
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
                0.5 * (l + r),
                t - 22.0,
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
    }

    /// The legend column inside the SVG.
    fn legend_right(&self, s: &mut String) {
        let (r, t) = (self.right_edge(), self.top_pad());
        let mut y = t + 8.0;
        for (key, label) in &self.legend {
            if y > self.h - 8.0 {
                break;
            }
            let x = r + 10.0;
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
                Key::Scale(lo, hi) => color_bar(x, (y + 10.0, self.h - BOTTOM), (*lo, *hi)),
            };
            let _ = write!(
                s,
                r#"{sym}<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + 24.0,
                y + 4.0,
                esc(label)
            );
            y += 17.0;
        }
    }

    /// The finished `<svg>` element (and its HTML legend when [`Plot::legend_below`]).
    pub(super) fn finish(self) -> String {
        let mut s = String::with_capacity(self.body.len() + 4096);
        self.frame(&mut s);
        s.push_str(&self.body);
        if self.legend_at == Legend::Right {
            self.legend_right(&mut s);
        }
        s.push_str("</svg>");
        if self.legend_at == Legend::Below && !self.legend.is_empty() {
            s.push_str(r#"<ul class="legend">"#);
            for (key, label) in &self.legend {
                let c = match key {
                    Key::Line(c, _) | Key::Mark(_, c) | Key::Bar(c) => c,
                    Key::Scale(..) => "#888",
                };
                let _ = write!(s, r#"<li style="--c:{c}">{}</li>"#, esc(label));
            }
            s.push_str("</ul>");
        }
        s
    }
}

/// A vertical colour bar at `x` from `top` to `bottom`, labelled `lo` (bottom) to `hi`.
fn color_bar(x: f64, (top, bottom): (f64, f64), (lo, hi): (f64, f64)) -> String {
    const N: u32 = 24;
    let step = (bottom - top) / f64::from(N);
    let mut bar = String::new();
    for i in 0..N {
        let u = 1.0 - (f64::from(i) + 0.5) / f64::from(N);
        let _ = write!(
            bar,
            r#"<rect x="{x}" y="{:.1}" width="16" height="{:.1}" fill="{}"/>"#,
            top + step * f64::from(i),
            step + 0.3,
            heat(u)
        );
    }
    for (u, v) in [(0.0, lo), (0.5, 0.5 * (lo + hi)), (1.0, hi)] {
        let _ = write!(
            bar,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 20.0,
            bottom - u * (bottom - top) + 4.0,
            esc(&super::page::tick(v))
        );
    }
    bar
}

/// Colour of a value in `[0, 1]` on a blue → yellow → red scale (hex).
pub(super) fn heat(u: f64) -> String {
    let u = if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.0 };
    let stops =
        [(49.0, 54.0, 149.0), (116.0, 173.0, 209.0), (254.0, 224.0, 144.0), (215.0, 48.0, 39.0)];
    let x = u * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let lerp = |a: f64, b: f64| (a + f * (b - a)).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    format!("#{:02x}{:02x}{:02x}", lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
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
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 80" class="chart" role="img" font-family="sans-serif" font-size="14"><text x="20" y="44" fill="#888">{}</text></svg>"##,
        esc(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn legend_below_is_an_html_list_and_widens_the_plot() {
        let x = Axis::new(0.0, 1.0, Scale::Lin, "x");
        let y = Axis::new(0.0, 1.0, Scale::Lin, "y");
        let mut p = Plot::new("", x, y).titled("T").legend_below();
        p.line(&[(0.0, 0.0), (1.0, 1.0)], pal(0), false, "a & b");
        let s = p.finish();
        assert!(s.ends_with(r#"<ul class="legend"><li style="--c:#1f77b4">a &amp; b</li></ul>"#));
        // The plot area runs to 640 − 16 px, not to the legend column.
        assert!(s.contains(r#"width="566.0""#), "{s}");
        assert!(!s.contains("data-id"));
    }

    #[test]
    fn heat_scale_ends() {
        assert_eq!(heat(0.0), "#313695");
        assert_eq!(heat(1.0), "#d73027");
        assert_eq!(heat(f64::NAN), heat(0.0));
    }
}
