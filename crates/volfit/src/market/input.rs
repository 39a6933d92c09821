//! Opening inputs: plain or gzip (detected by the magic bytes `1f 8b`, not the file name),
//! files or `-` for stdin, with a byte counter for progress bars.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use super::error::Error;

/// Buffer size for file and decoder reads.
const BUF: usize = 256 * 1024;

/// Counts compressed bytes read from the underlying file (for progress bars).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` (`-` = stdin) for buffered reading, decompressing gzip transparently
/// (multi-member streams included). Compressed bytes consumed are added to `progress`.
///
/// # Errors
/// [`Error`] of kind `Io` when the file cannot be opened or its first bytes read.
pub fn open(
    path: &Path,
    progress: Option<Arc<AtomicU64>>,
) -> Result<Box<dyn BufRead + Send>, Error> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let raw: Box<dyn Read + Send> = match progress {
        Some(count) => Box::new(Counting { inner: raw, count }),
        None => raw,
    };
    let mut buf = BufReader::with_capacity(BUF, raw);
    let head = buf.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(BUF, MultiGzDecoder::new(buf))))
    } else {
        Ok(Box::new(buf))
    }
}
