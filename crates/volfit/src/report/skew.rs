//! Desk numbers of a fitted smile: the ATM-forward vol, the 25-delta call and put strikes
//! solved exactly on the smile, the risk reversal and butterfly, and constant-maturity
//! points interpolated in total variance across expiries.
//!
//! Conventions (the page and `views.csv` state them):
//! - **Delta**: forward (undiscounted) Black-76 delta, not premium-adjusted, at the smile's
//!   own vol at the strike: with `k = ln(K/F)` and total variance `w(k) = σ(k)²t`,
//!   `d1 = −k/√w + ½√w`, call `Δ = N(d1)`, put `Δ = N(d1) − 1`. The 25Δ call is the root
//!   of `N(d1(k)) = 0.25`, the 25Δ put of `N(d1(k)) = 0.75`, each the one nearest ATM.
//! - **ATM**: at-the-money forward, `k = 0`.
//! - **RR25** `= σ(25Δc) − σ(25Δp)`; **BF25** `= ½(σ(25Δc) + σ(25Δp)) − σ_ATM` (the smile
//!   butterfly, not the broker strangle).
//! - **Constant maturity** `T`: each pillar's total variance `σ²t` linear in `t` between the
//!   two expiries around `T`, `σ = √(w(T)/T)`; no extrapolation beyond the listed expiries.

use crate::black::norm_cdf;

/// Forward Black-76 call delta `N(d1)` at log-moneyness `k` and total variance `w = σ²t`.
pub(super) fn call_delta(k: f64, w: f64) -> f64 {
    let s = w.sqrt();
    norm_cdf(-k / s + 0.5 * s)
}

/// The three 25-delta pillars of one smile, vols as fractions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Smile25 {
    /// ATM-forward vol.
    pub(super) atm: f64,
    /// Vol at the 25Δ put strike.
    pub(super) put25: f64,
    /// Vol at the 25Δ call strike.
    pub(super) call25: f64,
}

impl Smile25 {
    /// Risk reversal `σ(25Δc) − σ(25Δp)`.
    pub(super) fn rr(&self) -> f64 {
        self.call25 - self.put25
    }

    /// Butterfly `½(σ(25Δc) + σ(25Δp)) − σ_ATM`.
    pub(super) fn bf(&self) -> f64 {
        0.5 * (self.call25 + self.put25) - self.atm
    }
}

/// The 25-delta strikes of one smile as log-moneyness `ln(K/F)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Strikes25 {
    /// 25Δ put.
    pub(super) put: f64,
    /// 25Δ call.
    pub(super) call: f64,
}

/// Steps of the bracketing scan, in units of the ATM standard deviation `σ_ATM·√t`, and
/// their number (the scan reaches 12 standard deviations from ATM).
const SCAN_STEP: f64 = 0.05;
const SCAN_STEPS: usize = 240;

/// The smile's pillars at `t` years; `var(ks, out)` writes total variances at `ks` into
/// `out` (false: no smile). `None` when the ATM variance is not positive or a 25Δ strike
/// is not bracketed within 12 ATM standard deviations.
pub(super) fn smile25(
    t: f64,
    var: &dyn Fn(&[f64], &mut [f64]) -> bool,
) -> Option<(Smile25, Strikes25)> {
    let mut w0 = [f64::NAN];
    let ok = t > 0.0 && var(&[0.0], &mut w0) && w0[0] > 0.0 && w0[0].is_finite();
    if !ok {
        return None;
    }
    let sd = w0[0].sqrt();
    let mut ks = [0.0; SCAN_STEPS];
    let mut ws = [0.0; SCAN_STEPS];
    let mut strike = |target: f64| {
        let g = |k: f64, w: f64| call_delta(k, w) - target;
        // N(d1) falls with k on any sane smile: walk towards the root.
        let dir = if g(0.0, w0[0]) > 0.0 { 1.0 } else { -1.0 };
        for (j, k) in ks.iter_mut().enumerate() {
            *k = dir * SCAN_STEP * sd * (j + 1) as f64;
        }
        if !var(&ks, &mut ws) {
            return None;
        }
        let (mut a, mut ga) = (0.0, g(0.0, w0[0]));
        for (&k, &w) in ks.iter().zip(&ws) {
            if !(w > 0.0 && w.is_finite()) {
                return None;
            }
            let gk = g(k, w);
            if gk == 0.0 || gk.signum() != ga.signum() {
                return refine(&|k| one(var, k).map(|w| g(k, w)), (a, ga), (k, gk));
            }
            (a, ga) = (k, gk);
        }
        None
    };
    let call = strike(0.25)?;
    let put = strike(0.75)?;
    let vol = |k: f64| one(var, k).map(|w| (w / t).sqrt());
    let s = Smile25 { atm: (w0[0] / t).sqrt(), put25: vol(put)?, call25: vol(call)? };
    Some((s, Strikes25 { put, call }))
}

