//! Diagnostics from a recorded [`Trace`]: vanishing and exploding gradients, stalls and
//! oscillation, returned as [`Warning`]s in a [`Diagnosis`].
//!
//! The tests (thresholds in [`Thresholds`]):
//! - **vanishing gradient**: the last finite gradient norm is below `vanish_ratio` times
//!   the largest one of the first `window` iterates, while the cost has fallen by less than
//!   `vanish_progress` of its (positive) starting value: the run sits on a plateau.
//! - **exploding gradient**: a gradient norm reaches `explode_ratio` times the first one;
//!   **non-finite**: a cost is NaN/±∞ or a gradient norm is ±∞ (a NaN gradient norm alone
//!   means "derivative-free" and is ignored).
//! - **stall**: over the last `window` iterates the best cost improved by less than
//!   `stall_tol` relative, although the gradient has not converged (the last finite
//!   gradient norm is above `stall_grad_ratio` times the reference, or unknown).
//! - **oscillation**: in some `window` of consecutive cost differences, at least
//!   `oscillation_frac` of the neighbouring pairs have opposite signs (up, down, up, ...).

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use crate::observe::Trace;
use std::fmt;

/// Thresholds of the diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// Window length (iterates) for the reference gradient, stalls and oscillation.
    pub window: usize,
    /// Vanishing: last gradient norm ≤ `vanish_ratio ×` reference.
    pub vanish_ratio: f64,
    /// Vanishing: the cost fell by less than this fraction of its start.
    pub vanish_progress: f64,
    /// Exploding: gradient norm ≥ `explode_ratio ×` the first one.
    pub explode_ratio: f64,
    /// Stall: relative improvement of the best cost over the last window below this.
    pub stall_tol: f64,
    /// Stall: not flagged when the last gradient norm is ≤ this × reference (converged).
    pub stall_grad_ratio: f64,
    /// Oscillation: fraction of sign-alternating neighbouring differences in a window.
    pub oscillation_frac: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            window: 20,
            vanish_ratio: 1e-3,
            vanish_progress: 0.5,
            explode_ratio: 1e3,
            stall_tol: 1e-8,
            stall_grad_ratio: 1e-6,
            oscillation_frac: 0.8,
        }
    }
}

/// One diagnostic finding.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Warning {
    /// The gradient collapsed while the cost stayed high.
    VanishingGradient {
        /// Iteration of the last iterate.
        iter: u32,
        /// Last gradient norm over the reference.
        grad_ratio: f64,
        /// Last cost over the first.
        cost_ratio: f64,
    },
    /// The gradient norm grew by orders of magnitude.
    ExplodingGradient {
        /// First iteration where the growth crossed the threshold.
        iter: u32,
        /// Gradient norm over the first one.
        growth: f64,
    },
    /// A cost or gradient norm became NaN or infinite.
    NonFinite {
        /// First offending iteration.
        iter: u32,
    },
    /// No relative improvement over the final window.
    Stall {
        /// First iteration of the window.
        since_iter: u32,
        /// Relative improvement of the best cost over the window.
        improvement: f64,
    },
    /// The cost goes up and down in alternation.
    Oscillation {
        /// First iteration of the oscillating window.
        iter: u32,
        /// Fraction of alternating neighbouring differences in that window.
        fraction: f64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Warning::VanishingGradient { iter, grad_ratio, cost_ratio } => write!(
                f,
                "vanishing gradient: at iteration {iter} the gradient norm is {grad_ratio:.1e} \
                 of its early value while the cost is still {:.0}% of its start \
                 (plateau or saturation; rescale parameters or change the start)",
                cost_ratio * 100.0
            ),
            Warning::ExplodingGradient { iter, growth } => write!(
                f,
                "exploding gradient: at iteration {iter} the gradient norm grew {growth:.1e}× \
                 (lower the learning rate or clip gradients)"
            ),
            Warning::NonFinite { iter } => {
                write!(f, "non-finite cost or gradient at iteration {iter}")
            }
            Warning::Stall { since_iter, improvement } => write!(
                f,
                "stall: since iteration {since_iter} the best cost improved by only \
                 {improvement:.1e} (relative) although the gradient has not converged"
            ),
            Warning::Oscillation { iter, fraction } => write!(
                f,
                "oscillation: from iteration {iter} the cost alternates up and down in {:.0}% \
                 of steps (step size too large)",
                fraction * 100.0
            ),
        }
    }
}

