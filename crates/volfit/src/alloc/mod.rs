//! Portfolio and collateral allocation over scenario matrices.
//!
//! ## Brief overview
//! A [`Problem`] holds everything in plain matrices: the horizon P&L per unit of each
//! candidate under each scenario (USD), the candidates' premiums, spreads and position
//! bounds, and per underlying ([`Group`], one per coin) net/gross limits, coin collateral and
//! a portfolio-margin grid (P&L in coin per unit position under each shock). [`Settings`]
//! choose the reward, the risk measure and `λ`.
//!
//! - **Expected P&L − λ·(CVaR or spectral risk)** is solved as ONE linear program
//!   (Rockafellar & Uryasev 2000) by the interior-point solver `clarabel`. A
//!   spectral measure enters as a mixture of CVaRs whose weights come from the
//!   [`Spectrum`] on a grid of levels ([`cvar_mixture`]); the mixture is never above the
//!   exact spectral risk, so the grid is refined ([`cvar_mixture_refined`]) and the LP
//!   solved again until the returned portfolio's `risk_lp` is within
//!   [`Settings::spectral_gap`] (0.5 %) of its exact `risk` (the gap and the level count
//!   are in [`SolverReport`]). Scenario
//!   rows are added by constraint generation; the returned point is the optimum of the full
//!   LP: a relaxed optimum that satisfies every dropped scenario row is feasible for the
//!   full LP with the same objective, hence optimal; otherwise the violated rows are added.
//!   At the optimum the LP's risk value equals the empirical CVaR of the returned `x`.
//! - **Expected utility (CARA, CRRA) − λ·risk** is not linear; it goes through volfit-optim's
//!   L-BFGS-B with the box bounds enforced by projection and every other
//!   constraint by a quadratic penalty, then a feasibility restoration that shrinks the
//!   point toward the feasible origin, so what is returned never violates a constraint.
//!
//! Every [`Allocation`] reports the reward, the risk of the chosen measure evaluated on the
//! resulting P&L sample ([`crate::risk::evaluate`]), the LP's own risk value, Euler risk
//! contributions per position (summing to the risk only for a positively homogeneous
//! measure; not for entropic/CARA-type ones, where the marginal risks `∂ρ/∂x_i` are the
//! meaningful numbers), margin used and available per coin, the
//! binding constraints and solver diagnostics. [`frontier`] solves over a grid of `λ`.
//!
//! ## Units and signs
//! P&L is in USD per unit position, gains positive. Positions `x` are in units (one option =
//! one coin of underlying). The premium paid for `x` is `Σ price_i·x_i` (shorts receive).
//! Initial margin in coin of group `c` is `max(0, max_g −M_c[g]·x)` for its margin grid
//! `M_c` (coin P&L per unit under shock `g`), and must not exceed the collateral in coin.

mod lp;
mod utility;

use crate::risk::Scenarios;
use crate::risk::{RiskError, RiskMeasure, Sample, Spectrum};
use std::fmt;
use std::str::FromStr;

/// One candidate position.
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    /// Instrument name (for tables).
    pub name: String,
    /// Index of its underlying in [`Problem::groups`].
    pub group: usize,
    /// Premium per unit in USD (0 for futures and perpetuals).
    pub price_usd: f64,
    /// Ask − bid per unit in USD (0 if unknown); half of it is the cost of trading one unit.
    pub spread_usd: f64,
    /// Lower bound in units (may be `-inf`).
    pub min: f64,
    /// Upper bound in units (may be `inf`).
    pub max: f64,
}

/// One underlying (coin): limits, collateral and margin grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Name, e.g. `BTC`.
    pub name: String,
    /// `|Σ x_i| ≤ net_limit` over the group's positions (units).
    pub net_limit: Option<f64>,
    /// `Σ |x_i| ≤ gross_limit` over the group's positions (units).
    pub gross_limit: Option<f64>,
    /// Collateral in coin; initial margin must not exceed it.
    pub collateral: Option<f64>,
    /// Margin grid: rows = shocks, columns = all candidates, P&L in coin per unit (0 for
    /// candidates of other groups).
    pub margin: Option<Scenarios>,
    /// Coin price in USD, to show margin in USD (optional).
    pub price_usd: Option<f64>,
}

