//! The hybrid scheme (κ = 1) for the Volterra process `Y_t = √(2H) ∫₀ᵗ (t − s)^(H−½) dW_s`
//! on a piecewise-uniform time grid: see [`Scheme`].
//!
//! Bennedsen, Lunde & Pakkanen (2017), "Hybrid scheme for Brownian semistationary
//! processes", Finance Stoch. 21, eq. (2.9)–(2.12) with κ = 1: the cell next to `t_i` is
//! simulated exactly — `(ΔW_i, W̃_i)` with `W̃_i = √(2H) ∫_{s_{i−1}}^{s_i} (s_i − u)^α dW_u`,
//! `α = H − ½`, is Gaussian with `Var ΔW = Δ`, `Cov = √(2H) Δ^(α+1)/(α+1)`,
//! `Var W̃ = Δ^(2H)` — and every older cell `j` contributes `g(b·Δ) ΔW_j` with the optimal
//! point `b` of their Proposition 2.8, at which `g` equals its mean over the cell:
//! `b_k = ((k^(α+1) − (k−1)^(α+1))/(α+1))^(1/α)` on a uniform grid. On our grid (uniform
//! within each maturity segment, coarser in later segments) the same rule reads
//! `w_ij = √(2H)/((α+1)Δ_j) · [(s_i − s_{j−1})^(α+1) − (s_i − s_j)^(α+1)]`, which equals
//! `√(2H)(b_{i−j+1}Δ)^α` where the grid is uniform.
//!
//! The sum is a direct convolution, `O(N²/2)` multiply-adds per path for `N` steps (about
//! 13,000 for the default 160 steps), run on blocks of [`LANES`] paths at once so the inner
//! loop is a vectorisable axpy over paths; an FFT would only pay beyond a few hundred steps.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Paths simulated together (the stride of the block buffers).
pub(super) const LANES: usize = 32;

/// Time grid and hybrid-scheme coefficients for one Hurst exponent. Buffers are reused
/// across calls ([`Scheme::build`] only grows them).
#[derive(Clone, Debug, Default)]
pub(super) struct Scheme {
    /// `Δ_q` of step `q` (0-based: the step ending at `s_{q+1}`).
    pub dt: Vec<f64>,
    /// `√Δ_q`.
    sqrt_dt: Vec<f64>,
    /// Number of steps up to each maturity.
    pub at_maturity: Vec<usize>,
    /// Packed lower triangle: row `q` holds the `q` weights of the older steps `0..q`.
    weights: Vec<f64>,
    /// `(a, b)` with `W̃_q = a z₁ + b z₂`, `ΔW_q = √Δ_q z₁`.
    chol: Vec<[f64; 2]>,
    /// `Var Y` at the end of step `q` under the scheme (compensates the exponent, so the
    /// discretised variance has mean exactly ξ₀).
    pub var: Vec<f64>,
}

/// Number of steps of the segment `(t0, t1]` when a maturity `t1` gets `steps` steps over
/// its whole length: `⌈steps·(t1 − t0)/t1⌉`, at least 1.
fn segment_steps(t0: f64, t1: f64, steps: usize) -> usize {
    let x = steps as f64 * (t1 - t0) / t1;
    ((x - 1e-9).ceil() as usize).max(1)
}

/// Total steps of the grid for `maturities` (increasing, positive) at `steps` per maturity.
pub(super) fn total_steps(maturities: &[f64], steps: usize) -> usize {
    let mut t0 = 0.0;
    maturities
        .iter()
        .map(|&t| {
            let n = segment_steps(t0, t, steps);
            t0 = t;
            n
        })
        .sum()
}

/// The normals of the grid with every pair of consecutive steps merged (`n` steps, `2n`
/// in `fine`; `len() × LANES` step-major like [`Scheme::draw`]): `(z_{2q} + z_{2q+1})/√2`.
/// Applied to both `z1` and `z2` this is an exact draw of the coarser scheme, and its
/// Brownian increments are the sums of the finer grid's: common random numbers across
/// step counts, so differences between them carry little Monte Carlo noise.
pub(super) fn coarsen(n: usize, lanes: usize, fine: &[f64], coarse: &mut [f64]) {
    for q in 0..n {
        let (a, b) = (2 * q * LANES, (2 * q + 1) * LANES);
        for p in 0..lanes {
            coarse[q * LANES + p] = (fine[a + p] + fine[b + p]) * std::f64::consts::FRAC_1_SQRT_2;
        }
    }
}

