//! Output folders and paths through the binary (issue 15, items 3, 4, 5, 8): a rerun leaves
//! no stale file, an interrupted run leaves the old folder intact and its temporaries are
//! cleaned on the next run, bad destinations fail first and are named, bounds on flags and
//! config values.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

fn synth(dir: &Path) -> PathBuf {
    let p = dir.join("synth.csv");
    let out = volfit().args(["synth", "-q", "--out"]).arg(&p).output().expect("run synth");
    assert!(out.status.success());
    p
}

fn fit(input: &Path, out: &Path, extra: &[&str]) -> Output {
    volfit()
        .args(["fit", "--model", "svi", "--out"])
        .arg(out)
        .args(extra)
        .arg(input)
        .output()
        .expect("run fit")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn rerun_into_a_used_folder_leaves_no_stale_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let out = dir.path().join("o");
    assert!(fit(&input, &out, &["--report"]).status.success());
    assert!(out.join("report.html").exists());
    let o = fit(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&out),
        ["fit.json", "inputs.json", "manifest.json", "residuals.csv", "traces.json"],
        "the previous run's report.html is gone"
    );
    let e = stderr(&o);
    assert!(
        e.contains("wrote 5 files in") && e.contains("inputs.json") && e.contains(" s)"),
        "{e}"
    );
    // `volfit report` adds its page to the folder's manifest, so a rerun may replace it.
    assert!(volfit().arg("report").arg(&out).output().expect("report").status.success());
    assert!(fit(&input, &out, &[]).status.success());
    assert!(!out.join("report.html").exists());
}

#[test]
fn killed_run_leaves_the_old_folder_intact_and_its_temporaries_are_removed_next_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let out = dir.path().join("o");
    assert!(fit(&input, &out, &[]).status.success());
    let before = std::fs::read(out.join("fit.json")).expect("fit.json");
    // A rerun reading stdin blocks after staging its folder: kill -9 it there.
    let mut child = volfit()
        .args(["fit", "--model", "ssvi", "-q", "--out"])
        .arg(&out)
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let staging = dir.path().join(format!(".o.tmp.{}", child.id()));
    let mut tries = 0;
    while !staging.exists() {
        tries += 1;
        assert!(tries < 6000, "the staging folder never appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.stdin.as_mut().expect("stdin").write_all(b"instrument_name,").expect("partial");
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    assert_eq!(std::fs::read(out.join("fit.json")).expect("old fit.json"), before);
    assert!(staging.exists(), "kill -9 leaves the staging folder");
    let o = fit(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(dir.path()), ["o", "synth.csv", "synth.csv.truth.json"]);
}

#[test]
fn failed_rerun_leaves_the_old_folder_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let out = dir.path().join("o");
    assert!(fit(&input, &out, &["--report"]).status.success());
    let before = names(&out);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "not,a,chain\n1,2,3\n").expect("bad input");
    let o = fit(&bad, &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(names(&out), before);
    assert_eq!(names(dir.path()), ["bad.csv", "o", "synth.csv", "synth.csv.truth.json"]);
}

#[test]
fn bad_summary_path_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let q = dir.path().join("q.csv");
    let o = volfit()
        .arg("quotes")
        .arg(&input)
        .arg("--out")
        .arg(&q)
        .args(["--summary", "/nonexistent/x.json"])
        .output()
        .expect("run quotes");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/x.json"), "{}", stderr(&o));
    assert!(!q.exists(), "nothing written");
    assert_eq!(names(dir.path()), ["synth.csv", "synth.csv.truth.json"]);
}

#[test]
fn bad_destinations_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let quotes = |out: &Path| {
        volfit().arg("quotes").arg(&input).arg("--out").arg(out).output().expect("run quotes")
    };
    let o = quotes(&dir.path().join("nodir").join("x.csv"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("folder") && stderr(&o).contains("nodir"), "{}", stderr(&o));
    let o = quotes(dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a folder; give a file name"), "{}", stderr(&o));
    let afile = dir.path().join("afile");
    std::fs::write(&afile, "x").expect("afile");
    let o = fit(&input, &afile, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("afile exists and is not a folder"), "{}", stderr(&o));
    // A folder with files volfit did not write is never replaced.
    let o = fit(&input, dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("volfit did not write"), "{}", stderr(&o));
    assert!(input.exists());
}

#[test]
fn thread_count_is_bounded_with_a_notice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let o = fit(&input, &dir.path().join("o"), &["--threads", "100000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--threads 100000 is more than 4 per core"), "{}", stderr(&o));
}

