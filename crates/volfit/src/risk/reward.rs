//! Reward functions of a P&L sample, their gradients, and portfolio objectives (the
//! `risk` module docs, section Rewards, give the overview).

use super::error::RiskError;
use super::measure::RiskMeasure;
use super::sample::Sample;
use super::spectral::Spectrum;
use volfit_optim::Objective;

/// A score of a P&L sample, larger is better.
pub trait Reward {
    /// Returns the reward of `pnl` and, when `grad` is given (length `pnl.len()`), writes
    /// `∂R/∂pnl_i`. Returns `None` outside the reward's domain (e.g. wealth ≤ 0 for a CRRA
    /// utility, zero variance for a Sharpe ratio).
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64>;

    /// The reward alone.
    fn value(&self, pnl: &[f64], probs: Option<&[f64]>) -> Option<f64> {
        self.value_grad(pnl, probs, None)
    }

    /// The reward of the portfolio `x` (P&L `S·x`) and its gradient `Sᵀ∇_pnl R` in
    /// `grad_x`; `pnl` and `grad_pnl` (length = scenarios) are caller-owned scratch.
    fn value_grad_weights(
        &self,
        scenarios: &Scenarios,
        x: &[f64],
        probs: Option<&[f64]>,
        pnl: &mut [f64],
        grad_pnl: &mut [f64],
        grad_x: &mut [f64],
    ) -> Option<f64> {
        scenarios.pnl_into(x, pnl);
        let v = self.value_grad(pnl, probs, Some(grad_pnl))?;
        scenarios.pull_back(grad_pnl, grad_x);
        Some(v)
    }
}

#[inline]
fn prob(probs: Option<&[f64]>, n: usize, i: usize) -> f64 {
    match probs {
        Some(p) => p[i],
        None => 1.0 / n as f64,
    }
}

fn mean(pnl: &[f64], probs: Option<&[f64]>) -> f64 {
    pnl.iter().enumerate().map(|(i, x)| prob(probs, pnl.len(), i) * x).sum()
}

/// A scenario matrix: `rows` scenarios × `cols` instruments, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenarios {
    data: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl Scenarios {
    /// Wraps row-major `data` of `rows × cols` P&L per unit of each instrument.
    ///
    /// # Errors
    /// [`RiskError::Shape`] when the length is not `rows·cols` or the matrix is empty, and
    /// [`RiskError::NonFinitePnl`] for a non-finite entry.
    pub fn new(data: Vec<f64>, rows: usize, cols: usize) -> Result<Self, RiskError> {
        if rows == 0 || cols == 0 || data.len() != rows * cols {
            return Err(RiskError::Shape(format!(
                "{} entries for a {rows}×{cols} scenario matrix",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(RiskError::NonFinitePnl { index: i, value: data[i] });
        }
        Ok(Scenarios { data, rows, cols })
    }
    /// Number of scenarios.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of instruments.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The row-major entries (`rows·cols`): row `s` is `[s·cols, (s+1)·cols)`.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
    /// Writes the portfolio P&L `S·x` into `out` (length `rows`).
    pub fn pnl_into(&self, x: &[f64], out: &mut [f64]) {
        for (o, row) in out.iter_mut().zip(self.data.chunks_exact(self.cols)) {
            *o = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
    }
    /// Writes `Sᵀ g` into `out` (length `cols`).
    pub fn pull_back(&self, g: &[f64], out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (&gi, row) in g.iter().zip(self.data.chunks_exact(self.cols)) {
            for (o, a) in out.iter_mut().zip(row) {
                *o += gi * a;
            }
        }
    }
}

/// A utility of P&L `w`: value and first derivative, `None` outside the domain.
pub trait Utility {
    /// `[u(w), u'(w)]`.
    fn utility(&self, w: f64) -> Option<[f64; 2]>;
}

/// CARA (exponential) utility `u(w) = (1 − e^{−a w})/a`, `a > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cara {
    /// Absolute risk aversion `a`.
    pub a: f64,
}

impl Cara {
    /// CARA utility with risk aversion `a`.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] unless `a` is finite and positive.
    pub fn new(a: f64) -> Result<Self, RiskError> {
        if a.is_finite() && a > 0.0 {
            Ok(Cara { a })
        } else {
            Err(RiskError::Parameter { measure: "cara", value: a, domain: "finite and > 0" })
        }
    }
}

impl Utility for Cara {
    fn utility(&self, w: f64) -> Option<[f64; 2]> {
        let e = (-self.a * w).exp();
        e.is_finite().then(|| [-(-self.a * w).exp_m1() / self.a, e])
    }
}

/// CRRA (isoelastic) utility of wealth `W = wealth + w`: `u = (W^{1−γ} − 1)/(1 − γ)`,
/// `ln W` at `γ = 1`; defined for `W > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crra {
    /// Relative risk aversion `γ > 0`.
    pub gamma: f64,
    /// Wealth offset: the initial capital the P&L is added to.
    pub wealth: f64,
}

impl Crra {
    /// CRRA utility with relative risk aversion `gamma` on `wealth + P&L`.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] unless `gamma` is finite and positive and `wealth` finite.
    pub fn new(gamma: f64, wealth: f64) -> Result<Self, RiskError> {
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(RiskError::Parameter {
                measure: "crra",
                value: gamma,
                domain: "finite and > 0",
            });
        }
        if !wealth.is_finite() {
            return Err(RiskError::Parameter {
                measure: "crra wealth",
                value: wealth,
                domain: "finite",
            });
        }
        Ok(Crra { gamma, wealth })
    }
}

impl Utility for Crra {
    fn utility(&self, w: f64) -> Option<[f64; 2]> {
        let wealth = self.wealth + w;
        if wealth.is_nan() || wealth <= 0.0 {
            return None;
        }
        if (self.gamma - 1.0).abs() < 1e-12 {
            return Some([wealth.ln(), 1.0 / wealth]);
        }
        let one = 1.0 - self.gamma;
        // (W^{1−γ} − 1)/(1−γ) = expm1((1−γ) ln W)/(1−γ): no cancellation near γ = 1.
        let lw = wealth.ln();
        Some([(one * lw).exp_m1() / one, (-self.gamma * lw).exp()])
    }
}

/// Log utility of wealth (the Kelly criterion): `u = ln(wealth + w)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kelly {
    /// Wealth offset.
    pub wealth: f64,
}

