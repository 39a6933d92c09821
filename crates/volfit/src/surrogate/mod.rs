//! Training data for neural pricing surrogates (issue 18): model parameters sampled over a
//! box at Sobol points ([`sample`]), priced on a fixed grid of maturities × strikes in
//! `k/√t` ([`grid`]) by the exact pricers (Heston, Bates) or by Monte Carlo (rough
//! Bergomi, with each vol's standard error) and stored as implied vols in resumable chunk
//! files ([`data`]).

pub mod data;
pub mod grid;
pub mod sample;

pub use data::{
    generate, price_surface, read_chunk, surface_seed, DataError, DataSpec, McSpec, Progress, Row,
    Summary, SPEC_FILE,
};
pub use grid::Grid;
pub use sample::{ParamBox, SampleModel, Sampler};

#[cfg(test)]
mod tests;
