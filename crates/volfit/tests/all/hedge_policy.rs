//! Issue 19 items 4–5: a trained deep-hedging policy replayed as the hedge method `policy`
//! of the backtest. A no-transaction band of zero width is the Black hedge, so its P&L must
//! equal the `black` method's on the same synthetic path (calls and puts by parity, short
//! and long, USD and coin); the features follow the documented normalisation; headers the
//! backtest cannot use are refused naming the field.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::BTreeMap;
use volfit::deephedge::{Accounting, Claim, LoadedPolicy, ReplayPolicy};
use volfit::hedge::{
    hedge_path, hedge_path_with, DeltaKind, Deltas, FeeSchedule, HedgeSource, Obs, PathPolicy,
    PolicyPath, Step,
};
use volfit::market::OptionType;
use volfit_nn::{Activation, Architecture, Network, Normalization, Precision};

const DAY_MS: i64 = 86_400_000;

/// The bytes of a policy file as `volfit deephedge train` writes it: network `arch` with
/// `params`, and the header fields `policy`, `features` and `claim`.
fn policy_file(
    kind: &str,
    arch: Architecture,
    params: Vec<f64>,
    claim: serde_json::Value,
) -> Vec<u8> {
    let names = &volfit::deephedge::features::NAMES[..arch.inputs];
    policy_file_with(kind, arch, params, claim, names, None)
}

/// [`policy_file`] with the feature names `names` and, when given, the header field
/// `parametrisation`.
fn policy_file_with(
    kind: &str,
    arch: Architecture,
    params: Vec<f64>,
    claim: serde_json::Value,
    names: &[&str],
    parametrisation: Option<&str>,
) -> Vec<u8> {
    let norm = Normalization::identity(arch.inputs, arch.outputs);
    let net = Network::new(arch, params, norm).unwrap();
    let mut extra = BTreeMap::new();
    extra.insert("policy".to_string(), serde_json::json!(kind));
    extra.insert("features".to_string(), serde_json::json!(names));
    extra.insert("claim".to_string(), claim);
    if let Some(p) = parametrisation {
        extra.insert("parametrisation".to_string(), serde_json::json!(p));
    }
    net.to_safetensors(Precision::F64, None, extra).unwrap()
}

fn claim(accounting: Accounting) -> serde_json::Value {
    let c = Claim {
        strike: 1.0,
        maturity: 30.0 / 365.0,
        cost: 5e-4,
        funding: 0.0,
        accounting,
        black_vol: 0.5,
    };
    serde_json::to_value(c).unwrap()
}

/// A no-transaction band 3 → 4 → 2 with zero weights and output biases `bias` (half-widths
/// `softplus(bias)`: exactly 0 at −1000).
fn ntb(accounting: Accounting, bias: f64) -> ReplayPolicy {
    let arch = Architecture::new(3, &[4], 2, Activation::Elu);
    let mut params = vec![0.0; (3 + 1) * 4 + (4 + 1) * 2];
    let n = params.len();
    params[n - 2..].iter_mut().for_each(|b| *b = bias);
    let bytes = policy_file("ntb", arch, params, claim(accounting));
    ReplayPolicy::new(LoadedPolicy::from_bytes(&bytes, "ntb.safetensors").unwrap(), "ntb", None)
        .unwrap()
}

