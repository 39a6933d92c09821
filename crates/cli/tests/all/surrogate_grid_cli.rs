//! `volfit surrogate data --z-min/--z-max/--z-points --maturities-days --lower/--upper`:
//! the grid and box land in spec.json (and from there in the net's header), bad values
//! are refused naming the flag; `volfit fit --surrogate NET --polish secant` says in
//! fit.json what ran and prices no exact Jacobian.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_volfit"));
    c.args(args);
    paths.iter().for_each(|p| {
        c.arg(p);
    });
    c.output().unwrap()
}

#[test]
fn surrogate_data_takes_the_grid_and_box_from_its_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wide");
    let args = [
        "surrogate",
        "data",
        "-q",
        "--model",
        "heston",
        "--samples",
        "3",
        "--z-min",
        "-3",
        "--z-max",
        "3",
        "--z-points",
        "25",
        "--maturities-days",
        "1,7,30,365",
        "--lower",
        "0.02,1,0.02,0.5,-0.9",
        "--upper",
        "1.2,45,1.2,14,0.3",
        "--out",
    ];
    let out = run(&args, &[&dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spec: volfit::surrogate::DataSpec =
        serde_json::from_slice(&std::fs::read(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec.grid.z, volfit::surrogate::Grid::with_z(-3.0, 3.0, 25).unwrap().z);
    assert_eq!(spec.grid.maturities, [1.0 / 365.0, 7.0 / 365.0, 30.0 / 365.0, 1.0]);
    assert_eq!(spec.bounds.lower, [0.02, 1.0, 0.02, 0.5, -0.9]);
    assert_eq!(spec.bounds.upper, [1.2, 45.0, 1.2, 14.0, 0.3]);
    let rows = volfit::surrogate::read_chunk(&spec, &dir.join("chunk-00000.csv.gz")).unwrap();
    assert!(rows.iter().all(|r| r.ivs.len() == 4 * 25 && r.params[1] >= 1.0));
    // Without the flags: the default grid and box, as before.
    let plain = tmp.path().join("plain");
    let out = run(
        &["surrogate", "data", "-q", "--model", "heston", "--samples", "2", "--out"],
        &[&plain],
    );
    assert!(out.status.success());
    let spec: volfit::surrogate::DataSpec =
        serde_json::from_slice(&std::fs::read(plain.join("spec.json")).unwrap()).unwrap();
    let m = volfit::surrogate::SampleModel::Heston;
    assert_eq!(spec, volfit::surrogate::DataSpec::new(m, 2, 0, 1024));
}

#[test]
fn surrogate_data_refuses_a_bad_grid_or_box_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--z-min", "2", "--z-max", "1"], "--z-min/--z-max/--z-points"),
        (&["--z-points", "1"], "--z-min/--z-max/--z-points"),
        (&["--maturities-days", "7,3"], "--maturities-days"),
        (&["--lower", "0.1,1,0.1"], "--lower: 3 values, expected 5"),
        (&["--upper", "0.01,1,0.5,1,0.9"], "--lower/--upper"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["surrogate", "data", "--model", "heston", "--samples", "2"];
        args.extend_from_slice(extra);
        args.push("--out");
        let out = run(&args, &[&tmp.path().join("x")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
}

#[test]
fn fit_with_the_secant_polish_reports_it_and_prices_no_exact_jacobian() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = tmp.path().join("chain.csv");
    assert!(run(&["synth", "-q", "--out"], &[&chain]).status.success());
    let net = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/heston.safetensors");
    let net = net.to_str().unwrap();
    let fit = |polish: &str, out: &Path| -> serde_json::Value {
        let args = ["fit", "-q", "--model", "heston", "--warm-start", "none", "--surrogate", net];
        let args: Vec<&str> = args.iter().copied().chain(["--polish", polish, "--out"]).collect();
        let o = run(&args, &[out, &chain]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&std::fs::read(out.join("fit.json")).unwrap()).unwrap()
    };
    let secant = fit("secant", &tmp.path().join("s"));
    let exact = fit("true", &tmp.path().join("e"));
    assert_eq!(secant["spec"]["surrogate"]["polish_method"], "secant");
    assert!(exact["spec"]["surrogate"].get("polish_method").is_none());
    let (s, e) = (&secant["snapshots"][0], &exact["snapshots"][0]);
    assert_eq!(s["surrogate"]["polish"], "secant");
    assert_eq!(s["surrogate"]["std_errors_jacobian"], "secant");
    assert_eq!(s["surrogate"]["exact_evaluations"]["jacobians"], 0);
    assert!(s["surrogate"]["exact_evaluations"]["vols"].as_u64().unwrap() >= 2);
    assert_eq!(e["surrogate"]["polish"], "exact_lm");
    assert!(e["surrogate"]["exact_evaluations"]["jacobians"].as_u64().unwrap() >= 1);
    let rmse = |v: &serde_json::Value| v["expiries"][0]["rmse_vol"].as_f64().unwrap();
    assert!(rmse(s) <= 1.01 * rmse(e), "{} vs {}", rmse(s), rmse(e));
    let o = run(
        &["fit", "--model", "heston", "--surrogate", net, "--polish", "maybe", "--out"],
        &[&tmp.path().join("bad"), &chain],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected true, false or secant"));
}
