//! Levenberg–Marquardt on any [`LeastSquares`] problem: plain residuals (through the blanket
//! impl) or the robust cost with Triggs-corrected rows.
//!
//! Stops on the cost when an accepted step decreased the cost, and its model predicted a
//! decrease, of at most `cost_tol` relative (MINPACK's `ftol`), or — unbounded problems,
//! after at least one step — when the undamped Gauss–Newton step from the current point
//! predicts no more than that: the step that would only confirm convergence is skipped.
//!
//! Each trial step solves `(J̃ᵀJ̃ + λ·D)·δ = −J̃ᵀr̃` by Cholesky, with Moré's (1978) scaling
//! `D = diag(J̃ᵀJ̃)` kept as a running maximum, and damping updated from the gain ratio
//! `ρ = actual/predicted decrease` as in Nielsen (1999) / Madsen, Nielsen & Tingleff (2004):
//! on success `λ ← λ·max(⅓, 1 − (2ρ − 1)³)`, on failure `λ ← λ·ν, ν ← 2ν`. A failed
//! factorisation or a trial point outside the domain also counts as a failure.
//!
//! Acceptance uses the problem's true cost — from `cost()`, or from `linearize()` (which returns
//! the same true cost) when the trial follows an accepted step and is therefore linearized
//! directly, saving one evaluation per accepted step; the model comes from `linearize()`. Bounds are
//! handled by projection: variables on a bound whose gradient points outward are frozen for
//! the step, the trial point is projected onto the box, and the gain ratio is computed for the
//! projected step. All buffers are allocated once per call.

use super::lbfgsb::projected_grad_norm;
use super::{Limits, Minimum, Stop};
use crate::linalg;
use crate::observe::{Iterate, Observer};
use crate::problem::{Bounds, Evals, LeastSquares};
use std::time::Instant;

/// Levenberg–Marquardt with Moré scaling and Nielsen damping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevenbergMarquardt {
    /// Stopping limits. The cost test stops when both the actual and the predicted relative
    /// decrease of an accepted step fall below `cost_tol` (MINPACK's `ftol`), or when the
    /// undamped Gauss–Newton step predicts less (unbounded, after one step; module docs).
    pub limits: Limits,
    /// Initial damping `λ₀`, relative to the Moré scale `D` (so dimensionless).
    pub initial_damping: f64,
    /// Smallest gain ratio for which a step is accepted.
    pub min_gain: f64,
    /// Damping above which the solver gives up (reported as [`Stop::Stalled`]).
    pub max_damping: f64,
    /// Smallest factor by which one accepted step may shrink the damping (Nielsen: ⅓).
    pub min_shrink: f64,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        LevenbergMarquardt {
            limits: Limits::default(),
            initial_damping: 1e-2,
            min_gain: 1e-4,
            max_damping: 1e32,
            min_shrink: 1.0 / 3.0,
        }
    }
}

impl LevenbergMarquardt {
    /// LM with the given limits and default damping settings.
    pub fn new(limits: Limits) -> Self {
        LevenbergMarquardt { limits, ..Self::default() }
    }

