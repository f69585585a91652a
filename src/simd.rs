//! f32 vector kernels for the decoder's one-token attention (`llm`): a dot product and a
//! scaled add, on AVX2 with FMA when the CPU has them (checked at run time, once per caller)
//! and in plain Rust otherwise, which is also the reference the tests hold the fast versions to.

/// The kernels to use on this CPU.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// `a · b` over the shorter length.
    pub dot: fn(&[f32], &[f32]) -> f32,
    /// `y += alpha * x` over the shorter length.
    pub axpy: fn(&mut [f32], f32, &[f32]),
}

impl Kernels {
    /// The fastest kernels this CPU runs.
    pub fn detect() -> Kernels {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Kernels { dot: dot_avx2_entry, axpy: axpy_avx2_entry };
            }
        }
        Kernels::plain()
    }

    /// The plain Rust kernels.
    pub fn plain() -> Kernels {
        Kernels { dot: dot_plain, axpy: axpy_plain }
    }
}

/// Eight running sums, so the compiler may keep them in vector lanes without reordering one
/// float sum.
fn dot_plain(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut lanes = [0f32; 8];
    let whole = n / 8 * 8;
    for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut sum: f32 = lanes.iter().sum();
    for i in whole..n {
        sum += a[i] * b[i];
    }
    sum
}

fn axpy_plain(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2_entry(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: only chosen by `Kernels::detect` after AVX2 and FMA were detected.
    unsafe { dot_avx2(a, b) }
}

#[cfg(target_arch = "x86_64")]
fn axpy_avx2_entry(y: &mut [f32], alpha: f32, x: &[f32]) {
    // SAFETY: as above.
    unsafe { axpy_avx2(y, alpha, x) }
}

/// Two 8-lane accumulators (two FMA chains in flight), then the tail one value at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY: every load reads 8 floats below `n`.
    while i + 16 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), acc1);
        i += 16;
    }
    if i + 8 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        i += 8;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let sum4 = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    let mut sum = _mm_cvtss_f32(_mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1)));
    while i < n {
        sum += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(y: &mut [f32], alpha: f32, x: &[f32]) {
    use std::arch::x86_64::*;
    let n = y.len().min(x.len());
    let (py, px) = (y.as_mut_ptr(), x.as_ptr());
    let a = _mm256_set1_ps(alpha);
    let mut i = 0;
    // SAFETY: every load and store touches 8 floats below `n`.
    while i + 8 <= n {
        let v = _mm256_fmadd_ps(a, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
        _mm256_storeu_ps(py.add(i), v);
        i += 8;
    }
    while i < n {
        *py.add(i) += alpha * *px.add(i);
        i += 1;
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
    fn detected_kernels_agree_with_plain_ones_at_every_length() {
        let (fast, plain) = (Kernels::detect(), Kernels::plain());
        // Lengths around the 8- and 16-wide steps, and head sizes.
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 128] {
            let (a, b) = (values(n, 1), values(n, 2));
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            for k in [fast, plain] {
                let d = (k.dot)(&a, &b);
                assert!((d as f64 - exact).abs() < 1e-4, "n={n}: {d} vs {exact}");
            }
            let mut y1 = values(n, 3);
            let mut y2 = y1.clone();
            let expected: Vec<f32> = y1.iter().zip(&a).map(|(y, x)| y + 0.37 * x).collect();
            (fast.axpy)(&mut y1, 0.37, &a);
            (plain.axpy)(&mut y2, 0.37, &a);
            for ((f, p), e) in y1.iter().zip(&y2).zip(&expected) {
                assert!((f - e).abs() < 1e-6 && (p - e).abs() < 1e-6, "n={n}: {f} {p} vs {e}");
            }
        }
    }

    #[test]
    fn lengths_differ_only_the_shorter_counts() {
        let k = Kernels::detect();
        assert_eq!((k.dot)(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 14.0);
        let mut y = [1.0, 1.0];
        (k.axpy)(&mut y, 2.0, &[1.0, 2.0, 3.0]);
        assert_eq!(y, [3.0, 5.0]);
    }
}
