//! Robust losses ρ(s) on squared residuals `s = r²`, with their first two derivatives.
//!
//! Contract (Ceres Solver's `LossFunction`): a residual contributes `½·ρ(s)` to the cost,
//! with `ρ(0) = 0`, `ρ'(0) = 1`, `ρ'(s) ≥ 0`. The scale `a` is in residual units, so a
//! Huber scale of 0.01 on vol residuals means one vol point; `b = a²` is the same scale
//! in `s` units. Weights multiply ρ ([`Scaled`]); they do not rescale `s`.
//!
//! The solver uses ρ' as the per-residual effective weight and ρ'' for the Triggs
//! correction of the Gauss–Newton model (see `robust`).
//!
//! | loss | ρ(s) | reference |
//! |---|---|---|
//! | [`Squared`] | `s` | |
//! | [`Huber`] | `s` for `s ≤ b`, else `2a√s − b` | Huber (1964) |
//! | [`SoftL1`], [`PseudoHuber`] | `2b(√(1 + s/b) − 1)` | Ceres `SoftLOneLoss`; Charbonnier et al. (1994) |
//! | [`Cauchy`] | `b·ln(1 + s/b)` | Ceres `CauchyLoss` |
//! | [`Arctan`] | `b·atan(s/b)` | Ceres `ArctanLoss` (with its `a` = our `b`) |
//! | [`Tukey`] | `b/3·(1 − (1 − s/b)³)` for `s ≤ b`, else `b/3` | Beaton & Tukey (1974); Ceres `TukeyLoss` |
//! | [`Tolerant`] | `β·ln(1 + e^{(s−α)/β}) − β·ln(1 + e^{−α/β})` | Ceres `TolerantLoss` |
//!
//! [`Tolerant`] and [`Scaled`] are the two documented exceptions to `ρ'(0) = 1`: the
//! tolerant loss is nearly flat below its threshold by design, and a scaled loss has
//! `ρ'(0) = w`.

use std::fmt;
use std::str::FromStr;

/// A robust loss ρ applied to a squared residual `s = r²`.
///
/// The contribution of a residual to the cost is `½·ρ(s)`. Implementations satisfy
/// `ρ(0) = 0`, `ρ'(0) = 1` and `ρ'(s) ≥ 0`; the scale is in residual units.
pub trait Loss {
    /// Returns `[ρ(s), ρ'(s), ρ''(s)]`. `s` must be non-negative.
    fn rho(&self, s: f64) -> [f64; 3];
    /// True when `ρ(s) = s` exactly (`[s, 1, 0]` for every `s`): plain least squares, which
    /// lets the robust cost skip the loss and the corrector per residual. `false` unless
    /// the loss says otherwise (always a safe answer).
    fn is_squared(&self) -> bool {
        false
    }
}

impl<L: Loss + ?Sized> Loss for &L {
    fn rho(&self, s: f64) -> [f64; 3] {
        (**self).rho(s)
    }
    fn is_squared(&self) -> bool {
        (**self).is_squared()
    }
}

impl<L: Loss + ?Sized> Loss for Box<L> {
    fn rho(&self, s: f64) -> [f64; 3] {
        (**self).rho(s)
    }
    fn is_squared(&self) -> bool {
        (**self).is_squared()
    }
}

/// Why a loss could not be built or parsed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LossError {
    /// A scale (or Tolerant's `a`/`b`) is not positive and finite.
    #[error("{name} must be positive and finite, got {value}")]
    Scale {
        /// Which parameter.
        name: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A weight is negative or not finite.
    #[error("loss weight must be non-negative and finite, got {0}")]
    Weight(f64),
    /// A user loss breaks the contract at `s = 0`.
    #[error("user loss breaks the contract at s = 0: expected [0, 1, _], got [{0}, {1}, {2}]")]
    Contract(f64, f64, f64),
    /// Scale annealing settings are invalid.
    #[error(
        "scale annealing needs start_factor ≥ 1 (got {start_factor}) and stages ≥ 1 (got {stages})"
    )]
    Annealing {
        /// The rejected start factor.
        start_factor: f64,
        /// The rejected number of stages.
        stages: u32,
    },
    /// A loss specification string could not be parsed.
    #[error("invalid loss '{input}': {reason}; expected one of mse, huber:S, pseudo-huber:S, soft-l1:S, cauchy:S, arctan:S, tukey:S, tolerant:A:B")]
    Parse {
        /// The input text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn positive(name: &'static str, value: f64) -> Result<f64, LossError> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(LossError::Scale { name, value })
    }
}

