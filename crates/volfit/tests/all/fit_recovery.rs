//! Parameter recovery for every model: quotes generated from known parameters (plus seeded
//! mid noise and a bid–ask spread), fitted through `fit_snapshot`, parameters compared with
//! the truth. SSVI and SVI recovery on the full synthetic Deribit chain is in `fit_synth.rs`.

use num_complex::Complex64;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use volfit::black;
use volfit::fit::{fit_snapshot, FitSpec, ModelKind};
use volfit::market::{Expiry, ForwardSource, OptionType, Quote, Snapshot};
use volfit::model::Bates;
use volfit::model::CharacteristicFn;
use volfit::model::Heston;
use volfit::model::Smile;
use volfit::model::{Sabr, SabrExpansion};
use volfit_optim::loss::LossKind;

const F: f64 = 90_000.0;
const EXPIRIES: [f64; 6] = [0.04, 0.08, 0.17, 0.33, 0.5, 1.0];

/// A snapshot whose OTM quotes have mid IV `vol(k, t)` + N(0, noise²) and a 1-vol-point
/// bid–ask spread.
fn snapshot(vol: &dyn Fn(f64, f64) -> f64, noise: f64, seed: u64) -> Snapshot {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut expiries = Vec::new();
    for (i, &t) in EXPIRIES.iter().enumerate() {
        let sd = 0.6 * t.sqrt();
        let mut quotes = Vec::new();
        for j in -12..=12 {
            let k = 2.5 * sd * f64::from(j) / 12.0;
            let strike = F * k.exp();
            let kind = if strike < F { OptionType::Put } else { OptionType::Call };
            let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
            let mid = vol(k, t) + noise * z;
            let (bid_iv, ask_iv) = (mid - 0.005, mid + 0.005);
            let bid = black::price(kind, F, strike, t, bid_iv);
            let ask = black::price(kind, F, strike, t, ask_iv);
            let mid_iv = black::implied_vol(kind, 0.5 * (bid + ask), F, strike, t).ok();
            quotes.push(Quote {
                instrument: format!("SYN-{i}-{strike:.0}-{}", kind.letter()),
                strike,
                kind,
                bid: Some(bid),
                ask: Some(ask),
                bid_coin: None,
                ask_coin: None,
                mark: None,
                mark_iv: None,
                bid_iv: Some(bid_iv),
                ask_iv: Some(ask_iv),
                mid_iv,
                bid_size: None,
                ask_size: None,
                open_interest: Some(10.0),
                volume: None,
                row_forward: F,
                t,
            });
        }
        expiries.push(Expiry {
            expiry_ms: 1_800_000_000_000 + (t * 365.0 * 86_400_000.0) as i64,
            t,
            forward: F,
            forward_source: ForwardSource::Underlying,
            quotes,
        });
    }
    Snapshot { time_ms: 1_800_000_000_000, underlying: "SYN".into(), index: Some(F), expiries }
}

fn spec(model: ModelKind) -> FitSpec {
    FitSpec { model, loss: LossKind::Huber { scale: 0.01 }, ..FitSpec::default() }
}

/// Implied vol of a characteristic-function model at (k, t) from its call price.
/// Undiscounted call prices per unit forward at `(t, ks)`.
type CallPrices<'a> = &'a dyn Fn(f64, &[f64], &mut [f64]);

fn cf_vol(price_calls: CallPrices, k: f64, t: f64) -> f64 {
    let mut c = [0.0];
    price_calls(t, &[k], &mut c);
    // Prices are per unit forward with strike e^k.
    black::implied_vol(OptionType::Call, c[0], 1.0, k.exp(), t).unwrap_or(f64::NAN)
}

