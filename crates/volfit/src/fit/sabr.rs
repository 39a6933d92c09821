//! SABR on one expiry: a start from the smile's shape, then the fit.

use super::calibrate::{best_of, calibrate, Calibration};
use super::error::FitError;
use super::problem::{SabrModel, VolModel};
use super::spec::FitSpec;
use super::targets::{atm_vol, market_iv, quoted_range};
use crate::model::sabr::guess_from_smile;
use crate::objective::Target;

/// SABR start `[α, ρ, ν]` from a least-squares quadratic in `k` through the market vols
/// ([`guess_from_smile`] on its value, slope and curvature at `k = 0`); `None` with fewer
/// than 3 distinct strikes.
fn sabr_guess(targets: &[Target], f: f64, t: f64, beta: f64, atm: f64) -> Option<[f64; 3]> {
    // Normal equations of σ ≈ c₀ + c₁k + c₂k², with k scaled by the quoted half-width.
    let (kmin, kmax) = quoted_range(targets);
    let h = 0.5 * (kmax - kmin);
    if !(h > 1e-8) {
        return None;
    }
    let mut m = [0.0; 9];
    let mut rhs = [0.0; 3];
    for q in targets {
        let v = market_iv(q);
        if !v.is_finite() {
            continue;
        }
        let u = q.k / h;
        let basis = [1.0, u, u * u];
        for i in 0..3 {
            rhs[i] += basis[i] * v;
            for j in 0..3 {
                m[3 * i + j] += basis[i] * basis[j];
            }
        }
    }
    if !volfit_optim::linalg::cholesky(&mut m, 3) {
        return None;
    }
    volfit_optim::linalg::cholesky_solve(&m, 3, &mut rhs);
    let [c0, c1, c2] = rhs;
    let sigma0 = if c0 > 0.0 { c0 } else { atm };
    guess_from_smile(f, t, beta, sigma0, c1 / h, 2.0 * c2 / (h * h))
}

/// Where a free β starts: inside β's open domain (0, 1) — the lognormal β = 1 that crypto
/// desks fix is its edge, outside it, so a free fit started there was refused on every slice.
const FREE_BETA_START: f64 = 0.9;

/// Fits SABR (β from the spec, fixed or free) to one expiry's targets at forward `f` and
/// expiry `t`, from the warm start (when given) and from the smile's shape (a free β from 0.9).
///
/// # Errors
/// [`FitError`] when no start can be calibrated.
pub fn fit_sabr_slice(
    targets: &[Target],
    f: f64,
    t: f64,
    spec: &FitSpec,
    warm: Option<&[f64]>,
) -> Result<(Calibration, SabrModel), FitError> {
    let family = SabrModel { f, t, beta: spec.sabr_beta };
    let beta = spec.sabr_beta.unwrap_or(FREE_BETA_START);
    let atm = atm_vol(targets).unwrap_or(0.5);
    let [a, r, n] = sabr_guess(targets, f, t, beta, atm)
        .unwrap_or_else(|| [atm * f.powf(1.0 - beta), -0.1, 1.0]);
    let full = [a, r, n, beta];
    let guess = &full[..family.num_params()];
    let cal = match warm {
        None => calibrate(&family, targets, spec, guess, None)?,
        Some(w) => best_of(vec![w.to_vec(), guess.to_vec()], |x0| {
            calibrate(&family, targets, spec, x0, warm)
        })?,
    };
    Ok((cal, family))
}
