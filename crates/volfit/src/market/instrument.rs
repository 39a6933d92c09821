//! Deribit instrument names: `BTC-27MAR26-90000-C`, `ETH-5JAN26-3000-P`,
//! `XRP_USDC-30JAN26-0d625-C` (`d` is the decimal point in linear-option strikes).

use chrono::NaiveDate;

use crate::black::OptionType;

/// A parsed instrument name.
#[derive(Clone, Debug, PartialEq)]
pub struct Instrument<'a> {
    /// Underlying as written (`BTC`, `XRP_USDC`).
    pub underlying: &'a str,
    /// Expiry at 08:00 UTC, ms since the epoch.
    pub expiry_ms: i64,
    /// Strike.
    pub strike: f64,
    /// Call or put.
    pub kind: OptionType,
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// Milliseconds of 08:00 UTC on a date (Deribit's expiry time).
pub fn expiry_0800_ms(date: NaiveDate) -> Option<i64> {
    Some(date.and_hms_opt(8, 0, 0)?.and_utc().timestamp_millis())
}

/// Parses `DMMMYY` (`27MAR26`, `5JAN26`) into a date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if !(6..=7).contains(&s.len()) || !s.is_ascii() {
        return None;
    }
    let (day, rest) = s.split_at(s.len() - 5);
    let (mon, yy) = rest.split_at(3);
    let day: u32 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    if yy.len() != 2 || !yy.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = 2000 + yy.parse::<i32>().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Parses an option instrument name; `None` when it is not of the form
/// `UND-DMMMYY-STRIKE-C|P` with a positive finite strike.
pub fn parse(name: &str) -> Option<Instrument<'_>> {
    let mut parts = name.split('-');
    let underlying = parts.next()?;
    let date = parts.next()?;
    let strike = parts.next()?;
    let kind = parts.next()?;
    if parts.next().is_some() || underlying.is_empty() {
        return None;
    }
    let kind = match kind {
        "C" => OptionType::Call,
        "P" => OptionType::Put,
        _ => return None,
    };
    if strike.is_empty() || !strike.bytes().all(|b| b.is_ascii_digit() || b == b'd' || b == b'.') {
        return None;
    }
    let strike: f64 = strike.replace('d', ".").parse().ok()?;
    if !(strike.is_finite() && strike > 0.0) {
        return None;
    }
    let expiry_ms = expiry_0800_ms(parse_date(date)?)?;
    Some(Instrument { underlying, expiry_ms, strike, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deribit_names() {
        // 2026-03-27T08:00:00Z = 1_774_598_400 s (chain.rs test uses the same instant).
        let i = parse("BTC-27MAR26-90000-C").expect("valid name");
        assert_eq!(
            i,
            Instrument {
                underlying: "BTC",
                expiry_ms: 1_774_598_400_000,
                strike: 90000.0,
                kind: OptionType::Call
            }
        );
        // 2026-01-05T08:00:00Z = 1_767_600_000 s (date -u -d 2026-01-05T08:00:00Z +%s).
        assert_eq!(parse("ETH-5JAN26-3000-P").map(|i| i.expiry_ms), Some(1_767_600_000_000));
        assert_eq!(parse("XRP_USDC-30JAN26-0d625-C").map(|i| i.strike), Some(0.625));
        for bad in [
            "BTC-PERPETUAL",
            "BTC-27MAR26-90000",
            "BTC-32MAR26-1-C",
            "BTC-27XXX26-1-C",
            "BTC-27MAR26-abc-C",
            "BTC-27MAR26-0-C",
            "BTC-27MAR26-1-X",
            "-27MAR26-1-C",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
