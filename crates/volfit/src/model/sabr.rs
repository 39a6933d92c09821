//! The SABR implied-vol expansion: see [`Sabr`].

use super::dual::{Dual, Real};
use super::{check_len, Domain, Params, Smile};

/// Why a SABR parameter set was rejected.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SabrError {
    /// A parameter is NaN or infinite.
    #[error("SABR parameter {0} is not finite")]
    NonFinite(&'static str),
    /// `α ≤ 0`.
    #[error("SABR requires alpha > 0, got alpha = {0}")]
    NonPositiveAlpha(f64),
    /// `|ρ| ≥ 1`.
    #[error("SABR requires |rho| < 1, got rho = {0}")]
    RhoOutOfRange(f64),
    /// `ν < 0`.
    #[error("SABR requires nu >= 0, got nu = {0}")]
    NegativeNu(f64),
    /// `β ∉ [0, 1]`.
    #[error("SABR requires 0 <= beta <= 1, got beta = {0}")]
    BetaOutOfRange(f64),
    /// Non-positive forward or expiry for a smile.
    #[error("SABR smile requires forward > 0 and t > 0, got forward = {0}, t = {1}")]
    Context(f64, f64),
    /// Flat vector of the wrong length.
    #[error("SABR expects {expected} parameters, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}

/// Which leading term the expansion uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SabrExpansion {
    /// Hagan et al. (2002) eq. 2.17a, as in QuantLib's `sabrVolatility`.
    Hagan2002,
    /// Obłój (2008) corrected leading term (default).
    #[default]
    Obloj2008,
}

/// SABR lognormal implied-vol expansion (Hagan, Kumar, Lesniewski, Woodward 2002, eq. 2.17a)
/// with Obłój's (2008) correction of the leading term.
///
/// With `q = 1 − β`, `k = ln(K/F)` and `B = 1 + [q²α²/(24(FK)^q) + ρβνα/(4(FK)^(q/2))
/// + (2 − 3ρ²)ν²/24]·t`:
/// ```text
/// Hagan:  σ = α / ((FK)^(q/2) (1 + q²k²/24 + q⁴k⁴/1920)) · z/x(z) · B,  z = −(ν/α)(FK)^(q/2) k
/// Obłój:  σ = α / (F^q E(qk)) · z̃/x(z̃) · B,  z̃ = −(ν/α) F^q k E(qk),  E(y) = (eʸ − 1)/y
/// x(z) = ln((√(1 − 2ρz + z²) + z − ρ)/(1 − ρ))
/// ```
/// (Obłój's `ν ln(F/K)/x(z̃)` with `z̃ = ν(F^q − K^q)/(αq)` rewritten so β = 1 and K = F
/// are regular.) `z/x(z)` and `E` use Taylor series near 0, so the ATM limit is smooth.
/// Parameters `α > 0`, `|ρ| < 1`, `ν ≥ 0`, `β ∈ [0, 1]`; flat order `[α, ρ, ν, β]`, so
/// a fit with β fixed uses the first three coordinates ([`Sabr::with_free`]).
/// Gradients by forward-mode dual numbers ([`Dual`](crate::model::Dual)).
///
/// SABR parameters (validated).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sabr {
    alpha: f64,
    rho: f64,
    nu: f64,
    beta: f64,
}

impl Sabr {
    /// Validating constructor.
    ///
    /// # Errors
    /// [`SabrError`] naming the violated constraint.
    pub fn new(alpha: f64, rho: f64, nu: f64, beta: f64) -> Result<Sabr, SabrError> {
        for (n, v) in [("alpha", alpha), ("rho", rho), ("nu", nu), ("beta", beta)] {
            if !v.is_finite() {
                return Err(SabrError::NonFinite(n));
            }
        }
        if alpha <= 0.0 {
            return Err(SabrError::NonPositiveAlpha(alpha));
        }
        if rho.abs() >= 1.0 {
            return Err(SabrError::RhoOutOfRange(rho));
        }
        if nu < 0.0 {
            return Err(SabrError::NegativeNu(nu));
        }
        if !(0.0..=1.0).contains(&beta) {
            return Err(SabrError::BetaOutOfRange(beta));
        }
        Ok(Sabr { alpha, rho, nu, beta })
    }

