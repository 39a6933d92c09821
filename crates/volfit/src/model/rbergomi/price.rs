//! Conditional ("mixed") Monte Carlo on the simulated variance paths: see [`McWorkspace`].
//!
//! Given the driving Brownian motion `W` of the variance, `ln(F_T/F) = ρ∫√V dW − ½ρ²∫V dt
//! + √(1−ρ²)∫√V dW⊥ − ½(1−ρ²)∫V dt` is Gaussian in the orthogonal `W⊥`, so a call is worth
//! the Black price with forward `F' = F·exp(ρ∫√V dW − ½ρ²∫V dt)` and total variance
//! `(1−ρ²)∫V dt` (Romano & Touzi 1997; McCrickerd & Pakkanen 2018, "Turbocharging Monte
//! Carlo pricing for the rough Bergomi model", Quant. Finance 18, §3). Both integrals are
//! left-point sums, so `E[F'] = F` holds exactly for the discretised model.
//!
//! Variance reduction, on top of the conditioning: antithetic pairs (`W → −W`, averaged
//! before any statistic) and two control variates of known mean zero, with regression
//! coefficients estimated per grid point:
//! * `F'/F − 1`;
//! * the timer-option control of McCrickerd & Pakkanen (2018, §3.3): the Black call on
//!   `F'` with the remaining variance budget `ρ²(Q − ∫V dt)`, minus its known mean, the
//!   Black call on `F` with total variance `ρ²Q`. `F'` is a Brownian motion time-changed
//!   by `ρ²∫V dt`, so the identity holds by optional stopping whenever `∫V dt ≤ Q`; as in
//!   the paper `Q` is the largest simulated `∫V dt` at that maturity. This control carries
//!   the curvature of the price in `F'` that the first one misses (large `|ρ|`).
//!
//! The call and put estimates obey put–call parity exactly (their coefficients on the
//! first control differ by one; the second control is a call for both). The standard
//! error is that of the regression residual over the antithetic pairs.

use super::hybrid::{coarsen, Scheme, LANES};
use super::RBergomi;
use crate::black::{implied_vol, norm_cdf, vega, OptionType};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which option each grid point prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// Calls at `k ≥ 0`, puts below (the implied-vol convention).
    Otm,
    /// This kind everywhere.
    All(OptionType),
}

impl Side {
    fn kind(self, k: f64) -> OptionType {
        match self {
            Side::Otm if k >= 0.0 => OptionType::Call,
            Side::Otm => OptionType::Put,
            Side::All(kind) => kind,
        }
    }
}

/// Reusable buffers and the results of the last pricing call
/// ([`RBergomi::price_grid`]). Sized on first use; nothing is allocated per block or path.
#[derive(Clone, Debug, Default)]
pub struct McWorkspace {
    /// One scheme per level of time steps: level 0 the finest, level `l + 1` level `l`
    /// with pairs of steps merged.
    schemes: Vec<Scheme>,
    /// Per level: the normals `z1`, `z2` of the current block.
    z: Vec<[Vec<f64>; 2]>,
    dw: Vec<f64>,
    y: Vec<f64>,
    /// Per lane: ∫V dt, ∫√V dW and √V at the start of the current step.
    lane: [[f64; LANES]; 3],
    paths: usize,
    /// `ρ` of the last simulation.
    rho: f64,
    maturities: Vec<f64>,
    /// Per level × maturity × path: `ln(F'/F)` and `∫V dt` (path `2g + member` of pair `g`).
    ln_f: Vec<f64>,
    int_v: Vec<f64>,
    /// Per level × path of the maturity being priced: `F'/F`, its log, `F'/F − 1`, the
    /// conditional total vol and the timer control's total vol.
    per_path: Vec<[f64; 5]>,
    price: Vec<f64>,
    price_se: Vec<f64>,
    iv: Vec<f64>,
    iv_se: Vec<f64>,
    iv_err: Vec<f64>,
    step_diff: Vec<f64>,
    forward: Vec<f64>,
    forward_se: Vec<f64>,
}

