//! Cleaned snapshots ↔ an Arrow quotes table: one row per quote, with its snapshot's and
//! expiry's columns repeated (`snapshot`, `underlying`, `index`, `expiry`, `expiry_t`,
//! `forward`, `forward_source`), then the quote's own fields as in `volfit::market::Quote`
//! (`t` is the quote's own time to expiry). Times are UTC timestamps in ms.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use volfit::market::{Expiry, ForwardSource, OptionType, Quote, Snapshot};

/// The optional price/size columns of a quote, in table order.
const OPTIONAL: [&str; 13] = [
    "bid",
    "ask",
    "bid_coin",
    "ask_coin",
    "mark",
    "mark_iv",
    "bid_iv",
    "ask_iv",
    "mid_iv",
    "bid_size",
    "ask_size",
    "open_interest",
    "volume",
];

fn optional(q: &Quote) -> [Option<f64>; 13] {
    [
        q.bid,
        q.ask,
        q.bid_coin,
        q.ask_coin,
        q.mark,
        q.mark_iv,
        q.bid_iv,
        q.ask_iv,
        q.mid_iv,
        q.bid_size,
        q.ask_size,
        q.open_interest,
        q.volume,
    ]
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The schema of a quotes table.
pub fn schema() -> Schema {
    let f = |n: &str, nullable| Field::new(n, DataType::Float64, nullable);
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let mut fields = vec![
        Field::new("snapshot", ts_type(), false),
        s("underlying"),
        f("index", true),
        Field::new("expiry", ts_type(), false),
        f("expiry_t", false),
        f("forward", false),
        s("forward_source"),
        s("instrument"),
        f("strike", false),
        s("type"),
    ];
    fields.extend(OPTIONAL.iter().map(|n| f(n, true)));
    fields.push(f("row_forward", false));
    fields.push(f("t", false));
    Schema::new(fields)
}

fn source_name(s: ForwardSource) -> &'static str {
    match s {
        ForwardSource::Parity => "parity",
        ForwardSource::Underlying => "underlying",
    }
}

/// Snapshots being rebuilt: by (underlying, time), their index and expiries by expiry.
type Partial = BTreeMap<(String, i64), (Option<f64>, BTreeMap<i64, Expiry>)>;

/// The quotes table of `snaps`.
pub fn to_batch(snaps: &[&Snapshot]) -> RecordBatch {
    let n: usize = snaps.iter().map(|s| s.num_quotes()).sum();
    let mut times = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut expiries = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut und = StringBuilder::new();
    let mut src = StringBuilder::new();
    let mut inst = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut num: Vec<Float64Builder> = (0..18).map(|_| Float64Builder::with_capacity(n)).collect();
    for s in snaps {
        for e in &s.expiries {
            for q in &e.quotes {
                times.append_value(s.time_ms);
                und.append_value(&s.underlying);
                num[0].append_option(s.index);
                expiries.append_value(e.expiry_ms);
                num[1].append_value(e.t);
                num[2].append_value(e.forward);
                src.append_value(source_name(e.forward_source));
                inst.append_value(&q.instrument);
                num[3].append_value(q.strike);
                kind.append_value(q.kind.letter());
                for (b, v) in num[4..17].iter_mut().zip(optional(q)) {
                    b.append_option(v);
                }
                num[17].append_value(q.row_forward);
            }
        }
    }
    let mut t = Float64Builder::with_capacity(n);
    snaps.iter().flat_map(|s| &s.expiries).flat_map(|e| &e.quotes).for_each(|q| {
        t.append_value(q.t);
    });
    let mut num = num.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut next = || num.next().expect("18 numeric builders");
    let mut cols: Vec<ArrayRef> = vec![Arc::new(times.finish()), Arc::new(und.finish()), next()];
    cols.push(Arc::new(expiries.finish()));
    cols.extend([next(), next()]);
    cols.extend([Arc::new(src.finish()) as ArrayRef, Arc::new(inst.finish())]);
    cols.push(next());
    cols.push(Arc::new(kind.finish()));
    cols.extend((0..14).map(|_| next()));
    cols.push(Arc::new(t.finish()));
    RecordBatch::try_new(Arc::new(schema()), cols).expect("columns match the quotes schema")
}

/// A column of `batch` cast to `to`, or an error naming it.
fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef, String> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| format!("quotes table: missing column `{name}` (see read_chain)"))?;
    arrow_cast::cast(col, to).map_err(|e| format!("quotes table: column `{name}`: {e}"))
}

