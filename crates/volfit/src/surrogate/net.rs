//! A trained pricing surrogate: a [`Network`] from model parameters to implied vols on a
//! fixed [`Grid`], with what it was trained on in its safetensors header ([`SurrogateInfo`]).
//!
//! The header's `volfit_nn` metadata carries the architecture and the training spec; its
//! `extra.surrogate` entry is a [`SurrogateInfo`]: the model's name, its parameter names and
//! box, the grid, and the software version. Everything a caller needs to use the net comes
//! from the file, so the code is the same for every model (`heston`, `bates`, `rbergomi`…).

use super::grid::Grid;
use super::sample::ParamBox;
use crate::io::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use volfit_nn::{Network, NnError, Precision, Workspace};

/// The key of [`SurrogateInfo`] in the header's `extra` map.
pub const INFO_KEY: &str = "surrogate";

/// What a surrogate net maps: the model, its parameters (the inputs, in order) and the box
/// they were sampled in, and the grid of its outputs (maturity-major implied vols).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SurrogateInfo {
    /// Model name as the data spec wrote it (`heston`, `bates`, `rbergomi`, …).
    pub model: String,
    /// Parameter names in input order.
    pub params: Vec<String>,
    /// The parameter box of the training data (the net is only valid inside it).
    #[serde(rename = "box")]
    pub bounds: ParamBox,
    /// The output grid.
    pub grid: Grid,
    /// volfit version that trained the net.
    pub volfit_version: String,
}

/// Why a surrogate file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SurrogateError {
    /// The file cannot be read or written, or is not a volfit-nn safetensors file.
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// A header field is missing, malformed or inconsistent with the network.
    #[error("{path}: field `{field}`: {msg}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The header field (e.g. `model`, `grid`).
        field: &'static str,
        /// What is wrong with it.
        msg: String,
    },
}

/// A network with its [`SurrogateInfo`] and the training record of its header.
#[derive(Debug)]
pub struct Surrogate {
    net: Network,
    info: SurrogateInfo,
    training: Option<serde_json::Value>,
    scratch: Mutex<Workspace>,
}

impl Clone for Surrogate {
    fn clone(&self) -> Self {
        Surrogate {
            net: self.net.clone(),
            info: self.info.clone(),
            training: self.training.clone(),
            scratch: Mutex::new(self.net.mlp().workspace(1)),
        }
    }
}

impl PartialEq for Surrogate {
    fn eq(&self, other: &Self) -> bool {
        self.net == other.net && self.info == other.info && self.training == other.training
    }
}

impl Surrogate {
    /// A surrogate from its parts.
    ///
    /// # Errors
    /// A message when the net's inputs differ from the parameters, its outputs from the grid
    /// points, or the box or grid is invalid.
    pub fn new(
        net: Network,
        info: SurrogateInfo,
        training: Option<serde_json::Value>,
    ) -> Result<Self, (&'static str, String)> {
        let (ni, no) = (net.mlp().inputs(), net.mlp().outputs());
        if ni != info.params.len() {
            return Err((
                "params",
                format!("{} names for a net of {ni} inputs", info.params.len()),
            ));
        }
        info.bounds.validate(ni).map_err(|m| ("box", m))?;
        info.grid.validate().map_err(|m| ("grid", m))?;
        if no != info.grid.len() {
            return Err(("grid", format!("{} points for a net of {no} outputs", info.grid.len())));
        }
        let scratch = Mutex::new(net.mlp().workspace(1));
        Ok(Surrogate { net, info, training, scratch })
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }
    /// What the net maps.
    pub fn info(&self) -> &SurrogateInfo {
        &self.info
    }
    /// The training record of the header, if any.
    pub fn training(&self) -> Option<&serde_json::Value> {
        self.training.as_ref()
    }
    /// Number of model parameters (inputs).
    pub fn num_params(&self) -> usize {
        self.info.params.len()
    }

    /// The safetensors bytes (f64 tensors: bit-exact round trip).
    ///
    /// # Errors
    /// [`NnError::Format`] if serialisation fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NnError> {
        let info = serde_json::to_value(&self.info).map_err(|e| NnError::Format(e.to_string()))?;
        let extra = BTreeMap::from([(INFO_KEY.to_string(), info)]);
        self.net.to_safetensors(Precision::F64, self.training.clone(), extra)
    }

    /// Writes the net to `path` atomically.
    ///
    /// # Errors
    /// [`SurrogateError::File`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), SurrogateError> {
        let file = |msg: String| SurrogateError::File { path: path.to_path_buf(), msg };
        let bytes = self.to_bytes().map_err(|e| file(e.to_string()))?;
        write_atomic(path, |w| w.write_all(&bytes)).map_err(|e| file(e.to_string()))
    }

    /// Reads a net written by [`save`](Self::save) (`path` names it in errors).
    ///
    /// # Errors
    /// [`SurrogateError`] naming the file and, for header problems, the field.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, SurrogateError> {
        let (net, meta) = Network::from_safetensors(bytes)
            .map_err(|e| SurrogateError::File { path: path.to_path_buf(), msg: e.to_string() })?;
        let field =
            |field, msg: String| SurrogateError::Field { path: path.to_path_buf(), field, msg };
        let info = meta.extra.get(INFO_KEY).ok_or_else(|| {
            field(INFO_KEY, "missing from the header (not a volfit surrogate net)".into())
        })?;
        let info: SurrogateInfo =
            serde_json::from_value(info.clone()).map_err(|e| field(INFO_KEY, e.to_string()))?;
        Surrogate::new(net, info, meta.training).map_err(|(f, m)| field(f, m))
    }

    /// Reads the net at `path`.
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes), and [`SurrogateError::File`] when unreadable.
    pub fn load(path: &Path) -> Result<Self, SurrogateError> {
        let bytes = std::fs::read(path)
            .map_err(|e| SurrogateError::File { path: path.to_path_buf(), msg: e.to_string() })?;
        Surrogate::from_bytes(&bytes, path)
    }

    /// Checks that the net was trained on `model` (`path` names it in the error).
    ///
    /// # Errors
    /// [`SurrogateError::Field`] on field `model`.
    pub fn expect_model(&self, model: &str, path: &Path) -> Result<(), SurrogateError> {
        if self.info.model == model {
            return Ok(());
        }
        Err(SurrogateError::Field {
            path: path.to_path_buf(),
            field: "model",
            msg: format!(
                "the net was trained on {:?}, the fit asks for {model:?}",
                self.info.model
            ),
        })
    }

    /// Runs `f` with the shared workspace, or a fresh one when another thread holds it.
    fn with_ws<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        match self.scratch.try_lock() {
            Ok(mut g) => f(&mut g),
            Err(std::sync::TryLockError::Poisoned(p)) => f(&mut p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => f(&mut self.net.mlp().workspace(1)),
        }
    }

    /// The grid vols at the parameters `x` into `out` (len: grid points).
    pub fn surface(&self, x: &[f64], out: &mut [f64]) {
        self.with_ws(|ws| self.net.predict(x, ws, out));
    }

    /// The grid vols at `x` into `out` and their Jacobian `jac[g·n + j] = ∂out_g/∂x_j`
    /// (exact: forward-mode through the net).
    pub fn surface_jacobian(&self, x: &[f64], out: &mut [f64], jac: &mut [f64]) {
        self.with_ws(|ws| self.net.input_jacobian(x, ws, out, jac));
    }
}
