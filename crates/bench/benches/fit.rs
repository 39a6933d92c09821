//! Model calibration on real Deribit chains, volfit side by side with the `volsurf` crate,
//! same quotes, one process: per-expiry SVI and SABR (β = 1), whole-chain SSVI / eSSVI and
//! Heston. Quotes: every two-sided out-of-the-money quote of every expiry with ≥ 6 of them
//! (the Python peers' selection: `../shared/peers/{svi,sabr}_scipy.py`, `heston_quantlib.py`,
//! `--min-points 6`), BTC and ETH of one svcj_deribit_2026 snapshot (`FIT_BENCH_FILE` picks
//! another file of that folder).
//!
//! First a summary pass: each slice / chain timed on its own with `Instant` (median over
//! repeats), RMSE in vol points against the mid IVs of the same quotes, degenerate-fit
//! counts, printed as a table; then criterion groups timing whole passes. volfit's side is
//! the path `fit_snapshot` takes (quasi-explicit start then `calibrate` for SVI; ATM start
//! for SABR; ATM-variance template for SSVI/Heston), plus `fit_snapshot` end to end on one
//! rayon thread. Skips with a notice when the data folder is absent.
//!
//! `cargo bench -p volfit-bench --bench fit`

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use volfit::fit::CfSurfaceModel;
use volfit::fit::{
    calibrate, fit_snapshot, Calibration, FitSpec, ModelKind, SurfaceModel, VolModel,
};
use volfit::market::Snapshot;
use volfit::model::Heston;
use volfit::model::Svi;
use volfit::model::{check_butterfly, fill_grid};
use volfit::model::{Essvi, Phi, Ssvi};
use volfit::model::{Params, Surface};
use volfit::objective::Target;
use volfit_bench::slices::{
    atm_vol, bench_spec, load_snapshots, median, rmse_vol_points, slices, sse_vol_points, svcj_dir,
    Slice,
};
use volsurf::smile::{SabrSmile, SmileSection, SviSmile};
use volsurf::surface::{EssviSurface, SsviSurface, VolSurface};
use volsurf::{DataFilter, Strike, Tenor, WeightingScheme};

const DEFAULT_FILE: &str = "deribit_options_snapshot_20260105T041127Z.csv.gz";
const MIN_QUOTES: usize = 6;

/// On-CPU time of this thread in seconds (`/proc/thread-self/schedstat`, first field, ns):
/// unlike wall time it does not count the time the shared machine runs other processes.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

thread_local! {
    /// CPU seconds per call of the last `timed` run.
    static LAST_CPU: std::cell::Cell<f64> = const { std::cell::Cell::new(f64::NAN) };
}

/// Shortest on-CPU window of one `timed` run, seconds. The kernel advances a running
/// thread's schedstat runtime only at scheduler ticks and context switches (4 ms apart
/// here), so a window of a few milliseconds reads as 0 or one tick; 40 ticks keep the
/// quantization under 3 %.
const MIN_CPU_WINDOW: f64 = 0.16;

/// Median wall time (seconds) of at least `repeats` calls after one warm-up call — more
/// until the calls have run [`MIN_CPU_WINDOW`] on the CPU; returns the last result too. The
/// mean on-CPU time per call is left in `LAST_CPU`.
fn timed<R>(repeats: usize, mut f: impl FnMut() -> R) -> (f64, R) {
    let mut last = black_box(f());
    let mut times = Vec::with_capacity(repeats);
    let cpu0 = thread_cpu();
    let mut batch = repeats.max(1);
    let mut cpu = 0.0;
    // The clock is read between batches only (each read is a file read: not free).
    while times.is_empty() || (cpu < MIN_CPU_WINDOW && times.len() < 1_000_000) {
        for _ in 0..batch {
            let t0 = Instant::now();
            last = black_box(f());
            times.push(t0.elapsed().as_secs_f64());
        }
        cpu = thread_cpu() - cpu0;
        batch = times.len();
    }
    LAST_CPU.with(|c| c.set(cpu / times.len() as f64));
    (median(&times), last)
}

