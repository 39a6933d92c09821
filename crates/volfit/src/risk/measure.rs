//! Risk measures of a P&L sample, all in loss units (larger = riskier); the conventions
//! and formulas are in the `risk` module docs.

use super::error::RiskError;
use super::sample::{Sample, Sorted, TIE_TOL};
use super::spectral::Spectrum;
use std::fmt;
use std::str::FromStr;

/// One risk measure; parse from the CLI syntax with [`str::parse`] or
/// [`RiskMeasure::parse_list`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RiskMeasure {
    /// Value at risk `var:α`.
    Var {
        /// Confidence level in (0, 1).
        alpha: f64,
    },
    /// Expected shortfall / CVaR `es:α` (alias `cvar:α`).
    Es {
        /// Confidence level in (0, 1).
        alpha: f64,
    },
    /// Spectral risk measure `spectral-exp:k`, `spectral-pow:γ`.
    Spectral(Spectrum),
    /// Entropic value at risk `evar:α`.
    Evar {
        /// Confidence level in (0, 1).
        alpha: f64,
    },
    /// Entropic risk `entropic:θ`.
    Entropic {
        /// Risk aversion θ > 0.
        theta: f64,
    },
    /// Optimized certainty equivalent `oce-exp:θ`, `oce-quad:c`, `oce-cvar:α`.
    Oce(OceUtility),
    /// Maximum drawdown `mdd` of the P&L path in sample order (weights ignored).
    MaxDrawdown,
}

/// The utility of an optimized certainty equivalent, as the loss `ℓ(x) = −u(−x)`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum OceUtility {
    /// `u(t) = (1 − e^{−θt})/θ`, `ℓ(x) = (e^{θx} − 1)/θ`; the OCE is the entropic risk.
    Exponential {
        /// θ > 0.
        theta: f64,
    },
    /// `u(t) = t − c t²/2` for `t ≤ 1/c`, `1/(2c)` above (Ben-Tal & Teboulle 2007,
    /// Example 2.3); equals mean-variance `−μ + (c/2)σ²` when the cap is not reached.
    Quadratic {
        /// Curvature c > 0.
        c: f64,
    },
    /// `u(t) = −(−t)⁺/(1 − α)`: the OCE is `ES_α` (Rockafellar & Uryasev 2000).
    Cvar {
        /// Confidence level in (0, 1).
        alpha: f64,
    },
}

fn level(measure: &'static str, alpha: f64) -> Result<(), RiskError> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(RiskError::Parameter { measure, value: alpha, domain: "in (0, 1)" })
    }
}

fn positive(measure: &'static str, v: f64) -> Result<(), RiskError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(RiskError::Parameter { measure, value: v, domain: "finite and > 0" })
    }
}

