//! Rough Bergomi by Monte Carlo (issue 18): known limits, symmetries and error scaling.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use volfit::black::OptionType;
use volfit::model::{McConfig, McWorkspace, RBergomi};

/// Log-strikes `z·√t` per maturity, maturity-major.
fn strikes(maturities: &[f64], z: &[f64]) -> Vec<f64> {
    maturities.iter().flat_map(|t| z.iter().map(move |z| z * t.sqrt())).collect()
}

/// Plain Monte Carlo of classical Bergomi (`H = ½`): the variance path is sampled exactly,
/// `V_t = ξ₀ exp(ηW_t − ½η²t)`, and the log-forward by Euler with `steps` steps to the last
/// maturity (which every maturity must divide into). Returns (price, standard error) of
/// the out-of-the-money option at each `(maturity, log-strike)`, maturity-major.
fn classical_bergomi_euler(
    [eta, rho, xi0]: [f64; 3],
    maturities: &[f64],
    ks: &[f64],
    paths: usize,
    steps: usize,
) -> Vec<(f64, f64)> {
    let t_end = *maturities.last().unwrap();
    let dt = t_end / steps as f64;
    let at: Vec<usize> = maturities.iter().map(|t| (t / dt).round() as usize).collect();
    let m = ks.len() / maturities.len();
    let (mut sum, mut sum2) = (vec![0.0; ks.len()], vec![0.0; ks.len()]);
    let mut rng = ChaCha8Rng::seed_from_u64(2016);
    let rho_bar = (1.0 - rho * rho).sqrt();
    for _ in 0..paths {
        let (mut w, mut x, mut mat) = (0.0, 0.0, 0);
        for q in 1..=steps {
            let v = xi0 * (eta * w - 0.5 * eta * eta * (q - 1) as f64 * dt).exp();
            let z1: f64 = StandardNormal.sample(&mut rng);
            let z2: f64 = StandardNormal.sample(&mut rng);
            let dw = dt.sqrt() * z1;
            x += v.sqrt() * (rho * dw + rho_bar * dt.sqrt() * z2) - 0.5 * v * dt;
            w += dw;
            if q == at[mat] {
                for i in mat * m..(mat + 1) * m {
                    let (f, k) = (x.exp(), ks[i].exp());
                    let p = if ks[i] >= 0.0 { (f - k).max(0.0) } else { (k - f).max(0.0) };
                    sum[i] += p;
                    sum2[i] += p * p;
                }
                mat += 1;
            }
        }
    }
    let n = paths as f64;
    sum.iter()
        .zip(&sum2)
        .map(|(s, s2)| (s / n, ((s2 / n - (s / n).powi(2)) / (n - 1.0)).sqrt()))
        .collect()
}

#[test]
fn hurst_one_half_is_classical_bergomi() {
    // Reference: classical (non-mean-reverting, lognormal) Bergomi, which rough Bergomi
    // is at H = ½ (Bayer, Friz & Gatheral 2016, §4), priced by an independent plain
    // simulation: exact variance path, log-Euler with 240 steps, 200,000 paths. Euler's
    // weak bias at this step (O(Δt), Δt = 1/480) is far below the combined standard error.
    let (eta, rho, xi0) = (1.2, -0.6, 0.16);
    let mats = [1.0 / 12.0, 0.5];
    let ks = strikes(&mats, &[-0.8, -0.3, 0.0, 0.3, 0.8]);
    let reference = classical_bergomi_euler([eta, rho, xi0], &mats, &ks, 200_000, 240);
    let m = RBergomi::new(0.5, eta, rho, xi0).unwrap();
    let mut ws = McWorkspace::default();
    let mc = McConfig { paths: 16_384, steps: 32, seed: 7 };
    assert_eq!(m.price_grid(&mc, &mats, &ks, &mut ws).unwrap(), 0);
    for (i, &(p, se)) in reference.iter().enumerate() {
        let (q, se_q) = (ws.price()[i], ws.price_se()[i]);
        let tol = 4.0 * (se * se + se_q * se_q).sqrt();
        assert!((p - q).abs() < tol, "point {i}: Euler {p} ± {se}, hybrid {q} ± {se_q}");
        // Conditioning, antithetics and the controls pay: the variance per path is over
        // 10× smaller than plain Monte Carlo's (measured ≥ 40× at these points).
        let gain = (se * se * 200_000.0) / (se_q * se_q * 16_384.0);
        assert!(gain > 10.0, "point {i}: variance gain per path {gain}");
    }
}

/// ATM skew `∂σ/∂k` at `k = 0` by central differences at `k = ±0.02·√t` (common random
/// numbers: the conditional prices are smooth in the strike).
fn atm_skews(model: &RBergomi, mats: &[f64]) -> Vec<f64> {
    let ks = strikes(mats, &[-0.02, 0.02]);
    let mut ws = McWorkspace::default();
    let mc = McConfig { paths: 16_384, steps: 64, seed: 3 };
    assert_eq!(model.price_grid(&mc, mats, &ks, &mut ws).unwrap(), 0);
    let iv = ws.iv();
    mats.iter().enumerate().map(|(i, t)| (iv[2 * i + 1] - iv[2 * i]) / (0.04 * t.sqrt())).collect()
}

