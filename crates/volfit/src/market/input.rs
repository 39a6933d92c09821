//! Opening inputs: plain or gzip (detected by the magic bytes `1f 8b`, not the file name),
//! files or `-` for stdin, with a byte counter for progress bars.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use super::error::{is_gzip_error, Error, ErrorKind};

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

/// Where a [`LineCap`] tripped: the 1-based line, or 0 while it has not.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tripwire(Arc<AtomicU64>);

impl Tripwire {
    /// The line that grew past the limit, if any.
    pub(crate) fn line(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|l| *l > 0)
    }
}

/// Fails the read once a line grows past `limit` bytes, so an endless line (`/dev/zero`, a
/// 300 MB header in a small `.gz`) costs at most the limit plus a buffer, never the line.
/// With `csv_quotes`, newlines inside double quotes do not end a line (a CSV record is what
/// is capped). The failure is an `InvalidData` I/O error; the [`Tripwire`] says which line.
pub(crate) struct LineCap<R> {
    inner: R,
    limit: usize,
    csv_quotes: bool,
    state: LineState,
    trip: Tripwire,
}

impl<R: BufRead> LineCap<R> {
    pub(crate) fn new(inner: R, limit: usize, csv_quotes: bool) -> (LineCap<R>, Tripwire) {
        let trip = Tripwire::default();
        let cap = LineCap {
            inner,
            limit: limit.max(1),
            csv_quotes,
            state: LineState { run: 0, line: 1, start: 1, in_quote: false },
            trip: trip.clone(),
        };
        (cap, trip)
    }

    fn tripped(&self) -> io::Result<()> {
        match self.trip.line() {
            Some(line) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                CapError { line, limit: self.limit },
            )),
            None => Ok(()),
        }
    }
}

/// The I/O error a [`LineCap`] fails with.
#[derive(Debug)]
struct CapError {
    line: u64,
    limit: usize,
}

impl std::fmt::Display for CapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is longer than {} bytes", self.line, self.limit)
    }
}

impl std::error::Error for CapError {}

/// Maps a CSV error after reading on to the end of the input: a damaged gzip stream often
/// decodes to garbage before its checksum fails, and the garbage then breaks the CSV
/// structure first. When the rest of the input fails as gzip, that is the error to report.
pub(crate) fn blame_csv(path: &Path, line: u64, e: csv::Error, mut rest: impl Read) -> Error {
    let err = Error::from_csv(path, line, e);
    if !matches!(err.kind(), ErrorKind::Csv { .. }) {
        return err;
    }
    match io::copy(&mut rest, &mut io::sink()) {
        Err(e) if !e.get_ref().is_some_and(|i| i.is::<CapError>()) && is_gzip_error(&e) => {
            Error::new(ErrorKind::Gzip { path: path.to_path_buf(), line, source: e })
        }
        _ => err,
    }
}

/// A [`LineCap`]'s position: bytes of the current record so far, the current physical line,
/// the line the record started on, and whether a CSV quote is open.
#[derive(Clone, Copy)]
struct LineState {
    run: usize,
    line: u64,
    start: u64,
    in_quote: bool,
}

/// Advances the line state over consumed bytes; returns the record's first line when it
/// grows past `limit`.
fn scan(st: &mut LineState, b: &[u8], limit: usize, csv_quotes: bool) -> Option<u64> {
    // Fast path (no quoting involved, chunk shorter than the limit): only the first and the
    // last segment can be over, and both are found from the ends. One SIMD pass (memchr)
    // finds and counts the newlines: this runs over every byte of every input.
    if b.len() <= limit && !st.in_quote && !(csv_quotes && memchr::memchr(b'"', b).is_some()) {
        let mut lines = memchr::memchr_iter(b'\n', b);
        let Some(first) = lines.next() else {
            st.run += b.len();
            return (st.run > limit).then_some(st.start);
        };
        if st.run + first > limit {
            return Some(st.start);
        }
        let (mut last, mut count) = (first, 1u64);
        for i in lines {
            (last, count) = (i, count + 1);
        }
        st.line += count;
        st.start = st.line;
        st.run = b.len() - last - 1;
        return (st.run > limit).then_some(st.start);
    }
    for &c in b {
        match c {
            b'"' if csv_quotes => st.in_quote = !st.in_quote,
            b'\n' => {
                st.line += 1;
                if !st.in_quote {
                    st.run = 0;
                    st.start = st.line;
                    continue;
                }
            }
            _ => {}
        }
        st.run += 1;
        if st.run > limit {
            return Some(st.start);
        }
    }
    None
}

impl<R: BufRead> LineCap<R> {
    fn advance(&mut self, n: usize) {
        if let Ok(b) = self.inner.fill_buf() {
            let b = &b[..n.min(b.len())];
            if let Some(line) = scan(&mut self.state, b, self.limit, self.csv_quotes) {
                self.trip.0.store(line, Ordering::Relaxed);
            }
        }
        self.inner.consume(n);
    }
}

impl<R: BufRead> Read for LineCap<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.tripped()?;
        // Read straight into `out` (a `BufReader` inside skips its own buffer for large
        // reads): no extra copy of every byte.
        let n = self.inner.read(out)?;
        if let Some(line) = scan(&mut self.state, &out[..n], self.limit, self.csv_quotes) {
            self.trip.0.store(line, Ordering::Relaxed);
        }
        self.tripped()?;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCap<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.tripped()?;
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.advance(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], limit: usize, quotes: bool) -> (io::Result<Vec<u8>>, Option<u64>) {
        // A small buffer so lines straddle reads.
        let (mut cap, trip) = LineCap::new(BufReader::with_capacity(7, data), limit, quotes);
        let mut out = Vec::new();
        let r = cap.read_to_end(&mut out).map(|_| out);
        (r, trip.line())
    }

    #[test]
    fn caps_lines_and_names_the_line() {
        let ok = b"ab\ncdef\n\nxyz";
        assert_eq!(read_all(ok, 4, false).0.expect("within the cap"), ok);
        assert_eq!(read_all(ok, 3, false).1, Some(2));
        // The last line, without a final newline.
        assert_eq!(read_all(b"ab\ncd\nwxyz", 3, false).1, Some(3));
        // Quoted newlines extend a CSV record but still count as lines.
        let q = b"a,\"x\ny\nz\"\nb\n";
        // The first record `a,"x⏎y⏎z"` is 9 bytes over lines 1–3 (reported as line 1); its
        // longest line is 4.
        assert_eq!(read_all(q, 9, true).1, None);
        assert_eq!(read_all(q, 8, true).1, Some(1));
        assert_eq!(read_all(q, 8, false).1, None);
        // Fast path (limit above the chunk size) agrees.
        let long = [b"x".repeat(20), b"\n".to_vec(), b"y".repeat(40)].concat();
        assert_eq!(read_all(&long, 30, false).1, Some(2));
        assert_eq!(read_all(&long, 40, false).1, None);
    }
}
