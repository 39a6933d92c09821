//! `rust-version` (the workspace's minimum supported Rust) is true: no locked dependency asks
//! for a newer compiler. Clippy's `incompatible_msrv` (with `clippy.toml`'s
//! `check-incompatible-msrv-in-tests`) checks the same for the standard-library APIs we call;
//! this test covers what clippy cannot see, the dependencies' own `rust-version`.

use std::process::{Command, Stdio};

/// `"1.88"` or `"1.88.0"` as a comparable triple.
fn version(s: &str) -> (u32, u32, u32) {
    let mut parts = s.split('.').map(|p| p.parse::<u32>().expect("numeric rust-version"));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

#[test]
fn rust_version_covers_every_locked_dependency() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    // No stdin for the children: cargo's rustc probes read source from stdin (`rustc -`), and
    // a test running beside this one (the browser's) may leave another process's pipe there.
    let info = Command::new(rustc).arg("-vV").stdin(Stdio::null()).output().expect("run rustc -vV");
    let info = String::from_utf8_lossy(&info.stdout);
    let host = info.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV host");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform"])
        .arg(host)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let ours = packages
        .iter()
        .find(|p| p["name"] == "volfit")
        .and_then(|p| p["rust_version"].as_str())
        .expect("volfit's rust-version");
    let resolved: Vec<&str> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let mut newer: Vec<String> = packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| resolved.contains(&id)))
        .filter_map(|p| {
            let (name, v, rv) =
                (p["name"].as_str()?, p["version"].as_str()?, p["rust_version"].as_str()?);
            (version(rv) > version(ours)).then(|| format!("{name} {v} needs {rv}"))
        })
        .collect();
    newer.sort();
    assert!(newer.is_empty(), "rust-version {ours} is too old for: {}", newer.join(", "));
}
