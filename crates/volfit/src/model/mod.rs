//! Parametric smiles and surfaces with named parameters, domains and exact gradients.
//!
//! Glossary: `k` log-forward-moneyness ln(K/F), `w` total implied variance σ²t, `t` years.
//!
//! * [`Params`]: a model with a fixed number of named parameters, each with a
//!   [`Domain`], flattened into the vector an optimizer moves ([`Svi`],
//!   [`Sabr`], [`Heston`], [`Bates`]).
//! * [`Smile`]: one expiry, `w(k)` and `∂w/∂x` over the flat parameter vector `x`, written
//!   into a caller-owned buffer (no allocation); implied vol and Durrleman's `g(k)` are
//!   provided from `w, w', w''`.
//! * [`Surface`]: all expiries, `w(k, t)` and its gradient over the surface's flat vector
//!   ([`Ssvi`], [`Essvi`], [`Heston`], [`Bates`]); its length
//!   can depend on the number of expiries, so the parametrisation is per value.
//! * [`CharacteristicFn`]: models priced from their characteristic function ([`Heston`],
//!   [`Bates`]) share one Lewis pricer, smile ([`CfSmile`]) and surface; their exact
//!   gradients run on [`Dual`] numbers.
//! * [`ModelKind`] names a family; [`Fitted`] is a fitted model of any family (its smiles
//!   per expiry, and the surface for surface families), built from the kind, the parameter
//!   layout and the parameter vector(s).
//! * Static arbitrage ([`check_smiles`], [`check_surface`], [`butterfly_penalty`]):
//!   - butterfly: Durrleman's `g(k) ≥ 0` on a dense `k` grid ([`fill_grid`]; Gatheral–Jacquier
//!     2014, Lemma 2.2) for any [`Smile`] ([`check_butterfly`]);
//!   - calendar: total variance non-decreasing in `t` at fixed `k` (GJ 2014, Lemma 2.1),
//!     checked between consecutive expiries on the grid ([`check_calendar`]);
//!   - penalty: `Σ_j s²·softplus(−g(k_j)/s)²` with its exact parameter gradient, for smiles
//!     that expose `∂(w, w', w'')/∂x` ([`SmileDkGrad`]).
//! * [`maturity_bucket`]: the one labelling of years to expiry into maturity buckets.
//!
//! Adding a model touches its own file, this file (`mod`, `pub use` and a [`ModelKind`]
//! variant), `fitted.rs` (its arm in [`Fitted`]) and the fit's dispatch.

// `!(x > 0.0)` is used on purpose in validations: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub(crate) mod arbitrage;
pub(crate) mod bates;
pub(crate) mod cf;
pub(crate) mod dual;
mod fitted;
pub(crate) mod heston;
mod maturity;
pub(crate) mod rbergomi;
pub(crate) mod sabr;
pub(crate) mod ssvi;
pub(crate) mod svi;

pub use arbitrage::{
    butterfly_penalty, check_butterfly, check_calendar, check_smiles, check_surface,
    check_svi_butterfly, check_svi_calendar, fill_grid, svi_calendar_min, svi_g_min,
    ArbitrageReport, SmileDkGrad, Violation, ViolationKind, TOLERANCE,
};
pub use bates::Bates;
pub use cf::{CfSmile, CharacteristicFn, LewisValue, MAX_LEN};
pub use dual::{ComplexScalar, Dual, Real, Scalar};
pub use fitted::{ExpiryPoint, Fitted, FittedError, FittedSlice, FittedSmile, Sticky};
pub use heston::{Heston, HestonError};
pub use maturity::{maturity_bucket, MATURITY_BUCKETS};
pub use rbergomi::{
    richardson_weights, McConfig, McWorkspace, RBergomi, RBergomiError, RICHARDSON_RATE,
};
pub use sabr::{
    guess_from_smile, Sabr, SabrError, SabrExpansion, SabrFixedBeta, SabrFixedBetaAt, SabrSmile,
};
pub use ssvi::{Essvi, Phi, Ssvi, SsviError, SsviSlice};
pub use svi::{quasi_explicit_fit, AsRawSvi, Svi, SviError, SviJw};
pub use volfit_optim::Domain;

