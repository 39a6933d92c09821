//! The raw SVI smile: see [`Svi`].

use super::{check_len, Domain, Params, Smile};
use volfit_optim::linalg;

/// Why an SVI parameter set was rejected.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SviError {
    /// A parameter is NaN or infinite.
    #[error("SVI parameter {0} is not finite")]
    NonFinite(&'static str),
    /// `b < 0`.
    #[error("SVI requires b >= 0, got b = {0}")]
    NegativeB(f64),
    /// `|ρ| ≥ 1`.
    #[error("SVI requires |rho| < 1, got rho = {0}")]
    RhoOutOfRange(f64),
    /// `σ ≤ 0`.
    #[error("SVI requires sigma > 0, got sigma = {0}")]
    NonPositiveSigma(f64),
    /// `a + bσ√(1 − ρ²) < 0`.
    #[error("SVI requires a + b*sigma*sqrt(1 - rho^2) >= 0, got {0}")]
    NegativeMinVariance(f64),
    /// SVI-JW values that map to no raw SVI.
    #[error("SVI-JW parameters map to no raw SVI ({0})")]
    InvalidJw(&'static str),
    /// Fewer than 5 usable quotes for a fit.
    #[error("SVI fit needs at least 5 quotes with positive weight, got {0}")]
    TooFewQuotes(usize),
    /// Flat vector of the wrong length.
    #[error("SVI expects {expected} parameters, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}

/// Raw SVI smile (Gatheral 2004):
///
/// ```text
/// w(k) = a + b·(ρ(k − m) + √((k − m)² + σ²))
/// ```
///
/// Domain: `a` real, `b ≥ 0`, `|ρ| < 1`, `m` real, `σ > 0`, and the minimum variance
/// `a + bσ√(1 − ρ²) ≥ 0`. Roger Lee's moment bound on the wings is `b(1 + |ρ|) ≤ 2`.
/// Also: SVI-JW (Gatheral–Jacquier 2014, §3.1) for reporting, and the quasi-explicit
/// calibration of De Marco–Martini (Zeliade 2009) as an initial guess.
///
/// Raw SVI parameters (validated).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Svi {
    a: f64,
    b: f64,
    rho: f64,
    m: f64,
    sigma: f64,
}

impl Svi {
    /// Validating constructor.
    ///
    /// # Errors
    /// [`SviError`] naming the violated constraint.
    pub fn new(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> Result<Svi, SviError> {
        for (name, v) in [("a", a), ("b", b), ("rho", rho), ("m", m), ("sigma", sigma)] {
            if !v.is_finite() {
                return Err(SviError::NonFinite(name));
            }
        }
        if b < 0.0 {
            return Err(SviError::NegativeB(b));
        }
        if rho.abs() >= 1.0 {
            return Err(SviError::RhoOutOfRange(rho));
        }
        if sigma <= 0.0 {
            return Err(SviError::NonPositiveSigma(sigma));
        }
        let min_w = a + b * sigma * (1.0 - rho * rho).sqrt();
        // Tolerance for rounding in fitted parameters sitting on the boundary.
        if min_w < -1e-14 * (a.abs() + b * sigma) {
            return Err(SviError::NegativeMinVariance(min_w));
        }
        Ok(Svi { a, b, rho, m, sigma })
    }

    /// `[a, b, ρ, m, σ]`.
    pub fn params(&self) -> [f64; 5] {
        [self.a, self.b, self.rho, self.m, self.sigma]
    }

    /// Minimum total variance `a + bσ√(1 − ρ²)`.
    pub fn min_variance(&self) -> f64 {
        self.a + self.b * self.sigma * (1.0 - self.rho * self.rho).sqrt()
    }

    /// Roger Lee's wing bound `b(1 + |ρ|) ≤ 2` (the large-|k| slopes of `w`).
    pub fn lee_ok(&self) -> bool {
        self.b * (1.0 + self.rho.abs()) <= 2.0
    }

    /// SVI-JW parameters at expiry `t` (Gatheral–Jacquier 2014, §3.1).
    pub fn to_jw(&self, t: f64) -> SviJw {
        let Svi { a, b, rho, m, sigma } = *self;
        let r0 = (m * m + sigma * sigma).sqrt();
        let w = a + b * (-rho * m + r0);
        let sw = w.sqrt();
        SviJw {
            v: w / t,
            psi: b / (2.0 * sw) * (rho - m / r0),
            p: b * (1.0 - rho) / sw,
            c: b * (1.0 + rho) / sw,
            v_min: (a + b * sigma * (1.0 - rho * rho).sqrt()) / t,
        }
    }

    /// Raw SVI from SVI-JW at expiry `t` (Gatheral–Jacquier 2014, Lemma 3.2).
    ///
    /// # Errors
    /// [`SviError::InvalidJw`] when the JW values are inconsistent, or a raw-SVI error.
    pub fn from_jw(jw: SviJw, t: f64) -> Result<Svi, SviError> {
        let w = jw.v * t;
        if !(w > 0.0) || !(t > 0.0) {
            return Err(SviError::InvalidJw("v*t must be positive"));
        }
        let sw = w.sqrt();
        let b = 0.5 * sw * (jw.c + jw.p);
        if !(b > 0.0) {
            return Err(SviError::InvalidJw("c + p must be positive"));
        }
        let rho = 1.0 - jw.p * sw / b;
        let beta = rho - 2.0 * jw.psi * sw / b;
        if !(beta.abs() <= 1.0) {
            return Err(SviError::InvalidJw("|beta| must be <= 1"));
        }
        let sq = (1.0 - rho * rho).sqrt();
        let (m, sigma) = if beta == 0.0 {
            // m = 0: w = a + bσ and v_min t = a + bσ√(1 − ρ²).
            (0.0, (w - jw.v_min * t) / (b * (1.0 - sq)))
        } else {
            let alpha = beta.signum() * (1.0 / (beta * beta) - 1.0).sqrt();
            let m = (jw.v - jw.v_min) * t
                / (b * (-rho + alpha.signum() * (1.0 + alpha * alpha).sqrt() - alpha * sq));
            (m, alpha * m)
        };
        let a = jw.v_min * t - b * sigma * sq;
        Svi::new(a, b, rho, m, sigma)
    }
}

/// SVI "jump-wings" parameters at one expiry (Gatheral–Jacquier 2014, §3.1): ATM variance
/// `v`, ATM skew `psi`, put wing slope `p`, call wing slope `c`, minimum variance `v_min`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SviJw {
    /// ATM implied variance `w(0)/t`.
    pub v: f64,
    /// ATM skew `∂σ/∂k` scaled as in the paper.
    pub psi: f64,
    /// Left (put) wing slope.
    pub p: f64,
    /// Right (call) wing slope.
    pub c: f64,
    /// Minimum implied variance.
    pub v_min: f64,
}

const SVI_DOMAIN: [Domain; 5] =
    [Domain::Free, Domain::Positive, Domain::Interval(-1.0, 1.0), Domain::Free, Domain::Positive];

impl Params for Svi {
    const NAMES: &'static [&'static str] = &["a", "b", "rho", "m", "sigma"];
    type Error = SviError;
    fn domain() -> &'static [Domain] {
        &SVI_DOMAIN
    }
    fn to_slice(&self, out: &mut [f64]) {
        out[..5].copy_from_slice(&self.params());
    }
    fn from_slice(x: &[f64]) -> Result<Self, SviError> {
        check_len(x, 5).map_err(|(expected, got)| SviError::Length { expected, got })?;
        Svi::new(x[0], x[1], x[2], x[3], x[4])
    }
}

