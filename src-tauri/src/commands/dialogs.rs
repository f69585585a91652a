//! The open and save dialogs, run by the shell rather than the page, so the files the person
//! picks are the ones the shell then agrees to read or write (`AppState::choose_to_read`,
//! `choose_to_write`).

use std::path::PathBuf;

use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder, FilePath};

use super::blocking;
use crate::error::Result;
use crate::state::AppState;

/// The file types the open dialog offers for articles.
pub const ARTICLE_EXTENSIONS: &[&str] =
    &["txt", "md", "markdown", "html", "htm", "xhtml", "mht", "mhtml", "pdf", "docx"];

/// Shows `dialog` on a blocking thread and returns the picked path, if any.
async fn show(dialog: FileDialogBuilder<impl Runtime>, save: bool) -> Result<Option<PathBuf>> {
    let picked: Option<FilePath> =
        blocking(move || Ok(if save { dialog.blocking_save_file() } else { dialog.blocking_pick_file() })).await?;
    Ok(picked.and_then(|p| p.into_path().ok()))
}

/// The open dialog for an article; the picked file may then be opened.
#[tauri::command]
pub async fn pick_article<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<Option<PathBuf>> {
    let picked = show(app.dialog().file().add_filter("Articles", ARTICLE_EXTENSIONS), false).await?;
    state.choose_to_read(picked.clone());
    Ok(picked)
}

/// The open dialog for a GGUF model; the picked file may then be added.
#[tauri::command]
pub async fn pick_model<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<Option<PathBuf>> {
    let picked = show(app.dialog().file().add_filter("GGUF models", &["gguf"]), false).await?;
    state.choose_to_read(picked.clone());
    Ok(picked)
}

/// The save dialog for a Markdown export, suggesting `name`; the picked file may then be written.
#[tauri::command]
pub async fn pick_save_path<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
) -> Result<Option<PathBuf>> {
    let dialog = app.dialog().file().add_filter("Markdown", &["md"]).set_file_name(name);
    let picked = show(dialog, true).await?;
    if let Some(path) = &picked {
        state.choose_to_write(path);
    }
    Ok(picked)
}
