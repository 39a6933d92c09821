//! How we measure the miss between a model and the market: residual kinds and weights.
//!
//! [`ResidualKind`] turns a model vol into a residual and its derivative, given the quote's
//! market data as a [`Target`]. Every kind is written as a function of the model's implied
//! vol σ, so any model that yields σ and ∂σ/∂θ (directly or from total variance,
//! `∂σ = ∂w / (2σt)`) gets exact residual gradients by the chain rule:
//! `∂r/∂θ = (dr/dσ)·∂σ/∂θ`.
//!
//! A [`WeightKind`] is a product of [`WeightFactor`]s (`vega*spread` on the command line).
//! Raw weights are normalised to mean 1 over the quotes of a fit and capped at `cap` times
//! their median, so one huge open interest cannot own the fit; weights multiply the loss ρ
//! (Ceres' `ScaledLoss`), they never rescale the residual.

mod residual;
mod weight;

pub use residual::{ParseKindError, ResidualKind, Target};
pub use weight::{WeightFactor, WeightKind};
