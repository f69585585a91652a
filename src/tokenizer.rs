//! The tokenizer, rebuilt from a GGUF file's own metadata (`tokenizer.ggml.*`) so that one model
//! file is enough: byte-level BPE (`gpt2`, with the pre-tokenizer named by `tokenizer.ggml.pre`)
//! and SentencePiece-style BPE (`llama`), with special tokens treated the way llama.cpp treats
//! them: control tokens are matched only when parsing specials is asked for.

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const TOKEN_NORMAL: i64 = 1;
const TOKEN_UNKNOWN: i64 = 2;
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// The GPT-2 pre-tokenizer expression, shared by most byte-level BPE vocabularies.
const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Qwen2's expression: case-insensitive contractions, letters with one leading non-letter,
/// single digits, punctuation runs with trailing newlines.
const QWEN2_PATTERN: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's expression: like Qwen2's but digits in groups of up to three.
const LLAMA3_PATTERN: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A tokenizer built from GGUF metadata, with the ids that matter for generation.
#[derive(Clone)]
pub struct TextTokenizer {
    /// Control tokens in the text are parsed as special tokens (for rendered prompts).
    with_specials: Tokenizer,
    /// Control tokens in the text are plain text (for article text and `precis tokenize`).
    plain: Tokenizer,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    add_bos: bool,
    /// Tokens that end the assistant's turn.
    pub stop_tokens: Vec<u32>,
    vocab_size: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("stop_tokens", &self.stop_tokens)
            .finish()
    }
}

fn tk_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// Builds the tokenizer described by the file's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(gguf: &GgufFile) -> Result<TextTokenizer> {
        let kind = gguf.string("tokenizer.ggml.model")?;
        let tokens = gguf.strings("tokenizer.ggml.tokens")?;
        let types: Vec<i64> = match gguf.get_opt("tokenizer.ggml.token_type") {
            Some(_) => gguf
                .numbers("tokenizer.ggml.token_type")?
                .into_iter()
                .map(|x| x as i64)
                .collect(),
            None => vec![TOKEN_NORMAL; tokens.len()],
        };
        if types.len() != tokens.len() {
            return Err(Error::ModelCorrupt {
                path: gguf.path.clone(),
                reason: format!(
                    "{} token types for {} tokens",
                    types.len(),
                    tokens.len()
                ),
            });
        }
        let mut tokenizer = match kind {
            "gpt2" => byte_level_bpe(gguf, &tokens)?,
            "llama" => sentencepiece_bpe(gguf, &tokens, &types)?,
            other => {
                return Err(Error::Tokenizer(format!(
                    "tokenizer model `{other}` in {} is not supported (supported: gpt2, llama)",
                    gguf.path.display()
                )))
            }
        };

        // Control and user-defined tokens are matched whole; control tokens are special.
        let added: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| matches!(**t, TOKEN_CONTROL | TOKEN_USER_DEFINED | TOKEN_UNKNOWN))
            .filter(|(text, _)| !text.is_empty())
            .map(|(text, t)| {
                AddedToken::from(text.to_string(), *t != TOKEN_USER_DEFINED).normalized(false)
            })
            .collect();
        tokenizer.add_tokens(added).map_err(tk_err)?;

        let bos = gguf.u32_opt("tokenizer.ggml.bos_token_id");
        let eos = gguf.u32_opt("tokenizer.ggml.eos_token_id");
        let add_bos = gguf
            .bool_opt("tokenizer.ggml.add_bos_token")
            .unwrap_or(kind == "llama");

        let mut stop_tokens: Vec<u32> = Vec::new();
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
            if let Some(id) = gguf.u32_opt(key) {
                stop_tokens.push(id);
            }
        }
        // End-of-turn markers of the common chat formats, when the vocabulary has them.
        for name in ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|endoftext|>", "<|end|>"] {
            if let Some(id) = tokens.iter().position(|t| *t == name) {
                if types[id] == TOKEN_CONTROL || types[id] == TOKEN_USER_DEFINED {
                    stop_tokens.push(id as u32);
                }
            }
        }
        stop_tokens.sort_unstable();
        stop_tokens.dedup();

        let mut plain = tokenizer.clone();
        plain.set_encode_special_tokens(true);
        Ok(TextTokenizer {
            with_specials: tokenizer,
            plain,
            bos,
            eos,
            add_bos,
            stop_tokens,
            vocab_size: tokens.len(),
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Token ids of `text`, with special tokens parsed when `parse_special` is set, and with
    /// the BOS token first when the model asks for it and `add_bos` is set.
    pub fn encode(&self, text: &str, parse_special: bool, add_bos: bool) -> Result<Vec<u32>> {
        let tk = if parse_special {
            &self.with_specials
        } else {
            &self.plain
        };
        let enc = tk.encode_fast(text, false).map_err(tk_err)?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if add_bos && self.add_bos {
            if let Some(bos) = self.bos {
                ids.push(bos);
            }
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Text of `ids`; special tokens are left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.with_specials.decode(ids, true).map_err(tk_err)
    }

    /// The token's own string, if the id is in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.with_specials.id_to_token(id)
    }

    /// The id of a token given by its exact vocabulary string.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.with_specials.token_to_id(token)
    }

    pub fn is_stop(&self, id: u32) -> bool {
        self.stop_tokens.binary_search(&id).is_ok()
    }
}