// ---- the formulas, written once and shared by the structs and `LossKind` ----
// `b` is always the squared scale (s units).

fn huber(s: f64, a: f64, b: f64) -> [f64; 3] {
    if s > b {
        // Outside: linear in |r|. ρ' = a/√s, ρ'' = −ρ'/(2s).
        let r = s.sqrt();
        let d1 = a / r;
        [2.0 * a * r - b, d1, -d1 / (2.0 * s)]
    } else {
        [s, 1.0, 0.0]
    }
}

fn soft_l1(s: f64, b: f64) -> [f64; 3] {
    let sum = 1.0 + s / b;
    let tmp = sum.sqrt();
    [2.0 * b * (tmp - 1.0), 1.0 / tmp, -0.5 / (b * sum * tmp)]
}

fn cauchy(s: f64, b: f64) -> [f64; 3] {
    let sum = 1.0 + s / b;
    let inv = 1.0 / sum;
    [b * sum.ln(), inv, -inv * inv / b]
}

fn arctan(s: f64, b: f64) -> [f64; 3] {
    let z = s / b;
    let inv = 1.0 / (1.0 + z * z);
    [b * z.atan(), inv, -2.0 * z / b * inv * inv]
}

fn tukey(s: f64, b: f64) -> [f64; 3] {
    if s <= b {
        let v = 1.0 - s / b;
        let v2 = v * v;
        [b / 3.0 * (1.0 - v2 * v), v2, -2.0 * v / b]
    } else {
        [b / 3.0, 0.0, 0.0]
    }
}

fn tolerant(s: f64, a: f64, b: f64) -> [f64; 3] {
    // c = β·ln(1 + e^{−α/β}) makes ρ(0) = 0.
    let c = b * (-a / b).exp().ln_1p();
    let x = (s - a) / b;
    if x > 30.0 {
        // e^{x} overflows long before ln(1 + e^{x}) stops being x (Ceres does the same).
        [s - a - c, 1.0, 0.0]
    } else {
        let e = x.exp();
        let d1 = e / (1.0 + e);
        [b * e.ln_1p() - c, d1, d1 * (1.0 - d1) / b]
    }
}

/// Plain least squares: ρ(s) = s.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Squared;

impl Loss for Squared {
    fn rho(&self, s: f64) -> [f64; 3] {
        [s, 1.0, 0.0]
    }
    fn is_squared(&self) -> bool {
        true
    }
}

macro_rules! scale_loss {
    ($(#[$doc:meta])* $name:ident, |$s:ident, $a:ident, $b:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name {
            a: f64,
            b: f64,
        }

        impl $name {
            /// Builds the loss with `scale` in residual units.
            ///
            /// # Errors
            /// [`LossError::Scale`] unless `scale` is positive and finite.
            pub fn new(scale: f64) -> Result<Self, LossError> {
                let a = positive("scale", scale)?;
                Ok($name { a, b: a * a })
            }
            /// The scale in residual units.
            pub fn scale(&self) -> f64 {
                self.a
            }
        }

        impl Loss for $name {
            fn rho(&self, $s: f64) -> [f64; 3] {
                let ($a, $b) = (self.a, self.b);
                let _ = $a;
                $body
            }
        }
    };
}