/// Premium budget in USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Net premium paid `Σ price_i·x_i ≤ net`.
    pub net: Option<f64>,
    /// Gross premium `Σ price_i·|x_i| ≤ gross`.
    pub gross: Option<f64>,
}

/// The allocation problem on matrices.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Horizon P&L in USD: rows = scenarios, columns = candidates.
    pub pnl: Scenarios,
    /// Scenario probabilities (`None` = equally likely); normalised by [`Problem::validate`].
    pub probs: Option<Vec<f64>>,
    /// Candidates, one per column of `pnl`.
    pub positions: Vec<Position>,
    /// Underlyings referenced by [`Position::group`].
    pub groups: Vec<Group>,
    /// Premium budget.
    pub budget: Budget,
}

/// Why an allocation could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// The problem data are inconsistent (shapes, bounds, limits).
    #[error("invalid allocation problem: {0}")]
    Invalid(String),
    /// A risk-measure or reward error.
    #[error(transparent)]
    Risk(#[from] RiskError),
    /// The measure has no linear-programming form.
    #[error("risk measure `{0}` has no LP form (use es:α or spectral-exp/spectral-pow)")]
    NotLinear(String),
    /// The constraints admit no position.
    #[error("the constraints admit no position (solver status {0})")]
    Infeasible(String),
    /// The objective is unbounded: some position has no bound.
    #[error("the objective is unbounded; bound every position (min/max) or add limits")]
    Unbounded,
    /// The solver failed.
    #[error("solver failed: {0}")]
    Solver(String),
}

/// The reward to maximise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RewardSpec {
    /// Expected P&L (minus half-spread costs when [`Settings::spread_costs`]).
    Expected,
    /// CARA expected utility `E[−e^{−a·X}]/a` of the P&L.
    Cara {
        /// Absolute risk aversion `a > 0` (1/USD).
        a: f64,
    },
    /// CRRA expected utility of wealth `w + X`.
    Crra {
        /// Relative risk aversion `γ > 0`.
        gamma: f64,
        /// Initial wealth `w > 0` in USD.
        wealth: f64,
    },
}

impl FromStr for RewardSpec {
    type Err = String;
    /// `expected` (alias `mean`), `cara:a`, `crra:γ:wealth`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        let num = |i: usize| -> Result<f64, String> {
            parts
                .get(i)
                .ok_or_else(|| format!("reward `{s}` needs {} parameter(s)", i))?
                .parse::<f64>()
                .map_err(|_| format!("reward `{s}`: `{}` is not a number", parts[i]))
        };
        let r = match parts[0] {
            "expected" | "mean" if parts.len() == 1 => RewardSpec::Expected,
            "cara" if parts.len() == 2 => RewardSpec::Cara { a: num(1)? },
            "crra" if parts.len() == 3 => RewardSpec::Crra { gamma: num(1)?, wealth: num(2)? },
            _ => {
                return Err(format!(
                    "unknown reward `{s}` (known: expected, cara:a, crra:gamma:wealth)"
                ))
            }
        };
        match r {
            RewardSpec::Cara { a } if !(a.is_finite() && a > 0.0) => {
                Err(format!("reward `{s}`: a must be finite and > 0"))
            }
            RewardSpec::Crra { gamma, wealth }
                if !(gamma.is_finite() && gamma > 0.0 && wealth.is_finite() && wealth > 0.0) =>
            {
                Err(format!("reward `{s}`: gamma and wealth must be finite and > 0"))
            }
            r => Ok(r),
        }
    }
}