impl RiskMeasure {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] naming the measure and the violated domain.
    pub fn validate(&self) -> Result<(), RiskError> {
        match self {
            RiskMeasure::Var { alpha } => level("var", *alpha),
            RiskMeasure::Es { alpha } => level("es", *alpha),
            RiskMeasure::Evar { alpha } => level("evar", *alpha),
            RiskMeasure::Spectral(s) => s.validate(),
            RiskMeasure::Entropic { theta } => positive("entropic", *theta),
            RiskMeasure::Oce(OceUtility::Exponential { theta }) => positive("oce-exp", *theta),
            RiskMeasure::Oce(OceUtility::Quadratic { c }) => positive("oce-quad", *c),
            RiskMeasure::Oce(OceUtility::Cvar { alpha }) => level("oce-cvar", *alpha),
            RiskMeasure::MaxDrawdown => Ok(()),
        }
    }

    /// True when `ρ(c·X) = c·ρ(X)` for every `c > 0` (VaR, ES, spectral, EVaR, OCE-CVaR,
    /// maximum drawdown). Only then do the Euler contributions `x_i·∂ρ/∂x_i` of a linear
    /// portfolio sum to `ρ` (Euler's theorem for homogeneous functions, Tasche 1999); for
    /// the entropic risk and the exponential or quadratic OCE they do not, and the marginal
    /// risks `∂ρ/∂x_i` are what is meaningful.
    pub fn is_positively_homogeneous(&self) -> bool {
        match self {
            RiskMeasure::Var { .. }
            | RiskMeasure::Es { .. }
            | RiskMeasure::Spectral(_)
            | RiskMeasure::Evar { .. }
            | RiskMeasure::Oce(OceUtility::Cvar { .. })
            | RiskMeasure::MaxDrawdown => true,
            RiskMeasure::Entropic { .. }
            | RiskMeasure::Oce(OceUtility::Exponential { .. } | OceUtility::Quadratic { .. }) => {
                false
            }
        }
    }

    /// True when the measure needs the sample sorted by loss (fully, or only its tail).
    pub fn needs_sort(&self) -> bool {
        self.sort_need() != SortNeed::No
    }

    fn sort_need(&self) -> SortNeed {
        match self {
            RiskMeasure::Var { alpha }
            | RiskMeasure::Es { alpha }
            | RiskMeasure::Oce(OceUtility::Cvar { alpha }) => SortNeed::Tail(1.0 - alpha),
            RiskMeasure::Spectral(Spectrum::Es { alpha }) => SortNeed::Tail(1.0 - alpha),
            RiskMeasure::Spectral(_) => SortNeed::Full,
            _ => SortNeed::No,
        }
    }

    /// The measure of `sample`, in loss units.
    ///
    /// Expected shortfall of a weighted sample, by hand: losses 4, 2, 0, −1 with
    /// probabilities 0.1, 0.2, 0.3, 0.4; the worst 25 % is all of the loss 4 and 0.15 of
    /// the loss 2, so `ES_0.75 = (0.1·4 + 0.15·2) / 0.25 = 2.8`.
    ///
    /// ```
    /// use volfit::risk::{RiskMeasure, Sample};
    ///
    /// let s = Sample::weighted(vec![-4.0, -2.0, 0.0, 1.0], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// let es = RiskMeasure::Es { alpha: 0.75 }.eval(&s).unwrap();
    /// assert!((es - 2.8).abs() < 1e-15);
    /// // VaR_0.75: the loss 2 is the lowest with P(L > l) = 0.1 ≤ 0.25.
    /// assert_eq!(RiskMeasure::Var { alpha: 0.75 }.eval(&s).unwrap(), 2.0);
    /// ```
    ///
    /// # Errors
    /// [`RiskError::Parameter`] for invalid parameters.
    pub fn eval(&self, sample: &Sample) -> Result<f64, RiskError> {
        self.validate()?;
        let sorted = sort_for(sample, std::slice::from_ref(self));
        Ok(self.eval_unchecked(sample, sorted.as_ref()))
    }

    /// The measure given the sample and, when [`RiskMeasure::needs_sort`], its sort.
    fn eval_unchecked(&self, sample: &Sample, sorted: Option<&Sorted>) -> f64 {
        let sorted = || sorted.expect("invariant: sorted sample supplied when needs_sort()");
        match self {
            RiskMeasure::Var { alpha } => var_sorted(sorted(), *alpha).0,
            RiskMeasure::Es { alpha } | RiskMeasure::Oce(OceUtility::Cvar { alpha }) => {
                spectral_sorted(sorted(), &Spectrum::Es { alpha: *alpha }, None)
            }
            RiskMeasure::Spectral(s) => spectral_sorted(sorted(), s, None),
            RiskMeasure::Evar { alpha } => evar(sample, *alpha).value,
            RiskMeasure::Entropic { theta }
            | RiskMeasure::Oce(OceUtility::Exponential { theta }) => entropic(sample, *theta),
            RiskMeasure::Oce(OceUtility::Quadratic { c }) => oce_quadratic(sample, *c).0,
            RiskMeasure::MaxDrawdown => max_drawdown(sample.pnl()).value,
        }
    }

    /// The measure and its (sub)gradient with respect to the P&L values `x_i`, written into
    /// `grad` (length `sample.len()`).
    ///
    /// Smooth measures (entropic, OCE-exponential/quadratic, EVaR at an interior optimum by
    /// the envelope theorem) get exact gradients. Quantile-based measures get the
    /// subgradient that holds the sort fixed: `∂ρ/∂x_i = −w_i`, where `w_i` is the spectral
    /// weight of atom `i` (for ES, `p_i/(1−α)` in the tail and the fractional share at the
    /// quantile); VaR puts `−1` on the quantile atom; drawdown puts `−1` on every step from
    /// the peak to the trough.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] for invalid parameters, [`RiskError::Shape`] when `grad`
    /// has the wrong length.
    pub fn value_grad(&self, sample: &Sample, grad: &mut [f64]) -> Result<f64, RiskError> {
        self.validate()?;
        if grad.len() != sample.len() {
            return Err(RiskError::Shape(format!(
                "gradient has {} slots for {} values",
                grad.len(),
                sample.len()
            )));
        }
        grad.iter_mut().for_each(|g| *g = 0.0);
        let ordered = || {
            let order = sample.loss_order();
            let sorted = sample.sorted_by(&order);
            (order, sorted)
        };
        let value = match self {
            RiskMeasure::Var { alpha } => {
                let (order, sorted) = ordered();
                let (v, j) = var_sorted(&sorted, *alpha);
                grad[order[j]] = -1.0;
                v
            }
            RiskMeasure::Es { alpha } | RiskMeasure::Oce(OceUtility::Cvar { alpha }) => {
                let (order, sorted) = ordered();
                spectral_sorted(&sorted, &Spectrum::Es { alpha: *alpha }, Some((&order, grad)))
            }
            RiskMeasure::Spectral(s) => {
                let (order, sorted) = ordered();
                spectral_sorted(&sorted, s, Some((&order, grad)))
            }
            RiskMeasure::Evar { alpha } => {
                let e = evar(sample, *alpha);
                tilted_grad(sample, e.t, grad);
                e.value
            }
            RiskMeasure::Entropic { theta }
            | RiskMeasure::Oce(OceUtility::Exponential { theta }) => {
                tilted_grad(sample, *theta, grad);
                entropic(sample, *theta)
            }
            RiskMeasure::Oce(OceUtility::Quadratic { c }) => {
                let (v, eta) = oce_quadratic(sample, *c);
                for (i, (g, x)) in grad.iter_mut().zip(sample.pnl()).enumerate() {
                    *g = -sample.prob(i) * (1.0 + c * (-x - eta)).max(0.0);
                }
                v
            }
            RiskMeasure::MaxDrawdown => {
                let d = max_drawdown(sample.pnl());
                if let (Some(peak), Some(trough)) = (d.peak, d.trough) {
                    grad[peak..trough].iter_mut().for_each(|g| *g = -1.0);
                }
                d.value
            }
        };
        Ok(value)
    }

    /// Parses a comma-separated list of specs (`var:0.99,es:0.975,mdd`), keeping each spec
    /// as written (trimmed) for display.
    ///
    /// # Errors
    /// [`RiskError::Spec`] for the first spec that does not parse or validate.
    pub fn parse_list(list: &str) -> Result<Vec<(String, RiskMeasure)>, RiskError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Ok((s.to_owned(), s.parse()?)))
            .collect()
    }
}

