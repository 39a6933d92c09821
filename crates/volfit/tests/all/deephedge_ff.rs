//! Issue 19, the feed-forward policy's zero-cost Black–Scholes limit: with the Black delta
//! as a feature and the network learning a correction to it (`delta_plus`), a short
//! training recovers the Black hedge within the 0.02 and 2 %; the untrained
//! `delta_plus` policy is the Black hedge exactly; the new feature and output have exact
//! gradients.

use crate::deephedge::{claim, zero_cost_claim, HESTON};
use volfit::deephedge::{
    evaluate, mean_abs_from_black, simulate_policy, train, Accounting, Criterion, Dynamics,
    EntropicForm, HedgeObjective, HedgeProblem, Inputs, Parametrisation, Paths, Policy, PolicyKind,
    Term, TrainSpec, Unroll,
};
use volfit_nn::Activation;
use volfit_optim::check::check_gradient;
use volfit_optim::stochastic::FullBatch;

const BOTH: Inputs = Inputs { vol: true, delta: true };

fn ff(inputs: Inputs, p: Parametrisation, hidden: &[usize]) -> Policy {
    Policy::with_inputs(PolicyKind::FeedForward, hidden, Activation::Elu, inputs, 1.0)
        .unwrap()
        .parametrised(p)
}

fn entropic(theta: f64) -> HedgeObjective {
    HedgeObjective::new(vec![Term {
        weight: 1.0,
        criterion: Criterion::Entropic { theta, form: EntropicForm::Oce },
    }])
    .unwrap()
}

/// The zero-cost limit of one feed-forward set-up: `(mean |h − δ|, entropic risk of the
/// policy over the Black delta's − 1, paired SE of that ratio)` on 20,000 fresh paths
/// after 30 epochs on 4000 (the benchmark's 30 daily steps and 32×32 network).
fn zero_cost_limit(inputs: Inputs, p: Parametrisation) -> (f64, f64, f64) {
    let bs = Dynamics::BlackScholes { sigma: 0.5 };
    let c = zero_cost_claim();
    // Daily rebalancing, as the benchmark: with 10 steps the Black delta is not the
    // entropic optimum (a learned hedge is 9 % better), so the limit is not delta's.
    let train_paths = Paths::simulate(&bs, 4000, 30, c.maturity, 5);
    let test_paths = Paths::simulate(&bs, 20_000, 30, c.maturity, 6);
    let policy = ff(inputs, p, &[32, 32]);
    // As the no-transaction-band test in `deephedge.rs`: θ = 50 per unit of P&L.
    let obj = entropic(50.0);
    let spec = TrainSpec { epochs: 30, batch_size: 500, lr: 5e-3, ..TrainSpec::default() };
    let unroll = Unroll { paths: &train_paths, claim: &c, policy: &policy };
    let trained = train(unroll, None, &obj, &spec, &mut ());
    let test = Unroll { paths: &test_paths, claim: &c, policy: &policy };
    let learned = simulate_policy(test, &trained.params);
    let gap = mean_abs_from_black(test, &learned);
    let black = Policy::new(PolicyKind::BlackDelta, &[], Activation::Elu, false, 1.0).unwrap();
    let delta = simulate_policy(Unroll { policy: &black, ..test }, &[]);
    let outcomes =
        [(PolicyKind::FeedForward, &learned.pnl[..]), (PolicyKind::BlackDelta, &delta.pnl[..])];
    let ev = evaluate(&outcomes, &obj, c.premium(), &[], 20, PolicyKind::BlackDelta).unwrap();
    let r_delta = ev.get(PolicyKind::BlackDelta, "objective").unwrap().value;
    let row = ev.get(PolicyKind::FeedForward, "objective").unwrap();
    (gap, row.diff / r_delta, row.diff_se / r_delta)
}

