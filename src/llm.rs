//! Precis's own decoder for the `llama`, `qwen2` and `qwen3` architectures: the transformer forward
//! pass written with candle tensor ops and quantized matrix products, with weights copied
//! tensor by tensor out of a memory map, a token-embedding table that stays quantized (only
//! the looked-up rows are expanded), and a KV cache this module owns and can cut back to any
//! length, so a following prompt that starts with the same tokens reuses their keys and values.
//! Q8_0, Q5_0 and Q4_1 matrices run on Precis's own kernels (`q8`), Q4_K and Q6_K on its own
//! super-block kernels (`kquant`); Q5_1, which candle has only scalar kernels for, is rewritten
//! as Q8_0 at load time (within half an 8-bit rounding step).

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::gguf_file::{Content, TensorInfo};
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Module, Tensor};
use half::f16;

use crate::error::{Error, Result};
use crate::gguf::Architecture;
use crate::kquant::KMatrix;
use crate::q8::Q8Matrix;
use crate::simd::Kernels;
use crate::tiled::Stored;

/// Keys and values are stored for this many more positions at a time when the cache grows.
const CACHE_STEP: usize = 512;

/// The shape and numeric settings of a decoder, read from GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub architecture: Architecture,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub context: usize,
    pub rms_eps: f64,
    pub rope_theta: f32,
    /// Positions are divided by this before rotation (`rope.scaling.type = linear`).
    pub rope_linear_scale: f32,
    /// Rotate the two halves of each head (GPT-NeoX style, qwen2 and qwen3) rather than
    /// adjacent pairs (the original LLaMA style that GGUF llama files are converted to).
    pub rope_neox: bool,
    /// Each query and key head is RMS-normalized with its own weights before the rotation
    /// (qwen3).
    pub qk_norm: bool,
}

impl Config {
    /// Reads the configuration, or says why this decoder cannot run the file (the caller then
    /// falls back to candle's implementation).
    pub fn from_gguf(content: &Content) -> std::result::Result<Config, String> {
        let meta = &content.metadata;
        let arch_name = meta
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .ok_or("no general.architecture")?
            .clone();
        let architecture = match arch_name.as_str() {
            "llama" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            "qwen3" => Architecture::Qwen3,
            other => return Err(format!("architecture {other} has no own decoder")),
        };
        let int = |key: &str| -> std::result::Result<usize, String> {
            let full = format!("{arch_name}.{key}");
            meta.get(&full)
                .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
                .map(|v| v as usize)
                .ok_or(format!("no integer `{full}`"))
        };
        let float = |key: &str| -> Option<f32> {
            meta.get(&format!("{arch_name}.{key}")).and_then(|v| v.to_f32().ok())
        };
        let hidden = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let kv_heads = int("attention.head_count_kv").unwrap_or(heads);
        let head_dim = int("attention.key_length").unwrap_or(hidden / heads.max(1));
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 || head_dim % 2 != 0 {
            return Err(format!("unusual head layout ({heads} heads, {kv_heads} kv heads, {head_dim} dims)"));
        }
        if int("attention.value_length").unwrap_or(head_dim) != head_dim {
            return Err("value heads differ in size from key heads".into());
        }
        if int("rope.dimension_count").unwrap_or(head_dim) != head_dim {
            return Err("partial rotary embeddings".into());
        }
        let scaling = meta
            .get(&format!("{arch_name}.rope.scaling.type"))
            .and_then(|v| v.to_string().ok())
            .map(|s| s.as_str())
            .unwrap_or("none");
        let rope_linear_scale = match scaling {
            "none" => 1.0,
            "linear" => float("rope.scaling.factor").unwrap_or(1.0),
            other => return Err(format!("rope scaling `{other}`")),
        };
        Ok(Config {
            architecture,
            hidden,
            layers: int("block_count")?,
            heads,
            kv_heads,
            head_dim,
            context: int("context_length")?,
            rms_eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-6) as f64,
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rope_linear_scale,
            rope_neox: matches!(architecture, Architecture::Qwen2 | Architecture::Qwen3),
            qk_norm: architecture == Architecture::Qwen3,
        })
    }
}

/// Keys or values of one layer for positions `0..len`: per head, a run of `capacity` rows of
/// `head_dim` floats, grown by `CACHE_STEP` positions at a time. Plain floats, so a one-token
/// step reads a head's rows in place; a prompt gets them copied into a tensor.
struct CacheBuffer {
    data: Vec<f32>,
    heads: usize,
    dim: usize,
    capacity: usize,
}

