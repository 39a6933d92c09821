//! The hedged claim and its accounting: what one unit of hedge earns over a step, what a
//! trade costs, the classical (Black) hedge, and the policy's input features.
//!
//! A desk is **short one call** of strike `K` (in units of the initial forward, `F₀ = 1`) and
//! maturity `T`, and holds `h_t` units of the hedge instrument over step `t` (`h_{−1} = 0`,
//! no unwind at maturity: the option settles in cash against the final position). With path
//! constants `a_t` (gain per unit held over step `t`, funding included) and `b_t` (cost per
//! unit traded at `t`), the terminal P&L is
//!
//! ```text
//! P = premium − payoff(F_T) + Σ_t h_t·a_t − Σ_t b_t·|h_t − h_{t−1}|
//! ```
//!
//! [`Accounting`] fixes the units:
//! - **USD** (linear): the hedge is the forward/linear perpetual in coins;
//!   `a_t = F_{t+1} − F_t − r_f·F_t·dt`, `b_t = c·F_t`, payoff `(F_T − K)⁺`.
//! - **Coin** (Deribit's inverse): the option pays `(F_T − K)⁺/F_T` coin and the hedge is the
//!   inverse perpetual, `h` its USD notional in units of `F₀`; a long of `h` earns
//!   `a_t = 1/F_t − 1/F_{t+1} − r_f·dt/F_t` coin per unit, fees `b_t = c/F_t` coin per unit
//!   of notional traded. The Black hedge of the coin-valued call `C/F` is `h = Δ·F − C`.
//!
//! `c` is the proportional cost (fee plus half-spread, fraction of notional), `r_f` the
//! annualised perpetual funding rate paid by longs.

use crate::black::{greeks, OptionType};

/// The unit in which P&L is measured and the hedge instrument it implies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accounting {
    /// USD P&L, linear hedge in coins.
    #[default]
    Usd,
    /// Coin P&L, coin-settled option, inverse perpetual hedge.
    Coin,
}

/// The hedged claim and the market frictions.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Claim {
    /// Strike over the initial forward.
    pub strike: f64,
    /// Maturity in years.
    pub maturity: f64,
    /// Proportional cost per trade (fee + half-spread), fraction of notional.
    pub cost: f64,
    /// Annualised funding rate paid by a long perpetual.
    pub funding: f64,
    /// Units of the P&L.
    pub accounting: Accounting,
    /// Black volatility of the classical hedges and of the premium.
    pub black_vol: f64,
}

impl Claim {
    /// The classical hedge at forward `f` with `tau` years left and its slope in `f`:
    /// USD `(Δ, Γ)`; coin `(Δ·F − C, Γ·F)`.
    pub fn black_hedge(&self, f: f64, tau: f64) -> (f64, f64) {
        let g = greeks(OptionType::Call, f, self.strike, tau, self.black_vol);
        match self.accounting {
            Accounting::Usd => (g.delta, g.gamma),
            Accounting::Coin => (g.delta * f - g.price, g.gamma * f),
        }
    }

    /// The premium received at inception: the Black price (USD per `F₀`, or coin).
    pub fn premium(&self) -> f64 {
        crate::black::price(OptionType::Call, 1.0, self.strike, self.maturity, self.black_vol)
    }

    /// The option's payoff at the final forward `f`.
    pub fn payoff(&self, f: f64) -> f64 {
        let p = (f - self.strike).max(0.0);
        match self.accounting {
            Accounting::Usd => p,
            Accounting::Coin => p / f,
        }
    }

    /// `(a_t, b_t)` of a step from forward `f0` to `f1` of `dt` years.
    pub fn step(&self, f0: f64, f1: f64, dt: f64) -> (f64, f64) {
        match self.accounting {
            Accounting::Usd => (f1 - f0 - self.funding * f0 * dt, self.cost * f0),
            Accounting::Coin => (1.0 / f0 - 1.0 / f1 - self.funding * dt / f0, self.cost / f0),
        }
    }
}

/// The first feature, `ln(F/K)/(σ_B√T)`.
#[inline]
pub fn moneyness(claim: &Claim, f: f64) -> f64 {
    (f / claim.strike).ln() / (claim.black_vol * claim.maturity.sqrt())
}

/// Names of every feature, in row order (a policy uses the first three and the optional
/// ones its [`Inputs`] select).
pub const NAMES: [&str; 5] = [
    "log_moneyness/(black_vol*sqrt(T))",
    "time_to_expiry/T",
    "prev_hedge",
    "volatility/black_vol",
    "black_delta",
];

/// Index of the current hedge among the features.
pub const HEDGE_FEATURE: usize = 2;

/// A network policy's inputs, scaled to order one: log-moneyness over the total Black
/// deviation `ln(F/K)/(σ_B√T)`, the fraction of time left `τ/T` and the current
/// (previous step's) hedge, then optionally the instantaneous volatility over `σ_B` and
/// the claim's Black hedge `δ` at `σ_B` ([`Claim::black_hedge`]: the Black delta in USD,
/// `Δ·F − C` in coin). The Black hedge is the strongest single feature: without costs it
/// is the hedge itself, which the three base features only reach through a map that
/// steepens as `τ → 0` (`δ = Φ(x₀/√(τ/T) + …)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Inputs {
    /// The volatility feature.
    pub vol: bool,
    /// The Black-hedge feature.
    pub delta: bool,
}