impl Utility for Kelly {
    fn utility(&self, w: f64) -> Option<[f64; 2]> {
        let wealth = self.wealth + w;
        (wealth > 0.0).then(|| [wealth.ln(), 1.0 / wealth])
    }
}

/// Expected utility `E[u(X)]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpectedUtility<U>(pub U);

impl<U: Utility> Reward for ExpectedUtility<U> {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        mut grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let n = pnl.len();
        let mut sum = 0.0;
        for (i, &x) in pnl.iter().enumerate() {
            let [u, du] = self.0.utility(x)?;
            let p = prob(probs, n, i);
            sum += p * u;
            if let Some(g) = grad.as_deref_mut() {
                g[i] = p * du;
            }
        }
        Some(sum)
    }
}

/// Mean–variance `E[X] − (λ/2) Var[X]` (Markowitz 1952).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanVariance {
    /// Risk aversion `λ ≥ 0`.
    pub lambda: f64,
}

impl Reward for MeanVariance {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let n = pnl.len();
        let mu = mean(pnl, probs);
        let var: f64 =
            pnl.iter().enumerate().map(|(i, x)| prob(probs, n, i) * (x - mu).powi(2)).sum();
        if let Some(g) = grad {
            for (i, (g, x)) in g.iter_mut().zip(pnl).enumerate() {
                *g = prob(probs, n, i) * (1.0 - self.lambda * (x - mu));
            }
        }
        Some(mu - 0.5 * self.lambda * var)
    }
}

/// Sharpe ratio `(E[X] − r)/σ[X]` (population σ under the probabilities).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sharpe {
    /// Benchmark return `r` in P&L units.
    pub benchmark: f64,
}

impl Reward for Sharpe {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let n = pnl.len();
        let mu = mean(pnl, probs);
        let var: f64 =
            pnl.iter().enumerate().map(|(i, x)| prob(probs, n, i) * (x - mu).powi(2)).sum();
        if var.is_nan() || var <= 0.0 {
            return None;
        }
        let sd = var.sqrt();
        let excess = mu - self.benchmark;
        if let Some(g) = grad {
            for (i, (g, x)) in g.iter_mut().zip(pnl).enumerate() {
                *g = prob(probs, n, i) * (1.0 / sd - excess * (x - mu) / (sd * var));
            }
        }
        Some(excess / sd)
    }
}

