//! The outer loop shared by L-BFGS and L-BFGS-B: test the limits, ask the method for a search
//! direction from the stored correction pairs, run a strong-Wolfe line search along it (never
//! past the box), store the new pair, report the iterate, test the tolerances.
//!
//! The methods differ only in how they turn the pairs into a direction ([`Direction`]): the
//! two-loop recursion ([`Lbfgs`](crate::Lbfgs)) or the generalised Cauchy point and subspace
//! minimisation ([`LbfgsB`](crate::LbfgsB)). With a box, trial points are projected onto it and the
//! gradient tests use the projected gradient.

use super::line_search::{strong_wolfe, Step, Wolfe};
use super::{projected_grad_norm, Decrease, Limits, Minimum, Status, Stop};
use crate::observe::{Iterate, Observer};
use crate::problem::{Counted, Objective};
use std::time::Instant;

/// `Σ aᵢbᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The last `mem` correction pairs `sₖ = xₖ₊₁ − xₖ`, `yₖ = gₖ₊₁ − gₖ` (a ring, oldest first),
/// with `ρₖ = 1/sₖᵀyₖ`.
pub(crate) struct Pairs {
    n: usize,
    mem: usize,
    s: Vec<f64>,
    y: Vec<f64>,
    rho: Vec<f64>,
    len: usize,
    head: usize,
}

impl Pairs {
    /// Room for `mem ≥ 1` pairs in `n` parameters.
    fn new(n: usize, mem: usize) -> Self {
        Pairs {
            n,
            mem,
            s: vec![0.0; mem * n],
            y: vec![0.0; mem * n],
            rho: vec![0.0; mem],
            len: 0,
            head: 0,
        }
    }

    /// Number of stored pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The ring slot of the `p`-th oldest pair.
    pub fn slot(&self, p: usize) -> usize {
        (self.head + p) % self.mem
    }

    /// `s` of the pair in `slot`.
    pub fn s(&self, slot: usize) -> &[f64] {
        &self.s[slot * self.n..(slot + 1) * self.n]
    }

    /// `y` of the pair in `slot`.
    pub fn y(&self, slot: usize) -> &[f64] {
        &self.y[slot * self.n..(slot + 1) * self.n]
    }

    /// `ρ = 1/sᵀy` of the pair in `slot`.
    pub fn rho(&self, slot: usize) -> f64 {
        self.rho[slot]
    }

    /// Forgets every pair (restart from steepest descent).
    fn clear(&mut self) {
        self.len = 0;
    }

    /// Stores the pair of the step `x → xt` (gradients `g → gt`) when the curvature condition
    /// `sᵀy > ε·yᵀy` holds, dropping the oldest pair when full.
    fn push(&mut self, x: &[f64], xt: &[f64], g: &[f64], gt: &[f64]) {
        let n = self.n;
        let mut sy = 0.0;
        let mut yy = 0.0;
        for i in 0..n {
            let s = xt[i] - x[i];
            let y = gt[i] - g[i];
            sy += s * y;
            yy += y * y;
        }
        if sy <= f64::EPSILON * yy || sy <= 0.0 {
            return;
        }
        let slot = self.slot(self.len);
        if self.len < self.mem {
            self.len += 1;
        } else {
            self.head = (self.head + 1) % self.mem;
        }
        for i in 0..n {
            self.s[slot * n + i] = xt[i] - x[i];
            self.y[slot * n + i] = gt[i] - g[i];
        }
        self.rho[slot] = 1.0 / sy;
    }
}

/// How a quasi-Newton method turns the stored pairs into a search direction.
pub(crate) trait Direction {
    /// Writes the search direction at `x` (gradient `g`) into `d`.
    fn direction(&mut self, pairs: &Pairs, x: &[f64], g: &[f64], d: &mut [f64]);
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

/// `out = x + α·d`, projected onto the box when there is one.
fn along(out: &mut [f64], x: &[f64], d: &[f64], a: f64, bounds: Option<(&[f64], &[f64])>) {
    match bounds {
        None => {
            for i in 0..out.len() {
                out[i] = x[i] + a * d[i];
            }
        }
        Some((lo, hi)) => {
            for i in 0..out.len() {
                out[i] = (x[i] + a * d[i]).clamp(lo[i], hi[i]);
            }
        }
    }
}

/// The iterate, the trial point and the direction, sized once per call.
struct Point {
    x: Vec<f64>,
    g: Vec<f64>,
    xt: Vec<f64>,
    gt: Vec<f64>,
    d: Vec<f64>,
}

impl Point {
    /// The gradient's norm for the gradient test: max-norm, of the projected gradient in a box.
    fn grad_test_norm(&self, bounds: Option<(&[f64], &[f64])>) -> f64 {
        match bounds {
            None => self.g.iter().fold(0.0f64, |m, x| m.max(x.abs())),
            Some((lo, hi)) => projected_grad_norm(&self.x, &self.g, lo, hi),
        }
    }

