//! Nelder–Mead downhill simplex (Nelder & Mead 1965, in the ordering of Lagarias et al.
//! 1998) with the dimension-adaptive coefficients of Gao & Han (2012) for `n > 2`:
//! reflection `α = 1`, expansion `β = 1 + 2/n`, contraction `γ = 0.75 − 1/(2n)`,
//! shrink `δ = 1 − 1/n` (for `n ≤ 2` these are the classic 1, 2, ½, ½).
//!
//! Derivative-free: only [`Objective::value`] is called. Bounds are honoured by projecting
//! every trial vertex onto the box. When the simplex collapses (spread of the vertex costs
//! or simplex diameter below tolerance) the search may restart from a fresh simplex
//! around the best vertex, which repairs the degenerate simplices NM is known for.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use super::schedule::{dist, norm2};
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Counted, Objective};
use crate::solver::{Limits, Minimum, Solver, Stop};
use std::time::Instant;

/// Nelder–Mead settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NelderMead {
    /// Initial simplex: vertex `i` is `x0 + h·e_i` with `h = initial_step·x0_i`
    /// (or `zero_step` when `x0_i = 0`), mirrored if that leaves the bounds.
    pub initial_step: f64,
    /// Initial edge for zero coordinates.
    pub zero_step: f64,
    /// Use the Gao–Han adaptive coefficients (only differ from classic for `n > 2`).
    pub adaptive: bool,
    /// How many times to rebuild the simplex around the best point after it collapses.
    pub restarts: u32,
    /// Budgets; `cost_tol` bounds the relative spread of the vertex costs and `step_tol`
    /// the simplex diameter relative to `‖x_best‖`. `grad_tol` is unused.
    pub limits: Limits,
}

impl Default for NelderMead {
    fn default() -> Self {
        NelderMead {
            initial_step: 0.05,
            zero_step: 2.5e-4,
            adaptive: true,
            restarts: 0,
            limits: Limits { max_iters: 10_000, ..Limits::default() },
        }
    }
}

struct Simplex {
    n: usize,
    v: Vec<f64>,
    f: Vec<f64>,
    order: Vec<usize>,
}

impl Simplex {
    fn vertex(&self, i: usize) -> &[f64] {
        &self.v[i * self.n..(i + 1) * self.n]
    }
    fn sort(&mut self) {
        let f = &self.f;
        self.order.sort_unstable_by(|&a, &b| f[a].total_cmp(&f[b]).then(a.cmp(&b)));
    }
}

fn eval<P: Objective>(p: &Counted<P>, x: &[f64]) -> f64 {
    match p.value(x) {
        Some(v) if !v.is_nan() => v,
        _ => f64::INFINITY,
    }
}

impl NelderMead {
    fn build<P: Objective>(
        &self,
        s: &mut Simplex,
        x: &[f64],
        bounds: Option<&Bounds>,
        p: &Counted<P>,
    ) {
        let n = s.n;
        for i in 0..=n {
            s.v[i * n..(i + 1) * n].copy_from_slice(x);
            if i > 0 {
                let j = i - 1;
                let mut h = if x[j] != 0.0 { self.initial_step * x[j] } else { self.zero_step };
                if let Some(b) = bounds {
                    if x[j] + h > b.upper()[j] || x[j] + h < b.lower()[j] {
                        h = -h;
                    }
                }
                s.v[i * n + j] += h;
                if let Some(b) = bounds {
                    b.project(&mut s.v[i * n..(i + 1) * n]);
                }
            }
            s.f[i] = eval(p, &s.v[i * n..(i + 1) * n]);
        }
        s.sort();
    }
}

