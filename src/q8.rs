//! Q8_0 and Q5_0 weight matrices times f32 activations on the CPU, for the own decoder
//! (`llm`). candle has only scalar code for Q5_0, and for Q8_0 it
//! has a fast packed kernel only when the row length is a multiple of 256 (and then keeps a
//! second, packed copy of the weights); other shapes, such as the 896- and
//! 576-wide rows of qwen2.5-0.5b and smollm2, take a path that converts every block's f16
//! scale on the fly. Here the scales are widened to f32 once at load, the activations are
//! quantized to 8 bits per 32-value block, and each block's integer dot product runs on AVX2
//! when the CPU has it (checked at run time), with a scalar version for other CPUs and as the
//! reference in tests. Q5_0 blocks stay 5-bit in memory and are widened to bytes in registers.
//! Output rows are shared among rayon's threads.

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
/// From this many tokens on, a Q5_0 row is unpacked once per product instead of once per token.
const UNPACK_MIN_TOKENS: usize = 4;

/// How a matrix's blocks are stored (scales apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 32 signed bytes per block.
    Q8,
    /// Per block, 4 bytes holding the fifth (high) bit of each value, then 16 bytes of low
    /// nibbles (value j in the low half of byte j, value j + 16 in its high half); the value
    /// is the 5-bit number minus 16.
    Q5,
}

impl Layout {
    fn block_bytes(self) -> usize {
        match self {
            Layout::Q8 => BLOCK,
            Layout::Q5 => 4 + BLOCK / 2,
        }
    }
}

/// A Q8_0 or Q5_0 matrix of `rows × cols` (each row is one output), with its block scales as
/// f32.
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    layout: Layout,
    scales: Vec<f32>,
    quants: Vec<u8>,
}

/// Activations quantized to 8 bits per block of 32, with one f32 scale per block.
struct Q8Rows {
    scales: Vec<f32>,
    quants: Vec<i8>,
}

