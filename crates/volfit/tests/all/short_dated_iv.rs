//! Issue 14 item 1: implied vols of short-dated quotes in an order book polled over minutes.
//! volfit's bid/ask IVs of the schepal Deribit `get_order_book` dump must match Deribit's own
//! `bid_iv`/`ask_iv` (percent) where Deribit gives one below its 500 % cap. Before the fix
//! (inverted on the expiry's median forward at the snapshot time) the misses were median
//! 0.025, p99 2.35, max 10.15 vol points (`BTC-22MAY20-9250-P` bid, t ≈ 8.6 h).

use std::collections::HashMap;

use crate::support::shared_data;

use volfit::market::{build, open_input, read_path, CleanConfig, ReadOptions};

/// Deribit's `(bid_iv, ask_iv)` in percent by instrument, read from the dump's own columns.
fn deribit_ivs(path: &std::path::Path) -> HashMap<String, (f64, f64)> {
    let input = open_input(path, None).unwrap_or_else(|e| panic!("{e:#}"));
    let mut rd = csv::Reader::from_reader(input);
    let head = rd.headers().expect("header").clone();
    let col = |name: &str| head.iter().position(|h| h == name).expect(name);
    let (name, bid, ask) = (col("instrument_name"), col("bid_iv"), col("ask_iv"));
    let num = |r: &csv::StringRecord, i: usize| r[i].parse::<f64>().expect("numeric IV");
    rd.records()
        .map(|r| r.expect("record"))
        .map(|r| (r[name].to_string(), (num(&r, bid), num(&r, ask))))
        .collect()
}

/// Nearest-rank quantile of sorted `v`.
fn rank(v: &[f64], q: f64) -> f64 {
    v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

#[test]
fn order_book_ivs_match_deribit_bid_ask_iv() {
    let Some(dir) = shared_data("schepal_deribit_2020") else { return };
    let path = dir.join("options_data.csv.gz");
    let deribit = deribit_ivs(&path);
    let mut snaps = Vec::new();
    read_path(&path, &ReadOptions::default(), &mut |raw| {
        snaps.push(build(raw, &CleanConfig::default()));
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(snaps.len(), 1, "one chain polled over 2.5 minutes");
    // |volfit − Deribit| in vol points over every side Deribit inverts (0 < iv < 500).
    let mut miss: Vec<(f64, String)> = Vec::new();
    for e in &snaps[0].snapshot.expiries {
        for q in &e.quotes {
            let (bid, ask) = deribit[&q.instrument];
            for (ours, theirs) in [(q.bid_iv, bid), (q.ask_iv, ask)] {
                if let (Some(v), true) = (ours, theirs > 0.0 && theirs < 500.0) {
                    miss.push(((100.0 * v - theirs).abs(), q.instrument.clone()));
                }
            }
        }
    }
    miss.sort_by(|a, b| a.0.total_cmp(&b.0));
    let d: Vec<f64> = miss.iter().map(|m| m.0).collect();
    let (median, p99, max) = (rank(&d, 0.5), rank(&d, 0.99), d[d.len() - 1]);
    println!(
        "schepal order book, {} sides: |volfit − Deribit| median {median:.4}, p99 {p99:.4}, \
         max {max:.4} vol pt (worst {})",
        d.len(),
        miss[miss.len() - 1].1
    );
    // Deribit prints IVs to 2 decimals (± 0.005 vol pt of rounding): issue 14's targets are
    // median ≤ 0.01, p99 ≤ 0.1, max ≤ 0.25. Measured: 407 sides, median 0.0028, p99 0.0996,
    // max 0.203 — the same sides and numbers as a plain Black-76 inversion on each row's
    // forward and time. The 10 asks over bids below intrinsic count: those quotes are kept
    // one-sided (before, they were dropped whole: 397 sides, p99 0.132).
    assert!(d.len() >= 400, "sides compared: {}", d.len());
    assert!(median <= 0.01, "median {median}");
    assert!(p99 <= 0.1, "p99 {p99}");
    assert!(max <= 0.25, "max {max}");
}
