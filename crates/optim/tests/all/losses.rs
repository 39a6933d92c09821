//! Every loss: the Ceres contract, derivatives against finite differences on both sides of
//! each kink at two scales, the exact triple at `s = 0`, Ceres' ordering, and the text and
//! serde forms of `LossKind`.

use proptest::prelude::*;
use volfit_optim::check::check_loss;
use volfit_optim::loss::{
    Arctan, Cauchy, Composed, FnLoss, Huber, LossError, LossKind, PseudoHuber, Scaled, SoftL1,
    Squared, Tolerant, Tukey,
};
use volfit_optim::Loss;

/// Every loss type at one scale, boxed, with its name and whether `ρ'(0) = 1` applies.
fn zoo(scale: f64) -> Vec<(String, Box<dyn Loss>, bool)> {
    let mut v: Vec<(String, Box<dyn Loss>, bool)> = Vec::new();
    for k in LossKind::all(scale) {
        let unit_slope = !matches!(k, LossKind::Tolerant { .. });
        v.push((format!("kind {k}"), Box::new(k), unit_slope));
    }
    let ok = "valid scale";
    v.push(("Squared".into(), Box::new(Squared), true));
    v.push(("Huber".into(), Box::new(Huber::new(scale).expect(ok)), true));
    v.push(("PseudoHuber".into(), Box::new(PseudoHuber::new(scale).expect(ok)), true));
    v.push(("SoftL1".into(), Box::new(SoftL1::new(scale).expect(ok)), true));
    v.push(("Cauchy".into(), Box::new(Cauchy::new(scale).expect(ok)), true));
    v.push(("Arctan".into(), Box::new(Arctan::new(scale).expect(ok)), true));
    v.push(("Tukey".into(), Box::new(Tukey::new(scale).expect(ok)), true));
    let b = scale * scale;
    v.push(("Tolerant".into(), Box::new(Tolerant::new(b, 0.3 * b).expect(ok)), false));
    // Cauchy ∘ Huber: ρ'(0) = 1·1.
    let comp = Composed::new(Cauchy::new(2.0 * scale).expect(ok), Huber::new(scale).expect(ok));
    v.push(("Cauchy∘Huber".into(), Box::new(comp), true));
    v.push((
        "Scaled(1, Tukey)".into(),
        Box::new(Scaled::new(1.0, Tukey::new(scale).expect(ok)).expect(ok)),
        true,
    ));
    v.push((
        "Scaled(2.5, Cauchy)".into(),
        Box::new(Scaled::new(2.5, Cauchy::new(scale).expect(ok)).expect(ok)),
        false,
    ));
    // A user loss: ρ(s) = b·(1 − e^{−s/b}) (Welsch), contract holds at 0.
    let user = FnLoss::new(move |s: f64| {
        let e = (-s / b).exp();
        [b * (1.0 - e), e, -e / b]
    })
    .expect("Welsch satisfies the contract");
    v.push(("FnLoss(Welsch)".into(), Box::new(user), true));
    v
}

#[test]
fn derivatives_match_finite_differences_on_both_sides_of_kinks() {
    // Ceres' loss_function_test: s ∈ {0.357, 1.792} at scales {0.7, 1.3}. The kinks of
    // Huber and Tukey sit at s = scale² ∈ {0.49, 1.69}, so each scale puts one point on
    // either side. Reference: central differences (relative step ε^{1/3}), whose error is
    // ~1e-10 here; tolerance 1e-7 relative + 1e-9 absolute (ρ'' is exactly 0 for some).
    for scale in [0.7, 1.3] {
        for (name, loss, _) in zoo(scale) {
            for s in [0.357, 1.792] {
                let c = check_loss(&*loss, s, None);
                assert!(c.passes(1e-7, 1e-9), "{name} at scale {scale}, s = {s}: {c:?}");
            }
        }
    }
}

#[test]
fn extra_points_straddle_each_kink_closely() {
    // Within 2% of each kink (s = 0.98b and 1.02b), still away from the stencil width.
    for scale in [0.7, 1.3] {
        let b = scale * scale;
        for (name, loss, _) in zoo(scale) {
            for s in [0.98 * b, 1.02 * b, 1e-3, 40.0] {
                let c = check_loss(&*loss, s, None);
                assert!(c.passes(1e-6, 1e-9), "{name} at scale {scale}, s = {s}: {c:?}");
            }
        }
    }
}

