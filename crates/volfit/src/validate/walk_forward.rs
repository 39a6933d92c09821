//! Walk-forward: fit each snapshot of an underlying in time order (warm-started from the
//! previous fit, so ridge toward `prev` acts), then score the fit on the same snapshot
//! (in-sample, horizon 0) and on the next `h` snapshots (out-of-sample) against their quotes
//! and forwards, under sticky moneyness and sticky strike.
//!
//! Every spec is scored on the same quotes — those [`select_targets`] picks under
//! [`scoring_spec`] (vol residual, default filter: out-of-the-money, two-sided) — so errors
//! compare across residual kinds, weights and filters.

use super::grid::LabeledSpec;
use crate::fit::{select_targets, ErrorAcc, FitSpec, SeriesFit, SnapshotResult};
use crate::market::{iso8601, Snapshot};
use crate::model::{maturity_bucket, Fitted, Sticky};
use serde::{Deserialize, Serialize};

/// The spec whose quote selection every model is scored on.
pub fn scoring_spec() -> FitSpec {
    FitSpec::default()
}

/// One row of `walk_forward.csv`: a spec's fit of one snapshot scored on one expiry of the
/// same (horizon 0) or a later snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardRow {
    /// Grid position of the spec.
    pub spec_id: usize,
    /// Spec label.
    pub spec: String,
    /// Underlying coin.
    pub underlying: String,
    /// Snapshot the model was fitted on, ISO-8601 UTC.
    pub fit_snapshot: String,
    /// Snapshot scored, ISO-8601 UTC.
    pub eval_snapshot: String,
    /// Snapshots ahead (0 = in-sample).
    pub horizon: usize,
    /// Expiry, ISO-8601 UTC.
    pub expiry: String,
    /// Years to expiry at the scored snapshot.
    pub t: f64,
    /// Expiry bucket (`<7d`, `7-30d`, `30-90d`, `>=90d`).
    pub bucket: String,
    /// Two-sided quotes scored.
    pub n: usize,
    /// RMSE of model vs mid IV in vol points, sticky moneyness.
    pub rmse_vol: f64,
    /// RMS error in bid–ask spreads, sticky moneyness.
    pub spread_rmse: f64,
    /// Share of quotes with the model inside the spread, sticky moneyness.
    pub inside_spread: f64,
    /// RMSE in vol points, sticky strike.
    pub rmse_vol_strike: f64,
    /// RMS error in spreads, sticky strike.
    pub spread_rmse_strike: f64,
    /// Inside-spread share, sticky strike.
    pub inside_spread_strike: f64,
}

/// One fitted parameter value (a row of `params.csv`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamPoint {
    /// Grid position of the spec.
    pub spec_id: usize,
    /// Underlying coin.
    pub underlying: String,
    /// Snapshot, ISO-8601 UTC.
    pub snapshot: String,
    /// Position of the snapshot in its underlying's series.
    pub step: usize,
    /// Parameter name.
    pub param: String,
    /// Expiry of a per-expiry parameter, ISO-8601 UTC; empty for surface-wide ones.
    pub expiry: String,
    /// Value.
    pub value: f64,
}

/// What a walk-forward over one underlying produced for one spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesRun {
    /// Scored rows (in-sample and out-of-sample).
    pub rows: Vec<WalkForwardRow>,
    /// Parameter values per snapshot.
    pub params: Vec<ParamPoint>,
}

/// Scores `model` on every fitted expiry of `snap`; one accumulator pair (sticky moneyness,
/// sticky strike) per expiry with at least one two-sided quote.
pub fn score_snapshot(
    model: &Fitted,
    snap: &Snapshot,
    scoring: &FitSpec,
) -> Vec<(i64, f64, ErrorAcc, ErrorAcc)> {
    let mut out = Vec::new();
    for e in &snap.expiries {
        if !model.has_expiry(e.expiry_ms) {
            continue;
        }
        let (mut m, mut s) = (ErrorAcc::default(), ErrorAcc::default());
        for q in select_targets(e, scoring) {
            let (Some(vm), Some(vs)) = (
                // Each quote's own forward: its IV was inverted on it (issue 14).
                model.vol(e.expiry_ms, q.strike, q.forward, Sticky::Moneyness),
                model.vol(e.expiry_ms, q.strike, e.forward, Sticky::Strike),
            ) else {
                continue;
            };
            m.add(vm, &q);
            s.add(vs, &q);
        }
        if m.n > 0 {
            out.push((e.expiry_ms, e.t, m, s));
        }
    }
    out
}

