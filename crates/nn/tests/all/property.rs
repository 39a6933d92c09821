//! A batch's forward pass equals the per-sample forward passes.

use crate::support::small;
use proptest::prelude::*;
use volfit_nn::Activation;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn batch_forward_equals_per_sample_forward(
        rows in 1usize..40,
        act in 0usize..6,
        seed in 0u64..1000,
        xs in proptest::collection::vec(-3.0f64..3.0, 40 * 4),
    ) {
        let (mlp, p) = small(Activation::ALL[act], &[9, 13, 6], 4, 3, seed);
        let mut ws = mlp.workspace(rows);
        ws.input_mut()[..rows * 4].copy_from_slice(&xs[..rows * 4]);
        mlp.forward(&p, &mut ws, rows);
        let batch = ws.output(rows).to_vec();
        let mut one = mlp.workspace(1);
        for r in 0..rows {
            one.input_mut()[..4].copy_from_slice(&xs[r * 4..(r + 1) * 4]);
            mlp.forward(&p, &mut one, 1);
            for (a, b) in one.output(1).iter().zip(&batch[r * 3..(r + 1) * 3]) {
                // The gemm kernel may sum in another order for another batch size: equal to
                // rounding (a few ulp of the largest term).
                prop_assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "row {}: {} vs {}", r, a, b);
            }
        }
    }
}