    /// `[α, ρ, ν, β]`.
    pub fn params(&self) -> [f64; 4] {
        [self.alpha, self.rho, self.nu, self.beta]
    }

    /// New parameters from `[α, ρ, ν]` (β kept, the fixed-β fit) or `[α, ρ, ν, β]`.
    ///
    /// # Errors
    /// [`SabrError`] on a violated constraint or a length other than 3 or 4.
    pub fn with_free(&self, x: &[f64]) -> Result<Sabr, SabrError> {
        match x.len() {
            3 => Sabr::new(x[0], x[1], x[2], self.beta),
            4 => Sabr::new(x[0], x[1], x[2], x[3]),
            got => Err(SabrError::Length { expected: 4, got }),
        }
    }

    /// The smile at forward `f` and expiry `t`.
    ///
    /// # Errors
    /// [`SabrError::Context`] if `f` or `t` is not positive and finite.
    pub fn smile(&self, f: f64, t: f64, expansion: SabrExpansion) -> Result<SabrSmile, SabrError> {
        if !(f > 0.0 && f.is_finite() && t > 0.0 && t.is_finite()) {
            return Err(SabrError::Context(f, t));
        }
        Ok(SabrSmile { p: *self, f, t, expansion })
    }

    /// Black implied vol at strike `strike`, forward `f`, expiry `t`.
    pub fn implied_vol(&self, strike: f64, f: f64, t: f64, expansion: SabrExpansion) -> f64 {
        vol(self.alpha, self.rho, self.nu, self.beta, f, (strike / f).ln(), t, expansion)
    }
}

const SABR_DOMAIN: [Domain; 4] =
    [Domain::Positive, Domain::Interval(-1.0, 1.0), Domain::Positive, Domain::Interval(0.0, 1.0)];

impl Params for Sabr {
    const NAMES: &'static [&'static str] = &["alpha", "rho", "nu", "beta"];
    type Error = SabrError;
    fn domain() -> &'static [Domain] {
        &SABR_DOMAIN
    }
    fn to_slice(&self, out: &mut [f64]) {
        out[..4].copy_from_slice(&self.params());
    }
    fn from_slice(x: &[f64]) -> Result<Self, SabrError> {
        check_len(x, 4).map_err(|(expected, got)| SabrError::Length { expected, got })?;
        Sabr::new(x[0], x[1], x[2], x[3])
    }
}

/// A SABR smile at one forward and expiry; gradient over `[α, ρ, ν, β]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SabrSmile {
    /// Parameters.
    pub p: Sabr,
    /// Forward.
    pub f: f64,
    /// Expiry (years).
    pub t: f64,
    /// Expansion used.
    pub expansion: SabrExpansion,
}

impl Smile for SabrSmile {
    fn num_params(&self) -> usize {
        4
    }
    fn total_variance(&self, k: f64) -> f64 {
        let [a, r, n, b] = self.p.params();
        let s = vol(a, r, n, b, self.f, k, self.t, self.expansion);
        s * s * self.t
    }
    fn total_variance_grad(&self, k: f64, grad: &mut [f64]) -> f64 {
        let [a, r, n, b] = self.p.params();
        let v = |x: f64, i: usize| Dual::<f64, 4>::var(x, i);
        let s = vol(v(a, 0), v(r, 1), v(n, 2), v(b, 3), self.f, k, self.t, self.expansion);
        let w = s * s * self.t;
        grad[..4].copy_from_slice(&w.d);
        w.v
    }
}

