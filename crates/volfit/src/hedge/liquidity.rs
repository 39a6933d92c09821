//! Which options a backtest enters: [`LiquidityFilter`], decided at the entry snapshot from
//! what the market shows there (no model, no later data).
//!
//! Deep in-the-money options have tiny vega and spreads of tens of thousands of USD (on the
//! January 2026 BTC chains a single deep-ITM put costs 23–30 k USD to cross twice), so they
//! dominate a mean P&L while no desk would hedge them as options; options with
//! `0.6 < |Δ| ≤ 0.9` still cost 8–10 k USD each. The default filter keeps options whose
//! spread is at most 10 vol points of vega and whose `|Δ| ≤ 0.6` (out of the money and
//! near the money), both at the exchange mark IV (mid IV when there is no mark). On the 28
//! January 2026 snapshots it keeps 491 of 814 BTC options and moves the mean net USD P&L
//! of the smile-delta hedge from −2,050 to −408 (gross −257 → −242).

use super::config::{check, positive, InvalidValue};
use crate::black;
use crate::market::{Expiry, Quote};
use serde::{Deserialize, Serialize};

/// Entry filter on quoted liquidity; echoed in the output, off with `enabled = false`
/// (CLI `--no-liquidity-filter`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiquidityFilter {
    /// Apply the filter (default true).
    pub enabled: bool,
    /// Largest entry spread in vol units: `(ask − bid)/vega ≤ max_spread_vol`
    /// (0.10 = 10 vol points), vega at the mark IV.
    pub max_spread_vol: f64,
    /// Largest `|Black delta|` at the mark IV.
    pub max_abs_delta: f64,
}

impl Default for LiquidityFilter {
    fn default() -> Self {
        LiquidityFilter { enabled: true, max_spread_vol: 0.10, max_abs_delta: 0.6 }
    }
}

impl LiquidityFilter {
    /// No filter: every two-sided option is entered.
    pub fn off() -> Self {
        LiquidityFilter { enabled: false, ..LiquidityFilter::default() }
    }

    /// True when the two-sided quote `q` of expiry `e` may be entered. A quote without a
    /// usable IV (mark, else mid) is not admitted while the filter is on.
    pub fn admits(&self, q: &Quote, e: &Expiry) -> bool {
        if !self.enabled {
            return true;
        }
        let (Some(spread), Some(iv)) = (q.spread(), q.mark_iv.or(q.mid_iv)) else {
            return false;
        };
        if !(iv.is_finite() && iv > 0.0 && e.t > 0.0) {
            return false;
        }
        let g = black::greeks(q.kind, e.forward, q.strike, e.t, iv);
        g.vega > 0.0
            && spread <= self.max_spread_vol * g.vega
            && g.delta.abs() <= self.max_abs_delta
    }

    /// Its values against their rules.
    pub(super) fn validate(&self) -> Result<(), InvalidValue> {
        positive("liquidity.max_spread_vol", self.max_spread_vol)?;
        let d = self.max_abs_delta;
        check(d > 0.0 && d <= 1.0, "liquidity.max_abs_delta", &d.to_string(), "in (0, 1]")
    }

    /// One line for the output.
    pub fn describe(&self) -> String {
        if self.enabled {
            format!(
                "entries with spread <= {} vol pts of vega and |delta| <= {} at the mark IV",
                self.max_spread_vol * 100.0,
                self.max_abs_delta
            )
        } else {
            "off: every two-sided option is entered".to_string()
        }
    }
}
