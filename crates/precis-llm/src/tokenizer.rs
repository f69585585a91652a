//! The tokenizer, rebuilt from a GGUF file's own metadata (`tokenizer.ggml.*`) so that one model
//! file is enough: byte-level BPE (`gpt2`, with the pre-tokenizer named by `tokenizer.ggml.pre`)
//! and SentencePiece-style BPE (`llama`), with special tokens treated the way llama.cpp treats
//! them: control tokens are matched only when parsing specials is asked for.

use std::sync::Mutex;

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
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer,
};

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const TOKEN_NORMAL: i64 = 1;
const TOKEN_UNKNOWN: i64 = 2;
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// End-of-generation markers that llama.cpp always treats as control tokens, whatever type the
/// file gives them (`llama_vocab::impl::load`), so they are text unless specials are parsed.
const EOG_NAMES: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Fill-in-the-middle markers that llama.cpp turns into control tokens, per role, when the file
/// does not name that role's token id. (llama.cpp promotes one marker per role, in hash order,
/// if a vocabulary has several; real vocabularies have at most one.)
const FIM_NAMES: &[(&str, &[&str])] = &[
    (
        "tokenizer.ggml.fim_pre_token_id",
        &[
            "<|fim_prefix|>",
            "<fim-prefix>",
            "<fim_prefix>",
            "<｜fim▁begin｜>",
            "<PRE>",
            "▁<PRE>",
            "<|code_prefix|>",
            "<|prefix|>",
        ],
    ),
    (
        "tokenizer.ggml.fim_suf_token_id",
        &[
            "<|fim_suffix|>",
            "<fim-suffix>",
            "<fim_suffix>",
            "<｜fim▁hole｜>",
            "<SUF>",
            "▁<SUF>",
            "<|code_suffix|>",
            "<|suffix|>",
        ],
    ),
    (
        "tokenizer.ggml.fim_mid_token_id",
        &[
            "<|fim_middle|>",
            "<fim-middle>",
            "<fim_middle>",
            "<｜fim▁end｜>",
            "<MID>",
            "▁<MID>",
            "<|code_middle|>",
            "<|middle|>",
        ],
    ),
    ("tokenizer.ggml.fim_pad_token_id", &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
    ("tokenizer.ggml.fim_rep_token_id", &["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
    ("tokenizer.ggml.fim_sep_token_id", &["<|file_sep|>"]),
];

// llama.cpp's pre-tokenizer expressions (`llm_tokenizer_bpe` in llama-vocab.cpp). A pre-tokenizer
// applies its expressions in order, each one splitting the pieces the one before left; matched
// and unmatched stretches both become pieces. No Unicode normalization is applied (llama.cpp has
// none for BPE vocabularies, although Qwen2's tokenizer.json asks for NFC).

/// GPT-2's expression. llama.cpp leaves out the final `\s+` but its hand-written matcher does
/// the same thing, and a whitespace stretch it leaves unmatched becomes a piece on its own.
const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Qwen2's expression: case-insensitive contractions, letters with one leading non-letter,
/// single digits, punctuation runs with trailing newlines.
const QWEN2_PATTERN: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's expression: like Qwen2's but digits in groups of up to three.
const LLAMA3_PATTERN: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How llama.cpp pre-tokenizes a byte-level BPE vocabulary with a given `tokenizer.ggml.pre`.
struct PreTokenizer {
    patterns: &'static [&'static str],
    /// A piece that is itself in the vocabulary is taken whole, without merging.
    ignore_merges: bool,
    /// llama.cpp's default for `tokenizer.ggml.add_bos_token` with this pre-tokenizer.
    add_bos: bool,
}

impl PreTokenizer {
    /// The names `for_name` knows, for the error about one it does not.
    const SUPPORTED: &'static str = "default, gpt-2, phi-2, jina-es, jina-de, gigachat, jina-v2-es, \
        jina-v2-de, a.x-4.0, mellum, modern-bert, jina-v1-en, jina-v2-code, roberta-bpe, exaone4, mpt, \
        olmo, jais, trillion, granite-docling, starcoder, refact, command-r, smollm, codeshell, \
        exaone, minerva-7b, mellum2, qwen2, deepseek-r1-qwen, kormo, f2llmv2, megrez, stablelm2, \
        hunyuan, solar-open, llama3, llama-v3, llama-bpe, falcon3, falcon-h1, pixtral, midm-2.0, \
        lfm2, jina-v5-nano, dbrx, smaug-bpe";

    /// The pre-tokenizers llama.cpp has for these names, or `None` for one this build lacks.
    fn for_name(pre: &str) -> Option<PreTokenizer> {
        let (patterns, ignore_merges, add_bos): (&'static [&'static str], bool, bool) = match pre {
            // Files without `tokenizer.ggml.pre` get llama.cpp's default too.
            "" | "default" => (&[r"[\p{P}\$\+<=>\^~\|]+", GPT2_PATTERN, r"\p{N}+", "[0-9][0-9][0-9]"], false, false),
            "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de" | "a.x-4.0"
            | "mellum" | "modern-bert" | "jina-v1-en" | "jina-v2-code" | "roberta-bpe" | "exaone4" | "mpt" | "olmo"
            | "jais" | "trillion" | "granite-docling" => (&[GPT2_PATTERN], false, false),
            // These split every digit apart before the GPT-2 expression.
            "starcoder" | "refact" | "command-r" | "smollm" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
                (&[r"\p{N}", GPT2_PATTERN], false, false)
            }
            "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" | "stablelm2" | "hunyuan" | "solar-open" => {
                (&[QWEN2_PATTERN], false, false)
            }
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0" | "lfm2"
            | "jina-v5-nano" => (&[LLAMA3_PATTERN], true, true),
            "dbrx" | "smaug-bpe" => (&[LLAMA3_PATTERN], false, false),
            _ => return None,
        };
        Some(PreTokenizer { patterns, ignore_merges, add_bos })
    }
}

