//! Precis's inference engine: runs a local transformer model on the CPU. It reads GGUF files
//! (`gguf`), rebuilds their tokenizer and chat template from the metadata (`tokenizer`,
//! `template`), loads the weights onto Precis's decoder (`decoder`, on its own quantized matrix
//! kernels in `kernels`) or candle's models (`generator`) and generates text with greedy
//! lookahead (`generate`). It knows nothing of articles or summaries; the `precis` crate builds
//! those on top of it.

pub mod cancel;
mod decoder;
pub mod error;
pub mod generate;
pub mod generator;
pub mod gguf;
mod kernels;
pub mod template;
#[cfg(any(test, feature = "test-support"))]
pub mod test_models;
pub mod tokenizer;

pub use cancel::CancelToken;
pub use decoder::memory::huge_page_buffer;
pub use decoder::tile_cache::{finish_writes as finish_tile_cache_writes, TileSource};
pub use decoder::{prefer_compact_kernels, WeightLayout};
pub use error::{Error, Result};
pub use generate::{generate, GenerateOptions, Generation, StopReason, TokenOutputStream};
pub use generator::{Backend, Generator, LoadOptions};
pub use kernels::cpu::{CpuInfo, KernelPath, KERNELS_VAR};
