//! Dynamics calibrated to a Deribit snapshot: `[dynamics] calibrate = "FILE"` fits Heston
//! or Bates to the snapshot's whole surface with volfit's exact calibration (the `volfit fit
//! --model heston|bates` fit, through the scenario module's `fit_dynamics`), and takes the
//! hedged option from the same chain — a listed expiry (`expiry`, else the one nearest
//! `claim.maturity_days`) and the listed strike of that expiry nearest `claim.strike × F`.
//! The paths then start at that expiry's forward (`F₀ = 1` in units of it).

use super::output::DhError;
use super::paths::Dynamics;
use crate::market::{iso8601, load_files, ReadOptions, Snapshot};
use crate::scenario::{fit_dynamics, ScenarioKind};
use std::path::PathBuf;

/// The model fitted to the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibratedModel {
    /// Heston (1993).
    Heston,
    /// Bates (1996): Heston with lognormal jumps.
    Bates,
}

/// `[dynamics]` with `calibrate`: what to fit and to which snapshot.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrateSpec {
    /// `heston` or `bates`.
    pub kind: CalibratedModel,
    /// The snapshot file (any format `volfit fit` reads; relative to the config file).
    pub calibrate: PathBuf,
    /// The underlying to fit, e.g. `BTC`.
    pub underlying: String,
    /// Expiry of the hedged option, `YYYY-MM-DD` (or a longer ISO-8601 prefix); default:
    /// the listed expiry nearest `claim.maturity_days`.
    #[serde(default)]
    pub expiry: Option<String>,
}

/// What the calibration found: the fitted dynamics and the option taken from the chain.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// The snapshot file.
    pub file: String,
    /// Underlying.
    pub underlying: String,
    /// Snapshot time, ISO-8601 UTC.
    pub snapshot: String,
    /// Expiry of the hedged option, ISO-8601 UTC.
    pub expiry: String,
    /// Its time to expiry in days (ACT/365 to the second).
    pub maturity_days: f64,
    /// Its forward, USD.
    pub forward_usd: f64,
    /// The spot index, USD, when the file has it.
    pub index_usd: Option<f64>,
    /// The listed strike, USD.
    pub strike_usd: f64,
    /// The strike over the forward.
    pub strike: f64,
    /// Quotes the fit saw (all expiries).
    pub quotes: usize,
    /// The fitted dynamics.
    pub dynamics: Dynamics,
}

impl CalibrateSpec {
    /// Checks the keys that can be checked without reading the file.
    ///
    /// # Errors
    /// An empty `dynamics.underlying` or `dynamics.expiry`.
    pub fn validate(&self) -> Result<(), String> {
        if self.underlying.trim().is_empty() {
            return Err("dynamics.underlying must name the coin to fit, e.g. \"BTC\"".into());
        }
        if self.expiry.as_deref().is_some_and(|e| e.trim().is_empty()) {
            return Err("dynamics.expiry must be a date such as \"2026-01-30\"".into());
        }
        Ok(())
    }