/// A model family. Serialised, parsed and displayed as its CLI name (`svi`, `ssvi`, `essvi`,
/// `sabr`, `heston`, `bates`, `rbergomi`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ModelKind {
    /// Raw SVI per expiry (Gatheral 2004).
    Svi,
    /// SSVI surface (Gatheral–Jacquier 2014), power-law φ.
    #[default]
    Ssvi,
    /// eSSVI surface (Hendriks–Martini 2019), maturity-dependent ρ.
    Essvi,
    /// SABR per expiry (Hagan et al. 2002 with Obłój 2008).
    Sabr,
    /// Heston surface.
    Heston,
    /// Bates surface (Heston with lognormal jumps).
    Bates,
    /// Rough Bergomi surface (Bayer, Friz & Gatheral 2016): no fast pricer, fitted through a
    /// surrogate net only (`--surrogate`), its surface the net's.
    #[serde(rename = "rbergomi")]
    RBergomi,
}

impl ModelKind {
    /// All models, in CLI order.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Svi,
        ModelKind::Ssvi,
        ModelKind::Essvi,
        ModelKind::Sabr,
        ModelKind::Heston,
        ModelKind::Bates,
        ModelKind::RBergomi,
    ];
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Svi => "svi",
            ModelKind::Ssvi => "ssvi",
            ModelKind::Essvi => "essvi",
            ModelKind::Sabr => "sabr",
            ModelKind::Heston => "heston",
            ModelKind::Bates => "bates",
            ModelKind::RBergomi => "rbergomi",
        }
    }
    /// True for models fitted one expiry at a time.
    pub fn per_expiry(self) -> bool {
        match self {
            ModelKind::Svi | ModelKind::Sabr => true,
            ModelKind::Ssvi
            | ModelKind::Essvi
            | ModelKind::Heston
            | ModelKind::Bates
            | ModelKind::RBergomi => false,
        }
    }
    /// True for surfaces priced from a characteristic function (Heston, Bates): their
    /// vector does not depend on the expiries, and their prices are free of static
    /// arbitrage by construction (a check only measures quadrature accuracy).
    pub fn characteristic_fn(self) -> bool {
        match self {
            ModelKind::Heston | ModelKind::Bates => true,
            ModelKind::Svi
            | ModelKind::Sabr
            | ModelKind::Ssvi
            | ModelKind::Essvi
            | ModelKind::RBergomi => false,
        }
    }
    /// True for models with no pricer of their own in volfit (rough Bergomi): they fit and
    /// price only through a surrogate net.
    pub fn net_only(self) -> bool {
        matches!(self, ModelKind::RBergomi)
    }
}

/// A model with a fixed number of named parameters and a flat vector representation.
pub trait Params: Sized {
    /// Parameter names in flat-vector order.
    const NAMES: &'static [&'static str];
    /// Constructor error (names the violated constraint).
    type Error: std::error::Error + Copy;
    /// Domain of each parameter, in flat-vector order (boxes only; joint constraints are
    /// checked by [`Params::from_slice`]).
    fn domain() -> &'static [Domain];
    /// Writes the parameters into `out` (`out.len() == NAMES.len()`).
    fn to_slice(&self, out: &mut [f64]);
    /// Validating constructor from the flat vector.
    ///
    /// # Errors
    /// The model's error when a constraint is violated or the length is wrong.
    fn from_slice(x: &[f64]) -> Result<Self, Self::Error>;
}

