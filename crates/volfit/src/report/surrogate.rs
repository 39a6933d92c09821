//! The training report of `volfit surrogate train`: beside `NET.safetensors`, the loss
//! curves and per-layer gradient RMS per epoch (`NET.training.csv`), the held-out |IV
//! error| per grid point (`NET.grid_errors.csv`) and a page with their charts
//! (`NET.report.html`).

use super::page::num;
use super::svg::{heatmap, log_lines};
use crate::io::write_atomic;
use crate::surrogate::{Grid, TrainOutcome};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `net.safetensors` → `net.<suffix>` in the same folder.
fn beside(net: &Path, suffix: &str) -> PathBuf {
    let stem = net.file_stem().map_or_else(|| "net".into(), |s| s.to_string_lossy().into_owned());
    net.with_file_name(format!("{stem}.{suffix}"))
}

/// One row per epoch: losses (normalised units), rate, gradient RMS of each layer.
fn training_csv(o: &TrainOutcome) -> String {
    let layers = o.epochs.iter().map(|e| e.group_grad_rms.len()).max().unwrap_or(0);
    let mut s = String::from("epoch,train_loss,val_loss,rate");
    (0..layers).for_each(|l| {
        let _ = write!(s, ",grad_rms_layer{l}");
    });
    s.push('\n');
    for e in &o.epochs {
        let val = e.val_loss.map_or(String::new(), |v| v.to_string());
        let _ = write!(s, "{},{},{val},{}", e.epoch, e.train_loss, e.rate);
        e.group_grad_rms.iter().for_each(|g| {
            let _ = write!(s, ",{g}");
        });
        s.push('\n');
    }
    s
}

/// One row per grid point: maturity, z, k at the median, median and p99 |IV error| (vol).
fn errors_csv(o: &TrainOutcome) -> String {
    let g = &o.surrogate.info().grid;
    let mut s = String::from("t,z,median_abs_iv_error,p99_abs_iv_error\n");
    for (i, t) in g.maturities.iter().enumerate() {
        for (j, z) in g.z.iter().enumerate() {
            let p = i * g.z.len() + j;
            let _ = writeln!(s, "{t},{z},{},{}", o.errors.median[p], o.errors.p99[p]);
        }
    }
    s
}

/// Cell edges around increasing centres (half-way between, half a step beyond the ends).
fn edges(c: &[f64]) -> Vec<f64> {
    let step = |i: usize| c.get(i + 1).zip(c.get(i)).map_or(1.0, |(b, a)| b - a);
    let mut e = vec![c[0] - 0.5 * step(0)];
    e.extend(c.windows(2).map(|w| 0.5 * (w[0] + w[1])));
    e.push(c[c.len() - 1] + 0.5 * step(c.len().saturating_sub(2)));
    e
}

/// Heat map of one error statistic over the grid (rows: maturity index).
fn grid_map(g: &Grid, values: &[f64]) -> String {
    let rows: Vec<Vec<f64>> = values.chunks(g.z.len()).map(<[f64]>::to_vec).collect();
    let ys: Vec<f64> = (0..=g.maturities.len()).map(|i| i as f64 - 0.5).collect();
    heatmap(("z = k/√t", "maturity index (0 = shortest)", "vol pts"), &edges(&g.z), &ys, &rows)
}

/// The page.
pub fn render(o: &TrainOutcome) -> String {
    let pts = |f: &dyn Fn(&volfit_optim::Epoch) -> Option<f64>| -> Vec<(f64, f64)> {
        o.epochs.iter().filter_map(|e| f(e).map(|v| (f64::from(e.epoch), v))).collect()
    };
    let losses = vec![
        ("train".to_string(), pts(&|e| Some(e.train_loss))),
        ("validation".to_string(), pts(&|e| e.val_loss)),
    ];
    let layers = o.epochs.iter().map(|e| e.group_grad_rms.len()).max().unwrap_or(0);
    let grads: Vec<(String, Vec<(f64, f64)>)> = (0..layers)
        .map(|l| (format!("layer {l}"), pts(&|e| e.group_grad_rms.get(l).copied())))
        .collect();
    let g = &o.surrogate.info().grid;
    let mats: Vec<String> = g.maturities.iter().map(|t| format!("{} d", num(t * 365.0))).collect();
    let e = &o.errors;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>surrogate training</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:auto}}svg{{width:100%}}\
         </style></head><body><h1>Surrogate training: {model}</h1>\
         <p>{n_train} training and {n_val} validation samples; {epochs} epochs run, best {best} \
         ({stop:?}), {secs} s. Validation loss {v0} → {v1} (normalised units).</p>\
         <p>Held-out |IV error| over all grid points: median {med} vol pts, p99 {p99} vol pts, \
         max {max} vol pts ({samples} samples).</p><h2>Loss</h2>{loss}\
         <h2>Gradient RMS per layer</h2>{grad}<h2>Median |IV error| per grid point</h2>{hm}\
         <h2>p99 |IV error| per grid point</h2>{hp}<p>Maturity index: {mats}.</p></body></html>",
        model = o.surrogate.info().model,
        n_train = o.n_train,
        n_val = o.n_val,
        epochs = o.epochs.len(),
        best = o.best_epoch,
        stop = o.stop,
        secs = num(o.seconds),
        v0 = num(o.initial_val_loss),
        v1 = num(o.final_val_loss),
        med = num(100.0 * e.all_median),
        p99 = num(100.0 * e.all_p99),
        max = num(100.0 * e.max),
        samples = e.samples,
        loss = log_lines("loss", ("epoch", "loss"), &losses),
        grad = log_lines("grad", ("epoch", "gradient RMS"), &grads),
        hm = grid_map(g, &e.median),
        hp = grid_map(g, &e.p99),
        mats = mats.join(", "),
    );
    s
}

/// Writes the report files beside `net` (see the module docs); returns their paths.
///
/// # Errors
/// The first write that fails.
pub fn write_training_report(net: &Path, o: &TrainOutcome) -> std::io::Result<Vec<PathBuf>> {
    let files = [
        (beside(net, "training.csv"), training_csv(o)),
        (beside(net, "grid_errors.csv"), errors_csv(o)),
        (beside(net, "report.html"), render(o)),
    ];
    for (path, text) in &files {
        write_atomic(path, |w: &mut dyn Write| w.write_all(text.as_bytes()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}
