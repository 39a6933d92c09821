//! Every report kind in a real browser: headless Chromium driven over the DevTools protocol
//! (`headless_chrome`). On the synthetic chains: a fit page, a validate page (and
//! `volfit report` on the same folder), a hedge page and an allocation page, each at 420 and
//! 1400 px: no console message, no resource loaded (so none failed), the verdict present,
//! no horizontal overflow (`scrollWidth ≤ innerWidth`), every `<svg>` visible.
//!
//! Skips with a notice when Chromium is missing, unless `VOLFIT_REQUIRE_BROWSER` is set (as
//! `.ci/run` does, after installing Debian's `chromium`): then it fails.

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::Emulation;
use headless_chrome::{Browser, LaunchOptions};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn volfit(args: &[&OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_volfit")).args(args).output().expect("volfit runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The Chromium binary: `$CHROME`, else Debian's. `None` (the test skips) when absent and
/// `VOLFIT_REQUIRE_BROWSER` is unset.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROME")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("VOLFIT_REQUIRE_BROWSER").is_none(),
        "VOLFIT_REQUIRE_BROWSER is set but {} is missing (apt-get install chromium)",
        path.display()
    );
    eprintln!("skipping the browser test: no {} (set CHROME or install chromium)", path.display());
    None
}

/// Synthetic snapshots an hour apart with the spot drifting, for the hedge run.
fn synthetic_series(dir: &Path, n: i64) -> Vec<PathBuf> {
    use volfit::market::synth::{generate, SynthSpec};
    (0..n)
        .map(|i| {
            let base = SynthSpec::default();
            let spec = SynthSpec {
                seed: 11 + i as u64,
                time_ms: base.time_ms + i * 3_600_000,
                spot: base.spot * (1.0 + 0.004 * ((i * 7) % 5 - 2) as f64),
                ..base
            };
            let p = dir.join(format!("synth_h{i}.csv"));
            let f = std::fs::File::create(&p).expect("create");
            generate(&spec).write_csv(f).expect("write");
            p
        })
        .collect()
}

/// Builds one output folder of each kind; returns the pages to check.
fn pages(dir: &Path) -> Vec<PathBuf> {
    let p = |s: &str| dir.join(s);
    let os = |s: &Path| s.as_os_str().to_owned();
    // Three chains at distinct times (one time would be dropped as duplicates).
    let s: Vec<PathBuf> = (1..=3).map(|seed| crate::validate_cli::synth(dir, seed)).collect();
    let fit = p("fit");
    volfit(&[
        "fit".as_ref(),
        "--model".as_ref(),
        "svi".as_ref(),
        "--report".as_ref(),
        "-q".as_ref(),
        "--out".as_ref(),
        &os(&fit),
        &os(&s[0]),
    ]);
    let val = p("validate");
    let mut args: Vec<std::ffi::OsString> =
        ["validate", "--model", "svi", "-q", "--out"].iter().map(Into::into).collect();
    args.push(os(&val));
    args.extend(s.iter().map(|f| os(f)));
    volfit(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    volfit(&["report".as_ref(), "-q".as_ref(), &os(&val)]);
    let hedge = p("hedge");
    let mut args: Vec<std::ffi::OsString> =
        ["hedge", "--model", "svi", "--report", "-q", "--out"].iter().map(Into::into).collect();
    args.push(os(&hedge));
    args.extend(synthetic_series(dir, 5).iter().map(|f| os(f)));
    volfit(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let alloc = p("alloc");
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/alloc");
    volfit(&[
        "allocate".as_ref(),
        "-q".as_ref(),
        "--book".as_ref(),
        &os(&ex.join("candidates.toml")),
        "--config".as_ref(),
        &os(&ex.join("alloc.toml")),
        "--out".as_ref(),
        &os(&alloc),
    ]);
    vec![
        fit.join("report.html"),
        val.join("report.html"),
        hedge.join("report.html"),
        alloc.join("report.html"),
    ]
}

/// What the page says about itself, measured in the browser.
const PROBE: &str = r#"JSON.stringify({
  verdict: document.querySelector('section#verdict') !== null,
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  svgs: document.querySelectorAll('svg').length,
  hidden: [...document.querySelectorAll('svg')].filter(s => {
    const r = s.getBoundingClientRect();
    return !(r.width > 0 && r.height > 0) || getComputedStyle(s).visibility === 'hidden'
      || getComputedStyle(s).display === 'none';
  }).length,
  resources: performance.getEntriesByType('resource').length,
  titled_points: document.querySelectorAll('svg :not(svg) > title').length,
  smile_titles: [...document.querySelectorAll('[data-chart=smile] :not(svg) > title')]
    .filter(t => /model/.test(t.textContent) && /bid/.test(t.textContent)).length,
  ms: Math.round(performance.now()),
  dom_complete: Math.round((performance.getEntriesByType('navigation')[0] || {}).domComplete || 0)
})"#;

