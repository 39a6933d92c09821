//! One-pass as-of chains from a Tardis `options_chain` stream equal the chains obtained
//! directly from the known instrument states at each instant (brute force over the
//! generated updates). The stream is generated here (gzip in a temp dir, not committed):
//! 400k updates of ~960 instruments over one day, i.e. ~400 updates per instrument.

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use volfit::market::tardis_gen::{TardisGen, Update, HEADER};
use volfit::market::{read_path, RawSnapshot, ReadOptions, Rejection, RejectionCounts, Schedule};

const START_US: i64 = 1_767_571_200_000_000; // 2026-01-05T00:00:00Z (date -u -d … +%s)
const DAY_US: i64 = 86_400_000_000;

fn generate(n: u64) -> (TardisGen, Vec<Update>, tempfile::TempDir, std::path::PathBuf) {
    let mut g = TardisGen::new(7, START_US, 40, n, DAY_US);
    let updates: Vec<Update> = (0..n).map(|_| g.next_update()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deribit_options_chain_2026-01-05_OPTIONS.csv.gz");
    let file = std::fs::File::create(&path).expect("create");
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::fast());
    gz.write_all(HEADER.as_bytes()).expect("write");
    let mut buf = Vec::with_capacity(1 << 16);
    for u in &updates {
        g.write_row(u, &mut buf);
        if buf.len() > 1 << 15 {
            gz.write_all(&buf).expect("write");
            buf.clear();
        }
    }
    gz.write_all(&buf).expect("write");
    gz.finish().expect("finish").flush().expect("flush");
    (g, updates, dir, path)
}

/// The chains at each checkpoint, straight from the definition: for every instrument the
/// last update that arrived by `T`; expired instruments counted once then forgotten; stale
/// ones counted.
fn brute_force(
    g: &TardisGen,
    updates: &[Update],
    checkpoints: &[i64],
    max_age_ms: i64,
) -> Vec<RawSnapshot> {
    let mut out = Vec::new();
    let mut prev = i64::MIN;
    for &t in checkpoints {
        let mut last: HashMap<usize, (usize, &Update)> = HashMap::new();
        for (i, u) in updates.iter().enumerate() {
            if u.local_us <= t {
                last.insert(u.instrument, (i, u));
            }
        }
        let mut by: Vec<RawSnapshot> = Vec::new();
        let mut keys: Vec<_> = last.into_iter().collect();
        keys.sort_by_key(|(k, _)| *k);
        for (inst, (i, u)) in keys {
            let info = &g.instruments[inst];
            if info.expiry_us <= prev {
                continue; // forgotten at an earlier checkpoint
            }
            let pos = match by.iter().position(|s| s.underlying == info.underlying) {
                Some(p) => p,
                None => {
                    by.push(RawSnapshot {
                        time_ms: t / 1000,
                        underlying: info.underlying.to_string(),
                        rows: Vec::new(),
                        rejected: RejectionCounts::default(),
                    });
                    by.len() - 1
                }
            };
            if info.expiry_us <= t {
                by[pos].rejected.add(Rejection::Expired);
            } else if t - u.ts_us > max_age_ms * 1000 {
                by[pos].rejected.add(Rejection::Stale);
            } else {
                // Line = data row index + 2 (header is line 1).
                by[pos].rows.push(g.expected_quote(u, t / 1000, i as u64 + 2));
            }
        }
        by.sort_by(|a, b| a.underlying.cmp(&b.underlying));
        for s in &mut by {
            s.rows.sort_by(|a, b| a.instrument.cmp(&b.instrument));
        }
        out.extend(by);
        prev = t;
    }
    out
}

fn read(path: &std::path::Path, schedule: Schedule) -> Vec<RawSnapshot> {
    let opts = ReadOptions { schedule, ..ReadOptions::default() };
    let mut got = Vec::new();
    let rep = read_path(path, &opts, &mut |s| {
        got.push(s);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(rep.skipped.0.is_empty(), "{:?}", rep.examples);
    got
}

#[test]
fn one_pass_as_of_chains_equal_direct_states() {
    let n = 400_000;
    let (g, updates, _dir, path) = generate(n);
    let max_age = volfit::market::CleanConfig::default().max_age_ms;

    // --every 1h: checkpoints at whole hours from the first update, while later updates exist.
    let step = 3_600_000_000_i64;
    let first = updates[0].local_us;
    let last = updates.last().map_or(first, |u| u.local_us);
    let mut hours = Vec::new();
    let mut t = (first + step - 1).div_euclid(step) * step;
    while t < last {
        hours.push(t);
        t += step;
    }
    assert_eq!(hours.len(), 23, "a day of updates gives the 01:00..23:00 checkpoints");
    let got = read(&path, Schedule::Every { step_ms: 3_600_000 });
    let want = brute_force(&g, &updates, &hours, max_age);
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(&want) {
        assert_eq!(a, b, "as-of chain at {} {}", a.time_ms, a.underlying);
    }
    // The test must exercise every path: stale and expired states, one-sided quotes.
    let stale: u64 = got.iter().map(|s| s.rejected.get(Rejection::Stale)).sum();
    let expired: u64 = got.iter().map(|s| s.rejected.get(Rejection::Expired)).sum();
    let rows: usize = got.iter().map(|s| s.rows.len()).sum();
    println!("every 1h: {} chains, {rows} quotes, {stale} stale, {expired} expired", got.len());
    assert!(stale > 0 && expired > 0 && rows > 10_000);

    // --at: unsorted instants, one before the first update (empty: no chain), one exactly
    // on an update's arrival time (inclusive), one after the end (answered at EOF).
    let on_update = updates[n as usize / 3].local_us;
    let at_ms = [
        START_US / 1000 + 43_200_000,
        on_update / 1000,
        START_US / 1000 - 1,
        START_US / 1000 + 2 * 86_400_000,
    ];
    let got = read(&path, Schedule::At(at_ms.to_vec()));
    let mut sorted: Vec<i64> = at_ms.iter().map(|t| t * 1000).collect();
    sorted.sort_unstable();
    let want = brute_force(&g, &updates, &sorted, max_age);
    assert_eq!(got, want);
}
