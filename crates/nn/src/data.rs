//! A regression dataset: row-major inputs and targets, validated at construction.

use crate::norm::Normalization;
use crate::NnError;

/// `N` samples of `inputs → targets`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    inputs: Vec<f64>,
    targets: Vec<f64>,
    n_in: usize,
    n_out: usize,
}

impl Dataset {
    /// A dataset from row-major `inputs` (`N × n_in`) and `targets` (`N × n_out`).
    ///
    /// # Errors
    /// [`NnError::Data`] when a width is zero, the lengths do not give the same `N`, or a
    /// value is not finite (naming its row and column).
    pub fn new(
        inputs: Vec<f64>,
        targets: Vec<f64>,
        n_in: usize,
        n_out: usize,
    ) -> Result<Self, NnError> {
        if n_in == 0 || n_out == 0 {
            return Err(NnError::Data("inputs and outputs must have at least one column".into()));
        }
        if !inputs.len().is_multiple_of(n_in)
            || !targets.len().is_multiple_of(n_out)
            || inputs.len() / n_in != targets.len() / n_out
        {
            return Err(NnError::Data(format!(
                "{} input values in rows of {n_in} and {} target values in rows of {n_out} \
                 do not make the same number of samples",
                inputs.len(),
                targets.len()
            )));
        }
        for (what, v, w) in [("input", &inputs, n_in), ("target", &targets, n_out)] {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(NnError::Data(format!(
                    "{what} row {} column {} is not finite ({})",
                    i / w,
                    i % w,
                    v[i]
                )));
            }
        }
        Ok(Dataset { inputs, targets, n_in, n_out })
    }

    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        self.inputs.len() / self.n_in
    }
    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
    /// Input width.
    pub fn num_inputs(&self) -> usize {
        self.n_in
    }
    /// Output width.
    pub fn num_outputs(&self) -> usize {
        self.n_out
    }
    /// All inputs, row-major.
    pub fn inputs(&self) -> &[f64] {
        &self.inputs
    }
    /// All targets, row-major.
    pub fn targets(&self) -> &[f64] {
        &self.targets
    }
    /// Sample `i`'s inputs.
    pub fn input(&self, i: usize) -> &[f64] {
        &self.inputs[i * self.n_in..(i + 1) * self.n_in]
    }
    /// Sample `i`'s targets.
    pub fn target(&self, i: usize) -> &[f64] {
        &self.targets[i * self.n_out..(i + 1) * self.n_out]
    }

    /// The dataset in the normalised coordinates of `norm`.
    ///
    /// # Errors
    /// [`NnError::Data`] when `norm`'s widths differ from the dataset's.
    pub fn normalized(&self, norm: &Normalization) -> Result<Dataset, NnError> {
        if norm.input.dim() != self.n_in || norm.output.dim() != self.n_out {
            return Err(NnError::Data(format!(
                "normalisation is {}→{} but the data is {}→{}",
                norm.input.dim(),
                norm.output.dim(),
                self.n_in,
                self.n_out
            )));
        }
        let mut d = self.clone();
        d.inputs.chunks_exact_mut(self.n_in).for_each(|r| norm.input.forward(r));
        d.targets.chunks_exact_mut(self.n_out).for_each(|r| norm.output.forward(r));
        Ok(d)
    }

    /// Splits off the samples whose index `i` has `i % every == every − 1` as a second
    /// dataset (e.g. every 5th sample for a 20 % validation set); the first keeps the rest.
    pub fn split_every(&self, every: usize) -> (Dataset, Dataset) {
        let every = every.max(2);
        let (mut a, mut b) = (Dataset::empty_like(self), Dataset::empty_like(self));
        for i in 0..self.len() {
            let d = if i % every == every - 1 { &mut b } else { &mut a };
            d.inputs.extend_from_slice(self.input(i));
            d.targets.extend_from_slice(self.target(i));
        }
        (a, b)
    }

    fn empty_like(d: &Dataset) -> Dataset {
        Dataset { inputs: Vec::new(), targets: Vec::new(), n_in: d.n_in, n_out: d.n_out }
    }
}
