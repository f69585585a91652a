//! A loaded generator: the GGUF weights of one supported architecture with its tokenizer and
//! chat template, behind one `forward` that returns the next-token logits. llama, qwen2 and
//! qwen3 run on Precis's decoder (`crate::decoder`), gemma3 on candle's model. It remembers
//! which tokens its KV cache holds, so a prompt that starts like the previous one only runs
//! its new tail (on Precis's decoder; candle's models cannot cut their cache back), and it
//! checks every request against that cache and the model's context before running it.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2, quantized_qwen3};

use crate::decoder::{self, Decoder, TileSource, WeightLayout};
use crate::error::{Error, Result};
use crate::gguf::{Architecture, GgufFile, ModelProps};
use crate::kernels::cpu::KernelPath;
use crate::template::ChatTemplate;
use crate::tokenizer::TextTokenizer;

/// Most leading prompt tokens whose keys and values `keep_prefix` keeps for the next process:
/// the system message every summary prompt opens with (46 tokens on the default model) and
/// some of the article, in a file of 7 MB on the default model.
pub const KEPT_PREFIX_TOKENS: usize = 128;

enum Weights {
    Precis(Box<Decoder>),
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
    /// Where the tiled matrices came from: built, or mapped from the tile cache.
    pub tile_source: TileSource,
    /// Size of the model file, a guide to how fast it runs.
    pub weights_bytes: u64,
    device: Device,
    /// The tokens whose keys and values the model's cache holds, in order.
    cached: Vec<u32>,
    /// How the prompt at the start of the cache was run (`prompt_ran`), if it is known.
    passes: Option<PromptPasses>,
}

/// How a prompt was run: its length and the tokens per pass. A position's keys and values are
/// those a run of another prompt from scratch would compute only if the pass that computed them
/// ended where that run's pass ends: both end at the same multiple of `chunk`, or at the same
/// prompt length (a prompt's attention sums over its pass's positions, and another number of
/// them can change the last bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PromptPasses {
    len: usize,
    chunk: usize,
}

/// The first positions of a prompt of `len` tokens that its passes of `chunk` (at least 1) run
/// in full.
fn in_full_passes(len: usize, chunk: usize) -> usize {
    len / chunk * chunk
}

/// Which transformer code runs the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Precis's decoder (`crate::decoder`) where it supports the file, else candle's.
    Precis,
    /// candle-transformers' quantized models.
    Candle,
}

/// How to load a generator.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub backend: Backend,
    /// How Precis's decoder holds the weights (candle's models load them as stored).
    pub layout: WeightLayout,
    /// The instruction set of Precis's tiled kernels; `None` for what `PRECIS_KERNELS` asks
    /// for, or else the fastest this CPU runs (`KernelPath::from_env`).
    pub kernels: Option<KernelPath>,
    /// The directory of the tile cache (`decoder::tile_cache`): tiles built at a first load are
    /// kept there and mapped by later loads, and the keys and values of the last prompt's
    /// first tokens are kept beside them (`Generator::keep_prefix`). `None` builds the tiles at
    /// every load and keeps no prompt.
    pub tile_cache: Option<PathBuf>,
}

impl Default for LoadOptions {
    /// Precis's decoder on the tiled kernels; on 64-bit ARM, where those have only the portable
    /// (scalar) path, on candle's quantized kernels, which have NEON ones, unless `PRECIS_KERNELS`
    /// asks for a tiled path.
    fn default() -> Self {
        let arm = cfg!(target_arch = "aarch64") && std::env::var_os(crate::kernels::cpu::KERNELS_VAR).is_none();
        let layout = if arm { WeightLayout::AsStored } else { WeightLayout::Tiled };
        LoadOptions { backend: Backend::Precis, layout, kernels: None, tile_cache: None }
    }
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator").field("props", &self.props).field("tokenizer", &self.tokenizer).finish()
    }
}

impl Generator {
    /// Loads a GGUF generator: header and tokenizer first (cheap, and where most broken files
    /// are caught), then the weights.
    pub fn load(path: &Path) -> Result<Generator> {
        Self::load_with(path, LoadOptions::default())
    }

