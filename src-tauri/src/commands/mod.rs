//! The commands the web UI can call, grouped by domain. Each unpacks its arguments and state,
//! calls the engine, and maps the error; the logic lives in the `precis` engine. Commands that
//! touch the disk, a parser, a model or the engine are `async` and do that work on a blocking
//! thread (`blocking`), so the window's main thread only ever dispatches; files come from the
//! person's choice (see `AppState::readable`), never from the page alone.

pub mod article;
pub mod dialogs;
pub mod export;
pub mod history;
pub mod models;
pub mod settings;
pub mod summary;

use crate::error::{AppError, Result};

/// Runs `work` on a thread of its own, off the window's main thread; a panic in it becomes an
/// error the window can show.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(AppError::internal(format!("the work stopped unexpectedly ({e}); try again"))))
}
