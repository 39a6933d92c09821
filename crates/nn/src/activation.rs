//! Activation functions, applied elementwise, with derivatives written in terms of the
//! activation's *output* `a = f(z)` so that a forward pass keeps only the outputs.

use pulp::{Arch, Simd, WithSimd};
use std::fmt;
use std::str::FromStr;

/// An elementwise activation `a = f(z)`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `z` for `z > 0`, else `eᶻ − 1` (Clevert et al. 2016, α = 1).
    #[default]
    Elu,
    /// `ln(1 + eᶻ)`.
    Softplus,
    /// `tanh z`.
    Tanh,
    /// `1/(1 + e⁻ᶻ)`.
    Sigmoid,
    /// `max(z, 0)`.
    Relu,
    /// `z`.
    Identity,
}

impl Activation {
    /// All activations, for tests and help texts.
    pub const ALL: [Activation; 6] = [
        Activation::Elu,
        Activation::Softplus,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Relu,
        Activation::Identity,
    ];

    /// `f(z)`.
    #[inline]
    pub fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Elu => elu(z),
            // max(z, 0) + ln(1 + e^{−|z|}): no overflow for large |z|.
            Activation::Softplus => z.max(0.0) + (-z.abs()).exp().ln_1p(),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => {
                if z >= 0.0 {
                    1.0 / (1.0 + (-z).exp())
                } else {
                    let e = z.exp();
                    e / (1.0 + e)
                }
            }
            Activation::Relu => z.max(0.0),
            Activation::Identity => z,
        }
    }

    /// `f'(z)` from the output `a = f(z)`: ELU `1` or `a + 1`; softplus `1 − e⁻ᵃ`
    /// (= sigmoid(z)); tanh `1 − a²`; sigmoid `a(1 − a)`; ReLU `1` for `a > 0` else `0`;
    /// identity `1`.
    #[inline]
    pub fn derivative_from_output(self, a: f64) -> f64 {
        match self {
            Activation::Elu => {
                if a > 0.0 {
                    1.0
                } else {
                    a + 1.0
                }
            }
            Activation::Softplus => -(-a).exp_m1(),
            Activation::Tanh => 1.0 - a * a,
            Activation::Sigmoid => a * (1.0 - a),
            Activation::Relu => f64::from(u8::from(a > 0.0)),
            Activation::Identity => 1.0,
        }
    }

    /// Applies `f` in place (vectorised for ELU, see [`expm1_nonpositive`]).
    #[inline]
    pub fn apply_slice(self, v: &mut [f64]) {
        match self {
            Activation::Identity => {}
            Activation::Elu => Arch::new().dispatch(EluSlice(v)),
            _ => v.iter_mut().for_each(|x| *x = self.apply(*x)),
        }
    }

    /// Multiplies `delta` elementwise by `f'` evaluated from the outputs `a`.
    #[inline]
    pub fn scale_by_derivative(self, a: &[f64], delta: &mut [f64]) {
        match self {
            Activation::Identity => {}
            Activation::Elu => Arch::new().dispatch(EluDerivative { a, delta }),
            _ => delta.iter_mut().zip(a).for_each(|(d, &a)| *d *= self.derivative_from_output(a)),
        }
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Elu => "elu",
            Activation::Softplus => "softplus",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::Identity => "identity",
        }
    }
}

/// ELU, `z` for `z > 0` else `eᶻ − 1`, without branches (a loop over a slice vectorises).
#[inline(always)]
fn elu(z: f64) -> f64 {
    let e = expm1_nonpositive(z);
    if z > 0.0 {
        z
    } else {
        e
    }
}

