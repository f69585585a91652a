//! The Precis desktop shell (Tauri 2): builds the app — plugins, managed state, commands — in
//! one function that the tests call with Tauri's mock runtime, and runs it.

pub mod bindings;
pub mod commands;
pub mod error;
pub mod state;

use std::path::PathBuf;

use tauri::{Builder, DragDropEvent, Manager, Runtime, WebviewEvent, WindowEvent};

use crate::state::AppState;

/// Environment variable that moves the settings file (for tests and portable set-ups).
pub const CONFIG_DIR_ENV: &str = "PRECIS_CONFIG_DIR";

/// Adds Precis's plugins and commands to a builder of any runtime. Files dropped on the window
/// are remembered as chosen (the shell reads only files the person chose).
pub fn builder<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    let builder = builder
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_dialog::init())
        // A webview window reports drops as window events, a webview inside a window as webview
        // events; either way the shell hears of a drop before the page can ask for the file.
        .on_window_event(|window, event| {
            if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                if let Some(state) = window.try_state::<AppState>() {
                    state.choose_to_read(paths.iter().cloned());
                }
            }
        })
        .on_webview_event(|webview, event| {
            if let WebviewEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                if let Some(state) = webview.try_state::<AppState>() {
                    state.choose_to_read(paths.iter().cloned());
                }
            }
        });
    builder.invoke_handler(tauri::generate_handler![
        commands::article::open_article,
        commands::article::article_from_text,
        commands::dialogs::pick_article,
        commands::dialogs::pick_model,
        commands::dialogs::pick_save_path,
        commands::summary::summarize,
        commands::summary::cancel_job,
        commands::models::list_models,
        commands::models::fetch_model,
        commands::models::cancel_fetch,
        commands::models::add_model,
        commands::settings::get_settings,
        commands::settings::save_settings,
        commands::export::format_summary,
        commands::export::format_bullet,
        commands::export::save_text,
        commands::history::history_list,
        commands::history::history_search,
        commands::history::history_open,
        commands::history::history_delete,
        commands::history::history_clear,
        commands::history::history_stats,
    ])
}

/// Where settings live: `$PRECIS_CONFIG_DIR`, else the platform's config directory for the app.
fn config_dir<R: Runtime>(app: &tauri::App<R>) -> PathBuf {
    std::env::var_os(CONFIG_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| app.path().app_config_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Starts the engine thread and runs the window until it is closed.
pub fn run() {
    // Before any thread starts: it may set an environment variable candle reads.
    precis::llm::prefer_compact_kernels();
    let (engine, _worker) = precis::engine::Engine::start();
    let app = builder(tauri::Builder::default())
        .setup(move |app| {
            let state = AppState::new(
                engine.clone(),
                precis::store::catalog::models_dir(),
                &config_dir(app),
                precis::store::history::default_path(),
            );
            app.manage(state);
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("error: Precis could not start its window: {e}");
            std::process::exit(1);
        }
    }
}
