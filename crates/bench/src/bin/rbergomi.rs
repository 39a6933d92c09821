//! Rough Bergomi Monte Carlo (issue 18): time and error per surface on the surrogate grid.
//!
//! ```text
//! rbergomi speed [--paths 1024,4096,16384] [--steps 32] [--reps 3]
//! rbergomi grid --params H,ETA,RHO,XI0 | --sample SEED,INDEX [--paths 4096] [--steps 32] [--seed 0]
//! ```
//!
//! `speed` prices the default grid ([`Grid::default`]: 8 maturities × 11 strikes) for three
//! parameter sets of the default box (centre, a rough/high-vol-of-vol corner and a smooth
//! one) at each path count, single-threaded, and prints one JSON line per (set, paths):
//! median CPU time per surface (the thread's, from
//! `/proc/thread-self/schedstat`) over `--reps` seeds, the median and maximum implied-vol
//! standard error over the grid (vol points), and the cost of 20,000 surfaces on one core.
//! `grid` prints one surface: implied vols and their standard errors per maturity.
//!
//! Measured 2026-12-05 (2 shared cores, load ≈ 10; CPU time of the pricing thread; 32
//! steps per maturity = 161 steps; sets `centre` [0.2625, 2.25, −0.475, 1.145], `rough`
//! [0.05, 3.5, −0.9, 1.0], `smooth` [0.45, 0.8, −0.3, 0.16]):
//!
//! | paths | ms/surface | median se (vol pt) centre / rough / smooth | 20k surfaces, 1 core |
//! |------:|-----------:|--------------------------------------------|---------------------:|
//! | 1,024 | 8–12 | 0.28 / 1.99 / 0.029 | 0.04–0.07 h |
//! | 4,096 | 27–44 | 0.13 / 1.11 / 0.014 | 0.15–0.24 h |
//! | 16,384 | 110–172 | 0.067 / 0.59 / 0.007 | 0.6–0.95 h |

use std::time::Instant;
use volfit::model::{McConfig, McWorkspace, RBergomi};
use volfit::surrogate::{surface_seed, Grid, SampleModel, Sampler};
use volfit_bench::args::arg;

fn list(s: &str) -> Vec<f64> {
    s.split(',').map(|x| x.trim().parse().expect("a number")).collect()
}

fn grid_ks(g: &Grid) -> Vec<f64> {
    let mut ks = vec![0.0; g.len()];
    for (i, row) in ks.chunks_mut(g.z.len()).enumerate() {
        g.strikes_into(i, row);
    }
    ks
}

/// CPU time of this thread in seconds (`/proc/thread-self/schedstat`, nanoseconds): the
/// machine is shared, so wall time overstates the cost under load.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace().next().and_then(|x| x.parse::<f64>().ok()).unwrap_or(f64::NAN) * 1e-9
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn speed(args: &[String]) {
    let paths: Vec<usize> = list(arg(args, "--paths").as_deref().unwrap_or("1024,4096,16384"))
        .into_iter()
        .map(|p| p as usize)
        .collect();
    let steps = arg(args, "--steps").map_or(32, |s| s.parse().expect("--steps"));
    let reps = arg(args, "--reps").map_or(3, |s| s.parse().expect("--reps"));
    let g = Grid::default();
    let ks = grid_ks(&g);
    let sets = [
        ("centre", [0.2625, 2.25, -0.475, 1.145]),
        ("rough", [0.05, 3.5, -0.9, 1.0]),
        ("smooth", [0.45, 0.8, -0.3, 0.16]),
    ];
    let mut ws = McWorkspace::default();
    for (name, p) in sets {
        let m = RBergomi::new(p[0], p[1], p[2], p[3]).expect("valid set");
        for &n in &paths {
            let (mut times, mut med, mut max) = (vec![], vec![], vec![]);
            for seed in 0..reps {
                let mc = McConfig { paths: n, steps, seed };
                let t0 = cpu_seconds();
                let failed = m.price_grid(&mc, &g.maturities, &ks, &mut ws).expect("valid grid");
                times.push(cpu_seconds() - t0);
                let mut se: Vec<f64> = ws.iv_se().iter().map(|s| 100.0 * s).collect();
                med.push(median(&mut se));
                max.push(se.iter().copied().fold(0.0, f64::max));
                assert_eq!(failed, 0, "{name} {n}: {failed} points without an implied vol");
            }
            let t = median(&mut times);
            println!(
                "{{\"set\":\"{name}\",\"paths\":{n},\"steps_per_maturity\":{steps},\"total_steps\":{},\"ms_per_surface\":{:.2},\"median_se_volpt\":{:.4},\"max_se_volpt\":{:.4},\"core_hours_20k\":{:.3}}}",
                ws.steps(),
                1e3 * t,
                median(&mut med),
                median(&mut max),
                t * 20_000.0 / 3600.0
            );
        }
    }
}

fn grid(args: &[String]) {
    let p = match (arg(args, "--params"), arg(args, "--sample")) {
        (Some(p), _) => list(&p),
        (None, Some(s)) => {
            // Sample INDEX of a data set seeded SEED (`volfit surrogate data`'s points).
            let s = list(&s);
            let (seed, index) = (s[0] as u64, s[1] as u64);
            let mut sampler =
                Sampler::new(&SampleModel::RBergomi.default_box(), seed, index).expect("valid box");
            let mut p = vec![0.0; 4];
            sampler.next_into(&mut p);
            println!("params {p:?}, surface seed {}", surface_seed(seed, index));
            p
        }
        _ => panic!("--params H,ETA,RHO,XI0 or --sample SEED,INDEX"),
    };
    let m = RBergomi::new(p[0], p[1], p[2], p[3]).expect("valid parameters");
    let mc = McConfig {
        paths: arg(args, "--paths").map_or(4096, |s| s.parse().expect("--paths")),
        steps: arg(args, "--steps").map_or(32, |s| s.parse().expect("--steps")),
        seed: arg(args, "--seed").map_or(0, |s| s.parse().expect("--seed")),
    };
    let g = Grid::default();
    let ks = grid_ks(&g);
    let mut ws = McWorkspace::default();
    let (t0, w0) = (cpu_seconds(), Instant::now());
    let failed = m.price_grid(&mc, &g.maturities, &ks, &mut ws).expect("valid grid");
    let (cpu, wall) = (cpu_seconds() - t0, w0.elapsed().as_secs_f64());
    let n = g.z.len();
    for (i, t) in g.maturities.iter().enumerate() {
        let row = |v: &[f64]| {
            v[i * n..(i + 1) * n].iter().map(|x| format!("{:7.3}", 100.0 * x)).collect::<String>()
        };
        println!("t {:7.4} iv {}", t, row(ws.iv()));
        println!("          se {}", row(ws.iv_se()));
    }
    if args.iter().any(|a| a == "--prices") {
        println!("price {:?}", &ws.price()[..n]);
        println!("price_se {:?}", &ws.price_se()[..n]);
    }
    println!("forward {:?}", ws.forward());
    println!("forward_se {:?}", ws.forward_se());
    println!(
        "{failed} failed, {:.1} ms CPU ({:.1} ms wall) per surface, {} steps",
        1e3 * cpu,
        1e3 * wall,
        ws.steps()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("speed") => speed(&args),
        Some("grid") => grid(&args),
        _ => eprintln!("usage: rbergomi speed|grid … (see the module docs)"),
    }
}