    /// `load`, choosing the implementation, weight layout and kernels. A kernel path this CPU
    /// cannot run (asked for here or in `PRECIS_KERNELS`) is an error. A file that makes the
    /// model code panic (an assertion in candle that the header checks did not foresee) is a
    /// damaged model.
    pub fn load_with(path: &Path, options: LoadOptions) -> Result<Generator> {
        contained(path, || Self::load_unchecked(path, options))
    }

    fn load_unchecked(path: &Path, options: LoadOptions) -> Result<Generator> {
        let start = Instant::now();
        let kernels = match options.kernels {
            Some(path) => KernelPath::choose(path.name())?,
            None => KernelPath::from_env()?,
        };
        let gguf = GgufFile::open(path)?;
        let props = gguf.props()?;
        let config = match options.backend {
            Backend::Precis => decoder::Config::from_gguf(&gguf.content)
                .map_err(|why| tracing::debug!(%why, "using candle's model"))
                .ok(),
            Backend::Candle => None,
        };
        // The tokenizer (a qwen2.5 model's takes about 0.14 s to build) is built on a thread of
        // its own while the decoder loads.
        let header = start.elapsed();
        let (tokenizer, decoder, decoder_time) = std::thread::scope(|scope| {
            let tokenizer = scope.spawn(|| {
                let began = Instant::now();
                (TextTokenizer::from_gguf(&gguf), began.elapsed())
            });
            let began = Instant::now();
            let decoder = config.map(|config| {
                Decoder::load(path, &gguf.content, config, options.layout, kernels, options.tile_cache.as_deref())
            });
            let decoder_time = began.elapsed();
            let tokenizer = tokenizer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (tokenizer, decoder, decoder_time)
        });
        let (tokenizer, tokenizer_time) = tokenizer;
        tracing::debug!(
            ?header,
            ?tokenizer_time,
            ?decoder_time,
            "loading: header read, then tokenizer and decoder side by side"
        );
        let tokenizer = tokenizer?;
        let token_string = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id)).unwrap_or_default();
        let template = ChatTemplate::new(
            props.chat_template.as_deref(),
            props.architecture,
            |t| tokenizer.token_id(t).is_some(),
            token_string(tokenizer.bos),
            token_string(tokenizer.eos),
        );
        let device = Device::Cpu;
        let mut tile_source = TileSource::Built;
        let weights = if let Some(loaded) = decoder {
            let (decoder, tiles) = loaded?;
            tile_source = tiles;
            if tokenizer.vocab_size() > decoder.vocabulary() {
                return Err(Error::ModelCorrupt {
                    path: path.to_path_buf(),
                    reason: format!(
                        "its tokenizer has {} tokens but its token table only {} rows",
                        tokenizer.vocab_size(),
                        decoder.vocabulary()
                    ),
                });
            }
            Weights::Precis(Box::new(decoder))
        } else {
            Self::candle_weights(path, props.architecture, gguf.content, &device)?
        };
        let weights_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        Ok(Generator {
            weights,
            tokenizer,
            template,
            props,
            load_time: start.elapsed(),
            tile_source,
            weights_bytes,
            device,
            cached: Vec::new(),
            passes: None,
        })
    }

    fn candle_weights(
        path: &Path,
        architecture: Architecture,
        content: candle_core::quantized::gguf_file::Content,
        device: &Device,
    ) -> Result<Weights> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let corrupt = |e: candle_core::Error| Error::ModelCorrupt {
            path: path.to_path_buf(),
            reason: format!("loading the weights failed ({e})"),
        };
        Ok(match architecture {
            Architecture::Llama => {
                Weights::Llama(quantized_llama::ModelWeights::from_gguf(content, &mut reader, device).map_err(corrupt)?)
            }
            Architecture::Qwen2 => {
                Weights::Qwen2(quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, device).map_err(corrupt)?)
            }
            Architecture::Qwen3 => {
                Weights::Qwen3(quantized_qwen3::ModelWeights::from_gguf(content, &mut reader, device).map_err(corrupt)?)
            }
            Architecture::Gemma3 => Weights::Gemma3(
                quantized_gemma3::ModelWeights::from_gguf(content, &mut reader, device).map_err(corrupt)?,
            ),
        })
    }

    /// Whether a prompt may run in several passes. candle's gemma3 cannot continue a prompt:
    /// the mask it builds for a pass after cached positions joins an f32 block to a u32 one
    /// and fails (and would hide the cached positions), so its prompts run in one pass.
    pub fn takes_prompt_in_chunks(&self) -> bool {
        !matches!(self.weights, Weights::Gemma3(_))
    }

    /// Whether the loaded weights run on Precis's decoder (and so can reuse a prefix).
    pub fn on_precis_decoder(&self) -> bool {
        matches!(self.weights, Weights::Precis(_))
    }

    /// Whether guessed tokens can be checked in one pass (`forward_each`) with exactly the
    /// logits single steps would give: Precis's decoder with every product on the tiled
    /// kernels, which give each row of a product the same bits as it would get alone.
    pub fn checks_guesses(&self) -> bool {
        matches!(&self.weights, Weights::Precis(d) if d.all_tiled())
    }

    /// The instruction set Precis's tiled kernels run on; `None` on candle's models.
    pub fn kernel_path(&self) -> Option<KernelPath> {
        match &self.weights {
            Weights::Precis(d) => Some(d.kernels()),
            _ => None,
        }
    }

    /// Bytes of weights one decoded token reads, on Precis's decoder (`None` on candle's).
    pub fn step_weight_bytes(&self) -> Option<usize> {
        match &self.weights {
            Weights::Precis(d) => Some(d.step_weight_bytes()),
            _ => None,
        }
    }

    /// The tokens the KV cache holds.
    pub fn cached_tokens(&self) -> &[u32] {
        &self.cached
    }

    /// How many leading tokens of `prompt`, to be run in passes of `chunk` tokens, are already
    /// in the cache and need not run again: those whose keys and values are bit for bit what a
    /// run from scratch would compute (see `PromptPasses`), so reusing them never changes the
    /// answer. No pass after them holds a lone token, which would take the one-token arithmetic
    /// instead of a prompt pass's: at least the last two prompt tokens run (the last one's
    /// logits are needed), and a token more when the first pass would hold one.
    ///
    /// With nothing cached (a new process, or after `clear`), the cache is first filled from
    /// the prompt prefix file, when the generator has one (`LoadOptions::tile_cache`) and it
    /// holds keys and values of tokens this prompt starts with.
    pub fn reusable_prefix(&mut self, prompt: &[u32], chunk: usize) -> usize {
        let Weights::Precis(d) = &mut self.weights else { return 0 };
        let chunk = chunk.max(1);
        let most = prompt.len().saturating_sub(2);
        let full = in_full_passes(prompt.len(), chunk);
        let reused = if self.cached.is_empty() {
            d.truncate(0);
            let restored = d.restore_prefix(prompt, most.min(full), chunk);
            self.cached = prompt[..restored].to_vec();
            self.passes = None;
            restored
        } else if let Some(ran) = self.passes.filter(|p| p.chunk == chunk) {
            let common = self.cached.iter().zip(prompt).take_while(|(a, b)| a == b).count();
            // The same prompt length: every pass ends where it did. Otherwise only the passes
            // both prompts run in full.
            let exact = if ran.len == prompt.len() { most } else { in_full_passes(ran.len, chunk).min(full) };
            common.min(exact).min(most)
        } else {
            0
        };
        if chunk > 1 && (reused + 1).is_multiple_of(chunk) {
            reused - 1
        } else {
            reused
        }
    }

    /// Records that the cache's first `len` tokens were just run as a prompt, in passes of
    /// `chunk` (as `generate` does), for `reusable_prefix` and `keep_prefix`.
    pub fn prompt_ran(&mut self, len: usize, chunk: usize) {
        self.passes = (len <= self.cached.len()).then_some(PromptPasses { len, chunk: chunk.max(1) });
    }

    /// Keeps the keys and values of the first tokens of the prompt just run (`prompt_ran`), at
    /// most `KEPT_PREFIX_TOKENS` of those its passes ran in full, in the prompt prefix file, for
    /// the next process whose prompt starts the same way; written on a helper thread. Nothing
    /// without a file (`LoadOptions::tile_cache`).
    pub fn keep_prefix(&mut self) {
        if let (Weights::Precis(d), Some(ran)) = (&mut self.weights, self.passes) {
            let kept = in_full_passes(ran.len, ran.chunk).min(KEPT_PREFIX_TOKENS);
            d.keep_prefix(&self.cached[..kept], ran.chunk);
        }
    }

    /// Runs `tokens` at positions `pos..` through the model and returns the logits of the
    /// last position as a vector over the vocabulary. The cache keeps positions `..pos` and
    /// is extended; `pos == 0` starts a new sequence. With candle's models `pos` must be 0 or
    /// the cached length. `tokens` must not be empty, and must fit the model's context after
    /// `pos`.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
        Ok(self.pass(tokens, pos, false)?.to_vec1()?)
    }

    /// Runs `tokens` at positions `pos..` like `forward`, and returns the logits after each of
    /// them: row `i` predicts the token that follows `tokens[..=i]`. Only Precis's decoder can
    /// (see `on_precis_decoder`); the cache keeps all of `tokens`, and a later `forward` from an
    /// earlier position drops the ones not wanted.
    pub fn forward_each(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<Vec<f32>>> {
        if !self.on_precis_decoder() {
            return Err(Error::NeedsPrecisDecoder("the logits of every position"));
        }
        Ok(self.pass(tokens, pos, true)?.to_vec2()?)
    }

    /// `forward` (`every` false) or `forward_each` (true), with the cache's bookkeeping; the
    /// logits as f32. The one place a pass's request is checked: some tokens, from a position
    /// the cache reaches, within the model's context.
    fn pass(&mut self, tokens: &[u32], pos: usize, every: bool) -> Result<Tensor> {
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        if pos + tokens.len() > self.props.context_length {
            return Err(Error::PromptTooLong { tokens: pos + tokens.len(), context: self.props.context_length });
        }
        if pos == 0 {
            self.clear();
        }
        if pos > self.cached.len() || (!self.on_precis_decoder() && pos != self.cached.len()) {
            return Err(Error::CachePosition { pos, cached: self.cached.len() });
        }
        // Until the pass succeeds only the positions before `pos` are known to be cached.
        self.cached.truncate(pos);
        let logits = self.run(tokens, pos, every)?.to_dtype(candle_core::DType::F32)?;
        self.cached.extend_from_slice(tokens);
        Ok(logits)
    }

    fn run(&mut self, tokens: &[u32], pos: usize, every: bool) -> Result<Tensor> {
        if let Weights::Precis(d) = &mut self.weights {
            let on_rayon = d.all_tiled();
            let mut pass = || if every { d.forward_each(tokens, pos) } else { d.forward(tokens, pos) };
            // When every product runs on the tiled kernels, the pass runs on one of rayon's
            // workers: the products share their rows with the worker's helper threads
            // (`team`), and the tensor ops of a prompt's attention find rayon's pool at hand
            // instead of handing work to it from outside (prompts run about 10% faster).
            // candle's kernels have their own spinning pool, which rayon's awake workers would
            // compete with for the cores, so a pass that uses them stays on this thread.
            return if on_rayon { rayon::scope(|_| pass()) } else { pass() };
        }
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Precis(_) => unreachable!("handled above"),
            Weights::Llama(m) => m.forward(&input, pos)?,
            Weights::Qwen2(m) => m.forward(&input, pos)?,
            Weights::Qwen3(m) => m.forward(&input, pos)?,
            Weights::Gemma3(m) => m.forward(&input, pos)?,
        };
        Ok(logits.squeeze(0)?)
    }

    /// Forgets the KV cache.
    pub fn clear(&mut self) {
        self.cached.clear();
        self.passes = None;
        match &mut self.weights {
            Weights::Precis(d) => d.truncate(0),
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
    contained(path, || {
        let gguf = GgufFile::open(path)?;
        let props = gguf.props()?;
        TextTokenizer::from_gguf(&gguf)?;
        Ok(props)
    })
}

/// Runs `work` on the model file at `path`; a panic in it (an assertion the file reached) is
/// reported as a damaged model.
pub(crate) fn contained<T>(path: &Path, work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(Error::ModelCorrupt {
            path: path.to_path_buf(),
            reason: format!("reading it failed inside the model code ({why})"),
        })
    })
}
