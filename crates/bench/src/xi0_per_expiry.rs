//! Rough Bergomi through its net with **one flat ξ₀ per expiry** (issue 18's model
//! comparison): H, η and ρ are shared by the surface, and each expiry's smile is the net's at
//! `(H, η, ρ, ξ₀,ₑ)`. The ATM level's term structure is then free (as SSVI's θ(t) is), and
//! what is left to compare is the smile *shape* rough Bergomi gives each maturity.
//!
//! It approximates a forward-variance curve ξ₀(t): the smile at expiry `T` depends on ξ₀
//! over `[0, T]`, and this reads it as if ξ₀ were flat there at that expiry's level. It is a
//! measurement for `model_compare`, not a model `volfit fit` offers.

use std::ops::Range;
use std::sync::Mutex;
use volfit::fit::{calibrate, on_grid, select_targets, Calibration, FitSpec, SurrogateModel};
use volfit::fit::{FitError, VolModel};
use volfit::market::{iso8601, Snapshot};
use volfit::model::Domain;
use volfit::objective::Target;
use volfit::surrogate::Surrogate;

/// The shared parameters (H, η, ρ), then one ξ₀ per expiry group.
const SHARED: usize = 3;

/// The family: one [`SurrogateModel`] per expiry group over its own targets.
pub struct Xi0PerExpiry<'a> {
    net: &'a Surrogate,
    groups: Vec<(Range<usize>, SurrogateModel<'a>)>,
    /// One group's Jacobian over (H, η, ρ, ξ₀), reused across evaluations.
    scratch: Mutex<Vec<f64>>,
}

impl<'a> Xi0PerExpiry<'a> {
    /// The family over `targets`, which are sorted by expiry, with `ranges` the expiry
    /// groups; every target must lie on the net's grid.
    ///
    /// # Errors
    /// The index of the first target off the grid.
    pub fn new(
        net: &'a Surrogate,
        targets: &[Target],
        ranges: Vec<Range<usize>>,
    ) -> Result<Self, usize> {
        let groups = ranges
            .into_iter()
            .map(|r| {
                let m = SurrogateModel::new(net, &targets[r.clone()]).map_err(|i| r.start + i)?;
                Ok((r, m))
            })
            .collect::<Result<Vec<_>, usize>>()?;
        let widest = groups.iter().map(|(r, _)| r.len()).max().unwrap_or(0);
        let scratch = Mutex::new(vec![0.0; widest * (SHARED + 1)]);
        Ok(Xi0PerExpiry { net, groups, scratch })
    }
}

impl VolModel for Xi0PerExpiry<'_> {
    fn num_params(&self) -> usize {
        SHARED + self.groups.len()
    }
    fn param_names(&self) -> Vec<String> {
        let p = &self.net.info().params;
        let xi = (0..self.groups.len()).map(|e| format!("{}_{e}", p[SHARED]));
        p[..SHARED].iter().cloned().chain(xi).collect()
    }
    /// The net's box: its own for (H, η, ρ), its ξ₀ interval for every expiry's ξ₀.
    fn domains(&self) -> Vec<Domain> {
        let b = &self.net.info().bounds;
        let d = |i: usize| Domain::Interval(b.lower[i], b.upper[i]);
        (0..SHARED).map(d).chain((0..self.groups.len()).map(|_| d(SHARED))).collect()
    }
    fn vols(
        &self,
        x: &[f64],
        targets: &[Target],
        sigma: &mut [f64],
        mut jac: Option<&mut [f64]>,
    ) -> Option<()> {
        let n = self.num_params();
        let mut inner = [0.0; SHARED + 1];
        inner[..SHARED].copy_from_slice(&x[..SHARED]);
        let mut scratch = self.scratch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (e, (r, model)) in self.groups.iter().enumerate() {
            inner[SHARED] = x[SHARED + e];
            let (ts, s) = (&targets[r.clone()], &mut sigma[r.clone()]);
            let Some(jac) = jac.as_deref_mut() else {
                model.vols(&inner, ts, s, None)?;
                continue;
            };
            let gj = &mut scratch[..r.len() * (SHARED + 1)];
            model.vols(&inner, ts, s, Some(gj))?;
            for (row, g) in jac[r.start * n..r.end * n].chunks_mut(n).zip(gj.chunks(SHARED + 1)) {
                row.fill(0.0);
                row[..SHARED].copy_from_slice(&g[..SHARED]);
                row[SHARED + e] = g[SHARED];
            }
        }
        Some(())
    }
}