/// A tokenizer built from GGUF metadata, with the ids that matter for generation.
pub struct TextTokenizer {
    /// Whether control tokens in the text are parsed as special tokens (for rendered prompts)
    /// or read as plain text (for article text and `precis tokenize`) is a switch of the
    /// tokenizer's, set for each call to `encode`. One tokenizer behind a lock, because a second
    /// copy for plain text took about 0.03 s of the 0.17–0.19 s a qwen2.5 model's tokenizer took
    /// to build, and as long again to free.
    tokenizer: Mutex<Tokenizer>,
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
        let mut types: Vec<i64> = match gguf.get_opt("tokenizer.ggml.token_type") {
            Some(_) => gguf.numbers("tokenizer.ggml.token_type")?.into_iter().map(|x| x as i64).collect(),
            None => vec![TOKEN_NORMAL; tokens.len()],
        };
        if types.len() != tokens.len() {
            return Err(Error::ModelCorrupt {
                path: gguf.path.clone(),
                reason: format!("{} token types for {} tokens", types.len(), tokens.len()),
            });
        }
        promote_control_tokens(gguf, &tokens, &mut types);
        let (mut tokenizer, add_bos_default) = match kind {
            "gpt2" => byte_level_bpe(gguf, &tokens)?,
            "llama" => (sentencepiece_bpe(gguf, &tokens)?, true),
            other => {
                return Err(Error::Tokenizer(format!(
                    "tokenizer model `{other}` in {} is not supported (supported: gpt2, llama)",
                    gguf.path.display()
                )))
            }
        };

