//! Summaries: the extract-then-abstract pipeline. Sentences are ranked first (embeddings or
//! TF-IDF, position prior, MMR) and the top ones are the extractive key points, available before
//! the generator reads anything; the generator then writes the summary and rewrites the chosen
//! sentences as concise bullets from a prompt of those sentences and their neighbours (an
//! article too long for the context is summarized section by section first); every generated
//! bullet is grounded in the article and replaced by its source sentence when it is not
//! supported. Also the prompts and the forgiving parser of the model's answer.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::article::Article;
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::generate::{generate, CancelToken, GenerateOptions, StopReason};
use crate::ground::{same_point, Evidence, SUPPORT_THRESHOLD};
use crate::model::Generator;
use crate::rank::{self, RankOptions};
use crate::sentences::{self, Sentence, Span};
use crate::template::Message;
use crate::trim::{self, TrimRules};

/// The article is cut to this many tokens before it goes into the prompt.
pub const DEFAULT_ARTICLE_TOKENS: usize = 3000;
/// Fewer article tokens than this would not make a useful summary.
const MIN_ARTICLE_TOKENS: usize = 64;

const SYSTEM_PROMPT: &str = "You are Precis, a careful assistant that summarizes articles. \
You use only facts stated in the article and never add names, places, numbers or events it does not mention.";

/// Tokens the generator may write for the summary that goes with key points.
const SUMMARY_TOKENS: usize = 200;

/// A parsed answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Answer {
    pub summary: String,
    pub bullets: Vec<Bullet>,
}

/// One key point, with the article sentences that support it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bullet {
    pub text: String,
    /// Byte spans into the article text. A key point taken from the article cites exactly the
    /// bytes it shows (several spans when something was cut from the middle of its sentence, see
    /// [`crate::trim`]); a generated one cites the sentences that support it.
    #[serde(default)]
    pub sources: Vec<Span>,
    /// How well the sources support the bullet, in [0, 1]; 1 for text taken from the article itself.
    #[serde(default)]
    pub support: f32,
}

impl Bullet {
    /// A bullet not yet grounded.
    pub fn new(text: impl Into<String>) -> Bullet {
        Bullet {
            text: text.into(),
            sources: Vec::new(),
            support: 0.0,
        }
    }
}

/// What a run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    LoadingModel,
    Reading,
    Ranking,
    Writing,
}

/// How far a stage with parts (the sections of a long article) has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// What a run reports as it goes.
#[derive(Debug)]
pub enum Step<'a> {
    Stage { stage: Stage, progress: Option<Progress> },
    /// The extractive key points, as soon as ranking is done.
    Extractive(&'a [Bullet]),
    /// New text of the final answer from the generator.
    Text(&'a str),
}

/// How the sentences were ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ranker {
    /// Sentence embeddings from the embedder.
    #[default]
    Embedding,
    /// TF-IDF vectors (no embedder available).
    Lexical,
}

/// How long each stage took.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Timings {
    pub load_ms: u64,
    /// From the start of the run to the extractive key points.
    #[serde(default)]
    pub first_bullet_ms: u64,
    pub prompt_tokens: usize,
    pub prefill_ms: u64,
    pub generated_tokens: usize,
    pub decode_ms: u64,
    pub total_ms: u64,
}

/// The result of summarizing one article.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    pub title: Option<String>,
    pub summary: String,
    pub bullets: Vec<Bullet>,
    pub model: String,
    pub stop_reason: StopReason,
    /// True when the article was longer than the prompt budget and was cut. The pipeline
    /// summarizes long articles by sections instead, so it is false unless that was turned off.
    pub truncated: bool,
    pub timings: Timings,
    /// The article text that bullet sources point into.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub ranker: Ranker,
    /// Sections summarized separately because the article did not fit the model's context
    /// (0: it fit).
    #[serde(default)]
    pub sections: usize,
    /// Generated bullets that were not supported by the article and were replaced or dropped.
    #[serde(default)]
    pub unsupported: usize,
}

impl Summary {
    /// A summary of `text` by `model` with nothing written yet: no summary, no bullets, the turn
    /// ended, no timings.
    pub fn new(model: impl Into<String>, title: Option<String>, text: impl Into<String>) -> Summary {
        Summary {
            title,
            summary: String::new(),
            bullets: Vec::new(),
            model: model.into(),
            stop_reason: StopReason::EndOfTurn,
            truncated: false,
            timings: Timings::default(),
            text: text.into(),
            ranker: Ranker::default(),
            sections: 0,
            unsupported: 0,
        }
    }
}

/// Options of one summary run.
#[derive(Debug, Clone)]
pub struct SummarizeOptions {
    pub kind: SummaryType,
    pub length: Length,
    pub generate: GenerateOptions,
    /// Article tokens allowed into one prompt; longer articles are summarized by sections.
    pub article_tokens: usize,
    /// How sentences are ranked.
    pub rank: RankOptions,
    /// Key points: let the generator shorten the key sentences (each shortening is checked and
    /// shown only when it is a faithful condensation). Off by default: on the dev set every
    /// rewrite setting tried scored lower than the key sentences themselves.
    pub condense: bool,
}

