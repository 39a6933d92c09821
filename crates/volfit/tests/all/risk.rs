//! Risk measures and rewards: closed forms, brute force on small samples, coherence
//! properties, gradients by finite differences.

use proptest::prelude::*;
use volfit::black::{norm_cdf, norm_pdf};
use volfit::risk::{evaluate, OceUtility, RiskError, RiskMeasure, Sample, Spectrum};
use volfit::risk::{evar, max_drawdown, TIE_TOL};
use volfit::risk::{
    Cara, Crra, ExpectedUtility, Kelly, MeanVariance, Penalised, PortfolioObjective, ReturnOverEs,
    Reward, Scaled, Scenarios, Sharpe, Sortino, Sum,
};
use volfit_optim::check::check_gradient;
use volfit_optim::{FnObjective, Objective};

// ---------------------------------------------------------------- helpers

/// Φ⁻¹ by bisection on libm's erfc-based Φ (accurate to a few ulp, DEPENDENCIES.md), then
/// one Newton step; good to ~1e-15 absolute in z.
fn norm_inv(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if norm_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let z = 0.5 * (lo + hi);
    let d = norm_pdf(z);
    if d > 0.0 {
        z - (norm_cdf(z) - p) / d
    } else {
        z
    }
}

/// Φ(b) − Φ(a) without cancellation in the upper tail.
fn phi_diff(a: f64, b: f64) -> f64 {
    if a > 0.0 {
        norm_cdf(-a) - norm_cdf(-b)
    } else {
        norm_cdf(b) - norm_cdf(a)
    }
}

fn pdf_or_zero(z: f64) -> f64 {
    if z.is_finite() {
        norm_pdf(z)
    } else {
        0.0
    }
}

fn m(spec: &str) -> RiskMeasure {
    spec.parse().expect("valid spec in test")
}

fn eval(spec: &str, s: &Sample) -> f64 {
    m(spec).eval(s).expect("valid measure")
}

/// The cell-mean discretisation of N(μ, σ²): cell j covers P&L quantile levels
/// `[u_j, u_{j+1}]` and its atom is the conditional mean there,
/// `μ + σ (φ(z_j) − φ(z_{j+1})) / (u_{j+1} − u_j)`, weighted by the cell width. Any measure
/// that averages the quantile function over a union of whole cells (ES at a level on the
/// grid) is then *exact* for the continuous distribution.
fn normal_cells(mu: f64, sigma: f64, grid: &[f64]) -> Sample {
    let z: Vec<f64> = grid.iter().map(|&u| norm_inv(u)).collect();
    let mut pnl = Vec::new();
    let mut w = Vec::new();
    for j in 0..grid.len() - 1 {
        let width = grid[j + 1] - grid[j];
        pnl.push(mu + sigma * (pdf_or_zero(z[j]) - pdf_or_zero(z[j + 1])) / width);
        w.push(width);
    }
    Sample::weighted(pnl, w).expect("valid cells")
}

fn uniform_grid(n: usize) -> Vec<f64> {
    (0..=n).map(|j| j as f64 / n as f64).collect()
}

// ---------------------------------------------------------------- closed forms

#[test]
fn normal_es_matches_closed_form() {
    // Closed form (loss terms): ES_α = −μ + σ φ(Φ⁻¹(α))/(1 − α) (McNeil, Frey & Embrechts
    // 2005, Ex. 2.18). Cell means make the discrete ES exact when 1 − α is on the grid, so
    // the tolerance only covers Φ⁻¹ and summation rounding: 1e-10 relative.
    let (mu, sigma) = (150.0, 1000.0);
    let uniform = normal_cells(mu, sigma, &uniform_grid(4000));
    // A graded grid (finer in both tails) exercises unequal weights.
    let graded: Vec<f64> = (0..=4000)
        .map(|j| {
            let t = f64::from(j) / 4000.0;
            // Smooth, monotone, fixes 0, 0.5, 1; the levels below are grid points.
            t - (2.0 * std::f64::consts::PI * t).sin() / (2.0 * std::f64::consts::PI) * 0.9
        })
        .collect();
    let graded_sample = normal_cells(mu, sigma, &graded);
    for alpha in [0.95, 0.975, 0.99] {
        let expected = -mu + sigma * norm_pdf(norm_inv(alpha)) / (1.0 - alpha);
        let got = eval(&format!("es:{alpha}"), &uniform);
        assert!((got - expected).abs() <= 1e-10 * expected.abs(), "α={alpha}: {got} vs {expected}");
    }
    // On the graded grid, pick levels that are grid points exactly.
    for j in [40usize, 100, 200] {
        let tail = graded[j];
        let alpha = 1.0 - tail;
        let expected = -mu + sigma * norm_pdf(norm_inv(tail)) / tail;
        let got = RiskMeasure::Es { alpha }.eval(&graded_sample).expect("valid");
        assert!(
            (got - expected).abs() <= 1e-9 * expected.abs(),
            "tail {tail}: {got} vs {expected}"
        );
    }
}

#[test]
fn lognormal_es_matches_closed_form() {
    // Y = e^{m + sZ}. Closed forms (partial lognormal expectations, e.g. Hull 2018 §15A):
    // short Y (loss Y):            ES_α = e^{m+s²/2} Φ(s − Φ⁻¹(α)) / (1 − α)
    // long Y − F (loss F − Y):     ES_α = F − e^{m+s²/2} Φ(Φ⁻¹(1−α) − s) / (1 − α)
    // Cell means of Y over quantile cells are exact (∫ e^{m+sz}φ(z)dz = e^{m+s²/2}ΔΦ(z−s)),
    // so the tolerance is rounding: 1e-10 relative.
    let (mm, s) = (0.1f64, 0.8f64);
    let mean_y = (mm + 0.5 * s * s).exp();
    let n = 2000;
    let grid = uniform_grid(n);
    let z: Vec<f64> = grid.iter().map(|&u| norm_inv(u)).collect();
    let y: Vec<f64> =
        (0..n).map(|j| mean_y * phi_diff(z[j] - s, z[j + 1] - s) * n as f64).collect();
    let short = Sample::new(y.iter().map(|v| -v).collect()).expect("finite");
    let long = Sample::new(y.iter().map(|v| v - mean_y).collect()).expect("finite");
    for alpha in [0.95, 0.99] {
        let es_short = mean_y * norm_cdf(s - norm_inv(alpha)) / (1.0 - alpha);
        let got = eval(&format!("es:{alpha}"), &short);
        assert!((got - es_short).abs() <= 1e-10 * es_short, "short α={alpha}: {got} vs {es_short}");
        let es_long = mean_y - mean_y * norm_cdf(norm_inv(1.0 - alpha) - s) / (1.0 - alpha);
        let got = eval(&format!("es:{alpha}"), &long);
        assert!(
            (got - es_long).abs() <= 1e-10 * es_long.abs(),
            "long α={alpha}: {got} vs {es_long}"
        );
    }
}

