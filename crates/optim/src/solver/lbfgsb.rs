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

use super::line_search::Wolfe;
use super::quasi_newton::{self, dot, Direction, Pairs, Settings};
use super::{Limits, Minimum, Solver};
use crate::linalg;
use crate::observe::Observer;
use crate::problem::{Bounds, Objective};

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

/// The dense BFGS matrix and the scratch of the Cauchy-point search, sized once per call.
struct CauchySubspace<'a> {
    n: usize,
    lo: &'a [f64],
    hi: &'a [f64],
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

impl Direction for CauchySubspace<'_> {
    fn direction(&mut self, pairs: &Pairs, x: &[f64], g: &[f64], d: &mut [f64]) {
        self.build_b(pairs);
        self.cauchy_point(x, g);
        self.subspace_step(x, g, d);
    }
}

impl<'a> CauchySubspace<'a> {
    fn new(n: usize, lo: &'a [f64], hi: &'a [f64]) -> Self {
        CauchySubspace {
            n,
            lo,
            hi,
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

    /// Forms `B = θI` updated by the stored pairs (oldest first), θ = yᵀy/sᵀy of the newest.
    fn build_b(&mut self, pairs: &Pairs) {
        let n = self.n;
        let theta = if pairs.len() == 0 {
            1.0
        } else {
            let k = pairs.slot(pairs.len() - 1);
            let (s, y) = (pairs.s(k), pairs.y(k));
            dot(y, y) / dot(s, y)
        };
        self.b.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            self.b[i * n + i] = theta;
        }
        for p in 0..pairs.len() {
            let k = pairs.slot(p);
            let (s, y) = (pairs.s(k), pairs.y(k));
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

    /// The generalised Cauchy point: the first local minimiser of the quadratic model along
    /// the projected steepest-descent path `x(t) = P(x − t·g)`, as `z = x_c − x`; the
    /// variables at a bound there are marked `fixed`.
    fn cauchy_point(&mut self, x: &[f64], g: &[f64]) {
        let (n, lo, hi) = (self.n, self.lo, self.hi);
        // Breakpoints along x(t) = P(x − t·g).
        for i in 0..n {
            let gi = g[i];
            let t = if gi < 0.0 {
                (x[i] - hi[i]) / gi
            } else if gi > 0.0 {
                (x[i] - lo[i]) / gi
            } else {
                f64::INFINITY
            };
            self.tbreak[i] = if t.is_nan() { f64::INFINITY } else { t.max(0.0) };
            self.dir[i] = if self.tbreak[i] > 0.0 { -gi } else { 0.0 };
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
        let mut fp = dot(g, &self.dir);
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
            let dz = (bound - x[b]) - self.z[b];
            self.z[b] = bound - x[b];
            self.dir[b] = 0.0;
            self.fixed[b] = true;
            for i in 0..n {
                let bib = self.b[i * n + b];
                self.bd[i] -= bib * old;
                self.bz[i] += bib * dz;
            }
            fp = dot(g, &self.dir) + dot(&self.dir, &self.bz);
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
            let xc = (x[i] + self.z[i]).clamp(lo[i], hi[i]);
            self.z[i] = xc - x[i];
        }
    }

    /// Subspace minimisation from the Cauchy point over the free variables,
    /// `B_FF δ = −(g + B z)_F`, truncated to the box; writes the search direction
    /// `d = x̄ − x` into `d`.
    fn subspace_step(&mut self, x: &[f64], g: &[f64], d: &mut [f64]) {
        let (n, lo, hi) = (self.n, self.lo, self.hi);
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
                self.rhs[a] = -(g[i] + self.bz[i]);
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
                    let xc = x[i] + self.z[i];
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
        d.copy_from_slice(&self.z);
        for a in 0..nf {
            let i = self.free[a];
            d[i] += alpha * self.rhs[a];
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
        let unbounded;
        let b = match bounds {
            Some(b) => b,
            None => {
                unbounded = Bounds::unbounded(problem.num_params());
                &unbounded
            }
        };
        let (lo, hi) = (b.lower(), b.upper());
        let settings = Settings {
            memory: self.memory,
            limits: &self.limits,
            wolfe: &self.wolfe,
            bounds: Some((lo, hi)),
        };
        let mut method = CauchySubspace::new(problem.num_params(), lo, hi);
        quasi_newton::run(problem, x0, &settings, &mut method, obs)
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
