//! A loaded generator: the GGUF weights of one supported architecture on candle's quantized
//! CPU kernels, with its tokenizer and chat template, behind one `forward` that returns the
//! next-token logits.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2, quantized_qwen3};

use crate::error::{Error, Result};
use crate::gguf::{Architecture, GgufFile, ModelProps};
use crate::template::ChatTemplate;
use crate::tokenizer::TextTokenizer;

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
}

/// A generator ready to run.
pub struct Generator {
    weights: Weights,
    pub tokenizer: TextTokenizer,
    pub template: ChatTemplate,
    pub props: ModelProps,
    /// How long loading took.
    pub load_time: Duration,
    device: Device,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("props", &self.props)
            .field("tokenizer", &self.tokenizer)
            .finish()
    }
}

impl Generator {
    /// Loads a GGUF generator: header and tokenizer first (cheap, and where most broken files
    /// are caught), then the weights.
    pub fn load(path: &Path) -> Result<Generator> {
        let start = Instant::now();
        let gguf = GgufFile::open(path)?;
        let props = gguf.props()?;
        let tokenizer = TextTokenizer::from_gguf(&gguf)?;
        let token_string = |id: Option<u32>| {
            id.and_then(|id| tokenizer.token_text(id))
                .unwrap_or_default()
        };
        let template = ChatTemplate::new(
            props.chat_template.as_deref(),
            props.architecture,
            |t| tokenizer.token_id(t).is_some(),
            token_string(tokenizer.bos),
            token_string(tokenizer.eos),
        );
        let device = Device::Cpu;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let corrupt = |e: candle_core::Error| Error::ModelCorrupt {
            path: path.to_path_buf(),
            reason: format!("loading the weights failed ({e})"),
        };
        let GgufFile { content, .. } = gguf;
        let weights = match props.architecture {
            Architecture::Llama => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(corrupt)?,
            ),
            Architecture::Qwen2 => Weights::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(corrupt)?,
            ),
            Architecture::Qwen3 => Weights::Qwen3(
                quantized_qwen3::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(corrupt)?,
            ),
            Architecture::Gemma3 => Weights::Gemma3(
                quantized_gemma3::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(corrupt)?,
            ),
        };
        Ok(Generator {
            weights,
            tokenizer,
            template,
            props,
            load_time: start.elapsed(),
            device,
        })
    }

    /// Runs `tokens` at positions `pos..` through the model and returns the logits of the
    /// last position as a vector over the vocabulary. The KV cache is extended; `pos == 0`
    /// starts a new sequence.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
        if pos == 0 {
            self.clear();
        }
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Llama(m) => m.forward(&input, pos)?,
            Weights::Qwen2(m) => m.forward(&input, pos)?,
            Weights::Qwen3(m) => m.forward(&input, pos)?,
            Weights::Gemma3(m) => m.forward(&input, pos)?,
        };
        Ok(logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?.to_vec1()?)
    }

    /// Forgets the KV cache.
    pub fn clear(&mut self) {
        match &mut self.weights {
            Weights::Llama(m) => m.clear_kv_cache(),
            Weights::Qwen2(m) => m.clear_kv_cache(),
            Weights::Qwen3(m) => m.clear_kv_cache(),
            // Gemma 3's cache restarts by itself at position 0.
            Weights::Gemma3(_) => {}
        }
    }
}

/// Checks that a file is a GGUF generator this build can run, without loading its weights:
/// the header is whole, the architecture is supported, and the tokenizer can be built.
pub fn inspect(path: &Path) -> Result<ModelProps> {
    let gguf = GgufFile::open(path)?;
    let props = gguf.props()?;
    TextTokenizer::from_gguf(&gguf)?;
    Ok(props)
}
