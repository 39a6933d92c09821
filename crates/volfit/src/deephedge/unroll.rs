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
//! needs), sized once for [`CHUNK`] paths: no allocation per batch. A [`StepTable`] holds
//! what does not depend on the policy's parameters — the moneyness feature, the Black hedge
//! and its slope, the gains `a_t` and costs `b_t` of every path and step — computed once
//! for a training set instead of once per epoch (the same functions, so the same numbers).

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

/// Per path and step, the inputs that do not depend on the policy's parameters (see the
/// module docs), path-major (`i·steps + t`).
#[derive(Clone, Debug)]
pub struct StepTable {
    steps: usize,
    moneyness: Vec<f64>,
    delta: Vec<f64>,
    gamma: Vec<f64>,
    gain: Vec<f64>,
    cost: Vec<f64>,
}

/// Largest table built, in path-steps (5 numbers each: 160 MB).
pub const MAX_TABLE: usize = 4 << 20;

/// One state's parameter-free inputs: moneyness feature, Black hedge and its slope.
#[derive(Clone, Copy, Debug)]
struct State {
    moneyness: f64,
    delta: f64,
    gamma: f64,
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
        let inputs = self.policy.inputs().count();
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

    /// The [`StepTable`] of every path, or `None` when it would exceed [`MAX_TABLE`]
    /// path-steps (the passes then compute its entries as they go).
    pub fn table(&self) -> Option<StepTable> {
        let p = self.paths;
        let len = p.paths.checked_mul(p.steps).filter(|&n| n <= MAX_TABLE)?;
        let mut t = StepTable {
            steps: p.steps,
            moneyness: Vec::with_capacity(len),
            delta: Vec::with_capacity(len),
            gamma: Vec::with_capacity(len),
            gain: Vec::with_capacity(len),
            cost: Vec::with_capacity(len),
        };
        for i in 0..p.paths {
            for step in 0..p.steps {
                let st = self.state(i, step);
                let (a, b) = self.step(i, step);
                t.moneyness.push(st.moneyness);
                t.delta.push(st.delta);
                t.gamma.push(st.gamma);
                t.gain.push(a);
                t.cost.push(b);
            }
        }
        Some(t)
    }

    /// Path `i`'s state at step `t`, computed.
    #[inline]
    fn state(&self, i: usize, t: usize) -> State {
        let (p, c) = (self.paths, self.claim);
        let f = p.f(i, t);
        let (delta, gamma) = c.black_hedge(f, self.tau(t));
        State { moneyness: features::moneyness(c, f), delta, gamma }
    }

    /// Path `i`'s state at step `t`, from `table` when given.
    #[inline]
    fn state_in(&self, table: Option<&StepTable>, i: usize, t: usize) -> State {
        match table {
            Some(tb) => {
                let k = i * tb.steps + t;
                State { moneyness: tb.moneyness[k], delta: tb.delta[k], gamma: tb.gamma[k] }
            }
            None => self.state(i, t),
        }
    }

    /// `(a_t, b_t)` of path `i` at step `t`, computed.
    #[inline]
    fn step(&self, i: usize, t: usize) -> (f64, f64) {
        let p = self.paths;
        self.claim.step(p.f(i, t), p.f(i, t + 1), p.dt)
    }

    /// `(a_t, b_t)` of path `i` at step `t`, from `table` when given.
    #[inline]
    fn step_in(&self, table: Option<&StepTable>, i: usize, t: usize) -> (f64, f64) {
        match table {
            Some(tb) => (tb.gain[i * tb.steps + t], tb.cost[i * tb.steps + t]),
            None => self.step(i, t),
        }
    }

    /// Time to expiry at step `t`.
    #[inline]
    fn tau(&self, t: usize) -> f64 {
        self.claim.maturity - t as f64 * self.paths.dt
    }

    /// Hedges and P&L of the paths `idx` (at most [`CHUNK`]) under network parameters
    /// `params`, into `s.hedge` and `s.pnl`.
    pub fn forward(&self, params: &[f64], idx: &[usize], s: &mut Scratch) {
        self.forward_with(params, idx, s, None);
    }

    /// [`forward`](Self::forward) reading the parameter-free inputs from `table` (made by
    /// [`table`](Self::table) of the same paths and claim) when given: the same numbers.
    pub fn forward_with(
        &self,
        params: &[f64],
        idx: &[usize],
        s: &mut Scratch,
        table: Option<&StepTable>,
    ) {
        let (p, c) = (self.paths, self.claim);
        let rows = idx.len();
        let inputs = self.policy.inputs();
        let ni = inputs.count();
        let no = self.policy.mlp().map_or(0, volfit_nn::Mlp::outputs);
        for t in 0..p.steps {
            let tau_frac = self.tau(t) / c.maturity;
            let (before, now) = s.hedge.split_at_mut(t * CHUNK);
            let prev = |r: usize| if t == 0 { 0.0 } else { before[(t - 1) * CHUNK + r] };
            let w = t.min(s.ws.len().saturating_sub(1));
            if let (Some(mlp), Some(ws)) = (self.policy.mlp(), s.ws.get_mut(w)) {
                let input = ws.input_mut();
                for (r, &i) in idx.iter().enumerate() {
                    let row = &mut input[r * ni..(r + 1) * ni];
                    let st = self.state_in(table, i, t);
                    let vol = p.v(i, t) / c.black_vol;
                    inputs.fill(row, st.moneyness, tau_frac, prev(r), vol, st.delta);
                }
                mlp.forward(params, ws, rows);
            }
            let out = s.ws.get(w).map(|ws| ws.output(rows));
            for (r, &i) in idx.iter().enumerate() {
                let st = self.state_in(table, i, t);
                let o = out.map_or(&[][..], |o| &o[r * no..(r + 1) * no]);
                let ch = self.policy.choose(o, prev(r), st.delta, st.gamma, p.f(i, t), c.cost);
                now[r] = ch.hedge;
                s.d_prev[t * CHUNK + r] = ch.d_prev;
                s.d_out[t * CHUNK + r] = ch.d_out;
            }
        }
        let premium = c.premium();
        for (r, &i) in idx.iter().enumerate() {
            let mut pnl = premium - c.payoff(p.f(i, p.steps));
            let mut prev = 0.0;
            for t in 0..p.steps {
                let (a, b) = self.step_in(table, i, t);
                let ht = s.hedge[t * CHUNK + r];
                pnl += ht * a - b * (ht - prev).abs();
                prev = ht;
            }
            s.pnl[r] = pnl;
        }
    }

    /// Adds `Σ_paths ∂J/∂params` into `s.grad[..num_params]` after [`forward`](Self::forward)
    /// over the same `idx`, with `∂J/∂P` in `s.d_pnl`.
    ///
    /// # Panics
    /// When `s` was made without `keep_steps` for a network policy.
    pub fn backward(&self, params: &[f64], idx: &[usize], s: &mut Scratch) {
        self.backward_with(params, idx, s, None);
    }

    /// [`backward`](Self::backward) after [`forward_with`](Self::forward_with) with the same
    /// `table`.
    ///
    /// # Panics
    /// As [`backward`](Self::backward).
    pub fn backward_with(
        &self,
        params: &[f64],
        idx: &[usize],
        s: &mut Scratch,
        table: Option<&StepTable>,
    ) {
        let p = self.paths;
        let rows = idx.len();
        let n = p.steps;
        let ni = self.policy.inputs().count();
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
                let (a, b) = self.step_in(table, i, t);
                let mut direct = a - b * sign(h(t) - prev);
                if t + 1 < n {
                    let (_, b1) = self.step_in(table, i, t + 1);
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
