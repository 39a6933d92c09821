//! Charts as inline SVG strings, drawn with plotters' SVG backend (no fonts needed: text is
//! emitted as SVG `<text>`, which the backend escapes).
//!
//! Every function takes plain numbers and returns one `<svg …>` element. Non-finite points
//! are dropped; an empty chart says "no data" instead of failing.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Chart size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Size {
    /// A small panel.
    #[allow(dead_code)] // for the other report pages
    pub const SMALL: Size = Size { width: 460, height: 300 };
    /// A wide panel (residuals, heat map, time series).
    pub const WIDE: Size = Size { width: 940, height: 340 };
}

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points `(x, y)`, drawn in the given order.
    pub points: Vec<(f64, f64)>,
}

/// Line colours, cycled.
const COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
];

/// Colour `i` of the cycle.
pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

const BAND: RGBColor = RGBColor(120, 120, 120);

/// An axis tick label: up to three decimals without trailing zeros; scientific notation
/// for very small values.
fn tick(v: &f64) -> String {
    let v = *v;
    if v.abs() < 1e-12 {
        return "0".into();
    }
    if v.abs() < 1e-3 {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// `[lo, hi]` of the finite values, widened by 5% (and to a unit interval when flat).
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !(lo <= hi) {
        return None;
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 * lo.abs().max(1e-3) };
    Some((lo - pad, hi + pad))
}

/// `svg` (one plotters SVG of `size`) made to scale with the page: the fixed pixel width
/// and height give way to the `viewBox` and a `plot` class (the page's CSS sets the width).
fn scalable(svg: String, size: Size) -> String {
    let fixed = format!(r#"<svg width="{}" height="{}" "#, size.width, size.height);
    match svg.strip_prefix(&fixed) {
        Some(rest) => format!(r#"<svg class="plot" {rest}"#),
        None => svg,
    }
}

/// An SVG saying there is nothing to draw.
pub fn empty(size: Size, message: &str) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let style = ("sans-serif", 16).into_font().color(&BAND);
        let _ = root.draw_text(message, &style, (20, (size.height / 2) as i32));
        let _ = root.present();
    }
    scalable(svg, size)
}

/// Runs `draw` on a fresh SVG canvas; any plotting error becomes an "unavailable" panel.
fn canvas<F>(size: Size, draw: F) -> String
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
{
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match outcome {
        Ok(()) => scalable(svg, size),
        Err(e) => empty(size, &format!("chart unavailable: {e}")),
    }
}

/// Draws `series` as lines with markers on a chart whose y coordinate is `y_range`.
fn lines_on<Y>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    [caption, x_desc, y_desc]: [&str; 3],
    xr: (f64, f64),
    y_range: Y,
    series: &[Series],
    legend: SeriesLabelPosition,
) -> Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 15))
        .margin(6)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d::<RangedCoordf64, Y>((xr.0..xr.1).into(), y_range)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&tick)
        .y_labels(8)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> =
            s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x - 8, y), (x + 8, y)], c.stroke_width(2))
            });
        if pts.len() <= 60 {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    if series.len() > 1 || series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BAND)
            .position(legend)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A line chart of `series`; with `log_y` the y axis is logarithmic (non-positive values are
/// dropped).
pub fn lines(
    size: Size,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    log_y: bool,
) -> String {
    let series: Vec<Series> = if log_y {
        series
            .iter()
            .map(|s| Series {
                label: s.label.clone(),
                points: s.points.iter().copied().filter(|p| p.1 > 0.0).collect(),
            })
            .collect()
    } else {
        series.to_vec()
    };
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (Some(xr), Some(yr)) = (extent(all().map(|p| p.0)), extent(all().map(|p| p.1))) else {
        return empty(size, "no data");
    };
    // The legend goes to the right-hand corner the data leave free.
    let ty = |y: f64| if log_y { y.ln() } else { y };
    let (ylo, yhi) = all()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(ty(p.1)), h.max(ty(p.1))));
    let right: Vec<f64> = all()
        .filter(|p| p.0 >= xr.0 + 0.6 * (xr.1 - xr.0))
        .map(|p| (ty(p.1) - ylo) / (yhi - ylo).max(1e-300))
        .filter(|u| u.is_finite())
        .collect();
    let high = !right.is_empty() && right.iter().sum::<f64>() / right.len() as f64 > 0.5;
    let legend =
        if high { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight };
    canvas(size, |root| {
        if log_y {
            let (lo, hi) = all()
                .map(|p| p.1)
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, 0.0_f64), |(l, h), v| (l.min(v), h.max(v)));
            // Whole decades, so the axis always carries labelled powers of ten.
            let lo = 10f64.powf(lo.log10().floor());
            let hi = 10f64.powf(hi.log10().ceil()).max(10.0 * lo);
            lines_on(root, [caption, x_desc, y_desc], xr, (lo..hi).log_scale(), &series, legend)
        } else {
            lines_on(root, [caption, x_desc, y_desc], xr, yr.0..yr.1, &series, legend)
        }
    })
}

