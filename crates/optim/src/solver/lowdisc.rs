//! Low-discrepancy sequences on the unit cube: Sobol (Joe & Kuo 2008 direction numbers,
//! `new-joe-kuo-6.21201`, dimensions 1–32) and Halton (optionally with seeded random
//! permutations of all digits, carried to double precision). Used by
//! [`MultiStart`](crate::MultiStart) to spread starting points over a search box.

// Index loops mirror the formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which low-discrepancy sequence to draw from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SequenceKind {
    /// Sobol (Joe–Kuo). Above [`Sobol::MAX_DIM`] dimensions, Halton is used instead.
    #[default]
    Sobol,
    /// Halton in the first primes, with seeded digit scrambling when `scrambled`.
    Halton {
        /// Apply random digit permutations (seeded).
        scrambled: bool,
    },
}

/// Why a sequence could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LowDiscError {
    /// The requested dimension is zero or above what the sequence supports.
    #[error("dimension {dim} not supported (1..={max})")]
    Dimension {
        /// Requested dimension.
        dim: usize,
        /// Largest supported dimension.
        max: usize,
    },
}

/// `(s, a, m_1..m_s)` for dimensions 2..=32 (Joe & Kuo 2008, file new-joe-kuo-6.21201).
const JOE_KUO: [(u32, u32, &[u32]); 31] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
    (7, 7, &[1, 1, 3, 13, 7, 35, 63]),
    (7, 8, &[1, 3, 5, 9, 1, 25, 53]),
    (7, 14, &[1, 3, 1, 13, 9, 35, 107]),
    (7, 19, &[1, 3, 1, 5, 27, 61, 31]),
    (7, 21, &[1, 1, 5, 11, 19, 41, 61]),
    (7, 28, &[1, 3, 5, 3, 3, 13, 69]),
    (7, 31, &[1, 1, 7, 13, 1, 19, 1]),
    (7, 32, &[1, 3, 7, 5, 13, 19, 59]),
    (7, 37, &[1, 1, 3, 9, 25, 29, 41]),
    (7, 41, &[1, 3, 5, 13, 23, 1, 55]),
    (7, 42, &[1, 3, 7, 3, 13, 59, 17]),
];

const BITS: usize = 32;

/// The Sobol sequence in Gray-code order (Antonov & Saleev 1979), 32-bit resolution
/// (2³² points). The first point is the origin.
#[derive(Clone, Debug)]
pub struct Sobol {
    dim: usize,
    /// Direction numbers, `dim × 32`, row `j` for dimension `j`.
    v: Vec<u32>,
    x: Vec<u32>,
    index: u64,
}

impl Sobol {
    /// Largest supported dimension.
    pub const MAX_DIM: usize = JOE_KUO.len() + 1;

    /// A Sobol sequence in `dim` dimensions.
    ///
    /// # Errors
    /// [`LowDiscError::Dimension`] when `dim` is 0 or above [`Sobol::MAX_DIM`].
    pub fn new(dim: usize) -> Result<Self, LowDiscError> {
        if dim == 0 || dim > Self::MAX_DIM {
            return Err(LowDiscError::Dimension { dim, max: Self::MAX_DIM });
        }
        let mut v = vec![0u32; dim * BITS];
        for k in 0..BITS {
            v[k] = 1u32 << (31 - k);
        }
        for j in 1..dim {
            let (s, a, m) = JOE_KUO[j - 1];
            let s = s as usize;
            let row = &mut v[j * BITS..(j + 1) * BITS];
            for k in 0..s.min(BITS) {
                row[k] = m[k] << (31 - k);
            }
            for k in s..BITS {
                let mut val = row[k - s] ^ (row[k - s] >> s);
                for i in 1..s {
                    if (a >> (s - 1 - i)) & 1 == 1 {
                        val ^= row[k - i];
                    }
                }
                row[k] = val;
            }
        }
        Ok(Sobol { dim, v, x: vec![0; dim], index: 0 })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Writes the next point (in `[0, 1)^dim`) into `out` (length `dim`).
    pub fn next_into(&mut self, out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(&self.x) {
            *o = f64::from(x) / 4_294_967_296.0;
        }
        // Gray code: flip the direction number of the lowest zero bit of the index.
        let c = (self.index.trailing_ones() as usize).min(BITS - 1);
        for j in 0..self.dim {
            self.x[j] ^= self.v[j * BITS + c];
        }
        self.index += 1;
    }
}

/// The Halton sequence in the first `dim` primes, starting at index 1 (the origin is
/// skipped), optionally with a seeded random permutation of the digits of each base.
#[derive(Clone, Debug)]
pub struct Halton {
    bases: Vec<u32>,
    /// Per-dimension digit permutation (concatenated, `bases[j]` entries each).
    perm: Vec<u32>,
    offsets: Vec<usize>,
    index: u64,
    scrambled: bool,
}

impl Halton {
    /// Largest supported dimension.
    pub const MAX_DIM: usize = 256;

