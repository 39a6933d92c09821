//! `volfit risk` end to end: the built binary on small CSV files and on standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn volfit(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn volfit");
    if let Some(text) = stdin {
        // The binary may reject its arguments and exit before reading standard input; a
        // broken pipe then is expected, and the exit status and stderr tell the story.
        match child.stdin.take().expect("piped stdin").write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("write stdin"),
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait volfit")
}

fn write_csv(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write csv");
    path.to_string_lossy().into_owned()
}

#[test]
fn prints_one_line_per_measure_in_order() {
    // P&L 2, 0, −1, −3 (losses −2, 0, 1, 3), by hand: VaR_0.75 = 1, ES_0.5 = 2, the path
    // 0 → 2 → 2 → 1 → −2 has drawdown 4; entropic as ln E[e^{L}] =
    // ln((e^{−2} + 1 + e + e³)/4).
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write_csv(&dir, "pnl.csv", "day,pnl\n1,2\n2,0\n3,-1\n4,-3\n");
    let out = volfit(&["risk", &csv, "--measure", "var:0.75,es:0.5,mdd,entropic:1"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..3], &["var:0.75 1", "es:0.5 2", "mdd 4"]);
    let (name, value) = lines[3].split_once(' ').expect("name value");
    assert_eq!(name, "entropic:1");
    let expected = (((-2.0f64).exp() + 1.0 + 1f64.exp() + 3f64.exp()) / 4.0).ln();
    assert!((value.parse::<f64>().expect("number") - expected).abs() < 1e-12);
}

#[test]
fn json_from_stdin_with_weights() {
    // Weighted: P&L 1 (w 1), −2 (w 1), 3 (w 2), −5 (w 0.5) → probabilities w/4.5. Losses by
    // size: 5 (1/9), 2 (2/9), −1 (2/9), −3 (4/9); by hand ES_0.5 =
    // (5·1/9 + 2·2/9 − 1·(0.5 − 3/9)) / 0.5 = 5/3.
    let input = "pnl,w\n1,1\n-2,1\n3,2\n-5,0.5\n";
    let out = volfit(
        &["risk", "-", "--weights-column", "w", "--json", "-m", "es:0.5,var:0.9"],
        Some(input),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["n"], 4);
    assert_eq!(doc["weighted"], true);
    assert!(doc["convention"].as_str().expect("string").contains("losses are negative P&L"));
    let es = doc["measures"]["es:0.5"].as_f64().expect("number");
    assert!((es - 5.0 / 3.0).abs() < 1e-12, "{es}");
    assert_eq!(doc["measures"]["var:0.9"].as_f64(), Some(5.0));
}

#[test]
fn writes_atomically_to_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write_csv(&dir, "pnl.csv", "pnl\n-1\n1\n");
    let dest = dir.path().join("risk.txt");
    let out = volfit(
        &["risk", &csv, "-m", "es:0.5", "--out", dest.to_str().expect("utf8 path"), "-q"],
        None,
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&dest).expect("written"), "es:0.5 1\n");
}

fn assert_error(out: &Output, parts: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "exit code 2 on error");
    let err = String::from_utf8_lossy(&out.stderr);
    for p in parts {
        assert!(err.contains(p), "stderr `{err}` lacks `{p}`");
    }
}

#[test]
fn errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write_csv(&dir, "bad.csv", "pnl,w\n1,1\n2,1\nabc,1\n");
    assert_error(
        &volfit(&["risk", &bad], None),
        &["bad.csv", "line 4", "field `pnl`", "not a number: `abc`"],
    );
    let neg = write_csv(&dir, "neg.csv", "pnl,w\n1,1\n2,-0.5\n");
    assert_error(
        &volfit(&["risk", &neg, "--weights-column", "w"], None),
        &["neg.csv", "line 3", "field `w`", "negative weight"],
    );
    assert_error(
        &volfit(&["risk", &bad, "--column", "profit"], None),
        &["line 1", "field `profit`", "missing column"],
    );
    assert_error(
        &volfit(&["risk", "-", "-m", "var:1.5"], Some("pnl\n1\n")),
        &["var:1.5", "(0, 1)"],
    );
    assert_error(
        &volfit(&["risk", "-", "-m", "nope"], Some("pnl\n1\n")),
        &["unknown measure `nope`"],
    );
    assert_error(&volfit(&["risk", "-"], Some("pnl\n")), &["no data rows"]);
    assert_error(
        &volfit(&["risk", &format!("{bad}.missing")], None),
        &["opening", "bad.csv.missing"],
    );
}

#[test]
fn help_states_the_sign_convention() {
    let out = volfit(&["risk", "--help"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("losses are negative P&L"), "{text}");
    assert!(text.contains("larger = riskier"), "{text}");
}

#[test]
fn tabulated_spectrum_from_file() {
    // φ(u) = 2u: atom weights Φ(c_j) − Φ(c_{j−1}) with Φ(u) = u² on losses −2, 0, 1, 3
    // (each 1/4) are 1/16, 3/16, 5/16, 7/16, so ρ = (−2 + 0 + 5 + 21)/16 = 1.5 (by hand).
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write_csv(&dir, "pnl.csv", "pnl\n2\n0\n-1\n-3\n");
    let spec = write_csv(&dir, "phi.csv", "u,phi\n0,0\n1,2\n");
    let out = volfit(&["risk", &csv, "-m", &format!("spectral-tab:{spec}")], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let value: f64 = text.split_once(' ').expect("name value").1.trim().parse().expect("number");
    assert!((value - 1.5).abs() < 1e-12, "{text}");
    // A decreasing spectrum is refused with the reason.
    let bad = write_csv(&dir, "bad.csv", "u,phi\n0,2\n1,0\n");
    assert_error(
        &volfit(&["risk", &csv, "-m", &format!("spectral-tab:{bad}")], None),
        &["bad.csv", "non-decreasing"],
    );
}
