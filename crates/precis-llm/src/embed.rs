//! Sentence embeddings: a BERT sentence encoder (all-MiniLM-L6-v2 in the catalog) loaded from
//! `model.safetensors`, `tokenizer.json` and `config.json`, run on candle, mean-pooled over the
//! real tokens and L2-normalized, so a dot product of two embeddings is their cosine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::Tokenizer;

use crate::cancel::CancelToken;
use crate::error::{Error, Result};

/// Longest input, in tokens; longer sentences are cut (as sentence-transformers does).
pub const MAX_TOKENS: usize = 256;
/// Sentences embedded in one forward pass.
const BATCH: usize = 16;
/// Longest text handed to the tokenizer, in bytes; a longer one is cut (at a character boundary)
/// first. `MAX_TOKENS` tokens of prose take about 1.5 KB, so this changes nothing an article
/// says, and a hostile 50 MB "sentence" costs no more to tokenize than this.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// A loaded sentence encoder.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    pub dim: usize,
    pub load_time: Duration,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dim", &self.dim).finish()
    }
}

/// The three files of an embedder in `dir`.
pub fn files(dir: &Path) -> [PathBuf; 3] {
    [dir.join("model.safetensors"), dir.join("tokenizer.json"), dir.join("config.json")]
}

impl Embedder {
    /// Loads the encoder whose files are in `dir`; files that make the model code panic are a
    /// damaged model.
    pub fn load(dir: &Path) -> Result<Embedder> {
        crate::generator::contained(dir, || Self::load_unchecked(dir))
    }

    fn load_unchecked(dir: &Path) -> Result<Embedder> {
        let start = Instant::now();
        let [weights, tokenizer_path, config_path] = files(dir);
        let config_text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| Error::ModelCorrupt {
            path: config_path.clone(),
            reason: format!("not a BERT config ({e})"),
        })?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| Error::ModelCorrupt {
            path: tokenizer_path.clone(),
            reason: format!("not a tokenizer.json ({e})"),
        })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        if !weights.is_file() {
            return Err(Error::io(&weights, std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
        // SAFETY: the file is mapped read-only and not modified while the model lives.
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &Device::Cpu) }.map_err(|e| {
                Error::ModelCorrupt { path: weights.clone(), reason: format!("reading the weights failed ({e})") }
            })?;
        let model = BertModel::load(vb, &config).map_err(|e| Error::ModelCorrupt {
            path: weights.clone(),
            reason: format!("loading the weights failed ({e})"),
        })?;
        Ok(Embedder { model, tokenizer, dim: config.hidden_size, load_time: start.elapsed() })
    }

    /// Embeds each text: mean of the last hidden states over its tokens, L2-normalized.
    /// Texts are batched by length, so little time goes into padding.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.embed_until(texts, &CancelToken::new())?.unwrap_or_default())
    }

    /// `embed`, looking at `cancel` before each batch: `None` once it is cancelled. Each text
    /// is cut to `MAX_TEXT_BYTES` first.
    pub fn embed_until(&self, texts: &[&str], cancel: &CancelToken) -> Result<Option<Vec<Vec<f32>>>> {
        let texts: Vec<&str> = texts.iter().map(|t| cut(t, MAX_TEXT_BYTES)).collect();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(Some(out))
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = texts
            .iter()
            .map(|t| self.tokenizer.encode(*t, true).map_err(|e| Error::Tokenizer(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let len = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(1).max(1);
        let n = texts.len();
        let mut ids = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (i, e) in encodings.iter().enumerate() {
            for (j, &id) in e.get_ids().iter().enumerate() {
                ids[i * len + j] = id;
                mask[i * len + j] = 1;
            }
        }
        let device = Device::Cpu;
        let ids = Tensor::from_vec(ids, (n, len), &device)?;
        let mask = Tensor::from_vec(mask, (n, len), &device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
        let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (n, dim)
        let counts = maskf.sum(1)?.clamp(1e-9, f64::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norm)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// The longest start of `text` of at most `max` bytes that ends at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Dot product (the cosine of two normalized vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
