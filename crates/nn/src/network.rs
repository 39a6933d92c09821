//! A trained network: architecture, parameters and normalisation, used in physical units.

use crate::init::Init;
use crate::mlp::{Architecture, Mlp, Workspace};
use crate::norm::Normalization;
use crate::NnError;

/// A network with its parameters and input/output normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    mlp: Mlp,
    params: Vec<f64>,
    norm: Normalization,
}

impl Network {
    /// A network from its parts.
    ///
    /// # Errors
    /// [`NnError::Architecture`] for a bad architecture or a parameter vector or
    /// normalisation of the wrong size.
    pub fn new(arch: Architecture, params: Vec<f64>, norm: Normalization) -> Result<Self, NnError> {
        let mlp = Mlp::new(arch)?;
        if params.len() != mlp.num_params() {
            return Err(NnError::Architecture(format!(
                "{} parameters given, the architecture has {}",
                params.len(),
                mlp.num_params()
            )));
        }
        let (ni, no) = (norm.input.dim(), norm.output.dim());
        let sizes_ok = [&norm.input, &norm.output].iter().all(|a| a.scale.len() == a.shift.len());
        if ni != mlp.inputs() || no != mlp.outputs() || !sizes_ok {
            return Err(NnError::Architecture(format!(
                "normalisation is {ni}→{no}, the network {}→{}",
                mlp.inputs(),
                mlp.outputs()
            )));
        }
        Ok(Network { mlp, params, norm })
    }

    /// A fresh network: weights from `init` seeded by `seed`, zero biases, identity
    /// normalisation.
    ///
    /// # Errors
    /// [`NnError::Architecture`] for a bad architecture.
    pub fn init(arch: Architecture, init: Init, seed: u64) -> Result<Self, NnError> {
        let mlp = Mlp::new(arch)?;
        let params = mlp.init_params(init, seed);
        let norm = Normalization::identity(mlp.inputs(), mlp.outputs());
        Ok(Network { mlp, params, norm })
    }

    /// The layout.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
    /// The flat parameters.
    pub fn params(&self) -> &[f64] {
        &self.params
    }
    /// The flat parameters, to train in place.
    pub fn params_mut(&mut self) -> &mut [f64] {
        &mut self.params
    }
    /// The normalisation.
    pub fn normalization(&self) -> &Normalization {
        &self.norm
    }
    /// Replaces the normalisation (after fitting it on the training set).
    ///
    /// # Errors
    /// [`NnError::Architecture`] when its widths differ from the network's.
    pub fn set_normalization(&mut self, norm: Normalization) -> Result<(), NnError> {
        *self =
            Network::new(self.mlp.architecture().clone(), std::mem::take(&mut self.params), norm)?;
        Ok(())
    }

    /// Outputs for the row-major physical inputs `xs` (`rows × inputs`) into `out`
    /// (`rows × outputs`), in physical units. The workspace grows to `rows` if needed.
    ///
    /// # Panics
    /// When `out` is shorter than `rows × outputs`.
    pub fn predict(&self, xs: &[f64], ws: &mut Workspace, out: &mut [f64]) {
        let (ni, no) = (self.mlp.inputs(), self.mlp.outputs());
        let rows = xs.len() / ni;
        self.mlp.reserve(ws, rows);
        let input = &mut ws.input_mut()[..rows * ni];
        input.copy_from_slice(xs);
        input.chunks_exact_mut(ni).for_each(|r| self.norm.input.forward(r));
        self.mlp.forward(&self.params, ws, rows);
        out[..rows * no].copy_from_slice(ws.output(rows));
        out[..rows * no].chunks_exact_mut(no).for_each(|r| self.norm.output.inverse(r));
    }

    /// Outputs `out` and the Jacobian `jac[o·inputs + i] = ∂out_o/∂x_i` at one physical input
    /// `x`, both in physical units (what Levenberg–Marquardt through the net needs).
    ///
    /// # Panics
    /// When `x`, `out` or `jac` do not have `inputs`, `outputs`, `outputs × inputs` entries.
    pub fn input_jacobian(&self, x: &[f64], ws: &mut Workspace, out: &mut [f64], jac: &mut [f64]) {
        let ni = self.mlp.inputs();
        self.mlp.reserve(ws, 1);
        let input = &mut ws.input_mut()[..ni];
        input.copy_from_slice(x);
        self.norm.input.forward(input);
        self.mlp.input_jacobian(&self.params, ws, jac);
        out.copy_from_slice(ws.output(1));
        self.norm.output.inverse(out);
        let (a, b) = (&self.norm.input, &self.norm.output);
        for (row, s_out) in jac.chunks_exact_mut(ni).zip(&b.scale) {
            row.iter_mut().zip(&a.scale).for_each(|(v, s_in)| *v *= s_out / s_in);
        }
    }
}