impl fmt::Display for RewardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewardSpec::Expected => write!(f, "expected"),
            RewardSpec::Cara { a } => write!(f, "cara:{a}"),
            RewardSpec::Crra { gamma, wealth } => write!(f, "crra:{gamma}:{wealth}"),
        }
    }
}

/// How to solve.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The reward.
    pub reward: RewardSpec,
    /// The risk measure: `es:α`, or a spectral measure (LP path); any measure of
    /// [`RiskMeasure`] with a (sub)gradient on the utility path.
    pub risk: RiskMeasure,
    /// Risk aversion `λ ≥ 0`.
    pub lambda: f64,
    /// Number of CVaR levels approximating a spectral measure ([`cvar_mixture`]): the
    /// starting grid, refined until the mixture is within `spectral_gap` of the exact value.
    pub levels: usize,
    /// Largest relative shortfall `(risk − risk_lp)/|risk|` of the LP's CVaR mixture below
    /// the exact spectral risk of the returned portfolio; the grid of levels is refined
    /// (more halvings, each interval split) until it holds (default 0.005 = 0.5 %).
    pub spectral_gap: f64,
    /// Subtract half-spread costs `Σ |x_i|·spread_i/2` from the reward.
    pub spread_costs: bool,
    /// Solve the LP by scenario constraint generation (exact; much faster for large
    /// scenario counts). `false` builds every scenario row at once.
    pub constraint_generation: bool,
    /// clarabel's LDLᵀ method: `faer` (supernodal, multithreaded; default) or `qdldl`.
    pub linear_solver: String,
    /// Number of starts of the utility path (the origin, then seeded points in the box).
    pub starts: usize,
    /// Seed of the utility path's extra starts.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reward: RewardSpec::Expected,
            risk: RiskMeasure::Es { alpha: 0.95 },
            lambda: 1.0,
            levels: 8,
            spectral_gap: 0.005,
            spread_costs: false,
            constraint_generation: true,
            linear_solver: "faer".into(),
            starts: 4,
            seed: 7,
        }
    }
}

/// Margin of one group at the allocation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MarginUse {
    /// Group (coin) name.
    pub coin: String,
    /// Initial margin used, in coin.
    pub used: f64,
    /// Collateral, in coin (`None` when unconstrained).
    pub collateral: Option<f64>,
    /// Collateral minus margin, in coin.
    pub available: Option<f64>,
    /// Margin used in USD, when the coin price is known.
    pub used_usd: Option<f64>,
    /// Index of the worst shock of the margin grid.
    pub worst_shock: Option<usize>,
}

/// Solver diagnostics.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SolverReport {
    /// `clarabel` or `lbfgsb-penalty`.
    pub method: String,
    /// Final status of the (last) solve.
    pub status: String,
    /// Interior-point (or L-BFGS-B) iterations summed over rounds/starts.
    pub iterations: u64,
    /// Constraint-generation rounds (LP) or starts (utility).
    pub rounds: usize,
    /// Scenario rows in the last LP (per CVaR level, summed).
    pub active_scenarios: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// CVaR levels of the final LP (1 for ES, 0 on the utility path).
    pub levels: usize,
    /// `(risk − risk_lp)/|risk|`: how far the LP's risk value lies below the exact risk of
    /// the portfolio (0 for ES, where the LP is exact; NaN on the utility path). The
    /// mixture never exceeds the exact spectral risk, so this is ≥ 0 up to solver
    /// tolerance.
    pub risk_gap: f64,
}

