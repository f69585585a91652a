//! Files given on the command line: `precis-app FILE…`, which is what the file manager's "Open
//! with Precis" runs. The first launch queues its files for its own window; a later launch finds
//! Precis running (the single-instance plugin), hands its files and working folder to this one
//! and exits, and the running window comes forward and opens them. Either way the files count as
//! chosen by the person, and the window takes them with `take_opened_files` when told.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::AppState;

/// The event that tells the window files are waiting (`take_opened_files` hands them over).
pub const FILES_OPENED: &str = "files-opened";

/// The files named by a command line (`argv[0]` is the program), relative ones resolved against
/// `cwd`. Options (`-x`, `--x`) are skipped, unless after `--`.
pub fn files_in_args(argv: impl IntoIterator<Item = OsString>, cwd: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut options_end = false;
    for arg in argv.into_iter().skip(1) {
        if !options_end && arg == "--" {
            options_end = true;
            continue;
        }
        if !options_end && arg.to_string_lossy().starts_with('-') {
            continue;
        }
        let path = PathBuf::from(arg);
        files.push(if path.is_absolute() { path } else { cwd.join(path) });
    }
    files
}

/// Queues the files of a command line for the window, tells the window, and brings it forward.
pub fn hand_over<R: Runtime>(app: &AppHandle<R>, argv: impl IntoIterator<Item = OsString>, cwd: &Path) {
    let files = files_in_args(argv, cwd);
    if let (false, Some(state)) = (files.is_empty(), app.try_state::<AppState>()) {
        state.hand_over(files);
        let _ = app.emit(FILES_OPENED, ());
    }
    bring_forward(app);
}

/// Shows the main window on top, unminimized and focused.
pub fn bring_forward<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_resolved_and_options_skipped() {
        let args = ["precis-app", "a.md", "--verbose", "/tmp/b.pdf", "--", "-odd.txt"].map(OsString::from);
        assert_eq!(
            files_in_args(args, Path::new("/home/me")),
            vec![PathBuf::from("/home/me/a.md"), PathBuf::from("/tmp/b.pdf"), PathBuf::from("/home/me/-odd.txt")]
        );
        assert!(files_in_args([OsString::from("precis-app")], Path::new("/")).is_empty());
    }
}
