//! Issue 14 items 3, 4, 11, 12: butterfly and calendar labels that hold between grid nodes
//! and in the wings, Lee's wing bound enforced in SVI fits, far-OTM Heston prices from
//! their own side, and a fit status that is visible.

use volfit::black;
use volfit::fit::{fit_snapshot, FitSpec, ModelKind, ViolationWhere};
use volfit::market::{Expiry, ForwardSource, OptionType, Quote, Snapshot};
use volfit::model::{
    check_butterfly, check_calendar, check_svi_butterfly, check_svi_calendar, fill_grid,
    svi_calendar_min, svi_g_min, CharacteristicFn, Heston, Smile, Svi,
};

const F: f64 = 90_000.0;

/// The 161-point grid of k ∈ [−2, 2] the labels used to be checked on (step 0.025).
fn report_grid() -> Vec<f64> {
    let mut ks = vec![0.0; 161];
    fill_grid(-2.0, 2.0, &mut ks);
    ks
}

/// A one-underlying snapshot whose OTM quotes at expiries `ts` have mid IV `vol(k, t)` on
/// 25 strikes over ±`width`·0.6·√t in k, with a 1-vol-point spread.
fn snapshot(vol: &dyn Fn(f64, f64) -> f64, ts: &[f64], width: f64) -> Snapshot {
    let expiries = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let sd = 0.6 * t.sqrt();
            let quotes = (-12..=12)
                .map(|j| {
                    let k = width * sd * f64::from(j) / 12.0;
                    let strike = F * k.exp();
                    let kind = if strike < F { OptionType::Put } else { OptionType::Call };
                    let mid = vol(k, t);
                    let (bid_iv, ask_iv) = (mid - 0.005, mid + 0.005);
                    let bid = black::price(kind, F, strike, t, bid_iv);
                    let ask = black::price(kind, F, strike, t, ask_iv);
                    Quote {
                        instrument: format!("SYN-{i}-{strike:.0}-{}", kind.letter()),
                        strike,
                        kind,
                        bid: Some(bid),
                        ask: Some(ask),
                        bid_coin: None,
                        ask_coin: None,
                        mark: None,
                        mark_iv: None,
                        bid_iv: Some(bid_iv),
                        ask_iv: Some(ask_iv),
                        mid_iv: black::implied_vol(kind, 0.5 * (bid + ask), F, strike, t).ok(),
                        bid_size: None,
                        ask_size: None,
                        open_interest: Some(10.0),
                        volume: None,
                        row_forward: F,
                        t,
                    }
                })
                .collect();
            Expiry {
                expiry_ms: 1_800_000_000_000 + (t * 365.0 * 86_400_000.0) as i64,
                t,
                forward: F,
                forward_source: ForwardSource::Underlying,
                quotes,
            }
        })
        .collect();
    Snapshot { time_ms: 1_800_000_000_000, underlying: "SYN".into(), index: Some(F), expiries }
}

#[test]
fn lee_break_is_a_butterfly_violation_in_the_extrapolation() {
    // Right wing slope b(1 + ρ) = 2.4 > 2: g(+∞) = 1/4 − 2.4²/16 = −0.11 (Lee 2004), yet g
    // is positive on the report grid [−2, 2], where the old label looked (a high level a
    // keeps k·w'/(2w) small there).
    let s = Svi::new(5.0, 1.8, 0.3334, 0.0, 0.3).unwrap();
    assert!(!s.lee_ok());
    assert!(check_butterfly(&s, 1.0, &report_grid()).is_none(), "clean on the old grid");
    let v = check_svi_butterfly(&s, 1.0, f64::NEG_INFINITY, f64::INFINITY).expect("violation");
    assert!(v.k > 2.0 && v.value < 0.0, "{v:?}");
    assert!(check_svi_butterfly(&s, 1.0, -2.0, 2.0).is_none());
    // g's limit is approached from the nodes far out: the reported value is near it.
    let slope = 1.8 * 1.3334;
    assert!((v.value - (0.25 - slope * slope / 16.0)).abs() < 1e-3, "{v:?}");
}