/// The warnings found in a trace (empty for a clean run).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Diagnosis {
    /// Findings, in the order vanishing, exploding/non-finite, stall, oscillation.
    pub warnings: Vec<Warning>,
}

impl Diagnosis {
    /// True when nothing was flagged.
    pub fn is_clean(&self) -> bool {
        self.warnings.is_empty()
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.warnings.is_empty() {
            return f.write_str("no warnings");
        }
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Runs every diagnostic on `trace`.
pub fn diagnose(trace: &Trace, th: &Thresholds) -> Diagnosis {
    let it = &trace.iterates;
    let mut warnings = Vec::new();
    if it.is_empty() {
        return Diagnosis { warnings };
    }
    let window = th.window.max(2);
    let g_first = it.iter().map(|i| i.grad_norm).find(|g| g.is_finite() && *g > 0.0);
    let g_ref = it
        .iter()
        .take(window)
        .map(|i| i.grad_norm)
        .filter(|g| g.is_finite())
        .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))));
    let last = it[it.len() - 1];
    let g_last = it.iter().rev().map(|i| i.grad_norm).find(|g| g.is_finite());

    // Vanishing gradient.
    let c0 = it[0].cost;
    if let (Some(gr), Some(gl)) = (g_ref, g_last) {
        if gr > 0.0 && gl <= th.vanish_ratio * gr && c0 > 0.0 && last.cost.is_finite() {
            let progress = (c0 - last.cost) / c0;
            if progress < th.vanish_progress {
                warnings.push(Warning::VanishingGradient {
                    iter: last.iter,
                    grad_ratio: gl / gr,
                    cost_ratio: last.cost / c0,
                });
            }
        }
    }

    // Exploding gradient and non-finite values.
    if let Some(i) = it.iter().find(|i| !i.cost.is_finite() || i.grad_norm.is_infinite()) {
        warnings.push(Warning::NonFinite { iter: i.iter });
    }
    if let Some(g0) = g_first {
        if let Some(i) =
            it.iter().find(|i| i.grad_norm.is_finite() && i.grad_norm >= th.explode_ratio * g0)
        {
            warnings.push(Warning::ExplodingGradient { iter: i.iter, growth: i.grad_norm / g0 });
        }
    }

    // Stall over the final window.
    if it.len() > window {
        let split = it.len() - window;
        let best = |s: &[crate::observe::Iterate]| {
            s.iter().map(|i| i.cost).filter(|c| c.is_finite()).fold(f64::INFINITY, f64::min)
        };
        let before = best(&it[..split]);
        let after = best(&it[split..]).min(before);
        let converged = match (g_ref, g_last) {
            (Some(gr), Some(gl)) => gl <= th.stall_grad_ratio * gr,
            _ => false,
        };
        if before.is_finite() && before != 0.0 && !converged {
            let improvement = (before - after) / before.abs();
            if improvement < th.stall_tol {
                warnings.push(Warning::Stall { since_iter: it[split].iter, improvement });
            }
        }
    }

    // Oscillation: sliding window over signs of consecutive cost differences.
    if it.len() >= window + 2 {
        let scale = it.iter().map(|i| i.cost.abs()).filter(|c| c.is_finite()).fold(0.0, f64::max);
        let tiny = 1e-12 * scale.max(f64::MIN_POSITIVE);
        // alt[k] = 1 when d_k and d_{k+1} have opposite, non-negligible signs, where
        // d_k = cost_{k+1} − cost_k.
        let alt = |k: usize| -> usize {
            let d1 = it[k + 1].cost - it[k].cost;
            let d2 = it[k + 2].cost - it[k + 1].cost;
            usize::from(d1.abs() > tiny && d2.abs() > tiny && d1 * d2 < 0.0)
        };
        let pairs = it.len() - 2;
        let mut count: usize = (0..window).map(alt).sum();
        for s in 0..=(pairs - window) {
            if s > 0 {
                count = count + alt(s + window - 1) - alt(s - 1);
            }
            let frac = count as f64 / window as f64;
            if frac >= th.oscillation_frac {
                warnings.push(Warning::Oscillation { iter: it[s].iter, fraction: frac });
                break;
            }
        }
    }
    Diagnosis { warnings }
}

