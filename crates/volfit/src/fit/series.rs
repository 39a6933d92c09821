//! Fitting snapshots in time order, each warm-started from the previous fit of the same
//! underlying (so ridge toward `prev` acts and fits stay on one branch of the loss).

use super::result::{SnapshotResult, WarmStart};
use super::snapshot::fit_snapshot;
use super::spec::FitSpec;
use crate::market::Snapshot;
use rayon::prelude::*;

/// Which fit the next snapshot of a series warm-starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Carry {
    /// The previous snapshot's fit, whatever it produced (nothing fitted: no warm start).
    #[default]
    Last,
    /// The last snapshot that fitted at least one quote; a snapshot with nothing fitted
    /// leaves the warm start as it was.
    LastFitted,
}

/// A series of snapshots of one underlying, fitted one after the other in time order.
#[derive(Clone, Debug)]
pub struct SeriesFit<'a> {
    spec: &'a FitSpec,
    carry: Carry,
    warm: Option<WarmStart>,
}

impl<'a> SeriesFit<'a> {
    /// A series under `spec`, carrying [`Carry::Last`], with no warm start yet.
    pub fn new(spec: &'a FitSpec) -> Self {
        SeriesFit { spec, carry: Carry::Last, warm: None }
    }

    /// The same series carrying the warm start by `carry`.
    pub fn carry(self, carry: Carry) -> Self {
        SeriesFit { carry, ..self }
    }

    /// Fits the next snapshot from the warm start, then keeps its warm start for the next.
    pub fn fit(&mut self, snap: &Snapshot) -> SnapshotResult {
        let result = fit_snapshot(snap, self.spec, self.warm.as_ref());
        let keep = match self.carry {
            Carry::Last => true,
            Carry::LastFitted => !result.residuals.is_empty(),
        };
        if keep {
            self.warm = Some(result.warm.clone());
        }
        result
    }
}

/// Fits every snapshot of `snaps` under `spec`: runs of consecutive snapshots of one
/// underlying are series ([`SeriesFit`], [`Carry::Last`]) fitted in parallel, each in order;
/// `done` is called after each snapshot. Results come in the order of `snaps`.
pub fn fit_series(
    snaps: &[&Snapshot],
    spec: &FitSpec,
    done: &(dyn Fn() + Sync),
) -> Vec<SnapshotResult> {
    let mut series: Vec<&[&Snapshot]> = Vec::new();
    let mut start = 0;
    for i in 1..=snaps.len() {
        if i == snaps.len() || snaps[i].underlying != snaps[start].underlying {
            series.push(&snaps[start..i]);
            start = i;
        }
    }
    let out: Vec<Vec<SnapshotResult>> = series
        .par_iter()
        .map(|s| {
            let mut fit = SeriesFit::new(spec);
            s.iter()
                .map(|snap| {
                    let r = fit.fit(snap);
                    done();
                    r
                })
                .collect()
        })
        .collect();
    out.into_iter().flatten().collect()
}
