//! Calibration through a pricing surrogate (issue 18): Levenberg–Marquardt on a trained
//! network ([`Surrogate`]) with its exact input Jacobian, then, where the model has an exact
//! pricer, a polish on it from the surrogate's answer.
//!
//! ## Quotes on the grid
//! The net prices a fixed grid (maturities × `z = k/√t`). Each quote is evaluated **at its
//! own (z, t) by interpolating the net's grid output** ([`SurrogateModel`]): linear in `z`
//! at the two bracketing maturities, then linear in total variance `w = σ²t` between them
//! (calendar-natural, exact for a flat surface). The alternative — mapping the quotes onto
//! the grid — would interpolate market data (bid/ask, weights, price residuals) and so
//! change the objective; evaluating the model per quote keeps the fit's objective exactly
//! the one every other model uses ([`calibrate`]: residual kind × weight × robust loss ×
//! penalties). The Jacobian is the interpolation's chain rule on the net's exact Jacobian.
//! Quotes outside the grid (`t` or `z` beyond its ends) are left out of the surrogate stage
//! and counted in `fit.json` (`surrogate.quotes_off_grid`); the polish fits every quote.
//!
//! ## Stages
//! 1. Surrogate: LM in the box of the training data (each parameter a logistic coordinate
//!    on its box edge to edge: the net is not valid outside it), from the warm start and the
//!    model's usual start, best kept.
//! 2. Exact: with `polish` (default), LM on the exact pricer from the surrogate's answer
//!    (to the family's tolerance, or to `polish_tol`: stop once a step gains less than that
//!    share of the cost); with [`PolishMethod::Secant`] (`--polish secant`), LM on the exact
//!    residuals with the net's Jacobian corrected by Broyden updates, which prices no exact
//!    Jacobian ([`polish_secant`](super::polish_secant)); without, the exact pricer scores
//!    the surrogate's answer as it stands (no step: one exact evaluation of the vols, the
//!    standard errors from the net's Jacobian). `fit.json` says what ran
//!    (`surrogate.polish`), where the standard errors' Jacobian came from
//!    (`surrogate.std_errors_jacobian`) and the exact pricer's work
//!    (`surrogate.exact_evaluations`). Either
//!    way `fit.json` reports the exact model's fit quality, so it is comparable with a fit
//!    without surrogate.
//!
//! ## Models without a pricer of their own (rough Bergomi)
//! [`fit_rbergomi`]: the surrogate stage is the fit. Only quotes inside the net's grid enter
//! it (the others are left out, counted in `surrogate.quotes_off_grid`, and an expiry with
//! too few left is skipped with that reason); there is no polish (`surrogate.polished` and
//! `surrogate.exact_pricer` false), and the fitted surface is the net's
//! ([`NetSurface`]): the vol at a quote is the net's output interpolated as above.

use super::calibrate::{calibrate, Calibration};
use super::error::SurfaceError;
use super::net_surface::NetSurface;
use super::problem::{CfSurfaceModel, Delegate, VolModel};
use super::report::quality;
use super::result::{SnapshotResult, WarmStart};
use super::secant::{polish_secant, Counting, SecantModel};
use super::spec::FitSpec;
use super::surface::{fit_surface, fit_surface_where, SurfaceStart};
use crate::market::Snapshot;
use crate::model::svi::AsRawSvi;
use crate::model::{CharacteristicFn, Domain, Params, RBergomi, Surface};
use crate::objective::Target;
use crate::surrogate::{Grid, Surrogate, SurrogateError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `--surrogate FILE [--polish true|false]`: the net a fit goes through.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurrogateSpec {
    /// The net's safetensors file.
    pub path: PathBuf,
    /// Polish the surrogate's answer on the exact pricer (default true).
    #[serde(default = "polish_default")]
    pub polish: bool,
    /// The polish's stopping tolerance: it stops once a step lowers the cost by less than
    /// this share (actual and predicted, Levenberg–Marquardt's cost test). `None`: the exact
    /// family's own, 10⁻⁹. Near the optimum a step removes most of what is left, so `1e-2`
    /// stops within about 1 % of the optimal cost (0.5 % of the RMSE): the "same RMSE"
    /// for a fraction of the iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polish_tol: Option<f64>,
    /// How the polish gets its Jacobian (`--polish secant`: [`PolishMethod::Secant`]);
    /// absent from `fit.json` when it is the default, exact Levenberg–Marquardt.
    #[serde(default, skip_serializing_if = "PolishMethod::is_exact_lm")]
    pub polish_method: PolishMethod,
    /// The loaded net (read once by [`SurrogateSpec::load`], else on first use).
    #[serde(skip)]
    net: Option<Arc<Surrogate>>,
}

fn polish_default() -> bool {
    true
}

/// How the exact polish gets its Jacobian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolishMethod {
    /// Levenberg–Marquardt on the exact pricer with its exact Jacobian (the default).
    #[default]
    ExactLm,
    /// Levenberg–Marquardt on the exact residuals with the net's Jacobian corrected by
    /// Broyden secant updates: no exact Jacobian ([`polish_secant`](super::polish_secant)).
    Secant,
}

