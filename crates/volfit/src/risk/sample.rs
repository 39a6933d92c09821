//! P&L samples: validated values with optional probabilities, sorted once by loss, and a
//! streaming CSV reader whose errors name file, line and field.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::RiskError;

/// Tolerance on tail masses when deciding which atom holds a quantile.
pub const TIE_TOL: f64 = 1e-12;

/// A P&L sample: finite values `x_i` with probabilities `p_i` (uniform when no weights are
/// given; weights are normalised to sum to one). Losses are `-x_i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pnl: Vec<f64>,
    prob: Option<Vec<f64>>,
}

impl Sample {
    /// An equally weighted sample.
    ///
    /// # Errors
    /// [`RiskError::Empty`] or [`RiskError::NonFinitePnl`].
    pub fn new(pnl: Vec<f64>) -> Result<Self, RiskError> {
        check_pnl(&pnl)?;
        Ok(Sample { pnl, prob: None })
    }

    /// A weighted sample; `weights` are normalised to probabilities.
    ///
    /// # Errors
    /// As [`Sample::new`], plus [`RiskError::Length`], [`RiskError::BadWeight`] and
    /// [`RiskError::WeightSum`].
    pub fn weighted(pnl: Vec<f64>, mut weights: Vec<f64>) -> Result<Self, RiskError> {
        check_pnl(&pnl)?;
        if weights.len() != pnl.len() {
            return Err(RiskError::Length { values: pnl.len(), weights: weights.len() });
        }
        let mut sum = 0.0;
        for (i, &w) in weights.iter().enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(RiskError::BadWeight { index: i, value: w });
            }
            sum += w;
        }
        if !(sum.is_finite() && sum > 0.0) {
            return Err(RiskError::WeightSum(sum));
        }
        weights.iter_mut().for_each(|w| *w /= sum);
        Ok(Sample { pnl, prob: Some(weights) })
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.pnl.len()
    }

    /// Always false: samples are never empty.
    pub fn is_empty(&self) -> bool {
        self.pnl.is_empty()
    }

    /// The P&L values in their original order (a path, for drawdowns).
    pub fn pnl(&self) -> &[f64] {
        &self.pnl
    }

    /// The probabilities, or `None` for an equally weighted sample.
    pub fn probs(&self) -> Option<&[f64]> {
        self.prob.as_deref()
    }

    /// Probability of observation `i`.
    pub fn prob(&self, i: usize) -> f64 {
        match &self.prob {
            Some(p) => p[i],
            None => 1.0 / self.pnl.len() as f64,
        }
    }

    /// Probability-weighted mean P&L.
    pub fn mean(&self) -> f64 {
        match &self.prob {
            Some(p) => self.pnl.iter().zip(p).map(|(x, p)| x * p).sum(),
            None => self.pnl.iter().sum::<f64>() / self.pnl.len() as f64,
        }
    }

    /// Losses `-x` sorted ascending with their probabilities: the one sort that every
    /// quantile-based measure on this sample shares.
    pub fn sorted(&self) -> Sorted {
        let n = self.pnl.len();
        match &self.prob {
            None => {
                let mut loss: Vec<f64> = self.pnl.iter().map(|x| -x).collect();
                sort_values(&mut loss);
                Sorted { loss, prob: None, n_total: n, complete: true }
            }
            Some(p) => {
                let (loss, prob) =
                    sort_pairs(self.pnl.iter().zip(p).map(|(&x, &p)| (-x, p)).collect());
                Sorted { loss, prob: Some(prob), n_total: n, complete: true }
            }
        }
    }

    /// Only the largest losses, sorted: enough atoms to cover a tail mass strictly above
    /// `tail + TIE_TOL` (so every quantile at a level ≥ `1 − tail` and the expected
    /// shortfall beyond it are exact), found by selection in O(n).
    pub fn tail_sorted(&self, tail: f64) -> Sorted {
        let n = self.pnl.len();
        let target = tail + TIE_TOL;
        match &self.prob {
            None => {
                let k = ((target * n as f64).floor() as usize + 2).min(n);
                let mut loss: Vec<f64> = self.pnl.iter().map(|x| -x).collect();
                if k < n {
                    loss.select_nth_unstable_by(n - k, f64::total_cmp);
                    loss.drain(..n - k);
                }
                sort_values(&mut loss);
                Sorted { complete: loss.len() == n, loss, prob: None, n_total: n }
            }
            Some(p) => {
                let mut pairs: Vec<(f64, f64)> =
                    self.pnl.iter().zip(p).map(|(&x, &p)| (-x, p)).collect();
                // Bisection by selection: pairs[hi..] hold the largest losses seen so far,
                // with mass `above`; the cut lies in pairs[lo..hi].
                let (mut lo, mut hi, mut above) = (0usize, n, 0.0f64);
                while hi - lo > 32 {
                    let mid = lo + (hi - lo) / 2;
                    pairs[lo..hi].select_nth_unstable_by(mid - lo, |a, b| a.0.total_cmp(&b.0));
                    let upper: f64 = pairs[mid..hi].iter().map(|a| a.1).sum();
                    if above + upper > target {
                        lo = mid;
                    } else {
                        above += upper;
                        hi = mid;
                    }
                }
                pairs[lo..hi].sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let mut cut = lo;
                for j in (lo..hi).rev() {
                    above += pairs[j].1;
                    cut = j;
                    if above > target {
                        break;
                    }
                }
                let (loss, prob) = sort_pairs(pairs.split_off(cut));
                Sorted { complete: loss.len() == n, loss, prob: Some(prob), n_total: n }
            }
        }
    }

    /// The sort of [`Sample::sorted`] along a given [`Sample::loss_order`].
    pub fn sorted_by(&self, order: &[usize]) -> Sorted {
        let loss = order.iter().map(|&i| -self.pnl[i]).collect();
        let prob = self.prob.as_ref().map(|p| order.iter().map(|&i| p[i]).collect());
        Sorted { loss, prob, n_total: self.pnl.len(), complete: true }
    }

    /// Indices of the observations ordered by ascending loss (descending P&L); used for
    /// gradients, which must be scattered back to the original positions.
    pub fn loss_order(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.pnl.len()).collect();
        idx.sort_unstable_by(|&a, &b| self.pnl[b].total_cmp(&self.pnl[a]));
        idx
    }
}

