//! L-BFGS-B: limited-memory BFGS with true box bounds, in the spirit of Byrd, Lu, Nocedal
//! & Zhu (1995), "A limited memory algorithm for bound constrained optimization".
//!
//! Each iteration (1) finds the generalised Cauchy point along the projected steepest-descent
//! path of the quadratic model, (2) minimises the model over the variables still free there
//! (direct primal method, truncated to the box), and (3) runs a strong-Wolfe line search
//! along the resulting feasible direction, never past the box. Every iterate lies in the
//! box.
//!
//! The problems this crate targets have few parameters (n ≲ 50), so the BFGS matrix `B` is
//! formed densely from the `m` stored pairs each iteration (`O(m·n²)`) instead of through the
//! compact `W·M·Wᵀ` form; the algorithm is otherwise the original one.

use super::line_search::{strong_wolfe, Wolfe};
use super::{Limits, Minimum, Solver, Stop};
use crate::linalg;
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use std::time::Instant;

/// L-BFGS-B with box bounds (also runs unbounded, then it is a dense-matrix L-BFGS).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsB {
    /// Number of correction pairs kept (5–20 is typical).
    pub memory: usize,
    /// Stopping limits; the gradient test uses the projected gradient's max-norm.
    pub limits: Limits,
    /// Line-search settings.
    pub wolfe: Wolfe,
}

impl Default for LbfgsB {
    fn default() -> Self {
        LbfgsB { memory: 10, limits: Limits::default(), wolfe: Wolfe::default() }
    }
}

impl LbfgsB {
    /// L-BFGS-B with `memory` pairs and the given limits.
    pub fn new(memory: usize, limits: Limits) -> Self {
        LbfgsB { memory, limits, wolfe: Wolfe::default() }
    }
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Max-norm of the projected gradient `P(x − g) − x`.
pub(crate) fn projected_grad_norm(x: &[f64], g: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
    let mut m = 0.0f64;
    for i in 0..x.len() {
        // |P(x − g) − x| without the cancellation of forming x − g.
        let v = if g[i] > 0.0 { g[i].min(x[i] - lo[i]) } else { (-g[i]).min(hi[i] - x[i]) };
        m = m.max(v);
    }
    m
}

/// Iteration state sized once per call.
struct Work {
    n: usize,
    mem: usize,
    x: Vec<f64>,
    g: Vec<f64>,
    xt: Vec<f64>,
    gt: Vec<f64>,
    d: Vec<f64>,
    s: Vec<f64>,
    y: Vec<f64>,
    pairs: usize,
    head: usize,
    b: Vec<f64>,
    chol: Vec<f64>,
    bz: Vec<f64>,
    bd: Vec<f64>,
    z: Vec<f64>,
    dir: Vec<f64>,
    tbreak: Vec<f64>,
    order: Vec<usize>,
    fixed: Vec<bool>,
    free: Vec<usize>,
    rhs: Vec<f64>,
}

impl Work {
    fn new(n: usize, mem: usize) -> Self {
        Work {
            n,
            mem,
            x: vec![0.0; n],
            g: vec![0.0; n],
            xt: vec![0.0; n],
            gt: vec![0.0; n],
            d: vec![0.0; n],
            s: vec![0.0; mem * n],
            y: vec![0.0; mem * n],
            pairs: 0,
            head: 0,
            b: vec![0.0; n * n],
            chol: vec![0.0; n * n],
            bz: vec![0.0; n],
            bd: vec![0.0; n],
            z: vec![0.0; n],
            dir: vec![0.0; n],
            tbreak: vec![0.0; n],
            order: vec![0; n],
            fixed: vec![false; n],
            free: vec![0; n],
            rhs: vec![0.0; n],
        }
    }

    /// Stores the pair `(s, y)` when the curvature condition holds; returns whether it did.
    fn push_pair(&mut self) -> bool {
        let n = self.n;
        let mut sy = 0.0;
        let mut yy = 0.0;
        for i in 0..n {
            let s = self.xt[i] - self.x[i];
            let y = self.gt[i] - self.g[i];
            sy += s * y;
            yy += y * y;
        }
        if self.mem == 0 || sy <= f64::EPSILON * yy || sy <= 0.0 {
            return false;
        }
        let slot = (self.head + self.pairs) % self.mem;
        if self.pairs < self.mem {
            self.pairs += 1;
        } else {
            self.head = (self.head + 1) % self.mem;
        }
        for i in 0..n {
            self.s[slot * n + i] = self.xt[i] - self.x[i];
            self.y[slot * n + i] = self.gt[i] - self.g[i];
        }
        true
    }

