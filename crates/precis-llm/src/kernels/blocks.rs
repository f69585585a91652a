//! Q8_0, Q5_0 and Q4_1 weight matrices times f32 activations on the CPU, for Precis's decoder
//! (`crate::decoder`). candle has only scalar code for Q5_0 and Q4_1, and for Q8_0 a fast kernel only for
//! rows a multiple of 256 long (with a second, packed copy of the weights). Here the 32-value
//! blocks of every eight rows are interleaved at load into one tile (`tiles`), in as many bytes
//! as stored: for each run of 4 (Q8_0) or 8 (Q5_0, Q4_1) values, the eight rows' bytes side by
//! side, so one 256-bit load holds the same values of eight rows and one `dpbusd` (AVX-VNNI;
//! `maddubs` and `madd` on plain AVX2) adds four products of each row into that row's lane
//! against four activations broadcast to all lanes. The activations are quantized to 8 bits
//! per 32 values, as in llama.cpp. Q5_0's fifth bits are spread onto the bytes in registers and
//! its offset of 16 taken off through the activations' block sums; Q8_0's signs move onto the
//! activations; a Q4_1 block's minimum multiplies the activations' block sum. A scalar version
//! serves other CPUs and is the reference in tests; a token gets the same floats alone as
//! within a prompt.

use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};
use half::f16;
use rayon::prelude::*;

use crate::error::Result;
use crate::kernels::cpu::KernelPath;
use crate::kernels::exp::{self, Exp};
use crate::kernels::tiles::{self, f16_at, shape_error, Fetch, Give, Held, Outputs, Stored, ROWS};

const BLOCK: usize = 32;

/// How a tile stores eight rows' blocks of 32 values. Every tile starts with the eight rows'
/// f16 scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Then `[run of 4 (8)][row (8)][4 signed bytes]`.
    Q8,
    /// Then the fifth bits, `[run of 8 (4)][row (8)]` one byte each (bit j for value j of the
    /// run), then the low nibbles as in `Q4`; the value is the 5-bit number minus 16.
    Q5,
    /// Then the eight rows' f16 minimums, then `[run of 8 (4)][row (8)][4 bytes]`, byte j
    /// holding value j of the run in its low nibble and value j + 4 in its high nibble; the
    /// value is the 4-bit number times the scale plus the minimum.
    Q4,
}

impl Layout {
    /// The layout of a block type's tiles; `None` for a type without block tiles.
    fn of(dtype: GgmlDType) -> Option<Layout> {
        match dtype {
            GgmlDType::Q8_0 => Some(Layout::Q8),
            GgmlDType::Q5_0 => Some(Layout::Q5),
            GgmlDType::Q4_1 => Some(Layout::Q4),
            _ => None,
        }
    }

    /// The block type whose tiles these are.
    fn dtype(self) -> GgmlDType {
        match self {
            Layout::Q8 => GgmlDType::Q8_0,
            Layout::Q5 => GgmlDType::Q5_0,
            Layout::Q4 => GgmlDType::Q4_1,
        }
    }

    /// Bytes of a tile: as many as the eight stored blocks.
    fn tile_bytes(self) -> usize {
        match self {
            Layout::Q8 => 16 + 256,
            Layout::Q5 => 16 + 32 + 128,
            Layout::Q4 => 16 + 16 + 128,
        }
    }
}

/// A Q8_0, Q5_0 or Q4_1 matrix of `rows × cols` (each row is one output), in tiles: row
/// group `g`'s block `b` is tile `g * cols / 32 + b`. The last group is padded with zero rows.
pub struct BlockMatrix {
    rows: usize,
    cols: usize,
    layout: Layout,
    tiles: Held<u8>,
    kernels: Kernels,
    /// `e^x` on the same path, for `Give::SiluGated`.
    exp: Exp,
    /// The activations' quantization, compiled for the path's instruction set.
    quantize: fn(&[f32]) -> Q8Rows,
}

/// Activations quantized to 8 bits per block of 32, with per block one f32 scale, the sum of
/// the quants, and that sum times the scale (what a Q4_1 minimum multiplies).
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Q8Rows {
    scales: Vec<f32>,
    sums: Vec<i32>,
    scaled_sums: Vec<f32>,
    quants: Vec<i8>,
}

/// One token's share of `Q8Rows`.
#[derive(Clone, Copy)]
struct Act<'a> {
    scales: &'a [f32],
    /// Read by the x86 kernels only (the portable path uses `scaled_sums`).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    sums: &'a [i32],
    scaled_sums: &'a [f32],
    quants: &'a [i8],
}

impl Q8Rows {
    fn token(&self, i: usize, k: usize) -> Act<'_> {
        let blocks = i * k / BLOCK..(i + 1) * k / BLOCK;
        Act {
            scales: &self.scales[blocks.clone()],
            sums: &self.sums[blocks.clone()],
            scaled_sums: &self.scaled_sums[blocks],
            quants: &self.quants[i * k..(i + 1) * k],
        }
    }
}

