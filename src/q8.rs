//! Q8_0, Q5_0 and Q4_1 weight matrices times f32 activations on the CPU, for the own decoder
//! (`llm`). candle has only scalar code for Q5_0 and Q4_1, and for Q8_0 it
//! has a fast packed kernel only when the row length is a multiple of 256 (and then keeps a
//! second, packed copy of the weights); other shapes, such as the 896- and
//! 576-wide rows of qwen2.5-0.5b and smollm2, take a path that converts every block's f16
//! scale on the fly. Here the scales are widened to f32 once at load, the activations are
//! quantized to 8 bits per 32-value block, and each block's integer dot product runs on AVX2
//! when the CPU has it (checked at run time), with a scalar version for other CPUs and as the
//! reference in tests. Q5_0 and Q4_1 blocks stay 5- and 4-bit in memory and are widened to
//! bytes in registers; a Q4_1 block's offset (its minimum) adds the offset times the sum of the
//! block's activations, kept with the activations' quantization.
//! Output rows are shared among rayon's threads.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use half::f16;
use rayon::prelude::*;
use std::ops::Range;

use crate::error::Result;

pub(crate) fn shape_error(message: String) -> crate::error::Error {
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
    /// 16 bytes of low nibbles in the order of `Q5`; the value is the 4-bit number (0 to 15),
    /// times the block's scale plus its offset (Q4_1).
    Q4,
}

impl Layout {
    fn block_bytes(self) -> usize {
        match self {
            Layout::Q8 => BLOCK,
            Layout::Q5 => 4 + BLOCK / 2,
            Layout::Q4 => BLOCK / 2,
        }
    }
}

/// A Q8_0, Q5_0 or Q4_1 matrix of `rows × cols` (each row is one output), with its block
/// scales (and offsets) as f32; the integers stay as stored.
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    layout: Layout,
    scales: Vec<f32>,
    /// Per block, the value of quant 0 (`Q4` only; empty otherwise).
    offsets: Vec<f32>,
    quants: Vec<u8>,
}

/// Activations quantized to 8 bits per block of 32, with one f32 scale per block and, per
/// block, the sum of its quantized values times the scale (what an offset multiplies).
struct Q8Rows {
    scales: Vec<f32>,
    sums: Vec<f32>,
    quants: Vec<i8>,
}

