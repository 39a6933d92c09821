//! Training speed of volfit-nn against PyTorch CPU (issue 18): the same network, data,
//! batch size, Adam settings, epochs and starting weights on both sides.
//!
//! ```text
//! nn_train gen --out heston.csv [--samples 8192]        # Heston IV grids at Sobol points
//! nn_train train --data heston.csv [--epochs 30] [--batch 32] [--lr 1e-3] [--hidden 4x64]
//!          [--init init.safetensors]                    # also writes the starting weights
//! python3 crates/bench/peers/nn_train_torch.py --data heston.csv --init init.safetensors
//! ```
//!
//! Data: Heston (v0, κ, θ, σ, ρ) at scrambled-free Sobol points of the library's default
//! Heston box ([`SampleModel::default_box`]), priced by volfit's exact Heston pricer on the
//! default surrogate grid ([`Grid::default`]: 8 maturities, 1 day to 1 year, × 11 strikes
//! `k = z·√t`, `z ∈ [−1, 1]`) with [`price_surface`], stored as implied vols: 5 inputs →
//! 88 outputs, one CSV row per sample (`v0,kappa,theta,sigma,rho,iv_0..iv_87`). Samples
//! whose grid has a NaN vol are skipped and counted. Training/validation split: every 5th sample (index % 5 == 4) is
//! validation, on both sides; inputs and outputs are normalised by the training mean and
//! population standard deviation, on both sides.
//!
//! Prints one JSON line: samples/s (training steps only: epochs × training samples over the
//! wall time of the epochs, validation excluded), validation MSE (normalised units) and
//! validation RMSE in vol points, load average.
//!
//! Measured 2026-12-05 (2 cores shared, load average ≈ 10.7; 8192 samples, 30 epochs, batch
//! 32, Adam 1e-3, seed 0, 3 pairs in alternating order): volfit-nn f64 median 38,390
//! samples/s, PyTorch 2.15 f32 12,212 samples/s (3.1×); PyTorch f64 14,134 (one run).
//! Validation MSE (normalised) over seeds 0–5: volfit-nn mean 0.00193, PyTorch 0.00194 —
//! equal within the seed-to-seed spread (0.0016–0.0022 on both sides).
//! Re-measured 2026-12-05 evening at load ≈ 1.1 (same settings, `--pairs 3`): volfit-nn
//! median 157,378 samples/s, PyTorch 2.15 f32 43,582 (3.61×); validation MSE 0.00172
//! against 0.00220.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use volfit::io::write_atomic;
use volfit::model::Heston;
use volfit::surrogate::{price_surface, Grid, SampleModel};
use volfit_bench::args::{arg, num};
use volfit_nn::{
    Activation, Architecture, Dataset, Init, Network, Normalization, Precision, Regression,
};
use volfit_optim::loss::{Scaled, Squared};
use volfit_optim::{Adam, Epochs, MiniBatch, Sobol, StochasticObjective};

/// Grid points per sample (the library's default surrogate grid, 8 maturities × 11 strikes).
const OUTPUTS: usize = 88;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("gen") => generate(&args),
        Some("train") => train(&args),
        _ => Err("usage: nn_train gen --out FILE [--samples N] | train --data FILE [...]".into()),
    };
    if let Err(e) = result {
        eprintln!("nn_train: {e}");
        std::process::exit(2);
    }
}

/// One Heston IV grid (88 vols) at `p` on the library's default surrogate grid, or `None`
/// when the parameters are invalid or a vol is not finite.
fn grid(p: &[f64], g: &Grid, out: &mut [f64]) -> Option<()> {
    let h = Heston::new(p[0], p[1], p[2], p[3], p[4]).ok()?;
    (price_surface(&h, g, out) == 0).then_some(())
}

fn generate(args: &[String]) -> Result<(), String> {
    let out = arg(args, "--out").ok_or("gen needs --out FILE")?;
    let n: usize = num(args, "--samples", 8192)?;
    let (g, bounds) = (Grid::default(), SampleModel::Heston.default_box());
    let mut sobol = Sobol::new(5).map_err(|e| e.to_string())?;
    let (mut u, mut p, mut ivs) = ([0.0; 5], [0.0; 5], vec![0.0; g.len()]);
    sobol.next_into(&mut u); // skip the origin (a corner of the box)
    let mut text = String::new();
    let (mut kept, mut skipped) = (0, 0);
    let t0 = Instant::now();
    while kept < n {
        sobol.next_into(&mut u);
        for i in 0..5 {
            p[i] = bounds.lower[i] + u[i] * (bounds.upper[i] - bounds.lower[i]);
        }
        if grid(&p, &g, &mut ivs).is_none() {
            skipped += 1;
            continue;
        }
        let row: Vec<String> = p.iter().chain(&ivs).map(|v| format!("{v:e}")).collect();
        text.push_str(&row.join(","));
        text.push('\n');
        kept += 1;
    }
    write_file(&out, text.as_bytes())?;
    eprintln!(
        "{out}: {kept} samples ({skipped} skipped: a non-finite vol) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load(path: &str) -> Result<Dataset, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (line, row) in text.lines().enumerate() {
        let v: Result<Vec<f64>, _> = row.split(',').map(str::parse).collect();
        let v = v.map_err(|e| format!("{path}:{}: {e}", line + 1))?;
        if v.len() != 5 + OUTPUTS {
            return Err(format!("{path}:{}: {} fields, expected 93", line + 1, v.len()));
        }
        x.extend_from_slice(&v[..5]);
        y.extend_from_slice(&v[5..]);
    }
    Dataset::new(x, y, 5, OUTPUTS).map_err(|e| format!("{path}: {e}"))
}