tiles::compiled_per_path!(quantizer, quantize_rows, Q8Rows);

#[inline(always)]
fn quantize_rows(xs: &[f32]) -> Q8Rows {
    let blocks = xs.len() / BLOCK;
    let mut scales = Vec::with_capacity(blocks);
    let mut sums = Vec::with_capacity(blocks);
    let mut scaled_sums = Vec::with_capacity(blocks);
    let mut quants = vec![0i8; xs.len()];
    for (block, q) in xs.chunks_exact(BLOCK).zip(quants.chunks_exact_mut(BLOCK)) {
        let d = tiles::quantize_block(block, q);
        let sum: i32 = q.iter().map(|&v| v as i32).sum();
        // The scale and the scaled sum are kept at f16 precision, as in a Q8_0 or Q8_1 block,
        // so the products equal candle's (and ggml's) up to float summation order.
        let d = f16::from_f32(d).to_f32();
        scales.push(d);
        sums.push(sum);
        scaled_sums.push(f16::from_f32(sum as f32 * d).to_f32());
    }
    Q8Rows { scales, sums, scaled_sums, quants }
}

impl Layout {
    /// A stored block's 32 values as integers: signed for `Q8`, 0..32 for `Q5` (before the
    /// offset of 16), 0..16 for `Q4`.
    fn stored_values(self, block: &[u8]) -> [u8; BLOCK] {
        let mut out = [0u8; BLOCK];
        match self {
            Layout::Q8 => out.copy_from_slice(&block[2..34]),
            Layout::Q5 => {
                let high = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
                for j in 0..BLOCK / 2 {
                    let bit = |i: usize| (((high >> i) & 1) << 4) as u8;
                    out[j] = (block[6 + j] & 0x0F) | bit(j);
                    out[j + BLOCK / 2] = (block[6 + j] >> 4) | bit(j + BLOCK / 2);
                }
            }
            Layout::Q4 => {
                for j in 0..BLOCK / 2 {
                    out[j] = block[4 + j] & 0x0F;
                    out[j + BLOCK / 2] = block[4 + j] >> 4;
                }
            }
        }
        out
    }

    /// The tile of up to eight stored blocks (missing rows stay zero).
    fn pack(self, blocks: &[&[u8]], tile: &mut [u8]) {
        for (r, block) in blocks.iter().enumerate() {
            tile[2 * r..2 * r + 2].copy_from_slice(&block[..2]);
            let v = self.stored_values(block);
            match self {
                Layout::Q8 => {
                    for (run, four) in v.chunks_exact(4).enumerate() {
                        tile[16 + 32 * run + 4 * r..][..4].copy_from_slice(four);
                    }
                }
                Layout::Q5 | Layout::Q4 => {
                    let nibbles = if self == Layout::Q5 { 48 } else { 32 };
                    if self == Layout::Q4 {
                        tile[16 + 2 * r..][..2].copy_from_slice(&block[2..4]);
                    }
                    for (run, eight) in v.chunks_exact(8).enumerate() {
                        for j in 0..4 {
                            tile[nibbles + 32 * run + 4 * r + j] = (eight[j] & 0x0F) | ((eight[j + 4] & 0x0F) << 4);
                        }
                        if self == Layout::Q5 {
                            tile[16 + 8 * run + r] = (0..8).fold(0u8, |bits, j| bits | ((eight[j] >> 4) << j));
                        }
                    }
                }
            }
        }
    }

    /// Row `r`'s 32 integers in a tile: signed for `Q8`, less the offset of 16 for `Q5`,
    /// 0..16 for `Q4`.
    fn ints(self, tile: &[u8], r: usize) -> [i32; BLOCK] {
        std::array::from_fn(|i| match self {
            Layout::Q8 => tile[16 + 32 * (i / 4) + 4 * r + i % 4] as i8 as i32,
            Layout::Q5 | Layout::Q4 => {
                let nibbles = if self == Layout::Q5 { 48 } else { 32 };
                let byte = tile[nibbles + 32 * (i / 8) + 4 * r + i % 4];
                let low = if i % 8 < 4 { byte & 0x0F } else { byte >> 4 } as i32;
                if self == Layout::Q5 {
                    let fifth = ((tile[16 + 8 * (i / 8) + r] >> (i % 8)) & 1) as i32;
                    (low | (fifth << 4)) - 16
                } else {
                    low
                }
            }
        })
    }

    /// Row `r`'s scale and (`Q4`) minimum in a tile.
    fn scale_min(self, tile: &[u8], r: usize) -> (f32, f32) {
        (f16_at(tile, 2 * r), if self == Layout::Q4 { f16_at(tile, 16 + 2 * r) } else { 0.0 })
    }

