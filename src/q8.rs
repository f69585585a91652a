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
    /// 16 bytes of low nibbles in the order of `Q5`; the value is the 4-bit number (0 to 15),
    /// times the block's scale plus its offset. Q4_1 blocks, and Q4_K's 32-value sub-blocks.
    Q4,
    /// 32 signed bytes, as `Q8`, but with a scale for each half of 16 values: Q6_K's
    /// sub-blocks.
    Q6,
}

impl Layout {
    fn block_bytes(self) -> usize {
        match self {
            Layout::Q8 => BLOCK,
            Layout::Q5 => 4 + BLOCK / 2,
            Layout::Q4 => BLOCK / 2,
            Layout::Q6 => BLOCK,
        }
    }

    fn scales_per_block(self) -> usize {
        if self == Layout::Q6 {
            2
        } else {
            1
        }
    }
}

/// A Q8_0, Q5_0, Q4_1, Q4_K or Q6_K matrix of `rows × cols` (each row is one output), with
/// its block scales (and offsets) as f32. K-quant super-blocks of 256 values are taken apart
/// at load into their 32-value sub-blocks, with each sub-block's scale (and offset) worked
/// out once; the integers stay as stored.
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
    /// The matrix of a rank-2 Q8_0, Q5_0, Q4_1, Q4_K or Q6_K tensor; `None` for other types.
    pub fn from_qtensor(t: &QTensor) -> Result<Option<Q8Matrix>> {
        let layout = match t.dtype() {
            GgmlDType::Q8_0 => Layout::Q8,
            GgmlDType::Q5_0 => Layout::Q5,
            GgmlDType::Q4_1 | GgmlDType::Q4K => Layout::Q4,
            GgmlDType::Q6K => Layout::Q6,
            _ => return Ok(None),
        };
        if t.rank() != 2 {
            return Ok(None);
        }
        let (rows, cols) = t.shape().dims2()?;
        let data = t.data()?;
        let blocks = rows * cols / BLOCK;
        let mut scales = Vec::with_capacity(blocks * layout.scales_per_block());
        let mut quants = Vec::with_capacity(blocks * layout.block_bytes());
        let mut offsets = Vec::new();
        let matrix = |scales, offsets, quants| Ok(Some(Q8Matrix { rows, cols, layout, scales, offsets, quants }));
        match t.dtype() {
            GgmlDType::Q4K => {
                offsets.reserve(blocks);
                for block in data.chunks_exact(Q4K_BYTES) {
                    split_q4k(block, &mut scales, &mut offsets, &mut quants);
                }
                if scales.len() != blocks {
                    return Err(shape_error(format!("a Q4_K matrix of {rows}x{cols} has {} sub-blocks", scales.len())));
                }
                return matrix(scales, offsets, quants);
            }
            GgmlDType::Q6K => {
                for block in data.chunks_exact(Q6K_BYTES) {
                    split_q6k(block, &mut scales, &mut quants);
                }
                if scales.len() != 2 * blocks {
                    return Err(shape_error(format!("a Q6_K matrix of {rows}x{cols} has {} half-blocks", scales.len())));
                }
                return matrix(scales, offsets, quants);
            }
            _ => {}
        }
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
        matrix(scales, offsets, quants)
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
        // For a prompt, a Q5_0 or Q4_1 row is unpacked to bytes once and multiplied by every
        // token with the Q8_0 kernel, rather than unpacked again for each token (the same
        // integers).
        let unpack = matches!(self.layout, Layout::Q5 | Layout::Q4) && m >= UNPACK_MIN_TOKENS;
        let q8_kernel = dot_kernel(Layout::Q8);
        let dot4 = dot4_kernel(self.layout == Layout::Q6);
        let per_block = self.layout.scales_per_block();
        out_t
            .par_chunks_mut(ROWS_PER_TASK * m)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * ROWS_PER_TASK;
                let mut unpacked = if unpack { vec![0u8; k] } else { Vec::new() };
                for (r, out_row) in out.chunks_mut(m).enumerate() {
                    let row = first + r;
                    let mut w_q = &self.quants[row * row_bytes..(row + 1) * row_bytes];
                    let blocks = row * k / BLOCK..(row + 1) * k / BLOCK;
                    let w_d = &self.scales[blocks.start * per_block..blocks.end * per_block];
                    let w_m = self.offsets.get(blocks.clone()).unwrap_or(&[]);
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
                    let a_s = |i: usize| &act.sums[i * k / BLOCK..(i + 1) * k / BLOCK];
                    let mut done = 0;
                    if let (Some(dot4), true) = (dot4, matches!(self.layout, Layout::Q8 | Layout::Q6) || unpack) {
                        for (quad, o) in out_row.chunks_exact_mut(4).enumerate() {
                            let i = quad * 4;
                            let four = dot4(w_q, w_d, [a_q(i), a_q(i + 1), a_q(i + 2), a_q(i + 3)], [a_d(i), a_d(i + 1), a_d(i + 2), a_d(i + 3)]);
                            o.copy_from_slice(&four);
                        }
                        done = m / 4 * 4;
                    }
                    for (i, o) in out_row.iter_mut().enumerate().skip(done) {
                        *o = kernel(w_q, w_d, w_m, a_q(i), a_d(i), a_s(i));
                    }
                    // An unpacked row went through the Q8_0 kernels, which leave the offsets out.
                    if self.layout == Layout::Q4 && unpack {
                        // The offsets' share: each block's offset times the sum of the
                        // activations it multiplies.
                        for (i, o) in out_row.iter_mut().enumerate() {
                            *o += offset_sum(w_m, a_s(i));
                        }
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
            let blocks = row * k / BLOCK..(row + 1) * k / BLOCK;
            let per_block = self.layout.scales_per_block();
            let d = &self.scales[blocks.start * per_block..blocks.end * per_block];
            let mut values = [0i8; BLOCK];
            for (b, (block, scales)) in q.chunks_exact(self.layout.block_bytes()).zip(d.chunks_exact(per_block)).enumerate() {
                self.layout.unpack(block, &mut values);
                let offset = self.offsets.get(blocks.start + b).copied().unwrap_or(0.0);
                let scale = |i: usize| scales[i * per_block / BLOCK];
                out.extend(values.iter().enumerate().map(|(i, &v)| v as f32 * scale(i) + offset));
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), k), &Device::Cpu)?)
    }
}