/// Least-squares slope of `ln|y|` against `ln t`.
fn log_log_slope(t: &[f64], y: &[f64]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = t.iter().zip(y).map(|(t, y)| (t.ln(), y.abs().ln())).unzip();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

#[test]
fn short_dated_atm_skew_scales_as_t_to_the_h_minus_one_half() {
    // Bayer, Friz & Gatheral (2016), §3, and Fukasawa (2011): the rough Bergomi ATM skew
    // behaves as t^(H − ½) as t → 0. Over 1 day to 1 month the fitted log-log slope must be
    // within ±0.06 of H − ½: higher-order terms (relative size ~ η²t^(2H)/8, a few per cent
    // here) bend the line slightly, and the Monte Carlo error of each skew is ~1 %.
    let d = 1.0 / 365.0;
    let mats = [d, 2.0 * d, 4.0 * d, 8.0 * d, 16.0 * d, 30.0 * d];
    for h in [0.1, 0.3] {
        let m = RBergomi::new(h, 1.5, -0.7, 0.09).unwrap();
        let skews = atm_skews(&m, &mats);
        assert!(skews.iter().all(|s| *s < 0.0), "negative ρ gives negative skew: {skews:?}");
        let slope = log_log_slope(&mats, &skews);
        assert!((slope - (h - 0.5)).abs() < 0.06, "H {h}: slope {slope}, skews {skews:?}");
    }
}

#[test]
fn zero_correlation_smile_is_even_in_log_moneyness() {
    // ρ = 0: each conditional price is a Black price with forward F, and Black's smile is
    // even in k (C(k) = e^k P(−k) path by path), so the mixture's is too — exactly.
    let mats = [2.0 / 365.0, 0.25, 1.0];
    let ks = strikes(&mats, &[-1.0, -0.4, 0.4, 1.0]);
    let m = RBergomi::new(0.08, 2.5, 0.0, 0.5).unwrap();
    let mut ws = McWorkspace::default();
    let mc = McConfig { paths: 2048, steps: 16, seed: 11 };
    assert_eq!(m.price_grid(&mc, &mats, &ks, &mut ws).unwrap(), 0);
    for row in ws.iv().chunks(4) {
        assert!((row[0] - row[3]).abs() < 1e-9, "{row:?}");
        assert!((row[1] - row[2]).abs() < 1e-9, "{row:?}");
        assert!(row[0] > row[1], "vol of vol makes a smile: {row:?}");
    }
}

#[test]
fn put_call_parity_holds_and_the_forward_is_a_martingale() {
    let mats = [1.0 / 365.0, 0.1, 1.0];
    let ks = strikes(&mats, &[-1.0, 0.0, 0.7]);
    let m = RBergomi::new(0.1, 2.0, -0.8, 0.3).unwrap();
    let mc = McConfig { paths: 4096, steps: 16, seed: 5 };
    let (mut calls, mut puts) = (McWorkspace::default(), McWorkspace::default());
    m.price_grid_as(OptionType::Call, &mc, &mats, &ks, &mut calls).unwrap();
    m.price_grid_as(OptionType::Put, &mc, &mats, &ks, &mut puts).unwrap();
    for (i, k) in ks.iter().enumerate() {
        // C − P = F − K with F = 1 (undiscounted, zero rate).
        let gap = calls.price()[i] - puts.price()[i] - (1.0 - k.exp());
        assert!(gap.abs() < 1e-13, "point {i}: parity gap {gap}");
        assert!((calls.iv()[i] - puts.iv()[i]).abs() < 1e-8, "point {i}");
    }
    // The plain mean of F'/F, without any control, is 1 within its error: the discretised
    // forward is a martingale (left-point integrals).
    for (f, se) in calls.forward().iter().zip(calls.forward_se()) {
        assert!((f - 1.0).abs() < 4.0 * se && *se > 0.0, "{f} ± {se}");
    }
}

#[test]
fn standard_error_shrinks_as_one_over_root_paths_and_is_honest() {
    let mats = [7.0 / 365.0, 0.5];
    let ks = strikes(&mats, &[-1.0, -0.5, 0.0, 0.5, 1.0]);
    let m = RBergomi::new(0.15, 1.8, -0.7, 0.36).unwrap();
    let run = |paths: usize, seed: u64| {
        let mut ws = McWorkspace::default();
        m.price_grid(&McConfig { paths, steps: 16, seed }, &mats, &ks, &mut ws).unwrap();
        (ws.iv().to_vec(), ws.iv_se().to_vec())
    };
    let (iv_a, se_a) = run(1024, 1);
    let (iv_b, se_b) = run(16_384, 2);
    let mut ratios: Vec<f64> = se_a.iter().zip(&se_b).map(|(a, b)| a / b).collect();
    ratios.sort_by(f64::total_cmp);
    // √16 = 4; the standard error is itself estimated (from 512 and 8,192 pairs).
    let median = ratios[ratios.len() / 2];
    assert!((3.2..5.0).contains(&median), "median se ratio {median}: {ratios:?}");
    // Independent seeds agree within the combined error at every point.
    for i in 0..ks.len() {
        let tol = 4.0 * (se_a[i].powi(2) + se_b[i].powi(2)).sqrt();
        assert!((iv_a[i] - iv_b[i]).abs() < tol, "point {i}: {} vs {}", iv_a[i], iv_b[i]);
    }
}

#[test]
fn same_seed_same_bits_other_seed_other_paths() {
    let mats = [0.02, 0.3];
    let ks = strikes(&mats, &[-0.5, 0.5]);
    let m = RBergomi::new(0.2, 1.0, -0.5, 0.2).unwrap();
    let mut ws = McWorkspace::default();
    let mut run = |seed: u64| {
        m.price_grid(&McConfig { paths: 200, steps: 8, seed }, &mats, &ks, &mut ws).unwrap();
        ws.iv().to_vec()
    };
    let (a, b, c) = (run(4), run(4), run(5));
    assert_eq!(a, b);
    assert_ne!(a, c);
}