/// The on-grid targets of `snap` under `spec` (the quotes rough Bergomi's flat fit uses),
/// grouped by expiry: the targets, their expiry labels, and each expiry's range.
pub fn grid_targets(
    snap: &Snapshot,
    spec: &FitSpec,
    net: &Surrogate,
) -> (Vec<Target>, Vec<String>, Vec<Range<usize>>) {
    let (mut targets, mut labels, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
    for e in &snap.expiries {
        let all = select_targets(e, spec);
        let start = targets.len();
        targets.extend(on_grid(&net.info().grid, &all).into_iter().map(|i| all[i]));
        if targets.len() > start {
            labels.extend(std::iter::repeat_n(iso8601(e.expiry_ms), targets.len() - start));
            ranges.push(start..targets.len());
        }
    }
    (targets, labels, ranges)
}

/// Fits the per-expiry family from the flat fit's `(H, η, ρ, ξ₀)` (every expiry's ξ₀ at
/// the flat one).
///
/// # Errors
/// As [`calibrate`]; [`FitError::Infeasible`] when a target is off the grid.
pub fn fit(
    net: &Surrogate,
    spec: &FitSpec,
    targets: &[Target],
    ranges: Vec<Range<usize>>,
    flat: &[f64],
) -> Result<Calibration, FitError> {
    let groups = ranges.len();
    let model = Xi0PerExpiry::new(net, targets, ranges).map_err(|_| FitError::Infeasible)?;
    let b = &net.info().bounds;
    let inside = |i: usize, v: f64| {
        let eps = 1e-6 * (b.upper[i] - b.lower[i]);
        v.clamp(b.lower[i] + eps, b.upper[i] - eps)
    };
    let x0: Vec<f64> = (0..SHARED)
        .map(|i| inside(i, flat[i]))
        .chain((0..groups).map(|_| inside(SHARED, flat[SHARED])))
        .collect();
    calibrate(&model, targets, spec, &x0, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slices::tests::target;

    #[test]
    fn equal_xi0s_are_the_flat_net_and_the_jacobian_splits_its_xi0_column() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/rbergomi.safetensors");
        let net = Surrogate::load(std::path::Path::new(path)).unwrap();
        let ts: [f64; 3] = [3.0 / 365.0, 20.0 / 365.0, 0.3];
        let targets: Vec<Target> = ts
            .iter()
            .flat_map(|&t| {
                (0..5).map(move |j: i32| target((-0.8 + 0.4 * f64::from(j)) * t.sqrt(), t))
            })
            .collect();
        let ranges = vec![0..5, 5..10, 10..15];
        let per = Xi0PerExpiry::new(&net, &targets, ranges).unwrap();
        let flat = SurrogateModel::new(&net, &targets).unwrap();
        let x = [0.12, 1.8, -0.6, 0.3];
        let (m, n) = (targets.len(), per.num_params());
        let (mut s_flat, mut j_flat) = (vec![0.0; m], vec![0.0; m * 4]);
        flat.vols(&x, &targets, &mut s_flat, Some(&mut j_flat)).unwrap();
        let (mut s_per, mut j_per) = (vec![0.0; m], vec![0.0; m * n]);
        let xp = [0.12, 1.8, -0.6, 0.3, 0.3, 0.3];
        per.vols(&xp, &targets, &mut s_per, Some(&mut j_per)).unwrap();
        for r in 0..m {
            assert_eq!(s_per[r], s_flat[r], "row {r}");
            assert_eq!(j_per[r * n..r * n + 3], j_flat[r * 4..r * 4 + 3], "row {r}");
            let xi: Vec<f64> = j_per[r * n + 3..(r + 1) * n].to_vec();
            let own = r / 5;
            assert_eq!(xi[own], j_flat[r * 4 + 3], "row {r}: its expiry's ξ₀");
            assert!(xi.iter().enumerate().all(|(e, &v)| e == own || v == 0.0), "row {r}");
        }
        // Moving one expiry's ξ₀ moves only that expiry's vols.
        let moved = [0.12, 1.8, -0.6, 0.3, 0.5, 0.3];
        let mut s_moved = vec![0.0; m];
        per.vols(&moved, &targets, &mut s_moved, None).unwrap();
        for r in 0..m {
            assert_eq!(s_moved[r] == s_per[r], !(5..10).contains(&r), "row {r}");
        }
        assert_eq!(per.param_names()[3..], ["xi0_0", "xi0_1", "xi0_2"]);
    }
}
