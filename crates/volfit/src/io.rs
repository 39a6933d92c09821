//! File output shared by the library and the CLI.
//!
//! [`write_atomic`]: write to a temporary file in the destination's directory, flush, fsync,
//! then rename over the destination, so readers never see a half-written file; `-` writes
//! to stdout. [`is_broken_pipe`]: tells a closed stdout (`volfit … | head`) from a real
//! failure.

use std::error::Error;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `path` atomically with `body` (`-` = stdout, locked and buffered) and returns what
/// `body` returns.
///
/// On any error from `body` or the file system the temporary file is removed and the
/// destination is left untouched.
///
/// # Errors
/// The I/O error, or whatever `body` returns.
pub fn write_atomic<T, E, F>(path: &Path, body: F) -> Result<T, E>
where
    E: From<io::Error>,
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
{
    if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        let out = body(&mut w)?;
        w.flush()?;
        return Ok(out);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        let out = body(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok::<T, E>(out)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    } else if let Ok(d) = File::open(&dir) {
        // Persist the rename itself; not all platforms allow fsync on a directory.
        let _ = d.sync_all();
    }
    result
}

/// True when `e`, or an error it wraps, is a broken pipe: an I/O error of that kind (also
/// one wrapped inside another I/O error) or a csv error over one, anywhere along the
/// `source()` chain.
pub fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    let pipe = |io: &io::Error| io.kind() == io::ErrorKind::BrokenPipe;
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if pipe(io) || io.get_ref().is_some_and(|inner| is_broken_pipe(inner)) {
                return true;
            }
        }
        if let Some(csv::ErrorKind::Io(io)) = err.downcast_ref::<csv::Error>().map(|c| c.kind()) {
            if pipe(io) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_body_leaves_destination_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("out.csv");
        write_atomic::<(), io::Error, _>(&p, |w| w.write_all(b"old")).expect("first write");
        let r = write_atomic::<(), io::Error, _>(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&p).expect("read back"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1, "temp file removed");
    }

    #[test]
    fn broken_pipe_is_found_through_wrappers() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&pipe));
        assert!(is_broken_pipe(&io::Error::other(io::Error::from(io::ErrorKind::BrokenPipe))));
        assert!(is_broken_pipe(&csv::Error::from(pipe)));
        assert!(!is_broken_pipe(&io::Error::from(io::ErrorKind::NotFound)));
    }
}