fn check_pnl(pnl: &[f64]) -> Result<(), RiskError> {
    if pnl.is_empty() {
        return Err(RiskError::Empty);
    }
    match pnl.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(RiskError::NonFinitePnl { index: i, value: pnl[i] }),
        None => Ok(()),
    }
}

/// Total order of f64 as unsigned integers (the order of `f64::total_cmp`).
#[inline]
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

/// Inverse of [`order_key`].
#[inline]
fn from_key(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Sorts values ascending in the order of `f64::total_cmp`, as integer keys (pattern-
/// defeating quicksort on `u64` beats both comparing floats and an LSD radix sort here).
fn sort_values(v: &mut [f64]) {
    let mut keys: Vec<u64> = v.iter().map(|&x| order_key(x)).collect();
    keys.sort_unstable();
    v.iter_mut().zip(&keys).for_each(|(x, &k)| *x = from_key(k));
}

/// Sorts `(value, probability)` pairs by value.
fn sort_pairs(v: Vec<(f64, f64)>) -> (Vec<f64>, Vec<f64>) {
    let mut keyed: Vec<(u64, f64)> = v.into_iter().map(|(x, p)| (order_key(x), p)).collect();
    keyed.sort_unstable_by_key(|a| a.0);
    keyed.into_iter().map(|(k, p)| (from_key(k), p)).unzip()
}

/// Losses sorted ascending, with probabilities in the same order (`None`: uniform). May
/// hold only the largest losses ([`Sample::tail_sorted`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Sorted {
    loss: Vec<f64>,
    prob: Option<Vec<f64>>,
    n_total: usize,
    complete: bool,
}

impl Sorted {
    /// Sorted losses, ascending.
    pub fn loss(&self) -> &[f64] {
        &self.loss
    }

    /// Probability of the `j`-th smallest loss.
    #[inline]
    pub fn prob(&self, j: usize) -> f64 {
        match &self.prob {
            Some(p) => p[j],
            None => 1.0 / self.n_total as f64,
        }
    }

    /// False when only the largest losses are held.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Number of atoms held.
    pub fn len(&self) -> usize {
        self.loss.len()
    }

    /// Always false: samples are never empty.
    pub fn is_empty(&self) -> bool {
        self.loss.is_empty()
    }

    /// Calls `f(j, s_hi, s_lo)` for every atom from the largest loss down, where
    /// `[s_lo, s_hi]` is the atom's interval of *tail mass* (probability of a loss at least
    /// as large): `s_lo = P(L > L_(j))`, `s_hi = s_lo + p_(j)`. Tail masses are accumulated
    /// from the top so that the small ones that matter most carry no cancellation. Stops
    /// early when `f` returns false.
    #[inline]
    pub(crate) fn for_each_tail<F: FnMut(usize, f64, f64) -> bool>(&self, mut f: F) {
        let n = self.loss.len();
        // The bottom atom of a complete sort closes the unit mass exactly.
        let last = if self.complete { 0 } else { usize::MAX };
        match &self.prob {
            None => {
                let inv = 1.0 / self.n_total as f64;
                for j in (0..n).rev() {
                    let k = (n - j) as f64;
                    let s_hi = if j == last { 1.0 } else { k * inv };
                    if !f(j, s_hi, (k - 1.0) * inv) {
                        return;
                    }
                }
            }
            Some(p) => {
                let mut s = 0.0;
                for j in (0..n).rev() {
                    let s_hi = if j == last { 1.0 } else { (s + p[j]).min(1.0) };
                    if !f(j, s_hi, s) {
                        return;
                    }
                    s = s_hi;
                }
            }
        }
    }
}

/// A CSV reading error that names file, line and field.
#[derive(Debug)]
pub struct ReadError {
    /// The file (`-` for standard input).
    pub path: PathBuf,
    /// 1-based line of the record, when the error is tied to one.
    pub line: Option<u64>,
    /// Column name, when the error is tied to one.
    pub field: Option<String>,
    /// What went wrong.
    pub reason: String,
    source: Option<csv::Error>,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Reads a P&L sample from CSV with a header row: values from column `column`, optional
/// weights from `weights_column`. `path` only labels errors.
///
/// # Errors
/// [`ReadError`] naming the file, line and field of a missing column, a non-numeric or
/// non-finite value, a negative weight, an empty file or weights that sum to zero.
pub fn read_pnl_csv<R: Read>(
    reader: R,
    path: &Path,
    column: &str,
    weights_column: Option<&str>,
) -> Result<Sample, ReadError> {
    let err = |line: Option<u64>, field: Option<&str>, reason: String| ReadError {
        path: path.to_path_buf(),
        line,
        field: field.map(str::to_owned),
        reason,
        source: None,
    };
    let mut rdr =
        csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(reader);
    let headers = rdr.headers().map_err(|e| ReadError {
        source: Some(e),
        ..err(Some(1), None, "cannot read the header row".into())
    })?;
    let find = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            let have: Vec<&str> = headers.iter().collect();
            err(Some(1), Some(name), format!("missing column (header has: {})", have.join(", ")))
        })
    };
    let ci = find(column)?;
    let wi = weights_column.map(find).transpose()?;
    let mut pnl = Vec::new();
    let mut weights = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let l = e.position().map_or(line, |p| p.line());
                return Err(ReadError {
                    source: Some(e),
                    ..err(Some(l), None, "malformed CSV record".into())
                });
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let parse = |i: usize, name: &str| -> Result<f64, ReadError> {
            let text = record.get(i).ok_or_else(|| {
                err(Some(line), Some(name), "field absent from this record".into())
            })?;
            let v: f64 = text
                .parse()
                .map_err(|_| err(Some(line), Some(name), format!("not a number: `{text}`")))?;
            if !v.is_finite() {
                return Err(err(Some(line), Some(name), format!("not finite: `{text}`")));
            }
            Ok(v)
        };
        pnl.push(parse(ci, column)?);
        if let (Some(wi), Some(name)) = (wi, weights_column) {
            let w = parse(wi, name)?;
            if w < 0.0 {
                return Err(err(Some(line), Some(name), format!("negative weight {w}")));
            }
            weights.push(w);
        }
    }
    if pnl.is_empty() {
        return Err(err(None, Some(column), "no data rows".into()));
    }
    match weights_column {
        None => Sample::new(pnl),
        Some(_) => Sample::weighted(pnl, weights),
    }
    .map_err(|e| err(None, weights_column.or(Some(column)), e.to_string()))
}