impl Default for SummarizeOptions {
    fn default() -> Self {
        SummarizeOptions {
            kind: SummaryType::KeyPoints,
            length: Length::Medium,
            generate: GenerateOptions {
                max_tokens: 400,
                ..GenerateOptions::default()
            },
            article_tokens: DEFAULT_ARTICLE_TOKENS,
            rank: RankOptions::default(),
            condense: false,
        }
    }
}

/// What kind of summary to write, as in Chrome's Summarizer API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SummaryType {
    /// A short summary and a list of key points.
    #[default]
    KeyPoints,
    /// A summary only: one sentence, one short paragraph or one paragraph.
    Tldr,
    /// One headline.
    Headline,
}

/// How long the summary should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Length {
    Short,
    #[default]
    Medium,
    Long,
}

impl Length {
    /// Most key points for this length.
    pub fn max_bullets(self) -> usize {
        match self {
            Length::Short => 3,
            Length::Medium => 5,
            Length::Long => 7,
        }
    }

    /// Most words in a headline of this length.
    /// Words a generated key point may have.
    pub fn key_point_words(self) -> usize {
        match self {
            Length::Short => 12,
            Length::Medium => 15,
            Length::Long => 20,
        }
    }

    pub fn headline_words(self) -> usize {
        match self {
            Length::Short => 12,
            Length::Medium => 17,
            Length::Long => 22,
        }
    }

    /// How long the summary above key points is.
    fn key_points_summary(self) -> &'static str {
        match self {
            Length::Short => "one sentence",
            Length::Medium => "two or three sentences",
            Length::Long => "three or four sentences",
        }
    }

    fn tldr(self) -> &'static str {
        match self {
            Length::Short => "one sentence",
            Length::Medium => "one short paragraph of two or three sentences",
            Length::Long => "one paragraph of four to six sentences",
        }
    }
}

impl std::str::FromStr for SummaryType {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "key-points" => Ok(SummaryType::KeyPoints),
            "tldr" => Ok(SummaryType::Tldr),
            "headline" => Ok(SummaryType::Headline),
            _ => Err(format!("`{s}` is not a summary type; use key-points, tldr or headline")),
        }
    }
}

impl std::str::FromStr for Length {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "short" => Ok(Length::Short),
            "medium" => Ok(Length::Medium),
            "long" => Ok(Length::Long),
            _ => Err(format!("`{s}` is not a length; use short, medium or long")),
        }
    }
}

fn count_word(n: usize) -> &'static str {
    ["zero", "one", "two", "three", "four", "five", "six", "seven"].get(n).copied().unwrap_or("several")
}

/// The chat messages that ask for a summary of an article (whose text may have been cut).
pub fn messages(title: Option<&str>, text: &str, kind: SummaryType, length: Length) -> Vec<Message> {
    let mut user = String::new();
    if let Some(title) = title {
        user.push_str(&format!("Title: {title}\n\n"));
    }
    user.push_str("Article:\n\"\"\"\n");
    user.push_str(text.trim());
    user.push_str("\n\"\"\"\n\n");
    let task = match kind {
        SummaryType::KeyPoints => format!(
            "Summarize the article above. First write a summary in {s}. \
Then write at most {n} key points, each a short sentence with one fact from the article, \
each on its own line starting with \"- \". Use exactly this format:\n\n\
Summary: <the summary>\n\nKey points:\n- <first key point>\n- <second key point>\n- <third key point>",
            n = count_word(length.max_bullets()),
            s = length.key_points_summary()
        ),
        SummaryType::Tldr => format!(
            "Summarize the article above in {}. Use exactly this format:\n\nSummary: <the summary>",
            length.tldr()
        ),
        SummaryType::Headline => format!(
            "Write one headline for the article above, at most {} words, stating its main fact. \
Use exactly this format:\n\nSummary: <the headline>",
            length.headline_words()
        ),
    };
    user.push_str(&task);
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

/// Cuts `text` to at most `max_tokens` tokens of the generator's tokenizer, at a paragraph or
/// sentence end where possible. Returns the text and whether it was cut.
pub fn fit_article<'a>(generator: &Generator, text: &'a str, max_tokens: usize) -> Result<(&'a str, bool)> {
    let ids = generator.tokenizer.encode(text, false, false)?;
    if ids.len() <= max_tokens {
        return Ok((text, false));
    }
    // Estimate the byte position of the token limit, then back off to a boundary.
    let ratio = max_tokens as f64 / ids.len() as f64;
    let mut cut = ((text.len() as f64) * ratio * 0.97) as usize;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let boundary = head
        .rfind("\n\n")
        .filter(|&i| i > cut / 2)
        .or_else(|| head.rfind(". ").map(|i| i + 1).filter(|&i| i > cut / 2))
        .unwrap_or(cut);
    Ok((&text[..boundary], true))
}