impl PolishMethod {
    fn is_exact_lm(&self) -> bool {
        *self == PolishMethod::ExactLm
    }
    /// The name in `fit.json` (`exact_lm`, `secant`).
    pub fn name(self) -> &'static str {
        match self {
            PolishMethod::ExactLm => "exact_lm",
            PolishMethod::Secant => "secant",
        }
    }
}

impl PartialEq for SurrogateSpec {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
            && self.polish == other.polish
            && self.polish_tol == other.polish_tol
            && self.polish_method == other.polish_method
    }
}

impl SurrogateSpec {
    /// The spec of the net at `path`, read now.
    ///
    /// # Errors
    /// [`SurrogateError`] naming the file (and header field).
    pub fn load(path: &Path, polish: bool) -> Result<Self, SurrogateError> {
        let net = Arc::new(Surrogate::load(path)?);
        Ok(SurrogateSpec {
            path: path.to_path_buf(),
            polish,
            polish_tol: None,
            polish_method: PolishMethod::ExactLm,
            net: Some(net),
        })
    }
    /// The spec with the polish's Jacobian from `method`.
    pub fn with_polish_method(mut self, method: PolishMethod) -> Self {
        self.polish_method = method;
        self
    }
    /// The spec with the polish's stopping tolerance `tol` (see [`polish_tol`](Self::polish_tol)).
    ///
    /// # Errors
    /// A message when `tol` is not in `(0, 1)`.
    pub fn with_polish_tol(mut self, tol: Option<f64>) -> Result<Self, String> {
        if let Some(t) = tol.filter(|t| !(*t > 0.0 && *t < 1.0)) {
            return Err(format!("polish tolerance must be in (0, 1), got {t}"));
        }
        self.polish_tol = tol;
        Ok(self)
    }
    /// The net (read from `path` when the spec came from a file).
    ///
    /// # Errors
    /// As [`Surrogate::load`].
    pub fn net(&self) -> Result<Arc<Surrogate>, SurrogateError> {
        match &self.net {
            Some(n) => Ok(Arc::clone(n)),
            None => Surrogate::load(&self.path).map(Arc::new),
        }
    }
}

