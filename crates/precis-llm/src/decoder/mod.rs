//! Precis's decoder for the `llama`, `qwen2` and `qwen3` architectures: the transformer forward
//! pass on the tiled matrix kernels (`crate::kernels`), on plain rows of floats between the
//! products (a prompt's attention in candle tensor ops, a decode step's, for one token or
//! guessed tokens being checked, in loops of its own), with weights built straight from a
//! memory map, a token-embedding table that stays quantized
//! (only the looked-up rows are expanded), and a KV cache it owns and can cut back to any
//! length, so a following prompt that starts with the same tokens reuses their keys and values.
//! Each concern has its file: `config` (the shape, from GGUF metadata), `weights` (what is
//! held in memory, and on which kernels), `tile_cache` (tiles kept between loads), `memory`
//! (huge pages for the tiles and the KV cache), `attention` (self-attention and RoPE), `cache`
//! (the KV cache), `prefix_file` (a prompt's first keys and values kept between processes) and
//! `platform` (process-wide tuning).

mod attention;
mod cache;
mod config;
pub mod memory;
mod platform;
mod prefix_file;
pub mod tile_cache;
mod weights;

use std::cell::RefCell;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::QMatMul;
use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::kernels::cpu::KernelPath;
use crate::kernels::vector::VectorKernels;
use attention::{attention, attention_rows, rms_norm_in_place, Place, Rope};
use cache::{KvCache, Side};
pub use config::Config;
pub use platform::prefer_compact_kernels;
use prefix_file::PrefixFile;
use tile_cache::TileCache;
pub use tile_cache::TileSource;
pub use weights::WeightLayout;
use weights::{HeadNorms, Matrix, Projection, TensorSource, TokenTable, Vector};

struct Layer {
    attn_norm: Vector,
    /// Per-head query and key norm weights (`Config::qk_norm`).
    qk_norm: Option<HeadNorms>,
    /// Queries, keys and values.
    qkv: Projection,
    wo: Matrix,
    ffn_norm: Vector,
    /// Gate and up projections of the MLP.
    gate_up: Projection,
    down: Matrix,
}

/// A loaded decoder with its KV cache.
pub struct Decoder {
    pub config: Config,
    embeddings: TokenTable,
    /// Rows of the token table.
    vocabulary: usize,
    layers: Vec<Layer>,
    norm: Vector,
    output: Matrix,
    /// Every layer's keys and values.
    cache: KvCache,
    /// Positions held in every layer's cache.
    cached: usize,
    device: Device,
    /// The instruction set of the tiled products and of one-token attention.
    kernels: KernelPath,
    /// Where the first keys and values of a prompt are kept for the next process.
    prefix_file: Option<PrefixFile>,
}

