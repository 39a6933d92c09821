//! Calibration through a surrogate net: the shipped Heston net (`models/heston.safetensors`)
//! recovers the parameters of a surface priced by the exact Heston pricer, the exact polish
//! lands on them, the interpolation's Jacobian is exact, and a net of another model is an
//! error naming the file and field.

use std::path::{Path, PathBuf};
use volfit::black::OptionType;
use volfit::fit::{
    calibrate, on_grid, CfSurfaceModel, FitSpec, ModelKind, SurrogateModel, VolModel,
};
use volfit::model::{Heston, Surface};
use volfit::objective::Target;
use volfit::surrogate::Surrogate;

fn shipped() -> (PathBuf, Surrogate) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/heston.safetensors");
    let net = Surrogate::load(&p).unwrap();
    (p, net)
}

/// Quotes of the exact Heston surface `h`: 7 expiries from 2 days to 11 months × 9 strikes
/// inside the net's grid (z = k/√t from −0.9 to 0.9), plus 7 far-wing quotes off it (z = 3.5).
fn quotes(h: &Heston) -> Vec<Target> {
    let mut out = Vec::new();
    for t in [2.0 / 365.0, 5.0 / 365.0, 10.0 / 365.0, 0.05, 0.12, 0.3, 0.9] {
        let zs = (0..9).map(|j| -0.9 + 0.225 * f64::from(j)).chain([3.5f64]);
        for z in zs {
            let k = z * f64::sqrt(t);
            let iv = (h.total_variance(k, t) / t).sqrt();
            out.push(target(k, t, iv));
        }
    }
    out
}

/// A target at `(k, t)` with mid vol `iv` (unit vega, no spread).
pub(crate) fn target(k: f64, t: f64, iv: f64) -> Target {
    let forward = 100.0;
    Target {
        k,
        t,
        forward,
        strike: forward * k.exp(),
        kind: if k >= 0.0 { OptionType::Call } else { OptionType::Put },
        bid: None,
        ask: None,
        bid_iv: None,
        ask_iv: None,
        mid_iv: Some(iv),
        vega: 1.0,
        open_interest: 0.0,
        volume: 0.0,
    }
}

#[test]
fn the_interpolated_jacobian_matches_central_differences() {
    let (_, net) = shipped();
    let h = Heston::new(0.3, 3.0, 0.4, 1.2, -0.5).unwrap();
    let all = quotes(&h);
    let inside: Vec<Target> = on_grid(&net.info().grid, &all).into_iter().map(|i| all[i]).collect();
    assert_eq!(inside.len(), 7 * 9, "every quote with |z| ≤ 0.9 is on the grid, z = 3.5 is not");
    let m = SurrogateModel::new(&net, &inside).unwrap();
    let x = [0.3, 3.0, 0.4, 1.2, -0.5];
    let (mut s, mut jac) = (vec![0.0; inside.len()], vec![0.0; inside.len() * 5]);
    m.vols(&x, &inside, &mut s, Some(&mut jac)).unwrap();
    for j in 0..5 {
        let h = 1e-6 * (1.0 + f64::abs(x[j]));
        let (mut up, mut dn) = (x, x);
        up[j] += h;
        dn[j] -= h;
        let (mut su, mut sd) = (vec![0.0; inside.len()], vec![0.0; inside.len()]);
        m.vols(&up, &inside, &mut su, None).unwrap();
        m.vols(&dn, &inside, &mut sd, None).unwrap();
        for i in 0..inside.len() {
            let fd = (su[i] - sd[i]) / (2.0 * h);
            let d = jac[i * 5 + j];
            assert!((fd - d).abs() < 1e-6 * (1.0 + d.abs()), "quote {i} param {j}: {d} vs {fd}");
        }
    }
}

