//! Parquet output of the validation tables (cargo feature `parquet`; uncompressed, one row
//! group per table). Each table goes through its CSV form so column names and order are the
//! CSV's; a column whose values all parse as integers is INT64, as numbers DOUBLE (`NaN`
//! kept), as `true`/`false` BOOLEAN, otherwise UTF-8 strings; empty cells are nulls.

use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;
use std::io;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq)]
enum Col {
    Int,
    Double,
    Bool,
    Text,
}

fn infer(cells: &[&str]) -> Col {
    let present: Vec<&str> = cells.iter().copied().filter(|c| !c.is_empty()).collect();
    if present.is_empty() {
        Col::Text
    } else if present.iter().all(|c| c.parse::<i64>().is_ok()) {
        Col::Int
    } else if present.iter().all(|c| c.parse::<f64>().is_ok()) {
        Col::Double
    } else if present.iter().all(|c| *c == "true" || *c == "false") {
        Col::Bool
    } else {
        Col::Text
    }
}

fn perr(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

/// Encodes `rows` as a Parquet file in memory.
///
/// # Errors
/// Serialisation errors (as I/O errors).
pub fn to_parquet<T: Serialize>(rows: &[T]) -> io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(io::Error::other)?;
    }
    let text = w.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
    let mut rd = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_slice());
    let header: Vec<String> =
        rd.headers().map_err(io::Error::other)?.iter().map(String::from).collect();
    let records: Vec<csv::StringRecord> =
        rd.records().collect::<Result<_, _>>().map_err(io::Error::other)?;
    let ncols = header.len();
    let cols: Vec<Vec<&str>> =
        (0..ncols).map(|j| records.iter().map(|r| r.get(j).unwrap_or("")).collect()).collect();
    let kinds: Vec<Col> = cols.iter().map(|c| infer(c)).collect();
    let mut msg = String::from("message table {\n");
    for (name, kind) in header.iter().zip(&kinds) {
        let ty = match kind {
            Col::Int => "INT64",
            Col::Double => "DOUBLE",
            Col::Bool => "BOOLEAN",
            Col::Text => "BYTE_ARRAY",
        };
        let ann = if *kind == Col::Text { " (UTF8)" } else { "" };
        // Names come from our own serde field names: plain identifiers.
        msg.push_str(&format!("  OPTIONAL {ty} {name}{ann};\n"));
    }
    msg.push('}');
    let schema = Arc::new(parse_message_type(&msg).map_err(perr)?);
    let props = Arc::new(WriterProperties::builder().build());
    let mut out = Vec::new();
    let mut fw = SerializedFileWriter::new(&mut out, schema, props).map_err(perr)?;
    let mut rg = fw.next_row_group().map_err(perr)?;
    let mut j = 0;
    while let Some(mut cw) = rg.next_column().map_err(perr)? {
        let cells = &cols[j];
        let def: Vec<i16> = cells.iter().map(|c| i16::from(!c.is_empty())).collect();
        let present = cells.iter().filter(|c| !c.is_empty());
        use parquet::column::writer::ColumnWriter as W;
        match cw.untyped() {
            W::Int64ColumnWriter(w) => {
                let v: Vec<i64> = present.map(|c| c.parse().unwrap_or_default()).collect();
                w.write_batch(&v, Some(&def), None).map_err(perr)?;
            }
            W::DoubleColumnWriter(w) => {
                let v: Vec<f64> = present.map(|c| c.parse().unwrap_or(f64::NAN)).collect();
                w.write_batch(&v, Some(&def), None).map_err(perr)?;
            }
            W::BoolColumnWriter(w) => {
                let v: Vec<bool> = present.map(|c| *c == "true").collect();
                w.write_batch(&v, Some(&def), None).map_err(perr)?;
            }
            W::ByteArrayColumnWriter(w) => {
                let v: Vec<ByteArray> = present.map(|c| ByteArray::from(*c)).collect();
                w.write_batch(&v, Some(&def), None).map_err(perr)?;
            }
            _ => return Err(io::Error::other("unexpected parquet column type")),
        }
        cw.close().map_err(perr)?;
        j += 1;
    }
    rg.close().map_err(perr)?;
    fw.close().map_err(perr)?;
    Ok(out)
}
