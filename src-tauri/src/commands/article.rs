//! Bringing an article in: a file path (dropped or chosen) or dropped/pasted text.

use std::path::PathBuf;

use precis::article::{self, Article, Dropped, Kind};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// An article as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArticleView {
    /// Where it came from: the file name, or "pasted text".
    pub source: String,
    pub kind: Kind,
    pub title: Option<String>,
    pub byline: Option<String>,
    pub site: Option<String>,
    pub published: Option<String>,
    pub text: String,
    #[serde(default)]
    pub word_count: usize,
    #[serde(default)]
    pub reading_minutes: usize,
}

impl ArticleView {
    pub fn new(source: String, a: Article) -> Self {
        ArticleView {
            word_count: a.word_count(),
            reading_minutes: a.reading_minutes(),
            source,
            kind: a.kind,
            title: a.title,
            byline: a.byline,
            site: a.site,
            published: a.published,
            text: a.text,
        }
    }

    pub fn into_article(self) -> Article {
        Article {
            kind: self.kind,
            title: self.title,
            byline: self.byline,
            site: self.site,
            published: self.published,
            text: self.text,
        }
    }
}

/// What dropped or pasted text turned out to be.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DroppedView {
    Article(ArticleView),
    Files(Vec<PathBuf>),
}

#[tauri::command]
pub fn open_article(path: PathBuf) -> Result<ArticleView> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(ArticleView::new(name, article::from_path(&path)?))
}

#[tauri::command]
pub fn article_from_text(text: String) -> Result<DroppedView> {
    Ok(match article::from_dropped_text(&text)? {
        Dropped::Article(a) => DroppedView::Article(ArticleView::new("pasted text".into(), a)),
        Dropped::Files(files) => DroppedView::Files(files),
    })
}
