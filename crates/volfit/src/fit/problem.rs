//! Glue between models and the optimizer: a [`VolModel`] maps a flat parameter vector to
//! model implied vols at the quotes (with exact gradients), and [`QuoteResiduals`] turns
//! those into the residuals of a [`ResidualKind`] — a `volfit_optim::Residuals` problem.
//!
//! Weights, the robust loss and penalties are applied on top by the optimizer crate's
//! robust cost; this module only knows how to measure one quote's miss.

use crate::model::{Domain, Params, Smile, Surface};
use crate::objective::{ResidualKind, Target};
use std::marker::PhantomData;
use volfit_optim::Residuals;

/// A model family seen by calibration: flat vector `x` → implied vol at each target.
pub trait VolModel {
    /// Length of `x`.
    fn num_params(&self) -> usize;
    /// Parameter names in flat-vector order.
    fn param_names(&self) -> Vec<String>;
    /// Domain of each coordinate of `x`.
    fn domains(&self) -> Vec<Domain>;
    /// Writes the model vol `σᵢ(x)` of every target and, when asked, the row-major
    /// Jacobian `∂σᵢ/∂xⱼ`. `None` when `x` is outside the model's domain or a vol does not
    /// exist there.
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()>;
}

/// Converts `w` and `∂w` (in place) into `σ = √(w/t)` and `∂σ = ∂w/(2σt)`.
pub(crate) fn vol_from_variance(w: f64, t: f64, grad: Option<&mut [f64]>) -> Option<f64> {
    if !(w > 0.0 && w.is_finite()) {
        return None;
    }
    let s = (w / t).sqrt();
    if let Some(g) = grad {
        let c = 1.0 / (2.0 * s * t);
        g.iter_mut().for_each(|v| *v *= c);
    }
    Some(s)
}

/// A single-expiry smile family `M` (SVI, SABR, …) as a [`VolModel`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SmileModel<M> {
    _model: PhantomData<M>,
}

impl<M> SmileModel<M> {
    /// The family of `M`.
    pub fn new() -> Self {
        SmileModel { _model: PhantomData }
    }
}

impl<M: Params + Smile> VolModel for SmileModel<M> {
    fn num_params(&self) -> usize {
        M::NAMES.len()
    }
    fn param_names(&self) -> Vec<String> {
        M::NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn domains(&self) -> Vec<Domain> {
        M::domain().to_vec()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let model = M::from_slice(x).ok()?;
        let n = x.len();
        match jac {
            Some(jac) => {
                for ((q, s), row) in targets.iter().zip(sigma.iter_mut()).zip(jac.chunks_mut(n)) {
                    let w = model.total_variance_grad(q.k, row);
                    *s = vol_from_variance(w, q.t, Some(row))?;
                }
            }
            None => {
                for (q, s) in targets.iter().zip(sigma.iter_mut()) {
                    *s = vol_from_variance(model.total_variance(q.k), q.t, None)?;
                }
            }
        }
        Some(())
    }
}

/// A surface family (SSVI, eSSVI, Heston, Bates) as a [`VolModel`]; `template` fixes the
/// layout (expiries, variants) and `x` moves its parameters.
#[derive(Clone, Debug)]
pub struct SurfaceModel<S> {
    template: S,
}

impl<S: Surface> SurfaceModel<S> {
    /// The family around `template`.
    pub fn new(template: S) -> Self {
        SurfaceModel { template }
    }
    /// The layout template.
    pub fn template(&self) -> &S {
        &self.template
    }
}

impl<S: Surface> VolModel for SurfaceModel<S> {
    fn num_params(&self) -> usize {
        self.template.num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.template.param_names()
    }
    fn domains(&self) -> Vec<Domain> {
        let mut d = vec![Domain::Free; self.template.num_params()];
        self.template.domains(&mut d);
        d
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let model = self.template.with_slice(x).ok()?;
        let n = x.len();
        match jac {
            Some(jac) => {
                for ((q, s), row) in targets.iter().zip(sigma.iter_mut()).zip(jac.chunks_mut(n)) {
                    let w = model.total_variance_grad(q.k, q.t, row);
                    *s = vol_from_variance(w, q.t, Some(row))?;
                }
            }
            None => {
                for (q, s) in targets.iter().zip(sigma.iter_mut()) {
                    *s = vol_from_variance(model.total_variance(q.k, q.t), q.t, None)?;
                }
            }
        }
        Some(())
    }
}

/// The residuals of a set of quotes under a model: `rᵢ(x) = kind(targetᵢ, σᵢ(x))`.
pub struct QuoteResiduals<'a, V> {
    model: &'a V,
    targets: &'a [Target],
    kind: ResidualKind,
}

impl<'a, V: VolModel> QuoteResiduals<'a, V> {
    /// Residuals of `targets` (all [`ResidualKind::usable`] for `kind`) under `model`.
    pub fn new(model: &'a V, targets: &'a [Target], kind: ResidualKind) -> Self {
        debug_assert!(targets.iter().all(|q| kind.usable(q)));
        QuoteResiduals { model, targets, kind }
    }
}

impl<V: VolModel> Residuals for QuoteResiduals<'_, V> {
    fn num_residuals(&self) -> usize {
        self.targets.len()
    }
    fn num_params(&self) -> usize {
        self.model.num_params()
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let n = x.len();
        match jac {
            Some(jac) => {
                self.model.vols(x, self.targets, r, Some(&mut *jac))?;
                for ((q, ri), row) in self.targets.iter().zip(r.iter_mut()).zip(jac.chunks_mut(n)) {
                    let (res, d) = self.kind.eval(q, *ri);
                    *ri = res;
                    row.iter_mut().for_each(|v| *v *= d);
                }
            }
            None => {
                self.model.vols(x, self.targets, r, None)?;
                for (q, ri) in self.targets.iter().zip(r.iter_mut()) {
                    *ri = self.kind.eval(q, *ri).0;
                }
            }
        }
        Some(())
    }
}
