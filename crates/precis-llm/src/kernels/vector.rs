//! f32 vector kernels for the decoder's one-token attention (`crate::decoder`): a query's scores against
//! every cached key and the probability-weighted sum of the cached values, in 512-bit
//! registers on the AVX-512 path (for the common head sizes), on AVX2 for the other x86 SIMD
//! paths and in plain Rust for the portable one. All add the same products in the same order,
//! each product rounded before it is added (no fused multiply-add), so every path gives the
//! same floats; the plain version is also the reference in tests.

use crate::kernels::cpu::KernelPath;
use crate::kernels::exp::{self, Exp};

/// The kernels to use on this CPU.
#[derive(Clone, Copy)]
pub struct VectorKernels {
    /// `scores[t] = q · rows[t]` for the `dim`-wide rows of `rows` (as many as `scores` has
    /// room for).
    pub scores: fn(&[f32], &[f32], usize, &mut [f32]),
    /// `y += Σ weights[t] · rows[t]` for the `dim`-wide rows of `rows`, `dim == y.len()`.
    pub mix: fn(&[f32], &[f32], &mut [f32]),
    /// `e^x` of each value, as `f32::exp` gives it (`kernels::exp`).
    pub(crate) exp: Exp,
}

impl VectorKernels {
    /// The kernels of a path: 512-bit ones on the AVX-512 path, AVX2 on the other x86 SIMD
    /// paths, plain Rust on the portable path; all give the same floats.
    pub fn for_path(path: KernelPath) -> VectorKernels {
        #[cfg(target_arch = "x86_64")]
        if path == KernelPath::Avx512Vnni && path.supported() {
            return VectorKernels { scores: scores_avx512_entry, mix: mix_avx512_entry, exp: exp::for_path(path) };
        }
        #[cfg(target_arch = "x86_64")]
        if path != KernelPath::Portable && path.supported() {
            return VectorKernels { scores: scores_avx2_entry, mix: mix_avx2_entry, exp: exp::for_path(path) };
        }
        let _ = path;
        VectorKernels::plain()
    }

    /// The plain Rust kernels.
    pub fn plain() -> VectorKernels {
        VectorKernels { scores: scores_plain, mix: mix_plain, exp: exp::plain }
    }
}

/// `a · b` in the order of the AVX2 kernel when the length is a multiple of 8 (else in
/// order): per pass of 64 columns, two sets of eight running sums taking the 8-column runs in
/// turn, then the lanes folded 16 → 8 → 4 → 2 → 1, and the pass's total added to the result.
/// The lanes let the compiler keep the sums in vector registers.
fn dot_plain(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if !n.is_multiple_of(8) {
        return a[..n].iter().zip(&b[..n]).fold(0.0, |sum, (x, y)| sum + x * y);
    }
    let mut total = 0f32;
    for c in (0..n).step_by(PASS) {
        let vectors = (n - c).min(PASS) / 8;
        let mut lanes = [[0f32; 8]; 2];
        for i in 0..vectors {
            let (x, y) = (&a[c + 8 * i..][..8], &b[c + 8 * i..][..8]);
            for l in 0..8 {
                lanes[i % 2][l] += x[l] * y[l];
            }
        }
        let eight: [f32; 8] = std::array::from_fn(|l| lanes[0][l] + lanes[1][l]);
        let four: [f32; 4] = std::array::from_fn(|l| eight[l + 4] + eight[l]);
        total += (four[0] + four[2]) + (four[1] + four[3]);
    }
    total
}