    /// A Halton sequence in `dim` dimensions; `scramble` = `Some(seed)` permutes the
    /// digits of each base with a seeded ChaCha8 generator.
    ///
    /// # Errors
    /// [`LowDiscError::Dimension`] when `dim` is 0 or above [`Halton::MAX_DIM`].
    pub fn new(dim: usize, scramble: Option<u64>) -> Result<Self, LowDiscError> {
        if dim == 0 || dim > Self::MAX_DIM {
            return Err(LowDiscError::Dimension { dim, max: Self::MAX_DIM });
        }
        let mut bases = Vec::with_capacity(dim);
        let mut p = 2u32;
        while bases.len() < dim {
            if (2..p).take_while(|d| d * d <= p).all(|d| !p.is_multiple_of(d)) {
                bases.push(p);
            }
            p += 1;
        }
        let mut perm = Vec::new();
        let mut offsets = Vec::with_capacity(dim);
        let mut rng = scramble.map(ChaCha8Rng::seed_from_u64);
        for &b in &bases {
            offsets.push(perm.len());
            let start = perm.len();
            perm.extend(0..b);
            if let Some(r) = rng.as_mut() {
                // Fisher–Yates over all digits, 0 included; the expansion is then carried
                // to full double precision (see `next_into`).
                let d = &mut perm[start..];
                for i in (1..b as usize).rev() {
                    let j = r.random_range(0..=i);
                    d.swap(i, j);
                }
            }
        }
        Ok(Halton { bases, perm, offsets, index: 1, scrambled: scramble.is_some() })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.bases.len()
    }

    /// Writes the next point (in `(0, 1)^dim`) into `out` (length `dim`).
    pub fn next_into(&mut self, out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate().take(self.bases.len()) {
            let b = u64::from(self.bases[j]);
            let perm = &self.perm[self.offsets[j]..];
            let inv_b = 1.0 / b as f64;
            let mut k = self.index;
            let mut scale = inv_b;
            let mut acc = 0.0;
            // Scrambled: permute every digit down to 2⁻⁵³ (leading zeros of the index
            // included), so a permuted 0 does not leave a finite pattern.
            while k > 0 || (self.scrambled && scale > f64::EPSILON * 0.5) {
                acc += f64::from(perm[(k % b) as usize]) * scale;
                k /= b;
                scale *= inv_b;
            }
            *o = acc.min(1.0 - f64::EPSILON / 2.0);
        }
        self.index += 1;
    }
}

/// A sequence of either kind behind one interface.
#[derive(Clone, Debug)]
pub enum Points {
    /// Sobol points (the origin skipped).
    Sobol(Sobol),
    /// Halton points.
    Halton(Halton),
}

impl Points {
    /// A generator of `kind` in `dim` dimensions; `seed` drives Halton scrambling. Sobol
    /// above [`Sobol::MAX_DIM`] falls back to scrambled Halton.
    ///
    /// # Errors
    /// [`LowDiscError::Dimension`] when `dim` is 0 or above [`Halton::MAX_DIM`].
    pub fn new(kind: SequenceKind, dim: usize, seed: u64) -> Result<Self, LowDiscError> {
        match kind {
            SequenceKind::Sobol if dim <= Sobol::MAX_DIM => {
                let mut s = Sobol::new(dim)?;
                let mut skip = vec![0.0; dim];
                s.next_into(&mut skip);
                Ok(Points::Sobol(s))
            }
            SequenceKind::Sobol => Ok(Points::Halton(Halton::new(dim, Some(seed))?)),
            SequenceKind::Halton { scrambled } => {
                Ok(Points::Halton(Halton::new(dim, scrambled.then_some(seed))?))
            }
        }
    }

    /// Writes the next point into `out`.
    pub fn next_into(&mut self, out: &mut [f64]) {
        match self {
            Points::Sobol(s) => s.next_into(out),
            Points::Halton(h) => h.next_into(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sobol_first_points_2d() {
        // Closed form by hand: direction numbers (1/2, 1/4, 1/8) and (1/2, 3/4, 5/8) in the
        // Gray-code recurrence x_{i+1} = x_i XOR v_{c(i)}; these are also the unscrambled
        // points of scipy.stats.qmc.Sobol(d=2, scramble=False).
        let want = [
            [0.0, 0.0],
            [0.5, 0.5],
            [0.75, 0.25],
            [0.25, 0.75],
            [0.375, 0.375],
            [0.875, 0.875],
            [0.625, 0.125],
            [0.125, 0.625],
        ];
        let mut s = Sobol::new(2).expect("2 dims supported");
        let mut p = [0.0; 2];
        for w in want {
            s.next_into(&mut p);
            assert_eq!(p, w);
        }
    }

    #[test]
    fn sobol_is_stratified_in_every_dimension() {
        // Property of digital (t, s)-sequences: the first 2^k points put exactly one point
        // in each interval [i/2^k, (i+1)/2^k) of every coordinate (checks that every
        // direction-number row is valid).
        let d = Sobol::MAX_DIM;
        let mut s = Sobol::new(d).expect("max dim supported");
        let k = 10;
        let count = 1usize << k;
        let mut hits = vec![0u32; d * count];
        let mut p = vec![0.0; d];
        for _ in 0..count {
            s.next_into(&mut p);
            for j in 0..d {
                hits[j * count + (p[j] * count as f64) as usize] += 1;
            }
        }
        assert!(hits.iter().all(|&h| h == 1));
        assert!(Sobol::new(d + 1).is_err());
    }

    #[test]
    fn halton_matches_radical_inverse_and_scrambling_is_seeded() {
        // Radical inverses of 1, 2, 3 in bases 2 and 3 (closed form).
        let mut h = Halton::new(2, None).expect("2 dims");
        let mut p = [0.0; 2];
        let want = [[0.5, 1.0 / 3.0], [0.25, 2.0 / 3.0], [0.75, 1.0 / 9.0]];
        for w in want {
            h.next_into(&mut p);
            assert!((p[0] - w[0]).abs() < 1e-15 && (p[1] - w[1]).abs() < 1e-15);
        }
        let draw = |seed| {
            let mut h = Halton::new(5, Some(seed)).expect("5 dims");
            let mut out = vec![0.0; 50];
            for c in out.chunks_mut(5) {
                h.next_into(c);
            }
            out
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|&v| (0.0..1.0).contains(&v)));
    }
}
