//! Risk measures and reward functions of P&L samples.
//!
//! ## Sign convention
//! Inputs are P&L `X` (gains positive). **Losses are negative P&L**: `L = −X`. Every risk
//! measure returns a number in P&L-loss units where **larger is riskier**; a risk of
//! `1234.5` means "as bad as losing 1234.5", a negative risk means a sure gain.
//! Rewards (utilities, ratios) are larger-is-better.
//!
//! ## Brief overview
//! A [`Sample`] holds P&L values with optional weights (normalised to probabilities). A
//! [`RiskMeasure`] — VaR, ES/CVaR, spectral (exponential, power, tabulated or closure
//! [`Spectrum`]), EVaR, entropic, OCE, maximum drawdown — evaluates it; [`evaluate`] runs
//! several on one sample and sorts it once. [`reward`] scores samples (expected utility,
//! mean–variance, Sharpe, Sortino, return over ES) and turns "maximise reward − λ·risk" of
//! a linear portfolio into a `volfit_optim::Objective`.
//!
//! ```
//! use volfit::risk::{evaluate, RiskMeasure, Sample};
//! let sample = Sample::new(vec![-3.0, -1.0, 0.0, 2.0]).unwrap();
//! let measures = RiskMeasure::parse_list("var:0.75,es:0.5,mdd").unwrap();
//! let ms: Vec<RiskMeasure> = measures.into_iter().map(|(_, m)| m).collect();
//! let v = evaluate(&sample, &ms).unwrap();
//! // Losses sorted: -2, 0, 1, 3. VaR_0.75 = 1; ES_0.5 = mean of {1, 3} = 2;
//! // the path 0 → -3 → -4 → -4 → -2 has a drawdown of 4.
//! assert_eq!(v, vec![1.0, 2.0, 4.0]);
//! ```

pub mod measure;
pub mod reward;
pub mod sample;
pub mod spectral;

pub use measure::{evaluate, OceUtility, RiskMeasure};
pub use sample::{read_pnl_csv, ReadError, RiskError, Sample, Sorted};
pub use spectral::Spectrum;
