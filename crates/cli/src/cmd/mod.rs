//! One module per subcommand.

pub mod quotes;
