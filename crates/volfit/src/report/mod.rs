//! Outputs: files written atomically.

pub mod alloc;
pub mod atomic;
pub mod charts;
pub mod hedge;
pub mod html;
