//! Training a network: "network + dataset + robust loss" as a volfit-optim problem.
//!
//! With residuals `r_{s,o} = net(x_s)_o − y_{s,o}` (in normalised coordinates) and a
//! volfit-optim [`Loss`] ρ, the cost of sample `s` is `f_s = ½ Σ_o ρ(r_{s,o}²)` and the
//! training cost is their mean. [`Regression`] presents it three ways:
//! - [`StochasticObjective`]: the mean over any batch, gradient by backpropagation (what
//!   the mini-batch solvers train on);
//! - [`Objective`]: the same over every sample (full batch, for L-BFGS and the other
//!   deterministic solvers);
//! - [`Residuals`]: the raw `r_{s,o}` with their Jacobian w.r.t. the parameters, so that
//!   [`Regression::robust_sum`] (volfit-optim's [`RobustSum`] with weights `1/N`) is the same
//!   cost for Levenberg–Marquardt — one definition of the loss, which a test checks to 1e-12.

use crate::data::Dataset;
use crate::mlp::{Mlp, Workspace};
use crate::NnError;
use std::sync::Mutex;
use volfit_optim::{Loss, Objective, Residuals, RobustSum, StochasticObjective};

/// A network fitted to a (normalised) dataset under a robust loss.
#[derive(Debug)]
pub struct Regression<'a, L> {
    mlp: &'a Mlp,
    data: &'a Dataset,
    loss: L,
    ws: Mutex<Workspace>,
    all: Vec<usize>,
}

impl<'a, L: Loss> Regression<'a, L> {
    /// The problem of fitting `mlp` to `data` under `loss`, with buffers for batches of up to
    /// `batch` samples (they grow on demand).
    ///
    /// # Errors
    /// [`NnError::Data`] when the dataset's widths differ from the network's, or it is empty.
    pub fn new(mlp: &'a Mlp, data: &'a Dataset, loss: L, batch: usize) -> Result<Self, NnError> {
        if data.num_inputs() != mlp.inputs() || data.num_outputs() != mlp.outputs() {
            return Err(NnError::Data(format!(
                "the data is {}→{} but the network is {}→{}",
                data.num_inputs(),
                data.num_outputs(),
                mlp.inputs(),
                mlp.outputs()
            )));
        }
        if data.is_empty() {
            return Err(NnError::Data("the dataset has no samples".into()));
        }
        let ws = Mutex::new(mlp.workspace(batch));
        let all = (0..data.len()).collect();
        Ok(Regression { mlp, data, loss, ws, all })
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        self.mlp
    }
    /// The dataset.
    pub fn data(&self) -> &Dataset {
        self.data
    }

    /// The same mean cost as volfit-optim's [`RobustSum`] over [`Residuals`] with weights
    /// `1/N`, for Levenberg–Marquardt (its Jacobian is `N·outputs × params`: small problems).
    pub fn robust_sum(&self) -> RobustSum<&Self, L>
    where
        L: Clone,
    {
        let m = self.num_residuals();
        let w = vec![1.0 / self.data.len() as f64; m];
        RobustSum::new(self, self.loss.clone())
            .with_weights(w)
            .expect("weights 1/N are finite, non-negative and one per residual")
    }

    /// Runs `f` with the shared workspace, or a fresh one when another thread holds it.
    fn with_ws<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        match self.ws.try_lock() {
            Ok(mut g) => f(&mut g),
            Err(std::sync::TryLockError::Poisoned(p)) => f(&mut p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => f(&mut self.mlp.workspace(1)),
        }
    }

    /// Copies the inputs of `indices` into the workspace.
    fn gather(&self, ws: &mut Workspace, indices: &[usize]) {
        self.mlp.reserve(ws, indices.len());
        let n_in = self.mlp.inputs();
        for (row, &i) in ws.input_mut().chunks_exact_mut(n_in).zip(indices) {
            row.copy_from_slice(self.data.input(i));
        }
    }
}

