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
//! several on one sample and sorts it once. [`Reward`]s score samples (expected utility,
//! mean–variance, Sharpe, Sortino, return over ES), and [`PortfolioObjective`] turns
//! "maximise reward − λ·risk" of a linear portfolio into a `volfit_optim::Objective`.
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
//!
//! ## Measures
//! `X` is P&L, `L = −X` the loss, `p_i` the probabilities. `α` is a *confidence level*
//! (`0.99` looks at the worst 1 %).
//! - `VaR_α = inf{ l : P(L ≤ l) ≥ α }`: the lower α-quantile of the loss, with no
//!   interpolation between atoms (numpy's `inverted_cdf`). Tail masses within [`TIE_TOL`] of
//!   `1 − α` count as equal, so `VaR_0.99` of 100 equal atoms is the 99th smallest loss.
//! - `ES_α = (1/(1−α)) ∫_α^1 VaR_u du` (Acerbi & Tasche 2002), exact on weighted samples:
//!   the atom straddling the quantile enters with its fractional mass.
//! - spectral `ρ_φ = ∫₀¹ φ(u) VaR_u du` (see [Spectra](#spectra) for the orientation).
//! - `EVaR_α = inf_{t>0} (ln E[e^{tL}] − ln(1−α)) / t` (Ahmadi-Javid 2012, Def. 3.1).
//! - entropic `(1/θ) ln E[e^{−θX}]`.
//! - OCE `inf_η { η + E[ℓ(L − η)] }` (Ben-Tal & Teboulle 2007, eq. 2.1 in loss form) with
//!   `ℓ(x) = −u(−x)` for the utility `u`.
//! - maximum drawdown of the cumulative P&L path `W_t = Σ_{s≤t} x_s`, `W_0 = 0`.
//!
//! ## Risk contributions
//! For a linear portfolio `X = S·x`, the Euler contributions `x_i·∂ρ/∂x_i` sum to `ρ` only
//! when `ρ` is positively homogeneous ([`RiskMeasure::is_positively_homogeneous`]: VaR,
//! ES, spectral, EVaR, OCE-CVaR, drawdown). The entropic risk and the exponential or
//! quadratic OCE are not (`ρ(2X) ≠ 2ρ(X)`), so their Euler terms do not add up to the
//! risk; report the marginal risks `∂ρ/∂x_i` (risk per extra unit) for them instead.
//!
//! ## Spectra
//! Write `u ∈ (0, 1)` for the loss quantile level: `VaR_u` is the `u`-quantile of the loss
//! `L = −X`, so `u → 1` is the worst tail. A spectral measure is
//!
//! ```text
//!   ρ_φ(X) = ∫₀¹ φ(u) VaR_u(X) du,     φ ≥ 0,  φ non-decreasing in u,  ∫₀¹ φ = 1.
//! ```
//!
//! Acerbi (2002) writes the same measure with `p = 1 − u` indexing the P&L quantile, where
//! his φ is non-*increasing*; the two are mirror images. The built-in spectra, in loss
//! ordering:
//! - exponential (Dowd, Cotter & Sorwar 2008, eq. 6 mirrored):
//!   `φ(u) = k e^{−k(1−u)} / (1 − e^{−k})`, `k > 0`; larger `k` is more risk-averse,
//!   `k → 0` gives the mean loss;
//! - power (same paper, eq. 7 mirrored): `φ(u) = γ (1 − u)^{γ−1}`, `0 < γ ≤ 1`; smaller `γ`
//!   is more risk-averse, `γ = 1` gives the mean loss;
//! - expected shortfall: `φ(u) = 1{u > α} / (1 − α)`.
//!
//! On a discrete sample, `VaR_u` is constant (the `j`-th sorted loss) on each atom's
//! probability interval, so `ρ_φ = Σ_j L_(j) ∫_{interval j} φ(u) du` exactly. The integrals
//! are taken through the *distortion* `Ψ(s) = ∫_{1−s}^1 φ(u) du` of the tail mass `s`
//! (concave, `Ψ(0) = 0`, `Ψ(1) = 1`), which is closed-form for the built-in spectra:
//! `Ψ(s) = expm1(−k s) / expm1(−k)`, `Ψ(s) = s^γ`, `Ψ(s) = min(s, 1−α)/(1−α)`.
//! User spectra are tabulated (piecewise-linear φ, integrated exactly) or closures
//! (integrated by composite 5-point Gauss–Legendre on each interval).
//!
//! ## Rewards
//! A [`Reward`] scores a P&L sample (larger = better) and differentiates that score with
//! respect to the sample values; through a [`Scenarios`] matrix `S` (rows = scenarios,
//! columns = instruments) the same gradient is pulled back to linear portfolio weights
//! `x` with P&L `S·x`: `∇_x R = Sᵀ ∇_pnl R`. [`PortfolioObjective`] turns
//! "maximise `R(S·x) − λ·ρ(S·x)`" into a `volfit_optim::Objective` (minimising the
//! negative), so any solver of the engine can design a portfolio.
//!
//! Rewards compose: [`Sum`] adds two, [`Scaled`] multiplies one by a constant, and
//! [`Penalised`] subtracts `λ` times a [`RiskMeasure`].
//!
//! Probabilities `probs` must sum to one; `None` means equally likely scenarios.

mod error;
mod measure;
mod reward;
mod sample;
mod spectral;

pub use error::RiskError;
pub use measure::{
    entropic, evaluate, evar, max_drawdown, oce_quadratic, spectral_sorted, var_sorted, Drawdown,
    Evar, OceUtility, RiskMeasure,
};
pub use reward::{
    es_weights, Cara, Crra, ExpectedUtility, Kelly, MeanVariance, Penalised, PortfolioObjective,
    ReturnOverEs, Reward, Scaled, Scenarios, Sharpe, Sortino, Sum, Utility,
};
pub use sample::{read_pnl_csv, ReadError, Sample, Sorted, TIE_TOL};
pub use spectral::{Custom, Spectrum, Tabulated, MASS_TOL};