impl FromStr for RiskMeasure {
    type Err = RiskError;

    /// Parses `name[:param]`: `var:α`, `es:α` (or `cvar:α`), `spectral-exp:k`,
    /// `spectral-pow:γ`, `evar:α`, `entropic:θ`, `oce-exp:θ`, `oce-quad:c`, `oce-cvar:α`,
    /// `mdd`.
    fn from_str(spec: &str) -> Result<Self, RiskError> {
        let fail = |reason: String| RiskError::Spec { spec: spec.to_owned(), reason };
        let (name, param) = match spec.split_once(':') {
            Some((n, p)) => (n.trim(), Some(p.trim())),
            None => (spec.trim(), None),
        };
        let num = || -> Result<f64, RiskError> {
            let p = param
                .ok_or_else(|| fail(format!("`{name}` needs a parameter, e.g. `{name}:0.99`")))?;
            p.parse::<f64>().map_err(|_| fail(format!("parameter `{p}` is not a number")))
        };
        let m = match name {
            "var" => RiskMeasure::Var { alpha: num()? },
            "es" | "cvar" => RiskMeasure::Es { alpha: num()? },
            "spectral-exp" => RiskMeasure::Spectral(Spectrum::Exponential { k: num()? }),
            "spectral-pow" => RiskMeasure::Spectral(Spectrum::Power { gamma: num()? }),
            "evar" => RiskMeasure::Evar { alpha: num()? },
            "entropic" => RiskMeasure::Entropic { theta: num()? },
            "oce-exp" => RiskMeasure::Oce(OceUtility::Exponential { theta: num()? }),
            "oce-quad" => RiskMeasure::Oce(OceUtility::Quadratic { c: num()? }),
            "oce-cvar" => RiskMeasure::Oce(OceUtility::Cvar { alpha: num()? }),
            "mdd" if param.is_none() => RiskMeasure::MaxDrawdown,
            "mdd" => return Err(fail("`mdd` takes no parameter".into())),
            _ => {
                return Err(fail(format!(
                    "unknown measure `{name}` (known: var, es, cvar, spectral-exp, spectral-pow, evar, entropic, oce-exp, oce-quad, oce-cvar, mdd)"
                )))
            }
        };
        m.validate().map_err(|e| fail(e.to_string()))?;
        Ok(m)
    }
}

