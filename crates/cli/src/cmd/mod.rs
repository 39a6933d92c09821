//! Subcommands, one module each.

pub mod iv;