fn last_cpu() -> f64 {
    LAST_CPU.with(std::cell::Cell::get)
}

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ------------------------------------------------------------------------------ volfit side

/// Per-expiry SVI exactly as `fit_snapshot` runs it (`volfit::fit::fit_svi_slice`).
fn ours_svi(s: &Slice, spec: &FitSpec) -> Option<Calibration> {
    volfit::fit::fit_svi_slice(&s.targets, s.t, spec, None).ok().map(|(c, _)| c)
}

/// Per-expiry SABR exactly as `fit_snapshot` runs it (`volfit::fit::fit_sabr_slice`; the
/// spec's β, 1 from [`sabr_spec`]).
fn ours_sabr(s: &Slice, spec: &FitSpec) -> Option<Calibration> {
    volfit::fit::fit_sabr_slice(&s.targets, s.forward, s.t, spec, None).ok().map(|(c, _)| c)
}

/// The benchmark's SABR spec with β fixed at 1 (built once, outside the timed calls).
fn sabr_spec() -> FitSpec {
    FitSpec { sabr_beta: Some(1.0), ..bench_spec(ModelKind::Sabr, MIN_QUOTES) }
}

/// A chain's quotes concatenated, expiries, and the ATM total variances (made increasing).
struct Chain {
    underlying: String,
    slices: Vec<Slice>,
    targets: Vec<Target>,
    ts: Vec<f64>,
    thetas: Vec<f64>,
    short_atm: f64,
    long_atm: f64,
}

fn chain(sl: Vec<Slice>) -> Option<Chain> {
    let sl: Vec<Slice> = sl.into_iter().filter(|s| atm_vol(&s.targets).is_some()).collect();
    let atms: Vec<f64> = sl.iter().filter_map(|s| atm_vol(&s.targets)).collect();
    let ts: Vec<f64> = sl.iter().map(|s| s.t).collect();
    let mut thetas: Vec<f64> = atms.iter().zip(&ts).map(|(a, t)| a * a * t).collect();
    for i in 1..thetas.len() {
        thetas[i] = thetas[i].max(thetas[i - 1] * (1.0 + 1e-3));
    }
    Some(Chain {
        underlying: sl.first()?.underlying.clone(),
        targets: sl.iter().flat_map(|s| s.targets.iter().copied()).collect(),
        short_atm: *atms.first()?,
        long_atm: *atms.last()?,
        slices: sl,
        ts,
        thetas,
    })
}

fn ssvi_template(c: &Chain) -> Option<Ssvi> {
    Ssvi::new(&c.ts, &c.thetas, -0.2, Phi::PowerLaw { eta: 1.0, gamma: 0.4 }).ok()
}

fn start_of<S: Surface>(s: &S) -> Vec<f64> {
    let mut x = vec![0.0; s.num_params()];
    s.to_slice(&mut x);
    x
}

fn ours_ssvi(c: &Chain, spec: &FitSpec) -> Option<Calibration> {
    let fam = SurfaceModel::new(ssvi_template(c)?);
    calibrate(&fam, &c.targets, spec, &start_of(fam.template()), None).ok()
}

fn ours_essvi(c: &Chain, spec: &FitSpec) -> Option<Calibration> {
    let fam = SurfaceModel::new(Essvi::from_ssvi(&ssvi_template(c)?).ok()?);
    calibrate(&fam, &c.targets, spec, &start_of(fam.template()), None).ok()
}

