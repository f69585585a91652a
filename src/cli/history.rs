//! `precis history`: lists, searches, shows, deletes and clears remembered summaries, says where
//! the history is kept (`info`), and a hidden `stress` command that writes entries until it is
//! killed, for the durability test.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use precis::article::{Article, Kind};
use precis::store::history::{History, ListItem, NewEntry};
use precis::summary::{Bullet, SummarizeOptions, Summary};
use precis::{Error, Result};

use super::render::{render_summary, Style};

#[derive(Subcommand)]
pub enum HistoryCommand {
    /// Remembered summaries, newest first
    List {
        /// Show at most this many
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        /// Only entries older than this id (the next page)
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        #[arg(long, short, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Search titles, article text, summaries and key points; accents are ignored, every word
    /// must match, and "quoted words" match as a phrase
    Search {
        #[arg(required = true, value_name = "QUERY")]
        query: Vec<String>,
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        #[arg(long, short, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Show one remembered summary
    Show {
        id: i64,
        #[arg(long, short, value_enum, default_value_t = ShowFormat::Markdown)]
        format: ShowFormat,
    },
    /// Delete one entry
    Rm { id: i64 },
    /// Delete every entry
    Clear {
        /// Really delete them (asked for, as this cannot be undone)
        #[arg(long)]
        yes: bool,
    },
    /// Where the history is kept, how many entries it holds and its size
    Info,
    /// Writes made-up entries until killed, printing each committed id (durability tests)
    #[command(hide = true)]
    Stress {
        /// Paragraphs of made-up text per entry
        #[arg(long, default_value_t = 400)]
        paragraphs: usize,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Markdown,
    Text,
    Json,
}

fn io(e: std::io::Error) -> Error {
    Error::io("standard output", e)
}

pub fn run(command: HistoryCommand, path: &Path) -> Result<ExitCode> {
    let mut history = History::open(path)?;
    let mut out = std::io::stdout().lock();
    match command {
        HistoryCommand::List { limit, before, format } => {
            for item in history.list(limit, before)? {
                match format {
                    ListFormat::Json => writeln!(out, "{}", serde_json::to_string(&item)?).map_err(io)?,
                    ListFormat::Text => writeln!(out, "{}", item_line(&item)).map_err(io)?,
                }
            }
        }
        HistoryCommand::Search { query, limit, format } => {
            for hit in history.search(&query.join(" "), limit)? {
                match format {
                    ListFormat::Json => writeln!(out, "{}", serde_json::to_string(&hit)?).map_err(io)?,
                    ListFormat::Text => {
                        let mut snippet = String::new();
                        let mut at = 0;
                        for [s, e] in &hit.highlights {
                            snippet.push_str(&hit.snippet[at..*s]);
                            snippet.push_str(&format!("[{}]", &hit.snippet[*s..*e]));
                            at = *e;
                        }
                        snippet.push_str(&hit.snippet[at..]);
                        writeln!(out, "{}\n      {}", item_line(&hit.item), snippet.replace('\n', " ")).map_err(io)?;
                    }
                }
            }
        }
        HistoryCommand::Show { id, format } => {
            let entry = history.get(id)?;
            match format {
                ShowFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &entry)?;
                    writeln!(out).map_err(io)?;
                }
                ShowFormat::Markdown | ShowFormat::Text => {
                    let style = if format == ShowFormat::Markdown { Style::Markdown } else { Style::Text };
                    render_summary(&mut out, style, &entry.summary).map_err(io)?;
                    writeln!(
                        out,
                        "\n{}: {}, {} ({} {}), {}",
                        entry.id,
                        entry.source,
                        entry.summary.model,
                        serde_plain(&entry.kind),
                        serde_plain(&entry.length),
                        entry.created_at
                    )
                    .map_err(io)?;
                }
            }
        }
        HistoryCommand::Rm { id } => {
            history.delete(id)?;
            eprintln!("deleted entry {id}");
        }
        HistoryCommand::Clear { yes } => {
            let count = history.stats()?.count;
            if !yes {
                eprintln!(
                    "this deletes all {count} entries of {} and cannot be undone; run `precis history clear --yes`",
                    history.path().display()
                );
                return Ok(ExitCode::from(2));
            }
            let n = history.clear()?;
            eprintln!("deleted {n} entries");
        }
        HistoryCommand::Info => {
            let stats = history.stats()?;
            writeln!(out, "{}\n{} entries, {} bytes", stats.path.display(), stats.count, stats.bytes).map_err(io)?;
        }
        HistoryCommand::Stress { paragraphs } => stress(&mut history, paragraphs, &mut out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn item_line(item: &ListItem) -> String {
    let date = item.created_at.get(..16).unwrap_or(&item.created_at).replace('T', " ");
    let title = item.title.as_deref().unwrap_or(&item.source);
    format!(
        "{:>5}  {date}  {title}  ({}; {}, {} {})",
        item.id,
        item.source,
        item.model,
        serde_plain(&item.kind),
        serde_plain(&item.length)
    )
}

/// Writes entries with long made-up articles until the process is killed.
fn stress(history: &mut History, paragraphs: usize, out: &mut impl Write) -> Result<()> {
    let options = SummarizeOptions::default();
    for n in 0u64.. {
        let text = (0..paragraphs.max(1))
            .map(|p| format!("Paragraph {p} of entry {n} says that the stress test keeps writing entries."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let article = Article {
            kind: Kind::Text,
            title: Some(format!("Stress entry {n}")),
            byline: None,
            site: None,
            published: None,
            text,
            notes: Vec::new(),
        };
        let first = article.paragraphs().next().unwrap_or_default().len();
        let summary = Summary {
            summary: format!("Entry {n} of the stress test."),
            bullets: vec![Bullet {
                text: format!("Entry {n} begins."),
                sources: vec![precis::summary::sentences::Span { start: 0, end: first }],
                support: 1.0,
                translation: None,
            }],
            ..Summary::new("stress", article.title.clone(), article.text.clone())
        };
        let key = format!("stress-{n}");
        let id = history.record(&NewEntry {
            source: "stress",
            article: &article,
            options: &options,
            cache_key: &key,
            summary: &summary,
        })?;
        writeln!(out, "{id}").map_err(io)?;
        out.flush().map_err(io)?;
    }
    Ok(())
}
