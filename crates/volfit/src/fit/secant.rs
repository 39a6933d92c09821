//! The secant polish of a fit through a surrogate (issue 18): Levenberg–Marquardt on the
//! **exact** residuals with a Jacobian that is never computed exactly — the net's
//! (backprop, interpolated like the net's vols) at the surrogate's answer, then corrected by
//! Broyden's rank-1 secant update (Broyden 1965; Dennis & Schnabel 1983, §8.1) from each
//! change of the exact vols between evaluated points.
//!
//! Why: an exact Heston Jacobian costs several residual evaluations (the dual-number
//! characteristic function; `surrogate_bench` measures the ratio), and the exact fit
//! evaluates one at every trial point. Here each step costs one exact residual evaluation
//! and no exact Jacobian; the net's Jacobian is already close (the net is accurate in
//! derivatives where it is accurate in values) and the secant corrections make it exact
//! along the directions the polish moves in. The standard errors at the end come from the
//! same secant Jacobian (`fit.json`: `surrogate.std_errors_jacobian = "secant"`).
//!
//! The update is scaled by the net's box: `J ← J + (Δσ − J Δx)(D⁻² Δx)ᵀ / (Δxᵀ D⁻² Δx)`
//! with `D` the box widths, so a step in κ (tens) and one in v₀ (tenths) weigh alike; it
//! still satisfies the secant condition `J Δx = Δσ`.
//!
//! Secant methods carry state between evaluations by nature: [`SecantModel`] keeps the
//! last evaluated point, its exact vols and the current Jacobian behind a mutex. It lives
//! for one polish only (built and dropped by [`polish_secant`]), so no fit sees another's
//! state.

use super::calibrate::{calibrate, Calibration};
use super::error::FitError;
use super::problem::{Delegate, VolModel};
use super::spec::FitSpec;
use super::surrogate::{locate_zt, vol_at, Cell};
use crate::objective::Target;
use crate::surrogate::Surrogate;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What a secant polish did beyond pricing (its exact evaluations are counted by wrapping
/// the exact family in [`Counting`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecantCounts {
    /// Evaluations answered from the last point without pricing (the same `x` again).
    pub reused: u64,
    /// Broyden updates applied.
    pub updates: u64,
}

/// The secant state: the last exactly evaluated point, its vols, the current Jacobian.
#[derive(Debug)]
struct State {
    /// False until the first exact evaluation (the net's Jacobian is then taken as is).
    started: bool,
    x: Vec<f64>,
    sigma: Vec<f64>,
    jac: Vec<f64>,
    /// Scratch: `Δx` scaled by `D⁻²`, and the secant residual `Δσ − J Δx`.
    dx_scaled: Vec<f64>,
    miss: Vec<f64>,
    counts: SecantCounts,
}

/// An exact family whose Jacobian is the net's, corrected by secant updates (see the
/// module docs). Its vols are always the exact family's.
#[derive(Debug)]
pub struct SecantModel<'a, V> {
    exact: &'a V,
    cost_tol: Option<f64>,
    /// `D⁻²`: inverse squared box widths.
    inv_scale2: Vec<f64>,
    state: Mutex<State>,
}

impl<'a, V: VolModel> SecantModel<'a, V> {
    /// The secant model of `exact` on `targets`, its Jacobian started at `x0` from `net`
    /// (quotes off the net's grid take the Jacobian of their nearest grid point: z and t
    /// clamped to the grid's ends). `cost_tol` replaces the exact family's stopping
    /// tolerance when given.
    ///
    /// # Errors
    /// [`FitError::Infeasible`] when the net's vols do not exist at `x0` or the net has
    /// another number of parameters.
    pub fn new(
        exact: &'a V,
        net: &Surrogate,
        targets: &[Target],
        x0: &[f64],
        cost_tol: Option<f64>,
    ) -> Result<Self, FitError> {
        let (m, n) = (targets.len(), exact.num_params());
        if net.num_params() != n || x0.len() != n {
            return Err(FitError::Infeasible);
        }
        let jac = net_jacobian(net, targets, x0).ok_or(FitError::Infeasible)?;
        let b = &net.info().bounds;
        let inv_scale2 = b.lower.iter().zip(&b.upper).map(|(l, u)| (u - l).powi(-2)).collect();
        let state = State {
            started: false,
            x: x0.to_vec(),
            sigma: vec![0.0; m],
            jac,
            dx_scaled: vec![0.0; n],
            miss: vec![0.0; m],
            counts: SecantCounts::default(),
        };
        Ok(SecantModel { exact, cost_tol, inv_scale2, state: Mutex::new(state) })
    }

