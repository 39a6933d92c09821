//! Glue between models and the optimizer: a [`VolModel`] maps a flat parameter vector to
//! model implied vols at the quotes (with exact gradients), and [`QuoteResiduals`] turns
//! those into the residuals of a [`ResidualKind`] — a `volfit_optim::Residuals` problem.
//!
//! Weights, the robust loss and penalties are applied on top by the optimizer crate's
//! robust cost; this module only knows how to measure one quote's miss.

use super::penalty::SviButterfly;
use crate::model::cf::{CharacteristicFn, LewisValue};
use crate::model::sabr::{Sabr, SabrExpansion, SabrFixedBeta};
use crate::model::{Domain, Params, Smile, Surface};
use crate::objective::{ResidualKind, Target};
use std::marker::PhantomData;
use volfit_optim::robust::BoxedPenalty;
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
    /// A smooth static-arbitrage penalty with weight `weight`, for models whose arbitrage is
    /// not excluded by their parametrisation; `None` when not needed or not available.
    fn arbitrage_penalty(&self, _weight: f64) -> Option<BoxedPenalty> {
        None
    }
    /// Relative cost decrease below which a local solve counts as converged (the solver's
    /// `Limits::cost_tol`); 10⁻¹² unless the family says otherwise.
    fn cost_tolerance(&self) -> f64 {
        1e-12
    }
    /// Whether Levenberg–Marquardt should work in model coordinates on the domain box (see
    /// [`Surface::prefers_box_bounds`]); free coordinates unless the family says otherwise.
    fn prefers_box_bounds(&self) -> bool {
        false
    }
}

/// A family that is another one ([`inner`](Delegate::inner)) with some behaviour changed: a
/// counter, another stopping tolerance, another Jacobian. Implementing it gives the
/// [`VolModel`], every method the inner family's unless overridden here, so a wrapper names
/// only what it changes (and none forgets a method the trait gains).
pub trait Delegate {
    /// The wrapped family.
    type Inner: VolModel;
    /// The wrapped family.
    fn inner(&self) -> &Self::Inner;
    /// [`VolModel::vols`]; the inner family's unless overridden.
    fn delegate_vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        self.inner().vols(x, targets, sigma, jac)
    }
    /// [`VolModel::cost_tolerance`]; the inner family's unless overridden.
    fn delegate_cost_tolerance(&self) -> f64 {
        self.inner().cost_tolerance()
    }
    /// [`VolModel::prefers_box_bounds`]; the inner family's unless overridden.
    fn delegate_prefers_box_bounds(&self) -> bool {
        self.inner().prefers_box_bounds()
    }
}

impl<D: Delegate> VolModel for D {
    fn num_params(&self) -> usize {
        self.inner().num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.inner().param_names()
    }
    fn domains(&self) -> Vec<Domain> {
        self.inner().domains()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        self.delegate_vols(x, targets, sigma, jac)
    }
    fn arbitrage_penalty(&self, weight: f64) -> Option<BoxedPenalty> {
        self.inner().arbitrage_penalty(weight)
    }
    fn cost_tolerance(&self) -> f64 {
        self.delegate_cost_tolerance()
    }
    fn prefers_box_bounds(&self) -> bool {
        self.delegate_prefers_box_bounds()
    }
}

/// Smiles that can express a butterfly-arbitrage penalty over their own parameters.
pub trait ButterflyPenalty: Sized {
    /// The penalty with weight `weight`, if the model has one (raw SVI does; SSVI-type
    /// smiles are arbitrage-free by construction).
    fn butterfly_penalty(_weight: f64) -> Option<BoxedPenalty> {
        None
    }
}

impl ButterflyPenalty for crate::model::svi::Svi {
    fn butterfly_penalty(weight: f64) -> Option<BoxedPenalty> {
        Some(Box::new(SviButterfly::new(weight)))
    }
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

/// Where a model's total variance `w` turns into a vol at a quote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum VarianceTime {
    /// A surface `w(k, t)` at each quote's own `t` (where it was observed).
    Quote,
    /// A per-expiry smile `w(k)` at its expiry's `T` (years to expiry at the snapshot
    /// time): `σ = √(w/T)` at every quote of the slice. A dump polled over minutes observes
    /// one expiry at several `t`; what stays put over minutes is the vol, not the total
    /// variance, so the smile is a vol smile read at each quote's own `k` — the same vol
    /// [`Fitted::vol`](crate::model::Fitted::vol) scores it with.
    Slice(f64),
}