#[test]
fn exact_triple_at_zero() {
    // Closed forms at s = 0 with scale a = 0.7, b = a² = 0.49 (derivatives of the formulas
    // in loss.rs): ρ''(0) = 0 (MSE, Huber, Arctan), −1/(2b) (soft-L1/pseudo-Huber),
    // −1/b (Cauchy), −2/b (Tukey). Tolerant: ρ'(0) = σ(−a/b), ρ''(0) = ρ'(1 − ρ')/b.
    let a = 0.7;
    let b = a * a;
    let cases = [
        (LossKind::Mse, 0.0),
        (LossKind::Huber { scale: a }, 0.0),
        (LossKind::PseudoHuber { scale: a }, -0.5 / b),
        (LossKind::SoftL1 { scale: a }, -0.5 / b),
        (LossKind::Cauchy { scale: a }, -1.0 / b),
        (LossKind::Arctan { scale: a }, 0.0),
        (LossKind::Tukey { scale: a }, -2.0 / b),
    ];
    for (k, d2) in cases {
        let [r0, r1, r2] = k.rho(0.0);
        assert_eq!(r0, 0.0, "{k}");
        assert_eq!(r1, 1.0, "{k}");
        assert!((r2 - d2).abs() <= 1e-15 * d2.abs(), "{k}: {r2} vs {d2}");
    }
    let (ta, tb) = (0.5, 0.2);
    let [r0, r1, r2] = Tolerant::new(ta, tb).expect("valid").rho(0.0);
    let p = 1.0 / (1.0 + (ta / tb).exp());
    assert!(r0.abs() <= 1e-16, "tolerant ρ(0) = {r0}");
    assert!((r1 - p).abs() <= 1e-15);
    assert!((r2 - p * (1.0 - p) / tb).abs() <= 1e-14);
}

#[test]
fn huber_above_soft_l1_above_cauchy_below_three() {
    // Ceres' documented ordering for unit scale, s ∈ [0, 3): Huber ≥ SoftL1 ≥ Cauchy
    // (ρ values and, on the same range, the effective weights ρ').
    let (h, l1, c) = (
        LossKind::Huber { scale: 1.0 },
        LossKind::SoftL1 { scale: 1.0 },
        LossKind::Cauchy { scale: 1.0 },
    );
    for i in 0..3000 {
        let s = f64::from(i) * 1e-3;
        let (rh, rl, rc) = (h.rho(s), l1.rho(s), c.rho(s));
        assert!(rh[0] >= rl[0] && rl[0] >= rc[0], "ρ at s = {s}: {rh:?} {rl:?} {rc:?}");
        assert!(rl[1] >= rc[1], "ρ' at s = {s}");
    }
}

#[test]
fn huber_closed_form_values() {
    // Huber (1964) with a = 0.5: ρ(4) = 2·0.5·2 − 0.25 = 1.75, ρ'(4) = 0.5/2 = 0.25,
    // ρ''(4) = −0.25/8; inside, ρ(0.1) = 0.1.
    let h = Huber::new(0.5).expect("valid");
    assert_eq!(h.rho(4.0), [1.75, 0.25, -0.25 / 8.0]);
    assert_eq!(h.rho(0.1), [0.1, 1.0, 0.0]);
    // Tukey saturates at b/3 beyond the scale (Beaton & Tukey 1974).
    assert_eq!(Tukey::new(0.5).expect("valid").rho(1.0), [0.25 / 3.0, 0.0, 0.0]);
    // Tolerant far out: ρ = s − a − b·ln(1 + e^{−a/b}) with slope 1 (Ceres TolerantLoss).
    let t = Tolerant::new(1.0, 0.01).expect("valid").rho(5.0);
    assert!((t[0] - (4.0 - 0.01 * (-100.0f64).exp().ln_1p())).abs() < 1e-14);
    assert_eq!(t[1], 1.0);
}

