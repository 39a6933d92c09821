//! Raw snapshot → cleaned [`Snapshot`]: the assembly — rows grouped by expiry, a forward per
//! expiry, USD prices and bid/ask/mid implied vols — with the cleaning rules of `clean`
//! applied on the way (every dropped row counted).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::chain::{year_fraction, Expiry, ForwardSource, PriceUnit, Quote, RawQuote, Snapshot};
use super::clean::{self, CleanConfig, Rejection, RejectionCounts};
use super::stream::RawSnapshot;
use crate::black::{implied_vol, OptionType};

/// A cleaned snapshot with its counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cleaned {
    /// The chain.
    pub snapshot: Snapshot,
    /// Rows dropped, by reason (including those dropped while reading).
    pub rejected: RejectionCounts,
    /// Rows kept with a caveat (one-sided, zero bid, a side without IV).
    pub flagged: RejectionCounts,
    /// Rows in.
    pub rows: u64,
}

/// Forward of one expiry from its rows: the median of the rows' forwards; else put–call
/// parity from two-sided pairs nearest the money (median of the three pairs with the
/// smallest |C − P|): USD `F = K + C − P`, coin `F = K / (1 − C + P)`.
pub fn forward(rows: &[RawQuote]) -> Option<(f64, ForwardSource)> {
    let mut fs: Vec<f64> =
        rows.iter().filter_map(|r| r.forward).filter(|f| f.is_finite() && *f > 0.0).collect();
    if !fs.is_empty() {
        return Some((median(&mut fs), ForwardSource::Underlying));
    }
    let mut mids: HashMap<(u64, bool), (f64, PriceUnit)> = HashMap::new();
    for r in rows {
        if let (Some(b), Some(a)) = (r.bid, r.ask) {
            if b > 0.0 && a >= b {
                mids.insert(
                    (r.strike.to_bits(), r.kind == OptionType::Call),
                    (0.5 * (a + b), r.unit),
                );
            }
        }
    }
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    for (&(k, call), &(c, unit)) in &mids {
        if !call {
            continue;
        }
        if let Some(&(p, _)) = mids.get(&(k, false)) {
            let strike = f64::from_bits(k);
            let f = match unit {
                PriceUnit::Usd => strike + c - p,
                PriceUnit::Coin if 1.0 - c + p > 0.0 => strike / (1.0 - c + p),
                PriceUnit::Coin => continue,
            };
            if f.is_finite() && f > 0.0 {
                pairs.push(((c - p).abs(), f));
            }
        }
    }
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut near: Vec<f64> = pairs.iter().take(3).map(|p| p.1).collect();
    Some((median(&mut near), ForwardSource::Parity))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Black-76 vega in USD per vol point (1 % = 0.01): `F φ(d1) √t / 100`.
fn vega_per_point(f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    crate::black::vega(f, k, t, sigma) / 100.0
}

/// Vega of a cleaned quote in USD per vol point, at its mid IV (else mark IV, else the one
/// side's IV), on the quote's own forward and time to expiry; `None` without any IV.
pub fn quote_vega(q: &Quote) -> Option<f64> {
    let iv = q.mid_iv.or(q.mark_iv).or(q.bid_iv).or(q.ask_iv)?;
    Some(vega_per_point(q.row_forward, q.strike, q.t, iv))
}

/// Cleans, prices and groups one raw snapshot under the rules listed on [`CleanConfig`].
/// Every input row ends up either in the chain or in `rejected`; `flagged` counts kept rows
/// with a caveat.
///
/// **Which forward, which time.** Each row carries its own forward (Deribit updates
/// `underlying_price` per instrument) and, in an order book polled over minutes, its own
/// observation time. A quote is priced where it was observed: coin prices are converted
/// to USD with *that row's* forward, exactly as Deribit does (`usd = coin × F_row`), and
/// the bid/ask/mid IVs are inverted on that forward at the row's own time to expiry, so
/// they are Deribit's `bid_iv`/`ask_iv`; the quote keeps both (`row_forward`, `t`). Rows
/// without a forward use the expiry's; rows without a time of their own have the
/// snapshot's. The expiry forward (median of the rows', see [`forward`]) and `t` (from the
/// snapshot time) are the references of the expiry as a whole. Inverting on the expiry
/// forward and the snapshot time instead missed Deribit's IVs by up to 10 vol points at
/// hours to expiry (issue 14).
pub fn build(raw: RawSnapshot, cfg: &CleanConfig) -> Cleaned {
    let mut rejected = raw.rejected;
    let mut flagged = RejectionCounts::default();
    let rows_in = raw.rows.len() as u64;
    let time_ms = raw.time_ms;

    // 1. Per-row rules, then duplicates.
    let mut ok: Vec<RawQuote> = Vec::with_capacity(raw.rows.len());
    for mut r in raw.rows {
        match clean::screen_row(&mut r, time_ms, cfg, &mut flagged) {
            Ok(()) => ok.push(r),
            Err(why) => rejected.add(why),
        }
    }
    let keep = clean::keep_latest(&ok, &mut rejected);

    // 2. Group by expiry, forward, USD prices and IVs.
    let mut by_exp: BTreeMap<i64, Vec<RawQuote>> = BTreeMap::new();
    for (r, k) in ok.into_iter().zip(keep) {
        if k {
            by_exp.entry(r.expiry_ms).or_default().push(r);
        }
    }
    let mut index: Vec<f64> = Vec::new();
    let mut expiries = Vec::with_capacity(by_exp.len());
    for (expiry_ms, rows) in by_exp {
        let Some((fwd, source)) = forward(&rows) else {
            rejected.add_n(Rejection::NoForward, rows.len() as u64);
            continue;
        };
        let t = year_fraction(time_ms, expiry_ms);
        let mut quotes = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(i) = r.index {
                index.push(i);
            }
            match price_row(r, fwd, t, expiry_ms, &mut flagged) {
                Ok(q) => quotes.push(q),
                Err(why) => rejected.add(why),
            }
        }
        if quotes.is_empty() {
            continue;
        }
        quotes.sort_by(|a, b| a.strike.total_cmp(&b.strike).then(a.kind.cmp(&b.kind)));
        expiries.push(Expiry { expiry_ms, t, forward: fwd, forward_source: source, quotes });
    }
    let index = if index.is_empty() { None } else { Some(median(&mut index)) };
    Cleaned {
        snapshot: Snapshot { time_ms, underlying: raw.underlying, index, expiries },
        rejected,
        flagged,
        rows: rows_in,
    }
}

