//! `precis tokenize`: the token ids of a text as a JSON array, as llama.cpp gives them, for the
//! tokenizer parity tests and their golden files.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use precis::llm::gguf::GgufFile;
use precis::llm::tokenizer::TextTokenizer;
use precis::store::catalog::Catalog;
use precis::Result;

use crate::cli::stdout_error;

#[derive(Args)]
pub struct TokenizeArgs {
    /// The text: a UTF-8 file, or `-` for standard input
    #[arg(value_name = "FILE|-")]
    input: String,

    /// Model: a catalog name or the path of a GGUF file [default: the catalog's default]
    #[arg(long, short, value_name = "NAME|PATH")]
    model: Option<String>,
}

/// Only the GGUF header is read: the tokenizer comes from its metadata, the weights stay on disk.
pub fn run(args: TokenizeArgs, models_dir: &Path) -> Result<ExitCode> {
    let text = if args.input == "-" {
        std::io::read_to_string(std::io::stdin().lock()).map_err(|e| precis::Error::io("standard input", e))?
    } else {
        std::fs::read_to_string(&args.input).map_err(|e| precis::Error::io(&args.input, e))?
    };
    let resolved = Catalog::builtin().resolve_generator(args.model.as_deref(), models_dir)?;
    let tokenizer = TextTokenizer::from_gguf(&GgufFile::open(&resolved.path)?)?;
    let ids = tokenizer.encode(&text, false, false)?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &ids)?;
    writeln!(out).map_err(stdout_error)?;
    Ok(ExitCode::SUCCESS)
}
