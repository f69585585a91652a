//! What the tiled matrix kernels (`blocks`, `kquants`) share: the stored rows their tiles are built
//! from, read where they lie in the model file (`Stored`), and the product loop. Weights are
//! in tiles of eight rows, so a kernel call gives eight outputs of one token (or of four or eight
//! tokens at once). Row groups are shared among the calling thread and its helpers (`team`); a task
//! takes its tokens in runs that stay in the second-level cache while its tiles pass over
//! them, and writes its outputs in place, in `(tokens, rows)` order (or, for an MLP's stacked
//! gate and up projections, `silu(gate) × up`: `Give`). Tiles are held in memory built at load,
//! or mapped from the tile cache (`Held`).

use std::ops::{Deref, Range};
use std::sync::Arc;

use bytemuck::Pod;
use candle_core::quantized::{GgmlDType, QTensor};

use crate::error::Result;
use crate::kernels::exp::Exp;

/// Rows in a tile: the i32 or f32 lanes of a 256-bit register.
pub(crate) const ROWS: usize = 8;
/// Row groups of a parallel task, for kernels that do not take pairs (in a product that is not
/// `Give::SiluGated`).
const GROUPS_PER_TASK: usize = 2;
/// The most tokens a kernel call takes.
const MOST_TOKENS: usize = 8;
/// Activation bytes of the tokens that pass over a task's tiles together.
const RUN_BYTES: usize = 256 * 1024;

pub(crate) fn shape_error(message: String) -> crate::error::Error {
    candle_core::Error::Msg(message).into()
}

/// The little-endian f16 at byte `at` of `bytes`, as f32.
pub(crate) fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// A matrix's tiles: built at load, or mapped from a tile cache file (`decoder::tile_cache`).
pub(crate) enum Held<T> {
    Built(Vec<T>),
    Mapped { map: Arc<memmap2::Mmap>, range: Range<usize> },
}

impl<T: Pod> Held<T> {
    /// The tiles in `range` of `map`, if it holds exactly `count` of them, suitably aligned.
    pub(crate) fn mapped(map: Arc<memmap2::Mmap>, range: Range<usize>, count: usize) -> Option<Held<T>> {
        let bytes = map.get(range.clone())?;
        let tiles: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
        (tiles.len() == count).then_some(Held::Mapped { map, range })
    }

    /// The tiles' bytes, as a tile cache file holds them.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self)
    }

    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Held::Mapped { .. })
    }
}

impl<T: Pod> Deref for Held<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Held::Built(tiles) => tiles,
            // `mapped` checked the size and alignment.
            Held::Mapped { map, range } => bytemuck::cast_slice(&map[range.clone()]),
        }
    }
}

/// A quantized matrix's rows as stored, read where they lie (in the model file's map, or a
/// tensor's data) without a copy: one part, or several whose rows are stacked one after
/// another (the matrices of a stacked projection).
pub(crate) struct Stored<'a> {
    pub(crate) dtype: GgmlDType,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    parts: Vec<&'a [u8]>,
    /// The first row of each part.
    starts: Vec<usize>,
    row_bytes: usize,
}