    /// Row `r`'s 32 values in a tile, as candle dequantizes them.
    fn values(self, tile: &[u8], r: usize) -> [f32; BLOCK] {
        let (d, min) = self.scale_min(tile, r);
        let q = self.ints(tile, r);
        std::array::from_fn(|i| if self == Layout::Q4 { q[i] as f32 * d + min } else { q[i] as f32 * d })
    }
}

impl BlockMatrix {
    /// The matrix of stored Q8_0, Q5_0 or Q4_1 rows, multiplied on `path`'s kernels; `None`
    /// for other types.
    pub(crate) fn from_stored(s: &Stored, path: KernelPath) -> Result<Option<BlockMatrix>> {
        let Some(layout) = Layout::of(s.dtype) else { return Ok(None) };
        let (rows, cols) = (s.rows, s.cols);
        let blocks = cols / BLOCK;
        let groups = rows.div_ceil(ROWS);
        let mut tiles = vec![0u8; groups * blocks * layout.tile_bytes()];
        tiles.par_chunks_mut(blocks * layout.tile_bytes()).enumerate().for_each(|(g, group)| {
            for (b, tile) in group.chunks_exact_mut(layout.tile_bytes()).enumerate() {
                let (stored_blocks, n) = s.group_blocks(g, b);
                layout.pack(&stored_blocks[..n], tile);
            }
        });
        Ok(Some(BlockMatrix {
            rows,
            cols,
            layout,
            tiles: Held::Built(tiles),
            kernels: kernels(layout, path, crate::kernels::tiles::fetch()),
            exp: exp::for_path(path),
            quantize: quantizer(path),
        }))
    }

    /// The matrix of `rows × cols` values of type `dtype` whose tiles lie in `range` of `map`
    /// (a tile cache file), multiplied on `path`'s kernels; `None` if the type has no block
    /// tiles or the range does not hold exactly the tiles of such a matrix.
    pub(crate) fn mapped(
        dtype: GgmlDType,
        (rows, cols): (usize, usize),
        map: std::sync::Arc<memmap2::Mmap>,
        range: std::ops::Range<usize>,
        path: KernelPath,
    ) -> Option<BlockMatrix> {
        let layout = Layout::of(dtype)?;
        if cols == 0 || !cols.is_multiple_of(BLOCK) {
            return None;
        }
        let bytes = rows.div_ceil(ROWS).checked_mul(cols / BLOCK)?.checked_mul(layout.tile_bytes())?;
        let tiles = Held::mapped(map, range, bytes)?;
        Some(BlockMatrix {
            rows,
            cols,
            layout,
            tiles,
            kernels: kernels(layout, path, crate::kernels::tiles::fetch()),
            exp: exp::for_path(path),
            quantize: quantizer(path),
        })
    }

    /// The block type, rows and columns.
    pub(crate) fn shape(&self) -> (GgmlDType, usize, usize) {
        (self.layout.dtype(), self.rows, self.cols)
    }

    /// The tiles, as bytes.
    pub(crate) fn tile_bytes(&self) -> &[u8] {
        self.tiles.as_bytes()
    }

    /// Whether the tiles are mapped from a tile cache file.
    pub(crate) fn is_mapped(&self) -> bool {
        self.tiles.is_mapped()
    }

    fn group(&self, g: usize) -> &[u8] {
        let bytes = self.cols / BLOCK * self.layout.tile_bytes();
        &self.tiles[g * bytes..(g + 1) * bytes]
    }

    /// Row group `g`'s tiles, and those of its partner (else nothing).
    fn groups(&self, g: usize, partner: Option<usize>) -> (&[u8], &[u8]) {
        (self.group(g), partner.map_or(&[][..], |p| self.group(p)))
    }

    /// Bytes of the tiles, what one product reads.
    pub fn bytes(&self) -> usize {
        self.tiles.len()
    }

    /// `x @ self^T` for `x` of shape `(.., cols)` (the tests compare through tensors).
    #[cfg(test)]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        tiles::on_tensor(x, (self.rows, self.cols), |xs| self.multiply_rows(xs, Give::All))
    }

    /// What `give` asks of the product `xs @ self^T`, for rows of `cols` values one after the
    /// other: as many rows of outputs.
    pub(crate) fn multiply_rows(&self, xs: &[f32], give: Give) -> Result<Vec<f32>> {
        let k = self.cols;
        if !xs.len().is_multiple_of(k) {
            return Err(shape_error(format!("{} values are no whole rows of a {k}-wide matrix", xs.len())));
        }
        let act = (self.quantize)(xs);
        let m = xs.len() / k;
        let Kernels { one, four, pairs } = self.kernels;
        tiles::product(
            (self.rows, m, k),
            pairs,
            give,
            self.exp,
            None::<fn(usize, Option<usize>, usize) -> Outputs<8>>,
            |g, partner, t| {
                let (a, b) = self.groups(g, partner);
                four(a, b, std::array::from_fn(|j| act.token(t + j, k)))
            },
            |g, partner, t| {
                let (a, b) = self.groups(g, partner);
                one(a, b, [act.token(t, k)])
            },
        )
    }

    /// Rows `ids` expanded to f32, `(ids.len(), cols)`: the lookup of a token table.
    pub fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for &id in ids {
            let row = id as usize;
            if row >= self.rows {
                return Err(shape_error(format!("token {row} is outside the table of {} rows", self.rows)));
            }
            for tile in self.group(row / ROWS).chunks_exact(self.layout.tile_bytes()) {
                out.extend(self.layout.values(tile, row % ROWS));
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), self.cols), &Device::Cpu)?)
    }
}