fn launch(chrome: PathBuf, profile: PathBuf) -> Browser {
    let options = LaunchOptions::default_builder()
        .path(Some(chrome))
        .sandbox(false)
        .window_size(Some((1400, 1000)))
        .user_data_dir(Some(profile))
        .args(
            [
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ]
            .iter()
            .map(OsStr::new)
            .collect(),
        )
        .build()
        .expect("launch options");
    Browser::new(options).expect("chromium starts")
}

/// What one page measured in the browser at one width.
struct Probe {
    v: serde_json::Value,
    messages: Vec<String>,
    loaded_ms: u128,
    size: u64,
}

/// Opens `page` in a new tab `width` px wide and probes it.
fn probe(browser: &Browser, page: &Path, width: u32) -> Probe {
    // Headless windows are at least 500 px wide: the viewport is set through the DevTools
    // protocol instead.
    let metrics: Emulation::SetDeviceMetricsOverride = serde_json::from_value(
        serde_json::json!({"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
    )
    .expect("metrics");
    let tab = browser.new_tab().expect("tab");
    tab.call_method(metrics).expect("viewport width");
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&messages);
    tab.add_event_listener(Arc::new(move |e: &Event| {
        let m = match e {
            Event::RuntimeConsoleAPICalled(c) => format!("console: {:?}", c.params.args),
            Event::LogEntryAdded(l) => format!("log: {}", l.params.entry.text),
            Event::RuntimeExceptionThrown(x) => {
                format!("exception: {}", x.params.exception_details.text)
            }
            _ => return,
        };
        sink.lock().expect("lock").push(m);
    }))
    .expect("listener");
    tab.enable_log().expect("log domain");
    tab.enable_runtime().expect("runtime domain");
    let start = Instant::now();
    let url = format!("file://{}", page.display());
    tab.navigate_to(&url).expect("navigate").wait_until_navigated().expect("loaded");
    let loaded_ms = start.elapsed().as_millis();
    let probe = tab.evaluate(PROBE, false).expect("probe runs");
    let text = probe.value.and_then(|v| v.as_str().map(String::from)).expect("probe value");
    let v: serde_json::Value = serde_json::from_str(&text).expect("probe JSON");
    let _ = tab.close(true);
    let messages = messages.lock().expect("lock").clone();
    let size = std::fs::metadata(page).map(|m| m.len()).unwrap_or(0);
    Probe { v, messages, loaded_ms, size }
}

/// The 1-minute load average (`/proc/loadavg`), for the render times' context.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// The checks every page passes, at `width` px.
fn assert_clean(name: &str, width: u32, p: &Probe) {
    let v = &p.v;
    eprintln!(
        "browser: {name} @{width}px: {} svg, {} titled points, scrollWidth {} / innerWidth {}, {} bytes, DOM complete at {} ms, loaded in {} ms, load average {}",
        v["svgs"], v["titled_points"], v["scroll"], v["inner"], p.size, v["dom_complete"], p.loaded_ms, load_average()
    );
    assert_eq!(v["verdict"], true, "{name}: no <section id=\"verdict\">");
    assert!(v["titled_points"].as_u64() > Some(0), "{name}: no hover title on any point");
    assert!(
        v["scroll"].as_u64() <= v["inner"].as_u64(),
        "{name} @{width}px: horizontal overflow {v}"
    );
    assert!(v["svgs"].as_u64() > Some(0), "{name}: no chart");
    assert_eq!(v["hidden"], 0, "{name} @{width}px: an <svg> is not visible");
    assert_eq!(v["resources"], 0, "{name}: loads resources (the page must be self-contained)");
    assert!(p.messages.is_empty(), "{name} @{width}px: {:?}", p.messages);
    assert!(p.size <= 2_000_000, "{name}: {} bytes > 2 MB", p.size);
}

#[test]
fn every_report_kind_renders_cleanly_in_chromium() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let pages = pages(dir.path());
    let browser = launch(chrome, dir.path().join("profile"));
    for width in [420u32, 1400] {
        for page in &pages {
            let p = probe(&browser, page, width);
            let name = page.strip_prefix(dir.path()).unwrap_or(page).display().to_string();
            assert_clean(&name, width, &p);
            if name.starts_with("fit/") {
                assert!(
                    p.v["smile_titles"].as_u64() > Some(0),
                    "{name}: no smile point with a hover title giving bid and model IV"
                );
            }
        }
    }
}