/// The best any butterfly-free SSVI-type surface can do on a chain's quotes: every expiry
/// fitted on its own with its own `(θ, ρ, ψ)` under the butterfly cap (a one-node eSSVI, no
/// calendar coupling, 8 Sobol starts). Every slice of an SSVI or eSSVI surface is a member
/// of this family, so its RMSE bounds theirs from below.
fn ssvi_slice_bound(c: &Chain, spec: &FitSpec) -> Option<Vec<f64>> {
    let spec = FitSpec { starts: 8, ..spec.clone() };
    let phi = ssvi_template(c)?.phi_kind();
    let mut vols = Vec::with_capacity(c.targets.len());
    for (s, &theta) in c.slices.iter().zip(&c.thetas) {
        let node = Essvi::from_ssvi(&Ssvi::new(&[s.t], &[theta], -0.2, phi).ok()?).ok()?;
        let fam = SurfaceModel::new(node);
        let cal = calibrate(&fam, &s.targets, &spec, &start_of(fam.template()), None).ok()?;
        vols.extend(cal.model_vols);
    }
    Some(vols)
}

fn ours_heston(c: &Chain, spec: &FitSpec) -> Option<Calibration> {
    let h = Heston::new(c.short_atm.powi(2), 2.0, c.long_atm.powi(2), 1.0, -0.3).ok()?;
    let fam = CfSurfaceModel::new(h, &c.targets);
    let mut x0 = [0.0; 5];
    Params::to_slice(&h, &mut x0);
    calibrate(&fam, &c.targets, spec, &x0, None).ok()
}

// ------------------------------------------------------------------------------ volsurf side

fn volsurf_svi(s: &Slice, w: WeightingScheme) -> Option<SviSmile> {
    SviSmile::calibrate_with_config(s.forward, s.t, &s.pairs, DataFilter::default(), w, None).ok()
}

fn smile_ivs(sm: &dyn SmileSection, s: &Slice) -> Vec<f64> {
    s.pairs.iter().map(|&(k, _)| sm.vol(Strike(k)).map(|v| v.0).unwrap_or(f64::NAN)).collect()
}

fn surface_ivs(surf: &dyn VolSurface, c: &Chain) -> Vec<f64> {
    c.slices
        .iter()
        .flat_map(|s| {
            s.pairs.iter().map(|&(k, _)| {
                surf.black_vol(Tenor(s.t), Strike(k)).map(|v| v.0).unwrap_or(f64::NAN)
            })
        })
        .collect()
}

/// volsurf's surface inputs: tenors, forwards, `(strike, vol)` pairs per tenor.
type VolsurfInputs = (Vec<f64>, Vec<f64>, Vec<Vec<(f64, f64)>>);

fn volsurf_inputs(c: &Chain) -> VolsurfInputs {
    (
        c.ts.clone(),
        c.slices.iter().map(|s| s.forward).collect(),
        c.slices.iter().map(|s| s.pairs.clone()).collect(),
    )
}

// ------------------------------------------------------------------------------ summary

/// Where Heston's time goes: one value + Jacobian evaluation (what each LM iteration costs)
/// of each expiry's quotes alone, at the fitted parameters.
fn heston_cost_by_expiry(c: &Chain, cal: Option<&Calibration>) {
    let Some(cal) = cal else { return };
    let Ok(h) = Heston::from_slice(&cal.x) else { return };
    let mut parts = Vec::new();
    let mut total = 0.0;
    for s in &c.slices {
        let fam = CfSurfaceModel::new(h, &s.targets);
        let n = s.targets.len();
        let (mut sig, mut jac) = (vec![0.0; n], vec![0.0; 5 * n]);
        let (t, _) = timed(20, || fam.vols(&cal.x, &s.targets, &mut sig, Some(&mut jac)));
        total += t;
        parts.push(format!("{:.2}d/{}q {:.0}µs", s.t * 365.0, n, t * 1e6));
    }
    // fit_snapshot's Heston butterfly check evaluates `Surface::total_variance` point by
    // point on 41 × 3 log-strikes per expiry; the batch `Surface::total_variances` shares
    // one characteristic function per expiry.
    let (mut pointwise, mut batch) = (0.0, 0.0);
    for s in &c.slices {
        let ks = s.ks();
        let (lo, hi) =
            ks.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), k| (l.min(*k), u.max(*k)));
        let mut grid = vec![0.0; 41];
        fill_grid(lo, hi, &mut grid);
        let pts: Vec<f64> = grid.iter().flat_map(|&k| [k - 1e-3, k, k + 1e-3]).collect();
        let mut w = vec![0.0; pts.len()];
        pointwise += timed(3, || {
            for (k, w) in pts.iter().zip(w.iter_mut()) {
                *w = Surface::total_variance(&h, *k, s.t);
            }
        })
        .0;
        batch += timed(3, || h.total_variances(s.t, &pts, &mut w)).0;
    }
    println!(
        "{} Heston 123-point butterfly grid, all expiries: point by point {:.2} ms, batched {:.2} ms",
        c.underlying,
        pointwise * 1e3,
        batch * 1e3
    );
    println!(
        "{} Heston value+Jacobian per expiry (sum {:.2} ms): {}",
        c.underlying,
        total * 1e3,
        parts.join(", ")
    );
}

