//! Expected P&L − λ·(CVaR mixture) as one linear program, solved by `clarabel`.
//!
//! ## The program (Rockafellar & Uryasev 2000, Thm. 1 and 2)
//! With `m` the expected P&L per unit, `L_s(x) = −pnl_s·x` the loss in scenario `s` of
//! probability `p_s`, and the mixture `Σ_k w_k·CVaR_{α_k}` ([`super::cvar_mixture`]; a level
//! `α = 0` is the mean loss `−m·x`, linear):
//!
//! ```text
//! min  −m·x + Σ_i c_i·u_i + λ·[ w_0·(−m·x) + Σ_{k: α_k>0} w_k·( t_k + Σ_s p_s·z_ks/(1−α_k) ) ]
//! s.t. z_ks ≥ L_s(x) − t_k,  z_ks ≥ 0                      (every scenario s, every level k)
//!      min_i ≤ x_i ≤ max_i;  u_i ≥ |x_i|  (only when costs or gross rows need it)
//!      rows of Problem::rows(): group net/gross limits, premium budget,
//!      −M_c[g]·x ≤ collateral_c for every margin shock g (margin ≤ collateral, linear).
//! ```
//! `c_i = spread_i/2` when spread costs are on. At the optimum `t_k` is a VaR and the bracket
//! is `CVaR_{α_k}` of the portfolio exactly, so the LP's risk value equals the empirical
//! CVaR of the returned `x` (a test checks it against [`crate::risk::evaluate`]).
//!
//! ## Constraint generation (exact)
//! Only scenarios in the tail of the optimum have `z_ks > 0`. The LP is first solved with
//! the scenario rows of an *active set* per level (the most extreme scenarios, holding at
//! least `3(1−α)` of the probability), every other `z_ks` fixed at 0 and its row dropped —
//! a relaxation whose optimum is a lower bound. If that optimum satisfies
//! `L_s(x) ≤ t_k` for every dropped scenario, it is feasible for the full LP with the same
//! objective, hence optimal; otherwise the violated scenarios join the active set and the
//! LP is solved again. The number of scenario rows thus stays near the tail size instead
//! of the scenario count, and the factorisation cost of the interior-point method, linear
//! in the rows times `n²` for dense scenario rows, drops accordingly.

use super::{lp_levels_refined, AllocError, Allocation, Problem, Row, Settings, SolverReport};
use crate::risk::RiskMeasure;
use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, SupportedConeT,
};
use std::time::Instant;

/// Maximum constraint-generation rounds before giving up with an error.
pub const MAX_ROUNDS: usize = 60;

/// Relative tolerance on a dropped scenario's violation `L_s(x) − t_k`.
pub const VIOLATION_TOL: f64 = 1e-7;

struct LpSolution {
    x: Vec<f64>,
    /// Per tail level: `t_k + Σ p z/(1−α)`.
    cvar: Vec<f64>,
    t: Vec<f64>,
    iterations: u32,
    status: SolverStatus,
}

/// Solves the LP of the module docs. `p` must have passed [`Problem::validate`]
/// ([`super::solve`] does it).
///
/// # Errors
/// [`AllocError::NotLinear`] for a measure without LP form, [`AllocError::Infeasible`],
/// [`AllocError::Unbounded`] or [`AllocError::Solver`] from clarabel.
pub fn solve(p: &Problem, settings: &Settings) -> Result<Allocation, AllocError> {
    solve_from(p, settings, None)
}

