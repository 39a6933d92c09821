//! Rough Bergomi (Bayer, Friz & Gatheral 2016) priced by Monte Carlo: see [`RBergomi`].

mod hybrid;
mod price;

use super::{check_len, Domain, Params};
use crate::black::OptionType;
pub use price::McWorkspace;
use price::Side;

/// Why a rough Bergomi parameter set or Monte Carlo request was rejected.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RBergomiError {
    /// A parameter is NaN or infinite.
    #[error("rough Bergomi parameter {0} is not finite")]
    NonFinite(&'static str),
    /// The Hurst exponent is outside `(0, 1)`.
    #[error("rough Bergomi requires 0 < hurst < 1, got {0}")]
    Hurst(f64),
    /// A negative vol-of-vol.
    #[error("rough Bergomi requires eta >= 0, got {0}")]
    Eta(f64),
    /// `|ρ| ≥ 1`.
    #[error("rough Bergomi requires |rho| < 1, got {0}")]
    Rho(f64),
    /// A non-positive forward variance.
    #[error("rough Bergomi requires xi0 > 0, got {0}")]
    Xi0(f64),
    /// Flat vector of the wrong length.
    #[error("rough Bergomi expects {expected} parameters, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// Too few paths, or an odd number (antithetic pairs).
    #[error("Monte Carlo paths must be even and at least 8, got {0}")]
    Paths(usize),
    /// Steps per maturity outside `1..=512`, or more than 4000 steps in all.
    #[error("Monte Carlo steps: need 1..=512 per maturity and at most 4000 in all, got {0} per maturity")]
    Steps(usize),
    /// Levels of time steps outside `1..=6`, or steps per maturity not divisible by
    /// `2^(levels − 1)`.
    #[error("Monte Carlo levels: need 1..=6 levels and steps per maturity divisible by 2^(levels - 1), got {0} levels")]
    Levels(usize),
    /// Combination weights that do not match the simulated levels or do not sum to one.
    #[error("Monte Carlo level weights: need one finite weight per simulated level, summing to 1")]
    Weights,
    /// Maturities empty, not positive, not finite or not increasing.
    #[error("maturities must be non-empty, positive, finite and strictly increasing")]
    Maturities,
    /// Log-strikes not a non-empty, finite block per maturity.
    #[error("log-strikes must be finite, the same positive number per maturity")]
    Strikes,
}

/// Rough Bergomi on the forward (zero rate), flat forward variance `ξ₀`:
///
/// ```text
/// dF/F = √V dB,   V_t = ξ₀ exp(η Y_t − ½η² t^(2H)),   Y_t = √(2H) ∫₀ᵗ (t − s)^(H−½) dW_s,
/// B = ρW + √(1−ρ²)W⊥
/// ```
/// (Bayer, Friz & Gatheral 2016, "Pricing under rough volatility", Quant. Finance 16, eq.
/// (4.1) with `ξ₀(t) ≡ ξ₀`; a term structure of forward variance is not modelled.)
/// `E[V_t] = ξ₀`, `Var Y_t = t^(2H)`; `H = ½` is the classical lognormal (non-mean-
/// reverting) Bergomi model, `H < ½` gives the short-dated ATM skew `∝ t^(H−½)`.
///
/// Parameters (flat order) `[hurst, eta, rho, xi0]`: `0 < H < 1`, `η ≥ 0`, `|ρ| < 1`,
/// `ξ₀ > 0`. No closed form: priced by [`RBergomi::price_grid`] (hybrid scheme plus
/// conditional Monte Carlo, see the `hybrid` and `price` submodules).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RBergomi {
    hurst: f64,
    eta: f64,
    rho: f64,
    xi0: f64,
}

const DOMAIN: [Domain; 4] =
    [Domain::Interval(0.0, 1.0), Domain::Positive, Domain::Interval(-1.0, 1.0), Domain::Positive];

impl RBergomi {
    /// Validating constructor.
    ///
    /// # Errors
    /// The [`RBergomiError`] naming the violated constraint.
    pub fn new(hurst: f64, eta: f64, rho: f64, xi0: f64) -> Result<RBergomi, RBergomiError> {
        for (name, v) in [("hurst", hurst), ("eta", eta), ("rho", rho), ("xi0", xi0)] {
            if !v.is_finite() {
                return Err(RBergomiError::NonFinite(name));
            }
        }
        if !(hurst > 0.0 && hurst < 1.0) {
            return Err(RBergomiError::Hurst(hurst));
        }
        if eta < 0.0 {
            return Err(RBergomiError::Eta(eta));
        }
        if !(rho.abs() < 1.0) {
            return Err(RBergomiError::Rho(rho));
        }
        if !(xi0 > 0.0) {
            return Err(RBergomiError::Xi0(xi0));
        }
        Ok(RBergomi { hurst, eta, rho, xi0 })
    }

