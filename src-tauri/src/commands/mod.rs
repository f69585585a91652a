//! The commands the web UI can call, grouped by domain. Each unpacks its arguments and state,
//! calls the engine, and maps the error; the logic lives in the `precis` engine.

pub mod article;
pub mod export;
pub mod history;
pub mod models;
pub mod settings;
pub mod summary;