impl fmt::Display for RiskMeasure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RiskMeasure::Var { alpha } => write!(f, "var:{alpha}"),
            RiskMeasure::Es { alpha } => write!(f, "es:{alpha}"),
            RiskMeasure::Spectral(Spectrum::Exponential { k }) => write!(f, "spectral-exp:{k}"),
            RiskMeasure::Spectral(Spectrum::Power { gamma }) => write!(f, "spectral-pow:{gamma}"),
            RiskMeasure::Spectral(Spectrum::Es { alpha }) => write!(f, "es:{alpha}"),
            RiskMeasure::Spectral(_) => write!(f, "spectral-user"),
            RiskMeasure::Evar { alpha } => write!(f, "evar:{alpha}"),
            RiskMeasure::Entropic { theta } => write!(f, "entropic:{theta}"),
            RiskMeasure::Oce(OceUtility::Exponential { theta }) => write!(f, "oce-exp:{theta}"),
            RiskMeasure::Oce(OceUtility::Quadratic { c }) => write!(f, "oce-quad:{c}"),
            RiskMeasure::Oce(OceUtility::Cvar { alpha }) => write!(f, "oce-cvar:{alpha}"),
            RiskMeasure::MaxDrawdown => write!(f, "mdd"),
        }
    }
}

/// Evaluates several measures on one sample, sorting it at most once.
///
/// # Errors
/// [`RiskError::Parameter`] for the first measure with invalid parameters.
pub fn evaluate(sample: &Sample, measures: &[RiskMeasure]) -> Result<Vec<f64>, RiskError> {
    for m in measures {
        m.validate()?;
    }
    let sorted = sort_for(sample, measures);
    Ok(measures.iter().map(|m| m.eval_unchecked(sample, sorted.as_ref())).collect())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum SortNeed {
    No,
    /// The atoms covering this tail mass.
    Tail(f64),
    Full,
}

/// The one sort that serves every measure in `measures`: a full sort when a spectral
/// measure needs it, else the selected tail covering the largest tail mass asked, else none.
fn sort_for(sample: &Sample, measures: &[RiskMeasure]) -> Option<Sorted> {
    let mut tail: Option<f64> = None;
    for m in measures {
        match m.sort_need() {
            SortNeed::Full => return Some(sample.sorted()),
            SortNeed::Tail(c) => tail = Some(tail.map_or(c, |t| t.max(c))),
            SortNeed::No => {}
        }
    }
    tail.map(|c| sample.tail_sorted(c))
}

/// `VaR_α` on a sorted sample and the index of the quantile atom.
pub fn var_sorted(sorted: &Sorted, alpha: f64) -> (f64, usize) {
    let c = 1.0 - alpha;
    let mut at = 0;
    sorted.for_each_tail(|j, _, s_lo| {
        // P(L > L_(j)) = s_lo: the quantile is the lowest atom with s_lo ≤ 1 − α.
        if s_lo <= c + TIE_TOL {
            at = j;
            true
        } else {
            false
        }
    });
    (sorted.loss()[at], at)
}

/// `Σ_j L_(j) ∫_{interval j} φ`: the exact spectral measure of a sorted sample. With
/// `grad = Some((order, g))`, also writes `g[order[j]] = −w_j` (the P&L subgradient).
pub fn spectral_sorted(
    sorted: &Sorted,
    spectrum: &Spectrum,
    mut grad: Option<(&[usize], &mut [f64])>,
) -> f64 {
    let loss = sorted.loss();
    let mut sum = 0.0;
    let mut put = |j: usize, w: f64| {
        if let Some((order, g)) = grad.as_mut() {
            g[order[j]] = -w;
        }
    };
    match spectrum {
        Spectrum::Es { alpha } => {
            let c = 1.0 - alpha;
            sorted.for_each_tail(|j, s_hi, s_lo| {
                if s_lo >= c - TIE_TOL {
                    return false;
                }
                let w = (s_hi.min(c) - s_lo) / c;
                sum += w * loss[j];
                put(j, w);
                true
            });
        }
        Spectrum::Exponential { k } => {
            // w = (e^{−k s_lo} − e^{−k s_hi}) / (1 − e^{−k}): the same absolute accuracy as
            // differencing Ψ, one fast exponential per atom.
            let (k, norm) = (*k, 1.0 / -(-k).exp_m1());
            let mut e_lo = 1.0;
            sorted.for_each_tail(|j, s_hi, _| {
                let e_hi = exp_nonpositive(-k * s_hi);
                let w = (e_lo - e_hi) * norm;
                e_lo = e_hi;
                sum += w * loss[j];
                put(j, w);
                true
            });
        }
        Spectrum::Custom(_) => sorted.for_each_tail(|j, s_hi, s_lo| {
            let w = spectrum.interval_weight(s_hi, s_lo);
            sum += w * loss[j];
            put(j, w);
            true
        }),
        _ => {
            // One distortion evaluation per atom: Ψ(s_lo) of an atom is Ψ(s_hi) of the one
            // above it.
            let mut psi_lo = 0.0;
            sorted.for_each_tail(|j, s_hi, _| {
                let psi_hi = spectrum.distortion(s_hi);
                let w = psi_hi - psi_lo;
                psi_lo = psi_hi;
                sum += w * loss[j];
                put(j, w);
                true
            });
        }
    }
    sum
}

/// Tilted sums at `t`: `S0 = Σ p e^{t d}`, `S1 = Σ p e^{t d} d`, `S2 = Σ p e^{t d} d²` with
/// `d = L − max L ≤ 0`, so no exponential overflows. Four independent accumulators and a
/// branch-free exponential let the compiler vectorise the loop.
fn tilted(sample: &Sample, max_loss: f64, t: f64) -> [f64; 3] {
    let pnl = sample.pnl();
    let mut acc = [[0.0f64; 4]; 3];
    let mut add = |lane: usize, p: f64, x: f64| {
        let d = -x - max_loss;
        let w = p * exp_nonpositive(t * d);
        acc[0][lane] += w;
        acc[1][lane] += w * d;
        acc[2][lane] += w * d * d;
    };
    let scale = match sample.probs() {
        Some(p) => {
            let (xc, pc) = (pnl.chunks_exact(4), p.chunks_exact(4));
            let (xr, pr) = (xc.remainder(), pc.remainder());
            for (x4, p4) in xc.zip(pc) {
                for (lane, (&x, &p)) in x4.iter().zip(p4).enumerate() {
                    add(lane, p, x);
                }
            }
            for (&x, &p) in xr.iter().zip(pr) {
                add(0, p, x);
            }
            1.0
        }
        None => {
            let xc = pnl.chunks_exact(4);
            let xr = xc.remainder();
            for x4 in xc {
                for (lane, &x) in x4.iter().enumerate() {
                    add(lane, 1.0, x);
                }
            }
            for &x in xr {
                add(0, 1.0, x);
            }
            1.0 / pnl.len() as f64
        }
    };
    acc.map(|a| (a[0] + a[1] + a[2] + a[3]) * scale)
}

/// `e^x` for `x ≤ 0`, branch-free, relative error below 1e-15 (tested against `f64::exp`):
/// `x = k ln 2 + r`, `|r| ≤ ln 2 / 2`, degree-13 Taylor polynomial of `e^r` (remainder
/// `< 4e-18`), scaled by `2^k` built from its bits. Arguments below −708 (results under
/// 1e-307, negligible against the `d = 0` term of a tilted sum) are clamped there.
#[inline(always)]
fn exp_nonpositive(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // fdlibm's split of ln 2: the high part has trailing zero bits, so k·LN2_HI is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // 1.5·2^52: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 0.0);
    let kf = x * LOG2E + MAGIC;
    let k = kf.to_bits() as i64 - MAGIC.to_bits() as i64;
    let kr = kf - MAGIC;
    let r = (x - kr * LN2_HI) - kr * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    p * f64::from_bits(((k + 1023) as u64) << 52)
}

/// The largest loss with positive probability (the essential supremum): a zero-weight
/// atom above it must not become the log-sum-exp pivot, or every tilted term underflows.
fn max_loss(sample: &Sample) -> f64 {
    match sample.probs() {
        None => sample.pnl().iter().fold(f64::NEG_INFINITY, |m, &x| m.max(-x)),
        Some(p) => sample
            .pnl()
            .iter()
            .zip(p)
            .filter(|(_, &p)| p > 0.0)
            .fold(f64::NEG_INFINITY, |m, (&x, _)| m.max(-x)),
    }
}

/// Writes the P&L gradient of the tilted log-moment: `g_i = −p_i e^{tL_i} / Σ p e^{tL}`.
/// With `t = ∞` the mass goes to the largest losses.
fn tilted_grad(sample: &Sample, t: f64, grad: &mut [f64]) {
    let m = max_loss(sample);
    let mut total = 0.0;
    for (i, (g, &x)) in grad.iter_mut().zip(sample.pnl()).enumerate() {
        let d = -x - m;
        let w = if sample.prob(i) == 0.0 {
            0.0
        } else if t.is_finite() {
            sample.prob(i) * (t * d).exp()
        } else if d == 0.0 {
            sample.prob(i)
        } else {
            0.0
        };
        *g = -w;
        total += w;
    }
    grad.iter_mut().for_each(|g| *g /= total);
}

/// Entropic risk `(1/θ) ln E[e^{θL}]`, computed as `max L + (1/θ) ln E[e^{θ(L − max L)}]`.
pub fn entropic(sample: &Sample, theta: f64) -> f64 {
    let m = max_loss(sample);
    m + tilted(sample, m, theta)[0].ln() / theta
}

/// The result of an EVaR minimisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evar {
    /// `EVaR_α` in loss units.
    pub value: f64,
    /// The optimal tilt `t* = 1/z*` (infinite when the infimum is the largest loss).
    pub t: f64,
    /// Newton/bisection iterations used.
    pub iters: u32,
}

