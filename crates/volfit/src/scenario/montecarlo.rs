//! Monte Carlo under Heston or Bates fitted to each coin's valuation snapshot: forward and
//! variance simulated to the horizon (full-truncation Euler; Bates jumps compensated so the
//! forward stays a martingale), BTC and ETH Brownian drivers correlated; every candidate is
//! repriced on its fitted smile shifted by `√v_h − √v_0` at the simulated forward.

use super::historical::steps;
use super::surface::Priced;
use super::{Coin, CoinSurface, ScenarioConfig, ScenarioError, ScenarioKind};
use crate::fit::{fit_snapshot, FitSpec, ModelKind};
use crate::market::Snapshot;
use crate::risk::Scenarios;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Poisson, StandardNormal};
use rayon::prelude::*;

/// Model parameters of one coin: Heston `[v0, κ, θ, σ, ρ]` and jumps `(λ, μ_J, σ_J)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dynamics {
    pub heston: [f64; 5],
    pub jumps: Option<(f64, f64, f64)>,
}

/// Fits the model of `kind` to `snap`.
pub(crate) fn fit_dynamics(snap: &Snapshot, kind: ScenarioKind) -> Result<Dynamics, ScenarioError> {
    let model = if kind == ScenarioKind::Bates { ModelKind::Bates } else { ModelKind::Heston };
    let spec = FitSpec { model, ..FitSpec::default() };
    let result = fit_snapshot(snap, &spec, None);
    let x = result.warm.surface.map(|s| s.1).ok_or_else(|| {
        ScenarioError::Data(format!(
            "{} {}: the {model:?} fit failed; no Monte Carlo dynamics",
            snap.underlying,
            snap.time_iso()
        ))
    })?;
    let ok = x.iter().all(|v| v.is_finite());
    match (model, x.len()) {
        (ModelKind::Heston, 5) if ok => {
            Ok(Dynamics { heston: [x[0], x[1], x[2], x[3], x[4]], jumps: None })
        }
        (ModelKind::Bates, 8) if ok => {
            Ok(Dynamics { heston: [x[0], x[1], x[2], x[3], x[4]], jumps: Some((x[5], x[6], x[7])) })
        }
        _ => Err(ScenarioError::Data(format!(
            "{} {}: unexpected {model:?} parameters {x:?}",
            snap.underlying,
            snap.time_iso()
        ))),
    }
}

