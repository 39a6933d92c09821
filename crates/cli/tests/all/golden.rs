//! Golden files: `volfit fit` on the built-in synthetic chain must write the same bytes as the
//! files under `tests/golden/` (`fit.json`, `residuals.csv`, `traces.json`, `inputs.json`,
//! `report.html`, `views.csv`), with 1 and with 2 worker threads.
//!
//! The input is two snapshots ten minutes apart (`volfit synth --seed 42`, and `--seed 43`
//! with its timestamps moved to 04:10), so the second fit warm-starts from the first. Three
//! specs: SVI with the defaults; SSVI with a Huber loss; SVI with a Huber loss, three starts,
//! the butterfly penalty and the calendar repair. The only run-dependent field, `time_us`, is
//! written as 0 before comparing; inputs are named relative to the working directory.
//!
//! After a deliberate change of the outputs, re-bless (and review the diff of the files):
//!
//! ```text
//! VOLFIT_BLESS=1 cargo test --release -p volfit-cli --test all golden
//! ```
//!
//! On a mismatch the test prints the first differing line and leaves the normalised actual
//! files under `target/tmp/golden/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Output files compared, per case.
const FILES: [&str; 6] =
    ["fit.json", "residuals.csv", "traces.json", "inputs.json", "report.html", "views.csv"];

/// Case name (directory under `tests/golden/`) and the `volfit fit` flags.
const CASES: [(&str, &[&str]); 3] = [
    ("svi", &["--model", "svi"]),
    ("ssvi_huber", &["--model", "ssvi", "--loss", "huber:0.01"]),
    (
        "svi_robust",
        &[
            "--model",
            "svi",
            "--loss",
            "huber:0.01",
            "--starts",
            "3",
            "--arbitrage-penalty",
            "1",
            "--calendar",
        ],
    ),
];

fn volfit(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_volfit"));
    c.current_dir(dir);
    c
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run volfit");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Writes `a.csv` (seed 42, 04:00) and `b.csv` (seed 43, 04:10) into `dir`.
fn write_inputs(dir: &Path) {
    run(volfit(dir).args(["synth", "-q", "--out", "a.csv"]));
    run(volfit(dir).args(["synth", "-q", "--seed", "43", "--out", "b.csv"]));
    let b = std::fs::read_to_string(dir.join("b.csv")).expect("b.csv");
    let (from, to) = ("\n2026-01-05T04:00:00.000000+00:00,", "\n2026-01-05T04:10:00.000000+00:00,");
    assert!(b.contains(from), "synth timestamp format changed: update this test");
    std::fs::write(dir.join("b.csv"), b.replace(from, to)).expect("write b.csv");
}

/// `"time_us": <n>` → `"time_us": 0`, line by line.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.find("\"time_us\": ") {
            Some(i) => {
                let start = i + "\"time_us\": ".len();
                let digits = line[start..].bytes().take_while(u8::is_ascii_digit).count();
                out.push_str(&line[..start]);
                out.push('0');
                out.push_str(&line[start + digits..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// The first differing line of `expected` and `actual`, with its number, for the message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.lines(), actual.lines());
    for n in 1.. {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => {}
            (None, None) => break,
            (x, y) => {
                let cut = |s: Option<&str>| match s {
                    None => "<end of file>".to_string(),
                    Some(s) if s.chars().count() > 300 => {
                        format!("{}…", s.chars().take(300).collect::<String>())
                    }
                    Some(s) => s.to_string(),
                };
                return format!("line {n}:\n  golden: {}\n  actual: {}", cut(x), cut(y));
            }
        }
    }
    "the files differ only in line endings".into()
}

fn golden_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case)
}

#[test]
fn synthetic_chain_outputs_match_the_golden_files() {
    let bless = std::env::var_os("VOLFIT_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let dir = tempfile::tempdir().expect("temp dir");
    write_inputs(dir.path());
    let mut failures = Vec::new();
    for (case, flags) in CASES {
        for threads in ["1", "2"] {
            let out = format!("{case}-t{threads}");
            run(volfit(dir.path())
                .args(["fit", "-q", "--report", "--threads", threads])
                .args(flags)
                .args(["--out", &out, "a.csv", "b.csv"]));
            for file in FILES {
                let actual = std::fs::read_to_string(dir.path().join(&out).join(file))
                    .unwrap_or_else(|e| panic!("{out}/{file}: {e}"));
                let actual = normalise(&actual);
                let golden = golden_dir(case).join(file);
                // Blessing writes the 1-thread outputs; the 2-thread run is still compared.
                if bless && threads == "1" {
                    std::fs::create_dir_all(golden_dir(case)).expect("golden dir");
                    std::fs::write(&golden, &actual).expect("write golden file");
                    continue;
                }
                let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
                    panic!("{}: {e} (create it with VOLFIT_BLESS=1)", golden.display())
                });
                if expected != actual {
                    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden").join(&out);
                    std::fs::create_dir_all(&keep).expect("actual dir");
                    std::fs::write(keep.join(file), &actual).expect("write actual file");
                    failures.push(format!(
                        "{case} (--threads {threads}) {file} differs from {}, {}\n  actual file: {}",
                        golden.display(),
                        first_difference(&expected, &actual),
                        keep.join(file).display()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es); if the change is intended, re-bless with \
         `VOLFIT_BLESS=1 cargo test --release -p volfit-cli --test all golden`:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn normalise_zeroes_only_time_us() {
    let text = "  \"time_us\": 1462,\n  \"iterations\": 12,\n\"time_us\": 7\n";
    assert_eq!(normalise(text), "  \"time_us\": 0,\n  \"iterations\": 12,\n\"time_us\": 0\n");
}
