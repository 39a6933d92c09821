//! `volfit validate` end to end on synthetic chains (three seeds = three snapshots).

use std::path::{Path, PathBuf};
use std::process::Command;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

/// The synthetic chain of `seed`, taken `seed` × 10 minutes after 04:00 (one snapshot per
/// instant: a repeated underlying and time is dropped as a duplicate).
pub(crate) fn synth(dir: &Path, seed: u64) -> PathBuf {
    let p = dir.join(format!("synth_{seed}.csv"));
    let out = volfit()
        .args(["synth", "-q", "--seed", &seed.to_string(), "--out"])
        .arg(&p)
        .output()
        .expect("volfit runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&p).expect("synth file");
    let from = "\n2026-01-05T04:00:00.000000+00:00,";
    assert!(text.contains(from), "synth timestamp format changed: update this test");
    let to = format!("\n2026-01-05T04:{:02}:00.000000+00:00,", 10 * seed);
    std::fs::write(&p, text.replace(from, &to)).expect("synth file rewritten");
    p
}

#[test]
fn validate_writes_every_table_and_names_a_winner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs: Vec<PathBuf> = (1..=3).map(|s| synth(dir.path(), s)).collect();
    let grid = dir.path().join("grid.toml");
    std::fs::write(
        &grid,
        "models = [\"svi\", \"ssvi\"]\nlosses = [\"mse\"]\nweights = [\"uniform\"]\n\
         folds = 2\ncv_snapshots = 1\nridge_lambdas = [0.0, 0.1]\n",
    )
    .expect("grid written");
    let out_dir = dir.path().join("v");
    let out = volfit()
        .arg("validate")
        .args(&inputs)
        .arg("--config")
        .arg(&grid)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("volfit runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("winner: "), "{stdout}");
    for t in volfit::validate::TABLES {
        assert!(out_dir.join(format!("{t}.csv")).is_file(), "{t}");
    }
    let summary = std::fs::read_to_string(out_dir.join("summary.csv")).expect("summary");
    assert!(summary.starts_with("rank,spec_id,spec,group,model,"));
    // 2 grid specs + ridge path {0, 0.1:prev, 0.1:zero}.
    assert_eq!(summary.lines().count(), 1 + 2 + 3);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("validate.json")).expect("json"),
    )
    .expect("valid json");
    assert!(json["winner"]["spec"].is_string());
    // Issue 14 item 5: the nested selection and the winner's Diebold–Mariano test.
    assert!(stdout.contains("selection (nested, no look-ahead): OOS "), "{stdout}");
    let sel = &json["selection"];
    assert!(sel["procedure_oos_rmse"].as_f64().is_some_and(|x| x > 0.0), "{sel}");
    assert_eq!(sel["winner"], json["winner"]["spec"], "{sel}");
    assert!(sel["runner_up"].is_string() && sel["significant"].is_boolean(), "{sel}");
    assert!(sel["n_snapshots"].as_u64().is_some() && sel["margin"].as_f64().is_some(), "{sel}");
    for key in ["dm_statistic", "dm_p_value"] {
        assert!(sel[key].is_number() || sel[key].is_null(), "{key}: {sel}");
    }
    let ridge = sel["ridge_lambda_nested"].as_object().expect("ridge λ per target");
    assert!(ridge.contains_key("prev") && ridge.contains_key("zero"), "{sel}");
}

#[test]
fn bad_grid_and_unavailable_format_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path(), 1);
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "losses = [\"hubber\"]\n").expect("grid written");
    let out = volfit()
        .arg("validate")
        .arg(&input)
        .arg("--config")
        .arg(&grid)
        .arg("--out")
        .arg(dir.path().join("v"))
        .output()
        .expect("volfit runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("losses"));
    if !cfg!(feature = "parquet") {
        let out = volfit()
            .arg("validate")
            .arg(&input)
            .args(["--table-format", "parquet", "--out"])
            .arg(dir.path().join("w"))
            .output()
            .expect("volfit runs");
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("feature"));
    }
}

#[test]
fn validate_report_fits_the_winner_and_charts_the_validation() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (1..=3).map(|s| synth(dir.path(), s)).collect();
    let out = dir.path().join("v");
    let run = volfit()
        .args(["validate", "--model", "svi", "--report", "-q", "--out"])
        .arg(&out)
        .args(&inputs)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for f in ["fit.json", "residuals.csv", "walk_forward.csv", "ridge_path.csv", "report.html"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("walk-forward"), "walk-forward chart missing");
    assert!(html.contains("ridge"), "ridge path missing");
    assert!(!html.contains("no time / in-sample"), "walk-forward table not understood");
}

/// With the `parquet` feature (`.ci/run` tests it): every table is a Parquet file (magic
/// `PAR1` at both ends) and `validate.json` lists them.
#[cfg(feature = "parquet")]
#[test]
fn validate_writes_parquet_tables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs: Vec<PathBuf> = (1..=3).map(|s| synth(dir.path(), s)).collect();
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "models = [\"svi\"]\nlosses = [\"mse\"]\nfolds = 2\ncv_snapshots = 1\n")
        .expect("grid written");
    let out_dir = dir.path().join("v");
    let out = volfit()
        .arg("validate")
        .args(&inputs)
        .arg("--config")
        .arg(&grid)
        .args(["--table-format", "parquet", "-q", "--out"])
        .arg(&out_dir)
        .output()
        .expect("volfit runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for t in volfit::validate::TABLES {
        let bytes = std::fs::read(out_dir.join(format!("{t}.parquet"))).expect(t);
        assert!(bytes.len() > 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"), "{t}");
        assert!(!out_dir.join(format!("{t}.csv")).exists(), "{t}.csv written too");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("validate.json")).expect("json"),
    )
    .expect("valid json");
    assert_eq!(json["tables"][0], format!("{}.parquet", volfit::validate::TABLES[0]));
}

/// Issue 15 item 8: one snapshot has nothing out-of-sample; say so instead of a NaN table.
#[test]
fn one_snapshot_is_a_clear_message_not_a_nan_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path(), 1);
    let out_dir = dir.path().join("v");
    let out = volfit()
        .args(["validate", "--model", "svi"])
        .arg(&input)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("volfit runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("at least 2 snapshots of one underlying"), "{stderr}");
    assert!(stderr.contains("BTC 1"), "{stderr}");
    assert!(!stdout.contains("NaN"), "{stdout}");
}
