//! A fitted model of any family as one value: see [`Fitted`].

use super::bates::Bates;
use super::cf::{CfSmile, CharacteristicFn};
use super::heston::{Heston, HestonError};
use super::sabr::{Sabr, SabrError, SabrExpansion, SabrSmile};
use super::ssvi::{Essvi, Phi, Ssvi, SsviError, SsviSlice};
use super::svi::{Svi, SviError};
use super::{ModelKind, Params, Smile, Surface};
use std::collections::BTreeMap;

/// How a fitted smile moves with the forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sticky {
    /// Same log-moneyness, same vol.
    Moneyness,
    /// Same strike, same vol.
    Strike,
}

/// One expiry of a fit's layout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpiryPoint {
    /// Expiry time (ms since the epoch): the key of the expiry.
    pub expiry_ms: i64,
    /// Years to expiry at the fit.
    pub t: f64,
    /// Forward at the fit.
    pub forward: f64,
}

/// Why a [`Fitted`] could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FittedError {
    /// Per-expiry parameters were given for a surface family.
    #[error("{0} is a surface model, not fitted per expiry")]
    NotPerExpiry(ModelKind),
    /// A surface vector was given for a per-expiry family.
    #[error("{0} is fitted per expiry, not as a surface")]
    NotSurface(ModelKind),
    /// A model with no pricer of its own (rough Bergomi: priced only through its net).
    #[error("{0} has no pricer of its own: it is priced only through its surrogate net")]
    NoPricer(ModelKind),
    /// A named parameter is missing.
    #[error("parameter {0} is missing")]
    Missing(String),
    /// SVI parameters rejected.
    #[error(transparent)]
    Svi(#[from] SviError),
    /// SABR parameters rejected.
    #[error(transparent)]
    Sabr(#[from] SabrError),
    /// SSVI or eSSVI parameters rejected.
    #[error(transparent)]
    Ssvi(#[from] SsviError),
    /// Heston or Bates parameters rejected.
    #[error(transparent)]
    Heston(#[from] HestonError),
}

/// The smile of one fitted expiry, by concrete type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FittedSmile {
    /// Raw SVI.
    Svi(Svi),
    /// SABR at the expiry's forward.
    Sabr(SabrSmile),
    /// A slice of an SSVI or eSSVI surface.
    Ssvi(SsviSlice),
    /// A slice of a Heston surface.
    Heston(CfSmile<Heston>),
    /// A slice of a Bates surface.
    Bates(CfSmile<Bates>),
}

/// Forwards a [`Smile`] method to the concrete smile.
macro_rules! each_smile {
    ($s:expr, $m:ident => $e:expr) => {
        match $s {
            FittedSmile::Svi($m) => $e,
            FittedSmile::Sabr($m) => $e,
            FittedSmile::Ssvi($m) => $e,
            FittedSmile::Heston($m) => $e,
            FittedSmile::Bates($m) => $e,
        }
    };
}

impl Smile for FittedSmile {
    fn num_params(&self) -> usize {
        each_smile!(self, s => s.num_params())
    }
    fn total_variance(&self, k: f64) -> f64 {
        each_smile!(self, s => s.total_variance(k))
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        each_smile!(self, s => s.total_variance_grad(k, grad))
    }
    fn total_variance_dk(&self, k: f64) -> [f64; 3] {
        each_smile!(self, s => s.total_variance_dk(k))
    }
    fn implied_vol(&self, k: f64, t: f64) -> f64 {
        each_smile!(self, s => s.implied_vol(k, t))
    }
    fn durrleman_g(&self, k: f64) -> f64 {
        each_smile!(self, s => s.durrleman_g(k))
    }
}

/// One fitted expiry: where it was fitted and its smile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FittedSlice {
    /// Years to expiry at the fit.
    pub t: f64,
    /// Forward at the fit.
    pub forward: f64,
    /// The fitted smile.
    pub smile: FittedSmile,
}

/// The surface of a surface family.
#[derive(Clone, Debug, PartialEq)]
enum FittedSurface {
    Ssvi(Ssvi),
    Essvi(Essvi),
    Heston(Heston),
    Bates(Bates),
}

/// A fitted model of any family as one value: its smile per fitted expiry (and, for surface
/// families, the surface), rebuilt from the [`ModelKind`], the parameter layout and the
/// parameter vector(s) — or from parameters by name, as `fit.json` carries them.
///
/// Between snapshots the smile of an expiry is moved by one of two rules ([`Sticky`]):
/// - **sticky moneyness**: the vol follows the forward, same `k = ln(K/F_new)` → same vol;
/// - **sticky strike**: the vol stays with the strike, `K` → the fitted vol at
///   `k_old = ln(K/F_old)`.
///
/// Either way the fitted implied vol `σ(k) = √(w(k)/t_fit)` is carried unchanged (no
/// roll-down along the term structure).
///
/// A fitted model: its kind, its smile per fitted expiry (keyed by expiry ms) and, for
/// surface families, the surface (which also prices expiries between the fitted ones).
///
/// Built by [`Fitted::per_expiry`] or [`Fitted::surface`] from parameter vectors (what a
/// fit's warm start holds; `SnapshotResult::fitted` in `fit` does it), or by
/// [`Fitted::from_named`] from parameters by name (what `fit.json` holds).
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    kind: ModelKind,
    surface: Option<FittedSurface>,
    slices: BTreeMap<i64, FittedSlice>,
}