impl Q8Matrix {
    /// The matrix of a rank-2 Q8_0 or Q5_0 tensor; `None` for other types.
    pub fn from_qtensor(t: &QTensor) -> Result<Option<Q8Matrix>> {
        let layout = match t.dtype() {
            GgmlDType::Q8_0 => Layout::Q8,
            GgmlDType::Q5_0 => Layout::Q5,
            _ => return Ok(None),
        };
        if t.rank() != 2 {
            return Ok(None);
        }
        let (rows, cols) = t.shape().dims2()?;
        let data = t.data()?;
        let blocks = rows * cols / BLOCK;
        let mut scales = Vec::with_capacity(blocks);
        let mut quants = Vec::with_capacity(blocks * layout.block_bytes());
        // Both block types are an f16 scale followed by the quants.
        for block in data.chunks_exact(2 + layout.block_bytes()) {
            scales.push(f16::from_le_bytes([block[0], block[1]]).to_f32());
            quants.extend_from_slice(&block[2..]);
        }
        if scales.len() != blocks {
            return Err(shape_error(format!("a {layout:?} matrix of {rows}x{cols} has {} blocks", scales.len())));
        }
        Ok(Some(Q8Matrix { rows, cols, layout, scales, quants }))
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
        let kernel = dot_kernel(self.layout);
        let row_bytes = k / BLOCK * self.layout.block_bytes();
        // For a prompt, a Q5_0 row is unpacked to bytes once and multiplied by every token with
        // the Q8_0 kernel, rather than unpacked again for each token (the same integers).
        let unpack = self.layout == Layout::Q5 && m >= UNPACK_MIN_TOKENS;
        let q8_kernel = dot_kernel(Layout::Q8);
        let dot4 = dot4_kernel();
        out_t
            .par_chunks_mut(ROWS_PER_TASK * m)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * ROWS_PER_TASK;
                let mut unpacked = if unpack { vec![0u8; k] } else { Vec::new() };
                for (r, out_row) in out.chunks_mut(m).enumerate() {
                    let row = first + r;
                    let mut w_q = &self.quants[row * row_bytes..(row + 1) * row_bytes];
                    let w_d = &self.scales[row * k / BLOCK..(row + 1) * k / BLOCK];
                    let mut kernel = kernel;
                    if unpack {
                        let blocks = w_q.chunks_exact(self.layout.block_bytes());
                        for (block, to) in blocks.zip(unpacked.chunks_exact_mut(BLOCK)) {
                            let mut values = [0i8; BLOCK];
                            self.layout.unpack(block, &mut values);
                            for (t, v) in to.iter_mut().zip(values) {
                                *t = v as u8;
                            }
                        }
                        w_q = &unpacked;
                        kernel = q8_kernel;
                    }
                    let a_q = |i: usize| &act.quants[i * k..(i + 1) * k];
                    let a_d = |i: usize| &act.scales[i * k / BLOCK..(i + 1) * k / BLOCK];
                    let mut done = 0;
                    if let (Some(dot4), true) = (dot4, self.layout == Layout::Q8 || unpack) {
                        for (quad, o) in out_row.chunks_exact_mut(4).enumerate() {
                            let i = quad * 4;
                            let four = dot4(w_q, w_d, [a_q(i), a_q(i + 1), a_q(i + 2), a_q(i + 3)], [a_d(i), a_d(i + 1), a_d(i + 2), a_d(i + 3)]);
                            o.copy_from_slice(&four);
                        }
                        done = m / 4 * 4;
                    }
                    for (i, o) in out_row.iter_mut().enumerate().skip(done) {
                        *o = kernel(w_q, w_d, a_q(i), a_d(i));
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
            let row_bytes = k / BLOCK * self.layout.block_bytes();
            let q = &self.quants[row * row_bytes..(row + 1) * row_bytes];
            let d = &self.scales[row * k / BLOCK..(row + 1) * k / BLOCK];
            let mut values = [0i8; BLOCK];
            for (block, scale) in q.chunks_exact(self.layout.block_bytes()).zip(d) {
                self.layout.unpack(block, &mut values);
                out.extend(values.iter().map(|&v| v as f32 * scale));
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

impl Layout {
    /// The block's 32 signed values.
    fn unpack(self, block: &[u8], out: &mut [i8; BLOCK]) {
        match self {
            Layout::Q8 => {
                for (o, &b) in out.iter_mut().zip(block) {
                    *o = b as i8;
                }
            }
            Layout::Q5 => {
                let high = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
                let low = &block[4..];
                for j in 0..BLOCK / 2 {
                    let bit = |i: usize| (((high >> i) & 1) << 4) as u8;
                    out[j] = ((low[j] & 0x0F) | bit(j)) as i8 - 16;
                    out[j + BLOCK / 2] = ((low[j] >> 4) | bit(j + BLOCK / 2)) as i8 - 16;
                }
            }
        }
    }
}

type DotKernel = fn(&[u8], &[f32], &[i8], &[f32]) -> f32;

fn dot_kernel(layout: Layout) -> DotKernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return match layout {
                Layout::Q8 => dot_avx2_q8_entry,
                Layout::Q5 => dot_avx2_q5_entry,
            };
        }
    }
    match layout {
        Layout::Q8 => dot_scalar_q8,
        Layout::Q5 => dot_scalar_q5,
    }
}

fn dot_scalar_q8(w_q: &[u8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    dot_scalar(Layout::Q8, w_q, w_d, a_q, a_d)
}

fn dot_scalar_q5(w_q: &[u8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    dot_scalar(Layout::Q5, w_q, w_d, a_q, a_d)
}

/// The dot product of a weight row and an activation row, block by block: the exact integer
/// dot product of each block's values times the product of the two scales.
fn dot_scalar(layout: Layout, w_q: &[u8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    let mut sum = 0f32;
    let mut w = [0i8; BLOCK];
    for (b, (wd, ad)) in w_d.iter().zip(a_d).enumerate() {
        let bytes = layout.block_bytes();
        layout.unpack(&w_q[b * bytes..(b + 1) * bytes], &mut w);
        let a = &a_q[b * BLOCK..(b + 1) * BLOCK];
        let dot: i32 = w.iter().zip(a).map(|(&x, &y)| x as i32 * y as i32).sum();
        sum += dot as f32 * (wd * ad);
    }
    sum
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2_q8_entry(w_q: &[u8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    // SAFETY: only chosen by `dot_kernel` after AVX2 and FMA were detected.
    unsafe { dot_avx2::<false>(w_q, w_d, a_q, a_d) }
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2_q5_entry(w_q: &[u8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    // SAFETY: as above.
    unsafe { dot_avx2::<true>(w_q, w_d, a_q, a_d) }
}

/// `dot_scalar` with AVX2: per block, the weights are brought to 32 signed bytes (Q5: low
/// nibbles spread over the two 128-bit halves, each byte's high bit picked out of the 32-bit
/// mask by a shuffle and a per-byte bit test, then 16 subtracted); `maddubs` multiplies |w|
/// (unsigned) by a with w's sign (signed) into pairs of i16, `madd` sums them to eight i32,
/// which are scaled and accumulated in f32 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2<const Q5: bool>(w_q: &[u8], w_d: &[f32], a_q: &[i8], a_d: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let blocks = w_d.len().min(a_d.len());
    let bytes = if Q5 { Layout::Q5.block_bytes() } else { Layout::Q8.block_bytes() };
    assert!(w_q.len() >= blocks * bytes && a_q.len() >= blocks * BLOCK);
    let ones = _mm256_set1_epi16(1);
    let low_nibble = _mm_set1_epi8(0x0F);
    // Byte j of a block takes its high bit from bit j of the mask: byte j / 8 of the mask...
    let which_byte = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, //
        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
    );
    // ...and bit j % 8 of that byte.
    let which_bit = _mm256_set1_epi64x(i64::from_le_bytes([1, 2, 4, 8, 16, 32, 64, 128]));
    let sixteen = _mm256_set1_epi8(16);
    let mut acc = _mm256_setzero_ps();
    for b in 0..blocks {
        // SAFETY: the slices hold at least `blocks` blocks (asserted above).
        let w = if Q5 {
            let base = w_q.as_ptr().add(b * bytes);
            let high = std::ptr::read_unaligned(base as *const i32);
            let packed = _mm_loadu_si128(base.add(4) as *const __m128i);
            let lo = _mm_and_si128(packed, low_nibble);
            let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibble);
            let nibbles = _mm256_set_m128i(hi, lo);
            let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(high), which_byte);
            let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, which_bit), which_bit);
            let fifth = _mm256_and_si256(set, sixteen);
            _mm256_sub_epi8(_mm256_or_si256(nibbles, fifth), sixteen)
        } else {
            _mm256_loadu_si256(w_q.as_ptr().add(b * BLOCK) as *const __m256i)
        };
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

/// Four activation rows against one Q8_0 weight row: the same operations, in the same order, as
/// four calls of the single-row kernel, but each weight block is loaded once for the four.
type Dot4Kernel = fn(&[u8], &[f32], [&[i8]; 4], [&[f32]; 4]) -> [f32; 4];

fn dot4_kernel() -> Option<Dot4Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Some(dot4_avx2_q8_entry);
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
fn dot4_avx2_q8_entry(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    // SAFETY: only chosen by `dot4_kernel` after AVX2 and FMA were detected.
    unsafe { dot4_avx2_q8(w_q, w_d, a_q, a_d) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot4_avx2_q8(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let blocks = a_d.iter().fold(w_d.len(), |n, d| n.min(d.len()));
    assert!(w_q.len() >= blocks * BLOCK && a_q.iter().all(|a| a.len() >= blocks * BLOCK));
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); 4];
    for b in 0..blocks {
        // SAFETY: the slices hold at least `blocks` blocks (asserted above).
        let w = _mm256_loadu_si256(w_q.as_ptr().add(b * BLOCK) as *const __m256i);
        let w_abs = _mm256_sign_epi8(w, w);
        let wd = *w_d.get_unchecked(b);
        for t in 0..4 {
            let a = _mm256_loadu_si256(a_q[t].as_ptr().add(b * BLOCK) as *const __m256i);
            let a_signed = _mm256_sign_epi8(a, w);
            let pairs = _mm256_maddubs_epi16(w_abs, a_signed);
            let quads = _mm256_madd_epi16(pairs, ones);
            let scale = _mm256_set1_ps(wd * *a_d[t].get_unchecked(b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc[t]);
        }
    }
    let mut out = [0f32; 4];
    for t in 0..4 {
        let hi = _mm256_extractf128_ps(acc[t], 1);
        let lo = _mm256_castps256_ps128(acc[t]);
        let sum4 = _mm_add_ps(hi, lo);
        let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
        let sum1 = _mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1));
        out[t] = _mm_cvtss_f32(sum1);
    }
    out
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
    fn simd_kernels_match_the_scalar_reference() {
        let (n, k) = (4, 896);
        let mut a = quantize_rows(&values(k, 2), k);
        // Extreme quants (-127 and 127) included.
        a.quants[0] = 127;
        a.quants[1] = -127;
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0] {
            let w = Tensor::from_vec(values(n * k, 1), (n, k), &Device::Cpu).unwrap();
            let m = Q8Matrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap()).unwrap().unwrap();
            let row_bytes = k / BLOCK * m.layout.block_bytes();
            for row in 0..n {
                let w_q = &m.quants[row * row_bytes..(row + 1) * row_bytes];
                let w_d = &m.scales[row * k / BLOCK..(row + 1) * k / BLOCK];
                let reference = dot_scalar(m.layout, w_q, w_d, &a.quants, &a.scales);
                let fast = dot_kernel(m.layout)(w_q, w_d, &a.quants, &a.scales);
                assert!((reference - fast).abs() <= 1e-5 * reference.abs().max(1.0), "{dtype:?}: {reference} vs {fast}");
            }
        }
    }

    #[test]
    fn a_prompt_gives_each_token_the_same_row_as_alone() {
        // Ten tokens take the unpack-once path for Q5_0 and go four at a time (two left over);
        // one token alone does neither.
        let (n, k, m) = (37, 320, 10);
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0] {
            let w = Tensor::from_vec(values(n * k, 7), (n, k), &Device::Cpu).unwrap();
            let q = Q8Matrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap()).unwrap().unwrap();
            let xs = values(m * k, 8);
            let batch = q.forward(&Tensor::from_vec(xs.clone(), (m, k), &Device::Cpu).unwrap()).unwrap();
            let batch = batch.to_vec2::<f32>().unwrap();
            for (i, row) in batch.iter().enumerate() {
                let x = Tensor::from_vec(xs[i * k..(i + 1) * k].to_vec(), (1, k), &Device::Cpu).unwrap();
                let alone = q.forward(&x).unwrap().to_vec2::<f32>().unwrap();
                assert_eq!(row, &alone[0], "{dtype:?}, token {i}");
            }
        }
    }

