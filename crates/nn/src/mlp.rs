//! The multilayer perceptron: architecture, the layout of its one flat parameter vector,
//! and the batched forward, backward and input-Jacobian passes.
//!
//! Layer `l` maps `a_{l} (B×in)` to `a_{l+1} = f(a_l·Wₗᵀ + bₗ) (B×out)`. Its weight `Wₗ` is
//! stored row-major `[out, in]` (PyTorch's `nn.Linear.weight` layout) followed by its bias
//! `bₗ [out]`, layer after layer, in one `&[f64]`: every volfit-optim solver trains it. Batches
//! are row-major `B × features`. The batched products go through the register-tiled kernels of
//! [`crate::kernel`] (the input Jacobian of one sample through faer's gemm), sequentially, into a
//! [`Workspace`] allocated once and reused across batches.

use crate::activation::Activation;
use crate::init::Init;
use crate::kernel;
use crate::NnError;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::ops::Range;

/// The shape of a network: inputs, hidden widths, outputs and activations.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Architecture {
    /// Number of inputs.
    pub inputs: usize,
    /// Widths of the hidden layers, first to last.
    pub hidden: Vec<usize>,
    /// Number of outputs.
    pub outputs: usize,
    /// Activation of every hidden layer.
    pub activation: Activation,
    /// Activation of the output layer (identity for regression).
    #[serde(default = "identity")]
    pub output_activation: Activation,
}

fn identity() -> Activation {
    Activation::Identity
}

impl Architecture {
    /// `inputs → hidden… → outputs` with `activation` in the hidden layers and a linear output.
    pub fn new(inputs: usize, hidden: &[usize], outputs: usize, activation: Activation) -> Self {
        Architecture {
            inputs,
            hidden: hidden.to_vec(),
            outputs,
            activation,
            output_activation: Activation::Identity,
        }
    }
}

/// One dense layer's place in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Inputs of the layer.
    pub fan_in: usize,
    /// Outputs of the layer.
    pub fan_out: usize,
    /// Offset of the weight block `[fan_out, fan_in]`.
    pub weight: usize,
    /// Offset of the bias `[fan_out]` (right after the weights).
    pub bias: usize,
    /// The layer's activation.
    pub activation: Activation,
}

impl Layer {
    /// The layer's parameters (weights then bias) in the flat vector.
    pub fn range(&self) -> Range<usize> {
        self.weight..self.bias + self.fan_out
    }
}

/// A validated architecture with its parameter layout. Holds no parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    arch: Architecture,
    layers: Vec<Layer>,
    num_params: usize,
}

impl Mlp {
    /// Lays out `arch`.
    ///
    /// # Errors
    /// [`NnError::Architecture`] when a width is zero.
    pub fn new(arch: Architecture) -> Result<Self, NnError> {
        let mut widths = vec![arch.inputs];
        widths.extend(&arch.hidden);
        widths.push(arch.outputs);
        if let Some(i) = widths.iter().position(|&w| w == 0) {
            let what = match i {
                0 => "inputs".to_string(),
                i if i == widths.len() - 1 => "outputs".to_string(),
                i => format!("hidden[{}]", i - 1),
            };
            return Err(NnError::Architecture(format!("{what} must be at least 1")));
        }
        let mut layers = Vec::with_capacity(widths.len() - 1);
        let mut off = 0;
        for (l, w) in widths.windows(2).enumerate() {
            let last = l == widths.len() - 2;
            let activation = if last { arch.output_activation } else { arch.activation };
            let (fan_in, fan_out) = (w[0], w[1]);
            layers.push(Layer {
                fan_in,
                fan_out,
                weight: off,
                bias: off + fan_in * fan_out,
                activation,
            });
            off += (fan_in + 1) * fan_out;
        }
        Ok(Mlp { arch, layers, num_params: off })
    }

