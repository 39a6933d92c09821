//! Outputs: atomic files (and, later, JSON/CSV/Parquet tables and HTML reports).

pub mod atomic;
