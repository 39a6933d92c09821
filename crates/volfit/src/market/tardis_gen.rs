//! A deterministic synthetic Tardis `options_chain` update stream, for the one-pass as-of
//! test and the ingest benchmark.
//!
//! BTC and ETH, six expiries (one expiring at 08:00 on the first day, so instruments
//! expire mid-stream), a strike grid around the forward, calls and puts. Updates arrive at
//! uniformly random gaps over `duration`; instrument `i` of `n` is picked with probability
//! density ∝ u⁴ in `i/n`, so a few instruments update rarely and go stale. Prices are on
//! Deribit's tick (0.0001 coin), IVs to 0.01 %, so every written number is a short decimal
//! whose parsed value equals the value this generator reports in [`Update`].

use super::chain::{PriceUnit, RawQuote};
use crate::black;
use crate::black::OptionType;

/// One generated instrument.
#[derive(Clone, Debug)]
pub struct Instrument {
    /// `BTC-6JAN26-90000-C`.
    pub symbol: String,
    /// Underlying coin.
    pub underlying: &'static str,
    /// Expiry, µs since the epoch.
    pub expiry_us: i64,
    /// Strike, USD.
    pub strike: u64,
    /// Call or put.
    pub kind: OptionType,
    base_mark_ticks: f64,
    base_iv: f64,
    expiry_index: usize,
}

/// One update, in the units written to the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    /// Index into [`TardisGen::instruments`].
    pub instrument: usize,
    /// Exchange timestamp, µs.
    pub ts_us: i64,
    /// Arrival timestamp, µs (non-decreasing along the stream).
    pub local_us: i64,
    /// Best bid in ticks of 0.0001 coin; `None` = empty cell.
    pub bid_ticks: Option<u32>,
    /// Best ask in ticks.
    pub ask_ticks: Option<u32>,
    /// Mark in ticks.
    pub mark_ticks: u32,
    /// Mark IV in basis points of percent (5234 = 52.34 %).
    pub mark_iv_cpct: u32,
    /// Sizes and OI in tenths of a contract.
    pub bid_amount_d: u32,
    /// Ask size in tenths.
    pub ask_amount_d: u32,
    /// Open interest in tenths.
    pub oi_d: u32,
    /// Forward in cents.
    pub forward_cents: u64,
}

/// The generator.
#[derive(Clone, Debug)]
pub struct TardisGen {
    /// Instruments.
    pub instruments: Vec<Instrument>,
    state: u64,
    now_us: i64,
    mean_gap_us: f64,
    fwd_cents: Vec<f64>,
}

/// Column header of the `options_chain` CSV.
pub const HEADER: &str = "exchange,symbol,timestamp,local_timestamp,type,strike_price,expiration,open_interest,last_price,bid_price,bid_amount,bid_iv,ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,delta,gamma,vega,theta,rho\n";

const DAY_US: i64 = 86_400_000_000;
const TICK: f64 = 1e-4;

impl TardisGen {
    /// A stream starting at `start_us` (midnight UTC recommended), `strikes` strikes per
    /// expiry and side, and `updates` updates spread over `duration_us`.
    pub fn new(
        seed: u64,
        start_us: i64,
        strikes: usize,
        updates: u64,
        duration_us: i64,
    ) -> TardisGen {
        let day0 = start_us.div_euclid(DAY_US) * DAY_US;
        let expiry_days = [0_i64, 1, 2, 7, 28, 91];
        let mut instruments = Vec::new();
        let mut fwd_cents = Vec::new();
        for (u, spot, step) in [("BTC", 90_000.0, 1000.0), ("ETH", 3_000.0, 50.0)] {
            for &d in &expiry_days {
                let expiry_us = day0 + d * DAY_US + 8 * 3_600_000_000;
                let t = ((expiry_us - start_us) as f64 / 1e6 / 31_536_000.0).max(1.0 / 365.0);
                let f = spot * (1.0 + 0.05 * t);
                let e_index = fwd_cents.len();
                fwd_cents.push((f * 100.0).round());
                let atm = (f / step).round() * step;
                for j in 0..strikes {
                    let k = atm + (j as f64 - strikes as f64 / 2.0) * step * (1.0 + t * 4.0);
                    if k <= 0.0 {
                        continue;
                    }
                    for kind in [OptionType::Call, OptionType::Put] {
                        let x = (k / f).ln();
                        let iv = 0.5 + 0.2 * x * x - 0.1 * x;
                        let coin = black::price(kind, f, k, t, iv) / f;
                        let date = chrono::DateTime::from_timestamp_micros(expiry_us)
                            .map(|d| d.format("%-d%b%y").to_string().to_uppercase())
                            .unwrap_or_default();
                        instruments.push(Instrument {
                            symbol: format!("{u}-{date}-{}-{}", k as u64, kind.letter()),
                            underlying: u,
                            expiry_us,
                            strike: k as u64,
                            kind,
                            base_mark_ticks: (coin / TICK).max(1.0),
                            base_iv: iv,
                            expiry_index: e_index,
                        });
                    }
                }
            }
        }
        // Shuffle so the rarely-updated tail mixes expiries and strikes (Fisher–Yates).
        let mut g = TardisGen {
            instruments,
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            now_us: start_us,
            mean_gap_us: duration_us as f64 / updates.max(1) as f64,
            fwd_cents,
        };
        for i in (1..g.instruments.len()).rev() {
            let j = (g.uniform() * (i + 1) as f64) as usize;
            g.instruments.swap(i, j.min(i));
        }
        g
    }