fn axpy_plain(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

fn scores_plain(q: &[f32], rows: &[f32], dim: usize, scores: &mut [f32]) {
    for (s, row) in scores.iter_mut().zip(rows.chunks_exact(dim)) {
        *s = dot_plain(q, row);
    }
}

fn mix_plain(weights: &[f32], rows: &[f32], y: &mut [f32]) {
    let dim = y.len();
    for (&w, row) in weights.iter().zip(rows.chunks_exact(dim)) {
        axpy_plain(y, w, row);
    }
}

#[cfg(target_arch = "x86_64")]
fn scores_avx2_entry(q: &[f32], rows: &[f32], dim: usize, scores: &mut [f32]) {
    if !dim.is_multiple_of(8) || q.len() < dim {
        return scores_plain(q, rows, dim, scores);
    }
    // SAFETY: only chosen by `VectorKernels::for_path` for an x86 SIMD path this CPU runs,
    // and every one of them needs AVX2 and FMA.
    unsafe { scores_avx2(q, rows, dim, scores) }
}

#[cfg(target_arch = "x86_64")]
fn mix_avx2_entry(weights: &[f32], rows: &[f32], y: &mut [f32]) {
    if !y.len().is_multiple_of(8) {
        return mix_plain(weights, rows, y);
    }
    // SAFETY: as above.
    unsafe { mix_avx2(weights, rows, y) }
}

#[cfg(target_arch = "x86_64")]
fn scores_avx512_entry(q: &[f32], rows: &[f32], dim: usize, scores: &mut [f32]) {
    // SAFETY (all three): only chosen by `VectorKernels::for_path` for the AVX-512 path on a
    // CPU that runs it, which needs AVX-512 F; `q` holds `dim` floats.
    match dim {
        _ if q.len() < dim => scores_avx2_entry(q, rows, dim, scores),
        64 => unsafe { scores_avx512::<4>(q, rows, scores) },
        128 => unsafe { scores_avx512::<8>(q, rows, scores) },
        256 => unsafe { scores_avx512::<16>(q, rows, scores) },
        _ => scores_avx2_entry(q, rows, dim, scores),
    }
}

#[cfg(target_arch = "x86_64")]
fn mix_avx512_entry(weights: &[f32], rows: &[f32], y: &mut [f32]) {
    // SAFETY: as above.
    match y.len() {
        64 => unsafe { mix_avx512::<4>(weights, rows, y) },
        128 => unsafe { mix_avx512::<8>(weights, rows, y) },
        256 => unsafe { mix_avx512::<16>(weights, rows, y) },
        _ => mix_avx2_entry(weights, rows, y),
    }
}

/// `scores_avx2` for heads of `16 * V` values in 512-bit registers, each row read once: a
/// register's low half takes the 8-column runs that go to the first set of running sums, its
/// high half those of the second, so the sums are the same; every 64 columns are folded and
/// added to the score as before.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn scores_avx512<const V: usize>(q: &[f32], rows: &[f32], scores: &mut [f32]) {
    use std::arch::x86_64::*;
    let dim = 16 * V;
    let n = scores.len().min(rows.len() / dim);
    // SAFETY: `q` holds `dim` floats (`scores_avx512_entry`).
    let qv: [__m512; V] = std::array::from_fn(|i| _mm512_loadu_ps(q.as_ptr().add(16 * i)));
    for (t, score) in scores[..n].iter_mut().enumerate() {
        // SAFETY: row `t < n` lies inside `rows`.
        let row = rows.as_ptr().add(t * dim);
        let mut total = 0f32;
        for pass in (0..V).step_by(PASS / 16) {
            let mut acc = _mm512_setzero_ps();
            for i in pass..(pass + PASS / 16).min(V) {
                acc = _mm512_add_ps(acc, _mm512_mul_ps(qv[i], _mm512_loadu_ps(row.add(16 * i))));
            }
            let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc)));
            let eight = _mm256_add_ps(_mm512_castps512_ps256(acc), high);
            let sum4 = _mm_add_ps(_mm256_extractf128_ps(eight, 1), _mm256_castps256_ps128(eight));
            let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
            total += _mm_cvtss_f32(_mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1)));
        }
        *score = total;
    }
}

/// `mix_avx2` for heads of `16 * V` values in 512-bit registers, `y` held in them whole and
/// each row read once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn mix_avx512<const V: usize>(weights: &[f32], rows: &[f32], y: &mut [f32]) {
    use std::arch::x86_64::*;
    let dim = 16 * V;
    let n = weights.len().min(rows.len() / dim);
    // SAFETY: `y` holds `dim` floats (`mix_avx512_entry`).
    let mut yv: [__m512; V] = std::array::from_fn(|i| _mm512_loadu_ps(y.as_ptr().add(16 * i)));
    for (t, &w) in weights[..n].iter().enumerate() {
        let w = _mm512_set1_ps(w);
        // SAFETY: row `t < n` lies inside `rows`.
        let row = rows.as_ptr().add(t * dim);
        for (i, v) in yv.iter_mut().enumerate() {
            *v = _mm512_add_ps(*v, _mm512_mul_ps(w, _mm512_loadu_ps(row.add(16 * i))));
        }
    }
    for (i, v) in yv.iter().enumerate() {
        _mm512_storeu_ps(y.as_mut_ptr().add(16 * i), *v);
    }
}

/// Columns handled per pass over the rows: eight vectors of the query (or of `y`) stay in
/// registers while the rows stream past.
const PASS: usize = 64;

