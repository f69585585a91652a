//! Q4_K and Q6_K weight matrices times f32 activations on the CPU, for Precis's decoder (`crate::decoder`).
//! At load, the stored 256-value super-blocks of every eight rows are interleaved into one tile:
//! for each run of 4 (Q6_K) or 8 (Q4_K) values, the eight rows' bits side by side, so one
//! 256-bit load holds the same values of eight rows (Q6_K's in two loads, its low four and high
//! two bits, unpacked to bytes in registers) and one `dpbusd` (AVX-VNNI; `maddubs` and `madd` on
//! plain AVX2) adds four products of each row into that row's lane against four activations
//! broadcast to all lanes. The output is eight rows at once, no horizontal sums;
//! a prompt's tokens go four (or eight) at a time over a tile while it is in cache. The integer
//! scales of the sub-blocks stay integers: each sub-block's sum is multiplied by its scale in i32 and
//! the super-block's total is turned into a float once; Q4_K's minimums multiply the
//! activations' sums of 32 and Q6_K's offset of 32 their sums of 16, also as integers. The
//! activations are quantized to 8 bits per 256 values. The tiles take 3% (Q4_K) and 1% (Q6_K)
//! more bytes than the stored blocks, which are not kept. A scalar version serves other CPUs
//! and is the reference in tests; a token gets the same floats alone as within a prompt.

use std::ops::Range;

use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::Result;
use crate::kernels::cpu::KernelPath;
use crate::kernels::exp::{self, Exp};
use crate::kernels::tiles::{self, f16_at, shape_error, Fetch, Give, Held, Outputs, Stored, ROWS};

/// Values in a super-block.
const SUPER: usize = 256;
/// Values per activation sum.
const GROUP: usize = 16;

/// Eight rows of a Q4_K super-block. Row `r`'s value `i` is
/// `d[r] * scales[i / 32][r] * q - dmin[r] * mins[i / 64][r][i / 32 % 2]`, where `q` is the low
/// nibble of `qs[i / 8][r][i % 8]` for `i % 8 < 4` and the high nibble of
/// `qs[i / 8][r][i % 8 - 4]` otherwise. `d` and `dmin` stay the stored f16 (bits), the scales
/// and minimums one byte each: 148 bytes a row's super-block, 4 more than stored.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct TileQ4K {
    d: [u16; ROWS],
    dmin: [u16; ROWS],
    scales: [[u8; ROWS]; 8],
    /// Minimums in pairs of sub-blocks: `[pair][row][sub-block 2 pair, 2 pair + 1]`.
    mins: [[[u8; 2]; ROWS]; 4],
    qs: [[[u8; 4]; ROWS]; 32],
}

/// Eight rows of a Q6_K super-block, six bits a value as stored. Row `r`'s value `i` is
/// `d[r] * scales[i / 16][r] * (q - 32)`: for sub-block `s = i / 16`, its run of four
/// `k = i % 16 / 4` and the value's place in the run `m = i % 4`, the low four bits of `q` are
/// nibble `k % 2` of `qs[s / 2].low[2 (s % 2) + k / 2][r][m]` and its high two bits are bits
/// `2 k` and `2 k + 1` of `qs[s / 2].high[s % 2][r][m]`. `d` is an f32 and the scales a byte
/// each: 212 bytes a row's super-block, 2 more than stored.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct TileQ6K {
    d: [f32; ROWS],
    scales: [[i8; ROWS]; 16],
    qs: [Q6Pair; 8],
}

/// Two sub-blocks' quants of eight rows in three cache lines' worth of bytes: their low four
/// bits (two runs of four a line of 32 bytes) and their high two bits (four runs a line).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Q6Pair {
    low: [[[u8; 4]; ROWS]; 4],
    high: [[[u8; 4]; ROWS]; 2],
}

/// Bytes of a tile before its quants: its scales (and minimums).
#[cfg(target_arch = "x86_64")]
const HEAD_Q4K: usize = std::mem::offset_of!(TileQ4K, qs);
#[cfg(target_arch = "x86_64")]
const HEAD_Q6K: usize = std::mem::offset_of!(TileQ6K, qs);
/// Bytes of a pair of Q6_K sub-blocks' quants, three cache lines' worth.
#[cfg(target_arch = "x86_64")]
const Q6_PAIR: usize = std::mem::size_of::<Q6Pair>();

enum Tiles {
    Q4K(Held<TileQ4K>),
    Q6K(Held<TileQ6K>),
}

/// A Q4_K or Q6_K matrix of `rows × cols` (each row is one output), in tiles: row group `g`'s
/// super-block `b` is tile `g * cols / 256 + b`. The last group is padded with zero rows.
pub struct KQuantMatrix {
    rows: usize,
    cols: usize,
    tiles: Tiles,
    kernels: Kernels,
    /// `e^x` on the same path, for `Give::SiluGated`.
    exp: Exp,
    /// The activations' quantization, compiled for the path's instruction set.
    quantize: fn(&[f32]) -> Q8K,
}

/// Activations quantized to 8 bits per super-block: per 256 values one f32 scale, and the sums
/// of their quants per 16 and per 32 values.
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Q8K {
    scales: Vec<f32>,
    sums: Vec<i16>,
    pairs: Vec<i16>,
    quants: Vec<i8>,
}

/// One token's share of `Q8K`.
#[derive(Clone, Copy)]
struct Act<'a> {
    scales: &'a [f32],
    sums: &'a [i16],
    pairs: &'a [i16],
    quants: &'a [i8],
}

impl Q8K {
    fn token(&self, i: usize, k: usize) -> Act<'_> {
        Act {
            scales: &self.scales[i * k / SUPER..(i + 1) * k / SUPER],
            sums: &self.sums[i * k / GROUP..(i + 1) * k / GROUP],
            pairs: &self.pairs[i * k / 32..(i + 1) * k / 32],
            quants: &self.quants[i * k..(i + 1) * k],
        }
    }
}

tiles::compiled_per_path!(quantizer, quantize, Q8K);

#[inline(always)]
fn quantize(xs: &[f32]) -> Q8K {
    let blocks = xs.len() / SUPER;
    let mut scales = Vec::with_capacity(blocks);
    let mut sums = Vec::with_capacity(xs.len() / GROUP);
    let mut quants = vec![0i8; xs.len()];
    for (block, q) in xs.chunks_exact(SUPER).zip(quants.chunks_exact_mut(SUPER)) {
        scales.push(tiles::quantize_block(block, q));
        sums.extend(q.chunks_exact(GROUP).map(|g| g.iter().map(|&v| v as i16).sum::<i16>()));
    }
    let pairs = sums.chunks_exact(2).map(|p| p[0] + p[1]).collect();
    Q8K { scales, sums, pairs, quants }
}

