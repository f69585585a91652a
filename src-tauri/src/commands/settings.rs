//! The person's choices: output type, length and model, remembered between runs.

use tauri::State;

use crate::error::Result;
use crate::state::{AppState, Settings};

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.stored().settings
}

#[tauri::command]
pub fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<()> {
    state.update(|s| s.settings = settings)
}
