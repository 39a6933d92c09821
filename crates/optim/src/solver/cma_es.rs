//! `(μ/μ_w, λ)`-CMA-ES with the default parameters of Hansen's tutorial ("The CMA Evolution
//! Strategy: A Tutorial", arXiv:1604.00772, 2016, Table 1), positive recombination weights
//! only (no active covariance update), and IPOP restarts (Auger & Hansen 2005): after a
//! run converges or stalls, restart from a uniform point of the search box with the
//! population doubled; the best point of all runs is returned.
//!
//! Sampling: `x_k = m + σ·B·D·z_k`, `z_k ~ N(0, I)`; `C = B·D²·Bᵀ` is re-decomposed with
//! [`symmetric_eigen`] every `max(1, ⌊1/(10n(c₁ + c_μ))⌋)` generations. Bounds: a sample
//! outside the box is redrawn up to `resample` times and then projected (its step `y` is
//! recomputed from the projected point, so the update stays consistent). Without finite
//! bounds the initial step is `init_radius`; with them, `0.3 ×` the mean box width. All
//! randomness comes from a ChaCha8 generator seeded with `seed`.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::multi_start::search_box;
use super::schedule::{dist, norm2};
use crate::linalg::symmetric_eigen;
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use crate::solver::{Limits, Minimum, Solver, Stop};
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::time::Instant;

/// CMA-ES settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CmaEs {
    /// Initial step size `σ₀`; `None` for `0.3 ×` the mean width of the search box.
    pub sigma0: Option<f64>,
    /// Offspring per generation `λ` of the first run; `None` for `4 + ⌊3 ln n⌋`.
    pub population: Option<usize>,
    /// IPOP restarts (each doubles `λ`); 0 for a single run.
    pub restarts: u32,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Half-width of the search box around `x0` along coordinates without finite bounds.
    pub init_radius: f64,
    /// A run ends when the best costs of the recent generations (and of the current
    /// one) span less than this.
    pub tol_fun: f64,
    /// A run ends when `σ·max_i √C_ii` falls below this.
    pub tol_x: f64,
    /// Redraws of an out-of-box sample before it is projected.
    pub resample: u32,
    /// Budgets over all runs (`max_iters` counts generations); the tolerances of
    /// `Limits` are unused.
    pub limits: Limits,
}

impl Default for CmaEs {
    fn default() -> Self {
        CmaEs {
            sigma0: None,
            population: None,
            restarts: 0,
            seed: 0,
            init_radius: 1.0,
            tol_fun: 1e-12,
            tol_x: 1e-12,
            resample: 10,
            limits: Limits { max_iters: 10_000, max_evals: 1_000_000, ..Limits::default() },
        }
    }
}

/// How one run ended.
enum RunEnd {
    /// Converged or stuck: a restart may follow.
    Local(Stop),
    /// A budget ran out: stop everything.
    Budget(Stop),
}

struct Best {
    x: Vec<f64>,
    f: f64,
}

struct Ctx<'a, P> {
    p: &'a Counted<P>,
    bounds: Option<&'a Bounds>,
    obs: &'a mut dyn Observer,
    rng: ChaCha8Rng,
    start: Instant,
    gen: u32,
}