/// [`solve`] with the active scenario sets seeded from the tail of `guess` (e.g. the optimum
/// at a neighbouring `λ` on a frontier) instead of a subsample cascade. The result is the
/// same optimum; only the work differs.
///
/// # Errors
/// As [`solve`].
pub fn solve_from(
    p: &Problem,
    settings: &Settings,
    guess: Option<&[f64]>,
) -> Result<Allocation, AllocError> {
    let start = Instant::now();
    if !matches!(settings.linear_solver.as_str(), "faer" | "qdldl") {
        return Err(AllocError::Invalid(format!(
            "linear solver `{}` (known: faer, qdldl)",
            settings.linear_solver
        )));
    }
    if !(settings.spectral_gap.is_finite() && settings.spectral_gap > 0.0) {
        return Err(AllocError::Invalid(format!(
            "spectral gap {} must be finite and > 0",
            settings.spectral_gap
        )));
    }
    // Halvings needed for the last interval to lie inside the smallest scenario's mass.
    let p_min = p.probs.as_ref().map_or(1.0 / p.pnl.rows().max(1) as f64, |pr| {
        pr.iter().copied().filter(|v| *v > 0.0).fold(1.0, f64::min)
    });
    let deep = (1.0 / p_min).log2().ceil().max(0.0) as usize + 1;
    let (mut levels, mut split) = (settings.levels.max(1), 1);
    let mut guess = guess.map(<[f64]>::to_vec);
    let (mut iterations, mut rounds) = (0, 0);
    loop {
        let grid = lp_levels_refined(&settings.risk, levels, split)?;
        let mut a = solve_levels(p, settings, &grid, guess.as_deref())?;
        iterations += a.solver.iterations;
        rounds += a.solver.rounds;
        a.solver.iterations = iterations;
        a.solver.rounds = rounds;
        a.solver.levels = grid.len();
        a.solver.seconds = start.elapsed().as_secs_f64();
        // The mixture is a lower bound of the exact value (see `cvar_mixture`): refine until
        // the returned portfolio's gap is small, or the grid cannot usefully grow.
        let done = !matches!(settings.risk, RiskMeasure::Spectral(_))
            || settings.lambda == 0.0
            || !(a.solver.risk_gap > settings.spectral_gap)
            || (a.risk - a.risk_lp).abs() <= 1e-9 * a.risk.abs().max(1.0)
            || split >= MAX_SPLIT;
        if done {
            return Ok(a);
        }
        levels = levels.max(deep);
        split *= 2;
        guess = Some(a.x);
    }
}

/// Largest number of parts a halving interval of the spectral grid is split into.
pub const MAX_SPLIT: usize = 16;