impl<'a> Stored<'a> {
    /// The rows of `parts`, each part holding whole rows of `cols` values of type `dtype`.
    pub(crate) fn new(dtype: GgmlDType, cols: usize, parts: Vec<&'a [u8]>) -> Result<Stored<'a>> {
        let (block, block_bytes) = (dtype.block_size(), dtype.type_size());
        let row_bytes = cols / block * block_bytes;
        if !cols.is_multiple_of(block) || parts.iter().any(|p| row_bytes == 0 || p.len() % row_bytes != 0) {
            let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            return Err(shape_error(format!("{dtype:?} rows of {cols} values do not fill parts of {sizes:?} bytes")));
        }
        let mut starts = Vec::with_capacity(parts.len());
        let mut rows = 0;
        for p in &parts {
            starts.push(rows);
            rows += p.len() / row_bytes;
        }
        Ok(Stored { dtype, rows, cols, parts, starts, row_bytes })
    }

    /// What `build` makes of the rows of `t`; `None` if `t` is not a matrix.
    pub(crate) fn with_tensor<T>(t: &QTensor, build: impl FnOnce(&Stored) -> Result<Option<T>>) -> Result<Option<T>> {
        if t.rank() != 2 {
            return Ok(None);
        }
        let data = t.data()?;
        let (rows, cols) = t.shape().dims2()?;
        let stored = Stored::new(t.dtype(), cols, vec![&data])?;
        if stored.rows != rows {
            return Err(shape_error(format!("a {:?} matrix of {rows}x{cols} holds {} bytes", t.dtype(), data.len())));
        }
        build(&stored)
    }

    /// Row `r`'s bytes.
    fn row(&self, r: usize) -> &'a [u8] {
        let part = self.starts.partition_point(|&s| s <= r) - 1;
        &self.parts[part][(r - self.starts[part]) * self.row_bytes..][..self.row_bytes]
    }

    /// Block `b` of each row of row group `g` (fewer than eight for a last, short group):
    /// what one tile packs.
    pub(crate) fn group_blocks(&self, g: usize, b: usize) -> ([&'a [u8]; ROWS], usize) {
        let block_bytes = self.dtype.type_size();
        let mut out: [&[u8]; ROWS] = [&[]; ROWS];
        let group_rows = g * ROWS..((g + 1) * ROWS).min(self.rows);
        for (i, r) in group_rows.clone().enumerate() {
            out[i] = &self.row(r)[b * block_bytes..][..block_bytes];
        }
        (out, group_rows.len())
    }
}

/// Quantizes `xs` into `q` as signed bytes, each value rounded to the nearest multiple of the
/// returned scale (halves away from zero), the largest magnitude over 127 (0 for a block of
/// zeros). Written so the compiler vectorizes both loops (`f32::round` is a library call per
/// value on x86-64): the largest magnitude as the largest of the values' bits without their
/// sign, which order finite floats as their magnitudes do, and the rounding by `round_half_away`.
#[inline(always)]
pub(crate) fn quantize_block(xs: &[f32], q: &mut [i8]) -> f32 {
    let amax = f32::from_bits(xs.iter().map(|v| v.to_bits() & 0x7FFF_FFFF).max().unwrap_or(0));
    let d = amax / 127.0;
    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
    for (qv, v) in q.iter_mut().zip(xs) {
        *qv = round_half_away(v * inv) as i8;
    }
    d
}

/// Defines `$name(path)`, giving `$body` (an `#[inline(always)]` function of a row of floats)
/// compiled for `path`'s instruction set where it has one: the same operations, so the same
/// values, in wider registers. The activations' quantization before each product was compiled
/// for SSE2 alone (about 1% of a decode step on the default model).
macro_rules! compiled_per_path {
    ($name:ident, $body:ident, $out:ty) => {
        fn $name(path: crate::kernels::cpu::KernelPath) -> fn(&[f32]) -> $out {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl")]
                unsafe fn wide(xs: &[f32]) -> $out {
                    $body(xs)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn narrow(xs: &[f32]) -> $out {
                    $body(xs)
                }
                // SAFETY (both): chosen below only for a path this CPU runs; the AVX-512 path
                // needs these features, and every x86 SIMD path needs AVX2 and FMA.
                fn wide_entry(xs: &[f32]) -> $out {
                    unsafe { wide(xs) }
                }
                fn narrow_entry(xs: &[f32]) -> $out {
                    unsafe { narrow(xs) }
                }
                use crate::kernels::cpu::KernelPath as P;
                match path {
                    P::Avx512Vnni if path.supported() => return wide_entry,
                    P::AvxVnni | P::Avx2 if path.supported() => return narrow_entry,
                    _ => {}
                }
            }
            let _ = path;
            $body
        }
    };
}
pub(crate) use compiled_per_path;

/// `x.round() as i32` for `|x| < 2^22`, in operations that vectorize: adding 1.5 × 2^23 leaves
/// the nearest integer (halves to even) in the sum's low bits; a half that went to the even
/// integer nearer zero then moves one further from it.
#[inline(always)]
fn round_half_away(x: f32) -> i32 {
    const SHIFT: f32 = 12_582_912.0;
    let even = (x + SHIFT).to_bits() as i32 - SHIFT.to_bits() as i32;
    let rest = x - even as f32;
    even + (rest == 0.5 && x > 0.0) as i32 - (rest == -0.5 && x < 0.0) as i32
}

/// How the kernels ask for their tiles ahead of reading them, measured per CPU
/// (docs/performance.md, "Decode: prefetching"); chosen once for this CPU by `fetch`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fetch {
    /// Every kernel asks for the line 3 KB ahead into the first-level cache
    /// (`lanes::prefetch_ahead`): on the Xeon, decode was 1.1–1.25× as fast with it as without.
    Ahead,
    /// An AMD Zen 4 (`cpu::is_zen4`): the K-quant kernels of the `avx2` and `avxvnni` paths ask
    /// 8 KB ahead into the second-level cache (`lanes::prefetch::<true>`), the 512-bit kernels
    /// for one token ask for nothing (the hardware's prefetchers alone keep up with them, and
    /// faster: each request held one of the first-level cache's few fill buffers), and the rest
    /// ask as `Ahead` does.
    Zen4,
}