/// `EVaR_α = inf_{t>0} g(t)`, `g(t) = (K(t) + c)/t`, `K(t) = ln E[e^{tL}]`, `c = −ln(1−α)`.
///
/// `g'(t) = 0` ⇔ `ψ(t) = tK'(t) − K(t) = c`; `ψ` increases from 0 to `−ln P(L = max L)`
/// (`ψ' = tK'' ≥ 0`), so there is one root, found by Newton's method safeguarded by a
/// bracket (bisection when a step leaves it). The start is the Gaussian root
/// `t₀ = √(2c)/σ_L`, or, above 65 536 values, the root for a strided subsample of 16 384
/// values (fat tails put the Gaussian guess where ψ saturates), which leaves two to five
/// passes over the full sample. When `c ≥ −ln P(L = max L)` no root exists and EVaR is
/// the largest loss (`t = ∞`). All sums are tilted at the largest loss (log-sum-exp), so
/// they neither overflow nor underflow to zero.
pub fn evar(sample: &Sample, alpha: f64) -> Evar {
    let n = sample.len();
    let warm = if n > 65_536 {
        let stride = n / 16_384;
        let sub: Vec<f64> = sample.pnl().iter().step_by(stride).copied().collect();
        let sub = match sample.probs() {
            Some(p) => Sample::weighted(sub, p.iter().step_by(stride).copied().collect()),
            None => Sample::new(sub),
        };
        sub.ok().map(|s| evar_from(&s, alpha, None).t).filter(|t| t.is_finite())
    } else {
        None
    };
    evar_from(sample, alpha, warm)
}