/// A Q4_K super-block's eight 6-bit scales and eight 6-bit minimums, one byte each. The first
/// four of each sit in the low six bits of bytes 0..4 (scales) and 4..8 (minimums); the last
/// four take their low four bits from bytes 8..12 (scales low nibbles, minimums high nibbles)
/// and their top two from the top bits of bytes 0..4 (scales) and 4..8 (minimums).
fn q4k_scales(packed: &[u8]) -> ([u8; 8], [u8; 8]) {
    let word = |i: usize| u32::from_le_bytes([packed[4 * i], packed[4 * i + 1], packed[4 * i + 2], packed[4 * i + 3]]);
    let (w0, w1, w2) = (word(0), word(1), word(2));
    const SIX: u32 = 0x3F3F_3F3F;
    const FOUR: u32 = 0x0F0F_0F0F;
    const TWO: u32 = 0x0303_0303;
    let scales = [w0 & SIX, (w2 & FOUR) | (((w0 >> 6) & TWO) << 4)];
    let mins = [w1 & SIX, ((w2 >> 4) & FOUR) | (((w1 >> 6) & TWO) << 4)];
    let bytes = |pair: [u32; 2]| {
        let (a, b) = (pair[0].to_le_bytes(), pair[1].to_le_bytes());
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
    };
    (bytes(scales), bytes(mins))
}

/// The 256 quants of a stored Q6_K super-block (0..64, before the offset of 32). Each half of
/// 128 values uses 64 low-nibble bytes and 32 high-bit bytes: value `32i + l` of the half
/// (i = 0..4) takes nibble `i / 2` of low byte `l + 32 (i % 2)` and bits `2i, 2i + 1` of high
/// byte `l`.
fn q6k_quants(block: &[u8]) -> [u8; SUPER] {
    let mut values = [0u8; SUPER];
    for half in 0..2 {
        let (low, high) = (&block[64 * half..][..64], &block[128 + 32 * half..][..32]);
        for l in 0..32 {
            for i in 0..4 {
                let byte = low[l + 32 * (i % 2)];
                let nibble = if i < 2 { byte & 0x0F } else { byte >> 4 };
                values[128 * half + 32 * i + l] = nibble | (((high[l] >> (2 * i)) & 3) << 4);
            }
        }
    }
    values
}

impl TileQ4K {
    /// The tile of eight stored super-blocks (fewer for the last rows: the rest stay zero).
    fn pack(blocks: &[&[u8]]) -> TileQ4K {
        let mut tile = TileQ4K {
            d: [0; ROWS],
            dmin: [0; ROWS],
            scales: [[0; ROWS]; 8],
            mins: [[[0; 2]; ROWS]; 4],
            qs: [[[0; 4]; ROWS]; 32],
        };
        for (r, block) in blocks.iter().enumerate() {
            tile.d[r] = u16::from_le_bytes([block[0], block[1]]);
            tile.dmin[r] = u16::from_le_bytes([block[2], block[3]]);
            let (scales, mins) = q4k_scales(&block[4..16]);
            for sub in 0..8 {
                tile.scales[sub][r] = scales[sub];
                tile.mins[sub / 2][r][sub % 2] = mins[sub];
            }
            // Run g's values sit in the low (or high) nibbles of eight stored bytes: those of
            // 32-byte chunk g / 8, from byte 8 (g % 4); low nibbles for g % 8 < 4.
            for g in 0..32 {
                let src = &block[16 + 32 * (g / 8) + 8 * (g % 4)..][..8];
                tile.qs[g][r] = if g % 8 < 4 {
                    std::array::from_fn(|j| (src[j] & 0x0F) | (src[j + 4] << 4))
                } else {
                    std::array::from_fn(|j| (src[j] >> 4) | (src[j + 4] & 0xF0))
                };
            }
        }
        tile
    }

    /// Row `r`'s scale of the whole super-block and of its minimums.
    fn d_dmin(&self, r: usize) -> (f32, f32) {
        (half::f16::from_bits(self.d[r]).to_f32(), half::f16::from_bits(self.dmin[r]).to_f32())
    }

    /// Row `r`'s quant `i` (0..16).
    fn quant(&self, r: usize, i: usize) -> u8 {
        let byte = self.qs[i / 8][r][i % 4];
        if i % 8 < 4 {
            byte & 0x0F
        } else {
            byte >> 4
        }
    }

    /// Row `r`'s 256 values.
    fn values(&self, r: usize) -> impl Iterator<Item = f32> + '_ {
        (0..SUPER).map(move |i| {
            let ((d, dmin), sub, min) = (self.d_dmin(r), i / 32, self.mins[i / 64][r][i / 32 % 2]);
            d * self.scales[sub][r] as f32 * self.quant(r, i) as f32 - dmin * min as f32
        })
    }
}

impl TileQ6K {
    fn pack(blocks: &[&[u8]]) -> TileQ6K {
        let mut tile = TileQ6K { d: [0.0; ROWS], scales: [[0; ROWS]; 16], qs: bytemuck::Zeroable::zeroed() };
        for (r, block) in blocks.iter().enumerate() {
            tile.d[r] = f16_at(block, 208);
            for (sub, &s) in block[192..208].iter().enumerate() {
                tile.scales[sub][r] = s as i8;
            }
            // A run of four quants at a time, as the bytes of a u32 (shifts and masks that stay
            // within each byte): faster to build than value by value (first load of the default
            // model 0.94-1.05 s against 1.23-1.37 s on the Zen 4).
            for (g, run) in q6k_quants(block).chunks_exact(4).enumerate() {
                let (pair, half, k) = (g / 8, g / 4 % 2, g % 4);
                let q = u32::from_le_bytes(run.try_into().expect("runs of four"));
                let low = &mut tile.qs[pair].low[2 * half + k / 2][r];
                *low = (u32::from_le_bytes(*low) | (q & 0x0F0F_0F0F) << (4 * (k % 2))).to_le_bytes();
                let high = &mut tile.qs[pair].high[half][r];
                *high = (u32::from_le_bytes(*high) | (q >> 4 & 0x0303_0303) << (2 * k)).to_le_bytes();
            }
        }
        tile
    }

    /// Row `r`'s quant `i` (0..64, before the offset of 32).
    fn quant(&self, r: usize, i: usize) -> u8 {
        let (pair, half, k, m) = (i / 32, i / 16 % 2, i % 16 / 4, i % 4);
        let low = self.qs[pair].low[2 * half + k / 2][r][m] >> (4 * (k % 2)) & 0x0F;
        let high = self.qs[pair].high[half][r][m] >> (2 * k) & 3;
        low | high << 4
    }

    fn values(&self, r: usize) -> impl Iterator<Item = f32> + '_ {
        (0..SUPER).map(move |i| {
            let q = self.quant(r, i) as i32 - 32;
            self.d[r] * self.scales[i / GROUP][r] as f32 * q as f32
        })
    }
}

