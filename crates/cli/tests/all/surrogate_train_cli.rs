//! `volfit surrogate train` and `volfit fit --surrogate` end to end: a tiny net on tiny data
//! (seconds), its report files, and a net of another model refused naming file and field.

use std::path::Path;
use std::process::{Command, Output};

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = volfit();
    c.args(args);
    paths.iter().for_each(|p| {
        c.arg(p);
    });
    c.output().unwrap()
}

/// Data of `model` in `dir` and a tiny net trained on it at `net`; returns train's stderr.
fn tiny_net(model: &str, dir: &Path, net: &Path) -> String {
    let out = run(&["surrogate", "data", "--model", model, "--samples", "48", "--out"], &[dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut c = volfit();
    c.args(["surrogate", "train"]).arg(dir);
    c.args(["--hidden", "2x8", "--epochs", "5", "--batch", "8", "--lr", "0.003"]);
    c.args(["--validation-share", "0.25", "--seed", "1", "--out"]).arg(net);
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

#[test]
fn surrogate_train_writes_the_net_and_its_report() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net.safetensors");
    let err = tiny_net("heston", &tmp.path().join("data"), &net);
    // One line per epoch with both losses, then the summary.
    for e in 1..=5 {
        assert!(err.contains(&format!("epoch {e:>4}  train ")), "{err}");
    }
    assert!(err.contains("validation loss") && err.contains("held-out |IV error|"), "{err}");
    let bytes = std::fs::read(&net).unwrap();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4000)]).into_owned();
    for key in [
        "\\\"model\\\":\\\"heston\\\"",
        "\\\"box\\\"",
        "\\\"grid\\\"",
        "\\\"solver\\\":\\\"adam\\\"",
    ] {
        assert!(text.contains(key), "{key} not in header: {text}");
    }
    let csv = std::fs::read_to_string(tmp.path().join("net.training.csv")).unwrap();
    assert!(csv.starts_with("epoch,train_loss,val_loss,rate,grad_rms_layer0,"), "{csv}");
    assert_eq!(csv.lines().count(), 6);
    let grid = std::fs::read_to_string(tmp.path().join("net.grid_errors.csv")).unwrap();
    assert_eq!(grid.lines().count(), 89);
    let html = std::fs::read_to_string(tmp.path().join("net.report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("p99 |IV error|"));
    // Bad flags: exit 2 naming the flag.
    let out =
        run(&["surrogate", "train", "--hidden", "4xx", "--out", "x.safetensors"], &[tmp.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hidden"));
}

/// A synthetic chain (`volfit synth`, seed 42) in `dir`.
fn chain(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("chain.csv");
    let out = run(&["synth", "-q", "--out"], &[&p]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    p
}

#[test]
fn fit_through_a_net_of_another_model_is_refused_naming_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("bates.safetensors");
    tiny_net("bates", &tmp.path().join("data"), &net);
    let chain = chain(tmp.path());
    let fit_dir = tmp.path().join("fit");
    let out = run(
        &["fit", "--model", "heston", "--surrogate"],
        &[&net, &chain, Path::new("--out"), &fit_dir],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bates.safetensors") && err.contains("`model`"), "{err}");
    assert!(!fit_dir.exists());
    // --polish needs --surrogate.
    let out = run(
        &["fit", "--model", "heston", "--polish", "false"],
        &[&chain, Path::new("--out"), &fit_dir],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// The shipped default Heston net.
fn shipped_net() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/heston.safetensors")
}

fn fit_json(args: &[&str], chain: &Path, out: &Path) -> serde_json::Value {
    let mut c = volfit();
    c.args(["fit", "-q", "--model", "heston", "--warm-start", "none"]).args(args);
    c.arg("--out").arg(out).arg(chain);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(out.join("fit.json")).unwrap()).unwrap()
}

#[test]
fn fit_through_the_shipped_net_reaches_the_exact_fit_after_the_polish() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain(tmp.path());
    let net = shipped_net();
    let net_s = net.to_str().unwrap();
    let exact = fit_json(&[], &chain, &tmp.path().join("exact"));
    let polished = fit_json(&["--surrogate", net_s], &chain, &tmp.path().join("pol"));
    let raw =
        fit_json(&["--surrogate", net_s, "--polish", "false"], &chain, &tmp.path().join("raw"));
    let snap = |v: &serde_json::Value| v["snapshots"][0].clone();
    let loss = |v: &serde_json::Value| snap(v)["expiries"][0]["loss"].as_f64().unwrap();
    // Same fit.json fields, plus the surrogate stage; the spec echoes the net.
    assert_eq!(polished["spec"]["surrogate"]["path"], net_s);
    assert_eq!(polished["spec"]["surrogate"]["polish"], true);
    assert!(exact["spec"].get("surrogate").is_none() && snap(&exact).get("surrogate").is_none());
    let stage = snap(&polished)["surrogate"].clone();
    assert!(stage["quotes_on_grid"].as_u64().unwrap() >= 10, "{stage}");
    assert!(stage["quotes_off_grid"].as_u64().is_some(), "{stage}");
    assert_eq!(snap(&raw)["surrogate"]["polished"], false);
    // Scoring without a polish prices the exact vols once and no exact Jacobian.
    let work = &snap(&raw)["surrogate"]["exact_evaluations"];
    assert_eq!((work["vols"].as_u64(), work["jacobians"].as_u64()), (Some(1), Some(0)));
    assert_eq!(snap(&raw)["surrogate"]["std_errors_jacobian"], "net");
    // The polish ends where the exact fit does (same loss within 1 %); the unpolished
    // surrogate answer is scored exactly and can only be worse.
    assert!(loss(&polished) <= 1.01 * loss(&exact), "{} vs {}", loss(&polished), loss(&exact));
    assert!(loss(&raw) >= loss(&polished) * (1.0 - 1e-9), "{} vs {}", loss(&raw), loss(&polished));
}

#[test]
fn a_polish_tolerance_stops_the_polish_early_within_one_percent_of_the_rmse() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain(tmp.path());
    let net = shipped_net();
    let net_s = net.to_str().unwrap();
    let exact = fit_json(&[], &chain, &tmp.path().join("exact"));
    let full = fit_json(&["--surrogate", net_s], &chain, &tmp.path().join("full"));
    let loose =
        fit_json(&["--surrogate", net_s, "--polish-tol", "0.01"], &chain, &tmp.path().join("l"));
    let e = |v: &serde_json::Value, k: &str| v["snapshots"][0]["expiries"][0][k].as_f64().unwrap();
    assert_eq!(loose["spec"]["surrogate"]["polish_tol"], 0.01);
    assert!(full["spec"]["surrogate"].get("polish_tol").is_none());
    // Fewer exact iterations than the full polish, the same RMSE within 1 % (the loss, a
    // squared measure, within 2 %).
    assert!(e(&loose, "iterations") <= e(&full, "iterations"), "{loose} vs {full}");
    assert!(e(&loose, "rmse_vol") <= 1.01 * e(&exact, "rmse_vol"));
    assert!(e(&loose, "loss") <= 1.0201 * e(&exact, "loss"));
    // Out of (0, 1): exit 2 naming the flag.
    let out = run(
        &["fit", "--model", "heston", "--polish-tol", "2", "--surrogate", net_s, "--out"],
        &[&tmp.path().join("bad"), &chain],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--polish-tol"));
}
