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
use crate::solver::{Limits, Minimum, Solver, Status, Stop};
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

/// The strategy parameters of one run with `λ` offspring in `n` dimensions (Hansen's Table 1).
struct Params {
    n: usize,
    lambda: usize,
    mu: usize,
    /// Positive recombination weights (sum 1).
    w: Vec<f64>,
    mueff: f64,
    cc: f64,
    cs: f64,
    c1: f64,
    cmu: f64,
    damps: f64,
    /// `E‖N(0, I)‖`.
    chi_n: f64,
    /// Generations between eigendecompositions of `C`.
    eigen_every: u32,
    /// Generations in the TolFun history.
    hist_len: usize,
}

impl Params {
    fn new(n: usize, lambda: usize) -> Self {
        let nf = n as f64;
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
        Params { n, lambda, mu, w, mueff, cc, cs, c1, cmu, damps, chi_n, eigen_every, hist_len }
    }
}

/// The state of one run: the distribution `N(m, σ²C)` with `C = B·D²·Bᵀ`, the evolution
/// paths, the current offspring and the best-cost history. Sized once per run.
struct Run {
    m: Vec<f64>,
    m_old: Vec<f64>,
    sigma: f64,
    c: Vec<f64>,
    b: Vec<f64>,
    d: Vec<f64>,
    scratch: Vec<f64>,
    ps: Vec<f64>,
    pc: Vec<f64>,
    z: Vec<f64>,
    yw: Vec<f64>,
    tmp: Vec<f64>,
    /// Offspring steps `y_k` and points `x_k` (row-major), their costs and their order.
    ys: Vec<f64>,
    xs: Vec<f64>,
    fs: Vec<f64>,
    order: Vec<usize>,
    hist: Vec<f64>,
    /// Generations of this run.
    g_run: u32,
}

impl Run {
    fn new(prm: &Params, mean0: &[f64], sigma0: f64) -> Self {
        let (n, lambda) = (prm.n, prm.lambda);
        let mut c = vec![0.0; n * n];
        let mut b = vec![0.0; n * n];
        for i in 0..n {
            c[i * n + i] = 1.0;
            b[i * n + i] = 1.0;
        }
        Run {
            m: mean0.to_vec(),
            m_old: vec![0.0; n],
            sigma: sigma0,
            c,
            b,
            d: vec![1.0; n],
            scratch: vec![0.0; n * n],
            ps: vec![0.0; n],
            pc: vec![0.0; n],
            z: vec![0.0; n],
            yw: vec![0.0; n],
            tmp: vec![0.0; n],
            ys: vec![0.0; lambda * n],
            xs: vec![0.0; lambda * n],
            fs: vec![0.0; lambda],
            order: (0..lambda).collect(),
            hist: vec![f64::NAN; prm.hist_len],
            g_run: 0,
        }
    }

