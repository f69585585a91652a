//! The decoding loop: prefill the prompt, pick each next token (greedy or sampled, with a
//! repetition guard; greedy tokens guessed ahead and checked in one pass where that is exact),
//! turn tokens into text without ever splitting a UTF-8 character, and stop for exactly one
//! `StopReason`, decided in one place.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::generator::Generator;
use crate::tokenizer::TextTokenizer;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn (an end-of-turn or end-of-text token).
    EndOfTurn,
    /// The text reached one of the stop strings.
    StopString,
    /// The token limit was reached.
    MaxTokens,
    /// The caller cancelled.
    Cancelled,
}

/// Tokens guessed ahead by default (see `GenerateOptions::lookahead`): three, so a pass of the
/// token and its guesses is one call of the four-token kernels per row group (four guesses took
/// a second, one-token call; docs/performance.md, "Guessed tokens").
pub const LOOKAHEAD: usize = 3;

/// The longest run of latest tokens looked up to guess what follows them.
const LOOKUP_NGRAM: usize = 3;

/// How to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampling: Sampling,
    pub seed: u64,
    /// Divides positive logits (multiplies negative ones) of tokens seen in the last
    /// `repeat_last_n` generated tokens; 1.0 is off.
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
    /// Forbids any token that would repeat an n-gram of this many tokens already generated;
    /// 0 is off. This is what breaks the sentence loops small models fall into.
    pub no_repeat_ngram: usize,
    pub stop_strings: Vec<String>,
    /// Prompt tokens run per forward pass during prefill. 128 by default: a pass's activations
    /// then stay in the caches and under glibc's threshold for fresh memory maps, which made
    /// prefill 1.2–1.3× as fast as passes of 512 tokens and lowered peak memory by 4–8% (on a
    /// 2-vCPU Intel Xeon with AVX-512 VNNI; docs/performance.md).
    pub prefill_chunk: usize,
    /// Keep the cached keys and values of the longest prefix this prompt shares with what the
    /// model last saw (in this process, or in the last one, through the prompt prefix file of
    /// `Generator::keep_prefix`), and run only the rest (when the model supports it).
    pub reuse_prefix: bool,
    /// Greedy decoding guesses up to this many next tokens by looking up the latest tokens in
    /// the prompt and the text so far (a summary repeats its article's phrases), and checks
    /// the guesses in the same pass as the token before them. The pass reads the weights once
    /// for all of them, and gives each the very logits a step of its own would, so the answer
    /// is the same token for token, only sooner. Used where `Generator::checks_guesses`; 0 is
    /// off.
    pub lookahead: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 512,
            sampling: Sampling::ArgMax,
            seed: 299_792_458,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            no_repeat_ngram: 10,
            stop_strings: Vec::new(),
            prefill_chunk: 128,
            reuse_prefix: true,
            lookahead: LOOKAHEAD,
        }
    }
}

/// The outcome of one generation.
#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    pub stop: StopReason,
    pub prompt_tokens: usize,
    /// Leading prompt tokens whose cached keys and values were reused instead of run again.
    pub reused_tokens: usize,
    pub prefill_time: Duration,
    pub decode_time: Duration,
    /// Tokens guessed ahead and checked (see `GenerateOptions::lookahead`), and how many of
    /// them the model picked.
    pub guessed_tokens: usize,
    pub accepted_tokens: usize,
}

/// Turns a growing token sequence into text deltas. It decodes a window that starts one
/// emitted chunk back, so tokenizers that strip a leading space still join words correctly,
/// and it holds text back while it ends in an incomplete UTF-8 character.
#[derive(Debug, Default)]
pub struct TokenOutputStream {
    tokens: Vec<u32>,
    prev_index: usize,
    current_index: usize,
}

impl TokenOutputStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token; returns the text it completes, if any.
    pub fn next_token(&mut self, tokenizer: &TextTokenizer, token: u32) -> Result<Option<String>> {
        let prev_text = if self.tokens.is_empty() {
            String::new()
        } else {
            tokenizer.decode(&self.tokens[self.prev_index..self.current_index])?
        };
        self.tokens.push(token);
        let text = tokenizer.decode(&self.tokens[self.prev_index..])?;
        if text.len() > prev_text.len() && !text.ends_with('\u{FFFD}') && text.starts_with(&prev_text) {
            let delta = text[prev_text.len()..].to_string();
            self.prev_index = self.current_index;
            self.current_index = self.tokens.len();
            Ok(Some(delta))
        } else {
            Ok(None)
        }
    }

    /// Whatever text is still held back, so the tail is never dropped.
    pub fn flush(&mut self, tokenizer: &TextTokenizer) -> Result<Option<String>> {
        let prev_text = if self.tokens.is_empty() {
            String::new()
        } else {
            tokenizer.decode(&self.tokens[self.prev_index..self.current_index])?
        };
        let text = tokenizer.decode(&self.tokens[self.prev_index..])?;
        self.prev_index = self.current_index;
        self.current_index = self.tokens.len();
        if text.len() > prev_text.len() && text.starts_with(&prev_text) {
            Ok(Some(text[prev_text.len()..].to_string()))
        } else {
            Ok(None)
        }
    }
}