impl Q8Matrix {
    /// The matrix of a rank-2 Q8_0, Q5_0 or Q4_1 tensor; `None` for other types.
    pub fn from_qtensor(t: &QTensor) -> Result<Option<Q8Matrix>> {
        let layout = match t.dtype() {
            GgmlDType::Q8_0 => Layout::Q8,
            GgmlDType::Q5_0 => Layout::Q5,
            GgmlDType::Q4_1 => Layout::Q4,
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
        let mut offsets = Vec::new();
        // Each block is an f16 scale, for Q4_1 an f16 offset, then the quants.
        let header = if layout == Layout::Q4 { 4 } else { 2 };
        offsets.reserve(if header == 4 { blocks } else { 0 });
        for block in data.chunks_exact(header + layout.block_bytes()) {
            scales.push(f16::from_le_bytes([block[0], block[1]]).to_f32());
            if header == 4 {
                offsets.push(f16::from_le_bytes([block[2], block[3]]).to_f32());
            }
            quants.extend_from_slice(&block[header..]);
        }
        if scales.len() != blocks {
            return Err(shape_error(format!("a {layout:?} matrix of {rows}x{cols} has {} blocks", scales.len())));
        }
        Ok(Some(Q8Matrix { rows, cols, layout, scales, offsets, quants }))
    }

    /// `x @ self^T` for `x` of shape `(.., cols)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = *x.dims().last().unwrap_or(&0);
        if k != self.cols {
            return Err(shape_error(format!("input width {k} does not match a {}-wide matrix", self.cols)));
        }
        let m = x.elem_count() / k;
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let act = quantize_rows(&xs, k);
        let kernel = dot_kernel(self.layout);
        let row_bytes = k / BLOCK * self.layout.block_bytes();
        // For a prompt, a Q5_0 or Q4_1 row is unpacked to bytes once and multiplied by every
        // token with the Q8_0 kernel, rather than unpacked again for each token (the same
        // integers).
        let unpack = matches!(self.layout, Layout::Q5 | Layout::Q4) && m >= UNPACK_MIN_TOKENS;
        let q8_kernel = dot_kernel(Layout::Q8);
        let dot4 = dot4_kernel();
        let quants = |row: usize| &self.quants[row * row_bytes..(row + 1) * row_bytes];
        // The task's rows as bytes, when unpacked.
        let prepare = |rows: Range<usize>| {
            let mut bytes = Vec::new();
            if unpack {
                bytes.reserve(rows.len() * k);
                for row in rows.clone() {
                    for block in quants(row).chunks_exact(self.layout.block_bytes()) {
                        let mut values = [0i8; BLOCK];
                        self.layout.unpack(block, &mut values);
                        bytes.extend(values.iter().map(|&v| v as u8));
                    }
                }
            }
            (rows.start, bytes)
        };
        product_by_rows(x.dims(), (self.rows, m, k), prepare, |(first, unpacked), row, tokens, out| {
            let blocks = row * k / BLOCK..(row + 1) * k / BLOCK;
            let w_d = &self.scales[blocks.clone()];
            let w_m = self.offsets.get(blocks).unwrap_or(&[]);
            let (w_q, kernel) = if unpack { (&unpacked[(row - first) * k..][..k], q8_kernel) } else { (quants(row), kernel) };
            let a_q = |i: usize| &act.quants[i * k..(i + 1) * k];
            let a_d = |i: usize| &act.scales[i * k / BLOCK..(i + 1) * k / BLOCK];
            let a_s = |i: usize| &act.sums[i * k / BLOCK..(i + 1) * k / BLOCK];
            let mut done = 0;
            if let (Some(dot4), true) = (dot4, self.layout == Layout::Q8 || unpack) {
                for (quad, o) in out.chunks_exact_mut(4).enumerate() {
                    let i = tokens.start + quad * 4;
                    let four = dot4(w_q, w_d, [a_q(i), a_q(i + 1), a_q(i + 2), a_q(i + 3)], [a_d(i), a_d(i + 1), a_d(i + 2), a_d(i + 3)]);
                    o.copy_from_slice(&four);
                }
                done = out.len() / 4 * 4;
            }
            for (i, o) in tokens.clone().zip(out.iter_mut()).skip(done) {
                *o = kernel(w_q, w_d, w_m, a_q(i), a_d(i), a_s(i));
            }
            // An unpacked row went through the Q8_0 kernels, which leave the offsets out.
            if self.layout == Layout::Q4 && unpack {
                // The offsets' share: each block's offset times the sum of the activations it
                // multiplies.
                for (i, o) in tokens.zip(out.iter_mut()) {
                    *o += offset_sum(w_m, a_s(i));
                }
            }
        })
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
            let blocks = row * k / BLOCK..(row + 1) * k / BLOCK;
            let d = &self.scales[blocks.clone()];
            let mut values = [0i8; BLOCK];
            for (b, (block, scale)) in q.chunks_exact(self.layout.block_bytes()).zip(d).enumerate() {
                self.layout.unpack(block, &mut values);
                let offset = self.offsets.get(blocks.start + b).copied().unwrap_or(0.0);
                out.extend(values.iter().map(|&v| v as f32 * scale + offset));
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), k), &Device::Cpu)?)
    }
}

/// Activation bytes of the tokens that one task's rows take together: they stay in the
/// first-level cache while the rows pass over them, instead of every row streaming all the
/// prompt's activations from further away.
const TILE_BYTES: usize = 32 * 1024;