/// A smile that is a raw SVI (an SVI slice itself, an SSVI or eSSVI slice): the exact
/// arbitrage checks (`check_svi_butterfly`, `check_svi_calendar`) apply to it.
pub trait AsRawSvi {
    /// The smile as raw SVI parameters, `None` when it is not one.
    fn as_raw_svi(&self) -> Option<Svi>;
}

impl AsRawSvi for Svi {
    fn as_raw_svi(&self) -> Option<Svi> {
        Some(*self)
    }
}

impl Smile for Svi {
    fn num_params(&self) -> usize {
        5
    }
    fn total_variance(&self, k: f64) -> f64 {
        let x = k - self.m;
        self.a + self.b * (self.rho * x + (x * x + self.sigma * self.sigma).sqrt())
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        let x = k - self.m;
        let r = (x * x + self.sigma * self.sigma).sqrt();
        let u = self.rho * x + r;
        grad[0] = 1.0;
        grad[1] = u;
        grad[2] = self.b * x;
        grad[3] = -self.b * (self.rho + x / r);
        grad[4] = self.b * self.sigma / r;
        self.a + self.b * u
    }
    fn total_variance_dk(&self, k: f64) -> [f64; 3] {
        let x = k - self.m;
        let s2 = self.sigma * self.sigma;
        let r = (x * x + s2).sqrt();
        [
            self.a + self.b * (self.rho * x + r),
            self.b * (self.rho + x / r),
            self.b * s2 / (r * r * r),
        ]
    }
}

