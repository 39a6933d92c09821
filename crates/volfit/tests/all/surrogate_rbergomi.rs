//! Rough Bergomi through its net (`--model rbergomi --surrogate NET`): the fitted surface is
//! the net's (the vol at a quote is the calibration's interpolation, its gradient exact),
//! calibration recovers the parameters of a surface the net produced and of a Monte Carlo
//! surface of the pricer, and `fit_snapshot` reports it with the fields of every other
//! model (no polish: the model has no exact pricer).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use volfit::fit::{
    calibrate, fit_snapshot, FitSpec, ModelKind, NetSurface, SurrogateModel, SurrogateSpec,
    VolModel,
};
use volfit::market::synth::SynthSpec;
use volfit::market::Snapshot;
use volfit::model::{McConfig, McWorkspace, RBergomi, Surface, RICHARDSON_RATE};
use volfit::objective::Target;
use volfit::surrogate::Surrogate;

use crate::surrogate_fit::target;

/// RMSE (vol) and parameter tolerances of the Monte Carlo recovery test. The shipped net's
/// held-out |net − reference| is 0.2 vol pt median (models/README.md) and the surface's own
/// Monte Carlo error at 16,384 paths is 0.07–0.6 vol pt: the fit may miss by that (0.4 vol
/// pt RMSE). Measured with the previous net (trained on 64-step vols without the bias
/// extrapolation, tested on such a surface): RMSE 0.18 vol pt, H off by 0.006, η by 0.02, ρ
/// by 0.001, ξ₀ by 1.3 %; the tolerances, ~3× those misses, hold unchanged for the current
/// net on the extrapolated surface it is trained on.
const MC_TOLERANCE: (f64, [f64; 4]) = (0.004, [0.02, 0.1, 0.03, 0.012]);

fn model_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name)
}

fn net(name: &str) -> Arc<Surrogate> {
    Arc::new(Surrogate::load(&model_file(name)).unwrap())
}

/// Quotes of `vol(k, t)` at 6 expiries from 2 days to 11 months × 9 strikes with
/// `z = k/√t` from −0.9 to 0.9: all between the grid's nodes.
fn quotes(vol: impl Fn(f64, f64) -> f64) -> Vec<Target> {
    let mut out = Vec::new();
    for t in [2.0 / 365.0, 10.0 / 365.0, 0.05, 0.12, 0.3, 0.9] {
        for j in 0..9 {
            let k = (-0.9 + 0.225 * f64::from(j)) * f64::sqrt(t);
            out.push(target(k, t, vol(k, t)));
        }
    }
    out
}

fn net_vol(s: &NetSurface, k: f64, t: f64) -> f64 {
    (s.total_variance(k, t) / t).sqrt()
}