    /// `[hurst, eta, rho, xi0]`.
    pub fn params(&self) -> [f64; 4] {
        [self.hurst, self.eta, self.rho, self.xi0]
    }

    /// Prices out-of-the-money options (calls at `k ≥ 0`, puts below) on a grid and
    /// inverts them to implied vols, all in one simulation: `ks` holds `m` log-strikes
    /// `ln(K/F)` per maturity, maturity-major. Results are in `ws` ([`McWorkspace::iv`],
    /// [`McWorkspace::iv_se`], …). Returns the number of points without an implied vol.
    ///
    /// Deterministic in `mc.seed`: paths run in blocks of 32 antithetic pairs, block `b`
    /// from ChaCha8 seeded with `mc.seed` on stream `b`, summed in block order (no
    /// threads inside; callers parallelise over surfaces). Cost per pair: `2N` normals,
    /// `N²/2` multiply-adds of the convolution, `2N` exponentials and two conditional
    /// Black prices per grid point, `N` the steps of the grid ([`McConfig`]).
    ///
    /// # Errors
    /// [`RBergomiError`] for invalid `mc`, maturities or strikes.
    pub fn price_grid(
        &self,
        mc: &McConfig,
        maturities: &[f64],
        ks: &[f64],
        ws: &mut McWorkspace,
    ) -> Result<usize, RBergomiError> {
        self.run(mc, maturities, ks, Side::Otm, &[1.0], ws)
    }

    /// [`RBergomi::price_grid`] with the time-step bias extrapolated away (Richardson):
    /// one simulation at `mc.steps` and, with the same random numbers, at `mc.steps / 2`
    /// per maturity ([`RBergomi::price_grid_levels`]), combined as
    /// `(2^r·V_N − V_{N/2})/(2^r − 1)` ([`richardson_weights`]) for a weak error
    /// `∝ N^(−r)`. [`McWorkspace::iv_se`] is the combination's own standard error (the
    /// noise amplification included); the bias left over is of higher order.
    ///
    /// # Errors
    /// As [`RBergomi::price_grid_levels`] (`mc.steps` must be even).
    pub fn price_grid_richardson(
        &self,
        mc: &McConfig,
        rate: f64,
        maturities: &[f64],
        ks: &[f64],
        ws: &mut McWorkspace,
    ) -> Result<usize, RBergomiError> {
        self.price_grid_levels(mc, &richardson_weights(rate), maturities, ks, ws)
    }

    /// Simulates `weights.len()` nested levels of time steps with common random numbers —
    /// level 0 at `mc.steps` per maturity, each next level with pairs of steps merged
    /// (`mc.steps / 2`, `/ 4`, …) and its normals summed pairwise, an exact draw of the
    /// coarser scheme — and prices as [`RBergomi::price_grid`] the combination
    /// `Σ_l weights[l]·V_l` path pair by path pair ([`McWorkspace::reestimate`] prices other
    /// combinations of the same paths). With one level this is [`RBergomi::price_grid`].
    ///
    /// # Errors
    /// As [`RBergomi::price_grid`], [`RBergomiError::Levels`] for `1..=6` levels not
    /// dividing the steps, [`RBergomiError::Weights`].
    pub fn price_grid_levels(
        &self,
        mc: &McConfig,
        weights: &[f64],
        maturities: &[f64],
        ks: &[f64],
        ws: &mut McWorkspace,
    ) -> Result<usize, RBergomiError> {
        self.run(mc, maturities, ks, Side::Otm, weights, ws)
    }

    /// [`RBergomi::price_grid`] pricing `kind` at every point (in- or out-of-the-money).
    ///
    /// # Errors
    /// As [`RBergomi::price_grid`].
    pub fn price_grid_as(
        &self,
        kind: OptionType,
        mc: &McConfig,
        maturities: &[f64],
        ks: &[f64],
        ws: &mut McWorkspace,
    ) -> Result<usize, RBergomiError> {
        self.run(mc, maturities, ks, Side::All(kind), &[1.0], ws)
    }

    fn run(
        &self,
        mc: &McConfig,
        maturities: &[f64],
        ks: &[f64],
        side: Side,
        weights: &[f64],
        ws: &mut McWorkspace,
    ) -> Result<usize, RBergomiError> {
        mc.validate_levels(maturities, weights.len())?;
        check_strikes(maturities.len(), ks)?;
        check_weights(weights)?;
        ws.simulate(self, maturities, (mc.steps, weights.len()), mc.paths, mc.seed);
        Ok(ws.estimate(ks, side, weights))
    }
}

