//! `volfit iv`: implied Black-76 volatilities of a CSV of prices.
//!
//! Input columns (by header name, any order, extra columns passed through):
//! `forward,strike,t,type,price` — `type` is `C`/`P` (or `call`/`put`, any case), prices
//! undiscounted in the forward's units. Output: the input columns, then `iv` (fraction)
//! and `reason` (empty, or why no IV exists: `below_intrinsic`, `above_upper_bound`,
//! `non_finite`, or an input outside the model: `t_not_positive` (expired or wrong unit: `t`
//! is the year fraction to expiry), `strike_not_positive`, `forward_not_positive`,
//! `price_negative`; the first row of each of these is also named on stderr). Rows are processed in chunks of 65 536 with the parallel batch API, so
//! memory stays bounded whatever the file size. Unparsable rows stop the run with an
//! error naming the line and the field. `--output` is written atomically (temp file in the
//! same directory, then rename; `-` is stdout), as every output of the CLI.

use anyhow::{bail, Context};
use clap::Args;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::black::{implied_vols_par, IvError, IvInput};
use volfit::io::write_atomic;
use volfit::market::OptionType;

/// Arguments of `volfit iv`.
#[derive(Args, Debug, Clone)]
pub struct IvArgs {
    /// Input CSV with columns forward,strike,t,type,price (default: stdin).
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Output CSV: the input columns plus iv and reason (default: stdout).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Do not print the summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

const CHUNK: usize = 1 << 16;
const REQUIRED: [&str; 5] = ["forward", "strike", "t", "type", "price"];

/// Runs `volfit iv`.
///
/// # Errors
/// Unreadable input, a missing column, an unparsable field (with its line and name), or an
/// output that cannot be written.
pub fn run(args: &IvArgs) -> anyhow::Result<ExitCode> {
    let source =
        args.input.as_ref().map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    let reader: Box<dyn Read> = match &args.input {
        Some(p) => Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?),
        None => Box::new(io::stdin().lock()),
    };
    let summary = match &args.output {
        Some(path) => write_atomic(path, |w| convert(reader, w, &source))?,
        // A closed stdout ends the run quietly: `main` treats a broken pipe as success.
        None => convert(reader, BufWriter::new(io::stdout().lock()), &source)?,
    };
    if !args.quiet {
        eprintln!(
            "volfit iv: {} rows, {} with an implied vol, {} without (see the reason column)",
            summary.rows,
            summary.rows - summary.no_iv,
            summary.no_iv
        );
        for ex in &summary.examples {
            eprintln!("  {ex}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Row counts of one run, and the first row of each out-of-model input reason.
#[derive(Debug, Default, Clone)]
struct Summary {
    rows: usize,
    no_iv: usize,
    examples: Vec<String>,
}

/// Why a row's inputs are outside Black-76 (before any inversion), with the fix.
fn input_reason(forward: f64, strike: f64, t: f64, price: f64) -> Option<(&'static str, String)> {
    if ![forward, strike, t, price].iter().all(|v| v.is_finite()) {
        return None;
    }
    if t <= 0.0 {
        Some(("t_not_positive", format!("t = {t} is not positive: t is the year fraction to expiry (ACT/365); expired options have no IV")))
    } else if strike <= 0.0 {
        Some(("strike_not_positive", format!("strike = {strike} is not positive")))
    } else if forward <= 0.0 {
        Some(("forward_not_positive", format!("forward = {forward} is not positive")))
    } else if price < 0.0 {
        Some(("price_negative", format!("price = {price} is negative")))
    } else {
        None
    }
}

fn parse_type(s: &str) -> Option<OptionType> {
    match s.trim().to_ascii_lowercase().as_str() {
        "c" | "call" => Some(OptionType::Call),
        "p" | "put" => Some(OptionType::Put),
        _ => None,
    }
}

/// Reads `reader` as CSV, writes rows with `iv` and `reason` to `writer`.
fn convert<R: Read, W: Write>(reader: R, writer: W, source: &str) -> anyhow::Result<Summary> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let headers =
        rdr.headers().with_context(|| format!("{source}: cannot read the header"))?.clone();
    let mut idx = [0usize; 5];
    for (slot, name) in idx.iter_mut().zip(REQUIRED) {
        *slot = headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
            .with_context(|| {
                format!("{source}: missing column `{name}` (need {})", REQUIRED.join(","))
            })?;
    }
    let mut wtr = csv::Writer::from_writer(writer);
    let mut out_header = headers.clone();
    out_header.push_field("iv");
    out_header.push_field("reason");
    wtr.write_record(&out_header)?;

    let mut records: Vec<csv::StringRecord> = Vec::with_capacity(CHUNK);
    let mut inputs: Vec<IvInput> = Vec::with_capacity(CHUNK);
    let mut results: Vec<Result<f64, IvError>> = Vec::with_capacity(CHUNK);
    let mut pre_reasons: Vec<Option<&'static str>> = Vec::with_capacity(CHUNK);
    let mut summary = Summary::default();
    let mut record = csv::StringRecord::new();
    loop {
        let more =
            rdr.read_record(&mut record).with_context(|| format!("{source}: malformed CSV"))?;
        if more {
            let line = record.position().map_or(0, |p| p.line());
            let num = |i: usize| -> anyhow::Result<f64> {
                let name = headers.get(idx[i]).unwrap_or(REQUIRED[i]);
                let raw = record.get(idx[i]).unwrap_or("");
                raw.trim().parse::<f64>().map_err(|_| {
                    anyhow::anyhow!("{source}: line {line}, field `{name}`: not a number: {raw:?}")
                })
            };
            let forward = num(0)?;
            let strike = num(1)?;
            let t = num(2)?;
            let price = num(4)?;
            let raw_type = record.get(idx[3]).unwrap_or("");
            let Some(kind) = parse_type(raw_type) else {
                bail!("{source}: line {line}, field `type`: expected C or P, found {raw_type:?}");
            };
            let pre = input_reason(forward, strike, t, price);
            if let Some((code, why)) = &pre {
                if !summary.examples.iter().any(|e| e.ends_with(&format!("reason {code})"))) {
                    summary.examples.push(format!("{source}: line {line}: {why} (reason {code})"));
                }
            }
            inputs.push(IvInput { kind, price, forward, strike, t });
            records.push(record.clone());
            pre_reasons.push(pre.map(|p| p.0));
        }
        if inputs.len() == CHUNK || (!more && !inputs.is_empty()) {
            results.clear();
            results.resize(inputs.len(), Err(IvError::NonFinite));
            implied_vols_par(&inputs, &mut results);
            for ((rec, res), pre) in records.iter_mut().zip(&results).zip(&pre_reasons) {
                if let Some(code) = pre {
                    summary.no_iv += 1;
                    rec.push_field("");
                    rec.push_field(code);
                    wtr.write_record(&*rec)?;
                    continue;
                }
                match res {
                    Ok(iv) => {
                        rec.push_field(&format!("{iv}"));
                        rec.push_field("");
                    }
                    Err(e) => {
                        summary.no_iv += 1;
                        rec.push_field("");
                        rec.push_field(e.reason());
                    }
                }
                wtr.write_record(&*rec)?;
            }
            summary.rows += inputs.len();
            inputs.clear();
            records.clear();
            pre_reasons.clear();
        }
        if !more {
            break;
        }
    }
    wtr.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(input: &str) -> anyhow::Result<(String, Summary)> {
        let mut out = Vec::new();
        let s = convert(input.as_bytes(), &mut out, "test.csv")?;
        Ok((String::from_utf8(out).expect("csv writer emits UTF-8"), s))
    }

    #[test]
    fn adds_iv_and_reason() {
        // Round trip: the price of σ = 0.5 (volfit::black::price) inverts back to 0.5.
        let p = volfit::black::price(OptionType::Call, 100.0, 110.0, 1.0, 0.5);
        let input = format!("id,forward,strike,t,type,price\na,100,110,1,C,{p}\nb,100,90,1,C,5\n");
        let (out, s) = run_str(&input).expect("valid input");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "id,forward,strike,t,type,price,iv,reason");
        let iv: f64 = lines[1].split(',').nth(6).and_then(|v| v.parse().ok()).expect("iv column");
        assert!((iv - 0.5).abs() < 1e-14);
        assert!(lines[2].ends_with(",,below_intrinsic"));
        assert_eq!((s.rows, s.no_iv), (2, 1));
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let e = run_str("forward,strike,t,type,price\n100,110,1,C,1\n100,abc,1,C,1\n")
            .expect_err("non-numeric strike");
        let msg = format!("{e:#}");
        assert!(msg.contains("line 3") && msg.contains("`strike`"), "{msg}");
        let e = run_str("forward,strike,t,type,price\n100,110,1,X,1\n").expect_err("bad type");
        assert!(format!("{e:#}").contains("line 2, field `type`"));
        let e = run_str("forward,strike,type,price\n100,110,C,1\n").expect_err("missing t");
        assert!(format!("{e:#}").contains("missing column `t`"));
        let e = run_str("forward,strike,t,type,price\n100,110,1,C\n").expect_err("short row");
        assert!(format!("{e:#}").contains("malformed CSV"));
    }

    #[test]
    fn non_finite_and_bounds_are_reasons() {
        let (out, s) = run_str(
            "forward,strike,t,type,price\n100,110,1,C,NaN\n100,110,1,C,100\n100,-5,1,P,1\n",
        )
        .expect("parsable rows");
        let reasons: Vec<&str> =
            out.lines().skip(1).map(|l| l.rsplit(',').next().unwrap_or("")).collect();
        assert_eq!(reasons, ["non_finite", "above_upper_bound", "strike_not_positive"]);
        assert_eq!(s.no_iv, 3);
        assert!(s.examples[0].contains("line 4: strike = -5"), "{:?}", s.examples);
        // t ≤ 0 is named as such (it used to be `non_finite`).
        let (out, s) = run_str("forward,strike,t,type,price\n100,110,0,C,1\n100,110,-0.5,P,20\n")
            .expect("parsable rows");
        assert!(out.lines().skip(1).all(|l| l.ends_with(",,t_not_positive")), "{out}");
        assert_eq!(s.examples.len(), 1);
        assert!(s.examples[0].contains("test.csv: line 2: t = 0"), "{:?}", s.examples);
    }

    #[test]
    fn atomic_output_replaces_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").expect("seed file");
        let r: anyhow::Result<()> = write_atomic(&path, |_w| bail!("boom"));
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("still there"), "old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1, "temp file removed");
        write_atomic(&path, |w| -> anyhow::Result<()> { Ok(w.write_all(b"new")?) }).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("replaced"), "new");
    }
}