/// One LP on the CVaR levels `levels` (`(α_k, w_k)`, as [`super::lp_levels`] gives them).
fn solve_levels(
    p: &Problem,
    settings: &Settings,
    levels: &[(f64, f64)],
    guess: Option<&[f64]>,
) -> Result<Allocation, AllocError> {
    let start = Instant::now();
    let levels = levels.to_vec();
    let ns = p.pnl.rows();
    let lambda = settings.lambda;
    let w0: f64 = levels.iter().filter(|l| l.0 <= 0.0).map(|l| l.1).sum();
    // With λ = 0 the risk does not enter the objective; no tail variables are needed.
    let tails: Vec<(f64, f64)> = if lambda > 0.0 {
        levels.iter().filter(|l| l.0 > 0.0).copied().collect()
    } else {
        Vec::new()
    };
    // A guess of the optimum from a subsample of the scenarios, when there are many: its
    // tail scenarios seed the active sets (a guess only; the check below is on all rows).
    let guess = if let Some(g) = guess.filter(|g| g.len() == p.n()) {
        Some((g.to_vec(), 0, 0))
    } else if settings.constraint_generation && !tails.is_empty() && ns >= 4 * SUBSAMPLE {
        subsample_guess(p, settings, &levels)
    } else {
        None
    };
    let mut active: Vec<Vec<usize>> = tails
        .iter()
        .map(|&(a, _)| {
            if !settings.constraint_generation {
                (0..ns).collect()
            } else if let Some((x0, _, _)) = &guess {
                worst_under(p, x0, 1.5 * (1.0 - a))
            } else {
                initial_active(p, 1.0 - a)
            }
        })
        .collect();
    let mut in_set: Vec<Vec<bool>> = active
        .iter()
        .map(|a| {
            let mut m = vec![false; ns];
            a.iter().for_each(|&s| m[s] = true);
            m
        })
        .collect();
    // The cascade's work counts in the report.
    let (mut iterations, mut rounds) = guess.as_ref().map_or((0, 0), |g| (g.1, g.2));
    let mut own_rounds = 0;
    let mut loss = vec![0.0; ns];
    let sol = loop {
        rounds += 1;
        own_rounds += 1;
        let sol = solve_restricted(p, settings, &tails, w0, &active)?;
        iterations += u64::from(sol.iterations);
        p.pnl.pnl_into(&sol.x, &mut loss);
        loss.iter_mut().for_each(|v| *v = -*v);
        let scale = loss.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let mut added = false;
        for (k, &(alpha, _)) in tails.iter().enumerate() {
            let tol = VIOLATION_TOL * scale;
            let mut viol: Vec<(usize, f64)> = (0..ns)
                .filter(|&s| !in_set[k][s])
                .map(|s| (s, loss[s] - sol.t[k]))
                .filter(|&(_, v)| v > tol)
                .collect();
            if viol.is_empty() {
                continue;
            }
            viol.sort_by(|a, b| b.1.total_cmp(&a.1));
            let cap = (((1.0 - alpha) * ns as f64).ceil() as usize).max(50);
            for &(s, _) in viol.iter().take(cap) {
                in_set[k][s] = true;
                active[k].push(s);
            }
            added = true;
        }
        if !added {
            break sol;
        }
        if own_rounds >= MAX_ROUNDS {
            return Err(AllocError::Solver(format!(
                "constraint generation did not close in {MAX_ROUNDS} rounds"
            )));
        }
    };
    let mean_loss = -p.mean_pnl().iter().zip(&sol.x).map(|(a, b)| a * b).sum::<f64>();
    let risk_lp = if tails.is_empty() {
        // λ = 0: report the mixture of the sample's CVaRs.
        let sample = p.sample(&sol.x)?;
        let mut v = 0.0;
        for &(a, w) in &levels {
            v += w * if a > 0.0 {
                crate::risk::RiskMeasure::Es { alpha: a }.eval(&sample)?
            } else {
                mean_loss
            };
        }
        v
    } else {
        w0 * mean_loss + tails.iter().zip(&sol.cvar).map(|(l, c)| l.1 * c).sum::<f64>()
    };
    let report = SolverReport {
        method: "clarabel".into(),
        status: format!("{:?}", sol.status),
        iterations,
        rounds,
        active_scenarios: active.iter().map(Vec::len).sum(),
        seconds: start.elapsed().as_secs_f64(),
        levels: levels.len(),
        risk_gap: 0.0,
    };
    let mut x = sol.x;
    // Interior-point iterates sit inside the bounds up to the solver tolerance; clip the
    // last digits so that reported positions never leave their box.
    for (v, pos) in x.iter_mut().zip(&p.positions) {
        *v = v.clamp(pos.min, pos.max);
    }
    p.report(x, settings, risk_lp, report)
}

/// Below `4·SUBSAMPLE` scenarios the active sets start from the most extreme scenarios;
/// above, from the tail of the optimum on every fourth scenario (itself solved the same
/// way, so the guesses cascade 10⁴ → 2500 → 625).
pub const SUBSAMPLE: usize = 250;

/// The optimum of the same problem on every fourth scenario (probabilities renormalised);
/// `None` when that smaller LP fails.
fn subsample_guess(
    p: &Problem,
    settings: &Settings,
    levels: &[(f64, f64)],
) -> Option<(Vec<f64>, u64, usize)> {
    let n = p.n();
    let ns = p.pnl.rows();
    let rows: Vec<usize> = (0..ns / 4).map(|j| 4 * j).collect();
    let data = p.pnl.as_slice();
    let mut sub = Vec::with_capacity(rows.len() * n);
    for &s in &rows {
        sub.extend_from_slice(&data[s * n..(s + 1) * n]);
    }
    let probs = p.probs.as_ref().map(|_| {
        let w: Vec<f64> = rows.iter().map(|&s| p.prob(s)).collect();
        let t: f64 = w.iter().sum();
        w.into_iter().map(|v| v / t).collect()
    });
    let small =
        Problem { pnl: crate::risk::Scenarios::new(sub, rows.len(), n).ok()?, probs, ..p.clone() };
    solve_levels(&small, settings, levels, None)
        .ok()
        .map(|a| (a.x, a.solver.iterations, a.solver.rounds))
}

