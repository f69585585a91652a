//! The command line. The commands people use each have a file: `summarize`, `extract`,
//! `models` and `history`; the developer tools (`eval`, `bench`, `tokenize`) live in `dev/`.
//! `render` prints a streamed answer, `progress` makes the bars and spinners. Results go to
//! stdout; progress, logs and errors go to stderr.

mod dev;
mod extract;
mod history;
mod models;
mod progress;
mod render;
mod summarize;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use precis::store::{catalog, history::default_path};
use precis::{article, Result};

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
    Summarize(summarize::SummarizeArgs),
    /// Remembered summaries: list, search, show, info, delete, clear
    #[command(subcommand)]
    History(history::HistoryCommand),
    /// Show the article text Precis reads from a file (text, Markdown, HTML, DOCX or PDF),
    /// without a model
    Extract(extract::ExtractArgs),
    /// List, fetch or verify models
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Summarize every article of a JSON-lines file and print one prediction per line
    /// (scored by scripts/eval.py)
    Eval(dev::eval::EvalArgs),
    /// Measure load time, prefill and decode speed, and peak memory; prints JSON
    Bench(dev::bench::BenchArgs),
    /// Print the token ids of a UTF-8 text file as a JSON array, as llama.cpp gives them
    /// (special tokens in the text are read as text; no BOS is added)
    Tokenize(dev::tokenize::TokenizeArgs),
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let models_dir = cli.models_dir.clone().unwrap_or_else(catalog::models_dir);
    let history_path = cli.history.clone().unwrap_or_else(default_path);
    // An explicit --history wins over PRECIS_NO_HISTORY, but not over --no-history.
    let no_history = cli.no_history
        || (cli.history.is_none()
            && std::env::var_os("PRECIS_NO_HISTORY").is_some_and(|v| !v.is_empty() && v != "0" && v != "false"));
    match cli.command {
        Command::Summarize(args) => {
            summarize::run(args, &models_dir, if no_history { None } else { Some(&history_path) })
        }
        Command::History(command) => history::run(command, &history_path),
        Command::Extract(args) => extract::run(args),
        Command::Models(command) => models::run(command, &models_dir),
        Command::Eval(args) => dev::eval::run(args, &models_dir),
        Command::Bench(args) => dev::bench::run(args, &models_dir),
        Command::Tokenize(args) => dev::tokenize::run(args, &models_dir),
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
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The article in a file, on standard input for `-`, or at an `http(s)` address (fetched: the
/// person named it). A file's name is taken as the system gives it, so a name that is not
/// UTF-8 (which Linux allows) is still read.
fn read_article(input: &std::ffi::OsStr) -> Result<article::Article> {
    if input == "-" {
        article::from_reader("standard input", std::io::stdin().lock())
    } else if let Some(link) = input.to_str().filter(|&s| article::web::link_in(s) == Some(s)) {
        article::web::fetch(link)
    } else {
        article::from_path(std::path::Path::new(input))
    }
}

/// An error writing to standard output.
fn stdout_error(e: std::io::Error) -> precis::Error {
    precis::Error::io("standard output", e)
}