        // Control, unknown and user-defined tokens are matched whole before anything else, as
        // llama.cpp does; control and unknown tokens only when parsing specials is asked for.
        let added: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| matches!(**t, TOKEN_CONTROL | TOKEN_USER_DEFINED | TOKEN_UNKNOWN))
            .filter(|(text, _)| !text.is_empty())
            .map(|(text, t)| AddedToken::from(text.to_string(), *t != TOKEN_USER_DEFINED).normalized(false))
            .collect();
        tokenizer.add_tokens(added).map_err(tk_err)?;

        let bos = gguf.u32_opt("tokenizer.ggml.bos_token_id");
        let eos = gguf.u32_opt("tokenizer.ggml.eos_token_id");
        let add_bos = gguf.bool_opt("tokenizer.ggml.add_bos_token").unwrap_or(add_bos_default);

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

        let tokenizer = Mutex::new(tokenizer);
        Ok(TextTokenizer { tokenizer, bos, eos, add_bos, stop_tokens, vocab_size: tokens.len() })
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Token ids of `text`, with special tokens parsed when `parse_special` is set, and with
    /// the BOS token first when the model asks for it and `add_bos` is set.
    pub fn encode(&self, text: &str, parse_special: bool, add_bos: bool) -> Result<Vec<u32>> {
        let enc = {
            let mut tk = self.lock();
            tk.set_encode_special_tokens(!parse_special);
            tk.encode_fast(text, false).map_err(tk_err)?
        };
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
        self.lock().decode(ids, true).map_err(tk_err)
    }

    /// The token's own string, if the id is in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.lock().id_to_token(id)
    }

    /// The id of a token given by its exact vocabulary string.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.lock().token_to_id(token)
    }

    /// The tokenizer; a panic while another call held it leaves nothing half-changed that
    /// matters (`encode` sets the one switch it reads before every use).
    fn lock(&self) -> std::sync::MutexGuard<'_, Tokenizer> {
        self.tokenizer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_stop(&self, id: u32) -> bool {
        self.stop_tokens.binary_search(&id).is_ok()
    }
}

/// Gives the control type to the tokens llama.cpp treats as control tokens by their text.
fn promote_control_tokens(gguf: &GgufFile, tokens: &[&str], types: &mut [i64]) {
    let fim = FIM_NAMES.iter().filter(|(key, _)| gguf.get_opt(key).is_none()).flat_map(|(_, names)| names.iter());
    let names: std::collections::HashSet<&str> = EOG_NAMES.iter().chain(fim).copied().collect();
    for (text, t) in tokens.iter().zip(types.iter_mut()) {
        if names.contains(text) {
            *t = TOKEN_CONTROL;
        }
    }
}

/// Token text to id, sized for every token at once (growing it took as long again).
fn vocab_map(tokens: &[&str]) -> Vocab {
    let mut vocab = Vocab::with_capacity_and_hasher(tokens.len(), Default::default());
    for (id, t) in tokens.iter().enumerate() {
        // Like llama.cpp, a text that appears twice stands for its last id.
        vocab.insert(t.to_string(), id as u32);
    }
    vocab
}

fn split(pattern: &str) -> Result<PreTokenizerWrapper> {
    Ok(Split::new(SplitPattern::Regex(pattern.to_string()), SplitDelimiterBehavior::Isolated, false)
        .map_err(tk_err)?
        .into())
}

