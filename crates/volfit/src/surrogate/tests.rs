//! Surrogate data: serialisation, exact reference pricing, resumability, spec mismatch.

use super::*;
use crate::model::{Heston, Surface};
use std::path::Path;

fn none(_: u64) {}

fn run(spec: &DataSpec, dir: &Path) -> Summary {
    generate(spec, dir, &none).unwrap()
}

#[test]
fn grid_and_spec_round_trip_through_json() {
    let spec = DataSpec::new(SampleModel::Bates, 100, 7, 32);
    let text = serde_json::to_string(&spec).unwrap();
    let back: DataSpec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
    assert_eq!(back.grid.len(), 88);
    assert_eq!(back.bounds.dim(), 8);
    let g: Grid = serde_json::from_str(&serde_json::to_string(&Grid::default()).unwrap()).unwrap();
    assert_eq!(g, Grid::default());
    assert!(text.contains("\"model\":\"bates\""), "{text}");
}

#[test]
fn sampler_restarts_at_any_index_and_stays_in_the_box() {
    let b = SampleModel::Heston.default_box();
    let mut all = Sampler::new(&b, 3, 0).unwrap();
    let mut seq = vec![[0.0; 5]; 20];
    for p in seq.iter_mut() {
        all.next_into(p);
        for (j, x) in p.iter().enumerate() {
            assert!(*x >= b.lower[j] && *x < b.upper[j]);
        }
    }
    let mut late = Sampler::new(&b, 3, 13).unwrap();
    let mut p = [0.0; 5];
    late.next_into(&mut p);
    assert_eq!(p, seq[13]);
    // Another seed, another shift.
    let mut other = Sampler::new(&b, 4, 0).unwrap();
    other.next_into(&mut p);
    assert_ne!(p, seq[0]);
}

#[test]
fn stored_surface_equals_direct_exact_pricing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DataSpec::new(SampleModel::Heston, 6, 11, 4);
    let sum = run(&spec, dir.path());
    assert_eq!(sum.kept + sum.skipped, 6);
    let rows = read_chunk(&spec, &dir.path().join("chunk-00001.csv.gz")).unwrap();
    let Row { index, params: p, ivs, errs } = rows.last().unwrap();
    assert!(errs.is_none());
    assert!(*index >= 4);
    // Reference: the single-strike Heston pricer (its own quadrature panels) at each
    // grid point, iv = √(w/t).
    let h = Heston::new(p[0], p[1], p[2], p[3], p[4]).unwrap();
    let g = &spec.grid;
    for (i, &t) in g.maturities.iter().enumerate() {
        for (j, z) in g.z.iter().enumerate() {
            let want = (h.total_variance(z * t.sqrt(), t) / t).sqrt();
            let got = ivs[i * g.z.len() + j];
            assert!((got - want).abs() < 1e-9, "t {t} z {z}: {got} vs {want}");
        }
    }
}

#[test]
fn bates_surface_has_the_heston_limit_without_jumps() {
    let h = Heston::new(0.3, 2.0, 0.4, 1.0, -0.4).unwrap();
    let b = crate::model::Bates::new(h, 0.0, -0.1, 0.2).unwrap();
    let g = Grid::default();
    let (mut a, mut c) = (vec![0.0; g.len()], vec![0.0; g.len()]);
    assert_eq!(price_surface(&h, &g, &mut a), 0);
    assert_eq!(price_surface(&b, &g, &mut c), 0);
    for (x, y) in a.iter().zip(&c) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
}

#[test]
fn resumed_run_is_byte_identical_to_an_uninterrupted_one() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let spec = DataSpec::new(SampleModel::Bates, 10, 5, 3);
    let full = run(&spec, a.path());
    assert_eq!((full.chunks_written, full.chunks_present), (4, 0));
    run(&spec, b.path());
    // Kill-simulate: the last chunk and one in the middle never landed.
    std::fs::remove_file(b.path().join("chunk-00003.csv.gz")).unwrap();
    std::fs::remove_file(b.path().join("chunk-00001.csv.gz")).unwrap();
    let resumed = run(&spec, b.path());
    assert_eq!((resumed.chunks_written, resumed.chunks_present), (2, 2));
    assert_eq!((resumed.kept, resumed.skipped), (full.kept, full.skipped));
    for name in ["spec.json", "chunk-00000.csv.gz", "chunk-00001.csv.gz", "chunk-00003.csv.gz"] {
        let (x, y) = (
            std::fs::read(a.path().join(name)).unwrap(),
            std::fs::read(b.path().join(name)).unwrap(),
        );
        assert_eq!(x, y, "{name}");
    }
    // A last chunk of 10 − 9 = 1 sample.
    let last = read_chunk(&spec, &a.path().join("chunk-00003.csv.gz")).unwrap();
    assert!(last.len() <= 1 && last.iter().all(|r| r.index == 9));
}

#[test]
fn a_different_spec_in_the_directory_is_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    run(&DataSpec::new(SampleModel::Heston, 4, 1, 4), dir.path());
    let err = generate(&DataSpec::new(SampleModel::Heston, 4, 2, 4), dir.path(), &none)
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.json") && err.contains("`seed`") && err.contains("is 1"), "{err}");
    let err = generate(&DataSpec::new(SampleModel::Bates, 4, 1, 4), dir.path(), &none)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`model`"), "{err}");
}

