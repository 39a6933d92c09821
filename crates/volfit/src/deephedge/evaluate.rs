//! Evaluation on fresh paths: each policy's hedged P&L, its objective and every requested
//! risk measure with standard errors, the indifference price, and the paired difference to
//! a reference policy (the Black delta hedge in `volfit deephedge`) on the same paths.
//!
//! Standard errors are **batch means**: the test paths are cut into `batches` contiguous
//! groups, the statistic is computed on each, and `SE = sd(group values)/√batches`. The
//! difference to the reference is computed group by group on the same paths (paired), so its
//! SE accounts for the common noise. The indifference price of the short call is the
//! premium that makes the objective zero: for these cash-invariant objectives,
//! `premium + objective(P&L)`.

use super::features::{self, Claim};
use super::objective::HedgeObjective;
use super::policy::{Policy, PolicyKind};
use super::unroll::{Unroll, CHUNK};
use crate::risk::{evaluate as risk_evaluate, RiskError, RiskMeasure, Sample};
use rayon::prelude::*;

/// A policy's hedges and P&L on a path set.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Terminal P&L per path.
    pub pnl: Vec<f64>,
    /// Hedges, row-major `paths × steps`.
    pub hedge: Vec<f64>,
}

/// Unrolls the policy with network parameters `params` over all paths (in parallel,
/// chunk by chunk).
pub fn simulate_policy(unroll: Unroll<'_>, params: &[f64]) -> Outcome {
    let p = unroll.paths;
    let n = p.steps;
    let mut pnl = vec![0.0; p.paths];
    let mut hedge = vec![0.0; p.paths * n];
    pnl.par_chunks_mut(CHUNK).zip(hedge.par_chunks_mut(CHUNK * n)).enumerate().for_each_init(
        || (unroll.scratch(false, 0), Vec::with_capacity(CHUNK)),
        |(s, idx), (c, (pnl, hedge))| {
            idx.clear();
            idx.extend(c * CHUNK..c * CHUNK + pnl.len());
            unroll.forward(params, idx, s);
            pnl.copy_from_slice(&s.pnl[..idx.len()]);
            for (r, row) in hedge.chunks_exact_mut(n).enumerate() {
                row.iter_mut().enumerate().for_each(|(t, h)| *h = s.hedge[t * CHUNK + r]);
            }
        },
    );
    Outcome { pnl, hedge }
}

/// Mean `|h − δ|` over every state of `outcome`: how far the hedge is from the Black hedge.
pub fn mean_abs_from_black(unroll: Unroll<'_>, outcome: &Outcome) -> f64 {
    let by_step = abs_from_black_by_step(unroll, outcome);
    by_step.iter().sum::<f64>() / by_step.len().max(1) as f64
}

/// Mean `|h_t − δ_t|` over the paths of `outcome`, per hedge step `t`.
pub fn abs_from_black_by_step(unroll: Unroll<'_>, outcome: &Outcome) -> Vec<f64> {
    let (p, c) = (unroll.paths, unroll.claim);
    let n = p.steps;
    (0..n)
        .map(|t| {
            let tau = c.maturity - t as f64 * p.dt;
            let total: f64 = (0..p.paths)
                .map(|i| (outcome.hedge[i * n + t] - c.black_hedge(p.f(i, t), tau).0).abs())
                .sum();
            total / p.paths.max(1) as f64
        })
        .collect()
}

/// A policy's hedge at one state of a grid.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    /// Forward over the strike.
    pub moneyness: f64,
    /// The Black hedge `δ`.
    pub black: f64,
    /// The hedge chosen when the previous hedge is `δ`.
    pub hedge: f64,
    /// The band's lower and upper bounds (both `hedge` for a policy without a band).
    pub band: (f64, f64),
}

/// The hedge `policy` (network parameters `params`) chooses at forwards `moneyness × K`
/// with `tau` years left, when the previous hedge is the Black hedge `δ` there (the state a
/// delta hedger is in) and the volatility is the claim's Black vol. The band comes from
/// the clamp itself: the hedge chosen from a previous hedge far below and far above.
pub fn hedge_curve(
    policy: &Policy,
    params: &[f64],
    claim: &Claim,
    tau: f64,
    moneyness: &[f64],
) -> Vec<CurvePoint> {
    let rows = moneyness.len();
    let f = |m: f64| m * claim.strike;
    let black: Vec<(f64, f64)> = moneyness.iter().map(|&m| claim.black_hedge(f(m), tau)).collect();
    let mut ws = policy.mlp().map(|m| m.workspace(rows.max(1)));
    if let (Some(mlp), Some(ws)) = (policy.mlp(), ws.as_mut()) {
        let ni = mlp.inputs();
        for (r, (&m, d)) in moneyness.iter().zip(&black).enumerate() {
            let row = &mut ws.input_mut()[r * ni..(r + 1) * ni];
            let x0 = features::moneyness(claim, f(m));
            policy.inputs().fill(row, x0, tau / claim.maturity, d.0, 1.0, d.0);
        }
        mlp.forward(params, ws, rows);
    }
    let no = policy.mlp().map_or(0, volfit_nn::Mlp::outputs);
    let out = ws.as_ref().map(|ws| ws.output(rows));
    (0..rows)
        .map(|r| {
            let o = out.map_or(&[][..], |o| &o[r * no..(r + 1) * no]);
            let (d, g) = black[r];
            let at = |prev: f64| policy.choose(o, prev, d, g, f(moneyness[r]), claim.cost).hedge;
            let band = (at(f64::NEG_INFINITY), at(f64::INFINITY));
            CurvePoint { moneyness: moneyness[r], black: d, hedge: at(d), band }
        })
        .collect()
}

