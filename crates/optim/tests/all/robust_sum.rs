//! The one objective: `RobustSum`'s gradient against finite differences, and the
//! Levenberg–Marquardt view (Triggs-corrected rows) against the objective's gradient for
//! every loss, with weights, residual scaling and penalties.

use volfit_optim::check::{assert_gradient_matches, check_gradient};
use volfit_optim::loss::{Composed, Huber, LossKind, ResidualScale, Scaled, Tolerant};
use volfit_optim::penalty::{FnPenalty, Ridge, SmoothL1};
use volfit_optim::problem::FnResiduals;
use volfit_optim::transform::{Domain, Frozen, Transformed};
use volfit_optim::{LeastSquares, Loss, Objective, Residuals, RobustSum};

const M: usize = 24;
const N: usize = 3;

/// Exponential decay `a·e^{−b·t} + c` against data with gross outliers every fifth point,
/// so residuals at the test points span inliers and outliers on both signs.
fn decay() -> impl Residuals {
    FnResiduals::new(M, N, |x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>| {
        let mut jac = jac;
        for i in 0..M {
            let t = 0.25 * i as f64;
            let clean = 2.0 * (-0.7 * t).exp() + 0.3 + 0.05 * (1.7 * i as f64).sin();
            let y = if i % 5 == 0 { clean + if i % 10 == 0 { 2.5 } else { -1.8 } } else { clean };
            let e = (-x[1] * t).exp();
            r[i] = x[0] * e + x[2] - y;
            if let Some(j) = jac.as_deref_mut() {
                j[i * N] = e;
                j[i * N + 1] = -x[0] * t * e;
                j[i * N + 2] = 1.0;
            }
        }
        Some(())
    })
}

fn weights() -> Vec<f64> {
    (0..M).map(|i| 0.5 + 0.1 * (i % 7) as f64).collect()
}

fn scalings() -> [ResidualScale; 3] {
    [
        ResidualScale::None,
        ResidualScale::quantile(0.8).expect("valid tau"),
        ResidualScale::tail_weighted(0.4, 2.5).expect("valid"),
    ]
}

/// Every loss under test, boxed: each `LossKind` at scale 0.3 (some residuals inside, some
/// beyond), plus composed, scaled and a tolerant with positive ρ''.
fn losses() -> Vec<(String, Box<dyn Loss + Send + Sync>)> {
    let mut v: Vec<(String, Box<dyn Loss + Send + Sync>)> = LossKind::all(0.3)
        .into_iter()
        .map(|k| (k.to_string(), Box::new(k) as Box<dyn Loss + Send + Sync>))
        .collect();
    let ok = "valid";
    v.push((
        "cauchy∘huber".into(),
        Box::new(Composed::new(LossKind::Cauchy { scale: 0.6 }, Huber::new(0.3).expect(ok))),
    ));
    v.push((
        "scaled(1.7, tukey)".into(),
        Box::new(Scaled::new(1.7, LossKind::Tukey { scale: 1.0 }).expect(ok)),
    ));
    v.push(("tolerant(0.05, 0.02)".into(), Box::new(Tolerant::new(0.05, 0.02).expect(ok))));
    v
}

fn problem(
    loss: Box<dyn Loss + Send + Sync>,
    scaling: ResidualScale,
) -> RobustSum<impl Residuals, Box<dyn Loss + Send + Sync>> {
    RobustSum::new(decay(), loss)
        .with_weights(weights())
        .expect("weights valid")
        .with_scaling(scaling)
        .with_penalty(Ridge::toward(0.05, vec![1.0, 2.0, 0.5], vec![1.8, 0.6, 0.2]).expect("valid"))
        .expect("dims match")
        .with_penalty(SmoothL1::new(0.02, 0.01, vec![1.0; 3], vec![2.0, 0.7, 0.3]).expect("valid"))
        .expect("dims match")
        .with_penalty(FnPenalty::new(N, |x: &[f64], g: &mut [f64]| {
            // (x₀x₁ − 1)²·0.01: a non-separable user penalty with the default one-row view.
            let d = x[0] * x[1] - 1.0;
            g[0] += 0.02 * d * x[1];
            g[1] += 0.02 * d * x[0];
            0.01 * d * d
        }))
        .expect("dims match")
}

const POINTS: [[f64; N]; 3] = [[1.6, 0.5, 0.4], [2.3, 0.9, 0.1], [2.0, 0.7, 0.3]];