/// The SSVI layout template on the expiries `ts`: it fixes the φ family and the expiries;
/// every value comes from the vector passed to `with_slice`.
fn ssvi_template(ts: &[f64]) -> Result<Ssvi, SsviError> {
    let thetas: Vec<f64> = ts.iter().map(|t| 0.25 * t).collect();
    Ssvi::new(ts, &thetas, -0.2, Phi::PowerLaw { eta: 1.0, gamma: 0.4 })
}

/// The smile of a per-expiry family from its vector `x` at `(t, forward)`. SABR takes β
/// from `sabr_beta` when given, else from `x[3]`, else 1.
fn expiry_smile(
    kind: ModelKind,
    sabr_beta: Option<f64>,
    p: ExpiryPoint,
    x: &[f64],
) -> Result<FittedSmile, FittedError> {
    match kind {
        ModelKind::Svi => Ok(FittedSmile::Svi(Svi::from_slice(x)?)),
        ModelKind::Sabr => {
            let beta = sabr_beta.unwrap_or_else(|| x.get(3).copied().unwrap_or(1.0));
            let missing = |i: usize| FittedError::Missing(Sabr::NAMES[i].to_string());
            let get = |i: usize| x.get(i).copied().ok_or_else(|| missing(i));
            let sabr = Sabr::new(get(0)?, get(1)?, get(2)?, beta)?;
            Ok(FittedSmile::Sabr(sabr.smile(p.forward, p.t, SabrExpansion::Obloj2008)?))
        }
        ModelKind::Ssvi
        | ModelKind::Essvi
        | ModelKind::Heston
        | ModelKind::Bates
        | ModelKind::RBergomi => Err(FittedError::NotPerExpiry(kind)),
    }
}

/// The surface of a surface family from its vector `x` laid out on the expiries `ts`.
fn build_surface(kind: ModelKind, ts: &[f64], x: &[f64]) -> Result<FittedSurface, FittedError> {
    Ok(match kind {
        ModelKind::Ssvi => FittedSurface::Ssvi(ssvi_template(ts)?.with_slice(x)?),
        ModelKind::Essvi => {
            FittedSurface::Essvi(Essvi::from_ssvi(&ssvi_template(ts)?)?.with_slice(x)?)
        }
        ModelKind::Heston => FittedSurface::Heston(Heston::from_slice(x)?),
        ModelKind::Bates => FittedSurface::Bates(Bates::from_slice(x)?),
        ModelKind::Svi | ModelKind::Sabr => return Err(FittedError::NotSurface(kind)),
        ModelKind::RBergomi => return Err(FittedError::NoPricer(kind)),
    })
}