/// Checks every tensor the decoder reads against the shape its settings need, so a file whose
/// metadata and tensors disagree is a damaged model, not a wrong index in a kernel.
fn check_shapes(src: &TensorSource, c: &Config) -> Result<()> {
    let q = c.heads * c.head_dim;
    let kv = c.kv_heads * c.head_dim;
    let embd = src.info("token_embd.weight")?.shape.dims().to_vec();
    let (vocab, hidden) = match embd.as_slice() {
        [vocab, hidden] => (*vocab, *hidden),
        other => return Err(shape_error(src, "token_embd.weight", other, "two dimensions")),
    };
    let ff = match src.info("blk.0.ffn_up.weight").map(|i| i.shape.dims().to_vec()) {
        Ok(d) if d.len() == 2 => d[0],
        Ok(d) => return Err(shape_error(src, "blk.0.ffn_up.weight", &d, "two dimensions")),
        Err(_) if c.layers == 0 => 0,
        Err(e) => return Err(e),
    };
    let mut want: Vec<(String, Vec<usize>)> =
        vec![("token_embd.weight".into(), vec![vocab, c.hidden]), ("output_norm.weight".into(), vec![c.hidden])];
    if src.has("output.weight") {
        want.push(("output.weight".into(), vec![vocab, c.hidden]));
    }
    for l in 0..c.layers {
        let p = format!("blk.{l}");
        want.extend([
            (format!("{p}.attn_norm.weight"), vec![c.hidden]),
            (format!("{p}.attn_q.weight"), vec![q, c.hidden]),
            (format!("{p}.attn_k.weight"), vec![kv, c.hidden]),
            (format!("{p}.attn_v.weight"), vec![kv, c.hidden]),
            (format!("{p}.attn_output.weight"), vec![c.hidden, q]),
            (format!("{p}.ffn_norm.weight"), vec![c.hidden]),
            (format!("{p}.ffn_gate.weight"), vec![ff, c.hidden]),
            (format!("{p}.ffn_up.weight"), vec![ff, c.hidden]),
            (format!("{p}.ffn_down.weight"), vec![c.hidden, ff]),
        ]);
        for (x, width) in [("q", q), ("k", kv), ("v", kv)] {
            let bias = format!("{p}.attn_{x}.bias");
            if src.has(&bias) {
                want.push((bias, vec![width]));
            }
        }
        if c.qk_norm {
            want.push((format!("{p}.attn_q_norm.weight"), vec![c.head_dim]));
            want.push((format!("{p}.attn_k_norm.weight"), vec![c.head_dim]));
        }
    }
    if hidden != c.hidden || c.hidden == 0 || c.head_dim == 0 || ff == 0 && c.layers > 0 {
        return Err(shape_error(src, "token_embd.weight", &embd, &format!("{vocab}×{}", c.hidden)));
    }
    for (name, dims) in want {
        let have = src.info(&name)?.shape.dims();
        if have != dims.as_slice() {
            let shown = dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
            return Err(shape_error(src, &name, have, &shown));
        }
    }
    Ok(())
}

fn shape_error(src: &TensorSource, name: &str, have: &[usize], want: &str) -> Error {
    let have = have.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    Error::ModelCorrupt {
        path: src.path.to_path_buf(),
        reason: format!("tensor `{name}` is {have}, but the model's settings need {want}"),
    }
}

/// `x`'s rows of `hidden` values, each normed with `norm` as candle's `rms_norm` does it.
fn normed(x: &[f32], norm: &Vector, hidden: usize, eps: f32) -> Vec<f32> {
    let mut h = x.to_vec();
    h.chunks_exact_mut(hidden).for_each(|row| rms_norm_in_place(row, &norm.values, eps));
    h
}

/// Adds `y` to `x`, value by value (a layer's output to the residual stream).
fn add_rows(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
}

impl Decoder {
    /// Loads the decoder of a llama, qwen2 or qwen3 GGUF file whose header has been read, its
    /// tiled matrices on `kernels` (a path this CPU runs).
    pub fn load(
        path: &Path,
        content: &Content,
        config: Config,
        layout: WeightLayout,
        kernels: KernelPath,
        tile_cache: Option<&Path>,
    ) -> Result<(Decoder, TileSource)> {
        prefer_compact_kernels();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the file is opened read-only and the map is private; Precis does not write
        // model files while they are loaded (a fetch writes a new file and renames it).
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
        let cache = tile_cache.filter(|_| layout == WeightLayout::Tiled).and_then(|dir| TileCache::open(dir, path));
        let tiled = RefCell::new(Vec::new());
        let src = TensorSource { path, content, map, layout, kernels, cache: cache.as_ref(), tiled };
        check_shapes(&src, &config)?;
        let vocabulary = src.info("token_embd.weight")?.shape.dims()[0];
        // The token table is looked up row by row and, when there is no separate output
        // matrix, also multiplies the last hidden state; it is kept as stored either way.
        let tied = !src.has("output.weight");
        let (embeddings, output) = match src.tiled(&["token_embd.weight"])? {
            // A tiled table serves as both, in one copy.
            Some(q) => {
                let output = if tied { Matrix::Tiled(q.clone()) } else { src.matrix("output.weight")? };
                (TokenTable::Tiled(q), output)
            }
            None => {
                let table = Arc::new(src.stored("token_embd.weight")?);
                let output = if !tied {
                    src.matrix("output.weight")?
                } else if src.layout.rewrites(table.dtype()) {
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
                qkv: src.projection(
                    &["q", "k", "v"].map(|x| (format!("{p}.attn_{x}.weight"), format!("{p}.attn_{x}.bias"))),
                )?,
                wo: src.matrix(&format!("{p}.attn_output.weight"))?,
                ffn_norm: src.vector(&format!("{p}.ffn_norm.weight"))?,
                gate_up: src.projection(
                    &["gate", "up"].map(|x| (format!("{p}.ffn_{x}.weight"), format!("{p}.ffn_{x}.bias"))),
                )?,
                down: src.matrix(&format!("{p}.ffn_down.weight"))?,
            });
        }
        let tiled = src.tiled.take();
        drop(src);
        let prefix_file = cache.as_ref().map(|c| c.prefix_file(kernels));
        let source = match cache {
            Some(cache) => cache.keep(tiled),
            None => TileSource::Built,
        };
        // A prompt prefix lives beside the model's tiles, and goes when they do.
        let prefix_file = prefix_file.filter(|_| source != TileSource::Built);
        let cache = KvCache::new(config.layers, config.kv_heads, config.head_dim);
        let decoder = Decoder {
            config,
            embeddings,
            vocabulary,
            layers,
            norm,
            output,
            cache,
            cached: 0,
            device: Device::Cpu,
            kernels,
            prefix_file,
        };
        Ok((decoder, source))
    }

