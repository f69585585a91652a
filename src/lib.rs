//! Precis, the engine: turns an article into a short summary and key points with a local
//! transformer model on the CPU. The `precis` binary and the desktop shell are thin layers on
//! top of this library; it never prints, and reports progress only through callbacks.

pub mod article;
pub mod catalog;
pub mod embed;
pub mod engine;
pub mod error;
pub mod export;
pub mod fetch;
pub mod generate;
pub mod gguf;
pub mod ground;
pub mod history;
pub mod kquant;
pub mod lexical;
pub mod llm;
pub mod model;
pub mod q8;
pub mod rank;
pub mod sentences;
pub mod simd;
pub mod summarize;
mod team;
pub mod template;
mod tiled;
pub mod tiny;
pub mod tokenizer;
pub mod trim;

pub use error::{Error, Result};