/// The names of a surface family's vector laid out on the expiries `ts`.
fn surface_names(kind: ModelKind, ts: &[f64]) -> Result<Vec<String>, FittedError> {
    let owned = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
    Ok(match kind {
        ModelKind::Ssvi => ssvi_template(ts)?.param_names(),
        ModelKind::Essvi => Essvi::from_ssvi(&ssvi_template(ts)?)?.param_names(),
        ModelKind::Heston => owned(Heston::NAMES),
        ModelKind::Bates => owned(Bates::NAMES),
        ModelKind::Svi | ModelKind::Sabr => return Err(FittedError::NotSurface(kind)),
        ModelKind::RBergomi => return Err(FittedError::NoPricer(kind)),
    })
}

/// The values of `names` in `params`, in order.
fn ordered<S: AsRef<str>>(
    params: &BTreeMap<String, f64>,
    names: &[S],
) -> Result<Vec<f64>, FittedError> {
    names
        .iter()
        .map(|n| {
            let n = n.as_ref();
            params.get(n).copied().ok_or_else(|| FittedError::Missing(n.to_string()))
        })
        .collect()
}

impl Fitted {
    /// A model of `kind` with no fitted expiry (what a fit that failed leaves).
    pub fn empty(kind: ModelKind) -> Fitted {
        Fitted { kind, surface: None, slices: BTreeMap::new() }
    }

    /// A per-expiry family (SVI, SABR) from each expiry's vector. SABR vectors are
    /// `[α, ρ, ν]` with β = `sabr_beta`, or `[α, ρ, ν, β]` when `sabr_beta` is `None`.
    /// Expiries whose vector does not give a valid smile are left out.
    ///
    /// # Errors
    /// [`FittedError::NotPerExpiry`] for a surface family.
    pub fn per_expiry<'a>(
        kind: ModelKind,
        sabr_beta: Option<f64>,
        slices: impl IntoIterator<Item = (ExpiryPoint, &'a [f64])>,
    ) -> Result<Fitted, FittedError> {
        if !kind.per_expiry() {
            return Err(FittedError::NotPerExpiry(kind));
        }
        let mut out = Fitted::empty(kind);
        for (p, x) in slices {
            if let Ok(smile) = expiry_smile(kind, sabr_beta, p, x) {
                out.slices.insert(p.expiry_ms, FittedSlice { t: p.t, forward: p.forward, smile });
            }
        }
        Ok(out)
    }

    /// A surface family (SSVI, eSSVI, Heston, Bates) from its vector `x` laid out on the
    /// expiries `layout` (in the fit's order); every expiry of the layout gets the
    /// surface's slice.
    ///
    /// # Errors
    /// [`FittedError::NotSurface`] for a per-expiry family; the model's error when `x` does
    /// not fit the layout or violates a constraint.
    pub fn surface(
        kind: ModelKind,
        layout: &[ExpiryPoint],
        x: &[f64],
    ) -> Result<Fitted, FittedError> {
        let ts: Vec<f64> = layout.iter().map(|p| p.t).collect();
        let surface = build_surface(kind, &ts, x)?;
        let slices = layout
            .iter()
            .map(|p| {
                let smile = match &surface {
                    FittedSurface::Ssvi(s) => FittedSmile::Ssvi(s.slice(p.t)),
                    FittedSurface::Essvi(s) => FittedSmile::Ssvi(s.slice(p.t)),
                    FittedSurface::Heston(s) => FittedSmile::Heston(s.smile(p.t)),
                    FittedSurface::Bates(s) => FittedSmile::Bates(s.smile(p.t)),
                };
                (p.expiry_ms, FittedSlice { t: p.t, forward: p.forward, smile })
            })
            .collect();
        Ok(Fitted { kind, surface: Some(surface), slices })
    }