    /// The architecture.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }
    /// The dense layers, input to output.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    /// Length of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        self.num_params
    }
    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.arch.inputs
    }
    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.arch.outputs
    }
    /// Each layer's parameter range, the parameter groups of the optimiser's diagnostics.
    pub fn groups(&self) -> Vec<Range<usize>> {
        self.layers.iter().map(Layer::range).collect()
    }
    fn max_width(&self) -> usize {
        self.layers.iter().map(|l| l.fan_in.max(l.fan_out)).max().unwrap_or(1)
    }

    /// Fresh parameters: weights from `init` with a generator seeded by `seed`, zero biases.
    pub fn init_params(&self, init: Init, seed: u64) -> Vec<f64> {
        let mut p = vec![0.0; self.num_params];
        let mut rng = Init::rng(seed);
        for l in &self.layers {
            init.fill(&mut p[l.weight..l.bias], l.fan_in, l.fan_out, &mut rng);
        }
        p
    }

    /// Buffers for batches of up to `rows` samples.
    pub fn workspace(&self, rows: usize) -> Workspace {
        let mut w = Workspace::default();
        self.reserve(&mut w, rows);
        w
    }

    /// Grows `ws` to hold batches of `rows` samples (no-op when it already does).
    pub fn reserve(&self, ws: &mut Workspace, rows: usize) {
        let rows = rows.max(1);
        let wt_len = self.layers.iter().map(|l| l.fan_in * l.fan_out).max().unwrap_or(0);
        if ws.rows >= rows
            && ws.acts.len() == self.layers.len() + 1
            && ws.width >= self.max_width()
            && ws.wt.len() >= wt_len
        {
            return;
        }
        let width = self.max_width();
        ws.acts = std::iter::once(self.arch.inputs)
            .chain(self.layers.iter().map(|l| l.fan_out))
            .map(|w| vec![0.0; rows * w])
            .collect();
        ws.delta = [vec![0.0; rows * width], vec![0.0; rows * width]];
        ws.jac = [vec![0.0; width * self.arch.inputs], vec![0.0; width * self.arch.inputs]];
        ws.wt = vec![0.0; wt_len];
        ws.rows = rows;
        ws.width = width;
    }

    /// Forward pass over the first `rows` samples of [`Workspace::input_mut`]; the outputs
    /// are then in [`Workspace::output`].
    ///
    /// # Panics
    /// When `rows` exceeds [`Workspace::rows`] (call [`reserve`](Self::reserve) first) or
    /// `params` is shorter than [`num_params`](Self::num_params).
    pub fn forward(&self, params: &[f64], ws: &mut Workspace, rows: usize) {
        debug_assert!(rows <= ws.rows && params.len() == self.num_params);
        for (l, layer) in self.layers.iter().enumerate() {
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let (prev, next) = ws.acts.split_at_mut(l + 1);
            let a = &prev[l][..rows * fi];
            let z = &mut next[0][..rows * fo];
            let w = &params[layer.weight..layer.bias];
            // Wᵀ (fan_in × fan_out), so that the tiles read contiguous rows of it.
            let wt = &mut ws.wt[..fi * fo];
            for (o, w_row) in w.chunks_exact(fi).enumerate() {
                w_row.iter().enumerate().for_each(|(i, &v)| wt[i * fo + o] = v);
            }
            let bias = &params[layer.bias..layer.bias + fo];
            kernel::gemm_rows(a, wt, Some(bias), z, rows, fi, fo);
            layer.activation.apply_slice(z);
        }
    }

    /// Backward pass after [`forward`](Self::forward) over the same `rows`: on entry
    /// [`Workspace::output_and_grad_mut`] holds `∂L/∂output` (`rows × outputs`); adds `∂L/∂params`
    /// into `grad` (the caller zeroes it). The activations are left untouched.
    pub fn backward(&self, params: &[f64], ws: &mut Workspace, rows: usize, grad: &mut [f64]) {
        self.backward_impl(params, ws, rows, grad, None);
    }

    /// [`backward`](Self::backward) that also writes `∂L/∂input` (row-major
    /// `rows × inputs`) into `d_input`: what backpropagation through a recurrence needs
    /// when an input is an earlier output (a policy fed its previous hedge).
    ///
    /// # Panics
    /// As [`backward`](Self::backward), or when `d_input` is shorter than `rows × inputs`.
    pub fn backward_input(
        &self,
        params: &[f64],
        ws: &mut Workspace,
        rows: usize,
        grad: &mut [f64],
        d_input: &mut [f64],
    ) {
        self.backward_impl(params, ws, rows, grad, Some(&mut d_input[..rows * self.arch.inputs]));
    }

    fn backward_impl(
        &self,
        params: &[f64],
        ws: &mut Workspace,
        rows: usize,
        grad: &mut [f64],
        mut d_input: Option<&mut [f64]>,
    ) {
        let [d_cur, d_prev] = &mut ws.delta;
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let delta = &mut d_cur[..rows * fo];
            layer.activation.scale_by_derivative(&ws.acts[l + 1][..rows * fo], delta);
            let a = &ws.acts[l][..rows * fi];
            kernel::gemm_at_b(delta, a, &mut grad[layer.weight..layer.bias], rows, fo, fi);
            let gb = &mut grad[layer.bias..layer.bias + fo];
            for row in delta.chunks_exact(fo) {
                gb.iter_mut().zip(row).for_each(|(g, d)| *g += d);
            }
            let target = match (l, d_input.as_deref_mut()) {
                (0, Some(d)) => Some(d),
                (0, None) => None,
                _ => Some(&mut d_prev[..rows * fi]),
            };
            if let Some(target) = target {
                let w = &params[layer.weight..layer.bias];
                kernel::gemm_rows(delta, w, None, target, rows, fo, fi);
            }
            if l > 0 {
                std::mem::swap(d_cur, d_prev);
            }
        }
    }

    /// The Jacobian `∂output/∂input` (row-major `outputs × inputs`) of the single sample in
    /// row 0 of [`Workspace::input_mut`], by forward-mode propagation `Jₗ₊₁ = diag(f')·Wₗ·Jₗ`
    /// from `J₀ = I`. Also runs the forward pass, so the outputs are in
    /// [`Workspace::output`]`(1)`.
    pub fn input_jacobian(&self, params: &[f64], ws: &mut Workspace, jac: &mut [f64]) {
        let n = self.arch.inputs;
        self.forward(params, ws, 1);
        let [j_cur, j_next] = &mut ws.jac;
        j_cur[..n * n].iter_mut().for_each(|v| *v = 0.0);
        (0..n).for_each(|i| j_cur[i * n + i] = 1.0);
        for (l, layer) in self.layers.iter().enumerate() {
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let out = &mut j_next[..fo * n];
            matmul(
                MatMut::from_row_major_slice_mut(out, fo, n),
                Accum::Replace,
                MatRef::from_row_major_slice(&params[layer.weight..layer.bias], fo, fi),
                MatRef::from_row_major_slice(&j_cur[..fi * n], fi, n),
                1.0,
                Par::Seq,
            );
            for (row, &a) in out.chunks_exact_mut(n).zip(&ws.acts[l + 1][..fo]) {
                let d = layer.activation.derivative_from_output(a);
                row.iter_mut().for_each(|v| *v *= d);
            }
            std::mem::swap(j_cur, j_next);
        }
        jac.copy_from_slice(&j_cur[..self.arch.outputs * n]);
    }
}