/// The result of one allocation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Allocation {
    /// Positions in units, one per candidate.
    pub x: Vec<f64>,
    /// `λ` used.
    pub lambda: f64,
    /// The reward at `x` (expected P&L net of costs, or expected utility).
    pub reward: f64,
    /// Expected P&L in USD (before costs).
    pub expected_pnl: f64,
    /// Half-spread costs in USD (0 when not charged).
    pub cost: f64,
    /// The risk measure evaluated on the P&L sample of `x` (loss units, USD).
    pub risk: f64,
    /// The LP's risk value (CVaR, or the CVaR mixture); NaN on the utility path.
    pub risk_lp: f64,
    /// Euler contributions `x_i·∂ρ/∂x_i` of each position to `risk`; they sum to `risk`
    /// only when the measure is positively homogeneous (`contributions_additive`).
    pub contributions: Vec<f64>,
    /// Marginal risks `∂ρ/∂x_i` (USD of risk per extra unit): meaningful for every
    /// measure, and the ones to read when the contributions are not additive.
    pub marginal: Vec<f64>,
    /// True when the risk measure is positively homogeneous, so that the Euler
    /// contributions sum to the risk ([`RiskMeasure::is_positively_homogeneous`]); false
    /// for entropic and the exponential/quadratic OCE.
    pub contributions_additive: bool,
    /// Net premium paid, USD.
    pub premium_net: f64,
    /// Gross premium, USD.
    pub premium_gross: f64,
    /// Margin per group.
    pub margin: Vec<MarginUse>,
    /// Constraints holding with equality (within tolerance), by label.
    pub binding: Vec<String>,
    /// Largest constraint violation found (≤ tolerance for a valid result), in the
    /// constraint's own units.
    pub max_violation: f64,
    /// Solver diagnostics.
    pub solver: SolverReport,
}

/// One point of the efficient frontier.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FrontierPoint {
    /// `λ`.
    pub lambda: f64,
    /// Reward at the optimum.
    pub reward: f64,
    /// Risk (measure evaluated on the sample).
    pub risk: f64,
    /// The LP's risk value.
    pub risk_lp: f64,
    /// Positions.
    pub x: Vec<f64>,
}

/// One linear constraint `Σ a_j·x_j ≤ rhs`, or `Σ a_j·|x_j| ≤ rhs` when `abs`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Label for reports, e.g. `margin BTC`.
    pub label: String,
    /// Sparse coefficients `(column, a)`.
    pub coef: Vec<(usize, f64)>,
    /// Coefficients apply to `|x_j|`.
    pub abs: bool,
    /// Right-hand side.
    pub rhs: f64,
}

impl Row {
    /// `Σ a_j·x_j` (or of `|x_j|`).
    pub fn lhs(&self, x: &[f64]) -> f64 {
        self.coef.iter().map(|&(j, a)| a * if self.abs { x[j].abs() } else { x[j] }).sum()
    }
}

impl Problem {
    /// Number of candidates.
    pub fn n(&self) -> usize {
        self.positions.len()
    }

    /// Checks shapes and values, and normalises the probabilities.
    ///
    /// # Errors
    /// [`AllocError::Invalid`] naming the first inconsistency.
    pub fn validate(&mut self) -> Result<(), AllocError> {
        let bad = |m: String| Err(AllocError::Invalid(m));
        let n = self.positions.len();
        if n == 0 {
            return bad("no candidates".into());
        }
        if self.pnl.cols() != n {
            return bad(format!("P&L matrix has {} columns for {n} candidates", self.pnl.cols()));
        }
        for p in &self.positions {
            if p.group >= self.groups.len() {
                return bad(format!("{}: group {} does not exist", p.name, p.group));
            }
            if p.min.is_nan() || p.max.is_nan() || p.min > p.max {
                return bad(format!("{}: empty bounds [{}, {}]", p.name, p.min, p.max));
            }
            if !(p.price_usd.is_finite() && p.spread_usd.is_finite() && p.spread_usd >= 0.0) {
                return bad(format!(
                    "{}: price {} / spread {} must be finite (spread ≥ 0)",
                    p.name, p.price_usd, p.spread_usd
                ));
            }
        }
        for g in &self.groups {
            for (what, v) in [
                ("net limit", g.net_limit),
                ("gross limit", g.gross_limit),
                ("collateral", g.collateral),
            ] {
                if let Some(v) = v {
                    if !(v.is_finite() && v >= 0.0) {
                        return bad(format!("{}: {what} {v} must be finite and ≥ 0", g.name));
                    }
                }
            }
            if let Some(m) = &g.margin {
                if m.cols() != n {
                    return bad(format!(
                        "{}: margin grid has {} columns for {n} candidates",
                        g.name,
                        m.cols()
                    ));
                }
            } else if g.collateral.is_some() {
                return bad(format!("{}: collateral given but no margin grid", g.name));
            }
        }
        for (what, v) in [("net budget", self.budget.net), ("gross budget", self.budget.gross)] {
            if let Some(v) = v {
                if !v.is_finite() || (what == "gross budget" && v < 0.0) {
                    return bad(format!("{what} {v} must be finite (gross ≥ 0)"));
                }
            }
        }
        if let Some(w) = &self.probs {
            if w.len() != self.pnl.rows() {
                return bad(format!("{} probabilities for {} scenarios", w.len(), self.pnl.rows()));
            }
            let s = Sample::weighted(vec![0.0; w.len()], w.clone())?;
            self.probs = s.probs().map(<[f64]>::to_vec);
        }
        Ok(())
    }