impl McWorkspace {
    /// Prices of the last call (undiscounted, forward 1), maturity-major.
    pub fn price(&self) -> &[f64] {
        &self.price
    }
    /// Monte Carlo standard errors of [`McWorkspace::price`].
    pub fn price_se(&self) -> &[f64] {
        &self.price_se
    }
    /// Implied vols (fractions; NaN where the price has none).
    pub fn iv(&self) -> &[f64] {
        &self.iv
    }
    /// Standard errors of [`McWorkspace::iv`]: the price's divided by Black vega at the
    /// implied vol (vol fractions: 0.002 is 0.2 vol point).
    pub fn iv_se(&self) -> &[f64] {
        &self.iv_se
    }
    /// Total errors of [`McWorkspace::iv`]: [`McWorkspace::iv_se`] and, when two or more
    /// levels of time steps were simulated, the step bias estimate `|V_N − V_{N/2}|` of the
    /// two finest levels (in vol, through Black vega at the implied vol), added in
    /// quadrature. `|V_N − V_{N/2}|` is the bias of `V_N` for a weak error `∝ N^(−1)`, and
    /// bounds the bias left by the Richardson extrapolation
    /// ([`RBergomi::price_grid_richardson`]) where the error has that order (measured in
    /// `McConfig::steps`). With one level, equal to [`McWorkspace::iv_se`].
    pub fn iv_err(&self) -> &[f64] {
        &self.iv_err
    }
    /// Prices at the finest level minus the next (`V_N − V_{N/2}`, plain means over the
    /// same paths, forward units); zero with one level.
    pub fn step_diff(&self) -> &[f64] {
        &self.step_diff
    }
    /// Per maturity, the plain Monte Carlo mean of `F'/F` over the antithetic pairs (1 in
    /// expectation: the first control's known mean).
    pub fn forward(&self) -> &[f64] {
        &self.forward
    }
    /// Standard errors of [`McWorkspace::forward`].
    pub fn forward_se(&self) -> &[f64] {
        &self.forward_se
    }
    /// Steps of the last simulation's finest grid.
    pub fn steps(&self) -> usize {
        self.schemes.first().map_or(0, Scheme::len)
    }

    /// Maturities of the last simulation.
    pub fn maturities(&self) -> &[f64] {
        &self.maturities
    }

    /// Levels of time steps of the last simulation (1 + the coarsenings).
    pub fn levels(&self) -> usize {
        self.schemes.len()
    }

    /// Builds the schemes and simulates `paths` paths into `ln_f`, `int_v` at `levels`
    /// levels of time steps: level 0 splits every step of the grid at `steps >> (levels −
    /// 1)` per maturity into `2^(levels − 1)` (one level: the grid at `steps`), each further
    /// level merges pairs of steps of the previous one and reuses its normals ([`coarsen`]).
    /// Block `b` of [`LANES`] antithetic pairs draws from ChaCha8 seeded with `seed` on
    /// stream `b`.
    pub(super) fn simulate(
        &mut self,
        model: &RBergomi,
        maturities: &[f64],
        (steps, levels): (usize, usize),
        paths: usize,
        seed: u64,
    ) {
        self.schemes.resize_with(levels, Scheme::default);
        self.z.resize_with(levels, Default::default);
        let base = steps >> (levels - 1);
        for (l, scheme) in self.schemes.iter_mut().enumerate() {
            scheme.build(model.hurst, maturities, base, 1 << (levels - 1 - l));
        }
        let n = self.schemes[0].len();
        for v in [&mut self.dw, &mut self.y].into_iter().chain(self.z.iter_mut().flatten()) {
            v.resize(n * LANES, 0.0);
        }
        (self.paths, self.rho) = (paths, model.rho);
        self.maturities.clear();
        self.maturities.extend_from_slice(maturities);
        self.ln_f.resize(levels * maturities.len() * paths, 0.0);
        self.int_v.resize(levels * maturities.len() * paths, 0.0);
        let pairs = paths / 2;
        for b in 0..pairs.div_ceil(LANES) {
            let lanes = LANES.min(pairs - b * LANES);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(b as u64);
            for l in 0..levels {
                if l == 0 {
                    let [z1, z2] = &mut self.z[0];
                    self.schemes[0].draw(&mut rng, lanes, z1, z2);
                } else {
                    let (fine, coarse) = self.z.split_at_mut(l);
                    let n = self.schemes[l].len();
                    for (f, c) in fine[l - 1].iter().zip(coarse[0].iter_mut()) {
                        coarsen(n, lanes, f, c);
                    }
                }
                let [z1, z2] = &self.z[l];
                self.schemes[l].apply(lanes, z1, z2, &mut self.dw, &mut self.y);
                for member in 0..2 {
                    self.walk(model, l, b * LANES, member, lanes);
                }
            }
        }
    }

