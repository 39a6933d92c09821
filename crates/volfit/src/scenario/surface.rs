//! The valuation surface of one coin (per-expiry SVI fitted to its last snapshot) and full
//! revaluation of candidates under a scenario (forward move, vol shift, time decay).

use super::{Candidate, CandidateKind, Coin, ScenarioError};
use crate::black;
use crate::fit::{fit_snapshot, FitSpec, ModelKind};
use crate::market::{OptionType, Snapshot};
use crate::model::{Fitted, Sticky};

/// One expiry of the valuation snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpiryInfo {
    /// Expiry time, ms since epoch.
    pub expiry_ms: i64,
    /// Deribit expiry code (`27MAR26`).
    pub code: String,
    /// Years to expiry.
    pub t: f64,
    /// Forward, USD.
    pub forward: f64,
}

/// A quote of the valuation snapshot: (instrument, mid USD, spread USD, expiry ms, strike).
pub(crate) type QuoteRow = (String, Option<f64>, Option<f64>, i64, f64);

/// A coin's valuation snapshot with its fitted smiles.
pub struct CoinSurface {
    /// The coin.
    pub coin: Coin,
    /// Index of the valuation snapshot in the slice given to `build`.
    pub snapshot: usize,
    /// Snapshot time, ms.
    pub time_ms: i64,
    /// Coin price: the index when the data carry it, else the nearest expiry's forward.
    pub spot: f64,
    /// Expiries, nearest first.
    pub expiries: Vec<ExpiryInfo>,
    /// Quotes of the fitted expiries: (instrument, mid USD, spread USD, expiry ms, strike).
    pub(crate) quotes: Vec<QuoteRow>,
    model: Fitted,
}

impl std::fmt::Debug for CoinSurface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinSurface")
            .field("coin", &self.coin)
            .field("time_ms", &self.time_ms)
            .field("spot", &self.spot)
            .field("expiries", &self.expiries.len())
            .finish()
    }
}

/// The SVI spec used for valuation smiles: [`FitSpec::default`] with the SVI model (vol
/// residuals, uniform weights, MSE).
pub(crate) fn valuation_spec() -> FitSpec {
    FitSpec { model: ModelKind::Svi, ..FitSpec::default() }
}

impl CoinSurface {
    /// Fits the last snapshot of `coin` among `snapshots`.
    ///
    /// # Errors
    /// [`ScenarioError::Data`] when no snapshot of the coin has a fitted expiry.
    pub fn at_last(coin: Coin, snapshots: &[Snapshot]) -> Result<CoinSurface, ScenarioError> {
        let name = coin.to_string();
        let (idx, snap) = snapshots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.underlying.eq_ignore_ascii_case(&name))
            .max_by_key(|(i, s)| (s.time_ms, *i))
            .ok_or_else(|| ScenarioError::Data(format!("no {name} snapshot among the inputs")))?;
        Self::fit(coin, idx, snap)
    }

    /// Fits `snap` (per-expiry SVI).
    ///
    /// # Errors
    /// [`ScenarioError::Data`] when no expiry could be fitted.
    pub fn fit(coin: Coin, idx: usize, snap: &Snapshot) -> Result<CoinSurface, ScenarioError> {
        let spec = valuation_spec();
        let result = fit_snapshot(snap, &spec, None);
        let model = result.fitted(snap, &spec);
        let mut expiries: Vec<ExpiryInfo> = snap
            .expiries
            .iter()
            .filter(|e| model.has_expiry(e.expiry_ms))
            .map(|e| ExpiryInfo {
                expiry_ms: e.expiry_ms,
                code: e
                    .quotes
                    .first()
                    .and_then(|q| q.instrument.split('-').nth(1))
                    .unwrap_or("")
                    .to_string(),
                t: e.t,
                forward: e.forward,
            })
            .collect();
        expiries.sort_by(|a, b| a.t.total_cmp(&b.t));
        let Some(first) = expiries.first() else {
            return Err(ScenarioError::Data(format!(
                "{coin} snapshot {}: no expiry could be fitted",
                snap.time_iso()
            )));
        };
        let quotes = snap
            .expiries
            .iter()
            .filter(|e| model.has_expiry(e.expiry_ms))
            .flat_map(|e| {
                e.quotes.iter().map(move |q| {
                    (q.instrument.clone(), q.mid(), q.spread(), e.expiry_ms, q.strike)
                })
            })
            .collect();
        let spot = snap.index.filter(|v| *v > 0.0 && v.is_finite()).unwrap_or(first.forward);
        Ok(CoinSurface {
            coin,
            snapshot: idx,
            time_ms: snap.time_ms,
            spot,
            expiries,
            quotes,
            model,
        })
    }

    /// Fitted vol of `strike` of expiry `expiry_ms` when its forward is `forward`
    /// (sticky moneyness).
    pub fn vol(&self, expiry_ms: i64, strike: f64, forward: f64) -> Option<f64> {
        self.model.vol(expiry_ms, strike, forward, Sticky::Moneyness)
    }
}

