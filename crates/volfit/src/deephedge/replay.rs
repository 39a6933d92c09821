//! Historical replay of a trained policy through `volfit hedge --policy FILE`: the
//! [`PathPolicy`] of a [`LoadedPolicy`].
//!
//! ## From the trained claim to a book's options
//! The policy was trained for **one short call** (strike `K̃` and maturity `T̃` in the
//! header, forward `F₀ = 1`). Replayed on an option of strike `K` held from an entry with
//! forward `F_e`, time to expiry `T_e` and model vol `σ_e`, the features are computed as in
//! training ([`Inputs::fill`](super::features::Inputs::fill)) with the option's own scales in
//! place of the claim's:
//!
//! ```text
//! x₀ = ln(F_t/K) / (σ_e·√T_e)    x₁ = τ_t / T_e    x₂ = current hedge (network units)
//! σ_t / σ_e                      (only when the policy was trained with the vol feature)
//! δ_t                            (only with the Black-delta feature: the band centre below)
//! ```
//!
//! Training divides by the claim's Black vol `σ_B`, the vol of its premium and classical
//! hedge, fixed over the path; the replay uses the entry model vol `σ_e`, fixed over the
//! path, for the same role (the header's `σ_B` is a simulation parameter, not the market's).
//! `σ_t` is the backtest's model vol at the strike at time `t` (an implied vol, where
//! training fed the instantaneous vol). `F_t` is that observation's expiry forward, `τ_t`
//! its time to expiry (ACT/365).
//!
//! The network's hedge `h` is in training units: USD accounting, coins of a linear hedge on
//! the forward (`≈ Δ`); coin accounting, the inverse perpetual's USD notional over `F₀`
//! (`≈ (Δ·F − C)/F₀`, with `F₀ = F_e`). In the backtest's hedge-ratio units `y` (what the
//! Black delta, resp. the Black premium-adjusted delta `Δ − C/F`, would be) that is
//! `y = h` (USD) or `y = h·F_e/F_t` (coin), traded as `−quantity·y·r` coins with the
//! instrument ratio `r = F/P` (USD) or 1 (coin), exactly like the deltas.
//!
//! - **Puts** by put–call parity (zero rate, forward `F`): `P = C − (F − K)`, so the hedge of
//!   a short put is the call's hedge minus 1 (USD), minus `K/F₀` in notional units (coin).
//!   The network sees the call-equivalent current hedge (the put's plus that offset), and the
//!   no-transaction band is centred on the call's Black hedge, so that a put's band is
//!   centred on the put's own Black hedge.
//! - **Long positions** (`quantity > 0`) get the short's hedge negated (`−quantity·y`), like
//!   the deltas. That is exact for the Black hedge and the band centre, but a risk measure
//!   is not symmetric: it is not the trained optimum of a long book (stated in a notice).
//! - The **no-transaction band** is `[δ − softplus(o₁), δ + softplus(o₂)]` around that
//!   observation's Black hedge `δ` (the `black` method's delta, at `σ_t`), the current
//!   hedge clamped into it: with a zero-width band the policy is the `black` method.
//!   The same `δ` (call-equivalent, network units) is the Black-delta feature and the base
//!   of a `delta_plus` feed-forward policy (`h = δ + o`).
//!
//! A header whose accounting differs from the one the backtest asks for
//! (`--policy-accounting`) is refused, naming the field `claim.accounting`.

use super::features::Accounting;
use super::load::{LoadError, LoadedPolicy};
use super::policy::PolicyKind;
use crate::hedge::{DeltaKind, Hedger, Obs, PathPolicy, PolicyPath, Step};
use crate::market::{year_fraction, OptionType};

/// A loaded policy ready for the backtest.
#[derive(Clone, Debug)]
pub struct ReplayPolicy {
    loaded: LoadedPolicy,
    file: String,
}

/// Entry scales of one path.
#[derive(Clone, Copy, Debug)]
struct Entry {
    forward: f64,
    t: f64,
    vol: f64,
}

impl ReplayPolicy {
    /// The policy `loaded` read from `file`; `accounting`, when given, is the accounting
    /// of the backtest, which the header must match.
    ///
    /// # Errors
    /// [`LoadError`] naming `claim.accounting` when the header's accounting differs.
    pub fn new(
        loaded: LoadedPolicy,
        file: &str,
        accounting: Option<Accounting>,
    ) -> Result<Self, LoadError> {
        let own = loaded.claim.accounting;
        if let Some(want) = accounting.filter(|a| *a != own) {
            return Err(LoadError {
                file: file.to_string(),
                field: "claim.accounting".into(),
                reason: format!(
                    "the policy was trained in {} accounting, the backtest asks for {}",
                    name(own),
                    name(want)
                ),
            });
        }
        Ok(ReplayPolicy { loaded, file: file.to_string() })
    }

