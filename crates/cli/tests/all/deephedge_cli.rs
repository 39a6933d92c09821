//! `volfit deephedge train` end to end on a small version of examples/dh.toml: the files and
//! the report page (its sections, and every number of `evaluation.csv`), the same outputs
//! whatever `--threads`, dynamics calibrated to a snapshot (the parameters `volfit fit`
//! finds), and errors naming the key.

use std::path::Path;
use std::process::Command;

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

/// examples/dh.toml scaled down to run in seconds.
fn small_config(dir: &Path) -> std::path::PathBuf {
    small(dir, "dh.toml")
}

/// The example `name` scaled down, written to `dir/dh.toml`.
fn small(dir: &Path, name: &str) -> std::path::PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
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
    for f in [
        "policy.safetensors",
        "policy-ff.safetensors",
        "training_log.csv",
        "evaluation.csv",
        "report.html",
    ] {
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
    check_report(&a, &ev);
    // Same seeds, another thread count: byte-identical files.
    let out = train(&config, &b, "2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["policy.safetensors", "training_log.csv", "evaluation.csv", "report.html"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
}

/// The page: verdict first, every section, one histogram per policy, a hedge-over-moneyness
/// chart per time to expiry, a loss and a gradient chart per trained policy, and every row of
/// `evaluation.csv` as a risk-table cell carrying the CSV's value.
fn check_report(dir: &Path, evaluation: &str) {
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing"));
    let ids = ["verdict", "risk", "distributions", "moneyness", "time", "training", "setup"];
    let pos: Vec<usize> = ids.iter().map(|id| at(&format!("<section id=\"{id}\""))).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "sections out of order: {pos:?}");
    assert!(page[pos[0]..pos[1]].contains("wins on the objective (1 × entropic:10)"));
    for (chart, n) in
        [("histogram", 4), ("moneyness", 3), ("time", 2), ("loss", 2), ("gradients", 2)]
    {
        let count = page.matches(&format!("data-chart=\"{chart}\"")).count();
        assert_eq!(count, n, "{chart} charts");
    }
    assert!(!page.contains("nothing to draw") && !page.contains("no data"), "an empty chart");
    let mut rows = 0;
    for line in evaluation.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let cell = format!(
            "data-policy=\"{}\" data-measure=\"{}\" data-value=\"{}\" data-se=\"{}\"",
            f[0], f[1], f[2], f[3]
        );
        assert!(page.contains(&cell), "{cell} missing");
        rows += 1;
    }
    assert_eq!(page.matches("data-policy=").count(), rows);
}

#[test]
fn deephedge_calibrated_to_a_snapshot_uses_the_volfit_fit_parameters() {
    let Some(data) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let snapshot = data.join("deribit_options_snapshot_20260105T041127Z.csv.gz");
    let tmp = tempfile::tempdir().unwrap();
    let config = small(tmp.path(), "dh-calibrated.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().find(|l| l.starts_with("calibrate = ")).unwrap();
    let text = text.replace(line, &format!("calibrate = \"{}\"", snapshot.display()));
    std::fs::write(&config, text).unwrap();
    let out = train(&config, &tmp.path().join("dh"), "1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("calibrated: BTC 2026-01-05T04:11:27") && err.contains("Bates v0"),
        "{err}"
    );
    // The reference: `volfit fit --model bates` on the same snapshot.
    let fit = tmp.path().join("fit");
    let status = volfit()
        .args(["fit", "-q", "--underlying", "BTC", "--model", "bates", "--out"])
        .arg(&fit)
        .arg(&snapshot)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fit.join("fit.json")).unwrap()).unwrap();
    let want = &doc["snapshots"][0]["surface_params"];
    // policy.safetensors: an 8-byte little-endian header length, then the JSON header,
    // whose `__metadata__.volfit_nn` is volfit-nn's own JSON with the provenance in `extra`.
    let bytes = std::fs::read(tmp.path().join("dh/policy.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let meta = header["__metadata__"]["volfit_nn"].as_str().unwrap();
    let extra = &serde_json::from_str::<serde_json::Value>(meta).unwrap()["extra"];
    assert_eq!(extra["dynamics"]["kind"], "bates");
    for key in ["v0", "kappa", "theta", "sigma", "rho", "lambda", "mu_j", "sigma_j"] {
        assert_eq!(extra["dynamics"][key].as_f64(), want[key].as_f64(), "{key}");
    }
    assert_eq!(extra["calibration"]["expiry"], "2026-01-30T08:00:00Z", "{extra}");
    assert!(extra["calibration"]["strike_usd"].as_f64().is_some(), "{extra}");
    let page = std::fs::read_to_string(tmp.path().join("dh/report.html")).unwrap();
    assert!(page.contains("calibrated to") && page.contains("Bates v0"));
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
        ("v0 = 0.36", "v0 = 0.36\ncalibrate = \"nope.csv\"", "dynamics: unknown field"),
    ] {
        std::fs::write(&config, text.replace(from, to)).unwrap();
        let out = train(&config, &tmp.path().join("x"), "1");
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key) && err.contains("dh.toml"), "{key}: {err}");
    }
    // A calibration to a file that is not there names the key and the file.
    let (a, b) = (text.find("[dynamics]").unwrap(), text.find("[claim]").unwrap());
    let calibrate =
        "[dynamics]\nkind = \"bates\"\ncalibrate = \"nope.csv\"\nunderlying = \"BTC\"\n";
    std::fs::write(&config, format!("{}{calibrate}{}", &text[..a], &text[b..])).unwrap();
    let out = train(&config, &tmp.path().join("x"), "1");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dynamics.calibrate") && err.contains("nope.csv"), "{err}");
}
