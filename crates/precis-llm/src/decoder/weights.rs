//! The decoder's weights as they are held in memory: read out of the memory-mapped GGUF file
//! (`TensorSource`), each matrix on the tiled kernels where its block type has them or on
//! candle's otherwise (`Matrix`), projections of one input stacked into one matrix
//! (`Projection`), the token table looked up row by row (`TokenTable`), norms and biases as
//! floats and as tensors (`Vector`), and Q5_1 (which candle multiplies with scalar code)
//! rewritten as Q8_0 at load. Tiled matrices come from the tile
//! cache (`tile_cache`) when it has them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::gguf_file::{Content, TensorInfo};
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Module, Tensor};
use half::f16;

use crate::error::{Error, Result};
use crate::kernels::cpu::KernelPath;
use crate::kernels::tiles::Stored;
use crate::kernels::TiledMatrix;

use super::tile_cache::TileCache;

/// A weight matrix: on the tiled kernels where `WeightLayout` puts its type, otherwise on
/// candle's.
pub(super) enum Matrix {
    Tiled(Arc<TiledMatrix>),
    Candle(QMatMul),
}

impl Matrix {
    pub(super) fn new(t: QTensor, layout: WeightLayout, kernels: KernelPath) -> Result<Matrix> {
        let tiled = if layout.tiles(t.dtype()) { TiledMatrix::from_qtensor(&t, kernels)? } else { None };
        match tiled {
            Some(tiled) => Ok(Matrix::Tiled(Arc::new(tiled))),
            None => Ok(Matrix::Candle(QMatMul::from_qtensor(t)?)),
        }
    }

    /// `x @ w^T` for `rows` rows of values one after the other, as the tiled kernels take them
    /// (candle's through a tensor).
    pub(super) fn forward_rows(&self, xs: &[f32], rows: usize) -> Result<Vec<f32>> {
        match self {
            Matrix::Tiled(q) => q.forward_rows(xs),
            Matrix::Candle(m) => {
                let x = Tensor::from_slice(xs, (1, rows, xs.len() / rows.max(1)), &Device::Cpu)?;
                Ok(m.forward(&x)?.flatten_all()?.to_vec1()?)
            }
        }
    }

    pub(super) fn is_tiled(&self) -> bool {
        matches!(self, Matrix::Tiled(_))
    }

    /// Bytes of the weights one product reads.
    pub(super) fn bytes(&self) -> usize {
        match self {
            Matrix::Tiled(q) => q.bytes(),
            Matrix::Candle(QMatMul::QTensor(t)) => t.storage_size_in_bytes(),
            Matrix::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) => t.elem_count() * t.dtype().size_in_bytes(),
        }
    }
}

/// The token table, looked up row by row.
pub(super) enum TokenTable {
    Tiled(Arc<TiledMatrix>),
    Candle(Arc<QTensor>),
}

/// Matrices that multiply the same input, in groups: each group stacked into one matrix (one
/// pass over the input and one quantization of it instead of several), with its output split
/// back into parts. Parts of one block type make one group; a model that stores, say, the
/// values' matrix in another type than the queries' and keys' has two.
pub(super) struct Projection {
    groups: Vec<Group>,
}

struct Group {
    w: Matrix,
    bias: Option<Vector>,
    /// The output widths of the group's parts, in order.
    widths: Vec<usize>,
}

impl Projection {
    pub(super) fn is_tiled(&self) -> bool {
        self.groups.iter().all(|g| g.w.is_tiled())
    }

    /// Bytes of the weights one product reads.
    pub(super) fn bytes(&self) -> usize {
        self.groups.iter().map(|g| g.w.bytes()).sum()
    }