/// Colour of a value in `[0, 1]` on a blue → yellow → red scale.
fn heat(u: f64) -> RGBColor {
    let u = if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.0 };
    let stops =
        [(49.0, 54.0, 149.0), (116.0, 173.0, 209.0), (254.0, 224.0, 144.0), (215.0, 48.0, 39.0)];
    let x = u * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let lerp = |a: f64, b: f64| (a + f * (b - a)).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// A heat map of `values[row][col]` (fractions, shown in vol points) with cells spanning
/// `xs` edges (len cols + 1) and `ys` edges (len rows + 1), plus a colour bar.
pub fn heatmap(
    size: Size,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    x_edges: &[f64],
    y_edges: &[f64],
    values: &[Vec<f64>],
) -> String {
    // Colour scale from the 2nd to the 98th percentile, so a few extreme wing cells do not
    // wash out the rest; cells beyond it take the end colours.
    let mut flat: Vec<f64> = values.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    flat.sort_by(f64::total_cmp);
    let pct =
        |q: f64| flat.get(((flat.len().saturating_sub(1)) as f64 * q).round() as usize).copied();
    let (lo, hi) = (pct(0.02).unwrap_or(f64::NAN), pct(0.98).unwrap_or(f64::NAN));
    let finite =
        |e: &[f64]| e.len() >= 2 && e.iter().all(|v| v.is_finite()) && e[0] < e[e.len() - 1];
    if !(lo <= hi) || !finite(x_edges) || !finite(y_edges) {
        return empty(size, "no surface");
    }
    let span = (hi - lo).max(1e-12);
    canvas(size, |root| {
        let (main, bar) = root.split_horizontally(size.width.saturating_sub(100));
        let mut chart = ChartBuilder::on(&main)
            .caption(caption, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(32)
            .y_label_area_size(50)
            .build_cartesian_2d(
                x_edges[0]..x_edges[x_edges.len() - 1],
                y_edges[0]..y_edges[y_edges.len() - 1],
            )
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()
            .map_err(|e| e.to_string())?;
        let cells = values.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().filter(|(_, v)| v.is_finite()).filter_map(move |(c, &v)| {
                let (x0, x1) = (*x_edges.get(c)?, *x_edges.get(c + 1)?);
                let (y0, y1) = (*y_edges.get(r)?, *y_edges.get(r + 1)?);
                Some(Rectangle::new([(x0, y0), (x1, y1)], heat((v - lo) / span).filled()))
            })
        });
        chart.draw_series(cells).map_err(|e| e.to_string())?;
        let mut legend = ChartBuilder::on(&bar)
            .margin_top(30)
            .margin_bottom(38)
            .margin_right(8)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, 100.0 * lo..100.0 * hi.max(lo + 1e-9))
            .map_err(|e| e.to_string())?;
        legend
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| e.to_string())?;
        let n = 40u32;
        legend
            .draw_series((0..n).map(|i| {
                let (a, b) = (f64::from(i) / f64::from(n), f64::from(i + 1) / f64::from(n));
                Rectangle::new(
                    [(0.0, 100.0 * (lo + a * span)), (1.0, 100.0 * (lo + b * span))],
                    heat(0.5 * (a + b)).filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_and_escape_text() {
        let s = lines(
            Size::SMALL,
            "<b>&",
            "x",
            "y",
            &[Series { label: "<i>".into(), points: vec![(0.0, 1.0), (1.0, 10.0)] }],
            true,
        );
        assert!(s.starts_with("<svg class=\"plot\" viewBox=\"0 0 460 300\""), "{s}");
        let tag = &s[..s.find('>').expect("tag")];
        assert!(!tag.contains("width="), "no fixed pixel width: {tag}");
        assert!(!s.contains("<b>") && !s.contains("<i>"));
        assert!(s.contains("&lt;b&gt;"));
    }

    #[test]
    fn empty_input_gives_a_message_not_an_error() {
        let h = heatmap(Size::WIDE, "h", "k", "t", &[0.0], &[0.0], &[]);
        assert!(h.contains("no surface"));
    }

    #[test]
    fn tick_labels() {
        assert_eq!(tick(&50000.0), "50000");
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&-5.6e-17), "0");
        assert_eq!(tick(&2.5e-5), "2.5e-5");
    }

    #[test]
    fn heat_scale_ends() {
        assert_eq!(heat(0.0), RGBColor(49, 54, 149));
        assert_eq!(heat(1.0), RGBColor(215, 48, 39));
        assert_eq!(heat(f64::NAN), heat(0.0));
    }
}
