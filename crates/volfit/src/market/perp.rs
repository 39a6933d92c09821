//! Perpetual-futures price series (`perpetual_futures_prices.csv` of the svcj collector):
//! the hedge-instrument prices matched to each option snapshot.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{Error, ErrorKind};
use super::fields::{Columns, Row};
use super::input;
use super::stream::ReadOptions;

/// Header columns that mark the file (checked when a header matches no option format).
pub(crate) const SIGNATURE: &[&str] = &["snapshot_file", "perp_futures_mark_price"];

/// What option readers say about the file.
pub(crate) const NOT_OPTIONS: &str = "perpetual futures prices, not option quotes (`volfit hedge` \
     takes this file as its hedge prices, with --perp or found beside the snapshots)";

/// One perpetual price observation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerpPrice {
    /// Option snapshot file this price belongs to.
    pub snapshot_file: String,
    /// Snapshot time, ms since the epoch.
    pub snapshot_ms: i64,
    /// Coin (`BTC`, `ETH`).
    pub coin: String,
    /// Perpetual instrument, e.g. `BTC-PERPETUAL`.
    pub instrument: String,
    /// Price used (USD).
    pub price: f64,
}

/// Reads the whole series (small: one row per snapshot and coin).
///
/// # Errors
/// File-level problems and any invalid field.
pub fn read_perpetuals(path: &Path) -> Result<Vec<PerpPrice>, Error> {
    let limit = ReadOptions::default().max_line_bytes;
    let (input, trip) = input::LineCap::new(input::open(path, None)?, limit, true);
    read_capped(path, input).map_err(|e| match trip.line() {
        Some(line) => Error::new(ErrorKind::LineTooLong { path: path.to_path_buf(), line, limit }),
        None => e,
    })
}

fn read_capped(path: &Path, input: impl std::io::Read) -> Result<Vec<PerpPrice>, Error> {
    const NAME: &str = "perpetual-prices";
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
    let header = rdr.byte_headers().map_err(|e| Error::from_csv(path, 1, e))?.clone();
    if header.is_empty() {
        return Err(Error::new(ErrorKind::Empty { path: path.to_path_buf() }));
    }
    let c = Columns::new(&header);
    let file = c.req("snapshot_file", path, NAME)?;
    let ms = c.req("snapshot_timestamp_ms", path, NAME)?;
    let coin = c.req("coin", path, NAME)?;
    let inst = c.req("instrument_name", path, NAME)?;
    let price = c.req("perp_futures_mark_price", path, NAME)?;
    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut line = 1;
    while rdr.read_byte_record(&mut rec).map_err(|e| Error::from_csv(path, line, e))? {
        line = rec.position().map_or(line + 1, |p| p.line());
        let row = Row { rec: &rec, path, line };
        out.push(PerpPrice {
            snapshot_file: row.req_str(file, "snapshot_file")?.to_string(),
            snapshot_ms: row.i64(ms, "snapshot_timestamp_ms")?,
            coin: row.req_str(coin, "coin")?.to_string(),
            instrument: row.req_str(inst, "instrument_name")?.to_string(),
            price: row.positive(price, "perp_futures_mark_price")?,
        });
    }
    Ok(out)
}