impl Scheme {
    /// Number of steps.
    pub fn len(&self) -> usize {
        self.dt.len()
    }

    /// Builds the grid and coefficients for Hurst exponent `h ∈ (0, 1)`: each segment
    /// `(T_{m−1}, T_m]` is split uniformly into `split` times the steps that make its step
    /// at most `T_m/steps` (`split = 2^l` refines the grid at `steps` `l` times by halving,
    /// so the grids of one `steps` nest: see [`coarsen`]).
    pub fn build(&mut self, h: f64, maturities: &[f64], steps: usize, split: usize) {
        self.dt.clear();
        self.at_maturity.clear();
        let mut t0 = 0.0;
        for &t in maturities {
            let n = split * segment_steps(t0, t, steps);
            let d = (t - t0) / n as f64;
            self.dt.extend(std::iter::repeat_n(d, n));
            self.at_maturity.push(self.dt.len());
            t0 = t;
        }
        let n = self.dt.len();
        let (alpha, c) = (h - 0.5, (2.0 * h).sqrt());
        self.sqrt_dt.clear();
        self.sqrt_dt.extend(self.dt.iter().map(|d| d.sqrt()));
        self.chol.clear();
        self.chol.extend(self.dt.iter().map(|&d| {
            let dh = d.powf(h);
            [c * dh / (h + 0.5), dh * (1.0 - 2.0 * h / ((h + 0.5) * (h + 0.5))).max(0.0).sqrt()]
        }));
        self.weights.clear();
        self.var.clear();
        // Grid times s_0 = 0, s_1, …: recomputed by summation once per row (no buffer).
        let mut s_q = 0.0;
        for q in 0..n {
            s_q += self.dt[q];
            let mut var = self.dt[q].powf(2.0 * h);
            let mut s_j = 0.0; // left end of older step j
            for j in 0..q {
                let (lo, hi) = (s_q - s_j - self.dt[j], s_q - s_j);
                let w = c * (hi.powf(alpha + 1.0) - lo.powf(alpha + 1.0))
                    / ((alpha + 1.0) * self.dt[j]);
                self.weights.push(w);
                var += w * w * self.dt[j];
                s_j += self.dt[j];
            }
            self.var.push(var);
        }
    }

    /// Draws the standard normals of `lanes ≤ LANES` paths into `z1` (the Brownian
    /// increments') and `z2` (both `len() × LANES`, step-major): `2·len()·lanes` normals
    /// from `rng`, step by step, lane by lane, `z1` before `z2`.
    pub fn draw<R: Rng>(&self, rng: &mut R, lanes: usize, z1: &mut [f64], z2: &mut [f64]) {
        for q in 0..self.len() {
            let row = q * LANES;
            for p in 0..lanes {
                z1[row + p] = StandardNormal.sample(rng);
                z2[row + p] = StandardNormal.sample(rng);
            }
        }
    }

    /// Brownian increments `dw` and `Y` at the end of each step `y` (both `len() × LANES`,
    /// step-major) of `lanes` paths from their normals `z1`, `z2` ([`Scheme::draw`]).
    pub fn apply(&self, lanes: usize, z1: &[f64], z2: &[f64], dw: &mut [f64], y: &mut [f64]) {
        for q in 0..self.len() {
            let (sd, [a, b]) = (self.sqrt_dt[q], self.chol[q]);
            let row = q * LANES;
            for p in 0..lanes {
                dw[row + p] = sd * z1[row + p];
                y[row + p] = a * z1[row + p] + b * z2[row + p];
            }
        }
        let mut off = 0;
        for q in 1..self.len() {
            let yq = &mut y[q * LANES..q * LANES + lanes];
            for (j, &w) in self.weights[off..off + q].iter().enumerate() {
                for (yp, d) in yq.iter_mut().zip(&dw[j * LANES..j * LANES + lanes]) {
                    *yp += w * d;
                }
            }
            off += q;
        }
    }