fn hidden(spec: &str) -> Result<Vec<usize>, String> {
    let (n, w) =
        spec.split_once('x').ok_or_else(|| format!("--hidden {spec:?}: expected DEPTHxWIDTH"))?;
    let (n, w): (usize, usize) =
        (n.parse().map_err(|_| "--hidden depth")?, w.parse().map_err(|_| "--hidden width")?);
    Ok(vec![w; n])
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn train(args: &[String]) -> Result<(), String> {
    let data = load(&arg(args, "--data").ok_or("train needs --data FILE")?)?;
    let epochs: u32 = num(args, "--epochs", 30)?;
    let batch: usize = num(args, "--batch", 32)?;
    let lr: f64 = num(args, "--lr", 1e-3)?;
    let seed: u64 = num(args, "--seed", 0)?;
    let arch = Architecture::new(
        5,
        &hidden(&num(args, "--hidden", "4x64".to_string())?)?,
        OUTPUTS,
        Activation::Elu,
    );
    let (train, val) = data.split_every(5);
    let mut net = Network::init(arch, Init::He, seed).map_err(|e| e.to_string())?;
    net.set_normalization(Normalization::fit(&train)).map_err(|e| e.to_string())?;
    if let Some(path) = arg(args, "--init") {
        let bytes =
            net.to_safetensors(Precision::F64, None, BTreeMap::new()).map_err(|e| e.to_string())?;
        write_file(&path, &bytes)?;
    }
    let norm = net.normalization().clone();
    let (tn, vn) = (
        train.normalized(&norm).map_err(|e| e.to_string())?,
        val.normalized(&norm).map_err(|e| e.to_string())?,
    );
    let mlp = net.mlp().clone();
    // ½·(2/88)·Σ_o r² per sample: the mean of r² over outputs, PyTorch's MSELoss.
    let mse = Scaled::new(2.0 / OUTPUTS as f64, Squared).map_err(|e| e.to_string())?;
    let reg = Regression::new(&mlp, &tn, mse, batch).map_err(|e| e.to_string())?;
    let vreg = Regression::new(&mlp, &vn, mse, 1024).map_err(|e| e.to_string())?;
    let spec = Epochs { epochs, batch_size: batch, seed, ..Epochs::default() };
    let adam = Adam { lr, ..Adam::default() };
    let t0 = Instant::now();
    let t = adam.train(&reg, net.params(), &spec, None, &mut (), &mut ());
    let secs = t0.elapsed().as_secs_f64();
    net.params_mut().copy_from_slice(&t.minimum.x);
    let val_mse = vreg.mean_value(net.params(), 1024).ok_or("validation loss not finite")?;
    let report = serde_json::json!({
        "side": "volfit-nn f64",
        "epochs": epochs, "batch": batch, "lr": lr, "n_train": train.len(), "n_val": val.len(),
        "params": mlp.num_params(),
        "train_seconds": secs,
        "samples_per_s": f64::from(epochs) * train.len() as f64 / secs.max(1e-9),
        "val_mse_normalised": val_mse,
        "val_rmse_vol_pts": 100.0 * val_rmse(&net, &val),
        "loadavg": load_average(),
    });
    println!("{report}");
    Ok(())
}

/// Validation RMSE of the implied vols, physical units.
fn val_rmse(net: &Network, val: &Dataset) -> f64 {
    let mut ws = net.mlp().workspace(val.len());
    let mut out = vec![0.0; val.targets().len()];
    net.predict(val.inputs(), &mut ws, &mut out);
    let se: f64 = out.iter().zip(val.targets()).map(|(p, y)| (p - y) * (p - y)).sum();
    (se / out.len() as f64).sqrt()
}

fn write_file(path: &str, bytes: &[u8]) -> Result<(), String> {
    write_atomic(Path::new(path), |w| w.write_all(bytes))
        .map_err(|e: std::io::Error| format!("{path}: {e}"))
}