/// Total variance at one `k` (positive and finite, else `None`).
fn one(var: &dyn Fn(&[f64], &mut [f64]) -> bool, k: f64) -> Option<f64> {
    let mut w = [f64::NAN];
    (var(&[k], &mut w) && w[0] > 0.0 && w[0].is_finite()).then_some(w[0])
}

/// The root of `g` in a bracket `(a, g(a))`, `(b, g(b))` of opposite signs, to the last
/// bits of `k`: Illinois regula falsi, falling back to bisection when it stalls.
fn refine(
    g: &dyn Fn(f64) -> Option<f64>,
    (mut a, mut ga): (f64, f64),
    b: (f64, f64),
) -> Option<f64> {
    let (mut b, mut gb) = b;
    if gb == 0.0 {
        return Some(b);
    }
    let mut side = 0i8;
    for i in 0..200 {
        let width = (b - a).abs();
        if width <= 4.0 * f64::EPSILON * a.abs().max(b.abs()).max(1e-3) {
            break;
        }
        // Every fourth step bisects: a guaranteed halving whatever the secant does.
        let c = if i % 4 == 3 { 0.5 * (a + b) } else { (a * gb - b * ga) / (gb - ga) };
        let c = if c > a.min(b) && c < a.max(b) { c } else { 0.5 * (a + b) };
        let gc = g(c)?;
        if gc == 0.0 {
            return Some(c);
        }
        if gc.signum() == gb.signum() {
            (b, gb) = (c, gc);
            if side == 1 {
                ga *= 0.5;
            }
            side = 1;
        } else {
            (a, ga) = (c, gc);
            if side == -1 {
                gb *= 0.5;
            }
            side = -1;
        }
    }
    Some(if ga.abs() < gb.abs() { a } else { b })
}

