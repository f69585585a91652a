//! The inference engine's one error type. A model file that cannot be used names the file and
//! what is wrong with it; a request the engine cannot serve (an empty prompt, one longer than
//! the model's context, a position the cache does not reach) says so as a caller's mistake,
//! never as a damaged model.

use std::path::PathBuf;

/// Result of every fallible engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the inference engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("model file {} is not usable: {reason}. Fetch it again, or pick another GGUF file", path.display())]
    ModelCorrupt { path: PathBuf, reason: String },

    #[error("{}: GGUF metadata has no `{key}`; this file does not look like a complete {what}", path.display())]
    MissingMetadata { path: PathBuf, key: String, what: &'static str },

    #[error("{}: architecture `{architecture}` is not supported; supported: {supported}", path.display())]
    UnsupportedArchitecture { path: PathBuf, architecture: String, supported: &'static str },

    /// The model's tokenizer cannot be built from its metadata, or fails on a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// The model's chat template does not parse or fails to render.
    #[error("chat template: {0}")]
    Template(String),

    /// candle failed: a tensor operation, or reading weights it was handed.
    #[error("model computation failed: {0}")]
    Candle(Box<candle_core::Error>),

    #[error("there is nothing to run through the model: the prompt is empty")]
    EmptyPrompt,

    #[error(
        "the prompt has {tokens} tokens, more than the model's context of {context} leaves room \
         for; shorten the input or choose a model with a longer context"
    )]
    PromptTooLong { tokens: usize, context: usize },

    #[error("cannot run from position {pos}: the model's cache holds {cached} positions")]
    CachePosition { pos: usize, cached: usize },

    #[error("{0} needs Precis's decoder; this model runs on candle's implementation")]
    NeedsPrecisDecoder(&'static str),

    /// `PRECIS_KERNELS` names no kernel path.
    #[error(
        "PRECIS_KERNELS={name} is not a kernel path; use one of {known}, or unset it to use the fastest this CPU runs"
    )]
    UnknownKernelPath { name: String, known: String },

    /// A kernel path was forced that this CPU cannot run.
    #[error("PRECIS_KERNELS={path} cannot run on this CPU ({cpu}): it lacks {missing}. This CPU runs: {available}")]
    KernelPathUnsupported { path: &'static str, cpu: String, missing: String, available: String },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A short stable code for the kind of error, for scripts and the window.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::ModelCorrupt { .. }
            | Error::MissingMetadata { .. }
            | Error::UnsupportedArchitecture { .. }
            | Error::Tokenizer(_)
            | Error::Template(_) => "model_invalid",
            Error::Candle(_) => "inference",
            Error::EmptyPrompt => "empty_prompt",
            Error::PromptTooLong { .. } => "prompt_too_long",
            Error::CachePosition { .. } | Error::NeedsPrecisDecoder(_) => "internal",
            Error::UnknownKernelPath { .. } | Error::KernelPathUnsupported { .. } => "kernels",
        }
    }

    /// Every code `code` can give.
    pub const CODES: &'static [&'static str] =
        &["io", "model_invalid", "inference", "empty_prompt", "prompt_too_long", "internal", "kernels"];
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_mistake_is_never_reported_as_a_bad_model() {
        for e in [
            Error::EmptyPrompt,
            Error::PromptTooLong { tokens: 9000, context: 8192 },
            Error::CachePosition { pos: 5, cached: 2 },
            Error::NeedsPrecisDecoder("checking guesses"),
            Error::UnknownKernelPath { name: "sse9".into(), known: "portable".into() },
        ] {
            assert_ne!(e.code(), "model_invalid", "{e}");
            assert!(Error::CODES.contains(&e.code()));
        }
    }
}
