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
use crate::solver::{Decrease, Limits, Minimum, Solver, Status, Stop};
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

/// The `n + 1` vertices (row-major), their costs and their order by cost.
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
    /// Replaces vertex `i` by `x` with cost `f`.
    fn replace(&mut self, i: usize, x: &[f64], f: f64) {
        self.v[i * self.n..(i + 1) * self.n].copy_from_slice(x);
        self.f[i] = f;
    }
}

fn eval<P: Objective>(p: &Counted<P>, x: &[f64]) -> f64 {
    match p.value(x) {
        Some(v) if !v.is_nan() => v,
        _ => f64::INFINITY,
    }
}

/// The reflection, expansion, contraction and shrink coefficients `(α, β, γ, δ)`.
#[derive(Clone, Copy)]
struct Coefficients {
    alpha: f64,
    beta: f64,
    gamma: f64,
    delta: f64,
}

/// One Nelder–Mead iteration's moves, with their scratch points (sized once per call).
struct Moves<'a, P> {
    p: &'a Counted<P>,
    bounds: Option<&'a Bounds>,
    k: Coefficients,
    /// Centroid of all vertices but the worst.
    c: Vec<f64>,
    xr: Vec<f64>,
    xe: Vec<f64>,
}

impl<P: Objective> Moves<'_, P> {
    /// `out = c + t·(vertex iw − c)`, projected onto the box.
    fn along(&self, out: &mut [f64], s: &Simplex, iw: usize, t: f64) {
        let (c, w) = (&self.c, s.vertex(iw));
        for i in 0..out.len() {
            out[i] = c[i] + t * (w[i] - c[i]);
        }
        if let Some(b) = self.bounds {
            b.project(out);
        }
    }

    /// One iteration on `s` (sorted): reflect the worst vertex through the centroid of the
    /// others, then expand, contract (outside or inside) or shrink toward the best vertex;
    /// leaves `s` sorted.
    fn iterate(&mut self, s: &mut Simplex) {
        let n = s.n;
        let nf = n as f64;
        let Coefficients { alpha, beta, gamma, delta } = self.k;
        let (ib, iw, isw) = (s.order[0], s.order[n], s.order[n - 1]);
        let fb = s.f[ib];
        self.c.iter_mut().for_each(|v| *v = 0.0);
        for &i in &s.order[..n] {
            for (cj, vj) in self.c.iter_mut().zip(s.vertex(i)) {
                *cj += vj / nf;
            }
        }
        let mut xr = std::mem::take(&mut self.xr);
        let mut xe = std::mem::take(&mut self.xe);
        self.along(&mut xr, s, iw, -alpha);
        let fr = eval(self.p, &xr);
        let fsw = s.f[isw];
        let mut shrink = false;
        if fr < fb {
            self.along(&mut xe, s, iw, -alpha * beta);
            let fe = eval(self.p, &xe);
            if fe < fr {
                s.replace(iw, &xe, fe);
            } else {
                s.replace(iw, &xr, fr);
            }
        } else if fr < fsw {
            s.replace(iw, &xr, fr);
        } else if fr < s.f[iw] {
            // Outside contraction.
            self.along(&mut xe, s, iw, -alpha * gamma);
            let fc = eval(self.p, &xe);
            if fc <= fr {
                s.replace(iw, &xe, fc);
            } else {
                shrink = true;
            }
        } else {
            // Inside contraction.
            self.along(&mut xe, s, iw, gamma);
            let fc = eval(self.p, &xe);
            if fc < s.f[iw] {
                s.replace(iw, &xe, fc);
            } else {
                shrink = true;
            }
        }
        (self.xr, self.xe) = (xr, xe);
        if shrink {
            for i in 0..=n {
                if i == ib {
                    continue;
                }
                for j in 0..n {
                    let b = s.v[ib * n + j];
                    s.v[i * n + j] = b + delta * (s.v[i * n + j] - b);
                }
                s.f[i] = eval(self.p, &s.v[i * n..(i + 1) * n]);
            }
        }
        s.sort();
    }
}

impl NelderMead {
    /// The coefficients for `n` parameters (Gao–Han when adaptive and `n > 2`).
    fn coefficients(&self, n: usize) -> Coefficients {
        let nf = n as f64;
        let (alpha, beta, gamma, delta) = if self.adaptive && n > 2 {
            (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf)
        } else {
            (1.0, 2.0, 0.5, 0.5)
        };
        Coefficients { alpha, beta, gamma, delta }
    }

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

    /// Whether the sorted simplex has collapsed: the spread of the vertex costs relative to
    /// the best (`cost_tol`), or the diameter relative to `‖x_best‖` (`step_tol`).
    fn collapsed(&self, s: &Simplex) -> Option<Stop> {
        let n = s.n;
        let (ib, iw) = (s.order[0], s.order[n]);
        let fb = s.f[ib];
        let spread = s.f[iw] - fb;
        if spread == 0.0 {
            return Some(Stop::CostTolerance);
        }
        let diam = (0..=n).map(|i| dist(s.vertex(i), s.vertex(ib))).fold(0.0, f64::max);
        let xb_norm = norm2(s.vertex(ib));
        let decrease = Decrease { actual: spread, predicted: None, scale: fb.abs() };
        let status =
            Status { decrease: Some(decrease), step: Some((diam, xb_norm)), ..Status::default() };
        self.limits.check(&status)
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
        let start = Instant::now();
        let p = Counted::new(problem);
        let n = x0.len();
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
        let mut moves = Moves {
            p: &p,
            bounds,
            k: self.coefficients(n),
            c: vec![0.0; n],
            xr: vec![0.0; n],
            xe: vec![0.0; n],
        };
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
        let stop = loop {
            if let Some(stop) =
                self.limits.check(&Status::budget(iter, p.evals().total(), Some(start)))
            {
                break stop;
            }
            let ib = s.order[0];
            if let Some(reason) = self.collapsed(&s) {
                if restarts >= self.restarts {
                    break reason;
                }
                restarts += 1;
                x.copy_from_slice(s.vertex(ib));
                self.build(&mut s, &x, bounds, &p);
                continue;
            }
            best_prev.copy_from_slice(s.vertex(ib));
            moves.iterate(&mut s);
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