    /// Probability of scenario `s`.
    pub fn prob(&self, s: usize) -> f64 {
        match &self.probs {
            Some(p) => p[s],
            None => 1.0 / self.pnl.rows() as f64,
        }
    }

    /// Expected P&L per unit of each candidate.
    pub fn mean_pnl(&self) -> Vec<f64> {
        let n = self.n();
        let mut m = vec![0.0; n];
        for (s, row) in self.pnl.as_slice().chunks_exact(n).enumerate() {
            let p = self.prob(s);
            for (mi, v) in m.iter_mut().zip(row) {
                *mi += p * v;
            }
        }
        m
    }

    /// Every constraint other than the position bounds, as rows: group net/gross limits,
    /// premium budget, and one row per margin shock of every group with collateral.
    pub fn rows(&self) -> Vec<Row> {
        let n = self.n();
        let mut rows = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&i| self.positions[i].group == gi).collect();
            if let Some(l) = g.net_limit {
                let c: Vec<(usize, f64)> = members.iter().map(|&i| (i, 1.0)).collect();
                rows.push(Row {
                    label: format!("net limit {} (long)", g.name),
                    coef: c.clone(),
                    abs: false,
                    rhs: l,
                });
                rows.push(Row {
                    label: format!("net limit {} (short)", g.name),
                    coef: c.into_iter().map(|(i, a)| (i, -a)).collect(),
                    abs: false,
                    rhs: l,
                });
            }
            if let Some(l) = g.gross_limit {
                rows.push(Row {
                    label: format!("gross limit {}", g.name),
                    coef: members.iter().map(|&i| (i, 1.0)).collect(),
                    abs: true,
                    rhs: l,
                });
            }
            if let (Some(c), Some(m)) = (g.collateral, &g.margin) {
                for (k, r) in m.as_slice().chunks_exact(n).enumerate() {
                    let coef: Vec<(usize, f64)> = r
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(i, v)| (i, -v))
                        .collect();
                    rows.push(Row {
                        label: format!("margin {} shock {k}", g.name),
                        coef,
                        abs: false,
                        rhs: c,
                    });
                }
            }
        }
        let prices: Vec<(usize, f64)> = self
            .positions
            .iter()
            .enumerate()
            .filter(|(_, p)| p.price_usd != 0.0)
            .map(|(i, p)| (i, p.price_usd))
            .collect();
        if let Some(b) = self.budget.net {
            rows.push(Row {
                label: "net premium budget".into(),
                coef: prices.clone(),
                abs: false,
                rhs: b,
            });
        }
        if let Some(b) = self.budget.gross {
            let coef = prices.iter().map(|&(i, p)| (i, p.abs())).collect();
            rows.push(Row { label: "gross premium budget".into(), coef, abs: true, rhs: b });
        }
        rows
    }

    /// Portfolio P&L per scenario.
    pub fn portfolio_pnl(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.pnl.rows()];
        self.pnl.pnl_into(x, &mut out);
        out
    }

    /// The P&L sample of `x` (weighted when the problem has probabilities).
    ///
    /// # Errors
    /// [`RiskError`] for non-finite P&L.
    pub fn sample(&self, x: &[f64]) -> Result<Sample, RiskError> {
        let pnl = self.portfolio_pnl(x);
        match &self.probs {
            Some(p) => Sample::weighted(pnl, p.clone()),
            None => Sample::new(pnl),
        }
    }

    /// Half-spread cost of `x` in USD.
    pub fn cost(&self, x: &[f64]) -> f64 {
        self.positions.iter().zip(x).map(|(p, v)| 0.5 * p.spread_usd * v.abs()).sum()
    }

    /// Margin used per group at `x`.
    pub fn margin(&self, x: &[f64]) -> Vec<MarginUse> {
        self.groups
            .iter()
            .map(|g| {
                let (used, worst) = match &g.margin {
                    Some(m) => {
                        let mut loss = vec![0.0; m.rows()];
                        m.pnl_into(x, &mut loss);
                        let (k, l) = loss
                            .iter()
                            .enumerate()
                            .map(|(k, v)| (k, -v))
                            .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
                        (l.max(0.0), Some(k))
                    }
                    None => (0.0, None),
                };
                MarginUse {
                    coin: g.name.clone(),
                    used,
                    collateral: g.collateral,
                    available: g.collateral.map(|c| c - used),
                    used_usd: g.price_usd.map(|p| p * used),
                    worst_shock: worst,
                }
            })
            .collect()
    }

    /// Binding constraints at `x` and the largest violation (bounds and rows), with the
    /// tolerance `tol·max(1, |rhs|)`.
    pub fn check(&self, x: &[f64], tol: f64) -> (Vec<String>, f64) {
        let mut binding = Vec::new();
        let mut worst = 0.0f64;
        for (p, &v) in self.positions.iter().zip(x) {
            if p.max.is_finite() {
                worst = worst.max(v - p.max);
                if p.max != p.min && (v - p.max).abs() <= tol * p.max.abs().max(1.0) {
                    binding.push(format!("max {}", p.name));
                }
            }
            if p.min.is_finite() {
                worst = worst.max(p.min - v);
                if p.max != p.min && (v - p.min).abs() <= tol * p.min.abs().max(1.0) {
                    binding.push(format!("min {}", p.name));
                }
            }
        }
        let mut margin_bound: Vec<String> = Vec::new();
        for r in self.rows() {
            let lhs = r.lhs(x);
            worst = worst.max(lhs - r.rhs);
            if (lhs - r.rhs).abs() <= tol * r.rhs.abs().max(1.0) {
                if let Some(rest) = r.label.strip_prefix("margin ") {
                    // One entry per coin, not per shock.
                    let coin = rest.split(' ').next().unwrap_or(rest).to_owned();
                    let label = format!("margin {coin}");
                    if !margin_bound.contains(&label) {
                        margin_bound.push(label);
                    }
                } else {
                    binding.push(r.label);
                }
            }
        }
        binding.extend(margin_bound);
        (binding, worst)
    }

    /// Builds the full [`Allocation`] report of a point `x` found by a solver.
    ///
    /// # Errors
    /// [`AllocError::Risk`] when the risk measure cannot be evaluated.
    pub fn report(
        &self,
        x: Vec<f64>,
        settings: &Settings,
        risk_lp: f64,
        solver: SolverReport,
    ) -> Result<Allocation, AllocError> {
        let n = self.n();
        let sample = self.sample(&x)?;
        let mut g = vec![0.0; sample.len()];
        let risk = settings.risk.value_grad(&sample, &mut g)?;
        // ∂ρ/∂x_i = Σ_s g_s·pnl_si; contribution_i = x_i·∂ρ/∂x_i.
        let mut dx = vec![0.0; n];
        self.pnl.pull_back(&g, &mut dx);
        let contributions: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a * b).collect();
        let mut solver = solver;
        if risk_lp.is_finite() {
            solver.risk_gap = if risk == risk_lp { 0.0 } else { (risk - risk_lp) / risk.abs() };
        }
        let expected_pnl = sample.mean();
        let cost = if settings.spread_costs { self.cost(&x) } else { 0.0 };
        let reward = match settings.reward {
            RewardSpec::Expected => expected_pnl - cost,
            _ => utility::reward_value(self, settings, &x).unwrap_or(f64::NAN),
        };
        let premium_net = self.positions.iter().zip(&x).map(|(p, v)| p.price_usd * v).sum();
        let premium_gross =
            self.positions.iter().zip(&x).map(|(p, v)| (p.price_usd * v).abs()).sum();
        let (binding, max_violation) = self.check(&x, 1e-6);
        Ok(Allocation {
            margin: self.margin(&x),
            x,
            lambda: settings.lambda,
            reward,
            expected_pnl,
            cost,
            risk,
            risk_lp,
            contributions,
            marginal: dx,
            contributions_additive: settings.risk.is_positively_homogeneous(),
            premium_net,
            premium_gross,
            binding,
            max_violation,
            solver,
        })
    }
}