#[test]
fn the_net_surface_is_the_calibrations_interpolation_with_an_exact_gradient() {
    // Model-agnostic: checked on the shipped Heston net.
    let net = net("heston.safetensors");
    let x = [0.3, 3.0, 0.4, 1.2, -0.5];
    let s = NetSurface::new(Arc::clone(&net), &x).unwrap();
    let qs = quotes(|_, _| 0.5);
    let m = SurrogateModel::new(&net, &qs).unwrap();
    let mut sigma = vec![0.0; qs.len()];
    m.vols(&x, &qs, &mut sigma, None).unwrap();
    for (q, &v) in qs.iter().zip(&sigma) {
        assert!((net_vol(&s, q.k, q.t) - v).abs() < 1e-14, "({}, {}): {v}", q.k, q.t);
    }
    // ∂w/∂x against central differences.
    let mut grad = [0.0; 5];
    for q in qs.iter().step_by(5) {
        s.total_variance_grad(q.k, q.t, &mut grad);
        for j in 0..5 {
            let h = 1e-6 * (1.0 + x[j].abs());
            let (mut up, mut dn) = (x, x);
            up[j] += h;
            dn[j] -= h;
            let fd = (s.with_slice(&up).unwrap().total_variance(q.k, q.t)
                - s.with_slice(&dn).unwrap().total_variance(q.k, q.t))
                / (2.0 * h);
            assert!((fd - grad[j]).abs() < 1e-7 * (1.0 + fd.abs()), "{j}: {} vs {fd}", grad[j]);
        }
    }
    // Beyond the grid's strikes the total variance goes on linearly in k with the edge's
    // slope (C¹: one-sided differences agree at the edge), rising in both wings; beyond its
    // maturities the vol is held at the nearest one's (t = 1 day or 1 year).
    let grid = &net.info().grid;
    for (t, z_e, out) in [(0.3, grid.z[grid.z.len() - 1], 1.0), (0.02, grid.z[0], -1.0)] {
        let (ke, h) = (z_e * f64::sqrt(t), 1e-5);
        let w = |k: f64| s.total_variance(k, t);
        let inner = (w(ke) - w(ke - out * h)) / h;
        let outer = (w(ke + out * h) - w(ke)) / h;
        assert!((inner - outer).abs() < 1e-3 * (1.0 + inner.abs()), "{inner} vs {outer}");
        let (k1, k2) = (ke + out * 0.5, ke + out * 1.5);
        let line = w(ke) + (w(k1) - w(ke)) * (k2 - ke) / (k1 - ke);
        assert!((w(k2) - line).abs() < 1e-12, "t {t}: {} vs {line}", w(k2));
        assert!(w(k2) >= w(k1) && w(k1) >= w(ke), "t {t}: the wing falls");
        let mut grad = [0.0; 5];
        s.total_variance_grad(k2, t, &mut grad);
        for j in 0..5 {
            let hx = 1e-6 * (1.0 + x[j].abs());
            let (mut up, mut dn) = (x, x);
            up[j] += hx;
            dn[j] -= hx;
            let fd = (s.with_slice(&up).unwrap().total_variance(k2, t)
                - s.with_slice(&dn).unwrap().total_variance(k2, t))
                / (2.0 * hx);
            assert!((fd - grad[j]).abs() < 1e-6 * (1.0 + fd.abs()), "{j}: {} vs {fd}", grad[j]);
        }
    }
    assert!((net_vol(&s, 0.0, 2.0) - net_vol(&s, 0.0, 1.0)).abs() < 1e-15);
    // Parameters outside the training box are refused.
    let kappa_out = net.info().bounds.upper[1] + 1.0;
    assert!(s.with_slice(&[0.3, kappa_out, 0.4, 1.2, -0.5]).is_err());
    assert!(s.with_slice(&x[..4]).is_err());
}

#[test]
fn calibration_through_the_rbergomi_net_recovers_a_surface_the_net_produced() {
    let net = net("rbergomi.safetensors");
    assert_eq!(net.info().params, ["hurst", "eta", "rho", "xi0"]);
    let truth = [0.12, 1.9, -0.65, 0.35];
    let s = NetSurface::new(Arc::clone(&net), &truth).unwrap();
    let qs = quotes(|k, t| net_vol(&s, k, t));
    let m = SurrogateModel::new(&net, &qs).unwrap();
    let spec = FitSpec { model: ModelKind::RBergomi, ..FitSpec::default() };
    let cal = calibrate(&m, &qs, &spec, &[0.1, 1.5, -0.6, 0.25], None).unwrap();
    // The surface is the net's own: the fit is exact up to the solver's tolerance.
    let rmse = (cal.residuals.iter().map(|r| r * r).sum::<f64>() / qs.len() as f64).sqrt();
    assert!(rmse < 1e-6, "RMSE {rmse}");
    for (j, (got, want)) in cal.x.iter().zip(truth).enumerate() {
        assert!((got - want).abs() < 1e-3 * (1.0 + want.abs()), "{j}: {got} vs {want}");
    }
}