impl CacheBuffer {
    fn new(heads: usize, dim: usize) -> Self {
        CacheBuffer { data: Vec::new(), heads, dim, capacity: 0 }
    }

    /// Writes `src` (`heads × n × dim`, row-major) at positions `at..at + n`; the positions
    /// before `at` are kept.
    fn write(&mut self, src: &[f32], n: usize, at: usize, limit: usize) {
        let needed = at + n;
        let dim = self.dim;
        if needed > self.capacity {
            let capacity = needed.div_ceil(CACHE_STEP).saturating_mul(CACHE_STEP).min(limit.max(needed));
            let mut grown = vec![0f32; self.heads * capacity * dim];
            for h in 0..self.heads {
                let kept = &self.data[h * self.capacity * dim..][..at.min(self.capacity) * dim];
                grown[h * capacity * dim..][..kept.len()].copy_from_slice(kept);
            }
            self.data = grown;
            self.capacity = capacity;
        }
        for (h, rows) in src.chunks_exact(n * dim).enumerate().take(self.heads) {
            self.data[(h * self.capacity + at) * dim..][..n * dim].copy_from_slice(rows);
        }
    }

    /// Head `h`'s rows for positions `0..len`.
    fn head(&self, h: usize, len: usize) -> &[f32] {
        &self.data[h * self.capacity * self.dim..][..len * self.dim]
    }

    /// Positions `0..len` as a `(heads, len, head_dim)` tensor.
    fn tensor(&self, len: usize, device: &Device) -> Result<Tensor> {
        let mut out = Vec::with_capacity(self.heads * len * self.dim);
        for h in 0..self.heads {
            out.extend_from_slice(self.head(h, len));
        }
        Ok(Tensor::from_vec(out, (self.heads, len, self.dim), device)?)
    }

    fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}

/// A matrix on the own kernels: 32-value blocks (`q8`) or K-quant super-blocks (`kquant`).
enum Own {
    Blocks(Q8Matrix),
    Super(KMatrix),
}

impl Own {
    /// The own form of `t` when `repack` puts its type there (`Repack::runs_own`).
    fn new(t: &QTensor, repack: Repack) -> Result<Option<Own>> {
        if !repack.runs_own(t.dtype()) {
            return Ok(None);
        }
        Stored::with_tensor(t, Own::from_stored)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Own::Blocks(q) => q.forward(x),
            Own::Super(k) => k.forward(x),
        }
    }

    fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        match self {
            Own::Blocks(q) => q.rows(ids),
            Own::Super(k) => k.rows(ids),
        }
    }

    /// The own form of stored rows of a type the own kernels take.
    fn from_stored(s: &Stored) -> Result<Option<Own>> {
        if let Some(q) = Q8Matrix::from_stored(s)? {
            return Ok(Some(Own::Blocks(q)));
        }
        Ok(KMatrix::from_stored(s)?.map(Own::Super))
    }
}

/// A weight matrix: on the own kernels where `Repack` puts its type, otherwise on candle's.
enum Matrix {
    Own(Arc<Own>),
    Candle(QMatMul),
}

impl Matrix {
    fn new(t: QTensor, repack: Repack) -> Result<Matrix> {
        match Own::new(&t, repack)? {
            Some(own) => Ok(Matrix::Own(Arc::new(own))),
            None => Ok(Matrix::Candle(QMatMul::from_qtensor(t)?)),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Matrix::Own(q) => q.forward(x),
            Matrix::Candle(m) => Ok(m.forward(x)?),
        }
    }

    fn is_own(&self) -> bool {
        matches!(self, Matrix::Own(_))
    }
}

/// The token table, looked up row by row.
enum TokenTable {
    Own(Arc<Own>),
    Candle(Arc<QTensor>),
}

/// Matrices that multiply the same input: stacked into one matrix when they share a block
/// type (one pass over the input and one quantization of it instead of several), with the
/// output split back into parts.
enum Projection {
    Stacked { w: Matrix, bias: Option<Tensor>, widths: Vec<usize> },
    Separate(Vec<(Matrix, Option<Tensor>)>),
}

impl Projection {
    fn is_own(&self) -> bool {
        match self {
            Projection::Stacked { w, .. } => w.is_own(),
            Projection::Separate(parts) => parts.iter().all(|(w, _)| w.is_own()),
        }
    }