/// Sortino ratio `(E[X] − τ)/DD`, downside deviation `DD = √E[((τ − X)⁺)²]`
/// (Sortino & Price 1994).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sortino {
    /// Target `τ` in P&L units.
    pub target: f64,
}

impl Reward for Sortino {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let n = pnl.len();
        let mu = mean(pnl, probs);
        let dd2: f64 = pnl
            .iter()
            .enumerate()
            .map(|(i, x)| prob(probs, n, i) * (self.target - x).max(0.0).powi(2))
            .sum();
        if dd2.is_nan() || dd2 <= 0.0 {
            return None;
        }
        let dd = dd2.sqrt();
        let excess = mu - self.target;
        if let Some(g) = grad {
            for (i, (g, x)) in g.iter_mut().zip(pnl).enumerate() {
                *g = prob(probs, n, i)
                    * (1.0 / dd + excess * (self.target - x).max(0.0) / (dd * dd2));
            }
        }
        Some(excess / dd)
    }
}

/// Return over expected shortfall `E[X] / ES_α(X)`; `None` when `ES_α ≤ 0` (no loss in
/// the tail: the ratio would reward risk). The ES gradient is the subgradient holding the
/// sort fixed (weight `p_i/(1−α)` in the tail, the fractional share at the quantile).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReturnOverEs {
    /// Confidence level `α ∈ (0, 1)`.
    pub alpha: f64,
}

fn sample_of(pnl: &[f64], probs: Option<&[f64]>) -> Option<Sample> {
    match probs {
        Some(p) => Sample::weighted(pnl.to_vec(), p.to_vec()).ok(),
        None => Sample::new(pnl.to_vec()).ok(),
    }
}

impl Reward for ReturnOverEs {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let sample = sample_of(pnl, probs)?;
        let es = RiskMeasure::Es { alpha: self.alpha };
        let mu = sample.mean();
        let risk = match grad {
            Some(g) => {
                let r = es.value_grad(&sample, g).ok()?;
                if r.is_nan() || r <= 0.0 {
                    return None;
                }
                // g holds ∂ES/∂x_i; d(μ/ES) = (p_i ES − μ ∂ES/∂x_i)/ES².
                for (i, gi) in g.iter_mut().enumerate() {
                    *gi = (sample.prob(i) * r - mu * *gi) / (r * r);
                }
                r
            }
            None => es.eval(&sample).ok()?,
        };
        (risk > 0.0).then(|| mu / risk)
    }
}

/// `R(X) − λ·ρ(X)`: a reward penalised by a risk measure.
#[derive(Clone, Debug)]
pub struct Penalised<R> {
    /// The reward.
    pub reward: R,
    /// Penalty weight `λ ≥ 0`.
    pub lambda: f64,
    /// The risk measure (its subgradient is used for quantile-based measures; see
    /// [`RiskMeasure::value_grad`]).
    pub risk: RiskMeasure,
}

impl<R: Reward> Reward for Penalised<R> {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let sample = sample_of(pnl, probs)?;
        match grad {
            Some(g) => {
                let mut gr = vec![0.0; pnl.len()];
                let rho = self.risk.value_grad(&sample, &mut gr).ok()?;
                let v = self.reward.value_grad(pnl, probs, Some(g))?;
                for (gi, ri) in g.iter_mut().zip(&gr) {
                    *gi -= self.lambda * ri;
                }
                Some(v - self.lambda * rho)
            }
            None => {
                Some(self.reward.value(pnl, probs)? - self.lambda * self.risk.eval(&sample).ok()?)
            }
        }
    }
}

/// The sum of two rewards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sum<A, B>(pub A, pub B);

impl<A: Reward, B: Reward> Reward for Sum<A, B> {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        match grad {
            Some(g) => {
                let mut gb = vec![0.0; pnl.len()];
                let b = self.1.value_grad(pnl, probs, Some(&mut gb))?;
                let a = self.0.value_grad(pnl, probs, Some(g))?;
                g.iter_mut().zip(&gb).for_each(|(x, y)| *x += y);
                Some(a + b)
            }
            None => Some(self.0.value(pnl, probs)? + self.1.value(pnl, probs)?),
        }
    }
}