/// The weights `(α_k, w_k)` of a mixture `Σ w_k·CVaR_{α_k}` approximating the spectral
/// measure of `spectrum` (`Σ w_k = 1`, `w_k ≥ 0`; `α = 0` is the mean loss).
///
/// ES is exact: one level. Otherwise the tail masses are halved level by level,
/// `s_k = 2^{−k}`, `α_k = 1 − s_k`, `k < levels`, and φ is replaced by its average on each
/// interval `[α_k, α_{k+1})` (the last one reaching 1), `φ̄_k = (Ψ(s_k) − Ψ(s_{k+1}))/(s_k −
/// s_{k+1})` through the distortion Ψ. A non-decreasing step spectrum is exactly the
/// mixture with `w_k = s_k·(φ̄_k − φ̄_{k−1})`, so the mixture has unit mass and equals the
/// spectral measure whenever φ is constant on the intervals. Otherwise it is **below** the
/// spectral value of every portfolio (Chebyshev's sum inequality on each interval: φ and
/// the loss quantile both increase), and a finer grid is closer: [`cvar_mixture_refined`].
pub fn cvar_mixture(spectrum: &Spectrum, levels: usize) -> Vec<(f64, f64)> {
    cvar_mixture_refined(spectrum, levels, 1)
}

/// [`cvar_mixture`] on a finer grid: each of the `levels` halving intervals of tail mass
/// (`[s_{k+1}, s_k]`, the last one `[0, s_{levels−1}]`) is split into `split` equal parts.
/// Refining a grid never lowers the mixture of a portfolio (the coarse mixture averages
/// the fine one's φ̄ once more), so it climbs toward the exact spectral value.
pub fn cvar_mixture_refined(spectrum: &Spectrum, levels: usize, split: usize) -> Vec<(f64, f64)> {
    if let Spectrum::Es { alpha } = spectrum {
        return vec![(*alpha, 1.0)];
    }
    let (levels, split) = (levels.max(1), split.max(1));
    let halving = |k: usize| if k >= levels { 0.0 } else { 0.5f64.powi(k as i32) };
    // Tail masses from 1 down to 0.
    let mut s: Vec<f64> = Vec::with_capacity(levels * split + 1);
    for k in 0..levels {
        let (hi, lo) = (halving(k), halving(k + 1));
        s.extend((0..split).map(|j| hi - (hi - lo) * j as f64 / split as f64));
    }
    s.push(0.0);
    let mut out = Vec::with_capacity(s.len() - 1);
    let mut prev = 0.0;
    for k in 0..s.len() - 1 {
        let mass = spectrum.interval_weight(s[k], s[k + 1]);
        let avg = mass / (s[k] - s[k + 1]);
        let w = (s[k] * (avg - prev)).max(0.0);
        prev = avg;
        if w > 0.0 {
            out.push((1.0 - s[k], w));
        }
    }
    let total: f64 = out.iter().map(|p| p.1).sum();
    out.iter_mut().for_each(|p| p.1 /= total);
    out
}

