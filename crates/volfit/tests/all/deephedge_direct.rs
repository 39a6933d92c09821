//! Deep hedging's direct entropic form `(1/θ) ln mean e^{−θP}` (issue 19, pfhedge's form):
//! its value equals `risk::entropic` of the policy's P&L, its softmax-weighted gradient
//! matches central differences (one round of chunks, and several rounds that recompute the
//! forward pass), and training with it is bit-identical across thread counts.

use volfit::deephedge::{
    simulate_policy, train, Accounting, Claim, Criterion, EntropicForm, HedgeObjective,
    HedgeProblem, Paths, Policy, PolicyKind, Term, TrainSpec, Unroll,
};
use volfit::risk::{entropic, Sample};
use volfit_nn::Activation;
use volfit_optim::check::check_gradient;
use volfit_optim::stochastic::{FullBatch, StochasticObjective};

use crate::deephedge::HESTON;

fn claim(accounting: Accounting) -> Claim {
    Claim {
        strike: 1.02,
        maturity: 30.0 / 365.0,
        cost: 0.002,
        funding: 0.05,
        accounting,
        black_vol: 0.55,
    }
}

fn direct(theta: f64) -> HedgeObjective {
    let c = Criterion::Entropic { theta, form: EntropicForm::Direct };
    HedgeObjective::new(vec![Term { weight: 1.0, criterion: c }]).unwrap()
}

fn ntb() -> Policy {
    Policy::new(PolicyKind::NoTransactionBand, &[6, 5], Activation::Elu, false, 1.0).unwrap()
}

#[test]
fn direct_entropic_value_equals_risk_entropic_of_the_pnl() {
    // 300 paths: three chunks of 128 or fewer. θ = 10⁴ puts θ·max|P| far beyond where a
    // plain mean of e^{−θP} overflows; both sides shift by the maximum.
    let paths = Paths::simulate(&HESTON, 300, 7, 30.0 / 365.0, 21);
    let policy = ntb();
    for accounting in [Accounting::Usd, Accounting::Coin] {
        let c = claim(accounting);
        let u = Unroll { paths: &paths, claim: &c, policy: &policy };
        let x = policy.init_params(volfit_nn::Init::He, 4);
        let pnl = simulate_policy(u, &x).pnl;
        let sample = Sample::new(pnl.clone()).unwrap();
        for theta in [3.0, 50.0, 1e4] {
            let obj = direct(theta);
            assert_eq!(obj.thresholds(), 0, "the direct form trains no threshold");
            let want = entropic(&sample, theta);
            let naive = (pnl.iter().map(|p| (-theta * p).exp()).sum::<f64>() / 300.0).ln() / theta;
            if theta == 1e4 {
                assert!(!naive.is_finite(), "the case must overflow without the shift: {naive}");
            }
            // One round (pool of 3 chunks), three rounds (pool of 1), and the chunked mean.
            for batch in [300, 8] {
                let problem = HedgeProblem::new(u, &obj, batch);
                let all: Vec<usize> = (0..300).collect();
                let v = problem.batch_value(&x, &all).unwrap();
                let m = problem.mean_value(&x, 64).unwrap();
                let tol = 1e-13 * want.abs().max(1e-3);
                assert!((v - want).abs() < tol, "{accounting:?} θ {theta}: {v} vs {want}");
                assert!((m - want).abs() < tol, "{accounting:?} θ {theta}: mean {m} vs {want}");
            }
        }
    }
}

#[test]
fn direct_entropic_gradient_matches_finite_differences_in_one_and_several_rounds() {
    let paths = Paths::simulate(&HESTON, 300, 6, 30.0 / 365.0, 22);
    let c = claim(Accounting::Usd);
    let obj = direct(40.0);
    for kind in [PolicyKind::NoTransactionBand, PolicyKind::FeedForward] {
        let policy = Policy::new(kind, &[5, 4], Activation::Tanh, true, 1.0).unwrap();
        let u = Unroll { paths: &paths, claim: &c, policy: &policy };
        let x = policy.init_params(volfit_nn::Init::He, 7);
        let mut grads = Vec::new();
        for batch in [512, 8] {
            let problem = HedgeProblem::new(u, &obj, batch);
            let full = FullBatch::new(&problem);
            let check = check_gradient(&full, &x, None).expect("evaluates");
            assert!(
                check.passes(1e-5, 1e-9),
                "{kind:?} batch {batch}: max abs {:e}, max rel {:e}",
                check.max_abs,
                check.max_rel
            );
            let mut g = vec![0.0; x.len()];
            let all: Vec<usize> = (0..300).collect();
            problem.batch_value_grad(&x, &all, &mut g).unwrap();
            grads.push(g);
        }
        // The same sums in the same order: one round or three, the same bits.
        let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&grads[0]), bits(&grads[1]), "{kind:?}");
    }
}

#[test]
fn direct_entropic_training_is_bit_identical_across_thread_counts() {
    let c = claim(Accounting::Coin);
    let paths = Paths::simulate(&HESTON, 600, 8, c.maturity, 23);
    let valid = Paths::simulate(&HESTON, 300, 8, c.maturity, 24);
    let policy = ntb();
    let obj = direct(20.0);
    let spec =
        TrainSpec { epochs: 3, batch_size: 300, lr: 1e-2, patience: 2, ..TrainSpec::default() };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let u = Unroll { paths: &paths, claim: &c, policy: &policy };
            train(u, Some(Unroll { paths: &valid, ..u }), &obj, &spec, &mut ())
        })
    };
    let (one, three) = (run(1), run(3));
    let bits =
        |t: &volfit::deephedge::Trained| t.params.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert!(one.eta.is_empty() && three.eta.is_empty());
    assert_eq!(bits(&one), bits(&three));
    assert_eq!(one.training.epochs, three.training.epochs);
    // The validation loss of the returned point is the held-out set's entropic risk (all
    // 300 paths at once, not a mean of per-chunk risks).
    let u = Unroll { paths: &valid, claim: &c, policy: &policy };
    let held_out = entropic(&Sample::new(simulate_policy(u, &one.params).pnl).unwrap(), 20.0);
    let v = one.training.minimum.cost;
    assert!((v - held_out).abs() < 1e-13 * held_out.abs().max(1e-3), "{v} vs {held_out}");
}