    /// Minimises `problem` from `x0`, within `bounds` when given (no trial point leaves
    /// them), reporting each accepted step to `obs` (`rate` is the damping λ).
    ///
    /// `Minimum::evals` counts `cost()` calls as values and `linearize()` calls as gradients.
    ///
    /// # Panics
    /// When `x0` or `bounds` have fewer entries than the problem has parameters.
    pub fn minimize<P: LeastSquares>(
        &self,
        problem: &P,
        x0: &[f64],
        bounds: Option<&Bounds>,
        obs: &mut dyn Observer,
    ) -> Minimum {
        let limits = &self.limits;
        let start = limits.max_time.map(|_| Instant::now());
        let m = problem.num_rows();
        let n = problem.num_params();
        let (lo, hi) = match bounds {
            Some(b) => (b.lower(), b.upper()),
            None => (&[][..], &[][..]),
        };
        let bounded = bounds.is_some();
        // Workspace, allocated once (one block of floats, split).
        let mut work = vec![0.0; 6 * n + 2 * m + 2 * m * n + 2 * n * n];
        let (x, rest) = work.split_at_mut(n);
        let (xt, rest) = rest.split_at_mut(n);
        let (r, rest) = rest.split_at_mut(m);
        let (rt, rest) = rest.split_at_mut(m);
        let (jac, rest) = rest.split_at_mut(m * n);
        let (jt, rest) = rest.split_at_mut(m * n);
        let (jtj, rest) = rest.split_at_mut(n * n);
        let (a, rest) = rest.split_at_mut(n * n);
        let (g, rest) = rest.split_at_mut(n);
        let (delta, diag) = rest.split_at_mut(n);
        let (mut x, mut xt, mut r, mut rt, mut jac, mut jt) = (x, xt, r, rt, jac, jt);
        let mut active = vec![false; n];
        let mut evals = Evals::default();
        x.copy_from_slice(&x0[..n]);
        if bounded {
            for i in 0..n {
                x[i] = x[i].clamp(lo[i], hi[i]);
            }
        }
        let done = |x: &[f64], cost: f64, stop: Stop, iters: u32, evals: Evals| Minimum {
            x: x.to_vec(),
            cost,
            stop,
            iters,
            evals,
        };

        evals.gradients += 1;
        let mut cost = match problem.linearize(x, r, jac) {
            Some(c) if c.is_finite() => c,
            _ => return done(&*x, f64::NAN, Stop::Infeasible, 0, evals),
        };
        let mut lambda = self.initial_damping;
        let mut nu = 2.0;
        let mut iters = 0u32;
        let mut last_step = 0.0;
        let mut cost_converged = false;
        let mut optimistic = true;
        loop {
            // Gauss–Newton model at x: JᵀJ (upper and lower) and g = Jᵀr.
            // One register accumulator per entry, rows summed in order (a running sum kept
            // in memory per row is a store-to-load chain: slow for few parameters).
            for j in 0..n {
                g[j] = jac.chunks_exact(n).zip(r.iter()).fold(0.0, |s, (row, ri)| s + row[j] * ri);
                for k in j..n {
                    jtj[j * n + k] = jac.chunks_exact(n).fold(0.0, |s, row| {
                        let rj = row[j];
                        if rj != 0.0 {
                            s + rj * row[k]
                        } else {
                            s
                        }
                    });
                }
            }
            for j in 0..n {
                for k in 0..j {
                    jtj[j * n + k] = jtj[k * n + j];
                }
                let djj = jtj[j * n + j];
                diag[j] = diag[j].max(djj);
            }
            let gnorm = if bounded {
                projected_grad_norm(x, g, lo, hi)
            } else {
                g.iter().fold(0.0f64, |s, v| s.max(v.abs()))
            };
            obs.observe(&Iterate {
                iter: iters,
                cost,
                grad_norm: g.iter().map(|v| v * v).sum::<f64>().sqrt(),
                step: last_step,
                rate: lambda,
            });
            if gnorm <= limits.grad_tol {
                return done(&*x, cost, Stop::GradientTolerance, iters, evals);
            }
            if cost_converged
                || (!bounded
                    && iters > 0
                    && gn_converged(
                        jtj,
                        g,
                        a,
                        delta,
                        limits.cost_tol * cost.abs().max(f64::MIN_POSITIVE),
                    ))
            {
                return done(&*x, cost, Stop::CostTolerance, iters, evals);
            }
            if iters >= limits.max_iters {
                return done(&*x, cost, Stop::MaxIters, iters, evals);
            }
            for j in 0..n {
                active[j] =
                    bounded && ((x[j] <= lo[j] && g[j] > 0.0) || (x[j] >= hi[j] && g[j] < 0.0));
            }
            let dmax = diag.iter().fold(0.0f64, |s, &v| s.max(v));
            // Inner loop: raise λ until a step is accepted.
            loop {
                if evals.total() >= limits.max_evals {
                    return done(&*x, cost, Stop::MaxEvals, iters, evals);
                }
                if let (Some(t0), Some(budget)) = (start, limits.max_time) {
                    if t0.elapsed() >= budget {
                        return done(&*x, cost, Stop::TimeBudget, iters, evals);
                    }
                }
                if lambda > self.max_damping || !lambda.is_finite() {
                    return done(&*x, cost, Stop::Stalled, iters, evals);
                }
                for j in 0..n {
                    let dj = if diag[j] > 0.0 {
                        diag[j]
                    } else {
                        dmax.max(1.0) * 1e-12 + f64::MIN_POSITIVE
                    };
                    for k in 0..n {
                        a[j * n + k] = if active[j] || active[k] { 0.0 } else { jtj[j * n + k] };
                    }
                    a[j * n + j] = if active[j] { 1.0 } else { jtj[j * n + j] + lambda * dj };
                    delta[j] = if active[j] { 0.0 } else { -g[j] };
                }
                if !linalg::cholesky(a, n) {
                    lambda *= nu;
                    nu *= 2.0;
                    continue;
                }
                linalg::cholesky_solve(a, n, delta);
                let mut dn = 0.0;
                let mut xn = 0.0;
                for j in 0..n {
                    let mut v = x[j] + delta[j];
                    if bounded {
                        v = v.clamp(lo[j], hi[j]);
                    }
                    xt[j] = v;
                    delta[j] = v - x[j];
                    dn += delta[j] * delta[j];
                    xn += x[j] * x[j];
                }
                let (dn, xn) = (dn.sqrt(), xn.sqrt());
                if dn <= limits.step_tol * (xn + limits.step_tol) {
                    return done(&*x, cost, Stop::StepTolerance, iters, evals);
                }
                // Predicted decrease of the Gauss–Newton model for the (projected) step.
                let mut quad = 0.0;
                let mut lin = 0.0;
                for j in 0..n {
                    lin += g[j] * delta[j];
                    let mut s = 0.0;
                    for k in 0..n {
                        s += jtj[j * n + k] * delta[k];
                    }
                    quad += delta[j] * s;
                }
                let pred = -(lin + 0.5 * quad);
                // After an accepted step the next trial is likely accepted too: linearize there
                // directly (one call instead of cost() then linearize()); after a rejection
                // only the cost is evaluated.
                let trial = if optimistic {
                    evals.gradients += 1;
                    problem.linearize(xt, rt, jt)
                } else {
                    evals.values += 1;
                    problem.cost(xt, rt)
                };
                let trial = trial.filter(|c| c.is_finite());
                let gain = match trial {
                    Some(c) if pred > 0.0 => (cost - c) / pred,
                    _ => f64::NEG_INFINITY,
                };
                let Some(c_new) = trial.filter(|_| gain > self.min_gain) else {
                    optimistic = false;
                    lambda *= nu;
                    nu *= 2.0;
                    continue;
                };
                lambda *= (1.0 - (2.0 * gain - 1.0).powi(3)).max(self.min_shrink);
                lambda = lambda.max(f64::MIN_POSITIVE);
                nu = 2.0;
                let actual = cost - c_new;
                let small = limits.cost_tol * cost.abs().max(f64::MIN_POSITIVE);
                let cost_conv = actual <= small && pred <= small;
                std::mem::swap(&mut x, &mut xt);
                iters += 1;
                last_step = dn;
                if optimistic {
                    std::mem::swap(&mut r, &mut rt);
                    std::mem::swap(&mut jac, &mut jt);
                    cost = c_new;
                } else {
                    evals.gradients += 1;
                    match problem.linearize(x, r, jac) {
                        Some(c) if c.is_finite() => cost = c,
                        _ => return done(&*x, c_new, Stop::Stalled, iters, evals),
                    }
                }
                optimistic = true;
                cost_converged = cost_conv;
                break;
            }
        }
    }
}

