//! Issue 14 item 2: duplicate snapshots. The same file twice (or overlapping globs) must
//! give the same fits and the same validation as once, with a counted notice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::validate_cli::synth;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

fn run(cmd: &str, inputs: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    let o = volfit()
        .arg(cmd)
        .args(inputs)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .expect("volfit runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Printed results without `fit`'s last column (`time_ms`, a wall-clock time).
fn untimed(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .map(|l| l.trim_end().rsplit_once(' ').map_or(l, |(head, _)| head.trim_end()).to_string())
        .collect()
}

/// A JSON value without its `time_us` fields (wall-clock times).
fn untimed_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("time_us");
            m.values_mut().for_each(untimed_json);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(untimed_json),
        _ => {}
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_same_files_twice_give_the_same_fit_and_validation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let once: Vec<PathBuf> = (1..=3).map(|s| synth(dir.path(), s)).collect();
    let twice: Vec<PathBuf> = once.iter().chain(&once).cloned().collect();
    let (a, b) = (dir.path().join("once"), dir.path().join("twice"));
    let quiet = ["--threads", "1"];
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "models = [\"svi\"]\nlosses = [\"mse\"]\nweights = [\"uniform\"]\n")
        .expect("grid written");
    let grid_args = ["--threads", "1", "--folds", "0", "--config", grid.to_str().expect("utf-8")];
    for (cmd, extra) in [("fit", &quiet[..]), ("validate", &grid_args[..])] {
        let o1 = run(cmd, &once, &a.join(cmd), extra);
        let o2 = run(cmd, &twice, &b.join(cmd), extra);
        let (e1, e2) = (String::from_utf8_lossy(&o1.stderr), String::from_utf8_lossy(&o2.stderr));
        assert!(!e1.contains("duplicate snapshot"), "{e1}");
        assert!(
            e2.contains("notice: 3 duplicate snapshots dropped")
                && e2.contains("0 of them with different rows"),
            "{cmd}: {e2}"
        );
        assert_eq!(untimed(&o1.stdout), untimed(&o2.stdout), "{cmd}: the printed results");
    }
    // Fits, residuals and every validation table byte for byte (fit.json lists the inputs
    // as given, so only its fits are compared, without wall-clock times).
    let fits = |d: &Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&read(&d.join("fit/fit.json"))).expect("fit.json");
        untimed_json(&mut v);
        v["snapshots"].clone()
    };
    assert!(fits(&a).as_array().is_some_and(|s| s.len() == 3), "three snapshots fitted");
    assert_eq!(fits(&a), fits(&b));
    assert_eq!(read(&a.join("fit/residuals.csv")), read(&b.join("fit/residuals.csv")));
    for t in volfit::validate::TABLES {
        let (x, y) = (a.join(format!("validate/{t}.csv")), b.join(format!("validate/{t}.csv")));
        assert_eq!(read(&x), read(&y), "{t}.csv");
    }
    // The dropped rows are counted in the repeated files' reports.
    let inputs: serde_json::Value =
        serde_json::from_str(&read(&b.join("fit/inputs.json"))).expect("inputs.json");
    let dropped: Vec<u64> = inputs["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["skipped"]["duplicate_snapshot"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(&dropped[..3], &[0, 0, 0]);
    assert!(dropped[3..].iter().all(|&n| n > 700), "{dropped:?}");
}

#[test]
fn quotes_prints_each_snapshot_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = synth(dir.path(), 1);
    let o1 = run("quotes", std::slice::from_ref(&f), &dir.path().join("q1.csv"), &[]);
    let o2 = run("quotes", &[f.clone(), f], &dir.path().join("q2.csv"), &[]);
    assert_eq!(read(&dir.path().join("q1.csv")), read(&dir.path().join("q2.csv")));
    assert!(!String::from_utf8_lossy(&o1.stderr).contains("duplicate"));
    let e2 = String::from_utf8_lossy(&o2.stderr);
    assert!(e2.contains("notice: 1 duplicate snapshot dropped"), "{e2}");
}
