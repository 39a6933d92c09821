//! Rough Bergomi's time-step bias and the surrogate's held-out accuracy (issue 18).
//!
//! ```text
//! rbergomi_bias levels [--sets 32] [--paths 8192] [--steps 256] [--levels 5] [--seed 2] --out FILE.csv
//! rbergomi_bias held-out --net NET --data DIR --reference DIR
//! ```
//!
//! `levels` prices the default grid for the 16 corners of the default box and `--sets − 16`
//! Sobol points (seed `--seed`, so held out from training data of another seed) at
//! `--levels` nested step counts (`--steps`, `/2`, `/4`, … per maturity) with common random
//! numbers ([`RBergomi::price_grid_levels`]), and writes one CSV row per set and grid
//! point: parameters, `t`, `z`, the vol at each level `iv_N` and its standard error
//! `se_N`, and the standard error of each difference of consecutive levels `dse_N`
//! (`V_N − V_{N/2}`, from the same pairs of paths). Vol fractions.
//!
//! `held-out`: a net against held-out data (`volfit surrogate data --model rbergomi` with
//! another seed, `--data`, whose `err_*` is the stored error) and a reference for the same
//! samples at more steps and paths (`--reference`): per grid point `d = |net − ref|`, the
//! stored error `e`; prints median / p99 of `d` and of `d − e`, the share with `d ≤ e + 0.2`
//! vol pt, and the data's own `|MC − ref|` and its share within `3e`, overall and per
//! maturity and per parameter region (JSON lines).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use volfit::black::vega;
use volfit::model::{McConfig, McWorkspace, RBergomi};
use volfit::surrogate::{read_chunk, DataSpec, Grid, Row, SampleModel, Sampler, Surrogate};
use volfit::surrogate::{surface_seed, SPEC_FILE};
use volfit_bench::args::{arg, num};

/// The 16 corners of the default box, then Sobol points of `seed`.
fn parameter_sets(n: usize, seed: u64) -> Result<Vec<[f64; 4]>, String> {
    let b = SampleModel::RBergomi.default_box();
    let mut sets: Vec<[f64; 4]> = (0..16usize.min(n))
        .map(|c| std::array::from_fn(|d| if (c >> d) & 1 == 1 { b.upper[d] } else { b.lower[d] }))
        .collect();
    let mut s = Sampler::new(&b, seed, 0)?;
    let mut p = [0.0; 4];
    while sets.len() < n {
        s.next_into(&mut p);
        sets.push(p);
    }
    Ok(sets)
}

fn levels(args: &[String]) -> Result<(), String> {
    let n_sets: usize = num(args, "--sets", 32)?;
    let paths: usize = num(args, "--paths", 8192)?;
    let steps: usize = num(args, "--steps", 256)?;
    let nl: usize = num(args, "--levels", 5)?;
    let seed: u64 = num(args, "--seed", 2)?;
    let out = arg(args, "--out").ok_or("--out FILE.csv")?;
    let g = Grid::default();
    let mut ks = vec![0.0; g.len()];
    for (i, row) in ks.chunks_mut(g.z.len()).enumerate() {
        g.strikes_into(i, row);
    }
    let sets = parameter_sets(n_sets, seed)?;
    let mut text = String::from("set,hurst,eta,rho,xi0,t,z");
    let names: Vec<usize> = (0..nl).map(|l| steps >> l).collect();
    for col in ["iv", "se", "dse"] {
        for n in &names {
            text.push_str(&format!(",{col}_{n}"));
        }
    }
    text.push('\n');
    let rows: Vec<Result<String, String>> = {
        use rayon::prelude::*;
        sets.par_iter()
            .enumerate()
            .map_init(McWorkspace::default, |ws, (s, p)| {
                set_rows(s, p, &g, &ks, (steps, nl, paths, seed), ws)
            })
            .collect()
    };
    for r in rows {
        text.push_str(&r?);
    }
    std::fs::write(&out, text).map_err(|e| format!("{out}: {e}"))
}