    /// Draws and evaluates the `λ` offspring (out-of-box samples redrawn up to `resample`
    /// times, then projected), records the best point in `best` and sorts them by cost.
    fn sample<P: Objective>(
        &mut self,
        prm: &Params,
        ctx: &mut Ctx<'_, P>,
        resample: u32,
        best: &mut Best,
    ) {
        let n = prm.n;
        let (b, d, m, sigma) = (&self.b, &self.d, &self.m, self.sigma);
        for k in 0..prm.lambda {
            let x = &mut self.xs[k * n..(k + 1) * n];
            let y = &mut self.ys[k * n..(k + 1) * n];
            let mut tries = 0;
            loop {
                for zi in self.z.iter_mut() {
                    *zi = ctx.rng.sample(StandardNormal);
                }
                for i in 0..n {
                    y[i] = (0..n).map(|j| b[i * n + j] * d[j] * self.z[j]).sum();
                    x[i] = m[i] + sigma * y[i];
                }
                match ctx.bounds {
                    Some(bd) if !bd.contains(x) => {
                        tries += 1;
                        if tries > resample {
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
            self.fs[k] = match ctx.p.value(x) {
                Some(v) if !v.is_nan() => v,
                _ => f64::INFINITY,
            };
            if self.fs[k] < best.f {
                best.f = self.fs[k];
                best.x.copy_from_slice(x);
            }
        }
        let fs = &self.fs;
        self.order.sort_unstable_by(|&a, &bb| fs[a].total_cmp(&fs[bb]).then(a.cmp(&bb)));
    }

    /// Moves the mean to the weighted best `μ` offspring, updates the evolution paths, `C`
    /// and `σ`, and re-decomposes `C` when due.
    fn update(&mut self, prm: &Params, bounds: Option<&Bounds>) {
        let (n, nf, w) = (prm.n, prm.n as f64, &prm.w);
        let (cs, cc, c1, cmu, mueff) = (prm.cs, prm.cc, prm.c1, prm.cmu, prm.mueff);
        let (b, ys, order) = (&self.b, &self.ys, &self.order);
        // Recombination: m ← m + σ·y_w.
        self.m_old.copy_from_slice(&self.m);
        self.yw.iter_mut().for_each(|v| *v = 0.0);
        for (wi, &k) in w.iter().zip(&order[..prm.mu]) {
            for j in 0..n {
                self.yw[j] += wi * ys[k * n + j];
            }
        }
        for j in 0..n {
            self.m[j] += self.sigma * self.yw[j];
        }
        if let Some(bd) = bounds {
            bd.project(&mut self.m);
        }
        // C^{-1/2}·y_w = B·D⁻¹·Bᵀ·y_w.
        for j in 0..n {
            self.tmp[j] = (0..n).map(|i| b[i * n + j] * self.yw[i]).sum::<f64>() / self.d[j];
        }
        let ks = (cs * (2.0 - cs) * mueff).sqrt();
        for i in 0..n {
            let v: f64 = (0..n).map(|j| b[i * n + j] * self.tmp[j]).sum();
            self.ps[i] = (1.0 - cs) * self.ps[i] + ks * v;
        }
        self.g_run += 1;
        let ps_norm = norm2(&self.ps);
        let hs_den = (1.0 - (1.0 - cs).powi(2 * self.g_run as i32)).sqrt();
        let hsig = ps_norm / hs_den / prm.chi_n < 1.4 + 2.0 / (nf + 1.0);
        let kc = (cc * (2.0 - cc) * mueff).sqrt();
        for i in 0..n {
            self.pc[i] = (1.0 - cc) * self.pc[i] + if hsig { kc * self.yw[i] } else { 0.0 };
        }
        let dh = if hsig { 0.0 } else { cc * (2.0 - cc) };
        let keep = 1.0 - c1 - cmu + c1 * dh;
        let (c, pc) = (&mut self.c, &self.pc);
        for i in 0..n {
            for j in 0..=i {
                let mut r = 0.0;
                for (wi, &k) in w.iter().zip(&order[..prm.mu]) {
                    r += wi * ys[k * n + i] * ys[k * n + j];
                }
                let v = keep * c[i * n + j] + c1 * pc[i] * pc[j] + cmu * r;
                c[i * n + j] = v;
                c[j * n + i] = v;
            }
        }
        self.sigma *= ((cs / prm.damps) * (ps_norm / prm.chi_n - 1.0)).exp();
        if self.g_run.is_multiple_of(prm.eigen_every) {
            self.scratch.copy_from_slice(&self.c);
            symmetric_eigen(&mut self.scratch, n, &mut self.d, &mut self.b);
            for v in self.d.iter_mut() {
                *v = v.max(1e-300).sqrt();
            }
        }
    }

    /// The tutorial's per-run termination: TolFun over the history and the generation,
    /// TolX, and ConditionCov (or a degenerate `σ`).
    fn terminated(&self, prm: &Params, tol_fun: f64, tol_x: f64) -> Option<Stop> {
        let n = prm.n;
        let f_gen = self.fs[self.order[0]];
        let (hmin, hmax) = self
            .hist
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, bb), &v| (a.min(v), bb.max(v)));
        let gen_range = self.fs[self.order[prm.lambda - 1]] - f_gen;
        if self.g_run as usize >= prm.hist_len && hmax - hmin <= tol_fun && gen_range <= tol_fun {
            return Some(Stop::CostTolerance);
        }
        let max_sd = (0..n).map(|i| self.c[i * n + i]).fold(0.0, f64::max).sqrt();
        if self.sigma * max_sd <= tol_x {
            return Some(Stop::StepTolerance);
        }
        let (dmin, dmax) =
            self.d.iter().fold((f64::INFINITY, 0.0_f64), |(a, bb), &v| (a.min(v), bb.max(v)));
        if dmax > 1e7 * dmin || !self.sigma.is_finite() || self.sigma <= 0.0 {
            return Some(Stop::Stalled);
        }
        None
    }
}

impl CmaEs {
    /// One run from `mean0` with `λ = lambda` until it converges, stalls or a budget ends.
    fn run<P: Objective>(
        &self,
        ctx: &mut Ctx<'_, P>,
        mean0: &[f64],
        sigma0: f64,
        lambda: usize,
        best: &mut Best,
    ) -> RunEnd {
        let prm = Params::new(mean0.len(), lambda);
        let mut run = Run::new(&prm, mean0, sigma0);
        loop {
            let budget = Status::budget(ctx.gen, ctx.p.evals().total(), Some(ctx.start));
            if let Some(stop) = self.limits.check(&budget) {
                return RunEnd::Budget(stop);
            }
            run.sample(&prm, ctx, self.resample, best);
            run.update(&prm, ctx.bounds);
            ctx.gen += 1;
            let f_gen = run.fs[run.order[0]];
            run.hist[run.g_run as usize % prm.hist_len] = f_gen;
            ctx.obs.observe(&Iterate {
                iter: ctx.gen,
                cost: best.f,
                grad_norm: f64::NAN,
                step: dist(&run.m, &run.m_old),
                rate: run.sigma,
            });
            if let Some(stop) = run.terminated(&prm, self.tol_fun, self.tol_x) {
                return RunEnd::Local(stop);
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