/// The worst scenarios under `x` holding at least `mass` of the probability (and 50 rows).
fn worst_under(p: &Problem, x: &[f64], mass: f64) -> Vec<usize> {
    let mut pnl = vec![0.0; p.pnl.rows()];
    p.pnl.pnl_into(x, &mut pnl);
    let mut order: Vec<usize> = (0..pnl.len()).collect();
    order.sort_by(|&a, &b| pnl[a].total_cmp(&pnl[b]).then(a.cmp(&b)));
    take_mass(p, order, mass)
}

/// The first scenarios of `order` until they hold `mass` (capped at 1) and at least 50 rows.
fn take_mass(p: &Problem, order: Vec<usize>, mass: f64) -> Vec<usize> {
    let target = mass.min(1.0);
    let mut m = 0.0;
    let mut out = Vec::new();
    for s in order {
        if m >= target - 1e-12 && out.len() >= 50 {
            break;
        }
        m += p.prob(s);
        out.push(s);
    }
    out
}

/// The most extreme scenarios (largest `Σ_i |pnl_si|·range_i`) holding at least `3·tail`
/// of the probability.
fn initial_active(p: &Problem, tail: f64) -> Vec<usize> {
    let n = p.n();
    let range: Vec<f64> = p
        .positions
        .iter()
        .map(|q| {
            let r = q.min.abs().max(q.max.abs());
            if r.is_finite() && r > 0.0 {
                r
            } else {
                1.0
            }
        })
        .collect();
    let mut score: Vec<(usize, f64)> = p
        .pnl
        .as_slice()
        .chunks_exact(n)
        .enumerate()
        .map(|(s, row)| (s, row.iter().zip(&range).map(|(a, r)| a.abs() * r).sum()))
        .collect();
    score.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    take_mass(p, score.into_iter().map(|s| s.0).collect(), 3.0 * tail)
}

/// Where the LP's variables sit: `x | u | y (shared losses) | per level (t_k, z_k…)`.
struct Layout {
    /// Positions.
    n: usize,
    /// True when spread costs enter the objective.
    costs: bool,
    /// True when the `u_i ≥ |x_i|` variables exist (costs, or a row on `|x|`).
    need_u: bool,
    /// Scenarios whose loss is a shared variable `y_s` (several levels), sorted; empty with
    /// one level.
    shared: Vec<usize>,
    /// Index of the first `y_s`.
    y_at: usize,
    /// Per level: index of `t_k` (its `z_k…` follow).
    tail_at: Vec<usize>,
    /// Number of variables.
    nv: usize,
}

impl Layout {
    fn new(p: &Problem, settings: &Settings, rows: &[Row], active: &[Vec<usize>]) -> Layout {
        let n = p.n();
        let costs = settings.spread_costs && p.positions.iter().any(|q| q.spread_usd > 0.0);
        let need_u = costs || rows.iter().any(|r| r.abs);
        let nu = if need_u { n } else { 0 };
        // With several levels (spectral), the loss of each scenario is one variable y_s ≥
        // −pnl_s·x shared by the levels, so a scenario costs one dense row however many
        // levels hold it in their active set; the level rows z_ks ≥ y_s − t_k are sparse.
        let shared: Vec<usize> = if active.len() > 1 {
            let mut u: Vec<usize> = active.iter().flatten().copied().collect();
            u.sort_unstable();
            u.dedup();
            u
        } else {
            Vec::new()
        };
        let y_at = n + nu;
        let mut tail_at = Vec::with_capacity(active.len());
        let mut nv = n + nu + shared.len();
        for a in active {
            tail_at.push(nv);
            nv += 1 + a.len();
        }
        Layout { n, costs, need_u, shared, y_at, tail_at, nv }
    }
}