/// The weak-error rate that [`RBergomi::price_grid_richardson`] is used with in volfit
/// (surrogate data): 1. Measured on the default grid (bench `rbergomi_bias levels`, 32
/// sets: the 16 corners of the default box and 16 Sobol points, 8,192 paths, 16 to 256
/// steps per maturity with common random numbers), `log2` of the ratio of successive step
/// differences is 0.84–0.89 over all points whose differences are resolved, 0.95–1.0 at
/// `H > 0.3` and 0.9 at `0.1 ≤ H ≤ 0.3` — closer to 1 than to the `H + ½` of the strong
/// rate — and only 0.2–0.5 at `H < 0.1`, where the error is not yet in its asymptotic
/// regime at these step counts (e.g. `H = 0.025, η = 4`: every doubling still moves the
/// vols by 5–8 vol points). [`McWorkspace::iv_err`] carries the bias estimate there.
pub const RICHARDSON_RATE: f64 = 1.0;

/// The weights `[2^r, −1]/(2^r − 1)` of levels `N` and `N/2` steps that cancel a weak error
/// `c·N^(−r)` (Richardson extrapolation). The noise is amplified: with independent levels
/// the standard error would grow by `√(4^r + 1)/(2^r − 1)` (2.2× at `r = 1`, 3.7× at
/// `r = ½`); common random numbers cancel most of it.
pub fn richardson_weights(rate: f64) -> [f64; 2] {
    let p = rate.exp2();
    [p / (p - 1.0), -1.0 / (p - 1.0)]
}

fn check_strikes(nt: usize, ks: &[f64]) -> Result<(), RBergomiError> {
    if ks.is_empty() || !ks.len().is_multiple_of(nt) || ks.iter().any(|k| !k.is_finite()) {
        return Err(RBergomiError::Strikes);
    }
    Ok(())
}

fn check_weights(weights: &[f64]) -> Result<(), RBergomiError> {
    let sum: f64 = weights.iter().sum();
    if weights.iter().any(|w| !w.is_finite()) || (sum - 1.0).abs() > 1e-9 {
        return Err(RBergomiError::Weights);
    }
    Ok(())
}

impl McWorkspace {
    /// Prices the combination `Σ_l weights[l]·V_l` of the paths of the last
    /// [`RBergomi::price_grid_levels`] call again (out-of-the-money options at `ks`, on its
    /// maturities), without simulating: e.g. each level alone, or a difference of two
    /// levels (weights summing to 0 are allowed here; [`McWorkspace::price`] and
    /// [`McWorkspace::price_se`] then hold the difference and its standard error, and the
    /// implied vols are NaN). Returns the number of points without an implied vol.
    ///
    /// # Errors
    /// [`RBergomiError::Weights`] when the weights are not one finite number per simulated
    /// level, [`RBergomiError::Strikes`].
    pub fn reestimate(&mut self, ks: &[f64], weights: &[f64]) -> Result<usize, RBergomiError> {
        if weights.len() != self.levels() || weights.iter().any(|w| !w.is_finite()) {
            return Err(RBergomiError::Weights);
        }
        check_strikes(self.maturities().len(), ks)?;
        Ok(self.estimate(ks, Side::Otm, weights))
    }
}

impl Params for RBergomi {
    const NAMES: &'static [&'static str] = &["hurst", "eta", "rho", "xi0"];
    type Error = RBergomiError;
    fn domain() -> &'static [Domain] {
        &DOMAIN
    }
    fn to_slice(&self, out: &mut [f64]) {
        out[..4].copy_from_slice(&self.params());
    }
    fn from_slice(x: &[f64]) -> Result<Self, RBergomiError> {
        check_len(x, 4).map_err(|(expected, got)| RBergomiError::Length { expected, got })?;
        RBergomi::new(x[0], x[1], x[2], x[3])
    }
}