/// The CVaR levels of `risk` for the LP path.
///
/// # Errors
/// [`AllocError::NotLinear`] for measures without an LP form.
pub fn lp_levels(risk: &RiskMeasure, levels: usize) -> Result<Vec<(f64, f64)>, AllocError> {
    lp_levels_refined(risk, levels, 1)
}

/// [`lp_levels`] on the grid of [`cvar_mixture_refined`].
///
/// # Errors
/// [`AllocError::NotLinear`] for measures without an LP form.
pub fn lp_levels_refined(
    risk: &RiskMeasure,
    levels: usize,
    split: usize,
) -> Result<Vec<(f64, f64)>, AllocError> {
    match risk {
        RiskMeasure::Es { alpha } => {
            risk.validate()?;
            Ok(vec![(*alpha, 1.0)])
        }
        RiskMeasure::Spectral(s) => {
            s.validate()?;
            Ok(cvar_mixture_refined(s, levels, split))
        }
        other => Err(AllocError::NotLinear(other.to_string())),
    }
}

/// Solves one allocation: the LP for the expected reward, the utility path otherwise.
///
/// # Errors
/// [`AllocError`] for invalid data, infeasible or unbounded problems, solver failures.
pub fn solve(problem: &Problem, settings: &Settings) -> Result<Allocation, AllocError> {
    if !(settings.lambda.is_finite() && settings.lambda >= 0.0) {
        return Err(AllocError::Invalid(format!("λ = {} must be finite and ≥ 0", settings.lambda)));
    }
    let mut p = problem.clone();
    p.validate()?;
    match settings.reward {
        RewardSpec::Expected => lp::solve(&p, settings),
        _ => utility::solve(&p, settings),
    }
}