/// Fills `σ` (and, with `jac`, the rows `∂σ/∂x`) from a per-target total variance
/// `variance(q, grad_row) -> w` that writes `∂w/∂x` into `grad_row` when given, read at
/// `at`.
pub(crate) fn fill_from_variance(
    targets: &[Target],
    sigma: &mut [f64],
    jac: Option<&mut [f64]>,
    n: usize,
    at: VarianceTime,
    mut variance: impl FnMut(&Target, Option<&mut [f64]>) -> f64,
) -> Option<()> {
    let t_of = |q: &Target| match at {
        VarianceTime::Quote => q.t,
        VarianceTime::Slice(t) => t,
    };
    match jac {
        Some(jac) => {
            for ((q, s), row) in targets.iter().zip(sigma.iter_mut()).zip(jac.chunks_mut(n)) {
                let w = variance(q, Some(&mut *row));
                *s = vol_from_variance(w, t_of(q), Some(row))?;
            }
        }
        None => {
            for (q, s) in targets.iter().zip(sigma.iter_mut()) {
                *s = vol_from_variance(variance(q, None), t_of(q), None)?;
            }
        }
    }
    Some(())
}

/// A single-expiry smile family `M` (SVI, SABR, …) as a [`VolModel`]: its total variance
/// `w(k)` is the expiry's at `t`, years to expiry at the snapshot time, and the vol at every
/// quote of the slice is `√(w(k)/t)` (see `VarianceTime::Slice`).
#[derive(Clone, Debug)]
pub struct SmileModel<M> {
    t: f64,
    domains: Option<Vec<Domain>>,
    _model: PhantomData<M>,
}

impl<M> SmileModel<M> {
    /// The family of `M` at an expiry `t` years away, on its own parameter domains.
    pub fn new(t: f64) -> Self {
        SmileModel { t, domains: None, _model: PhantomData }
    }
    /// The family of `M` at an expiry `t` years away, restricted to `domains` (each inside
    /// the model's own), e.g. a box tied to the quoted moneyness range that keeps a fit out
    /// of flat, degenerate valleys.
    pub fn with_domains(t: f64, domains: Vec<Domain>) -> Self {
        SmileModel { t, domains: Some(domains), _model: PhantomData }
    }
    /// Years to the expiry at the snapshot time.
    pub fn t(&self) -> f64 {
        self.t
    }
}

