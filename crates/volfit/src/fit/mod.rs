//! Calibration: a [`FitSpec`] plus quotes plus a model family → a fit.

mod calendar;
pub mod calibrate;
mod fitted;
pub mod problem;
pub mod report;
pub mod snapshot;
pub mod spec;

pub use calibrate::{calibrate, Calibration, FitError};
pub use problem::{QuoteResiduals, SabrModel, SmileModel, SurfaceModel, VolModel};
pub use report::{quality, ErrorAcc, ExpiryFit, FitOutput, Quality, ResidualRow, SnapshotFit};
pub use snapshot::{
    fit_sabr_slice, fit_snapshot, fit_svi_slice, select_targets, svi_degeneracy, SnapshotResult,
    WarmStart,
};
pub use spec::{FitSpec, ModelKind, QuoteFilter, Ridge, RidgeTarget, SolverKind};
