//! `volfit hedge --report` on real snapshots (skipped with a notice when `../shared/data` is
//! absent): the page has the comparison table, one histogram per spec × delta × underlying
//! with VaR/ES marked, the bucket tables, and escapes a hostile spec name.

use std::process::Command;

#[test]
fn hedge_report_has_histograms_buckets_and_escapes_names() {
    let Some(data) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hedge.toml");
    std::fs::write(
        &config,
        "deltas = [\"smile\"]\nunderlyings = [\"BTC\"]\n[specs.'<script>alert(1)</script>']\nmodel = \"ssvi\"\n",
    )
    .unwrap();
    let out = dir.path().join("h");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_volfit"));
    cmd.args(["hedge", "--report", "-q", "--config"]).arg(&config).arg("--out").arg(&out);
    for f in [
        "deribit_options_snapshot_20260105T041127Z.csv.gz",
        "deribit_options_snapshot_20260105T092511Z.csv.gz",
        "deribit_options_snapshot_20260105T153329Z.csv.gz",
        "perpetual_futures_prices.csv.gz",
    ] {
        cmd.arg(data.join(f));
    }
    let run = cmd.output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<figure class=\"chart histogram\">").count(),
        1,
        "one spec × delta × BTC"
    );
    assert!(html.contains("−VaR95") && html.contains("−ES97.5"), "VaR/ES markers");
    assert!(html.contains("Hedging error by moneyness and maturity"));
    assert!(!html.contains("<script>"), "spec name must be escaped");
    assert!(html.contains("&lt;script&gt;"));
}
