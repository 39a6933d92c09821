//! Affine normalisation of inputs and outputs, fitted on the training set and stored with
//! the weights: the network sees `(x − shift)/scale` and its outputs are mapped back by
//! `y = shift + scale·ŷ`.

use crate::data::Dataset;

/// `v ↦ (v − shift)/scale` per feature.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Affine {
    /// Per-feature shift (the training mean).
    pub shift: Vec<f64>,
    /// Per-feature scale (the training standard deviation; 1 for a constant feature).
    pub scale: Vec<f64>,
}

impl Affine {
    /// The identity map in `dim` features.
    pub fn identity(dim: usize) -> Self {
        Affine { shift: vec![0.0; dim], scale: vec![1.0; dim] }
    }

    /// Mean and population standard deviation of each column of the row-major `rows`
    /// (`dim` columns). A column whose deviation is zero or below `1e-12·(1 + |mean|)` gets
    /// scale 1, so constant features pass through shifted only.
    pub fn fit(rows: &[f64], dim: usize) -> Self {
        let n = (rows.len() / dim.max(1)).max(1) as f64;
        let mut shift = vec![0.0; dim];
        let mut scale = vec![0.0; dim];
        for row in rows.chunks_exact(dim) {
            shift.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        shift.iter_mut().for_each(|s| *s /= n);
        for row in rows.chunks_exact(dim) {
            for ((q, v), m) in scale.iter_mut().zip(row).zip(&shift) {
                *q += (v - m) * (v - m);
            }
        }
        for (q, m) in scale.iter_mut().zip(&shift) {
            let sd = (*q / n).sqrt();
            *q = if sd > 1e-12 * (1.0 + m.abs()) { sd } else { 1.0 };
        }
        Affine { shift, scale }
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.shift.len()
    }
    /// Normalises one row in place.
    pub fn forward(&self, row: &mut [f64]) {
        for ((v, s), q) in row.iter_mut().zip(&self.shift).zip(&self.scale) {
            *v = (*v - s) / q;
        }
    }
    /// Maps one normalised row back in place.
    pub fn inverse(&self, row: &mut [f64]) {
        for ((v, s), q) in row.iter_mut().zip(&self.shift).zip(&self.scale) {
            *v = s + q * *v;
        }
    }
}

/// The input and output normalisations of a network.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Applied to inputs before the first layer.
    pub input: Affine,
    /// Inverted on the last layer's outputs.
    pub output: Affine,
}

impl Normalization {
    /// Identity normalisations.
    pub fn identity(inputs: usize, outputs: usize) -> Self {
        Normalization { input: Affine::identity(inputs), output: Affine::identity(outputs) }
    }
    /// Fitted on a (training) dataset.
    pub fn fit(data: &Dataset) -> Self {
        Normalization {
            input: Affine::fit(data.inputs(), data.num_inputs()),
            output: Affine::fit(data.targets(), data.num_outputs()),
        }
    }
}
