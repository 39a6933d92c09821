//! Calibration: a [`FitSpec`] plus quotes plus a model family → a fit.
//!
//! [`calibrate()`] fits one model family to one set of quotes; [`fit_svi_slice`] and
//! [`fit_sabr_slice`] fit one expiry (with SVI's arbitrage repair); [`fit_snapshot`] fits a
//! whole snapshot (per expiry or as a surface) and [`fit_series`] / [`SeriesFit`] fit
//! snapshots in time order, each warm-started from the previous fit.

mod arbitrage;
mod calendar;
pub mod calibrate;
mod error;
mod fitted;
mod penalty;
mod per_expiry;
pub mod problem;
pub mod report;
mod result;
mod sabr;
mod series;
pub mod snapshot;
pub mod spec;
mod surface;
mod svi;
mod targets;

pub use calibrate::{calibrate, calibrate_with, Calibration};
pub use error::{FitError, SkipReason, SurfaceError};
pub use penalty::{SviAboveFloor, SviButterfly};
pub use problem::{QuoteResiduals, SabrModel, SmileModel, SurfaceModel, VolModel};
pub use report::{quality, ErrorAcc, ExpiryFit, FitOutput, Quality, ResidualRow, SnapshotFit};
pub use result::{SnapshotResult, WarmStart};
pub use sabr::fit_sabr_slice;
pub use series::{fit_series, Carry, SeriesFit};
pub use snapshot::fit_snapshot;
pub use spec::{FitSpec, ModelKind, QuoteFilter, Ridge, RidgeTarget, SolverKind};
pub use svi::{fit_svi_slice, svi_degeneracy};
pub use targets::select_targets;
