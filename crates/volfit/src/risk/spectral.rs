//! Risk spectra φ for spectral risk measures (Acerbi 2002), held in loss ordering; the
//! orientation and the exact discrete evaluation are in the `risk` module docs.

use super::error::RiskError;
use std::fmt;
use std::sync::Arc;

/// A risk spectrum in loss ordering (the `risk` module docs, section Spectra, give the
/// orientation and how a spectral measure is evaluated).
///
/// Two equally likely losses, 0 and 1: the worst atom holds the tail masses `(0, ½]`, so
/// `ρ_φ = 1·Ψ(½)`. For the power spectrum `Ψ(s) = s^γ`, `γ = ½` gives `√½ =
/// 0.70710678118654752…`; for the exponential one `Ψ(½) = (1 − e^{−k/2}) / (1 − e^{−k})`,
/// `k = 1` gives `1 / (1 + e^{−1/2}) = 0.62245933120185456…`.
///
/// ```
/// use volfit::risk::{RiskMeasure, Sample, Spectrum};
///
/// let s = Sample::new(vec![0.0, -1.0]).unwrap();
/// let pow = RiskMeasure::Spectral(Spectrum::power(0.5).unwrap()).eval(&s).unwrap();
/// assert!((pow - 0.707_106_781_186_547_5).abs() < 1e-15);
/// let exp = RiskMeasure::Spectral(Spectrum::exponential(1.0).unwrap()).eval(&s).unwrap();
/// assert!((exp - 0.622_459_331_201_854_6).abs() < 1e-15);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Spectrum {
    /// `φ(u) = k e^{−k(1−u)} / (1 − e^{−k})`, `k > 0`.
    Exponential {
        /// Risk aversion `k`.
        k: f64,
    },
    /// `φ(u) = γ (1 − u)^{γ−1}`, `0 < γ ≤ 1`.
    Power {
        /// Exponent `γ`.
        gamma: f64,
    },
    /// Expected shortfall at level `alpha`: `φ(u) = 1{u > α}/(1 − α)`.
    Es {
        /// Confidence level `α ∈ (0, 1)`.
        alpha: f64,
    },
    /// Piecewise-linear φ through user knots.
    Tabulated(Tabulated),
    /// A user closure φ(u).
    Custom(Custom),
}

impl fmt::Debug for Spectrum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spectrum::Exponential { k } => write!(f, "Exponential {{ k: {k} }}"),
            Spectrum::Power { gamma } => write!(f, "Power {{ gamma: {gamma} }}"),
            Spectrum::Es { alpha } => write!(f, "Es {{ alpha: {alpha} }}"),
            Spectrum::Tabulated(t) => write!(f, "Tabulated({} knots)", t.u.len()),
            Spectrum::Custom(_) => write!(f, "Custom(..)"),
        }
    }
}

/// Tolerance on the unit mass of a user spectrum.
pub const MASS_TOL: f64 = 1e-6;

impl Spectrum {
    /// The exponential spectrum.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] unless `k` is finite and positive.
    pub fn exponential(k: f64) -> Result<Self, RiskError> {
        let s = Spectrum::Exponential { k };
        s.validate()?;
        Ok(s)
    }

    /// The power spectrum.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] unless `0 < γ ≤ 1`.
    pub fn power(gamma: f64) -> Result<Self, RiskError> {
        let s = Spectrum::Power { gamma };
        s.validate()?;
        Ok(s)
    }

