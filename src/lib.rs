//! Precis: turns an article into a short summary and key points with a local transformer model
//! on the CPU. The layers, each in its folder: `article` takes the bytes a person hands over
//! and finds the article in them; `language` tells which language a text is in; `summary` ranks its sentences and has the generator write
//! the summary; `store` keeps the history, the model catalog and fetched models; `engine`
//! runs jobs on the model's own thread. The model itself runs in the `precis-llm` crate,
//! re-exported here as `llm`. The `precis` binary and the desktop shell are thin layers on
//! top of this library; it never prints, and reports progress only through callbacks.

pub mod article;
pub mod engine;
pub mod error;
pub mod export;
pub mod language;
pub mod store;
pub mod summary;

pub use error::{Error, Result};
pub use precis_llm as llm;