/// Whether the undamped Gauss–Newton step from the current point predicts a decrease
/// `½gᵀ(JᵀJ)⁻¹g ≤ tol` — an upper bound on what any damped step's model predicts, so the
/// step that would confirm convergence is not worth an evaluation. `a` and `sol` are
/// scratch (`n×n`, `n`); `false` when `JᵀJ` is not numerically positive definite.
fn gn_converged(jtj: &[f64], g: &[f64], a: &mut [f64], sol: &mut [f64], tol: f64) -> bool {
    let n = g.len();
    a.copy_from_slice(jtj);
    if !(tol > 0.0) || !linalg::cholesky(a, n) {
        return false;
    }
    sol.copy_from_slice(g);
    linalg::cholesky_solve(a, n, sol);
    let dec = 0.5 * g.iter().zip(sol.iter()).map(|(a, b)| a * b).sum::<f64>();
    dec.is_finite() && dec <= tol
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Counted, FnResiduals};

    #[test]
    fn fits_exponential_decay_exactly() {
        // y = 2·exp(−0.5 t) sampled without noise: closed-form optimum (2, 0.5), cost 0.
        let t = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0];
        let p = FnResiduals::new(6, 2, |x: &[f64], r: &mut [f64], j: Option<&mut [f64]>| {
            for (i, &ti) in t.iter().enumerate() {
                let e = (-x[1] * ti).exp();
                r[i] = x[0] * e - 2.0 * (-0.5 * ti).exp();
            }
            if let Some(j) = j {
                for (i, &ti) in t.iter().enumerate() {
                    let e = (-x[1] * ti).exp();
                    j[2 * i] = e;
                    j[2 * i + 1] = -x[0] * ti * e;
                }
            }
            Some(())
        });
        let c = Counted::new(&p);
        let m = LevenbergMarquardt::default().minimize(&c, &[1.0, 1.0], None, &mut ());
        assert!((m.x[0] - 2.0).abs() < 1e-9 && (m.x[1] - 0.5).abs() < 1e-9, "{m:?}");
        assert_eq!(m.evals, c.evals());
    }
}
