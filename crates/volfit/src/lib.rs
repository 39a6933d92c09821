//! # volfit: fit volatility models to crypto option chains
//!
//! ## Brief overview
//! Market data flows one way: readers in [`market`] stream Deribit / Tardis / OptionsDX
//! files into [`market::RawQuote`]s, which are grouped into [`market::Snapshot`]s (one chain
//! of one underlying at one instant), cleaned with counted reasons and given a forward per
//! expiry and implied vols ([`black`]). Models are then fitted by robust loss minimisation
//! with the `volfit-optim` engine.
//!
//! ## Glossary
//! `k` log-forward-moneyness ln(K/F); `w` total implied variance σ²t; `t` years to expiry
//! (ACT/365 to the second); `f` forward; `iv` implied vol as a fraction.

pub mod alloc;
pub mod black;
pub mod fit;
pub mod hedge;
pub mod io;
pub mod market;
pub mod model;
pub mod objective;
pub mod report;
pub mod risk;
pub mod scenario;
pub mod validate;
