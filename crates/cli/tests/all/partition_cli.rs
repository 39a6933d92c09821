//! Issue 17, the blocker: `volfit fit` results must not depend on how the input is split
//! into runs. `--warm-start partition` (the default) restarts warm starts at every (venue,
//! underlying, UTC day), so runs split on day boundaries reproduce one run bitwise;
//! `--warm-start none` does so for any split; and a Tardis stream cut into day files, each
//! read with `--halo-from` its previous day, gives the continuous stream's fits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use volfit::market::synth::{generate, SynthSpec};
use volfit::market::tardis_gen::{TardisGen, HEADER};

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

/// 2026-01-05T00:00:00Z.
const DAY0_MS: i64 = 1_767_571_200_000;
const DAY_MS: i64 = 86_400_000;

/// 64 synthetic chains: 8 UTC days × 8 snapshots (every 3 h from 01:00), each its own seed.
fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    (0..64)
        .map(|i| {
            let time_ms = DAY0_MS + (i / 8) * DAY_MS + 3_600_000 + (i % 8) * 3 * 3_600_000;
            let chain =
                generate(&SynthSpec { seed: 100 + i as u64, time_ms, ..SynthSpec::default() });
            let p = dir.join(format!("snap_{i:02}.csv"));
            let mut out = Vec::new();
            chain.write_csv(&mut out).expect("csv");
            std::fs::write(&p, out).expect("write");
            p
        })
        .collect()
}

/// `volfit fit FILES --warm-start MODE` into `out`; the per-expiry entries of fit.json keyed
/// by (snapshot, underlying, expiry), each without its wall time.
fn fit(files: &[PathBuf], extra: &[&str], out: &Path) -> Vec<(String, serde_json::Value)> {
    let run = volfit()
        .args(["fit", "--model", "svi", "--loss", "huber:0.01", "--ridge", "0.001", "-q"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .args(files)
        .output()
        .expect("run volfit");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(out.join("fit.json")).expect("fit.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut rows = Vec::new();
    for s in json["snapshots"].as_array().expect("snapshots") {
        for e in s["expiries"].as_array().expect("expiries") {
            let mut e = e.clone();
            e.as_object_mut().expect("object").remove("time_us");
            let key = format!("{} {} {}", s["snapshot"], s["underlying"], e["expiry"]);
            rows.push((key, e));
        }
    }
    rows
}

/// Rows sorted by key: runs list underlyings one after the other, so the rows of several
/// runs interleave differently from one run's.
fn sorted(mut rows: Vec<(String, serde_json::Value)>) -> Vec<(String, serde_json::Value)> {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Fits `files` in runs of the given sizes, concatenating the rows.
fn fit_split(
    files: &[PathBuf],
    sizes: &[usize],
    mode: &str,
    dir: &Path,
) -> Vec<(String, serde_json::Value)> {
    let mut rows = Vec::new();
    let mut start = 0;
    for (i, n) in sizes.iter().enumerate() {
        let out = dir.join(format!("{mode}_{}_{i}", sizes.len()));
        rows.extend(fit(&files[start..start + n], &["--warm-start", mode], &out));
        start += n;
    }
    assert_eq!(start, files.len());
    rows
}

fn differing(a: &[(String, serde_json::Value)], b: &[(String, serde_json::Value)]) -> usize {
    assert_eq!(a.len(), b.len(), "row counts");
    let diff: Vec<_> = a.iter().zip(b).filter(|(x, y)| x != y).collect();
    if let Some(((k, x), (_, y))) = diff.first() {
        eprintln!("{} rows differ, the first {k}:\n  {x}\n  {y}", diff.len());
    }
    diff.len()
}

#[test]
fn issue_17_results_do_not_depend_on_the_split() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = snapshot_files(dir.path());
    let days = [8; 8];
    // Partition: one run equals eight day runs, row for row, bit for bit.
    let whole = fit_split(&files, &[64], "partition", dir.path());
    assert!(whole.len() > 500, "{} rows", whole.len());
    assert_eq!(differing(&whole, &fit_split(&files, &days, "partition", dir.path())), 0);
    // None: any split, here one that cuts days.
    let whole = fit_split(&files, &[64], "none", dir.path());
    let odd = [5, 11, 3, 20, 1, 24];
    assert_eq!(differing(&whole, &fit_split(&files, &odd, "none", dir.path())), 0);
    // Chain (the old behaviour) does depend on the split: the test above can fail.
    let chain = differing(
        &fit_split(&files, &[64], "chain", dir.path()),
        &fit_split(&files, &days, "chain", dir.path()),
    );
    assert!(chain > 0, "chain mode gave identical rows: the split test would not detect a leak");
    // The mode is recorded in fit.json.
    let text = std::fs::read_to_string(dir.path().join("none_1_0/fit.json")).expect("fit.json");
    assert!(text.contains("\"warm_start\": \"none\""), "{}", &text[..400.min(text.len())]);
}

/// A two-day Tardis stream: continuous, and cut at 00:00 UTC into two day files.
fn tardis_days(dir: &Path) -> [PathBuf; 3] {
    let start_us = DAY0_MS * 1000;
    let mut g = TardisGen::new(11, start_us, 16, 120_000, 2 * DAY_MS * 1000);
    let names = ["continuous.csv", "day1.csv", "day2.csv"];
    let paths = names.map(|n| dir.join(n));
    let mut files = paths.clone().map(|p| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(p).expect("create"));
        f.write_all(HEADER.as_bytes()).expect("header");
        f
    });
    let mut buf = Vec::new();
    for _ in 0..120_000 {
        let u = g.next_update();
        buf.clear();
        g.write_row(&u, &mut buf);
        files[0].write_all(&buf).expect("row");
        let day = if u.local_us < start_us + DAY_MS * 1000 { 1 } else { 2 };
        files[day].write_all(&buf).expect("row");
    }
    for mut f in files {
        f.flush().expect("flush");
    }
    paths
}

#[test]
fn issue_17_tardis_day_files_with_the_halo_equal_the_continuous_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [all, day1, day2] = tardis_days(dir.path());
    let every = ["--every", "4h"];
    let continuous = fit(&[all], &every, &dir.path().join("all"));
    let mut per_day = fit(std::slice::from_ref(&day1), &every, &dir.path().join("d1"));
    let halo = ["--every", "4h", "--halo-from", day1.to_str().expect("utf-8 path")];
    per_day.extend(fit(std::slice::from_ref(&day2), &halo, &dir.path().join("d2")));
    assert!(continuous.iter().any(|(k, _)| k.contains("2026-01-06T00:00:00Z")), "no 00:00 fit");
    assert_eq!(continuous.len(), per_day.len(), "snapshots lost");
    assert_eq!(differing(&sorted(continuous), &sorted(per_day)), 0);
    // Without the halo the 00:00 chain of day 2 is lost (what the halo is for).
    let bare = fit(&[day2], &every, &dir.path().join("bare"));
    assert!(!bare.iter().any(|(k, _)| k.contains("2026-01-06T00:00:00Z")));
}
