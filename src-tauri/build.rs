//! Build script: lists the app's own commands so each gets a permission, and the capability
//! file can grant exactly the ones the UI uses.

const COMMANDS: &[&str] = &[
    "open_article",
    "article_from_text",
    "pick_article",
    "pick_model",
    "pick_save_path",
    "summarize",
    "cancel_job",
    "list_models",
    "fetch_model",
    "cancel_fetch",
    "add_model",
    "get_settings",
    "save_settings",
    "format_summary",
    "format_bullet",
    "save_text",
    "history_list",
    "history_search",
    "history_open",
    "history_delete",
    "history_clear",
    "history_stats",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step");
}