/// What the surrogate stage did, in `fit.json` under `surrogate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateStage {
    /// The net's file.
    pub net: String,
    /// Quotes inside the net's grid (fitted by the surrogate stage).
    pub quotes_on_grid: usize,
    /// Quotes outside it (`t` or `k/√t` beyond the grid): fitted by the polish only.
    pub quotes_off_grid: usize,
    /// The surrogate's answer.
    pub params: BTreeMap<String, f64>,
    /// RMSE (vol) of the net's vols against the mid vols of the on-grid quotes.
    pub rmse_vol: f64,
    /// LM iterations of the surrogate stage.
    pub iterations: u32,
    /// Wall time of the surrogate stage (µs).
    pub time_us: u64,
    /// Whether the exact pricer polished the answer.
    pub polished: bool,
    /// Whether the model has an exact pricer (false for rough Bergomi: the fit, its vols
    /// and its surface are the net's, with no polish).
    #[serde(default = "polish_default")]
    pub exact_pricer: bool,
    /// What polished: `exact_lm`, `secant` or `none` (no polish; the exact pricer scores
    /// the surrogate's answer, or there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polish: Option<String>,
    /// Where the Jacobian behind the standard errors came from: `exact` (the exact
    /// pricer's), `secant` (the net's with the secant polish's updates) or `net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_errors_jacobian: Option<String>,
    /// Exact-pricer evaluations of the polish: vols only, and vols with the exact Jacobian
    /// (the optimizer's count; the secant polish's Jacobians are never exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_evaluations: Option<ExactEvaluations>,
}

/// Exact-pricer work of a polish, in `fit.json` under `surrogate.exact_evaluations`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactEvaluations {
    /// Evaluations of the vols alone.
    pub vols: u64,
    /// Evaluations of the vols with the exact Jacobian.
    pub jacobians: u64,
}

/// A quote's place on the grid: maturity cell `i` with weight `a` on `i + 1`, strike cell
/// `j` with weight `b` on `j + 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Cell {
    i: usize,
    a: f64,
    j: usize,
    b: f64,
}

/// The cell of `v` on the increasing `axis` and the weight on its right end, or `None`
/// outside `[axis₀, axis_last]`.
fn bracket(axis: &[f64], v: f64) -> Option<(usize, f64)> {
    let (&lo, &hi) = (axis.first()?, axis.last()?);
    if !(v >= lo && v <= hi) {
        return None;
    }
    if axis.len() == 1 {
        return Some((0, 0.0));
    }
    let i = axis.partition_point(|&x| x <= v).clamp(1, axis.len() - 1) - 1;
    Some((i, (v - axis[i]) / (axis[i + 1] - axis[i])))
}

/// The cell of `(z, t)` on `grid`, or `None` outside it.
pub(super) fn locate_zt(grid: &Grid, z: f64, t: f64) -> Option<Cell> {
    let (i, a) = bracket(&grid.maturities, t)?;
    let (j, b) = bracket(&grid.z, z)?;
    Some(Cell { i, a, j, b })
}

fn locate(grid: &Grid, q: &Target) -> Option<Cell> {
    locate_zt(grid, q.k / q.t.sqrt(), q.t)
}

/// The vol at cell `c` and `t` years from the grid vols `g`: linear in `z` at the two
/// bracketing maturities, then linear in total variance between them. With `d = (gj, row)`,
/// also its gradient into `row` from the grid vols' Jacobian `gj` (`row.len()` columns).
/// `None` where an interpolated vol is not positive.
pub(super) fn vol_at(
    grid: &Grid,
    g: &[f64],
    d: Option<(&[f64], &mut [f64])>,
    c: &Cell,
    t: f64,
) -> Option<f64> {
    let m = grid.z.len();
    let i1 = (c.i + 1).min(grid.maturities.len() - 1);
    let j1 = (c.j + 1).min(m - 1);
    let (p00, p01, p10, p11) = (c.i * m + c.j, c.i * m + j1, i1 * m + c.j, i1 * m + j1);
    let s0 = (1.0 - c.b) * g[p00] + c.b * g[p01];
    let s1 = (1.0 - c.b) * g[p10] + c.b * g[p11];
    if !(s0 > 0.0 && s1 > 0.0) {
        return None;
    }
    let (t0, t1) = (grid.maturities[c.i], grid.maturities[i1]);
    let w = (1.0 - c.a) * s0 * s0 * t0 + c.a * s1 * s1 * t1;
    let s = (w / t).sqrt();
    if let Some((gj, row)) = d {
        let n = row.len();
        // ∂σ = [(1−a)·2s₀t₀·∂s₀ + a·2s₁t₁·∂s₁] / (2σt)
        let (c0, c1) = ((1.0 - c.a) * s0 * t0 / (s * t), c.a * s1 * t1 / (s * t));
        for (p, d) in row.iter_mut().enumerate() {
            let ds0 = (1.0 - c.b) * gj[p00 * n + p] + c.b * gj[p01 * n + p];
            let ds1 = (1.0 - c.b) * gj[p10 * n + p] + c.b * gj[p11 * n + p];
            *d = c0 * ds0 + c1 * ds1;
        }
    }
    Some(s)
}

