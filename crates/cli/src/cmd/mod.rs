//! One module per subcommand, each a clap `Args` struct and a `run` function.

pub mod allocate;
pub mod demo;
pub mod fit;
pub mod hedge;
pub mod input;
pub mod iv;
pub mod quotes;
pub mod report;
pub mod risk;
pub mod synth;
pub mod validate;