impl<L: Loss> StochasticObjective for Regression<'_, L> {
    fn num_params(&self) -> usize {
        self.mlp.num_params()
    }
    fn num_samples(&self) -> usize {
        self.data.len()
    }
    fn batch_value_grad(&self, x: &[f64], indices: &[usize], grad: &mut [f64]) -> Option<f64> {
        let b = indices.len();
        let n_out = self.mlp.outputs();
        let inv = 1.0 / b as f64;
        self.with_ws(|ws| {
            self.gather(ws, indices);
            self.mlp.forward(x, ws, b);
            let (out, delta) = ws.output_and_grad_mut(b);
            let mut cost = 0.0;
            for ((o, d), &i) in
                out.chunks_exact(n_out).zip(delta.chunks_exact_mut(n_out)).zip(indices)
            {
                for ((&p, d), &y) in o.iter().zip(d).zip(self.data.target(i)) {
                    let r = p - y;
                    let [rho, drho, _] = self.loss.rho(r * r);
                    cost += rho;
                    *d = inv * drho * r;
                }
            }
            grad.iter_mut().for_each(|g| *g = 0.0);
            self.mlp.backward(x, ws, b, grad);
            let cost = 0.5 * inv * cost;
            cost.is_finite().then_some(cost)
        })
    }
    fn batch_value(&self, x: &[f64], indices: &[usize]) -> Option<f64> {
        let b = indices.len();
        let n_out = self.mlp.outputs();
        self.with_ws(|ws| {
            self.gather(ws, indices);
            self.mlp.forward(x, ws, b);
            let mut cost = 0.0;
            for (o, &i) in ws.output(b).chunks_exact(n_out).zip(indices) {
                for (&p, &y) in o.iter().zip(self.data.target(i)) {
                    cost += self.loss.rho((p - y) * (p - y))[0];
                }
            }
            let cost = 0.5 * cost / b as f64;
            cost.is_finite().then_some(cost)
        })
    }
}

/// The full-batch mean cost (the buffers grow to the whole dataset on first use).
impl<L: Loss> Objective for Regression<'_, L> {
    fn num_params(&self) -> usize {
        self.mlp.num_params()
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        self.batch_value_grad(x, &self.all, grad)
    }
    fn value(&self, x: &[f64]) -> Option<f64> {
        self.batch_value(x, &self.all)
    }
}

impl<L: Loss> Residuals for Regression<'_, L> {
    fn num_residuals(&self) -> usize {
        self.data.len() * self.mlp.outputs()
    }
    fn num_params(&self) -> usize {
        self.mlp.num_params()
    }
    /// Residuals `r_{s,o}` in sample-major order; the Jacobian by one backward pass per
    /// residual (one sample at a time).
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let (n_out, np) = (self.mlp.outputs(), self.mlp.num_params());
        self.with_ws(|ws| {
            let mut jac = jac;
            for s in 0..self.data.len() {
                self.gather(ws, &[s]);
                self.mlp.forward(x, ws, 1);
                let rs = &mut r[s * n_out..(s + 1) * n_out];
                for ((ri, &p), &y) in rs.iter_mut().zip(ws.output(1)).zip(self.data.target(s)) {
                    *ri = p - y;
                }
                let Some(j) = jac.as_deref_mut() else { continue };
                for o in 0..n_out {
                    let (_, delta) = ws.output_and_grad_mut(1);
                    delta
                        .iter_mut()
                        .enumerate()
                        .for_each(|(k, d)| *d = f64::from(u8::from(k == o)));
                    let row = &mut j[(s * n_out + o) * np..(s * n_out + o + 1) * np];
                    row.iter_mut().for_each(|v| *v = 0.0);
                    self.mlp.backward(x, ws, 1, row);
                }
            }
            r.iter().all(|v| v.is_finite()).then_some(())
        })
    }
}