/// What [`edge_variance`] writes besides its values: `out = α·∂W + β·∂(dW/dz)` over the
/// parameters, from the grid vols' Jacobian `gj` (`out.len()` columns).
pub(super) struct EdgeGradient<'a> {
    pub gj: &'a [f64],
    pub alpha: f64,
    pub beta: f64,
    pub out: &'a mut [f64],
}

/// The total variance `W = σ²t` at the grid's edge strike (`z₀` when `left`, else the
/// last `z`) at `t` inside the grid's maturities, and its slope `dW/dz` from the edge cell
/// (the interpolation of [`vol_at`]: linear in `z` at the bracketing maturities, linear in
/// total variance between them). With `d`, also its gradient combination
/// ([`EdgeGradient`]). `None` outside the maturities.
pub(super) fn edge_variance(
    grid: &Grid,
    g: &[f64],
    mut d: Option<EdgeGradient<'_>>,
    left: bool,
    t: f64,
) -> Option<(f64, f64)> {
    let m = grid.z.len();
    let (i, a) = bracket(&grid.maturities, t)?;
    let i1 = (i + 1).min(grid.maturities.len() - 1);
    let (je, ji) = match (left, m) {
        (_, 1) => (0, 0),
        (true, _) => (0, 1),
        (false, _) => (m - 1, m - 2),
    };
    let dz = if je == ji { f64::INFINITY } else { grid.z[ji] - grid.z[je] };
    if let Some(d) = d.as_mut() {
        d.out.fill(0.0);
    }
    let (mut w, mut slope) = (0.0, 0.0);
    for (mi, wgt) in [(i, 1.0 - a), (i1, a)] {
        let tm = grid.maturities[mi];
        let (se, si) = (g[mi * m + je], g[mi * m + ji]);
        let sp = (si - se) / dz;
        w += wgt * se * se * tm;
        slope += wgt * 2.0 * se * sp * tm;
        if let Some(EdgeGradient { gj, alpha, beta, out }) = d.as_mut() {
            let n = out.len();
            for (p, o) in out.iter_mut().enumerate() {
                let (dse, dsi) = (gj[(mi * m + je) * n + p], gj[(mi * m + ji) * n + p]);
                let dw = 2.0 * se * tm * dse;
                let ds = 2.0 * tm * (dse * sp + se * (dsi - dse) / dz);
                *o += wgt * (*alpha * dw + *beta * ds);
            }
        }
    }
    Some((w, slope))
}

/// Whether the target is inside `grid`.
pub(super) fn inside_grid(grid: &Grid, q: &Target) -> bool {
    locate(grid, q).is_some()
}

/// The indices of the targets inside `grid`.
pub fn on_grid(grid: &Grid, targets: &[Target]) -> Vec<usize> {
    (0..targets.len()).filter(|&i| locate(grid, &targets[i]).is_some()).collect()
}

/// Grid vols and their Jacobian, reused across evaluations.
#[derive(Debug, Default)]
struct Scratch {
    vols: Vec<f64>,
    jac: Vec<f64>,
}

/// A surrogate net as a [`VolModel`] on a fixed set of on-grid quotes: the net prices the
/// grid, each quote's vol is interpolated at its own `(k/√t, t)` (see the module docs).
#[derive(Debug)]
pub struct SurrogateModel<'a> {
    net: &'a Surrogate,
    cells: Vec<Cell>,
    scratch: Mutex<Scratch>,
}