    /// Rows of the token table: token ids must stay below this.
    pub fn vocabulary(&self) -> usize {
        self.vocabulary
    }

    /// The instruction set of the tiled products and of one-token attention.
    pub fn kernels(&self) -> KernelPath {
        self.kernels
    }

    /// Bytes of weights a one-token step reads: every layer's matrices and the output matrix
    /// (the token table's one row and the norms aside).
    pub fn step_weight_bytes(&self) -> usize {
        self.output.bytes()
            + self
                .layers
                .iter()
                .map(|l| l.qkv.bytes() + l.wo.bytes() + l.gate_up.bytes() + l.down.bytes())
                .sum::<usize>()
    }

    /// Whether every weight matrix runs on the tiled kernels, none on candle's.
    pub fn all_tiled(&self) -> bool {
        self.output.is_tiled()
            && self
                .layers
                .iter()
                .all(|l| l.qkv.is_tiled() && l.wo.is_tiled() && l.gate_up.is_tiled() && l.down.is_tiled())
    }

    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize) {
        self.cached = self.cached.min(len);
    }

    /// Floats of keys and values one position takes in every layer's cache.
    fn floats_per_position(&self) -> usize {
        self.layers.len() * 2 * self.config.kv_heads * self.config.head_dim
    }

    /// With an empty cache: fills it from the prompt prefix file with the keys and values of
    /// the longest prefix `prompt` shares with the prompt they were kept from, at most `most`
    /// positions, if they were computed in passes of `chunk`; how many that is (0 with no
    /// file, or nothing shared).
    pub fn restore_prefix(&mut self, prompt: &[u32], most: usize, chunk: usize) -> usize {
        let per_position = self.floats_per_position();
        let Some(file) = self.prefix_file.as_mut().filter(|_| self.cached == 0 && most > 0) else { return 0 };
        let Some(prefix_file::Kept { tokens, floats }) = file.read(per_position, chunk) else { return 0 };
        let n = tokens.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(most);
        if n == 0 {
            return 0;
        }
        // Per layer: keys then values, each head's rows for the file's positions in turn.
        let (heads, dim, kept) = (self.config.kv_heads, self.config.head_dim, tokens.len());
        let mut rows = Vec::with_capacity(heads * n * dim);
        for (layer, stored) in floats.chunks_exact(2 * heads * kept * dim).take(self.layers.len()).enumerate() {
            for (side, stored) in [Side::Keys, Side::Values].into_iter().zip(stored.chunks_exact(heads * kept * dim)) {
                rows.clear();
                for head in stored.chunks_exact(kept * dim) {
                    rows.extend_from_slice(&head[..n * dim]);
                }
                self.cache.write(layer, side, &rows, n, 0);
            }
        }
        self.cached = n;
        n
    }

    /// Keeps the keys and values of the first `tokens.len()` cached positions, which hold
    /// `tokens` and were computed in passes of `chunk`, in the prompt prefix file for the next
    /// process (unless it holds them already).
    pub fn keep_prefix(&mut self, tokens: &[u32], chunk: usize) {
        let per_position = self.floats_per_position();
        let n = tokens.len();
        let Some(file) = self.prefix_file.as_mut().filter(|f| n > 0 && n <= self.cached && !f.holds(tokens, chunk))
        else {
            return;
        };
        let mut floats = Vec::with_capacity(n * per_position);
        for layer in 0..self.layers.len() {
            for side in [Side::Keys, Side::Values] {
                for h in 0..self.config.kv_heads {
                    for rows in self.cache.head(layer, side, h, n) {
                        floats.extend_from_slice(rows);
                    }
                }
            }
        }
        file.write(tokens.to_vec(), chunk, floats, per_position);
    }

    /// Runs `tokens` at positions `pos..` (the cache must hold at least `pos` positions; any
    /// beyond are dropped) and returns the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        self.run(tokens, pos, false)
    }

    /// Like `forward`, but returns the logits of every position (`tokens.len()` rows), as
    /// checking guessed tokens needs.
    pub fn forward_each(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        self.run(tokens, pos, true)
    }

    fn run(&mut self, tokens: &[u32], pos: usize, every: bool) -> Result<Tensor> {
        let seq = tokens.len();
        // The generator checks each request before it gets here (`Generator::pass`).
        debug_assert!(seq > 0 && pos <= self.cached && pos + seq <= self.config.context);
        // Until this pass completes, only the first `pos` positions are trustworthy.
        self.cached = pos;
        let x = self.embed(tokens)?;
        // One token, or guessed tokens being checked: row by row, each attending as a single
        // step would.
        let logits = if seq == 1 || every { self.run_rows(x, pos, every)? } else { self.run_prompt(x, pos)? };
        self.cached = pos + seq;
        Ok(logits)
    }

    /// The token table's rows of `tokens`, `(tokens, hidden)`.
    fn embed(&self, tokens: &[u32]) -> Result<Tensor> {
        Ok(match &self.embeddings {
            TokenTable::Tiled(q) => q.rows(tokens)?,
            TokenTable::Candle(t) => t.embedding(&Tensor::new(tokens, &self.device)?)?,
        })
    }

    /// A prompt's pass over the token table's rows `x`: plain rows of floats between the
    /// products, as in `run_rows`, and attention under a causal mask in candle's tensor ops; the
    /// logits of the last position. Of the last layer, only the last position's output is used
    /// (the cache keeps every position's keys and values, which come before it): past its
    /// attention, where its products are tiled, it runs that position alone. The tiled products
    /// and the norms give a row the same bits alone as among others, so the logits are those of
    /// the whole pass (candle's products need not: a lone row takes another summation order
    /// there).
    fn run_prompt(&mut self, x: Tensor, pos: usize) -> Result<Tensor> {
        Ok(self.prompt_pass(x, pos, true)?.0)
    }

    /// `run_prompt`, whose last layer runs every position when `trim` is false (the reference a
    /// test compares the trimmed pass with); also whether the last layer ran its last position
    /// alone.
    fn prompt_pass(&mut self, x: Tensor, pos: usize, trim: bool) -> Result<(Tensor, bool)> {
        let c = &self.config;
        let (seq, hidden, eps) = (x.dim(0)?, c.hidden, c.rms_eps as f32);
        let mut x = x.flatten_all()?.to_vec1::<f32>()?;
        let rope = Rope::new(c, pos, seq, true, &self.device)?;
        let last_layer = self.layers.len().saturating_sub(1);
        let mut rows = seq;
        for (l, layer) in self.layers.iter().enumerate() {
            let h = normed(&x, &layer.attn_norm, hidden, eps);
            let cache = Place { cache: &mut self.cache, layer: l };
            let mut mixed = attention(c, layer, cache, &h, seq, pos, &rope)?;
            if trim && l == last_layer && layer.wo.is_tiled() && layer.gate_up.is_tiled() && layer.down.is_tiled() {
                x.drain(..(seq - 1) * hidden);
                mixed.drain(..(seq - 1) * c.heads * c.head_dim);
                rows = 1;
            }
            add_rows(&mut x, &layer.wo.forward_rows(&mixed, rows)?);
            let h = normed(&x, &layer.ffn_norm, hidden, eps);
            add_rows(&mut x, &layer.down.forward_rows(&layer.gate_up.silu_gated_rows(&h, rows)?, rows)?);
        }
        Ok((self.logits(&x, 1, false)?, rows < seq))
    }

    /// A pass of one token, or of guessed tokens being checked, over the token table's rows
    /// `x`: plain rows of floats between the products, with the arithmetic of candle's ops
    /// (`rms_norm`, additions) but none of a tensor's allocations and copies; the logits of the
    /// last position, or of `every` one.
    fn run_rows(&mut self, x: Tensor, pos: usize, every: bool) -> Result<Tensor> {
        let c = &self.config;
        let seq = x.dim(0)?;
        let hidden = c.hidden;
        let mut x = x.flatten_all()?.to_vec1::<f32>()?;
        let rope = Rope::new(c, pos, seq, false, &self.device)?;
        let kernels = VectorKernels::for_path(self.kernels);
        let eps = c.rms_eps as f32;
        for (l, layer) in self.layers.iter().enumerate() {
            let h = normed(&x, &layer.attn_norm, hidden, eps);
            let cache = Place { cache: &mut self.cache, layer: l };
            add_rows(&mut x, &attention_rows(c, layer, cache, &h, seq, pos, &rope, kernels)?);
            let h = normed(&x, &layer.ffn_norm, hidden, eps);
            add_rows(&mut x, &layer.down.forward_rows(&layer.gate_up.silu_gated_rows(&h, seq)?, seq)?);
        }
        self.logits(&x, if every { seq } else { 1 }, every)
    }

    /// The logits of the last `rows` rows of the residual stream `x`: `(rows, vocabulary)` when
    /// `every`, else the one row's `(vocabulary)`.
    fn logits(&self, x: &[f32], rows: usize, every: bool) -> Result<Tensor> {
        let hidden = self.config.hidden;
        let last = normed(&x[x.len() - rows * hidden..], &self.norm, hidden, self.config.rms_eps as f32);
        let logits = self.output.forward_rows(&last, rows)?;
        let width = logits.len() / rows;
        Ok(if every {
            Tensor::from_vec(logits, (rows, width), &self.device)?
        } else {
            Tensor::from_vec(logits, width, &self.device)?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;
    use crate::test_models::{write_tiny_gguf, TinySpec, TILED_CASES};

    #[test]
    fn a_prompts_last_layer_run_for_its_last_position_alone_gives_the_whole_passs_logits() {
        // Every tiled block type, with biases (qwen2) and per-head norms (qwen3), on every
        // kernel path this CPU runs: passes of 8 tokens from the start (the last row among
        // four-token runs in the whole pass, alone when trimmed) and of 5 after 8 cached.
        let dir = tempfile::tempdir().unwrap();
        for (arch, dtype) in TILED_CASES {
            let spec = TinySpec::wide(arch, dtype);
            let path = dir.path().join(format!("{arch:?}-{dtype:?}.gguf"));
            write_tiny_gguf(&path, &spec).unwrap();
            let gguf = GgufFile::open(&path).unwrap();
            for kernels in KernelPath::available() {
                let config = Config::from_gguf(&gguf.content).unwrap();
                let (mut d, _) =
                    Decoder::load(&path, &gguf.content, config, WeightLayout::Tiled, kernels, None).unwrap();
                let tokens: Vec<u32> = (0..13u32).map(|i| i * 37 % d.vocabulary() as u32).collect();
                for (pos, seq) in [(0, 8), (8, 5)] {
                    let x = d.embed(&tokens[pos..pos + seq]).unwrap();
                    let (whole, whole_trimmed) = d.prompt_pass(x.clone(), pos, false).unwrap();
                    // The same keys and values again, then the last layer for the last row.
                    let (alone, trimmed) = d.prompt_pass(x, pos, true).unwrap();
                    let case = format!("{arch:?} {dtype:?} on {kernels}, {seq} tokens after {pos}");
                    assert!(!whole_trimmed && trimmed, "{case}: the last layer was trimmed only when asked");
                    let bits = |t: &Tensor| t.to_vec1::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&whole), bits(&alone), "{case}");
                    d.cached = pos + seq;
                }
            }
        }
    }
}