#[test]
fn sabr_recovers_alpha_rho_nu_per_expiry() {
    // β = 1 (the default spec), ρ = −0.3, ν = 1.2: crypto-like skew and vol of vol.
    let truth = Sabr::new(0.55, -0.3, 1.2, 1.0).unwrap();
    let vol =
        |k: f64, t: f64| truth.smile(F, t, SabrExpansion::Obloj2008).unwrap().implied_vol(k, t);
    let r = fit_snapshot(&snapshot(&vol, 0.001, 1), &spec(ModelKind::Sabr), None);
    assert_eq!(r.fit.expiries.len(), EXPIRIES.len(), "{:?}", r.fit.skipped);
    for e in &r.fit.expiries {
        let (a, rho, nu) = (e.params["alpha"], e.params["rho"], e.params["nu"]);
        // 0.1 vol point noise on 25 quotes: α within 1 %, ρ within 0.05, ν within 10 %
        // (ν is weakly identified at the shortest expiries).
        assert!((a / 0.55 - 1.0).abs() < 0.01, "{}: alpha {a}", e.expiry);
        assert!((rho + 0.3).abs() < 0.05, "{}: rho {rho}", e.expiry);
        assert!((nu / 1.2 - 1.0).abs() < 0.1, "{}: nu {nu}", e.expiry);
    }
}

#[test]
fn heston_recovers_its_parameters_from_a_surface() {
    // The peers' synthetic Heston world (shared/peers/make_synthetic.py): v0 0.36, κ 3,
    // θ 0.30, σ 1.6, ρ −0.25.
    let truth = Heston::new(0.36, 3.0, 0.30, 1.6, -0.25).unwrap();
    let price = |t: f64, ks: &[f64], out: &mut [f64]| {
        let mut work = vec![Complex64::from(0.0); ks.len()];
        truth.call_prices(t, ks, out, &mut work);
    };
    let vol = |k: f64, t: f64| cf_vol(&price, k, t);
    let r = fit_snapshot(&snapshot(&vol, 0.0005, 2), &spec(ModelKind::Heston), None);
    let p = r.fit.surface_params.as_ref().expect("fitted");
    for (name, want, tol) in [
        ("v0", 0.36, 0.03),
        ("kappa", 3.0, 0.5),
        ("theta", 0.30, 0.03),
        ("sigma", 1.6, 0.2),
        ("rho", -0.25, 0.03),
    ] {
        assert!((p[name] - want).abs() < tol, "{name}: {} vs {want}", p[name]);
    }
    for e in &r.fit.expiries {
        assert!(e.rmse_vol < 0.2, "{}: rmse {}", e.expiry, e.rmse_vol);
    }
}

#[test]
fn bates_fits_a_jump_surface_and_recovers_its_diffusion() {
    let truth =
        Bates::new(Heston::new(0.25, 2.0, 0.30, 1.0, -0.3).unwrap(), 1.0, -0.1, 0.15).unwrap();
    let price = |t: f64, ks: &[f64], out: &mut [f64]| {
        let mut work = vec![Complex64::from(0.0); ks.len()];
        truth.call_prices(t, ks, out, &mut work);
    };
    let vol = |k: f64, t: f64| cf_vol(&price, k, t);
    let r = fit_snapshot(&snapshot(&vol, 0.0005, 3), &spec(ModelKind::Bates), None);
    let p = r.fit.surface_params.as_ref().expect("fitted");
    // Measured: λ 0.966, μ_J −0.1017, σ_J 0.1516, v0 0.2503, θ 0.3005 (6 expiries × 25 quotes,
    // 0.05 vol pt noise). Jumps trade off against vol of vol, hence the looser jump bounds.
    for (name, want, tol) in [
        ("v0", 0.25, 0.01),
        ("kappa", 2.0, 0.3),
        ("theta", 0.30, 0.02),
        ("sigma", 1.0, 0.1),
        ("rho", -0.3, 0.03),
        ("lambda", 1.0, 0.25),
        ("mu_j", -0.1, 0.02),
        ("sigma_j", 0.15, 0.02),
    ] {
        assert!((p[name] - want).abs() < tol, "{name}: {} vs {want}", p[name]);
    }
    for e in &r.fit.expiries {
        assert!(e.rmse_vol < 0.2, "{}: rmse {}", e.expiry, e.rmse_vol);
    }
}

