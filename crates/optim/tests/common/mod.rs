//! Standard least-squares test problems with analytic Jacobians, shared by the optimizer
//! tests (and, through a `#[path]` module, by the `volfit-bench` benchmarks).
//!
//! * Moré, Garbow & Hillstrom (1981), "Testing unconstrained optimization software",
//!   ACM TOMS 7(1): Rosenbrock (#1), extended Rosenbrock (#21), Beale (#5), Powell singular
//!   (#13), with their standard starts and known minima (all with zero residual).
//! * NIST Statistical Reference Datasets, nonlinear regression (itl.nist.gov/div898/strd/nls):
//!   Misra1a, Thurber, MGH09, Eckerle4, Rat43 — data, both start vectors, certified
//!   parameters and residual sum of squares exactly as printed in the `.dat` files.
#![allow(dead_code)]

use volfit_optim::{Bounds, Residuals};

/// A residual problem given by an evaluation function (keeps the table below plain data).
#[derive(Clone, Copy)]
pub struct Analytic {
    /// Problem name.
    pub name: &'static str,
    /// Number of residuals.
    pub m: usize,
    /// Number of parameters.
    pub n: usize,
    /// Writes r(x) and optionally the row-major Jacobian.
    pub f: fn(&[f64], &mut [f64], Option<&mut [f64]>),
    /// Standard start.
    pub start: &'static [f64],
    /// Known minimiser.
    pub solution: &'static [f64],
    /// Known minimum of ½‖r‖².
    pub cost: f64,
}

impl Residuals for Analytic {
    fn num_residuals(&self) -> usize {
        self.m
    }
    fn num_params(&self) -> usize {
        self.n
    }
    fn eval(&self, x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        (self.f)(x, r, jac);
        Some(())
    }
}

fn rosenbrock_pairs(x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) {
    let n = x.len();
    for k in 0..n / 2 {
        let (a, b) = (x[2 * k], x[2 * k + 1]);
        r[2 * k] = 10.0 * (b - a * a);
        r[2 * k + 1] = 1.0 - a;
    }
    if let Some(j) = jac {
        j.iter_mut().for_each(|v| *v = 0.0);
        for k in 0..n / 2 {
            let a = x[2 * k];
            j[(2 * k) * n + 2 * k] = -20.0 * a;
            j[(2 * k) * n + 2 * k + 1] = 10.0;
            j[(2 * k + 1) * n + 2 * k] = -1.0;
        }
    }
}

/// MGH #1, start (−1.2, 1), minimum 0 at (1, 1).
pub const ROSENBROCK: Analytic = Analytic {
    name: "Rosenbrock",
    m: 2,
    n: 2,
    f: rosenbrock_pairs,
    start: &[-1.2, 1.0],
    solution: &[1.0, 1.0],
    cost: 0.0,
};

/// MGH #21 with n = 10, start (−1.2, 1, …), minimum 0 at (1, …, 1).
pub const ROSENBROCK10: Analytic = Analytic {
    name: "Rosenbrock10",
    m: 10,
    n: 10,
    f: rosenbrock_pairs,
    start: &[-1.2, 1.0, -1.2, 1.0, -1.2, 1.0, -1.2, 1.0, -1.2, 1.0],
    solution: &[1.0; 10],
    cost: 0.0,
};

fn beale(x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) {
    let y = [1.5, 2.25, 2.625];
    for i in 0..3 {
        let p = x[1].powi(i as i32 + 1);
        r[i] = y[i] - x[0] * (1.0 - p);
    }
    if let Some(j) = jac {
        for i in 0..3 {
            let k = i as i32 + 1;
            j[2 * i] = -(1.0 - x[1].powi(k));
            j[2 * i + 1] = x[0] * f64::from(k) * x[1].powi(k - 1);
        }
    }
}

/// MGH #5, start (1, 1), minimum 0 at (3, 0.5).
pub const BEALE: Analytic = Analytic {
    name: "Beale",
    m: 3,
    n: 2,
    f: beale,
    start: &[1.0, 1.0],
    solution: &[3.0, 0.5],
    cost: 0.0,
};

