//! Hedging policies: the hedge `h_t` at each state from the features and the previous hedge.
//!
//! - **Feed-forward** (Buehler et al. 2019): `h_t = net(ln(F/K), τ, h_{t−1}[, vol][, δ])`
//!   ([`Parametrisation::Hedge`]), or `h_t = δ + net(…)` ([`Parametrisation::DeltaPlus`]:
//!   the network learns a correction to the Black hedge `δ` and starts at zero, so the
//!   untrained policy is the Black hedge).
//! - **No-transaction band** (Imaki et al. 2021): the net outputs `(o₁, o₂)`, the band is
//!   `[δ − softplus(o₁), δ + softplus(o₂)]` around the Black hedge `δ`, and
//!   `h_t = clamp(h_{t−1}, lower, upper)`. The clamp is differentiated by its
//!   **subgradient** (as pfhedge's `clamp`): `∂h/∂h_{t−1} = 1` strictly inside the band, else
//!   `∂h/∂bound = 1` for the binding bound.
//! - **Black delta**: `h_t = δ` (no parameters).
//! - **Whalley–Wilmott** (1997): `h_t = clamp(h_{t−1}, δ − H, δ + H)` with the asymptotic
//!   half-width `H = (3c·F·Γ_h²/(2γ))^{1/3}` for proportional cost `c`, the slope `Γ_h` of the
//!   Black hedge in `F` and the absolute risk aversion `γ` (no parameters).

use super::features::Inputs;
use volfit_nn::{Activation, Architecture, Init, Mlp, NnError};

/// Initial output bias of the no-transaction band: half-widths `softplus(−2) ≈ 0.127`.
pub const NTB_BIAS: f64 = -2.0;

/// Which policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Feed-forward network outputting the hedge.
    FeedForward,
    /// Network outputting a no-transaction band around the Black hedge.
    NoTransactionBand,
    /// The Black hedge.
    BlackDelta,
    /// The Whalley–Wilmott band around the Black hedge.
    WhalleyWilmott,
}

impl PolicyKind {
    /// All kinds, the trained ones first.
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::FeedForward,
        PolicyKind::NoTransactionBand,
        PolicyKind::BlackDelta,
        PolicyKind::WhalleyWilmott,
    ];

    /// Name in files: `ff`, `ntb`, `black_delta`, `whalley_wilmott`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::FeedForward => "ff",
            PolicyKind::NoTransactionBand => "ntb",
            PolicyKind::BlackDelta => "black_delta",
            PolicyKind::WhalleyWilmott => "whalley_wilmott",
        }
    }

    /// True for the network policies.
    pub fn is_trained(self) -> bool {
        matches!(self, PolicyKind::FeedForward | PolicyKind::NoTransactionBand)
    }
}

/// What the feed-forward network's output is (the other policies ignore it).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Parametrisation {
    /// The hedge itself (Buehler et al.).
    #[default]
    Hedge,
    /// A correction added to the Black hedge `δ`: `h = δ + o`.
    DeltaPlus,
}

impl Parametrisation {
    /// Name in files and configs: `hedge` or `delta_plus`.
    pub fn name(self) -> &'static str {
        match self {
            Parametrisation::Hedge => "hedge",
            Parametrisation::DeltaPlus => "delta_plus",
        }
    }
}

/// A policy: its kind and, for the network policies, the network layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    mlp: Option<Mlp>,
    inputs: Inputs,
    parametrisation: Parametrisation,
    /// Absolute risk aversion `γ` of the Whalley–Wilmott band.
    ww_aversion: f64,
}

/// The hedge a policy chose at one state and its derivatives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// The hedge `h_t`.
    pub hedge: f64,
    /// `∂h_t/∂h_{t−1}` through the policy map (not through the network's input).
    pub d_prev: f64,
    /// `∂h_t/∂(network output o)`.
    pub d_out: [f64; 2],
}