    /// For the gate and up projections of an MLP, on `rows` rows of values one after the other:
    /// `silu(gate(x)) × up(x)`, computed inside one product where it can (one tiled group of two
    /// equal parts, no bias: `TiledMatrix::gated_rows`), else from the parts. The same floats
    /// either way.
    pub(super) fn silu_gated_rows(&self, xs: &[f32], rows: usize) -> Result<Vec<f32>> {
        if let [Group { w: Matrix::Tiled(q), bias: None, widths }] = self.groups.as_slice() {
            if matches!(widths.as_slice(), [g, u] if g == u) {
                if let Some(y) = q.gated_rows(xs)? {
                    return Ok(y);
                }
            }
        }
        let parts = self.forward_rows(xs, rows)?;
        let (gate, up) = match self.widths().as_slice() {
            [g, u] if g == u => (*g, *u),
            widths => {
                return Err(candle_core::Error::Msg(format!("a gated MLP needs two equal parts, not {widths:?}")).into())
            }
        };
        // candle's `silu`, `x / (1 + e^-x)`, times the up projection.
        let mut out = Vec::with_capacity(rows * gate);
        for row in parts.chunks_exact(gate + up) {
            let (g, u) = row.split_at(gate);
            out.extend(g.iter().zip(u).map(|(&g, &u)| g / (1.0 + (-g).exp()) * u));
        }
        Ok(out)
    }

    /// Every part's output width, in order.
    pub(super) fn widths(&self) -> Vec<usize> {
        self.groups.iter().flat_map(|g| g.widths.iter().copied()).collect()
    }

    /// `x @ w^T + b` for `rows` rows of values one after the other: each row's parts side by
    /// side, in order, each with its bias added as candle adds it.
    pub(super) fn forward_rows(&self, xs: &[f32], rows: usize) -> Result<Vec<f32>> {
        let mut outputs = self
            .groups
            .iter()
            .map(|Group { w, bias, .. }| {
                let mut y = w.forward_rows(xs, rows)?;
                if let Some(bias) = bias {
                    for row in y.chunks_exact_mut(bias.values.len()) {
                        row.iter_mut().zip(&bias.values).for_each(|(y, b)| *y += b);
                    }
                }
                Ok(y)
            })
            .collect::<Result<Vec<_>>>()?;
        if outputs.len() == 1 {
            return Ok(outputs.swap_remove(0));
        }
        let width: usize = outputs.iter().map(|y| y.len() / rows.max(1)).sum();
        let mut out = Vec::with_capacity(rows * width);
        for r in 0..rows {
            for y in &outputs {
                let w = y.len() / rows;
                out.extend_from_slice(&y[r * w..(r + 1) * w]);
            }
        }
        Ok(out)
    }
}

/// A vector of weights (a norm's or a bias), as floats for the loops over rows and as a tensor
/// (which only the per-head query and key norms of a prompt's attention use), read once at load.
pub(super) struct Vector {
    pub(super) tensor: Tensor,
    pub(super) values: Vec<f32>,
}

impl Vector {
    fn new(tensor: Tensor) -> Result<Vector> {
        let values = tensor.flatten_all()?.to_vec1::<f32>()?;
        Ok(Vector { tensor, values })
    }
}

/// A layer's per-head query and key norm weights.
pub(super) struct HeadNorms {
    pub(super) q: Vector,
    pub(super) k: Vector,
}

impl HeadNorms {
    pub(super) fn load(src: &TensorSource, layer: &str) -> Result<HeadNorms> {
        let q = src.vector(&format!("{layer}.attn_q_norm.weight"))?;
        let k = src.vector(&format!("{layer}.attn_k_norm.weight"))?;
        Ok(HeadNorms { q, k })
    }
}

/// Reads tensors out of a memory-mapped GGUF file, and tiled matrices out of the tile cache
/// where it has them.
pub(super) struct TensorSource<'a> {
    pub(super) path: &'a Path,
    pub(super) content: &'a Content,
    pub(super) map: memmap2::Mmap,
    pub(super) layout: WeightLayout,
    /// The kernels the tiled matrices use.
    pub(super) kernels: KernelPath,
    pub(super) cache: Option<&'a TileCache>,
    /// Every tiled matrix given out, by its tensors' names joined with `+`, for the cache.
    pub(super) tiled: RefCell<Vec<(String, Arc<TiledMatrix>)>>,
}