impl Fetch {
    /// Whether the `avx2` and `avxvnni` K-quant kernels ask far ahead into the second-level cache.
    pub(crate) fn far(self) -> bool {
        self == Fetch::Zen4
    }

    /// Whether the 512-bit kernels for one token ask for their tiles at all.
    pub(crate) fn wide_one_asks(self) -> bool {
        self != Fetch::Zen4
    }
}

/// How the kernels ask for their tiles on this CPU.
pub(crate) fn fetch() -> Fetch {
    static FETCH: std::sync::OnceLock<Fetch> = std::sync::OnceLock::new();
    *FETCH.get_or_init(|| if crate::kernels::cpu::is_zen4() { Fetch::Zen4 } else { Fetch::Ahead })
}

/// What one kernel call gives: for each of (up to) two row groups, each token's eight outputs.
/// A call for one group leaves the second empty.
pub(crate) type Outputs<const N: usize> = [[[f32; ROWS]; N]; 2];

/// The x86 paths as numbers, for the SIMD kernels' const parameter: which instruction adds four
/// byte products into an i32 lane.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: u8 = 0;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX_VNNI: u8 = 1;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_VNNI: u8 = 2;

/// What a product gives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Give {
    /// Every output.
    All,
    /// For a matrix whose first half of rows is an MLP's gate and second half its up
    /// projection: `silu(gate) × up`, half as many outputs, as candle's `silu` and product
    /// give them (bit for bit, while candle's `mkl` and `accelerate` features, which change its
    /// `silu`, stay off; a test in `kernels` would notice). Only with whole row groups in each
    /// half (`gates`): each task then takes a row group of the gate with the up projection's
    /// group of the same rows (as a pair where the kernels take pairs, one after the other
    /// where not), and finishes them itself, so the activation costs no pass of its own between
    /// products.
    SiluGated,
}

/// Whether a product of `rows` rows can give `Give::SiluGated`: row group `g + half` holds the
/// rows `rows / 2` below group `g`'s.
pub(crate) fn gates(rows: usize) -> bool {
    rows > 0 && rows.is_multiple_of(2 * ROWS)
}