/// Solves over a grid of `λ` (sorted here from large to small), one row per `λ`.
///
/// # Errors
/// The first [`AllocError`] of any point.
pub fn frontier(
    problem: &Problem,
    settings: &Settings,
    lambdas: &[f64],
) -> Result<Vec<(FrontierPoint, Allocation)>, AllocError> {
    frontier_with_progress(problem, settings, lambdas, &|_, _| {})
}

/// [`frontier`], calling `progress(done, total)` after each point (`total` = distinct `λ`).
///
/// # Errors
/// The first [`AllocError`] of any point.
pub fn frontier_with_progress(
    problem: &Problem,
    settings: &Settings,
    lambdas: &[f64],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<(FrontierPoint, Allocation)>, AllocError> {
    let mut ls: Vec<f64> = lambdas.to_vec();
    ls.sort_by(|a, b| b.total_cmp(a));
    ls.dedup();
    let mut p = problem.clone();
    p.validate()?;
    // Each LP's active scenario sets start from the tail of the previous λ's optimum.
    let mut prev: Option<Vec<f64>> = None;
    ls.iter()
        .enumerate()
        .map(|(i, &lambda)| {
            let s = Settings { lambda, ..settings.clone() };
            let a = match s.reward {
                RewardSpec::Expected => lp::solve_from(&p, &s, prev.as_deref())?,
                _ => utility::solve(&p, &s)?,
            };
            prev = Some(a.x.clone());
            let fp = FrontierPoint {
                lambda,
                reward: a.reward,
                risk: a.risk,
                risk_lp: a.risk_lp,
                x: a.x.clone(),
            };
            progress(i + 1, ls.len());
            Ok((fp, a))
        })
        .collect()
}

#[cfg(test)]
mod tests;