#[test]
fn calibration_through_the_rbergomi_net_recovers_a_monte_carlo_surface() {
    // The pricer's own surface (16,384 paths, the training data's Richardson extrapolation
    // over 64 and 32 steps per maturity) on the net's grid, its edge columns left out
    // (z = ±0.8 … ±0.2 and 0).
    let net = net("rbergomi.safetensors");
    let grid = &net.info().grid;
    let truth = [0.1, 2.0, -0.7, 0.3];
    let m = RBergomi::new(truth[0], truth[1], truth[2], truth[3]).unwrap();
    let mut ks = vec![0.0; grid.len()];
    for (i, row) in ks.chunks_mut(grid.z.len()).enumerate() {
        grid.strikes_into(i, row);
    }
    let mut ws = McWorkspace::default();
    let mc = McConfig { paths: 16_384, steps: 64, seed: 11 };
    let rate = RICHARDSON_RATE;
    assert_eq!(m.price_grid_richardson(&mc, rate, &grid.maturities, &ks, &mut ws).unwrap(), 0);
    let m_z = grid.z.len();
    let qs: Vec<Target> = (0..grid.len())
        .filter(|p| (1..m_z - 1).contains(&(p % m_z)))
        .map(|p| target(ks[p], grid.maturities[p / m_z], ws.iv()[p]))
        .collect();
    let model = SurrogateModel::new(&net, &qs).unwrap();
    let spec = FitSpec { model: ModelKind::RBergomi, ..FitSpec::default() };
    let cal = calibrate(&model, &qs, &spec, &[0.2, 1.5, -0.5, 0.25], None).unwrap();
    let rmse = (cal.residuals.iter().map(|r| r * r).sum::<f64>() / qs.len() as f64).sqrt();
    let tol = MC_TOLERANCE;
    assert!(rmse < tol.0, "RMSE {rmse} vol");
    for (j, (got, want)) in cal.x.iter().zip(truth).enumerate() {
        assert!((got - want).abs() < tol.1[j], "{}: {got} vs {want}", model.param_names()[j]);
    }
}

/// The synthetic chain (seed 7) read back as one snapshot.
fn synthetic_snapshot(dir: &Path) -> Snapshot {
    crate::chains::synthetic(dir, "synth.csv", &SynthSpec { seed: 7, ..SynthSpec::default() })
}

#[test]
fn fit_snapshot_reports_rbergomi_as_the_nets_surface_with_every_fit_field() {
    let dir = tempfile::tempdir().unwrap();
    let snap = synthetic_snapshot(dir.path());
    let path = model_file("rbergomi.safetensors");
    let sg = SurrogateSpec::load(&path, false).unwrap();
    let spec = FitSpec { model: ModelKind::RBergomi, surrogate: Some(sg), ..FitSpec::default() };
    let r = fit_snapshot(&snap, &spec, None);
    let f = &r.fit;
    assert_eq!(f.model, ModelKind::RBergomi);
    assert!(!f.expiries.is_empty(), "{:?}", f.skipped);
    let p = f.surface_params.as_ref().unwrap();
    let x: Vec<f64> = ["hurst", "eta", "rho", "xi0"].iter().map(|n| p[*n]).collect();
    let stage = f.surrogate.as_ref().unwrap();
    assert!(!stage.polished && !stage.exact_pricer);
    // Every usable quote is either fitted (on the grid) or counted off it.
    let usable: usize =
        snap.expiries.iter().map(|e| volfit::fit::select_targets(e, &spec).len()).sum();
    assert!(stage.quotes_off_grid > 0);
    assert_eq!(stage.quotes_on_grid + stage.quotes_off_grid, usable);
    assert_eq!(r.residuals.len(), stage.quotes_on_grid);
    // The vol at each quote is the net's surface at the fitted parameters; so is the
    // reported ATM vol.
    let s = NetSurface::new(net("rbergomi.safetensors"), &x).unwrap();
    for row in &r.residuals {
        assert!((row.model_iv - net_vol(&s, row.k, row.t)).abs() < 1e-12, "{row:?}");
    }
    for e in &f.expiries {
        assert!((e.params["atm_vol"] - net_vol(&s, 0.0, e.t)).abs() < 1e-12);
        assert!(e.rmse_vol.is_finite() && (0.0..=1.0).contains(&e.inside_spread));
    }
    // The model rebuilt from fit.json has no pricer: no smile, no error.
    let fitted = r.fitted(&snap, &spec);
    assert_eq!(fitted.num_expiries(), 0);
}

#[test]
fn rbergomi_without_its_net_or_with_another_models_net_is_skipped_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let snap = synthetic_snapshot(dir.path());
    let spec = FitSpec { model: ModelKind::RBergomi, ..FitSpec::default() };
    let r = fit_snapshot(&snap, &spec, None);
    assert!(r.fit.expiries.is_empty());
    assert!(r.fit.skipped.iter().any(|s| s.contains("--surrogate")), "{:?}", r.fit.skipped);
    let sg = SurrogateSpec::load(&model_file("heston.safetensors"), false).unwrap();
    let spec = FitSpec { surrogate: Some(sg), ..spec };
    let r = fit_snapshot(&snap, &spec, None);
    assert!(r.fit.expiries.is_empty());
    let why = r.fit.skipped.join("; ");
    assert!(why.contains("heston.safetensors") && why.contains("model"), "{why}");
}