/// Runs the prompt through the model and generates until a stop condition, calling `on_text`
/// with each new piece of text as soon as it is final.
pub fn generate(
    generator: &mut Generator,
    prompt: &[u32],
    opts: &GenerateOptions,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(Error::EmptyPrompt);
    }
    let context = generator.props.context_length;
    // The answer needs room for at least one token after the prompt.
    if prompt.len() >= context {
        return Err(Error::PromptTooLong { tokens: prompt.len(), context });
    }
    let max_tokens = opts.max_tokens.min(context - prompt.len());

    let prefill_start = Instant::now();
    let chunk = opts.prefill_chunk.max(1);
    let reused = if opts.reuse_prefix { generator.reusable_prefix(prompt, chunk) } else { 0 };
    let Some(mut logits) = prefill(generator, prompt, reused, chunk, cancel)? else {
        let mut run = finished(
            String::new(),
            Vec::new(),
            StopReason::Cancelled,
            prompt.len(),
            prefill_start.elapsed(),
            Duration::ZERO,
        );
        run.reused_tokens = reused;
        return Ok(run);
    };
    let prefill_time = prefill_start.elapsed();
    generator.prompt_ran(prompt.len(), chunk);
    if opts.reuse_prefix {
        generator.keep_prefix();
    }

    let decode_start = Instant::now();
    let mut sampler = LogitsProcessor::from_sampling(opts.seed, opts.sampling.clone());
    let mut stream = TokenOutputStream::new();
    let mut out = StopStringFilter::new(&opts.stop_strings);
    let mut generated: Vec<u32> = Vec::new();
    let mut text = String::new();
    let lookahead = if opts.sampling == Sampling::ArgMax && generator.checks_guesses() { opts.lookahead } else { 0 };
    let mut guesses = Guesses::new(prompt, lookahead);
    let stop = loop {
        if cancel.is_cancelled() {
            break StopReason::Cancelled;
        }
        if generated.len() >= max_tokens {
            break StopReason::MaxTokens;
        }
        apply_repeat_penalty(&mut logits, &generated, opts.repeat_penalty, opts.repeat_last_n);
        ban_repeated_ngrams(&mut logits, &generated, opts.no_repeat_ngram);
        let token = pick(&mut sampler, &opts.sampling, &logits)?;
        if generator.tokenizer.is_stop(token) {
            break StopReason::EndOfTurn;
        }
        generated.push(token);
        if let Some(delta) = stream.next_token(&generator.tokenizer, token)? {
            if let Some(hit) = out.push(&delta, &mut text, on_text) {
                debug_assert!(hit);
                break StopReason::StopString;
            }
        }
        if cancel.is_cancelled() {
            break StopReason::Cancelled;
        }
        let pos = prompt.len() + generated.len() - 1;
        let room = (context - pos - 1).min(max_tokens - generated.len());
        logits = guesses.step(generator, token, pos, room)?;
    };
    if stop != StopReason::StopString {
        if let Some(delta) = stream.flush(&generator.tokenizer)? {
            out.push(&delta, &mut text, on_text);
        }
        out.finish(&mut text, on_text);
    }
    let mut run = finished(text, generated, stop, prompt.len(), prefill_time, decode_start.elapsed());
    run.reused_tokens = reused;
    run.guessed_tokens = guesses.guessed;
    run.accepted_tokens = guesses.accepted;
    Ok(run)
}

/// Runs the prompt from token `reused` on (the ones before must be in the cache already, and
/// at least one token must be left) and returns the logits after its last token, or `None`
/// when cancelled between passes. The passes end where a run from the first token would end
/// them (at multiples of `chunk`), so with `reused` as `Generator::reusable_prefix` gives it
/// every position gets the arithmetic, and the prompt the logits, of a run from scratch.
pub fn prefill(
    generator: &mut Generator,
    prompt: &[u32],
    reused: usize,
    chunk: usize,
    cancel: &CancelToken,
) -> Result<Option<Vec<f32>>> {
    if reused >= prompt.len() {
        return Err(Error::EmptyPrompt);
    }
    let chunk = if generator.takes_prompt_in_chunks() { chunk } else { prompt.len() }.max(1);
    let mut logits = Vec::new();
    let mut at = reused;
    while at < prompt.len() {
        if cancel.is_cancelled() {
            return Ok(None);
        }
        let end = ((at / chunk + 1) * chunk).min(prompt.len());
        logits = generator.forward(&prompt[at..end], at)?;
        at = end;
    }
    Ok(Some(logits))
}

