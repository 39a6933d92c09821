//! Axes of the report charts: linear, square-root (days to expiry), logarithmic (solver
//! loss) and date (Unix seconds, UTC) scales, round ticks labelled with the one number
//! formatter ([`page::tick`](super::super::page::tick)), or fixed ticks given by the caller.

use super::super::page::tick;

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::report) enum Scale {
    /// Linear.
    Lin,
    /// Square root (values ≥ 0): term structures against days.
    Sqrt,
    /// Base-10 logarithm (values > 0): solver loss.
    Log,
    /// Linear in Unix seconds, ticks at calendar dates (UTC).
    Date,
}

/// One axis: range, scale, label (with its unit) and optionally fixed ticks.
#[derive(Clone, Debug, PartialEq)]
pub(in crate::report) struct Axis {
    pub(in crate::report) lo: f64,
    pub(in crate::report) hi: f64,
    pub(in crate::report) scale: Scale,
    pub(in crate::report) label: String,
    /// Fixed ticks `(position, text)`; `None` = round numbers over the range.
    pub(in crate::report) fixed: Option<Vec<(f64, String)>>,
}

impl Axis {
    /// An axis on `[lo, hi]`.
    pub(in crate::report) fn new(lo: f64, hi: f64, scale: Scale, label: &str) -> Axis {
        Axis { lo, hi, scale, label: label.to_string(), fixed: None }
    }

    /// An axis over the finite values of `v` (padded 4 %; `None` without a finite value).
    pub(in crate::report) fn fit(
        v: impl Iterator<Item = f64>,
        scale: Scale,
        label: &str,
    ) -> Option<Axis> {
        let ok = |x: &f64| {
            x.is_finite()
                && match scale {
                    Scale::Sqrt => *x >= 0.0,
                    Scale::Log => *x > 0.0,
                    Scale::Lin | Scale::Date => true,
                }
        };
        let (lo, hi) =
            v.filter(ok).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
        if !(lo <= hi) {
            return None;
        }
        if scale == Scale::Log {
            // Whole decades, so the axis always carries labelled powers of ten.
            let lo = 10f64.powf(lo.log10().floor());
            return Some(Axis::new(lo, 10f64.powf(hi.log10().ceil()).max(10.0 * lo), scale, label));
        }
        let pad = if hi > lo { 0.04 * (hi - lo) } else { 0.5 * lo.abs().max(1e-3) };
        let lo = if scale == Scale::Sqrt { (lo - pad).max(0.0) } else { lo - pad };
        Some(Axis::new(lo, hi + pad, scale, label))
    }

    /// The axis with `v` inside its range.
    pub(in crate::report) fn including(mut self, v: f64) -> Axis {
        if v.is_finite() {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        }
        self
    }

    /// The axis with fixed ticks (they widen the range to include them).
    pub(in crate::report) fn with_ticks(mut self, ticks: Vec<(f64, String)>) -> Axis {
        for t in &ticks {
            self = self.including(t.0);
        }
        self.fixed = Some(ticks);
        self
    }

    fn tr(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Lin | Scale::Date => v,
            Scale::Sqrt => v.max(0.0).sqrt(),
            Scale::Log => v.log10(),
        }
    }

    /// Position of `v` in `[0, 1]` along the axis (outside for values off the range).
    pub(in crate::report) fn unit(&self, v: f64) -> f64 {
        let (a, b) = (self.tr(self.lo), self.tr(self.hi));
        if b > a {
            (self.tr(v) - a) / (b - a)
        } else {
            0.5
        }
    }

    /// True when `v` lies on the axis.
    pub(in crate::report) fn contains(&self, v: f64) -> bool {
        v.is_finite() && (-1e-9..=1.0 + 1e-9).contains(&self.unit(v))
    }

    /// Tick values and labels inside the range.
    pub(in crate::report) fn ticks(&self) -> Vec<(f64, String)> {
        let all = match (&self.fixed, self.scale) {
            (Some(t), _) => t.clone(),
            (None, Scale::Lin) => {
                nice_ticks(self.lo, self.hi, 6).into_iter().map(labelled).collect()
            }
            (None, Scale::Sqrt) => {
                let days =
                    [0.0, 1.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0, 270.0, 365.0, 540.0, 730.0];
                let v: Vec<(f64, String)> =
                    days.into_iter().filter(|d| self.contains(*d)).map(labelled).collect();
                if v.len() >= 3 {
                    v
                } else {
                    nice_ticks(self.lo, self.hi, 5).into_iter().map(labelled).collect()
                }
            }
            (None, Scale::Log) => {
                let (a, b) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32);
                let step = ((b - a) / 6).max(1) as usize;
                (a..=b).step_by(step).map(|e| (10f64.powi(e), format!("1e{e}"))).collect()
            }
            (None, Scale::Date) => date_ticks(self.lo, self.hi),
        };
        all.into_iter().filter(|t| self.contains(t.0)).collect()
    }
}

fn labelled(v: f64) -> (f64, String) {
    (v, tick(v))
}

/// About `n` round tick values on `[lo, hi]` (steps 1, 2 or 5 × 10ⁿ), never `-0`.
pub(in crate::report) fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
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

/// Date ticks (Unix seconds) at midnights UTC, every 1, 2, 7, 14, 30 or 61 days.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_never_negative_zero() {
        assert_eq!(nice_ticks(-1e-7, 1e-7, 4), vec![-1e-7, -5e-8, 0.0, 5e-8, 1e-7]);
        for (lo, hi) in [(-0.3, 0.3), (-1e-7, 1e-7), (-2.0, 0.5), (-0.05, 0.0), (-0.3, 0.0)] {
            let a = Axis::new(lo, hi, Scale::Lin, "");
            let t = a.ticks();
            assert!(t.iter().all(|(_, l)| l != "-0" && l != "−0"), "{t:?}");
            assert!(t.iter().all(|(v, _)| !(v.is_sign_negative() && *v == 0.0)), "{t:?}");
        }
    }

    #[test]
    fn sqrt_axis_ticks_in_days() {
        let a = Axis::new(0.0, 400.0, Scale::Sqrt, "days");
        let t: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert!(t.contains(&"7".to_string()) && t.contains(&"365".to_string()), "{t:?}");
        assert!((a.unit(100.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn log_axis_spans_whole_decades() {
        let a = Axis::fit([0.003, 40.0].into_iter(), Scale::Log, "cost").expect("axis");
        assert_eq!((a.lo, a.hi), (1e-3, 100.0));
        assert!((a.unit(0.1) - 0.4).abs() < 1e-12);
        assert_eq!(a.ticks().first().map(|t| t.1.as_str()), Some("1e-3"));
    }

    #[test]
    fn fixed_ticks_widen_the_range() {
        let a = Axis::new(1.0, 2.0, Scale::Lin, "x").with_ticks(vec![(0.0, "0".into())]);
        assert_eq!(a.lo, 0.0);
        assert_eq!(a.ticks(), vec![(0.0, "0".to_string())]);
    }
}