/// Fills an `n × m` product (`n` outputs for each of `m` tokens of width `k`) on rayon's
/// threads, `ROWS_PER_TASK` outputs a task. A task calls `prepare` once with its rows, then
/// `fill(prepared, row, tokens, out)` for tiles of tokens (a multiple of four, as many as
/// `TILE_BYTES` holds) and each of its rows in turn, to write output `row` for those tokens.
/// Returns the products shaped as `dims` with the last dimension `n`.
pub(crate) fn product_by_rows<S>(
    dims: &[usize],
    (n, m, k): (usize, usize, usize),
    prepare: impl Fn(Range<usize>) -> S + Sync,
    fill: impl Fn(&S, usize, Range<usize>, &mut [f32]) + Sync,
) -> Result<Tensor> {
    let mut out_t = vec![0f32; n * m];
    let tile = (TILE_BYTES / k.max(1) / 4 * 4).max(4);
    out_t.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(task, out)| {
        let first = task * ROWS_PER_TASK;
        let prepared = prepare(first..first + out.len() / m);
        for start in (0..m).step_by(tile) {
            let tokens = start..(start + tile).min(m);
            for (r, out_row) in out.chunks_mut(m).enumerate() {
                fill(&prepared, first + r, tokens.clone(), &mut out_row[tokens.clone()]);
            }
        }
    });
    let mut out_dims = dims.to_vec();
    if let Some(last) = out_dims.last_mut() {
        *last = n;
    }
    let out = Tensor::from_vec(out_t, (n, m), &Device::Cpu)?;
    Ok(if m == 1 { out.reshape(out_dims)? } else { out.t()?.contiguous()?.reshape(out_dims)? })
}

fn quantize_rows(xs: &[f32], k: usize) -> Q8Rows {
    let blocks = xs.len() / BLOCK;
    let mut scales = Vec::with_capacity(blocks);
    let mut sums = Vec::with_capacity(blocks);
    let mut quants = vec![0i8; xs.len()];
    debug_assert_eq!(k % BLOCK, 0);
    for (block, q) in xs.chunks_exact(BLOCK).zip(quants.chunks_exact_mut(BLOCK)) {
        let amax = block.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (qv, v) in q.iter_mut().zip(block) {
            *qv = (v * inv).round() as i8;
            sum += *qv as i32;
        }
        // The scale and the sum are kept at f16 precision, as in a Q8_0 or Q8_1 block, so the
        // products equal candle's (and ggml's) up to float summation order.
        let d = f16::from_f32(d).to_f32();
        scales.push(d);
        sums.push(f16::from_f32(sum as f32 * d).to_f32());
    }
    Q8Rows { scales, sums, quants }
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
            Layout::Q4 => {
                for j in 0..BLOCK / 2 {
                    out[j] = (block[j] & 0x0F) as i8;
                    out[j + BLOCK / 2] = (block[j] >> 4) as i8;
                }
            }
        }
    }
}

/// A weight row's quants, scales and (`Q4`) offsets against an activation row's quants, scales
/// and (for offsets) sums; the offsets may be empty for other layouts.
type DotKernel = fn(&[u8], &[f32], &[f32], &[i8], &[f32], &[f32]) -> f32;

/// Which SIMD kernels this CPU runs: none, AVX2 with FMA, or those plus AVX-VNNI (one
/// instruction for the byte products and their sums instead of two).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Simd {
    None,
    Avx2,
    Vnni,
}

fn simd() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            if std::arch::is_x86_feature_detected!("avxvnni") {
                return Simd::Vnni;
            }
            return Simd::Avx2;
        }
    }
    Simd::None
}

/// The offsets' share of a `Q4` row's product: each block's offset times its activations' sum,
/// added in block order (as the SIMD kernel adds them, so every path gives the same float).
fn offset_sum(w_m: &[f32], a_s: &[f32]) -> f32 {
    w_m.iter().zip(a_s).fold(0.0, |sum, (m, s)| sum + m * s)
}

