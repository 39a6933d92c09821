//! Deep-hedging dynamics (issue 19): Bates paths have the closed-form jump moments, and
//! `[dynamics] calibrate = FILE` fits Heston or Bates with `volfit fit`'s calibration and
//! hedges a listed option of that chain; errors name the key.

use super::support::shared_data;
use volfit::deephedge::{DhConfig, Dynamics, Paths};
use volfit::fit::{fit_snapshot, FitSpec, ModelKind};
use volfit::market::{iso8601, load_files, ReadOptions};

const SNAPSHOT: &str = "deribit_options_snapshot_20260105T041127Z.csv.gz";

fn config(dynamics: &str) -> String {
    format!(
        "[dynamics]\n{dynamics}\n[claim]\nstrike = 1.05\nmaturity_days = 30\nsteps = 5\n\
         accounting = \"usd\"\n[policy]\nkind = \"no_transaction_band\"\n\
         [[objective]]\nkind = \"entropic\"\ntheta = 1\n"
    )
}

#[test]
fn calibrated_dynamics_are_volfit_fits_and_the_option_is_listed() {
    let Some(dir) = shared_data("svcj_deribit_2026") else { return };
    let file = dir.join(SNAPSHOT);
    let opts = ReadOptions { underlying: Some("BTC".into()), ..ReadOptions::default() };
    let loaded = load_files(std::slice::from_ref(&file), &opts).unwrap();
    let snap = &loaded.snapshots.last().unwrap().snapshot;
    for (kind, model) in [("heston", ModelKind::Heston), ("bates", ModelKind::Bates)] {
        let dynamics =
            format!("kind = \"{kind}\"\ncalibrate = \"{}\"\nunderlying = \"BTC\"", file.display());
        let cfg = DhConfig::from_toml(&config(&dynamics)).unwrap();
        let setup = cfg.setup().unwrap();
        let cal = setup.calibration.clone().unwrap();
        // The reference: `volfit fit --model heston|bates` on the same snapshot (default spec).
        let fit = fit_snapshot(snap, &FitSpec { model, ..FitSpec::default() }, None);
        let x = fit.warm.surface.unwrap().1;
        let want = match model {
            ModelKind::Heston => {
                Dynamics::Heston { v0: x[0], kappa: x[1], theta: x[2], sigma: x[3], rho: x[4] }
            }
            _ => Dynamics::Bates {
                v0: x[0],
                kappa: x[1],
                theta: x[2],
                sigma: x[3],
                rho: x[4],
                lambda: x[5],
                mu_j: x[6],
                sigma_j: x[7],
            },
        };
        assert_eq!(setup.dynamics, want, "{kind}");
        // The option: the listed expiry nearest 30 days, the listed strike nearest 1.05·F.
        let days = |t: f64| (t * 365.0 - 30.0).abs();
        let listed = || snap.expiries.iter().filter(|e| e.t >= 1.0 / 365.0);
        let e = listed().find(|e| iso8601(e.expiry_ms) == cal.expiry).unwrap();
        assert!(listed().all(|o| days(o.t) >= days(e.t)), "{}", cal.expiry);
        assert_eq!(cal.forward_usd, e.forward);
        let gap = |k: f64| (k - 1.05 * e.forward).abs();
        assert!(e.quotes.iter().any(|q| q.strike == cal.strike_usd));
        assert!(e.quotes.iter().all(|q| gap(q.strike) >= gap(cal.strike_usd)));
        assert_eq!(setup.claim.strike, cal.strike_usd / e.forward);
        assert_eq!(setup.claim.maturity, e.t);
        assert_eq!(setup.claim.black_vol, want.black_vol(e.t));
    }
}

#[test]
fn calibration_errors_name_the_key() {
    let missing =
        "kind = \"heston\"\ncalibrate = \"/nonexistent/snap.csv.gz\"\nunderlying = \"BTC\"";
    let cfg = DhConfig::from_toml(&config(missing)).unwrap();
    let err = cfg.setup().unwrap_err().to_string();
    assert!(
        err.contains("dynamics.calibrate") && err.contains("/nonexistent/snap.csv.gz"),
        "{err}"
    );
    let unknown = format!("{missing}\nstrike = 3");
    let err = DhConfig::from_toml(&config(&unknown)).unwrap_err();
    assert!(err.contains("dynamics") && err.contains("strike"), "{err}");
    let Some(dir) = shared_data("svcj_deribit_2026") else { return };
    let bad = format!(
        "kind = \"bates\"\ncalibrate = \"{}\"\nunderlying = \"BTC\"\nexpiry = \"2026-02-30\"",
        dir.join(SNAPSHOT).display()
    );
    let err = DhConfig::from_toml(&config(&bad)).unwrap().setup().unwrap_err().to_string();
    assert!(err.contains("dynamics.expiry") && err.contains("2026-01-30"), "{err}");
}

#[test]
fn bates_log_returns_have_the_jump_moments_of_the_closed_form() {
    // With σ → 0 the variance stays at v0 = θ, so ln F_T is exactly
    // −(θ/2 + comp)T + √θ·W_T + Σ jumps: mean −(θ/2 + comp)T + λTμ_J, variance
    // θT + λT(μ_J² + σ_J²) (compound Poisson, Merton 1976), and E[F_T] = 1.
    let (v, lambda, mu, sj, t) = (0.04, 4.0, -0.1, 0.25, 0.5);
    let d = Dynamics::Bates {
        v0: v,
        kappa: 1.0,
        theta: v,
        sigma: 1e-9,
        rho: 0.0,
        lambda,
        mu_j: mu,
        sigma_j: sj,
    };
    let n = 40_000;
    let p = Paths::simulate(&d, n, 20, t, 11);
    let x: Vec<f64> = (0..n).map(|i| p.f(i, p.steps).ln()).collect();
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let var = x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let m4 = x.iter().map(|a| (a - mean).powi(4)).sum::<f64>() / nf;
    let comp = lambda * ((mu + 0.5 * sj * sj).exp() - 1.0);
    let mean_cf = -(0.5 * v + comp) * t + lambda * t * mu;
    let var_cf = v * t + lambda * t * (mu * mu + sj * sj);
    // Four Monte Carlo standard errors: √(var/n) for the mean, √((m4 − var²)/n) for the
    // variance.
    assert!((mean - mean_cf).abs() < 4.0 * (var / nf).sqrt(), "mean {mean} vs {mean_cf}");
    let se_var = ((m4 - var * var) / nf).sqrt();
    assert!((var - var_cf).abs() < 4.0 * se_var, "var {var} vs {var_cf} ± {se_var}");
    let fs: Vec<f64> = x.iter().map(|a| a.exp()).collect();
    let fm = fs.iter().sum::<f64>() / nf;
    let fsd = (fs.iter().map(|f| (f - fm).powi(2)).sum::<f64>() / nf).sqrt();
    assert!((fm - 1.0).abs() < 4.0 * fsd / nf.sqrt(), "E[F_T] = {fm}");
    // The jumps add λ(μ_J² + σ_J²) to the Black variance.
    assert!((d.black_vol(t) - (v + lambda * (mu * mu + sj * sj)).sqrt()).abs() < 1e-12);
}