scale_loss!(
    /// Quadratic inside `scale`, linear outside (Huber 1964). Kink in ρ'' at `s = scale²`.
    Huber, |s, a, b| huber(s, a, b)
);
scale_loss!(
    /// Soft L1: `ρ(s) = 2b(√(1 + s/b) − 1)`, a smooth Huber (Ceres `SoftLOneLoss`).
    SoftL1, |s, a, b| soft_l1(s, b)
);
scale_loss!(
    /// Pseudo-Huber `δ²(√(1 + (r/δ)²) − 1)` in Ceres' normalisation (ρ'(0) = 1), which is
    /// `2b(√(1 + s/b) − 1)`: the same function as [`SoftL1`], under the name statisticians
    /// and the ML literature use.
    PseudoHuber, |s, a, b| soft_l1(s, b)
);
scale_loss!(
    /// Cauchy (Lorentzian): `ρ(s) = b·ln(1 + s/b)` (Ceres `CauchyLoss`).
    Cauchy, |s, a, b| cauchy(s, b)
);
scale_loss!(
    /// Arctan: `ρ(s) = b·atan(s/b)`, bounded by `bπ/2` (Ceres `ArctanLoss` with its
    /// parameter equal to `scale²`).
    Arctan, |s, a, b| arctan(s, b)
);
scale_loss!(
    /// Tukey biweight: `ρ(s) = b/3·(1 − (1 − s/b)³)` for `s ≤ b`, constant `b/3` beyond,
    /// so residuals larger than `scale` are ignored (Beaton & Tukey 1974; Ceres `TukeyLoss`).
    Tukey, |s, a, b| tukey(s, b)
);

/// Ceres' `TolerantLoss(a, b)`: `ρ(s) = b·ln(1 + e^{(s−a)/b}) − b·ln(1 + e^{−a/b})`.
///
/// Nearly zero cost for `s` below `a` and slope 1 beyond, with a transition of width `b`;
/// `a` and `b` are in `s` units as in Ceres. By design `ρ'(0) = 1/(1 + e^{a/b}) < 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerant {
    a: f64,
    b: f64,
}

impl Tolerant {
    /// Builds the loss from the tolerance `a` and the transition width `b` (both on `s`).
    ///
    /// # Errors
    /// [`LossError::Scale`] unless both are positive and finite.
    pub fn new(a: f64, b: f64) -> Result<Self, LossError> {
        Ok(Tolerant { a: positive("tolerant a", a)?, b: positive("tolerant b", b)? })
    }
}

impl Loss for Tolerant {
    fn rho(&self, s: f64) -> [f64; 3] {
        tolerant(s, self.a, self.b)
    }
}

/// Composition `ρ(s) = f(g(s))` (Ceres `ComposedLoss`), by the chain rule:
/// `ρ' = f'(g)·g'`, `ρ'' = f''(g)·g'² + f'(g)·g''`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Composed<F, G> {
    f: F,
    g: G,
}

impl<F: Loss, G: Loss> Composed<F, G> {
    /// `f ∘ g`.
    pub fn new(f: F, g: G) -> Self {
        Composed { f, g }
    }
}

impl<F: Loss, G: Loss> Loss for Composed<F, G> {
    fn rho(&self, s: f64) -> [f64; 3] {
        let [g0, g1, g2] = self.g.rho(s);
        let [f0, f1, f2] = self.f.rho(g0);
        [f0, f1 * g1, f2 * g1 * g1 + f1 * g2]
    }
}

/// A loss multiplied by a constant weight: `w·ρ(s)` (Ceres `ScaledLoss`). `ρ'(0) = w`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaled<L> {
    weight: f64,
    inner: L,
}

impl<L: Loss> Scaled<L> {
    /// `weight·inner`.
    ///
    /// # Errors
    /// [`LossError::Weight`] unless `weight` is non-negative and finite.
    pub fn new(weight: f64, inner: L) -> Result<Self, LossError> {
        if weight >= 0.0 && weight.is_finite() {
            Ok(Scaled { weight, inner })
        } else {
            Err(LossError::Weight(weight))
        }
    }
}

impl<L: Loss> Loss for Scaled<L> {
    fn rho(&self, s: f64) -> [f64; 3] {
        let [r0, r1, r2] = self.inner.rho(s);
        let w = self.weight;
        [w * r0, w * r1, w * r2]
    }
}

/// A user-supplied loss from a closure `s ↦ [ρ, ρ', ρ'']`.
#[derive(Clone, Copy)]
pub struct FnLoss<F> {
    f: F,
}

impl<F: Fn(f64) -> [f64; 3]> FnLoss<F> {
    /// Wraps `f`, checking the contract `ρ(0) = 0`, `ρ'(0) = 1` (to 1e-12).
    ///
    /// # Errors
    /// [`LossError::Contract`] when `f(0)` is not `[0, 1, _]`.
    pub fn new(f: F) -> Result<Self, LossError> {
        let [r0, r1, r2] = f(0.0);
        if r0.abs() <= 1e-12 && (r1 - 1.0).abs() <= 1e-12 && r2.is_finite() {
            Ok(FnLoss { f })
        } else {
            Err(LossError::Contract(r0, r1, r2))
        }
    }
}

