//! Bad input is a clear error naming what is wrong, never a panic.

use volfit_nn::{
    Activation, Architecture, Dataset, Mlp, Network, NnError, Normalization, Regression,
};
use volfit_optim::loss::Squared;

fn message<T: std::fmt::Debug>(r: Result<T, NnError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn datasets_name_the_offending_row_and_column() {
    let m = message(Dataset::new(vec![0.0, 1.0, f64::NAN, 3.0], vec![0.0, 1.0], 2, 1));
    assert_eq!(m, "data: input row 1 column 0 is not finite (NaN)");
    let m = message(Dataset::new(vec![0.0; 6], vec![0.0; 2], 2, 1));
    assert!(m.contains("do not make the same number of samples"), "{m}");
    assert!(Dataset::new(vec![], vec![], 0, 1).is_err());
}

#[test]
fn mismatched_networks_data_and_normalisations_are_rejected() {
    let m = message(Mlp::new(Architecture::new(3, &[4, 0], 2, Activation::Elu)));
    assert_eq!(m, "architecture: hidden[1] must be at least 1");
    let mlp = Mlp::new(Architecture::new(3, &[4], 2, Activation::Elu)).unwrap();
    let data = Dataset::new(vec![0.0; 4], vec![0.0; 2], 2, 1).unwrap();
    let m = message(Regression::new(&mlp, &data, Squared, 8));
    assert!(m.contains("the data is 2→1 but the network is 3→2"), "{m}");
    let arch = Architecture::new(3, &[4], 2, Activation::Elu);
    let m = message(Network::new(arch.clone(), vec![0.0; 5], Normalization::identity(3, 2)));
    assert!(m.contains("5 parameters given, the architecture has 26"), "{m}");
    let m = message(Network::new(arch, vec![0.0; 26], Normalization::identity(2, 2)));
    assert!(m.contains("normalisation is 2→2"), "{m}");
    let m = message(data.normalized(&Normalization::identity(3, 1)));
    assert!(m.contains("normalisation is 3→1 but the data is 2→1"), "{m}");
}