/// One row group's tiles (and a second group's, or nothing) against `N` tokens: their eight
/// outputs each, per group.
type Kernel<const N: usize> = fn(&[u8], &[u8], [Act; N]) -> Outputs<N>;

/// A path's kernels for one layout; `pairs` when they take two row groups at once.
#[derive(Clone, Copy)]
struct Kernels {
    one: Kernel<1>,
    four: Kernel<4>,
    pairs: bool,
}

/// The kernels of `path` for `layout`; those of `avx512vnni` for one token ask for their tiles
/// ahead only where `fetch` says so.
fn kernels(layout: Layout, path: KernelPath, fetch: Fetch) -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernels::tiles::{AVX2, AVX_VNNI};
        macro_rules! narrow {
            ($isa:expr) => {
                match layout {
                    Layout::Q8 => {
                        Kernels { one: avx2::entry::<Q8, 1, $isa>, four: avx2::entry::<Q8, 4, $isa>, pairs: false }
                    }
                    Layout::Q5 => {
                        Kernels { one: avx2::entry::<Q5, 1, $isa>, four: avx2::entry::<Q5, 4, $isa>, pairs: false }
                    }
                    Layout::Q4 => {
                        Kernels { one: avx2::entry::<Q4, 1, $isa>, four: avx2::entry::<Q4, 4, $isa>, pairs: false }
                    }
                }
            };
        }
        match path {
            KernelPath::Avx512Vnni => {
                macro_rules! wide {
                    ($l:expr) => {
                        Kernels {
                            one: if fetch.wide_one_asks() {
                                avx512::entry::<$l, 1, true>
                            } else {
                                avx512::entry::<$l, 1, false>
                            },
                            four: avx512::entry::<$l, 4, true>,
                            pairs: true,
                        }
                    };
                }
                return match layout {
                    Layout::Q8 => wide!(Q8),
                    Layout::Q5 => wide!(Q5),
                    Layout::Q4 => wide!(Q4),
                };
            }
            KernelPath::AvxVnni => return narrow!(AVX_VNNI),
            KernelPath::Avx2 => return narrow!(AVX2),
            KernelPath::Portable => {}
        }
    }
    let _ = (path, fetch);
    match layout {
        Layout::Q8 => Kernels { one: scalar::<Q8, 1>, four: scalar::<Q8, 4>, pairs: false },
        Layout::Q5 => Kernels { one: scalar::<Q5, 1>, four: scalar::<Q5, 4>, pairs: false },
        Layout::Q4 => Kernels { one: scalar::<Q4, 1>, four: scalar::<Q4, 4>, pairs: false },
    }
}

/// The layouts as numbers, for the kernels' const parameter.
const Q8: u8 = 0;
const Q5: u8 = 1;
const Q4: u8 = 2;
const LAYOUTS: [Layout; 3] = [Layout::Q8, Layout::Q5, Layout::Q4];

/// The reference product, in the order of the SIMD kernels: per block and row, the exact
/// integer sum of weight × activation (Q5_0: less 16 times the activations' sum), times the
/// row's scale times the activations' scale, accumulated in f32 (Q4_1: plus the minimum times
/// the activations' scaled sum).
fn scalar<const L: u8, const N: usize>(tiles: &[u8], second: &[u8], a: [Act; N]) -> Outputs<N> {
    [scalar_group::<L, N>(tiles, a), if second.is_empty() { [[0.0; ROWS]; N] } else { scalar_group::<L, N>(second, a) }]
}