impl<'a> SurrogateModel<'a> {
    /// The net over `targets`.
    ///
    /// # Errors
    /// The index of the first target outside the net's grid (see [`on_grid`]).
    pub fn new(net: &'a Surrogate, targets: &[Target]) -> Result<Self, usize> {
        let grid = &net.info().grid;
        let cells: Vec<Cell> = targets
            .iter()
            .enumerate()
            .map(|(i, q)| locate(grid, q).ok_or(i))
            .collect::<Result<_, _>>()?;
        let (g, n) = (grid.len(), net.num_params());
        let scratch = Mutex::new(Scratch { vols: vec![0.0; g], jac: vec![0.0; g * n] });
        Ok(SurrogateModel { net, cells, scratch })
    }

    /// The interpolated vols (and Jacobian rows) from grid vols `g` (and `gj`).
    fn interpolate(
        &self,
        g: &[f64],
        gj: Option<&[f64]>,
        targets: &[Target],
        sigma: &mut [f64],
        mut jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let grid = &self.net.info().grid;
        let n = self.net.num_params();
        for (r, (c, q)) in self.cells.iter().zip(targets).enumerate() {
            let d = gj.zip(jac.as_deref_mut()).map(|(gj, j)| (gj, &mut j[r * n..(r + 1) * n]));
            sigma[r] = vol_at(grid, g, d, c, q.t)?;
        }
        Some(())
    }
}

impl VolModel for SurrogateModel<'_> {
    fn num_params(&self) -> usize {
        self.net.num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.net.info().params.clone()
    }
    /// The training box, edge to edge: the net is not valid outside it.
    fn domains(&self) -> Vec<Domain> {
        let b = &self.net.info().bounds;
        b.lower.iter().zip(&b.upper).map(|(&l, &u)| Domain::Interval(l, u)).collect()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        if targets.len() != self.cells.len() || x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut guard = self.scratch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Scratch { vols, jac: gj } = &mut *guard;
        match jac {
            Some(j) => {
                self.net.surface_jacobian(x, vols, gj);
                self.interpolate(vols, Some(gj), targets, sigma, Some(j))
            }
            None => {
                self.net.surface(x, vols);
                self.interpolate(vols, None, targets, sigma, None)
            }
        }
    }
}

/// A family with another stopping tolerance (the polish's, see
/// [`SurrogateSpec::polish_tol`]); everything else is `inner`'s.
struct Tolerance<'a, V> {
    inner: &'a V,
    cost_tol: f64,
}

impl<V: VolModel> Delegate for Tolerance<'_, V> {
    type Inner = V;
    fn inner(&self) -> &V {
        self.inner
    }
    fn delegate_cost_tolerance(&self) -> f64 {
        self.cost_tol
    }
}

/// `x` moved inside the box `domains` by a hair (a logistic coordinate needs it strictly
/// inside).
fn into_box(x: &[f64], domains: &[Domain]) -> Vec<f64> {
    x.iter()
        .zip(domains)
        .map(|(&v, d)| match *d {
            Domain::Interval(l, u) => v.clamp(l + 1e-6 * (u - l), u - 1e-6 * (u - l)),
            _ => v,
        })
        .collect()
}

fn surrogate_err(e: impl std::fmt::Display) -> SurfaceError {
    SurfaceError::Surrogate(e.to_string())
}

