//! The unrolled hedge over a chunk of paths: the forward pass (hedges and terminal P&L, see
//! [`super::features`]) and the exact backward pass through time.
//!
//! With `λ_t = ∂J/∂h_t` the total adjoint of the hedge at step `t` (the objective `J` through
//! every later step), the pathwise gradient is
//!
//! ```text
//! λ_t = J'(P)·∂P/∂h_t + λ_{t+1}·(∂π/∂h_t + ∂π/∂x·∂x_{t+1}/∂h_t),     ∇θ J = Σ_t λ_t·∂π_t/∂θ
//! ∂P/∂h_t = a_t − b_t·s_t + b_{t+1}·s_{t+1},     s_t = sign(h_t − h_{t−1})  (0 at a tie)
//! ```
//!
//! where `π` is the policy map (the band clamp) and `x_{t+1}` the next step's features, of
//! which the previous hedge is one: its input gradient comes from the network's backward
//! pass ([`Mlp::backward_input`](volfit_nn::Mlp::backward_input)). `|·|` is differentiated by
//! its subgradient `sign` (0 at a tie).
//!
//! A [`Scratch`] holds one network workspace per step (the activations the backward pass
//! needs), sized once for [`CHUNK`] paths: no allocation per batch.

use super::features::{self, Claim, HEDGE_FEATURE};
use super::paths::Paths;
use super::policy::Policy;
use volfit_nn::Workspace;

/// Paths per chunk. Batches are cut into chunks of this many paths whatever the thread
/// count, and chunk results are summed in chunk order: results are bit-identical across
/// thread counts.
pub const CHUNK: usize = 128;

/// Buffers of one chunk's forward and backward passes.
#[derive(Clone, Debug)]
pub struct Scratch {
    ws: Vec<Workspace>,
    /// Hedges, row-major `steps × CHUNK`.
    pub hedge: Vec<f64>,
    d_prev: Vec<f64>,
    d_out: Vec<[f64; 2]>,
    /// Terminal P&L per path of the chunk.
    pub pnl: Vec<f64>,
    /// `∂J/∂P` per path, set by the caller before [`Unroll::backward`].
    pub d_pnl: Vec<f64>,
    adj: Vec<f64>,
    d_input: Vec<f64>,
    /// Gradient sum over the chunk (network parameters, then thresholds).
    pub grad: Vec<f64>,
    /// Objective sum over the chunk.
    pub value: f64,
}

/// A policy unrolled over paths for a claim.
#[derive(Clone, Copy, Debug)]
pub struct Unroll<'a> {
    /// The simulated paths.
    pub paths: &'a Paths,
    /// The short claim and frictions.
    pub claim: &'a Claim,
    /// The policy.
    pub policy: &'a Policy,
}

