//! Walk-forward validation as partial + combine, so the reduce can be distributed.
//!
//! The partial of a set of snapshots is the library's [`walk_forward`] run on each of its
//! partitions ((venue, underlying, UTC day), [`partition`]) on its own — fits warm-started
//! within the partition, each scored in-sample and on the next `horizon` snapshots of the
//! same partition — as `walk_forward.csv` rows. Partials of disjoint partitions concatenate.
//! The combine pools rows as `volfit validate`'s `summary.csv` does ([`pool`]), through
//! sums that add across partitions in any order: [`sums`] of a partial, then [`finish`].

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use volfit::fit::{partition, ErrorAcc, FitSpec};
use volfit::market::Snapshot;
use volfit::validate::{
    pool, series_by_underlying, spec_label, walk_forward, LabeledSpec, WalkForwardRow,
};

use crate::fits::col;

/// The walk-forward rows of every partition of `snaps` under `spec` (spec id 0).
pub fn partial(snaps: &[Snapshot], spec: &FitSpec, horizon: usize) -> Vec<WalkForwardRow> {
    let labeled = LabeledSpec { id: 0, label: spec_label(spec), spec: spec.clone() };
    let mut rows = Vec::new();
    for series in series_by_underlying(snaps) {
        for part in series.chunk_by(|a, b| partition(a) == partition(b)) {
            rows.extend(walk_forward(part, &labeled, horizon).rows);
        }
    }
    rows
}

/// Names of the 15 sums of [`sums`]: `(is|oos|oos_strike)_(sse|sae|sse_spread|inside|n)`.
pub const SUM_NAMES: [&str; 15] = [
    "is_sse",
    "is_sae",
    "is_sse_spread",
    "is_inside",
    "is_n",
    "oos_sse",
    "oos_sae",
    "oos_sse_spread",
    "oos_inside",
    "oos_n",
    "oos_strike_sse",
    "oos_strike_sae",
    "oos_strike_sse_spread",
    "oos_strike_inside",
    "oos_strike_n",
];

/// The pooled accumulators of `rows` (in-sample, out-of-sample sticky moneyness and sticky
/// strike) as 15 numbers that add across partials.
pub fn sums(rows: &[WalkForwardRow]) -> Vec<f64> {
    let refs: Vec<&WalkForwardRow> = rows.iter().collect();
    let (is, oos, oss) = pool(&refs);
    [is, oos, oss]
        .iter()
        .flat_map(|a| [a.sse, a.sae, a.sse_spread, a.inside as f64, a.n as f64])
        .collect()
}

/// The summary of added [`sums`], with `summary.csv`'s names and formulas.
///
/// # Errors
/// When `s` does not hold 15 numbers.
pub fn finish(s: &[f64]) -> Result<Vec<(&'static str, f64)>, String> {
    if s.len() != SUM_NAMES.len() {
        return Err(format!("validate sums: {} numbers, expected {}", s.len(), SUM_NAMES.len()));
    }
    let acc = |i: usize| ErrorAcc {
        sse: s[i],
        sae: s[i + 1],
        sse_spread: s[i + 2],
        inside: s[i + 3] as usize,
        n: s[i + 4] as usize,
    };
    let (is, oos, oss) = (acc(0), acc(5), acc(10));
    Ok(vec![
        ("n_is", is.n as f64),
        ("is_rmse", is.rmse()),
        ("n_oos", oos.n as f64),
        ("oos_rmse", oos.rmse()),
        ("oos_rmse_strike", oss.rmse()),
        ("oos_spread_rmse", oos.spread_rmse()),
        ("oos_inside_spread", oos.inside_share()),
        ("overfit", oos.rmse() / is.rmse()),
    ])
}

/// Builders of the `walk_forward.csv` columns, in its order.
#[derive(Default)]
struct Columns {
    spec_id: Int64Builder,
    spec: StringBuilder,
    underlying: StringBuilder,
    fit_snapshot: StringBuilder,
    eval_snapshot: StringBuilder,
    horizon: Int64Builder,
    expiry: StringBuilder,
    t: Float64Builder,
    bucket: StringBuilder,
    n: Int64Builder,
    floats: [Float64Builder; 6],
}

