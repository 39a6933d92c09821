//! `volfit synth` end to end: determinism, truth sidecar, atomic output, exit codes.

use std::process::Command;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

#[test]
fn synth_writes_chain_and_truth_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    for p in [&a, &b] {
        let out =
            volfit().args(["synth", "--seed", "7", "--quiet", "--out"]).arg(p).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (ta, tb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ta, tb, "same seed, same bytes");
    let header = String::from_utf8_lossy(&ta).lines().next().unwrap().to_string();
    assert!(header.starts_with("timestamp,instrument_name,underlying,"), "{header}");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a.csv.truth.json")).unwrap())
            .unwrap();
    assert_eq!(truth["spec"]["seed"], 7);
    assert!(truth["spec"]["truth"]["rho"].as_f64().unwrap() < 0.0);
    assert_eq!(truth["expiries"].as_array().unwrap().len(), 12);
}

#[test]
fn synth_to_stdout_and_errors_exit_2() {
    let out = volfit().args(["synth", "--out", "-"]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.len() > 10_000);
    let out = volfit().args(["synth", "--out", "/nonexistent-dir/x.csv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-dir/x.csv"), "{err}");
    let out = volfit().args(["synth", "--seed", "minus-one"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}