#[test]
fn essvi_recovers_a_per_expiry_skew() {
    // SSVI slices with a maturity-dependent ρ: eSSVI nests this, SSVI does not.
    let rho = |t: f64| -0.1 - 0.3 * t;
    let vol = |k: f64, t: f64| {
        let theta = 0.25 * t;
        let phi = 0.8 / theta.sqrt();
        let r = rho(t);
        let w = 0.5 * theta * (1.0 + r * phi * k + ((phi * k + r).powi(2) + 1.0 - r * r).sqrt());
        (w / t).sqrt()
    };
    let snap = snapshot(&vol, 0.0005, 4);
    let essvi = fit_snapshot(&snap, &spec(ModelKind::Essvi), None);
    let ssvi = fit_snapshot(&snap, &spec(ModelKind::Ssvi), None);
    let p = essvi.fit.surface_params.as_ref().expect("fitted");
    for (i, t) in EXPIRIES.iter().enumerate() {
        let got = p[&format!("rho_{i}")];
        assert!((got - rho(*t)).abs() < 0.05, "t={t}: rho {got} vs {}", rho(*t));
    }
    let worst = |r: &volfit::fit::SnapshotResult| {
        r.fit.expiries.iter().map(|e| e.rmse_vol).fold(0.0, f64::max)
    };
    assert!(worst(&essvi) < 0.2, "eSSVI worst rmse {}", worst(&essvi));
    assert!(worst(&ssvi) > 2.0 * worst(&essvi), "SSVI cannot fit a moving skew");
}

/// Rebuilds the fitted model from its reported parameters: valid iff every constraint holds.
fn params_valid(model: ModelKind, p: &std::collections::BTreeMap<String, f64>) -> bool {
    use volfit::model::Svi;
    if p.values().any(|v| !v.is_finite()) {
        return false;
    }
    match model {
        ModelKind::Svi => Svi::new(p["a"], p["b"], p["rho"], p["m"], p["sigma"]).is_ok(),
        ModelKind::Sabr => Sabr::new(p["alpha"], p["rho"], p["nu"], 1.0).is_ok(),
        ModelKind::Heston => {
            Heston::new(p["v0"], p["kappa"], p["theta"], p["sigma"], p["rho"]).is_ok()
        }
        // Surface vectors are mapped to admissible SSVI/eSSVI parameters by construction;
        // finiteness is what can fail.
        _ => true,
    }
}

#[test]
fn no_nan_or_out_of_domain_parameter_leaves_a_fit() {
    let solvers = volfit::fit::SolverKind::ALL;
    // A sane chain and a hostile one (flat smile with 30-vol-point noise and a huge spread).
    let sane = snapshot(&|k: f64, _t: f64| 0.5 + 0.2 * k * k - 0.1 * k, 0.002, 5);
    let hostile = snapshot(&|_k: f64, _t: f64| 0.6, 0.3, 6);
    for (name, snap) in [("sane", &sane), ("hostile", &hostile)] {
        for model in [ModelKind::Svi, ModelKind::Sabr, ModelKind::Ssvi, ModelKind::Essvi] {
            for solver in solvers {
                let spec = FitSpec { solver, max_iters: 60, ..spec(model) };
                let r = fit_snapshot(snap, &spec, None);
                for e in &r.fit.expiries {
                    let p = if model.per_expiry() {
                        &e.params
                    } else {
                        r.fit.surface_params.as_ref().unwrap()
                    };
                    assert!(params_valid(model, p), "{name} {model} {solver}: {p:?}");
                    assert!(
                        e.rmse_vol.is_finite() && e.loss.is_finite(),
                        "{name} {model} {solver}"
                    );
                }
            }
        }
        // Heston through the fast solvers only (each evaluation prices a surface).
        for solver in [volfit::fit::SolverKind::Lm, volfit::fit::SolverKind::NelderMead] {
            let spec = FitSpec { solver, max_iters: 20, ..spec(ModelKind::Heston) };
            let r = fit_snapshot(snap, &spec, None);
            if let Some(p) = &r.fit.surface_params {
                assert!(params_valid(ModelKind::Heston, p), "{name} heston {solver}: {p:?}");
            }
        }
    }
}