#[test]
fn spectra_on_uniform_match_closed_forms() {
    // X ~ U(a, b): VaR_u = −b + (b − a)u, so ρ_φ = −b + (b − a) ∫ u φ(u) du
    // (Acerbi 2002, Def. 2.4 / eq. (6), loss ordering). By parts:
    //   exponential: ∫ u φ = 1/(1 − e^{−k}) − 1/k;   power: ∫ u γ(1−u)^{γ−1} = 1/(γ + 1);
    //   tabulated φ(u) = 2u: ∫ 2u² = 2/3.
    // Cell means of a uniform are midpoints; the discretisation error is
    // O(k²/n²) (within-cell covariance of φ and VaR): n = 20000 and tolerance 1e-6·(b − a).
    let (a, b) = (-300.0, 500.0);
    let n = 20_000;
    let pnl: Vec<f64> = (0..n).map(|j| a + (b - a) * (f64::from(j) + 0.5) / f64::from(n)).collect();
    let s = Sample::new(pnl).expect("finite");
    for k in [0.5f64, 5.0, 25.0] {
        let expected = -b + (b - a) * (1.0 / -(-k).exp_m1() - 1.0 / k);
        let got = RiskMeasure::Spectral(Spectrum::exponential(k).expect("k > 0"))
            .eval(&s)
            .expect("valid");
        assert!((got - expected).abs() <= 1e-6 * (b - a), "k={k}: {got} vs {expected}");
    }
    for g in [0.25, 0.5, 1.0] {
        let expected = -b + (b - a) / (g + 1.0);
        let got =
            RiskMeasure::Spectral(Spectrum::power(g).expect("γ ∈ (0,1]")).eval(&s).expect("valid");
        // The power density is singular at u = 1: the top cell's error is O(n^{−1−γ}).
        assert!((got - expected).abs() <= 1e-5 * (b - a), "γ={g}: {got} vs {expected}");
    }
    let tab = Spectrum::tabulated(vec![0.0, 1.0], vec![0.0, 2.0]).expect("valid table");
    let got = RiskMeasure::Spectral(tab).eval(&s).expect("valid");
    let expected = -b + (b - a) * 2.0 / 3.0;
    assert!((got - expected).abs() <= 1e-6 * (b - a), "tabulated: {got} vs {expected}");
}

/// Composite Simpson on [lo, hi] with `m` (even) panels.
fn simpson(f: impl Fn(f64) -> f64, lo: f64, hi: f64, m: usize) -> f64 {
    let h = (hi - lo) / m as f64;
    let mut s = f(lo) + f(hi);
    for i in 1..m {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(lo + i as f64 * h);
    }
    s * h / 3.0
}

#[test]
fn exponential_spectrum_on_normal_matches_quadrature() {
    // Reference: ρ_φ = ∫ φ(u) VaR_u du (Acerbi 2002, eq. (6)) with u = Φ(z):
    //   ρ = −μ + σ ∫ φ_k(Φ(z)) z ϕ(z) dz,
    // by composite Simpson on [−12, 12] (truncated mass < 1e-30; Simpson error < 1e-12).
    // The sample is the 20000-cell cell-mean discretisation, whose error is O(k²/n²·log n):
    // tolerance 1e-5·σ.
    let (mu, sigma) = (-20.0, 300.0);
    let s = normal_cells(mu, sigma, &uniform_grid(20_000));
    for k in [1.0, 10.0, 50.0] {
        let sp = Spectrum::exponential(k).expect("k > 0");
        let reference = -mu
            + sigma * simpson(|z| sp.density(norm_cdf(z)) * z * norm_pdf(z), -12.0, 12.0, 200_000);
        let got = RiskMeasure::Spectral(sp).eval(&s).expect("valid");
        assert!((got - reference).abs() <= 1e-5 * sigma, "k={k}: {got} vs {reference}");
    }
}

/// A N(μ, σ²) sample on a z-grid with weights ϕ(z): the trapezoid rule, which for these
/// analytic, fast-decaying integrands is accurate to rounding (Trefethen & Weideman 2014).
fn normal_trapezoid(mu: f64, sigma: f64) -> Sample {
    normal_trapezoid_n(mu, sigma, 2800)
}

fn normal_trapezoid_n(mu: f64, sigma: f64, cells: usize) -> Sample {
    let h = 28.0 / cells as f64;
    let zs: Vec<f64> = (0..=cells).map(|i| -14.0 + i as f64 * h).collect();
    let w: Vec<f64> = zs.iter().map(|&z| norm_pdf(z)).collect();
    Sample::weighted(zs.iter().map(|z| mu + sigma * z).collect(), w).expect("valid")
}

