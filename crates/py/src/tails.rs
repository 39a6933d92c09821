//! VaR and ES of a large unweighted P&L sample from its tail only, so a distributed run can
//! reduce each partition to its lowest P&L values (Dask's `nsmallest`, a tree reduction)
//! and evaluate here. Both measures depend only on the losses beyond the level (the
//! library's `Sample::tail_sorted` relies on the same fact): the tail atoms keep their mass
//! `1/n` each and one atom carrying the rest of the mass, at the next-lowest P&L value,
//! stands in for everything else. With the whole sample the library's own path is taken.

use volfit::risk::{OceUtility, RiskMeasure, Sample};

/// A measure this module evaluates: `var:A`, `es:A` (`cvar:A`) or `oce-cvar:A`.
///
/// # Errors
/// Other measures, or a bad level.
pub fn parse(text: &str) -> Result<RiskMeasure, String> {
    let m: RiskMeasure = text.parse().map_err(|e| format!("measure `{text}`: {e}"))?;
    match m {
        RiskMeasure::Var { .. }
        | RiskMeasure::Es { .. }
        | RiskMeasure::Oce(OceUtility::Cvar { .. }) => Ok(m),
        _ => Err(format!("measure `{text}`: not a tail measure (var:A, es:A, cvar:A, oce-cvar:A)")),
    }
}

fn level(m: &RiskMeasure) -> f64 {
    match m {
        RiskMeasure::Var { alpha }
        | RiskMeasure::Es { alpha }
        | RiskMeasure::Oce(OceUtility::Cvar { alpha }) => *alpha,
        _ => 0.0,
    }
}

/// The number of lowest P&L values that carry every measure of `measures` on a sample of
/// `n` (with a margin over the library's own tie tolerance), at most `n`.
pub fn size(n: usize, measures: &[RiskMeasure]) -> usize {
    let tail = measures.iter().map(|m| 1.0 - level(m)).fold(0.0, f64::max);
    (((tail * (1.0 + 1e-9) + 1e-9) * n as f64).floor() as usize + 3).min(n)
}

/// The measures of a sample of `n_total` values of which `pnl` holds at least the
/// `size + 1` lowest (or all of them).
///
/// # Errors
/// Too few values, an empty sample, or a bad level.
pub fn evaluate(
    pnl: &mut Vec<f64>,
    n_total: usize,
    measures: &[RiskMeasure],
) -> Result<Vec<f64>, String> {
    let sample = if pnl.len() >= n_total {
        if pnl.len() > n_total {
            return Err(format!("{} values for a sample of {n_total}", pnl.len()));
        }
        Sample::new(std::mem::take(pnl))
    } else {
        let k = size(n_total, measures);
        if pnl.len() <= k {
            return Err(format!(
                "{} tail values for a sample of {n_total}: at least {} needed",
                pnl.len(),
                k + 1
            ));
        }
        pnl.sort_unstable_by(f64::total_cmp);
        pnl.truncate(k + 1);
        let mut weights = vec![1.0; k + 1];
        weights[k] = (n_total - k) as f64;
        Sample::weighted(std::mem::take(pnl), weights)
    }
    .map_err(|e| e.to_string())?;
    measures.iter().map(|m| m.eval(&sample).map_err(|e| e.to_string())).collect()
}
