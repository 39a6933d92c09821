//! Why a calibration could not start ([`FitError`]) and why an expiry or a surface was left
//! out of a snapshot's fit ([`SkipReason`], written to `fit.json` as its `Display` text).

use super::spec::FitSpec;
use crate::market::{iso8601, Expiry};
use crate::model::heston::HestonError;
use crate::model::ssvi::SsviError;
use volfit_optim::penalty::PenaltyError;
use volfit_optim::problem::BoundsError;
use volfit_optim::robust::RobustError;
use volfit_optim::solver::lowdisc::LowDiscError;
use volfit_optim::transform::TransformError;

/// Why a calibration could not even start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// Fewer usable quotes than parameters.
    #[error("{quotes} usable quotes for {params} parameters")]
    TooFewQuotes {
        /// Usable quotes.
        quotes: usize,
        /// Parameters.
        params: usize,
    },
    /// The start vector lies outside the model's domain.
    #[error("start point outside the model's domain: {0:?}")]
    BadStart(Vec<f64>),
    /// The model cannot be evaluated at the start.
    #[error("model cannot be evaluated at the start point")]
    Infeasible,
    /// Weights or a penalty the robust cost rejects — a programming error upstream.
    #[error("invalid fit setup: {0}")]
    Robust(#[from] RobustError),
    /// A ridge the optimizer rejects (e.g. a non-finite prior).
    #[error("invalid fit setup: {0}")]
    Penalty(#[from] PenaltyError),
    /// Parameter domains the coordinate transform rejects.
    #[error("invalid fit setup: {0}")]
    Transform(#[from] TransformError),
    /// An empty or inverted search box.
    #[error("invalid fit setup: {0}")]
    Bounds(#[from] BoundsError),
    /// No Sobol sequence of the parameter dimension (multi-start).
    #[error("invalid fit setup: {0}")]
    Sequence(#[from] LowDiscError),
}

/// Why a surface fit produced nothing.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SurfaceError {
    /// The SSVI/eSSVI start (or the fitted vector) is not a valid surface.
    #[error(transparent)]
    Ssvi(#[from] SsviError),
    /// The Heston/Bates start (or the fitted vector) is not a valid model.
    #[error(transparent)]
    Heston(#[from] HestonError),
    /// No start could be calibrated (the last start's error).
    #[error(transparent)]
    Fit(#[from] FitError),
    /// A per-expiry model was asked to fit a surface.
    #[error("not a surface model")]
    NotSurface,
    /// The surrogate net cannot be used (names the file and field).
    #[error("surrogate: {0}")]
    Surrogate(String),
}

/// Why an expiry (or a whole surface) is missing from a snapshot's fit. Its `Display` text
/// is what `fit.json` lists under `skipped`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// Fewer quotes passed the quote filters (moneyness, OTM, open interest, spread) than
    /// the filter's `min_quotes` (for surfaces: or no ATM vol).
    #[error(
        "{expiry}: {quotes} usable quotes after the quote filters (min_quotes = {min_quotes})"
    )]
    TooFewQuotes {
        /// Expiry, ISO-8601 UTC.
        expiry: String,
        /// Quotes that passed the filter.
        quotes: usize,
        /// The filter's minimum.
        min_quotes: usize,
    },
    /// The expiry is closer than the filter's `min_t`.
    #[error(
        "{expiry}: {:.3} days to expiry, under the min_t filter ({:.3} days)",
        .t * 365.0,
        .min_t * 365.0
    )]
    ShortExpiry {
        /// Expiry, ISO-8601 UTC.
        expiry: String,
        /// Years to expiry.
        t: f64,
        /// The filter's `min_t` (years).
        min_t: f64,
    },
    /// Too few of the expiry's usable quotes lie inside the surrogate net's grid (a model
    /// fitted through its net only: rough Bergomi).
    #[error(
        "{expiry}: {inside} of {quotes} usable quotes inside the surrogate net's grid \
         (min_quotes = {min_quotes})"
    )]
    OffGrid {
        /// Expiry, ISO-8601 UTC.
        expiry: String,
        /// Quotes that passed the filter.
        quotes: usize,
        /// Of those, inside the grid.
        inside: usize,
        /// The filter's minimum.
        min_quotes: usize,
    },
    /// The expiry's calibration could not start.
    #[error("{expiry}: {error}")]
    Fit {
        /// Expiry, ISO-8601 UTC.
        expiry: String,
        /// Why.
        error: FitError,
    },
    /// A surface model was asked to fit one expiry.
    #[error("not a per-expiry model")]
    NotPerExpiry,
    /// The surface fit failed.
    #[error("surface: {0}")]
    Surface(#[from] SurfaceError),
}

impl SkipReason {
    /// Expiry `e` had `quotes` usable quotes under `spec`, only `inside` of them on the
    /// surrogate net's grid.
    pub(super) fn off_grid(e: &Expiry, spec: &FitSpec, quotes: usize, inside: usize) -> Self {
        let expiry = iso8601(e.expiry_ms);
        SkipReason::OffGrid { expiry, quotes, inside, min_quotes: spec.filter.min_quotes }
    }
    /// Why expiry `e` had only `quotes` usable quotes under `spec`: the `min_t` filter when
    /// it is that close to expiry, else too few quotes passed the quote filters.
    pub(super) fn unusable(e: &Expiry, spec: &FitSpec, quotes: usize) -> Self {
        let expiry = iso8601(e.expiry_ms);
        if e.t < spec.filter.min_t {
            SkipReason::ShortExpiry { expiry, t: e.t, min_t: spec.filter.min_t }
        } else {
            SkipReason::TooFewQuotes { expiry, quotes, min_quotes: spec.filter.min_quotes }
        }
    }
}