    /// The parts of `x @ w^T + b`, each `(1, seq, width)`.
    fn forward(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        match self {
            Projection::Stacked { w, bias, widths } => {
                let mut y = w.forward(x)?;
                if let Some(b) = bias {
                    y = y.broadcast_add(b)?;
                }
                let mut parts = Vec::with_capacity(widths.len());
                let mut at = 0;
                for &width in widths {
                    parts.push(y.narrow(2, at, width)?);
                    at += width;
                }
                Ok(parts)
            }
            Projection::Separate(parts) => parts
                .iter()
                .map(|(w, b)| {
                    let y = w.forward(x)?;
                    Ok(match b {
                        Some(b) => y.broadcast_add(b)?,
                        None => y,
                    })
                })
                .collect(),
        }
    }
}

/// A layer's per-head query and key norm weights, as tensors for a prompt and as floats for
/// one token (read once at load, not at every step).
struct HeadNorms {
    q: Tensor,
    k: Tensor,
    q_values: Vec<f32>,
    k_values: Vec<f32>,
}

impl HeadNorms {
    fn load(src: &TensorSource, layer: &str) -> Result<HeadNorms> {
        let q = src.vector(&format!("{layer}.attn_q_norm.weight"))?;
        let k = src.vector(&format!("{layer}.attn_k_norm.weight"))?;
        let (q_values, k_values) = (q.to_vec1::<f32>()?, k.to_vec1::<f32>()?);
        Ok(HeadNorms { q, k, q_values, k_values })
    }
}

struct Layer {
    attn_norm: Tensor,
    /// Per-head query and key norm weights (`Config::qk_norm`).
    qk_norm: Option<HeadNorms>,
    /// Queries, keys and values.
    qkv: Projection,
    wo: Matrix,
    ffn_norm: Tensor,
    /// Gate and up projections of the MLP.
    gate_up: Projection,
    down: Matrix,
    keys: CacheBuffer,
    values: CacheBuffer,
}

/// A loaded decoder with its KV cache.
pub struct Decoder {
    pub config: Config,
    embeddings: TokenTable,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Matrix,
    /// Positions held in every layer's cache.
    cached: usize,
    device: Device,
}

/// Reads tensors out of a memory-mapped GGUF file.
struct TensorSource<'a> {
    path: &'a Path,
    content: &'a Content,
    map: memmap2::Mmap,
    repack: Repack,
}

