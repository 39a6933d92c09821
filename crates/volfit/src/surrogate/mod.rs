//! Training data for neural pricing surrogates (issue 18): model parameters sampled over a
//! box at Sobol points ([`sample`]), priced on a fixed grid of maturities × strikes in
//! `k/√t` ([`grid`]) by the exact pricers (Heston, Bates) or by Monte Carlo (rough
//! Bergomi, with each vol's standard error) and stored as implied vols in resumable chunk
//! files ([`data`]); a network trained on them ([`train`](mod@train)) is a [`Surrogate`] ([`net`]),
//! saved as safetensors with what it maps in its header.

pub mod data;
pub mod grid;
pub mod net;
pub mod sample;
pub mod train;

pub use data::{
    generate, price_surface, read_chunk, surface_seed, DataError, DataSpec, McSpec, Progress, Row,
    Summary, SPEC_FILE,
};
pub use grid::Grid;
pub use net::{Surrogate, SurrogateError, SurrogateInfo};
pub use sample::{ParamBox, SampleModel, Sampler};
pub use train::{
    grid_errors, load_data, parse_hidden, train, GridErrors, TrainError, TrainOutcome, TrainSolver,
    TrainSpec, TrainingData,
};
pub use volfit_nn::Activation;

#[cfg(test)]
mod tests;
