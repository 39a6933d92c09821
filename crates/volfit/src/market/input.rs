//! Opening inputs: plain or gzip (detected by the magic bytes `1f 8b`, not the file name),
//! files or `-` for stdin, with a byte counter for progress bars.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
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

/// Chunks decoded on a helper thread and received in order.
struct Threaded {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Threaded {
    const CHUNK: usize = 1 << 20;
    const DEPTH: usize = 4;

    fn spawn<R: Read + Send + 'static>(mut inner: R) -> Threaded {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(Self::DEPTH);
        std::thread::spawn(move || loop {
            let mut buf = vec![0u8; Self::CHUNK];
            let mut filled = 0;
            let res = loop {
                match inner.read(&mut buf[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == buf.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(filled);
            let end = filled == 0;
            let sent = match res {
                // An empty chunk marks the end of the stream.
                Ok(()) => tx.send(Ok(buf)),
                Err(e) => {
                    // Deliver what was decoded before the error, then the error.
                    if !buf.is_empty() {
                        let _ = tx.send(Ok(buf));
                    }
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            // Stop at end of stream, or when the reader has gone away.
            if end || sent.is_err() {
                return;
            }
        });
        Threaded { rx, chunk: Vec::new(), pos: 0, done: false }
    }
}

impl Read for Threaded {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    if c.is_empty() {
                        self.done = true;
                    }
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The decoder thread ended without an empty chunk: it panicked.
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("gzip decoder thread stopped"));
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
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
        // Decompress on a helper thread so inflate and parsing overlap on two cores; the
        // bounded channel keeps memory at a few buffers.
        Ok(Box::new(BufReader::with_capacity(BUF, Threaded::spawn(MultiGzDecoder::new(buf)))))
    } else {
        Ok(Box::new(buf))
    }
}