/// The SIMD kernel for `layout`, with or without VNNI (the caller checks the CPU has it).
#[cfg(target_arch = "x86_64")]
fn simd_dot_kernel(layout: Layout, vnni: bool) -> DotKernel {
    match (layout, vnni) {
        (Layout::Q8, false) => dot_entry::<Q8, false>,
        (Layout::Q5, false) => dot_entry::<Q5, false>,
        (Layout::Q4, false) => dot_entry::<Q4, false>,
        (Layout::Q8, true) => dot_entry::<Q8, true>,
        (Layout::Q5, true) => dot_entry::<Q5, true>,
        (Layout::Q4, true) => dot_entry::<Q4, true>,
    }
}

fn dot_kernel(layout: Layout) -> DotKernel {
    #[cfg(target_arch = "x86_64")]
    {
        match simd() {
            Simd::Vnni => return simd_dot_kernel(layout, true),
            Simd::Avx2 => return simd_dot_kernel(layout, false),
            Simd::None => {}
        }
    }
    match layout {
        Layout::Q8 => dot_scalar_q8,
        Layout::Q5 => dot_scalar_q5,
        Layout::Q4 => dot_scalar_q4,
    }
}

fn dot_scalar_q8(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    dot_scalar(Layout::Q8, w_q, w_d, w_m, a_q, a_d, a_s)
}

fn dot_scalar_q5(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    dot_scalar(Layout::Q5, w_q, w_d, w_m, a_q, a_d, a_s)
}

fn dot_scalar_q4(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    dot_scalar(Layout::Q4, w_q, w_d, w_m, a_q, a_d, a_s)
}

/// The dot product of a weight row and an activation row, block by block: the exact integer
/// dot product of each block's values times the product of the two scales, plus for `Q4` each
/// block's offset times its activations' sum.
fn dot_scalar(layout: Layout, w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    let mut sum = 0f32;
    let mut w = [0i8; BLOCK];
    for (b, (wd, ad)) in w_d.iter().zip(a_d).enumerate() {
        let bytes = layout.block_bytes();
        layout.unpack(&w_q[b * bytes..(b + 1) * bytes], &mut w);
        let a = &a_q[b * BLOCK..(b + 1) * BLOCK];
        let dot: i32 = w.iter().zip(a).map(|(&x, &y)| x as i32 * y as i32).sum();
        sum += dot as f32 * (wd * ad);
    }
    if layout == Layout::Q4 {
        sum + offset_sum(w_m, a_s)
    } else {
        sum
    }
}

/// The layouts as numbers, for the SIMD kernels' const parameter.
const Q8: u8 = 0;
const Q5: u8 = 1;
const Q4: u8 = 2;

#[cfg(target_arch = "x86_64")]
fn dot_entry<const L: u8, const VNNI: bool>(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    // SAFETY: only chosen by `dot_kernel` after AVX2 and FMA (and for VNNI, AVX-VNNI) were
    // detected.
    unsafe {
        if VNNI {
            dot_vnni::<L>(w_q, w_d, w_m, a_q, a_d, a_s)
        } else {
            dot_avx2::<L>(w_q, w_d, w_m, a_q, a_d, a_s)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2<const L: u8>(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    dot_body::<L, false>(w_q, w_d, w_m, a_q, a_d, a_s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn dot_vnni<const L: u8>(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    dot_body::<L, true>(w_q, w_d, w_m, a_q, a_d, a_s)
}

/// The eight i32 sums of four byte products each of |w| (unsigned) and a with w's sign: the
/// sums of values 4i..4i + 4 of a block. With VNNI one `dpbusd`; otherwise `maddubs` into
/// pairs of i16 (which cannot saturate: |w| and |a| are at most 127) and `madd` into i32.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block_products<const VNNI: bool>(
    w_abs: std::arch::x86_64::__m256i,
    a_signed: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    if VNNI {
        _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w_abs, a_signed)
    } else {
        _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, a_signed), _mm256_set1_epi16(1))
    }
}

/// Adds the eight lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn lane_sum(acc: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let sum4 = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    _mm_cvtss_f32(_mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1)))
}