/// `scores_plain` with the query held in registers, 64 columns per pass over the rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scores_avx2(q: &[f32], rows: &[f32], dim: usize, scores: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = scores.len().min(rows.len() / dim);
    scores[..n].fill(0.0);
    let mut c = 0;
    while c < dim {
        let vectors = (dim - c).min(PASS) / 8;
        let mut qv = [_mm256_setzero_ps(); PASS / 8];
        for (i, v) in qv.iter_mut().enumerate().take(vectors) {
            // SAFETY: `c + 8 * i + 8 <= dim <= q.len()`.
            *v = _mm256_loadu_ps(q.as_ptr().add(c + 8 * i));
        }
        for (t, score) in scores[..n].iter_mut().enumerate() {
            // SAFETY: row `t < n` lies inside `rows`.
            let row = rows.as_ptr().add(t * dim + c);
            let mut acc = [_mm256_setzero_ps(); 2];
            for (i, v) in qv.iter().enumerate().take(vectors) {
                acc[i % 2] = _mm256_add_ps(acc[i % 2], _mm256_mul_ps(*v, _mm256_loadu_ps(row.add(8 * i))));
            }
            let acc = _mm256_add_ps(acc[0], acc[1]);
            let sum4 = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
            let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
            *score += _mm_cvtss_f32(_mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1)));
        }
        c += PASS;
    }
}

/// `mix_plain` with `y` held in registers, 64 columns per pass over the rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mix_avx2(weights: &[f32], rows: &[f32], y: &mut [f32]) {
    use std::arch::x86_64::*;
    let dim = y.len();
    let n = weights.len().min(rows.len() / dim.max(1));
    let mut c = 0;
    while c < dim {
        let vectors = (dim - c).min(PASS) / 8;
        let mut yv = [_mm256_setzero_ps(); PASS / 8];
        for (i, v) in yv.iter_mut().enumerate().take(vectors) {
            // SAFETY: `c + 8 * i + 8 <= dim`.
            *v = _mm256_loadu_ps(y.as_ptr().add(c + 8 * i));
        }
        for (t, &w) in weights[..n].iter().enumerate() {
            let w = _mm256_set1_ps(w);
            // SAFETY: row `t < n` lies inside `rows`.
            let row = rows.as_ptr().add(t * dim + c);
            for (i, v) in yv.iter_mut().enumerate().take(vectors) {
                *v = _mm256_add_ps(*v, _mm256_mul_ps(w, _mm256_loadu_ps(row.add(8 * i))));
            }
        }
        for (i, v) in yv.iter().enumerate().take(vectors) {
            _mm256_storeu_ps(y.as_mut_ptr().add(c + 8 * i), *v);
        }
        c += PASS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn scores_and_mix_agree_with_row_by_row_products() {
        let (fast, plain) = (VectorKernels::for_path(KernelPath::best()), VectorKernels::plain());
        // Head sizes below, at and above one 64-column pass, and one not a multiple of 8.
        for dim in [8, 16, 64, 72, 80, 128, 256, 272, 12] {
            let rows = 37;
            let (q, keys) = (values(dim, 4), values(rows * dim, 5));
            let weights = values(rows, 6);
            for k in [fast, plain] {
                let mut scores = vec![9.0; rows];
                (k.scores)(&q, &keys, dim, &mut scores);
                for (t, s) in scores.iter().enumerate() {
                    let exact: f64 = q.iter().zip(&keys[t * dim..]).map(|(a, b)| *a as f64 * *b as f64).sum();
                    assert!((*s as f64 - exact).abs() < 1e-4, "dim={dim} row {t}: {s} vs {exact}");
                }
                let mut y = values(dim, 7);
                let mut expected: Vec<f64> = y.iter().map(|&v| v as f64).collect();
                for (t, w) in weights.iter().enumerate() {
                    for (e, v) in expected.iter_mut().zip(&keys[t * dim..(t + 1) * dim]) {
                        *e += *w as f64 * *v as f64;
                    }
                }
                (k.mix)(&weights, &keys, &mut y);
                for (a, e) in y.iter().zip(&expected) {
                    assert!((*a as f64 - e).abs() < 1e-4, "dim={dim}: {a} vs {e}");
                }
            }
        }
    }

    #[test]
    fn every_path_gives_the_same_bits() {
        for dim in [8, 16, 64, 72, 80, 128, 136, 256, 272, 12] {
            let rows = 37;
            let (q, keys, weights) = (values(dim, 4), values(rows * dim, 5), values(rows, 6));
            let run = |k: VectorKernels| {
                let mut scores = vec![0.0; rows];
                (k.scores)(&q, &keys, dim, &mut scores);
                let mut y = values(dim, 7);
                (k.mix)(&weights, &keys, &mut y);
                (scores, y)
            };
            let plain = run(VectorKernels::plain());
            for path in KernelPath::available() {
                assert_eq!(run(VectorKernels::for_path(path)), plain, "{path}, dim={dim}");
            }
        }
    }

    #[test]
    fn lengths_differ_only_the_shorter_counts() {
        let k = VectorKernels::for_path(KernelPath::best());
        // Two rows of width 2 leave the third score alone.
        let mut scores = [0.0, 0.0, 7.0];
        (k.scores)(&[1.0, 2.0], &[1.0, 1.0, 2.0, 3.0], 2, &mut scores);
        assert_eq!(scores, [3.0, 8.0, 7.0]);
    }
}
