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
    /// Steps per maturity outside `1..=512`, or more than 2000 steps in all.
    #[error("Monte Carlo steps: need 1..=512 per maturity and at most 2000 in all, got {0} per maturity")]
    Steps(usize),
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
        self.run(mc, maturities, ks, Side::Otm, ws)
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
        self.run(mc, maturities, ks, Side::All(kind), ws)
    }

    fn run(
        &self,
        mc: &McConfig,
        maturities: &[f64],
        ks: &[f64],
        side: Side,
        ws: &mut McWorkspace,
    ) -> Result<usize, RBergomiError> {
        mc.validate(maturities)?;
        let nt = maturities.len();
        if ks.is_empty() || !ks.len().is_multiple_of(nt) || ks.iter().any(|k| !k.is_finite()) {
            return Err(RBergomiError::Strikes);
        }
        ws.simulate(self, maturities, mc.steps, mc.paths, mc.seed);
        Ok(ws.estimate(self.rho, maturities, ks, side))
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
    /// and by up to 7.4 at 8 steps (bench `rbergomi grid`, 32,768 paths). The stored
    /// standard errors do not include this bias.
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
        if self.paths < 8 || !self.paths.is_multiple_of(2) {
            return Err(RBergomiError::Paths(self.paths));
        }
        let ok = !maturities.is_empty()
            && maturities.iter().all(|t| t.is_finite() && *t > 0.0)
            && maturities.windows(2).all(|p| p[0] < p[1]);
        if !ok {
            return Err(RBergomiError::Maturities);
        }
        if !(1..=512).contains(&self.steps) || hybrid::total_steps(maturities, self.steps) > 2000 {
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