/// Accumulates per-slice results of one method.
#[derive(Default)]
struct Acc {
    times: Vec<f64>,
    cpu: Vec<f64>,
    sse: f64,
    n: usize,
    worst: f64,
    errored: usize,
    butterfly: usize,
    poor: usize,
    slice_rmse: Vec<f64>,
    iters: Vec<f64>,
    evals: Vec<f64>,
    stops: std::collections::BTreeMap<String, usize>,
}

impl Acc {
    fn add(&mut self, secs: f64, ivs: Option<&[f64]>, mids: &[f64]) {
        self.times.push(secs);
        self.cpu.push(last_cpu());
        match ivs {
            Some(iv) if iv.iter().all(|v| v.is_finite()) => {
                let (s, n) = sse_vol_points(iv, mids);
                self.sse += s;
                self.n += n;
                let r = (s / n.max(1) as f64).sqrt();
                self.worst = self.worst.max(r);
                self.slice_rmse.push(r);
            }
            _ => {
                self.errored += 1;
                self.slice_rmse.push(f64::NAN);
            }
        }
    }
    fn solver(&mut self, cal: Option<&Calibration>) {
        if let Some(c) = cal {
            self.iters.push(f64::from(c.minimum.iters));
            self.evals.push(c.minimum.evals.total() as f64);
            *self.stops.entry(format!("{:?}", c.minimum.stop)).or_default() += 1;
        }
    }
    fn rmse(&self) -> f64 {
        (self.sse / self.n.max(1) as f64).sqrt()
    }
}

fn row(name: &str, a: &Acc, unit_us: bool, quotes: usize) {
    let med = median(&a.times);
    let cpu = median(&a.cpu);
    let fmt =
        |v: f64| if unit_us { format!("{:.1} µs", v * 1e6) } else { format!("{:.3} ms", v * 1e3) };
    let (t, c) = (fmt(med), fmt(cpu));
    println!(
        "| {name} | {t} | {c} | {:.3} | {:.3} | {}/{} | {} | {} | {} |",
        a.rmse(),
        a.worst,
        a.n,
        quotes,
        a.errored,
        a.butterfly,
        a.poor
    );
    if !a.iters.is_empty() {
        println!(
            "|   ↳ median solver iterations {:.0}, evaluations (values + Jacobians) {:.0}, stops {:?} | | | | | | | | |",
            median(&a.iters),
            median(&a.evals),
            a.stops
        );
        println!(
            "|   ↳ slowest {:.1} µs (slice or chain {} of {}) | | | | | | | | |",
            a.times.iter().copied().fold(0.0, f64::max) * 1e6,
            a.times.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).map_or(0, |(i, _)| i),
            a.times.len()
        );
    }
}