impl<F> fmt::Debug for FnLoss<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnLoss")
    }
}

impl<F: Fn(f64) -> [f64; 3]> Loss for FnLoss<F> {
    fn rho(&self, s: f64) -> [f64; 3] {
        (self.f)(s)
    }
}

/// Runtime choice of loss (CLI, config files): `Copy`, serde, and a [`Loss`] by `match`.
///
/// Text form (see [`FromStr`]): `mse`, `huber:S`, `pseudo-huber:S`, `soft-l1:S`,
/// `cauchy:S`, `arctan:S`, `tukey:S`, `tolerant:A:B`; [`Display`](fmt::Display) writes
/// the same form and round-trips. Serde form: `{"kind": "huber", "scale": 0.01}`.
///
/// Build through [`FromStr`], serde or [`LossKind::validate`]d literals; [`Loss::rho`]
/// on an unvalidated non-positive scale yields NaN.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", try_from = "RawLossKind")]
#[non_exhaustive]
pub enum LossKind {
    /// [`Squared`].
    Mse,
    /// [`Huber`].
    Huber {
        /// Scale in residual units.
        scale: f64,
    },
    /// [`PseudoHuber`].
    PseudoHuber {
        /// Scale in residual units.
        scale: f64,
    },
    /// [`SoftL1`].
    SoftL1 {
        /// Scale in residual units.
        scale: f64,
    },
    /// [`Cauchy`].
    Cauchy {
        /// Scale in residual units.
        scale: f64,
    },
    /// [`Arctan`].
    Arctan {
        /// Scale in residual units.
        scale: f64,
    },
    /// [`Tukey`].
    Tukey {
        /// Scale in residual units.
        scale: f64,
    },
    /// [`Tolerant`].
    Tolerant {
        /// Tolerance on `s`.
        a: f64,
        /// Transition width on `s`.
        b: f64,
    },
}

impl Default for LossKind {
    /// Plain least squares.
    fn default() -> Self {
        LossKind::Mse
    }
}

/// Serde mirror of [`LossKind`] so deserialisation goes through validation.
#[derive(serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum RawLossKind {
    Mse,
    Huber { scale: f64 },
    PseudoHuber { scale: f64 },
    SoftL1 { scale: f64 },
    Cauchy { scale: f64 },
    Arctan { scale: f64 },
    Tukey { scale: f64 },
    Tolerant { a: f64, b: f64 },
}

impl TryFrom<RawLossKind> for LossKind {
    type Error = LossError;
    fn try_from(raw: RawLossKind) -> Result<Self, LossError> {
        let k = match raw {
            RawLossKind::Mse => LossKind::Mse,
            RawLossKind::Huber { scale } => LossKind::Huber { scale },
            RawLossKind::PseudoHuber { scale } => LossKind::PseudoHuber { scale },
            RawLossKind::SoftL1 { scale } => LossKind::SoftL1 { scale },
            RawLossKind::Cauchy { scale } => LossKind::Cauchy { scale },
            RawLossKind::Arctan { scale } => LossKind::Arctan { scale },
            RawLossKind::Tukey { scale } => LossKind::Tukey { scale },
            RawLossKind::Tolerant { a, b } => LossKind::Tolerant { a, b },
        };
        k.validate()?;
        Ok(k)
    }
}

impl LossKind {
    /// Checks that every scale is positive and finite.
    ///
    /// # Errors
    /// [`LossError::Scale`] naming the bad parameter.
    pub fn validate(&self) -> Result<(), LossError> {
        match *self {
            LossKind::Mse => Ok(()),
            LossKind::Tolerant { a, b } => Tolerant::new(a, b).map(|_| ()),
            LossKind::Huber { scale }
            | LossKind::PseudoHuber { scale }
            | LossKind::SoftL1 { scale }
            | LossKind::Cauchy { scale }
            | LossKind::Arctan { scale }
            | LossKind::Tukey { scale } => positive("scale", scale).map(|_| ()),
        }
    }