impl TensorSource<'_> {
    fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.content.tensor_infos.get(name).ok_or_else(|| Error::ModelCorrupt {
            path: self.path.to_path_buf(),
            reason: format!("it has no tensor `{name}`"),
        })
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Where the tensor's bytes lie in the map.
    fn span(&self, name: &str) -> Result<std::ops::Range<usize>> {
        let info = self.info(name)?;
        let dtype = info.ggml_dtype;
        let size = info.shape.elem_count() / dtype.block_size() * dtype.type_size();
        let start = (self.content.tensor_data_offset + info.offset) as usize;
        if self.map.get(start..start + size).is_none() {
            return Err(Error::ModelCorrupt {
                path: self.path.to_path_buf(),
                reason: format!("tensor `{name}` lies outside the file"),
            });
        }
        Ok(start..start + size)
    }

    /// Drops the map's pages of `span`, once nothing reads them, so the file is never resident
    /// beside what was made of it.
    fn release(&self, span: std::ops::Range<usize>) {
        // SAFETY: the map is a private read-only file mapping; dropping its pages only makes a
        // later read fault them in from the file again. No slice into this range is alive.
        unsafe {
            let _ = self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, span.start, span.len());
        }
    }

    /// The tensor as stored, copied out of the map.
    fn stored(&self, name: &str) -> Result<QTensor> {
        let span = self.span(name)?;
        let info = self.info(name)?;
        let storage = QStorage::from_data(Cow::Borrowed(&self.map[span.clone()]), &Device::Cpu, info.ggml_dtype)?;
        self.release(span);
        Ok(QTensor::new(storage, info.shape.clone())?)
    }

    /// The matrices `names`, rows stacked in that order, on the own kernels, built straight
    /// from the map (no copy of the stored bytes): `None` unless all are matrices of one type
    /// the own kernels take, with the same number of columns.
    fn own(&self, names: &[&str]) -> Result<Option<Own>> {
        let mut spans = Vec::with_capacity(names.len());
        let mut kind = None;
        for name in names {
            let info = self.info(name)?;
            // Rows (outputs), then columns.
            let dims = info.shape.dims();
            let this = (info.ggml_dtype, dims.get(1).copied());
            if dims.len() != 2 || !self.repack.runs_own(info.ggml_dtype) || kind.is_some_and(|k| k != this) {
                return Ok(None);
            }
            kind = Some(this);
            spans.push(self.span(name)?);
        }
        let Some((dtype, Some(cols))) = kind else { return Ok(None) };
        let parts = spans.iter().map(|s| &self.map[s.clone()]).collect();
        let own = Own::from_stored(&Stored::new(dtype, cols, parts)?)?;
        for span in spans {
            self.release(span);
        }
        Ok(own)
    }

    /// A weight matrix, rewritten as Q8_0 when that was asked for and helps.
    fn matrix(&self, name: &str) -> Result<Matrix> {
        if let Some(own) = self.own(&[name])? {
            return Ok(Matrix::Own(Arc::new(own)));
        }
        self.multiplier(self.stored(name)?)
    }

    /// Matrices (with optional biases) applied to the same input, stacked when possible.
    fn projection(&self, names: &[(String, String)]) -> Result<Projection> {
        let biases = names.iter().map(|(_, bias)| self.vector_opt(bias)).collect::<Result<Vec<_>>>()?;
        let biases_stack = biases.iter().all(Option::is_some) || biases.iter().all(Option::is_none);
        let stacked_bias = |biases: Vec<Option<Tensor>>| -> Result<Option<Tensor>> {
            if biases[0].is_none() {
                return Ok(None);
            }
            let parts: Vec<Tensor> = biases.into_iter().flatten().collect();
            Ok(Some(Tensor::cat(&parts, 0)?))
        };
        let weights: Vec<&str> = names.iter().map(|(weight, _)| weight.as_str()).collect();
        if biases_stack {
            if let Some(own) = self.own(&weights)? {
                let widths = weights.iter().map(|w| Ok(self.info(w)?.shape.dims()[0])).collect::<Result<_>>()?;
                let w = Matrix::Own(Arc::new(own));
                return Ok(Projection::Stacked { w, bias: stacked_bias(biases)?, widths });
            }
        }
        let mut tensors = Vec::with_capacity(names.len());
        for weight in weights {
            tensors.push(self.rewritten(self.stored(weight)?)?);
        }
        let dtype = tensors[0].dtype();
        let cols = tensors[0].shape().dims2()?.1;
        let stackable =
            tensors.iter().all(|t| t.dtype() == dtype && t.shape().dims2().is_ok_and(|(_, c)| c == cols)) && biases_stack;
        if !stackable {
            return Ok(Projection::Separate(
                tensors
                    .into_iter()
                    .zip(biases)
                    .map(|(t, b)| Ok((Matrix::new(t, self.repack)?, b)))
                    .collect::<Result<_>>()?,
            ));
        }
        let mut widths = Vec::with_capacity(tensors.len());
        let mut bytes = Vec::new();
        for t in &tensors {
            widths.push(t.shape().dims2()?.0);
            // Rows are stored one after another, so stacking rows is appending bytes.
            bytes.extend_from_slice(&t.data()?);
        }
        drop(tensors);
        let rows = widths.iter().sum::<usize>();
        let storage = QStorage::from_data(Cow::Owned(bytes), &Device::Cpu, dtype)?;
        let w = Matrix::new(QTensor::new(storage, (rows, cols))?, self.repack)?;
        Ok(Projection::Stacked { w, bias: stacked_bias(biases)?, widths })
    }

    fn multiplier(&self, tensor: QTensor) -> Result<Matrix> {
        Matrix::new(self.rewritten(tensor)?, self.repack)
    }

    /// Q5_1 as Q8_0 when rewriting was asked for; anything else as it is.
    fn rewritten(&self, tensor: QTensor) -> Result<QTensor> {
        if self.repack.rewrites(tensor.dtype()) {
            if let Some(faster) = to_q8_0(&tensor)? {
                return Ok(faster);
            }
        }
        Ok(tensor)
    }

    fn vector(&self, name: &str) -> Result<Tensor> {
        Ok(self.stored(name)?.dequantize(&Device::Cpu)?)
    }

    fn vector_opt(&self, name: &str) -> Result<Option<Tensor>> {
        if self.has(name) {
            self.vector(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// How weights are stored in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repack {
    /// As in the file, all on candle's kernels (the reference).
    Never,
    /// Q8_0, Q5_0 and Q4_1 matrices run on the own block kernels (`q8`), Q4_K and Q6_K on the
    /// own super-block tiles (`kquant`), and Q5_1 is rewritten as Q8_0; the rest stays on
    /// candle's.
    Own,
}

impl Repack {
    /// Whether a matrix of this type runs on the own kernels.
    fn runs_own(self, dtype: GgmlDType) -> bool {
        self == Repack::Own && matches!(dtype, GgmlDType::Q8_0 | GgmlDType::Q5_0 | GgmlDType::Q4_1 | GgmlDType::Q4K | GgmlDType::Q6K)
    }

    /// Whether a matrix of this type is rewritten as Q8_0 (Q5_1, which candle has only scalar
    /// code for).
    fn rewrites(self, dtype: GgmlDType) -> bool {
        self == Repack::Own && dtype == GgmlDType::Q5_1
    }
}

/// Keeps candle from holding a third copy of K-quant weights. On CPUs with AMX, candle packs
/// each Q4_K matrix twice besides the stored copy: AVX-512 tiles for one-row products and
/// unpacked AMX tiles for prompts, together about 3.5 times the stored bytes (3.6 GB instead
/// of 1.8 GB for qwen2.5-coder-1.5b). Its 256-bit kernel tier packs once. candle picks its
/// tier once per process from `MISTRALRS_FORCE_AVXVNNI` / `MISTRALRS_FORCE_AVX2`; unless the
/// user set either, this asks for AVX-VNNI where the CPU has it (prompt speed -8%, one-token
/// speed -6%, peak memory -36% on qwen2.5-coder-1.5b) and plain AVX2 otherwise. CPUs without
/// AMX are left alone. Must run before candle's first quantized product; the CLI and the
/// window call it first thing in `main`, while the process has one thread, and model loading
/// calls it again for library users (a no-op once a variable is set).
pub fn prefer_compact_kernels() {
    keep_freed_buffers();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid_count;
        const VARS: [&str; 2] = ["MISTRALRS_FORCE_AVXVNNI", "MISTRALRS_FORCE_AVX2"];
        if VARS.iter().any(|v| std::env::var_os(v).is_some()) {
            return;
        }
        // SAFETY: CPUID is available on every x86_64 CPU.
        #[allow(unused_unsafe)]
        let (leaf7, leaf7_1) = unsafe { (__cpuid_count(7, 0), __cpuid_count(7, 1)) };
        let amx = leaf7.edx & (1 << 24) != 0 && leaf7.edx & (1 << 25) != 0;
        if !amx {
            return;
        }
        let avx_vnni = leaf7_1.eax & (1 << 4) != 0;
        // candle reads these through `std::env`, which serializes access; nothing else in
        // Precis reads them.
        std::env::set_var(VARS[if avx_vnni { 0 } else { 1 }], "1");
    }
}

/// Lets glibc's allocator keep freed blocks of up to 32 MB for reuse instead of unmapping each
/// one. A prompt allocates and frees buffers of megabytes layer after layer (activations,
/// attention scores), and a fresh mapping costs a page fault per page every time: with the
/// default (blocks from 128 KB mapped on their own, until a large free raises the limit),
/// smollm2's prompts ran at 360 instead of 480 tokens a second. Freed memory at the top of the
/// heap is returned once 64 MB of it are free, as glibc itself would after such a raise. A
/// no-op elsewhere; called by `prefer_compact_kernels`, so at start and again at model loading.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes the allocator's thresholds; it takes its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

impl Decoder {
    /// Loads the decoder of a llama, qwen2 or qwen3 GGUF file whose header has been read.
    pub fn load(path: &Path, content: &Content, config: Config, repack: Repack) -> Result<Decoder> {
        prefer_compact_kernels();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the file is opened read-only and the map is private; Precis does not write
        // model files while they are loaded (a fetch writes a new file and renames it).
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
        let src = TensorSource {
            path,
            content,
            map,
            repack,
        };
        // The token table is looked up row by row and, when there is no separate output
        // matrix, also multiplies the last hidden state; it is kept as stored either way.
        let tied = !src.has("output.weight");
        let (embeddings, output) = match src.own(&["token_embd.weight"])? {
            // An own table serves as both, in one copy.
            Some(q) => {
                let q = Arc::new(q);
                let output = if tied { Matrix::Own(q.clone()) } else { src.matrix("output.weight")? };
                (TokenTable::Own(q), output)
            }
            None => {
                let table = Arc::new(src.stored("token_embd.weight")?);
                let output = if !tied {
                    src.matrix("output.weight")?
                } else if src.repack.rewrites(table.dtype()) {
                    // A tied head of a slow type gets its own fast copy.
                    src.multiplier(src.stored("token_embd.weight")?)?
                } else {
                    Matrix::Candle(QMatMul::from_arc(table.clone())?)
                };
                (TokenTable::Candle(table), output)
            }
        };
        let norm = src.vector("output_norm.weight")?;
        let mut layers = Vec::with_capacity(config.layers);
        for l in 0..config.layers {
            let p = format!("blk.{l}");
            layers.push(Layer {
                attn_norm: src.vector(&format!("{p}.attn_norm.weight"))?,
                qk_norm: if config.qk_norm { Some(HeadNorms::load(&src, &p)?) } else { None },
                qkv: src.projection(&["q", "k", "v"].map(|x| {
                    (format!("{p}.attn_{x}.weight"), format!("{p}.attn_{x}.bias"))
                }))?,
                wo: src.matrix(&format!("{p}.attn_output.weight"))?,
                ffn_norm: src.vector(&format!("{p}.ffn_norm.weight"))?,
                gate_up: src.projection(&["gate", "up"].map(|x| {
                    (format!("{p}.ffn_{x}.weight"), format!("{p}.ffn_{x}.bias"))
                }))?,
                down: src.matrix(&format!("{p}.ffn_down.weight"))?,
                keys: CacheBuffer::new(config.kv_heads, config.head_dim),
                values: CacheBuffer::new(config.kv_heads, config.head_dim),
            });
        }
        Ok(Decoder {
            config,
            embeddings,
            layers,
            norm,
            output,
            cached: 0,
            device: Device::Cpu,
        })
    }

    /// Whether every weight matrix runs on the own kernels (`q8`, `kquant`), none on candle's.
    pub fn all_own_kernels(&self) -> bool {
        self.output.is_own()
            && self.layers.iter().all(|l| l.qkv.is_own() && l.wo.is_own() && l.gate_up.is_own() && l.down.is_own())
    }

    /// Positions whose keys and values are cached.
    pub fn cached(&self) -> usize {
        self.cached
    }

    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize) {
        self.cached = self.cached.min(len);
    }

    /// Bytes the KV cache holds now.
    pub fn cache_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.keys.bytes() + l.values.bytes()).sum()
    }

    /// Runs `tokens` at positions `pos..` (the cache must hold at least `pos` positions; any
    /// beyond are dropped) and returns the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        self.run(tokens, pos, false)
    }

    /// Like `forward`, but returns the logits of every position (`tokens.len()` rows), as
    /// checking drafted tokens needs.
    pub fn forward_each(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        self.run(tokens, pos, true)
    }

    fn run(&mut self, tokens: &[u32], pos: usize, every: bool) -> Result<Tensor> {
        let seq = tokens.len();
        if seq == 0 {
            return Err(Error::Tokenizer("nothing to run through the model".into()));
        }
        if pos > self.cached {
            return Err(Error::Tokenizer(format!(
                "position {pos} is past the {} cached positions",
                self.cached
            )));
        }
        if pos + seq > self.config.context {
            return Err(Error::Tokenizer(format!(
                "{} tokens are more than the model's context of {}",
                pos + seq,
                self.config.context
            )));
        }
        // Until this pass completes, only the first `pos` positions are trustworthy.
        self.cached = pos;
        let c = &self.config;
        let ids = Tensor::new(tokens, &self.device)?;
        let mut x = match &self.embeddings {
            TokenTable::Own(q) => q.rows(tokens)?,
            TokenTable::Candle(t) => t.embedding(&ids)?,
        }
        .unsqueeze(0)?;
        // Guessed tokens being checked attend one at a time, as single steps would.
        let by_rows = seq == 1 || every;
        let rope = Rope::new(c, pos, seq, !by_rows, &self.device)?;
        let mask = if by_rows { None } else { Some(causal_mask(seq, pos, c.heads / c.kv_heads, &self.device)?) };
        let total = pos + seq;
        let kernels = Kernels::detect();
        for layer in &mut self.layers {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, c.rms_eps as f32)?;
            let attn = if by_rows {
                attention_rows(c, layer, &h, pos, &rope, kernels)?
            } else {
                attention(c, layer, &h, pos, &rope, mask.as_ref(), total)?
            };
            x = (x + attn)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, c.rms_eps as f32)?;
            let gate_up = layer.gate_up.forward(&h)?;
            let mlp = layer.down.forward(&(candle_nn::ops::silu(&gate_up[0])? * &gate_up[1])?)?;
            x = (x + mlp)?;
        }
        let (from, rows) = if every { (0, seq) } else { (seq - 1, 1) };
        let last = x.narrow(1, from, rows)?.contiguous()?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, c.rms_eps as f32)?;
        let logits = self.output.forward(&last)?.squeeze(0)?;
        let logits = if every { logits } else { logits.squeeze(0)? };
        self.cached = total;
        Ok(logits)
    }
}

