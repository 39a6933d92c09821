//! `volfit demo`: the whole job on the built-in synthetic chain.
//!
//! synth → the ordinary reader and cleaning → bid/ask/mid implied vols → SSVI and SVI fits
//! with a robust loss → how well the known truth was recovered. Everything is written to
//! `--out DIR` (default `volfit-demo/`, replaced as a whole when the demo succeeds) so the files
//! can be opened afterwards.

use super::fit::{fit_all, print_summary, write_inputs, write_outputs};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volfit::fit::{FitSpec, ModelKind};
use volfit::io::{write_atomic, OutDir};
use volfit::market::synth::{generate, SynthSpec};
use volfit::market::{build, read_path, ReadOptions};
use volfit::report::fit_truth::recovery;
use volfit_optim::loss::LossKind;

/// Arguments of `volfit demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Seed of the synthetic chain.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory.
    #[arg(long, short, default_value = "volfit-demo")]
    pub out: PathBuf,
}

/// Runs `volfit demo`.
pub fn run(args: &DemoArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let out = OutDir::create(&args.out)?;
    // 1. The synthetic chain, in Deribit's book-summary layout, with its truth.
    let chain = generate(&SynthSpec { seed: args.seed, ..SynthSpec::default() });
    let csv = out.path().join("synth_deribit.csv");
    write_atomic(&csv, |w| chain.write_csv(w))?;
    write_atomic(&out.path().join("synth_deribit.csv.truth.json"), |w| chain.write_truth(w))?;
    let truth = &chain.truth;
    // Outputs name the input where it ends up, not where it is staged.
    let final_csv = args.out.join("synth_deribit.csv");

    // 2. Read it back like any user file: detection, cleaning, forwards, implied vols.
    let opts = ReadOptions::default();
    let mut snaps = Vec::new();
    let mut report = read_path(&csv, &opts, &mut |raw| {
        snaps.push(build(raw, &opts.clean));
        Ok(())
    })
    .with_context(|| format!("reading {}", final_csv.display()))?;
    report.path = final_csv.display().to_string();
    let Some(cleaned) = snaps.first() else {
        anyhow::bail!("the synthetic chain produced no snapshot");
    };
    let snap = &cleaned.snapshot;
    let quotes = snap.num_quotes();
    let two_sided =
        snap.expiries.iter().flat_map(|e| &e.quotes).filter(|q| q.mid_iv.is_some()).count();
    if !quiet {
        println!("volfit demo: synthetic BTC chain, seed {}", args.seed);
        println!(
            "  read {} rows ({}), {} expiries, {} quotes kept ({} with a mid IV)",
            report.rows,
            report.format.name(),
            snap.expiries.len(),
            quotes,
            two_sided
        );
        let json = |c: &volfit::market::RejectionCounts| {
            serde_json::to_string(c).unwrap_or_else(|_| "?".into())
        };
        println!("  rejected: {}", json(&cleaned.rejected));
        println!("  flagged (kept): {}", json(&cleaned.flagged));
        let fwd_err = snap
            .expiries
            .iter()
            .filter_map(|e| {
                let t = truth.expiries.iter().find(|x| x.expiry_ms == e.expiry_ms)?;
                Some((e.forward / t.forward - 1.0).abs())
            })
            .fold(0.0, f64::max);
        println!("  forwards: max relative error vs truth {fwd_err:.1e}");
    }

    // 3. SSVI (the truth's family) and per-expiry SVI, Huber loss at one vol point.
    let mut ok = true;
    for model in [ModelKind::Ssvi, ModelKind::Svi] {
        let spec = FitSpec { model, loss: LossKind::Huber { scale: 0.01 }, ..FitSpec::default() };
        let results = fit_all(&snaps[..1], &spec, false);
        let name = format!("fit_{}", model.name());
        let dir = out.path().join(&name);
        write_outputs(&dir, &spec, std::slice::from_ref(&final_csv), &results)?;
        write_inputs(&dir, std::slice::from_ref(&report), &snaps[..1])?;
        // 4. The report: one self-contained HTML page per fit.
        volfit::report::html::write_report(&dir)
            .with_context(|| format!("writing the report in {}", args.out.join(&name).display()))?;
        let Some(r) = results.first() else { continue };
        ok &= !r.fit.expiries.is_empty();
        if quiet {
            continue;
        }
        println!();
        println!("{} fit (loss {}, solver {}):", model.name(), spec.loss, spec.solver);
        print_summary(&results);
        // The same numbers the report shows beside the fit.
        let rec = recovery(&r.residuals, truth, r.fit.surface_params.as_ref());
        println!(
            "  vs the true surface: median |model − truth| {:.3} vol pts, max {:.3}",
            rec.median_abs, rec.max_abs
        );
        let flagged: Vec<_> = r.residuals.iter().filter(|q| q.outlier).collect();
        println!(
            "  outliers flagged by the robust loss: {} (the generator planted {} stale quotes, {} of them among the fitted OTM quotes)",
            flagged.len(),
            truth.outliers.len(),
            r.residuals
                .iter()
                .filter(|q| {
                    let code = chrono::DateTime::parse_from_rfc3339(&q.expiry)
                        .map(|d| volfit::market::synth::expiry_code(d.timestamp_millis()))
                        .unwrap_or_default();
                    let name = format!("BTC-{code}-{}-{}", q.strike, q.kind.letter());
                    truth.outliers.contains(&name)
                })
                .count()
        );
        if let [(_, rho, rho_t), (_, eta, eta_t), (_, gamma, gamma_t)] = rec.params[..] {
            println!(
                "  recovered rho {rho:.4} (true {rho_t:.4}); eta {eta:.4} (true {eta_t:.4}); gamma {gamma:.4} (true {gamma_t:.4})"
            );
        }
        println!("  wrote {} (report.html: open it in a browser)", args.out.join(&name).display());
    }
    let files = out.commit("demo")?;
    super::print_written(&args.out, &files, start, quiet);
    // The pages are the demo's result: their paths print even with -q.
    for model in [ModelKind::Ssvi, ModelKind::Svi] {
        let page = args.out.join(format!("fit_{}", model.name())).join("report.html");
        println!("report: {}", page.display());
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
