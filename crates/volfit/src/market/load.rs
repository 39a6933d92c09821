//! Many inputs → one set of cleaned snapshots sorted by (underlying, time): the loading
//! behind `volfit fit` and the Python `fit_files`, so both fit the same snapshots in the
//! same order (the order warm starts run in).

use std::path::PathBuf;

use super::build::{build, Cleaned};
use super::dedupe::Dedupe;
use super::error::Error;
use super::read::read_path;
use super::stream::{FileReport, ReadOptions};

/// What [`load_files`] read.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Cleaned snapshots sorted by (underlying, time), repeats dropped.
    pub snapshots: Vec<Cleaned>,
    /// One report per file read (files holding no options have none).
    pub reports: Vec<FileReport>,
    /// One line per skipped file and for dropped repeats, for the caller to show.
    pub notices: Vec<String>,
}

/// Reads and cleans every snapshot of `paths` in order, drops a repeated (underlying, time)
/// ([`Dedupe`]), skips files holding no options (the perpetual-price series) with a notice,
/// and sorts the snapshots by (underlying, time).
///
/// # Errors
/// The first file-level error ([`read_path`]); it names the file, line and field.
pub fn load_files(paths: &[PathBuf], opts: &ReadOptions) -> Result<Loaded, Error> {
    let mut out = Loaded::default();
    let mut dedupe = Dedupe::new();
    for path in paths {
        let read = read_path(path, opts, &mut |raw| {
            if dedupe.admit(&raw) {
                out.snapshots.push(build(raw, &opts.clean));
            }
            Ok(())
        });
        match read {
            Ok(mut report) => {
                dedupe.finish_file(&mut report);
                out.reports.push(report);
            }
            Err(e) if e.is_not_options() => out.notices.push(format!("skipped {e}")),
            Err(e) => return Err(e),
        }
    }
    out.notices.extend(dedupe.notice());
    sort(&mut out.snapshots);
    Ok(out)
}

/// Sorts snapshots by (underlying, time): the order of warm-start series.
pub fn sort(snaps: &mut [Cleaned]) {
    snaps.sort_by(|a, b| {
        (a.snapshot.underlying.as_str(), a.snapshot.time_ms)
            .cmp(&(b.snapshot.underlying.as_str(), b.snapshot.time_ms))
    });
}
