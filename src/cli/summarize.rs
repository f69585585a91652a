//! `precis summarize`: one article streamed to standard output as the model writes, or several
//! in turn with a progress bar. Each is answered from the history when it holds the same
//! summary (`precis::store::recall`), and a finished one is recorded there.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use precis::article::Article;
use precis::error::InputProblem;
use precis::llm::{CancelToken, GenerateOptions, Generator};
use precis::store::catalog::{self, Catalog};
use precis::store::history::History;
use precis::store::recall::{summarize_remembered, HistoryAccess, Remembered, Request};
use precis::summary::{self, Length, Models, OutputLanguage, Stage, Step, SummarizeOptions, Summary, SummaryType};
use precis::{Error, Result};

use super::render::{point_lines, render_summary, StreamRenderer, Style};
use super::{progress, read_article, stdout_error};

#[derive(Args)]
pub struct SummarizeArgs {
    /// The articles: files (text, Markdown, HTML, DOCX, PDF), folders (every file directly in
    /// them), http(s) links (the page is fetched once), or `-` for standard input. With several,
    /// each is summarized in turn and one that fails is reported and skipped
    #[arg(value_name = "FILE|DIR|URL|-", default_value = "-")]
    inputs: Vec<OsString>,

    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,

    /// Output format; markdown and text stream as the model writes; json is one object (one per
    /// line for several articles)
    #[arg(long, short, value_enum, default_value_t = Format::Markdown)]
    format: Format,

    /// Summarize again even when the history already holds this summary
    #[arg(long)]
    again: bool,

    /// What to write: key-points (a summary and key points), tldr (a summary only) or headline
    #[arg(long = "type", value_name = "TYPE", default_value = "key-points")]
    kind: SummaryType,

    /// short, medium or long: key points at most 3/5/7 (5/7/7 for a long read); tl;dr one
    /// sentence, a short paragraph or a paragraph; headline at most 12/17/22 words
    #[arg(long, default_value = "medium")]
    length: Length,

    /// Most tokens the model may write [default: by type and length, 60 to 450]
    #[arg(long)]
    max_tokens: Option<usize>,

    /// Most article tokens given to the model at once; longer articles are read from a bounded
    /// excerpt of every section (section by section, then as a whole, with --thorough)
    #[arg(long, default_value_t = summary::DEFAULT_ARTICLE_TOKENS)]
    article_tokens: usize,

    /// Key points from ranking alone: the article's key sentences, no generator
    #[arg(long)]
    extractive: bool,

    /// Key points: let the model shorten the key sentences; a shortening is shown only when it
    /// keeps the sentence's facts in its own words, else the sentence is
    #[arg(long, conflicts_with = "extractive")]
    condense: bool,

    /// Read every paragraph: a long article is summarized section by section first (slower; the
    /// time grows with the article, and is estimated before it starts). Without it, the model
    /// reads the most salient sentences of every section
    #[arg(long, conflicts_with = "extractive")]
    thorough: bool,

    /// The language to write the summary in: auto (the article's own), or a language code or
    /// name (en, de, fr, es, pt, ru, zh, ja, ko, ...)
    #[arg(long, value_name = "auto|CODE", default_value = "auto")]
    language: OutputLanguage,

    /// Key points of an article in another language than --language: print the model's
    /// translation of each under it (marked as a translation)
    #[arg(long, conflicts_with = "extractive")]
    translate_points: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Markdown,
    Text,
    Json,
}

impl Format {
    /// How a summary is printed; `None` for JSON.
    fn style(self) -> Option<Style> {
        match self {
            Format::Markdown => Some(Style::Markdown),
            Format::Text => Some(Style::Text),
            Format::Json => None,
        }
    }
}

/// The history of one run: opened once at the start, or off; its problems are warnings on
/// standard error.
struct CliHistory(RefCell<Option<History>>);

impl HistoryAccess for CliHistory {
    fn with_history<T>(&self, work: impl FnOnce(&mut History) -> Result<T>) -> Option<Result<T>> {
        self.0.borrow_mut().as_mut().map(work)
    }

    fn warn(&self, problem: &str) {
        eprintln!("warning: {problem}");
    }
}

