//! Which model a data set samples, its parameter box, and the Sobol points in it.

use crate::model::{Bates, Heston, Params, RBergomi};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use volfit_optim::Sobol;

/// A model that surrogate data can be generated for: exact pricers (Heston, Bates) or
/// Monte Carlo (rough Bergomi, whose standard errors are stored beside the vols).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleModel {
    /// Heston `[v0, κ, θ, σ, ρ]`.
    Heston,
    /// Bates `[v0, κ, θ, σ, ρ, λ, μ_J, σ_J]`.
    Bates,
    /// Rough Bergomi `[H, η, ρ, ξ₀]` by Monte Carlo ([`RBergomi`]).
    RBergomi,
}

impl SampleModel {
    /// Every model, in the order of the CLI's accepted values.
    pub const ALL: [SampleModel; 3] =
        [SampleModel::Heston, SampleModel::Bates, SampleModel::RBergomi];

    /// The lowercase name (`heston`, `bates`, `rbergomi`).
    pub fn name(self) -> &'static str {
        match self {
            SampleModel::Heston => "heston",
            SampleModel::Bates => "bates",
            SampleModel::RBergomi => "rbergomi",
        }
    }

    /// True for models priced by Monte Carlo (their data carry standard errors).
    pub fn monte_carlo(self) -> bool {
        self == SampleModel::RBergomi
    }

    /// Parameter names in flat-vector order (the model's own).
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            SampleModel::Heston => Heston::NAMES,
            SampleModel::Bates => Bates::NAMES,
            SampleModel::RBergomi => RBergomi::NAMES,
        }
    }

    /// The default parameter box: crypto-like variance levels (v0, θ from 0.05 to 1, i.e.
    /// vols of 22–100 %), fast to slow mean reversion, vol-of-vol up to 3, skew from −0.9
    /// to 0.5; Bates adds up to 5 jumps a year of mean log size −30 % to +10 % and
    /// log-size vol 1–40 %.
    ///
    /// Rough Bergomi: `H ∈ [0.025, 0.5]` (very rough to classical Bergomi), `η ∈ [0.5, 4]`,
    /// `ρ ∈ [−0.95, 0]`, `ξ₀ ∈ [0.04, 2.25]` (flat forward vol 20–150 %, the range of
    /// crypto ATM vols from quiet months to 1-day expiries in a crash): the box of Horvath,
    /// Muguruza & Tomas (2021) with ξ₀ moved from [0.01, 0.16] to crypto levels and ρ's
    /// upper end from −0.1 to 0.
    pub fn default_box(self) -> ParamBox {
        if self == SampleModel::RBergomi {
            return ParamBox {
                lower: vec![0.025, 0.5, -0.95, 0.04],
                upper: vec![0.5, 4.0, 0.0, 2.25],
            };
        }
        let mut lower = vec![0.05, 0.5, 0.05, 0.2, -0.9];
        let mut upper = vec![1.0, 10.0, 1.0, 3.0, 0.5];
        if self == SampleModel::Bates {
            lower.extend([0.0, -0.3, 0.01]);
            upper.extend([5.0, 0.1, 0.4]);
        }
        ParamBox { lower, upper }
    }
}

impl std::str::FromStr for SampleModel {
    type Err = String;
    fn from_str(s: &str) -> Result<SampleModel, String> {
        SampleModel::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            format!("unknown surrogate model {s:?} (expected heston, bates or rbergomi)")
        })
    }
}

/// A box `lower ≤ x ≤ upper` in a model's flat parameter vector.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamBox {
    /// Lower corner.
    pub lower: Vec<f64>,
    /// Upper corner.
    pub upper: Vec<f64>,
}

impl ParamBox {
    /// Dimension.
    pub fn dim(&self) -> usize {
        self.lower.len()
    }

    /// Checks equal lengths `dim`, finite corners and `lower < upper`.
    ///
    /// # Errors
    /// A message naming the offending coordinate.
    pub fn validate(&self, dim: usize) -> Result<(), String> {
        if self.lower.len() != dim || self.upper.len() != dim {
            return Err(format!("parameter box must have {dim} coordinates"));
        }
        for (i, (l, u)) in self.lower.iter().zip(&self.upper).enumerate() {
            if !(l.is_finite() && u.is_finite() && l < u) {
                return Err(format!("parameter box coordinate {i}: need finite lower < upper"));
            }
        }
        Ok(())
    }
}

/// Sobol points mapped into a [`ParamBox`], randomised by a seeded digital shift (each
/// coordinate's 32-bit Sobol integer XOR a per-dimension word drawn from ChaCha8 seeded
/// with `seed`: the shifted points remain a digital net). Sample `i` is Sobol point
/// `i + 1` (the origin is skipped), so any range of samples can be regenerated alone.
#[derive(Clone, Debug)]
pub struct Sampler {
    sobol: Sobol,
    shift: Vec<u32>,
    bounds: ParamBox,
    unit: Vec<f64>,
}

impl Sampler {
    /// The sampler positioned at sample `start`.
    ///
    /// # Errors
    /// A message when the box is invalid or its dimension is beyond Sobol's.
    pub fn new(bounds: &ParamBox, seed: u64, start: u64) -> Result<Sampler, String> {
        bounds.validate(bounds.dim())?;
        let dim = bounds.dim();
        let mut sobol = Sobol::new(dim).map_err(|e| format!("sobol: {e}"))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shift = (0..dim).map(|_| rng.next_u32()).collect();
        let mut unit = vec![0.0; dim];
        for _ in 0..=start {
            sobol.next_into(&mut unit); // the origin, then the `start` samples before
        }
        Ok(Sampler { sobol, shift, bounds: bounds.clone(), unit })
    }

    /// Writes the next parameter vector into `out` (len the box's dimension).
    pub fn next_into(&mut self, out: &mut [f64]) {
        const SCALE: f64 = 4_294_967_296.0; // 2³²
        self.sobol.next_into(&mut self.unit);
        for (j, x) in out.iter_mut().enumerate() {
            // Sobol coordinates are multiples of 2⁻³² below 1: exact as u32 after scaling.
            let bits = (self.unit[j] * SCALE) as u32 ^ self.shift[j];
            let u = f64::from(bits) / SCALE;
            *x = self.bounds.lower[j] + u * (self.bounds.upper[j] - self.bounds.lower[j]);
        }
    }
}
