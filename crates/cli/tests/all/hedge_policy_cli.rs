//! `volfit hedge FILES --policy DIR/policy.safetensors` (issue 19 items 4–5): a policy
//! trained by `volfit deephedge train` (tiny, seconds) replayed on three synthetic
//! snapshots as the method `policy` beside `black`, with `es_by_maturity.csv`; and the
//! refusals naming the file and the header field or flag.

use std::path::Path;
use std::process::{Command, Output};

fn volfit(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_volfit"));
    c.current_dir(dir);
    c
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Three `volfit synth` snapshots 10 minutes apart: `a.csv`, `b.csv`, `c.csv`.
fn write_inputs(dir: &Path) {
    for (name, seed, minute) in [("a", "42", "00"), ("b", "43", "10"), ("c", "44", "20")] {
        let file = format!("{name}.csv");
        ok(volfit(dir).args(["synth", "-q", "--seed", seed, "--out", &file]).output().unwrap());
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        let from = "\n2026-01-05T04:00:00.000000+00:00,";
        assert!(text.contains(from), "synth timestamp format changed: update this test");
        let to = format!("\n2026-01-05T04:{minute}:00.000000+00:00,");
        std::fs::write(dir.join(&file), text.replace(from, &to)).unwrap();
    }
}

/// examples/dh.toml shrunk to a second of training.
fn train_policy(dir: &Path) {
    train_policy_with(dir, &[]);
}

/// [`train_policy`] with the further text replacements `more` of the config.
fn train_policy_with(dir: &Path, more: &[(&str, &str)]) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dh.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let text = text
        .replace("paths = 20000", "paths = 400")
        .replace("validation_paths = 5000", "validation_paths = 0")
        .replace("epochs = 30", "epochs = 1")
        .replace("batch_size = 1000", "batch_size = 200")
        .replace("steps = 30", "steps = 5")
        .replace("also = [\"feed_forward\"]", "also = []")
        .replace("hidden = [32, 32]", "hidden = [4]")
        .replace("paths = 50000", "paths = 100")
        .replace("batches = 50", "batches = 4");
    let text = more.iter().fold(text, |t, (from, to)| {
        assert!(t.contains(from), "examples/dh.toml has no {from:?}: update this test");
        t.replace(from, to)
    });
    std::fs::write(dir.join("dh.toml"), text).unwrap();
    ok(volfit(dir)
        .args(["deephedge", "train", "-q", "--config", "dh.toml", "--out", "dh"])
        .output()
        .unwrap());
}

#[test]
fn hedge_replays_a_trained_policy_beside_black() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_inputs(dir);
    train_policy(dir);
    std::fs::write(dir.join("hedge.toml"), "quantity = -1.0\n").unwrap();
    let hedge = |extra: &[&str]| {
        let mut c = volfit(dir);
        c.args(["hedge", "--config", "hedge.toml", "--delta", "black", "--out", "h"]);
        c.args(extra).args(["a.csv", "b.csv", "c.csv"]);
        c.output().unwrap()
    };
    let out = ok(hedge(&["--policy", "dh/policy.safetensors"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ES 97.5% of pnl_usd_net by maturity, policy vs black"), "{stdout}");
    let paths = std::fs::read_to_string(dir.join("h/paths.csv")).unwrap();
    let header: Vec<&str> = paths.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "delta").unwrap();
    let count = |d: &str| paths.lines().filter(|l| l.split(',').nth(col) == Some(d)).count();
    assert!(count("black") > 10 && count("policy") == count("black"), "{paths}");
    let es = std::fs::read_to_string(dir.join("h/es_by_maturity.csv")).unwrap();
    assert!(
        es.starts_with(
            "spec,underlying,maturity,delta,pnl,paths,es975,es975_se,es975_lo95,es975_hi95,\
             paired,diff_vs_black,diff_se,diff_lo95,diff_hi95"
        ),
        "{es}"
    );
    assert!(es.lines().any(|l| l.contains(",policy,pnl_usd_net,")), "{es}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("h/hedge.json")).unwrap()).unwrap();
    let p = &json["result"]["policy"];
    assert_eq!((p["policy"].as_str(), p["accounting"].as_str()), (Some("ntb"), Some("usd")));
    assert_eq!(json["result"]["config"]["deltas"], serde_json::json!(["black", "policy"]));

    // Refusals: the accounting the backtest asks for, and `policy` without a file.
    let out = hedge(&["--policy", "dh/policy.safetensors", "--policy-accounting", "coin"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("dh/policy.safetensors: header field `claim.accounting`")
            && err.contains("asks for coin"),
        "{err}"
    );
    let mut c = volfit(dir);
    let out = c.args(["hedge", "--delta", "black,policy", "--out", "x", "a.csv"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--delta") && err.contains("needs --policy FILE"), "{err}");
    let out = hedge(&["--policy", "hedge.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("hedge.toml: header field `volfit_nn`"), "{err}");
}

#[test]
fn hedge_replays_a_delta_plus_feed_forward_policy_with_the_black_delta_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_inputs(dir);
    train_policy_with(
        dir,
        &[
            ("kind = \"no_transaction_band\"", "kind = \"feed_forward\""),
            ("with_delta = false", "with_delta = true"),
        ],
    );
    std::fs::write(dir.join("hedge.toml"), "quantity = -1.0\n").unwrap();
    let mut c = volfit(dir);
    c.args(["hedge", "--config", "hedge.toml", "--delta", "black", "--out", "h"]);
    ok(c.args(["--policy", "dh/policy.safetensors", "a.csv", "b.csv", "c.csv"]).output().unwrap());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("h/hedge.json")).unwrap()).unwrap();
    let p = &json["result"]["policy"];
    assert_eq!(p["policy"], "ff");
    assert_eq!(p["parametrisation"], "delta_plus");
    assert_eq!(p["features"][3], "black_delta", "{p}");
}