/// `z / x(z)` with a Taylor series near 0.
fn z_over_x<R: Real>(z: R, rho: R) -> R {
    if z.value().abs() < 1e-6 {
        // x(z) = z + ρz²/2 + (3ρ²−1)z³/6 + (5ρ³−3ρ)z⁴/8 + O(z⁵).
        let r2 = rho * rho;
        let s = R::cst(1.0)
            + rho * z * 0.5
            + (r2 * 3.0 - 1.0) * z * z / 6.0
            + (r2 * rho * 5.0 - rho * 3.0) * z * z * z / 8.0;
        return R::cst(1.0) / s;
    }
    let q = z * z - rho * z * 2.0;
    let root = (q + 1.0).sqrt();
    // √(1 + q) − 1 without cancellation.
    let root_m1 = q / (root + 1.0);
    let x = if (z - rho).value() >= 0.0 {
        ((root_m1 + z) / (-rho + 1.0)).ln_1p()
    } else {
        // (√· + z − ρ)(√· − z + ρ) = 1 − ρ²: avoids cancellation for z ≪ 0.
        -((root_m1 - z) / (rho + 1.0)).ln_1p()
    };
    z / x
}

/// `(eʸ − 1)/y` with a series near 0.
fn expm1_over<R: Real>(y: R) -> R {
    if y.value().abs() < 1e-8 {
        R::cst(1.0) + y * 0.5 + y * y / 6.0
    } else {
        y.exp_m1() / y
    }
}

#[allow(clippy::too_many_arguments)]
fn vol<R: Real>(
    alpha: R,
    rho: R,
    nu: R,
    beta: R,
    f: f64,
    k: f64,
    t: f64,
    expansion: SabrExpansion,
) -> R {
    let q = -beta + 1.0;
    let lf = f.ln();
    // (FK)^(q/2) = exp(q/2 · (2 ln F + k)).
    let fkq2 = (q * (0.5 * (2.0 * lf + k))).exp();
    let b = R::cst(1.0)
        + (q * q * alpha * alpha / (fkq2 * fkq2 * 24.0)
            + rho * beta * nu * alpha / (fkq2 * 4.0)
            + (-(rho * rho) * 3.0 + 2.0) * nu * nu / 24.0)
            * t;
    match expansion {
        SabrExpansion::Hagan2002 => {
            let qk2 = q * q * (k * k);
            let den = fkq2 * (R::cst(1.0) + qk2 / 24.0 + qk2 * qk2 / 1920.0);
            let z = -(nu / alpha) * fkq2 * k;
            alpha / den * z_over_x(z, rho) * b
        }
        SabrExpansion::Obloj2008 => {
            let fq = (q * lf).exp();
            let e = expm1_over(q * k);
            let z = -(nu / alpha) * fq * e * k;
            alpha / (fq * e) * z_over_x(z, rho) * b
        }
    }
}

/// SABR vols at one forward, expiry and **fixed** β as functions of `(α, ρ, ν)`, with the
/// analytic gradient: the hot path of a fixed-β calibration.
///
/// Both expansions have the form `σ = (α/D)·ζ(z, ρ)·B` with `z = −(ν/α)·c`, where `D` and
/// `c` depend on the strike only (Obłój: `D = F^q E(qk)`, `c = D·k`; Hagan:
/// `D = (FK)^(q/2)(1 + q²k²/24 + q⁴k⁴/1920)`, `c = (FK)^(q/2)·k`) and `ζ = z/x(z)`. The
/// partials of `ζ` are closed forms: `∂x/∂z = 1/s` with `s = √(1 − 2ρz + z²)`, and
/// `∂x/∂ρ = ∫₀ᶻ w/s(w)³ dw = z²(s + 1 + ρz − 2ρ²)/((s + 1)²(1 − ρ²)s)` (written so that
/// nothing cancels near `z = 0`); `∂ζ/∂z` uses the Legendre series of `x(z)/z`
/// (`1/s(w) = Σ Pₙ(ρ)wⁿ`) for `|z| < 10⁻³`. For β = 1, `D = 1` and `c = k`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SabrFixedBeta {
    t: f64,
    beta: f64,
    q: f64,
    ln_f: f64,
    f_q: f64,
    expansion: SabrExpansion,
}

