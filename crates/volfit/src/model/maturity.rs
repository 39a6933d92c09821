//! Maturity buckets: the one labelling of years to expiry used by validation's
//! per-bucket errors and the hedging backtest's per-bucket P&L.

/// The bucket labels in maturity order (what [`maturity_bucket`] returns).
pub const MATURITY_BUCKETS: [&str; 4] = ["<7d", "7-30d", "30-90d", ">=90d"];

/// Maturity bucket of `t` years (days = 365·t): `<7d`, `7-30d`, `30-90d`, `>=90d`; each
/// bucket holds its lower bound.
///
/// ```
/// use volfit::model::maturity_bucket;
/// assert_eq!(maturity_bucket(7.0 / 365.0), "7-30d");
/// assert_eq!(maturity_bucket(90.0 / 365.0), ">=90d");
/// ```
pub fn maturity_bucket(t: f64) -> &'static str {
    let days = t * 365.0;
    let [short, week, month, quarter] = MATURITY_BUCKETS;
    if days < 7.0 {
        short
    } else if days < 30.0 {
        week
    } else if days < 90.0 {
        month
    } else {
        quarter
    }
}
