//! Fit results → an Arrow table: one row per (snapshot, underlying, expiry) with exactly the
//! fields of `fit.json`'s expiry entries ([`ExpiryFit`]): `snapshot`, `underlying`,
//! `expiry`, then the other fields in alphabetical order, the nested objects as struct
//! columns (`arbitrage`; `params` and `std_errors` with one field per parameter name of the
//! run, in name order, null where an entry lacks it).
//!
//! Built with typed Arrow builders straight from the structs `fit.json` serialises (no JSON
//! in between): every number is the same `f64`, a non-finite one is null (as serde_json
//! writes it), enums are their serde names. [`ExpiryFit`] and [`ArbitrageVerdict`] are
//! destructured without `..`, so a new field fails to compile here until it has a column.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{Field, Fields, Schema};
use volfit::fit::{ArbitrageVerdict, ExpiryFit, SnapshotResult, ViolationWhere};

/// The serde name of a unit enum variant (`Stop`, `ViolationWhere`): its JSON string.
fn serde_name<T: serde::Serialize>(v: &T) -> Result<String, String> {
    match serde_json::to_value(v).map_err(|e| e.to_string())? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(format!("an enum serialised as {other}")),
    }
}

/// A float as `fit.json` holds it: non-finite values are null.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Builders of the `arbitrage` struct column (fields in name order).
#[derive(Default)]
struct ArbitrageCols {
    butterfly_ok: BooleanBuilder,
    butterfly_where: StringBuilder,
    calendar_ok: BooleanBuilder,
    calendar_where: StringBuilder,
    worst: StringBuilder,
}

impl ArbitrageCols {
    fn push(&mut self, a: &ArbitrageVerdict) -> Result<(), String> {
        let ArbitrageVerdict { butterfly_ok, calendar_ok, butterfly_where, calendar_where, worst } =
            a;
        let place = |w: &ViolationWhere| serde_name(w);
        self.butterfly_ok.append_value(*butterfly_ok);
        self.butterfly_where.append_value(place(butterfly_where)?);
        self.calendar_ok.append_value(*calendar_ok);
        self.calendar_where.append_value(place(calendar_where)?);
        self.worst.append_option(worst.as_deref());
        Ok(())
    }

    fn finish(mut self) -> ArrayRef {
        let len = self.butterfly_ok.len();
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("butterfly_ok", col(self.butterfly_ok.finish())),
            ("butterfly_where", col(self.butterfly_where.finish())),
            ("calendar_ok", col(self.calendar_ok.finish())),
            ("calendar_where", col(self.calendar_where.finish())),
            ("worst", col(self.worst.finish())),
        ];
        struct_of(len, cols)
    }
}

/// A finished builder's array as a column.
pub(crate) fn col(a: impl Array + 'static) -> ArrayRef {
    Arc::new(a)
}

/// A struct array of `len` rows of named child arrays (every child nullable; the struct
/// itself not).
fn struct_of(len: usize, cols: Vec<(&str, ArrayRef)>) -> ArrayRef {
    if cols.is_empty() {
        return Arc::new(StructArray::new_empty_fields(len, None));
    }
    let fields: Fields =
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    Arc::new(StructArray::new(fields, arrays, None))
}

/// Builders of a name → value struct column (`params`, `std_errors`).
struct NamedCols {
    names: Vec<String>,
    values: Vec<Float64Builder>,
    len: usize,
}

impl NamedCols {
    fn new(names: &BTreeSet<&str>) -> Self {
        NamedCols {
            names: names.iter().map(|s| s.to_string()).collect(),
            values: names.iter().map(|_| Float64Builder::new()).collect(),
            len: 0,
        }
    }
    fn push(&mut self, map: &BTreeMap<String, f64>) {
        self.len += 1;
        for (name, b) in self.names.iter().zip(&mut self.values) {
            b.append_option(map.get(name).copied().and_then(finite));
        }
    }
    fn finish(self) -> ArrayRef {
        let cols: Vec<(&str, ArrayRef)> = self
            .names
            .iter()
            .zip(self.values)
            .map(|(n, mut b)| (n.as_str(), col(b.finish())))
            .collect();
        struct_of(self.len, cols)
    }
}

/// One builder per column of the table.
struct Columns {
    snapshot: StringBuilder,
    underlying: StringBuilder,
    expiry: StringBuilder,
    arbitrage: ArbitrageCols,
    converged: BooleanBuilder,
    evaluations: Int64Builder,
    forward: Float64Builder,
    inside_spread: Float64Builder,
    iterations: Int64Builder,
    loss: Float64Builder,
    mae_vol: Float64Builder,
    model: StringBuilder,
    n_quotes: Int64Builder,
    params: NamedCols,
    rmse_vol: Float64Builder,
    std_errors: NamedCols,
    stop: StringBuilder,
    t: Float64Builder,
    time_us: Int64Builder,
}

