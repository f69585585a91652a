//! The person's choices, remembered between runs: output type, length and model (`Settings`),
//! and how the window is left (`Preferences`: the history sidebar).

use tauri::State;

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

#[tauri::command]
pub async fn save_preferences(state: State<'_, AppState>, preferences: Preferences) -> Result<()> {
    state.update(|s| s.preferences = preferences)
}