#[test]
fn narrow_butterfly_dip_between_grid_nodes_is_found() {
    // A nearly kinked smile (σ = 2e-4) centred between two nodes of the 0.025-step grid:
    // w'' = bσ²/r³ is large only within ~σ of m, so g < 0 (from the −w'²/4·(1/w) term with
    // w small) there only... the check must minimise g between nodes.
    let s = Svi::new(1e-6, 0.2, 0.0, 0.0125, 2e-4).unwrap();
    let (k, g) = svi_g_min(&s, -2.0, 2.0);
    let grid_min = report_grid().iter().map(|&k| s.durrleman_g(k)).fold(f64::INFINITY, f64::min);
    // Brute force on a grid 10⁴ times finer than the report's.
    let mut fine = vec![0.0; 1_600_001];
    fill_grid(-2.0, 2.0, &mut fine);
    let brute = fine.iter().map(|&k| s.durrleman_g(k)).fold(f64::INFINITY, f64::min);
    assert!(g <= brute + 1e-9 * brute.abs().max(1.0), "g_min {g} at {k} vs brute force {brute}");
    if brute < 0.0 {
        assert!(check_svi_butterfly(&s, 1.0, -2.0, 2.0).is_some());
    }
    assert!(g <= grid_min);
}

#[test]
fn calendar_crossing_between_grid_nodes_is_found_exactly() {
    // s0 flat at 0.04; s1 a narrow V (σ = 1e-4) at k = 0.0125, halfway between two nodes of
    // the report grid: above s0 at every node (+7.5e-4 at the nearest), below it at the tip
    // (Δw(0.0125) = −5e-4 + 0.1·1e-4 = −4.9e-4).
    let s0 = Svi::new(0.04, 0.0, 0.0, 0.0, 1.0).unwrap();
    let s1 = Svi::new(0.04 - 5e-4, 0.1, 0.0, 0.0125, 1e-4).unwrap();
    assert!(check_calendar(&[(0.5, s0), (1.0, s1)], &report_grid()).is_none(), "old grid");
    let v = check_svi_calendar(&s0, (1.0, &s1), -2.0, 2.0).expect("crossing");
    assert!((v.k - 0.0125).abs() < 1e-7, "{v:?}");
    assert!((v.value - (-5e-4 + 0.1 * 1e-4)).abs() < 1e-12, "{v:?}");
    // Against brute force on random-looking smooth pairs: the minimum is exact to 1e-12.
    let a = Svi::new(0.03, 0.4, -0.4, 0.1, 0.15).unwrap();
    let b = Svi::new(0.035, 0.35, -0.2, 0.05, 0.1).unwrap();
    let (_, exact) = svi_calendar_min(&a, &b, -2.0, 2.0);
    let mut fine = vec![0.0; 2_000_001];
    fill_grid(-2.0, 2.0, &mut fine);
    let brute = fine
        .iter()
        .map(|&k| b.total_variance(k) - a.total_variance(k))
        .fold(f64::INFINITY, f64::min);
    assert!(exact <= brute + 1e-12 && exact >= brute - 1e-9, "{exact} vs {brute}");
}

#[test]
fn svi_fit_keeps_lee_bound_where_the_quotes_ask_for_steeper_wings() {
    // Quotes from an SVI whose right wing slope is 2.4 (b = 1.6, ρ = 0.5), over ±1.5 sd:
    // an unconstrained fit follows them past Lee's bound. The fit must keep
    // b(1 + |ρ|) ≤ 2 and label what it returns truthfully.
    let truth = Svi::new(0.01, 1.6, 0.5, 0.1, 0.2).unwrap();
    let snap = snapshot(&|k, t| (truth.total_variance(k) / t).sqrt(), &[0.5], 2.5);
    let r = fit_snapshot(&snap, &FitSpec { model: ModelKind::Svi, ..FitSpec::default() }, None);
    assert_eq!(r.fit.expiries.len(), 1, "{:?}", r.fit.skipped);
    let e = &r.fit.expiries[0];
    let (b, rho) = (e.params["b"], e.params["rho"]);
    assert!(b * (1.0 + rho.abs()) <= 2.0, "b = {b}, rho = {rho}");
    let p = |n: &str| e.params[n];
    let s = Svi::new(p("a"), p("b"), p("rho"), p("m"), p("sigma")).unwrap();
    let exact = check_svi_butterfly(&s, e.t, f64::NEG_INFINITY, f64::INFINITY);
    assert_eq!(e.arbitrage.butterfly_ok, exact.is_none());
    assert_eq!(e.arbitrage.butterfly_where == ViolationWhere::None, exact.is_none());
}