#[test]
fn gradient_matches_finite_differences() {
    // Reference: central differences, relative step ε^{1/3}; their error here is ~1e-9 of
    // the gradient's size, so tolerance 1e-6 relative + 1e-8 absolute. The points avoid the
    // kinks by more than the stencil width for these data.
    for (name, _) in losses() {
        for scaling in scalings() {
            let loss = losses().into_iter().find(|(n, _)| *n == name).expect("same list").1;
            let p = problem(loss, scaling);
            for x in POINTS {
                let c = check_gradient(&p, &x, None).expect("evaluates");
                assert!(c.passes(1e-6, 1e-8), "{name}, {scaling:?}, x = {x:?}: {c:?}");
            }
        }
    }
}

#[test]
fn lm_corrected_gradient_equals_objective_gradient() {
    // Identity (module docs of robust.rs): J̃ᵀr̃ = ∇cost exactly in exact arithmetic, so
    // agreement to 1e-10 relative (in the max-norm of the gradient) is rounding only. The
    // costs from all three entry points must agree to rounding as well.
    for (name, _) in losses() {
        for scaling in scalings() {
            let loss = losses().into_iter().find(|(n, _)| *n == name).expect("same list").1;
            let p = problem(loss, scaling);
            let k = p.num_rows();
            assert_eq!(k, M + 3 + 3 + 1, "data rows + ridge + smooth-L1 + user rows");
            let (mut rows, mut jac) = (vec![0.0; k], vec![0.0; k * N]);
            for x in POINTS {
                let mut g = [0.0; N];
                let f = p.value_grad(&x, &mut g).expect("evaluates");
                let c_lin = p.linearize(&x, &mut rows, &mut jac).expect("evaluates");
                let c_cost = p.cost(&x, &mut rows.clone()).expect("evaluates");
                let c_val = p.value(&x).expect("evaluates");
                for c in [c_lin, c_cost, c_val] {
                    assert!((c - f).abs() <= 1e-14 * f.abs(), "{name}: cost {c} vs {f}");
                }
                let gmax = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                for col in 0..N {
                    let jr: f64 = (0..k).map(|i| jac[i * N + col] * rows[i]).sum();
                    assert!(
                        (jr - g[col]).abs() <= 1e-10 * gmax,
                        "{name}, {scaling:?}, x = {x:?}, col {col}: J̃ᵀr̃ = {jr}, ∇f = {}",
                        g[col]
                    );
                }
            }
        }
    }
}

#[test]
fn corrected_hessian_is_exact_where_curvature_is_positive() {
    // Triggs correction: with ρ'' > 0 (Tolerant), J̃ᵀJ̃ = Σ (ρ' + 2sρ'')·jᵢjᵢᵀ exactly;
    // with ρ'' ≤ 0 (Cauchy) it is Σ ρ'·jᵢjᵢᵀ. Checked on a single-residual problem.
    let one = |loss: Box<dyn Loss + Send + Sync>| {
        RobustSum::new(
            FnResiduals::new(1, 1, |x: &[f64], r: &mut [f64], j: Option<&mut [f64]>| {
                r[0] = x[0] * x[0] - 0.5;
                if let Some(j) = j {
                    j[0] = 2.0 * x[0];
                }
                Some(())
            }),
            loss,
        )
    };
    let x = [1.1];
    let (u, du) = (1.1f64 * 1.1 - 0.5, 2.2);
    let s = u * u;
    for (loss, positive) in [
        (Box::new(Tolerant::new(0.3, 0.2).expect("valid")) as Box<dyn Loss + Send + Sync>, true),
        (Box::new(LossKind::Cauchy { scale: 0.4 }), false),
    ] {
        let [_, d1, d2] = loss.rho(s);
        let p = one(loss);
        let (mut r, mut j) = ([0.0], [0.0]);
        p.linearize(&x, &mut r, &mut j).expect("evaluates");
        let want = if positive { (d1 + 2.0 * s * d2) * du * du } else { d1 * du * du };
        assert!((j[0] * j[0] - want).abs() <= 1e-13 * want, "{} vs {want}", j[0] * j[0]);
        assert!((r[0] * j[0] - d1 * u * du).abs() <= 1e-13 * (d1 * u * du).abs());
    }
}

