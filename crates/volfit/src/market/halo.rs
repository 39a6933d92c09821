//! The halo of a day file of an update stream (Tardis ships one file per UTC day): the
//! previous day's file, streamed through the as-of state before the file itself, so that the
//! chains of the day — its 00:00 chain first, which holds the previous day's last quotes —
//! equal those of one continuous stream (`--halo-from PREV_FILE`).
//!
//! No chain is emitted while the halo is read: checkpoints that the halo's own updates pass
//! belong to the previous day's task. Only the halo's updates within `--max-age` of a
//! checkpoint of the day can reach a chain (older ones are `stale`), but a gzip stream
//! cannot be entered at its end, so the whole file is streamed (at the reader's speed,
//! without building chains). The halo's row-level skips are counted by the task that reads
//! it as its own file, not again here.

use std::io::BufRead;
use std::path::Path;

use super::error::Error;
use super::fields::Columns;
use super::format::Format;
use super::input;
use super::stream::{FileReport, ReadOptions};

/// A CSV reader positioned after the header.
type Rows = csv::Reader<Box<dyn BufRead + Send>>;

/// Opens the halo `prev` of a Tardis file: its CSV reader (after the header), its columns,
/// and a report for its rows (discarded by the caller).
///
/// # Errors
/// The reader's errors for `prev`; a `prev` that is not a Tardis `options_chain` file.
pub(crate) fn open(prev: &Path, opts: &ReadOptions) -> Result<(Rows, Columns, FileReport), Error> {
    let raw = input::open(prev, opts.progress.clone())?;
    let (capped, _trip) = input::LineCap::new(raw, opts.max_line_bytes, true);
    let boxed: Box<dyn BufRead + Send> = Box::new(capped);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::None)
        .buffer_capacity(256 * 1024)
        .from_reader(boxed);
    let header = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(input::blame_csv(prev, 1, e, rdr.into_inner())),
    };
    let cols = Columns::new(&header);
    if !cols.has_all(super::tardis::SIGNATURE) {
        return Err(Error::usage(
            prev,
            "--halo-from: not a Tardis options_chain file (the halo is the previous day's file \
             of the same stream)",
        ));
    }
    Ok((rdr, cols, super::read::new_report(prev, Format::Tardis)))
}

/// The error of a halo whose columns are laid out differently from the day file's.
pub(crate) fn layout_differs(prev: &Path, day: &Path) -> Error {
    Error::usage(
        prev,
        format!(
            "--halo-from: the columns differ from those of {} (the halo must be the previous \
             day's file of the same stream)",
            day.display()
        ),
    )
}
