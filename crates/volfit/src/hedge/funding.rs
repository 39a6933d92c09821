//! Funding of the perpetual hedge: a constant rate, or the hourly history of Deribit's
//! `public/get_funding_rate_history` ([`FundingHistory`]).
//!
//! Deribit's history has one entry per hour: `timestamp` (ms, the end of the hour),
//! `interest_1h` (the funding rate over that hour, a fraction of the position's notional
//! at the index) and `interest_8h` (the trailing eight hours). A positive rate means longs
//! pay shorts. Over a hedge step `[t₀, t₁]` the accrued rate is
//! `φ = Σ interest_1h·overlap/1 h` over the hours of the history, plus `rate_8h·gap/8 h`
//! over any time the history does not cover (counted in the output); a hedge of `h`
//! coins then receives `−h·P₀·φ` USD (`−h·φ` coin).

use super::config::{check, InvalidValue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

const HOUR_MS: i64 = 3_600_000;

/// How funding is charged (TOML table `[funding]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FundingConfig {
    /// Constant funding rate per 8 hours (fraction; 0.0001 = 0.01 % per 8 h), used where no
    /// history covers a step. `None`: 0 (the default, stated in the output).
    pub rate_8h: Option<f64>,
    /// Funding histories per coin (`BTC = "btc_funding.json"`), each a saved response of
    /// Deribit's `public/get_funding_rate_history` for that coin's perpetual.
    pub files: BTreeMap<String, PathBuf>,
}

impl FundingConfig {
    /// The constant rate per 8 hours (0 by default).
    pub fn rate_8h(&self) -> f64 {
        self.rate_8h.unwrap_or(0.0)
    }

    /// Its values against their rules.
    pub(super) fn validate(&self) -> Result<(), InvalidValue> {
        if let Some(r) = self.rate_8h {
            let rule = "a finite fraction per 8 h with |rate| < 1";
            check(r.is_finite() && r.abs() < 1.0, "funding.rate_8h", &r.to_string(), rule)?;
        }
        for (coin, path) in &self.files {
            let key = format!("funding.files.{coin}");
            check(!coin.trim().is_empty(), &key, "\"\"", "a coin name")?;
            let shown = format!("{:?}", path.display().to_string());
            check(!path.as_os_str().is_empty(), &key, &shown, "a file path")?;
        }
        Ok(())
    }

    /// How funding is charged for `coin`, one line for the output.
    pub fn describe(&self, coin: &str, history: &FundingHistory) -> String {
        let rate = match self.rate_8h {
            Some(r) => format!("{r} per 8 h (configured)"),
            None => "0 per 8 h (default: no funding rate or history given)".to_string(),
        };
        match history.hours(coin) {
            0 => format!("constant {rate}"),
            n => format!("history, {n} hourly rates; outside it {rate}"),
        }
    }
}

/// A malformed funding history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingError {
    /// Where the history came from (file name).
    pub source: String,
    /// What is wrong, with the entry index and field.
    pub message: String,
}

impl fmt::Display for FundingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for FundingError {}

/// Hourly funding rates per coin: `(end of hour ms, interest_1h)`, sorted by time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FundingHistory {
    rates: BTreeMap<String, Vec<(i64, f64)>>,
}