/// `dot_scalar` with SIMD: per block, the weights are brought to 32 signed bytes (Q5 and Q4:
/// low nibbles spread over the two 128-bit halves; Q5 then picks each byte's high bit out of
/// the 32-bit mask by a shuffle and a per-byte bit test and subtracts 16); `block_products`
/// gives eight i32 sums, which are scaled and accumulated in f32 lanes (and `Q4` offsets in
/// one f32). Exact integers either way, so VNNI and plain AVX2 give the same result.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_body<const L: u8, const VNNI: bool>(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let layout = [Layout::Q8, Layout::Q5, Layout::Q4][L as usize];
    let blocks = w_d.len().min(a_d.len());
    let bytes = layout.block_bytes();
    assert!(w_q.len() >= blocks * bytes && a_q.len() >= blocks * BLOCK);
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
    let mut offsets = 0f32;
    if L == Q4 {
        assert!(w_m.len() >= blocks && a_s.len() >= blocks);
    }
    for b in 0..blocks {
        // SAFETY: the slices hold at least `blocks` blocks (asserted above).
        let base = w_q.as_ptr().add(b * bytes);
        let quads = if L == Q4 {
            // Unsigned 4-bit weights need no sign moved onto the activations.
            let packed = _mm_loadu_si128(base as *const __m128i);
            let lo = _mm_and_si128(packed, low_nibble);
            let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibble);
            let a = _mm256_loadu_si256(a_q.as_ptr().add(b * BLOCK) as *const __m256i);
            offsets += *w_m.get_unchecked(b) * *a_s.get_unchecked(b);
            block_products::<VNNI>(_mm256_set_m128i(hi, lo), a)
        } else {
            let w = if L == Q5 {
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
                _mm256_loadu_si256(base as *const __m256i)
            };
            let a = _mm256_loadu_si256(a_q.as_ptr().add(b * BLOCK) as *const __m256i);
            block_products::<VNNI>(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w))
        };
        let scale = _mm256_set1_ps(*w_d.get_unchecked(b) * *a_d.get_unchecked(b));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc);
    }
    lane_sum(acc) + offsets
}

/// Four activation rows against one weight row of signed bytes (Q8_0 or an unpacked row): the
/// same operations, in the same order, as four calls of the single-row kernel, but each weight
/// block is loaded once for the four.
type Dot4Kernel = fn(&[u8], &[f32], [&[i8]; 4], [&[f32]; 4]) -> [f32; 4];

