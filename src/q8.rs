//! Q8_0 weight matrices times f32 activations on the CPU, for the own decoder (`llm`). candle
//! multiplies Q8_0 with a fast packed kernel only when the row length is a multiple of 256 (and
//! then keeps a second, packed copy of the weights); other shapes, such as the 896- and
//! 576-wide rows of qwen2.5-0.5b and smollm2, take a path that converts every block's f16
//! scale on the fly. Here the scales are widened to f32 once at load, the activations are
//! quantized to 8 bits per 32-value block, and each block's integer dot product runs on AVX2
//! when the CPU has it (checked at run time), with a scalar version for other CPUs and as the
//! reference in tests. Output rows are shared among rayon's threads.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use half::f16;
use rayon::prelude::*;

use crate::error::Result;

fn shape_error(message: String) -> crate::error::Error {
    candle_core::Error::Msg(message).into()
}

const BLOCK: usize = 32;
/// Output rows per parallel task.
const ROWS_PER_TASK: usize = 16;

/// A Q8_0 matrix of `rows × cols` (each row is one output), with its block scales as f32.
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    scales: Vec<f32>,
    quants: Vec<i8>,
}

/// Activations quantized to 8 bits per block of 32, with one f32 scale per block.
struct Q8Rows {
    scales: Vec<f32>,
    quants: Vec<i8>,
}

impl Q8Matrix {
    /// The matrix of a rank-2 Q8_0 tensor; `None` for other types.
    pub fn from_qtensor(t: &QTensor) -> Result<Option<Q8Matrix>> {
        if t.dtype() != GgmlDType::Q8_0 || t.rank() != 2 {
            return Ok(None);
        }
        let (rows, cols) = t.shape().dims2()?;
        let data = t.data()?;
        let blocks = rows * cols / BLOCK;
        let mut scales = Vec::with_capacity(blocks);
        let mut quants = Vec::with_capacity(rows * cols);
        for block in data.chunks_exact(2 + BLOCK) {
            scales.push(f16::from_le_bytes([block[0], block[1]]).to_f32());
            quants.extend(block[2..].iter().map(|&b| b as i8));
        }
        if scales.len() != blocks {
            return Err(shape_error(format!("a Q8_0 matrix of {rows}x{cols} has {} blocks", scales.len())));
        }
        Ok(Some(Q8Matrix { rows, cols, scales, quants }))
    }

    /// `x @ self^T` for `x` of shape `(.., cols)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let k = *dims.last().unwrap_or(&0);
        if k != self.cols {
            return Err(shape_error(format!("input width {k} does not match a {}-wide matrix", self.cols)));
        }
        let m = x.elem_count() / k;
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let act = quantize_rows(&xs, k);
        let n = self.rows;
        let mut out_t = vec![0f32; n * m];
        let kernel = dot_kernel();
        out_t
            .par_chunks_mut(ROWS_PER_TASK * m)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * ROWS_PER_TASK;
                for (r, out_row) in out.chunks_mut(m).enumerate() {
                    let row = first + r;
                    let w_q = &self.quants[row * k..(row + 1) * k];
                    let w_d = &self.scales[row * k / BLOCK..(row + 1) * k / BLOCK];
                    for (i, o) in out_row.iter_mut().enumerate() {
                        let a_q = &act.quants[i * k..(i + 1) * k];
                        let a_d = &act.scales[i * k / BLOCK..(i + 1) * k / BLOCK];
                        *o = kernel(w_q, w_d, a_q, a_d);
                    }
                }
            });
        let mut out_dims = dims;
        *out_dims.last_mut().expect("checked above") = n;
        let out = Tensor::from_vec(out_t, (n, m), &Device::Cpu)?;
        let out = if m == 1 { out.reshape(out_dims)? } else { out.t()?.contiguous()?.reshape(out_dims)? };
        Ok(out)
    }

    /// Rows `ids` expanded to f32, `(ids.len(), cols)`: the lookup of a token table.
    pub fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        let k = self.cols;
        let mut out = Vec::with_capacity(ids.len() * k);
        for &id in ids {
            let row = id as usize;
            if row >= self.rows {
                return Err(shape_error(format!("token {row} is outside the table of {} rows", self.rows)));
            }
            let q = &self.quants[row * k..(row + 1) * k];
            let d = &self.scales[row * k / BLOCK..(row + 1) * k / BLOCK];
            for (block, scale) in q.chunks_exact(BLOCK).zip(d) {
                out.extend(block.iter().map(|&v| v as f32 * scale));
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), k), &Device::Cpu)?)
    }
}