    /// A piecewise-linear spectrum through `(u_i, φ_i)`, `u_0 = 0 < … < u_m = 1`.
    ///
    /// # Errors
    /// [`RiskError::Spectrum`] unless the knots span `[0, 1]` increasing, the values are
    /// finite, non-negative and non-decreasing, and the (exact trapezoid) mass is 1 within
    /// [`MASS_TOL`].
    pub fn tabulated(u: Vec<f64>, phi: Vec<f64>) -> Result<Self, RiskError> {
        let bad = |m: String| Err(RiskError::Spectrum(m));
        if u.len() < 2 || u.len() != phi.len() {
            return bad(format!(
                "need ≥ 2 knots with one value each, got {} and {}",
                u.len(),
                phi.len()
            ));
        }
        if u[0] != 0.0 || u[u.len() - 1] != 1.0 {
            return bad("knots must start at 0 and end at 1".into());
        }
        if u.iter().any(|v| v.is_nan()) || u.windows(2).any(|w| w[1] <= w[0]) {
            return bad("knots must be strictly increasing".into());
        }
        if phi.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return bad("values must be finite and non-negative".into());
        }
        if phi.windows(2).any(|w| w[1] < w[0]) {
            return bad("values must be non-decreasing in the loss level u".into());
        }
        // upper[i] = ∫_{u_i}^1 φ.
        let mut upper = vec![0.0; u.len()];
        for i in (0..u.len() - 1).rev() {
            upper[i] = upper[i + 1] + 0.5 * (phi[i] + phi[i + 1]) * (u[i + 1] - u[i]);
        }
        if (upper[0] - 1.0).abs() > MASS_TOL {
            return bad(format!("mass is {} (must be 1)", upper[0]));
        }
        Ok(Spectrum::Tabulated(Tabulated { u, phi, upper }))
    }

    /// A spectrum from a closure φ(u) in loss ordering.
    ///
    /// Validated on a grid of 4096 cells: finite and non-negative at the Gauss nodes,
    /// non-decreasing (within 1e-12 relative) and of unit mass within [`MASS_TOL`].
    ///
    /// # Errors
    /// [`RiskError::Spectrum`] naming the first violation.
    pub fn custom<F>(phi: F) -> Result<Self, RiskError>
    where
        F: Fn(f64) -> f64 + Send + Sync + 'static,
    {
        let c = Custom { phi: Arc::new(phi) };
        const CELLS: usize = 4096;
        let mut mass = 0.0;
        let mut prev = 0.0f64;
        for i in 0..CELLS {
            let (a, b) = (i as f64 / CELLS as f64, (i + 1) as f64 / CELLS as f64);
            for &(x, _) in &GAUSS5 {
                let u = 0.5 * (a + b) + 0.5 * (b - a) * x;
                let v = (c.phi)(u);
                if !(v.is_finite() && v >= 0.0) {
                    return Err(RiskError::Spectrum(format!(
                        "φ({u}) = {v} is not finite and non-negative"
                    )));
                }
                if v < prev - 1e-12 * prev.abs().max(1.0) {
                    return Err(RiskError::Spectrum(format!(
                        "φ decreases near u = {u} ({prev} → {v}); it must be non-decreasing in the loss level"
                    )));
                }
                prev = v;
            }
            mass += c.integrate(a, b);
        }
        if (mass - 1.0).abs() > MASS_TOL {
            return Err(RiskError::Spectrum(format!("mass is {mass} (must be 1)")));
        }
        Ok(Spectrum::Custom(c))
    }

    /// Checks the parameters of a built-in spectrum.
    ///
    /// # Errors
    /// [`RiskError::Parameter`] naming the violated domain.
    pub fn validate(&self) -> Result<(), RiskError> {
        match *self {
            Spectrum::Exponential { k } if !(k.is_finite() && k > 0.0) => {
                Err(RiskError::Parameter {
                    measure: "spectral-exp",
                    value: k,
                    domain: "finite and > 0",
                })
            }
            Spectrum::Power { gamma } if !(gamma > 0.0 && gamma <= 1.0) => {
                Err(RiskError::Parameter {
                    measure: "spectral-pow",
                    value: gamma,
                    domain: "in (0, 1]",
                })
            }
            Spectrum::Es { alpha } if !(alpha > 0.0 && alpha < 1.0) => {
                Err(RiskError::Parameter { measure: "es", value: alpha, domain: "in (0, 1)" })
            }
            _ => Ok(()),
        }
    }

    /// The density φ(u) in loss ordering (for plots and checks).
    pub fn density(&self, u: f64) -> f64 {
        match self {
            Spectrum::Exponential { k } => k * (-k * (1.0 - u)).exp() / -(-k).exp_m1(),
            Spectrum::Power { gamma } => gamma * (1.0 - u).powf(gamma - 1.0),
            Spectrum::Es { alpha } => {
                if u > *alpha {
                    1.0 / (1.0 - alpha)
                } else {
                    0.0
                }
            }
            Spectrum::Tabulated(t) => t.density(u),
            Spectrum::Custom(c) => (c.phi)(u),
        }
    }

    /// The distortion `Ψ(s) = ∫_{1−s}^1 φ(u) du` of tail mass `s ∈ [0, 1]`.
    pub fn distortion(&self, s: f64) -> f64 {
        match self {
            Spectrum::Exponential { k } => (-k * s).exp_m1() / (-k).exp_m1(),
            Spectrum::Power { gamma } => s.powf(*gamma),
            Spectrum::Es { alpha } => (s / (1.0 - alpha)).min(1.0),
            Spectrum::Tabulated(t) => t.upper_mass(1.0 - s),
            Spectrum::Custom(c) => c.integrate(1.0 - s, 1.0),
        }
    }

    /// `∫ φ` over the loss levels of tail masses `[s_lo, s_hi]`: the weight of an atom.
    #[inline]
    pub fn interval_weight(&self, s_hi: f64, s_lo: f64) -> f64 {
        match self {
            Spectrum::Es { alpha } => {
                let c = 1.0 - alpha;
                (s_hi.min(c) - s_lo.min(c)).max(0.0) / c
            }
            Spectrum::Custom(c) => c.integrate(1.0 - s_hi, 1.0 - s_lo),
            _ => self.distortion(s_hi) - self.distortion(s_lo),
        }
    }
}