fn vocab_map(tokens: &[&str]) -> Vocab {
    let mut vocab = Vocab::default();
    for (id, t) in tokens.iter().enumerate() {
        // Later duplicates (some vocabularies have them) must not steal an earlier id.
        vocab.entry(t.to_string()).or_insert(id as u32);
    }
    vocab
}

fn split(pattern: &str) -> Result<PreTokenizerWrapper> {
    Ok(Split::new(
        SplitPattern::Regex(pattern.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(tk_err)?
    .into())
}

/// Byte-level BPE (GPT-2 style): merges from `tokenizer.ggml.merges`, the pre-tokenizer chosen
/// by `tokenizer.ggml.pre` as llama.cpp chooses it.
fn byte_level_bpe(gguf: &GgufFile, tokens: &[&str]) -> Result<Tokenizer> {
    let merges: Vec<(String, String)> = gguf
        .strings("tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab_map(tokens), merges)
        .build()
        .map_err(tk_err)?;
    let pre = gguf
        .get_opt("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .map(|s| s.as_str())
        .unwrap_or("default");
    let byte_level = ByteLevel::new(false, false, false);
    let steps: Vec<PreTokenizerWrapper> = match pre {
        "qwen2" | "deepseek-r1-qwen" => vec![split(QWEN2_PATTERN)?, byte_level.into()],
        "llama3" | "llama-bpe" | "smaug-bpe" => vec![split(LLAMA3_PATTERN)?, byte_level.into()],
        // These split every digit apart before the GPT-2 expression.
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            vec![split(r"\p{N}")?, split(GPT2_PATTERN)?, byte_level.into()]
        }
        _ => vec![split(GPT2_PATTERN)?, byte_level.into()],
    };
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(PreSequence::new(steps)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    Ok(tokenizer)
}

/// SentencePiece-style BPE (`llama`): merges are recovered from the token scores (a pair merges
/// when the joined piece is in the vocabulary; higher score merges first), with byte fallback.
fn sentencepiece_bpe(gguf: &GgufFile, tokens: &[&str], types: &[i64]) -> Result<Tokenizer> {
    let scores = gguf.numbers("tokenizer.ggml.scores")?;
    let vocab = vocab_map(tokens);
    let mut merges: Vec<(f64, u32, String, String)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types[id] != TOKEN_NORMAL || piece.chars().count() < 2 {
            continue;
        }
        let score = scores.get(id).copied().unwrap_or(0.0);
        for (split_at, _) in piece.char_indices().skip(1) {
            let (left, right) = piece.split_at(split_at);
            if vocab.contains_key(left) && vocab.contains_key(right) {
                merges.push((score, id as u32, left.to_string(), right.to_string()));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let merges = merges.into_iter().map(|(_, _, l, r)| (l, r)).collect();
    let unk = gguf
        .u32_opt("tokenizer.ggml.unknown_token_id")
        .and_then(|id| tokens.get(id as usize))
        .map(|s| s.to_string());
    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let bpe = builder.build().map_err(tk_err)?;
    let add_space_prefix = gguf
        .bool_opt("tokenizer.ggml.add_space_prefix")
        .unwrap_or(true);
    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    if add_space_prefix {
        normalizers.push(Prepend::new("▁".to_string()).into());
    }
    normalizers.push(Replace::new(" ", "▁").map_err(tk_err)?.into());
    let mut decoders: Vec<DecoderWrapper> = vec![
        tokenizers::decoders::DecoderWrapper::Replace(Replace::new("▁", " ").map_err(tk_err)?),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if add_space_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer
        .with_normalizer(Some(NormalizerSequence::new(normalizers)))
        .map_err(tk_err)?;
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}