/// A seeded synthetic replay: 12 observations 6 h apart of an option on a GBM forward
/// (σ = 0.6), marked at Black with a vol that drifts from 0.55 to 0.66, hedged in a
/// perpetual 0.3 % below the forward; the last observation settles (`settle`) or not.
fn replay(kind: OptionType, strike: f64, settle: bool) -> (Vec<Obs>, Vec<Step>, i64) {
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let expiry_ms = if settle { 66 * DAY_MS / 24 } else { 20 * DAY_MS };
    let (mut f, mut obs, mut steps) = (100_000.0, Vec::new(), Vec::new());
    for j in 0..12i64 {
        let time_ms = j * DAY_MS / 4;
        let vol = 0.55 + 0.01 * j as f64;
        let t = (expiry_ms - time_ms) as f64 / (365.0 * DAY_MS as f64);
        let settled = settle && j == 11;
        let deltas =
            if settled { Deltas::default() } else { Deltas::new(kind, f, strike, t, vol, 0.0) };
        let value = if settled { (kind.sign() * (f - strike)).max(0.0) } else { deltas.price };
        let quote = (!settled).then_some((value * 1.01, value * 1.01 / f));
        let bid = (!settled).then_some((value * 0.99, value * 0.99 / f));
        obs.push(Obs {
            time_ms,
            forward: f,
            value,
            value_coin: value / f,
            bid,
            ask: quote,
            deltas,
            settled,
        });
        if j < 11 {
            let z: f64 = StandardNormal.sample(&mut rng);
            let f1 = f * (0.6 * (0.25f64 / 365.0).sqrt() * z).exp();
            let (p0, p1) = (f * 0.997, f1 * 0.997);
            steps.push(Step { p0, p1, source: HedgeSource::Perpetual, funding: 1e-4 });
            f = f1;
        }
    }
    (obs, steps, expiry_ms)
}

fn run_policy(
    p: &ReplayPolicy,
    kind: OptionType,
    strike: f64,
    qty: f64,
    settle: bool,
) -> volfit::hedge::PathPnl {
    let (obs, steps, expiry_ms) = replay(kind, strike, settle);
    let fees = FeeSchedule::default();
    let mut hedger = p.hedger(PolicyPath { kind, strike, expiry_ms, qty }, &obs);
    hedge_path_with(&obs, &steps, qty, None, &fees, |i, o, s, h| hedger(i, o, s, h))
}

#[test]
fn zero_width_band_policy_is_the_black_method() {
    // Tolerance: the policy's hedge is the Black delta through the parity offset and unit
    // conversions and back, exact to a few ulp; 1e-9 relative on the P&L.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let fees = FeeSchedule::default();
    for (accounting, method) in
        [(Accounting::Usd, DeltaKind::Black), (Accounting::Coin, DeltaKind::PremiumAdjusted)]
    {
        let p = ntb(accounting, -1000.0);
        for (kind, strike) in [
            (OptionType::Call, 105_000.0),
            (OptionType::Put, 95_000.0),
            (OptionType::Put, 104_000.0),
        ] {
            for qty in [-1.0, 2.0] {
                for settle in [false, true] {
                    let (obs, steps, _) = replay(kind, strike, settle);
                    let want = hedge_path(&obs, &steps, qty, method, None, &fees);
                    let got = run_policy(&p, kind, strike, qty, settle);
                    let what =
                        format!("{accounting:?} {kind:?} K={strike} q={qty} settle={settle}");
                    for (g, w) in [
                        (got.pnl_usd_net, want.pnl_usd_net),
                        (got.pnl_coin_net, want.pnl_coin_net),
                        (got.turnover, want.turnover),
                        (got.funding_usd, want.funding_usd),
                    ] {
                        assert!(close(g, w), "{what}: {g} vs {w}");
                    }
                    assert_eq!(got.trades, want.trades, "{what}");
                }
            }
        }
    }
}

/// Feed-forward policies over the base features and the Black delta (no hidden layer)
/// that are the Black hedge: `delta_plus` with a zero network (`h = δ + 0`), and `hedge`
/// with weight 1 on the `black_delta` feature (`h = x_δ`, so the feature must be the
/// observation's Black hedge in network units, put and coin offsets included).
fn ff_black(accounting: Accounting) -> [ReplayPolicy; 2] {
    let arch = || Architecture { hidden: vec![], ..Architecture::new(4, &[], 1, Activation::Elu) };
    let names = volfit::deephedge::Inputs { vol: false, delta: true }.names();
    let file = |p: &str, params: Vec<f64>| {
        let bytes = policy_file_with("ff", arch(), params, claim(accounting), &names, Some(p));
        let loaded = LoadedPolicy::from_bytes(&bytes, "ff.safetensors").unwrap();
        ReplayPolicy::new(loaded, "ff", None).unwrap()
    };
    [file("delta_plus", vec![0.0; 5]), file("hedge", vec![0.0, 0.0, 0.0, 1.0, 0.0])]
}