    /// Reads the snapshot, fits the model and picks the option: the expiry (`expiry`, else
    /// the listed one nearest `maturity_days`, at least a day out) and the listed strike
    /// nearest `strike × F`.
    ///
    /// # Errors
    /// [`DhError::Config`] naming `dynamics.calibrate` (the file: unreadable, no snapshot
    /// of the underlying, failed fit) or `dynamics.expiry` (not listed).
    pub fn calibrate(&self, strike: f64, maturity_days: f64) -> Result<Calibration, DhError> {
        let file = self.calibrate.display().to_string();
        let err = |m: String| DhError::Config(format!("dynamics.calibrate = {file}: {m}"));
        let opts = ReadOptions { underlying: Some(self.underlying.clone()), ..Default::default() };
        let loaded = load_files(std::slice::from_ref(&self.calibrate), &opts)
            .map_err(|e| err(e.to_string()))?;
        let snap: Snapshot = loaded
            .snapshots
            .into_iter()
            .map(|c| c.snapshot)
            .next_back()
            .ok_or_else(|| err(format!("no {} snapshot in the file", self.underlying)))?;
        let kind = match self.kind {
            CalibratedModel::Heston => ScenarioKind::Heston,
            CalibratedModel::Bates => ScenarioKind::Bates,
        };
        let fitted = fit_dynamics(&snap, kind).map_err(|e| err(e.to_string()))?;
        let [v0, kappa, theta, sigma, rho] = fitted.heston;
        let dynamics = match fitted.jumps {
            None => Dynamics::Heston { v0, kappa, theta, sigma, rho },
            Some((lambda, mu_j, sigma_j)) => {
                Dynamics::Bates { v0, kappa, theta, sigma, rho, lambda, mu_j, sigma_j }
            }
        };
        dynamics.validate().map_err(|e| err(format!("the fitted parameters: {e}")))?;
        let listed = snap.expiries.iter().filter(|e| e.t >= 1.0 / 365.0 && !e.quotes.is_empty());
        let expiry = match &self.expiry {
            Some(want) => {
                let want = want.trim();
                listed.clone().find(|e| iso8601(e.expiry_ms).starts_with(want)).ok_or_else(
                    || {
                        let have: Vec<String> = listed
                            .clone()
                            .map(|e| iso8601(e.expiry_ms)[..10].to_string())
                            .collect();
                        DhError::Config(format!(
                            "dynamics.expiry = {want:?}: not a listed {} expiry at least a day \
                         out in {file} (listed: {})",
                            self.underlying,
                            have.join(", ")
                        ))
                    },
                )?
            }
            None => listed
                .min_by(|a, b| {
                    let d = |t: f64| (t * 365.0 - maturity_days).abs();
                    d(a.t).total_cmp(&d(b.t))
                })
                .ok_or_else(|| err("no expiry at least a day out".into()))?,
        };
        let target = strike * expiry.forward;
        let strike_usd = expiry
            .quotes
            .iter()
            .map(|q| q.strike)
            .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
            .ok_or_else(|| err("the expiry has no quote".into()))?;
        Ok(Calibration {
            file,
            underlying: snap.underlying.clone(),
            snapshot: snap.time_iso(),
            expiry: iso8601(expiry.expiry_ms),
            maturity_days: expiry.t * 365.0,
            forward_usd: expiry.forward,
            index_usd: snap.index,
            strike_usd,
            strike: strike_usd / expiry.forward,
            quotes: snap.num_quotes(),
            dynamics,
        })
    }
}

impl Calibration {
    /// One line for logs: the option and the fitted parameters.
    pub fn describe(&self) -> String {
        format!(
            "{} {} from {}: expiry {} ({:.2} days), forward {:.2} USD, strike {} USD ({:.4} × F); \
             fitted {}",
            self.underlying,
            self.snapshot,
            self.file,
            self.expiry,
            self.maturity_days,
            self.forward_usd,
            self.strike_usd,
            self.strike,
            describe_dynamics(&self.dynamics)
        )
    }
}

/// The dynamics' parameters as `name value` pairs.
pub fn describe_dynamics(d: &Dynamics) -> String {
    match *d {
        Dynamics::BlackScholes { sigma } => format!("Black–Scholes σ {sigma:.4}"),
        Dynamics::Heston { v0, kappa, theta, sigma, rho } => {
            format!("Heston v0 {v0:.4} κ {kappa:.3} θ {theta:.4} σ {sigma:.3} ρ {rho:.3}")
        }
        Dynamics::Bates { v0, kappa, theta, sigma, rho, lambda, mu_j, sigma_j } => format!(
            "Bates v0 {v0:.4} κ {kappa:.3} θ {theta:.4} σ {sigma:.3} ρ {rho:.3} λ {lambda:.3} \
             μJ {mu_j:.4} σJ {sigma_j:.4}"
        ),
    }
}