/// One statistic of one policy.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    /// Policy name ([`PolicyKind::name`]).
    pub policy: String,
    /// Statistic: `objective`, `indifference_price`, `mean_pnl`, `std_pnl` or a risk
    /// measure spec (`es:0.99`, ...).
    pub measure: String,
    /// Value on all test paths (risk measures in loss units: larger is riskier).
    pub value: f64,
    /// Batch-means standard error.
    pub se: f64,
    /// The reference policy of the difference.
    pub reference: String,
    /// `value − value of the reference` (NaN without the reference among the policies).
    pub diff: f64,
    /// Paired batch-means standard error of that difference.
    pub diff_se: f64,
}

/// The rows of an evaluation, policy by policy.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Number of test paths.
    pub paths: usize,
    /// Batches of the standard errors.
    pub batches: usize,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Evaluation {
    /// The row of `policy` and `measure`.
    pub fn get(&self, policy: PolicyKind, measure: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.policy == policy.name() && r.measure == measure)
    }
}

/// The statistics of one P&L sample: objective, indifference price, mean, std, measures.
fn statistics(
    pnl: &[f64],
    objective: &HedgeObjective,
    premium: f64,
    measures: &[RiskMeasure],
) -> Result<Vec<f64>, RiskError> {
    let sample = Sample::new(pnl.to_vec())?;
    let obj = objective.exact(&sample)?;
    let mean = sample.mean();
    let var = pnl.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / pnl.len() as f64;
    let mut out = vec![obj, premium + obj, mean, var.sqrt()];
    out.extend(risk_evaluate(&sample, measures)?);
    Ok(out)
}

/// Evaluates each policy's P&L (`outcomes`, the same paths for all, `reference` among them
/// for the differences) with `objective` and `measures`; SEs over `batches` groups.
///
/// # Errors
/// An empty sample or fewer paths than batches; invalid measure parameters.
pub fn evaluate(
    outcomes: &[(PolicyKind, &[f64])],
    objective: &HedgeObjective,
    premium: f64,
    measures: &[(String, RiskMeasure)],
    batches: usize,
    reference: PolicyKind,
) -> Result<Evaluation, RiskError> {
    let paths = outcomes.first().map_or(0, |o| o.1.len());
    let batches = batches.max(2);
    if paths < batches {
        return Err(RiskError::Shape(format!("{paths} test paths for {batches} batches")));
    }
    let ms: Vec<RiskMeasure> = measures.iter().map(|m| m.1.clone()).collect();
    let mut names = vec!["objective", "indifference_price", "mean_pnl", "std_pnl"];
    names.extend(measures.iter().map(|m| m.0.as_str()));
    let per_policy = |pnl: &[f64]| -> Result<(Vec<f64>, Vec<Vec<f64>>), RiskError> {
        let all = statistics(pnl, objective, premium, &ms)?;
        let groups = (0..batches)
            .map(|b| {
                let (lo, hi) = (b * paths / batches, (b + 1) * paths / batches);
                statistics(&pnl[lo..hi], objective, premium, &ms)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((all, groups))
    };
    let stats: Vec<_> = outcomes.iter().map(|o| per_policy(o.1)).collect::<Result<_, _>>()?;
    let black = outcomes.iter().position(|o| o.0 == reference);
    let mut rows = Vec::new();
    for ((kind, _), (all, groups)) in outcomes.iter().zip(&stats) {
        for (j, name) in names.iter().enumerate() {
            let own: Vec<f64> = groups.iter().map(|g| g[j]).collect();
            let (diff, diff_se) = match black {
                Some(b) => {
                    let (ball, bgroups) = &stats[b];
                    let d: Vec<f64> =
                        groups.iter().zip(bgroups).map(|(g, h)| g[j] - h[j]).collect();
                    (all[j] - ball[j], se(&d))
                }
                None => (f64::NAN, f64::NAN),
            };
            rows.push(Row {
                policy: kind.name().to_string(),
                measure: (*name).to_string(),
                value: all[j],
                se: se(&own),
                reference: reference.name().to_string(),
                diff,
                diff_se,
            });
        }
    }
    Ok(Evaluation { paths, batches, rows })
}

/// Standard error of the mean of the batch values `v`.
fn se(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (var / n).sqrt()
}