#[test]
fn black_delta_feature_and_delta_plus_policies_replay_like_the_black_method() {
    // Tolerance as the zero-width band's: conversions to network units and back.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let fees = FeeSchedule::default();
    for (accounting, method) in
        [(Accounting::Usd, DeltaKind::Black), (Accounting::Coin, DeltaKind::PremiumAdjusted)]
    {
        for (j, p) in ff_black(accounting).iter().enumerate() {
            for (kind, strike) in [(OptionType::Call, 105_000.0), (OptionType::Put, 95_000.0)] {
                for qty in [-1.0, 2.0] {
                    let (obs, steps, _) = replay(kind, strike, true);
                    let want = hedge_path(&obs, &steps, qty, method, None, &fees);
                    let got = run_policy(p, kind, strike, qty, true);
                    let what = format!("{accounting:?} policy {j} {kind:?} q={qty}");
                    for (g, w) in [
                        (got.pnl_usd_net, want.pnl_usd_net),
                        (got.pnl_coin_net, want.pnl_coin_net),
                        (got.turnover, want.turnover),
                    ] {
                        assert!(close(g, w), "{what}: {g} vs {w}");
                    }
                    assert_eq!(got.trades, want.trades, "{what}");
                }
            }
        }
    }
    let [d, _] = ff_black(Accounting::Usd);
    assert_eq!(d.describe()["parametrisation"], "delta_plus");
    assert_eq!(d.describe()["features"][3], "black_delta");
}

