//! Allocation benchmark (issue 7): 200 candidate instruments × 10⁴ scenarios, wall time of
//! the scenario matrices plus the CVaR linear program on a 2-thread pool, and peak RSS.
//!
//! The scenario matrices come from a self-contained generator in this file (BTC and ETH
//! options at three expiries plus futures, joint fat-tailed underlying moves and parallel
//! vol shocks, every option fully revalued by Black-76 at a one-day horizon, and a
//! portfolio-margin grid of 21 moves × 3 vol shocks per coin), so the figure measures
//! what the allocator costs on a problem of the size.
//!
//! `cargo run --release -p volfit-bench --bin alloc_bench [-- SCENARIOS [CANDIDATES [RISK [full]]]]`
//! (defaults 10000, 200 and `es:0.95`; RISK may be a spectral measure such as
//! `spectral-exp:10`; `full` also solves the LP with every scenario row at once, to compare
//! with constraint generation).

use std::process::ExitCode;
use std::time::Instant;
use volfit::alloc::{self, Budget, Group, Position, Problem, Settings};
use volfit::black;
use volfit::market::OptionType;
use volfit::risk::RiskMeasure;
use volfit::risk::Scenarios;

/// Peak resident set size in MiB from /proc/self/status (VmHWM).
fn peak_rss_mib() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else { return f64::NAN };
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One instrument of the synthetic book.
struct Inst {
    coin: usize,
    kind: Option<(OptionType, f64)>,
    t: f64,
}

