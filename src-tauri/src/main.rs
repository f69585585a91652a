//! The Precis desktop app: starts the window.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // First: a copy of the app started to read a PDF under limits does only that.
    precis::article::contained::serve_if_worker();
    precis_app::run();
}
