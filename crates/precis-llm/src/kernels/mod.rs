//! Precis's tiled matrix kernels: quantized weight matrices times f32 activations on the CPU.
//! At load, the stored blocks of every eight rows are interleaved into tiles (`tiles`), so one
//! integer dot-product instruction gives four products for each of eight rows (sixteen, for
//! two tiles side by side in a 512-bit register). `blocks` holds the 32-value block types
//! (Q8_0, Q5_0, Q4_1), `kquants` the 256-value super-block types (Q4_K, Q6_K), each with a
//! kernel per instruction set; `cpu` says which of those (`KernelPath`) a matrix uses; `team`
//! shares a product's rows with helper threads that stay awake between a decode step's
//! products, `vector` has the f32 loops of one-token attention, and `exp` the exponential of
//! the MLP's activation and of attention's softmax.

pub mod blocks;
pub mod cpu;
pub(crate) mod exp;
pub mod kquants;
pub(crate) mod team;
pub(crate) mod tiles;
pub mod vector;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Tensor;

use crate::error::Result;
use blocks::BlockMatrix;
use cpu::KernelPath;
use kquants::KQuantMatrix;
use tiles::Stored;

/// Whether a matrix of this block type has tiled kernels.
pub fn has_tiles(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q8_0 | GgmlDType::Q5_0 | GgmlDType::Q4_1 | GgmlDType::Q4K | GgmlDType::Q6K)
}

/// A weight matrix on the tiled kernels: 32-value blocks or K-quant super-blocks.
pub enum TiledMatrix {
    Blocks(BlockMatrix),
    KQuants(KQuantMatrix),
}

impl TiledMatrix {
    /// The tiled form of a rank-2 tensor, multiplied on `path`'s kernels, or `None` when its
    /// block type has no tiled kernels.
    pub fn from_qtensor(t: &QTensor, path: KernelPath) -> Result<Option<TiledMatrix>> {
        if !has_tiles(t.dtype()) {
            return Ok(None);
        }
        Stored::with_tensor(t, |s| TiledMatrix::from_stored(s, path))
    }

    /// The tiled form of stored rows, multiplied on `path`'s kernels, or `None` when their
    /// block type has no tiled kernels.
    pub(crate) fn from_stored(s: &Stored, path: KernelPath) -> Result<Option<TiledMatrix>> {
        if let Some(q) = BlockMatrix::from_stored(s, path)? {
            return Ok(Some(TiledMatrix::Blocks(q)));
        }
        Ok(KQuantMatrix::from_stored(s, path)?.map(TiledMatrix::KQuants))
    }

    /// The matrix of `rows × cols` values of type `dtype` whose tiles lie in `range` of `map`,
    /// a tile cache file, multiplied on `path`'s kernels: `None` unless the range holds exactly
    /// the tiles of such a matrix.
    pub(crate) fn mapped(
        dtype: GgmlDType,
        shape: (usize, usize),
        map: std::sync::Arc<memmap2::Mmap>,
        range: std::ops::Range<usize>,
        path: KernelPath,
    ) -> Option<TiledMatrix> {
        match dtype {
            GgmlDType::Q4K | GgmlDType::Q6K => {
                KQuantMatrix::mapped(dtype, shape, map, range, path).map(TiledMatrix::KQuants)
            }
            _ => BlockMatrix::mapped(dtype, shape, map, range, path).map(TiledMatrix::Blocks),
        }
    }

    /// The stored block type, rows and columns.
    pub(crate) fn shape(&self) -> (GgmlDType, usize, usize) {
        match self {
            TiledMatrix::Blocks(q) => q.shape(),
            TiledMatrix::KQuants(k) => k.shape(),
        }
    }

    /// The tiles as bytes, as a tile cache file holds them.
    pub(crate) fn tile_bytes(&self) -> &[u8] {
        match self {
            TiledMatrix::Blocks(q) => q.tile_bytes(),
            TiledMatrix::KQuants(k) => k.tile_bytes(),
        }
    }

    /// Whether the tiles are mapped from a tile cache file (rather than built at load).
    pub(crate) fn is_mapped(&self) -> bool {
        match self {
            TiledMatrix::Blocks(q) => q.is_mapped(),
            TiledMatrix::KQuants(k) => k.is_mapped(),
        }
    }