fn dot4_kernel() -> Option<Dot4Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        match simd() {
            Simd::Vnni => return Some(dot4_entry::<true>),
            Simd::Avx2 => return Some(dot4_entry::<false>),
            Simd::None => {}
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
fn dot4_entry<const VNNI: bool>(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    // SAFETY: only chosen by `dot4_kernel` after the features were detected.
    unsafe {
        if VNNI {
            dot4_vnni(w_q, w_d, a_q, a_d)
        } else {
            dot4_avx2(w_q, w_d, a_q, a_d)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot4_avx2(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    dot4_body::<false>(w_q, w_d, a_q, a_d)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn dot4_vnni(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    dot4_body::<true>(w_q, w_d, a_q, a_d)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot4_body<const VNNI: bool>(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let blocks = a_d.iter().fold(w_d.len(), |n, d| n.min(d.len()));
    assert!(w_q.len() >= blocks * BLOCK && a_q.iter().all(|a| a.len() >= blocks * BLOCK));
    let mut acc = [_mm256_setzero_ps(); 4];
    for b in 0..blocks {
        // SAFETY: the slices hold at least `blocks` blocks (asserted above).
        let w = _mm256_loadu_si256(w_q.as_ptr().add(b * BLOCK) as *const __m256i);
        let w_abs = _mm256_sign_epi8(w, w);
        let wd = *w_d.get_unchecked(b);
        for t in 0..4 {
            let a = _mm256_loadu_si256(a_q[t].as_ptr().add(b * BLOCK) as *const __m256i);
            let quads = block_products::<VNNI>(w_abs, _mm256_sign_epi8(a, w));
            let scale = _mm256_set1_ps(wd * *a_d[t].get_unchecked(b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc[t]);
        }
    }
    acc.map(|a| lane_sum(a))
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

    const TYPES: [GgmlDType; 3] = [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_1];

    /// A row width near `k` that the type's blocks divide.
    fn width(dtype: GgmlDType, k: usize) -> usize {
        k.next_multiple_of(dtype.block_size())
    }

    #[test]
    fn simd_kernels_match_the_scalar_reference() {
        let n = 4;
        for dtype in TYPES {
            let k = width(dtype, 896);
            let mut a = quantize_rows(&values(k, 2), k);
            // Extreme quants (-127 and 127) included.
            a.quants[0] = 127;
            a.quants[1] = -127;
            let w = Tensor::from_vec(values(n * k, 1), (n, k), &Device::Cpu).unwrap();
            let m = Q8Matrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap()).unwrap().unwrap();
            let row_bytes = k / BLOCK * m.layout.block_bytes();
            let per_row = k / BLOCK;
            for row in 0..n {
                let w_q = &m.quants[row * row_bytes..(row + 1) * row_bytes];
                let w_d = &m.scales[row * per_row..(row + 1) * per_row];
                let w_m = m.offsets.get(row * k / BLOCK..(row + 1) * k / BLOCK).unwrap_or(&[]);
                let reference = dot_scalar(m.layout, w_q, w_d, w_m, &a.quants, &a.scales, &a.sums);
                let fast = dot_kernel(m.layout)(w_q, w_d, w_m, &a.quants, &a.scales, &a.sums);
                assert!((reference - fast).abs() <= 1e-5 * reference.abs().max(1.0), "{dtype:?}: {reference} vs {fast}");
                // The VNNI and plain AVX2 kernels compute the same integers in the same order.
                #[cfg(target_arch = "x86_64")]
                if simd() == Simd::Vnni {
                    let [plain, vnni] = [false, true].map(|vnni| simd_dot_kernel(m.layout, vnni)(w_q, w_d, w_m, &a.quants, &a.scales, &a.sums));
                    assert_eq!(plain, vnni, "{dtype:?}");
                    let quads = [&a.quants[..], &a.quants[..], &a.quants[..], &a.quants[..]];
                    let scales = [&a.scales[..], &a.scales[..], &a.scales[..], &a.scales[..]];
                    if m.layout == Layout::Q8 {
                        assert_eq!(dot4_entry::<false>(w_q, w_d, quads, scales), [plain; 4], "{dtype:?}");
                        assert_eq!(dot4_entry::<true>(w_q, w_d, quads, scales), [plain; 4], "{dtype:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_prompt_gives_each_token_the_same_row_as_alone() {
        // Ten tokens take the unpack-once path for Q5_0 and Q4_1 and go four at a time
        // (two left over); one token alone does neither.
        let (n, m) = (37, 10);
        for dtype in TYPES {
            let k = width(dtype, 320);
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
    fn rows_unpack_to_candles_values() {
        let n = 3;
        for dtype in TYPES {
            let k = width(dtype, 64);
            let w = Tensor::from_vec(values(n * k, 5), (n, k), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, dtype).unwrap();
            let ours = Q8Matrix::from_qtensor(&q).unwrap().unwrap().rows(&[2, 0, 1]).unwrap();
            let theirs = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
            let theirs = vec![theirs[2].clone(), theirs[0].clone(), theirs[1].clone()];
            assert_eq!(ours.to_vec2::<f32>().unwrap(), theirs, "{dtype:?}");
        }
    }

    #[test]
    fn product_matches_candle_on_the_same_weights() {
        let (n, k, m) = (40, 576, 3);
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_1] {
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
