//! Bringing an article in: a file path (dropped or chosen) or dropped/pasted text.

use std::path::PathBuf;

use precis::article::{self, Article, Dropped};
use serde::{Deserialize, Serialize};

use tauri::State;

use super::blocking;
use crate::error::Result;
use crate::state::AppState;

/// An article as the window shows it: the article, where it came from, and its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ArticleView {
    /// Where it came from: the file name, or "pasted text".
    pub source: String,
    #[serde(flatten)]
    pub article: Article,
    #[serde(default)]
    pub word_count: usize,
    #[serde(default)]
    pub reading_minutes: usize,
}

impl ArticleView {
    pub fn new(source: String, article: Article) -> Self {
        ArticleView { word_count: article.word_count(), reading_minutes: article.reading_minutes(), source, article }
    }
}

/// What dropped or pasted text turned out to be.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum DroppedView {
    Article(ArticleView),
    Files(Vec<PathBuf>),
}

/// Reads the article in a file the person dropped or chose.
#[tauri::command]
pub async fn open_article(state: State<'_, AppState>, path: PathBuf) -> Result<ArticleView> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let path = state.readable(&path)?;
    blocking(move || Ok(ArticleView::new(name, article::from_path(&path)?))).await
}

/// Reads dropped or pasted text: the article itself, or the files a `file://` list names (which
/// the shell opens only when the person also dropped or chose them).
#[tauri::command]
pub async fn article_from_text(text: String) -> Result<DroppedView> {
    blocking(move || {
        Ok(match article::from_dropped_text(&text)? {
            Dropped::Article(a) => DroppedView::Article(ArticleView::new("pasted text".into(), a)),
            Dropped::Files(files) => DroppedView::Files(files),
        })
    })
    .await
}
