//! Risk measures of a P&L sample split into ordered partitions (a Dask Series): each
//! partition is reduced to a few numbers ([`partial`]), the numbers of all partitions are
//! combined ([`combine`]), and the result equals the library's value on the whole sample
//! within rounding. Which measures reduce exactly, and how:
//!
//! - `var:A`, `es:A` (`cvar:A`), `oce-cvar:A`: only the lowest P&L values matter; they
//!   travel as a tail ([`crate::tails`]), not through the partials.
//! - `entropic:T`, `oce-exp:T`: `(1/T) ln E[e^{TL}]` is a log-mean-exp, so the partitions'
//!   own entropic risks `E_p` (the library's) combine as the entropic risk of atoms `-E_p`
//!   weighted by the partitions' sizes (again the library's, log-sum-exp safe).
//! - `oce-quad:C`: the mean-variance value `E[L] + (C/2) Var L` when no loss lies below
//!   `E[L] - 1/C` (the utility's cap is not reached; `RiskMeasure::Oce` documents the
//!   identity), from counts, means and centred sums of squares (Chan et al. 1979) and the
//!   smallest loss. When the cap is reached the value needs every value: an error.
//! - `mdd`: the maximum drawdown of the path in partition order, from each partition's
//!   sum, highest and lowest running sum and own drawdown (the library's).
//!
//! The rest need every value and are rejected by [`plan`]: `spectral-exp`, `spectral-pow`
//! (weights on every atom of the full sort) and `evar` (an optimisation over the tilt, each
//! step a pass over all values).

use volfit::risk::{max_drawdown, OceUtility, RiskMeasure, Sample};

/// How a measure reduces from partitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// From the lowest P&L values ([`crate::tails`]).
    Tail,
    /// Log-sum-exp of the partitions' own values (entropic risk, exponential OCE).
    Entropic,
    /// Counts, means and centred sums of squares; the smallest loss.
    MeanVariance { c: f64 },
    /// Sums and running extremes in partition order.
    Drawdown,
}

impl Kind {
    /// The numbers a partition contributes for this measure.
    fn width(self) -> usize {
        match self {
            Kind::Tail => 0,
            Kind::Entropic => 1,
            Kind::MeanVariance { .. } => 3,
            Kind::Drawdown => 4,
        }
    }
}

/// A measure as written, as the library parses it, and how it reduces.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The spec as given (`cvar:0.99`), for messages.
    pub spec: String,
    /// The library's measure.
    pub measure: RiskMeasure,
    /// How it reduces.
    pub kind: Kind,
}

/// The measures `specs` as parsed by the library and how each reduces.
///
/// # Errors
/// A spec that does not parse, or a measure that needs every value, named with the reason.
pub fn plan(specs: &[String]) -> Result<Vec<Planned>, String> {
    specs
        .iter()
        .map(|text| {
            let m: RiskMeasure = text.parse().map_err(|e| format!("measure `{text}`: {e}"))?;
            let kind = match m {
                RiskMeasure::Var { .. }
                | RiskMeasure::Es { .. }
                | RiskMeasure::Oce(OceUtility::Cvar { .. }) => Kind::Tail,
                RiskMeasure::Entropic { .. }
                | RiskMeasure::Oce(OceUtility::Exponential { .. }) => Kind::Entropic,
                RiskMeasure::Oce(OceUtility::Quadratic { c }) => Kind::MeanVariance { c },
                RiskMeasure::MaxDrawdown => Kind::Drawdown,
                RiskMeasure::Spectral(_) => return Err(format!(
                    "measure `{text}`: a spectral measure weighs every value of the full sort; it does not reduce from partitions (gather the sample and use volfit.risk)"
                )),
                RiskMeasure::Evar { .. } => return Err(format!(
                    "measure `{text}`: EVaR minimises over a tilt that needs every value at each step; it does not reduce from partitions (gather the sample and use volfit.risk)"
                )),
                _ => return Err(format!("measure `{text}`: does not reduce from partitions")),
            };
            Ok(Planned { spec: text.clone(), measure: m, kind })
        })
        .collect()
}

/// The number of values [`partial`] returns for `plan`: the count, then each measure's.
pub fn width(plan: &[Planned]) -> usize {
    1 + plan.iter().map(|p| p.kind.width()).sum::<usize>()
}

/// One partition's numbers: its count, then per measure of `plan` (tails contribute
/// nothing): the entropic risk; the mean loss, the centred sum of squared losses and the
/// smallest loss; the sum, the highest and lowest running sum (both counting the empty
/// prefix 0) and the drawdown. An empty partition gives its count 0 and NaNs.
///
/// # Errors
/// A non-finite P&L value (the library's message).
pub fn partial(pnl: &[f64], plan: &[Planned]) -> Result<Vec<f64>, String> {
    let mut out = Vec::with_capacity(width(plan));
    out.push(pnl.len() as f64);
    if pnl.is_empty() {
        out.resize(width(plan), f64::NAN);
        return Ok(out);
    }
    let sample = Sample::new(pnl.to_vec()).map_err(|e| format!("P&L sample: {e}"))?;
    for p in plan {
        match p.kind {
            Kind::Tail => {}
            Kind::Entropic => out.push(p.measure.eval(&sample).map_err(|e| e.to_string())?),
            Kind::MeanVariance { .. } => {
                let mean = -sample.mean();
                let m2 = pnl.iter().map(|x| (-x - mean) * (-x - mean)).sum::<f64>();
                let low = pnl.iter().fold(f64::INFINITY, |m, &x| m.min(-x));
                out.extend([mean, m2, low]);
            }
            Kind::Drawdown => {
                let (mut w, mut hi, mut lo) = (0.0f64, 0.0f64, 0.0f64);
                for &x in pnl {
                    w += x;
                    hi = hi.max(w);
                    lo = lo.min(w);
                }
                out.extend([w, hi, lo, max_drawdown(pnl).value]);
            }
        }
    }
    Ok(out)
}