/// Self-attention of one layer over the cached positions and the new ones.
fn attention(
    c: &Config,
    layer: &mut Layer,
    h: &Tensor,
    pos: usize,
    rope: &Rope,
    mask: Option<&Tensor>,
    total: usize,
) -> Result<Tensor> {
    let (_, seq, _) = h.dims3()?;
    let qkv = layer.qkv.forward(h)?;
    // (1, seq, heads * dim) -> (heads, seq, dim)
    let heads = |y: &Tensor, heads: usize| -> Result<Tensor> {
        Ok(y.reshape((seq, heads, c.head_dim))?.transpose(0, 1)?.contiguous()?)
    };
    let mut q = heads(&qkv[0], c.heads)?;
    let mut k = heads(&qkv[1], c.kv_heads)?;
    let v = heads(&qkv[2], c.kv_heads)?;
    if let Some(norms) = &layer.qk_norm {
        q = candle_nn::ops::rms_norm(&q, &norms.q, c.rms_eps as f32)?;
        k = candle_nn::ops::rms_norm(&k, &norms.k, c.rms_eps as f32)?;
    }
    let q = rope.rotate(c, &q)?;
    let k = rope.rotate(c, &k)?;
    layer.keys.write(&k.flatten_all()?.to_vec1::<f32>()?, seq, pos, c.context);
    layer.values.write(&v.flatten_all()?.to_vec1::<f32>()?, seq, pos, c.context);
    let keys = layer.keys.tensor(total, h.device())?;
    let values = layer.values.tensor(total, h.device())?;

    // Grouped-query attention without copying keys: the query heads that share a key head
    // are stacked along the sequence axis, (heads, seq, dim) -> (kv_heads, group * seq, dim).
    let group = c.heads / c.kv_heads;
    let q = (q * (1.0 / (c.head_dim as f64).sqrt()))?.reshape((c.kv_heads, group * seq, c.head_dim))?;
    let mut scores = q.matmul(&keys.t()?)?;
    if let Some(mask) = mask {
        scores = scores.broadcast_add(mask)?;
    }
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    let y = probs.matmul(&values)?;
    // (kv_heads, group * seq, dim) -> (heads, seq, dim) -> (1, seq, heads * dim)
    let y = y
        .reshape((c.heads, seq, c.head_dim))?
        .transpose(0, 1)?
        .reshape((1, seq, c.heads * c.head_dim))?;
    layer.wo.forward(&y)
}

