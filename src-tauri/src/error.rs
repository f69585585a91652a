//! The shell's one error type: what crosses the bridge to the web UI as `{ code, message }`,
//! with the same codes the engine uses plus the shell's own (`busy`, `internal`).

use serde::Serialize;

/// An error as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct AppError {
    #[ts(type = "ErrorCode")]
    pub code: &'static str,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, AppError>;

impl AppError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        AppError { code, message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        AppError::new("internal", message)
    }

    /// Every code the window can receive: the library's, and the shell's own `busy` and
    /// `not_chosen` (a path the person did not choose).
    pub fn codes() -> Vec<&'static str> {
        let mut codes = precis::Error::codes();
        codes.push("busy");
        codes.push("not_chosen");
        codes.sort_unstable();
        codes.dedup();
        codes
    }
}

impl From<precis::Error> for AppError {
    fn from(e: precis::Error) -> Self {
        AppError::new(e.code(), e.to_string())
    }
}

impl From<precis::llm::Error> for AppError {
    fn from(e: precis::llm::Error) -> Self {
        precis::Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_the_bridge_as_code_and_message() {
        let e: AppError = precis::Error::UnknownModel { name: "x".into(), known: "a, b".into() }.into();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"unknown_model","message":"unknown model `x`; known models: a, b. Or pass the path of a .gguf file"}"#
        );
    }
}
