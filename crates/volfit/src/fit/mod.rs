//! Calibration: a [`FitSpec`] plus quotes plus a model family → a fit.
//!
//! [`calibrate()`] fits one model family to one set of quotes; [`fit_svi_slice`] and
//! [`fit_sabr_slice`] fit one expiry (with SVI's arbitrage repair); [`fit_snapshot`] fits a
//! whole snapshot (per expiry or as a surface) and [`fit_series`] / [`SeriesFit`] fit
//! snapshots in time order, each warm-started from the previous fit.
//!
//! ## The cost
//! The cost is the optimizer crate's robust sum `½ Σ wᵢ ρ(rᵢ²) + penalties` (ridge, and a
//! static-arbitrage penalty when asked for) over [`QuoteResiduals`]: a [`VolModel`] maps a
//! flat parameter vector to model implied vols at the quotes (with exact gradients), and the
//! residuals are those of the spec's [`ResidualKind`](crate::objective::ResidualKind).
//! Solvers work in free coordinates (each parameter's [`Domain`](crate::model::Domain)
//! mapped to ℝ), except L-BFGS-B (and Levenberg–Marquardt for families that ask for it,
//! [`VolModel::prefers_box_bounds`]), which work on the model's own coordinates with true
//! box bounds. Global solvers (DE, CMA-ES) search a box around the start in free
//! coordinates and are polished by Levenberg–Marquardt. Extra starts (`spec.starts > 1`)
//! come from a Sobol sequence around the start; the best fit wins.
//!
//! ## Calendar repair of per-expiry SVI
//! With [`FitSpec::calendar`], slices are taken in expiry order and a slice that crosses
//! below the previous accepted one on the grid `k ∈ [−2, 2]` is refitted with the penalty
//! [`SviAboveFloor`], `p(x) = Σⱼ max(0, (fⱼ − w(kⱼ; x)) / fⱼ)²` with
//! `fⱼ = w_prev(kⱼ)·(1 + 10⁻⁸)` (plus the butterfly penalty [`SviButterfly`]), its weight
//! raised ×10 per round until the slice is clean.
//!
//! ## Outputs
//! [`SnapshotFit`], [`ExpiryFit`] and [`ResidualRow`] are what `fit.json` and
//! `residuals.csv` hold. Field names are a contract: scripts outside the repository read
//! them. A [`FitSpec`] is read from TOML (`--config fit.toml`), overridden by CLI flags, and
//! echoed into every output so a fit can be reproduced.

mod arbitrage;
mod calendar;
mod calibrate;
mod error;
mod fitted;
mod net_surface;
mod penalty;
mod per_expiry;
mod problem;
mod report;
mod result;
mod sabr;
mod secant;
mod series;
mod snapshot;
mod spec;
mod surface;
mod surrogate;
mod svi;
mod targets;

pub use calibrate::{calibrate, calibrate_with, Calibration};
pub use error::{FitError, SkipReason, SurfaceError};
pub use net_surface::{NetSlice, NetSurface, NetSurfaceError};
pub use penalty::{SviAboveFloor, SviButterfly};
pub use problem::{
    ButterflyPenalty, CfSurfaceModel, Delegate, QuoteResiduals, SabrModel, SmileModel,
    SurfaceModel, VolModel,
};
pub use report::{
    quality, ArbitrageVerdict, ErrorAcc, ExpiryFit, FitOutput, Quality, ResidualRow, SnapshotFit,
    ViolationWhere,
};
pub use result::{SnapshotResult, WarmStart};
pub use sabr::fit_sabr_slice;
pub use secant::{polish_secant, Counting, SecantCounts, SecantModel};
pub use series::{fit_series, partition, Carry, SeriesFit, WarmStartMode, VENUE};
pub use snapshot::fit_snapshot;
pub use spec::{
    FitSpec, ModelKind, QuoteFilter, Ridge, RidgeTarget, Rule, SolverKind, SpecError, MAX_ITERS,
    MAX_STARTS, RULES,
};
pub use surrogate::{
    on_grid, ExactEvaluations, PolishMethod, SurrogateModel, SurrogateSpec, SurrogateStage,
};
pub use svi::{fit_svi_slice, svi_degeneracy};
pub use targets::select_targets;
