//! The two matrix products of the batched passes, for the small shapes of these networks
//! (widths up to a few dozen, batches of about a hundred rows), where a general gemm spends
//! much of its time packing and dispatching.
//!
//! - [`gemm_rows`]: `C = A·B (+ bias)`, A `rows × k`, B `k × n`, C `rows × n`, row-major
//!   (the forward pass with `B = Wᵀ`, and `∂L/∂input = δ·W`).
//! - [`gemm_at_b`]: `G += Dᵀ·A`, D `rows × m`, A `rows × n`, G `m × n` (the weight gradient).
//!
//! Both work in register tiles (4 × 8 outputs, narrower at the edges) and run under
//! [`pulp::Arch::dispatch`], so the loops are compiled with the widest vector instructions
//! the CPU has (checked at run time, safe code). Every output is a sum in a fixed order
//! (bias first, then `k` ascending; for `G` its old value, then rows ascending) with
//! fused multiply–adds, which are correctly rounded on every path: the results do not
//! depend on the instruction set, the batch split or the thread count.

use pulp::{Arch, Simd, WithSimd};

/// `c[r0..r0+R][c0..c0+C] = bias + Σ_kk a[r][kk]·b[kk][c]` (bias 0 when absent).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_rows<const R: usize, const C: usize>(
    a: &[f64],
    b: &[f64],
    bias: Option<&[f64]>,
    c: &mut [f64],
    k: usize,
    n: usize,
    r0: usize,
    c0: usize,
) {
    let mut acc = [[0.0; C]; R];
    if let Some(bias) = bias {
        let bias = &bias[c0..c0 + C];
        acc.iter_mut().for_each(|row| row.copy_from_slice(bias));
    }
    let a_rows: [&[f64]; R] = std::array::from_fn(|rr| &a[(r0 + rr) * k..(r0 + rr + 1) * k]);
    for kk in 0..k {
        let bk = &b[kk * n + c0..kk * n + c0 + C];
        for (row, ar) in acc.iter_mut().zip(&a_rows) {
            let av = ar[kk];
            row.iter_mut().zip(bk).for_each(|(s, &bv)| *s = av.mul_add(bv, *s));
        }
    }
    for (rr, row) in acc.iter().enumerate() {
        c[(r0 + rr) * n + c0..(r0 + rr) * n + c0 + C].copy_from_slice(row);
    }
}

/// Rows `r0..r0+R` of `C = A·B (+ bias)`, every column, in tiles 8, 4, 2 and 1 wide.
#[inline(always)]
fn rows_block<const R: usize>(
    a: &[f64],
    b: &[f64],
    bias: Option<&[f64]>,
    c: &mut [f64],
    k: usize,
    n: usize,
    r0: usize,
) {
    let mut c0 = 0;
    while c0 + 8 <= n {
        tile_rows::<R, 8>(a, b, bias, c, k, n, r0, c0);
        c0 += 8;
    }
    while c0 + 4 <= n {
        tile_rows::<R, 4>(a, b, bias, c, k, n, r0, c0);
        c0 += 4;
    }
    while c0 + 2 <= n {
        tile_rows::<R, 2>(a, b, bias, c, k, n, r0, c0);
        c0 += 2;
    }
    while c0 < n {
        tile_rows::<R, 1>(a, b, bias, c, k, n, r0, c0);
        c0 += 1;
    }
}

struct GemmRows<'a> {
    a: &'a [f64],
    b: &'a [f64],
    bias: Option<&'a [f64]>,
    c: &'a mut [f64],
    rows: usize,
    k: usize,
    n: usize,
}

impl WithSimd for GemmRows<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let GemmRows { a, b, bias, c, rows, k, n } = self;
        let mut r0 = 0;
        while r0 + 4 <= rows {
            rows_block::<4>(a, b, bias, c, k, n, r0);
            r0 += 4;
        }
        while r0 < rows {
            rows_block::<1>(a, b, bias, c, k, n, r0);
            r0 += 1;
        }
    }
}

/// `c = a·b + bias` (or `a·b` without bias): `a` is `rows × k`, `b` is `k × n`, `c` and the
/// broadcast `bias` (length `n`) `rows × n`, all row-major.
///
/// # Panics
/// When a slice is shorter than its shape.
pub fn gemm_rows(
    a: &[f64],
    b: &[f64],
    bias: Option<&[f64]>,
    c: &mut [f64],
    rows: usize,
    k: usize,
    n: usize,
) {
    assert!(a.len() >= rows * k && b.len() >= k * n && c.len() >= rows * n);
    assert!(bias.is_none_or(|v| v.len() >= n));
    Arch::new().dispatch(GemmRows { a, b, bias, c, rows, k, n });
}

