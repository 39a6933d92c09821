//! Small dense kernels on caller-owned, row-major buffers: no allocation.
//!
//! Problems here have a handful of parameters (n ≤ ~50), so straightforward O(n³)
//! kernels beat any setup cost of a general linear-algebra crate.

/// In-place Cholesky factorisation `A = L·Lᵀ` of a symmetric positive-definite `n×n`
/// matrix. On success the lower triangle holds `L` (the upper triangle is left as is).
/// Returns `false` when `A` is not numerically positive definite.
pub fn cholesky(a: &mut [f64], n: usize) -> bool {
    debug_assert!(a.len() >= n * n);
    // Row slices instead of indexing: no bounds checks in the inner products, which dominate
    // for the handful of parameters of a least-squares fit. Same operation order as the plain
    // triple loop.
    for j in 0..n {
        let (rowj, below) = a[j * n..n * n].split_at_mut(n);
        let d = rowj[..j].iter().fold(rowj[j], |d, l| d - l * l);
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        rowj[j] = d;
        let lj = &rowj[..j];
        for rowi in below.chunks_exact_mut(n) {
            let s = rowi[..j].iter().zip(lj).fold(rowi[j], |s, (x, y)| s - x * y);
            rowi[j] = s / d;
        }
    }
    true
}

/// Solves `L·Lᵀ·x = b` in place (`b` becomes `x`) given the factor from [`cholesky`].
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let (done, rest) = b.split_at_mut(i);
        let s = l[i * n..i * n + i].iter().zip(done.iter()).fold(rest[0], |s, (x, y)| s - x * y);
        rest[0] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let (head, done) = b[..n].split_at_mut(i + 1);
        // Column i of L below the diagonal (empty for the last row).
        let col = l.get((i + 1) * n + i..).unwrap_or(&[]).iter().step_by(n);
        let s = col.zip(done.iter()).fold(head[i], |s, (x, y)| s - x * y);
        head[i] = s / l[i * n + i];
    }
}

/// In-place `LDLᵀ` factorisation of a symmetric positive-definite `n×n` matrix (read from its
/// lower triangle): afterwards the strict lower triangle holds the unit lower factor `L` and the
/// diagonal holds `1/dⱼ` (the upper triangle is left as is). No square roots, one division per
/// pivot: for the few parameters of a fit the factorisation is a chain of dependent
/// floating-point operations, and a square root is the longest of them. Returns `false` when
/// `A` is not numerically positive definite.
pub fn ldl(a: &mut [f64], n: usize, v: &mut [f64]) -> bool {
    debug_assert!(a.len() >= n * n && v.len() >= n);
    // Row by row (Crout): row j needs only the finished rows above it; v_k = L_jk·d_k.
    for j in 0..n {
        let (above, from_j) = a[..n * n].split_at_mut(j * n);
        let rowj = &mut from_j[..n];
        for k in 0..j {
            let rowk = &above[k * n..k * n + k];
            let c = rowk.iter().zip(&v[..k]).fold(rowj[k], |c, (l, vm)| c - l * vm);
            v[k] = c;
            rowj[k] = c * above[k * n + k];
        }
        let d = rowj[..j].iter().zip(&v[..j]).fold(rowj[j], |d, (l, vk)| d - l * vk);
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return false;
        }
        rowj[j] = 1.0 / d;
    }
    true
}

/// Forward substitution `L·y = b` in place for the unit lower factor `L` from [`ldl`] (its
/// diagonal, `1/dⱼ`, is not read).
#[inline]
pub fn unit_lower_solve(f: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let (done, rest) = b.split_at_mut(i);
        rest[0] = f[i * n..i * n + i].iter().zip(done.iter()).fold(rest[0], |s, (x, y)| s - x * y);
    }
}

/// Solves `L·D·Lᵀ·x = b` in place given the factor from [`ldl`].
pub fn ldl_solve(f: &[f64], n: usize, b: &mut [f64]) {
    unit_lower_solve(f, n, b);
    for i in (0..n).rev() {
        let (head, done) = b[..n].split_at_mut(i + 1);
        let col = f.get((i + 1) * n + i..).unwrap_or(&[]).iter().step_by(n);
        head[i] = col.zip(done.iter()).fold(head[i] * f[i * n + i], |s, (x, y)| s - x * y);
    }
}

