//! The window's size and position, remembered between runs. The window-state plugin restores
//! them as the window opens and writes them on a clean exit; they are also written half a second
//! after the window stops moving or resizing, so a crash or a killed process loses nothing. The
//! sidebar's state is one of the person's `Preferences` (see `state`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tauri::{Manager, Runtime, Window};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

/// How long the window must stay still before its place is written.
const SETTLE: Duration = Duration::from_millis(500);

/// The plugin that restores and saves the window's place, in `config_dir` when given (else in
/// the app's config directory).
pub fn state_plugin<R: Runtime>(config_dir: Option<&Path>) -> tauri::plugin::TauriPlugin<R> {
    let file = config_dir.map_or_else(|| "window-state.json".into(), |dir| dir.join("window-state.json"));
    tauri_plugin_window_state::Builder::new()
        .with_state_flags(StateFlags::all())
        // An absolute path replaces the plugin's folder when it joins the two.
        .with_filename(file.to_string_lossy())
        .build()
}

/// Present when the window-state plugin is (the app as it runs, not the tests' mock app).
#[derive(Default)]
pub struct Memory {
    pending: AtomicBool,
}

/// The window moved or was resized: write its place once it settles.
pub fn moved<R: Runtime>(window: &Window<R>) {
    let Some(memory) = window.try_state::<Memory>() else { return };
    if memory.pending.swap(true, Ordering::AcqRel) {
        return;
    }
    let app = window.app_handle().clone();
    std::thread::spawn(move || {
        std::thread::sleep(SETTLE);
        app.state::<Memory>().pending.store(false, Ordering::Release);
        // On the main thread: the plugin holds its lock while it asks the window for its place,
        // and from another thread that question waits for the main thread, which may itself be
        // waiting for the lock to note a move (a deadlock the end-to-end tests met).
        let handle = app.clone();
        let saved = app.run_on_main_thread(move || {
            if let Err(e) = handle.save_window_state(StateFlags::all()) {
                tracing::warn!("could not remember the window's place: {e}");
            }
        });
        if let Err(e) = saved {
            tracing::warn!("could not remember the window's place: {e}");
        }
    });
}
