//! The summary pipeline: runs the stages in order on one article (rank, read, write, ground),
//! reporting each stage and the extractive key points as soon as they are known, and
//! summarizing an article longer than the prompt section by section first (map-reduce).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::answer::parse_answer;
use super::keypoints::{extract, ground_bullets, Extraction};
use super::options::{Length, SummarizeOptions, SummaryType, SUMMARY_TOKENS};
use super::prompts::{excerpt, grounded_messages, messages};
use super::{Bullet, Summary, Timings};
use crate::article::Article;
use crate::error::{Error, Result};
use crate::llm::embed::Embedder;
use crate::llm::{generate, CancelToken, GenerateOptions, Generator, StopReason};

/// Fewer article tokens than this would not make a useful summary.
const MIN_ARTICLE_TOKENS: usize = 64;

/// What a run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    LoadingModel,
    Reading,
    Ranking,
    Writing,
}

/// How far a stage with parts (the sections of a long article) has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// What a run reports as it goes.
#[derive(Debug)]
pub enum Step<'a> {
    Stage {
        stage: Stage,
        progress: Option<Progress>,
    },
    /// The extractive key points, as soon as ranking is done.
    Extractive(&'a [Bullet]),
    /// New text of the final answer from the generator.
    Text(&'a str),
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

/// The models a summary runs on. Without a generator the summary is extractive; without an
/// embedder the sentences are ranked lexically.
pub struct Models<'a> {
    pub generator: Option<&'a mut Generator>,
    pub embedder: Option<&'a Embedder>,
    /// The generator's name as the summary reports it (catalog name or file stem).
    pub name: &'a str,
}

impl<'a> Models<'a> {
    /// Ranking alone, without a generator, reported as `name`.
    pub fn extractive(name: &'a str) -> Models<'a> {
        Models { generator: None, embedder: None, name }
    }
}

/// Runs the whole pipeline on an article. Without a generator the result is extractive: the
/// key sentences as bullets (and, for a tl;dr or headline, the top sentence as the summary).
pub fn summarize(
    models: Models<'_>,
    article: &Article,
    opts: &SummarizeOptions,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
) -> Result<Summary> {
    let start = Instant::now();
    let text = article.text.as_str();
    on_step(Step::Stage { stage: Stage::Ranking, progress: None });
    let k = opts.length.max_bullets();
    let extraction = extract(text, models.embedder, k, opts.length, &opts.rank, cancel)?;
    let extractive = extraction.bullets(text);
    let first_bullet_ms = ms(start.elapsed());
    if opts.kind == SummaryType::KeyPoints {
        on_step(Step::Extractive(&extractive));
    }
    let mut summary = Summary::new(models.name, article.title.clone(), text);
    summary.ranker = extraction.ranker;
    summary.timings.first_bullet_ms = first_bullet_ms;
    let Some(generator) = models.generator else {
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
    let mut sections = Sections::default();
    let (source, marked) = prompt_source(generator, article, &extraction, opts, cancel, on_step, &mut sections)?;
    summary.sections = sections.count;
    let prompt = generator.template.render(&grounded_messages(
        article.title.as_deref(),
        &source,
        marked,
        opts.kind,
        opts.length,
        opts.condense,
    ))?;
    let ids = generator.tokenizer.encode(&prompt, true, true)?;
    on_step(Step::Stage { stage: Stage::Writing, progress: None });
    let generate_opts = if opts.kind == SummaryType::KeyPoints && !opts.condense {
        // Only the summary is written.
        GenerateOptions { max_tokens: opts.generate.max_tokens.min(SUMMARY_TOKENS), ..opts.generate.clone() }
    } else {
        opts.generate.clone()
    };
    let run = generate(generator, &ids, &generate_opts, cancel, &mut |delta| on_step(Step::Text(delta)))?;
    summary.stop_reason = run.stop;
    take_answer(&mut summary, &run.text, &extraction, models.embedder, opts);
    summary.timings = Timings {
        load_ms: ms(generator.load_time),
        first_bullet_ms,
        prompt_tokens: sections.prompt_tokens + run.prompt_tokens,
        prefill_ms: ms(sections.prefill + run.prefill_time),
        generated_tokens: sections.generated_tokens + run.tokens.len(),
        decode_ms: ms(run.decode_time),
        total_ms: ms(start.elapsed()) + ms(generator.load_time),
    };
    Ok(summary)
}

/// What summarizing a long article section by section cost, before the final prompt.
#[derive(Default)]
struct Sections {
    /// Sections summarized (0: the article fit one prompt).
    count: usize,
    prompt_tokens: usize,
    generated_tokens: usize,
    prefill: Duration,
}

/// The text the generator writes the summary from, and how many key sentences it marks: the
/// key sentences among their neighbours (or the whole article, when that is shorter and no key
/// points are asked for) when the article fits the prompt; otherwise the summaries of its
/// sections, with the key sentences when they fit beside them.
fn prompt_source(
    generator: &mut Generator,
    article: &Article,
    extraction: &Extraction,
    opts: &SummarizeOptions,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
    sections: &mut Sections,
) -> Result<(String, usize)> {
    let text = article.text.as_str();
    let budget = article_budget(generator, article.title.as_deref(), opts)?;
    let article_tokens = generator.tokenizer.encode(text, false, false)?.len();
    let excerpt_text = excerpt(text, &extraction.sentences, &extraction.chosen);
    let excerpt_tokens = generator.tokenizer.encode(&excerpt_text, false, false)?.len();
    if article_tokens <= budget {
        if !extraction.chosen.is_empty() && (excerpt_tokens < article_tokens || opts.kind == SummaryType::KeyPoints) {
            return Ok((excerpt_text, extraction.chosen.len()));
        }
        return Ok((text.to_string(), 0));
    }
    // Map-reduce: summarize sections that fit, then write from the section summaries and the
    // key sentences; summaries too long together are summarized again, by sections.
    let mut parts: Vec<String> = extraction.sentences.iter().map(|s| s.span.of(text).to_string()).collect();
    let section_budget = budget.saturating_sub(budget / 4).max(MIN_ARTICLE_TOKENS);
    loop {
        let summaries =
            summarize_sections(generator, &group(generator, &parts, section_budget)?, opts, cancel, on_step, sections)?;
        let joined = summaries.join("\n");
        let joined_tokens = generator.tokenizer.encode(&joined, false, false)?.len();
        let fits_with_excerpt = joined_tokens + excerpt_tokens <= budget;
        if fits_with_excerpt || summaries.len() <= 1 || summaries.len() >= parts.len() {
            let mut source = format!("Summaries of the article's sections:\n{joined}");
            if !fits_with_excerpt {
                return Ok((source, 0));
            }
            source.push_str("\n\n");
            source.push_str(&excerpt_text);
            return Ok((source, extraction.chosen.len()));
        }
        parts = summaries;
    }
}

/// A short summary of each section, reporting progress as it goes.
fn summarize_sections(
    generator: &mut Generator,
    texts: &[String],
    opts: &SummarizeOptions,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
    sections: &mut Sections,
) -> Result<Vec<String>> {
    sections.count += texts.len();
    let section_opts = GenerateOptions { max_tokens: opts.generate.max_tokens.min(120), ..opts.generate.clone() };
    let mut summaries = Vec::with_capacity(texts.len());
    for (n, section) in texts.iter().enumerate() {
        on_step(Step::Stage { stage: Stage::Reading, progress: Some(Progress { done: n, total: texts.len() }) });
        let prompt = generator.template.render(&messages(None, section, SummaryType::Tldr, Length::Medium))?;
        let ids = generator.tokenizer.encode(&prompt, true, true)?;
        let run = generate(generator, &ids, &section_opts, cancel, &mut |_| {})?;
        if run.stop == StopReason::Cancelled {
            return Err(Error::Cancelled);
        }
        sections.prefill += run.prefill_time;
        sections.prompt_tokens += run.prompt_tokens;
        sections.generated_tokens += run.tokens.len();
        let answer = parse_answer(&run.text);
        summaries.push(if answer.summary.is_empty() { run.text.trim().to_string() } else { answer.summary });
    }
    on_step(Step::Stage { stage: Stage::Reading, progress: Some(Progress { done: texts.len(), total: texts.len() }) });
    Ok(summaries)
}

/// Fills the summary from the generator's answer: the summary text, and for key points the key
/// sentences (each replaced by the model's shortening only when `condense` asked for one and it
/// passed the grounding check); a headline is held to its word limit.
fn take_answer(
    summary: &mut Summary,
    answer: &str,
    extraction: &Extraction,
    embedder: Option<&Embedder>,
    opts: &SummarizeOptions,
) {
    let answer = parse_answer(answer);
    summary.summary = answer.summary;
    match opts.kind {
        SummaryType::KeyPoints => {
            // Without condensing, the key points are the key sentences; anything the model
            // listed besides the summary is not used.
            let generated = if opts.condense { answer.bullets } else { Vec::new() };
            let (bullets, unsupported) =
                ground_bullets(&summary.text, extraction, embedder, generated, opts.length.max_bullets());
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

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