/// Correlation of the coins' historical log-returns (0 with fewer than 5 steps).
fn estimated_correlation(coins: &[Coin], snapshots: &[Snapshot], max_hours: f64) -> f64 {
    if coins.len() < 2 {
        return 0.0;
    }
    let st = steps(coins, snapshots, max_hours);
    if st.len() < 5 {
        return 0.0;
    }
    let n = st.len() as f64;
    let (ma, mb) = st.iter().fold((0.0, 0.0), |s, x| (s.0 + x.moves[0].0, s.1 + x.moves[1].0));
    let (ma, mb) = (ma / n, mb / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for x in &st {
        let (a, b) = (x.moves[0].0 - ma, x.moves[1].0 - mb);
        sab += a * b;
        saa += a * a;
        sbb += b * b;
    }
    let c = sab / (saa * sbb).sqrt();
    if c.is_finite() {
        c.clamp(-0.999, 0.999)
    } else {
        0.0
    }
}

/// One full-truncation Euler step (Lord, Koekkoek & van Dijk 2010) of Heston
/// `[v0, κ, θ, σ, ρ]` from `(x, v)`, `x = ln F`: with `v⁺ = max(v, 0)`,
/// `x += −(v⁺/2 + comp)dt + √(v⁺dt)·z + jump`, `v += κ(θ − v⁺)dt + σ√(v⁺dt)(ρz + √(1−ρ²)w)`;
/// `z`, `w` independent standard normals, `comp` the jump compensator (0 without jumps).
/// `v` may go negative; callers read the variance as `max(v, 0)`.
#[inline]
pub(crate) fn euler_step(
    heston: &[f64; 5],
    comp: f64,
    xv: (f64, f64),
    zw: (f64, f64),
    jump: f64,
    dt: f64,
) -> (f64, f64) {
    let [_, kappa, theta, sigma, rho] = *heston;
    let ((x, v), (z, w)) = (xv, zw);
    let vp = v.max(0.0);
    let sd = (vp * dt).sqrt();
    let sq = (1.0 - rho * rho).max(0.0).sqrt();
    // Grouped as `x += (…)`, `v += (…)`: the same rounding as before the step was factored out.
    let x = x + (-(0.5 * vp + comp) * dt + sd * z + jump);
    let v = v + (kappa * (theta - vp) * dt + sigma * sd * (rho * z + sq * w));
    (x, v)
}

/// The Bates jump compensator `λ(e^{μ_J + σ_J²/2} − 1)`: the drift per year that keeps the
/// forward a martingale under lognormal (Merton) jumps of intensity `λ`.
#[inline]
pub(crate) fn jump_compensator(lambda: f64, mu_j: f64, sigma_j: f64) -> f64 {
    // `exp() − 1` rather than `exp_m1`: the rounding the scenario matrices were made with.
    lambda * ((mu_j + 0.5 * sigma_j * sigma_j).exp() - 1.0)
}

/// One step's jumps: the count `k ~ Poisson(λdt)` and the sum of `k` normal log-jumps
/// `N(μ_J, σ_J²)`, drawn as `k·μ_J + √k·σ_J·e`; returns `(k, sum)`.
#[inline]
pub(crate) fn draw_jump(
    rng: &mut ChaCha8Rng,
    poisson: &Poisson<f64>,
    mu_j: f64,
    sigma_j: f64,
) -> (f64, f64) {
    let k: f64 = rng.sample(poisson);
    let e: f64 = rng.sample(StandardNormal);
    (k, k * mu_j + k.sqrt() * sigma_j * e)
}

/// Simulates one coin's (ln F_h/F_0, v_h) given its Brownian increments.
fn simulate(d: &Dynamics, z: &[f64], w: &[f64], jumps: &[(f64, f64)], dt: f64) -> (f64, f64) {
    let comp = d.jumps.map_or(0.0, |(l, mu, sj)| jump_compensator(l, mu, sj));
    let mut xv = (0.0, d.heston[0]);
    for ((&zi, &wi), &(nj, jump)) in z.iter().zip(w).zip(jumps) {
        let jump = if nj > 0.0 { jump } else { 0.0 };
        xv = euler_step(&d.heston, comp, xv, (zi, wi), jump, dt);
    }
    (xv.0, xv.1.max(0.0))
}

/// Monte Carlo P&L matrix and its provenance.
pub(crate) fn scenarios(
    priced: &[Priced],
    surfaces: &[CoinSurface],
    snapshots: &[Snapshot],
    cfg: &ScenarioConfig,
    horizon: f64,
) -> Result<(Scenarios, Option<Vec<f64>>, String), ScenarioError> {
    let coins: Vec<Coin> = surfaces.iter().map(|s| s.coin).collect();
    let dyns: Vec<Dynamics> = surfaces
        .iter()
        .map(|s| fit_dynamics(&snapshots[s.snapshot], cfg.kind))
        .collect::<Result<_, _>>()?;
    let corr = cfg
        .correlation
        .unwrap_or_else(|| estimated_correlation(&coins, snapshots, cfg.max_step_hours));
    let n_steps = ((horizon * 365.0 * cfg.steps_per_day as f64).ceil() as usize).max(1);
    let dt = horizon / n_steps as f64;
    let cols = priced.len();
    let mut data = vec![0.0; cfg.count * cols];
    let nc = coins.len();
    let poissons: Vec<Option<Poisson<f64>>> = dyns
        .iter()
        .map(|d| {
            d.jumps
                .and_then(|(l, _, _)| (l * dt > 0.0).then(|| Poisson::new(l * dt).ok()).flatten())
        })
        .collect();
    data.par_chunks_mut(cols).enumerate().for_each_init(
        || (vec![0.0; n_steps * nc], vec![0.0; n_steps * nc], vec![(0.0, 0.0); n_steps * nc]),
        |(z, w, j), (row, out)| {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(row as u64);
            let sq = (1.0 - corr * corr).max(0.0).sqrt();
            for s in 0..n_steps {
                let n1: f64 = rng.sample(StandardNormal);
                for c in 0..nc {
                    let own: f64 = rng.sample(StandardNormal);
                    // Coin 0 takes the common driver; the others correlate with it.
                    z[c * n_steps + s] = if c == 0 { n1 } else { corr * n1 + sq * own };
                    w[c * n_steps + s] = rng.sample(StandardNormal);
                    j[c * n_steps + s] = match (&poissons[c], dyns[c].jumps) {
                        (Some(p), Some((_, mu, sj))) => draw_jump(&mut rng, p, mu, sj),
                        _ => (0.0, 0.0),
                    };
                }
            }
            let mut state = [(0.0, 0.0); 2];
            for c in 0..nc.min(2) {
                let r = c * n_steps..(c + 1) * n_steps;
                state[c] = simulate(&dyns[c], &z[r.clone()], &w[r.clone()], &j[r], dt);
            }
            for (o, p) in out.iter_mut().zip(priced) {
                let (x, v) = state[p.surface];
                let dvol = v.sqrt() - dyns[p.surface].heston[0].sqrt();
                *o = p.pnl(&surfaces[p.surface], x.exp(), 1.0, dvol, horizon);
            }
        },
    );
    let pnl = Scenarios::new(data, cfg.count, cols)
        .map_err(|e| ScenarioError::Data(format!("Monte Carlo scenarios: {e}")))?;
    let params: Vec<String> = coins
        .iter()
        .zip(&dyns)
        .map(|(c, d)| {
            let [v0, k, th, s, r] = d.heston;
            let mut t = format!("{c}: v0 {v0:.4} κ {k:.3} θ {th:.4} σ {s:.3} ρ {r:.3}");
            if let Some((l, mu, sj)) = d.jumps {
                t += &format!(" λ {l:.3} μJ {mu:.4} σJ {sj:.4}");
            }
            t
        })
        .collect();
    let prov = format!(
        "{:?} Monte Carlo: {} scenarios, horizon {} ({n_steps} Euler steps), BTC–ETH \
         correlation {corr:.3}; {}; seed {}",
        cfg.kind,
        cfg.count,
        cfg.horizon,
        params.join("; "),
        cfg.seed
    );
    Ok((pnl, None, prov))
}
