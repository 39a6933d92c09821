//! The one error of building samples, spectra and measures.

/// Why a sample, a spectrum or a measure could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RiskError {
    /// The sample has no observation.
    #[error("the P&L sample is empty")]
    Empty,
    /// A P&L value is NaN or infinite.
    #[error("P&L value {index} is not finite: {value}")]
    NonFinitePnl {
        /// Position in the sample.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A weight is negative, NaN or infinite.
    #[error("weight {index} must be finite and non-negative, got {value}")]
    BadWeight {
        /// Position in the sample.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Weights and values differ in length.
    #[error("{values} P&L values but {weights} weights")]
    Length {
        /// Number of values.
        values: usize,
        /// Number of weights.
        weights: usize,
    },
    /// The weights sum to zero (or overflow).
    #[error("weights must have a positive finite sum, got {0}")]
    WeightSum(f64),
    /// A measure parameter is outside its domain.
    #[error("{measure}: parameter {value} must be {domain}")]
    Parameter {
        /// Measure name (`var`, `es`, `spectral-exp`, ...).
        measure: &'static str,
        /// The value given.
        value: f64,
        /// The domain, e.g. `in (0, 1)`.
        domain: &'static str,
    },
    /// A user spectrum violates a requirement (non-negative, non-decreasing, unit mass).
    #[error("spectrum: {0}")]
    Spectrum(String),
    /// A measure spec could not be parsed.
    #[error("measure spec `{spec}`: {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A scenario matrix or portfolio has the wrong shape.
    #[error("shape: {0}")]
    Shape(String),
}