    /// The reuses and updates so far.
    pub fn counts(&self) -> SecantCounts {
        self.lock().counts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The net's Jacobian `∂σ/∂x` (row-major, targets × params) at `x`, each target's row
/// interpolated at its own `(z, t)` clamped into the grid.
fn net_jacobian(net: &Surrogate, targets: &[Target], x: &[f64]) -> Option<Vec<f64>> {
    let grid = &net.info().grid;
    let (g, n) = (grid.len(), net.num_params());
    let (mut vols, mut gj) = (vec![0.0; g], vec![0.0; g * n]);
    net.surface_jacobian(x, &mut vols, &mut gj);
    let mut jac = vec![0.0; targets.len() * n];
    let (t_lo, t_hi) = (grid.maturities[0], grid.maturities[grid.maturities.len() - 1]);
    let (z_lo, z_hi) = (grid.z[0], grid.z[grid.z.len() - 1]);
    for (q, row) in targets.iter().zip(jac.chunks_mut(n)) {
        let t = q.t.clamp(t_lo, t_hi);
        let z = (q.k / q.t.sqrt()).clamp(z_lo, z_hi);
        let c: Cell = locate_zt(grid, z, t)?;
        vol_at(grid, &vols, Some((&gj, row)), &c, t)?;
    }
    Some(jac)
}

impl State {
    /// Moves to `x` with exact vols `sigma`: the scaled Broyden update along `x − self.x`.
    fn update(&mut self, x: &[f64], sigma: &[f64], inv_scale2: &[f64]) {
        let n = x.len();
        if !self.started {
            self.started = true;
            self.x.copy_from_slice(x);
            self.sigma.copy_from_slice(sigma);
            return;
        }
        let mut denom = 0.0;
        for j in 0..n {
            let d = x[j] - self.x[j];
            self.dx_scaled[j] = d * inv_scale2[j];
            denom += d * self.dx_scaled[j];
        }
        if denom > 0.0 && denom.is_finite() {
            for (i, row) in self.jac.chunks(n).enumerate() {
                let jdx: f64 =
                    row.iter().zip(x.iter().zip(&self.x)).map(|(a, (u, v))| a * (u - v)).sum();
                self.miss[i] = (sigma[i] - self.sigma[i] - jdx) / denom;
            }
            for (row, &u) in self.jac.chunks_mut(n).zip(&self.miss) {
                row.iter_mut().zip(&self.dx_scaled).for_each(|(a, d)| *a += u * d);
            }
            self.counts.updates += 1;
        }
        self.x.copy_from_slice(x);
        self.sigma.copy_from_slice(sigma);
    }
}

impl<V: VolModel> Delegate for SecantModel<'_, V> {
    type Inner = V;
    fn inner(&self) -> &V {
        self.exact
    }
    /// The exact vols at `x` (from the last point when `x` is it), and with `jac` the
    /// secant Jacobian after the update to `x`.
    fn delegate_vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let mut s = self.lock();
        if targets.len() != s.sigma.len() {
            return None;
        }
        if s.started && x == s.x.as_slice() {
            s.counts.reused += 1;
            sigma.copy_from_slice(&s.sigma);
        } else {
            self.exact.vols(x, targets, sigma, None)?;
            s.update(x, sigma, &self.inv_scale2);
        }
        if let Some(j) = jac {
            j.copy_from_slice(&s.jac);
        }
        Some(())
    }
    fn delegate_cost_tolerance(&self) -> f64 {
        self.cost_tol.unwrap_or_else(|| self.exact.cost_tolerance())
    }
}