fn evar_from(sample: &Sample, alpha: f64, t0: Option<f64>) -> Evar {
    let c = -(1.0 - alpha).ln();
    // One pass: the largest loss and its mass, and the variance (shifted sums).
    let (mut m, mut p_top) = (f64::NEG_INFINITY, 0.0);
    let shift = -sample.pnl()[0];
    let (mut s1, mut s2) = (0.0, 0.0);
    for (i, &x) in sample.pnl().iter().enumerate() {
        let (l, p) = (-x, sample.prob(i));
        if p <= 0.0 {
            continue;
        }
        if l > m {
            (m, p_top) = (l, p);
        } else if l == m {
            p_top += p;
        }
        s1 += p * (l - shift);
        s2 += p * (l - shift) * (l - shift);
    }
    let var = s2 - s1 * s1;
    if var.is_nan()
        || var <= 1e-28 * (m - shift).abs().max(1.0).powi(2)
        || c >= -p_top.ln() * (1.0 - 1e-12)
    {
        return Evar { value: m, t: f64::INFINITY, iters: 0 };
    }
    let g = |s: &[f64; 3], t: f64| m + (s[0].ln() + c) / t;
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let mut t = t0.unwrap_or_else(|| (2.0 * c).sqrt() / var.sqrt());
    let mut best = (f64::INFINITY, t);
    let mut iters = 0;
    while iters < 200 {
        iters += 1;
        let s = tilted(sample, m, t);
        let k1 = s[1] / s[0];
        let k2 = (s[2] / s[0] - k1 * k1).max(0.0);
        let psi = t * k1 - s[0].ln();
        let value = g(&s, t);
        if value < best.0 {
            best = (value, t);
        }
        let r = psi - c;
        if r.abs() <= 1e-14 * c {
            break;
        }
        if r < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let newton = t - r / (t * k2);
        // g is flat at the optimum: a relative step of 1e-9 leaves a value error of order
        // 1e-18 relative, so stop there rather than pay another pass.
        if (newton - t).abs() <= 1e-9 * t && newton > lo && newton < hi {
            break;
        }
        let next = if newton.is_finite() && newton > lo && newton < hi {
            newton
        } else if hi.is_finite() {
            if lo > 0.0 {
                (lo * hi).sqrt()
            } else {
                0.5 * hi
            }
        } else {
            4.0 * t
        };
        if (next - t).abs() <= 1e-15 * t || (hi.is_finite() && hi - lo <= 1e-15 * hi) {
            break;
        }
        t = next;
    }
    // g is minimised over t, so never report more than the sup bound max L.
    Evar { value: best.0.min(m), t: best.1, iters }
}