/// The six error columns of a row, in table order.
const ERRORS: [&str; 6] = [
    "rmse_vol",
    "spread_rmse",
    "inside_spread",
    "rmse_vol_strike",
    "spread_rmse_strike",
    "inside_spread_strike",
];

fn int(n: usize) -> i64 {
    i64::try_from(n).expect("invariant: counts fit in i64")
}

/// The rows as an Arrow table with `walk_forward.csv`'s columns (NaN kept as NaN).
pub fn to_batch(rows: &[WalkForwardRow]) -> Result<RecordBatch, String> {
    let mut c = Columns::default();
    for r in rows {
        let WalkForwardRow {
            spec_id,
            spec,
            underlying,
            fit_snapshot,
            eval_snapshot,
            horizon,
            expiry,
            t,
            bucket,
            n,
            rmse_vol,
            spread_rmse,
            inside_spread,
            rmse_vol_strike,
            spread_rmse_strike,
            inside_spread_strike,
        } = r;
        c.spec_id.append_value(int(*spec_id));
        c.spec.append_value(spec);
        c.underlying.append_value(underlying);
        c.fit_snapshot.append_value(fit_snapshot);
        c.eval_snapshot.append_value(eval_snapshot);
        c.horizon.append_value(int(*horizon));
        c.expiry.append_value(expiry);
        c.t.append_value(*t);
        c.bucket.append_value(bucket);
        c.n.append_value(int(*n));
        let errors = [
            rmse_vol,
            spread_rmse,
            inside_spread,
            rmse_vol_strike,
            spread_rmse_strike,
            inside_spread_strike,
        ];
        for (b, v) in c.floats.iter_mut().zip(errors) {
            b.append_value(*v);
        }
    }
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("spec_id", col(c.spec_id.finish())),
        ("spec", col(c.spec.finish())),
        ("underlying", col(c.underlying.finish())),
        ("fit_snapshot", col(c.fit_snapshot.finish())),
        ("eval_snapshot", col(c.eval_snapshot.finish())),
        ("horizon", col(c.horizon.finish())),
        ("expiry", col(c.expiry.finish())),
        ("t", col(c.t.finish())),
        ("bucket", col(c.bucket.finish())),
        ("n", col(c.n.finish())),
    ];
    for (name, mut b) in ERRORS.into_iter().zip(c.floats) {
        cols.push((name, col(b.finish())));
    }
    let fields: Vec<Field> =
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), false)).collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

/// The rows of partial tables, as far as pooling needs them (`horizon`, `n` and the six
/// error columns; the labels are left empty).
pub fn from_batches(batches: &[RecordBatch]) -> Result<Vec<WalkForwardRow>, String> {
    let mut rows = Vec::new();
    for b in batches {
        let column = |name: &str| {
            b.column_by_name(name)
                .ok_or_else(|| format!("validate partial: no column `{name}`"))
                .cloned()
        };
        let ints = |name: &str| -> Result<Vec<usize>, String> {
            let a = column(name)?;
            let a = a
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| format!("validate partial: column `{name}` is not int64"))?;
            a.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.and_then(|v| usize::try_from(v).ok())
                        .ok_or_else(|| format!("validate partial: `{name}` row {i}: {v:?}"))
                })
                .collect()
        };
        let floats = |name: &str| -> Result<Vec<f64>, String> {
            let a = column(name)?;
            let a = a
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| format!("validate partial: column `{name}` is not float64"))?;
            Ok((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }).collect())
        };
        let (horizon, n) = (ints("horizon")?, ints("n")?);
        let e: Vec<Vec<f64>> = ERRORS.iter().map(|n| floats(n)).collect::<Result<_, _>>()?;
        for i in 0..b.num_rows() {
            rows.push(WalkForwardRow {
                spec_id: 0,
                spec: String::new(),
                underlying: String::new(),
                fit_snapshot: String::new(),
                eval_snapshot: String::new(),
                horizon: horizon[i],
                expiry: String::new(),
                t: f64::NAN,
                bucket: String::new(),
                n: n[i],
                rmse_vol: e[0][i],
                spread_rmse: e[1][i],
                inside_spread: e[2][i],
                rmse_vol_strike: e[3][i],
                spread_rmse_strike: e[4][i],
                inside_spread_strike: e[5][i],
            });
        }
    }
    Ok(rows)
}
