//! Cleaned snapshots ↔ an Arrow quotes table: one row per quote, with its snapshot's and
//! expiry's columns repeated (`snapshot`, `underlying`, `index`, `expiry`, `expiry_t`,
//! `forward`, `forward_source`), then the quote's own fields as in `volfit::market::Quote`
//! (`t` is the quote's own time to expiry). Times are UTC timestamps in ms.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
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

/// Snapshots being rebuilt: by underlying, then time: their index and expiries by expiry.
type Partial = BTreeMap<String, BTreeMap<i64, (Option<f64>, BTreeMap<i64, Expiry>)>>;

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
    let snaps = parts.into_iter().flat_map(|(underlying, by_time)| {
        by_time.into_iter().map(move |(time_ms, (index, expiries))| Snapshot {
            time_ms,
            underlying: underlying.clone(),
            index,
            expiries: expiries.into_values().collect(),
        })
    });
    Ok(snaps.collect())
}

/// The columns of one quotes batch, cast and downcast once.
struct Cols {
    time: ArrayRef,
    expiry: ArrayRef,
    und: ArrayRef,
    src: ArrayRef,
    inst: ArrayRef,
    kind: ArrayRef,
    /// `index`, `expiry_t`, `forward`, `strike`, `row_forward`, `t`.
    req: Vec<ArrayRef>,
    opt: Vec<ArrayRef>,
}

impl Cols {
    fn new(b: &RecordBatch) -> Result<Self, String> {
        let f64s = |n: &&str| column(b, n, &DataType::Float64);
        let strs = |n| column(b, n, &DataType::Utf8);
        let names = ["index", "expiry_t", "forward", "strike", "row_forward", "t"];
        Ok(Cols {
            time: column(b, "snapshot", &ts_type())?,
            expiry: column(b, "expiry", &ts_type())?,
            und: strs("underlying")?,
            src: strs("forward_source")?,
            inst: strs("instrument")?,
            kind: strs("type")?,
            req: names.iter().map(f64s).collect::<Result<_, _>>()?,
            opt: OPTIONAL.iter().map(f64s).collect::<Result<_, _>>()?,
        })
    }
}

/// Consecutive rows of one (underlying, snapshot, expiry): the snapshot's index and the
/// expiry with the group's quotes.
struct Group<'a> {
    key: (&'a str, i64, i64),
    index: Option<f64>,
    expiry: Expiry,
}

impl Group<'_> {
    /// Adds the group to `parts` (after the quotes of earlier groups of its expiry).
    fn flush(self, parts: &mut Partial) {
        let (underlying, t_ms, e_ms) = self.key;
        if !parts.contains_key(underlying) {
            parts.insert(underlying.to_string(), BTreeMap::new());
        }
        let by_time = parts.get_mut(underlying).expect("invariant: inserted above");
        let (_, expiries) = by_time.entry(t_ms).or_insert_with(|| (self.index, BTreeMap::new()));
        match expiries.get_mut(&e_ms) {
            Some(e) => e.quotes.extend(self.expiry.quotes),
            None => {
                expiries.insert(e_ms, self.expiry);
            }
        }
    }
}

/// Row `i` of a required text column.
fn text_at<'a>(a: &'a StringArray, i: usize, name: &str) -> Result<&'a str, String> {
    if a.is_null(i) {
        return Err(format!("quotes table: row {i}, field `{name}`: null"));
    }
    Ok(a.value(i))
}

fn read_batch(b: &RecordBatch, parts: &mut Partial) -> Result<(), String> {
    let c = Cols::new(b)?;
    let time = c.time.as_primitive::<TimestampMillisecondType>();
    let expiry = c.expiry.as_primitive::<TimestampMillisecondType>();
    let (und, src) = (c.und.as_string::<i32>(), c.src.as_string::<i32>());
    let (inst, kind) = (c.inst.as_string::<i32>(), c.kind.as_string::<i32>());
    let req: Vec<&Float64Array> = c.req.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
    let opt: Vec<&Float64Array> = c.opt.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
    let get = |a: &Float64Array, i: usize| a.is_valid(i).then(|| a.value(i));
    let mut group: Option<Group> = None;
    for i in 0..b.num_rows() {
        let null = |name: &str| format!("quotes table: row {i}, field `{name}`: null");
        let need = |v: Option<f64>, name: &str| v.ok_or_else(|| null(name));
        let text = |a, name| text_at(a, i, name);
        let t_ms = if time.is_valid(i) { time.value(i) } else { return Err(null("snapshot")) };
        let e_ms = if expiry.is_valid(i) { expiry.value(i) } else { return Err(null("expiry")) };
        let kind = match text(kind, "type")? {
            "C" | "c" | "call" => OptionType::Call,
            "P" | "p" | "put" => OptionType::Put,
            other => {
                return Err(format!("quotes table: row {i}, field `type`: {other:?} (C or P)"))
            }
        };
        let o: [Option<f64>; 13] = std::array::from_fn(|j| get(opt[j], i));
        let quote = Quote {
            instrument: text(inst, "instrument")?.to_string(),
            strike: need(get(req[3], i), "strike")?,
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
            row_forward: need(get(req[4], i), "row_forward")?,
            t: need(get(req[5], i), "t")?,
        };
        let underlying = text(und, "underlying")?;
        // Rows come grouped by (underlying, snapshot, expiry): the maps are touched once
        // per group, not per row.
        if let Some(g) = group.as_mut().filter(|g| g.key == (underlying, t_ms, e_ms)) {
            g.expiry.quotes.push(quote);
            continue;
        }
        if let Some(g) = group.take() {
            g.flush(parts);
        }
        let forward_source = match text(src, "forward_source")? {
            "parity" => ForwardSource::Parity,
            _ => ForwardSource::Underlying,
        };
        let expiry = Expiry {
            expiry_ms: e_ms,
            t: need(get(req[1], i), "expiry_t")?,
            forward: need(get(req[2], i), "forward")?,
            forward_source,
            quotes: vec![quote],
        };
        group = Some(Group { key: (underlying, t_ms, e_ms), index: get(req[0], i), expiry });
    }
    if let Some(g) = group {
        g.flush(parts);
    }
    Ok(())
}