/// Piecewise-linear spectrum (build with [`Spectrum::tabulated`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Tabulated {
    u: Vec<f64>,
    phi: Vec<f64>,
    upper: Vec<f64>,
}

impl Tabulated {
    fn segment(&self, u: f64) -> usize {
        // Largest i with u_i ≤ u, capped at the last segment.
        self.u.partition_point(|&x| x <= u).saturating_sub(1).min(self.u.len() - 2)
    }
    fn density(&self, u: f64) -> f64 {
        let i = self.segment(u.clamp(0.0, 1.0));
        let (a, b) = (self.u[i], self.u[i + 1]);
        let t = ((u - a) / (b - a)).clamp(0.0, 1.0);
        self.phi[i] + t * (self.phi[i + 1] - self.phi[i])
    }
    /// `∫_u^1 φ`, exact for the piecewise-linear φ.
    fn upper_mass(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let i = self.segment(u);
        let b = self.u[i + 1];
        self.upper[i + 1] + 0.5 * (self.density(u) + self.phi[i + 1]) * (b - u)
    }
}

/// A closure spectrum (build with [`Spectrum::custom`]).
#[derive(Clone)]
pub struct Custom {
    phi: Arc<dyn Fn(f64) -> f64 + Send + Sync>,
}

/// 5-point Gauss–Legendre nodes (ascending) and weights on [−1, 1].
const GAUSS5: [(f64, f64); 5] = [
    (-0.906_179_845_938_664, 0.236_926_885_056_189_08),
    (-0.538_469_310_105_683_1, 0.478_628_670_499_366_47),
    (0.0, 0.568_888_888_888_888_9),
    (0.538_469_310_105_683_1, 0.478_628_670_499_366_47),
    (0.906_179_845_938_664, 0.236_926_885_056_189_08),
];

impl Custom {
    /// `∫_a^b φ` by 5-point Gauss–Legendre on subintervals no wider than 1/64.
    fn integrate(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        let m = ((b - a) * 64.0).ceil().max(1.0) as usize;
        let h = (b - a) / m as f64;
        let mut sum = 0.0;
        for i in 0..m {
            let c = a + (i as f64 + 0.5) * h;
            for &(x, w) in &GAUSS5 {
                sum += w * (self.phi)(c + 0.5 * h * x);
            }
        }
        0.5 * h * sum
    }
}
