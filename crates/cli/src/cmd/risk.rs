//! `volfit risk`: risk measures of a P&L sample read from CSV.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::io::write_atomic;
use volfit::risk::{evaluate, read_pnl_csv, RiskMeasure, Sample, Spectrum};

/// The sign convention, stated in `--help` and in the JSON output.
pub const CONVENTION: &str =
    "input is P&L (gains positive); losses are negative P&L; every measure is in P&L-loss units, larger = riskier";

/// Arguments of `volfit risk`.
#[derive(Args, Debug)]
#[command(after_long_help = "\
SIGN CONVENTION: the input column is P&L (gains positive); losses are negative P&L. Every \
measure is reported in P&L-loss units where larger = riskier (a negative value is a sure gain).

MEASURES (alpha is a confidence level: 0.99 looks at the worst 1%):
  var:A           value at risk: lower A-quantile of the loss, no interpolation
  es:A, cvar:A    expected shortfall (Acerbi-Tasche), exact with the fractional atom
  spectral-exp:K  spectral measure, phi(u) = K e^{-K(1-u)}/(1-e^{-K}), u = loss level, K > 0
  spectral-pow:G  spectral measure, phi(u) = G (1-u)^(G-1), 0 < G <= 1
  evar:A          entropic value at risk (Ahmadi-Javid 2012)
  entropic:T      entropic risk (1/T) ln E[exp(-T X)], T > 0
  oce-exp:T       optimized certainty equivalent, exponential utility (= entropic:T)
  oce-quad:C      optimized certainty equivalent, capped quadratic utility, C > 0
  oce-cvar:A      optimized certainty equivalent, CVaR utility (= es:A)
  spectral-tab:F  spectral measure with a user spectrum: CSV file F with columns u,phi
                  (knots 0 = u_0 < ... < u_m = 1, phi non-negative, non-decreasing in the
                  loss level u, piecewise-linear mass 1)
  mdd             maximum drawdown of the cumulative P&L path in file order (weights ignored)")]
pub struct RiskArgs {
    /// P&L CSV with a header row (`-` for standard input).
    pub input: PathBuf,
    /// Column holding the P&L.
    #[arg(long, default_value = "pnl")]
    pub column: String,
    /// Column holding scenario weights (non-negative; normalised to probabilities).
    #[arg(long)]
    pub weights_column: Option<String>,
    /// Comma-separated measures, e.g. `var:0.99,es:0.975,spectral-exp:10,evar:0.95,mdd`.
    #[arg(long, short, default_value = "var:0.99,es:0.975")]
    pub measure: String,
    /// Print one JSON object (keyed by measure spec, plus `n` and the sign convention).
    #[arg(long)]
    pub json: bool,
    /// Output file (`-` for standard output), written atomically.
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
}

/// Runs `volfit risk`.
pub fn run(args: &RiskArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let measures = parse_measures(&args.measure)?;
    anyhow::ensure!(!measures.is_empty(), "--measure lists no measure");
    let sample = read_sample(args)?;
    let list: Vec<RiskMeasure> = measures.iter().map(|(_, m)| m.clone()).collect();
    let values = evaluate(&sample, &list)?;
    let text = if args.json {
        let mut obj = serde_json::Map::new();
        for ((spec, _), v) in measures.iter().zip(&values) {
            obj.insert(spec.clone(), serde_json::json!(v));
        }
        let doc = serde_json::json!({
            "n": sample.len(),
            "weighted": sample.probs().is_some(),
            "convention": CONVENTION,
            "measures": obj,
        });
        format!("{}\n", serde_json::to_string_pretty(&doc)?)
    } else {
        measures.iter().zip(&values).map(|((spec, _), v)| format!("{spec} {v}\n")).collect()
    };
    write_atomic(&args.out, |w| w.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !quiet && args.out.as_os_str() != "-" {
        eprintln!(
            "wrote {} measures of {} P&L values to {}",
            values.len(),
            sample.len(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_sample(args: &RiskArgs) -> anyhow::Result<Sample> {
    let weights = args.weights_column.as_deref();
    let sample = if args.input.as_os_str() == "-" {
        read_pnl_csv(std::io::stdin().lock(), &args.input, &args.column, weights)?
    } else {
        let file = std::fs::File::open(&args.input)
            .with_context(|| format!("opening {}", args.input.display()))?;
        read_pnl_csv(std::io::BufReader::new(file), &args.input, &args.column, weights)?
    };
    Ok(sample)
}

/// Parses `--measure`: the library's spec syntax plus `spectral-tab:FILE`.
fn parse_measures(list: &str) -> anyhow::Result<Vec<(String, RiskMeasure)>> {
    let mut out = Vec::new();
    for spec in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let measure = match spec.split_once(':') {
            Some(("spectral-tab", file)) => RiskMeasure::Spectral(
                read_spectrum(file.trim()).with_context(|| format!("measure spec `{spec}`"))?,
            ),
            _ => spec.parse().context("parsing --measure")?,
        };
        out.push((spec.to_owned(), measure));
    }
    Ok(out)
}

/// Reads a tabulated spectrum: CSV with columns `u` and `phi`.
fn read_spectrum(path: &str) -> anyhow::Result<Spectrum> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening spectrum {path}"))?;
    let headers = rdr.headers().with_context(|| format!("{path}: reading header"))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{path}, line 1, field `{name}`: missing column"))
    };
    let (ui, pi) = (col("u")?, col("phi")?);
    let (mut u, mut phi) = (Vec::new(), Vec::new());
    for record in rdr.records() {
        let record = record.with_context(|| format!("{path}: malformed CSV"))?;
        let line = record.position().map_or(0, |p| p.line());
        for (i, name, dest) in [(ui, "u", &mut u), (pi, "phi", &mut phi)] {
            let text = record.get(i).unwrap_or("");
            let v: f64 = text.parse().map_err(|_| {
                anyhow::anyhow!("{path}, line {line}, field `{name}`: not a number: `{text}`")
            })?;
            dest.push(v);
        }
    }
    Spectrum::tabulated(u, phi).with_context(|| format!("spectrum {path}"))
}
