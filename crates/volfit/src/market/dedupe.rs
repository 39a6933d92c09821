//! Duplicate snapshots: the same (underlying, time) read twice — a file given twice,
//! overlapping globs, two dumps of one instant. Fitted twice, a walk-forward would score
//! fits on copies of themselves (issue 14: OOS 0.84 vol pt with every file twice against
//! 1.22 without).
//!
//! **Policy: the first read is kept, every later snapshot of the same (underlying, time)
//! is dropped**, whether its rows are the same or not. Copies with the same rows change
//! nothing by being dropped, so results are identical with and without them. Copies whose
//! rows differ (two collectors' views of one instant) are not merged: which one is right
//! cannot be told from the files, and a merge would depend on input order in subtler
//! ways than "first wins"; they are counted apart so the notice can say so. The rows of a
//! dropped snapshot are counted `duplicate_snapshot` in its file's `skipped`, so no row
//! disappears without a count, and streaming readers need to remember only one fingerprint
//! per snapshot.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use super::chain::RawQuote;
use super::clean::Rejection;
use super::stream::{FileReport, RawSnapshot};

/// Drops repeated (underlying, time) snapshots as they stream in; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Dedupe {
    /// Fingerprint of the rows of the first snapshot of each (underlying, time).
    seen: HashMap<(String, i64), u64>,
    /// Snapshots dropped.
    dropped: u64,
    /// Of those, snapshots whose rows differ from the kept one.
    differing: u64,
    /// Rows of the snapshots dropped since the last [`Dedupe::finish_file`].
    file_rows: u64,
}

impl Dedupe {
    /// An empty filter.
    pub fn new() -> Self {
        Dedupe::default()
    }

    /// True when `raw` is the first snapshot of its (underlying, time) — keep it; false for
    /// a repeat, which is counted and should be dropped.
    pub fn admit(&mut self, raw: &RawSnapshot) -> bool {
        let print = fingerprint(&raw.rows);
        match self.seen.get(&(raw.underlying.clone(), raw.time_ms)) {
            None => {
                self.seen.insert((raw.underlying.clone(), raw.time_ms), print);
                true
            }
            Some(&first) => {
                self.dropped += 1;
                self.differing += u64::from(first != print);
                self.file_rows += raw.rows.len() as u64;
                false
            }
        }
    }

    /// Counts the rows of the snapshots dropped while reading one file as
    /// `duplicate_snapshot` in its `report.skipped`; call after each file.
    pub fn finish_file(&mut self, report: &mut FileReport) {
        report.skipped.add_n(Rejection::DuplicateSnapshot, std::mem::take(&mut self.file_rows));
    }

    /// Snapshots dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Of the dropped snapshots, those whose rows differ from the kept one.
    pub fn differing(&self) -> u64 {
        self.differing
    }

    /// The one-line notice commands print, `None` when nothing was dropped.
    pub fn notice(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "{} duplicate snapshot{} dropped (same underlying and time as one read before; \
                 the first read is kept; {} of them with different rows)",
                self.dropped,
                if self.dropped == 1 { "" } else { "s" },
                self.differing
            )
        })
    }
}

/// A hash of the rows' content (everything but the source line), in row order (foldhash's
/// quality hasher, fixed seed: several times faster than SipHash on every snapshot read).
fn fingerprint(rows: &[RawQuote]) -> u64 {
    let mut h = foldhash::quality::FixedState::with_seed(0x766f_6c66_6974).build_hasher();
    rows.len().hash(&mut h);
    for r in rows {
        (r.time_ms, &r.underlying, &r.instrument, r.expiry_ms, r.updated_ms).hash(&mut h);
        (r.kind, r.unit == super::chain::PriceUnit::Coin).hash(&mut h);
        let nums = [r.bid, r.ask, r.mark, r.mark_iv, r.bid_size, r.ask_size];
        let more = [r.open_interest, r.volume, r.forward, r.index, Some(r.strike)];
        for v in nums.iter().chain(&more) {
            v.map(f64::to_bits).hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::black::OptionType;
    use crate::market::{PriceUnit, RejectionCounts};

    fn snap(underlying: &str, time_ms: i64, bid: f64) -> RawSnapshot {
        let row = RawQuote {
            time_ms,
            underlying: underlying.into(),
            instrument: format!("{underlying}-1JAN71-100-C"),
            expiry_ms: 31_536_000_000,
            strike: 100.0,
            kind: OptionType::Call,
            unit: PriceUnit::Coin,
            bid: Some(bid),
            ask: Some(0.2),
            mark: None,
            mark_iv: None,
            bid_size: None,
            ask_size: None,
            open_interest: None,
            volume: None,
            forward: Some(100.0),
            index: None,
            updated_ms: time_ms,
            line: 2,
        };
        RawSnapshot {
            time_ms,
            underlying: underlying.into(),
            rows: vec![row.clone(), RawQuote { line: 3, ..row }],
            rejected: RejectionCounts::default(),
        }
    }

    #[test]
    fn repeats_of_an_underlying_and_time_are_dropped_and_counted() {
        let mut d = Dedupe::new();
        let mut report = FileReport {
            path: "a.csv".into(),
            format: crate::market::Format::DeribitSummary,
            rows: 0,
            snapshots: 0,
            skipped: RejectionCounts::default(),
            filtered: 0,
            idle_checkpoints: 0,
            examples: Vec::new(),
        };
        assert!(d.admit(&snap("BTC", 1_000, 0.1)));
        assert!(d.admit(&snap("ETH", 1_000, 0.1)), "another underlying at the same time");
        assert!(d.admit(&snap("BTC", 2_000, 0.1)), "another time");
        assert_eq!(d.notice(), None);
        // The same rows at another source line are the same snapshot.
        let mut moved = snap("BTC", 1_000, 0.1);
        moved.rows.iter_mut().for_each(|r| r.line += 10);
        assert!(!d.admit(&moved));
        assert!(!d.admit(&snap("BTC", 2_000, 0.11)), "different rows, same instant");
        assert_eq!((d.dropped(), d.differing()), (2, 1));
        d.finish_file(&mut report);
        assert_eq!(report.skipped.get(Rejection::DuplicateSnapshot), 4, "rows of both copies");
        d.finish_file(&mut report);
        assert_eq!(report.skipped.get(Rejection::DuplicateSnapshot), 4, "counted once");
        let notice = d.notice().unwrap_or_default();
        assert!(notice.starts_with("2 duplicate snapshots dropped"), "{notice}");
        assert!(notice.contains("1 of them with different rows"), "{notice}");
    }
}