impl<M: Params + Smile + ButterflyPenalty> VolModel for SmileModel<M> {
    fn num_params(&self) -> usize {
        M::NAMES.len()
    }
    fn param_names(&self) -> Vec<String> {
        M::NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn domains(&self) -> Vec<Domain> {
        self.domains.clone().unwrap_or_else(|| M::domain().to_vec())
    }
    fn arbitrage_penalty(&self, weight: f64) -> Option<BoxedPenalty> {
        M::butterfly_penalty(weight)
    }
    /// A box of its own (SVI's, tied to the quoted range) is where fits end up on an edge:
    /// solve on it with true bounds.
    fn prefers_box_bounds(&self) -> bool {
        self.domains.is_some()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let model = M::from_slice(x).ok()?;
        let at = VarianceTime::Slice(self.t);
        fill_from_variance(targets, sigma, jac, x.len(), at, |q, g| match g {
            Some(g) => model.total_variance_grad(q.k, g),
            None => model.total_variance(q.k),
        })
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
        fill_from_variance(targets, sigma, jac, x.len(), VarianceTime::Quote, |q, g| match g {
            Some(g) => model.total_variance_grad(q.k, q.t, g),
            None => model.total_variance(q.k, q.t),
        })
    }
    fn prefers_box_bounds(&self) -> bool {
        self.template.prefers_box_bounds()
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

/// Heston or Bates on a whole surface, priced one expiry at a time: one characteristic
/// function per quadrature node is shared by all strikes of an expiry, which is what makes a
/// surface fit affordable (per-quote pricing repeats the expensive part for every strike).
///
/// Built from the targets it will be asked about: they must be grouped by expiry (as
/// `fit_snapshot` concatenates them).
#[derive(Clone, Debug)]
pub struct CfSurfaceModel<M> {
    template: M,
    ks: Vec<f64>,
    groups: Vec<(f64, std::ops::Range<usize>)>,
}

impl<M> CfSurfaceModel<M> {
    /// The family of `template`'s type over `targets` (grouped by expiry).
    pub fn new(template: M, targets: &[Target]) -> Self {
        let mut groups: Vec<(f64, std::ops::Range<usize>)> = Vec::new();
        for (i, q) in targets.iter().enumerate() {
            match groups.last_mut() {
                Some((t, r)) if *t == q.t => r.end = i + 1,
                _ => groups.push((q.t, i..i + 1)),
            }
        }
        CfSurfaceModel { template, ks: targets.iter().map(|q| q.k).collect(), groups }
    }
    /// The start parameters.
    pub fn template(&self) -> &M {
        &self.template
    }
}

impl<M: CharacteristicFn> VolModel for CfSurfaceModel<M> {
    fn num_params(&self) -> usize {
        M::NAMES.len()
    }
    fn param_names(&self) -> Vec<String> {
        M::NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn domains(&self) -> Vec<Domain> {
        M::domain().to_vec()
    }
    /// 1e-9: each evaluation prices the whole surface by Fourier integrals, and
    /// Gauss–Newton converges only linearly on these large-residual fits (the cost
    /// gap shrinks ~6× per iteration near the optimum), so the last three orders of
    /// magnitude cost about four evaluations and move the RMSE in its 9th digit.
    /// QuantLib's calibration stops at 1e-8 (`EndCriteria`).
    fn cost_tolerance(&self) -> f64 {
        1e-9
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        if targets.len() != self.ks.len() {
            return None;
        }
        let model = M::from_slice(x).ok()?;
        let n = M::NAMES.len();
        let widest = self.groups.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        match jac {
            Some(jac) => {
                let mut work = vec![M::Grad::zero(); widest];
                for (t, r) in &self.groups {
                    let rows = &mut jac[r.start * n..r.end * n];
                    model.total_variance_grad_batch(
                        *t,
                        &self.ks[r.clone()],
                        &mut sigma[r.clone()],
                        rows,
                        &mut work,
                    );
                    for (s, row) in sigma[r.clone()].iter_mut().zip(rows.chunks_mut(n)) {
                        *s = vol_from_variance(*s, *t, Some(row))?;
                    }
                }
            }
            None => {
                let mut work = vec![num_complex::Complex64::from(0.0); widest];
                for (t, r) in &self.groups {
                    model.call_prices(*t, &self.ks[r.clone()], &mut sigma[r.clone()], &mut work);
                    for (s, &k) in sigma[r.clone()].iter_mut().zip(&self.ks[r.clone()]) {
                        let w = crate::model::cf::total_variance_from_call(k, *t, *s, None);
                        *s = vol_from_variance(w, *t, None)?;
                    }
                }
            }
        }
        Some(())
    }
}

/// SABR at one expiry (Obłój 2008 expansion) with β fixed or free, as a [`VolModel`] in
/// `[α, ρ, ν(, β)]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SabrModel {
    /// Forward.
    pub f: f64,
    /// Years to expiry.
    pub t: f64,
    /// β when fixed; `None` fits it.
    pub beta: Option<f64>,
}

impl SabrModel {
    /// The full `[α, ρ, ν, β]` from the flat vector.
    pub fn full(&self, x: &[f64]) -> [f64; 4] {
        [x[0], x[1], x[2], self.beta.unwrap_or_else(|| x.get(3).copied().unwrap_or(1.0))]
    }
}

impl SabrModel {
    /// `vols` with β fixed: the analytic `(α, ρ, ν)` gradient of [`SabrFixedBeta`], σ
    /// written directly (no detour through total variance), nothing allocated.
    fn vols_fixed_beta(
        &self,
        beta: f64,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let p: [f64; 3] = x.get(..3)?.try_into().ok()?;
        if x.len() != 3 || !SabrFixedBeta::admissible(p) {
            return None;
        }
        let fam = SabrFixedBeta::new(self.f, self.t, beta, SabrExpansion::Obloj2008).ok()?.at(p);
        let ok = |s: f64| (s > 0.0 && s.is_finite()).then_some(s);
        match jac {
            Some(jac) => {
                let mut g = [0.0; 3];
                for ((q, s), row) in targets.iter().zip(sigma.iter_mut()).zip(jac.chunks_mut(3)) {
                    *s = ok(fam.vol_grad(q.k, &mut g))?;
                    row.copy_from_slice(&g);
                }
            }
            None => {
                for (q, s) in targets.iter().zip(sigma.iter_mut()) {
                    *s = ok(fam.vol(q.k))?;
                }
            }
        }
        Some(())
    }
}

impl VolModel for SabrModel {
    fn num_params(&self) -> usize {
        if self.beta.is_some() {
            3
        } else {
            4
        }
    }
    fn param_names(&self) -> Vec<String> {
        Sabr::NAMES[..self.num_params()].iter().map(|s| s.to_string()).collect()
    }
    /// 10⁻¹⁰: past it the RMSE of a vol fit moves by ~10⁻¹⁰ relative; the Levenberg–Marquardt
    /// steps on to 10⁻¹² (one evaluation in six on real slices from the smile-based start)
    /// change nothing a user can see.
    fn cost_tolerance(&self) -> f64 {
        1e-10
    }
    fn domains(&self) -> Vec<Domain> {
        Sabr::domain()[..self.num_params()].to_vec()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        if let Some(beta) = self.beta {
            return self.vols_fixed_beta(beta, x, targets, sigma, jac);
        }
        let p = self.full(x);
        let smile = Sabr::new(p[0], p[1], p[2], p[3])
            .ok()?
            .smile(self.f, self.t, SabrExpansion::Obloj2008)
            .ok()?;
        let n = self.num_params();
        let mut full = [0.0; 4];
        let at = VarianceTime::Slice(self.t);
        fill_from_variance(targets, sigma, jac, n, at, |q, g| match g {
            Some(g) => {
                let w = smile.total_variance_grad(q.k, &mut full);
                g.copy_from_slice(&full[..n]);
                w
            }
            None => smile.total_variance(q.k),
        })
    }
}
