//! `volfit hedge` through the binary: bad configuration values and flags (issue 15 item 3:
//! one rule set, errors naming the file, key and rule, or the flag), and what a run states
//! about its liquidity filter and funding (issue 14 item 7).

use std::process::{Command, Output};

fn hedge(args: &[&str], dir: &std::path::Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_volfit"));
    cmd.arg("hedge").args(args).arg("--out").arg(dir.join("out"));
    cmd.output().unwrap()
}

#[test]
fn bad_hedge_config_values_and_flags_are_errors_naming_file_key_or_flag() {
    // The config is checked before any input is read, so the (absent) snapshot file is
    // never opened. Before the fix `band = -0.5` and `hedge_taker = nan` were accepted
    // (NaN P&L, a table of zeros, exit 0).
    let dir = tempfile::tempdir().unwrap();
    let toml_rows: &[(&str, &[&str])] = &[
        ("band = -0.5\n", &["hedge.toml", "`band` = -0.5", "a finite number >= 0"]),
        ("[fees]\nhedge_taker = nan\n", &["hedge.toml", "`fees.hedge_taker` = NaN", "[0, 1]"]),
        ("horizon = 0\n", &["hedge.toml", "`horizon`", "at least 1"]),
        ("[liquidity]\nmax_abs_delta = 2.0\n", &["`liquidity.max_abs_delta`", "(0, 1]"]),
        ("[funding]\nrate_8h = inf\n", &["`funding.rate_8h`", "|rate| < 1"]),
    ];
    let config = dir.path().join("hedge.toml");
    for (toml, want) in toml_rows {
        std::fs::write(&config, toml).unwrap();
        let out = hedge(&["--config", config.to_str().unwrap(), "absent.csv"], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        for w in *want {
            assert!(err.contains(w), "{toml}: {err:?} lacks {w:?}");
        }
    }
    let flag_rows: &[(&[&str], &[&str])] = &[
        (&["--band=-1"], &["--band", "`band` = -1", "a finite number >= 0"]),
        (&["--band", "-1"], &["--band", ">= 0"]),
        (&["--horizon", "0"], &["--horizon", "at least 1"]),
        (&["--funding-rate", "NaN"], &["--funding-rate", "`funding.rate_8h`"]),
        (&["--delta", "smile,smile"], &["--delta", "no delta twice"]),
        (&["--funding-file", "btc.json"], &["--funding-file", "COIN=FILE"]),
    ];
    for (flags, want) in flag_rows {
        let mut args = flags.to_vec();
        args.push("absent.csv");
        let out = hedge(&args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        for w in *want {
            assert!(err.contains(w), "{flags:?}: {err:?} lacks {w:?}");
        }
    }
    assert!(!dir.path().join("out").exists(), "no output after a config error");
}

#[test]
fn hedge_json_states_the_liquidity_filter_and_funding() {
    let Some(data) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["-q", "--delta", "smile"];
        args.extend_from_slice(extra);
        let files: Vec<String> = [
            "deribit_options_snapshot_20260105T041127Z.csv.gz",
            "deribit_options_snapshot_20260105T092511Z.csv.gz",
            "deribit_options_snapshot_20260105T153329Z.csv.gz",
            "perpetual_futures_prices.csv.gz",
        ]
        .iter()
        .map(|f| data.join(f).display().to_string())
        .collect();
        args.extend(files.iter().map(String::as_str));
        let out = hedge(&args, dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(dir.path().join("out/hedge.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let on = run(&[]);
    let r = &on["result"];
    assert!(r["liquidity_filter"].as_str().unwrap().contains("10 vol pts"));
    assert_eq!(r["config"]["liquidity"]["enabled"], true);
    assert!(r["counts"]["liquidity_excluded"]["BTC"].as_u64().unwrap() > 0);
    assert!(r["funding"]["BTC"].as_str().unwrap().contains("default"));
    let off = run(&["--no-liquidity-filter", "--funding-rate", "0.0001"]);
    let r = &off["result"];
    assert!(r["liquidity_filter"].as_str().unwrap().starts_with("off"));
    assert_eq!(r["counts"]["liquidity_excluded"]["BTC"], 0);
    assert!(r["funding"]["ETH"].as_str().unwrap().contains("0.0001 per 8 h (configured)"));
}
