//! Watching a solver work: the solver pushes each [`Iterate`] to an [`Observer`]
//! (ripgrep's `Sink` idea). Observers cannot change the numbers.

/// One accepted iterate, as reported by a solver.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Iterate {
    /// Iteration number, starting at 0 for the initial point.
    pub iter: u32,
    /// Cost at this iterate.
    pub cost: f64,
    /// Euclidean norm of the gradient (NaN for derivative-free solvers).
    pub grad_norm: f64,
    /// Euclidean norm of the last step (0 at the initial point).
    pub step: f64,
    /// Learning rate, trust-region radius, damping or step size, whichever the solver has
    /// (NaN if none).
    pub rate: f64,
}

/// Receives iterates pushed by a solver.
pub trait Observer {
    /// Called once per accepted iterate.
    fn observe(&mut self, it: &Iterate);
}

/// The "nothing" observer.
impl Observer for () {
    fn observe(&mut self, _: &Iterate) {}
}

/// Records every iterate, for loss-curve charts and diagnostics.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trace {
    /// The iterates in order.
    pub iterates: Vec<Iterate>,
}

impl Observer for Trace {
    fn observe(&mut self, it: &Iterate) {
        self.iterates.push(*it);
    }
}

impl<F: FnMut(&Iterate)> Observer for F {
    fn observe(&mut self, it: &Iterate) {
        self(it)
    }
}
