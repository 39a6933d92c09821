//! Reports: self-contained HTML pages (one inline style sheet, inline SVG charts, no script,
//! no network) of fit, validate, hedge and allocation runs, and the allocation's output
//! files. [`write_dir`] renders whichever kind of output folder it is given.

// `alloc`, `hedge` and `html` stay public: each is one page with its own `render` and
// `write_report`/`write_all`, names that would clash if flattened.
pub mod alloc;
mod data;
pub mod deephedge;
pub mod fit_truth;
mod fit_views;
pub mod hedge;
pub mod html;
mod market_views;
pub mod page;
mod panels;
mod skew;
pub mod surrogate;
mod svg;
mod validation;
mod verdict;
mod view;

pub use data::ReportError;

use crate::io::write_atomic;
use std::path::{Path, PathBuf};

/// The kind of output folder, by the file its command always writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderKind {
    /// `volfit fit`: `fit.json`.
    Fit,
    /// `volfit validate`: `validate.json` (and `fit.json` too with `--report`).
    Validate,
    /// `volfit hedge`: `hedge.json`.
    Hedge,
    /// `volfit allocate`: `allocation.json`.
    Allocate,
}

/// What `dir` holds, or `None` when it is no volfit output folder.
pub fn folder_kind(dir: &Path) -> Option<FolderKind> {
    let has = |f: &str| dir.join(f).is_file();
    if has("allocation.json") {
        Some(FolderKind::Allocate)
    } else if has("hedge.json") {
        Some(FolderKind::Hedge)
    } else if has("validate.json") || has("walk_forward.csv") {
        Some(FolderKind::Validate)
    } else if has("fit.json") {
        Some(FolderKind::Fit)
    } else {
        None
    }
}

/// Renders the report of any output folder into `dir/report.html` (a validate folder with
/// `fit.json` also gets the fit page as `dir/fit.html`); returns the pages written.
///
/// # Errors
/// [`ReportError::NotAnOutput`] naming the files each kind is recognised by; a file that
/// does not read or parse; the write.
pub fn write_dir(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::NotAnOutput { dir: dir.into(), why: "no such directory" });
    }
    let kind = folder_kind(dir)
        .ok_or(ReportError::NotAnOutput { dir: dir.into(), why: "none of them is there" })?;
    let write = |name: &str, html: String| -> Result<PathBuf, ReportError> {
        let path = dir.join(name);
        write_atomic(&path, |w| w.write_all(html.as_bytes()))?;
        Ok(path)
    };
    match kind {
        FolderKind::Fit => Ok(vec![html::write_report(dir)?]),
        FolderKind::Validate => {
            let has_fit = dir.join("fit.json").is_file();
            let mut out = vec![write("report.html", validation::render_dir(dir, has_fit)?)?];
            if has_fit {
                out.push(html::write_fit_page(dir, "fit.html")?);
            }
            Ok(out)
        }
        FolderKind::Hedge => Ok(vec![write("report.html", hedge::render_dir(dir)?)?]),
        FolderKind::Allocate => Ok(vec![write("report.html", alloc::render_dir(dir)?)?]),
    }
}