    /// Walks the variance paths of one antithetic member (0: `+W`, 1: `−W`) of pairs
    /// `first..first + lanes` on level `level`, storing `ln(F'/F)` and `∫V dt` at each
    /// maturity.
    fn walk(&mut self, model: &RBergomi, level: usize, first: usize, member: usize, lanes: usize) {
        let sign = if member == 0 { 1.0 } else { -1.0 };
        let (half_eta2, s_eta, sxi, rho) =
            (0.5 * model.eta * model.eta, sign * model.eta, model.xi0.sqrt(), model.rho);
        let [int_v, int_dw, vol] = &mut self.lane;
        int_v.fill(0.0);
        int_dw.fill(0.0);
        vol.fill(sxi);
        let scheme = &self.schemes[level];
        let base = level * scheme.at_maturity.len() * self.paths;
        let mut mat = 0;
        for q in 0..scheme.len() {
            let (dt, var, row) = (scheme.dt[q], scheme.var[q], q * LANES);
            let (dw, y) = (&self.dw[row..row + lanes], &self.y[row..row + lanes]);
            for p in 0..lanes {
                let s = vol[p];
                int_v[p] += s * s * dt;
                int_dw[p] += s * sign * dw[p];
                // √V = √ξ₀·exp(½(ηY − ½η²·Var Y)): one exp gives V and √V.
                vol[p] = sxi * (0.5 * (s_eta * y[p] - half_eta2 * var)).exp();
            }
            if q + 1 == scheme.at_maturity[mat] {
                let at = base + mat * self.paths + 2 * first + member;
                for p in 0..lanes {
                    self.ln_f[at + 2 * p] = rho * int_dw[p] - 0.5 * rho * rho * int_v[p];
                    self.int_v[at + 2 * p] = int_v[p];
                }
                mat += 1;
            }
        }
    }