/// Buffers of the passes, sized once for a largest batch and reused.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    rows: usize,
    width: usize,
    /// `acts[0]` the input batch, `acts[l + 1]` layer `l`'s output.
    acts: Vec<Vec<f64>>,
    delta: [Vec<f64>; 2],
    jac: [Vec<f64>; 2],
    /// One layer's transposed weights.
    wt: Vec<f64>,
}

impl Workspace {
    /// Largest batch the buffers hold.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// The input batch buffer (row-major `rows × inputs`) to fill before a pass.
    pub fn input_mut(&mut self) -> &mut [f64] {
        &mut self.acts[0]
    }
    /// The outputs of the last forward pass over `rows` samples.
    pub fn output(&self, rows: usize) -> &[f64] {
        let last = &self.acts[self.acts.len() - 1];
        &last[..rows * (last.len() / self.rows)]
    }
    /// Where the caller writes `∂L/∂output` (row-major `rows × outputs`) before a backward
    /// pass, together with the outputs it is computed from.
    pub fn output_and_grad_mut(&mut self, rows: usize) -> (&[f64], &mut [f64]) {
        let last = &self.acts[self.acts.len() - 1];
        let n = rows * (last.len() / self.rows);
        (&last[..n], &mut self.delta[0][..n])
    }
}
