//! Shared fixtures: small networks and datasets.

use volfit_nn::{Activation, Architecture, Dataset, Init, Mlp};

/// `f(x, y) = sin(x)·y` sampled on an `n × n` grid of `[−1, 1]²` (the function of the issue's
/// tests), row-major.
pub fn sin_times_y(n: usize) -> Dataset {
    let mut inputs = Vec::with_capacity(2 * n * n);
    let mut targets = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let x = -1.0 + 2.0 * i as f64 / (n - 1) as f64;
            let y = -1.0 + 2.0 * j as f64 / (n - 1) as f64;
            inputs.extend([x, y]);
            targets.push(x.sin() * y);
        }
    }
    Dataset::new(inputs, targets, 2, 1).unwrap()
}

/// A deterministic pseudo-random dataset of `n` samples (a fixed LCG, no dependency).
pub fn random_data(n: usize, n_in: usize, n_out: usize, seed: u64) -> Dataset {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let inputs: Vec<f64> = (0..n * n_in).map(|_| next()).collect();
    let targets: Vec<f64> = (0..n * n_out).map(|_| next()).collect();
    Dataset::new(inputs, targets, n_in, n_out).unwrap()
}

/// A small network and seeded parameters.
pub fn small(
    act: Activation,
    hidden: &[usize],
    n_in: usize,
    n_out: usize,
    seed: u64,
) -> (Mlp, Vec<f64>) {
    let mut arch = Architecture::new(n_in, hidden, n_out, act);
    arch.output_activation = Activation::Identity;
    let mlp = Mlp::new(arch).unwrap();
    let mut p = mlp.init_params(Init::Glorot, seed);
    // Non-zero biases so that every bias gradient is exercised.
    for (k, v) in p.iter_mut().enumerate() {
        if *v == 0.0 {
            *v = 0.05 * ((k % 7) as f64 - 3.0);
        }
    }
    (mlp, p)
}

/// Root-mean-square error of `net`'s predictions on `data` (physical units).
pub fn rmse(net: &volfit_nn::Network, data: &Dataset) -> f64 {
    let mut ws = net.mlp().workspace(data.len());
    let mut out = vec![0.0; data.len() * data.num_outputs()];
    net.predict(data.inputs(), &mut ws, &mut out);
    let se: f64 = out.iter().zip(data.targets()).map(|(p, y)| (p - y) * (p - y)).sum();
    (se / out.len() as f64).sqrt()
}