#[test]
fn invalid_specs_and_failing_samples_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = DataSpec::new(SampleModel::Heston, 4, 1, 0);
    assert!(matches!(generate(&spec, dir.path(), &none), Err(DataError::Spec(_))));
    spec.chunk = 4;
    spec.bounds.lower[0] = 2.0; // above the upper corner
    assert!(matches!(generate(&spec, dir.path(), &none), Err(DataError::Spec(_))));
    // A box where ρ crosses −1 has invalid parameter sets: counted and skipped, not kept.
    let mut spec = DataSpec::new(SampleModel::Heston, 16, 1, 8);
    spec.bounds.lower[4] = -3.0;
    let sum = run(&spec, dir.path());
    assert!(sum.skipped > 0 && sum.kept + sum.skipped == 16, "{sum:?}");
    let rows = read_chunk(&spec, &dir.path().join("chunk-00000.csv.gz")).unwrap();
    assert!(rows.iter().all(|r| r.params[4] > -1.0 && r.ivs.iter().all(|v| v.is_finite())));
}

/// A small rough Bergomi data set: 5 samples, chunks of 2, 64 paths, 4 steps per maturity.
fn rbergomi_spec() -> DataSpec {
    let mut spec = DataSpec::new(SampleModel::RBergomi, 5, 9, 2);
    let mc = spec.mc.as_mut().unwrap();
    (mc.paths, mc.steps) = (64, 4);
    spec
}

#[test]
fn rbergomi_rows_carry_standard_errors_and_match_direct_pricing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = rbergomi_spec();
    let sum = run(&spec, dir.path());
    assert_eq!((sum.kept + sum.skipped, sum.chunks_written), (5, 3));
    let text = std::fs::read_to_string(dir.path().join(SPEC_FILE)).unwrap();
    assert!(text.contains("\"mc\"") && text.contains("\"paths\": 64"), "{text}");
    let rows = read_chunk(&spec, &dir.path().join("chunk-00001.csv.gz")).unwrap();
    let row = rows.last().unwrap();
    let errs = row.errs.as_ref().unwrap();
    assert_eq!((row.ivs.len(), errs.len()), (88, 88));
    assert!(errs.iter().all(|e| e.is_finite() && *e > 0.0));
    // The stored surface is the pricer's at the sample's own seed, bit for bit.
    let m = <crate::model::RBergomi as crate::model::Params>::from_slice(&row.params).unwrap();
    let g = &spec.grid;
    let mut ks = vec![0.0; g.len()];
    for (i, r) in ks.chunks_exact_mut(g.z.len()).enumerate() {
        g.strikes_into(i, r);
    }
    let mc = crate::model::McConfig { paths: 64, steps: 4, seed: surface_seed(9, row.index) };
    let mut ws = crate::model::McWorkspace::default();
    m.price_grid(&mc, &g.maturities, &ks, &mut ws).unwrap();
    assert_eq!(ws.iv(), &row.ivs[..]);
    assert_eq!(ws.iv_se(), &errs[..]);
}

#[test]
fn rbergomi_data_resume_is_byte_identical_and_thread_count_independent() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let spec = rbergomi_spec();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    one.install(|| run(&spec, a.path()));
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    two.install(|| run(&spec, b.path()));
    std::fs::remove_file(b.path().join("chunk-00001.csv.gz")).unwrap();
    let resumed = two.install(|| run(&spec, b.path()));
    assert_eq!((resumed.chunks_written, resumed.chunks_present), (1, 2));
    for name in ["spec.json", "chunk-00000.csv.gz", "chunk-00001.csv.gz", "chunk-00002.csv.gz"] {
        let (x, y) = (
            std::fs::read(a.path().join(name)).unwrap(),
            std::fs::read(b.path().join(name)).unwrap(),
        );
        assert_eq!(x, y, "{name}");
    }
    // Other Monte Carlo settings are another data set.
    let mut other = spec.clone();
    other.mc.as_mut().unwrap().paths = 128;
    let err = generate(&other, a.path(), &none).unwrap_err().to_string();
    assert!(err.contains("`mc`"), "{err}");
}

#[test]
fn monte_carlo_settings_belong_to_monte_carlo_models_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = DataSpec::new(SampleModel::Heston, 4, 1, 4);
    assert!(spec.mc.is_none());
    assert!(!serde_json::to_string(&spec).unwrap().contains("\"mc\""));
    spec.mc = Some(McSpec::default());
    assert!(matches!(generate(&spec, dir.path(), &none), Err(DataError::Spec(_))));
    let mut spec = rbergomi_spec();
    spec.mc.as_mut().unwrap().paths = 7;
    let err = generate(&spec, dir.path(), &none).unwrap_err().to_string();
    assert!(err.contains("paths"), "{err}");
    spec.mc = None;
    assert!(matches!(generate(&spec, dir.path(), &none), Err(DataError::Spec(_))));
}