#[test]
fn feed_forward_headers_with_a_bad_parametrisation_or_feature_set_are_refused() {
    let arch = || Architecture::new(4, &[3], 1, Activation::Elu);
    let params = || vec![0.0; (4 + 1) * 3 + 3 + 1];
    let base = volfit::deephedge::features::NAMES[..3].to_vec();
    let with = |extra: &'static str| base.iter().copied().chain([extra]).collect::<Vec<_>>();
    let delta = with("black_delta");
    let load = |kind: &str, a: Architecture, p: Vec<f64>, names: &[&str], par: Option<&str>| {
        let bytes = policy_file_with(kind, a, p, claim(Accounting::Usd), names, par);
        LoadedPolicy::from_bytes(&bytes, "p.safetensors")
    };
    // Files written before the field: the plain output.
    let old = load("ff", arch(), params(), &delta, None).unwrap();
    assert_eq!(old.policy.parametrisation(), volfit::deephedge::Parametrisation::Hedge);
    assert!(old.policy.inputs().delta && !old.policy.inputs().vol);
    let ntb_arch = Architecture::new(4, &[3], 2, Activation::Elu);
    let ntb_params = vec![0.0; (4 + 1) * 3 + (3 + 1) * 2];
    let swapped = ["log_moneyness/(black_vol*sqrt(T))", "time_to_expiry/T", "prev_hedge"]
        .into_iter()
        .chain(["black_delta", "volatility/black_vol"])
        .collect::<Vec<_>>();
    let five = Architecture::new(5, &[3], 1, Activation::Elu);
    let five_params = vec![0.0; (5 + 1) * 3 + 3 + 1];
    for (e, field) in [
        (load("ff", arch(), params(), &delta, Some("delta_minus")), "parametrisation"),
        (load("ntb", ntb_arch, ntb_params, &delta, Some("delta_plus")), "parametrisation"),
        (load("ff", five, five_params, &swapped, Some("hedge")), "features"),
        (load("ff", arch(), params(), &with("gamma"), None), "features"),
    ] {
        let e = e.unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
}

#[test]
fn wide_band_policy_never_trades_and_narrow_band_trades_less_than_black() {
    // Band half-widths softplus(20) ≈ 20 hedge units: the opening hedge 0 lies inside, so
    // the policy never trades and its P&L is the unhedged one.
    let (obs, steps, _) = replay(OptionType::Call, 100_000.0, false);
    let wide = run_policy(&ntb(Accounting::Usd, 20.0), OptionType::Call, 100_000.0, -1.0, false);
    assert_eq!((wide.trades, wide.turnover), (0, 0.0));
    assert!((wide.pnl_usd - wide.unhedged_usd - wide.funding_usd).abs() < 1e-9);
    // softplus(−4) ≈ 0.018: rebalances only when delta leaves the band.
    let narrow = run_policy(&ntb(Accounting::Usd, -4.0), OptionType::Call, 100_000.0, -1.0, false);
    let black = hedge_path(&obs, &steps, -1.0, DeltaKind::Black, None, &FeeSchedule::default());
    assert!(narrow.turnover < black.turnover, "{} vs {}", narrow.turnover, black.turnover);
    assert!(narrow.trades > 0);
}

#[test]
fn feed_forward_features_follow_the_training_normalisation() {
    // A linear FF net h = x₀ + 2·x₁ (no hidden layer) on a short call: the first target is
    // −q·h·F/P with x₀ = ln(F/K)/(σ_e·√T_e) and x₁ = τ/T_e = 1 at entry.
    let arch = Architecture { hidden: vec![], ..Architecture::new(3, &[], 1, Activation::Elu) };
    let bytes = policy_file("ff", arch, vec![1.0, 2.0, 0.0, 0.0], claim(Accounting::Usd));
    let loaded = LoadedPolicy::from_bytes(&bytes, "ff.safetensors").unwrap();
    let p = ReplayPolicy::new(loaded, "ff", Some(Accounting::Usd)).unwrap();
    let (obs, steps, expiry_ms) = replay(OptionType::Call, 97_000.0, false);
    let path = PolicyPath { kind: OptionType::Call, strike: 97_000.0, expiry_ms, qty: -1.0 };
    let mut hedger = p.hedger(path, &obs);
    let (o, s) = (&obs[0], &steps[0]);
    let t_e = (expiry_ms - o.time_ms) as f64 / (365.0 * DAY_MS as f64);
    let x0 = (o.forward / 97_000.0).ln() / (o.deltas.vol * t_e.sqrt());
    let want = (x0 + 2.0) * o.forward / s.p0;
    let got = hedger(0, o, s, 0.0);
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    // Later: x₁ = τ/T_e < 1 on the same entry scales.
    let (o, s) = (&obs[4], &steps[4]);
    let tau = (expiry_ms - o.time_ms) as f64 / (365.0 * DAY_MS as f64);
    let x0 = (o.forward / 97_000.0).ln() / (obs[0].deltas.vol * t_e.sqrt());
    let want = (x0 + 2.0 * tau / t_e) * o.forward / s.p0;
    assert!((hedger(4, o, s, 0.3) - want).abs() < 1e-12);
}

#[test]
fn incompatible_policy_headers_are_refused_naming_the_field() {
    let arch = || Architecture::new(3, &[4], 2, Activation::Elu);
    let params = || vec![0.0; 26];
    let load = |kind: &str, claim: serde_json::Value| {
        LoadedPolicy::from_bytes(&policy_file(kind, arch(), params(), claim), "p.safetensors")
    };
    let mut bad_accounting = claim(Accounting::Usd);
    bad_accounting["accounting"] = serde_json::json!("eur");
    let mut put = claim(Accounting::Usd);
    put["option_type"] = serde_json::json!("put");
    let mut no_vol = claim(Accounting::Usd);
    no_vol.as_object_mut().unwrap().remove("black_vol");
    for (kind, c, field) in [
        ("ntb", bad_accounting, "claim.accounting"),
        ("ntb", put, "claim.option_type"),
        ("ntb", no_vol, "claim.black_vol"),
        ("black_delta", claim(Accounting::Usd), "policy"),
        ("ff", claim(Accounting::Usd), "architecture"),
    ] {
        let e = load(kind, c).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with("p.safetensors: header field `") && msg.contains(field), "{msg}");
    }
    // The backtest asks for coin accounting, the policy was trained in USD.
    let loaded = load("ntb", claim(Accounting::Usd)).unwrap();
    let e = ReplayPolicy::new(loaded, "p.safetensors", Some(Accounting::Coin)).unwrap_err();
    assert_eq!(e.field, "claim.accounting");
    assert!(e.to_string().contains("trained in usd accounting, the backtest asks for coin"), "{e}");
}