#[test]
fn effective_weights_and_outliers() {
    // Closed form for Huber (a = 0.3) without weights: ρ' = min(1, a/|r|); outlier when
    // ρ' < 0.5, i.e. |r| > 0.6. The injected outliers (±1.8, +2.5) are the only ones flagged.
    let p = RobustSum::new(decay(), LossKind::Huber { scale: 0.3 });
    let x = [2.0, 0.7, 0.3];
    let mut r = vec![0.0; M];
    Residuals::eval(&decay(), &x, &mut r, None).expect("evaluates");
    let mut w = vec![0.0; M];
    p.effective_weights(&x, &mut w).expect("evaluates");
    let mut flags = vec![false; M];
    p.outliers(&x, 0.5, &mut flags).expect("evaluates");
    for i in 0..M {
        let want = (0.3 / r[i].abs()).min(1.0);
        assert!((w[i] - want).abs() <= 1e-15, "{i}");
        assert_eq!(flags[i], i % 5 == 0, "{i}: r = {}", r[i]);
    }
}

#[test]
fn wrappers_keep_the_identity_and_the_gradient() {
    // Transformed and Frozen robust sums: gradient vs central differences (1e-6 relative)
    // and J̃ᵀr̃ = ∇f (identity, 1e-10 relative).
    let loss = || Box::new(LossKind::SoftL1 { scale: 0.3 }) as Box<dyn Loss + Send + Sync>;
    let domains = vec![Domain::Positive, Domain::Interval(0.0, 5.0), Domain::Lower(-1.0)];
    let t = Transformed::new(problem(loss(), ResidualScale::None), domains).expect("valid");
    let mut y = [0.0; N];
    t.to_free(&[2.0, 0.7, 0.3], &mut y).expect("inside");
    assert_gradient_matches(&t, &y, 1e-6, 1e-8);
    lm_identity(&t, &y);

    let f = Frozen::new(
        problem(loss(), ResidualScale::None),
        vec![0.0, 0.7, 0.0],
        &[false, true, false],
    )
    .expect("valid");
    assert_gradient_matches(&f, &[2.1, 0.25], 1e-6, 1e-8);
    lm_identity(&f, &[2.1, 0.25]);

    // Both nestings: freeze b, then map a > 0 and c > −1 to free coordinates; and the
    // other way round.
    let f = Frozen::new(
        problem(loss(), ResidualScale::None),
        vec![0.0, 0.7, 0.0],
        &[false, true, false],
    )
    .expect("valid");
    let tf = Transformed::new(f, vec![Domain::Positive, Domain::Lower(-1.0)]).expect("valid");
    let y = [0.7, -0.4];
    assert_gradient_matches(&tf, &y, 1e-6, 1e-8);
    lm_identity(&tf, &y);
    let domains = vec![Domain::Positive, Domain::Interval(0.0, 5.0), Domain::Lower(-1.0)];
    let t = Transformed::new(problem(loss(), ResidualScale::None), domains).expect("valid");
    let ft = Frozen::new(t, vec![0.0, -1.2, 0.0], &[false, true, false]).expect("valid");
    assert_gradient_matches(&ft, &y, 1e-6, 1e-8);
    lm_identity(&ft, &y);
}

fn lm_identity<P: LeastSquares + Objective>(p: &P, x: &[f64]) {
    let (k, n) = (LeastSquares::num_rows(p), x.len());
    let (mut rows, mut jac) = (vec![0.0; k], vec![0.0; k * n]);
    let mut g = vec![0.0; n];
    p.value_grad(x, &mut g).expect("evaluates");
    p.linearize(x, &mut rows, &mut jac).expect("evaluates");
    let gmax = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    for c in 0..n {
        let jr: f64 = (0..k).map(|i| jac[i * n + c] * rows[i]).sum();
        assert!((jr - g[c]).abs() <= 1e-10 * gmax, "col {c}: {jr} vs {}", g[c]);
    }
}

#[test]
fn rejects_bad_configuration() {
    assert!(RobustSum::new(decay(), LossKind::Mse).with_weights(vec![1.0; M - 1]).is_err());
    let mut w = vec![1.0; M];
    w[3] = -1.0;
    assert!(RobustSum::new(decay(), LossKind::Mse).with_weights(w).is_err());
    assert!(RobustSum::new(decay(), LossKind::Mse)
        .with_penalty(Ridge::new(1.0, N + 1).expect("valid"))
        .is_err());
}

