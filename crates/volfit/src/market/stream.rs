//! The reader's contract: what it is asked ([`ReadOptions`], with an as-of [`Schedule`] for
//! update streams) and what it hands back ([`RawSnapshot`]s to a sink, one [`FileReport`]
//! per file). Shared by the driver (`read`) and the Tardis stream reader.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::chain::RawQuote;
use super::clean::{CleanConfig, Rejection, RejectionCounts};
use super::error::Error;
use super::format::Format;
use super::mapped::Mapping;

/// When to take as-of chains from an update stream (Tardis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// At every multiple of the step (ms since the epoch) from the first update on, up to
    /// the last update in the file.
    Every {
        /// Step in ms.
        step_ms: i64,
    },
    /// At these instants (ms since the epoch); instants after the last update are answered
    /// as of the end of the file.
    At(Vec<i64>),
}

/// Reader settings.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Force a format (otherwise detected from the header).
    pub format: Option<Format>,
    /// As-of schedule for update streams; default every hour.
    pub schedule: Schedule,
    /// Keep only this underlying (e.g. `BTC`); other rows are counted in `filtered`.
    pub underlying: Option<String>,
    /// Column mapping (implies [`Format::Mapped`]).
    pub mapping: Option<Mapping>,
    /// Row-level problems are errors instead of counted skips.
    pub strict: bool,
    /// Rows of one underlying whose times lie within this window (ms) of the first row of
    /// the open group form one snapshot at the latest row time (a chain polled over minutes).
    pub poll_window_ms: i64,
    /// A line (CSV record, JSON line) longer than this many bytes fails the file with
    /// [`ErrorKind::LineTooLong`](super::ErrorKind::LineTooLong); memory per line is bounded
    /// by it. Default 1 MiB.
    pub max_line_bytes: usize,
    /// Snapshot time (ms since the epoch) for files without a time column: required by
    /// [`Format::DeribitWeb`], and the time of a mapped CSV without a `time` target or of a
    /// JSON response without `usOut`/`creation_timestamp`.
    pub snapshot_time_ms: Option<i64>,
    /// Cleaning thresholds (staleness is also applied to as-of chains).
    pub clean: CleanConfig,
    /// Compressed bytes read so far, for progress bars.
    pub progress: Option<Arc<AtomicU64>>,
    /// Update streams (Tardis): the previous day's file, streamed through the as-of state
    /// first without emitting chains, so a day file's chains equal the continuous stream's
    /// (`--halo-from`; see the `halo` module).
    pub halo_from: Option<PathBuf>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            schedule: Schedule::Every { step_ms: 3_600_000 },
            underlying: None,
            mapping: None,
            strict: false,
            poll_window_ms: 5 * 60 * 1000,
            max_line_bytes: 1 << 20,
            snapshot_time_ms: None,
            clean: CleanConfig::default(),
            progress: None,
            halo_from: None,
        }
    }
}

/// Rows of one underlying at one instant, before cleaning.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSnapshot {
    /// Snapshot time, ms since the epoch.
    pub time_ms: i64,
    /// Underlying coin.
    pub underlying: String,
    /// Rows.
    pub rows: Vec<RawQuote>,
    /// Rows dropped while reading that belong to this snapshot (stale/expired as-of states,
    /// unparsable stored updates).
    pub rejected: RejectionCounts,
}

/// What reading one file produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// File.
    pub path: String,
    /// Format used.
    pub format: Format,
    /// Data rows (or JSON items) read.
    pub rows: u64,
    /// Snapshots emitted.
    pub snapshots: u64,
    /// Rows skipped while reading, by reason.
    pub skipped: RejectionCounts,
    /// Rows of other underlyings than `--underlying`.
    pub filtered: u64,
    /// Checkpoints of a stream (Tardis) skipped because every update held was stale: their
    /// chains would have held no quote.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub idle_checkpoints: u64,
    /// The first few skip messages (file, line, field, reason).
    pub examples: Vec<String>,
}

const MAX_EXAMPLES: usize = 20;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FileReport {
    /// Records a message without counting (the count is kept elsewhere).
    pub(crate) fn note(&mut self, e: &Error) {
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(e.to_string());
        }
    }
    /// Counts a row-level skip and keeps its message.
    pub(crate) fn skip(&mut self, e: &Error) {
        self.skipped.add(e.rejection().unwrap_or(Rejection::InvalidField));
        self.note(e);
    }
}