/// A candidate ready for revaluation.
#[derive(Clone, Debug)]
pub(crate) struct Priced {
    /// Index of the coin's surface.
    pub surface: usize,
    pub inst: Inst,
    /// Model value now, USD per unit (0 for delta one).
    pub value0: f64,
}

/// What is revalued.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Inst {
    Option { expiry_ms: i64, strike: f64, t: f64, forward: f64, kind: OptionType, vol0: f64 },
    Future { forward: f64 },
    Perpetual { spot: f64 },
}

impl Priced {
    /// Value per unit (USD) when the underlying is multiplied by `m`, vols by `vol_mult`
    /// then shifted by `dvol` (vol points as fractions), `dt` years later.
    #[inline]
    pub fn value(&self, surf: &CoinSurface, m: f64, vol_mult: f64, dvol: f64, dt: f64) -> f64 {
        match self.inst {
            Inst::Option { expiry_ms, strike, t, forward, kind, vol0 } => {
                let f1 = forward * m;
                let t1 = t - dt;
                if t1 <= 1e-9 {
                    return (kind.sign() * (f1 - strike)).max(0.0);
                }
                let v = surf.vol(expiry_ms, strike, f1).unwrap_or(vol0);
                let v = (v * vol_mult + dvol).max(0.01);
                black::price(kind, f1, strike, t1, v)
            }
            Inst::Future { forward } => forward * m,
            Inst::Perpetual { spot } => spot * m,
        }
    }

    /// P&L per unit in **coin** of the same move, the way Deribit settles it: an inverse
    /// option's premium is itself held in coin, `V₁/F₁ − V₀/F₀` with `F` its expiry's
    /// forward (Deribit's coin price is the Black-76 USD price over that forward); an
    /// inverse future or the perpetual of one coin of delta (USD notional `F₀`) pays
    /// `F₀·(1/F₀ − 1/F₁) = (F₁ − F₀)/F₁`, the perpetual on the index in place of `F`.
    pub fn pnl_coin(&self, surf: &CoinSurface, m: f64, vol_mult: f64, dvol: f64, dt: f64) -> f64 {
        match self.inst {
            Inst::Option { forward, .. } => {
                self.value(surf, m, vol_mult, dvol, dt) / (forward * m) - self.value0 / forward
            }
            Inst::Future { forward: p } | Inst::Perpetual { spot: p } => (p * m - p) / (p * m),
        }
    }

    /// P&L per unit (USD) of the same move.
    #[inline]
    pub fn pnl(&self, surf: &CoinSurface, m: f64, vol_mult: f64, dvol: f64, dt: f64) -> f64 {
        let base = match self.inst {
            Inst::Option { .. } => self.value0,
            Inst::Future { forward } => forward,
            Inst::Perpetual { spot } => spot,
        };
        self.value(surf, m, vol_mult, dvol, dt) - base
    }
}