/// Polishes `x0` (the surrogate's answer) on the exact family `exact` by
/// Levenberg–Marquardt with the secant Jacobian of [`SecantModel`]: the objective, solver
/// and outputs are [`calibrate`]'s; only the Jacobian differs. Stops by `cost_tol` (the
/// polish tolerance) or the exact family's own.
///
/// # Errors
/// As [`calibrate`], and [`FitError::Infeasible`] when the start cannot be evaluated.
pub fn polish_secant<V: VolModel>(
    exact: &V,
    net: &Surrogate,
    targets: &[Target],
    spec: &FitSpec,
    x0: &[f64],
    prior: Option<&[f64]>,
    cost_tol: Option<f64>,
) -> Result<(Calibration, SecantCounts), FitError> {
    let model = SecantModel::new(exact, net, targets, x0, cost_tol)?;
    let cal = calibrate(&model, targets, spec, x0, prior)?;
    Ok((cal, model.counts()))
}

/// A family that counts its evaluations: vols alone, and vols with the Jacobian (what
/// `fit.json`'s `surrogate.exact_evaluations` reports, and what the tests check).
#[derive(Debug)]
pub struct Counting<'a, V> {
    inner: &'a V,
    vols: AtomicU64,
    jacobians: AtomicU64,
}

impl<'a, V> Counting<'a, V> {
    /// `inner`, counted from zero.
    pub fn new(inner: &'a V) -> Self {
        Counting { inner, vols: AtomicU64::new(0), jacobians: AtomicU64::new(0) }
    }
    /// The evaluations so far: (vols alone, vols with the Jacobian).
    pub fn counts(&self) -> (u64, u64) {
        (self.vols.load(Ordering::Relaxed), self.jacobians.load(Ordering::Relaxed))
    }
}

impl<V: VolModel> Delegate for Counting<'_, V> {
    type Inner = V;
    fn inner(&self) -> &V {
        self.inner
    }
    fn delegate_vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let counter = if jac.is_some() { &self.jacobians } else { &self.vols };
        counter.fetch_add(1, Ordering::Relaxed);
        self.inner.vols(x, targets, sigma, jac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaled_broyden_update_meets_the_secant_condition_and_is_rank_one() {
        // Two targets, three parameters, unequal scales.
        let inv_scale2 = [1.0, 1.0 / 400.0, 4.0];
        let jac0 = vec![1.0, 0.5, -2.0, 0.0, 3.0, 1.0];
        let mut s = State {
            started: true,
            x: vec![0.3, 20.0, -0.1],
            sigma: vec![0.5, 0.7],
            jac: jac0.clone(),
            dx_scaled: vec![0.0; 3],
            miss: vec![0.0; 2],
            counts: SecantCounts::default(),
        };
        let (x1, s1) = ([0.35, 23.0, -0.05], [0.61, 0.64]);
        s.update(&x1, &s1, &inv_scale2);
        let dx = [0.05, 3.0, 0.05];
        for i in 0..2 {
            let jdx: f64 = (0..3).map(|j| s.jac[i * 3 + j] * dx[j]).sum();
            let want = s1[i] - [0.5, 0.7][i];
            assert!((jdx - want).abs() < 1e-14, "row {i}: J Δx = {jdx}, Δσ = {want}");
        }
        // The change is (column) ⊗ D⁻²Δx: every row's change is proportional to it.
        for i in 0..2 {
            let c = (s.jac[i * 3] - jac0[i * 3]) / (dx[0] * inv_scale2[0]);
            for j in 0..3 {
                let d = s.jac[i * 3 + j] - jac0[i * 3 + j];
                assert!((d - c * dx[j] * inv_scale2[j]).abs() < 1e-14, "({i}, {j})");
            }
        }
        assert_eq!((s.x.as_slice(), s.sigma.as_slice()), (&x1[..], &s1[..]));
        assert_eq!(s.counts.updates, 1);
    }
}