    /// Control-variate estimates, standard errors and implied vols of the simulated
    /// paths, the price of each pair being `Σ_l weights[l]·(price on level l)` (one weight
    /// per level; the controls are combined alike, so their means stay zero and the
    /// standard error is that of the combination, common random numbers included). Returns
    /// the number of points without a finite positive implied vol.
    pub(super) fn estimate(&mut self, ks: &[f64], side: Side, weights: &[f64]) -> usize {
        let (nt, pts, paths) = (self.maturities.len(), ks.len(), self.paths);
        let (m, levels) = (pts / nt, weights.len());
        for v in [&mut self.price, &mut self.price_se, &mut self.iv, &mut self.iv_se] {
            v.resize(pts, f64::NAN);
        }
        self.iv_err.resize(pts, f64::NAN);
        self.step_diff.resize(pts, 0.0);
        self.forward.resize(nt, f64::NAN);
        self.forward_se.resize(nt, f64::NAN);
        self.per_path.resize(levels * paths, [0.0; 5]);
        let mut failed = 0;
        for mat in 0..nt {
            let t = self.maturities[mat];
            let mut q_hat = [0.0; MAX_LEVELS];
            for (l, q) in q_hat.iter_mut().enumerate().take(levels) {
                *q = self.fill_per_path(l, mat);
            }
            let mut fwd = Acc::default();
            for g in 0..paths / 2 {
                let d = (0..levels).map(|l| {
                    let pair = &self.per_path[l * paths + 2 * g..l * paths + 2 * g + 2];
                    weights[l] * (0.5 * (pair[0][2] + pair[1][2]))
                });
                fwd.add(d.fold(0.0, |a, b| a + b), 0.0, 0.0);
            }
            let (md, se) = fwd.estimate();
            (self.forward[mat], self.forward_se[mat]) = (1.0 + md, se);
            for (i, &k) in ks.iter().enumerate().take((mat + 1) * m).skip(mat * m) {
                let (price, se, diff) = self.point(k, side, &q_hat, weights);
                (self.price[i], self.price_se[i], self.step_diff[i]) = (price, se, diff);
                let (kind, strike) = (side.kind(k), k.exp());
                let iv = implied_vol(kind, price, 1.0, strike, t).unwrap_or(f64::NAN);
                (self.iv[i], self.iv_se[i], self.iv_err[i]) = if iv.is_finite() && iv > 0.0 {
                    let v = vega(1.0, strike, t, iv);
                    (iv, se / v, (se / v).hypot(diff / v))
                } else {
                    failed += 1;
                    (f64::NAN, f64::NAN, f64::NAN)
                };
            }
        }
        failed
    }

    /// Fills level `level`'s block of `per_path` at maturity `mat`; returns `Q`, the largest
    /// simulated `∫V dt` (the timer control's budget).
    fn fill_per_path(&mut self, level: usize, mat: usize) -> f64 {
        let (paths, rho) = (self.paths, self.rho);
        let at = (level * self.maturities.len() + mat) * paths;
        let (ln_f, int_v) = (&self.ln_f[at..at + paths], &self.int_v[at..at + paths]);
        let q_hat = int_v.iter().copied().fold(0.0, f64::max);
        let out = &mut self.per_path[level * paths..(level + 1) * paths];
        for (pp, (&l, &i)) in out.iter_mut().zip(ln_f.iter().zip(int_v)) {
            let s = ((1.0 - rho * rho) * i).sqrt();
            *pp = [l.exp(), l, l.exp_m1(), s, (rho * rho * (q_hat - i)).max(0.0).sqrt()];
        }
        q_hat
    }

    /// Price, standard error and the plain mean of level 0 minus level 1 (0 with one level)
    /// at log-strike `k` of the filled `per_path`.
    fn point(&self, k: f64, side: Side, q_hat: &[f64], weights: &[f64]) -> (f64, f64, f64) {
        let (paths, rho, strike, kind) = (self.paths, self.rho, k.exp(), side.kind(k));
        let mut ey = [0.0; MAX_LEVELS];
        for (e, &q) in ey.iter_mut().zip(q_hat).take(weights.len()) {
            *e = black(OptionType::Call, 1.0, 0.0, strike, k, (rho * rho * q).sqrt());
        }
        let (mut acc, mut diff) = (Acc::default(), 0.0);
        for g in 0..paths / 2 {
            let (mut x, mut d, mut y, mut level0) = (0.0, 0.0, 0.0, 0.0);
            for (l, &w) in weights.iter().enumerate() {
                let (mut xl, mut dl, mut yl) = (0.0, 0.0, 0.0);
                for &[f, ln_f, dm1, s, sy] in &self.per_path[l * paths + 2 * g..][..2] {
                    xl += black(kind, f, ln_f, strike, k, s);
                    yl += black(OptionType::Call, f, ln_f, strike, k, sy);
                    dl += dm1;
                }
                x += w * (0.5 * xl);
                d += w * (0.5 * dl);
                y += w * (0.5 * yl - ey[l]);
                match l {
                    0 => level0 = 0.5 * xl,
                    1 => diff += level0 - 0.5 * xl,
                    _ => {}
                }
            }
            acc.add(x, d, y);
        }
        let (price, se) = acc.estimate();
        (price, se, diff / (paths / 2) as f64)
    }
}

