//! L-BFGS (Nocedal 1980; Liu & Nocedal 1989): two-loop recursion over the last `m`
//! correction pairs with the initial scaling `γ = sᵀy/yᵀy` and a strong-Wolfe line search.
//! Given bounds, it runs the L-BFGS-B iteration ([`LbfgsB`]) so
//! every iterate stays in the box.

use super::lbfgsb::{self, dot, LbfgsB};
use super::line_search::{strong_wolfe, Wolfe};
use super::{Limits, Minimum, Solver, Stop};
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use std::time::Instant;

/// Limited-memory BFGS with a strong-Wolfe line search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lbfgs {
    /// Number of correction pairs kept (5–20 is typical).
    pub memory: usize,
    /// Stopping limits (the gradient test uses the max-norm).
    pub limits: Limits,
    /// Line-search settings.
    pub wolfe: Wolfe,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs { memory: 10, limits: Limits::default(), wolfe: Wolfe::default() }
    }
}

impl Lbfgs {
    /// L-BFGS with `memory` pairs and the given limits.
    pub fn new(memory: usize, limits: Limits) -> Self {
        Lbfgs { memory, limits, wolfe: Wolfe::default() }
    }
}

fn max_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Iteration state sized once per call.
struct Work {
    x: Vec<f64>,
    g: Vec<f64>,
    xt: Vec<f64>,
    gt: Vec<f64>,
    d: Vec<f64>,
    s: Vec<f64>,
    y: Vec<f64>,
    rho: Vec<f64>,
    alpha: Vec<f64>,
    pairs: usize,
    head: usize,
}

impl Work {
    /// `d = −H·g` by the two-loop recursion.
    fn direction(&mut self, n: usize, mem: usize) {
        for i in 0..n {
            self.d[i] = -self.g[i];
        }
        for p in (0..self.pairs).rev() {
            let k = (self.head + p) % mem;
            let a = self.rho[k] * dot(&self.s[k * n..(k + 1) * n], &self.d);
            self.alpha[k] = a;
            for i in 0..n {
                self.d[i] -= a * self.y[k * n + i];
            }
        }
        if self.pairs > 0 {
            let k = (self.head + self.pairs - 1) % mem;
            let y = &self.y[k * n..(k + 1) * n];
            let gamma = 1.0 / (self.rho[k] * dot(y, y));
            self.d.iter_mut().for_each(|v| *v *= gamma);
        }
        for p in 0..self.pairs {
            let k = (self.head + p) % mem;
            let b = self.rho[k] * dot(&self.y[k * n..(k + 1) * n], &self.d);
            let c = self.alpha[k] - b;
            for i in 0..n {
                self.d[i] += c * self.s[k * n + i];
            }
        }
    }

    fn push_pair(&mut self, n: usize, mem: usize) {
        let mut sy = 0.0;
        let mut yy = 0.0;
        for i in 0..n {
            let s = self.xt[i] - self.x[i];
            let y = self.gt[i] - self.g[i];
            sy += s * y;
            yy += y * y;
        }
        if sy <= f64::EPSILON * yy || sy <= 0.0 {
            return;
        }
        let slot = (self.head + self.pairs) % mem;
        if self.pairs < mem {
            self.pairs += 1;
        } else {
            self.head = (self.head + 1) % mem;
        }
        for i in 0..n {
            self.s[slot * n + i] = self.xt[i] - self.x[i];
            self.y[slot * n + i] = self.gt[i] - self.g[i];
        }
        self.rho[slot] = 1.0 / sy;
    }
}

impl Solver for Lbfgs {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        if let Some(b) = bounds {
            return lbfgsb::run(
                problem,
                x0,
                b.lower(),
                b.upper(),
                &LbfgsB { memory: self.memory, limits: self.limits, wolfe: self.wolfe },
                obs,
            );
        }
        let limits = &self.limits;
        let start = limits.max_time.map(|_| Instant::now());
        let n = problem.num_params();
        let mem = self.memory.max(1);
        let p = Counted::new(problem);
        let mut w = Work {
            x: x0[..n].to_vec(),
            g: vec![0.0; n],
            xt: vec![0.0; n],
            gt: vec![0.0; n],
            d: vec![0.0; n],
            s: vec![0.0; mem * n],
            y: vec![0.0; mem * n],
            rho: vec![0.0; mem],
            alpha: vec![0.0; mem],
            pairs: 0,
            head: 0,
        };
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
            grad_norm: dot(&w.g, &w.g).sqrt(),
            step: 0.0,
            rate: f64::NAN,
        });
        let mut iters = 0u32;
        let mut retried = false;
        loop {
            if max_norm(&w.g) <= limits.grad_tol {
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
            w.direction(n, mem);
            let mut slope = dot(&w.g, &w.d);
            if slope.is_nan() || slope >= 0.0 {
                w.pairs = 0;
                w.direction(n, mem);
                slope = dot(&w.g, &w.d);
            }
            let a0 = if w.pairs == 0 { (1.0 / dot(&w.d, &w.d).sqrt()).min(1.0) } else { 1.0 };
            let remaining = limits.max_evals.saturating_sub(p.evals().total());
            let ws = Wolfe {
                max_evals: self.wolfe.max_evals.min(remaining.min(u64::from(u32::MAX)) as u32),
                ..self.wolfe
            };
            let (x, d, xt, gt) = (&w.x, &w.d, &mut w.xt, &mut w.gt);
            let step = strong_wolfe(
                |a| {
                    for i in 0..n {
                        xt[i] = x[i] + a * d[i];
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
                f64::INFINITY,
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
                    w.xt[i] = w.x[i] + step.alpha * w.d[i];
                }
                match p.value_grad(&w.xt, &mut w.gt) {
                    Some(v) if !v.is_nan() => {}
                    _ => return finish(&w, f, Stop::Stalled, iters, &p),
                }
            }
            iters += 1;
            w.push_pair(n, mem);
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
            f = step.value;
            obs.observe(&Iterate {
                iter: iters,
                cost: f,
                grad_norm: dot(&w.g, &w.g).sqrt(),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::FnObjective;

    #[test]
    fn rosenbrock_from_classic_start() {
        // Rosenbrock (1960): f = (1 − x)² + 100(y − x²)², minimum 0 at (1, 1); start (−1.2, 1).
        let f = FnObjective::new(2, |x: &[f64], g: &mut [f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            g[0] = -2.0 * a - 400.0 * x[0] * b;
            g[1] = 200.0 * b;
            Some(a * a + 100.0 * b * b)
        });
        let m = Lbfgs::default().minimize(&f, &[-1.2, 1.0], &mut ());
        assert!((m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8, "{m:?}");
    }
}
