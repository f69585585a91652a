//! The history as a cache of summaries, the one rule the command line and the window share: a
//! summary of the same article with the same model and options is answered from the history
//! (unless it is asked for again); any other is made and, once finished, recorded. A history
//! that cannot be read or written only means nothing is remembered: the summary still runs.

use std::path::Path;

use super::history::{self, History, ListItem, NewEntry};
use crate::article::Article;
use crate::error::Result;
use crate::llm::StopReason;
use crate::summary::{SummarizeOptions, Summary};

/// What decides a summary, and so identifies it in the history.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The name the article is remembered by (a file name, "pasted text").
    pub source: &'a str,
    pub article: &'a Article,
    /// The model's catalog name or file stem ("extractive" when there is none).
    pub model_name: &'a str,
    /// The model's file, whose size and date are part of the key.
    pub model_file: Option<&'a Path>,
    pub options: &'a SummarizeOptions,
}

impl Request<'_> {
    /// The summary's key in the history (see `history::cache_key`).
    pub fn cache_key(&self) -> String {
        history::cache_key(self.article, self.model_name, self.model_file, self.options)
    }
}

/// A history that may be turned off, opened lazily or shared between threads, and the way its
/// problems are reported to the person.
pub trait HistoryAccess {
    /// Runs `work` on the history; `None` when there is none (history turned off).
    fn with_history<T>(&self, work: impl FnOnce(&mut History) -> Result<T>) -> Option<Result<T>>;

    /// Reports a problem with the history that did not stop the summary.
    fn warn(&self, problem: &str) {
        tracing::warn!("{problem}");
    }
}

/// A finished summary and where it is remembered.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub summary: Summary,
    /// True when the summary came from the history instead of being made now.
    pub cached: bool,
    /// The history entry that holds it (none when the history is off or failed, or the run
    /// was cancelled).
    pub entry: Option<ListItem>,
}

/// Answers `request` from the history unless `again`; otherwise runs `run` and records what it
/// returns, unless it was cancelled.
pub fn summarize_remembered(
    history: &impl HistoryAccess,
    request: &Request<'_>,
    again: bool,
    run: impl FnOnce() -> Result<Summary>,
) -> Result<Remembered> {
    let key = request.cache_key();
    if !again {
        let stored = history.with_history(|h| {
            let Some(entry) = h.cached(&key)? else { return Ok(None) };
            Ok(Some((h.item(entry.id)?, entry.summary)))
        });
        match stored {
            Some(Ok(Some((entry, summary)))) => {
                tracing::info!(id = entry.id, created = %entry.created_at, "from the history");
                return Ok(Remembered { summary, cached: true, entry: Some(entry) });
            }
            Some(Err(e)) => history.warn(&format!("{e}; summarizing anew")),
            Some(Ok(None)) | None => {}
        }
    }
    let summary = run()?;
    if summary.stop_reason == StopReason::Cancelled {
        return Ok(Remembered { summary, cached: false, entry: None });
    }
    let recorded = history.with_history(|h| {
        let id = h.record(&NewEntry {
            source: request.source,
            article: request.article,
            options: request.options,
            cache_key: &key,
            summary: &summary,
        })?;
        h.item(id)
    });
    let entry = match recorded {
        Some(Ok(entry)) => Some(entry),
        Some(Err(e)) => {
            history.warn(&format!("{e}; this summary was not remembered"));
            None
        }
        None => None,
    };
    Ok(Remembered { summary, cached: false, entry })
}
