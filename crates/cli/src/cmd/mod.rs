//! One module per subcommand, each a clap `Args` struct and a `run` function.

pub mod quotes;
pub mod risk;
pub mod synth;