    /// Forms `B = θI` updated by the stored pairs (oldest first), θ = yᵀy/sᵀy of the newest.
    fn build_b(&mut self) {
        let n = self.n;
        let theta = if self.pairs == 0 {
            1.0
        } else {
            let k = (self.head + self.pairs - 1) % self.mem;
            let s = &self.s[k * n..(k + 1) * n];
            let y = &self.y[k * n..(k + 1) * n];
            dot(y, y) / dot(s, y)
        };
        self.b.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            self.b[i * n + i] = theta;
        }
        for p in 0..self.pairs {
            let k = (self.head + p) % self.mem;
            let s = &self.s[k * n..(k + 1) * n];
            let y = &self.y[k * n..(k + 1) * n];
            // bz ← B·s
            for i in 0..n {
                self.bz[i] = dot(&self.b[i * n..(i + 1) * n], s);
            }
            let sbs = dot(s, &self.bz);
            let ys = dot(y, s);
            if sbs <= 0.0 || ys <= 0.0 {
                continue;
            }
            for i in 0..n {
                for j in 0..n {
                    self.b[i * n + j] += y[i] * y[j] / ys - self.bz[i] * self.bz[j] / sbs;
                }
            }
        }
    }

    /// Generalised Cauchy point then subspace minimisation; writes the search direction
    /// `d = x̄ − x` into `self.d`.
    fn direction(&mut self, lo: &[f64], hi: &[f64]) {
        let n = self.n;
        // Breakpoints along x(t) = P(x − t·g).
        for i in 0..n {
            let g = self.g[i];
            let t = if g < 0.0 {
                (self.x[i] - hi[i]) / g
            } else if g > 0.0 {
                (self.x[i] - lo[i]) / g
            } else {
                f64::INFINITY
            };
            self.tbreak[i] = if t.is_nan() { f64::INFINITY } else { t.max(0.0) };
            self.dir[i] = if self.tbreak[i] > 0.0 { -g } else { 0.0 };
            self.fixed[i] = self.tbreak[i] <= 0.0;
            self.z[i] = 0.0;
            self.bz[i] = 0.0;
            self.order[i] = i;
        }
        for i in 0..n {
            self.bd[i] = dot(&self.b[i * n..(i + 1) * n], &self.dir);
        }
        let tb = &self.tbreak;
        self.order.sort_unstable_by(|&a, &b| tb[a].total_cmp(&tb[b]));
        let mut fp = dot(&self.g, &self.dir);
        let mut fpp = dot(&self.dir, &self.bd);
        let mut t_old = 0.0;
        let mut done = false;
        for k in 0..n {
            let b = self.order[k];
            let tb = self.tbreak[b];
            if tb <= 0.0 {
                continue;
            }
            if !tb.is_finite() || fp >= 0.0 {
                break;
            }
            let dt = tb - t_old;
            let dt_min = if fpp > 0.0 { -fp / fpp } else { f64::INFINITY };
            if dt_min < dt {
                break;
            }
            // Move to the breakpoint and fix variable b at its bound.
            for i in 0..n {
                self.z[i] += dt * self.dir[i];
                self.bz[i] += dt * self.bd[i];
            }
            t_old = tb;
            let bound = if self.dir[b] > 0.0 { hi[b] } else { lo[b] };
            let old = self.dir[b];
            let dz = (bound - self.x[b]) - self.z[b];
            self.z[b] = bound - self.x[b];
            self.dir[b] = 0.0;
            self.fixed[b] = true;
            for i in 0..n {
                let bib = self.b[i * n + b];
                self.bd[i] -= bib * old;
                self.bz[i] += bib * dz;
            }
            fp = dot(&self.g, &self.dir) + dot(&self.dir, &self.bz);
            fpp = dot(&self.dir, &self.bd);
            if self.dir.iter().all(|&v| v == 0.0) {
                done = true;
                break;
            }
        }
        if !done && fp < 0.0 && fpp > 0.0 {
            let dt = -fp / fpp;
            for i in 0..n {
                self.z[i] += dt * self.dir[i];
                self.bz[i] += dt * self.bd[i];
            }
        }
        // Cauchy point xc = x + z (kept as z), clamped against rounding.
        for i in 0..n {
            let xc = (self.x[i] + self.z[i]).clamp(lo[i], hi[i]);
            self.z[i] = xc - self.x[i];
        }
        // Subspace minimisation over the free variables: B_FF δ = −(g + B z)_F.
        let mut nf = 0;
        for i in 0..n {
            if !self.fixed[i] {
                self.free[nf] = i;
                nf += 1;
            }
        }
        for i in 0..n {
            self.bz[i] = dot(&self.b[i * n..(i + 1) * n], &self.z);
        }
        let mut alpha = 0.0;
        if nf > 0 {
            for a in 0..nf {
                let i = self.free[a];
                self.rhs[a] = -(self.g[i] + self.bz[i]);
                for c in 0..nf {
                    self.chol[a * nf + c] = self.b[i * n + self.free[c]];
                }
            }
            if linalg::cholesky(&mut self.chol, nf) {
                linalg::cholesky_solve(&self.chol, nf, &mut self.rhs[..nf]);
                // Truncate x_c + α·δ to the box (α ≤ 1).
                alpha = 1.0f64;
                for a in 0..nf {
                    let i = self.free[a];
                    let xc = self.x[i] + self.z[i];
                    let dl = self.rhs[a];
                    if dl > 0.0 && hi[i].is_finite() {
                        alpha = alpha.min((hi[i] - xc) / dl);
                    } else if dl < 0.0 && lo[i].is_finite() {
                        alpha = alpha.min((lo[i] - xc) / dl);
                    }
                }
                alpha = alpha.max(0.0);
            }
        }
        self.d.copy_from_slice(&self.z);
        for a in 0..nf {
            let i = self.free[a];
            self.d[i] += alpha * self.rhs[a];
        }
    }
}