fn powell_singular(x: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) {
    let (s5, s10) = (5f64.sqrt(), 10f64.sqrt());
    r[0] = x[0] + 10.0 * x[1];
    r[1] = s5 * (x[2] - x[3]);
    r[2] = (x[1] - 2.0 * x[2]).powi(2);
    r[3] = s10 * (x[0] - x[3]).powi(2);
    if let Some(j) = jac {
        j.iter_mut().for_each(|v| *v = 0.0);
        j[0] = 1.0;
        j[1] = 10.0;
        j[4 + 2] = s5;
        j[4 + 3] = -s5;
        let u = 2.0 * (x[1] - 2.0 * x[2]);
        j[8 + 1] = u;
        j[8 + 2] = -2.0 * u;
        let v = 2.0 * s10 * (x[0] - x[3]);
        j[12] = v;
        j[12 + 3] = -v;
    }
}

/// MGH #13, start (3, −1, 0, 1), minimum 0 at the origin (singular Jacobian there).
pub const POWELL_SINGULAR: Analytic = Analytic {
    name: "PowellSingular",
    m: 4,
    n: 4,
    f: powell_singular,
    start: &[3.0, -1.0, 0.0, 1.0],
    solution: &[0.0; 4],
    cost: 0.0,
};

/// The MGH problems above.
pub const MGH: [Analytic; 4] = [ROSENBROCK, ROSENBROCK10, BEALE, POWELL_SINGULAR];

/// A NIST StRD nonlinear-regression problem: residuals `f(b; x_i) − y_i`.
#[derive(Clone, Copy)]
pub struct Nist {
    /// Dataset name.
    pub name: &'static str,
    /// Predictor values.
    pub x: &'static [f64],
    /// Responses.
    pub y: &'static [f64],
    /// Model value at one predictor, writing `∂f/∂b` into the slice.
    pub model: fn(&[f64], f64, &mut [f64]) -> f64,
    /// NIST "Start 1" (far).
    pub start1: &'static [f64],
    /// NIST "Start 2" (near).
    pub start2: &'static [f64],
    /// Certified parameters.
    pub certified: &'static [f64],
    /// Certified residual sum of squares (our cost is half of it).
    pub rss: f64,
}

impl Residuals for Nist {
    fn num_residuals(&self) -> usize {
        self.x.len()
    }
    fn num_params(&self) -> usize {
        self.certified.len()
    }
    fn eval(&self, b: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> Option<()> {
        let n = self.certified.len();
        let mut scratch = [0.0; 8];
        match jac {
            Some(j) => {
                for (i, (&x, &y)) in self.x.iter().zip(self.y).enumerate() {
                    r[i] = (self.model)(b, x, &mut j[i * n..(i + 1) * n]) - y;
                }
            }
            None => {
                for (i, (&x, &y)) in self.x.iter().zip(self.y).enumerate() {
                    r[i] = (self.model)(b, x, &mut scratch[..n]) - y;
                }
            }
        }
        if r.iter().all(|v| v.is_finite()) {
            Some(())
        } else {
            None
        }
    }
}

impl Nist {
    /// Start vector 1 or 2.
    pub fn start(&self, which: u8) -> &'static [f64] {
        if which == 1 {
            self.start1
        } else {
            self.start2
        }
    }
    /// Certified minimum of `½·RSS`.
    pub fn cost(&self) -> f64 {
        0.5 * self.rss
    }
}

/// Log relative error `−log₁₀(|x − c|/|c|)` (McCullough 1999), capped at 15.
pub fn lre(x: f64, c: f64) -> f64 {
    let e = (x - c).abs() / c.abs();
    if e == 0.0 {
        15.0
    } else {
        (-e.log10()).min(15.0)
    }
}

/// Smallest LRE over the parameters.
pub fn min_lre(x: &[f64], c: &[f64]) -> f64 {
    x.iter().zip(c).map(|(&a, &b)| lre(a, b)).fold(f64::INFINITY, f64::min)
}

