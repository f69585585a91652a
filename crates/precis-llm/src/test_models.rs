//! Tiny GGUF generators with random weights, written on the spot for tests and benchmarks of
//! the machinery (loading, tokenizer, templates, generation, stop conditions) without any
//! download. Each supported architecture can be written; the vocabulary is a small byte-level
//! BPE with ChatML special tokens.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::gguf::Architecture;

pub use candle_core::quantized::gguf_file::Value;
pub use candle_core::quantized::GgmlDType;

/// A tiny model of every block type with tiled kernels, on the architectures that use them
/// (qwen2 with biases, qwen3 with per-head norms); `TinySpec::wide` gives them a width the
/// K-quants fit.
pub const TILED_CASES: [(Architecture, GgmlDType); 5] = [
    (Architecture::Llama, GgmlDType::Q4_1),
    (Architecture::Llama, GgmlDType::Q5_0),
    (Architecture::Qwen2, GgmlDType::Q8_0),
    (Architecture::Qwen2, GgmlDType::Q4K),
    (Architecture::Qwen3, GgmlDType::Q6K),
];

/// Shape of a tiny model.
#[derive(Debug, Clone)]
pub struct TinySpec {
    pub architecture: Architecture,
    pub embedding: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub feed_forward: usize,
    pub context: usize,
    /// Weight type of the matrices (F32 or a block type whose block divides `embedding`).
    pub dtype: GgmlDType,
    /// Whether to store a chat template in the file (else the bundled fallback is used).
    pub with_template: bool,
    pub seed: u64,
}

impl TinySpec {
    /// A tiny model of `dtype` whose rows are 256 values wide, one K-quant super-block.
    pub fn wide(architecture: Architecture, dtype: GgmlDType) -> TinySpec {
        TinySpec { dtype, embedding: 256, feed_forward: 256, ..TinySpec::new(architecture) }
    }

    pub fn new(architecture: Architecture) -> TinySpec {
        TinySpec {
            architecture,
            embedding: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            feed_forward: 128,
            context: 2048,
            dtype: GgmlDType::Q8_0,
            with_template: true,
            seed: 7,
        }
    }
}

/// Merges of the tiny vocabulary, in priority order (byte-level strings; `Ġ` is a space).
const MERGES: &[(&str, &str)] = &[
    ("Ġ", "t"),
    ("h", "e"),
    ("Ġt", "he"),
    ("i", "n"),
    ("e", "r"),
    ("a", "n"),
    ("Ġ", "a"),
    ("o", "n"),
    ("r", "e"),
    ("Ġ", "s"),
    ("e", "d"),
    ("in", "g"),
];

/// The ChatML special tokens of the tiny vocabulary, after the byte and merge tokens.
pub const SPECIAL_TOKENS: &[&str] = &["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// GPT-2's reversible byte-to-character table: printable bytes stand for themselves, the rest
/// are shifted above U+0100.
pub fn byte_chars() -> Vec<char> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut shifted = 0u32;
    (0u32..256)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap_or('?')
            } else {
                shifted += 1;
                char::from_u32(255 + shifted).unwrap_or('?')
            }
        })
        .collect()
}

/// The tiny vocabulary: 256 byte tokens, the merged tokens, then the special tokens.
pub fn vocabulary() -> (Vec<String>, Vec<i32>) {
    let mut tokens: Vec<String> = byte_chars().into_iter().map(String::from).collect();
    for (a, b) in MERGES {
        tokens.push(format!("{a}{b}"));
    }
    let mut types = vec![1i32; tokens.len()];
    for s in SPECIAL_TOKENS {
        tokens.push(s.to_string());
        types.push(3);
    }
    (tokens, types)
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::Array(items.into_iter().map(Value::String).collect())
}