impl KQuantMatrix {
    /// The matrix of stored Q4_K or Q6_K rows, multiplied on `path`'s kernels; `None` for
    /// other types.
    pub(crate) fn from_stored(s: &Stored, path: KernelPath) -> Result<Option<KQuantMatrix>> {
        let q4k = match s.dtype {
            GgmlDType::Q4K => true,
            GgmlDType::Q6K => false,
            _ => return Ok(None),
        };
        let (rows, cols) = (s.rows, s.cols);
        let blocks = cols / SUPER;
        let groups = rows.div_ceil(ROWS);
        let tiles = (0..groups * blocks).into_par_iter().map(|i| s.group_blocks(i / blocks, i % blocks));
        let tiles = if q4k {
            Tiles::Q4K(Held::Built(tiles.map(|(s, n)| TileQ4K::pack(&s[..n])).collect()))
        } else {
            Tiles::Q6K(Held::Built(tiles.map(|(s, n)| TileQ6K::pack(&s[..n])).collect()))
        };
        let kernels = kernels(&tiles, path, crate::kernels::tiles::fetch());
        Ok(Some(KQuantMatrix { rows, cols, tiles, kernels, exp: exp::for_path(path), quantize: quantizer(path) }))
    }

    /// The matrix of `rows × cols` values of type `dtype` whose tiles lie in `range` of `map`
    /// (a tile cache file), multiplied on `path`'s kernels; `None` if the type is not Q4_K or
    /// Q6_K or the range does not hold exactly the tiles of such a matrix.
    pub(crate) fn mapped(
        dtype: GgmlDType,
        (rows, cols): (usize, usize),
        map: std::sync::Arc<memmap2::Mmap>,
        range: Range<usize>,
        path: KernelPath,
    ) -> Option<KQuantMatrix> {
        if cols == 0 || !cols.is_multiple_of(SUPER) {
            return None;
        }
        let count = rows.div_ceil(ROWS).checked_mul(cols / SUPER)?;
        let tiles = match dtype {
            GgmlDType::Q4K => Tiles::Q4K(Held::mapped(map, range, count)?),
            GgmlDType::Q6K => Tiles::Q6K(Held::mapped(map, range, count)?),
            _ => return None,
        };
        let kernels = kernels(&tiles, path, crate::kernels::tiles::fetch());
        Some(KQuantMatrix { rows, cols, tiles, kernels, exp: exp::for_path(path), quantize: quantizer(path) })
    }

    /// The block type, rows and columns.
    pub(crate) fn shape(&self) -> (GgmlDType, usize, usize) {
        let dtype = if matches!(self.tiles, Tiles::Q4K(_)) { GgmlDType::Q4K } else { GgmlDType::Q6K };
        (dtype, self.rows, self.cols)
    }

    /// The tiles, as bytes.
    pub(crate) fn tile_bytes(&self) -> &[u8] {
        match &self.tiles {
            Tiles::Q4K(t) => t.as_bytes(),
            Tiles::Q6K(t) => t.as_bytes(),
        }
    }

    /// Whether the tiles are mapped from a tile cache file.
    pub(crate) fn is_mapped(&self) -> bool {
        match &self.tiles {
            Tiles::Q4K(t) => t.is_mapped(),
            Tiles::Q6K(t) => t.is_mapped(),
        }
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
        let blocks = k / SUPER;
        let Kernels { one, four, eight, pairs } = self.kernels;
        let (act, tiles) = (&act, &self.tiles);
        // `kernel` on row group `g`'s tiles (and its partner's, else none) for tokens `t..`.
        fn call<'a, const N: usize>(
            kernel: Kernel<N>,
            tiles: &'a Tiles,
            act: &'a Q8K,
            (k, blocks): (usize, usize),
        ) -> impl Fn(usize, Option<usize>, usize) -> Outputs<N> + Sync + 'a {
            move |g, partner, t| {
                let second = partner.map_or(0..0, |p| p * blocks..(p + 1) * blocks);
                kernel(tiles, g * blocks..(g + 1) * blocks, second, std::array::from_fn(|j| act.token(t + j, k)))
            }
        }
        let shape = (k, blocks);
        tiles::product(
            (self.rows, m, k),
            pairs,
            give,
            self.exp,
            eight.map(|eight| call(eight, tiles, act, shape)),
            call(four, tiles, act, shape),
            call(one, tiles, act, shape),
        )
    }

    /// Bytes of the tiles, what one product reads.
    pub fn bytes(&self) -> usize {
        match &self.tiles {
            Tiles::Q4K(t) => std::mem::size_of_val(&**t),
            Tiles::Q6K(t) => std::mem::size_of_val(&**t),
        }
    }

    /// Rows `ids` expanded to f32, `(ids.len(), cols)`: the lookup of a token table.
    pub fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        let blocks = self.cols / SUPER;
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for &id in ids {
            let row = id as usize;
            if row >= self.rows {
                return Err(shape_error(format!("token {row} is outside the table of {} rows", self.rows)));
            }
            let tiles = row / ROWS * blocks..(row / ROWS + 1) * blocks;
            match &self.tiles {
                Tiles::Q4K(t) => t[tiles].iter().for_each(|tile| out.extend(tile.values(row % ROWS))),
                Tiles::Q6K(t) => t[tiles].iter().for_each(|tile| out.extend(tile.values(row % ROWS))),
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), self.cols), &Device::Cpu)?)
    }
}

/// One row group's tiles (a range of tile indices), and a second group's (or an empty range),
/// against `N` tokens: their eight outputs each, per group.
type Kernel<const N: usize> = fn(&Tiles, Range<usize>, Range<usize>, [Act; N]) -> Outputs<N>;

/// A path's kernels for one tile type; `pairs` when they take two row groups at once. `eight`
/// where eight tokens at a time are faster than four: with the tiles in the second-level
/// cache, on the Zen 4 (`AMD EPYC`, family 25 model 17), the 512-bit Q4_K kernel multiplied
/// 158 → 166 GMAC/s and Q6_K 137 → 157, the 256-bit Q4_K one on plain AVX2 118 → 122, while
/// its Q6_K one is no faster with eight (96 against 96) and keeps four (all with a Q6_K value
/// in a byte, before the six-bit tiles). Unmeasured on AVX-VNNI, which keeps four.
#[derive(Clone, Copy)]
struct Kernels {
    one: Kernel<1>,
    four: Kernel<4>,
    eight: Option<Kernel<8>>,
    pairs: bool,
}