    /// The scale in residual units: `None` for MSE, `√a` for Tolerant.
    pub fn scale(&self) -> Option<f64> {
        match *self {
            LossKind::Mse => None,
            LossKind::Tolerant { a, .. } => Some(a.sqrt()),
            LossKind::Huber { scale }
            | LossKind::PseudoHuber { scale }
            | LossKind::SoftL1 { scale }
            | LossKind::Cauchy { scale }
            | LossKind::Arctan { scale }
            | LossKind::Tukey { scale } => Some(scale),
        }
    }

    /// The same loss with another scale (Tolerant: `a = scale²`, `b` kept; MSE unchanged).
    ///
    /// # Errors
    /// [`LossError::Scale`] unless `scale` is positive and finite.
    pub fn with_scale(&self, scale: f64) -> Result<LossKind, LossError> {
        let scale = positive("scale", scale)?;
        Ok(match *self {
            LossKind::Mse => LossKind::Mse,
            LossKind::Huber { .. } => LossKind::Huber { scale },
            LossKind::PseudoHuber { .. } => LossKind::PseudoHuber { scale },
            LossKind::SoftL1 { .. } => LossKind::SoftL1 { scale },
            LossKind::Cauchy { .. } => LossKind::Cauchy { scale },
            LossKind::Arctan { .. } => LossKind::Arctan { scale },
            LossKind::Tukey { .. } => LossKind::Tukey { scale },
            LossKind::Tolerant { b, .. } => LossKind::Tolerant { a: scale * scale, b },
        })
    }

    /// Every kind with the given scale (Tolerant: `a = scale²`, `b = scale²/4`): handy
    /// for tests and sweeps.
    pub fn all(scale: f64) -> [LossKind; 8] {
        let b = scale * scale;
        [
            LossKind::Mse,
            LossKind::Huber { scale },
            LossKind::PseudoHuber { scale },
            LossKind::SoftL1 { scale },
            LossKind::Cauchy { scale },
            LossKind::Arctan { scale },
            LossKind::Tukey { scale },
            LossKind::Tolerant { a: b, b: 0.25 * b },
        ]
    }
}

impl Loss for LossKind {
    fn rho(&self, s: f64) -> [f64; 3] {
        match *self {
            LossKind::Mse => [s, 1.0, 0.0],
            LossKind::Huber { scale } => huber(s, scale, scale * scale),
            LossKind::PseudoHuber { scale } | LossKind::SoftL1 { scale } => {
                soft_l1(s, scale * scale)
            }
            LossKind::Cauchy { scale } => cauchy(s, scale * scale),
            LossKind::Arctan { scale } => arctan(s, scale * scale),
            LossKind::Tukey { scale } => tukey(s, scale * scale),
            LossKind::Tolerant { a, b } => tolerant(s, a, b),
        }
    }
    fn is_squared(&self) -> bool {
        matches!(self, LossKind::Mse)
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{}` on f64 prints the shortest text that parses back to the same value.
        match *self {
            LossKind::Mse => f.write_str("mse"),
            LossKind::Huber { scale } => write!(f, "huber:{scale}"),
            LossKind::PseudoHuber { scale } => write!(f, "pseudo-huber:{scale}"),
            LossKind::SoftL1 { scale } => write!(f, "soft-l1:{scale}"),
            LossKind::Cauchy { scale } => write!(f, "cauchy:{scale}"),
            LossKind::Arctan { scale } => write!(f, "arctan:{scale}"),
            LossKind::Tukey { scale } => write!(f, "tukey:{scale}"),
            LossKind::Tolerant { a, b } => write!(f, "tolerant:{a}:{b}"),
        }
    }
}

impl FromStr for LossKind {
    type Err = LossError;

    /// Parses exactly `mse | huber:S | pseudo-huber:S | soft-l1:S | cauchy:S | arctan:S |
    /// tukey:S | tolerant:A:B` with positive finite numbers.
    fn from_str(input: &str) -> Result<Self, LossError> {
        let err = |reason: String| LossError::Parse { input: input.to_string(), reason };
        let mut parts = input.split(':');
        let name = parts.next().unwrap_or("");
        let args: Vec<&str> = parts.collect();
        let want = match name {
            "mse" => 0,
            "huber" | "pseudo-huber" | "soft-l1" | "cauchy" | "arctan" | "tukey" => 1,
            "tolerant" => 2,
            _ => return Err(err(format!("unknown loss name '{name}'"))),
        };
        if args.len() != want {
            return Err(err(format!(
                "'{name}' takes {want} number(s) after ':', got {}",
                args.len()
            )));
        }
        let mut nums = [0.0; 2];
        for (slot, text) in nums.iter_mut().zip(&args) {
            let v: f64 = text.parse().map_err(|_| err(format!("'{text}' is not a number")))?;
            if !(v > 0.0 && v.is_finite()) {
                return Err(err(format!("{v} must be positive and finite")));
            }
            *slot = v;
        }
        let [p, q] = nums;
        Ok(match name {
            "mse" => LossKind::Mse,
            "huber" => LossKind::Huber { scale: p },
            "pseudo-huber" => LossKind::PseudoHuber { scale: p },
            "soft-l1" => LossKind::SoftL1 { scale: p },
            "cauchy" => LossKind::Cauchy { scale: p },
            "arctan" => LossKind::Arctan { scale: p },
            "tukey" => LossKind::Tukey { scale: p },
            _ => LossKind::Tolerant { a: p, b: q },
        })
    }
}

/// Scale annealing: solve in stages with the loss scale shrinking geometrically from
/// `start_factor × target` to the target, each stage warm-started from the previous one.
///
/// A wide scale first keeps the problem nearly quadratic (convex-ish) while the fit is far
/// away; tightening it then lets the robust loss down-weight the outliers that remain.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScaleAnnealing {
    start_factor: f64,
    stages: u32,
}