/// Inverse of a symmetric positive-definite matrix from its Cholesky factor `l`, written
/// into `out` (full symmetric `n×n`). `col` is scratch of length `n`.
pub fn cholesky_inverse(l: &[f64], n: usize, out: &mut [f64], col: &mut [f64]) {
    for j in 0..n {
        col.iter_mut().for_each(|v| *v = 0.0);
        col[j] = 1.0;
        cholesky_solve(l, n, col);
        for i in 0..n {
            out[i * n + j] = col[i];
        }
    }
}

/// Eigen-decomposition of a symmetric `n×n` matrix by cyclic Jacobi rotations.
///
/// `a` is destroyed (its diagonal ends up holding the eigenvalues, also written to
/// `values`); `vectors` receives the orthonormal eigenvectors as columns (row-major).
/// Returns the number of sweeps used.
pub fn symmetric_eigen(a: &mut [f64], n: usize, values: &mut [f64], vectors: &mut [f64]) -> usize {
    for i in 0..n {
        for j in 0..n {
            vectors[i * n + j] = if i == j { 1.0 } else { 0.0 };
        }
    }
    let mut sweeps = 0;
    for sweep in 0..100 {
        sweeps = sweep + 1;
        let mut off = 0.0;
        let mut diag = 0.0;
        for i in 0..n {
            diag += a[i * n + i] * a[i * n + i];
            for j in i + 1..n {
                off += a[i * n + j] * a[i * n + j];
            }
        }
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = vectors[k * n + p];
                    let vkq = vectors[k * n + q];
                    vectors[k * n + p] = c * vkp - s * vkq;
                    vectors[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    for i in 0..n {
        values[i] = a[i * n + i];
    }
    sweeps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_spd_system() {
        // A = [[4,2,0],[2,5,1],[0,1,3]], x = [1,-2,3] → b = A·x = [0,-5,7].
        let mut a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        assert!(cholesky(&mut a, 3));
        let mut b = [0.0, -5.0, 7.0];
        cholesky_solve(&a, 3, &mut b);
        for (v, e) in b.iter().zip([1.0, -2.0, 3.0]) {
            assert!((v - e).abs() < 1e-14);
        }
        let mut inv = [0.0; 9];
        let mut col = [0.0; 3];
        cholesky_inverse(&a, 3, &mut inv, &mut col);
        // (A⁻¹)₀₀ = (5·3 − 1)/det, det = 4·14 − 2·6 = 44.
        assert!((inv[0] - 14.0 / 44.0).abs() < 1e-15);
    }

    #[test]
    fn ldl_solves_spd_system_and_rejects_indefinite() {
        // Same system as above: A·[1, −2, 3] = [0, −5, 7]; d = (4, 4, 11/4).
        let mut a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let mut v = [0.0; 3];
        assert!(ldl(&mut a, 3, &mut v));
        assert_eq!((a[0], a[4], a[3], a[7]), (0.25, 0.25, 0.5, 0.25));
        assert!((a[8] - 4.0 / 11.0).abs() < 1e-16);
        let mut b = [0.0, -5.0, 7.0];
        ldl_solve(&a, 3, &mut b);
        for (v, e) in b.iter().zip([1.0, -2.0, 3.0]) {
            assert!((v - e).abs() < 1e-14, "{v} vs {e}");
        }
        let mut indefinite = [1.0, 2.0, 2.0, 1.0];
        assert!(!ldl(&mut indefinite, 2, &mut v));
    }

    #[test]
    fn cholesky_rejects_indefinite() {
        let mut a = [1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky(&mut a, 2));
    }

    #[test]
    fn jacobi_eigen_of_known_matrix() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let mut a = [2.0, 1.0, 1.0, 2.0];
        let mut vals = [0.0; 2];
        let mut vecs = [0.0; 4];
        symmetric_eigen(&mut a, 2, &mut vals, &mut vecs);
        let (mut lo, mut hi) = (vals[0].min(vals[1]), vals[0].max(vals[1]));
        assert!((lo - 1.0).abs() < 1e-14 && (hi - 3.0).abs() < 1e-14);
        lo = vecs[0] * vecs[1] + vecs[2] * vecs[3];
        hi = 0.0;
        assert!((lo - hi).abs() < 1e-14, "columns orthogonal");
    }
}