impl CmaEs {
    #[allow(clippy::too_many_lines)]
    fn run<P: Objective>(
        &self,
        ctx: &mut Ctx<'_, P>,
        mean0: &[f64],
        sigma0: f64,
        lambda: usize,
        best: &mut Best,
    ) -> RunEnd {
        let n = mean0.len();
        let nf = n as f64;
        let lim = &self.limits;
        let mu = lambda / 2;
        let mut w: Vec<f64> =
            (0..mu).map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - ((i + 1) as f64).ln()).collect();
        let ws: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= ws);
        let mueff = 1.0 / w.iter().map(|v| v * v).sum::<f64>();
        let cc = (4.0 + mueff / nf) / (nf + 4.0 + 2.0 * mueff / nf);
        let cs = (mueff + 2.0) / (nf + mueff + 5.0);
        let c1 = 2.0 / ((nf + 1.3).powi(2) + mueff);
        let cmu = (1.0 - c1).min(2.0 * (mueff - 2.0 + 1.0 / mueff) / ((nf + 2.0).powi(2) + mueff));
        let damps = 1.0 + 2.0 * (((mueff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + cs;
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let eigen_every = ((1.0 / (10.0 * nf * (c1 + cmu))).floor() as u32).max(1);
        let hist_len = 10 + (30.0 * nf / lambda as f64).ceil() as usize;

        let mut m = mean0.to_vec();
        let mut m_old = vec![0.0; n];
        let mut sigma = sigma0;
        let mut c = vec![0.0; n * n];
        let mut b = vec![0.0; n * n];
        let mut d = vec![1.0; n];
        for i in 0..n {
            c[i * n + i] = 1.0;
            b[i * n + i] = 1.0;
        }
        let mut scratch = vec![0.0; n * n];
        let mut ps = vec![0.0; n];
        let mut pc = vec![0.0; n];
        let mut z = vec![0.0; n];
        let mut yw = vec![0.0; n];
        let mut tmp = vec![0.0; n];
        let mut ys = vec![0.0; lambda * n];
        let mut xs = vec![0.0; lambda * n];
        let mut fs = vec![0.0; lambda];
        let mut order: Vec<usize> = (0..lambda).collect();
        let mut hist = vec![f64::NAN; hist_len];
        let mut g_run = 0u32;
        loop {
            if ctx.gen >= lim.max_iters {
                return RunEnd::Budget(Stop::MaxIters);
            }
            if ctx.p.evals().total() >= lim.max_evals {
                return RunEnd::Budget(Stop::MaxEvals);
            }
            if lim.max_time.is_some_and(|t| ctx.start.elapsed() >= t) {
                return RunEnd::Budget(Stop::TimeBudget);
            }
            for k in 0..lambda {
                let x = &mut xs[k * n..(k + 1) * n];
                let y = &mut ys[k * n..(k + 1) * n];
                let mut tries = 0;
                loop {
                    for zi in z.iter_mut() {
                        *zi = ctx.rng.sample(StandardNormal);
                    }
                    for i in 0..n {
                        y[i] = (0..n).map(|j| b[i * n + j] * d[j] * z[j]).sum();
                        x[i] = m[i] + sigma * y[i];
                    }
                    match ctx.bounds {
                        Some(bd) if !bd.contains(x) => {
                            tries += 1;
                            if tries > self.resample {
                                bd.project(x);
                                for i in 0..n {
                                    y[i] = (x[i] - m[i]) / sigma;
                                }
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                fs[k] = match ctx.p.value(x) {
                    Some(v) if !v.is_nan() => v,
                    _ => f64::INFINITY,
                };
                if fs[k] < best.f {
                    best.f = fs[k];
                    best.x.copy_from_slice(x);
                }
            }
            order.sort_unstable_by(|&a, &bb| fs[a].total_cmp(&fs[bb]).then(a.cmp(&bb)));
            // Recombination: m ← m + σ·y_w.
            m_old.copy_from_slice(&m);
            yw.iter_mut().for_each(|v| *v = 0.0);
            for (wi, &k) in w.iter().zip(&order[..mu]) {
                for j in 0..n {
                    yw[j] += wi * ys[k * n + j];
                }
            }
            for j in 0..n {
                m[j] += sigma * yw[j];
            }
            if let Some(bd) = ctx.bounds {
                bd.project(&mut m);
            }
            // C^{-1/2}·y_w = B·D⁻¹·Bᵀ·y_w.
            for j in 0..n {
                tmp[j] = (0..n).map(|i| b[i * n + j] * yw[i]).sum::<f64>() / d[j];
            }
            let ks = (cs * (2.0 - cs) * mueff).sqrt();
            for i in 0..n {
                let v: f64 = (0..n).map(|j| b[i * n + j] * tmp[j]).sum();
                ps[i] = (1.0 - cs) * ps[i] + ks * v;
            }
            g_run += 1;
            let ps_norm = norm2(&ps);
            let hs_den = (1.0 - (1.0 - cs).powi(2 * g_run as i32)).sqrt();
            let hsig = ps_norm / hs_den / chi_n < 1.4 + 2.0 / (nf + 1.0);
            let kc = (cc * (2.0 - cc) * mueff).sqrt();
            for i in 0..n {
                pc[i] = (1.0 - cc) * pc[i] + if hsig { kc * yw[i] } else { 0.0 };
            }
            let dh = if hsig { 0.0 } else { cc * (2.0 - cc) };
            let keep = 1.0 - c1 - cmu + c1 * dh;
            for i in 0..n {
                for j in 0..=i {
                    let mut r = 0.0;
                    for (wi, &k) in w.iter().zip(&order[..mu]) {
                        r += wi * ys[k * n + i] * ys[k * n + j];
                    }
                    let v = keep * c[i * n + j] + c1 * pc[i] * pc[j] + cmu * r;
                    c[i * n + j] = v;
                    c[j * n + i] = v;
                }
            }
            sigma *= ((cs / damps) * (ps_norm / chi_n - 1.0)).exp();
            if g_run.is_multiple_of(eigen_every) {
                scratch.copy_from_slice(&c);
                symmetric_eigen(&mut scratch, n, &mut d, &mut b);
                for v in d.iter_mut() {
                    *v = v.max(1e-300).sqrt();
                }
            }
            ctx.gen += 1;
            let f_gen = fs[order[0]];
            hist[g_run as usize % hist_len] = f_gen;
            ctx.obs.observe(&Iterate {
                iter: ctx.gen,
                cost: best.f,
                grad_norm: f64::NAN,
                step: dist(&m, &m_old),
                rate: sigma,
            });
            // Per-run termination (tutorial's TolFun, TolX, ConditionCov).
            let (hmin, hmax) = hist
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, bb), &v| (a.min(v), bb.max(v)));
            let gen_range = fs[order[lambda - 1]] - f_gen;
            if g_run as usize >= hist_len
                && hmax - hmin <= self.tol_fun
                && gen_range <= self.tol_fun
            {
                return RunEnd::Local(Stop::CostTolerance);
            }
            let max_sd = (0..n).map(|i| c[i * n + i]).fold(0.0, f64::max).sqrt();
            if sigma * max_sd <= self.tol_x {
                return RunEnd::Local(Stop::StepTolerance);
            }
            let (dmin, dmax) =
                d.iter().fold((f64::INFINITY, 0.0_f64), |(a, bb), &v| (a.min(v), bb.max(v)));
            if dmax > 1e7 * dmin || !sigma.is_finite() || sigma <= 0.0 {
                return RunEnd::Local(Stop::Stalled);
            }
        }
    }
}

impl Solver for CmaEs {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let p = Counted::new(problem);
        let n = x0.len();
        let (lo, hi) = search_box(x0, bounds, self.init_radius);
        let mut mean: Vec<f64> =
            x0.iter().zip(lo.iter().zip(&hi)).map(|(&v, (&l, &u))| v.clamp(l, u)).collect();
        if let Some(bd) = bounds {
            bd.project(&mut mean);
        }
        let f0 = match p.value(&mean) {
            Some(v) if !v.is_nan() => v,
            _ => f64::INFINITY,
        };
        let mut best = Best { x: mean.clone(), f: f0 };
        if n == 0 {
            return Minimum {
                x: mean,
                cost: f0,
                stop: Stop::GradientTolerance,
                iters: 0,
                evals: p.evals(),
            };
        }
        obs.observe(&Iterate { iter: 0, cost: f0, grad_norm: f64::NAN, step: 0.0, rate: f64::NAN });
        let width = lo.iter().zip(&hi).map(|(l, u)| u - l).sum::<f64>() / n as f64;
        let sigma0 = self.sigma0.unwrap_or(if width.is_finite() && width > 0.0 {
            0.3 * width
        } else {
            self.init_radius
        });
        let lambda0 =
            self.population.unwrap_or(4 + (3.0 * (n as f64).ln()).floor() as usize).max(4);
        let mut ctx = Ctx {
            p: &p,
            bounds,
            obs,
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            start: Instant::now(),
            gen: 0,
        };
        let mut stop = Stop::MaxIters;
        for r in 0..=self.restarts {
            let lambda = lambda0.saturating_mul(1usize << r.min(20));
            // IPOP restarts from a uniform point of the box (the first run from x0).
            if r > 0 {
                for j in 0..n {
                    mean[j] = lo[j] + (hi[j] - lo[j]) * ctx.rng.random::<f64>();
                }
            }
            match self.run(&mut ctx, &mean, sigma0, lambda, &mut best) {
                RunEnd::Budget(s) => {
                    stop = s;
                    break;
                }
                RunEnd::Local(s) => stop = s,
            }
        }
        let gens = ctx.gen;
        if !best.f.is_finite() {
            return Minimum {
                x: best.x,
                cost: f64::NAN,
                stop: Stop::Infeasible,
                iters: gens,
                evals: p.evals(),
            };
        }
        Minimum { x: best.x, cost: best.f, stop, iters: gens, evals: p.evals() }
    }
}
