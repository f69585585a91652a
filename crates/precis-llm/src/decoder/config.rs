//! The decoder's shape and numeric settings (`Config`), read from a GGUF file's metadata, or
//! the reason the file needs candle's implementation instead.

use candle_core::quantized::gguf_file::Content;

use crate::gguf::Architecture;

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
        let arch_name =
            meta.get("general.architecture").and_then(|v| v.to_string().ok()).ok_or("no general.architecture")?.clone();
        let architecture = match arch_name.as_str() {
            "llama" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            "qwen3" => Architecture::Qwen3,
            other => return Err(format!("architecture {other} runs on candle's implementation")),
        };
        let int = |key: &str| -> std::result::Result<usize, String> {
            let full = format!("{arch_name}.{key}");
            meta.get(&full)
                .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
                .map(|v| v as usize)
                .ok_or(format!("no integer `{full}`"))
        };
        let float =
            |key: &str| -> Option<f32> { meta.get(&format!("{arch_name}.{key}")).and_then(|v| v.to_f32().ok()) };
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