impl Inputs {
    /// Every combination, the base features alone first.
    pub const ALL: [Inputs; 4] = [
        Inputs { vol: false, delta: false },
        Inputs { vol: true, delta: false },
        Inputs { vol: false, delta: true },
        Inputs { vol: true, delta: true },
    ];

    /// Number of features: 3 plus the optional ones.
    pub fn count(self) -> usize {
        3 + usize::from(self.vol) + usize::from(self.delta)
    }

    /// The names of the features, in row order (the subset of [`NAMES`]).
    pub fn names(self) -> Vec<&'static str> {
        let keep = [true, true, true, self.vol, self.delta];
        NAMES.iter().zip(keep).filter(|(_, k)| *k).map(|(n, _)| *n).collect()
    }

    /// The inputs whose [`names`](Self::names) are `names`, if any.
    pub fn from_names(names: &[&str]) -> Option<Inputs> {
        Inputs::ALL.into_iter().find(|i| i.names() == names)
    }

    /// Writes one state's features into `row` ([`count`](Self::count) entries): the
    /// scaled `moneyness` and `tau_frac`, the current `hedge`, the volatility ratio
    /// `vol_ratio = σ/σ_B` and the Black hedge `delta` (the last two when selected).
    #[inline]
    pub fn fill(
        self,
        row: &mut [f64],
        moneyness: f64,
        tau_frac: f64,
        hedge: f64,
        vol_ratio: f64,
        delta: f64,
    ) {
        row[0] = moneyness;
        row[1] = tau_frac;
        row[HEDGE_FEATURE] = hedge;
        let mut k = 3;
        if self.vol {
            row[k] = vol_ratio;
            k += 1;
        }
        if self.delta {
            row[k] = delta;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_fill_their_named_features_in_order() {
        for inputs in Inputs::ALL {
            let names = inputs.names();
            assert_eq!(names.len(), inputs.count());
            assert_eq!(Inputs::from_names(&names), Some(inputs));
            let mut row = vec![f64::NAN; inputs.count()];
            inputs.fill(&mut row, 1.0, 2.0, 3.0, 4.0, 5.0);
            let by_name = |n: &str| NAMES.iter().position(|m| *m == n).map(|k| (k + 1) as f64);
            for (v, n) in row.iter().zip(&names) {
                assert_eq!(Some(*v), by_name(n), "{inputs:?} {n}");
            }
        }
        assert_eq!(Inputs::from_names(&["prev_hedge"]), None);
        assert_eq!(Inputs::from_names(&NAMES[..4]), Some(Inputs { vol: true, delta: false }));
    }

    fn claim(accounting: Accounting) -> Claim {
        Claim { strike: 1.1, maturity: 0.1, cost: 0.0, funding: 0.0, accounting, black_vol: 0.6 }
    }

    #[test]
    fn coin_black_hedge_is_the_slope_of_the_coin_value_times_f_squared() {
        // Inverse contract of notional h: coin value change per dF is h/F²; the coin value
        // of the call is C/F, so h = F²·∂(C/F)/∂F = Δ·F − C (central differences).
        let c = claim(Accounting::Coin);
        let (f, tau, e) = (1.05, 0.05, 1e-5);
        let v = |f: f64| crate::black::price(OptionType::Call, f, c.strike, tau, c.black_vol) / f;
        let fd = f * f * (v(f + e) - v(f - e)) / (2.0 * e);
        let (h, slope) = c.black_hedge(f, tau);
        assert!((h - fd).abs() < 1e-8, "{h} vs {fd}");
        let fd_slope = (c.black_hedge(f + e, tau).0 - c.black_hedge(f - e, tau).0) / (2.0 * e);
        assert!((slope - fd_slope).abs() < 1e-6, "{slope} vs {fd_slope}");
    }

    #[test]
    fn perfect_black_replication_in_coin_matches_usd_over_one_tiny_step() {
        // Over a tiny step, the Black hedge earns the option's value change in both units.
        for acc in [Accounting::Usd, Accounting::Coin] {
            let c = claim(acc);
            let (f0, f1, tau, dt) = (1.0, 1.0001, 0.05, 1e-9);
            let (h, _) = c.black_hedge(f0, tau);
            let (a, _) = c.step(f0, f1, dt);
            let value = |f: f64| {
                let p = crate::black::price(OptionType::Call, f, c.strike, tau, c.black_vol);
                if acc == Accounting::Coin {
                    p / f
                } else {
                    p
                }
            };
            let dv = value(f1) - value(f0);
            // Second-order mismatch only: Γ·dF²/2 ≈ 1e-8 relative to dv ≈ 4e-5.
            assert!((h * a - dv).abs() < 1e-7, "{acc:?}: {} vs {dv}", h * a);
        }
    }
}