/// Everything the articles of one run share: the model (loaded when the first article the
/// history does not hold needs it) and the options.
struct Summarizer {
    /// Catalog name (or file stem) and file of the generator; `None` for extractive runs.
    model: Option<(String, PathBuf)>,
    generator: Option<Generator>,
    opts: SummarizeOptions,
    history: CliHistory,
    again: bool,
}

impl Summarizer {
    fn model_name(&self) -> &str {
        self.model.as_ref().map_or("extractive", |(name, _)| name.as_str())
    }

    /// Loads the generator, unless it is loaded or the run is extractive.
    fn load(&mut self, status: &ProgressBar) -> Result<()> {
        if let (Some((name, path)), None) = (&self.model, &self.generator) {
            status.set_message(format!("Loading {name}"));
            let generator = Generator::load_with(path, catalog::load_options())?;
            tracing::info!(model = %name, load_ms = generator.load_time.as_millis() as u64, "model loaded");
            self.generator = Some(generator);
        }
        Ok(())
    }

    /// The history's summary of `article`, or a new one from `fresh` (which is given this
    /// summarizer to load and run the model), recorded once finished.
    fn remembered(
        &mut self,
        source: &str,
        article: &Article,
        fresh: impl FnOnce(&mut Summarizer) -> Result<Summary>,
    ) -> Result<Remembered> {
        let (name, opts) = (self.model_name().to_string(), self.opts.clone());
        let file = self.model.as_ref().map(|(_, path)| path.clone());
        let request = Request { source, article, model_name: &name, model_file: file.as_deref(), options: &opts };
        let history = std::mem::replace(&mut self.history, CliHistory(RefCell::new(None)));
        let outcome = summarize_remembered(&history, &request, self.again, || fresh(self));
        self.history = history;
        outcome
    }

    /// Summarizes the article with the loaded model (or extractively).
    fn run(&mut self, article: &Article, cancel: &CancelToken, on_step: &mut dyn FnMut(Step<'_>)) -> Result<Summary> {
        let name = self.model_name().to_string();
        let models = Models { generator: self.generator.as_mut(), name: &name };
        summary::summarize(models, article, &self.opts, cancel, on_step)
    }
}

pub fn run(args: SummarizeArgs, models_dir: &Path, history_path: Option<&Path>) -> Result<ExitCode> {
    let (inputs, batch) = expand_inputs(&args.inputs)?;
    // One article is read before the model is looked for: a wrong file name is the likelier mistake.
    let single = if batch { None } else { Some(read_article(&inputs[0])?) };
    let model = if args.extractive {
        None
    } else {
        let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
        Some((resolved.name, resolved.path))
    };
    let history = history_path.and_then(|path| match History::open(path) {
        Ok(h) => Some(h),
        Err(err) => {
            eprintln!("warning: {err}; summaries are not remembered until then");
            None
        }
    });
    let opts = SummarizeOptions {
        kind: args.kind,
        length: args.length,
        generate: GenerateOptions {
            max_tokens: args.max_tokens.unwrap_or_else(|| summary::answer_tokens(args.kind, args.length)),
            ..Default::default()
        },
        article_tokens: args.article_tokens,
        condense: args.condense,
        thorough: args.thorough,
        language: args.language,
        translate_points: args.translate_points,
        ..SummarizeOptions::default()
    };
    let mut s =
        Summarizer { model, generator: None, opts, history: CliHistory(RefCell::new(history)), again: args.again };
    let outcome = match single {
        Some(article) => summarize_one(&mut s, &inputs[0], article, args.format),
        None => summarize_batch(&mut s, &inputs, args.format),
    };
    // The process ends with the command, and the model's memory goes back to the system with
    // it: freeing it piece by piece first (the tokenizer alone is some 600,000 allocations)
    // kept a finished summary's command running for another 0.03 s.
    std::mem::forget(s.generator.take());
    outcome
}

/// One article, streamed to stdout as the model writes (markdown and text).
fn summarize_one(s: &mut Summarizer, input: &OsStr, article: Article, format: Format) -> Result<ExitCode> {
    let source = source_name(input);
    let outcome = s.remembered(&source, &article, |s| {
        let spinner = progress::spinner("");
        let summary = match format.style() {
            None => {
                s.load(&spinner)?;
                spinner.set_message(format!("Reading the article ({} words)", article.word_count()));
                s.run(&article, &CancelToken::new(), &mut |step| spinner_step(&spinner, &step))
            }
            Some(style) => stream(s, &article, style, &spinner),
        };
        spinner.finish_and_clear();
        summary
    })?;
    let mut out = std::io::stdout().lock();
    if outcome.cached {
        if std::io::stderr().is_terminal() {
            let id = outcome.entry.as_ref().map_or(0, |e| e.id);
            eprintln!("(from the history, entry {id}; `--again` summarizes anew)");
        }
        if let Some(style) = format.style() {
            render_summary(&mut out, style, &outcome.summary).map_err(stdout_error)?;
        }
    }
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &outcome_json(&source, &outcome)?)?;
        writeln!(out).map_err(stdout_error)?;
    }
    let summary = &outcome.summary;
    warn_language(summary);
    if summary.unsupported > 0 {
        tracing::info!(
            unsupported = summary.unsupported,
            "key points not supported by the article were replaced by their source sentences"
        );
    }
    tracing::info!(?summary.timings, stop = ?summary.stop_reason, cached = outcome.cached, "done");
    Ok(ExitCode::SUCCESS)
}