/// Builds and solves the LP with the scenario rows of `active[k]` for each tail level.
fn solve_restricted(
    p: &Problem,
    settings: &Settings,
    tails: &[(f64, f64)],
    w0: f64,
    active: &[Vec<usize>],
) -> Result<LpSolution, AllocError> {
    let rows = p.rows();
    let lay = Layout::new(p, settings, &rows, active);
    let n = lay.n;
    // The LP is posed in scaled P&L units `pnl·sc` (largest entry 1) so that the
    // interior-point method sees O(1) numbers; t and z come back divided by sc.
    let sc = 1.0 / p.pnl.as_slice().iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    let q = objective(p, settings.lambda, tails, w0, active, &lay, sc);
    let (a, b) = constraints(p, &rows, active, &lay, sc);
    let (sx, iterations, status) = solve_clarabel(&q, &a, &b, settings)?;
    let mut cvar = Vec::with_capacity(tails.len());
    let mut t = Vec::with_capacity(tails.len());
    for (k, &(alpha, _)) in tails.iter().enumerate() {
        let at = lay.tail_at[k];
        let tk = sx[at] / sc;
        let tail: f64 = active[k]
            .iter()
            .enumerate()
            .map(|(j, &s)| p.prob(s) * sx[at + 1 + j].max(0.0))
            .sum::<f64>()
            / sc;
        t.push(tk);
        cvar.push(tk + tail / (1.0 - alpha));
    }
    Ok(LpSolution { x: sx[..n].to_vec(), cvar, t, iterations, status })
}

/// The objective's linear coefficients, in scaled P&L units `sc`.
fn objective(
    p: &Problem,
    lambda: f64,
    tails: &[(f64, f64)],
    w0: f64,
    active: &[Vec<usize>],
    lay: &Layout,
    sc: f64,
) -> Vec<f64> {
    let n = lay.n;
    let mean = p.mean_pnl();
    let mut q = vec![0.0; lay.nv];
    for i in 0..n {
        q[i] = -mean[i] * sc * (1.0 + lambda * w0);
    }
    if lay.costs {
        for (i, pos) in p.positions.iter().enumerate() {
            q[n + i] = 0.5 * pos.spread_usd * sc;
        }
    }
    for (k, &(alpha, w)) in tails.iter().enumerate() {
        let at = lay.tail_at[k];
        q[at] = lambda * w;
        for (j, &s) in active[k].iter().enumerate() {
            q[at + 1 + j] = lambda * w * p.prob(s) / (1.0 - alpha);
        }
    }
    q
}