/// How many article tokens fit: the requested budget, but never more than the model's
/// context leaves after the instructions and the answer.
fn article_budget(generator: &Generator, title: Option<&str>, opts: &SummarizeOptions) -> Result<usize> {
    let frame = generator.template.render(&messages(title, "", opts.kind, opts.length))?;
    let overhead = generator.tokenizer.encode(&frame, true, true)?.len();
    let context = generator.props.context_length;
    let room = context.saturating_sub(overhead + opts.generate.max_tokens + 8);
    if room < MIN_ARTICLE_TOKENS {
        return Err(Error::ContextTooSmall {
            context,
            needed: overhead + opts.generate.max_tokens + MIN_ARTICLE_TOKENS,
        });
    }
    Ok(opts.article_tokens.min(room))
}

/// Words the extractive key points may use together, by length (the bullets stop at the budget
/// or at the bullet count, whichever comes first).
fn word_budget(length: Length) -> usize {
    match length {
        Length::Short => 70,
        Length::Medium => 110,
        Length::Long => 170,
    }
}

/// Ranking of one article: its sentences, their vectors and the chosen ones.
pub struct Extraction {
    pub sentences: Vec<Sentence>,
    /// Normalized sentence embeddings (none when ranked lexically).
    pub vectors: Option<Vec<Vec<f32>>>,
    /// Chosen sentences, in article order.
    pub chosen: Vec<usize>,
    pub ranker: Ranker,
    /// What is trimmed from the chosen sentences to make the key points.
    pub trim: TrimRules,
}

impl Extraction {
    /// The chosen sentences as bullets that cite themselves.
    pub fn bullets(&self, text: &str) -> Vec<Bullet> {
        self.chosen.iter().map(|&i| self.bullet(text, i)).collect()
    }

    /// Sentence `i` as a key point: what is left of it after trimming, citing exactly those
    /// bytes of the article.
    fn bullet(&self, text: &str, i: usize) -> Bullet {
        let sources = trim::key_point(text, self.sentences[i].span, self.trim);
        Bullet {
            text: trim::joined(text, self.sentences[i].span, &sources),
            sources,
            support: 1.0,
        }
    }
}

/// Splits and ranks `text` and picks up to `k` key sentences. Without an embedder, or if it
/// fails, the ranking is lexical (TF-IDF); a log line says so.
pub fn extract(text: &str, embedder: Option<&Embedder>, k: usize, length: Length, opts: &RankOptions) -> Extraction {
    let sentences = sentences::split(text);
    let pieces: Vec<&str> = sentences.iter().map(|s| s.span.of(text)).collect();
    let vectors = match embedder {
        Some(e) => match e.embed(&pieces) {
            Ok(v) => Some(v),
            Err(err) => {
                tracing::warn!(%err, "embedding the sentences failed; ranking them by TF-IDF instead");
                None
            }
        },
        None => {
            tracing::info!("no embedder loaded; ranking sentences by position and TF-IDF centrality");
            None
        }
    };
    let sim = match &vectors {
        Some(v) if opts.lexical_mix > 0.0 => rank::mix(
            rank::dense_similarity(v),
            &rank::lexical_similarity(text, &sentences),
            opts.lexical_mix,
        ),
        Some(v) => rank::dense_similarity(v),
        None => rank::lexical_similarity(text, &sentences),
    };
    let salience = rank::salience(text, &sentences, &sim, opts);
    let budget = (word_budget(length) as f32 * opts.budget_scale) as usize;
    let mut chosen = rank::select(text, &sentences, &salience, &sim, k, budget, opts);
    chosen.sort_unstable();
    Extraction {
        ranker: if vectors.is_some() { Ranker::Embedding } else { Ranker::Lexical },
        sentences,
        vectors,
        chosen,
        trim: opts.trim,
    }
}

/// The chosen sentences with their neighbours, in article order, the chosen ones marked
/// `[1]`, `[2]`, …; gaps in the article are shown as `…`.
pub fn excerpt(text: &str, sentences: &[Sentence], chosen: &[usize]) -> String {
    let mut keep = vec![false; sentences.len()];
    for &i in chosen {
        for j in i.saturating_sub(1)..=(i + 1).min(sentences.len().saturating_sub(1)) {
            keep[j] = true;
        }
    }
    let mut out = String::new();
    let mut last: Option<usize> = None;
    for (i, s) in sentences.iter().enumerate().filter(|(i, _)| keep[*i]) {
        if last.is_some_and(|l| l + 1 != i) {
            out.push_str("\n…\n");
        } else if last.is_some() {
            out.push(if sentences[i - 1].paragraph == s.paragraph { ' ' } else { '\n' });
        }
        if let Some(n) = chosen.iter().position(|&c| c == i) {
            out.push_str(&format!("[{}] ", n + 1));
        }
        out.push_str(s.span.of(text));
        last = Some(i);
    }
    out
}

