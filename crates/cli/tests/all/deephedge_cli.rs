//! `volfit deephedge train` end to end on a small version of examples/dh.toml: the three
//! files, the same outputs whatever `--threads`, and errors naming the key.

use std::path::Path;
use std::process::Command;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

/// examples/dh.toml scaled down to run in seconds.
fn small_config(dir: &Path) -> std::path::PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dh.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let text = text
        .replace("paths = 20000", "paths = 600")
        .replace("validation_paths = 5000", "validation_paths = 300")
        .replace("epochs = 30", "epochs = 2")
        .replace("batch_size = 1000", "batch_size = 300")
        .replace("steps = 30", "steps = 5")
        .replace("hidden = [32, 32]", "hidden = [8]")
        .replace("paths = 50000", "paths = 400")
        .replace("batches = 50", "batches = 4");
    let path = dir.join("dh.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn train(config: &Path, out: &Path, threads: &str) -> std::process::Output {
    volfit()
        .args(["deephedge", "train", "--threads", threads, "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn deephedge_train_writes_policy_log_and_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_config(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let out = train(&config, &a, "1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["policy.safetensors", "policy-ff.safetensors", "training_log.csv", "evaluation.csv"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let log = std::fs::read_to_string(a.join("training_log.csv")).unwrap();
    assert!(
        log.starts_with("policy,epoch,train_loss,val_loss,rate,steps,grad_rms_layer0,"),
        "{log}"
    );
    // Two policies × two epochs.
    assert_eq!(log.lines().count(), 1 + 4, "{log}");
    let ev = std::fs::read_to_string(a.join("evaluation.csv")).unwrap();
    for p in ["ntb", "ff", "black_delta", "whalley_wilmott"] {
        assert!(ev.lines().any(|l| l.starts_with(&format!("{p},objective,"))), "{p}: {ev}");
    }
    assert!(ev.lines().any(|l| l.starts_with("black_delta,es:0.99,")), "{ev}");
    // Black delta's difference to itself is exactly zero.
    let own = ev.lines().find(|l| l.starts_with("black_delta,objective,")).unwrap();
    assert_eq!(own.split(',').nth(5), Some("0.000000000e0"), "{own}");
    // Same seeds, another thread count: byte-identical files.
    let out = train(&config, &b, "2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["policy.safetensors", "training_log.csv", "evaluation.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
}

#[test]
fn deephedge_config_errors_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_config(tmp.path());
    let text = std::fs::read_to_string(&config).unwrap();
    for (from, to, key) in [
        ("rho = -0.4", "rho = -1.5", "dynamics.rho"),
        ("cost = 0.0005", "cost = -1", "claim.cost"),
        ("theta = 10.0", "theta = 0", "objective[0].theta"),
        ("accounting = \"usd\"", "accounting = \"eur\"", "accounting"),
    ] {
        std::fs::write(&config, text.replace(from, to)).unwrap();
        let out = train(&config, &tmp.path().join("x"), "1");
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key) && err.contains("dh.toml"), "{key}: {err}");
    }
}