/// Per-strike constants of [`SabrFixedBeta`]: `(D, c, (FK)^(q/2))`.
type StrikeConsts = (f64, f64, f64);

impl SabrFixedBeta {
    /// The smile family at forward `f`, expiry `t` and exponent `beta`.
    ///
    /// # Errors
    /// [`SabrError::Context`] for a non-positive forward or expiry,
    /// [`SabrError::BetaOutOfRange`] for `β ∉ [0, 1]`.
    pub fn new(
        f: f64,
        t: f64,
        beta: f64,
        expansion: SabrExpansion,
    ) -> Result<SabrFixedBeta, SabrError> {
        if !(f > 0.0 && f.is_finite() && t > 0.0 && t.is_finite()) {
            return Err(SabrError::Context(f, t));
        }
        if !(0.0..=1.0).contains(&beta) {
            return Err(SabrError::BetaOutOfRange(beta));
        }
        let q = 1.0 - beta;
        let ln_f = f.ln();
        Ok(SabrFixedBeta { t, beta, q, ln_f, f_q: (q * ln_f).exp(), expansion })
    }

    #[inline]
    fn strike(&self, k: f64) -> StrikeConsts {
        if self.q == 0.0 {
            return (1.0, k, 1.0);
        }
        let q = self.q;
        let p = (q * (self.ln_f + 0.5 * k)).exp();
        match self.expansion {
            SabrExpansion::Hagan2002 => {
                let qk2 = q * q * k * k;
                (p * (1.0 + qk2 / 24.0 + qk2 * qk2 / 1920.0), p * k, p)
            }
            SabrExpansion::Obloj2008 => {
                let d = self.f_q * expm1_over(q * k);
                (d, d * k, p)
            }
        }
    }

    /// Whether `(α, ρ, ν)` is in the domain (`α > 0`, `|ρ| < 1`, `ν ≥ 0`, all finite).
    pub fn admissible(x: [f64; 3]) -> bool {
        let [a, r, n] = x;
        a > 0.0 && a.is_finite() && r.abs() < 1.0 && n >= 0.0 && n.is_finite()
    }

    /// The correction factor `B` and its partials over `(α, ρ, ν)` at `(FK)^(q/2) = p`.
    fn b_factor(&self, [a, r, n]: [f64; 3], p: f64) -> (f64, [f64; 3]) {
        let (q, be, t) = (self.q, self.beta, self.t);
        let (c1, c2) = (q * q / (24.0 * p * p), be / (4.0 * p));
        let b = 1.0 + t * (c1 * a * a + c2 * r * n * a + (2.0 - 3.0 * r * r) * n * n / 24.0);
        let db = [
            t * (2.0 * c1 * a + c2 * r * n),
            t * (c2 * n * a - 0.25 * r * n * n),
            t * (c2 * r * a + (2.0 - 3.0 * r * r) * n / 12.0),
        ];
        (b, db)
    }

    /// The smile at `x = [α, ρ, ν]` (assumed admissible, see
    /// [`SabrFixedBeta::admissible`]), with everything that does not depend on the strike
    /// computed once.
    pub fn at(&self, x: [f64; 3]) -> SabrFixedBetaAt {
        let [a, r, _] = x;
        SabrFixedBetaAt {
            fam: *self,
            x,
            inv_a: 1.0 / a,
            inv_1mr: 1.0 / (1.0 - r),
            inv_1pr: 1.0 / (1.0 + r),
            inv_1mr2: 1.0 / ((1.0 - r) * (1.0 + r)),
            b: (self.q == 0.0).then(|| self.b_factor(x, 1.0)),
        }
    }

    /// Black implied vol at log-moneyness `k` (`x = [α, ρ, ν]`, assumed admissible).
    pub fn vol(&self, x: [f64; 3], k: f64) -> f64 {
        self.at(x).vol(k)
    }