impl Policy {
    /// A policy of `kind`; the network ones get hidden layers `hidden` with `activation`
    /// over the base features (with the volatility when `with_vol`). `ww_aversion` is the
    /// Whalley–Wilmott risk aversion `γ`.
    ///
    /// # Errors
    /// A zero hidden width.
    pub fn new(
        kind: PolicyKind,
        hidden: &[usize],
        activation: Activation,
        with_vol: bool,
        ww_aversion: f64,
    ) -> Result<Self, NnError> {
        let inputs = Inputs { vol: with_vol, delta: false };
        Policy::with_inputs(kind, hidden, activation, inputs, ww_aversion)
    }

    /// [`Policy::new`] over the features `inputs`.
    ///
    /// # Errors
    /// A zero hidden width.
    pub fn with_inputs(
        kind: PolicyKind,
        hidden: &[usize],
        activation: Activation,
        inputs: Inputs,
        ww_aversion: f64,
    ) -> Result<Self, NnError> {
        let outputs = match kind {
            PolicyKind::FeedForward => Some(1),
            PolicyKind::NoTransactionBand => Some(2),
            _ => None,
        };
        let mlp = outputs
            .map(|o| Mlp::new(Architecture::new(inputs.count(), hidden, o, activation)))
            .transpose()?;
        let parametrisation = Parametrisation::Hedge;
        Ok(Policy { kind, mlp, inputs, parametrisation, ww_aversion })
    }

    /// The same policy with the feed-forward output `p` (no effect on the other kinds,
    /// which keep [`Parametrisation::Hedge`]).
    #[must_use]
    pub fn parametrised(mut self, p: Parametrisation) -> Self {
        if self.kind == PolicyKind::FeedForward {
            self.parametrisation = p;
        }
        self
    }

    /// The kind.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }
    /// The network layout of a trained policy.
    pub fn mlp(&self) -> Option<&Mlp> {
        self.mlp.as_ref()
    }
    /// Whether the volatility is a feature.
    pub fn with_vol(&self) -> bool {
        self.inputs.vol
    }
    /// The network's features.
    pub fn inputs(&self) -> Inputs {
        self.inputs
    }
    /// What the feed-forward network outputs.
    pub fn parametrisation(&self) -> Parametrisation {
        self.parametrisation
    }
    /// Number of network parameters (0 for the classical hedges).
    pub fn num_params(&self) -> usize {
        self.mlp.as_ref().map_or(0, Mlp::num_params)
    }

    /// Starting parameters: weights from `init` seeded by `seed`, zero biases — except the
    /// no-transaction band's output biases, [`NTB_BIAS`], so that training starts from a
    /// narrow band around the Black hedge, and the [`Parametrisation::DeltaPlus`] output
    /// layer, all zero, so that training starts from the Black hedge.
    pub fn init_params(&self, init: Init, seed: u64) -> Vec<f64> {
        let Some(mlp) = &self.mlp else { return Vec::new() };
        let mut p = mlp.init_params(init, seed);
        let Some(last) = mlp.layers().last() else { return p };
        if self.kind == PolicyKind::NoTransactionBand {
            p[last.bias..last.bias + last.fan_out].iter_mut().for_each(|b| *b = NTB_BIAS);
        }
        if self.parametrisation == Parametrisation::DeltaPlus {
            p[last.range()].iter_mut().for_each(|w| *w = 0.0);
        }
        p
    }

