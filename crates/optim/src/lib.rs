//! # volfit-optim: robust loss minimisation, no finance inside
//!
//! ## Brief overview
//! A problem is either least-squares [`Residuals`] (m residuals in n parameters) or a scalar
//! [`Objective`]. A robust [`Loss`] ρ(s) on squared residuals, per-residual weights and
//! penalties turn residuals into one cost `½ Σ wᵢ ρ(rᵢ²) + penalties`, defined once in
//! `robust`. First-order, quasi-Newton and global [`Solver`]s see its value and gradient;
//! Levenberg–Marquardt sees the Triggs-corrected residuals and Jacobian. Every solver returns
//! a [`Minimum`] whose [`Stop`] says why it stopped; an [`Observer`] sees each iterate and a
//! [`Trace`] feeds `diagnose`. A [`StochasticObjective`] (a mean over samples) trains with
//! the first-order solvers on mini-batches through [`MiniBatch`], epoch by epoch.

pub mod check;
pub mod covariance;
pub mod diagnose;
pub mod linalg;
pub mod loss;
pub mod observe;
pub mod penalty;
pub mod problem;
pub mod robust;
pub mod solver;
pub mod stochastic;
pub mod transform;

pub use diagnose::{
    diagnose, diagnose_groups, Diagnosis, GroupThresholds, GroupWarning, Thresholds, Warning,
};
pub use loss::{Loss, LossKind, ResidualScale, ScaleAnnealing};
pub use observe::{Iterate, Observer, Trace};
pub use penalty::{Penalty, Ridge};
pub use problem::{
    Bounds, BoundsError, Counted, Evals, FnObjective, FnResiduals, LeastSquares, Objective,
    Residuals, SumOfSquares,
};
pub use robust::RobustSum;
pub use solver::adam::Adam;
pub use solver::cma_es::CmaEs;
pub use solver::differential_evolution::{DifferentialEvolution, Strategy};
pub use solver::gradient_descent::GradientDescent;
pub use solver::lbfgs::Lbfgs;
pub use solver::lbfgsb::LbfgsB;
pub use solver::levenberg_marquardt::{Damping, LevenbergMarquardt};
pub use solver::lowdisc::{Halton, SequenceKind, Sobol};
pub use solver::momentum::Momentum;
pub use solver::multi_start::{MultiStart, Polish};
pub use solver::nelder_mead::NelderMead;
pub use solver::nesterov::Nesterov;
pub use solver::rmsprop::RmsProp;
pub use solver::schedule::{Clip, Control, Schedule};
pub use solver::{Limits, Minimum, Solver, Stop};
pub use stochastic::{
    EarlyStopping, Epoch, EpochObserver, Epochs, FullBatch, MeanOver, MiniBatch,
    StochasticObjective, Training, Validation,
};
pub use transform::{Domain, Frozen, Transformed};