#[test]
fn zero_cost_black_scholes_feed_forward_recovers_delta() {
    // The target: mean |h − δ| ≤ 0.02 over the test states and the entropic risk
    // within 2 % of the delta hedge's. On these 20,000 test paths the paired SE of the
    // ratio is 0.2 % (printed; asserted below 0.5 %), so 2 % is 10 SE: the bound tests the
    // policy, not the sample. Seen: gap 0.0035, ratio +0.04 %. The plain feed-forward
    // policy (output `hedge`, the three base features: the old one) fails both bounds on
    // the same run: gap 0.022, ratio +12 % (SE 2 %).
    let (gap, rel, se) = zero_cost_limit(BOTH, Parametrisation::DeltaPlus);
    eprintln!("delta_plus: mean |h − δ| {gap:.4}, entropic vs delta {rel:+.4} (SE {se:.4})");
    assert!(gap < 0.02, "mean |h − δ| = {gap}");
    assert!(rel.abs() < 0.02, "entropic risk {rel:+.4} relative to the delta hedge's");
    assert!(se < 0.005, "paired SE {se}: too noisy for the 2 % bound");
}

#[test]
fn delta_plus_starts_at_the_black_hedge() {
    // The zero output layer of `init_params`: h = δ + 0, bit for bit, in both accountings
    // and with costs (the policy's own choice does not look at the previous hedge).
    let heston = HESTON;
    let paths = Paths::simulate(&heston, 300, 8, 30.0 / 365.0, 4);
    for accounting in [Accounting::Usd, Accounting::Coin] {
        let c = claim(accounting, 5e-4);
        for inputs in Inputs::ALL {
            let policy = ff(inputs, Parametrisation::DeltaPlus, &[8, 8]);
            let x = policy.init_params(volfit_nn::Init::He, 3);
            let u = Unroll { paths: &paths, claim: &c, policy: &policy };
            let got = simulate_policy(u, &x);
            let black =
                Policy::new(PolicyKind::BlackDelta, &[], Activation::Elu, false, 1.0).unwrap();
            let want = simulate_policy(Unroll { policy: &black, ..u }, &[]);
            assert_eq!(got, want, "{accounting:?} {inputs:?}");
        }
    }
}

#[test]
fn delta_feature_and_delta_plus_gradients_match_finite_differences() {
    let heston = HESTON;
    let paths = Paths::simulate(&heston, 24, 6, 30.0 / 365.0, 3);
    let objectives = [
        vec![Term {
            weight: 1.0,
            criterion: Criterion::Entropic { theta: 3.0, form: EntropicForm::Oce },
        }],
        vec![Term { weight: 1.0, criterion: Criterion::Cvar { alpha: 0.8 } }],
    ];
    for accounting in [Accounting::Usd, Accounting::Coin] {
        let c = claim(accounting, 0.01);
        for p in [Parametrisation::Hedge, Parametrisation::DeltaPlus] {
            let policy = ff(BOTH, p, &[5, 4]);
            for terms in &objectives {
                let obj = HedgeObjective::new(terms.clone()).unwrap();
                let unroll = Unroll { paths: &paths, claim: &c, policy: &policy };
                let problem = HedgeProblem::new(unroll, &obj, 8);
                // A generic point: He weights everywhere (the plain layout's start, not the
                // zero output layer of `delta_plus`), thresholds near the P&L scale.
                let mut x =
                    ff(BOTH, Parametrisation::Hedge, &[5, 4]).init_params(volfit_nn::Init::He, 11);
                x.extend((0..obj.thresholds()).map(|j| -0.03 + 0.011 * j as f64));
                let check = check_gradient(&FullBatch::new(&problem), &x, None).expect("evaluates");
                // As the gradient test of `deephedge.rs`: no kink is crossed by the steps.
                assert!(
                    check.passes(1e-5, 1e-9),
                    "{accounting:?} {p:?} {terms:?}: max abs {:e}, max rel {:e}",
                    check.max_abs,
                    check.max_rel
                );
            }
        }
    }
}