/// SplitMix64: a tiny seeded generator, enough for benchmark scenarios.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn build(ns: usize, nc: usize) -> Problem {
    let spot = [90_000.0, 3_000.0];
    let vol = [0.5, 0.65];
    let expiries = [7.0 / 365.0, 30.0 / 365.0, 90.0 / 365.0];
    let mut insts = Vec::new();
    // Futures first (one per coin and expiry), then options on a moneyness grid.
    for coin in 0..2 {
        for &t in &expiries {
            insts.push(Inst { coin, kind: None, t });
        }
    }
    let per = (nc - insts.len()) / (2 * expiries.len() * 2);
    'fill: for j in 0..per + 1 {
        for coin in 0..2 {
            for &t in &expiries {
                for kind in [OptionType::Call, OptionType::Put] {
                    if insts.len() == nc {
                        break 'fill;
                    }
                    let m = -0.25 + 0.5 * (j as f64 + 0.5) / (per + 1) as f64;
                    let k = spot[coin] * (m * vol[coin] * t.sqrt() * 4.0).exp();
                    insts.push(Inst { coin, kind: Some((kind, k)), t });
                }
            }
        }
    }
    let h: f64 = 1.0 / 365.0;
    let value = |i: &Inst, f: f64, dv: f64, dt: f64| -> f64 {
        match i.kind {
            None => f,
            Some((kind, k)) => {
                black::price(kind, f, k, (i.t - dt).max(1e-6), (vol[i.coin] + dv).max(0.05))
            }
        }
    };
    let prices: Vec<f64> = insts.iter().map(|i| value(i, spot[i.coin], 0.0, 0.0)).collect();
    let mut rng = Mix(20_260_101);
    let mut data = Vec::with_capacity(ns * nc);
    for _ in 0..ns {
        // Student-t-like moves: a normal scaled by a random variance, BTC/ETH correlated.
        let scale = (3.0 / (0.5 + 2.5 * rng.next())).sqrt();
        let (z1, z2) = (rng.normal(), rng.normal());
        let r = [vol[0] * h.sqrt() * scale * z1, vol[1] * h.sqrt() * scale * (0.8 * z1 + 0.6 * z2)];
        let dv = [-0.4 * r[0] / h.sqrt() * 0.05, -0.4 * r[1] / h.sqrt() * 0.05];
        for (i, inst) in insts.iter().enumerate() {
            let f = spot[inst.coin] * r[inst.coin].exp();
            data.push(value(inst, f, dv[inst.coin], h) - prices[i]);
        }
    }
    let positions = insts
        .iter()
        .enumerate()
        .map(|(i, inst)| Position {
            name: format!("{}-{i}", ["BTC", "ETH"][inst.coin]),
            group: inst.coin,
            price_usd: if inst.kind.is_some() { prices[i] } else { 0.0 },
            spread_usd: 0.02 * prices[i].min(spot[inst.coin] * 0.01),
            min: -10.0,
            max: 10.0,
        })
        .collect();
    let groups = (0..2)
        .map(|coin| {
            let mut m = Vec::new();
            let mut rows = 0;
            for a in 0..21u8 {
                let mv = -0.16 + 0.016 * f64::from(a);
                for dv in [-0.1, 0.0, 0.1] {
                    rows += 1;
                    for (i, inst) in insts.iter().enumerate() {
                        m.push(if inst.coin == coin {
                            let f = spot[coin] * (1.0 + mv);
                            (value(inst, f, dv, 0.0) - prices[i]) / f
                        } else {
                            0.0
                        });
                    }
                }
            }
            Group {
                name: ["BTC", "ETH"][coin].into(),
                net_limit: Some(40.0),
                gross_limit: Some(200.0),
                collateral: Some([2.0, 40.0][coin]),
                margin: Some(Scenarios::new(m, rows, nc).expect("finite grid")),
                price_usd: Some(spot[coin]),
            }
        })
        .collect();
    Problem {
        pnl: Scenarios::new(data, ns, nc).expect("finite scenarios"),
        probs: None,
        positions,
        groups,
        budget: Budget { net: Some(50_000.0), gross: Some(400_000.0) },
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let ns: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let nc: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200).max(20);
    let risk: RiskMeasure =
        match args.get(3).map_or(Ok(RiskMeasure::Es { alpha: 0.95 }), |a| a.parse()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
    let full = args.get(4).is_some_and(|a| a == "full");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("thread pool");
    pool.install(|| {
        let t0 = Instant::now();
        let problem = build(ns, nc);
        let t_build = t0.elapsed().as_secs_f64();
        let settings = Settings {
            risk: risk.clone(),
            lambda: 1.0,
            spread_costs: true,
            ..Settings::default()
        };
        let t1 = Instant::now();
        let a = match alloc::solve(&problem, &settings) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let t_lp = t1.elapsed().as_secs_f64();
        println!("alloc_bench: {nc} candidates × {ns} scenarios, {risk}, λ = 1, 2 threads");
        println!("  scenario matrices : {t_build:8.3} s");
        println!(
            "  LP (clarabel, cg) : {t_lp:8.3} s  ({} rounds, {} IPM iterations, {} scenario rows, status {})",
            a.solver.rounds, a.solver.iterations, a.solver.active_scenarios, a.solver.status
        );
        println!("  total             : {:8.3} s", t_build + t_lp);
        println!(
            "  result: E[P&L] {:.2} USD, risk {:.2} (LP {:.2}), {} nonzero positions, {} binding constraints",
            a.expected_pnl,
            a.risk,
            a.risk_lp,
            a.x.iter().filter(|v| v.abs() > 1e-6).count(),
            a.binding.len()
        );
        if full {
            let t2 = Instant::now();
            let s = Settings { constraint_generation: false, ..settings };
            match alloc::solve(&problem, &s) {
                Ok(b) => println!(
                    "  LP (clarabel, all rows): {:8.3} s ({} IPM iterations); objective {:.6} vs cg {:.6}",
                    t2.elapsed().as_secs_f64(),
                    b.solver.iterations,
                    b.reward - b.risk_lp,
                    a.reward - a.risk_lp
                ),
                Err(e) => println!("  LP (all rows) failed: {e}"),
            }
        }
        println!("  peak RSS (VmHWM)  : {:8.1} MiB", peak_rss_mib());
        ExitCode::SUCCESS
    })
}
