//! Hostile and unusual inputs through the CLI (issue 15): endless lines, files that are not
//! options in a glob, the Deribit website export, wrong time units, update streams without a
//! checkpoint, damaged gzip. Each fails with a message naming the file and the fix, or is
//! skipped with one notice line; none exits 0 with a silent wrong result.

use std::path::Path;
use std::process::{Command, Output};

fn volfit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
}

fn run(args: &[&str]) -> Output {
    volfit().args(args).output().expect("volfit runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const PERP: &str = "snapshot_file,snapshot_timestamp_ms,obs_datetime,coin,instrument_name,perp_futures_mark_price\n\
deribit_options_snapshot_20260105T041127Z.csv.gz,1767586287551,2026-01-05T04:11:27Z,BTC,BTC-PERPETUAL,92950.5\n";

fn synth(dir: &Path) -> String {
    let chain = dir.join("chain.csv");
    let o = volfit().args(["synth", "--seed", "3", "--quiet", "--out"]).arg(&chain).output();
    let o = o.expect("volfit runs");
    assert!(o.status.success(), "{}", stderr(&o));
    chain.to_string_lossy().into_owned()
}

#[test]
fn perpetual_file_in_a_glob_is_skipped_with_one_notice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = synth(dir.path());
    let perp = dir.path().join("perpetual_futures_prices.csv");
    std::fs::write(&perp, PERP).expect("write");
    let perp = perp.to_string_lossy().into_owned();
    let q = dir.path().join("q.csv").to_string_lossy().into_owned();
    let o = run(&["quotes", &chain, &perp, "--out", &q]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let notices: Vec<&str> =
        err.lines().filter(|l| l.contains("perpetual_futures_prices")).collect();
    assert_eq!(notices.len(), 1, "{err}");
    assert!(notices[0].starts_with("volfit: skipped ") && notices[0].contains("--perp"), "{err}");
    assert!(!err.contains("market::"), "{err}");
    let out = dir.path().join("fit").to_string_lossy().into_owned();
    let o = run(&["fit", &chain, &perp, "--out", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("volfit: skipped "), "{}", stderr(&o));
    // Only the perpetual file: nothing to read, exit 2, no output written.
    let q2 = dir.path().join("q2.csv");
    let o = run(&["quotes", &perp, "--out", &q2.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no option chain among the inputs"), "{}", stderr(&o));
    assert!(!q2.exists());
}

#[test]
fn deribit_website_export_needs_a_snapshot_time_and_gets_a_parity_forward() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../volfit/tests/data/deribit_web_export.csv")
        .to_string_lossy()
        .into_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let q = dir.path().join("quotes.csv").to_string_lossy().into_owned();
    let o = run(&["quotes", &fixture, "--out", &q]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("deribit_web_export.csv") && err.contains("--snapshot-time"), "{err}");
    // The README's command.
    let o = run(&["quotes", &fixture, "--snapshot-time", "2024-04-08T14:27:00Z", "--out", &q]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&q).expect("quotes written");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect("column");
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 14, "{text}");
    for r in &rows {
        assert_eq!(r[col("snapshot")], "2024-04-08T14:27:00Z");
        assert_eq!(r[col("forward_source")], "parity");
        let f: f64 = r[col("forward")].parse().expect("forward");
        assert!((f - 65_000.0).abs() < 15.0, "forward {f}");
    }
    // `-` bids are empty sides, kept one-sided.
    assert_eq!(rows.iter().filter(|r| r[col("bid")].is_empty()).count(), 2);
    let o = run(&[
        "quotes",
        &fixture,
        "--format",
        "deribit-web",
        "--snapshot-time",
        "2024-04-08T14:27:00Z",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn endless_line_fails_with_the_limit() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let o = run(&["quotes", "/dev/zero", "--out", "-"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("/dev/zero: line 1: longer than the limit of 1048576 bytes"), "{err}");
    assert!(err.contains("--max-line-bytes") && !err.contains("panicked"), "{err}");
    let o = run(&["quotes", "/dev/zero", "--max-line-bytes", "64K", "--out", "-"]);
    assert!(stderr(&o).contains("limit of 65536 bytes"), "{}", stderr(&o));
}

#[test]
fn epoch_seconds_under_the_default_unit_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("export.csv");
    std::fs::write(
        &p,
        "Time,Name,Bid,Ask,F\n1767586287,BTC-16JAN26-82000-C,0.1185,0.127,92962.85\n",
    )
    .expect("write");
    let p = p.to_string_lossy().into_owned();
    let map = "time=Time,instrument=Name,bid=Bid,ask=Ask,forward=F";
    let o = run(&["quotes", &p, "--map", map, "--out", "-"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    let err = stderr(&o);
    assert!(err.contains("line 2") && err.contains("--time-unit s"), "{err}");
    let o = run(&["quotes", &p, "--map", map, "--time-unit", "s", "--out", "-", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2026-01-05T04:11:27Z,BTC"));
}

#[test]
fn update_stream_without_a_checkpoint_names_every() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("tardis.csv");
    // Two updates ten minutes apart inside one hour (04:11 and 04:21 UTC).
    let header = "exchange,symbol,timestamp,local_timestamp,type,strike_price,expiration,open_interest,last_price,bid_price,bid_amount,bid_iv,ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,delta,gamma,vega,theta,rho";
    let row = |ts: i64| {
        format!("deribit,BTC-16JAN26-82000-C,{ts},{ts},call,82000,1768550400000000,2.3,0.12,0.1185,1.0,50.1,0.127,1.0,52.0,0.121,51.24,BTC-16JAN26,92962.85,0.9,0,22.8,-50,1")
    };
    let text =
        format!("{header}\n{}\n{}\n", row(1_767_586_287_000_000), row(1_767_586_887_000_000));
    std::fs::write(&p, text).expect("write");
    let p = p.to_string_lossy().into_owned();
    let o = run(&["quotes", &p, "--out", "-"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("tardis.csv: 2 updates but no as-of chain") && err.contains("--every"),
        "{err}"
    );
    assert!(err.contains("1h (the default)"), "{err}");
    let o = run(&["quotes", &p, "--every", "5m", "--out", "-", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn damaged_gzip_is_blamed_on_the_gzip_not_the_csv() {
    let Some(dir) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let src = dir.join("deribit_options_snapshot_20260105T041127Z.csv.gz");
    let mut bytes = std::fs::read(&src).expect("real snapshot");
    // Flipping bytes here made the old reader report "malformed CSV: expected 23 fields".
    for b in &mut bytes[20_000..20_040] {
        *b ^= 0x5a;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let p = tmp.path().join("damaged.csv.gz");
    std::fs::write(&p, bytes).expect("write");
    let o = run(&["quotes", &p.to_string_lossy(), "--out", "-"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("damaged.csv.gz: corrupt or truncated gzip stream"), "{err}");
    assert!(!err.contains("malformed CSV"), "{err}");
}