#[test]
fn surrogate_calibration_recovers_an_exact_heston_surface_and_the_polish_lands_on_it() {
    let (_, net) = shipped();
    let truth = [0.3, 3.0, 0.4, 1.2, -0.5];
    let h = Heston::new(truth[0], truth[1], truth[2], truth[3], truth[4]).unwrap();
    let all = quotes(&h);
    let inside: Vec<Target> = on_grid(&net.info().grid, &all).into_iter().map(|i| all[i]).collect();
    let spec = FitSpec { model: ModelKind::Heston, ..FitSpec::default() };
    let start = [0.2, 2.0, 0.3, 1.0, -0.3];
    let m = SurrogateModel::new(&net, &inside).unwrap();
    let cal = calibrate(&m, &inside, &spec, &start, None).unwrap();
    // The net's held-out |IV error| is 0.049 vol pts median, 0.35 p99 (models/README.md):
    // the fitted surface must match the exact one to below that p99 (0.2 vol pts RMSE), and
    // the parameters within the spread such a surface error allows — a 0.1–0.3 vol pt
    // surface bias moves v0, θ by ~1 % of their range, ρ and σ by a few %, κ (which trades
    // against σ and θ on a one-year grid) by ~5 % of its range.
    let rmse =
        (cal.residuals.iter().map(|r| r * r).sum::<f64>() / cal.residuals.len() as f64).sqrt();
    assert!(rmse < 0.002, "surrogate fit RMSE {rmse} vol");
    let tol = [0.01, 0.6, 0.02, 0.1, 0.03];
    for (j, (got, want)) in cal.x.iter().zip(truth).enumerate() {
        assert!((got - want).abs() < tol[j], "{}: {got} vs {want}", m.param_names()[j]);
    }
    // The exact polish from there recovers the truth to the solver's tolerance, on every
    // quote (the off-grid wings included).
    let exact = CfSurfaceModel::new(h.with_slice(&start).unwrap(), &all);
    let pol = calibrate(&exact, &all, &spec, &cal.x, None).unwrap();
    for (got, want) in pol.x.iter().zip(truth) {
        assert!((got - want).abs() < 1e-5 * (1.0 + want.abs()), "{got} vs {want}");
    }
}

#[test]
fn a_net_of_another_model_is_an_error_naming_file_and_field() {
    let (path, net) = shipped();
    let err = net.expect_model("bates", &path).unwrap_err().to_string();
    assert!(err.contains("heston.safetensors") && err.contains("field `model`"), "{err}");
    net.expect_model("heston", &path).unwrap();
}

#[test]
fn a_polish_tolerance_stops_early_within_one_percent_of_the_exact_rmse_on_real_chains() {
    use volfit::fit::{fit_snapshot, SnapshotResult, SurrogateSpec};
    let Some(dir) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let file = dir.join("deribit_options_snapshot_20260105T041127Z.csv.gz");
    let snaps = crate::chains::read(&file);
    let (path, _) = shipped();
    let exact = FitSpec { model: ModelKind::Heston, ..FitSpec::default() };
    let through = |tol| {
        let sg = SurrogateSpec::load(&path, true).unwrap().with_polish_tol(tol).unwrap();
        FitSpec { surrogate: Some(sg), ..exact.clone() }
    };
    let (full, loose) = (through(None), through(Some(0.01)));
    let iters = |r: &SnapshotResult| r.fit.expiries[0].iterations;
    let rmse = |r: &SnapshotResult| r.fit.expiries[0].rmse_vol;
    assert_eq!(snaps.len(), 2, "BTC and ETH");
    for s in &snaps {
        let (e, f, l) = (
            fit_snapshot(s, &exact, None),
            fit_snapshot(s, &full, None),
            fit_snapshot(s, &loose, None),
        );
        // Measured: the full polish takes 7 (BTC) and 8 (ETH) iterations from this net's
        // answer, the loose one 4, within 1.00001× of the exact fit's RMSE.
        assert!(iters(&l) < iters(&f), "{} vs {}", iters(&l), iters(&f));
        assert!(rmse(&l) <= 1.01 * rmse(&e), "{} vs {}", rmse(&l), rmse(&e));
    }
    assert!(SurrogateSpec::load(&path, true).unwrap().with_polish_tol(Some(1.5)).is_err());
}