/// Loads the model and runs it on one article, streaming its answer to stdout as it is written;
/// the key points are printed after the grounding check, never as the model wrote them. On a
/// terminal, the key points of a key-points summary are ranked and printed first, before the
/// model loads, since they need none (again at the end only if the final ones differ).
fn stream(s: &mut Summarizer, article: &Article, style: Style, spinner: &ProgressBar) -> Result<Summary> {
    let start = |title| -> Result<StreamRenderer<std::io::StdoutLock<'static>>> {
        Ok(StreamRenderer::new(std::io::stdout().lock(), style, title).map_err(stdout_error)?.hold_points())
    };
    let cancel = CancelToken::new();
    let mut shown = None;
    let mut renderer = None;
    if std::io::stdout().is_terminal() && s.generator.is_none() && s.model.is_some() {
        if let Some(bullets) = summary::key_points_first(article, &s.opts, &cancel)? {
            let lines: Vec<String> = bullets.iter().map(|b| b.text.clone()).collect();
            let mut r = start(article.title.as_deref())?;
            spinner.suspend(|| r.points(&lines)).map_err(stdout_error)?;
            (shown, renderer) = (Some(lines), Some(r));
        }
    }
    s.load(spinner)?;
    let mut renderer = match renderer {
        Some(r) => r,
        None => start(article.title.as_deref())?,
    };
    spinner.set_message(format!("Reading the article ({} words)", article.word_count()));
    let mut write_error = None;
    let summary = s.run(article, &cancel, &mut |step| {
        spinner_step(spinner, &step);
        if let Step::Text(delta) = step {
            spinner.finish_and_clear();
            if write_error.is_none() {
                if let Err(e) = renderer.push(delta) {
                    write_error = Some(e);
                    cancel.cancel();
                }
            }
        }
    })?;
    spinner.finish_and_clear();
    if let Some(e) = write_error {
        return Err(stdout_error(e));
    }
    if s.generator.is_none() && !summary.summary.is_empty() {
        renderer.push(&format!("Summary: {}\n", summary.summary)).map_err(stdout_error)?;
    }
    let points = point_lines(style, &summary);
    let points = if shown.as_ref() == Some(&points) { Vec::new() } else { points };
    drop(renderer.finish_with_points(&points).map_err(stdout_error)?);
    Ok(summary)
}

/// Says on standard error when the summary is not in the language it was asked in.
fn warn_language(summary: &Summary) {
    if summary.language_mismatch {
        eprintln!(
            "note: the summary is not in {} as asked, even when the model was asked again (\"language_mismatch\" in the JSON output)",
            summary.output_language.english_name()
        );
    }
}