/// Pages named in `VOLFIT_BROWSER_PAGES` (paths separated by `:`, e.g. a real-data fit
/// report of 30 snapshots × 2 coins): the same checks, and their size and render time
/// printed with the load average. Skips with a notice when the variable is unset.
#[test]
fn named_pages_render_cleanly_and_report_their_render_time() {
    let Some(list) = std::env::var_os("VOLFIT_BROWSER_PAGES") else {
        eprintln!("skipping: set VOLFIT_BROWSER_PAGES=a.html:b.html to measure given pages");
        return;
    };
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let browser = launch(chrome, dir.path().join("profile"));
    for page in std::env::split_paths(&list) {
        for width in [420u32, 1400] {
            assert_clean(&page.display().to_string(), width, &probe(&browser, &page, width));
        }
    }
}

/// `volfit report DIR` on each kind of folder, without a browser: it rewrites the page of
/// every kind (the validate folder was written without `--report`), each with its verdict.
#[test]
fn volfit_report_renders_every_folder_kind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pages = pages(dir.path());
    for page in &pages {
        std::fs::remove_file(page).expect("remove the page");
        let folder = page.parent().expect("folder");
        let out = Command::new(env!("CARGO_BIN_EXE_volfit"))
            .arg("report")
            .arg(folder)
            .output()
            .expect("volfit runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("report.html"));
        let html = std::fs::read_to_string(page).expect("page rewritten");
        assert!(html.contains("<meta name=\"viewport\""), "{}", page.display());
        let name = folder.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(html.contains("<section id=\"verdict\""), "{name}: no verdict");
    }
}

/// An empty folder: the error names the file each kind is recognised by. A file that
/// cannot be read: its OS error is said once (before: `(os error 2)` twice).
#[test]
fn volfit_report_errors_name_the_kinds_and_say_the_cause_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |d: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_volfit"))
            .arg("report")
            .arg(d)
            .output()
            .expect("volfit runs");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(dir.path());
    for kind in ["fit.json (volfit fit)", "validate.json", "hedge.json", "allocation.json"] {
        assert!(err.contains(kind), "{err}");
    }
    // An allocation folder without allocation.csv: the OS error is said once.
    let alloc = dir.path().join("alloc");
    std::fs::create_dir_all(&alloc).expect("dir");
    std::fs::write(alloc.join("allocation.json"), "{}").expect("allocation.json");
    let err = run(&alloc);
    assert!(err.contains("allocation.csv"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    let missing = run(&dir.path().join("missing"));
    assert!(missing.contains("no such directory"), "{missing}");
}