    /// The gradient's norm reported to the observer: Euclidean, or the projected gradient's
    /// max-norm in a box.
    fn reported_grad_norm(&self, bounds: Option<(&[f64], &[f64])>) -> f64 {
        match bounds {
            None => dot(&self.g, &self.g).sqrt(),
            Some((lo, hi)) => projected_grad_norm(&self.x, &self.g, lo, hi),
        }
    }
}

impl Point {
    /// The strong-Wolfe search from `x` along `d` (`slope = gᵀd`, cost `f`), never past the
    /// box, within the evaluations left; `fresh`: no stored pairs, so the first trial step is
    /// scaled to length 1. The trial point and its gradient are left in `xt`, `gt`.
    fn search<P: Objective>(
        &mut self,
        p: &Counted<&P>,
        f: f64,
        slope: f64,
        fresh: bool,
        settings: &Settings<'_>,
    ) -> Step {
        let bounds = settings.bounds;
        let amax = match bounds {
            Some((lo, hi)) => max_step(&self.x, &self.d, lo, hi).min(1e10),
            None => f64::INFINITY,
        };
        let a0 = if fresh {
            (1.0 / dot(&self.d, &self.d).sqrt()).min(1.0).min(amax)
        } else {
            1.0f64.min(amax)
        };
        let remaining = settings.limits.max_evals.saturating_sub(p.evals().total());
        let wolfe = Wolfe {
            max_evals: settings.wolfe.max_evals.min(remaining.min(u64::from(u32::MAX)) as u32),
            ..*settings.wolfe
        };
        let (x, d, xt, gt) = (&self.x, &self.d, &mut self.xt, &mut self.gt);
        strong_wolfe(
            |a| {
                along(xt, x, d, a, bounds);
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
            &wolfe,
        )
    }

    /// Moves to the trial point; returns `(‖xt − x‖, ‖xt‖)`.
    fn advance(&mut self) -> (f64, f64) {
        let mut dx = 0.0;
        let mut xn = 0.0;
        for i in 0..self.x.len() {
            dx += (self.xt[i] - self.x[i]).powi(2);
            xn += self.xt[i] * self.xt[i];
        }
        std::mem::swap(&mut self.x, &mut self.xt);
        std::mem::swap(&mut self.g, &mut self.gt);
        (dx.sqrt(), xn.sqrt())
    }
}

/// Settings of one quasi-Newton run.
pub(crate) struct Settings<'a> {
    /// Correction pairs kept.
    pub memory: usize,
    /// Stopping limits.
    pub limits: &'a Limits,
    /// Line-search settings.
    pub wolfe: &'a Wolfe,
    /// The box `(lower, upper)`, when there is one.
    pub bounds: Option<(&'a [f64], &'a [f64])>,
}

/// Minimises `problem` from `x0` (projected onto the box) with the directions of `method`.
pub(crate) fn run<P: Objective, M: Direction>(
    problem: &P,
    x0: &[f64],
    settings: &Settings<'_>,
    method: &mut M,
    obs: &mut dyn Observer,
) -> Minimum {
    let (limits, bounds) = (settings.limits, settings.bounds);
    let start = limits.max_time.map(|_| Instant::now());
    let n = problem.num_params();
    let p = Counted::new(problem);
    let mut pairs = Pairs::new(n, settings.memory.max(1));
    let mut w = Point {
        x: x0[..n].to_vec(),
        g: vec![0.0; n],
        xt: vec![0.0; n],
        gt: vec![0.0; n],
        d: vec![0.0; n],
    };
    if let Some((lo, hi)) = bounds {
        for i in 0..n {
            w.x[i] = w.x[i].clamp(lo[i], hi[i]);
        }
    }
    let finish = |w: &Point, f: f64, stop: Stop, iters: u32, p: &Counted<&P>| Minimum {
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
        grad_norm: w.reported_grad_norm(bounds),
        step: 0.0,
        rate: f64::NAN,
    });
    let mut iters = 0u32;
    let mut retried = false;
    loop {
        let status = Status {
            grad_norm: Some(w.grad_test_norm(bounds)),
            ..Status::budget(iters, p.evals().total(), start)
        };
        if let Some(stop) = limits.check(&status) {
            return finish(&w, f, stop, iters, &p);
        }
        method.direction(&pairs, &w.x, &w.g, &mut w.d);
        let mut slope = dot(&w.g, &w.d);
        if slope.is_nan() || slope >= 0.0 {
            // Not a descent direction (stale memory): restart from (projected) steepest
            // descent. Without a box that is `−g`, a descent direction unless `g` is zero or
            // not finite, which the line search then rejects.
            pairs.clear();
            method.direction(&pairs, &w.x, &w.g, &mut w.d);
            slope = dot(&w.g, &w.d);
            if bounds.is_some() && (slope.is_nan() || slope >= 0.0) {
                return finish(&w, f, Stop::Stalled, iters, &p);
            }
        }
        let step = w.search(&p, f, slope, pairs.len() == 0, settings);
        if step.alpha <= 0.0 || step.value.is_nan() || step.value >= f {
            if pairs.len() > 0 && !retried {
                pairs.clear();
                retried = true;
                continue;
            }
            return finish(&w, f, Stop::Stalled, iters, &p);
        }
        retried = false;
        if step.last != step.alpha {
            along(&mut w.xt, &w.x, &w.d, step.alpha, bounds);
            match p.value_grad(&w.xt, &mut w.gt) {
                Some(v) if !v.is_nan() => {}
                _ => return finish(&w, f, Stop::Stalled, iters, &p),
            }
        }
        iters += 1;
        pairs.push(&w.x, &w.xt, &w.g, &w.gt);
        let (dx, xn) = w.advance();
        let f_old = f;
        f = step.value;
        obs.observe(&Iterate {
            iter: iters,
            cost: f,
            grad_norm: w.reported_grad_norm(bounds),
            step: dx,
            rate: step.alpha,
        });
        let decrease = Decrease {
            actual: f_old - f,
            predicted: None,
            scale: f_old.abs().max(f64::MIN_POSITIVE),
        };
        let status = Status { decrease: Some(decrease), step: Some((dx, xn)), ..Status::default() };
        if let Some(stop) = limits.check(&status) {
            return finish(&w, f, stop, iters, &p);
        }
    }
}
