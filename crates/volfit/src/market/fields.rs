//! Column lookup by normalised header name and typed access to one CSV row's fields,
//! each failure naming file, line and field.

use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use csv::ByteRecord;

use super::error::{Error, ErrorKind, FieldReason};
use super::instrument::expiry_0800_ms;

/// Header names normalised: BOM stripped, trimmed, `[` `]` removed, lower-cased.
#[derive(Clone, Debug)]
pub(crate) struct Columns {
    names: Vec<String>,
}

/// Normalises one header cell.
pub(crate) fn normalise(h: &[u8]) -> String {
    let s = String::from_utf8_lossy(h);
    let s = s.trim_start_matches('\u{feff}').trim();
    let s = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(s);
    s.trim().to_ascii_lowercase()
}

impl Columns {
    pub(crate) fn new(header: &ByteRecord) -> Columns {
        Columns { names: header.iter().map(normalise).collect() }
    }
    /// Index of a column (already-normalised name).
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    /// Index of a required column.
    pub(crate) fn req(
        &self,
        name: &str,
        path: &Path,
        format: &'static str,
    ) -> Result<usize, Error> {
        self.find(name).ok_or_else(|| {
            Error::new(ErrorKind::Header { path: path.to_path_buf(), missing: name.into(), format })
        })
    }
    /// Indices of every column with this (normalised) name.
    pub(crate) fn positions(&self, name: &str) -> Vec<usize> {
        self.names.iter().enumerate().filter(|(_, n)| *n == name).map(|(i, _)| i).collect()
    }
    /// Number of columns.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
    /// True when every name is present.
    pub(crate) fn has_all(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.find(n).is_some())
    }
}

/// One row, for typed field access.
pub(crate) struct Row<'a> {
    pub rec: &'a ByteRecord,
    pub path: &'a Path,
    pub line: u64,
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(40)]).into_owned();
    if b.len() > 40 {
        s + "…"
    } else {
        s
    }
}

impl<'a> Row<'a> {
    pub(crate) fn err(&self, field: &str, reason: FieldReason) -> Error {
        Error::field(self.path, self.line, field, reason)
    }
    fn raw(&self, col: usize) -> &'a [u8] {
        self.rec.get(col).unwrap_or(b"").trim_ascii()
    }
    /// The field as text (trimmed).
    pub(crate) fn str(&self, col: usize, name: &str) -> Result<&'a str, Error> {
        std::str::from_utf8(self.raw(col))
            .map_err(|_| self.err(name, FieldReason::Invalid(snippet(self.raw(col)))))
    }
    /// A non-empty text field.
    pub(crate) fn req_str(&self, col: usize, name: &str) -> Result<&'a str, Error> {
        let s = self.str(col, name)?;
        if s.is_empty() {
            return Err(self.err(name, FieldReason::Missing));
        }
        Ok(s)
    }
    /// An optional finite number (empty → `None`).
    pub(crate) fn opt_f64(&self, col: Option<usize>, name: &str) -> Result<Option<f64>, Error> {
        let Some(col) = col else { return Ok(None) };
        let b = self.raw(col);
        if b.is_empty() {
            return Ok(None);
        }
        let v: f64 = std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.err(name, FieldReason::Invalid(snippet(b))))?;
        if !v.is_finite() {
            return Err(self.err(name, FieldReason::NonFinite));
        }
        Ok(Some(v))
    }
    /// A required finite number.
    pub(crate) fn f64(&self, col: usize, name: &str) -> Result<f64, Error> {
        self.opt_f64(Some(col), name)?.ok_or_else(|| self.err(name, FieldReason::Missing))
    }
    /// A required number > 0 (strikes, forwards).
    pub(crate) fn positive(&self, col: usize, name: &str) -> Result<f64, Error> {
        let v = self.f64(col, name)?;
        if v <= 0.0 {
            return Err(self.err(name, FieldReason::OutOfRange(v)));
        }
        Ok(v)
    }
    /// An optional number > 0 (forwards, index): 0 or empty → `None`, negative → error.
    pub(crate) fn opt_positive(
        &self,
        col: Option<usize>,
        name: &str,
    ) -> Result<Option<f64>, Error> {
        match self.opt_f64(col, name)? {
            Some(v) if v < 0.0 => Err(self.err(name, FieldReason::OutOfRange(v))),
            Some(0.0) => Ok(None),
            v => Ok(v),
        }
    }
    /// An optional price ≥ 0; when `zero_is_missing` a 0 means "no quote" (→ `None`).
    pub(crate) fn price(
        &self,
        col: Option<usize>,
        name: &str,
        zero_is_missing: bool,
    ) -> Result<Option<f64>, Error> {
        match self.opt_f64(col, name)? {
            Some(v) if v < 0.0 => Err(self.err(name, FieldReason::OutOfRange(v))),
            Some(v) if v == 0.0 && zero_is_missing => Ok(None),
            v => Ok(v),
        }
    }
    /// A required integer.
    pub(crate) fn i64(&self, col: usize, name: &str) -> Result<i64, Error> {
        let b = self.raw(col);
        if b.is_empty() {
            return Err(self.err(name, FieldReason::Missing));
        }
        parse_i64(b).ok_or_else(|| self.err(name, FieldReason::Invalid(snippet(b))))
    }
    /// A required time (ISO-8601 / RFC 3339, `YYYY-MM-DD HH:MM:SS`, or a date), in ms.
    /// A bare date means 08:00 UTC when `date_is_expiry`, else midnight UTC.
    pub(crate) fn time_ms(
        &self,
        col: usize,
        name: &str,
        date_is_expiry: bool,
    ) -> Result<i64, Error> {
        let s = self.req_str(col, name)?;
        parse_time_ms(s, date_is_expiry)
            .ok_or_else(|| self.err(name, FieldReason::Invalid(snippet(s.as_bytes()))))
    }
}

/// Parses a decimal integer (optional leading `-`), without allocating.
pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(if neg { -v } else { v })
}

/// Parses ISO-8601 / RFC 3339 (`2026-01-05T04:11:27.55+00:00`, `…Z`), naive
/// `YYYY-MM-DD[ T]HH:MM[:SS[.f]]` (taken as UTC) or a date, into ms since the epoch.
pub fn parse_time_ms(s: &str, date_is_expiry: bool) -> Option<i64> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
    {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    if date_is_expiry {
        expiry_0800_ms(d)
    } else {
        Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_headers() {
        // 2026-01-05T04:11:27Z = 1_767_586_287 s (chain.rs test), plus .551 s.
        assert_eq!(
            parse_time_ms("2026-01-05T04:11:27.551698+00:00", false),
            Some(1_767_586_287_551)
        );
        assert_eq!(parse_time_ms("2026-01-05 04:11:27", false), Some(1_767_586_287_000));
        // 2026-03-27T08:00:00Z = 1_774_598_400 s (chain.rs test).
        assert_eq!(parse_time_ms("2026-03-27", true), Some(1_774_598_400_000));
        assert_eq!(parse_time_ms("27/03/2026", true), None);
        assert_eq!(normalise(b"\xef\xbb\xbf[QUOTE_UNIXTIME] "), "quote_unixtime");
        assert_eq!(parse_i64(b"-1622520046"), Some(-1_622_520_046));
        assert_eq!(parse_i64(b"12a"), None);
    }
}
