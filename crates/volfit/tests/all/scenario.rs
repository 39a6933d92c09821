//! Scenario generation for allocation (issue 7 item 1): book parsing and errors, zero
//! scenarios, margin-grid monotonicity, put–call–forward parity per scenario,
//! reproducibility, the Monte Carlo martingale, and a real BTC+ETH run.

use std::path::Path;
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::{build as build_snapshot, read_path, ReadOptions, Snapshot};
use volfit::scenario::{build, Book, CandidateKind, ScenarioConfig, ScenarioError, ScenarioKind};

fn read_all(path: &Path) -> Vec<Snapshot> {
    let opts = ReadOptions::default();
    let mut snaps = Vec::new();
    read_path(path, &opts, &mut |raw| {
        snaps.push(build_snapshot(raw, &opts.clean).snapshot);
        Ok(())
    })
    .unwrap();
    snaps
}

/// Synthetic BTC and ETH chains.
fn synth() -> Vec<Snapshot> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for (coin, spot, seed) in [("BTC", 90_000.0, 42u64), ("ETH", 3_000.0, 43)] {
        let chain =
            generate(&SynthSpec { seed, underlying: coin.into(), spot, ..SynthSpec::default() });
        let path = dir.path().join(format!("{coin}.csv"));
        chain.write_csv(std::fs::File::create(&path).unwrap()).unwrap();
        out.extend(read_all(&path));
    }
    out
}

const BOOK: &str = r#"
[[select]]
coin = "BTC"
expiries = 2
strikes_per_expiry = 4
futures = true

[[select]]
coin = "ETH"
expiries = 2
strikes_per_expiry = 3
futures = true
perpetual = true
"#;

fn book(text: &str) -> Book {
    Book::from_toml(text, Path::new("candidates.toml")).unwrap()
}

fn mc(count: usize) -> ScenarioConfig {
    ScenarioConfig { kind: ScenarioKind::Heston, count, seed: 9, ..ScenarioConfig::default() }
}

