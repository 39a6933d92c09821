//! `volfit surrogate data --model rbergomi --richardson`: the spec records it, the stored
//! error includes the time-step bias estimate, bad combinations exit 2 naming the flag.

use std::process::Command;

fn data(args: &[&str], out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(["surrogate", "data", "--samples", "2", "--seed", "2", "--paths", "64"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn surrogate_data_richardson_is_recorded_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (rich, plain) = (tmp.path().join("r"), tmp.path().join("p"));
    for (dir, extra) in [(&rich, &["--richardson"][..]), (&plain, &[][..])] {
        let out = data(&[&["--model", "rbergomi", "--steps", "4"], extra].concat(), dir);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let read = |dir: &std::path::Path| {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("spec.json")).unwrap()).unwrap();
        let flag = spec["mc"].get("richardson").cloned();
        let spec: volfit::surrogate::DataSpec = serde_json::from_value(spec).unwrap();
        (flag, volfit::surrogate::read_chunk(&spec, &dir.join("chunk-00000.csv.gz")).unwrap())
    };
    let ((flag_r, rows_r), (flag_p, rows_p)) = (read(&rich), read(&plain));
    // Absent without the flag: data sets written before it resume unchanged.
    assert_eq!((flag_r, flag_p), (Some(serde_json::Value::Bool(true)), None));
    for (r, p) in rows_r.iter().zip(&rows_p) {
        assert_eq!(r.params, p.params);
        assert_ne!(r.ivs, p.ivs);
        assert!(r.errs.as_ref().unwrap().iter().all(|e| *e > 0.0 && e.is_finite()));
    }
    // Odd steps, or an exact model: exit 2 naming the flag.
    let out = data(&["--model", "rbergomi", "--steps", "5", "--richardson"], &tmp.path().join("o"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--richardson"));
    let out = Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(["surrogate", "data", "--model", "heston", "--samples", "2", "--richardson"])
        .arg("--out")
        .arg(tmp.path().join("h"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--richardson"));
}