/// `eᶻ − 1` for `z ≤ 0` (any `z ≤ 709` gives a finite value; NaN stays NaN) in straight-line
/// arithmetic, so that it vectorises — the library `expm1` is a call per element. With
/// `z = n·ln 2 + r`, `|r| ≤ ½ln 2` (Cody–Waite reduction, fdlibm's split of ln 2):
/// `eᶻ − 1 = 2ⁿ·expm1(r) + (2ⁿ − 1)`, exact for `n = 0`; `expm1(r)` by its Taylor series to
/// degree 13 (truncation below 1.3·10⁻¹⁷ relative). Fused multiply–adds throughout
/// (correctly rounded on every instruction set, so the value does not depend on the CPU;
/// vector instructions under [`Arch::dispatch`], a library call elsewhere). Within 2 ulp of
/// the correctly rounded value on `[−745, 0]` (test against the library's `exp_m1`); below
/// `−708` it is `−1`.
#[inline(always)]
pub fn expm1_nonpositive(z: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    // 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    // 1/k! for k = 2 to 13.
    const C: [f64; 12] = [
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let z = if z < -708.0 { -708.0 } else { z };
    let shifted = z.mul_add(std::f64::consts::LOG2_E, SHIFTER);
    let n = shifted - SHIFTER;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, z));
    // q(r) = Σ C[j]·rʲ by Estrin's scheme: a short dependency chain of fused steps.
    let (r2, pair) = (r * r, |j: usize| C[j + 1].mul_add(r, C[j]));
    let r4 = r2 * r2;
    let low = pair(2).mul_add(r2, pair(0));
    let mid = pair(6).mul_add(r2, pair(4));
    let high = pair(10).mul_add(r2, pair(8));
    let q = high.mul_add(r4 * r4, mid.mul_add(r4, low));
    let p = r2.mul_add(q, r);
    // 2ⁿ from the integer in `shifted`'s low bits: exponent field n + 1023.
    let bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits()).wrapping_add(1023) << 52;
    let scale = f64::from_bits(bits);
    scale.mul_add(p, scale - 1.0)
}

struct EluSlice<'a>(&'a mut [f64]);

impl WithSimd for EluSlice<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        self.0.iter_mut().for_each(|x| *x = elu(*x));
    }
}

struct EluDerivative<'a> {
    a: &'a [f64],
    delta: &'a mut [f64],
}

impl WithSimd for EluDerivative<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let d = |a: f64| if a > 0.0 { 1.0 } else { a + 1.0 };
        self.delta.iter_mut().zip(self.a).for_each(|(x, &a)| *x *= d(a));
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Activation::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            format!(
                "unknown activation {s:?}: expected elu, softplus, tanh, sigmoid, relu or identity"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_from_output_matches_central_differences() {
        // Central differences of f at points away from ReLU's kink.
        for act in Activation::ALL {
            for z in [-3.0, -0.7, -0.1, 0.2, 1.3, 4.0] {
                let h = 1e-6;
                let fd = (act.apply(z + h) - act.apply(z - h)) / (2.0 * h);
                let d = act.derivative_from_output(act.apply(z));
                assert!((d - fd).abs() < 1e-8, "{act} at {z}: {d} vs {fd}");
            }
        }
    }

    #[test]
    fn elu_expm1_is_within_two_ulp_of_the_library() {
        // Against std's exp_m1 (correctly rounded to within an ulp) on a dense sweep of
        // [−40, 0] and the edges: tiny |z| (where expm1 ≈ z), the reduction's boundaries
        // ±½ln 2 and underflow to −1.
        let ulp = |x: f64| (x.abs().max(f64::MIN_POSITIVE)).to_bits();
        let mut worst = 0u64;
        let sweep = (0..400_000).map(|i| -40.0 * f64::from(i) / 400_000.0);
        let edges = [
            -1e-300,
            -1e-17,
            -1e-9,
            -0.346_573_590_279_972_6,
            -0.346_573_590_279_973,
            -700.0,
            -708.5,
            -745.0,
            -1e6,
            0.0,
            -0.0,
        ];
        for z in sweep.chain(edges) {
            let (got, want) = (expm1_nonpositive(z), z.exp_m1());
            let d = ulp(got).abs_diff(ulp(want));
            assert!(d <= 2 && got.signum() == want.signum() || got == want, "{z}: {got} vs {want}");
            worst = worst.max(d);
        }
        assert!(expm1_nonpositive(f64::NAN).is_nan());
        assert_eq!(Activation::Elu.apply(2.5), 2.5);
        assert!(worst <= 2, "{worst}");
    }

    #[test]
    fn softplus_is_stable_far_out() {
        // ln(1 + e^z) → z for large z and → e^z for very negative z.
        assert_eq!(Activation::Softplus.apply(800.0), 800.0);
        let a = Activation::Softplus.apply(-800.0);
        assert!((0.0..1e-300).contains(&a));
        assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
        assert!("gelu".parse::<Activation>().is_err());
    }
}
