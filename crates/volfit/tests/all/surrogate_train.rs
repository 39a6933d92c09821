//! `volfit::surrogate::train`: a tiny net on tiny data (seconds) learns, round-trips through
//! its file bit for bit, and incomplete data is an error naming the missing chunk.

use volfit::surrogate::{
    generate, load_data, train, DataSpec, SampleModel, Surrogate, TrainSolver, TrainSpec,
};

fn tiny_data(dir: &std::path::Path) -> volfit::surrogate::TrainingData {
    let spec = DataSpec::new(SampleModel::Heston, 96, 3, 48);
    generate(&spec, dir, &|_| {}).unwrap();
    load_data(dir).unwrap()
}

fn tiny_spec(solver: TrainSolver) -> TrainSpec {
    TrainSpec {
        hidden: vec![16, 16],
        solver,
        epochs: 40,
        batch: 16,
        lr: 3e-3,
        validation_share: 0.25,
        patience: 40,
        ..TrainSpec::default()
    }
}

#[test]
fn a_tiny_net_learns_and_round_trips_through_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tiny_data(&tmp.path().join("data"));
    assert!(data.len() > 80, "{} samples kept", data.len());
    let mut seen = 0;
    let out = train(&data, &tiny_spec(TrainSolver::Adam), &mut |_: &volfit_optim::Epoch| seen += 1)
        .unwrap();
    assert_eq!(seen, out.epochs.len());
    assert_eq!(out.n_train + out.n_val, data.len());
    // The normalised outputs start with a loss near ½·88 (unit variance per grid point); a
    // net that learns nothing stays there.
    assert!(
        out.final_val_loss < 0.2 * out.initial_val_loss,
        "validation loss {} → {}",
        out.initial_val_loss,
        out.final_val_loss
    );
    assert!(out.epochs.iter().all(|e| e.group_grad_rms.len() == 3));
    assert_eq!(out.errors.samples, out.n_val);
    assert_eq!(out.errors.median.len(), 88);
    // Bit-exact round trip: same weights, normalisation, header, outputs.
    let path = tmp.path().join("net.safetensors");
    out.surrogate.save(&path).unwrap();
    let back = Surrogate::load(&path).unwrap();
    assert_eq!(back, out.surrogate);
    let x = &data.params[..5];
    let (mut a, mut b) = (vec![0.0; 88], vec![0.0; 88]);
    out.surrogate.surface(x, &mut a);
    back.surface(x, &mut b);
    assert_eq!(a, b);
    assert_eq!(back.info().model, "heston");
    assert_eq!(back.info().params, ["v0", "kappa", "theta", "sigma", "rho"]);
    let rec = back.training().unwrap();
    assert_eq!(rec["solver"], "adam");
    assert_eq!(rec["data"]["n_val"], out.n_val);
}

#[test]
fn lbfgs_trains_full_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tiny_data(&tmp.path().join("data"));
    let out = train(&data, &tiny_spec(TrainSolver::Lbfgs), &mut ()).unwrap();
    assert!(
        out.final_val_loss < 0.2 * out.initial_val_loss,
        "validation loss {} → {}",
        out.initial_val_loss,
        out.final_val_loss
    );
}

#[test]
fn incomplete_data_and_bad_settings_are_errors_naming_what() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let data = tiny_data(&dir);
    let spec = TrainSpec { validation_share: 1.5, ..tiny_spec(TrainSolver::Adam) };
    let err = train(&data, &spec, &mut ()).unwrap_err().to_string();
    assert!(err.contains("--validation-share"), "{err}");
    std::fs::remove_file(dir.join("chunk-00001.csv.gz")).unwrap();
    let err = load_data(&dir).unwrap_err().to_string();
    assert!(err.contains("chunk-00001.csv.gz") && err.contains("missing"), "{err}");
}
