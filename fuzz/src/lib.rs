//! What the fuzz targets share: feed bytes to the public reading entry point
//! ([`volfit::market::read_path`], the one every command uses: gzip detection, format
//! detection, every reader) through a file, and build each snapshot (cleaning, forwards,
//! implied vols) as the commands do, after dropping repeated snapshots
//! ([`volfit::market::Dedupe`]) as they do. A reader may fail with an error; it must not panic,
//! hang or grow without bound.

use std::io::Write;
use std::path::PathBuf;
use volfit::market::{build, read_path, Dedupe, Format, ReadOptions};

/// `--snapshot-time` given to the readers that need one: 2024-04-08T14:27:00Z.
pub const SNAPSHOT_TIME_MS: i64 = 1_712_586_420_000;

/// This process's scratch file (in shared memory where there is one).
fn scratch() -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("volfit-fuzz-{}.csv", std::process::id()))
}

/// Reads `data` as a file with `opts` (the format forced when `format` is given), building
/// every snapshot; errors are fine, panics are findings.
pub fn read_bytes(data: &[u8], format: Option<Format>, mut opts: ReadOptions) {
    let path = scratch();
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(data));
    if written.is_err() {
        return;
    }
    opts.format = format;
    // Small enough that the long-line path is exercised, large enough for real rows.
    opts.max_line_bytes = 64 << 10;
    let clean = opts.clean.clone();
    let mut dedupe = Dedupe::new();
    let _ = read_path(&path, &opts, &mut |raw| {
        if !dedupe.admit(&raw) {
            return Ok(());
        }
        let cleaned = build(raw, &clean);
        std::hint::black_box(cleaned.snapshot.num_quotes());
        Ok(())
    });
}

/// Reads `data` as a perpetual-price file.
pub fn read_perps(data: &[u8]) {
    let path = scratch();
    if std::fs::write(&path, data).is_ok() {
        let _ = volfit::market::read_perpetuals(&path);
    }
}