/// Byte-level BPE (GPT-2 style): merges from `tokenizer.ggml.merges`, the pre-tokenizer chosen
/// by `tokenizer.ggml.pre` as llama.cpp chooses it. Also returns llama.cpp's default for adding
/// the BOS token.
fn byte_level_bpe(gguf: &GgufFile, tokens: &[&str]) -> Result<(Tokenizer, bool)> {
    let pre =
        gguf.get_opt("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).map(|s| s.as_str()).unwrap_or("default");
    let Some(pre_tokenizer) = PreTokenizer::for_name(pre) else {
        return Err(Error::Tokenizer(format!(
            "pre-tokenizer `{pre}` (tokenizer.ggml.pre) in {} is not supported; supported: {}",
            gguf.path.display(),
            PreTokenizer::SUPPORTED
        )));
    };
    let merges: Vec<(String, String)> = gguf
        .strings("tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab_map(tokens), merges)
        .ignore_merges(pre_tokenizer.ignore_merges)
        .build()
        .map_err(tk_err)?;
    let mut steps = pre_tokenizer.patterns.iter().map(|p| split(p)).collect::<Result<Vec<PreTokenizerWrapper>>>()?;
    steps.push(ByteLevel::new(false, false, false).into());
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(PreSequence::new(steps)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    Ok((tokenizer, pre_tokenizer.add_bos))
}

/// SentencePiece-style BPE (`llama`), as llama.cpp's SPM tokenizer runs it: spaces become `▁`,
/// one `▁` goes before the text (and after each token matched whole) when
/// `tokenizer.ggml.add_space_prefix` asks for it, and starting from single characters the
/// adjacent pair whose joined text is a token with the highest score merges first, the
/// leftmost on a tie. Characters that end up in no token are spelled as `<0xNN>` byte tokens.
/// The merge list is recovered from the scores: every split of a token into two tokens is a
/// merge, ranked by the joined token's score.
fn sentencepiece_bpe(gguf: &GgufFile, tokens: &[&str]) -> Result<Tokenizer> {
    let scores = gguf.numbers("tokenizer.ggml.scores")?;
    let vocab = vocab_map(tokens);
    let mut merges: Vec<(f64, u32, String, String)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        // llama.cpp merges into any token of the vocabulary, whatever its type.
        if vocab.get(*piece) != Some(&(id as u32)) || piece.chars().count() < 2 {
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
    let unk =
        gguf.u32_opt("tokenizer.ggml.unknown_token_id").and_then(|id| tokens.get(id as usize)).map(|s| s.to_string());
    let mut builder = BPE::builder().vocab_and_merges(vocab, merges).byte_fallback(true).fuse_unk(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let bpe = builder.build().map_err(tk_err)?;
    let add_space_prefix = gguf.bool_opt("tokenizer.ggml.add_space_prefix").unwrap_or(true);
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
    tokenizer.with_normalizer(Some(NormalizerSequence::new(normalizers))).map_err(tk_err)?;
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::quantized::gguf_file::{Content, Value, VersionedMagic};

    use super::*;

    const TOKEN_BYTE: i32 = 6;

    /// A small SentencePiece vocabulary: specials, the 256 byte tokens, a few pieces with
    /// scores chosen so that merge order matters, and two user-defined tokens.
    fn spm_vocab() -> Vec<(String, f32, i32)> {
        let mut v: Vec<(String, f32, i32)> = vec![
            ("<unk>".into(), 0.0, TOKEN_UNKNOWN as i32),
            ("<s>".into(), 0.0, TOKEN_CONTROL as i32),
            ("</s>".into(), 0.0, TOKEN_CONTROL as i32),
        ];
        v.extend((0..=255u8).map(|b| (format!("<0x{b:02X}>"), 0.0, TOKEN_BYTE)));
        for (piece, score) in [
            ("▁", -100.0),
            ("a", -100.0),
            ("b", -100.0),
            ("c", -100.0),
            ("h", -100.0),
            ("i", -100.0),
            ("bc", -1.0),
            ("hi", -2.0),
            ("▁b", -3.0),
            ("▁hi", -4.0),
            ("ab", -5.0),
            ("▁a", -8.0),
            ("▁h", -9.0),
        ] {
            v.push((piece.into(), score, TOKEN_NORMAL as i32));
        }
        // `<|im_end|>` is user-defined here, but llama.cpp makes it a control token by its text.
        for piece in ["<tool>", "<|im_end|>"] {
            v.push((piece.into(), 0.0, TOKEN_USER_DEFINED as i32));
        }
        v
    }

    fn gguf(meta: Vec<(&str, Value)>) -> GgufFile {
        let metadata: HashMap<String, Value> = meta.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        GgufFile {
            path: "tiny.gguf".into(),
            content: Content {
                magic: VersionedMagic::GgufV3,
                metadata,
                tensor_infos: HashMap::new(),
                tensor_data_offset: 0,
            },
            file_size: 0,
        }
    }

    fn spm_tokenizer(add_space_prefix: bool) -> TextTokenizer {
        let vocab = spm_vocab();
        let file = gguf(vec![
            ("tokenizer.ggml.model", Value::String("llama".into())),
            ("tokenizer.ggml.tokens", Value::Array(vocab.iter().map(|t| Value::String(t.0.clone())).collect())),
            ("tokenizer.ggml.scores", Value::Array(vocab.iter().map(|t| Value::F32(t.1)).collect())),
            ("tokenizer.ggml.token_type", Value::Array(vocab.iter().map(|t| Value::I32(t.2)).collect())),
            ("tokenizer.ggml.bos_token_id", Value::U32(1)),
            ("tokenizer.ggml.eos_token_id", Value::U32(2)),
            ("tokenizer.ggml.unknown_token_id", Value::U32(0)),
            ("tokenizer.ggml.add_space_prefix", Value::Bool(add_space_prefix)),
        ]);
        TextTokenizer::from_gguf(&file).unwrap()
    }

    /// The pieces of `text`'s ids, for readable assertions.
    fn pieces(tk: &TextTokenizer, text: &str, parse_special: bool) -> Vec<String> {
        tk.encode(text, parse_special, false).unwrap().into_iter().map(|id| tk.token_text(id).unwrap()).collect()
    }

    // The expected pieces below are what llama.cpp gives for the same vocabulary written to a
    // GGUF file (checked with llama-cpp-python 0.3.36, `vocab_only`).

    #[test]
    fn spm_prefixes_one_space_at_the_start_only() {
        let tk = spm_tokenizer(true);
        assert_eq!(pieces(&tk, "hi", false), ["▁hi"]);
        assert_eq!(pieces(&tk, "hi hi", false), ["▁hi", "▁hi"]);
        assert_eq!(pieces(&tk, "hi\nhi", false), ["▁hi", "<0x0A>", "hi"]);
        assert_eq!(pieces(&tk, "a  b", false), ["▁a", "▁", "▁b"]);
        assert_eq!(pieces(&spm_tokenizer(false), "hi hi", false), ["hi", "▁hi"]);
    }

    #[test]
    fn spm_merges_the_highest_score_first() {
        // `bc` (score -1) beats `ab` (-5) although `ab` comes first.
        assert_eq!(pieces(&spm_tokenizer(true), "abc", false), ["▁a", "bc"]);
    }

    #[test]
    fn spm_spells_unknown_characters_as_bytes() {
        let tk = spm_tokenizer(true);
        assert_eq!(pieces(&tk, "hé", false), ["▁h", "<0xC3>", "<0xA9>"]);
        assert_eq!(pieces(&tk, "</s>", false), ["▁", "<0x3C>", "<0x2F>", "<0x73>", "<0x3E>"]);
    }

    #[test]
    fn spm_control_tokens_are_text_unless_parsed_and_a_space_follows_each_matched_token() {
        let tk = spm_tokenizer(true);
        assert_eq!(pieces(&tk, "hi</s>", true), ["▁hi", "</s>"]);
        assert_eq!(pieces(&tk, "</s>hi", true), ["</s>", "▁hi"]);
        // User-defined tokens are matched whole even when specials are not parsed.
        assert_eq!(pieces(&tk, "<tool>hi", false), ["<tool>", "▁hi"]);
        assert_eq!(pieces(&tk, "hi<tool>", false), ["▁hi", "<tool>"]);
        // `<|im_end|>` is a control token for llama.cpp whatever the file says.
        assert_eq!(pieces(&tk, "<|im_end|>", true), ["<|im_end|>"]);
        assert_eq!(
            pieces(&tk, "<|im_end|>", false),
            ["▁", "<0x3C>", "<0x7C>", "i", "<0x6D>", "<0x5F>", "<0x65>", "<0x6E>", "<0x64>", "<0x7C>", "<0x3E>"]
        );
        assert_eq!(tk.encode("hi", false, true).unwrap(), [1, tk.token_id("▁hi").unwrap()]);
    }

    #[test]
    fn unknown_pre_tokenizer_is_an_error_naming_it() {
        let file = gguf(vec![
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.pre", Value::String("no-such-pre".into())),
            ("tokenizer.ggml.tokens", Value::Array(vec![Value::String("a".into())])),
            ("tokenizer.ggml.merges", Value::Array(vec![])),
        ]);
        let err = TextTokenizer::from_gguf(&file).unwrap_err().to_string();
        assert!(err.contains("`no-such-pre`") && err.contains("qwen2"), "{err}");
    }
}