/// The kernels of `path` for `tiles`, asking for the tiles as `fetch` says: those of the
/// `avx2` and `avxvnni` paths with `tiles::lanes::prefetch::<far>`, those of `avx512vnni` (two
/// runs of tiles at once, and a lone last run on the 256-bit kernels) as `prefetch_ahead`
/// does, or for one token not at all where `fetch` says so.
fn kernels(tiles: &Tiles, path: KernelPath, fetch: Fetch) -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernels::tiles::{AVX2, AVX_VNNI};
        let q4k = matches!(tiles, Tiles::Q4K(_));
        // `$eight`: the Q4_K kernel for eight tokens, where the path has one.
        macro_rules! narrow {
            ($isa:expr, $far:expr, $eight:expr) => {
                if q4k {
                    let (one, four) = (avx2::q4k::<1, $isa, $far>, avx2::q4k::<4, $isa, $far>);
                    Kernels { one, four, eight: $eight, pairs: false }
                } else {
                    let (one, four) = (avx2::q6k::<1, $isa, $far>, avx2::q6k::<4, $isa, $far>);
                    Kernels { one, four, eight: None, pairs: false }
                }
            };
        }
        let (far, ask) = (fetch.far(), fetch.wide_one_asks());
        match path {
            KernelPath::Avx512Vnni if q4k => {
                let one = if ask { avx512::q4k::<1, true> } else { avx512::q4k::<1, false> };
                let (four, eight) = (avx512::q4k::<4, true>, avx512::q4k::<8, true>);
                return Kernels { one, four, eight: Some(eight), pairs: true };
            }
            KernelPath::Avx512Vnni => {
                let one = if ask { avx512::q6k::<1, true> } else { avx512::q6k::<1, false> };
                let (four, eight) = (avx512::q6k::<4, true>, avx512::q6k::<8, true>);
                return Kernels { one, four, eight: Some(eight), pairs: true };
            }
            KernelPath::AvxVnni if far => return narrow!(AVX_VNNI, true, None),
            KernelPath::AvxVnni => return narrow!(AVX_VNNI, false, None),
            KernelPath::Avx2 if far => return narrow!(AVX2, true, Some(avx2::q4k::<8, AVX2, true>)),
            KernelPath::Avx2 => return narrow!(AVX2, false, Some(avx2::q4k::<8, AVX2, false>)),
            KernelPath::Portable => {}
        }
    }
    let _ = (tiles, path, fetch);
    Kernels { one: scalar::<1>, four: scalar::<4>, eight: None, pairs: false }
}

/// The reference product, in the order of the SIMD kernels: per super-block and row, each
/// sub-block's exact integer sum times its integer scale, summed in i32 (Q6_K: less 32 times
/// the activations' sum per 16; Q4_K: the minimums times the activations' sums of 32 apart),
/// then scaled in f32.
fn scalar<const N: usize>(tiles: &Tiles, range: Range<usize>, second: Range<usize>, a: [Act; N]) -> Outputs<N> {
    let second = if second.is_empty() { [[0.0; ROWS]; N] } else { scalar_group(tiles, second, a) };
    [scalar_group(tiles, range, a), second]
}