    /// Black implied vol at `k` and its gradient over `x = [α, ρ, ν]` (assumed admissible).
    pub fn vol_grad(&self, x: [f64; 3], k: f64, grad: &mut [f64; 3]) -> f64 {
        self.at(x).vol_grad(k, grad)
    }
}

/// A [`SabrFixedBeta`] smile at one parameter point ([`SabrFixedBeta::at`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SabrFixedBetaAt {
    fam: SabrFixedBeta,
    x: [f64; 3],
    inv_a: f64,
    inv_1mr: f64,
    inv_1pr: f64,
    inv_1mr2: f64,
    /// `B` and its partials when they do not depend on the strike (β = 1).
    b: Option<(f64, [f64; 3])>,
}

impl SabrFixedBetaAt {
    /// `ζ = z/x(z)` and, when `grad`, its partials `(∂ζ/∂z, ∂ζ/∂ρ)`.
    #[inline(always)]
    fn zeta(&self, z: f64, grad: bool) -> (f64, f64, f64) {
        let r = self.x[1];
        let qz = z * (z - 2.0 * r);
        if z.abs() < 1e-3 {
            // u = x/z = Σ Pₙ(ρ) zⁿ/(n + 1) (Legendre), truncation O(z⁵) < 1e-15.
            let r2 = r * r;
            let p2 = 0.5 * (3.0 * r2 - 1.0);
            let p3 = 0.5 * (5.0 * r2 - 3.0) * r;
            let p4 = (35.0 * r2 * r2 - 30.0 * r2 + 3.0) / 8.0;
            let u = 1.0 + z * (0.5 * r + z * (p2 / 3.0 + z * (0.25 * p3 + z * (0.2 * p4))));
            let zeta = 1.0 / u;
            if !grad {
                return (zeta, 0.0, 0.0);
            }
            let u_z = 0.5 * r + z * (2.0 * p2 / 3.0 + z * (0.75 * p3 + z * (0.8 * p4)));
            let s = (1.0 + qz).sqrt();
            let zeta_r = self.zeta_r(z, zeta, s);
            return (zeta, -u_z * zeta * zeta, zeta_r);
        }
        let s = (1.0 + qz).sqrt();
        let s1 = s + 1.0;
        // √(1 + q) − 1 without cancellation.
        let root_m1 = qz / s1;
        let x = if z >= r {
            ln_1p_fast((root_m1 + z) * self.inv_1mr)
        } else {
            // (s + z − ρ)(s − z + ρ) = 1 − ρ²: no cancellation for z ≪ 0.
            -ln_1p_fast((root_m1 - z) * self.inv_1pr)
        };
        if !grad {
            return (z / x, 0.0, 0.0);
        }
        // One division for the three reciprocals 1/x, 1/s and 1/((s + 1)²s).
        let s1s1 = s1 * s1;
        let inv = 1.0 / (x * s * s1s1);
        let inv_x = inv * s * s1s1;
        let zeta = z * inv_x;
        // ∂ζ/∂z = 1/x − z/(s x²) = (1/x)(1 − ζ/s).
        let zeta_z = inv_x * (1.0 - zeta * (inv * x * s1s1));
        (zeta, zeta_z, self.zeta_r_with(z, zeta, s1, inv * x))
    }

    /// `∂ζ/∂ρ = −ζ²(∂x/∂ρ)/z`, `∂x/∂ρ = z²(s + 1 + ρz − 2ρ²)/((s + 1)²(1 − ρ²)s)`.
    #[inline]
    fn zeta_r(&self, z: f64, zeta: f64, s: f64) -> f64 {
        let s1 = s + 1.0;
        self.zeta_r_with(z, zeta, s1, 1.0 / (s1 * s1 * s))
    }