/// The CSV rows of one parameter set.
fn set_rows(
    s: usize,
    p: &[f64; 4],
    g: &Grid,
    ks: &[f64],
    (steps, nl, paths, seed): (usize, usize, usize, u64),
    ws: &mut McWorkspace,
) -> Result<String, String> {
    let m = RBergomi::new(p[0], p[1], p[2], p[3]).map_err(|e| e.to_string())?;
    let mc = McConfig { paths, steps, seed: surface_seed(seed, s as u64) };
    let mut w = vec![0.0; nl];
    w[0] = 1.0;
    m.price_grid_levels(&mc, &w, &g.maturities, ks, ws).map_err(|e| e.to_string())?;
    let (mut iv, mut se, mut dse) = (vec![], vec![], vec![]);
    for l in 0..nl {
        w.fill(0.0);
        w[l] = 1.0;
        ws.reestimate(ks, &w).map_err(|e| e.to_string())?;
        iv.push(ws.iv().to_vec());
        se.push(ws.iv_se().to_vec());
    }
    for l in 0..nl {
        w.fill(0.0);
        if l + 1 < nl {
            (w[l], w[l + 1]) = (1.0, -1.0);
            ws.reestimate(ks, &w).map_err(|e| e.to_string())?;
        }
        let d: Vec<f64> = (0..g.len())
            .map(|i| {
                let t = g.maturities[i / g.z.len()];
                if l + 1 < nl {
                    ws.price_se()[i] / vega(1.0, ks[i].exp(), t, iv[l][i])
                } else {
                    0.0
                }
            })
            .collect();
        dse.push(d);
    }
    let mut text = String::new();
    for i in 0..g.len() {
        let (t, z) = (g.maturities[i / g.z.len()], g.z[i % g.z.len()]);
        text.push_str(&format!("{s},{},{},{},{},{t},{z}", p[0], p[1], p[2], p[3]));
        for v in iv.iter().chain(&se).chain(&dse) {
            text.push_str(&format!(",{}", v[i]));
        }
        text.push('\n');
    }
    eprintln!("set {s} done");
    Ok(text)
}

fn rows_by_index(dir: &str) -> Result<(DataSpec, HashMap<u64, Row>), String> {
    let path = Path::new(dir).join(SPEC_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec: DataSpec =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = HashMap::new();
    for c in 0..spec.num_chunks() {
        for r in read_chunk(&spec, &Path::new(dir).join(DataSpec::chunk_name(c)))
            .map_err(|e| e.to_string())?
        {
            rows.insert(r.index, r);
        }
    }
    Ok((spec, rows))
}

#[derive(Default)]
struct Stats {
    d: Vec<f64>,
    excess: Vec<f64>,
    within: usize,
    data_err: Vec<f64>,
    data_within_3e: usize,
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN)
}

impl Stats {
    fn json(&mut self) -> serde_json::Value {
        let n = self.d.len().max(1) as f64;
        serde_json::json!({
            "points": self.d.len(),
            "median_abs_net_minus_ref": quantile(&mut self.d, 0.5),
            "p99_abs_net_minus_ref": quantile(&mut self.d, 0.99),
            "median_excess_over_err": quantile(&mut self.excess, 0.5),
            "p99_excess_over_err": quantile(&mut self.excess, 0.99),
            "share_within_err_plus_0.2": self.within as f64 / n,
            "median_abs_data_minus_ref": quantile(&mut self.data_err, 0.5),
            "p99_abs_data_minus_ref": quantile(&mut self.data_err, 0.99),
            "share_data_within_3_err": self.data_within_3e as f64 / n,
        })
    }
}

/// The parameter region of a set: the box corner where the hybrid scheme has not converged
/// at 256 steps (`H < 0.05` with `η > 3`), the rest of `H < 0.1`, and the rest.
fn region(p: &[f64]) -> &'static str {
    match (p[0], p[1]) {
        (h, eta) if h < 0.05 && eta > 3.0 => "region=H<0.05,eta>3",
        (h, _) if h < 0.1 => "region=H<0.1,other",
        _ => "region=H>=0.1",
    }
}

fn held_out(args: &[String]) -> Result<(), String> {
    let net = Surrogate::load(Path::new(&arg(args, "--net").ok_or("--net")?))
        .map_err(|e| e.to_string())?;
    let (spec, rows) = rows_by_index(&arg(args, "--data").ok_or("--data")?)?;
    let (_, refs) = rows_by_index(&arg(args, "--reference").ok_or("--reference")?)?;
    let g = spec.grid.len();
    let mut out = vec![0.0; g];
    let mut by: BTreeMap<String, Stats> = BTreeMap::new();
    let mut matched = 0;
    for (index, r) in &rows {
        let Some(rf) = refs.get(index) else { continue };
        matched += 1;
        let errs = r.errs.as_ref().ok_or("not a Monte Carlo data set (no err_* columns)")?;
        net.surface(&r.params, &mut out);
        for p in 0..g {
            let (d, e) = (100.0 * (out[p] - rf.ivs[p]).abs(), 100.0 * errs[p]);
            let de = 100.0 * (r.ivs[p] - rf.ivs[p]).abs();
            let t = spec.grid.maturities[p / spec.grid.z.len()];
            for label in [format!("t={t:.4}"), region(&r.params).into(), "all".into()] {
                let h = by.entry(label).or_default();
                h.d.push(d);
                h.excess.push(d - e);
                h.within += usize::from(d <= e + 0.2);
                h.data_err.push(de);
                h.data_within_3e += usize::from(de <= 3.0 * e);
            }
        }
    }
    for (label, h) in &mut by {
        let line = serde_json::json!({ "group": label, "samples": matched, "stats": h.json() });
        writeln!(std::io::stdout(), "{line}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("levels") => levels(&args),
        Some("held-out") => held_out(&args),
        _ => Err("usage: rbergomi_bias levels|held-out ...".into()),
    };
    if let Err(e) = result {
        eprintln!("rbergomi_bias: {e}");
        std::process::exit(2);
    }
}
