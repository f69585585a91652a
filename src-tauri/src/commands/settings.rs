//! The person's choices: output type, length and model, remembered between runs.

use tauri::State;

use crate::error::Result;
use crate::state::{AppState, Settings};

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    Ok(state.stored().settings)
}

/// Writes the settings file (off the main thread: it touches the disk).
#[tauri::command]
pub async fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<()> {
    state.update(|s| s.settings = settings)
}
