//! Scenario-based portfolio margin grid (in the spirit of Deribit's portfolio margin):
//! every candidate of a coin fully revalued under underlying moves × relative vol shocks,
//! its P&L taken in coin as an inverse contract pays it (option premiums revalued in coin,
//! futures with their `F/S` factor: see `Priced::pnl_coin`).

use super::surface::Priced;
use super::{Coin, CoinSurface, MarginGrid, ScenarioConfig, ScenarioError};
use crate::risk::Scenarios;

/// The margin grid of `coin`: rows = (move, vol shock), P&L in coin per unit.
pub(crate) fn grid(
    coin: Coin,
    priced: &[Priced],
    surfaces: &[CoinSurface],
    cfg: &ScenarioConfig,
) -> Result<MarginGrid, ScenarioError> {
    let shocks: Vec<(f64, f64)> = cfg
        .margin_moves
        .iter()
        .flat_map(|&m| cfg.margin_vol_shocks.iter().map(move |&v| (m, v)))
        .collect();
    let cols = priced.len();
    let mut data = vec![0.0; shocks.len() * cols];
    for (row, &(m, v)) in data.chunks_exact_mut(cols.max(1)).zip(&shocks) {
        for (out, p) in row.iter_mut().zip(priced) {
            let surf = &surfaces[p.surface];
            if surf.coin == coin {
                *out = p.pnl_coin(surf, 1.0 + m, 1.0 + v, 0.0, 0.0);
            }
        }
    }
    let rows = shocks.len();
    let pnl_coin = Scenarios::new(data, rows, cols)
        .map_err(|e| ScenarioError::Data(format!("{coin} margin grid: {e}")))?;
    Ok(MarginGrid { coin, shocks, pnl_coin })
}