    #[test]
    fn q5_rows_unpack_to_candles_values() {
        let (n, k) = (3, 64);
        let w = Tensor::from_vec(values(n * k, 5), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q5_0).unwrap();
        let ours = Q8Matrix::from_qtensor(&q).unwrap().unwrap().rows(&[0, 1, 2]).unwrap();
        let theirs = q.dequantize(&Device::Cpu).unwrap();
        assert_eq!(ours.to_vec2::<f32>().unwrap(), theirs.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn product_matches_candle_on_the_same_weights() {
        let (n, k, m) = (40, 576, 3);
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0] {
            let w = Tensor::from_vec(values(n * k, 3), (n, k), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, dtype).unwrap();
            let x = Tensor::from_vec(values(m * k, 4), (1, m, k), &Device::Cpu).unwrap();
            let ours = Q8Matrix::from_qtensor(&q).unwrap().unwrap().forward(&x).unwrap();
            let theirs = candle_core::quantized::QMatMul::from_qtensor(q).unwrap();
            let theirs = candle_core::Module::forward(&theirs, &x).unwrap();
            assert_eq!(ours.dims(), &[1, m, n]);
            let diff = (ours - &theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            let scale = theirs.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            // The same integer products and scales; only the float summation order differs.
            assert!(diff < 1e-5 * scale, "{dtype:?}: {diff} vs {scale}");
        }
    }
}