/// `g[m0..m0+M][c0..c0+C] += Σ_r d[r][m]·a[r][c]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_at_b<const M: usize, const C: usize>(
    d: &[f64],
    a: &[f64],
    g: &mut [f64],
    rows: usize,
    m: usize,
    n: usize,
    m0: usize,
    c0: usize,
) {
    let mut acc = [[0.0; C]; M];
    for (mm, row) in acc.iter_mut().enumerate() {
        row.copy_from_slice(&g[(m0 + mm) * n + c0..(m0 + mm) * n + c0 + C]);
    }
    for r in 0..rows {
        let ar = &a[r * n + c0..r * n + c0 + C];
        let dr = &d[r * m + m0..r * m + m0 + M];
        for (row, &dv) in acc.iter_mut().zip(dr) {
            row.iter_mut().zip(ar).for_each(|(s, &av)| *s = dv.mul_add(av, *s));
        }
    }
    for (mm, row) in acc.iter().enumerate() {
        g[(m0 + mm) * n + c0..(m0 + mm) * n + c0 + C].copy_from_slice(row);
    }
}

/// Rows `m0..m0+M` of `G += Dᵀ·A`, every column, in tiles 8, 4, 2 and 1 wide.
#[inline(always)]
fn at_b_block<const M: usize>(
    d: &[f64],
    a: &[f64],
    g: &mut [f64],
    rows: usize,
    m: usize,
    n: usize,
    m0: usize,
) {
    let mut c0 = 0;
    while c0 + 8 <= n {
        tile_at_b::<M, 8>(d, a, g, rows, m, n, m0, c0);
        c0 += 8;
    }
    while c0 + 4 <= n {
        tile_at_b::<M, 4>(d, a, g, rows, m, n, m0, c0);
        c0 += 4;
    }
    while c0 + 2 <= n {
        tile_at_b::<M, 2>(d, a, g, rows, m, n, m0, c0);
        c0 += 2;
    }
    while c0 < n {
        tile_at_b::<M, 1>(d, a, g, rows, m, n, m0, c0);
        c0 += 1;
    }
}

struct GemmAtB<'a> {
    d: &'a [f64],
    a: &'a [f64],
    g: &'a mut [f64],
    rows: usize,
    m: usize,
    n: usize,
}

impl WithSimd for GemmAtB<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let GemmAtB { d, a, g, rows, m, n } = self;
        let mut m0 = 0;
        while m0 + 4 <= m {
            at_b_block::<4>(d, a, g, rows, m, n, m0);
            m0 += 4;
        }
        while m0 < m {
            at_b_block::<1>(d, a, g, rows, m, n, m0);
            m0 += 1;
        }
    }
}

/// `g += dᵀ·a`: `d` is `rows × m`, `a` is `rows × n`, `g` is `m × n`, all row-major.
///
/// # Panics
/// When a slice is shorter than its shape.
pub fn gemm_at_b(d: &[f64], a: &[f64], g: &mut [f64], rows: usize, m: usize, n: usize) {
    assert!(d.len() >= rows * m && a.len() >= rows * n && g.len() >= m * n);
    Arch::new().dispatch(GemmAtB { d, a, g, rows, m, n });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix with entries in [−1, 1).
    fn mat(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    #[test]
    fn tiles_match_the_textbook_triple_loop_in_every_edge_shape() {
        // Shapes with every tile tail: rows 1..9 (4-row tiles plus 0–3 left over), widths
        // 1, 2, 3, 5, 8, 13, 30 and 32 (8-, 4- and 1-wide column tiles).
        for rows in [1, 3, 4, 7, 9] {
            for (k, n) in [(1, 1), (3, 32), (32, 2), (5, 13), (32, 30), (30, 8), (2, 3)] {
                let (a, b, bias) = (mat(rows * k, 1), mat(k * n, 2), mat(n, 3));
                let mut c = vec![f64::NAN; rows * n];
                gemm_rows(&a, &b, Some(&bias), &mut c, rows, k, n);
                for r in 0..rows {
                    for j in 0..n {
                        let want =
                            (0..k).fold(bias[j], |s, kk| a[r * k + kk].mul_add(b[kk * n + j], s));
                        assert_eq!(c[r * n + j].to_bits(), want.to_bits(), "{rows}x{k}x{n}");
                    }
                }
                let (d, g0, a2) = (mat(rows * k, 4), mat(k * n, 5), mat(rows * n, 6));
                let mut g = g0.clone();
                gemm_at_b(&d, &a2, &mut g, rows, k, n);
                for i in 0..k {
                    for j in 0..n {
                        let want = (0..rows)
                            .fold(g0[i * n + j], |s, r| d[r * k + i].mul_add(a2[r * n + j], s));
                        assert_eq!(g[i * n + j].to_bits(), want.to_bits(), "{rows}x{k}x{n}");
                    }
                }
            }
        }
    }
}
