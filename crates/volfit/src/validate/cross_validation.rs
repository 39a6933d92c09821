//! k-fold cross-validation over strikes within one snapshot: the distinct strikes of each
//! expiry are dealt round-robin into `k` folds (calls and puts of a strike together, so a
//! held-out strike is never seen through its twin), the spec is fitted with one fold held
//! out and predicts the held-out quotes; the in-sample reference is the fit on all quotes.
//! Both are scored on the quotes of [`scoring_spec`].

use super::grid::LabeledSpec;
use super::walk_forward::scoring_spec;
use crate::fit::{fit_snapshot, select_targets, ErrorAcc};
use crate::market::{iso8601, Snapshot};
use crate::model::{maturity_bucket, Sticky};
use serde::{Deserialize, Serialize};

/// One row of `cross_validation.csv`: a spec on one expiry of one snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvRow {
    /// Grid position of the spec.
    pub spec_id: usize,
    /// Spec label.
    pub spec: String,
    /// Underlying coin.
    pub underlying: String,
    /// Snapshot, ISO-8601 UTC.
    pub snapshot: String,
    /// Expiry, ISO-8601 UTC.
    pub expiry: String,
    /// Years to expiry.
    pub t: f64,
    /// Expiry bucket.
    pub bucket: String,
    /// Folds.
    pub folds: usize,
    /// Quotes scored in-sample.
    pub n_in: usize,
    /// In-sample RMSE in vol points (fit on all quotes).
    pub rmse_in: f64,
    /// Held-out quotes predicted.
    pub n_cv: usize,
    /// Cross-validated RMSE in vol points (each quote predicted by the fit without its fold).
    pub rmse_cv: f64,
}

/// The fold of each strike of a sorted, deduplicated strike list: round-robin by rank.
fn fold_of(strikes: &[f64], strike: f64, k: usize) -> usize {
    strikes.partition_point(|s| *s < strike) % k
}

/// Cross-validates `spec` on `snap` with `k ≥ 2` folds.
pub fn cross_validate(snap: &Snapshot, spec: &LabeledSpec, k: usize) -> Vec<CvRow> {
    let k = k.max(2);
    let scoring = scoring_spec();
    let strikes: Vec<Vec<f64>> = snap
        .expiries
        .iter()
        .map(|e| {
            let mut s: Vec<f64> = e.quotes.iter().map(|q| q.strike).collect();
            s.sort_by(f64::total_cmp);
            s.dedup();
            s
        })
        .collect();
    let full = fit_snapshot(snap, &spec.spec, None);
    let full_model = full.fitted(snap, &spec.spec);
    let n_exp = snap.expiries.len();
    let mut acc_in = vec![ErrorAcc::default(); n_exp];
    let mut acc_cv = vec![ErrorAcc::default(); n_exp];
    for (i, e) in snap.expiries.iter().enumerate() {
        for q in select_targets(e, &scoring) {
            if let Some(v) = full_model.vol(e.expiry_ms, q.strike, e.forward, Sticky::Moneyness) {
                acc_in[i].add(v, &q);
            }
        }
    }
    for fold in 0..k {
        let mut train = snap.clone();
        for (e, s) in train.expiries.iter_mut().zip(&strikes) {
            e.quotes.retain(|q| fold_of(s, q.strike, k) != fold);
        }
        let fit = fit_snapshot(&train, &spec.spec, None);
        let model = fit.fitted(&train, &spec.spec);
        for (i, (e, s)) in snap.expiries.iter().zip(&strikes).enumerate() {
            for q in select_targets(e, &scoring) {
                if fold_of(s, q.strike, k) != fold {
                    continue;
                }
                if let Some(v) = model.vol(e.expiry_ms, q.strike, e.forward, Sticky::Moneyness) {
                    acc_cv[i].add(v, &q);
                }
            }
        }
    }
    snap.expiries
        .iter()
        .zip(acc_in.iter().zip(&acc_cv))
        .filter(|(_, (a, c))| a.n > 0 && c.n > 0)
        .map(|(e, (a, c))| CvRow {
            spec_id: spec.id,
            spec: spec.label.clone(),
            underlying: snap.underlying.clone(),
            snapshot: snap.time_iso(),
            expiry: iso8601(e.expiry_ms),
            t: e.t,
            bucket: maturity_bucket(e.t).to_string(),
            folds: k,
            n_in: a.n,
            rmse_in: a.rmse(),
            n_cv: c.n,
            rmse_cv: c.rmse(),
        })
        .collect()
}

/// Pooled `(in-sample, cross-validated)` RMSE in vol points over rows.
pub fn pooled(rows: &[&CvRow]) -> (f64, f64) {
    let (mut si, mut ni, mut sc, mut nc) = (0.0, 0usize, 0.0, 0usize);
    for r in rows {
        si += r.rmse_in * r.rmse_in * r.n_in as f64;
        ni += r.n_in;
        sc += r.rmse_cv * r.rmse_cv * r.n_cv as f64;
        nc += r.n_cv;
    }
    ((si / ni as f64).sqrt(), (sc / nc as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::fold_of;

    #[test]
    fn strikes_are_dealt_round_robin() {
        let s = [100.0, 110.0, 120.0, 130.0, 140.0];
        let folds: Vec<usize> = s.iter().map(|&x| fold_of(&s, x, 2)).collect();
        assert_eq!(folds, [0, 1, 0, 1, 0]);
    }
}