/// Reads the quotes tables `batches` back into snapshots, sorted by (underlying, time),
/// expiries by time, quotes in row order.
///
/// # Errors
/// A missing column, a column of the wrong type, or a null in a required field, named.
pub fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Snapshot>, String> {
    let mut parts = Partial::new();
    for b in batches {
        read_batch(b, &mut parts)?;
    }
    let snaps = parts.into_iter().map(|((underlying, time_ms), (index, expiries))| Snapshot {
        time_ms,
        underlying,
        index,
        expiries: expiries.into_values().collect(),
    });
    Ok(snaps.collect())
}

fn read_batch(b: &RecordBatch, parts: &mut Partial) -> Result<(), String> {
    let ts = |n| column(b, n, &ts_type());
    let f64s = |n| column(b, n, &DataType::Float64);
    let strs = |n| column(b, n, &DataType::Utf8);
    let (time, expiry) = (ts("snapshot")?, ts("expiry")?);
    let time = time.as_primitive::<TimestampMillisecondType>();
    let expiry = expiry.as_primitive::<TimestampMillisecondType>();
    let (und, src, inst, kind) =
        (strs("underlying")?, strs("forward_source")?, strs("instrument")?, strs("type")?);
    let (und, src, inst, kind) = (
        und.as_string::<i32>(),
        src.as_string::<i32>(),
        inst.as_string::<i32>(),
        kind.as_string::<i32>(),
    );
    let names = ["index", "expiry_t", "forward", "strike", "row_forward", "t"];
    let req: Vec<ArrayRef> = names.iter().map(|n| f64s(n)).collect::<Result<_, _>>()?;
    let opt: Vec<ArrayRef> = OPTIONAL.iter().map(|n| f64s(n)).collect::<Result<_, _>>()?;
    let get = |a: &ArrayRef, i: usize| {
        let a = a.as_primitive::<Float64Type>();
        a.is_valid(i).then(|| a.value(i))
    };
    for i in 0..b.num_rows() {
        let need = |v: Option<f64>, name: &str| {
            v.ok_or_else(|| format!("quotes table: row {i}, field `{name}`: null"))
        };
        let text = |a: &arrow_array::StringArray, name: &str| -> Result<String, String> {
            if a.is_null(i) {
                return Err(format!("quotes table: row {i}, field `{name}`: null"));
            }
            Ok(a.value(i).to_string())
        };
        let t_ms = need(time.is_valid(i).then(|| time.value(i) as f64), "snapshot")? as i64;
        let e_ms = need(expiry.is_valid(i).then(|| expiry.value(i) as f64), "expiry")? as i64;
        let kind = match text(kind, "type")?.as_str() {
            "C" | "c" | "call" => OptionType::Call,
            "P" | "p" | "put" => OptionType::Put,
            other => {
                return Err(format!("quotes table: row {i}, field `type`: {other:?} (C or P)"))
            }
        };
        let o: Vec<Option<f64>> = opt.iter().map(|a| get(a, i)).collect();
        let quote = Quote {
            instrument: text(inst, "instrument")?,
            strike: need(get(&req[3], i), "strike")?,
            kind,
            bid: o[0],
            ask: o[1],
            bid_coin: o[2],
            ask_coin: o[3],
            mark: o[4],
            mark_iv: o[5],
            bid_iv: o[6],
            ask_iv: o[7],
            mid_iv: o[8],
            bid_size: o[9],
            ask_size: o[10],
            open_interest: o[11],
            volume: o[12],
            row_forward: need(get(&req[4], i), "row_forward")?,
            t: need(get(&req[5], i), "t")?,
        };
        let underlying = text(und, "underlying")?;
        let (_, expiries) =
            parts.entry((underlying, t_ms)).or_insert_with(|| (get(&req[0], i), BTreeMap::new()));
        match expiries.get_mut(&e_ms) {
            Some(e) => e.quotes.push(quote),
            None => {
                let forward_source = match text(src, "forward_source")?.as_str() {
                    "parity" => ForwardSource::Parity,
                    _ => ForwardSource::Underlying,
                };
                let e = Expiry {
                    expiry_ms: e_ms,
                    t: need(get(&req[1], i), "expiry_t")?,
                    forward: need(get(&req[2], i), "forward")?,
                    forward_source,
                    quotes: vec![quote],
                };
                expiries.insert(e_ms, e);
            }
        }
    }
    Ok(())
}