#[test]
fn fit_config_values_and_flags_share_one_rule_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let cfg = dir.path().join("fit.toml");
    std::fs::write(&cfg, "[filter]\nmax_std_moneyness = -3\n").expect("config");
    let out = dir.path().join("o");
    let o = fit(&input, &out, &["--config", cfg.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("fit.toml") && e.contains("filter.max_std_moneyness = -3: must be > 0"),
        "{e}"
    );
    for (flag, value) in [("--starts", "100000"), ("--starts", "0"), ("--arbitrage-penalty", "-1")]
    {
        let o = fit(&input, &out, &[&format!("{flag}={value}")]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(&format!("{flag} {value}: must")), "{}", stderr(&o));
    }
    assert!(!out.exists(), "nothing written");
}

#[test]
fn validate_folds_are_bounded_by_the_quotes_with_a_notice() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Two snapshots at distinct times: validate scores a fit on a later snapshot.
    let inputs = [1, 2].map(|seed| crate::validate_cli::synth(dir.path(), seed));
    let o = volfit()
        .args(["validate", "--model", "svi", "--folds", "100000", "-q", "--out"])
        .arg(dir.path().join("v"))
        .args(&inputs)
        .output()
        .expect("run validate");
    let e = stderr(&o);
    assert!(e.contains("--folds 100000 is more than the"), "{e}");
    assert!(dir.path().join("v").join("manifest.json").exists(), "{e}");
}

#[test]
fn validate_grid_entries_fail_with_file_key_and_rule() {
    // Each grid entry goes through the fit rules once, before any input is read; before,
    // `[base] starts = 100000` ran and the axis errors named no file.
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = [1, 2].map(|seed| crate::validate_cli::synth(dir.path(), seed));
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "neg_ridge.toml",
            "ridges = [\"none\", \"-1:prev\"]\n",
            &["key ridges entry \"-1:prev\"", "L ≥ 0"],
        ),
        (
            "nan_huber.toml",
            "losses = [\"huber:nan\"]\n",
            &["key losses entry \"huber:nan\"", "positive and finite"],
        ),
        ("bad_model.toml", "models = [\"svx\"]\n", &["line 1", "unknown variant `svx`"]),
        (
            "base_starts.toml",
            "[base]\nstarts = 100000\n",
            &["key base.starts = 100000: must be from 1 to 1000"],
        ),
    ];
    let out = dir.path().join("v");
    for (name, text, frags) in cases {
        let cfg = dir.path().join(name);
        std::fs::write(&cfg, text).expect("grid");
        let o = volfit()
            .args(["validate", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(&inputs)
            .output()
            .expect("run validate");
        assert_eq!(o.status.code(), Some(2), "{name}");
        let e = stderr(&o);
        assert!(e.contains(name), "{name}: no file name in {e}");
        for f in frags {
            assert!(e.contains(f), "{name}: {e:?} lacks {f:?}");
        }
    }
    assert!(!out.exists(), "nothing written");
}

#[test]
fn quiet_validate_and_allocate_keep_stderr_empty() {
    // The counted bars (validate, allocate) and the "wrote …" lines are chatter: -q hides
    // them; results go to stdout.
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = [1, 2].map(|seed| crate::validate_cli::synth(dir.path(), seed));
    let o = volfit()
        .args(["validate", "--model", "svi", "--folds", "0", "-q", "--out"])
        .arg(dir.path().join("v"))
        .args(&inputs)
        .output()
        .expect("run validate");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/alloc");
    let o = volfit()
        .args(["allocate", "-q", "--book"])
        .arg(examples.join("candidates.toml"))
        .arg("--config")
        .arg(examples.join("alloc.toml"))
        .arg("--out")
        .arg(dir.path().join("a"))
        .output()
        .expect("run allocate");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert!(dir.path().join("a").join("frontier.csv").exists());
}

#[test]
fn quotes_into_a_fifo_write_through_it_never_replace_it() {
    // `volfit quotes … -o /dev/null` replaced the device with a regular file (as root); a
    // FIFO stands in for it here.
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let input = synth(dir.path());
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).expect("read the fifo"))
    };
    let o = volfit().arg("quotes").arg(&input).arg("--out").arg(&fifo).output().expect("quotes");
    assert!(o.status.success(), "{}", stderr(&o));
    let kind = std::fs::symlink_metadata(&fifo).expect("still there").file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced by {kind:?}");
    let rows = reader.join().expect("reader");
    let lines = rows.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 100, "{lines} lines through the FIFO");
    assert_eq!(names(dir.path()), ["pipe", "synth.csv", "synth.csv.truth.json"]);
}