impl FundingHistory {
    /// Adds the history of `coin` from the text of a `get_funding_rate_history` response
    /// (the JSON-RPC object with `result`, or the bare `result` array). Entries are sorted;
    /// a repeated hour keeps its first rate.
    ///
    /// # Errors
    /// Not JSON, no `result` array, or an entry without an integer `timestamp` or a finite
    /// `interest_1h` (named with the entry's index).
    pub fn add_json(&mut self, coin: &str, text: &str, source: &str) -> Result<(), FundingError> {
        let err = |message: String| FundingError { source: source.to_string(), message };
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
        let entries = match &doc {
            serde_json::Value::Array(a) => a,
            v => v.get("result").and_then(|r| r.as_array()).ok_or_else(|| {
                err("no `result` array (expected a get_funding_rate_history response)".into())
            })?,
        };
        let mut rates = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let ts = e.get("timestamp").and_then(serde_json::Value::as_i64);
            let r = e.get("interest_1h").and_then(serde_json::Value::as_f64);
            let ts = ts.ok_or_else(|| err(format!("entry {i}: `timestamp` is not an integer")))?;
            let r = r
                .filter(|r| r.is_finite())
                .ok_or_else(|| err(format!("entry {i}: `interest_1h` is not a finite number")))?;
            rates.push((ts, r));
        }
        let all = self.rates.entry(coin.to_string()).or_default();
        all.extend(rates);
        all.sort_by_key(|&(ts, _)| ts);
        all.dedup_by_key(|&mut (ts, _)| ts);
        Ok(())
    }

    /// Number of hourly rates of `coin`.
    pub fn hours(&self, coin: &str) -> usize {
        self.rates.get(coin).map_or(0, Vec::len)
    }

    /// Accrued funding rate of `coin` over `[t0, t1]` (ms) and the time (ms) the history
    /// does not cover there, which accrues at `rate_8h` (included in the rate).
    pub fn accrued(&self, coin: &str, t0: i64, t1: i64, rate_8h: f64) -> (f64, i64) {
        let span = (t1 - t0).max(0);
        let (mut phi, mut covered) = (0.0, 0);
        if let Some(rates) = self.rates.get(coin) {
            // Hours ending after t0 and starting before t1.
            let first = rates.partition_point(|&(ts, _)| ts <= t0);
            for &(end, r) in rates[first..].iter().take_while(|&&(end, _)| end - HOUR_MS < t1) {
                let overlap = (end.min(t1) - (end - HOUR_MS).max(t0)).max(0);
                phi += r * overlap as f64 / HOUR_MS as f64;
                covered += overlap;
            }
        }
        let gap = (span - covered).max(0);
        (phi + rate_8h * gap as f64 / (8 * HOUR_MS) as f64, gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accrues_hourly_rates_by_overlap_and_the_constant_rate_elsewhere() {
        // Deribit layout (docs example entry), two hours ending at 2 h and 3 h.
        let text = r#"{"jsonrpc":"2.0","result":[
            {"timestamp":10800000,"index_price":8247.27,"prev_index_price":8222.87,
             "interest_8h":-0.0001,"interest_1h":0.0002},
            {"timestamp":7200000,"index_price":8222.87,"prev_index_price":8305.72,
             "interest_8h":-0.00009234,"interest_1h":0.0001}]}"#;
        let mut h = FundingHistory::default();
        h.add_json("BTC", text, "f.json").unwrap();
        assert_eq!(h.hours("BTC"), 2);
        // [1.5 h, 2.5 h]: half of hour (1,2] at 1e-4 + half of (2,3] at 2e-4 = 1.5e-4.
        let (phi, gap) = h.accrued("BTC", 5_400_000, 9_000_000, 0.0);
        assert!((phi - 1.5e-4).abs() < 1e-18 && gap == 0, "{phi} {gap}");
        // [0, 4 h]: 3e-4 from the history, 2 h uncovered at 8e-4 per 8 h = 2e-4.
        let (phi, gap) = h.accrued("BTC", 0, 4 * HOUR_MS, 8e-4);
        assert!((phi - 5e-4).abs() < 1e-18 && gap == 2 * HOUR_MS, "{phi} {gap}");
        // Another coin: the constant rate only.
        assert_eq!(h.accrued("ETH", 0, 8 * HOUR_MS, 1e-4), (1e-4, 8 * HOUR_MS));
    }

    #[test]
    fn malformed_histories_name_the_entry_and_field() {
        let mut h = FundingHistory::default();
        let e = h.add_json("BTC", r#"{"result":[{"timestamp":1}]}"#, "f.json").unwrap_err();
        assert_eq!(e.to_string(), "f.json: entry 0: `interest_1h` is not a finite number");
        let e = h.add_json("BTC", r#"{"error":1}"#, "f.json").unwrap_err();
        assert!(e.message.contains("no `result` array"), "{e}");
        assert!(h.add_json("BTC", "nope", "f.json").unwrap_err().message.starts_with("not JSON"));
    }
}
