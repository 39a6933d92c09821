//! Quasi-explicit SVI (De Marco–Martini) on real BTC slices: time per slice and fit RMSE.
//!
//! Slices: one svcj_deribit_2026 snapshot, BTC, out-of-the-money mark IVs per expiry
//! (≥ 8 quotes). Skips with a notice when the data folder is absent.

use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Read;
use std::path::Path;
use volfit::model::quasi_explicit_fit;
use volfit::model::Smile;

type Slice = (f64, Vec<f64>, Vec<f64>);

fn load_slices() -> Option<Vec<Slice>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/svcj_deribit_2026/deribit_options_snapshot_20260105T041127Z.csv.gz",
    );
    let file = std::fs::File::open(&path).ok()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).ok()?;
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().ok()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (c_cur, c_f, c_type, c_k, c_t, c_iv) = (
        col("currency")?,
        col("underlying")?,
        col("option_type")?,
        col("strike")?,
        col("time_to_maturity")?,
        col("implied_volatility")?,
    );
    let mut by_t: BTreeMap<u64, Slice> = BTreeMap::new();
    for rec in rdr.records().flatten() {
        if &rec[c_cur] != "BTC" {
            continue;
        }
        let parse = |i: usize| rec[i].parse::<f64>().ok();
        let (Some(f), Some(k), Some(t), Some(iv)) =
            (parse(c_f), parse(c_k), parse(c_t), parse(c_iv))
        else {
            continue;
        };
        let call = &rec[c_type] == "call";
        // Out-of-the-money side only.
        if (call && k < f)
            || (!call && k >= f)
            || iv.is_nan()
            || iv <= 0.0
            || t.is_nan()
            || t <= 0.0
        {
            continue;
        }
        let e = by_t.entry(t.to_bits()).or_insert((t, Vec::new(), Vec::new()));
        e.1.push((k / f).ln());
        e.2.push(iv * iv * t);
    }
    Some(by_t.into_values().filter(|s| s.1.len() >= 8).collect())
}

fn bench(c: &mut Criterion) {
    let Some(slices) = load_slices() else {
        eprintln!("real data not found; skipping svi_quasi_explicit bench");
        return;
    };
    let quotes: usize = slices.iter().map(|s| s.1.len()).sum();
    eprintln!("{} BTC slices, {} quotes", slices.len(), quotes);
    for (t, ks, ws) in &slices {
        let wts = vec![1.0; ks.len()];
        match quasi_explicit_fit(ks, ws, &wts) {
            Ok(fit) => {
                let rmse = (ks
                    .iter()
                    .zip(ws)
                    .map(|(&k, &w)| (fit.implied_vol(k, *t) - (w / t).sqrt()).powi(2))
                    .sum::<f64>()
                    / ks.len() as f64)
                    .sqrt();
                let mut grid = [0.0; 301];
                volfit::model::fill_grid(-3.0, 3.0, &mut grid);
                let fly = volfit::model::check_butterfly(&fit, *t, &grid);
                eprintln!(
                    "t={t:.4} n={} rmse_vol_pts={:.3} butterfly_ok={}",
                    ks.len(),
                    100.0 * rmse,
                    fly.is_none()
                );
            }
            Err(e) => eprintln!("t={t:.4}: {e}"),
        }
    }
    c.bench_function("svi_quasi_explicit_all_btc_slices", |b| {
        b.iter(|| {
            for (_, ks, ws) in &slices {
                let wts = [1.0; 256];
                let n = ks.len().min(256);
                black_box(quasi_explicit_fit(&ks[..n], &ws[..n], &wts[..n]).ok());
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
