//! `volfit allocate` end to end: the example book and config on the built-in synthetic
//! chains, a config error naming file and field, and (when present) the real 2026 snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn volfit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_volfit")).args(args).output().expect("spawn volfit")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/alloc")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Reads the outputs and checks feasibility and the frontier's monotonicity; returns the
/// allocation CSV text.
fn check_outputs(dir: &Path) -> String {
    for f in ["allocation.csv", "frontier.csv", "allocation.json", "report.html"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("allocation.json")).unwrap())
            .unwrap();
    let viol = json["summary"]["max_violation"].as_f64().unwrap();
    assert!(viol <= 1e-6, "constraint violation {viol}");
    for m in json["margin"].as_array().unwrap() {
        if let Some(c) = m["collateral"].as_f64() {
            assert!(m["used"].as_f64().unwrap() <= c + 1e-6, "{m}");
        }
    }
    let mut rdr = csv::Reader::from_path(dir.join("frontier.csv")).unwrap();
    let rows: Vec<(f64, f64, f64)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].parse().unwrap(), r[2].parse().unwrap())
        })
        .collect();
    assert!(rows.len() >= 2);
    for w in rows.windows(2) {
        assert!(w[0].0 > w[1].0, "λ decreasing");
        // USD amounts: 1e-4 USD absorbs interior-point noise where the optimum is flat
        // (the synthetic Monte Carlo is a martingale, so the best book is nearly empty).
        let tol = 1e-4 + 1e-6 * w[0].1.abs().max(w[0].2.abs());
        assert!(w[1].1 >= w[0].1 - tol, "reward not monotone: {w:?}");
        assert!(w[1].2 >= w[0].2 - tol, "risk not monotone: {w:?}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 4);
    std::fs::read_to_string(dir.join("allocation.csv")).unwrap()
}

#[test]
fn example_files_on_the_synthetic_chains() {
    let dir = tempfile::tempdir().unwrap();
    let ex = examples();
    let out = volfit(&[
        "allocate",
        "--book",
        &s(&ex.join("candidates.toml")),
        "--config",
        &s(&ex.join("alloc.toml")),
        "--out",
        &s(dir.path()),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("volfit allocate:") && stdout.contains("margin BTC"), "{stdout}");
    let csv = check_outputs(dir.path());
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("candidate,coin,kind,x,price_usd"), "{header}");
    assert!(csv.lines().skip(1).any(|l| l.contains(",BTC,")) && csv.contains(",ETH,"));
}

#[test]
fn config_errors_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(examples().join("alloc.toml")).unwrap();
    std::fs::write(&cfg, text.replace("lambda = 1.0", "lambda = 1.0\nlamda = 2")).unwrap();
    let out = volfit(&[
        "allocate",
        "--book",
        &s(&examples().join("candidates.toml")),
        "--config",
        &s(&cfg),
        "--out",
        &s(&dir.path().join("out")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("lamda"), "{err}");
    assert!(err.contains("line"), "{err}");
    std::fs::write(&cfg, text.replace("risk = \"es:0.95\"", "risk = \"es:1.5\"")).unwrap();
    let out = volfit(&[
        "allocate",
        "--book",
        &s(&examples().join("candidates.toml")),
        "--config",
        &s(&cfg),
        "--out",
        &s(&dir.path().join("out")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("risk"), "{err}");
}

#[test]
fn real_2026_snapshots_feasible_and_reproducible() {
    let Some(data) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let entries = std::fs::read_dir(&data).expect("readable data directory");
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("deribit_options_snapshot_"))
        })
        .map(|p| s(&p))
        .collect();
    files.sort();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alloc.toml");
    let text = std::fs::read_to_string(examples().join("alloc.toml")).unwrap();
    // Historical bootstrap of the real snapshot-to-snapshot moves.
    let text = text.replace("kind = \"heston\"", "kind = \"historical\"");
    std::fs::write(&cfg, text).unwrap();
    let run = |out: &Path| {
        let mut args: Vec<String> = vec![
            "allocate".into(),
            "--quiet".into(),
            "--book".into(),
            s(&examples().join("candidates.toml")),
            "--config".into(),
            s(&cfg),
            "--out".into(),
            s(out),
        ];
        args.extend(files.iter().cloned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = volfit(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        check_outputs(out)
    };
    let first = run(&dir.path().join("a"));
    let second = run(&dir.path().join("b"));
    assert_eq!(first, second, "same inputs and seed must give the same allocation");
    let coins: Vec<&str> = first.lines().skip(1).filter_map(|l| l.split(',').nth(1)).collect();
    assert!(coins.contains(&"BTC") && coins.contains(&"ETH"));
    let kinds: Vec<&str> = first.lines().skip(1).filter_map(|l| l.split(',').nth(2)).collect();
    assert!(kinds.contains(&"future") && (kinds.contains(&"call") || kinds.contains(&"put")));
}