/// The surrogate stage: the net checked against the spec's model and `names`, the on-grid
/// quotes calibrated from each start.
fn surrogate_stage(
    net: &Surrogate,
    sg: &SurrogateSpec,
    spec: &FitSpec,
    names: &[String],
    targets: &[Target],
    starts: &[Vec<f64>],
    warm: Option<&[f64]>,
) -> Result<(Calibration, SurrogateStage), SurfaceError> {
    net.expect_model(spec.model.name(), &sg.path).map_err(surrogate_err)?;
    if net.info().params != names {
        let e = SurrogateError::Field {
            path: sg.path.clone(),
            field: "params",
            msg: format!("{:?}, the model's are {names:?}", net.info().params),
        };
        return Err(surrogate_err(e));
    }
    let inside: Vec<Target> =
        on_grid(&net.info().grid, targets).into_iter().map(|i| targets[i]).collect();
    let model = SurrogateModel::new(net, &inside).map_err(|_| surrogate_err("grid"))?;
    let domains = model.domains();
    let mut best: Option<Calibration> = None;
    let mut err = super::error::FitError::Infeasible;
    for x0 in starts {
        match calibrate(&model, &inside, spec, &into_box(x0, &domains), warm) {
            Ok(c) if best.as_ref().is_none_or(|b| c.minimum.cost < b.minimum.cost) => {
                best = Some(c)
            }
            Ok(_) => {}
            Err(e) => err = e,
        }
    }
    let cal = best.ok_or(err)?;
    let q = quality(
        inside.iter().zip(&cal.model_vols).map(|(t, &m)| (m, t.bid_iv, t.ask_iv, t.mid_iv)),
    );
    let stage = SurrogateStage {
        net: sg.path.display().to_string(),
        quotes_on_grid: inside.len(),
        quotes_off_grid: targets.len() - inside.len(),
        params: names.iter().cloned().zip(cal.x.iter().copied()).collect(),
        rmse_vol: q.rmse_vol,
        iterations: cal.minimum.iters,
        time_us: cal.time_us,
        polished: sg.polish,
        exact_pricer: true,
        polish: None,
        std_errors_jacobian: None,
        exact_evaluations: None,
    };
    Ok((cal, stage))
}

/// Fits a Heston-type surface (`template`'s type, exact pricer) through the surrogate of
/// `sg`, then polishes or scores on the exact pricer (see the module docs), and reports the
/// fit into `s`.
pub(super) fn fit_through<M>(
    s: &mut SurfaceStart,
    template: &M,
    sg: &SurrogateSpec,
) -> Result<(), SurfaceError>
where
    M: Surface + CharacteristicFn,
    <M as Surface>::Error: Into<SurfaceError>,
    M::Slice: AsRawSvi,
{
    let net = sg.net().map_err(surrogate_err)?;
    let spec = s.spec().clone();
    let warm = s.warm().map(<[f64]>::to_vec);
    let mut x0 = vec![0.0; Surface::num_params(template)];
    Surface::to_slice(template, &mut x0);
    let starts: Vec<Vec<f64>> = warm.iter().cloned().chain([x0]).collect();
    let names = Surface::param_names(template);
    let (cal_s, stage) =
        surrogate_stage(&net, sg, &spec, &names, s.targets(), &starts, warm.as_deref())?;
    let family = CfSurfaceModel::new(*template, s.targets());
    let counted = Counting::new(&family);
    let (mut cal, method, jacobian) =
        polish(&counted, &net, sg, &spec, s.targets(), &cal_s, warm.as_deref())?;
    let mut stage = stage;
    stage.polish = Some(method.into());
    stage.std_errors_jacobian = Some(jacobian.into());
    let (vols, jacobians) = counted.counts();
    stage.exact_evaluations = Some(ExactEvaluations { vols, jacobians });
    cal.time_us += stage.time_us;
    s.report(template, &family, &cal)?;
    s.result_mut().fit.surrogate = Some(stage);
    Ok(())
}