fn header(title: &str, time: &str) {
    println!("\n### {title}\n");
    println!(
        "| method | {time} (wall) | same, on-CPU (median over slices of the mean per call) | RMSE vol pts (pooled) | worst slice | quotes fitted | errored | butterfly-violating | poor (> 2× best + 0.5) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

/// Marks slices whose RMSE exceeds twice the best method's plus half a vol point.
fn mark_poor(accs: &mut [&mut Acc]) {
    let n = accs.first().map(|a| a.slice_rmse.len()).unwrap_or(0);
    for i in 0..n {
        let best = accs
            .iter()
            .map(|a| a.slice_rmse[i])
            .filter(|r| r.is_finite())
            .fold(f64::INFINITY, f64::min);
        for a in accs.iter_mut() {
            let r = a.slice_rmse[i];
            if r.is_finite() && r > 2.0 * best + 0.5 {
                a.poor += 1;
            }
        }
    }
}

fn grid() -> Vec<f64> {
    let mut g = vec![0.0; 161];
    fill_grid(-2.0, 2.0, &mut g);
    g
}

fn summary(snaps: &[Snapshot], all: &[Slice], chains: &[Chain]) {
    println!("\n## volfit vs volsurf 4.0.1 on real slices (load average before: {})", load1());
    let quotes: usize = all.iter().map(|s| s.targets.len()).sum();
    println!(
        "{} slices ({}), {} quotes; chains: {}",
        all.len(),
        snaps
            .iter()
            .map(|s| format!("{} {}", s.underlying, s.time_iso()))
            .collect::<Vec<_>>()
            .join(", "),
        quotes,
        chains
            .iter()
            .map(|c| format!(
                "{} {} expiries / {} quotes",
                c.underlying,
                c.ts.len(),
                c.targets.len()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let g = grid();

    // SVI per slice.
    let spec = bench_spec(ModelKind::Svi, MIN_QUOTES);
    let (mut ours, mut vs_def, mut vs_uni) = (Acc::default(), Acc::default(), Acc::default());
    let mut near_fly = 0;
    for s in all {
        let mids = s.mids();
        let (t, cal) = timed(200, || ours_svi(s, &spec));
        ours.add(t, cal.as_ref().map(|c| c.model_vols.as_slice()), &mids);
        ours.solver(cal.as_ref());
        if let Some(c) = cal.as_ref().filter(|c| c.minimum.iters >= spec.max_iters) {
            println!(
                "volfit SVI slice at the iteration limit: {} t={:.5} ({:.2} d), {} quotes, {:.1} µs, rmse {:.3}, stop {:?}, x {:?}",
                s.underlying, s.t, s.t * 365.0, s.targets.len(), t * 1e6, rmse_vol_points(&c.model_vols, &mids), c.minimum.stop, c.x
            );
        }
        if let Some(v) = cal
            .as_ref()
            .and_then(|c| Svi::from_slice(&c.x).ok())
            .and_then(|m| check_butterfly(&m, s.t, &g))
        {
            println!("volfit SVI butterfly violation: {} t={:.5} ({:.2} d) worst g={:.3e} at k={:.3}; quoted k in [{:.3}, {:.3}]", s.underlying, s.t, s.t * 365.0, v.value, v.k, s.ks().iter().copied().fold(f64::INFINITY, f64::min), s.ks().iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
        // Butterfly on the quoted range widened by its width on each side.
        let ks = s.ks();
        let (lo, hi) =
            ks.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), k| (l.min(*k), u.max(*k)));
        let mut near = vec![0.0; 61];
        fill_grid(2.0 * lo - hi, 2.0 * hi - lo, &mut near);
        if cal
            .as_ref()
            .and_then(|c| Svi::from_slice(&c.x).ok())
            .is_some_and(|m| check_butterfly(&m, s.t, &near).is_some())
        {
            near_fly += 1;
        }
        if cal
            .as_ref()
            .and_then(|c| Svi::from_slice(&c.x).ok())
            .is_none_or(|m| check_butterfly(&m, s.t, &g).is_some())
        {
            ours.butterfly += 1;
        }
        for (acc, w) in
            [(&mut vs_def, WeightingScheme::ModelDefault), (&mut vs_uni, WeightingScheme::Uniform)]
        {
            let (t, sm) = timed(15, || volsurf_svi(s, w));
            acc.add(t, sm.as_ref().map(|m| smile_ivs(m, s)).as_deref(), &mids);
            let fly = sm
                .as_ref()
                .and_then(|m| Svi::new(m.a(), m.b(), m.rho(), m.m(), m.sigma()).ok())
                .is_none_or(|m| check_butterfly(&m, s.t, &g).is_some());
            if fly {
                acc.butterfly += 1;
            }
        }
    }
    mark_poor(&mut [&mut ours, &mut vs_def, &mut vs_uni]);
    header("SVI per expiry", "median per slice");
    row("volfit QE start + calibrate (LM, vol residuals, uniform)", &ours, true, quotes);
    row("volsurf SviSmile::calibrate (vega weights, default filter)", &vs_def, true, quotes);
    row("volsurf SviSmile::calibrate_with_config(Uniform)", &vs_uni, true, quotes);
    println!(
        "ratio volsurf(default)/volfit median time: wall {:.1}×, CPU {:.1}×; volsurf(uniform)/volfit: wall {:.1}×, CPU {:.1}×",
        median(&vs_def.times) / median(&ours.times),
        median(&vs_def.cpu) / median(&ours.cpu),
        median(&vs_uni.times) / median(&ours.times),
        median(&vs_uni.cpu) / median(&ours.cpu)
    );
    println!("volfit SVI slices with a butterfly violation within the quoted k-range widened by its width each side: {near_fly}");
    let svi_rmse = ours.rmse();

    // SABR per slice.
    let spec = sabr_spec();
    let (mut ours, mut vs) = (Acc::default(), Acc::default());
    for s in all {
        let mids = s.mids();
        let (t, cal) = timed(200, || ours_sabr(s, &spec));
        ours.add(t, cal.as_ref().map(|c| c.model_vols.as_slice()), &mids);
        ours.solver(cal.as_ref());
        let (t, sm) = timed(20, || SabrSmile::calibrate(s.forward, s.t, 1.0, &s.pairs).ok());
        vs.add(t, sm.as_ref().map(|m| smile_ivs(m, s)).as_deref(), &mids);
    }
    mark_poor(&mut [&mut ours, &mut vs]);
    header("SABR per expiry, β = 1", "median per slice");
    row("volfit calibrate (α ρ ν free, LM, Obłój)", &ours, true, quotes);
    row("volsurf SabrSmile::calibrate (α pinned to ATM)", &vs, true, quotes);
    println!(
        "ratio volsurf/volfit median time: wall {:.1}×, CPU {:.1}×",
        median(&vs.times) / median(&ours.times),
        median(&vs.cpu) / median(&ours.cpu)
    );

    // Surfaces per chain.
    let spec = bench_spec(ModelKind::Ssvi, MIN_QUOTES);
    let (mut o_ssvi, mut o_essvi, mut v_ssvi, mut v_essvi, mut o_heston) =
        (Acc::default(), Acc::default(), Acc::default(), Acc::default(), Acc::default());
    let mut bound = Acc::default();
    for c in chains {
        let mids: Vec<f64> = c.targets.iter().map(|q| q.mid_iv.unwrap_or(f64::NAN)).collect();
        let (t, cal) = timed(20, || ours_ssvi(c, &spec));
        o_ssvi.add(t, cal.as_ref().map(|c| c.model_vols.as_slice()), &mids);
        o_ssvi.solver(cal.as_ref());
        if let Some(cal) = &cal {
            println!(
                "{} SSVI power-law fit: ρ {:.4}, η(1+|ρ|)/2 {:.4} (bound 1), γ {:.4} (bound 0.5); {} iters, stop {:?}",
                c.underlying, cal.x[0], cal.x[1], cal.x[2], cal.minimum.iters, cal.minimum.stop
            );
        }
        let (t, cal) = timed(20, || ours_essvi(c, &spec));
        o_essvi.add(t, cal.as_ref().map(|c| c.model_vols.as_slice()), &mids);
        o_essvi.solver(cal.as_ref());
        let (t, vols) = timed(1, || ssvi_slice_bound(c, &spec));
        bound.add(t, vols.as_deref(), &mids);
        let (ts, fs, data) = volsurf_inputs(c);
        let (t, sf) = timed(5, || SsviSurface::calibrate(&ts, &fs, &data).ok());
        v_ssvi.add(t, sf.as_ref().map(|m| surface_ivs(m, c)).as_deref(), &mids);
        let (t, sf) = timed(5, || EssviSurface::calibrate(&ts, &fs, &data).ok());
        v_essvi.add(t, sf.as_ref().map(|m| surface_ivs(m, c)).as_deref(), &mids);
        let (t, cal) = timed(3, || ours_heston(c, &spec));
        o_heston.add(t, cal.as_ref().map(|c| c.model_vols.as_slice()), &mids);
        o_heston.solver(cal.as_ref());
        heston_cost_by_expiry(c, cal.as_ref());
        if let Some(cal) = cal {
            println!(
                "{} Heston fit: v0 κ θ σ ρ = {:?}, stop {:?}, {} iters, {} evals",
                c.underlying,
                cal.x,
                cal.minimum.stop,
                cal.minimum.iters,
                cal.minimum.evals.total()
            );
        }
    }
    header("Surfaces (one chain = one underlying's snapshot)", "median per chain");
    row("volfit SSVI power-law (LM)", &o_ssvi, false, quotes);
    row("volfit eSSVI (LM)", &o_essvi, false, quotes);
    row("SSVI-family bound (each expiry its own θ ρ ψ, butterfly cap)", &bound, false, quotes);
    row("volsurf SsviSurface::calibrate", &v_ssvi, false, quotes);
    row("volsurf EssviSurface::calibrate", &v_essvi, false, quotes);
    row("volfit Heston (LM, analytic gradient)", &o_heston, false, quotes);
    println!(
        "ratio volsurf/volfit SSVI time: wall {:.1}×, CPU {:.1}×; eSSVI: wall {:.1}×, CPU {:.1}×; volfit SSVI RMSE / per-slice SVI RMSE: {:.2}; eSSVI: {:.2}; SSVI-family bound: {:.2}",
        median(&v_ssvi.times) / median(&o_ssvi.times),
        median(&v_ssvi.cpu) / median(&o_ssvi.cpu),
        median(&v_essvi.times) / median(&o_essvi.times),
        median(&v_essvi.cpu) / median(&o_essvi.cpu),
        o_ssvi.rmse() / svi_rmse,
        o_essvi.rmse() / svi_rmse,
        bound.rmse() / svi_rmse
    );
    for (name, a) in [
        ("SSVI", &o_ssvi),
        ("eSSVI", &o_essvi),
        ("volsurf SSVI", &v_ssvi),
        ("volsurf eSSVI", &v_essvi),
        ("Heston", &o_heston),
    ] {
        println!(
            "{name} per chain: {}",
            chains
                .iter()
                .zip(a.times.iter().zip(&a.slice_rmse))
                .zip(&a.cpu)
                .map(|((c, (t, r)), cpu)| {
                    format!(
                        "{} {:.3} ms (CPU {:.3} ms) rmse {:.3}",
                        c.underlying,
                        t * 1e3,
                        cpu * 1e3,
                        r
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
    }

    // End to end: fit_snapshot on one rayon thread (selection, starts, calibrate, arbitrage
    // checks, residual rows).
    println!("\n### fit_snapshot end to end (1 rayon thread), median per chain\n");
    println!("| model | chain | time (wall) | on-CPU | RMSE vol pts | expiries fitted | skipped |");
    println!("|---|---|---|---|---|---|---|");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    let Ok(pool) = pool else { return };
    for model in
        [ModelKind::Svi, ModelKind::Sabr, ModelKind::Ssvi, ModelKind::Essvi, ModelKind::Heston]
    {
        let spec = bench_spec(model, MIN_QUOTES);
        let reps = if model == ModelKind::Heston { 3 } else { 10 };
        for snap in snaps {
            let ((t, r), cpu) =
                pool.install(|| (timed(reps, || fit_snapshot(snap, &spec, None)), last_cpu()));
            let (iv, mid): (Vec<f64>, Vec<f64>) = r
                .residuals
                .iter()
                .map(|row| (row.model_iv, row.mid_iv.unwrap_or(f64::NAN)))
                .unzip();
            println!(
                "| {} | {} | {:.3} ms | {:.3} ms | {:.3} | {} | {} |",
                model.name(),
                snap.underlying,
                t * 1e3,
                cpu * 1e3,
                rmse_vol_points(&iv, &mid),
                r.fit.expiries.len(),
                r.fit.skipped.len()
            );
        }
    }
    println!("\nload average after summary: {}", load1());
}

// ------------------------------------------------------------------------------ criterion

fn bench(c: &mut Criterion) {
    let Some(dir) = svcj_dir() else {
        eprintln!("real data (../shared/data/svcj_deribit_2026) not found; skipping fit bench");
        return;
    };
    let file = std::env::var("FIT_BENCH_FILE").unwrap_or_else(|_| DEFAULT_FILE.into());
    let snaps: Vec<Snapshot> = match load_snapshots(&dir.join(&file)) {
        Ok(s) => s.into_iter().filter(|s| s.underlying == "BTC" || s.underlying == "ETH").collect(),
        Err(e) => {
            eprintln!("cannot read {file}: {e}; skipping fit bench");
            return;
        }
    };
    let spec_svi = bench_spec(ModelKind::Svi, MIN_QUOTES);
    let per_chain: Vec<Vec<Slice>> = snaps.iter().map(|s| slices(s, &spec_svi)).collect();
    let all: Vec<Slice> = per_chain.iter().flatten().cloned().collect();
    let chains: Vec<Chain> = per_chain.into_iter().filter_map(chain).collect();
    if std::env::var_os("FIT_BENCH_NO_SUMMARY").is_none() {
        summary(&snaps, &all, &chains);
    }

    let spec_sabr = sabr_spec();
    let mut g = c.benchmark_group("fit_svi_all_slices");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.bench_function("volfit", |b| {
        b.iter(|| all.iter().map(|s| ours_svi(s, &spec_svi).is_some()).filter(|ok| *ok).count())
    });
    g.bench_function("volsurf_default", |b| {
        b.iter(|| {
            all.iter()
                .map(|s| volsurf_svi(s, WeightingScheme::ModelDefault).is_some())
                .filter(|ok| *ok)
                .count()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("fit_sabr_all_slices");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.bench_function("volfit", |b| {
        b.iter(|| all.iter().map(|s| ours_sabr(s, &spec_sabr).is_some()).filter(|ok| *ok).count())
    });
    g.bench_function("volsurf", |b| {
        b.iter(|| {
            all.iter()
                .map(|s| SabrSmile::calibrate(s.forward, s.t, 1.0, &s.pairs).is_ok())
                .filter(|ok| *ok)
                .count()
        })
    });
    g.finish();

    let spec = bench_spec(ModelKind::Ssvi, MIN_QUOTES);
    for ch in &chains {
        let (ts, fs, data) = volsurf_inputs(ch);
        let mut g = c.benchmark_group(format!("fit_surface_{}", ch.underlying));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("volfit_ssvi", |b| b.iter(|| ours_ssvi(ch, &spec).is_some()));
        g.bench_function("volfit_essvi", |b| b.iter(|| ours_essvi(ch, &spec).is_some()));
        g.bench_function("volsurf_ssvi", |b| {
            b.iter(|| SsviSurface::calibrate(&ts, &fs, &data).is_ok())
        });
        g.bench_function("volsurf_essvi", |b| {
            b.iter(|| EssviSurface::calibrate(&ts, &fs, &data).is_ok())
        });
        g.bench_function("volfit_heston", |b| b.iter(|| ours_heston(ch, &spec).is_some()));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