    /// Bytes of the tiles: what one product reads.
    pub fn bytes(&self) -> usize {
        match self {
            TiledMatrix::Blocks(q) => q.bytes(),
            TiledMatrix::KQuants(k) => k.bytes(),
        }
    }

    /// `x @ w^T` for `x` of shape `(..., columns)` (the tests compare through tensors).
    #[cfg(test)]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            TiledMatrix::Blocks(q) => q.forward(x),
            TiledMatrix::KQuants(k) => k.forward(x),
        }
    }

    /// `xs @ self^T` for rows of `columns` values one after the other: as many rows of outputs.
    pub(crate) fn forward_rows(&self, xs: &[f32]) -> Result<Vec<f32>> {
        match self {
            TiledMatrix::Blocks(q) => q.multiply_rows(xs, tiles::Give::All),
            TiledMatrix::KQuants(k) => k.multiply_rows(xs, tiles::Give::All),
        }
    }

    /// `silu(x @ gate^T) × (x @ up^T)` for rows `x` of `columns` values one after the other,
    /// where the first half of this matrix's rows is `gate` and the second `up`; `None` when the
    /// halves do not fill whole row groups (`tiles::Give::SiluGated`).
    pub(crate) fn gated_rows(&self, xs: &[f32]) -> Result<Option<Vec<f32>>> {
        if !tiles::gates(self.shape().1) {
            return Ok(None);
        }
        let give = tiles::Give::SiluGated;
        match self {
            TiledMatrix::Blocks(q) => q.multiply_rows(xs, give),
            TiledMatrix::KQuants(k) => k.multiply_rows(xs, give),
        }
        .map(Some)
    }

    /// The rows `ids`, as f32, `(ids.len(), columns)`: a token table's lookup.
    pub fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        match self {
            TiledMatrix::Blocks(q) => q.rows(ids),
            TiledMatrix::KQuants(k) => k.rows(ids),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, D};

    /// On every kernel path and tiled block type: for 48 rows (three row groups a half) the
    /// gated product is candle's `silu(gate) × up` of the halves of the whole product, bit for
    /// bit, for one token, six (a run of four and single tokens) and fourteen (runs of eight,
    /// where a path's kernels take eight, and of four, and single tokens); for 40 (not whole
    /// groups in each half) there is none.
    #[test]
    fn a_gated_product_is_candles_silu_of_the_gate_times_up() {
        let bits = |t: &Tensor| {
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_1, GgmlDType::Q4K, GgmlDType::Q6K] {
            for path in KernelPath::available() {
                for rows in [48, 40] {
                    let w = Tensor::from_vec(tiles::test_values(rows * 512, 3), (rows, 512), &Device::Cpu).unwrap();
                    let q = QTensor::quantize(&w, dtype).unwrap();
                    let m = TiledMatrix::from_qtensor(&q, path).unwrap().unwrap();
                    for tokens in [1, 6, 14] {
                        let x = Tensor::from_vec(tiles::test_values(tokens * 512, 9), (1, tokens, 512), &Device::Cpu)
                            .unwrap();
                        let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                        let Some(got) = m.gated_rows(&xs).unwrap() else {
                            assert!(!tiles::gates(rows), "{path} {dtype:?}: {rows} rows: no gated product");
                            continue;
                        };
                        assert!(tiles::gates(rows), "{path} {dtype:?}: {rows} rows");
                        let all = m.forward(&x).unwrap();
                        let half = rows / 2;
                        let gate = all.narrow(D::Minus1, 0, half).unwrap();
                        let up = all.narrow(D::Minus1, half, half).unwrap();
                        let want = (candle_nn::ops::silu(&gate).unwrap() * up).unwrap();
                        let got = Tensor::from_vec(got, (1, tokens, half), &Device::Cpu).unwrap();
                        assert_eq!(got.dims(), want.dims(), "{path} {dtype:?}");
                        assert_eq!(bits(&got), bits(&want), "{path} {dtype:?}: {tokens} tokens");
                    }
                }
            }
        }
    }
}
