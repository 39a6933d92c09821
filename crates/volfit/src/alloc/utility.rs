//! Expected utility (CARA, CRRA) − λ·risk: not linear, solved by volfit-optim.
//!
//! ## Method (penalty + projection, then feasibility restoration)
//! The objective `f(x) = −E[u(S·x)] + λ·ρ(S·x)` is
//! [`PortfolioObjective`]. The position bounds are
//! enforced by **projection** (L-BFGS-B keeps every iterate in the box). Every other
//! constraint of [`Problem::rows`] (group limits, premium budget, margin ≤ collateral per
//! margin shock) enters as a **quadratic penalty** `ρ_pen·Σ_r max(0, (a_r·x − b_r)/s_r)²`
//! with `s_r = max(1, |b_r|)`, solved for `ρ_pen = 10², 10⁴, 10⁶` (times `1 + |f(x₀)|`),
//! each stage warm-started from the last. A penalty only makes violations small, so the
//! result is then **restored**: when the constraints hold at the origin (`0` in every box,
//! every right-hand side ≥ 0), the largest `θ ∈ [0, 1]` with `θ·x` feasible is found by
//! bisection (the feasible set is convex) — the returned point never violates a constraint.
//! Several starts (the origin and seeded points in the box) run and the best restored point
//! wins. Spread costs are not charged on this path.

use super::{AllocError, Allocation, Problem, RewardSpec, Settings, SolverReport};
use crate::risk::{Cara, Crra, ExpectedUtility, PortfolioObjective, Reward};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use volfit_optim::{Bounds, LbfgsB, Limits, Objective, Solver};

/// The expected-utility reward of a [`RewardSpec`] (`None` for [`RewardSpec::Expected`]).
///
/// # Errors
/// [`AllocError::Risk`] for invalid utility parameters.
pub fn reward_of(spec: RewardSpec) -> Result<Option<Box<dyn Reward>>, AllocError> {
    Ok(match spec {
        RewardSpec::Expected => None,
        RewardSpec::Cara { a } => Some(Box::new(ExpectedUtility(Cara::new(a)?))),
        RewardSpec::Crra { gamma, wealth } => {
            Some(Box::new(ExpectedUtility(Crra::new(gamma, wealth)?)))
        }
    })
}

/// The reward of `x` under `settings.reward` (expected utility; `None` outside its domain).
pub fn reward_value(p: &Problem, settings: &Settings, x: &[f64]) -> Option<f64> {
    let pnl = p.portfolio_pnl(x);
    match reward_of(settings.reward).ok()? {
        Some(r) => r.value(&pnl, p.probs.as_deref()),
        None => Some(pnl.iter().enumerate().map(|(s, v)| p.prob(s) * v).sum()),
    }
}

/// The portfolio objective plus the quadratic penalty of the rows.
struct Penalised<'a, R> {
    inner: &'a PortfolioObjective<R>,
    rows: &'a [super::Row],
    weight: f64,
}

impl<R: Reward> Objective for Penalised<'_, R> {
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        let mut f = self.inner.value_grad(x, grad)?;
        for r in self.rows {
            let s = r.rhs.abs().max(1.0);
            let v = (r.lhs(x) - r.rhs) / s;
            if v > 0.0 {
                f += self.weight * v * v;
                let c = 2.0 * self.weight * v / s;
                for &(j, a) in &r.coef {
                    let d = if r.abs { a * x[j].signum() } else { a };
                    grad[j] += c * d;
                }
            }
        }
        Some(f)
    }
}

/// Solves the utility problem of the module docs. `p` must have passed
/// [`Problem::validate`] ([`super::solve`] does it).
///
/// # Errors
/// [`AllocError::Invalid`] for the expected reward (use the LP), [`AllocError::Infeasible`]
/// when no start can be restored to feasibility.
pub fn solve(p: &Problem, settings: &Settings) -> Result<Allocation, AllocError> {
    let start = Instant::now();
    let reward = reward_of(settings.reward)?.ok_or_else(|| {
        AllocError::Invalid("the expected-P&L reward is solved by the LP path".into())
    })?;
    let obj = PortfolioObjective::new(
        p.pnl.clone(),
        p.probs.clone(),
        reward,
        settings.lambda,
        settings.risk.clone(),
    )?;
    let n = p.n();
    let rows = p.rows();
    let lo: Vec<f64> = p.positions.iter().map(|q| q.min).collect();
    let hi: Vec<f64> = p.positions.iter().map(|q| q.max).collect();
    let bounds = Bounds::new(lo.clone(), hi.clone())
        .map_err(|e| AllocError::Invalid(format!("position bounds: {e}")))?;
    let origin: Vec<f64> = (0..n).map(|i| 0.0f64.clamp(lo[i], hi[i])).collect();
    let origin_feasible = p.check(&origin, 1e-9).1 <= 1e-9;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut starts = vec![origin.clone()];
    for _ in 1..settings.starts.max(1) {
        starts.push(
            (0..n)
                .map(|i| {
                    let (a, b) = (lo[i].max(-1.0).min(hi[i]), hi[i].min(1.0).max(lo[i]));
                    // Small points: large ones are often outside a utility's domain.
                    a + (b - a) * rng.random::<f64>()
                })
                .collect(),
        );
    }
    let solver = LbfgsB::new(10, Limits { max_iters: 500, ..Limits::default() });
    let mut best: Option<(f64, Vec<f64>)> = None;
    let mut iterations = 0u64;
    let mut last_stop = String::new();
    for x0 in &starts {
        let Some(f0) = obj.value(x0) else { continue };
        let mut x = x0.clone();
        for w in [1e2, 1e4, 1e6] {
            let pen = Penalised { inner: &obj, rows: &rows, weight: w * (1.0 + f0.abs()) };
            let m = solver.minimize_bounded(&pen, &x, Some(&bounds), &mut ());
            iterations += u64::from(m.iters);
            last_stop = m.stop.to_string();
            if m.cost.is_finite() {
                x = m.x;
            }
        }
        for (v, (&a, &b)) in x.iter_mut().zip(lo.iter().zip(&hi)) {
            *v = v.clamp(a, b);
        }
        if p.check(&x, 1e-9).1 > 1e-9 {
            if !origin_feasible {
                continue;
            }
            // Bisection on θ: θ = 0 is feasible, θ = 1 is not.
            let (mut a, mut b) = (0.0f64, 1.0f64);
            for _ in 0..60 {
                let mid = 0.5 * (a + b);
                let y: Vec<f64> = x.iter().map(|v| mid * v).collect();
                if p.check(&y, 1e-9).1 <= 1e-9 {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            x.iter_mut().for_each(|v| *v *= a);
        }
        let Some(f) = obj.value(&x) else { continue };
        if best.as_ref().is_none_or(|(bf, _)| f < *bf) {
            best = Some((f, x));
        }
    }
    let (_, x) = best.ok_or_else(|| {
        AllocError::Infeasible("no start of the penalty path could be made feasible".into())
    })?;
    let report = SolverReport {
        method: "lbfgsb-penalty".into(),
        status: last_stop,
        iterations,
        rounds: starts.len(),
        active_scenarios: p.pnl.rows(),
        seconds: start.elapsed().as_secs_f64(),
        levels: 0,
        risk_gap: f64::NAN,
    };
    p.report(x, settings, f64::NAN, report)
}