/// Largest `α` with `x + α·d` inside the box.
fn max_step(x: &[f64], d: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
    let mut a = f64::INFINITY;
    for i in 0..x.len() {
        if d[i] > 0.0 {
            a = a.min((hi[i] - x[i]) / d[i]);
        } else if d[i] < 0.0 {
            a = a.min((lo[i] - x[i]) / d[i]);
        }
    }
    a.max(0.0)
}

/// The L-BFGS-B iteration (shared with `Lbfgs` when bounds are given).
pub(crate) fn run<P: Objective>(
    problem: &P,
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    settings: &LbfgsB,
    obs: &mut dyn Observer,
) -> Minimum {
    let (memory, limits, wolfe) = (settings.memory, &settings.limits, &settings.wolfe);
    let start = limits.max_time.map(|_| Instant::now());
    let n = problem.num_params();
    let p = Counted::new(problem);
    let mut w = Work::new(n, memory.max(1));
    w.x.copy_from_slice(&x0[..n]);
    for i in 0..n {
        w.x[i] = w.x[i].clamp(lo[i], hi[i]);
    }
    let finish = |w: &Work, f: f64, stop: Stop, iters: u32, p: &Counted<&P>| Minimum {
        x: w.x.clone(),
        cost: f,
        stop,
        iters,
        evals: p.evals(),
    };
    let Some(mut f) = p.value_grad(&w.x, &mut w.g).filter(|f| !f.is_nan()) else {
        return finish(&w, f64::NAN, Stop::Infeasible, 0, &p);
    };
    obs.observe(&Iterate {
        iter: 0,
        cost: f,
        grad_norm: projected_grad_norm(&w.x, &w.g, lo, hi),
        step: 0.0,
        rate: f64::NAN,
    });
    let mut iters = 0u32;
    let mut retried = false;
    loop {
        if projected_grad_norm(&w.x, &w.g, lo, hi) <= limits.grad_tol {
            return finish(&w, f, Stop::GradientTolerance, iters, &p);
        }
        if iters >= limits.max_iters {
            return finish(&w, f, Stop::MaxIters, iters, &p);
        }
        if p.evals().total() >= limits.max_evals {
            return finish(&w, f, Stop::MaxEvals, iters, &p);
        }
        if let (Some(t0), Some(budget)) = (start, limits.max_time) {
            if t0.elapsed() >= budget {
                return finish(&w, f, Stop::TimeBudget, iters, &p);
            }
        }
        w.build_b();
        w.direction(lo, hi);
        let mut slope = dot(&w.g, &w.d);
        if slope.is_nan() || slope >= 0.0 {
            // Not a descent direction (stale memory): restart from projected steepest descent.
            w.pairs = 0;
            w.build_b();
            w.direction(lo, hi);
            slope = dot(&w.g, &w.d);
            if slope.is_nan() || slope >= 0.0 {
                return finish(&w, f, Stop::Stalled, iters, &p);
            }
        }
        let amax = max_step(&w.x, &w.d, lo, hi).min(1e10);
        let a0 = if w.pairs == 0 {
            let dn = dot(&w.d, &w.d).sqrt();
            (1.0 / dn).min(1.0).min(amax)
        } else {
            1.0f64.min(amax)
        };
        let remaining = limits.max_evals.saturating_sub(p.evals().total());
        let ws = Wolfe {
            max_evals: wolfe.max_evals.min(remaining.min(u64::from(u32::MAX)) as u32),
            ..*wolfe
        };
        let (x, d, xt, gt) = (&w.x, &w.d, &mut w.xt, &mut w.gt);
        let step = strong_wolfe(
            |a| {
                for i in 0..n {
                    xt[i] = (x[i] + a * d[i]).clamp(lo[i], hi[i]);
                }
                let v = p.value_grad(xt, gt)?;
                if v.is_nan() {
                    return None;
                }
                Some((v, dot(gt, d)))
            },
            f,
            slope,
            a0,
            amax,
            &ws,
        );
        if step.alpha <= 0.0 || step.value.is_nan() || step.value >= f {
            if w.pairs > 0 && !retried {
                w.pairs = 0;
                retried = true;
                continue;
            }
            return finish(&w, f, Stop::Stalled, iters, &p);
        }
        retried = false;
        if step.last != step.alpha {
            for i in 0..n {
                w.xt[i] = (w.x[i] + step.alpha * w.d[i]).clamp(lo[i], hi[i]);
            }
            match p.value_grad(&w.xt, &mut w.gt) {
                Some(v) if !v.is_nan() => {}
                _ => return finish(&w, f, Stop::Stalled, iters, &p),
            }
        }
        let f_new = step.value;
        iters += 1;
        w.push_pair();
        let mut dx = 0.0;
        let mut xn = 0.0;
        for i in 0..n {
            dx += (w.xt[i] - w.x[i]).powi(2);
            xn += w.xt[i] * w.xt[i];
        }
        let (dx, xn) = (dx.sqrt(), xn.sqrt());
        std::mem::swap(&mut w.x, &mut w.xt);
        std::mem::swap(&mut w.g, &mut w.gt);
        let f_old = f;
        f = f_new;
        obs.observe(&Iterate {
            iter: iters,
            cost: f,
            grad_norm: projected_grad_norm(&w.x, &w.g, lo, hi),
            step: dx,
            rate: step.alpha,
        });
        if (f_old - f) <= limits.cost_tol * f_old.abs().max(f64::MIN_POSITIVE) {
            return finish(&w, f, Stop::CostTolerance, iters, &p);
        }
        if dx <= limits.step_tol * (xn + limits.step_tol) {
            return finish(&w, f, Stop::StepTolerance, iters, &p);
        }
    }
}

impl Solver for LbfgsB {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let n = problem.num_params();
        match bounds {
            Some(b) => run(problem, x0, b.lower(), b.upper(), self, obs),
            None => {
                let b = Bounds::unbounded(n);
                run(problem, x0, b.lower(), b.upper(), self, obs)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::FnObjective;

    #[test]
    fn bounded_quadratic_stops_on_the_face() {
        // f = ½‖x − (2, −3, 0.5)‖², box [0,1]³: closed-form optimum (1, 0, 0.5).
        let c = [2.0, -3.0, 0.5];
        let f = FnObjective::new(3, |x: &[f64], g: &mut [f64]| {
            let mut v = 0.0;
            for i in 0..3 {
                g[i] = x[i] - c[i];
                v += 0.5 * g[i] * g[i];
            }
            Some(v)
        });
        let b = Bounds::new(vec![0.0; 3], vec![1.0; 3]).expect("valid box");
        let m = LbfgsB::default().minimize_bounded(&f, &[0.5, 0.5, 0.9], Some(&b), &mut ());
        for (v, e) in m.x.iter().zip([1.0, 0.0, 0.5]) {
            assert!((v - e).abs() < 1e-9, "{:?}", m);
        }
        assert!(m.stop.converged());
    }
}