proptest! {
    #[test]
    fn contract_holds_for_every_loss(scale in 0.01f64..100.0, u in 0.0f64..1.0, v in 0.0f64..1.0) {
        // ρ(0) = 0, ρ'(0) = 1 (except Tolerant and a non-unit Scaled), ρ' ≥ 0, and ρ
        // non-decreasing on [0, 1e6] (Ceres' contract). Points drawn on a log scale.
        let s1 = 1e6 * u.powi(6);
        let s2 = s1 + 1e6 * v.powi(6);
        for (name, loss, unit_slope) in zoo(scale) {
            let r0 = loss.rho(0.0);
            prop_assert!(r0[0].abs() <= 1e-14 * scale * scale, "{} ρ(0) = {}", name, r0[0]);
            if unit_slope {
                prop_assert_eq!(r0[1], 1.0, "{} ρ'(0)", name);
            }
            let (a, b) = (loss.rho(s1), loss.rho(s2));
            prop_assert!(a[1] >= 0.0 && b[1] >= 0.0, "{} ρ' < 0", name);
            prop_assert!(a.iter().chain(&b).all(|x| x.is_finite()), "{} not finite", name);
            prop_assert!(b[0] >= a[0] - 1e-12 * a[0].abs(), "{} decreasing: {} > {}", name, a[0], b[0]);
        }
    }

    #[test]
    fn display_parse_round_trip(kind in 0usize..8, scale in 1e-6f64..1e6, b in 1e-6f64..1e6) {
        // Round trip: the text form gives back the same value bit for bit; serde JSON
        // within 1e-15 relative (serde_json without its `float_roundtrip` feature may parse
        // the last digit 1 ulp off).
        let mut k = LossKind::all(scale)[kind];
        if let LossKind::Tolerant { a, .. } = k {
            k = LossKind::Tolerant { a, b };
        }
        let text = k.to_string();
        let back: LossKind = text.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(back, k);
        let json = serde_json::to_string(&k).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let back: LossKind = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&k));
        let (p, q) = (back.scale().unwrap_or(0.0), k.scale().unwrap_or(0.0));
        prop_assert!((p - q).abs() <= 1e-15 * q, "{} vs {}", back, k);
        if let (LossKind::Tolerant { b: b1, .. }, LossKind::Tolerant { b: b2, .. }) = (back, k) {
            prop_assert!((b1 - b2).abs() <= 1e-15 * b2);
        }
    }
}

#[test]
fn parses_exact_forms_and_rejects_bad_strings() {
    let good = [
        ("mse", LossKind::Mse),
        ("huber:0.01", LossKind::Huber { scale: 0.01 }),
        ("pseudo-huber:2", LossKind::PseudoHuber { scale: 2.0 }),
        ("soft-l1:1e-3", LossKind::SoftL1 { scale: 1e-3 }),
        ("cauchy:0.5", LossKind::Cauchy { scale: 0.5 }),
        ("arctan:3", LossKind::Arctan { scale: 3.0 }),
        ("tukey:4.685", LossKind::Tukey { scale: 4.685 }),
        ("tolerant:1:0.1", LossKind::Tolerant { a: 1.0, b: 0.1 }),
    ];
    for (text, want) in good {
        assert_eq!(text.parse::<LossKind>(), Ok(want), "{text}");
    }
    let bad = [
        ("", "unknown loss name"),
        ("huber", "takes 1 number"),
        ("huber:", "is not a number"),
        ("huber:-1", "positive"),
        ("huber:0", "positive"),
        ("huber:nan", "positive"),
        ("huber:inf", "positive"),
        ("huber:abc", "is not a number"),
        ("huber:1:2", "takes 1 number"),
        ("mse:1", "takes 0 number"),
        ("tolerant:1", "takes 2 number"),
        ("tolerant:1:2:3", "takes 2 number"),
        ("Huber:1", "unknown loss name"),
        (" huber:1", "unknown loss name"),
        ("l2", "unknown loss name"),
        ("huber:1 ", "is not a number"),
    ];
    for (text, reason) in bad {
        match text.parse::<LossKind>() {
            Err(e @ LossError::Parse { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(reason), "'{text}': {msg}");
                assert!(msg.contains("expected one of mse, huber:S"), "'{text}': {msg}");
            }
            other => panic!("'{text}' should be rejected, got {other:?}"),
        }
    }
    // Serde validates too.
    assert!(serde_json::from_str::<LossKind>(r#"{"kind":"huber","scale":-1.0}"#).is_err());
    assert!(serde_json::from_str::<LossKind>(r#"{"kind":"huber","scale":0.5}"#).is_ok());
}

#[test]
fn scale_accessors() {
    // Round trip through with_scale; Tolerant maps scale ↔ √a.
    let k = LossKind::Cauchy { scale: 0.2 };
    assert_eq!(k.scale(), Some(0.2));
    assert_eq!(k.with_scale(0.5), Ok(LossKind::Cauchy { scale: 0.5 }));
    assert!(k.with_scale(0.0).is_err());
    assert_eq!(LossKind::Mse.scale(), None);
    let t = LossKind::Tolerant { a: 4.0, b: 1.0 };
    assert_eq!(t.scale(), Some(2.0));
    assert_eq!(t.with_scale(3.0), Ok(LossKind::Tolerant { a: 9.0, b: 1.0 }));
    assert!(LossKind::Huber { scale: -1.0 }.validate().is_err());
}