#[test]
fn shared_across_threads_gives_identical_results() {
    // RobustSum is Sync: four threads evaluate one problem concurrently (contended scratch
    // falls back to fresh buffers) and must reproduce the single-thread value bit for bit.
    fn assert_sync<T: Sync + Send>(_: &T) {}
    let p = problem(Box::new(LossKind::Cauchy { scale: 0.3 }), ResidualScale::None);
    assert_sync(&p);
    let x = [2.0, 0.7, 0.3];
    let mut g0 = [0.0; N];
    let f0 = p.value_grad(&x, &mut g0).expect("evaluates");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    let mut g = [0.0; N];
                    let f = p.value_grad(&x, &mut g).expect("evaluates");
                    assert_eq!((f, g), (f0, g0));
                }
            });
        }
    });
}

/// A minimal Levenberg–Marquardt on the `LeastSquares` view (the real solver lives in
/// `solver/`); enough to show the corrected rows drive a fit to the robust minimum.
fn lm_lite<P: LeastSquares>(p: &P, x: &mut [f64]) {
    let (k, n) = (p.num_rows(), p.num_params());
    let (mut rows, mut jac) = (vec![0.0; k], vec![0.0; k * n]);
    let mut trial_rows = vec![0.0; k];
    let mut mu = 1e-3;
    for _ in 0..500 {
        let Some(cost) = p.linearize(x, &mut rows, &mut jac) else { return };
        let mut a = vec![0.0; n * n];
        let mut g = vec![0.0; n];
        for i in 0..k {
            for c in 0..n {
                g[c] += jac[i * n + c] * rows[i];
                for e in 0..n {
                    a[c * n + e] += jac[i * n + c] * jac[i * n + e];
                }
            }
        }
        loop {
            let mut m = a.clone();
            for c in 0..n {
                m[c * n + c] += mu * a[c * n + c].max(1e-12);
            }
            let mut step: Vec<f64> = g.iter().map(|v| -v).collect();
            if !volfit_optim::linalg::cholesky(&mut m, n) {
                mu *= 10.0;
                continue;
            }
            volfit_optim::linalg::cholesky_solve(&m, n, &mut step);
            let trial: Vec<f64> = x.iter().zip(&step).map(|(a, b)| a + b).collect();
            let ok = p.cost(&trial, &mut trial_rows).is_some_and(|c| c < cost);
            if ok {
                x.copy_from_slice(&trial);
                mu = (mu / 3.0).max(1e-12);
                break;
            }
            mu *= 4.0;
            if mu > 1e12 {
                return;
            }
        }
    }
}

#[test]
fn robust_losses_recover_a_line_through_20_percent_outliers() {
    // y = 1 + 2t + 0.02·sin(1.3i) with every fifth point shifted by +3 (20 % gross
    // outliers, all on one side so MSE is biased by ≈ 0.6 in the intercept). Truth (1, 2)
    // is the reference; robust fits land within 0.02 (the inlier noise is 0.02), MSE does not.
    const MM: usize = 50;
    let line = FnResiduals::new(MM, 2, |x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>| {
        let mut jac = jac;
        for i in 0..MM {
            let t = i as f64 / 10.0;
            let y =
                1.0 + 2.0 * t + 0.02 * (1.3 * i as f64).sin() + if i % 5 == 2 { 3.0 } else { 0.0 };
            r[i] = x[0] + x[1] * t - y;
            if let Some(j) = jac.as_deref_mut() {
                j[2 * i] = 1.0;
                j[2 * i + 1] = t;
            }
        }
        Some(())
    });
    let fit = |loss: LossKind, x: &mut [f64]| lm_lite(&RobustSum::new(&line, loss), x);
    let err = |x: &[f64]| (x[0] - 1.0).abs().max((x[1] - 2.0).abs());

    let mut mse = [0.0, 0.0];
    fit(LossKind::Mse, &mut mse);
    assert!(err(&mse) > 0.3, "MSE should be biased: {mse:?}");

    for loss in [LossKind::Huber { scale: 0.05 }, LossKind::Cauchy { scale: 0.05 }] {
        let mut x = [0.0, 0.0];
        fit(loss, &mut x);
        assert!(err(&x) < 0.02, "{loss}: {x:?}");
    }
    // Tukey is redescending: start wide and tighten (scale annealing 0.05·64 → 0.05).
    let annealing = volfit_optim::ScaleAnnealing::new(64.0, 4).expect("valid");
    let mut x = [0.0, 0.0];
    for stage in annealing.losses(LossKind::Tukey { scale: 0.05 }) {
        fit(stage, &mut x);
    }
    assert!(err(&x) < 0.02, "annealed Tukey: {x:?}");
}