/// The exact stage from the surrogate's answer `cal_s`: exact LM (to `polish_tol` or the
/// family's tolerance), the secant polish, or no step (the answer scored as it stands).
/// Returns the fit, what ran (`exact_lm`, `secant`, `none`) and where the standard
/// errors' Jacobian came from (`exact`, `secant`, `net`).
fn polish<V: VolModel>(
    family: &V,
    net: &Surrogate,
    sg: &SurrogateSpec,
    spec: &FitSpec,
    targets: &[Target],
    cal_s: &Calibration,
    warm: Option<&[f64]>,
) -> Result<(Calibration, &'static str, &'static str), SurfaceError> {
    Ok(match (sg.polish, sg.polish_method) {
        (true, PolishMethod::Secant) => {
            let (c, _) = polish_secant(family, net, targets, spec, &cal_s.x, warm, sg.polish_tol)?;
            (c, "secant", "secant")
        }
        (true, PolishMethod::ExactLm) => {
            let c = match sg.polish_tol {
                Some(cost_tol) => calibrate(
                    &Tolerance { inner: family, cost_tol },
                    targets,
                    spec,
                    &cal_s.x,
                    warm,
                )?,
                None => calibrate(family, targets, spec, &cal_s.x, warm)?,
            };
            (c, "exact_lm", "exact")
        }
        (false, _) => {
            // Scored without a step: the exact vols once, the net's Jacobian (a secant
            // model that never moves) for the standard errors.
            let at = FitSpec { max_iters: 0, ..spec.clone() };
            let scored = SecantModel::new(family, net, targets, &cal_s.x, None)?;
            let mut c = calibrate(&scored, targets, &at, &cal_s.x, warm)?;
            c.minimum.stop = cal_s.minimum.stop;
            c.minimum.iters = cal_s.minimum.iters;
            c.minimum.evals = cal_s.minimum.evals;
            c.trace = cal_s.trace.clone();
            (c, "none", "net")
        }
    })
}

/// The start of a rough Bergomi fit: H = 0.1, η = 1.5, ρ = −0.6 (typical of equity and
/// crypto calibrations, Bayer–Friz–Gatheral 2016) and ξ₀ the square of the geometric mean
/// of the short and long ATM vols.
fn rbergomi_start(s: &SurfaceStart) -> Vec<f64> {
    let (short, long) = s.atm_vols();
    vec![0.1, 1.5, -0.6, short * long]
}

/// Fits rough Bergomi, which has no pricer of its own, through the net of `sg` alone: LM on
/// the net from the warm start and [`rbergomi_start`], no polish. The fit's quotes are those
/// inside the net's grid (the others are left out and counted in `surrogate.quotes_off_grid`)
/// and its surface is the net's ([`NetSurface`]), so `fit.json`'s fields mean what they mean
/// for every other model.
fn fit_net_only(
    s: &mut SurfaceStart,
    sg: &SurrogateSpec,
    net: &Arc<Surrogate>,
) -> Result<(), SurfaceError> {
    let spec = s.spec().clone();
    let warm = s.warm().map(<[f64]>::to_vec);
    let starts: Vec<Vec<f64>> = warm.iter().cloned().chain([rbergomi_start(s)]).collect();
    let names: Vec<String> = RBergomi::NAMES.iter().map(|n| n.to_string()).collect();
    let (cal, mut stage) =
        surrogate_stage(net, sg, &spec, &names, s.targets(), &starts, warm.as_deref())?;
    stage.quotes_off_grid += s.left_out();
    stage.polished = false;
    stage.exact_pricer = false;
    stage.polish = Some("none".into());
    stage.std_errors_jacobian = Some("net".into());
    let family = SurrogateModel::new(net, s.targets()).map_err(|_| surrogate_err("grid"))?;
    let template = NetSurface::new(Arc::clone(net), &cal.x)?;
    s.report(&template, &family, &cal)?;
    s.result_mut().fit.surrogate = Some(stage);
    Ok(())
}

/// Fits `snap` with rough Bergomi through the net of `spec.surrogate` (see
/// [`fit_net_only`]); without a net, or with one that does not load, the snapshot reports
/// why under `skipped`.
pub(super) fn fit_rbergomi(
    snap: &Snapshot,
    spec: &FitSpec,
    warm: Option<&WarmStart>,
) -> SnapshotResult {
    let loaded = match &spec.surrogate {
        Some(sg) => sg.net().map(|net| (sg, net)).map_err(surrogate_err),
        None => Err(SurfaceError::Surrogate(
            "rbergomi has no pricer of its own: it is fitted through a surrogate net \
             (--surrogate NET)"
                .into(),
        )),
    };
    match loaded {
        Ok((sg, net)) => {
            let grid = net.info().grid.clone();
            fit_surface_where(snap, spec, warm, &|q| inside_grid(&grid, q), |s| {
                fit_net_only(s, sg, &net)
            })
        }
        Err(e) => fit_surface(snap, spec, warm, |_| Err(e)),
    }
}
