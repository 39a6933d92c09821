//! Problems shared by the optimizer benchmarks and the Python peer script: the standard
//! MGH/NIST problems of `volfit-optim`'s tests (same file, included by path so the data live in
//! one place), a 60-point raw-SVI smile with seeded noise, and a Huber-loss least-squares
//! wrapper (Triggs-corrected rows; for Huber the correction is the plain `√ρ′` scaling).

#[path = "../../optim/tests/common/mod.rs"]
pub mod standard;

use volfit_optim::{LeastSquares, Residuals};

/// Number of smile quotes.
pub const SMILE_POINTS: usize = 60;
/// Raw-SVI parameters `(a, b, ρ, m, σ)` that generate the smile (a typical 3-month
/// crypto smile in total variance).
pub const SVI_TRUE: [f64; 5] = [0.02, 0.12, -0.35, 0.05, 0.25];
/// Start for every solver: a flat-ish guess.
pub const SVI_START: [f64; 5] = [0.05, 0.05, 0.0, 0.0, 0.5];

/// Seed of the benchmark smile's noise.
pub const SMILE_SEED: u64 = 20_240_601;
/// Noise standard deviation of the benchmark smile (total-variance units).
pub const SMILE_NOISE: f64 = 5e-4;
/// Jump added to every fifth quote of the outlier smile.
pub const OUTLIER_JUMP: f64 = 0.02;
/// Huber scale for the outlier smile: 4× the noise level.
pub const HUBER_SCALE: f64 = 2e-3;

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator, so the data do not depend
/// on any random-number crate's version.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Approximately standard normal (sum of 12 uniforms minus 6).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

/// Raw SVI total variance `w(k) = a + b(ρ(k − m) + √((k − m)² + σ²))` (Gatheral 2004) and its
/// gradient in `(a, b, ρ, m, σ)`.
pub fn svi(p: &[f64], k: f64, grad: &mut [f64]) -> f64 {
    let (a, b, rho, m, sigma) = (p[0], p[1], p[2], p[3], p[4]);
    let d = k - m;
    let root = (d * d + sigma * sigma).sqrt();
    grad[0] = 1.0;
    grad[1] = rho * d + root;
    grad[2] = b * d;
    grad[3] = b * (-rho - d / root);
    grad[4] = b * sigma / root;
    a + b * (rho * d + root)
}

/// A smile: log-moneyness points and observed total variances; residuals `w(k; p) − w_obs`.
/// Evaluated for every parameter vector (the formula is defined everywhere), so peers that
/// cannot handle "outside the domain" compete on equal terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Smile {
    /// Log-moneyness.
    pub k: Vec<f64>,
    /// Observed total variance.
    pub w: Vec<f64>,
}

impl Smile {
    /// 60 points on `k ∈ [−1, 0.8]`, total variance from [`SVI_TRUE`] plus Gaussian noise of
    /// standard deviation `noise`, seeded.
    pub fn noisy(seed: u64, noise: f64) -> Self {
        let mut rng = SplitMix::new(seed);
        let mut g = [0.0; 5];
        let k: Vec<f64> =
            (0..SMILE_POINTS).map(|i| -1.0 + 1.8 * i as f64 / (SMILE_POINTS - 1) as f64).collect();
        let w = k.iter().map(|&ki| svi(&SVI_TRUE, ki, &mut g) + noise * rng.normal()).collect();
        Smile { k, w }
    }
    /// The noisy smile with every fifth quote (20 %) moved up by `jump` (gross outliers, as
    /// from stale or crossed quotes).
    pub fn with_outliers(seed: u64, noise: f64, jump: f64) -> Self {
        let mut s = Smile::noisy(seed, noise);
        for (i, w) in s.w.iter_mut().enumerate() {
            if i % 5 == 2 {
                *w += jump;
            }
        }
        s
    }
}

impl Residuals for Smile {
    fn num_residuals(&self) -> usize {
        self.k.len()
    }
    fn num_params(&self) -> usize {
        5
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let mut g = [0.0; 5];
        match jac {
            Some(j) => {
                for (i, (&k, &w)) in self.k.iter().zip(&self.w).enumerate() {
                    r[i] = svi(x, k, &mut j[5 * i..5 * i + 5]) - w;
                }
            }
            None => {
                for (i, (&k, &w)) in self.k.iter().zip(&self.w).enumerate() {
                    r[i] = svi(x, k, &mut g) - w;
                }
            }
        }
        Some(())
    }
}

