//! Parameter domains and the free ↔ bounded coordinate transforms optimizers work in.

/// Where one parameter may live.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Domain {
    /// Any real number.
    Free,
    /// Strictly positive.
    Positive,
    /// Strictly above a lower end.
    Lower(f64),
    /// Strictly below an upper end.
    Upper(f64),
    /// Strictly inside an open interval `(lo, hi)`.
    Interval(f64, f64),
}

impl Domain {
    /// True when `x` lies in the domain.
    pub fn contains(self, x: f64) -> bool {
        match self {
            Domain::Free => x.is_finite(),
            Domain::Positive => x > 0.0 && x.is_finite(),
            Domain::Lower(lo) => x > lo && x.is_finite(),
            Domain::Upper(hi) => x < hi && x.is_finite(),
            Domain::Interval(lo, hi) => x > lo && x < hi,
        }
    }
}