/// The chat messages of the grounded pipeline: the title, the source text (an excerpt with the
/// key sentences marked, the whole article, or section summaries) and the task. For key points
/// the generator writes the summary, and shortens the marked sentences only when `condense`.
pub fn grounded_messages(
    title: Option<&str>,
    source: &str,
    marked: usize,
    kind: SummaryType,
    length: Length,
    condense: bool,
) -> Vec<Message> {
    if kind != SummaryType::KeyPoints || (condense && marked == 0) {
        return messages(title, source, kind, length);
    }
    let mut user = String::new();
    if let Some(title) = title {
        user.push_str(&format!("Title: {title}\n\n"));
    }
    if marked > 0 {
        user.push_str("Key sentences of the article, marked [1] to [");
        user.push_str(&marked.to_string());
        user.push_str("], with the sentences around them:\n\"\"\"\n");
    } else {
        user.push_str("Article:\n\"\"\"\n");
    }
    user.push_str(source.trim());
    user.push_str("\n\"\"\"\n\n");
    if !condense {
        user.push_str(&format!(
            "Write a summary of the article in {}. Use exactly this format:\n\nSummary: <the summary>",
            length.key_points_summary()
        ));
        return vec![Message::system(SYSTEM_PROMPT), Message::user(user)];
    }
    user.push_str(&format!(
        "First write a summary of the article in {summary}. Then shorten each marked \
sentence into a key point of at most {words} words, in the same order. Keep its most important facts \
(who did what, key names and numbers) in the sentence's own words; leave out attributions such as \
\"police said\", ages and minor details, and add nothing that is not in the text: {n} key points, \
each on its own line starting with \"- \". Use exactly this format:\n\n\
Summary: <the summary>\n\nKey points:\n- <key point for [1]>\n- <key point for [2]>",
        summary = length.key_points_summary(),
        words = length.key_point_words(),
        n = marked
    ));
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

/// Runs the whole pipeline on an article. Without a generator the result is extractive: the
/// key sentences as bullets (and, for a tl;dr or headline, the top sentence as the summary).
#[allow(clippy::too_many_arguments)]
pub fn summarize(
    generator: Option<&mut Generator>,
    embedder: Option<&Embedder>,
    model_name: &str,
    article: &Article,
    opts: &SummarizeOptions,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
) -> Result<Summary> {
    let start = Instant::now();
    let text = article.text.as_str();
    on_step(Step::Stage { stage: Stage::Ranking, progress: None });
    let k = opts.length.max_bullets();
    let extraction = extract(text, embedder, k, opts.length, &opts.rank);
    let extractive = extraction.bullets(text);
    let first_bullet_ms = ms(start.elapsed());
    if opts.kind == SummaryType::KeyPoints {
        on_step(Step::Extractive(&extractive));
    }
    let mut summary = Summary::new(model_name, article.title.clone(), text);
    summary.ranker = extraction.ranker;
    summary.timings.first_bullet_ms = first_bullet_ms;
    let Some(generator) = generator else {
        match opts.kind {
            SummaryType::KeyPoints => summary.bullets = extractive,
            SummaryType::Tldr | SummaryType::Headline => {
                summary.summary = extractive.first().map(|b| b.text.clone()).unwrap_or_default();
            }
        }
        summary.timings.total_ms = ms(start.elapsed());
        return Ok(summary);
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    on_step(Step::Stage { stage: Stage::Reading, progress: None });
    let budget = article_budget(generator, article.title.as_deref(), opts)?;
    let article_tokens = generator.tokenizer.encode(text, false, false)?.len();
    let excerpt_text = excerpt(text, &extraction.sentences, &extraction.chosen);
    let mut prefill = Duration::ZERO;
    let mut prompt_tokens = 0;
    let mut generated_tokens = 0;
    let (source, marked) = if article_tokens <= budget {
        let excerpt_tokens = generator.tokenizer.encode(&excerpt_text, false, false)?.len();
        if !extraction.chosen.is_empty() && (excerpt_tokens < article_tokens || opts.kind == SummaryType::KeyPoints) {
            (excerpt_text, extraction.chosen.len())
        } else {
            (text.to_string(), 0)
        }
    } else {
        // Map-reduce: summarize sections that fit, then write from the section summaries and
        // the key sentences.
        let mut parts: Vec<String> = extraction.sentences.iter().map(|s| s.span.of(text).to_string()).collect();
        let section_budget = budget.saturating_sub(budget / 4).max(MIN_ARTICLE_TOKENS);
        loop {
            let sections = group(generator, &parts, section_budget)?;
            summary.sections += sections.len();
            let mut summaries = Vec::with_capacity(sections.len());
            for (n, section) in sections.iter().enumerate() {
                on_step(Step::Stage {
                    stage: Stage::Reading,
                    progress: Some(Progress { done: n, total: sections.len() }),
                });
                let prompt = generator.template.render(&messages(None, section, SummaryType::Tldr, Length::Medium))?;
                let ids = generator.tokenizer.encode(&prompt, true, true)?;
                let section_opts = GenerateOptions {
                    max_tokens: opts.generate.max_tokens.min(120),
                    ..opts.generate.clone()
                };
                let run = generate(generator, &ids, &section_opts, cancel, &mut |_| {})?;
                if run.stop == StopReason::Cancelled {
                    return Err(Error::Cancelled);
                }
                prefill += run.prefill_time;
                prompt_tokens += run.prompt_tokens;
                generated_tokens += run.tokens.len();
                let answer = parse_answer(&run.text);
                let part = if answer.summary.is_empty() { run.text.trim().to_string() } else { answer.summary };
                summaries.push(part);
            }
            on_step(Step::Stage {
                stage: Stage::Reading,
                progress: Some(Progress { done: sections.len(), total: sections.len() }),
            });
            let joined = summaries.join("\n");
            let joined_tokens = generator.tokenizer.encode(&joined, false, false)?.len();
            let excerpt_tokens = generator.tokenizer.encode(&excerpt_text, false, false)?.len();
            if joined_tokens + excerpt_tokens <= budget || summaries.len() <= 1 || summaries.len() >= parts.len() {
                let mut source = format!("Summaries of the article's sections:\n{joined}");
                let marked = if joined_tokens + excerpt_tokens <= budget {
                    source.push_str("\n\n");
                    source.push_str(&excerpt_text);
                    extraction.chosen.len()
                } else {
                    0
                };
                break (source, marked);
            }
            parts = summaries;
        }
    };
    let prompt = generator
        .template
        .render(&grounded_messages(article.title.as_deref(), &source, marked, opts.kind, opts.length, opts.condense))?;
    let ids = generator.tokenizer.encode(&prompt, true, true)?;
    on_step(Step::Stage { stage: Stage::Writing, progress: None });
    let generate_opts = if opts.kind == SummaryType::KeyPoints && !opts.condense {
        // Only the summary is written.
        GenerateOptions { max_tokens: opts.generate.max_tokens.min(SUMMARY_TOKENS), ..opts.generate.clone() }
    } else {
        opts.generate.clone()
    };
    let run = generate(generator, &ids, &generate_opts, cancel, &mut |delta| on_step(Step::Text(delta)))?;
    let answer = parse_answer(&run.text);
    summary.stop_reason = run.stop;
    summary.summary = answer.summary;
    match opts.kind {
        SummaryType::KeyPoints => {
            // Without condensing, the key points are the key sentences; anything the model
            // listed besides the summary is not used.
            let generated = if opts.condense { answer.bullets } else { Vec::new() };
            let (bullets, unsupported) = ground_bullets(text, &extraction, embedder, generated, k);
            summary.bullets = bullets;
            summary.unsupported = unsupported;
        }
        SummaryType::Tldr | SummaryType::Headline => {
            // Anything the model listed beyond the asked-for text is not part of the answer.
            if summary.summary.is_empty() {
                if let Some(first) = answer.bullets.first() {
                    summary.summary = first.text.clone();
                }
            }
            if opts.kind == SummaryType::Headline {
                let words: Vec<&str> = summary.summary.split_whitespace().collect();
                if words.len() > opts.length.headline_words() {
                    summary.summary = words[..opts.length.headline_words()].join(" ");
                }
            }
        }
    }
    summary.timings = Timings {
        load_ms: ms(generator.load_time),
        first_bullet_ms,
        prompt_tokens: prompt_tokens + run.prompt_tokens,
        prefill_ms: ms(prefill + run.prefill_time),
        generated_tokens: generated_tokens + run.tokens.len(),
        decode_ms: ms(run.decode_time),
        total_ms: ms(start.elapsed()) + ms(generator.load_time),
    };
    Ok(summary)
}

/// Groups consecutive pieces into sections of at most `budget` tokens (a piece longer than that
/// is a section of its own).
fn group(generator: &Generator, pieces: &[String], budget: usize) -> Result<Vec<String>> {
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut tokens = 0;
    for p in pieces {
        let n = generator.tokenizer.encode(p, false, false)?.len() + 1;
        if tokens + n > budget && !current.is_empty() {
            sections.push(std::mem::take(&mut current));
            tokens = 0;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(p);
        tokens += n;
    }
    if !current.is_empty() {
        sections.push(current);
    }
    Ok(sections)
}

/// Grounds generated bullets against the key sentences they were asked to shorten, one point
/// per key sentence, in article order. A generated point that is a condensation of a key
/// sentence (see [`Evidence::condenses`]: supported, nearly all in the sentence's own words, and
/// keeping most of them) stands for it, with its sources and score; every other key sentence is shown as it is.
/// Points the model added beyond the key sentences, rewrites that drift from their sentence
/// and unsupported points are not shown, and no two points say the same thing. Returns at most
/// `k` bullets and how many generated points the article did not support at all.
pub fn ground_bullets(
    text: &str,
    extraction: &Extraction,
    embedder: Option<&Embedder>,
    generated: Vec<Bullet>,
    k: usize,
) -> (Vec<Bullet>, usize) {
    let evidence = Evidence::new(text, &extraction.sentences, extraction.vectors.as_deref());
    let vectors: Option<Vec<Vec<f32>>> = match (embedder, &extraction.vectors) {
        (Some(e), Some(_)) => {
            let texts: Vec<&str> = generated.iter().map(|b| b.text.as_str()).collect();
            e.embed(&texts).ok()
        }
        _ => None,
    };
    let chosen = &extraction.chosen;
    let mut condensed: Vec<Option<Bullet>> = vec![None; chosen.len()];
    let mut unsupported = 0;
    for (n, b) in generated.into_iter().enumerate() {
        let g = evidence.ground(&b.text, vectors.as_ref().map(|v| v[n].as_slice()));
        if g.support < SUPPORT_THRESHOLD {
            unsupported += 1;
        }
        // The key sentence it would stand for: the one it was asked for when that is among its
        // sources, else the first free key sentence among them.
        let free = |slot: usize| condensed[slot].is_none();
        let slot = chosen
            .get(n)
            .filter(|i| g.sentences.contains(i))
            .map(|_| n)
            .filter(|&slot| free(slot))
            .or_else(|| g.sentences.iter().filter_map(|i| chosen.iter().position(|c| c == i)).find(|&slot| free(slot)));
        match slot.filter(|&slot| evidence.condenses(&g, &b.text, chosen[slot])) {
            Some(slot) => condensed[slot] = Some(Bullet { text: b.text, sources: g.sources, support: g.support }),
            None => {
                tracing::debug!(bullet = %b.text, support = g.support, coverage = g.coverage, missing = ?g.missing, "generated point not shown")
            }
        }
    }
    let mut out: Vec<Bullet> = Vec::new();
    for (slot, &i) in chosen.iter().enumerate() {
        let b = condensed[slot].take().unwrap_or_else(|| extraction.bullet(text, i));
        if out.len() < k && !out.iter().any(|o| same_point(&o.text, &b.text, None)) {
            out.push(b);
        }
    }
    (out, unsupported)
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// What a line of the answer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `Summary: text` (the text may be empty).
    SummaryLabel(&'a str),
    /// `Key points:` and its variants.
    KeyPointsLabel,
    /// A list item, without its marker.
    Bullet(&'a str),
    /// Anything else.
    Text(&'a str),
}

/// Classifies one line of a model's answer.
pub fn classify(line: &str) -> Line<'_> {
    let trimmed = line.trim();
    let bare = trimmed.trim_start_matches(['#', '*', '_', ' ']);
    let lower = bare.to_lowercase();
    for label in ["summary", "tl;dr", "tldr"] {
        if lower.starts_with(label) {
            let rest = bare[label.len()..].trim_start_matches(['*', '_', ' ']);
            if let Some(after) = rest.strip_prefix(':') {
                return Line::SummaryLabel(after.trim_start_matches(['*', '_']).trim());
            }
            if rest.is_empty() {
                return Line::SummaryLabel("");
            }
        }
    }
    for label in ["key points", "key point", "keypoints", "key takeaways", "main points", "highlights"] {
        if lower.starts_with(label) {
            let rest = bare[label.len()..].trim_matches(['*', '_', ' ', ':']);
            if rest.is_empty() {
                return Line::KeyPointsLabel;
            }
        }
    }
    if let Some(item) = list_item(trimmed) {
        return Line::Bullet(item);
    }
    Line::Text(trimmed)
}

/// The text of a list item (`- x`, `* x`, `• x`, `1. x`, `2) x`), or `None`.
fn list_item(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "• ", "– ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits <= 2 {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim());
        }
    }
    None
}

/// Removes Markdown emphasis markers around a whole item.
fn clean(text: &str) -> String {
    let t = text.trim();
    let t = t.strip_prefix("**").and_then(|x| x.strip_suffix("**")).unwrap_or(t);
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a model's answer into a summary and bullets. Malformed answers still give what is
/// usable: text before any list becomes the summary, list items become bullets, repeated
/// bullets are kept once, and an answer with no list at all yields its sentences as bullets.
pub fn parse_answer(text: &str) -> Answer {
    let mut summary_parts: Vec<String> = Vec::new();
    let mut loose: Vec<String> = Vec::new();
    let mut bullets: Vec<Bullet> = Vec::new();
    let mut in_points = false;
    for line in text.lines() {
        match classify(line) {
            Line::SummaryLabel(rest) => {
                in_points = false;
                if !rest.is_empty() {
                    summary_parts.push(clean(rest));
                }
            }
            Line::KeyPointsLabel => in_points = true,
            Line::Bullet(item) => {
                let item = clean(item);
                if !item.is_empty() {
                    push_unique(&mut bullets, item);
                }
            }
            Line::Text("") => {}
            Line::Text(t) => {
                if in_points {
                    loose.push(clean(t));
                } else if bullets.is_empty() {
                    summary_parts.push(clean(t));
                }
            }
        }
    }
    if bullets.is_empty() {
        for t in loose {
            push_unique(&mut bullets, t);
        }
    }
    let mut summary = summary_parts.join(" ");
    if bullets.is_empty() && summary_parts.len() > 1 {
        // No list at all: the first paragraph is the summary, the rest are the points.
        summary = summary_parts[0].clone();
        for t in &summary_parts[1..] {
            push_unique(&mut bullets, t.clone());
        }
    }
    Answer { summary, bullets }
}

fn push_unique(bullets: &mut Vec<Bullet>, text: String) {
    let key = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let k = key(&text);
    if !k.is_empty() && !bullets.iter().any(|b| key(&b.text) == k) {
        bullets.push(Bullet::new(text));
    }
}

/// The most tokens an answer of this type and length should need; generation stops there, so a
/// small model that rambles is cut off in proportion to what was asked.
pub fn answer_tokens(kind: SummaryType, length: Length) -> usize {
    match (kind, length) {
        (SummaryType::KeyPoints, Length::Short) => 200,
        (SummaryType::KeyPoints, Length::Medium) => 320,
        (SummaryType::KeyPoints, Length::Long) => 450,
        (SummaryType::Tldr, Length::Short) => 90,
        (SummaryType::Tldr, Length::Medium) => 180,
        (SummaryType::Tldr, Length::Long) => 300,
        (SummaryType::Headline, _) => 60,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_sentence_is_shown_condensed_or_as_it_is() {
        let text = "The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network. \
Residents had asked for later buses for years. \
The plan, proposed by transit director Maria Okafor, will cost about $4.2 million a year. \
Some council members wanted a smaller trial first. \
The new routes start on March 1 and run until 2 a.m. every night.";
        let sentences = sentences::split(text);
        assert_eq!(sentences.len(), 5);
        let extraction = Extraction { sentences, vectors: None, chosen: vec![0, 2, 4], ranker: Ranker::Lexical, trim: TrimRules::NONE };
        let generated = [
            // Faithful, but it drops most of the sentence's facts.
            "The council voted on Tuesday.",
            "The council voted 7 to 2 to expand the night bus network.",
            // Supported, but in the model's words rather than the article's.
            "Maria Okafor's plan will cost the city roughly $4.2 million annually.",
            // Invented.
            "Mayor John Smith will open the first route in June.",
            // A condensation of the third key sentence, out of place.
            "The new routes start on March 1 and run until 2 a.m.",
            // About a sentence that is not a key sentence.
            "Residents had asked for later buses for years.",
        ]
        .map(Bullet::new)
        .to_vec();
        let (bullets, unsupported) = ground_bullets(text, &extraction, None, generated, 5);
        let shown: Vec<&str> = bullets.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            shown,
            [
                "The council voted 7 to 2 to expand the night bus network.",
                "The plan, proposed by transit director Maria Okafor, will cost about $4.2 million a year.",
                "The new routes start on March 1 and run until 2 a.m.",
            ]
        );
        assert_eq!(bullets[0].sources[0].of(text), extraction.sentences[0].span.of(text));
        assert_eq!(bullets[2].sources[0].of(text), extraction.sentences[4].span.of(text));
        assert_eq!(bullets[1].support, 1.0);
        assert_eq!(unsupported, 1, "only the invented point is unsupported");
        // The list never exceeds k.
        let (bullets, _) = ground_bullets(text, &extraction, None, Vec::new(), 2);
        assert_eq!(bullets.len(), 2);
    }

    #[test]
    fn extractive_key_points_are_trimmed_and_cite_exactly_the_kept_bytes() {
        let text = "(CNN)The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network. \
Residents had asked the council for later buses for years. \
But the plan will cost the city about $4.2 million a year, a council spokesman said.";
        // By default the attribution stays: the key point is what the spokesman said.
        let plain = extract(text, None, 3, Length::Medium, &RankOptions::default()).bullets(text);
        assert_eq!(plain[2].text, "The plan will cost the city about $4.2 million a year, a council spokesman said.");
        assert_eq!(plain[2].sources.len(), 1);
        // With every rule, the attribution goes too.
        let all = RankOptions { trim: TrimRules::ALL, ..RankOptions::default() };
        let extraction = extract(text, None, 3, Length::Medium, &all);
        assert_eq!(extraction.chosen, [0, 1, 2]);
        let bullets = extraction.bullets(text);
        let shown: Vec<&str> = bullets.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            shown,
            [
                "The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network.",
                "Residents had asked the council for later buses for years.",
                "The plan will cost the city about $4.2 million a year.",
            ]
        );
        // The last one cites the kept clause and the sentence's own full stop.
        let cited: Vec<&str> = bullets[2].sources.iter().map(|s| s.of(text)).collect();
        assert_eq!(cited, ["the plan will cost the city about $4.2 million a year", "."]);
        let evidence = Evidence::new(text, &extraction.sentences, None);
        for b in &bullets {
            let kept: Vec<&str> = b.sources.iter().map(|s| s.of(text)).collect();
            assert_eq!(b.text.to_lowercase(), kept.join(" ").replace(" .", ".").to_lowercase());
            let g = evidence.ground(&b.text, None);
            assert!(g.support >= SUPPORT_THRESHOLD && g.missing.is_empty(), "{b:?} {g:?}");
            assert_eq!(b.support, 1.0);
        }
        // Without trimming, the key points are the sentences as they are.
        let whole = extract(text, None, 3, Length::Medium, &RankOptions { trim: TrimRules::NONE, ..RankOptions::default() });
        let bullets = whole.bullets(text);
        assert!(bullets[0].text.starts_with("(CNN)The Riverton") && bullets[2].text.ends_with("a council spokesman said."));
        assert!(bullets.iter().all(|b| b.sources.len() == 1));
    }

    #[test]
    fn key_points_prompt_asks_for_the_summary_and_shortenings_only_when_condensing() {
        let user = |condense| {
            let m = grounded_messages(Some("Buses"), "[1] The council voted.", 1, SummaryType::KeyPoints, Length::Medium, condense);
            assert_eq!(m.len(), 2);
            m[1].content.clone()
        };
        let plain = user(false);
        assert!(plain.starts_with("Title: Buses\n\nKey sentences of the article, marked [1] to [1]"), "{plain}");
        assert!(plain.ends_with("Write a summary of the article in two or three sentences. Use exactly this format:\n\nSummary: <the summary>"), "{plain}");
        let condensed = user(true);
        assert!(condensed.contains("shorten each marked sentence into a key point of at most 15 words"), "{condensed}");
        assert!(condensed.ends_with("Key points:\n- <key point for [1]>\n- <key point for [2]>"), "{condensed}");
        let short = grounded_messages(None, "[1] The council voted.", 1, SummaryType::KeyPoints, Length::Short, false);
        assert!(short[1].content.ends_with("Write a summary of the article in one sentence. Use exactly this format:\n\nSummary: <the summary>"));
    }

    fn texts(a: &Answer) -> Vec<&str> {
        a.bullets.iter().map(|b| b.text.as_str()).collect()
    }

    #[test]
    fn well_formed_answer() {
        let a = parse_answer(
            "Summary: The council approved the budget. It takes effect in May.\n\nKey points:\n- The vote was 7 to 2.\n- Parks get more money.\n- Taxes stay flat.",
        );
        assert_eq!(a.summary, "The council approved the budget. It takes effect in May.");
        assert_eq!(texts(&a), ["The vote was 7 to 2.", "Parks get more money.", "Taxes stay flat."]);
    }

    #[test]
    fn markdown_headings_numbers_and_bold() {
        let a = parse_answer(
            "## Summary\nA **short** summary.\n\n### Key Points:\n1. **First point.**\n2) Second point.\n* Third point.",
        );
        assert_eq!(a.summary, "A **short** summary.");
        assert_eq!(texts(&a), ["First point.", "Second point.", "Third point."]);
    }

    #[test]
    fn repeated_bullets_are_kept_once() {
        let a = parse_answer("Summary: S.\nKey points:\n- Same thing.\n- same thing\n- Other.\n- Same thing.");
        assert_eq!(texts(&a), ["Same thing.", "Other."]);
    }

    #[test]
    fn no_labels_at_all() {
        let a = parse_answer("The mayor resigned on Monday.\n\n- She cited health reasons.\n- An election follows.");
        assert_eq!(a.summary, "The mayor resigned on Monday.");
        assert_eq!(texts(&a), ["She cited health reasons.", "An election follows."]);
    }

    #[test]
    fn points_without_markers_and_truncated_answers() {
        let a = parse_answer("Summary: Rain is coming.\nKey points:\nStorms on Friday.\nRoads may flood.");
        assert_eq!(texts(&a), ["Storms on Friday.", "Roads may flood."]);
        let a = parse_answer("Summary: Cut off mid");
        assert_eq!(a.summary, "Cut off mid");
        assert!(a.bullets.is_empty());
        assert_eq!(parse_answer(""), Answer::default());
    }

    #[test]
    fn classify_lines() {
        assert_eq!(classify("**Summary:** Hi"), Line::SummaryLabel("Hi"));
        assert_eq!(classify("Key points:"), Line::KeyPointsLabel);
        assert_eq!(classify("  - item "), Line::Bullet("item"));
        assert_eq!(classify("12. item"), Line::Bullet("item"));
        assert_eq!(classify("2024 was a year."), Line::Text("2024 was a year."));
        assert_eq!(classify("Summaryless text"), Line::Text("Summaryless text"));
    }
}