    /// From parameters by name, as `fit.json` carries them: per-expiry families from each
    /// expiry's `params` (SABR's β from its `beta` entry, else `sabr_beta`, else 1; expiries
    /// with a missing or invalid parameter are left out), surface families from
    /// `surface_params` laid out on the expiries in the given order (the report rebuilds a
    /// `SnapshotFit` with `expiries` = its `(expiry, t, forward)` and `params`, and
    /// `surface_params`).
    ///
    /// # Errors
    /// For surface families: [`FittedError::Missing`] when `surface_params` is `None` or
    /// lacks a name, or the model's error.
    pub fn from_named(
        kind: ModelKind,
        sabr_beta: Option<f64>,
        expiries: &[(ExpiryPoint, &BTreeMap<String, f64>)],
        surface_params: Option<&BTreeMap<String, f64>>,
    ) -> Result<Fitted, FittedError> {
        let names: &[&str] = match kind {
            ModelKind::Svi => Svi::NAMES,
            ModelKind::Sabr => &Sabr::NAMES[..3],
            ModelKind::Ssvi
            | ModelKind::Essvi
            | ModelKind::Heston
            | ModelKind::Bates
            | ModelKind::RBergomi => {
                let params =
                    surface_params.ok_or_else(|| FittedError::Missing("surface".into()))?;
                let layout: Vec<ExpiryPoint> = expiries.iter().map(|(p, _)| *p).collect();
                let ts: Vec<f64> = layout.iter().map(|p| p.t).collect();
                let x = ordered(params, &surface_names(kind, &ts)?)?;
                return Fitted::surface(kind, &layout, &x);
            }
        };
        let vectors: Vec<(ExpiryPoint, Vec<f64>)> = expiries
            .iter()
            .filter_map(|(p, params)| {
                let mut x = ordered(params, names).ok()?;
                if kind == ModelKind::Sabr {
                    x.push(params.get("beta").copied().or(sabr_beta).unwrap_or(1.0));
                }
                Some((*p, x))
            })
            .collect();
        Fitted::per_expiry(kind, None, vectors.iter().map(|(p, x)| (*p, x.as_slice())))
    }

    /// The model family.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Number of fitted expiries.
    pub fn num_expiries(&self) -> usize {
        self.slices.len()
    }

    /// True when the expiry was fitted.
    pub fn has_expiry(&self, expiry_ms: i64) -> bool {
        self.slices.contains_key(&expiry_ms)
    }

    /// The fitted expiry `expiry_ms`, if fitted.
    pub fn slice(&self, expiry_ms: i64) -> Option<&FittedSlice> {
        self.slices.get(&expiry_ms)
    }

    /// The fitted expiries in expiry order.
    pub fn slices(&self) -> impl Iterator<Item = (i64, &FittedSlice)> {
        self.slices.iter().map(|(ms, s)| (*ms, s))
    }

    /// True when the model holds a surface (it then prices any `t`).
    pub fn is_surface(&self) -> bool {
        self.surface.is_some()
    }

    /// Model vol of strike `strike` of expiry `expiry_ms` when the forward is `forward`;
    /// `None` when the expiry was not fitted or the model variance is not positive.
    pub fn vol(&self, expiry_ms: i64, strike: f64, forward: f64, sticky: Sticky) -> Option<f64> {
        let s = self.slices.get(&expiry_ms)?;
        let k = match sticky {
            Sticky::Moneyness => (strike / forward).ln(),
            Sticky::Strike => (strike / s.forward).ln(),
        };
        let w = s.smile.total_variance(k);
        (w > 0.0 && w.is_finite()).then(|| (w / s.t).sqrt())
    }