/// Greedy decoding's guesses ahead (see `GenerateOptions::lookahead`): the tokens seen so far,
/// the guesses already run with the logits that follow each, and how many were made and
/// taken.
struct Guesses {
    /// Most tokens guessed at once; 0 runs one token per pass.
    lookahead: usize,
    /// The prompt and the tokens so far, where guesses are looked up.
    seen: Vec<u32>,
    /// Guessed tokens already run, each with the logits that follow it.
    pending: VecDeque<(u32, Vec<f32>)>,
    guessed: usize,
    accepted: usize,
}

impl Guesses {
    fn new(prompt: &[u32], lookahead: usize) -> Guesses {
        let seen = if lookahead > 0 { prompt.to_vec() } else { Vec::new() };
        Guesses { lookahead, seen, pending: VecDeque::new(), guessed: 0, accepted: 0 }
    }

    /// The logits that follow `token`, just picked at position `pos` with room for `room`
    /// more: those of a guess already run when the model picked that guess, otherwise a
    /// pass over `token` and, when the tokens so far suggest any, up to `lookahead` guesses
    /// after it.
    fn step(&mut self, generator: &mut Generator, token: u32, pos: usize, room: usize) -> Result<Vec<f32>> {
        if self.lookahead == 0 {
            return generator.forward(&[token], pos);
        }
        self.seen.push(token);
        match self.pending.pop_front() {
            Some((guess, next)) if guess == token => {
                // The model picked the guess: what follows it was computed with it.
                self.accepted += 1;
                return Ok(next);
            }
            // A wrong guess: the cache positions after `token` are run again below.
            _ => self.pending.clear(),
        }
        let ahead = lookup(&self.seen, self.lookahead.min(room));
        if ahead.is_empty() {
            return generator.forward(&[token], pos);
        }
        self.guessed += ahead.len();
        let mut run = Vec::with_capacity(ahead.len() + 1);
        run.push(token);
        run.extend_from_slice(ahead);
        let mut rows = generator.forward_each(&run, pos)?.into_iter();
        let logits = rows.next().expect("one row per token");
        self.pending.extend(ahead.iter().copied().zip(rows));
        Ok(logits)
    }
}

/// Up to `max` tokens that followed the latest earlier place where the last `LOOKUP_NGRAM`
/// tokens of `seen` (or, failing that, fewer of them, down to two) occur; empty when none do.
pub fn lookup(seen: &[u32], max: usize) -> &[u32] {
    if max == 0 {
        return &[];
    }
    for n in (2..=LOOKUP_NGRAM).rev() {
        if seen.len() <= n {
            continue;
        }
        let tail = &seen[seen.len() - n..];
        if let Some(at) = seen[..seen.len() - 1].windows(n).rposition(|w| w == tail) {
            let from = at + n;
            return &seen[from..(from + max).min(seen.len())];
        }
    }
    &[]
}

fn finished(
    text: String,
    tokens: Vec<u32>,
    stop: StopReason,
    prompt_tokens: usize,
    prefill_time: Duration,
    decode_time: Duration,
) -> Generation {
    Generation {
        text,
        tokens,
        stop,
        prompt_tokens,
        reused_tokens: 0,
        prefill_time,
        decode_time,
        guessed_tokens: 0,
        accepted_tokens: 0,
    }
}

fn pick(sampler: &mut LogitsProcessor, sampling: &Sampling, logits: &[f32]) -> Result<u32> {
    if *sampling == Sampling::ArgMax {
        let mut best = 0usize;
        for (i, &v) in logits.iter().enumerate() {
            if v > logits[best] {
                best = i;
            }
        }
        return Ok(best as u32);
    }
    let t = Tensor::new(logits, &Device::Cpu)?;
    Ok(sampler.sample(&t)?)
}

