//! `volfit report`, `volfit fit --report` and the end of `volfit demo`: the files they write
//! and their exit codes.

use std::path::Path;
use std::process::Command;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

fn synth(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("synth.csv");
    let out = volfit().args(["synth", "-q", "--out"]).arg(&p).output().expect("run synth");
    assert!(out.status.success());
    p
}

#[test]
fn fit_with_report_writes_traces_inputs_and_the_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let out_dir = dir.path().join("fit");
    let out = volfit()
        .args(["fit", "--model", "ssvi", "--loss", "huber:0.01", "-q", "--report", "--out"])
        .arg(&out_dir)
        .arg(&input)
        .output()
        .expect("run fit");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let traces: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("traces.json")).expect("traces"))
            .expect("traces.json parses");
    let first = &traces[0];
    assert_eq!(first["name"], "surface", "one surface trace");
    assert!(first["iterates"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(first["warnings"].is_array());
    let inputs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("inputs.json")).expect("inputs"))
            .expect("inputs.json parses");
    assert_eq!(inputs["files"].as_array().map(Vec::len), Some(1));
    assert_eq!(inputs["snapshots"][0]["underlying"], "BTC");
    let html = std::fs::read_to_string(out_dir.join("report.html")).expect("report.html");
    assert!(html.contains(r#"data-chart="smile""#) && html.contains(r#"data-chart="loss""#));

    // `volfit report DIR` rewrites it and prints its path.
    std::fs::remove_file(out_dir.join("report.html")).expect("remove");
    let out = volfit().arg("report").arg(&out_dir).output().expect("run report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.trim(), out_dir.join("report.html").display().to_string());
    assert!(out_dir.join("report.html").exists());
}

#[test]
fn report_on_a_directory_without_fit_json_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = volfit().arg("report").arg(dir.path()).output().expect("run report");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fit.json"), "{err}");
}

#[test]
fn demo_ends_with_the_report_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = volfit().args(["demo", "-q", "--out"]).arg(dir.path()).output().expect("run demo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for model in ["ssvi", "svi"] {
        let p = dir.path().join(format!("fit_{model}")).join("report.html");
        assert!(p.exists(), "{}", p.display());
        assert!(text.contains(&p.display().to_string()), "{text}");
    }
}