/// Fits raw SVI to total variances by the quasi-explicit method of De Marco and Martini
/// (Zeliade 2009): for fixed `(m, σ)`, with `y = (k − m)/σ`,
/// `w = ã + d·y + c·√(y² + 1)` is linear in `(ã, d, c) = (a, ρbσ, bσ)`, a 3-parameter
/// weighted least squares under linear constraints solved exactly (normal equations,
/// then every set of up to three active constraints). The outer 2-D search over `(m, σ)`
/// is a coarse grid followed by Nelder–Mead.
///
/// Constraints: `|d| ≤ c` (|ρ| ≤ 1), `c + |d| ≤ 2σ` (Lee: `b(1+|ρ|) ≤ 2`),
/// `ã + c − |d| ≥ 0` (implies `a + bσ√(1−ρ²) ≥ 0`, since `√(c²−d²) ≥ c − |d|`),
/// `ã ≤ max w`.
///
/// # Errors
/// [`SviError::TooFewQuotes`] with fewer than 5 positive-weight finite quotes, or a
/// constructor error if the search found no admissible point.
///
/// # Examples
/// Quotes from `a = 0.04, b = 0.4, ρ = −0.3, m = 0.1, σ = 0.2`, whose total variance at
/// `k = 0.25` is by hand `0.04 + 0.4·(−0.3·0.15 + √(0.15² + 0.2²)) = 0.04 + 0.4·0.205 =
/// 0.122`, are fitted back:
/// ```
/// use volfit::model::{quasi_explicit_fit, Svi};
/// use volfit::model::Smile;
///
/// let truth = Svi::new(0.04, 0.4, -0.3, 0.1, 0.2).unwrap();
/// assert!((truth.total_variance(0.25) - 0.122).abs() < 1e-15);
/// let ks: Vec<f64> = (0..21).map(|i| -0.5 + 0.05 * f64::from(i)).collect();
/// let ws: Vec<f64> = ks.iter().map(|&k| truth.total_variance(k)).collect();
/// let fit = quasi_explicit_fit(&ks, &ws, &vec![1.0; ks.len()]).unwrap();
/// for (got, want) in fit.params().iter().zip([0.04, 0.4, -0.3, 0.1, 0.2]) {
///     assert!((got - want).abs() < 1e-6, "{got} vs {want}");
/// }
/// assert!((fit.total_variance(0.25) - 0.122).abs() < 1e-6);
/// ```
pub fn quasi_explicit_fit(ks: &[f64], ws: &[f64], weights: &[f64]) -> Result<Svi, SviError> {
    let n = ks.len().min(ws.len()).min(weights.len());
    let usable =
        (0..n).filter(|&i| weights[i] > 0.0 && ks[i].is_finite() && ws[i].is_finite()).count();
    if usable < 5 {
        return Err(SviError::TooFewQuotes(usable));
    }
    let (ks, ws, weights) = (&ks[..n], &ws[..n], &weights[..n]);
    let mut kmin = f64::INFINITY;
    let mut kmax = f64::NEG_INFINITY;
    let mut wmax = 0.0_f64;
    for i in 0..n {
        if weights[i] > 0.0 && ks[i].is_finite() && ws[i].is_finite() {
            kmin = kmin.min(ks[i]);
            kmax = kmax.max(ks[i]);
            wmax = wmax.max(ws[i]);
        }
    }
    let span = (kmax - kmin).max(1e-3);
    let inner = |m: f64, ls: f64| -> (f64, [f64; 3]) {
        let sigma = ls.exp();
        inner_fit(ks, ws, weights, m, sigma, wmax.max(1e-12))
    };
    // Coarse grid over m in the quoted range and ln σ over [span/200, 2·span].
    let (mut best, mut best_x) = (f64::INFINITY, [0.0, 0.0]);
    let ls_lo = (span / 200.0).ln();
    let ls_hi = (2.0 * span).ln();
    // 4×4: on the 941 real slices of ../shared/data a 6×6 grid ends in the same fits after
    // the LM polish, at 1.5× the cost of this start.
    const G: usize = 4;
    for i in 0..G {
        let m = kmin + span * (i as f64 + 0.5) / G as f64;
        for j in 0..G {
            let ls = ls_lo + (ls_hi - ls_lo) * j as f64 / (G - 1) as f64;
            let (c, _) = inner(m, ls);
            if c < best {
                best = c;
                best_x = [m, ls];
            }
        }
    }
    let f = |x: [f64; 2]| -> f64 {
        // Keep m within a generous band around the data, and σ between ~span/4000 and the
        // grid's top, 2·span: a wider σ only trades b against a along the flat valley of a
        // near-quadratic smile, and a fit with σ boxed at 2·span would have to cut it.
        if x[0] < kmin - span || x[0] > kmax + span || x[1] < ls_lo - 3.0 || x[1] > ls_hi {
            return f64::INFINITY;
        }
        inner(x[0], x[1]).0
    };
    let step = [span / G as f64, (ls_hi - ls_lo) / (G - 1) as f64];
    let xb = nelder_mead_2d(f, best_x, step, 120, 1e-14 * (1.0 + best));
    let sigma = xb[1].exp();
    let (_, [at, d, c]) = inner(xb[0], xb[1]);
    let b = c / sigma;
    let rho = if c > 0.0 { (d / c).clamp(-1.0 + 1e-12, 1.0 - 1e-12) } else { 0.0 };
    // Lift a onto the exact minimum-variance boundary when rounding put it below.
    let a = at.max(-b * sigma * (1.0 - rho * rho).sqrt());
    Svi::new(a, b.max(0.0), rho, xb[0], sigma)
}

