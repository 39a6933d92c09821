//! Ingest benchmark: generate a deterministic ~1 GB gzip Tardis `options_chain` file in /tmp
//! (reused when already present), then read it in a fresh process building hourly as-of
//! chains, and print rows/s (wall and per CPU-second, the machine being shared) and peak
//! RSS (VmHWM). Gzip inflates on a helper thread (`market::input`), so CPU seconds sum
//! both threads.
//!
//! `cargo run --release -p volfit-bench --bin ingest [-- SIZE_MB]` (default 1024).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use volfit::market::tardis_gen::{TardisGen, HEADER};
use volfit::market::{read_path, ReadOptions, Schedule};

const START_US: i64 = 1_767_571_200_000_000; // 2026-01-05T00:00:00Z

/// CPU seconds (user + system) of this process, from /proc/self/stat (clock ticks of
/// 1/100 s on Linux); the machine is shared, so rates per CPU-second are the per-core figure.
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Counts compressed bytes written.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn generate(path: &Path, target: u64) -> std::io::Result<u64> {
    // ~55 compressed bytes per row at gzip level 1 (measured on this generator); the
    // estimate only sets the mean gap so the stream spans about one day.
    let est_rows = target / 55;
    let mut g = TardisGen::new(42, START_US, 60, est_rows, 86_400_000_000);
    let tmp = path.with_extension("gz.partial");
    let file = std::fs::File::create(&tmp)?;
    let mut gz = GzEncoder::new(
        Counting { inner: BufWriter::with_capacity(1 << 20, file), n: 0 },
        Compression::fast(),
    );
    gz.write_all(HEADER.as_bytes())?;
    let mut buf = Vec::with_capacity(1 << 17);
    let mut rows = 0u64;
    while gz.get_ref().n < target {
        for _ in 0..512 {
            let u = g.next_update();
            g.write_row(&u, &mut buf);
        }
        rows += 512;
        gz.write_all(&buf)?;
        buf.clear();
    }
    let mut w = gz.finish()?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)?;
    Ok(rows)
}

fn read(path: &Path) -> ExitCode {
    let opts =
        ReadOptions { schedule: Schedule::Every { step_ms: 3_600_000 }, ..ReadOptions::default() };
    let (mut chains, mut quotes) = (0u64, 0u64);
    let t0 = Instant::now();
    let rep = read_path(path, &opts, &mut |s| {
        chains += 1;
        quotes += s.rows.len() as u64;
        Ok(())
    });
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs();
    let rep = match rep {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ingest: {e:#}");
            return ExitCode::from(2);
        }
    };
    println!(
        "volfit tardis as-of (parse thread + gzip thread): {} rows in {secs:.2} s wall / {cpu:.2} s CPU = {:.3} M rows/s wall, {:.3} M rows per CPU-second; {chains} hourly chains, {quotes} quotes; peak RSS {:.1} MB",
        rep.rows,
        rep.rows as f64 / secs / 1e6,
        rep.rows as f64 / cpu / 1e6,
        peak_rss_mb().unwrap_or(f64::NAN)
    );
    ExitCode::SUCCESS
}

/// Baseline: gzip + csv record parsing only, no state.
fn baseline(path: &Path) -> ExitCode {
    let t0 = Instant::now();
    let Ok(input) = volfit::market::open_input(path, None) else { return ExitCode::from(2) };
    let mut rdr = csv::ReaderBuilder::new().buffer_capacity(256 * 1024).from_reader(input);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    while let Ok(true) = rdr.read_byte_record(&mut rec) {
        n += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs();
    println!(
        "baseline gzip+csv only (parse thread + gzip thread): {n} rows in {secs:.2} s wall / {cpu:.2} s CPU = {:.3} M rows/s wall, {:.3} M rows per CPU-second; peak RSS {:.1} MB",
        n as f64 / secs / 1e6,
        n as f64 / cpu / 1e6,
        peak_rss_mb().unwrap_or(f64::NAN)
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--read" {
        return read(Path::new(&args[2]));
    }
    if args.len() == 3 && args[1] == "--baseline" {
        return baseline(Path::new(&args[2]));
    }
    let mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let path = PathBuf::from(format!("/tmp/volfit_ingest_tardis_{mb}mb.csv.gz"));
    if std::fs::metadata(&path).map(|m| m.len() >= mb << 20).unwrap_or(false) {
        println!("reusing {}", path.display());
    } else {
        let t0 = Instant::now();
        match generate(&path, mb << 20) {
            Ok(rows) => println!(
                "generated {} ({rows} rows) in {:.1} s",
                path.display(),
                t0.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("ingest: generating {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("file: {} bytes compressed", size);
    // Fresh processes so the peak RSS is the reader's alone.
    let Ok(exe) = std::env::current_exe() else { return ExitCode::from(2) };
    for mode in ["--baseline", "--read"] {
        match Command::new(&exe).arg(mode).arg(&path).status() {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("ingest: {mode} failed: {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