/// Quadratic-utility OCE and its minimiser η*.
///
/// The first-order condition `E[(1 + c(L − η))⁺] = 1` reads `G(a) = E[(L − a)⁺] = 1/c`
/// with `a = η − 1/c`. `G` is convex, decreasing and piecewise linear with kinks at the
/// losses; Newton's method started left of the root at `a₀ = E[L] − 1/c` (where
/// `G(a₀) ≥ E[L − a₀] = 1/c`) moves monotonically right and lands exactly on the root once
/// it reaches the root's linear piece, so the result is exact up to rounding, with no sort.
/// Without the cap (`L − η* ≥ −1/c` everywhere) it stops at once with `η* = E[L]` and the
/// OCE is `E[L] + (c/2) Var[L]`.
pub fn oce_quadratic(sample: &Sample, c: f64) -> (f64, f64) {
    let target = 1.0 / c;
    let mut a = -sample.mean() - target;
    for _ in 0..200 {
        let (mut g, mut mass) = (0.0, 0.0);
        for (i, &x) in sample.pnl().iter().enumerate() {
            let d = -x - a;
            if d > 0.0 {
                let p = sample.prob(i);
                g += p * d;
                mass += p;
            }
        }
        let r = g - target;
        if r <= 1e-13 * target || mass <= 0.0 {
            break;
        }
        let next = a + r / mass;
        if next <= a {
            break;
        }
        a = next;
    }
    let eta = a + target;
    let ell = |x: f64| if x >= -target { x + 0.5 * c * x * x } else { -0.5 * target };
    let value = eta
        + sample
            .pnl()
            .iter()
            .enumerate()
            .map(|(i, &x)| sample.prob(i) * ell(-x - eta))
            .sum::<f64>();
    (value, eta)
}