/// Constrained 3-parameter LS for fixed (m, σ). Returns (weighted SSE, [ã, d, c]).
fn inner_fit(
    ks: &[f64],
    ws: &[f64],
    weights: &[f64],
    m: f64,
    sigma: f64,
    wmax: f64,
) -> (f64, [f64; 3]) {
    // Normal equations H x = g with basis (1, y, z); keep Σ w·v² for the cost.
    let inv_sigma = 1.0 / sigma;
    let mut h = [0.0; 9];
    let mut g = [0.0; 3];
    let mut vv = 0.0;
    for i in 0..ks.len() {
        let wt = weights[i];
        if !(wt > 0.0) || !ks[i].is_finite() || !ws[i].is_finite() {
            continue;
        }
        let y = (ks[i] - m) * inv_sigma;
        let z = (y * y + 1.0).sqrt();
        let basis = [1.0, y, z];
        for r in 0..3 {
            let br = wt * basis[r];
            g[r] += br * ws[i];
            for c in r..3 {
                h[3 * r + c] += br * basis[c];
            }
        }
        vv += wt * ws[i] * ws[i];
    }
    h[3] = h[1];
    h[6] = h[2];
    h[7] = h[5];
    // Linear constraints G x ≤ q on x = (ã, d, c).
    let s2 = 2.0 * sigma;
    let cons: [([f64; 3], f64); 7] = [
        ([0.0, 1.0, -1.0], 0.0),
        ([0.0, -1.0, -1.0], 0.0),
        ([0.0, 1.0, 1.0], s2),
        ([0.0, -1.0, 1.0], s2),
        ([-1.0, 1.0, -1.0], 0.0),
        ([-1.0, -1.0, -1.0], 0.0),
        ([1.0, 0.0, 0.0], wmax),
    ];
    let cost = |x: &[f64; 3]| -> f64 {
        // xᵀHx − 2gᵀx + Σ w v²
        let mut q = 0.0;
        for r in 0..3 {
            for c in 0..3 {
                q += x[r] * h[3 * r + c] * x[c];
            }
        }
        (q - 2.0 * (g[0] * x[0] + g[1] * x[1] + g[2] * x[2]) + vv).max(0.0)
    };
    let feasible = |x: &[f64; 3]| {
        cons.iter()
            .all(|(a, q)| a[0] * x[0] + a[1] * x[1] + a[2] * x[2] <= q + 1e-12 * (1.0 + q.abs()))
    };
    let mut l = h;
    // Regularise slightly so a degenerate design (all y equal) still factors.
    let tr = (h[0] + h[4] + h[8]).max(1e-300);
    for i in 0..3 {
        l[4 * i] += 1e-13 * tr;
    }
    if !linalg::cholesky(&mut l, 3) {
        return (f64::INFINITY, [0.0; 3]);
    }
    let mut x0 = g;
    linalg::cholesky_solve(&l, 3, &mut x0);
    if feasible(&x0) {
        return (cost(&x0), x0);
    }
    // H⁻¹ G_jᵀ for each constraint, reused by every active set.
    let mut hg = [[0.0; 3]; 7];
    for (j, (a, _)) in cons.iter().enumerate() {
        let mut v = *a;
        linalg::cholesky_solve(&l, 3, &mut v);
        hg[j] = v;
    }
    // A feasible point with non-negative multipliers is a KKT point of this convex QP,
    // hence its global minimum: the first one found (smallest active sets first) is it.
    let try_set = |set: &[usize]| -> Option<[f64; 3]> {
        // λ solves (G H⁻¹ Gᵀ) λ = G x0 − q;  x = x0 − H⁻¹ Gᵀ λ.
        let r = set.len();
        let mut s = [0.0; 9];
        let mut rhs = [0.0; 3];
        for (p, &i) in set.iter().enumerate() {
            let (a, q) = cons[i];
            rhs[p] = a[0] * x0[0] + a[1] * x0[1] + a[2] * x0[2] - q;
            for (c, &j) in set.iter().enumerate() {
                s[r * p + c] = a[0] * hg[j][0] + a[1] * hg[j][1] + a[2] * hg[j][2];
            }
        }
        if !linalg::cholesky(&mut s[..r * r], r) {
            return None;
        }
        linalg::cholesky_solve(&s[..r * r], r, &mut rhs[..r]);
        if rhs[..r].iter().any(|&lam| lam < -1e-14) {
            return None;
        }
        let mut x = x0;
        for (p, &j) in set.iter().enumerate() {
            for c in 0..3 {
                x[c] -= hg[j][c] * rhs[p];
            }
        }
        feasible(&x).then_some(x)
    };
    for i in 0..7 {
        if let Some(x) = try_set(&[i]) {
            return (cost(&x), x);
        }
    }
    for i in 0..7 {
        for j in i + 1..7 {
            if let Some(x) = try_set(&[i, j]) {
                return (cost(&x), x);
            }
        }
    }
    for i in 0..7 {
        for j in i + 1..7 {
            for k in j + 1..7 {
                if let Some(x) = try_set(&[i, j, k]) {
                    return (cost(&x), x);
                }
            }
        }
    }
    (f64::INFINITY, [0.0; 3])
}

