//! The accounting of one hedged option path.
//!
//! ## Accounting (one option path, `q` options held, hedge `h_i` coins over step `i → i+1`)
//! - Option marks: mid in USD `V_i` and in coin `W_i` (Deribit quotes coin premiums,
//!   `V = W·F`); mark price, then the model price, when no two-sided quote exists. At an
//!   expiry between two snapshots the option settles at the later snapshot on the index
//!   (settlement proxy; Deribit settles on a 30-minute TWAP before 08:00 UTC).
//! - Hedge `h_i = −q·Δ_i·r_i` coins of the hedge instrument, where `r_i` converts a ratio
//!   taken on the option's forward `F_i` into the instrument at price `P_i`
//!   ([`DeltaKind::instrument_ratio`]: `F_i/P_i` for the USD deltas, 1 for the
//!   premium-adjusted one). Re-set at every snapshot, or with a `band` only when
//!   `|target − h| > band` (coins of the instrument, whole position), then fully to the
//!   target. Over a step the hedge earns `h_i·(P_{i+1} − P_i)` USD, booked in coin at
//!   `P_{i+1}` (`h_i·(P_{i+1} − P_i)/P_{i+1}`: an inverse perpetual re-sized to `h_i` coins),
//!   and receives funding `−h_i·P_i·φ_i` USD (`−h_i·φ_i` coin), `φ_i` the funding rate
//!   accrued over the step (0 unless the step is hedged in the perpetual, [`super::funding`]).
//! - Gross P&L: USD `q·(V_n − V_0) + Σ h_i (ΔP_i − P_i φ_i)`; coin
//!   `q·(W_n − W_0) + Σ h_i (ΔP_i/P_{i+1} − φ_i)`.
//!   The USD account finances the premium in USD; the coin account holds everything in coin
//!   (so the premium-adjusted delta is its first-order hedge, see [`super::delta`]).
//! - Net P&L subtracts spread costs (buy at ask, sell at bid, against the mid) and fees of
//!   [`FeeSchedule`] (option trade, hedge trades, settlement), each in both units.
//!
//! ## Greek attribution of the gross USD P&L (per step, summed over the path)
//! With the Black greeks of observation `i` at its model vol `σ_i` ([`Deltas`]), `ΔF` the
//! option's forward move, `Δt` the step in years (ACT/365) and `Δσ = σ_{i+1} − σ_i` (0 into
//! settlement):
//! - delta `q·Δ_i·ΔF + h_i·ΔP_i` (the option's first-order move plus the hedge: what the
//!   hedge leaves of it), gamma `½·q·Γ_i·ΔF²`, theta `q·Θ_i·Δt`, vega `q·ν_i·Δσ`;
//! - funding as above; unexplained = the step's gross P&L minus all of these (cross and
//!   higher-order terms, marks that are not the model price).
//!
//! So delta + gamma + theta + vega + funding + unexplained = gross, step by step.

use super::config::HedgeSource;
use super::delta::{DeltaKind, Deltas};
use super::fees::FeeSchedule;
use serde::Serialize;

/// One observation of a held option.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obs {
    /// Snapshot time, ms since the epoch.
    pub time_ms: i64,
    /// The option's forward at this observation: its quote's own (`Quote::row_forward`),
    /// else the expiry's; the settlement price when `settled`.
    pub forward: f64,
    /// Mark in USD (mid; the payoff when `settled`).
    pub value: f64,
    /// Mark in coin.
    pub value_coin: f64,
    /// Bid `(USD, coin)`.
    pub bid: Option<(f64, f64)>,
    /// Ask `(USD, coin)`.
    pub ask: Option<(f64, f64)>,
    /// Price and hedge ratios at this observation.
    pub deltas: Deltas,
    /// True for the settlement of an expired option (last observation only).
    pub settled: bool,
}

/// Hedge prices at both ends of one step, from one source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Price at the start.
    pub p0: f64,
    /// Price at the end.
    pub p1: f64,
    /// Source of both prices.
    pub source: HedgeSource,
    /// Funding rate accrued over the step by a long position (fraction of notional; 0 for
    /// futures and forwards).
    pub funding: f64,
}

