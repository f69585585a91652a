//! The person's choices, remembered between runs: output type, length, summary language, model
//! and whether to read every paragraph (`Settings`), and how the window is left and behaves
//! (`Preferences`: the sidebar, links, the clipboard shortcut); and reading the clipboard when
//! the person asks.

use tauri::{AppHandle, Runtime, State};

use crate::error::Result;
use crate::state::{AppState, Preferences, Settings};

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    Ok(state.stored().settings)
}

/// Writes the settings file (off the main thread: it touches the disk).
#[tauri::command]
pub async fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<()> {
    state.update(|s| s.settings = settings)
}

#[tauri::command]
pub async fn get_preferences(state: State<'_, AppState>) -> Result<Preferences> {
    Ok(state.stored().preferences)
}

/// Saves the preferences; a changed shortcut is set first, and one that cannot be set (not a
/// shortcut, or taken by another program) is an error and nothing is saved.
#[tauri::command]
pub async fn save_preferences<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    preferences: Preferences,
) -> Result<()> {
    let shortcut = preferences.shortcut.clone();
    if shortcut != state.stored().preferences.shortcut {
        crate::clipboard::apply(&app, shortcut.as_deref())?;
    }
    state.update(|s| s.preferences = preferences)
}

/// The text on the clipboard (the primary selection on X11 when the clipboard has none), for
/// the window's Clipboard button.
#[tauri::command]
pub async fn read_clipboard() -> Result<String> {
    super::blocking(crate::clipboard::read).await
}