/// Minimal Nelder–Mead in two dimensions (standard coefficients 1, 2, ½, ½).
/// Kept rather than `volfit_optim::NelderMead`: with the engine's solver (same first
/// simplex, same iteration budget) 635 of the 660 real slices of `../shared/data` changed
/// their fit, 56 to a higher loss (one 5×), 50 to a lower one.
fn nelder_mead_2d<F: Fn([f64; 2]) -> f64>(
    f: F,
    x0: [f64; 2],
    step: [f64; 2],
    max_iter: usize,
    ftol: f64,
) -> [f64; 2] {
    let mut p = [x0, [x0[0] + step[0], x0[1]], [x0[0], x0[1] + step[1]]];
    let mut v = [f(p[0]), f(p[1]), f(p[2])];
    let lerp =
        |a: [f64; 2], b: [f64; 2], t: f64| [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
    for _ in 0..max_iter {
        // Order: p[0] best, p[2] worst.
        let mut idx = [0, 1, 2];
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        p = [p[idx[0]], p[idx[1]], p[idx[2]]];
        v = [v[idx[0]], v[idx[1]], v[idx[2]]];
        if (v[2] - v[0]).abs() <= ftol {
            break;
        }
        let c = lerp(p[0], p[1], 0.5);
        let xr = lerp(c, p[2], -1.0);
        let fr = f(xr);
        if fr < v[0] {
            let xe = lerp(c, p[2], -2.0);
            let fe = f(xe);
            if fe < fr {
                (p[2], v[2]) = (xe, fe);
            } else {
                (p[2], v[2]) = (xr, fr);
            }
        } else if fr < v[1] {
            (p[2], v[2]) = (xr, fr);
        } else {
            let xc = if fr < v[2] { lerp(c, xr, 0.5) } else { lerp(c, p[2], 0.5) };
            let fc = f(xc);
            if fc < v[2].min(fr) {
                (p[2], v[2]) = (xc, fc);
            } else {
                for i in 1..3 {
                    p[i] = lerp(p[0], p[i], 0.5);
                    v[i] = f(p[i]);
                }
            }
        }
    }
    let mut bi = 0;
    for i in 1..3 {
        if v[i] < v[bi] {
            bi = i;
        }
    }
    p[bi]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atm_identity() {
        // w(m) = a + bσ (formula at k = m).
        let s = Svi::new(0.04, 0.4, -0.3, 0.1, 0.2).expect("valid");
        assert!((s.total_variance(0.1) - (0.04 + 0.4 * 0.2)).abs() < 1e-15);
    }

    #[test]
    fn quasi_explicit_recovers_exact_svi() {
        // Round trip: noiseless quotes from known parameters are fitted back.
        let truth = Svi::new(0.02, 0.3, -0.4, 0.05, 0.15).expect("valid");
        let ks: Vec<f64> = (0..41).map(|i| -0.8 + 0.04 * f64::from(i)).collect();
        let ws: Vec<f64> = ks.iter().map(|&k| truth.total_variance(k)).collect();
        let fit = quasi_explicit_fit(&ks, &ws, &vec![1.0; ks.len()]).expect("fit");
        for (p, q) in fit.params().iter().zip(truth.params()) {
            assert!((p - q).abs() < 1e-5, "{:?} vs {:?}", fit, truth);
        }
    }

    #[test]
    fn quasi_explicit_keeps_sigma_within_its_search_range_on_a_parabola() {
        // A parabola is SVI's limit σ → ∞ (b/σ fixed, a → −∞): the fit slides along that
        // valley to the top of the σ range, 2·span (here 0.4), and no further; beyond it, a
        // fit box on σ at 2·span would cut the start and move it far from the data.
        let ks: Vec<f64> = (0..21).map(|i| -0.1 + 0.01 * f64::from(i)).collect();
        let ws: Vec<f64> = ks.iter().map(|&k| 0.003 + 0.002 * k + 0.05 * k * k).collect();
        let fit = quasi_explicit_fit(&ks, &ws, &vec![1.0; ks.len()]).expect("fit");
        assert!(fit.sigma <= 0.4 * (1.0 + 1e-12) && fit.sigma > 0.3, "{fit:?}");
        let worst = ks
            .iter()
            .zip(&ws)
            .map(|(&k, &w)| (fit.total_variance(k) - w).abs() / w)
            .fold(0.0f64, f64::max);
        assert!(worst < 0.01, "worst relative error {worst:e}, {fit:?}");
    }
}
