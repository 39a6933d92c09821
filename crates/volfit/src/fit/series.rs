//! Fitting snapshots in time order, each warm-started from the previous fit of the same
//! underlying (so ridge toward `prev` acts and fits stay on one branch of the loss), and
//! the partitions that bound those warm starts ([`WarmStartMode`]).
//!
//! Warm starts make a fit depend on what came before it. With
//! [`WarmStartMode::Partition`] (the default) the chain of warm starts restarts cold at
//! every partition, the (venue, underlying, UTC day) of a snapshot, so fitting the days of a
//! year one task per day gives bitwise the results of one run over the whole year.

use super::result::{SnapshotResult, WarmStart};
use super::snapshot::fit_snapshot;
use super::spec::FitSpec;
use crate::market::Snapshot;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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

/// How far warm starts reach across the snapshots of one run (`--warm-start`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WarmStartMode {
    /// Across every snapshot of an underlying that was read in one run: results depend on
    /// how the input was split into runs.
    Chain,
    /// Within a partition, the (venue, underlying, UTC day) of [`partition`]: the first
    /// snapshot of each UTC day starts cold. Results do not depend on how whole days are
    /// split into runs.
    #[default]
    Partition,
    /// Every snapshot starts cold: results do not depend on the split at all.
    None,
}

impl WarmStartMode {
    /// Every mode, in CLI order.
    pub const ALL: [WarmStartMode; 3] =
        [WarmStartMode::Chain, WarmStartMode::Partition, WarmStartMode::None];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            WarmStartMode::Chain => "chain",
            WarmStartMode::Partition => "partition",
            WarmStartMode::None => "none",
        }
    }

    /// The mode of a `fit.json` written before the mode was recorded: `chain`.
    pub fn legacy() -> Self {
        WarmStartMode::Chain
    }

    /// True when `b` continues the warm-start chain of `a` (the snapshot fitted before it).
    fn continues(self, a: &Snapshot, b: &Snapshot) -> bool {
        match self {
            WarmStartMode::Chain => a.underlying == b.underlying,
            WarmStartMode::Partition => partition(a) == partition(b),
            WarmStartMode::None => false,
        }
    }
}

impl fmt::Display for WarmStartMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WarmStartMode {
    type Err = crate::objective::ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.name() == s.trim()).ok_or_else(|| {
            crate::objective::ParseKindError {
                what: "warm start",
                got: s.to_string(),
                expected: "chain|partition|none".into(),
            }
        })
    }
}

/// The venue of every snapshot volfit reads today (all its readers read Deribit data).
pub const VENUE: &str = "deribit";

/// Milliseconds in a UTC day.
const DAY_MS: i64 = 86_400_000;

/// The partition of a snapshot: (venue, underlying, UTC day as days since 1970-01-01).
/// Warm starts of [`WarmStartMode::Partition`] never cross partitions.
pub fn partition(snap: &Snapshot) -> (&'static str, &str, i64) {
    (VENUE, snap.underlying.as_str(), snap.time_ms.div_euclid(DAY_MS))
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

/// Fits every snapshot of `snaps` (sorted by underlying, then time) under `spec`: runs of
/// consecutive snapshots that continue one warm-start chain under `mode` are series
/// ([`SeriesFit`], [`Carry::Last`]) fitted in parallel, each in order; `done` is called
/// after each snapshot. Results come in the order of `snaps` and do not depend on the
/// number of threads.
pub fn fit_series(
    snaps: &[&Snapshot],
    spec: &FitSpec,
    mode: WarmStartMode,
    done: &(dyn Fn() + Sync),
) -> Vec<SnapshotResult> {
    let mut series: Vec<&[&Snapshot]> = Vec::new();
    let mut start = 0;
    for i in 1..=snaps.len() {
        if i == snaps.len() || !mode.continues(snaps[i - 1], snaps[i]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(underlying: &str, time_ms: i64) -> Snapshot {
        Snapshot { time_ms, underlying: underlying.into(), index: None, expiries: Vec::new() }
    }

    #[test]
    fn partitions_are_venue_underlying_and_utc_day() {
        // 2026-01-05T23:59:59.999Z and 2026-01-06T00:00:00Z (date -u -d … +%s).
        let (before, midnight) = (1_767_657_599_999, 1_767_657_600_000);
        assert_eq!(partition(&snap("BTC", before)), ("deribit", "BTC", 20_458));
        assert_eq!(partition(&snap("BTC", midnight)), ("deribit", "BTC", 20_459));
        let p = WarmStartMode::Partition;
        assert!(p.continues(&snap("BTC", before - 3_600_000), &snap("BTC", before)));
        assert!(!p.continues(&snap("BTC", before), &snap("BTC", midnight)));
        assert!(!p.continues(&snap("BTC", before), &snap("ETH", before)));
        assert!(WarmStartMode::Chain.continues(&snap("BTC", before), &snap("BTC", midnight)));
        assert!(!WarmStartMode::None.continues(&snap("BTC", before), &snap("BTC", before)));
    }

    #[test]
    fn mode_names_round_trip() {
        for m in WarmStartMode::ALL {
            assert_eq!(m.name().parse::<WarmStartMode>().expect("a mode name"), m);
            assert_eq!(serde_json::to_string(&m).expect("json"), format!("\"{m}\""));
        }
        assert_eq!(WarmStartMode::default(), WarmStartMode::Partition);
        let e = "partitions".parse::<WarmStartMode>().expect_err("not a mode").to_string();
        assert!(e.contains("chain|partition|none"), "{e}");
    }
}
