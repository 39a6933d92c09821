//! # volfit-nn: small dense networks trained by volfit-optim, no finance inside
//!
//! ## Brief overview
//! An [`Architecture`] (inputs, hidden widths, outputs, [`Activation`]s) is laid out by
//! [`Mlp`] over **one flat parameter vector**, so every volfit-optim solver can train it.
//! [`Mlp`] runs batched forward and exact backward passes (register-tiled [`kernel`]s into a
//! reusable [`Workspace`]) and the Jacobian of the outputs with respect to the inputs. A
//! [`Regression`] (network + [`Dataset`] + volfit-optim `Loss`) is a `StochasticObjective`
//! for mini-batch training and `Residuals` for Levenberg–Marquardt. A trained [`Network`]
//! carries its [`Normalization`] and saves to `safetensors` with a JSON [`Metadata`] header.
//!
//! ```text
//! Dataset ──Normalization::fit──▶ normalised Dataset ──Regression(Mlp, Loss)──▶ solver
//!                                                             │
//! Network { params, norm } ◀──────────────────────────────────┘ ──▶ safetensors
//! ```

pub mod activation;
pub mod data;
pub mod init;
pub mod kernel;
pub mod mlp;
pub mod network;
pub mod norm;
pub mod regression;
pub mod store;

pub use activation::Activation;
pub use data::Dataset;
pub use init::Init;
pub use mlp::{Architecture, Layer, Mlp, Workspace};
pub use network::Network;
pub use norm::{Affine, Normalization};
pub use regression::Regression;
pub use store::{Metadata, Precision};

/// What can go wrong building or loading a network.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// The architecture, parameter vector or normalisation is inconsistent.
    #[error("architecture: {0}")]
    Architecture(String),
    /// The dataset is malformed or does not fit the network.
    #[error("data: {0}")]
    Data(String),
    /// A weight file is malformed.
    #[error("weights file: {0}")]
    Format(String),
}