    /// The weight of older step `j` in `Y` at the end of step `q > j` (tests).
    #[cfg(test)]
    pub fn weight(&self, q: usize, j: usize) -> f64 {
        self.weights[q * (q - 1) / 2 + j]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_grid_weights_are_the_optimal_points_of_blp() {
        // One maturity, uniform steps: w = √(2H)(b_k Δ)^α with b_k of BLP (2017) Prop. 2.8.
        let (h, t, n) = (0.1, 0.5, 20);
        let mut s = Scheme::default();
        s.build(h, &[t], n, 1);
        assert_eq!(s.len(), n);
        let (a, d) = (h - 0.5, t / n as f64);
        for (q, j) in [(5, 3), (19, 0), (10, 1)] {
            let k = (q - j + 1) as f64;
            let b = ((k.powf(a + 1.0) - (k - 1.0).powf(a + 1.0)) / (a + 1.0)).powf(1.0 / a);
            let want = (2.0 * h).sqrt() * (b * d).powf(a);
            assert!((s.weight(q, j) - want).abs() < 1e-12 * want, "{q} {j}");
        }
    }

    #[test]
    fn covariance_with_the_driving_brownian_motion_is_exact() {
        // Cov(Y_t, W_t) = √(2H) t^(H+½)/(H+½) exactly (the cell means integrate g exactly);
        // Var Y_t = t^(2H) up to the Riemann error of the older cells (≤ 1 % here).
        for h in [0.05, 0.1, 0.3, 0.5] {
            let mut s = Scheme::default();
            s.build(h, &[1.0 / 365.0, 7.0 / 365.0, 0.25], 16, 1);
            let mut t = 0.0;
            for q in 0..s.len() {
                t += s.dt[q];
                let mut cov = s.chol[q][0] * s.sqrt_dt[q];
                for j in 0..q {
                    cov += s.weight(q, j) * s.dt[j];
                }
                let want = (2.0 * h).sqrt() * t.powf(h + 0.5) / (h + 0.5);
                assert!((cov - want).abs() < 1e-12 * want, "h {h} q {q}: {cov} vs {want}");
                let v = t.powf(2.0 * h);
                assert!((s.var[q] - v).abs() < 0.01 * v, "h {h} q {q}: {} vs {v}", s.var[q]);
            }
        }
    }

    #[test]
    fn coarsened_normals_drive_the_merged_grid_with_the_same_brownian_path() {
        use rand::SeedableRng;
        let m = [1.0 / 365.0, 0.1, 1.0];
        let (mut fine, mut coarse) = (Scheme::default(), Scheme::default());
        fine.build(0.1, &m, 6, 2);
        coarse.build(0.1, &m, 6, 1);
        let n = coarse.len();
        assert_eq!(fine.len(), 2 * n);
        assert_eq!(fine.at_maturity, coarse.at_maturity.iter().map(|a| 2 * a).collect::<Vec<_>>());
        let buf = || vec![0.0; 2 * n * LANES];
        let (mut z1, mut z2, mut dw, mut y) = (buf(), buf(), buf(), buf());
        let (mut c1, mut c2, mut cdw, mut cy) = (buf(), buf(), buf(), buf());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        fine.draw(&mut rng, 5, &mut z1, &mut z2);
        fine.apply(5, &z1, &z2, &mut dw, &mut y);
        coarsen(n, 5, &z1, &mut c1);
        coarsen(n, 5, &z2, &mut c2);
        coarse.apply(5, &c1, &c2, &mut cdw, &mut cy);
        for q in 0..n {
            assert!((fine.dt[2 * q] + fine.dt[2 * q + 1] - coarse.dt[q]).abs() < 1e-15);
            for p in 0..5 {
                let sum = dw[2 * q * LANES + p] + dw[(2 * q + 1) * LANES + p];
                assert!((cdw[q * LANES + p] - sum).abs() < 1e-14, "{q} {p}");
            }
        }
    }

    #[test]
    fn segments_refine_toward_each_maturity() {
        let m = [1.0 / 365.0, 3.0 / 365.0, 1.0];
        assert_eq!(total_steps(&m, 10), 10 + 7 + 10);
        let mut s = Scheme::default();
        s.build(0.2, &m, 10, 1);
        assert_eq!(s.at_maturity, vec![10, 17, 27]);
        let t: f64 = s.dt.iter().sum();
        assert!((t - 1.0).abs() < 1e-14);
    }
}
