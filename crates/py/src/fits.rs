//! Fit results → an Arrow table: one row per (snapshot, underlying, expiry) with exactly the
//! fields of `fit.json`'s expiry entries (nested objects — `params`, `std_errors`,
//! `arbitrage` — as struct columns): `snapshot`, `underlying`, `expiry`, then the other
//! fields in alphabetical order. The rows go through
//! the same serde serialisation as `fit.json`, so every number is the same `f64`.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::reader::{infer_json_schema_from_iterator, ReaderBuilder};
use arrow_schema::Schema;
use serde_json::{Map, Value};
use volfit::fit::SnapshotResult;

/// The key columns, first in the table.
const KEYS: [&str; 3] = ["snapshot", "underlying", "expiry"];

/// One JSON object per fitted expiry: `snapshot`, `underlying`, then the expiry's fields.
fn rows(results: &[SnapshotResult]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for r in results {
        for e in &r.fit.expiries {
            let mut row = Map::new();
            row.insert("snapshot".into(), Value::String(r.fit.snapshot.clone()));
            row.insert("underlying".into(), Value::String(r.fit.underlying.clone()));
            match serde_json::to_value(e).map_err(|e| e.to_string())? {
                Value::Object(fields) => row.extend(fields),
                other => return Err(format!("an expiry fit serialised as {other}")),
            }
            out.push(Value::Object(row));
        }
    }
    Ok(out)
}

/// The table of `results` (one record batch; no columns when nothing was fitted).
///
/// # Errors
/// Arrow's, should a field defeat schema inference.
pub fn to_batch(results: &[SnapshotResult]) -> Result<RecordBatch, String> {
    let rows = rows(results)?;
    if rows.is_empty() {
        return Ok(RecordBatch::new_empty(Arc::new(Schema::empty())));
    }
    let inferred = infer_json_schema_from_iterator(rows.iter().map(|r| Ok(r.clone())))
        .map_err(|e| e.to_string())?;
    // The keys first, then the fields alphabetically (as serde_json's maps hold them).
    let mut fields: Vec<_> = inferred.fields().iter().cloned().collect();
    let rank = |n: &str| KEYS.iter().position(|k| *k == n).unwrap_or(KEYS.len());
    fields.sort_by_key(|f| rank(f.name()));
    let mut decoder = ReaderBuilder::new(Arc::new(Schema::new(fields)))
        .with_batch_size(rows.len())
        .build_decoder()
        .map_err(|e| e.to_string())?;
    decoder.serialize(&rows).map_err(|e| e.to_string())?;
    let batch = decoder.flush().map_err(|e| e.to_string())?;
    Ok(batch.unwrap_or_else(|| RecordBatch::new_empty(Arc::new(Schema::empty()))))
}