fn misra1a(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let e = (-b[1] * x).exp();
    g[0] = 1.0 - e;
    g[1] = b[0] * x * e;
    b[0] * (1.0 - e)
}

/// Misra1a (lower difficulty): y = b1·(1 − exp(−b2·x)).
pub const MISRA1A: Nist = Nist {
    name: "Misra1a",
    x: &[
        77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8, 378.4, 434.8, 477.3, 536.8, 593.1, 689.1,
        760.0,
    ],
    y: &[
        10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02, 44.82, 50.76, 55.05, 61.01, 66.40, 75.47,
        81.78,
    ],
    model: misra1a,
    start1: &[500.0, 1e-4],
    start2: &[250.0, 5e-4],
    certified: &[2.3894212918E+02, 5.5015643181E-04],
    rss: 1.2455138894E-01,
};

fn thurber(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let (x2, x3) = (x * x, x * x * x);
    let num = b[0] + b[1] * x + b[2] * x2 + b[3] * x3;
    let den = 1.0 + b[4] * x + b[5] * x2 + b[6] * x3;
    let f = num / den;
    g[0] = 1.0 / den;
    g[1] = x / den;
    g[2] = x2 / den;
    g[3] = x3 / den;
    g[4] = -f * x / den;
    g[5] = -f * x2 / den;
    g[6] = -f * x3 / den;
    f
}

/// Thurber (higher difficulty): cubic/cubic rational.
pub const THURBER: Nist = Nist {
    name: "Thurber",
    x: &[
        -3.067, -2.981, -2.921, -2.912, -2.840, -2.797, -2.702, -2.699, -2.633, -2.481, -2.363,
        -2.322, -1.501, -1.460, -1.274, -1.212, -1.100, -1.046, -0.915, -0.714, -0.566, -0.545,
        -0.400, -0.309, -0.109, -0.103, 0.010, 0.119, 0.377, 0.790, 0.963, 1.006, 1.115, 1.572,
        1.841, 2.047, 2.200,
    ],
    y: &[
        80.574, 84.248, 87.264, 87.195, 89.076, 89.608, 89.868, 90.101, 92.405, 95.854, 100.696,
        101.060, 401.672, 390.724, 567.534, 635.316, 733.054, 759.087, 894.206, 990.785, 1090.109,
        1080.914, 1122.643, 1178.351, 1260.531, 1273.514, 1288.339, 1327.543, 1353.863, 1414.509,
        1425.208, 1421.384, 1442.962, 1464.350, 1468.705, 1447.894, 1457.628,
    ],
    model: thurber,
    start1: &[1000.0, 1000.0, 400.0, 40.0, 0.7, 0.3, 0.03],
    start2: &[1300.0, 1500.0, 500.0, 75.0, 1.0, 0.4, 0.05],
    certified: &[
        1.2881396800E+03,
        1.4910792535E+03,
        5.8323836877E+02,
        7.5416644291E+01,
        9.6629502864E-01,
        3.9797285797E-01,
        4.9727297349E-02,
    ],
    rss: 5.6427082397E+03,
};

fn mgh09(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let num = x * x + x * b[1];
    let den = x * x + x * b[2] + b[3];
    let f = b[0] * num / den;
    g[0] = num / den;
    g[1] = b[0] * x / den;
    g[2] = -f * x / den;
    g[3] = -f / den;
    f
}

/// MGH09 (higher difficulty; Kowalik & Osborne): y = b1(x² + x·b2)/(x² + x·b3 + b4).
pub const MGH09: Nist = Nist {
    name: "MGH09",
    x: &[4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625],
    y: &[0.1957, 0.1947, 0.1735, 0.16, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246],
    model: mgh09,
    start1: &[25.0, 39.0, 41.5, 39.0],
    start2: &[0.25, 0.39, 0.415, 0.39],
    certified: &[1.9280693458E-01, 1.9128232873E-01, 1.2305650693E-01, 1.3606233068E-01],
    rss: 3.0750560385E-04,
};