/// Most levels of time steps in one simulation.
pub(super) const MAX_LEVELS: usize = 6;

/// Sums for the regression of a price `x` on two controls `a`, `b` of known mean zero.
/// Each variable is shifted by its first value so that variances and covariances do not
/// cancel catastrophically (a control can be nearly constant, e.g. the timer call at
/// small `|ρ|`).
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    n: f64,
    shift: [f64; 3],
    /// Sums of the shifted `x, a, b`.
    sum: [f64; 3],
    /// Sums of products `xx, aa, bb, xa, xb, ab`.
    prod: [f64; 6],
}

impl Acc {
    fn add(&mut self, x: f64, a: f64, b: f64) {
        if self.n == 0.0 {
            self.shift = [x, a, b];
        }
        let [u, v, w] = [x - self.shift[0], a - self.shift[1], b - self.shift[2]];
        self.n += 1.0;
        for (s, d) in self.sum.iter_mut().zip([u, v, w]) {
            *s += d;
        }
        for (s, d) in self.prod.iter_mut().zip([u * u, v * v, w * w, u * v, u * w, v * w]) {
            *s += d;
        }
    }

    /// `(x̄ − β·c̄, standard error)` with `β` the least-squares coefficients. A control
    /// whose standard deviation is below 1e-9 (forward units) is dropped: it cannot reduce
    /// the variance of a price on the grid, and its sample mean can be rounding noise that
    /// a huge coefficient would amplify (the timer call far out of the money at small
    /// `|ρ|`, or both controls at `ρ = 0`); so is the second of two collinear controls.
    fn estimate(&self) -> (f64, f64) {
        const FLOOR: f64 = 1e-18;
        let n = self.n;
        let [mu, mv, mw] = self.sum.map(|s| s / n);
        let p = self.prod.map(|s| s / n);
        let (sxx, saa, sbb) = (p[0] - mu * mu, p[1] - mv * mv, p[2] - mw * mw);
        let (sxa, sxb, sab) = (p[3] - mu * mv, p[4] - mu * mw, p[5] - mv * mw);
        let det = saa * sbb - sab * sab;
        let (ba, bb) = if saa > FLOOR && sbb > FLOOR && det > 1e-10 * saa * sbb {
            ((sbb * sxa - sab * sxb) / det, (saa * sxb - sab * sxa) / det)
        } else if saa >= sbb && saa > FLOOR {
            (sxa / saa, 0.0)
        } else if sbb > FLOOR {
            (0.0, sxb / sbb)
        } else {
            (0.0, 0.0)
        };
        let resid = (sxx - ba * sxa - bb * sxb).max(0.0);
        let (ma, mb) = (self.shift[1] + mv, self.shift[2] + mw);
        (self.shift[0] + mu - ba * ma - bb * mb, (resid / (n - 3.0).max(1.0)).sqrt())
    }
}

/// Black price of `kind` at strike `strike = e^k` with forward `f = e^ln_f`, total vol `s`.
fn black(kind: OptionType, f: f64, ln_f: f64, strike: f64, k: f64, s: f64) -> f64 {
    if !(s > 0.0) {
        return (kind.sign() * (f - strike)).max(0.0);
    }
    let d1 = (ln_f - k) / s + 0.5 * s;
    let d2 = d1 - s;
    match kind {
        OptionType::Call => f * norm_cdf(d1) - strike * norm_cdf(d2),
        OptionType::Put => strike * norm_cdf(-d2) - f * norm_cdf(-d1),
    }
}
