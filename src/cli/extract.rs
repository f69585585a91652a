//! `precis extract`: the article text Precis would summarize, with its title, metadata and
//! language, without a model.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use precis::Result;

use super::{read_article, stdout_error};

#[derive(Args)]
pub struct ExtractArgs {
    /// The article: a text, Markdown, HTML, DOCX or PDF file, or `-` for standard input
    #[arg(value_name = "FILE|-")]
    input: std::ffi::OsString,

    /// Output format: the text (with its title first), or a JSON object with the metadata
    #[arg(long, short, value_enum, default_value_t = ExtractFormat::Text)]
    format: ExtractFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExtractFormat {
    Text,
    Json,
}

pub fn run(args: ExtractArgs) -> Result<ExitCode> {
    let article = read_article(&args.input)?;
    let detected = precis::language::detect(&article.text);
    let mut out = std::io::stdout().lock();
    let io = stdout_error;
    match args.format {
        ExtractFormat::Json => {
            let json = serde_json::json!({
                "kind": article.kind,
                "title": article.title,
                "byline": article.byline,
                "site": article.site,
                "published": article.published,
                "language": detected.language,
                "language_confidence": detected.confidence,
                "words": article.word_count(),
                "text": article.text,
                "paragraphs": article.paragraphs().collect::<Vec<_>>(),
                "notes": article.notes,
            });
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out).map_err(io)?;
        }
        ExtractFormat::Text => {
            if let Some(title) = &article.title {
                writeln!(out, "{title}\n").map_err(io)?;
            }
            writeln!(out, "{}", article.text).map_err(io)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
