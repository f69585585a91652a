//! Bringing an article in: a file path (dropped, chosen, or given on the command line),
//! dropped/pasted text, or the web page of a dropped/pasted link once the person agrees.

use std::path::PathBuf;

use precis::article::{self, Article, Dropped};
use precis::language::{self as lang, Language};
use serde::{Deserialize, Serialize};

use tauri::State;

use super::blocking;
use crate::error::Result;
use crate::state::AppState;

/// An article as the window shows it: the article, where it came from, its length and language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
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
    /// The language detected in the text (`unknown` when it is too short or mixed).
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub language_confidence: f32,
}

impl ArticleView {
    pub fn new(source: String, article: Article) -> Self {
        let detected = lang::detect(&article.text);
        ArticleView {
            word_count: article.word_count(),
            reading_minutes: article.reading_minutes(),
            language: detected.language,
            language_confidence: detected.confidence,
            source,
            article,
        }
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
/// the shell opens only when the person also dropped or chose them). A link is refused with code
/// `link` and remembered as offered, so `fetch_article` may then fetch it if the person agrees.
#[tauri::command]
pub async fn article_from_text(state: State<'_, AppState>, text: String) -> Result<DroppedView> {
    if let Some(url) = article::web::link_in(&text) {
        state.offer_link(url);
    }
    blocking(move || {
        Ok(match article::from_dropped_text(&text)? {
            Dropped::Article(a) => DroppedView::Article(ArticleView::new("pasted text".into(), a)),
            Dropped::Files(files) => DroppedView::Files(files),
        })
    })
    .await
}

/// Fetches the page of a link the person dropped or pasted (and agreed to fetch, or set to be
/// fetched always) and reads its article; the link is its source in the history.
#[tauri::command]
pub async fn fetch_article(state: State<'_, AppState>, url: String) -> Result<ArticleView> {
    state.fetchable(&url)?;
    blocking(move || Ok(ArticleView::new(url.clone(), article::web::fetch(&url)?))).await
}

/// The files given on the command line that the window has not opened yet (see `launch`); the
/// window asks at start and whenever the `files-opened` event says more arrived.
#[tauri::command]
pub fn take_opened_files(state: State<'_, AppState>) -> Vec<PathBuf> {
    state.take_opened()
}
