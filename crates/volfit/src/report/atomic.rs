//! Atomic file output: write to a temporary file in the destination's directory, flush,
//! fsync, then rename over the destination, so readers never see a half-written file.
//! `-` writes to stdout.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `path` atomically with `body` (`-` = stdout, unbuffered by us, locked).
///
/// On any error from `body` or the file system the temporary file is removed and the
/// destination is left untouched.
///
/// # Errors
/// The I/O error, or whatever `body` returns.
pub fn write_atomic<E, F>(path: &Path, body: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&mut dyn Write) -> Result<(), E>,
{
    if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        body(&mut w)?;
        w.flush()?;
        return Ok(());
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
        body(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok::<(), E>(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    } else if let Ok(d) = File::open(&dir) {
        // Persist the rename itself; not all platforms allow fsync on a directory.
        let _ = d.sync_all();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_body_leaves_destination_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("out.csv");
        write_atomic::<io::Error, _>(&p, |w| w.write_all(b"old")).expect("first write");
        let r = write_atomic::<io::Error, _>(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&p).expect("read back"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1, "temp file removed");
    }
}
