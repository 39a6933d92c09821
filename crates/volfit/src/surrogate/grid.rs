//! The fixed grid a surrogate prices on: see [`Grid`].

/// Maturities (years) × strikes in standardised moneyness `z = k/√t`: the point `(i, j)`
/// is log-moneyness `k = z_j·√t_i` at expiry `t_i`, stored row-major (maturity-major).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Grid {
    /// Expiries in years, increasing.
    pub maturities: Vec<f64>,
    /// Strikes as `k/√t`, increasing.
    pub z: Vec<f64>,
}

impl Default for Grid {
    /// 8 maturities (1 day, 3 days, 1 and 2 weeks, 1, 2, 6 and 12 months, ACT/365 and
    /// twelfths) × 11 strikes evenly on `z ∈ [−1, 1]`: 88 points, the grid of the
    /// `nn_train` benchmark.
    fn default() -> Grid {
        let d = 1.0 / 365.0;
        Grid {
            maturities: vec![d, 3.0 * d, 7.0 * d, 14.0 * d, 1.0 / 12.0, 2.0 / 12.0, 0.5, 1.0],
            z: (0..11).map(|j| -1.0 + 2.0 * f64::from(j) / 10.0).collect(),
        }
    }
}

impl Grid {
    /// The default maturities with `n` strikes evenly on `z ∈ [lo, hi]`. Real Deribit chains
    /// quote well beyond `|z| = 1` (about 29 % of the 2026 snapshots' quotes; 94 % lie within
    /// `|z| ≤ 2`, 99 % within `[−2.7, 2.7]`), which the default grid leaves to the polish:
    /// `Grid::with_z(-3.0, 3.0, 25)` covers them.
    ///
    /// # Errors
    /// A message when `lo ≥ hi`, an end is not finite or `n < 2`.
    pub fn with_z(lo: f64, hi: f64, n: usize) -> Result<Grid, String> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) || n < 2 {
            return Err(format!("grid z needs finite lo < hi and n ≥ 2, got {lo}, {hi}, {n}"));
        }
        let step = (hi - lo) / (n - 1) as f64;
        let z = (0..n).map(|j| if j == n - 1 { hi } else { lo + step * j as f64 }).collect();
        Ok(Grid { z, ..Grid::default() })
    }

    /// Number of points, maturities × strikes.
    pub fn len(&self) -> usize {
        self.maturities.len() * self.z.len()
    }

    /// True when the grid has no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that both axes are non-empty, finite and strictly increasing, and that the
    /// maturities are positive.
    ///
    /// # Errors
    /// A message naming the offending axis.
    pub fn validate(&self) -> Result<(), String> {
        for (name, axis) in [("maturities", &self.maturities), ("z", &self.z)] {
            if axis.is_empty() {
                return Err(format!("grid {name} is empty"));
            }
            if axis.iter().any(|v| !v.is_finite()) || axis.windows(2).any(|p| p[0] >= p[1]) {
                return Err(format!("grid {name} must be finite and strictly increasing"));
            }
        }
        if self.maturities[0] <= 0.0 {
            return Err("grid maturities must be positive".into());
        }
        Ok(())
    }

    /// Writes the log-moneyness of maturity `i`'s strikes into `ks` (len `z.len()`).
    pub fn strikes_into(&self, i: usize, ks: &mut [f64]) {
        let st = self.maturities[i].sqrt();
        for (k, z) in ks.iter_mut().zip(&self.z) {
            *k = z * st;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_z_grid_spans_its_ends_evenly() {
        let g = Grid::with_z(-3.0, 3.0, 25).unwrap();
        assert_eq!((g.z[0], g.z[12], g.z[24]), (-3.0, 0.0, 3.0));
        assert!(g.z.windows(2).all(|w| (w[1] - w[0] - 0.25).abs() < 1e-15));
        assert_eq!(g.maturities, Grid::default().maturities);
        assert!(g.validate().is_ok());
        assert!(Grid::with_z(1.0, -1.0, 5).is_err() && Grid::with_z(-1.0, 1.0, 1).is_err());
    }
}