fn scalar_group<const N: usize>(tiles: &Tiles, range: Range<usize>, a: [Act; N]) -> [[f32; ROWS]; N] {
    let mut out = [[0f32; ROWS]; N];
    for (t, a) in a.iter().enumerate() {
        for (b, tile_index) in range.clone().enumerate() {
            let x = &a.quants[b * SUPER..(b + 1) * SUPER];
            for r in 0..ROWS {
                let (dot, d, min_term) = match tiles {
                    Tiles::Q4K(tiles) => {
                        let tile = &tiles[tile_index];
                        let mut dot = 0i32;
                        for sub in 0..8 {
                            let sum: i32 =
                                (32 * sub..32 * (sub + 1)).map(|i| tile.quant(r, i) as i32 * x[i] as i32).sum();
                            dot += sum * tile.scales[sub][r] as i32;
                        }
                        let min_dot: i32 =
                            (0..8).map(|sub| tile.mins[sub / 2][r][sub % 2] as i32 * a.pairs[b * 8 + sub] as i32).sum();
                        let (d, dmin) = tile.d_dmin(r);
                        (dot, d, dmin * a.scales[b] * min_dot as f32)
                    }
                    Tiles::Q6K(tiles) => {
                        let tile = &tiles[tile_index];
                        let mut dot = 0i32;
                        for sub in 0..16 {
                            let sum: i32 =
                                (16 * sub..16 * (sub + 1)).map(|i| tile.quant(r, i) as i32 * x[i] as i32).sum();
                            dot += (sum - 32 * a.sums[b * 16 + sub] as i32) * tile.scales[sub][r] as i32;
                        }
                        (dot, tile.d[r], 0.0)
                    }
                };
                out[t][r] += d * a.scales[b] * dot as f32;
                out[t][r] -= min_term;
            }
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The tile products on 256-bit registers for `N` tokens at once, one row group per call:
    //! `ISA` says which instruction adds the byte products (`tiles::lanes::dp`). Each i32 lane
    //! is one row of the tile.

    use super::{Act, Tiles, ROWS, SUPER};
    use super::{HEAD_Q4K, HEAD_Q6K, Q6_PAIR};
    use crate::kernels::tiles::lanes::{dp, four_bytes, outputs, prefetch, prefetch_lines_ahead};
    use crate::kernels::tiles::{Outputs, AVX2, AVX512_VNNI, AVX_VNNI};
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// Checks that `range` lies in `tiles` and the activations hold its super-blocks.
    pub(super) fn check<const N: usize>(tiles: usize, range: &Range<usize>, a: &[Act; N]) {
        let blocks = range.len();
        assert!(range.end <= tiles);
        assert!(a.iter().all(|a| a.scales.len() >= blocks
            && a.sums.len() >= blocks * 16
            && a.pairs.len() >= blocks * 8
            && a.quants.len() >= blocks * SUPER));
    }

    /// One row group (`range`; `second` must be empty).
    pub fn q4k<const N: usize, const ISA: u8, const FAR: bool>(
        tiles: &Tiles,
        range: Range<usize>,
        second: Range<usize>,
        a: [Act; N],
    ) -> Outputs<N> {
        debug_assert!(second.is_empty());
        let Tiles::Q4K(tiles) = tiles else { unreachable!("chosen for Q4_K tiles") };
        check(tiles.len(), &range, &a);
        let tiles = &tiles[range];
        // SAFETY: `kernels` chooses `ISA` only for a path whose features `KernelPath::supported`
        // found on this CPU; the indices are in bounds (checked above).
        unsafe {
            match ISA {
                AVX512_VNNI => q4k_avx512::<N, FAR>(tiles, a),
                AVX_VNNI => q4k_vnni::<N, FAR>(tiles, a),
                _ => q4k_avx2::<N, FAR>(tiles, a),
            }
        }
    }

    /// One row group (`range`; `second` must be empty).
    pub fn q6k<const N: usize, const ISA: u8, const FAR: bool>(
        tiles: &Tiles,
        range: Range<usize>,
        second: Range<usize>,
        a: [Act; N],
    ) -> Outputs<N> {
        debug_assert!(second.is_empty());
        let Tiles::Q6K(tiles) = tiles else { unreachable!("chosen for Q6_K tiles") };
        check(tiles.len(), &range, &a);
        let tiles = &tiles[range];
        // SAFETY: as for `q4k`.
        unsafe {
            match ISA {
                AVX512_VNNI => q6k_avx512::<N, FAR>(tiles, a),
                AVX_VNNI => q6k_vnni::<N, FAR>(tiles, a),
                _ => q6k_avx2::<N, FAR>(tiles, a),
            }
        }
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    unsafe fn q4k_avx512<const N: usize, const FAR: bool>(tiles: &[super::TileQ4K], a: [Act; N]) -> Outputs<N> {
        q4k_body::<N, AVX512_VNNI, FAR>(tiles, a)
    }

    #[target_feature(enable = "avx2,fma,f16c,avxvnni")]
    unsafe fn q4k_vnni<const N: usize, const FAR: bool>(tiles: &[super::TileQ4K], a: [Act; N]) -> Outputs<N> {
        q4k_body::<N, AVX_VNNI, FAR>(tiles, a)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q4k_avx2<const N: usize, const FAR: bool>(tiles: &[super::TileQ4K], a: [Act; N]) -> Outputs<N> {
        q4k_body::<N, AVX2, FAR>(tiles, a)
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
    unsafe fn q6k_avx512<const N: usize, const FAR: bool>(tiles: &[super::TileQ6K], a: [Act; N]) -> Outputs<N> {
        q6k_body::<N, AVX512_VNNI, FAR>(tiles, a)
    }

    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn q6k_vnni<const N: usize, const FAR: bool>(tiles: &[super::TileQ6K], a: [Act; N]) -> Outputs<N> {
        q6k_body::<N, AVX_VNNI, FAR>(tiles, a)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn q6k_avx2<const N: usize, const FAR: bool>(tiles: &[super::TileQ6K], a: [Act; N]) -> Outputs<N> {
        q6k_body::<N, AVX2, FAR>(tiles, a)
    }

    #[inline(always)]
    unsafe fn q4k_body<const N: usize, const ISA: u8, const FAR: bool>(
        tiles: &[super::TileQ4K],
        a: [Act; N],
    ) -> Outputs<N> {
        let low = _mm256_set1_epi8(0x0F);
        let mut acc = [_mm256_setzero_ps(); N];
        for (b, tile) in tiles.iter().enumerate() {
            prefetch_lines_ahead::<_, FAR>(tile, HEAD_Q4K);
            let mut dots = [_mm256_setzero_si256(); N];
            for sub in 0..8 {
                // Plain AVX2 keeps a sub-block's byte products in i16 (eight `maddubs` pair sums
                // of at most 2 × 15 × 127 each stay below 2^15) and multiplies them by the scale
                // with one `madd`, the scale in both halves of each row's lane; the VNNI paths
                // sum in i32 and multiply after. The integers are the same.
                let scale = _mm256_cvtepu8_epi32(_mm_loadl_epi64(tile.scales[sub].as_ptr() as *const __m128i));
                let mut sums = [_mm256_setzero_si256(); N];
                for g4 in 0..4 {
                    let g = 4 * sub + g4;
                    if g % 2 == 0 {
                        prefetch::<FAR>(tile.qs[g].as_ptr() as *const u8);
                    }
                    let w = _mm256_loadu_si256(tile.qs[g].as_ptr() as *const __m256i);
                    let lo = _mm256_and_si256(w, low);
                    let hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low);
                    for t in 0..N {
                        let x = a[t].quants.as_ptr().add(b * SUPER + 8 * g);
                        if ISA == AVX2 {
                            sums[t] = _mm256_add_epi16(sums[t], _mm256_maddubs_epi16(lo, four_bytes(x)));
                            sums[t] = _mm256_add_epi16(sums[t], _mm256_maddubs_epi16(hi, four_bytes(x.add(4))));
                        } else {
                            sums[t] = dp::<ISA>(sums[t], lo, four_bytes(x));
                            sums[t] = dp::<ISA>(sums[t], hi, four_bytes(x.add(4)));
                        }
                    }
                }
                for t in 0..N {
                    let scaled = if ISA == AVX2 {
                        _mm256_madd_epi16(sums[t], _mm256_or_si256(scale, _mm256_slli_epi32(scale, 16)))
                    } else {
                        _mm256_mullo_epi32(sums[t], scale)
                    };
                    dots[t] = _mm256_add_epi32(dots[t], scaled);
                }
            }
            let d = _mm256_cvtph_ps(_mm_loadu_si128(tile.d.as_ptr() as *const __m128i));
            let dmin = _mm256_cvtph_ps(_mm_loadu_si128(tile.dmin.as_ptr() as *const __m128i));
            let mins: [__m256i; 4] =
                std::array::from_fn(|p| _mm256_cvtepu8_epi16(_mm_loadu_si128(tile.mins[p].as_ptr() as *const __m128i)));
            for t in 0..N {
                // Each row's minimums times the activations' sums of 32: pairs of sub-blocks
                // through `madd`.
                let pairs = a[t].pairs.as_ptr().add(8 * b);
                let mut min_dot = _mm256_setzero_si256();
                for (p, &mins) in mins.iter().enumerate() {
                    let sums = _mm256_set1_epi32(std::ptr::read_unaligned(pairs.add(2 * p) as *const i32));
                    min_dot = _mm256_add_epi32(min_dot, _mm256_madd_epi16(mins, sums));
                }
                let ad = _mm256_set1_ps(*a[t].scales.get_unchecked(b));
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(d, ad), _mm256_cvtepi32_ps(dots[t])));
                acc[t] = _mm256_sub_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(dmin, ad), _mm256_cvtepi32_ps(min_dot)));
            }
        }
        outputs(acc)
    }

    #[inline(always)]
    unsafe fn q6k_body<const N: usize, const ISA: u8, const FAR: bool>(
        tiles: &[super::TileQ6K],
        a: [Act; N],
    ) -> Outputs<N> {
        let mut acc = [_mm256_setzero_ps(); N];
        for (b, tile) in tiles.iter().enumerate() {
            prefetch_lines_ahead::<_, FAR>(tile, HEAD_Q6K);
            let mut dots = [_mm256_setzero_si256(); N];
            if ISA == AVX2 {
                // Plain AVX2 adds two `maddubs` in i16 (a pair sum is at most 2 × 63 × 127, two
                // of them below 2^15) and multiplies by the scale with `madd`, each row's scale
                // in both halves of its lane, where the VNNI paths sum in i32 and multiply by
                // `mullo` after. The quants are 32 too high: less 32 times each sub-block's scale
                // times the activations' sum of 16, taken for the whole tile at the end, two
                // sub-blocks a `madd`. The integers are the same.
                for sub in 0..16 {
                    let pair = &tile.qs[sub / 2];
                    if sub % 2 == 0 {
                        prefetch_lines_ahead::<_, FAR>(pair, Q6_PAIR);
                    }
                    let s = _mm_loadl_epi64(tile.scales[sub].as_ptr() as *const __m128i);
                    let scale2 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s, s));
                    let high = load(&pair.high[sub % 2]);
                    for half in 0..2 {
                        let g = 4 * sub + 2 * half;
                        let low = load(&pair.low[2 * (sub % 2) + half]);
                        let [w0, w1] = q6k_runs(low, high, half);
                        for t in 0..N {
                            let x = a[t].quants.as_ptr().add(b * SUPER + 4 * g);
                            let pairs = _mm256_add_epi16(
                                _mm256_maddubs_epi16(w0, four_bytes(x)),
                                _mm256_maddubs_epi16(w1, four_bytes(x.add(4))),
                            );
                            dots[t] = _mm256_add_epi32(dots[t], _mm256_madd_epi16(pairs, scale2));
                        }
                    }
                }
                let mut offsets = [_mm256_setzero_si256(); N];
                for p in 0..8 {
                    // Sub-blocks 2p and 2p + 1: each row's two scales in the halves of its lane,
                    // against the activations' two sums of 16 in the halves of every lane.
                    let s = _mm_loadu_si128(tile.scales[2 * p..].as_ptr() as *const __m128i);
                    let scales = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s, _mm_srli_si128::<8>(s)));
                    for t in 0..N {
                        let sums = a[t].sums.as_ptr().add(16 * b + 2 * p) as *const i32;
                        let sums = _mm256_set1_epi32(std::ptr::read_unaligned(sums));
                        offsets[t] = _mm256_add_epi32(offsets[t], _mm256_madd_epi16(scales, sums));
                    }
                }
                for t in 0..N {
                    dots[t] = _mm256_sub_epi32(dots[t], _mm256_slli_epi32(offsets[t], 5));
                }
            } else {
                for sub in 0..16 {
                    let pair = &tile.qs[sub / 2];
                    if sub % 2 == 0 {
                        prefetch_lines_ahead::<_, FAR>(pair, Q6_PAIR);
                    }
                    let scale = _mm256_cvtepi8_epi32(_mm_loadl_epi64(tile.scales[sub].as_ptr() as *const __m128i));
                    let high = load(&pair.high[sub % 2]);
                    let mut sums = [_mm256_setzero_si256(); N];
                    for half in 0..2 {
                        let low = load(&pair.low[2 * (sub % 2) + half]);
                        for (j, w) in q6k_runs(low, high, half).into_iter().enumerate() {
                            let g = 4 * sub + 2 * half + j;
                            for t in 0..N {
                                let x = four_bytes(a[t].quants.as_ptr().add(b * SUPER + 4 * g));
                                sums[t] = dp::<ISA>(sums[t], w, x);
                            }
                        }
                    }
                    for t in 0..N {
                        // The quants are 32 too high: less 32 times the activations' sum.
                        let offset = _mm256_set1_epi32(32 * *a[t].sums.get_unchecked(16 * b + sub) as i32);
                        dots[t] =
                            _mm256_add_epi32(dots[t], _mm256_mullo_epi32(_mm256_sub_epi32(sums[t], offset), scale));
                    }
                }
            }
            let d = _mm256_loadu_ps(tile.d.as_ptr());
            for t in 0..N {
                let ad = _mm256_set1_ps(*a[t].scales.get_unchecked(b));
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(d, ad), _mm256_cvtepi32_ps(dots[t])));
            }
        }
        outputs(acc)
    }

    /// A line of 32 bytes of a tile.
    #[inline(always)]
    unsafe fn load(line: &[[u8; 4]; ROWS]) -> __m256i {
        _mm256_loadu_si256(line.as_ptr() as *const __m256i)
    }

    /// Runs `2 half` and `2 half + 1` of a Q6_K sub-block's quants, one byte each (0..64), from
    /// their line of low nibbles and the sub-block's line of high bits: each run's nibble to bits
    /// 0..4 and its high bits (bits `2k` and `2k + 1` of each byte, for run `k`) to bits 4 and
    /// 5. The 16-bit shifts carry bits across bytes, which the masks drop.
    #[inline(always)]
    unsafe fn q6k_runs(low: __m256i, high: __m256i, half: usize) -> [__m256i; 2] {
        let odd = _mm256_srli_epi16::<4>(low);
        if half == 0 {
            [run(low, _mm256_slli_epi16::<4>(high)), run(odd, _mm256_slli_epi16::<2>(high))]
        } else {
            [run(low, high), run(odd, _mm256_srli_epi16::<2>(high))]
        }
    }

    /// A run's nibble (bits 0..4 of `low`) and high bits (bits 4 and 5 of `high`) in one byte.
    #[inline(always)]
    unsafe fn run(low: __m256i, high: __m256i) -> __m256i {
        _mm256_or_si256(_mm256_and_si256(low, _mm256_set1_epi8(0x0F)), _mm256_and_si256(high, _mm256_set1_epi8(0x30)))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! The tile products on 512-bit registers for `N` tokens at once, two row groups per call:
    //! the same run of both groups' tiles fills the two halves of a register, so one
    //! `vpdpbusd` adds four products of each of sixteen rows. Lane `i` is row `i % 8` of the
    //! first group (`i < 8`) or of the second, and does what the 256-bit kernels do for its
    //! row, so the floats are the same. A lone last group goes to the 256-bit kernel with the
    //! same instructions. `ASK`: whether a kernel asks for its tiles ahead of reading them
    //! (`tiles::Fetch`).

    use super::{avx2, Act, TileQ4K, TileQ6K, Tiles, SUPER};
    use super::{HEAD_Q4K, HEAD_Q6K, Q6_PAIR};
    use crate::kernels::tiles::lanes::{
        four_bytes_wide, outputs_wide, pair, pair_bytes, pair_f16, pair_halves, prefetch_ahead, prefetch_lines_ahead,
    };
    use crate::kernels::tiles::{Outputs, AVX512_VNNI};
    use std::arch::x86_64::*;
    use std::ops::Range;

    pub fn q4k<const N: usize, const ASK: bool>(
        tiles: &Tiles,
        range: Range<usize>,
        second: Range<usize>,
        a: [Act; N],
    ) -> Outputs<N> {
        if second.is_empty() {
            return avx2::q4k::<N, AVX512_VNNI, false>(tiles, range, second, a);
        }
        let Tiles::Q4K(tiles) = tiles else { unreachable!("chosen for Q4_K tiles") };
        assert_eq!(range.len(), second.len());
        avx2::check(tiles.len(), &range, &a);
        avx2::check(tiles.len(), &second, &a);
        // SAFETY: `kernels` chooses this only for `KernelPath::Avx512Vnni`, whose features
        // `KernelPath::supported` found on this CPU; the indices are in bounds (checked above).
        unsafe { q4k_body::<N, ASK>(&tiles[range], &tiles[second], a) }
    }

    pub fn q6k<const N: usize, const ASK: bool>(
        tiles: &Tiles,
        range: Range<usize>,
        second: Range<usize>,
        a: [Act; N],
    ) -> Outputs<N> {
        if second.is_empty() {
            return avx2::q6k::<N, AVX512_VNNI, false>(tiles, range, second, a);
        }
        let Tiles::Q6K(tiles) = tiles else { unreachable!("chosen for Q6_K tiles") };
        assert_eq!(range.len(), second.len());
        avx2::check(tiles.len(), &range, &a);
        avx2::check(tiles.len(), &second, &a);
        // SAFETY: as for `q4k`.
        unsafe { q6k_body::<N, ASK>(&tiles[range], &tiles[second], a) }
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn q4k_body<const N: usize, const ASK: bool>(
        first: &[TileQ4K],
        second: &[TileQ4K],
        a: [Act; N],
    ) -> Outputs<N> {
        let low = _mm512_set1_epi8(0x0F);
        let mut acc = [_mm512_setzero_ps(); N];
        for (b, (ta, tb)) in first.iter().zip(second).enumerate() {
            if ASK {
                prefetch_lines_ahead::<_, false>(ta, HEAD_Q4K);
                prefetch_lines_ahead::<_, false>(tb, HEAD_Q4K);
            }
            let mut dots = [_mm512_setzero_si512(); N];
            for sub in 0..8 {
                let mut sums = [_mm512_setzero_si512(); N];
                for g4 in 0..4 {
                    let g = 4 * sub + g4;
                    if ASK && g % 2 == 0 {
                        prefetch_ahead(ta.qs[g].as_ptr() as *const u8);
                        prefetch_ahead(tb.qs[g].as_ptr() as *const u8);
                    }
                    let w = pair(ta.qs[g].as_ptr() as *const u8, tb.qs[g].as_ptr() as *const u8);
                    let lo = _mm512_and_si512(w, low);
                    let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(w), low);
                    for t in 0..N {
                        let x = a[t].quants.as_ptr().add(b * SUPER + 8 * g);
                        sums[t] = _mm512_dpbusd_epi32(sums[t], lo, four_bytes_wide(x));
                        sums[t] = _mm512_dpbusd_epi32(sums[t], hi, four_bytes_wide(x.add(4)));
                    }
                }
                let scale = _mm512_cvtepu8_epi32(pair_bytes(ta.scales[sub].as_ptr(), tb.scales[sub].as_ptr()));
                for t in 0..N {
                    dots[t] = _mm512_add_epi32(dots[t], _mm512_mullo_epi32(sums[t], scale));
                }
            }
            let d = pair_f16(ta.d.as_ptr() as *const u8, tb.d.as_ptr() as *const u8);
            let dmin = pair_f16(ta.dmin.as_ptr() as *const u8, tb.dmin.as_ptr() as *const u8);
            let mins: [__m512i; 4] = std::array::from_fn(|p| {
                _mm512_cvtepu8_epi16(pair_halves(ta.mins[p].as_ptr() as *const u8, tb.mins[p].as_ptr() as *const u8))
            });
            for t in 0..N {
                // Each row's minimums times the activations' sums of 32: pairs of sub-blocks
                // through `madd`.
                let pairs = a[t].pairs.as_ptr().add(8 * b);
                let mut min_dot = _mm512_setzero_si512();
                for p in 0..4 {
                    let sums = _mm512_set1_epi32(std::ptr::read_unaligned(pairs.add(2 * p) as *const i32));
                    min_dot = _mm512_add_epi32(min_dot, _mm512_madd_epi16(mins[p], sums));
                }
                let ad = _mm512_set1_ps(*a[t].scales.get_unchecked(b));
                acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(d, ad), _mm512_cvtepi32_ps(dots[t])));
                acc[t] = _mm512_sub_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(dmin, ad), _mm512_cvtepi32_ps(min_dot)));
            }
        }
        outputs_wide(acc)
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn q6k_body<const N: usize, const ASK: bool>(
        first: &[TileQ6K],
        second: &[TileQ6K],
        a: [Act; N],
    ) -> Outputs<N> {
        let mut acc = [_mm512_setzero_ps(); N];
        for (b, (ta, tb)) in first.iter().zip(second).enumerate() {
            if ASK {
                prefetch_lines_ahead::<_, false>(ta, HEAD_Q6K);
                prefetch_lines_ahead::<_, false>(tb, HEAD_Q6K);
            }
            let mut dots = [_mm512_setzero_si512(); N];
            for sub in 0..16 {
                let (pa, pb) = (&ta.qs[sub / 2], &tb.qs[sub / 2]);
                if ASK && sub % 2 == 0 {
                    prefetch_lines_ahead::<_, false>(pa, Q6_PAIR);
                    prefetch_lines_ahead::<_, false>(pb, Q6_PAIR);
                }
                let high = pair(pa.high[sub % 2].as_ptr() as *const u8, pb.high[sub % 2].as_ptr() as *const u8);
                let mut sums = [_mm512_setzero_si512(); N];
                for half in 0..2 {
                    let line = 2 * (sub % 2) + half;
                    let low = pair(pa.low[line].as_ptr() as *const u8, pb.low[line].as_ptr() as *const u8);
                    for (j, w) in q6k_runs(low, high, half).into_iter().enumerate() {
                        let g = 4 * sub + 2 * half + j;
                        for t in 0..N {
                            let x = four_bytes_wide(a[t].quants.as_ptr().add(b * SUPER + 4 * g));
                            sums[t] = _mm512_dpbusd_epi32(sums[t], w, x);
                        }
                    }
                }
                let scale = _mm512_cvtepi8_epi32(pair_bytes(
                    ta.scales[sub].as_ptr() as *const u8,
                    tb.scales[sub].as_ptr() as *const u8,
                ));
                for t in 0..N {
                    // The quants are 32 too high: less 32 times the activations' sum.
                    let offset = _mm512_set1_epi32(32 * *a[t].sums.get_unchecked(16 * b + sub) as i32);
                    dots[t] = _mm512_add_epi32(dots[t], _mm512_mullo_epi32(_mm512_sub_epi32(sums[t], offset), scale));
                }
            }
            let d = _mm512_castsi512_ps(pair(ta.d.as_ptr() as *const u8, tb.d.as_ptr() as *const u8));
            for t in 0..N {
                let ad = _mm512_set1_ps(*a[t].scales.get_unchecked(b));
                acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(d, ad), _mm512_cvtepi32_ps(dots[t])));
            }
        }
        outputs_wide(acc)
    }

    /// `avx2::q6k_runs` for two row groups' lines side by side.
    #[inline(always)]
    unsafe fn q6k_runs(low: __m512i, high: __m512i, half: usize) -> [__m512i; 2] {
        let odd = _mm512_srli_epi16::<4>(low);
        if half == 0 {
            [run(low, _mm512_slli_epi16::<4>(high)), run(odd, _mm512_slli_epi16::<2>(high))]
        } else {
            [run(low, high), run(odd, _mm512_srli_epi16::<2>(high))]
        }
    }

    /// A run's nibble (bits 0..4 of `low`) and high bits (bits 4 and 5 of `high`) in one byte.
    #[inline(always)]
    unsafe fn run(low: __m512i, high: __m512i) -> __m512i {
        _mm512_or_si512(_mm512_and_si512(low, _mm512_set1_epi8(0x0F)), _mm512_and_si512(high, _mm512_set1_epi8(0x30)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tiles::test_values as values;
    use candle_core::quantized::QTensor;

    fn matrix(dtype: GgmlDType, n: usize, k: usize, seed: u64) -> (QTensor, KQuantMatrix) {
        matrix_on(dtype, n, k, seed, KernelPath::best())
    }

    fn matrix_on(dtype: GgmlDType, n: usize, k: usize, seed: u64, path: KernelPath) -> (QTensor, KQuantMatrix) {
        let w = Tensor::from_vec(values(n * k, seed), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let m = Stored::with_tensor(&q, |s| KQuantMatrix::from_stored(s, path)).unwrap().unwrap();
        (q, m)
    }

    #[test]
    fn every_paths_quantizer_gives_the_same_activations() {
        let xs = tiles::quantizer_test_values(SUPER, 4);
        let plain = quantize(&xs);
        for path in KernelPath::available() {
            assert_eq!(quantizer(path)(&xs), plain, "{path}");
        }
    }

    #[test]
    fn rows_unpack_to_candles_values() {
        // Eleven rows: a full tile and a padded one.
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let (q, m) = matrix(dtype, 11, 512, 5);
            let ours = m.rows(&[10, 0, 3]).unwrap().to_vec2::<f32>().unwrap();
            let theirs = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(ours, vec![theirs[10].clone(), theirs[0].clone(), theirs[3].clone()], "{dtype:?}");
        }
    }

    #[test]
    fn stacked_parts_make_the_matrix_of_their_rows() {
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let (q, whole) = matrix(dtype, 21, 512, 11);
            let data = q.data().unwrap();
            let row = data.len() / 21;
            // Parts of 5, 9 and 7 rows: row groups straddle the joins.
            let parts = vec![&data[..5 * row], &data[5 * row..14 * row], &data[14 * row..]];
            let stacked = KQuantMatrix::from_stored(&Stored::new(dtype, 512, parts).unwrap(), KernelPath::best())
                .unwrap()
                .unwrap();
            let ids: Vec<u32> = (0..21).collect();
            let rows = |m: &KQuantMatrix| m.rows(&ids).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(rows(&stacked), rows(&whole), "{dtype:?}");
            assert!(Stored::new(dtype, 512, vec![&data[..row - 1]]).is_err(), "{dtype:?}: a row less a byte");
        }
    }

    #[test]
    fn every_path_gives_the_scalar_references_bits() {
        let k = 1536;
        let blocks = k / SUPER;
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let xs: Vec<f32> = (0..8)
                .flat_map(|t| {
                    let mut xs = values(k, 2 + t);
                    // The largest activation of a block quantizes to ±127.
                    xs[0] = 3.0;
                    xs[300] = -3.0;
                    xs
                })
                .collect();
            let act = quantize(&xs);
            assert!(act.quants.contains(&127) && act.quants.contains(&-127));
            let all: [Act; 8] = std::array::from_fn(|t| act.token(t, k));
            let tokens: [Act; 4] = std::array::from_fn(|t| all[t]);
            let (first, second) = (0..blocks, blocks..2 * blocks);
            // Two row groups, so the 512-bit kernels take them as a pair.
            let (_, reference) = matrix_on(dtype, 16, k, 1, KernelPath::Portable);
            let expected = scalar::<4>(&reference.tiles, first.clone(), second.clone(), tokens);
            let expected_eight = scalar::<8>(&reference.tiles, first.clone(), second.clone(), all);
            // Each path's kernels, with each way of asking for the tiles (`Fetch`; a prefetch
            // changes no result, so this checks that the variants compute alike, not which
            // lines they ask for).
            let fetches = [Fetch::Ahead, Fetch::Zen4];
            let variants = KernelPath::available().into_iter().flat_map(|p| fetches.map(|f| (p, f)));
            for (path, fetch) in variants {
                let (_, m) = matrix_on(dtype, 16, k, 1, path);
                let Kernels { one, four, eight, pairs } = kernels(&m.tiles, path, fetch);
                let b = if pairs { second.clone() } else { 0..0 };
                let got = four(&m.tiles, first.clone(), b.clone(), tokens);
                let lone = four(&m.tiles, second.clone(), 0..0, tokens)[0];
                let got = if pairs { got } else { [got[0], lone] };
                for g in 0..2 {
                    for t in 0..4 {
                        for r in 0..ROWS {
                            let (e, v) = (expected[g][t][r], got[g][t][r]);
                            assert_eq!(e.to_bits(), v.to_bits(), "{path} ({fetch:?}) {dtype:?}: {e} vs {v}");
                        }
                        let alone = one(&m.tiles, first.clone(), b.clone(), [tokens[t]]);
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
                assert_eq!(lone, got[1], "{path} ({fetch:?}) {dtype:?}");
                // Eight tokens at once give each the reference's bits, as four do.
                if let Some(eight) = eight {
                    let got = eight(&m.tiles, first.clone(), b.clone(), all);
                    let groups = if pairs { 2 } else { 1 };
                    for (g, t, r) in
                        (0..groups).flat_map(|g| (0..8).flat_map(move |t| (0..ROWS).map(move |r| (g, t, r))))
                    {
                        let (e, v) = (expected_eight[g][t][r], got[g][t][r]);
                        assert_eq!(e.to_bits(), v.to_bits(), "{path} ({fetch:?}) {dtype:?}, eight tokens: {e} vs {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_path_gives_the_product_its_rows_would_alone() {
        // 37 rows: two pairs of row groups and a padded lone one; fourteen tokens: a run of
        // eight, one of four and two left over.
        let (n, k, m) = (37, 512, 14);
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let xs = values(m * k, 8);
            // Every path computes the same integers and the same float operations, in order.
            let mut reference: Option<Vec<Vec<f32>>> = None;
            for path in KernelPath::available() {
                let (_, q) = matrix_on(dtype, n, k, 7, path);
                let batch = q.forward(&Tensor::from_vec(xs.clone(), (1, m, k), &Device::Cpu).unwrap()).unwrap();
                assert_eq!(batch.dims(), &[1, m, n]);
                let batch = batch.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
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
    fn products_are_as_close_as_candles() {
        // Both quantize the activations to 8 bits per 256 values; both are held to the product
        // of the same dequantized weights in f32.
        let (n, k, m) = (40, 768, 5);
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let (q, ours) = matrix(dtype, n, k, 3);
            let x = Tensor::from_vec(values(m * k, 4), (1, m, k), &Device::Cpu).unwrap();
            let exact = x.broadcast_matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap()).unwrap();
            let ours = ours.forward(&x).unwrap();
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
