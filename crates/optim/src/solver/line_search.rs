//! One-dimensional searches along a descent direction: strong Wolfe (Nocedal & Wright 2006,
//! Algorithms 3.5 and 3.6, with safeguarded cubic interpolation) and Armijo backtracking.
//!
//! Both work on `φ(α) = f(x + α·d)` supplied by the caller as a closure that evaluates into
//! the caller's own buffers, so a search never allocates. A closure returning `None`
//! ("outside the domain") makes the search shrink its step toward the last good point.

/// Settings of the strong-Wolfe search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wolfe {
    /// Sufficient-decrease constant `c₁` (Armijo), `0 < c₁ < c₂`.
    pub c1: f64,
    /// Curvature constant `c₂ < 1` (0.9 suits quasi-Newton directions).
    pub c2: f64,
    /// Maximum evaluations of `φ` in one search.
    pub max_evals: u32,
}

impl Default for Wolfe {
    fn default() -> Self {
        Wolfe { c1: 1e-4, c2: 0.9, max_evals: 40 }
    }
}

/// Outcome of a line search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Accepted step length (0 when nothing acceptable was found).
    pub alpha: f64,
    /// `φ(alpha)`.
    pub value: f64,
    /// `φ′(alpha)` (NaN for backtracking, which does not evaluate it).
    pub slope: f64,
    /// Evaluations of `φ` used.
    pub evals: u32,
    /// True when the returned step satisfies the search's conditions; false when the
    /// search gave up (the step may still decrease `φ`, see `value`).
    pub ok: bool,
    /// The step length of the last evaluation of `φ`: when it differs from `alpha`, the
    /// caller's buffers hold another point and must be re-evaluated at `alpha`.
    pub last: f64,
}

/// A point `(α, φ(α), φ′(α))` of the search.
#[derive(Clone, Copy, Debug)]
struct Pt {
    a: f64,
    f: f64,
    g: f64,
}

/// Minimiser of the cubic interpolating `(a, fa, ga)` and `(b, fb, gb)`, or of a quadratic
/// or the midpoint when the cubic is not usable; always inside `[lo + δ, hi − δ]` with
/// `δ = 0.1·|b − a|` so the bracket shrinks.
fn interpolate(p: Pt, q: Pt) -> f64 {
    let (lo, hi) = if p.a < q.a { (p.a, q.a) } else { (q.a, p.a) };
    let margin = 0.1 * (hi - lo);
    let mid = 0.5 * (lo + hi);
    let mut t = f64::NAN;
    if p.f.is_finite() && q.f.is_finite() && p.g.is_finite() && q.g.is_finite() {
        // Nocedal & Wright (3.59).
        let d1 = p.g + q.g - 3.0 * (p.f - q.f) / (p.a - q.a);
        let disc = d1 * d1 - p.g * q.g;
        if disc >= 0.0 {
            let d2 = (q.a - p.a).signum() * disc.sqrt();
            t = q.a - (q.a - p.a) * (q.g + d2 - d1) / (q.g - p.g + 2.0 * d2);
        }
    }
    if !t.is_finite() && p.f.is_finite() && q.f.is_finite() && p.g.is_finite() {
        // Quadratic through f(p), f'(p), f(q).
        let h = q.a - p.a;
        let curv = (q.f - p.f - p.g * h) / (h * h);
        if curv > 0.0 {
            t = p.a - p.g / (2.0 * curv);
        }
    }
    if !t.is_finite() {
        return mid;
    }
    t.clamp(lo + margin, hi - margin)
}

/// Strong-Wolfe line search on `φ` from `α = 0` (value `f0`, slope `g0 < 0`), trying
/// `alpha0` first and never exceeding `alpha_max`.
///
/// `phi(α)` returns `Some((φ(α), φ′(α)))`, or `None` outside the domain (the step is then
/// shrunk). On success the step satisfies `φ(α) ≤ f0 + c₁αg0` and `|φ′(α)| ≤ c₂|g0|`; when
/// `alpha_max` itself gives sufficient decrease with a still-negative slope, it is
/// returned as successful (the caller's feasible segment ends there).
pub fn strong_wolfe<F>(mut phi: F, f0: f64, g0: f64, alpha0: f64, alpha_max: f64, p: &Wolfe) -> Step
where
    F: FnMut(f64) -> Option<(f64, f64)>,
{
    let origin = Pt { a: 0.0, f: f0, g: g0 };
    let mut evals = 0u32;
    let mut last = 0.0;
    if g0.is_nan() || g0 >= 0.0 || alpha_max <= 0.0 {
        return Step { alpha: 0.0, value: f0, slope: g0, evals, ok: false, last };
    }
    let mut amax = alpha_max;
    let mut prev = origin;
    let mut a = alpha0.min(amax);
    let mut best = origin;
    let mut first = true;
    loop {
        if evals >= p.max_evals || a.is_nan() || a <= prev.a {
            return Step { alpha: best.a, value: best.f, slope: best.g, evals, ok: false, last };
        }
        evals += 1;
        last = a;
        let Some((f, g)) = phi(a) else {
            // Outside the domain: the admissible segment ends before `a`.
            amax = a;
            a = prev.a + 0.5 * (a - prev.a);
            continue;
        };
        let cur = Pt { a, f, g };
        if f.is_finite() && f < best.f {
            best = cur;
        }
        if !f.is_finite() || f > f0 + p.c1 * a * g0 || (!first && f >= prev.f) {
            return zoom(&mut phi, origin, prev, cur, p, evals, last, best);
        }
        if g.abs() <= -p.c2 * g0 {
            return Step { alpha: a, value: f, slope: g, evals, ok: true, last };
        }
        if g >= 0.0 {
            return zoom(&mut phi, origin, cur, prev, p, evals, last, best);
        }
        if a >= amax {
            // Sufficient decrease at the end of the admissible segment.
            return Step { alpha: a, value: f, slope: g, evals, ok: true, last };
        }
        first = false;
        prev = cur;
        a = (4.0 * a).min(amax);
    }
}