    /// [`Self::zeta_r`] with `s + 1` and `1/((s + 1)²s)` given.
    #[inline]
    fn zeta_r_with(&self, z: f64, zeta: f64, s1: f64, inv_s1s1_s: f64) -> f64 {
        let r = self.x[1];
        -zeta * zeta * z * (s1 + r * z - 2.0 * r * r) * self.inv_1mr2 * inv_s1s1_s
    }

    /// `(1/D, c, B, ∂B)` at log-moneyness `k`.
    #[inline(always)]
    fn strike(&self, k: f64) -> (f64, f64, f64, [f64; 3]) {
        match self.b {
            Some((b, db)) => (1.0, k, b, db),
            None => {
                let (d, c, p) = self.fam.strike(k);
                let (b, db) = self.fam.b_factor(self.x, p);
                (1.0 / d, c, b, db)
            }
        }
    }

    /// Black implied vol at log-moneyness `k`.
    #[inline]
    pub fn vol(&self, k: f64) -> f64 {
        let (inv_d, c, b, _) = self.strike(k);
        let [a, _, n] = self.x;
        let z = -n * self.inv_a * c;
        a * inv_d * self.zeta(z, false).0 * b
    }

    /// Black implied vol at `k` and its gradient over `[α, ρ, ν]`.
    #[inline]
    pub fn vol_grad(&self, k: f64, grad: &mut [f64; 3]) -> f64 {
        let (inv_d, c, b, db) = self.strike(k);
        let [a, _, n] = self.x;
        let c_a = c * self.inv_a;
        let z = -n * c_a;
        let (zeta, zeta_z, zeta_r) = self.zeta(z, true);
        let lead = a * inv_d;
        // ∂z/∂α = νc/α², ∂z/∂ν = −c/α.
        grad[0] = inv_d * (zeta * b + b * zeta_z * n * c_a) + lead * zeta * db[0];
        grad[1] = lead * (zeta_r * b + zeta * db[1]);
        grad[2] = lead * (zeta * db[2] - b * zeta_z * c_a);
        lead * zeta * b
    }
}

/// `ln(1 + y)` for `y > −1`: `ln_1p` where it matters (small `y`), the cheaper `ln` of
/// `1 + y` elsewhere (rounding of `1 + y` costs < 5 ulp of the result for `y > ¼`).
#[inline]
fn ln_1p_fast(y: f64) -> f64 {
    if y > 0.25 {
        (1.0 + y).ln()
    } else {
        y.ln_1p()
    }
}

