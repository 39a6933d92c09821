//! A synthetic Black–Scholes world for hedging tests: the forward follows a seeded GBM with
//! constant vol, options are priced with Black-76 at the true vol and hedged with the true
//! delta through the same accounting as the real backtest ([`hedge_path`]).
//!
//! Theory (Bertsimas, Kogan & Lo 2000; Derman & Kamal 1999): with `N` equally spaced
//! rebalances the hedging error of a European option has variance `∝ 1/N`, so the P&L
//! standard deviation halves when the rebalancing frequency quadruples.

use super::accounting::{hedge_path, Obs, Step};
use super::config::HedgeSource;
use super::delta::{DeltaKind, Deltas};
use super::fees::FeeSchedule;
use crate::market::OptionType;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A Black–Scholes world with one European option to hedge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BsWorld {
    /// Initial forward.
    pub f0: f64,
    /// True (and pricing) volatility.
    pub sigma: f64,
    /// Real-world drift of the forward (per year).
    pub mu: f64,
    /// Option maturity (years).
    pub t: f64,
    /// Strike.
    pub strike: f64,
    /// Call or put.
    pub kind: OptionType,
}

impl BsWorld {
    /// Black price and true deltas at forward `f` with `tau` years left (payoff at 0).
    fn obs(&self, time_ms: i64, f: f64, tau: f64) -> Obs {
        let settled = tau <= 0.0;
        let deltas = if settled {
            Deltas::default()
        } else {
            Deltas::new(self.kind, f, self.strike, tau, self.sigma, 0.0)
        };
        let value =
            if settled { (self.kind.sign() * (f - self.strike)).max(0.0) } else { deltas.price };
        Obs {
            time_ms,
            forward: f,
            value,
            value_coin: value / f,
            bid: None,
            ask: None,
            deltas,
            settled,
        }
    }
}

/// Simulates `paths` GBM paths of the forward on a grid of `fine` steps to maturity and, for
/// each entry of `levels` (each dividing `fine`), hedges the option with the true Black delta
/// rebalanced `level` times (the same paths, sub-sampled: common random numbers). Returns the
/// gross USD hedged P&L, `out[level][path]`; no costs. Buffers are sized once.
pub fn hedged_pnl(
    world: &BsWorld,
    fine: usize,
    levels: &[usize],
    paths: usize,
    seed: u64,
) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dt = world.t / fine as f64;
    let (drift, vol) = ((world.mu - 0.5 * world.sigma * world.sigma) * dt, world.sigma * dt.sqrt());
    let mut out: Vec<Vec<f64>> = levels.iter().map(|_| Vec::with_capacity(paths)).collect();
    let mut fwd = vec![0.0; fine + 1];
    let max_level = levels.iter().copied().max().unwrap_or(1);
    let mut obs: Vec<Obs> = Vec::with_capacity(max_level + 1);
    let mut steps: Vec<Step> = Vec::with_capacity(max_level);
    let fees = FeeSchedule::zero();
    for _ in 0..paths {
        fwd[0] = world.f0;
        for i in 0..fine {
            let z: f64 = StandardNormal.sample(&mut rng);
            fwd[i + 1] = fwd[i] * (drift + vol * z).exp();
        }
        for (li, &n) in levels.iter().enumerate() {
            let stride = fine / n.max(1);
            obs.clear();
            steps.clear();
            for j in 0..=n {
                let i = j * stride;
                let tau = world.t - i as f64 * dt;
                let time_ms = (i as f64 * dt * 365.0 * 86_400_000.0) as i64;
                obs.push(world.obs(time_ms, fwd[i], if j == n { 0.0 } else { tau }));
                if j > 0 {
                    steps.push(Step {
                        p0: fwd[i - stride],
                        p1: fwd[i],
                        source: HedgeSource::Future,
                        funding: 0.0,
                    });
                }
            }
            let pnl = hedge_path(&obs, &steps, 1.0, DeltaKind::Black, None, &fees);
            out[li].push(pnl.pnl_usd);
        }
    }
    out
}

/// Sample variance (n − 1) of a slice.
pub fn variance(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)
}

/// Least-squares slope of `ln y` on `ln x`.
pub fn log_log_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a Black–Scholes world hedged with the true delta every step, the hedged P&L is
    /// gamma + theta (Derman & Kamal 1999: `Σ ½Γ(ΔF² − σ²F²Δt)`), vega is 0 (constant vol)
    /// and what is left unexplained is of higher order: a check that the attribution's
    /// terms carry the right signs and units.
    #[test]
    fn black_scholes_pnl_is_gamma_plus_theta() {
        let w = BsWorld {
            f0: 100.0,
            sigma: 0.5,
            mu: 0.0,
            t: 0.1,
            strike: 100.0,
            kind: OptionType::Call,
        };
        let n = 400usize;
        let dt = w.t / n as f64;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut f = w.f0;
        let (mut obs, mut steps) = (Vec::new(), Vec::new());
        for j in 0..=n {
            let time_ms = (j as f64 * dt * 365.0 * 86_400_000.0).round() as i64;
            let tau = w.t - j as f64 * dt;
            obs.push(w.obs(time_ms, f, if j == n { 0.0 } else { tau }));
            if j < n {
                let z: f64 = StandardNormal.sample(&mut rng);
                let f1 = f * (-0.5 * w.sigma * w.sigma * dt + w.sigma * dt.sqrt() * z).exp();
                steps.push(Step { p0: f, p1: f1, source: HedgeSource::Future, funding: 0.0 });
                f = f1;
            }
        }
        let p = hedge_path(&obs, &steps, 1.0, DeltaKind::Black, None, &FeeSchedule::zero());
        let size = p.pnl_gamma_usd.abs() + p.pnl_theta_usd.abs();
        assert!(p.pnl_gamma_usd > 0.0 && p.pnl_theta_usd < 0.0);
        assert_eq!(p.pnl_vega_usd, 0.0);
        assert!(p.pnl_delta_usd.abs() < 1e-9 * size, "delta {}", p.pnl_delta_usd);
        assert!(p.pnl_unexplained_usd.abs() < 0.1 * size, "{p:?}");
        let explained = p.pnl_gamma_usd + p.pnl_theta_usd;
        assert!((explained - p.pnl_usd).abs() < 0.1 * size, "{explained} vs {}", p.pnl_usd);
    }
}
