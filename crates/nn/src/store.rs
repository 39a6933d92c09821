//! Weights as `safetensors` (loadable by PyTorch's `safetensors.torch.load_file`) with a JSON
//! metadata header.
//!
//! Tensors: `layers.{l}.weight` `[out, in]` and `layers.{l}.bias` `[out]` (PyTorch's
//! `nn.Linear` layout), and the normalisation as `norm.input.shift`, `norm.input.scale`,
//! `norm.output.shift`, `norm.output.scale` — as tensors, not JSON, so that an `f64` file
//! round-trips bit for bit. The header's `__metadata__` holds one key, `volfit_nn`, whose
//! value is the [`Metadata`] as JSON. Callers write the bytes (atomically) themselves.

use crate::mlp::Architecture;
use crate::network::Network;
use crate::norm::{Affine, Normalization};
use crate::NnError;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};

/// The metadata key under which [`Metadata`] is stored.
pub const METADATA_KEY: &str = "volfit_nn";
/// The format tag written in [`Metadata::format`].
pub const FORMAT: &str = "volfit-nn/1";

/// Floating-point type of the stored tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 64-bit: exact round trip.
    #[default]
    F64,
    /// 32-bit: half the size, rounded to nearest.
    F32,
}

/// The JSON header of a weight file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metadata {
    /// [`FORMAT`].
    pub format: String,
    /// Version of the software that wrote the file.
    pub version: String,
    /// The architecture.
    pub architecture: Architecture,
    /// Precision of the tensors.
    pub precision: Precision,
    /// How the network was trained (free-form: solver, loss, epochs, ...).
    #[serde(default)]
    pub training: Option<serde_json::Value>,
    /// Free-form fields for the application (model, parameter box, grid, ...).
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn tensor_names(layers: usize) -> impl Iterator<Item = String> {
    (0..layers).flat_map(|l| [format!("layers.{l}.weight"), format!("layers.{l}.bias")])
}

fn encode(v: &[f64], p: Precision) -> Vec<u8> {
    match p {
        Precision::F64 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Precision::F32 => v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect(),
    }
}

fn decode(name: &str, t: &TensorView<'_>, shape: &[usize]) -> Result<Vec<f64>, NnError> {
    if t.shape() != shape {
        return Err(NnError::Format(format!(
            "tensor {name} has shape {:?}, expected {shape:?}",
            t.shape()
        )));
    }
    let d = t.data();
    match t.dtype() {
        Dtype::F64 => Ok(d
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect()),
        Dtype::F32 => Ok(d
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap_or([0; 4]))))
            .collect()),
        other => {
            Err(NnError::Format(format!("tensor {name} has dtype {other:?}, expected F64 or F32")))
        }
    }
}

impl Network {
    /// The safetensors bytes of this network with `precision` tensors; `training` and
    /// `extra` go into the [`Metadata`] header beside the architecture and version.
    ///
    /// # Errors
    /// [`NnError::Format`] if serialisation fails.
    pub fn to_safetensors(
        &self,
        precision: Precision,
        training: Option<serde_json::Value>,
        extra: BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<u8>, NnError> {
        let arch = self.mlp().architecture().clone();
        let meta = Metadata {
            format: FORMAT.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            architecture: arch,
            precision,
            training,
            extra,
        };
        let json = serde_json::to_string(&meta).map_err(|e| NnError::Format(e.to_string()))?;
        let p = self.params();
        let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (l, names) in self
            .mlp()
            .layers()
            .iter()
            .zip(tensor_names(self.mlp().layers().len()).collect::<Vec<_>>().chunks(2))
        {
            blobs.push((
                names[0].clone(),
                vec![l.fan_out, l.fan_in],
                encode(&p[l.weight..l.bias], precision),
            ));
            blobs.push((
                names[1].clone(),
                vec![l.fan_out],
                encode(&p[l.bias..l.bias + l.fan_out], precision),
            ));
        }
        let n = self.normalization();
        for (side, a) in [("input", &n.input), ("output", &n.output)] {
            blobs.push((format!("norm.{side}.shift"), vec![a.dim()], encode(&a.shift, precision)));
            blobs.push((format!("norm.{side}.scale"), vec![a.dim()], encode(&a.scale, precision)));
        }
        let dtype = match precision {
            Precision::F64 => Dtype::F64,
            Precision::F32 => Dtype::F32,
        };
        let mut views = Vec::with_capacity(blobs.len());
        for (name, shape, bytes) in &blobs {
            let v = TensorView::new(dtype, shape.clone(), bytes)
                .map_err(|e| NnError::Format(e.to_string()))?;
            views.push((name.as_str(), v));
        }
        let info = HashMap::from([(METADATA_KEY.to_string(), json)]);
        safetensors::serialize(views, Some(info)).map_err(|e| NnError::Format(e.to_string()))
    }

    /// A network and its metadata from safetensors bytes written by
    /// [`to_safetensors`](Self::to_safetensors) (or by PyTorch with the same names and a
    /// `volfit_nn` metadata entry).
    ///
    /// # Errors
    /// [`NnError::Format`] naming the missing or malformed tensor or header field.
    pub fn from_safetensors(bytes: &[u8]) -> Result<(Network, Metadata), NnError> {
        let fmt = |e: &dyn std::fmt::Display| NnError::Format(e.to_string());
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| fmt(&e))?;
        let json =
            header.metadata().as_ref().and_then(|m| m.get(METADATA_KEY)).ok_or_else(|| {
                NnError::Format(format!("no `{METADATA_KEY}` entry in __metadata__"))
            })?;
        let meta: Metadata = serde_json::from_str(json)
            .map_err(|e| NnError::Format(format!("{METADATA_KEY}: {e}")))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| fmt(&e))?;
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f64>, NnError> {
            let t = st.tensor(name).map_err(|e| NnError::Format(format!("tensor {name}: {e}")))?;
            decode(name, &t, shape)
        };
        let mlp = crate::mlp::Mlp::new(meta.architecture.clone())?;
        let mut params = vec![0.0; mlp.num_params()];
        for (l, layer) in mlp.layers().iter().enumerate() {
            let w = get(&format!("layers.{l}.weight"), &[layer.fan_out, layer.fan_in])?;
            params[layer.weight..layer.bias].copy_from_slice(&w);
            let b = get(&format!("layers.{l}.bias"), &[layer.fan_out])?;
            params[layer.bias..layer.bias + layer.fan_out].copy_from_slice(&b);
        }
        let affine = |side: &str, dim: usize| -> Result<Affine, NnError> {
            Ok(Affine {
                shift: get(&format!("norm.{side}.shift"), &[dim])?,
                scale: get(&format!("norm.{side}.scale"), &[dim])?,
            })
        };
        let norm = Normalization {
            input: affine("input", mlp.inputs())?,
            output: affine("output", mlp.outputs())?,
        };
        let net = Network::new(meta.architecture.clone(), params, norm)?;
        Ok((net, meta))
    }
}
