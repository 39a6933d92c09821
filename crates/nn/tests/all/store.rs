//! safetensors round trips and malformed files.

use std::collections::BTreeMap;
use volfit_nn::{
    Activation, Affine, Architecture, Init, Network, NnError, Normalization, Precision,
};

fn trained_like() -> Network {
    let arch = Architecture::new(5, &[8, 8], 3, Activation::Elu);
    let mut net = Network::init(arch, Init::He, 42).unwrap();
    // Irrational-looking values in every tensor, biases included.
    for (k, v) in net.params_mut().iter_mut().enumerate() {
        *v += (k as f64 * 0.7).sin() / 3.0;
    }
    let norm = Normalization {
        input: Affine {
            shift: vec![0.1, 0.2, 1.0 / 3.0, 1e-9, -7.0],
            scale: vec![0.3, 1.0, 2.0_f64.sqrt(), 5.0, 0.1],
        },
        output: Affine {
            shift: vec![0.55, 0.6, 0.7],
            scale: vec![0.01, 0.02, std::f64::consts::PI],
        },
    };
    net.set_normalization(norm).unwrap();
    net
}

#[test]
fn f64_round_trip_is_bit_exact_with_metadata() {
    let net = trained_like();
    let mut extra = BTreeMap::new();
    extra.insert("model".to_string(), serde_json::json!("heston"));
    extra.insert("grid".to_string(), serde_json::json!({"maturities": [0.01, 0.1], "strikes": 13}));
    let training = serde_json::json!({"solver": "adam", "lr": 1e-3, "epochs": 5});
    let bytes = net.to_safetensors(Precision::F64, Some(training.clone()), extra.clone()).unwrap();
    let (back, meta) = Network::from_safetensors(&bytes).unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(back.params()), bits(net.params()));
    let (a, b) = (back.normalization(), net.normalization());
    for (x, y) in [(&a.input, &b.input), (&a.output, &b.output)] {
        assert_eq!(bits(&x.shift), bits(&y.shift));
        assert_eq!(bits(&x.scale), bits(&y.scale));
    }
    assert_eq!(back, net);
    assert_eq!(meta.architecture, *net.mlp().architecture());
    assert_eq!(meta.training, Some(training));
    assert_eq!(meta.extra, extra);
    assert_eq!(meta.format, "volfit-nn/1");
    assert_eq!(meta.version, env!("CARGO_PKG_VERSION"));
    // Saving the loaded network again gives the same bytes.
    assert_eq!(back.to_safetensors(Precision::F64, meta.training, meta.extra).unwrap(), bytes);
}

#[test]
fn f32_file_rounds_each_value_to_nearest_f32() {
    let net = trained_like();
    let bytes = net.to_safetensors(Precision::F32, None, BTreeMap::new()).unwrap();
    let (back, meta) = Network::from_safetensors(&bytes).unwrap();
    assert_eq!(meta.precision, Precision::F32);
    for (a, b) in back.params().iter().zip(net.params()) {
        assert_eq!(*a, f64::from(*b as f32));
    }
}

#[test]
fn malformed_files_are_clear_errors() {
    let net = trained_like();
    let bytes = net.to_safetensors(Precision::F64, None, BTreeMap::new()).unwrap();
    // A renamed tensor (same length, so the header stays valid).
    let mut renamed = bytes.clone();
    let pos = bytes.windows(13).position(|w| w == b"layers.1.bias").unwrap();
    renamed[pos..pos + 13].copy_from_slice(b"layers.1.bian");
    match Network::from_safetensors(&renamed) {
        Err(NnError::Format(m)) => assert!(m.contains("layers.1.bias"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(Network::from_safetensors(&bytes[..20]), Err(NnError::Format(_))));
    // A file without our metadata entry.
    let plain =
        safetensors::serialize(Vec::<(&str, safetensors::tensor::TensorView<'_>)>::new(), None)
            .unwrap();
    match Network::from_safetensors(&plain) {
        Err(NnError::Format(m)) => assert!(m.contains("volfit_nn"), "{m}"),
        other => panic!("{other:?}"),
    }
}