/// The `n` outputs of each of `m` tokens of width `k` (8-bit activations, `k` bytes a token),
/// from `four(group, partner, token)`, the outputs of row group `group` (and of `partner`,
/// when given) for tokens `token..token + 4`, `eight` likewise for eight tokens (where a path's
/// kernels are faster so), and `one(group, partner, token)`, for one token; all must give a
/// token the same floats. Partners are given only when `pairs`: then row
/// group `g` of the first half of the matrix is paired with group `g + half` of the second,
/// so a thread that takes tasks in order reads two long runs of tiles, each where the last
/// call left off, and the hardware's prefetchers keep up with both (pairing neighbours `g` and
/// `g + 1` started two new runs at every call: one-token Q4_K products over 1 GB of tiles read
/// 10.1–10.8 instead of 12.2–12.5 GB/s on one core, docs/performance.md). Each token's
/// outputs one after the other: `n` of them, or `n / 2` for `Give::SiluGated` (which needs
/// `gates(n)`).
pub(crate) fn product(
    (n, m, k): (usize, usize, usize),
    pairs: bool,
    give: Give,
    exp: Exp,
    eight: Option<impl Fn(usize, Option<usize>, usize) -> Outputs<8> + Sync>,
    four: impl Fn(usize, Option<usize>, usize) -> Outputs<4> + Sync,
    one: impl Fn(usize, Option<usize>, usize) -> Outputs<1> + Sync,
) -> Result<Vec<f32>> {
    let gated = give == Give::SiluGated;
    if gated && !gates(n) {
        return Err(shape_error(format!("a product of {n} rows cannot give silu(gate) × up")));
    }
    let groups = n.div_ceil(ROWS);
    let width = if gated { n / 2 } else { n };
    let mut out: Vec<f32> = Vec::with_capacity(m * width);
    let bands = Bands { values: out.as_mut_ptr(), m, n: width };
    // Whole runs of the widest call the kernels have.
    let widest = if eight.is_some() { MOST_TOKENS } else { 4 };
    let run = (RUN_BYTES / k.max(1)).max(widest) / widest * widest;
    let half = groups.div_ceil(2);
    let paired = pairs || gated;
    let tasks = if paired { half } else { groups.div_ceil(GROUPS_PER_TASK) };
    let (eight, four, one) =
        (eight.map(|k| with_partner(pairs, k)), with_partner(pairs, four), with_partner(pairs, one));
    crate::kernels::team::run(tasks, |task| {
        // A task's row groups, each with its partner: one pair, or single groups one by one.
        let mut units = [(0, None); GROUPS_PER_TASK];
        let units = if paired {
            units[0] = (task, Some(task + half).filter(|&p| p < groups));
            &units[..1]
        } else {
            let first = task * GROUPS_PER_TASK;
            let count = GROUPS_PER_TASK.min(groups - first);
            for (i, unit) in units.iter_mut().enumerate().take(count) {
                *unit = (first + i, None);
            }
            &units[..count]
        };
        // Tokens `t..` of row group `group`, from `own`, and of `partner`, from `next`.
        let put = |group: usize, partner: Option<usize>, t: usize, own: &[[f32; ROWS]], next: &[[f32; ROWS]]| {
            if gated {
                // `gates` makes every group of the first half a gate with its up rows as partner.
                // silu as candle writes it, `x / (1 + e^-x)`, with `exp` giving the bits of
                // `f32::exp`: for all the tokens' gates in one call.
                let mut e = [[0f32; ROWS]; MOST_TOKENS];
                let e = &mut e[..own.len()];
                for (e, gate) in e.iter_mut().zip(own) {
                    *e = gate.map(|g| -g);
                }
                exp(e.as_flattened_mut());
                for (j, ((gate, up), e)) in own.iter().zip(next).zip(e.iter()).enumerate() {
                    let values: [f32; ROWS] = std::array::from_fn(|i| gate[i] / (1.0 + e[i]) * up[i]);
                    // SAFETY: this task alone writes the columns of its row groups.
                    unsafe { bands.put(t + j, group * ROWS, &values) };
                }
                return;
            }
            for (g, outputs) in std::iter::once((group, own)).chain(partner.map(|p| (p, next))) {
                let width = ROWS.min(n - g * ROWS);
                for (j, o) in outputs.iter().enumerate() {
                    // SAFETY: this task alone writes the columns of its row groups.
                    unsafe { bands.put(t + j, g * ROWS, &o[..width]) };
                }
            }
        };
        for start in (0..m).step_by(run) {
            let end = (start + run).min(m);
            for &(group, partner) in units {
                let mut t = start;
                if let Some(eight) = &eight {
                    while t + 8 <= end {
                        let o = eight(group, partner, t);
                        put(group, partner, t, &o[0], &o[1]);
                        t += 8;
                    }
                }
                while t + 4 <= end {
                    let o = four(group, partner, t);
                    put(group, partner, t, &o[0], &o[1]);
                    t += 4;
                }
                for t in t..end {
                    let o = one(group, partner, t);
                    put(group, partner, t, &o[0], &o[1]);
                }
            }
        }
    });
    // SAFETY: the tasks wrote every column (each row group is one task's) of every token.
    unsafe { out.set_len(m * width) };
    Ok(out)
}

