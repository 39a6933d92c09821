//! Cost of one model evaluation: Heston/Bates prices for one expiry of 40 strikes (shared
//! characteristic function), one Heston/Bates price with exact gradient, one SABR total
//! variance with gradient.

use criterion::{criterion_group, criterion_main, Criterion};
use num_complex::Complex64;
use std::hint::black_box;
use volfit::model::Bates;
use volfit::model::CharacteristicFn;
use volfit::model::Heston;
use volfit::model::Smile;
use volfit::model::{Sabr, SabrExpansion};

fn bench(c: &mut Criterion) {
    let h = Heston::new(0.4, 2.0, 0.5, 1.5, -0.3).expect("valid");
    let b = Bates::new(h, 2.0, -0.05, 0.15).expect("valid");
    let ks: Vec<f64> = (0..40).map(|i| -0.6 + 0.03 * f64::from(i)).collect();
    let mut out = vec![0.0; 40];
    let mut work = vec![Complex64::from(0.0); 40];
    c.bench_function("heston_40_strikes_t0.25", |bn| {
        bn.iter(|| h.call_prices(black_box(0.25), &ks, &mut out, &mut work))
    });
    c.bench_function("heston_price_grad_t0.25", |bn| {
        let mut g = [0.0; 5];
        bn.iter(|| h.call_price_grad(black_box(0.1), 0.25, &mut g))
    });
    c.bench_function("heston_40_strikes_w_grad_batch_t0.25", |bn| {
        let mut w = vec![0.0; 40];
        let mut g = vec![0.0; 200];
        let mut work = vec![volfit::model::Dual::constant(Complex64::from(0.0)); 40];
        bn.iter(|| h.total_variance_grad_batch(black_box(0.25), &ks, &mut w, &mut g, &mut work))
    });
    c.bench_function("bates_price_grad_t0.25", |bn| {
        let mut g = [0.0; 8];
        bn.iter(|| b.call_price_grad(black_box(0.1), 0.25, &mut g))
    });
    let s = Sabr::new(0.6, -0.2, 1.2, 1.0)
        .expect("valid")
        .smile(1.0, 0.25, SabrExpansion::Obloj2008)
        .expect("valid");
    c.bench_function("sabr_w_grad", |bn| {
        let mut g = [0.0; 4];
        bn.iter(|| s.total_variance_grad(black_box(0.1), &mut g))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