/// Self-attention of one layer for `seq` new positions (one, or a few guessed tokens being
/// checked), each attending in turn with plain per-head loops over the cache. Every row gets
/// exactly the arithmetic it would get alone, while the projections read their weights once
/// for all rows (a product gives each row the same bits as alone), so checking guesses gives
/// the very logits single steps would.
fn attention_rows(c: &Config, layer: &mut Layer, h: &Tensor, pos: usize, rope: &Rope, k: Kernels) -> Result<Tensor> {
    let dim = c.head_dim;
    let seq = h.dim(1)?;
    let qkv = layer.qkv.forward(h)?;
    let flat = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
    let (mut queries, mut keys_new, values_new) = (flat(&qkv[0])?, flat(&qkv[1])?, flat(&qkv[2])?);
    let (q_width, kv_width) = (c.heads * dim, c.kv_heads * dim);
    let scale = 1.0 / (dim as f32).sqrt();
    let group = c.heads / c.kv_heads;
    let mut out = vec![0f32; seq * q_width];
    for row in 0..seq {
        let q = &mut queries[row * q_width..][..q_width];
        let key = &mut keys_new[row * kv_width..][..kv_width];
        if let Some(norms) = &layer.qk_norm {
            for head in q.chunks_exact_mut(dim) {
                rms_norm_in_place(head, &norms.q_values, c.rms_eps as f32);
            }
            for head in key.chunks_exact_mut(dim) {
                rms_norm_in_place(head, &norms.k_values, c.rms_eps as f32);
            }
        }
        for head in q.chunks_exact_mut(dim) {
            rope.rotate_row(c, row, head);
            for x in head.iter_mut() {
                *x *= scale;
            }
        }
        for head in key.chunks_exact_mut(dim) {
            rope.rotate_row(c, row, head);
        }
        layer.keys.write(key, 1, pos + row, c.context);
        layer.values.write(&values_new[row * kv_width..][..kv_width], 1, pos + row, c.context);
        let total = pos + row + 1;
        let (keys, values, q) = (&layer.keys, &layer.values, &*q);
        let one_head = |head: usize, y: &mut [f32]| {
            let kv = head / group;
            let qh = &q[head * dim..][..dim];
            let mut scores = vec![0f32; total];
            (k.scores)(qh, keys.head(kv, total), dim, &mut scores);
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
            let mut sum = 0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            for s in scores.iter_mut() {
                *s /= sum;
            }
            (k.mix)(&scores, values.head(kv, total), y);
        };
        crate::team::chunks_mut(&mut out[row * q_width..][..q_width], dim, one_head);
    }
    layer.wo.forward(&Tensor::from_vec(out, (1, seq, q_width), h.device())?)
}