/// `kernel`, giving a partner's outputs beside its group's also when it does not take pairs
/// (`pairs` false): then the two groups one after the other.
fn with_partner<const N: usize>(
    pairs: bool,
    kernel: impl Fn(usize, Option<usize>, usize) -> Outputs<N> + Sync,
) -> impl Fn(usize, Option<usize>, usize) -> Outputs<N> + Sync {
    move |group, partner, t| match partner {
        Some(p) if !pairs => [kernel(group, None, t)[0], kernel(p, None, t)[0]],
        _ => kernel(group, partner, t),
    }
}

/// `multiply(rows)` of an `n × k` matrix for `x` of shape `(.., k)`: its rows as one run of
/// values in, the outputs shaped as `x` with the last dimension `n` (the tests compare through
/// tensors).
#[cfg(test)]
pub(crate) fn on_tensor(
    x: &candle_core::Tensor,
    (n, k): (usize, usize),
    multiply: impl FnOnce(&[f32]) -> Result<Vec<f32>>,
) -> Result<candle_core::Tensor> {
    if x.dims().last() != Some(&k) {
        return Err(shape_error(format!("input {:?} does not match a {k}-wide matrix", x.dims())));
    }
    let xs = x.flatten_all()?.to_vec1::<f32>()?;
    let out = multiply(&xs)?;
    let mut dims = x.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Ok(candle_core::Tensor::from_vec(out, dims, &candle_core::Device::Cpu)?)
}

/// The `(m, n)` outputs of a product, written in place by tasks that each own the columns of
/// their row groups.
struct Bands {
    values: *mut f32,
    m: usize,
    n: usize,
}

// SAFETY: tasks write disjoint columns (`put`'s contract).
unsafe impl Sync for Bands {}

impl Bands {
    /// Writes `values` at token `t`, from column `col` on.
    ///
    /// # Safety
    /// No other task writes those columns.
    unsafe fn put(&self, t: usize, col: usize, values: &[f32]) {
        assert!(t < self.m && col + values.len() <= self.n, "outside the product");
        // SAFETY: in bounds (checked above) of an allocation of `m * n` values; no other task
        // writes these (the caller's contract).
        unsafe { self.values.add(t * self.n + col).copy_from_nonoverlapping(values.as_ptr(), values.len()) };
    }
}

/// The SIMD pieces both tile kernels use: 256-bit for one row group, 512-bit for two.
#[cfg(target_arch = "x86_64")]
pub(crate) mod lanes {
    use super::{Outputs, AVX512_VNNI, AVX_VNNI, ROWS};
    use std::arch::x86_64::*;