/// Parameter values of a fit: per-expiry models by expiry; surfaces by name, with
/// per-expiry entries (`dtheta_3`) attributed to their expiry.
fn param_points(result: &SnapshotResult, spec_id: usize, step: usize, out: &mut Vec<ParamPoint>) {
    let fit = &result.fit;
    let mut push = |param: &str, expiry: String, value: f64| {
        out.push(ParamPoint {
            spec_id,
            underlying: fit.underlying.clone(),
            snapshot: fit.snapshot.clone(),
            step,
            param: param.to_string(),
            expiry,
            value,
        })
    };
    match (&fit.surface_params, &result.warm.surface) {
        (Some(params), Some((layout, _))) => {
            for (name, &v) in params {
                let per_expiry = name
                    .rsplit_once('_')
                    .and_then(|(head, idx)| Some((head, layout.get(idx.parse::<usize>().ok()?)?)));
                match per_expiry {
                    Some((head, &ms)) => push(head, iso8601(ms), v),
                    None => push(name, String::new(), v),
                }
            }
        }
        _ => {
            for e in &fit.expiries {
                for (name, &v) in &e.params {
                    push(name, e.expiry.clone(), v);
                }
            }
        }
    }
}

/// Walk-forward of one spec over one underlying's snapshots (time order), scoring each fit
/// on the next `horizon` snapshots.
pub fn walk_forward(series: &[&Snapshot], spec: &LabeledSpec, horizon: usize) -> SeriesRun {
    let scoring = scoring_spec();
    let mut run = SeriesRun::default();
    let mut fit = SeriesFit::new(&spec.spec);
    let mut models: Vec<Fitted> = Vec::with_capacity(series.len());
    for (step, snap) in series.iter().enumerate() {
        let result = fit.fit(snap);
        param_points(&result, spec.id, step, &mut run.params);
        models.push(result.fitted(snap, &spec.spec));
    }
    for (i, (model, fit_snap)) in models.iter().zip(series.iter().copied()).enumerate() {
        for h in 0..=horizon {
            let Some(&eval) = series.get(i + h) else { break };
            for (ms, t, m, s) in score_snapshot(model, eval, &scoring) {
                run.rows.push(WalkForwardRow {
                    spec_id: spec.id,
                    spec: spec.label.clone(),
                    underlying: eval.underlying.clone(),
                    fit_snapshot: fit_snap.time_iso(),
                    eval_snapshot: eval.time_iso(),
                    horizon: h,
                    expiry: iso8601(ms),
                    t,
                    bucket: maturity_bucket(t).to_string(),
                    n: m.n,
                    rmse_vol: m.rmse(),
                    spread_rmse: m.spread_rmse(),
                    inside_spread: m.inside_share(),
                    rmse_vol_strike: s.rmse(),
                    spread_rmse_strike: s.spread_rmse(),
                    inside_spread_strike: s.inside_share(),
                });
            }
        }
    }
    run
}

/// Pooled error of rows (weighted by their quote counts): `(in-sample, out-of-sample sticky
/// moneyness, out-of-sample sticky strike)` accumulators.
pub fn pool(rows: &[&WalkForwardRow]) -> (ErrorAcc, ErrorAcc, ErrorAcc) {
    let (mut is, mut oos, mut oss) =
        (ErrorAcc::default(), ErrorAcc::default(), ErrorAcc::default());
    for r in rows {
        let n = r.n as f64;
        let acc = |rmse: f64, spread: f64, inside: f64| ErrorAcc {
            sse: rmse * rmse * n,
            sse_spread: spread * spread * n,
            inside: (inside * n).round() as usize,
            n: r.n,
            ..ErrorAcc::default()
        };
        let m = acc(r.rmse_vol, r.spread_rmse, r.inside_spread);
        if r.horizon == 0 {
            is.merge(&m);
        } else {
            oos.merge(&m);
            oss.merge(&acc(r.rmse_vol_strike, r.spread_rmse_strike, r.inside_spread_strike));
        }
    }
    (is, oos, oss)
}