impl Unroll<'_> {
    /// Buffers for one chunk; `keep_steps` keeps every step's activations (for a backward
    /// pass), else one workspace serves all steps. `extra` gradient slots follow the
    /// network's (the objective's thresholds).
    pub fn scratch(&self, keep_steps: bool, extra: usize) -> Scratch {
        let n = self.paths.steps;
        let ws_count = if keep_steps { n } else { 1 };
        let ws = match self.policy.mlp() {
            Some(m) => (0..ws_count).map(|_| m.workspace(CHUNK)).collect(),
            None => Vec::new(),
        };
        let inputs = features::count(self.policy.with_vol());
        Scratch {
            ws,
            hedge: vec![0.0; n * CHUNK],
            d_prev: vec![0.0; n * CHUNK],
            d_out: vec![[0.0; 2]; n * CHUNK],
            pnl: vec![0.0; CHUNK],
            d_pnl: vec![0.0; CHUNK],
            adj: vec![0.0; CHUNK],
            d_input: vec![0.0; CHUNK * inputs],
            grad: vec![0.0; self.policy.num_params() + extra],
            value: 0.0,
        }
    }

    /// Hedges and P&L of the paths `idx` (at most [`CHUNK`]) under network parameters
    /// `params`, into `s.hedge` and `s.pnl`.
    pub fn forward(&self, params: &[f64], idx: &[usize], s: &mut Scratch) {
        let (p, c) = (self.paths, self.claim);
        let rows = idx.len();
        let ni = features::count(self.policy.with_vol());
        for t in 0..p.steps {
            let tau = c.maturity - t as f64 * p.dt;
            let (before, now) = s.hedge.split_at_mut(t * CHUNK);
            let prev = |r: usize| if t == 0 { 0.0 } else { before[(t - 1) * CHUNK + r] };
            let w = t.min(s.ws.len().saturating_sub(1));
            if let (Some(mlp), Some(ws)) = (self.policy.mlp(), s.ws.get_mut(w)) {
                let input = ws.input_mut();
                for (r, &i) in idx.iter().enumerate() {
                    let row = &mut input[r * ni..(r + 1) * ni];
                    features::fill(row, c, p.f(i, t), tau, prev(r), p.v(i, t));
                }
                mlp.forward(params, ws, rows);
            }
            let no = self.policy.mlp().map_or(0, volfit_nn::Mlp::outputs);
            let out = s.ws.get(w).map(|ws| ws.output(rows));
            for (r, &i) in idx.iter().enumerate() {
                let f = p.f(i, t);
                let (delta, gamma) = c.black_hedge(f, tau);
                let o = out.map_or(&[][..], |o| &o[r * no..(r + 1) * no]);
                let ch = self.policy.choose(o, prev(r), delta, gamma, f, c.cost);
                now[r] = ch.hedge;
                s.d_prev[t * CHUNK + r] = ch.d_prev;
                s.d_out[t * CHUNK + r] = ch.d_out;
            }
        }
        for (r, &i) in idx.iter().enumerate() {
            s.pnl[r] = self.pnl(i, |t| s.hedge[t * CHUNK + r]);
        }
    }

    /// The P&L of path `i` given its hedges `h(t)`.
    fn pnl(&self, i: usize, h: impl Fn(usize) -> f64) -> f64 {
        let (p, c) = (self.paths, self.claim);
        let mut pnl = c.premium() - c.payoff(p.f(i, p.steps));
        let mut prev = 0.0;
        for t in 0..p.steps {
            let (a, b) = c.step(p.f(i, t), p.f(i, t + 1), p.dt);
            let ht = h(t);
            pnl += ht * a - b * (ht - prev).abs();
            prev = ht;
        }
        pnl
    }

    /// Adds `Σ_paths ∂J/∂params` into `s.grad[..num_params]` after [`forward`](Self::forward)
    /// over the same `idx`, with `∂J/∂P` in `s.d_pnl`.
    ///
    /// # Panics
    /// When `s` was made without `keep_steps` for a network policy.
    pub fn backward(&self, params: &[f64], idx: &[usize], s: &mut Scratch) {
        let (p, c) = (self.paths, self.claim);
        let rows = idx.len();
        let n = p.steps;
        let ni = features::count(self.policy.with_vol());
        let np = self.policy.num_params();
        assert!(
            np == 0 || s.ws.len() == n,
            "invariant: a backward pass needs a scratch made with keep_steps"
        );
        s.adj[..rows].iter_mut().for_each(|a| *a = 0.0);
        let sign = |d: f64| {
            if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        for t in (0..n).rev() {
            for (r, &i) in idx.iter().enumerate() {
                let h = |t: usize| s.hedge[t * CHUNK + r];
                let prev = if t == 0 { 0.0 } else { h(t - 1) };
                let (a, b) = c.step(p.f(i, t), p.f(i, t + 1), p.dt);
                let mut direct = a - b * sign(h(t) - prev);
                if t + 1 < n {
                    let (_, b1) = c.step(p.f(i, t + 1), p.f(i, t + 2), p.dt);
                    direct += b1 * sign(h(t + 1) - h(t));
                }
                s.adj[r] += s.d_pnl[r] * direct;
            }
            if let (Some(mlp), Some(ws)) = (self.policy.mlp(), s.ws.get_mut(t)) {
                let no = mlp.outputs();
                let (_, g) = ws.output_and_grad_mut(rows);
                let d_out = &s.d_out[t * CHUNK..t * CHUNK + rows];
                for ((g, d), adj) in g.chunks_exact_mut(no).zip(d_out).zip(&s.adj) {
                    g.iter_mut().zip(d).for_each(|(g, d)| *g = adj * d);
                }
                mlp.backward_input(params, ws, rows, &mut s.grad[..np], &mut s.d_input);
            }
            let d_prev = &s.d_prev[t * CHUNK..t * CHUNK + rows];
            for (r, (adj, dp)) in s.adj[..rows].iter_mut().zip(d_prev).enumerate() {
                let via_input = if np > 0 { s.d_input[r * ni + HEDGE_FEATURE] } else { 0.0 };
                *adj = *adj * dp + via_input;
            }
        }
    }
}