/// A reward times a constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaled<R>(pub f64, pub R);

impl<R: Reward> Reward for Scaled<R> {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        match grad {
            Some(g) => {
                let v = self.1.value_grad(pnl, probs, Some(&mut *g))?;
                g.iter_mut().for_each(|x| *x *= self.0);
                Some(self.0 * v)
            }
            None => Some(self.0 * self.1.value(pnl, probs)?),
        }
    }
}

impl<R: Reward + ?Sized> Reward for Box<R> {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        (**self).value_grad(pnl, probs, grad)
    }
}

impl<R: Reward + ?Sized> Reward for &R {
    fn value_grad(
        &self,
        pnl: &[f64],
        probs: Option<&[f64]>,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        (**self).value_grad(pnl, probs, grad)
    }
}

/// "Maximise `R(S·x) − λ·ρ(S·x)`" as an [`Objective`] to minimise: `f(x) = −R(S·x) +
/// λ·ρ(S·x)` over portfolio weights `x`.
///
/// The gradient is exact for smooth rewards and measures; for ES, spectral measures and
/// VaR it is the subgradient at the current sort (see [`RiskMeasure::value_grad`]), so
/// use a solver that tolerates kinks, or a smooth measure (entropic, EVaR) near optima.
#[derive(Clone, Debug)]
pub struct PortfolioObjective<R> {
    scenarios: Scenarios,
    probs: Option<Vec<f64>>,
    reward: Penalised<R>,
}

impl<R: Reward> PortfolioObjective<R> {
    /// Builds the objective; `weights` (one per scenario, normalised here) default to
    /// equally likely scenarios.
    ///
    /// # Errors
    /// [`RiskError::Shape`] for a weight count that differs from the scenario count,
    /// [`RiskError::BadWeight`]/[`RiskError::WeightSum`] for bad weights,
    /// [`RiskError::Parameter`] for a negative `λ` or an invalid measure.
    pub fn new(
        scenarios: Scenarios,
        weights: Option<Vec<f64>>,
        reward: R,
        lambda: f64,
        risk: RiskMeasure,
    ) -> Result<Self, RiskError> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(RiskError::Parameter {
                measure: "penalty λ",
                value: lambda,
                domain: "finite and ≥ 0",
            });
        }
        risk.validate()?;
        let probs = match weights {
            Some(w) => {
                if w.len() != scenarios.rows() {
                    return Err(RiskError::Shape(format!(
                        "{} weights for {} scenarios",
                        w.len(),
                        scenarios.rows()
                    )));
                }
                let s = Sample::weighted(vec![0.0; w.len()], w)?;
                s.probs().map(<[f64]>::to_vec)
            }
            None => None,
        };
        Ok(PortfolioObjective { scenarios, probs, reward: Penalised { reward, lambda, risk } })
    }

    /// The scenario matrix.
    pub fn scenarios(&self) -> &Scenarios {
        &self.scenarios
    }
}

impl<R: Reward> Objective for PortfolioObjective<R> {
    fn num_params(&self) -> usize {
        self.scenarios.cols()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        let n = self.scenarios.rows();
        // One workspace per evaluation, sized once.
        let mut work = vec![0.0; 2 * n];
        let (pnl, gp) = work.split_at_mut(n);
        let v = self.reward.value_grad_weights(
            &self.scenarios,
            x,
            self.probs.as_deref(),
            pnl,
            gp,
            grad,
        )?;
        grad.iter_mut().for_each(|g| *g = -*g);
        Some(-v)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        let mut pnl = vec![0.0; self.scenarios.rows()];
        self.scenarios.pnl_into(x, &mut pnl);
        Some(-self.reward.value(&pnl, self.probs.as_deref())?)
    }
}

/// Expected shortfall weights `w_i` (the ES subgradient in loss terms) of a sample, for
/// callers that want the tail scenarios themselves.
pub fn es_weights(sample: &Sample, alpha: f64) -> Result<Vec<f64>, RiskError> {
    let mut g = vec![0.0; sample.len()];
    RiskMeasure::Spectral(Spectrum::Es { alpha }).value_grad(sample, &mut g)?;
    g.iter_mut().for_each(|v| *v = -*v);
    Ok(g)
}