/// A single-expiry smile in log-moneyness.
pub trait Smile {
    /// Length of the gradient written by [`Smile::total_variance_grad`].
    fn num_params(&self) -> usize;
    /// Total implied variance `w(k)`.
    fn total_variance(&self, k: f64) -> f64;
    /// Writes `∂w/∂x` over the flat parameter vector into `grad` and returns `w(k)`.
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64;
    /// `[w, ∂w/∂k, ∂²w/∂k²]`. Provided by central differences (step 1e-4); analytic
    /// models override it.
    fn total_variance_dk(&self, k: f64) -> [f64; 3] {
        let h = 1e-4;
        let (wm, w0, wp) =
            (self.total_variance(k - h), self.total_variance(k), self.total_variance(k + h));
        [w0, (wp - wm) / (2.0 * h), (wp - 2.0 * w0 + wm) / (h * h)]
    }
    /// Implied Black vol at expiry `t`: `√(w/t)` (NaN when `w` is NaN; a rounding-level
    /// negative `w` gives 0).
    fn implied_vol(&self, k: f64, t: f64) -> f64 {
        let w = self.total_variance(k);
        if w.is_nan() {
            f64::NAN
        } else {
            (w.max(0.0) / t).sqrt()
        }
    }
    /// Durrleman's `g(k) = (1 − k w'/(2w))² − w'²/4 (1/w + 1/4) + w''/2`; the risk-neutral
    /// density is non-negative iff `g ≥ 0` (Gatheral–Jacquier 2014, Lemma 2.2).
    fn durrleman_g(&self, k: f64) -> f64 {
        durrleman_g(self.total_variance_dk(k), k)
    }
}

/// Durrleman's `g(k)` from `[w, w', w'']`.
pub fn durrleman_g([w, w1, w2]: [f64; 3], k: f64) -> f64 {
    let a = 1.0 - k * w1 / (2.0 * w);
    a * a - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
}

/// A whole surface `w(k, t)` with a flat parameter vector whose layout is fixed per value
/// (e.g. one ATM increment per expiry).
pub trait Surface: Sized {
    /// The single-expiry view.
    type Slice: Smile;
    /// Constructor error.
    type Error: std::error::Error + Copy;
    /// Length of the flat vector.
    fn num_params(&self) -> usize;
    /// Parameter names in flat-vector order (reporting only; allocates).
    fn param_names(&self) -> Vec<String>;
    /// Writes each coordinate's domain into `out`.
    fn domains(&self, out: &mut [Domain]);
    /// Writes the flat vector.
    fn to_slice(&self, out: &mut [f64]);
    /// Same layout (expiries, variants), new flat vector.
    ///
    /// # Errors
    /// The model's error when a constraint is violated or the length is wrong.
    fn with_slice(&self, x: &[f64]) -> Result<Self, Self::Error>;
    /// Total variance `w(k, t)`.
    fn total_variance(&self, k: f64, t: f64) -> f64;
    /// Writes `∂w(k, t)/∂x` into `grad` (len [`Surface::num_params`]) and returns `w`.
    fn total_variance_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64;
    /// The smile at expiry `t` (its gradient is over the slice's own parameters).
    fn slice(&self, t: f64) -> Self::Slice;
    /// Whether calibration should run Levenberg–Marquardt on the true domain box in model
    /// coordinates rather than through the logistic/exponential maps to free coordinates.
    /// Families whose optimum often sits on a domain edge say yes (SSVI's power law hits
    /// its `γ ≤ ½` no-arbitrage edge on most crypto chains): a logistic map flattens the
    /// gradient there, and the solver then creeps toward the edge one small step at a time.
    fn prefers_box_bounds(&self) -> bool {
        false
    }
    /// Total variances at one expiry for many strikes. Models that price all strikes of an
    /// expiry at once (Heston, Bates) override it.
    fn total_variances(&self, t: f64, ks: &[f64], out: &mut [f64]) {
        for (k, w) in ks.iter().zip(out.iter_mut()) {
            *w = self.total_variance(*k, t);
        }
    }
}

/// Shared check: the flat vector has the expected length (`Err((expected, got))`).
pub(crate) fn check_len(x: &[f64], n: usize) -> Result<(), (usize, usize)> {
    if x.len() == n {
        Ok(())
    } else {
        Err((n, x.len()))
    }
}