/// Monte Carlo settings of [`RBergomi::price_grid`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct McConfig {
    /// Paths, antithetic members included (even, ≥ 8).
    pub paths: usize,
    /// Steps per maturity: the segment between consecutive maturities `(T_{m−1}, T_m]` is
    /// split uniformly with step at most `T_m/steps`, so each maturity is resolved by at
    /// least `steps` steps whatever its length (the hybrid scheme's error depends on
    /// `η·T^H` and the steps per `T`, not on `T` alone, by the self-similarity of `Y`).
    ///
    /// The weak (bias) error decays slowly, about as `steps^−(H+½)`: at `H = 0.1, η = 2,
    /// ρ = −0.7, ξ₀ = 0.25` the default grid's vols differ from 128 steps per maturity by
    /// −0.4 to +2.9 vol points (largest for far out-of-the-money calls at 6–12 months),
    /// and by up to 7.4 at 8 steps (bench `rbergomi grid`, 32,768 paths). The standard
    /// errors do not include this bias; [`RBergomi::price_grid_richardson`] removes most of
    /// it and [`McWorkspace::iv_err`] adds an estimate of it. Over 32 sets of the default
    /// box (bench `rbergomi_bias levels`, common random numbers) `|V_64 − V_256|` has median
    /// 0.056 and p99 12.8 vol points; the p99 lives at small `H` with large `η` and `ξ₀`
    /// (`H = 0.025, η = 4, ξ₀ = 2.25`: 13–14 vol points at every maturity and strike, and
    /// still 6–8 per doubling of the steps), while at `H ≥ 0.1` the p99 is 0.9 vol point.
    pub steps: usize,
    /// Seed of the random numbers.
    pub seed: u64,
}

impl Default for McConfig {
    /// 4,096 paths, 32 steps per maturity (160 steps for the default 8-maturity grid).
    fn default() -> McConfig {
        McConfig { paths: 4096, steps: 32, seed: 0 }
    }
}

impl McConfig {
    /// Checks the settings against a maturity axis.
    ///
    /// # Errors
    /// [`RBergomiError::Paths`], [`RBergomiError::Maturities`] or [`RBergomiError::Steps`].
    pub fn validate(&self, maturities: &[f64]) -> Result<(), RBergomiError> {
        self.validate_levels(maturities, 1)
    }