fn quantize_rows(xs: &[f32], k: usize) -> Q8Rows {
    let blocks = xs.len() / BLOCK;
    let mut scales = Vec::with_capacity(blocks);
    let mut quants = vec![0i8; xs.len()];
    debug_assert_eq!(k % BLOCK, 0);
    for (block, q) in xs.chunks_exact(BLOCK).zip(quants.chunks_exact_mut(BLOCK)) {
        let amax = block.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        for (qv, v) in q.iter_mut().zip(block) {
            *qv = (v * inv).round() as i8;
        }
        // The scale is kept at f16 precision, as in a Q8_0 block, so the products equal
        // candle's (and ggml's) up to float summation order.
        scales.push(f16::from_f32(d).to_f32());
    }
    Q8Rows { scales, quants }
}

type DotKernel = fn(&[i8], &[f32], &[i8], &[f32]) -> f32;

fn dot_kernel() -> DotKernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return dot_avx2_entry;
        }
    }
    dot_scalar
}

/// The dot product of a weight row and an activation row, block by block: the exact integer
/// dot product of each block's quants times the product of the two scales.
pub fn dot_scalar(w_q: &[i8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    let mut sum = 0f32;
    for (b, (wd, ad)) in w_d.iter().zip(a_d).enumerate() {
        let w = &w_q[b * BLOCK..(b + 1) * BLOCK];
        let a = &a_q[b * BLOCK..(b + 1) * BLOCK];
        let dot: i32 = w.iter().zip(a).map(|(&x, &y)| x as i32 * y as i32).sum();
        sum += dot as f32 * (wd * ad);
    }
    sum
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2_entry(w_q: &[i8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    // SAFETY: only chosen by `dot_kernel` after AVX2 and FMA were detected.
    unsafe { dot_avx2(w_q, w_d, a_q, a_d) }
}

/// `dot_scalar` with AVX2: per block, `maddubs` multiplies |w| (unsigned) by a with w's sign
/// (signed) into pairs of i16, `madd` sums them to eight i32, which are scaled and accumulated
/// in f32 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(w_q: &[i8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let blocks = w_d.len().min(a_d.len());
    assert!(w_q.len() >= blocks * BLOCK && a_q.len() >= blocks * BLOCK);
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_ps();
    for b in 0..blocks {
        // SAFETY: both slices hold at least `blocks * BLOCK` bytes (asserted above).
        let w = _mm256_loadu_si256(w_q.as_ptr().add(b * BLOCK) as *const __m256i);
        let a = _mm256_loadu_si256(a_q.as_ptr().add(b * BLOCK) as *const __m256i);
        let w_abs = _mm256_sign_epi8(w, w);
        let a_signed = _mm256_sign_epi8(a, w);
        let pairs = _mm256_maddubs_epi16(w_abs, a_signed);
        let quads = _mm256_madd_epi16(pairs, ones);
        let scale = _mm256_set1_ps(*w_d.get_unchecked(b) * *a_d.get_unchecked(b));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc);
    }
    let hi = _mm256_extractf128_ps(acc, 1);
    let lo = _mm256_castps256_ps128(acc);
    let sum4 = _mm_add_ps(hi, lo);
    let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    let sum1 = _mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1));
    _mm_cvtss_f32(sum1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn simd_kernel_matches_the_scalar_reference() {
        let k = 896;
        let w = quantize_rows(&values(k, 1), k);
        // Extreme quants (-127 and 127) included.
        let mut a = quantize_rows(&values(k, 2), k);
        a.quants[0] = 127;
        a.quants[1] = -127;
        let reference = dot_scalar(&w.quants, &w.scales, &a.quants, &a.scales);
        let fast = dot_kernel()(&w.quants, &w.scales, &a.quants, &a.scales);
        assert!((reference - fast).abs() <= 1e-5 * reference.abs().max(1.0), "{reference} vs {fast}");
    }

    #[test]
    fn product_matches_candle_on_the_same_weights() {
        let (n, k, m) = (40, 576, 3);
        let w = Tensor::from_vec(values(n * k, 3), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        let x = Tensor::from_vec(values(m * k, 4), (1, m, k), &Device::Cpu).unwrap();
        let ours = Q8Matrix::from_qtensor(&q).unwrap().unwrap().forward(&x).unwrap();
        let exact = x.broadcast_matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap()).unwrap();
        assert_eq!(ours.dims(), &[1, m, n]);
        let diff = (ours - &exact).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let scale = exact.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        // Only the activations' 8-bit rounding separates the two.
        assert!(diff < 0.02 * scale, "{diff} vs {scale}");
    }
}