impl Solver for NelderMead {
    fn minimize_bounded<P: Objective>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let lim = &self.limits;
        let start = Instant::now();
        let p = Counted::new(problem);
        let n = x0.len();
        let nf = n as f64;
        let (alpha, beta, gamma, delta) = if self.adaptive && n > 2 {
            (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf)
        } else {
            (1.0, 2.0, 0.5, 0.5)
        };
        let mut x = x0.to_vec();
        if let Some(b) = bounds {
            b.project(&mut x);
        }
        if n == 0 {
            let f = p.value(&x).filter(|v| !v.is_nan());
            let stop = if f.is_some() { Stop::StepTolerance } else { Stop::Infeasible };
            let cost = f.unwrap_or(f64::NAN);
            return Minimum { x, cost, stop, iters: 0, evals: p.evals() };
        }
        let mut s =
            Simplex { n, v: vec![0.0; (n + 1) * n], f: vec![0.0; n + 1], order: (0..=n).collect() };
        let mut c = vec![0.0; n];
        let mut xr = vec![0.0; n];
        let mut xe = vec![0.0; n];
        let mut best_prev = vec![0.0; n];
        self.build(&mut s, &x, bounds, &p);
        let mut iter = 0u32;
        let mut restarts = 0u32;
        let b0 = s.order[0];
        if !s.f[b0].is_finite() {
            return Minimum {
                x,
                cost: f64::NAN,
                stop: Stop::Infeasible,
                iters: 0,
                evals: p.evals(),
            };
        }
        obs.observe(&Iterate {
            iter: 0,
            cost: s.f[b0],
            grad_norm: f64::NAN,
            step: 0.0,
            rate: f64::NAN,
        });
        // Moves `out = c + t·(w − c)` and projects it.
        let along = |out: &mut [f64], c: &[f64], w: &[f64], t: f64| {
            for i in 0..out.len() {
                out[i] = c[i] + t * (w[i] - c[i]);
            }
            if let Some(b) = bounds {
                b.project(out);
            }
        };
        let stop = loop {
            if iter >= lim.max_iters {
                break Stop::MaxIters;
            }
            if p.evals().total() >= lim.max_evals {
                break Stop::MaxEvals;
            }
            if lim.max_time.is_some_and(|t| start.elapsed() >= t) {
                break Stop::TimeBudget;
            }
            let (ib, iw, isw) = (s.order[0], s.order[n], s.order[n - 1]);
            // Convergence (collapse) tests.
            let fb = s.f[ib];
            let spread = s.f[iw] - fb;
            let diam = (0..=n).map(|i| dist(s.vertex(i), s.vertex(ib))).fold(0.0, f64::max);
            let xb_norm = norm2(s.vertex(ib));
            let collapsed = if spread <= lim.cost_tol * fb.abs() || spread == 0.0 {
                Some(Stop::CostTolerance)
            } else if diam <= lim.step_tol * (xb_norm + lim.step_tol) {
                Some(Stop::StepTolerance)
            } else {
                None
            };
            if let Some(reason) = collapsed {
                if restarts >= self.restarts {
                    break reason;
                }
                restarts += 1;
                x.copy_from_slice(s.vertex(ib));
                self.build(&mut s, &x, bounds, &p);
                continue;
            }
            best_prev.copy_from_slice(s.vertex(ib));
            // Centroid of all but the worst.
            c.iter_mut().for_each(|v| *v = 0.0);
            for &i in &s.order[..n] {
                for (cj, vj) in c.iter_mut().zip(s.vertex(i)) {
                    *cj += vj / nf;
                }
            }
            along(&mut xr, &c, &s.v[iw * n..(iw + 1) * n], -alpha);
            let fr = eval(&p, &xr);
            let fsw = s.f[isw];
            let mut shrink = false;
            if fr < fb {
                along(&mut xe, &c, &s.v[iw * n..(iw + 1) * n], -alpha * beta);
                let fe = eval(&p, &xe);
                if fe < fr {
                    s.v[iw * n..(iw + 1) * n].copy_from_slice(&xe);
                    s.f[iw] = fe;
                } else {
                    s.v[iw * n..(iw + 1) * n].copy_from_slice(&xr);
                    s.f[iw] = fr;
                }
            } else if fr < fsw {
                s.v[iw * n..(iw + 1) * n].copy_from_slice(&xr);
                s.f[iw] = fr;
            } else if fr < s.f[iw] {
                // Outside contraction.
                along(&mut xe, &c, &s.v[iw * n..(iw + 1) * n], -alpha * gamma);
                let fc = eval(&p, &xe);
                if fc <= fr {
                    s.v[iw * n..(iw + 1) * n].copy_from_slice(&xe);
                    s.f[iw] = fc;
                } else {
                    shrink = true;
                }
            } else {
                // Inside contraction.
                along(&mut xe, &c, &s.v[iw * n..(iw + 1) * n], gamma);
                let fc = eval(&p, &xe);
                if fc < s.f[iw] {
                    s.v[iw * n..(iw + 1) * n].copy_from_slice(&xe);
                    s.f[iw] = fc;
                } else {
                    shrink = true;
                }
            }
            if shrink {
                for i in 0..=n {
                    if i == ib {
                        continue;
                    }
                    for j in 0..n {
                        let b = s.v[ib * n + j];
                        s.v[i * n + j] = b + delta * (s.v[i * n + j] - b);
                    }
                    s.f[i] = eval(&p, &s.v[i * n..(i + 1) * n]);
                }
            }
            s.sort();
            iter += 1;
            let ib = s.order[0];
            obs.observe(&Iterate {
                iter,
                cost: s.f[ib],
                grad_norm: f64::NAN,
                step: dist(s.vertex(ib), &best_prev),
                rate: f64::NAN,
            });
        };
        let ib = s.order[0];
        Minimum { x: s.vertex(ib).to_vec(), cost: s.f[ib], stop, iters: iter, evals: p.evals() }
    }
}
