//! `volfit surrogate data` end to end: files, resume, spec mismatch, bad flags.

use std::process::Command;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

fn data(dir: &std::path::Path, seed: &str) -> std::process::Output {
    volfit()
        .args(["surrogate", "data", "--model", "bates", "--samples", "7", "--chunk", "3"])
        .args(["--seed", seed, "--threads", "2", "--out"])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn surrogate_data_writes_resumable_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = data(&dir, "3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("3 chunks written, 0 already present"), "{err}");
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["model"], "bates");
    assert_eq!(spec["samples"], 7);
    assert_eq!(spec["params"].as_array().unwrap().len(), 8);
    let last = std::fs::read(dir.join("chunk-00002.csv.gz")).unwrap();
    std::fs::remove_file(dir.join("chunk-00002.csv.gz")).unwrap();
    let out = data(&dir, "3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 chunks written, 2 already present"), "{err}");
    assert_eq!(std::fs::read(dir.join("chunk-00002.csv.gz")).unwrap(), last);
    // Another seed into the same directory: an error naming the key, exit 2.
    let out = data(&dir, "4");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.json") && err.contains("`seed`"), "{err}");
}

#[test]
fn surrogate_data_rejects_unknown_models_and_zero_samples() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [["--model", "sabr", "--samples", "2"], ["--model", "heston", "--samples", "0"]] {
        let out = volfit()
            .args(["surrogate", "data"])
            .args(bad)
            .arg("--out")
            .arg(tmp.path().join("x"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(!tmp.path().join("x").exists());
    }
}

#[test]
fn surrogate_data_rbergomi_stores_errors_and_its_monte_carlo_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rb");
    let out = volfit()
        .args(["surrogate", "data", "--model", "rbergomi", "--samples", "3", "--seed", "2"])
        .args(["--paths", "64", "--steps", "4", "--chunk", "2", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("2 chunks written"), "{err}");
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["model"], "rbergomi");
    assert_eq!((spec["mc"]["paths"].as_u64(), spec["mc"]["steps"].as_u64()), (Some(64), Some(4)));
    let spec: volfit::surrogate::DataSpec = serde_json::from_value(spec).unwrap();
    let rows = volfit::surrogate::read_chunk(&spec, &dir.join("chunk-00000.csv.gz")).unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let errs = row.errs.unwrap();
        assert_eq!((row.params.len(), row.ivs.len(), errs.len()), (4, 88, 88));
        assert!(errs.iter().all(|e| *e > 0.0 && e.is_finite()));
    }
    // Monte Carlo flags on an exact model: exit 2 naming them.
    let out = volfit()
        .args(["surrogate", "data", "--model", "heston", "--samples", "2", "--paths", "64"])
        .arg("--out")
        .arg(tmp.path().join("h"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--paths"));
}
