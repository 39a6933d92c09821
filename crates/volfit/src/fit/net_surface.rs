//! The fitted surface of a model priced only through its surrogate net (rough Bergomi): the
//! net's grid vols at the parameters, interpolated exactly as the calibration does
//! ([`SurrogateModel`](super::SurrogateModel)): linear in `z = k/√t` at the two bracketing
//! maturities, linear in total variance between them. So the vol this surface gives at a
//! quote is the vol the fit scored there.
//!
//! Beyond the grid (used only by the arbitrage check's dense `k` grid, the reports' plots
//! and maturities beyond the grid's; a fit's quotes are all on it): beyond its strikes the
//! total variance goes on linearly in `k` with the edge's slope, held to Lee's moment
//! bounds (a flat vol there would put a concave kink at the edge, which the butterfly
//! check reads as arbitrage); beyond its maturities the vol is held at the nearest one's.

use super::error::SurfaceError;
use super::surrogate::{edge_variance, locate_zt, vol_at, EdgeGradient};
use crate::model::svi::{AsRawSvi, Svi};
use crate::model::{Domain, Smile, Surface};
use crate::surrogate::Surrogate;
use std::sync::Arc;

/// Why a parameter vector gives no [`NetSurface`].
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NetSurfaceError {
    /// The vector's length is not the net's input count.
    #[error("{got} parameters for a net of {expected} inputs")]
    Len {
        /// The net's inputs.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A parameter outside the net's training box (or not finite).
    #[error("parameter {index} = {value} outside the net's training box")]
    OutsideBox {
        /// Position in the vector.
        index: usize,
        /// Its value.
        value: f64,
    },
}

impl From<NetSurfaceError> for SurfaceError {
    fn from(e: NetSurfaceError) -> Self {
        SurfaceError::Surrogate(e.to_string())
    }
}

/// A surrogate net at one parameter vector, as a [`Surface`] (see the module docs).
#[derive(Clone, Debug)]
pub struct NetSurface {
    net: Arc<Surrogate>,
    x: Vec<f64>,
    /// The grid vols at `x`.
    vols: Vec<f64>,
    /// Their Jacobian, `jac[g·n + j] = ∂vols_g/∂x_j`.
    jac: Vec<f64>,
}

impl NetSurface {
    /// The net's surface at `x`.
    ///
    /// # Errors
    /// [`NetSurfaceError`] when `x` has the wrong length or leaves the training box.
    pub fn new(net: Arc<Surrogate>, x: &[f64]) -> Result<Self, NetSurfaceError> {
        let n = net.num_params();
        if x.len() != n {
            return Err(NetSurfaceError::Len { expected: n, got: x.len() });
        }
        let b = &net.info().bounds;
        for (index, ((&value, &lo), &hi)) in x.iter().zip(&b.lower).zip(&b.upper).enumerate() {
            if !(value >= lo && value <= hi) {
                return Err(NetSurfaceError::OutsideBox { index, value });
            }
        }
        let g = net.info().grid.len();
        let (mut vols, mut jac) = (vec![0.0; g], vec![0.0; g * n]);
        net.surface_jacobian(x, &mut vols, &mut jac);
        Ok(NetSurface { net, x: x.to_vec(), vols, jac })
    }

    /// The vol at `(k, t)` (and its gradient into `grad` when given; NaN where the net's
    /// interpolated vol is not positive).
    fn vol(&self, k: f64, t: f64, grad: Option<&mut [f64]>) -> f64 {
        let grid = &self.net.info().grid;
        let (tm, zs) = (&grid.maturities, &grid.z);
        let (Some(&t0), Some(&tn), Some(&z0), Some(&zn)) =
            (tm.first(), tm.last(), zs.first(), zs.last())
        else {
            return f64::NAN;
        };
        let tc = t.clamp(t0, tn);
        let z = k / t.sqrt();
        if z < z0 || z > zn {
            return self.wing_vol(k, t, tc, z < z0, grad);
        }
        let Some(cell) = locate_zt(grid, z, tc) else { return f64::NAN };
        let d = grad.map(|row| (self.jac.as_slice(), row));
        vol_at(grid, &self.vols, d, &cell, tc).unwrap_or(f64::NAN)
    }

    /// The vol at `(k, t)` beyond the grid's strikes (`left`: below `z₀`), `tc` being `t`
    /// clamped into the maturities: the total variance continued linearly in `k` from the
    /// edge with the edge's slope, which keeps the smile C¹ there (no kink for the
    /// butterfly check to flag), the slope held to Lee's moment bounds (`−2 ≤ w' ≤ 0` on the
    /// left, `0 ≤ w' ≤ 2` on the right) so the wing never falls.
    fn wing_vol(&self, k: f64, t: f64, tc: f64, left: bool, grad: Option<&mut [f64]>) -> f64 {
        let grid = &self.net.info().grid;
        let ze = if left { grid.z[0] } else { grid.z[grid.z.len() - 1] };
        let (ke, r, sq) = (ze * t.sqrt(), t / tc, t.sqrt());
        let Some((w_e, slope_z)) = edge_variance(grid, &self.vols, None, left, tc) else {
            return f64::NAN;
        };
        // w(k) = σ(z)²·t = W(z)·t/tc with z = k/√t.
        let raw = r * slope_z / sq;
        let (lo, hi) = if left { (-2.0, 0.0) } else { (0.0, 2.0) };
        let slope = raw.clamp(lo, hi);
        let w = r * w_e + slope * (k - ke);
        let s = (w / t).sqrt();
        if let Some(g) = grad {
            // ∂σ = ∂w/(2σt), ∂w = (t/tc)·∂W + (k − ke)·(t/tc)/√t·∂W' (the slope's term only
            // while it is not held at a bound).
            let beta = if raw > lo && raw < hi { r * (k - ke) / sq } else { 0.0 };
            let (alpha, beta) = (r / (2.0 * s * t), beta / (2.0 * s * t));
            let d = EdgeGradient { gj: &self.jac, alpha, beta, out: g };
            edge_variance(grid, &self.vols, Some(d), left, tc);
        }
        s
    }
}

impl Surface for NetSurface {
    type Slice = NetSlice;
    type Error = NetSurfaceError;
    fn num_params(&self) -> usize {
        self.x.len()
    }
    fn param_names(&self) -> Vec<String> {
        self.net.info().params.clone()
    }
    fn domains(&self, out: &mut [Domain]) {
        let b = &self.net.info().bounds;
        for ((d, &l), &u) in out.iter_mut().zip(&b.lower).zip(&b.upper) {
            *d = Domain::Interval(l, u);
        }
    }
    fn to_slice(&self, out: &mut [f64]) {
        out.copy_from_slice(&self.x);
    }
    fn with_slice(&self, x: &[f64]) -> Result<Self, Self::Error> {
        NetSurface::new(Arc::clone(&self.net), x)
    }
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        let s = self.vol(k, t, None);
        s * s * t
    }
    fn total_variance_grad(&self, k: f64, t: f64, grad: &mut [f64]) -> f64 {
        let s = self.vol(k, t, Some(grad));
        // w = σ²t: ∂w = 2σt·∂σ
        for g in grad.iter_mut() {
            *g *= 2.0 * s * t;
        }
        s * s * t
    }
    fn slice(&self, t: f64) -> NetSlice {
        NetSlice { surface: self.clone(), t }
    }
}

/// One expiry of a [`NetSurface`] (its gradient is over the net's parameters).
#[derive(Clone, Debug)]
pub struct NetSlice {
    surface: NetSurface,
    t: f64,
}

impl Smile for NetSlice {
    fn num_params(&self) -> usize {
        self.surface.x.len()
    }
    fn total_variance(&self, k: f64) -> f64 {
        self.surface.total_variance(k, self.t)
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        self.surface.total_variance_grad(k, self.t, grad)
    }
}

impl AsRawSvi for NetSlice {
    /// Never: the net's smile is interpolated grid output.
    fn as_raw_svi(&self) -> Option<Svi> {
        None
    }
}
