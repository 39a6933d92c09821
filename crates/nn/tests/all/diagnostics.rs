//! Per-layer gradient norms: a deep sigmoid net with a poor initialisation is flagged as
//! vanishing, an ELU/He net of the same depth is not.

use crate::support::sin_times_y;
use volfit_nn::{Activation, Architecture, Init, Network, Normalization, Regression};
use volfit_optim::loss::Squared;
use volfit_optim::{
    diagnose_groups, Epochs, GradientDescent, GroupThresholds, GroupWarning, MiniBatch,
};

fn group_records(act: Activation, init: Init) -> Vec<Vec<f64>> {
    let data = sin_times_y(9);
    let mut net = Network::init(Architecture::new(2, &[16; 8], 1, act), init, 11).unwrap();
    net.set_normalization(Normalization::fit(&data)).unwrap();
    let dn = data.normalized(net.normalization()).unwrap();
    let reg = Regression::new(net.mlp(), &dn, Squared, 16).unwrap();
    let spec =
        Epochs { epochs: 5, batch_size: 16, groups: net.mlp().groups(), ..Epochs::default() };
    let sgd = GradientDescent { lr: 1e-2, ..GradientDescent::default() };
    let t = sgd.train(&reg, net.params(), &spec, None, &mut (), &mut ());
    t.epochs.into_iter().map(|e| e.group_grad_rms).collect()
}

#[test]
fn deep_sigmoid_with_small_weights_is_flagged_vanishing_and_elu_he_is_not() {
    // Sigmoid's slope is at most ¼ and weights of std 0.1 shrink the backpropagated signal
    // by ~0.1 per layer: the first layers' gradients are ~1e-8 of the last layer's.
    let sig = group_records(Activation::Sigmoid, Init::Normal { std: 0.1 });
    let w = diagnose_groups(&sig, &GroupThresholds::default());
    assert!(
        matches!(w.first(), Some(GroupWarning::Vanishing { group: 0, .. })),
        "{w:?} from {:?}",
        sig.last()
    );
    let elu = group_records(Activation::Elu, Init::He);
    let w = diagnose_groups(&elu, &GroupThresholds::default());
    assert!(w.is_empty(), "{w:?} from {:?}", elu.last());
}