/// Four synthetic snapshots 6 h apart (`volfit synth` chains, spot 90,000 → 91,800).
fn synthetic_run() -> Vec<volfit::market::Snapshot> {
    use volfit::market::synth::SynthSpec;
    let dir = tempfile::tempdir().unwrap();
    let spots = [90_000.0, 91_100.0, 90_400.0, 91_800.0];
    let spec = |j: usize, spot| {
        let time_ms = SynthSpec::default().time_ms + j as i64 * DAY_MS / 4;
        SynthSpec { seed: 42 + j as u64, time_ms, spot, ..SynthSpec::default() }
    };
    let name = |j: usize| format!("s{j}.csv");
    spots
        .into_iter()
        .enumerate()
        .map(|(j, s)| crate::chains::synthetic(dir.path(), &name(j), &spec(j, s)))
        .collect()
}

#[test]
fn zero_width_policy_replays_like_black_through_the_backtest() {
    use volfit::hedge::{backtest_policy, FundingHistory, HedgeConfig};
    let cfg = HedgeConfig {
        deltas: vec![DeltaKind::Black, DeltaKind::Policy],
        quantity: -1.0,
        ..HedgeConfig::default()
    };
    let policy = ntb(Accounting::Usd, -1000.0);
    let snaps = synthetic_run();
    let out = backtest_policy(&snaps, &[], &FundingHistory::default(), &cfg, Some(&policy));
    let (black, pol): (Vec<_>, Vec<_>) =
        out.paths.iter().partition(|p| p.delta == DeltaKind::Black);
    assert!(black.len() > 20 && black.len() == pol.len(), "{} vs {}", black.len(), pol.len());
    let puts = black.iter().filter(|p| p.kind == OptionType::Put).count();
    assert!(puts > 0 && puts < black.len(), "calls and puts: {puts} puts");
    // Same order (sorted by spec, delta, underlying, instrument, entry): row by row.
    for (b, p) in black.iter().zip(&pol) {
        assert_eq!((&b.instrument, &b.entry, b.n_obs), (&p.instrument, &p.entry, p.n_obs));
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1.0);
        assert!(
            close(p.pnl_usd_net, b.pnl_usd_net),
            "{}: {} vs {}",
            b.instrument,
            p.pnl_usd_net,
            b.pnl_usd_net
        );
        assert!(close(p.pnl_coin_net, b.pnl_coin_net) && close(p.turnover, b.turnover));
        assert!(close(p.entry_delta, b.entry_delta), "{} vs {}", p.entry_delta, b.entry_delta);
    }
    // The ES table pairs them: the policy's difference to black is 0 in every bucket.
    let rows: Vec<_> = out.es_by_maturity.iter().filter(|r| r.delta == DeltaKind::Policy).collect();
    assert!(!rows.is_empty());
    for r in rows {
        assert!(
            r.paired == r.paths && r.diff_vs_black.abs() < 1e-6 * r.es975.abs().max(1.0),
            "{r:?}"
        );
    }
    assert_eq!(out.policy.as_ref().unwrap()["policy"], "ntb");
}