#[test]
fn fit_status_is_visible_and_an_empty_snapshot_is_no_data() {
    let truth = Svi::new(0.02, 0.2, -0.3, 0.0, 0.2).unwrap();
    let snap = snapshot(&|k, t| (truth.total_variance(k) * t / 0.5 / t).sqrt(), &[0.25, 0.5], 2.0);
    // One iteration cannot converge: flagged.
    let spec = FitSpec { model: ModelKind::Svi, max_iters: 1, ..FitSpec::default() };
    let r = fit_snapshot(&snap, &spec, None);
    assert!(!r.fit.expiries.is_empty());
    assert!(r.fit.expiries.iter().any(|e| !e.converged), "max_iters 1 flagged");
    let r = fit_snapshot(&snap, &FitSpec { model: ModelKind::Svi, ..FitSpec::default() }, None);
    assert!(r.fit.expiries.iter().all(|e| e.converged == e.stop.converged()));
    // Every expiry under min_t: nothing fitted, "no data" (not a violation), and the skip
    // names the filter.
    for model in [ModelKind::Svi, ModelKind::Ssvi] {
        let mut spec = FitSpec { model, ..FitSpec::default() };
        spec.filter.min_t = 2.0;
        let r = fit_snapshot(&snap, &spec, None);
        assert!(r.fit.expiries.is_empty());
        let a = &r.fit.arbitrage;
        assert!(a.butterfly_ok && a.calendar_ok, "{model:?}: {a:?}");
        assert_eq!(a.worst.as_deref(), Some("no data"));
        assert!(r.fit.skipped.iter().all(|s| s.contains("min_t")), "{:?}", r.fit.skipped);
    }
}

#[test]
fn heston_far_otm_prices_are_positive_with_finite_ivs() {
    // References: the Lewis integral of QuantLib's Heston characteristic function (the
    // "little trap" form of AnalyticHestonEngine) evaluated with mpmath at 60 digits, on the
    // contour β = ½ and on the OTM side's own contour (β = 3 calls, −2 puts); the two agree to
    // all 17 digits printed. QuantLib 1.44's AnalyticHestonEngine itself gives −1.03e-17 for
    // the k = 1 call of this model (the same cancellation).
    let h = Heston::new(0.04, 1.5, 0.04, 0.5, -0.7).unwrap();
    let t = 0.2;
    let refs = [
        // (k, OTM price, relative tolerance: what the wing contours reach here; the old
        // 1 − √K/π·I carried ~1e-16 absolute, i.e. 4e-5 relative at k = 0.5 and nothing at 0.7)
        (0.5, 2.604_281_135_784_230e-12, 1e-5),
        (0.7, 2.018_586_614_128_154e-17, 0.05),
        (-0.8, 5.363_047_071_568_334e-8, 1e-11),
        (-1.2, 2.708_742_808_713_283e-11, 1e-8),
    ];
    let ks: Vec<f64> = refs.iter().map(|r| r.0).collect();
    let mut otm = vec![0.0; ks.len()];
    let mut work = vec![num_complex::Complex64::from(0.0); ks.len()];
    h.otm_prices(t, &ks, &mut otm, &mut work);
    for ((k, reference, tol), got) in refs.iter().zip(&otm) {
        assert!(*got > 0.0, "k = {k}: {got}");
        assert!((got / reference - 1.0).abs() < *tol, "k = {k}: {got} vs {reference}");
        let kind = if *k >= 0.0 { OptionType::Call } else { OptionType::Put };
        let iv_ref = black::implied_vol(kind, *reference, 1.0, k.exp(), t).unwrap();
        let w = h.smile(t).total_variance(*k);
        assert!(w.is_finite() && w > 0.0, "k = {k}: w = {w}");
        assert!(((w / t).sqrt() - iv_ref).abs() < 1e-3, "k = {k}: {} vs {iv_ref}", (w / t).sqrt());
    }
}