    /// The hedge at a state with previous hedge `prev`, Black hedge `delta` and its slope
    /// `gamma`, forward `f`, cost rate `cost`, given the network outputs `out` (ignored by
    /// the classical hedges).
    #[inline]
    pub fn choose(
        &self,
        out: &[f64],
        prev: f64,
        delta: f64,
        gamma: f64,
        f: f64,
        cost: f64,
    ) -> Choice {
        match self.kind {
            PolicyKind::FeedForward => {
                let base = match self.parametrisation {
                    Parametrisation::Hedge => 0.0,
                    Parametrisation::DeltaPlus => delta,
                };
                Choice { hedge: base + out[0], d_prev: 0.0, d_out: [1.0, 0.0] }
            }
            PolicyKind::NoTransactionBand => {
                let (sp0, sg0) = softplus_sigmoid(out[0]);
                let (sp1, sg1) = softplus_sigmoid(out[1]);
                band(prev, delta - sp0, delta + sp1, [-sg0, sg1])
            }
            PolicyKind::BlackDelta => Choice { hedge: delta, d_prev: 0.0, d_out: [0.0; 2] },
            PolicyKind::WhalleyWilmott => {
                let h = (1.5 * cost * f * gamma * gamma / self.ww_aversion).cbrt();
                let mut c = band(prev, delta - h, delta + h, [0.0; 2]);
                c.d_out = [0.0; 2];
                c
            }
        }
    }
}

/// `(softplus(o), sigmoid(o))` from one exponential `e^{−|o|}`: bit for bit
/// [`Activation::Softplus`] and [`Activation::Sigmoid`] (which compute the same `e`).
#[inline]
fn softplus_sigmoid(o: f64) -> (f64, f64) {
    let e = (-o.abs()).exp();
    let sp = o.max(0.0) + e.ln_1p();
    let sg = if o >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    (sp, sg)
}

/// `clamp(prev, lo, hi)` with its subgradient; `d_bounds` are `∂lo/∂o₁`, `∂hi/∂o₂`.
#[inline]
fn band(prev: f64, lo: f64, hi: f64, d_bounds: [f64; 2]) -> Choice {
    if prev < lo {
        Choice { hedge: lo, d_prev: 0.0, d_out: [d_bounds[0], 0.0] }
    } else if prev > hi {
        Choice { hedge: hi, d_prev: 0.0, d_out: [0.0, d_bounds[1]] }
    } else {
        Choice { hedge: prev, d_prev: 1.0, d_out: [0.0; 2] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_exponential_is_bit_for_bit_the_activations() {
        for o in [-800.0, -30.0, -2.0, -1e-9, -0.0, 0.0, 1e-12, 0.7, 3.0, 40.0, 800.0] {
            let (sp, sg) = softplus_sigmoid(o);
            assert_eq!(sp.to_bits(), Activation::Softplus.apply(o).to_bits(), "{o}");
            assert_eq!(sg.to_bits(), Activation::Sigmoid.apply(o).to_bits(), "{o}");
        }
        assert!(softplus_sigmoid(f64::NAN).0.is_nan());
    }

    #[test]
    fn bands_clamp_the_previous_hedge() {
        let ww = Policy::new(PolicyKind::WhalleyWilmott, &[], Activation::Elu, false, 1.0).unwrap();
        // H = (1.5·0.001·1·4²/1)^{1/3} = 0.024^{1/3} = 0.288449914.
        let c = ww.choose(&[], 0.0, 0.5, 4.0, 1.0, 0.001);
        assert!((c.hedge - (0.5 - 0.288_449_914)).abs() < 1e-8);
        assert_eq!(ww.choose(&[], 0.4, 0.5, 4.0, 1.0, 0.001).hedge, 0.4);
        let ntb =
            Policy::new(PolicyKind::NoTransactionBand, &[4], Activation::Elu, false, 1.0).unwrap();
        assert_eq!(ntb.num_params(), (3 + 1) * 4 + (4 + 1) * 2);
        // softplus(0) = ln 2: band [δ − ln 2, δ + ln 2]; above it the upper bound binds.
        let c = ntb.choose(&[0.0, 0.0], 2.0, 0.5, 0.0, 1.0, 0.0);
        assert!((c.hedge - (0.5 + 2f64.ln())).abs() < 1e-15);
        assert_eq!(c.d_out, [0.0, 0.5]);
    }
}
