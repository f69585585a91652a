//! Copy and export: a summary or one bullet as Markdown, plain text or HTML, and saving text to
//! a file the person chose in the save dialog.

use std::path::PathBuf;

use precis::export::{self, Format};
use precis::summary::{Bullet, Summary};

use tauri::State;

use super::blocking;
use crate::error::{AppError, Result};
use crate::state::AppState;

#[tauri::command]
pub fn format_summary(summary: Summary, format: Format) -> String {
    export::format_summary(&summary, format)
}

#[tauri::command]
pub fn format_bullet(bullet: Bullet, format: Format) -> String {
    export::format_bullet(&bullet, format)
}

/// Writes `contents` to a file the person picked in the save dialog.
#[tauri::command]
pub async fn save_text(state: State<'_, AppState>, path: PathBuf, contents: String) -> Result<()> {
    let path = state.writable(&path)?;
    blocking(move || {
        let io = |e: std::io::Error| AppError::new("io", format!("{}: {e}", path.display()));
        // Write beside the target, then rename, so a failed save never leaves half a file.
        let tmp = path.with_extension("precis-tmp");
        std::fs::write(&tmp, contents).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    })
    .await
}