/// Penalizes tokens seen recently.
pub fn apply_repeat_penalty(logits: &mut [f32], generated: &[u32], penalty: f32, last_n: usize) {
    if penalty == 1.0 || generated.is_empty() {
        return;
    }
    let start = generated.len().saturating_sub(last_n);
    let mut seen: Vec<u32> = generated[start..].to_vec();
    seen.sort_unstable();
    seen.dedup();
    for id in seen {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = if *l >= 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

/// Forbids every token that would complete an `n`-gram already present in `generated`.
pub fn ban_repeated_ngrams(logits: &mut [f32], generated: &[u32], n: usize) {
    if n < 2 || generated.len() < n {
        return;
    }
    let prefix = &generated[generated.len() - (n - 1)..];
    for window in generated.windows(n) {
        if &window[..n - 1] == prefix {
            if let Some(l) = logits.get_mut(window[n - 1] as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
    }
}

/// Passes text through until a stop string appears, holding back any tail that could still
/// turn into one.
struct StopStringFilter<'a> {
    stops: &'a [String],
    pending: String,
}

impl<'a> StopStringFilter<'a> {
    fn new(stops: &'a [String]) -> Self {
        StopStringFilter { stops, pending: String::new() }
    }

    /// Adds text; returns `Some(true)` when a stop string was reached (its text is dropped).
    fn push(&mut self, delta: &str, text: &mut String, on_text: &mut dyn FnMut(&str)) -> Option<bool> {
        self.pending.push_str(delta);
        if let Some(at) = self.stops.iter().filter_map(|s| self.pending.find(s.as_str())).min() {
            self.pending.truncate(at);
            let rest = std::mem::take(&mut self.pending);
            emit(&rest, text, on_text);
            return Some(true);
        }
        let hold = self.stops.iter().map(|s| longest_prefix_suffix(&self.pending, s)).max().unwrap_or(0);
        let ready = self.pending.len() - hold;
        if ready > 0 {
            let now: String = self.pending.drain(..ready).collect();
            emit(&now, text, on_text);
        }
        None
    }

    fn finish(&mut self, text: &mut String, on_text: &mut dyn FnMut(&str)) {
        let rest = std::mem::take(&mut self.pending);
        emit(&rest, text, on_text);
    }
}

fn emit(piece: &str, text: &mut String, on_text: &mut dyn FnMut(&str)) {
    if !piece.is_empty() {
        text.push_str(piece);
        on_text(piece);
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`, on char boundaries.
fn longest_prefix_suffix(text: &str, stop: &str) -> usize {
    let max = stop.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&k| text.is_char_boundary(text.len() - k) && stop.is_char_boundary(k) && text.ends_with(&stop[..k]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngram_ban_forbids_the_token_that_would_repeat() {
        let mut logits = vec![0.0f32; 10];
        ban_repeated_ngrams(&mut logits, &[1, 2, 3, 4, 1, 2], 3);
        assert_eq!(logits[3], f32::NEG_INFINITY);
        assert_eq!(logits.iter().filter(|l| l.is_infinite()).count(), 1);
    }

    #[test]
    fn repeat_penalty_shrinks_seen_tokens() {
        let mut logits = vec![2.0f32, -2.0, 2.0];
        apply_repeat_penalty(&mut logits, &[0, 1], 2.0, 64);
        assert_eq!(logits, vec![1.0, -4.0, 2.0]);
    }

    #[test]
    fn stop_string_is_cut_and_held_back_text_is_released() {
        let stops = vec!["</end>".to_string()];
        let mut f = StopStringFilter::new(&stops);
        let mut text = String::new();
        let mut seen = Vec::new();
        let mut on = |s: &str| seen.push(s.to_string());
        assert_eq!(f.push("hello </e", &mut text, &mut on), None);
        assert_eq!(text, "hello ");
        assert_eq!(f.push("nd> more", &mut text, &mut on), Some(true));
        assert_eq!(text, "hello ");

        let mut f = StopStringFilter::new(&stops);
        let mut text = String::new();
        let mut on = |_: &str| {};
        f.push("a </e", &mut text, &mut on);
        f.push("x", &mut text, &mut on);
        f.finish(&mut text, &mut on);
        assert_eq!(text, "a </ex");
    }

    #[test]
    fn lookup_guesses_what_followed_the_latest_tokens_last_time() {
        // The last three tokens (7 8 9) occurred twice before; the later place wins.
        let seen = [7, 8, 9, 1, 2, 3, 7, 8, 9, 4, 5, 6, 0, 7, 8, 9];
        assert_eq!(lookup(&seen, 2), &[4, 5]);
        assert_eq!(lookup(&seen, 10), &[4, 5, 6, 0, 7, 8, 9]);
        assert_eq!(lookup(&seen, 0), &[] as &[u32]);
        // No earlier 4 8 9, but an earlier 8 9: the last two tokens are looked up.
        assert_eq!(lookup(&[8, 9, 5, 6, 4, 8, 9], 3), &[5, 6, 4]);
        // A single matching token is not enough, and the tail never matches itself.
        assert_eq!(lookup(&[3, 1, 2, 3], 4), &[] as &[u32]);
        assert_eq!(lookup(&[1, 2, 3], 4), &[] as &[u32]);
        // A run of one token guesses more of it.
        assert_eq!(lookup(&[5, 5, 5, 5], 4), &[5]);
    }
}