/// An initial `[α, ρ, ν]` at fixed β from a smile's ATM vol `σ₀`, slope `σ'` and second
/// derivative `σ''` in log-moneyness `k` (e.g. a quadratic fit of market vols).
///
/// Inverts the second-order expansion of either leading term around `k = 0` (Hagan et al.
/// 2002 §A; with `α' = α/F^q`): `σ₀ = α'B`, `σ' = −qσ₀/2 + Bρν/2`,
/// `σ''/2 = σ₀q²/12 + B(2 − 3ρ²)ν²/(12α')`, so `ρν = (2σ' + qσ₀)/B` and
/// `ν² = (6α'(σ'' − σ₀q²/6)/B + 3(ρν)²)/2`, iterating on the `t`-correction `B`. When the
/// curvature is too small for the slope (`|ρ| ≥ 1`), `ρ` is capped at ±0.9; `ν` is kept in
/// `[0.05, 50]` and `|ρ| ≤ 0.9`. `None` for non-finite or non-positive inputs.
pub fn guess_from_smile(
    f: f64,
    t: f64,
    beta: f64,
    sigma0: f64,
    slope: f64,
    curvature: f64,
) -> Option<[f64; 3]> {
    if !(f > 0.0 && t > 0.0 && sigma0 > 0.0 && (0.0..=1.0).contains(&beta)) {
        return None;
    }
    if !(f.is_finite() && t.is_finite() && sigma0.is_finite() && slope.is_finite()) {
        return None;
    }
    let curvature = if curvature.is_finite() { curvature } else { 0.0 };
    let q = 1.0 - beta;
    let (mut b, mut x) = (1.0, [sigma0, 0.0, 0.05]);
    for _ in 0..3 {
        let a = sigma0 / b;
        let rn = (2.0 * slope + q * sigma0) / b;
        let nu2 = 0.5 * (6.0 * a * (curvature - sigma0 * q * q / 6.0) / b + 3.0 * rn * rn);
        let nu = nu2.max(0.0).sqrt().max(rn.abs() / 0.9).clamp(0.05, 50.0);
        let rho = (rn / nu).clamp(-0.9, 0.9);
        let bn = 1.0
            + t * (q * q * a * a / 24.0
                + rho * beta * nu * a / 4.0
                + (2.0 - 3.0 * rho * rho) * nu * nu / 24.0);
        // A very large t-correction means the expansion is outside its range: keep the last B.
        x = [a, rho, nu];
        if !(bn > 0.2 && bn.is_finite()) {
            break;
        }
        b = bn;
    }
    let alpha = x[0] * (q * f.ln()).exp();
    (alpha.is_finite() && alpha > 0.0).then_some([alpha, x[1], x[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic fixed-β gradient against the dual-number gradient of the generic formula,
    /// over both expansions, β ∈ {0, ½, 1}, ρ up to ±0.95 and z from 0 through the series
    /// switch (|z| = 10⁻³) to |z| ≫ 1.
    #[test]
    fn fixed_beta_matches_dual_numbers() {
        let f = 95_000.0;
        let t = 0.05;
        for expansion in [SabrExpansion::Obloj2008, SabrExpansion::Hagan2002] {
            for beta in [0.0, 0.5, 1.0] {
                let fam = SabrFixedBeta::new(f, t, beta, expansion).unwrap();
                let scale = f.powf(1.0 - beta);
                for (a, r, n) in
                    [(0.5, -0.3, 1.5), (0.45, 0.95, 12.0), (0.6, -0.95, 0.0), (0.4, 0.0, 3.0)]
                {
                    let alpha = a * scale;
                    let ks = [-0.6, -0.1, -1e-3, -2e-4, -1e-7, 0.0, 1e-9, 3e-5, 9e-4, 0.02, 0.4];
                    for k in ks {
                        let mut g = [0.0; 3];
                        let s = fam.vol_grad([alpha, r, n], k, &mut g);
                        let v = fam.vol([alpha, r, n], k);
                        let d = |x: f64, i: usize| Dual::<f64, 4>::var(x, i);
                        let want =
                            vol(d(alpha, 0), d(r, 1), d(n, 2), d(beta, 3), f, k, t, expansion);
                        let tol = 1e-12 * want.v;
                        assert!(
                            (s - want.v).abs() <= tol && (v - s).abs() <= tol,
                            "{s} {v} {want:?}"
                        );
                        for i in 0..3 {
                            let w = want.d[i];
                            let tol = 1e-9 * (w.abs() + want.v / [alpha, 1.0, 1.0][i]);
                            assert!(
                                (g[i] - w).abs() <= tol,
                                "β {beta} {expansion:?} x ({alpha}, {r}, {n}) k {k}: ∂{i} {} vs {w}",
                                g[i]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fixed_beta_rejects_bad_context() {
        let e = SabrExpansion::Obloj2008;
        assert_eq!(SabrFixedBeta::new(0.0, 1.0, 1.0, e), Err(SabrError::Context(0.0, 1.0)));
        assert_eq!(SabrFixedBeta::new(1.0, 1.0, 1.5, e), Err(SabrError::BetaOutOfRange(1.5)));
        assert!(!SabrFixedBeta::admissible([0.0, 0.1, 1.0]));
        assert!(!SabrFixedBeta::admissible([0.1, 1.0, 1.0]));
        assert!(!SabrFixedBeta::admissible([0.1, 0.1, -1.0]));
        assert!(SabrFixedBeta::admissible([0.1, 0.1, 0.0]));
    }
}