#[test]
fn entropic_and_evar_of_normal() {
    // Closed forms: entropic ρ_θ = −μ + θσ²/2 (cumulant generating function of the
    // normal); EVaR_α = −μ + σ√(−2 ln(1 − α)) (Ahmadi-Javid 2012, Example 3.4 / eq. (13)).
    // Trapezoid-weighted grid: tolerance 1e-10 relative.
    let (mu, sigma) = (0.3, 2.0);
    let s = normal_trapezoid(mu, sigma);
    for theta in [0.1, 0.5, 1.2] {
        let expected = -mu + theta * sigma * sigma / 2.0;
        for spec in [format!("entropic:{theta}"), format!("oce-exp:{theta}")] {
            let got = eval(&spec, &s);
            assert!(
                (got - expected).abs() <= 1e-10 * expected.abs(),
                "{spec}: {got} vs {expected}"
            );
        }
    }
    // The 200 001-point grid exercises the subsample warm start of the EVaR solver.
    let big = normal_trapezoid_n(mu, sigma, 200_000);
    for alpha in [0.5, 0.95, 0.99] {
        let expected = -mu + sigma * (-2.0 * (1.0f64 - alpha).ln()).sqrt();
        for sample in [&s, &big] {
            let got = eval(&format!("evar:{alpha}"), sample);
            assert!(
                (got - expected).abs() <= 1e-10 * expected.abs(),
                "α={alpha}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn entropic_is_stable_for_huge_losses() {
    // log-sum-exp: θ·L = 1e5 would overflow exp; the value is dominated by the largest
    // loss: (1/θ) ln(½ e^{θ·1e5} + ½) = 1e5 − ln 2/θ (closed form), tol 1e-9 relative.
    let s = Sample::new(vec![-1e5, 0.0]).expect("finite");
    let got = eval("entropic:1", &s);
    assert!((got - (1e5 - 2f64.ln())).abs() <= 1e-9 * 1e5, "{got}");
    let e = eval("evar:0.9", &s);
    assert!(e.is_finite() && e <= 1e5 && e >= eval("es:0.9", &s) - 1e-9, "{e}");
}

#[test]
fn zero_weight_atoms_change_nothing() {
    // A zero-probability scenario (here a loss of 1e6) is not part of the distribution:
    // every measure but the path-based drawdown equals the one without it (by definition).
    let base =
        Sample::weighted(vec![1.0, -2.0, 0.5, 3.0], vec![1.0, 2.0, 1.0, 1.0]).expect("valid");
    let with = Sample::weighted(vec![1.0, -2.0, 0.5, -1e6, 3.0], vec![1.0, 2.0, 1.0, 0.0, 1.0])
        .expect("valid");
    for spec in [
        "var:0.9",
        "es:0.9",
        "spectral-exp:5",
        "spectral-pow:0.5",
        "evar:0.9",
        "entropic:2",
        "oce-quad:0.5",
    ] {
        let (a, b) = (eval(spec, &base), eval(spec, &with));
        assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{spec}: {a} vs {b}");
        let mut g = vec![0.0; 5];
        m(spec).value_grad(&with, &mut g).expect("valid");
        assert!(g.iter().all(|v| v.is_finite()) && g[3] == 0.0, "{spec}: {g:?}");
    }
}

// ---------------------------------------------------------------- brute force

/// VaR by definition: the smallest atom l with P(L ≤ l) ≥ α (double loop).
fn brute_var(loss: &[f64], p: &[f64], alpha: f64) -> f64 {
    let mut best = f64::INFINITY;
    for &l in loss {
        let cdf: f64 = loss.iter().zip(p).filter(|(x, _)| **x <= l).map(|(_, q)| q).sum();
        let tail = 1.0 - cdf;
        if tail <= 1.0 - alpha + TIE_TOL && l < best {
            best = l;
        }
    }
    best
}

/// ES by Rockafellar & Uryasev (2000, Thm. 1): min over η of η + E[(L − η)⁺]/(1 − α); the
/// function is convex piecewise linear with kinks at the atoms, so the minimum over atoms
/// is exact.
fn brute_es(loss: &[f64], p: &[f64], alpha: f64) -> f64 {
    loss.iter()
        .map(|&eta| {
            eta + loss.iter().zip(p).map(|(l, q)| q * (l - eta).max(0.0)).sum::<f64>()
                / (1.0 - alpha)
        })
        .fold(f64::INFINITY, f64::min)
}

/// A spectral measure by definition: for each distinct loss l, the CDF F(l) and F(l−) by
/// double loops, and ∫_{F(l−)}^{F(l)} φ by composite Gauss–Legendre of the density, split
/// at the density's `kinks`.
fn brute_spectral(loss: &[f64], p: &[f64], density: impl Fn(f64) -> f64, kinks: &[f64]) -> f64 {
    let gl = [
        (-0.906_179_845_938_664, 0.236_926_885_056_189_08),
        (-0.538_469_310_105_683_1, 0.478_628_670_499_366_47),
        (0.0, 0.568_888_888_888_888_9),
        (0.538_469_310_105_683_1, 0.478_628_670_499_366_47),
        (0.906_179_845_938_664, 0.236_926_885_056_189_08),
    ];
    let piece = |a: f64, b: f64| {
        let m = 2000;
        let h = (b - a) / f64::from(m);
        (0..m)
            .map(|i| {
                let c = a + (f64::from(i) + 0.5) * h;
                gl.iter().map(|(x, w)| w * density(c + 0.5 * h * x)).sum::<f64>() * 0.5 * h
            })
            .sum::<f64>()
    };
    let integrate = |a: f64, b: f64| {
        let mut cuts = vec![a];
        cuts.extend(kinks.iter().copied().filter(|&k| k > a && k < b));
        cuts.push(b);
        cuts.windows(2).map(|w| piece(w[0], w[1])).sum::<f64>()
    };
    let mut distinct: Vec<f64> = loss.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    distinct
        .iter()
        .map(|&l| {
            let below: f64 = loss.iter().zip(p).filter(|(x, _)| **x < l).map(|(_, q)| q).sum();
            let at: f64 = loss.iter().zip(p).filter(|(x, _)| **x <= l).map(|(_, q)| q).sum();
            l * integrate(below, at.min(1.0))
        })
        .sum()
}

fn normalised(w: &[f64]) -> Vec<f64> {
    let s: f64 = w.iter().sum();
    w.iter().map(|v| v / s).collect()
}

#[test]
fn var_es_match_brute_force_on_2_pow_10_atoms() {
    // Ten independent binary bets: 2^10 weighted atoms (product probabilities). Brute force
    // VaR (definition) must match exactly; ES (Rockafellar–Uryasev) to 1e-10 relative.
    let bets: Vec<(f64, f64, f64)> = (0..10)
        .map(|k| (0.55 + 0.03 * f64::from(k), 10.0 + 7.0 * f64::from(k), 25.0 + 3.0 * f64::from(k)))
        .collect();
    let mut pnl = Vec::new();
    let mut w = Vec::new();
    for mask in 0..1u32 << 10 {
        let (mut x, mut q) = (0.0, 1.0);
        for (k, &(win, gain, loss)) in bets.iter().enumerate() {
            if mask >> k & 1 == 1 {
                x += gain;
                q *= win;
            } else {
                x -= loss;
                q *= 1.0 - win;
            }
        }
        pnl.push(x);
        w.push(q);
    }
    let s = Sample::weighted(pnl.clone(), w.clone()).expect("valid");
    let loss: Vec<f64> = pnl.iter().map(|x| -x).collect();
    let p = normalised(&w);
    for alpha in [0.5, 0.9, 0.95, 0.975, 0.99, 0.999] {
        assert_eq!(eval(&format!("var:{alpha}"), &s), brute_var(&loss, &p, alpha), "VaR α={alpha}");
        let es = eval(&format!("es:{alpha}"), &s);
        let bf = brute_es(&loss, &p, alpha);
        assert!((es - bf).abs() <= 1e-10 * bf.abs().max(1.0), "ES α={alpha}: {es} vs {bf}");
        let oce = eval(&format!("oce-cvar:{alpha}"), &s);
        assert!((oce - bf).abs() <= 1e-10 * bf.abs().max(1.0), "OCE-CVaR α={alpha}: {oce} vs {bf}");
    }
}

#[test]
fn var_and_es_on_tiny_hand_samples() {
    // By hand: losses {−2, 0, 1, 3} equally likely. VaR_0.75 = 1 (P(L ≤ 1) = 0.75 exactly),
    // VaR_0.76 = 3; ES_0.75 = 3; ES_0.5 = (1 + 3)/2 = 2;
    // ES_0.6 = (0.15·1 + 0.25·3)/0.4 = 2.25 (fractional atom, Acerbi–Tasche).
    let s = Sample::new(vec![2.0, 0.0, -1.0, -3.0]).expect("finite");
    assert_eq!(eval("var:0.75", &s), 1.0);
    assert_eq!(eval("var:0.76", &s), 3.0);
    assert_eq!(eval("es:0.75", &s), 3.0);
    assert_eq!(eval("es:0.5", &s), 2.0);
    assert!((eval("es:0.6", &s) - 2.25).abs() < 1e-12);
    // A zero-weight atom never moves a quantile: weights (1, 1, 1, 0) drop the loss 3.
    let w = Sample::weighted(vec![2.0, 0.0, -1.0, -3.0], vec![1.0, 1.0, 1.0, 0.0]).expect("valid");
    assert_eq!(eval("var:0.99", &w), 1.0);
    assert!((eval("es:0.5", &w) - (0.5 / 3.0 * 0.0 + 1.0 / 3.0 * 1.0) / 0.5).abs() < 1e-12);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn quantile_measures_match_brute_force(
        vals in prop::collection::vec(-5i32..5, 1..9),
        ws in prop::collection::vec(1u32..6, 9),
        alpha in 0.01f64..0.99,
    ) {
        // Small integer losses (so ties occur) and integer weights: VaR exactly, ES and
        // spectral measures to 1e-9 (Gauss–Legendre reference error ≪ 1e-9).
        let pnl: Vec<f64> = vals.iter().map(|&v| f64::from(v)).collect();
        let w: Vec<f64> = ws[..pnl.len()].iter().map(|&v| f64::from(v)).collect();
        let s = Sample::weighted(pnl.clone(), w.clone()).expect("valid");
        let loss: Vec<f64> = pnl.iter().map(|x| -x).collect();
        let p = normalised(&w);
        prop_assert_eq!(RiskMeasure::Var { alpha }.eval(&s).expect("valid"), brute_var(&loss, &p, alpha));
        let es = RiskMeasure::Es { alpha }.eval(&s).expect("valid");
        prop_assert!((es - brute_es(&loss, &p, alpha)).abs() <= 1e-9);
        let sp = Spectrum::exponential(4.0).expect("k > 0");
        let got = RiskMeasure::Spectral(sp.clone()).eval(&s).expect("valid");
        let bf = brute_spectral(&loss, &p, |u| sp.density(u), &[]);
        prop_assert!((got - bf).abs() <= 1e-9, "exp {} vs {}", got, bf);
        let tab = Spectrum::tabulated(vec![0.0, 0.5, 1.0], vec![0.5, 0.5, 2.5]).expect("valid");
        let got = RiskMeasure::Spectral(tab.clone()).eval(&s).expect("valid");
        let bf = brute_spectral(&loss, &p, |u| tab.density(u), &[0.5]);
        prop_assert!((got - bf).abs() <= 1e-9, "tab {} vs {}", got, bf);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tail_selection_and_key_sort_agree_with_comparison_sort(
        vals in prop::collection::vec(-60i32..60, 1..3000),
        seed in 0u32..1000,
        alpha in 0.5f64..0.999,
        weighted in any::<bool>(),
    ) {
        // Three routes to the same numbers: the selected tail (single measure), the integer-key
        // full sort (with a spectral measure in the list) and a comparison sort by hand.
        // VaR equal exactly; ES to 1e-12 (summation order among ties).
        let pnl: Vec<f64> = vals.iter().map(|&v| f64::from(v) * 0.37).collect();
        let w: Vec<f64> = (0..pnl.len()).map(|i| 1.0 + f64::from(((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 9)).collect();
        let s = if weighted { Sample::weighted(pnl.clone(), w.clone()) } else { Sample::new(pnl.clone()) }.expect("valid");
        let mut by_hand: Vec<f64> = pnl.iter().map(|x| -x).collect();
        by_hand.sort_by(f64::total_cmp);
        let keyed = s.sorted();
        prop_assert_eq!(keyed.loss(), &by_hand[..]);
        let var = RiskMeasure::Var { alpha };
        let es = RiskMeasure::Es { alpha };
        let all = evaluate(&s, &[var.clone(), es.clone(), m("spectral-exp:3")]).expect("valid");
        let (v1, e1) = (var.eval(&s).expect("valid"), es.eval(&s).expect("valid"));
        prop_assert_eq!(v1, all[0]);
        prop_assert!((e1 - all[1]).abs() <= 1e-12 * all[1].abs().max(1.0), "{} vs {}", e1, all[1]);
        let p = if weighted { normalised(&w) } else { vec![1.0 / pnl.len() as f64; pnl.len()] };
        let loss: Vec<f64> = pnl.iter().map(|x| -x).collect();
        prop_assert_eq!(v1, brute_var(&loss, &p, alpha));
    }
}

#[test]
fn user_spectra_agree_with_built_ins_and_are_validated() {
    // The closure form of the exponential spectrum integrated by Gauss–Legendre agrees with
    // the closed-form distortion to 1e-12 (GL-5 on ≤1/64-wide cells of an analytic φ).
    let k = 7.0f64;
    let closure =
        Spectrum::custom(move |u| k * (-k * (1.0 - u)).exp() / -(-k).exp_m1()).expect("valid φ");
    let s = Sample::new((0..500).map(|i| f64::from((i * 7919) % 997) - 400.0).collect())
        .expect("finite");
    let a = RiskMeasure::Spectral(closure).eval(&s).expect("valid");
    let b = eval("spectral-exp:7", &s);
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
    // A constant spectrum is the mean loss (by definition).
    let flat = Spectrum::tabulated(vec![0.0, 1.0], vec![1.0, 1.0]).expect("valid");
    let v = RiskMeasure::Spectral(flat).eval(&s).expect("valid");
    assert!((v + s.mean()).abs() <= 1e-12 * s.mean().abs().max(1.0));
    // Violations are named.
    assert!(
        matches!(Spectrum::custom(|u| 2.0 * (1.0 - u)), Err(RiskError::Spectrum(_))),
        "decreasing"
    );
    assert!(matches!(Spectrum::custom(|_| 0.5), Err(RiskError::Spectrum(_))), "mass 0.5");
    assert!(matches!(
        Spectrum::custom(|u| if u < 0.5 { -1.0 } else { 3.0 }),
        Err(RiskError::Spectrum(_))
    ));
    assert!(Spectrum::tabulated(vec![0.0, 1.0], vec![1.0, 2.0]).is_err(), "mass 1.5");
    assert!(Spectrum::tabulated(vec![0.0, 0.5, 1.0], vec![1.5, 0.5, 1.0]).is_err(), "not monotone");
    assert!(Spectrum::tabulated(vec![0.1, 1.0], vec![1.0, 1.0]).is_err(), "does not start at 0");
}

// ---------------------------------------------------------------- coherence

fn pair_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (2usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(-100.0f64..100.0, n),
            prop::collection::vec(-100.0f64..100.0, n),
            prop::collection::vec(0.01f64..1.0, n),
        )
    })
}

const COHERENT: [&str; 6] =
    ["es:0.9", "es:0.5", "spectral-exp:5", "spectral-pow:0.5", "evar:0.9", "oce-cvar:0.8"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn coherence_properties((x, y, w) in pair_strategy(), c in -50.0f64..50.0, lam in 0.1f64..10.0) {
        // Artzner et al. (1999) axioms; tolerances are rounding (1e-9 of the scale 100) and
        // the EVaR solver (converges to |ψ − c| ≤ 1e-14·c; value error quadratic).
        let sx = Sample::weighted(x.clone(), w.clone()).expect("valid");
        let sy = Sample::weighted(y.clone(), w.clone()).expect("valid");
        let sum = Sample::weighted(x.iter().zip(&y).map(|(a, b)| a + b).collect(), w.clone()).expect("valid");
        let better = Sample::weighted(x.iter().zip(&y).map(|(a, b)| a + b.abs()).collect(), w.clone()).expect("valid");
        let shifted = Sample::weighted(x.iter().map(|a| a + c).collect(), w.clone()).expect("valid");
        let scaled = Sample::weighted(x.iter().map(|a| a * lam).collect(), w.clone()).expect("valid");
        let tol = 1e-9 * 100.0 * (1.0 + lam);
        for spec in COHERENT.iter().chain(&["var:0.9"]) {
            let r = eval(spec, &sx);
            prop_assert!(eval(spec, &better) <= r + tol, "{} monotonicity", spec);
            prop_assert!((eval(spec, &shifted) - (r - c)).abs() <= tol, "{} translation", spec);
            prop_assert!((eval(spec, &scaled) - lam * r).abs() <= tol, "{} homogeneity", spec);
        }
        for spec in COHERENT {
            prop_assert!(eval(spec, &sum) <= eval(spec, &sx) + eval(spec, &sy) + tol, "{} subadditivity", spec);
        }
        // Entropic risk is convex (not homogeneous): ρ(½X + ½Y) ≤ ½ρ(X) + ½ρ(Y).
        let mid = Sample::weighted(x.iter().zip(&y).map(|(a, b)| 0.5 * (a + b)).collect(), w.clone()).expect("valid");
        for spec in ["entropic:0.05", "oce-quad:0.01"] {
            prop_assert!(eval(spec, &mid) <= 0.5 * (eval(spec, &sx) + eval(spec, &sy)) + tol, "{} convexity", spec);
            prop_assert!(eval(spec, &better) <= eval(spec, &sx) + tol, "{} monotonicity", spec);
            prop_assert!((eval(spec, &shifted) - (eval(spec, &sx) - c)).abs() <= tol, "{} translation", spec);
        }
        // Ordering: VaR_α ≤ ES_α ≤ EVaR_α ≤ max loss (Ahmadi-Javid 2012, Prop. 3.2).
        for alpha in [0.5, 0.9, 0.99] {
            let v = eval(&format!("var:{alpha}"), &sx);
            let es = eval(&format!("es:{alpha}"), &sx);
            let ev = eval(&format!("evar:{alpha}"), &sx);
            let max = x.iter().fold(f64::NEG_INFINITY, |m, a| m.max(-a));
            prop_assert!(v <= es + tol && es <= ev + tol && ev <= max + tol, "{} {} {} {}", v, es, ev, max);
        }
    }

    #[test]
    fn oce_matches_brute_force_minimisation((x, _y, w) in pair_strategy(), c in 0.001f64..1.0) {
        // OCE = inf_η η + E[ℓ(L − η)] (Ben-Tal & Teboulle 2007), minimised here by golden
        // section on [min L, max L + 1/c] (the objective is convex); tolerance 1e-7·scale.
        let s = Sample::weighted(x.clone(), w.clone()).expect("valid");
        let p = normalised(&w);
        let loss: Vec<f64> = x.iter().map(|a| -a).collect();
        let ell = |v: f64| if v >= -1.0 / c { v + 0.5 * c * v * v } else { -0.5 / c };
        let f = |eta: f64| eta + loss.iter().zip(&p).map(|(l, q)| q * ell(l - eta)).sum::<f64>();
        let (mut lo, mut hi) = (-100.0 - 1.0 / c, 100.0 + 1.0 / c);
        let g = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..200 {
            let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
            if f(a) < f(b) { hi = b } else { lo = a }
        }
        let bf = f(0.5 * (lo + hi));
        let got = RiskMeasure::Oce(OceUtility::Quadratic { c }).eval(&s).expect("valid");
        prop_assert!((got - bf).abs() <= 1e-7 * (100.0 + 1.0 / c), "{} vs {}", got, bf);
        // OCE with CVaR utility is ES (Ben-Tal & Teboulle 2007, Example 2.2).
        prop_assert!((eval("oce-cvar:0.9", &s) - eval("es:0.9", &s)).abs() <= 1e-12 * 100.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn evar_matches_brute_force_minimisation((x, _y, w) in pair_strategy(), alpha in 0.05f64..0.995) {
        // EVaR_α = inf_{z>0} z (ln E[e^{L/z}] − ln(1−α)) (Ahmadi-Javid 2012, Def. 3.1), convex
        // in z: golden section on z ∈ (0, 1e4] by brute force, plus the z → 0 limit max L.
        // Tolerance 1e-8·scale (golden-section resolution).
        let s = Sample::weighted(x.clone(), w.clone()).expect("valid");
        let p = normalised(&w);
        let loss: Vec<f64> = x.iter().map(|a| -a).collect();
        let top = loss.iter().fold(f64::NEG_INFINITY, |m, l| m.max(*l));
        let c = -(1.0 - alpha).ln();
        let h = |z: f64| top + z * (loss.iter().zip(&p).map(|(l, q)| q * ((l - top) / z).exp()).sum::<f64>().ln() + c);
        let (mut lo, mut hi) = (0.0f64, 1e4f64);
        let g = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..300 {
            let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
            if h(a) < h(b) { hi = b } else { lo = a }
        }
        let z = 0.5 * (lo + hi);
        let bf = if z > 0.0 { h(z).min(top) } else { top };
        let got = evar(&s, alpha).value;
        prop_assert!((got - bf).abs() <= 1e-8 * 100.0, "{} vs {}", got, bf);
    }
}

#[test]
fn var_is_not_subadditive() {
    // Two independent bonds, each losing 100 with probability 4% (gaining 2 otherwise):
    // alone, P(L > −2) = 0.04 ≤ 5% so VaR_0.95 = −2; together P(L ≥ 98) = 1 − 0.96² =
    // 7.84% > 5%, so VaR_0.95 = 98 > −2 + −2 (Artzner et al. 1999, §5 style example).
    let (pd, loss, gain) = (0.04, 100.0, 2.0);
    let states = [(gain, gain), (gain, -loss), (-loss, gain), (-loss, -loss)];
    let probs: Vec<f64> =
        [(1.0 - pd) * (1.0 - pd), (1.0 - pd) * pd, pd * (1.0 - pd), pd * pd].to_vec();
    let a = Sample::weighted(states.iter().map(|s| s.0).collect(), probs.clone()).expect("valid");
    let b = Sample::weighted(states.iter().map(|s| s.1).collect(), probs.clone()).expect("valid");
    let ab = Sample::weighted(states.iter().map(|s| s.0 + s.1).collect(), probs).expect("valid");
    let (va, vb, vab) = (eval("var:0.95", &a), eval("var:0.95", &b), eval("var:0.95", &ab));
    assert_eq!((va, vb, vab), (-gain, -gain, loss - gain));
    assert!(vab > va + vb, "VaR subadditivity fails here");
    // ES stays subadditive on the same books.
    assert!(eval("es:0.95", &ab) <= eval("es:0.95", &a) + eval("es:0.95", &b) + 1e-12);
}

#[test]
fn evar_solver_reports_its_work() {
    // EVaR of a sample whose largest loss carries ≥ 1 − α of the mass is that loss
    // (Ahmadi-Javid 2012, Prop. 3.2: EVaR ≤ ess sup; here the bound is attained, t* = ∞).
    let s = Sample::new(vec![-10.0, 0.0, 1.0, 2.0]).expect("finite");
    let e = evar(&s, 0.8);
    assert_eq!((e.value, e.t.is_infinite()), (10.0, true));
    // Interior optimum: Newton converges in a handful of passes.
    let s = normal_trapezoid(0.0, 1.0);
    let e = evar(&s, 0.95);
    assert!(e.t.is_finite() && e.iters <= 12, "{e:?}");
}

// ---------------------------------------------------------------- drawdown

#[test]
fn max_drawdown_on_hand_made_paths() {
    // Paths by hand (W_0 = 0):
    // 1, 2, −4, 1, −3, 5 → W = 1, 3, −1, 0, −3, 2: peak 3 after 2 steps, trough −3 after 5.
    let d = max_drawdown(&[1.0, 2.0, -4.0, 1.0, -3.0, 5.0]);
    assert_eq!((d.value, d.peak, d.trough), (6.0, Some(2), Some(5)));
    // Monotone gains: no drawdown.
    assert_eq!(max_drawdown(&[1.0, 0.0, 2.0]).value, 0.0);
    // Losses from the start: the peak is the initial 0.
    assert_eq!(max_drawdown(&[-1.0, -1.0, -1.0]).value, 3.0);
    // A later, deeper drawdown wins: W = 5, 1, 11, 0 → 11.
    assert_eq!(max_drawdown(&[5.0, -4.0, 10.0, -11.0]).value, 11.0);
    // Weights are ignored and the value is the same through the measure interface.
    let s = Sample::weighted(vec![1.0, 2.0, -4.0, 1.0, -3.0, 5.0], vec![1.0; 6]).expect("valid");
    assert_eq!(eval("mdd", &s), 6.0);
    let mut g = vec![0.0; 6];
    m("mdd").value_grad(&s, &mut g).expect("valid");
    assert_eq!(g, vec![0.0, 0.0, -1.0, -1.0, -1.0, 0.0]);
}

// ---------------------------------------------------------------- evaluate / parse

#[test]
fn evaluate_matches_one_by_one_and_parses_specs() {
    let s = Sample::weighted(
        vec![3.0, -1.0, 4.0, -1.5, 5.0, -9.0, 2.0],
        vec![1.0, 2.0, 1.0, 3.0, 1.0, 1.0, 2.0],
    )
    .expect("valid");
    let list = RiskMeasure::parse_list(
        "var:0.99, es:0.975,spectral-exp:10,spectral-pow:0.5,evar:0.95,entropic:0.1,oce-exp:0.1,oce-quad:0.1,oce-cvar:0.9,cvar:0.9,mdd",
    )
    .expect("valid list");
    assert_eq!(list.len(), 11);
    assert_eq!(list[1].0, "es:0.975");
    let ms: Vec<RiskMeasure> = list.iter().map(|(_, m)| m.clone()).collect();
    let all = evaluate(&s, &ms).expect("valid");
    for (m, v) in ms.iter().zip(&all) {
        assert_eq!(m.eval(&s).expect("valid"), *v, "{m}");
        // Display round-trips through the parser.
        assert_eq!(
            m.to_string().parse::<RiskMeasure>().expect("round trip").eval(&s).expect("valid"),
            *v
        );
    }
    for bad in
        ["var", "var:1", "es:0", "spectral-exp:-1", "spectral-pow:2", "mdd:3", "foo:1", "evar:x"]
    {
        assert!(matches!(bad.parse::<RiskMeasure>(), Err(RiskError::Spec { .. })), "{bad}");
    }
}

#[test]
fn samples_are_validated() {
    assert_eq!(Sample::new(vec![]), Err(RiskError::Empty));
    assert!(matches!(
        Sample::new(vec![1.0, f64::NAN]),
        Err(RiskError::NonFinitePnl { index: 1, .. })
    ));
    assert!(matches!(
        Sample::weighted(vec![1.0], vec![-1.0]),
        Err(RiskError::BadWeight { index: 0, .. })
    ));
    assert!(matches!(Sample::weighted(vec![1.0], vec![0.0]), Err(RiskError::WeightSum(_))));
    assert!(matches!(Sample::weighted(vec![1.0], vec![1.0, 2.0]), Err(RiskError::Length { .. })));
}

// ---------------------------------------------------------------- gradients

/// `grad` against central differences of `f` at `x` (`volfit_optim::check`, step
/// `h·max(1, |xᵢ|)`), tolerance `tol` relative to max(1, |g|).
fn assert_grad_matches_fd(
    f: impl Fn(&[f64]) -> f64,
    x: &[f64],
    grad: &[f64],
    h: f64,
    tol: f64,
    what: &str,
) {
    let obj = FnObjective::new(x.len(), |p: &[f64], g: &mut [f64]| {
        g.copy_from_slice(grad);
        Some(f(p))
    });
    let c = check_gradient(&obj, x, Some(h)).expect("finite around x");
    for (i, (g, fd)) in c.analytic.iter().zip(&c.fd).enumerate() {
        assert!((fd - g).abs() <= tol * g.abs().max(1.0), "{what}: ∂{i} fd {fd} vs {g}");
    }
}

fn test_pnl() -> (Vec<f64>, Vec<f64>) {
    // Distinct values, so a small step never reorders the sample.
    let pnl: Vec<f64> =
        (0..23).map(|i| f64::from((i * 37) % 23) * 0.7 - 6.1 + 0.01 * f64::from(i)).collect();
    let w: Vec<f64> = (0..23).map(|i| 1.0 + f64::from(i % 5)).collect();
    (pnl, w)
}

#[test]
fn risk_gradients_match_finite_differences() {
    // Smooth measures exactly; ES/spectral/VaR are piecewise linear in the values at a fixed
    // order, so central differences with a step below the gap between values are exact too.
    // h = 1e-6, tolerance 1e-6 (FD truncation + rounding).
    let (pnl, w) = test_pnl();
    let p = normalised(&w);
    for spec in [
        "entropic:0.3",
        "oce-exp:0.3",
        "evar:0.9",
        "oce-quad:0.2",
        "es:0.83",
        "spectral-exp:4",
        "spectral-pow:0.6",
        "var:0.9",
        "mdd",
    ] {
        let meas = m(spec);
        let s = Sample::weighted(pnl.clone(), w.clone()).expect("valid");
        let mut g = vec![0.0; pnl.len()];
        let v = meas.value_grad(&s, &mut g).expect("valid");
        assert_eq!(v, meas.eval(&s).expect("valid"), "{spec}: value_grad value");
        let f = |x: &[f64]| {
            meas.eval(&Sample::weighted(x.to_vec(), p.clone()).expect("valid")).expect("valid")
        };
        assert_grad_matches_fd(f, &pnl, &g, 1e-6, 1e-6, spec);
    }
}

#[test]
fn reward_gradients_match_finite_differences() {
    // FD with h = 1e-6; tolerance 1e-6 (smooth rewards; ES-based ones at a fixed order).
    let (pnl, w) = test_pnl();
    let p = normalised(&w);
    let rewards: Vec<(&str, Box<dyn Reward>)> = vec![
        ("cara", Box::new(ExpectedUtility(Cara { a: 0.2 }))),
        ("crra", Box::new(ExpectedUtility(Crra { gamma: 3.0, wealth: 20.0 }))),
        ("crra-1", Box::new(ExpectedUtility(Crra { gamma: 1.0, wealth: 20.0 }))),
        ("kelly", Box::new(ExpectedUtility(Kelly { wealth: 20.0 }))),
        ("mv", Box::new(MeanVariance { lambda: 0.5 })),
        ("sharpe", Box::new(Sharpe { benchmark: 0.1 })),
        ("sortino", Box::new(Sortino { target: 0.0 })),
        (
            "sum",
            Box::new(Sum(Scaled(2.0, MeanVariance { lambda: 0.1 }), Sharpe { benchmark: 0.0 })),
        ),
        (
            "penalised",
            Box::new(Penalised {
                reward: MeanVariance { lambda: 0.1 },
                lambda: 0.5,
                risk: m("entropic:0.2"),
            }),
        ),
    ];
    for (name, r) in &rewards {
        for probs in [None, Some(p.as_slice())] {
            let mut g = vec![0.0; pnl.len()];
            let v = r.value_grad(&pnl, probs, Some(&mut g)).expect("in domain");
            assert_eq!(Some(v), r.value(&pnl, probs), "{name}");
            assert_grad_matches_fd(
                |x| r.value(x, probs).expect("in domain"),
                &pnl,
                &g,
                1e-6,
                1e-6,
                name,
            );
        }
    }
    // Return over ES: shift the sample so ES > 0 and the mean is positive.
    let shifted: Vec<f64> = pnl.iter().map(|x| x + 1.0).collect();
    let r = ReturnOverEs { alpha: 0.8 };
    let mut g = vec![0.0; pnl.len()];
    r.value_grad(&shifted, Some(&p), Some(&mut g)).expect("ES > 0");
    assert_grad_matches_fd(
        |x| r.value(x, Some(&p)).expect("ES > 0"),
        &shifted,
        &g,
        1e-6,
        1e-6,
        "ret/es",
    );
}

#[test]
fn reward_closed_forms_and_domains() {
    // CRRA with γ → 1 tends to log utility; CARA E[u] for a two-point sample by hand:
    // (1 − (e^{−0.5} + e^{0.5})/2)/0.5.
    let pnl = [1.0, -1.0];
    let cara = ExpectedUtility(Cara { a: 0.5 }).value(&pnl, None).expect("finite");
    let by_hand = (1.0 - ((-0.5f64).exp() + 0.5f64.exp()) / 2.0) / 0.5;
    assert!((cara - by_hand).abs() < 1e-15);
    let near_log =
        ExpectedUtility(Crra { gamma: 1.0 + 1e-9, wealth: 10.0 }).value(&pnl, None).expect("W > 0");
    let log = ExpectedUtility(Kelly { wealth: 10.0 }).value(&pnl, None).expect("W > 0");
    assert!((near_log - log).abs() < 1e-8, "{near_log} vs {log}");
    // Ruin is outside the domain.
    assert_eq!(ExpectedUtility(Kelly { wealth: 0.5 }).value(&pnl, None), None);
    // Sharpe of (1, 3) with zero benchmark: mean 2, σ 1.
    assert_eq!(Sharpe { benchmark: 0.0 }.value(&[1.0, 3.0], None), Some(2.0));
    // Sortino of (−1, 3) with target 0: mean 1, DD = √(½·1) .
    let so = Sortino { target: 0.0 }.value(&[-1.0, 3.0], None).expect("DD > 0");
    assert!((so - 1.0 / 0.5f64.sqrt()).abs() < 1e-15);
    assert_eq!(Sharpe { benchmark: 0.0 }.value(&[1.0, 1.0], None), None, "zero variance");
    assert!(
        Cara::new(0.0).is_err()
            && Crra::new(-1.0, 1.0).is_err()
            && Crra::new(2.0, f64::NAN).is_err()
    );
    // A boxed reward chosen at run time drives a portfolio objective like a concrete one.
    let boxed: Box<dyn Reward> = Box::new(MeanVariance { lambda: 1.0 });
    let scen = Scenarios::new(vec![1.0, -1.0, 2.0, 0.0], 2, 2).expect("shape");
    let obj = PortfolioObjective::new(scen, None, boxed, 0.0, m("es:0.5")).expect("valid");
    // P&L (x0 − x1, 2 x0) at x = (1, 0): (1, 2), mean 1.5, variance 0.25 → −(1.5 − 0.125).
    assert!((obj.value(&[1.0, 0.0]).expect("finite") + 1.375).abs() < 1e-15);
}

#[test]
fn portfolio_objective_gradient_and_descent() {
    // 3 instruments × 40 scenarios (deterministic pseudo-random returns). The objective's
    // gradient must match FD (h = 1e-6, tol 1e-6), for a smooth and an ES-penalised reward.
    let (rows, cols) = (40, 3);
    let data: Vec<f64> = (0..rows * cols)
        .map(|k| {
            let v = ((k * 7919 + 13) % 101) as f64 / 101.0 - 0.45;
            v * (1.0 + (k % cols) as f64)
        })
        .collect();
    let scen = Scenarios::new(data, rows, cols).expect("shape");
    let x = [0.3, -0.2, 0.5];
    let smooth = PortfolioObjective::new(
        scen.clone(),
        None,
        ExpectedUtility(Cara { a: 1.0 }),
        0.5,
        m("entropic:0.5"),
    )
    .expect("valid");
    let kinked = PortfolioObjective::new(
        scen.clone(),
        Some(vec![1.0; rows]),
        MeanVariance { lambda: 0.2 },
        1.0,
        m("es:0.9"),
    )
    .expect("valid");
    for (name, obj) in [("smooth", &smooth as &dyn Objective), ("es", &kinked as &dyn Objective)] {
        let mut g = vec![0.0; cols];
        let v = obj.value_grad(&x, &mut g).expect("in domain");
        assert!((v - obj.value(&x).expect("in domain")).abs() < 1e-12);
        assert_grad_matches_fd(|y| obj.value(y).expect("in domain"), &x, &g, 1e-6, 1e-6, name);
    }
    // A few gradient steps on the smooth objective decrease it (a descent direction).
    let (mut y, mut g) = (x.to_vec(), vec![0.0; cols]);
    let f0 = smooth.value_grad(&y, &mut g).expect("in domain");
    for (yi, gi) in y.iter_mut().zip(&g) {
        *yi -= 1e-2 * gi;
    }
    assert!(smooth.value(&y).expect("in domain") < f0);
    assert!(Scenarios::new(vec![1.0; 5], 2, 3).is_err());
    assert!(PortfolioObjective::new(
        scen,
        Some(vec![1.0; 3]),
        MeanVariance { lambda: 0.0 },
        0.0,
        m("mdd")
    )
    .is_err());
}