/// One kept row as a priced [`Quote`], or why it has no implied vol: USD prices on the row's
/// own forward (else the expiry's `fwd`), IVs inverted on that forward at the row's own
/// time to expiry (else the snapshot's `t`).
fn price_row(
    r: RawQuote,
    fwd: f64,
    t: f64,
    expiry_ms: i64,
    flagged: &mut RejectionCounts,
) -> Result<Quote, Rejection> {
    let row_forward = r.forward.unwrap_or(fwd);
    let t_row = year_fraction(r.time_ms, expiry_ms);
    let t_row = if t_row.is_finite() && t_row > 0.0 { t_row } else { t };
    let to_usd = |p: Option<f64>| match r.unit {
        PriceUnit::Coin => p.map(|p| p * row_forward),
        PriceUnit::Usd => p,
    };
    let coin = |p: Option<f64>| match r.unit {
        PriceUnit::Coin => p,
        PriceUnit::Usd => None,
    };
    let (bid, ask) = (to_usd(r.bid), to_usd(r.ask));
    let iv = |p: Option<f64>| p.map(|p| implied_vol(r.kind, p, row_forward, r.strike, t_row));
    let (bid_iv, ask_iv) = (iv(bid), iv(ask));
    // The centre of a two-sided quote is its mid. A two-sided quote whose mid has no IV
    // (a bid below intrinsic, an ask above the bound) keeps the side that has one, as a
    // one-sided quote: Deribit quotes an IV for that side, and a band residual can use it.
    let mid_iv = match clean::screen_price(r.kind, bid, ask, row_forward, r.strike, t_row) {
        Ok(centre_iv) => (bid.is_some() && ask.is_some()).then_some(centre_iv),
        Err(_) if has_iv(bid_iv) || has_iv(ask_iv) => None,
        Err(why) => return Err(why),
    };
    clean::flag_sides(bid_iv, ask_iv, flagged);
    Ok(Quote {
        strike: r.strike,
        kind: r.kind,
        bid,
        ask,
        bid_coin: coin(r.bid),
        ask_coin: coin(r.ask),
        mark: to_usd(r.mark),
        mark_iv: r.mark_iv,
        bid_iv: bid_iv.and_then(Result::ok),
        ask_iv: ask_iv.and_then(Result::ok),
        mid_iv,
        bid_size: r.bid_size,
        ask_size: r.ask_size,
        open_interest: r.open_interest,
        volume: r.volume,
        row_forward,
        t: t_row,
        instrument: r.instrument,
    })
}