/// Thresholds of the per-group diagnostics ([`diagnose_groups`]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupThresholds {
    /// Vanishing: a group's gradient RMS is, in the median record, below this fraction of
    /// the largest group's RMS in the same record.
    pub vanish_ratio: f64,
    /// Exploding: a group's gradient RMS reaches this multiple of its first record's.
    pub explode_ratio: f64,
}

impl Default for GroupThresholds {
    fn default() -> Self {
        GroupThresholds { vanish_ratio: 1e-3, explode_ratio: 1e3 }
    }
}

/// A per-group finding (a group is a contiguous block of parameters, e.g. a network
/// layer).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum GroupWarning {
    /// The group's gradient is orders of magnitude below the largest group's: its
    /// parameters barely move (vanishing gradient in the early layers of a deep net).
    Vanishing {
        /// Group index.
        group: usize,
        /// Median over records of the group's RMS over the largest group's RMS.
        ratio: f64,
    },
    /// The group's gradient grew by orders of magnitude.
    Exploding {
        /// Group index.
        group: usize,
        /// First record where the growth crossed the threshold.
        record: usize,
        /// RMS there over the first record's RMS.
        growth: f64,
    },
    /// The group's gradient RMS became NaN or infinite.
    NonFinite {
        /// Group index.
        group: usize,
        /// First offending record.
        record: usize,
    },
}

impl fmt::Display for GroupWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GroupWarning::Vanishing { group, ratio } => write!(
                f,
                "vanishing gradient in group {group}: its gradient RMS is {ratio:.1e} of the \
                 largest group's (saturated activations or poor initialisation)"
            ),
            GroupWarning::Exploding { group, record, growth } => write!(
                f,
                "exploding gradient in group {group}: at record {record} its gradient RMS grew \
                 {growth:.1e}× (lower the learning rate or clip gradients)"
            ),
            GroupWarning::NonFinite { group, record } => {
                write!(f, "non-finite gradient in group {group} at record {record}")
            }
        }
    }
}

/// Per-group gradient diagnostics from `records` (one per epoch or step; each holds every
/// group's gradient RMS, as [`Epoch::group_grad_rms`](crate::Epoch)): vanishing, exploding
/// and non-finite groups, in group order.
pub fn diagnose_groups(records: &[Vec<f64>], th: &GroupThresholds) -> Vec<GroupWarning> {
    let mut out = Vec::new();
    let Some(first) = records.first() else {
        return out;
    };
    let mut ratios = Vec::with_capacity(records.len());
    for group in 0..first.len() {
        if let Some(record) = records.iter().position(|r| !r[group].is_finite()) {
            out.push(GroupWarning::NonFinite { group, record });
            continue;
        }
        ratios.clear();
        ratios.extend(records.iter().map(|r| {
            let top = r.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
            if top > 0.0 {
                r[group] / top
            } else {
                1.0
            }
        }));
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        if median < th.vanish_ratio {
            out.push(GroupWarning::Vanishing { group, ratio: median });
        }
        let g0 = first[group];
        if g0 > 0.0 {
            if let Some(record) = records.iter().position(|r| r[group] >= th.explode_ratio * g0) {
                let growth = records[record][group] / g0;
                out.push(GroupWarning::Exploding { group, record, growth });
            }
        }
    }
    out
}