    /// Model total variances at `ks` written into `out`: a surface at expiry `t` (any `t`;
    /// `expiry_ms` is not used), a per-expiry model on the smile of `expiry_ms` (`t` is not
    /// used). False when there is neither.
    pub fn total_variances(&self, expiry_ms: i64, t: f64, ks: &[f64], out: &mut [f64]) -> bool {
        match (&self.surface, self.slices.get(&expiry_ms)) {
            (Some(FittedSurface::Ssvi(s)), _) => s.total_variances(t, ks, out),
            (Some(FittedSurface::Essvi(s)), _) => s.total_variances(t, ks, out),
            (Some(FittedSurface::Heston(s)), _) => s.total_variances(t, ks, out),
            (Some(FittedSurface::Bates(s)), _) => s.total_variances(t, ks, out),
            (None, Some(s)) => {
                ks.iter().zip(out.iter_mut()).for_each(|(&k, w)| *w = s.smile.total_variance(k))
            }
            (None, None) => return false,
        }
        true
    }

    /// Implied vols at `ks` as [`Fitted::total_variances`] gives them (NaN where the
    /// variance or `t` is not positive); `None` when there is no smile to evaluate.
    pub fn vols(&self, expiry_ms: i64, t: f64, ks: &[f64]) -> Option<Vec<f64>> {
        let mut w = vec![f64::NAN; ks.len()];
        if !self.total_variances(expiry_ms, t, ks, &mut w) {
            return None;
        }
        Some(
            w.iter().map(|&w| if w > 0.0 && t > 0.0 { (w / t).sqrt() } else { f64::NAN }).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(expiry_ms: i64, t: f64) -> ExpiryPoint {
        ExpiryPoint { expiry_ms, t, forward: 100.0 }
    }

    #[test]
    fn per_expiry_and_named_agree() {
        let x = [0.01, 0.1, -0.3, 0.05, 0.2];
        let by_vec = Fitted::per_expiry(ModelKind::Svi, None, [(at(1, 0.5), &x[..])]).unwrap();
        let params: BTreeMap<String, f64> =
            Svi::NAMES.iter().map(|n| n.to_string()).zip(x).collect();
        let by_name =
            Fitted::from_named(ModelKind::Svi, None, &[(at(1, 0.5), &params)], None).unwrap();
        assert_eq!(by_vec, by_name);
        let svi = Svi::from_slice(&x).unwrap();
        let want = (svi.total_variance((110.0_f64 / 105.0).ln()) / 0.5).sqrt();
        assert_eq!(by_vec.vol(1, 110.0, 105.0, Sticky::Moneyness), Some(want));
        let want = (svi.total_variance((110.0_f64 / 100.0).ln()) / 0.5).sqrt();
        assert_eq!(by_vec.vol(1, 110.0, 105.0, Sticky::Strike), Some(want));
        assert_eq!(by_vec.vol(2, 110.0, 105.0, Sticky::Strike), None);
        assert!(!by_vec.is_surface());
    }

    #[test]
    fn surface_slices_and_kind_checks() {
        let x = [0.04, 1.5, 0.06, 0.7, -0.6];
        let f = Fitted::surface(ModelKind::Heston, &[at(1, 0.1), at(2, 0.5)], &x).unwrap();
        assert_eq!((f.kind(), f.num_expiries(), f.is_surface()), (ModelKind::Heston, 2, true));
        let h = Heston::from_slice(&x).unwrap();
        let mut w = [0.0; 2];
        assert!(f.total_variances(1, 0.3, &[-0.1, 0.1], &mut w));
        assert_eq!(w, [h.total_variance(-0.1, 0.3), h.total_variance(0.1, 0.3)]);
        assert!(matches!(
            Fitted::surface(ModelKind::Svi, &[at(1, 0.1)], &x),
            Err(FittedError::NotSurface(ModelKind::Svi))
        ));
        assert!(matches!(
            Fitted::per_expiry(ModelKind::Bates, None, []),
            Err(FittedError::NotPerExpiry(ModelKind::Bates))
        ));
    }
}