/// A maximum drawdown and where it happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drawdown {
    /// `max_{s ≤ t} (W_s − W_t)` of the cumulative path `W`, `W_0 = 0`; ≥ 0.
    pub value: f64,
    /// Number of steps before the peak (the peak is `W_peak`), when the drawdown is > 0.
    pub peak: Option<usize>,
    /// Number of steps up to the trough (`W_trough`), when the drawdown is > 0.
    pub trough: Option<usize>,
}

/// Maximum drawdown of the cumulative P&L path, in one pass.
pub fn max_drawdown(pnl: &[f64]) -> Drawdown {
    let (mut w, mut top, mut top_at) = (0.0f64, 0.0f64, 0usize);
    let mut best = Drawdown { value: 0.0, peak: None, trough: None };
    for (i, &x) in pnl.iter().enumerate() {
        w += x;
        if w > top {
            top = w;
            top_at = i + 1;
        } else if top - w > best.value {
            best = Drawdown { value: top - w, peak: Some(top_at), trough: Some(i + 1) };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::exp_nonpositive;

    #[test]
    fn fast_exp_matches_std() {
        // Reference: f64::exp (correctly rounded to ≤ 1 ulp in glibc). Tolerance 1e-15
        // relative over [−708, 0], including the reduction boundaries k ln 2 ± ln 2 / 2.
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -708.0 * (f64::from(i) / 200_000.0).powi(2);
            for y in [x, x - 0.5 * std::f64::consts::LN_2, x * 0.999_999_7] {
                if y < -708.0 {
                    continue;
                }
                let (a, b) = (exp_nonpositive(y), y.exp());
                worst = worst.max(((a - b) / b).abs());
            }
        }
        assert!(worst < 1e-15, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e6) < 1e-307);
    }
}