/// Huber loss `ρ(s) = s` for `s ≤ c²`, `2c√s − c²` beyond (Huber 1964; Ceres' and scipy's
/// convention, `c` in residual units); returns `[ρ, ρ′]`.
pub fn huber(s: f64, c: f64) -> [f64; 2] {
    if s <= c * c {
        [s, 1.0]
    } else {
        let r = s.sqrt();
        [2.0 * c * r - c * c, c / r]
    }
}

/// Cost `½ Σ ρ(rᵢ²)` of a residual problem under the Huber loss, as a [`LeastSquares`] model
/// for LM: rows `√ρ′·rᵢ` and `√ρ′·∇rᵢ`. (Ceres' corrector with `ρ″ ≤ 0` uses exactly this
/// scaling, so `J̃ᵀr̃ = Σ ρ′ rᵢ ∇rᵢ` is the exact gradient.) An independent cross-check of
/// `volfit_optim`'s `RobustSum` (the benchmark runs both).
#[derive(Clone, Debug)]
pub struct HuberLs<R> {
    /// The residual problem.
    pub inner: R,
    /// Huber scale `c`.
    pub scale: f64,
}

impl<R: Residuals> LeastSquares for HuberLs<R> {
    fn num_rows(&self) -> usize {
        self.inner.num_residuals()
    }
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn cost(&self, x: &[f64], rows: &mut [f64]) -> Option<f64> {
        self.inner.eval(x, rows, None)?;
        Some(0.5 * rows.iter().map(|r| huber(r * r, self.scale)[0]).sum::<f64>())
    }
    fn linearize(&self, x: &[f64], rows: &mut [f64], jac: &mut [f64]) -> Option<f64> {
        self.inner.eval(x, rows, Some(jac))?;
        let n = self.inner.num_params();
        let mut cost = 0.0;
        for (i, r) in rows.iter_mut().enumerate() {
            let [rho, d1] = huber(*r * *r, self.scale);
            cost += 0.5 * rho;
            let w = d1.sqrt();
            *r *= w;
            jac[i * n..(i + 1) * n].iter_mut().for_each(|v| *v *= w);
        }
        Some(cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svi_gradient_matches_central_differences() {
        // Central differences, h = 1e-6: truncation ~1e-12, tolerance 1e-8.
        let mut g = [0.0; 5];
        let mut scratch = [0.0; 5];
        for &k in &[-0.9, 0.0, 0.05, 0.7] {
            svi(&SVI_TRUE, k, &mut g);
            for j in 0..5 {
                let (mut p, mut q) = (SVI_TRUE, SVI_TRUE);
                p[j] += 1e-6;
                q[j] -= 1e-6;
                let fd = (svi(&p, k, &mut scratch) - svi(&q, k, &mut scratch)) / 2e-6;
                assert!((fd - g[j]).abs() < 1e-8, "k {k} param {j}: {fd} vs {}", g[j]);
            }
        }
    }

    #[test]
    fn huber_rows_give_the_exact_gradient() {
        // J̃ᵀr̃ must equal the central-difference gradient of ½Σρ(r²) (h = 1e-7, tol 1e-7).
        let s = Smile::with_outliers(7, 5e-4, 0.02);
        let h = HuberLs { inner: &s, scale: 2e-3 };
        let x = [0.03, 0.1, -0.2, 0.0, 0.3];
        let (mut r, mut j, mut scratch) = (vec![0.0; 60], vec![0.0; 300], vec![0.0; 60]);
        h.linearize(&x, &mut r, &mut j).expect("inside domain");
        for k in 0..5 {
            let g: f64 = (0..60).map(|i| j[i * 5 + k] * r[i]).sum();
            let (mut p, mut q) = (x, x);
            p[k] += 1e-7;
            q[k] -= 1e-7;
            let up = h.cost(&p, &mut scratch).expect("inside domain");
            let down = h.cost(&q, &mut scratch).expect("inside domain");
            let fd = (up - down) / 2e-7;
            assert!((fd - g).abs() < 1e-7 * g.abs().max(1e-3), "param {k}: {fd} vs {g}");
        }
    }
}