    /// [`McConfig::validate`] for `levels` nested levels of time steps
    /// ([`RBergomi::price_grid_levels`]): the finest grid must hold at most 4000 steps.
    ///
    /// # Errors
    /// As [`McConfig::validate`], and [`RBergomiError::Levels`].
    pub fn validate_levels(&self, maturities: &[f64], levels: usize) -> Result<(), RBergomiError> {
        if self.paths < 8 || !self.paths.is_multiple_of(2) {
            return Err(RBergomiError::Paths(self.paths));
        }
        let ok = !maturities.is_empty()
            && maturities.iter().all(|t| t.is_finite() && *t > 0.0)
            && maturities.windows(2).all(|p| p[0] < p[1]);
        if !ok {
            return Err(RBergomiError::Maturities);
        }
        if !(1..=512).contains(&self.steps) {
            return Err(RBergomiError::Steps(self.steps));
        }
        let split = 1usize << (levels.clamp(1, price::MAX_LEVELS) - 1);
        if !(1..=price::MAX_LEVELS).contains(&levels) || !self.steps.is_multiple_of(split) {
            return Err(RBergomiError::Levels(levels));
        }
        if split * hybrid::total_steps(maturities, self.steps / split) > 4000 {
            return Err(RBergomiError::Steps(self.steps));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_vol_of_vol_is_black_with_variance_xi0() {
        // η = 0: V ≡ ξ₀. With ρ = 0 every conditional price is the Black price itself (no
        // noise at all); with ρ ≠ 0 the forward F' is random but the mixture is still Black
        // with σ² = ξ₀ (Romano–Touzi), within the reported standard errors.
        let mats = [0.01, 0.5];
        let ks = [-0.05, 0.0, 0.05, -0.3, 0.0, 0.3];
        let mc = McConfig { paths: 4096, steps: 8, seed: 1 };
        let mut ws = McWorkspace::default();
        let m = RBergomi::new(0.1, 0.0, 0.0, 0.09).unwrap();
        assert_eq!(m.price_grid(&mc, &mats, &ks, &mut ws).unwrap(), 0);
        for (iv, se) in ws.iv().iter().zip(ws.iv_se()) {
            assert!((iv - 0.3).abs() < 1e-12 && *se < 1e-12, "{iv} {se}");
        }
        let m = RBergomi::new(0.1, 0.0, -0.7, 0.09).unwrap();
        assert_eq!(m.price_grid(&mc, &mats, &ks, &mut ws).unwrap(), 0);
        for (iv, se) in ws.iv().iter().zip(ws.iv_se()) {
            assert!((iv - 0.3).abs() < 4.0 * se && *se < 0.005, "{iv} {se}");
        }
    }

    #[test]
    fn richardson_weights_cancel_a_first_order_error() {
        for r in [0.5, 1.0] {
            let [a, b] = richardson_weights(r);
            let v = |n: f64| 0.3 + 0.7 * n.powf(-r);
            assert!((a * v(64.0) + b * v(32.0) - 0.3).abs() < 1e-15, "{r}");
        }
    }

    #[test]
    fn one_level_is_price_grid_and_levels_are_exact_without_vol_of_vol() {
        let (mats, ks) = ([0.02, 0.5], [-0.1, 0.0, 0.1, -0.3, 0.0, 0.3]);
        let mc = McConfig { paths: 256, steps: 8, seed: 4 };
        let m = RBergomi::new(0.3, 1.0, -0.7, 0.09).unwrap();
        let (mut a, mut b) = (McWorkspace::default(), McWorkspace::default());
        m.price_grid(&mc, &mats, &ks, &mut a).unwrap();
        m.price_grid_levels(&mc, &[1.0], &mats, &ks, &mut b).unwrap();
        assert_eq!((a.iv(), a.iv_se()), (b.iv(), b.iv_se()));
        assert_eq!(b.iv_err(), b.iv_se());
        // Richardson on two levels: different vols, the error includes the step difference.
        assert_eq!(m.price_grid_richardson(&mc, RICHARDSON_RATE, &mats, &ks, &mut b), Ok(0));
        assert_eq!(b.levels(), 2);
        assert!(b.iv().iter().zip(a.iv()).all(|(x, y)| x != y));
        assert!(b.iv_err().iter().zip(b.iv_se()).all(|(e, s)| e >= s));
        assert!(b.step_diff().iter().any(|d| d.abs() > 0.0));
        // η = 0, ρ = 0: every level is Black at σ² = ξ₀ exactly, and so is the combination.
        let m = RBergomi::new(0.1, 0.0, 0.0, 0.09).unwrap();
        m.price_grid_richardson(&mc, RICHARDSON_RATE, &mats, &ks, &mut b).unwrap();
        for (iv, e) in b.iv().iter().zip(b.iv_err()) {
            assert!((iv - 0.3).abs() < 1e-12 && *e < 1e-12, "{iv} {e}");
        }
    }

    #[test]
    fn invalid_levels_and_weights_are_named() {
        let m = RBergomi::new(0.1, 1.0, 0.0, 0.1).unwrap();
        let mut ws = McWorkspace::default();
        let mc = McConfig { paths: 64, steps: 7, seed: 0 };
        let r = m.price_grid_richardson(&mc, 1.0, &[0.1], &[0.0], &mut ws);
        assert_eq!(r, Err(RBergomiError::Levels(2)));
        let mc = McConfig { steps: 8, ..mc };
        let r = m.price_grid_levels(&mc, &[1.0, 1.0], &[0.1], &[0.0], &mut ws);
        assert_eq!(r, Err(RBergomiError::Weights));
        let r = m.price_grid_levels(&mc, &[0.25; 7], &[0.1], &[0.0], &mut ws);
        assert!(r.is_err());
        m.price_grid_levels(&mc, &[2.0, -1.0], &[0.1], &[0.0], &mut ws).unwrap();
        assert_eq!(ws.reestimate(&[0.0], &[1.0]), Err(RBergomiError::Weights));
        assert!(ws.reestimate(&[0.0], &[1.0, -1.0]).is_ok()); // a difference of levels
    }

    #[test]
    fn invalid_inputs_are_named() {
        assert_eq!(RBergomi::new(0.0, 1.0, 0.0, 0.1), Err(RBergomiError::Hurst(0.0)));
        assert_eq!(RBergomi::new(0.1, 1.0, -1.0, 0.1), Err(RBergomiError::Rho(-1.0)));
        assert!(matches!(RBergomi::from_slice(&[0.1]), Err(RBergomiError::Length { .. })));
        let m = RBergomi::new(0.1, 1.0, 0.0, 0.1).unwrap();
        let mut ws = McWorkspace::default();
        let mc = McConfig { paths: 7, ..McConfig::default() };
        assert_eq!(m.price_grid(&mc, &[0.1], &[0.0], &mut ws), Err(RBergomiError::Paths(7)));
        let mc = McConfig::default();
        let e = m.price_grid(&mc, &[0.1, 0.1], &[0.0, 0.0], &mut ws);
        assert_eq!(e, Err(RBergomiError::Maturities));
        assert_eq!(m.price_grid(&mc, &[0.1, 0.2], &[0.0], &mut ws), Err(RBergomiError::Strikes));
        let mc = McConfig { steps: 513, ..mc };
        assert_eq!(m.price_grid(&mc, &[0.1], &[0.0], &mut ws), Err(RBergomiError::Steps(513)));
    }
}