/// Bytes of a Q4_K super-block: f16 scale and minimum scale, 12 bytes of packed 6-bit
/// sub-block scales and minimums, 128 bytes of nibbles.
const Q4K_BYTES: usize = 144;
/// Bytes of a Q6_K super-block: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed
/// scales (one per 16 values), f16 scale.
const Q6K_BYTES: usize = 210;

/// Takes a Q4_K super-block apart into eight `Q4` blocks: sub-block `j`'s scale is
/// `d * scale_j` and its offset `-dmin * min_j`; its values are the low (even `j`) or high (odd
/// `j`) nibbles of a 32-byte run.
fn split_q4k(block: &[u8], scales: &mut Vec<f32>, offsets: &mut Vec<f32>, quants: &mut Vec<u8>) {
    let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
    let dmin = f16::from_le_bytes([block[2], block[3]]).to_f32();
    let packed = &block[4..16];
    let nibbles = &block[16..];
    // 6-bit scale and minimum of sub-block j: the first four sit in the low six bits of bytes
    // j and j + 4; the last four take four bits from byte j + 4 and two from the top of bytes
    // j - 4 and j.
    let scale_min = |j: usize| -> (u8, u8) {
        if j < 4 {
            (packed[j] & 63, packed[j + 4] & 63)
        } else {
            ((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
        }
    };
    for j in 0..8 {
        let (sc, m) = scale_min(j);
        scales.push(d * sc as f32);
        offsets.push(-(dmin * m as f32));
        let run = &nibbles[j / 2 * 32..][..32];
        let value = |l: usize| if j % 2 == 0 { run[l] & 0x0F } else { run[l] >> 4 };
        quants.extend((0..BLOCK / 2).map(|l| value(l) | (value(l + BLOCK / 2) << 4)));
    }
}

/// Takes a Q6_K super-block apart into eight `Q6` blocks: each value is its low nibble and two
/// high bits, less 32, with the scale `d * scale` of its 16-value group.
fn split_q6k(block: &[u8], scales: &mut Vec<f32>, quants: &mut Vec<u8>) {
    let (low, high) = (&block[..128], &block[128..192]);
    let group_scales = &block[192..208];
    let d = f16::from_le_bytes([block[208], block[209]]).to_f32();
    let mut values = [0i8; 256];
    // Each half of 128 values uses 64 low bytes and 32 high bytes; value l + 32 * i of the
    // half (i = 0..4) takes nibble i / 2 of low byte l + 32 * (i % 2) and bits 2i, 2i + 1 of
    // high byte l.
    for half in 0..2 {
        let (low, high) = (&low[64 * half..][..64], &high[32 * half..][..32]);
        for l in 0..32 {
            for i in 0..4 {
                let byte = low[l + 32 * (i % 2)];
                let nibble = if i < 2 { byte & 0x0F } else { byte >> 4 };
                let bits = (high[l] >> (2 * i)) & 3;
                values[128 * half + 32 * i + l] = (nibble | (bits << 4)) as i8 - 32;
            }
        }
    }
    quants.extend(values.iter().map(|&v| v as u8));
    scales.extend(group_scales.iter().map(|&s| d * (s as i8) as f32));
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
            Layout::Q8 | Layout::Q6 => {
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
        (Layout::Q6, false) => dot_entry::<Q6, false>,
        (Layout::Q8, true) => dot_entry::<Q8, true>,
        (Layout::Q5, true) => dot_entry::<Q5, true>,
        (Layout::Q4, true) => dot_entry::<Q4, true>,
        (Layout::Q6, true) => dot_entry::<Q6, true>,
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
        Layout::Q6 => dot_scalar_q6,
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

fn dot_scalar_q6(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    dot_scalar(Layout::Q6, w_q, w_d, w_m, a_q, a_d, a_s)
}

/// The dot product of a weight row and an activation row, block by block: the exact integer
/// dot product of each block's values times the product of the two scales (for `Q6`, of each
/// half-block's), plus for `Q4` each block's offset times its activations' sum.
fn dot_scalar(layout: Layout, w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    let mut sum = 0f32;
    let mut w = [0i8; BLOCK];
    let per_block = layout.scales_per_block();
    let part = BLOCK / per_block;
    for (b, (wd, ad)) in w_d.chunks_exact(per_block).zip(a_d).enumerate() {
        let bytes = layout.block_bytes();
        layout.unpack(&w_q[b * bytes..(b + 1) * bytes], &mut w);
        let a = &a_q[b * BLOCK..(b + 1) * BLOCK];
        for (p, wd) in wd.iter().enumerate() {
            let range = p * part..(p + 1) * part;
            let dot: i32 = w[range.clone()].iter().zip(&a[range]).map(|(&x, &y)| x as i32 * y as i32).sum();
            sum += dot as f32 * (wd * ad);
        }
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
const Q6: u8 = 3;

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
/// one f32) (for `Q6`, the low four
/// lanes, which hold the first 16 values, by the first half's scale and the high four by the
/// second's). Exact integers either way, so VNNI and plain AVX2 give the same result.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_body<const L: u8, const VNNI: bool>(w_q: &[u8], w_d: &[f32], w_m: &[f32], a_q: &[i8], a_d: &[f32], a_s: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let layout = [Layout::Q8, Layout::Q5, Layout::Q4, Layout::Q6][L as usize];
    let per_block = layout.scales_per_block();
    let blocks = (w_d.len() / per_block).min(a_d.len());
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
        let ad = *a_d.get_unchecked(b);
        let scale = if L == Q6 {
            let first = _mm_set1_ps(*w_d.get_unchecked(2 * b) * ad);
            let second = _mm_set1_ps(*w_d.get_unchecked(2 * b + 1) * ad);
            _mm256_set_m128(second, first)
        } else {
            _mm256_set1_ps(*w_d.get_unchecked(b) * ad)
        };
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc);
    }
    lane_sum(acc) + offsets
}

/// Four activation rows against one weight row of signed bytes (Q8_0, an unpacked row, or,
/// split, `Q6`): the same operations, in the same order, as four calls of the single-row
/// kernel, but each weight block is loaded once for the four.
type Dot4Kernel = fn(&[u8], &[f32], [&[i8]; 4], [&[f32]; 4]) -> [f32; 4];

fn dot4_kernel(split: bool) -> Option<Dot4Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        match (simd(), split) {
            (Simd::Vnni, false) => return Some(dot4_entry::<false, true>),
            (Simd::Vnni, true) => return Some(dot4_entry::<true, true>),
            (Simd::Avx2, false) => return Some(dot4_entry::<false, false>),
            (Simd::Avx2, true) => return Some(dot4_entry::<true, false>),
            (Simd::None, _) => {}
        }
    }
    let _ = split;
    None
}

#[cfg(target_arch = "x86_64")]
fn dot4_entry<const SPLIT: bool, const VNNI: bool>(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    // SAFETY: only chosen by `dot4_kernel` after the features were detected.
    unsafe {
        if VNNI {
            dot4_vnni::<SPLIT>(w_q, w_d, a_q, a_d)
        } else {
            dot4_avx2::<SPLIT>(w_q, w_d, a_q, a_d)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot4_avx2<const SPLIT: bool>(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    dot4_body::<SPLIT, false>(w_q, w_d, a_q, a_d)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn dot4_vnni<const SPLIT: bool>(w_q: &[u8], w_d: &[f32], a_q: [&[i8]; 4], a_d: [&[f32]; 4]) -> [f32; 4] {
    dot4_body::<SPLIT, true>(w_q, w_d, a_q, a_d)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot4_body<const SPLIT: bool, const VNNI: bool>(
    w_q: &[u8],
    w_d: &[f32],
    a_q: [&[i8]; 4],
    a_d: [&[f32]; 4],
) -> [f32; 4] {
    use std::arch::x86_64::*;
    let per_block = if SPLIT { 2 } else { 1 };
    let blocks = a_d.iter().fold(w_d.len() / per_block, |n, d| n.min(d.len()));
    assert!(w_q.len() >= blocks * BLOCK && a_q.iter().all(|a| a.len() >= blocks * BLOCK));
    let mut acc = [_mm256_setzero_ps(); 4];
    for b in 0..blocks {
        // SAFETY: the slices hold at least `blocks` blocks (asserted above).
        let w = _mm256_loadu_si256(w_q.as_ptr().add(b * BLOCK) as *const __m256i);
        let w_abs = _mm256_sign_epi8(w, w);
        let (wd, wd2) = if SPLIT {
            (*w_d.get_unchecked(2 * b), *w_d.get_unchecked(2 * b + 1))
        } else {
            (*w_d.get_unchecked(b), 0.0)
        };
        for t in 0..4 {
            let a = _mm256_loadu_si256(a_q[t].as_ptr().add(b * BLOCK) as *const __m256i);
            let quads = block_products::<VNNI>(w_abs, _mm256_sign_epi8(a, w));
            let ad = *a_d[t].get_unchecked(b);
            let scale = if SPLIT {
                _mm256_set_m128(_mm_set1_ps(wd2 * ad), _mm_set1_ps(wd * ad))
            } else {
                _mm256_set1_ps(wd * ad)
            };
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

    const TYPES: [GgmlDType; 5] = [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_1, GgmlDType::Q4K, GgmlDType::Q6K];

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
            let per_row = k / BLOCK * m.layout.scales_per_block();
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
                    if matches!(m.layout, Layout::Q8 | Layout::Q6) {
                        let split = m.layout == Layout::Q6;
                        let four = |vnni| match (split, vnni) {
                            (false, false) => dot4_entry::<false, false>(w_q, w_d, quads, scales),
                            (false, true) => dot4_entry::<false, true>(w_q, w_d, quads, scales),
                            (true, false) => dot4_entry::<true, false>(w_q, w_d, quads, scales),
                            (true, true) => dot4_entry::<true, true>(w_q, w_d, quads, scales),
                        };
                        assert_eq!(four(false), [plain; 4], "{dtype:?}");
                        assert_eq!(four(true), [plain; 4], "{dtype:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_prompt_gives_each_token_the_same_row_as_alone() {
        // Ten tokens take the unpack-once path for Q5_0, Q4_1 and Q4_K and go four at a time
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

    #[test]
    fn k_quant_products_are_as_close_as_candles() {
        // candle multiplies K-quant weights with activations quantized in 256-wide blocks; the
        // own kernels quantize them in 32-wide blocks. Both are held to the product of the
        // same dequantized weights in f32, and the own kernels must be no further from it.
        let (n, k, m) = (40, 768, 5);
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let w = Tensor::from_vec(values(n * k, 3), (n, k), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, dtype).unwrap();
            let x = Tensor::from_vec(values(m * k, 4), (1, m, k), &Device::Cpu).unwrap();
            let exact = x.broadcast_matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap()).unwrap();
            let ours = Q8Matrix::from_qtensor(&q).unwrap().unwrap().forward(&x).unwrap();
            let theirs = candle_core::quantized::QMatMul::from_qtensor(q).unwrap();
            let theirs = candle_core::Module::forward(&theirs, &x).unwrap();
            let off = |t: &Tensor| (t - &exact).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            let scale = exact.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            let (ours, theirs) = (off(&ours), off(&theirs));
            assert!(ours < 0.01 * scale, "{dtype:?}: {ours} off a largest value of {scale}");
            assert!(ours <= theirs * 1.5, "{dtype:?}: {ours} off where candle is {theirs} off");
        }
    }
}