impl TensorSource<'_> {
    pub(super) fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.content.tensor_infos.get(name).ok_or_else(|| Error::ModelCorrupt {
            path: self.path.to_path_buf(),
            reason: format!("it has no tensor `{name}`"),
        })
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Where the tensor's bytes lie in the map.
    pub(super) fn span(&self, name: &str) -> Result<std::ops::Range<usize>> {
        let info = self.info(name)?;
        let dtype = info.ggml_dtype;
        // `GgufFile::open` checked all of this; the arithmetic is checked again here, where the
        // offsets become indices into the map.
        let size = info.shape.dims().iter().try_fold(1usize, |n, &d| n.checked_mul(d)).map(|n| n / dtype.block_size());
        let size = size.and_then(|blocks| blocks.checked_mul(dtype.type_size()));
        let start = self.content.tensor_data_offset.checked_add(info.offset).and_then(|s| usize::try_from(s).ok());
        match (start, size) {
            (Some(start), Some(size)) if start.checked_add(size).is_some_and(|end| end <= self.map.len()) => {
                Ok(start..start + size)
            }
            _ => Err(Error::ModelCorrupt {
                path: self.path.to_path_buf(),
                reason: format!("tensor `{name}` lies outside the file"),
            }),
        }
    }

    /// Drops the map's pages of `span`, once nothing reads them, so the file is never resident
    /// beside what was made of it.
    pub(super) fn release(&self, span: std::ops::Range<usize>) {
        // SAFETY: the map is a private read-only file mapping; dropping its pages only makes a
        // later read fault them in from the file again. No slice into this range is alive.
        unsafe {
            let _ = self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, span.start, span.len());
        }
    }

    /// The tensor as stored, copied out of the map.
    pub(super) fn stored(&self, name: &str) -> Result<QTensor> {
        let span = self.span(name)?;
        let info = self.info(name)?;
        let storage = QStorage::from_data(Cow::Borrowed(&self.map[span.clone()]), &Device::Cpu, info.ggml_dtype)?;
        self.release(span);
        Ok(QTensor::new(storage, info.shape.clone())?)
    }

    /// The matrices `names`, rows stacked in that order, on the tiled kernels, mapped from the
    /// tile cache or built straight from the map (no copy of the stored bytes): `None` unless
    /// all are matrices of one type the tiled kernels take, with the same number of columns.
    pub(super) fn tiled(&self, names: &[&str]) -> Result<Option<Arc<TiledMatrix>>> {
        let mut spans = Vec::with_capacity(names.len());
        let mut kind = None;
        let mut rows = 0;
        for name in names {
            let info = self.info(name)?;
            // Rows (outputs), then columns.
            let dims = info.shape.dims();
            let this = (info.ggml_dtype, dims.get(1).copied());
            if dims.len() != 2 || !self.layout.tiles(info.ggml_dtype) || kind.is_some_and(|k| k != this) {
                return Ok(None);
            }
            kind = Some(this);
            rows += dims[0];
            spans.push(self.span(name)?);
        }
        let Some((dtype, Some(cols))) = kind else { return Ok(None) };
        let key = names.join("+");
        let cached = self.cache.and_then(|cache| cache.matrix(&key, dtype, (rows, cols), self.kernels));
        let tiled = match cached {
            Some(tiled) => Some(tiled),
            None => {
                let parts = spans.iter().map(|s| &self.map[s.clone()]).collect();
                let tiled = TiledMatrix::from_stored(&Stored::new(dtype, cols, parts)?, self.kernels)?;
                for span in spans {
                    self.release(span);
                }
                tiled
            }
        };
        let tiled = tiled.map(Arc::new);
        if let Some(tiled) = &tiled {
            self.tiled.borrow_mut().push((key, tiled.clone()));
        }
        Ok(tiled)
    }

    /// A weight matrix, rewritten as Q8_0 when that was asked for and helps.
    pub(super) fn matrix(&self, name: &str) -> Result<Matrix> {
        if let Some(tiled) = self.tiled(&[name])? {
            return Ok(Matrix::Tiled(tiled));
        }
        self.multiplier(self.stored(name)?)
    }

    /// Matrices (with optional biases) applied to the same input, stacked when possible: all
    /// in one group when they share a block type, otherwise each run of neighbours that does.
    pub(super) fn projection(&self, names: &[(String, String)]) -> Result<Projection> {
        let biases = names.iter().map(|(_, bias)| self.tensor_opt(bias)).collect::<Result<Vec<_>>>()?;
        // Parts with a bias and parts without are not stacked (the models Precis reads have
        // biases on all or none).
        let mixed_biases = biases.iter().any(Option::is_some) && biases.iter().any(Option::is_none);
        let mut groups = Vec::new();
        let (mut start, mut biases) = (0, biases.into_iter());
        for end in 1..=names.len() {
            let same = end < names.len()
                && !mixed_biases
                && self.info(&names[end].0)?.ggml_dtype == self.info(&names[start].0)?.ggml_dtype;
            if !same {
                groups.push(self.group(&names[start..end], biases.by_ref().take(end - start).collect())?);
                start = end;
            }
        }
        Ok(Projection { groups })
    }

    /// One group of a projection: the matrices `names` (of one block type) stacked, on the
    /// tiled kernels when they take them, with their `biases` (all or none).
    fn group(&self, names: &[(String, String)], biases: Vec<Option<Tensor>>) -> Result<Group> {
        let bias = match biases.iter().all(Option::is_some) {
            true => Some(Vector::new(Tensor::cat(&biases.into_iter().flatten().collect::<Vec<_>>(), 0)?)?),
            false => None,
        };
        let weights: Vec<&str> = names.iter().map(|(weight, _)| weight.as_str()).collect();
        let widths = weights.iter().map(|w| Ok(self.info(w)?.shape.dims()[0])).collect::<Result<Vec<_>>>()?;
        if let Some(tiled) = self.tiled(&weights)? {
            return Ok(Group { w: Matrix::Tiled(tiled), bias, widths });
        }
        let mut tensors = Vec::with_capacity(names.len());
        for weight in &weights {
            tensors.push(self.rewritten(self.stored(weight)?)?);
        }
        if tensors.len() == 1 {
            let w = Matrix::new(tensors.remove(0), self.layout, self.kernels)?;
            return Ok(Group { w, bias, widths });
        }
        let dtype = tensors[0].dtype();
        let cols = tensors[0].shape().dims2()?.1;
        if !tensors.iter().all(|t| t.dtype() == dtype && t.shape().dims2().is_ok_and(|(_, c)| c == cols)) {
            return Err(Error::ModelCorrupt {
                path: self.path.to_path_buf(),
                reason: format!("the matrices {} differ in type or width", weights.join(", ")),
            });
        }
        let mut bytes = Vec::new();
        for t in &tensors {
            // Rows are stored one after another, so stacking rows is appending bytes.
            bytes.extend_from_slice(&t.data()?);
        }
        drop(tensors);
        let rows = widths.iter().sum::<usize>();
        let storage = QStorage::from_data(Cow::Owned(bytes), &Device::Cpu, dtype)?;
        let w = Matrix::new(QTensor::new(storage, (rows, cols))?, self.layout, self.kernels)?;
        Ok(Group { w, bias, widths })
    }

    pub(super) fn multiplier(&self, tensor: QTensor) -> Result<Matrix> {
        Matrix::new(self.rewritten(tensor)?, self.layout, self.kernels)
    }

    /// Q5_1 as Q8_0 when rewriting was asked for; anything else as it is.
    pub(super) fn rewritten(&self, tensor: QTensor) -> Result<QTensor> {
        if self.layout.rewrites(tensor.dtype()) {
            if let Some(faster) = to_q8_0(&tensor)? {
                return Ok(faster);
            }
        }
        Ok(tensor)
    }

    pub(super) fn tensor(&self, name: &str) -> Result<Tensor> {
        Ok(self.stored(name)?.dequantize(&Device::Cpu)?)
    }

    pub(super) fn tensor_opt(&self, name: &str) -> Result<Option<Tensor>> {
        if self.has(name) {
            self.tensor(name).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(super) fn vector(&self, name: &str) -> Result<Vector> {
        Vector::new(self.tensor(name)?)
    }
}

/// How weights are held in memory, and so which kernels multiply them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// As in the file, all on candle's kernels (the reference).
    AsStored,
    /// Q8_0, Q5_0 and Q4_1 matrices in tiles for the block kernels (`kernels::blocks`), Q4_K
    /// and Q6_K in tiles for the super-block kernels (`kernels::kquants`), and Q5_1 rewritten
    /// as Q8_0; the rest stays on candle's kernels.
    Tiled,
}

