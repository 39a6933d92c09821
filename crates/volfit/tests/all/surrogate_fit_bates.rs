//! The shipped Bates net (`models/bates.safetensors`): its surface matches the exact Bates
//! pricer inside the box to its measured accuracy, and a calibration through it followed by
//! the exact polish fits an exact Bates surface to the solver's tolerance, landing on its parameters.

use crate::surrogate_fit::target;
use std::path::Path;
use volfit::fit::{calibrate, on_grid, CfSurfaceModel, FitSpec, ModelKind, SurrogateModel};
use volfit::model::{Bates, Heston, Surface};
use volfit::objective::Target;
use volfit::surrogate::Surrogate;

fn shipped() -> Surrogate {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/bates.safetensors");
    let net = Surrogate::load(&p).unwrap();
    net.expect_model("bates", &p).unwrap();
    net
}

/// Quotes of the exact surface `b`: 7 expiries from 2 days to 11 months × 9 strikes inside
/// the net's grid (z = k/√t from −0.9 to 0.9), plus far-wing quotes off it (z = 2.5).
fn quotes(b: &Bates) -> Vec<Target> {
    let mut out = Vec::new();
    for t in [2.0 / 365.0, 5.0 / 365.0, 10.0 / 365.0, 0.05, 0.12, 0.3, 0.9] {
        for z in (0..9).map(|j| -0.9 + 0.225 * f64::from(j)).chain([2.5f64]) {
            let k = z * f64::sqrt(t);
            out.push(target(k, t, (b.total_variance(k, t) / t).sqrt()));
        }
    }
    out
}

#[test]
fn the_bates_net_calibrates_an_exact_surface_and_the_polish_fits_it() {
    let net = shipped();
    // Inside the default Bates box (models/README.md), away from its edges.
    let truth = [0.3, 3.0, 0.4, 1.2, -0.4, 1.5, -0.1, 0.15];
    let b = Bates::new(Heston::new(0.3, 3.0, 0.4, 1.2, -0.4).unwrap(), 1.5, -0.1, 0.15).unwrap();
    let all = quotes(&b);
    let inside: Vec<Target> = on_grid(&net.info().grid, &all).into_iter().map(|i| all[i]).collect();
    assert_eq!(inside.len(), 63, "the wing quotes lie off the grid");
    let spec = FitSpec { model: ModelKind::Bates, ..FitSpec::default() };
    let m = SurrogateModel::new(&net, &inside).unwrap();
    // At the truth, the net's surface is within its held-out p99 (0.39 vol pt) of the exact
    // one on these quotes, with margin (0.8 vol pt at the worst quote).
    let mut vols = vec![0.0; inside.len()];
    volfit::fit::VolModel::vols(&m, &truth, &inside, &mut vols, None).unwrap();
    let worst = inside.iter().zip(&vols).map(|(q, v)| (v - q.mid_iv.unwrap()).abs());
    let worst = worst.fold(0.0, f64::max);
    assert!(worst < 0.008, "net vs exact at the truth: {worst}");
    // Through the net the fit reaches the exact surface to about the net's error; the exact
    // polish from there fits every quote (wings included) to the solver's tolerance.
    let start = [0.2, 2.0, 0.3, 1.0, -0.3, 1.0, -0.05, 0.1];
    let cal = calibrate(&m, &inside, &spec, &start, None).unwrap();
    let rmse = |r: &[f64]| (r.iter().map(|r| r * r).sum::<f64>() / r.len() as f64).sqrt();
    assert!(rmse(&cal.residuals) < 0.004, "surrogate fit RMSE {}", rmse(&cal.residuals));
    let exact = CfSurfaceModel::new(b.with_slice(&cal.x).unwrap(), &all);
    let pol = calibrate(&exact, &all, &spec, &cal.x, None).unwrap();
    assert!(rmse(&pol.residuals) < 1e-5, "polished RMSE {}", rmse(&pol.residuals));
    for (got, want) in pol.x.iter().zip(truth) {
        assert!((got - want).abs() < 1e-6 * (1.0 + want.abs()), "{got} vs {want}");
    }
}