/// A quoted side with an implied vol.
fn has_iv(side: Option<Result<f64, crate::black::IvError>>) -> bool {
    matches!(side, Some(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: OptionType, strike: f64, bid: Option<f64>, ask: Option<f64>) -> RawQuote {
        RawQuote {
            time_ms: 0,
            underlying: "BTC".into(),
            instrument: format!("BTC-1JAN71-{strike}-{}", kind.letter()),
            expiry_ms: 31_536_000_000, // one ACT/365 year after the epoch
            strike,
            kind,
            unit: PriceUnit::Usd,
            bid,
            ask,
            mark: None,
            mark_iv: None,
            bid_size: None,
            ask_size: None,
            open_interest: None,
            volume: None,
            forward: None,
            index: None,
            updated_ms: 0,
            line: 1,
        }
    }

    #[test]
    fn parity_forward_and_counted_reasons() {
        // Quotes generated from Black-76 with F = 100, t = 1, σ = 0.5 (closed form), so
        // parity must return F = K + C − P = 100 to rounding.
        let c = |k| crate::black::price(OptionType::Call, 100.0, k, 1.0, 0.5);
        let p = |k| crate::black::price(OptionType::Put, 100.0, k, 1.0, 0.5);
        let rows = vec![
            raw(OptionType::Call, 100.0, Some(c(100.0) - 0.1), Some(c(100.0) + 0.1)),
            raw(OptionType::Put, 100.0, Some(p(100.0) - 0.1), Some(p(100.0) + 0.1)),
            raw(OptionType::Call, 90.0, Some(c(90.0)), None),
            raw(OptionType::Put, 90.0, None, None),
            raw(OptionType::Call, 110.0, Some(5.0), Some(4.0)),
            raw(OptionType::Put, 110.0, Some(0.0), Some(12.0)),
            raw(OptionType::Put, 120.0, Some(30.0), Some(31.0)),
            raw(OptionType::Put, 120.0, Some(29.0), Some(32.0)),
        ];
        let out = build(
            RawSnapshot {
                time_ms: 0,
                underlying: "BTC".into(),
                rows,
                rejected: RejectionCounts::default(),
            },
            &CleanConfig::default(),
        );
        let e = &out.snapshot.expiries[0];
        assert_eq!(e.forward_source, ForwardSource::Parity);
        assert!((e.forward - 100.0).abs() < 1e-9, "{}", e.forward);
        assert_eq!(out.rejected.get(Rejection::NoQuote), 1);
        assert_eq!(out.rejected.get(Rejection::Crossed), 1);
        assert_eq!(out.rejected.get(Rejection::Duplicate), 1);
        // Put K=110 with bid 0 → zero-bid flag and one-sided; call K=90 one-sided.
        assert_eq!(out.flagged.get(Rejection::ZeroBid), 1);
        assert_eq!(out.flagged.get(Rejection::OneSided), 2);
        assert_eq!(out.rows, 8);
        let kept = out.snapshot.num_quotes() as u64;
        assert_eq!(kept + out.rejected.total(), 8, "nothing dropped silently");
        // The duplicate kept is the later row (bid 29, ask 32).
        let put = e.quotes.iter().find(|q| q.strike == 120.0 && q.kind == OptionType::Put);
        assert_eq!(put.and_then(|q| q.bid), Some(29.0));
        // The ATM pair's mid IV recovers σ = 0.5: mids are the Black-76 prices (round trip).
        let atm = e.quotes.iter().find(|q| q.strike == 100.0).and_then(|q| q.mid_iv);
        assert!(atm.is_some_and(|v| (v - 0.5).abs() < 1e-9), "{atm:?}");
    }

    #[test]
    fn below_intrinsic_and_above_bound_are_rejected() {
        // F = 100 (row forward), t = 1: call K=50 has intrinsic 50; a mid of 40 has no IV.
        let mut a = raw(OptionType::Call, 50.0, Some(39.0), Some(41.0));
        a.forward = Some(100.0);
        let mut b = raw(OptionType::Call, 150.0, Some(100.0), Some(120.0));
        b.forward = Some(100.0);
        let out = build(
            RawSnapshot {
                time_ms: 0,
                underlying: "BTC".into(),
                rows: vec![a, b],
                rejected: RejectionCounts::default(),
            },
            &CleanConfig::default(),
        );
        assert_eq!(out.rejected.get(Rejection::BelowIntrinsic), 1);
        assert_eq!(out.rejected.get(Rejection::AboveUpperBound), 1);
        assert_eq!(out.snapshot.num_quotes(), 0);
    }

    #[test]
    fn a_real_side_of_a_quote_whose_mid_has_no_iv_is_kept() {
        // Deribit BTC-22MAY20-9500-P at 2020-05-21T23:22Z (schepal order-book dump): bid
        // 0.0425 BTC below intrinsic K/F − 1 = 0.0456, ask 0.0465 above it. The mid has no
        // IV, the ask has one (Deribit's ask_iv 94.58 %): keep the ask, flag the bid.
        let (f, t): (f64, f64) = (100.0, 8.6 / 8760.0);
        let k = 104.561;
        let ask = 100.0 * 0.0465;
        let mut q = raw(OptionType::Put, k, Some(100.0 * 0.0425), Some(ask));
        q.forward = Some(f);
        q.expiry_ms = (t * 365.0 * 86_400_000.0).round() as i64;
        let out = build(
            RawSnapshot {
                time_ms: 0,
                underlying: "BTC".into(),
                rows: vec![q],
                rejected: RejectionCounts::default(),
            },
            &CleanConfig::default(),
        );
        assert_eq!(out.rejected.get(Rejection::BelowIntrinsic), 0);
        assert_eq!(out.flagged.get(Rejection::SideWithoutIv), 1);
        let q = &out.snapshot.expiries[0].quotes[0];
        assert_eq!((q.bid_iv, q.mid_iv), (None, None));
        let want = implied_vol(OptionType::Put, ask, f, k, q.t).unwrap();
        assert_eq!(q.ask_iv, Some(want));
    }

    #[test]
    fn each_quote_is_inverted_on_its_own_forward_and_time() {
        // An order book polled over minutes, six hours to expiry: each row is a Black-76
        // price (closed form) at its own forward, time and vol, so inverting it where it was
        // observed must give that vol back (round trip); the expiry forward (median 100) and
        // the snapshot time (the latest row) would not.
        let expiry_ms = 6 * 3_600_000;
        let rows_at = [(100.0, 0, 0.60), (100.5, 90_000, 0.55), (99.0, 150_000, 0.50)];
        let mut rows = Vec::new();
        for (i, &(f, at_ms, vol)) in rows_at.iter().enumerate() {
            let strike = 95.0 + 5.0 * i as f64;
            let t = year_fraction(at_ms, expiry_ms);
            let p = crate::black::price(OptionType::Call, f, strike, t, vol);
            let mut r = raw(OptionType::Call, strike, Some(p / f), Some(1.01 * p / f));
            (r.unit, r.forward, r.time_ms, r.updated_ms, r.expiry_ms) =
                (PriceUnit::Coin, Some(f), at_ms, at_ms, expiry_ms);
            rows.push(r);
        }
        let snap = RawSnapshot {
            time_ms: 150_000,
            underlying: "BTC".into(),
            rows,
            rejected: RejectionCounts::default(),
        };
        let out = build(snap, &CleanConfig::default());
        let e = &out.snapshot.expiries[0];
        assert_eq!((e.forward, e.t), (100.0, year_fraction(150_000, expiry_ms)));
        for (q, &(f, at_ms, vol)) in e.quotes.iter().zip(&rows_at) {
            assert_eq!((q.row_forward, q.t), (f, year_fraction(at_ms, expiry_ms)));
            let bid_iv = q.bid_iv.expect("bid IV");
            assert!((bid_iv - vol).abs() < 1e-12, "{}: {bid_iv} vs {vol}", q.instrument);
            assert!(q.log_moneyness() == (q.strike / f).ln());
        }
    }
}