fn eckerle4(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let u = (x - b[2]) / b[1];
    let e = (-0.5 * u * u).exp();
    let f = b[0] / b[1] * e;
    g[0] = e / b[1];
    g[1] = f * (u * u - 1.0) / b[1];
    g[2] = f * u / b[1];
    f
}

/// Eckerle4 (higher difficulty): y = (b1/b2)·exp(−½((x − b3)/b2)²).
pub const ECKERLE4: Nist = Nist {
    name: "Eckerle4",
    x: &[
        400.0, 405.0, 410.0, 415.0, 420.0, 425.0, 430.0, 435.0, 436.5, 438.0, 439.5, 441.0, 442.5,
        444.0, 445.5, 447.0, 448.5, 450.0, 451.5, 453.0, 454.5, 456.0, 457.5, 459.0, 460.5, 462.0,
        463.5, 465.0, 470.0, 475.0, 480.0, 485.0, 490.0, 495.0, 500.0,
    ],
    y: &[
        0.0001575, 0.0001699, 0.0002350, 0.0003102, 0.0004917, 0.0008710, 0.0017418, 0.0046400,
        0.0065895, 0.0097302, 0.0149002, 0.0237310, 0.0401683, 0.0712559, 0.1264458, 0.2073413,
        0.2902366, 0.3445623, 0.3698049, 0.3668534, 0.3106727, 0.2078154, 0.1164354, 0.0616764,
        0.0337200, 0.0194023, 0.0117831, 0.0074357, 0.0022732, 0.0008800, 0.0004579, 0.0002345,
        0.0001586, 0.0001143, 0.0000710,
    ],
    model: eckerle4,
    start1: &[1.0, 10.0, 500.0],
    start2: &[1.5, 5.0, 450.0],
    certified: &[1.5543827178E+00, 4.0888321754E+00, 4.5154121844E+02],
    rss: 1.4635887487E-03,
};

fn rat43(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let e = (b[1] - b[2] * x).exp();
    let q = 1.0 + e;
    let p = q.powf(-1.0 / b[3]);
    let f = b[0] * p;
    let dq = -f / (b[3] * q); // ∂f/∂q
    g[0] = p;
    g[1] = dq * e;
    g[2] = -dq * e * x;
    g[3] = f * q.ln() / (b[3] * b[3]);
    f
}

/// Rat43 (higher difficulty; Ratkowsky 1983): y = b1/(1 + exp(b2 − b3·x))^(1/b4).
pub const RAT43: Nist = Nist {
    name: "Rat43",
    x: &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0],
    y: &[
        16.08, 33.83, 65.80, 97.20, 191.55, 326.20, 386.87, 520.53, 590.03, 651.92, 724.93, 699.56,
        689.96, 637.56, 717.41,
    ],
    model: rat43,
    start1: &[100.0, 10.0, 1.0, 1.0],
    start2: &[700.0, 5.0, 0.75, 1.3],
    certified: &[6.9964151270E+02, 5.2771253025E+00, 7.5962938329E-01, 1.2792483859E+00],
    rss: 8.7864049080E+03,
};

/// The NIST problems above.
pub const NIST: [Nist; 5] = [MISRA1A, THURBER, MGH09, ECKERLE4, RAT43];

/// Rosenbrock restricted to `x₁ ≤ 0.5`: the unconstrained minimum (1, 1) is outside; the
/// constrained one is `(0.5, 0.25)` with `½‖r‖² = ½·(1 − 0.5)² = 0.125` (closed form: on the
/// face x₁ = 0.5 the first residual vanishes at x₂ = x₁², and ∂f/∂x₁ = −1 < 0 there, so
/// the bound is active). For n = 10 (extended Rosenbrock) every pair behaves the same.
pub fn rosenbrock_box(n: usize) -> Bounds {
    let (lo, hi): (Vec<f64>, Vec<f64>) =
        (0..n).map(|i| if i % 2 == 0 { (-2.0, 0.5) } else { (-2.0, 2.0) }).unzip();
    Bounds::new(lo, hi).expect("valid box")
}
