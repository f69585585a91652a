//! The history of summaries as the window's sidebar uses it: list, search, re-open, delete
//! and clear entries, and the count and size on disk.

use precis::store::history::{ListItem, SearchHit, Stats};
use precis::summary::Summary;
use serde::Serialize;
use tauri::State;

use crate::commands::article::ArticleView;
use crate::error::Result;
use crate::state::{AppState, Settings};

// The commands are async so that opening the history (with its integrity check) and searching
// run on Tauri's worker threads, never on the window's main thread.

/// Entries shown per page when the window does not say.
const PAGE: usize = 50;

/// A stored entry re-opened: the article, its summary and the settings it was made with.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: i64,
    pub created_at: String,
    pub article: ArticleView,
    pub summary: Summary,
    pub settings: Settings,
}

#[tauri::command]
pub async fn history_list(
    state: State<'_, AppState>,
    before: Option<i64>,
    limit: Option<usize>,
) -> Result<Vec<ListItem>> {
    state.with_history(|h| h.list(limit.unwrap_or(PAGE), before))
}

#[tauri::command]
pub async fn history_search(state: State<'_, AppState>, query: String, limit: Option<usize>) -> Result<Vec<SearchHit>> {
    state.with_history(|h| h.search(&query, limit.unwrap_or(PAGE)))
}

#[tauri::command]
pub async fn history_open(state: State<'_, AppState>, id: i64) -> Result<HistoryEntry> {
    let entry = state.with_history(|h| h.get(id))?;
    Ok(HistoryEntry {
        id: entry.id,
        created_at: entry.created_at,
        settings: Settings {
            kind: entry.kind,
            length: entry.length,
            model: Some(entry.summary.model.clone()),
            language: None,
        },
        article: ArticleView::new(entry.source, entry.article),
        summary: entry.summary,
    })
}

#[tauri::command]
pub async fn history_delete(state: State<'_, AppState>, id: i64) -> Result<Stats> {
    state.with_history(|h| {
        h.delete(id)?;
        h.stats()
    })
}

#[tauri::command]
pub async fn history_clear(state: State<'_, AppState>) -> Result<Stats> {
    state.with_history(|h| {
        h.clear()?;
        h.stats()
    })
}

#[tauri::command]
pub async fn history_stats(state: State<'_, AppState>) -> Result<Stats> {
    state.with_history(|h| h.stats())
}