/// Writes a tiny random-weight generator of the given shape to `path`.
pub fn write_tiny_gguf(path: &Path, spec: &TinySpec) -> Result<()> {
    let arch = spec.architecture.name();
    let (tokens, types) = vocabulary();
    let vocab = tokens.len();
    let head_dim = spec.embedding / spec.heads;
    let id = |t: &str| tokens.iter().position(|x| x == t).unwrap_or(0) as u32;

    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        ("general.name".into(), Value::String(format!("tiny-{arch}"))),
        // candle's qwen3 computes its rotation tables in this dtype (0 = f32) and takes f16
        // when it is missing; f32 keeps the tiny models comparable with Precis's decoder.
        ("general.dtype".into(), Value::U32(0)),
        (format!("{arch}.context_length"), Value::U32(spec.context as u32)),
        (format!("{arch}.embedding_length"), Value::U32(spec.embedding as u32)),
        (format!("{arch}.block_count"), Value::U32(spec.layers as u32)),
        (format!("{arch}.feed_forward_length"), Value::U32(spec.feed_forward as u32)),
        (format!("{arch}.attention.head_count"), Value::U32(spec.heads as u32)),
        (format!("{arch}.attention.head_count_kv"), Value::U32(spec.kv_heads as u32)),
        (format!("{arch}.attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
        (format!("{arch}.rope.freq_base"), Value::F32(10000.0)),
        (format!("{arch}.rope.dimension_count"), Value::U32(head_dim as u32)),
        (format!("{arch}.attention.key_length"), Value::U32(head_dim as u32)),
        (format!("{arch}.attention.value_length"), Value::U32(head_dim as u32)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("qwen2".into())),
        ("tokenizer.ggml.tokens".into(), strings(tokens.iter().cloned())),
        ("tokenizer.ggml.token_type".into(), Value::Array(types.iter().map(|t| Value::I32(*t)).collect())),
        ("tokenizer.ggml.merges".into(), strings(MERGES.iter().map(|(a, b)| format!("{a} {b}")))),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(id("<|endoftext|>"))),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(id("<|im_end|>"))),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)),
    ];
    if spec.architecture == Architecture::Gemma3 {
        meta.push((format!("{arch}.attention.sliding_window"), Value::U32(64)));
    }
    if spec.with_template {
        meta.push(("tokenizer.chat_template".into(), Value::String(CHATML_TEMPLATE.into())));
    }

    let device = Device::Cpu;
    let mut rng = Lcg(spec.seed | 1);
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut matrix = |name: String, rows: usize, cols: usize, rng: &mut Lcg| -> Result<()> {
        let scale = 1.0 / (cols as f32).sqrt();
        let data: Vec<f32> = (0..rows * cols).map(|_| rng.next() * scale).collect();
        let t = Tensor::from_vec(data, (rows, cols), &device)?;
        tensors.push((name, QTensor::quantize(&t, spec.dtype)?));
        Ok(())
    };
    let q_dim = spec.heads * head_dim;
    let kv_dim = spec.kv_heads * head_dim;
    matrix("token_embd.weight".into(), vocab, spec.embedding, &mut rng)?;
    matrix("output.weight".into(), vocab, spec.embedding, &mut rng)?;
    for l in 0..spec.layers {
        let p = format!("blk.{l}");
        matrix(format!("{p}.attn_q.weight"), q_dim, spec.embedding, &mut rng)?;
        matrix(format!("{p}.attn_k.weight"), kv_dim, spec.embedding, &mut rng)?;
        matrix(format!("{p}.attn_v.weight"), kv_dim, spec.embedding, &mut rng)?;
        matrix(format!("{p}.attn_output.weight"), spec.embedding, q_dim, &mut rng)?;
        matrix(format!("{p}.ffn_gate.weight"), spec.feed_forward, spec.embedding, &mut rng)?;
        matrix(format!("{p}.ffn_up.weight"), spec.feed_forward, spec.embedding, &mut rng)?;
        matrix(format!("{p}.ffn_down.weight"), spec.embedding, spec.feed_forward, &mut rng)?;
    }
    // Vectors (norm weights, biases) stay in F32, as converters write them.
    let mut vector = |name: String, len: usize, base: f32, spread: f32, rng: &mut Lcg| -> Result<()> {
        let data: Vec<f32> = (0..len).map(|_| base + rng.next() * spread).collect();
        let t = Tensor::from_vec(data, len, &device)?;
        tensors.push((name, QTensor::quantize(&t, GgmlDType::F32)?));
        Ok(())
    };
    // Gemma stores norm weights as offsets from one.
    let norm_base = if spec.architecture == Architecture::Gemma3 { 0.0 } else { 1.0 };
    vector("output_norm.weight".into(), spec.embedding, norm_base, 0.1, &mut rng)?;
    for l in 0..spec.layers {
        let p = format!("blk.{l}");
        vector(format!("{p}.attn_norm.weight"), spec.embedding, norm_base, 0.1, &mut rng)?;
        vector(format!("{p}.ffn_norm.weight"), spec.embedding, norm_base, 0.1, &mut rng)?;
        match spec.architecture {
            Architecture::Qwen2 => {
                vector(format!("{p}.attn_q.bias"), q_dim, 0.0, 0.1, &mut rng)?;
                vector(format!("{p}.attn_k.bias"), kv_dim, 0.0, 0.1, &mut rng)?;
                vector(format!("{p}.attn_v.bias"), kv_dim, 0.0, 0.1, &mut rng)?;
            }
            Architecture::Qwen3 => {
                vector(format!("{p}.attn_q_norm.weight"), head_dim, 1.0, 0.1, &mut rng)?;
                vector(format!("{p}.attn_k_norm.weight"), head_dim, 1.0, 0.1, &mut rng)?;
            }
            Architecture::Gemma3 => {
                vector(format!("{p}.attn_q_norm.weight"), head_dim, 0.0, 0.1, &mut rng)?;
                vector(format!("{p}.attn_k_norm.weight"), head_dim, 0.0, 0.1, &mut rng)?;
                vector(format!("{p}.post_attention_norm.weight"), spec.embedding, 0.0, 0.1, &mut rng)?;
                vector(format!("{p}.post_ffw_norm.weight"), spec.embedding, 0.0, 0.1, &mut rng)?;
            }
            Architecture::Llama => {}
        }
    }

    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut file, &meta_refs, &tensor_refs)?;
    Ok(())
}

/// Writes a GGUF file with this metadata and no tensors, for tests of what the header checks
/// catch.
pub fn write_gguf_header(path: &Path, metadata: &[(&str, &Value)]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    gguf_file::write(&mut file, metadata, &[])?;
    Ok(())
}

/// A small deterministic generator of values in [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}
