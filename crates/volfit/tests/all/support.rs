//! Test support shared by the integration tests of `volfit` and `volfit-cli` (the CLI's
//! tests include this file by path): where the real data live, and what a test does when
//! they are absent.

use std::path::{Path, PathBuf};

/// The environment variable that turns absent real data from a skip into a failure. `.ci/run`
/// sets it, so CI cannot pass without having run the real-data tests.
pub const REQUIRE_DATA: &str = "VOLFIT_REQUIRE_DATA";

/// `../shared/data/<sub>` beside the repository, or `None` after [`data_missing`] when that
/// directory is absent.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    data_missing(&format!("{} absent", dir.display()));
    None
}

/// Real data a test needs are missing (`what` says which): panics when [`REQUIRE_DATA`] is set
/// (to anything but empty or `0`), otherwise prints a notice; the caller then skips the test.
pub fn data_missing(what: &str) {
    let required = std::env::var_os(REQUIRE_DATA).is_some_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "{what}, and {REQUIRE_DATA} is set: the real-data tests must run");
    eprintln!("notice: {what}; real-data test skipped (set {REQUIRE_DATA}=1 to make this fail)");
}