    /// Adds to each i32 lane the four products of its unsigned weight bytes and the signed
    /// activation bytes: one `vpdpbusd` with AVX-VNNI or AVX-512 VNNI (VL); on plain AVX2
    /// `maddubs` into i16 pairs and `madd`. The pairs cannot saturate as long as the weights
    /// are at most 128 (a pair at most 128 × 127 × 2), so all three give the same integers.
    #[inline(always)]
    pub(crate) unsafe fn dp<const ISA: u8>(acc: __m256i, w: __m256i, x: __m256i) -> __m256i {
        if ISA == AVX512_VNNI {
            _mm256_dpbusd_epi32(acc, w, x)
        } else if ISA == AVX_VNNI {
            _mm256_dpbusd_avx_epi32(acc, w, x)
        } else {
            _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1)))
        }
    }

    /// Four activation bytes from `p` in every lane.
    #[inline(always)]
    pub(crate) unsafe fn four_bytes(p: *const i8) -> __m256i {
        _mm256_set1_epi32(std::ptr::read_unaligned(p as *const i32))
    }

    /// Each token's eight row outputs, for one row group.
    #[inline(always)]
    pub(crate) unsafe fn outputs<const N: usize>(acc: [__m256; N]) -> Outputs<N> {
        let mut out = [[[0f32; ROWS]; N]; 2];
        for t in 0..N {
            _mm256_storeu_ps(out[0][t].as_mut_ptr(), acc[t]);
        }
        out
    }

    /// 32 bytes from `a` in the low half and 32 from `b` in the high half: the same run of
    /// two row groups' tiles, one group per half.
    #[inline(always)]
    pub(crate) unsafe fn pair(a: *const u8, b: *const u8) -> __m512i {
        _mm512_inserti64x4::<1>(
            _mm512_castsi256_si512(_mm256_loadu_si256(a as *const __m256i)),
            _mm256_loadu_si256(b as *const __m256i),
        )
    }

    /// 16 bytes from `a` in the low half and 16 from `b` in the high half: the same piece of
    /// two tiles' heads, for widening into a 512-bit register.
    #[inline(always)]
    pub(crate) unsafe fn pair_halves(a: *const u8, b: *const u8) -> __m256i {
        _mm256_inserti128_si256::<1>(
            _mm256_castsi128_si256(_mm_loadu_si128(a as *const __m128i)),
            _mm_loadu_si128(b as *const __m128i),
        )
    }

    /// Eight f16 from `a` and eight from `b` (two tiles' scales) as sixteen f32.
    #[inline(always)]
    pub(crate) unsafe fn pair_f16(a: *const u8, b: *const u8) -> __m512 {
        _mm512_cvtph_ps(pair_halves(a, b))
    }

    /// Eight bytes from `a` and eight from `b` (two tiles' per-row bytes) in one register.
    #[inline(always)]
    pub(crate) unsafe fn pair_bytes(a: *const u8, b: *const u8) -> __m128i {
        _mm_set_epi64x(std::ptr::read_unaligned(b as *const i64), std::ptr::read_unaligned(a as *const i64))
    }

    /// How far ahead of what a kernel reads it asks for the tiles to come into the cache: 2 KB
    /// was best while a K-quant tile's scales were not asked for, 3 KB since (decode 1–3%
    /// faster on the default model and 6% on smollm2; 4 KB slower, docs/performance.md).
    const PREFETCH_BYTES: usize = 3072;

    /// Asks for the cache line `PREFETCH_BYTES` after `p` in a run of tiles: called once for
    /// every 64 bytes of quants a kernel reads (every line of a Q8_0, Q5_0 or Q4_1 tile), it
    /// keeps the memory busy while the kernel computes (on the Xeon the hardware's prefetchers
    /// alone let the two take turns; on a Zen 4 they keep up with the 512-bit one-token kernels
    /// by themselves, `Fetch::Zen4`). Never faults, so the line need not exist.
    #[inline(always)]
    pub(crate) unsafe fn prefetch_ahead(p: *const u8) {
        _mm_prefetch::<_MM_HINT_T0>((p as *const i8).wrapping_add(PREFETCH_BYTES));
    }

    /// How far ahead the K-quant kernels of the `avx2` and `avxvnni` paths ask for their tiles
    /// on a Zen 4, into the second-level cache only (`prefetch::<true>`, `Fetch::Zen4`). There,
    /// forced onto the AVX2 path, the default model's decode on one thread was faster than with
    /// `prefetch_ahead` in 13 of 14 alternating rounds (medians 1.04× and 1.10× in two sets;
    /// 3 KB into the second-level cache: 0.82×; 8 KB into the first: 0.99×) and level or ahead
    /// on two (medians 1.02–1.03×); asking for nothing there was 0.90–0.98×. The 512-bit kernels,
    /// which read two runs of tiles at once, and the 256-bit Q8_0, Q5_0 and Q4_1 kernels were
    /// slower with it (0.92× and 0.95× on one thread), so they keep `prefetch_ahead` (the
    /// 512-bit ones for one token ask for nothing on a Zen 4, `Fetch::Zen4`), as do other CPUs,
    /// where this was not measured (the Zen 3, whose default path is AVX2) or the second-level
    /// hint was slower (the Xeon's AVX-512 path, docs/performance.md).
    const FAR_BYTES: usize = 8192;

    /// `prefetch_ahead` (`FAR` false), or a request for the line `FAR_BYTES` after `p` into the
    /// second-level cache (`FAR` true), which holds more requests in flight than the first
    /// does; the hardware brings the lines on into the first. Never faults.
    #[inline(always)]
    pub(crate) unsafe fn prefetch<const FAR: bool>(p: *const u8) {
        if FAR {
            _mm_prefetch::<_MM_HINT_T1>((p as *const i8).wrapping_add(FAR_BYTES));
        } else {
            prefetch_ahead(p);
        }
    }

    /// `prefetch::<FAR>` for each line of the first `bytes` from `at`: a K-quant tile's scales,
    /// which its kernel's prefetches (one per 64 bytes of quants) leave to the hardware
    /// otherwise, an eighth of a Q4_K tile's lines (a decode step 4–5% faster with them asked
    /// for, docs/performance.md), or the quants of a pair of Q6_K sub-blocks.
    #[inline(always)]
    pub(crate) unsafe fn prefetch_lines_ahead<T, const FAR: bool>(at: &T, bytes: usize) {
        for line in (0..bytes).step_by(64) {
            prefetch::<FAR>((at as *const T as *const u8).wrapping_add(line));
        }
    }

    /// Four activation bytes from `p` in every lane of a 512-bit register.
    #[inline(always)]
    pub(crate) unsafe fn four_bytes_wide(p: *const i8) -> __m512i {
        _mm512_set1_epi32(std::ptr::read_unaligned(p as *const i32))
    }

    /// Each token's sixteen row outputs, split into the two row groups.
    #[inline(always)]
    pub(crate) unsafe fn outputs_wide<const N: usize>(acc: [__m512; N]) -> Outputs<N> {
        let mut out = [[[0f32; ROWS]; N]; 2];
        for t in 0..N {
            let mut lanes = [0f32; 2 * ROWS];
            _mm512_storeu_ps(lanes.as_mut_ptr(), acc[t]);
            out[0][t].copy_from_slice(&lanes[..ROWS]);
            out[1][t].copy_from_slice(&lanes[ROWS..]);
        }
        out
    }
}

/// `n` values in [-1, 1) from a fixed seed, for the kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// `blocks` blocks of `block` activations that test a quantization: ties after scaling in the
/// first block, zeros in the second, a huge value in the last, `test_values` elsewhere.
#[cfg(test)]
pub(crate) fn quantizer_test_values(block: usize, blocks: usize) -> Vec<f32> {
    let mut xs = test_values(blocks * block, 21);
    xs[..block].iter_mut().enumerate().for_each(|(i, x)| *x = (i as f32 - (block / 2) as f32) / 2.0);
    xs[block..2 * block].fill(0.0);
    xs[(blocks - 1) * block] = 1e30;
    xs
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounding_halves_away_from_zero_matches_f32_round() {
        let mut x = -130.0f32;
        while x <= 130.0 {
            for v in
                [x, x + 0.5, x - 0.5, f32::from_bits(x.to_bits() + 1), f32::from_bits(x.to_bits().saturating_sub(1))]
            {
                assert_eq!(super::round_half_away(v), v.round() as i32, "{v}");
            }
            x += 0.123;
        }
        for v in [0.0, -0.0, 0.49999997, -0.49999997, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -127.5] {
            assert_eq!(super::round_half_away(v), v.round() as i32, "{v}");
        }
    }
}
