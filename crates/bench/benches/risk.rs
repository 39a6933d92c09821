//! Risk measures on 10⁶ P&L values (issue 6 target: < 50 ms each, sort included).
//!
//! `cargo bench -p volfit-bench --bench risk`

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use volfit::risk::{evaluate, RiskMeasure, Sample};

const N: usize = 1_000_000;
const SPECS: &str =
    "var:0.99,es:0.975,spectral-exp:10,spectral-pow:0.5,evar:0.95,entropic:0.5,oce-exp:0.5,oce-quad:0.1,oce-cvar:0.975,mdd";

/// Fat-tailed P&L: a normal with a 5 % chance of a 4× volatility regime (Box–Muller).
fn pnl(seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..N)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.random(), rng.random());
            let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let vol = if rng.random::<f64>() < 0.05 { 4.0 } else { 1.0 };
            0.05 + vol * z
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = pnl(7);
    let w: Vec<f64> = (0..N).map(|i| 1.0 + (i % 7) as f64).collect();
    let plain = Sample::new(x.clone()).expect("finite");
    let weighted = Sample::weighted(x, w).expect("valid");
    let measures = RiskMeasure::parse_list(SPECS).expect("valid specs");
    let mut g = c.benchmark_group("risk_1e6");
    g.sample_size(10);
    // Textbook baseline: comparison sort of all losses, then the tail average (unweighted,
    // fractional atom included).
    g.bench_function("baseline/es:0.975-float-sort", |b| {
        b.iter(|| {
            let mut l: Vec<f64> = plain.pnl().iter().map(|x| -x).collect();
            l.sort_unstable_by(f64::total_cmp);
            let tail = 0.025 * l.len() as f64;
            let whole = tail.floor() as usize;
            let top: f64 = l[l.len() - whole..].iter().sum();
            let frac = (tail - whole as f64) * l[l.len() - whole - 1];
            black_box((top + frac) / tail)
        })
    });
    for (name, sample) in [("plain", &plain), ("weighted", &weighted)] {
        g.bench_function(format!("{name}/sort"), |b| b.iter(|| black_box(sample.sorted())));
        for (spec, m) in &measures {
            g.bench_function(format!("{name}/{spec}"), |b| {
                b.iter(|| black_box(m.eval(sample).expect("valid")))
            });
        }
        let all: Vec<RiskMeasure> = measures.iter().map(|(_, m)| m.clone()).collect();
        g.bench_function(format!("{name}/all-10-one-sort"), |b| {
            b.iter(|| black_box(evaluate(sample, &all).expect("valid")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
