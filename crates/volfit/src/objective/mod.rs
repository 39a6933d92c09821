//! How we measure the miss between a model and the market: residual kinds and weights.

pub mod residual;
pub mod weight;

pub use residual::{ParseKindError, ResidualKind, Target};
pub use weight::{WeightFactor, WeightKind};