impl WeightLayout {
    /// Whether a matrix of this type is held in tiles.
    pub(super) fn tiles(self, dtype: GgmlDType) -> bool {
        self == WeightLayout::Tiled && crate::kernels::has_tiles(dtype)
    }

    /// Whether a matrix of this type is rewritten as Q8_0 (Q5_1, which candle has only scalar
    /// code for).
    pub(super) fn rewrites(self, dtype: GgmlDType) -> bool {
        self == WeightLayout::Tiled && dtype == GgmlDType::Q5_1
    }
}

/// Rewrites a matrix of a block type candle multiplies with scalar code as Q8_0; `None` when
/// the type is already fast (or not a 32-wide block type).
pub(super) fn to_q8_0(t: &QTensor) -> Result<Option<QTensor>> {
    let dtype = t.dtype();
    if !matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1) || t.rank() != 2 {
        return Ok(None);
    }
    let data = t.data()?;
    let blocks = data.len() / dtype.type_size();
    let mut out = Vec::with_capacity(blocks * 34);
    let mut values = [0f32; 32];
    let mut q = [0i8; 32];
    for block in data.chunks_exact(dtype.type_size()) {
        let d = f16::from_le_bytes([block[0], block[1]]);
        match dtype {
            // Small integer quants with one scale and no offset: the same scale, exactly.
            GgmlDType::Q5_0 => {
                let qh = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
                let qs = &block[6..22];
                for j in 0..16 {
                    let lo_high = (((qh >> j) & 1) << 4) as u8;
                    let hi_high = (((qh >> (j + 16)) & 1) << 4) as u8;
                    q[j] = ((qs[j] & 0x0F) | lo_high) as i8 - 16;
                    q[j + 16] = ((qs[j] >> 4) | hi_high) as i8 - 16;
                }
                out.extend_from_slice(&d.to_le_bytes());
                out.extend(q.iter().map(|&v| v as u8));
                continue;
            }
            // With an offset the values must be rounded to a new 8-bit grid.
            GgmlDType::Q4_1 => {
                let d = d.to_f32();
                let m = f16::from_le_bytes([block[2], block[3]]).to_f32();
                let qs = &block[4..20];
                for j in 0..16 {
                    values[j] = d * (qs[j] & 0x0F) as f32 + m;
                    values[j + 16] = d * (qs[j] >> 4) as f32 + m;
                }
            }
            GgmlDType::Q5_1 => {
                let d = d.to_f32();
                let m = f16::from_le_bytes([block[2], block[3]]).to_f32();
                let qh = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
                let qs = &block[8..24];
                for j in 0..16 {
                    let lo = (qs[j] & 0x0F) as u32 | (((qh >> j) & 1) << 4);
                    let hi = (qs[j] >> 4) as u32 | (((qh >> (j + 16)) & 1) << 4);
                    values[j] = d * lo as f32 + m;
                    values[j + 16] = d * hi as f32 + m;
                }
            }
            _ => unreachable!("filtered above"),
        }
        let amax = values.iter().fold(0f32, |a, v| a.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(scale).to_le_bytes());
        out.extend(values.iter().map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8 as u8));
    }
    drop(data);
    let storage = QStorage::from_data(Cow::Owned(out), &Device::Cpu, GgmlDType::Q8_0)?;
    Ok(Some(QTensor::new(storage, t.shape().clone())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(dtype: GgmlDType) -> (f32, f32) {
        let values: Vec<f32> = (0..64 * 32).map(|i| ((i * 7919) % 97) as f32 / 50.0 - 1.0).collect();
        let t = Tensor::from_vec(values, (64, 32), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, dtype).unwrap();
        let reference = q.dequantize(&Device::Cpu).unwrap();
        let q8 = to_q8_0(&q).unwrap().expect("repacked");
        assert_eq!(q8.dtype(), GgmlDType::Q8_0);
        let got = q8.dequantize(&Device::Cpu).unwrap();
        let diff = (reference - got).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let amax = t.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        (diff, amax)
    }

    #[test]
    fn q5_0_becomes_q8_0_exactly() {
        assert_eq!(roundtrip(GgmlDType::Q5_0).0, 0.0);
    }

    #[test]
    fn q4_1_and_q5_1_become_q8_0_within_half_a_step() {
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q5_1] {
            let (diff, amax) = roundtrip(dtype);
            // Half of the new step (amax / 127), plus the f16 rounding of the scale.
            assert!(diff <= amax / 254.0 * 1.01 + 1e-6, "{dtype:?}: {diff} vs {amax}");
        }
    }
}