#[test]
fn book_errors_name_file_line_and_field() {
    let cases = [
        ("[[instrument]]\nname = \"BTC-XYZ-1-Q\"\n", 2, "name"),
        ("[[instrument]]\nname = \"BTC-27MAR26\"\nmin = 5\nmax = 1\n", 2, "min"),
        ("[[select]]\ncoin = \"DOGE\"\n", 2, "coin"),
        ("[[select]]\ncoin = \"BTC\"\nstrikes = 3\n", 3, "strikes"),
        ("", 1, "instrument"),
    ];
    for (text, line, field) in cases {
        match Book::from_toml(text, Path::new("book.toml")) {
            Err(ScenarioError::Book { file, line: l, field: f, .. }) => {
                assert_eq!((file.as_str(), l, f.as_str()), ("book.toml", line, field), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let b = book("[[instrument]]\nname = \"ETH-PERPETUAL\"\nmax = 3\n");
    assert_eq!(b.instruments[0].max, Some(3.0));
}

#[test]
fn unknown_instrument_is_an_error_naming_the_line() {
    let snaps = synth();
    let b = book("[[select]]\ncoin = \"BTC\"\n\n[[instrument]]\nname = \"BTC-1JAN99-5-C\"\n");
    match build(&b, &mc(10), &snaps) {
        Err(ScenarioError::Book { line: 5, field, .. }) => assert_eq!(field, "name"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn selection_zero_moves_parity_and_margin() {
    let snaps = synth();
    let cfg = ScenarioConfig { horizon: "0d".into(), ..mc(64) };
    let set = build(&book(BOOK), &cfg, &snaps).unwrap();
    let n = set.candidates.len();
    // 2 BTC expiries × (4 strikes × 2 + future) + 2 ETH × (3 × 2 + future) + perpetual.
    assert_eq!(
        n,
        2 * 9 + 2 * 7 + 1,
        "{:?}",
        set.candidates.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    assert!(set.candidates.iter().all(|c| c.price_usd >= 0.0 && c.min < c.max));
    // Zero horizon: the Monte Carlo takes one zero-length step, so nothing moves.
    assert!(set.pnl.as_slice().iter().all(|v| v.abs() < 1e-9), "zero horizon must give zero P&L");

    let cfg = mc(256);
    let set = build(&book(BOOK), &cfg, &snaps).unwrap();
    let names: Vec<&str> = set.candidates.iter().map(|c| c.name.as_str()).collect();
    // Call − put − future = K-independent constant (0 at same forward) per scenario.
    let mut checked = 0;
    for (i, c) in set.candidates.iter().enumerate() {
        let CandidateKind::Option { is_call: true, .. } = c.kind else { continue };
        let put = c.name.replace("-C", "-P");
        let fut: String = c.name.split('-').take(2).collect::<Vec<_>>().join("-");
        let (Some(p), Some(f)) =
            (names.iter().position(|n| *n == put), names.iter().position(|n| *n == fut))
        else {
            continue;
        };
        for r in 0..set.pnl.rows() {
            let row = &set.pnl.as_slice()[r * n..(r + 1) * n];
            let scale = 1e-9 * row[f].abs().max(c.price_usd).max(1.0);
            assert!((row[i] - row[p] - row[f]).abs() <= scale.max(1e-6), "{} row {r}", c.name);
        }
        checked += 1;
    }
    assert!(checked >= 6, "parity checked on {checked} strikes");
    // Margin grid: a long call gains with the underlying, at every vol shock.
    for g in &set.margin {
        let col = set
            .candidates
            .iter()
            .position(|c| {
                c.coin == g.coin && matches!(c.kind, CandidateKind::Option { is_call: true, .. })
            })
            .unwrap();
        let n_vol = 3;
        for v in 0..n_vol {
            let pnl: Vec<f64> = (0..g.shocks.len() / n_vol)
                .map(|m| g.pnl_coin.as_slice()[(m * n_vol + v) * n + col])
                .collect();
            assert!(pnl.windows(2).all(|w| w[1] > w[0]), "{}: {pnl:?}", g.coin);
        }
        // Zero move, zero vol shock: zero margin P&L.
        let zero = g.shocks.iter().position(|s| *s == (0.0, 0.0)).unwrap();
        assert!(g.pnl_coin.as_slice()[zero * n..(zero + 1) * n].iter().all(|v| v.abs() < 1e-12));
        // Other coin's columns are zero.
        for (j, c) in set.candidates.iter().enumerate() {
            if c.coin != g.coin {
                assert!((0..g.shocks.len()).all(|r| g.pnl_coin.as_slice()[r * n + j] == 0.0));
            }
        }
    }
}

#[test]
fn monte_carlo_is_reproducible_and_a_martingale() {
    let snaps = synth();
    let b = book(BOOK);
    let a = build(&b, &mc(4000), &snaps).unwrap();
    let a2 = build(&b, &mc(4000), &snaps).unwrap();
    assert_eq!(a.pnl.as_slice(), a2.pnl.as_slice(), "same seed, same matrix");
    let other = build(&b, &ScenarioConfig { seed: 10, ..mc(4000) }, &snaps).unwrap();
    assert_ne!(a.pnl.as_slice(), other.pnl.as_slice());
    // Futures P&L has mean zero: within 4 standard errors.
    let n = a.candidates.len();
    let rows = a.pnl.rows();
    let mut checked = 0;
    for (j, c) in a.candidates.iter().enumerate() {
        if !matches!(c.kind, CandidateKind::Future { .. }) {
            continue;
        }
        let x: Vec<f64> = (0..rows).map(|r| a.pnl.as_slice()[r * n + j]).collect();
        let mean = x.iter().sum::<f64>() / rows as f64;
        let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (rows - 1) as f64).sqrt();
        assert!(sd > 0.0);
        assert!(mean.abs() < 4.0 * sd / (rows as f64).sqrt(), "{}: mean {mean} sd {sd}", c.name);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn historical_needs_several_snapshots() {
    let snaps = synth();
    let cfg = ScenarioConfig { kind: ScenarioKind::Historical, ..mc(10) };
    assert!(matches!(build(&book(BOOK), &cfg, &snaps), Err(ScenarioError::Data(_))));
}

#[test]
fn config_errors_are_named() {
    let snaps = synth();
    for cfg in [
        ScenarioConfig { horizon: "1y".into(), ..mc(10) },
        ScenarioConfig { count: 0, ..mc(10) },
        ScenarioConfig { correlation: Some(1.5), ..mc(10) },
    ] {
        assert!(
            matches!(build(&book(BOOK), &cfg, &snaps), Err(ScenarioError::Config(_))),
            "{cfg:?}"
        );
    }
    let parsed: ScenarioConfig =
        toml::from_str("kind = \"bates\"\ncount = 5\nhorizon = \"6h\"").unwrap();
    assert_eq!((parsed.kind, parsed.count), (ScenarioKind::Bates, 5));
    assert!((parsed.horizon_years().unwrap() - 0.25 / 365.0).abs() < 1e-15);
}

#[test]
fn real_btc_eth_book_historical_and_heston() {
    let Some(dir) = crate::support::shared_data("svcj_deribit_2026") else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("options_snapshot_202601"))
        .collect();
    files.sort();
    let snaps: Vec<Snapshot> = files.iter().flat_map(|p| read_all(p)).collect();
    assert!(snaps.len() >= 40, "{} snapshots", snaps.len());
    let b = book(BOOK);
    for kind in [ScenarioKind::Historical, ScenarioKind::Heston] {
        let cfg = ScenarioConfig { kind, count: 2000, ..ScenarioConfig::default() };
        let s1 = build(&b, &cfg, &snaps).unwrap();
        let s2 = build(&b, &cfg, &snaps).unwrap();
        assert_eq!(s1.pnl.as_slice(), s2.pnl.as_slice(), "{kind:?} reproducible");
        let rows = s1.pnl.rows();
        let probs = s1.probs.clone().unwrap_or_else(|| vec![1.0 / rows as f64; rows]);
        assert_eq!(probs.len(), rows);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        if kind == ScenarioKind::Historical {
            // Draws of the same steps are merged: far fewer rows, probabilities in 1/2000s.
            assert!(rows < 2000, "{rows}");
            assert!(probs.iter().all(|p| (p * 2000.0 - (p * 2000.0).round()).abs() < 1e-9));
        } else {
            assert_eq!(rows, 2000);
        }
        assert_eq!(s1.candidates.len(), 33, "{kind:?}");
        assert!(s1.pnl.as_slice().iter().all(|v| v.is_finite()));
        assert_eq!(s1.margin.len(), 2);
        // Scenarios move: the BTC future's P&L has a spread of at least 0.3 % of its price.
        let n = s1.candidates.len();
        let j = s1
            .candidates
            .iter()
            .position(|c| matches!(c.kind, CandidateKind::Future { .. }))
            .unwrap();
        let x: Vec<f64> = (0..rows).map(|r| s1.pnl.as_slice()[r * n + j]).collect();
        let mean: f64 = x.iter().zip(&probs).map(|(v, p)| v * p).sum();
        let var: f64 = x.iter().zip(&probs).map(|(v, p)| p * (v - mean).powi(2)).sum();
        assert!(var.sqrt() > 0.003 * 80_000.0, "{kind:?}: sd {}", var.sqrt());
        eprintln!("{kind:?}: {}", s1.provenance);
    }
}

/// Issue 14 item 6: the margin grid's coin P&L is what an inverse contract pays, checked
/// against a hand computation on every shock: an option's coin premium is revalued,
/// `V₁/F₁ − V₀/F₀` (Deribit's coin price is the Black-76 USD price over the expiry's
/// forward), a future of one coin of delta pays `(F₁ − F₀)/F₁`. The old grid took
/// `(V₁ − V₀)/S₁` for both.
#[test]
fn issue_14_margin_grid_is_coin_true() {
    use volfit::black::{price, OptionType};
    use volfit::scenario::{Coin, CoinSurface};
    let snaps = synth();
    let cfg = mc(16);
    let set = build(&book(BOOK), &cfg, &snaps).unwrap();
    let n = set.candidates.len();
    let g = set.margin.iter().find(|g| g.coin == Coin::Btc).unwrap();
    let surf = CoinSurface::at_last(Coin::Btc, &snaps).unwrap();
    let (mut options, mut futures) = (0, 0);
    for (j, c) in set.candidates.iter().enumerate().filter(|(_, c)| c.coin == Coin::Btc) {
        for (r, &(m, v)) in g.shocks.iter().enumerate() {
            let got = g.pnl_coin.as_slice()[r * n + j];
            let want = match c.kind {
                CandidateKind::Option { strike, expiry_t_years, is_call } => {
                    let e = surf.expiries.iter().find(|e| e.t == expiry_t_years).unwrap();
                    let kind = if is_call { OptionType::Call } else { OptionType::Put };
                    let (f0, f1) = (e.forward, e.forward * (1.0 + m));
                    let s0 = surf.vol(e.expiry_ms, strike, f0).unwrap();
                    let s1 = (surf.vol(e.expiry_ms, strike, f1).unwrap() * (1.0 + v)).max(0.01);
                    let v0 = price(kind, f0, strike, expiry_t_years, s0);
                    let v1 = price(kind, f1, strike, expiry_t_years, s1);
                    options += 1;
                    v1 / f1 - v0 / f0
                }
                CandidateKind::Future { .. } => {
                    futures += 1;
                    m / (1.0 + m)
                }
                CandidateKind::Perpetual => m / (1.0 + m),
            };
            assert!((got - want).abs() <= 1e-12, "{} shock ({m}, {v}): {got} vs {want}", c.name);
        }
    }
    assert!(options >= 8 * 27 && futures >= 2 * 27, "{options} option and {futures} future cells");
}