/// The constraints `A·v ≤ b` (every row in the nonnegative cone of `b − A·v`): position
/// bounds, `u ≥ |x|`, the problem's rows, and the scenario rows of the active sets.
fn constraints(
    p: &Problem,
    rows: &[Row],
    active: &[Vec<usize>],
    lay: &Layout,
    sc: f64,
) -> (CscMatrix<f64>, Vec<f64>) {
    let (n, shared, y_at) = (lay.n, &lay.shared, lay.y_at);
    let (mut ri, mut ci, mut vv, mut b) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut row = 0usize;
    let mut push = |entries: &[(usize, f64)], rhs: f64, ri: &mut Vec<usize>, b: &mut Vec<f64>| {
        for &(c, v) in entries {
            ri.push(row);
            ci.push(c);
            vv.push(v);
        }
        b.push(rhs);
        row += 1;
    };
    for (i, pos) in p.positions.iter().enumerate() {
        if pos.max.is_finite() {
            push(&[(i, 1.0)], pos.max, &mut ri, &mut b);
        }
        if pos.min.is_finite() {
            push(&[(i, -1.0)], -pos.min, &mut ri, &mut b);
        }
        if lay.need_u {
            push(&[(i, 1.0), (n + i, -1.0)], 0.0, &mut ri, &mut b);
            push(&[(i, -1.0), (n + i, -1.0)], 0.0, &mut ri, &mut b);
        }
    }
    for r in rows {
        // Each row divided by its largest coefficient (premiums in USD, margins in coin).
        let shift = if r.abs { n } else { 0 };
        let big = r.coef.iter().fold(0.0f64, |m, c| m.max(c.1.abs()));
        let f = if big > 0.0 { 1.0 / big } else { 1.0 };
        let e: Vec<(usize, f64)> = r.coef.iter().map(|&(j, a)| (j + shift, a * f)).collect();
        push(&e, r.rhs * f, &mut ri, &mut b);
    }
    let data = p.pnl.as_slice();
    let mut e: Vec<(usize, f64)> = Vec::with_capacity(n + 2);
    let loss_row = |e: &mut Vec<(usize, f64)>, s: usize| {
        e.clear();
        e.extend(
            data[s * n..(s + 1) * n]
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(i, v)| (i, -v * sc)),
        );
    };
    for (j, &s) in shared.iter().enumerate() {
        // −pnl_s·x − y_s ≤ 0
        loss_row(&mut e, s);
        e.push((y_at + j, -1.0));
        push(&e, 0.0, &mut ri, &mut b);
    }
    for (k, a) in active.iter().enumerate() {
        let at = lay.tail_at[k];
        for (j, &s) in a.iter().enumerate() {
            // −pnl_s·x − t_k − z_kj ≤ 0, or y_s − t_k − z_kj ≤ 0 with shared losses.
            if shared.is_empty() {
                loss_row(&mut e, s);
            } else {
                e.clear();
                let at_y = shared.binary_search(&s).unwrap_or(0);
                e.push((y_at + at_y, 1.0));
            }
            e.push((at, -1.0));
            e.push((at + 1 + j, -1.0));
            push(&e, 0.0, &mut ri, &mut b);
            push(&[(at + 1 + j, -1.0)], 0.0, &mut ri, &mut b);
        }
    }
    let m = row;
    (CscMatrix::new_from_triplets(m, lay.nv, ri, ci, vv), b)
}

/// Solves `min q·v` s.t. `b − A·v ≥ 0` with clarabel: the solution, the iteration count and
/// the (solved or almost solved) status.
fn solve_clarabel(
    q: &[f64],
    a: &CscMatrix<f64>,
    b: &[f64],
    settings: &Settings,
) -> Result<(Vec<f64>, u32, SolverStatus), AllocError> {
    let nv = q.len();
    let pm = CscMatrix::<f64>::zeros((nv, nv));
    let cones: Vec<SupportedConeT<f64>> = vec![NonnegativeConeT(b.len())];
    let cs = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(200)
        // Supernodal LDLᵀ (faer): the scenario rows are dense in x, so the KKT factor has a
        // dense n×n block that a supernodal method handles with dense kernels.
        .direct_solve_method(settings.linear_solver.clone())
        .max_threads(u32::try_from(rayon::current_num_threads()).unwrap_or(1))
        .build()
        .map_err(|e| AllocError::Solver(format!("{e:?}")))?;
    let mut solver = DefaultSolver::new(&pm, q, a, b, &cones, cs)
        .map_err(|e| AllocError::Solver(format!("{e:?}")))?;
    solver.solve();
    let status = solver.solution.status;
    match status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => {}
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => {
            return Err(AllocError::Infeasible(format!("{status:?}")))
        }
        SolverStatus::DualInfeasible | SolverStatus::AlmostDualInfeasible => {
            return Err(AllocError::Unbounded)
        }
        other => return Err(AllocError::Solver(format!("clarabel stopped: {other:?}"))),
    }
    let iterations = solver.solution.iterations;
    Ok((std::mem::take(&mut solver.solution.x), iterations, status))
}