    /// SplitMix64 → uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next update (skips instruments already expired at the current time).
    pub fn next_update(&mut self) -> Update {
        self.now_us += (self.mean_gap_us * 2.0 * self.uniform()) as i64;
        let n = self.instruments.len();
        let mut i;
        loop {
            let u = self.uniform();
            i = ((u * u * u * u) * n as f64) as usize;
            i = i.min(n - 1);
            if self.instruments[i].expiry_us > self.now_us {
                break;
            }
        }
        let e = self.instruments[i].expiry_index;
        self.fwd_cents[e] = (self.fwd_cents[e] * (1.0 + 2e-5 * (self.uniform() - 0.5))).round();
        let inst = &self.instruments[i];
        let (base, iv0) = (inst.base_mark_ticks, inst.base_iv);
        let mark = (base * (1.0 + 0.02 * (self.uniform() - 0.5))).round().max(1.0);
        let half = (mark * 0.02).max(1.0).round();
        let bid = if self.uniform() < 0.05 { None } else { Some((mark - half).max(0.0) as u32) };
        let ask = if self.uniform() < 0.02 { None } else { Some((mark + half) as u32) };
        let iv = ((iv0 * (1.0 + 0.02 * (self.uniform() - 0.5))) * 10_000.0).round() as u32;
        let latency = (self.uniform() * 20_000.0) as i64;
        Update {
            instrument: i,
            ts_us: self.now_us - latency,
            local_us: self.now_us,
            bid_ticks: bid.filter(|b| *b > 0),
            ask_ticks: ask,
            mark_ticks: mark as u32,
            mark_iv_cpct: iv,
            bid_amount_d: (self.uniform() * 500.0) as u32 + 1,
            ask_amount_d: (self.uniform() * 500.0) as u32 + 1,
            oi_d: (self.uniform() * 20_000.0) as u32,
            forward_cents: self.fwd_cents[e] as u64,
        }
    }

    /// Appends one CSV row for `u` to `out`.
    pub fn write_row(&self, u: &Update, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let inst = &self.instruments[u.instrument];
        let ticks = |out: &mut Vec<u8>, t: Option<u32>| {
            if let Some(t) = t {
                let _ = write!(out, "{}.{:04}", t / 10_000, t % 10_000);
            }
        };
        let kind = if inst.kind == OptionType::Call { "call" } else { "put" };
        let _ = write!(
            out,
            "deribit,{},{},{},{kind},{},{},{}.{},",
            inst.symbol,
            u.ts_us,
            u.local_us,
            inst.strike,
            inst.expiry_us,
            u.oi_d / 10,
            u.oi_d % 10
        );
        ticks(out, Some(u.mark_ticks)); // last_price
        out.push(b',');
        ticks(out, u.bid_ticks);
        let _ = write!(out, ",{}.{},", u.bid_amount_d / 10, u.bid_amount_d % 10);
        if u.bid_ticks.is_some() {
            let _ = write!(out, "{}.{:02}", u.mark_iv_cpct / 100 - 1, u.mark_iv_cpct % 100);
        }
        out.push(b',');
        ticks(out, u.ask_ticks);
        let _ = write!(out, ",{}.{},", u.ask_amount_d / 10, u.ask_amount_d % 10);
        if u.ask_ticks.is_some() {
            let _ = write!(out, "{}.{:02}", u.mark_iv_cpct / 100 + 1, u.mark_iv_cpct % 100);
        }
        out.push(b',');
        ticks(out, Some(u.mark_ticks));
        let _ = writeln!(
            out,
            ",{}.{:02},{}-{},{}.{:02},0.5,0.0001,10.5,-20.25,1.5",
            u.mark_iv_cpct / 100,
            u.mark_iv_cpct % 100,
            inst.underlying,
            inst.symbol.split('-').nth(1).unwrap_or(""),
            u.forward_cents / 100,
            u.forward_cents % 100
        );
    }

    /// The quote a reader must produce for update `u` (written on 1-based `line`) in the
    /// as-of chain at `asof_ms`: the same numbers, converted as the reader converts them.
    pub fn expected_quote(&self, u: &Update, asof_ms: i64, line: u64) -> RawQuote {
        let inst = &self.instruments[u.instrument];
        let coin = |t: u32| f64::from(t) / 10_000.0;
        RawQuote {
            time_ms: asof_ms,
            underlying: inst.underlying.to_string(),
            instrument: inst.symbol.clone(),
            expiry_ms: inst.expiry_us.div_euclid(1000),
            strike: inst.strike as f64,
            kind: inst.kind,
            unit: PriceUnit::Coin,
            bid: u.bid_ticks.map(coin),
            ask: u.ask_ticks.map(coin),
            mark: Some(coin(u.mark_ticks)),
            mark_iv: Some(f64::from(u.mark_iv_cpct) / 100.0 / 100.0),
            bid_size: Some(f64::from(u.bid_amount_d) / 10.0),
            ask_size: Some(f64::from(u.ask_amount_d) / 10.0),
            open_interest: Some(f64::from(u.oi_d) / 10.0),
            volume: None,
            forward: Some(u.forward_cents as f64 / 100.0),
            index: None,
            updated_ms: u.ts_us.div_euclid(1000),
            line,
        }
    }
}