/// The values of the non-tail measures of `plan` (NaN in the tail measures' places) from
/// the partials of every partition, in partition order.
///
/// # Errors
/// A partial of the wrong width, no values at all, or `oce-quad` with its cap reached.
pub fn combine(parts: &[Vec<f64>], plan: &[Planned]) -> Result<Vec<f64>, String> {
    let w = width(plan);
    if let Some(p) = parts.iter().find(|p| p.len() != w) {
        return Err(format!("risk partial of {} numbers, expected {w}", p.len()));
    }
    let parts: Vec<&Vec<f64>> = parts.iter().filter(|p| p[0] > 0.0).collect();
    if parts.is_empty() {
        return Err("risk: the P&L sample is empty".into());
    }
    let mut at = 1;
    let mut out = Vec::with_capacity(plan.len());
    for m in plan {
        out.push(match m.kind {
            Kind::Tail => f64::NAN,
            Kind::Entropic => {
                let values = parts.iter().map(|p| -p[at]).collect();
                let atoms = Sample::weighted(values, parts.iter().map(|p| p[0]).collect())
                    .map_err(|e| format!("measure `{}`: {e}", m.spec))?;
                m.measure.eval(&atoms).map_err(|e| e.to_string())?
            }
            Kind::MeanVariance { c } => mean_variance(&parts, at, c, &m.spec)?,
            Kind::Drawdown => drawdown(&parts, at),
        });
        at += m.kind.width();
    }
    Ok(out)
}

/// `E[L] + (c/2) Var L` from partitions' (count, mean, centred sum of squares, smallest
/// loss), merged pairwise in order (Chan, Golub & LeVeque 1979).
fn mean_variance(parts: &[&Vec<f64>], at: usize, c: f64, spec: &str) -> Result<f64, String> {
    let (mut n, mut mean, mut m2, mut low) = (0.0, 0.0, 0.0, f64::INFINITY);
    for p in parts {
        let (nb, mb, m2b) = (p[0], p[at], p[at + 1]);
        let total = n + nb;
        let delta = mb - mean;
        mean += delta * nb / total;
        m2 += m2b + delta * delta * n * nb / total;
        n = total;
        low = low.min(p[at + 2]);
    }
    // The library's test: the utility is uncapped when every loss exceeds E[L] − 1/c.
    if low - (mean - 1.0 / c) <= 0.0 {
        return Err(format!(
            "measure `{spec}`: the loss {low} lies below E[L] − 1/c = {}, where the quadratic utility is capped; only the mean-variance regime reduces from partitions (gather the sample and use volfit.risk)",
            mean - 1.0 / c
        ));
    }
    Ok(mean + 0.5 * c * (m2 / n))
}

/// The maximum drawdown of the partitions' path: within a partition (its own), or from a
/// peak before it to a trough in it.
fn drawdown(parts: &[&Vec<f64>], at: usize) -> f64 {
    let (mut sum, mut hi, mut dd) = (0.0f64, 0.0f64, 0.0f64);
    for p in parts {
        let (s, h, l, d) = (p[at], p[at + 1], p[at + 2], p[at + 3]);
        dd = dd.max(d).max(hi - (sum + l));
        hi = hi.max(sum + h);
        sum += s;
    }
    dd
}

#[cfg(test)]
mod tests {
    use super::*;
    use volfit::risk::evaluate;

    fn specs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A deterministic fat-tailed sample (a Student-t-like ratio of LCG draws).
    fn sample(n: usize) -> Vec<f64> {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut u = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n).map(|_| (u() - 0.5) / (u() + 0.05) + 0.01).collect()
    }

    #[test]
    fn partitions_reduce_to_the_whole_sample() {
        // Reference: the library on the whole sample; uneven partitions, one empty.
        let pnl = sample(10_007);
        let list = specs(&["entropic:0.5", "oce-exp:2", "oce-quad:0.01", "mdd"]);
        let plan = plan(&list).expect("reducible");
        let whole = evaluate(
            &Sample::new(pnl.clone()).expect("finite"),
            &plan.iter().map(|p| p.measure.clone()).collect::<Vec<_>>(),
        )
        .expect("valid");
        let cuts = [0, 1, 1, 500, 4_000, 9_999, 10_007];
        let parts: Vec<Vec<f64>> =
            cuts.windows(2).map(|w| partial(&pnl[w[0]..w[1]], &plan).expect("finite")).collect();
        let got = combine(&parts, &plan).expect("combines");
        for ((name, a), b) in list.iter().zip(&whole).zip(&got) {
            let rel = (a - b).abs() / a.abs();
            assert!(rel <= 1e-12, "{name}: whole {a}, partitions {b}, rel {rel:e}");
        }
    }

    #[test]
    fn what_needs_every_value_is_rejected_by_name() {
        for spec in ["spectral-exp:5", "spectral-pow:0.5", "evar:0.95"] {
            let e = plan(&specs(&[spec])).expect_err("not reducible");
            assert!(e.contains(spec) && e.contains("does not reduce"), "{e}");
        }
        // The cap of oce-quad reached (a loss far below the mean): an error, not a value.
        let list = specs(&["oce-quad:10"]);
        let plan = plan(&list).expect("parses");
        let parts = vec![partial(&sample(1_000), &plan).expect("finite")];
        let e = combine(&parts, &plan).expect_err("capped");
        assert!(e.contains("oce-quad:10") && e.contains("capped"), "{e}");
    }
}
