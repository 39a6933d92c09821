//! `volfit fit --model rbergomi --surrogate NET` end to end with the shipped net: fit.json's
//! usual fields plus the surrogate stage (no polish, no exact pricer); without --surrogate,
//! with another model's net, or with `--polish true`, exit 2 naming what is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn volfit(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_volfit"));
    c.args(args);
    paths.iter().for_each(|p| {
        c.arg(p);
    });
    c.output().unwrap()
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name)
}

/// A synthetic chain (`volfit synth`, seed 42) in `dir`.
fn chain(dir: &Path) -> PathBuf {
    let p = dir.join("chain.csv");
    let out = volfit(&["synth", "-q", "--out"], &[&p]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    p
}

#[test]
fn fit_rbergomi_through_the_shipped_net_writes_the_usual_fit_json() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain(tmp.path());
    let net = shipped("rbergomi.safetensors");
    let dir = tmp.path().join("fit");
    let out = volfit(
        &["fit", "-q", "--model", "rbergomi", "--surrogate"],
        &[&net, &chain, Path::new("--out"), &dir],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fit.json")).unwrap()).unwrap();
    assert_eq!(fit["spec"]["model"], "rbergomi");
    assert_eq!(fit["spec"]["surrogate"]["polish"], false);
    let snap = &fit["snapshots"][0];
    assert_eq!(snap["model"], "rbergomi");
    let p = &snap["surface_params"];
    for name in ["hurst", "eta", "rho", "xi0"] {
        assert!(p[name].as_f64().is_some_and(f64::is_finite), "{name}: {p}");
    }
    let stage = &snap["surrogate"];
    assert_eq!(stage["polished"], false);
    assert_eq!(stage["exact_pricer"], false);
    assert!(stage["quotes_on_grid"].as_u64().unwrap() >= 20, "{stage}");
    let e = &snap["expiries"][0];
    for field in ["rmse_vol", "inside_spread", "loss", "time_us", "converged", "arbitrage"] {
        assert!(e.get(field).is_some(), "{field} missing: {e}");
    }
    let rows = std::fs::read_to_string(dir.join("residuals.csv")).unwrap();
    assert_eq!(rows.lines().count() as u64, 1 + stage["quotes_on_grid"].as_u64().unwrap());
}

#[test]
fn fit_rbergomi_without_its_net_or_with_another_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain(tmp.path());
    let dir = tmp.path().join("fit");
    let fail = |args: &[&str], paths: &[&Path]| {
        let out = volfit(args, paths);
        assert_eq!(out.status.code(), Some(2));
        assert!(!dir.exists());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = fail(&["fit", "--model", "rbergomi"], &[&chain, Path::new("--out"), &dir]);
    assert!(err.contains("--model rbergomi needs --surrogate NET"), "{err}");
    let heston = shipped("heston.safetensors");
    let err = fail(
        &["fit", "--model", "rbergomi", "--surrogate"],
        &[&heston, &chain, Path::new("--out"), &dir],
    );
    assert!(err.contains("heston.safetensors") && err.contains("`model`"), "{err}");
    let rb = shipped("rbergomi.safetensors");
    let err = fail(
        &["fit", "--model", "heston", "--surrogate"],
        &[&rb, &chain, Path::new("--out"), &dir],
    );
    assert!(err.contains("rbergomi.safetensors") && err.contains("`model`"), "{err}");
    let err = fail(
        &["fit", "--model", "rbergomi", "--polish", "true", "--surrogate"],
        &[&rb, &chain, Path::new("--out"), &dir],
    );
    assert!(err.contains("--polish true") && err.contains("no exact pricer"), "{err}");
}
