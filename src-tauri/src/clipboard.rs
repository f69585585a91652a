//! Summarizing what is on the clipboard, from anywhere: a global shortcut (Ctrl+Alt+S unless the
//! person changed or turned it off in Preferences) or the window's Clipboard button reads the
//! clipboard's text — on X11 the primary selection when the clipboard holds none — and the
//! window opens it as pasted text (a link goes through the same question as a pasted one). The
//! shortcut brings the window forward. The clipboard is read only then, when the person asks.

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcut, GlobalShortcutExt, Shortcut, ShortcutState};

use crate::error::{AppError, Result};

/// The shortcut Precis starts with.
pub const DEFAULT_SHORTCUT: &str = "Ctrl+Alt+S";
/// The event that hands the clipboard's text to the window.
pub const CLIPBOARD_TEXT: &str = "clipboard-text";

/// The text on the clipboard, or on X11 the primary selection when the clipboard has no text;
/// an error when neither holds any. Call it off the main thread (the X11 clipboard answers
/// through the event loop).
pub fn read() -> Result<String> {
    let mut clipboard = arboard::Clipboard::new()
        .map_err(|e| AppError::new("clipboard", format!("the clipboard cannot be read: {e}")))?;
    let text = clipboard.get_text().ok().filter(|t| !t.trim().is_empty());
    #[cfg(target_os = "linux")]
    let text = text.or_else(|| {
        use arboard::{GetExtLinux, LinuxClipboardKind};
        clipboard.get().clipboard(LinuxClipboardKind::Primary).text().ok().filter(|t| !t.trim().is_empty())
    });
    text.ok_or_else(|| {
        AppError::new("clipboard", "the clipboard holds no text; copy an article's text or a link first")
    })
}

/// The global shortcut plugin; its handler summarizes the clipboard when the shortcut is pressed.
pub fn shortcut_plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri_plugin_global_shortcut::Builder::new()
        .with_handler(|app, _shortcut, event| {
            if event.state() == ShortcutState::Pressed {
                summarize_clipboard(app);
            }
        })
        .build()
}

/// Reads the clipboard on a thread of its own, hands the text to the window and brings it forward.
pub fn summarize_clipboard<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    std::thread::spawn(move || {
        crate::launch::bring_forward(&app);
        match read() {
            Ok(text) => {
                let _ = app.emit(CLIPBOARD_TEXT, text);
            }
            Err(e) => {
                let _ = app.emit(CLIPBOARD_TEXT_FAILED, e);
            }
        }
    });
}

/// The event that says the clipboard could not be read, with the error.
pub const CLIPBOARD_TEXT_FAILED: &str = "clipboard-failed";

/// `text` as a shortcut, or an error saying how one is written.
pub fn parse(text: &str) -> Result<Shortcut> {
    text.parse::<Shortcut>().map_err(|e| {
        AppError::new(
            "shortcut",
            format!("`{text}` is not a shortcut Precis can use ({e}); write it like Ctrl+Alt+S or Shift+Super+F9"),
        )
    })
}

/// Makes `shortcut` the one global shortcut (none when `None`). Without the plugin (tests, a
/// desktop that has no global shortcuts) nothing happens.
pub fn apply<R: Runtime>(app: &AppHandle<R>, shortcut: Option<&str>) -> Result<()> {
    let parsed = shortcut.map(parse).transpose()?;
    if app.try_state::<GlobalShortcut<R>>().is_none() {
        return Ok(());
    }
    let shortcuts = app.global_shortcut();
    shortcuts.unregister_all().map_err(|e| AppError::new("shortcut", e.to_string()))?;
    if let (Some(parsed), Some(text)) = (parsed, shortcut) {
        shortcuts.register(parsed).map_err(|e| {
            AppError::new(
                "shortcut",
                format!("{text} could not be set as a shortcut ({e}); another program may use it, so choose another"),
            )
        })?;
    }
    Ok(())
}