/// Several articles in turn, with a progress bar on stderr. A file that cannot be read or
/// summarized is reported and skipped; a model that cannot be loaded stops the batch. Exits 1
/// when any article failed.
fn summarize_batch(s: &mut Summarizer, inputs: &[OsString], format: Format) -> Result<ExitCode> {
    let bar = progress::items(inputs.len() as u64);
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    for input in inputs {
        let source = source_name(input);
        bar.set_prefix(source.clone());
        let mut load_failed = false;
        let attempt = read_article(input).and_then(|article| {
            s.remembered(&source, &article, |s| {
                s.load(&bar).inspect_err(|_| load_failed = true)?;
                bar.set_message(format!("{} words", article.word_count()));
                s.run(&article, &CancelToken::new(), &mut |step| spinner_step(&bar, &step))
            })
        });
        if let Ok(o) = &attempt {
            bar.suspend(|| warn_language(&o.summary));
        }
        match attempt {
            Ok(o) => match format.style() {
                None => {
                    writeln!(out, "{}", serde_json::to_string(&outcome_json(&source, &o)?)?).map_err(stdout_error)?;
                }
                Some(style) => {
                    bar.suspend(|| -> Result<()> {
                        writeln!(out, "==> {source} <==").map_err(stdout_error)?;
                        render_summary(&mut out, style, &o.summary).map_err(stdout_error)?;
                        writeln!(out).map_err(stdout_error)
                    })?;
                }
            },
            // A model that does not load would fail every article: stop here.
            Err(err) if load_failed => {
                bar.finish_and_clear();
                return Err(err);
            }
            Err(err) => {
                bar.suspend(|| eprintln!("error: {err} (skipped)"));
                if format == Format::Json {
                    let line = serde_json::json!({
                        "source": source,
                        "error": { "code": err.code(), "message": err.to_string() },
                    });
                    writeln!(out, "{line}").map_err(stdout_error)?;
                }
                failed.push(source);
            }
        }
        out.flush().map_err(stdout_error)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} of {} articles failed and were skipped: {}", failed.len(), inputs.len(), failed.join(", "));
    Ok(ExitCode::from(1))
}

/// The summary as JSON, with where it came from: `source`, `cached` and `history_id` beside the
/// fields of `Summary`.
fn outcome_json(source: &str, o: &Remembered) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(&o.summary)?;
    if let Some(map) = v.as_object_mut() {
        map.insert("source".into(), source.into());
        map.insert("cached".into(), o.cached.into());
        map.insert("history_id".into(), o.entry.as_ref().map(|e| e.id).into());
    }
    Ok(v)
}

/// The name an input is remembered by (and shown by: a name that is not UTF-8 is shown with its
/// stray bytes replaced).
fn source_name(input: &OsStr) -> String {
    if input == "-" {
        "standard input".into()
    } else {
        input.to_string_lossy().into_owned()
    }
}

/// The inputs with every folder replaced by the files directly in it (by name, hidden files
/// left out), and whether this is a batch (several inputs, or a folder).
fn expand_inputs(inputs: &[OsString]) -> Result<(Vec<OsString>, bool)> {
    let mut files = Vec::new();
    let mut batch = inputs.len() > 1;
    for input in inputs {
        let path = Path::new(input);
        if input == "-" || !path.is_dir() {
            files.push(input.clone());
            continue;
        }
        batch = true;
        let mut in_dir: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        if in_dir.is_empty() {
            return Err(Error::Input { name: source_name(input), reason: InputProblem::EmptyFolder });
        }
        in_dir.sort();
        files.extend(in_dir.into_iter().map(PathBuf::into_os_string));
    }
    Ok((files, batch))
}

/// Shows the stage a run is in on its spinner or bar.
fn spinner_step(spinner: &ProgressBar, step: &Step<'_>) {
    match step {
        Step::Stage { stage: Stage::Ranking, .. } => spinner.set_message("Ranking the sentences"),
        Step::Stage { stage: Stage::Reading, progress: Some(p) } => {
            spinner.set_message(format!("Reading section {} of {}", (p.done + 1).min(p.total), p.total))
        }
        Step::Stage { stage: Stage::Writing, .. } => spinner.set_message("Writing the summary"),
        Step::Plan { sections, seconds } => spinner.suspend(|| {
            eprintln!("Reading the article section by section ({sections} sections), about {}", duration(*seconds))
        }),
        _ => {}
    }
}

/// A duration in words: "40 seconds", "3 minutes".
fn duration(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds} seconds"),
        60..=119 => "a minute".to_string(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}
