//! Snapshots for the tests: every snapshot of a file read with the default options, and
//! the synthetic chain written out and read back the way a user's file is.

use std::path::Path;
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::{build, read_path, ReadOptions, Snapshot};

/// Every snapshot of `path` (default reader options and cleaning).
pub fn read(path: &Path) -> Vec<Snapshot> {
    let (opts, mut snaps) = (ReadOptions::default(), Vec::new());
    read_path(path, &opts, &mut |raw| {
        snaps.push(build(raw, &opts.clean).snapshot);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    snaps
}

/// The synthetic chain of `spec`, written to `dir/name` as CSV and read back.
pub fn synthetic(dir: &Path, name: &str, spec: &SynthSpec) -> Snapshot {
    let path = dir.join(name);
    generate(spec).write_csv(std::fs::File::create(&path).unwrap()).unwrap();
    read(&path).pop().expect("one snapshot")
}