    /// The loaded policy.
    pub fn loaded(&self) -> &LoadedPolicy {
        &self.loaded
    }

    /// The target coins at one observation (see the module docs for every symbol).
    #[allow(clippy::too_many_arguments)]
    fn target(
        &self,
        path: &PolicyPath,
        e: Entry,
        o: &Obs,
        s: &Step,
        held: f64,
        ws: &mut volfit_nn::Workspace,
        out: &mut [f64; 2],
    ) -> f64 {
        let coin = self.loaded.claim.accounting == Accounting::Coin;
        let f = o.forward;
        let m = if coin { e.forward / f } else { 1.0 };
        let off = match (path.kind, coin) {
            (OptionType::Call, _) => 0.0,
            (OptionType::Put, false) => 1.0,
            (OptionType::Put, true) => path.strike / e.forward,
        };
        let per = -path.qty * self.instrument_ratio(f, s.p0);
        let prev = if per != 0.0 { held / per } else { 0.0 } / m + off;
        let black = o.deltas.black - if coin { o.deltas.price / f } else { 0.0 };
        let centre = black / m + off;
        let tau = year_fraction(o.time_ms, path.expiry_ms);
        let policy = &self.loaded.policy;
        let mut row = [0.0; super::features::NAMES.len()];
        let ni = policy.inputs().count();
        let x0 = (f / path.strike).ln() / (e.vol * e.t.sqrt());
        policy.inputs().fill(&mut row[..ni], x0, tau / e.t, prev, o.deltas.vol / e.vol, centre);
        let no = policy.mlp().map_or(0, volfit_nn::Mlp::outputs);
        self.loaded.outputs(&row[..ni], ws, &mut out[..no]);
        let choice = policy.choose(&out[..no], prev, centre, 0.0, f, self.loaded.claim.cost);
        per * (choice.hedge - off) * m
    }
}

fn name(a: Accounting) -> &'static str {
    match a {
        Accounting::Usd => "usd",
        Accounting::Coin => "coin",
    }
}

impl PathPolicy for ReplayPolicy {
    fn hedger<'a>(&'a self, path: PolicyPath, obs: &[Obs]) -> Hedger<'a> {
        let e = obs.first().map_or(Entry { forward: f64::NAN, t: f64::NAN, vol: f64::NAN }, |o| {
            Entry {
                forward: o.forward,
                t: year_fraction(o.time_ms, path.expiry_ms),
                vol: o.deltas.vol,
            }
        });
        let mut ws = self.loaded.workspace();
        let mut out = [0.0; 2];
        Box::new(move |_, o, s, held| self.target(&path, e, o, s, held, &mut ws, &mut out))
    }

    fn instrument_ratio(&self, f: f64, p: f64) -> f64 {
        match self.loaded.claim.accounting {
            Accounting::Usd => DeltaKind::Black.instrument_ratio(f, p),
            Accounting::Coin => DeltaKind::PremiumAdjusted.instrument_ratio(f, p),
        }
    }

    fn describe(&self) -> serde_json::Value {
        let p = &self.loaded.policy;
        serde_json::json!({
            "file": self.file,
            "policy": p.kind().name(),
            "parametrisation": p.parametrisation().name(),
            "accounting": name(self.loaded.claim.accounting),
            "features": p.inputs().names(),
            "trained_claim": self.loaded.claim,
            "replay": "features with the option's strike, entry time to expiry T_e and entry \
                       model vol in place of the claim's K, T and black_vol; puts by put-call \
                       parity (call hedge - 1 in the hedge ratio); hedge -quantity x the short \
                       call's hedge; no-transaction band around each observation's Black hedge",
        })
    }

    fn notices(&self, qty: f64) -> Vec<String> {
        let mut v = Vec::new();
        if qty > 0.0 {
            v.push(format!(
                "policy {}: trained for a short call; quantity = {qty} (long) is hedged with \
                 the short's hedge negated, which is not the trained optimum of a long book",
                self.file
            ));
        }
        if self.loaded.policy.kind() == PolicyKind::NoTransactionBand {
            v.push(format!(
                "policy {}: no-transaction band around each observation's Black hedge at the \
                 model vol (the `black` delta)",
                self.file
            ));
        }
        v
    }
}
