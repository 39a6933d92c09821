//! Deep hedging (Buehler, Gonon, Teichmann & Wood 2019): a network policy chooses the hedge
//! at each step and is trained by mini-batch Adam to minimise a convex risk measure of the
//! terminal hedged P&L after costs — the reward *is* the loss.
//!
//! ## Brief overview
//! [`Paths`] simulates the forward under [`Dynamics`] (Black–Scholes, Heston or Bates,
//! seeded per path; Heston and Bates can be fitted to a Deribit snapshot, [`CalibrateSpec`]).
//! A [`Claim`] (short call, costs, funding, USD or coin [`Accounting`]) fixes the P&L.
//! A [`Policy`] (feed-forward, no-transaction band, Black delta, Whalley–Wilmott) is
//! [`Unroll`]ed over the paths with an exact backward pass through time; a
//! [`HedgeObjective`] (entropic, CVaR, mean–variance, spectral, weighted sums) turns P&L into
//! a mean over paths; [`HedgeProblem`] is the volfit-optim `StochasticObjective` that
//! [`train()`] fits with Adam. [`evaluate()`] scores every policy on fresh paths with standard
//! errors; [`DhConfig`] reads it all from TOML.
//!
//! ```text
//! Dynamics ─▶ Paths ─▶ Unroll(Claim, Policy) ─▶ P&L ─▶ HedgeObjective ─▶ HedgeProblem ─▶ Adam
//!                                                  └─▶ evaluate (risk measures, SEs)
//! ```
//!
//! Units: prices in units of the initial forward `F₀ = 1`, times in years (ACT/365).

pub mod calibrate;
pub mod config;
pub mod evaluate;
pub mod features;
pub mod load;
pub mod objective;
pub mod output;
pub mod paths;
pub mod policy;
pub mod replay;
pub mod train;
pub mod unroll;

pub use calibrate::{describe_dynamics, CalibrateSpec, CalibratedModel, Calibration};
pub use config::{DhConfig, DynamicsConfig, Setup};
pub use evaluate::{
    abs_from_black_by_step, evaluate, hedge_curve, mean_abs_from_black, simulate_policy,
    CurvePoint, Evaluation, Outcome, Row,
};
pub use features::{Accounting, Claim, Inputs};
pub use load::{LoadError, LoadedPolicy};
pub use objective::{Criterion, EntropicForm, HedgeObjective, LogSumExp, Term};
pub use output::{run_job, DhError, PolicyView, Summary, CURVE_TAUS};
pub use paths::{Dynamics, Paths};
pub use policy::{Parametrisation, Policy, PolicyKind};
pub use replay::ReplayPolicy;
pub use train::{train, HedgeProblem, TrainSpec, Trained};
pub use unroll::Unroll;
