//! # volfit: fit volatility models to crypto option chains
//!
//! ## Brief overview
//! Data flows one way:
//!
//! 1. **Data in** ([`market`]): streaming readers turn Deribit, Tardis, OptionsDX or any
//!    mapped CSV into [`market::RawQuote`]s grouped into raw snapshots (one chain of one
//!    underlying at one instant; as-of chains for update streams).
//! 2. **Quotes and implied vols** ([`market::build()`] with [`black`]): each raw snapshot
//!    is cleaned under counted rules into a [`market::Snapshot`] — a forward per expiry,
//!    USD prices and bid/ask/mid implied vols from Black-76 inverted to machine precision
//!    ([`black::implied_vol`]).
//! 3. **Model** ([`model`]): parametric smiles (SVI, SABR) and surfaces (SSVI, eSSVI,
//!    Heston, Bates) with exact gradients and no-arbitrage diagnostics.
//! 4. **Residuals and loss** ([`objective`]): the residual kind (vol, total variance,
//!    vega-scaled price, spread units, outside the spread) and the weights per quote; the
//!    robust loss and the penalties are `volfit-optim`'s.
//! 5. **Optimizer → fit** ([`fit`]): a fit spec, a chain and a model family are calibrated
//!    by a `volfit-optim` solver into parameters, residuals and fit quality.
//! 6. **Validate** ([`validate`]): walk-forward, cross-validation, ridge paths, parameter
//!    stability — does a fit generalise?
//! 7. **Hedge** ([`hedge`]): delta-hedging backtests of the fitted smiles.
//! 8. **Risk** ([`risk`]): risk measures (VaR, ES, spectral, EVaR, …) and rewards of P&L
//!    samples.
//! 9. **Scenarios and allocation** ([`scenario`], [`alloc`]): joint underlying and surface
//!    scenarios repriced through the fitted surfaces, and portfolios chosen over them.
//! 10. **Report** ([`report`]): JSON, CSV and HTML outputs, written atomically.
//!
//! Every stage's error converts into one [`Error`] with `?`.
//!
//! ## Glossary
//! `k` log-forward-moneyness ln(K/F); `w` total implied variance σ²t; `t` years to expiry
//! (ACT/365 to the second); `f` forward; `iv` implied vol as a fraction; `s = σ√t` total
//! vol; vol point 0.01 of implied vol; P&L in USD, gains positive (a loss is negative P&L).

// The modules in the order of the flow (`io`, the atomic file writer of every output,
// goes first; `black` sits below `market`, which prices and inverts with it).
// Atomic file writes.
pub mod io;
// Black-76 prices ⇄ implied vols.
pub mod black;
// Data in: read, clean, build chains.
pub mod market;
// Smiles and surfaces.
pub mod model;
// Residuals and weights.
pub mod objective;
// Calibration.
pub mod fit;
// Out-of-sample checks.
pub mod validate;
// Delta-hedging backtests.
pub mod hedge;
// Risk measures and rewards.
pub mod risk;
// Scenario matrices.
pub mod scenario;
// Deep hedging: network hedging policies trained on simulated paths.
pub mod deephedge;
// Portfolio allocation.
pub mod alloc;
// Outputs.
pub mod report;
// Training data for neural pricing surrogates.
pub mod surrogate;

/// Any error of the crate, for callers that want one type: every error below converts into
/// it with `?`.
///
/// ```
/// use volfit::black::{implied_vol, IvError, OptionType};
///
/// fn atm_vol(price: f64) -> Result<f64, volfit::Error> {
///     Ok(implied_vol(OptionType::Call, price, 100.0, 100.0, 1.0)?)
/// }
/// // A call is worth less than the forward.
/// assert!(matches!(atm_vol(150.0), Err(volfit::Error::Iv(IvError::AboveUpperBound))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading market data.
    #[error(transparent)]
    Market(#[from] market::Error),
    /// No implied volatility for a price.
    #[error(transparent)]
    Iv(#[from] black::IvError),
    /// An invalid SVI parameter set.
    #[error(transparent)]
    Svi(#[from] model::svi::SviError),
    /// An invalid SABR parameter set.
    #[error(transparent)]
    Sabr(#[from] model::sabr::SabrError),
    /// An invalid SSVI / eSSVI parameter set.
    #[error(transparent)]
    Ssvi(#[from] model::ssvi::SsviError),
    /// An invalid Heston parameter set.
    #[error(transparent)]
    Heston(#[from] model::heston::HestonError),
    /// A residual or weight kind that does not parse.
    #[error(transparent)]
    ParseKind(#[from] objective::ParseKindError),
    /// A calibration that could not start.
    #[error(transparent)]
    Fit(#[from] fit::FitError),
    /// An invalid validation grid.
    #[error(transparent)]
    Grid(#[from] validate::GridError),
    /// An invalid sample, spectrum or risk measure.
    #[error(transparent)]
    Risk(#[from] risk::RiskError),
    /// Reading a P&L sample file.
    #[error(transparent)]
    RiskRead(#[from] risk::ReadError),
    /// Building scenarios.
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// Allocating a portfolio.
    #[error(transparent)]
    Alloc(#[from] alloc::AllocError),
    /// Reading a fit directory or writing a report.
    #[error(transparent)]
    Report(#[from] report::html::ReportError),
    /// Any other file-system error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