/// P&L of one hedged path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PathPnl {
    /// Gross (mid, no costs) P&L in USD.
    pub pnl_usd: f64,
    /// Gross P&L in coin.
    pub pnl_coin: f64,
    /// Net of spread and fees, USD.
    pub pnl_usd_net: f64,
    /// Net of spread and fees, coin.
    pub pnl_coin_net: f64,
    /// Spread cost, USD.
    pub spread_usd: f64,
    /// Fees, USD.
    pub fees_usd: f64,
    /// Unhedged (option only, mid) P&L, USD.
    pub unhedged_usd: f64,
    /// Unhedged P&L, coin.
    pub unhedged_coin: f64,
    /// Number of hedge trades (including the opening and closing ones).
    pub trades: usize,
    /// Hedge turnover in coins.
    pub turnover: f64,
    /// Funding received by the hedge (negative: paid), USD; included in the gross P&L.
    pub funding_usd: f64,
    /// Funding received, coin.
    pub funding_coin: f64,
    /// Delta P&L: the option's first-order forward move plus the hedge leg, USD.
    pub pnl_delta_usd: f64,
    /// Gamma P&L `½·q·Γ·ΔF²`, USD.
    pub pnl_gamma_usd: f64,
    /// Theta P&L `q·Θ·Δt`, USD.
    pub pnl_theta_usd: f64,
    /// Vega P&L `q·ν·Δσ` (model vol change at the strike), USD.
    pub pnl_vega_usd: f64,
    /// Gross USD P&L not explained by the above and funding, USD.
    pub pnl_unexplained_usd: f64,
}

/// Milliseconds in a 365-day year (ACT/365).
const MS_PER_YEAR: f64 = 365.0 * 86_400_000.0;

/// The greek terms of one step's gross USD P&L: `[delta, gamma, theta, vega, unexplained]`
/// for `qty` options marked `o0` then `o1`, a hedge earning `hedge_usd` and funding
/// `funding_usd` over the step. The five terms and the funding add up to the step's gross
/// P&L `qty·(V₁ − V₀) + hedge_usd + funding_usd`.
pub(super) fn attribute_step(
    o0: &Obs,
    o1: &Obs,
    qty: f64,
    hedge_usd: f64,
    funding_usd: f64,
) -> [f64; 5] {
    let g = &o0.deltas;
    let df = o1.forward - o0.forward;
    let dt = (o1.time_ms - o0.time_ms) as f64 / MS_PER_YEAR;
    let dvol = if o1.settled || !(o1.deltas.vol > 0.0) { 0.0 } else { o1.deltas.vol - g.vol };
    let delta = qty * g.black * df + hedge_usd;
    let gamma = 0.5 * qty * g.gamma * df * df;
    let theta = qty * g.theta * dt;
    let vega = qty * g.vega * dvol;
    let gross = qty * (o1.value - o0.value) + hedge_usd + funding_usd;
    let unexplained = gross - funding_usd - delta - gamma - theta - vega;
    [delta, gamma, theta, vega, unexplained]
}

/// Hedges one path: `obs` has `n ≥ 2` observations and `steps` the `n − 1` hedge price pairs.
/// `qty` options are held; the hedge trades `delta` with an optional rebalancing band.
pub fn hedge_path(
    obs: &[Obs],
    steps: &[Step],
    qty: f64,
    delta: DeltaKind,
    band: Option<f64>,
    fees: &FeeSchedule,
) -> PathPnl {
    let target = |_: usize, o: &Obs, s: &Step, _: f64| {
        -qty * o.deltas.get(delta) * delta.instrument_ratio(o.forward, s.p0)
    };
    hedge_path_with(obs, steps, qty, band, fees, target)
}

