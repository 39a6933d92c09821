//! Activation functions, applied elementwise, with derivatives written in terms of the
//! activation's *output* `a = f(z)` so that a forward pass keeps only the outputs.

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
            Activation::Elu => {
                if z > 0.0 {
                    z
                } else {
                    z.exp_m1()
                }
            }
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

    /// Applies `f` in place.
    #[inline]
    pub fn apply_slice(self, v: &mut [f64]) {
        if self != Activation::Identity {
            v.iter_mut().for_each(|x| *x = self.apply(*x));
        }
    }

    /// Multiplies `delta` elementwise by `f'` evaluated from the outputs `a`.
    #[inline]
    pub fn scale_by_derivative(self, a: &[f64], delta: &mut [f64]) {
        if self != Activation::Identity {
            delta.iter_mut().zip(a).for_each(|(d, &a)| *d *= self.derivative_from_output(a));
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
    fn softplus_is_stable_far_out() {
        // ln(1 + e^z) → z for large z and → e^z for very negative z.
        assert_eq!(Activation::Softplus.apply(800.0), 800.0);
        let a = Activation::Softplus.apply(-800.0);
        assert!((0.0..1e-300).contains(&a));
        assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
        assert!("gelu".parse::<Activation>().is_err());
    }
}
