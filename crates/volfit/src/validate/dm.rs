//! Diebold–Mariano test of equal predictive accuracy, with the Harvey–Leybourne–Newbold
//! small-sample correction and a Student-t p-value (Harvey, Leybourne & Newbold 1997,
//! "Testing the equality of prediction mean squared errors", IJF 13).
//!
//! The loss differentials come in groups (one per underlying, each in time order); the
//! long-run variance is Newey–West (Bartlett weights) with lag `h − 1`, autocovariances taken
//! only within a group and around the pooled mean.

/// Result of a Diebold–Mariano test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DmTest {
    /// Observations (loss differentials).
    pub n: usize,
    /// Mean loss differential.
    pub mean: f64,
    /// HLN-corrected statistic (NaN when the variance is zero or `n < 2`).
    pub statistic: f64,
    /// Two-sided p-value, Student-t with `n − 1` degrees of freedom (NaN when undefined).
    pub p_value: f64,
}

/// Diebold–Mariano test on loss differentials `d` grouped by series (each group in time
/// order), for forecasts `h ≥ 1` steps ahead. Positive statistics favour the second model
/// of `d = loss_a − loss_b`.
pub fn diebold_mariano(groups: &[Vec<f64>], h: usize) -> DmTest {
    let h = h.max(1);
    let n: usize = groups.iter().map(Vec::len).sum();
    let nan = DmTest { n, mean: f64::NAN, statistic: f64::NAN, p_value: f64::NAN };
    if n < 2 {
        return nan;
    }
    let nf = n as f64;
    let mean = groups.iter().flatten().sum::<f64>() / nf;
    let gamma = |k: usize| -> f64 {
        let mut s = 0.0;
        for g in groups {
            for t in k..g.len() {
                s += (g[t] - mean) * (g[t - k] - mean);
            }
        }
        s / nf
    };
    let mut lrv = gamma(0);
    for k in 1..h {
        lrv += 2.0 * (1.0 - k as f64 / h as f64) * gamma(k);
    }
    if lrv.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return DmTest { mean, ..nan };
    }
    let hf = h as f64;
    let hln = ((nf + 1.0 - 2.0 * hf + hf * (hf - 1.0) / nf) / nf).sqrt();
    let statistic = mean / (lrv / nf).sqrt() * hln;
    let p_value = 2.0 * (1.0 - student_t_cdf(statistic.abs(), nf - 1.0));
    DmTest { n, mean, statistic, p_value }
}

/// CDF of Student's t with `df > 0` degrees of freedom:
/// `1 − ½ I_{df/(df+x²)}(df/2, ½)` for `x ≥ 0`, by symmetry below.
pub fn student_t_cdf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return if x > 0.0 { 1.0 } else { 0.0 };
    }
    let tail = 0.5 * incomplete_beta(df / (df + x * x), 0.5 * df, 0.5);
    if x >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Regularized incomplete beta `I_x(a, b)` (continued fraction, modified Lentz; Numerical
/// Recipes 3rd ed. §6.4).
pub fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() + b * (1.0 - x).ln() - ln_beta(a, b);
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(1.0 - x, b, a) / b
    }
}

fn beta_cf(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut s = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        s += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_cdf_matches_closed_forms_and_tables() {
        for x in [-30.0, -3.0, -1.0, -0.2, 0.0, 0.5, 1.0, 2.5, 12.0, 400.0] {
            // df = 1 is Cauchy, df = 2 has a closed form.
            let cauchy = 0.5 + f64::atan(x) / std::f64::consts::PI;
            assert!((student_t_cdf(x, 1.0) - cauchy).abs() < 1e-12, "df 1 at {x}");
            let two = 0.5 + x / (2.0 * (2.0 + x * x).sqrt());
            assert!((student_t_cdf(x, 2.0) - two).abs() < 1e-12, "df 2 at {x}");
        }
        // Quantile tables (e.g. Abramowitz & Stegun table 26.10): t_{0.975,10} = 2.228139,
        // t_{0.95,5} = 2.015048, t_{0.995,30} = 2.749996.
        for (q, x, df) in [(0.975, 2.228139, 10.0), (0.95, 2.015048, 5.0), (0.995, 2.749996, 30.0)]
        {
            assert!((student_t_cdf(x, df) - q).abs() < 2e-7, "t({x}, {df})");
        }
        // Large df tends to the normal: Φ(1.959964) = 0.975.
        assert!((student_t_cdf(1.959964, 1e7) - 0.975).abs() < 1e-6);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn dm_matches_a_hand_computation() {
        // Two groups, h = 2 (lag 1). d = [1, 3, 2] and [0, 4]: n = 5, mean = 2.
        // Deviations: [-1, 1, 0], [-2, 2].
        // γ0 = (1 + 1 + 0 + 4 + 4) / 5 = 2.
        // γ1 (within groups only) = ((1)(-1) + (0)(1) + (2)(-2)) / 5 = -1.
        // LRV = γ0 + 2 (1 − 1/2) γ1 = 1; DM = 2 / √(1/5) = 2√5.
        // HLN = √((5 + 1 − 4 + 2/5) / 5) = √0.48; statistic = 2√5 · √0.48 = √9.6.
        let t = diebold_mariano(&[vec![1.0, 3.0, 2.0], vec![0.0, 4.0]], 2);
        assert_eq!(t.n, 5);
        assert!((t.mean - 2.0).abs() < 1e-15);
        assert!((t.statistic - 9.6f64.sqrt()).abs() < 1e-12, "{}", t.statistic);
        // Two-sided p with 4 df: 2 (1 − F_4(√9.6)). With df = 4 the CDF has the closed form
        // F(x) = 1/2 + x (x² + 6) / (2 (x² + 4)^{3/2}).
        let x = 9.6f64.sqrt();
        let f4 = 0.5 + x * (x * x + 6.0) / (2.0 * (x * x + 4.0).powf(1.5));
        assert!((t.p_value - 2.0 * (1.0 - f4)).abs() < 1e-12, "{}", t.p_value);
        // h = 1: plain variance, HLN factor √((n − 1)/n).
        let t1 = diebold_mariano(&[vec![1.0, 3.0, 2.0], vec![0.0, 4.0]], 1);
        assert!((t1.statistic - 2.0 / (2.0f64 / 5.0).sqrt() * 0.8f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn dm_is_undefined_without_variance_or_data() {
        assert!(diebold_mariano(&[vec![1.0]], 1).statistic.is_nan());
        let t = diebold_mariano(&[vec![0.5, 0.5, 0.5]], 1);
        assert!(t.statistic.is_nan() && t.p_value.is_nan());
        assert!((t.mean - 0.5).abs() < 1e-15);
    }
}