/// `candle_nn::ops::rms_norm` of one row, with the same arithmetic: the mean square summed in
/// order, then each value divided by the root and multiplied by its weight.
fn rms_norm_in_place(x: &mut [f32], weight: &[f32], eps: f32) {
    let sum2: f32 = x.iter().map(|v| v * v).sum();
    let root = (sum2 / x.len() as f32 + eps).sqrt();
    for (v, w) in x.iter_mut().zip(weight) {
        *v = *v / root * w;
    }
}

/// Cosines and sines of the rotation angles for positions `pos..pos + seq`, `(seq, dim / 2)`,
/// as floats for rows that attend one at a time, and also as tensors for a prompt's pass.
struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
    tensors: Option<(Tensor, Tensor)>,
}

impl Rope {
    fn new(c: &Config, pos: usize, seq: usize, as_tensors: bool, device: &Device) -> Result<Rope> {
        let half = c.head_dim / 2;
        let mut cos = Vec::with_capacity(seq * half);
        let mut sin = Vec::with_capacity(seq * half);
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / c.rope_theta.powf((2 * i) as f32 / c.head_dim as f32))
            .collect();
        for p in pos..pos + seq {
            let p = p as f32 / c.rope_linear_scale;
            for f in &inv {
                let angle = p * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        let tensors = if as_tensors {
            Some((
                Tensor::from_slice(&cos, (seq, half), device)?,
                Tensor::from_slice(&sin, (seq, half), device)?,
            ))
        } else {
            None
        };
        Ok(Rope { cos, sin, tensors })
    }

    /// Applies the rotation to `(heads, seq, dim)`.
    fn rotate(&self, c: &Config, x: &Tensor) -> Result<Tensor> {
        let (cos, sin) = self.tensors.as_ref().expect("tensors are made for a prompt");
        let x = x.unsqueeze(0)?;
        let y = if c.rope_neox {
            candle_nn::rotary_emb::rope(&x, cos, sin)?
        } else {
            candle_nn::rotary_emb::rope_i(&x, cos, sin)?
        };
        Ok(y.squeeze(0)?)
    }

    /// Applies the rotation of position `pos + row` to one head's `dim` values, with the same
    /// arithmetic as `rotate`.
    fn rotate_row(&self, c: &Config, row: usize, x: &mut [f32]) {
        let half = c.head_dim / 2;
        let (cos, sin) = (&self.cos[row * half..][..half], &self.sin[row * half..][..half]);
        for i in 0..half {
            let (cos, sin) = (cos[i], sin[i]);
            let (a, b) = if c.rope_neox { (i, i + half) } else { (2 * i, 2 * i + 1) };
            let (x0, x1) = (x[a], x[b]);
            x[a] = x0 * cos - x1 * sin;
            x[b] = x0 * sin + x1 * cos;
        }
    }
}

/// The additive causal mask for `seq` new positions after `pos` cached ones, repeated for the
/// `group` query heads stacked per key head: `(group * seq, pos + seq)`.
fn causal_mask(seq: usize, pos: usize, group: usize, device: &Device) -> Result<Tensor> {
    let total = pos + seq;
    let mut mask = Vec::with_capacity(group * seq * total);
    for _ in 0..group {
        for i in 0..seq {
            mask.extend((0..total).map(|j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }));
        }
    }
    Ok(Tensor::from_vec(mask, (group * seq, total), device)?)
}

/// Rewrites a matrix of a block type candle multiplies with scalar code as Q8_0; `None` when
/// the type is already fast (or not a 32-wide block type).
pub fn to_q8_0(t: &QTensor) -> Result<Option<QTensor>> {
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

    #[test]
    fn causal_mask_hides_later_positions_for_every_group() {
        let m = causal_mask(2, 1, 2, &Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        let inf = f32::NEG_INFINITY;
        assert_eq!(m, vec![vec![0.0, 0.0, inf], vec![0.0, 0.0, 0.0], vec![0.0, 0.0, inf], vec![0.0, 0.0, 0.0]]);
    }
}