/// The option candidate `name` of expiry `e` at strike/kind, valued on `surf`.
pub(crate) fn option_priced(
    surf_idx: usize,
    surf: &CoinSurface,
    e: &ExpiryInfo,
    strike: f64,
    kind: OptionType,
) -> Option<Priced> {
    let vol0 = surf.vol(e.expiry_ms, strike, e.forward)?;
    let value0 = black::price(kind, e.forward, strike, e.t, vol0);
    value0.is_finite().then_some(Priced {
        surface: surf_idx,
        inst: Inst::Option {
            expiry_ms: e.expiry_ms,
            strike,
            t: e.t,
            forward: e.forward,
            kind,
            vol0,
        },
        value0,
    })
}

/// The candidate record of a priced instrument.
pub(crate) fn candidate(
    name: String,
    coin: Coin,
    p: &Priced,
    mid: Option<f64>,
    spread: Option<f64>,
    min: f64,
    max: f64,
) -> Candidate {
    let kind = match p.inst {
        Inst::Option { strike, t, kind, .. } => {
            CandidateKind::Option { strike, expiry_t_years: t, is_call: kind == OptionType::Call }
        }
        Inst::Future { .. } => CandidateKind::Future {
            expiry_t_years: 0.0, // filled by the caller
        },
        Inst::Perpetual { .. } => CandidateKind::Perpetual,
    };
    let is_option = matches!(p.inst, Inst::Option { .. });
    let (underlying_price_usd, theta_usd_per_day) = match p.inst {
        Inst::Option { strike, t, forward, kind, vol0, .. } => {
            (forward, black::greeks(kind, forward, strike, t, vol0).theta / 365.0)
        }
        Inst::Future { forward } => (forward, 0.0),
        Inst::Perpetual { spot } => (spot, 0.0),
    };
    Candidate {
        name,
        coin,
        kind,
        price_usd: if is_option { mid.unwrap_or(p.value0) } else { 0.0 },
        spread_usd: if is_option { spread.unwrap_or(0.0).max(0.0) } else { 0.0 },
        underlying_price_usd,
        theta_usd_per_day,
        min,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: futures were listed at price 0 (their premium). The futures price is its
    /// own field; the premium stays 0.
    #[test]
    fn a_future_carries_its_price_and_no_premium() {
        let p = Priced { surface: 0, inst: Inst::Future { forward: 95_123.5 }, value0: 95_123.5 };
        let c = candidate("BTC-27MAR26".into(), Coin::Btc, &p, None, None, -1.0, 1.0);
        assert_eq!(
            (c.price_usd, c.underlying_price_usd, c.theta_usd_per_day),
            (0.0, 95_123.5, 0.0)
        );
        let p = Priced { surface: 0, inst: Inst::Perpetual { spot: 94_000.0 }, value0: 94_000.0 };
        let c = candidate("BTC-PERPETUAL".into(), Coin::Btc, &p, None, None, -1.0, 1.0);
        assert_eq!((c.price_usd, c.underlying_price_usd), (0.0, 94_000.0));
    }

    /// An option's theta per day against a one-day finite difference of the Black-76 price
    /// (the decay over the next day, −[V(τ) − V(τ − 1 d)]); the premium is the mid when given.
    #[test]
    fn an_option_carries_its_forward_and_theta_per_day() {
        let (f, k, t, vol) = (95_000.0, 100_000.0, 30.0 / 365.0, 0.55);
        let inst = Inst::Option {
            expiry_ms: 0,
            strike: k,
            t,
            forward: f,
            kind: OptionType::Call,
            vol0: vol,
        };
        let value0 = black::price(OptionType::Call, f, k, t, vol);
        let p = Priced { surface: 0, inst, value0 };
        let c = candidate("BTC-X-100000-C".into(), Coin::Btc, &p, Some(2_500.0), None, 0.0, 1.0);
        assert_eq!((c.price_usd, c.underlying_price_usd), (2_500.0, f));
        let day = 1.0 / 365.0;
        let fd = black::price(OptionType::Call, f, k, t - day, vol) - value0;
        assert!(c.theta_usd_per_day < 0.0);
        // The one-day difference carries the second-order term ½·θ'·Δτ²: 1 % here.
        assert!((c.theta_usd_per_day / fd - 1.0).abs() < 0.01, "{} vs {fd}", c.theta_usd_per_day);
    }
}
