//! The known true surface of a synthetic chain (the `<input>.truth.json` sidecar that
//! `volfit synth` and `volfit demo` write next to the chain) and how well a fit recovered
//! it: the numbers `volfit demo` prints and the report shows beside the fit.

use crate::fit::ResidualRow;
use crate::market::synth::SynthTruth;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The truth sidecar of the first input that has one: `<input>.truth.json` as written, then
/// beside the fit directory (`DIR/..`) and inside it (a relative input path need not
/// resolve from where the report is rendered). `None` when there is none or it does not
/// parse.
pub fn find(dir: &Path, inputs: &[String]) -> Option<SynthTruth> {
    inputs.iter().find_map(|input| {
        let name = Path::new(input).file_name()?.to_string_lossy().into_owned() + ".truth.json";
        let candidates = [
            Path::new(&format!("{input}.truth.json")).to_path_buf(),
            dir.join("..").join(&name),
            dir.join(&name),
        ];
        candidates.iter().find_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
    })
}

/// How well a fit recovered the true surface.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recovery {
    /// Median |model IV − true IV| over the fitted quotes, vol points.
    pub median_abs: f64,
    /// Largest |model IV − true IV| over the fitted quotes, vol points.
    pub max_abs: f64,
    /// Quotes compared.
    pub n: usize,
    /// Recovered against true SSVI parameters `(name, fitted, true)` (surface fits with
    /// `rho`, `zeta`, `gamma`; η = 2ζ/(1 + |ρ|)).
    pub params: Vec<(String, f64, f64)>,
}

/// The recovery of `truth` by model IVs `rows` and, for SSVI-type surfaces, the surface
/// parameters `surface`.
pub fn recovery(
    rows: &[ResidualRow],
    truth: &SynthTruth,
    surface: Option<&BTreeMap<String, f64>>,
) -> Recovery {
    let m = truth.spec.truth;
    let mut errs: Vec<f64> =
        rows.iter().map(|q| 100.0 * (q.model_iv - m.implied_vol(q.k, q.t)).abs()).collect();
    errs.sort_by(f64::total_cmp);
    let mut params = Vec::new();
    if let Some(p) = surface {
        if let (Some(&rho), Some(&zeta), Some(&gamma)) =
            (p.get("rho"), p.get("zeta"), p.get("gamma"))
        {
            params.push(("rho".into(), rho, m.rho));
            params.push(("eta".into(), 2.0 * zeta / (1.0 + rho.abs()), m.eta));
            params.push(("gamma".into(), gamma, m.gamma));
        }
    }
    Recovery {
        median_abs: errs.get(errs.len() / 2).copied().unwrap_or(f64::NAN),
        max_abs: errs.last().copied().unwrap_or(f64::NAN),
        n: errs.len(),
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::synth::{generate, SynthSpec};

    #[test]
    fn the_truth_recovers_itself_exactly() {
        let chain = generate(&SynthSpec { seed: 3, ..SynthSpec::default() });
        let t = &chain.truth;
        let m = t.spec.truth;
        let rows: Vec<ResidualRow> = [(-0.2, 0.1), (0.0, 0.3), (0.15, 0.6)]
            .map(|(k, tt)| ResidualRow {
                snapshot: String::new(),
                underlying: String::new(),
                expiry: String::new(),
                t: tt,
                strike: 1.0,
                kind: crate::market::OptionType::Call,
                k,
                bid_iv: None,
                ask_iv: None,
                mid_iv: None,
                model_iv: m.implied_vol(k, tt) + if k > 0.1 { 0.01 } else { 0.0 },
                residual: 0.0,
                weight: 1.0,
                effective_weight: 1.0,
                outlier: false,
            })
            .to_vec();
        let zeta = 0.5 * m.eta * (1.0 + m.rho.abs());
        let p: BTreeMap<String, f64> = [
            ("rho".to_string(), m.rho),
            ("zeta".to_string(), zeta),
            ("gamma".to_string(), m.gamma),
        ]
        .into();
        let r = recovery(&rows, t, Some(&p));
        assert!(r.median_abs < 1e-12 && (r.max_abs - 1.0).abs() < 1e-9, "{r:?}");
        assert!(r.params.iter().all(|(_, a, b)| (a - b).abs() < 1e-12), "{r:?}");
        let dir = tempfile::tempdir().expect("dir");
        let csv = dir.path().join("c.csv");
        chain
            .write_truth(std::fs::File::create(dir.path().join("c.csv.truth.json")).expect("f"))
            .expect("w");
        let fit_dir = dir.path().join("fit");
        std::fs::create_dir(&fit_dir).expect("fit dir");
        assert!(find(&fit_dir, &[csv.display().to_string()]).is_some());
        assert!(find(&fit_dir, &["elsewhere/c.csv".into()]).is_some(), "found beside the fit dir");
        assert!(find(&fit_dir, &["nothing.csv".into()]).is_none());
    }
}