/// Nocedal & Wright Algorithm 3.6: `lo` satisfies sufficient decrease and has the lowest
/// value so far; the bracket `[lo, hi]` contains a strong-Wolfe step.
#[allow(clippy::too_many_arguments)]
fn zoom<F>(
    phi: &mut F,
    origin: Pt,
    mut lo: Pt,
    mut hi: Pt,
    p: &Wolfe,
    mut evals: u32,
    mut last: f64,
    mut best: Pt,
) -> Step
where
    F: FnMut(f64) -> Option<(f64, f64)>,
{
    loop {
        let width = (hi.a - lo.a).abs();
        if evals >= p.max_evals || width <= f64::EPSILON * lo.a.abs().max(1e-300) {
            let ok = best.a > 0.0 && best.f <= origin.f + p.c1 * best.a * origin.g;
            let out = if ok { best } else { lo };
            return Step { alpha: out.a, value: out.f, slope: out.g, evals, ok: false, last };
        }
        let a = interpolate(lo, hi);
        evals += 1;
        last = a;
        let Some((f, g)) = phi(a) else {
            hi = Pt { a, f: f64::INFINITY, g: f64::NAN };
            continue;
        };
        let cur = Pt { a, f, g };
        if f.is_finite() && f < best.f {
            best = cur;
        }
        if !f.is_finite() || f > origin.f + p.c1 * a * origin.g || f >= lo.f {
            hi = cur;
        } else {
            if g.abs() <= -p.c2 * origin.g {
                return Step { alpha: a, value: f, slope: g, evals, ok: true, last };
            }
            if g * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = cur;
        }
    }
}

/// Armijo backtracking: tries `alpha0`, then multiplies by `shrink` (in `(0, 1)`) until
/// `φ(α) ≤ f0 + c₁·α·g0`. `phi(α)` returns `φ(α)` or `None` outside the domain (treated as
/// a failed trial).
pub fn backtracking<F>(
    mut phi: F,
    f0: f64,
    g0: f64,
    alpha0: f64,
    c1: f64,
    shrink: f64,
    max_evals: u32,
) -> Step
where
    F: FnMut(f64) -> Option<f64>,
{
    let mut a = alpha0;
    let mut evals = 0;
    let mut last = 0.0;
    while evals < max_evals && a > 0.0 {
        evals += 1;
        last = a;
        if let Some(f) = phi(a) {
            if f.is_finite() && f <= f0 + c1 * a * g0 {
                return Step { alpha: a, value: f, slope: f64::NAN, evals, ok: true, last };
            }
        }
        a *= shrink;
    }
    Step { alpha: 0.0, value: f0, slope: g0, evals, ok: false, last }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_wolfe_on_quadratic_meets_both_conditions() {
        // φ(α) = (α − 3)², φ(0) = 9, φ′(0) = −6: closed-form minimiser α = 3.
        let phi = |a: f64| Some(((a - 3.0).powi(2), 2.0 * (a - 3.0)));
        let p = Wolfe { c1: 1e-4, c2: 0.1, max_evals: 30 };
        let s = strong_wolfe(phi, 9.0, -6.0, 1.0, f64::INFINITY, &p);
        assert!(s.ok);
        assert!(s.value <= 9.0 + p.c1 * s.alpha * -6.0);
        assert!(s.slope.abs() <= p.c2 * 6.0);
    }

    #[test]
    fn strong_wolfe_shrinks_out_of_domain_steps() {
        // φ(α) = (α − 1)² − ln(2 − α), defined only for α < 2: φ(0) = 1 − ln 2,
        // φ′(α) = 2(α − 1) + 1/(2 − α), φ′(0) = −1.5; the first trial α = 16 is outside.
        let phi = |a: f64| {
            if a >= 2.0 {
                None
            } else {
                Some(((a - 1.0).powi(2) - (2.0 - a).ln(), 2.0 * (a - 1.0) + 1.0 / (2.0 - a)))
            }
        };
        let f0 = 1.0 - 2f64.ln();
        let g0 = -2.0 + 0.5;
        let s = strong_wolfe(phi, f0, g0, 16.0, f64::INFINITY, &Wolfe::default());
        assert!(s.ok);
        assert!(s.alpha < 2.0 && s.alpha > 0.0);
        assert!(s.slope.abs() <= 0.9 * g0.abs());
    }

    #[test]
    fn strong_wolfe_stops_at_alpha_max() {
        // φ(α) = −α (unbounded below): the admissible segment [0, 0.5] ends the search.
        let s = strong_wolfe(|a| Some((-a, -1.0)), 0.0, -1.0, 1.0, 0.5, &Wolfe::default());
        assert!(s.ok);
        assert_eq!(s.alpha, 0.5);
    }

    #[test]
    fn backtracking_finds_armijo_step_and_skips_domain_errors() {
        // φ(α) = (α − 0.1)², undefined for α > 0.3: from α = 1 halve to 0.25 (0.0225 ≤
        // 0.01 + 1e-4·0.25·(−0.2) fails), 0.125 (0.000625 accepted).
        let phi = |a: f64| if a > 0.3 { None } else { Some((a - 0.1).powi(2)) };
        let s = backtracking(phi, 0.01, -0.2, 1.0, 1e-4, 0.5, 20);
        assert!(s.ok);
        assert_eq!(s.alpha, 0.125);
        assert_eq!(s.evals, 4);
    }
}