fn scalar_group<const L: u8, const N: usize>(tiles: &[u8], a: [Act; N]) -> [[f32; ROWS]; N] {
    let layout = LAYOUTS[L as usize];
    let mut out = [[0f32; ROWS]; N];
    for (b, tile) in tiles.chunks_exact(layout.tile_bytes()).enumerate() {
        for (t, a) in a.iter().enumerate() {
            let x = &a.quants[b * BLOCK..(b + 1) * BLOCK];
            for r in 0..ROWS {
                let (d, min) = layout.scale_min(tile, r);
                let q = layout.ints(tile, r);
                let dot: i32 = (0..BLOCK).map(|i| q[i] * x[i] as i32).sum();
                out[t][r] += d * a.scales[b] * dot as f32;
                if layout == Layout::Q4 {
                    out[t][r] += min * a.scaled_sums[b];
                }
            }
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The tile products on 256-bit registers for `N` tokens at once, one row group per call:
    //! `ISA` says which instruction adds the byte products (`tiles::lanes::dp`). Each lane is
    //! one row of the tile.

    use super::{Act, BLOCK, LAYOUTS, Q4, Q5, Q8};
    use crate::kernels::tiles::lanes::{dp, four_bytes, outputs, prefetch_ahead};
    use crate::kernels::tiles::{Outputs, AVX512_VNNI, AVX_VNNI};
    use std::arch::x86_64::*;

    /// Checks that the activations hold the blocks of `tiles`, and gives their number.
    pub(super) fn blocks<const L: u8, const N: usize>(tiles: &[u8], a: &[Act; N]) -> usize {
        let blocks = tiles.len() / LAYOUTS[L as usize].tile_bytes();
        assert!(a.iter().all(|a| a.scales.len() >= blocks
            && a.sums.len() >= blocks
            && a.scaled_sums.len() >= blocks
            && a.quants.len() >= blocks * BLOCK));
        blocks
    }

    /// One row group (`tiles`; `second` must be empty).
    pub fn entry<const L: u8, const N: usize, const ISA: u8>(tiles: &[u8], second: &[u8], a: [Act; N]) -> Outputs<N> {
        debug_assert!(second.is_empty());
        let blocks = blocks::<L, N>(tiles, &a);
        // SAFETY: `kernels` chooses `ISA` only for a path whose features `KernelPath::supported`
        // found on this CPU; the activations hold `blocks` blocks (checked above).
        unsafe {
            match ISA {
                AVX512_VNNI => body_avx512::<L, N>(tiles, a, blocks),
                AVX_VNNI => body_vnni::<L, N>(tiles, a, blocks),
                _ => body_avx2::<L, N>(tiles, a, blocks),
            }
        }
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    unsafe fn body_avx512<const L: u8, const N: usize>(tiles: &[u8], a: [Act; N], blocks: usize) -> Outputs<N> {
        body::<L, N, AVX512_VNNI>(tiles, a, blocks)
    }

    #[target_feature(enable = "avx2,fma,f16c,avxvnni")]
    unsafe fn body_vnni<const L: u8, const N: usize>(tiles: &[u8], a: [Act; N], blocks: usize) -> Outputs<N> {
        body::<L, N, AVX_VNNI>(tiles, a, blocks)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn body_avx2<const L: u8, const N: usize>(tiles: &[u8], a: [Act; N], blocks: usize) -> Outputs<N> {
        body::<L, N, { crate::kernels::tiles::AVX2 }>(tiles, a, blocks)
    }

    #[inline(always)]
    unsafe fn body<const L: u8, const N: usize, const ISA: u8>(tiles: &[u8], a: [Act; N], blocks: usize) -> Outputs<N> {
        let tile_bytes = LAYOUTS[L as usize].tile_bytes();
        let low = _mm256_set1_epi8(0x0F);
        // Q5_0's fifth bits: lane r takes byte r of the run's eight bytes into each of its four
        // bytes, and byte j tests bit j (low nibbles) or j + 4 (high nibbles).
        let spread = _mm256_setr_epi8(
            0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7,
        );
        let bits_low = _mm256_set1_epi32(i32::from_le_bytes([1, 2, 4, 8]));
        let bits_high = _mm256_set1_epi32(i32::from_le_bytes([16, 32, 64, 128]));
        let sixteen = _mm256_set1_epi8(16);
        let mut acc = [_mm256_setzero_ps(); N];
        for b in 0..blocks {
            let tile = tiles.as_ptr().add(b * tile_bytes);
            for line in (0..tile_bytes).step_by(64) {
                prefetch_ahead(tile.wrapping_add(line));
            }
            let mut sums = [_mm256_setzero_si256(); N];
            if L == Q8 {
                for run in 0..8 {
                    let w = _mm256_loadu_si256(tile.add(16 + 32 * run) as *const __m256i);
                    let w_abs = _mm256_sign_epi8(w, w);
                    for t in 0..N {
                        let x = four_bytes(a[t].quants.as_ptr().add(b * BLOCK + 4 * run));
                        sums[t] = dp::<ISA>(sums[t], w_abs, _mm256_sign_epi8(x, w));
                    }
                }
            } else {
                let nibbles = if L == Q5 { 48 } else { 32 };
                for run in 0..4 {
                    let w = _mm256_loadu_si256(tile.add(nibbles + 32 * run) as *const __m256i);
                    let mut lo = _mm256_and_si256(w, low);
                    let mut hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low);
                    if L == Q5 {
                        let bits = _mm256_set1_epi64x(std::ptr::read_unaligned(tile.add(16 + 8 * run) as *const i64));
                        let bits = _mm256_shuffle_epi8(bits, spread);
                        let fifth = |mask: __m256i| {
                            _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bits, mask), mask), sixteen)
                        };
                        lo = _mm256_or_si256(lo, fifth(bits_low));
                        hi = _mm256_or_si256(hi, fifth(bits_high));
                    }
                    for t in 0..N {
                        let x = a[t].quants.as_ptr().add(b * BLOCK + 8 * run);
                        sums[t] = dp::<ISA>(sums[t], lo, four_bytes(x));
                        sums[t] = dp::<ISA>(sums[t], hi, four_bytes(x.add(4)));
                    }
                }
            }
            let d = _mm256_cvtph_ps(_mm_loadu_si128(tile as *const __m128i));
            let min = if L == Q4 {
                _mm256_cvtph_ps(_mm_loadu_si128(tile.add(16) as *const __m128i))
            } else {
                _mm256_setzero_ps()
            };
            for t in 0..N {
                let mut dot = sums[t];
                if L == Q5 {
                    dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(16 * *a[t].sums.get_unchecked(b)));
                }
                let scale = _mm256_mul_ps(d, _mm256_set1_ps(*a[t].scales.get_unchecked(b)));
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(scale, _mm256_cvtepi32_ps(dot)));
                if L == Q4 {
                    acc[t] =
                        _mm256_add_ps(acc[t], _mm256_mul_ps(min, _mm256_set1_ps(*a[t].scaled_sums.get_unchecked(b))));
                }
            }
        }
        outputs(acc)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! The tile products on 512-bit registers for `N` tokens at once, two row groups per call:
    //! the same run of both groups' tiles fills the two halves of a register, so one
    //! `vpdpbusd` adds four products of each of sixteen rows against four activations
    //! broadcast to every lane. Lane `i` is row `i % 8` of the first group (`i < 8`) or of the
    //! second; each lane does what the 256-bit kernels do for its row, so the floats are the
    //! same. A CPU that splits 512-bit operations into two 256-bit halves (AMD Zen 4) still
    //! saves half of the instructions. `ASK`: whether a kernel asks for its tiles ahead of
    //! reading them (`tiles::Fetch`).

    use super::{avx2, Act, BLOCK, LAYOUTS, Q4, Q5, Q8};
    use crate::kernels::tiles::lanes::{four_bytes_wide, outputs_wide, pair, pair_f16, prefetch_ahead};
    use crate::kernels::tiles::{Outputs, AVX512_VNNI};
    use std::arch::x86_64::*;

    /// Row groups `tiles` and `second`; a lone group (`second` empty) goes to the 256-bit
    /// kernel with the same instruction set.
    pub fn entry<const L: u8, const N: usize, const ASK: bool>(tiles: &[u8], second: &[u8], a: [Act; N]) -> Outputs<N> {
        if second.is_empty() {
            return avx2::entry::<L, N, AVX512_VNNI>(tiles, second, a);
        }
        assert_eq!(tiles.len(), second.len());
        let blocks = avx2::blocks::<L, N>(tiles, &a);
        // SAFETY: `kernels` chooses this only for `KernelPath::Avx512Vnni`, whose features
        // `KernelPath::supported` found on this CPU; both groups hold `blocks` tiles and the
        // activations `blocks` blocks (checked above).
        unsafe { body::<L, N, ASK>(tiles, second, a, blocks) }
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn body<const L: u8, const N: usize, const ASK: bool>(
        first: &[u8],
        second: &[u8],
        a: [Act; N],
        blocks: usize,
    ) -> Outputs<N> {
        let tile_bytes = LAYOUTS[L as usize].tile_bytes();
        let low = _mm512_set1_epi8(0x0F);
        // Q5_0's fifth bits, as in the 256-bit kernel, in both halves.
        let spread = _mm512_set_epi64(
            0x0707070706060606,
            0x0505050504040404,
            0x0303030302020202,
            0x0101010100000000,
            0x0707070706060606,
            0x0505050504040404,
            0x0303030302020202,
            0x0101010100000000,
        );
        let bits_low = _mm512_set1_epi32(i32::from_le_bytes([1, 2, 4, 8]));
        let bits_high = _mm512_set1_epi32(i32::from_le_bytes([16, 32, 64, 128]));
        let sixteen = _mm512_set1_epi8(16);
        let zero = _mm512_setzero_si512();
        let mut acc = [_mm512_setzero_ps(); N];
        for b in 0..blocks {
            let (ta, tb) = (first.as_ptr().add(b * tile_bytes), second.as_ptr().add(b * tile_bytes));
            if ASK {
                for line in (0..tile_bytes).step_by(64) {
                    prefetch_ahead(ta.wrapping_add(line));
                    prefetch_ahead(tb.wrapping_add(line));
                }
            }
            let mut sums = [_mm512_setzero_si512(); N];
            if L == Q8 {
                for run in 0..8 {
                    let w = pair(ta.add(16 + 32 * run), tb.add(16 + 32 * run));
                    // The weights' signs move onto the activations (`vpsignb` has no 512-bit
                    // form): activations negated where a weight is negative.
                    let w_abs = _mm512_abs_epi8(w);
                    let negative = _mm512_movepi8_mask(w);
                    for t in 0..N {
                        let x = four_bytes_wide(a[t].quants.as_ptr().add(b * BLOCK + 4 * run));
                        let x = _mm512_mask_sub_epi8(x, negative, zero, x);
                        sums[t] = _mm512_dpbusd_epi32(sums[t], w_abs, x);
                    }
                }
            } else {
                let nibbles = if L == Q5 { 48 } else { 32 };
                for run in 0..4 {
                    let w = pair(ta.add(nibbles + 32 * run), tb.add(nibbles + 32 * run));
                    let mut lo = _mm512_and_si512(w, low);
                    let mut hi = _mm512_and_si512(_mm512_srli_epi16::<4>(w), low);
                    if L == Q5 {
                        let bits = _mm512_inserti64x4::<1>(
                            _mm512_castsi256_si512(_mm256_set1_epi64x(std::ptr::read_unaligned(
                                ta.add(16 + 8 * run) as *const i64
                            ))),
                            _mm256_set1_epi64x(std::ptr::read_unaligned(tb.add(16 + 8 * run) as *const i64)),
                        );
                        let bits = _mm512_shuffle_epi8(bits, spread);
                        lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(bits, bits_low), lo, sixteen);
                        hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(bits, bits_high), hi, sixteen);
                    }
                    for t in 0..N {
                        let x = a[t].quants.as_ptr().add(b * BLOCK + 8 * run);
                        sums[t] = _mm512_dpbusd_epi32(sums[t], lo, four_bytes_wide(x));
                        sums[t] = _mm512_dpbusd_epi32(sums[t], hi, four_bytes_wide(x.add(4)));
                    }
                }
            }
            let d = pair_f16(ta, tb);
            let min = if L == Q4 { pair_f16(ta.add(16), tb.add(16)) } else { _mm512_setzero_ps() };
            for t in 0..N {
                let mut dot = sums[t];
                if L == Q5 {
                    dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(16 * *a[t].sums.get_unchecked(b)));
                }
                let scale = _mm512_mul_ps(d, _mm512_set1_ps(*a[t].scales.get_unchecked(b)));
                acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(scale, _mm512_cvtepi32_ps(dot)));
                if L == Q4 {
                    acc[t] =
                        _mm512_add_ps(acc[t], _mm512_mul_ps(min, _mm512_set1_ps(*a[t].scaled_sums.get_unchecked(b))));
                }
            }
        }
        outputs_wide(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tiles::test_values as values;
    use candle_core::quantized::QTensor;

    const TYPES: [GgmlDType; 3] = [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_1];

    fn matrix(dtype: GgmlDType, n: usize, k: usize, seed: u64) -> (QTensor, BlockMatrix) {
        matrix_on(dtype, n, k, seed, KernelPath::best())
    }

    fn matrix_on(dtype: GgmlDType, n: usize, k: usize, seed: u64, path: KernelPath) -> (QTensor, BlockMatrix) {
        let w = Tensor::from_vec(values(n * k, seed), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let m = Stored::with_tensor(&q, |s| BlockMatrix::from_stored(s, path)).unwrap().unwrap();
        (q, m)
    }

    #[test]
    fn every_paths_quantizer_gives_the_same_activations() {
        let xs = tiles::quantizer_test_values(BLOCK, 8);
        let plain = quantize_rows(&xs);
        for path in KernelPath::available() {
            assert_eq!(quantizer(path)(&xs), plain, "{path}");
        }
    }

    #[test]
    fn stacked_parts_make_the_matrix_of_their_rows() {
        for dtype in TYPES {
            let (q, whole) = matrix(dtype, 21, 256, 11);
            let data = q.data().unwrap();
            let row = data.len() / 21;
            // Parts of 5, 9 and 7 rows: row groups straddle the joins.
            let parts = vec![&data[..5 * row], &data[5 * row..14 * row], &data[14 * row..]];
            let stacked = BlockMatrix::from_stored(&Stored::new(dtype, 256, parts).unwrap(), KernelPath::best())
                .unwrap()
                .unwrap();
            assert_eq!((stacked.rows, stacked.cols), (21, 256));
            assert_eq!(*stacked.tiles, *whole.tiles, "{dtype:?}");
            assert!(Stored::new(dtype, 256, vec![&data[..row + 1]]).is_err(), "{dtype:?}: a part of a row and a byte");
        }
    }

    #[test]
    fn tiles_take_the_stored_bytes() {
        for dtype in TYPES {
            let (q, m) = matrix(dtype, 16, 256, 9);
            assert_eq!(m.tiles.len(), q.data().unwrap().len(), "{dtype:?}");
        }
    }

    #[test]
    fn every_path_gives_the_scalar_references_bits() {
        let k = 896;
        for dtype in TYPES {
            let mut xs = values(4 * k, 2);
            // A block's largest activation quantizes to ±127.
            xs[0] = 3.0;
            xs[40] = -3.0;
            let act = quantize_rows(&xs);
            assert!(act.quants.contains(&127) && act.quants.contains(&-127));
            let tokens: [Act; 4] = std::array::from_fn(|t| act.token(t, k));
            // Two row groups, so the 512-bit kernels take them as a pair.
            let (_, reference) = matrix_on(dtype, 16, k, 1, KernelPath::Portable);
            let expected = (reference.kernels.four)(reference.group(0), reference.group(1), tokens);
            // Each path's kernels, with each way of asking for the tiles (`Fetch`; a prefetch
            // changes no result, so this checks that the variants compute alike).
            let fetches = [Fetch::Ahead, Fetch::Zen4];
            for (path, fetch) in KernelPath::available().into_iter().flat_map(|p| fetches.map(|f| (p, f))) {
                let (_, m) = matrix_on(dtype, 16, k, 1, path);
                let Kernels { one, four, pairs } = kernels(m.layout, path, fetch);
                let (a, b) = m.groups(0, pairs.then_some(1));
                let got = four(a, b, tokens);
                let got = if pairs { got } else { [got[0], four(m.group(1), &[], tokens)[0]] };
                for g in 0..2 {
                    for t in 0..4 {
                        for r in 0..ROWS {
                            let (e, v) = (expected[g][t][r], got[g][t][r]);
                            assert_eq!(e.to_bits(), v.to_bits(), "{path} ({fetch:?}) {dtype:?}: {e} vs {v}");
                        }
                        let alone = one(a, b, [tokens[t]]);
                        assert_eq!(
                            alone[0][0], got[0][t],
                            "{path} ({fetch:?}) {dtype:?}, token {t}: one token or four"
                        );
                        if pairs {
                            assert_eq!(
                                alone[1][0], got[1][t],
                                "{path} ({fetch:?}) {dtype:?}, token {t}: one token or four"
                            );
                        }
                    }
                }
                // A lone group (the last of an odd number) gives the same as within a pair.
                assert_eq!(four(m.group(1), &[], tokens)[0], got[1], "{path} ({fetch:?}) {dtype:?}");
            }
        }
    }

    #[test]
    fn every_path_gives_the_product_its_rows_would_alone() {
        // 37 rows: two pairs of row groups and a padded lone one; ten tokens: two runs of four
        // and two left over.
        let (n, k, m) = (37, 320, 10);
        for dtype in TYPES {
            let xs = values(m * k, 8);
            // Every path computes the same integers and the same float operations, in order.
            let mut reference: Option<Vec<Vec<f32>>> = None;
            for path in KernelPath::available() {
                let (_, q) = matrix_on(dtype, n, k, 7, path);
                let batch = q.forward(&Tensor::from_vec(xs.clone(), (m, k), &Device::Cpu).unwrap()).unwrap();
                let batch = batch.to_vec2::<f32>().unwrap();
                for (i, row) in batch.iter().enumerate() {
                    let x = Tensor::from_vec(xs[i * k..(i + 1) * k].to_vec(), (1, k), &Device::Cpu).unwrap();
                    let alone = q.forward(&x).unwrap().to_vec2::<f32>().unwrap();
                    assert_eq!(row, &alone[0], "{path} {dtype:?}, token {i}");
                }
                assert_eq!(reference.get_or_insert_with(|| batch.clone()), &batch, "{path} {dtype:?}");
            }
        }
    }

    #[test]
    fn rows_unpack_to_candles_values() {
        // Eleven rows: a full tile and a padded one.
        for dtype in TYPES {
            let (q, m) = matrix(dtype, 11, 64, 5);
            let ours = m.rows(&[10, 0, 3]).unwrap().to_vec2::<f32>().unwrap();
            let theirs = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(ours, vec![theirs[10].clone(), theirs[0].clone(), theirs[3].clone()], "{dtype:?}");
        }
    }

    #[test]
    fn product_matches_candle_on_the_same_weights() {
        let (n, k, m) = (40, 576, 3);
        for dtype in TYPES {
            let (q, ours) = matrix(dtype, n, k, 3);
            let x = Tensor::from_vec(values(m * k, 4), (1, m, k), &Device::Cpu).unwrap();
            let ours = ours.forward(&x).unwrap();
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