impl ScaleAnnealing {
    /// `stages` scales from `start_factor·target` down to `target`.
    ///
    /// # Errors
    /// [`LossError::Annealing`] unless `start_factor ≥ 1` (finite) and `stages ≥ 1`.
    pub fn new(start_factor: f64, stages: u32) -> Result<Self, LossError> {
        if start_factor >= 1.0 && start_factor.is_finite() && stages >= 1 {
            Ok(ScaleAnnealing { start_factor, stages })
        } else {
            Err(LossError::Annealing { start_factor, stages })
        }
    }

    /// Number of stages.
    pub fn stages(&self) -> u32 {
        self.stages
    }

    /// The scale of stage `k` (0-based, clamped to the last stage) for a `target` scale:
    /// `target · start_factor^{1 − k/(stages−1)}`; the last stage is exactly `target`.
    pub fn scale_at(&self, target: f64, k: u32) -> f64 {
        let last = self.stages - 1;
        let k = k.min(last);
        if k == last {
            return target;
        }
        let frac = 1.0 - f64::from(k) / f64::from(last);
        target * self.start_factor.powf(frac)
    }

    /// The scales of every stage, widest first, ending exactly at `target`.
    pub fn scales(&self, target: f64) -> impl Iterator<Item = f64> + '_ {
        (0..self.stages).map(move |k| self.scale_at(target, k))
    }

    /// The loss of every stage (`loss.with_scale(..)`); MSE yields itself each stage.
    pub fn losses(&self, loss: LossKind) -> impl Iterator<Item = LossKind> + '_ {
        let target = loss.scale();
        (0..self.stages).map(move |k| match target {
            // with_scale only fails on a bad scale; the stage scale is ≥ the valid target.
            Some(t) => loss.with_scale(self.scale_at(t, k)).unwrap_or(loss),
            None => loss,
        })
    }
}

/// How a residual is scaled before squaring, so losses stay radial: the loss sees
/// `u = φ(r)` and the cost is `½·w·ρ(φ(r)²)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ResidualScale {
    /// `φ(r) = r`.
    #[default]
    None,
    /// `φ(r) = above·r` for `r ≥ 0`, `below·r` for `r < 0`.
    Asymmetric {
        /// Factor for positive residuals.
        above: f64,
        /// Factor for negative residuals.
        below: f64,
    },
    /// `φ(r) = r` for `|r| ≤ threshold`, `sign(r)·(threshold + factor·(|r| − threshold))`
    /// beyond: continuous, piecewise linear, tails amplified by `factor`.
    TailWeighted {
        /// Where amplification starts (residual units).
        threshold: f64,
        /// Slope beyond the threshold.
        factor: f64,
    },
}

