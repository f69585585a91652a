//! The summary pipeline: runs the stages in order on one article (detect its language, rank,
//! read, write, ground), reporting each stage and the extractive key points as soon as they are
//! known. A long article is read from a bounded excerpt of every section, or, when a person
//! asks for a thorough summary, section by section first (map-reduce). The answer is asked for in the article's language or the chosen one, and its
//! language is checked as it streams: an answer that starts in another language is stopped
//! before it is shown and asked for once more, firmly; a second miss is reported
//! (`Summary::language_mismatch`), not hidden. Key points can be translated into the chosen
//! language (`translate_points`).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::answer::parse_answer;
use super::keypoints::{extract_in, ground_bullets, Extraction};
use super::options::{Length, SummarizeOptions, SummaryType, DEFAULT_ARTICLE_TOKENS, SUMMARY_TOKENS};
use super::prompts::{excerpt, excerpt_with, grounded_messages_in, messages_in, translation_messages, Ask};
use super::{Bullet, Summary, Timings, Translation};
use crate::article::Article;
use crate::error::{Error, Result};
use crate::language::{self, Language, Verdict};
use crate::llm::{generate, CancelToken, GenerateOptions, Generation, Generator, StopReason};

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
    /// A `thorough` run is about to read the article section by section: how many sections, and
    /// about how many seconds that takes.
    Plan {
        sections: usize,
        seconds: u64,
    },
    /// The extractive key points, as soon as ranking is done.
    Extractive(&'a [Bullet]),
    /// New text of the final answer from the generator.
    Text(&'a str),
}

/// How many article tokens fit: the requested budget, but never more than the model's
/// context leaves after the instructions and the answer.
fn article_budget(
    generator: &Generator,
    title: Option<&str>,
    opts: &SummarizeOptions,
    ask: Option<Ask>,
) -> Result<usize> {
    let firm = ask.map(|a| a.insisting(Language::ENGLISH));
    let frame = generator.template.render(&messages_in(title, "", opts.kind, opts.length, firm))?;
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

/// The models a summary runs on. Without a generator the summary is extractive.
pub struct Models<'a> {
    pub generator: Option<&'a mut Generator>,
    /// The generator's name as the summary reports it (catalog name or file stem).
    pub name: &'a str,
}

impl<'a> Models<'a> {
    /// Ranking alone, without a generator, reported as `name`.
    pub fn extractive(name: &'a str) -> Models<'a> {
        Models { generator: None, name }
    }
}

/// The extractive key points of a key-points summary, ranked before any generator is loaded so
/// they can be shown at once (ranking takes milliseconds): what `Step::Extractive` gives once
/// the pipeline runs. `None` for the other summary types.
pub fn key_points_first(
    article: &Article,
    opts: &SummarizeOptions,
    cancel: &CancelToken,
) -> Result<Option<Vec<Bullet>>> {
    if opts.kind != SummaryType::KeyPoints {
        return Ok(None);
    }
    let (text, title) = (article.text.as_str(), article.title.as_deref());
    let extraction =
        super::keypoints::extract(text, title, opts.length.max_bullets(), opts.length, &opts.rank, cancel)?;
    Ok(Some(extraction.bullets(text)))
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
    let detected = language::detect(text);
    let target = opts.language.resolve(detected.language);
    let k = opts.length.max_bullets();
    let title = article.title.as_deref();
    let extraction = extract_in(text, title, detected.language, k, opts.length, &opts.rank, cancel)?;
    let extractive = extraction.bullets(text);
    let first_bullet_ms = ms(start.elapsed());
    if opts.kind == SummaryType::KeyPoints {
        on_step(Step::Extractive(&extractive));
    }
    let mut summary = Summary::new(models.name, article.title.clone(), text);
    summary.timings.first_bullet_ms = first_bullet_ms;
    summary.language = detected.language;
    summary.language_confidence = detected.confidence;
    summary.output_language = target;
    let Some(generator) = models.generator else {
        match opts.kind {
            SummaryType::KeyPoints => summary.bullets = extractive,
            SummaryType::Tldr | SummaryType::Headline => {
                summary.summary = extractive.first().map(|b| b.text.clone()).unwrap_or_default();
                // A sentence of the article is in the article's language, whatever was chosen.
                summary.language_mismatch =
                    !summary.summary.is_empty() && target.is_known() && target != detected.language;
            }
        }
        summary.timings.total_ms = ms(start.elapsed());
        return Ok(summary);
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    on_step(Step::Stage { stage: Stage::Reading, progress: None });
    let ask = Ask::new(target, detected.language);
    let mut earlier = Earlier::default();
    let (source, marked) = prompt_source(generator, article, &extraction, opts, ask, cancel, on_step, &mut earlier)?;
    summary.sections = earlier.sections;
    on_step(Step::Stage { stage: Stage::Writing, progress: None });
    let generate_opts = if opts.kind == SummaryType::KeyPoints && !opts.condense {
        // Only the summary is written.
        GenerateOptions { max_tokens: opts.generate.max_tokens.min(SUMMARY_TOKENS), ..opts.generate.clone() }
    } else {
        opts.generate.clone()
    };
    let title = article.title.as_deref();
    let checked = write_checked(
        generator,
        &|ask| grounded_messages_in(title, &source, marked, opts.kind, opts.length, opts.condense, ask),
        ask,
        Check { expected: target, source: detected.language },
        &generate_opts,
        cancel,
        on_step,
        &mut earlier,
    )?;
    let run = checked.run;
    summary.stop_reason = run.stop;
    summary.language_mismatch = checked.mismatch;
    take_answer(&mut summary, &run.text, &extraction, opts);
    if opts.translate_points
        && opts.kind == SummaryType::KeyPoints
        && run.stop != StopReason::Cancelled
        && target.is_known()
        && target != detected.language
    {
        let translated = translate_with(generator, &summary.bullets, detected.language, target, cancel, &mut earlier)?;
        summary.bullets = translated;
    }
    summary.timings = Timings {
        load_ms: ms(generator.load_time),
        first_bullet_ms,
        prompt_tokens: earlier.prompt_tokens + run.prompt_tokens,
        prefill_ms: ms(earlier.prefill + run.prefill_time),
        generated_tokens: earlier.generated_tokens + run.tokens.len(),
        decode_ms: ms(earlier.decode + run.decode_time),
        total_ms: ms(start.elapsed()) + ms(generator.load_time),
    };
    Ok(summary)
}

/// Most article tokens the prompt of a long read holds: the key sentences and the most salient
/// sentences of each section, with their neighbours. Reading it takes the default model (1.5B
/// parameters) about 8 to 10 s on two cores (70 to 90 tokens a second), which with loading,
/// ranking and writing keeps a long read's summary within 20 s.
pub const LONG_READ_PROMPT_TOKENS: usize = 640;

/// The key sentences (marked `[1]`, `[2]`, …) and, as far as `budget` tokens allow, more of the
/// most salient sentences, taken from each section in turn, all with their neighbours.
fn bounded_excerpt(
    generator: &Generator,
    text: &str,
    extraction: &Extraction,
    budget: usize,
) -> Result<(String, usize)> {
    let (sentences, chosen) = (&extraction.sentences, &extraction.chosen);
    let tokens = |s: &str| -> Result<usize> { Ok(generator.tokenizer.encode(s, false, false)?.len()) };
    // The key sentences come first; while they alone are over the budget, the least salient go.
    let mut marked = chosen.clone();
    let mut source = excerpt(text, sentences, &marked);
    while marked.len() > 1 && tokens(&source)? > budget {
        let weakest = (0..marked.len())
            .min_by(|&a, &b| extraction.salience[marked[a]].total_cmp(&extraction.salience[marked[b]]));
        marked.remove(weakest.unwrap_or(marked.len() - 1));
        source = excerpt(text, sentences, &marked);
    }
    // Then the other candidates, most salient first within each section, one section at a time.
    let structure = &extraction.structure;
    let mut by_section: Vec<Vec<usize>> = vec![Vec::new(); structure.sections];
    let mut candidates: Vec<usize> =
        (0..sentences.len()).filter(|i| extraction.salience[*i] >= 0.0 && !marked.contains(i)).collect();
    candidates.sort_by(|&a, &b| extraction.salience[b].total_cmp(&extraction.salience[a]));
    for i in candidates {
        by_section[structure.section[i]].push(i);
    }
    let mut extra: Vec<usize> = Vec::new();
    let mut round = 0;
    loop {
        let turn: Vec<usize> = by_section.iter().filter_map(|s| s.get(round).copied()).collect();
        if turn.is_empty() {
            break;
        }
        for i in turn {
            extra.push(i);
            let wider = excerpt_with(text, sentences, &marked, &extra);
            if tokens(&wider)? > budget {
                extra.pop();
                return Ok((source, marked.len()));
            }
            source = wider;
        }
        round += 1;
    }
    Ok((source, marked.len()))
}

/// About how long reading `tokens` article tokens section by section takes: the prompts at the
/// prefill speed this generator's size suggests (about 75 tokens a second per GB of weights on
/// two threads, measured with the catalog models), and a short summary written for each.
fn read_estimate(generator: &Generator, tokens: usize) -> u64 {
    let gb = (generator.weights_bytes as f64 / 1e9).max(0.05);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1) as f64;
    let prefill = 75.0 / gb * threads / 2.0;
    let sections = tokens as f64 / DEFAULT_ARTICLE_TOKENS as f64;
    (tokens as f64 / prefill + sections * 100.0 / (prefill / 5.0)).ceil() as u64
}

/// What the language check of an answer expects.
#[derive(Debug, Clone, Copy)]
struct Check {
    /// The language asked for (unknown: nothing to check).
    expected: Language,
    /// The article's language, which an answer may copy instead.
    source: Language,
}

/// An answer that passed (or failed twice) the language check.
struct Checked {
    run: Generation,
    /// Both answers were in another language than the one asked for.
    mismatch: bool,
}

/// Words (as `article::count_words` counts them) of the summary before its language is judged
/// while it streams: enough for whatlang to tell languages apart, few enough that holding them
/// back is hardly noticed.
const JUDGE_AFTER_WORDS: usize = 10;
/// The language is judged after this many bytes of answer at the latest, whatever they are.
const JUDGE_AFTER_BYTES: usize = 240;

/// Holds an answer back until its language is known: text in the language asked for is passed
/// on (what was held, then the rest as it comes); text in another language is not shown, and
/// its generation is stopped when another attempt is to follow.
struct Gate<'a> {
    check: Check,
    /// What the model wrote so far in this attempt.
    text: String,
    /// Written but not passed on yet.
    held: String,
    verdict: Option<Verdict>,
    /// Whether a wrong language stops this attempt (there is another one after it).
    stop_on_mismatch: bool,
    attempt: &'a CancelToken,
}

impl Gate<'_> {
    fn push(&mut self, delta: &str, on_step: &mut dyn FnMut(Step<'_>)) {
        self.text.push_str(delta);
        match self.verdict {
            Some(Verdict::Matches) => on_step(Step::Text(delta)),
            Some(_) => {}
            None => {
                self.held.push_str(delta);
                let summary = parse_answer(&self.text).summary;
                if crate::article::count_words(&summary) >= JUDGE_AFTER_WORDS || self.text.len() >= JUDGE_AFTER_BYTES {
                    self.decide(&summary, on_step);
                }
            }
        }
    }

    fn decide(&mut self, summary: &str, on_step: &mut dyn FnMut(Step<'_>)) {
        let verdict = match language::judge(summary, self.check.expected, self.check.source) {
            // As much as is judged at all and still too short to tell: it is shown.
            Verdict::TooShort => Verdict::Matches,
            v => v,
        };
        match verdict {
            Verdict::Differs(_) if self.stop_on_mismatch => self.attempt.cancel(),
            _ => {
                if !self.held.is_empty() {
                    on_step(Step::Text(&std::mem::take(&mut self.held)));
                }
            }
        }
        // After a final miss the rest is shown as it comes (and reported as a mismatch).
        self.verdict = Some(if self.stop_on_mismatch { verdict } else { Verdict::Matches });
        if let (Verdict::Differs(found), false) = (verdict, self.stop_on_mismatch) {
            tracing::debug!(%found, expected = %self.check.expected, "the answer is in another language again");
        }
    }

    /// The verdict on the whole answer, once it is written; whatever is still held is passed on
    /// unless the answer is to be asked for again.
    fn finish(&mut self, on_step: &mut dyn FnMut(Step<'_>)) -> Verdict {
        let summary = parse_answer(&self.text).summary;
        let whole = language::judge(&summary, self.check.expected, self.check.source);
        if self.verdict.is_none() {
            let verdict =
                if matches!(whole, Verdict::Differs(_)) && self.stop_on_mismatch { whole } else { Verdict::Matches };
            if verdict == Verdict::Matches && !self.held.is_empty() {
                on_step(Step::Text(&std::mem::take(&mut self.held)));
            }
            self.verdict = Some(verdict);
        }
        match self.verdict {
            // Stopped early for its language.
            Some(v @ Verdict::Differs(_)) => v,
            _ => whole,
        }
    }
}

/// Generates the answer to `messages` and checks its language. When `ask` names a language, the
/// answer is held back until its language is judged (see `Gate`): one in another language than
/// `check.expected` is asked for once more with `ask` made firm, and a second miss is kept and
/// reported as a mismatch. Without `ask` (an English article summarized in English, or nothing
/// known), the answer streams as it comes, as it always did, and is judged once written: a
/// miss is reported. The cost of a first attempt is added to `earlier`.
#[allow(clippy::too_many_arguments)]
fn write_checked(
    generator: &mut Generator,
    messages: &dyn Fn(Option<Ask>) -> Vec<crate::llm::template::Message>,
    ask: Option<Ask>,
    check: Check,
    opts: &GenerateOptions,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
    earlier: &mut Earlier,
) -> Result<Checked> {
    let mut asking = ask;
    let gated = ask.is_some() && check.expected.is_known();
    for attempt in 0..2 {
        let last = attempt == 1 || !gated;
        let ids = generator.tokenizer.encode(&generator.template.render(&messages(asking))?, true, true)?;
        let attempt_cancel = cancel.child();
        let mut gate = Gate {
            check,
            text: String::new(),
            held: String::new(),
            verdict: (!gated).then_some(Verdict::Matches),
            stop_on_mismatch: !last,
            attempt: &attempt_cancel,
        };
        let run = generate(generator, &ids, opts, &attempt_cancel, &mut |delta| gate.push(delta, on_step))?;
        let verdict = gate.finish(on_step);
        if cancel.is_cancelled() {
            return Ok(Checked { run, mismatch: false });
        }
        match verdict {
            Verdict::Differs(found) if !last => {
                tracing::info!(%found, expected = %check.expected, "the answer is in another language; asking again");
                earlier.add(&run);
                asking = asking.map(|a| a.insisting(found));
            }
            Verdict::Differs(found) => {
                tracing::warn!(%found, expected = %check.expected, "the answer is not in the language asked for");
                return Ok(Checked { run, mismatch: true });
            }
            _ => return Ok(Checked { run, mismatch: false }),
        }
    }
    unreachable!("the second attempt always returns")
}

/// Translates key points from `from` into `to` with the generator: each bullet keeps its text
/// and sources (they are the article's own words) and gains a `translation`. A translation that
/// is missing from the answer, or is not in `to`, is left out rather than shown wrong.
pub fn translate_points(
    generator: &mut Generator,
    bullets: &[Bullet],
    from: Language,
    to: Language,
    cancel: &CancelToken,
) -> Result<Vec<Bullet>> {
    translate_with(generator, bullets, from, to, cancel, &mut Earlier::default())
}

fn translate_with(
    generator: &mut Generator,
    bullets: &[Bullet],
    from: Language,
    to: Language,
    cancel: &CancelToken,
    earlier: &mut Earlier,
) -> Result<Vec<Bullet>> {
    let mut out = bullets.to_vec();
    if bullets.is_empty() || !to.is_known() {
        return Ok(out);
    }
    let points: Vec<&str> = bullets.iter().map(|b| b.text.as_str()).collect();
    let prompt = generator.template.render(&translation_messages(&points, from, to))?;
    let ids = generator.tokenizer.encode(&prompt, true, true)?;
    // Room for each point at up to three times its length in tokens, which any language needs.
    let source_tokens = generator.tokenizer.encode(&points.join("\n"), false, false)?.len();
    let opts =
        GenerateOptions { max_tokens: (source_tokens * 3 + 16 * points.len()).min(1500), ..GenerateOptions::default() };
    let run = generate(generator, &ids, &opts, cancel, &mut |_| {})?;
    earlier.add(&run);
    if run.stop == StopReason::Cancelled {
        return Err(Error::Cancelled);
    }
    for (n, line) in numbered_lines(&run.text) {
        let Some(bullet) = n.checked_sub(1).and_then(|i| out.get_mut(i)) else { continue };
        if bullet.translation.is_some() || line.is_empty() {
            continue;
        }
        match language::judge(line, to, from) {
            Verdict::Differs(found) => {
                tracing::debug!(%found, %to, line, "a translation in another language is not shown")
            }
            _ => bullet.translation = Some(Translation { text: line.to_string(), language: to }),
        }
    }
    Ok(out)
}

/// The lines of an answer that start with a number (`1. `, `2) `, `3: `, `4、`), with their number
/// and text (quotes and Markdown emphasis around it removed).
fn numbered_lines(answer: &str) -> Vec<(usize, &str)> {
    answer
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches(['-', '*', ' ']);
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            let n: usize = line[..digits].parse().ok()?;
            let rest = line[digits..].strip_prefix(['.', ')', ':', '、', '．'])?;
            let rest = rest.trim().trim_matches(['*', '"', '“', '”', '「', '」']).trim();
            Some((n, rest))
        })
        .collect()
}

/// What the runs before the final answer cost: the sections of a long article, an answer in
/// the wrong language, translations.
#[derive(Default)]
struct Earlier {
    /// Sections summarized (0: the article fit one prompt).
    sections: usize,
    prompt_tokens: usize,
    generated_tokens: usize,
    prefill: Duration,
    decode: Duration,
}

impl Earlier {
    fn add(&mut self, run: &Generation) {
        self.prompt_tokens += run.prompt_tokens;
        self.generated_tokens += run.tokens.len();
        self.prefill += run.prefill_time;
        self.decode += run.decode_time;
    }
}

/// The text the generator writes the summary from, and how many key sentences it marks. An
/// ordinary article that fits the prompt gives the key sentences among their neighbours (or the
/// whole article, when that is shorter and no key points are asked for). A long read, or any
/// article too long for the prompt, gives a bounded excerpt: the key sentences and the most
/// salient sentences of every section, with their neighbours, within `LONG_READ_PROMPT_TOKENS`
/// (`bounded_excerpt`), so the time to a summary does not grow with the article. Only a
/// `thorough` summary reads every paragraph: the whole article when it fits the prompt, else
/// section summaries first, then the summary from them and the key sentences (map-reduce).
#[allow(clippy::too_many_arguments)]
fn prompt_source(
    generator: &mut Generator,
    article: &Article,
    extraction: &Extraction,
    opts: &SummarizeOptions,
    ask: Option<Ask>,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
    sections: &mut Earlier,
) -> Result<(String, usize)> {
    let text = article.text.as_str();
    let budget = article_budget(generator, article.title.as_deref(), opts, ask)?;
    if extraction.structure.long_read && !opts.thorough {
        return bounded_excerpt(generator, text, extraction, budget.min(LONG_READ_PROMPT_TOKENS));
    }
    // Long articles are long reads, so this counts the tokens of ordinary articles, or of one a
    // person asked to read whole.
    let article_tokens = generator.tokenizer.encode(text, false, false)?.len();
    let excerpt_text = excerpt(text, &extraction.sentences, &extraction.chosen);
    let excerpt_tokens = generator.tokenizer.encode(&excerpt_text, false, false)?.len();
    if article_tokens <= budget {
        // A person who asked for every paragraph gets every paragraph read, even when the key
        // sentences alone would do for the answer asked for.
        if !opts.thorough
            && !extraction.chosen.is_empty()
            && (excerpt_tokens < article_tokens || opts.kind == SummaryType::KeyPoints)
        {
            return Ok((excerpt_text, extraction.chosen.len()));
        }
        return Ok((text.to_string(), 0));
    }
    if !opts.thorough {
        return bounded_excerpt(generator, text, extraction, budget.min(LONG_READ_PROMPT_TOKENS));
    }
    on_step(Step::Plan {
        sections: article_tokens.div_ceil(budget).max(2),
        seconds: read_estimate(generator, article_tokens),
    });
    // Map-reduce: summarize sections that fit, then write from the section summaries and the
    // key sentences; summaries too long together are summarized again, by sections.
    let mut parts: Vec<String> = extraction.sentences.iter().map(|s| s.span.of(text).to_string()).collect();
    let section_budget = budget.saturating_sub(budget / 4).max(MIN_ARTICLE_TOKENS);
    loop {
        let summaries = summarize_sections(
            generator,
            &group(generator, &parts, section_budget)?,
            opts,
            ask,
            cancel,
            on_step,
            sections,
        )?;
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

/// A short summary of each section (in the language `ask` names), reporting progress as it goes.
fn summarize_sections(
    generator: &mut Generator,
    texts: &[String],
    opts: &SummarizeOptions,
    ask: Option<Ask>,
    cancel: &CancelToken,
    on_step: &mut dyn FnMut(Step<'_>),
    sections: &mut Earlier,
) -> Result<Vec<String>> {
    sections.sections += texts.len();
    let section_opts = GenerateOptions { max_tokens: opts.generate.max_tokens.min(120), ..opts.generate.clone() };
    let mut summaries = Vec::with_capacity(texts.len());
    for (n, section) in texts.iter().enumerate() {
        on_step(Step::Stage { stage: Stage::Reading, progress: Some(Progress { done: n, total: texts.len() }) });
        let prompt = generator.template.render(&messages_in(None, section, SummaryType::Tldr, Length::Medium, ask))?;
        let ids = generator.tokenizer.encode(&prompt, true, true)?;
        let run = generate(generator, &ids, &section_opts, cancel, &mut |_| {})?;
        if run.stop == StopReason::Cancelled {
            return Err(Error::Cancelled);
        }
        sections.add(&run);
        let answer = parse_answer(&run.text);
        summaries.push(if answer.summary.is_empty() { run.text.trim().to_string() } else { answer.summary });
    }
    on_step(Step::Stage { stage: Stage::Reading, progress: Some(Progress { done: texts.len(), total: texts.len() }) });
    Ok(summaries)
}

/// Fills the summary from the generator's answer: the summary text, and for key points the key
/// sentences (each replaced by the model's shortening only when `condense` asked for one and it
/// passed the grounding check); a headline is held to its word limit.
fn take_answer(summary: &mut Summary, answer: &str, extraction: &Extraction, opts: &SummarizeOptions) {
    let answer = parse_answer(answer);
    summary.summary = answer.summary;
    match opts.kind {
        SummaryType::KeyPoints => {
            // Without condensing, the key points are the key sentences; anything the model
            // listed besides the summary is not used.
            let generated = if opts.condense { answer.bullets } else { Vec::new() };
            let (bullets, unsupported) = ground_bullets(&summary.text, extraction, generated, extraction.points);
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