/// Pillars at a constant maturity of `t` years from `term` (`(t_i, pillars)` of each
/// expiry, in any order): each pillar's total variance linear in `t` between the expiries
/// around `t`. `None` outside the listed expiries.
pub(super) fn constant_maturity(term: &[(f64, Smile25)], t: f64) -> Option<Smile25> {
    let below = term.iter().filter(|p| p.0 <= t).max_by(|a, b| a.0.total_cmp(&b.0))?;
    let above = term.iter().filter(|p| p.0 >= t).min_by(|a, b| a.0.total_cmp(&b.0))?;
    if !(t > 0.0) {
        return None;
    }
    if below.0 == above.0 {
        return Some(below.1);
    }
    let u = (t - below.0) / (above.0 - below.0);
    let at = |f: fn(&Smile25) -> f64| {
        let (w0, w1) = (f(&below.1).powi(2) * below.0, f(&above.1).powi(2) * above.0);
        let w = w0 + u * (w1 - w0);
        (w > 0.0).then(|| (w / t).sqrt())
    };
    Some(Smile25 { atm: at(|s| s.atm)?, put25: at(|s| s.put25)?, call25: at(|s| s.call25)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::black::special::inverse_norm_cdf;
    use crate::model::{Smile, Svi};

    fn flat(sigma: f64, t: f64) -> impl Fn(&[f64], &mut [f64]) -> bool {
        move |ks: &[f64], out: &mut [f64]| {
            ks.iter().zip(out.iter_mut()).for_each(|(_, w)| *w = sigma * sigma * t);
            true
        }
    }

    #[test]
    fn a_flat_smile_has_zero_rr_and_bf_and_closed_form_strikes() {
        // Closed form: N(d1) = δ ⇔ k = ½σ²t − σ√t·N⁻¹(δ).
        let (sigma, t) = (0.55, 0.25);
        let (s, k) = smile25(t, &flat(sigma, t)).expect("pillars");
        // One variance everywhere: the three vols are the same number, RR and BF exactly 0.
        assert!((s.atm - sigma).abs() < 1e-15);
        assert_eq!((s.put25, s.call25), (s.atm, s.atm));
        assert_eq!((s.rr(), s.bf()), (0.0, 0.0));
        let sd = sigma * t.sqrt();
        let kc = 0.5 * sd * sd - sd * inverse_norm_cdf(0.25);
        let kp = 0.5 * sd * sd - sd * inverse_norm_cdf(0.75);
        assert!((k.call - kc).abs() < 1e-14, "{} vs {kc}", k.call);
        assert!((k.put - kp).abs() < 1e-14, "{} vs {kp}", k.put);
    }

    /// A skewed SVI slice (Gatheral 2004 raw form): the solved strikes hit 25Δ to rounding
    /// and agree with a plain 200-step bisection of `N(d1(k))` on the same slice. The old
    /// report read the 25Δ vols off a 241-point k grid by linear interpolation in delta
    /// which does not hit 25Δ to these tolerances.
    #[test]
    fn svi_slice_strikes_match_a_direct_solve() {
        let t = 0.5;
        let svi = Svi::new(0.02, 0.15, -0.6, 0.05, 0.2).expect("valid SVI");
        let var = |ks: &[f64], out: &mut [f64]| {
            ks.iter().zip(out.iter_mut()).for_each(|(&k, w)| *w = svi.total_variance(k));
            true
        };
        let (s, k) = smile25(t, &var).expect("pillars");
        let direct = |target: f64, mut lo: f64, mut hi: f64| {
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if call_delta(mid, svi.total_variance(mid)) > target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            0.5 * (lo + hi)
        };
        let (kc, kp) = (direct(0.25, 0.0, 3.0), direct(0.75, -3.0, 0.0));
        assert!((k.call - kc).abs() < 1e-13, "call {} vs {kc}", k.call);
        assert!((k.put - kp).abs() < 1e-13, "put {} vs {kp}", k.put);
        assert!((call_delta(k.call, svi.total_variance(k.call)) - 0.25).abs() < 1e-15);
        assert!((call_delta(k.put, svi.total_variance(k.put)) - 0.75).abs() < 1e-15);
        let v = |k: f64| (svi.total_variance(k) / t).sqrt();
        assert!((s.call25 - v(kc)).abs() < 1e-13 && (s.put25 - v(kp)).abs() < 1e-13);
        assert_eq!(s.atm, v(0.0));
        // Negative ρ: puts richer than calls, a negative risk reversal; convex: BF > 0.
        assert!(s.rr() < -0.01 && s.bf() > 0.0, "rr {} bf {}", s.rr(), s.bf());
    }

    #[test]
    fn no_smile_or_no_variance_gives_none() {
        assert!(smile25(0.5, &|_: &[f64], _: &mut [f64]| false).is_none());
        assert!(smile25(0.5, &flat(0.0, 0.5)).is_none());
        assert!(smile25(0.0, &flat(0.5, 0.0)).is_none());
    }

    #[test]
    fn constant_maturity_interpolates_total_variance() {
        let p = |v: f64| Smile25 { atm: v, put25: v + 0.05, call25: v + 0.01 };
        let term = [(60.0 / 365.0, p(0.6)), (10.0 / 365.0, p(0.4))];
        // 30 d: halfway in t between 10 d and 60 d is at 35 d; at 30 d the weight is 0.4.
        let t = 30.0 / 365.0;
        let w = 0.6 * 0.4f64.powi(2) * (10.0 / 365.0) + 0.4 * 0.6f64.powi(2) * (60.0 / 365.0);
        let s = constant_maturity(&term, t).expect("inside");
        assert!((s.atm - (w / t).sqrt()).abs() < 1e-15, "{}", s.atm);
        assert_eq!(constant_maturity(&term, 10.0 / 365.0), Some(p(0.4)));
        assert!(constant_maturity(&term, 7.0 / 365.0).is_none(), "no extrapolation");
        assert!(constant_maturity(&term, 90.0 / 365.0).is_none(), "no extrapolation");
    }
}