impl ResidualScale {
    /// Asymmetric scaling with explicit factors.
    ///
    /// # Errors
    /// [`LossError::Weight`] unless both factors are positive and finite.
    pub fn asymmetric(above: f64, below: f64) -> Result<Self, LossError> {
        for v in [above, below] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(LossError::Weight(v));
            }
        }
        Ok(ResidualScale::Asymmetric { above, below })
    }

    /// Quantile-style asymmetry for a level `τ ∈ (0, 1)`: squared costs get weights `2τ`
    /// above and `2(1 − τ)` below (`above = √(2τ)`, `below = √(2(1 − τ))`), so `τ = ½` is
    /// symmetric. With MSE this fits the τ-expectile; with a Huber-type loss the linear
    /// tails weigh `√τ : √(1−τ)` (quantile-like).
    ///
    /// # Errors
    /// [`LossError::Weight`] unless `0 < τ < 1`.
    pub fn quantile(tau: f64) -> Result<Self, LossError> {
        if !(tau > 0.0 && tau < 1.0) {
            return Err(LossError::Weight(tau));
        }
        Self::asymmetric((2.0 * tau).sqrt(), (2.0 * (1.0 - tau)).sqrt())
    }

    /// Tail weighting beyond `threshold` with slope `factor`.
    ///
    /// # Errors
    /// [`LossError::Scale`] unless both are positive and finite.
    pub fn tail_weighted(threshold: f64, factor: f64) -> Result<Self, LossError> {
        Ok(ResidualScale::TailWeighted {
            threshold: positive("tail threshold", threshold)?,
            factor: positive("tail factor", factor)?,
        })
    }

    /// `[φ(r), dφ/dr]` (at a kink, the derivative of the outer side).
    #[inline]
    pub fn apply(&self, r: f64) -> [f64; 2] {
        match *self {
            ResidualScale::None => [r, 1.0],
            ResidualScale::Asymmetric { above, below } => {
                let k = if r >= 0.0 { above } else { below };
                [k * r, k]
            }
            ResidualScale::TailWeighted { threshold, factor } => {
                let m = r.abs();
                if m <= threshold {
                    [r, 1.0]
                } else {
                    [r.signum() * (threshold + factor * (m - threshold)), factor]
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annealing_is_geometric_and_ends_at_target() {
        // Closed form: factor 8, 4 stages → 8, 4, 2, 1 times the target.
        let a = ScaleAnnealing::new(8.0, 4).expect("valid settings");
        let s: Vec<f64> = a.scales(0.01).collect();
        for (v, e) in s.iter().zip([0.08, 0.04, 0.02, 0.01]) {
            assert!((v - e).abs() < 1e-15, "{v} vs {e}");
        }
        let l: Vec<LossKind> = a.losses(LossKind::Huber { scale: 0.01 }).collect();
        assert_eq!(l[3], LossKind::Huber { scale: 0.01 });
        assert!(ScaleAnnealing::new(0.5, 3).is_err());
        assert!(ScaleAnnealing::new(2.0, 0).is_err());
        // One stage is the target itself.
        let one = ScaleAnnealing::new(10.0, 1).expect("valid settings");
        assert_eq!(one.scales(0.3).collect::<Vec<_>>(), vec![0.3]);
    }

    #[test]
    fn residual_scale_values() {
        // Closed forms: τ = 0.5 is symmetric; tail weighting is continuous at the threshold.
        let q = ResidualScale::quantile(0.5).expect("valid tau");
        assert_eq!(q.apply(-2.0), [-2.0, 1.0]);
        let t = ResidualScale::tail_weighted(1.0, 3.0).expect("valid");
        assert_eq!(t.apply(1.0), [1.0, 1.0]);
        assert_eq!(t.apply(-2.0), [-4.0, 3.0]);
        assert!(ResidualScale::quantile(1.0).is_err());
        assert!(ResidualScale::tail_weighted(0.0, 2.0).is_err());
    }

    #[test]
    fn user_loss_contract_is_checked() {
        assert!(FnLoss::new(|s: f64| [s, 1.0, 0.0]).is_ok());
        assert!(FnLoss::new(|s: f64| [s + 1.0, 1.0, 0.0]).is_err());
        assert!(Scaled::new(-1.0, Squared).is_err());
        assert!(Huber::new(0.0).is_err());
        assert!(Tolerant::new(1.0, f64::NAN).is_err());
    }
}
