//! Loading a trained `policy.safetensors` (written by `volfit deephedge train`) back into a
//! [`Policy`], its network parameters and the claim it was trained for.
//!
//! The header's `extra` fields are checked one by one, and every error names the file and
//! the header field: `policy` (`ff` or `ntb`), `parametrisation` (a feed-forward policy's
//! output, `hedge` or `delta_plus`; `hedge` when absent, as in files written before it),
//! `features` (exactly the training features of one [`Inputs`] selection of
//! [`features::NAMES`], as many as the network has inputs), `claim` (strike, maturity,
//! `black_vol` finite and positive; `accounting` `usd` or `coin`), and the network
//! `architecture` (the layout [`Policy::new`] builds for that kind).

use super::features::{self, Accounting, Claim, Inputs};
use super::policy::{Parametrisation, Policy, PolicyKind};
use std::fmt;
use volfit_nn::{Network, Workspace};

/// A trained policy read back from its file.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedPolicy {
    /// The policy (kind and network layout).
    pub policy: Policy,
    /// The trained network (parameters and normalisation).
    pub network: Network,
    /// The claim it was trained for.
    pub claim: Claim,
}

/// A policy file that cannot be used: the file, the header field and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file as given.
    pub file: String,
    /// The header field (`claim.accounting`, `features`, …), or `file` for an unreadable
    /// file.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: header field `{}`: {}", self.file, self.field, self.reason)
    }
}

impl std::error::Error for LoadError {}

impl LoadedPolicy {
    /// Reads the policy file `path`.
    ///
    /// # Errors
    /// [`LoadError`] naming the file and header field.
    pub fn read(path: &std::path::Path) -> Result<LoadedPolicy, LoadError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| LoadError {
            file: file.clone(),
            field: "file".into(),
            reason: e.to_string(),
        })?;
        LoadedPolicy::from_bytes(&bytes, &file)
    }

    /// Parses the bytes of a policy file named `file` (for messages).
    ///
    /// # Errors
    /// [`LoadError`] naming the file and header field.
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<LoadedPolicy, LoadError> {
        let err = |field: &str, reason: String| LoadError {
            file: file.to_string(),
            field: field.to_string(),
            reason,
        };
        let (network, meta) =
            Network::from_safetensors(bytes).map_err(|e| err("volfit_nn", e.to_string()))?;
        let extra = &meta.extra;
        let get = |key: &str| extra.get(key).ok_or_else(|| err(key, "missing".into()));
        let kind = match get("policy")?.as_str() {
            Some("ff") => PolicyKind::FeedForward,
            Some("ntb") => PolicyKind::NoTransactionBand,
            other => {
                return Err(err("policy", format!("{other:?}: expected \"ff\" or \"ntb\"")));
            }
        };
        let names: Vec<&str> = get("features")?
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let inputs = Inputs::from_names(&names).ok_or_else(|| {
            let want = features::NAMES;
            err(
                "features",
                format!(
                    "{names:?}: expected {want:?} without none, either or both of the last two"
                ),
            )
        })?;
        let parametrisation = match (kind, extra.get("parametrisation")) {
            (_, None) => Parametrisation::Hedge,
            (PolicyKind::FeedForward, Some(v)) if v.as_str() == Some("hedge") => {
                Parametrisation::Hedge
            }
            (PolicyKind::FeedForward, Some(v)) if v.as_str() == Some("delta_plus") => {
                Parametrisation::DeltaPlus
            }
            (PolicyKind::FeedForward, Some(v)) => {
                return Err(err(
                    "parametrisation",
                    format!("{v}: expected \"hedge\" or \"delta_plus\""),
                ));
            }
            (_, Some(v)) if v.as_str() == Some("hedge") => Parametrisation::Hedge,
            (_, Some(v)) => {
                let why = format!("{v}: only a feed-forward (ff) policy has a parametrisation");
                return Err(err("parametrisation", why));
            }
        };
        let claim = claim_of(get("claim")?).map_err(|(f, r)| err(&format!("claim.{f}"), r))?;
        let arch = network.mlp().architecture();
        let policy = Policy::with_inputs(kind, &arch.hidden, arch.activation, inputs, 1.0)
            .map_err(|e| err("architecture", e.to_string()))?
            .parametrised(parametrisation);
        if policy.mlp().map(|m| m.architecture()) != Some(arch) {
            return Err(err(
                "architecture",
                format!("{arch:?} is not the layout of a {} policy over {names:?}", kind.name()),
            ));
        }
        Ok(LoadedPolicy { policy, network, claim })
    }

    /// The network outputs at one feature row ([`Inputs::count`] entries) into `out`.
    pub fn outputs(&self, row: &[f64], ws: &mut Workspace, out: &mut [f64]) {
        self.network.predict(row, ws, out);
    }

    /// A workspace for [`outputs`](Self::outputs) (one row).
    pub fn workspace(&self) -> Workspace {
        self.network.mlp().workspace(1)
    }
}

/// The claim of the header, each value checked: `(field, reason)` on failure.
fn claim_of(v: &serde_json::Value) -> Result<Claim, (String, String)> {
    let num = |key: &str| -> Result<f64, (String, String)> {
        match v.get(key).map(|x| (x, x.as_f64())) {
            Some((_, Some(x))) if x.is_finite() => Ok(x),
            Some((x, _)) => Err((key.into(), format!("{x}: expected a finite number"))),
            None => Err((key.into(), "missing".into())),
        }
    };
    let positive = |key: &str| -> Result<f64, (String, String)> {
        let x = num(key)?;
        if x > 0.0 {
            Ok(x)
        } else {
            Err((key.into(), format!("{x}: must be > 0")))
        }
    };
    // A claim that is not a call (should a later trainer write an option type) is refused:
    // the replay maps puts onto the call by parity and needs the call's hedge.
    if let Some(t) = v.get("option_type").or_else(|| v.get("kind")) {
        if t.as_str().is_none_or(|s| !s.eq_ignore_ascii_case("call")) {
            return Err(("option_type".into(), format!("{t}: only a call policy is replayed")));
        }
    }
    let accounting = match v.get("accounting").and_then(serde_json::Value::as_str) {
        Some("usd") => Accounting::Usd,
        Some("coin") => Accounting::Coin,
        other => {
            return Err(("accounting".into(), format!("{other:?}: expected \"usd\" or \"coin\"")))
        }
    };
    Ok(Claim {
        strike: positive("strike")?,
        maturity: positive("maturity")?,
        cost: num("cost")?,
        funding: num("funding")?,
        accounting,
        black_vol: positive("black_vol")?,
    })
}
