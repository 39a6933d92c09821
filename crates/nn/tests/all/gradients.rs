//! Exact derivatives against central differences (volfit-optim's checker): parameter
//! gradients of every activation and layer, the LM Jacobian, the input Jacobian; and the
//! one-definition check of the loss against volfit-optim's `RobustSum`.

use crate::support::{random_data, small};
use volfit_nn::{Activation, Affine, Architecture, Init, Network, Normalization, Regression};
use volfit_optim::check::{assert_gradient_matches, assert_jacobian_matches};
use volfit_optim::loss::{Huber, Squared};
use volfit_optim::{FnResiduals, FullBatch, Objective, StochasticObjective};

#[test]
fn parameter_gradient_of_every_activation_matches_finite_differences() {
    let data = random_data(7, 3, 2, 1);
    for act in Activation::ALL {
        // Three dense layers, the activation also on the output layer.
        let mut arch = Architecture::new(3, &[5, 4], 2, act);
        arch.output_activation = act;
        let mlp = volfit_nn::Mlp::new(arch).unwrap();
        let (_, p) = small(act, &[5, 4], 3, 2, 3);
        let reg = Regression::new(&mlp, &data, Squared, 4).unwrap();
        // Central differences: truncation ~1e-10 relative (ReLU's kink is avoided with
        // probability one at random points).
        assert_gradient_matches(&FullBatch::new(&reg), &p, 1e-6, 1e-9);
    }
}

#[test]
fn batch_gradient_with_huber_loss_matches_finite_differences() {
    let data = random_data(9, 2, 3, 2);
    let (mlp, p) = small(Activation::Elu, &[6, 6, 6], 2, 3, 4);
    // Scale 0.3: some residuals in the linear part, some in the quadratic part.
    let reg = Regression::new(&mlp, &data, Huber::new(0.3).unwrap(), 3).unwrap();
    let batch = [4usize, 0, 7];
    let f = volfit_optim::FnObjective::new(mlp.num_params(), |x: &[f64], g: &mut [f64]| {
        reg.batch_value_grad(x, &batch, g)
    });
    assert_gradient_matches(&f, &p, 1e-6, 1e-9);
}

#[test]
fn residual_jacobian_for_levenberg_marquardt_matches_finite_differences() {
    let data = random_data(4, 2, 2, 5);
    let (mlp, p) = small(Activation::Tanh, &[5, 3], 2, 2, 6);
    let reg = Regression::new(&mlp, &data, Squared, 2).unwrap();
    assert_jacobian_matches(&reg, &p, 1e-6, 1e-9);
}

#[test]
fn mean_batch_cost_is_robust_sum_with_weights_one_over_n() {
    // One definition of the loss: the backprop path and volfit-optim's RobustSum over the
    // raw residuals (weights 1/N) agree in value and gradient to rounding.
    let data = random_data(11, 3, 2, 7);
    let (mlp, p) = small(Activation::Softplus, &[8, 8], 3, 2, 8);
    let reg = Regression::new(&mlp, &data, Huber::new(0.25).unwrap(), 16).unwrap();
    let n = mlp.num_params();
    let (mut g1, mut g2) = (vec![0.0; n], vec![0.0; n]);
    let f1 = FullBatch::new(&reg).value_grad(&p, &mut g1).unwrap();
    let f2 = reg.robust_sum().value_grad(&p, &mut g2).unwrap();
    assert!((f1 - f2).abs() <= 1e-12 * f2.abs(), "{f1} vs {f2}");
    for (a, b) in g1.iter().zip(&g2) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn input_jacobian_in_physical_units_matches_finite_differences() {
    for act in Activation::ALL {
        let arch = Architecture::new(3, &[7, 5], 4, act);
        let mut net = Network::init(arch, Init::He, 9).unwrap();
        // A non-trivial normalisation so the chain rule through it is tested too.
        let norm = Normalization {
            input: Affine { shift: vec![0.1, -2.0, 5.0], scale: vec![0.5, 3.0, 10.0] },
            output: Affine { shift: vec![1.0, 0.0, -1.0, 2.0], scale: vec![0.2, 2.0, 1.0, 0.01] },
        };
        net.set_normalization(norm).unwrap();
        let mut ws = net.mlp().workspace(1);
        let ws_cell = std::cell::RefCell::new(net.mlp().workspace(1));
        let r = FnResiduals::new(4, 3, |x: &[f64], out: &mut [f64], jac: Option<&mut [f64]>| {
            let mut ws = ws_cell.borrow_mut();
            match jac {
                Some(j) => net.input_jacobian(x, &mut ws, out, j),
                None => net.predict(x, &mut ws, out),
            }
            Some(())
        });
        let x = [0.3, -1.0, 7.0];
        assert_jacobian_matches(&r, &x, 1e-6, 1e-9);
        // The Jacobian pass's outputs are the forward pass's.
        let (mut o1, mut o2, mut j) = ([0.0; 4], [0.0; 4], [0.0; 12]);
        net.predict(&x, &mut ws, &mut o1);
        net.input_jacobian(&x, &mut ws, &mut o2, &mut j);
        assert_eq!(o1, o2, "{act}");
    }
}