/// An integer column value (Arrow's Int64, as `fit.json`'s numbers read back).
fn int(n: impl TryInto<i64>, what: &str) -> Result<i64, String> {
    n.try_into().map_err(|_| format!("{what} does not fit in an int64"))
}

impl Columns {
    fn new(names: &BTreeSet<&str>) -> Self {
        Columns {
            snapshot: StringBuilder::new(),
            underlying: StringBuilder::new(),
            expiry: StringBuilder::new(),
            arbitrage: ArbitrageCols::default(),
            converged: BooleanBuilder::new(),
            evaluations: Int64Builder::new(),
            forward: Float64Builder::new(),
            inside_spread: Float64Builder::new(),
            iterations: Int64Builder::new(),
            loss: Float64Builder::new(),
            mae_vol: Float64Builder::new(),
            model: StringBuilder::new(),
            n_quotes: Int64Builder::new(),
            params: NamedCols::new(names),
            rmse_vol: Float64Builder::new(),
            std_errors: NamedCols::new(names),
            stop: StringBuilder::new(),
            t: Float64Builder::new(),
            time_us: Int64Builder::new(),
        }
    }

    fn push(&mut self, snapshot: &str, underlying: &str, e: &ExpiryFit) -> Result<(), String> {
        let ExpiryFit {
            expiry,
            t,
            forward,
            model,
            params,
            std_errors,
            n_quotes,
            rmse_vol,
            mae_vol,
            inside_spread,
            loss,
            stop,
            converged,
            iterations,
            evaluations,
            time_us,
            arbitrage,
        } = e;
        self.snapshot.append_value(snapshot);
        self.underlying.append_value(underlying);
        self.expiry.append_value(expiry);
        self.arbitrage.push(arbitrage)?;
        self.converged.append_value(*converged);
        self.evaluations.append_value(int(*evaluations, "evaluations")?);
        self.forward.append_option(finite(*forward));
        self.inside_spread.append_option(finite(*inside_spread));
        self.iterations.append_value(i64::from(*iterations));
        self.loss.append_option(finite(*loss));
        self.mae_vol.append_option(finite(*mae_vol));
        self.model.append_value(serde_name(model)?);
        self.n_quotes.append_value(int(*n_quotes, "n_quotes")?);
        self.params.push(params);
        self.rmse_vol.append_option(finite(*rmse_vol));
        self.std_errors.push(std_errors);
        self.stop.append_value(serde_name(stop)?);
        self.t.append_option(finite(*t));
        self.time_us.append_value(int(*time_us, "time_us")?);
        Ok(())
    }

    fn finish(mut self) -> Result<RecordBatch, String> {
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("snapshot", col(self.snapshot.finish())),
            ("underlying", col(self.underlying.finish())),
            ("expiry", col(self.expiry.finish())),
            ("arbitrage", self.arbitrage.finish()),
            ("converged", col(self.converged.finish())),
            ("evaluations", col(self.evaluations.finish())),
            ("forward", col(self.forward.finish())),
            ("inside_spread", col(self.inside_spread.finish())),
            ("iterations", col(self.iterations.finish())),
            ("loss", col(self.loss.finish())),
            ("mae_vol", col(self.mae_vol.finish())),
            ("model", col(self.model.finish())),
            ("n_quotes", col(self.n_quotes.finish())),
            ("params", self.params.finish()),
            ("rmse_vol", col(self.rmse_vol.finish())),
            ("std_errors", self.std_errors.finish()),
            ("stop", col(self.stop.finish())),
            ("t", col(self.t.finish())),
            ("time_us", col(self.time_us.finish())),
        ];
        // Every column nullable, as Arrow's JSON reader made them before.
        let fields: Vec<Field> =
            cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
        let arrays = cols.into_iter().map(|(_, a)| a).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
    }
}

/// The table of `results`: one row per fitted expiry.
///
/// # Errors
/// A count beyond `i64` or an enum that does not serialise as a name (neither happens).
pub fn to_batch(results: &[SnapshotResult]) -> Result<RecordBatch, String> {
    let names: BTreeSet<&str> = results
        .iter()
        .flat_map(|r| &r.fit.expiries)
        .flat_map(|e| e.params.keys().chain(e.std_errors.keys()))
        .map(String::as_str)
        .collect();
    let mut cols = Columns::new(&names);
    for r in results {
        for e in &r.fit.expiries {
            cols.push(&r.fit.snapshot, &r.fit.underlying, e)?;
        }
    }
    cols.finish()
}
