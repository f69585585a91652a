//! The `precis` command: parses the command line and reports any error chain at the edge.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // First: a copy of this program started to read a PDF under limits does only that.
    precis::article::contained::serve_if_worker();
    // Before any thread starts: it may set an environment variable candle reads.
    precis::llm::prefer_compact_kernels();
    let result = cli::run();
    // A model loaded for the first time has its tiles written for the next run; let that end.
    precis::llm::finish_tile_cache_writes();
    match result {
        Ok(code) => code,
        // Nothing to say when whoever read standard output stopped reading (`precis extract
        // FILE | head`).
        Err(err) if broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let mut said = err.to_string();
            eprintln!("error: {}", shown(&said));
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                // A cause the message above already quotes is not said twice.
                let text = cause.to_string();
                if !said.contains(&text) {
                    eprintln!("  caused by: {}", shown(&text));
                    said = text;
                }
                source = cause.source();
            }
            ExitCode::from(1)
        }
    }
}

/// Whether the error is standard output's reader having gone away.
fn broken_pipe(err: &precis::Error) -> bool {
    matches!(err, precis::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// A message as the terminal should show it: control characters (in a file's name, say) written
/// as escapes, so that none of them acts on the terminal.
fn shown(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() && c != '\n' { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}
