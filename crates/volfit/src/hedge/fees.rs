//! Trading costs: a maker/taker fee schedule for options, the hedge instrument and
//! settlement. Defaults follow Deribit's published schedule for BTC/ETH (2025–26): options
//! 0.03 % of the underlying per contract, capped at 12.5 % of the option premium; perpetual
//! and futures taker 0.05 %, maker 0 %; option delivery 0.015 % capped at 12.5 % of the
//! payoff. Spread costs (trading at bid/ask instead of mid) are accounted separately by the
//! backtest.

use serde::{Deserialize, Serialize};

/// Fee rates as fractions (0.0003 = 0.03 %).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeeSchedule {
    /// Option maker fee, fraction of the underlying price per contract.
    pub option_maker: f64,
    /// Option taker fee, fraction of the underlying price per contract.
    pub option_taker: f64,
    /// Cap of an option fee as a fraction of the premium.
    pub option_cap: f64,
    /// Hedge-instrument maker fee, fraction of notional.
    pub hedge_maker: f64,
    /// Hedge-instrument taker fee, fraction of notional.
    pub hedge_taker: f64,
    /// Option settlement (delivery) fee, fraction of the underlying price.
    pub settlement: f64,
    /// Cap of the settlement fee as a fraction of the payoff.
    pub settlement_cap: f64,
    /// Pay taker rates (true, the default: crossing the spread) or maker rates.
    pub taker: bool,
}

impl Default for FeeSchedule {
    fn default() -> Self {
        FeeSchedule {
            option_maker: 0.0003,
            option_taker: 0.0003,
            option_cap: 0.125,
            hedge_maker: 0.0,
            hedge_taker: 0.0005,
            settlement: 0.00015,
            settlement_cap: 0.125,
            taker: true,
        }
    }
}

impl FeeSchedule {
    /// A schedule that charges nothing.
    pub fn zero() -> Self {
        FeeSchedule {
            option_maker: 0.0,
            option_taker: 0.0,
            option_cap: 0.0,
            hedge_maker: 0.0,
            hedge_taker: 0.0,
            settlement: 0.0,
            settlement_cap: 0.0,
            taker: true,
        }
    }

    /// Fee (in the units of `underlying` and `premium`) of trading `qty` options at
    /// `premium` each with the underlying at `underlying`: `min(rate·S, cap·premium)·|qty|`.
    /// In coin units pass `underlying = 1` and the coin premium.
    pub fn option_fee(&self, underlying: f64, premium: f64, qty: f64) -> f64 {
        let rate = if self.taker { self.option_taker } else { self.option_maker };
        (rate * underlying).min(self.option_cap * premium.max(0.0)) * qty.abs()
    }

    /// Fee of trading `notional` (price × coins, any unit) of the hedge instrument.
    pub fn hedge_fee(&self, notional: f64) -> f64 {
        let rate = if self.taker { self.hedge_taker } else { self.hedge_maker };
        rate * notional.abs()
    }

    /// Settlement fee of `qty` options paying `payoff` each at settlement price `underlying`.
    pub fn settlement_fee(&self, underlying: f64, payoff: f64, qty: f64) -> f64 {
        (self.settlement * underlying).min(self.settlement_cap * payoff.max(0.0)) * qty.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_fee_cap_binds_for_cheap_options() {
        let f = FeeSchedule::default();
        // 0.03 % of 100 000 = 30 USD; 12.5 % of a 100 USD premium = 12.5 USD (cap binds).
        assert!((f.option_fee(100_000.0, 100.0, 1.0) - 12.5).abs() < 1e-12);
        // 12.5 % of 1 000 = 125 > 30: the rate binds; two contracts cost twice.
        assert!((f.option_fee(100_000.0, 1_000.0, -2.0) - 60.0).abs() < 1e-9);
        // Perpetual taker 0.05 % of 50 000 USD notional = 25 USD.
        assert!((f.hedge_fee(-50_000.0) - 25.0).abs() < 1e-9);
        // Zero payoff pays no settlement fee (cap of 12.5 % of 0).
        assert_eq!(f.settlement_fee(100_000.0, 0.0, 1.0), 0.0);
        assert_eq!(FeeSchedule::zero().option_fee(1e5, 1e3, 1.0), 0.0);
    }
}