/// [`hedge_path`] with the hedge chosen by `target(i, obs_i, step_i, held)`: the coins of
/// the instrument wanted over step `i` given the coins `held` before it (the same
/// accounting, band, fees and attribution for every hedge method).
pub fn hedge_path_with(
    obs: &[Obs],
    steps: &[Step],
    qty: f64,
    band: Option<f64>,
    fees: &FeeSchedule,
    mut target: impl FnMut(usize, &Obs, &Step, f64) -> f64,
) -> PathPnl {
    let mut out = PathPnl::default();
    let (Some(first), Some(last)) = (obs.first(), obs.last()) else {
        return out;
    };
    if obs.len() < 2 || steps.len() + 1 != obs.len() {
        return out;
    }
    let (mut fee_usd, mut fee_coin, mut spread_usd, mut spread_coin) = (0.0, 0.0, 0.0, 0.0);
    // Entry: buy (qty > 0) at the ask, sell at the bid.
    let entry_side = if qty > 0.0 { first.ask } else { first.bid };
    if let Some((usd, coin)) = entry_side {
        spread_usd += qty.abs() * (usd - first.value).abs();
        spread_coin += qty.abs() * (coin - first.value_coin).abs();
        fee_usd += fees.option_fee(first.forward, usd, qty);
        fee_coin += fees.option_fee(1.0, coin, qty);
    } else {
        fee_usd += fees.option_fee(first.forward, first.value, qty);
        fee_coin += fees.option_fee(1.0, first.value_coin, qty);
    }
    let mut h = 0.0;
    let mut hedge_usd = 0.0;
    let mut hedge_coin = 0.0;
    for (i, ((o, o1), s)) in obs.iter().zip(&obs[1..]).zip(steps).enumerate() {
        let target = target(i, o, s, h);
        let trade = target - h;
        let rebalance = i == 0 || band.is_none_or(|b| trade.abs() > b);
        if rebalance && trade != 0.0 {
            h = target;
            out.trades += 1;
            out.turnover += trade.abs();
            fee_usd += fees.hedge_fee(trade * s.p0);
            fee_coin += fees.hedge_fee(trade);
        }
        let dp = s.p1 - s.p0;
        hedge_usd += h * dp;
        hedge_coin += h * dp / s.p1;
        let funding = -h * s.p0 * s.funding;
        out.funding_usd += funding;
        out.funding_coin -= h * s.funding;
        let [d, g, t, v, u] = attribute_step(o, o1, qty, h * dp, funding);
        out.pnl_delta_usd += d;
        out.pnl_gamma_usd += g;
        out.pnl_theta_usd += t;
        out.pnl_vega_usd += v;
        out.pnl_unexplained_usd += u;
    }
    // Close the hedge at the last step's end price.
    if h != 0.0 {
        let p = steps.last().map_or(last.forward, |s| s.p1);
        out.trades += 1;
        out.turnover += h.abs();
        fee_usd += fees.hedge_fee(h * p);
        fee_coin += fees.hedge_fee(h);
    }
    // Exit: settlement, or sell (qty > 0) at the bid.
    if last.settled {
        fee_usd += fees.settlement_fee(last.forward, last.value, qty);
        fee_coin += fees.settlement_fee(1.0, last.value_coin, qty);
    } else {
        let exit_side = if qty > 0.0 { last.bid } else { last.ask };
        if let Some((usd, coin)) = exit_side {
            spread_usd += qty.abs() * (usd - last.value).abs();
            spread_coin += qty.abs() * (coin - last.value_coin).abs();
            fee_usd += fees.option_fee(last.forward, usd, qty);
            fee_coin += fees.option_fee(1.0, coin, qty);
        } else {
            fee_usd += fees.option_fee(last.forward, last.value, qty);
            fee_coin += fees.option_fee(1.0, last.value_coin, qty);
        }
    }
    out.unhedged_usd = qty * (last.value - first.value);
    out.unhedged_coin = qty * (last.value_coin - first.value_coin);
    out.pnl_usd = out.unhedged_usd + hedge_usd + out.funding_usd;
    out.pnl_coin = out.unhedged_coin + hedge_coin + out.funding_coin;
    out.pnl_usd_net = out.pnl_usd - spread_usd - fee_usd;
    out.pnl_coin_net = out.pnl_coin - spread_coin - fee_coin;
    out.spread_usd = spread_usd;
    out.fees_usd = fee_usd;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(f: f64, value: f64, delta: f64, settled: bool) -> Obs {
        Obs {
            time_ms: 0,
            forward: f,
            value,
            value_coin: value / f,
            bid: (!settled).then_some((value - 1.0, (value - 1.0) / f)),
            ask: (!settled).then_some((value + 1.0, (value + 1.0) / f)),
            deltas: Deltas { black: delta, ..Deltas::default() },
            settled,
        }
    }

    #[test]
    fn hand_worked_path() {
        // One call: F 100 → 110 → 120 (settles, payoff 20); marks 10, 15; deltas 0.5, 0.6.
        // Hedge −0.5 then −0.6 coins: USD −0.5·10 − 0.6·10 = −11; option +10 → gross −1.
        // Coin: option 20/120 − 10/100; hedge −0.5·10/110 − 0.6·10/120.
        // Fees: hedge taker 0.1 % of |0.5|·100 + |0.1|·110 + |0.6|·120 = 0.133 USD,
        // 0.001·1.2 coin; spread: bought at ask 11 vs mid 10 = 1 USD (0.01 coin).
        let o = [
            obs(100.0, 10.0, 0.5, false),
            obs(110.0, 15.0, 0.6, false),
            obs(120.0, 20.0, 0.0, true),
        ];
        let s = [
            Step { p0: 100.0, p1: 110.0, source: HedgeSource::Perpetual, funding: 0.0 },
            Step { p0: 110.0, p1: 120.0, source: HedgeSource::Perpetual, funding: 0.0 },
        ];
        let fees = FeeSchedule { hedge_taker: 0.001, ..FeeSchedule::zero() };
        let p = hedge_path(&o, &s, 1.0, DeltaKind::Black, None, &fees);
        let coin = 20.0 / 120.0 - 0.1 - 0.5 * 10.0 / 110.0 - 0.6 * 10.0 / 120.0;
        assert!((p.pnl_usd + 1.0).abs() < 1e-12);
        assert!((p.pnl_coin - coin).abs() < 1e-12);
        assert!((p.fees_usd - 0.133).abs() < 1e-12);
        assert!((p.spread_usd - 1.0).abs() < 1e-12);
        assert!((p.pnl_usd_net + 2.133).abs() < 1e-12);
        assert!((p.pnl_coin_net - (coin - 0.01 - 0.0012)).abs() < 1e-12);
        assert_eq!((p.trades, p.unhedged_usd), (3, 10.0));
        // A band of 0.2 coins skips the 0.1 rebalance: hedge −0.5 throughout, −10 USD.
        let b = hedge_path(&o, &s, 1.0, DeltaKind::Black, Some(0.2), &fees);
        assert!(b.pnl_usd.abs() < 1e-12);
        assert_eq!(b.trades, 2);
        // Short one option: every gross P&L flips sign (hedge flips with it).
        let short = hedge_path(&o, &s, -1.0, DeltaKind::Black, None, &FeeSchedule::zero());
        assert!((short.pnl_usd - 1.0).abs() < 1e-12);
    }

    /// Issue 16: the greek terms plus unexplained and funding add up to each step's gross
    /// USD P&L, and over the path to `pnl_usd`; the terms themselves are the hand formulas.
    #[test]
    fn attribution_adds_up_to_the_gross_pnl() {
        use crate::market::OptionType;
        let day = 86_400_000;
        let mk = |d: i64, f: f64, value: f64, t: f64, vol: f64| Obs {
            time_ms: d * day,
            forward: f,
            value,
            value_coin: value / f,
            bid: None,
            ask: None,
            deltas: Deltas::new(OptionType::Call, f, 100.0, t, vol, -0.1),
            settled: false,
        };
        let settle =
            Obs { settled: true, deltas: Deltas::default(), ..mk(30, 112.0, 12.0, 0.1, 0.5) };
        let o =
            [mk(0, 100.0, 7.1, 30.0 / 365.0, 0.6), mk(10, 104.0, 9.3, 20.0 / 365.0, 0.55), settle];
        let s = [
            Step { p0: 99.0, p1: 103.5, source: HedgeSource::Perpetual, funding: 2e-4 },
            Step { p0: 103.5, p1: 111.0, source: HedgeSource::Perpetual, funding: -1e-4 },
        ];
        let q = 2.0;
        let p = hedge_path(&o, &s, q, DeltaKind::Smile, None, &FeeSchedule::zero());
        let sum = p.pnl_delta_usd
            + p.pnl_gamma_usd
            + p.pnl_theta_usd
            + p.pnl_vega_usd
            + p.funding_usd
            + p.pnl_unexplained_usd;
        assert!(
            (sum - p.pnl_usd).abs() < 1e-12 * p.pnl_usd.abs().max(1.0),
            "{sum} vs {}",
            p.pnl_usd
        );
        // Step 1 by hand: hedge h = −q·Δ_S·F/P, 10 days of theta, vol 0.60 → 0.55.
        let g = o[0].deltas;
        let h = -q * g.smile * 100.0 / 99.0;
        let [d, gm, th, v, u] = attribute_step(&o[0], &o[1], q, h * 4.5, -h * 99.0 * 2e-4);
        assert!((d - (q * g.black * 4.0 + h * 4.5)).abs() < 1e-12);
        assert!((gm - 0.5 * q * g.gamma * 16.0).abs() < 1e-12);
        assert!((th - q * g.theta * 10.0 / 365.0).abs() < 1e-12 && th < 0.0);
        assert!((v - q * g.vega * (0.55 - 0.6)).abs() < 1e-12 && v < 0.0);
        let gross = q * (9.3 - 7.1) + h * 4.5 - h * 99.0 * 2e-4;
        assert!((d + gm + th + v + u + (-h * 99.0 * 2e-4) - gross).abs() < 1e-12);
        // Into settlement there is no vol to move: vega 0.
        assert_eq!(attribute_step(&o[1], &o[2], q, 0.0, 0.0)[3], 0.0);
    }

    #[test]
    fn forward_delta_is_scaled_into_the_perpetual() {
        // A forward-like option V = F − 90 (Δ = 1) on an expiry whose forward stands 5 %
        // above the perpetual: P 100 → 110, F 105 → 115.5. The option gains 10.5 USD; one
        // coin of perpetual only 10 (under-hedged by 1 − P/F = 4.8 %), F/P = 1.05 coins
        // exactly 10.5, so the hedged USD P&L is 0.
        let o = [obs(105.0, 15.0, 1.0, false), obs(115.5, 25.5, 1.0, false)];
        let s = [Step { p0: 100.0, p1: 110.0, source: HedgeSource::Perpetual, funding: 0.0 }];
        let fees = FeeSchedule::zero();
        let p = hedge_path(&o, &s, 1.0, DeltaKind::Black, None, &fees);
        assert!(p.pnl_usd.abs() < 1e-12, "{}", p.pnl_usd);
        assert!((p.turnover - 2.1).abs() < 1e-12, "open and close 1.05 coins");
        // The premium-adjusted ratio is per unit of ln F (dF/F = dP/P): not scaled.
        let o =
            [Obs { deltas: Deltas { premium_adjusted: 0.4, ..Deltas::default() }, ..o[0] }, o[1]];
        let pa = hedge_path(&o, &s, 1.0, DeltaKind::PremiumAdjusted, None, &fees);
        assert!((pa.turnover - 0.8).abs() < 1e-12);
    }

    #[test]
    fn funding_is_paid_by_a_long_hedge_and_received_by_a_short_one() {
        // Short-delta option (Δ = −0.5 ⇒ hedge +0.5 coin, long the perpetual), flat price
        // 100, funding 1e-3 over the step: the long pays 0.5·100·1e-3 = 0.05 USD (5e-4 coin).
        let o = [obs(100.0, 10.0, -0.5, false), obs(100.0, 10.0, -0.5, false)];
        let s = [Step { p0: 100.0, p1: 100.0, source: HedgeSource::Perpetual, funding: 1e-3 }];
        let p = hedge_path(&o, &s, 1.0, DeltaKind::Black, None, &FeeSchedule::zero());
        assert!((p.funding_usd + 0.05).abs() < 1e-15 && (p.funding_coin + 5e-4).abs() < 1e-15);
        assert!((p.pnl_usd + 0.05).abs() < 1e-12, "funding is in the gross P&L");
        let short = hedge_path(&o, &s, -1.0, DeltaKind::Black, None, &FeeSchedule::zero());
        assert!((short.funding_usd - 0.05).abs() < 1e-15);
    }
}
